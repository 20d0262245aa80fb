//! The automation phase: every created record starts a scenario (`$record.after.create`)
//! that edits the record; the phase measures scenario runs per second and the time from a
//! create request being sent to its run's end (`$processes.$endDate`), both read back from
//! the process records once every run has finished.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use hyper::Method;
use serde_json::{json, Value};

use crate::conn::Conn;
use crate::{call, id_of, Fixture, MakeReq};

/// Wall-clock milliseconds (the server's process records use the same clock).
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// When a phase began, on both clocks: the wall clock is read at the moment itself, not
/// worked out afterwards from the monotonic one, which drifts from it by milliseconds over
/// a long phase (the likely reason a few of a phase's first runs once went uncounted).
#[derive(Clone, Copy)]
pub struct Started {
    pub at: Instant,
    pub wall_ms: i64,
}

impl Started {
    pub fn now() -> Started {
        let wall_ms = now_ms();
        Started {
            at: Instant::now(),
            wall_ms,
        }
    }
}

/// Creates whose title carries the send time (`a<unix ms>`).
pub fn stamped_create_fn(fx: &Arc<Fixture>) -> MakeReq {
    let fx = fx.clone();
    let path = format!("/api/v1/catalogs/{}/records", fx.catalog_id);
    Arc::new(move |n| {
        let mut body: Value = serde_json::from_slice(&fx.create_body(n)).unwrap_or_default();
        if let Some(v) = body.get_mut("values").and_then(Value::as_object_mut) {
            v.insert(fx.f[0].clone(), json!(format!("a{}", now_ms())));
        }
        (
            Method::POST,
            path.clone(),
            Some(Bytes::from(body.to_string())),
        )
    })
}

/// The scenario: one Edit record of the event's record, setting its amount; after a timer of
/// `timer` seconds when given.
fn scenario(amount_field: &str, timer: Option<u64>) -> String {
    let p = |name: &str, expr: &str| {
        format!(
            r#"<camunda:inputParameter name="{name}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:inputParameter>"#,
            json!({"type": "script", "value": expr})
        )
    };
    let list = |name: &str, v: &str| {
        format!(
            r#"<camunda:inputParameter name="{name}"><camunda:list><camunda:value type="const">{v}</camunda:value></camunda:list></camunda:inputParameter>"#
        )
    };
    let values = format!(
        r#"<camunda:inputParameter name="values1"><camunda:map><camunda:entry key="{amount_field}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:entry></camunda:map></camunda:inputParameter>"#,
        json!({"type": "script", "value": "42"})
    );
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
<bpmn:process id="Process_1" isExecutable="false">
<bpmn:startEvent id="Start"/>{}
<bpmn:serviceTask id="Edit" name="mark"><bpmn:extensionElements><camunda:connector><camunda:connectorId>bpiumEdit</camunda:connectorId></camunda:connector><camunda:inputOutput>{}{}{}{}{}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>
<bpmn:endEvent id="End"/>
<bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="{}"/>{}
<bpmn:sequenceFlow id="F2" sourceRef="Edit" targetRef="End"/>
</bpmn:process>
</bpmn:definitions>"#,
        match timer {
            Some(t) => format!(
                r#"<bpmn:intermediateCatchEvent id="Wait"><bpmn:timerEventDefinition id="T"><bpmn:timeDuration>PT{t}S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#
            ),
            None => String::new(),
        },
        list("catalogFormat", "var"),
        p("catalogIdFromVar", "catalogId"),
        p("recordId", "recordId"),
        list("format", "keyvalue"),
        values,
        if timer.is_some() { "Wait" } else { "Edit" },
        if timer.is_some() {
            r#"<bpmn:sequenceFlow id="F0" sourceRef="Wait" targetRef="Edit"/>"#
        } else {
            ""
        }
    )
}

