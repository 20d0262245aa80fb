//! SQL query on Microsoft SQL Server, over TDS with tiberius.
//!
//! - **Connection parameters**: `host` is `name[:port]` (or `name,port`, as SQL Server writes
//!   it; 1433 by default; a named instance needs its port), SQL Server login and password.
//!   The connection is encrypted when the server can encrypt, with the certificate not
//!   checked, and in the clear when the server cannot: the `prefer` of PostgreSQL and MySQL.
//! - **A connection string** is an ADO.NET one (`Server=tcp:host,1433;Database=…;User
//!   Id=…;Password=…;Encrypt=true;TrustServerCertificate=false`), a JDBC one
//!   (`jdbc:sqlserver://host:1433;databaseName=…`) or a URL as node-mssql takes it
//!   (`mssql://user:password@host:1433/database?encrypt=true&trustServerCertificate=true`).
//!   Its own settings decide encryption: required unless it says `Encrypt=false` (login
//!   only) or `Encrypt=DANGER_PLAINTEXT` (none); the certificate is checked against the
//!   bundled public roots and `KARTOTEKA_SQL_CA_FILE` unless `TrustServerCertificate=true`.
//!   `TrustServerCertificateCA`, a file of this server, is refused.
//! - **Values**: integers and floats as numbers, `decimal`/`numeric`/`money` as doubles,
//!   `bit` as a boolean, text as text, `uniqueidentifier` as upper-case text (as SQL Server
//!   prints it), binary as base64, dates and times as ISO 8601 text, `xml` as its text.
//! - Several statements answer the rows of the last one that has columns; 30 s to connect
//!   and 30 s for the query.

use futures_util::TryStreamExt as _;
use kartoteka_engine::{PortError, SqlConnection};
use serde_json::{Map, Value};
use tiberius::{AuthMethod, Client, ColumnData, Config, EncryptionLevel, FromSql, QueryItem};
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt as _};

use super::{
    base64, number, percent_decode, sql_error, too_many_rows, SqlConfig, MAX_ROWS, TIMEOUT,
};

type Connection = Client<Compat<tokio::net::TcpStream>>;

/// Runs the query: the rows of the last statement that has columns.
pub(super) async fn query(
    c: &SqlConnection,
    host: &SqlConfig,
    sql: &str,
) -> Result<Vec<Value>, PortError> {
    let (config, prefer) = tds_config(c, host)?;
    let addr = config.get_addr();
    match addr.rsplit_once(':') {
        Some((name, port)) => host.check_host(name, port.parse().ok())?,
        None => host.check_host(&addr, None)?,
    }
    let connected = tokio::time::timeout(TIMEOUT, async {
        match connect(config.clone()).await {
            // `prefer`: a server that cannot encrypt, or whose TLS we cannot agree on.
            Err(e) if prefer && refused_encryption(&e) => {
                let mut plain = config;
                plain.encryption(EncryptionLevel::NotSupported);
                connect(plain).await
            }
            other => other,
        }
    })
    .await
    .map_err(|_| sql_error(format!("SQL Server did not answer within {TIMEOUT:?}")))?;
    let mut client = connected.map_err(tds_error)?;
    tokio::time::timeout(TIMEOUT, rows(&mut client, sql))
        .await
        .map_err(|_| sql_error(format!("the query ran longer than {TIMEOUT:?}")))?
}

fn tds_error(e: tiberius::error::Error) -> PortError {
    sql_error(format!("SQL Server: {e}"))
}

/// The failures after which `prefer` tries again in the clear.
fn refused_encryption(e: &tiberius::error::Error) -> bool {
    match e {
        tiberius::error::Error::Protocol(m) => m.contains("encryption level"),
        tiberius::error::Error::Tls(_) => true,
        _ => false,
    }
}

async fn connect(config: Config) -> Result<Connection, tiberius::error::Error> {
    let tcp = tokio::net::TcpStream::connect(config.get_addr()).await?;
    tcp.set_nodelay(true)?;
    Client::connect(config, tcp.compat_write()).await
}

