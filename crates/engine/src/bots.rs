//! AI request (spec 03 §7.2.5) and Telegram (§7.4.4), both JSON over the `http` port: an
//! OpenAI-compatible chat completion, and the Telegram Bot API.

use kartoteka_bpmn::Task;
use serde_json::{json, Map, Value};

use crate::components::{any_text, integer, required, selected, Slots};
use crate::values::{scalar_text, Args};
use crate::{Engine, Failure, HttpRequest, Ports};

pub(crate) fn inputs(task: &Task, names: &mut Vec<&'static str>) {
    if task.connector == "ai" {
        names.extend([
            "service",
            "modelFormat",
            "tokenFormat",
            "token",
            "url",
            "folderFormat",
            "folder",
            "context",
        ]);
        names.push(selected(task, "modelFormat", "model", "modelFromVar"));
        names.extend([
            "prompt",
            "creativity",
            "vocabulary",
            "reasoning",
            "searchContext",
        ]);
        names.extend(["searchDomains", "extra", "output_format"]);
    } else {
        names.extend([
            "connectionType",
            "token",
            "action",
            "chatId",
            "text",
            "parseMode",
        ]);
        names.extend([
            "attachments",
            "attachmentMode",
            "replyTo",
            "sendAt",
            "silent",
        ]);
        names.extend([
            "buttons",
            "latitude",
            "longitude",
            "phone",
            "firstName",
            "lastName",
        ]);
        names.extend(["fromChatId", "messageId"]);
    }
}

/// POSTs JSON within the web timeout; answers the status and the body parsed as JSON
/// (`null` when it is not JSON).
async fn post_json(
    engine: &Engine,
    ports: &dyn Ports,
    url: String,
    mut headers: Vec<(String, String)>,
    body: &Value,
) -> Result<(u16, Value, String), Failure> {
    headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    let timeout = engine.settings().web_timeout;
    let req = HttpRequest {
        method: "POST".to_owned(),
        url,
        headers,
        body: Some(body.to_string().into_bytes()),
        timeout,
    };
    let resp = tokio::time::timeout(timeout, ports.http(req))
        .await
        .map_err(|_| {
            Failure::new(
                "TIMEOUT",
                format!("no answer within {} s", timeout.as_secs_f64()),
            )
        })??;
    let text = String::from_utf8_lossy(&resp.body).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok((resp.status, json, text))
}

fn excerpt(s: &str) -> String {
    let mut e: String = s.chars().take(300).collect();
    if e.len() < s.len() {
        e.push('…');
    }
    e
}

/// The public chat-completions endpoint of a service, by its name as the editor shows it.
fn endpoint(service: &str) -> Option<&'static str> {
    let s: String = service
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    Some(if s.contains("deepseek") {
        "https://api.deepseek.com/chat/completions"
    } else if s.contains("grok") {
        "https://api.x.ai/v1/chat/completions"
    } else if s.contains("sonar") || s.contains("perplexity") {
        "https://api.perplexity.ai/chat/completions"
    } else if s.contains("yandex") {
        "https://llm.api.cloud.yandex.net/v1/chat/completions"
    } else if s.contains("chatgpt") || s.contains("openai") {
        "https://api.openai.com/v1/chat/completions"
    } else {
        return None;
    })
}

/// Whether a `…Format` parameter picks a record of «Доступы к сервисам» («из списка»)
/// rather than a variable: `list`, `authServices` or `catalog`.
fn from_services(args: &Args, name: &str) -> bool {
    matches!(
        args.text(name).as_deref(),
        Some("list" | "authServices" | "catalog")
    )
}

/// The `$authServices` record a parameter names (an id, a `$name` or a link).
fn service_record(args: &Args, name: &str) -> Result<String, Failure> {
    args.value(name)
        .as_ref()
        .and_then(crate::auth::reference)
        .ok_or_else(|| required(name))
}

/// A 0–100 % parameter as a fraction, clamped.
fn percent(args: &Args, name: &str) -> Result<Option<f64>, Failure> {
    Ok(integer(args, name)?.map(|p| p.clamp(0, 100) as f64 / 100.0))
}

