//! Item lists shared by `dropdown`, `checkboxes` and `radiobutton`: config normalisation (ids
//! assigned to new items, ids kept on update) and parsing of written item ids.

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::ids::{as_db_id, id_from_json, is_numeric};
use crate::value::FieldValue;

/// Normalises `config.items`: every item gets an `id` (next integer within the field), a
/// `dbId`, a string `name`; duplicates are rejected.
pub fn config_items(
    cfg: &mut Map<String, Value>,
    prev: Option<&Map<String, Value>>,
) -> Result<(), FieldError> {
    let items = match cfg.get_mut("items") {
        None | Some(Value::Null) => {
            cfg.insert("items".into(), Value::Array(vec![]));
            return Ok(());
        }
        Some(Value::Array(a)) => a,
        Some(_) => return Err(FieldError::config("config.items must be an array")),
    };
    // New ids continue above every numeric id of the stored and the written items.
    let mut next = 1;
    let prev_items = prev
        .and_then(|p| p.get("items"))
        .and_then(Value::as_array)
        .map(|a| a.as_slice())
        .unwrap_or(&[]);
    for it in prev_items.iter().chain(items.iter()) {
        if let Some(n) = it
            .get("id")
            .and_then(id_from_json)
            .and_then(|s| as_db_id(&s))
        {
            next = next.max(n + 1);
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, it) in items.iter_mut().enumerate() {
        let obj = match it {
            Value::Object(o) => o,
            Value::String(name) => {
                let name = std::mem::take(name);
                *it = Value::Object(Map::from_iter([("name".to_string(), Value::String(name))]));
                it.as_object_mut()
                    .ok_or_else(|| FieldError::config("item"))?
            }
            _ => {
                return Err(FieldError::config(format!(
                    "config.items[{i}] must be an object"
                )))
            }
        };
        let id = match obj.get("id") {
            None | Some(Value::Null) => {
                let id = next.to_string();
                next += 1;
                id
            }
            Some(v) => id_from_json(v)
                .ok_or_else(|| FieldError::config(format!("config.items[{i}].id is invalid")))?,
        };
        if !seen.insert(id.clone()) {
            return Err(FieldError::config(format!(
                "config.items has the id {id:?} twice"
            )));
        }
        match obj.get("name") {
            Some(Value::String(_)) => {}
            None | Some(Value::Null) => {
                obj.insert("name".into(), Value::String(String::new()));
            }
            Some(_) => {
                return Err(FieldError::config(format!(
                    "config.items[{i}].name must be a string"
                )))
            }
        }
        if let Some(c) = obj.get("color") {
            let ok = match c {
                Value::Null => true,
                Value::String(s) => {
                    s.is_empty() || (s.len() == 6 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                }
                _ => false,
            };
            if !ok {
                return Err(FieldError::config(format!(
                    "config.items[{i}].color must be 6 hex digits, like \"F9C2C2\""
                )));
            }
        }
        // A stored dbId stays (system items have text ids and numeric dbIds); otherwise an
        // all-digit id is its own dbId.
        let db_id = obj
            .get("dbId")
            .filter(|v| v.is_i64())
            .cloned()
            .or_else(|| {
                prev_items
                    .iter()
                    .find(|p| p.get("id").and_then(Value::as_str) == Some(id.as_str()))
                    .and_then(|p| p.get("dbId"))
                    .filter(|v| v.is_i64())
                    .cloned()
            })
            .or_else(|| as_db_id(&id).map(Value::from))
            .unwrap_or(Value::Null);
        obj.insert("id".into(), Value::String(id));
        obj.insert("dbId".into(), db_id);
    }
    Ok(())
}

/// The item ids of a field's config, in order.
pub fn item_ids(cfg: &Map<String, Value>) -> Vec<&str> {
    cfg.get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|it| it.get("id").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

/// The first item's id, as a one-element list (the `defaultValue` of item fields).
pub fn first_item(cfg: &Map<String, Value>) -> Vec<String> {
    item_ids(cfg)
        .first()
        .map(|s| vec![s.to_string()])
        .unwrap_or_default()
}

/// Parses written item ids: an array of ids (strings or numbers) or a single id. Unknown ids
/// are rejected; the result is in config order without duplicates. `max_one` enforces single
/// choice.
pub fn parse_items(
    raw: &Value,
    cfg: &Map<String, Value>,
    max_one: bool,
) -> Result<FieldValue, FieldError> {
    let known = item_ids(cfg);
    let mut chosen = vec![false; known.len()];
    for v in super::list_input(raw) {
        let v = match v {
            Value::Object(o) => o.get("id").unwrap_or(&Value::Null),
            v => v,
        };
        let id = id_from_json(v)
            .ok_or_else(|| FieldError::invalid("item ids must be strings or numbers"))?;
        let pos = known.iter().position(|k| *k == id).or_else(|| {
            // An all-digit id may also name an item by its dbId (spec 02 §1.8).
            if is_numeric(&id) {
                cfg.get("items")?.as_array()?.iter().position(|it| {
                    it.get("dbId")
                        .and_then(Value::as_i64)
                        .map(|d| d.to_string())
                        == Some(id.clone())
                })
            } else {
                None
            }
        });
        match pos {
            Some(p) => chosen[p] = true,
            None => return Err(FieldError::invalid(format!("unknown item id {id:?}"))),
        }
    }
    let ids: Vec<String> = known
        .iter()
        .zip(chosen)
        .filter(|(_, c)| *c)
        .map(|(k, _)| k.to_string())
        .collect();
    if max_one && ids.len() > 1 {
        return Err(FieldError::invalid("only one item may be chosen"));
    }
    Ok(FieldValue::Items(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cfg(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn new_items_get_ids_and_old_ids_stay() {
        let mut c = cfg(json!({"items": [{"name": "New"}, {"name": "Won", "color": "C9FDE5"}]}));
        config_items(&mut c, None).expect("valid");
        assert_eq!(item_ids(&c), vec!["1", "2"]);
        let prev = c.clone();
        let mut c2 = cfg(json!({"items": [{"id": "2", "name": "Won"}, {"name": "Lost"}]}));
        config_items(&mut c2, Some(&prev)).expect("valid");
        assert_eq!(item_ids(&c2), vec!["2", "3"]);
        // A new item never takes the id of an item stored before.
        let prev = c2.clone();
        let mut c3 = cfg(json!({"items": [{"name": "Again"}]}));
        config_items(&mut c3, Some(&prev)).expect("valid");
        assert_eq!(item_ids(&c3), vec!["4"]);
    }

    #[test]
    fn system_item_db_ids_survive_updates() {
        let mut c = cfg(
            json!({"items": [{"id": "$on", "dbId": 1, "name": "On"}, {"id": "$off", "dbId": 2}]}),
        );
        config_items(&mut c, None).expect("valid");
        let prev = c.clone();
        let mut c2 =
            cfg(json!({"items": [{"id": "$off", "name": "Off"}, {"id": "$on", "name": "On"}]}));
        config_items(&mut c2, Some(&prev)).expect("valid");
        let db_ids: Vec<Value> = c2["items"]
            .as_array()
            .map(|a| a.iter().map(|i| i["dbId"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(db_ids, vec![json!(2), json!(1)]);
    }

    #[test]
    fn bad_items_are_rejected() {
        let mut c = cfg(json!({"items": [{"id": "1"}, {"id": 1}]}));
        assert!(config_items(&mut c, None).is_err());
        let mut c = cfg(json!({"items": [{"color": "red"}]}));
        assert!(config_items(&mut c, None).is_err());
        let mut c = cfg(json!({"items": 5}));
        assert!(config_items(&mut c, None).is_err());
    }

    #[test]
    fn parse_keeps_config_order() {
        let mut c = cfg(json!({"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}));
        config_items(&mut c, None).expect("valid");
        assert_eq!(
            parse_items(&json!(["3", 1, "3"]), &c, false),
            Ok(FieldValue::Items(vec!["1".into(), "3".into()]))
        );
        assert_eq!(
            parse_items(&json!(2), &c, true),
            Ok(FieldValue::Items(vec!["2".into()]))
        );
        assert!(parse_items(&json!(["1", "2"]), &c, true).is_err());
        assert!(parse_items(&json!(["9"]), &c, false).is_err());
        assert_eq!(
            parse_items(&json!(null), &c, false),
            Ok(FieldValue::Items(vec![]))
        );
    }
}
