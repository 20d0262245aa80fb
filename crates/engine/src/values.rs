//! Input parameters evaluated into values (spec 03 §5.1) and results written into variable
//! paths (§5.2). Everything here is synchronous JavaScript work: callers run it on a
//! blocking thread.

use kartoteka_bpmn::{parse_target, ParamValue, Segment, Task};
use kartoteka_script::Engine as Script;
use serde_json::{Map, Value};

use crate::Failure;

/// Largest array index a path may write; a larger one would allocate without bound.
const MAX_INDEX: usize = 100_000;

/// An evaluated input parameter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg {
    /// Literal text.
    Const(String),
    /// An expression's value; `None` is `undefined` (or an empty, unset expression).
    Value(Option<Value>),
    /// A list selection.
    List(Vec<String>),
    /// Ordered pairs with evaluated keys; values as [`Arg::Value`].
    Pairs(Vec<(String, Option<Value>)>),
}

/// The evaluated input parameters of one component, by name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Args(Vec<(String, Arg)>);

impl Args {
    fn get(&self, name: &str) -> Option<&Arg> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, a)| a)
    }

    /// The parameter as a value: a constant is a string (empty is unset), a list its first
    /// item, pairs an object.
    pub(crate) fn value(&self, name: &str) -> Option<Value> {
        match self.get(name)? {
            Arg::Const(s) if s.is_empty() => None,
            Arg::Const(s) => Some(Value::String(s.clone())),
            Arg::Value(v) => v.clone(),
            Arg::List(l) => l.first().map(|s| Value::String(s.clone())),
            Arg::Pairs(p) => Some(Value::Object(pairs_object(p))),
        }
    }

    /// The parameter as text: strings as they are, numbers and booleans as JavaScript prints
    /// them; `None` when unset, null or empty.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.value(name)
            .and_then(|v| scalar_text(&v))
            .filter(|s| !s.is_empty())
    }

    /// The parameter as ordered pairs; a list (the editor's empty `<camunda:list/>`) or an
    /// unset parameter is no pairs.
    pub(crate) fn pairs(&self, name: &str) -> Vec<(String, Option<Value>)> {
        match self.get(name) {
            Some(Arg::Pairs(p)) => p.clone(),
            _ => Vec::new(),
        }
    }
}

/// Pairs as an object; `undefined` values are left out, a repeated key keeps the last value.
pub(crate) fn pairs_object(p: &[(String, Option<Value>)]) -> Map<String, Value> {
    p.iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect()
}

/// Text of a scalar as JavaScript's `String()` would give it; `None` for null, objects and
/// arrays.
pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(number_text(n)),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        // Integral floats print without a fraction, as in JavaScript (`74`, not `74.0`).
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        _ => n.to_string(),
    }
}

/// The selection of a list or constant parameter, read without evaluating anything.
pub(crate) fn choice<'a>(task: &'a Task, name: &str) -> Option<&'a str> {
    match task.inputs.get(name)? {
        ParamValue::List(l) => l.first().map(String::as_str),
        ParamValue::Const(s) => Some(s.as_str()),
        // An expression that is a bare word or a quoted word is read as that word.
        ParamValue::Expr(s) => Some(s.trim().trim_matches(|c| c == '"' || c == '\'')),
        ParamValue::Pairs(_) => None,
    }
    .filter(|s| !s.is_empty())
}

/// Evaluates the named input parameters of a task (absent ones are skipped).
pub(crate) fn evaluate(
    js: &Script,
    vars: &Map<String, Value>,
    task: &Task,
    names: &[&str],
) -> Result<Args, Failure> {
    evaluate_in(js, false, vars, task, names).map(|a| a.unwrap_or_default())
}

/// [`evaluate`] when no parameter needs JavaScript (constants, lists, literals, bare
/// variables; see [`Script::eval_plain`]), so the caller can stay off the script threads.
/// `None` when one does.
pub(crate) fn evaluate_plain(
    js: &Script,
    vars: &Map<String, Value>,
    task: &Task,
    names: &[&str],
) -> Result<Option<Args>, Failure> {
    evaluate_in(js, true, vars, task, names)
}

/// With `plain_only`, answers `None` at the first parameter that would need the engine.
fn evaluate_in(
    js: &Script,
    plain_only: bool,
    vars: &Map<String, Value>,
    task: &Task,
    names: &[&str],
) -> Result<Option<Args>, Failure> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        if let Some(p) = task.inputs.get(name) {
            let arg = resolve(js, plain_only, vars, p)
                .map_err(|f| Failure::new(f.code, format!("{name}: {}", f.message)))?;
            match arg {
                Some(arg) => out.push(((*name).to_owned(), arg)),
                None => return Ok(None),
            }
        }
    }
    Ok(Some(Args(out)))
}

