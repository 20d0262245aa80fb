//! The compile error: a machine kind, a message that names the offending element, and its id.

use thiserror::Error;

/// What class of problem a [`CompileError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The bytes are not well-formed UTF-8 XML.
    NotXml,
    /// The document has no `bpmn:process`.
    NoProcess,
    /// An element this engine cannot run (e.g. a user task, a message event).
    Unsupported,
    /// A structural problem: ids, start events, edges that reference nothing.
    Graph,
    /// An exclusive gateway breaks the diverging-flow rules.
    Gateway,
    /// A boundary event is attached to a non-task or has the wrong flows.
    Boundary,
    /// A parameter or condition is not in the `{"type","value"}` encoding.
    Param,
    /// An expression or the Code source does not parse.
    Expression,
    /// A timer duration is not an ISO-8601 duration.
    Timer,
    /// An output target is not a valid variable path.
    OutputPath,
}

/// Why a scenario did not compile.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct CompileError {
    /// The class of problem.
    pub kind: ErrorKind,
    /// The human message; it names the element (`bpmn:ServiceTask Task_1: …`).
    pub message: String,
    /// The id of the offending element, when there is one.
    pub element: Option<String>,
}

impl CompileError {
    pub(crate) fn new(kind: ErrorKind, element: Option<&str>, message: impl Into<String>) -> Self {
        CompileError {
            kind,
            message: message.into(),
            element: element.map(str::to_owned),
        }
    }

    /// An error about element `id` of BPMN type `ty` (e.g. `ServiceTask`).
    pub(crate) fn at(kind: ErrorKind, ty: &str, id: &str, what: impl std::fmt::Display) -> Self {
        Self::new(kind, Some(id), format!("bpmn:{ty} {id}: {what}"))
    }
}
