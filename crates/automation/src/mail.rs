//! Send mail (spec 03 §7.4.2) over SMTP with lettre: TLS from the start when the component
//! asks for it, otherwise STARTTLS when the server offers it and plain text when it does not;
//! attachments are fetched like any file a scenario names. Exchange servers are reached
//! through Exchange Web Services (`ews.rs`).

use kartoteka_engine::{Mail, MailServer, PortError};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};

use crate::ports::AppPorts;

fn smtp(message: impl std::fmt::Display) -> PortError {
    PortError::new("SMTP", message.to_string())
}

fn mailbox(what: &str, text: &str) -> Result<Mailbox, PortError> {
    text.trim()
        .parse::<Mailbox>()
        .map_err(|e| PortError::validation(format!("{what} {text:?}: {e}")))
}

/// The transport a component's server settings describe.
fn transport(server: &MailServer) -> Result<AsyncSmtpTransport<Tokio1Executor>, PortError> {
    match server {
        MailServer::Smtp {
            host,
            port,
            tls,
            allow_self_signed,
            login,
            password,
        } => {
            let params = TlsParameters::builder(host.clone())
                .dangerous_accept_invalid_certs(*allow_self_signed)
                .build_rustls()
                .map_err(smtp)?;
            let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
                .port(port.unwrap_or(if *tls { 465 } else { 587 }))
                .tls(if *tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Opportunistic(params)
                });
            if let Some(l) = login.as_ref().filter(|l| !l.is_empty()) {
                b = b.credentials(Credentials::new(
                    l.clone(),
                    password.clone().unwrap_or_default(),
                ));
            }
            Ok(b.build())
        }
        MailServer::SmtpUrl(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map(|b| b.build())
            .map_err(smtp),
        MailServer::Exchange { .. } => Err(PortError::new(
            "INTERNAL",
            "an Exchange server is not an SMTP transport",
        )),
    }
}

impl AppPorts {
    /// Builds and sends a message; answers `{"messageId"}`.
    pub(crate) async fn mail(&self, mail: Mail) -> Result<Value, PortError> {
        if let MailServer::Exchange {
            host,
            username,
            password,
            auth,
            allow_untrusted,
        } = &mail.server
        {
            let mut files = Vec::with_capacity(mail.attachments.len());
            for a in &mail.attachments {
                files.push((a.title.clone(), self.fetch(&a.file).await?));
            }
            let server = crate::ews::Server {
                host,
                username,
                password,
                auth,
                allow_untrusted: *allow_untrusted,
            };
            return crate::ews::send(&server, &mail, &files).await;
        }
        let id = format!("<{}@kartoteka>", crate::processes::new_pid());
        let mut b = Message::builder()
            .from(mailbox("from", &mail.from)?)
            .subject(mail.subject.clone())
            .message_id(Some(id.clone()));
        for t in &mail.to {
            b = b.to(mailbox("to", t)?);
        }
        for t in &mail.cc {
            b = b.cc(mailbox("cc", t)?);
        }
        for t in &mail.bcc {
            b = b.bcc(mailbox("bcc", t)?);
        }
        if let Some(r) = mail.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
            b = b.reply_to(mailbox("replyTo", r)?);
        }
        if let Some(r) = mail.in_reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
            b = b.in_reply_to(r.to_string());
        }
        let body = match (&mail.html, &mail.text) {
            (Some(h), _) => SinglePart::html(h.clone()),
            (None, Some(t)) => SinglePart::plain(t.clone()),
            (None, None) => SinglePart::plain(String::new()),
        };
        let message = if mail.attachments.is_empty() {
            b.singlepart(body)
        } else {
            let mut parts = MultiPart::mixed().singlepart(body);
            for a in &mail.attachments {
                let bytes = self.fetch(&a.file).await?;
                let kind = ContentType::parse("application/octet-stream").map_err(smtp)?;
                parts = parts.singlepart(Attachment::new(a.title.clone()).body(bytes, kind));
            }
            b.multipart(parts)
        }
        .map_err(|e| PortError::validation(format!("the message: {e}")))?;
        transport(&mail.server)?.send(message).await.map_err(smtp)?;
        Ok(json!({"messageId": id}))
    }
}
