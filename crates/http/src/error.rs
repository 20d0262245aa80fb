//! The one place where errors become HTTP responses: status from the error-code registry,
//! body `{"message", "code", "fieldId"?}`. Internal details are logged, never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kartoteka_core::Error;
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(Error::new(code, message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status =
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(code = %e.code, message = %e.message, "request failed");
        }
        let mut body = Map::new();
        body.insert("message".into(), Value::String(e.message));
        body.insert("code".into(), Value::String(e.code.name().into()));
        if let Some(t) = e.title {
            body.insert("title".into(), Value::String(t));
        }
        if let Some(f) = e.field_id {
            body.insert("fieldId".into(), Value::String(f));
        }
        (status, Json(Value::Object(body))).into_response()
    }
}

/// The answer for paths that do not exist.
pub async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such resource")
}

/// The answer for a known resource with a verb it does not support (spec 01 §1.5).
pub async fn not_implemented() -> ApiError {
    ApiError::new(
        ErrorCode::NotImplemented,
        "this method is not implemented for this resource",
    )
}

/// `{}`: the body of a successful delete.
pub fn empty() -> Json<Value> {
    Json(json!({}))
}
