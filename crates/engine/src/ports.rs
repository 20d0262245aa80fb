//! What the engine asks of its host: every record operation, HTTP call, chat message, child
//! process, mail, file and SQL query.
//!
//! The methods after [`Ports::send_message`] have default bodies that answer `INTERNAL`
//! `component not supported: <connector>`, so a host implements only what it offers.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::{Map, Value};

/// The future a port method returns.
pub type PortFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, PortError>> + Send + 'a>>;

/// A failed port call. The code becomes the component's error code (spec 03 §4.3), so an
/// error boundary sees it as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PortError {
    /// `NOT_FOUND`, `VALIDATION`, `HTTP`, `TIMEOUT`, `LIMIT`, `INTERNAL`, …
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

impl PortError {
    /// An error with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> PortError {
        PortError {
            code: code.into(),
            message: message.into(),
        }
    }

    /// `NOT_FOUND`: the record or catalog does not exist.
    pub fn not_found(message: impl Into<String>) -> PortError {
        PortError::new("NOT_FOUND", message)
    }

    /// `VALIDATION`: values the host refused.
    pub fn validation(message: impl Into<String>) -> PortError {
        PortError::new("VALIDATION", message)
    }

    /// `HTTP`: a network, TLS or protocol failure.
    pub fn http(message: impl Into<String>) -> PortError {
        PortError::new("HTTP", message)
    }
}

/// The query of a Find records component, in the REST API's terms.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindQuery {
    /// A view whose filters apply; `None` for all records.
    pub view_id: Option<String>,
    /// The REST API's JSON filter form: an object `{fieldId: value, "$and": […]}` or an array.
    pub filters: Option<Value>,
    /// Quick search text.
    pub search_text: Option<String>,
    /// The field to sort by (`id` or a field id).
    pub sort_field: Option<String>,
    /// `1` ascending, `-1` descending.
    pub sort_type: Option<i32>,
    /// Field ids to return; `None` for all.
    pub fields: Option<Vec<String>>,
    /// Page size, at most `Settings::find_limit_max`.
    pub limit: u32,
    /// Records to skip.
    pub offset: u32,
}

/// A page of found records.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Found {
    /// Records in the REST read format.
    pub records: Vec<Value>,
    /// All matching records, ignoring limit and offset.
    pub total: i64,
}

/// An outgoing HTTP request of a Web request component.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    /// `GET`, `POST`, `PATCH`, `PUT`, `DELETE` or `HEAD`.
    pub method: String,
    /// The absolute URL, query included.
    pub url: String,
    /// Headers in order; names as the scenario wrote them.
    pub headers: Vec<(String, String)>,
    /// The body, for methods that carry one.
    pub body: Option<Vec<u8>>,
    /// How long the host may wait for the whole response.
    pub timeout: Duration,
}

/// The answer to an [`HttpRequest`]. Any status is an answer; only a transport failure is an
/// error.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Headers in order, as received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

/// The answer to [`Ports::run_process`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChildRun {
    /// The child's process id (its Processes record).
    pub pid: String,
    /// Waited for: the child's variables when it completed; `None` when not waited for.
    pub result: Option<Map<String, Value>>,
    /// Waited for: why the child failed (the parent raises `CHILD_PROCESS` with it).
    pub error: Option<String>,
}

/// How to reach the mail server of a Send mail component, as the component gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum MailServer {
    /// SMTP by parameters.
    Smtp {
        /// Host name or address.
        host: String,
        /// Port; `None` for the default of the encryption (465 with TLS, else 587).
        port: Option<u16>,
        /// `true`: TLS from the start (`smtpencription=encrypted`); `false`: STARTTLS when the
        /// server offers it, else plain.
        tls: bool,
        /// Accept self-signed certificates (`smtpencriptionselfsign=yes`).
        allow_self_signed: bool,
        /// Login, when the server wants one.
        login: Option<String>,
        /// Password.
        password: Option<String>,
    },
    /// SMTP by a nodemailer-style URL, e.g. `smtps://user:pass@smtp.example.org:465`.
    SmtpUrl(String),
    /// Exchange Web Services.
    Exchange {
        /// The server URL, protocol included.
        host: String,
        /// Login.
        username: String,
        /// Password.
        password: String,
        /// `ntlm` or `basic`.
        auth: String,
        /// Accept untrusted certificates.
        allow_untrusted: bool,
    },
}

/// A file named by a scenario: a storage file id or a URL (what [`Ports::download_file`]
/// takes), with the title it is sent under.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// The file name the recipient sees.
    pub title: String,
    /// A storage file id, or an absolute `http(s)` URL.
    pub file: String,
}

