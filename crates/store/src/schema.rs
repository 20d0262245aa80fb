//! Sections, catalogs and fields: their rows in the registry tables and the DDL of each
//! catalog's own tables (spec 02 §2.1). A field change is DDL run inside the caller's
//! transaction, so a failed change leaves nothing behind.

use kartoteka_model::field::{FieldDef, FieldType, Storage};
use kartoteka_model::time::{format_ms, now_ms};
use serde_json::Value;

use crate::conn::{ident, Conn, Dialect};
use crate::error::StoreError;
use crate::value::{DbValue, Row};

/// A section row.
#[derive(Debug, Clone, PartialEq)]
pub struct SectionRow {
    pub db_id: i64,
    pub id: String,
    pub name: String,
    pub icon: String,
    pub priority: i64,
    pub is_system: bool,
    pub deleted: bool,
}

/// A catalog row with its fields in form order.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRow {
    pub db_id: i64,
    pub id: String,
    pub section_db_id: i64,
    pub name: String,
    pub icon: String,
    pub history: bool,
    pub priority: i64,
    pub is_system: bool,
    pub deleted: bool,
    /// The next automatic public field id.
    pub next_field_id: i64,
    pub fields: Vec<FieldDef>,
}

/// Table names of a catalog.
pub fn data_table(catalog_db_id: i64) -> String {
    format!("catalog_{catalog_db_id}_data")
}
pub fn fields_table(catalog_db_id: i64) -> String {
    format!("catalog_{catalog_db_id}_fields")
}
pub fn links_table(catalog_db_id: i64) -> String {
    format!("catalog_{catalog_db_id}_links")
}
pub fn contacts_table(catalog_db_id: i64) -> String {
    format!("catalog_{catalog_db_id}_contacts")
}
pub fn stat_table(catalog_db_id: i64) -> String {
    format!("catalog_{catalog_db_id}_stat_dropdown_items")
}

/// The current instant as a timestamp parameter.
pub fn now_param() -> DbValue {
    DbValue::Text(format_ms(now_ms()))
}

/// Takes the next value of a named sequence in `_sequences`.
pub fn next_id(conn: &mut dyn Conn, seq: &str) -> Result<i64, StoreError> {
    conn.query_one(
        "UPDATE _sequences SET value = value + 1 WHERE name = ? RETURNING value",
        &[seq.into()],
    )?
    .int(0)
}

/// Raises a sequence so that it is at least `v` (after a custom numeric id was used).
pub fn bump_sequence(conn: &mut dyn Conn, seq: &str, v: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE _sequences SET value = ? WHERE name = ? AND value < ?",
        &[v.into(), seq.into(), v.into()],
    )?;
    Ok(())
}

pub fn load_sections(conn: &mut dyn Conn) -> Result<Vec<SectionRow>, StoreError> {
    let rows = conn.query(
        "SELECT \"dbId\", id, name, icon, priority, \"isSystem\", deleted FROM sections_data ORDER BY priority, \"dbId\"",
        &[],
    )?;
    rows.iter()
        .map(|r| {
            Ok(SectionRow {
                db_id: r.int(0)?,
                id: r.text(1)?,
                name: r.text(2)?,
                icon: r.text(3)?,
                priority: r.int(4)?,
                is_system: r.bool(5)?,
                deleted: r.bool(6)?,
            })
        })
        .collect()
}

pub fn insert_section(conn: &mut dyn Conn, s: &SectionRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO sections_data (\"dbId\", id, name, icon, priority, \"isSystem\", deleted, \"createdAt\") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            s.db_id.into(),
            s.id.as_str().into(),
            s.name.as_str().into(),
            s.icon.as_str().into(),
            s.priority.into(),
            s.is_system.into(),
            s.deleted.into(),
            now_param(),
        ],
    )?;
    Ok(())
}

pub fn update_section(conn: &mut dyn Conn, s: &SectionRow) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE sections_data SET id = ?, name = ?, icon = ?, priority = ?, deleted = ? WHERE \"dbId\" = ?",
        &[
            s.id.as_str().into(),
            s.name.as_str().into(),
            s.icon.as_str().into(),
            s.priority.into(),
            s.deleted.into(),
            s.db_id.into(),
        ],
    )?;
    Ok(())
}

const FIELD_COLS: &str = "\"dbId\", id, \"prevId\", \"duplicateResultWithPrevId\", name, type, hint, required, \"apiOnly\", filterable, history, hidden, comment, config, visible, \"isSystem\", \"columnName\", position";

const CATALOG_COLS: &str = "\"dbId\", id, \"sectionDbId\", name, icon, history, priority, \"isSystem\", deleted, \"nextFieldId\"";

fn catalog_row(conn: &mut dyn Conn, r: &Row) -> Result<CatalogRow, StoreError> {
    let db_id = r.int(0)?;
    Ok(CatalogRow {
        db_id,
        id: r.text(1)?,
        section_db_id: r.int(2)?,
        name: r.text(3)?,
        icon: r.text(4)?,
        history: r.bool(5)?,
        priority: r.int(6)?,
        is_system: r.bool(7)?,
        deleted: r.bool(8)?,
        next_field_id: r.int(9)?,
        fields: load_fields(conn, db_id)?,
    })
}

