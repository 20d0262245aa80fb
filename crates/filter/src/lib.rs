//! The record filter language (spec 01 §5): one typed AST for the three ways a client can
//! send filters, validated against the catalog's field definitions.
//!
//! - the array form in bracket notation from query pairs
//!   (`filters[0][fieldId]=4&filters[0][value][at]=…`, `filters[0][value][]=1`);
//! - the array form as JSON text (`filters=[{"fieldId":"4","value":{"at":…}}]`);
//! - the object form as JSON text (`filters={"4":{"at":…},"$or":[…]}`), with `$or` / `$and`
//!   over conditions and over one field's values, nested to any depth.
//!
//! [`Input`] holds what the client sent, [`parse`] turns it into a [`Filter`] against a
//! [`Scope`] (the catalog's fields, and the catalogs its object fields link to). Every error
//! is a [`FilterError`] carrying the path of the bad part, e.g. `filters[1].value.at`.
//! Nothing here does IO; the store compiles a [`Filter`] to SQL.

mod ast;
mod error;
mod parse;
mod path;
pub mod qs;

pub use ast::{Cond, FieldRef, Filter, LinkCond, UserRef};
pub use error::{FilterError, FilterErrorKind};
pub use parse::{parse, Input, Linked, Options, Scope, MAX_CONDITIONS, MAX_DEPTH};
