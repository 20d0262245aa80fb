//! Send mail over Exchange (spec 03 §7.4.2): a fake Exchange Web Services endpoint on
//! loopback takes the `CreateItem`, checking the login itself — HTTP Basic, or NTLMv2 worked
//! out here from the password (MD4, HMAC-MD5) and bound to the connection its challenge was
//! given on, as IIS does.

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use md4::{Digest, Md4};
use md5::Md5;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::automation::{call_listener, input, list};
use crate::support::TestApp;

const CHALLENGE: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Md5>::new_from_slice(key).expect("key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// An NTLM CHALLENGE_MESSAGE for domain `CORP`.
fn challenge_message() -> Vec<u8> {
    let name = utf16("CORP");
    let mut info = vec![2, 0];
    info.extend_from_slice(&(name.len() as u16).to_le_bytes());
    info.extend_from_slice(&name);
    info.extend_from_slice(&[0, 0, 0, 0]);
    let mut m = b"NTLMSSP\0".to_vec();
    m.extend_from_slice(&2u32.to_le_bytes());
    let field = |m: &mut Vec<u8>, len: usize, offset: usize| {
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(len as u16).to_le_bytes());
        m.extend_from_slice(&(offset as u32).to_le_bytes());
    };
    field(&mut m, name.len(), 56);
    // Unicode, request target, NTLM, target type domain, target info.
    m.extend_from_slice(&(0x0000_0001u32 | 0x4 | 0x200 | 0x1_0000 | 0x80_0000).to_le_bytes());
    m.extend_from_slice(&CHALLENGE);
    m.extend_from_slice(&[0; 8]);
    field(&mut m, info.len(), 56 + name.len());
    m.extend_from_slice(&[0; 8]);
    m.extend_from_slice(&name);
    m.extend_from_slice(&info);
    m
}

/// A security buffer of an AUTHENTICATE_MESSAGE at `at`.
fn buffer(m: &[u8], at: usize) -> Vec<u8> {
    let len = u16::from_le_bytes([m[at], m[at + 1]]) as usize;
    let off = u32::from_le_bytes([m[at + 4], m[at + 5], m[at + 6], m[at + 7]]) as usize;
    m.get(off..off + len).unwrap_or_default().to_vec()
}

fn utf16_text(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// Whether an AUTHENTICATE_MESSAGE proves `domain\user` knows `password` (NTLMv2).
fn ntlm_v2_ok(m: &[u8], domain: &str, user: &str, password: &str) -> bool {
    let nt = buffer(m, 20);
    let (got_domain, got_user) = (utf16_text(&buffer(m, 28)), utf16_text(&buffer(m, 36)));
    if nt.len() <= 16 || got_domain != domain || !got_user.eq_ignore_ascii_case(user) {
        return false;
    }
    let nt_hash = Md4::digest(utf16(password));
    let key = hmac_md5(&nt_hash, &[&utf16(&(got_user.to_uppercase() + domain))]);
    hmac_md5(&key, &[&CHALLENGE, &nt[16..]]) == nt[..16]
}

const SENT: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><m:CreateItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"><m:ResponseMessages><m:CreateItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items/></m:CreateItemResponseMessage></m:ResponseMessages></m:CreateItemResponse></s:Body></s:Envelope>"#;

/// What the fake server saw: the SOAP bodies it accepted.
#[derive(Default)]
struct Seen {
    sent: Vec<String>,
}

/// A fake EWS endpoint: `ntlm` logins as `CORP\robot`, otherwise Basic as `robot`; the
/// password is `secret`. `GET /files/…` serves an attachment.
async fn fake_ews(ntlm: bool) -> (u16, Arc<Mutex<Seen>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut r = BufReader::new(r);
                let mut challenged = false;
                loop {
                    let mut head = Vec::new();
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push(line.trim_end().to_string());
                    }
                    let header = |name: &str| {
                        head.iter().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                        })
                    };
                    let len: usize = header("content-length")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; len];
                    if r.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let auth = header("authorization").unwrap_or_default();
                    let (status, extra, reply) = if head[0].starts_with("GET /files/") {
                        ("200 OK", String::new(), "hello, attachment".to_string())
                    } else if ntlm {
                        let token = auth
                            .strip_prefix("NTLM ")
                            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
                            .unwrap_or_default();
                        match token.get(8) {
                            Some(1) => {
                                challenged = true;
                                (
                                    "401 Unauthorized",
                                    format!(
                                        "WWW-Authenticate: NTLM {}\r\n",
                                        b64(&challenge_message())
                                    ),
                                    String::new(),
                                )
                            }
                            Some(3)
                                if challenged && ntlm_v2_ok(&token, "CORP", "robot", "secret") =>
                            {
                                log.lock()
                                    .expect("log")
                                    .sent
                                    .push(String::from_utf8_lossy(&body).into_owned());
                                ("200 OK", String::new(), SENT.to_string())
                            }
                            _ => (
                                "401 Unauthorized",
                                "WWW-Authenticate: NTLM\r\n".into(),
                                String::new(),
                            ),
                        }
                    } else if auth == format!("Basic {}", b64(b"robot:secret")) {
                        log.lock()
                            .expect("log")
                            .sent
                            .push(String::from_utf8_lossy(&body).into_owned());
                        ("200 OK", String::new(), SENT.to_string())
                    } else {
                        (
                            "401 Unauthorized",
                            "WWW-Authenticate: Basic realm=\"ews\"\r\n".into(),
                            String::new(),
                        )
                    };
                    let out = format!(
                        "HTTP/1.1 {status}\r\n{extra}Content-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if w.write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, seen)
}