/// Every catalog with its fields, in menu order.
pub fn load_catalogs(conn: &mut dyn Conn) -> Result<Vec<CatalogRow>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {CATALOG_COLS} FROM catalogs_data ORDER BY priority, \"dbId\""),
        &[],
    )?;
    rows.iter().map(|r| catalog_row(conn, r)).collect()
}

/// Loads one catalog row with its fields.
pub fn load_catalog(conn: &mut dyn Conn, db_id: i64) -> Result<Option<CatalogRow>, StoreError> {
    let row = conn.query_opt(
        &format!("SELECT {CATALOG_COLS} FROM catalogs_data WHERE \"dbId\" = ?"),
        &[db_id.into()],
    )?;
    row.map(|r| catalog_row(conn, &r)).transpose()
}

fn load_fields(conn: &mut dyn Conn, catalog_db_id: i64) -> Result<Vec<FieldDef>, StoreError> {
    let sql = format!(
        "SELECT {FIELD_COLS} FROM {} ORDER BY position, \"dbId\"",
        fields_table(catalog_db_id)
    );
    conn.query(&sql, &[])?
        .iter()
        .map(|r| {
            let type_code = r.text(5)?;
            let field_type = FieldType::from_code(&type_code)
                .ok_or_else(|| StoreError::Decode(format!("unknown field type {type_code}")))?;
            let config = match serde_json::from_str::<Value>(&r.text(13)?) {
                Ok(Value::Object(m)) => m,
                _ => Default::default(),
            };
            let visible = serde_json::from_str::<Value>(&r.text(14)?).unwrap_or(Value::Null);
            Ok(FieldDef {
                db_id: r.int(0)?,
                id: r.text(1)?,
                prev_id: r.text(2)?,
                duplicate: r.bool(3)?,
                name: r.text(4)?,
                field_type,
                hint: r.text(6)?,
                required: r.bool(7)?,
                api_only: r.bool(8)?,
                filterable: r.bool(9)?,
                history: r.bool(10)?,
                hidden: r.bool(11)?,
                comment: r.text(12)?,
                config,
                visible,
                is_system: r.bool(15)?,
                column: r.text(16)?,
            })
        })
        .collect()
}

/// Inserts a catalog row and creates its five tables.
pub fn insert_catalog(conn: &mut dyn Conn, c: &CatalogRow) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO catalogs_data (\"dbId\", id, \"sectionDbId\", name, icon, history, priority, \"isSystem\", deleted, \"nextFieldId\", \"createdAt\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            c.db_id.into(),
            c.id.as_str().into(),
            c.section_db_id.into(),
            c.name.as_str().into(),
            c.icon.as_str().into(),
            c.history.into(),
            c.priority.into(),
            c.is_system.into(),
            c.deleted.into(),
            c.next_field_id.into(),
            now_param(),
        ],
    )?;
    create_catalog_tables(conn, c.db_id)
}

/// Updates the catalog row (not its fields).
pub fn update_catalog(conn: &mut dyn Conn, c: &CatalogRow) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE catalogs_data SET id = ?, \"sectionDbId\" = ?, name = ?, icon = ?, history = ?, priority = ?, deleted = ?, \"nextFieldId\" = ? WHERE \"dbId\" = ?",
        &[
            c.id.as_str().into(),
            c.section_db_id.into(),
            c.name.as_str().into(),
            c.icon.as_str().into(),
            c.history.into(),
            c.priority.into(),
            c.deleted.into(),
            c.next_field_id.into(),
            c.db_id.into(),
        ],
    )?;
    Ok(())
}

fn create_catalog_tables(conn: &mut dyn Conn, db_id: i64) -> Result<(), StoreError> {
    let d = conn.dialect();
    let (pk, big, ts, boolean) = (d.serial_pk(), d.bigint(), d.timestamp(), d.boolean());
    let data = data_table(db_id);
    let ddl = format!(
        r#"
CREATE TABLE {data} ("dbId" {pk}, id TEXT UNIQUE, "createdAt" {ts} NOT NULL, "updatedAt" {ts} NOT NULL, "createdBy" {big});
CREATE TABLE {fields} ("dbId" {big} PRIMARY KEY, id TEXT NOT NULL UNIQUE, "prevId" TEXT NOT NULL, "duplicateResultWithPrevId" {boolean} NOT NULL,
  name TEXT NOT NULL, type TEXT NOT NULL, hint TEXT NOT NULL, required {boolean} NOT NULL, "apiOnly" {boolean} NOT NULL,
  filterable {boolean} NOT NULL, history {boolean} NOT NULL, hidden {boolean} NOT NULL, comment TEXT NOT NULL, config TEXT NOT NULL,
  visible TEXT NOT NULL, "isSystem" {boolean} NOT NULL, "columnName" TEXT NOT NULL, position {big} NOT NULL,
  "createdAt" {ts} NOT NULL, "updatedAt" {ts} NOT NULL);
CREATE TABLE {links} ("recordDbId" {big} NOT NULL, "fieldDbId" {big} NOT NULL, position {big} NOT NULL,
  "linkCatalogDbId" {big} NOT NULL, "linkRecordDbId" {big} NOT NULL, PRIMARY KEY ("recordDbId", "fieldDbId", position));
CREATE INDEX {links}_target ON {links} ("linkCatalogDbId", "linkRecordDbId");
CREATE TABLE {contacts} ("recordDbId" {big} NOT NULL, "fieldDbId" {big} NOT NULL, position {big} NOT NULL,
  contact TEXT NOT NULL, comment TEXT NOT NULL, digits TEXT NOT NULL, PRIMARY KEY ("recordDbId", "fieldDbId", position));
CREATE TABLE {stat} ("recordDbId" {big} NOT NULL, "fieldDbId" {big} NOT NULL, "itemDbId" {big}, "changedAt" {ts} NOT NULL);
CREATE INDEX {stat}_record ON {stat} ("recordDbId", "fieldDbId");
"#,
        fields = fields_table(db_id),
        links = links_table(db_id),
        contacts = contacts_table(db_id),
        stat = stat_table(db_id),
    );
    conn.batch(&ddl)
}

