//! The interpreter: the step loop, node semantics, boundaries and the data limit.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kartoteka_bpmn::{parse_duration, Boundary, Ir, Node, NodeKind, Output, Task, Trigger};
use kartoteka_script::Engine as Script;
use serde_json::{Map, Value};

use crate::components::{self, Slots};
use crate::values::{evaluate, evaluate_plain, set_path};
use crate::{Failure, Outcome, Ports, Settings, State, Token, Wait};

/// The scenario interpreter. Cheap to clone; one engine serves any number of processes.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    js: Script,
    /// The threads JavaScript runs on.
    pool: crate::pool::Pool,
}

/// What entering a node changes, applied at once when the node is done.
#[derive(Default)]
struct Transition {
    /// The new variables, when they changed.
    vars: Option<Map<String, Value>>,
    /// Tokens to queue.
    tokens: Vec<Token>,
    /// Tokens to park at a timer.
    waits: Vec<Wait>,
    /// The new arrival counts of an AND join (empty: forget the join).
    join: Option<(String, BTreeMap<String, u32>)>,
}

/// How a task's component ended.
enum Exec {
    /// It completed: the new variables (if they changed), and whether a non-interrupting
    /// timer boundary fired meanwhile.
    Done(Option<Map<String, Value>>, bool),
    /// An interrupting timer boundary fired.
    TimedOut,
    /// It failed.
    Failed(Failure),
}

