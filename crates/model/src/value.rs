//! Field values in their canonical, typed form: what a write is parsed into and what a read is
//! decoded from. References to other objects (users, linked records, files) are kept as the ids
//! the client sent until the core resolves them.

use serde_json::{Map, Value};

/// One field's value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// `text` (every subtype). Empty is `""`.
    Text(String),
    /// `number` and `progress`.
    Number(Option<f64>),
    /// `stars`.
    Int(Option<i64>),
    /// `date`, as epoch milliseconds UTC (a date without time is its calendar day's midnight UTC).
    Date(Option<i64>),
    /// `dropdown`, `checkboxes`, `radiobutton`: item ids in the order of the field's items.
    Items(Vec<String>),
    /// `switch`.
    Bool(bool),
    /// `user`: ids of `$users` records.
    Users(Vec<String>),
    /// `object`: linked records.
    Links(Vec<LinkRef>),
    /// `file`: attached files.
    Files(Vec<FileRef>),
    /// `contact`: phone, e-mail or site entries.
    Contacts(Vec<Contact>),
    /// `address`: `{value, provider, data}` or nothing.
    Address(Option<Map<String, Value>>),
}

/// A link to a record, as written: the catalog and record ids the client sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LinkRef {
    pub catalog_id: String,
    pub record_id: String,
}

/// A file in a `file` field's value, as written.
#[derive(Debug, Clone, PartialEq)]
pub enum FileRef {
    /// An uploaded or already attached file.
    Id(String),
    /// An external link; the server creates a file entry whose url is `src`.
    External {
        src: String,
        title: String,
        size: Option<i64>,
        mime_type: Option<String>,
    },
}

/// One contact entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub contact: String,
    pub comment: String,
}

impl FieldValue {
    /// True when the value counts as empty for `required` (spec 01 §4.4). `0` is a value;
    /// a switch always has one.
    pub fn is_empty(&self) -> bool {
        match self {
            FieldValue::Text(s) => s.trim().is_empty(),
            FieldValue::Number(n) => n.is_none(),
            FieldValue::Int(n) => n.is_none(),
            FieldValue::Date(d) => d.is_none(),
            FieldValue::Items(v) | FieldValue::Users(v) => v.is_empty(),
            FieldValue::Bool(_) => false,
            FieldValue::Links(v) => v.is_empty(),
            FieldValue::Files(v) => v.is_empty(),
            FieldValue::Contacts(v) => v.is_empty(),
            FieldValue::Address(a) => a.is_none(),
        }
    }
}

/// Renders a number the way JavaScript would: integral values without a fraction.
pub fn number_json(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Digits of a phone number for search, with the Russian trunk prefix `8` read as `7`
/// (spec 01 §3.16).
pub fn phone_digits(s: &str) -> String {
    let mut d: String = s.chars().filter(|c| c.is_ascii_digit()).collect();
    if d.len() == 11 && d.starts_with('8') {
        d.replace_range(0..1, "7");
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_like_javascript() {
        assert_eq!(number_json(3.0), Value::from(3));
        assert_eq!(number_json(120.5).to_string(), "120.5");
    }

    #[test]
    fn phone_digits_normalise() {
        assert_eq!(phone_digits("8 (900) 123-45-67"), "79001234567");
        assert_eq!(phone_digits("+7 900 123 4567"), "79001234567");
        assert_eq!(phone_digits("123"), "123");
    }

    #[test]
    fn emptiness() {
        assert!(FieldValue::Text("  ".into()).is_empty());
        assert!(!FieldValue::Number(Some(0.0)).is_empty());
        assert!(!FieldValue::Bool(false).is_empty());
        assert!(FieldValue::Items(vec![]).is_empty());
    }
}
