//! Records: the one write path (parse → rights → defaults → required → before-hooks →
//! transaction {resolve references, write, title, history} → after-event) and the read path
//! (fetch → lookups → render).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kartoteka_model::field::{DefaultCtx, ParseCtx};
use kartoteka_model::ids::{as_db_id, valid_custom_id};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::time::{format_ms, now_ms};
use kartoteka_model::value::{FieldValue, FileRef, LinkRef};
use kartoteka_model::{ErrorCode, FieldDef};
use kartoteka_store::aux::{self, FileRow, USERS_CATALOG};
use kartoteka_store::chat;
use kartoteka_store::query::{self as rq, RecordQuery};
use kartoteka_store::records::{self as rec, RecordData, Selector};
use kartoteka_store::registry;
use kartoteka_store::Conn;
use serde_json::{Map, Value};

use crate::auth::{hash_password, MIN_PASSWORD};
use crate::error::{Error, Result};
use crate::events::{self, AfterEvent, AfterWanted, BeforeEvent, RecordAction};
use crate::query::{nested_fields, nested_plans, nested_targets, NestedFields, NestedPlan};
use crate::render::{self, keyed_values, render_history_value, render_value, title_of, Lookups};
use crate::rights::{self, Access, FieldRight};
use crate::schema::{Catalog, Schema};
use crate::webhooks::requests::Ask;
use crate::webhooks::{self, Change, HookEvent, WEBHOOKS_CATALOG};
use crate::{Actor, App};

/// The write-only password field of `$users`.
const PASSWORD_KEY: &str = "$password";
/// Page size when none is given, and the most one page may hold.
pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;
/// Record ids one list request may name (`id=…&id=…`); each is an SQL parameter.
pub const MAX_IDS: usize = 10_000;

/// A create or update request.
#[derive(Debug, Clone, Default)]
pub struct RecordInput {
    /// Values keyed by field id or `prevId`.
    pub values: Map<String, Value>,
    /// A custom public id for a new record.
    pub id: Option<String>,
    /// The client's zone, minutes east of UTC.
    pub tz_offset_min: i32,
}

/// A Changes call: the field(s) just changed in a card, and the card's values.
#[derive(Debug, Clone, Default)]
pub struct ChangesInput {
    pub record_id: Option<String>,
    pub values: Map<String, Value>,
    pub all_values: Map<String, Value>,
    /// 0 for an employee's edit, +1 per change the client applies from a previous answer.
    pub depth: u32,
    pub tz_offset_min: i32,
}

/// What the card should show: messages, and values to apply (read format).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangesOutput {
    pub messages: Vec<webhooks::requests::HookMessage>,
    pub values: Map<String, Value>,
}

/// Chained Changes calls stop here (spec 03 §3.1 guard).
pub const MAX_CHANGES_DEPTH: u32 = 10;

/// How to render records.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Field ids (or prevIds) to include; `None` = all.
    pub fields: Option<Vec<String>>,
    /// Omit the duplicated `prevId` keys.
    pub skip_prev_id: bool,
    /// Fields of linked records to add to link items as `recordValues` (spec 01 §6.2).
    pub nested: Vec<NestedFields>,
    /// `withFieldsAdditional`: add the extended fields of every object field's linked
    /// records as `recordValues` (spec 01 §6.3).
    pub with_fields_additional: bool,
    /// `total=exact`: count every match for the total, however many (by default the count
    /// stops past [`TOTAL_CAP`]).
    pub exact_total: bool,
}

/// Matches counted for a list's total before it is reported as "more than this": counting
/// every match of a broad filter on a large catalog would cost more than the page itself.
pub const TOTAL_CAP: i64 = 1000;

/// A list request (spec 01 §6.1).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Only these record ids.
    pub ids: Vec<String>,
    /// `filters`, in any of its forms (spec 01 §5).
    pub filters: Option<kartoteka_filter::Input>,
    /// `searchText`: quick search.
    pub search: Option<String>,
    /// `sortField`: a field id or `prevId`.
    pub sort_field: Option<String>,
    /// `sortType=-1`.
    pub descending: bool,
    /// The client's zone, minutes east of UTC (`timezoneOffset`), for date-only bounds.
    pub tz_offset_min: i32,
    /// `viewId`: the view whose filters are ANDed with `filters`.
    pub view_id: Option<String>,
}

/// A record in the read format.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordView {
    pub id: String,
    pub catalog_id: String,
    pub title: String,
    pub privilege: Privilege,
    pub values: Map<String, Value>,
    pub created: String,
    pub chat: ChatInfo,
}

/// Written straight to JSON in the read format, without building a JSON value first (a
/// list of 100 records spends a good part of its time on those values).
impl serde::Serialize for RecordView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Record", 7)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("catalogId", &self.catalog_id)?;
        m.serialize_field("title", &self.title)?;
        m.serialize_field("privilegeCode", self.privilege.code())?;
        m.serialize_field("values", &self.values)?;
        m.serialize_field("chat", &self.chat)?;
        m.serialize_field("created", &self.created)?;
        m.end()
    }
}

/// A record's chat as the caller sees it (`chat` of the record read format).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatInfo {
    /// Messages not deleted.
    pub messages_count: i64,
    /// Unread messages in a chat the caller follows.
    pub new_messages: bool,
    /// The caller follows this chat.
    pub subscribe: bool,
}

impl From<chat::ChatSummary> for ChatInfo {
    fn from(s: chat::ChatSummary) -> Self {
        ChatInfo {
            messages_count: s.count,
            new_messages: s.has_new(),
            subscribe: s.subscribed,
        }
    }
}

/// A page of records and the total number that matched.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<RecordView>,
    pub total: i64,
    /// The count stopped at `total` ([`TOTAL_CAP`]): there are more.
    pub total_capped: bool,
}

/// Who decides that a write may happen. The Records API checks the catalog's privilege and
/// refuses the catalogs that follow another resource; a resource kept as records of a system
/// catalog (views) checks its own rules first and then writes through the same path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// The Records API: the caller's privilege on the catalog, and [`writable`].
    Records,
    /// Checked by the resource that writes.
    Checked,
}

/// A field of a catalog, held by index: cloning it costs an `Arc` increment, not a copy of
/// the field's definition and config.
#[derive(Clone)]
struct FieldRef {
    catalog: Arc<Catalog>,
    index: usize,
}

impl std::ops::Deref for FieldRef {
    type Target = FieldDef;
    fn deref(&self) -> &FieldDef {
        &self.catalog.fields[self.index]
    }
}

fn field_refs(catalog: &Arc<Catalog>) -> impl Iterator<Item = FieldRef> + '_ {
    (0..catalog.fields.len()).map(|index| FieldRef {
        catalog: catalog.clone(),
        index,
    })
}

/// Values parsed from a write, in catalog field order.
type Parsed = Vec<(FieldRef, FieldValue)>;

/// Parses `values` against the catalog's fields. A key may be a field's id or its `prevId`;
/// when both keys of one field are sent, the text id wins (spec 02 §1.4).
fn parse_values(
    catalog: &Arc<Catalog>,
    values: &Map<String, Value>,
    ctx: &ParseCtx,
) -> Result<Parsed> {
    let mut by_field: HashMap<i64, (bool, FieldValue)> = HashMap::new();
    for (key, raw) in values {
        if catalog.db_id == USERS_CATALOG && key == PASSWORD_KEY {
            continue;
        }
        let f = catalog.field(key).ok_or_else(|| {
            Error::field(
                ErrorCode::UnknownField,
                key,
                format!("unknown field {key:?}"),
            )
        })?;
        if f.config.get("formula").is_some_and(|v| !v.is_null()) {
            return Err(Error::field(
                ErrorCode::InvalidValue,
                &f.id,
                "a formula field cannot be written",
            ));
        }
        let canonical = f.id == *key;
        if matches!(by_field.get(&f.db_id), Some((true, _))) && !canonical {
            continue;
        }
        if let Some(v) = f.parse(raw, ctx)? {
            by_field.insert(f.db_id, (canonical, v));
        }
    }
    Ok(field_refs(catalog)
        .filter_map(|f| by_field.remove(&f.db_id).map(|(_, v)| (f, v)))
        .collect())
}

