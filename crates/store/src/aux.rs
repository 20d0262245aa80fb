//! Tables around records: employees' logins (`$users` rows), sessions and file entries.

use std::collections::HashMap;

use kartoteka_model::time::format_ms;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::schema::{data_table, now_param};
use crate::value::DbValue;

/// The `dbId` of the `$users` catalog on a fresh install.
pub const USERS_CATALOG: i64 = 3;

/// A login: the `$users` record and its password hash.
#[derive(Debug, Clone)]
pub struct Login {
    pub user_db_id: i64,
    pub password_hash: Option<String>,
}

/// Finds an employee by e-mail, case-insensitively.
pub fn login_by_email(conn: &mut dyn Conn, email: &str) -> Result<Option<Login>, StoreError> {
    let row = conn.query_opt(
        &format!(
            "SELECT \"dbId\", \"passwordHash\" FROM {} WHERE lower(email) = lower(?) ORDER BY \"dbId\" LIMIT 1",
            data_table(USERS_CATALOG)
        ),
        &[email.trim().into()],
    )?;
    row.map(|r| {
        Ok(Login {
            user_db_id: r.int(0)?,
            password_hash: r.opt_text(1)?,
        })
    })
    .transpose()
}

/// True when another employee than `except` has this e-mail (case-insensitively).
pub fn email_taken(
    conn: &mut dyn Conn,
    email: &str,
    except: Option<i64>,
) -> Result<bool, StoreError> {
    Ok(conn
        .query_opt(
            &format!(
                "SELECT \"dbId\" FROM {} WHERE lower(email) = lower(?) AND \"dbId\" <> ? LIMIT 1",
                data_table(USERS_CATALOG)
            ),
            &[email.trim().into(), except.unwrap_or(-1).into()],
        )?
        .is_some())
}

/// Sets an employee's password hash.
pub fn set_password_hash(
    conn: &mut dyn Conn,
    user_db_id: i64,
    hash: &str,
) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "UPDATE {} SET \"passwordHash\" = ? WHERE \"dbId\" = ?",
            data_table(USERS_CATALOG)
        ),
        &[hash.into(), user_db_id.into()],
    )?;
    Ok(())
}

/// The number of employees.
pub fn count_users(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one(
        &format!("SELECT COUNT(*) FROM {}", data_table(USERS_CATALOG)),
        &[],
    )?
    .int(0)
}

/// Stores a session.
pub fn insert_session(
    conn: &mut dyn Conn,
    token_hash: &str,
    user_db_id: i64,
    expires_ms: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sessions (\"tokenHash\", \"userDbId\", \"createdAt\", \"expiresAt\") VALUES (?, ?, ?, ?)",
        &[token_hash.into(), user_db_id.into(), now_param(), format_ms(expires_ms).into()],
    )?;
    Ok(())
}

/// The employee of a live session.
pub fn session_user(
    conn: &mut dyn Conn,
    token_hash: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    conn.query_opt(
        "SELECT \"userDbId\", \"expiresAt\" FROM sessions WHERE \"tokenHash\" = ? AND \"expiresAt\" > ?",
        &[token_hash.into(), now_param()],
    )?
    .map(|r| Ok((r.int(0)?, r.text(1)?)))
    .transpose()
}

/// Ends every session of an employee.
pub fn delete_sessions_of(conn: &mut dyn Conn, user_db_id: i64) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE \"userDbId\" = ?",
        &[user_db_id.into()],
    )?;
    Ok(())
}

/// Ends one session.
pub fn delete_session(conn: &mut dyn Conn, token_hash: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM sessions WHERE \"tokenHash\" = ?",
        &[token_hash.into()],
    )?;
    Ok(())
}

/// A file entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FileRow {
    pub db_id: i64,
    pub catalog_db_id: Option<i64>,
    pub record_db_id: Option<i64>,
    pub field_db_id: Option<i64>,
    pub title: String,
    pub size: Option<i64>,
    pub mime_type: Option<String>,
    /// An external link's address; `None` for files kept in file storage.
    pub url: Option<String>,
    /// Where the bytes are kept in file storage.
    pub storage_key: Option<String>,
    /// The bytes have arrived (always true for external links).
    pub uploaded: bool,
    pub created_by: Option<i64>,
    /// Image metadata (JSON text written by the core), `None` for other files.
    pub metadata: Option<String>,
    /// The file has been saved into a record at least once.
    pub attached: bool,
    /// The record holding the file was deleted.
    pub deleted: bool,
    /// The file's bytes have been removed (or are being removed) from file storage.
    pub purged: bool,
}

