//! Parser (spec 03 §7.2.7): JSONPath in Rust, regular expressions in the JavaScript sandbox
//! (so a `/pattern/flags` string means exactly what it means to the scenario's author).
//! XPath and jQuery selectors are not supported.

use serde_json::{Map, Value};

use crate::components::{integer, required, Slots};
use crate::values::Args;
use crate::{Engine, Failure};

/// Most matches a regular expression collects.
const MAX_MATCHES: usize = 10_000;

const REGEX: &str = r#"
const m = /^\/([\s\S]*)\/([a-z]*)$/.exec(query);
const flags = m ? (m[2].includes('g') ? m[2] : m[2] + 'g') : 'g';
const re = new RegExp(m ? m[1] : query, flags);
const text = typeof data === 'string' ? data : JSON.stringify(data);
const out = [];
let r;
while ((r = re.exec(text)) !== null && out.length < max) {
  out.push(r[group] === undefined ? null : r[group]);
  if (r[0] === '') re.lastIndex++;
}
return out;
"#;

pub(crate) async fn run(engine: &Engine, args: &Args) -> Result<Slots, Failure> {
    let method = args.text("method").unwrap_or_else(|| "jsonpath".to_owned());
    let query = args.text("query").ok_or_else(|| required("query"))?;
    let data = args.value("data").ok_or_else(|| required("data"))?;
    let found: Vec<Value> = match method.as_str() {
        "jsonpath" => {
            let data = match data {
                Value::String(s) => serde_json::from_str(&s).map_err(|e| {
                    Failure::expression(format!("data is not JSON for JSONPath: {e}"))
                })?,
                other => other,
            };
            let path = parse_path(&query)?;
            select(&data, &path).into_iter().cloned().collect()
        }
        "regex" => {
            let group = integer(args, "group")?
                .or(integer(args, "value").ok().flatten())
                .unwrap_or(0)
                .max(0);
            let mut inputs = Map::new();
            inputs.insert("data".into(), data);
            inputs.insert("query".into(), Value::String(query));
            inputs.insert("group".into(), Value::from(group));
            inputs.insert("max".into(), Value::from(MAX_MATCHES));
            let out = engine
                .js(move |js| js.run_code(REGEX, &inputs).map_err(Failure::from))
                .await?;
            match out {
                Some(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        }
        other => {
            return Err(Failure::internal(format!(
                "component not supported: parser ({other})"
            )))
        }
    };
    let out = match args.text("return").as_deref() {
        Some("all") => Value::Array(found),
        Some("last") => found.into_iter().last().unwrap_or(Value::Null),
        _ => found.into_iter().next().unwrap_or(Value::Null),
    };
    Ok(vec![("output", Some(out))])
}

#[derive(Debug, PartialEq)]
enum Sel {
    Name(String),
    Index(i64),
    Wild,
    Slice(Option<i64>, Option<i64>, i64),
}

#[derive(Debug, PartialEq)]
struct Step {
    recursive: bool,
    sels: Vec<Sel>,
}

fn bad(path: &str, why: &str) -> Failure {
    Failure::expression(format!("JSONPath {path:?}: {why}"))
}

/// Parses the JSONPath subset: `$`, `.name`, `.*`, `..name`, `..*`, `[n]`, `[-n]`, `['a','b']`,
/// `[1,2]`, `[*]`, `[start:end:step]`. Filters `[?()]` and scripts `[()]` are refused.
fn parse_path(path: &str) -> Result<Vec<Step>, Failure> {
    let chars: Vec<char> = path.trim().chars().collect();
    let mut i = 0;
    if chars.first() == Some(&'$') {
        i = 1;
    }
    let mut steps = Vec::new();
    let name_end = |from: usize| {
        let mut j = from;
        while j < chars.len() && !matches!(chars[j], '.' | '[') {
            j += 1;
        }
        j
    };
    // A path without `$` starts with a name.
    if i == 0 && chars.first().is_some_and(|c| !matches!(c, '.' | '[')) {
        let j = name_end(0);
        steps.push(Step {
            recursive: false,
            sels: vec![Sel::Name(chars[..j].iter().collect())],
        });
        i = j;
    }
    while i < chars.len() {
        let mut recursive = false;
        if chars[i] == '.' {
            i += 1;
            if chars.get(i) == Some(&'.') {
                recursive = true;
                i += 1;
            }
            if chars.get(i) != Some(&'[') {
                let j = name_end(i);
                let name: String = chars[i..j].iter().collect();
                if name.is_empty() {
                    return Err(bad(path, "a name is missing after `.`"));
                }
                let sel = if name == "*" {
                    Sel::Wild
                } else {
                    Sel::Name(name)
                };
                steps.push(Step {
                    recursive,
                    sels: vec![sel],
                });
                i = j;
                continue;
            }
        }
        if chars.get(i) != Some(&'[') {
            return Err(bad(path, "expected `.` or `[`"));
        }
        // Find the closing bracket outside quotes.
        let mut j = i + 1;
        let mut quote: Option<char> = None;
        while j < chars.len() {
            match (quote, chars[j]) {
                (None, '\'' | '"') => quote = Some(chars[j]),
                (Some(q), c) if c == q => quote = None,
                (None, ']') => break,
                _ => {}
            }
            j += 1;
        }
        if j >= chars.len() {
            return Err(bad(path, "a `[` is never closed"));
        }
        let inner: String = chars[i + 1..j].iter().collect();
        steps.push(Step {
            recursive,
            sels: bracket(path, inner.trim())?,
        });
        i = j + 1;
    }
    Ok(steps)
}

fn bracket(path: &str, inner: &str) -> Result<Vec<Sel>, Failure> {
    if inner.starts_with('?') || inner.starts_with('(') {
        return Err(Failure::internal(format!(
            "component not supported: parser (JSONPath filter {inner})"
        )));
    }
    if inner == "*" {
        return Ok(vec![Sel::Wild]);
    }
    let int = |s: &str| -> Result<Option<i64>, Failure> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<i64>()
            .map(Some)
            .map_err(|_| bad(path, &format!("{s:?} is not an index")))
    };
    if inner.contains(':') && !inner.starts_with(['\'', '"']) {
        let parts: Vec<&str> = inner.split(':').collect();
        let step = match parts.get(2) {
            Some(s) => int(s)?.unwrap_or(1),
            None => 1,
        };
        if step == 0 || parts.len() > 3 {
            return Err(bad(path, "a bad slice"));
        }
        return Ok(vec![Sel::Slice(int(parts[0])?, int(parts[1])?, step)]);
    }
    let mut out = Vec::new();
    for item in split_outside_quotes(inner) {
        let item = item.trim();
        let quoted = item.len() >= 2
            && ((item.starts_with('\'') && item.ends_with('\''))
                || (item.starts_with('"') && item.ends_with('"')));
        if quoted {
            out.push(Sel::Name(item[1..item.len() - 1].to_owned()));
        } else if let Some(n) = int(item)? {
            out.push(Sel::Index(n));
        } else {
            return Err(bad(path, "an empty selector"));
        }
    }
    Ok(out)
}

fn split_outside_quotes(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ',') => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn descendants<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    // Iterative, so deep data cannot overflow the stack.
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        out.push(v);
        match v {
            Value::Object(o) => stack.extend(o.values().rev()),
            Value::Array(a) => stack.extend(a.iter().rev()),
            _ => {}
        }
    }
}

