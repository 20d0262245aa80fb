//! `text`: single line (max 256 characters), multiline, mask, rich text (`editor`) and the plain
//! string variants `mail`, `phone`, `site` (spec 01 §3.4).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

const SUBTYPES: [&str; 7] = [
    "text",
    "multiline",
    "mask",
    "mail",
    "phone",
    "site",
    "editor",
];
/// The limit of single-line text (DOC tekst.md).
pub const SINGLE_LINE_MAX: usize = 256;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    match cfg.get("type") {
        None | Some(Value::Null) => {
            cfg.insert("type".into(), Value::String("text".into()));
        }
        Some(Value::String(t)) if SUBTYPES.contains(&t.as_str()) => {}
        Some(other) => {
            return Err(FieldError::config(format!(
                "config.type of a text field must be one of {SUBTYPES:?}, got {other}"
            )))
        }
    }
    super::check_string(cfg, "mask")?;
    if subtype(cfg) == "mask" && mask(cfg).is_empty() {
        return Err(FieldError::config("a mask text field needs config.mask"));
    }
    Ok(())
}

fn subtype(cfg: &Map<String, Value>) -> &str {
    cfg.get("type").and_then(Value::as_str).unwrap_or("text")
}

fn mask(cfg: &Map<String, Value>) -> &str {
    cfg.get("mask").and_then(Value::as_str).unwrap_or("")
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    let s = match raw {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return Err(FieldError::invalid("a text value must be a string")),
    };
    let sub = subtype(cfg);
    if matches!(sub, "text" | "mask" | "mail" | "phone" | "site")
        && s.chars().count() > SINGLE_LINE_MAX
    {
        return Err(FieldError::invalid(format!(
            "single-line text is limited to {SINGLE_LINE_MAX} characters"
        )));
    }
    if sub == "mask" && !s.is_empty() && !matches_mask(&s, mask(cfg)) {
        return Err(FieldError::invalid(format!(
            "the value does not match the mask {:?}",
            mask(cfg)
        )));
    }
    Ok(FieldValue::Text(s))
}

/// Mask characters: `1` digit, `A` upper-case letter, `a` lower-case letter, `*` letter or digit,
/// `#` upper-case letter or digit, `\` makes the next character literal; others are literals.
pub fn matches_mask(value: &str, mask: &str) -> bool {
    let mut m = mask.chars();
    let mut v = value.chars();
    loop {
        let (mc, literal) = match m.next() {
            Some('\\') => match m.next() {
                Some(c) => (c, true),
                None => return v.next().is_none(),
            },
            Some(c) => (c, false),
            None => return v.next().is_none(),
        };
        let Some(vc) = v.next() else { return false };
        let ok = if literal {
            vc == mc
        } else {
            match mc {
                '1' => vc.is_ascii_digit(),
                'A' => vc.is_alphabetic() && vc.is_uppercase(),
                'a' => vc.is_alphabetic() && vc.is_lowercase(),
                '*' => vc.is_alphanumeric(),
                '#' => vc.is_ascii_digit() || (vc.is_alphabetic() && vc.is_uppercase()),
                c => vc == c,
            }
        };
        if !ok {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Map<String, Value> {
        let mut c = v.as_object().cloned().unwrap_or_default();
        config(&mut c).expect("valid config");
        c
    }

    #[test]
    fn single_line_limit() {
        let c = cfg(json!({}));
        assert!(parse(&json!("x".repeat(256)), &c).is_ok());
        assert!(parse(&json!("x".repeat(257)), &c).is_err());
        let m = cfg(json!({"type": "multiline"}));
        assert!(parse(&json!("x".repeat(5000)), &m).is_ok());
        assert_eq!(parse(&json!(12), &c), Ok(FieldValue::Text("12".into())));
        assert!(parse(&json!({"a": 1}), &c).is_err());
    }

    #[test]
    fn masks() {
        assert!(matches_mask("+7 (900) 123", "+1 (111) 111"));
        assert!(matches_mask("AB-12", "AA-11"));
        assert!(!matches_mask("ab-12", "AA-11"));
        assert!(matches_mask("A1", "\\A1"));
        assert!(!matches_mask("B1", "\\A1"));
        let c = cfg(json!({"type": "mask", "mask": "111"}));
        assert!(parse(&json!("123"), &c).is_ok());
        assert!(parse(&json!("12a"), &c).is_err());
        assert!(parse(&json!(""), &c).is_ok());
        let mut bad = json!({"type": "bogus"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(config(&mut bad).is_err());
    }
}
