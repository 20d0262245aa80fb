//! Request input: JSON bodies with a size limit and precise parse errors, query strings in
//! both the repeated-key and the JSON-encoded forms, and authentication.

use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use kartoteka_core::query::NestedFields;
use kartoteka_core::{Actor, App};
use kartoteka_model::ErrorCode;
use serde_json::Value;

use crate::error::ApiError;

/// The largest request body accepted.
pub const MAX_BODY: usize = 8 * 1024 * 1024;
/// Session cookie names read; the first is the one set.
pub const COOKIE_NAMES: [&str; 2] = ["sid", "connect.sid"];

/// A JSON object body.
pub struct JsonBody(pub serde_json::Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, _: &S) -> Result<Self, Self::Rejection> {
        let bytes = to_bytes(req.into_body(), MAX_BODY).await.map_err(|_| {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("the request body is larger than {MAX_BODY} bytes"),
            )
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonBody(Default::default()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(m)) => Ok(JsonBody(m)),
            Ok(_) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                "the request body must be a JSON object",
            )),
            Err(e) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                format!(
                    "malformed JSON at line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }
}

/// Query parameters as ordered pairs.
#[derive(Debug, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key (`?id=1&id=2`, also `id[]=1` and `id[0]=1`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| {
                k == key
                    || k.strip_prefix(key)
                        .and_then(|r| r.strip_prefix('['))
                        .and_then(|r| r.strip_suffix(']'))
                        .is_some_and(|i| i.is_empty() || i.bytes().all(|b| b.is_ascii_digit()))
            })
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("{key} must be an integer, got {v:?}"),
                )
            }),
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }

    /// The client's zone in minutes east of UTC (`timezoneOffset`), default 0.
    pub fn tz_offset(&self) -> Result<i32, ApiError> {
        match self.int("timezoneOffset")? {
            None => Ok(0),
            Some(n) if (-24 * 60..=24 * 60).contains(&n) => Ok(n as i32),
            Some(n) => Err(ApiError::new(
                ErrorCode::InvalidQuery,
                format!("timezoneOffset out of range: {n}"),
            )),
        }
    }

    /// A list of ids given as a JSON array (`fields=[2,"3"]`) or repeated keys
    /// (`fields[0]=2&fields[1]=3`).
    pub fn id_list(&self, key: &str) -> Result<Option<Vec<String>>, ApiError> {
        if let Some(v) = self.get(key) {
            let t = v.trim();
            if t.starts_with('[') {
                let parsed: Value = serde_json::from_str(t).map_err(|e| {
                    ApiError::new(
                        ErrorCode::InvalidQuery,
                        format!("{key}: malformed JSON: {e}"),
                    )
                })?;
                let items = parsed.as_array().cloned().unwrap_or_default();
                let mut out = Vec::with_capacity(items.len());
                for it in &items {
                    let id = match it {
                        Value::Object(o) => o
                            .get("fieldId")
                            .and_then(kartoteka_model::ids::id_from_json),
                        v => kartoteka_model::ids::id_from_json(v),
                    };
                    out.push(id.ok_or_else(|| {
                        ApiError::new(ErrorCode::InvalidQuery, format!("{key}: {it} is not an id"))
                    })?);
                }
                return Ok(Some(out));
            }
        }
        let all = self.all(key);
        if all.is_empty() {
            Ok(None)
        } else {
            Ok(Some(
                all.iter()
                    .flat_map(|v| v.split(','))
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ))
        }
    }
}

/// The `fields` projection of records (spec 01 §6.2): plain field ids and nested descriptors
/// `{"fieldId": 5, "fields": {"27": [2, 6]}}`, as JSON text (`fields=[4,{…}]`), a comma list
/// (`fields=2,3`) or bracket notation (`fields[0]=2&fields[1][fieldId]=5&fields[1][fields][27][]=2`).
/// A nested descriptor's field is part of the projection too.
pub struct Projection {
    pub fields: Option<Vec<String>>,
    pub nested: Vec<NestedFields>,
}

fn projection_error(message: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::InvalidQuery, format!("fields: {message}"))
}

fn projection_id(v: &Value, what: &str) -> Result<String, ApiError> {
    kartoteka_model::ids::id_from_json(v)
        .ok_or_else(|| projection_error(format!("{what} {v} is not a field id")))
}

