//! Source text handling on the Rust side: which variables an expression may mention, the
//! wrappers that turn an expression or a function body into a function, and `${…}` templates.

/// Words that can never be a parameter name (ES reserved words, strict-mode reserved words, and
/// names whose shadowing would only confuse: `arguments`, `eval`, `undefined`, …).
const RESERVED: &[&str] = &[
    "arguments",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "debugger",
    "default",
    "delete",
    "do",
    "else",
    "enum",
    "eval",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "function",
    "if",
    "implements",
    "import",
    "in",
    "Infinity",
    "instanceof",
    "interface",
    "let",
    "NaN",
    "new",
    "null",
    "package",
    "private",
    "protected",
    "public",
    "return",
    "static",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "with",
    "yield",
];

fn ident_start(c: char) -> bool {
    c == '_' || c == '$' || c.is_ascii_alphabetic() || (!c.is_ascii() && c.is_alphabetic())
}

fn ident_part(c: char) -> bool {
    ident_start(c) || c.is_ascii_digit() || (!c.is_ascii() && c.is_alphanumeric())
}

/// True when `name` can be bound as a parameter: an identifier that is not reserved.
pub(crate) fn is_bindable(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if ident_start(c) => {}
        _ => return false,
    }
    chars.all(ident_part) && !RESERVED.contains(&name)
}

