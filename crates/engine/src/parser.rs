//! Parser (spec 03 §7.2.7): JSONPath in Rust, regular expressions in the JavaScript sandbox
//! (so a `/pattern/flags` string means exactly what it means to the scenario's author),
//! jQuery selectors and XPath 1.0 in Rust.
//!
//! - jQuery: `data` (a string) is parsed as an HTML document (html5ever, as a browser does)
//!   and `query` is a CSS selector (servo's `selectors`, through `scraper`). One jQuery
//!   extension is understood: a positional pseudo-class at the END of the selector —
//!   `:first`, `:last`, `:eq(n)` (negative from the end), `:gt(n)`, `:lt(n)`, `:even`,
//!   `:odd` — which picks from all the CSS matches in document order (`p:first`,
//!   `ul li:eq(1)`; with a selector list it applies to the whole list). Other jQuery
//!   extensions (`:contains()`, `:visible`, `:hidden`, `:input`, `:checkbox`, `:header`,
//!   `:parent`, a positional in the middle of a selector, …) are a bad selector
//!   (`EXPRESSION`). The value kind (`value`, alias `returnValue`; default `text`) is one
//!   per matched element: `text` (text content), `html` (inner HTML), `element` (outer
//!   HTML), `val` (`value` attribute; an `<input>` without one is `""`; a `<textarea>`'s
//!   text; a `<select>`'s selected option's value — an array for `multiple`) or `attr` (the
//!   attribute named by `attr`, aliases `attribute`, `attrName`); a missing attribute or
//!   value is `null`.
//! - XPath: `data` (a string) that is well-formed XML is evaluated as XML; anything else is
//!   parsed as HTML (html5ever, so `/html/body/…` exists) and evaluated over a copy of that
//!   tree (element and attribute names are the lowercase local names, without namespace).
//!   Text that starts with `<?xml` but is not well-formed is an `EXPRESSION` failure.
//!   Node results: an element is its text content (its string value) — or, when `value` is
//!   `html`, its inner markup and, when `element`, its outer markup; an attribute is its
//!   value; text, comments and the root are their string value. A number, string or boolean
//!   result (`count(//book)`) is that JSON value (an integral number is an integer, NaN is
//!   `null`); `all` makes it a one-item array. As in XPath 1.0, in XML with a default
//!   namespace `//book` does not match the namespaced `book`, and no prefixes can be bound:
//!   write `//*[local-name()='book']`. Nesting deeper than 500 elements is `LIMIT`.
//! - No match is `null` (`first`/`last`) or `[]` (`all`); a `data` that is not a string is
//!   `EXPRESSION` for jQuery and XPath.

use serde_json::{Map, Value};

use crate::components::{integer, required, Slots};
use crate::files::{blocking, xml_depth, MAX_XML_DEPTH};
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
        "jquery" | "xpath" => {
            let Value::String(doc) = data else {
                return Err(Failure::expression(format!(
                    "data for {method} must be a string of HTML or XML"
                )));
            };
            let kind = args
                .text("value")
                .or_else(|| args.text("returnValue"))
                .map(|k| k.trim().to_ascii_lowercase());
            if method == "xpath" {
                blocking(move || xpath(&doc, &query, kind.as_deref())).await?
            } else {
                let kind = Kind::parse(kind.as_deref(), || {
                    ["attr", "attribute", "attrName"]
                        .iter()
                        .find_map(|n| args.text(n))
                })?;
                blocking(move || jquery(&doc, &query, &kind)).await?
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

/// What a jQuery match gives.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Text,
    Html,
    Element,
    Val,
    Attr(String),
}

impl Kind {
    fn parse(kind: Option<&str>, attr: impl FnOnce() -> Option<String>) -> Result<Kind, Failure> {
        Ok(match kind.unwrap_or("text") {
            "text" => Kind::Text,
            "html" => Kind::Html,
            "element" => Kind::Element,
            "val" => Kind::Val,
            "attr" => Kind::Attr(attr().ok_or_else(|| required("attr"))?),
            other => {
                return Err(Failure::expression(format!(
                    "unknown jQuery value {other:?}: expected html, text, val, element or attr"
                )))
            }
        })
    }
}

/// A jQuery positional pseudo-class at the end of a selector.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pos {
    First,
    Last,
    Eq(i64),
    Gt(i64),
    Lt(i64),
    Even,
    Odd,
}

