//! Handlers of `/api/v1` and `/auth`: parse, call the core, render. Nothing else.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use kartoteka_core::catalogs::{CatalogInput, SectionInput};
use kartoteka_core::files::FilePart;
use kartoteka_core::records::{ChangesInput, ListQuery, ReadOptions, RecordInput, RecordView};
use kartoteka_core::{Actor, App};
use kartoteka_model::ids::id_from_json;
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::error::{empty, ApiError, ApiResult};
use crate::extract::{session_cookie, session_set_cookie, JsonBody, Params};
use crate::render;

type St = State<Arc<App>>;
type Who = Extension<Actor>;

pub(crate) fn opt_str(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError(kartoteka_core::Error::field(
            ErrorCode::InvalidValue,
            key,
            format!("{key} must be a string"),
        ))),
    }
}

pub(crate) fn opt_id(body: &Map<String, Value>, key: &str) -> ApiResult<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => id_from_json(v).map(Some).ok_or_else(|| {
            ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidId,
                key,
                format!("{key} must be a string or a number"),
            ))
        }),
    }
}

pub(crate) fn opt_bool(body: &Map<String, Value>, key: &str) -> ApiResult<Option<bool>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ApiError(kartoteka_core::Error::field(
            ErrorCode::InvalidValue,
            key,
            format!("{key} must be a boolean"),
        ))),
    }
}

fn opt_int(body: &Map<String, Value>, key: &str) -> ApiResult<Option<i64>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| {
            ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                key,
                format!("{key} must be an integer"),
            ))
        }),
    }
}

// ---- health and auth ----

pub async fn health(State(app): St) -> Json<Value> {
    let (hits, misses) = app.rights_cache_stats();
    Json(json!({
        "status": "ok",
        "backend": app.backend_name(),
        "rightsCache": {"hits": hits, "misses": misses},
    }))
}

fn login_response(actor: &Actor, token: &str) -> Response {
    let mut resp = Json(json!({"id": actor.user_db_id().map(|u| u.to_string())})).into_response();
    if let Some(v) = session_set_cookie(token) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

/// `POST /auth/login` with `{email, password}` (JSON or form); `login` is accepted for `email`.
pub async fn login(
    State(app): St,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: Map<String, Value> = if is_form {
        form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(ApiError::new(
                    ErrorCode::InvalidJson,
                    "send {\"email\": \"...\", \"password\": \"...\"}",
                ))
            }
        }
    };
    let email = opt_str(&fields, "email")?
        .or(opt_str(&fields, "login")?)
        .unwrap_or_default();
    let password = opt_str(&fields, "password")?.unwrap_or_default();
    let (actor, token) = app.login(&email, &password).await?;
    Ok(login_response(&actor, &token))
}

/// `GET /auth/login?login=…&password=…` (legacy, changelog 0.13).
pub async fn login_get(State(app): St, RawQuery(q): RawQuery) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let email = p
        .get("login")
        .or(p.get("email"))
        .unwrap_or_default()
        .to_string();
    let password = p.get("password").unwrap_or_default().to_string();
    let (actor, token) = app.login(&email, &password).await?;
    Ok(login_response(&actor, &token))
}

pub async fn logout(State(app): St, req: axum::extract::Request) -> ApiResult<Response> {
    if let Some(token) = session_cookie(&req) {
        app.logout(&token).await?;
    }
    let mut resp = empty().into_response();
    resp.headers_mut().append(
        SET_COOKIE,
        HeaderValue::from_static("sid=; Path=/; Max-Age=0"),
    );
    Ok(resp)
}

// ---- sections ----

fn section_input(body: &Map<String, Value>) -> ApiResult<SectionInput> {
    let catalogs_priorities = match body.get("catalogsPriorities") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(
            a.iter()
                .map(|v| {
                    id_from_json(v).ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidValue, "catalogsPriorities must hold ids")
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?,
        ),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidValue,
                "catalogsPriorities must be an array",
            ))
        }
    };
    Ok(SectionInput {
        id: opt_id(body, "id")?,
        name: opt_str(body, "name")?,
        icon: opt_str(body, "icon")?,
        priority: opt_int(body, "priority")?,
        catalogs_priorities,
    })
}

