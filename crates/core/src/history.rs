//! The change history of records (spec 01 §11): one entry per create, update and delete,
//! written by the one write path; read here with its filters. Field ids in this resource are
//! text ids only (spec 02 §1.4): a legacy number of a system field is refused.

use std::collections::HashMap;

use kartoteka_model::privilege::Privilege;
use kartoteka_model::value::{FieldValue, FileRef, LinkRef};
use kartoteka_model::{ErrorCode, FieldType};
use kartoteka_store::aux::USERS_CATALOG;
use kartoteka_store::records::{self as rec, HistoryQuery, RecordData, TitleRow};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::render::{render_value, Lookups};
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

/// A history request.
#[derive(Debug, Clone, Default)]
pub struct HistoryRequest {
    pub catalog_id: String,
    pub record_id: Option<String>,
    pub user_id: Option<String>,
    pub field_ids: Vec<String>,
    pub actions: Vec<String>,
    pub ascending: bool,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// One history entry in the read format.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub id: String,
    pub catalog_id: String,
    pub record_id: String,
    pub record_title: String,
    pub action: String,
    /// `{fieldId: {oldValue, newValue}}` in the record read format.
    pub payload: Map<String, Value>,
    pub date: String,
    /// The employee (`id`, `title`), or `None` for the system and automations.
    pub user: Option<(String, String)>,
}

const ACTIONS: [&str; 3] = ["CREATE", "UPDATE", "DELETE"];

fn text_only_field(catalog: &Catalog, f: &str) -> Result<()> {
    if catalog.fields.iter().any(|x| x.id == f) {
        return Ok(());
    }
    let mut e = Error::field(ErrorCode::FieldNotFound, f, "field not found");
    // A field named in a query is bad input, not a missing resource (spec 02 §1.4).
    e.status = Some(400);
    Err(e)
}

/// Turns a stored history value back into a typed value, so it renders like a record value.
fn typed(schema: &Schema, t: FieldType, v: &Value) -> Option<FieldValue> {
    let list = v.as_array()?;
    let ids = |key: &str| -> Vec<String> {
        list.iter()
            .filter_map(|x| x.get(key))
            .filter_map(kartoteka_model::ids::id_from_json)
            .collect()
    };
    match t {
        FieldType::User => Some(FieldValue::Users(ids("id"))),
        FieldType::File => Some(FieldValue::Files(
            ids("id").into_iter().map(FileRef::Id).collect(),
        )),
        FieldType::Object => Some(FieldValue::Links(
            list.iter()
                .filter_map(|x| {
                    let cat = schema.find_catalog(x.get("catalogId")?.as_str()?)?;
                    Some(LinkRef {
                        catalog_id: cat.db_id.to_string(),
                        record_id: kartoteka_model::ids::id_from_json(x.get("recordId")?)?,
                    })
                })
                .collect(),
        )),
        _ => None,
    }
}

