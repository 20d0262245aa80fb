//! The registry of stable, machine-readable error codes. Every code appears once, with its HTTP
//! status and its snake_case name; the HTTP crate maps a code to a response in one place.

use std::fmt;

/// A stable error code. Clients may match on [`ErrorCode::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadRequest,
    InvalidJson,
    InvalidValue,
    RequiredField,
    UnknownField,
    InvalidConfig,
    InvalidQuery,
    InvalidId,
    DuplicateId,
    NotUnique,
    FieldTypeChange,
    RejectedByEvent,
    RejectedByWebhook,
    InvalidPrivilege,
    InvalidSubject,
    DuplicateSubject,
    InvalidFieldRights,
    InvalidScenario,
    Unauthorized,
    Forbidden,
    SectionNotFound,
    CatalogNotFound,
    RecordNotFound,
    FieldNotFound,
    ViewNotFound,
    NotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    TooManyRequests,
    NotImplemented,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: [ErrorCode; 32] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidValue,
        ErrorCode::RequiredField,
        ErrorCode::UnknownField,
        ErrorCode::InvalidConfig,
        ErrorCode::InvalidQuery,
        ErrorCode::InvalidId,
        ErrorCode::DuplicateId,
        ErrorCode::NotUnique,
        ErrorCode::FieldTypeChange,
        ErrorCode::RejectedByEvent,
        ErrorCode::RejectedByWebhook,
        ErrorCode::InvalidPrivilege,
        ErrorCode::InvalidSubject,
        ErrorCode::DuplicateSubject,
        ErrorCode::InvalidFieldRights,
        ErrorCode::InvalidScenario,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::SectionNotFound,
        ErrorCode::CatalogNotFound,
        ErrorCode::RecordNotFound,
        ErrorCode::FieldNotFound,
        ErrorCode::ViewNotFound,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::TooManyRequests,
        ErrorCode::NotImplemented,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ];

    /// The snake_case name sent as `code` in error bodies.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::RequiredField => "required_field",
            ErrorCode::UnknownField => "unknown_field",
            ErrorCode::InvalidConfig => "invalid_field_config",
            ErrorCode::InvalidQuery => "invalid_query",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::DuplicateId => "duplicate_id",
            ErrorCode::NotUnique => "not_unique",
            ErrorCode::FieldTypeChange => "field_type_change",
            ErrorCode::RejectedByEvent => "rejected_by_event",
            ErrorCode::RejectedByWebhook => "rejected_by_webhook",
            ErrorCode::InvalidPrivilege => "invalid_privilege",
            ErrorCode::InvalidSubject => "invalid_subject",
            ErrorCode::DuplicateSubject => "duplicate_subject",
            ErrorCode::InvalidFieldRights => "invalid_field_rights",
            ErrorCode::InvalidScenario => "invalid_scenario",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::SectionNotFound => "section_not_found",
            ErrorCode::CatalogNotFound => "catalog_not_found",
            ErrorCode::RecordNotFound => "record_not_found",
            ErrorCode::FieldNotFound => "field_not_found",
            ErrorCode::ViewNotFound => "view_not_found",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::NotImplemented => "not_implemented",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status this code is answered with (spec 01 §1.5).
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest
            | ErrorCode::InvalidJson
            | ErrorCode::InvalidValue
            | ErrorCode::RequiredField
            | ErrorCode::UnknownField
            | ErrorCode::InvalidConfig
            | ErrorCode::InvalidQuery
            | ErrorCode::InvalidId
            | ErrorCode::DuplicateId
            | ErrorCode::NotUnique
            | ErrorCode::FieldTypeChange
            | ErrorCode::RejectedByEvent
            | ErrorCode::RejectedByWebhook
            | ErrorCode::InvalidPrivilege
            | ErrorCode::InvalidSubject
            | ErrorCode::DuplicateSubject
            | ErrorCode::InvalidFieldRights
            | ErrorCode::InvalidScenario => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::SectionNotFound
            | ErrorCode::CatalogNotFound
            | ErrorCode::RecordNotFound
            | ErrorCode::FieldNotFound
            | ErrorCode::ViewNotFound
            | ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::NotImplemented => 501,
            ErrorCode::Unavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validation failure that names the field it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub code: ErrorCode,
    pub message: String,
    /// The field's public id, where the error is about one field.
    pub field_id: Option<String>,
}

impl FieldError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FieldError {
            code,
            message: message.into(),
            field_id: None,
        }
    }

    /// An `invalid_value` error.
    pub fn invalid(message: impl Into<String>) -> Self {
        FieldError::new(ErrorCode::InvalidValue, message)
    }

    /// An `invalid_field_config` error.
    pub fn config(message: impl Into<String>) -> Self {
        FieldError::new(ErrorCode::InvalidConfig, message)
    }

    pub fn with_field(mut self, field_id: &str) -> Self {
        if self.field_id.is_none() {
            self.field_id = Some(field_id.to_string());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_classed() {
        let names: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.name()).collect();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        for c in ErrorCode::ALL {
            assert!((400..600).contains(&c.status()), "{c}");
        }
    }
}
