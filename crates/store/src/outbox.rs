//! The webhook outbox (`webhook_deliveries`) and its attempt log (`webhook_attempts`).
//!
//! A notification is enqueued in the same transaction as the record change it reports, so a
//! committed change always has its deliveries. The dispatcher takes the pending deliveries of
//! one hook in `seq` order, sends them, and records each try here. Requests and actions are
//! sent at once by the write path; they are logged here after the fact. Times are Unix ms.

use crate::conn::{Conn, Dialect};
use crate::error::StoreError;
use crate::value::DbValue;
use crate::value::Row;

/// A delivery waiting to be sent, or the log entry of one.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub hook_id: i64,
    /// The hook's `sequenceId` of this message, given when it is first sent.
    pub seq: Option<i64>,
    /// `notification`, `request` or `action`.
    pub kind: String,
    pub event: String,
    pub catalog_db_id: Option<i64>,
    pub record_db_id: Option<i64>,
    /// The message's `payload` (JSON).
    pub payload: String,
    /// The acting employee's public id (`user.id`).
    pub user_id: Option<String>,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub next_at: i64,
    pub done_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub resend_of: Option<i64>,
}

/// A new delivery.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    pub hook_id: i64,
    pub seq: Option<i64>,
    pub kind: &'a str,
    pub event: &'a str,
    pub catalog_db_id: Option<i64>,
    pub record_db_id: Option<i64>,
    pub payload: &'a str,
    pub user_id: Option<&'a str>,
    pub state: &'a str,
    pub now: i64,
    pub resend_of: Option<i64>,
}

/// One try at sending a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub at: i64,
    /// The receiver's status code; `None` when no answer came (refused, timeout).
    pub status: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's reply body.
    pub response: Option<String>,
}

/// What became of a delivery after one try.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Delivered,
    /// Try again at this time.
    Retry(i64),
    /// Given up.
    Failed,
}

/// The columns of a delivery with its payload (`d` joined with `p`).
const COLS: &str = "d.id, d.\"hookId\", d.seq, d.kind, d.event, d.\"catalogDbId\", d.\"recordDbId\", p.payload, d.state, d.attempts, d.\"createdAt\", d.\"nextAt\", d.\"doneAt\", d.\"lastStatus\", d.\"lastError\", d.\"resendOf\", d.\"userId\"";
const FROM: &str = "webhook_deliveries d JOIN webhook_payloads p ON p.\"deliveryId\" = d.id";

/// How a query of pending deliveries names the table, alias included: on SQLite with the
/// index of the pending ones named. Without statistics SQLite serves `"hookId" = ? AND
/// state = 'pending' ORDER BY id` from the log index `("hookId", id)` instead, which walks
/// every delivery the hook ever had, sent ones included, on each look at its queue.
/// PostgreSQL picks the partial index by itself.
fn pending_table(d: Dialect, alias: &str) -> String {
    match d {
        Dialect::Sqlite => {
            format!("webhook_deliveries {alias} INDEXED BY webhook_deliveries_pending")
        }
        Dialect::Postgres => format!("webhook_deliveries {alias}"),
    }
}

/// The first `LIMIT ?` pending deliveries of the hook `"hookId" = ?`, in the order they must
/// arrive: `columns` of `d`, and of its payload `p` when `with_payload`.
fn pending_sql(d: Dialect, columns: &str, with_payload: bool) -> String {
    let join = if with_payload {
        " JOIN webhook_payloads p ON p.\"deliveryId\" = d.id"
    } else {
        ""
    };
    format!(
        "SELECT {columns} FROM {}{join} WHERE d.\"hookId\" = ? AND d.state = 'pending' ORDER BY d.id LIMIT ?",
        pending_table(d, "d")
    )
}

/// The backend's plans of the dispatcher's two looks at a hook's queue (its head, then a
/// batch), one text each, for tests that check the index they use.
pub fn explain_pending(conn: &mut dyn Conn) -> Result<Vec<String>, StoreError> {
    let d = conn.dialect();
    [
        pending_sql(d, "d.\"nextAt\"", false),
        pending_sql(d, COLS, true),
    ]
    .into_iter()
    .map(|sql| {
        crate::query::explain_statement(
            conn,
            &crate::query::Statement {
                sql,
                params: vec![DbValue::Int(1), DbValue::Int(256)],
            },
        )
    })
    .collect()
}

