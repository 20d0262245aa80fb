//! Receive mail (spec 03 §7.4.1) over IMAP with async-imap: one session per run of the
//! component, bounded as a whole by [`SESSION_LIMIT`]. The component's filter becomes a
//! `UID SEARCH` program ([`search`]), the found messages are taken oldest first, the chosen
//! one is fetched whole and parsed with mail-parser into the message object
//! (`{messageId, date, from, to, cc, subject, text, html, headers, attachments}`, the shape
//! node's mailparser gives, which Bpium scenarios read).
//!
//! Every failure of the session (network, TLS, login, a refused command) is `HTTP`, the
//! host's code for the network (no code of spec 03 §4.3 names IMAP); a filter the component
//! cannot express is `VALIDATION`; a session over its time is `TIMEOUT`.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::error::Error as ImapError;
use async_imap::imap_proto::{Capability, MailboxDatum, Response, ResponseCode, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Utc};
use futures_util::TryStreamExt;
use kartoteka_engine::{MailQuery, PortError, Received};
use mail_parser::{Address, HeaderValue, MessageParser, MimeHeaders, PartType};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::ports::{port_error, AppPorts};

/// How long one IMAP session may take, from connecting to logging out.
const SESSION_LIMIT: Duration = Duration::from_secs(30);

/// The largest message fetched; a bigger one is `LIMIT` (it would be held in memory whole,
/// and again as the message object).
const MAX_MESSAGE: u32 = 50 * 1024 * 1024;

/// The mailbox read: the component has no setting for another one.
const MAILBOX: &str = "INBOX";

/// Where to connect and who to log in as.
#[derive(Debug, Clone, PartialEq)]
struct Account {
    host: String,
    port: u16,
    /// TLS from the start; otherwise STARTTLS when offered, else plain.
    tls: bool,
    login: String,
    password: String,
}

fn invalid(message: impl Into<String>) -> PortError {
    PortError::validation(message)
}

/// The account of the component's parameters or connection string
/// (`imaps://user:pass@host:993`, `imap://…` for STARTTLS or plain).
fn account(q: &MailQuery) -> Result<Account, PortError> {
    let Some(url) = q.url.as_deref() else {
        let host = q.host.trim();
        if host.is_empty() {
            return Err(invalid("host is required"));
        }
        return Ok(Account {
            host: host.to_string(),
            port: q.port.unwrap_or(if q.tls { 993 } else { 143 }),
            tls: q.tls,
            login: q.login.clone(),
            password: q.password.clone(),
        });
    };
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| invalid(format!("connectionString: not an IMAP URL ({e})")))?;
    let tls = match parsed.scheme() {
        "imaps" => true,
        "imap" => false,
        other => {
            return Err(invalid(format!(
                "connectionString: {other}:// is not imap:// or imaps://"
            )))
        }
    };
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("connectionString: no host"))?;
    // An IPv6 host comes bracketed; the socket address wants it bare.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    Ok(Account {
        host: host.to_string(),
        port: parsed.port().unwrap_or(if tls { 993 } else { 143 }),
        tls,
        login: percent_decode(parsed.username()),
        password: percent_decode(parsed.password().unwrap_or_default()),
    })
}

/// `%XX` escapes of a URL's user information decoded (as UTF-8, lossily).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

// --- The search program -------------------------------------------------------------------

/// One element of a search program.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// A key, a number, a date or a parenthesis, sent as it is.
    Atom(String),
    /// A string argument: quoted when it is ASCII, otherwise a literal under `CHARSET UTF-8`.
    Str(String),
}

/// A `UID SEARCH` program. Strings are kept apart from the keys because one that is not
/// ASCII cannot be quoted: it goes as a literal, whose bytes wait for the server's go-ahead.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Search {
    tokens: Vec<Token>,
}

impl Search {
    fn atom(&mut self, a: impl Into<String>) {
        self.tokens.push(Token::Atom(a.into()));
    }

    fn string(&mut self, s: impl Into<String>) {
        self.tokens.push(Token::Str(s.into()));
    }

    /// Whether a string needs the UTF-8 charset (and a literal).
    fn utf8(&self) -> bool {
        self.tokens
            .iter()
            .any(|t| matches!(t, Token::Str(s) if !s.is_ascii()))
    }

    /// The command text after the tag, cut where a literal's bytes must wait for the
    /// server's go-ahead: every piece after the first starts with a literal's text. Each
    /// piece is sent followed by CRLF.
    pub(crate) fn pieces(&self) -> Vec<String> {
        let mut pieces = Vec::new();
        let mut cur = String::from("UID SEARCH");
        if self.utf8() {
            cur.push_str(" CHARSET UTF-8");
        }
        let mut prev_open = false;
        for t in &self.tokens {
            let closing = matches!(t, Token::Atom(a) if a == ")");
            if !prev_open && !closing {
                cur.push(' ');
            }
            prev_open = matches!(t, Token::Atom(a) if a == "(");
            match t {
                Token::Atom(a) => cur.push_str(a),
                Token::Str(s) if s.is_ascii() => {
                    cur.push('"');
                    for c in s.chars() {
                        if c == '"' || c == '\\' {
                            cur.push('\\');
                        }
                        cur.push(c);
                    }
                    cur.push('"');
                }
                Token::Str(s) => {
                    cur.push_str(&format!("{{{}}}", s.len()));
                    pieces.push(std::mem::take(&mut cur));
                    cur.push_str(s);
                }
            }
        }
        if self.tokens.is_empty() {
            cur.push_str(" ALL");
        }
        pieces.push(cur);
        pieces
    }
}

