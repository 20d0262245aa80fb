//! Webhooks (spec 02 §4): subscriptions are records of `$webhooks`; this module keeps them
//! cached, matches them against record operations, builds the exact message bodies and signs
//! them. Notifications go through the durable outbox (`outbox.rs` in the store, written in
//! the write transaction) and are sent by [`dispatch`]; requests and actions are sent at once
//! ([`requests`]). Sending itself is behind [`WebhookClient`], supplied by the server (the
//! core knows no HTTP).

pub mod dispatch;
pub mod log;
pub mod requests;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use kartoteka_model::value::FieldValue;
use kartoteka_model::FieldDef;
use kartoteka_store::outbox::{self, NewDelivery};
use kartoteka_store::records::{self as rec, RecordData, Selector};
use kartoteka_store::Conn;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::render::{keyed_values, render_value, Lookups};
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

/// The `dbId` of the `$webhooks` catalog.
pub const WEBHOOKS_CATALOG: i64 = 5;

/// The seven event codes (spec 02 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookEvent {
    Created,
    Updated,
    Deleted,
    BeforeCreated,
    BeforeUpdated,
    BeforeDeleted,
    Updating,
}

impl HookEvent {
    /// The wire code (`hook.event`).
    pub fn code(self) -> &'static str {
        match self {
            HookEvent::Created => "record.created",
            HookEvent::Updated => "record.updated",
            HookEvent::Deleted => "record.deleted",
            HookEvent::BeforeCreated => "record.before.created",
            HookEvent::BeforeUpdated => "record.before.updated",
            HookEvent::BeforeDeleted => "record.before.deleted",
            HookEvent::Updating => "record.updating",
        }
    }

    fn from_item(item: &str) -> Option<HookEvent> {
        let code = item.strip_prefix('$').unwrap_or(item);
        [
            HookEvent::Created,
            HookEvent::Updated,
            HookEvent::Deleted,
            HookEvent::BeforeCreated,
            HookEvent::BeforeUpdated,
            HookEvent::BeforeDeleted,
            HookEvent::Updating,
        ]
        .into_iter()
        .find(|e| e.code() == code)
    }

    /// The tracked-fields filter does not apply to deletions (spec 02 §4.3).
    fn tracks_fields(self) -> bool {
        !matches!(self, HookEvent::Deleted | HookEvent::BeforeDeleted)
    }
}

/// A `$webhooks` record, as the dispatcher needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub db_id: i64,
    /// The public id (`hook.id`).
    pub id: String,
    pub on: bool,
    pub catalog_db_id: Option<i64>,
    pub events: Vec<HookEvent>,
    /// Field ids as written in `$trackFields`; empty = any field.
    pub track: Vec<String>,
    pub url: String,
    /// `$users` dbIds; empty = anyone.
    pub initiators: Vec<i64>,
    pub secret: String,
    pub standard: bool,
    pub failing_since: Option<i64>,
}

impl Subscription {
    fn from_record(catalog: &Catalog, d: &RecordData) -> Subscription {
        let get = |id: &str| catalog.field(id).and_then(|f| d.values.get(&f.db_id));
        let text = |id: &str| match get(id) {
            Some(FieldValue::Text(s)) => s.trim().to_string(),
            _ => String::new(),
        };
        let items = |id: &str| match get(id) {
            Some(FieldValue::Items(v)) => v.clone(),
            _ => Vec::new(),
        };
        Subscription {
            db_id: d.db_id,
            id: d.public_id(),
            on: !items("$status").iter().any(|i| i == "$off"),
            catalog_db_id: match get("$catalog") {
                Some(FieldValue::Links(l)) => l.first().and_then(|l| l.record_id.parse().ok()),
                _ => None,
            },
            events: items("$eventTypes")
                .iter()
                .filter_map(|i| HookEvent::from_item(i))
                .collect(),
            track: text("$trackFields")
                .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            url: text("$url"),
            initiators: match get("$initiator") {
                Some(FieldValue::Links(l)) => {
                    l.iter().filter_map(|l| l.record_id.parse().ok()).collect()
                }
                Some(FieldValue::Users(u)) => u.iter().filter_map(|u| u.parse().ok()).collect(),
                _ => Vec::new(),
            },
            secret: match get("$secret") {
                Some(FieldValue::Text(s)) => s.clone(),
                _ => String::new(),
            },
            standard: matches!(get("$standardWebhooks"), Some(FieldValue::Bool(true))),
            failing_since: match get("$failingSince") {
                Some(FieldValue::Date(d)) => *d,
                _ => None,
            },
        }
    }

