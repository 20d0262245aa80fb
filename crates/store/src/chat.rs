//! Record chats: which `$messages` records belong to a record, how many there are, and each
//! employee's subscription and read position per chat.

use std::collections::HashMap;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::schema::data_table;
use crate::value::DbValue;

/// `$messages`, by dbId.
pub const MESSAGES_CATALOG: i64 = 13;

/// A record's chat as one employee sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatSummary {
    /// Messages not deleted.
    pub count: i64,
    /// The newest message not deleted.
    pub newest: i64,
    pub subscribed: bool,
    pub last_read: i64,
}

impl ChatSummary {
    /// Unread messages in a chat the employee follows.
    pub fn has_new(&self) -> bool {
        self.subscribed && self.newest > self.last_read
    }
}

fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// The messages of a record's chat, oldest first.
pub fn message_ids(conn: &mut dyn Conn, catalog: i64, record: i64) -> Result<Vec<i64>, StoreError> {
    conn.query(
        &format!(
            "SELECT \"dbId\" FROM {} WHERE \"catalogDbId\" = ? AND \"recordDbId\" = ? ORDER BY \"dbId\"",
            data_table(MESSAGES_CATALOG)
        ),
        &[catalog.into(), record.into()],
    )?
    .iter()
    .map(|r| r.int(0))
    .collect()
}

/// Chat summaries of several records of one catalog for one employee (none for the system).
pub fn summaries(
    conn: &mut dyn Conn,
    catalog: i64,
    records: &[i64],
    user: Option<i64>,
) -> Result<HashMap<i64, ChatSummary>, StoreError> {
    let mut out: HashMap<i64, ChatSummary> = HashMap::new();
    if records.is_empty() || catalog == MESSAGES_CATALOG {
        return Ok(out);
    }
    // One statement for both halves: message counts (kind 0) and the employee's state (kind 1).
    let mut params = vec![DbValue::Int(catalog)];
    params.extend(records.iter().map(|r| DbValue::Int(*r)));
    params.push(true.into());
    let mut sql = format!(
        "SELECT 0, \"recordDbId\", COUNT(*), MAX(\"dbId\") FROM {} WHERE \"catalogDbId\" = ? AND \"recordDbId\" IN ({}) AND (deleted IS NULL OR deleted <> ?) GROUP BY \"recordDbId\"",
        data_table(MESSAGES_CATALOG),
        marks(records.len())
    );
    if let Some(u) = user {
        sql.push_str(&format!(
            " UNION ALL SELECT 1, \"recordDbId\", CASE WHEN subscribed THEN 1 ELSE 0 END, \"lastReadDbId\" FROM chat_state WHERE \"userDbId\" = ? AND \"catalogDbId\" = ? AND \"recordDbId\" IN ({})",
            marks(records.len())
        ));
        params.push(DbValue::Int(u));
        params.push(DbValue::Int(catalog));
        params.extend(records.iter().map(|r| DbValue::Int(*r)));
    }
    for r in conn.query(&sql, &params)? {
        let s = out.entry(r.int(1)?).or_default();
        if r.int(0)? == 0 {
            s.count = r.int(2)?;
            s.newest = r.opt_int(3)?.unwrap_or(0);
        } else {
            s.subscribed = r.int(2)? != 0;
            s.last_read = r.int(3)?;
        }
    }
    Ok(out)
}

/// Sets an employee's subscription and/or read position in a record's chat.
pub fn set_state(
    conn: &mut dyn Conn,
    user: i64,
    catalog: i64,
    record: i64,
    subscribed: Option<bool>,
    last_read: Option<i64>,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO chat_state (\"userDbId\", \"catalogDbId\", \"recordDbId\", subscribed, \"lastReadDbId\") VALUES (?, ?, ?, ?, ?) ON CONFLICT (\"userDbId\", \"catalogDbId\", \"recordDbId\") DO NOTHING",
        &[user.into(), catalog.into(), record.into(), subscribed.unwrap_or(false).into(), last_read.unwrap_or(0).into()],
    )?;
    if let Some(s) = subscribed {
        conn.execute(
            "UPDATE chat_state SET subscribed = ? WHERE \"userDbId\" = ? AND \"catalogDbId\" = ? AND \"recordDbId\" = ?",
            &[s.into(), user.into(), catalog.into(), record.into()],
        )?;
    }
    if let Some(l) = last_read {
        conn.execute(
            "UPDATE chat_state SET \"lastReadDbId\" = ? WHERE \"userDbId\" = ? AND \"catalogDbId\" = ? AND \"recordDbId\" = ? AND \"lastReadDbId\" < ?",
            &[l.into(), user.into(), catalog.into(), record.into(), l.into()],
        )?;
    }
    Ok(())
}

/// Per catalog, how many record chats an employee follows that hold unread messages.
pub fn new_chats(conn: &mut dyn Conn, user: i64) -> Result<HashMap<i64, i64>, StoreError> {
    let rows = conn.query(
        &format!(
            "SELECT s.\"catalogDbId\", COUNT(*) FROM chat_state s WHERE s.\"userDbId\" = ? AND s.subscribed = ? AND EXISTS (
               SELECT 1 FROM {} m WHERE m.\"catalogDbId\" = s.\"catalogDbId\" AND m.\"recordDbId\" = s.\"recordDbId\"
               AND m.\"dbId\" > s.\"lastReadDbId\" AND (m.deleted IS NULL OR m.deleted <> ?)) GROUP BY s.\"catalogDbId\"",
            data_table(MESSAGES_CATALOG)
        ),
        &[user.into(), true.into(), true.into()],
    )?;
    rows.iter().map(|r| Ok((r.int(0)?, r.int(1)?))).collect()
}
