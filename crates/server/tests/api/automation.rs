//! Scenarios running (issue 9): `$events` start a scenario after a write (a process record
//! for each run), `before.*` subscriptions veto or fill in a write, web listeners answer HTTP
//! calls from a scenario's `$status`/`$headers`/`$body`, a failing run is an `$error` process,
//! and deleting a running process's record stops it.

use std::time::Duration;

use serde_json::{json, Value};

use crate::files::upload;
use crate::support::{field_id, id, TestApp};

/// `{"type":"script","value":…}` as the CDATA of a parameter.
fn script(expr: &str) -> String {
    format!(
        r#"<camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script>"#,
        json!({"type": "script", "value": expr})
    )
}

pub(crate) fn input(name: &str, expr: &str) -> String {
    format!(
        r#"<camunda:inputParameter name="{name}">{}</camunda:inputParameter>"#,
        script(expr)
    )
}

pub(crate) fn list(name: &str, value: &str) -> String {
    format!(
        r#"<camunda:inputParameter name="{name}"><camunda:list><camunda:value type="const">{value}</camunda:value></camunda:list></camunda:inputParameter>"#
    )
}

pub(crate) fn pairs(name: &str, entries: &[(&str, &str)]) -> String {
    let mut out = format!(r#"<camunda:inputParameter name="{name}"><camunda:map>"#);
    for (k, e) in entries {
        out.push_str(&format!(
            r#"<camunda:entry key="{k}">{}</camunda:entry>"#,
            script(e)
        ));
    }
    out.push_str("</camunda:map></camunda:inputParameter>");
    out
}

/// A set-variables task: `vars` assigned in order.
pub(crate) fn setvar(vars: &[(&str, &str)]) -> (String, String) {
    let outputs: String = vars
        .iter()
        .map(|(n, e)| {
            format!(
                r#"<camunda:outputParameter name="{n}" configName="vars">{}</camunda:outputParameter>"#,
                script(e)
            )
        })
        .collect();
    ("setvar".into(), outputs)
}

/// Edit the event's own record: `values` pairs (field id → expression).
pub(crate) fn edit_own(values: &[(&str, &str)]) -> (String, String) {
    let params = [
        list("catalogFormat", "var"),
        input("catalogIdFromVar", "catalogId"),
        input("recordId", "recordId"),
        list("format", "keyvalue"),
        pairs("values1", values),
    ]
    .concat();
    ("bpiumEdit".into(), params)
}

/// A Code component running `source` (a function body).
pub(crate) fn code(source: &str) -> (String, String) {
    let cdata = json!({"type": "const", "value": source});
    (
        "code".into(),
        format!(
            r#"<camunda:inputParameter name="source"><camunda:script scriptFormat="JavaScript"><![CDATA[{cdata}]]></camunda:script></camunda:inputParameter>"#
        ),
    )
}

/// A timer of `duration` (ISO-8601).
pub(crate) fn timer(duration: &str) -> (String, String) {
    ("@timer".into(), duration.into())
}

/// start → each step in turn → end.
pub(crate) fn chain(steps: &[(String, String)]) -> Vec<u8> {
    let mut nodes = String::new();
    let mut flows = String::new();
    let mut prev = "Start".to_string();
    for (i, (connector, body)) in steps.iter().enumerate() {
        let id = format!("Step_{i}");
        if connector == "@timer" {
            nodes.push_str(&format!(
                r#"<bpmn:intermediateCatchEvent id="{id}" name="wait"><bpmn:timerEventDefinition id="T_{i}"><bpmn:timeDuration>{body}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#
            ));
        } else {
            nodes.push_str(&format!(
                r#"<bpmn:serviceTask id="{id}" name="step {i}"><bpmn:extensionElements><camunda:connector><camunda:connectorId>{connector}</camunda:connectorId></camunda:connector><camunda:inputOutput>{body}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#
            ));
        }
        flows.push_str(&format!(
            r#"<bpmn:sequenceFlow id="Flow_{i}" sourceRef="{prev}" targetRef="{id}"/>"#
        ));
        prev = id;
    }
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
<bpmn:process id="Process_1" isExecutable="false">
<bpmn:startEvent id="Start"/>{nodes}<bpmn:endEvent id="End"/>{flows}<bpmn:sequenceFlow id="Flow_end" sourceRef="{prev}" targetRef="End"/>
</bpmn:process>
</bpmn:definitions>"#
    )
    .into_bytes()
}

/// Uploads a scenario and answers its `$scripts` record id.
pub(crate) async fn scenario(t: &TestApp, name: &str, steps: &[(String, String)]) -> String {
    scenario_file(t, name, &chain(steps)).await
}

/// Uploads a scenario of this `.bpmn` and answers its `$scripts` record id.
pub(crate) async fn scenario_file(t: &TestApp, name: &str, bpmn: &[u8]) -> String {
    let f = upload(
        t,
        "$scripts",
        "$file",
        "s.bpmn",
        "application/bpmn+xml",
        bpmn,
    )
    .await;
    let fid = f["id"].as_i64().expect("file id").to_string();
    let r = t
        .post(
            "/api/v1/catalogs/$scripts/records",
            json!({"values": {"$name": name, "$file": [{"id": fid}]}}),
        )
        .await;
    id(r.expect(200))
}

async fn subscribe(
    t: &TestApp,
    catalog: &str,
    types: &[&str],
    script: &str,
    track: &str,
) -> String {
    let r = t
        .post(
            "/api/v1/catalogs/$events/records",
            json!({"values": {
                "$status": ["$on"],
                "$name": format!("on {types:?}"),
                "$catalog": [{"catalogId": "$catalogs", "recordId": catalog}],
                "$eventTypes": types,
                "$trackFields": track,
                "$script": [{"catalogId": "$scripts", "recordId": script}],
            }}),
        )
        .await;
    id(r.expect(200))
}

/// The process records, newest first.
pub(crate) async fn processes(t: &TestApp) -> Vec<Value> {
    t.get("/api/v1/catalogs/$processes/records")
        .await
        .expect(200)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub(crate) fn status_of(p: &Value) -> String {
    p["values"]["$status"]
        .as_array()
        .and_then(|a| a.first())
        .map(|s| {
            s.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s["id"].as_str().unwrap_or("").to_string())
        })
        .unwrap_or_default()
}

/// Polls until `done` holds (at most ~10 s).
/// The (first) `$error` process and its `$result`.
pub(crate) async fn error_result(t: &TestApp) -> (Value, Value) {
    let failed = processes(t)
        .await
        .into_iter()
        .find(|p| status_of(p) == "$error")
        .expect("an error process");
    let result =
        serde_json::from_str(failed["values"]["$result"].as_str().unwrap_or("{}")).expect("result");
    (failed, result)
}

async fn eventually<F, Fut>(what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn deals(t: &TestApp) -> (Value, String, String, String, String) {
    let cat = t
        .catalog(
            "Deals",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Amount", "type": "number"},
                {"name": "Note", "type": "text"},
            ]),
        )
        .await;
    let (title, amount, note) = (
        field_id(&cat, "Title"),
        field_id(&cat, "Amount"),
        field_id(&cat, "Note"),
    );
    let cid = id(&cat);
    (cat, cid, title, amount, note)
}

