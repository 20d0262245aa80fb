//! Scenario runs on this server (spec 03 §1–§4): bindings from `$events` and `$webRequests`
//! to `$scripts`, one `$processes` record per run, and the loop that drives the engine step by
//! step with the pacing of §4.4. A process's record writes go through the core as the system
//! actor. Deleting a running process's record aborts it before its next component.
//!
//! Durable: an after-event a subscription waits for is journaled with its record change
//! (`automation_events`) and forgotten once every run it started has recorded itself; a run
//! saves its state after every step that leaves work (`process_runs`). After a restart the
//! saved runs resume and the journaled events start the runs they had not started yet. A
//! `$running` record with no saved state behind it (the server stopped in between) is marked
//! `$aborted`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use kartoteka_bpmn::Ir;
use kartoteka_core::error::Error;
use kartoteka_core::events::{
    AfterEvent, BeforeEvent, BeforeHook, HookFuture, RecordAction, UpdatingEvent, UpdatingFuture,
    CAUSE_DEPTH,
};
use kartoteka_core::records::{ListQuery, ReadOptions, RecordInput};
use kartoteka_core::scenarios::ProcessRun;
use kartoteka_core::webhooks::requests::HookMessage;
use kartoteka_core::{Actor, App};
use kartoteka_engine::{Engine, Outcome, Settings, State};
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::ports::AppPorts;
use crate::scenarios::BpmnCompiler;

const SCRIPTS: &str = "$scripts";
const EVENTS: &str = "$events";
const PROCESSES: &str = "$processes";
const PROCESSES_DB_ID: i64 = 8;
/// Scenario runs leading to one another stop here (spec 03 §3.2).
pub const MAX_DEPTH: u32 = 10;
/// What a `$processes` record keeps of a result (`BPM_PROCESS_RESULT_LIMIT`, spec 03 §8).
const RESULT_LIMIT: usize = 10 * 1024;

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Reached its end: every variable.
    Done(Map<String, Value>),
    /// Failed: the message and the variables at that moment.
    Error {
        message: String,
        vars: Map<String, Value>,
    },
    /// Stopped: its record deleted, or the synchronous limit reached.
    Aborted(String),
    /// Not started: `BPM_PROCESS_LIMIT` runs were busy (its `$error` record says so).
    Refused(String),
    /// Not ended yet: an asynchronous run waits on a timer with nothing but its record's id
    /// in memory, and continues from its saved state when the timer is due (its ending then
    /// goes to its record; no caller waits for it). A synchronous run never parks.
    Parked,
}

/// A waiting asynchronous run at least this long away from its timer leaves memory and
/// continues from its saved state (see [`Ending::Parked`]): ten thousand runs waiting on
/// timers then hold a sleeping task and an id each, not their variables and futures.
const PARK_AFTER: Duration = Duration::from_secs(1);

/// What a caller waiting for a run would be told if it parked (a synchronous run never does).
pub const PARKED: &str = "the run went on waiting in the background";

/// Why a synchronous run over its limit stopped.
pub const TIMED_OUT: &str = "the scenario did not finish within the synchronous limit (60 s)";

/// What starts a run.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The run's `$pid` (see [`new_pid`]).
    pub pid: String,
    /// The `$scripts` record.
    pub script: String,
    pub input: Map<String, Value>,
    pub sync: bool,
    /// The subscription: (`$events` or `$webRequests`, its record id).
    pub event: Option<(&'static str, String)>,
    pub user: Option<i64>,
    /// A synchronous run stops here (`$aborted`).
    pub deadline: Option<Instant>,
    /// The journaled event that started the run, held until the run records itself.
    pub hold: Option<Arc<Hold>>,
}

/// A journaled after-event's hold: the event is forgotten once every run it started has
/// recorded itself (saved its state or written its process record) and dropped its clone.
#[derive(Debug)]
pub struct Hold {
    id: i64,
    done: tokio::sync::mpsc::UnboundedSender<i64>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        // The forgetter is gone only when the runner is: the event then waits for a restart.
        let _ = self.done.send(self.id);
    }
}

tokio::task_local! {
    /// The run whose step is running: its `$pid` and the employee it runs for. A child
    /// process (Run process) inherits the employee and learns its parent (spec 03 §4.5).
    pub(crate) static RUN: (String, Option<i64>);
}

/// A run being driven: its process record and what a restart needs to resume it.
struct Run {
    /// Its `$pid` (empty when a resumed run's record no longer says).
    pid: String,
    /// The employee whose action started it (inherited by child processes).
    user: Option<i64>,
    /// The `$processes` record; `None` until the run outlives its first step (a run that
    /// ends in its first step gets its record once, already finished).
    record: Option<String>,
    /// The record's values as the run started.
    opening: Map<String, Value>,
    script: String,
    sync: bool,
    depth: u32,
    started_ms: i64,
    deadline: Option<Instant>,
    /// The journaled event behind the run, until the run has recorded itself.
    hold: Option<Arc<Hold>>,
}

impl Run {
    /// A run read back from its saved state; its `$pid` and employee are read from its
    /// record when it continues.
    fn saved(saved: &ProcessRun) -> Run {
        Run {
            pid: String::new(),
            user: None,
            record: Some(saved.process.clone()),
            opening: Map::new(),
            script: saved.script.clone(),
            sync: saved.sync,
            depth: u32::try_from(saved.depth).unwrap_or(MAX_DEPTH),
            started_ms: saved.started_ms,
            deadline: None,
            hold: None,
        }
    }
}

/// An `$events` subscription, as its record reads.
#[derive(Debug, Clone)]
struct Binding {
    id: String,
    /// The catalog's `dbId` (`None` when the linked catalog is gone).
    catalog: Option<i64>,
    types: Vec<String>,
    track: Vec<String>,
    script: String,
}

