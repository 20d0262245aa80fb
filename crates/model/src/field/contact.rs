//! `contact`: phone, e-mail or site entries `[{contact, comment}]`; entries with an empty
//! contact are dropped (spec 01 §3.16).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::{Contact, FieldValue};

const SUBTYPES: [&str; 3] = ["phone", "mail", "site"];

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    match cfg.get("type") {
        None | Some(Value::Null) => {
            cfg.insert("type".into(), Value::String("phone".into()));
            Ok(())
        }
        Some(Value::String(t)) if SUBTYPES.contains(&t.as_str()) => Ok(()),
        Some(_) => Err(FieldError::config(format!(
            "config.type of a contact field must be one of {SUBTYPES:?}"
        ))),
    }
}

pub(super) fn parse(raw: &Value) -> Result<FieldValue, FieldError> {
    let mut out = Vec::new();
    for v in super::list_input(raw) {
        let (contact, comment) = match v {
            Value::String(s) => (s.clone(), String::new()),
            Value::Object(o) => {
                let contact = match o.get("contact") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    None | Some(Value::Null) => String::new(),
                    Some(_) => return Err(FieldError::invalid("contact must be a string")),
                };
                let comment = match o.get("comment") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => String::new(),
                    Some(_) => return Err(FieldError::invalid("comment must be a string")),
                };
                (contact, comment)
            }
            _ => {
                return Err(FieldError::invalid(
                    "a contact value is a list of {\"contact\", \"comment\"}",
                ))
            }
        };
        if !contact.trim().is_empty() {
            out.push(Contact { contact, comment });
        }
    }
    Ok(FieldValue::Contacts(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries() {
        let v = parse(&json!([{"contact": "+7 900", "comment": "main"}, {"contact": ""}, "a@b.c"]));
        assert_eq!(
            v,
            Ok(FieldValue::Contacts(vec![
                Contact {
                    contact: "+7 900".into(),
                    comment: "main".into()
                },
                Contact {
                    contact: "a@b.c".into(),
                    comment: String::new()
                },
            ]))
        );
        assert!(parse(&json!([{"contact": []}])).is_err());
        let mut bad = json!({"type": "fax"})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(config(&mut bad).is_err());
    }
}
