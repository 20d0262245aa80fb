//! `checkboxes`: a set of ticks («Набор галочек»), always multi-valued (spec 01 §3.8).

use serde_json::{Map, Value};

use super::items;
use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(
    cfg: &mut Map<String, Value>,
    prev: Option<&Map<String, Value>>,
) -> Result<(), FieldError> {
    super::check_bool(cfg, "defaultValue")?;
    items::config_items(cfg, prev)
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    items::parse_items(raw, cfg, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn many_items() {
        let mut c = json!({"items": ["a", "b", "c"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config(&mut c, None).expect("valid");
        assert_eq!(
            parse(&json!([3, 1]), &c),
            Ok(FieldValue::Items(vec!["1".into(), "3".into()]))
        );
    }
}