/// Values read from automation records, kept while the core's automation generation (see
/// `Events::automation_generation`) stays the one they were read at.
struct ByGeneration<V>(Mutex<(u64, HashMap<String, V>)>);

impl<V> Default for ByGeneration<V> {
    fn default() -> Self {
        ByGeneration(Mutex::new((u64::MAX, HashMap::new())))
    }
}

impl<V: Clone> ByGeneration<V> {
    fn get(&self, generation: u64, key: &str) -> Option<V> {
        let known = self.0.lock().ok()?;
        (known.0 == generation)
            .then(|| known.1.get(key).cloned())
            .flatten()
    }

    /// Keeps `value`, read at `generation` (taken before the read: a change during it makes
    /// the entry stale at once); entries of an older generation are dropped.
    fn put(&self, generation: u64, key: &str, value: V) {
        if let Ok(mut known) = self.0.lock() {
            if known.0 != generation {
                *known = (generation, HashMap::new());
            }
            known.1.insert(key.to_string(), value);
        }
    }
}

/// The scenario runner of one server.
pub struct Automation {
    app: Arc<App>,
    engine: Engine,
    compiler: BpmnCompiler,
    ports: AppPorts,
    /// Compiled scenarios by the file id of their `$file`.
    irs: Mutex<HashMap<i64, Arc<Ir>>>,
    /// Compiled scenarios by `$scripts` record, with the automation generation they were
    /// read at.
    by_script: ByGeneration<Arc<Ir>>,
    /// Active `$events` subscriptions, with the automation generation they were read at.
    bindings: Mutex<Option<(u64, Arc<Vec<Binding>>)>>,
    /// Active web listeners found so far: `$urlId` → (record id, scenario), with the
    /// automation generation they were read at.
    listeners: ByGeneration<(String, String)>,
    /// `$processes` records deleted while their run was going.
    aborted: Mutex<HashSet<String>>,
    /// Steps running at once (`BPM_PROCESS_LIMIT`): a run holds a slot while a step of it
    /// runs, not while it waits on a timer or its pacing; asynchronous runs queue for one,
    /// a synchronous launch finding none free is refused (429).
    slots: tokio::sync::Semaphore,
    /// Where dropped [`Hold`]s send their event's id, and the receiving end until the
    /// forgetter takes it.
    done: tokio::sync::mpsc::UnboundedSender<i64>,
    done_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<i64>>>,
}

