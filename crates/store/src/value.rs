//! Backend-neutral SQL values and rows. Both backends bind [`DbValue`] parameters and return
//! [`Row`]s, so that the SQL built by this crate runs unchanged on SQLite and PostgreSQL.

use crate::error::StoreError;

/// A parameter or a column value.
#[derive(Debug, Clone, PartialEq)]
pub enum DbValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

impl From<i64> for DbValue {
    fn from(v: i64) -> Self {
        DbValue::Int(v)
    }
}
impl From<f64> for DbValue {
    fn from(v: f64) -> Self {
        DbValue::Real(v)
    }
}
impl From<bool> for DbValue {
    fn from(v: bool) -> Self {
        DbValue::Bool(v)
    }
}
impl From<String> for DbValue {
    fn from(v: String) -> Self {
        DbValue::Text(v)
    }
}
impl From<&str> for DbValue {
    fn from(v: &str) -> Self {
        DbValue::Text(v.to_string())
    }
}
impl<T: Into<DbValue>> From<Option<T>> for DbValue {
    fn from(v: Option<T>) -> Self {
        v.map(Into::into).unwrap_or(DbValue::Null)
    }
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<DbValue>);

impl Row {
    pub fn get(&self, i: usize) -> &DbValue {
        self.0.get(i).unwrap_or(&DbValue::Null)
    }

    pub fn int(&self, i: usize) -> Result<i64, StoreError> {
        match self.get(i) {
            DbValue::Int(v) => Ok(*v),
            DbValue::Bool(b) => Ok(i64::from(*b)),
            DbValue::Real(r) if r.fract() == 0.0 => Ok(*r as i64),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected an integer, got {other:?}"
            ))),
        }
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        match self.get(i) {
            DbValue::Null => Ok(None),
            _ => self.int(i).map(Some),
        }
    }

    pub fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        match self.get(i) {
            DbValue::Null => Ok(None),
            DbValue::Real(v) => Ok(Some(*v)),
            DbValue::Int(v) => Ok(Some(*v as f64)),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected a number, got {other:?}"
            ))),
        }
    }

    pub fn bool(&self, i: usize) -> Result<bool, StoreError> {
        match self.get(i) {
            DbValue::Bool(b) => Ok(*b),
            DbValue::Int(v) => Ok(*v != 0),
            DbValue::Null => Ok(false),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected a boolean, got {other:?}"
            ))),
        }
    }

    pub fn text(&self, i: usize) -> Result<String, StoreError> {
        match self.get(i) {
            DbValue::Text(s) => Ok(s.clone()),
            DbValue::Null => Ok(String::new()),
            DbValue::Int(v) => Ok(v.to_string()),
            other => Err(StoreError::Decode(format!(
                "column {i}: expected text, got {other:?}"
            ))),
        }
    }

    pub fn opt_text(&self, i: usize) -> Result<Option<String>, StoreError> {
        match self.get(i) {
            DbValue::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
}
