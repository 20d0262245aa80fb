//! Views (spec 01 §8): saved filters of a catalog. A view is a record of the system catalog
//! `$views` (`$name`, `$originName`, `$catalogDbId`, `$userDbId`, `$forRights`, `$filters`,
//! `$config`), written through the one write path (history, webhooks and events as for any
//! record) once this module has checked the rules of views: a personal view is its author's
//! alone, a rights view needs `access` on its catalog. The Records API refuses writes to
//! `$views`, so every stored view went through these checks.
//!
//! `$filters` holds the conditions as JSON, `[{"id", "fieldDbId", "value"}]`: a condition
//! names its field by `dbId`, so it follows the field through a change of id and goes away
//! with the field. Values are kept as sent (object-field items without what a read adds to
//! them) and parsed again whenever the view is applied, against the catalog as it is then
//! and in the caller's time zone.

use std::collections::HashMap;
use std::sync::Arc;

use kartoteka_filter::{Cond, FieldRef, Filter, LinkCond, UserRef};
use kartoteka_model::field::SINGLE_LINE_MAX;
use kartoteka_model::ids::{as_db_id, id_from_json};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::value::FieldValue;
use kartoteka_model::{ErrorCode, FieldType};
use kartoteka_store::query::{RecordQuery, Sort};
use kartoteka_store::records::{self as rec, RecordData, Selector, TitleRow};
use kartoteka_store::registry::CATALOGS_CATALOG;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::query::{filter_error, CatalogScope};
use crate::records::{Gate, RecordInput};
use crate::rights::{self, Access, ViewKind};
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

/// The `dbId` of `$views`.
pub const VIEWS_CATALOG: i64 = 4;
/// The most views one list answers (the caller's personal views and the rights views).
const MAX_VIEWS: i64 = 10_000;

/// A view to create, or the changes to one (absent keys are unchanged).
#[derive(Debug, Clone, Default)]
pub struct ViewInput {
    /// A custom id for a new view.
    pub id: Option<String>,
    pub name: Option<String>,
    pub origin_name: Option<String>,
    pub for_rights: Option<bool>,
    /// `[{fieldId | attr, value}]`; replaces every condition.
    pub filters: Option<Value>,
    /// The display settings, an object kept as sent.
    pub config: Option<Value>,
}

/// A view as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    pub id: String,
    pub catalog_id: String,
    pub catalog_title: String,
    pub catalog_icon: String,
    pub name: String,
    pub origin_name: String,
    pub for_rights: bool,
    /// The caller's privilege on the view.
    pub privilege: Privilege,
    pub filters: Vec<ViewFilter>,
    pub config: Value,
}

/// One condition of a view: its id, its field's public id, and its value (object-field
/// items carry `recordTitle`, `catalogIcon`, `catalogDbId` and `recordDbId`).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewFilter {
    pub id: String,
    pub field_id: String,
    pub value: Value,
}

/// One stored condition.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    id: String,
    field_db_id: i64,
    value: Value,
}

impl Condition {
    fn to_json(&self) -> Value {
        json!({"id": self.id, "fieldDbId": self.field_db_id, "value": self.value})
    }

    fn from_json(v: &Value) -> Option<Condition> {
        Some(Condition {
            id: v.get("id").and_then(id_from_json)?,
            field_db_id: v.get("fieldDbId").and_then(Value::as_i64)?,
            value: v.get("value").cloned().unwrap_or(Value::Null),
        })
    }
}

/// A view as stored in `$views`.
#[derive(Debug, Clone)]
struct Stored {
    db_id: i64,
    id: String,
    catalog_db_id: Option<i64>,
    author: Option<i64>,
    name: String,
    origin_name: String,
    for_rights: bool,
    conditions: Vec<Condition>,
    config: Value,
}

impl Stored {
    /// The conditions as a filter list (`[{fieldId, value}]`) over the catalog as it is
    /// now; conditions on fields deleted since are dropped.
    fn filter_list(&self, catalog: &Catalog) -> Value {
        Value::Array(
            self.conditions
                .iter()
                .filter_map(|c| {
                    let f = catalog.field_by_db_id(c.field_db_id)?;
                    Some(json!({"fieldId": f.id, "value": c.value}))
                })
                .collect(),
        )
    }

    fn kind(&self) -> ViewKind {
        if self.for_rights {
            ViewKind::Rights
        } else {
            ViewKind::Personal(self.author)
        }
    }
}

