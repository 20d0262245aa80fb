//! `number`: a JSON number (or numeric string), with optional inclusive `min` / `max` and a
//! display-only `unit` (spec 01 §3.5).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_string(cfg, "unit")?;
    for key in ["min", "max"] {
        match cfg.get(key) {
            None | Some(Value::Null) | Some(Value::Number(_)) => {}
            Some(_) => return Err(FieldError::config(format!("config.{key} must be a number"))),
        }
    }
    if let (Some(min), Some(max)) = (bound(cfg, "min"), bound(cfg, "max")) {
        if min > max {
            return Err(FieldError::config("config.min is greater than config.max"));
        }
    }
    Ok(())
}

fn bound(cfg: &Map<String, Value>, key: &str) -> Option<f64> {
    cfg.get(key).and_then(Value::as_f64)
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    let n = super::number_input(raw, "a number value")?;
    if let Some(n) = n {
        if let Some(min) = bound(cfg, "min") {
            if n < min {
                return Err(FieldError::invalid(format!(
                    "the value must be at least {min}"
                )));
            }
        }
        if let Some(max) = bound(cfg, "max") {
            if n > max {
                return Err(FieldError::invalid(format!(
                    "the value must be at most {max}"
                )));
            }
        }
    }
    Ok(FieldValue::Number(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_and_bounds() {
        let mut c = json!({"min": -5, "max": 10})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config(&mut c).expect("valid");
        assert_eq!(parse(&json!(3.5), &c), Ok(FieldValue::Number(Some(3.5))));
        assert_eq!(parse(&json!("-2"), &c), Ok(FieldValue::Number(Some(-2.0))));
        assert_eq!(parse(&json!(null), &c), Ok(FieldValue::Number(None)));
        assert_eq!(parse(&json!(""), &c), Ok(FieldValue::Number(None)));
        assert!(parse(&json!(11), &c).is_err());
        assert!(parse(&json!("abc"), &c).is_err());
        assert!(parse(&json!([1]), &c).is_err());
        let mut bad = json!({"min": 3, "max": 1})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(config(&mut bad).is_err());
    }
}
