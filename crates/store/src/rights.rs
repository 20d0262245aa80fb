//! Rights rules (`rights`, spec 04 §1.4): one row per object and subject. The core loads all
//! of them into its rights cache and replaces the rules of one object at a time.

use crate::aux::USERS_CATALOG;
use crate::conn::Conn;
use crate::error::StoreError;
use crate::schema::links_table;
use crate::value::{DbValue, Row};

/// The `dbId`s of the two system sections.
pub const SETTINGS_SECTION: i64 = 1;
pub const SYSTEM_SECTION: i64 = 2;

/// What a rule is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Object {
    Section(i64),
    Catalog(i64),
    /// A view of a catalog: (catalog, view `dbId` in `$views`).
    View(i64, i64),
    /// A record of a catalog: (catalog, record).
    Record(i64, i64),
}

impl Object {
    /// (sectionDbId, catalogDbId, viewDbId, recordDbId).
    fn columns(self) -> [Option<i64>; 4] {
        match self {
            Object::Section(s) => [Some(s), None, None, None],
            Object::Catalog(c) => [None, Some(c), None, None],
            Object::View(c, v) => [None, Some(c), Some(v), None],
            Object::Record(c, r) => [None, Some(c), None, Some(r)],
        }
    }

    fn from_columns(cols: [Option<i64>; 4]) -> Option<Object> {
        Some(match cols {
            [Some(s), None, None, None] => Object::Section(s),
            [None, Some(c), None, None] => Object::Catalog(c),
            [None, Some(c), Some(v), None] => Object::View(c, v),
            [None, Some(c), None, Some(r)] => Object::Record(c, r),
            _ => return None,
        })
    }
}

/// One stored rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub db_id: i64,
    pub object: Object,
    /// `allUsers`, `id`, or the `dbId` of a link field of `$users` (as text).
    pub subject_attr: String,
    pub subject_catalog: Option<i64>,
    pub subject_record: Option<i64>,
    /// The privilege code (`view`, …, `admin`, `deny`).
    pub privilege: String,
    /// Field rights as JSON (`{"<fieldDbId>": "edit" | "view" | "hide"}`), if any.
    pub fields: Option<String>,
}

const COLUMNS: &str = "\"dbId\", \"sectionDbId\", \"catalogDbId\", \"viewDbId\", \"recordDbId\", \"subjectAttr\", \"subjectCatalogDbId\", \"subjectRecordDbId\", privilege, fields";

fn opt(v: Option<i64>) -> DbValue {
    v.map(DbValue::Int).unwrap_or(DbValue::Null)
}

fn decode(r: &Row) -> Result<Option<RuleRow>, StoreError> {
    let cols = [r.opt_int(1)?, r.opt_int(2)?, r.opt_int(3)?, r.opt_int(4)?];
    let Some(object) = Object::from_columns(cols) else {
        return Ok(None);
    };
    Ok(Some(RuleRow {
        db_id: r.int(0)?,
        object,
        subject_attr: r.text(5)?,
        subject_catalog: r.opt_int(6)?,
        subject_record: r.opt_int(7)?,
        privilege: r.text(8)?,
        fields: r.opt_text(9)?,
    }))
}

/// Every rule, in `dbId` order.
pub fn all_rules(conn: &mut dyn Conn) -> Result<Vec<RuleRow>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM rights ORDER BY \"dbId\""),
        &[],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.extend(decode(r)?);
    }
    Ok(out)
}

fn object_where(object: Object, params: &mut Vec<DbValue>) -> String {
    let names = ["sectionDbId", "catalogDbId", "viewDbId", "recordDbId"];
    let mut parts = Vec::with_capacity(4);
    for (name, v) in names.iter().zip(object.columns()) {
        match v {
            Some(v) => {
                parts.push(format!("\"{name}\" = ?"));
                params.push(v.into());
            }
            None => parts.push(format!("\"{name}\" IS NULL")),
        }
    }
    parts.join(" AND ")
}

/// The rules of one object, in `dbId` order.
pub fn rules_of(conn: &mut dyn Conn, object: Object) -> Result<Vec<RuleRow>, StoreError> {
    let mut params = Vec::new();
    let w = object_where(object, &mut params);
    let rows = conn.query(
        &format!("SELECT {COLUMNS} FROM rights WHERE {w} ORDER BY \"dbId\""),
        &params,
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.extend(decode(r)?);
    }
    Ok(out)
}