/// The name of a node as failures report it: its name, else its id.
fn label(node: &Node) -> &str {
    if node.name.trim().is_empty() {
        &node.id
    } else {
        &node.name
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A tally of bytes written, for the JSON size of the variables.
struct Count(usize);

impl std::io::Write for Count {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(b.len());
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn json_size(vars: &Map<String, Value>) -> usize {
    let mut c = Count(0);
    // Writing into a counter cannot fail: every key is a string.
    let _ = serde_json::to_writer(&mut c, vars);
    c.0
}

/// Runs `fut` against a deadline. Interrupting: `None` when the deadline passes first.
/// Non-interrupting: the result whatever happens, and whether the deadline passed.
async fn guarded<T>(
    fut: impl Future<Output = T>,
    d: Duration,
    interrupt: bool,
) -> (Option<T>, bool) {
    tokio::pin!(fut);
    tokio::select! {
        r = &mut fut => return (Some(r), false),
        () = tokio::time::sleep(d) => {}
    }
    if interrupt {
        (None, false)
    } else {
        (Some(fut.await), true)
    }
}

impl Engine {
    /// An engine with these settings; JavaScript runs under `settings.script`.
    pub fn new(settings: Settings) -> Engine {
        let js = Script::new(settings.script);
        let pool = crate::pool::Pool::new(settings.script_threads);
        Engine {
            inner: Arc::new(Inner { settings, js, pool }),
        }
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The state of a new process: the input as its variables and one token on the start
    /// node. (A scenario without a start node fails on its first step.)
    pub fn start(&self, ir: &Ir, input: Map<String, Value>) -> State {
        let mut state = State {
            vars: input,
            ..State::default()
        };
        if let Some(start) = ir.start() {
            state.tokens.push_back(Token {
                at: start.id.clone(),
                via: None,
            });
        }
        state
    }

    /// Runs one step of a process: ready tokens first in first out, until the step's node
    /// entries or time are used up, the process completes or fails, or only timer waits are
    /// left. `now_ms` is the current Unix time in milliseconds (the time timers count from).
    pub async fn run_step(
        &self,
        ir: &Ir,
        state: &mut State,
        ports: &dyn Ports,
        now_ms: i64,
    ) -> Outcome {
        let began = tokio::time::Instant::now();
        let now = || now_ms.saturating_add(millis(began.elapsed()));
        let settings = &self.inner.settings;
        let budget = settings.step_size.max(1);
        if state.entered == 0 && state.tokens.is_empty() && state.waits.is_empty() {
            return Outcome::Failed(Failure::internal(format!(
                "bpmn:Process {} has no start event",
                ir.process_id
            )));
        }
        let mut entered = 0u32;
        loop {
            wake(state, now());
            let Some(token) = state.tokens.front().cloned() else {
                return match state.waits.iter().map(|w| w.until_ms).min() {
                    Some(until_ms) => Outcome::Waiting { until_ms },
                    None => Outcome::Done,
                };
            };
            if entered >= budget || began.elapsed() >= settings.step_timeout {
                state.step += 1;
                return Outcome::Yield;
            }
            entered += 1;
            state.entered += 1;
            let Some(node) = ir.node(&token.at) else {
                return Outcome::Failed(Failure::internal(format!(
                    "a token is at `{}`, which is not a node of the scenario",
                    token.at
                )));
            };
            let t = match self.enter(ir, node, &token, state, ports, now()).await {
                Ok(t) => t,
                Err(f) => return Outcome::Failed(f.at(label(node))),
            };
            state.tokens.pop_front();
            state.tokens.extend(t.tokens);
            state.waits.extend(t.waits);
            if let Some((gw, counts)) = t.join {
                if counts.is_empty() {
                    state.joins.remove(&gw);
                } else {
                    state.joins.insert(gw, counts);
                }
            }
            if let Some(vars) = t.vars {
                state.vars = vars;
                let size = json_size(&state.vars);
                if size > settings.process_data_limit {
                    return Outcome::Failed(
                        Failure::new(
                            "LIMIT",
                            format!(
                                "the process variables take {size} bytes, more than the limit of {} bytes",
                                settings.process_data_limit
                            ),
                        )
                        .at(label(node)),
                    );
                }
            }
        }
    }

    /// A Set variables step whose expressions and targets need no JavaScript, done here
    /// rather than on a script thread; `None` when one of them needs the engine. Each
    /// expression sees the variables as the writes before it left them, as on the engine.
    fn setvar_plain(
        &self,
        task: &Task,
        vars: &Map<String, Value>,
    ) -> Option<Result<Map<String, Value>, Failure>> {
        let js = &self.inner.js;
        let plain = task.outputs.iter().all(|o| match o {
            Output::Expr { target, expr } => {
                !target.contains('[')
                    && (expr.trim().is_empty() || js.eval_plain(expr, vars).is_some())
            }
            Output::Slot { .. } => true,
        });
        if !plain {
            return None;
        }
        let mut v = vars.clone();
        for o in &task.outputs {
            if let Output::Expr { target, expr } = o {
                if expr.trim().is_empty() {
                    continue;
                }
                // Checked above against the variables before any write; an earlier write may
                // have changed a later expression's variable (made it an object, removed it),
                // so it is read again, and the whole step goes to the engine if it no longer
                // reads plainly (nothing here is kept).
                let value = js.eval_plain(expr, &v)?;
                if let Err(f) = set_path(js, &mut v, target, value) {
                    return Some(Err(f));
                }
            }
        }
        Some(Ok(v))
    }

    /// Runs synchronous JavaScript work on one of the fixed script threads.
    pub(crate) async fn js<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Script) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let js = self.inner.js.clone();
        match self.inner.pool.run(move || f(&js)).await {
            Some(r) => r,
            None => Err(Failure::internal("the script worker stopped")),
        }
    }

    async fn enter(
        &self,
        ir: &Ir,
        node: &Node,
        token: &Token,
        state: &State,
        ports: &dyn Ports,
        now: i64,
    ) -> Result<Transition, Failure> {
        match &node.kind {
            NodeKind::Start | NodeKind::Boundary(_) => Ok(Transition {
                tokens: self.leave(ir, &node.id, &state.vars).await?,
                ..Transition::default()
            }),
            NodeKind::End => Ok(Transition::default()),
            NodeKind::Annotation { .. } => {
                tracing::warn!(node = %node.id, "a token reached a text annotation and stops");
                Ok(Transition::default())
            }
            NodeKind::Xor { default } => Ok(Transition {
                tokens: self.xor(ir, node, default.as_deref(), &state.vars).await?,
                ..Transition::default()
            }),
            NodeKind::And => Ok(and(ir, node, token, state)),
            NodeKind::Timer { duration } => {
                let d = parse_duration(duration)
                    .map_err(|e| Failure::internal(e.to_string()))?
                    .to_std_approx();
                let until_ms = now.saturating_add(millis(d));
                let tokens = self.leave(ir, &node.id, &state.vars).await?;
                Ok(Transition {
                    waits: tokens
                        .into_iter()
                        .map(|token| Wait {
                            token,
                            timer: node.id.clone(),
                            until_ms,
                        })
                        .collect(),
                    ..Transition::default()
                })
            }
            NodeKind::Task(task) => self.task(ir, node, task, state, ports).await,
        }
    }

    /// Tokens for the outgoing edges of a node; edges with a condition only when it holds.
    async fn leave(
        &self,
        ir: &Ir,
        id: &str,
        vars: &Map<String, Value>,
    ) -> Result<Vec<Token>, Failure> {
        let edges: Vec<(String, String, Option<String>)> = ir
            .outgoing(id)
            .map(|e| {
                let cond = e.condition.clone().filter(|c| !c.trim().is_empty());
                (e.id.clone(), e.to.clone(), cond)
            })
            .collect();
        let token = |(id, to, _): &(String, String, Option<String>)| Token {
            at: to.clone(),
            via: Some(id.clone()),
        };
        if edges.iter().all(|(_, _, c)| c.is_none()) {
            return Ok(edges.iter().map(token).collect());
        }
        let vars = vars.clone();
        self.js(move |js| {
            let mut out = Vec::new();
            for e in &edges {
                let take = match &e.2 {
                    None => true,
                    Some(c) => js.condition(c, &vars).map_err(|err| {
                        Failure::new(
                            err.code.as_str(),
                            format!("condition of {}: {}", e.0, err.message),
                        )
                    })?,
                };
                if take {
                    out.push(token(e));
                }
            }
            Ok(out)
        })
        .await
    }

    /// The one edge an XOR gateway takes.
    async fn xor(
        &self,
        ir: &Ir,
        node: &Node,
        default: Option<&str>,
        vars: &Map<String, Value>,
    ) -> Result<Vec<Token>, Failure> {
        let candidates: Vec<(String, String, Option<String>)> = ir
            .outgoing(&node.id)
            .filter(|e| Some(e.id.as_str()) != default)
            .map(|e| {
                let cond = e.condition.clone().filter(|c| !c.trim().is_empty());
                (e.id.clone(), e.to.clone(), cond)
            })
            .collect();
        let chosen = match candidates.first() {
            Some((id, to, None)) => Some((id.clone(), to.clone())),
            None => None,
            Some(_) => {
                let vars = vars.clone();
                self.js(move |js| {
                    for (id, to, cond) in candidates {
                        let holds = match &cond {
                            None => true,
                            Some(c) => js.condition(c, &vars).map_err(|err| {
                                Failure::new(
                                    err.code.as_str(),
                                    format!("condition of {id}: {}", err.message),
                                )
                            })?,
                        };
                        if holds {
                            return Ok(Some((id, to)));
                        }
                    }
                    Ok(None)
                })
                .await?
            }
        };
        let chosen = chosen.or_else(|| {
            let d = default?;
            ir.edge(d).map(|e| (e.id.clone(), e.to.clone()))
        });
        match chosen {
            Some((id, to)) => Ok(vec![Token {
                at: to,
                via: Some(id),
            }]),
            None => Err(Failure::internal(format!(
                "No conditional flow was taken from {}",
                node.id
            ))),
        }
    }

    async fn task(
        &self,
        ir: &Ir,
        node: &Node,
        task: &Task,
        state: &State,
        ports: &dyn Ports,
    ) -> Result<Transition, Failure> {
        let timer = timer_boundary(ir, &node.id);
        let guard = timer.map(|(_, b, d)| (d, b.cancel_activity));
        match self.execute(task, &state.vars, ports, guard).await {
            Exec::Done(vars, fired) => {
                let base = vars.as_ref().unwrap_or(&state.vars);
                match self.leave(ir, &node.id, base).await {
                    Ok(mut tokens) => {
                        if let (true, Some((b, _, _))) = (fired, timer) {
                            tokens.insert(
                                0,
                                Token {
                                    at: b.id.clone(),
                                    via: None,
                                },
                            );
                        }
                        Ok(Transition {
                            vars,
                            tokens,
                            ..Transition::default()
                        })
                    }
                    Err(f) => {
                        let base = vars.unwrap_or_else(|| state.vars.clone());
                        self.route(ir, node, f, base).await
                    }
                }
            }
            Exec::TimedOut => match timer {
                Some((b, _, _)) => Ok(Transition {
                    tokens: vec![Token {
                        at: b.id.clone(),
                        via: None,
                    }],
                    ..Transition::default()
                }),
                None => Err(Failure::new("TIMEOUT", "the component timed out")),
            },
            Exec::Failed(f) => self.route(ir, node, f, state.vars.clone()).await,
        }
    }

    /// Runs a task's component: inputs, the component itself (under the timer boundary's
    /// deadline, if any), outputs.
    async fn execute(
        &self,
        task: &Task,
        vars: &Map<String, Value>,
        ports: &dyn Ports,
        guard: Option<(Duration, bool)>,
    ) -> Exec {
        enum Effect {
            Vars(Map<String, Value>),
            Slots(Slots),
        }
        let setvar = task.connector == "setvar";
        let args = if setvar {
            None
        } else {
            let names = match components::inputs_read(task) {
                Ok(n) => n,
                Err(f) => return Exec::Failed(f),
            };
            // Parameters that need no JavaScript (the usual `recordId`, `catalogId`, numbers
            // and constants) are read here, without the hop to a script thread.
            let plain = evaluate_plain(&self.inner.js, vars, task, &names);
            let args = match plain {
                Ok(Some(a)) => Ok(a),
                Ok(None) => {
                    let (v, t) = (vars.clone(), task.clone());
                    self.js(move |js| evaluate(js, &v, &t, &names)).await
                }
                Err(f) => Err(f),
            };
            match args {
                Ok(a) => Some(a),
                Err(f) => return Exec::Failed(f),
            }
        };
        let run = async {
            match args {
                None => {
                    if let Some(v) = self.setvar_plain(task, vars) {
                        return v.map(Effect::Vars);
                    }
                    let outputs = task.outputs.clone();
                    let mut v = vars.clone();
                    self.js(move |js| {
                        for o in outputs {
                            if let Output::Expr { target, expr } = o {
                                if expr.trim().is_empty() {
                                    continue;
                                }
                                let value = js.eval(&expr, &v).map_err(|e| {
                                    Failure::new(
                                        e.code.as_str(),
                                        format!("{target}: {}", e.message),
                                    )
                                })?;
                                set_path(js, &mut v, &target, value)?;
                            }
                        }
                        Ok(v)
                    })
                    .await
                    .map(Effect::Vars)
                }
                Some(args) => components::run(self, task, args, ports)
                    .await
                    .map(Effect::Slots),
            }
        };
        let (result, fired) = match guard {
            None => (Some(run.await), false),
            Some((d, interrupt)) => guarded(run, d, interrupt).await,
        };
        let effect = match result {
            None => return Exec::TimedOut,
            Some(Err(f)) => return Exec::Failed(f),
            Some(Ok(e)) => e,
        };
        let slots = match effect {
            Effect::Vars(v) => return Exec::Done(Some(v), fired),
            Effect::Slots(s) => s,
        };
        let writes: Vec<(String, Option<Value>)> = task
            .outputs
            .iter()
            .filter_map(|o| match o {
                Output::Slot { target, slot } if !target.is_empty() => slots
                    .iter()
                    .find(|(name, _)| name == slot)
                    .map(|(_, v)| (target.clone(), v.clone())),
                _ => None,
            })
            .collect();
        if writes.is_empty() {
            return Exec::Done(None, fired);
        }
        let mut v = vars.clone();
        let result = if writes.iter().any(|(t, _)| t.contains('[')) {
            self.js(move |js| {
                for (target, value) in writes {
                    set_path(js, &mut v, &target, value)?;
                }
                Ok(v)
            })
            .await
        } else {
            // Paths without `[expr]` evaluate nothing.
            writes
                .into_iter()
                .try_for_each(|(target, value)| set_path(&self.inner.js, &mut v, &target, value))
                .map(|()| v)
        };
        match result {
            Ok(v) => Exec::Done(Some(v), fired),
            Err(f) => Exec::Failed(f),
        }
    }

    /// Sends a failed task's token to the boundary that catches the failure, or fails.
    async fn route(
        &self,
        ir: &Ir,
        node: &Node,
        f: Failure,
        vars: Map<String, Value>,
    ) -> Result<Transition, Failure> {
        let to = |b: &Node| Token {
            at: b.id.clone(),
            via: None,
        };
        if f.code == "TIMEOUT" {
            if let Some((b, _, _)) = timer_boundary(ir, &node.id) {
                return Ok(Transition {
                    tokens: vec![to(b)],
                    ..Transition::default()
                });
            }
        }
        let Some((b, boundary)) = ir
            .boundaries(&node.id)
            .find(|(_, b)| b.trigger == Trigger::Error)
        else {
            return Err(f.at(label(node)));
        };
        tracing::debug!(node = %node.id, code = %f.code, message = %f.message, "caught by an error boundary");
        let writes: Vec<(String, Value)> = [
            (&boundary.error_code_var, f.code),
            (&boundary.error_message_var, f.message),
        ]
        .into_iter()
        .filter_map(|(var, v)| {
            var.as_ref()
                .filter(|t| !t.trim().is_empty())
                .map(|t| (t.clone(), Value::String(v)))
        })
        .collect();
        let vars = if writes.is_empty() {
            None
        } else {
            let mut v = vars;
            Some(
                self.js(move |js| {
                    for (target, value) in writes {
                        set_path(js, &mut v, &target, Some(value))?;
                    }
                    Ok(v)
                })
                .await
                .map_err(|e| e.at(label(b)))?,
            )
        };
        Ok(Transition {
            vars,
            tokens: vec![to(b)],
            ..Transition::default()
        })
    }
}

/// The timer boundary of a task with the shortest valid duration.
fn timer_boundary<'a>(ir: &'a Ir, task: &'a str) -> Option<(&'a Node, &'a Boundary, Duration)> {
    ir.boundaries(task)
        .filter(|(_, b)| b.trigger == Trigger::Timer)
        .filter_map(|(n, b)| {
            let d = b.duration.as_deref().and_then(|d| parse_duration(d).ok())?;
            Some((n, b, d.to_std_approx()))
        })
        .min_by_key(|(_, _, d)| *d)
}

/// An AND gateway: a join counts the token on its edge and lets one token through per full
/// set of incoming edges; then it forks along every outgoing edge.
fn and(ir: &Ir, node: &Node, token: &Token, state: &State) -> Transition {
    let fork = || -> Vec<Token> {
        ir.outgoing(&node.id)
            .map(|e| Token {
                at: e.to.clone(),
                via: Some(e.id.clone()),
            })
            .collect()
    };
    let incoming: Vec<&str> = ir.incoming(&node.id).map(|e| e.id.as_str()).collect();
    if incoming.len() <= 1 {
        return Transition {
            tokens: fork(),
            ..Transition::default()
        };
    }
    let mut counts = state.joins.get(&node.id).cloned().unwrap_or_default();
    *counts
        .entry(token.via.clone().unwrap_or_default())
        .or_insert(0) += 1;
    let complete = incoming
        .iter()
        .all(|e| counts.get(*e).is_some_and(|n| *n > 0));
    let mut tokens = Vec::new();
    if complete {
        for e in &incoming {
            if let Some(n) = counts.get_mut(*e) {
                *n -= 1;
            }
        }
        counts.retain(|_, n| *n > 0);
        tokens = fork();
    }
    Transition {
        tokens,
        join: Some((node.id.clone(), counts)),
        ..Transition::default()
    }
}

/// Moves the waits that are due into the ready queue, earliest first.
fn wake(state: &mut State, now: i64) {
    if !state.waits.iter().any(|w| w.until_ms <= now) {
        return;
    }
    let (mut due, rest): (Vec<Wait>, Vec<Wait>) = std::mem::take(&mut state.waits)
        .into_iter()
        .partition(|w| w.until_ms <= now);
    state.waits = rest;
    due.sort_by_key(|w| w.until_ms);
    state.tokens.extend(due.into_iter().map(|w| w.token));
}