pub async fn list_sections(State(app): St, Extension(who): Who) -> ApiResult<Json<Value>> {
    Ok(Json(Value::Array(
        app.list_sections(&who)
            .await?
            .iter()
            .map(|(s, p)| render::section(s, *p))
            .collect(),
    )))
}

pub async fn get_section(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (s, p) = app.get_section(&who, &id).await?;
    Ok(Json(render::section(&s, p)))
}

pub async fn create_section(
    State(app): St,
    Extension(who): Who,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let s = app.create_section(&who, section_input(&body)?).await?;
    let (s, p) = app.get_section(&who, &s.id).await?;
    Ok(Json(render::section(&s, p)))
}

pub async fn update_section(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let s = app.update_section(&who, &id, section_input(&body)?).await?;
    let (s, p) = app.get_section(&who, &s.id).await?;
    Ok(Json(render::section(&s, p)))
}

pub async fn delete_section(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.delete_section(&who, &id).await?;
    Ok(empty())
}

// ---- catalogs ----

fn catalog_input(body: &Map<String, Value>) -> ApiResult<CatalogInput> {
    let fields = match body.get("fields") {
        None | Some(Value::Null) => None,
        Some(Value::Array(a)) => Some(a.clone()),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidValue,
                "fields must be an array",
            ))
        }
    };
    Ok(CatalogInput {
        id: opt_id(body, "id")?,
        section_id: opt_id(body, "sectionId")?,
        name: opt_str(body, "name")?,
        icon: opt_str(body, "icon")?,
        history: opt_bool(body, "history")?,
        fields,
    })
}

pub async fn list_catalogs(
    State(app): St,
    Extension(who): Who,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let schema = app.schema();
    let skip = p.flag("skipPrevId");
    let list = app.list_catalogs(&who, p.get("sectionId")).await?;
    let chats = app.new_chats(&who).await?;
    let mut out = Vec::with_capacity(list.len());
    for (c, pr) in &list {
        let n = chats.get(&c.db_id).copied().unwrap_or(0);
        let mut v = render::catalog(&schema, c, *pr, None, skip, n);
        with_field_codes(&app, &who, c, &mut v).await?;
        out.push(v);
    }
    Ok(Json(Value::Array(out)))
}

/// Fills a rendered catalog's `fieldPrivilegeCodes` for the caller.
async fn with_field_codes(
    app: &App,
    who: &Actor,
    c: &kartoteka_core::schema::Catalog,
    v: &mut Value,
) -> ApiResult<()> {
    let codes = app.field_privilege_codes(who, c).await?;
    if let Some(o) = v.as_object_mut() {
        let m: Map<String, Value> = codes
            .into_iter()
            .map(|(k, c)| (k, Value::String(c.code().into())))
            .collect();
        o.insert("fieldPrivilegeCodes".into(), Value::Object(m));
    }
    Ok(())
}

pub async fn get_catalog(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let (c, pr) = app.get_catalog(&who, &id).await?;
    let only = p.id_list("fields")?;
    let n = app
        .new_chats(&who)
        .await?
        .get(&c.db_id)
        .copied()
        .unwrap_or(0);
    let mut v = render::catalog(
        &app.schema(),
        &c,
        pr,
        only.as_deref(),
        p.flag("skipPrevId"),
        n,
    );
    with_field_codes(&app, &who, &c, &mut v).await?;
    Ok(Json(v))
}

pub async fn create_catalog(
    State(app): St,
    Extension(who): Who,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let c = app.create_catalog(&who, catalog_input(&body)?).await?;
    let (c, pr) = app.get_catalog(&who, &c.id).await?;
    Ok(Json(render::catalog(&app.schema(), &c, pr, None, false, 0)))
}

