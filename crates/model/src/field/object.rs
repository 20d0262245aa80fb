//! `object`: links to records of one or more catalogs (spec 01 §3.14). Written
//! `[{catalogId, recordId}]`; the core checks that catalogs are sources of the field and records
//! exist.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::ids::id_from_json;
use crate::value::{FieldValue, LinkRef};

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    for key in [
        "multiselect",
        "enableSelect",
        "accessOnly",
        "enableCreate",
        "enableUnsaved",
    ] {
        super::check_bool(cfg, key)?;
    }
    let cats = match cfg.get_mut("catalogs") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(FieldError::config(
                "an object field needs config.catalogs: [{\"id\": \"<catalogId>\"}]",
            ))
        }
    };
    for (i, c) in cats.iter_mut().enumerate() {
        let id = match &*c {
            Value::Object(o) => o.get("id").and_then(id_from_json),
            v => id_from_json(v),
        }
        .ok_or_else(|| FieldError::config(format!("config.catalogs[{i}].id is missing")))?;
        // Keep only the id here; titles, icons and flags are rendered on read.
        *c = Value::Object(Map::from_iter([("id".to_string(), Value::String(id))]));
    }
    match cfg.get("views") {
        None | Some(Value::Null) => {
            cfg.insert("views".into(), Value::Array(vec![]));
        }
        Some(Value::Array(_)) => {}
        Some(_) => return Err(FieldError::config("config.views must be an array")),
    }
    match cfg.get("fields") {
        None | Some(Value::Null) => {
            cfg.insert("fields".into(), Value::Object(Map::new()));
        }
        Some(Value::Object(_)) => {}
        Some(_) => return Err(FieldError::config("config.fields must be an object")),
    }
    Ok(())
}

/// The source catalog ids of an object field's config.
pub fn source_catalogs(cfg: &Map<String, Value>) -> Vec<String> {
    cfg.get("catalogs")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|c| c.get("id").and_then(id_from_json))
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    let mut links: Vec<LinkRef> = Vec::new();
    for v in super::list_input(raw) {
        let o = v.as_object().ok_or_else(|| {
            FieldError::invalid("a linked value is a list of {\"catalogId\", \"recordId\"}")
        })?;
        let catalog_id = o.get("catalogId").and_then(id_from_json);
        let record_id = o.get("recordId").and_then(id_from_json);
        let (Some(catalog_id), Some(record_id)) = (catalog_id, record_id) else {
            return Err(FieldError::invalid(
                "a linked value needs both catalogId and recordId",
            ));
        };
        let link = LinkRef {
            catalog_id,
            record_id,
        };
        if !links.contains(&link) {
            links.push(link);
        }
    }
    if links.len() > 1 && !super::multiselect(cfg) {
        return Err(FieldError::invalid("only one record may be linked"));
    }
    Ok(FieldValue::Links(links))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_needs_catalogs() {
        let mut c = Map::new();
        assert!(config(&mut c).is_err());
        let mut c = json!({"catalogs": [{"id": 5, "title": "x"}]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        config(&mut c).expect("valid");
        assert_eq!(source_catalogs(&c), vec!["5".to_string()]);
    }

    #[test]
    fn links_collapse_duplicates() {
        let c = Map::new();
        let v = parse(
            &json!([{"catalogId": 5, "recordId": "3"}, {"catalogId": "5", "recordId": 3}]),
            &c,
        );
        assert_eq!(
            v,
            Ok(FieldValue::Links(vec![LinkRef {
                catalog_id: "5".into(),
                record_id: "3".into()
            }]))
        );
        assert!(parse(&json!([{"catalogId": 5}]), &c).is_err());
        assert!(parse(&json!(["5"]), &c).is_err());
    }
}
