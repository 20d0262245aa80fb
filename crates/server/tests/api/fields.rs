//! Tests: fields.