    /// Status, catalog, event and initiator (spec 02 §4.3); the fields filter is separate.
    fn wants(&self, catalog_db_id: i64, event: HookEvent, user: Option<i64>) -> bool {
        self.on
            && self.catalog_db_id == Some(catalog_db_id)
            && self.events.contains(&event)
            && (self.initiators.is_empty() || user.is_some_and(|u| self.initiators.contains(&u)))
    }

    /// The tracked-fields filter: pass when nothing is tracked or a changed field is.
    fn tracks(&self, catalog: &Catalog, event: HookEvent, changed: &[i64]) -> bool {
        if self.track.is_empty() || !event.tracks_fields() {
            return true;
        }
        self.track
            .iter()
            .filter_map(|t| catalog.field(t))
            .any(|f| changed.contains(&f.db_id))
    }
}

/// One outgoing webhook call.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Arc<str>,
    pub timeout: Duration,
}

/// A receiver's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// The reply body, cut at [`MAX_REPLY`] bytes.
    pub body: Vec<u8>,
}

/// The most of a reply body that is read.
pub const MAX_REPLY: usize = 64 * 1024;

/// The future a client returns: a reply, or why none came (refused, timeout, bad URL).
pub type ReplyFuture = Pin<Box<dyn Future<Output = std::result::Result<Reply, String>> + Send>>;

/// Sends webhook calls: POST, no redirects followed, the body as given.
pub trait WebhookClient: Send + Sync + 'static {
    fn post(&self, call: Outgoing) -> ReplyFuture;
}

/// Delivery settings (README «Webhooks»).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Per call.
    pub timeout: Duration,
    /// Delays before the 2nd, 3rd, … try of a notification; after the last, it has failed.
    pub retry_schedule: Vec<Duration>,
    /// A hook whose deliveries fail for this long is marked (`$failingSince`).
    pub failing_after: Duration,
    /// Finished deliveries are kept in the log this long.
    pub log_retention: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(10),
            retry_schedule: parse_schedule(DEFAULT_SCHEDULE).unwrap_or_default(),
            failing_after: Duration::from_secs(3600),
            log_retention: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// The default retry delays: 11 more tries over about 28 hours.
pub const DEFAULT_SCHEDULE: &str = "1s,5s,30s,2m,5m,30m,1h,2h,4h,8h,12h";

/// Parses durations such as `500ms`, `30s`, `5m`, `2h`, `1d`, comma-separated.
pub fn parse_schedule(s: &str) -> std::result::Result<Vec<Duration>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(parse_duration)
        .collect()
}

/// Parses one duration: a number and a unit (`ms`, `s`, `m`, `h`, `d`).
pub fn parse_duration(p: &str) -> std::result::Result<Duration, String> {
    let split = p.find(|c: char| !c.is_ascii_digit()).unwrap_or(p.len());
    let (n, unit) = p.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{p:?} is not a duration such as 30s or 5m"))?;
    let ms = match unit {
        "ms" => 1,
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{p:?}: unknown unit {unit:?} (ms, s, m, h, d)")),
    };
    Ok(Duration::from_millis(n.saturating_mul(ms)))
}