/// Reads and checks the write-only `$password` of a `$users` write.
fn take_password(catalog: &Catalog, values: &Map<String, Value>) -> Result<Option<String>> {
    if catalog.db_id != USERS_CATALOG {
        return Ok(None);
    }
    match values.get(PASSWORD_KEY) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(p)) if p.chars().count() >= MIN_PASSWORD => Ok(Some(p.clone())),
        Some(_) => Err(Error::field(
            ErrorCode::InvalidValue,
            PASSWORD_KEY,
            format!("the password needs at least {MIN_PASSWORD} characters"),
        )),
    }
}

/// Hashes a new password on a blocking thread (argon2 is deliberately slow).
async fn hash_off_thread(password: Option<String>) -> Result<Option<String>> {
    match password {
        Some(p) => tokio::task::spawn_blocking(move || hash_password(&p))
            .await
            .map_err(|e| Error::internal(e.to_string()))?
            .map(Some),
        None => Ok(None),
    }
}

/// Records of `$catalogs` and `$sections` describe the structure itself: they change with
/// the Catalogs and Sections APIs, not through the Records API; records of `$views` are
/// views and change through the Views API, which enforces their ownership.
fn writable(catalog: &Catalog) -> Result<()> {
    if catalog.db_id == crate::views::VIEWS_CATALOG {
        return Err(Error::new(
            ErrorCode::MethodNotAllowed,
            "records of $views are views; change them through /api/v1/catalogs/{catalogId}/views",
        ));
    }
    if catalog.db_id == registry::CATALOGS_CATALOG || catalog.db_id == registry::SECTIONS_CATALOG {
        return Err(Error::new(
            ErrorCode::MethodNotAllowed,
            format!(
                "records of {} follow the structure; change them through /api/v1/{}",
                catalog.id,
                if catalog.db_id == registry::CATALOGS_CATALOG {
                    "catalogs"
                } else {
                    "sections"
                }
            ),
        ));
    }
    Ok(())
}

fn required_error(f: &FieldDef) -> Error {
    Error::field(
        ErrorCode::RequiredField,
        &f.id,
        format!("the field {:?} is required", f.name),
    )
}

/// Replaces public ids of users, linked records and files by `dbId`s, checking that each
/// exists (and that links point into the field's source catalogs). External file links get
/// a file entry. Returns the file ids to attach per field.
fn resolve_refs(
    conn: &mut dyn Conn,
    schema: &Schema,
    actor: &Actor,
    values: &mut Parsed,
) -> Result<Vec<(i64, Vec<i64>)>> {
    let mut attach = Vec::new();
    for (f, v) in values.iter_mut() {
        match v {
            FieldValue::Users(ids) => {
                for id in ids.iter_mut() {
                    let found = rec::find_record(conn, USERS_CATALOG, id)?;
                    let Some(db) = found else {
                        return Err(Error::field(
                            ErrorCode::InvalidValue,
                            &f.id,
                            format!("unknown user {id:?}"),
                        ));
                    };
                    *id = db.to_string();
                }
            }
            FieldValue::Links(links) => {
                let sources: HashSet<i64> = kartoteka_model::field::source_catalogs(&f.config)
                    .iter()
                    .filter_map(|c| schema.find_catalog(c).map(|c| c.db_id))
                    .collect();
                let mut seen = HashSet::new();
                let mut out = Vec::with_capacity(links.len());
                for l in links.iter() {
                    let cat = schema
                        .find_catalog(&l.catalog_id)
                        .filter(|c| sources.contains(&c.db_id))
                        .ok_or_else(|| {
                            Error::field(
                                ErrorCode::InvalidValue,
                                &f.id,
                                format!("catalog {:?} is not a source of this field", l.catalog_id),
                            )
                        })?;
                    let found = if schema.catalog_alive(cat) {
                        rec::find_record(conn, cat.db_id, &l.record_id)?
                    } else {
                        None
                    };
                    let Some(db) = found else {
                        return Err(Error::field(
                            ErrorCode::InvalidValue,
                            &f.id,
                            format!(
                                "record {:?} of catalog {:?} does not exist",
                                l.record_id, l.catalog_id
                            ),
                        ));
                    };
                    if seen.insert((cat.db_id, db)) {
                        out.push(LinkRef {
                            catalog_id: cat.db_id.to_string(),
                            record_id: db.to_string(),
                        });
                    }
                }
                *links = out;
            }
            FieldValue::Files(files) => {
                let mut ids = Vec::with_capacity(files.len());
                for file in files.iter_mut() {
                    let db = match file {
                        FileRef::Id(id) => {
                            let n = as_db_id(id).ok_or_else(|| {
                                Error::field(
                                    ErrorCode::InvalidValue,
                                    &f.id,
                                    format!("unknown file {id:?}"),
                                )
                            })?;
                            let known = aux::files_by_ids(conn, &[n])?;
                            let Some(row) = known.get(&n) else {
                                return Err(Error::field(
                                    ErrorCode::InvalidValue,
                                    &f.id,
                                    format!("unknown file {id:?}"),
                                ));
                            };
                            if row.purged || row.deleted {
                                // Removed with its record, or collected as an old unattached
                                // upload: as if it never existed.
                                return Err(Error::field(
                                    ErrorCode::InvalidValue,
                                    &f.id,
                                    format!("unknown file {id:?}"),
                                ));
                            }
                            if !row.uploaded {
                                return Err(Error::field(
                                    ErrorCode::InvalidValue,
                                    &f.id,
                                    format!("file {id:?} has not been uploaded yet"),
                                ));
                            }
                            if row.field_db_id.is_some_and(|x| x != f.db_id) {
                                return Err(Error::field(
                                    ErrorCode::InvalidValue,
                                    &f.id,
                                    format!("file {id:?} belongs to another field"),
                                ));
                            }
                            n
                        }
                        FileRef::External {
                            src,
                            title,
                            size,
                            mime_type,
                        } => aux::insert_file(
                            conn,
                            &FileRow {
                                db_id: 0,
                                catalog_db_id: None,
                                record_db_id: None,
                                field_db_id: Some(f.db_id),
                                title: title.clone(),
                                size: *size,
                                mime_type: mime_type.clone(),
                                url: Some(src.clone()),
                                storage_key: None,
                                uploaded: true,
                                created_by: actor.user_db_id(),
                                ..FileRow::default()
                            },
                            actor.user_db_id(),
                        )?,
                    };
                    *file = FileRef::Id(db.to_string());
                    if !ids.contains(&db) {
                        ids.push(db);
                    }
                }
                *files = ids.iter().map(|i| FileRef::Id(i.to_string())).collect();
                attach.push((f.db_id, ids));
            }
            _ => {}
        }
    }
    Ok(attach)
}

/// Binds the files of a written value to the record. A file collected as an old unattached
/// upload after `resolve_refs` saw it (another node's collector) fails the write.
fn attach_files(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    record_db_id: i64,
    attach: Vec<(i64, Vec<i64>)>,
) -> Result<()> {
    for (field, ids) in attach {
        let missing = aux::attach_files(conn, &ids, catalog.db_id, record_db_id, field)?;
        if let Some(id) = missing.first() {
            let field_id = catalog
                .field_by_db_id(field)
                .map(|f| f.id.clone())
                .unwrap_or_default();
            return Err(Error::field(
                ErrorCode::InvalidValue,
                &field_id,
                format!("unknown file \"{id}\""),
            ));
        }
    }
    Ok(())
}

