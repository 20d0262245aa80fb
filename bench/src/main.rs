//! `kartoteka-bench`: HTTP load generator for an already running Kartoteka
//! (Bpium REST API v1 compatible) server.
//!
//! It logs in, builds a fixture (section, a target catalog with a few records,
//! and an 8-field measured catalog), then runs the requested phases
//! (`create`, `get`, `list`) with `--concurrency` workers, each on its own
//! keep-alive HTTP/1.1 connection. Every phase is bounded by `--duration-secs`
//! and `--max-requests`. Results go to stdout as JSON, progress to stderr.

mod automation;
mod conn;
mod receiver;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hyper::header::{HeaderValue, SET_COOKIE};
use hyper::Method;
use serde_json::{json, Map, Value};

use conn::{Conn, Target};

/// Upper bound on record ids kept from `create` phases for the `get` phase.
const MAX_KEPT_IDS: usize = 100_000;
/// Records created (untimed) when `get` runs without a preceding `create`.
const SEED_RECORDS: u64 = 1_000;
/// Error responses echoed to stderr per process.
const MAX_PRINTED_ERRORS: usize = 5;

#[derive(Parser, Debug)]
#[command(
    name = "kartoteka-bench",
    about = "Load generator for a running Kartoteka server"
)]
struct Args {
    /// Base URL of the server (only this address is ever contacted).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Login e-mail.
    #[arg(
        long,
        env = "KARTOTEKA_ADMIN_EMAIL",
        default_value = "admin@example.com"
    )]
    email: String,
    /// Login password.
    #[arg(
        long,
        env = "KARTOTEKA_ADMIN_PASSWORD",
        default_value = "admin123",
        hide_env_values = true
    )]
    password: String,
    /// Concurrent workers (one keep-alive connection each).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    concurrency: u32,
    /// Measured duration of each phase, seconds.
    #[arg(long, default_value_t = 10.0)]
    duration_secs: f64,
    /// Measured request budget of each phase.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// Unmeasured warmup before each phase, seconds.
    #[arg(long, default_value_t = 1.0)]
    warmup_secs: f64,
    /// Phases to run, in order.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "create,get")]
    phases: Vec<Phase>,
    /// Server pid: report its VmRSS / VmHWM after each phase.
    #[arg(long)]
    pid: Option<u32>,
    /// The request of the `path` phase (path and query, percent-encoded).
    #[arg(long, default_value = "/api/v1/catalogs/$users/records")]
    path: String,
    /// Per-request timeout, seconds.
    #[arg(long, default_value_t = 30.0)]
    request_timeout_secs: f64,
    /// The `timers` phase: how long each run's timer waits, seconds.
    #[arg(long, default_value_t = 30)]
    timer_secs: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Phase {
    Create,
    Get,
    List,
    /// Creates with a `record.created` webhook to a receiver in this process: delivery
    /// throughput and lag.
    Webhook,
    /// Creates with a `record.before.created` webhook: the cost of one before-hook.
    Beforehook,
    /// Creates with a `record.created` webhook whose receiver is down: the cost of writing
    /// the outbox alone (deliveries wait for their retry).
    Outbox,
    /// `GET --path` over and over (e.g. a filtered list of a preloaded catalog).
    Path,
    /// Creates with a `$record.after.create` event whose scenario edits the new record:
    /// scenario runs per second and event-to-completion latency.
    Automation,
    /// The same with a timer of `--timer-secs` before the edit: memory of waiting runs and
    /// how late their timers fire (restart the server meanwhile to include a restart).
    Timers,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Get => "get",
            Phase::List => "list",
            Phase::Webhook => "webhook",
            Phase::Beforehook => "beforehook",
            Phase::Outbox => "outbox",
            Phase::Path => "path",
            Phase::Automation => "automation",
            Phase::Timers => "timers",
        }
    }
}

