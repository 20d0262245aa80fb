//! Records: rows of `catalog_{dbId}_data` plus their `_links` and `_contacts` rows, titles and
//! history. Values arrive in [`FieldValue`] form with every reference already resolved to
//! `dbId`s by the core (users, files, linked records), and are decoded the same way.

use std::collections::HashMap;

use kartoteka_model::field::{FieldDef, FieldType, Storage};
use kartoteka_model::time::{format_ms, parse_instant};
use kartoteka_model::value::{phone_digits, Contact, FieldValue, FileRef, LinkRef};
use serde_json::Value;

use crate::conn::{ident, Conn};
use crate::error::StoreError;
use crate::query::{self, RecordQuery};
use crate::schema::{contacts_table, data_table, links_table, now_param};
use crate::value::{DbValue, Row};

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordData {
    pub db_id: i64,
    /// The custom public id, when one was given.
    pub id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Values by field `dbId`.
    pub values: HashMap<i64, FieldValue>,
}

impl RecordData {
    /// The public id: the custom one or the `dbId`.
    pub fn public_id(&self) -> String {
        self.id.clone().unwrap_or_else(|| self.db_id.to_string())
    }
}

/// Which records to fetch.
#[derive(Debug, Clone)]
pub enum Selector {
    /// These records, in this order.
    Ids(Vec<i64>),
    /// A page, newest first.
    Page { limit: i64, offset: i64 },
    /// One record by public id (custom id or `dbId`).
    Public(String),
    /// The page a filtered, searched and sorted query selects (see [`crate::query`]).
    Query(Box<RecordQuery>),
}

fn bad_ref(what: &str, v: &str) -> StoreError {
    StoreError::Decode(format!("{what} {v:?} was not resolved to a dbId"))
}

fn db_id_of(s: &str, what: &str) -> Result<i64, StoreError> {
    s.parse().map_err(|_| bad_ref(what, s))
}

fn json_list(items: impl Iterator<Item = Value>) -> DbValue {
    let v: Vec<Value> = items.collect();
    if v.is_empty() {
        DbValue::Null
    } else {
        DbValue::Text(Value::Array(v).to_string())
    }
}

/// Encodes a column-stored value.
fn encode_column(v: &FieldValue) -> Result<DbValue, StoreError> {
    Ok(match v {
        FieldValue::Text(s) => DbValue::Text(s.clone()),
        FieldValue::Number(n) => (*n).into(),
        FieldValue::Int(n) => (*n).into(),
        FieldValue::Date(d) => d.map(format_ms).into(),
        FieldValue::Items(ids) => json_list(ids.iter().map(|s| Value::String(s.clone()))),
        FieldValue::Bool(b) => DbValue::Bool(*b),
        FieldValue::Users(ids) => {
            let mut out = Vec::with_capacity(ids.len());
            for i in ids {
                out.push(Value::from(db_id_of(i, "user")?));
            }
            json_list(out.into_iter())
        }
        FieldValue::Files(files) => {
            let mut out = Vec::with_capacity(files.len());
            for f in files {
                match f {
                    FileRef::Id(i) => out.push(Value::from(db_id_of(i, "file")?)),
                    FileRef::External { src, .. } => return Err(bad_ref("file", src)),
                }
            }
            json_list(out.into_iter())
        }
        FieldValue::Address(a) => a
            .as_ref()
            .map(|m| Value::Object(m.clone()).to_string())
            .into(),
        FieldValue::Links(_) | FieldValue::Contacts(_) => {
            return Err(StoreError::Decode(
                "links and contacts are not column values".into(),
            ))
        }
    })
}

fn decode_json_list(v: &DbValue) -> Vec<Value> {
    match v {
        DbValue::Text(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => a,
            _ => vec![],
        },
        _ => vec![],
    }
}

