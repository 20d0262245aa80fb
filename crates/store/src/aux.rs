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
#[derive(Debug, Clone, PartialEq)]
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
}

/// Creates a file entry and returns its `dbId`.
pub fn insert_file(
    conn: &mut dyn Conn,
    f: &FileRow,
    created_by: Option<i64>,
) -> Result<i64, StoreError> {
    conn.query_one(
        "INSERT INTO files (\"catalogDbId\", \"recordDbId\", \"fieldDbId\", title, size, \"mimeType\", url, \"storageKey\", uploaded, \"createdBy\", \"createdAt\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING \"dbId\"",
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
    )?
    .int(0)
}

/// Binds files to the record and field that hold them.
pub fn attach_files(
    conn: &mut dyn Conn,
    ids: &[i64],
    catalog_db_id: i64,
    record_db_id: i64,
    field_db_id: i64,
) -> Result<(), StoreError> {
    for id in ids {
        conn.execute(
            "UPDATE files SET \"catalogDbId\" = ?, \"recordDbId\" = ?, \"fieldDbId\" = ? WHERE \"dbId\" = ?",
            &[catalog_db_id.into(), record_db_id.into(), field_db_id.into(), (*id).into()],
        )?;
    }
    Ok(())
}

/// Loads file entries by `dbId`.
pub fn files_by_ids(conn: &mut dyn Conn, ids: &[i64]) -> Result<HashMap<i64, FileRow>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let params: Vec<DbValue> = ids.iter().map(|i| DbValue::Int(*i)).collect();
    let rows = conn.query(
        &format!(
            "SELECT \"dbId\", \"catalogDbId\", \"recordDbId\", \"fieldDbId\", title, size, \"mimeType\", url, \"storageKey\", uploaded, \"createdBy\" FROM files WHERE \"dbId\" IN ({})",
            vec!["?"; ids.len()].join(", ")
        ),
        &params,
    )?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let f = FileRow {
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
        };
        out.insert(f.db_id, f);
    }
    Ok(out)
}

/// Records that a file's bytes arrived, with their real size.
pub fn mark_uploaded(conn: &mut dyn Conn, file_db_id: i64, size: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE files SET uploaded = ?, size = ? WHERE \"dbId\" = ?",
        &[true.into(), size.into(), file_db_id.into()],
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
