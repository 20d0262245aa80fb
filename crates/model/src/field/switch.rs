//! `switch`: a boolean; `"true"`, `"false"`, `1` and `0` are accepted too (spec 01 §3.10).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_bool(cfg, "defaultValue")
}

pub(super) fn parse(raw: &Value) -> Result<FieldValue, FieldError> {
    let b = match raw {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::Number(n) if n.as_i64() == Some(1) => true,
        Value::Number(n) if n.as_i64() == Some(0) => false,
        Value::String(s) if s == "true" || s == "1" => true,
        Value::String(s) if s == "false" || s == "0" || s.is_empty() => false,
        _ => return Err(FieldError::invalid("a switch value must be true or false")),
    };
    Ok(FieldValue::Bool(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn booleans() {
        assert_eq!(parse(&json!(true)), Ok(FieldValue::Bool(true)));
        assert_eq!(parse(&json!("false")), Ok(FieldValue::Bool(false)));
        assert_eq!(parse(&json!(1)), Ok(FieldValue::Bool(true)));
        assert!(parse(&json!("yes")).is_err());
        assert!(parse(&json!(2)).is_err());
    }
}