fn secs(value: f64, what: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(value).map_err(|_| anyhow!("invalid {what}: {value}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kartoteka-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<()> {
    let duration = secs(args.duration_secs, "--duration-secs")?;
    let warmup = secs(args.warmup_secs, "--warmup-secs")?;
    let timeout = secs(args.request_timeout_secs, "--request-timeout-secs")?;
    let target = Arc::new(Target::parse(&args.url, timeout)?);

    eprintln!("kartoteka-bench: setting up fixture on {}", args.url);
    let (cookie, fixture) = setup(&target, &args).await?;
    let fixture = Arc::new(fixture);

    let concurrency = args.concurrency as usize;
    let mut pool = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut c = Conn::new(target.clone(), Some(cookie.clone()));
        c.ensure_connected().await?;
        pool.push(c);
    }

    let epoch = Instant::now();
    let receiver = if args
        .phases
        .iter()
        .any(|p| matches!(p, Phase::Webhook | Phase::Beforehook | Phase::Outbox))
    {
        Some(receiver::Receiver::start(epoch, fixture.f[0].clone())?)
    } else {
        None
    };
    let mut admin = Conn::new(target.clone(), Some(cookie.clone()));
    let mut ids: Vec<String> = Vec::new();
    let mut reports = Vec::new();
    for phase in args.phases.iter().copied() {
        if phase == Phase::Get && ids.is_empty() {
            eprintln!("[get] no ids from a create phase: seeding {SEED_RECORDS} records (untimed)");
            let limits = Limits {
                warmup: Duration::ZERO,
                duration: Duration::from_secs(600),
                max_requests: SEED_RECORDS,
            };
            let run = run_phase("seed", &mut pool, limits, create_fn(&fixture), true).await?;
            ids = run.ids;
            if ids.is_empty() {
                bail!("could not create any record for the get phase");
            }
        }
        let hooked = matches!(phase, Phase::Webhook | Phase::Beforehook | Phase::Outbox);
        let limits = Limits {
            // Every delivery of a webhook phase is counted, so it has no warmup.
            warmup: if hooked { Duration::ZERO } else { warmup },
            duration,
            max_requests: args.max_requests,
        };
        let mut hook = None;
        if let (true, Some(rx)) = (hooked, &receiver) {
            let event = if matches!(phase, Phase::Webhook | Phase::Outbox) {
                "$record.created"
            } else {
                "$record.before.created"
            };
            // Port 9 (discard) on loopback: nothing listens, every try is refused.
            let url = if phase == Phase::Outbox {
                "http://127.0.0.1:9/hook"
            } else {
                rx.url.as_str()
            };
            hook = Some(subscribe(&mut admin, &fixture, event, url).await?);
            if let Ok(mut seen) = rx.seen.lock() {
                *seen = receiver::Seen::default();
            }
        }
        let mut subscription = None;
        let timer = (phase == Phase::Timers).then_some(args.timer_secs);
        let rss_before = args.pid.and_then(read_mem).map(|m| m.0);
        if matches!(phase, Phase::Automation | Phase::Timers) {
            subscription = Some(automation::subscribe(&mut admin, &fixture, timer).await?);
        }
        let make = match phase {
            Phase::Create => create_fn(&fixture),
            Phase::Automation | Phase::Timers => automation::stamped_create_fn(&fixture),
            Phase::Get => get_fn(&fixture, Arc::new(ids.clone())),
            Phase::List => list_fn(&fixture),
            Phase::Path => {
                let path = args.path.clone();
                Arc::new(move |_| (Method::GET, path.clone(), None)) as MakeReq
            }
            Phase::Webhook | Phase::Beforehook | Phase::Outbox => {
                stamped_create_fn(&fixture, epoch)
            }
        };
        let phase_start = automation::Started::now();
        let cpu_before = CpuSample::take(args.pid);
        let run = run_phase(
            phase.name(),
            &mut pool,
            limits,
            make,
            phase == Phase::Create,
        )
        .await?;
        if phase == Phase::Create {
            ids.extend(run.ids.iter().cloned());
            ids.truncate(MAX_KEPT_IDS);
        }
        let created = run.requests - run.errors;
        let delivery = match (phase, &receiver) {
            (Phase::Webhook, Some(rx)) => Some(await_deliveries(rx, created, phase_start.at).await),
            _ => None,
        };
        let rss_waiting = args.pid.and_then(read_mem).map(|m| m.0);
        let runs = match subscription {
            Some(sub) => {
                let mut r =
                    automation::await_runs(&mut admin, &fixture, &sub, created, phase_start, timer)
                        .await?;
                if let (Some(t), Some(o)) = (timer, r.as_object_mut()) {
                    o.insert("timer_s".into(), json!(t));
                    o.insert("rss_mb_before".into(), json!(rss_before));
                    o.insert("rss_mb_all_waiting".into(), json!(rss_waiting));
                }
                Some(r)
            }
            None => None,
        };
        if let Some(h) = hook {
            call(
                &mut admin,
                Method::DELETE,
                &format!("/api/v1/catalogs/$webhooks/records/{h}"),
                None,
            )
            .await?;
        }
        let cpu_after = CpuSample::take(args.pid);
        let mut report = run.report(phase.name(), concurrency, args.pid);
        if let (Some(d), Some(obj)) = (delivery, report.as_object_mut()) {
            obj.insert("webhook".into(), d);
        }
        if let (Some(r), Some(obj)) = (runs, report.as_object_mut()) {
            obj.insert("automation".into(), r);
        }
        if let Some(obj) = report.as_object_mut() {
            cpu_before.describe(&cpu_after, obj);
        }
        eprintln!("[{}] {report}", phase.name());
        reports.push(report);
    }

    let out = json!({ "url": args.url, "phases": reports });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

// ---------------------------------------------------------------- fixture --

/// Everything needed to build request bodies for the measured catalog.
#[derive(Default)]
struct Fixture {
    catalog_id: String,
    user_id: String,
    target_catalog_id: String,
    target_ids: Vec<String>,
    /// Field ids, in the order title, amount, due, stage, tags, owner, client, phone.
    f: [String; 8],
    stage_items: Vec<String>,
    tag_items: Vec<String>,
}

impl Fixture {
    fn create_body(&self, n: u64) -> Bytes {
        let [title, amount, due, stage, tags, owner, client, phone] = &self.f;
        let pick = |v: &[String], k: u64| v[(k % v.len() as u64) as usize].clone();
        let mask = n % 7 + 1; // never empty
        let chosen_tags: Vec<&String> = (0..self.tag_items.len())
            .filter(|i| mask & (1 << (i % 3)) != 0)
            .map(|i| &self.tag_items[i])
            .collect();
        let mut values = Map::new();
        values.insert(title.clone(), json!(format!("Deal {n}")));
        values.insert(amount.clone(), json!((n % 100_000) as f64 * 1.5 + 0.25));
        values.insert(
            due.clone(),
            json!(format!(
                "2026-{:02}-{:02}T{:02}:{:02}:05.000Z",
                n % 12 + 1,
                n % 28 + 1,
                n % 24,
                n % 60
            )),
        );
        values.insert(stage.clone(), json!([pick(&self.stage_items, n)]));
        values.insert(tags.clone(), json!(chosen_tags));
        values.insert(owner.clone(), json!([{ "id": self.user_id }]));
        values.insert(
            client.clone(),
            json!([{ "catalogId": self.target_catalog_id, "recordId": pick(&self.target_ids, n) }]),
        );
        values.insert(
            phone.clone(),
            json!([{
                "contact": format!("+7 900 {:03}-{:02}-{:02}", n % 1000, (n / 1000) % 100, (n / 100_000) % 100),
                "comment": (["office", "mobile"][(n % 2) as usize]),
            }]),
        );
        Bytes::from(json!({ "values": values }).to_string())
    }
}

/// Sends a setup request and returns the parsed JSON, failing on non-2xx.
async fn call(c: &mut Conn, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let what = format!("{method} {path}");
    let resp = c
        .send(method, path, body.map(|b| Bytes::from(b.to_string())))
        .await
        .with_context(|| what.clone())?;
    if !resp.status.is_success() {
        bail!("{what} -> {}: {}", resp.status, resp.body_text());
    }
    serde_json::from_slice(&resp.body).with_context(|| format!("{what}: response is not JSON"))
}

fn id_of(v: &Value) -> Result<String> {
    match v.get("id") {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => bail!("no \"id\" in {v}"),
    }
}

fn field<'a>(catalog: &'a Value, name: &str) -> Result<&'a Value> {
    catalog
        .get("fields")
        .and_then(Value::as_array)
        .and_then(|fs| {
            fs.iter()
                .find(|f| f.get("name").and_then(Value::as_str) == Some(name))
        })
        .ok_or_else(|| anyhow!("field {name:?} missing in created catalog"))
}

