//! Webhooks as a receiver sees them: a real HTTP server on loopback records every call and
//! answers as each test tells it; signatures are checked with the receiver's own HMAC.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

/// How the receiver answers.
#[derive(Clone)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    pub delay: Duration,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer::status(200, "{}")
    }
    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Call {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The status the receiver answered with.
    pub answered: u16,
}

impl Call {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

#[derive(Clone)]
struct Shared {
    calls: Arc<Mutex<Vec<Call>>>,
    answer: Arc<Mutex<Answer>>,
}

/// A webhook receiver on a loopback port.
pub struct Receiver {
    pub url: String,
    shared: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn receive(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let answer = s.answer.lock().expect("lock").clone();
    s.calls.lock().expect("lock").push(Call {
        headers,
        body: body.to_vec(),
        answered: answer.status,
    });
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    (
        StatusCode::from_u16(answer.status).expect("status"),
        [("content-type", "application/json; charset=utf-8")],
        answer.body,
    )
}

impl Receiver {
    pub async fn start(answer: Answer) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        Receiver::on(listener, answer)
    }

    /// Starts on a given listener (to come up on a port chosen earlier).
    pub fn on(listener: tokio::net::TcpListener, answer: Answer) -> Receiver {
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let shared = Shared {
            calls: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Receiver {
            url,
            shared,
            stop: Some(tx),
        }
    }

    pub fn answer(&self, a: Answer) {
        *self.shared.answer.lock().expect("lock") = a;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.calls.lock().expect("lock").clone()
    }

    /// Waits until at least `n` calls arrived and returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Call> {
        let started = Instant::now();
        loop {
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            assert!(
                started.elapsed() < within,
                "expected {n} webhook calls, got {}: {:?}",
                calls.len(),
                calls.iter().map(Call::json).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// The receiver's own check of `X-Hook-Signature` (the doc's PHP, in Rust).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<md5::Md5>::new_from_slice(secret.as_bytes()).expect("key");
    m.update(body);
    base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes())
}

/// A loopback URL where nothing listens.
pub fn refused_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}/hook")
}

/// A catalog with a text and a number field; returns (catalog id, text id, number id).
async fn orders(t: &TestApp) -> (String, String, String) {
    let c = t
        .catalog(
            "Orders",
            json!([{"name": "Name", "type": "text"}, {"name": "Sum", "type": "number"}]),
        )
        .await;
    (id(&c), field_id(&c, "Name"), field_id(&c, "Sum"))
}

/// Subscribes through the Records API of `$webhooks`; returns the hook id.
pub async fn subscribe(
    t: &TestApp,
    catalog: &str,
    events: &[&str],
    url: &str,
    extra: Value,
) -> String {
    let mut values = json!({
        "$catalog": [{"catalogId": "$catalogs", "recordId": catalog}],
        "$eventTypes": events.iter().map(|e| format!("${e}")).collect::<Vec<_>>(),
        "$url": url,
        "$secret": "s3cret",
    });
    if let (Some(v), Some(extra)) = (values.as_object_mut(), extra.as_object()) {
        v.extend(extra.clone());
    }
    id(&t.record("$webhooks", values).await)
}

#[tokio::test]
async fn notifications_carry_the_documented_message_signed_with_hmac_md5() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::ok()).await;
    let (cat, name, sum) = orders(&t).await;
    let hook = subscribe(
        &t,
        &cat,
        &["record.created", "record.updated", "record.deleted"],
        &rx.url,
        json!({}),
    )
    .await;
    let me = t.get("/api/v1/profile/me").await.expect(200)["id"].clone();
    let r = t
        .record(&cat, json!({name.clone(): "Order 1", sum.clone(): 100}))
        .await;
    let rid = id(&r);
    t.patch(
        &format!("/api/v1/catalogs/{cat}/records/{rid}"),
        json!({"values": {sum.clone(): 150}}),
    )
    .await
    .expect(200);
    t.delete(&format!("/api/v1/catalogs/{cat}/records/{rid}"))
        .await
        .expect(200);
    let calls = rx.wait_for(3, Duration::from_secs(10)).await;
    assert_eq!(calls.len(), 3);
    for c in &calls {
        assert_eq!(
            c.header("x-hook-signature"),
            Some(signature("s3cret", &c.body)),
            "signature over the exact body"
        );
        assert!(c
            .header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"));
        assert!(
            c.header("webhook-signature").is_none(),
            "standard headers are opt-in"
        );
    }
    let m: Vec<Value> = calls.iter().map(Call::json).collect();
    let events: Vec<&str> = m
        .iter()
        .map(|m| m["hook"]["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        events,
        ["record.created", "record.updated", "record.deleted"]
    );
    for (i, m) in m.iter().enumerate() {
        assert!(
            m["timestamp"]
                .as_str()
                .is_some_and(|s| s.parse::<i64>().is_ok()),
            "{m}"
        );
        assert_eq!(m["hook"]["id"], hook.as_str());
        assert_eq!(m["hook"]["sequenceId"], i as i64 + 1);
        assert_eq!(m["payload"]["catalogId"], cat.as_str());
        assert_eq!(m["payload"]["recordId"], rid.as_str());
        assert_eq!(m["user"]["id"], me);
    }
    let created = &m[0]["payload"];
    assert_eq!(created["values"][&name], "Order 1");
    assert_eq!(created["values"][&sum], 100);
    assert_eq!(created["prevValues"], json!({}));
    let updated = &m[1]["payload"];
    assert_eq!(
        updated["values"],
        json!({sum.clone(): 150}),
        "changed fields only"
    );
    assert_eq!(updated["prevValues"][&sum], 100);
    assert_eq!(
        updated["prevValues"][&name], "Order 1",
        "previous values of all fields"
    );
    assert_eq!(updated["allValues"][&sum], 150);
    assert!(m[2]["payload"].get("values").is_none());
    // The counter is kept on the subscription.
    let h = t
        .get(&format!("/api/v1/catalogs/$webhooks/records/{hook}"))
        .await;
    assert_eq!(h.expect(200)["values"]["$sequenceId"], 3);
}

#[tokio::test]
async fn before_request_denial_answers_the_receivers_message_and_writes_nothing() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::status(
        403,
        r#"{"message": {"title": "Информация", "text": "Отказано в доступе!"}}"#,
    ))
    .await;
    let (cat, name, sum) = orders(&t).await;
    subscribe(
        &t,
        &cat,
        &["record.before.created", "record.before.updated"],
        &rx.url,
        json!({}),
    )
    .await;
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "Denied"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert_eq!(r.json["message"], "Отказано в доступе!");
    assert_eq!(r.json["title"], "Информация");
    let list = t.get(&format!("/api/v1/catalogs/{cat}/records")).await;
    assert_eq!(list.expect(200), &json!([]), "nothing written");
    let call = &rx.calls()[0].json();
    assert_eq!(call["hook"]["event"], "record.before.created");
    assert!(
        call["payload"].get("recordId").is_none(),
        "no id before create"
    );
    assert_eq!(call["payload"]["values"][&name], "Denied");

    // A plain-string message, then an allowing receiver.
    rx.answer(Answer::status(422, r#"{"message": "Нельзя"}"#));
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "x"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert_eq!(r.json["message"], "Нельзя");
    rx.answer(Answer::status(500, "not json"));
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "x"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert_eq!(r.json["message"], "Операция отклонена внешней системой");

    rx.answer(Answer::ok());
    let rec = t
        .record(&cat, json!({name.clone(): "Allowed", sum.clone(): 1}))
        .await;
    let rid = id(&rec);
    rx.answer(Answer::status(400, r#"{"message": "no"}"#));
    t.patch(
        &format!("/api/v1/catalogs/{cat}/records/{rid}"),
        json!({"values": {sum.clone(): 2}}),
    )
    .await
    .expect_error(400, "rejected_by_webhook", None);
    let after = t
        .get(&format!("/api/v1/catalogs/{cat}/records/{rid}"))
        .await;
    assert_eq!(
        after.expect(200)["values"][&sum],
        1,
        "the update was not written"
    );
    let last = rx.calls().last().expect("call").json();
    assert_eq!(last["hook"]["event"], "record.before.updated");
    assert_eq!(last["payload"]["recordId"], rid.as_str());
    assert_eq!(last["payload"]["values"], json!({sum.clone(): 2}));
    assert_eq!(last["payload"]["prevValues"][&sum], 1);
}

/// `record.before.deleted`: the receiver sees the record's last state and can keep it.
#[tokio::test]
async fn before_delete_request_shows_the_last_state_and_a_denial_keeps_the_record() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::status(409, r#"{"message": "Есть открытые счета"}"#)).await;
    let (cat, name, sum) = orders(&t).await;
    let rid = id(&t
        .record(&cat, json!({name.clone(): "Keep me", sum.clone(): 7}))
        .await);
    let hook = subscribe(&t, &cat, &["record.before.deleted"], &rx.url, json!({})).await;
    let path = format!("/api/v1/catalogs/{cat}/records/{rid}");
    let r = t.delete(&path).await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert_eq!(r.json["message"], "Есть открытые счета");
    assert_eq!(
        t.get(&path).await.expect(200)["values"][&name],
        "Keep me",
        "the denied delete left the record"
    );
    let calls = rx.calls();
    assert_eq!(calls.len(), 1);
    let m = calls[0].json();
    assert_eq!(
        calls[0].header("x-hook-signature"),
        Some(signature("s3cret", &calls[0].body))
    );
    assert_eq!(m["hook"]["id"], hook.as_str());
    assert_eq!(m["hook"]["event"], "record.before.deleted");
    assert_eq!(m["payload"]["catalogId"], cat.as_str());
    assert_eq!(m["payload"]["recordId"], rid.as_str());
    for key in ["prevValues", "allValues"] {
        assert_eq!(m["payload"][key][&name], "Keep me", "{key}: {m}");
        assert_eq!(m["payload"][key][&sum], 7, "{key}: {m}");
    }

    rx.answer(Answer::ok());
    t.delete(&path).await.expect(200);
    assert_eq!(t.get(&path).await.status, 404, "an allowed delete deletes");
    assert_eq!(rx.calls().len(), 2);
}

#[tokio::test]
async fn unreachable_and_slow_receivers_deny_requests() {
    let t = TestApp::start().await;
    let (cat, name, _) = orders(&t).await;
    let hook = subscribe(
        &t,
        &cat,
        &["record.before.created"],
        &refused_url(),
        json!({}),
    )
    .await;
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "x"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);

    // Slower than the timeout (1.5 s in tests).
    let slow = Receiver::start(Answer {
        delay: Duration::from_secs(4),
        ..Answer::ok()
    })
    .await;
    t.patch(
        &format!("/api/v1/catalogs/$webhooks/records/{hook}"),
        json!({"values": {"$url": slow.url}}),
    )
    .await
    .expect(200);
    let started = Instant::now();
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "x"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout denies"
    );
    let list = t.get(&format!("/api/v1/catalogs/{cat}/records")).await;
    assert_eq!(list.expect(200), &json!([]));
}

#[tokio::test]
async fn requests_fan_out_in_parallel_and_the_first_failure_wins() {
    let t = TestApp::start().await;
    let (cat, name, _) = orders(&t).await;
    let delay = Duration::from_millis(600);
    let mut rxs = Vec::new();
    for _ in 0..3 {
        let rx = Receiver::start(Answer {
            delay,
            ..Answer::ok()
        })
        .await;
        subscribe(&t, &cat, &["record.before.created"], &rx.url, json!({})).await;
        rxs.push(rx);
    }
    let started = Instant::now();
    t.record(&cat, json!({name.clone(): "ok"})).await;
    let took = started.elapsed();
    assert!(
        took >= delay && took < delay * 2,
        "three 600 ms hooks took {took:?}"
    );
    for rx in &rxs {
        assert_eq!(rx.calls().len(), 1);
    }
    // One fast refusal does not wait for the slow ones.
    rxs[0].answer(Answer::status(409, r#"{"message": "busy"}"#));
    let started = Instant::now();
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/records"),
            json!({"values": {name.clone(): "x"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_webhook", None);
    assert_eq!(r.json["message"], "busy");
    assert!(
        started.elapsed() < delay,
        "first error wins: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn gone_removes_the_subscription() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::status(410, "")).await;
    let (cat, name, _) = orders(&t).await;
    let hook = subscribe(&t, &cat, &["record.created"], &rx.url, json!({})).await;
    t.record(&cat, json!({name.clone(): "a"})).await;
    rx.wait_for(1, Duration::from_secs(10)).await;
    let started = Instant::now();
    loop {
        let r = t
            .get(&format!("/api/v1/catalogs/$webhooks/records/{hook}"))
            .await;
        if r.status == 404 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "hook still there"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.record(&cat, json!({name.clone(): "b"})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.calls().len(), 1, "no calls after 410");
}

#[tokio::test]
async fn tracked_fields_and_initiators_filter_hooks() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::ok()).await;
    let (cat, name, sum) = orders(&t).await;
    subscribe(
        &t,
        &cat,
        &["record.updated"],
        &rx.url,
        json!({"$trackFields": sum.clone()}),
    )
    .await;
    let other = Receiver::start(Answer::ok()).await;
    // Tracks only changes made by a user who never acts here.
    let me = t.get("/api/v1/profile/me").await.expect(200)["id"].clone();
    let stranger = t
        .record(
            "$users",
            json!({"$name": "Stranger", "$email": "s@example.com"}),
        )
        .await;
    assert_ne!(stranger["id"], me);
    subscribe(
        &t,
        &cat,
        &["record.updated"],
        &other.url,
        json!({"$initiator": [{"catalogId": "$users", "recordId": id(&stranger)}]}),
    )
    .await;
    let rid = id(&t
        .record(&cat, json!({name.clone(): "a", sum.clone(): 1}))
        .await);
    let path = format!("/api/v1/catalogs/{cat}/records/{rid}");
    t.patch(&path, json!({"values": {name.clone(): "b"}}))
        .await
        .expect(200);
    t.patch(&path, json!({"values": {sum.clone(): 2}}))
        .await
        .expect(200);
    let calls = rx.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.calls().len(), 1, "only the change of the tracked field");
    assert_eq!(
        calls[0].json()["payload"]["values"],
        json!({sum.clone(): 2})
    );
    assert!(
        other.calls().is_empty(),
        "the initiator filter holds back the admin's changes"
    );
}

#[tokio::test]
async fn a_receiver_down_for_a_while_gets_every_event_once_and_in_order() {
    let t = TestApp::start().await;
    let (cat, name, _) = orders(&t).await;
    // Nothing listens yet: the port is taken later by the receiver.
    let url = refused_url();
    subscribe(&t, &cat, &["record.created"], &url, json!({})).await;
    for i in 0..5 {
        t.record(&cat, json!({name.clone(): format!("r{i}")})).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/hook")
        .to_string();
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .expect("same port");
    let rx = Receiver::on(listener, Answer::status(503, "")); // up, but failing
    rx.wait_for(1, Duration::from_secs(10)).await;
    for i in 5..8 {
        t.record(&cat, json!({name.clone(): format!("r{i}")})).await;
    }
    rx.answer(Answer::ok());
    let started = Instant::now();
    loop {
        let ok: Vec<i64> = delivered(&rx);
        if ok.len() >= 8 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "delivered so far: {ok:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        delivered(&rx),
        (1..=8).collect::<Vec<_>>(),
        "each sequenceId once, in order"
    );
    let names: Vec<Value> = rx
        .calls()
        .iter()
        .filter(|c| c.answered == 200)
        .map(|c| c.json()["payload"]["values"][&name].clone())
        .collect();
    let want: Vec<Value> = (0..8).map(|i| json!(format!("r{i}"))).collect();
    assert_eq!(names, want);
}

/// The sequence ids the receiver accepted (answered 2xx), in arrival order.
pub fn delivered(rx: &Receiver) -> Vec<i64> {
    rx.calls()
        .iter()
        .filter(|c| (200..300).contains(&c.answered))
        .map(|c| c.json()["hook"]["sequenceId"].as_i64().unwrap_or(-1))
        .collect()
}

#[tokio::test]
async fn delivery_log_pages_newest_first_and_resend_sends_the_same_message() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::status(500, "boom")).await;
    let (cat, name, _) = orders(&t).await;
    let hook = subscribe(&t, &cat, &["record.created"], &rx.url, json!({})).await;
    t.record(&cat, json!({name.clone(): "a"})).await;
    rx.wait_for(2, Duration::from_secs(10)).await;
    rx.answer(Answer::ok());
    t.record(&cat, json!({name.clone(): "b"})).await;
    rx.wait_for(4, Duration::from_secs(10)).await;
    let started = Instant::now();
    let log = loop {
        let r = t.get(&format!("/api/v1/webhooks/{hook}/deliveries")).await;
        let log = r.expect(200).clone();
        if log
            .as_array()
            .is_some_and(|l| l.len() == 2 && l.iter().all(|d| d["state"] == "delivered"))
        {
            assert_eq!(r.headers["x-total-count"], "2");
            break log;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "log: {log}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(log[0]["sequenceId"], 2, "newest first");
    assert_eq!(log[1]["sequenceId"], 1);
    let first = &log[1];
    assert!(first["attempts"].as_i64().unwrap_or(0) >= 2, "{first}");
    let tries = first["tries"].as_array().expect("tries");
    assert_eq!(tries[0]["status"], 500);
    assert_eq!(tries[0]["response"], "boom");
    assert_eq!(tries.last().expect("try")["status"], 200);
    assert_eq!(first["body"]["hook"]["sequenceId"], 1);
    let page = t
        .get(&format!(
            "/api/v1/webhooks/{hook}/deliveries?limit=1&offset=1"
        ))
        .await;
    assert_eq!(page.expect(200)[0]["id"], first["id"]);

    let before = rx.calls().len();
    let d = first["id"].as_str().expect("id");
    let r = t
        .post(
            &format!("/api/v1/webhooks/{hook}/deliveries/{d}/resend"),
            json!({}),
        )
        .await;
    assert_eq!(r.expect(202)["resendOf"], d);
    let calls = rx.wait_for(before + 1, Duration::from_secs(10)).await;
    let again = calls.last().expect("call");
    assert_eq!(again.json()["hook"]["sequenceId"], 1, "the same message");
    assert_eq!(again.json(), calls[0].json());

    t.get("/api/v1/webhooks/999999/deliveries")
        .await
        .expect_error(404, "record_not_found", None);
    t.post(
        &format!("/api/v1/webhooks/{hook}/deliveries/999999/resend"),
        json!({}),
    )
    .await
    .expect_error(404, "not_found", None);
}

#[tokio::test]
async fn standard_webhooks_headers_when_the_hook_opts_in() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::ok()).await;
    let (cat, name, _) = orders(&t).await;
    let key = base64::engine::general_purpose::STANDARD.encode(b"a standard secret");
    subscribe(
        &t,
        &cat,
        &["record.created"],
        &rx.url,
        json!({"$standardWebhooks": true, "$secret": format!("whsec_{key}")}),
    )
    .await;
    t.record(&cat, json!({name.clone(): "a"})).await;
    let c = rx.wait_for(1, Duration::from_secs(10)).await.remove(0);
    let (wid, ts) = (
        c.header("webhook-id").expect("webhook-id"),
        c.header("webhook-timestamp").expect("webhook-timestamp"),
    );
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"a standard secret").expect("key");
    m.update(format!("{wid}.{ts}.").as_bytes());
    m.update(&c.body);
    let want = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    assert_eq!(c.header("webhook-signature"), Some(format!("v1,{want}")));
    assert!(
        c.header("x-hook-signature").is_some(),
        "the Bpium signature is still sent"
    );
}

#[tokio::test]
async fn subscriptions_need_an_absolute_http_url() {
    let t = TestApp::start().await;
    let (cat, _, _) = orders(&t).await;
    for bad in ["example.com/hook", "ftp://example.com", "http://"] {
        let r = t
            .post(
                "/api/v1/catalogs/$webhooks/records",
                json!({"values": {
                    "$catalog": [{"catalogId": "$catalogs", "recordId": cat}],
                    "$eventTypes": ["$record.created"],
                    "$url": bad,
                }}),
            )
            .await;
        r.expect_error(400, "invalid_value", Some("$url"));
    }
    let list = t.get("/api/v1/catalogs/$webhooks/records").await;
    assert_eq!(list.expect(200), &json!([]));
}

#[tokio::test]
async fn changes_call_merges_the_updating_hooks_answers() {
    let t = TestApp::start().await;
    let (cat, name, sum) = orders(&t).await;
    let a = Receiver::start(Answer::status(
        200,
        &json!({"message": "Сотрудник найден", "values": {name.clone(): "From A", sum.clone(): 1}})
            .to_string(),
    ))
    .await;
    let b = Receiver::start(Answer::status(
        200,
        &json!({"message": {"title": "B", "text": "second"}, "values": {sum.clone(): 2}})
            .to_string(),
    ))
    .await;
    let failing = Receiver::start(Answer::status(
        500,
        &json!({"message": "failed", "values": {name.clone(): "ignored"}}).to_string(),
    ))
    .await;
    for rx in [&a, &b, &failing] {
        subscribe(&t, &cat, &["record.updating"], &rx.url, json!({})).await;
    }
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/changes"),
            json!({"values": {name.clone(): "typed"}, "allValues": {name.clone(): "typed", sum.clone(): 5}}),
        )
        .await;
    let out = r.expect(200);
    assert_eq!(
        out["values"],
        json!({name.clone(): "From A", sum.clone(): 2}),
        "later hook wins"
    );
    assert_eq!(
        out["messages"],
        json!([{"text": "Сотрудник найден"}, {"title": "B", "text": "second"}, {"text": "failed"}])
    );
    let m = a.calls()[0].json();
    assert_eq!(m["hook"]["event"], "record.updating");
    assert_eq!(m["payload"]["values"], json!({name.clone(): "typed"}));
    assert_eq!(m["payload"]["allValues"][&sum], 5);
    assert!(m["payload"].get("recordId").is_none());
    // Past the chain guard nothing runs.
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cat}/changes"),
            json!({"values": {}, "depth": 11}),
        )
        .await;
    assert_eq!(r.expect(200), &json!({"messages": [], "values": {}}));
    assert_eq!(a.calls().len(), 1);
    t.post("/api/v1/catalogs/nope/changes", json!({"values": {}}))
        .await
        .expect_error(404, "catalog_not_found", None);
    t.post(
        &format!("/api/v1/catalogs/{cat}/changes"),
        json!({"values": {"nope": 1}}),
    )
    .await
    .expect_error(400, "unknown_field", Some("nope"));
}

