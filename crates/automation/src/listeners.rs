//! Web listeners (spec 03 §3.3–§3.4): `ANY /api/webrequest/{urlId}` runs the scenario of the
//! active `$webRequests` record with that `$urlId` and answers with its `$status`,
//! `$headers` and `$body`. `?async=true` answers 200 at once; a failed run answers 500
//! `{"message": $error}`; a run over the synchronous limit answers 504 and is stopped.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use kartoteka_core::error::Error;
use kartoteka_core::records::{ListQuery, ReadOptions};
use kartoteka_core::scenarios::{WebCall, WebFuture, WebListeners, WebReply};
use kartoteka_core::Actor;
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::processes::{items, linked, status_of, Automation, Ending, Launch, PARKED, TIMED_OUT};

/// The longest a synchronous run may take (spec 03 §8).
pub const SYNC_LIMIT: Duration = Duration::from_secs(60);

/// Answers web listener calls with the runner's scenarios.
/// Holds the runner weakly, as the before-hook does (the core owns this, the runner owns the
/// core); once the runner is gone every listener answers 404.
pub struct Listeners(pub Weak<Automation>);

impl WebListeners for Listeners {
    fn call(&self, call: WebCall) -> WebFuture {
        let auto = self.0.upgrade();
        Box::pin(async move {
            match auto {
                Some(auto) => answer(auto, call).await,
                None => Err(not_found(&call.url_id)),
            }
        })
    }
}

fn not_found(url_id: &str) -> Error {
    Error::new(
        ErrorCode::NotFound,
        format!("no active web listener {url_id:?}"),
    )
}

/// The active listener with this `$urlId`: (its record id, its scenario), from memory
/// while no automation record changed since it was read.
async fn listener(auto: &Automation, url_id: &str) -> Result<(String, String), Error> {
    if let Some(found) = auto.known_listener(url_id) {
        return Ok(found);
    }
    let generation = auto.app().events.automation_generation();
    let found = read_listener(auto, url_id).await?;
    auto.remember_listener(generation, url_id, found.clone());
    Ok(found)
}

/// Reads the active listener with this `$urlId`.
async fn read_listener(auto: &Automation, url_id: &str) -> Result<(String, String), Error> {
    let filters = kartoteka_filter::Input {
        root: "filters".into(),
        value: json!({"$urlId": url_id}),
        lenient: false,
    };
    let q = ListQuery {
        limit: Some(100),
        filters: Some(filters),
        ..ListQuery::default()
    };
    let page = auto
        .app()
        .list_records(&Actor::System, "$webRequests", &q, &ReadOptions::default())
        .await?;
    // The filter is a substring match: the exact `$urlId` decides.
    let rec = page
        .records
        .into_iter()
        .find(|r| r.values.get("$urlId").and_then(Value::as_str) == Some(url_id))
        .ok_or_else(|| not_found(url_id))?;
    let on = items(rec.values.get("$status")).iter().any(|s| s == "$on");
    let script = linked(rec.values.get("$script")).into_iter().next();
    match (on, script) {
        (true, Some(s)) => Ok((rec.id, s)),
        _ => Err(not_found(url_id)),
    }
}

/// The request as the scenario's input variables.
fn input(call: &WebCall, listener: &str, script: &str) -> Map<String, Value> {
    let mut headers = Map::new();
    let mut cookies = Map::new();
    let mut content_type = String::new();
    for (k, v) in &call.headers {
        if k == "cookie" {
            for pair in v.split(';') {
                if let Some((n, val)) = pair.split_once('=') {
                    cookies.insert(n.trim().to_string(), Value::String(val.trim().to_string()));
                }
            }
        }
        if k == "content-type" {
            content_type = v.to_ascii_lowercase();
        }
        headers.insert(k.clone(), Value::String(v.clone()));
    }
    let mut query = Map::new();
    for (k, v) in &call.query {
        query.insert(k.clone(), Value::String(v.clone()));
    }
    let body = if call.body.is_empty() {
        Value::Object(Map::new())
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut form = Map::new();
        for (k, v) in url_pairs(&call.body) {
            form.insert(k, Value::String(v));
        }
        Value::Object(form)
    } else {
        match serde_json::from_slice::<Value>(&call.body) {
            Ok(v) if content_type.contains("json") || content_type.is_empty() => v,
            _ => Value::String(String::from_utf8_lossy(&call.body).to_string()),
        }
    };
    let mut vars = Map::new();
    vars.insert(
        "event".into(),
        json!({"id": listener, "type": "$webRequest", "async": call.run_async}),
    );
    vars.insert("script".into(), json!({"id": script}));
    vars.insert("user".into(), json!({"id": null}));
    vars.insert("url".into(), Value::String(call.url.clone()));
    vars.insert("method".into(), Value::String(call.method.clone()));
    vars.insert("headers".into(), Value::Object(headers));
    vars.insert("cookies".into(), Value::Object(cookies));
    vars.insert("query".into(), Value::Object(query));
    vars.insert("body".into(), body);
    vars
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn url_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    fn decode(s: &[u8]) -> String {
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            match (
                s[i],
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                (b'%', Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                (b'+', _, _) => {
                    out.push(b' ');
                    i += 1;
                }
                (b, _, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).to_string()
    }
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.iter().position(|b| *b == b'=') {
            Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// The reply a finished run gives (spec 03 §3.4).
fn reply(vars: &Map<String, Value>) -> WebReply {
    let status = status_of(vars)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .unwrap_or(200);
    let mut headers: Vec<(String, String)> = vars
        .get("$headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), text)
                })
                .collect()
        })
        .unwrap_or_default();
    let has_type = headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    let (body, kind) = match vars.get("$body") {
        None | Some(Value::Null) => (Vec::new(), None),
        Some(Value::String(s)) => (s.clone().into_bytes(), Some("text/plain; charset=utf-8")),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            (v.to_string().into_bytes(), Some("application/json"))
        }
        Some(v) => (v.to_string().into_bytes(), Some("application/json")),
    };
    if let (false, Some(k)) = (has_type, kind) {
        headers.push(("content-type".into(), k.into()));
    }
    WebReply {
        status,
        headers,
        body,
    }
}

async fn answer(auto: Arc<Automation>, call: WebCall) -> Result<WebReply, Error> {
    let (id, script) = listener(&auto, &call.url_id).await?;
    let launch = Launch {
        pid: crate::processes::new_pid(),
        input: input(&call, &id, &script),
        script,
        sync: !call.run_async,
        event: Some(("$webRequests", id)),
        user: None,
        deadline: (!call.run_async).then(|| Instant::now() + SYNC_LIMIT),
        hold: None,
    };
    if call.run_async {
        tokio::spawn(async move {
            auto.run(launch).await;
        });
        return Ok(WebReply {
            status: 200,
            headers: vec![],
            body: vec![],
        });
    }
    let ending = tokio::time::timeout(SYNC_LIMIT + Duration::from_secs(5), auto.run(launch)).await;
    let failed = |status: u16, message: String| WebReply {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: json!({"message": message}).to_string().into_bytes(),
    };
    Ok(match ending {
        Ok(Ending::Done(vars)) => reply(&vars),
        Ok(Ending::Error { message, .. }) => failed(500, message),
        Ok(Ending::Aborted(reason)) if reason == TIMED_OUT => failed(504, reason),
        Ok(Ending::Aborted(reason)) => failed(500, reason),
        Ok(Ending::Refused(reason)) => failed(429, reason),
        Ok(Ending::Parked) => failed(500, PARKED.into()),
        Err(_) => failed(504, TIMED_OUT.into()),
    })
}
