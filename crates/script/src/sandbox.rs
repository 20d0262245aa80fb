//! One warm QuickJS runtime per thread, with lodash, moment and the `crypto` subset loaded once
//! and the shared objects frozen, reused by every evaluation on that thread.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use rquickjs::{
    context::{intrinsic, EvalOptions},
    convert::Coerced,
    Context, Ctx, Exception, FromJs, Function, Module, Object, Persistent, Runtime, Value,
};

use crate::crypto;
use crate::error::{ErrorCode, ScriptError};
use crate::source;

const UTC_DATE: &str = include_str!("../js/utc-date.js");
const LODASH: &str = include_str!("../js/lodash.min.js");
const MOMENT: &str = include_str!("../js/moment.min.js");
const SANDBOX: &str = include_str!("../js/sandbox.js");

/// Native stack QuickJS may use for one evaluation. Deeper recursion is a RangeError. Half a
/// megabyte leaves room on the 2 MiB stacks Rust and tokio give their threads.
const STACK_BYTES: usize = 512 * 1024;
/// Compiled functions kept per thread; the cache is emptied when it is full.
const CACHE_ENTRIES: usize = 1024;
/// Syntax checks compile modules that stay in the checking context until it is dropped; it is
/// replaced after this many.
const CHECKS_PER_CONTEXT: usize = 256;

/// What a source text is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A single expression.
    Expression,
    /// A single expression whose JavaScript truthiness is the result.
    Condition,
    /// The body of a function that `return`s its result.
    Body,
}

/// The deadline the interrupt handler watches.
#[derive(Default)]
struct Clock {
    deadline: Cell<Option<Instant>>,
    fired: Cell<bool>,
}

pub(crate) struct Sandbox {
    // Field order is drop order: every persistent handle must go before the context and the
    // runtime it lives in.
    cache: HashMap<String, Persistent<Function<'static>>>,
    run: Persistent<Function<'static>>,
    cleanup: Persistent<Function<'static>>,
    checker: Option<(Context, usize)>,
    ctx: Context,
    rt: Runtime,
    clock: Rc<Clock>,
    memory_limit: usize,
}

/// An evaluation's result and whether the sandbox may be used again.
struct Outcome<T> {
    result: Result<T, ScriptError>,
    keep: bool,
}

thread_local! {
    static SANDBOX_SLOT: RefCell<Option<Sandbox>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's sandbox, building it first when needed and dropping it when `f`
/// says it must not be reused. A panic inside is caught: the sandbox is abandoned (leaked rather
/// than dropped, since its state is unknown) and the caller gets an `INTERNAL` error.
fn with_sandbox<T>(
    memory_limit: usize,
    f: impl FnOnce(&mut Sandbox) -> Outcome<T>,
) -> Result<T, ScriptError> {
    let attempt = SANDBOX_SLOT.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return Err(ScriptError::internal("the script engine was re-entered"));
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if slot.is_none() {
                *slot = Some(Sandbox::new()?);
            }
            let Some(sandbox) = slot.as_mut() else {
                return Err(ScriptError::internal("no sandbox"));
            };
            sandbox.set_memory_limit(memory_limit);
            let outcome = f(sandbox);
            if !outcome.keep {
                *slot = None;
            }
            outcome.result
        }));
        match outcome {
            Ok(result) => result,
            Err(_) => {
                if let Some(sandbox) = slot.take() {
                    std::mem::forget(sandbox);
                }
                Err(ScriptError::internal("the script engine panicked"))
            }
        }
    });
    attempt.unwrap_or_else(|_| Err(ScriptError::internal("the thread is shutting down")))
}

/// Evaluates `source` of `kind` with `params` bound to the values of `args_json` (a JSON array
/// in the same order), on this thread's sandbox.
pub(crate) fn evaluate(
    memory_limit: usize,
    timeout: Duration,
    kind: Kind,
    source: &str,
    params: &[&str],
    args_json: &str,
) -> Result<Option<serde_json::Value>, ScriptError> {
    with_sandbox(memory_limit, |sandbox| {
        sandbox.evaluate(timeout, kind, source, params, args_json)
    })
}

