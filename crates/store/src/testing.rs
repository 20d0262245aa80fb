//! Helpers for test suites that run against PostgreSQL: each test gets a fresh schema, so runs
//! never see each other's tables.

use postgres::{Client, NoTls};

use crate::error::StoreError;

/// Creates a schema with a unique name and returns a database URL whose connections use it.
/// Blocking: call from a blocking thread.
pub fn fresh_postgres_schema(base_url: &str) -> Result<(String, String), StoreError> {
    let mut c = Client::connect(base_url, NoTls)?;
    let schema = format!(
        "kt_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    c.batch_execute(&format!("CREATE SCHEMA {schema}"))?;
    let sep = if base_url.contains('?') { '&' } else { '?' };
    Ok((format!("{base_url}{sep}options=-csearch_path%3D{schema}"), schema))
}

/// Drops a schema made by [`fresh_postgres_schema`]. Blocking.
pub fn drop_postgres_schema(base_url: &str, schema: &str) -> Result<(), StoreError> {
    let mut c = Client::connect(base_url, NoTls)?;
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
    Ok(())
}