pub async fn update_catalog(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let c = app.update_catalog(&who, &id, catalog_input(&body)?).await?;
    let (c, pr) = app.get_catalog(&who, &c.id).await?;
    let n = app
        .new_chats(&who)
        .await?
        .get(&c.db_id)
        .copied()
        .unwrap_or(0);
    Ok(Json(render::catalog(&app.schema(), &c, pr, None, false, n)))
}

pub async fn delete_catalog(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    app.delete_catalog(&who, &id).await?;
    Ok(empty())
}

// ---- records ----

fn read_options(p: &Params) -> ApiResult<ReadOptions> {
    let projection = p.projection("fields")?;
    Ok(ReadOptions {
        fields: projection.fields,
        skip_prev_id: p.flag("skipPrevId"),
        nested: projection.nested,
        with_fields_additional: p.flag("withFieldsAdditional"),
        exact_total: p.get("total") == Some("exact"),
    })
}

fn record_input(body: Map<String, Value>, p: &Params) -> ApiResult<RecordInput> {
    let id = opt_id(&body, "id")?;
    let values = match body.get("values") {
        Some(Value::Object(m)) => m.clone(),
        None => {
            return Err(ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                "values",
                "the body needs \"values\": {…}",
            )))
        }
        Some(_) => {
            return Err(ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                "values",
                "values must be an object",
            )))
        }
    };
    Ok(RecordInput {
        values,
        id,
        tz_offset_min: p.tz_offset()?,
    })
}

pub async fn list_records(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let filters = kartoteka_filter::Input::from_query(&p.0, "filters")
        .map_err(|e| ApiError(kartoteka_core::query::filter_error(e)))?;
    let query = ListQuery {
        limit: p.int("limit")?,
        offset: p.int("offset")?,
        ids: p.all("id").into_iter().map(str::to_string).collect(),
        filters,
        search: p.get("searchText").map(str::to_string),
        sort_field: p.get("sortField").map(str::to_string),
        descending: p.descending("sortType")?,
        tz_offset_min: p.tz_offset()?,
        view_id: p
            .get("viewId")
            .filter(|v| !v.is_empty())
            .map(str::to_string),
    };
    let page = app
        .list_records(&who, &cat, &query, &read_options(&p)?)
        .await?;
    // Past the counting cap there is no exact total to give: `X-Total-Count` is left out
    // (a client that parses it as a number never reads a bound as a count) and
    // `X-Total-Count-At-Least` says how many matched at least; `total=exact` counts all.
    let (header, total) = if page.total_capped {
        ("x-total-count-at-least", page.total + 1)
    } else {
        ("x-total-count", page.total)
    };
    let mut resp = Json(page.records).into_response();
    if let Ok(v) = HeaderValue::from_str(&total.to_string()) {
        resp.headers_mut().insert(header, v);
    }
    Ok(resp)
}

pub async fn get_record(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<RecordView>> {
    let p = Params::parse(q.as_deref());
    let r = app.get_record(&who, &cat, &rec, &read_options(&p)?).await?;
    Ok(Json(r))
}

fn skip_prev(r: &mut RecordView, app: &App, p: &Params) {
    if p.flag("skipPrevId") {
        if let Ok(c) = app.schema().catalog(&r.catalog_id) {
            for f in c.fields.iter().filter(|f| f.duplicate && f.prev_id != f.id) {
                r.values.remove(&f.prev_id);
            }
        }
    }
}

pub async fn create_record(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    RawQuery(q): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<RecordView>> {
    let p = Params::parse(q.as_deref());
    let mut r = app
        .create_record(&who, &cat, record_input(body, &p)?)
        .await?;
    skip_prev(&mut r, &app, &p);
    Ok(Json(r))
}

pub async fn update_record(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<RecordView>> {
    let p = Params::parse(q.as_deref());
    let mut r = app
        .update_record(&who, &cat, &rec, record_input(body, &p)?)
        .await?;
    skip_prev(&mut r, &app, &p);
    Ok(Json(r))
}

pub async fn delete_record(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    app.delete_record(&who, &cat, &rec).await?;
    Ok(empty())
}

/// `POST /catalogs/{id}/changes` (spec 02 §4.9): a field changed in an open card; answers
/// the `record.updating` hooks' merged `{messages, values}`. Nothing is saved.
pub async fn record_changes(
    State(app): St,
    Extension(who): Who,
    Path(cat): Path<String>,
    RawQuery(q): RawQuery,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let object = |key: &str| -> ApiResult<Map<String, Value>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m.clone()),
            Some(_) => Err(ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                key,
                format!("{key} must be an object"),
            ))),
        }
    };
    let depth = opt_int(&body, "depth")?.unwrap_or(0);
    if depth < 0 {
        return Err(ApiError(kartoteka_core::Error::field(
            ErrorCode::InvalidValue,
            "depth",
            "depth must not be negative",
        )));
    }
    let input = ChangesInput {
        record_id: opt_id(&body, "recordId")?,
        values: object("values")?,
        all_values: object("allValues")?,
        depth: u32::try_from(depth).unwrap_or(u32::MAX),
        tz_offset_min: p.tz_offset()?,
    };
    let out = app.record_changes(&who, &cat, input).await?;
    Ok(Json(render::changes(out)))
}