/// Splits a trailing jQuery positional pseudo-class off a selector.
fn split_positional(query: &str) -> Result<(&str, Option<Pos>), Failure> {
    let q = query.trim_end();
    for (suffix, pos) in [
        (":first", Pos::First),
        (":last", Pos::Last),
        (":even", Pos::Even),
        (":odd", Pos::Odd),
    ] {
        if let Some(rest) = q.strip_suffix(suffix) {
            return Ok((rest, Some(pos)));
        }
    }
    if let Some(open) = q.strip_suffix(')') {
        for (name, make) in [
            (":eq(", Pos::Eq as fn(i64) -> Pos),
            (":gt(", Pos::Gt),
            (":lt(", Pos::Lt),
        ] {
            if let Some(at) = open.rfind(name) {
                let n = &open[at + name.len()..];
                let n = n.trim().parse::<i64>().map_err(|_| {
                    Failure::expression(format!(
                        "jQuery selector {query:?}: {n:?} is not an index in {}",
                        name.trim_end_matches('(')
                    ))
                })?;
                return Ok((&open[..at], Some(make(n))));
            }
        }
    }
    Ok((q, None))
}

fn pick<T>(mut found: Vec<T>, pos: Option<Pos>) -> Vec<T> {
    let len = i64::try_from(found.len()).unwrap_or(i64::MAX);
    let keep = |i: i64| -> bool {
        match pos {
            None => true,
            Some(Pos::First) => i == 0,
            Some(Pos::Last) => i == len - 1,
            Some(Pos::Eq(n)) => i == if n < 0 { len + n } else { n },
            Some(Pos::Gt(n)) => i > if n < 0 { len + n } else { n },
            Some(Pos::Lt(n)) => i < if n < 0 { len + n } else { n },
            Some(Pos::Even) => i % 2 == 0,
            Some(Pos::Odd) => i % 2 == 1,
        }
    };
    let mut i = -1;
    found.retain(|_| {
        i += 1;
        keep(i)
    });
    found
}

/// A jQuery selector over an HTML document: one value per match, in document order.
fn jquery(doc: &str, query: &str, kind: &Kind) -> Result<Vec<Value>, Failure> {
    let (css, pos) = split_positional(query)?;
    if css.trim().is_empty() {
        return Err(Failure::expression(format!(
            "jQuery selector {query:?}: the selector is empty"
        )));
    }
    let selector = scraper::Selector::parse(css)
        .map_err(|e| Failure::expression(format!("jQuery selector {query:?}: {e}")))?;
    let html = scraper::Html::parse_document(doc);
    let found = pick(html.select(&selector).collect(), pos);
    Ok(found
        .into_iter()
        .map(|el| element_value(el, kind))
        .collect())
}

fn element_value(el: scraper::ElementRef<'_>, kind: &Kind) -> Value {
    let text = |el: scraper::ElementRef<'_>| Value::String(el.text().collect());
    match kind {
        Kind::Text => text(el),
        Kind::Html => Value::String(el.inner_html()),
        Kind::Element => Value::String(el.html()),
        Kind::Attr(name) => el.attr(name).map_or(Value::Null, Value::from),
        Kind::Val => match el.value().name() {
            "textarea" => text(el),
            "select" => {
                let options: Vec<_> = el
                    .descendent_elements()
                    .filter(|o| o.value().name() == "option")
                    .collect();
                let value = |o: &scraper::ElementRef<'_>| {
                    o.attr("value")
                        .map_or_else(|| Value::String(o.text().collect()), Value::from)
                };
                let mut selected = options.iter().filter(|o| o.attr("selected").is_some());
                if el.attr("multiple").is_some() {
                    Value::Array(selected.map(value).collect())
                } else {
                    // A single select shows its last selected option, else its first.
                    selected
                        .next_back()
                        .or(options.first())
                        .map_or(Value::Null, value)
                }
            }
            "input" => Value::from(el.attr("value").unwrap_or("")),
            _ => el.attr("value").map_or(Value::Null, Value::from),
        },
    }
}

