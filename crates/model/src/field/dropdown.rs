//! `dropdown`: the coloured status («Статус»); `multiselect` allows several items
//! (spec 01 §3.7).

use serde_json::{Map, Value};

use super::items;
use crate::error::FieldError;
use crate::value::FieldValue;

pub(super) fn config(
    cfg: &mut Map<String, Value>,
    prev: Option<&Map<String, Value>>,
) -> Result<(), FieldError> {
    super::check_bool(cfg, "multiselect")?;
    super::check_bool(cfg, "defaultValue")?;
    items::config_items(cfg, prev)
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    items::parse_items(raw, cfg, !super::multiselect(cfg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn single_unless_multiselect() {
        let mut c = json!({"items": [{"name": "a"}, {"name": "b"}]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config(&mut c, None).expect("valid");
        assert!(parse(&json!(["1", "2"]), &c).is_err());
        c.insert("multiselect".into(), json!(true));
        assert!(parse(&json!(["1", "2"]), &c).is_ok());
    }
}
