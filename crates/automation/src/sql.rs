//! SQL query (spec 03 §7.2.4) against an external PostgreSQL database. `:name` parameters
//! are bound as quoted literals (numbers, booleans and `NULL` as themselves, everything
//! else as a string literal with its quotes doubled), which PostgreSQL types from their
//! place in the statement. A query that yields rows answers them as objects keyed by column
//! (`row_to_json`, so numbers stay numbers); any other statement answers `[]`. Other database
//! types are not supported yet.

use kartoteka_engine::{PortError, SqlConnection, SqlQuery};
use serde_json::{Map, Value};

fn sql_error(e: impl std::fmt::Display) -> PortError {
    PortError::new("SQL", e.to_string())
}

/// A JSON value as a PostgreSQL literal.
fn literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// Replaces `:name` outside quotes, comments and `::` casts by the parameter's literal. An
/// unknown name is an error.
fn bind(query: &str, params: &Map<String, Value>) -> Result<String, PortError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = String::with_capacity(query.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    out.push(chars[i]);
                    if chars[i] == c {
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
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
                out.push_str(&literal(v));
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

fn connection_string(c: &SqlConnection) -> String {
    match c {
        SqlConnection::Url(u) => u.clone(),
        SqlConnection::Parameters {
            host,
            database,
            login,
            password,
        } => {
            let (h, port) = host.split_once(':').unwrap_or((host.as_str(), "5432"));
            let q = |s: &str| format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
            format!(
                "host={} port={} dbname={} user={} password={}",
                q(h),
                q(port),
                q(database),
                q(login),
                q(password)
            )
        }
    }
}

/// Runs the query (on a blocking thread: the client is synchronous).
pub(crate) async fn run(q: SqlQuery) -> Result<Vec<Value>, PortError> {
    if !matches!(q.db_type.as_str(), "postgres" | "postgresql" | "pg") {
        return Err(PortError::new(
            "INTERNAL",
            format!("component not supported: sql ({})", q.db_type),
        ));
    }
    let sql = bind(&q.query, &q.params)?;
    let url = connection_string(&q.connection);
    tokio::task::spawn_blocking(move || -> Result<Vec<Value>, PortError> {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).map_err(sql_error)?;
        let head = sql.trim_start().to_ascii_lowercase();
        if ["select", "with", "values", "table"]
            .iter()
            .any(|k| head.starts_with(k))
        {
            let wrapped = format!(
                "SELECT row_to_json(kt_row)::text FROM ({}) kt_row",
                sql.trim().trim_end_matches(';')
            );
            let rows = client.query(wrapped.as_str(), &[]).map_err(sql_error)?;
            rows.iter()
                .map(|r| {
                    let text: String = r.try_get(0).map_err(sql_error)?;
                    serde_json::from_str(&text).map_err(sql_error)
                })
                .collect()
        } else {
            client.batch_execute(&sql).map_err(sql_error)?;
            Ok(Vec::new())
        }
    })
    .await
    .map_err(|e| PortError::new("INTERNAL", e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parameters_become_literals_outside_quotes_and_casts() {
        let p = json!({"id": 7, "name": "O'Hara", "on": true, "none": null})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            bind(
                "select ':id', x::int from t where id = :id and n = :name and b = :on and z is :none -- :nope",
                &p
            )
            .ok(),
            Some(
                "select ':id', x::int from t where id = 7 and n = 'O''Hara' and b = TRUE and z is NULL -- :nope"
                    .to_string()
            )
        );
        assert!(bind("select :missing", &p).is_err());
    }
}
