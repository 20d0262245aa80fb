//! Rendering stored values in the record read format (spec 01 §3), with the 2.0 key rules:
//! duplicated `prevId` keys, integer-like keys first (spec 02 §1.5.4).

use std::collections::HashMap;

use kartoteka_model::field::FieldType;
use kartoteka_model::time::format_ms;
use kartoteka_model::value::{number_json, FieldValue, FileRef};
use kartoteka_model::FieldDef;
use kartoteka_store::aux::{files_by_ids, FileRow, USERS_CATALOG};
use kartoteka_store::records::{titles, RecordData, TitleRow};
use kartoteka_store::{Conn, StoreError};
use serde_json::{json, Map, Value};

use crate::schema::{Catalog, Schema};

/// Titles and files needed to render a set of records, fetched in a few queries.
#[derive(Debug, Default)]
pub struct Lookups {
    titles: HashMap<(i64, i64), TitleRow>,
    files: HashMap<i64, FileRow>,
}

fn ref_id(s: &str) -> Option<i64> {
    s.parse().ok()
}

impl Lookups {
    /// Gathers every user, linked record and file referenced by `records`.
    pub fn gather(conn: &mut dyn Conn, records: &[&RecordData]) -> Result<Lookups, StoreError> {
        let mut refs = Vec::new();
        let mut file_ids = Vec::new();
        for r in records {
            for v in r.values.values() {
                match v {
                    FieldValue::Users(ids) => refs.extend(
                        ids.iter()
                            .filter_map(|i| ref_id(i))
                            .map(|i| (USERS_CATALOG, i)),
                    ),
                    FieldValue::Links(links) => refs.extend(
                        links
                            .iter()
                            .filter_map(|l| Some((ref_id(&l.catalog_id)?, ref_id(&l.record_id)?))),
                    ),
                    FieldValue::Files(fs) => file_ids.extend(fs.iter().filter_map(|f| match f {
                        FileRef::Id(i) => ref_id(i),
                        FileRef::External { .. } => None,
                    })),
                    _ => {}
                }
            }
        }
        Ok(Lookups {
            titles: if refs.is_empty() {
                HashMap::new()
            } else {
                titles(conn, &refs)?
            },
            files: files_by_ids(conn, &file_ids)?,
        })
    }
}

/// Renders one value in the read format. `None` for fields without a value.
pub fn render_value(schema: &Schema, look: &Lookups, v: &FieldValue) -> Value {
    match v {
        FieldValue::Text(s) => Value::String(s.clone()),
        FieldValue::Number(n) => n.map(number_json).unwrap_or(Value::Null),
        FieldValue::Int(n) => n.map(Value::from).unwrap_or(Value::Null),
        FieldValue::Date(d) => d.map(|ms| Value::String(format_ms(ms))).unwrap_or(Value::Null),
        FieldValue::Items(ids) => Value::Array(ids.iter().map(|s| Value::String(s.clone())).collect()),
        FieldValue::Bool(b) => Value::Bool(*b),
        FieldValue::Users(ids) => Value::Array(
            ids.iter()
                .map(|i| {
                    let t = ref_id(i).and_then(|n| look.titles.get(&(USERS_CATALOG, n)));
                    json!({
                        "id": t.map(|t| t.id.clone()).unwrap_or_else(|| i.clone()),
                        "title": t.map(|t| t.title.clone()).unwrap_or_default(),
                        "isRemoved": t.is_none_or(|t| t.deleted),
                    })
                })
                .collect(),
        ),
        FieldValue::Links(links) => Value::Array(
            links
                .iter()
                .map(|l| {
                    let cat = ref_id(&l.catalog_id).and_then(|c| schema.catalog_by_db_id(c));
                    let t = ref_id(&l.catalog_id)
                        .zip(ref_id(&l.record_id))
                        .and_then(|k| look.titles.get(&k));
                    let alive = cat.is_some_and(|c| schema.catalog_alive(c));
                    json!({
                        "sectionId": cat.map(|c| schema.section_id_of(c)).unwrap_or_default(),
                        "catalogId": cat.map(|c| c.id.clone()).unwrap_or_else(|| l.catalog_id.clone()),
                        "catalogTitle": cat.map(|c| c.name.clone()).unwrap_or_default(),
                        "catalogIcon": cat.map(|c| c.icon.clone()).unwrap_or_default(),
                        "recordId": t.map(|t| t.id.clone()).unwrap_or_else(|| l.record_id.clone()),
                        "recordTitle": t.map(|t| t.title.clone()).unwrap_or_default(),
                        "isRemoved": !alive || t.is_none_or(|t| t.deleted),
                    })
                })
                .collect(),
        ),
        FieldValue::Files(files) => Value::Array(
            files
                .iter()
                .filter_map(|f| match f {
                    FileRef::Id(i) => look.files.get(&ref_id(i)?),
                    FileRef::External { .. } => None,
                })
                .map(|f| {
                    json!({
                        "id": f.db_id.to_string(),
                        "title": f.title,
                        "url": f.url.clone().unwrap_or_else(|| format!("{}/api/v1/files/{}", schema.file_base, f.db_id)),
                        "size": f.size,
                        "mimeType": f.mime_type.clone().unwrap_or_default(),
                        "metadata": crate::files::metadata_json(
                            &schema.file_base,
                            f.db_id,
                            f.metadata
                                .as_deref()
                                .and_then(crate::files::preview::ImageMeta::parse)
                                .as_ref(),
                        ),
                    })
                })
                .collect(),
        ),
        FieldValue::Contacts(cs) => Value::Array(
            cs.iter()
                .map(|c| json!({"contact": c.contact, "comment": c.comment}))
                .collect(),
        ),
        FieldValue::Address(a) => a.clone().map(Value::Object).unwrap_or(Value::Null),
    }
}