fn delivery(r: &Row) -> Result<Delivery, StoreError> {
    Ok(Delivery {
        id: r.int(0)?,
        hook_id: r.int(1)?,
        seq: r.opt_int(2)?,
        kind: r.text(3)?,
        event: r.text(4)?,
        catalog_db_id: r.opt_int(5)?,
        record_db_id: r.opt_int(6)?,
        payload: r.text(7)?,
        user_id: r.opt_text(16)?,
        state: r.text(8)?,
        attempts: r.int(9)?,
        created_at: r.int(10)?,
        next_at: r.int(11)?,
        done_at: r.opt_int(12)?,
        last_status: r.opt_int(13)?,
        last_error: r.opt_text(14)?,
        resend_of: r.opt_int(15)?,
    })
}

fn opt(v: Option<i64>) -> DbValue {
    v.map(DbValue::Int).unwrap_or(DbValue::Null)
}

fn opt_text(v: &Option<String>) -> DbValue {
    v.as_deref().map(DbValue::from).unwrap_or(DbValue::Null)
}

/// Adds a delivery; returns its id.
pub fn insert(conn: &mut dyn Conn, d: &NewDelivery) -> Result<i64, StoreError> {
    let id = conn.insert_id(
        "INSERT INTO webhook_deliveries (\"hookId\", seq, kind, event, \"catalogDbId\", \"recordDbId\", \"userId\", state, attempts, \"createdAt\", \"nextAt\", \"resendOf\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        &[
            d.hook_id.into(),
            opt(d.seq),
            d.kind.into(),
            d.event.into(),
            opt(d.catalog_db_id),
            opt(d.record_db_id),
            d.user_id.map(DbValue::from).unwrap_or(DbValue::Null),
            d.state.into(),
            d.now.into(),
            d.now.into(),
            opt(d.resend_of),
        ],
        "id",
    )?;
    conn.execute(
        "INSERT INTO webhook_payloads (\"deliveryId\", payload) VALUES (?, ?)",
        &[id.into(), d.payload.into()],
    )?;
    Ok(id)
}

/// Logs a delivery that was sent at once (a request or an action), with its one attempt.
pub fn insert_done(
    conn: &mut dyn Conn,
    d: &NewDelivery,
    attempt: &Attempt,
    ok: bool,
) -> Result<i64, StoreError> {
    let id = insert(conn, d)?;
    record(
        conn,
        id,
        attempt,
        if ok { &Next::Delivered } else { &Next::Failed },
    )?;
    Ok(id)
}

/// When the first pending delivery of each of these hooks is due; hooks with none are left
/// out. One indexed lookup per hook, however long the queue is.
pub fn pending_heads(conn: &mut dyn Conn, hook_ids: &[i64]) -> Result<Vec<(i64, i64)>, StoreError> {
    let mut out = Vec::new();
    for id in hook_ids {
        let sql = pending_sql(conn.dialect(), "d.\"nextAt\"", false);
        if let Some(r) = conn.query_opt(&sql, &[(*id).into(), 1.into()])? {
            out.push((*id, r.int(0)?));
        }
    }
    Ok(out)
}

/// Gives up pending deliveries of hooks that no longer exist (all but `live`).
pub fn drop_orphans(conn: &mut dyn Conn, live: &[i64], now: i64) -> Result<u64, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT DISTINCT d.\"hookId\" FROM {} WHERE d.state = 'pending'",
            pending_table(conn.dialect(), "d")
        ),
        &[],
    )?;
    let mut n = 0;
    for r in rows {
        let id = r.int(0)?;
        if !live.contains(&id) {
            n += drop_pending_of(conn, id, now)?;
        }
    }
    Ok(n)
}

/// The first `limit` pending deliveries of a hook, in the order they must arrive.
pub fn pending_of(
    conn: &mut dyn Conn,
    hook_id: i64,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let sql = pending_sql(conn.dialect(), COLS, true);
    let rows = conn.query(&sql, &[hook_id.into(), limit.into()])?;
    rows.iter().map(delivery).collect()
}

