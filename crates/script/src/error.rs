//! The error of an evaluation: a stable code (spec 03 §4.3) and a readable message.

use std::fmt;

/// The stable error codes a sandbox failure maps to, as spec 03 §4.3 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The source does not parse, or evaluating it threw (ReferenceError, TypeError, a `throw`,
    /// a Promise result, …).
    Expression,
    /// The evaluation ran past its deadline.
    Timeout,
    /// The evaluation exceeded the memory limit of the sandbox.
    Limit,
    /// Anything else: the engine itself failed.
    Internal,
}

impl ErrorCode {
    /// The code as spec 03 writes it (`"EXPRESSION"`, `"TIMEOUT"`, `"LIMIT"`, `"INTERNAL"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Expression => "EXPRESSION",
            ErrorCode::Timeout => "TIMEOUT",
            ErrorCode::Limit => "LIMIT",
            ErrorCode::Internal => "INTERNAL",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed evaluation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ScriptError {
    /// What kind of failure it was.
    pub code: ErrorCode,
    /// A human-readable message; for JavaScript errors `Name: message`, as Node prints them.
    pub message: String,
}

impl ScriptError {
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> ScriptError {
        ScriptError {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn expression(message: impl Into<String>) -> ScriptError {
        ScriptError::new(ErrorCode::Expression, message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> ScriptError {
        ScriptError::new(ErrorCode::Internal, message)
    }
}
