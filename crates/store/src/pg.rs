//! The PostgreSQL backend: a small pool of synchronous clients used from blocking threads, so
//! that the same synchronous [`Conn`] code serves both backends.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::sync::{Arc, Mutex};

use bytes::BytesMut;
use chrono::{DateTime, SecondsFormat, Utc};
use postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};
use tokio::sync::Semaphore;

use crate::conn::{numbered_placeholders, Conn, Dialect};
use crate::error::StoreError;
use crate::value::{DbValue, Row};

type BoxErr = Box<dyn StdError + Sync + Send>;

/// Connections in use at once, at most.
const MAX_CONNECTIONS: usize = 16;

pub(crate) struct PgStore {
    config: postgres::Config,
    /// Every session is made read-only by the server (`default_transaction_read_only`).
    read_only: bool,
    idle: Mutex<Vec<PgClient>>,
    pub(crate) permits: Arc<Semaphore>,
}

impl ToSql for DbValue {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxErr> {
        // The server infers each parameter's type from the statement; convert to it.
        match self {
            DbValue::Null => Ok(IsNull::Yes),
            DbValue::Int(i) => match *ty {
                Type::INT2 => (i16::try_from(*i)?).to_sql(ty, out),
                Type::INT4 => (i32::try_from(*i)?).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    i.to_string().to_sql(&Type::TEXT, out)
                }
                _ => i.to_sql(ty, out),
            },
            DbValue::Real(r) => match *ty {
                Type::FLOAT4 => (*r as f32).to_sql(ty, out),
                Type::INT8 => (*r as i64).to_sql(ty, out),
                Type::INT4 => (*r as i32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => r.to_string().to_sql(&Type::TEXT, out),
                _ => r.to_sql(&Type::FLOAT8, out),
            },
            DbValue::Bool(b) => match *ty {
                Type::INT2 | Type::INT4 | Type::INT8 => i64::from(*b).to_sql(&Type::INT8, out),
                _ => b.to_sql(&Type::BOOL, out),
            },
            DbValue::Text(s) => match *ty {
                Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                    let t: DateTime<Utc> = DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc);
                    t.to_sql(&Type::TIMESTAMPTZ, out)
                }
                Type::JSON | Type::JSONB => {
                    let v: serde_json::Value = serde_json::from_str(s)?;
                    v.to_sql(ty, out)
                }
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(&Type::TEXT, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

struct PgValue(DbValue);

impl<'a> FromSql<'a> for PgValue {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxErr> {
        Ok(PgValue(match *ty {
            Type::INT2 => DbValue::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => DbValue::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => DbValue::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => DbValue::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => DbValue::Real(f64::from_sql(ty, raw)?),
            Type::BOOL => DbValue::Bool(bool::from_sql(ty, raw)?),
            Type::TIMESTAMPTZ => DbValue::Text(
                DateTime::<Utc>::from_sql(ty, raw)?.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            Type::JSON | Type::JSONB => {
                DbValue::Text(serde_json::Value::from_sql(ty, raw)?.to_string())
            }
            _ => DbValue::Text(String::from_sql(ty, raw)?),
        }))
    }

    fn from_sql_null(_: &Type) -> Result<Self, BoxErr> {
        Ok(PgValue(DbValue::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// Prepared statements kept at most per connection; dynamic SQL (`IN (?, ?, …)`) makes many.
const MAX_CACHED_STATEMENTS: usize = 512;

/// A pooled connection with its prepared statements: a cached statement runs in one round
/// trip instead of a prepare and an execute.
pub(crate) struct PgClient {
    pub(crate) client: Client,
    pub(crate) statements: HashMap<String, Statement>,
}

/// A connection (or a transaction on it) and the statement cache of its connection.
pub(crate) struct PgConn<'a, C: postgres::GenericClient> {
    pub(crate) conn: &'a mut C,
    pub(crate) statements: &'a mut HashMap<String, Statement>,
}

impl<C: postgres::GenericClient> PgConn<'_, C> {
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        let sql = numbered_placeholders(sql);
        if let Some(st) = self.statements.get(&sql) {
            return Ok(st.clone());
        }
        let st = self.conn.prepare(&sql)?;
        if self.statements.len() >= MAX_CACHED_STATEMENTS {
            self.statements.clear();
        }
        self.statements.insert(sql, st.clone());
        Ok(st)
    }
}

fn params(p: &[DbValue]) -> Vec<&(dyn ToSql + Sync)> {
    p.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

impl<C: postgres::GenericClient> Conn for PgConn<'_, C> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, p: &[DbValue]) -> Result<u64, StoreError> {
        let st = self.statement(sql)?;
        Ok(self.conn.execute(&st, &params(p))?)
    }

    fn query(&mut self, sql: &str, p: &[DbValue]) -> Result<Vec<Row>, StoreError> {
        let st = self.statement(sql)?;
        let rows = self.conn.query(&st, &params(p))?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut vals = Vec::with_capacity(r.len());
            for i in 0..r.len() {
                vals.push(r.try_get::<_, PgValue>(i)?.0);
            }
            out.push(Row(vals));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        // DDL may change what a cached statement refers to; start afresh after it.
        self.statements.clear();
        Ok(self.conn.batch_execute(sql)?)
    }
}

impl PgStore {
    pub(crate) fn new(url: &str) -> Result<Self, StoreError> {
        PgStore::with_mode(url, false)
    }

    /// A pool whose sessions the server refuses every write in.
    pub(crate) fn read_only(url: &str) -> Result<Self, StoreError> {
        PgStore::with_mode(url, true)
    }

    fn with_mode(url: &str, read_only: bool) -> Result<Self, StoreError> {
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Backend(format!("bad database url: {e}")))?;
        Ok(PgStore {
            config,
            read_only,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        })
    }

    /// Takes an idle client or connects a new one. Call from a blocking thread.
    pub(crate) fn client(&self) -> Result<PgClient, StoreError> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(c) if !c.client.is_closed() => Ok(c),
            _ => {
                let mut client = self.config.connect(NoTls)?;
                if self.read_only {
                    client.batch_execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")?;
                }
                Ok(PgClient {
                    client,
                    statements: HashMap::new(),
                })
            }
        }
    }

    pub(crate) fn give_back(&self, c: PgClient) {
        if c.client.is_closed() {
            return;
        }
        if let Ok(mut v) = self.idle.lock() {
            v.push(c);
        }
    }

    pub(crate) fn close(&self) {
        let clients = self
            .idle
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        drop_clients(clients);
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.close();
    }
}

/// Closes clients on a plain thread: a client's drop blocks on its own runtime, which must
/// not happen on an async worker.
fn drop_clients(clients: Vec<PgClient>) {
    if clients.is_empty() {
        return;
    }
    let _ = std::thread::spawn(move || drop(clients)).join();
}
