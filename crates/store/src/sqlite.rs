//! The embedded SQLite backend: one writer thread that commits jobs in groups, and a pool of
//! read connections used inline by the caller.
//!
//! Group commit: the writer takes every job waiting in its queue (up to [`MAX_BATCH`]), runs
//! each inside its own savepoint within one transaction, and commits once. A failing job rolls
//! back only its savepoint. Replies are sent after the commit, so a caller never hears "done"
//! for a write that is not in the WAL. With `synchronous=NORMAL` in WAL mode a committed
//! transaction survives a killed process (only a power loss may drop the last ones).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Mutex};
use std::thread;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::conn::{Conn, Dialect};
use crate::error::StoreError;
use crate::value::{DbValue, Row};

/// The most jobs committed together.
const MAX_BATCH: usize = 256;
/// Read connections kept for reuse.
const MAX_IDLE_READERS: usize = 16;

/// The outcome of a job, reported once the batch's commit is known.
pub(crate) struct Completion {
    pub ok: bool,
    pub finish: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
}

pub(crate) type Job = Box<dyn FnOnce(&mut dyn Conn) -> Completion + Send>;

pub(crate) struct SqliteStore {
    writer: Mutex<Option<mpsc::Sender<(crate::Lane, Job)>>>,
    handle: Mutex<Option<thread::JoinHandle<()>>>,
    /// Dropping the sender stops the checkpointer.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, thread::JoinHandle<()>)>>,
    /// Idle read connections that read through the page cache.
    readers: Mutex<Vec<Connection>>,
    /// Idle read connections that map the file, for reads over many rows.
    mapped: Mutex<Vec<Connection>>,
    path: PathBuf,
}

/// How a read connection reads the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadMode {
    /// Through SQLite's page cache: best for short reads while others write. After any
    /// commit SQLite drops a read connection's view of the file at its next transaction;
    /// for a mapped connection that means unmapping and mapping the file again (with a
    /// TLB shootdown across cores), which costs more than the few pages a short read copies.
    Cached,
    /// Mapped (`mmap_size`): best for reads over many rows, e.g. a list that walks an index
    /// of a large catalog (about three times faster on the million-record benchmark).
    Mapped,
}

struct SqliteConn<'a>(&'a Connection);

impl rusqlite::ToSql for DbValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            DbValue::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            DbValue::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            DbValue::Real(r) => ToSqlOutput::Borrowed(ValueRef::Real(*r)),
            DbValue::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            DbValue::Bool(b) => ToSqlOutput::Borrowed(ValueRef::Integer(i64::from(*b))),
        })
    }
}

fn from_ref(v: ValueRef<'_>) -> DbValue {
    match v {
        ValueRef::Null => DbValue::Null,
        ValueRef::Integer(i) => DbValue::Int(i),
        ValueRef::Real(r) => DbValue::Real(r),
        ValueRef::Text(t) => DbValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => DbValue::Text(String::from_utf8_lossy(b).into_owned()),
    }
}

impl Conn for SqliteConn<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[DbValue]) -> Result<u64, StoreError> {
        let mut st = self.0.prepare_cached(sql)?;
        let n = st.execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    /// `key` must be the table's `INTEGER PRIMARY KEY` (the rowid). Answered from
    /// `last_insert_rowid()`: a `RETURNING` clause makes SQLite build and drop a temporary
    /// table (a B-tree with its own page cache) in every statement, which was a tenth of the
    /// writer thread's time when every create also queued a webhook delivery.
    fn insert_id(&mut self, sql: &str, params: &[DbValue], _key: &str) -> Result<i64, StoreError> {
        match self.execute(sql, params)? {
            1 => Ok(self.0.last_insert_rowid()),
            n => Err(StoreError::Decode(format!("{n} rows inserted by {sql}"))),
        }
    }

