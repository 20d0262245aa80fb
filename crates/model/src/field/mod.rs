//! Field definitions and field types. Each type lives in its own module with the same three
//! functions: `config` (validate and normalise the type's settings, keeping ids of a previous
//! version), `parse` (coerce and validate a written JSON value) and `default` (the value a new
//! record gets when the field is absent). [`FieldType`] dispatches to them.

mod address;
mod button;
mod checkboxes;
mod contact;
mod date;
mod dropdown;
mod file;
mod group;
mod iframe;
pub mod items;
mod number;
mod object;
pub use object::source_catalogs;
pub use text::SINGLE_LINE_MAX;
mod progress;
mod radiobutton;
mod stars;
mod switch;
mod text;
mod user;

use serde_json::{Map, Value};

use crate::error::FieldError;
use crate::value::FieldValue;

/// Every field type code Bpium knows (spec 01 §3.1). Any other code is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldType {
    Group,
    Text,
    Number,
    Date,
    Dropdown,
    Checkboxes,
    Radiobutton,
    Switch,
    Progress,
    Stars,
    User,
    Object,
    File,
    Contact,
    Address,
    Button,
    Iframe,
}

/// How a field's value is kept by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// No value (layout and action fields).
    None,
    /// One column of the catalog's data table.
    Column(ColumnKind),
    /// Rows of the catalog's `_links` table.
    Links,
    /// Rows of the catalog's `_contacts` table.
    Contacts,
}

/// The portable type of a data column; the store maps it to each backend's SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Real,
    Integer,
    Bool,
    Timestamp,
    /// JSON text (item id lists, user id lists, file id lists, address objects).
    Json,
}

/// Context for parsing a written value.
#[derive(Debug, Clone, Copy, Default)]
pub struct ParseCtx {
    /// The client's zone, minutes east of UTC (`timezoneOffset`).
    pub tz_offset_min: i32,
}

/// Context for computing defaults on create.
#[derive(Debug, Clone, Default)]
pub struct DefaultCtx {
    pub now_ms: i64,
    /// The caller's `$users` record id, if the caller is an employee.
    pub user_id: Option<String>,
}

impl FieldType {
    pub const ALL: [FieldType; 17] = [
        FieldType::Group,
        FieldType::Text,
        FieldType::Number,
        FieldType::Date,
        FieldType::Dropdown,
        FieldType::Checkboxes,
        FieldType::Radiobutton,
        FieldType::Switch,
        FieldType::Progress,
        FieldType::Stars,
        FieldType::User,
        FieldType::Object,
        FieldType::File,
        FieldType::Contact,
        FieldType::Address,
        FieldType::Button,
        FieldType::Iframe,
    ];

    /// The wire code (`"text"`, `"object"`, ...).
    pub fn code(self) -> &'static str {
        match self {
            FieldType::Group => "group",
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Date => "date",
            FieldType::Dropdown => "dropdown",
            FieldType::Checkboxes => "checkboxes",
            FieldType::Radiobutton => "radiobutton",
            FieldType::Switch => "switch",
            FieldType::Progress => "progress",
            FieldType::Stars => "stars",
            FieldType::User => "user",
            FieldType::Object => "object",
            FieldType::File => "file",
            FieldType::Contact => "contact",
            FieldType::Address => "address",
            FieldType::Button => "button",
            FieldType::Iframe => "iframe",
        }
    }

    pub fn from_code(code: &str) -> Option<FieldType> {
        FieldType::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn storage(self) -> Storage {
        use ColumnKind as K;
        match self {
            FieldType::Group | FieldType::Button | FieldType::Iframe => Storage::None,
            FieldType::Text => Storage::Column(K::Text),
            FieldType::Number | FieldType::Progress => Storage::Column(K::Real),
            FieldType::Stars => Storage::Column(K::Integer),
            FieldType::Date => Storage::Column(K::Timestamp),
            FieldType::Switch => Storage::Column(K::Bool),
            FieldType::Dropdown
            | FieldType::Checkboxes
            | FieldType::Radiobutton
            | FieldType::User
            | FieldType::File
            | FieldType::Address => Storage::Column(K::Json),
            FieldType::Object => Storage::Links,
            FieldType::Contact => Storage::Contacts,
        }
    }

    /// True for fields that hold a value (not `group`, `button`, `iframe`).
    pub fn has_value(self) -> bool {
        self.storage() != Storage::None
    }

    /// Validates and normalises a field's config. `prev` is the stored config when an existing
    /// field is updated, so that item ids are kept.
    pub fn normalize_config(
        self,
        cfg: &mut Map<String, Value>,
        prev: Option<&Map<String, Value>>,
    ) -> Result<(), FieldError> {
        match self {
            FieldType::Group => group::config(cfg),
            FieldType::Text => text::config(cfg),
            FieldType::Number => number::config(cfg),
            FieldType::Date => date::config(cfg),
            FieldType::Dropdown => dropdown::config(cfg, prev),
            FieldType::Checkboxes => checkboxes::config(cfg, prev),
            FieldType::Radiobutton => radiobutton::config(cfg, prev),
            FieldType::Switch => switch::config(cfg),
            FieldType::Progress => progress::config(cfg),
            FieldType::Stars => stars::config(cfg),
            FieldType::User => user::config(cfg),
            FieldType::Object => object::config(cfg),
            FieldType::File => file::config(cfg),
            FieldType::Contact => contact::config(cfg),
            FieldType::Address => address::config(cfg),
            FieldType::Button => button::config(cfg),
            FieldType::Iframe => iframe::config(cfg),
        }
    }

    /// The value of an empty field, or `None` for fields without a value.
    pub fn empty_value(self) -> Option<FieldValue> {
        Some(match self {
            FieldType::Group | FieldType::Button | FieldType::Iframe => return None,
            FieldType::Text => FieldValue::Text(String::new()),
            FieldType::Number | FieldType::Progress => FieldValue::Number(None),
            FieldType::Stars => FieldValue::Int(None),
            FieldType::Date => FieldValue::Date(None),
            FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
                FieldValue::Items(vec![])
            }
            FieldType::Switch => FieldValue::Bool(false),
            FieldType::User => FieldValue::Users(vec![]),
            FieldType::Object => FieldValue::Links(vec![]),
            FieldType::File => FieldValue::Files(vec![]),
            FieldType::Contact => FieldValue::Contacts(vec![]),
            FieldType::Address => FieldValue::Address(None),
        })
    }
}