impl Params {
    pub fn projection(&self, key: &str) -> Result<Projection, ApiError> {
        let tree = kartoteka_filter::qs::tree(&self.0, key)
            .map_err(|e| ApiError(kartoteka_core::query::filter_error(e)))?;
        let items: Vec<Value> = match tree {
            None => {
                return Ok(Projection {
                    fields: None,
                    nested: vec![],
                })
            }
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.starts_with('[') || t.starts_with('{') {
                    match serde_json::from_str::<Value>(t) {
                        Ok(Value::Array(a)) => a,
                        Ok(other) => vec![other],
                        Err(e) => return Err(projection_error(format!("malformed JSON: {e}"))),
                    }
                } else {
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.to_string()))
                        .collect()
                }
            }
            Some(Value::Array(a)) => a,
            Some(other) => vec![other],
        };
        let mut fields = Vec::with_capacity(items.len());
        let mut nested = Vec::new();
        for it in &items {
            match it {
                Value::Object(o) => {
                    let id = projection_id(o.get("fieldId").unwrap_or(&Value::Null), "fieldId")?;
                    let mut catalogs = Vec::new();
                    match o.get("fields") {
                        None | Some(Value::Null) => {}
                        Some(Value::Object(m)) => {
                            for (cat, list) in m {
                                let ids = match list {
                                    Value::Array(a) => a
                                        .iter()
                                        .map(|v| projection_id(v, "nested field"))
                                        .collect::<Result<Vec<_>, _>>()?,
                                    v => vec![projection_id(v, "nested field")?],
                                };
                                catalogs.push((cat.clone(), ids));
                            }
                        }
                        Some(other) => {
                            return Err(projection_error(format!(
                                "the nested fields of {id:?} are an object keyed by catalog id, not {other}"
                            )))
                        }
                    }
                    fields.push(id.clone());
                    nested.push(NestedFields {
                        field_id: id,
                        catalogs,
                    });
                }
                v => fields.push(projection_id(v, "")?),
            }
        }
        Ok(Projection {
            fields: Some(fields),
            nested,
        })
    }

    /// `sortType`: `1` / `asc` ascending (the default), `-1` / `desc` descending.
    pub fn descending(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key).map(|s| s.trim().to_ascii_lowercase()) {
            None => Ok(false),
            Some(s) => match s.as_str() {
                "" | "1" | "asc" => Ok(false),
                "-1" | "desc" => Ok(true),
                _ => Err(ApiError::new(
                    ErrorCode::InvalidQuery,
                    format!("{key} is 1 (ascending) or -1 (descending), got {s:?}"),
                )),
            },
        }
    }
}

/// Reads the session token from the cookies.
pub fn session_cookie(req: &Request) -> Option<String> {
    for h in req.headers().get_all(COOKIE) {
        let Ok(s) = h.to_str() else { continue };
        for part in s.split(';') {
            let mut kv = part.trim().splitn(2, '=');
            let (Some(k), Some(v)) = (kv.next(), kv.next()) else {
                continue;
            };
            if COOKIE_NAMES.contains(&k) && !v.is_empty() {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// Reads HTTP Basic credentials.
pub fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let h = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let b64 = h
        .strip_prefix("Basic ")
        .or_else(|| h.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (email, password) = s.split_once(':')?;
    Some((email.to_string(), password.to_string()))
}

/// The `Set-Cookie` header for a session.
pub fn session_set_cookie(token: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        COOKIE_NAMES[0],
        kartoteka_core::auth::SESSION_TTL_MS / 1000
    ))
    .ok()
}

/// Authenticates every `/api/v1` request: the session cookie, else HTTP Basic (which also
/// sets the cookie, so clients can stop paying for Basic). 401 otherwise.
pub async fn authenticate(State(app): State<Arc<App>>, mut req: Request, next: Next) -> Response {
    let mut set_cookie = None;
    let cookie = session_cookie(&req);
    let basic = basic_credentials(&req);
    let actor: Result<Actor, ApiError> = async {
        if let Some(token) = cookie {
            if let Ok(a) = app.authenticate_session(&token).await {
                return Ok(a);
            }
        }
        if let Some((email, password)) = basic {
            let actor = app.verify_credentials(&email, &password).await?;
            set_cookie = Some(app.session_for_basic(&actor).await?);
            return Ok(actor);
        }
        Err(ApiError::new(
            ErrorCode::Unauthorized,
            "authentication required",
        ))
    }
    .await;
    match actor {
        Ok(actor) => {
            req.extensions_mut().insert(actor);
            let mut resp = next.run(req).await;
            if let Some(v) = set_cookie.as_deref().and_then(session_set_cookie) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
            resp
        }
        Err(e) => e.into_response(),
    }
}