/// The search program of the component's filter: the extended `criteria` when given,
/// otherwise the standard one.
pub(crate) fn search(q: &MailQuery) -> Result<Search, PortError> {
    let mut s = Search::default();
    if let Some(c) = &q.criteria {
        criteria(c, &mut s)?;
        return Ok(s);
    }
    let category = q.category.trim().to_ascii_lowercase();
    let key = match category.as_str() {
        "" | "all" => "ALL",
        "answered" => "ANSWERED",
        "draft" => "DRAFT",
        "deleted" => "DELETED",
        "new" => "NEW",
        "recent" => "RECENT",
        "unseen" => "UNSEEN",
        "unflagged" => "UNFLAGGED",
        other => {
            return Err(invalid(format!(
                "category: {other:?} is not all, answered, draft, deleted, new, recent, unseen or unflagged"
            )))
        }
    };
    s.atom(key);
    fn text(v: &Option<String>) -> Option<&str> {
        v.as_deref().map(str::trim).filter(|t| !t.is_empty())
    }
    if let Some(d) = text(&q.since) {
        s.atom("SINCE");
        s.atom(imap_date(&Value::from(d), "dateFrom")?);
    }
    if let Some(d) = text(&q.before) {
        s.atom("BEFORE");
        s.atom(imap_date(&Value::from(d), "dateTo")?);
    }
    if let Some(f) = text(&q.from) {
        s.atom("FROM");
        s.string(checked(f, "sender")?);
    }
    if let Some(t) = text(&q.subject) {
        s.atom("SUBJECT");
        s.string(checked(t, "subject")?);
    }
    Ok(s)
}

/// A string argument: IMAP strings carry no line breaks.
fn checked(s: &str, what: &str) -> Result<String, PortError> {
    if s.contains(['\r', '\n', '\0']) {
        return Err(invalid(format!(
            "{what}: line breaks cannot be searched for"
        )));
    }
    Ok(s.to_string())
}

/// Keys without an argument.
const FLAG_KEYS: &[&str] = &[
    "ALL",
    "ANSWERED",
    "DELETED",
    "DRAFT",
    "FLAGGED",
    "NEW",
    "OLD",
    "RECENT",
    "SEEN",
    "UNANSWERED",
    "UNDELETED",
    "UNDRAFT",
    "UNFLAGGED",
    "UNSEEN",
];
/// Keys with a string argument.
const STRING_KEYS: &[&str] = &[
    "BCC",
    "BODY",
    "CC",
    "FROM",
    "SUBJECT",
    "TEXT",
    "TO",
    "X-GM-RAW",
    "X-GM-LABELS",
];
/// Keys with a date argument.
const DATE_KEYS: &[&str] = &["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"];
/// Keys with a number argument.
const NUMBER_KEYS: &[&str] = &["LARGER", "SMALLER", "X-GM-MSGID", "X-GM-THRID"];

/// node-imap search criteria: an array whose items are a key (`"UNSEEN"`, `"!SEEN"` for
/// NOT, a sequence set such as `"1:5"`) or an array of a key and its arguments
/// (`["SINCE", date]`, `["HEADER", name, value]`, `["OR", key1, key2]`); an array whose first
/// item is an array groups its items. A string holding such an array as JSON is read too.
fn criteria(c: &Value, out: &mut Search) -> Result<(), PortError> {
    let parsed;
    let c = match c {
        Value::String(s) if s.trim_start().starts_with('[') => {
            parsed = serde_json::from_str::<Value>(s)
                .map_err(|e| invalid(format!("criteria: not a JSON array ({e})")))?;
            &parsed
        }
        other => other,
    };
    match c {
        Value::Array(items) => {
            for item in items {
                key(item, out)?;
            }
            Ok(())
        }
        Value::String(_) => key(c, out),
        other => Err(invalid(format!(
            "criteria: {other} is not an array of search keys"
        ))),
    }
}

/// One search key with its arguments.
fn key(item: &Value, out: &mut Search) -> Result<(), PortError> {
    match item {
        Value::String(name) => named(name, &[], out),
        Value::Array(a) => match a.first() {
            Some(Value::String(name)) => named(name, &a[1..], out),
            Some(Value::Array(_)) => {
                out.atom("(");
                for sub in a {
                    key(sub, out)?;
                }
                out.atom(")");
                Ok(())
            }
            _ => Err(invalid(format!("criteria: {item} is not a search key"))),
        },
        other => Err(invalid(format!("criteria: {other} is not a search key"))),
    }
}

