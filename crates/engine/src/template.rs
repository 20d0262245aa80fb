//! `{{ }}` templates of Generate document (spec 03 §7.3.8) for text files: `{{path.to.value}}`
//! tags and `{{#list}}…{{/list}}` sections that repeat over arrays, in docxtemplater style.
//!
//! - A tag's value: strings as they are, numbers and booleans as JavaScript prints them,
//!   objects as JSON; missing values and `null` are empty (v3.0.1).
//! - `{{#name}}` repeats its body once per item of an array, once for any other truthy value,
//!   and not at all for a falsy one; `{{^name}}` renders its body only for a falsy value or an
//!   empty array. Inside, tags look in the item first (`{{number}}`), then accept the
//!   section's own name as a prefix (`{{table.number}}`), then the outer data. `{{.}}` is the
//!   item itself.
//! - With `escape` (HTML and XML templates) values are escaped for markup.

use serde_json::Value;

use crate::values::scalar_text;
use crate::Failure;

enum Part {
    Text(String),
    Tag(String),
    Section {
        name: String,
        inverted: bool,
        body: Vec<Part>,
    },
}

/// Sections nest at most this deep.
const MAX_DEPTH: usize = 50;

type Frame = (String, bool, Vec<Part>);

fn top(stack: &mut [Frame]) -> Result<&mut Vec<Part>, Failure> {
    stack
        .last_mut()
        .map(|(_, _, parts)| parts)
        .ok_or_else(|| Failure::internal("template: the section stack is empty"))
}

fn parse(src: &str) -> Result<Vec<Part>, Failure> {
    let mut stack: Vec<Frame> = vec![(String::new(), false, Vec::new())];
    let mut rest = src;
    while let Some(open) = rest.find("{{") {
        let (text, after) = rest.split_at(open);
        if !text.is_empty() {
            top(&mut stack)?.push(Part::Text(text.to_owned()));
        }
        let after = &after[2..];
        let Some(close) = after.find("}}") else {
            return Err(Failure::expression("template: a `{{` is never closed"));
        };
        let tag = after[..close].trim();
        rest = &after[close + 2..];
        if let Some(name) = tag.strip_prefix('#').or_else(|| tag.strip_prefix('^')) {
            if stack.len() > MAX_DEPTH {
                return Err(Failure::new("LIMIT", "template: sections nest too deep"));
            }
            stack.push((name.trim().to_owned(), tag.starts_with('^'), Vec::new()));
        } else if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if stack.len() < 2 {
                return Err(Failure::expression(format!(
                    "template: `{{{{/{name}}}}}` closes no section"
                )));
            }
            let Some((open_name, inverted, body)) = stack.pop() else {
                return Err(Failure::internal("template: the section stack is empty"));
            };
            if open_name != name {
                return Err(Failure::expression(format!(
                    "template: `{{{{#{open_name}}}}}` is closed by `{{{{/{name}}}}}`"
                )));
            }
            top(&mut stack)?.push(Part::Section {
                name: open_name,
                inverted,
                body,
            });
        } else {
            top(&mut stack)?.push(Part::Tag(tag.to_owned()));
        }
    }
    if !rest.is_empty() {
        top(&mut stack)?.push(Part::Text(rest.to_owned()));
    }
    if stack.len() > 1 {
        let name = stack.last().map(|s| s.0.clone()).unwrap_or_default();
        return Err(Failure::expression(format!(
            "template: `{{{{#{name}}}}}` is never closed"
        )));
    }
    Ok(stack.pop().map(|s| s.2).unwrap_or_default())
}

/// Renders a template against `data`.
pub(crate) fn render(src: &str, data: &Value, escape: bool) -> Result<String, Failure> {
    let parts = parse(src)?;
    let mut out = String::with_capacity(src.len());
    let mut frames = vec![("", data)];
    emit(&parts, &mut frames, escape, &mut out);
    Ok(out)
}

/// The path of the array of objects that the first tag of `text` going through one names,
/// and how many items it has: `{{table.number}}` with `table` an array of objects gives
/// `["table"]`. Section tags (`#`, `^`, `/`) and `{{.}}` are not looked at. Office templates
/// repeat a table row (or a paragraph) whose tags give one.
pub(crate) fn repetition(text: &str, scope: &Value) -> Option<(Vec<String>, usize)> {
    let mut from = 0;
    while let Some(start) = text[from..].find("{{").map(|p| p + from) {
        let end = text[start..].find("}}").map(|p| p + start)?;
        from = end + 2;
        let tag = text[start + 2..end].trim();
        if tag.is_empty() || tag.starts_with(['#', '^', '/', '.']) {
            continue;
        }
        let segs: Vec<&str> = tag.split('.').map(str::trim).collect();
        let mut v = scope;
        for (i, seg) in segs.iter().enumerate() {
            let Some(next) = v.as_object().and_then(|o| o.get(*seg)) else {
                break;
            };
            v = next;
            if let Value::Array(items) = v {
                if i + 1 < segs.len() {
                    let path = segs[..=i].iter().map(|s| (*s).to_owned()).collect();
                    return Some((path, items.len()));
                }
                break;
            }
        }
    }
    None
}

/// The value at `path` (object keys) in `scope`.
fn slot<'v>(scope: &'v mut Value, path: &[String]) -> Option<&'v mut Value> {
    path.iter()
        .try_fold(scope, |v, seg| v.as_object_mut()?.get_mut(seg))
}