/// `BPM_PROCESS_LIMIT` (a `BPIUM_` prefix wins): 100 when unset, as in the cloud.
fn process_limit() -> usize {
    ["BPIUM_BPM_PROCESS_LIMIT", "BPM_PROCESS_LIMIT"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(100)
}

/// `BPM_PROCESS_TIMEOUT` in ms (a `BPIUM_` prefix wins): the longest a run may live, its
/// waits included; a week when unset (spec 03 §8).
fn process_timeout_ms() -> i64 {
    ["BPIUM_BPM_PROCESS_TIMEOUT", "BPM_PROCESS_TIMEOUT"]
        .iter()
        .find_map(|k| std::env::var(k).ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(604_800_000)
}

/// The `$status` a finished run set (a number, or digits as text); `None` when it set none.
pub(crate) fn status_of(vars: &Map<String, Value>) -> Option<i64> {
    vars.get("$status").and_then(|s| {
        s.as_i64()
            .or_else(|| s.as_str().and_then(|t| t.trim().parse().ok()))
    })
}

/// A new run id (`$pid`): 16 hex digits.
pub fn new_pid() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// The `$pid` of the run a journaled event starts for a subscription: the same after a
/// restart, so that a replayed event finds the runs it started before (16 hex digits, mixed
/// with splitmix64 so that it looks like any other).
fn journaled_pid(journal_id: i64, binding: &str) -> String {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let h = binding
        .bytes()
        .fold(mix(journal_id as u64), |h, b| mix(h ^ u64::from(b)));
    format!("{h:016x}")
}

fn now_iso() -> String {
    kartoteka_model::time::format_ms(kartoteka_model::time::now_ms())
}

fn link(catalog: &str, record: &str) -> Value {
    json!([{"catalogId": catalog, "recordId": record}])
}

/// The record ids of a link value in the read format.
pub(crate) fn linked(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    l.get("recordId")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The item ids of a dropdown value in the read format.
pub(crate) fn items(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| match i {
                    Value::String(s) => Some(s.clone()),
                    Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

impl Automation {
    /// The application core the runner writes through.
    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    pub fn new(
        app: Arc<App>,
        settings: Settings,
        host: crate::HostConfig,
    ) -> Result<Arc<Automation>, String> {
        let script = kartoteka_script::Engine::new(settings.script);
        let http = reqwest::Client::builder()
            .user_agent(concat!("Kartoteka/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        let (done, done_rx) = tokio::sync::mpsc::unbounded_channel();
        Ok(Arc::new_cyclic(|me| Automation {
            ports: AppPorts {
                app: app.clone(),
                http,
                runner: me.clone(),
                sql: host.sql,
                pdf: crate::pdf::Converter::new(host.convert),
            },
            app,
            engine: Engine::new(settings),
            compiler: BpmnCompiler::new(script),
            irs: Mutex::new(HashMap::new()),
            by_script: ByGeneration::default(),
            bindings: Mutex::new(None),
            listeners: ByGeneration::default(),
            aborted: Mutex::new(HashSet::new()),
            slots: tokio::sync::Semaphore::new(process_limit()),
            done,
            done_rx: Mutex::new(Some(done_rx)),
        }))
    }

    /// An active web listener found before, while no automation record changed since.
    pub(crate) fn known_listener(&self, url_id: &str) -> Option<(String, String)> {
        self.listeners
            .get(self.app.events.automation_generation(), url_id)
    }

    /// Remembers an active web listener read at `generation` (taken before the read, so a
    /// change during it makes the entry stale at once).
    pub(crate) fn remember_listener(&self, generation: u64, url_id: &str, found: (String, String)) {
        self.listeners.put(generation, url_id, found);
    }

    /// The compiled scenario of a `$scripts` record: from memory while no automation
    /// record changed since it was read.
    async fn scenario(&self, script: &str) -> Result<Arc<Ir>, String> {
        let generation = self.app.events.automation_generation();
        if let Some(ir) = self.by_script.get(generation, script) {
            return Ok(ir);
        }
        let ir = self.read_scenario(script).await?;
        self.by_script.put(generation, script, ir.clone());
        Ok(ir)
    }

    /// Reads a `$scripts` record and compiles its file (kept by file id: a file's bytes
    /// never change).
    async fn read_scenario(&self, script: &str) -> Result<Arc<Ir>, String> {
        let rec = self
            .app
            .get_record(&Actor::System, SCRIPTS, script, &ReadOptions::default())
            .await
            .map_err(|e| format!("scenario {script}: {}", e.message))?;
        let file = rec
            .values
            .get("$file")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|f| f.get("id"))
            .and_then(|id| match id {
                Value::String(s) => s.parse::<i64>().ok(),
                v => v.as_i64(),
            })
            .ok_or_else(|| format!("scenario {script} has no file"))?;
        if let Some(ir) = self.irs.lock().ok().and_then(|m| m.get(&file).cloned()) {
            return Ok(ir);
        }
        let bytes = self
            .app
            .stored_file_bytes(file)
            .await
            .map_err(|e| e.message)?
            .ok_or_else(|| format!("the file of scenario {script} is missing"))?;
        let ir = Arc::new(self.compiler.compile(&bytes)?);
        if let Ok(mut m) = self.irs.lock() {
            m.insert(file, ir.clone());
        }
        Ok(ir)
    }

    /// The `$processes` record of a run as it starts.
    fn process_values(launch: &Launch) -> Map<String, Value> {
        let mut values = Map::new();
        values.insert("$startDate".into(), Value::String(now_iso()));
        values.insert("$script".into(), link(SCRIPTS, &launch.script));
        values.insert(
            "$launchType".into(),
            json!([if launch.sync { "$sync" } else { "$async" }]),
        );
        values.insert("$pid".into(), Value::String(launch.pid.clone()));
        if let Some((catalog, id)) = &launch.event {
            values.insert("$event".into(), link(catalog, id));
        }
        values.insert(
            "$input".into(),
            Value::String(Value::Object(launch.input.clone()).to_string()),
        );
        if let Some(u) = launch.user {
            values.insert("$initiator".into(), json!([u.to_string()]));
        }
        values.insert("$status".into(), json!(["$running"]));
        values
    }

    async fn create_process(&self, values: Map<String, Value>) -> Result<String, Error> {
        let input = RecordInput {
            values,
            id: None,
            tz_offset_min: 0,
        };
        self.app
            .create_record(&Actor::System, PROCESSES, input)
            .await
            .map(|r| r.id)
    }

    /// Records a run that was not started, with the reason as its error.
    async fn refuse(&self, launch: &Launch, message: &str) {
        tracing::warn!(script = %launch.script, message, "a scenario was not started");
        let mut values = Self::process_values(launch);
        values.extend(ending_values(
            &Ending::Error {
                message: message.to_string(),
                vars: Map::new(),
            },
            0,
        ));
        if let Err(e) = self.create_process(values).await {
            tracing::error!(error = %e.message, "could not record a process");
        }
    }

    /// Runs a scenario to its end (the caller decides whether to wait for it).
    pub async fn run(self: &Arc<Self>, mut launch: Launch) -> Ending {
        if launch.sync && self.slots.available_permits() == 0 {
            let message = format!(
                "too many processes are running (BPM_PROCESS_LIMIT = {})",
                process_limit()
            );
            self.refuse(&launch, &message).await;
            return Ending::Refused(message);
        }
        let mut run = Run {
            pid: launch.pid.clone(),
            user: launch.user,
            record: None,
            opening: Self::process_values(&launch),
            script: launch.script.clone(),
            sync: launch.sync,
            depth: kartoteka_core::events::cause_depth(),
            started_ms: kartoteka_model::time::now_ms(),
            deadline: launch.deadline,
            // Taken, not cloned: the run alone decides when its event may be forgotten.
            hold: launch.hold.take(),
        };
        let ending = match self.scenario(&launch.script).await {
            Ok(ir) => {
                let state = self.engine.start(&ir, launch.input.clone());
                self.drive(&ir, state, &mut run).await
            }
            Err(message) => Ending::Error {
                message,
                vars: launch.input.clone(),
            },
        };
        if ending != Ending::Parked {
            self.finish(&run, &ending).await;
        }
        ending
    }

    /// Saves a run's state, so that a restart resumes it from here; the run's `$running`
    /// process record is created first if it has none yet. Answers whether it was saved.
    async fn save(&self, run: &mut Run, state: &State, wake_at: Option<i64>) -> bool {
        let record = match &run.record {
            Some(r) => r.clone(),
            None => match self.create_process(run.opening.clone()).await {
                Ok(id) => {
                    run.record = Some(id.clone());
                    id
                }
                Err(e) => {
                    tracing::error!(error = %e.message, "could not record a process");
                    return false;
                }
            },
        };
        let text = match serde_json::to_string(state) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(error = %e, "could not save a process state");
                return false;
            }
        };
        let saved = ProcessRun {
            process: record.clone(),
            script: run.script.clone(),
            sync: run.sync,
            depth: i64::from(run.depth),
            state: text,
            wake_at,
            started_ms: run.started_ms,
        };
        match self.app.save_process_run(saved).await {
            // The run can now resume after a restart: its event may be forgotten.
            Ok(()) => {
                run.hold = None;
                true
            }
            Err(e) => {
                tracing::error!(process = %record, error = %e.message, "could not save a process state");
                false
            }
        }
    }

    /// Steps the engine until the run ends or parks, saving its state after every step that
    /// leaves work: a restart repeats at most the step it interrupted. (A run cut off in its
    /// first step has nothing saved yet and is lost with the server, as the event that
    /// started it.)
    async fn drive(self: &Arc<Self>, ir: &Ir, mut state: State, run: &mut Run) -> Ending {
        loop {
            let deleted = run
                .record
                .as_ref()
                .is_some_and(|r| self.aborted.lock().is_ok_and(|mut a| a.remove(r)));
            if deleted {
                return Ending::Aborted("the process record was deleted".into());
            }
            if run.deadline.is_some_and(|d| Instant::now() >= d) {
                return Ending::Aborted(TIMED_OUT.into());
            }
            let lifetime = kartoteka_model::time::now_ms() - run.started_ms;
            if lifetime > process_timeout_ms() {
                return Ending::Aborted(format!(
                    "the process ran longer than BPM_PROCESS_TIMEOUT ({} ms)",
                    process_timeout_ms()
                ));
            }
            let Ok(slot) = self.slots.acquire().await else {
                return Ending::Aborted("the server is stopping".into());
            };
            let now = kartoteka_model::time::now_ms();
            let outcome = RUN
                .scope(
                    (run.pid.clone(), run.user),
                    self.engine.run_step(ir, &mut state, &self.ports, now),
                )
                .await;
            drop(slot);
            match outcome {
                Outcome::Done => return Ending::Done(state.vars),
                Outcome::Failed(f) => {
                    let message = match &f.component {
                        Some(c) => format!("{} ({c})", f.message),
                        None => f.message,
                    };
                    return Ending::Error {
                        message,
                        vars: state.vars,
                    };
                }
                Outcome::Yield => {
                    self.save(run, &state, None).await;
                    let wait = kartoteka_engine::pacing_delay(self.engine.settings(), state.step);
                    tokio::time::sleep(self.pause(wait, run)).await;
                }
                Outcome::Waiting { until_ms } => {
                    let saved = self.save(run, &state, Some(until_ms)).await;
                    let wait = (until_ms - kartoteka_model::time::now_ms()).max(0);
                    let wait = self.pause(Duration::from_millis(wait as u64), run);
                    match &run.record {
                        Some(record) if saved && !run.sync && wait >= PARK_AFTER => {
                            self.wake_later(record.clone(), wait);
                            return Ending::Parked;
                        }
                        _ => tokio::time::sleep(wait).await,
                    }
                }
            }
        }
    }

    /// Resumes the runs a stopped server left (their state as last saved): an asynchronous
    /// run continues (a timer it waited on fires at its time, or at once when that passed);
    /// a synchronous one is `$aborted`, its caller being gone. Answers the processes seen.
    async fn resume(self: &Arc<Self>) -> HashSet<String> {
        let mut seen = HashSet::new();
        let runs = match self.app.process_runs().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e.message, "could not read the runs to resume");
                return seen;
            }
        };
        for saved in runs {
            seen.insert(saved.process.clone());
            if saved.sync {
                let ending = Ending::Aborted("the server stopped during a synchronous run".into());
                self.finish(&Run::saved(&saved), &ending).await;
                continue;
            }
            tracing::info!(process = %saved.process, "resuming a scenario run");
            let wait = saved
                .wake_at
                .map_or(0, |at| at - kartoteka_model::time::now_ms());
            // Only the id waits: the state is read again when the run continues.
            self.wake_later(saved.process, Duration::from_millis(wait.max(0) as u64));
        }
        seen
    }

    /// Continues a saved asynchronous run once `wait` has passed: until then only its
    /// record's id is held.
    fn wake_later(self: &Arc<Self>, process: String, wait: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            me.wake(&process).await;
        });
    }

    /// Continues a run from its saved state. A run no longer saved ended meanwhile.
    async fn wake(self: &Arc<Self>, process: &str) {
        let saved = match self.app.process_run(process).await {
            Ok(Some(s)) => s,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(process, error = %e.message, "could not read a run to continue");
                return;
            }
        };
        let mut run = Run::saved(&saved);
        let state: State = match serde_json::from_str(&saved.state) {
            Ok(s) => s,
            Err(e) => {
                let ending = Ending::Error {
                    message: format!("the saved state cannot be read: {e}"),
                    vars: Map::new(),
                };
                self.finish(&run, &ending).await;
                return;
            }
        };
        let Some((pid, user)) = self.pid_and_user(process).await else {
            // Its record was deleted while it waited (before a restart, too): it stops here.
            if let Ok(mut a) = self.aborted.lock() {
                a.remove(process);
            }
            let ending = Ending::Aborted("the process record was deleted".into());
            self.finish(&run, &ending).await;
            return;
        };
        (run.pid, run.user) = (pid, user);
        let ending = match self.scenario(&run.script).await {
            Ok(ir) => {
                let depth = run.depth;
                CAUSE_DEPTH
                    .scope(depth, self.drive(&ir, state, &mut run))
                    .await
            }
            Err(message) => Ending::Error {
                message,
                vars: state.vars,
            },
        };
        if ending != Ending::Parked {
            self.finish(&run, &ending).await;
        }
    }

    /// The `$pid` and initiator a process record keeps (for a resumed run); `None` when the
    /// record is gone.
    async fn pid_and_user(&self, process: &str) -> Option<(String, Option<i64>)> {
        let rec = match self
            .app
            .get_record(&Actor::System, PROCESSES, process, &ReadOptions::default())
            .await
        {
            Ok(rec) => rec,
            Err(e) if e.code == ErrorCode::RecordNotFound => return None,
            Err(e) => {
                tracing::warn!(process, error = %e.message, "could not read a resumed run's record");
                return Some((String::new(), None));
            }
        };
        let pid = rec
            .values
            .get("$pid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let user = rec
            .values
            .get("$initiator")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(|u| match u {
                Value::Object(o) => o.get("id").cloned(),
                v => Some(v.clone()),
            })
            .and_then(|id| match id {
                Value::String(s) => s.parse().ok(),
                v => v.as_i64(),
            });
        Some((pid, user))
    }

    /// How long to wait between steps: `wait`, but no later than the run's deadline or the
    /// end of its lifetime (`BPM_PROCESS_TIMEOUT`, so that the next turn of the loop ends it).
    fn pause(&self, wait: Duration, run: &Run) -> Duration {
        let wait = match run.deadline {
            Some(d) => wait.min(d.saturating_duration_since(Instant::now())),
            None => wait,
        };
        let left = run.started_ms + process_timeout_ms() + 1 - kartoteka_model::time::now_ms();
        wait.min(Duration::from_millis(left.max(0) as u64))
    }

    /// Writes the ending into the run's `$processes` record (gone when the run was aborted by
    /// deleting it) and forgets its saved state; a run that ended in its first step gets its
    /// record now, finished.
    async fn finish(&self, run: &Run, ending: &Ending) {
        let took_ms = (kartoteka_model::time::now_ms() - run.started_ms).max(0);
        let end = ending_values(ending, took_ms);
        let Some(record) = run.record.as_deref() else {
            let mut values = run.opening.clone();
            values.extend(end);
            if let Err(e) = self.create_process(values).await {
                tracing::error!(error = %e.message, "could not record a process");
            }
            return;
        };
        let input = RecordInput {
            values: end,
            id: None,
            tz_offset_min: 0,
        };
        if let Err(e) = self
            .app
            .update_record(&Actor::System, PROCESSES, record, input)
            .await
        {
            // A run aborted by deleting its record has no record to write to.
            tracing::debug!(record, error = %e.message, "could not record how a process ended");
        }
        if let Err(e) = self.app.delete_process_run(record).await {
            tracing::error!(record, error = %e.message, "could not forget a finished run");
        }
    }

    /// The active `$events` subscriptions, read again after any write of `$events`,
    /// `$scripts` or `$webRequests` (the core counts those writes before they return).
    async fn bindings(&self) -> Arc<Vec<Binding>> {
        let generation = self.app.events.automation_generation();
        if let Some((g, b)) = self.bindings.lock().ok().and_then(|b| b.clone()) {
            if g == generation {
                return b;
            }
        }
        let q = ListQuery {
            limit: Some(10_000),
            ..ListQuery::default()
        };
        let page = match self
            .app
            .list_records(&Actor::System, EVENTS, &q, &ReadOptions::default())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e.message, "could not read the event subscriptions");
                return Arc::new(vec![]);
            }
        };
        let schema = self.app.schema();
        let mut out = Vec::new();
        for r in page.records {
            let v = &r.values;
            if !items(v.get("$status")).iter().any(|s| s == "$on") {
                continue;
            }
            let (Some(catalog), Some(script)) = (
                linked(v.get("$catalog")).into_iter().next(),
                linked(v.get("$script")).into_iter().next(),
            ) else {
                continue;
            };
            let track = v
                .get("$trackFields")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            out.push(Binding {
                id: r.id,
                catalog: schema.find_catalog(&catalog).map(|c| c.db_id),
                types: items(v.get("$eventTypes")),
                track,
                script,
            });
        }
        out.sort_by_key(|b| b.id.parse::<i64>().unwrap_or(i64::MAX));
        let out = Arc::new(out);
        if let Ok(mut b) = self.bindings.lock() {
            *b = Some((generation, out.clone()));
        }
        out
    }

    /// Whether a subscription of this kind may exist for the catalog: `true` while the
    /// cached subscriptions are stale (the hook then reads them).
    fn may_bind(&self, catalog_db_id: i64, kind: &str) -> bool {
        let generation = self.app.events.automation_generation();
        match self.bindings.lock().ok().and_then(|b| b.clone()) {
            Some((g, b)) if g == generation => b
                .iter()
                .any(|b| b.catalog == Some(catalog_db_id) && b.types.iter().any(|t| t == kind)),
            _ => true,
        }
    }

    /// The subscriptions a data event starts, in ascending id (spec 03 §3.2).
    async fn matching(&self, e: &DataEvent<'_>) -> Vec<Binding> {
        self.bindings()
            .await
            .iter()
            .filter(|b| {
                b.catalog == Some(e.catalog_db_id)
                    && b.types.iter().any(|t| t == e.kind)
                    && tracked(b, e)
            })
            .cloned()
            .collect()
    }

    /// Starts a run for an event of causation depth `depth`: past the limit no scenario
    /// runs, and an `$error` process records why (spec 03 §3.2).
    pub(crate) async fn run_at_depth(self: &Arc<Self>, launch: Launch, depth: u32) -> Ending {
        if depth >= MAX_DEPTH {
            let message = format!(
                "not started: {MAX_DEPTH} scenario runs already led to this event (a scenario triggering itself?)"
            );
            self.refuse(&launch, &message).await;
            return Ending::Error {
                message,
                vars: Map::new(),
            };
        }
        CAUSE_DEPTH.scope(depth + 1, self.run(launch)).await
    }

    /// Reacts to a committed write: a deleted process record aborts its run, and matching
    /// `after.*` subscriptions start their scenarios. A journaled event is forgotten once
    /// every run it started has recorded itself; when it is `replayed` after a restart, the
    /// runs it already started (their `$pid` is derived from the event) are not started again.
    pub async fn on_after(self: &Arc<Self>, e: &AfterEvent, replayed: bool) {
        // Dropped at the end when no run takes a clone: the event is then forgotten at once.
        let hold = e.journal_id.map(|id| {
            Arc::new(Hold {
                id,
                done: self.done.clone(),
            })
        });
        if e.catalog_db_id == PROCESSES_DB_ID && e.action == RecordAction::Deleted {
            if let Ok(mut a) = self.aborted.lock() {
                a.insert(e.record_id.clone());
            }
        }
        let kind = after_kind(e.action);
        if !self.may_bind(e.catalog_db_id, kind) {
            return;
        }
        // after.delete gives the record's last values as `values` (spec 03 §3.3).
        let values = match e.action {
            RecordAction::Deleted => &e.prev_values,
            _ => &e.values,
        };
        let event = DataEvent {
            kind,
            catalog_id: &e.catalog_id,
            catalog_db_id: e.catalog_db_id,
            record_id: Some(&e.record_id),
            values,
            prev_values: &e.prev_values,
            changed: Some(&e.changed_fields),
            all: None,
            user: e.user_db_id,
        };
        for b in self.matching(&event).await {
            let pid = match e.journal_id {
                Some(j) => journaled_pid(j, &b.id),
                None => new_pid(),
            };
            if replayed && self.process_exists(&pid).await {
                continue;
            }
            let launch = Launch {
                pid,
                script: b.script.clone(),
                input: record_input(&b, &event, true),
                sync: false,
                event: Some((EVENTS, b.id.clone())),
                user: e.user_db_id,
                deadline: None,
                hold: hold.clone(),
            };
            let me = self.clone();
            let depth = e.depth;
            tokio::spawn(async move {
                me.run_at_depth(launch, depth).await;
            });
        }
    }

    /// Runs the `before.*` subscriptions of a write, one after another: the first that
    /// answers a `$status` outside 2xx refuses the write with its `$body.message`; the
    /// `$body.values` of the others go into the write (a later one wins a field). A failing
    /// scenario refuses too (fail-closed, spec 03 §3.4).
    async fn before(self: &Arc<Self>, e: &BeforeEvent) -> Result<Map<String, Value>, Error> {
        let kind = match e.action {
            RecordAction::Created => "$record.before.create",
            RecordAction::Updated => "$record.before.update",
            RecordAction::Deleted => "$record.before.delete",
        };
        // before.delete gives the record's values as `values`.
        let values = match e.action {
            RecordAction::Deleted => &e.prev_values,
            _ => &e.values,
        };
        let changed: Vec<String> = e.values.keys().cloned().collect();
        let event = DataEvent {
            kind,
            catalog_id: &e.catalog_id,
            catalog_db_id: e.catalog_db_id,
            record_id: e.record_id.as_deref(),
            values,
            prev_values: &e.prev_values,
            changed: Some(&changed),
            all: None,
            user: e.user_db_id,
        };
        let mut merged = Map::new();
        for b in self.matching(&event).await {
            let launch = sync_launch(&b, &event);
            let vars = match self.run_at_depth(launch, e.depth).await {
                Ending::Done(vars) => vars,
                Ending::Refused(message) => {
                    return Err(Error::new(ErrorCode::TooManyRequests, message))
                }
                Ending::Error { message, .. } | Ending::Aborted(message) => {
                    return Err(Error::new(
                        ErrorCode::RejectedByEvent,
                        format!("Scenario error: {message}"),
                    ))
                }
                Ending::Parked => {
                    return Err(Error::new(
                        ErrorCode::RejectedByEvent,
                        format!("Scenario error: {PARKED}"),
                    ))
                }
            };
            let status = status_of(&vars).unwrap_or(200);
            let body = vars.get("$body").and_then(Value::as_object);
            if !(200..300).contains(&status) {
                let mut err = Error::new(ErrorCode::RejectedByEvent, "the write was refused");
                if let Some(m) = HookMessage::from_value(body.and_then(|b| b.get("message"))) {
                    err.message = m.text;
                    err.title = m.title;
                }
                return Err(err);
            }
            if let Some(v) = body
                .and_then(|b| b.get("values"))
                .and_then(Value::as_object)
            {
                merged.extend(v.clone());
            }
        }
        Ok(merged)
    }

    /// Whether a `$processes` record with this `$pid` exists (a run a replayed event
    /// already started). When the store cannot answer, it is taken as existing: a run is
    /// rather missed than started twice, and the error is logged.
    async fn process_exists(&self, pid: &str) -> bool {
        let q = ListQuery {
            limit: Some(1),
            filters: Some(kartoteka_filter::Input {
                root: "filters".into(),
                value: json!({"$pid": pid}),
                lenient: false,
            }),
            ..ListQuery::default()
        };
        match self
            .app
            .list_records(&Actor::System, PROCESSES, &q, &ReadOptions::default())
            .await
        {
            Ok(page) => page
                .records
                .iter()
                .any(|r| r.values.get("$pid") == Some(&json!(pid))),
            Err(e) => {
                tracing::error!(pid, error = %e.message, "could not look for a replayed event's process");
                true
            }
        }
    }

    /// Marks `$running` the process records no saved run stands behind (a server stopped
    /// before the run's first save) as aborted.
    async fn abort_leftovers(&self, resumed: &HashSet<String>) {
        let filters = kartoteka_filter::Input {
            root: "filters".into(),
            value: json!({"$status": ["$running"]}),
            lenient: false,
        };
        let q = ListQuery {
            limit: Some(10_000),
            filters: Some(filters),
            ..ListQuery::default()
        };
        let Ok(page) = self
            .app
            .list_records(&Actor::System, PROCESSES, &q, &ReadOptions::default())
            .await
        else {
            return;
        };
        for r in page
            .records
            .into_iter()
            .filter(|r| !resumed.contains(&r.id))
        {
            let mut values = Map::new();
            values.insert("$status".into(), json!(["$aborted"]));
            values.insert("$endDate".into(), Value::String(now_iso()));
            values.insert(
                "$result".into(),
                Value::String(json!({"$error": "the server stopped during the run"}).to_string()),
            );
            let input = RecordInput {
                values,
                id: None,
                tz_offset_min: 0,
            };
            let _ = self
                .app
                .update_record(&Actor::System, PROCESSES, &r.id, input)
                .await;
        }
    }
}