/// Every identifier-like word of `src`. An over-approximation (words inside strings and after
/// dots count too), which is all the variable selection needs: a variable that is passed but
/// not used costs only its JSON.
pub(crate) fn words(src: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in src.char_indices() {
        match start {
            None if ident_start(c) => start = Some(i),
            Some(s) if !ident_part(c) => {
                out.push(&src[s..i]);
                start = if ident_start(c) { Some(i) } else { None };
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(&src[s..]);
    }
    out
}

/// The script that evaluates to the function of an expression. An arrow function: it has no
/// `arguments`, `this` or `prototype` of its own that user code could keep state on.
pub(crate) fn expression_wrapper(params: &[&str], expr: &str) -> String {
    format!("(({}) => (\n{}\n))", params.join(","), expr)
}

/// Like [`expression_wrapper`], returning the expression's truthiness.
pub(crate) fn condition_wrapper(params: &[&str], expr: &str) -> String {
    format!("(({}) => !!(\n{}\n))", params.join(","), expr)
}

/// The script that evaluates to the function of a Code component body.
pub(crate) fn body_wrapper(params: &[&str], body: &str) -> String {
    format!("(({}) => {{\n{}\n}})", params.join(","), body)
}

/// The two module texts an expression must compile as: once in parentheses, once in brackets.
/// Text that closes the wrapper's parenthesis to smuggle statements after it cannot also be a
/// valid element list, so an escape fails one of the two.
pub(crate) fn expression_checks(expr: &str) -> [String; 2] {
    [
        format!("export default () => (\n{expr}\n);"),
        format!("export default () => [\n{expr}\n];"),
    ]
}

/// The two module texts a function body must compile as: in the function's braces, and inside
/// one more block, so that a stray `}` closing the function fails one of the two.
pub(crate) fn body_checks(body: &str) -> [String; 2] {
    [
        format!("export default () => {{\n{body}\n}};"),
        format!("export default () => {{{{\n{body}\n}}}};"),
    ]
}

/// Largest magnitude an integer literal or variable may have to be answered without the
/// engine: beyond 2^53 JavaScript's numbers would round it.
const SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The value of an expression that needs no JavaScript: a bare variable holding a string, a
/// boolean, null or a safe integer; a decimal integer literal; a quoted string without escapes;
/// `true`, `false`, `null` or `undefined`. `None` when the expression is anything else, and
/// then the engine must evaluate it. The answers are exactly what the engine's round trip
/// (JSON in, `JSON.stringify` out) gives; values whose round trip could change them (floats,
/// objects, arrays) are left to the engine.
pub(crate) fn plain_value(
    expr: &str,
    vars: &serde_json::Map<String, serde_json::Value>,
) -> Option<Option<serde_json::Value>> {
    use serde_json::Value;
    let e = expr.trim();
    match e {
        "true" => return Some(Some(Value::Bool(true))),
        "false" => return Some(Some(Value::Bool(false))),
        "null" => return Some(Some(Value::Null)),
        "undefined" => return Some(None),
        _ => {}
    }
    if let Some(v) = integer_literal(e) {
        return Some(Some(v));
    }
    if let Some(s) = string_literal(e) {
        return Some(Some(Value::String(s.to_owned())));
    }
    if !is_bindable(e) {
        return None;
    }
    match vars.get(e)? {
        v @ (Value::String(_) | Value::Bool(_) | Value::Null) => Some(Some(v.clone())),
        Value::Number(n) => {
            let safe = match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => u <= SAFE_INTEGER,
                (None, Some(i)) => i.unsigned_abs() <= SAFE_INTEGER,
                _ => false,
            };
            safe.then(|| Some(Value::Number(n.clone())))
        }
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// `0`, `42`, `-7`: no leading zeros (`010` is octal in sloppy JavaScript), no `-0` (which
/// JSON writes as `0`), at most 15 digits.
fn integer_literal(e: &str) -> Option<serde_json::Value> {
    let (negative, digits) = match e.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, e),
    };
    let plain = !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'));
    if !plain || (negative && digits == "0") {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    Some(if negative {
        serde_json::Value::from(-n)
    } else {
        serde_json::Value::from(n.unsigned_abs())
    })
}

/// The text of `'…'` or `"…"` with no backslash, no quote of its kind and no control
/// character inside.
fn string_literal(e: &str) -> Option<&str> {
    let q = e.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let inner = e.strip_prefix(q)?.strip_suffix(q)?;
    (e.len() >= 2 && !inner.contains([q, '\\']) && !inner.chars().any(char::is_control))
        .then_some(inner)
}

/// Turns a key text with `${expr}` parts into a JavaScript template literal. Literal parts get
/// backslashes and backticks escaped; the `${…}` parts are copied as they are, up to the brace
/// that closes them (braces inside string literals do not count).
pub(crate) fn template_literal(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push_str("${");
                let mut depth = 0usize;
                let mut quote: Option<char> = None;
                let mut closed = false;
                while let Some(c) = chars.next() {
                    out.push(c);
                    if let Some(q) = quote {
                        if c == '\\' {
                            if let Some(n) = chars.next() {
                                out.push(n);
                            }
                        } else if c == q {
                            quote = None;
                        }
                        continue;
                    }
                    match c {
                        '"' | '\'' | '`' => quote = Some(c),
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            closed = true;
                            break;
                        }
                        '}' => depth -= 1,
                        _ => {}
                    }
                }
                if !closed {
                    return Err("SyntaxError: unterminated ${ in template".to_owned());
                }
            }
            c => out.push(c),
        }
    }
    out.push('`');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindable_names() {
        assert!(is_bindable("recordId"));
        assert!(is_bindable("$status"));
        assert!(is_bindable("_x1"));
        assert!(!is_bindable("1x"));
        assert!(!is_bindable("a-b"));
        assert!(!is_bindable("class"));
        assert!(!is_bindable(""));
    }

    #[test]
    fn words_of_expression() {
        assert_eq!(
            words("r.values['4'][0].recordId + $x*2"),
            vec!["r", "values", "recordId", "$x"]
        );
        assert_eq!(words("a"), vec!["a"]);
    }

    #[test]
    fn plain_values_need_no_engine() {
        use serde_json::{json, Value};
        let vars = json!({
            "recordId": "17", "n": 5, "neg": -3, "big": 9_007_199_254_740_993u64,
            "f": 1.5, "b": true, "z": null, "o": {"a": 1}, "class": "x"
        });
        let vars = vars.as_object().expect("an object");
        let plain = |e: &str| plain_value(e, vars);
        assert_eq!(plain(" recordId "), Some(Some(json!("17"))));
        assert_eq!(plain("n"), Some(Some(json!(5))));
        assert_eq!(plain("neg"), Some(Some(json!(-3))));
        assert_eq!(plain("b"), Some(Some(json!(true))));
        assert_eq!(plain("z"), Some(Some(Value::Null)));
        assert_eq!(plain("42"), Some(Some(json!(42))));
        assert_eq!(plain("-7"), Some(Some(json!(-7))));
        assert_eq!(plain("0"), Some(Some(json!(0))));
        assert_eq!(plain("'a b'"), Some(Some(json!("a b"))));
        assert_eq!(plain("\"\""), Some(Some(json!(""))));
        assert_eq!(plain("undefined"), Some(None));
        assert_eq!(plain("true"), Some(Some(json!(true))));
        // Left to the engine: what its round trip could change, what is not a plain value,
        // and names that are not variables.
        for e in [
            "big",
            "f",
            "o",
            "class",
            "missing",
            "_",
            "010",
            "-0",
            "1.5",
            "1e3",
            "1234567890123456",
            "'a\\nb'",
            "'a'b'",
            "'",
            "\"a'",
            "a.b",
            "n + 1",
            "",
        ] {
            assert_eq!(plain(e), None, "{e}");
        }
    }

    #[test]
    fn template_literal_escapes_text_only() {
        assert_eq!(template_literal("a`b\\c").expect("a value"), "`a\\`b\\\\c`");
        assert_eq!(
            template_literal("${ {a:1}.a }$x").expect("a value"),
            "`${ {a:1}.a }$x`"
        );
        assert_eq!(template_literal("${ '}' }").expect("a value"), "`${ '}' }`");
        assert!(template_literal("${ a").is_err());
    }
}