fn item_ids(field: &Value) -> Result<Vec<String>> {
    let items = field
        .pointer("/config/items")
        .and_then(Value::as_array)
        .ok_or_else(|| anyhow!("no config.items in field {field}"))?;
    let ids = items.iter().map(id_of).collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        bail!("empty config.items in field {field}");
    }
    Ok(ids)
}

async fn setup(target: &Arc<Target>, args: &Args) -> Result<(HeaderValue, Fixture)> {
    let mut c = Conn::new(target.clone(), None);
    let login = json!({ "email": args.email, "password": args.password });
    let resp = c
        .send(
            Method::POST,
            "/auth/login",
            Some(Bytes::from(login.to_string())),
        )
        .await
        .context("POST /auth/login")?;
    if !resp.status.is_success() {
        bail!("login failed: {} {}", resp.status, resp.body_text());
    }
    let sid = resp
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::trim)
        .find(|kv| kv.starts_with("sid="))
        .ok_or_else(|| anyhow!("login returned no sid cookie"))?;
    let cookie = HeaderValue::from_str(sid).context("bad sid cookie")?;
    c.set_cookie(cookie.clone());

    let user_id = id_of(&call(&mut c, Method::GET, "/api/v1/profile/me", None).await?)?;
    if args.phases.iter().all(|p| matches!(p, Phase::Path)) {
        // Only a given request: no fixture, so any employee can run it.
        return Ok((
            cookie,
            Fixture {
                user_id,
                ..Fixture::default()
            },
        ));
    }
    let section = call(
        &mut c,
        Method::POST,
        "/api/v1/sections",
        Some(json!({ "name": "Bench" })),
    )
    .await?;
    let section_id = id_of(&section)?;

    let targets = call(
        &mut c,
        Method::POST,
        "/api/v1/catalogs",
        Some(json!({
            "sectionId": section_id,
            "name": "Bench targets",
            "fields": [{ "name": "Title", "type": "text", "config": { "type": "text" } }],
        })),
    )
    .await?;
    let target_catalog_id = id_of(&targets)?;
    let target_title = id_of(field(&targets, "Title")?)?;
    let mut target_ids = Vec::new();
    for i in 1..=10 {
        let rec = call(
            &mut c,
            Method::POST,
            &format!("/api/v1/catalogs/{target_catalog_id}/records"),
            Some(json!({ "values": { target_title.clone(): format!("Target {i}") } })),
        )
        .await?;
        target_ids.push(id_of(&rec)?);
    }

    let catalog = call(
        &mut c,
        Method::POST,
        "/api/v1/catalogs",
        Some(json!({
            "sectionId": section_id,
            "name": "Bench deals",
            "fields": [
                {"name":"Title","type":"text","config":{"type":"text"}},
                {"name":"Amount","type":"number","config":{}},
                {"name":"Due","type":"date","config":{"time":true}},
                {"name":"Stage","type":"dropdown","config":{"items":[{"name":"New","color":"C9FDE5"},{"name":"Won"},{"name":"Lost"}]}},
                {"name":"Tags","type":"checkboxes","config":{"items":[{"name":"a"},{"name":"b"},{"name":"c"}]}},
                {"name":"Owner","type":"user","config":{}},
                {"name":"Client","type":"object","config":{"catalogs":[{"id": target_catalog_id}]}},
                {"name":"Phone","type":"contact","config":{"type":"phone"}},
            ],
        })),
    )
    .await?;
    let names = [
        "Title", "Amount", "Due", "Stage", "Tags", "Owner", "Client", "Phone",
    ];
    let mut f: [String; 8] = Default::default();
    for (slot, name) in f.iter_mut().zip(names) {
        *slot = id_of(field(&catalog, name)?)?;
    }
    let fixture = Fixture {
        catalog_id: id_of(&catalog)?,
        user_id,
        target_catalog_id,
        target_ids,
        stage_items: item_ids(field(&catalog, "Stage")?)?,
        tag_items: item_ids(field(&catalog, "Tags")?)?,
        f,
    };
    eprintln!(
        "kartoteka-bench: user {} catalog {} ({} target records)",
        fixture.user_id,
        fixture.catalog_id,
        fixture.target_ids.len()
    );
    Ok((cookie, fixture))
}