impl Automation {
    /// Runs the `$record.updating` subscriptions of a Changes call, one after another:
    /// their `$body.message`s are shown, their `$body.values` go into the card (a later one
    /// wins a field). A failing scenario shows its error and changes nothing.
    async fn updating(
        self: &Arc<Self>,
        e: &UpdatingEvent,
    ) -> Result<(Vec<HookMessage>, Map<String, Value>), Error> {
        let changed: Vec<String> = e.values.keys().cloned().collect();
        let event = DataEvent {
            kind: "$record.updating",
            catalog_id: &e.catalog_id,
            catalog_db_id: e.catalog_db_id,
            record_id: e.record_id.as_deref(),
            values: &e.values,
            prev_values: &e.prev_values,
            changed: Some(&changed),
            all: Some(&e.all_values),
            user: e.user_db_id,
        };
        let (mut messages, mut values) = (Vec::new(), Map::new());
        for b in self.matching(&event).await {
            let launch = sync_launch(&b, &event);
            match self.run_at_depth(launch, e.depth).await {
                Ending::Done(vars) => {
                    let body = vars.get("$body").and_then(Value::as_object);
                    messages.extend(HookMessage::from_value(body.and_then(|b| b.get("message"))));
                    if let Some(v) = body
                        .and_then(|b| b.get("values"))
                        .and_then(Value::as_object)
                    {
                        values.extend(v.clone());
                    }
                }
                Ending::Error { message, .. }
                | Ending::Aborted(message)
                | Ending::Refused(message) => {
                    messages.push(HookMessage {
                        title: None,
                        text: format!("Scenario error: {message}"),
                    });
                }
                Ending::Parked => messages.push(HookMessage {
                    title: None,
                    text: format!("Scenario error: {PARKED}"),
                }),
            }
        }
        Ok((messages, values))
    }
}

