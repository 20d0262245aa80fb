//! SQL query (spec 03 §7.2.4) against an external PostgreSQL, MySQL/MariaDB, Microsoft SQL
//! Server ([`mssql`]) or SQLite database; `oracle` answers a `SQL` error (not supported).
//!
//! `:name` parameters are bound as literals of the database's dialect, outside quotes,
//! comments and `::` casts: numbers, booleans and `NULL` as themselves, everything else as a
//! string (arrays and objects as their JSON text). PostgreSQL and SQLite double the quotes of
//! a string literal (SQLite writes a text holding NUL as a cast hex blob, since its parser
//! stops at NUL); MySQL gets `_utf8mb4 X'…'`, a hex literal read the same whatever the
//! `sql_mode` (backslash escapes or not). Rows come back as objects keyed by column name;
//! a statement without rows answers `[]`.
//!
//! Values: numbers stay numbers, MySQL `DECIMAL` and PostgreSQL `numeric` included (as
//! doubles: cast to text in SQL to keep every digit); MySQL dates and date-times as ISO 8601
//! text (`2024-05-01`, `2024-05-01T10:20:30`), `TIME` as its text; binary values (MySQL
//! binary strings and `BLOB`s, SQLite blobs) as base64; MySQL `BIT` as a number and `JSON`
//! as the value it holds; `NULL` as null.
//!
//! Bounds: at most [`MAX_ROWS`] rows (more is a `SQL` error, not a silent cut); 30 s to
//! connect and per read for MySQL, a 30 s connect and statement timeout for PostgreSQL, and
//! an interrupt after 30 s for SQLite.
//!
//! TLS (PostgreSQL and MySQL): the `sslmode` of a connection string, used where the server
//! offers it when none is named ([`tls`]). Connection string parameters that name files
//! (keys, certificates) would name files of this server and are refused: trusted roots come
//! from `KARTOTEKA_SQL_CA_FILE`.
//!
//! SQLite opens only files inside the folder of `KARTOTEKA_SQL_SQLITE_DIR`
//! ([`SqlConfig::sqlite_dir`]): the database is a relative path there (parameter `database`
//! or `sqlite://name.db`), never absolute, never through `..`, and must resolve (symlinks
//! followed) inside the folder; it is opened read-write but never created. Without the
//! setting SQLite is refused, so a scenario cannot read Kartoteka's own store.

mod mssql;
mod tls;

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use kartoteka_engine::{PortError, SqlConnection, SqlQuery};
use serde_json::{Map, Value};

/// Most rows one query may answer.
pub const MAX_ROWS: usize = 10_000;

/// Time to connect, and the time a query may run (per read for MySQL).
const TIMEOUT: Duration = Duration::from_secs(30);

/// The host's settings of the SQL query component.
#[derive(Debug, Clone, Default)]
pub struct SqlConfig {
    /// The folder whose files SQLite queries may open (`KARTOTEKA_SQL_SQLITE_DIR`); `None`:
    /// SQLite is refused.
    pub sqlite_dir: Option<PathBuf>,
    /// Certificates (PEM) trusted besides the bundled webpki roots when a PostgreSQL, MySQL
    /// or SQL Server connection checks the server's (`KARTOTEKA_SQL_CA_FILE`).
    pub ca_file: Option<PathBuf>,
    /// The database servers PostgreSQL, MySQL and SQL Server queries may reach, each `host`
    /// (any port) or `host:port`, names as written in the connection (no DNS lookup), or a
    /// Unix socket's path (`KARTOTEKA_SQL_HOSTS`); `None`: any.
    pub hosts: Option<Vec<String>>,
}

