//! What runs beside the request path: the webhook dispatcher (scheduling lives in the core,
//! next to the outbox it reads; this crate supplies the HTTP client it sends with) and, with
//! the automation issue, scenarios and processes. The core knows no HTTP; this crate does
//! the outgoing calls.

use std::sync::Arc;

mod ews;
mod imap;
pub mod listeners;
mod mail;
mod pdf;
mod ports;
pub mod processes;
pub mod scenarios;
mod sql;
pub use pdf::ConvertConfig;
pub use processes::start_automation;
pub use scenarios::install_scenarios;
pub use sql::SqlConfig;

/// The host's settings of the components that reach outside the server.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// SQL query.
    pub sql: SqlConfig,
    /// The Converter's PDF programs.
    pub convert: ConvertConfig,
}

use kartoteka_core::webhooks::{Outgoing, Reply, ReplyFuture, WebhookClient, MAX_REPLY};
use kartoteka_core::App;

/// Sends webhook calls with one shared connection pool: POST, redirects not followed (a 3xx
/// is itself an answer), the body exactly as signed, the reply read up to [`MAX_REPLY`].
#[derive(Clone)]
pub struct HttpWebhookClient {
    http: reqwest::Client,
}

impl HttpWebhookClient {
    pub fn new() -> Result<HttpWebhookClient, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Kartoteka/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpWebhookClient { http })
    }
}

async fn send(http: reqwest::Client, call: Outgoing) -> Result<Reply, String> {
    let mut req = http
        .post(&call.url)
        .timeout(call.timeout)
        .body(call.body.as_bytes().to_vec());
    for (name, value) in &call.headers {
        req = req.header(*name, value);
    }
    let mut resp = req.send().await.map_err(describe)?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    // The reply body is read within the same timeout; a slow body is cut, not waited for.
    while body.len() < MAX_REPLY {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) if e.is_timeout() => return Err(describe(e)),
            Err(_) => break,
        }
    }
    body.truncate(MAX_REPLY);
    Ok(Reply { status, body })
}

/// A short reason for a call that got no answer.
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        format!("connection failed: {}", root(&e))
    } else if e.is_builder() {
        format!("invalid URL: {}", root(&e))
    } else {
        root(&e)
    }
}

fn root(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl WebhookClient for HttpWebhookClient {
    fn post(&self, call: Outgoing) -> ReplyFuture {
        Box::pin(send(self.http.clone(), call))
    }
}

/// Installs the HTTP client for requests and actions and starts the webhook dispatcher on
/// a thread of its own (with its own runtime and connection pool), so that deliveries keep
/// their pace while the API is busy. The returned handle finishes once `shutdown` resolved
/// and the dispatcher stopped.
pub fn start_webhooks(
    app: &Arc<App>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<tokio::task::JoinHandle<()>, String> {
    app.set_webhook_client(Arc::new(HttpWebhookClient::new()?));
    let app = app.clone();
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name("webhook-dispatch".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "could not start the webhook dispatcher");
                    return;
                }
            };
            rt.block_on(async move {
                match HttpWebhookClient::new() {
                    Ok(client) => {
                        kartoteka_core::webhooks::dispatch::run(app, Arc::new(client), shutdown)
                            .await
                    }
                    Err(e) => tracing::error!(error = %e, "could not start the webhook dispatcher"),
                }
            });
            let _ = done.send(());
        })
        .map_err(|e| e.to_string())?;
    Ok(tokio::spawn(async move {
        let _ = finished.await;
    }))
}