/// The values that close a `$processes` record: status, end, result (cut to
/// [`RESULT_LIMIT`]) and duration.
fn ending_values(ending: &Ending, took_ms: i64) -> Map<String, Value> {
    let (status, result) = match ending {
        Ending::Done(vars) => ("$done", Value::Object(vars.clone())),
        Ending::Error { message, vars } => {
            let mut r = vars.clone();
            r.insert("$error".into(), Value::String(message.clone()));
            ("$error", Value::Object(r))
        }
        Ending::Aborted(reason) => ("$aborted", json!({"$error": reason})),
        Ending::Refused(reason) => ("$error", json!({"$error": reason})),
        // Not an ending: the record stays as it is.
        Ending::Parked => ("$running", json!({})),
    };
    let mut text = result.to_string();
    if text.len() > RESULT_LIMIT {
        let mut cut = RESULT_LIMIT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    let mut values = Map::new();
    values.insert("$status".into(), json!([status]));
    values.insert("$endDate".into(), Value::String(now_iso()));
    values.insert("$result".into(), Value::String(text));
    values.insert("$duration".into(), json!(took_ms as f64 / 1000.0));
    values
}

/// The event type of `$events` an after-event is.
fn after_kind(action: RecordAction) -> &'static str {
    match action {
        RecordAction::Created => "$record.after.create",
        RecordAction::Updated => "$record.after.update",
        RecordAction::Deleted => "$record.after.delete",
    }
}

