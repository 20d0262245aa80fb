//! The persisted state of a process and the outcome of a step.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything a process needs to continue: the host persists it between steps and after a
/// restart hands it back to [`crate::Engine::run_step`].
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The process variables; the process result when it completes.
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// Ready tokens, run first in first out.
    #[serde(default)]
    pub tokens: VecDeque<Token>,
    /// Tokens waiting at AND joins: gateway id → incoming edge id → tokens arrived.
    #[serde(default)]
    pub joins: BTreeMap<String, BTreeMap<String, u32>>,
    /// Tokens held by intermediate timers.
    #[serde(default)]
    pub waits: Vec<Wait>,
    /// Steps finished by a [`Outcome::Yield`]; the host paces the next one with
    /// `pacing_delay(settings, step)`.
    #[serde(default)]
    pub step: u64,
    /// Nodes entered over the whole process.
    #[serde(default)]
    pub entered: u64,
}

/// A token: the node it enters next and the edge it came along.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The node id.
    pub at: String,
    /// The edge id; `None` for the start token and tokens leaving a boundary event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// A token held by an intermediate timer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Wait {
    /// The token that goes on when the wait is over: it is already past the timer, on the
    /// timer's outgoing edge.
    pub token: Token,
    /// The timer node that holds it.
    pub timer: String,
    /// When it goes on, in Unix milliseconds.
    pub until_ms: i64,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// No tokens and no waits are left: the process completed and its result is
    /// `state.vars`.
    Done,
    /// The step used its node entries or its time. The host persists the state, sleeps
    /// `pacing_delay(settings, state.step)` and calls `run_step` again.
    Yield,
    /// Only timer waits remain: the host persists the state and calls `run_step` again at
    /// `until_ms` (the earliest wait).
    Waiting {
        /// The earliest wake-up, Unix milliseconds.
        until_ms: i64,
    },
    /// The process failed; `state.vars` hold the values at the failure.
    Failed(Failure),
}

/// Why a process failed (or, caught by an error boundary, why a component did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Failure {
    /// A stable code of spec 03 §4.3: `EXPRESSION`, `TIMEOUT`, `NOT_FOUND`, `VALIDATION`,
    /// `HTTP`, `LIMIT`, `INTERNAL`, …
    pub code: String,
    /// A human-readable message.
    pub message: String,
    /// The failing node's name, else its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            code: code.into(),
            message: message.into(),
            component: None,
        }
    }

    pub(crate) fn expression(message: impl Into<String>) -> Failure {
        Failure::new("EXPRESSION", message)
    }

    pub(crate) fn internal(message: impl Into<String>) -> Failure {
        Failure::new("INTERNAL", message)
    }

    pub(crate) fn at(mut self, component: &str) -> Failure {
        if self.component.is_none() {
            self.component = Some(component.to_owned());
        }
        self
    }
}

impl From<kartoteka_script::ScriptError> for Failure {
    fn from(e: kartoteka_script::ScriptError) -> Failure {
        Failure::new(e.code.as_str(), e.message)
    }
}

impl From<crate::PortError> for Failure {
    fn from(e: crate::PortError) -> Failure {
        Failure::new(e.code, e.message)
    }
}
