//! Requests (`record.before.*`) and actions (`record.updating`): sent at once, in parallel to
//! every matching hook, each with the configured timeout (spec 02 §4.6). A request is
//! answered by the first failure or by all successes; an action waits for all and merges.

use std::sync::Arc;
use std::time::Instant;

use kartoteka_model::time::now_ms;
use kartoteka_model::ErrorCode;
use kartoteka_store::outbox::{self, Attempt, NewDelivery};
use serde_json::{Map, Value};
use tokio::task::JoinSet;

use super::{
    message, seq_column, signature_headers, HookEvent, Outgoing, Reply, Subscription,
    WEBHOOKS_CATALOG, WEBHOOKS_CATALOG_ID,
};
use crate::error::{Error, Result};
use crate::schema::Catalog;
use crate::{Actor, App};

/// The denial text when a receiver gives none.
const DEFAULT_DENIAL: &str = "Операция отклонена внешней системой";

/// How much of a reply the log keeps.
pub(crate) const EXCERPT: usize = 512;

/// The outcome of one call.
#[derive(Debug)]
pub(crate) struct CallResult {
    pub sub: Arc<Subscription>,
    pub seq: i64,
    pub payload: Arc<str>,
    /// The event time the message carries.
    pub at: i64,
    pub attempt: Attempt,
    pub reply: Option<Reply>,
}

impl CallResult {
    /// 2xx, 3xx and 410 are success (spec 02 §4.6).
    pub fn ok(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| success(r.status))
    }

    pub fn gone(&self) -> bool {
        self.reply.as_ref().is_some_and(|r| r.status == 410)
    }

    /// The reply body as JSON; a non-JSON or empty body counts as `{}`.
    fn json(&self) -> Map<String, Value> {
        self.reply
            .as_ref()
            .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
            .unwrap_or_default()
    }
}

/// 2xx, 3xx and 410 are success.
pub(crate) fn success(status: u16) -> bool {
    (200..400).contains(&status) || status == 410
}

/// A message for the employee: `{title?, text}`.
#[derive(Debug, Clone, PartialEq)]
pub struct HookMessage {
    pub title: Option<String>,
    pub text: String,
}

impl HookMessage {
    /// A message as hooks and scenarios write it: a string, or `{title, text}`.
    pub fn from_value(v: Option<&Value>) -> Option<HookMessage> {
        match v? {
            Value::String(s) => Some(HookMessage {
                title: None,
                text: s.clone(),
            }),
            Value::Object(m) => Some(HookMessage {
                title: m.get("title").and_then(Value::as_str).map(str::to_string),
                text: m
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            }),
            _ => None,
        }
    }
}

/// Sends one call and times it.
pub(crate) async fn call(
    client: &dyn super::WebhookClient,
    sub: &Subscription,
    seq: i64,
    body: Arc<str>,
    timeout: std::time::Duration,
) -> (Attempt, Option<Reply>) {
    let at = now_ms();
    let headers = signature_headers(sub, seq, &body, at / 1000);
    let started = Instant::now();
    let result = client
        .post(Outgoing {
            url: sub.url.clone(),
            headers,
            body,
            timeout,
        })
        .await;
    let latency_ms = started.elapsed().as_millis() as i64;
    match result {
        Ok(reply) => {
            let excerpt =
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(EXCERPT)]).into_owned();
            (
                Attempt {
                    at,
                    status: Some(reply.status as i64),
                    latency_ms,
                    error: (!success(reply.status)).then(|| format!("HTTP {}", reply.status)),
                    response: (!excerpt.is_empty()).then_some(excerpt),
                },
                Some(reply),
            )
        }
        Err(e) => (
            Attempt {
                at,
                status: None,
                latency_ms,
                error: Some(e),
                response: None,
            },
            None,
        ),
    }
}

/// The payload of a request or an action.
pub(crate) struct Ask<'a> {
    pub event: HookEvent,
    pub catalog: &'a Catalog,
    pub record_db_id: Option<i64>,
    pub payload: Map<String, Value>,
    /// Field `dbId`s the tracked-fields filter looks at.
    pub changed: &'a [i64],
}

impl App {
    /// Takes the next `sequenceId` of each hook (one write) and builds their messages.
    async fn prepare(
        &self,
        subs: Vec<Arc<Subscription>>,
        ask: &Ask<'_>,
        actor: &Actor,
    ) -> Result<Vec<(Arc<Subscription>, i64, Arc<str>, Arc<str>, i64)>> {
        let schema = self.schema();
        let column = seq_column(schema.catalog(WEBHOOKS_CATALOG_ID)?)?;
        let ids: Vec<i64> = subs.iter().map(|s| s.db_id).collect();
        let seqs = self
            .store
            .write(move |c| -> Result<Vec<Option<i64>>> {
                ids.iter()
                    .map(|id| Ok(outbox::increment(c, WEBHOOKS_CATALOG, &column, *id, 1)?))
                    .collect()
            })
            .await?;
        let now = now_ms();
        let user = super::user_id(actor);
        let payload: Arc<str> = Arc::from(Value::Object(ask.payload.clone()).to_string());
        Ok(subs
            .into_iter()
            .zip(seqs)
            .filter_map(|(sub, seq)| {
                let seq = seq?;
                let body = message(
                    &sub.id,
                    ask.event.code(),
                    seq,
                    now,
                    &payload,
                    user.as_deref(),
                );
                Some((sub, seq, payload.clone(), Arc::from(body), now))
            })
            .collect())
    }

