//! What the engine asks of its host: every record operation, HTTP call and chat message.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

/// The future a port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// A failed port call. The code becomes the component's error code (spec 03 §4.3), so an
/// error boundary sees it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PortError {
    /// `NOT_FOUND`, `VALIDATION`, `HTTP`, `TIMEOUT`, `LIMIT`, `INTERNAL`, …
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

impl PortError {
    /// An error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> PortError {
        PortError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `NOT_FOUND`: the record or catalog does not exist.
    pub fn not_found(message: impl Into<String>) -> PortError {
        PortError::new("NOT_FOUND", message)
    }

    /// `VALIDATION`: values the host refused.
    pub fn validation(message: impl Into<String>) -> PortError {
        PortError::new("VALIDATION", message)
    }

    /// `HTTP`: a network, TLS or protocol failure.
    pub fn http(message: impl Into<String>) -> PortError {
        PortError::new("HTTP", message)
    }
}

/// The query of a Find records component, in the REST API's terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindQuery {
    /// A view whose filters apply; `None` for all records.
    pub view_id: Option<String>,
    /// The REST API's JSON filter form: an object `{fieldId: value, "$and": […]}` or an array.
    pub filters: Option<Value>,
    /// Quick search text.
    pub search_text: Option<String>,
    /// The field to sort by (`id` or a field id).
    pub sort_field: Option<String>,
    /// `1` ascending, `-1` descending.
    pub sort_type: Option<i32>,
    /// Field ids to return; `None` for all.
    pub fields: Option<Vec<String>>,
    /// Page size, at most `Settings::find_limit_max`.
    pub limit: u32,
    /// Records to skip.
    pub offset: u32,
}

/// A page of found records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    /// Records in the REST read format.
    pub records: Vec<Value>,
    /// All matching records, ignoring limit and offset.
    pub total: i64,
}

/// An outgoing HTTP request of a Web request component.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE` or `HEAD`.
    pub method: String,
    /// The absolute URL, query included.
    pub url: String,
    /// Headers in order; names as the scenario wrote them.
    pub headers: Vec<(String, String)>,
    /// The body, for methods that carry one.
    pub body: Option<Vec<u8>>,
    /// How long the host may wait for the whole response.
    pub timeout: Duration,
}

/// The answer to an [`HttpRequest`]. Any status is an answer; only a transport failure is an
/// error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order, as received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// The host's side of the engine. Data components bypass rights (spec 03 §7.3); the host
/// performs writes through its one write path, as the system user.
pub trait Ports: Send + Sync {
    /// A record in the REST read format: `{"id", "catalogId", "title", "values": {fieldId:
    /// value}, …}`; `NOT_FOUND` when it does not exist.
    fn get_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, Value>;

    /// A page of records.
    fn find_records<'a>(&'a self, catalog: &'a str, q: FindQuery) -> PortFuture<'a, Found>;

    /// Creates a record; answers the created record in the read format.
    fn add_record<'a>(
        &'a self,
        catalog: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value>;

    /// Changes the given fields of a record; answers the record in the read format.
    fn edit_record<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value>;

    /// Deletes a record.
    fn delete_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, ()>;

    /// A catalog in the REST read format, with its `fields` list.
    fn get_catalog<'a>(&'a self, catalog: &'a str) -> PortFuture<'a, Value>;

    /// Sends an HTTP request.
    fn http<'a>(&'a self, req: HttpRequest) -> PortFuture<'a, HttpResponse>;

    /// Posts a message to a record's chat; answers the message (an object with its `id`).
    fn send_message<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        text: String,
    ) -> PortFuture<'a, Value>;
}
