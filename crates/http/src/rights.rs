//! Handlers of the Rights API (spec 04 §1.9): `GET /rights?sectionId|catalogId[&viewId|
//! &recordId][&withSearch=true]` and `POST /rights`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::{Extension, Json};
use kartoteka_core::rights_api::{ObjectOut, ObjectRef, RightsEntry, RuleIn, RuleOut};
use kartoteka_core::{Actor, App};
use kartoteka_model::ids::id_from_json;
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, Params};

type St = State<Arc<App>>;
type Who = Extension<Actor>;

fn invalid(at: &str, msg: impl Into<String>) -> ApiError {
    ApiError(kartoteka_core::Error::field(
        ErrorCode::InvalidValue,
        at,
        format!("{at}: {}", msg.into()),
    ))
}

/// An id given as a string or a number.
fn opt_id(m: &Map<String, Value>, key: &str, at: &str) -> ApiResult<Option<String>> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => id_from_json(v)
            .map(Some)
            .ok_or_else(|| invalid(&format!("{at}.{key}"), "an id is a string or a number")),
    }
}

fn render_object(o: &ObjectOut) -> Value {
    match o {
        ObjectOut::Section { section_id } => json!({"sectionId": section_id}),
        ObjectOut::Catalog { catalog_id } => json!({"catalogId": catalog_id}),
        ObjectOut::View {
            catalog_id,
            view_id,
        } => json!({"catalogId": catalog_id, "viewId": view_id}),
        ObjectOut::Record {
            catalog_id,
            record_id,
        } => json!({"catalogId": catalog_id, "recordId": record_id}),
    }
}

fn render_rule(r: RuleOut) -> Value {
    let s = r.subject;
    let mut subject = Map::new();
    subject.insert("userAttr".into(), Value::String(s.user_attr));
    subject.insert(
        "userAttrTitle".into(),
        Value::String(s.user_attr_title.unwrap_or_default()),
    );
    subject.insert("catalogId".into(), json!(s.catalog_id));
    if let Some(d) = s.catalog_db_id {
        subject.insert("catalogDbId".into(), json!(d));
    }
    if let Some(i) = s.catalog_icon {
        subject.insert("catalogIcon".into(), Value::String(i));
    }
    subject.insert("recordId".into(), json!(s.record_id));
    if let Some(d) = s.record_db_id {
        subject.insert("recordDbId".into(), json!(d));
    }
    if let Some(t) = s.record_title {
        subject.insert("recordTitle".into(), Value::String(t));
    }
    let mut o = Map::new();
    match r.id {
        Some(id) => {
            o.insert("id".into(), Value::String(id));
            o.insert("type".into(), json!("direct"));
        }
        None => {
            o.insert("type".into(), json!("auto"));
        }
    }
    o.insert("privilegeCode".into(), json!(r.privilege.code()));
    let f: Map<String, Value> = r
        .fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v.code().into())))
        .collect();
    o.insert("fields".into(), Value::Object(f));
    o.insert("rightSubject".into(), Value::Object(subject));
    Value::Object(o)
}

fn render(entries: Vec<RightsEntry>) -> Value {
    Value::Array(
        entries
            .into_iter()
            .map(|e| {
                json!({
                    "object": render_object(&e.object),
                    "rules": e.rules.into_iter().map(render_rule).collect::<Vec<_>>(),
                    "privileges": e.privileges.iter().map(|p| p.code()).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

pub async fn get_rights(
    State(app): St,
    Extension(who): Who,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let object = ObjectRef {
        section_id: p.get("sectionId").map(str::to_string),
        catalog_id: p.get("catalogId").map(str::to_string),
        view_id: p.get("viewId").map(str::to_string),
        record_id: p.get("recordId").map(str::to_string),
    };
    let entries = app.get_rights(&who, &object, p.flag("withSearch")).await?;
    Ok(Json(render(entries)))
}

fn rule_in(v: &Value, at: &str) -> ApiResult<RuleIn> {
    let m = v
        .as_object()
        .ok_or_else(|| invalid(at, "a rule is an object"))?;
    let subject = match m.get("rightSubject") {
        Some(Value::Object(s)) => s,
        _ => {
            return Err(invalid(
                &format!("{at}.rightSubject"),
                "an object is needed",
            ))
        }
    };
    let privilege = match m.get("privilegeCode") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(invalid(
                &format!("{at}.privilegeCode"),
                "a privilege code (string) is needed",
            ))
        }
    };
    let fields = match m.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Object(f)) => Some(f.clone()),
        Some(_) => return Err(invalid(&format!("{at}.fields"), "an object is needed")),
    };
    let sat = format!("{at}.rightSubject");
    Ok(RuleIn {
        user_attr: opt_id(subject, "userAttr", &sat)?,
        catalog_id: opt_id(subject, "catalogId", &sat)?,
        record_id: opt_id(subject, "recordId", &sat)?,
        privilege,
        fields,
    })
}

pub async fn set_rights(
    State(app): St,
    Extension(who): Who,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let object = match body.get("object") {
        Some(Value::Object(o)) => ObjectRef {
            section_id: opt_id(o, "sectionId", "object")?,
            catalog_id: opt_id(o, "catalogId", "object")?,
            view_id: opt_id(o, "viewId", "object")?,
            record_id: opt_id(o, "recordId", "object")?,
        },
        _ => return Err(invalid("object", "an object is needed")),
    };
    let rules = match body.get("rules") {
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(i, r)| rule_in(r, &format!("rules[{i}]")))
            .collect::<ApiResult<Vec<_>>>()?,
        _ => return Err(invalid("rules", "an array of rules is needed")),
    };
    let entries = app.set_rights(&who, &object, rules).await?;
    Ok(Json(render(entries)))
}
