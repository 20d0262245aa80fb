//! Typed domain events. Before-hooks are asked before a write and may veto it; after-events
//! are published only once the write is committed, so side effects (webhooks, automation)
//! never run inside the write transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Result;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecordAction {
    Created,
    Updated,
    Deleted,
}

impl RecordAction {
    pub fn code(self) -> &'static str {
        match self {
            RecordAction::Created => "CREATE",
            RecordAction::Updated => "UPDATE",
            RecordAction::Deleted => "DELETE",
        }
    }
}

/// A write about to happen. Values are in the record read format with 2.0 keys.
#[derive(Debug, Clone)]
pub struct BeforeEvent {
    pub action: RecordAction,
    pub catalog_id: String,
    pub catalog_db_id: i64,
    /// `None` for a record that does not exist yet.
    pub record_id: Option<String>,
    /// The fields being written (create, update) in read format.
    pub values: Map<String, Value>,
    /// The record's values before the write (update, delete).
    pub prev_values: Map<String, Value>,
    /// The employee who writes; `None` for the system and automations.
    pub user_db_id: Option<i64>,
    /// How many scenario runs led to this write (see [`cause_depth`]).
    pub depth: u32,
}

/// A committed write.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AfterEvent {
    pub action: RecordAction,
    pub catalog_id: String,
    pub catalog_db_id: i64,
    pub record_id: String,
    pub record_db_id: i64,
    /// Public ids of the fields whose value changed.
    pub changed_fields: Vec<String>,
    pub values: Map<String, Value>,
    pub prev_values: Map<String, Value>,
    pub user_db_id: Option<i64>,
    /// How many scenario runs led to this write (see [`cause_depth`]).
    pub depth: u32,
    /// The event's row in `automation_events` when it was journaled with its write (see
    /// [`BeforeHook::journals`]); the consumer forgets it once it has acted on it.
    #[serde(skip)]
    pub journal_id: Option<i64>,
}

/// A card being edited (the Changes call, spec 02 §4.9): nothing is written.
#[derive(Debug, Clone)]
pub struct UpdatingEvent {
    pub catalog_id: String,
    pub catalog_db_id: i64,
    /// `None` for a record not created yet.
    pub record_id: Option<String>,
    /// The field(s) just changed, read format.
    pub values: Map<String, Value>,
    /// Every value of the card as it is now, unsaved.
    pub all_values: Map<String, Value>,
    /// The record as stored (empty for a new one).
    pub prev_values: Map<String, Value>,
    pub user_db_id: Option<i64>,
    pub depth: u32,
}

/// What an updating hook answers: messages to show and values to put into the card.
pub type UpdatingFuture<'a> = Pin<
    Box<
        dyn Future<
                Output = Result<(
                    Vec<crate::webhooks::requests::HookMessage>,
                    Map<String, Value>,
                )>,
            > + Send
            + 'a,
    >,
>;

tokio::task_local! {
    /// Set around a scenario run: the number of runs that led to it. Writes made inside
    /// carry it in their events, so a chain of scenarios triggering each other can be cut.
    pub static CAUSE_DEPTH: u32;
}

/// The causation depth of the task writing now: 0 outside any scenario run.
pub fn cause_depth() -> u32 {
    CAUSE_DEPTH.try_with(|d| *d).unwrap_or(0)
}

/// The store's lane for a record write of the task writing now: a scenario run's writes
/// follow from a committed change and go ahead of new client writes (see
/// [`kartoteka_store::Store::write_in`]).
pub fn write_lane() -> kartoteka_store::Lane {
    if cause_depth() > 0 {
        kartoteka_store::Lane::FollowUp
    } else {
        kartoteka_store::Lane::Client
    }
}

/// The future a before-hook returns: values to put into the write (field id → value in
/// the write format; empty for none), or the refusal.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<Map<String, Value>>> + Send + 'a>>;