/// Subscriptions, cached; the wake-up of the dispatcher; the client.
pub struct Hooks {
    cache: RwLock<Option<Arc<Vec<Arc<Subscription>>>>>,
    generation: AtomicU64,
    pub(crate) wake: tokio::sync::Notify,
    client: OnceLock<Arc<dyn WebhookClient>>,
    pub(crate) config: WebhookConfig,
}

impl Hooks {
    pub(crate) fn new(config: WebhookConfig) -> Hooks {
        Hooks {
            cache: RwLock::new(None),
            generation: AtomicU64::new(0),
            wake: tokio::sync::Notify::new(),
            client: OnceLock::new(),
            config,
        }
    }

    /// Forgets the cached subscriptions (after a write to `$webhooks`).
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut c) = self.cache.write() {
            *c = None;
        }
    }

    pub(crate) fn client(&self) -> Option<Arc<dyn WebhookClient>> {
        self.client.get().cloned()
    }
}

/// The signature headers of one call: Bpium's `X-Hook-Signature` (base64 HMAC-MD5 of the
/// exact body) and, when the hook opted in, the Standard Webhooks trio.
pub fn signature_headers(
    sub: &Subscription,
    seq: i64,
    body: &str,
    now_secs: i64,
) -> Vec<(&'static str, String)> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut headers = vec![
        (
            "content-type",
            "application/json; charset=utf-8".to_string(),
        ),
        ("x-hook-signature", b64.encode(hmac_md5(&sub.secret, body))),
    ];
    if sub.standard {
        let id = format!("kt_{}_{}", sub.db_id, seq);
        let key = sub
            .secret
            .strip_prefix("whsec_")
            .and_then(|k| b64.decode(k).ok())
            .unwrap_or_else(|| sub.secret.as_bytes().to_vec());
        let signed = format!("{id}.{now_secs}.{body}");
        let sig = match Hmac::<sha2::Sha256>::new_from_slice(&key) {
            Ok(mut m) => {
                m.update(signed.as_bytes());
                b64.encode(m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        };
        headers.push(("webhook-id", id));
        headers.push(("webhook-timestamp", now_secs.to_string()));
        headers.push(("webhook-signature", format!("v1,{sig}")));
    }
    headers
}

fn hmac_md5(secret: &str, body: &str) -> Vec<u8> {
    // HMAC takes keys of any length; the error case cannot happen for it.
    match Hmac::<md5::Md5>::new_from_slice(secret.as_bytes()) {
        Ok(mut m) => {
            m.update(body.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// The message of spec 02 §4.4 around an already serialised `payload`: these bytes are
/// signed and sent, and kept for every retry and resend.
pub fn message(
    hook_id: &str,
    event: &str,
    seq: i64,
    at_ms: i64,
    payload: &str,
    user: Option<&str>,
) -> String {
    let hook = json!({"id": hook_id, "event": event, "sequenceId": seq});
    let user = json!({ "id": user });
    format!(
        "{{\"timestamp\":\"{}\",\"hook\":{hook},\"payload\":{payload},\"user\":{user}}}",
        at_ms / 1000
    )
}

/// The public id of the acting employee (`user.id`), `None` for the system.
pub(crate) fn user_id(actor: &Actor) -> Option<String> {
    match actor {
        Actor::System => None,
        Actor::User { id, .. } => Some(id.clone()),
    }
}

/// Renders the fields of `catalog` that `keep` selects, in the record read format with 2.0
/// keys; fields without a value render `null`.
pub(crate) fn render_fields(
    schema: &Schema,
    catalog: &Catalog,
    values: &HashMap<i64, FieldValue>,
    look: &Lookups,
    keep: impl Fn(&FieldDef) -> bool,
) -> Map<String, Value> {
    keyed_values(
        catalog
            .fields
            .iter()
            .filter(|f| crate::render::has_value(f))
            .filter(|f| keep(f))
            .map(|f| {
                let v = values
                    .get(&f.db_id)
                    .map(|v| render_value(schema, look, v))
                    .unwrap_or(Value::Null);
                (f, v)
            }),
        false,
    )
}

/// An operation on a record, as a payload describes it.
pub(crate) struct Change<'a> {
    pub event: HookEvent,
    pub catalog: &'a Catalog,
    pub record_db_id: Option<i64>,
    /// `None` before a record exists (`record.before.created`, a new card).
    pub public_id: Option<&'a str>,
    pub title: Option<&'a str>,
    /// The fields that changed (the filled ones on create).
    pub changed: &'a [i64],
    /// The state before (empty on create) and after (the card for `record.updating`).
    pub before: &'a HashMap<i64, FieldValue>,
    pub after: &'a HashMap<i64, FieldValue>,
}

impl Change<'_> {
    fn records(&self) -> [RecordData; 2] {
        let data = |values: &HashMap<i64, FieldValue>| RecordData {
            db_id: self.record_db_id.unwrap_or(0),
            id: None,
            created_at: String::new(),
            updated_at: String::new(),
            values: values.clone(),
        };
        [data(self.before), data(self.after)]
    }

    /// The `payload` (spec 02 §4.4): `values` (changed fields, the filled ones on create),
    /// `prevValues` (all fields before; `{}` on create), `allValues` (all fields after; the
    /// last state on delete; the card for `record.updating`), and the title when known.
    pub(crate) fn payload(
        &self,
        conn: &mut dyn Conn,
        schema: &Schema,
    ) -> Result<Map<String, Value>> {
        let [before, after] = self.records();
        let look = Lookups::gather(conn, &[&before, &after])?;
        let cat = self.catalog;
        let mut p = Map::new();
        p.insert("catalogId".into(), Value::String(cat.id.clone()));
        if let Some(id) = self.public_id {
            p.insert("recordId".into(), Value::String(id.to_string()));
        }
        if let Some(t) = self.title {
            p.insert("title".into(), Value::String(t.to_string()));
        }
        let all = |values| Value::Object(render_fields(schema, cat, values, &look, |_| true));
        match self.event {
            HookEvent::Deleted | HookEvent::BeforeDeleted => {
                p.insert("prevValues".into(), all(self.before));
                p.insert("allValues".into(), all(self.before));
            }
            event => {
                // `allValues` is rendered once; `values` are its entries of changed fields.
                let after = render_fields(schema, cat, self.after, &look, |_| true);
                let keys: HashSet<&str> = cat
                    .fields
                    .iter()
                    .filter(|f| self.changed.contains(&f.db_id))
                    .flat_map(|f| {
                        [
                            Some(f.id.as_str()),
                            f.duplicate.then_some(f.prev_id.as_str()),
                        ]
                    })
                    .flatten()
                    .collect();
                let values: Map<String, Value> = after
                    .iter()
                    .filter(|(k, _)| keys.contains(k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                p.insert("values".into(), Value::Object(values));
                match event {
                    HookEvent::Created | HookEvent::BeforeCreated => {
                        p.insert("prevValues".into(), Value::Object(Map::new()));
                    }
                    HookEvent::Updating => {}
                    _ => {
                        p.insert("prevValues".into(), all(self.before));
                    }
                }
                p.insert("allValues".into(), Value::Object(after));
            }
        }
        Ok(p)
    }
}

/// Writes one outbox row per matching subscription, in the caller's transaction; returns
/// true when any was written. `candidates` were picked before the transaction by status,
/// catalog, event and initiator; the fields filter runs here, where the changes are known.
pub(crate) fn enqueue(
    conn: &mut dyn Conn,
    schema: &Schema,
    candidates: &[Arc<Subscription>],
    ch: &Change,
    user: Option<&str>,
) -> Result<bool> {
    let subs: Vec<&Arc<Subscription>> = candidates
        .iter()
        .filter(|s| s.tracks(ch.catalog, ch.event, ch.changed))
        .collect();
    if subs.is_empty() {
        return Ok(false);
    }
    // The payload is rendered once for all hooks. Numbering (`sequenceId`) waits for the
    // dispatcher, so that concurrent writes do not queue on the hook's counter.
    let payload = Value::Object(ch.payload(conn, schema)?).to_string();
    let now = kartoteka_model::time::now_ms();
    for sub in subs {
        outbox::insert(
            conn,
            &NewDelivery {
                hook_id: sub.db_id,
                seq: None,
                kind: "notification",
                event: ch.event.code(),
                catalog_db_id: Some(ch.catalog.db_id),
                record_db_id: ch.record_db_id,
                payload: &payload,
                user_id: user,
                state: "pending",
                now,
                resend_of: None,
            },
        )?;
    }
    Ok(true)
}

/// The text id of the `$webhooks` catalog.
pub(crate) const WEBHOOKS_CATALOG_ID: &str = "$webhooks";

pub(crate) fn seq_column(hooks: &Catalog) -> Result<String> {
    hooks
        .field("$sequenceId")
        .map(|f| f.column.clone())
        .ok_or_else(|| Error::internal("$webhooks has no $sequenceId field"))
}

/// A `$webhooks.$url` must be an absolute http(s) URL (spec 02 §4.8).
pub(crate) fn check_url(url: &str) -> std::result::Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("{url:?} is not an absolute http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains(char::is_whitespace) || url.contains(char::is_whitespace) {
        return Err(format!("{url:?} has no valid host"));
    }
    Ok(())
}

impl App {
    /// The enabled subscriptions, loaded once and kept until `$webhooks` changes.
    pub(crate) async fn subscriptions(&self) -> Result<Arc<Vec<Arc<Subscription>>>> {
        if let Ok(c) = self.hooks.cache.read() {
            if let Some(subs) = c.as_ref() {
                return Ok(subs.clone());
            }
        }
        let generation = self.hooks.generation.load(Ordering::SeqCst);
        let schema = self.schema();
        let Some(catalog) = schema.find_catalog(WEBHOOKS_CATALOG_ID).cloned() else {
            return Ok(Arc::new(Vec::new()));
        };
        let cat = catalog.clone();
        let rows = self
            .store
            .read(move |c| {
                rec::fetch_records(
                    c,
                    cat.db_id,
                    &cat.fields,
                    &Selector::Page {
                        limit: i64::MAX / 2,
                        offset: 0,
                    },
                )
                .map_err(Error::from)
            })
            .await?;
        let mut subs: Vec<Arc<Subscription>> = rows
            .iter()
            .map(|d| Arc::new(Subscription::from_record(&catalog, d)))
            .collect();
        subs.sort_by_key(|s| s.db_id);
        let subs = Arc::new(subs);
        if self.hooks.generation.load(Ordering::SeqCst) == generation {
            if let Ok(mut c) = self.hooks.cache.write() {
                *c = Some(subs.clone());
            }
        }
        Ok(subs)
    }

    /// The subscriptions that may fire for an operation, before the fields filter.
    pub(crate) async fn hook_candidates(
        &self,
        catalog: &Catalog,
        event: HookEvent,
        actor: &Actor,
    ) -> Result<Vec<Arc<Subscription>>> {
        let subs = self.subscriptions().await?;
        if subs.is_empty() {
            return Ok(Vec::new());
        }
        let user = actor.user_db_id();
        Ok(subs
            .iter()
            .filter(|s| s.wants(catalog.db_id, event, user))
            .cloned()
            .collect())
    }

    /// Wakes the dispatcher after a commit that enqueued deliveries.
    pub(crate) fn deliveries_enqueued(&self) {
        self.hooks.wake.notify_one();
    }

    /// Installs the client that sends webhook calls (once, at start-up).
    pub fn set_webhook_client(&self, client: Arc<dyn WebhookClient>) {
        let _ = self.hooks.client.set(client);
    }

    /// Deletes a subscription whose receiver answered 410 Gone: a silent system delete
    /// (no history, no events), its pending deliveries given up.
    pub(crate) async fn drop_subscription(&self, hook_db_id: i64) -> Result<()> {
        let now = kartoteka_model::time::now_ms();
        self.store
            .write(move |c| -> Result<()> {
                rec::delete_record(c, WEBHOOKS_CATALOG, hook_db_id)?;
                rec::mark_title_deleted(c, WEBHOOKS_CATALOG, hook_db_id)?;
                outbox::drop_pending_of(c, hook_db_id, now)?;
                Ok(())
            })
            .await?;
        tracing::info!(
            hook = hook_db_id,
            "webhook receiver answered 410 Gone: subscription deleted"
        );
        self.hooks.invalidate();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(secret: &str, standard: bool) -> Subscription {
        Subscription {
            db_id: 4,
            id: "4".into(),
            on: true,
            catalog_db_id: Some(100),
            events: vec![HookEvent::Created],
            track: vec![],
            url: "http://127.0.0.1/".into(),
            initiators: vec![],
            secret: secret.into(),
            standard,
            failing_since: None,
        }
    }

    #[test]
    fn bpium_signature_is_base64_hmac_md5_of_the_body() {
        // RFC 2202 test case 2: HMAC-MD5("Jefe", "what do ya want for nothing?").
        let h = signature_headers(&sub("Jefe", false), 1, "what do ya want for nothing?", 0);
        let sig = h
            .iter()
            .find(|(k, _)| *k == "x-hook-signature")
            .map(|(_, v)| v.clone());
        let expected = base64::engine::general_purpose::STANDARD.encode([
            0x75, 0x0c, 0x78, 0x3e, 0x6a, 0xb0, 0xb5, 0x03, 0xea, 0xa8, 0x6e, 0x31, 0x0a, 0x5d,
            0xb7, 0x38,
        ]);
        assert_eq!(sig, Some(expected));
        assert!(!h.iter().any(|(k, _)| *k == "webhook-signature"));
    }

    #[test]
    fn standard_webhooks_sign_id_timestamp_and_body_with_the_decoded_key() {
        let key = base64::engine::general_purpose::STANDARD.encode(b"0123456789abcdef");
        let h = signature_headers(&sub(&format!("whsec_{key}"), true), 7, "{}", 1700000000);
        let get = |name: &str| h.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        assert_eq!(get("webhook-id").as_deref(), Some("kt_4_7"));
        assert_eq!(get("webhook-timestamp").as_deref(), Some("1700000000"));
        let mut m = Hmac::<sha2::Sha256>::new_from_slice(b"0123456789abcdef").expect("key");
        m.update(b"kt_4_7.1700000000.{}");
        let want = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
        assert_eq!(get("webhook-signature"), Some(format!("v1,{want}")));
    }

    #[test]
    fn schedules_parse_units_and_reject_garbage() {
        assert_eq!(
            parse_schedule("500ms, 1s,5m,2h,1d").expect("schedule"),
            vec![
                Duration::from_millis(500),
                Duration::from_secs(1),
                Duration::from_secs(300),
                Duration::from_secs(7200),
                Duration::from_secs(86400)
            ]
        );
        assert!(parse_schedule("5x").is_err());
        assert!(parse_schedule("fast").is_err());
        let total: Duration = parse_schedule(DEFAULT_SCHEDULE)
            .expect("default")
            .iter()
            .sum();
        assert!(total >= Duration::from_secs(24 * 3600));
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        for bad in [
            "example.com/hook",
            "ftp://x",
            "http://",
            "http:// x",
            "/relative",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_items_map_to_codes() {
        assert_eq!(
            HookEvent::from_item("$record.before.updated"),
            Some(HookEvent::BeforeUpdated)
        );
        assert_eq!(
            HookEvent::from_item("record.updating"),
            Some(HookEvent::Updating)
        );
        assert_eq!(HookEvent::from_item("$record.after.create"), None);
    }
}
