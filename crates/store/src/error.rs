//! Store errors, classified portably so the core can map them without knowing the backend.

/// An error from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint was violated.
    #[error("unique constraint violated: {0}")]
    Unique(String),
    /// Any other constraint (not null, check, foreign key).
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// A value could not be decoded from a row.
    #[error("decode: {0}")]
    Decode(String),
    /// A migration on disk does not match the embedded one.
    #[error("migration {0}: {1}")]
    Migration(i64, String),
    /// The store is closed or its worker is gone.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Any other backend error.
    #[error("database: {0}")]
    Backend(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        if let rusqlite::Error::SqliteFailure(f, msg) = &e {
            let text = msg.clone().unwrap_or_else(|| f.to_string());
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            {
                return StoreError::Unique(text);
            }
            if f.code == C::ConstraintViolation {
                return StoreError::Constraint(text);
            }
        }
        StoreError::Backend(e.to_string())
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if let Some(db) = e.as_db_error() {
            let code = db.code().code();
            let text = db.message().to_string();
            if code == "23505" {
                return StoreError::Unique(text);
            }
            if code.starts_with("23") {
                return StoreError::Constraint(text);
            }
            return StoreError::Backend(format!("{code}: {text}"));
        }
        StoreError::Backend(e.to_string())
    }
}