fn field_params(f: &FieldDef, position: i64) -> Vec<DbValue> {
    vec![
        f.id.as_str().into(),
        f.prev_id.as_str().into(),
        f.duplicate.into(),
        f.name.as_str().into(),
        f.field_type.code().into(),
        f.hint.as_str().into(),
        f.required.into(),
        f.api_only.into(),
        f.filterable.into(),
        f.history.into(),
        f.hidden.into(),
        f.comment.as_str().into(),
        Value::Object(f.config.clone()).to_string().into(),
        f.visible.to_string().into(),
        f.is_system.into(),
        f.column.as_str().into(),
        position.into(),
    ]
}

/// Adds a field: its definition row and, for column-stored types, its data column.
pub fn insert_field(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    f: &FieldDef,
    position: i64,
) -> Result<(), StoreError> {
    let mut p = vec![DbValue::Int(f.db_id)];
    p.extend(field_params(f, position));
    p.push(now_param());
    p.push(now_param());
    conn.execute(
        &format!(
            "INSERT INTO {} ({FIELD_COLS}, \"createdAt\", \"updatedAt\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            fields_table(catalog_db_id)
        ),
        &p,
    )?;
    if let Storage::Column(kind) = f.field_type.storage() {
        let d: Dialect = conn.dialect();
        conn.batch(&format!(
            "ALTER TABLE {} ADD COLUMN {} {}",
            data_table(catalog_db_id),
            ident(&f.column),
            d.column_type(kind)
        ))?;
        crate::query::sync_field_index(conn, catalog_db_id, f)?;
    }
    Ok(())
}

/// Rewrites a field's definition row (its type and column never change).
pub fn update_field(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    f: &FieldDef,
    position: i64,
) -> Result<(), StoreError> {
    let mut p = field_params(f, position);
    p.push(now_param());
    p.push(f.db_id.into());
    conn.execute(
        &format!(
            "UPDATE {} SET id = ?, \"prevId\" = ?, \"duplicateResultWithPrevId\" = ?, name = ?, type = ?, hint = ?, required = ?, \"apiOnly\" = ?, filterable = ?, history = ?, hidden = ?, comment = ?, config = ?, visible = ?, \"isSystem\" = ?, \"columnName\" = ?, position = ?, \"updatedAt\" = ? WHERE \"dbId\" = ?",
            fields_table(catalog_db_id)
        ),
        &p,
    )?;
    // `filterable` may have changed: the field's index follows it.
    crate::query::sync_field_index(conn, catalog_db_id, f)
}

/// Removes a field together with its data.
pub fn delete_field(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    f: &FieldDef,
) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "DELETE FROM {} WHERE \"dbId\" = ?",
            fields_table(catalog_db_id)
        ),
        &[f.db_id.into()],
    )?;
    match f.field_type.storage() {
        // SQLite refuses to drop an indexed column: the index goes first.
        Storage::Column(_) => {
            crate::query::drop_field_index(conn, catalog_db_id, f)?;
            crate::query::drop_owner_indexes_of(conn, catalog_db_id, f.db_id)?;
            conn.batch(&format!(
                "ALTER TABLE {} DROP COLUMN {}",
                data_table(catalog_db_id),
                ident(&f.column)
            ))?
        }
        Storage::Links => {
            conn.execute(
                &format!(
                    "DELETE FROM {} WHERE \"fieldDbId\" = ?",
                    links_table(catalog_db_id)
                ),
                &[f.db_id.into()],
            )?;
        }
        Storage::Contacts => {
            conn.execute(
                &format!(
                    "DELETE FROM {} WHERE \"fieldDbId\" = ?",
                    contacts_table(catalog_db_id)
                ),
                &[f.db_id.into()],
            )?;
        }
        Storage::None => {}
    }
    Ok(())
}