/// A synchronous run of a subscription for a `before.*` or `updating` event: its caller
/// waits, at most [`crate::listeners::SYNC_LIMIT`].
fn sync_launch(b: &Binding, event: &DataEvent<'_>) -> Launch {
    Launch {
        pid: new_pid(),
        script: b.script.clone(),
        input: record_input(b, event, false),
        sync: true,
        event: Some((EVENTS, b.id.clone())),
        user: event.user,
        deadline: Some(Instant::now() + crate::listeners::SYNC_LIMIT),
        hold: None,
    }
}

/// A record event as scenarios see it, from a before-hook or an after-event.
struct DataEvent<'a> {
    kind: &'static str,
    catalog_id: &'a str,
    catalog_db_id: i64,
    /// `None` before a create: the variable stays undefined.
    record_id: Option<&'a str>,
    values: &'a Map<String, Value>,
    prev_values: &'a Map<String, Value>,
    changed: Option<&'a Vec<String>>,
    /// The whole card of an `updating` event; otherwise `prevValues` with `values` over it.
    all: Option<&'a Map<String, Value>>,
    user: Option<i64>,
}

/// Tracked fields (spec 03 §3.2): an update fires when a tracked field changed, a create
/// when a tracked field is filled, a delete always; no tracked fields = any.
fn tracked(b: &Binding, e: &DataEvent<'_>) -> bool {
    if b.track.is_empty() || e.kind.ends_with(".delete") {
        return true;
    }
    if e.kind.ends_with(".update") {
        return e
            .changed
            .is_some_and(|c| c.iter().any(|f| b.track.contains(f)));
    }
    b.track.iter().any(|f| {
        e.values
            .get(f)
            .is_some_and(|v| !v.is_null() && v != &json!([]) && v != &json!(""))
    })
}