    /// The subscriptions an ask goes to: candidates that pass the fields filter.
    async fn targets(&self, ask: &Ask<'_>, actor: &Actor) -> Result<Vec<Arc<Subscription>>> {
        Ok(self
            .hook_candidates(ask.catalog, ask.event, actor)
            .await?
            .into_iter()
            .filter(|s| s.tracks(ask.catalog, ask.event, ask.changed))
            .collect())
    }

    /// Takes the hooks' next `sequenceId`s and sends their calls at once, each on a task of
    /// its own.
    async fn send_all(
        &self,
        subs: Vec<Arc<Subscription>>,
        ask: &Ask<'_>,
        actor: &Actor,
    ) -> Result<JoinSet<CallResult>> {
        let client = self
            .hooks
            .client()
            .ok_or_else(|| Error::internal("webhook delivery is not configured"))?;
        let calls = self.prepare(subs, ask, actor).await?;
        let timeout = self.hooks.config.timeout;
        let mut set = JoinSet::new();
        for (sub, seq, payload, body, at) in calls {
            let client = client.clone();
            set.spawn(async move {
                let (attempt, reply) = call(&*client, &sub, seq, body, timeout).await;
                CallResult {
                    sub,
                    seq,
                    payload,
                    at,
                    attempt,
                    reply,
                }
            });
        }
        Ok(set)
    }

    /// Asks the `record.before.*` hooks; the first failure denies the write (spec 02 §4.6).
    pub(crate) async fn ask_before(&self, ask: Ask<'_>, actor: &Actor) -> Result<()> {
        let subs = self.targets(&ask, actor).await?;
        if subs.is_empty() {
            return Ok(());
        }
        let mut set = self.send_all(subs, &ask, actor).await?;
        let mut done = Vec::new();
        let mut denial = None;
        while let Some(joined) = set.join_next().await {
            let Ok(r) = joined else {
                // A call that could not finish is no approval.
                denial = Some(Error::new(ErrorCode::RejectedByWebhook, DEFAULT_DENIAL));
                break;
            };
            let failed = !r.ok();
            done.push(r);
            if failed {
                denial = done.last().map(deny);
                break;
            }
        }
        // First error wins: the others are not waited for (they are cancelled).
        set.abort_all();
        self.after_calls(done, &ask, "request", actor).await;
        match denial {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Runs the `record.updating` hooks of a Changes call and merges their answers: values
    /// of successful replies (a higher hook id wins a conflict), messages in hook id order.
    pub(crate) async fn ask_updating(
        &self,
        ask: Ask<'_>,
        actor: &Actor,
    ) -> Result<(Vec<HookMessage>, Map<String, Value>)> {
        let subs = self.targets(&ask, actor).await?;
        if subs.is_empty() {
            return Ok((Vec::new(), Map::new()));
        }
        let mut set = self.send_all(subs, &ask, actor).await?;
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(r) = joined {
                done.push(r);
            }
        }
        done.sort_by_key(|r| r.sub.db_id);
        let mut messages = Vec::new();
        let mut values = Map::new();
        for r in &done {
            let body = r.json();
            if let Some(m) = HookMessage::from_value(body.get("message")) {
                messages.push(m);
            }
            if !r.ok() {
                continue;
            }
            if let Some(Value::Object(v)) = body.get("values") {
                for (key, value) in v {
                    // Keys are field ids or prevIds; unknown fields are dropped.
                    if let Some(f) = ask.catalog.field(key) {
                        values.insert(f.id.clone(), value.clone());
                    }
                }
            }
        }
        self.after_calls(done, &ask, "action", actor).await;
        Ok((messages, values))
    }

    /// Logs calls made at once (in the background) and drops hooks that answered 410.
    async fn after_calls(
        &self,
        done: Vec<CallResult>,
        ask: &Ask<'_>,
        kind: &'static str,
        actor: &Actor,
    ) {
        if done.is_empty() {
            return;
        }
        let gone: Vec<i64> = done
            .iter()
            .filter(|r| r.gone())
            .map(|r| r.sub.db_id)
            .collect();
        let (event, catalog, record) = (ask.event.code(), ask.catalog.db_id, ask.record_db_id);
        let user = super::user_id(actor);
        let store = self.store.clone();
        let log = async move {
            let r = store
                .write(move |c| -> Result<()> {
                    for r in &done {
                        outbox::insert_done(
                            c,
                            &NewDelivery {
                                hook_id: r.sub.db_id,
                                seq: Some(r.seq),
                                kind,
                                event,
                                catalog_db_id: Some(catalog),
                                record_db_id: record,
                                payload: &r.payload,
                                user_id: user.as_deref(),
                                state: "pending",
                                now: r.at,
                                resend_of: None,
                            },
                            &r.attempt,
                            r.ok(),
                        )?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, "could not log webhook calls");
            }
        };
        tokio::spawn(log);
        for id in gone {
            if let Err(e) = self.drop_subscription(id).await {
                tracing::warn!(error = %e, hook = id, "could not delete a gone webhook");
            }
        }
    }
}

/// The error a denying reply becomes: 400 with the receiver's message (spec 02 §4.6).
fn deny(r: &CallResult) -> Error {
    let m = HookMessage::from_value(r.json().get("message"));
    let text = m
        .as_ref()
        .map(|m| m.text.clone())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| DEFAULT_DENIAL.to_string());
    let mut e = Error::new(ErrorCode::RejectedByWebhook, text);
    e.title = m.and_then(|m| m.title);
    tracing::debug!(hook = r.sub.db_id, status = ?r.attempt.status, error = ?r.attempt.error, "webhook request denied the write");
    e
}
