//! Scenario files (BPMN 2.0 XML with Camunda extensions, as Bpium's bpmn-js editor writes
//! them) compiled into the JSON IR the automation engine runs, checked at compile time, and
//! exported back to XML (spec 03 §9, §10).
//!
//! # What the compiler reads
//!
//! - The first `bpmn:process`. Its `startEvent`, `endEvent`, `serviceTask`,
//!   `exclusiveGateway`, `parallelGateway`, timer `intermediateCatchEvent`, error and timer
//!   `boundaryEvent` and `textAnnotation` become [`Node`]s; `sequenceFlow`s become [`Edge`]s,
//!   both in document order. Other BPMN flow nodes (user tasks, sub-processes, …) are
//!   rejected; anything else is carried along untouched.
//! - A task's component is `camunda:connector/camunda:connectorId`. Its
//!   `camunda:inputOutput` holds input parameters whose single child is a `camunda:script`
//!   with a JSON envelope `{"type":"script"|"const","value":…}` (an expression or a literal),
//!   a `camunda:list` of `camunda:value`s, or a `camunda:map` of `camunda:entry key=…`
//!   (ordered pairs); and output parameters `name=<target path>` whose script is
//!   `{"type":"outputResult","value":<slot>}`, or, for `setvar`, `{"type":"script"}`.
//! - Flow conditions use the same envelope inside `bpmn:conditionExpression`; an empty value
//!   means no condition. Durations are the text of `bpmn:timeDuration`. The edges are the
//!   truth about the graph: `bpmn:incoming` / `bpmn:outgoing` are not read.
//! - Connector ids are not checked; the engine refuses unknown ones when it runs them.
//!
//! # Round trip
//!
//! [`Ir::raw`] keeps whatever the typed fields do not: the document with each node and edge
//! replaced by a placeholder, and per element a skeleton in which typed attribute values are
//! blanked and typed children are replaced by holes. [`export`] fills the skeletons from the
//! typed fields, so an edited IR exports its edits. Where the editor's canonical form of a
//! value would differ from the source (CDATA documentation, other JSON spacing, extra
//! attributes), the hole keeps the source with the value it stood for, and the source is
//! written back as long as that value is unchanged.

mod duration;
mod error;
mod export;
mod ir;
mod lower;
mod path;
mod render;
mod validate;
pub mod xml;

pub use duration::{parse_duration, DurationError, IsoDuration};
pub use error::{CompileError, ErrorKind};
pub use export::export;
pub use ir::{
    Boundary, Bounds, Edge, Ir, Node, NodeKind, OrderedMap, Output, ParamValue, Raw, Task, Trigger,
    IR_VERSION,
};
pub use path::{parse_target, PathError, Segment};
pub use validate::validate;

/// JavaScript syntax checks, supplied by the caller (the JS engine crate) so that this crate
/// needs no JavaScript parser.
pub trait SyntaxCheck {
    /// Checks a JavaScript expression; the error is a human-readable reason.
    fn expression(&self, src: &str) -> Result<(), String>;
    /// Checks the body of a function (the Code component's source).
    fn function_body(&self, src: &str) -> Result<(), String>;
}

/// A [`SyntaxCheck`] that accepts everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheck;

impl SyntaxCheck for NoCheck {
    fn expression(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
    fn function_body(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Compiles a scenario file into the IR and validates it.
pub fn compile(xml: &[u8], check: &dyn SyntaxCheck) -> Result<Ir, CompileError> {
    let doc = xml::parse(xml).map_err(|e| {
        CompileError::new(
            ErrorKind::NotXml,
            None,
            format!("the file is not well-formed XML: {}", e.0),
        )
    })?;
    let ir = lower::lower(doc)?;
    validate::validate(&ir, check)?;
    Ok(ir)
}