impl SqlConfig {
    /// Refuses a server the host's allow-list does not name.
    fn check_host(&self, host: &str, port: Option<u16>) -> Result<(), PortError> {
        let Some(list) = &self.hosts else {
            return Ok(());
        };
        let bare = |h: &str| {
            h.trim()
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase()
        };
        let listed = list.iter().any(|entry| {
            let (name, only) = match entry.trim().rsplit_once(':') {
                Some((name, p)) if !name.contains(':') || name.ends_with(']') => {
                    match p.parse::<u16>() {
                        Ok(p) => (name, Some(p)),
                        Err(_) => (entry.as_str(), None),
                    }
                }
                _ => (entry.as_str(), None),
            };
            bare(name) == bare(host) && (only.is_none() || only == port)
        });
        if listed {
            return Ok(());
        }
        let at = port.map(|p| format!(":{p}")).unwrap_or_default();
        Err(sql_error(format!(
            "the database server {host}{at} is not in KARTOTEKA_SQL_HOSTS"
        )))
    }
}

fn sql_error(e: impl std::fmt::Display) -> PortError {
    PortError::new("SQL", e.to_string())
}

/// A PostgreSQL failure with its causes: the client's own text is only the kind ("db
/// error", "error performing TLS handshake"); the server's message or the TLS failure is in
/// its source.
fn pg_error(e: postgres::Error) -> PortError {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    sql_error(text)
}

/// `%XX` sequences decoded as UTF-8; `None` when they are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

fn too_many_rows() -> PortError {
    sql_error(format!(
        "the query answers more than {MAX_ROWS} rows; narrow it (WHERE, LIMIT)"
    ))
}

/// The SQL dialect a query is bound for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Dialect {
    Postgres,
    MySql,
    Sqlite,
    MsSql,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// A JSON value as a literal of the dialect.
