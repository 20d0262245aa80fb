//! `address`: `{value, provider, data}` or null; `value` is a required string, `data` opaque
//! (spec 01 §3.17).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_string(cfg, "token")
}

pub(super) fn parse(raw: &Value) -> Result<FieldValue, FieldError> {
    match raw {
        Value::Null => Ok(FieldValue::Address(None)),
        Value::String(s) if s.is_empty() => Ok(FieldValue::Address(None)),
        Value::String(s) => Ok(FieldValue::Address(Some(Map::from_iter([
            ("value".to_string(), Value::String(s.clone())),
            ("provider".to_string(), Value::Null),
            ("data".to_string(), Value::Object(Map::new())),
        ])))),
        Value::Object(o) => {
            let value = match o.get("value") {
                Some(Value::String(s)) => s.clone(),
                _ => return Err(FieldError::invalid("an address needs a string value")),
            };
            if value.is_empty() {
                return Ok(FieldValue::Address(None));
            }
            let provider = match o.get("provider") {
                None | Some(Value::Null) => Value::Null,
                Some(Value::String(s)) => Value::String(s.clone()),
                Some(_) => return Err(FieldError::invalid("address provider must be a string")),
            };
            let data = match o.get("data") {
                None | Some(Value::Null) => Value::Object(Map::new()),
                Some(d @ Value::Object(_)) => d.clone(),
                Some(_) => return Err(FieldError::invalid("address data must be an object")),
            };
            Ok(FieldValue::Address(Some(Map::from_iter([
                ("value".to_string(), Value::String(value)),
                ("provider".to_string(), provider),
                ("data".to_string(), data),
            ]))))
        }
        _ => Err(FieldError::invalid(
            "an address is {\"value\", \"provider\", \"data\"}",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let v =
            parse(&json!({"value": "Moscow", "provider": "dadata", "data": {"x": 1}})).expect("ok");
        assert!(matches!(v, FieldValue::Address(Some(ref m)) if m["value"] == "Moscow"));
        assert!(parse(&json!({"provider": "x"})).is_err());
        assert_eq!(parse(&json!(null)), Ok(FieldValue::Address(None)));
        assert!(parse(&json!(5)).is_err());
    }
}