#[tokio::test]
async fn after_create_runs_the_scenario_and_records_the_process() {
    let t = TestApp::start().await;
    let (_, cid, title, amount, note) = deals(&t).await;
    let s = scenario(
        &t,
        "note it",
        &[
            setvar(&[(
                "seen",
                &format!("'seen ' + values['{title}'] + ' by ' + user.id"),
            )]),
            edit_own(&[(&note, "seen")]),
        ],
    )
    .await;
    let ev = subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    let rec = t
        .record(&cid, json!({title.clone(): "Acme", amount.clone(): 5}))
        .await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    eventually("the scenario's edit", || async {
        t.get(&path).await.json["values"][&note] == json!("seen Acme by 1")
    })
    .await;
    eventually("the process to be done", || async {
        processes(&t).await.iter().any(|p| status_of(p) == "$done")
    })
    .await;
    let p = processes(&t)
        .await
        .into_iter()
        .find(|p| status_of(p) == "$done")
        .expect("a done process");
    let v = &p["values"];
    assert_eq!(v["$script"][0]["recordId"], json!(s), "{p}");
    assert_eq!(v["$event"][0]["recordId"], json!(ev), "{p}");
    let input: Value = serde_json::from_str(v["$input"].as_str().unwrap_or("{}")).expect("input");
    assert_eq!(input["event"]["type"], "$record.after.create");
    assert_eq!(input["recordId"], json!(id(&rec)));
    assert_eq!(input["catalogId"], json!(cid));
    let result: Value =
        serde_json::from_str(v["$result"].as_str().unwrap_or("{}")).expect("result");
    assert_eq!(result["seen"], "seen Acme by 1", "{result}");
    assert_eq!(v["$pid"].as_str().map(str::len), Some(16), "{p}");

    // The edit by the process raised an update; an update subscription tracking Amount only
    // does not fire for it (the process changed Note).
    let s2 = scenario(&t, "never", &[setvar(&[("x", "1")])]).await;
    subscribe(&t, &cid, &["$record.after.update"], &s2, &amount).await;
    t.patch(&path, json!({"values": {note.clone(): "manual"}}))
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let runs_of_s2 = processes(&t)
        .await
        .iter()
        .filter(|p| p["values"]["$script"][0]["recordId"] == json!(s2))
        .count();
    assert_eq!(
        runs_of_s2, 0,
        "a tracked-fields subscription fired for another field"
    );
}

