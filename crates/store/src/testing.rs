//! Helpers for test suites that run against PostgreSQL: each test gets a fresh schema, so runs
//! never see each other's tables.

use postgres::{Client, NoTls};

use crate::error::StoreError;

/// Runs blocking client code on a plain thread, so these helpers work from async tests too
/// (the synchronous client refuses to run on an async worker).
fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    std::thread::spawn(f)
        .join()
        .map_err(|_| StoreError::Unavailable("test helper thread panicked".into()))?
}

/// Creates a schema with a unique name and returns a database URL whose connections use it.
pub fn fresh_postgres_schema(base_url: &str) -> Result<(String, String), StoreError> {
    let base_url = base_url.to_string();
    on_thread(move || fresh(&base_url))
}

fn fresh(base_url: &str) -> Result<(String, String), StoreError> {
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
    Ok((
        format!("{base_url}{sep}options=-csearch_path%3D{schema}"),
        schema,
    ))
}

/// Drops a schema made by [`fresh_postgres_schema`].
pub fn drop_postgres_schema(base_url: &str, schema: &str) -> Result<(), StoreError> {
    let (base_url, schema) = (base_url.to_string(), schema.to_string());
    on_thread(move || {
        let mut c = Client::connect(&base_url, NoTls)?;
        c.batch_execute(&format!(
            "SET client_min_messages = warning; DROP SCHEMA IF EXISTS {schema} CASCADE"
        ))?;
        Ok(())
    })
}
