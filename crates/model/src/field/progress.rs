//! `progress`: a number from 0 to 100, fractions allowed (spec 01 §3.11).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(_cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    Ok(())
}

pub(super) fn parse(raw: &Value) -> Result<FieldValue, FieldError> {
    let n = super::number_input(raw, "a progress value")?;
    if let Some(n) = n {
        if !(0.0..=100.0).contains(&n) {
            return Err(FieldError::invalid("progress must be between 0 and 100"));
        }
    }
    Ok(FieldValue::Number(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn range() {
        assert_eq!(parse(&json!(55.5)), Ok(FieldValue::Number(Some(55.5))));
        assert_eq!(parse(&json!(0)), Ok(FieldValue::Number(Some(0.0))));
        assert!(parse(&json!(101)).is_err());
        assert!(parse(&json!(-1)).is_err());
    }
}