/// The `dbId`s of the fields of `$views`.
struct Fields {
    name: FieldRef,
    origin_name: FieldRef,
    catalog: FieldRef,
    author: FieldRef,
    for_rights: FieldRef,
    filters: FieldRef,
    config: FieldRef,
}

impl Fields {
    fn of(views: &Catalog) -> Result<Fields> {
        let f = |id: &str| {
            views
                .field(id)
                .map(FieldRef::of)
                .ok_or_else(|| Error::internal(format!("$views has no field {id}")))
        };
        Ok(Fields {
            name: f("$name")?,
            origin_name: f("$originName")?,
            catalog: f("$catalogDbId")?,
            author: f("$userDbId")?,
            for_rights: f("$forRights")?,
            filters: f("$filters")?,
            config: f("$config")?,
        })
    }

    fn decode(&self, d: &RecordData) -> Stored {
        let text = |f: &FieldRef| match d.values.get(&f.db_id) {
            Some(FieldValue::Text(s)) => s.clone(),
            _ => String::new(),
        };
        let json_of = |f: &FieldRef| serde_json::from_str::<Value>(&text(f)).ok();
        let catalog_db_id = match d.values.get(&self.catalog.db_id) {
            Some(FieldValue::Links(l)) => l.first().and_then(|l| l.record_id.parse().ok()),
            _ => None,
        };
        let author = match d.values.get(&self.author.db_id) {
            Some(FieldValue::Users(u)) => u.first().and_then(|u| u.parse().ok()),
            _ => None,
        };
        let conditions = match json_of(&self.filters) {
            Some(Value::Array(a)) => a.iter().filter_map(Condition::from_json).collect(),
            _ => Vec::new(),
        };
        let config = match json_of(&self.config) {
            Some(v @ Value::Object(_)) => v,
            _ => json!({}),
        };
        Stored {
            db_id: d.db_id,
            id: d.public_id(),
            catalog_db_id,
            author,
            name: text(&self.name),
            origin_name: text(&self.origin_name),
            for_rights: matches!(
                d.values.get(&self.for_rights.db_id),
                Some(FieldValue::Bool(true))
            ),
            conditions,
            config,
        }
    }
}

fn view_not_found(id: &str) -> Error {
    Error::new(ErrorCode::ViewNotFound, format!("view {id:?} not found"))
}

fn catalog_label(c: &Catalog) -> String {
    format!("catalog {:?}", c.id)
}

/// Only `access` (or `admin`) on the catalog manages its rights views (spec 04 §1.5).
fn require_manage(access: &Access, catalog: &Catalog) -> Result<()> {
    if access.manages_rights_views(catalog) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorCode::Forbidden,
            format!(
                "the access privilege is needed on {} to manage its rights views",
                catalog_label(catalog)
            ),
        ))
    }
}

/// A personal view needs a name; a rights view needs a name or a name for administrators
/// (an empty `name` hides it from the menu). Both are single-line text.
fn check_names(name: &str, origin_name: &str, for_rights: bool) -> Result<()> {
    for (key, v) in [("name", name), ("originName", origin_name)] {
        if v.chars().count() > SINGLE_LINE_MAX {
            return Err(Error::field(
                ErrorCode::InvalidValue,
                key,
                format!("{key} is limited to {SINGLE_LINE_MAX} characters"),
            ));
        }
    }
    match (
        for_rights,
        name.trim().is_empty(),
        origin_name.trim().is_empty(),
    ) {
        (false, true, _) => Err(Error::field(
            ErrorCode::RequiredField,
            "name",
            "a personal view needs a name",
        )),
        (true, true, true) => Err(Error::field(
            ErrorCode::RequiredField,
            "originName",
            "a rights view needs a name or a name for administrators (originName)",
        )),
        _ => Ok(()),
    }
}

fn config_of(v: Option<&Value>) -> Result<Option<Value>> {
    match v {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(json!({}))),
        Some(o @ Value::Object(_)) => Ok(Some(o.clone())),
        Some(_) => Err(Error::field(
            ErrorCode::InvalidValue,
            "config",
            "config is an object",
        )),
    }
}