/// Renders a value in the compact reference form kept in history: users, links and files as
/// ids only (the history reader enriches them).
pub fn render_history_value(schema: &Schema, v: &FieldValue) -> Value {
    match v {
        FieldValue::Users(ids) => Value::Array(ids.iter().map(|i| json!({"id": i})).collect()),
        FieldValue::Links(links) => Value::Array(
            links
                .iter()
                .map(|l| {
                    let cat = ref_id(&l.catalog_id)
                        .and_then(|c| schema.catalog_by_db_id(c))
                        .map(|c| c.id.clone())
                        .unwrap_or_else(|| l.catalog_id.clone());
                    json!({"catalogId": cat, "recordId": l.record_id})
                })
                .collect(),
        ),
        FieldValue::Files(fs) => Value::Array(
            fs.iter()
                .filter_map(|f| match f {
                    FileRef::Id(i) => Some(json!({"id": i})),
                    FileRef::External { .. } => None,
                })
                .collect(),
        ),
        other => render_value(schema, &Lookups::default(), other),
    }
}

/// The record title: the title field's value, or `#<id>` (spec 01 §2.4).
pub fn title_of(catalog: &Catalog, values: &HashMap<i64, FieldValue>, public_id: &str) -> String {
    catalog
        .title_field()
        .and_then(|f| match values.get(&f.db_id) {
            Some(FieldValue::Text(s)) if !s.trim().is_empty() => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("#{public_id}"))
}

/// Puts rendered values under their wire keys: each field under its id, and also under its
/// `prevId` when it duplicates; integer-like keys first in numeric order, then the others in
/// field order (JavaScript's enumeration order, which every doc example shows).
pub fn keyed_values<'a>(
    fields: impl Iterator<Item = (&'a FieldDef, Value)>,
    skip_prev_id: bool,
) -> Map<String, Value> {
    let mut keyed: Vec<(String, Value)> = Vec::new();
    for (f, v) in fields {
        if f.duplicate && f.prev_id != f.id && !skip_prev_id {
            keyed.push((f.prev_id.clone(), v.clone()));
        }
        keyed.push((f.id.clone(), v));
    }
    let int_key = |k: &str| -> Option<u64> {
        if k.is_empty() || (k.len() > 1 && k.starts_with('0')) {
            return None;
        }
        k.parse::<u64>().ok()
    };
    let (mut ints, others): (Vec<_>, Vec<_>) =
        keyed.into_iter().partition(|(k, _)| int_key(k).is_some());
    ints.sort_by_key(|(k, _)| int_key(k));
    ints.into_iter().chain(others).collect()
}

/// True for fields rendered in `values` (layout fields have no key).
pub fn has_value(f: &FieldDef) -> bool {
    f.field_type.has_value() && f.field_type != FieldType::Group
}