// ----------------------------------------------------------------- phases --

/// Builds request number `n` of a phase: method, path, optional JSON body.
type MakeReq = Arc<dyn Fn(u64) -> (Method, String, Option<Bytes>) + Send + Sync>;

fn create_fn(fx: &Arc<Fixture>) -> MakeReq {
    let fx = fx.clone();
    let path = format!("/api/v1/catalogs/{}/records", fx.catalog_id);
    Arc::new(move |n| (Method::POST, path.clone(), Some(fx.create_body(n))))
}

/// Creates whose title carries the send time, for the webhook receiver to measure lag.
fn stamped_create_fn(fx: &Arc<Fixture>, epoch: Instant) -> MakeReq {
    let fx = fx.clone();
    let path = format!("/api/v1/catalogs/{}/records", fx.catalog_id);
    Arc::new(move |n| {
        let mut body: Value = serde_json::from_slice(&fx.create_body(n)).unwrap_or_default();
        if let Some(v) = body.get_mut("values").and_then(Value::as_object_mut) {
            v.insert(fx.f[0].clone(), json!(receiver::stamp(epoch)));
        }
        (
            Method::POST,
            path.clone(),
            Some(Bytes::from(body.to_string())),
        )
    })
}

/// Subscribes the receiver to the bench catalog; returns the hook id.
async fn subscribe(c: &mut Conn, fx: &Fixture, event: &str, url: &str) -> Result<String> {
    let hook = call(
        c,
        Method::POST,
        "/api/v1/catalogs/$webhooks/records",
        Some(json!({"values": {
            "$catalog": [{"catalogId": "$catalogs", "recordId": fx.catalog_id}],
            "$eventTypes": [event],
            "$url": url,
            "$secret": "bench",
        }})),
    )
    .await?;
    id_of(&hook)
}

