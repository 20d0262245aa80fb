//! Record chats (spec 01 §12): messages are records of `$messages`, written through the one
//! write path; each employee follows chats and has a read position in each.

use std::sync::Arc;

use kartoteka_model::ids::id_from_json;
use kartoteka_model::privilege::Privilege;
use kartoteka_model::time::{format_ms, now_ms};
use kartoteka_model::ErrorCode;
use kartoteka_store::aux::USERS_CATALOG;
use kartoteka_store::chat;
use kartoteka_store::records::Selector;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::records::{Gate, ReadOptions, RecordInput, RecordView};
use crate::schema::Catalog;
use crate::{Actor, App};

/// A message to post or an edit of one. Absent keys of an edit are unchanged.
#[derive(Debug, Clone, Default)]
pub struct MessageInput {
    pub text: Option<String>,
    /// Mentioned employees, as `[{"id"}]` or bare ids.
    pub mentions: Option<Vec<Value>>,
    /// Files, as in a file field: `[{"id"}]` or `[{"src", "title"}]`.
    pub attachments: Option<Vec<Value>>,
    pub reply_message_id: Option<String>,
}

/// A message in the read format.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: String,
    pub text: String,
    pub author: Value,
    pub attachments: Value,
    pub mention: Value,
    /// `{id, text, author}` of the message replied to.
    pub reply: Value,
    pub created_date: Value,
    pub updated_date: Value,
    pub deleted: bool,
    pub deleted_date: Value,
}

fn first(v: Option<&Value>) -> Value {
    v.and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(Value::Null)
}

fn mention_links(list: &[Value]) -> Result<Value> {
    let mut out = Vec::with_capacity(list.len());
    for m in list {
        let id = match m {
            Value::Object(o) => o
                .get("id")
                .or_else(|| o.get("recordId"))
                .and_then(id_from_json),
            v => id_from_json(v),
        }
        .ok_or_else(|| {
            Error::field(
                ErrorCode::InvalidValue,
                "mentions",
                "mentions are employee ids",
            )
        })?;
        out.push(json!({"catalogId": "$users", "recordId": id}));
    }
    Ok(Value::Array(out))
}

impl App {
    fn messages_catalog(&self) -> Result<Arc<Catalog>> {
        let schema = self.schema();
        schema.catalog("$messages").cloned()
    }