#[tokio::test]
async fn system_catalog_records_notify_with_both_keys_and_either_catalog_id() {
    let t = TestApp::start().await;
    let rx = Receiver::start(Answer::ok()).await;
    // Stored against the legacy number of `$users`: the same catalog.
    subscribe(&t, "3", &["record.created"], &rx.url, json!({})).await;
    t.record(
        "$users",
        json!({"$name": "Ann", "$email": "ann@example.com"}),
    )
    .await;
    let m = rx.wait_for(1, Duration::from_secs(10)).await[0].json();
    assert_eq!(m["payload"]["catalogId"], "$users");
    assert_eq!(m["payload"]["values"]["$name"], "Ann");
    assert_eq!(
        m["payload"]["values"]["1"], "Ann",
        "system fields under both keys"
    );
    assert!(m["payload"]["values"].get("$password").is_none());
}

#[tokio::test]
async fn a_hook_failing_long_enough_is_marked_and_cleared_by_a_success() {
    let t = TestApp::start_with(kartoteka_core::webhooks::WebhookConfig {
        failing_after: Duration::from_millis(300),
        ..crate::support::test_webhooks()
    })
    .await;
    let (cat, name, _) = orders(&t).await;
    let url = refused_url();
    let hook = subscribe(&t, &cat, &["record.created"], &url, json!({})).await;
    t.record(&cat, json!({name.clone(): "a"})).await;
    let path = format!("/api/v1/catalogs/$webhooks/records/{hook}");
    let marked = async {
        let started = Instant::now();
        loop {
            let r = t.get(&path).await;
            let v = r.expect(200)["values"]["$failingSince"].clone();
            if !v.is_null() {
                return v;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "never marked failing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    .await;
    assert!(marked.as_str().is_some_and(|s| s.contains('T')), "{marked}");
    let addr = url.trim_start_matches("http://").trim_end_matches("/hook");
    let listener = tokio::net::TcpListener::bind(addr).await.expect("port");
    let rx = Receiver::on(listener, Answer::ok());
    rx.wait_for(1, Duration::from_secs(10)).await;
    let started = Instant::now();
    loop {
        let r = t.get(&path).await;
        if r.expect(200)["values"]["$failingSince"].is_null() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still marked after a success"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
