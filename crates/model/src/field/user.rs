//! `user`: employees, as `$users` record ids. Written `[{"id":"2"}]` or bare ids; read
//! `[{id,title,isRemoved}]` (spec 01 §3.13). Existence is checked by the core.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::ids::id_from_json;
use crate::value::FieldValue;

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_bool(cfg, "multiselect")?;
    super::check_bool(cfg, "defaultValue")?;
    super::check_bool(cfg, "subscribe")
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    let mut ids: Vec<String> = Vec::new();
    for v in super::list_input(raw) {
        let idv = match v {
            Value::Object(o) => o.get("id").unwrap_or(&Value::Null),
            v => v,
        };
        let id = id_from_json(idv).ok_or_else(|| {
            FieldError::invalid("a user value is a list of {\"id\": \"<userId>\"}")
        })?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if ids.len() > 1 && !super::multiselect(cfg) {
        return Err(FieldError::invalid("only one user may be chosen"));
    }
    Ok(FieldValue::Users(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms() {
        let single = Map::new();
        assert_eq!(
            parse(&json!([{"id": "2"}, {"id": 2}]), &single),
            Ok(FieldValue::Users(vec!["2".into()]))
        );
        assert!(parse(&json!(["1", "2"]), &single).is_err());
        assert!(parse(&json!([{"x": 1}]), &single).is_err());
    }
}