/// Checks that `source` parses as `kind`, without running any of it.
pub(crate) fn check(memory_limit: usize, kind: Kind, source: &str) -> Result<(), String> {
    with_sandbox(memory_limit, |sandbox| sandbox.check(kind, source)).map_err(|e| e.message)
}

fn internal(e: rquickjs::Error) -> ScriptError {
    ScriptError::internal(format!("script engine: {e}"))
}

impl Sandbox {
    fn new() -> Result<Sandbox, ScriptError> {
        let rt = Runtime::new().map_err(internal)?;
        rt.set_max_stack_size(STACK_BYTES);
        let clock = Rc::new(Clock::default());
        let watch = Rc::clone(&clock);
        rt.set_interrupt_handler(Some(Box::new(move || match watch.deadline.get() {
            Some(deadline) if Instant::now() >= deadline => {
                watch.fired.set(true);
                true
            }
            _ => false,
        })));
        let ctx = Context::full(&rt).map_err(internal)?;
        let (run, cleanup) = ctx.with(|ctx| -> Result<_, ScriptError> {
            let load = |name: &str, src: &str| -> Result<(), ScriptError> {
                ctx.eval_with_options::<(), _>(src, sloppy(name))
                    .map_err(|e| {
                        let message = describe_error(&ctx, e);
                        ScriptError::internal(format!("loading {name}: {message}"))
                    })
            };
            load("utc-date.js", UTC_DATE)?;
            load("lodash", LODASH)?;
            load("moment", MOMENT)?;
            let natives = natives(&ctx).map_err(internal)?;
            let setup: Function = ctx.eval(SANDBOX).map_err(|e| {
                ScriptError::internal(format!("sandbox.js: {}", describe_error(&ctx, e)))
            })?;
            let helpers: Object = setup.call((ctx.globals(), natives)).map_err(|e| {
                ScriptError::internal(format!("sandbox.js: {}", describe_error(&ctx, e)))
            })?;
            let run: Function = helpers.get("run").map_err(internal)?;
            let cleanup: Function = helpers.get("cleanup").map_err(internal)?;
            Ok((Persistent::save(&ctx, run), Persistent::save(&ctx, cleanup)))
        })?;
        Ok(Sandbox {
            cache: HashMap::new(),
            run,
            cleanup,
            checker: None,
            ctx,
            rt,
            clock,
            memory_limit: 0,
        })
    }

    fn set_memory_limit(&mut self, limit: usize) {
        if self.memory_limit != limit {
            self.rt.set_memory_limit(limit);
            self.memory_limit = limit;
        }
    }

    fn check(&mut self, kind: Kind, src: &str) -> Outcome<()> {
        let texts = match kind {
            Kind::Expression | Kind::Condition => source::expression_checks(src),
            Kind::Body => source::body_checks(src),
        };
        let fresh = match &self.checker {
            Some((_, n)) => *n >= CHECKS_PER_CONTEXT,
            None => true,
        };
        if fresh {
            // The old context (and the modules it holds) is dropped before the new one is made.
            self.checker = None;
            // Parsing needs the compiler (Eval) and the regular-expression compiler, nothing else.
            match Context::custom::<(intrinsic::Eval, intrinsic::RegExpCompiler)>(&self.rt) {
                Ok(c) => self.checker = Some((c, 0)),
                Err(e) => {
                    return Outcome {
                        result: Err(internal(e)),
                        keep: false,
                    }
                }
            }
        }
        let Some((checker, count)) = self.checker.as_mut() else {
            return Outcome {
                result: Err(ScriptError::internal("no checking context")),
                keep: false,
            };
        };
        *count += 1;
        let result = checker.with(|ctx| {
            for text in &texts {
                if let Err(e) = Module::declare(ctx.clone(), "source", text.as_str()) {
                    return Err(ScriptError::expression(describe_error(&ctx, e)));
                }
            }
            Ok(())
        });
        let keep = !matches!(&result, Err(e) if is_out_of_memory(&e.message));
        Outcome {
            result: result.map_err(|e| classify(e, false)),
            keep,
        }
    }