fn exchange_mail(port: u16, login: &str, password: &str, auth: &str) -> (String, String) {
    (
        "sendMail".to_string(),
        [
            list("connectionProtocol", "exchange"),
            input("exchangeHost", &format!("'http://127.0.0.1:{port}'")),
            input("exchangeUsername", &format!("{login:?}")),
            input("exchangePass", &format!("'{password}'")),
            list("exchangeAuth", auth),
            input("from", "'Робот <robot@corp.test>'"),
            input("to", "'ann@corp.test, Бухгалтерия <acc@corp.test>'"),
            input("subject", "'Счёт № ' + 42"),
            list("bodyType", "html"),
            input("body", "'<b>Оплатите</b> & спасибо'"),
            input(
                "attachments",
                &format!("[{{title: 'акт.txt', url: 'http://127.0.0.1:{port}/files/a.txt'}}]"),
            ),
        ]
        .concat(),
    )
}

/// Over NTLM: the negotiate and the authenticated request share one connection, the
/// proof checks out against the password, and the message arrives with its subject,
/// recipients, HTML body and inline attachment. A wrong password fails the process.
#[tokio::test]
async fn send_mail_over_exchange_with_ntlm() {
    let t = TestApp::start().await;
    let (port, seen) = fake_ews(true).await;
    let (status, body) = call_listener(
        &t,
        "ews-ntlm",
        &[exchange_mail(port, r"CORP\robot", "secret", "ntlm")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent = seen.lock().expect("seen").sent.clone();
    assert_eq!(sent.len(), 1);
    let soap = &sent[0];
    assert!(
        soap.contains(r#"<m:CreateItem MessageDisposition="SendAndSaveCopy">"#),
        "{soap}"
    );
    assert!(soap.contains("<t:Subject>Счёт № 42</t:Subject>"), "{soap}");
    assert!(
        soap.contains(
            r#"<t:Body BodyType="HTML">&lt;b&gt;Оплатите&lt;/b&gt; &amp; спасибо</t:Body>"#
        ),
        "{soap}"
    );
    assert!(
        soap.contains("<t:EmailAddress>ann@corp.test</t:EmailAddress>"),
        "{soap}"
    );
    assert!(
        soap.contains("<t:Name>Бухгалтерия</t:Name><t:EmailAddress>acc@corp.test</t:EmailAddress>"),
        "{soap}"
    );
    assert!(
        soap.contains(&format!(
            "<t:Name>акт.txt</t:Name><t:Content>{}</t:Content>",
            b64(b"hello, attachment")
        )),
        "{soap}"
    );

    let (status, body) = call_listener(
        &t,
        "ews-wrong",
        &[exchange_mail(port, r"CORP\robot", "wrong", "ntlm")],
    )
    .await;
    assert_eq!(status, 500, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Exchange: the server refused the login (401)"),
        "{body}"
    );
    assert_eq!(seen.lock().expect("seen").sent.len(), 1);
}

/// Over Basic: the login goes in the header and the message is sent.
#[tokio::test]
async fn send_mail_over_exchange_with_basic_auth() {
    let t = TestApp::start().await;
    let (port, seen) = fake_ews(false).await;
    let (status, body) = call_listener(
        &t,
        "ews-basic",
        &[exchange_mail(port, "robot", "secret", "basic")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sent = seen.lock().expect("seen").sent.clone();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].contains("<t:Subject>Счёт № 42</t:Subject>"));
}