    /// The record a chat belongs to, checked: `(catalog, record dbId)`.
    async fn chat_record(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
    ) -> Result<(Arc<Catalog>, i64)> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        self.require_on_catalog(actor, &catalog, Privilege::Available)
            .await?;
        let rec = self.find_record(&catalog, record_ref).await?;
        // A record's chat is read and written by whoever may see the record (spec 04
        // §1.7, recommended).
        self.require_record(actor, &catalog, rec, Privilege::View)
            .await?;
        Ok((catalog, rec))
    }

    async fn chat_views(&self, catalog: &Catalog, record: i64) -> Result<Vec<RecordView>> {
        let (c, r) = (catalog.db_id, record);
        let ids = self
            .store
            .read(move |conn| chat::message_ids(conn, c, r).map_err(Error::from))
            .await?;
        let messages = self.messages_catalog()?;
        Ok(self
            .read_records(
                &Actor::System,
                &messages,
                Selector::Ids(ids),
                &ReadOptions::default(),
                false,
            )
            .await?
            .records)
    }

    fn render_message(&self, v: &RecordView, all: &[RecordView]) -> Message {
        let schema = self.schema();
        let deleted = v.values.get("$deleted") == Some(&Value::Bool(true));
        let mut author = first(v.values.get("$author"));
        if let Some(o) = author.as_object_mut() {
            let section = schema
                .catalog_by_db_id(USERS_CATALOG)
                .and_then(|c| schema.section_by_db_id(c.section_db_id))
                .map(|s| s.db_id);
            let rec = o
                .get("recordId")
                .and_then(Value::as_str)
                .and_then(|r| r.parse::<i64>().ok());
            o.insert("sectionDbId".into(), json!(section));
            o.insert("catalogDbId".into(), json!(USERS_CATALOG));
            o.insert("recordDbId".into(), json!(rec));
        }
        let text = |m: &RecordView| -> String {
            if m.values.get("$deleted") == Some(&Value::Bool(true)) {
                String::new()
            } else {
                m.values
                    .get("$text")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            }
        };
        let reply = first(v.values.get("$reply"))
            .get("recordId")
            .and_then(Value::as_str)
            .and_then(|id| all.iter().find(|m| m.id == id))
            .map(|m| json!({"id": m.id, "text": text(m), "author": first(m.values.get("$author"))}))
            .unwrap_or(Value::Null);
        let date = |k: &str| v.values.get(k).cloned().unwrap_or(Value::Null);
        Message {
            id: v.id.clone(),
            text: text(v),
            author,
            attachments: v.values.get("$attachments").cloned().unwrap_or(json!([])),
            mention: v.values.get("$mention").cloned().unwrap_or(json!([])),
            reply,
            created_date: date("$createdDate"),
            updated_date: date("$updatedDate"),
            deleted,
            deleted_date: date("$deletedDate"),
        }
    }

    /// A record's chat, oldest first; reading it moves the caller's read position.
    pub async fn list_messages(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
    ) -> Result<Vec<Message>> {
        let (catalog, rec) = self.chat_record(actor, catalog_ref, record_ref).await?;
        let views = self.chat_views(&catalog, rec).await?;
        if let (Some(user), Some(last)) = (
            actor.user_db_id(),
            views.last().and_then(|v| v.id.parse::<i64>().ok()),
        ) {
            let c = catalog.db_id;
            self.store
                .write(move |conn| {
                    chat::set_state(conn, user, c, rec, None, Some(last)).map_err(Error::from)
                })
                .await?;
        }
        Ok(views
            .iter()
            .map(|v| self.render_message(v, &views))
            .collect())
    }

    fn message_values(
        &self,
        input: &MessageInput,
        all: &[RecordView],
    ) -> Result<Map<String, Value>> {
        let mut values = Map::new();
        if let Some(t) = &input.text {
            values.insert("$text".into(), Value::String(t.clone()));
        }
        if let Some(m) = &input.mentions {
            values.insert("$mention".into(), mention_links(m)?);
        }
        if let Some(a) = &input.attachments {
            values.insert("$attachments".into(), Value::Array(a.clone()));
        }
        if let Some(r) = &input.reply_message_id {
            if !all.iter().any(|m| m.id == *r) {
                return Err(Error::field(
                    ErrorCode::InvalidValue,
                    "replyMessageId",
                    format!("message {r:?} is not in this chat"),
                ));
            }
            values.insert(
                "$reply".into(),
                json!([{"catalogId": "$messages", "recordId": r}]),
            );
        }
        Ok(values)
    }

    /// Posts a message to a record's chat; the author follows the chat from then on.
    pub async fn post_message(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        input: MessageInput,
    ) -> Result<Message> {
        let (catalog, rec) = self.chat_record(actor, catalog_ref, record_ref).await?;
        let has_files = input.attachments.as_ref().is_some_and(|a| !a.is_empty());
        if input.text.as_deref().is_none_or(|t| t.trim().is_empty()) && !has_files {
            return Err(Error::field(
                ErrorCode::RequiredField,
                "text",
                "a message needs text or attachments",
            ));
        }
        let before = self.chat_views(&catalog, rec).await?;
        let mut values = self.message_values(&input, &before)?;
        values.insert("$catalogDbId".into(), json!(catalog.db_id));
        values.insert("$recordDbId".into(), json!(rec));
        values.insert("$createdDate".into(), Value::String(format_ms(now_ms())));
        if let Some(u) = actor.user_db_id() {
            values.insert(
                "$author".into(),
                json!([{"catalogId": "$users", "recordId": u.to_string()}]),
            );
        }
        let created = self
            .create_record_as(
                actor,
                "$messages",
                RecordInput {
                    values,
                    ..Default::default()
                },
                // The chat's rule (record ≥ view) was checked above.
                Gate::Checked,
            )
            .await?;
        if let (Some(user), Ok(id)) = (actor.user_db_id(), created.id.parse::<i64>()) {
            let c = catalog.db_id;
            self.store
                .write(move |conn| {
                    chat::set_state(conn, user, c, rec, Some(true), Some(id)).map_err(Error::from)
                })
                .await?;
        }
        let all = self.chat_views(&catalog, rec).await?;
        let view = all.iter().find(|m| m.id == created.id).unwrap_or(&created);
        Ok(self.render_message(view, &all))
    }

    /// The message of this chat, checked to be the caller's own.
    async fn own_message(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        message_id: &str,
    ) -> Result<(Arc<Catalog>, i64, Vec<RecordView>)> {
        let (catalog, rec) = self.chat_record(actor, catalog_ref, record_ref).await?;
        let all = self.chat_views(&catalog, rec).await?;
        let m = all.iter().find(|m| m.id == message_id).ok_or_else(|| {
            Error::new(
                ErrorCode::NotFound,
                format!("message {message_id:?} not found in this chat"),
            )
        })?;
        let author = first(m.values.get("$author"))
            .get("recordId")
            .and_then(Value::as_str)
            .map(str::to_string);
        if actor.user_db_id().map(|u| u.to_string()) != author && *actor != Actor::System {
            return Err(Error::new(
                ErrorCode::Forbidden,
                "only the author may change a message",
            ));
        }
        Ok((catalog, rec, all))
    }

    /// Edits one's own message.
    pub async fn update_message(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        message_id: &str,
        input: MessageInput,
    ) -> Result<Message> {
        let (catalog, rec, all) = self
            .own_message(actor, catalog_ref, record_ref, message_id)
            .await?;
        let mut values = self.message_values(&input, &all)?;
        values.insert("$updatedDate".into(), Value::String(format_ms(now_ms())));
        self.update_record_as(
            actor,
            "$messages",
            message_id,
            RecordInput {
                values,
                ..Default::default()
            },
            // Only the author changes a message; checked by `own_message`.
            Gate::Checked,
        )
        .await?;
        let all = self.chat_views(&catalog, rec).await?;
        let view = all
            .iter()
            .find(|m| m.id == message_id)
            .ok_or_else(|| Error::new(ErrorCode::NotFound, "message not found"))?;
        Ok(self.render_message(view, &all))
    }

    /// Deletes one's own message softly: it stays in the chat, marked deleted, without text.
    pub async fn delete_message(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        message_id: &str,
    ) -> Result<()> {
        self.own_message(actor, catalog_ref, record_ref, message_id)
            .await?;
        let values = json!({"$deleted": true, "$deletedDate": format_ms(now_ms())});
        let values = values.as_object().cloned().unwrap_or_default();
        self.update_record_as(
            actor,
            "$messages",
            message_id,
            RecordInput {
                values,
                ..Default::default()
            },
            // Only the author changes a message; checked by `own_message`.
            Gate::Checked,
        )
        .await?;
        Ok(())
    }

    /// Follows or leaves a record's chat.
    pub async fn chat_options(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        subscribe: bool,
    ) -> Result<bool> {
        let (catalog, rec) = self.chat_record(actor, catalog_ref, record_ref).await?;
        let Some(user) = actor.user_db_id() else {
            return Err(Error::unauthorized());
        };
        let c = catalog.db_id;
        self.store
            .write(move |conn| {
                chat::set_state(conn, user, c, rec, Some(subscribe), None).map_err(Error::from)
            })
            .await?;
        Ok(subscribe)
    }

    /// Per catalog `dbId`, the caller's followed record chats with unread messages.
    pub async fn new_chats(&self, actor: &Actor) -> Result<std::collections::HashMap<i64, i64>> {
        let Some(user) = actor.user_db_id() else {
            return Ok(Default::default());
        };
        self.store
            .read(move |c| chat::new_chats(c, user).map_err(Error::from))
            .await
    }
}