/// A record a scenario changes notifies webhooks like a client's change: the write goes
/// through the same core.
#[tokio::test]
async fn a_scenarios_write_notifies_webhooks() {
    use crate::webhooks::{signature, subscribe as hook, Answer, Receiver};
    let t = TestApp::start().await;
    let (_, cid, title, _, note) = deals(&t).await;
    let s = scenario(
        &t,
        "note it",
        &[
            setvar(&[("seen", &format!("'seen ' + values['{title}']"))]),
            edit_own(&[(&note, "seen")]),
        ],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    let rx = Receiver::start(Answer::ok()).await;
    hook(&t, &cid, &["record.updated"], &rx.url, json!({})).await;
    let rec = t.record(&cid, json!({title.clone(): "Acme"})).await;
    let calls = rx.wait_for(1, Duration::from_secs(10)).await;
    let m = calls[0].json();
    assert_eq!(
        calls[0].header("x-hook-signature"),
        Some(signature("s3cret", &calls[0].body))
    );
    assert_eq!(m["hook"]["event"], "record.updated", "{m}");
    assert_eq!(m["payload"]["recordId"], json!(id(&rec)), "{m}");
    assert_eq!(
        m["payload"]["values"],
        json!({note.clone(): "seen Acme"}),
        "the scenario's change: {m}"
    );
    assert_eq!(m["payload"]["prevValues"][&title], "Acme", "{m}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.calls().len(), 1, "one update, one notification");
}

/// A subscribed after-event is journaled with its record and forgotten once its run has
/// recorded itself; writes no subscription watches are not journaled.
#[tokio::test]
async fn an_after_event_stays_journaled_until_its_run_records_itself() {
    let t = TestApp::start().await;
    let (_, cid, title, _, note) = deals(&t).await;
    let s = scenario(
        &t,
        "slow",
        &[
            code("var t = Date.now(); while (Date.now() - t < 1000) {} return 1;"),
            edit_own(&[(&note, "'done'")]),
        ],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    let rec = t.record(&cid, json!({title.clone(): "A"})).await;
    let journaled = t.app.journaled_events().await.expect("journal");
    assert_eq!(journaled.len(), 1, "{journaled:?}");
    assert_eq!(journaled[0].record_id, id(&rec));
    assert_eq!(journaled[0].catalog_id, cid);
    assert_eq!(journaled[0].values[&title], json!("A"));
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    eventually("the scenario's edit", || async {
        t.get(&path).await.json["values"][&note] == json!("done")
    })
    .await;
    eventually("the journaled event to be forgotten", || async {
        t.app.journaled_events().await.is_ok_and(|j| j.is_empty())
    })
    .await;
    // The run's own edit (an update nothing subscribes to) and its process record left
    // nothing behind; neither does an update by hand.
    t.patch(&path, json!({"values": {title.clone(): "B"}}))
        .await
        .expect(200);
    let left = t.app.journaled_events().await.expect("journal");
    assert!(left.is_empty(), "{left:?}");
}

/// A run waiting on a timer has saved its state: its event is forgotten while it waits.
#[tokio::test]
async fn a_waiting_run_lets_its_event_go() {
    let t = TestApp::start().await;
    let (_, cid, title, _, _) = deals(&t).await;
    let s = scenario(&t, "waits", &[timer("PT30S")]).await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    t.record(&cid, json!({title.clone(): "A"})).await;
    eventually("the run to wait on its timer", || async {
        processes(&t)
            .await
            .iter()
            .any(|p| status_of(p) == "$running")
    })
    .await;
    eventually("the journaled event to be forgotten", || async {
        t.app.journaled_events().await.is_ok_and(|j| j.is_empty())
    })
    .await;
    assert!(processes(&t)
        .await
        .iter()
        .all(|p| status_of(p) == "$running"));
}

#[tokio::test]
async fn before_create_vetoes_or_fills_in_the_write() {
    let t = TestApp::start().await;
    let (_, cid, title, amount, note) = deals(&t).await;
    let s = scenario(
        &t,
        "check",
        &[setvar(&[
            ("$status", &format!("values['{amount}'] > 100 ? 400 : 200")),
            (
                "$body",
                &format!("{{message: 'too big: ' + values['{amount}'], values: {{'{note}': 'checked ' + (typeof recordId)}}}}"),
            ),
        ])],
    )
    .await;
    subscribe(&t, &cid, &["$record.before.create"], &s, "").await;
    let before = t
        .get(&format!("/api/v1/catalogs/{cid}/records"))
        .await
        .expect(200)
        .as_array()
        .map(Vec::len);
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/records"),
            json!({"values": {title.clone(): "Big", amount.clone(): 500}}),
        )
        .await;
    r.expect_error(400, "rejected_by_event", None);
    assert_eq!(r.json["message"], "too big: 500");
    let after = t
        .get(&format!("/api/v1/catalogs/{cid}/records"))
        .await
        .expect(200)
        .as_array()
        .map(Vec::len);
    assert_eq!(before, after, "a vetoed record was written");

    // Allowed: the scenario's values are written with the record (recordId is undefined
    // before a create).
    let ok = t
        .record(&cid, json!({title.clone(): "Small", amount.clone(): 5}))
        .await;
    assert_eq!(ok["values"][&note], "checked undefined", "{ok}");
}

#[tokio::test]
async fn a_failing_scenario_denies_a_before_write_and_is_an_error_process() {
    let t = TestApp::start().await;
    let (_, cid, title, _, _) = deals(&t).await;
    let s = scenario(&t, "broken", &[setvar(&[("err0r", "err0r")])]).await;
    subscribe(&t, &cid, &["$record.before.create"], &s, "").await;
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/records"),
            json!({"values": {title.clone(): "X"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_event", None);
    let message = r.json["message"].as_str().unwrap_or_default().to_string();
    assert!(message.starts_with("Scenario error: "), "{message}");
    assert!(message.contains("err0r"), "{message}");
    let (failed, result) = error_result(&t).await;
    assert!(
        result["$error"]
            .as_str()
            .is_some_and(|e| e.contains("err0r")),
        "{result}"
    );
    assert_eq!(
        failed["values"]["$launchType"],
        json!(["$sync"]),
        "{failed}"
    );
}

#[tokio::test]
async fn web_listeners_answer_from_the_scenario() {
    let t = TestApp::start().await;
    let s = scenario(
        &t,
        "echo",
        &[setvar(&[
            ("$status", "201"),
            ("$headers", "{'x-kt': 'yes'}"),
            (
                "$body",
                "{name: body.name, a: query.a, method: method, hasUrl: url.indexOf('/api/webrequest/hello') >= 0, listener: event.type}",
            ),
        ])],
    )
    .await;
    let listener = |url_id: &str, status: &str, script: &str| {
        json!({"values": {
            "$status": [status],
            "$name": url_id,
            "$urlId": url_id,
            "$script": [{"catalogId": "$scripts", "recordId": script}],
        }})
    };
    t.post(
        "/api/v1/catalogs/$webRequests/records",
        listener("hello", "$on", &s),
    )
    .await
    .expect(200);
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/webrequest/hello/?a=1", t.base))
        .json(&json!({"name": "Ann"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 201);
    assert_eq!(r.headers()["x-kt"], "yes");
    let body: Value = r.json().await.expect("json");
    assert_eq!(
        body,
        json!({"name": "Ann", "a": "1", "method": "POST", "hasUrl": true, "listener": "$webRequest"})
    );

    // A string body is text; async answers at once with 200 and nothing.
    let s_text = scenario(&t, "text", &[setvar(&[("$body", "'plain ' + method")])]).await;
    t.post(
        "/api/v1/catalogs/$webRequests/records",
        listener("text", "$on", &s_text),
    )
    .await
    .expect(200);
    let r = client
        .get(format!("{}/api/webrequest/text", t.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/plain"));
    assert_eq!(r.text().await.expect("text"), "plain GET");
    let r = client
        .get(format!("{}/api/webrequest/text?async=true", t.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.text().await.expect("text"), "");

    // Unknown, switched off, failing.
    let r = client
        .get(format!("{}/api/webrequest/nobody", t.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
    t.post(
        "/api/v1/catalogs/$webRequests/records",
        listener("off", "$off", &s),
    )
    .await
    .expect(200);
    let r = client
        .get(format!("{}/api/webrequest/off", t.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 404);
    let broken = scenario(&t, "broken", &[setvar(&[("x", "nope.nothing")])]).await;
    t.post(
        "/api/v1/catalogs/$webRequests/records",
        listener("broken", "$on", &broken),
    )
    .await
    .expect(200);
    let r = client
        .get(format!("{}/api/webrequest/broken", t.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 500);
    let body: Value = r.json().await.expect("json");
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains("nope")),
        "{body}"
    );
}

#[tokio::test]
async fn deleting_a_running_process_record_stops_it() {
    // A run waiting a moment sleeps in place.
    delete_a_waiting_run("PT1S", 1800).await;
}

/// A run waiting longer parks (only its id stays in memory) and is stopped all the same.
#[tokio::test]
async fn deleting_a_parked_process_record_stops_it() {
    delete_a_waiting_run("PT3S", 3800).await;
}

async fn delete_a_waiting_run(duration: &str, then_ms: u64) {
    let t = TestApp::start().await;
    let (_, cid, title, _, note) = deals(&t).await;
    let s = scenario(
        &t,
        "slow",
        &[timer(duration), edit_own(&[(&note, "'too late'")])],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    let rec = t.record(&cid, json!({title.clone(): "Wait"})).await;
    let mut running = None;
    for _ in 0..100 {
        running = processes(&t)
            .await
            .into_iter()
            .find(|p| status_of(p) == "$running");
        if running.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = id(running.as_ref().expect("running"));
    t.delete(&format!("/api/v1/catalogs/$processes/records/{pid}"))
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(then_ms)).await;
    let now = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&rec)))
        .await
        .expect(200)
        .clone();
    assert!(
        now["values"][&note].is_null() || now["values"][&note] == json!(""),
        "the aborted process still ran its next component: {now}"
    );
}

/// A run waiting on a timer longer than a moment leaves memory and continues from its saved
/// state: what it set before the wait, its input, its `$pid` and its employee are all there
/// after it (a child process started after the wait sees the parent's user and `$pid`).
#[tokio::test]
async fn a_run_parked_on_a_timer_continues_as_it_was() {
    let t = TestApp::start().await;
    let (_, cid, title, _, note) = deals(&t).await;
    let child = scenario(
        &t,
        "kin",
        &[setvar(&[(
            "kin",
            "event.type + ' ' + user.id + ' ' + parentProcess.id",
        )])],
    )
    .await;
    let run_child = run_process(&child, &[("x", "1")], &[("childVars", "output")]);
    let parent = scenario(
        &t,
        "parks",
        &[
            setvar(&[(
                "before",
                "'set before ' + values['TITLE']"
                    .replace("TITLE", &title)
                    .as_str(),
            )]),
            timer("PT2S"),
            run_child,
            edit_own(&[(&note, "before + ' / ' + childVars.kin")]),
        ],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &parent, "").await;
    let rec = t.record(&cid, json!({title.clone(): "Q4"})).await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    let parent_run = || async {
        processes(&t)
            .await
            .into_iter()
            .find(|p| p["values"]["$script"][0]["recordId"] == json!(parent))
    };
    // The run's record appears at its first save, which may be a yield before the timer:
    // it waits on the timer once its saved state has a wake-up time.
    let saved_waiting = || async {
        let p = parent_run().await?;
        let saved = t.app.process_run(&id(&p)).await.ok()??;
        saved.wake_at.map(|_| p)
    };
    eventually("the run to wait on its timer", || async {
        saved_waiting().await.is_some()
    })
    .await;
    let waiting = saved_waiting().await.expect("the parent's process");
    assert_eq!(status_of(&waiting), "$running", "{waiting}");
    eventually("the run to end", || async {
        parent_run()
            .await
            .is_some_and(|p| status_of(&p) != "$running")
    })
    .await;
    let ended = parent_run().await.expect("the parent's process");
    assert_eq!(status_of(&ended), "$done", "{ended}");
    assert_eq!(ended["values"]["$pid"], waiting["values"]["$pid"]);
    let pid = ended["values"]["$pid"].as_str().unwrap_or_default();
    let got = t.get(&path).await.expect(200).clone();
    assert_eq!(
        got["values"][&note],
        json!(format!("set before Q4 / $process 1 {pid}")),
        "{got}"
    );
    // The ending is written to the record first, then the saved state is forgotten.
    eventually("the saved run to be forgotten", || async {
        t.app
            .process_run(&id(&ended))
            .await
            .is_ok_and(|r| r.is_none())
    })
    .await;
}

#[tokio::test]
async fn updating_answers_a_changes_call_from_the_scenario() {
    let t = TestApp::start().await;
    let (_, cid, title, amount, note) = deals(&t).await;
    let s = scenario(
        &t,
        "autofill",
        &[setvar(&[(
            "$body",
            &format!(
                "{{message: {{title: 'Hint', text: 'new: ' + (typeof recordId === 'undefined')}}, values: {{'{note}': 'amount ' + allValues['{amount}'] + ', typed ' + values['{title}']}}}}"
            ),
        )])],
    )
    .await;
    subscribe(&t, &cid, &["$record.updating"], &s, &title).await;
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/changes"),
            json!({"values": {title.clone(): "Ac"}, "allValues": {title.clone(): "Ac", amount.clone(): 7}}),
        )
        .await;
    assert_eq!(
        r.expect(200),
        &json!({"messages": [{"title": "Hint", "text": "new: true"}], "values": {note.clone(): "amount 7, typed Ac"}})
    );
    // A change of an untracked field runs nothing; nothing was written either way.
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/changes"),
            json!({"values": {amount.clone(): 8}, "allValues": {amount.clone(): 8}}),
        )
        .await;
    assert_eq!(r.expect(200), &json!({"messages": [], "values": {}}));
    let listed = t.get(&format!("/api/v1/catalogs/{cid}/records")).await;
    assert_eq!(listed.expect(200), &json!([]));
}

/// A scenario that updates its own record on every update would run forever: past a chain
/// of ten runs no run starts, and an `$error` process says why.
#[tokio::test]
async fn a_scenario_triggering_itself_stops_after_ten_runs() {
    let t = TestApp::start().await;
    let (_, cid, title, amount, _) = deals(&t).await;
    let s = scenario(
        &t,
        "loop",
        &[edit_own(&[(
            &amount,
            &format!("allValues['{amount}'] + 1"),
        )])],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.update"], &s, "").await;
    let rec = t
        .record(&cid, json!({title.clone(): "L", amount.clone(): 0}))
        .await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    t.patch(&path, json!({"values": {amount.clone(): 1}}))
        .await
        .expect(200);
    eventually("the refused run", || async {
        processes(&t).await.iter().any(|p| {
            status_of(p) == "$error"
                && p["values"]["$result"]
                    .as_str()
                    .is_some_and(|r| r.contains("not started"))
        })
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = t.get(&path).await.expect(200).clone();
    // The employee's edit (1) and ten runs, each adding one.
    assert_eq!(now["values"][&amount], json!(11), "{now}");
    let done = processes(&t)
        .await
        .iter()
        .filter(|p| status_of(p) == "$done")
        .count();
    assert_eq!(done, 10);
}

/// A slot output: component result `slot` into variable `target`.
/// A Run process step (a `$scripts` record from the list) waiting for the child, with its
/// parameters as key-value pairs and its outputs as (variable, slot).
fn run_process(child: &str, params: &[(&str, &str)], outputs: &[(&str, &str)]) -> (String, String) {
    let mut parts = vec![
        list("scriptFormat", "list"),
        input("scriptId", &format!("'{child}'")),
        list("format", "keyvalue"),
        pairs("params", params),
    ];
    parts.extend(outputs.iter().map(|(target, s)| slot(target, s)));
    ("runProcess".to_string(), parts.concat())
}

pub(crate) fn slot(target: &str, slot: &str) -> String {
    format!(
        r#"<camunda:outputParameter name="{target}" configName="{slot}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:outputParameter>"#,
        json!({"type": "outputResult", "value": slot})
    )
}

/// Run process (spec 03 §4.5) waits for its child and gets its variables; Upload file stores
/// what a scenario made and writes it into a record's file field.
#[tokio::test]
async fn child_processes_and_files_made_by_a_scenario() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Jobs",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Note", "type": "text"},
                {"name": "Report", "type": "file"},
            ]),
        )
        .await;
    let (cid, title, note, report) = (
        id(&cat),
        field_id(&cat, "Title"),
        field_id(&cat, "Note"),
        field_id(&cat, "Report"),
    );
    let child = scenario(
        &t,
        "double",
        &[setvar(&[
            ("y", "x * 2"),
            ("seen", "typeof recordId"),
            (
                "kin",
                "event.type + ' ' + event.async + ' ' + user.id + ' ' + script.id + ' ' + parentProcess.id",
            ),
        ])],
    )
    .await;
    let run_child = run_process(
        &child,
        &[("x", "21")],
        &[("childVars", "output"), ("childPid", "output_pid")],
    );
    let upload = (
        "bpiumFileUpload".to_string(),
        [
            input("file_data", "'hello ' + values['TITLE']"),
            input("file_name", "'note.txt'"),
            list("output_format", "catalog"),
            input("output_catalogId", "catalogId"),
            input("output_recordId", "recordId"),
            input("output_fieldId", &format!("'{report}'")),
            slot("fileUrl", "output_url"),
        ]
        .concat()
        .replace("TITLE", &title),
    );
    let parent = scenario(
        &t,
        "parent",
        &[
            run_child,
            upload,
            edit_own(&[(
                &note,
                "childVars.y + ' ' + childVars.seen + ' ' + (childPid.length > 0) + ' ' + (fileUrl.indexOf('/api/v1/files/') > 0) + ' ' + childVars.kin",
            )]),
        ],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &parent, "").await;
    let rec = t.record(&cid, json!({title.clone(): "Q3"})).await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    for _ in 0..200 {
        if processes(&t).await.iter().any(|p| {
            p["values"]["$script"][0]["recordId"] == json!(parent) && status_of(p) != "$running"
        }) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let runs = processes(&t).await;
    let parent_run = runs
        .iter()
        .find(|p| p["values"]["$script"][0]["recordId"] == json!(parent))
        .expect("the parent's process");
    assert_eq!(status_of(parent_run), "$done", "{parent_run}");
    let got = t.get(&path).await.expect(200).clone();
    // The child sees its params, and (spec 03 §4.5, recommended) a `$process` event, its
    // script, the parent's user and the parent's `$pid`.
    let parent_pid = parent_run["values"]["$pid"].as_str().unwrap_or_default();
    assert_eq!(parent_pid.len(), 16, "{parent_run}");
    assert_eq!(
        got["values"][&note],
        json!(format!(
            "42 undefined true true $process false 1 {child} {parent_pid}"
        )),
        "{got}"
    );
    let url = got["values"][&report][0]["url"]
        .as_str()
        .expect("a stored file")
        .to_string();
    assert_eq!(got["values"][&report][0]["title"], "note.txt");
    let (status, _, bytes) = crate::files::fetch(&url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"hello Q3");
    // Two process records: the child's (sync, done) and the parent's.
    eventually("both processes done", || async {
        processes(&t)
            .await
            .iter()
            .filter(|p| status_of(p) == "$done")
            .count()
            == 2
    })
    .await;
}

/// A one-connection SMTP server on loopback that accepts one message and keeps its text.
async fn fake_smtp() -> (u16, tokio::task::JoinHandle<String>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = tokio::spawn(async move {
        let Ok((sock, _)) = listener.accept().await else {
            return String::new();
        };
        let (r, mut w) = sock.into_split();
        let mut lines = BufReader::new(r).lines();
        let mut data = String::new();
        let _ = w.write_all(b"220 fake ESMTP\r\n").await;
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    let _ = w.write_all(b"250 queued\r\n").await;
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-fake\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("DATA") {
                in_data = true;
                b"354 go on\r\n"
            } else if upper.starts_with("QUIT") {
                let _ = w.write_all(b"221 bye\r\n").await;
                break;
            } else {
                b"250 ok\r\n"
            };
            let _ = w.write_all(reply).await;
        }
        data
    });
    (port, handle)
}

#[tokio::test]
async fn send_mail_goes_out_over_smtp() {
    let t = TestApp::start().await;
    let (_, cid, title, _, _) = deals(&t).await;
    let (port, received) = fake_smtp().await;
    let mail = (
        "sendMail".to_string(),
        [
            list("connectionType", "parameters"),
            input("smtphost", "'127.0.0.1'"),
            input("smtpport", &port.to_string()),
            input("from", "'Robot <robot@example.com>'"),
            input("to", "'ann@example.com, bob@example.com'"),
            input("subject", &format!("'Deal ' + values['{title}']")),
            list("bodyType", "text"),
            input("body", "'Created by ' + user.id"),
            slot("sent", "output"),
        ]
        .concat(),
    );
    let s = scenario(&t, "mail", &[mail]).await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    t.record(&cid, json!({title.clone(): "Acme"})).await;
    let text = tokio::time::timeout(Duration::from_secs(10), received)
        .await
        .expect("a message within 10 s")
        .expect("the fake server");
    assert!(text.contains("Subject: Deal Acme"), "{text}");
    assert!(
        text.contains("To: ann@example.com, bob@example.com"),
        "{text}"
    );
    assert!(text.contains("Created by 1"), "{text}");
    eventually("the process to be done", || async {
        processes(&t).await.iter().any(|p| status_of(p) == "$done")
    })
    .await;
    let p = processes(&t).await;
    let result: Value =
        serde_json::from_str(p[0]["values"]["$result"].as_str().unwrap_or("{}")).expect("result");
    assert!(
        result["sent"].to_string().contains("@kartoteka>"),
        "{result}"
    );

    // A server that is not there: the component fails with SMTP, the process is an error.
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let broken = (
        "sendMail".to_string(),
        [
            list("connectionType", "parameters"),
            input("smtphost", "'127.0.0.1'"),
            input("smtpport", &dead_port.to_string()),
            input("from", "'robot@example.com'"),
            input("to", "'ann@example.com'"),
            input("subject", "'x'"),
            input("body", "'y'"),
        ]
        .concat(),
    );
    let s2 = scenario(&t, "mail to nowhere", &[broken]).await;
    let listener = json!({"values": {
        "$status": ["$on"], "$name": "m", "$urlId": "mail",
        "$script": [{"catalogId": "$scripts", "recordId": s2}],
    }});
    t.post("/api/v1/catalogs/$webRequests/records", listener)
        .await
        .expect(200);
    let r = reqwest::get(format!("{}/api/webrequest/mail", t.base))
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 500);
}

/// The mailbox of [`fake_imap`], by UID: a plain message, a multipart one (text, HTML and a
/// CSV attachment) and another plain one.
fn mailbox() -> Vec<(u32, String)> {
    let plain = |subject: &str, body: &str| {
        format!(
            "From: Ann <ann@example.com>\r\nTo: robot@example.com\r\nSubject: {subject}\r\nDate: Tue, 02 Jan 2024 09:00:00 +0000\r\nMessage-ID: <{subject}@example.com>\r\n\r\n{body}\r\n"
        )
    };
    let multipart = "From: \"Bob, Sales\" <bob@example.com>\r\n\
To: Robot <robot@example.com>\r\n\
Subject: =?UTF-8?B?0KHRh9GR0YI=?= 7\r\n\
Date: Wed, 03 Jan 2024 12:30:00 +0300\r\n\
Message-ID: <invoice-7@example.com>\r\n\
X-Kind: invoice\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: multipart/alternative; boundary=\"YY\"\r\n\
\r\n\
--YY\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Invoice attached\r\n\
--YY\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Invoice attached</p>\r\n\
--YY--\r\n\
--XX\r\n\
Content-Type: text/csv; name=\"list.csv\"\r\n\
Content-Disposition: attachment; filename=\"list.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YSxiCjEsMgo=\r\n\
--XX--\r\n";
    vec![
        (7, plain("first", "Hello")),
        (12, multipart.to_string()),
        (30, plain("third", "Bye")),
    ]
}

/// An IMAP server on loopback (plain TCP, no STARTTLS) over [`mailbox`]: it logs in `robot`
/// with `secret`, finds every message for any search (answering the UIDs out of order) and
/// keeps each command it got, literals joined in, one string per command.
async fn fake_imap() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let messages = mailbox();
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let _ = w.write_all(b"* OK fake IMAP ready\r\n").await;
                loop {
                    // One command, with its synchronising literals read after a go-ahead.
                    let mut command = Vec::new();
                    loop {
                        let mut line = Vec::new();
                        if r.read_until(b'\n', &mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            line.pop();
                        }
                        let literal = std::str::from_utf8(&line).ok().and_then(|l| {
                            let open = l.rfind('{')?;
                            l[open + 1..].strip_suffix('}')?.parse::<usize>().ok()
                        });
                        command.extend_from_slice(&line);
                        let Some(n) = literal else { break };
                        let _ = w.write_all(b"+ go ahead\r\n").await;
                        let mut bytes = vec![0; n];
                        if r.read_exact(&mut bytes).await.is_err() {
                            return;
                        }
                        command.extend_from_slice(b"\r\n");
                        command.extend_from_slice(&bytes);
                    }
                    let command = String::from_utf8_lossy(&command).to_string();
                    log.lock().expect("log").push(command.clone());
                    let (tag, rest) = command.split_once(' ').unwrap_or((&command, ""));
                    let upper = rest.to_ascii_uppercase();
                    let seq = |uid: u32| {
                        messages
                            .iter()
                            .position(|(u, _)| *u == uid)
                            .map_or(0, |i| i + 1)
                    };
                    let uid_arg = || {
                        upper
                            .split_whitespace()
                            .nth(2)
                            .and_then(|u| u.parse::<u32>().ok())
                            .unwrap_or(0)
                    };
                    let reply: Vec<u8> = if upper.starts_with("CAPABILITY") {
                        format!("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n")
                            .into_bytes()
                    } else if upper.starts_with("LOGIN") {
                        if rest.ends_with(" \"secret\"") {
                            format!("{tag} OK logged in\r\n").into_bytes()
                        } else {
                            format!("{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
                                .into_bytes()
                        }
                    } else if upper.starts_with("SELECT") || upper.starts_with("EXAMINE") {
                        let mode = if upper.starts_with("SELECT") {
                            "READ-WRITE"
                        } else {
                            "READ-ONLY"
                        };
                        format!("* 3 EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged)\r\n* OK [UIDVALIDITY 1] ok\r\n{tag} OK [{mode}] done\r\n").into_bytes()
                    } else if upper.starts_with("UID SEARCH") {
                        format!("* SEARCH 30 7 12\r\n{tag} OK search done\r\n").into_bytes()
                    } else if upper.starts_with("UID FETCH") && upper.contains("RFC822.SIZE") {
                        let uid = uid_arg();
                        let size = messages
                            .iter()
                            .find(|(u, _)| *u == uid)
                            .map_or(0, |(_, m)| m.len());
                        format!(
                            "* {} FETCH (UID {uid} RFC822.SIZE {size})\r\n{tag} OK fetched\r\n",
                            seq(uid)
                        )
                        .into_bytes()
                    } else if upper.starts_with("UID FETCH") {
                        let uid = uid_arg();
                        let mut out = Vec::new();
                        if let Some((_, m)) = messages.iter().find(|(u, _)| *u == uid) {
                            out.extend_from_slice(
                                format!(
                                    "* {} FETCH (UID {uid} BODY[] {{{}}}\r\n",
                                    seq(uid),
                                    m.len()
                                )
                                .as_bytes(),
                            );
                            out.extend_from_slice(m.as_bytes());
                            out.extend_from_slice(b")\r\n");
                        }
                        out.extend_from_slice(format!("{tag} OK fetched\r\n").as_bytes());
                        out
                    } else if upper.starts_with("UID STORE") {
                        let uid = uid_arg();
                        format!(
                            "* {} FETCH (UID {uid} FLAGS (\\Seen))\r\n{tag} OK stored\r\n",
                            seq(uid)
                        )
                        .into_bytes()
                    } else if upper.starts_with("LOGOUT") {
                        let _ = w
                            .write_all(format!("* BYE\r\n{tag} OK bye\r\n").as_bytes())
                            .await;
                        return;
                    } else {
                        format!("{tag} BAD unknown command\r\n").into_bytes()
                    };
                    let _ = w.write_all(&reply).await;
                }
            });
        }
    });
    (port, seen)
}