// ---- webhook deliveries ----

/// `GET /webhooks/{hookId}/deliveries?limit=&offset=`: the delivery log, newest first.
pub async fn webhook_deliveries(
    State(app): St,
    Extension(who): Who,
    Path(hook): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    let p = Params::parse(q.as_deref());
    let page = app
        .webhook_deliveries(&who, &hook, p.int("limit")?, p.int("offset")?)
        .await?;
    let body = Value::Array(page.deliveries.into_iter().map(render::delivery).collect());
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&page.total.to_string()) {
        resp.headers_mut().insert("x-total-count", v);
    }
    Ok(resp)
}

/// `POST /webhooks/{hookId}/deliveries/{deliveryId}/resend`: queues the delivery again (202).
pub async fn resend_webhook_delivery(
    State(app): St,
    Extension(who): Who,
    Path((hook, delivery)): Path<(String, String)>,
) -> ApiResult<Response> {
    let d = app.resend_webhook_delivery(&who, &hook, &delivery).await?;
    Ok((axum::http::StatusCode::ACCEPTED, Json(render::delivery(d))).into_response())
}

// ---- profile ----

/// `GET /profile/me`: the caller's `$users` record id, e-mail, title and group subjects.
pub async fn profile(State(app): St, Extension(who): Who) -> ApiResult<Json<Value>> {
    let Some(user) = who.user_db_id() else {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "authentication required",
        ));
    };
    let r = app
        .get_record(
            &Actor::System,
            "$users",
            &user.to_string(),
            &ReadOptions::default(),
        )
        .await?;
    let schema = app.schema();
    let mut subjects = Vec::new();
    if let Ok(users) = schema.catalog("$users") {
        for f in users
            .fields
            .iter()
            .filter(|f| f.field_type == kartoteka_model::FieldType::Object)
        {
            for link in r
                .values
                .get(&f.id)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                subjects.push(json!({
                    "userAttr": f.id,
                    "valueCatalogId": link.get("catalogId"),
                    "valueRecordId": link.get("recordId"),
                }));
            }
        }
    }
    Ok(Json(json!({
        "id": r.id,
        "email": r.values.get("$email").cloned().unwrap_or(Value::Null),
        "title": r.title,
        "subjects": subjects,
    })))
}

// ---- histories ----

