//! The JavaScript sandbox of Bpium scenarios: expressions, gateway conditions, `${…}` key
//! templates and Code components (spec 03 §6, §7.2.2), evaluated by QuickJS through `rquickjs`.
//!
//! # What user code sees
//!
//! Standard JavaScript built-ins, lodash 4 as `_`, moment 2 as `moment`, and a Node-shaped
//! `crypto` subset (`createHash`, `createHmac`, `randomBytes`, `randomUUID`). `Date` and moment
//! compute in UTC whatever the host's time zone. There are no timers, no `require`, no modules,
//! no I/O of any kind: the QuickJS standard library is never loaded.
//!
//! Values cross the boundary as JSON. Variables go in as fresh copies (mutating them changes
//! nothing outside), results come back as `JSON.stringify` would write them, with three
//! additions: a `Date` becomes its ISO-8601 string, a `Uint8Array` (or `ArrayBuffer`, or the
//! Buffer `crypto` returns) becomes Node Buffer JSON `{"type":"Buffer","data":[…]}`, and a
//! `BigInt` becomes its decimal string. `undefined` (and a lone function or symbol) is `None`.
//! A Promise result, and any asynchronous work left pending, is an error.
//!
//! # Isolation and reuse
//!
//! Loading lodash and moment into a context costs about ten milliseconds, so each thread that
//! evaluates keeps one warm runtime and context and reuses it. Reuse must not carry anything
//! from one evaluation to the next:
//!
//! - Variables are parameters of a wrapper function, never globals. Only the variables whose
//!   names appear in the expression's text are passed, so a name that is not a variable is a
//!   `ReferenceError` and `typeof x === 'undefined'` still works.
//! - After loading, every global binding is made read-only and everything reachable from the
//!   globals (built-in constructors and prototypes, `_`, `moment`, `crypto`) and from the known
//!   library internals is frozen. The property names code commonly overrides on its own objects
//!   (`toString`, `constructor`, an error's `name` and `message`, …) stay assignable on the
//!   objects that inherit them. moment's settings that live in closures (`defineLocale`,
//!   `updateLocale`, `locale(…)`, relative-time thresholds) refuse to change.
//! - Globals an evaluation creates are deleted after it; if one cannot be, the context is
//!   dropped and rebuilt. It is also rebuilt after running out of memory, after a panic, and
//!   after an evaluation that left asynchronous jobs behind.
//!
//! # Limits
//!
//! Each evaluation has a deadline checked by the runtime's interrupt handler (`TIMEOUT`), the
//! runtime has a memory limit (`LIMIT`), and native stack use is capped so deep recursion is a
//! `RangeError` rather than a crash. A panic inside the engine is caught and reported as
//! `INTERNAL`.
//!
//! The cost of a warm runtime is one per thread that evaluates: a few megabytes and ~10 ms to
//! build, paid on the thread's first evaluation. Callers should evaluate on a bounded set of
//! threads (a worker pool), not on an unbounded one.
//!
//! # Syntax
//!
//! Before a source is first compiled on a thread it is checked by compiling it, without running
//! anything, as two module texts: an expression once inside `( … )` and once inside `[ … ]`, a
//! body once inside a function's braces and once inside an extra block. Text that closes the
//! wrapper to run statements after it (`1); while(true){}; (1`) fails one of the two and is a
//! syntax error. Code then runs as a non-strict script, as Node's `vm` would run it, but since
//! modules are strict the source must also parse as strict code (no `with`, no legacy octal
//! literals, no `let` or `static` as names). Should some text still get past the check (the
//! legacy HTML comments `<!--` / `-->` parse differently in scripts and modules), it runs under
//! the same deadline and memory limit and in the same locked-down context as any evaluation.
//!
//! Only the variables whose names appear as words in an expression's text are passed to it, so
//! `eval("na" + "me")` does not see a variable `name`.

mod crypto;
mod error;
mod sandbox;
mod source;

