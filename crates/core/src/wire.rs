//! Wire JSON for sections, catalogs, fields and records (spec 01 §2, spec 02 §1.5): the one
//! place where JSON field names are chosen. The REST API answers with it, and scenarios see
//! records and catalogs in the same shape (spec 03 §3.3, §7.3), so it lives in the core.

use crate::records::RecordView;
use crate::{Catalog, Schema, Section};
use kartoteka_model::field::FieldType;
use kartoteka_model::privilege::Privilege;
use kartoteka_model::FieldDef;
use serde_json::{json, Map, Value};

/// The privileges the caller may assign: all of them for `admin`, none otherwise.
fn privileges(p: Privilege) -> Value {
    if p == Privilege::Admin {
        Value::Array(
            Privilege::ASSIGNABLE
                .iter()
                .map(|p| Value::String(p.code().into()))
                .collect(),
        )
    } else {
        Value::Array(vec![])
    }
}

pub fn section(s: &Section, p: Privilege) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "icon": s.icon,
        "priority": s.priority,
        "privilegeCode": p.code(),
        "privileges": privileges(p),
    })
}

/// The value a new record gets when the field is not sent, shown in the field's config.
fn default_empty_value(f: &FieldDef) -> Value {
    let on = f.config.get("defaultValue") == Some(&Value::Bool(true));
    match f.field_type {
        FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
            if on {
                Value::Array(
                    kartoteka_model::field::items::first_item(&f.config)
                        .into_iter()
                        .map(Value::String)
                        .collect(),
                )
            } else {
                json!([])
            }
        }
        FieldType::User | FieldType::Object | FieldType::File | FieldType::Contact => json!([]),
        FieldType::Text => json!(""),
        FieldType::Switch => Value::Bool(on),
        _ => Value::Null,
    }
}

/// A field's config as read. For object fields the source catalogs are described, and the
/// extended fields are listed as full definitions keyed by the catalog's id (spec 02 §1.5.6);
/// `expand` is false inside those definitions, so catalogs that extend each other terminate.
fn field_config(schema: &Schema, f: &FieldDef, expand: bool) -> Value {
    let mut cfg = f.config.clone();
    if f.field_type.has_value() {
        cfg.insert("defaultEmptyValue".into(), default_empty_value(f));
    }
    if f.field_type == FieldType::Object {
        let cats: Vec<Value> = kartoteka_model::field::source_catalogs(&f.config)
            .iter()
            .map(|id| match schema.find_catalog(id) {
                Some(c) => json!({
                    "id": c.id,
                    "dbId": c.db_id,
                    "title": c.name,
                    "icon": c.icon,
                    "removed": !schema.catalog_alive(c),
                }),
                None => json!({"id": id, "title": "", "icon": "", "removed": true}),
            })
            .collect();
        cfg.insert("catalogs".into(), Value::Array(cats));
        if let Some(Value::Object(ext)) = f.config.get("fields").filter(|_| expand) {
            let mut out = Map::new();
            for (cat_id, ids) in ext {
                let Some(c) = schema.find_catalog(cat_id) else {
                    continue;
                };
                let defs: Vec<Value> = ids
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter_map(|id| c.fields.iter().position(|x| x.id == id))
                    .map(|pos| extended_field_json(schema, c, &c.fields[pos], pos))
                    .collect();
                out.insert(c.id.clone(), Value::Array(defs));
            }
            cfg.insert("fields".into(), Value::Object(out));
        }
    }
    Value::Object(cfg)
}

/// An extended field inside another catalog's object-field config: the canonical definition
/// with its `dbId`, `columnName` and owning `_catalogId`.
fn extended_field_json(schema: &Schema, catalog: &Catalog, f: &FieldDef, position: usize) -> Value {
    let mut v = field_json_at(schema, catalog, f, position, false, false);
    if let Some(o) = v.as_object_mut() {
        o.insert("dbId".into(), Value::from(f.db_id));
        o.insert("columnName".into(), Value::String(f.column.clone()));
        o.insert("_catalogId".into(), Value::String(catalog.id.clone()));
    }
    v
}

fn field_json(
    schema: &Schema,
    catalog: &Catalog,
    f: &FieldDef,
    position: usize,
    legacy_copy: bool,
) -> Value {
    field_json_at(schema, catalog, f, position, legacy_copy, true)
}

fn field_json_at(
    schema: &Schema,
    catalog: &Catalog,
    f: &FieldDef,
    position: usize,
    legacy_copy: bool,
    expand: bool,
) -> Value {
    let mut o = Map::new();
    o.insert(
        "id".into(),
        Value::String(if legacy_copy {
            f.prev_id.clone()
        } else {
            f.id.clone()
        }),
    );
    o.insert("prevId".into(), Value::String(f.prev_id.clone()));
    if legacy_copy {
        o.insert("isDuplicated".into(), Value::Bool(true));
    }
    o.insert("duplicateResultWithPrevId".into(), Value::Bool(f.duplicate));
    o.insert("name".into(), Value::String(f.name.clone()));
    o.insert("type".into(), Value::String(f.field_type.code().into()));
    o.insert("hint".into(), Value::String(f.hint.clone()));
    o.insert("required".into(), Value::Bool(f.required));
    o.insert("apiOnly".into(), Value::Bool(f.api_only));
    o.insert("filterable".into(), Value::Bool(f.filterable));
    o.insert("history".into(), Value::Bool(f.history));
    o.insert("hidden".into(), Value::Bool(f.hidden));
    o.insert("comment".into(), Value::String(f.comment.clone()));
    o.insert("isSystem".into(), Value::Bool(f.is_system));
    if f.is_system {
        o.insert("columnName".into(), Value::String(f.column.clone()));
        o.insert("dbId".into(), Value::from(f.db_id));
        o.insert("_catalogId".into(), Value::String(catalog.id.clone()));
    }
    o.insert("position".into(), Value::from(position as i64 + 1));
    o.insert("config".into(), field_config(schema, f, expand));
    o.insert("visible".into(), f.visible.clone());
    Value::Object(o)
}

