//! The store: the only crate with SQL. One handle, [`Store`], over embedded SQLite or
//! PostgreSQL; code that touches the database is written once against [`Conn`] and runs on
//! both.
//!
//! Writes go through [`Store::write`]: a closure that runs inside one transaction and whose
//! result is reported only after the commit. Reads go through [`Store::read`].

pub mod aggregate;
pub mod aux;
pub mod chat;
pub mod conn;
pub mod error;
pub mod migrate;
pub mod outbox;
mod pg;
pub mod processes;
pub mod query;
pub mod records;
pub mod registry;
pub mod rights;
pub mod schema;
pub mod search;
mod sqlite;
mod system;
pub mod testing;
pub mod value;

use std::path::Path;
use std::sync::Arc;

pub use conn::{Conn, Dialect};
pub use error::StoreError;
pub use value::{DbValue, Row};

use pg::{PgConn, PgStore};
use sqlite::{Completion, SqliteStore};

enum Backend {
    Sqlite(SqliteStore),
    Postgres(Arc<PgStore>),
}

/// A handle on the database; cheap to clone.
/// Whose write it is, for the order of the SQLite writer ([`Store::write_in`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A client's request (and everything else).
    Client,
    /// Work that follows from a committed change: scenario runs and their process records.
    FollowUp,
}

#[derive(Clone)]
pub struct Store {
    backend: Arc<Backend>,
    /// Opened by [`Store::open_read_only`]: [`Store::write`] is refused.
    read_only: bool,
}

impl Store {
    /// Opens the embedded SQLite database at `path` (created if missing) and migrates it.
    pub fn open_sqlite(path: &Path) -> Result<Store, StoreError> {
        let s = SqliteStore::open(path, |c| {
            c.batch("BEGIN IMMEDIATE")?;
            match migrate::migrate(c) {
                Ok(()) => c.batch("COMMIT"),
                Err(e) => {
                    let _ = c.batch("ROLLBACK");
                    Err(e)
                }
            }
        })?;
        Ok(Store {
            backend: Arc::new(Backend::Sqlite(s)),
            read_only: false,
        })
    }

    /// Connects to PostgreSQL (`postgres://…`) and migrates the database.
    pub async fn open_postgres(url: &str) -> Result<Store, StoreError> {
        let store = Store {
            backend: Arc::new(Backend::Postgres(Arc::new(PgStore::new(url)?))),
            read_only: false,
        };
        store.write(|c| migrate::migrate(c)).await?;
        Ok(store)
    }

    /// Opens an existing store for reading only, for tools that run beside a live server
    /// (`upgrade-check`). Nothing is created or migrated: SQLite is opened with read-only
    /// connections and no writer, PostgreSQL sessions are read-only on the server side, and
    /// [`Store::write`] answers an error. A store whose migrations are behind this binary's
    /// is refused, since its layout may not be the one the readers expect.
    pub async fn open_read_only(url: &str) -> Result<Store, StoreError> {
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres(Arc::new(PgStore::read_only(url)?))
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Backend::Sqlite(SqliteStore::open_read_only(Path::new(path))?)
        };
        let store = Store {
            backend: Arc::new(backend),
            read_only: true,
        };
        store.read(|c| migrate::check_current(c)).await?;
        Ok(store)
    }

    /// Opens the store named by a database URL: `postgres://…` / `postgresql://…`, or
    /// `sqlite://PATH` / a plain path for SQLite.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Store::open_postgres(url).await
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Store::open_sqlite(Path::new(path))
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &*self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` in a transaction. An `Err` from `f` rolls back everything it did; `Ok` is
    /// returned only once the transaction is committed.
    pub async fn write<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.write_in(Lane::Client, f).await
    }

    /// [`Store::write`] in a lane: on SQLite, follow-up writes (what automation does about a
    /// change already committed) are committed ahead of the client writes waiting with them,
    /// so a scenario's work does not queue behind every new request. PostgreSQL has no single
    /// writer to order, and ignores the lane.
    pub async fn write_in<T, E>(
        &self,
        lane: Lane,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        if self.read_only {
            return Err(E::from(StoreError::Unavailable(
                "the store was opened read-only".into(),
            )));
        }
        match &*self.backend {
            Backend::Sqlite(s) => {
                let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
                let job: sqlite::Job = Box::new(move |conn: &mut dyn Conn| {
                    let r = f(conn);
                    let ok = r.is_ok();
                    Completion {
                        ok,
                        finish: Box::new(move |commit| {
                            let out = match (commit, r) {
                                (Ok(()), r) => r,
                                (Err(e), Ok(_)) => Err(E::from(e)),
                                (Err(_), Err(e)) => Err(e),
                            };
                            let _ = tx.send(out);
                        }),
                    }
                });
                s.submit(job, lane)?;
                rx.await.map_err(|_| {
                    E::from(StoreError::Unavailable("the write was abandoned".into()))
                })?
            }
            Backend::Postgres(pg) => {
                let pg = pg.clone();
                let _permit = pg
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Unavailable("pool closed".into()))?;
                let joined = tokio::task::spawn_blocking(move || -> Result<T, E> {
                    let mut client = pg.client()?;
                    let result = {
                        let pg::PgClient {
                            client: raw,
                            statements,
                        } = &mut client;
                        let mut tx = raw.transaction().map_err(StoreError::from)?;
                        let r = f(&mut PgConn {
                            conn: &mut tx,
                            statements,
                        });
                        match r {
                            Ok(v) => tx
                                .commit()
                                .map_err(StoreError::from)
                                .map(|_| v)
                                .map_err(E::from),
                            Err(e) => {
                                let _ = tx.rollback();
                                Err(e)
                            }
                        }
                    };
                    pg.give_back(client);
                    result
                })
                .await;
                joined.map_err(|e| {
                    E::from(StoreError::Unavailable(format!("write task failed: {e}")))
                })?
            }
        }
    }

    /// Runs `f` against a read connection, in one read transaction (a consistent snapshot).
    /// For the short reads of most requests; see [`Store::read_many`].
    pub async fn read<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.read_as(sqlite::ReadMode::Cached, f).await
    }

    /// Like [`Store::read`], for reads over many rows (a list, an aggregate, a search): on
    /// SQLite a connection that maps the file. Short reads do better on the other kind while
    /// writes go on, so they should not use this.
    pub async fn read_many<T, E>(
        &self,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.read_as(sqlite::ReadMode::Mapped, f).await
    }

    async fn read_as<T, E>(
        &self,
        mode: sqlite::ReadMode,
        f: impl FnOnce(&mut dyn Conn) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        match &*self.backend {
            Backend::Sqlite(s) => s.read(mode, f)?,
            Backend::Postgres(pg) => {
                let pg = pg.clone();
                let _permit = pg
                    .permits
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| StoreError::Unavailable("pool closed".into()))?;
                let joined = tokio::task::spawn_blocking(move || -> Result<T, E> {
                    let mut client = pg.client()?;
                    let pg::PgClient {
                        client: raw,
                        statements,
                    } = &mut client;
                    let r = f(&mut PgConn {
                        conn: raw,
                        statements,
                    });
                    pg.give_back(client);
                    r
                })
                .await;
                joined.map_err(|e| {
                    E::from(StoreError::Unavailable(format!("read task failed: {e}")))
                })?
            }
        }
    }

    /// Finishes queued writes and closes connections.
    pub fn close(&self) {
        match &*self.backend {
            Backend::Sqlite(s) => s.close(),
            Backend::Postgres(pg) => pg.close(),
        }
    }
}