/// An XPath 1.0 expression over XML (or, when the text is not well-formed XML, HTML).
fn xpath(doc: &str, query: &str, kind: Option<&str>) -> Result<Vec<Value>, Failure> {
    let bad = |why: String| Failure::expression(format!("XPath {query:?}: {why}"));
    let path = sxd_xpath::Factory::new()
        .build(query)
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("the expression is empty".to_owned()))?;
    let package = xml_or_html(doc)?;
    let document = package.as_document();
    let result = path
        .evaluate(&sxd_xpath::Context::new(), document.root())
        .map_err(|e| bad(e.to_string()))?;
    Ok(match result {
        sxd_xpath::Value::Nodeset(nodes) => nodes
            .document_order()
            .into_iter()
            .map(|n| node_value(n, kind))
            .collect(),
        sxd_xpath::Value::Boolean(b) => vec![Value::Bool(b)],
        sxd_xpath::Value::String(s) => vec![Value::String(s)],
        sxd_xpath::Value::Number(n) => vec![number(n)],
    })
}

fn number(n: f64) -> Value {
    // An integral number within ±2^53 is exact as an integer.
    if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(n as i64);
    }
    serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
}

fn node_value(node: sxd_xpath::nodeset::Node<'_>, kind: Option<&str>) -> Value {
    use sxd_xpath::nodeset::Node;
    if let Node::Element(el) = node {
        match kind {
            Some("html") => {
                let mut out = String::new();
                for child in el.children() {
                    write_child(&child, &mut out);
                }
                return Value::String(out);
            }
            Some("element") => {
                let mut out = String::new();
                write_element(el, &mut out);
                return Value::String(out);
            }
            _ => {}
        }
    }
    Value::String(node.string_value())
}

fn escape(text: &str, out: &mut String, attr: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' if !attr => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

fn qualified(prefix: Option<&str>, local: &str) -> String {
    match prefix {
        Some(p) if !p.is_empty() => format!("{p}:{local}"),
        _ => local.to_owned(),
    }
}

/// Markup of an element (the tree is at most `MAX_XML_DEPTH` deep, so recursion is bounded).
fn write_element(el: sxd_document::dom::Element<'_>, out: &mut String) {
    let name = qualified(el.preferred_prefix(), el.name().local_part());
    out.push('<');
    out.push_str(&name);
    for a in el.attributes() {
        out.push(' ');
        out.push_str(&qualified(a.preferred_prefix(), a.name().local_part()));
        out.push_str("=\"");
        escape(a.value(), out, true);
        out.push('"');
    }
    let children = el.children();
    if children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for child in &children {
        write_child(child, out);
    }
    out.push_str("</");
    out.push_str(&name);
    out.push('>');
}

fn write_child(child: &sxd_document::dom::ChildOfElement<'_>, out: &mut String) {
    use sxd_document::dom::ChildOfElement as C;
    match child {
        C::Element(e) => write_element(*e, out),
        C::Text(t) => escape(t.text(), out, false),
        C::Comment(c) => {
            out.push_str("<!--");
            out.push_str(c.text());
            out.push_str("-->");
        }
        C::ProcessingInstruction(p) => {
            out.push_str("<?");
            out.push_str(p.target());
            if let Some(v) = p.value() {
                out.push(' ');
                out.push_str(v);
            }
            out.push_str("?>");
        }
    }
}

fn too_deep() -> Failure {
    Failure::new(
        "LIMIT",
        format!("the document nests deeper than {MAX_XML_DEPTH} elements"),
    )
}

/// The document as XML when it is well-formed, else as HTML copied into an XML tree.
fn xml_or_html(doc: &str) -> Result<sxd_document::Package, Failure> {
    if xml_depth(doc.as_bytes()) <= MAX_XML_DEPTH {
        match sxd_document::parser::parse(doc) {
            Ok(package) => return Ok(package),
            Err(e) if doc.trim_start().starts_with("<?xml") => {
                return Err(Failure::expression(format!(
                    "data is not well-formed XML: {e}"
                )))
            }
            Err(_) => {}
        }
    } else if doc.trim_start().starts_with("<?xml") {
        return Err(too_deep());
    }
    let html = scraper::Html::parse_document(doc);
    let package = sxd_document::Package::new();
    {
        let xml = package.as_document();
        // Iterative, so deep HTML cannot overflow the stack; children are appended in order
        // before their own children are visited.
        let mut stack = Vec::new();
        for child in html.tree.root().children() {
            if let Some(el) = child.value().as_element() {
                let e = xml_element(&xml, el);
                xml.root().append_child(e);
                stack.push((child, e, 1usize));
            }
        }
        while let Some((node, parent, depth)) = stack.pop() {
            if depth > MAX_XML_DEPTH {
                return Err(too_deep());
            }
            for child in node.children() {
                match child.value() {
                    scraper::Node::Element(el) => {
                        let e = xml_element(&xml, el);
                        parent.append_child(e);
                        stack.push((child, e, depth + 1));
                    }
                    scraper::Node::Text(t) => parent.append_child(xml.create_text(t)),
                    scraper::Node::Comment(c) => parent.append_child(xml.create_comment(c)),
                    _ => {}
                }
            }
        }
    }
    Ok(package)
}

fn xml_element<'d>(
    xml: &sxd_document::dom::Document<'d>,
    el: &scraper::node::Element,
) -> sxd_document::dom::Element<'d> {
    let e = xml.create_element(el.name());
    for (name, value) in el.attrs() {
        e.set_attribute_value(name, value);
    }
    e
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

    const SHOP: &str = r#"<!DOCTYPE html><html><head><title>Магазин</title></head><body>
