//! Handlers of the Views API (spec 01 §8): `/catalogs/{id}/views[/{viewId}]`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::{Extension, Json};
use kartoteka_core::views::{View, ViewInput};
use kartoteka_core::{Actor, App};
use kartoteka_model::privilege::Privilege;
use serde_json::{json, Map, Value};

use crate::error::{empty, ApiResult};
use crate::extract::JsonBody;
use crate::routes::{opt_bool, opt_id, opt_str};

type St = State<Arc<App>>;
type Who = Extension<Actor>;

fn view_input(body: &Map<String, Value>, creating: bool) -> ApiResult<ViewInput> {
    Ok(ViewInput {
        id: if creating { opt_id(body, "id")? } else { None },
        name: opt_str(body, "name")?,
        origin_name: opt_str(body, "originName")?,
        for_rights: opt_bool(body, "forRights")?,
        filters: body.get("filters").cloned(),
        config: body.get("config").cloned(),
    })
}

/// The view object: `filters` name each condition's field under both `fieldId` and `attr`;
/// a rights view lists the privileges the caller may assign on it (`privilegesApi`).
pub fn render(v: View) -> Value {
    let filters: Vec<Value> = v
        .filters
        .into_iter()
        .map(|f| json!({"id": f.id, "fieldId": f.field_id, "attr": f.field_id, "value": f.value}))
        .collect();
    let mut o = Map::new();
    o.insert("id".into(), Value::String(v.id));
    o.insert("catalogId".into(), Value::String(v.catalog_id));
    o.insert("catalogTitle".into(), Value::String(v.catalog_title));
    o.insert("catalogIcon".into(), Value::String(v.catalog_icon));
    o.insert("name".into(), Value::String(v.name));
    o.insert("originName".into(), Value::String(v.origin_name));
    o.insert("forRights".into(), Value::Bool(v.for_rights));
    o.insert(
        "privilegeCode".into(),
        Value::String(v.privilege.code().into()),
    );
    if v.for_rights {
        let assignable: Vec<Value> = if v.privilege == Privilege::Admin {
            Privilege::ASSIGNABLE
                .iter()
                .map(|p| Value::String(p.code().into()))
                .collect()
        } else {
            Vec::new()
        };
        o.insert("privilegesApi".into(), json!({ "value": assignable }));
    }
    o.insert("filters".into(), Value::Array(filters));
    o.insert("config".into(), v.config);
    Value::Object(o)
}

pub async fn list_views(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
) -> ApiResult<Json<Value>> {
    let views = app.list_views(&who, &cat).await?;
    Ok(Json(Value::Array(views.into_iter().map(render).collect())))
}

pub async fn get_view(
    State(app): St,
    Extension(who): Who,
    Path((cat, view)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    Ok(Json(render(app.get_view(&who, &cat, &view).await?)))
}

pub async fn create_view(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let v = app
        .create_view(&who, &cat, view_input(&body, true)?)
        .await?;
    Ok(Json(render(v)))
}

pub async fn update_view(
    State(app): St,
    Extension(who): Who,
    Path((cat, view)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let v = app
        .update_view(&who, &cat, &view, view_input(&body, false)?)
        .await?;
    Ok(Json(render(v)))
}

pub async fn delete_view(
    State(app): St,
    Extension(who): Who,
    Path((cat, view)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    app.delete_view(&who, &cat, &view).await?;
    Ok(empty())
}