/// An employee's e-mail is their login: two employees cannot share one.
fn check_unique_email(
    conn: &mut dyn Conn,
    catalog: &Catalog,
    values: &Parsed,
    except: Option<i64>,
) -> Result<()> {
    if catalog.db_id != USERS_CATALOG {
        return Ok(());
    }
    for (f, v) in values {
        if let (true, FieldValue::Text(email)) = (f.id == "$email", v) {
            if !email.trim().is_empty() && aux::email_taken(conn, email, except)? {
                return Err(Error::field(
                    ErrorCode::NotUnique,
                    &f.id,
                    format!("another employee already has the e-mail {email:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn history_payload(
    schema: &Schema,
    catalog: &Catalog,
    old: &HashMap<i64, FieldValue>,
    new: &Parsed,
) -> (Map<String, Value>, Vec<String>) {
    let mut payload = Map::new();
    let mut changed = Vec::new();
    for (f, v) in new {
        let before = old
            .get(&f.db_id)
            .cloned()
            .or_else(|| f.field_type.empty_value());
        if before.as_ref() == Some(v) {
            continue;
        }
        changed.push(f.id.clone());
        if catalog.history && f.history {
            let old_json = before
                .as_ref()
                .map(|b| render_history_value(schema, b))
                .unwrap_or(Value::Null);
            payload.insert(
                f.id.clone(),
                serde_json::json!({"oldValue": old_json, "newValue": render_history_value(schema, v)}),
            );
        }
    }
    (payload, changed)
}

/// Renders values in read format (no lookups) for before-hooks and events.
fn values_json(schema: &Schema, values: &Parsed) -> Map<String, Value> {
    keyed_values(
        values
            .iter()
            .map(|(f, v)| (&**f, render_history_value(schema, v))),
        false,
    )
}

fn plain_values(values: &HashMap<i64, FieldValue>, catalog: &Arc<Catalog>) -> Parsed {
    field_refs(catalog)
        .filter_map(|f| values.get(&f.db_id).map(|v| (f.clone(), v.clone())))
        .collect()
}

/// A `$webhooks` record needs an absolute http(s) `$url` (spec 02 §4.8).
/// Puts the values a before-hook substituted (field id → value in the write format) into
/// a write, replacing what it had for those fields; `required` is checked again.
fn merge_substituted(
    catalog: &Arc<Catalog>,
    values: &mut Parsed,
    extra: &Map<String, Value>,
    ctx: &ParseCtx,
) -> Result<()> {
    if extra.is_empty() {
        return Ok(());
    }
    for (f, v) in parse_values(catalog, extra, ctx)? {
        match values.iter_mut().find(|(g, _)| g.db_id == f.db_id) {
            Some(slot) => slot.1 = v,
            None => values.push((f, v)),
        }
    }
    values.sort_by_key(|(f, _)| f.index);
    if let Some((f, _)) = values.iter().find(|(f, v)| f.required && v.is_empty()) {
        return Err(required_error(f));
    }
    Ok(())
}

fn check_hook(catalog: &Catalog, values: &Parsed) -> Result<()> {
    if catalog.db_id != WEBHOOKS_CATALOG {
        return Ok(());
    }
    for (f, v) in values {
        if let (true, FieldValue::Text(url)) = (f.id == "$url", v) {
            webhooks::check_url(url.trim())
                .map_err(|m| Error::field(ErrorCode::InvalidValue, &f.id, m))?;
        }
    }
    Ok(())
}

/// Replaces public ids of users and linked records by `dbId`s where they exist, reading
/// only: what a before-request shows of a write that has not happened yet.
fn resolve_for_payload(conn: &mut dyn Conn, schema: &Schema, v: &mut FieldValue) -> Result<()> {
    match v {
        FieldValue::Users(ids) => {
            for id in ids.iter_mut() {
                if let Some(db) = rec::find_record(conn, USERS_CATALOG, id)? {
                    *id = db.to_string();
                }
            }
        }
        FieldValue::Links(links) => {
            for l in links.iter_mut() {
                if let Some(cat) = schema.find_catalog(&l.catalog_id) {
                    if let Some(db) = rec::find_record(conn, cat.db_id, &l.record_id)? {
                        l.catalog_id = cat.db_id.to_string();
                        l.record_id = db.to_string();
                    }
                }
            }
        }
        _ => {}
    }
    Ok(())
}

impl App {
    /// The caller's privilege and field codes on one record (spec 04 §1.6, §1.8).
    async fn record_rights_of(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        db_id: i64,
    ) -> Result<(Privilege, rights::FieldCodes)> {
        let access = self.access(actor).await?;
        Ok(self
            .record_rights(&access, catalog, &[db_id])
            .await?
            .remove(&db_id)
            .unwrap_or((Privilege::Deny, rights::FieldCodes::all_edit())))
    }

    /// The caller's privilege on one record; 403 unless it includes `need`.
    pub(crate) async fn require_record(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        db_id: i64,
        need: Privilege,
    ) -> Result<Privilege> {
        let (have, _) = self.record_rights_of(actor, catalog, db_id).await?;
        rights::require(
            have,
            need,
            &format!("record {db_id} of catalog {:?}", catalog.id),
        )?;
        Ok(have)
    }

    /// The caller's field codes on a record they create: the rules of the catalog, or of
    /// the rights views that let them create when the catalog does not.
    async fn create_field_codes(
        &self,
        actor: &Actor,
        catalog: &Catalog,
    ) -> Result<rights::FieldCodes> {
        let access = self.access(actor).await?;
        let scope = access.record_scope(catalog);
        let via = if access.on_catalog(catalog).includes(Privilege::Create) {
            HashSet::new()
        } else {
            scope.creating_views()
        };
        Ok(scope.field_codes(None, &via))
    }

    /// 403 unless the caller may create records in `catalog` (spec 04 §1.7).
    async fn require_create(&self, actor: &Actor, catalog: &Catalog) -> Result<()> {
        if self.access(actor).await?.may_create(catalog) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::Forbidden,
                format!(
                    "the create privilege is needed on catalog {:?} or one of its rights views",
                    catalog.id
                ),
            ))
        }
    }

    /// 403 unless the caller holds any privilege on `catalog` (the records list then
    /// shows the records they may see).
    async fn require_catalog_reachable(&self, actor: &Actor, catalog: &Catalog) -> Result<Access> {
        let access = self.access(actor).await?;
        rights::require(
            access.on_catalog(catalog),
            Privilege::Available,
            &format!("catalog {:?}", catalog.id),
        )?;
        Ok(access)
    }

    /// Creates a record.
    pub async fn create_record(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: RecordInput,
    ) -> Result<RecordView> {
        self.create_record_as(actor, catalog_ref, input, Gate::Records)
            .await
    }

    pub(crate) async fn create_record_as(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: RecordInput,
        gate: Gate,
    ) -> Result<RecordView> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        if gate == Gate::Records {
            self.require_create(actor, &catalog).await?;
            writable(&catalog)?;
        }
        if let Some(id) = &input.id {
            if !valid_custom_id(id) || as_db_id(id).is_some() {
                return Err(Error::new(
                    ErrorCode::InvalidId,
                    format!("a custom record id must match [A-Za-z0-9_-]{{1,64}} and not be all digits, got {id:?}"),
                ));
            }
        }
        let ctx = ParseCtx {
            tz_offset_min: input.tz_offset_min,
        };
        let password = take_password(&catalog, &input.values)?;
        let mut values = parse_values(&catalog, &input.values, &ctx)?;
        if gate == Gate::Records {
            let written: Vec<i64> = values.iter().map(|(f, _)| f.db_id).collect();
            let codes = self.create_field_codes(actor, &catalog).await?;
            check_writable(&catalog, Privilege::Create, &codes, &written)?;
        }
        // Defaults for absent fields (spec 01 §3.2), then the required check (§4.4).
        let dctx = DefaultCtx {
            now_ms: now_ms(),
            user_id: actor.user_db_id().map(|u| u.to_string()),
        };
        let present: HashSet<i64> = values.iter().map(|(f, _)| f.db_id).collect();
        for f in field_refs(&catalog).filter(|f| !present.contains(&f.db_id)) {
            if let Some(d) = f.default_value(&dctx) {
                values.push((f, d));
            }
        }
        values.sort_by_key(|(f, _)| f.index);
        if let Some((f, _)) = values.iter().find(|(f, v)| f.required && v.is_empty()) {
            return Err(required_error(f));
        }
        check_hook(&catalog, &values)?;
        self.check_scenario_files(&catalog, values.iter().map(|(f, v)| (f.id.as_str(), v)))
            .await?;
        if self
            .events
            .wants_before(catalog.db_id, RecordAction::Created)
        {
            let extra = self
                .events
                .before(&BeforeEvent {
                    action: RecordAction::Created,
                    catalog_id: catalog.id.clone(),
                    catalog_db_id: catalog.db_id,
                    record_id: None,
                    values: values_json(&schema, &values),
                    prev_values: Map::new(),
                    user_db_id: actor.user_db_id(),
                    depth: events::cause_depth(),
                })
                .await?;
            merge_substituted(&catalog, &mut values, &extra, &ctx)?;
        }
        self.ask_before_webhooks(
            HookEvent::BeforeCreated,
            &catalog,
            None,
            &values,
            None,
            actor,
        )
        .await?;
        let password_hash = hash_off_thread(password).await?;
        let hooks = self
            .hook_candidates(&catalog, HookEvent::Created, actor)
            .await?;
        let user = webhooks::user_id(actor);
        let (actor2, schema2, cat2, custom_id) = (
            actor.clone(),
            schema.clone(),
            catalog.clone(),
            input.id.clone(),
        );
        let wanted = self
            .events
            .after_wanted(catalog.db_id, RecordAction::Created);
        let depth = events::cause_depth();
        let (data, after, enqueued) = self
            .store
            .write_in(events::write_lane(), move |c| -> Result<_> {
                let mut values = values;
                check_unique_email(c, &cat2, &values, None)?;
                let attach = resolve_refs(c, &schema2, &actor2, &mut values)?;
                let pairs: Vec<(&FieldDef, &FieldValue)> =
                    values.iter().map(|(f, v)| (&**f, v)).collect();
                let now = format_ms(now_ms());
                let db_id = rec::insert_record(
                    c,
                    cat2.db_id,
                    custom_id.as_deref(),
                    actor2.user_db_id(),
                    &now,
                    &pairs,
                )?;
                attach_files(c, &cat2, db_id, attach)?;
                let public_id = custom_id.clone().unwrap_or_else(|| db_id.to_string());
                let by_id: HashMap<i64, FieldValue> =
                    values.iter().map(|(f, v)| (f.db_id, v.clone())).collect();
                let title = title_of(&cat2, &by_id, &public_id);
                rec::upsert_title(
                    c,
                    cat2.db_id,
                    db_id,
                    Some(&public_id)
                        .filter(|p| **p != db_id.to_string())
                        .map(|s| s.as_str()),
                    &title,
                )?;
                if let Some(h) = &password_hash {
                    aux::set_password_hash(c, db_id, h)?;
                }
                let (payload, changed) = history_payload(&schema2, &cat2, &HashMap::new(), &values);
                if cat2.history {
                    rec::insert_history(
                        c,
                        cat2.db_id,
                        db_id,
                        actor2.user_db_id(),
                        RecordAction::Created.code(),
                        &Value::Object(payload),
                    )?;
                }
                let filled: Vec<i64> = values
                    .iter()
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(f, _)| f.db_id)
                    .collect();
                let enqueued = !hooks.is_empty()
                    && webhooks::enqueue(
                        c,
                        &schema2,
                        &hooks,
                        &Change {
                            event: HookEvent::Created,
                            catalog: &cat2,
                            record_db_id: Some(db_id),
                            public_id: Some(&public_id),
                            title: Some(&title),
                            changed: &filled,
                            before: &HashMap::new(),
                            after: &by_id,
                        },
                        user.as_deref(),
                    )?;
                let after = wanted.build(c, || AfterEvent {
                    action: RecordAction::Created,
                    catalog_id: cat2.id.clone(),
                    catalog_db_id: cat2.db_id,
                    record_id: public_id.clone(),
                    record_db_id: db_id,
                    changed_fields: changed,
                    values: values_json(&schema2, &values),
                    prev_values: Map::new(),
                    user_db_id: actor2.user_db_id(),
                    depth,
                    journal_id: None,
                })?;
                let data = RecordData {
                    db_id,
                    id: custom_id,
                    created_at: now.clone(),
                    updated_at: now,
                    values: by_id,
                };
                Ok((data, after, enqueued))
            })
            .await?;
        self.after_write(&catalog, enqueued);
        if let Some(e) = after {
            self.events.publish(e);
        }
        self.render_written(actor, &catalog, data).await
    }

    /// Renders a record just written from the values the write used: only the titles and
    /// files it references are read.
    async fn render_written(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        data: RecordData,
    ) -> Result<RecordView> {
        let schema = self.schema();
        let (cat, user) = (catalog.db_id, actor.user_db_id());
        let (data, lookups, chats) = self
            .store
            .read(move |c| -> Result<_> {
                let look = Lookups::gather(c, &[&data])?;
                let chats = chat::summaries(c, cat, &[data.db_id], user)?;
                Ok((data, look, chats))
            })
            .await?;
        let access = self.access(actor).await?;
        let privilege = self
            .record_privileges(&access, catalog, &[data.db_id])
            .await?
            .get(&data.db_id)
            .copied()
            .map(shown)
            .unwrap_or(Privilege::Available);
        let mut view = render_record(&schema, catalog, &data, &lookups, None, false, privilege);
        view.chat = chats
            .get(&data.db_id)
            .copied()
            .map(ChatInfo::from)
            .unwrap_or_default();
        Ok(view)
    }

    /// Updates the given fields of a record (PATCH semantics).
    pub async fn update_record(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        input: RecordInput,
    ) -> Result<RecordView> {
        self.update_record_as(actor, catalog_ref, record_ref, input, Gate::Records)
            .await
    }

    pub(crate) async fn update_record_as(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        input: RecordInput,
        gate: Gate,
    ) -> Result<RecordView> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        let db_id = self.find_record(&catalog, record_ref).await?;
        // Seeing the record is the least a write needs; which fields it may change follows
        // once they are known.
        let rights = match gate {
            Gate::Records => {
                let (privilege, codes) = self.record_rights_of(actor, &catalog, db_id).await?;
                rights::require(
                    privilege,
                    Privilege::View,
                    &format!("record {db_id} of catalog {:?}", catalog.id),
                )?;
                writable(&catalog)?;
                Some((privilege, codes))
            }
            Gate::Checked => None,
        };
        let ctx = ParseCtx {
            tz_offset_min: input.tz_offset_min,
        };
        let password = take_password(&catalog, &input.values)?;
        let mut values = parse_values(&catalog, &input.values, &ctx)?;
        if let Some((privilege, codes)) = &rights {
            let mut written: Vec<i64> = values.iter().map(|(f, _)| f.db_id).collect();
            if password.is_some() {
                if let Some(f) = catalog.field("$password") {
                    written.push(f.db_id);
                }
            }
            check_writable(&catalog, *privilege, codes, &written)?;
        }
        if let Some((f, _)) = values.iter().find(|(f, v)| f.required && v.is_empty()) {
            return Err(required_error(f));
        }
        if values.is_empty() && password.is_none() {
            return self
                .get_record_by_db_id(actor, &catalog, db_id, &ReadOptions::default())
                .await;
        }
        check_hook(&catalog, &values)?;
        self.check_scenario_files(&catalog, values.iter().map(|(f, v)| (f.id.as_str(), v)))
            .await?;
        if self
            .events
            .wants_before(catalog.db_id, RecordAction::Updated)
        {
            let prev = self.fetch_plain(&catalog, db_id).await?;
            let extra = self
                .events
                .before(&BeforeEvent {
                    action: RecordAction::Updated,
                    catalog_id: catalog.id.clone(),
                    catalog_db_id: catalog.db_id,
                    record_id: Some(record_ref.to_string()),
                    values: values_json(&schema, &values),
                    prev_values: values_json(&schema, &prev),
                    user_db_id: actor.user_db_id(),
                    depth: events::cause_depth(),
                })
                .await?;
            merge_substituted(&catalog, &mut values, &extra, &ctx)?;
        }
        self.ask_before_webhooks(
            HookEvent::BeforeUpdated,
            &catalog,
            Some(db_id),
            &values,
            None,
            actor,
        )
        .await?;
        let password_hash = hash_off_thread(password).await?;
        let hooks = self
            .hook_candidates(&catalog, HookEvent::Updated, actor)
            .await?;
        let user = webhooks::user_id(actor);
        let (actor2, schema2, cat2) = (actor.clone(), schema.clone(), catalog.clone());
        let has_password = password_hash.is_some();
        let wanted = self
            .events
            .after_wanted(catalog.db_id, RecordAction::Updated);
        let depth = events::cause_depth();
        let (data, after, enqueued) = self
            .store
            .write_in(events::write_lane(), move |c| -> Result<_> {
                let mut values = values;
                let old =
                    rec::fetch_records(c, cat2.db_id, &cat2.fields, &Selector::Ids(vec![db_id]))?;
                let Some(old) = old.into_iter().next() else {
                    return Err(Error::record_not_found(&db_id.to_string()));
                };
                check_unique_email(c, &cat2, &values, Some(db_id))?;
                let attach = resolve_refs(c, &schema2, &actor2, &mut values)?;
                let pairs: Vec<(&FieldDef, &FieldValue)> =
                    values.iter().map(|(f, v)| (&**f, v)).collect();
                rec::update_record(c, cat2.db_id, db_id, &pairs)?;
                attach_files(c, &cat2, db_id, attach)?;
                let public_id = old.public_id();
                let mut merged = old.values.clone();
                for (f, v) in &values {
                    merged.insert(f.db_id, v.clone());
                }
                let title = title_of(&cat2, &merged, &public_id);
                rec::upsert_title(c, cat2.db_id, db_id, old.id.as_deref(), &title)?;
                if let Some(h) = &password_hash {
                    aux::set_password_hash(c, db_id, h)?;
                    aux::delete_sessions_of(c, db_id)?;
                }
                let (payload, changed) = history_payload(&schema2, &cat2, &old.values, &values);
                if cat2.history && !payload.is_empty() {
                    rec::insert_history(
                        c,
                        cat2.db_id,
                        db_id,
                        actor2.user_db_id(),
                        RecordAction::Updated.code(),
                        &Value::Object(payload),
                    )?;
                }
                let changed_ids: Vec<i64> = values
                    .iter()
                    .filter(|(f, _)| changed.contains(&f.id))
                    .map(|(f, _)| f.db_id)
                    .collect();
                let enqueued = !hooks.is_empty()
                    && !changed_ids.is_empty()
                    && webhooks::enqueue(
                        c,
                        &schema2,
                        &hooks,
                        &Change {
                            event: HookEvent::Updated,
                            catalog: &cat2,
                            record_db_id: Some(db_id),
                            public_id: Some(&public_id),
                            title: Some(&title),
                            changed: &changed_ids,
                            before: &old.values,
                            after: &merged,
                        },
                        user.as_deref(),
                    )?;
                // A write that changed nothing is no event.
                let wanted = if changed.is_empty() {
                    AfterWanted::No
                } else {
                    wanted
                };
                let after = wanted.build(c, || AfterEvent {
                    action: RecordAction::Updated,
                    catalog_id: cat2.id.clone(),
                    catalog_db_id: cat2.db_id,
                    record_id: public_id.clone(),
                    record_db_id: db_id,
                    changed_fields: changed,
                    values: values_json(&schema2, &values),
                    prev_values: values_json(&schema2, &plain_values(&old.values, &cat2)),
                    user_db_id: actor2.user_db_id(),
                    depth,
                    journal_id: None,
                })?;
                let data = RecordData {
                    db_id,
                    id: old.id,
                    created_at: old.created_at,
                    updated_at: format_ms(now_ms()),
                    values: merged,
                };
                Ok((data, after, enqueued))
            })
            .await?;
        self.after_write(&catalog, enqueued);
        if has_password {
            self.auth.forget_user(db_id);
        }
        if let Some(e) = after {
            self.events.publish(e);
        }
        self.render_written(actor, &catalog, data).await
    }

    /// Deletes a record for good; links to it elsewhere stay and render `isRemoved`.
    pub async fn delete_record(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
    ) -> Result<()> {
        self.delete_record_as(actor, catalog_ref, record_ref, Gate::Records)
            .await
    }

    pub(crate) async fn delete_record_as(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        gate: Gate,
    ) -> Result<()> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        let db_id = self.find_record(&catalog, record_ref).await?;
        if gate == Gate::Records {
            self.require_record(actor, &catalog, db_id, Privilege::Delete)
                .await?;
            writable(&catalog)?;
        }
        if self
            .events
            .wants_before(catalog.db_id, RecordAction::Deleted)
        {
            let prev = self.fetch_plain(&catalog, db_id).await?;
            // Nothing is written on a delete: values a hook returns are ignored.
            self.events
                .before(&BeforeEvent {
                    action: RecordAction::Deleted,
                    catalog_id: catalog.id.clone(),
                    catalog_db_id: catalog.db_id,
                    record_id: Some(record_ref.to_string()),
                    values: Map::new(),
                    prev_values: values_json(&schema, &prev),
                    user_db_id: actor.user_db_id(),
                    depth: events::cause_depth(),
                })
                .await?;
        }
        self.ask_before_webhooks(
            HookEvent::BeforeDeleted,
            &catalog,
            Some(db_id),
            &Vec::new(),
            None,
            actor,
        )
        .await?;
        let hooks = self
            .hook_candidates(&catalog, HookEvent::Deleted, actor)
            .await?;
        let user = webhooks::user_id(actor);
        let (actor2, cat2, schema2) = (actor.clone(), catalog.clone(), schema.clone());
        let wanted = self
            .events
            .after_wanted(catalog.db_id, RecordAction::Deleted);
        let depth = events::cause_depth();
        let (after, enqueued) = self
            .store
            .write_in(events::write_lane(), move |c| -> Result<_> {
                let old =
                    rec::fetch_records(c, cat2.db_id, &cat2.fields, &Selector::Ids(vec![db_id]))?;
                let Some(old) = old.into_iter().next() else {
                    return Err(Error::record_not_found(&db_id.to_string()));
                };
                rec::delete_record(c, cat2.db_id, db_id)?;
                rec::mark_title_deleted(c, cat2.db_id, db_id)?;
                // The record's files stay downloadable from its history for a grace period;
                // the file collector removes their bytes after it (`files::gc`).
                aux::mark_record_files_deleted(c, cat2.db_id, db_id)?;
                if cat2.db_id == WEBHOOKS_CATALOG {
                    // A deleted subscription's queue is given up with it.
                    kartoteka_store::outbox::drop_pending_of(c, db_id, now_ms())?;
                }
                if cat2.db_id == USERS_CATALOG {
                    aux::delete_sessions_of(c, db_id)?;
                }
                if cat2.history {
                    rec::insert_history(
                        c,
                        cat2.db_id,
                        db_id,
                        actor2.user_db_id(),
                        RecordAction::Deleted.code(),
                        &Value::Object(Map::new()),
                    )?;
                }
                let public_id = old.public_id();
                let enqueued = !hooks.is_empty()
                    && webhooks::enqueue(
                        c,
                        &schema2,
                        &hooks,
                        &Change {
                            event: HookEvent::Deleted,
                            catalog: &cat2,
                            record_db_id: Some(db_id),
                            public_id: Some(&public_id),
                            title: Some(&title_of(&cat2, &old.values, &public_id)),
                            changed: &[],
                            before: &old.values,
                            after: &old.values,
                        },
                        user.as_deref(),
                    )?;
                let after = wanted.build(c, || AfterEvent {
                    action: RecordAction::Deleted,
                    catalog_id: cat2.id.clone(),
                    catalog_db_id: cat2.db_id,
                    record_id: public_id,
                    record_db_id: db_id,
                    changed_fields: vec![],
                    values: Map::new(),
                    prev_values: values_json(&schema2, &plain_values(&old.values, &cat2)),
                    user_db_id: actor2.user_db_id(),
                    depth,
                    journal_id: None,
                })?;
                Ok((after, enqueued))
            })
            .await?;
        self.after_write(&catalog, enqueued);
        if catalog.db_id == USERS_CATALOG {
            self.auth.forget_user(db_id);
        }
        if let Some(e) = after {
            self.events.publish(e);
        }
        Ok(())
    }

    /// After a commit: wake the webhook dispatcher when deliveries were queued, forget
    /// cached subscriptions when `$webhooks` itself changed, cached right groups when
    /// `$users` did (a new role applies on the next request), and cached rules when a view
    /// (perhaps a rights view) did.
    fn after_write(&self, catalog: &Catalog, enqueued: bool) {
        self.events.note_write(catalog.db_id);
        if enqueued {
            self.deliveries_enqueued();
        }
        match catalog.db_id {
            WEBHOOKS_CATALOG => self.hooks.invalidate(),
            USERS_CATALOG => self.rights.invalidate_subjects(),
            crate::views::VIEWS_CATALOG => self.rights_changed(),
            _ => {}
        }
    }

    /// The payload of a request or an action about `values` written to `record` (or to a
    /// new record), read from the current state; and the fields that change.
    async fn event_payload(
        &self,
        event: HookEvent,
        catalog: &Arc<Catalog>,
        record: Option<i64>,
        values: &Parsed,
        card: Option<&Parsed>,
    ) -> Result<(Map<String, Value>, Vec<i64>)> {
        let schema = self.schema();
        let new: Vec<(i64, FieldValue)> =
            values.iter().map(|(f, v)| (f.db_id, v.clone())).collect();
        let card: Vec<(i64, FieldValue)> = card
            .map(|c| c.iter().map(|(f, v)| (f.db_id, v.clone())).collect())
            .unwrap_or_default();
        let cat = catalog.clone();
        self.store
            .read(move |c| -> Result<_> {
                let (before, public_id) = match record {
                    Some(db) => {
                        let found = rec::fetch_records(
                            c,
                            cat.db_id,
                            &cat.fields,
                            &Selector::Ids(vec![db]),
                        )?;
                        let d = found
                            .into_iter()
                            .next()
                            .ok_or_else(|| Error::record_not_found(&db.to_string()))?;
                        let id = d.public_id();
                        (d.values, Some(id))
                    }
                    None => (HashMap::new(), None),
                };
                let mut after = before.clone();
                for (f, mut v) in card {
                    resolve_for_payload(c, &schema, &mut v)?;
                    after.insert(f, v);
                }
                let mut changed = Vec::new();
                for (f, mut v) in new {
                    resolve_for_payload(c, &schema, &mut v)?;
                    let differs = match event {
                        HookEvent::BeforeUpdated => {
                            let old = before.get(&f).cloned().or_else(|| {
                                cat.fields
                                    .iter()
                                    .find(|x| x.db_id == f)
                                    .and_then(|x| x.field_type.empty_value())
                            });
                            old.as_ref() != Some(&v)
                        }
                        HookEvent::Updating => true,
                        _ => !v.is_empty(),
                    };
                    if differs {
                        changed.push(f);
                    }
                    after.insert(f, v);
                }
                let title = public_id.as_deref().map(|id| {
                    let state = if event == HookEvent::BeforeDeleted {
                        &before
                    } else {
                        &after
                    };
                    title_of(&cat, state, id)
                });
                let payload = Change {
                    event,
                    catalog: &cat,
                    record_db_id: record,
                    public_id: public_id.as_deref(),
                    title: title.as_deref(),
                    changed: &changed,
                    before: &before,
                    after: &after,
                }
                .payload(c, &schema)?;
                Ok((payload, changed))
            })
            .await
    }

    /// Asks the `record.before.*` webhooks about a write; the first denial is the answer.
    async fn ask_before_webhooks(
        &self,
        event: HookEvent,
        catalog: &Arc<Catalog>,
        record: Option<i64>,
        values: &Parsed,
        card: Option<&Parsed>,
        actor: &Actor,
    ) -> Result<()> {
        if self
            .hook_candidates(catalog, event, actor)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        let (payload, changed) = self
            .event_payload(event, catalog, record, values, card)
            .await?;
        if event == HookEvent::BeforeUpdated && changed.is_empty() {
            return Ok(());
        }
        self.ask_before(
            Ask {
                event,
                catalog,
                record_db_id: record,
                payload,
                changed: &changed,
            },
            actor,
        )
        .await
    }

    /// The Changes call (spec 02 §4.9): a field changed in an open card. Runs the
    /// `record.updating` webhooks and returns their merged messages and values; nothing is
    /// written. Past a chain depth of 10 nothing runs.
    pub async fn record_changes(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: ChangesInput,
    ) -> Result<ChangesOutput> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        let record = match &input.record_id {
            Some(r) => {
                let db = self.find_record(&catalog, r).await?;
                self.require_record(actor, &catalog, db, Privilege::Edit)
                    .await?;
                Some(db)
            }
            None => {
                self.require_create(actor, &catalog).await?;
                None
            }
        };
        if input.depth > MAX_CHANGES_DEPTH {
            return Ok(ChangesOutput::default());
        }
        let ctx = ParseCtx {
            tz_offset_min: input.tz_offset_min,
        };
        let values = parse_values(&catalog, &input.values, &ctx)?;
        let card = parse_values(&catalog, &input.all_values, &ctx)?;
        let mut out = ChangesOutput::default();
        // Scenarios subscribed to `$record.updating` first, then webhooks; messages in that
        // order, values merged (a later answer wins a field).
        if self.events.wants_updating(catalog.db_id) {
            let prev = match record {
                Some(db) => values_json(&schema, &self.fetch_plain(&catalog, db).await?),
                None => Map::new(),
            };
            let (messages, vals) = self
                .events
                .updating(&events::UpdatingEvent {
                    catalog_id: catalog.id.clone(),
                    catalog_db_id: catalog.db_id,
                    record_id: input.record_id.clone(),
                    values: values_json(&schema, &values),
                    all_values: values_json(&schema, &card),
                    prev_values: prev,
                    user_db_id: actor.user_db_id(),
                    depth: input.depth.max(events::cause_depth()),
                })
                .await?;
            out.messages.extend(messages);
            out.values.extend(vals);
        }
        let event = HookEvent::Updating;
        if self
            .hook_candidates(&catalog, event, actor)
            .await?
            .is_empty()
        {
            return Ok(out);
        }
        let (payload, changed) = self
            .event_payload(event, &catalog, record, &values, Some(&card))
            .await?;
        let (messages, vals) = self
            .ask_updating(
                Ask {
                    event,
                    catalog: &catalog,
                    record_db_id: record,
                    payload,
                    changed: &changed,
                },
                actor,
            )
            .await?;
        out.messages.extend(messages);
        out.values.extend(vals);
        Ok(out)
    }

    pub(crate) async fn find_record(&self, catalog: &Catalog, record_ref: &str) -> Result<i64> {
        let (cat, r) = (catalog.db_id, record_ref.to_string());
        self.store
            .read(move |c| rec::find_record(c, cat, &r).map_err(Error::from))
            .await?
            .ok_or_else(|| Error::record_not_found(record_ref))
    }

    async fn fetch_plain(&self, catalog: &Arc<Catalog>, db_id: i64) -> Result<Parsed> {
        let cat = catalog.clone();
        let data = self
            .store
            .read(move |c| {
                rec::fetch_records(c, cat.db_id, &cat.fields, &Selector::Ids(vec![db_id]))
                    .map_err(Error::from)
            })
            .await?;
        let d = data
            .into_iter()
            .next()
            .ok_or_else(|| Error::record_not_found(&db_id.to_string()))?;
        Ok(plain_values(&d.values, catalog))
    }

    /// Reads one record.
    pub async fn get_record(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        opts: &ReadOptions,
    ) -> Result<RecordView> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        self.require_catalog_reachable(actor, &catalog).await?;
        let db_id = self.find_record(&catalog, record_ref).await?;
        self.require_record(actor, &catalog, db_id, Privilege::View)
            .await?;
        let page = self
            .read_records(actor, &catalog, Selector::Ids(vec![db_id]), opts, false)
            .await?;
        page.records
            .into_iter()
            .next()
            .ok_or_else(|| Error::record_not_found(record_ref))
    }

    async fn get_record_by_db_id(
        &self,
        actor: &Actor,
        catalog: &Arc<Catalog>,
        db_id: i64,
        opts: &ReadOptions,
    ) -> Result<RecordView> {
        let page = self
            .read_records(actor, catalog, Selector::Ids(vec![db_id]), opts, false)
            .await?;
        page.records
            .into_iter()
            .next()
            .ok_or_else(|| Error::record_not_found(&db_id.to_string()))
    }

    /// Lists records (spec 01 §6.1): `viewId` ∧ `filters` ∧ `searchText` ∧ `id`, sorted by
    /// `sortField` (newest first without one), one page, and the total that matched.
    pub async fn list_records(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        q: &ListQuery,
        opts: &ReadOptions,
    ) -> Result<RecordPage> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        let access = self.require_catalog_reachable(actor, &catalog).await?;
        let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
        let offset = q.offset.unwrap_or(0);
        if limit < 0 || offset < 0 {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                "limit and offset must not be negative",
            ));
        }
        let limit = limit.clamp(1, MAX_LIMIT);
        if q.ids.len() > MAX_IDS {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                format!("at most {MAX_IDS} record ids may be listed in id"),
            ));
        }
        let filter = match &q.filters {
            Some(input) => kartoteka_filter::parse(
                input,
                &crate::query::CatalogScope {
                    schema: &schema,
                    catalog: &catalog,
                    text_only: false,
                },
                &kartoteka_filter::Options {
                    tz_offset_min: q.tz_offset_min,
                },
            )
            .map_err(crate::query::filter_error)?,
            None => kartoteka_filter::Filter::All,
        };
        let filter = match &q.view_id {
            Some(v) => {
                let of_view = self
                    .view_filter(actor, &schema, &catalog, v, q.tz_offset_min)
                    .await?;
                kartoteka_filter::Filter::and(vec![of_view, filter])
            }
            None => filter,
        };
        let mut used = Vec::new();
        own_fields(&filter, &mut used);
        if let Some(f) = q.sort_field.as_deref().and_then(|f| catalog.field(f)) {
            used.push(f.db_id);
        }
        self.require_visible_fields(&access, &catalog, &used)?;
        let scope = access.record_scope(&catalog);
        let listed = match &q.view_id {
            Some(v) => self
                .rights_view_ref(&catalog, v)
                .await
                .ok()
                .map(|(db, _)| db),
            None => None,
        };
        let visible = self.visible_filter(&access, &schema, &catalog, &scope, listed);
        let query = RecordQuery {
            filter: kartoteka_filter::Filter::and(vec![filter, visible]),
            search: q.search.clone().filter(|s| !s.trim().is_empty()),
            ids: (!q.ids.is_empty()).then(|| q.ids.clone()),
            sort: crate::query::sort_of(&catalog, q.sort_field.as_deref(), q.descending)?,
            limit,
            offset,
            current_user: actor.user_db_id(),
        };
        self.read_records(
            actor,
            &catalog,
            Selector::Query(Box::new(query)),
            opts,
            true,
        )
        .await
    }

    pub(crate) async fn read_records(
        &self,
        actor: &Actor,
        catalog: &Arc<Catalog>,
        sel: Selector,
        opts: &ReadOptions,
        count: bool,
    ) -> Result<RecordPage> {
        let schema = self.schema();
        let projection: Option<HashSet<i64>> = match &opts.fields {
            None => None,
            Some(list) if list.is_empty() => None,
            Some(list) => Some(
                list.iter()
                    .map(|f| {
                        catalog.field(f).map(|f| f.db_id).ok_or_else(|| {
                            Error::field(
                                ErrorCode::UnknownField,
                                f,
                                format!("unknown field {f:?} in fields"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?,
            ),
        };
        let mut plans = nested_plans(
            &schema,
            catalog,
            &opts.nested,
            opts.with_fields_additional,
            projection.as_ref(),
        )?;
        let access = self.access(actor).await?;
        // Values of linked records (`recordValues`) follow the caller's rights on their
        // catalog: none from a catalog they may not see whole, and never a hidden field.
        for p in &mut plans {
            for (cat, fields) in p.catalogs.values_mut() {
                if !access.sees_all(cat) {
                    fields.clear();
                    continue;
                }
                let codes = access.record_scope(cat).field_codes(None, &HashSet::new());
                fields.retain(|f| codes.code(f.db_id) != FieldRight::Hide);
            }
        }
        let cat = catalog.clone();
        let user = actor.user_db_id();
        let plans2 = plans.clone();
        let exact_total = opts.exact_total;
        // A filtered or paged list may walk many rows; records by id are a short read.
        let many = !matches!(sel, Selector::Ids(_) | Selector::Public(_));
        let read = move |c: &mut dyn kartoteka_store::Conn| -> Result<_> {
            let data = rec::fetch_records(c, cat.db_id, &cat.fields, &sel)?;
            let total = match (&sel, count) {
                (_, false) => data.len() as i64,
                // A page that is not full tells the total without counting, unless it is
                // empty past the end.
                (Selector::Query(q), true) => {
                    let n = data.len() as i64;
                    if n < q.limit && (n > 0 || q.offset == 0) {
                        q.offset + n
                    } else if exact_total {
                        rq::count(c, cat.db_id, &cat.fields, q)?
                    } else {
                        rq::count_upto(c, cat.db_id, &cat.fields, q, TOTAL_CAP)?
                    }
                }
                (_, true) => rec::count_records(c, cat.db_id)?,
            };
            let mut nested: HashMap<(i64, i64), RecordData> = HashMap::new();
            if !plans2.is_empty() {
                let wanted = nested_fields(&plans2);
                for (linked, ids) in nested_targets(&plans2, &data) {
                    let Some((_, fields)) = wanted.get(&linked) else {
                        continue;
                    };
                    for d in rec::fetch_records(c, linked, fields, &Selector::Ids(ids))? {
                        nested.insert((linked, d.db_id), d);
                    }
                }
            }
            let refs: Vec<&RecordData> = data.iter().chain(nested.values()).collect();
            let look = Lookups::gather(c, &refs)?;
            let ids: Vec<i64> = data.iter().map(|d| d.db_id).collect();
            let chats = chat::summaries(c, cat.db_id, &ids, user)?;
            Ok((data, nested, look, total, chats))
        };
        let (data, nested, lookups, total, chats) = if many {
            self.store.read_many(read).await?
        } else {
            self.store.read(read).await?
        };
        let ids: Vec<i64> = data.iter().map(|d| d.db_id).collect();
        let rights = self.record_rights(&access, catalog, &ids).await?;
        let records = data
            .iter()
            .map(|d| {
                let (privilege, codes) = match rights.get(&d.db_id) {
                    Some((p, c)) => (shown(*p), Some(c)),
                    None => (Privilege::Available, None),
                };
                // Hidden fields (spec 04 §1.8) leave the values like unrequested ones.
                let seen = codes.filter(|c| c.hides_any()).map(|c| {
                    catalog
                        .fields
                        .iter()
                        .map(|f| f.db_id)
                        .filter(|f| projection.as_ref().is_none_or(|p| p.contains(f)))
                        .filter(|f| c.code(*f) != FieldRight::Hide)
                        .collect::<HashSet<i64>>()
                });
                let mut view = render_record(
                    &schema,
                    catalog,
                    d,
                    &lookups,
                    seen.as_ref().or(projection.as_ref()),
                    opts.skip_prev_id,
                    privilege,
                );
                attach_record_values(
                    &schema, catalog, d, &plans, &nested, &lookups, opts, &mut view,
                );
                view.chat = chats
                    .get(&d.db_id)
                    .copied()
                    .map(ChatInfo::from)
                    .unwrap_or_default();
                view
            })
            .collect();
        let total_capped = total > TOTAL_CAP && !opts.exact_total;
        Ok(RecordPage {
            records,
            total: if total_capped { TOTAL_CAP } else { total },
            total_capped,
        })
    }
}

/// The `dbId`s of the fields of the filtered catalog itself that `f` names (not those of
/// linked catalogs inside link conditions).
fn own_fields(f: &kartoteka_filter::Filter, out: &mut Vec<i64>) {
    use kartoteka_filter::Filter;
    match f {
        Filter::And(v) | Filter::Or(v) => v.iter().for_each(|p| own_fields(p, out)),
        Filter::Not(p) => own_fields(p, out),
        Filter::Field(field, _) => out.push(field.db_id),
        Filter::All | Filter::Nothing | Filter::Records(_) => {}
    }
}

/// 403 unless a caller holding `privilege` and `codes` on a record may write every one of
/// `fields` (spec 04 §1.8): on a record they may edit, fields not restricted; on one they
/// may only read, fields a rule makes editable. A write naming no field needs `edit`.
fn check_writable(
    catalog: &Catalog,
    privilege: Privilege,
    codes: &rights::FieldCodes,
    fields: &[i64],
) -> Result<()> {
    if fields.is_empty() {
        return rights::require(
            privilege,
            Privilege::Edit,
            &format!("record of catalog {:?}", catalog.id),
        );
    }
    match fields.iter().find(|f| codes.code(**f) != FieldRight::Edit) {
        None => Ok(()),
        Some(f) => {
            let id = catalog
                .field_by_db_id(*f)
                .map(|f| f.id.clone())
                .unwrap_or_else(|| f.to_string());
            Err(Error::field(
                ErrorCode::Forbidden,
                &id,
                format!("the field {id:?} may not be changed by you"),
            ))
        }
    }
}

/// The code a record shows for a privilege: one the caller created but may not see shows
/// `available` rather than `deny`, which is not a privilege code.
fn shown(p: Privilege) -> Privilege {
    p.max(Privilege::Available)
}

/// Adds `recordValues` to the link items of the object fields a plan names: the linked
/// record's requested fields in the read format (`{}` when it no longer exists). Values in
/// `recordValues` carry no further `recordValues`.
#[allow(clippy::too_many_arguments)]
fn attach_record_values(
    schema: &Arc<Schema>,
    catalog: &Catalog,
    d: &RecordData,
    plans: &[NestedPlan],
    nested: &HashMap<(i64, i64), RecordData>,
    look: &Lookups,
    opts: &ReadOptions,
    view: &mut RecordView,
) {
    for p in plans {
        let (Some(f), Some(FieldValue::Links(links))) = (
            catalog.field_by_db_id(p.field_db_id),
            d.values.get(&p.field_db_id),
        ) else {
            continue;
        };
        let per_link: Vec<Option<Value>> = links
            .iter()
            .map(|l| {
                let c = l.catalog_id.parse::<i64>().ok()?;
                let (cat, fields) = p.catalogs.get(&c)?;
                let r = l.record_id.parse::<i64>().ok()?;
                let Some(linked) = nested.get(&(c, r)) else {
                    return Some(Value::Object(Map::new()));
                };
                let wanted: HashSet<i64> = fields.iter().map(|f| f.db_id).collect();
                let v = render_record(
                    schema,
                    cat,
                    linked,
                    look,
                    Some(&wanted),
                    opts.skip_prev_id,
                    Privilege::View,
                );
                Some(Value::Object(v.values))
            })
            .collect();
        let mut keys = vec![f.id.clone()];
        if f.duplicate && f.prev_id != f.id && !opts.skip_prev_id {
            keys.push(f.prev_id.clone());
        }
        for k in keys {
            let Some(Value::Array(items)) = view.values.get_mut(&k) else {
                continue;
            };
            for (item, rv) in items.iter_mut().zip(&per_link) {
                if let (Value::Object(o), Some(rv)) = (item, rv) {
                    o.insert("recordValues".into(), rv.clone());
                }
            }
        }
    }
}

pub(crate) fn render_record(
    schema: &Arc<Schema>,
    catalog: &Catalog,
    d: &RecordData,
    look: &Lookups,
    projection: Option<&HashSet<i64>>,
    skip_prev_id: bool,
    privilege: Privilege,
) -> RecordView {
    let public_id = d.public_id();
    let fields = catalog
        .fields
        .iter()
        .filter(|f| render::has_value(f))
        .filter(|f| projection.is_none_or(|p| p.contains(&f.db_id)))
        .map(|f| {
            let v = d
                .values
                .get(&f.db_id)
                .map(|v| render_value(schema, look, v))
                .unwrap_or(Value::Null);
            (f, v)
        });
    RecordView {
        title: title_of(catalog, &d.values, &public_id),
        id: public_id,
        catalog_id: catalog.id.clone(),
        privilege,
        values: keyed_values(fields, skip_prev_id),
        created: d.created_at.clone(),
        chat: ChatInfo::default(),
    }
}