fn named(name: &str, args: &[Value], out: &mut Search) -> Result<(), PortError> {
    let (not, bare) = match name.trim().strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, name.trim()),
    };
    let upper = bare.to_ascii_uppercase();
    let arity = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(invalid(format!(
                "criteria: {upper} takes {n} argument(s), got {}",
                args.len()
            )))
        }
    };
    if not {
        out.atom("NOT");
    }
    let k = upper.as_str();
    if FLAG_KEYS.contains(&k) {
        arity(0)?;
        out.atom(k);
    } else if STRING_KEYS.contains(&k) {
        arity(1)?;
        out.atom(k);
        out.string(checked(&arg_text(&args[0], k)?, k)?);
    } else if DATE_KEYS.contains(&k) {
        arity(1)?;
        out.atom(k);
        out.atom(imap_date(&args[0], "criteria")?);
    } else if NUMBER_KEYS.contains(&k) {
        arity(1)?;
        let n = match &args[0] {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        }
        .ok_or_else(|| invalid(format!("criteria: {k} takes a number, got {}", args[0])))?;
        out.atom(k);
        out.atom(n.to_string());
    } else if k == "HEADER" {
        arity(2)?;
        out.atom(k);
        out.string(checked(&arg_text(&args[0], k)?, k)?);
        out.string(checked(&arg_text(&args[1], k)?, k)?);
    } else if k == "KEYWORD" || k == "UNKEYWORD" {
        arity(1)?;
        let flag = arg_text(&args[0], k)?;
        if flag.is_empty() || !flag.chars().all(atom_char) {
            return Err(invalid(format!("criteria: {flag:?} is not a keyword")));
        }
        out.atom(k);
        out.atom(flag);
    } else if k == "UID" {
        arity(1)?;
        let set = match &args[0] {
            Value::Array(a) => a
                .iter()
                .map(|v| arg_text(v, k))
                .collect::<Result<Vec<_>, _>>()?
                .join(","),
            v => arg_text(v, k)?,
        };
        if !is_sequence_set(&set) {
            return Err(invalid(format!("criteria: {set:?} is not a UID set")));
        }
        out.atom(k);
        out.atom(set);
    } else if k == "OR" {
        arity(2)?;
        out.atom(k);
        key(&args[0], out)?;
        key(&args[1], out)?;
    } else if args.is_empty() && is_sequence_set(k) {
        out.atom(k);
    } else {
        return Err(invalid(format!("criteria: unknown search key {bare:?}")));
    }
    Ok(())
}

fn arg_text(v: &Value, key: &str) -> Result<String, PortError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(invalid(format!(
            "criteria: {key} takes a string, got {other}"
        ))),
    }
}

/// A character of an IMAP atom (RFC 3501 `ATOM-CHAR`).
fn atom_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '(' | ')' | '{' | '%' | '*' | '"' | '\\' | ']')
}

fn is_sequence_set(s: &str) -> bool {
    !s.is_empty()
        && s.chars().any(|c| c.is_ascii_digit() || c == '*')
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ':' | ',' | '*'))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A date as IMAP searches for it (`1-Feb-2024`), from ISO 8601 or RFC 2822 text (with or
/// without a time and zone; a zoned time counts in UTC), an IMAP date, or milliseconds since
/// the epoch (a JavaScript `Date` as a number).
pub(crate) fn imap_date(v: &Value, what: &str) -> Result<String, PortError> {
    let date = match v {
        Value::Number(n) => n
            .as_i64()
            .and_then(DateTime::from_timestamp_millis)
            .map(|d| d.date_naive()),
        Value::String(s) => parse_date(s.trim()),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(format!(
            "{what}: {v} is not a date (ISO 8601 or RFC 2822 text)"
        ))
    })?;
    Ok(format!(
        "{}-{}-{}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    ))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc).date_naive());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc).date_naive());
    }
    // ISO 8601 with a `Z` and no seconds, or other zones chrono's RFC 3339 reader refuses.
    for f in ["%Y-%m-%dT%H:%M%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.with_timezone(&Utc).date_naive());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%a, %d %b %Y %H:%M:%S",
        "%a, %d %b %Y %H:%M",
        "%d %b %Y %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(s, f) {
            return Some(d.date());
        }
    }
    for f in ["%Y-%m-%d", "%a, %d %b %Y", "%d %b %Y", "%d-%b-%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    None
}

// --- The session --------------------------------------------------------------------------

/// The connection under the IMAP client: plain TCP until STARTTLS, or TLS.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS client settings: ring and the bundled webpki roots, as reqwest's.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, PortError> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| PortError::new("INTERNAL", format!("TLS settings: {e}")))
}

/// The session's failures, named with the server and the step.
struct Ctx<'a> {
    account: &'a Account,
}

impl Ctx<'_> {
    fn fail(&self, step: &str, e: impl std::fmt::Display) -> PortError {
        PortError::http(format!(
            "IMAP {}:{}: {step}: {e}",
            self.account.host, self.account.port
        ))
    }

    /// A failed command, with the server's own words when it answered NO or BAD.
    fn imap(&self, step: &str, e: ImapError) -> PortError {
        match &e {
            ImapError::No(m) => self.fail(step, format!("NO {}", server_text(m))),
            ImapError::Bad(m) => self.fail(step, format!("BAD {}", server_text(m))),
            _ => self.fail(step, e),
        }
    }
}

/// The text of a NO or BAD answer, out of async-imap's `code: …, info: Some("…")`.
fn server_text(m: &str) -> String {
    let info = m
        .split_once("info: Some(\"")
        .and_then(|(_, rest)| rest.strip_suffix("\")"));
    match info {
        Some(text) => text.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => m.to_string(),
    }
}

async fn wrap_tls(ctx: &Ctx<'_>, tcp: TcpStream) -> Result<Stream, PortError> {
    let name = rustls::pki_types::ServerName::try_from(ctx.account.host.clone())
        .map_err(|e| ctx.fail("TLS", e))?;
    let tls = tokio_rustls::TlsConnector::from(tls_config()?)
        .connect(name, tcp)
        .await
        .map_err(|e| ctx.fail("TLS", e))?;
    Ok(Stream::Tls(Box::new(tls)))
}

