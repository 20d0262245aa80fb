//! Tests: system catalogs.
