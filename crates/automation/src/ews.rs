//! Send mail over Exchange (spec 03 §7.4.2, `connectionProtocol=exchange`): one Exchange Web
//! Services `CreateItem` with `MessageDisposition="SendAndSaveCopy"` (sent, and a copy kept
//! in Sent Items), posted to `<server>/EWS/Exchange.asmx` (a server URL that already ends in
//! `.asmx` is used as it is). The login is HTTP Basic or NTLM (v2, `ntlmclient`); NTLM
//! authenticates the connection, so its three requests go over one kept-alive connection.
//! `DOMAIN\user` logins give the NTLM domain. Attachments go inline as `FileAttachment`s.
//! Any failure (connection, login, an EWS error or SOAP fault) is `SMTP`, as for SMTP.

use std::time::Duration;

use base64::Engine as _;
use kartoteka_engine::{Mail, PortError};
use lettre::message::Mailbox;
use serde_json::{json, Value};

/// The longest one request to the server may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The workstation name NTLM sends.
const WORKSTATION: &str = "KARTOTEKA";

fn ews_error(message: impl std::fmt::Display) -> PortError {
    PortError::new("SMTP", format!("Exchange: {message}"))
}

/// How to reach the server.
pub(crate) struct Server<'a> {
    pub host: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    /// `ntlm` (the default) or `basic`.
    pub auth: &'a str,
    pub allow_untrusted: bool,
}

/// The EWS endpoint of a server URL.
fn endpoint(host: &str) -> String {
    let host = host.trim();
    if host.to_ascii_lowercase().ends_with(".asmx") {
        host.to_owned()
    } else {
        format!("{}/EWS/Exchange.asmx", host.trim_end_matches('/'))
    }
}