    fn evaluate(
        &mut self,
        timeout: Duration,
        kind: Kind,
        src: &str,
        params: &[&str],
        args_json: &str,
    ) -> Outcome<Option<serde_json::Value>> {
        let mut key = String::with_capacity(src.len() + 64);
        key.push(match kind {
            Kind::Expression => 'e',
            Kind::Condition => 'c',
            Kind::Body => 'b',
        });
        for p in params {
            key.push_str(p);
            key.push(',');
        }
        key.push('\0');
        key.push_str(src);

        if !self.cache.contains_key(&key) {
            let checked = self.check(kind, src);
            if checked.result.is_err() || !checked.keep {
                return Outcome {
                    result: checked.result.map(|()| None),
                    keep: checked.keep,
                };
            }
        }

        self.clock.fired.set(false);
        self.clock.deadline.set(Some(Instant::now() + timeout));
        let cache = &mut self.cache;
        let run = &self.run;
        let cleanup = &self.cleanup;
        let clock = &self.clock;
        let (result, clean) = self.ctx.with(|ctx| {
            let result = (|| -> Result<Option<String>, ScriptError> {
                let f = match cache.get(&key) {
                    Some(f) => f.clone().restore(&ctx).map_err(internal)?,
                    None => {
                        let wrapper = match kind {
                            Kind::Expression => source::expression_wrapper(params, src),
                            Kind::Condition => source::condition_wrapper(params, src),
                            Kind::Body => source::body_wrapper(params, src),
                        };
                        let f: Function = ctx
                            .eval_with_options(wrapper, sloppy("source"))
                            .map_err(|e| ScriptError::expression(describe_error(&ctx, e)))?;
                        if cache.len() >= CACHE_ENTRIES {
                            cache.clear();
                        }
                        cache.insert(key.clone(), Persistent::save(&ctx, f.clone()));
                        f
                    }
                };
                let run = run.clone().restore(&ctx).map_err(internal)?;
                run.call::<_, Option<String>>((f, args_json))
                    .map_err(|e| ScriptError::expression(describe_error(&ctx, e)))
            })();
            // The error above was described while the deadline still held, since describing it
            // may run user code (a getter on a thrown object).
            clock.deadline.set(None);
            let clean = cleanup
                .clone()
                .restore(&ctx)
                .and_then(|f| f.call::<_, bool>(()))
                .unwrap_or(false);
            (result, clean)
        });
        let fired = self.clock.fired.get();
        let pending = self.rt.is_job_pending();
        let out_of_memory = matches!(&result, Err(e) if is_out_of_memory(&e.message));

        let mut keep = clean && !pending && !out_of_memory;
        let result = match result {
            Err(e) => Err(classify(e, fired)),
            Ok(_) if pending => Err(ScriptError::expression(
                "asynchronous code is not supported: the evaluation left a pending job \
                 (an async function or a Promise callback)",
            )),
            Ok(None) => Ok(None),
            Ok(Some(json)) => match serde_json::from_str(&json) {
                Ok(v) => Ok(Some(v)),
                Err(e) => Err(ScriptError::new(
                    ErrorCode::Limit,
                    format!("the result cannot be read back: {e}"),
                )),
            },
        };
        if self.cache.len() > CACHE_ENTRIES {
            keep = false;
        }
        Outcome { result, keep }
    }
}

/// Scripts run as a browser or Node script would: not strict unless they say so.
fn sloppy(filename: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(filename.to_owned());
    options
}

fn is_out_of_memory(message: &str) -> bool {
    message.contains("out of memory") || message.contains("Allocation failed")
}

/// Refines an `EXPRESSION` error into `TIMEOUT` or `LIMIT` when that is what it was.
fn classify(e: ScriptError, fired: bool) -> ScriptError {
    if fired {
        ScriptError::new(ErrorCode::Timeout, "the evaluation ran past its time limit")
    } else if is_out_of_memory(&e.message) {
        ScriptError::new(
            ErrorCode::Limit,
            "the evaluation ran out of memory (the sandbox memory limit)",
        )
    } else if e.message.starts_with("InternalError: string too long") {
        // QuickJS's own cap on a string's length (2^30 characters): a size limit too.
        ScriptError::new(ErrorCode::Limit, e.message)
    } else {
        e
    }
}