/// Gives deliveries their numbers, `first`, `first + 1`, … in the order of `delivery_ids`
/// (once; retries and resends keep them): one statement per hundred deliveries.
pub fn number(conn: &mut dyn Conn, delivery_ids: &[i64], first: i64) -> Result<(), StoreError> {
    for (k, chunk) in delivery_ids.chunks(100).enumerate() {
        let base = first + (k * 100) as i64;
        let mut params = Vec::with_capacity(chunk.len() * 3);
        for (n, id) in chunk.iter().enumerate() {
            params.push(DbValue::Int(*id));
            params.push(DbValue::Int(base + n as i64));
        }
        params.extend(chunk.iter().map(|id| DbValue::Int(*id)));
        let cases = vec!["WHEN ? THEN CAST(? AS BIGINT)"; chunk.len()].join(" ");
        let ids = vec!["?"; chunk.len()].join(", ");
        conn.execute(
            &format!("UPDATE webhook_deliveries SET seq = CASE id {cases} END WHERE id IN ({ids})"),
            &params,
        )?;
    }
    Ok(())
}

/// Records one try and its consequence.
pub fn record(
    conn: &mut dyn Conn,
    delivery_id: i64,
    a: &Attempt,
    next: &Next,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO webhook_attempts (\"deliveryId\", at, status, \"latencyMs\", error, response) VALUES (?, ?, ?, ?, ?, ?)",
        &[
            delivery_id.into(),
            a.at.into(),
            opt(a.status),
            a.latency_ms.into(),
            opt_text(&a.error),
            opt_text(&a.response),
        ],
    )?;
    let (state, next_at, done_at) = match next {
        Next::Delivered => (
            "delivered",
            DbValue::Null,
            DbValue::Int(a.at + a.latency_ms),
        ),
        Next::Retry(t) => ("pending", DbValue::Int(*t), DbValue::Null),
        Next::Failed => ("failed", DbValue::Null, DbValue::Int(a.at + a.latency_ms)),
    };
    conn.execute(
        "UPDATE webhook_deliveries SET state = ?, attempts = attempts + 1, \"nextAt\" = COALESCE(?, \"nextAt\"), \"doneAt\" = ?, \"lastStatus\" = ?, \"lastError\" = ? WHERE id = ?",
        &[
            state.into(),
            next_at,
            done_at,
            opt(a.status),
            opt_text(&a.error),
            delivery_id.into(),
        ],
    )?;
    Ok(())
}

/// Records first-try successes in two statements: the tries, then the deliveries.
pub fn record_delivered(conn: &mut dyn Conn, done: &[(i64, Attempt)]) -> Result<(), StoreError> {
    for chunk in done.chunks(100) {
        let mut params = Vec::with_capacity(chunk.len() * 6);
        for (id, a) in chunk {
            params.extend([
                DbValue::Int(*id),
                a.at.into(),
                opt(a.status),
                a.latency_ms.into(),
                opt_text(&a.error),
                opt_text(&a.response),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        conn.execute(
            &format!("INSERT INTO webhook_attempts (\"deliveryId\", at, status, \"latencyMs\", error, response) VALUES {rows}"),
            &params,
        )?;
        // Every delivery of one chunk gets the same finishing time and status: the last
        // one's. Individual tries keep their own in webhook_attempts.
        let (last_at, last_status) = chunk
            .last()
            .map(|(_, a)| (a.at + a.latency_ms, opt(a.status)))
            .unwrap_or((0, DbValue::Null));
        let ids = vec!["?"; chunk.len()].join(", ");
        let mut p = vec![DbValue::Int(last_at), last_status];
        p.extend(chunk.iter().map(|(id, _)| DbValue::Int(*id)));
        conn.execute(
            &format!("UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, \"doneAt\" = ?, \"lastStatus\" = ?, \"lastError\" = NULL WHERE id IN ({ids})"),
            &p,
        )?;
    }
    Ok(())
}

/// Gives up the pending deliveries of a hook that no longer exists.
pub fn drop_pending_of(conn: &mut dyn Conn, hook_id: i64, now: i64) -> Result<u64, StoreError> {
    conn.execute(
        &format!(
            "UPDATE webhook_deliveries SET state = 'failed', \"doneAt\" = ?, \"lastError\" = 'the subscription was deleted' WHERE id IN (SELECT d.id FROM {} WHERE d.\"hookId\" = ? AND d.state = 'pending')",
            pending_table(conn.dialect(), "d")
        ),
        &[now.into(), hook_id.into()],
    )
}

/// A page of a hook's deliveries, newest first, and how many there are.
pub fn list(
    conn: &mut dyn Conn,
    hook_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Delivery>, i64), StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT {COLS} FROM {FROM} WHERE d.\"hookId\" = ? ORDER BY d.id DESC LIMIT ? OFFSET ?"
        ),
        &[hook_id.into(), limit.into(), offset.into()],
    )?;
    let total = conn
        .query_one(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE \"hookId\" = ?",
            &[hook_id.into()],
        )?
        .int(0)?;
    Ok((rows.iter().map(delivery).collect::<Result<_, _>>()?, total))
}