<div class="item" id="a"><h2>Чайник</h2><span class="price">1500 ₽</span><a href="/a">ещё</a></div>
<div class="item" id="b"><h2>Кружка</h2><span class="price">300 ₽</span><a>нет ссылки</a></div>
<form><input name="q" value="чай"><input name="empty"><textarea name="t">Текст &amp; ещё</textarea>
<select name="s"><option value="1">один</option><option selected>два</option></select>
<select name="m" multiple><option value="x" selected>X</option><option value="y">Y</option><option value="z" selected>Z</option></select>
</form></body></html>"#;

    fn jq(query: &str, kind: Kind) -> Vec<Value> {
        jquery(SHOP, query, &kind).unwrap()
    }

    #[test]
    fn jquery_values() {
        assert_eq!(
            jq(".price", Kind::Text),
            vec![json!("1500 ₽"), json!("300 ₽")]
        );
        assert_eq!(
            jq("#a", Kind::Html),
            vec![json!(
                r#"<h2>Чайник</h2><span class="price">1500 ₽</span><a href="/a">ещё</a>"#
            )]
        );
        assert_eq!(
            jq("#b .price", Kind::Element),
            vec![json!(r#"<span class="price">300 ₽</span>"#)]
        );
        assert_eq!(
            jq(".item a", Kind::Attr("href".into())),
            vec![json!("/a"), Value::Null]
        );
        assert_eq!(
            jq("input, textarea, select", Kind::Val),
            vec![
                json!("чай"),
                json!(""),
                json!("Текст & ещё"),
                json!("два"),
                json!(["x", "z"])
            ]
        );
        assert_eq!(jq("h2", Kind::Val), vec![Value::Null, Value::Null]);
        assert_eq!(jq("title", Kind::Text), vec![json!("Магазин")]);
        assert!(jq(".nothing", Kind::Text).is_empty());
    }

    #[test]
    fn jquery_positionals() {
        assert_eq!(jq("h2:first", Kind::Text), vec![json!("Чайник")]);
        assert_eq!(jq("h2:last", Kind::Text), vec![json!("Кружка")]);
        assert_eq!(jq(".price:eq(1)", Kind::Text), vec![json!("300 ₽")]);
        assert_eq!(jq(".price:eq(-1)", Kind::Text), vec![json!("300 ₽")]);
        assert!(jq(".price:eq(2)", Kind::Text).is_empty());
        assert_eq!(jq("option:gt(2)", Kind::Text), vec![json!("Y"), json!("Z")]);
        assert_eq!(jq("option:lt(1)", Kind::Text), vec![json!("один")]);
        assert_eq!(jq("option:odd", Kind::Text), vec![json!("два"), json!("Y")]);
        assert_eq!(
            jq("option:even", Kind::Text),
            vec![json!("один"), json!("X"), json!("Z")]
        );
        // CSS's own pseudo-classes are untouched.
        assert_eq!(
            jq("h2:first-child", Kind::Text),
            vec![json!("Чайник"), json!("Кружка")]
        );
    }

    #[test]
    fn jquery_errors() {
        for bad in [".price[", "div >", ":contains(x)", "p:eq(x)", ":first", ""] {
            let e = jquery(SHOP, bad, &Kind::Text).unwrap_err();
            assert_eq!(e.code, "EXPRESSION", "{bad}");
            assert!(
                e.message.starts_with("jQuery selector"),
                "{bad}: {}",
                e.message
            );
        }
        assert_eq!(
            Kind::parse(Some("attr"), || None).unwrap_err().code,
            "EXPRESSION"
        );
        assert_eq!(
            Kind::parse(Some("attr"), || Some("href".into())).unwrap(),
            Kind::Attr("href".into())
        );
        assert_eq!(Kind::parse(None, || None).unwrap(), Kind::Text);
        assert_eq!(
            Kind::parse(Some("outer"), || None).unwrap_err().code,
            "EXPRESSION"
        );
    }

    const BOOKS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<catalog>
  <book id="bk1"><title>Война и мир</title><price>10</price></book>
  <book id="bk2"><title>Идиот</title><price>20.5</price></book>
  <!-- нет -->
</catalog>"#;

    fn xp(doc: &str, query: &str) -> Vec<Value> {
        xpath(doc, query, None).unwrap()
    }

    #[test]
    fn xpath_on_xml() {
        assert_eq!(
            xp(BOOKS, "//book/title"),
            vec![json!("Война и мир"), json!("Идиот")]
        );
        assert_eq!(xp(BOOKS, "//book/@id"), vec![json!("bk1"), json!("bk2")]);
        assert_eq!(xp(BOOKS, "//book[2]/title/text()"), vec![json!("Идиот")]);
        assert_eq!(xp(BOOKS, "count(//book)"), vec![json!(2)]);
        assert_eq!(xp(BOOKS, "sum(//price)"), vec![json!(30.5)]);
        assert_eq!(xp(BOOKS, "string(//book/@id)"), vec![json!("bk1")]);
        assert_eq!(xp(BOOKS, "count(//book) > 1"), vec![json!(true)]);
        assert_eq!(xp(BOOKS, "number('x')"), vec![Value::Null]);
        assert_eq!(xp(BOOKS, "//comment()"), vec![json!(" нет ")]);
        assert!(xp(BOOKS, "//magazine").is_empty());
        assert_eq!(
            xpath(BOOKS, "//book[1]", Some("element")).unwrap(),
            vec![json!(
                r#"<book id="bk1"><title>Война и мир</title><price>10</price></book>"#
            )]
        );
        assert_eq!(
            xpath(BOOKS, "//book[@id='bk2']", Some("html")).unwrap(),
            vec![json!("<title>Идиот</title><price>20.5</price>")]
        );
        assert_eq!(
            xpath("<a x='1 &amp; &lt;2'>&lt;b&gt;</a>", "/a", Some("element")).unwrap(),
            vec![json!(r#"<a x="1 &amp; &lt;2">&lt;b&gt;</a>"#)]
        );
        let ns = r#"<r xmlns="urn:x"><book>1</book></r>"#;
        assert!(xp(ns, "//book").is_empty());
        assert_eq!(xp(ns, "//*[local-name()='book']"), vec![json!("1")]);
    }

    #[test]
    fn xpath_on_html() {
        assert_eq!(
            xp(SHOP, "//span[@class='price']"),
            vec![json!("1500 ₽"), json!("300 ₽")]
        );
        assert_eq!(xp(SHOP, "/html/head/title"), vec![json!("Магазин")]);
        assert_eq!(xp(SHOP, "//div[@id='a']/a/@href"), vec![json!("/a")]);
        assert_eq!(xp(SHOP, "count(//input)"), vec![json!(2)]);
        assert_eq!(
            xpath(SHOP, "//div[2]/span", Some("element")).unwrap(),
            vec![json!(r#"<span class="price">300 ₽</span>"#)]
        );
        // Not XML (an unclosed `<br>`), so read as HTML.
        assert_eq!(xp("<p>a<br>b</p>", "//p"), vec![json!("ab")]);
        assert_eq!(xp("plain text", "//body"), vec![json!("plain text")]);
    }

    #[test]
    fn xpath_errors() {
        for bad in ["//book[", "", "//@", "foo(", "unknown-fn()"] {
            let e = xpath(BOOKS, bad, None).unwrap_err();
            assert_eq!(e.code, "EXPRESSION", "{bad}");
            assert!(e.message.starts_with("XPath"), "{bad}: {}", e.message);
        }
        let e = xpath("<?xml version=\"1.0\"?><a><b></a>", "//a", None).unwrap_err();
        assert_eq!(e.code, "EXPRESSION");
        assert!(e.message.contains("not well-formed XML"), "{}", e.message);
        let deep = "<div>".repeat(600);
        assert_eq!(xpath(&deep, "//div", None).unwrap_err().code, "LIMIT");
    }
}