/// A condition's value as stored: object-field items keep only what names the link
/// (`catalogId`, `recordId`, `filters`), so a view read and sent back is stored the same.
fn stored_value(field_type: FieldType, v: &Value) -> Value {
    if field_type != FieldType::Object {
        return v.clone();
    }
    let strip = |it: &Value| match it {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| matches!(k.as_str(), "catalogId" | "recordId" | "filters"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    };
    match v {
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => strip(other),
    }
}

/// Validates a view's `filters` (the array form, `attr` or `fieldId`) against the catalog and
/// numbers its conditions.
fn conditions(schema: &Schema, catalog: &Catalog, v: &Value) -> Result<Vec<Condition>> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(a) => a,
        _ => {
            return Err(Error::field(
                ErrorCode::InvalidValue,
                "filters",
                "filters of a view are an array of {\"fieldId\", \"value\"}",
            ))
        }
    };
    kartoteka_filter::parse(
        &kartoteka_filter::Input::json("filters", v.clone()),
        &CatalogScope {
            schema,
            catalog,
            text_only: true,
        },
        &kartoteka_filter::Options::default(),
    )
    .map_err(filter_error)?;
    let mut out = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        // The parse accepted every element, so each names a field of the catalog.
        let field = it
            .get("fieldId")
            .or_else(|| it.get("attr"))
            .and_then(id_from_json)
            .and_then(|id| catalog.field_by_id(&id))
            .ok_or_else(|| Error::internal("a validated view condition lost its field"))?;
        out.push(Condition {
            id: (i + 1).to_string(),
            field_db_id: field.db_id,
            value: stored_value(field.field_type, it.get("value").unwrap_or(&Value::Null)),
        });
    }
    Ok(out)
}

/// The items of an object-field value: an array, or one item.
fn link_items(v: &Value) -> Vec<&Map<String, Value>> {
    match v {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        Value::Object(m) => vec![m],
        _ => Vec::new(),
    }
}

/// What a read adds to a linked record named in a condition: its `dbId` and title.
type Found = HashMap<(i64, String), (Option<i64>, Option<TitleRow>)>;

fn enrich_item(schema: &Schema, it: &Map<String, Value>, found: &Found) -> Value {
    let Some(cat) = it
        .get("catalogId")
        .and_then(id_from_json)
        .and_then(|c| schema.find_catalog(&c))
    else {
        return Value::Object(it.clone());
    };
    let mut out = Map::new();
    out.insert("catalogId".into(), Value::String(cat.id.clone()));
    let record = it.get("recordId").and_then(id_from_json);
    if let Some(r) = &record {
        let (db, title) = found
            .get(&(cat.db_id, r.clone()))
            .cloned()
            .unwrap_or((None, None));
        out.insert("recordId".into(), Value::String(r.clone()));
        out.insert(
            "recordTitle".into(),
            Value::String(title.map(|t| t.title).unwrap_or_default()),
        );
        out.insert(
            "recordDbId".into(),
            db.map(Value::from).unwrap_or(Value::Null),
        );
    }
    if let Some(f) = it.get("filters") {
        out.insert("filters".into(), f.clone());
    }
    out.insert("catalogIcon".into(), Value::String(cat.icon.clone()));
    out.insert("catalogDbId".into(), Value::from(cat.db_id));
    Value::Object(out)
}

impl App {
    fn views_catalog(&self) -> Result<Arc<Catalog>> {
        self.schema()
            .catalog_by_db_id(VIEWS_CATALOG)
            .cloned()
            .ok_or_else(|| Error::internal("the system catalog $views is missing"))
    }

    /// The rights views among `sel`, with their conditions keyed by public field ids, for
    /// the rights cache.
    pub(crate) async fn rights_views(&self, sel: Selector) -> Result<Vec<rights::RightsView>> {
        let schema = self.schema();
        Ok(self
            .stored_views(sel)
            .await?
            .into_iter()
            .filter(|v| v.for_rights)
            .filter_map(|v| {
                let catalog = schema.catalog_by_db_id(v.catalog_db_id?)?;
                Some(rights::RightsView {
                    db_id: v.db_id,
                    catalog: catalog.db_id,
                    conditions: v.filter_list(catalog),
                })
            })
            .collect())
    }

    /// A rights view of `catalog` by public id: its `dbId` and public id (404 otherwise;
    /// personal views carry no rules).
    pub(crate) async fn rights_view_ref(
        &self,
        catalog: &Catalog,
        view_ref: &str,
    ) -> Result<(i64, String)> {
        self.stored_views(Selector::Public(view_ref.to_string()))
            .await?
            .into_iter()
            .find(|v| v.catalog_db_id == Some(catalog.db_id) && v.for_rights)
            .map(|v| (v.db_id, v.id))
            .ok_or_else(|| view_not_found(view_ref))
    }