/// A field of a catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDef {
    /// Internal key, unique across all catalogs.
    pub db_id: i64,
    /// Public id, unique within the catalog.
    pub id: String,
    /// Legacy or previous id; equals `id` for ordinary fields.
    pub prev_id: String,
    /// `duplicateResultWithPrevId`: values are emitted under both `prev_id` and `id`.
    pub duplicate: bool,
    pub name: String,
    pub field_type: FieldType,
    pub hint: String,
    pub required: bool,
    pub api_only: bool,
    pub filterable: bool,
    pub history: bool,
    pub hidden: bool,
    pub comment: String,
    pub config: Map<String, Value>,
    pub visible: Value,
    pub is_system: bool,
    /// The data column (`columnName`), for fields stored in a column.
    pub column: String,
}

impl FieldDef {
    /// Coerces and validates a written value. Returns `Ok(None)` for fields without a value,
    /// whose keys are ignored on write. Errors name this field.
    pub fn parse(&self, raw: &Value, ctx: &ParseCtx) -> Result<Option<FieldValue>, FieldError> {
        let cfg = &self.config;
        let parsed = match self.field_type {
            FieldType::Group | FieldType::Button | FieldType::Iframe => return Ok(None),
            FieldType::Text => text::parse(raw, cfg),
            FieldType::Number => number::parse(raw, cfg),
            FieldType::Date => date::parse(raw, cfg, ctx),
            FieldType::Dropdown => dropdown::parse(raw, cfg),
            FieldType::Checkboxes => checkboxes::parse(raw, cfg),
            FieldType::Radiobutton => radiobutton::parse(raw, cfg),
            FieldType::Switch => switch::parse(raw),
            FieldType::Progress => progress::parse(raw),
            FieldType::Stars => stars::parse(raw),
            FieldType::User => user::parse(raw, cfg),
            FieldType::Object => object::parse(raw, cfg),
            FieldType::File => file::parse(raw, cfg),
            FieldType::Contact => contact::parse(raw),
            FieldType::Address => address::parse(raw),
        };
        parsed.map(Some).map_err(|e| e.with_field(&self.id))
    }

    /// The value a new record gets when this field is absent from the write (spec 01 §3.2).
    pub fn default_value(&self, ctx: &DefaultCtx) -> Option<FieldValue> {
        let on = self.config.get("defaultValue") == Some(&Value::Bool(true));
        if !on {
            return self.field_type.empty_value();
        }
        match self.field_type {
            FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
                Some(FieldValue::Items(items::first_item(&self.config)))
            }
            FieldType::Date => Some(date::default(&self.config, ctx)),
            FieldType::User => Some(FieldValue::Users(ctx.user_id.iter().cloned().collect())),
            FieldType::Switch => Some(FieldValue::Bool(true)),
            t => t.empty_value(),
        }
    }

    /// True for fields whose config allows several values (`multiselect`).
    pub fn multiselect(&self) -> bool {
        multiselect(&self.config)
    }
}

/// Reads `config.multiselect`.
pub(crate) fn multiselect(cfg: &Map<String, Value>) -> bool {
    cfg.get("multiselect").and_then(Value::as_bool) == Some(true)
}

/// Checks that an optional config key, when present and not null, is a boolean.
pub(crate) fn check_bool(cfg: &Map<String, Value>, key: &str) -> Result<(), FieldError> {
    match cfg.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(FieldError::config(format!(
            "config.{key} must be a boolean"
        ))),
    }
}

/// Checks that an optional config key, when present and not null, is a string.
pub(crate) fn check_string(cfg: &Map<String, Value>, key: &str) -> Result<(), FieldError> {
    match cfg.get(key) {
        None | Some(Value::Null) | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(FieldError::config(format!("config.{key} must be a string"))),
    }
}

/// Reads a written number: a JSON number or a numeric string. `null` and `""` are `None`.
pub(crate) fn number_input(raw: &Value, what: &str) -> Result<Option<f64>, FieldError> {
    match raw {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| FieldError::invalid(format!("{what} must be a number"))),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => match s.trim().replace(',', ".").parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n)),
            _ => Err(FieldError::invalid(format!(
                "{what} must be a number, got {s:?}"
            ))),
        },
        _ => Err(FieldError::invalid(format!("{what} must be a number"))),
    }
}

/// Reads a written list: an array, a single scalar (one element), or an empty value.
pub(crate) fn list_input(raw: &Value) -> Vec<&Value> {
    match raw {
        Value::Null => vec![],
        Value::String(s) if s.is_empty() => vec![],
        Value::Array(a) => a.iter().filter(|v| !v.is_null()).collect(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_codes_round_trip() {
        for t in FieldType::ALL {
            assert_eq!(FieldType::from_code(t.code()), Some(t));
        }
        assert_eq!(FieldType::from_code("formula"), None);
    }
}