/// A `multipart/form-data` body of text fields and one file part.
fn multipart(fields: &[(&str, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("kartoteka-bench-{}", now_ms());
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.bpmn\"\r\nContent-Type: application/bpmn+xml\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Uploads the scenario, stores it in `$scripts` and subscribes it to the fixture catalog's
/// creates. Answers the `$events` record id.
pub async fn subscribe(c: &mut Conn, fx: &Fixture, timer: Option<u64>) -> Result<String> {
    let bpmn = scenario(&fx.f[1], timer).into_bytes();
    let ticket = call(
        c,
        Method::POST,
        "/api/v1/files",
        Some(json!({"catalogId": "$scripts", "fieldId": "$file", "name": "bench.bpmn", "size": bpmn.len(), "mimeType": "application/bpmn+xml", "typeStorage": "remoteStorage"})),
    )
    .await?;
    let text = |k: &str| ticket[k].as_str().unwrap_or_default().to_string();
    let url = text("uploadUrl");
    let path = match url.find("/storage/") {
        Some(i) => url[i..].to_string(),
        None => bail!("unexpected upload URL {url}"),
    };
    let (ctype, body) = multipart(
        &[
            ("key", text("fileKey")),
            ("acl", "private".into()),
            ("AWSAccessKeyId", text("AWSAccessKeyId")),
            ("Policy", text("police")),
            ("Signature", text("signature")),
            ("Content-Type", "application/bpmn+xml".into()),
        ],
        &bpmn,
    );
    let r = c
        .send_as(Method::POST, &path, Some(Bytes::from(body)), &ctype)
        .await
        .context("upload")?;
    if !r.status.is_success() {
        bail!("upload -> {}: {}", r.status, r.body_text());
    }
    let fid = ticket["fileId"].as_i64().context("no fileId")?;
    call(
        c,
        Method::PATCH,
        &format!("/api/v1/files/{fid}"),
        Some(json!({})),
    )
    .await?;
    let script = call(
        c,
        Method::POST,
        "/api/v1/catalogs/$scripts/records",
        Some(json!({"values": {"$name": "bench", "$file": [{"id": fid.to_string()}]}})),
    )
    .await?;
    let event = call(
        c,
        Method::POST,
        "/api/v1/catalogs/$events/records",
        Some(json!({"values": {
            "$status": ["$on"],
            "$name": "bench",
            "$catalog": [{"catalogId": "$catalogs", "recordId": fx.catalog_id}],
            "$eventTypes": ["$record.after.create"],
            "$script": [{"catalogId": "$scripts", "recordId": id_of(&script)?}],
        }})),
    )
    .await?;
    id_of(&event)
}

/// How many process records the server holds with this status.
async fn count(c: &mut Conn, status: &str) -> Result<u64> {
    let path = format!(
        "/api/v1/catalogs/$processes/records?limit=1&total=exact&filters={}",
        urlencode(&json!([{"fieldId": "$status", "value": [status]}]).to_string())
    );
    let r = c.send(Method::GET, &path, None).await?;
    if !r.status.is_success() {
        bail!("count -> {}: {}", r.status, r.body_text());
    }
    Ok(r.headers
        .get("x-total-count")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Waits (up to two minutes) until no run is left, switches the subscription off, then
/// reads every finished process of the phase: runs/s from the first send to the last end,
/// and the send-to-end latency percentiles.
pub async fn await_runs(
    c: &mut Conn,
    fx: &Fixture,
    subscription: &str,
    created: u64,
    phase_start: Started,
    timer: Option<u64>,
) -> Result<Value> {
    let wait_ms = timer.map(|t| t as i64 * 1000).unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(120 + timer.unwrap_or(0) * 2);
    // A failed poll (the server restarted meanwhile) is tried again.
    loop {
        let running = count(c, "$running").await.unwrap_or(u64::MAX);
        if running == 0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let waited = phase_start.at.elapsed();
    call(
        c,
        Method::PATCH,
        &format!("/api/v1/catalogs/$events/records/{subscription}"),
        Some(json!({"values": {"$status": ["$off"]}})),
    )
    .await?;
    // When each record of the phase was committed (its `created`), by id.
    let since = phase_start.wall_ms;
    let mut committed = std::collections::HashMap::new();
    let mut offset = 0;
    loop {
        let page = call(
            c,
            Method::GET,
            &format!(
                "/api/v1/catalogs/{}/records?limit=500&offset={offset}&fields={}",
                fx.catalog_id, fx.f[0]
            ),
            None,
        )
        .await?;
        let Some(items) = page.as_array().filter(|a| !a.is_empty()) else {
            break;
        };
        offset += items.len();
        let mut older = false;
        for r in items {
            let created = r["created"]
                .as_str()
                .and_then(|d| kartoteka_model::time::parse_instant(d, 0));
            match (r["id"].as_str(), created) {
                (Some(id), Some(at)) if at >= since => {
                    committed.insert(id.to_string(), at);
                }
                _ => older = true,
            }
        }
        // Newest first: past the phase's records the rest is older.
        if older {
            break;
        }
    }
    let mut lags = Vec::new();
    let mut commit_lags = Vec::new();
    let (mut first, mut last) = (i64::MAX, i64::MIN);
    let (mut done, mut failed) = (0u64, 0u64);
    // Finished runs whose record has no end date (their lag cannot be told).
    let mut undated = 0u64;
    let mut offset = 0;
    loop {
        let page = call(
            c,
            Method::GET,
            &format!("/api/v1/catalogs/$processes/records?limit=500&offset={offset}&fields=$input,$endDate,$status"),
            None,
        )
        .await?;
        let Some(items) = page.as_array().filter(|a| !a.is_empty()) else {
            break;
        };
        offset += items.len();
        for p in items {
            let v = &p["values"];
            let input: Value =
                serde_json::from_str(v["$input"].as_str().unwrap_or("{}")).unwrap_or_default();
            let Some(sent) = input["values"][&fx.f[0]]
                .as_str()
                .and_then(|t| t.strip_prefix('a'))
                .and_then(|t| t.parse::<i64>().ok())
            else {
                continue;
            };
            if sent < since {
                continue;
            }
            let status = v["$status"][0].as_str().unwrap_or_default();
            if status != "$done" {
                failed += 1;
                continue;
            }
            let Some(end) = v["$endDate"]
                .as_str()
                .and_then(|d| kartoteka_model::time::parse_instant(d, 0))
            else {
                undated += 1;
                continue;
            };
            done += 1;
            first = first.min(sent);
            last = last.max(end);
            lags.push(end - sent - wait_ms);
            if let Some(at) = input["recordId"].as_str().and_then(|r| committed.get(r)) {
                commit_lags.push(end - at - wait_ms);
            }
        }
    }
    let pct = |v: &mut Vec<i64>| -> Value {
        v.sort_unstable();
        if v.is_empty() {
            return Value::Null;
        }
        let at = |p: f64| v[(((v.len() as f64 - 1.0) * p).round() as usize).min(v.len() - 1)];
        json!({"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)})
    };
    let span_s = ((last - first).max(1)) as f64 / 1000.0;
    Ok(json!({
        "created": created,
        "runs_done": done,
        "runs_not_done": failed,
        "runs_done_undated": undated,
        // Created in the phase but found neither done nor not done among the processes.
        "runs_unseen": created.saturating_sub(done + failed + undated),
        "runs_per_s": (done as f64 / span_s * 10.0).round() / 10.0,
        "send_to_end_ms": pct(&mut lags),
        "commit_to_end_ms": pct(&mut commit_lags),
        "all_finished_after_s": (waited.as_secs_f64() * 10.0).round() / 10.0,
    }))
}
