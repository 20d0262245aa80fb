//! Output target paths (spec 03 §5.2): `data.rows[i].values`, `data.temp.сотрудники`.

/// One step of a target path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A literal key: the variable name first, then `.key` steps (any characters but `.`,
    /// `[`, `]`).
    Key(String),
    /// `[expr]`: a JavaScript expression giving an array index (number) or a key (string).
    Expr(String),
}

/// Why a target is not a valid path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a valid variable path: {reason}")]
pub struct PathError {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses an output target. The empty string gives no segments: the result is discarded.
///
/// The path starts with a variable name, followed by `.key` and `[expr]` steps. Inside
/// brackets, nested brackets and quoted strings are skipped, so `a[b["]"]]` is one step.
pub fn parse_target(s: &str) -> Result<Vec<Segment>, PathError> {
    let fail = |reason| PathError {
        text: s.to_owned(),
        reason,
    };
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let key = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && !matches!(b[*i], '.' | '[' | ']') {
            *i += 1;
        }
        b[start..*i].iter().collect::<String>()
    };
    let first = key(&mut i);
    if first.is_empty() {
        return Err(fail("it must start with a variable name"));
    }
    out.push(Segment::Key(first));
    while i < b.len() {
        match b[i] {
            '.' => {
                i += 1;
                let k = key(&mut i);
                if k.is_empty() {
                    return Err(fail("an empty key after `.`"));
                }
                out.push(Segment::Key(k));
            }
            '[' => {
                i += 1;
                let start = i;
                let mut depth = 0usize;
                let mut quote: Option<char> = None;
                loop {
                    let Some(&c) = b.get(i) else {
                        return Err(fail("an unclosed `[`"));
                    };
                    match quote {
                        Some(q) => {
                            if c == '\\' {
                                i += 1;
                            } else if c == q {
                                quote = None;
                            }
                        }
                        None => match c {
                            '\'' | '"' | '`' => quote = Some(c),
                            '[' | '(' | '{' => depth += 1,
                            ')' | '}' => depth = depth.saturating_sub(1),
                            ']' if depth == 0 => break,
                            ']' => depth -= 1,
                            _ => {}
                        },
                    }
                    i += 1;
                }
                let expr: String = b[start..i].iter().collect();
                i += 1;
                if expr.trim().is_empty() {
                    return Err(fail("an empty `[]`"));
                }
                out.push(Segment::Expr(expr));
            }
            _ => return Err(fail("an unexpected `]`")),
        }
    }
    Ok(out)
}
