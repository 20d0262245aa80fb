//! Handlers of Values and Totals (spec 04 §2.2–2.3): `/catalogs/{id}/values[/{axisId}]` and
//! `/catalogs/{id}/totals`. Parameters come in bracket notation (`axis[type]=field`,
//! `recordsFilter[filters][0][fieldId]=12`) or as JSON text (`axis={"type":"field",…}`,
//! `recordsFilter={"filters":{…}}`).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::{Extension, Json};
use kartoteka_core::aggregate::{AggregateInput, Dimension, Totals, ValueGroup};
use kartoteka_core::query::filter_error;
use kartoteka_core::{Actor, App};
use kartoteka_filter::qs;
use kartoteka_model::ids::id_from_json;
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::Params;

type St = State<Arc<App>>;
type Who = Extension<Actor>;

fn bad(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, message)
}

/// The structure a parameter carries: bracket notation, or JSON text for an object.
fn structure(p: &Params, key: &str) -> ApiResult<Option<Value>> {
    let tree = qs::tree(&p.0, key).map_err(|e| ApiError(filter_error(e)))?;
    Ok(match tree {
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() || t == "null" {
                None
            } else if t.starts_with('{') {
                Some(
                    serde_json::from_str::<Value>(t)
                        .map_err(|e| bad(format!("{key}: malformed JSON: {e}")))?,
                )
            } else {
                Some(Value::String(t.to_string()))
            }
        }
        other => other,
    })
}

/// A text leaf of a parameter object (`axis[value]`); ids may be JSON numbers.
fn text(m: &Map<String, Value>, key: &str, name: &str) -> ApiResult<Option<String>> {
    match m.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v @ (Value::String(_) | Value::Number(_))) => Ok(id_from_json(v)),
        Some(other) => Err(bad(format!("{key}[{name}] must be a string, not {other}"))),
    }
}

/// `value`, `axis` or `split`: `{type, value, subType}`; a bare word is the type.
fn dimension(p: &Params, key: &str) -> ApiResult<Option<Dimension>> {
    match structure(p, key)? {
        None => Ok(None),
        Some(Value::String(kind)) => Ok(Some(Dimension {
            kind: Some(kind),
            ..Dimension::default()
        })),
        Some(Value::Object(m)) => Ok(Some(Dimension {
            kind: text(&m, key, "type")?,
            value: text(&m, key, "value")?,
            sub_type: text(&m, key, "subType")?,
        })),
        Some(other) => Err(bad(format!(
            "{key} is an object {{type, value, subType}}, not {other}"
        ))),
    }
}

/// Reads the parameters of Values and Totals.
fn input(p: &Params) -> ApiResult<AggregateInput> {
    let mut filters = Vec::new();
    let mut view_ids = Vec::new();
    let mut search = p.get("searchText").map(str::to_string);
    match structure(p, "recordsFilter")? {
        None => {}
        Some(Value::Object(m)) => {
            // Leaves are strings when it came in bracket notation, typed when it was JSON.
            let lenient = p.get("recordsFilter").is_none();
            let root = if lenient {
                "recordsFilter[filters]"
            } else {
                "recordsFilter.filters"
            };
            if let Some(f) = m.get("filters").filter(|f| !f.is_null()) {
                filters.push(kartoteka_filter::Input {
                    root: root.into(),
                    value: f.clone(),
                    lenient,
                });
            }
            match m.get("viewId") {
                None | Some(Value::Null) => {}
                Some(v) => match id_from_json(v) {
                    Some(id) => view_ids.push(id),
                    None if v == "" => {}
                    None => return Err(bad(format!("recordsFilter.viewId: {v} is not an id"))),
                },
            }
            match m.get("searchText") {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => search = Some(s.clone()),
                Some(other) => {
                    return Err(bad(format!(
                        "recordsFilter.searchText must be a string, not {other}"
                    )))
                }
            }
        }
        Some(other) => {
            return Err(bad(format!(
                "recordsFilter is an object {{filters, viewId, searchText}}, not {other}"
            )))
        }
    }
    if let Some(f) = kartoteka_filter::Input::from_query(&p.0, "filters")
        .map_err(|e| ApiError(filter_error(e)))?
    {
        filters.push(f);
    }
    if let Some(v) = p.get("viewId").filter(|v| !v.is_empty()) {
        view_ids.push(v.to_string());
    }
    Ok(AggregateInput {
        value: dimension(p, "value")?.unwrap_or_default(),
        value_fn: p.get("valueFn").map(str::to_string),
        axis: dimension(p, "axis")?.unwrap_or_default(),
        split: dimension(p, "split")?,
        split_limit: p.int("splitLimit")?,
        sort: p.get("sort").map(str::to_string),
        sort_type: p.get("sortType").map(str::to_string),
        records_type: p.get("recordsType").map(str::to_string),
        filters,
        view_ids,
        search,
        limit: p.int("limit")?,
        offset: p.int("offset")?,
        tz_offset_min: p.tz_offset()?,
    })
}

/// `{"axis", "values": [{"split"?, "value"}]}`.
fn group(g: ValueGroup) -> Value {
    let values: Vec<Value> = g
        .values
        .into_iter()
        .map(|v| match v.split {
            Some(s) => json!({"split": s, "value": v.value}),
            None => json!({"value": v.value}),
        })
        .collect();
    json!({"axis": g.axis, "values": values})
}

/// `[{"key": "sum", …}, {"key": "avg", …}, {"key": "count", …}]`.
fn totals_json(t: Totals) -> Value {
    json!([
        {"key": "sum", "value": t.sum},
        {"key": "avg", "value": t.avg},
        {"key": "count", "value": t.count},
    ])
}

pub async fn values(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let groups = app.aggregate_values(&who, &cat, &input(&p)?).await?;
    Ok(Json(Value::Array(groups.into_iter().map(group).collect())))
}

pub async fn value(
    State(app): St,
    Extension(who): Who,
    Path((cat, axis)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let g = app.aggregate_value(&who, &cat, &axis, &input(&p)?).await?;
    Ok(Json(group(g)))
}

pub async fn totals(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let t = app.aggregate_totals(&who, &cat, &input(&p)?).await?;
    Ok(Json(totals_json(t)))
}
