//! Just enough of JavaScript's lexical structure to read scenario expressions without running
//! them: which parts are string literals, whether the whole expression is one literal (or a
//! concatenation of literals), and which variables it names. Anything the lexer does not
//! understand makes the expression dynamic, never literal, so a misread errs towards
//! "undetermined".

/// A token of an expression.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A quoted string, its value unescaped.
    Str(String),
    /// A template literal: static text and `${…}` expressions.
    Template(Vec<TplPart>),
    /// A number literal as written.
    Number(String),
    /// A name.
    Ident(String),
    /// Any other character (operators, brackets, punctuation).
    Punct(char),
}

#[derive(Debug, Clone, PartialEq)]
enum TplPart {
    Text(String),
    Expr(Vec<Token>),
}

/// What an expression is made of, as far as the analysis cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shape {
    /// The value when the expression is only string literals joined by `+` (or one number).
    pub literal: Option<String>,
    /// The text of every string literal and of the static parts of templates, in order.
    pub literal_parts: Vec<String>,
    /// The static text the value starts with, when it starts with a literal.
    pub prefix: Option<String>,
    /// Variables the expression reads (root names; property names after `.` are not).
    pub variables: Vec<String>,
}

/// Reads an expression. An expression the lexer cannot read has no literal value.
pub fn shape(src: &str) -> Shape {
    let Some(tokens) = lex(src) else {
        return Shape::default();
    };
    let mut out = Shape::default();
    collect(&tokens, &mut out);
    out.literal = literal_value(&tokens);
    out.prefix = match tokens.first() {
        Some(Token::Str(s)) => Some(s.clone()),
        Some(Token::Template(parts)) => match parts.first() {
            Some(TplPart::Text(t)) => Some(t.clone()),
            _ => None,
        },
        _ => None,
    };
    out
}

/// The value of an expression made only of string literals joined by `+` (parentheses
/// allowed), or of a single number literal.
fn literal_value(tokens: &[Token]) -> Option<String> {
    if let [Token::Number(n)] = tokens {
        return Some(n.clone());
    }
    let mut value = String::new();
    let mut any = false;
    let mut expect_operand = true;
    for t in tokens {
        match t {
            Token::Punct('(' | ')') => {}
            Token::Punct('+') if !expect_operand => expect_operand = true,
            Token::Str(s) if expect_operand => {
                value.push_str(s);
                any = true;
                expect_operand = false;
            }
            Token::Template(parts) if expect_operand => {
                for p in parts {
                    match p {
                        TplPart::Text(s) => value.push_str(s),
                        TplPart::Expr(_) => return None,
                    }
                }
                any = true;
                expect_operand = false;
            }
            _ => return None,
        }
    }
    (any && !expect_operand).then_some(value)
}

const NOT_VARIABLES: &[&str] = &[
    "typeof",
    "instanceof",
    "new",
    "in",
    "of",
    "true",
    "false",
    "null",
    "undefined",
    "this",
    "void",
    "delete",
    "function",
    "return",
    "let",
    "const",
    "var",
];

fn collect(tokens: &[Token], out: &mut Shape) {
    let mut after_dot = false;
    for t in tokens {
        match t {
            Token::Str(s) => out.literal_parts.push(s.clone()),
            Token::Template(parts) => {
                for p in parts {
                    match p {
                        TplPart::Text(s) => out.literal_parts.push(s.clone()),
                        TplPart::Expr(inner) => collect(inner, out),
                    }
                }
            }
            Token::Ident(name)
                if !after_dot
                    && !NOT_VARIABLES.contains(&name.as_str())
                    && !out.variables.contains(name) =>
            {
                out.variables.push(name.clone());
            }
            _ => {}
        }
        after_dot = matches!(t, Token::Punct('.'));
    }
}

/// Names whose values were numeric ids of catalogs, sections or fields before 2.0.
const ID_NAMES: &[&str] = &["catalogId", "sectionId", "fieldId"];

/// The places of an expression that look like Bpium 1.x numeric ids written into the code,
/// as the analysis reports them (spec 02 §3.3, the hints column): a property read with a
/// number key (`values['1']`, `values[2]`) and a comparison of `catalogId`, `sectionId` or
/// `fieldId` with a number (`catalogId == '3'`). Empty when the expression cannot be read.
pub fn legacy_ids(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(tokens) = lex(src) {
        legacy_in(&tokens, &mut out);
    }
    out
}

