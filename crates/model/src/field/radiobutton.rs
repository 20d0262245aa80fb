//! `radiobutton`: single choice («Выбор значения»; with `display: "select"` the «Выпадающий
//! список»). Written as a scalar id or a one-element array, read as an array (spec 01 §3.9).

use serde_json::{Map, Value};

use super::items;
use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(
    cfg: &mut Map<String, Value>,
    prev: Option<&Map<String, Value>>,
) -> Result<(), FieldError> {
    super::check_bool(cfg, "defaultValue")?;
    super::check_string(cfg, "display")?;
    items::config_items(cfg, prev)
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    items::parse_items(raw, cfg, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalar_or_array() {
        let mut c = json!({"items": ["a", "b"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config(&mut c, None).expect("valid");
        assert_eq!(
            parse(&json!("2"), &c),
            Ok(FieldValue::Items(vec!["2".into()]))
        );
        assert_eq!(
            parse(&json!([2]), &c),
            Ok(FieldValue::Items(vec!["2".into()]))
        );
        assert!(parse(&json!([1, 2]), &c).is_err());
    }
}
