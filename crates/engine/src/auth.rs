//! Access codes of «Доступы к сервисам» (`$authServices`, spec 02 §1.9.7): OAuth 2.0 tokens
//! an administrator keeps as JSON in a record's `$tokens`, which a Web request with
//! `auth=oauth2` sends as its bearer token (`token` names the record: its id, else its
//! `$name`).
//!
//! - The token is `access_token` (also `accessToken` or `token`).
//! - When the codes say when they expire (`expires_at`, Unix seconds or milliseconds;
//!   `expiry_date`, milliseconds) and that moment is less than a minute away, and
//!   they carry a `refresh_token` and the service's token endpoint (`token_uri`,
//!   `token_url` or `tokenUrl`), they are refreshed first (RFC 6749 §6: a form POST of
//!   `grant_type=refresh_token` with `client_id`/`client_secret` when present) and the
//!   record is updated with the new token, its expiry and any new refresh token. The format
//!   tokens.bpium.ru writes is not documented; these are the names of the OAuth standard and
//!   of the common client libraries. Codes that cannot be refreshed are sent as they are
//!   (the service answers whether it still takes them).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use crate::ports::FindQuery;
use crate::{Engine, Failure, HttpRequest, Ports};

const CATALOG: &str = "$authServices";
/// Codes this close to their expiry are refreshed before use.
const MARGIN_MS: i64 = 60_000;

/// The record a component's parameter names: its id or `$name` as text, or a link to it
/// (`{recordId}` or a list of such, as a record's link field holds).
pub(crate) fn reference(v: &Value) -> Option<String> {
    let text = match v {
        Value::Array(items) => return items.first().and_then(reference),
        Value::Object(o) => o.get("recordId").or_else(|| o.get("id"))?,
        other => other,
    };
    crate::values::scalar_text(text).filter(|s| !s.trim().is_empty())
}

/// The bearer token of the `$authServices` record `reference` (its id, else its `$name`).
pub(crate) async fn bearer(
    engine: &Engine,
    ports: &dyn Ports,
    reference: &str,
) -> Result<String, Failure> {
    let codes = codes(engine, ports, reference).await?;
    ["access_token", "accessToken", "token"]
        .iter()
        .find_map(|k| codes.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure::new(
                "VALIDATION",
                format!("the access codes of {reference:?} in $authServices hold no access_token"),
            )
        })
}

/// The access codes of the `$authServices` record `reference` (its id, else its `$name`),
/// refreshed first when they are about to expire and can be.
pub(crate) async fn codes(
    engine: &Engine,
    ports: &dyn Ports,
    reference: &str,
) -> Result<Map<String, Value>, Failure> {
    let record = match ports.get_record(CATALOG, reference).await {
        Ok(r) => r,
        Err(e) if e.code == "NOT_FOUND" => by_name(ports, reference).await?,
        Err(e) => return Err(e.into()),
    };
    let id = record
        .get("id")
        .and_then(crate::values::scalar_text)
        .unwrap_or_else(|| reference.to_owned());
    let text = record
        .pointer("/values/$tokens")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut codes: Map<String, Value> = match serde_json::from_str(text) {
        Ok(Value::Object(o)) => o,
        _ => {
            return Err(Failure::new(
                "VALIDATION",
                format!("the access codes of {reference:?} in $authServices are not a JSON object"),
            ))
        }
    };
    let now = now_ms();
    if expires_at(&codes).is_some_and(|at| at - MARGIN_MS <= now) {
        if let Some(request) = refresh_request(&codes, engine.settings().web_timeout) {
            let answer = ports.http(request).await?;
            if !(200..300).contains(&answer.status) {
                return Err(Failure::new(
                    "HTTP",
                    format!(
                        "refreshing the access codes of {reference:?} failed with HTTP {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&answer.body)
                            .chars()
                            .take(300)
                            .collect::<String>()
                    ),
                ));
            }
            let fresh: Map<String, Value> = match serde_json::from_slice(&answer.body) {
                Ok(Value::Object(o)) => o,
                _ => {
                    return Err(Failure::new(
                        "HTTP",
                        format!(
                            "refreshing the access codes of {reference:?}: the answer is not JSON"
                        ),
                    ))
                }
            };
            merge_refreshed(&mut codes, fresh, now);
            let mut values = Map::new();
            values.insert(
                "$tokens".to_owned(),
                Value::String(Value::Object(codes.clone()).to_string()),
            );
            ports.edit_record(CATALOG, &id, values).await?;
        }
    }
    Ok(codes)
}

/// The record whose `$name` is `name` (a text filter matches substrings, so the exact one is
/// picked from what it finds).
async fn by_name(ports: &dyn Ports, name: &str) -> Result<Value, Failure> {
    let found = ports
        .find_records(
            CATALOG,
            FindQuery {
                filters: Some(json!({"$name": name})),
                limit: 100,
                ..FindQuery::default()
            },
        )
        .await?;
    let exact = |r: &Value| {
        r.pointer("/values/$name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.trim() == name.trim())
    };
    found.records.into_iter().find(exact).ok_or_else(|| {
        Failure::new(
            "NOT_FOUND",
            format!("no access codes {name:?} in $authServices"),
        )
    })
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// When the codes expire, in Unix milliseconds.
fn expires_at(codes: &Map<String, Value>) -> Option<i64> {
    if let Some(ms) = codes.get("expiry_date").and_then(Value::as_i64) {
        return Some(ms);
    }
    // Seconds until the year 5138; milliseconds after.
    codes.get("expires_at").and_then(Value::as_i64).map(|t| {
        if t < 100_000_000_000 {
            t * 1000
        } else {
            t
        }
    })
}

/// The refresh request the codes allow, if they carry a refresh token and an endpoint.
fn refresh_request(codes: &Map<String, Value>, timeout: Duration) -> Option<HttpRequest> {
    let text = |k: &str| {
        codes
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let refresh = text("refresh_token")?;
    let url = text("token_uri")
        .or_else(|| text("token_url"))
        .or_else(|| text("tokenUrl"))?;
    let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh)];
    for k in ["client_id", "client_secret"] {
        if let Some(v) = text(k) {
            form.push((k, v));
        }
    }
    let body = form
        .iter()
        .map(|(k, v)| format!("{k}={}", crate::web::url_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Some(HttpRequest {
        method: "POST".to_owned(),
        url: url.to_owned(),
        headers: vec![
            (
                "Content-Type".to_owned(),
                "application/x-www-form-urlencoded".to_owned(),
            ),
            ("Accept".to_owned(), "application/json".to_owned()),
        ],
        body: Some(body.into_bytes()),
        timeout,
    })
}

/// The codes after a refresh: the new token and, when the answer gives them, its expiry
/// (kept in the field the codes already used) and a new refresh token.
fn merge_refreshed(codes: &mut Map<String, Value>, fresh: Map<String, Value>, now: i64) {
    let expires_in = fresh.get("expires_in").and_then(Value::as_i64);
    for (k, v) in fresh {
        if k != "expires_in" {
            codes.insert(k, v);
        }
    }
    if let Some(secs) = expires_in {
        let at = now + secs * 1000;
        if codes.contains_key("expiry_date") {
            codes.insert("expiry_date".to_owned(), Value::from(at));
        } else {
            codes.insert("expires_at".to_owned(), Value::from(at / 1000));
        }
        codes.insert("expires_in".to_owned(), Value::from(secs));
    }
}