/// `GET /histories?catalogId=…[&recordId][&limit][&from][&sortType][&userId][&fieldId][&actionType]`
pub async fn histories(
    State(app): St,
    Extension(who): Who,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let Some(catalog_id) = p.get("catalogId").filter(|c| !c.is_empty()) else {
        return Err(ApiError(kartoteka_core::Error::field(
            ErrorCode::InvalidQuery,
            "catalogId",
            "catalogId is required",
        )));
    };
    let ascending = match p.get("sortType") {
        None | Some("") | Some("desc") | Some("-1") => false,
        Some("asc") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("sortType must be asc or desc, got {other:?}"),
            ))
        }
    };
    let req = kartoteka_core::history::HistoryRequest {
        catalog_id: catalog_id.to_string(),
        record_id: p
            .get("recordId")
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        user_id: p
            .get("userId")
            .filter(|r| !r.is_empty())
            .map(str::to_string),
        field_ids: p.all("fieldId").into_iter().map(str::to_string).collect(),
        actions: p
            .all("actionType")
            .into_iter()
            .map(str::to_string)
            .collect(),
        ascending,
        limit: p.int("limit")?,
        offset: match p.int("from")? {
            Some(v) => Some(v),
            None => p.int("offset")?,
        },
    };
    let entries = app.histories(&who, &req).await?;
    Ok(Json(Value::Array(
        entries.into_iter().map(render::history).collect(),
    )))
}

// ---- search helpers ----

fn page(p: &Params, default_limit: i64) -> ApiResult<kartoteka_core::search::Page> {
    Ok(kartoteka_core::search::Page::new(
        p.int("limit")?,
        p.int("offset")?,
        default_limit,
    )?)
}

fn needle(p: &Params, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| p.get(k))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `GET /users?title=…` (also `searchText`): employees for user fields.
pub async fn users(
    State(app): St,
    Extension(who): Who,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let list = app
        .users(&who, needle(&p, &["title", "searchText"]), page(&p, 100)?)
        .await?;
    Ok(Json(Value::Array(
        list.into_iter()
            .map(|(id, title)| json!({"id": id, "title": title}))
            .collect(),
    )))
}

async fn available(
    app: &App,
    who: &Actor,
    cat: &str,
    field: &str,
    q: Option<String>,
    with_values: bool,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let query = kartoteka_core::search::AvailableQuery {
        needle: needle(&p, &["title", "searchText"]),
        catalog_id: p.get("catalogId").map(str::to_string),
        with_values,
        page: page(&p, 50)?,
    };
    let list = app.available_records(who, cat, field, query).await?;
    Ok(Json(Value::Array(
        list.into_iter().map(render::found).collect(),
    )))
}

/// `GET /catalogs/{c}/fields/{f}/availableRecords`: records that may be linked in the field,
/// with the values of its extended fields.
pub async fn available_records(
    State(app): St,
    Extension(who): Who,
    Path((cat, field)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    available(&app, &who, &cat, &field, q, true).await
}

/// `GET /catalogs/{c}/fields/{f}/availableFilterRecords` (and the singular spelling): records
/// that may be chosen as filter values of the field.
pub async fn available_filter_records(
    State(app): St,
    Extension(who): Who,
    Path((cat, field)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    available(&app, &who, &cat, &field, q, false).await
}

/// `GET /catalogs/{c}/records/{r}/relations`: back-links grouped by catalog and field.
pub async fn relations(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let query = kartoteka_core::search::RelationsQuery {
        catalog_ids: p.all("catalogId").into_iter().map(str::to_string).collect(),
        field_id: p
            .get("fieldId")
            .filter(|f| !f.is_empty())
            .map(str::to_string),
        limit: p.int("limit")?,
        offset: p.int("offset")?,
    };
    let groups = app.relations(&who, &cat, &rec, &query).await?;
    Ok(Json(Value::Array(
        groups.into_iter().map(render::relation).collect(),
    )))
}

/// `GET /contacts?searchText=…`: records with matching contact values, across catalogs.
pub async fn contacts(
    State(app): St,
    Extension(who): Who,
    RawQuery(q): RawQuery,
) -> ApiResult<Json<Value>> {
    let p = Params::parse(q.as_deref());
    let list = app
        .contacts(
            &who,
            needle(&p, &["searchText"]).unwrap_or_default(),
            page(&p, 100)?,
        )
        .await?;
    Ok(Json(Value::Array(
        list.into_iter().map(render::found).collect(),
    )))
}

// ---- record chat ----

fn message_input(body: &Map<String, Value>) -> ApiResult<kartoteka_core::messages::MessageInput> {
    let list = |key: &str| -> ApiResult<Option<Vec<Value>>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a.clone())),
            Some(_) => Err(ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                key,
                format!("{key} must be an array"),
            ))),
        }
    };
    Ok(kartoteka_core::messages::MessageInput {
        text: opt_str(body, "text")?,
        mentions: match list("mentions")? {
            Some(m) => Some(m),
            None => list("mention")?,
        },
        attachments: list("attachments")?,
        reply_message_id: opt_id(body, "replyMessageId")?,
    })
}