/// A web listener `urlId` running `steps` and answering `$body`; answers the HTTP reply.
pub(crate) async fn call_listener(
    t: &TestApp,
    url_id: &str,
    steps: &[(String, String)],
) -> (u16, Value) {
    let s = scenario(t, url_id, steps).await;
    call_script(t, url_id, &s).await
}

/// Binds the scenario `script` to a web listener at `url_id`, calls it once with GET and
/// answers the reply's status and JSON body.
pub(crate) async fn call_script(t: &TestApp, url_id: &str, s: &str) -> (u16, Value) {
    let listener = json!({"values": {
        "$status": ["$on"], "$name": url_id, "$urlId": url_id,
        "$script": [{"catalogId": "$scripts", "recordId": s}],
    }});
    t.post("/api/v1/catalogs/$webRequests/records", listener)
        .await
        .expect(200);
    let r = reqwest::get(format!("{}/api/webrequest/{url_id}", t.base))
        .await
        .expect("send");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A Receive mail step against the fake server on `port`, with these further parameters,
/// its message into `mail` and its count into `count`.
fn receive_mail(port: u16, password: &str, params: &[String]) -> (String, String) {
    let mut body = vec![
        list("connectionType", "parameters"),
        input("host", "'127.0.0.1'"),
        input("port", &port.to_string()),
        list("encryption", "off"),
        input("login", "'robot'"),
        input("password", &format!("'{password}'")),
    ];
    body.extend(params.iter().cloned());
    body.push(slot("mail", "output"));
    body.push(slot("count", "outputCount"));
    ("receiveMail".to_string(), body.concat())
}

/// The commands the fake server got that start with `prefix`.
fn commands(seen: &std::sync::Mutex<Vec<String>>, prefix: &str) -> Vec<String> {
    seen.lock()
        .expect("log")
        .iter()
        .filter_map(|c| c.split_once(' ').map(|(_, rest)| rest.to_string()))
        .filter(|c| c.starts_with(prefix))
        .collect()
}

/// Receive mail reads an IMAP mailbox (spec 03 §7.4.1): the standard filter becomes the
/// SEARCH (a Cyrillic subject as a UTF-8 literal), the found UIDs count oldest first, the
/// chosen message is parsed into the mailparser shape and its attachment stored as a file;
/// the extended filter passes node-imap criteria and `content` inlines the bytes.
#[tokio::test]
async fn receive_mail_reads_an_imap_mailbox() {
    let t = TestApp::start().await;
    let (port, seen) = fake_imap().await;
    // The scenario files what it read: the subject and the stored attachments in a record.
    let inbox = t
        .catalog(
            "Inbox",
            json!([{"name": "Subject", "type": "text"}, {"name": "Files", "type": "file"}]),
        )
        .await;
    let (inbox_id, subject, files) = (
        id(&inbox),
        field_id(&inbox, "Subject"),
        field_id(&inbox, "Files"),
    );
    let file_it = (
        "bpiumAdd".to_string(),
        [
            list("catalogFormat", "catalog"),
            input("catalogId", &format!("'{inbox_id}'")),
            list("format", "keyvalue"),
            pairs(
                "values1",
                &[
                    (&subject, "mail.subject"),
                    (&files, "mail.attachments.map(a => ({id: a.fileId}))"),
                ],
            ),
        ]
        .concat(),
    );
    let step = receive_mail(
        port,
        "secret",
        &[
            list("filterType", "standard"),
            list("category", "unseen"),
            input("dateFrom", "'2024-01-01T10:00:00.000Z'"),
            input("sender", "'bob@example.com'"),
            input("subject", "'Счёт'"),
            input("index", "1"),
            list("attachments", "links"),
            list("markRead", "no"),
        ],
    );
    let (status, body) = call_listener(
        &t,
        "inbox",
        &[
            step,
            file_it,
            setvar(&[("$body", "{mail: mail, count: count}")]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mail = &body["mail"];
    assert_eq!(body["count"], 3, "{body}");
    assert_eq!(mail["subject"], "Счёт 7", "{mail}");
    assert_eq!(mail["messageId"], "<invoice-7@example.com>");
    assert_eq!(mail["date"], "2024-01-03T09:30:00.000Z");
    assert_eq!(
        mail["from"],
        json!({"value": [{"address": "bob@example.com", "name": "Bob, Sales"}], "text": "\"Bob, Sales\" <bob@example.com>"})
    );
    assert_eq!(mail["to"]["value"][0]["address"], "robot@example.com");
    assert_eq!(
        mail["text"].as_str().map(str::trim),
        Some("Invoice attached")
    );
    assert_eq!(
        mail["html"].as_str().map(str::trim),
        Some("<p>Invoice attached</p>")
    );
    assert_eq!(mail["headers"]["x-kind"], "invoice");
    let att = &mail["attachments"][0];
    assert_eq!(
        mail["attachments"].as_array().map(Vec::len),
        Some(1),
        "{mail}"
    );
    assert_eq!(
        (&att["filename"], &att["contentType"], &att["size"]),
        (&json!("list.csv"), &json!("text/csv"), &json!(8)),
        "{att}"
    );
    let file_id = att["fileId"].as_str().expect("a file id").to_string();
    let url = att["url"].as_str().expect("a url").to_string();
    assert!(url.ends_with(&format!("/api/v1/files/{file_id}")), "{url}");
    // Saved into a record, the attachment downloads with its bytes.
    let filed = t
        .get(&format!("/api/v1/catalogs/{inbox_id}/records"))
        .await
        .expect(200)
        .clone();
    assert_eq!(filed[0]["values"][&subject], "Счёт 7", "{filed}");
    let stored = &filed[0]["values"][&files][0];
    assert_eq!(
        stored["id"].to_string().trim_matches('"'),
        file_id,
        "{stored}"
    );
    assert_eq!(stored["title"], "list.csv", "{stored}");
    let (status, _, bytes) = crate::files::fetch(&url).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, b"a,b\n1,2\n");

    // What the server was asked: read-only, the filter as SEARCH keys, the second-oldest
    // UID fetched without setting \Seen, nothing stored.
    assert_eq!(commands(&seen, "LOGIN"), ["LOGIN \"robot\" \"secret\""]);
    assert_eq!(commands(&seen, "EXAMINE"), ["EXAMINE \"INBOX\""]);
    assert!(commands(&seen, "SELECT").is_empty());
    assert_eq!(
        commands(&seen, "UID SEARCH"),
        ["UID SEARCH CHARSET UTF-8 UNSEEN SINCE 1-Jan-2024 FROM \"bob@example.com\" SUBJECT {8}\r\nСчёт"]
    );
    assert_eq!(
        commands(&seen, "UID FETCH"),
        [
            "UID FETCH 12 (UID RFC822.SIZE)",
            "UID FETCH 12 (UID BODY.PEEK[])"
        ]
    );
    assert!(commands(&seen, "UID STORE").is_empty());
    assert_eq!(commands(&seen, "LOGOUT").len(), 1);

    // The extended filter: node-imap criteria; attachments inlined as a Node Buffer.
    seen.lock().expect("log").clear();
    let step = receive_mail(
        port,
        "secret",
        &[
            list("filterType", "extended"),
            input(
                "criteria",
                "['UNSEEN', ['SINCE', '2024-01-01'], ['FROM', 'a@b'], ['!HEADER', 'X-Kind', 'spam']]",
            ),
            input("index", "1"),
            list("attachments", "content"),
        ],
    );
    let (status, body) = call_listener(
        &t,
        "extended",
        &[step, setvar(&[("$body", "{mail: mail, count: count}")])],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        commands(&seen, "UID SEARCH"),
        ["UID SEARCH UNSEEN SINCE 1-Jan-2024 FROM \"a@b\" NOT HEADER \"X-Kind\" \"spam\""]
    );
    let att = &body["mail"]["attachments"][0];
    assert_eq!(
        att["content"],
        json!({"type": "Buffer", "data": b"a,b\n1,2\n".to_vec()}),
        "{att}"
    );
    assert_eq!(att["size"], 8);
    assert!(att.get("fileId").is_none(), "{att}");

    // Past the last found message: no message, still the count; no FETCH.
    seen.lock().expect("log").clear();
    let step = receive_mail(port, "secret", &[input("index", "5")]);
    let (status, body) = call_listener(
        &t,
        "past",
        &[step, setvar(&[("$body", "{mail: mail, count: count}")])],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"mail": null, "count": 3}));
    assert_eq!(commands(&seen, "UID SEARCH"), ["UID SEARCH ALL"]);
    assert!(commands(&seen, "UID FETCH").is_empty());

    // Criteria the component cannot express fail before any connection.
    seen.lock().expect("log").clear();
    let step = receive_mail(
        port,
        "secret",
        &[
            list("filterType", "extended"),
            input("criteria", "['SPAMMY']"),
        ],
    );
    let (status, body) = call_listener(&t, "unknown", &[step]).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown search key \"SPAMMY\"")),
        "{body}"
    );
    assert!(seen.lock().expect("log").is_empty());
}