/// The input variables of a data event (spec 03 §3.3): `values` the changed (update) or
/// filled fields, `prevValues` the previous state, `allValues` the record with the change.
fn record_input(b: &Binding, e: &DataEvent<'_>, is_async: bool) -> Map<String, Value> {
    let mut input = Map::new();
    input.insert(
        "event".into(),
        json!({"id": b.id, "type": e.kind, "async": is_async}),
    );
    input.insert("script".into(), json!({"id": b.script}));
    input.insert("user".into(), json!({"id": e.user.map(|u| u.to_string())}));
    input.insert("catalogId".into(), Value::String(e.catalog_id.to_string()));
    if let Some(r) = e.record_id {
        input.insert("recordId".into(), Value::String(r.to_string()));
    }
    let values: Map<String, Value> = match (e.kind.ends_with(".update"), e.changed) {
        (true, Some(changed)) => e
            .values
            .iter()
            .filter(|(k, _)| changed.contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => e.values.clone(),
    };
    let all = match e.all {
        Some(card) => card.clone(),
        None => {
            let mut all = e.prev_values.clone();
            for (k, v) in e.values {
                all.insert(k.clone(), v.clone());
            }
            all
        }
    };
    input.insert("values".into(), Value::Object(values));
    input.insert("prevValues".into(), Value::Object(e.prev_values.clone()));
    input.insert("allValues".into(), Value::Object(all));
    input
}

/// The before-hook the runner gives the core: only writes a subscription may want are
/// shown to it.
///
/// It holds the runner weakly: the core owns the hook, the runner owns the core, and a
/// strong reference each way would keep both (and the store's connections) alive for ever.
/// Once the runner is gone the hook wants nothing.
struct SyncEvents(Weak<Automation>);

impl BeforeHook for SyncEvents {
    fn wants(&self, catalog_db_id: i64, action: RecordAction) -> bool {
        let kind = match action {
            RecordAction::Created => "$record.before.create",
            RecordAction::Updated => "$record.before.update",
            RecordAction::Deleted => "$record.before.delete",
        };
        self.0
            .upgrade()
            .is_some_and(|a| a.may_bind(catalog_db_id, kind))
    }

    fn journals(&self, catalog_db_id: i64, action: RecordAction) -> bool {
        self.0
            .upgrade()
            .is_some_and(|a| a.may_bind(catalog_db_id, after_kind(action)))
    }

    fn before<'a>(&'a self, event: &'a BeforeEvent) -> HookFuture<'a> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(a) => a.before(event).await,
                None => Ok(Map::new()),
            }
        })
    }

    fn wants_updating(&self, catalog_db_id: i64) -> bool {
        self.0
            .upgrade()
            .is_some_and(|a| a.may_bind(catalog_db_id, "$record.updating"))
    }

    fn updating<'a>(&'a self, event: &'a UpdatingEvent) -> UpdatingFuture<'a> {
        Box::pin(async move {
            match self.0.upgrade() {
                Some(a) => a.updating(event).await,
                None => Ok((Vec::new(), Map::new())),
            }
        })
    }
}