pub async fn list_messages(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let list = app.list_messages(&who, &cat, &rec).await?;
    Ok(Json(Value::Array(
        list.into_iter().map(render::message).collect(),
    )))
}

pub async fn post_message(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let m = app
        .post_message(&who, &cat, &rec, message_input(&body)?)
        .await?;
    Ok(Json(render::message(m)))
}

pub async fn update_message(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec, msg)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let m = app
        .update_message(&who, &cat, &rec, &msg, message_input(&body)?)
        .await?;
    Ok(Json(render::message(m)))
}

pub async fn delete_message(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec, msg)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    app.delete_message(&who, &cat, &rec, &msg).await?;
    Ok(empty())
}

async fn set_chat_options(
    app: &App,
    who: &Actor,
    cat: &str,
    rec: &str,
    body: &Map<String, Value>,
) -> ApiResult<Json<Value>> {
    let subscribe = opt_bool(body, "subscribe")?.ok_or_else(|| {
        ApiError(kartoteka_core::Error::field(
            ErrorCode::InvalidValue,
            "subscribe",
            "subscribe (true or false) is required",
        ))
    })?;
    let s = app.chat_options(who, cat, rec, subscribe).await?;
    Ok(Json(json!({"subscribe": s})))
}

/// `PATCH /catalogs/{c}/records/{r}/chatOptions`: follow or leave the chat.
pub async fn chat_options(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    set_chat_options(&app, &who, &cat, &rec, &body).await
}

/// `PATCH /catalogs/{c}/records/{r}/chatOptions/{r}`: the path as the docs print it.
pub async fn chat_options_repeated(
    State(app): St,
    Extension(who): Who,
    Path((cat, rec, _again)): Path<(String, String, String)>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    set_chat_options(&app, &who, &cat, &rec, &body).await
}

// ---- files ----

fn host_base(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

/// `POST /files`: step 1 of an upload; answers with S3-style POST credentials (spec 01 §13).
pub async fn begin_upload(
    State(app): St,
    Extension(who): Who,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let required = |key: &str| -> ApiResult<String> {
        opt_id(&body, key)?.ok_or_else(|| {
            ApiError(kartoteka_core::Error::field(
                ErrorCode::InvalidValue,
                key,
                format!("{key} is required"),
            ))
        })
    };
    let req = kartoteka_core::files::UploadRequest {
        catalog_id: required("catalogId")?,
        record_id: opt_id(&body, "recordId")?,
        field_id: required("fieldId")?,
        name: opt_str(&body, "name")?.unwrap_or_default(),
        size: opt_int(&body, "size")?.unwrap_or(0),
        mime_type: opt_str(&body, "mimeType")?.unwrap_or_default(),
        type_storage: opt_str(&body, "typeStorage")?,
    };
    let t = app.begin_upload(&who, req).await?;
    Ok(Json(json!({
        "fileId": t.file_id,
        "uploadUrl": format!("{}/storage/upload", host_base(&headers)),
        "redirect": "",
        "acl": "private",
        "fileKey": t.key,
        "AWSAccessKeyId": "kartoteka",
        "police": t.policy,
        "signature": t.signature,
    })))
}

/// `POST /storage/upload`: step 2, the S3-style POST policy form with the bytes; 204.
pub async fn receive_upload(
    State(app): St,
    mut form: axum::extract::Multipart,
) -> ApiResult<Response> {
    let (mut key, mut policy, mut signature, mut bytes) = (None, None, None, None);
    loop {
        let field = form.next_field().await.map_err(|e| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("malformed multipart form: {e}"),
            )
        })?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the upload could not be read whole: {e}"),
            )
        })?;
        let text = || String::from_utf8_lossy(&data).into_owned();
        match name.as_str() {
            "key" => key = Some(text()),
            "Policy" | "policy" => policy = Some(text()),
            "Signature" | "signature" => signature = Some(text()),
            "file" => bytes = Some(data),
            _ => {}
        }
    }
    let (Some(key), Some(policy), Some(signature), Some(bytes)) = (key, policy, signature, bytes)
    else {
        return Err(ApiError::new(
            ErrorCode::BadRequest,
            "the form needs key, Policy, Signature and file",
        ));
    };
    app.receive_upload(&key, &policy, &signature, bytes).await?;
    Ok(axum::http::StatusCode::NO_CONTENT.into_response())
}

