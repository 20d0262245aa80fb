//! Scenario files. A scenario is a `$scripts` record whose `$file` holds one BPMN file
//! (spec 03 §9); every write of `$file` compiles the file and refuses one that does not
//! compile (`invalid_scenario`, nothing written). The compiler belongs to the automation
//! crate, which registers it at start-up; the core only knows that a file must pass it.

use std::sync::{Arc, RwLock};

use kartoteka_model::value::{FieldValue, FileRef};
use kartoteka_model::ErrorCode;

use crate::error::{Error, Result};
use crate::schema::Catalog;
use crate::App;

/// `$scripts`.
pub const SCRIPTS_CATALOG: i64 = 6;

/// Compiles scenario files.
pub trait ScenarioCompiler: Send + Sync {
    /// `Err` with a message that names the offending element when the file is no scenario
    /// this server can run.
    fn check(&self, bytes: &[u8]) -> std::result::Result<(), String>;
}

/// The registered compiler, if any.
#[derive(Default)]
pub(crate) struct Scenarios {
    compiler: RwLock<Option<Arc<dyn ScenarioCompiler>>>,
    listeners: RwLock<Option<Arc<dyn WebListeners>>>,
}

impl App {
    /// Registers the scenario compiler; call once at start-up. Without one, scenario files
    /// are stored unchecked (a core used without automation).
    pub fn set_scenario_compiler(&self, compiler: Arc<dyn ScenarioCompiler>) {
        match self.scenarios.compiler.write() {
            Ok(mut c) => *c = Some(compiler),
            Err(p) => *p.into_inner() = Some(compiler),
        }
    }

    fn scenario_compiler(&self) -> Option<Arc<dyn ScenarioCompiler>> {
        match self.scenarios.compiler.read() {
            Ok(c) => c.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// The bytes of an uploaded file, by its id (`None` for an unknown file or an external
    /// link, which has no bytes here).
    pub async fn stored_file_bytes(&self, file_id: i64) -> Result<Option<Vec<u8>>> {
        let rows = self
            .store
            .read(move |c| kartoteka_store::aux::files_by_ids(c, &[file_id]).map_err(Error::from))
            .await?;
        let Some(key) = rows.get(&file_id).and_then(|r| r.storage_key.clone()) else {
            return Ok(None);
        };
        let bytes =
            self.file_storage().get(&key).await.map_err(|e| {
                Error::new(ErrorCode::Internal, format!("reading file {file_id}: {e}"))
            })?;
        Ok(Some(bytes.to_vec()))
    }

    /// Compiles the scenario files a write of `$scripts` puts into `$file`.
    pub(crate) async fn check_scenario_files<'a>(
        &self,
        catalog: &Catalog,
        values: impl Iterator<Item = (&'a str, &'a FieldValue)>,
    ) -> Result<()> {
        if catalog.db_id != SCRIPTS_CATALOG {
            return Ok(());
        }
        let Some(compiler) = self.scenario_compiler() else {
            return Ok(());
        };
        for (field, value) in values {
            let FieldValue::Files(files) = value else {
                continue;
            };
            if field != "$file" {
                continue;
            }
            for f in files {
                let bad = |m: String| Error::field(ErrorCode::InvalidScenario, "$file", m);
                let id = match f {
                    FileRef::Id(id) => id
                        .parse::<i64>()
                        .map_err(|_| bad(format!("unknown file {id:?}")))?,
                    FileRef::External { .. } => {
                        return Err(bad(
                            "a scenario must be an uploaded .bpmn file, not a link".into()
                        ))
                    }
                };
                let bytes = self
                    .stored_file_bytes(id)
                    .await?
                    .ok_or_else(|| bad(format!("file {id} has not been uploaded")))?;
                let compiler = compiler.clone();
                tokio::task::spawn_blocking(move || compiler.check(&bytes))
                    .await
                    .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?
                    .map_err(bad)?;
            }
        }
        Ok(())
    }
}

/// An HTTP call to a web listener (`ANY /api/webrequest/{urlId}`, spec 03 §3.3).
#[derive(Debug, Clone)]
pub struct WebCall {
    pub url_id: String,
    /// The full URL with its query.
    pub url: String,
    pub method: String,
    /// Names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `?async=true`: answer at once, run to the end in the background.
    pub run_async: bool,
}

/// A web listener's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct WebReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The future a web listener returns.
pub type WebFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<WebReply>> + Send>>;

/// Answers web listener calls by running their scenarios (the automation crate).
pub trait WebListeners: Send + Sync {
    fn call(&self, call: WebCall) -> WebFuture;
}

impl App {
    /// Registers what answers web listener calls; call once at start-up.
    pub fn set_web_listeners(&self, listeners: Arc<dyn WebListeners>) {
        match self.scenarios.listeners.write() {
            Ok(mut l) => *l = Some(listeners),
            Err(p) => *p.into_inner() = Some(listeners),
        }
    }

