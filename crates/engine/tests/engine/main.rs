//! The engine's tests: control flow, components, the patterns of spec 03 §11 and the sample
//! scenarios, all against fake ports.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.

mod common;
mod components;
mod connectors;
mod flow;
mod patterns;
mod samples;
