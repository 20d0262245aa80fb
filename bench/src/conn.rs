//! One persistent HTTP/1.1 keep-alive connection to the server under test.
//!
//! Each bench worker owns exactly one [`Conn`]; it reconnects lazily when the
//! server closes the connection or a request fails. Only the address parsed
//! from `--url` is ever dialled.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, ACCEPT, CONTENT_TYPE, COOKIE, HOST};
use hyper::{HeaderMap, Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where to connect and what to put into `Host:` / in front of every path.
#[derive(Debug)]
pub struct Target {
    addr: String,
    host: HeaderValue,
    base_path: String,
    timeout: Duration,
}

impl Target {
    /// Parses an `http://host[:port][/prefix]` URL.
    pub fn parse(url: &str, timeout: Duration) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("invalid --url {url:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("only plain http:// URLs are supported, got {url:?}");
        }
        let auth = uri
            .authority()
            .ok_or_else(|| anyhow!("--url {url:?} has no host"))?;
        let port = auth.port_u16().unwrap_or(80);
        Ok(Self {
            addr: format!("{}:{port}", auth.host()),
            host: HeaderValue::from_str(auth.as_str()).context("bad host in --url")?,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            timeout,
        })
    }
}

/// A received response with its body fully read.
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as (lossy, truncated) text for error messages.
    pub fn body_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(500).collect()
    }
}

/// A single keep-alive connection plus the session cookie.
pub struct Conn {
    target: Arc<Target>,
    cookie: Option<HeaderValue>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(target: Arc<Target>, cookie: Option<HeaderValue>) -> Self {
        Self {
            target,
            cookie,
            sender: None,
        }
    }

    pub fn set_cookie(&mut self, cookie: HeaderValue) {
        self.cookie = Some(cookie);
    }

    /// Opens the TCP connection now (so the first timed request does not pay for it).
    pub async fn ensure_connected(&mut self) -> Result<()> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.sender = Some(self.connect().await?);
        }
        Ok(())
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream =
            tokio::time::timeout(self.target.timeout, TcpStream::connect(&self.target.addr))
                .await
                .map_err(|_| anyhow!("connect to {} timed out", self.target.addr))?
                .with_context(|| format!("connect to {}", self.target.addr))?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the server closes the socket.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole response, bounded by the request timeout.
    pub async fn send(&mut self, method: Method, path: &str, body: Option<Bytes>) -> Result<Resp> {
        self.send_as(method, path, body, "application/json").await
    }

    /// Sends one request whose body has the given content type.
    pub async fn send_as(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<Resp> {
        let timeout = self.target.timeout;
        tokio::time::timeout(timeout, self.send_inner(method, path, body, content_type))
            .await
            .map_err(|_| {
                // The connection may be stuck mid-response: drop it.
                self.sender = None;
                anyhow!("request timed out after {timeout:?}")
            })?
    }

    async fn send_inner(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> Result<Resp> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.target.base_path))
            .header(HOST, self.target.host.clone())
            .header(ACCEPT, "application/json");
        if let Some(cookie) = &self.cookie {
            builder = builder.header(COOKIE, cookie.clone());
        }
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        let req = builder.body(Full::new(body.unwrap_or_default()))?;

        let mut sender = match self.sender.take() {
            Some(mut s) if !s.is_closed() => match s.ready().await {
                Ok(()) => s,
                Err(_) => self.connect().await?,
            },
            _ => self.connect().await?,
        };
        // On any error below `sender` is dropped, so the next call reconnects.
        let resp = sender.send_request(req).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok(Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}