/// The client's settings, and whether it may fall back to no encryption.
fn tds_config(c: &SqlConnection, host: &SqlConfig) -> Result<(Config, bool), PortError> {
    let mut config = match c {
        SqlConnection::Parameters {
            host: address,
            database,
            login,
            password,
        } => {
            let mut config = Config::new();
            let (name, port) = match address.rsplit_once([':', ',']) {
                Some((name, port)) => (
                    name,
                    port.trim()
                        .parse::<u16>()
                        .map_err(|_| sql_error(format!("not a port: {port}")))?,
                ),
                None => (address.as_str(), 1433),
            };
            config.host(name.trim());
            config.port(port);
            if !database.is_empty() {
                config.database(database);
            }
            config.authentication(AuthMethod::sql_server(login, password));
            config.encryption(EncryptionLevel::Required);
            config.trust_cert();
            return Ok((with_timeouts(config), true));
        }
        SqlConnection::Url(text) => {
            let lower = text.to_ascii_lowercase();
            if lower.contains("trustservercertificateca") {
                return Err(sql_error(
                    "the connection string may not name files of this server \
                     (TrustServerCertificateCA); the certificates it trusts are set by \
                     KARTOTEKA_SQL_CA_FILE",
                ));
            }
            let mut config = if lower.starts_with("jdbc:") {
                Config::from_jdbc_string(text).map_err(tds_error)?
            } else if lower.starts_with("mssql://") || lower.starts_with("sqlserver://") {
                url_config(text)?
            } else {
                Config::from_ado_string(text).map_err(tds_error)?
            };
            let trusts_any = ["trustservercertificate=true", "trustservercertificate=yes"]
                .iter()
                .any(|t| lower.replace(' ', "").contains(t));
            if !trusts_any {
                config.trust_webpki_roots();
                if let Some(ca) = &host.ca_file {
                    config.trust_cert_ca(ca.display());
                }
            }
            config
        }
    };
    config = with_timeouts(config);
    Ok((config, false))
}

fn with_timeouts(mut config: Config) -> Config {
    config.handshake_timeout(Some(TIMEOUT));
    config.command_timeout(Some(TIMEOUT));
    config
}

/// A node-mssql URL: `mssql://user:password@host:port/database?encrypt=…&trustServerCertificate=…`.
fn url_config(text: &str) -> Result<Config, PortError> {
    let url = reqwest::Url::parse(text).map_err(|e| sql_error(format!("{e}: {text}")))?;
    let decoded = |s: &str| {
        percent_decode(s).ok_or_else(|| sql_error(format!("not a URL-encoded value: {s}")))
    };
    let mut config = Config::new();
    config.host(url.host_str().unwrap_or("localhost"));
    config.port(url.port().unwrap_or(1433));
    let database = url.path().trim_start_matches('/');
    if !database.is_empty() {
        config.database(decoded(database)?);
    }
    config.authentication(AuthMethod::sql_server(
        decoded(url.username())?,
        decoded(url.password().unwrap_or(""))?,
    ));
    config.encryption(EncryptionLevel::Required);
    for (key, value) in url.query_pairs() {
        let yes = matches!(value.to_ascii_lowercase().as_str(), "true" | "yes" | "1");
        match key.to_ascii_lowercase().as_str() {
            "encrypt" if value == "DANGER_PLAINTEXT" => {
                config.encryption(EncryptionLevel::NotSupported)
            }
            "encrypt" if !yes => config.encryption(EncryptionLevel::Off),
            "trustservercertificate" if yes => config.trust_cert(),
            _ => {}
        }
    }
    Ok(config)
}

async fn rows(client: &mut Connection, sql: &str) -> Result<Vec<Value>, PortError> {
    let mut stream = client.simple_query(sql).await.map_err(tds_error)?;
    let mut names: Vec<String> = Vec::new();
    let mut rows = Vec::new();
    while let Some(item) = stream.try_next().await.map_err(tds_error)? {
        match item {
            QueryItem::Metadata(meta) => {
                if !meta.columns().is_empty() {
                    names = meta.columns().iter().map(|c| c.name().to_owned()).collect();
                    rows.clear();
                }
            }
            QueryItem::Row(row) => {
                if rows.len() == MAX_ROWS {
                    return Err(too_many_rows());
                }
                let obj: Map<String, Value> = names
                    .iter()
                    .cloned()
                    .zip(row.into_iter().map(value))
                    .collect();
                rows.push(Value::Object(obj));
            }
        }
    }
    Ok(rows)
}

