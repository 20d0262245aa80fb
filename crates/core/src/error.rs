//! The core's error: a registry code, a human message, and the field it is about. Store and
//! validation errors are mapped here explicitly; internal details are logged, not returned.

use kartoteka_model::{ErrorCode, FieldError};
use kartoteka_store::StoreError;

/// An error from the application core.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    pub field_id: Option<String>,
    /// A status other than the code's own, e.g. 400 for a section named in a request body
    /// that does not exist (spec 02 §1.6: `section_not_found` as a bad request).
    pub status: Option<u16>,
    /// A heading for the message, when the source gave one (a webhook's `message.title`).
    pub title: Option<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            field_id: None,
            status: None,
            title: None,
        }
    }

    /// The HTTP status to answer with.
    pub fn http_status(&self) -> u16 {
        self.status.unwrap_or_else(|| self.code.status())
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::BadRequest, message)
    }

    pub fn field(code: ErrorCode, field_id: &str, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            field_id: Some(field_id.to_string()),
            status: None,
            title: None,
        }
    }

    pub fn catalog_not_found(id: &str) -> Self {
        Error::new(
            ErrorCode::CatalogNotFound,
            format!("catalog {id:?} not found"),
        )
    }

    pub fn section_not_found(id: &str) -> Self {
        Error::new(
            ErrorCode::SectionNotFound,
            format!("section {id:?} not found"),
        )
    }

    pub fn record_not_found(id: &str) -> Self {
        Error::new(
            ErrorCode::RecordNotFound,
            format!("record {id:?} not found"),
        )
    }

    pub fn unauthorized() -> Self {
        Error::new(ErrorCode::Unauthorized, "authentication required")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::Internal, message)
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error {
            code: e.code,
            message: e.message,
            field_id: e.field_id,
            status: None,
            title: None,
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unique(m) => {
                tracing::debug!(detail = %m, "unique constraint");
                Error::new(
                    ErrorCode::DuplicateId,
                    "an id or value that must be unique is already taken",
                )
            }
            StoreError::Constraint(m) => {
                tracing::debug!(detail = %m, "constraint");
                Error::bad_request("the change breaks a constraint of the store")
            }
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "store unavailable");
                Error::new(ErrorCode::Unavailable, "the store is unavailable")
            }
            other => {
                tracing::error!(error = %other, "store error");
                Error::internal("internal storage error")
            }
        }
    }
}