/// Waits (up to two minutes) until `created` notifications arrived; reports the delivery
/// rate over the phase and the lag percentiles.
async fn await_deliveries(rx: &receiver::Receiver, created: u64, start: Instant) -> Value {
    let phase_end = Instant::now();
    let backlog_at_end = created.saturating_sub(rx.seen.lock().map(|s| s.calls).unwrap_or(0));
    let deadline = phase_end + Duration::from_secs(120);
    loop {
        let calls = rx.seen.lock().map(|s| s.calls).unwrap_or(0);
        if calls >= created || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let Ok(seen) = rx.seen.lock() else {
        return Value::Null;
    };
    let mut lags = seen.lags_ns.clone();
    lags.sort_unstable();
    let ms = |ns: u64| (ns as f64 / 1e3).round() / 1e3;
    let pct = |p: f64| -> Value {
        if lags.is_empty() {
            return Value::Null;
        }
        let rank = ((p * lags.len() as f64).ceil() as usize).clamp(1, lags.len());
        json!(ms(lags[rank - 1]))
    };
    let span = seen
        .last
        .map(|l| l.saturating_duration_since(start).as_secs_f64())
        .unwrap_or(0.0);
    json!({
        "created": created,
        "delivered": seen.calls,
        "malformed": seen.malformed,
        "backlog_at_phase_end": backlog_at_end,
        "deliveries_per_s": if span > 0.0 { ((seen.calls as f64 / span) * 10.0).round() / 10.0 } else { 0.0 },
        "lag_ms": {"p50": pct(0.5), "p90": pct(0.9), "p99": pct(0.99), "max": lags.last().map_or(Value::Null, |&l| json!(ms(l)))},
    })
}

fn get_fn(fx: &Fixture, ids: Arc<Vec<String>>) -> MakeReq {
    let prefix = format!("/api/v1/catalogs/{}/records/", fx.catalog_id);
    Arc::new(move |n| {
        // Scatter over the id set instead of walking it in insertion order.
        let i = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16) % ids.len() as u64;
        (Method::GET, format!("{prefix}{}", ids[i as usize]), None)
    })
}

fn list_fn(fx: &Fixture) -> MakeReq {
    let path = format!("/api/v1/catalogs/{}/records?limit=100", fx.catalog_id);
    Arc::new(move |_| (Method::GET, path.clone(), None))
}

#[derive(Clone, Copy)]
struct Limits {
    warmup: Duration,
    duration: Duration,
    max_requests: u64,
}

/// State shared by the workers of one phase.
struct Shared {
    warm_end: Instant,
    end: Instant,
    max_requests: u64,
    /// Measured requests started (the budget counter).
    started: AtomicU64,
    /// Measured requests completed / failed (progress display).
    completed: AtomicU64,
    failed: AtomicU64,
    printed_errors: AtomicUsize,
}

struct WorkerOut {
    conn: Conn,
    latencies_ns: Vec<u64>,
    requests: u64,
    errors: u64,
    ids: Vec<String>,
}

