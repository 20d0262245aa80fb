//! `file`: attached files. Written `[{id}]` (uploaded or kept) or `[{src, title, size?,
//! mimeType?}]` (an external link); the array replaces the field's list (spec 01 §3.15).

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::ids::id_from_json;
use crate::value::{FieldValue, FileRef};

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_bool(cfg, "multiselect")?;
    super::check_string(cfg, "mimeType")
}

pub(super) fn parse(raw: &Value, cfg: &Map<String, Value>) -> Result<FieldValue, FieldError> {
    let mut files = Vec::new();
    for v in super::list_input(raw) {
        let o = v.as_object().ok_or_else(|| {
            FieldError::invalid("a file value is a list of {\"id\"} or {\"src\", \"title\"}")
        })?;
        if let Some(id) = o.get("id").and_then(id_from_json) {
            files.push(FileRef::Id(id));
            continue;
        }
        let Some(src) = o
            .get("src")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        else {
            return Err(FieldError::invalid("a file item needs an id or a src"));
        };
        if !(src.starts_with("http://") || src.starts_with("https://")) {
            return Err(FieldError::invalid("a file src must be an http(s) URL"));
        }
        let title = o
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| src.rsplit('/').next().unwrap_or(src).to_string());
        let size = match o.get("size") {
            None | Some(Value::Null) => None,
            Some(s) => Some(
                super::number_input(s, "a file size")?
                    .filter(|n| *n >= 0.0)
                    .ok_or_else(|| FieldError::invalid("a file size must be a positive number"))?
                    as i64,
            ),
        };
        let mime_type = o
            .get("mimeType")
            .and_then(Value::as_str)
            .map(str::to_string);
        files.push(FileRef::External {
            src: src.to_string(),
            title,
            size,
            mime_type,
        });
    }
    if files.len() > 1 && !super::multiselect(cfg) {
        return Err(FieldError::invalid("only one file may be attached"));
    }
    Ok(FieldValue::Files(files))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_and_links() {
        let multi = json!({"multiselect": true})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let v = parse(&json!([{"id": 5}, {"src": "https://e.com/a.pdf"}]), &multi).expect("valid");
        let FieldValue::Files(f) = v else {
            panic!("files")
        };
        assert_eq!(f[0], FileRef::Id("5".into()));
        assert!(matches!(&f[1], FileRef::External { title, .. } if title == "a.pdf"));
        assert!(parse(&json!([{"id": 1}, {"id": 2}]), &Map::new()).is_err());
        assert!(parse(&json!([{"src": "ftp://x"}]), &multi).is_err());
    }
}