    fn query(&mut self, sql: &str, params: &[DbValue]) -> Result<Vec<Row>, StoreError> {
        let mut st = self.0.prepare_cached(sql)?;
        let cols = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut vals = Vec::with_capacity(cols);
            for i in 0..cols {
                vals.push(from_ref(r.get_ref(i)?));
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.0.execute_batch(sql)?;
        Ok(())
    }
}

/// How much of the database file a read connection maps into memory (address space, not
/// memory in use: the pages stay in the OS page cache either way).
const READ_MMAP_BYTES: i64 = 1 << 30;

fn open(path: &Path, write: bool, mode: ReadMode) -> Result<Connection, StoreError> {
    let flags = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let c = Connection::open_with_flags(path, flags)?;
    c.busy_timeout(std::time::Duration::from_secs(10))?;
    c.set_prepared_statement_cache_capacity(256);
    c.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;
         PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32000;",
    )?;
    if !write && mode == ReadMode::Mapped {
        // The file is mapped instead of each page being copied out with a system call.
        // Writes keep going through the WAL as before.
        c.execute_batch(&format!("PRAGMA mmap_size={READ_MMAP_BYTES};"))?;
    }
    // SQLite's own lower() folds ASCII only; searches must fold Cyrillic too.
    c.create_scalar_function(
        "kt_lower",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                ValueRef::Text(t) => Some(String::from_utf8_lossy(t).to_lowercase()),
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(i.to_string()),
                ValueRef::Real(r) => Some(r.to_string()),
                ValueRef::Blob(b) => Some(String::from_utf8_lossy(b).to_lowercase()),
            })
        },
    )?;
    Ok(c)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and starts the writer thread.
    /// `init` runs on the writer connection before anything else (migrations).
    pub(crate) fn open(
        path: &Path,
        init: impl FnOnce(&mut dyn Conn) -> Result<(), StoreError>,
    ) -> Result<Self, StoreError> {
        let conn = open(path, true, ReadMode::Cached)?;
        init(&mut SqliteConn(&conn))?;
        // Checkpoints run mostly on their own thread (below), not inside the writer's commits,
        // where each would stall every queued write while it copies and syncs pages. Under a
        // steady stream of writes a background checkpoint never catches up with the end of
        // the WAL, so the WAL could not start over and would grow without bound (and every
        // read slows with it): the writer still checkpoints once the WAL passes 32 MB, which
        // is quick because the background has already copied nearly all of it.
        conn.execute_batch("PRAGMA wal_autocheckpoint=8192;")?;
        let checkpointer = spawn_checkpointer(path)?;
        let (tx, rx) = mpsc::channel::<(crate::Lane, Job)>();
        let handle = thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(SqliteStore {
            writer: Mutex::new(Some(tx)),
            handle: Mutex::new(Some(handle)),
            checkpointer: Mutex::new(Some(checkpointer)),
            readers: Mutex::new(Vec::new()),
            mapped: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
        })
    }

    /// Opens an existing database file for reading only: no writer thread, no checkpointer,
    /// and every connection is opened read-only, so nothing this handle does changes the
    /// file. A missing file is an error rather than a new empty database.
    pub(crate) fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Unavailable(format!(
                "no database file at {}",
                path.display()
            )));
        }
        Ok(SqliteStore {
            writer: Mutex::new(None),
            handle: Mutex::new(None),
            checkpointer: Mutex::new(None),
            readers: Mutex::new(vec![open(path, false, ReadMode::Cached)?]),
            mapped: Mutex::new(Vec::new()),
            path: path.to_path_buf(),
        })
    }

    pub(crate) fn submit(&self, job: Job, lane: crate::Lane) -> Result<(), StoreError> {
        let guard = self
            .writer
            .lock()
            .map_err(|_| StoreError::Unavailable("writer lock".into()))?;
        match guard.as_ref() {
            Some(tx) => tx
                .send((lane, job))
                .map_err(|_| StoreError::Unavailable("the writer has stopped".into())),
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }

    /// Runs `f` on a read connection, on the caller's thread. SQLite reads are short and local;
    /// running them inline avoids a thread hand-off per request.
    pub(crate) fn read<T>(
        &self,
        mode: ReadMode,
        f: impl FnOnce(&mut dyn Conn) -> T,
    ) -> Result<T, StoreError> {
        let pool = match mode {
            ReadMode::Cached => &self.readers,
            ReadMode::Mapped => &self.mapped,
        };
        let conn = pool
            .lock()
            .map_err(|_| StoreError::Unavailable("reader lock".into()))?
            .pop();
        let conn = match conn {
            Some(c) => c,
            None => open(&self.path, false, mode)?,
        };
        // One read transaction for the whole closure: a consistent snapshot, and one WAL lock
        // instead of one per statement.
        let began = exec_cached(&conn, "BEGIN").is_ok();
        let out = f(&mut SqliteConn(&conn));
        if began && exec_cached(&conn, "COMMIT").is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Ok(mut pool) = pool.lock() {
            if pool.len() < MAX_IDLE_READERS {
                pool.push(conn);
            }
        }
        Ok(out)
    }

    /// Stops the writer after the queued jobs and waits for it.
    pub(crate) fn close(&self) {
        let checkpointer = self.checkpointer.lock().ok().and_then(|mut c| c.take());
        if let Some((stop, handle)) = checkpointer {
            drop(stop);
            let _ = handle.join();
        }
        if let Ok(mut w) = self.writer.lock() {
            w.take();
        }
        let handle = self.handle.lock().ok().and_then(|mut h| h.take());
        if let Some(h) = handle {
            let _ = h.join();
        }
        for pool in [&self.readers, &self.mapped] {
            if let Ok(mut r) = pool.lock() {
                r.clear();
            }
        }
    }
}

/// How often the WAL is folded back into the database file while writes go on. The writer
/// itself checkpoints at 32 MB of WAL, and the fsyncs of that checkpoint stall every queued
/// write for as long as the disk takes to flush what the background has not yet synced; a
/// short period keeps that little (on an ext4 virtio disk, p99 of a scenario run at c=64:
/// 66–79 ms at 250 ms, 50–54 ms at 50 ms, 42–52 ms at 10 ms).
const CHECKPOINT_BUSY: std::time::Duration = std::time::Duration::from_millis(10);

