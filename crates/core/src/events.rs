//! Typed domain events. Before-hooks are asked before a write and may veto it; after-events
//! are published only once the write is committed, so side effects (webhooks, automation)
//! never run inside the write transaction.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::Result;

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A committed write.
#[derive(Debug, Clone)]
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
}

/// The future a before-hook returns.
pub type HookFuture<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Asked before every record write; an `Err` vetoes the write and is returned to the caller.
pub trait BeforeHook: Send + Sync {
    fn before<'a>(&'a self, event: &'a BeforeEvent) -> HookFuture<'a>;
}

/// The registered hooks and the after-event channel.
pub struct Events {
    hooks: std::sync::RwLock<Vec<Arc<dyn BeforeHook>>>,
    after: tokio::sync::broadcast::Sender<Arc<AfterEvent>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            hooks: std::sync::RwLock::new(Vec::new()),
            after: tokio::sync::broadcast::channel(4096).0,
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

    /// True when some hook wants to see writes (so callers can skip building events).
    pub fn has_before_hooks(&self) -> bool {
        self.hooks.read().map(|h| !h.is_empty()).unwrap_or(false)
    }

    /// Asks every hook, in registration order; the first refusal wins.
    pub async fn before(&self, event: &BeforeEvent) -> Result<()> {
        let hooks: Vec<Arc<dyn BeforeHook>> =
            self.hooks.read().map(|h| h.clone()).unwrap_or_default();
        for h in hooks {
            h.before(event).await?;
        }
        Ok(())
    }

    /// Subscribes to committed writes.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<AfterEvent>> {
        self.after.subscribe()
    }

    /// True when anyone listens for after-events.
    pub fn has_listeners(&self) -> bool {
        self.after.receiver_count() > 0
    }

    pub(crate) fn publish(&self, e: AfterEvent) {
        // No receiver is not an error: nothing listens yet.
        let _ = self.after.send(Arc::new(e));
    }
}