pub(crate) async fn ai(engine: &Engine, args: &Args, ports: &dyn Ports) -> Result<Slots, Failure> {
    let s = engine.settings();
    let service = args.text("service").unwrap_or_default();
    let url = match args
        .text("url")
        .or_else(|| s.ai_url.clone())
        .or_else(|| endpoint(&service).map(str::to_owned))
    {
        Some(u) => u,
        None => {
            return Err(Failure::internal(format!(
                "component not supported: ai ({service})"
            )))
        }
    };
    let mut model = args
        .text("model")
        .or_else(|| args.text("modelFromVar"))
        .or_else(|| s.ai_model.clone())
        .ok_or_else(|| required("model"))?;
    let folder = if from_services(args, "folderFormat") {
        let codes = crate::auth::codes(engine, ports, &service_record(args, "folder")?).await?;
        let id = ["folder_id", "folderId", "folder"]
            .iter()
            .find_map(|k| codes.get(*k).and_then(scalar_text))
            .ok_or_else(|| {
                Failure::new(
                    "VALIDATION",
                    "the access codes in $authServices hold no folder_id",
                )
            })?;
        Some(id)
    } else {
        args.text("folder")
    };
    if let Some(f) = &folder {
        if !model.starts_with("gpt://") && service.to_lowercase().contains("yandex") {
            model = format!("gpt://{f}/{model}");
        }
    }
    let prompt = any_text(args, "prompt").ok_or_else(|| required("prompt"))?;
    let mut messages: Vec<Value> = args
        .pairs("context")
        .into_iter()
        .filter_map(|(_, v)| v)
        .map(|v| json!({"role": "system", "content": scalar_text(&v).unwrap_or_else(|| v.to_string())}))
        .collect();
    messages.push(json!({"role": "user", "content": prompt}));
    let mut body = Map::new();
    body.insert("model".into(), Value::String(model));
    body.insert("messages".into(), Value::Array(messages));
    if let Some(t) = percent(args, "creativity")? {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = percent(args, "vocabulary")? {
        body.insert("frequency_penalty".into(), json!(p * 2.0));
    }
    if let Some(r) = args.text("reasoning") {
        body.insert("reasoning_effort".into(), Value::String(r));
    }
    if let Some(c) = args.text("searchContext") {
        body.insert(
            "web_search_options".into(),
            json!({"search_context_size": c}),
        );
    }
    if let Some(d) = args.value("searchDomains").filter(|v| !v.is_null()) {
        let list = match d {
            Value::Array(a) => a,
            Value::String(s) => s
                .split(',')
                .map(|d| Value::String(d.trim().to_owned()))
                .filter(|d| d.as_str().is_some_and(|s| !s.is_empty()))
                .collect(),
            other => vec![other],
        };
        body.insert("search_domain_filter".into(), Value::Array(list));
    }
    for (k, v) in args.pairs("extra") {
        if let Some(v) = v {
            body.insert(k, v);
        }
    }
    let mut headers = Vec::new();
    let token = if from_services(args, "tokenFormat") {
        Some(crate::auth::bearer(engine, ports, &service_record(args, "token")?).await?)
    } else {
        args.text("token").or_else(|| s.ai_token.clone())
    };
    if let Some(token) = token {
        headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
    }
    if let Some(f) = folder {
        headers.push(("x-folder-id".to_owned(), f));
    }
    let (status, answer, text) =
        post_json(engine, ports, url, headers, &Value::Object(body)).await?;
    if !(200..300).contains(&status) {
        return Err(Failure::new(
            "HTTP",
            format!("the AI service answered {status}: {}", excerpt(&text)),
        ));
    }
    let mode = args
        .text("output_format")
        .unwrap_or_else(|| "text".to_owned());
    if mode == "all" {
        return Ok(vec![("output", Some(answer))]);
    }
    let content = answer
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Failure::new(
                "HTTP",
                format!("the AI service answered no message: {}", excerpt(&text)),
            )
        })?;
    let out = if mode == "json" {
        let t = content.trim();
        let t = t
            .strip_prefix("```json")
            .or_else(|| t.strip_prefix("```"))
            .and_then(|t| t.strip_suffix("```"))
            .unwrap_or(t);
        serde_json::from_str(t.trim())
            .map_err(|e| Failure::expression(format!("the AI answer is not JSON: {e}")))?
    } else {
        Value::String(content.to_owned())
    };
    Ok(vec![("output", Some(out))])
}

fn chat_id(v: &Value) -> Value {
    match v {
        Value::String(s) => match s.trim().parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(s.trim().to_owned()),
        },
        other => other.clone(),
    }
}

