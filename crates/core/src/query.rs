//! The list side of the Records API (spec 01 §5, §6.1–6.2): the filter language resolved
//! against the schema snapshot, the sort field, and `recordValues` of linked records (nested
//! `fields` projection and `withFieldsAdditional`).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kartoteka_filter::{FilterError, FilterErrorKind, Linked, Scope};
use kartoteka_model::field::source_catalogs;
use kartoteka_model::value::FieldValue;
use kartoteka_model::{ErrorCode, FieldDef, FieldType};
use kartoteka_store::query::{sortable, Sort};
use kartoteka_store::records::RecordData;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::schema::{Catalog, Schema};

/// The fields of a catalog, and of the catalogs its object fields link to, as a filter sees
/// them.
pub(crate) struct CatalogScope<'a> {
    pub schema: &'a Schema,
    pub catalog: &'a Catalog,
    /// Field ids as 2.0 takes them outside the Catalogs/Records family: text only (spec 02
    /// §1.6: Views, Widgets); else also the legacy `prevId`.
    pub text_only: bool,
}

impl Scope for CatalogScope<'_> {
    fn field(&self, id: &str) -> Option<&FieldDef> {
        if self.text_only {
            self.catalog.field_by_id(id)
        } else {
            self.catalog.field(id)
        }
    }

    fn linked(&self, field: &FieldDef, catalog_id: &str) -> Option<Linked<'_>> {
        let target = self.schema.find_catalog(catalog_id)?;
        let is_source = source_catalogs(&field.config)
            .iter()
            .any(|s| self.schema.find_catalog(s).map(|c| c.db_id) == Some(target.db_id));
        is_source.then(|| Linked {
            catalog_db_id: target.db_id,
            scope: Box::new(CatalogScope {
                schema: self.schema,
                catalog: target,
                text_only: self.text_only,
            }),
        })
    }
}

/// A filter error as the API answers it: 400 with the path in the message, `unknown_field`
/// for a field the catalog does not have, `invalid_query` otherwise.
pub fn filter_error(e: FilterError) -> Error {
    let code = match e.kind {
        FilterErrorKind::UnknownField => ErrorCode::UnknownField,
        FilterErrorKind::Malformed
        | FilterErrorKind::InvalidValue
        | FilterErrorKind::NotFilterable
        | FilterErrorKind::TooComplex => ErrorCode::InvalidQuery,
    };
    let message = e.to_string();
    match e.field_id {
        Some(f) => Error::field(code, &f, message),
        None => Error::new(code, message),
    }
}

/// The sort of a list: `sortField` resolved (id or `prevId`), `sortType` applied.
pub(crate) fn sort_of(
    catalog: &Catalog,
    field: Option<&str>,
    descending: bool,
) -> Result<Option<Sort>> {
    let Some(id) = field.filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let f = catalog.field(id).ok_or_else(|| {
        Error::field(
            ErrorCode::UnknownField,
            id,
            format!("sortField: unknown field {id:?}"),
        )
    })?;
    if !sortable(f) {
        return Err(Error::field(
            ErrorCode::InvalidQuery,
            &f.id,
            format!(
                "sortField: the field {:?} is a {} and holds no value to sort by",
                f.id,
                f.field_type.code()
            ),
        ));
    }
    Ok(Some(Sort {
        field_db_id: f.db_id,
        descending,
    }))
}

/// Fields of linked records asked for one object field: `{fieldId, fields: {catalogId:
/// [fieldIds]}}` of the `fields` projection (spec 01 §6.2).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NestedFields {
    pub field_id: String,
    /// `(linked catalog id, its field ids)`
    pub catalogs: Vec<(String, Vec<String>)>,
}

/// What to add to the link items of one object field: per linked catalog `dbId`, that
/// catalog and the fields to render.
#[derive(Debug, Clone)]
pub(crate) struct NestedPlan {
    pub field_db_id: i64,
    pub catalogs: HashMap<i64, (Arc<Catalog>, Vec<FieldDef>)>,
}

fn nested_error(message: String, field: &str) -> Error {
    Error::field(ErrorCode::UnknownField, field, message)
}