    /// Runs the listener a call names: 404 when there is none (or nothing answers them).
    pub async fn web_request(&self, call: WebCall) -> Result<WebReply> {
        let listeners = match self.scenarios.listeners.read() {
            Ok(l) => l.clone(),
            Err(p) => p.into_inner().clone(),
        };
        match listeners {
            Some(l) => l.call(call).await,
            None => Err(Error::new(
                ErrorCode::NotFound,
                format!("no web listener {:?}", call.url_id),
            )),
        }
    }
}

pub use kartoteka_store::processes::ProcessRun;

impl App {
    /// Saves a scenario run's state (see [`ProcessRun`]).
    pub async fn save_process_run(&self, run: ProcessRun) -> Result<()> {
        self.store
            .write(move |c| kartoteka_store::processes::save_run(c, &run).map_err(Error::from))
            .await
    }

    /// Forgets a run that ended.
    pub async fn delete_process_run(&self, process: &str) -> Result<()> {
        let p = process.to_string();
        self.store
            .write(move |c| kartoteka_store::processes::delete_run(c, &p).map_err(Error::from))
            .await
    }

    /// Every run in progress, oldest first.
    pub async fn process_runs(&self) -> Result<Vec<ProcessRun>> {
        self.store
            .read(|c| kartoteka_store::processes::runs(c).map_err(Error::from))
            .await
    }

    /// The run of one process record, if it is still in progress.
    pub async fn process_run(&self, process: &str) -> Result<Option<ProcessRun>> {
        let p = process.to_string();
        self.store
            .read(move |c| kartoteka_store::processes::run(c, &p).map_err(Error::from))
            .await
    }

    /// The journaled after-events not yet forgotten, oldest first (see
    /// [`crate::events::BeforeHook::journals`]). A row that no longer reads as an event is
    /// logged and forgotten.
    pub async fn journaled_events(&self) -> Result<Vec<crate::events::AfterEvent>> {
        let rows = self
            .store
            .read(|c| kartoteka_store::processes::journaled_events(c).map_err(Error::from))
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        let mut unreadable = Vec::new();
        for (id, text) in rows {
            match serde_json::from_str::<crate::events::AfterEvent>(&text) {
                Ok(mut e) => {
                    e.journal_id = Some(id);
                    events.push(e);
                }
                Err(err) => {
                    tracing::error!(id, error = %err, "a journaled event cannot be read; it is dropped");
                    unreadable.push(id);
                }
            }
        }
        if !unreadable.is_empty() {
            self.forget_events(unreadable).await?;
        }
        Ok(events)
    }

    /// Forgets journaled after-events that have been acted on.
    pub async fn forget_events(&self, ids: Vec<i64>) -> Result<()> {
        self.store
            .write(move |c| kartoteka_store::processes::forget_events(c, &ids).map_err(Error::from))
            .await
    }
}