fn resolve(
    js: &Script,
    plain_only: bool,
    vars: &Map<String, Value>,
    p: &ParamValue,
) -> Result<Option<Arg>, Failure> {
    Ok(Some(match p {
        ParamValue::Const(s) => Arg::Const(s.clone()),
        ParamValue::Expr(e) if plain_only => match js.eval_plain(e, vars) {
            Some(v) => Arg::Value(v),
            None => return Ok(None),
        },
        ParamValue::Expr(e) => Arg::Value(js.eval(e, vars)?),
        ParamValue::List(l) => Arg::List(l.clone()),
        ParamValue::Pairs(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (key, v) in pairs {
                if plain_only && key.contains("${") {
                    return Ok(None);
                }
                let key = js.template(key, vars)?;
                let Some(arg) = resolve(js, plain_only, vars, v)? else {
                    return Ok(None);
                };
                let value = match arg {
                    Arg::Const(s) => Some(Value::String(s)),
                    Arg::Value(v) => v,
                    Arg::List(l) => Some(Value::Array(l.into_iter().map(Value::String).collect())),
                    Arg::Pairs(p) => Some(Value::Object(pairs_object(&p))),
                };
                out.push((key, value));
            }
            Arg::Pairs(out)
        }
    }))
}

/// One resolved step of a path.
enum Key {
    Name(String),
    Index(usize),
}

impl Key {
    fn name(&self) -> String {
        match self {
            Key::Name(s) => s.clone(),
            Key::Index(i) => i.to_string(),
        }
    }
}

/// Writes `value` at an output path (spec 03 §5.2); `None` (undefined) deletes what is there.
/// An empty target discards the value. `[expr]` steps are evaluated against `vars` as they
/// are before the write.
pub(crate) fn set_path(
    js: &Script,
    vars: &mut Map<String, Value>,
    target: &str,
    value: Option<Value>,
) -> Result<(), Failure> {
    let segments = parse_target(target).map_err(|e| Failure::expression(e.to_string()))?;
    let mut keys = Vec::with_capacity(segments.len());
    for s in segments {
        keys.push(match s {
            Segment::Key(k) => Key::Name(k),
            Segment::Expr(x) => match js.eval(&x, vars)? {
                Some(Value::Number(n)) => match n.as_u64() {
                    Some(i) => Key::Index(usize::try_from(i).unwrap_or(usize::MAX)),
                    None => Key::Name(number_text(&n)),
                },
                Some(Value::String(s)) => Key::Name(s),
                Some(Value::Bool(b)) => Key::Name(b.to_string()),
                other => {
                    return Err(Failure::expression(format!(
                        "`{target}`: `[{x}]` gave {} instead of a key or an index",
                        other.map_or("undefined".to_owned(), |v| v.to_string())
                    )))
                }
            },
        });
    }
    let Some((first, rest)) = keys.split_first() else {
        return Ok(());
    };
    let name = first.name();
    if rest.is_empty() {
        match value {
            Some(v) => {
                vars.insert(name, v);
            }
            None => {
                vars.remove(&name);
            }
        }
        return Ok(());
    }
    let root = match vars.get_mut(&name) {
        Some(v) => v,
        None if value.is_none() => return Ok(()),
        None => vars
            .entry(name)
            .or_insert_with(|| Value::Object(Map::new())),
    };
    put(root, rest, value, target)
}

fn put(
    container: &mut Value,
    keys: &[Key],
    value: Option<Value>,
    target: &str,
) -> Result<(), Failure> {
    let Some((key, rest)) = keys.split_first() else {
        return Ok(());
    };
    let not_object = |what: &Value| {
        Failure::expression(format!(
            "cannot write `{target}`: `{}` is set on {}",
            key.name(),
            kind(what)
        ))
    };
    match container {
        Value::Object(m) => {
            let k = key.name();
            if rest.is_empty() {
                match value {
                    Some(v) => {
                        m.insert(k, v);
                    }
                    None => {
                        m.remove(&k);
                    }
                }
                return Ok(());
            }
            let child = match m.get_mut(&k) {
                Some(c) => c,
                None if value.is_none() => return Ok(()),
                None => m.entry(k).or_insert_with(|| Value::Object(Map::new())),
            };
            put(child, rest, value, target)
        }
        Value::Array(a) => {
            let i = match key {
                Key::Index(i) => *i,
                Key::Name(s) => s.parse::<usize>().map_err(|_| {
                    Failure::expression(format!(
                        "cannot write `{target}`: `{s}` is not an index of an array"
                    ))
                })?,
            };
            if i > MAX_INDEX {
                return Err(Failure::expression(format!(
                    "cannot write `{target}`: index {i} is too large"
                )));
            }
            if i >= a.len() {
                if value.is_none() {
                    return Ok(());
                }
                a.resize(i + 1, Value::Null);
                if !rest.is_empty() {
                    a[i] = Value::Object(Map::new());
                }
            }
            if rest.is_empty() {
                a[i] = value.unwrap_or(Value::Null);
                return Ok(());
            }
            put(&mut a[i], rest, value, target)
        }
        other => Err(not_object(other)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
