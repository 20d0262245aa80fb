//! A webhook receiver inside the load generator: it answers every POST with `200 {}` at
//! once and notes when each notification arrived, so delivery throughput and lag (arrival
//! time minus the time the record's create request was sent, carried in the record's title)
//! can be measured while records are created at full speed.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// What the receiver saw.
#[derive(Default)]
pub struct Seen {
    /// Lag of each notification, nanoseconds.
    pub lags_ns: Vec<u64>,
    /// Calls of any kind.
    pub calls: u64,
    /// When the last call arrived.
    pub last: Option<Instant>,
    /// Bodies that were not the expected JSON.
    pub malformed: u64,
}

pub struct Receiver {
    pub url: String,
    pub seen: Arc<Mutex<Seen>>,
}

/// The title a timed record carries: microseconds since `epoch`.
pub fn stamp(epoch: Instant) -> String {
    format!("t{}", epoch.elapsed().as_micros())
}

impl Receiver {
    /// Starts on a free loopback port. `title_field` is the field whose value carries the
    /// send time written by [`stamp`].
    ///
    /// It runs on its own thread with its own single-threaded runtime, as a receiver in
    /// another process would: its answers do not wait behind the load generator's clients.
    pub fn start(epoch: Instant, title_field: String) -> Result<Receiver> {
        let listener =
            std::net::TcpListener::bind("127.0.0.1:0").context("binding the webhook receiver")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let (seen2, field) = (seen.clone(), Arc::new(title_field));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("the receiver's runtime")?;
        let serve = async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (seen, field) = (seen2.clone(), field.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (seen, field) = (seen.clone(), field.clone());
                        async move {
                            let body = req.into_body().collect().await.map(|b| b.to_bytes());
                            let arrived = epoch.elapsed();
                            let lag = body.ok().and_then(|b| {
                                let v: Value = serde_json::from_slice(&b).ok()?;
                                let t = v.pointer("/payload/values")?.get(field.as_str())?;
                                let micros: u64 = t.as_str()?.strip_prefix('t')?.parse().ok()?;
                                Some(arrived.as_nanos() as u64 - micros * 1000)
                            });
                            if let Ok(mut s) = seen.lock() {
                                s.calls += 1;
                                s.last = Some(Instant::now());
                                match lag {
                                    Some(l) => s.lags_ns.push(l),
                                    None => s.malformed += 1,
                                }
                            }
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        std::thread::Builder::new()
            .name("receiver".into())
            .spawn(move || rt.block_on(serve))
            .context("the receiver's thread")?;
        Ok(Receiver { url, seen })
    }
}
