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