/// `markRead` selects the mailbox read-write and sets `\Seen` on the message it returns.
#[tokio::test]
async fn receive_mail_marks_the_message_read() {
    let t = TestApp::start().await;
    let (port, seen) = fake_imap().await;
    let step = receive_mail(
        port,
        "secret",
        &[
            list("category", "unseen"),
            input("index", "0"),
            list("markRead", "yes"),
        ],
    );
    let (status, body) = call_listener(
        &t,
        "read",
        &[
            step,
            setvar(&[(
                "$body",
                "{subject: mail.subject, count: count, attachments: mail.attachments}",
            )]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"subject": "first", "count": 3, "attachments": []})
    );
    assert_eq!(commands(&seen, "SELECT"), ["SELECT \"INBOX\""]);
    assert!(commands(&seen, "EXAMINE").is_empty());
    assert_eq!(commands(&seen, "UID SEARCH"), ["UID SEARCH UNSEEN"]);
    assert_eq!(
        commands(&seen, "UID STORE"),
        ["UID STORE 7 +FLAGS (\\Seen)"]
    );
}

/// A refused login ends the process as an error that names the login failure.
#[tokio::test]
async fn receive_mail_with_a_wrong_password_fails_the_process() {
    let t = TestApp::start().await;
    let (port, seen) = fake_imap().await;
    let step = receive_mail(port, "wrong", &[]);
    let (status, body) = call_listener(&t, "denied", &[step]).await;
    assert_eq!(status, 500, "{body}");
    let message = body["message"].as_str().unwrap_or_default().to_string();
    assert!(
        message.contains("login failed: \"robot\" refused: ")
            && message.contains("Invalid credentials"),
        "{message}"
    );
    assert!(commands(&seen, "UID SEARCH").is_empty());
    eventually("the error process", || async {
        processes(&t).await.iter().any(|p| status_of(p) == "$error")
    })
    .await;
    let (_, result) = error_result(&t).await;
    assert!(
        result["$error"]
            .as_str()
            .is_some_and(|e| e.contains("login failed")),
        "{result}"
    );
}