/// Runs `each` once per item of the array at `path`, with `scope` holding that item in the
/// array's place (so the tags of a repeated copy read the item), and answers the results.
/// Nothing else of `scope` is copied; the array is put back afterwards, also on an error.
/// With `at_least_once`, an empty array runs `each` once with an empty object in its place.
pub(crate) fn for_each_item<T>(
    scope: &mut Value,
    path: &[String],
    at_least_once: bool,
    mut each: impl FnMut(&mut Value) -> Result<T, Failure>,
) -> Result<Vec<T>, Failure> {
    let items = match slot(scope, path).map(std::mem::take) {
        Some(Value::Array(items)) => items,
        Some(other) => {
            if let Some(s) = slot(scope, path) {
                *s = other;
            }
            return Ok(Vec::new());
        }
        None => return Ok(Vec::new()),
    };
    let none = [Value::Object(serde_json::Map::new())];
    let each_item: &[Value] = if items.is_empty() && at_least_once {
        &none
    } else {
        &items
    };
    let mut out = Vec::with_capacity(each_item.len());
    let mut failed = None;
    for item in each_item {
        if let Some(s) = slot(scope, path) {
            *s = item.clone();
        }
        match each(scope) {
            Ok(v) => out.push(v),
            Err(e) => {
                failed = Some(e);
                break;
            }
        }
    }
    if let Some(s) = slot(scope, path) {
        *s = Value::Array(items);
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

pub(crate) fn walk<'v>(mut v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    for seg in path {
        v = match v {
            Value::Object(o) => o.get(*seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn lookup<'v>(frames: &[(&str, &'v Value)], path: &str) -> Option<&'v Value> {
    if path == "." {
        return frames.last().map(|(_, v)| *v);
    }
    let segs: Vec<&str> = path.split('.').map(str::trim).collect();
    let first = segs.first()?;
    for (name, v) in frames.iter().rev() {
        if let Value::Object(o) = v {
            if o.contains_key(*first) {
                return walk(v, &segs);
            }
        }
        if !name.is_empty() && name == first {
            return walk(v, &segs[1..]);
        }
    }
    None
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(_)) => true,
    }
}

fn push_escaped(out: &mut String, s: &str, escape: bool) {
    if !escape {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn emit<'v>(
    parts: &'v [Part],
    frames: &mut Vec<(&'v str, &'v Value)>,
    escape: bool,
    out: &mut String,
) {
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Tag(path) => {
                if let Some(v) = lookup(frames, path).filter(|v| !v.is_null()) {
                    let text = scalar_text(v).unwrap_or_else(|| v.to_string());
                    push_escaped(out, &text, escape);
                }
            }
            Part::Section {
                name,
                inverted,
                body,
            } => {
                let v = lookup(frames, name);
                if *inverted {
                    if !truthy(v) {
                        emit(body, frames, escape, out);
                    }
                    continue;
                }
                let Some(v) = v.filter(|v| truthy(Some(v))) else {
                    continue;
                };
                let items: Vec<&Value> = match v {
                    Value::Array(a) => a.iter().collect(),
                    other => vec![other],
                };
                for item in items {
                    frames.push((name.as_str(), item));
                    emit(body, frames, escape, out);
                    frames.pop();
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_item_stands_in_for_its_array_and_the_array_comes_back() {
        let mut scope = json!({"d": {"rows": [{"n": 1}, {"n": 2}], "k": "x"}});
        let before = scope.clone();
        let path = vec!["d".to_owned(), "rows".to_owned()];
        assert_eq!(
            repetition("{{d.k}} {{d.rows.n}}", &scope),
            Some((path.clone(), 2))
        );
        let seen = for_each_item(&mut scope, &path, false, |s| {
            render("{{d.rows.n}}{{d.k}}", s, false)
        })
        .unwrap();
        assert_eq!(seen, vec!["1x", "2x"]);
        assert_eq!(scope, before);
        let failed = for_each_item(&mut scope, &path, false, |_| -> Result<(), Failure> {
            Err(Failure::internal("stop"))
        });
        assert!(failed.is_err());
        assert_eq!(scope, before, "the array is back after an error");
        let mut empty = json!({"rows": []});
        let once = for_each_item(&mut empty, &["rows".to_owned()], true, |s| {
            render("[{{rows.n}}]", s, false)
        })
        .unwrap();
        assert_eq!(once, vec!["[]"]);
        assert_eq!(empty, json!({"rows": []}));
    }

    #[test]
    fn tags_sections_and_missing_values() {
        let data = json!({"client": {"name": "Анна"}, "n": 2, "rows": [{"number": 1}, {"number": 2}], "none": []});
        let t = "{{client.name}}/{{n}}/{{missing}}|{{#rows}}[{{number}}{{rows.number}}]{{/rows}}{{^none}}empty{{/none}}";
        assert_eq!(render(t, &data, false).unwrap(), "Анна/2/|[11][22]empty");
        assert_eq!(
            render("{{x}}", &json!({"x": "<b>"}), true).unwrap(),
            "&lt;b&gt;"
        );
        assert_eq!(
            render("{{#a}}x", &data, false).unwrap_err().code,
            "EXPRESSION"
        );
        assert_eq!(
            render("{{/a}}", &data, false).unwrap_err().code,
            "EXPRESSION"
        );
    }
}