/// Sends `mail` with its fetched attachments (title, bytes); answers `{"messageId": null}`
/// (Exchange gives a sent message no id the caller could use).
pub(crate) async fn send(
    server: &Server<'_>,
    mail: &Mail,
    attachments: &[(String, Vec<u8>)],
) -> Result<Value, PortError> {
    let body = envelope(mail, attachments)?;
    let url = endpoint(server.host);
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(1)
        .timeout(TIMEOUT)
        .danger_accept_invalid_certs(server.allow_untrusted)
        .build()
        .map_err(ews_error)?;
    let post = || {
        client
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
    };
    let reply = if server.auth.eq_ignore_ascii_case("basic") {
        post()
            .basic_auth(server.username, Some(server.password))
            .body(body)
            .send()
            .await
            .map_err(ews_error)?
    } else {
        let creds = credentials(server.username, server.password);
        let negotiate = post()
            .header("authorization", format!("NTLM {}", b64(&negotiate()?)))
            .header("content-length", "0")
            .send()
            .await
            .map_err(ews_error)?;
        let challenge = challenge(&negotiate)?;
        // The connection must be free again for the answer: read the 401's body out.
        let _ = negotiate.bytes().await;
        post()
            .header(
                "authorization",
                format!("NTLM {}", b64(&authenticate(&challenge, &creds)?)),
            )
            .body(body)
            .send()
            .await
            .map_err(ews_error)?
    };
    let status = reply.status();
    let text = reply.text().await.map_err(ews_error)?;
    if status.as_u16() == 401 {
        return Err(ews_error("the server refused the login (401)"));
    }
    outcome(status.as_u16(), &text)?;
    Ok(json!({"messageId": null}))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `DOMAIN\user` → domain and user; anything else is the user with no domain (an
/// `user@domain` login is passed as it is, which NTLM accepts).
fn credentials(username: &str, password: &str) -> ntlmclient::Credentials {
    let (domain, user) = username.split_once('\\').unwrap_or(("", username));
    ntlmclient::Credentials {
        username: user.to_owned(),
        password: password.to_owned(),
        domain: domain.to_owned(),
    }
}

fn negotiate() -> Result<Vec<u8>, PortError> {
    use ntlmclient::Flags;
    ntlmclient::Message::Negotiate(ntlmclient::NegotiateMessage {
        flags: Flags::NEGOTIATE_UNICODE
            | Flags::REQUEST_TARGET
            | Flags::NEGOTIATE_NTLM
            | Flags::NEGOTIATE_WORKSTATION_SUPPLIED,
        supplied_domain: String::new(),
        supplied_workstation: WORKSTATION.to_owned(),
        os_version: Default::default(),
    })
    .to_bytes()
    .map_err(ews_error)
}

/// The server's NTLM challenge from a 401's `WWW-Authenticate: NTLM <base64>`.
fn challenge(reply: &reqwest::Response) -> Result<ntlmclient::ChallengeMessage, PortError> {
    let status = reply.status().as_u16();
    let header = reply
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("NTLM ").map(str::trim))
        .ok_or_else(|| {
            ews_error(format!(
                "the server offers no NTLM login (HTTP {status}); try auth basic"
            ))
        })?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(header)
        .map_err(|e| ews_error(format!("a bad NTLM challenge: {e}")))?;
    match ntlmclient::Message::try_from(bytes.as_slice()) {
        Ok(ntlmclient::Message::Challenge(c)) => Ok(c),
        Ok(_) => Err(ews_error("the server's NTLM answer is not a challenge")),
        Err(e) => Err(ews_error(format!("a bad NTLM challenge: {e:?}"))),
    }
}

fn authenticate(
    challenge: &ntlmclient::ChallengeMessage,
    creds: &ntlmclient::Credentials,
) -> Result<Vec<u8>, PortError> {
    let target: Vec<u8> = challenge
        .target_information
        .iter()
        .flat_map(|entry| entry.to_bytes())
        .collect();
    ntlmclient::respond_challenge_ntlm_v2(
        challenge.challenge,
        &target,
        ntlmclient::get_ntlm_time(),
        creds,
    )
    .to_message(
        creds,
        WORKSTATION,
        ntlmclient::Flags::NEGOTIATE_UNICODE | ntlmclient::Flags::NEGOTIATE_NTLM,
    )
    .to_bytes()
    .map_err(ews_error)
}

/// XML element text, escaped.
fn esc(text: &str) -> String {
    kartoteka_bpmn::xml::escape(text, false)
}

/// `<t:Mailbox>` of `Name <address>` or a bare address.
fn mailbox(what: &str, text: &str) -> Result<String, PortError> {
    let m: Mailbox = text
        .trim()
        .parse()
        .map_err(|e| PortError::validation(format!("{what} {text:?}: {e}")))?;
    let name = m
        .name
        .as_deref()
        .map(|n| format!("<t:Name>{}</t:Name>", esc(n)))
        .unwrap_or_default();
    Ok(format!(
        "<t:Mailbox>{name}<t:EmailAddress>{}</t:EmailAddress></t:Mailbox>",
        esc(m.email.as_ref())
    ))
}

fn recipients(element: &str, what: &str, list: &[String]) -> Result<String, PortError> {
    if list.is_empty() {
        return Ok(String::new());
    }
    let boxes = list
        .iter()
        .map(|r| mailbox(what, r))
        .collect::<Result<String, _>>()?;
    Ok(format!("<t:{element}>{boxes}</t:{element}>"))
}

/// The SOAP request. The message's elements keep the order of the EWS schema (item fields,
/// then message fields), which Exchange checks.
fn envelope(mail: &Mail, attachments: &[(String, Vec<u8>)]) -> Result<String, PortError> {
    let (kind, body) = match (&mail.html, &mail.text) {
        (Some(h), _) => ("HTML", h.as_str()),
        (None, Some(t)) => ("Text", t.as_str()),
        (None, None) => ("Text", ""),
    };
    let files: String = attachments
        .iter()
        .map(|(name, bytes)| {
            format!(
                "<t:FileAttachment><t:Name>{}</t:Name><t:Content>{}</t:Content></t:FileAttachment>",
                esc(name),
                b64(bytes)
            )
        })
        .collect();
    let files = if files.is_empty() {
        files
    } else {
        format!("<t:Attachments>{files}</t:Attachments>")
    };
    let in_reply_to = mail
        .in_reply_to
        .as_deref()
        .filter(|r| !r.trim().is_empty())
        .map(|r| format!("<t:InReplyTo>{}</t:InReplyTo>", esc(r.trim())))
        .unwrap_or_default();
    let reply_to = match mail.reply_to.as_deref().filter(|r| !r.trim().is_empty()) {
        Some(r) => format!("<t:ReplyTo>{}</t:ReplyTo>", mailbox("replyTo", r)?),
        None => String::new(),
    };
    let from = if mail.from.trim().is_empty() {
        String::new()
    } else {
        format!("<t:From>{}</t:From>", mailbox("from", &mail.from)?)
    };
    Ok(format!(
        concat!(
            r#"<?xml version="1.0" encoding="utf-8"?>"#,
            r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" "#,
            r#"xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" "#,
            r#"xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages">"#,
            r#"<soap:Header><t:RequestServerVersion Version="Exchange2010_SP2"/></soap:Header>"#,
            r#"<soap:Body><m:CreateItem MessageDisposition="SendAndSaveCopy">"#,
            r#"<m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId>"#,
            r#"<m:Items><t:Message><t:Subject>{subject}</t:Subject>"#,
            r#"<t:Body BodyType="{kind}">{body}</t:Body>{files}{in_reply_to}{to}{cc}{bcc}{from}{reply_to}"#,
            r#"</t:Message></m:Items></m:CreateItem></soap:Body></soap:Envelope>"#
        ),
        subject = esc(&mail.subject),
        kind = kind,
        body = esc(body),
        files = files,
        in_reply_to = in_reply_to,
        to = recipients("ToRecipients", "to", &mail.to)?,
        cc = recipients("CcRecipients", "cc", &mail.cc)?,
        bcc = recipients("BccRecipients", "bcc", &mail.bcc)?,
        from = from,
        reply_to = reply_to,
    ))
}

/// The text of the first `<prefix:name>…</prefix:name>` element, whatever its prefix.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = xml[from..].find('<') {
        let start = from + i + 1;
        let end = start + xml[start..].find('>')?;
        let tag = &xml[start..end];
        let tag_name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default();
        if tag_name.rsplit(':').next() == Some(name) {
            if tag.ends_with('/') {
                return Some("");
            }
            let body = end + 1;
            let close = body + xml[body..].find("</")?;
            return Some(&xml[body..close]);
        }
        from = end + 1;
    }
    None
}