/// SQL query against an external PostgreSQL database (the local test server): `:name`
/// parameters bound, rows back as objects; skipped when no PostgreSQL answers on loopback.
#[tokio::test]
async fn sql_query_reads_an_external_postgresql() {
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        println!("skipped: no PostgreSQL on 127.0.0.1:5432");
        return;
    }
    let t = TestApp::start().await;
    let (_, cid, title, _, note) = deals(&t).await;
    let sql = (
        "sql".to_string(),
        [
            list("connectionType", "connectionString"),
            input(
                "connectionString",
                "'postgres://postgres@127.0.0.1:5432/test'",
            ),
            input(
                "query",
                "'select :n::int + 1 as next, :who as who, 1.5::numeric as half'",
            ),
            pairs(
                "params",
                &[("n", "41"), ("who", &format!("values['{title}']"))],
            ),
            slot("rows", "output"),
        ]
        .concat(),
    );
    let s = scenario(
        &t,
        "sql",
        &[
            sql,
            edit_own(&[(
                &note,
                "rows[0].next + ' ' + rows[0].who + ' ' + rows[0].half + ' ' + rows.length",
            )]),
        ],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.create"], &s, "").await;
    let rec = t.record(&cid, json!({title.clone(): "O'Hara"})).await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));
    eventually("the sql run", || async {
        processes(&t)
            .await
            .iter()
            .any(|p| status_of(p) != "$running")
    })
    .await;
    let p = processes(&t).await;
    assert_eq!(status_of(&p[0]), "$done", "{}", p[0]);
    let got = t.get(&path).await.expect(200).clone();
    assert_eq!(got["values"][&note], "42 O'Hara 1.5 1", "{got}");
}