    async fn stored_views(&self, sel: Selector) -> Result<Vec<Stored>> {
        let views = self.views_catalog()?;
        let fields = Fields::of(&views)?;
        let data = self
            .store
            .read(move |c| {
                rec::fetch_records(c, views.db_id, &views.fields, &sel).map_err(Error::from)
            })
            .await?;
        Ok(data.iter().map(|d| fields.decode(d)).collect())
    }

    /// A view of `catalog` the caller may see: another employee's personal view is not
    /// found; a rights view needs at least `search` on it.
    async fn find_view(
        &self,
        actor: &Actor,
        access: &Access,
        catalog: &Catalog,
        view_ref: &str,
    ) -> Result<Stored> {
        let v = self
            .stored_views(Selector::Public(view_ref.to_string()))
            .await?
            .into_iter()
            .next()
            .filter(|v| v.catalog_db_id == Some(catalog.db_id))
            .ok_or_else(|| view_not_found(view_ref))?;
        let p = access.on_view(actor, catalog, v.db_id, v.kind());
        if !v.for_rights && p == Privilege::Deny {
            return Err(view_not_found(view_ref));
        }
        rights::require(p, Privilege::Search, &format!("view {:?}", v.id))?;
        Ok(v)
    }

    /// Renders stored views, looking up the linked records their conditions name.
    async fn render_views(
        &self,
        actor: &Actor,
        access: &Access,
        catalog: &Catalog,
        list: Vec<Stored>,
    ) -> Result<Vec<View>> {
        let schema = self.schema();
        let mut wanted: Vec<(i64, String)> = Vec::new();
        for v in &list {
            for c in &v.conditions {
                let Some(f) = catalog.field_by_db_id(c.field_db_id) else {
                    continue;
                };
                if f.field_type != FieldType::Object {
                    continue;
                }
                for it in link_items(&c.value) {
                    let cat = it
                        .get("catalogId")
                        .and_then(id_from_json)
                        .and_then(|c| schema.find_catalog(&c));
                    if let (Some(cat), Some(r)) = (cat, it.get("recordId").and_then(id_from_json)) {
                        if !wanted.contains(&(cat.db_id, r.clone())) {
                            wanted.push((cat.db_id, r));
                        }
                    }
                }
            }
        }
        let found: Found = if wanted.is_empty() {
            HashMap::new()
        } else {
            self.store
                .read(move |c| -> Result<Found> {
                    let mut ids = Vec::with_capacity(wanted.len());
                    for (cat, r) in &wanted {
                        let db = match as_db_id(r) {
                            Some(n) => Some(n),
                            None => rec::find_record(c, *cat, r)?,
                        };
                        ids.push(db);
                    }
                    let refs: Vec<(i64, i64)> = wanted
                        .iter()
                        .zip(&ids)
                        .filter_map(|((cat, _), db)| Some((*cat, (*db)?)))
                        .collect();
                    let titles = rec::titles(c, &refs)?;
                    Ok(wanted
                        .into_iter()
                        .zip(ids)
                        .map(|((cat, r), db)| {
                            let t = db.and_then(|d| titles.get(&(cat, d)).cloned());
                            ((cat, r), (db, t))
                        })
                        .collect())
                })
                .await?
        };
        Ok(list
            .into_iter()
            .map(|v| {
                let filters = v
                    .conditions
                    .iter()
                    .filter_map(|c| {
                        let f = catalog.field_by_db_id(c.field_db_id)?;
                        let value = if f.field_type == FieldType::Object {
                            match &c.value {
                                Value::Array(a) => Value::Array(
                                    a.iter()
                                        .map(|it| match it {
                                            Value::Object(m) => enrich_item(&schema, m, &found),
                                            other => other.clone(),
                                        })
                                        .collect(),
                                ),
                                Value::Object(m) => {
                                    Value::Array(vec![enrich_item(&schema, m, &found)])
                                }
                                other => other.clone(),
                            }
                        } else {
                            c.value.clone()
                        };
                        Some(ViewFilter {
                            id: c.id.clone(),
                            field_id: f.id.clone(),
                            value,
                        })
                    })
                    .collect();
                View {
                    privilege: access.on_view(actor, catalog, v.db_id, v.kind()),
                    id: v.id,
                    catalog_id: catalog.id.clone(),
                    catalog_title: catalog.name.clone(),
                    catalog_icon: catalog.icon.clone(),
                    name: v.name,
                    origin_name: v.origin_name,
                    for_rights: v.for_rights,
                    filters,
                    config: v.config,
                }
            })
            .collect())
    }