fn file_json(f: kartoteka_core::files::FileInfo, base: &str) -> Value {
    let url = if f.url.starts_with('/') {
        format!("{base}{}", f.url)
    } else {
        f.url
    };
    let metadata = kartoteka_core::files::metadata_json(base, f.id, f.metadata.as_ref());
    json!({"id": f.id, "title": f.title, "size": f.size, "url": url, "mimeType": f.mime_type, "metadata": metadata})
}

fn file_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::new(ErrorCode::NotFound, format!("file {id:?} not found")))
}

/// `PATCH /files/{id}`: step 3, confirm the upload and get the file object.
pub async fn confirm_upload(
    State(app): St,
    Extension(who): Who,
    headers: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let f = app
        .confirm_upload(&who, file_id(&id)?, opt_str(&body, "name")?)
        .await?;
    Ok(Json(file_json(f, &host_base(&headers))))
}

/// `GET /files/{id}`: 302 to the file's address (a short-lived signed link for stored files).
pub async fn download(
    State(app): St,
    Extension(who): Who,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    redirect_to_file(&app, &who, &id, FilePart::Original).await
}

/// `GET /files/{id}/thumbnail|preview`: 302 to a signed link of a picture's copy.
pub async fn download_part(
    State(app): St,
    Extension(who): Who,
    Path((id, part)): Path<(String, String)>,
) -> ApiResult<Response> {
    redirect_to_file(&app, &who, &id, file_part(&part)?).await
}

fn file_part(part: &str) -> ApiResult<FilePart> {
    FilePart::parse(part)
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, format!("no {part:?} of a file")))
}

async fn redirect_to_file(app: &App, who: &Actor, id: &str, part: FilePart) -> ApiResult<Response> {
    let target = match app.download(who, file_id(id)?, part).await? {
        kartoteka_core::files::Download::External(url)
        | kartoteka_core::files::Download::Signed(url) => url,
    };
    let location = HeaderValue::from_str(&target)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "bad file address"))?;
    let mut resp = axum::http::StatusCode::FOUND.into_response();
    resp.headers_mut()
        .insert(axum::http::header::LOCATION, location);
    Ok(resp)
}

/// `GET /storage/files/{id}?expires&signature`: the bytes behind a signed link.
pub async fn stored_file(
    State(app): St,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    serve_stored(&app, &id, FilePart::Original, q.as_deref()).await
}

/// `GET /storage/files/{id}/thumbnail|preview?expires&signature`: a picture's copy.
pub async fn stored_file_part(
    State(app): St,
    Path((id, part)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> ApiResult<Response> {
    serve_stored(&app, &id, file_part(&part)?, q.as_deref()).await
}

async fn serve_stored(
    app: &App,
    id: &str,
    part: FilePart,
    query: Option<&str>,
) -> ApiResult<Response> {
    let p = Params::parse(query);
    let expires = p.int("expires")?.unwrap_or(0);
    let stored = app
        .read_stored(
            file_id(id)?,
            part,
            expires,
            p.get("signature").unwrap_or_default(),
        )
        .await?;
    let mut resp = stored.bytes.into_response();
    if let Ok(v) = HeaderValue::from_str(&stored.mime_type) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    let ascii: String = stored
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{ascii}\"")) {
        resp.headers_mut()
            .insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}