/// A SQL query step on `db_type` with these connection and query parameters, its rows into
/// `into`.
pub(crate) fn sql_step(
    db_type: &str,
    connection: &[String],
    query: &str,
    params: &[(&str, &str)],
    into: &str,
) -> (String, String) {
    let mut body = vec![list("dbType", db_type)];
    body.extend(connection.iter().cloned());
    body.push(input("query", &json!(query).to_string()));
    body.push(pairs("params", params));
    body.push(slot(into, "output"));
    ("sql".to_string(), body.concat())
}

/// SQL query against the local MariaDB/MySQL (root without a password, database `test`):
/// text with quotes and backslashes bound as `:name` parameters matches what the server
/// stored, numbers (`DECIMAL` included) stay numbers, dates come back as ISO text, NULL as
/// null, binary as base64; a statement without rows answers `[]` and its bound text is stored
/// as given. Skipped when no MariaDB answers on loopback.
#[tokio::test]
async fn sql_query_reads_and_writes_an_external_mariadb() {
    use mysql::prelude::Queryable;
    if std::net::TcpStream::connect("127.0.0.1:3306").is_err() {
        println!("skipped: no MariaDB/MySQL on 127.0.0.1:3306");
        return;
    }
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .user(Some("root"))
        .db_name(Some("test"))
        .prefer_socket(false);
    let mut db = match mysql::Conn::new(opts) {
        Ok(db) => db,
        Err(e) => {
            println!("skipped: MariaDB on 127.0.0.1:3306 refused root@test: {e}");
            return;
        }
    };
    let table = crate::support::unique("kt_sql").replace('-', "_");
    db.query_drop(format!(
        "CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(100), amount DECIMAL(10,2), \
         n INT, note TEXT NULL, born DATE, at DATETIME, raw VARBINARY(8))"
    ))
    .expect("create table");
    let rows = [
        (
            1,
            r#"O'Hara \ "q""#,
            "12.50",
            7,
            None,
            "2024-05-01",
            "2024-05-01 10:20:30",
            Some(vec![0u8, 255]),
        ),
        (
            2,
            r"back\slash",
            "3.25",
            -2,
            Some("x"),
            "1999-12-31",
            "1999-12-31 23:59:59",
            None,
        ),
        (
            3,
            "other",
            "0",
            0,
            Some("y"),
            "2000-01-01",
            "2000-01-01 00:00:00",
            None,
        ),
    ];
    for row in rows {
        db.exec_drop(format!("INSERT INTO {table} VALUES (?,?,?,?,?,?,?,?)"), row)
            .expect("insert a row");
    }
    let t = TestApp::start().await;
    let by_parameters = [
        input("host", "'127.0.0.1'"),
        input("database", "'test'"),
        input("login", "'root'"),
        input("password", "''"),
    ];
    let select = sql_step(
        "mysql",
        &[&[list("connectionType", "parameters")], &by_parameters[..]].concat(),
        &format!("select id, name, amount, n, note, born, at, raw from {table} where name = :who or name = :back order by id"),
        &[("who", r#"'O\'Hara \\ "q"'"#), ("back", r"'back\\slash'")],
        "rows",
    );
    let update = sql_step(
        "mysql",
        &[
            list("connectionType", "connectionString"),
            input("connectionString", "'mysql://root@127.0.0.1:3306/test'"),
        ],
        &format!("update {table} set note = :note where id = 3"),
        &[("note", r"'it\'s \\ 0'")],
        "changed",
    );
    let (status, body) = call_listener(
        &t,
        "mariadb",
        &[
            select,
            update,
            setvar(&[("$body", "{rows: rows, changed: changed}")]),
        ],
    )
    .await;
    let stored: Option<Option<String>> = db
        .query_first(format!("SELECT note FROM {table} WHERE id = 3"))
        .expect("read back");
    db.query_drop(format!("DROP TABLE {table}"))
        .expect("drop table");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "rows": [
                {"id": 1, "name": r#"O'Hara \ "q""#, "amount": 12.5, "n": 7, "note": null,
                 "born": "2024-05-01", "at": "2024-05-01T10:20:30", "raw": "AP8="},
                {"id": 2, "name": r"back\slash", "amount": 3.25, "n": -2, "note": "x",
                 "born": "1999-12-31", "at": "1999-12-31T23:59:59", "raw": null},
            ],
            "changed": [],
        })
    );
    assert_eq!(stored, Some(Some(r"it's \ 0".to_string())));
}