/// Whether EWS sent the message: a SOAP fault or an `Error` response class is a failure with
/// the server's text.
fn outcome(status: u16, xml: &str) -> Result<(), PortError> {
    if let Some(fault) = element(xml, "faultstring") {
        return Err(ews_error(fault.trim()));
    }
    if xml.contains(r#"ResponseClass="Error""#) {
        let code = element(xml, "ResponseCode").unwrap_or("Error");
        let text = element(xml, "MessageText").unwrap_or_default();
        return Err(ews_error(format!("{code}: {}", text.trim())));
    }
    if (200..300).contains(&status) && xml.contains(r#"ResponseClass="Success""#) {
        return Ok(());
    }
    let excerpt: String = xml.chars().take(200).collect();
    Err(ews_error(format!("HTTP {status}: {excerpt}")))
}

#[cfg(test)]
mod tests {
    use kartoteka_engine::MailServer;

    use super::*;

    fn mail() -> Mail {
        Mail {
            server: MailServer::SmtpUrl(String::new()),
            from: "Робот <robot@corp.test>".into(),
            reply_to: Some("help@corp.test".into()),
            in_reply_to: None,
            to: vec!["a@corp.test".into(), "Бухгалтерия <b@corp.test>".into()],
            cc: vec![],
            bcc: vec!["c@corp.test".into()],
            subject: "Счёт <1> & акт".into(),
            text: None,
            html: Some("<p>Hi</p>".into()),
            attachments: vec![],
        }
    }

    #[test]
    fn endpoints_from_a_server_url() {
        assert_eq!(
            endpoint("https://mail.corp.test/"),
            "https://mail.corp.test/EWS/Exchange.asmx"
        );
        assert_eq!(
            endpoint("https://mail.corp.test/ews/exchange.asmx"),
            "https://mail.corp.test/ews/exchange.asmx"
        );
    }

    #[test]
    fn the_envelope_escapes_and_keeps_the_schema_order() {
        let x = envelope(&mail(), &[("акт.pdf".into(), b"%PDF".to_vec())]).expect("envelope");
        assert!(
            x.contains("<t:Subject>Счёт &lt;1&gt; &amp; акт</t:Subject>"),
            "{x}"
        );
        assert!(x.contains(r#"<t:Body BodyType="HTML">&lt;p&gt;Hi&lt;/p&gt;</t:Body>"#));
        assert!(x.contains("<t:Name>акт.pdf</t:Name><t:Content>JVBERg==</t:Content>"));
        assert!(x.contains("<t:Mailbox><t:Name>Бухгалтерия</t:Name><t:EmailAddress>b@corp.test</t:EmailAddress></t:Mailbox>"));
        let order = [
            "<t:Subject>",
            "<t:Body ",
            "<t:Attachments>",
            "<t:ToRecipients>",
            "<t:BccRecipients>",
            "<t:From>",
            "<t:ReplyTo>",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|e| x.find(e).unwrap_or_else(|| panic!("{e} in {x}")))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{x}");
        assert!(!x.contains("CcRecipients"), "no empty lists");
        let mut bad = mail();
        bad.to = vec!["not an address".into()];
        assert_eq!(envelope(&bad, &[]).expect_err("bad").code, "VALIDATION");
    }

    #[test]
    fn answers_faults_and_errors() {
        let ok = r#"<s:Envelope><s:Body><m:CreateItemResponse><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;
        assert!(outcome(200, ok).is_ok());
        let err = r#"<m:CreateItemResponseMessage ResponseClass="Error"><m:MessageText>The recipient is not valid.</m:MessageText><m:ResponseCode>ErrorInvalidRecipients</m:ResponseCode></m:CreateItemResponseMessage>"#;
        let e = outcome(200, err).expect_err("error");
        assert_eq!(e.code, "SMTP");
        assert_eq!(
            e.message,
            "Exchange: ErrorInvalidRecipients: The recipient is not valid."
        );
        let fault = r#"<s:Fault><faultcode>a:ErrorSchemaValidation</faultcode><faultstring xml:lang="en-US">The request failed schema validation.</faultstring></s:Fault>"#;
        assert_eq!(
            outcome(500, fault).expect_err("fault").message,
            "Exchange: The request failed schema validation."
        );
        assert!(outcome(404, "<html>Not Found</html>").is_err());
    }

    #[test]
    fn domain_logins_split() {
        let c = credentials(r"CORP\ivanov", "pw");
        assert_eq!((c.domain.as_str(), c.username.as_str()), ("CORP", "ivanov"));
        let c = credentials("ivanov@corp.test", "pw");
        assert_eq!(
            (c.domain.as_str(), c.username.as_str()),
            ("", "ivanov@corp.test")
        );
    }
}
