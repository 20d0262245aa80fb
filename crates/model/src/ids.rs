//! Public ids: normalisation of JSON ids to strings and the syntax of custom text ids.

use serde_json::Value;

/// Normalises an id that arrived as a JSON string or number to its string form.
/// Returns `None` for anything else (objects, arrays, booleans, null, fractions).
pub fn id_from_json(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => n
            .as_i64()
            .map(|i| i.to_string())
            .or_else(|| n.as_u64().map(|u| u.to_string())),
        _ => None,
    }
}

/// True for an all-digit id (a candidate for a `dbId` match).
pub fn is_numeric(id: &str) -> bool {
    !id.is_empty() && id.len() <= 18 && id.bytes().all(|b| b.is_ascii_digit())
}

/// Parses an all-digit id as a `dbId`.
pub fn as_db_id(id: &str) -> Option<i64> {
    if is_numeric(id) {
        id.parse().ok()
    } else {
        None
    }
}

/// Checks the syntax of a user-defined custom id: `^[A-Za-z0-9_\-]{1,64}$` (spec 01 §1.3).
/// A leading `$` is reserved for system objects and is rejected here.
pub fn valid_custom_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// True for the ids reserved for system objects.
pub fn is_system_id(id: &str) -> bool {
    id.starts_with('$')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_normalise_to_strings() {
        assert_eq!(id_from_json(&json!(4)).as_deref(), Some("4"));
        assert_eq!(id_from_json(&json!("$users")).as_deref(), Some("$users"));
        assert_eq!(id_from_json(&json!(1.5)), None);
        assert_eq!(id_from_json(&json!("")), None);
        assert_eq!(id_from_json(&json!(null)), None);
    }

    #[test]
    fn custom_id_syntax() {
        assert!(valid_custom_id("deals"));
        assert!(valid_custom_id("a-b_9"));
        assert!(!valid_custom_id("$users"));
        assert!(!valid_custom_id("with space"));
        assert!(!valid_custom_id(&"x".repeat(65)));
        assert_eq!(as_db_id("42"), Some(42));
        assert_eq!(as_db_id("4a"), None);
    }
}
