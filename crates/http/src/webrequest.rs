//! `ANY /api/webrequest/{urlId}` (spec 03 §3.3–§3.4): a web listener, outside `/api/v1` and
//! without authentication. The request goes to the core as it came; the listener's scenario
//! decides the status, headers and body of the answer.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use kartoteka_core::scenarios::WebCall;
use kartoteka_core::App;

use crate::error::ApiResult;
use crate::extract::Params;

pub async fn web_request(
    State(app): State<Arc<App>>,
    Path(url_id): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult<Response> {
    let query = Params::parse(q.as_deref()).0;
    let run_async = query.iter().any(|(k, v)| k == "async" && v == "true");
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let call = WebCall {
        url_id,
        url: format!("http://{host}{uri}"),
        method: method.as_str().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).to_string(),
                )
            })
            .collect(),
        query,
        body: body.to_vec(),
        run_async,
    };
    let reply = app.web_request(call).await?;
    let mut resp = Response::new(Body::from(reply.body));
    *resp.status_mut() = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    for (k, v) in reply.headers {
        // A header the scenario wrote that HTTP cannot carry is left out.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    Ok(resp)
}