pub(crate) async fn telegram(
    engine: &Engine,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    if args.text("connectionType").as_deref() == Some("user") {
        return Err(Failure::internal(
            "component not supported: telegram (user)",
        ));
    }
    if args.value("sendAt").is_some_and(|v| !v.is_null()) {
        return Err(Failure::internal(
            "component not supported: telegram (sending later needs user mode)",
        ));
    }
    let token = args.text("token").ok_or_else(|| required("token"))?;
    let action = args
        .text("action")
        .unwrap_or_else(|| "sendMessage".to_owned());
    let chat = || {
        args.value("chatId")
            .filter(|v| !v.is_null())
            .map(|v| chat_id(&v))
            .ok_or_else(|| required("chatId"))
    };
    let message_id = || integer(args, "messageId")?.ok_or_else(|| required("messageId"));
    let mut common = Map::new();
    if let Some(p) = args.text("parseMode") {
        let mode = match p.to_lowercase().as_str() {
            "html" => "HTML",
            "markdownv2" => "MarkdownV2",
            _ => "Markdown",
        };
        common.insert("parse_mode".into(), Value::String(mode.to_owned()));
    }
    if matches!(args.text("silent").as_deref(), Some("yes" | "true")) {
        common.insert("disable_notification".into(), Value::Bool(true));
    }
    if let Some(r) = integer(args, "replyTo")? {
        common.insert("reply_parameters".into(), json!({"message_id": r}));
    }
    if let Some(b) = args.value("buttons").filter(|v| !v.is_null()) {
        let markup = match b {
            Value::Object(mut o) => {
                // The editor's `resize` is the Bot API's `resize_keyboard`.
                if let Some(r) = o.remove("resize") {
                    o.insert("resize_keyboard".into(), r);
                }
                Value::Object(o)
            }
            other => other,
        };
        common.insert("reply_markup".into(), markup);
    }
    let mut calls: Vec<(String, Value)> = Vec::new();
    let with = |mut m: Map<String, Value>, extra: &Map<String, Value>| {
        for (k, v) in extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    };
    match action.as_str() {
        "sendMessage" | "message" => {
            let chat = chat()?;
            if let Some(text) = any_text(args, "text") {
                let mut m = Map::new();
                m.insert("chat_id".into(), chat.clone());
                m.insert("text".into(), Value::String(text));
                calls.push(("sendMessage".into(), with(m, &common)));
            }
            let documents = args.text("attachmentMode").as_deref() == Some("documents");
            for a in crate::mail::attachments(args.value("attachments"))? {
                let ext = a
                    .title
                    .rsplit('.')
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                let (method, field) = match ext.as_str() {
                    _ if documents => ("sendDocument", "document"),
                    "jpg" | "jpeg" | "png" | "webp" | "gif" => ("sendPhoto", "photo"),
                    "mp4" | "mov" => ("sendVideo", "video"),
                    "mp3" | "ogg" | "m4a" => ("sendAudio", "audio"),
                    _ => ("sendDocument", "document"),
                };
                let mut m = Map::new();
                m.insert("chat_id".into(), chat.clone());
                m.insert(field.into(), Value::String(a.file));
                m.insert("caption".into(), Value::String(a.title));
                calls.push((method.into(), Value::Object(m)));
            }
            if calls.is_empty() {
                return Err(required("text"));
            }
        }
        "sendLocation" | "location" => {
            let num = |n: &str| -> Result<Value, Failure> {
                let v = args.value(n).ok_or_else(|| required(n))?;
                let f = match &v {
                    Value::Number(x) => x.as_f64(),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                f.map(|f| json!(f))
                    .ok_or_else(|| Failure::expression(format!("{n} must be a number, not {v}")))
            };
            let m = json!({"chat_id": chat()?, "latitude": num("latitude")?, "longitude": num("longitude")?});
            calls.push(("sendLocation".into(), m));
        }
        "sendContact" | "contact" => {
            let mut m = Map::new();
            m.insert("chat_id".into(), chat()?);
            m.insert(
                "phone_number".into(),
                Value::String(args.text("phone").ok_or_else(|| required("phone"))?),
            );
            m.insert(
                "first_name".into(),
                Value::String(
                    args.text("firstName")
                        .ok_or_else(|| required("firstName"))?,
                ),
            );
            if let Some(l) = args.text("lastName") {
                m.insert("last_name".into(), Value::String(l));
            }
            calls.push(("sendContact".into(), with(m, &common)));
        }
        "forwardMessage" | "forward" => {
            let from = args
                .value("fromChatId")
                .filter(|v| !v.is_null())
                .ok_or_else(|| required("fromChatId"))?;
            let m = json!({"chat_id": chat()?, "from_chat_id": chat_id(&from), "message_id": message_id()?});
            calls.push(("forwardMessage".into(), m));
        }
        "editMessage" | "editMessageText" | "edit" => {
            let mut m = Map::new();
            m.insert("chat_id".into(), chat()?);
            m.insert("message_id".into(), Value::from(message_id()?));
            m.insert(
                "text".into(),
                Value::String(any_text(args, "text").ok_or_else(|| required("text"))?),
            );
            common.remove("reply_parameters");
            common.remove("disable_notification");
            calls.push(("editMessageText".into(), with(m, &common)));
        }
        "deleteMessage" | "delete" => {
            let m = json!({"chat_id": chat()?, "message_id": message_id()?});
            calls.push(("deleteMessage".into(), m));
        }
        "getProfile" | "getMe" | "profile" => calls.push(("getMe".into(), json!({}))),
        other => {
            return Err(Failure::internal(format!(
                "component not supported: telegram ({other})"
            )))
        }
    }
    let base = engine
        .settings()
        .telegram_api
        .trim_end_matches('/')
        .to_owned();
    let mut first = None;
    for (method, body) in calls {
        let url = format!("{base}/bot{token}/{method}");
        let (status, answer, text) = post_json(engine, ports, url, Vec::new(), &body).await?;
        if answer.get("ok") != Some(&Value::Bool(true)) {
            let why = answer
                .get("description")
                .and_then(Value::as_str)
                .map_or_else(|| excerpt(&text), str::to_owned);
            return Err(Failure::new(
                "HTTP",
                format!("Telegram {method} answered {status}: {why}"),
            ));
        }
        if first.is_none() {
            first = answer.get("result").cloned();
        }
    }
    Ok(vec![("output", first)])
}