    /// The catalog of a Views call and the caller's access: any privilege on the catalog
    /// (`available` lets an employee keep personal views, spec 04 §1.7).
    async fn catalog_for_views(
        &self,
        actor: &Actor,
        catalog_ref: &str,
    ) -> Result<(Arc<Catalog>, Access)> {
        let catalog = self.schema().catalog(catalog_ref)?.clone();
        let access = self.access(actor).await?;
        rights::require(
            access.on_catalog(&catalog),
            Privilege::Available,
            &catalog_label(&catalog),
        )?;
        Ok((catalog, access))
    }

    /// The views of a catalog the caller sees, alphabetically: their own personal views and
    /// the rights views open to them (those without a `name` only to who manages them).
    pub async fn list_views(&self, actor: &Actor, catalog_ref: &str) -> Result<Vec<View>> {
        let (catalog, access) = self.catalog_for_views(actor, catalog_ref).await?;
        let views = self.views_catalog()?;
        let fields = Fields::of(&views)?;
        let of_catalog = Filter::Field(
            fields.catalog.clone(),
            Cond::Links(vec![LinkCond {
                catalog_db_id: CATALOGS_CATALOG,
                record_id: Some(catalog.db_id.to_string()),
                filter: None,
            }]),
        );
        let visible = match actor {
            Actor::System => Filter::All,
            Actor::User { .. } => Filter::or(vec![
                Filter::Field(fields.for_rights.clone(), Cond::Switch(true)),
                Filter::Field(fields.author.clone(), Cond::Users(vec![UserRef::Current])),
            ]),
        };
        let query = RecordQuery {
            filter: Filter::and(vec![of_catalog, visible]),
            sort: Some(Sort {
                field_db_id: fields.name.db_id,
                descending: false,
            }),
            current_user: actor.user_db_id(),
            ..RecordQuery::page(MAX_VIEWS, 0)
        };
        let manages = access.manages_rights_views(&catalog);
        let list: Vec<Stored> = self
            .stored_views(Selector::Query(Box::new(query)))
            .await?
            .into_iter()
            .filter(|v| {
                access
                    .on_view(actor, &catalog, v.db_id, v.kind())
                    .includes(Privilege::Search)
                    && (!v.for_rights || manages || !v.name.trim().is_empty())
            })
            .collect();
        self.render_views(actor, &access, &catalog, list).await
    }

    /// One view with its conditions.
    pub async fn get_view(&self, actor: &Actor, catalog_ref: &str, view_ref: &str) -> Result<View> {
        let (catalog, access) = self.catalog_for_views(actor, catalog_ref).await?;
        let v = self.find_view(actor, &access, &catalog, view_ref).await?;
        self.one_view(actor, &access, &catalog, v).await
    }

    async fn one_view(
        &self,
        actor: &Actor,
        access: &Access,
        catalog: &Catalog,
        v: Stored,
    ) -> Result<View> {
        self.render_views(actor, access, catalog, vec![v])
            .await?
            .pop()
            .ok_or_else(|| Error::internal("a view was lost while rendering"))
    }

