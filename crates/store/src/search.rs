//! Lookups behind the search helpers: records by title across catalogs, back-links to a
//! record, and contact values across catalogs. Matching is a Unicode case-insensitive
//! substring, the same on both backends.

use crate::conn::Conn;
use crate::error::StoreError;
use crate::query::Statement;
use crate::schema::{contacts_table, data_table, links_table};
use crate::value::DbValue;

/// A `LIKE` pattern that finds `needle` anywhere, lower-cased, with `%`, `_` and `\` escaped
/// (use with `ESCAPE '\'`).
pub fn contains_pattern(needle: &str) -> String {
    let n = needle
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{n}%")
}

/// A record found by title.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleHit {
    pub catalog_db_id: i64,
    pub record_db_id: i64,
    pub id: String,
    pub title: String,
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Live records of the given catalogs whose title contains `needle`, ordered by title.
/// `only`: per catalog, a condition over its data table (alias `d`, as
/// [`crate::query::where_sql`] writes it) that its records must meet (the caller's rights).
pub fn records_by_title(
    conn: &mut dyn Conn,
    catalogs: &[i64],
    only: &[(i64, Statement)],
    needle: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<TitleHit>, StoreError> {
    if catalogs.is_empty() {
        return Ok(vec![]);
    }
    let d = conn.dialect();
    let mut sql = format!(
        "SELECT \"catalogDbId\", \"recordDbId\", id, title FROM titles WHERE \"catalogDbId\" IN ({}) AND deleted = ?",
        marks(catalogs.len())
    );
    let mut params: Vec<DbValue> = catalogs.iter().map(|c| DbValue::Int(*c)).collect();
    params.push(false.into());
    if let Some(n) = needle.filter(|n| !n.is_empty()) {
        sql.push_str(&format!(" AND {} LIKE ? ESCAPE '\\'", d.lower("title")));
        params.push(contains_pattern(n).into());
    }
    for (c, st) in only {
        sql.push_str(&format!(
            " AND (\"catalogDbId\" <> ? OR \"recordDbId\" IN (SELECT d.\"dbId\" FROM {} d WHERE {}))",
            data_table(*c),
            st.sql
        ));
        params.push((*c).into());
        params.extend(st.params.iter().cloned());
    }
    sql.push_str(&format!(
        " ORDER BY {}, \"catalogDbId\", \"recordDbId\" LIMIT ? OFFSET ?",
        d.lower("title")
    ));
    params.push(limit.into());
    params.push(offset.into());
    conn.query(&sql, &params)?
        .iter()
        .map(|r| {
            let rec = r.int(1)?;
            Ok(TitleHit {
                catalog_db_id: r.int(0)?,
                record_db_id: rec,
                id: r.opt_text(2)?.unwrap_or_else(|| rec.to_string()),
                title: r.text(3)?,
            })
        })
        .collect()
}

/// A record that links to another.
#[derive(Debug, Clone, PartialEq)]
pub struct BackLink {
    pub record_db_id: i64,
    pub id: String,
    pub title: String,
    pub created: String,
}

/// Records of catalog `source` whose field `field_db_id` links to the target record, newest
/// first, and how many there are in all; `only`, a condition over `source`'s data table
/// (alias `d`) they must meet (the caller's rights).
pub fn back_links(
    conn: &mut dyn Conn,
    source: i64,
    field_db_id: i64,
    target: (i64, i64),
    only: Option<&Statement>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<BackLink>, i64), StoreError> {
    let (l, d) = (links_table(source), data_table(source));
    let mut cond = "l.\"fieldDbId\" = ? AND l.\"linkCatalogDbId\" = ? AND l.\"linkRecordDbId\" = ?"
        .to_string();
    let mut base = vec![DbValue::Int(field_db_id), target.0.into(), target.1.into()];
    if let Some(st) = only {
        cond.push_str(&format!(" AND ({})", st.sql));
        base.extend(st.params.iter().cloned());
    }
    let total = conn
        .query_one(
            &format!("SELECT COUNT(DISTINCT l.\"recordDbId\") FROM {l} l JOIN {d} d ON d.\"dbId\" = l.\"recordDbId\" WHERE {cond}"),
            &base,
        )?
        .int(0)?;
    if total == 0 {
        return Ok((vec![], 0));
    }
    // Parameters in the order they appear: the join's catalog, the condition, the page.
    let mut params = vec![DbValue::Int(source)];
    params.extend(base.iter().cloned());
    params.push(limit.into());
    params.push(offset.into());
    let rows = conn.query(
        &format!(
            "SELECT DISTINCT l.\"recordDbId\", t.id, t.title, d.\"createdAt\" FROM {l} l JOIN {d} d ON d.\"dbId\" = l.\"recordDbId\"
             LEFT JOIN titles t ON t.\"recordDbId\" = l.\"recordDbId\" AND t.\"catalogDbId\" = ?
             WHERE {cond} ORDER BY d.\"createdAt\" DESC, l.\"recordDbId\" DESC LIMIT ? OFFSET ?"
        ),
        &params,
    )?;
    let links = rows
        .iter()
        .map(|r| {
            let rec = r.int(0)?;
            Ok(BackLink {
                record_db_id: rec,
                id: r.opt_text(1)?.unwrap_or_else(|| rec.to_string()),
                title: r.text(2)?,
                created: r.text(3)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((links, total))
}

/// A contact value that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactHit {
    pub record_db_id: i64,
    pub field_db_id: i64,
    pub contact: String,
}

/// Contacts of one catalog containing `needle` (text, case-insensitive) or, for phones, its
/// digits (with the trunk `8` read as `7`).
pub fn contacts_matching(
    conn: &mut dyn Conn,
    catalog: i64,
    only: Option<&Statement>,
    needle: &str,
) -> Result<Vec<ContactHit>, StoreError> {
    let d = conn.dialect();
    let digits = kartoteka_model::value::phone_digits(needle);
    let mut sql = format!(
        "SELECT \"recordDbId\", \"fieldDbId\", contact FROM {} WHERE ({} LIKE ? ESCAPE '\\'",
        contacts_table(catalog),
        d.lower("contact")
    );
    let mut params = vec![DbValue::Text(contains_pattern(needle))];
    if !digits.is_empty() {
        sql.push_str(" OR digits LIKE ? ESCAPE '\\'");
        params.push(contains_pattern(&digits).into());
        // A partial number typed with the trunk prefix (8-900-…) starts the stored 7-number.
        if let Some(rest) = digits.strip_prefix('8').filter(|r| !r.is_empty()) {
            sql.push_str(" OR digits LIKE ?");
            params.push(format!("7{rest}%").into());
        }
    }
    sql.push(')');
    if let Some(st) = only {
        // The caller's rights, over the catalog's data table.
        sql.push_str(&format!(
            " AND \"recordDbId\" IN (SELECT d.\"dbId\" FROM {} d WHERE {})",
            data_table(catalog),
            st.sql
        ));
        params.extend(st.params.iter().cloned());
    }
    sql.push_str(" ORDER BY \"recordDbId\", \"fieldDbId\", position");
    conn.query(&sql, &params)?
        .iter()
        .map(|r| {
            Ok(ContactHit {
                record_db_id: r.int(0)?,
                field_db_id: r.int(1)?,
                contact: r.text(2)?,
            })
        })
        .collect()
}