fn digits(t: &Token) -> Option<String> {
    let (s, quoted) = match t {
        Token::Str(s) => (s.as_str(), true),
        Token::Number(n) => (n.as_str(), false),
        _ => return None,
    };
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_digit())).then(|| {
        if quoted {
            format!("'{s}'")
        } else {
            s.to_owned()
        }
    })
}

/// `==`, `===`, `!=` or `!==` starting at `i`: its text and length in tokens.
fn equality(tokens: &[Token], i: usize) -> Option<(String, usize)> {
    let p = |k: usize| match tokens.get(i + k) {
        Some(Token::Punct(c)) => Some(*c),
        _ => None,
    };
    let first = p(0).filter(|c| *c == '=' || *c == '!')?;
    if p(1) != Some('=') {
        return None;
    }
    let n = if p(2) == Some('=') { 3 } else { 2 };
    Some((format!("{first}{}", "=".repeat(n - 1)), n))
}

fn legacy_in(tokens: &[Token], out: &mut Vec<String>) {
    let mut push = |h: String| {
        if !out.contains(&h) {
            out.push(h);
        }
    };
    let mut nested = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if let Token::Template(parts) = t {
            for p in parts {
                if let TplPart::Expr(inner) = p {
                    nested.push(inner);
                }
            }
        }
        // `name['1']`, `x[2]`: a number key.
        if let (Some(Token::Punct('[')), Some(key), Some(Token::Punct(']'))) = (
            tokens.get(i + 1),
            tokens.get(i + 2).and_then(digits),
            tokens.get(i + 3),
        ) {
            let owner = match t {
                Token::Ident(name) => Some(name.clone()),
                Token::Punct(']' | ')') => Some("…".to_owned()),
                _ => None,
            };
            if let Some(owner) = owner {
                push(format!("{owner}[{key}]"));
            }
        }
        // `catalogId == '3'` and `'3' == catalogId`.
        if let Token::Ident(name) = t {
            if ID_NAMES.contains(&name.as_str()) {
                if let Some((op, n)) = equality(tokens, i + 1) {
                    if let Some(v) = tokens.get(i + 1 + n).and_then(digits) {
                        push(format!("{name} {op} {v}"));
                    }
                }
            }
        }
        if let Some(v) = digits(t) {
            if let Some((op, n)) = equality(tokens, i + 1) {
                if let Some(Token::Ident(name)) = tokens.get(i + 1 + n) {
                    if ID_NAMES.contains(&name.as_str()) {
                        push(format!("{v} {op} {name}"));
                    }
                }
            }
        }
    }
    for inner in nested {
        legacy_in(inner, out);
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c == '$' || c.is_alphabetic()
}

fn is_ident_char(c: char) -> bool {
    is_ident_start(c) || c.is_alphanumeric()
}

/// Splits an expression into tokens; `None` when a string or template is not closed.
fn lex(src: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = src.chars().collect();
    let mut pos = 0;
    let tokens = lex_until(&chars, &mut pos, false)?;
    Some(tokens)
}

/// Lexes until the end, or (inside `${…}`) until the brace that closes it.
fn lex_until(chars: &[char], pos: &mut usize, in_template: bool) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            c if c.is_whitespace() => *pos += 1,
            '/' if chars.get(*pos + 1) == Some(&'/') => {
                while *pos < chars.len() && chars[*pos] != '\n' {
                    *pos += 1;
                }
            }
            '/' if chars.get(*pos + 1) == Some(&'*') => {
                *pos += 2;
                while *pos + 1 < chars.len() && !(chars[*pos] == '*' && chars[*pos + 1] == '/') {
                    *pos += 1;
                }
                *pos += 2;
            }
            '\'' | '"' => out.push(Token::Str(quoted(chars, pos, c)?)),
            '`' => out.push(Token::Template(template(chars, pos)?)),
            c if c.is_ascii_digit() => {
                let start = *pos;
                while *pos < chars.len()
                    && (chars[*pos].is_ascii_alphanumeric() || chars[*pos] == '.')
                {
                    *pos += 1;
                }
                out.push(Token::Number(chars[start..*pos].iter().collect()));
            }
            c if is_ident_start(c) => {
                let start = *pos;
                while *pos < chars.len() && is_ident_char(chars[*pos]) {
                    *pos += 1;
                }
                out.push(Token::Ident(chars[start..*pos].iter().collect()));
            }
            '{' => {
                depth += 1;
                *pos += 1;
                out.push(Token::Punct('{'));
            }
            '}' if in_template && depth == 0 => {
                *pos += 1;
                return Some(out);
            }
            '}' => {
                depth = depth.saturating_sub(1);
                *pos += 1;
                out.push(Token::Punct('}'));
            }
            c => {
                *pos += 1;
                out.push(Token::Punct(c));
            }
        }
    }
    // A `${` without its closing brace.
    (!in_template).then_some(out)
}