struct PhaseRun {
    latencies_ns: Vec<u64>,
    requests: u64,
    errors: u64,
    elapsed: Duration,
    ids: Vec<String>,
}

#[derive(serde::Deserialize)]
struct IdOnly {
    id: Value,
}

async fn worker(
    w: u64,
    workers: u64,
    mut conn: Conn,
    shared: Arc<Shared>,
    make: MakeReq,
    id_cap: usize,
    label: &'static str,
) -> WorkerOut {
    let mut latencies_ns = Vec::new();
    let (mut requests, mut errors) = (0u64, 0u64);
    let mut ids = Vec::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        if now >= shared.end {
            break;
        }
        let measured = now >= shared.warm_end;
        if measured && shared.started.fetch_add(1, Ordering::Relaxed) >= shared.max_requests {
            break;
        }
        let (method, path, body) = make(seq * workers + w);
        seq += 1;
        let t0 = Instant::now();
        let res = conn.send(method, &path, body).await;
        let latency = t0.elapsed();
        let ok = match &res {
            Ok(r) if r.status.is_success() => {
                if ids.len() < id_cap {
                    match serde_json::from_slice::<IdOnly>(&r.body) {
                        Ok(IdOnly {
                            id: Value::String(s),
                        }) => ids.push(s),
                        Ok(IdOnly { id }) => ids.push(id.to_string()),
                        Err(_) => {}
                    }
                }
                true
            }
            Ok(r) => {
                if shared.printed_errors.fetch_add(1, Ordering::Relaxed) < MAX_PRINTED_ERRORS {
                    eprintln!("[{label}] {path} -> {}: {}", r.status, r.body_text());
                }
                false
            }
            Err(e) => {
                if shared.printed_errors.fetch_add(1, Ordering::Relaxed) < MAX_PRINTED_ERRORS {
                    eprintln!("[{label}] {path} -> error: {e:#}");
                }
                // Avoid spinning on e.g. a refused connection.
                tokio::time::sleep(Duration::from_millis(50)).await;
                false
            }
        };
        if measured {
            requests += 1;
            shared.completed.fetch_add(1, Ordering::Relaxed);
            if res.is_ok() {
                latencies_ns.push(latency.as_nanos() as u64);
            }
            if !ok {
                errors += 1;
                shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    WorkerOut {
        conn,
        latencies_ns,
        requests,
        errors,
        ids,
    }
}

async fn run_phase(
    label: &'static str,
    pool: &mut Vec<Conn>,
    limits: Limits,
    make: MakeReq,
    collect_ids: bool,
) -> Result<PhaseRun> {
    let workers = pool.len();
    let id_cap = if collect_ids {
        MAX_KEPT_IDS.div_ceil(workers)
    } else {
        0
    };
    let start = Instant::now();
    let warm_end = start + limits.warmup;
    let shared = Arc::new(Shared {
        warm_end,
        end: warm_end + limits.duration,
        max_requests: limits.max_requests,
        started: AtomicU64::new(0),
        completed: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        printed_errors: AtomicUsize::new(0),
    });
    eprintln!(
        "[{label}] {workers} workers, warmup {:?}, duration {:?}, max {} requests",
        limits.warmup, limits.duration, limits.max_requests
    );

    let done = Arc::new(AtomicBool::new(false));
    let ticker = {
        let (shared, done) = (shared.clone(), done.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            while !done.load(Ordering::Relaxed) {
                tick.tick().await;
                eprintln!(
                    "[{label}] t={:.0}s done={} errors={}",
                    start.elapsed().as_secs_f64(),
                    shared.completed.load(Ordering::Relaxed),
                    shared.failed.load(Ordering::Relaxed)
                );
            }
        })
    };

    let handles: Vec<_> = pool
        .drain(..)
        .enumerate()
        .map(|(w, conn)| {
            tokio::spawn(worker(
                w as u64,
                workers as u64,
                conn,
                shared.clone(),
                make.clone(),
                id_cap,
                label,
            ))
        })
        .collect();
    let mut run = PhaseRun {
        latencies_ns: Vec::new(),
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        ids: Vec::new(),
    };
    let mut join_err = None;
    for h in handles {
        match h.await {
            Ok(out) => {
                run.latencies_ns.extend_from_slice(&out.latencies_ns);
                run.requests += out.requests;
                run.errors += out.errors;
                run.ids.extend(out.ids);
                pool.push(out.conn);
            }
            Err(e) => join_err = Some(e),
        }
    }
    run.elapsed = Instant::now().saturating_duration_since(warm_end);
    done.store(true, Ordering::Relaxed);
    ticker.abort();
    if let Some(e) = join_err {
        return Err(e).context("bench worker panicked");
    }
    run.ids.truncate(MAX_KEPT_IDS);
    Ok(run)
}

impl PhaseRun {
    fn report(mut self, phase: &str, concurrency: usize, pid: Option<u32>) -> Value {
        self.latencies_ns.sort_unstable();
        let lat = &self.latencies_ns;
        let ms = |ns: u64| (ns as f64 / 1e6 * 1000.0).round() / 1000.0;
        let pct = |p: f64| {
            if lat.is_empty() {
                return Value::Null;
            }
            let rank = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
            json!(ms(lat[rank - 1]))
        };
        let secs = self.elapsed.as_secs_f64();
        let rps = if secs > 0.0 {
            self.requests as f64 / secs
        } else {
            0.0
        };
        let (rss, hwm) = pid.and_then(read_mem).unzip();
        json!({
            "phase": phase,
            "concurrency": concurrency,
            "requests": self.requests,
            "errors": self.errors,
            "duration_s": (secs * 1000.0).round() / 1000.0,
            "throughput_rps": (rps * 10.0).round() / 10.0,
            "latency_ms": {
                "p50": pct(0.50),
                "p90": pct(0.90),
                "p99": pct(0.99),
                "p999": pct(0.999),
                "max": lat.last().map_or(Value::Null, |&ns| json!(ms(ns))),
            },
            "rss_mb": rss,
            "hwm_mb": hwm,
        })
    }
}

/// CPU counters at one moment: the server's own CPU time and the host's steal time, so a
/// figure can be read as "CPU per request" whatever the neighbours of this machine do.
struct CpuSample {
    at: Instant,
    server_ticks: Option<u64>,
    host: Option<(u64, u64)>,
}

/// Linux reports CPU time in USER_HZ ticks, 100 per second on every common build.
const TICKS_PER_SEC: f64 = 100.0;

impl CpuSample {
    fn take(pid: Option<u32>) -> CpuSample {
        CpuSample {
            at: Instant::now(),
            server_ticks: pid.and_then(process_ticks),
            host: host_ticks(),
        }
    }

    /// Adds `server_cpu_cores` (average cores the server used), `server_cpu_us_per_request`
    /// and `host_steal_pct` to a phase report.
    fn describe(&self, after: &CpuSample, out: &mut serde_json::Map<String, Value>) {
        let wall = after.at.saturating_duration_since(self.at).as_secs_f64();
        if let (Some(a), Some(b)) = (self.server_ticks, after.server_ticks) {
            if wall > 0.0 {
                let cores = b.saturating_sub(a) as f64 / TICKS_PER_SEC / wall;
                out.insert(
                    "server_cpu_cores".into(),
                    json!((cores * 100.0).round() / 100.0),
                );
                if let Some(rps) = out
                    .get("throughput_rps")
                    .and_then(Value::as_f64)
                    .filter(|r| *r > 0.0)
                {
                    out.insert(
                        "server_cpu_us_per_request".into(),
                        json!((cores * 1e6 / rps).round()),
                    );
                }
            }
        }
        if let (Some((t0, s0)), Some((t1, s1))) = (self.host, after.host) {
            let total = t1.saturating_sub(t0);
            if total > 0 {
                let steal = s1.saturating_sub(s0) as f64 * 100.0 / total as f64;
                out.insert("host_steal_pct".into(), json!(steal.round()));
            }
        }
    }
}

/// utime + stime of a process, from `/proc/<pid>/stat`.
fn process_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// (all ticks, steal ticks) of the host, from the first line of `/proc/stat`.
fn host_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((v.iter().take(8).sum(), *v.get(7)?))
}

/// Reads `(VmRSS, VmHWM)` in MB from `/proc/<pid>/status`.
fn read_mem(pid: u32) -> Option<(f64, f64)> {
    let status = match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cannot read /proc/{pid}/status: {e}");
            return None;
        }
    };
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        let v: f64 = line[key.len()..].split_whitespace().next()?.parse().ok()?;
        Some((v / 1024.0 * 10.0).round() / 10.0)
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}
