//! Scenario runs in progress (`process_runs`): the engine's state after each step, read back
//! at start-up to resume the runs a stopped server left; and the after-events scenarios wait
//! for (`automation_events`), journaled with the change they report.

use crate::conn::Conn;
use crate::error::StoreError;
use crate::value::DbValue;

/// One run in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRun {
    /// The public id of its `$processes` record.
    pub process: String,
    /// The `$scripts` record it runs.
    pub script: String,
    pub sync: bool,
    pub depth: i64,
    /// The engine's state, as JSON.
    pub state: String,
    /// When a run waiting on a timer continues (ms); `None` when due now.
    pub wake_at: Option<i64>,
    pub started_ms: i64,
}

/// Saves a run's state (inserting the run the first time).
pub fn save_run(conn: &mut dyn Conn, run: &ProcessRun) -> Result<(), StoreError> {
    let n = conn.execute(
        "UPDATE process_runs SET state = ?, \"wakeAt\" = ? WHERE process = ?",
        &[
            run.state.as_str().into(),
            run.wake_at.map(DbValue::Int).unwrap_or(DbValue::Null),
            run.process.as_str().into(),
        ],
    )?;
    if n == 0 {
        conn.execute(
            "INSERT INTO process_runs (process, script, launch, depth, state, \"wakeAt\", \"startedMs\") VALUES (?, ?, ?, ?, ?, ?, ?)",
            &[
                run.process.as_str().into(),
                run.script.as_str().into(),
                (if run.sync { "sync" } else { "async" }).into(),
                run.depth.into(),
                run.state.as_str().into(),
                run.wake_at.map(DbValue::Int).unwrap_or(DbValue::Null),
                run.started_ms.into(),
            ],
        )?;
    }
    Ok(())
}

/// Forgets a run that ended.
pub fn delete_run(conn: &mut dyn Conn, process: &str) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM process_runs WHERE process = ?",
        &[process.into()],
    )?;
    Ok(())
}

const RUN_COLUMNS: &str =
    "process, script, launch, depth, state, \"wakeAt\", \"startedMs\" FROM process_runs";

fn read_run(r: &crate::value::Row) -> Result<ProcessRun, StoreError> {
    Ok(ProcessRun {
        process: r.text(0)?,
        script: r.text(1)?,
        sync: r.text(2)? == "sync",
        depth: r.int(3)?,
        state: r.text(4)?,
        wake_at: r.opt_int(5)?,
        started_ms: r.int(6)?,
    })
}

/// Every run in progress, oldest first.
pub fn runs(conn: &mut dyn Conn) -> Result<Vec<ProcessRun>, StoreError> {
    let rows = conn.query(&format!("SELECT {RUN_COLUMNS} ORDER BY \"startedMs\""), &[])?;
    rows.iter().map(read_run).collect()
}

/// The run of one process record, if it is still in progress.
pub fn run(conn: &mut dyn Conn, process: &str) -> Result<Option<ProcessRun>, StoreError> {
    conn.query_opt(
        &format!("SELECT {RUN_COLUMNS} WHERE process = ?"),
        &[process.into()],
    )?
    .as_ref()
    .map(read_run)
    .transpose()
}

/// Journals an after-event (JSON) in the transaction of its change; answers its id.
pub fn journal_event(conn: &mut dyn Conn, event: &str, now_ms: i64) -> Result<i64, StoreError> {
    conn.insert_id(
        "INSERT INTO automation_events (event, \"createdMs\") VALUES (?, ?)",
        &[event.into(), now_ms.into()],
        "id",
    )
}

/// Every journaled after-event not yet forgotten, oldest first: (id, JSON).
pub fn journaled_events(conn: &mut dyn Conn) -> Result<Vec<(i64, String)>, StoreError> {
    let rows = conn.query("SELECT id, event FROM automation_events ORDER BY id", &[])?;
    rows.iter().map(|r| Ok((r.int(0)?, r.text(1)?))).collect()
}

/// Forgets journaled after-events whose runs have all recorded themselves.
pub fn forget_events(conn: &mut dyn Conn, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(", ");
        let params: Vec<DbValue> = chunk.iter().map(|i| DbValue::Int(*i)).collect();
        conn.execute(
            &format!("DELETE FROM automation_events WHERE id IN ({marks})"),
            &params,
        )?;
    }
    Ok(())
}
