//! The application core: the only thing that changes data. REST handlers, automation, imports
//! and the UI all call [`App`] the same way; it validates, checks rights, applies defaults,
//! asks before-hooks, writes in one transaction (values, title, history) and publishes
//! after-events once committed. No HTTP and no JavaScript engine here.

pub mod aggregate;
pub mod auth;
pub mod catalogs;
pub mod error;
pub mod events;
pub mod files;
pub mod history;
pub mod messages;
pub mod query;
pub mod records;
pub mod render;
pub mod rights;
pub mod rights_api;
pub mod scenarios;
pub mod schema;
pub mod search;
pub mod views;
pub mod webhooks;
pub mod wire;

use std::sync::{Arc, RwLock};

use kartoteka_store::schema as ddl;
use kartoteka_store::Store;

pub use error::{Error, Result};
pub use kartoteka_model as model;
pub use schema::{Catalog, Schema, Section};

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The server itself or an automation: events carry `user.id = null`.
    System,
    /// An employee: a record of `$users`.
    User { db_id: i64, id: String },
}

impl Actor {
    /// The employee's `$users` record `dbId`, if any.
    pub fn user_db_id(&self) -> Option<i64> {
        match self {
            Actor::System => None,
            Actor::User { db_id, .. } => Some(*db_id),
        }
    }
}

/// Settings the core needs to start.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// `postgres://…`, or a SQLite file path (optionally `sqlite://PATH`).
    pub database_url: String,
    /// Where uploaded files are kept unless the server installs another storage
    /// ([`App::set_file_storage`]).
    pub files_dir: std::path::PathBuf,
    /// The server's public address, for absolute file URLs in record values
    /// (`https://kartoteka.example.com`); empty gives paths.
    pub public_url: String,
    /// Webhook delivery: timeout, retry schedule, log retention.
    pub webhooks: webhooks::WebhookConfig,
}

/// The application: store, structure snapshot, auth caches and events.
pub struct App {
    pub(crate) store: Store,
    schema: RwLock<Arc<Schema>>,
    pub events: events::Events,
    pub(crate) auth: auth::AuthCache,
    /// Serialises schema reloads, so that a reload which read older state never replaces one
    /// that read newer state.
    reload_lock: tokio::sync::Mutex<()>,
    /// File storage and the picture decoding slots.
    pub(crate) files: files::Files,
    /// The key that signs upload policies and download links, read once.
    pub(crate) files_secret: tokio::sync::OnceCell<Vec<u8>>,
    public_url: String,
    /// Webhook subscriptions (cached), the dispatcher's wake-up and the sending client.
    pub(crate) hooks: webhooks::Hooks,
    /// The rights rules and the callers' subjects, cached.
    pub(crate) rights: rights::RightsCache,
    /// The compiler scenario files must pass.
    pub(crate) scenarios: scenarios::Scenarios,
}

impl App {
    /// Opens the store (migrating it) and loads the structure.
    pub async fn open(cfg: &CoreConfig) -> Result<Arc<App>> {
        let store = Store::open(&cfg.database_url).await?;
        let app = App {
            store,
            schema: RwLock::new(Arc::new(Schema::default())),
            events: events::Events::default(),
            auth: auth::AuthCache::default(),
            reload_lock: tokio::sync::Mutex::new(()),
            files: files::Files::new(Arc::new(files::storage::LocalStorage::new(
                cfg.files_dir.clone(),
            ))),
            files_secret: tokio::sync::OnceCell::new(),
            public_url: cfg.public_url.trim_end_matches('/').to_string(),
            hooks: webhooks::Hooks::new(cfg.webhooks.clone()),
            rights: rights::RightsCache::default(),
            scenarios: scenarios::Scenarios::default(),
        };
        app.reload_schema().await?;
        Ok(Arc::new(app))
    }

    /// The current structure.
    pub fn schema(&self) -> Arc<Schema> {
        self.schema
            .read()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Reloads the structure after a change.
    pub(crate) async fn reload_schema(&self) -> Result<()> {
        let _one_at_a_time = self.reload_lock.lock().await;
        let (sections, catalogs) = self
            .store
            .read(|c| -> Result<_> { Ok((ddl::load_sections(c)?, ddl::load_catalogs(c)?)) })
            .await?;
        let mut fresh = Schema::new(sections, catalogs);
        fresh.file_base = self.public_url.clone();
        let fresh = Arc::new(fresh);
        match self.schema.write() {
            Ok(mut s) => *s = fresh,
            Err(p) => *p.into_inner() = fresh,
        }
        // Rights views' filters are read against the structure, and `$users` link fields
        // make the right groups.
        self.rights_changed();
        Ok(())
    }

    /// Which backend the store runs on ("sqlite" or "postgres").
    pub fn backend_name(&self) -> &'static str {
        match self.store.dialect() {
            kartoteka_store::Dialect::Sqlite => "sqlite",
            kartoteka_store::Dialect::Postgres => "postgres",
        }
    }

    /// Finishes queued writes and closes the store.
    pub fn close(&self) {
        self.store.close();
    }
}