fn index(len: usize, i: i64) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let i = if i < 0 { len + i } else { i };
    (0..len)
        .contains(&i)
        .then(|| usize::try_from(i).ok())
        .flatten()
}

fn apply<'v>(v: &'v Value, sel: &Sel, out: &mut Vec<&'v Value>) {
    match (sel, v) {
        (Sel::Name(n), Value::Object(o)) => out.extend(o.get(n)),
        (Sel::Index(i), Value::Array(a)) => out.extend(index(a.len(), *i).and_then(|i| a.get(i))),
        (Sel::Wild, Value::Object(o)) => out.extend(o.values()),
        (Sel::Wild, Value::Array(a)) => out.extend(a.iter()),
        (Sel::Slice(start, end, step), Value::Array(a)) => {
            let len = i64::try_from(a.len()).unwrap_or(i64::MAX);
            let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
            let idx = |k: i64| usize::try_from(k).ok().and_then(|k| a.get(k));
            if *step > 0 {
                let (mut k, e) = (norm(start.unwrap_or(0)), norm(end.unwrap_or(len)));
                while k < e {
                    out.extend(idx(k));
                    k += step;
                }
            } else {
                let mut k = start.map_or(len - 1, |s| if s < 0 { len + s } else { s.min(len - 1) });
                let e = end.map_or(-1, |e| if e < 0 { (len + e).max(-1) } else { e });
                while k > e && k >= 0 {
                    out.extend(idx(k));
                    k += step;
                }
            }
        }
        _ => {}
    }
}

fn select<'v>(root: &'v Value, path: &[Step]) -> Vec<&'v Value> {
    let mut nodes = vec![root];
    for step in path {
        let base = if step.recursive {
            let mut all = Vec::new();
            for n in &nodes {
                descendants(n, &mut all);
            }
            all
        } else {
            nodes
        };
        let mut next = Vec::new();
        for n in base {
            for sel in &step.sels {
                apply(n, sel, &mut next);
            }
        }
        nodes = next;
    }
    nodes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(data: &Value, path: &str) -> Vec<Value> {
        select(data, &parse_path(path).unwrap())
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn jsonpath_subset() {
        let d = json!({"store": {"book": [
            {"author": "Толстой", "price": 10},
            {"author": "Достоевский", "price": 20},
            {"author": "Чехов", "price": 30}
        ], "bicycle": {"price": 5}}});
        assert_eq!(
            q(&d, "$.store.book[*].author"),
            vec![json!("Толстой"), json!("Достоевский"), json!("Чехов")]
        );
        assert_eq!(q(&d, "$..price").len(), 4);
        assert_eq!(q(&d, "$.store.book[-1].author"), vec![json!("Чехов")]);
        assert_eq!(q(&d, "$.store.book[0,2].price"), vec![json!(10), json!(30)]);
        assert_eq!(q(&d, "$.store.book[1:].price"), vec![json!(20), json!(30)]);
        assert_eq!(q(&d, "$['store']['bicycle'].price"), vec![json!(5)]);
        assert_eq!(q(&d, "store.bicycle.price"), vec![json!(5)]);
        assert!(q(&d, "$.nothing.here").is_empty());
        assert_eq!(
            parse_path("$.a[?(@.x)]").unwrap_err().code,
            "INTERNAL",
            "filters are not supported"
        );
        assert_eq!(parse_path("$.a[1").unwrap_err().code, "EXPRESSION");
    }
}