/// How often the WAL is looked at once nothing was written for [`CHECKPOINT_QUIET_LOOKS`]
/// looks in a row.
const CHECKPOINT_IDLE: std::time::Duration = std::time::Duration::from_millis(250);

/// Unchanged looks (at [`CHECKPOINT_BUSY`]) before the thread looks less often.
const CHECKPOINT_QUIET_LOOKS: u32 = 25;

/// Starts the thread that checkpoints the WAL (PASSIVE: it never blocks the writer or
/// readers; SQLite restarts the WAL from its start once a checkpoint caught up with it).
fn spawn_checkpointer(
    path: &Path,
) -> Result<(mpsc::Sender<()>, thread::JoinHandle<()>), StoreError> {
    let conn = open(path, true, ReadMode::Cached)?;
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            // The WAL's length in frames at the last look; while it stays the same, nothing
            // is being written, and after a while the thread looks less often.
            let mut last_frames = -1_i64;
            let mut quiet = 0_u32;
            let mut wait = CHECKPOINT_IDLE;
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                let frames =
                    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1));
                match frames {
                    Ok(f) if f != last_frames => {
                        last_frames = f;
                        quiet = 0;
                    }
                    Ok(_) => quiet = quiet.saturating_add(1),
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                        quiet = CHECKPOINT_QUIET_LOOKS;
                    }
                }
                wait = if quiet >= CHECKPOINT_QUIET_LOOKS {
                    CHECKPOINT_IDLE
                } else {
                    CHECKPOINT_BUSY
                };
            }
        })
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    Ok((stop, handle))
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<(crate::Lane, Job)>) {
    while let Ok(first) = rx.recv() {
        // Follow-up writes waiting now commit in a group of their own, before the clients'.
        let (mut follow_ups, mut clients) = (Vec::new(), Vec::new());
        let mut take = |(lane, job): (crate::Lane, Job)| match lane {
            crate::Lane::FollowUp => follow_ups.push(job),
            crate::Lane::Client => clients.push(job),
        };
        take(first);
        for _ in 1..MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => take(j),
                Err(_) => break,
            }
        }
        for batch in [follow_ups, clients] {
            if !batch.is_empty() {
                run_batch(&conn, batch);
            }
        }
    }
    // Leave a tidy database file behind: fold the WAL back in.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    tracing::debug!("sqlite writer stopped");
}

/// Runs one fixed statement through the statement cache (`execute_batch` would parse it anew
/// every time, and these run twice per job).
fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    let mut done: Vec<Completion> = Vec::with_capacity(batch.len());
    if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
        let err = StoreError::from(e);
        for job in batch {
            // The job never ran; report the failure through a completion that did nothing.
            let c = job_failed(job, &err);
            (c.finish)(Err(StoreError::Unavailable(err.to_string())));
        }
        return;
    }
    for job in batch {
        let sp = exec_cached(conn, "SAVEPOINT job");
        let completion = match sp {
            Ok(()) => {
                let mut c = SqliteConn(conn);
                match catch_unwind(AssertUnwindSafe(|| job(&mut c))) {
                    Ok(c) => c,
                    Err(_) => {
                        tracing::error!("a write job panicked; its changes were rolled back");
                        Completion {
                            ok: false,
                            finish: Box::new(|_| {}),
                        }
                    }
                }
            }
            Err(e) => {
                let err = StoreError::from(e);
                job_failed(job, &err)
            }
        };
        let end = if completion.ok {
            exec_cached(conn, "RELEASE job")
        } else {
            exec_cached(conn, "ROLLBACK TO job").and_then(|_| exec_cached(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "savepoint end failed");
        }
        done.push(completion);
    }
    let commit = exec_cached(conn, "COMMIT").map_err(StoreError::from);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for c in done {
        let r = match &commit {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::Unavailable(format!("commit failed: {e}"))),
        };
        (c.finish)(r);
    }
}

/// Runs a job against a connection that refuses everything, so that its reply channel gets
/// an error rather than being dropped silently.
fn job_failed(job: Job, err: &StoreError) -> Completion {
    struct Refuse(String);
    impl Conn for Refuse {
        fn dialect(&self) -> Dialect {
            Dialect::Sqlite
        }
        fn execute(&mut self, _: &str, _: &[DbValue]) -> Result<u64, StoreError> {
            Err(StoreError::Unavailable(self.0.clone()))
        }
        fn query(&mut self, _: &str, _: &[DbValue]) -> Result<Vec<Row>, StoreError> {
            Err(StoreError::Unavailable(self.0.clone()))
        }
        fn batch(&mut self, _: &str) -> Result<(), StoreError> {
            Err(StoreError::Unavailable(self.0.clone()))
        }
    }
    let mut r = Refuse(err.to_string());
    match catch_unwind(AssertUnwindSafe(|| job(&mut r))) {
        Ok(mut c) => {
            c.ok = false;
            c
        }
        Err(_) => Completion {
            ok: false,
            finish: Box::new(|_| {}),
        },
    }
}