/// One delivery of a hook.
pub fn get(
    conn: &mut dyn Conn,
    hook_id: i64,
    delivery_id: i64,
) -> Result<Option<Delivery>, StoreError> {
    conn.query_opt(
        &format!("SELECT {COLS} FROM {FROM} WHERE d.\"hookId\" = ? AND d.id = ?"),
        &[hook_id.into(), delivery_id.into()],
    )?
    .map(|r| delivery(&r))
    .transpose()
}

/// The tries of some deliveries, oldest first, keyed by delivery id.
pub fn attempts_of(
    conn: &mut dyn Conn,
    delivery_ids: &[i64],
) -> Result<Vec<(i64, Attempt)>, StoreError> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; delivery_ids.len()].join(", ");
    let params: Vec<DbValue> = delivery_ids.iter().map(|i| DbValue::Int(*i)).collect();
    let rows = conn.query(
        &format!("SELECT \"deliveryId\", at, status, \"latencyMs\", error, response FROM webhook_attempts WHERE \"deliveryId\" IN ({marks}) ORDER BY id"),
        &params,
    )?;
    rows.iter()
        .map(|r| {
            Ok((
                r.int(0)?,
                Attempt {
                    at: r.int(1)?,
                    status: r.opt_int(2)?,
                    latency_ms: r.int(3)?,
                    error: r.opt_text(4)?,
                    response: r.opt_text(5)?,
                },
            ))
        })
        .collect()
}

/// Forgets finished deliveries (and their tries) older than `before`.
pub fn prune(conn: &mut dyn Conn, before: i64) -> Result<u64, StoreError> {
    conn.execute(
        "DELETE FROM webhook_attempts WHERE \"deliveryId\" IN (SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND \"doneAt\" < ?)",
        &[before.into()],
    )?;
    conn.execute(
        "DELETE FROM webhook_payloads WHERE \"deliveryId\" IN (SELECT id FROM webhook_deliveries WHERE state <> 'pending' AND \"doneAt\" < ?)",
        &[before.into()],
    )?;
    conn.execute(
        "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND \"doneAt\" < ?",
        &[before.into()],
    )
}

/// Adds `by` to a number column of a record and returns the new value; `None` when the
/// record does not exist. A silent system write: no history, no events.
pub fn increment(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    column: &str,
    record_db_id: i64,
    by: i64,
) -> Result<Option<i64>, StoreError> {
    let col = crate::conn::ident(column);
    let row = conn.query_opt(
        &format!(
            "UPDATE {} SET {col} = COALESCE({col}, 0) + ? WHERE \"dbId\" = ? RETURNING {col}",
            crate::schema::data_table(catalog_db_id)
        ),
        &[by.into(), record_db_id.into()],
    )?;
    row.map(|r| r.int(0)).transpose()
}

/// Sets or clears a date column of a record without history or events (server bookkeeping).
pub fn set_silently(
    conn: &mut dyn Conn,
    catalog_db_id: i64,
    column: &str,
    record_db_id: i64,
    value: DbValue,
) -> Result<(), StoreError> {
    conn.execute(
        &format!(
            "UPDATE {} SET {} = ? WHERE \"dbId\" = ?",
            crate::schema::data_table(catalog_db_id),
            crate::conn::ident(column)
        ),
        &[value, record_db_id.into()],
    )?;
    Ok(())
}