/// A quoted string starting at `pos` (on the quote); leaves `pos` after the closing quote.
fn quoted(chars: &[char], pos: &mut usize, quote: char) -> Option<String> {
    *pos += 1;
    let mut s = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        *pos += 1;
        match c {
            '\\' => {
                let e = *chars.get(*pos)?;
                *pos += 1;
                s.push(unescape(e));
            }
            c if c == quote => return Some(s),
            c => s.push(c),
        }
    }
    None
}

fn unescape(e: char) -> char {
    match e {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        other => other,
    }
}

/// A template literal starting at `pos` (on the backtick).
fn template(chars: &[char], pos: &mut usize) -> Option<Vec<TplPart>> {
    *pos += 1;
    let mut parts = Vec::new();
    let mut text = String::new();
    while *pos < chars.len() {
        let c = chars[*pos];
        match c {
            '\\' => {
                let e = *chars.get(*pos + 1)?;
                text.push(unescape(e));
                *pos += 2;
            }
            '`' => {
                *pos += 1;
                if !text.is_empty() {
                    parts.push(TplPart::Text(text));
                }
                return Some(parts);
            }
            '$' if chars.get(*pos + 1) == Some(&'{') => {
                *pos += 2;
                if !text.is_empty() {
                    parts.push(TplPart::Text(std::mem::take(&mut text)));
                }
                parts.push(TplPart::Expr(lex_until(chars, pos, true)?));
            }
            c => {
                text.push(c);
                *pos += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_id_hints() {
        assert_eq!(
            legacy_ids("values['1'] + data.values[2] + x['name'] + `${rec.values[\"3\"]}`"),
            vec!["values['1']", "values[2]", "values['3']"]
        );
        assert_eq!(
            legacy_ids("catalogId == '3' && item.sectionId !== 2 || 5 === fieldId || catalogId == '$users'"),
            vec!["catalogId == '3'", "sectionId !== 2", "5 === fieldId"]
        );
        assert!(legacy_ids("a[i] + b['1x'] + 'unclosed").is_empty());
    }

    #[test]
    fn literals() {
        assert_eq!(shape("'48'").literal.as_deref(), Some("48"));
        assert_eq!(shape(" \"$users\" ").literal.as_deref(), Some("$users"));
        assert_eq!(shape("74").literal.as_deref(), Some("74"));
        assert_eq!(shape("`/api/v1/x`").literal.as_deref(), Some("/api/v1/x"));
        assert_eq!(
            shape("'/api/v1/' + (\"catalogs\")").literal.as_deref(),
            Some("/api/v1/catalogs")
        );
        assert_eq!(shape("catalogId").literal, None);
        assert_eq!(shape("'a' + b").literal, None);
        assert_eq!(shape("'a' 'b'").literal, None);
        assert_eq!(shape("'open").literal, None);
        assert_eq!(shape("").literal, None);
    }

    #[test]
    fn parts_prefix_and_variables() {
        let s = shape("`https://api.example.com/v2/${path}?k=${key.value}` + suffix");
        assert_eq!(s.literal, None);
        assert_eq!(s.prefix.as_deref(), Some("https://api.example.com/v2/"));
        assert_eq!(s.literal_parts, vec!["https://api.example.com/v2/", "?k="]);
        assert_eq!(s.variables, vec!["path", "key", "suffix"]);
        let s = shape("typeof rec !== 'undefined' ? rec.values['1'] : other.x");
        assert_eq!(s.variables, vec!["rec", "other"]);
        assert_eq!(s.prefix, None);
        let s = shape("_.get(users, '0.values')");
        assert_eq!(s.variables, vec!["_", "users"]);
    }
}
