//! The interpreter of Bpium scenarios: it runs a compiled scenario (the IR of spec 03 §10, from
//! `kartoteka-bpmn`) as a process, one step at a time (spec 03 §4, §5, §7, §10.2).
//!
//! The engine does no I/O of its own. Record operations, HTTP calls and chat messages go
//! through [`Ports`], which the host implements; the host also persists [`State`] between
//! steps and wakes the process up. JavaScript runs in `kartoteka-script`.
//!
//! # Execution model
//!
//! - [`Engine::start`] puts one token on the start node, with the input as the variables.
//! - [`Engine::run_step`] takes ready tokens first in first out and runs one node at a time
//!   (one cooperative executor per process, so parallel branches never race on variables).
//!   A node's effects (new variables, new tokens) are applied together when it completes; the
//!   token is removed from the queue only then. Dropping the `run_step` future therefore
//!   leaves the state as it was before the running node, whose side effects may be repeated
//!   when the step is run again (at least once).
//! - Start and boundary events pass the token along their outgoing edges. A task evaluates
//!   its inputs, runs its component, applies its outputs in order, then sends a token down
//!   every outgoing edge (an implicit fork). A condition on an edge that does not leave an XOR
//!   gateway is honoured: the edge is taken only when the condition is truthy.
//! - XOR: the first edge in document order whose condition is truthy (an edge without a
//!   condition counts as truthy), else the default edge, else the error
//!   `No conditional flow was taken from <id>`. Converging, it passes every token on.
//! - AND: a join waits for one token per incoming edge (counted per edge, in
//!   [`State::joins`]), then one token goes down every outgoing edge; conditions on its edges
//!   are ignored.
//! - Intermediate timer: the token's successors wait in [`State::waits`] until
//!   `now + duration`. Due waits become ready tokens at the start of a step, and whenever no
//!   ready token is left. Durations with years or months use 365-day years and 30-day months.
//! - End consumes the token. The process is [`Outcome::Done`] when neither ready tokens nor
//!   waits are left (a join still waiting does not keep it alive).
//! - A step is at most `step_size` node entries (every node entered counts, gateways and
//!   events included) or `step_timeout`, checked between nodes; then [`Outcome::Yield`] and
//!   `state.step` grows by one. When only waits are left, [`Outcome::Waiting`].
//! - After every change of the variables their JSON size is checked against
//!   `process_data_limit`; above it the process fails with `LIMIT` (not catchable), keeping
//!   the values.
//!
//! # Errors
//!
//! A failing task (an expression, a component, a port) goes to its error boundary, which
//! writes the code and the message into `errorCodeVar` / `errorMessageVar` when they are
//! given; the token continues from the boundary. A `TIMEOUT` (built-in: Code, expressions,
//! Web request) goes to a timer boundary first when the task has one. A timer boundary also
//! fires when the component runs longer than its duration: an interrupting one (the default)
//! abandons the component and continues from the boundary; a non-interrupting one sends a
//! token from the boundary and lets the component finish. Without a boundary the process is
//! [`Outcome::Failed`] with the node's name (else its id). Codes follow spec 03 §4.3.
//!
//! # JavaScript
//!
//! Every evaluation runs on `tokio::task::spawn_blocking`, one hop per phase of a node (its
//! inputs, its setvar assignments, its output paths, its conditions), on a copy of the
//! variables. Not `block_in_place`: that panics on a current-thread runtime and would hold an
//! executor thread for up to the 5 s of a Code component. The blocking pool bounds the number
//! of warm sandboxes the script crate keeps (one per thread); a host that wants fewer sets
//! `max_blocking_threads`. A timed-out Code component keeps its thread until its own deadline.
//!
//! # Decisions where the spec leaves room
//!
//! - Catalog selector: `catalogFormat=var` reads `catalogIdFromVar`, anything else
//!   `catalogId`; when the selected one is empty the other is used. Ids may be strings or
//!   numbers (`74` → `"74"`).
//! - Only the parameters of the selected mode are evaluated (`filters` or `filtersJson`,
//!   `values1` or `values2`, `params` or `body`), so a stale expression in an unused mode
//!   cannot fail the component. A missing required parameter is `EXPRESSION`
//!   `"<param> is required"`.
//! - Setvar: assignments run in order, each sees the previous ones; an empty expression is
//!   skipped; `undefined` deletes the target. Output slots a component did not produce leave
//!   their targets alone; an empty target discards the result.
//! - Pair values that are `undefined` are left out of the object they build (headers, form
//!   params, field values, filters, Code inputs).
//! - Web request: `method` defaults to `GET`; `query` is the URL; `format=keyvalue` sends
//!   `params` form-encoded, any other format sends `body` (strings as they are, anything else
//!   as JSON; `Content-Type` from `type`, else `text/plain` / `application/json`, never over a
//!   header the scenario set). `auth=basic` adds `Authorization: Basic` from
//!   `login`/`password`; other schemes are `INTERNAL` "not supported". The body is parsed as
//!   JSON when the response says JSON or `output_format=json` (then a parse failure is
//!   `HTTP`); otherwise it is text. Headers are an object keyed by lower-case name, with
//!   `cookies` parsed from `set-cookie`. `async=async` waits for nothing the scenario sees:
//!   the request is still awaited (within the timeout) but its failure is ignored and no
//!   outputs are set. A non-2xx status is not an error.
//! - Find records: `limit` defaults to 100 and is clamped to `find_limit_max`; `viewId` `0`
//!   means no view; `sortType` `1`/`-1`; `searchText` (not in the spec) is passed on when set.
//! - Get record with `fieldsFormat=specified` keeps only those ids in `values` (linked-record
//!   field lists are not passed to the host).
//! - Edit record's `output` is the record the host answers; Create record's `output` is the
//!   new record's `id`; Delete record has no output.
//! - Catalog structure: the host's `fields` list becomes an object keyed by each field's
//!   `id` as the host renders it, with 1-based `orderIndex`, and so do `config.items`; an
//!   optional `fields` array keeps only those ids.
//! - Send message reads `text` (else `message`) and sends it; attachments, mentions, author
//!   and reply-to are not passed on. `output` is the message id.
//! - The timeout of a timer boundary covers the component's run, not the evaluation of its
//!   inputs, which has its own per-expression deadline.
//! - The `No conditional flow was taken` failure is `INTERNAL`; failing conditions are
//!   `EXPRESSION`. A condition on a task's outgoing edge that fails counts as the task
//!   failing (its boundaries apply).
//! - Timer outgoing conditions are evaluated when the timer is entered, not when it fires.

mod bots;
mod child;
mod components;
mod engine;
mod files;
mod mail;
mod parser;
mod ports;
mod settings;
mod state;
mod template;
mod values;
mod web;

pub use engine::Engine;
pub use ports::{
    Attachment, ChildRun, FileContent, FileTarget, FileUpload, FindQuery, Found, HttpRequest,
    HttpResponse, Mail, MailQuery, MailServer, PortError, PortFuture, Ports, Received,
    SqlConnection, SqlQuery, UploadedFile,
};
pub use settings::{pacing_delay, Settings};
pub use state::{Failure, Outcome, State, Token, Wait};