/// A message of a Send mail component.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// Where to send it from.
    pub server: MailServer,
    /// `Name <address>` or a bare address.
    pub from: String,
    /// Reply-To, when set.
    pub reply_to: Option<String>,
    /// In-Reply-To (a message id), when set.
    pub in_reply_to: Option<String>,
    /// Recipients, each `Name <address>` or a bare address.
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Blind copy recipients.
    pub bcc: Vec<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body (`bodyType=text`).
    pub text: Option<String>,
    /// The HTML body (`bodyType=html`, the default).
    pub html: Option<String>,
    /// Files to attach; the host fetches each as [`Ports::download_file`] would.
    pub attachments: Vec<Attachment>,
}

/// What to read of a mailbox (Receive mail, spec 03 §7.4.1).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MailQuery {
    /// An IMAP URL (`imaps://user:pass@host:993`) when the component gives a connection string.
    pub url: Option<String>,
    /// Host (parameters).
    pub host: String,
    /// Port; `None` for the default (993 with TLS, else 143).
    pub port: Option<u16>,
    /// `true`: TLS from the start; `false`: STARTTLS, falling back to plain.
    pub tls: bool,
    /// Login.
    pub login: String,
    /// Password.
    pub password: String,
    /// Standard filter: `all`, `answered`, `draft`, `deleted`, `new`, `recent`, `unseen`,
    /// `unflagged`.
    pub category: String,
    /// Standard filter: messages since this date (ISO or RFC 2822 text, as given).
    pub since: Option<String>,
    /// Standard filter: messages before this date.
    pub before: Option<String>,
    /// Standard filter: sender substring.
    pub from: Option<String>,
    /// Standard filter: subject substring.
    pub subject: Option<String>,
    /// Extended filter: node-imap search criteria, used instead of the standard filter.
    pub criteria: Option<Value>,
    /// Which of the found messages to return, 0-based, oldest first.
    pub index: u32,
    /// `none`, `links` (stored: `{filename, contentType, size, fileId, url}`) or `content`
    /// (`{filename, contentType, size, content: {type: "Buffer", data}}`).
    pub attachments: String,
    /// Mark the returned message as read.
    pub mark_read: bool,
}

/// The answer to [`Ports::receive_mail`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Received {
    /// The message `{messageId, date, from, to, cc, subject, text, html, headers,
    /// attachments}`, `None` when there is none at that index.
    pub message: Option<Value>,
    /// How many messages the filter found.
    pub total: i64,
}

/// The bytes of a file to store.
#[derive(Debug, Clone, PartialEq)]
pub enum FileContent {
    /// Content the scenario made.
    Bytes(Vec<u8>),
    /// A URL the host downloads (an HTTP error status is an `HTTP` error).
    Url(String),
}

/// Where a stored file goes besides the storage: a record's file field, whose files it
/// replaces.
#[derive(Debug, Clone, PartialEq)]
pub struct FileTarget {
    /// The catalog id.
    pub catalog: String,
    /// The record id.
    pub record: String,
    /// The file field id.
    pub field: String,
}

/// A file to put into storage (Upload file, Converter and Generate document).
#[derive(Debug, Clone, PartialEq)]
pub struct FileUpload {
    /// The file name, with an extension.
    pub name: String,
    /// The MIME type guessed from the name; `None` when the host should guess.
    pub mime_type: Option<String>,
    /// The bytes, or where to get them.
    pub content: FileContent,
    /// A record's file field to write `[{id}]` into, replacing its files.
    pub target: Option<FileTarget>,
}

/// A stored file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadedFile {
    /// Its storage id (written into file fields as `[{id}]`).
    pub id: String,
    /// Its storage URL.
    pub url: String,
}

/// How to reach an external database (SQL query, spec 03 §7.2.4).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlConnection {
    /// By parameters.
    Parameters {
        /// `host[:port]`.
        host: String,
        /// The database name.
        database: String,
        /// Login.
        login: String,
        /// Password.
        password: String,
    },
    /// A connection string, e.g. `postgres://user:pass@host:port/db`.
    Url(String),
}

/// A query of a SQL query component.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlQuery {
    /// `postgres`, `mysql`, `oracle`, `mssql` or `sqlite`.
    pub db_type: String,
    /// Where the database is.
    pub connection: SqlConnection,
    /// The SQL text, `${…}` templates already evaluated; `:name` marks a parameter.
    pub query: String,
    /// The values of the `:name` parameters.
    pub params: Map<String, Value>,
}

/// Page setup of an HTML → PDF conversion: Puppeteer's `page.pdf()` options, lengths already
/// in inches (what Chromium's `Page.printToPDF` takes).
#[derive(Debug, Clone, PartialEq)]
pub struct PrintOptions {
    /// Paper width, inches.
    pub paper_width: f64,
    /// Paper height, inches.
    pub paper_height: f64,
    /// Margins top, right, bottom, left, inches.
    pub margin: [f64; 4],
    /// Landscape orientation.
    pub landscape: bool,
    /// Print background colours and images.
    pub print_background: bool,
    /// Rendering scale, 0.1–2.
    pub scale: f64,
    /// Pages to print (`1-5, 8`); empty: all.
    pub page_ranges: String,
    /// Print the header and footer templates.
    pub display_header_footer: bool,
    /// Header HTML (`date`, `title`, `url`, `pageNumber`, `totalPages` classes); `None`:
    /// Chromium's default.
    pub header_template: Option<String>,
    /// Footer HTML, as the header.
    pub footer_template: Option<String>,
    /// A CSS `@page` size in the document wins over the paper size.
    pub prefer_css_page_size: bool,
}