fn literal(v: &Value, dialect: Dialect) -> String {
    let text = match v {
        Value::Null => return "NULL".into(),
        // T-SQL has no boolean literals: a `bit` is 1 or 0.
        Value::Bool(b) if dialect == Dialect::MsSql => return if *b { "1" } else { "0" }.into(),
        Value::Bool(b) => return if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => return n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match dialect {
        // A hex literal needs no escaping, so it means the same with or without
        // NO_BACKSLASH_ESCAPES; the introducer makes it text rather than a binary string.
        Dialect::MySql => format!("_utf8mb4 X'{}'", hex(text.as_bytes())),
        // SQLite's tokenizer ends the statement at NUL.
        Dialect::Sqlite if text.contains('\0') => {
            format!("CAST(X'{}' AS TEXT)", hex(text.as_bytes()))
        }
        Dialect::Postgres | Dialect::Sqlite => format!("'{}'", text.replace('\'', "''")),
        // N: Unicode text whatever the database's collation.
        Dialect::MsSql => format!("N'{}'", text.replace('\'', "''")),
    }
}

/// Replaces `:name` outside quotes, comments and `::` casts by the parameter's literal. An
/// unknown name is an error.
fn bind(query: &str, params: &Map<String, Value>, dialect: Dialect) -> Result<String, PortError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' | '`' if c != '`' || dialect != Dialect::Postgres => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == c {
                        break;
                    }
                    // MySQL reads a backslash in a string as an escape by default.
                    if chars[i] == '\\' && dialect == Dialect::MySql && c != '`' {
                        if let Some(&n) = chars.get(i + 1) {
                            out.push(n);
                            i += 1;
                        }
                    }
                    i += 1;
                }
                i += 1;
            }
            // A T-SQL bracketed name; `]]` inside it is a `]`.
            '[' if dialect == Dialect::MsSql => {
                out.push('[');
                i += 1;
                while i < chars.len() {
                    let ch = chars[i];
                    out.push(ch);
                    i += 1;
                    if ch == ']' {
                        if chars.get(i) != Some(&']') {
                            break;
                        }
                        out.push(']');
                        i += 1;
                    }
                }
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '#' if dialect == Dialect::MySql => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                out.push_str("/*");
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    out.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    out.push_str("*/");
                    i += 2;
                }
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push_str("::");
                i += 2;
            }
            ':' if chars
                .get(i + 1)
                .is_some_and(|n| n.is_alphabetic() || *n == '_') =>
            {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && (chars[end].is_alphanumeric() || chars[end] == '_') {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                let v = params
                    .get(&name)
                    .ok_or_else(|| sql_error(format!("no value for the parameter :{name}")))?;
                out.push_str(&literal(v, dialect));
                i = end;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Runs the query (on a blocking thread, but for SQL Server: those clients are synchronous).
pub(crate) async fn run(q: SqlQuery, config: &SqlConfig) -> Result<Vec<Value>, PortError> {
    // Before any client builds a TLS config: the MySQL client (and its `cipher_suites`
    // parameter) asks rustls for the process's provider, and the tree has two.
    tls::install_provider();
    let dialect = match q.db_type.to_ascii_lowercase().as_str() {
        "postgres" | "postgresql" | "pg" => Dialect::Postgres,
        "mysql" | "mariadb" => Dialect::MySql,
        "sqlite" | "sqlite3" => Dialect::Sqlite,
        "mssql" | "sqlserver" | "mssqlserver" => Dialect::MsSql,
        other => {
            return Err(sql_error(format!(
                "database type not supported: {other} (supported: postgres, mysql, mssql, sqlite)"
            )))
        }
    };
    let sql = bind(&q.query, &q.params, dialect)?;
    let job: Box<dyn FnOnce() -> Result<Vec<Value>, PortError> + Send> = match dialect {
        Dialect::Postgres => {
            let (pg, mode) = postgres_config(&q.connection)?;
            let ca_file = config.ca_file.clone();
            postgres_hosts(&pg, config)?;
            Box::new(move || {
                // Here, since it may read the CA file.
                let tls = tls::postgres_connector(mode, ca_file.as_deref())?;
                postgres_query(&pg, mode, tls, &sql)
            })
        }
        Dialect::MySql => {
            let connection = q.connection;
            let config = config.clone();
            Box::new(move || {
                // Here, since it may read the CA file.
                let (opts, mode) = mysql_opts(&connection, &config)?;
                match opts.get_socket() {
                    Some(socket) => config.check_host(socket, None)?,
                    None => {
                        config.check_host(&opts.get_ip_or_hostname(), Some(opts.get_tcp_port()))?
                    }
                }
                mysql_query(opts, mode, &sql)
            })
        }
        Dialect::Sqlite => {
            let path = sqlite_path(&q.connection, config)?;
            Box::new(move || sqlite_query(&path, &sql))
        }
        // The client is asynchronous: no blocking thread.
        Dialect::MsSql => return mssql::query(&q.connection, config, &sql).await,
    };
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| PortError::new("INTERNAL", e.to_string()))?
}

// PostgreSQL.

/// The connection's settings and its TLS level (`prefer` unless the string names one).
fn postgres_config(c: &SqlConnection) -> Result<(postgres::Config, tls::TlsMode), PortError> {
    let (text, mode) = match c {
        SqlConnection::Url(u) => tls::take_mode(u)?,
        SqlConnection::Parameters {
            host,
            database,
            login,
            password,
        } => {
            let (h, port) = host.split_once(':').unwrap_or((host.as_str(), "5432"));
            let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
            let text = format!(
                "host={} port={} dbname={} user={} password={}",
                q(h),
                q(port),
                q(database),
                q(login),
                q(password)
            );
            (text, None)
        }
    };
    let mode = mode.unwrap_or(tls::TlsMode::Prefer);
    let mut config: postgres::Config = text.parse().map_err(pg_error)?;
    config.connect_timeout(TIMEOUT);
    config.ssl_mode(match mode {
        tls::TlsMode::Disable => postgres::config::SslMode::Disable,
        tls::TlsMode::Prefer => postgres::config::SslMode::Prefer,
        _ => postgres::config::SslMode::Require,
    });
    Ok((config, mode))
}

/// Checks every server a PostgreSQL connection may reach (its hosts, and the addresses that
/// stand in for them) against the allow-list.
fn postgres_hosts(pg: &postgres::Config, config: &SqlConfig) -> Result<(), PortError> {
    let ports = pg.get_ports();
    let port = |i: usize| Some(ports.get(i).or(ports.first()).copied().unwrap_or(5432));
    for (i, host) in pg.get_hosts().iter().enumerate() {
        match host {
            postgres::config::Host::Tcp(name) => config.check_host(name, port(i))?,
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => {
                config.check_host(&path.to_string_lossy(), None)?
            }
        }
    }
    for (i, addr) in pg.get_hostaddrs().iter().enumerate() {
        config.check_host(&addr.to_string(), port(i))?;
    }
    Ok(())
}

fn postgres_query(
    config: &postgres::Config,
    mode: tls::TlsMode,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
    sql: &str,
) -> Result<Vec<Value>, PortError> {
    let mut client = match config.connect(tls) {
        // `prefer`, as libpq: a TLS handshake the server and we cannot agree on is tried
        // again in the clear.
        Err(e) if mode == tls::TlsMode::Prefer && tls::handshake_failed(&e) => {
            let mut plain = config.clone();
            plain.ssl_mode(postgres::config::SslMode::Disable);
            plain.connect(postgres::NoTls)
        }
        other => other,
    }
    .map_err(pg_error)?;
    client
        .batch_execute(&format!("SET statement_timeout = {}", TIMEOUT.as_millis()))
        .map_err(pg_error)?;
    let head = sql.trim_start().to_ascii_lowercase();
    if ["select", "with", "values", "table"]
        .iter()
        .any(|k| head.starts_with(k))
    {
        let wrapped = format!(
            "SELECT row_to_json(kt_row)::text FROM ({}) kt_row LIMIT {}",
            sql.trim().trim_end_matches(';'),
            MAX_ROWS + 1
        );
        let rows = client.query(wrapped.as_str(), &[]).map_err(pg_error)?;
        if rows.len() > MAX_ROWS {
            return Err(too_many_rows());
        }
        rows.iter()
            .map(|r| {
                let text: String = r.try_get(0).map_err(pg_error)?;
                serde_json::from_str(&text).map_err(sql_error)
            })
            .collect()
    } else {
        client.batch_execute(sql).map_err(pg_error)?;
        Ok(Vec::new())
    }
}

// MySQL and MariaDB.

/// The connection's settings and its TLS level: the string's, else its own TLS parameters
/// (`danger_accept_invalid_certs`, `cipher_suites`, …) if it has any, else `prefer`.
fn mysql_opts(
    c: &SqlConnection,
    config: &SqlConfig,
) -> Result<(mysql::Opts, tls::TlsMode), PortError> {
    let (builder, mode, own) = match c {
        SqlConnection::Url(u) => {
            let (u, mode) = tls::take_mode(u)?;
            let url = match u.strip_prefix("mariadb://") {
                Some(rest) => format!("mysql://{rest}"),
                None => u,
            };
            let opts = mysql::Opts::from_url(&url).map_err(sql_error)?;
            let (mode, own) = match mode {
                Some(mode) => (mode, false),
                // The client's own parameters asked for TLS: as they say.
                None if opts.get_ssl_opts().is_some() => (tls::TlsMode::Require, true),
                None => (tls::TlsMode::Prefer, false),
            };
            (mysql::OptsBuilder::from_opts(opts), mode, own)
        }
        SqlConnection::Parameters {
            host,
            database,
            login,
            password,
        } => {
            let (h, port) = match host.rsplit_once(':') {
                Some((h, p)) => (
                    h,
                    p.parse::<u16>()
                        .map_err(|_| sql_error(format!("not a port: {p}")))?,
                ),
                None => (host.as_str(), 3306),
            };
            let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            let builder = mysql::OptsBuilder::new()
                .ip_or_hostname(Some(h))
                .tcp_port(port)
                .db_name(some(database))
                .user(some(login))
                .pass(some(password));
            (builder, tls::TlsMode::Prefer, false)
        }
    };
    let builder = if own {
        builder
    } else {
        builder.ssl_opts(tls::mysql_ssl(mode, config.ca_file.as_deref())?)
    };
    let opts = builder
        // The address named, not a local socket the server reports.
        .prefer_socket(false)
        .tcp_connect_timeout(Some(TIMEOUT))
        .read_timeout(Some(TIMEOUT))
        .write_timeout(Some(TIMEOUT))
        .into();
    Ok((opts, mode))
}

fn mysql_query(opts: mysql::Opts, mode: tls::TlsMode, sql: &str) -> Result<Vec<Value>, PortError> {
    use mysql::prelude::Queryable;
    let refused = |e: &mysql::Error| match e {
        mysql::Error::DriverError(mysql::DriverError::TlsNotSupported)
        | mysql::Error::TlsError(_) => true,
        mysql::Error::IoError(e)
        | mysql::Error::CodecError(mysql_common::proto::codec::error::PacketCodecError::Io(e)) => {
            tls::handshake_failed(e)
        }
        _ => false,
    };
    let mut conn = match mysql::Conn::new(opts.clone()) {
        // `prefer`: a server without TLS, or one whose TLS we cannot agree on (old servers
        // offer only TLS 1.0 and 1.1), is spoken to in the clear.
        Err(e) if mode == tls::TlsMode::Prefer && refused(&e) => {
            let plain = mysql::OptsBuilder::from_opts(opts).ssl_opts(None::<mysql::SslOpts>);
            mysql::Conn::new(plain)
        }
        other => other,
    }
    .map_err(sql_error)?;
    let mut result = conn.query_iter(sql).map_err(sql_error)?;
    // Several statements: the rows of the last one that has columns.
    let mut rows = Vec::new();
    while let Some(set) = result.iter() {
        let columns: Vec<mysql::Column> = set.columns().as_ref().to_vec();
        if columns.is_empty() {
            continue;
        }
        let names: Vec<String> = columns.iter().map(|c| c.name_str().into_owned()).collect();
        rows.clear();
        for row in set {
            let row = row.map_err(sql_error)?;
            if rows.len() == MAX_ROWS {
                return Err(too_many_rows());
            }
            let mut obj = Map::new();
            for (i, (name, column)) in names.iter().zip(&columns).enumerate() {
                let v = row
                    .as_ref(i)
                    .map_or(Value::Null, |v| mysql_value(column, v));
                obj.insert(name.clone(), v);
            }
            rows.push(Value::Object(obj));
        }
    }
    Ok(rows)
}

/// The `binary` character set: the column holds bytes, not text.
const BINARY_CHARSET: u16 = 63;

/// A MySQL value as JSON. The text protocol sends every value as text; the column type tells
/// what it is.
fn mysql_value(column: &mysql::Column, v: &mysql::Value) -> Value {
    use mysql::consts::ColumnType as T;
    let bytes = match v {
        mysql::Value::NULL => return Value::Null,
        mysql::Value::Bytes(b) => b,
        mysql::Value::Int(n) => return Value::from(*n),
        mysql::Value::UInt(n) => return Value::from(*n),
        mysql::Value::Float(f) => return number(f64::from(*f), &f.to_string()),
        mysql::Value::Double(f) => return number(*f, &f.to_string()),
        mysql::Value::Date(..) | mysql::Value::Time(..) => {
            return Value::String(v.as_sql(true).trim_matches('\'').replace(' ', "T"))
        }
    };
    let text = || String::from_utf8_lossy(bytes).into_owned();
    match column.column_type() {
        T::MYSQL_TYPE_TINY
        | T::MYSQL_TYPE_SHORT
        | T::MYSQL_TYPE_INT24
        | T::MYSQL_TYPE_LONG
        | T::MYSQL_TYPE_LONGLONG
        | T::MYSQL_TYPE_YEAR => {
            let t = text();
            t.parse::<i64>()
                .map(Value::from)
                .or_else(|_| t.parse::<u64>().map(Value::from))
                .unwrap_or(Value::String(t))
        }
        T::MYSQL_TYPE_FLOAT
        | T::MYSQL_TYPE_DOUBLE
        | T::MYSQL_TYPE_DECIMAL
        | T::MYSQL_TYPE_NEWDECIMAL => {
            let t = text();
            match t.parse::<f64>() {
                Ok(f) => number(f, &t),
                Err(_) => Value::String(t),
            }
        }
        // Temporal columns report the binary character set, yet they are text.
        T::MYSQL_TYPE_DATE | T::MYSQL_TYPE_NEWDATE | T::MYSQL_TYPE_TIME | T::MYSQL_TYPE_TIME2 => {
            Value::String(text())
        }
        T::MYSQL_TYPE_DATETIME
        | T::MYSQL_TYPE_DATETIME2
        | T::MYSQL_TYPE_TIMESTAMP
        | T::MYSQL_TYPE_TIMESTAMP2 => Value::String(text().replacen(' ', "T", 1)),
        T::MYSQL_TYPE_BIT => Value::from(
            bytes
                .iter()
                .fold(0u64, |n, b| n.wrapping_shl(8) | u64::from(*b)),
        ),
        T::MYSQL_TYPE_JSON => {
            serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(text()))
        }
        T::MYSQL_TYPE_GEOMETRY => Value::String(base64(bytes)),
        _ if column.character_set() == BINARY_CHARSET => Value::String(base64(bytes)),
        _ => Value::String(text()),
    }
}

