//! The pure vocabulary of Kartoteka: ids, error codes, field definitions, one module per field
//! type (config validation, value parsing, validation and rendering), and privileges.
//!
//! Nothing here does IO. The store maps these types to SQL, the core orchestrates them, and the
//! HTTP crate turns them into wire JSON.

pub mod error;
pub mod field;
pub mod ids;
pub mod privilege;
pub mod time;
pub mod value;

pub use error::{ErrorCode, FieldError};
pub use field::{FieldDef, FieldType};
pub use value::FieldValue;
