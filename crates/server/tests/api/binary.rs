//! The `kartoteka` binary itself: configuration from the command line and the environment,
//! the first administrator, graceful shutdown on SIGTERM, and no acknowledged write lost to
//! `kill -9`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::unique;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A database for a spawned server: a fresh PostgreSQL schema when the suite runs on
/// PostgreSQL, else SQLite in the data folder.
struct Db {
    url: Option<String>,
    pg: Option<(String, String)>,
}

impl Db {
    fn new() -> Db {
        match std::env::var("KARTOTEKA_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let (url, schema) =
                    kartoteka_store::testing::fresh_postgres_schema(&base).expect("schema");
                Db {
                    url: Some(url),
                    pg: Some((base, schema)),
                }
            }
            _ => Db {
                url: None,
                pg: None,
            },
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg.take() {
            let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
        }
    }
}

struct Server {
    child: Child,
    base: String,
}

fn spawn(data: &Path, port: u16, db: &Db, envs: &[(&str, String)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kartoteka"));
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data")
        .arg(data);
    if let Some(url) = &db.url {
        cmd.arg("--database").arg(url);
    }
    cmd.env_remove("KARTOTEKA_ADMIN_PASSWORD")
        .env_remove("KARTOTEKA_LISTEN")
        .env_remove("KARTOTEKA_DATABASE_URL")
        .env("KARTOTEKA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn kartoteka");
    Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

fn wait_ready(base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Ok(mut s) = std::net::TcpStream::connect(base.trim_start_matches("http://")) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET /health HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the server at {base} did not become ready");
}

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(unique("kartoteka-bin"));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(ok.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not exit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn make_catalog(c: &reqwest::Client, base: &str, auth: (&str, &str)) -> (String, String) {
    let s: Value = c
        .post(format!("{base}/api/v1/sections"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"name": "Load"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let cat: Value = c
        .post(format!("{base}/api/v1/catalogs"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"sectionId": s["id"], "name": "Writes", "fields": [{"name": "N", "type": "number"}]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    (
        cat["id"].as_str().expect("id").to_string(),
        cat["fields"][0]["id"].as_str().expect("field").to_string(),
    )
}

/// Fires creates from 16 tasks until `stop` and returns the ids the server acknowledged.
async fn write_load(base: &str, catalog: &str, field: &str, run_for: Duration) -> Vec<String> {
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (base, catalog, field) = (base.to_string(), catalog.to_string(), field.to_string());
        tasks.push(tokio::spawn(async move {
            let c = reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("client");
            let mut acked = Vec::new();
            let started = Instant::now();
            let mut i = 0;
            while started.elapsed() < run_for {
                i += 1;
                let r = c
                    .post(format!("{base}/api/v1/catalogs/{catalog}/records"))
                    .basic_auth("admin@example.com", Some("admin123"))
                    .json(&json!({"values": {field.clone(): w * 100_000 + i}}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        if let Ok(v) = r.json::<Value>().await {
                            if let Some(id) = v["id"].as_str() {
                                acked.push(id.to_string());
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            acked
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("join"));
    }
    all
}

async fn count(base: &str, catalog: &str) -> i64 {
    let r = reqwest::Client::new()
        .get(format!(
            "{base}/api/v1/catalogs/{catalog}/records?limit=1&total=exact"
        ))
        .basic_auth("admin@example.com", Some("admin123"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    r.headers()["x-total-count"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("number")
}

#[tokio::test]
async fn first_admin_is_printed_and_cli_beats_env() {
    let dir = temp_dir();
    let db = Db::new();
    let port = free_port();
    // The environment names another port and folder; the command line wins.
    let mut s = spawn(
        &dir,
        port,
        &db,
        &[
            ("KARTOTEKA_LISTEN", "127.0.0.1:1".into()),
            ("KARTOTEKA_DATA", "/nonexistent/x".into()),
        ],
    );
    wait_ready(&s.base);
    sigterm(&s.child);
    let status = wait_exit(&mut s.child);
    assert!(status.success(), "{status:?}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s.child.stdout.take().expect("stdout"), &mut out)
        .expect("read");
    let line = out
        .lines()
        .find(|l| l.starts_with("First administrator:"))
        .unwrap_or_else(|| panic!("no admin line in {out:?}"));
    let creds = line
        .trim_start_matches("First administrator:")
        .split_whitespace()
        .collect::<Vec<_>>();
    let (email, password) = (creds[0], creds[2]);
    assert_eq!(email, "admin@example.com");
    assert!(password.len() >= 12);
    if db.url.is_none() {
        assert!(dir.join("kartoteka.db").exists(), "data lives in --data");
    }

    // Restart on the same store: nothing is printed again, the password still works, and
    // settings may also come from the environment alone.
    let port2 = free_port();
    let mut envs = vec![("KARTOTEKA_ADMIN_PASSWORD", "ignored-now".to_string())];
    if let Some(url) = &db.url {
        envs.push(("KARTOTEKA_DATABASE_URL", url.clone()));
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kartoteka"));
    cmd.arg("serve")
        .env("KARTOTEKA_LISTEN", format!("127.0.0.1:{port2}"))
        .env("KARTOTEKA_DATA", &dir)
        .env("KARTOTEKA_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in &envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let base2 = format!("http://127.0.0.1:{port2}");
    wait_ready(&base2);
    let r = reqwest::Client::new()
        .get(format!("{base2}/api/v1/profile/me"))
        .basic_auth(email, Some(password))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = reqwest::Client::new()
        .get(format!("{base2}/api/v1/profile/me"))
        .basic_auth(email, Some("ignored-now"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    sigterm(&child);
    assert!(wait_exit(&mut child).success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("read");
    assert!(!out.contains("First administrator"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn sigterm_finishes_in_flight_writes_and_kill_9_loses_no_acknowledged_write() {
    let dir = temp_dir();
    let db = Db::new();
    let admin = [("KARTOTEKA_ADMIN_PASSWORD", "admin123".to_string())];
    let port = free_port();
    let mut s = spawn(&dir, port, &db, &admin);
    wait_ready(&s.base);
    let client = reqwest::Client::new();
    let (catalog, field) = make_catalog(&client, &s.base, ("admin@example.com", "admin123")).await;

    // kill -9 in the middle of a write load.
    let base = s.base.clone();
    let (cat2, field2) = (catalog.clone(), field.clone());
    let load =
        tokio::spawn(
            async move { write_load(&base, &cat2, &field2, Duration::from_secs(30)).await },
        );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    s.child.kill().expect("kill -9");
    let _ = s.child.wait();
    let acked = load.await.expect("join");
    assert!(
        acked.len() > 50,
        "the load made too few writes to mean anything: {}",
        acked.len()
    );

    let port = free_port();
    let mut s = spawn(&dir, port, &db, &admin);
    wait_ready(&s.base);
    let stored = count(&s.base, &catalog).await;
    assert!(
        stored >= acked.len() as i64,
        "stored {stored} < acknowledged {}",
        acked.len()
    );
    for id in acked.iter().step_by((acked.len() / 50).max(1)) {
        let r = client
            .get(format!("{}/api/v1/catalogs/{catalog}/records/{id}", s.base))
            .basic_auth("admin@example.com", Some("admin123"))
            .send()
            .await
            .expect("send");
        assert_eq!(
            r.status(),
            200,
            "acknowledged record {id} is missing after kill -9"
        );
    }

    // SIGTERM during a load: the process exits cleanly and every acknowledged write stays.
    let base = s.base.clone();
    let (cat2, field2) = (catalog.clone(), field.clone());
    let load =
        tokio::spawn(
            async move { write_load(&base, &cat2, &field2, Duration::from_secs(30)).await },
        );
    tokio::time::sleep(Duration::from_millis(800)).await;
    sigterm(&s.child);
    let status = wait_exit(&mut s.child);
    assert!(status.success(), "{status:?}");
    let acked2 = load.await.expect("join");
    let port = free_port();
    let mut s = spawn(&dir, port, &db, &admin);
    wait_ready(&s.base);
    let stored2 = count(&s.base, &catalog).await;
    assert!(
        stored2 >= stored + acked2.len() as i64,
        "stored {stored2} < {stored} + {}",
        acked2.len()
    );
    sigterm(&s.child);
    wait_exit(&mut s.child);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn pending_webhook_deliveries_survive_kill_9() {
    use crate::webhooks::{delivered, refused_url, Answer, Receiver};
    let dir = temp_dir();
    let db = Db::new();
    let envs = [
        ("KARTOTEKA_ADMIN_PASSWORD", "admin123".to_string()),
        ("KARTOTEKA_WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms,300ms".to_string()),
    ];
    let auth = ("admin@example.com", "admin123");
    let mut s = spawn(&dir, free_port(), &db, &envs);
    wait_ready(&s.base);
    let client = reqwest::Client::new();
    let (catalog, field) = make_catalog(&client, &s.base, auth).await;
    // The receiver is down while the records are written.
    let url = refused_url();
    let hook = client
        .post(format!("{}/api/v1/catalogs/$webhooks/records", s.base))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"values": {
            "$catalog": [{"catalogId": "$catalogs", "recordId": catalog}],
            "$eventTypes": ["$record.created"],
            "$url": url,
        }}))
        .send()
        .await
        .expect("send");
    assert_eq!(hook.status(), 200);
    for i in 0..20 {
        let r = client
            .post(format!("{}/api/v1/catalogs/{catalog}/records", s.base))
            .basic_auth(auth.0, Some(auth.1))
            .json(&json!({"values": {field.clone(): i}}))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200);
    }
    s.child.kill().expect("kill -9");
    let _ = s.child.wait();

    let addr = url.trim_start_matches("http://").trim_end_matches("/hook");
    let listener = tokio::net::TcpListener::bind(addr).await.expect("port");
    let rx = Receiver::on(listener, Answer::ok());
    let mut s = spawn(&dir, free_port(), &db, &envs);
    wait_ready(&s.base);
    let started = Instant::now();
    while delivered(&rx).len() < 20 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "delivered after restart: {:?}",
            delivered(&rx)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(delivered(&rx), (1..=20).collect::<Vec<i64>>());
    sigterm(&s.child);
    wait_exit(&mut s.child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// POSTs JSON as the administrator and answers the JSON of a 200.
async fn post_ok(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    path: &str,
    body: Value,
) -> Value {
    let r = c
        .post(format!("{base}{path}"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{path}");
    r.json::<Value>().await.expect("json")
}

/// Uploads a scenario file through the files API and stores it in `$scripts`; answers the
/// record id.
async fn store_scenario(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    bpmn: Vec<u8>,
) -> String {
    let ticket = post_ok(
        c,
        base,
        auth,
        "/api/v1/files",
        json!({"catalogId": "$scripts", "fieldId": "$file", "name": "t.bpmn", "size": bpmn.len(), "mimeType": "application/bpmn+xml", "typeStorage": "remoteStorage"}),
    )
    .await;
    assert_eq!(crate::files::send_bytes(&ticket, bpmn, None).await, 204);
    let fid = ticket["fileId"].as_i64().expect("file id");
    let r = c
        .patch(format!("{base}/api/v1/files/{fid}"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let script = post_ok(
        c,
        base,
        auth,
        "/api/v1/catalogs/$scripts/records",
        json!({"values": {"$name": "s", "$file": [{"id": fid.to_string()}]}}),
    )
    .await;
    script["id"].as_str().expect("script id").to_string()
}

/// `BPM_PROCESS_LIMIT`: with one slot, a synchronous launch while a step of another run is
/// busy is refused with 429 (and an `$error` process says why); runs waiting on a timer hold
/// no slot.
#[tokio::test]
async fn synchronous_launches_past_the_process_limit_get_429() {
    use crate::automation::{chain, code, timer};
    let dir = temp_dir();
    let db = Db::new();
    let envs = [
        ("KARTOTEKA_ADMIN_PASSWORD", "admin123".to_string()),
        ("BPM_PROCESS_LIMIT", "1".to_string()),
    ];
    let auth = ("admin@example.com", "admin123");
    let mut s = spawn(&dir, free_port(), &db, &envs);
    wait_ready(&s.base);
    let c = reqwest::Client::new();
    let busy = store_scenario(
        &c,
        &s.base,
        auth,
        chain(&[code(
            "var t = Date.now(); while (Date.now() - t < 1500) {} return 1;",
        )]),
    )
    .await;
    let waits = store_scenario(&c, &s.base, auth, chain(&[timer("PT3S")])).await;
    for (url_id, script) in [("busy", &busy), ("waits", &waits)] {
        post_ok(
            &c,
            &s.base,
            auth,
            "/api/v1/catalogs/$webRequests/records",
            json!({"values": {
                "$status": ["$on"], "$name": url_id, "$urlId": url_id,
                "$script": [{"catalogId": "$scripts", "recordId": script}],
            }}),
        )
        .await;
    }
    // A run waiting on its timer holds no slot.
    let r = c
        .get(format!("{}/api/webrequest/waits?async=true", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let first = tokio::spawn({
        let (c, base) = (c.clone(), s.base.clone());
        async move {
            c.get(format!("{base}/api/webrequest/busy"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = c
        .get(format!("{}/api/webrequest/busy", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(second.status().as_u16(), 429);
    let body: Value = second.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("BPM_PROCESS_LIMIT")),
        "{body}"
    );
    assert_eq!(first.await.expect("join").expect("send"), 200);
    sigterm(&s.child);
    wait_exit(&mut s.child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `BPM_PROCESS_TIMEOUT`: a run living longer (here: waiting on a timer past it) is
/// `$aborted` and its next component never runs.
#[tokio::test]
async fn a_run_past_the_process_timeout_is_aborted() {
    use crate::automation::{chain, setvar, timer};
    let dir = temp_dir();
    let db = Db::new();
    let envs = [
        ("KARTOTEKA_ADMIN_PASSWORD", "admin123".to_string()),
        ("BPM_PROCESS_TIMEOUT", "800".to_string()),
    ];
    let auth = ("admin@example.com", "admin123");
    let mut s = spawn(&dir, free_port(), &db, &envs);
    wait_ready(&s.base);
    let c = reqwest::Client::new();
    let slow = store_scenario(
        &c,
        &s.base,
        auth,
        chain(&[timer("PT3S"), setvar(&[("late", "1")])]),
    )
    .await;
    post_ok(
        &c,
        &s.base,
        auth,
        "/api/v1/catalogs/$webRequests/records",
        json!({"values": {
            "$status": ["$on"], "$name": "slow", "$urlId": "slow",
            "$script": [{"catalogId": "$scripts", "recordId": slow}],
        }}),
    )
    .await;
    let started = Instant::now();
    let r = c
        .get(format!("{}/api/webrequest/slow?async=true", s.base))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let status = loop {
        let list: Value = c
            .get(format!("{}/api/v1/catalogs/$processes/records", s.base))
            .basic_auth(auth.0, Some(auth.1))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("processes");
        let p = list[0].clone();
        if p["values"]["$status"] != json!(["$running"]) && !p.is_null() {
            break p;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still running: {p}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status["values"]["$status"], json!(["$aborted"]), "{status}");
    assert!(
        status["values"]["$result"]
            .as_str()
            .is_some_and(|r| r.contains("BPM_PROCESS_TIMEOUT")),
        "{status}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "not cut at its lifetime"
    );
    sigterm(&s.child);
    wait_exit(&mut s.child);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that runs one scenario on every new record of a catalog with a text field
/// "Note", and the one record created to start it.
struct OneRun {
    dir: PathBuf,
    db: Db,
    server: Server,
    c: reqwest::Client,
    catalog: String,
    note: String,
    record: String,
}

const ADMIN: (&str, &str) = ("admin@example.com", "admin123");

impl OneRun {
    /// `steps` makes the scenario from the note's field id.
    async fn start(steps: impl FnOnce(&str) -> Vec<u8>) -> OneRun {
        let (dir, db) = (temp_dir(), Db::new());
        let server = OneRun::spawn_on(&dir, &db);
        let c = reqwest::Client::new();
        let (catalog, note) = catalog_with_note(&c, &server.base, ADMIN).await;
        subscribe_after_create(&c, &server.base, ADMIN, &catalog, steps(&note)).await;
        let rec = post_ok(
            &c,
            &server.base,
            ADMIN,
            &format!("/api/v1/catalogs/{catalog}/records"),
            json!({"values": {}}),
        )
        .await;
        let record = rec["id"].as_str().unwrap_or_default().to_string();
        OneRun {
            dir,
            db,
            server,
            c,
            catalog,
            note,
            record,
        }
    }

    fn spawn_on(dir: &Path, db: &Db) -> Server {
        let envs = [("KARTOTEKA_ADMIN_PASSWORD", ADMIN.1.to_string())];
        let s = spawn(dir, free_port(), db, &envs);
        wait_ready(&s.base);
        s
    }

    fn kill_9(&mut self) {
        self.server.child.kill().expect("kill -9");
        let _ = self.server.child.wait();
    }

    /// Starts the server again on the same data, after [`OneRun::kill_9`] or [`OneRun::stop`].
    fn restart(&mut self) {
        self.server = OneRun::spawn_on(&self.dir, &self.db);
    }

    /// Stops the server with SIGTERM.
    fn stop(&mut self) {
        sigterm(&self.server.child);
        wait_exit(&mut self.server.child);
    }

    async fn wait_for_note(&self, want: &str) {
        let (s, r) = (&self.server, &self.record);
        wait_for_note(&self.c, &s.base, ADMIN, &self.catalog, r, &self.note, want).await;
    }

    async fn processes(&self) -> Option<Vec<Value>> {
        processes(&self.c, &self.server.base, ADMIN).await
    }

    async fn wait_for_statuses(&self, want: &[Value]) {
        wait_for_statuses(&self.c, &self.server.base, ADMIN, want).await;
    }

    fn finish(mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A scenario run waiting on a timer survives `kill -9`: its saved state is resumed after the
/// restart, the timer fires, and the run's next component writes.
#[tokio::test]
async fn a_waiting_scenario_run_survives_kill_9() {
    use crate::automation::{chain, edit_own, timer};
    let mut run =
        OneRun::start(|note| chain(&[timer("PT2S"), edit_own(&[(note, "'after the restart'")])]))
            .await;
    // The run is waiting on its timer: kill the server under it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.kill_9();
    run.restart();
    run.wait_for_note("after the restart").await;
    // Its process record says done (written just after that last component).
    run.wait_for_statuses(&[json!(["$done"])]).await;
    run.finish();
}

/// A run whose process record is deleted while it waits on its timer stays stopped when the
/// server is killed before the timer is due: after the restart it is not resumed.
#[tokio::test]
async fn a_run_deleted_while_it_waits_stays_stopped_after_kill_9() {
    use crate::automation::{chain, edit_own, timer};
    let mut run = OneRun::start(|note| chain(&[timer("PT3S"), edit_own(&[(note, "'ran'")])])).await;
    run.wait_for_statuses(&[json!(["$running"])]).await;
    let running = run.processes().await.unwrap_or_default();
    let process = running[0]["id"].as_str().unwrap_or_default().to_string();
    let r = run
        .c
        .delete(format!(
            "{}/api/v1/catalogs/$processes/records/{process}",
            run.server.base
        ))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    run.kill_9();
    run.restart();
    // Past the timer, with time to spare for its next component.
    tokio::time::sleep(Duration::from_millis(4500)).await;
    let (s, c) = (&run.server, &run.c);
    let got = read_record(c, &s.base, ADMIN, &run.catalog, &run.record).await;
    assert!(
        got["values"][&run.note].is_null() || got["values"][&run.note] == json!(""),
        "the deleted run went on after the restart: {got}"
    );
    let left = run.processes().await.unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
    run.finish();
}

/// An after-event committed just before `kill -9`, whose run had recorded nothing yet (it
/// was busy in its first step), starts that run after the restart, once: the event was
/// journaled with the record. A later restart starts nothing again.
#[tokio::test]
async fn an_event_whose_run_was_cut_off_runs_after_kill_9() {
    use crate::automation::{chain, code, edit_own};
    let mut run = OneRun::start(|note| {
        chain(&[
            code("var t = Date.now(); while (Date.now() - t < 3000) {} return 1;"),
            edit_own(&[(note, "'ran'")]),
        ])
    })
    .await;
    // The run is inside its first component, nothing of it recorded: kill the server.
    tokio::time::sleep(Duration::from_millis(500)).await;
    run.kill_9();
    assert!(
        run.processes().await.is_none(),
        "the killed server still answers"
    );
    run.restart();
    run.wait_for_note("ran").await;
    run.wait_for_statuses(&[json!(["$done"])]).await;
    // Forgotten once acted on: another restart starts no second run.
    run.stop();
    run.restart();
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let all = run.processes().await.unwrap_or_default();
    assert_eq!(all.len(), 1, "one run for one event: {all:?}");
    run.finish();
}

/// A new catalog with a text field "Note" a scenario fills in: (catalog id, field id).
async fn catalog_with_note(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
) -> (String, String) {
    let (catalog, _) = make_catalog(c, base, auth).await;
    let got: Value = c
        .get(format!("{base}/api/v1/catalogs/{catalog}"))
        .basic_auth(auth.0, Some(auth.1))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("catalog");
    let mut fields = got["fields"].as_array().cloned().unwrap_or_default();
    fields.push(json!({"name": "Note", "type": "text"}));
    let r = c
        .patch(format!("{base}/api/v1/catalogs/{catalog}"))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"fields": fields}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let cat: Value = r.json().await.expect("catalog");
    let note = crate::support::field_id(&cat, "Note");
    (catalog, note)
}

/// Stores `bpmn` as a scenario and subscribes it to the catalog's `after.create`.
async fn subscribe_after_create(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    catalog: &str,
    bpmn: Vec<u8>,
) {
    let script = store_scenario(c, base, auth, bpmn).await;
    post_ok(
        c,
        base,
        auth,
        "/api/v1/catalogs/$events/records",
        json!({"values": {
            "$status": ["$on"], "$name": "on create",
            "$catalog": [{"catalogId": "$catalogs", "recordId": catalog}],
            "$eventTypes": ["$record.after.create"],
            "$script": [{"catalogId": "$scripts", "recordId": script}],
        }}),
    )
    .await;
}

/// A record as the API reads it.
async fn read_record(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    catalog: &str,
    record: &str,
) -> Value {
    c.get(format!("{base}/api/v1/catalogs/{catalog}/records/{record}"))
        .basic_auth(auth.0, Some(auth.1))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("record")
}

/// Waits (15 s at most) until the record's note reads `want`.
async fn wait_for_note(
    c: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    catalog: &str,
    record: &str,
    note: &str,
    want: &str,
) {
    let started = Instant::now();
    loop {
        let got = read_record(c, base, auth, catalog, record).await;
        if got["values"][note] == json!(want) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the run did not write {want:?}: {got}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `$processes` records; `None` when the server does not answer.
async fn processes(c: &reqwest::Client, base: &str, auth: (&str, &str)) -> Option<Vec<Value>> {
    let r = c
        .get(format!("{base}/api/v1/catalogs/$processes/records"))
        .basic_auth(auth.0, Some(auth.1))
        .send()
        .await
        .ok()?;
    r.json::<Value>().await.ok()?.as_array().cloned()
}

/// Waits (15 s at most) until the process records' statuses are exactly `want`.
async fn wait_for_statuses(c: &reqwest::Client, base: &str, auth: (&str, &str), want: &[Value]) {
    let started = Instant::now();
    loop {
        let statuses: Vec<Value> = processes(c, base, auth)
            .await
            .unwrap_or_default()
            .iter()
            .map(|p| p["values"]["$status"].clone())
            .collect();
        if statuses == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "process statuses {statuses:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--files s3://bucket/prefix` (here through `KARTOTEKA_FILES`) with the `AWS_*` settings: an
/// upload through the API lands in the bucket under the prefix; a bucket that does not answer
/// stops the start with a message.
#[cfg(feature = "s3")]
#[tokio::test]
async fn files_in_s3_from_the_command_line() {
    let Some(moto) = crate::s3::moto("binary::files_in_s3_from_the_command_line") else {
        return;
    };
    let bucket = moto.bucket().await;
    let dir = temp_dir();
    let db = Db::new();
    let port = free_port();
    let mut owned = moto.vars();
    owned.push(("KARTOTEKA_ADMIN_PASSWORD".into(), "admin123".into()));
    owned.push(("KARTOTEKA_FILES".into(), format!("s3://{bucket}/kt")));
    let envs: Vec<(&str, String)> = owned.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut s = spawn(&dir, port, &db, &envs);
    wait_ready(&s.base);
    let c = reqwest::Client::new();
    let auth = ("admin@example.com", "admin123");
    let sec: Value = c
        .post(format!("{}/api/v1/sections", s.base))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"name": "S3"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let cat: Value = c
        .post(format!("{}/api/v1/catalogs", s.base))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"sectionId": sec["id"], "name": "Docs", "fields": [{"name": "F", "type": "file"}]}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    let ticket: Value = c
        .post(format!("{}/api/v1/files", s.base))
        .basic_auth(auth.0, Some(auth.1))
        .json(&json!({"catalogId": cat["id"], "fieldId": cat["fields"][0]["id"], "name": "x.txt", "size": 5, "mimeType": "text/plain", "typeStorage": "remoteStorage"}))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(
        crate::files::send_bytes(&ticket, b"hello".to_vec(), None).await,
        204
    );
    let key = ticket["fileKey"].as_str().expect("key");
    assert_eq!(
        moto.object(&bucket, &format!("kt/{key}")).await,
        Some(b"hello".to_vec())
    );
    assert!(!dir.join("files").exists(), "nothing in the data folder");
    sigterm(&s.child);
    assert!(wait_exit(&mut s.child).success());

    // A bucket that does not exist: the server does not start, and says why.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kartoteka"));
    cmd.arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{}", free_port()))
        .arg("--data")
        .arg(&dir)
        .arg("--files")
        .arg("s3://no-such-bucket/kt")
        .env("KARTOTEKA_LOG", "warn")
        .env_remove("KARTOTEKA_FILES")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = &db.url {
        cmd.arg("--database").arg(url);
    }
    for (k, v) in moto.vars() {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    let status = wait_exit(&mut child);
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("read");
    assert!(err.contains("checking the file storage"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