/// A float as a JSON number; NaN and infinities (which JSON lacks) as their text.
fn number(f: f64, text: &str) -> Value {
    serde_json::Number::from_f64(f).map_or_else(|| Value::String(text.to_owned()), Value::Number)
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

// SQLite.

/// The file a SQLite query may open: a relative path inside the configured folder, which
/// must exist and resolve (symlinks followed) inside it.
fn sqlite_path(c: &SqlConnection, config: &SqlConfig) -> Result<PathBuf, PortError> {
    let Some(dir) = &config.sqlite_dir else {
        return Err(sql_error(
            "SQLite is not enabled: set KARTOTEKA_SQL_SQLITE_DIR to the folder whose database files scenarios may open",
        ));
    };
    let name = match c {
        SqlConnection::Url(u) => u
            .strip_prefix("sqlite://")
            .or_else(|| u.strip_prefix("sqlite:"))
            .unwrap_or(u),
        SqlConnection::Parameters { database, .. } => database,
    }
    .trim();
    let rel = Path::new(name);
    if name.is_empty()
        || name.contains('\0')
        || !rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(sql_error(format!(
            "the SQLite database must be a path relative to KARTOTEKA_SQL_SQLITE_DIR, without `..`: {name}"
        )));
    }
    let root = dir
        .canonicalize()
        .map_err(|e| sql_error(format!("KARTOTEKA_SQL_SQLITE_DIR {}: {e}", dir.display())))?;
    let path = root.join(rel).canonicalize().map_err(|e| {
        sql_error(format!(
            "no SQLite database {name} in KARTOTEKA_SQL_SQLITE_DIR: {e}"
        ))
    })?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(sql_error(format!(
            "the SQLite database {name} is not a file inside KARTOTEKA_SQL_SQLITE_DIR"
        )));
    }
    Ok(path)
}