/// The server's capabilities before login: from the greeting when it carries them, else
/// asked for.
async fn capabilities(
    ctx: &Ctx<'_>,
    client: &mut Client<Stream>,
    greeting: Option<Vec<String>>,
) -> Result<Vec<String>, PortError> {
    if let Some(caps) = greeting {
        return Ok(caps);
    }
    let (tx, rx) = async_channel::unbounded();
    client
        .run_command_and_check_ok("CAPABILITY", Some(tx))
        .await
        .map_err(|e| ctx.imap("CAPABILITY", e))?;
    let mut caps = Vec::new();
    while let Ok(r) = rx.try_recv() {
        if let UnsolicitedResponse::Other(data) = r {
            if let Response::Capabilities(c) = data.parsed() {
                caps.extend(c.iter().map(capability_name));
            }
        }
    }
    Ok(caps)
}

fn capability_name(c: &Capability<'_>) -> String {
    match c {
        Capability::Imap4rev1 => "IMAP4REV1".to_string(),
        Capability::Auth(a) => format!("AUTH={}", a.to_ascii_uppercase()),
        Capability::Atom(a) => a.to_ascii_uppercase(),
    }
}

/// Connects, says STARTTLS when the server offers it on a plain connection, and logs in.
async fn open(ctx: &Ctx<'_>) -> Result<Session<Stream>, PortError> {
    let a = ctx.account;
    let tcp = TcpStream::connect((a.host.as_str(), a.port))
        .await
        .map_err(|e| ctx.fail("connect", e))?;
    let _ = tcp.set_nodelay(true);
    let stream = if a.tls {
        wrap_tls(ctx, tcp).await?
    } else {
        Stream::Plain(tcp)
    };
    let mut client = Client::new(stream);
    let greeting = client
        .read_response()
        .await
        .map_err(|e| ctx.fail("greeting", e))?
        .ok_or_else(|| ctx.fail("greeting", "the server closed the connection"))?;
    let greeting_caps = match greeting.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            outcome,
        } => match &outcome.code {
            Some(ResponseCode::Capabilities(c)) => Some(c.iter().map(capability_name).collect()),
            _ => None,
        },
        Response::Data { outcome, .. } => {
            return Err(ctx.fail(
                "greeting",
                outcome.information.as_deref().unwrap_or("refused"),
            ))
        }
        other => return Err(ctx.fail("greeting", format!("unexpected {other:?}"))),
    };
    if !a.tls {
        let caps = capabilities(ctx, &mut client, greeting_caps).await?;
        if caps.iter().any(|c| c == "STARTTLS") {
            client
                .run_command_and_check_ok("STARTTLS", None)
                .await
                .map_err(|e| ctx.imap("STARTTLS", e))?;
            let Stream::Plain(tcp) = client.into_inner() else {
                return Err(ctx.fail("STARTTLS", "the connection is already TLS"));
            };
            client = Client::new(wrap_tls(ctx, tcp).await?);
        } else {
            tracing::debug!(host = %a.host, "IMAP server offers no STARTTLS; logging in unencrypted");
        }
    }
    client
        .login(&a.login, &a.password)
        .await
        .map_err(|(e, _)| match e {
            ImapError::No(m) | ImapError::Bad(m) => ctx.fail(
                "login failed",
                format!("{:?} refused: {}", a.login, server_text(&m)),
            ),
            other => ctx.fail("login failed", other),
        })
}