/// Asked before every record write; an `Err` vetoes the write and is returned to the caller,
/// values it returns are written too (an automation's substitution, spec 03 §3.4).
pub trait BeforeHook: Send + Sync {
    /// Whether the hook wants to see this write at all; asked first and cheaply, so that no
    /// event is built for writes no hook cares about.
    fn wants(&self, _catalog_db_id: i64, _action: RecordAction) -> bool {
        true
    }

    fn before<'a>(&'a self, event: &'a BeforeEvent) -> HookFuture<'a>;

    /// Whether the after-event of this write must outlive a crash: it is then journaled in
    /// the write's transaction (`automation_events`) and carries its `journal_id`.
    fn journals(&self, _catalog_db_id: i64, _action: RecordAction) -> bool {
        false
    }

    /// Whether the hook answers Changes calls on this catalog.
    fn wants_updating(&self, _catalog_db_id: i64) -> bool {
        false
    }

    /// Answers a Changes call.
    fn updating<'a>(&'a self, _event: &'a UpdatingEvent) -> UpdatingFuture<'a> {
        Box::pin(async { Ok((Vec::new(), Map::new())) })
    }
}

/// What a write does with its after-event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AfterWanted {
    /// Nobody listens: no event is built.
    No,
    /// Published after the commit.
    Publish,
    /// Journaled in the write's transaction too (see [`BeforeHook::journals`]).
    Journal,
}

impl AfterWanted {
    /// Builds the event inside the write's transaction when it is wanted, journaling it
    /// there when it must outlive a crash.
    pub(crate) fn build(
        self,
        conn: &mut dyn kartoteka_store::Conn,
        make: impl FnOnce() -> AfterEvent,
    ) -> Result<Option<AfterEvent>> {
        match self {
            AfterWanted::No => Ok(None),
            AfterWanted::Publish => Ok(Some(make())),
            AfterWanted::Journal => {
                let mut e = make();
                let text = serde_json::to_string(&e).map_err(|err| {
                    crate::error::Error::internal(format!("journaling an event: {err}"))
                })?;
                e.journal_id = Some(kartoteka_store::processes::journal_event(
                    conn,
                    &text,
                    kartoteka_model::time::now_ms(),
                )?);
                Ok(Some(e))
            }
        }
    }
}

/// The registered hooks and the after-event channels.
pub struct Events {
    hooks: std::sync::RwLock<Vec<Arc<dyn BeforeHook>>>,
    /// Listeners that may miss events when they fall behind (tests, caches).
    after: tokio::sync::broadcast::Sender<Arc<AfterEvent>>,
    /// The one consumer that sees every event (the automation runner): unbounded, so that
    /// an event is never dropped in memory; journaled events also wait in the store.
    consumer: std::sync::RwLock<Option<tokio::sync::mpsc::UnboundedSender<Arc<AfterEvent>>>>,
    /// Bumped on every committed write of the automation catalogs (`$scripts`, `$events`,
    /// `$webRequests`) before the write returns: caches of them compare it.
    automation_generation: std::sync::atomic::AtomicU64,
}

/// The catalogs whose records configure automation: `$scripts`, `$events`, `$webRequests`.
const AUTOMATION_CATALOGS: [i64; 3] = [6, 7, 10];

