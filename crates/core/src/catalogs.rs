//! The data constructor: sections and catalogs with their typed fields. Every structural
//! change runs in one transaction with its DDL, against the structure as stored at that
//! moment, and then refreshes the in-memory schema.

use std::collections::HashSet;
use std::sync::Arc;

use kartoteka_model::field::{source_catalogs, FieldType};
use kartoteka_model::ids::{as_db_id, id_from_json, is_system_id, valid_custom_id};
use kartoteka_model::privilege::Privilege;
use kartoteka_model::{ErrorCode, FieldDef};
use kartoteka_store::registry;
use kartoteka_store::rights as store_rights;
use kartoteka_store::schema::{self as ddl, CatalogRow, SectionRow};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::rights;
use crate::schema::{Catalog, Schema, Section};
use crate::{Actor, App};

/// Lowest `dbId` of a user catalog; lower numbers are reserved for system catalogs.
const FIRST_USER_CATALOG: i64 = 100;

/// System catalogs that Catalogs.Find does not list: they are managed through their own
/// resources (views, rights, boards, messages, the registries) and stay addressable by id
/// (spec 02 §1.3).
pub const INTERNAL_CATALOGS: [&str; 8] = [
    "$catalogs",
    "$sections",
    "$views",
    "$boards",
    "$widgets",
    "$messages",
    "$rightFields",
    "$rights",
];

/// A section create or update. Absent keys are unchanged.
#[derive(Debug, Clone, Default)]
pub struct SectionInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub icon: Option<String>,
    pub priority: Option<i64>,
    pub catalogs_priorities: Option<Vec<String>>,
}

/// A catalog create or update. Absent keys are unchanged; `fields`, when present, is the
/// complete new ordered field list.
#[derive(Debug, Clone, Default)]
pub struct CatalogInput {
    pub id: Option<String>,
    pub section_id: Option<String>,
    pub name: Option<String>,
    pub icon: Option<String>,
    pub history: Option<bool>,
    pub fields: Option<Vec<Value>>,
}

/// One element of a `fields` list, parsed.
struct FieldSpec {
    index: usize,
    id: Option<String>,
    prev_id: Option<String>,
    duplicate: Option<bool>,
    name: String,
    field_type: FieldType,
    hint: Option<String>,
    required: Option<bool>,
    api_only: Option<bool>,
    filterable: Option<bool>,
    history: Option<bool>,
    hidden: Option<bool>,
    comment: Option<String>,
    config: Option<Map<String, Value>>,
    visible: Option<Value>,
}

fn spec_err(index: usize, message: impl Into<String>) -> Error {
    Error::new(
        ErrorCode::InvalidConfig,
        format!("fields[{index}]: {}", message.into()),
    )
}

fn opt_bool(o: &Map<String, Value>, key: &str, index: usize) -> Result<Option<bool>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(spec_err(index, format!("{key} must be a boolean"))),
    }
}

fn opt_string(o: &Map<String, Value>, key: &str, index: usize) -> Result<Option<String>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(spec_err(index, format!("{key} must be a string"))),
    }
}

/// Parses a `fields` list; legacy copies (`isDuplicated: true`) are ignored (spec 02 §1.5.7).
fn parse_specs(fields: &[Value]) -> Result<Vec<FieldSpec>> {
    let mut out = Vec::with_capacity(fields.len());
    for (index, v) in fields.iter().enumerate() {
        let o = v
            .as_object()
            .ok_or_else(|| spec_err(index, "a field must be an object"))?;
        if o.get("isDuplicated") == Some(&Value::Bool(true)) {
            continue;
        }
        let type_code = o
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| spec_err(index, "type is required"))?;
        let field_type = FieldType::from_code(type_code)
            .ok_or_else(|| spec_err(index, format!("unknown field type {type_code:?}")))?;
        let name = opt_string(o, "name", index)?.unwrap_or_default();
        if name.trim().is_empty() {
            return Err(spec_err(index, "name is required"));
        }
        let id = match o.get("id") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                id_from_json(v)
                    .ok_or_else(|| spec_err(index, "id must be a string or a number"))?,
            ),
        };
        let prev_id = match o.get("prevId") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                id_from_json(v)
                    .ok_or_else(|| spec_err(index, "prevId must be a string or a number"))?,
            ),
        };
        let config = match o.get("config") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => return Err(spec_err(index, "config must be an object")),
        };
        out.push(FieldSpec {
            index,
            id,
            prev_id,
            duplicate: opt_bool(o, "duplicateResultWithPrevId", index)?,
            name,
            field_type,
            hint: opt_string(o, "hint", index)?,
            required: opt_bool(o, "required", index)?,
            api_only: opt_bool(o, "apiOnly", index)?,
            filterable: opt_bool(o, "filterable", index)?,
            history: opt_bool(o, "history", index)?,
            hidden: opt_bool(o, "hidden", index)?,
            comment: opt_string(o, "comment", index)?,
            config,
            visible: o.get("visible").cloned(),
        });
    }
    Ok(out)
}

