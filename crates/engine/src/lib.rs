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
//! Every evaluation runs on a fixed pool of script threads (`Settings::script_threads`,
//! `BPM_THREADS`), one hop per phase of a node (its inputs, its setvar assignments, its output
//! paths, its conditions), on a copy of the variables. Each thread keeps the warm sandbox the
//! script crate gives it, so their number bounds the sandboxes' memory and their start-up is
//! paid once per thread; a Code component busy for its 5 s holds one of them, not an executor
//! thread.
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
//!   `login`/`password`; `auth=oauth2` adds `Authorization: Bearer` with the access token of
//!   the `$authServices` record `token` names (its id or `$name`), refreshed first when it
//!   has expired and can be (see `auth.rs`); other schemes are `INTERNAL` "not supported".
//!   The body is parsed as
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
//! - Port methods added after the first host ([`Ports::run_process`] and the rest) have
//!   default bodies answering `INTERNAL` `component not supported: <connector>`. Components
//!   whose spec names an error code re-code the host's failures to it (`SMTP`, `SQL`), except
//!   `INTERNAL`, `TIMEOUT` and `LIMIT`, which stay.
//! - Run process (proposed names): `scriptFormat` `list`|`var` selects `scriptId` or
//!   `scriptIdFromVar` (as the catalog selector does); `format=json` reads the object
//!   `paramsJson`, else the pairs `params`; `async=async` does not wait (default `sync`).
//!   Slots `output` (the child's variables, sync only) and `output_pid` (both). A sync child's
//!   failure is `CHILD_PROCESS` `the child process of scenario <id> failed: <why>`; an async
//!   child's never reaches the parent. The host's own errors (missing scenario, depth) stay.
//! - Send mail: the spec's names; `connectionType` other than `parameters` is a connection
//!   string; `connectionProtocol=exchange` reads `exchange*` (and the proposed
//!   `exchangeAllowUntrusted`). `to`, the proposed `cc`, and `bcc` are comma- or
//!   semicolon-separated strings or arrays (of strings or contact values `{contact}`); at least
//!   one recipient and `from` are required. `bodyType=text` sends `body` as text, anything else
//!   as HTML. Attachments: `{title, url}` or an array; a record file value goes by its storage
//!   `id`, else `url` (or `src`); the title defaults to the URL's last segment. `output` is the
//!   host's `messageId`.
//! - Receive mail (proposed names): `connectionType` (`parameters`: `host`, `port`,
//!   `encryption` `on`|`off`, `login`, `password`; else `connectionString`), `filterType`
//!   `standard` (`category`, `dateFrom`, `dateTo`, `sender`, `subject`) or `extended`
//!   (`criteria`), `index` (0-based), `attachments` `none`|`links`|`content`, `markRead`
//!   `yes`|`no`. Slots `output` (the message, `null` when none) and `outputCount`. The host's
//!   error codes stay.
//! - SQL (proposed names): `dbType`, `connectionType` (`connectionString` or parameters
//!   `host`, `database`, `login`, `password`), `query` (its `${…}` are JavaScript template
//!   evaluation), `params` pairs for `:name`, `async`. `output` is the rows; with
//!   `async=async` the query is still awaited but its rows and failures are ignored.
//! - Upload file: `file_format=url` stores `file_url` (the host downloads it), else
//!   `file_data` (a string as UTF-8, a Node Buffer `{type:"Buffer",data}` as its bytes, other
//!   values as JSON text). The name is `file_name`, else the URL's last segment, else `file`;
//!   the MIME type is guessed from its extension. `output_format=catalog` passes
//!   `output_catalogId`/`output_recordId`/`output_fieldId` as the target. Slots `output_url`
//!   and `output_fileId`.
//! - Files read from a record (Converter, Generate document) are the first file of the field;
//!   an empty field is `NOT_FOUND`. Downloads go through `download_file` within the web
//!   timeout and `download_limit` (`LIMIT` above it).
//! - Converter: `excel-json` (xlsx, xls, ods), `xml-json`, `html-pdf` and `docx-pdf`; any
//!   other method is `INTERNAL` `component not supported: convertDoc (<method>)`. PDFs are
//!   made by the host (`to_pdf`): HTML is read as UTF-8, else in the charset its `<meta>`
//!   declares, else as windows-1251 (from a URL it gets a `<base>` there), and is printed
//!   with Puppeteer's
//!   `page.pdf()` options read from `data_values`/`data_json` (names in any case; Bpium's
//!   defaults A4, `1cm` margins, backgrounds printed; a bad option is `EXPRESSION`), a Word
//!   file must be a ZIP package and loses every external link but its hyperlinks (LibreOffice
//!   would embed a picture linked as `file:///…`); `output_content` is a Node Buffer, stored
//!   files are named after the source (`.pdf`). Excel gives
//!   `{"<sheet>": [{"A": …}, …]}` as SheetJS's `sheet_to_json(ws, {header: "A"})` does: the
//!   first row is data too, blank rows are skipped, empty cells left out, integral numbers are
//!   integers, dates Excel serial numbers, error cells their text. XML follows xml2js
//!   (`explicitArray`, `explicitRoot`, `attrkey`, `charkey`, `trim`, `normalize`,
//!   `normalizeTags`, `mergeAttrs`, `ignoreAttrs`, `explicitCharkey`, `emptyTag` from
//!   `data_values`/`data_json`; arrays by default, so the spec's conflicting example needs
//!   `explicitArray: false`); nesting deeper than 500 is `LIMIT`. An unreadable file is
//!   `INTERNAL`. `output_format=content` (the default) sets `output_content`; `url` and
//!   `catalog` store the JSON as a file named `output_filename` (`.json` added when it has no
//!   extension) and set `output_url` / `output_fileId`.
//! - Generate document (proposed names): `template_format=url` reads `template_url`, else the
//!   record file `template_catalogId`/`template_recordId`/`template_fieldId`; data from
//!   `data_values` or `data_json`; `output_format` `url` (default) | `catalog` (with
//!   `output_*`) | `content` (the text into `output_content`); `output_filename` else the
//!   template's name. Only text templates (`txt`, `csv`, `tsv`, `json`, `md`, `ics`, and
//!   `html`, `htm`, `xml`, `svg` with markup escaping) are filled: `{{path}}`,
//!   `{{#list}}…{{/list}}`, `{{^x}}…{{/x}}` (see `template.rs`); so are Word templates
//!   (`.docx`, see `docx.rs`: tags split over runs, a table row or list item repeated over an
//!   array of objects) and Excel templates (`.xlsx`, see `xlsx.rs`: a row or a range of rows repeated, nested arrays within, the rows,
//!   formulas and merges below moved), neither of which can be returned as `content`. Other
//!   extensions are `component not supported: generateDoc (<ext>)`.
//! - AI (proposed names): `service`, `model` (or `modelFromVar` with `modelFormat=var`, else
//!   `Settings::ai_model`), `token` (else `Settings::ai_token`; sent as `Bearer`), `url` (the
//!   chat-completions endpoint; else `Settings::ai_url`; else the service's public endpoint
//!   for ChatGPT, DeepSeek, Grok, Sonar and YandexGPT; GigaChat and unknown services are not
//!   supported), `folder` (YandexGPT: `gpt://<folder>/<model>` and `x-folder-id`). With
//!   `tokenFormat` / `folderFormat` `list` (also `authServices`, `catalog`) `token` / `folder`
//!   name a record of «Доступы к сервисам» (id, `$name` or a link) whose codes give the
//!   `access_token` (refreshed as for a Web request) / `folder_id`. `context`
//!   pairs (one system message per value), `prompt`, `creativity` 0–100 → `temperature`
//!   0–1, `vocabulary` 0–100 → `frequency_penalty` 0–2, `reasoning` → `reasoning_effort`,
//!   `searchContext` → `web_search_options.search_context_size`, `searchDomains` →
//!   `search_domain_filter`, `extra` pairs merged into the body, `output_format`
//!   `text` (default) | `json` (the answer parsed, a fenced block unwrapped; invalid is
//!   `EXPRESSION`) | `all` (the provider's response). A non-2xx answer is `HTTP`.
//! - Telegram (proposed names): bot mode only (`connectionType=user` and `sendAt` are not
//!   supported). `token`, `action` `sendMessage` (text, then each attachment by
//!   `sendPhoto`/`sendVideo`/`sendAudio` by extension, or `sendDocument`;
//!   `attachmentMode=documents` sends all as documents) | `sendLocation` (`latitude`,
//!   `longitude`) | `sendContact` (`phone`, `firstName`, `lastName`) | `forwardMessage`
//!   (`fromChatId`, `messageId`) | `editMessage` | `deleteMessage` | `getProfile` (`getMe`);
//!   `chatId` (numeric text becomes a number), `parseMode` `markdown`|`html`, `replyTo`,
//!   `silent`, `buttons` (`resize` → `resize_keyboard`). POSTs JSON to
//!   `<Settings::telegram_api>/bot<token>/<method>`; `ok: false` is `HTTP` with Telegram's
//!   description. `output` is the first call's `result`.
//! - Parser (proposed names): `data`, `method` `jsonpath` (default) | `regex` | `jquery` |
//!   `xpath`, `query`, `group` (regex capture group, default 0), `value` (alias
//!   `returnValue`; jquery: `text` (default) | `html` | `val` | `element` | `attr` with the
//!   attribute name in `attr`, aliases `attribute`, `attrName`; xpath: `html` | `element`
//!   give an element's markup instead of its text), `return` `first` (default) | `last` |
//!   `all`. No match is `null` (first/last) or `[]`. jQuery is CSS selectors over html5ever's
//!   HTML plus trailing `:first`, `:last`, `:eq(n)`, `:gt(n)`, `:lt(n)`, `:even`, `:odd`;
//!   XPath 1.0 runs over well-formed XML, else over the HTML parse; a bad selector or
//!   expression, or a non-string `data`, is `EXPRESSION` (details in `parser.rs`). JSONPath
//!   covers `$`, `.name`, `.*`, `..`, `[n]`, `[-n]`, `['a','b']`, `[n,m]`, `[*]` and slices;
//!   a string `data` is parsed as JSON; filters are not supported. A regex is a
//!   `/pattern/flags` string or a bare pattern, run by the JavaScript engine (at most 10 000
//!   matches; a bad pattern is `EXPRESSION`).

mod auth;
mod bots;
mod child;
mod components;
mod docx;
mod engine;
mod files;
mod mail;
mod office;
mod parser;
mod pdf;
mod pool;
mod ports;
mod settings;
mod state;
mod template;
mod values;
mod web;
mod xlsx;

pub use engine::Engine;
/// Bytes as a Node `Buffer` in JSON, the shape scenarios hold binary content in.
pub use files::buffer as node_buffer;
pub use ports::{
    Attachment, ChildRun, FileContent, FileTarget, FileUpload, FindQuery, Found, HttpRequest,
    HttpResponse, Mail, MailQuery, MailServer, PdfJob, PortError, PortFuture, Ports, PrintOptions,
    Received, SqlConnection, SqlQuery, UploadedFile,
};
pub use settings::{pacing_delay, Settings};
pub use state::{Failure, Outcome, State, Token, Wait};