fn json_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Decodes a column value for a field.
fn decode_column(f: &FieldDef, row: &Row, i: usize) -> Result<FieldValue, StoreError> {
    let v = row.get(i);
    Ok(match f.field_type {
        FieldType::Text => FieldValue::Text(row.text(i)?),
        FieldType::Number | FieldType::Progress => FieldValue::Number(row.opt_real(i)?),
        FieldType::Stars => FieldValue::Int(row.opt_int(i)?),
        FieldType::Date => FieldValue::Date(row.opt_text(i)?.and_then(|s| parse_instant(&s, 0))),
        FieldType::Switch => FieldValue::Bool(row.bool(i)?),
        FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
            // Ids of items deleted from the field since the value was written are dropped
            // (spec 01 §3.7); the next write of the record stores the clean list.
            let known = kartoteka_model::field::items::item_ids(&f.config);
            FieldValue::Items(
                decode_json_list(v)
                    .iter()
                    .filter_map(json_id)
                    .filter(|id| known.contains(&id.as_str()))
                    .collect(),
            )
        }
        FieldType::User => {
            FieldValue::Users(decode_json_list(v).iter().filter_map(json_id).collect())
        }
        FieldType::File => FieldValue::Files(
            decode_json_list(v)
                .iter()
                .filter_map(json_id)
                .map(FileRef::Id)
                .collect(),
        ),
        FieldType::Address => FieldValue::Address(match row.opt_text(i)? {
            Some(s) => match serde_json::from_str::<Value>(&s) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            },
            None => None,
        }),
        t => t.empty_value().unwrap_or(FieldValue::Text(String::new())),
    })
}

fn column_fields<'a>(
    values: &'a [(&'a FieldDef, &'a FieldValue)],
) -> impl Iterator<Item = &'a (&'a FieldDef, &'a FieldValue)> {
    values
        .iter()
        .filter(|(f, _)| matches!(f.field_type.storage(), Storage::Column(_)))
}

/// Inserts a record created at `created_at` (ISO) and returns its `dbId`.
pub fn insert_record(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    public_id: Option<&str>,
    created_by: Option<i64>,
    created_at: &str,
    values: &[(&FieldDef, &FieldValue)],
) -> Result<i64, StoreError> {
    insert_record_at(
        conn,
        catalog_db_id,
        None,
        public_id,
        created_by,
        created_at,
        values,
    )
}

/// Inserts a record, with a chosen `dbId` when `db_id` is given (registry records take the
/// `dbId` of the catalog or section they describe).
pub fn insert_record_at(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: Option<i64>,
    public_id: Option<&str>,
    created_by: Option<i64>,
    created_at: &str,
    values: &[(&FieldDef, &FieldValue)],
) -> Result<i64, StoreError> {
    let mut cols = String::from("id, \"createdAt\", \"updatedAt\", \"createdBy\"");
    let mut marks = String::from("?, ?, ?, ?");
    let now = DbValue::Text(created_at.to_string());
    let mut params = vec![public_id.into(), now.clone(), now, created_by.into()];
    if let Some(d) = db_id {
        cols.push_str(", \"dbId\"");
        marks.push_str(", ?");
        params.push(d.into());
    }
    for (f, v) in column_fields(values) {
        cols.push_str(", ");
        cols.push_str(&ident(&f.column));
        marks.push_str(", ?");
        params.push(encode_column(v)?);
    }
    let sql = format!(
        "INSERT INTO {} ({cols}) VALUES ({marks})",
        data_table(catalog_db_id)
    );
    let db_id = conn.insert_id(&sql, &params, "\"dbId\"")?;
    write_side_tables(conn, catalog_db_id, db_id, values, false)?;
    Ok(db_id)
}

/// Updates the given fields of a record. Returns false when the record does not exist.
pub fn update_record(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: i64,
    values: &[(&FieldDef, &FieldValue)],
) -> Result<bool, StoreError> {
    let mut sets = String::from("\"updatedAt\" = ?");
    let mut params = vec![now_param()];
    for (f, v) in column_fields(values) {
        sets.push_str(", ");
        sets.push_str(&ident(&f.column));
        sets.push_str(" = ?");
        params.push(encode_column(v)?);
    }
    params.push(db_id.into());
    let n = conn.execute(
        &format!(
            "UPDATE {} SET {sets} WHERE \"dbId\" = ?",
            data_table(catalog_db_id)
        ),
        &params,
    )?;
    if n == 0 {
        return Ok(false);
    }
    write_side_tables(conn, catalog_db_id, db_id, values, true)?;
    Ok(true)
}