/// Installs the scenario compiler and starts the runner: after-events start the matching
/// subscriptions' scenarios. Saved runs resume, runs left `$running` with nothing saved are
/// marked aborted, and journaled events a stopped server had not acted on are replayed.
/// `host` holds the host's settings of the SQL query and Converter components.
pub fn start_automation(
    app: &Arc<App>,
    host: crate::HostConfig,
) -> Result<Arc<Automation>, String> {
    crate::scenarios::install_scenarios(app);
    let auto = Automation::new(app.clone(), Settings::from_env(), host)?;
    // The consumer first: a write journaled once the hook is in is then seen too.
    let mut rx = app.events.consume();
    app.set_web_listeners(Arc::new(crate::listeners::Listeners(Arc::downgrade(&auto))));
    app.events
        .add_before_hook(Arc::new(SyncEvents(Arc::downgrade(&auto))));
    if let Some(done) = auto.done_rx.lock().ok().and_then(|mut d| d.take()) {
        tokio::spawn(forget_acted_on(app.clone(), done));
    }
    let me = auto.clone();
    tokio::spawn(async move {
        // Read before anything runs: events written from now on also come through `rx`,
        // and those read here are skipped there.
        let journaled = match me.app.journaled_events().await {
            Ok(j) => j,
            Err(e) => {
                tracing::error!(error = %e.message, "could not read the journaled events");
                Vec::new()
            }
        };
        let replayed: HashSet<i64> = journaled.iter().filter_map(|e| e.journal_id).collect();
        let resumed = me.resume().await;
        me.abort_leftovers(&resumed).await;
        if !journaled.is_empty() {
            tracing::info!(count = journaled.len(), "replaying journaled events");
        }
        for e in &journaled {
            me.on_after(e, true).await;
        }
        drop(journaled);
        while let Some(e) = rx.recv().await {
            if e.journal_id.is_some_and(|id| replayed.contains(&id)) {
                continue;
            }
            me.on_after(&e, false).await;
        }
    });
    Ok(auto)
}

/// Forgets the journaled events whose runs have all recorded themselves, many in one write
/// when they come faster than the writes.
async fn forget_acted_on(app: Arc<App>, mut done: tokio::sync::mpsc::UnboundedReceiver<i64>) {
    while let Some(id) = done.recv().await {
        let mut ids = vec![id];
        while ids.len() < 1000 {
            match done.try_recv() {
                Ok(id) => ids.push(id),
                Err(_) => break,
            }
        }
        if let Err(e) = app.forget_events(ids).await {
            // Left in the journal: a restart replays them, and the runs they started are
            // found by their `$pid` and not started again.
            tracing::error!(error = %e.message, "could not forget acted-on events");
        }
    }
}