/// SQL query on SQLite opens only files inside `KARTOTEKA_SQL_SQLITE_DIR`: a file there
/// answers rows (by parameters and by `sqlite://`), while `..`, an absolute path and a
/// missing file (which is not created) are refused, and without the setting SQLite is
/// refused with a message naming it.
#[tokio::test]
async fn sql_query_on_sqlite_stays_inside_its_folder() {
    let base = std::env::temp_dir().join(crate::support::unique("kt-sql-sqlite"));
    let dir = base.join("dbs");
    std::fs::create_dir_all(&dir).expect("dir");
    let secret = base.join("secret.db");
    for (path, name) in [
        (dir.join("data.db"), "O'Hara \\ \"q\""),
        (secret.clone(), "secret"),
    ] {
        let db = rusqlite::Connection::open(path).expect("sqlite file");
        db.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, raw BLOB)",
        )
        .expect("table");
        db.execute(
            "INSERT INTO t VALUES (1, ?1, 1.5, x'00ff'), (2, 'plain', NULL, NULL), (3, 'other', 2, NULL)",
            [name],
        )
        .expect("rows");
    }
    let t = TestApp::start_with_host(kartoteka_automation::HostConfig {
        sql: kartoteka_automation::SqlConfig {
            sqlite_dir: Some(dir.clone()),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let by_name = |name: &str| {
        vec![
            list("connectionType", "parameters"),
            input("database", &json!(name).to_string()),
        ]
    };
    let select = "select id, name, score, raw from t where name = :who or id = :id order by id";
    let who = [("who", r#"'O\'Hara \\ "q"'"#), ("id", "2")];
    let (status, body) = call_listener(
        &t,
        "sqlite-ok",
        &[
            sql_step("sqlite", &by_name("data.db"), select, &who, "rows"),
            sql_step(
                "sqlite",
                &[
                    list("connectionType", "connectionString"),
                    input("connectionString", "'sqlite://data.db'"),
                ],
                "update t set name = :name where id = 3",
                &[("name", r"'it\'s'")],
                "changed",
            ),
            setvar(&[("$body", "{rows: rows, changed: changed}")]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "rows": [
                {"id": 1, "name": "O'Hara \\ \"q\"", "score": 1.5, "raw": "AP8="},
                {"id": 2, "name": "plain", "score": null, "raw": null},
            ],
            "changed": [],
        })
    );
    let check = rusqlite::Connection::open(dir.join("data.db")).expect("reopen");
    let renamed: String = check
        .query_row("SELECT name FROM t WHERE id = 3", [], |r| r.get(0))
        .expect("read back");
    assert_eq!(renamed, "it's");
    let absolute = secret.to_string_lossy().into_owned();
    for (i, (name, why)) in [
        ("../secret.db", "without `..`"),
        (absolute.as_str(), "without `..`"),
        ("missing.db", "no SQLite database missing.db"),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = call_listener(
            &t,
            &format!("sqlite-bad-{i}"),
            &[sql_step("sqlite", &by_name(name), select, &who, "rows")],
        )
        .await;
        assert_eq!(status, 500, "{name}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(why) && message.contains("KARTOTEKA_SQL_SQLITE_DIR"),
            "{name}: {body}"
        );
    }
    assert!(
        !dir.join("missing.db").exists(),
        "a missing database is not created"
    );
    let unset = TestApp::start().await;
    let (status, body) = call_listener(
        &unset,
        "sqlite-unset",
        &[sql_step(
            "sqlite",
            &by_name("data.db"),
            select,
            &who,
            "rows",
        )],
    )
    .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("SQLite is not enabled: set KARTOTEKA_SQL_SQLITE_DIR")),
        "{body}"
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// The other record events and their input variables (spec 03 §3.3): after.update gives the
/// changed fields and every previous value, after.delete the record's last values,
/// before.update can refuse an edit, before.delete a deletion.
#[tokio::test]
async fn update_and_delete_events_see_their_variables() {
    let t = TestApp::start().await;
    let (_, cid, title, amount, note) = deals(&t).await;
    // Every run copies what it saw into a record of a log catalog.
    let log = t
        .catalog("Log", json!([{"name": "Seen", "type": "text"}]))
        .await;
    let (log_id, seen) = (id(&log), field_id(&log, "Seen"));
    let add_log = |expr: &str| {
        (
            "bpiumAdd".to_string(),
            [
                list("catalogFormat", "catalog"),
                input("catalogId", &format!("'{log_id}'")),
                list("format", "keyvalue"),
                pairs("values1", &[(&seen, expr)]),
            ]
            .concat(),
        )
    };
    let after_update = scenario(
        &t,
        "after update",
        &[add_log(&format!(
            "event.type + ' ' + JSON.stringify(_.keys(values)) + ' prev=' + prevValues['{amount}'] + ' now=' + allValues['{amount}'] + ' id=' + recordId"
        ))],
    )
    .await;
    let after_delete = scenario(
        &t,
        "after delete",
        &[add_log(&format!(
            "event.type + ' ' + values['{title}'] + ' id=' + recordId"
        ))],
    )
    .await;
    let guard = scenario(
        &t,
        "guard",
        &[setvar(&[
            (
                "$status",
                &format!("(values['{amount}'] < 0 || (event.type == '$record.before.delete' && prevValues['{note}'] == 'keep')) ? 403 : 200"),
            ),
            ("$body", "{message: event.type + ' refused'}"),
        ])],
    )
    .await;
    subscribe(&t, &cid, &["$record.after.update"], &after_update, "").await;
    subscribe(&t, &cid, &["$record.after.delete"], &after_delete, "").await;
    subscribe(
        &t,
        &cid,
        &["$record.before.update", "$record.before.delete"],
        &guard,
        "",
    )
    .await;
    let rec = t
        .record(
            &cid,
            json!({title.clone(): "Deal", amount.clone(): 5, note.clone(): "keep"}),
        )
        .await;
    let path = format!("/api/v1/catalogs/{cid}/records/{}", id(&rec));

    // before.update refuses a negative amount; nothing changes.
    let r = t
        .patch(&path, json!({"values": {amount.clone(): -1}}))
        .await;
    r.expect_error(400, "rejected_by_event", None);
    assert_eq!(r.json["message"], "$record.before.update refused");
    assert_eq!(t.get(&path).await.expect(200)["values"][&amount], 5);

    // An allowed update: after.update sees the changed field and the previous values.
    t.patch(&path, json!({"values": {amount.clone(): 7}}))
        .await
        .expect(200);
    // before.delete refuses while the note says keep.
    let r = t.delete(&path).await;
    r.expect_error(400, "rejected_by_event", None);
    assert_eq!(r.json["message"], "$record.before.delete refused");
    t.patch(&path, json!({"values": {note.clone(): "go"}}))
        .await
        .expect(200);
    t.delete(&path).await.expect(200);

    let logs = || async {
        let mut v: Vec<String> = t
            .get(&format!("/api/v1/catalogs/{log_id}/records"))
            .await
            .json
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r["values"][&seen].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    };
    eventually("three log records", || async { logs().await.len() == 3 }).await;
    let rid = id(&rec);
    assert_eq!(
        logs().await,
        vec![
            format!("$record.after.delete Deal id={rid}"),
            format!("$record.after.update [\"{amount}\"] prev=5 now=7 id={rid}"),
            format!("$record.after.update [\"{note}\"] prev=7 now=7 id={rid}"),
        ]
    );
}

/// A Web request with `auth=oauth2` names a record of «Доступы к сервисам»: its expired
/// access codes are refreshed at the token endpoint, the record keeps the new ones, and the
/// request carries the new bearer token.
#[tokio::test]
async fn web_request_with_oauth2_uses_and_refreshes_the_services_codes() {
    use crate::webhooks::{Answer, Receiver};
    let t = TestApp::start().await;
    let server = Receiver::start(Answer::status(
        200,
        r#"{"access_token": "fresh", "expires_in": 3600}"#,
    ))
    .await;
    let codes = json!({
        "access_token": "stale", "refresh_token": "r-1", "expires_at": 1000,
        "token_uri": server.url, "client_id": "kartoteka",
    });
    let service = t
        .post(
            "/api/v1/catalogs/$authServices/records",
            json!({"values": {"$name": "CRM", "$tokens": codes.to_string()}}),
        )
        .await;
    let service_id = id(service.expect(200));
    let step = (
        "webRequest".to_string(),
        [
            list("method", "POST"),
            input("query", &format!("'{}'", server.url)),
            list("format", "body"),
            input("body", "({ping: 1})"),
            list("auth", "oauth2"),
            input("token", "'CRM'"),
        ]
        .concat(),
    );
    let (status, _) = call_listener(&t, "oauth", &[step]).await;
    assert_eq!(status, 200);
    let calls = server.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(
        String::from_utf8_lossy(&calls[0].body),
        "grant_type=refresh_token&refresh_token=r-1&client_id=kartoteka"
    );
    assert_eq!(
        calls[1].header("authorization").as_deref(),
        Some("Bearer fresh")
    );
    assert_eq!(calls[1].json(), json!({"ping": 1}));
    let stored = t
        .get(&format!(
            "/api/v1/catalogs/$authServices/records/{service_id}"
        ))
        .await;
    let text = stored.expect(200)["values"]["$tokens"]
        .as_str()
        .expect("tokens text")
        .to_owned();
    let now: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(now["access_token"], "fresh");
    assert_eq!(now["refresh_token"], "r-1");
    assert!(now["expires_at"].as_i64().expect("expiry") > 1_700_000_000);
}

/// A file a scenario stores without putting it into a record gets a signed `output_url` that
/// opens without signing in (no user could open it otherwise), and later components read it
/// straight from the store (here the Converter, by that URL).
#[tokio::test]
async fn a_file_made_outside_records_has_a_link_that_needs_no_login() {
    let t = TestApp::start().await;
    let store = (
        "bpiumFileUpload".to_string(),
        [
            input("file_data", "'<list><item>1</item><item>2</item></list>'"),
            input("file_name", "'items.xml'"),
            list("output_format", "url"),
            slot("url", "output_url"),
        ]
        .concat(),
    );
    let read_back = (
        "convertDoc".to_string(),
        [
            list("method", "xml-json"),
            list("source_format", "url"),
            input("source_url", "url"),
            list("output_format", "content"),
            slot("items", "output_content"),
        ]
        .concat(),
    );
    let (status, body) = call_listener(
        &t,
        "made",
        &[
            store,
            read_back,
            setvar(&[("$body", "{url: url, items: items}")]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], json!({"list": {"item": ["1", "2"]}}));
    let url = body["url"].as_str().expect("url");
    assert!(
        url.starts_with(&format!("{}/storage/files/", t.base)) && url.contains("signature="),
        "{url}"
    );
    let r = reqwest::get(url).await.expect("get");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.text().await.expect("text"),
        "<list><item>1</item><item>2</item></list>"
    );
    // A forged signature opens nothing.
    let forged = format!("{}x", url.trim_end_matches(|c| c != '='));
    let r = reqwest::get(&forged).await.expect("get");
    assert_eq!(r.status().as_u16(), 403);
}
