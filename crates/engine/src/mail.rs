//! Send mail (spec 03 §7.4.2) and Receive mail (§7.4.1): the message or the query built from
//! the parameters; the host's port does SMTP and IMAP.

use kartoteka_bpmn::Task;
use serde_json::Value;

use crate::components::{any_text, integer, recode, required, Slots};
use crate::values::{choice, scalar_text, Args};
use crate::{Attachment, Engine, Failure, Mail, MailQuery, MailServer, Ports};

pub(crate) fn send_inputs(task: &Task, names: &mut Vec<&'static str>) {
    names.extend(["connectionProtocol", "connectionType"]);
    if choice(task, "connectionProtocol") == Some("exchange") {
        names.extend([
            "exchangeHost",
            "exchangeUsername",
            "exchangePass",
            "exchangeAuth",
        ]);
        names.push("exchangeAllowUntrusted");
    } else if is_parameters(choice(task, "connectionType")) {
        names.extend([
            "smtphost",
            "smtpport",
            "smtpencription",
            "smtpencriptionselfsign",
        ]);
        names.extend(["smtplogin", "smtppass"]);
    } else {
        names.push("connectionString");
    }
    names.extend(["from", "replyTo", "inReplyTo", "to", "cc", "bcc", "subject"]);
    names.extend(["bodyType", "body", "attachments"]);
}

pub(crate) fn receive_inputs(task: &Task, names: &mut Vec<&'static str>) {
    names.push("connectionType");
    if is_parameters(choice(task, "connectionType")) {
        names.extend(["host", "port", "encryption", "login", "password"]);
    } else {
        names.push("connectionString");
    }
    names.push("filterType");
    if choice(task, "filterType") == Some("extended") {
        names.push("criteria");
    } else {
        names.extend(["category", "dateFrom", "dateTo", "sender", "subject"]);
    }
    names.extend(["index", "attachments", "markRead"]);
}

/// `parameters` (the default) or a connection string (any other value).
fn is_parameters(c: Option<&str>) -> bool {
    matches!(c, None | Some("parameters"))
}

fn port(args: &Args, name: &str) -> Result<Option<u16>, Failure> {
    match integer(args, name)? {
        None => Ok(None),
        Some(p) => u16::try_from(p)
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| Failure::expression(format!("{name}: {p} is not a port"))),
    }
}

fn yes(args: &Args, name: &str) -> bool {
    matches!(
        args.text(name).as_deref(),
        Some("yes" | "true" | "on" | "1")
    )
}

/// Addresses from a comma- or semicolon-separated string, or an array of them. Separators
/// inside quotes or angle brackets do not split.
pub(crate) fn addresses(v: Option<Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push_text = |s: &str| {
        let (mut quoted, mut angle, mut cur) = (false, false, String::new());
        for c in s.chars() {
            match c {
                '"' => quoted = !quoted,
                '<' => angle = true,
                '>' => angle = false,
                ',' | ';' if !quoted && !angle => {
                    let t = cur.trim();
                    if !t.is_empty() {
                        out.push(t.to_owned());
                    }
                    cur.clear();
                    continue;
                }
                _ => {}
            }
            cur.push(c);
        }
        let t = cur.trim();
        if !t.is_empty() {
            out.push(t.to_owned());
        }
    };
    match v {
        Some(Value::Array(items)) => {
            for item in items {
                // A contact field value `[{contact, comment}]` passes its addresses.
                let text = match &item {
                    Value::Object(o) => o.get("contact").and_then(scalar_text),
                    other => scalar_text(other),
                };
                if let Some(t) = text {
                    push_text(&t);
                }
            }
        }
        Some(other) => {
            if let Some(t) = scalar_text(&other) {
                push_text(&t);
            }
        }
        None => {}
    }
    out
}

/// Attachments: a `{title, url}` object or an array of them (record file values pass as they
/// are). A storage `id` is preferred to the `url`; the title defaults to the URL's last path
/// segment.
pub(crate) fn attachments(v: Option<Value>) -> Result<Vec<Attachment>, Failure> {
    let items = match v {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(one) => vec![one],
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Value::Object(o) = &item else {
            return Err(Failure::expression(format!(
                "attachments: {item} is not a {{title, url}} object"
            )));
        };
        let text = |k: &str| o.get(k).and_then(scalar_text).filter(|s| !s.is_empty());
        let url = text("url").or_else(|| text("src"));
        let file = text("id").or_else(|| url.clone()).ok_or_else(|| {
            Failure::expression(format!("attachments: {item} has neither a url nor an id"))
        })?;
        let title = text("title")
            .or_else(|| text("name"))
            .or_else(|| url.as_deref().map(crate::files::name_from_url))
            .unwrap_or_else(|| "file".to_owned());
        out.push(Attachment { title, file });
    }
    Ok(out)
}