/// Validates a field's config, and checks the catalogs an object field links to.
fn normalize_config(
    schema: &Schema,
    spec: &FieldSpec,
    prev: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>> {
    let mut cfg = spec
        .config
        .clone()
        .or_else(|| prev.cloned())
        .unwrap_or_default();
    spec.field_type
        .normalize_config(&mut cfg, prev)
        .map_err(|e| spec_err(spec.index, format!("{} ({})", e.message, spec.name)))?;
    if spec.field_type == FieldType::Object {
        let mut ids = Vec::new();
        for c in source_catalogs(&cfg) {
            let cat = schema
                .find_catalog(&c)
                .filter(|x| schema.catalog_alive(x))
                .ok_or_else(|| {
                    spec_err(
                        spec.index,
                        format!("config.catalogs: catalog {c:?} not found"),
                    )
                })?;
            ids.push(Value::Object(Map::from_iter([(
                "id".to_string(),
                Value::String(cat.id.clone()),
            )])));
        }
        cfg.insert("catalogs".into(), Value::Array(ids));
        let extended = normalize_extended_fields(schema, spec, &cfg)?;
        cfg.insert("fields".into(), Value::Object(extended));
    }
    check_item_ids(spec, &cfg, prev)?;
    Ok(cfg)
}

/// `config.fields` of an object field: the extended fields shown for each source catalog.
/// Written as full definitions or bare ids, keyed by either id of the catalog; kept as
/// `{"<catalogId>": ["<fieldId>", …]}` with canonical ids (spec 01 §3.14).
fn normalize_extended_fields(
    schema: &Schema,
    spec: &FieldSpec,
    cfg: &Map<String, Value>,
) -> Result<Map<String, Value>> {
    let sources = source_catalogs(cfg);
    let mut out = Map::new();
    let Some(Value::Object(given)) = cfg.get("fields") else {
        return Ok(out);
    };
    for (cat_ref, list) in given {
        let cat = schema
            .find_catalog(cat_ref)
            .filter(|c| sources.contains(&c.id))
            .ok_or_else(|| {
                spec_err(
                    spec.index,
                    format!("config.fields: {cat_ref:?} is not a source catalog of this field"),
                )
            })?;
        let items = list.as_array().ok_or_else(|| {
            spec_err(
                spec.index,
                format!("config.fields.{cat_ref} must be an array"),
            )
        })?;
        let mut ids = Vec::with_capacity(items.len());
        for it in items {
            let f_ref = match it {
                Value::Object(o) => o.get("id").and_then(id_from_json),
                v => id_from_json(v),
            };
            let f = f_ref.as_deref().and_then(|r| cat.field(r)).ok_or_else(|| {
                spec_err(
                    spec.index,
                    format!("config.fields.{cat_ref}: unknown field {it}"),
                )
            })?;
            let id = Value::String(f.id.clone());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        out.insert(cat.id.clone(), Value::Array(ids));
    }
    Ok(out)
}

/// Item ids (2.0.5 custom ids): digits or `[A-Za-z0-9_-]{1,64}`; a `$` id is reserved for
/// system items and only kept where it already exists.
fn check_item_ids(
    spec: &FieldSpec,
    cfg: &Map<String, Value>,
    prev: Option<&Map<String, Value>>,
) -> Result<()> {
    let known = prev
        .map(kartoteka_model::field::items::item_ids)
        .unwrap_or_default();
    for id in kartoteka_model::field::items::item_ids(cfg) {
        let ok = as_db_id(id).is_some()
            || valid_custom_id(id)
            || (is_system_id(id) && known.contains(&id));
        if !ok {
            return Err(spec_err(
                spec.index,
                if is_system_id(id) {
                    format!("item ids starting with $ are reserved for system fields: {id:?}")
                } else {
                    format!("an item id must match [A-Za-z0-9_-]{{1,64}}, got {id:?}")
                },
            ));
        }
    }
    Ok(())
}

fn check_field_id(id: &str, index: usize) -> Result<()> {
    if as_db_id(id).is_some() || valid_custom_id(id) {
        Ok(())
    } else if is_system_id(id) {
        Err(spec_err(
            index,
            format!("ids starting with $ are reserved for system fields: {id:?}"),
        ))
    } else {
        Err(spec_err(
            index,
            format!("a field id must match [A-Za-z0-9_-]{{1,64}}, got {id:?}"),
        ))
    }
}

/// Computes the new field list of a catalog and applies it with DDL. `existing` is the
/// catalog as stored now.
fn apply_fields(
    conn: &mut dyn kartoteka_store::Conn,
    schema: &Schema,
    catalog: &mut Catalog,
    specs: Vec<FieldSpec>,
) -> Result<()> {
    let existing = std::mem::take(&mut catalog.fields);
    let mut used = vec![false; existing.len()];
    let mut taken: HashSet<String> = HashSet::new();
    let mut plan: Vec<(FieldDef, Option<usize>)> = Vec::with_capacity(specs.len());
    for spec in &specs {
        // Match an existing field by id or prevId; `{id: new, prevId: old}` renames `old`.
        let pos = existing.iter().enumerate().position(|(i, f)| {
            !used[i]
                && match (&spec.id, &spec.prev_id) {
                    (Some(id), _) if *id == f.id || *id == f.prev_id => true,
                    (Some(_), Some(prev)) => *prev == f.id && !f.is_system,
                    _ => false,
                }
        });
        let def = match pos {
            Some(i) => {
                used[i] = true;
                let old = &existing[i];
                if old.field_type != spec.field_type {
                    return Err(Error::field(
                        ErrorCode::FieldTypeChange,
                        &old.id,
                        format!(
                            "the type of field {:?} cannot change from {} to {}",
                            old.id,
                            old.field_type.code(),
                            spec.field_type.code()
                        ),
                    ));
                }
                let mut f = old.clone();
                if let Some(new_id) = spec
                    .id
                    .as_ref()
                    .filter(|id| **id != old.id && **id != old.prev_id)
                {
                    check_field_id(new_id, spec.index)?;
                    f.prev_id = old.id.clone();
                    f.id = new_id.clone();
                    f.duplicate = spec.duplicate.unwrap_or(false);
                }
                f.name = spec.name.clone();
                f.hint = spec.hint.clone().unwrap_or(f.hint);
                f.required = spec.required.unwrap_or(f.required);
                f.api_only = spec.api_only.unwrap_or(f.api_only);
                f.filterable = spec.filterable.unwrap_or(f.filterable);
                f.history = spec.history.unwrap_or(f.history);
                f.hidden = spec.hidden.unwrap_or(f.hidden);
                f.comment = spec.comment.clone().unwrap_or(f.comment);
                f.visible = spec.visible.clone().unwrap_or(f.visible);
                f.config = normalize_config(schema, spec, Some(&old.config))?;
                if matches!(f.field_type, FieldType::User | FieldType::Dropdown)
                    && old.multiselect()
                    && !f.multiselect()
                    && kartoteka_store::query::holds_several(conn, catalog.db_id, old)?
                {
                    // Nothing is cut: the records are left for the user to reduce to one
                    // value (and a single-valued field's conditions rely on that).
                    let what = match f.field_type {
                        FieldType::User => "employees",
                        _ => "items",
                    };
                    return Err(Error::field(
                        ErrorCode::InvalidConfig,
                        &old.id,
                        format!(
                            "field {:?} cannot stop allowing several {what}: some records hold more than one",
                            old.id
                        ),
                    ));
                }
                (f, Some(i))
            }
            None => {
                let id = match &spec.id {
                    Some(id) => {
                        check_field_id(id, spec.index)?;
                        if let Some(n) = as_db_id(id) {
                            catalog.next_field_id = catalog.next_field_id.max(n + 1);
                        }
                        id.clone()
                    }
                    None => loop {
                        let candidate = catalog.next_field_id.to_string();
                        catalog.next_field_id += 1;
                        if !existing
                            .iter()
                            .any(|f| f.id == candidate || f.prev_id == candidate)
                            && !taken.contains(&candidate)
                        {
                            break candidate;
                        }
                    },
                };
                let db_id = ddl::next_id(conn, "fields")?;
                let f = FieldDef {
                    db_id,
                    prev_id: id.clone(),
                    id,
                    duplicate: false,
                    name: spec.name.clone(),
                    field_type: spec.field_type,
                    hint: spec.hint.clone().unwrap_or_default(),
                    required: spec.required.unwrap_or(false),
                    api_only: spec.api_only.unwrap_or(false),
                    filterable: spec.filterable.unwrap_or(true),
                    history: spec.history.unwrap_or(true),
                    hidden: spec.hidden.unwrap_or(false),
                    comment: spec.comment.clone().unwrap_or_default(),
                    config: normalize_config(schema, spec, None)?,
                    visible: spec
                        .visible
                        .clone()
                        .unwrap_or_else(|| Value::Object(Map::new())),
                    is_system: false,
                    column: format!("f{db_id}"),
                };
                (f, None)
            }
        };
        if !taken.insert(def.0.id.clone()) {
            return Err(Error::field(
                ErrorCode::DuplicateId,
                &def.0.id,
                format!("the field id {:?} is used twice", def.0.id),
            ));
        }
        plan.push(def);
    }
    // System fields cannot be deleted: omitted ones stay, at the end (spec 02 §1.5.7).
    for (i, f) in existing.iter().enumerate() {
        if !used[i] && f.is_system {
            used[i] = true;
            taken.insert(f.id.clone());
            plan.push((f.clone(), Some(i)));
        }
    }
    for (i, f) in existing.iter().enumerate() {
        if !used[i] {
            ddl::delete_field(conn, catalog.db_id, f)?;
            if f.field_type == FieldType::File {
                // Its files go the way of a deleted record's files (grace period, then removed).
                kartoteka_store::aux::mark_field_files_deleted(conn, catalog.db_id, f.db_id)?;
            }
        }
    }
    for (pos, (f, old)) in plan.iter().enumerate() {
        let position = pos as i64 + 1;
        match old {
            Some(_) => ddl::update_field(conn, catalog.db_id, f, position)?,
            None => ddl::insert_field(conn, catalog.db_id, f, position)?,
        }
    }
    catalog.fields = plan.into_iter().map(|(f, _)| f).collect();
    kartoteka_store::query::sync_owner_indexes(conn, catalog.db_id, &catalog.fields)?;
    Ok(())
}

fn check_name(name: &Option<String>, required: bool) -> Result<()> {
    match name {
        Some(n) if n.trim().is_empty() => Err(Error::new(
            ErrorCode::InvalidValue,
            "name must not be empty",
        )),
        None if required => Err(Error::new(ErrorCode::InvalidValue, "name is required")),
        _ => Ok(()),
    }
}

impl App {
    async fn require_section(
        &self,
        actor: &Actor,
        section: &Section,
        need: Privilege,
    ) -> Result<()> {
        let access = self.access(actor).await?;
        rights::require(
            access.on_section(&self.schema(), section),
            need,
            &format!("section {:?}", section.id),
        )
    }

    async fn require_catalog(
        &self,
        actor: &Actor,
        catalog: &Catalog,
        need: Privilege,
    ) -> Result<()> {
        self.require_on_catalog(actor, catalog, need).await?;
        Ok(())
    }

    /// Sections visible to the caller, by priority.
    pub async fn list_sections(&self, actor: &Actor) -> Result<Vec<(Section, Privilege)>> {
        let schema = self.schema();
        let access = self.access(actor).await?;
        let mut out: Vec<(Section, Privilege)> = schema
            .sections
            .iter()
            .filter(|s| !s.deleted)
            .map(|s| (s.clone(), access.on_section(&schema, s)))
            .filter(|(_, p)| p.includes(Privilege::Available))
            .collect();
        out.sort_by_key(|(s, _)| (s.priority, s.db_id));
        Ok(out)
    }

    pub async fn get_section(&self, actor: &Actor, id: &str) -> Result<(Section, Privilege)> {
        let schema = self.schema();
        let s = schema.section(id)?.clone();
        let p = self.access(actor).await?.on_section(&schema, &s);
        rights::require(p, Privilege::Available, &format!("section {:?}", s.id))?;
        Ok((s, p))
    }

    pub async fn create_section(&self, actor: &Actor, input: SectionInput) -> Result<Section> {
        let schema = self.schema();
        let settings = schema.section("$settings")?.clone();
        self.require_section(actor, &settings, Privilege::Admin)
            .await?;
        check_name(&input.name, true)?;
        let custom = match &input.id {
            Some(id) if valid_custom_id(id) && as_db_id(id).is_none() => {
                if schema.sections.iter().any(|s| s.id == *id) {
                    return Err(Error::new(ErrorCode::DuplicateId, format!("section id {id:?} is taken")));
                }
                Some(id.clone())
            }
            Some(id) => {
                return Err(Error::new(ErrorCode::InvalidId, format!("a custom section id must match [A-Za-z0-9_-]{{1,64}} and not be all digits, got {id:?}")))
            }
            None => None,
        };
        let priority = schema
            .sections
            .iter()
            .map(|s| s.priority)
            .max()
            .unwrap_or(0)
            + 1;
        let section = self
            .store
            .write(move |c| -> Result<SectionRow> {
                let db_id = ddl::next_id(c, "sections")?;
                let row = SectionRow {
                    db_id,
                    id: custom.unwrap_or_else(|| db_id.to_string()),
                    name: input.name.unwrap_or_default(),
                    icon: input.icon.unwrap_or_default(),
                    priority: input.priority.unwrap_or(priority),
                    is_system: false,
                    deleted: false,
                };
                ddl::insert_section(c, &row)?;
                registry::mirror_section(c, &row)?;
                // A new section is open to every employee until its rights are
                // restricted (spec 04 §1.4).
                store_rights::insert_rule(
                    c,
                    store_rights::Object::Section(db_id),
                    &store_rights::all_users_admin(),
                )?;
                Ok(row)
            })
            .await?;
        self.reload_schema().await?;
        Ok(section.into())
    }

    pub async fn update_section(
        &self,
        actor: &Actor,
        id: &str,
        input: SectionInput,
    ) -> Result<Section> {
        let schema = self.schema();
        let mut s = schema.section(id)?.clone();
        self.require_section(actor, &s, Privilege::Admin).await?;
        check_name(&input.name, false)?;
        if let Some(n) = input.name {
            s.name = n;
        }
        if let Some(i) = input.icon {
            s.icon = i;
        }
        if let Some(p) = input.priority {
            s.priority = p;
        }
        let mut order: Vec<Catalog> = Vec::new();
        if let Some(list) = &input.catalogs_priorities {
            for (i, c) in list.iter().enumerate() {
                let cat = schema
                    .catalog(c)
                    .ok()
                    .filter(|x| x.section_db_id == s.db_id)
                    .ok_or_else(|| {
                        Error::new(
                            ErrorCode::InvalidValue,
                            format!(
                                "catalogsPriorities[{i}]: catalog {c:?} is not in this section"
                            ),
                        )
                    })?;
                let mut cat = (**cat).clone();
                cat.priority = i as i64;
                order.push(cat);
            }
        }
        let row = s.to_row();
        self.store
            .write(move |c| -> Result<()> {
                ddl::update_section(c, &row)?;
                registry::mirror_section(c, &row)?;
                for cat in &order {
                    c.execute(
                        "UPDATE catalogs_data SET priority = ? WHERE \"dbId\" = ?",
                        &[cat.priority.into(), cat.db_id.into()],
                    )?;
                }
                Ok(())
            })
            .await?;
        self.reload_schema().await?;
        Ok(s)
    }

    /// Soft-deletes a section and its catalogs.
    pub async fn delete_section(&self, actor: &Actor, id: &str) -> Result<()> {
        let schema = self.schema();
        let mut s = schema.section(id)?.clone();
        self.require_section(actor, &s, Privilege::Admin).await?;
        if s.is_system {
            return Err(Error::new(
                ErrorCode::MethodNotAllowed,
                "a system section cannot be deleted",
            ));
        }
        s.deleted = true;
        let row = s.to_row();
        self.store
            .write(move |c| -> Result<()> {
                ddl::update_section(c, &row)?;
                c.execute(
                    "UPDATE catalogs_data SET deleted = ? WHERE \"sectionDbId\" = ?",
                    &[true.into(), row.db_id.into()],
                )?;
                registry::mirror_all(c)?;
                Ok(())
            })
            .await?;
        self.reload_schema().await
    }

    /// Catalogs visible to the caller, optionally of one section, in menu order.
    pub async fn list_catalogs(
        &self,
        actor: &Actor,
        section: Option<&str>,
    ) -> Result<Vec<(Arc<Catalog>, Privilege)>> {
        let schema = self.schema();
        let access = self.access(actor).await?;
        let section_db = match section {
            Some(s) => match schema.section(s) {
                Ok(s) => Some(s.db_id),
                Err(_) => return Ok(vec![]),
            },
            None => None,
        };
        let mut out: Vec<(Arc<Catalog>, Privilege)> = schema
            .catalogs
            .iter()
            .filter(|c| schema.catalog_alive(c))
            .filter(|c| !INTERNAL_CATALOGS.contains(&c.id.as_str()))
            .filter(|c| section_db.is_none_or(|s| c.section_db_id == s))
            .map(|c| (c.clone(), access.on_catalog(c)))
            .filter(|(_, p)| p.includes(Privilege::Available))
            .collect();
        let prio = |c: &Catalog| {
            schema
                .section_by_db_id(c.section_db_id)
                .map(|s| s.priority)
                .unwrap_or(0)
        };
        out.sort_by_key(|(c, _)| (prio(c), c.priority, c.db_id));
        Ok(out)
    }

    pub async fn get_catalog(&self, actor: &Actor, id: &str) -> Result<(Catalog, Privilege)> {
        let schema = self.schema();
        let c = (**schema.catalog(id)?).clone();
        let p = self
            .require_on_catalog(actor, &c, Privilege::Available)
            .await?;
        Ok((c, p))
    }

    fn body_section(schema: &Schema, id: &str) -> Result<Section> {
        schema.section(id).cloned().map_err(|_| {
            Error::new(
                ErrorCode::SectionNotFound,
                format!("section {id:?} not found"),
            )
            .with_status_400()
        })
    }

    pub async fn create_catalog(&self, actor: &Actor, input: CatalogInput) -> Result<Catalog> {
        let schema = self.schema();
        let section_ref = input
            .section_id
            .clone()
            .ok_or_else(|| Error::new(ErrorCode::InvalidValue, "sectionId is required"))?;
        let section = Self::body_section(&schema, &section_ref)?;
        self.require_section(actor, &section, Privilege::Admin)
            .await?;
        check_name(&input.name, true)?;
        let custom = match &input.id {
            None => None,
            Some(id) => {
                if let Some(n) = as_db_id(id) {
                    if n < FIRST_USER_CATALOG || schema.find_catalog(id).is_some() {
                        return Err(Error::new(
                            ErrorCode::DuplicateId,
                            format!("catalog id {id:?} is taken or reserved"),
                        ));
                    }
                } else if !valid_custom_id(id) {
                    return Err(Error::new(
                        ErrorCode::InvalidId,
                        format!("a custom catalog id must match [A-Za-z0-9_-]{{1,64}}, got {id:?}"),
                    ));
                } else if schema.find_catalog(id).is_some() {
                    return Err(Error::new(
                        ErrorCode::DuplicateId,
                        format!("catalog id {id:?} is taken"),
                    ));
                }
                Some(id.clone())
            }
        };
        let specs = parse_specs(input.fields.as_deref().unwrap_or(&[]))?;
        let priority = schema
            .catalogs
            .iter()
            .filter(|c| c.section_db_id == section.db_id)
            .map(|c| c.priority + 1)
            .max()
            .unwrap_or(0);
        let schema2 = schema.clone();
        let catalog = self
            .store
            .write(move |c| -> Result<Catalog> {
                let db_id = match custom.as_deref().and_then(as_db_id) {
                    Some(n) => {
                        ddl::bump_sequence(c, "catalogs", n)?;
                        n
                    }
                    None => ddl::next_id(c, "catalogs")?,
                };
                let mut cat = Catalog::from(CatalogRow {
                    db_id,
                    id: custom.unwrap_or_else(|| db_id.to_string()),
                    section_db_id: section.db_id,
                    name: input.name.unwrap_or_default(),
                    icon: input.icon.unwrap_or_default(),
                    history: input.history.unwrap_or(true),
                    priority,
                    is_system: false,
                    deleted: false,
                    next_field_id: 1,
                    fields: vec![],
                });
                ddl::insert_catalog(c, &cat.to_row())?;
                apply_fields(c, &schema2, &mut cat, specs)?;
                let row = cat.to_row();
                ddl::update_catalog(c, &row)?;
                registry::mirror_catalog(c, &row)?;
                Ok(cat)
            })
            .await?;
        self.reload_schema().await?;
        Ok(catalog)
    }

    pub async fn update_catalog(
        &self,
        actor: &Actor,
        id: &str,
        input: CatalogInput,
    ) -> Result<Catalog> {
        let schema = self.schema();
        let current = schema.catalog(id)?.clone();
        self.require_catalog(actor, &current, Privilege::Admin)
            .await?;
        check_name(&input.name, false)?;
        let new_section = match &input.section_id {
            Some(s) => {
                let sec = Self::body_section(&schema, s)?;
                self.require_section(actor, &sec, Privilege::Admin).await?;
                Some(sec.db_id)
            }
            None => None,
        };
        let specs = match &input.fields {
            Some(f) => Some(parse_specs(f)?),
            None => None,
        };
        let schema2 = schema.clone();
        let db_id = current.db_id;
        let catalog = self
            .store
            .write(move |c| -> Result<Catalog> {
                // Work on the structure as stored now, not on the snapshot.
                let row = ddl::load_catalog(c, db_id)?
                    .ok_or_else(|| Error::catalog_not_found(&db_id.to_string()))?;
                let mut cat = Catalog::from(row);
                if let Some(n) = input.name {
                    cat.name = n;
                }
                if let Some(i) = input.icon {
                    cat.icon = i;
                }
                if let Some(h) = input.history {
                    cat.history = h;
                }
                if let Some(s) = new_section {
                    cat.section_db_id = s;
                }
                if let Some(specs) = specs {
                    apply_fields(c, &schema2, &mut cat, specs)?;
                }
                let row = cat.to_row();
                ddl::update_catalog(c, &row)?;
                registry::mirror_catalog(c, &row)?;
                Ok(cat)
            })
            .await?;
        self.reload_schema().await?;
        Ok(catalog)
    }

    /// Soft-deletes a catalog; system catalogs cannot be deleted.
    pub async fn delete_catalog(&self, actor: &Actor, id: &str) -> Result<()> {
        let schema = self.schema();
        let mut cat = (**schema.catalog(id)?).clone();
        self.require_catalog(actor, &cat, Privilege::Admin).await?;
        if cat.is_system {
            return Err(Error::new(
                ErrorCode::MethodNotAllowed,
                "a system catalog cannot be deleted",
            ));
        }
        cat.deleted = true;
        let row = cat.to_row();
        self.store
            .write(move |c| -> Result<()> {
                ddl::update_catalog(c, &row)?;
                registry::mirror_catalog(c, &row)?;
                Ok(())
            })
            .await?;
        self.reload_schema().await
    }
}

impl Error {
    /// A not-found about something named in a request body is a bad request, not a 404.
    pub(crate) fn with_status_400(mut self) -> Self {
        self.status = Some(400);
        self
    }
}