/// The pending exception as `Name: message` (Node's form), or the engine error.
fn describe_error(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    match e {
        rquickjs::Error::Exception => describe_value(ctx, ctx.catch()),
        other => other.to_string(),
    }
}

fn describe_value<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> String {
    if let Some(exception) = value.as_exception() {
        let name: String = exception
            .get::<_, Coerced<String>>("name")
            .map(|c| c.0)
            .unwrap_or_else(|_| "Error".to_owned());
        let message = exception.message().unwrap_or_default();
        let mut text = if message.is_empty() {
            name
        } else {
            format!("{name}: {message}")
        };
        if let Some(line) = exception.stack().as_deref().and_then(source_line) {
            text.push_str(&format!(" (line {line})"));
        }
        return text;
    }
    if value.is_null() {
        // QuickJS throws null when it cannot even allocate the error object.
        return "out of memory".to_owned();
    }
    match Coerced::<String>::from_js(ctx, value) {
        Ok(s) => format!("Uncaught {}", s.0),
        Err(_) => {
            let _ = ctx.catch();
            "Uncaught exception".to_owned()
        }
    }
}

/// The line of user source an error points at, from a stack such as `at <eval> (source:3:5)`.
/// Every wrapper puts the user text on its second line.
fn source_line(stack: &str) -> Option<usize> {
    for marker in ["source:", "<input>:", "eval_script:"] {
        if let Some(pos) = stack.find(marker) {
            let rest = &stack[pos + marker.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            let line: usize = digits.parse().ok()?;
            return line.checked_sub(1).filter(|l| *l >= 1);
        }
    }
    None
}

fn js_err(ctx: &Ctx<'_>, message: &str) -> rquickjs::Error {
    Exception::throw_type(ctx, message)
}

fn native_hash<'js>(
    ctx: Ctx<'js>,
    alg: String,
    has_key: bool,
    key: Vec<String>,
    chunks: Vec<String>,
    encoding: String,
) -> rquickjs::Result<String> {
    let data = crypto::join_chunks(&chunks).map_err(|m| js_err(&ctx, &m))?;
    let key = if has_key {
        Some(crypto::join_chunks(&key).map_err(|m| js_err(&ctx, &m))?)
    } else {
        None
    };
    let bytes = crypto::digest(&alg, key.as_deref(), &data).map_err(|m| js_err(&ctx, &m))?;
    crypto::encode(&bytes, &encoding).map_err(|m| js_err(&ctx, &m))
}

fn native_encode<'js>(ctx: Ctx<'js>, hex: String, encoding: String) -> rquickjs::Result<String> {
    let bytes = crypto::join_chunks(&[format!("x{hex}")]).map_err(|m| js_err(&ctx, &m))?;
    crypto::encode(&bytes, &encoding).map_err(|m| js_err(&ctx, &m))
}

fn native_decode<'js>(ctx: Ctx<'js>, text: String, encoding: String) -> rquickjs::Result<String> {
    let bytes = crypto::decode(&text, &encoding).map_err(|m| js_err(&ctx, &m))?;
    Ok(format!("x{}", crypto::to_hex(&bytes)))
}

fn native_random(n: usize) -> String {
    crypto::random_hex(n.min(65536))
}

fn native_uuid() -> String {
    crypto::random_uuid()
}

/// The object of native functions `sandbox.js` receives; it never becomes a global.
fn natives<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let o = Object::new(ctx.clone())?;
    o.set("hash", Function::new(ctx.clone(), native_hash)?)?;
    o.set("encode", Function::new(ctx.clone(), native_encode)?)?;
    o.set("decode", Function::new(ctx.clone(), native_decode)?)?;
    o.set("random", Function::new(ctx.clone(), native_random)?)?;
    o.set("uuid", Function::new(ctx.clone(), native_uuid)?)?;
    Ok(o)
}