impl Default for Events {
    fn default() -> Self {
        Events {
            hooks: std::sync::RwLock::new(Vec::new()),
            after: tokio::sync::broadcast::channel(4096).0,
            consumer: std::sync::RwLock::new(None),
            automation_generation: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Events {
    /// Registers a before-hook.
    pub fn add_before_hook(&self, hook: Arc<dyn BeforeHook>) {
        if let Ok(mut h) = self.hooks.write() {
            h.push(hook);
        }
    }

    /// True when some hook wants to see this write (so callers can skip building events).
    pub fn wants_before(&self, catalog_db_id: i64, action: RecordAction) -> bool {
        self.hooks
            .read()
            .map(|h| h.iter().any(|h| h.wants(catalog_db_id, action)))
            .unwrap_or(false)
    }

    /// Asks every hook that wants the write, in registration order; the first refusal wins.
    /// Values the hooks return are merged (a later hook wins a field).
    pub async fn before(&self, event: &BeforeEvent) -> Result<Map<String, Value>> {
        let hooks: Vec<Arc<dyn BeforeHook>> =
            self.hooks.read().map(|h| h.clone()).unwrap_or_default();
        let mut merged = Map::new();
        for h in hooks {
            if h.wants(event.catalog_db_id, event.action) {
                merged.extend(h.before(event).await?);
            }
        }
        Ok(merged)
    }

    /// True when some hook needs this write's after-event journaled.
    pub fn journals(&self, catalog_db_id: i64, action: RecordAction) -> bool {
        self.hooks
            .read()
            .map(|h| h.iter().any(|h| h.journals(catalog_db_id, action)))
            .unwrap_or(false)
    }

    /// What a write must do with its after-event (asked before its transaction).
    pub(crate) fn after_wanted(&self, catalog_db_id: i64, action: RecordAction) -> AfterWanted {
        if self.journals(catalog_db_id, action) {
            AfterWanted::Journal
        } else if self.has_listeners() {
            AfterWanted::Publish
        } else {
            AfterWanted::No
        }
    }

    /// True when some hook answers Changes calls on this catalog.
    pub fn wants_updating(&self, catalog_db_id: i64) -> bool {
        self.hooks
            .read()
            .map(|h| h.iter().any(|h| h.wants_updating(catalog_db_id)))
            .unwrap_or(false)
    }

    /// Asks every hook that answers Changes calls: messages in order, values merged (a
    /// later hook wins a field).
    pub async fn updating(
        &self,
        event: &UpdatingEvent,
    ) -> Result<(
        Vec<crate::webhooks::requests::HookMessage>,
        Map<String, Value>,
    )> {
        let hooks: Vec<Arc<dyn BeforeHook>> =
            self.hooks.read().map(|h| h.clone()).unwrap_or_default();
        let (mut messages, mut values) = (Vec::new(), Map::new());
        for h in hooks {
            if h.wants_updating(event.catalog_db_id) {
                let (m, v) = h.updating(event).await?;
                messages.extend(m);
                values.extend(v);
            }
        }
        Ok((messages, values))
    }

    /// Counts committed writes of the automation catalogs (see `automation_generation`).
    pub fn automation_generation(&self) -> u64 {
        self.automation_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Subscribes to committed writes.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<AfterEvent>> {
        self.after.subscribe()
    }

    /// Makes the caller the consumer that sees every after-event (replacing an earlier one).
    pub fn consume(&self) -> tokio::sync::mpsc::UnboundedReceiver<Arc<AfterEvent>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        if let Ok(mut c) = self.consumer.write() {
            *c = Some(tx);
        }
        rx
    }

    /// True when anyone listens for after-events.
    pub fn has_listeners(&self) -> bool {
        self.after.receiver_count() > 0
            || self
                .consumer
                .read()
                .is_ok_and(|c| c.as_ref().is_some_and(|c| !c.is_closed()))
    }

    /// Notes a committed write (every one, whether anyone listens or not).
    pub(crate) fn note_write(&self, catalog_db_id: i64) {
        if AUTOMATION_CATALOGS.contains(&catalog_db_id) {
            self.automation_generation
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
    }

    pub(crate) fn publish(&self, e: AfterEvent) {
        let e = Arc::new(e);
        if let Ok(c) = self.consumer.read() {
            if let Some(c) = c.as_ref() {
                // A consumer that is gone has stopped; its journaled events wait in the store.
                let _ = c.send(e.clone());
            }
        }
        // No receiver is not an error: nothing listens yet.
        let _ = self.after.send(e);
    }
}