/// What [`Ports::to_pdf`] converts (Converter `html-pdf` and `docx-pdf`).
#[derive(Debug, Clone, PartialEq)]
pub enum PdfJob {
    /// An HTML document, printed as a browser prints it.
    Html {
        /// The HTML text.
        html: String,
        /// The page setup.
        print: PrintOptions,
    },
    /// The bytes of a Word document.
    Docx(Vec<u8>),
}

fn unsupported<T: 'static>(connector: &str) -> PortFuture<'static, T> {
    let e = PortError::new("INTERNAL", format!("component not supported: {connector}"));
    Box::pin(async move { Err(e) })
}

/// The host's side of the engine. Data components bypass rights (spec 03 §7.3); the host
/// performs writes through its one write path, as the system user.
pub trait Ports: Send + Sync {
    /// A record in the REST read format: `{"id", "catalogId", "title", "values": {fieldId:
    /// value}, …}`; `NOT_FOUND` when it does not exist.
    fn get_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, Value>;

    /// A page of records.
    fn find_records<'a>(&'a self, catalog: &'a str, q: FindQuery) -> PortFuture<'a, Found>;

    /// Creates a record; answers the created record in the read format.
    fn add_record<'a>(
        &'a self,
        catalog: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value>;

    /// Changes the given fields of a record; answers the record in the read format.
    fn edit_record<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value>;

    /// Deletes a record.
    fn delete_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, ()>;

    /// A catalog in the REST read format, with its `fields` list.
    fn get_catalog<'a>(&'a self, catalog: &'a str) -> PortFuture<'a, Value>;

    /// Sends an HTTP request.
    fn http<'a>(&'a self, req: HttpRequest) -> PortFuture<'a, HttpResponse>;

    /// Posts a message to a record's chat; answers the message (an object with its `id`).
    fn send_message<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        text: String,
    ) -> PortFuture<'a, Value>;

    /// Starts another scenario as a child process that sees only `input` as its variables
    /// (spec 03 §4.5). `wait`: run it to its end and answer its variables in `result`, or why
    /// it failed in `error`; otherwise answer once it is queued, with only `pid`. A missing
    /// scenario is `NOT_FOUND`; nesting beyond the host's depth limit is `LIMIT`.
    fn run_process<'a>(
        &'a self,
        script: &'a str,
        input: Map<String, Value>,
        wait: bool,
    ) -> PortFuture<'a, ChildRun> {
        let _ = (script, input, wait);
        unsupported("runProcess")
    }

    /// Sends an e-mail; answers `{"messageId": …}` (or the id itself). A failure to connect,
    /// authenticate or deliver is `SMTP`.
    fn send_mail<'a>(&'a self, mail: Mail) -> PortFuture<'a, Value> {
        let _ = mail;
        unsupported("sendMail")
    }

    /// Reads one message of an IMAP mailbox and counts the matching ones.
    fn receive_mail<'a>(&'a self, query: MailQuery) -> PortFuture<'a, Received> {
        let _ = query;
        unsupported("receiveMail")
    }

    /// Stores a file (downloading it first when it is a URL) and answers its id and URL; with
    /// a target, writes `[{id}]` into that record's file field as the system user.
    fn upload_file<'a>(&'a self, upload: FileUpload) -> PortFuture<'a, UploadedFile> {
        let _ = upload;
        unsupported("bpiumFileUpload")
    }

    /// The bytes of a file: a storage file id, or an absolute `http(s)` URL to download (an
    /// HTTP error status is `HTTP`, an unknown id `NOT_FOUND`).
    fn download_file<'a>(&'a self, file: &'a str) -> PortFuture<'a, Vec<u8>> {
        let _ = file;
        unsupported("download_file")
    }

    /// Runs a query against an external database; answers its rows as objects keyed by
    /// column name (an empty list for statements without rows). Failures are `SQL`.
    fn sql_query<'a>(&'a self, query: SqlQuery) -> PortFuture<'a, Vec<Value>> {
        let _ = query;
        unsupported("sql")
    }

    /// Converts a document to PDF: the PDF's bytes. A host without the program that converts
    /// answers `INTERNAL` saying what to install; a conversion over the host's time limit is
    /// `TIMEOUT`.
    fn to_pdf<'a>(&'a self, job: PdfJob) -> PortFuture<'a, Vec<u8>> {
        let _ = job;
        unsupported("convertDoc")
    }
}