/// Replaces every rule of `object` with `rules` (their `db_id` and `object` are ignored).
/// A rule that did not change keeps its `dbId`.
pub fn replace_rules(
    conn: &mut dyn Conn,
    object: Object,
    rules: &[RuleRow],
) -> Result<(), StoreError> {
    let old = rules_of(conn, object)?;
    let same = |a: &RuleRow, b: &RuleRow| {
        a.subject_attr == b.subject_attr
            && a.subject_catalog == b.subject_catalog
            && a.subject_record == b.subject_record
            && a.privilege == b.privilege
            && a.fields == b.fields
    };
    for o in &old {
        if !rules.iter().any(|n| same(o, n)) {
            conn.execute("DELETE FROM rights WHERE \"dbId\" = ?", &[o.db_id.into()])?;
        }
    }
    for n in rules {
        if !old.iter().any(|o| same(o, n)) {
            insert_rule(conn, object, n)?;
        }
    }
    Ok(())
}

/// Adds one rule.
pub fn insert_rule(conn: &mut dyn Conn, object: Object, r: &RuleRow) -> Result<(), StoreError> {
    let [s, c, v, rec] = object.columns();
    conn.execute(
        "INSERT INTO rights (\"sectionDbId\", \"catalogDbId\", \"viewDbId\", \"recordDbId\", \"subjectAttr\", \"subjectCatalogDbId\", \"subjectRecordDbId\", privilege, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            opt(s),
            opt(c),
            opt(v),
            opt(rec),
            r.subject_attr.as_str().into(),
            opt(r.subject_catalog),
            opt(r.subject_record),
            r.privilege.as_str().into(),
            r.fields.clone().map(DbValue::Text).unwrap_or(DbValue::Null),
        ],
    )?;
    Ok(())
}

/// The rule a new section starts with: every employee administers it (spec 04 §1.4).
pub fn all_users_admin() -> RuleRow {
    RuleRow {
        db_id: 0,
        object: Object::Section(0),
        subject_attr: "allUsers".into(),
        subject_catalog: None,
        subject_record: None,
        privilege: "admin".into(),
        fields: None,
    }
}

/// A rule giving one employee `admin`.
pub fn user_admin(user: i64) -> RuleRow {
    RuleRow {
        subject_attr: "id".into(),
        subject_catalog: Some(USERS_CATALOG),
        subject_record: Some(user),
        ..all_users_admin()
    }
}

/// Gives `user` `admin` on both system sections unless they have a rule there already: the
/// first administrator of a new store.
pub fn grant_system_admin(conn: &mut dyn Conn, user: i64) -> Result<(), StoreError> {
    for s in [SETTINGS_SECTION, SYSTEM_SECTION] {
        let has = rules_of(conn, Object::Section(s))?
            .iter()
            .any(|r| r.subject_attr == "id" && r.subject_record == Some(user));
        if !has {
            insert_rule(conn, Object::Section(s), &user_admin(user))?;
        }
    }
    Ok(())
}

/// The records `user`'s `$users` record links to, per link field: (field, catalog, record).
/// Each is a right group the employee belongs to (spec 04 §1.2).
pub fn user_links(conn: &mut dyn Conn, user: i64) -> Result<Vec<(i64, i64, i64)>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT \"fieldDbId\", \"linkCatalogDbId\", \"linkRecordDbId\" FROM {} WHERE \"recordDbId\" = ? ORDER BY \"fieldDbId\", position",
            links_table(USERS_CATALOG)
        ),
        &[user.into()],
    )?;
    rows.iter()
        .map(|r| Ok((r.int(0)?, r.int(1)?, r.int(2)?)))
        .collect()
}

/// Migration 40: what a store had before rules existed, as rules. Every employee keeps
/// `admin` on every section of the company, and the first employee (the first
/// administrator) gets `admin` on the system sections.
pub fn seed(conn: &mut dyn Conn) -> Result<(), StoreError> {
    let sections = conn.query(
        "SELECT \"dbId\" FROM sections_data WHERE \"isSystem\" = ? ORDER BY \"dbId\"",
        &[false.into()],
    )?;
    for r in &sections {
        insert_rule(conn, Object::Section(r.int(0)?), &all_users_admin())?;
    }
    let first = conn.query_opt(
        &format!(
            "SELECT MIN(\"dbId\") FROM {}",
            crate::schema::data_table(USERS_CATALOG)
        ),
        &[],
    )?;
    if let Some(user) = first.map(|r| r.opt_int(0)).transpose()?.flatten() {
        grant_system_admin(conn, user)?;
    }
    Ok(())
}