fn write_side_tables(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: i64,
    values: &[(&FieldDef, &FieldValue)],
    replace: bool,
) -> Result<(), StoreError> {
    for (f, v) in values {
        match (f.field_type.storage(), v) {
            (Storage::Links, FieldValue::Links(links)) => {
                let t = links_table(catalog_db_id);
                if replace {
                    conn.execute(
                        &format!("DELETE FROM {t} WHERE \"recordDbId\" = ? AND \"fieldDbId\" = ?"),
                        &[db_id.into(), f.db_id.into()],
                    )?;
                }
                let sql = format!("INSERT INTO {t} (\"recordDbId\", \"fieldDbId\", position, \"linkCatalogDbId\", \"linkRecordDbId\") VALUES (?, ?, ?, ?, ?)");
                for (pos, l) in links.iter().enumerate() {
                    conn.execute(
                        &sql,
                        &[
                            db_id.into(),
                            f.db_id.into(),
                            (pos as i64).into(),
                            db_id_of(&l.catalog_id, "catalog")?.into(),
                            db_id_of(&l.record_id, "record")?.into(),
                        ],
                    )?;
                }
            }
            (Storage::Contacts, FieldValue::Contacts(cs)) => {
                let t = contacts_table(catalog_db_id);
                if replace {
                    conn.execute(
                        &format!("DELETE FROM {t} WHERE \"recordDbId\" = ? AND \"fieldDbId\" = ?"),
                        &[db_id.into(), f.db_id.into()],
                    )?;
                }
                let sql = format!("INSERT INTO {t} (\"recordDbId\", \"fieldDbId\", position, contact, comment, digits) VALUES (?, ?, ?, ?, ?, ?)");
                for (pos, c) in cs.iter().enumerate() {
                    conn.execute(
                        &sql,
                        &[
                            db_id.into(),
                            f.db_id.into(),
                            (pos as i64).into(),
                            c.contact.as_str().into(),
                            c.comment.as_str().into(),
                            phone_digits(&c.contact).into(),
                        ],
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Deletes a record with its links and contacts. Returns false when it did not exist.
pub fn delete_record(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: i64,
) -> Result<bool, StoreError> {
    let n = conn.execute(
        &format!(
            "DELETE FROM {} WHERE \"dbId\" = ?",
            data_table(catalog_db_id)
        ),
        &[db_id.into()],
    )?;
    for t in [links_table(catalog_db_id), contacts_table(catalog_db_id)] {
        conn.execute(
            &format!("DELETE FROM {t} WHERE \"recordDbId\" = ?"),
            &[db_id.into()],
        )?;
    }
    Ok(n > 0)
}

/// Finds a record's `dbId` by public id (spec 02 §1.4): an all-digit id is a `dbId`, anything
/// else a custom id. Custom record ids are never all digits (the core refuses them), so one
/// lookup decides.
pub fn find_record(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    public_id: &str,
) -> Result<Option<i64>, StoreError> {
    let t = data_table(catalog_db_id);
    let row = match kartoteka_model::ids::as_db_id(public_id) {
        Some(n) => conn.query_opt(
            &format!("SELECT \"dbId\" FROM {t} WHERE \"dbId\" = ?"),
            &[n.into()],
        )?,
        None => conn.query_opt(
            &format!("SELECT \"dbId\" FROM {t} WHERE id = ?"),
            &[public_id.into()],
        )?,
    };
    row.map(|r| r.int(0)).transpose()
}

/// Counts a catalog's records.
pub fn count_records(conn: &mut dyn Conn, catalog_db_id: i64) -> Result<i64, StoreError> {
    conn.query_one(
        &format!("SELECT COUNT(*) FROM {}", data_table(catalog_db_id)),
        &[],
    )?
    .int(0)
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Fetches and decodes records with all their value fields.
pub fn fetch_records(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    fields: &[FieldDef],
    selector: &Selector,
) -> Result<Vec<RecordData>, StoreError> {
    let col_fields: Vec<&FieldDef> = fields
        .iter()
        .filter(|f| matches!(f.field_type.storage(), Storage::Column(_)))
        .collect();
    let mut cols = String::from("\"dbId\", id, \"createdAt\", \"updatedAt\"");
    for f in &col_fields {
        cols.push_str(", ");
        cols.push_str(&ident(&f.column));
    }
    let t = data_table(catalog_db_id);
    let by_public;
    let selector = match selector {
        Selector::Public(p) => {
            // An all-digit id is the dbId itself: no lookup needed.
            let ids = match kartoteka_model::ids::as_db_id(p) {
                Some(n) => vec![n],
                None => find_record(conn, catalog_db_id, p)?.into_iter().collect(),
            };
            by_public = Selector::Ids(ids);
            &by_public
        }
        s => s,
    };
    let rows = match selector {
        Selector::Public(_) => return Ok(vec![]),
        Selector::Ids(ids) if ids.is_empty() => return Ok(vec![]),
        Selector::Ids(ids) => {
            let params: Vec<DbValue> = ids.iter().map(|i| DbValue::Int(*i)).collect();
            let mut rows = conn.query(
                &format!(
                    "SELECT {cols} FROM {t} WHERE \"dbId\" IN ({})",
                    marks(ids.len())
                ),
                &params,
            )?;
            let pos: HashMap<i64, usize> = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
            rows.sort_by_key(|r| r.int(0).ok().and_then(|id| pos.get(&id).copied()));
            rows
        }
        Selector::Page { limit, offset } => conn.query(
            &format!("SELECT {cols} FROM {t} ORDER BY \"dbId\" DESC LIMIT ? OFFSET ?"),
            &[(*limit).into(), (*offset).into()],
        )?,
        Selector::Query(q) => {
            let mut qualified = String::from("d.\"dbId\", d.id, d.\"createdAt\", d.\"updatedAt\"");
            for f in &col_fields {
                qualified.push_str(", d.");
                qualified.push_str(&ident(&f.column));
            }
            // A probe along the sort order; when it finds part of a page, a second one sized
            // by the rate it matched at; else the planned statement.
            let mut probed = None;
            let mut rows_read = Some(query::probe_rows(q));
            while let Some(n) = rows_read.take() {
                let Some(p) =
                    query::probe_select(conn.dialect(), catalog_db_id, fields, q, &qualified, n)
                else {
                    break;
                };
                let got = conn.query(&p.sql, &p.params)?;
                let matched = got.len() as i64;
                if matched >= q.limit {
                    probed = Some(got);
                } else if matched > 0 && q.offset == 0 {
                    rows_read = query::next_probe_rows(q, n, matched);
                }
            }
            match probed {
                Some(rows) => rows,
                None => {
                    let st = query::select(conn.dialect(), catalog_db_id, fields, q, &qualified);
                    conn.query(&st.sql, &st.params)?
                }
            }
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut values = HashMap::with_capacity(fields.len());
        for (i, f) in col_fields.iter().enumerate() {
            values.insert(f.db_id, decode_column(f, r, 4 + i)?);
        }
        out.push(RecordData {
            db_id: r.int(0)?,
            id: r.opt_text(1)?,
            created_at: r.text(2)?,
            updated_at: r.text(3)?,
            values,
        });
    }
    attach_side_tables(conn, catalog_db_id, fields, &mut out)?;
    Ok(out)
}

fn attach_side_tables(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    fields: &[FieldDef],
    records: &mut [RecordData],
) -> Result<(), StoreError> {
    let has_links = fields
        .iter()
        .any(|f| f.field_type.storage() == Storage::Links);
    let has_contacts = fields
        .iter()
        .any(|f| f.field_type.storage() == Storage::Contacts);
    if records.is_empty() || (!has_links && !has_contacts) {
        return Ok(());
    }
    let index: HashMap<i64, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.db_id, i))
        .collect();
    let ids: Vec<DbValue> = records.iter().map(|r| DbValue::Int(r.db_id)).collect();
    for f in fields {
        match f.field_type.storage() {
            Storage::Links => {
                for r in records.iter_mut() {
                    r.values.insert(f.db_id, FieldValue::Links(vec![]));
                }
            }
            Storage::Contacts => {
                for r in records.iter_mut() {
                    r.values.insert(f.db_id, FieldValue::Contacts(vec![]));
                }
            }
            _ => {}
        }
    }
    if has_links {
        let rows = conn.query(
            &format!(
                "SELECT \"recordDbId\", \"fieldDbId\", \"linkCatalogDbId\", \"linkRecordDbId\" FROM {} WHERE \"recordDbId\" IN ({}) ORDER BY \"recordDbId\", \"fieldDbId\", position",
                links_table(catalog_db_id),
                marks(ids.len())
            ),
            &ids,
        )?;
        for r in rows {
            let Some(&i) = index.get(&r.int(0)?) else {
                continue;
            };
            if let Some(FieldValue::Links(v)) = records[i].values.get_mut(&r.int(1)?) {
                v.push(LinkRef {
                    catalog_id: r.int(2)?.to_string(),
                    record_id: r.int(3)?.to_string(),
                });
            }
        }
    }
    if has_contacts {
        let rows = conn.query(
            &format!(
                "SELECT \"recordDbId\", \"fieldDbId\", contact, comment FROM {} WHERE \"recordDbId\" IN ({}) ORDER BY \"recordDbId\", \"fieldDbId\", position",
                contacts_table(catalog_db_id),
                marks(ids.len())
            ),
            &ids,
        )?;
        for r in rows {
            let Some(&i) = index.get(&r.int(0)?) else {
                continue;
            };
            if let Some(FieldValue::Contacts(v)) = records[i].values.get_mut(&r.int(1)?) {
                v.push(Contact {
                    contact: r.text(2)?,
                    comment: r.text(3)?,
                });
            }
        }
    }
    Ok(())
}

/// A record's stored title and public id; kept after deletion.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleRow {
    pub id: String,
    pub title: String,
    pub deleted: bool,
}

/// Writes a record's title and public id.
pub fn upsert_title(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: i64,
    public_id: Option<&str>,
    title: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO titles (\"catalogDbId\", \"recordDbId\", id, title, deleted) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (\"catalogDbId\", \"recordDbId\") DO UPDATE SET id = excluded.id, title = excluded.title, deleted = excluded.deleted",
        &[catalog_db_id.into(), db_id.into(), public_id.into(), title.into(), false.into()],
    )?;
    Ok(())
}

/// Marks a record's title as deleted.
pub fn mark_title_deleted(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    db_id: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE titles SET deleted = ? WHERE \"catalogDbId\" = ? AND \"recordDbId\" = ?",
        &[true.into(), catalog_db_id.into(), db_id.into()],
    )?;
    Ok(())
}

/// Looks up titles of records, in one query whatever the number of catalogs.
pub fn titles(
    conn: &mut dyn Conn,
    refs: &[(i64, i64)],
) -> Result<HashMap<(i64, i64), TitleRow>, StoreError> {
    let mut by_catalog: Vec<(i64, Vec<i64>)> = Vec::new();
    for (c, r) in refs {
        match by_catalog.iter_mut().find(|(x, _)| x == c) {
            Some((_, v)) if v.contains(r) => {}
            Some((_, v)) => v.push(*r),
            None => by_catalog.push((*c, vec![*r])),
        }
    }
    if by_catalog.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = String::from(
        "SELECT \"catalogDbId\", \"recordDbId\", id, title, deleted FROM titles WHERE ",
    );
    let mut params = Vec::with_capacity(refs.len() + by_catalog.len());
    for (i, (c, ids)) in by_catalog.iter().enumerate() {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push_str(&format!(
            "(\"catalogDbId\" = ? AND \"recordDbId\" IN ({}))",
            marks(ids.len())
        ));
        params.push(DbValue::Int(*c));
        params.extend(ids.iter().map(|i| DbValue::Int(*i)));
    }
    let mut out = HashMap::with_capacity(refs.len());
    for r in conn.query(&sql, &params)? {
        let (c, rec) = (r.int(0)?, r.int(1)?);
        out.insert(
            (c, rec),
            TitleRow {
                id: r.opt_text(2)?.unwrap_or_else(|| rec.to_string()),
                title: r.text(3)?,
                deleted: r.bool(4)?,
            },
        );
    }
    Ok(out)
}

/// Appends a history entry.
pub fn insert_history(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    record_db_id: i64,
    user_db_id: Option<i64>,
    action: &str,
    payload: &Value,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO history (\"catalogDbId\", \"recordDbId\", \"userDbId\", \"actionType\", date, payload) VALUES (?, ?, ?, ?, ?, ?)",
        &[
            catalog_db_id.into(),
            record_db_id.into(),
            user_db_id.into(),
            action.into(),
            now_param(),
            payload.to_string().into(),
        ],
    )?;
    Ok(())
}

/// One history entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRow {
    pub db_id: i64,
    pub record_db_id: i64,
    pub user_db_id: Option<i64>,
    pub action: String,
    pub date: String,
    pub payload: Value,
}

/// What history to read.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub record_db_id: Option<i64>,
    pub user_db_id: Option<i64>,
    /// Only entries that changed one of these fields (public ids).
    pub field_ids: Vec<String>,
    /// Only these action types.
    pub actions: Vec<String>,
    pub ascending: bool,
    pub limit: i64,
    pub offset: i64,
    /// Only entries of records that meet this condition over the catalog's data table
    /// (alias `d`, as [`crate::query::where_sql`] writes it): the reader's rights.
    pub only: Option<crate::query::Statement>,
}

/// Reads a catalog's history, newest first unless `ascending`.
pub fn history(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    q: &HistoryQuery,
) -> Result<Vec<HistoryRow>, StoreError> {
    let mut sql = String::from(
        "SELECT \"dbId\", \"recordDbId\", \"userDbId\", \"actionType\", date, payload FROM history WHERE \"catalogDbId\" = ?",
    );
    let mut params = vec![DbValue::Int(catalog_db_id)];
    if let Some(r) = q.record_db_id {
        sql.push_str(" AND \"recordDbId\" = ?");
        params.push(r.into());
    }
    if let Some(u) = q.user_db_id {
        sql.push_str(" AND \"userDbId\" = ?");
        params.push(u.into());
    }
    if let Some(st) = &q.only {
        sql.push_str(&format!(
            " AND \"recordDbId\" IN (SELECT d.\"dbId\" FROM {} d WHERE {})",
            data_table(catalog_db_id),
            st.sql
        ));
        params.extend(st.params.iter().cloned());
    }
    if !q.actions.is_empty() {
        sql.push_str(&format!(
            " AND \"actionType\" IN ({})",
            marks(q.actions.len())
        ));
        params.extend(q.actions.iter().map(|a| DbValue::Text(a.clone())));
    }
    if !q.field_ids.is_empty() {
        // The payload is a JSON object keyed by field id; a key match is a field match.
        let conds: Vec<&str> = q
            .field_ids
            .iter()
            .map(|_| "payload LIKE ? ESCAPE '\\'")
            .collect();
        sql.push_str(&format!(" AND ({})", conds.join(" OR ")));
        for f in &q.field_ids {
            let escaped = f
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            params.push(DbValue::Text(format!("%\"{escaped}\":%")));
        }
    }
    sql.push_str(if q.ascending {
        " ORDER BY \"dbId\" ASC LIMIT ? OFFSET ?"
    } else {
        " ORDER BY \"dbId\" DESC LIMIT ? OFFSET ?"
    });
    params.push(q.limit.into());
    params.push(q.offset.into());
    conn.query(&sql, &params)?
        .iter()
        .map(|r| {
            Ok(HistoryRow {
                db_id: r.int(0)?,
                record_db_id: r.int(1)?,
                user_db_id: r.opt_int(2)?,
                action: r.text(3)?,
                date: r.text(4)?,
                payload: serde_json::from_str(&r.text(5)?)
                    .unwrap_or(Value::Object(Default::default())),
            })
        })
        .collect()
}

/// The `dbId` of a record that exists or existed (its title outlives it), by public id.
pub fn find_record_ever(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    public_id: &str,
) -> Result<Option<i64>, StoreError> {
    let row = match kartoteka_model::ids::as_db_id(public_id) {
        Some(n) => conn.query_opt(
            "SELECT \"recordDbId\" FROM titles WHERE \"catalogDbId\" = ? AND \"recordDbId\" = ?",
            &[catalog_db_id.into(), n.into()],
        )?,
        None => conn.query_opt(
            "SELECT \"recordDbId\" FROM titles WHERE \"catalogDbId\" = ? AND id = ?",
            &[catalog_db_id.into(), public_id.into()],
        )?,
    };
    row.map(|r| r.int(0)).transpose()
}