/// A catalog with its fields. System fields whose values are duplicated under a legacy id
/// are listed twice, the legacy copy first (spec 02 §1.5.5), unless `skip_prev_id`.
pub fn catalog(
    schema: &Schema,
    c: &Catalog,
    p: Privilege,
    only_fields: Option<&[String]>,
    skip_prev_id: bool,
    new_chats: i64,
) -> Value {
    let mut fields = Vec::new();
    for (i, f) in c.fields.iter().enumerate() {
        if let Some(only) = only_fields {
            if !only.iter().any(|x| *x == f.id || *x == f.prev_id) {
                continue;
            }
        }
        if f.duplicate && f.prev_id != f.id && !skip_prev_id {
            fields.push(field_json(schema, c, f, i, true));
        }
        fields.push(field_json(schema, c, f, i, false));
    }
    json!({
        "id": c.id,
        "sectionId": schema.section_id_of(c),
        "name": c.name,
        "icon": c.icon,
        "history": c.history,
        "isSystem": c.is_system,
        "privilegeCode": p.code(),
        "fieldPrivilegeCodes": {},
        "chat": {"newChats": new_chats},
        "fields": fields,
    })
}

/// A record in the read format (spec 01 §2.4) as a JSON value, for answers that hold it
/// inside other JSON. The shape is `RecordView`'s `Serialize`, which the HTTP answers of
/// record reads and writes use directly.
pub fn record(r: RecordView) -> Value {
    // Strings, numbers and maps always convert.
    serde_json::to_value(&r).unwrap_or(Value::Null)
}

/// The answer of a Changes call: `{messages: [{title?, text}], values}`.
pub fn changes(out: crate::records::ChangesOutput) -> Value {
    let messages: Vec<Value> = out
        .messages
        .into_iter()
        .map(|m| {
            let mut o = Map::new();
            if let Some(t) = m.title {
                o.insert("title".into(), Value::String(t));
            }
            o.insert("text".into(), Value::String(m.text));
            Value::Object(o)
        })
        .collect();
    json!({"messages": messages, "values": out.values})
}

fn iso(ms: i64) -> Value {
    Value::String(kartoteka_model::time::format_ms(ms))
}

/// A webhook delivery with its tries (the delivery log).
pub fn delivery(v: crate::webhooks::log::DeliveryView) -> Value {
    let d = v.delivery;
    let attempts: Vec<Value> = v
        .attempts
        .into_iter()
        .map(|a| {
            json!({
                "at": iso(a.at),
                "status": a.status,
                "latencyMs": a.latency_ms,
                "error": a.error,
                "response": a.response,
            })
        })
        .collect();
    json!({
        "id": d.id.to_string(),
        "hookId": d.hook_id.to_string(),
        "sequenceId": d.seq,
        "kind": d.kind,
        "event": d.event,
        "state": d.state,
        "attempts": d.attempts,
        "createdAt": iso(d.created_at),
        "nextAttemptAt": (d.state == "pending").then(|| iso(d.next_at)),
        "doneAt": d.done_at.map(iso),
        "lastStatus": d.last_status,
        "lastError": d.last_error,
        "resendOf": d.resend_of.map(|i| i.to_string()),
        "tries": attempts,
        "body": v.body,
    })
}

/// A history entry (spec 01 §11).
pub fn history(h: crate::history::HistoryEntry) -> Value {
    json!({
        "id": h.id,
        "catalogId": h.catalog_id,
        "recordId": h.record_id,
        "recordTitle": h.record_title,
        "actionType": h.action,
        "payload": h.payload,
        "date": h.date,
        "user": h.user.map(|(id, title)| json!({"id": id, "title": title})),
    })
}

/// A record offered by a search helper (spec 01 §14).
pub fn found(f: crate::search::FoundRecord) -> Value {
    let mut o = Map::with_capacity(7);
    o.insert("sectionId".into(), Value::String(f.section_id));
    o.insert("catalogId".into(), Value::String(f.catalog_id));
    o.insert("catalogTitle".into(), Value::String(f.catalog_title));
    o.insert("catalogIcon".into(), Value::String(f.catalog_icon));
    o.insert("recordId".into(), Value::String(f.record_id));
    o.insert("recordTitle".into(), Value::String(f.record_title));
    if let Some(v) = f.record_values {
        o.insert("recordValues".into(), Value::Object(v));
    }
    Value::Object(o)
}

/// A relations group (spec 01 §10): the source catalog, its field and the linking records.
pub fn relation(g: crate::search::RelationGroup) -> Value {
    json!({
        "id": g.catalog.id,
        "sectionId": g.section_id,
        "icon": g.catalog.icon,
        "title": g.catalog.name,
        "privilegeCode": g.privilege.code(),
        "fieldId": g.field_id,
        "fieldName": g.field_name,
        "records": g.records.into_iter().map(|(id, title, created)| json!({"id": id, "title": title, "created": created})).collect::<Vec<_>>(),
        "recordsTotal": g.total,
    })
}

/// A chat message (spec 01 §12).
pub fn message(m: crate::messages::Message) -> Value {
    json!({
        "id": m.id,
        "catalogId": "$messages",
        "text": m.text,
        "author": m.author,
        "attachments": m.attachments,
        "mention": m.mention,
        "reply": m.reply,
        "createdDate": m.created_date,
        "updatedDate": m.updated_date,
        "deleted": m.deleted,
        "deletedDate": m.deleted_date,
    })
}