impl App {
    /// Reads history entries of a catalog, or of one record.
    pub async fn histories(&self, actor: &Actor, q: &HistoryRequest) -> Result<Vec<HistoryEntry>> {
        let schema = self.schema();
        let catalog = schema.catalog(&q.catalog_id)?.clone();
        // Any privilege on the catalog opens its history; entries of records the caller may
        // not see, and changes of fields hidden from them, are left out below.
        self.require_on_catalog(actor, &catalog, Privilege::Available)
            .await?;
        let access = self.access(actor).await?;
        for f in &q.field_ids {
            text_only_field(&catalog, f)?;
        }
        for a in &q.actions {
            if !ACTIONS.contains(&a.as_str()) {
                return Err(Error::new(
                    ErrorCode::InvalidQuery,
                    format!("unknown actionType {a:?}; use one of {ACTIONS:?}"),
                ));
            }
        }
        let limit = q.limit.unwrap_or(100);
        let offset = q.offset.unwrap_or(0);
        if limit < 0 || offset < 0 {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                "limit and from must not be negative",
            ));
        }
        let (cat_db, record, user) = (catalog.db_id, q.record_id.clone(), q.user_id.clone());
        // One record's history: the record must be open to the caller.
        if let Some(r) = &q.record_id {
            let (cat, r2) = (catalog.db_id, r.clone());
            let found = self
                .store
                .read(move |c| rec::find_record_ever(c, cat, &r2).map_err(Error::from))
                .await?;
            if let Some(db) = found {
                self.require_record(actor, &catalog, db, Privilege::View)
                    .await?;
            }
        }
        // Entries of the records the caller may see, chosen in SQL so that paging holds.
        let Some(only) = self.rights_condition(&access, &schema, &catalog) else {
            return Err(Error::new(
                ErrorCode::Forbidden,
                format!("no record of catalog {:?} is open to you", catalog.id),
            ));
        };
        let mut query = HistoryQuery {
            only,
            field_ids: q.field_ids.clone(),
            actions: q.actions.clone(),
            ascending: q.ascending,
            limit: limit.clamp(1, 1000),
            offset,
            ..Default::default()
        };
        let catalog2 = catalog.clone();
        let schema2 = schema.clone();
        let (rows, titles, look, typed_values) = self
            .store
            .read(move |c| -> Result<_> {
                if let Some(r) = &record {
                    query.record_db_id = Some(
                        rec::find_record_ever(c, cat_db, r)?
                            .ok_or_else(|| Error::record_not_found(r))?,
                    );
                }
                if let Some(u) = &user {
                    // An unknown employee simply has no history.
                    query.user_db_id =
                        Some(rec::find_record_ever(c, USERS_CATALOG, u)?.unwrap_or(-1));
                }
                let rows = rec::history(c, cat_db, &query)?;
                let mut refs: Vec<(i64, i64)> =
                    rows.iter().map(|r| (cat_db, r.record_db_id)).collect();
                refs.extend(
                    rows.iter()
                        .filter_map(|r| r.user_db_id)
                        .map(|u| (USERS_CATALOG, u)),
                );
                let titles: HashMap<(i64, i64), TitleRow> = rec::titles(c, &refs)?;
                // Values of users, links and files come back typed, so they render like values.
                let mut typed_values = HashMap::new();
                let mut i = 0i64;
                for r in &rows {
                    for (fid, change) in r.payload.as_object().into_iter().flatten() {
                        let Some(f) = catalog2.fields.iter().find(|f| f.id == *fid) else {
                            continue;
                        };
                        for side in ["oldValue", "newValue"] {
                            if let Some(t) = change
                                .get(side)
                                .and_then(|v| typed(&schema2, f.field_type, v))
                            {
                                typed_values.insert((r.db_id, fid.clone(), side), (i, t));
                                i += 1;
                            }
                        }
                    }
                }
                let synthetic = RecordData {
                    db_id: 0,
                    id: None,
                    created_at: String::new(),
                    updated_at: String::new(),
                    values: typed_values
                        .values()
                        .map(|(i, v)| (*i, v.clone()))
                        .collect(),
                };
                let look = Lookups::gather(c, &[&synthetic])?;
                Ok((rows, titles, look, typed_values))
            })
            .await?;
        let mut ids: Vec<i64> = rows.iter().map(|r| r.record_db_id).collect();
        ids.sort_unstable();
        ids.dedup();
        let rights = self.record_rights(&access, &catalog, &ids).await?;
        Ok(rows
            .into_iter()
            .filter(|r| {
                let Some((p, codes)) = rights.get(&r.record_db_id) else {
                    return false;
                };
                // An entry that only changed hidden fields is left out whole.
                let fields: Vec<&String> = r
                    .payload
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                    .collect();
                let all_hidden = !fields.is_empty()
                    && fields.iter().all(|fid| {
                        catalog
                            .field_by_id(fid)
                            .is_some_and(|f| codes.code(f.db_id) == crate::rights::FieldRight::Hide)
                    });
                p.includes(Privilege::View) && !all_hidden
            })
            .map(|r| {
                let t = titles.get(&(cat_db, r.record_db_id));
                let codes = rights.get(&r.record_db_id).map(|(_, c)| c);
                let mut payload = Map::new();
                for (fid, change) in r.payload.as_object().cloned().unwrap_or_default() {
                    let hidden = catalog.field_by_id(&fid).is_some_and(|f| {
                        codes.is_some_and(|c| c.code(f.db_id) == crate::rights::FieldRight::Hide)
                    });
                    if hidden {
                        continue;
                    }
                    let mut out = Map::new();
                    for side in ["oldValue", "newValue"] {
                        let v = match typed_values.get(&(r.db_id, fid.clone(), side)) {
                            Some((_, typed)) => render_value(&schema, &look, typed),
                            None => change.get(side).cloned().unwrap_or(Value::Null),
                        };
                        out.insert(side.to_string(), v);
                    }
                    payload.insert(fid, Value::Object(out));
                }
                HistoryEntry {
                    id: r.db_id.to_string(),
                    catalog_id: catalog.id.clone(),
                    record_id: t
                        .map(|t| t.id.clone())
                        .unwrap_or_else(|| r.record_db_id.to_string()),
                    record_title: t.map(|t| t.title.clone()).unwrap_or_default(),
                    action: r.action,
                    payload,
                    date: r.date,
                    user: r.user_db_id.map(|u| {
                        let ut = titles.get(&(USERS_CATALOG, u));
                        (
                            ut.map(|t| t.id.clone()).unwrap_or_else(|| u.to_string()),
                            ut.map(|t| t.title.clone()).unwrap_or_default(),
                        )
                    }),
                }
            })
            .collect())
    }
}