/// Resolves the nested projection and `withFieldsAdditional` against the schema. Explicit
/// nested fields win over the extended fields of the same object field.
pub(crate) fn nested_plans(
    schema: &Schema,
    catalog: &Catalog,
    nested: &[NestedFields],
    with_additional: bool,
    projection: Option<&HashSet<i64>>,
) -> Result<Vec<NestedPlan>> {
    let mut plans: Vec<NestedPlan> = Vec::new();
    for n in nested {
        let f = catalog.field(&n.field_id).ok_or_else(|| {
            nested_error(
                format!("unknown field {:?} in fields", n.field_id),
                &n.field_id,
            )
        })?;
        if f.field_type != FieldType::Object {
            return Err(Error::field(
                ErrorCode::InvalidQuery,
                &f.id,
                format!(
                    "fields: {:?} is not a linked-catalog field, it has no nested fields",
                    f.id
                ),
            ));
        }
        let scope = CatalogScope {
            schema,
            catalog,
            text_only: false,
        };
        let mut catalogs = HashMap::new();
        for (cat_id, ids) in &n.catalogs {
            let linked = scope.linked(f, cat_id).ok_or_else(|| {
                Error::field(
                    ErrorCode::InvalidQuery,
                    &f.id,
                    format!(
                        "fields: catalog {cat_id:?} is not a source of the field {:?}",
                        f.id
                    ),
                )
            })?;
            let Some(target) = schema.catalog_by_db_id(linked.catalog_db_id) else {
                continue;
            };
            let mut wanted = Vec::with_capacity(ids.len());
            for id in ids {
                let lf = target.field(id).ok_or_else(|| {
                    nested_error(
                        format!("fields: catalog {cat_id:?} has no field {id:?}"),
                        id,
                    )
                })?;
                if !wanted.iter().any(|w: &FieldDef| w.db_id == lf.db_id) {
                    wanted.push(lf.clone());
                }
            }
            catalogs.insert(target.db_id, (target.clone(), wanted));
        }
        plans.retain(|p| p.field_db_id != f.db_id);
        plans.push(NestedPlan {
            field_db_id: f.db_id,
            catalogs,
        });
    }
    if with_additional {
        let explicit: HashSet<i64> = plans.iter().map(|p| p.field_db_id).collect();
        for f in catalog.fields.iter().filter(|f| {
            f.field_type == FieldType::Object
                && projection.is_none_or(|p| p.contains(&f.db_id))
                && !explicit.contains(&f.db_id)
        }) {
            let Some(Value::Object(extended)) = f.config.get("fields") else {
                continue;
            };
            let mut catalogs = HashMap::new();
            for (cat_id, list) in extended {
                let Some(target) = schema.find_catalog(cat_id) else {
                    continue;
                };
                // Extended fields are stored as ids; full definitions carry an `id`.
                let wanted: Vec<FieldDef> = list
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| match v {
                                Value::Object(o) => o.get("id").and_then(Value::as_str),
                                v => v.as_str(),
                            })
                            .filter_map(|id| target.field(id).cloned())
                            .collect()
                    })
                    .unwrap_or_default();
                catalogs.insert(target.db_id, (target.clone(), wanted));
            }
            plans.push(NestedPlan {
                field_db_id: f.db_id,
                catalogs,
            });
        }
    }
    Ok(plans)
}

/// The linked records each plan needs, per linked catalog `dbId`.
pub(crate) fn nested_targets(plans: &[NestedPlan], data: &[RecordData]) -> HashMap<i64, Vec<i64>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    for p in plans {
        for d in data {
            let Some(FieldValue::Links(links)) = d.values.get(&p.field_db_id) else {
                continue;
            };
            for l in links {
                let (Ok(c), Ok(r)) = (l.catalog_id.parse::<i64>(), l.record_id.parse::<i64>())
                else {
                    continue;
                };
                if p.catalogs.contains_key(&c) {
                    let list = out.entry(c).or_default();
                    if !list.contains(&r) {
                        list.push(r);
                    }
                }
            }
        }
    }
    out
}

/// The fields to read of each linked catalog: the union over the plans.
pub(crate) fn nested_fields(plans: &[NestedPlan]) -> HashMap<i64, (Arc<Catalog>, Vec<FieldDef>)> {
    let mut out: HashMap<i64, (Arc<Catalog>, Vec<FieldDef>)> = HashMap::new();
    for p in plans {
        for (c, (cat, fields)) in &p.catalogs {
            let entry = out.entry(*c).or_insert_with(|| (cat.clone(), Vec::new()));
            for f in fields {
                if !entry.1.iter().any(|x| x.db_id == f.db_id) {
                    entry.1.push(f.clone());
                }
            }
        }
    }
    out
}