use std::time::Duration;

use serde_json::{Map, Value};

pub use error::{ErrorCode, ScriptError};

use sandbox::Kind;

/// The limits every evaluation runs under (spec 03 §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of an expression, a condition or a template (`BPM_EXPRESSION_TIMEOUT`).
    pub expression_timeout: Duration,
    /// Deadline of a Code component (`BPM_CODE_TIMEOUT`).
    pub code_timeout: Duration,
    /// Memory a thread's runtime may hold, the libraries included.
    pub memory_bytes: usize,
}

impl Default for Limits {
    /// 500 ms per expression, 5 s per Code component, 64 MiB per runtime.
    fn default() -> Limits {
        Limits {
            expression_timeout: Duration::from_millis(500),
            code_timeout: Duration::from_millis(5000),
            memory_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The script engine. Cheap to clone, usable from any number of threads: each thread evaluates
/// on its own warm sandbox (see the crate documentation).
#[derive(Debug, Clone)]
pub struct Engine {
    limits: Limits,
}

impl Default for Engine {
    fn default() -> Engine {
        Engine::new(Limits::default())
    }
}

impl Engine {
    /// An engine with these limits. Nothing is loaded until a thread first evaluates.
    pub fn new(limits: Limits) -> Engine {
        Engine { limits }
    }

    /// The limits this engine applies.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Evaluates a JavaScript expression with the members of `vars` as free identifiers.
    ///
    /// `Ok(None)` is `undefined`; a blank expression (an unset field) is `Ok(None)` too.
    /// Variable names that are not identifiers are never visible.
    pub fn eval(
        &self,
        expr: &str,
        vars: &Map<String, Value>,
    ) -> Result<Option<Value>, ScriptError> {
        if expr.trim().is_empty() {
            return Ok(None);
        }
        if let Some(v) = source::plain_value(expr, vars) {
            return Ok(v);
        }
        self.expression(Kind::Expression, expr, vars)
    }

    /// The value [`Engine::eval`] would give, when the expression needs no JavaScript at all:
    /// blank, a bare variable holding a scalar, or a literal number, string, boolean, `null`
    /// or `undefined`. `None` when it needs the engine. Callers use it to skip the hop to a
    /// script thread.
    pub fn eval_plain(&self, expr: &str, vars: &Map<String, Value>) -> Option<Option<Value>> {
        if expr.trim().is_empty() {
            return Some(None);
        }
        source::plain_value(expr, vars)
    }

    /// The JavaScript truthiness of an expression, for gateway conditions. A blank condition is
    /// false.
    pub fn condition(&self, expr: &str, vars: &Map<String, Value>) -> Result<bool, ScriptError> {
        if expr.trim().is_empty() {
            return Ok(false);
        }
        match self.expression(Kind::Condition, expr, vars)? {
            Some(Value::Bool(b)) => Ok(b),
            other => Err(ScriptError::internal(format!(
                "a condition gave {other:?} instead of a boolean"
            ))),
        }
    }

    /// Runs a Code component: `source` is the body of a function that `return`s its result and
    /// `inputs` are the only names it sees, each a copy.
    ///
    /// `Ok(None)` when it returns nothing (`undefined`). Every input name must be an
    /// identifier.
    pub fn run_code(
        &self,
        source: &str,
        inputs: &Map<String, Value>,
    ) -> Result<Option<Value>, ScriptError> {
        let mut params = Vec::with_capacity(inputs.len());
        let mut args = Vec::with_capacity(inputs.len());
        for (name, value) in inputs {
            if !source::is_bindable(name) {
                return Err(ScriptError::expression(format!(
                    "the input name {name:?} is not a JavaScript identifier"
                )));
            }
            params.push(name.as_str());
            args.push(value);
        }
        let args_json = to_json(&args)?;
        sandbox::evaluate(
            self.limits.memory_bytes,
            self.limits.code_timeout,
            Kind::Body,
            source,
            &params,
            &args_json,
        )
    }

    /// Interpolates the `${expr}` parts of a key text (the field-id keys of key=value lists,
    /// spec 03 §5.1) as a JavaScript template literal would. Text without `${` is returned as
    /// it is.
    pub fn template(&self, text: &str, vars: &Map<String, Value>) -> Result<String, ScriptError> {
        if !text.contains("${") {
            return Ok(text.to_owned());
        }
        let literal = source::template_literal(text).map_err(ScriptError::expression)?;
        match self.expression(Kind::Expression, &literal, vars)? {
            Some(Value::String(s)) => Ok(s),
            other => Err(ScriptError::internal(format!(
                "a template gave {other:?} instead of a string"
            ))),
        }
    }

    /// Checks that `src` is one JavaScript expression, without evaluating it. A blank
    /// expression is accepted (it means "not set"). The error is the syntax error's message.
    pub fn check_expression(&self, src: &str) -> Result<(), String> {
        if src.trim().is_empty() {
            return Ok(());
        }
        sandbox::check(self.limits.memory_bytes, Kind::Expression, src)
    }

    /// Checks that `src` is a function body, without running it.
    pub fn check_function_body(&self, src: &str) -> Result<(), String> {
        sandbox::check(self.limits.memory_bytes, Kind::Body, src)
    }

    fn expression(
        &self,
        kind: Kind,
        expr: &str,
        vars: &Map<String, Value>,
    ) -> Result<Option<Value>, ScriptError> {
        let words = source::words(expr);
        let mut params = Vec::new();
        let mut args = Vec::new();
        for (name, value) in vars {
            if words.contains(&name.as_str()) && source::is_bindable(name) {
                params.push(name.as_str());
                args.push(value);
            }
        }
        let args_json = to_json(&args)?;
        sandbox::evaluate(
            self.limits.memory_bytes,
            self.limits.expression_timeout,
            kind,
            expr,
            &params,
            &args_json,
        )
    }
}

fn to_json(args: &[&Value]) -> Result<String, ScriptError> {
    if args.is_empty() {
        return Ok(String::new());
    }
    serde_json::to_string(args).map_err(|e| ScriptError::internal(format!("variables: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn engine_is_send_sync_clone() {
        assert_send_sync::<Engine>();
    }

    #[test]
    fn plain_values_are_what_the_engine_gives() {
        let vars = serde_json::json!({
            "recordId": "17", "catalogId": "$users", "n": 9_007_199_254_740_991u64,
            "neg": -3, "b": false, "z": null, "text": "line\nnext \u{2028} \"q\""
        });
        let vars = vars.as_object().expect("an object");
        let engine = Engine::default();
        let mut checked = 0;
        for expr in [
            "recordId",
            " catalogId ",
            "n",
            "neg",
            "b",
            "z",
            "text",
            "42",
            "-7",
            "0",
            "'a b'",
            "\"ё\"",
            "''",
            "true",
            "false",
            "null",
            "undefined",
        ] {
            let plain = engine.eval_plain(expr, vars).expect("a plain expression");
            let js = engine
                .expression(Kind::Expression, expr, vars)
                .expect("the engine's answer");
            assert_eq!(plain, js, "{expr}");
            checked += 1;
        }
        assert_eq!(checked, 17);
        assert_eq!(engine.eval_plain("recordId + 1", vars), None);
        assert_eq!(engine.eval_plain("  ", vars), Some(None));
    }

    #[test]
    fn error_codes_render_as_spec_names() {
        assert_eq!(ErrorCode::Expression.to_string(), "EXPRESSION");
        assert_eq!(ErrorCode::Timeout.to_string(), "TIMEOUT");
        assert_eq!(ErrorCode::Limit.to_string(), "LIMIT");
        assert_eq!(ErrorCode::Internal.to_string(), "INTERNAL");
    }
}
