//! The Web request component (spec 03 §7.2.3): the request built from the parameters, the
//! response spread over the slots `output_code`, `output_headers` and `output_body`.

use kartoteka_bpmn::Task;
use serde_json::{Map, Value};

use crate::components::Slots;
use crate::values::{pairs_object, scalar_text, Args};
use crate::{Engine, Failure, HttpRequest, Ports};

const METHODS: &[&str] = &["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"];

/// Text of a header or form value: scalars as JavaScript prints them, objects as JSON.
fn text(v: &Value) -> String {
    scalar_text(v).unwrap_or_else(|| v.to_string())
}

pub(crate) async fn run(
    engine: &Engine,
    _task: &Task,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let method = args
        .text("method")
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(Failure::expression(format!(
            "method: unknown HTTP method {method:?}"
        )));
    }
    let url = args
        .text("query")
        .ok_or_else(|| Failure::expression("query (the URL) is required"))?;
    let mut headers: Vec<(String, String)> = args
        .pairs("headers")
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, text(&v))))
        .collect();
    let has = |headers: &[(String, String)], name: &str| {
        headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    };

    let mut body = None;
    if matches!(method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE") {
        let (bytes, content_type) = if args.text("format").as_deref() == Some("keyvalue")
            || (args.text("format").is_none() && !args.pairs("params").is_empty())
        {
            let form = pairs_object(&args.pairs("params"));
            let encoded: Vec<String> = form
                .iter()
                .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(&text(v))))
                .collect();
            (
                Some(encoded.join("&").into_bytes()),
                "application/x-www-form-urlencoded".to_owned(),
            )
        } else {
            let declared = args.text("type");
            match args.value("body") {
                None => (None, declared.unwrap_or_default()),
                Some(Value::String(s)) => (
                    Some(s.into_bytes()),
                    declared.unwrap_or_else(|| "text/plain".to_owned()),
                ),
                // Objects, arrays, numbers and booleans are sent as JSON.
                Some(v) => (
                    Some(v.to_string().into_bytes()),
                    declared.unwrap_or_else(|| "application/json".to_owned()),
                ),
            }
        };
        if bytes.is_some() && !content_type.is_empty() && !has(&headers, "content-type") {
            headers.push(("Content-Type".to_owned(), content_type));
        }
        body = bytes;
    }

    match args.text("auth").as_deref() {
        None | Some("noauth") => {}
        Some("basic") => {
            if !has(&headers, "authorization") {
                let login = args.text("login").unwrap_or_default();
                let password = args.text("password").unwrap_or_default();
                let token = base64(format!("{login}:{password}").as_bytes());
                headers.push(("Authorization".to_owned(), format!("Basic {token}")));
            }
        }
        Some("oauth2") => {
            if !has(&headers, "authorization") {
                let service = args
                    .value("token")
                    .as_ref()
                    .and_then(crate::auth::reference)
                    .ok_or_else(|| {
                        Failure::new(
                            "VALIDATION",
                            "token: OAuth 2.0 needs a record of $authServices",
                        )
                    })?;
                let token = crate::auth::bearer(engine, ports, &service).await?;
                headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
            }
        }
        Some(other) => {
            return Err(Failure::internal(format!(
                "web request authorisation {other:?} is not supported"
            )))
        }
    }

    let timeout = engine.settings().web_timeout;
    let request = HttpRequest {
        method,
        url,
        headers,
        body,
        timeout,
    };
    let call = tokio::time::timeout(timeout, ports.http(request));
    let fire_and_forget = args.text("async").as_deref() == Some("async");
    let response = match call.await {
        Ok(Ok(r)) => r,
        // Without waiting for the answer, its failure is nobody's business.
        Ok(Err(_)) | Err(_) if fire_and_forget => return Ok(Vec::new()),
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => {
            return Err(Failure::new(
                "TIMEOUT",
                format!(
                    "the web request got no answer within {} s",
                    timeout.as_secs_f64()
                ),
            ))
        }
    };
    if fire_and_forget {
        return Ok(Vec::new());
    }

    let content_type = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let is_json = content_type.contains("json");
    let text_body = String::from_utf8_lossy(&response.body).into_owned();
    let wants_json = args.text("output_format").as_deref() == Some("json");
    let body = if is_json || wants_json {
        match serde_json::from_slice::<Value>(&response.body) {
            Ok(v) => v,
            Err(e) if wants_json => {
                return Err(Failure::new(
                    "HTTP",
                    format!("the response body is not JSON: {e}"),
                ))
            }
            Err(_) => Value::String(text_body),
        }
    } else {
        Value::String(text_body)
    };
    Ok(vec![
        ("output_code", Some(Value::from(response.status))),
        (
            "output_headers",
            Some(Value::Object(headers_object(&response.headers))),
        ),
        ("output_body", Some(body)),
    ])
}

/// Response headers as an object keyed by lower-case name; repeated headers are joined with
/// `, `. `set-cookie` headers stay a list under `set-cookie` and are also parsed into
/// `cookies[name] = {value, <attribute>: …}` (attribute names lower case; flags are `true`).
pub(crate) fn headers_object(headers: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    let mut set_cookie = Vec::new();
    let mut cookies = Map::new();
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        if name == "set-cookie" {
            set_cookie.push(Value::String(value.clone()));
            let mut parts = value.split(';');
            let Some((cname, cvalue)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let mut cookie = Map::new();
            cookie.insert("value".to_owned(), Value::String(cvalue.trim().to_owned()));
            for attr in parts {
                let attr = attr.trim();
                if attr.is_empty() {
                    continue;
                }
                match attr.split_once('=') {
                    Some((k, v)) => cookie.insert(
                        k.trim().to_ascii_lowercase(),
                        Value::String(v.trim().to_owned()),
                    ),
                    None => cookie.insert(attr.to_ascii_lowercase(), Value::Bool(true)),
                };
            }
            cookies.insert(cname.trim().to_owned(), Value::Object(cookie));
            continue;
        }
        match out.get_mut(&name) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(value);
            }
            _ => {
                out.insert(name, Value::String(value.clone()));
            }
        }
    }
    if !set_cookie.is_empty() {
        out.insert("set-cookie".to_owned(), Value::Array(set_cookie));
        out.insert("cookies".to_owned(), Value::Object(cookies));
    }
    out
}

/// `application/x-www-form-urlencoded` encoding of one key or value.
pub(crate) fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Standard base64 with padding (for Basic authorisation).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn form_encoding() {
        assert_eq!(url_encode("a b&c=д"), "a+b%26c%3D%D0%B4");
    }
}