/// Creates a file entry and returns its `dbId`.
pub fn insert_file(
    conn: &mut dyn Conn,
    f: &FileRow,
    created_by: Option<i64>,
) -> Result<i64, StoreError> {
    conn.insert_id(
        "INSERT INTO files (\"catalogDbId\", \"recordDbId\", \"fieldDbId\", title, size, \"mimeType\", url, \"storageKey\", uploaded, \"createdBy\", \"createdAt\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            f.catalog_db_id.into(),
            f.record_db_id.into(),
            f.field_db_id.into(),
            f.title.as_str().into(),
            f.size.into(),
            f.mime_type.clone().into(),
            f.url.clone().into(),
            f.storage_key.clone().into(),
            f.uploaded.into(),
            created_by.into(),
            now_param(),
        ],
        "\"dbId\"",
    )
}

/// Binds files to the record and field that hold them. Returns the ids that could not be
/// bound: gone, or taken by the collector of unattached uploads meanwhile.
pub fn attach_files(
    conn: &mut dyn Conn,
    ids: &[i64],
    catalog_db_id: i64,
    record_db_id: i64,
    field_db_id: i64,
) -> Result<Vec<i64>, StoreError> {
    let mut missing = Vec::new();
    for id in ids {
        let n = conn.execute(
            "UPDATE files SET \"catalogDbId\" = ?, \"recordDbId\" = ?, \"fieldDbId\" = ?, \"attachedAt\" = COALESCE(\"attachedAt\", ?) WHERE \"dbId\" = ? AND \"purgedAt\" IS NULL",
            &[catalog_db_id.into(), record_db_id.into(), field_db_id.into(), now_param(), (*id).into()],
        )?;
        if n == 0 {
            missing.push(*id);
        }
    }
    Ok(missing)
}

const FILE_COLUMNS: &str = "\"dbId\", \"catalogDbId\", \"recordDbId\", \"fieldDbId\", title, size, \"mimeType\", url, \"storageKey\", uploaded, \"createdBy\", metadata, \"attachedAt\" IS NOT NULL, \"deletedAt\" IS NOT NULL, \"purgedAt\" IS NOT NULL";

fn file_row(r: &crate::value::Row) -> Result<FileRow, StoreError> {
    Ok(FileRow {
        db_id: r.int(0)?,
        catalog_db_id: r.opt_int(1)?,
        record_db_id: r.opt_int(2)?,
        field_db_id: r.opt_int(3)?,
        title: r.text(4)?,
        size: r.opt_int(5)?,
        mime_type: r.opt_text(6)?,
        url: r.opt_text(7)?,
        storage_key: r.opt_text(8)?,
        uploaded: r.bool(9)?,
        created_by: r.opt_int(10)?,
        metadata: r.opt_text(11)?,
        attached: r.bool(12)?,
        deleted: r.bool(13)?,
        purged: r.bool(14)?,
    })
}

/// Loads file entries by `dbId`.
pub fn files_by_ids(conn: &mut dyn Conn, ids: &[i64]) -> Result<HashMap<i64, FileRow>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let params: Vec<DbValue> = ids.iter().map(|i| DbValue::Int(*i)).collect();
    let rows = conn.query(
        &format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE \"dbId\" IN ({})",
            vec!["?"; ids.len()].join(", ")
        ),
        &params,
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let f = file_row(&r)?;
        out.insert(f.db_id, f);
    }
    Ok(out)
}

/// Records that a file's bytes arrived, with their real size; earlier image metadata (of
/// bytes sent before under the same credentials) is dropped.
pub fn mark_uploaded(conn: &mut dyn Conn, file_db_id: i64, size: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET uploaded = ?, size = ?, metadata = NULL WHERE \"dbId\" = ?",
        &[true.into(), size.into(), file_db_id.into()],
    )?;
    Ok(())
}

/// Sets a file's image metadata (JSON text).
pub fn set_file_metadata(
    conn: &mut dyn Conn,
    file_db_id: i64,
    metadata: Option<&str>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET metadata = ? WHERE \"dbId\" = ?",
        &[metadata.map(str::to_string).into(), file_db_id.into()],
    )?;
    Ok(())
}

