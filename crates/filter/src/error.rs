//! The one error of the filter language: what went wrong, and where.

/// The class of a filter error; the core maps it to an error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// The input is not shaped like a filter: wrong JSON shape, malformed JSON text, a
    /// malformed bracket key, a missing `fieldId` or `value`.
    Malformed,
    /// A field id the catalog does not have.
    UnknownField,
    /// A value that does not fit the field's type (a non-numeric range bound, an unknown item,
    /// a catalog that is not a source of the object field, …).
    InvalidValue,
    /// A field that holds no value (`group`, `button`, `iframe`) cannot be filtered.
    NotFilterable,
    /// Nested deeper than [`crate::MAX_DEPTH`] or more than [`crate::MAX_CONDITIONS`] conditions.
    TooComplex,
}

/// A filter that could not be parsed. `path` names the bad part in the notation of the
/// array and object forms: `filters[1].value.at`, `filters.$or[0].4`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FilterError {
    pub kind: FilterErrorKind,
    pub path: String,
    pub message: String,
    /// The field the error is about, when it is about one.
    pub field_id: Option<String>,
}

impl FilterError {
    pub(crate) fn new(kind: FilterErrorKind, path: String, message: impl Into<String>) -> Self {
        FilterError {
            kind,
            path,
            message: message.into(),
            field_id: None,
        }
    }

    pub(crate) fn with_field(mut self, field_id: &str) -> Self {
        if self.field_id.is_none() {
            self.field_id = Some(field_id.to_string());
        }
        self
    }
}