fn sqlite_query(path: &Path, sql: &str) -> Result<Vec<Value>, PortError> {
    use rusqlite::{types::ValueRef, OpenFlags};
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error)?;
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(sql_error)?;
    // A watchdog interrupts the query when it runs too long; dropping `_done` stops it.
    let interrupt = conn.get_interrupt_handle();
    let (_done, done) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = done.recv_timeout(TIMEOUT) {
            interrupt.interrupt();
        }
    });
    let mut stmt = conn.prepare(sql).map_err(sql_error)?;
    if stmt.column_count() == 0 {
        drop(stmt);
        // Statements without rows may come several at once.
        conn.execute_batch(sql).map_err(sql_error)?;
        return Ok(Vec::new());
    }
    let names: Vec<String> = stmt
        .column_names()
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    let mut rows = stmt.query([]).map_err(sql_error)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        if out.len() == MAX_ROWS {
            return Err(too_many_rows());
        }
        let mut obj = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match row.get_ref(i).map_err(sql_error)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::from(n),
                ValueRef::Real(f) => number(f, &f.to_string()),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => Value::String(base64(b)),
            };
            obj.insert(name.clone(), v);
        }
        out.push(Value::Object(obj));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parameters_become_literals_outside_quotes_and_casts() {
        let p = params(json!({"id": 7, "name": "O'Hara", "on": true, "none": null}));
        assert_eq!(
            bind(
                "select ':id', x::int from t where id = :id and n = :name and b = :on and z is :none -- :nope",
                &p,
                Dialect::Postgres
            )
            .ok(),
            Some(
                "select ':id', x::int from t where id = 7 and n = 'O''Hara' and b = TRUE and z is NULL -- :nope"
                    .to_string()
            )
        );
        assert!(bind("select :missing", &p, Dialect::Postgres).is_err());
        assert_eq!(
            bind("select /* :id */ :id", &p, Dialect::Postgres).ok(),
            Some("select /* :id */ 7".to_string())
        );
    }

    #[test]
    fn postgres_and_sqlite_double_quotes() {
        let s = json!("a'b\\c");
        assert_eq!(literal(&s, Dialect::Postgres), "'a''b\\c'");
        assert_eq!(literal(&s, Dialect::Sqlite), "'a''b\\c'");
        assert_eq!(literal(&json!([1, "x"]), Dialect::Postgres), "'[1,\"x\"]'");
        // SQLite's parser would stop at NUL: such text is a hex blob cast to text.
        assert_eq!(
            literal(&json!("a\0'"), Dialect::Sqlite),
            "CAST(X'610027' AS TEXT)"
        );
        assert_eq!(literal(&json!(1.5), Dialect::Sqlite), "1.5");
    }

    #[test]
    fn the_allow_list_names_hosts_with_or_without_a_port() {
        let config = SqlConfig {
            hosts: Some(vec![
                "db.example".into(),
                "10.0.0.5:5433".into(),
                "[::1]:1433".into(),
                "/run/postgresql".into(),
            ]),
            ..SqlConfig::default()
        };
        assert!(config.check_host("DB.example", Some(3306)).is_ok());
        assert!(config.check_host("10.0.0.5", Some(5433)).is_ok());
        assert!(config.check_host("::1", Some(1433)).is_ok());
        assert!(config.check_host("/run/postgresql", None).is_ok());
        for (host, port) in [
            ("10.0.0.5", Some(5432)),
            ("other", Some(5432)),
            ("::1", Some(1)),
            ("/tmp", None),
        ] {
            let e = config.check_host(host, port).err();
            assert!(
                e.is_some_and(|e| e.message.contains("not in KARTOTEKA_SQL_HOSTS")),
                "{host}"
            );
        }
        assert!(SqlConfig::default().check_host("anything", None).is_ok());
        let pg: postgres::Config = "host=db.example hostaddr=10.9.9.9 port=5432 user=u"
            .parse()
            .unwrap_or_else(|_| postgres::Config::new());
        let e = postgres_hosts(&pg, &config).err();
        assert!(
            e.is_some_and(|e| e.message.contains("10.9.9.9")),
            "an address that stands in for a listed name is checked too"
        );
    }

    #[test]
    fn percent_sequences_decode_as_utf8() {
        assert_eq!(percent_decode("p%40ss%D1%8F").as_deref(), Some("p@ssя"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn sql_server_takes_unicode_strings_bits_and_bracketed_names() {
        let p = params(json!({"who": "O'Hara", "on": true, "n": 2}));
        assert_eq!(
            bind(
                "select [a:who], [x]]:who] from t where name = :who and flag = :on and n = :n",
                &p,
                Dialect::MsSql
            )
            .ok(),
            Some(
                "select [a:who], [x]]:who] from t where name = N'O''Hara' and flag = 1 and n = 2"
                    .to_string()
            )
        );
        assert_eq!(literal(&json!(false), Dialect::MsSql), "0");
        assert_eq!(literal(&json!("я"), Dialect::MsSql), "N'я'");
    }

    #[test]
    fn mysql_strings_are_hex_literals() {
        // Quote, backslash and NUL: nothing is left for the server to unescape.
        assert_eq!(
            literal(&json!("O'H\\a\0"), Dialect::MySql),
            "_utf8mb4 X'4F27485C6100'"
        );
        assert_eq!(literal(&json!(""), Dialect::MySql), "_utf8mb4 X''");
        assert_eq!(literal(&json!("я"), Dialect::MySql), "_utf8mb4 X'D18F'");
        assert_eq!(literal(&json!(false), Dialect::MySql), "FALSE");
        assert_eq!(literal(&json!(null), Dialect::MySql), "NULL");
        assert_eq!(literal(&json!(-3), Dialect::MySql), "-3");
    }

    #[test]
    fn mysql_skips_escaped_quotes_backticks_and_hash_comments() {
        let p = params(json!({"a": 1}));
        assert_eq!(
            bind(
                "select 'it\\'s :a', `:a`, :a # :nope\nfrom t",
                &p,
                Dialect::MySql
            )
            .ok(),
            Some("select 'it\\'s :a', `:a`, 1 # :nope\nfrom t".to_string())
        );
        // In PostgreSQL a backslash is an ordinary character of a string.
        assert_eq!(
            bind("select 'a\\', :a", &p, Dialect::Postgres).ok(),
            Some("select 'a\\', 1".to_string())
        );
    }

    fn dir_config(dir: &Path) -> SqlConfig {
        SqlConfig {
            sqlite_dir: Some(dir.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn sqlite_opens_only_files_inside_the_folder() {
        let base = std::env::temp_dir().join(format!("kt-sql-unit-{}", std::process::id()));
        let inside = base.join("dbs");
        std::fs::create_dir_all(&inside).expect("dir");
        std::fs::write(base.join("secret.db"), b"").expect("file");
        std::fs::write(inside.join("ok.db"), b"").expect("file");
        let config = dir_config(&inside);
        let url = |s: &str| SqlConnection::Url(s.to_owned());
        assert!(sqlite_path(&url("sqlite://ok.db"), &config).is_ok());
        assert!(sqlite_path(&url("./ok.db"), &config).is_ok());
        for bad in [
            "sqlite://../secret.db",
            "/etc/passwd",
            "sqlite:///etc/passwd",
            "missing.db",
            "",
        ] {
            let e = sqlite_path(&url(bad), &config).err();
            assert_eq!(e.map(|e| e.code), Some("SQL".to_string()), "{bad}");
        }
        #[cfg(unix)]
        {
            let link = inside.join("link.db");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(base.join("secret.db"), &link).expect("symlink");
            assert!(sqlite_path(&url("link.db"), &config).is_err());
        }
        let e = sqlite_path(&url("ok.db"), &SqlConfig::default()).err();
        assert!(e.is_some_and(|e| e.message.contains("KARTOTEKA_SQL_SQLITE_DIR")));
        let _ = std::fs::remove_dir_all(&base);
    }
}