    /// Creates a view: personal (the caller's) or, with `access` on the catalog, a rights view.
    pub async fn create_view(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: ViewInput,
    ) -> Result<View> {
        let schema = self.schema();
        let (catalog, access) = self.catalog_for_views(actor, catalog_ref).await?;
        let for_rights = input.for_rights.unwrap_or(false);
        if for_rights {
            require_manage(&access, &catalog)?;
        }
        let name = input.name.clone().unwrap_or_default();
        let origin_name = input.origin_name.clone().unwrap_or_default();
        check_names(&name, &origin_name, for_rights)?;
        let conds = match &input.filters {
            Some(v) => conditions(&schema, &catalog, v)?,
            None => Vec::new(),
        };
        let config = config_of(input.config.as_ref())?.unwrap_or_else(|| json!({}));
        let mut values = Map::new();
        values.insert("$name".into(), Value::String(name));
        values.insert("$originName".into(), Value::String(origin_name));
        values.insert(
            "$catalogDbId".into(),
            json!([{"catalogId": "$catalogs", "recordId": catalog.db_id.to_string()}]),
        );
        values.insert(
            "$userDbId".into(),
            Value::Array(
                actor
                    .user_db_id()
                    .map(|u| Value::String(u.to_string()))
                    .into_iter()
                    .collect(),
            ),
        );
        values.insert("$forRights".into(), Value::Bool(for_rights));
        values.insert(
            "$filters".into(),
            Value::String(Value::Array(conds.iter().map(Condition::to_json).collect()).to_string()),
        );
        values.insert("$config".into(), Value::String(config.to_string()));
        let created = self
            .create_record_as(
                actor,
                "$views",
                RecordInput {
                    values,
                    id: input.id,
                    tz_offset_min: 0,
                },
                Gate::Checked,
            )
            .await?;
        let v = self
            .find_view(actor, &access, &catalog, &created.id)
            .await?;
        self.one_view(actor, &access, &catalog, v).await
    }

    /// Changes a view: the keys given replace what the view had (`filters` replaces every
    /// condition). Turning a rights view into a personal one makes it the caller's.
    pub async fn update_view(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        view_ref: &str,
        input: ViewInput,
    ) -> Result<View> {
        let schema = self.schema();
        let (catalog, access) = self.catalog_for_views(actor, catalog_ref).await?;
        let v = self.find_view(actor, &access, &catalog, view_ref).await?;
        let for_rights = input.for_rights.unwrap_or(v.for_rights);
        if v.for_rights || for_rights {
            require_manage(&access, &catalog)?;
        }
        let name = input.name.clone().unwrap_or_else(|| v.name.clone());
        let origin_name = input
            .origin_name
            .clone()
            .unwrap_or_else(|| v.origin_name.clone());
        check_names(&name, &origin_name, for_rights)?;
        let mut values = Map::new();
        if input.name.is_some() {
            values.insert("$name".into(), Value::String(name));
        }
        if input.origin_name.is_some() {
            values.insert("$originName".into(), Value::String(origin_name));
        }
        if input.for_rights.is_some() {
            values.insert("$forRights".into(), Value::Bool(for_rights));
            if v.for_rights && !for_rights {
                if let Some(u) = actor.user_db_id() {
                    values.insert("$userDbId".into(), json!([u.to_string()]));
                }
            }
        }
        if let Some(f) = &input.filters {
            let conds = conditions(&schema, &catalog, f)?;
            values.insert(
                "$filters".into(),
                Value::String(
                    Value::Array(conds.iter().map(Condition::to_json).collect()).to_string(),
                ),
            );
        }
        if let Some(c) = config_of(input.config.as_ref())? {
            values.insert("$config".into(), Value::String(c.to_string()));
        }
        if !values.is_empty() {
            self.update_record_as(
                actor,
                "$views",
                &v.id,
                RecordInput {
                    values,
                    ..Default::default()
                },
                Gate::Checked,
            )
            .await?;
        }
        let v = self.find_view(actor, &access, &catalog, &v.id).await?;
        self.one_view(actor, &access, &catalog, v).await
    }

    /// Deletes a view (a rights view takes `access` on the catalog).
    pub async fn delete_view(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        view_ref: &str,
    ) -> Result<()> {
        let (catalog, access) = self.catalog_for_views(actor, catalog_ref).await?;
        let v = self.find_view(actor, &access, &catalog, view_ref).await?;
        if v.for_rights {
            require_manage(&access, &catalog)?;
        }
        self.delete_record_as(actor, "$views", &v.id, Gate::Checked)
            .await
    }

    /// The filter of a view the caller may see (`viewId` of a list or an aggregate), parsed
    /// against the catalog as it is now. Conditions on fields deleted since are dropped.
    pub(crate) async fn view_filter(
        &self,
        actor: &Actor,
        schema: &Schema,
        catalog: &Catalog,
        view_ref: &str,
        tz_offset_min: i32,
    ) -> Result<Filter> {
        let access = self.access(actor).await?;
        let v = self.find_view(actor, &access, catalog, view_ref).await?;
        access.view_conditions(
            schema,
            catalog,
            &format!("view {:?}: filters", v.id),
            v.filter_list(catalog),
            tz_offset_min,
        )
    }
}
