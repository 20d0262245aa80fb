//! `stars`: an integer rating from 0 to 5 (spec 01 §3.12).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(_cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    Ok(())
}

pub(super) fn parse(raw: &Value) -> Result<FieldValue, FieldError> {
    match super::number_input(raw, "a stars value")? {
        None => Ok(FieldValue::Int(None)),
        Some(n) if n.fract() == 0.0 && (0.0..=5.0).contains(&n) => {
            Ok(FieldValue::Int(Some(n as i64)))
        }
        Some(_) => Err(FieldError::invalid(
            "stars must be a whole number from 0 to 5",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn range() {
        assert_eq!(parse(&json!(4)), Ok(FieldValue::Int(Some(4))));
        assert!(parse(&json!(4.5)).is_err());
        assert!(parse(&json!(6)).is_err());
        assert_eq!(parse(&json!(null)), Ok(FieldValue::Int(None)));
    }
}