/// A column's value as JSON.
fn value(d: ColumnData<'static>) -> Value {
    use ColumnData as D;
    let time = |d: &ColumnData<'static>| -> Option<Value> {
        let text = match d {
            D::Date(_) => chrono::NaiveDate::from_sql(d).ok()??.to_string(),
            D::Time(_) => chrono::NaiveTime::from_sql(d)
                .ok()??
                .format("%H:%M:%S%.f")
                .to_string(),
            D::DateTimeOffset(_) => chrono::DateTime::<chrono::FixedOffset>::from_sql(d)
                .ok()??
                .to_rfc3339(),
            _ => chrono::NaiveDateTime::from_sql(d)
                .ok()??
                .format("%Y-%m-%dT%H:%M:%S%.f")
                .to_string(),
        };
        Some(Value::String(text))
    };
    match d {
        D::U8(v) => v.map_or(Value::Null, Value::from),
        D::I16(v) => v.map_or(Value::Null, Value::from),
        D::I32(v) => v.map_or(Value::Null, Value::from),
        D::I64(v) => v.map_or(Value::Null, Value::from),
        D::F32(v) => v.map_or(Value::Null, |f| number(f64::from(f), &f.to_string())),
        D::F64(v) => v.map_or(Value::Null, |f| number(f, &f.to_string())),
        D::Bit(v) => v.map_or(Value::Null, Value::Bool),
        D::String(v) => v.map_or(Value::Null, |s| Value::String(s.into_owned())),
        D::Guid(v) => v.map_or(Value::Null, |g| Value::String(g.to_string().to_uppercase())),
        D::Binary(v) => v.map_or(Value::Null, |b| Value::String(base64(&b))),
        D::Numeric(v) => v.map_or(Value::Null, |n| number(f64::from(n), &n.to_string())),
        D::Xml(v) => v.map_or(Value::Null, |x| Value::String(x.into_owned().into_string())),
        other => time(&other).unwrap_or(Value::Null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> SqlConnection {
        SqlConnection::Url(text.to_owned())
    }

    #[test]
    fn connection_strings_of_three_kinds_are_read() {
        let none = SqlConfig::default();
        for text in [
            "Server=tcp:db.example,1500;Database=shop;User Id=sa;Password=p;Encrypt=true",
            "jdbc:sqlserver://db.example:1500;databaseName=shop;user=sa;password=p",
            "mssql://sa:p%40ss@db.example:1500/shop?encrypt=true",
        ] {
            let got = tds_config(&url(text), &none).map(|(c, prefer)| (c.get_addr(), prefer));
            assert_eq!(
                got.as_ref().ok(),
                Some(&("db.example:1500".to_string(), false)),
                "{text}"
            );
        }
        let refused = tds_config(
            &url("Server=h;TrustServerCertificateCA=/etc/ssl/private/key.pem"),
            &none,
        );
        assert!(refused.is_err_and(|e| e.message.contains("may not name files")));
        let by_parameters = SqlConnection::Parameters {
            host: "db.example,1500".into(),
            database: "shop".into(),
            login: "sa".into(),
            password: "p".into(),
        };
        let got = tds_config(&by_parameters, &none).map(|(c, prefer)| (c.get_addr(), prefer));
        assert_eq!(got.ok(), Some(("db.example:1500".to_string(), true)));
    }

    #[test]
    fn values_become_json() {
        assert_eq!(value(ColumnData::I32(Some(-7))), Value::from(-7));
        assert_eq!(value(ColumnData::I32(None)), Value::Null);
        assert_eq!(value(ColumnData::Bit(Some(true))), Value::Bool(true));
        assert_eq!(
            value(ColumnData::Binary(Some(vec![0u8, 255].into()))),
            Value::from("AP8=")
        );
        let day = chrono::NaiveDate::from_ymd_opt(2024, 5, 1).unwrap_or_default();
        let at = day.and_hms_opt(10, 20, 30).unwrap_or_default();
        assert_eq!(
            value(tiberius::IntoSql::into_sql(at)),
            Value::from("2024-05-01T10:20:30")
        );
        assert_eq!(
            value(tiberius::IntoSql::into_sql(day)),
            Value::from("2024-05-01")
        );
        let numeric = tiberius::numeric::Numeric::new_with_scale(1250, 2);
        assert_eq!(value(ColumnData::Numeric(Some(numeric))), Value::from(12.5));
    }
}