/// Renames a file entry.
pub fn rename_file(conn: &mut dyn Conn, file_db_id: i64, title: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET title = ? WHERE \"dbId\" = ?",
        &[title.into(), file_db_id.into()],
    )?;
    Ok(())
}

/// Marks the files of a deleted record (`deletedAt`); their bytes are removed after the
/// grace period by [`purgeable_files`] / [`mark_purged`].
pub fn mark_record_files_deleted(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    record_db_id: i64,
) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE files SET \"deletedAt\" = ? WHERE \"catalogDbId\" = ? AND \"recordDbId\" = ? AND \"deletedAt\" IS NULL",
        &[now_param(), catalog_db_id.into(), record_db_id.into()],
    )
}

/// Marks the files held by a deleted field of a catalog, like the files of deleted records.
pub fn mark_field_files_deleted(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    field_db_id: i64,
) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE files SET \"deletedAt\" = ? WHERE \"catalogDbId\" = ? AND \"fieldDbId\" = ? AND \"deletedAt\" IS NULL",
        &[now_param(), catalog_db_id.into(), field_db_id.into()],
    )
}

/// Uploads never saved into a record and created before `before_ms`, plus entries already
/// claimed by an earlier collection whose bytes could not all be removed; at most `limit`.
pub fn unattached_files(
    conn: &mut dyn Conn,
    before_ms: i64,
    limit: i64,
) -> Result<Vec<FileRow>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE \"attachedAt\" IS NULL AND (\"createdAt\" < ? OR \"purgedAt\" IS NOT NULL) ORDER BY \"dbId\" LIMIT ?"
        ),
        &[format_ms(before_ms).into(), limit.into()],
    )?;
    rows.iter().map(file_row).collect()
}

/// Claims unattached entries for removal (`purgedAt`), so that no record can attach them any
/// more; returns the ids claimed (an entry attached meanwhile is left alone).
pub fn claim_unattached(conn: &mut dyn Conn, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut claimed = Vec::new();
    for id in ids {
        let n = conn.execute(
            "UPDATE files SET \"purgedAt\" = COALESCE(\"purgedAt\", ?) WHERE \"dbId\" = ? AND \"attachedAt\" IS NULL",
            &[now_param(), (*id).into()],
        )?;
        if n > 0 {
            claimed.push(*id);
        }
    }
    Ok(claimed)
}

/// Deletes claimed entries whose bytes are gone.
pub fn delete_claimed(conn: &mut dyn Conn, ids: &[i64]) -> Result<(), StoreError> {
    for id in ids {
        conn.execute(
            "DELETE FROM files WHERE \"dbId\" = ? AND \"attachedAt\" IS NULL AND \"purgedAt\" IS NOT NULL",
            &[(*id).into()],
        )?;
    }
    Ok(())
}

/// Files of records deleted before `before_ms` whose bytes are still kept; at most `limit`.
pub fn purgeable_files(
    conn: &mut dyn Conn,
    before_ms: i64,
    limit: i64,
) -> Result<Vec<FileRow>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE \"deletedAt\" IS NOT NULL AND \"purgedAt\" IS NULL AND \"deletedAt\" < ? ORDER BY \"dbId\" LIMIT ?"
        ),
        &[format_ms(before_ms).into(), limit.into()],
    )?;
    rows.iter().map(file_row).collect()
}

/// Records that the bytes of these files were removed; the entries stay for the history of
/// their deleted records.
pub fn mark_purged(conn: &mut dyn Conn, ids: &[i64]) -> Result<(), StoreError> {
    for id in ids {
        conn.execute(
            "UPDATE files SET \"purgedAt\" = ?, metadata = NULL WHERE \"dbId\" = ?",
            &[now_param(), (*id).into()],
        )?;
    }
    Ok(())
}

/// A server secret, created on first use (a random value from `make`).
pub fn secret(
    conn: &mut dyn Conn,
    name: &str,
    make: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    if let Some(r) = conn.query_opt("SELECT value FROM _secrets WHERE name = ?", &[name.into()])? {
        return r.text(0);
    }
    conn.execute(
        "INSERT INTO _secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
        &[name.into(), make().into()],
    )?;
    conn.query_one("SELECT value FROM _secrets WHERE name = ?", &[name.into()])?
        .text(0)
}