pub(crate) async fn send(
    _engine: &Engine,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let server = if args.text("connectionProtocol").as_deref() == Some("exchange") {
        MailServer::Exchange {
            host: args
                .text("exchangeHost")
                .ok_or_else(|| required("exchangeHost"))?,
            username: args.text("exchangeUsername").unwrap_or_default(),
            password: args.text("exchangePass").unwrap_or_default(),
            auth: args
                .text("exchangeAuth")
                .unwrap_or_else(|| "ntlm".to_owned()),
            allow_untrusted: yes(args, "exchangeAllowUntrusted"),
        }
    } else if is_parameters(args.text("connectionType").as_deref()) {
        MailServer::Smtp {
            host: args.text("smtphost").ok_or_else(|| required("smtphost"))?,
            port: port(args, "smtpport")?,
            tls: args.text("smtpencription").as_deref() == Some("encrypted"),
            allow_self_signed: yes(args, "smtpencriptionselfsign"),
            login: args.text("smtplogin"),
            password: args.text("smtppass"),
        }
    } else {
        MailServer::SmtpUrl(
            args.text("connectionString")
                .ok_or_else(|| required("connectionString"))?,
        )
    };
    let to = addresses(args.value("to"));
    let cc = addresses(args.value("cc"));
    let bcc = addresses(args.value("bcc"));
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(required("to"));
    }
    let body = any_text(args, "body");
    let (text, html) = if args.text("bodyType").as_deref() == Some("text") {
        (body, None)
    } else {
        (None, body)
    };
    let mail = Mail {
        server,
        from: args.text("from").ok_or_else(|| required("from"))?,
        reply_to: args.text("replyTo"),
        in_reply_to: args.text("inReplyTo"),
        to,
        cc,
        bcc,
        subject: any_text(args, "subject").unwrap_or_default(),
        text,
        html,
        attachments: attachments(args.value("attachments"))?,
    };
    let answer = ports.send_mail(mail).await.map_err(|e| recode(e, "SMTP"))?;
    let id = match answer {
        Value::Object(ref o) => o.get("messageId").cloned(),
        Value::Null => None,
        other => Some(other),
    };
    Ok(vec![("output", id)])
}

pub(crate) async fn receive(args: &Args, ports: &dyn Ports) -> Result<Slots, Failure> {
    let mut q = MailQuery {
        category: "all".to_owned(),
        attachments: "none".to_owned(),
        ..MailQuery::default()
    };
    if is_parameters(args.text("connectionType").as_deref()) {
        q.host = args.text("host").ok_or_else(|| required("host"))?;
        q.port = port(args, "port")?;
        q.tls = args.text("encryption").as_deref() != Some("off");
        q.login = args.text("login").unwrap_or_default();
        q.password = args.text("password").unwrap_or_default();
    } else {
        q.url = Some(
            args.text("connectionString")
                .ok_or_else(|| required("connectionString"))?,
        );
    }
    if args.text("filterType").as_deref() == Some("extended") {
        q.criteria = args.value("criteria").filter(|v| !v.is_null());
    } else {
        if let Some(c) = args.text("category") {
            q.category = c;
        }
        q.since = any_text(args, "dateFrom");
        q.before = any_text(args, "dateTo");
        q.from = args.text("sender");
        q.subject = args.text("subject");
    }
    q.index = integer(args, "index")?
        .unwrap_or(0)
        .clamp(0, i64::from(u32::MAX))
        .try_into()
        .unwrap_or(0);
    if let Some(a) = args.text("attachments") {
        if !matches!(a.as_str(), "none" | "links" | "content") {
            return Err(Failure::expression(format!(
                "attachments: {a:?} is not none, links or content"
            )));
        }
        q.attachments = a;
    }
    q.mark_read = yes(args, "markRead");
    // No code of spec 03 §4.3 names IMAP failures: the host's code stays (`HTTP` for the
    // network).
    let got = ports.receive_mail(q).await?;
    Ok(vec![
        ("output", Some(got.message.unwrap_or(Value::Null))),
        ("outputCount", Some(Value::from(got.total))),
    ])
}