/// Runs the search program and answers the found UIDs, ascending. A string that is not
/// ASCII goes as a synchronising literal: its bytes follow the server's go-ahead.
async fn run_search(
    ctx: &Ctx<'_>,
    session: &mut Session<Stream>,
    search: &Search,
) -> Result<Vec<u32>, PortError> {
    let fail = |e: ImapError| ctx.imap("SEARCH", e);
    let mut pieces = search.pieces().into_iter();
    let first = pieces.next().unwrap_or_default();
    let tag = session.run_command(&first).await.map_err(fail)?;
    for piece in pieces {
        loop {
            let r = session
                .read_response()
                .await
                .map_err(|e| ctx.fail("SEARCH", e))?
                .ok_or_else(|| ctx.fail("SEARCH", "connection lost"))?;
            match r.parsed() {
                Response::Continue(_) => break,
                Response::Done {
                    tag: t, outcome, ..
                } if *t == tag => {
                    return Err(ctx.fail(
                        "SEARCH",
                        outcome.information.as_deref().unwrap_or("refused"),
                    ))
                }
                _ => {}
            }
        }
        session.run_command_untagged(&piece).await.map_err(fail)?;
    }
    let mut uids = Vec::new();
    loop {
        let r = session
            .read_response()
            .await
            .map_err(|e| ctx.fail("SEARCH", e))?
            .ok_or_else(|| ctx.fail("SEARCH", "connection lost"))?;
        match r.parsed() {
            Response::MailboxData(MailboxDatum::Search(ids)) => uids.extend_from_slice(ids),
            Response::Done {
                tag: t,
                status,
                outcome,
            } if *t == tag => {
                if *status != Status::Ok {
                    return Err(ctx.fail(
                        "SEARCH",
                        format!(
                            "{status:?} {}",
                            outcome.information.as_deref().unwrap_or_default()
                        ),
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    uids.sort_unstable();
    uids.dedup();
    Ok(uids)
}

/// What one session found: how many messages match and the raw chosen one.
struct Found {
    total: usize,
    raw: Option<Vec<u8>>,
}

/// One whole IMAP session: login, INBOX (read-write only to mark read), search, fetch,
/// mark, logout.
async fn session(ctx: &Ctx<'_>, q: &MailQuery, search: &Search) -> Result<Found, PortError> {
    let mut session = open(ctx).await?;
    let selected = if q.mark_read {
        session.select(MAILBOX).await
    } else {
        session.examine(MAILBOX).await
    };
    selected.map_err(|e| ctx.imap("SELECT INBOX", e))?;
    let uids = run_search(ctx, &mut session, search).await?;
    let total = uids.len();
    let raw = match uids.get(q.index as usize) {
        None => None,
        Some(&uid) => Some(fetch(ctx, &mut session, uid, q.mark_read).await?),
    };
    if let Err(e) = session.logout().await {
        tracing::debug!(error = %e, "IMAP logout");
    }
    Ok(Found { total, raw })
}

async fn fetch(
    ctx: &Ctx<'_>,
    session: &mut Session<Stream>,
    uid: u32,
    mark_read: bool,
) -> Result<Vec<u8>, PortError> {
    let fail = |e: ImapError| ctx.imap("FETCH", e);
    let size = {
        let fetches: Vec<_> = session
            .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)")
            .await
            .map_err(fail)?
            .try_collect()
            .await
            .map_err(fail)?;
        fetches
            .iter()
            .find(|f| f.uid == Some(uid))
            .and_then(|f| f.size)
    };
    if let Some(size) = size.filter(|s| *s > MAX_MESSAGE) {
        return Err(PortError::new(
            "LIMIT",
            format!("the message is {size} bytes, more than {MAX_MESSAGE}"),
        ));
    }
    let fetches: Vec<_> = session
        .uid_fetch(uid.to_string(), "(UID BODY.PEEK[])")
        .await
        .map_err(fail)?
        .try_collect()
        .await
        .map_err(fail)?;
    let raw = fetches
        .iter()
        .find(|f| f.uid == Some(uid) && f.body().is_some())
        .or_else(|| fetches.iter().find(|f| f.body().is_some()))
        .and_then(|f| f.body())
        .map(<[u8]>::to_vec)
        .ok_or_else(|| ctx.fail("FETCH", format!("no body for UID {uid}")))?;
    if mark_read {
        let _: Vec<_> = session
            .uid_store(uid.to_string(), "+FLAGS (\\Seen)")
            .await
            .map_err(|e| ctx.imap("STORE", e))?
            .try_collect()
            .await
            .map_err(|e| ctx.imap("STORE", e))?;
    }
    Ok(raw)
}

// --- The message object -------------------------------------------------------------------

/// `{value: [{address, name}], text}` as node's mailparser gives; a group is
/// `{name, group: [{address, name}]}` in `value`.
fn address(a: &Address<'_>) -> Value {
    let one = |addr: &mail_parser::Addr<'_>| {
        json!({
            "address": addr.address.as_deref().unwrap_or_default(),
            "name": addr.name.as_deref().unwrap_or_default(),
        })
    };
    let text_of = |addr: &mail_parser::Addr<'_>| {
        let address = addr.address.as_deref().unwrap_or_default();
        match addr.name.as_deref().filter(|n| !n.is_empty()) {
            None => address.to_string(),
            Some(n) if n.contains([',', ';', '"', '<', '>', '@', ':']) => {
                format!("\"{}\" <{address}>", n.replace('"', "\\\""))
            }
            Some(n) => format!("{n} <{address}>"),
        }
    };
    match a {
        Address::List(list) => json!({
            "value": list.iter().map(one).collect::<Vec<_>>(),
            "text": list.iter().map(text_of).collect::<Vec<_>>().join(", "),
        }),
        Address::Group(groups) => {
            let mut value = Vec::new();
            let mut text = Vec::new();
            for g in groups {
                let members = g.addresses.iter().map(text_of).collect::<Vec<_>>();
                match g.name.as_deref() {
                    Some(name) => {
                        value.push(json!({
                            "name": name,
                            "group": g.addresses.iter().map(one).collect::<Vec<_>>(),
                        }));
                        text.push(format!("{name}: {};", members.join(", ")));
                    }
                    None => {
                        value.extend(g.addresses.iter().map(one));
                        text.push(members.join(", "));
                    }
                }
            }
            json!({"value": value, "text": text.join(" ")})
        }
    }
}

/// Headers whose parsed value loses its text (ids lose their brackets, dates their zone):
/// their raw value is given instead.
const RAW_HEADERS: &[&str] = &[
    "message-id",
    "in-reply-to",
    "references",
    "content-id",
    "resent-message-id",
];

/// Headers by lower-case name; a value is the decoded text, and a header given several
/// times (`received`) is an array of them in order.
fn headers(msg: &mail_parser::Message<'_>) -> Value {
    let raw = msg.raw_message.as_ref();
    let mut out = Map::new();
    for h in msg.headers() {
        let name = h.name().to_ascii_lowercase();
        let raw_value = || {
            let bytes = raw
                .get(h.offset_start as usize..h.offset_end as usize)
                .unwrap_or_default();
            unfold(&String::from_utf8_lossy(bytes))
        };
        let text = match h.value() {
            _ if RAW_HEADERS.contains(&name.as_str()) => raw_value(),
            HeaderValue::Text(t) => t.to_string(),
            HeaderValue::TextList(l) => l.join(", "),
            HeaderValue::Address(a) => address(a)["text"].as_str().unwrap_or_default().to_string(),
            _ => raw_value(),
        };
        match out.get_mut(&name) {
            None => {
                out.insert(name, Value::String(text));
            }
            Some(Value::Array(a)) => a.push(Value::String(text)),
            Some(prev) => {
                let first = prev.take();
                *prev = json!([first, text]);
            }
        }
    }
    Value::Object(out)
}

/// A raw header value on one line: folds joined, ends trimmed.
fn unfold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.split('\n').enumerate() {
        let line = line.trim_end_matches('\r');
        if i > 0 {
            out.push(' ');
            out.push_str(line.trim_start());
        } else {
            out.push_str(line);
        }
    }
    out.trim().to_string()
}

/// An attachment as parsed: name, MIME type and bytes.
struct Part {
    filename: Option<String>,
    content_type: String,
    bytes: Vec<u8>,
}

/// The message object without attachments, and the attachments apart (to be stored or
/// inlined as the component asks). `None` when the bytes are not a message at all.
fn parse(raw: &[u8]) -> Option<(Map<String, Value>, Vec<Part>)> {
    let msg = MessageParser::default().parse(raw)?;
    let mut o = Map::new();
    o.insert(
        "messageId".into(),
        msg.message_id()
            .map_or(Value::Null, |id| Value::String(format!("<{id}>"))),
    );
    o.insert(
        "date".into(),
        msg.date()
            .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0))
            .map_or(Value::Null, |d| {
                Value::String(d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
            }),
    );
    for (k, a) in [("from", msg.from()), ("to", msg.to()), ("cc", msg.cc())] {
        o.insert(k.into(), a.map_or(Value::Null, address));
    }
    o.insert(
        "subject".into(),
        msg.subject().map_or(Value::Null, Value::from),
    );
    // Line ends as mailparser gives them: `\n`.
    let lf = |t: &str| Value::String(t.replace("\r\n", "\n"));
    o.insert(
        "text".into(),
        msg.body_text(0).map_or(Value::Null, |t| lf(&t)),
    );
    // mail-parser offers a text part as HTML when there is no HTML part; only a real one is
    // the message's `html`.
    let html = msg.html_bodies().find_map(|p| match &p.body {
        PartType::Html(h) => Some(lf(h)),
        _ => None,
    });
    o.insert("html".into(), html.unwrap_or(Value::Null));
    o.insert("headers".into(), headers(&msg));
    let parts = msg
        .attachments()
        .map(|p| {
            let content_type = p.content_type().map_or_else(
                || "application/octet-stream".to_string(),
                |c| match c.subtype() {
                    Some(sub) => format!("{}/{sub}", c.ctype()),
                    None => c.ctype().to_string(),
                },
            );
            Part {
                filename: p.attachment_name().map(str::to_string),
                content_type: content_type.to_ascii_lowercase(),
                bytes: p.contents().to_vec(),
            }
        })
        .collect();
    Some((o, parts))
}

impl AppPorts {
    /// Reads one message of an IMAP mailbox (Receive mail) and counts the matching ones.
    pub(crate) async fn receive_mail_imap(&self, q: MailQuery) -> Result<Received, PortError> {
        let account = account(&q)?;
        let program = search(&q)?;
        let ctx = Ctx { account: &account };
        let found = tokio::time::timeout(SESSION_LIMIT, session(&ctx, &q, &program))
            .await
            .map_err(|_| {
                PortError::new(
                    "TIMEOUT",
                    format!(
                        "IMAP {}:{}: no answer within {} s",
                        account.host,
                        account.port,
                        SESSION_LIMIT.as_secs()
                    ),
                )
            })??;
        tracing::debug!(host = %account.host, total = found.total, fetched = found.raw.is_some(), "IMAP mailbox read");
        let message = match found.raw {
            None => None,
            Some(raw) => Some(self.message(&raw, &q.attachments).await?),
        };
        Ok(Received {
            message,
            total: i64::try_from(found.total).unwrap_or(i64::MAX),
        })
    }

    /// The message object, with the attachments as the component asks: `none`, `content`
    /// (the bytes as a Node `Buffer` in JSON) or `links` (stored as files).
    async fn message(&self, raw: &[u8], attachments: &str) -> Result<Value, PortError> {
        let (mut o, parts) = parse(raw)
            .ok_or_else(|| PortError::http("IMAP: the fetched message could not be parsed"))?;
        let mut list = Vec::new();
        for (i, p) in parts.into_iter().enumerate() {
            let size = p.bytes.len();
            match attachments {
                "content" => list.push(json!({
                    "filename": p.filename,
                    "contentType": p.content_type,
                    "size": size,
                    "content": kartoteka_engine::node_buffer(&p.bytes),
                })),
                "links" => {
                    let name = p.filename.clone().unwrap_or_else(|| {
                        if p.content_type == "message/rfc822" {
                            format!("message-{}.eml", i + 1)
                        } else {
                            format!("attachment-{}", i + 1)
                        }
                    });
                    let (id, url) = self
                        .app
                        .store_file_bytes(&name, Some(p.content_type.clone()), p.bytes.into(), None)
                        .await
                        .map_err(port_error)?;
                    list.push(json!({
                        "filename": p.filename,
                        "contentType": p.content_type,
                        "size": size,
                        "fileId": id.to_string(),
                        "url": url,
                    }));
                }
                _ => {}
            }
        }
        o.insert("attachments".into(), Value::Array(list));
        Ok(Value::Object(o))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.
mod tests {
    use super::*;

    fn query() -> MailQuery {
        MailQuery {
            host: "imap.test".into(),
            category: "all".into(),
            attachments: "none".into(),
            ..MailQuery::default()
        }
    }

    fn program(q: &MailQuery) -> Result<Vec<String>, PortError> {
        search(q).map(|s| s.pieces())
    }

    fn extended(c: Value) -> Result<Vec<String>, PortError> {
        program(&MailQuery {
            criteria: Some(c),
            ..query()
        })
    }

    #[test]
    fn the_standard_filter_becomes_keys() {
        assert_eq!(program(&query()).unwrap(), ["UID SEARCH ALL"]);
        let q = MailQuery {
            category: "unseen".into(),
            since: Some("2024-01-05T10:00:00.000Z".into()),
            before: Some("Fri, 29 Dec 1995 11:24:28".into()),
            from: Some("bob@example.com".into()),
            subject: Some("Invoice \"7\"".into()),
            ..query()
        };
        assert_eq!(
            program(&q).unwrap(),
            [
                r#"UID SEARCH UNSEEN SINCE 5-Jan-2024 BEFORE 29-Dec-1995 FROM "bob@example.com" SUBJECT "Invoice \"7\"""#
            ]
        );
        let q = MailQuery {
            category: "deleted".into(),
            from: Some("  ".into()),
            ..query()
        };
        assert_eq!(program(&q).unwrap(), ["UID SEARCH DELETED"]);
        let bad = program(&MailQuery {
            category: "spam".into(),
            ..query()
        })
        .unwrap_err();
        assert_eq!(bad.code, "VALIDATION");
        assert!(bad.message.contains("spam"), "{}", bad.message);
    }

    #[test]
    fn text_that_is_not_ascii_goes_as_a_literal_under_utf8() {
        let q = MailQuery {
            subject: Some("Счёт".into()),
            from: Some("a@b".into()),
            ..query()
        };
        assert_eq!(
            program(&q).unwrap(),
            [
                "UID SEARCH CHARSET UTF-8 ALL FROM \"a@b\" SUBJECT {8}".to_string(),
                "Счёт".to_string()
            ]
        );
        assert_eq!(
            extended(json!([["SUBJECT", "Привет"], ["TEXT", "мир"], "SEEN"])).unwrap(),
            [
                "UID SEARCH CHARSET UTF-8 SUBJECT {12}",
                "Привет TEXT {6}",
                "мир SEEN"
            ]
        );
    }

    #[test]
    fn node_imap_criteria_are_translated() {
        assert_eq!(
            extended(json!(["UNSEEN", ["SINCE", "2024-01-01"], ["FROM", "a@b"]])).unwrap(),
            [r#"UID SEARCH UNSEEN SINCE 1-Jan-2024 FROM "a@b""#]
        );
        assert_eq!(
            extended(json!([
                "!seen",
                ["OR", "FLAGGED", ["SUBJECT", "x"]],
                ["HEADER", "X-Kind", "order"],
                ["LARGER", 1000],
                ["!FROM", "spam@x"],
                ["UID", "1:5,9"],
                "2:*",
                [["ANSWERED"], ["TO", "me@x"]],
                ["KEYWORD", "$Important"],
                ["ON", 1704067200000i64],
            ]))
            .unwrap(),
            [concat!(
                r#"UID SEARCH NOT SEEN OR FLAGGED SUBJECT "x" HEADER "X-Kind" "order" LARGER 1000"#,
                r#" NOT FROM "spam@x" UID 1:5,9 2:* (ANSWERED TO "me@x") KEYWORD $Important ON 1-Jan-2024"#
            )]
        );
        // The array as JSON text, a single key, and nothing at all.
        assert_eq!(
            extended(json!(r#"["UNSEEN", ["SUBJECT", "a"]]"#)).unwrap(),
            [r#"UID SEARCH UNSEEN SUBJECT "a""#]
        );
        assert_eq!(extended(json!("flagged")).unwrap(), ["UID SEARCH FLAGGED"]);
        assert_eq!(extended(json!([])).unwrap(), ["UID SEARCH ALL"]);
    }

    #[test]
    fn unknown_or_malformed_criteria_are_refused() {
        for (c, says) in [
            (json!(["UNSEEN", "SPAMMY"]), "unknown search key \"SPAMMY\""),
            (json!([["FROM"]]), "FROM takes 1 argument(s), got 0"),
            (json!([["SINCE", "yesterday-ish"]]), "is not a date"),
            (json!([["LARGER", "big"]]), "LARGER takes a number"),
            (json!([["SUBJECT", "a\r\nb"]]), "line breaks"),
            (json!([["KEYWORD", "a b"]]), "is not a keyword"),
            (json!([["UID", "1:x"]]), "is not a UID set"),
            (json!([42]), "is not a search key"),
            (json!({"UNSEEN": true}), "is not an array"),
            (json!("[not json"), "not a JSON array"),
        ] {
            let e = extended(c.clone()).unwrap_err();
            assert_eq!(e.code, "VALIDATION", "{c}");
            assert!(e.message.contains(says), "{c}: {}", e.message);
        }
    }

    #[test]
    fn dates_are_read_from_iso_and_rfc_2822() {
        let d = |s: &str| imap_date(&json!(s), "dateFrom");
        for (text, want) in [
            ("2022-08-31T11:38:18.167Z", "31-Aug-2022"),
            ("2022-08-31", "31-Aug-2022"),
            ("2022-08-31T23:30:00-02:00", "1-Sep-2022"),
            ("2022-08-31T11:38", "31-Aug-2022"),
            ("2022-08-31 11:38:18", "31-Aug-2022"),
            ("Fri, 29 Dec 1995 11:24:28", "29-Dec-1995"),
            ("Fri, 29 Dec 1995 11:24:28 +0300", "29-Dec-1995"),
            ("Mon, 01 Jan 2024 01:00:00 +0300", "31-Dec-2023"),
            ("29 Dec 1995", "29-Dec-1995"),
            ("5-Feb-2024", "5-Feb-2024"),
        ] {
            assert_eq!(d(text).unwrap(), want, "{text}");
        }
        assert_eq!(
            imap_date(&json!(1_704_067_200_000i64), "x").unwrap(),
            "1-Jan-2024"
        );
        let e = d("31.08.2022").unwrap_err();
        assert_eq!(e.code, "VALIDATION");
        assert!(e.message.starts_with("dateFrom: "), "{}", e.message);
        assert!(imap_date(&json!(true), "x").is_err());
    }

    #[test]
    fn the_account_comes_from_parameters_or_a_url() {
        let a = account(&MailQuery {
            tls: true,
            login: "me".into(),
            ..query()
        })
        .unwrap();
        assert_eq!((a.host.as_str(), a.port, a.tls), ("imap.test", 993, true));
        let a = account(&query()).unwrap();
        assert_eq!((a.port, a.tls), (143, false));
        let a = account(&MailQuery {
            url: Some("imaps://user%40mail.ru:p%40ss%2Fw@imap.mail.ru".into()),
            ..query()
        })
        .unwrap();
        assert_eq!(
            (
                a.host.as_str(),
                a.port,
                a.tls,
                a.login.as_str(),
                a.password.as_str()
            ),
            ("imap.mail.ru", 993, true, "user@mail.ru", "p@ss/w")
        );
        let a = account(&MailQuery {
            url: Some("imap://u:p@[::1]:1143".into()),
            ..query()
        })
        .unwrap();
        assert_eq!((a.host.as_str(), a.port, a.tls), ("::1", 1143, false));
        for bad in ["pop3://h", "not a url"] {
            let e = account(&MailQuery {
                url: Some(bad.into()),
                ..query()
            })
            .unwrap_err();
            assert_eq!(e.code, "VALIDATION", "{bad}");
        }
        assert!(account(&MailQuery {
            host: " ".into(),
            ..query()
        })
        .is_err());
    }

    #[test]
    fn a_refusal_keeps_the_servers_words() {
        // async-imap words a NO or BAD as `code: {:?}, info: {:?}`.
        let m = format!(
            "code: {:?}, info: {:?}",
            None::<u8>,
            Some("Invalid \"x\" \\ y")
        );
        assert_eq!(server_text(&m), "Invalid \"x\" \\ y");
        assert_eq!(
            server_text("code: None, info: None"),
            "code: None, info: None"
        );
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("a%20b%zz%4"), "a b%zz%4");
        assert_eq!(percent_decode("%D0%AF"), "Я");
    }

    const MULTIPART: &str = "From: \"Bob, Sales\" <bob@example.com>\r\n\
To: Ann <ann@example.com>, carl@example.com\r\n\
Cc: Team: dan@example.com;\r\n\
Subject: =?UTF-8?B?0KHRh9GR0YI=?= 7\r\n\
Date: Mon, 01 Jan 2024 10:00:00 +0300\r\n\
Message-ID: <m1@example.com>\r\n\
Received: from a\r\n\
Received: from b\r\n by c\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"XX\"\r\n\
\r\n\
--XX\r\n\
Content-Type: multipart/alternative; boundary=\"YY\"\r\n\
\r\n\
--YY\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Plain body\r\n\
--YY\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>HTML body</p>\r\n\
--YY--\r\n\
--XX\r\n\
Content-Type: text/csv; name=\"list.csv\"\r\n\
Content-Disposition: attachment; filename=\"list.csv\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
YSxiCjEsMgo=\r\n\
--XX--\r\n";

    #[test]
    fn a_message_becomes_the_mailparser_shape() {
        let (o, parts) = parse(MULTIPART.as_bytes()).unwrap();
        let o = Value::Object(o);
        assert_eq!(o["messageId"], "<m1@example.com>");
        assert_eq!(o["date"], "2024-01-01T07:00:00.000Z");
        assert_eq!(o["subject"], "Счёт 7");
        assert_eq!(
            o["from"],
            json!({"value": [{"address": "bob@example.com", "name": "Bob, Sales"}], "text": "\"Bob, Sales\" <bob@example.com>"})
        );
        assert_eq!(o["to"]["text"], "Ann <ann@example.com>, carl@example.com");
        assert_eq!(
            o["to"]["value"][1],
            json!({"address": "carl@example.com", "name": ""})
        );
        assert_eq!(
            o["cc"]["value"],
            json!([{"name": "Team", "group": [{"address": "dan@example.com", "name": ""}]}])
        );
        assert_eq!(o["text"], "Plain body");
        assert_eq!(o["html"].as_str().map(str::trim), Some("<p>HTML body</p>"));
        assert_eq!(o["headers"]["message-id"], "<m1@example.com>");
        assert_eq!(o["headers"]["subject"], "Счёт 7");
        assert_eq!(o["headers"]["received"], json!(["from a", "from b by c"]));
        assert_eq!(
            o["headers"]["content-type"],
            "multipart/mixed; boundary=\"XX\""
        );
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].filename.as_deref(), Some("list.csv"));
        assert_eq!(parts[0].content_type, "text/csv");
        assert_eq!(parts[0].bytes, b"a,b\n1,2\n");
    }

    #[test]
    fn a_plain_message_has_no_html() {
        let raw = "From: a@b\r\nSubject: hi\r\n\r\nJust text\r\n";
        let (o, parts) = parse(raw.as_bytes()).unwrap();
        assert_eq!(o["text"], "Just text\n");
        assert_eq!(o["html"], Value::Null);
        assert_eq!(o["date"], Value::Null);
        assert_eq!(o["to"], Value::Null);
        assert!(parts.is_empty());
    }
}
