//! The search helpers around records (spec 01 §10, §14): employees for user fields, records
//! that may be linked in an object field, back-links of a record, and contacts across
//! catalogs. Field ids in these resources are text ids only (spec 02 §1.4).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kartoteka_model::field::source_catalogs;
use kartoteka_model::privilege::Privilege;
use kartoteka_model::{ErrorCode, FieldDef, FieldType};
use kartoteka_store::aux::USERS_CATALOG;
use kartoteka_store::query::Statement;
use kartoteka_store::records::{self as rec, RecordData, Selector};
use kartoteka_store::search;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::records::render_record;
use crate::render::Lookups;
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

/// Paging of a search: `limit` is clamped to 1..=1000.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub fn new(limit: Option<i64>, offset: Option<i64>, default_limit: i64) -> Result<Page> {
        let (limit, offset) = (limit.unwrap_or(default_limit), offset.unwrap_or(0));
        if limit < 0 || offset < 0 {
            return Err(Error::new(
                ErrorCode::InvalidQuery,
                "limit and offset must not be negative",
            ));
        }
        Ok(Page {
            limit: limit.clamp(1, 1000),
            offset,
        })
    }
}

/// An AvailableRecords / AvailableFilterRecords request.
#[derive(Debug, Clone)]
pub struct AvailableQuery {
    /// Part of the record title.
    pub needle: Option<String>,
    /// Only this source catalog.
    pub catalog_id: Option<String>,
    /// Add the values of the field's extended fields (AvailableRecords, not the filter form).
    pub with_values: bool,
    pub page: Page,
}

/// A record offered by a search, with the catalog it belongs to.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRecord {
    pub section_id: String,
    pub catalog_id: String,
    pub catalog_title: String,
    pub catalog_icon: String,
    pub record_id: String,
    pub record_title: String,
    /// Values of extended fields or matched contacts, where the resource has them.
    pub record_values: Option<Map<String, Value>>,
}

/// The records of one catalog that link to a record through one field.
#[derive(Debug, Clone)]
pub struct RelationGroup {
    pub catalog: Arc<Catalog>,
    pub section_id: String,
    pub privilege: Privilege,
    pub field_id: String,
    pub field_name: String,
    /// `(id, title, created)`
    pub records: Vec<(String, String, String)>,
    pub total: i64,
}

/// A relations request.
#[derive(Debug, Clone, Default)]
pub struct RelationsQuery {
    pub catalog_ids: Vec<String>,
    pub field_id: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

fn found(schema: &Schema, c: &Catalog, id: String, title: String) -> FoundRecord {
    FoundRecord {
        section_id: schema.section_id_of(c),
        catalog_id: c.id.clone(),
        catalog_title: c.name.clone(),
        catalog_icon: c.icon.clone(),
        record_id: id,
        record_title: title,
        record_values: None,
    }
}

/// A field by its public id only; an unknown or legacy id is a 404 of the resource path.
fn path_field<'a>(catalog: &'a Catalog, f: &str) -> Result<&'a FieldDef> {
    catalog.fields.iter().find(|x| x.id == f).ok_or_else(|| {
        Error::field(
            ErrorCode::FieldNotFound,
            f,
            format!("field {f:?} not found"),
        )
    })
}

impl App {
    /// Employees for `user` fields (spec 01 §14.3): `(id, title)` by title.
    pub async fn users(
        &self,
        _actor: &Actor,
        needle: Option<String>,
        page: Page,
    ) -> Result<Vec<(String, String)>> {
        let hits = self
            .store
            .read_many(move |c| {
                search::records_by_title(
                    c,
                    &[USERS_CATALOG],
                    &[],
                    needle.as_deref(),
                    page.limit,
                    page.offset,
                )
                .map_err(Error::from)
            })
            .await?;
        Ok(hits.into_iter().map(|h| (h.id, h.title)).collect())
    }

    /// Records that may be chosen in an object field (spec 01 §14.1, §14.2). With
    /// `with_values`, each carries the values of the field's extended fields.
    pub async fn available_records(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        field_ref: &str,
        q: AvailableQuery,
    ) -> Result<Vec<FoundRecord>> {
        let schema = self.schema();
        let access = self.access(actor).await?;
        let catalog = schema.catalog(catalog_ref)?.clone();
        self.require_on_catalog(actor, &catalog, Privilege::Search)
            .await?;
        let field = path_field(&catalog, field_ref)?;
        if field.field_type != FieldType::Object {
            return Err(Error::field(
                ErrorCode::InvalidQuery,
                &field.id,
                "the field is not a linked-catalog (object) field",
            ));
        }
        let AvailableQuery {
            needle,
            catalog_id,
            with_values,
            page,
        } = q;
        let only = catalog_id.map(|c| schema.find_catalog(&c).map(|c| c.db_id).unwrap_or(-1));
        // Unavailable or deleted sources are skipped silently (changelog 1.8.42).
        let sources: Vec<Arc<Catalog>> = source_catalogs(&field.config)
            .iter()
            .filter_map(|c| schema.find_catalog(c).cloned())
            .filter(|c| schema.catalog_alive(c))
            .filter(|c| only.is_none_or(|o| o == c.db_id))
            .collect();
        // Each source gives the records the caller may see (spec 04 §1.7), in SQL.
        let mut restricted = Vec::new();
        let mut sources_seen = Vec::with_capacity(sources.len());
        for c in sources {
            match self.rights_condition(&access, &schema, &c) {
                None => continue,
                Some(Some(st)) => restricted.push((c.db_id, st)),
                Some(None) => {}
            }
            sources_seen.push(c);
        }
        let sources = sources_seen;
        let ids: Vec<i64> = sources.iter().map(|c| c.db_id).collect();
        let extended: HashMap<i64, Vec<String>> = match field.config.get("fields") {
            Some(Value::Object(m)) if with_values => sources
                .iter()
                .map(|c| {
                    let list = m
                        .get(&c.id)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    (c.db_id, list)
                })
                .collect(),
            _ => HashMap::new(),
        };
        let srcs = sources.clone();
        let (hits, data, look) = self
            .store
            .read_many(move |c| -> Result<_> {
                let hits = search::records_by_title(
                    c,
                    &ids,
                    &restricted,
                    needle.as_deref(),
                    page.limit,
                    page.offset,
                )?;
                let mut data: HashMap<(i64, i64), RecordData> = HashMap::new();
                for cat in &srcs {
                    if extended.get(&cat.db_id).is_none_or(|l| l.is_empty()) {
                        continue;
                    }
                    let mine: Vec<i64> = hits
                        .iter()
                        .filter(|h| h.catalog_db_id == cat.db_id)
                        .map(|h| h.record_db_id)
                        .collect();
                    for d in rec::fetch_records(c, cat.db_id, &cat.fields, &Selector::Ids(mine))? {
                        data.insert((cat.db_id, d.db_id), d);
                    }
                }
                let refs: Vec<&RecordData> = data.values().collect();
                let look = Lookups::gather(c, &refs)?;
                Ok((hits, data, look))
            })
            .await?;
        let by_db: HashMap<i64, &Arc<Catalog>> = sources.iter().map(|c| (c.db_id, c)).collect();
        Ok(hits
            .into_iter()
            .filter_map(|h| {
                let c = by_db.get(&h.catalog_db_id)?;
                let mut f = found(&schema, c, h.id, h.title);
                if with_values {
                    let values = match (
                        data.get(&(c.db_id, h.record_db_id)),
                        field.config.get("fields").and_then(|m| m.get(&c.id)),
                    ) {
                        (Some(d), Some(Value::Array(list))) => {
                            let wanted: HashSet<i64> = list
                                .iter()
                                .filter_map(Value::as_str)
                                .filter_map(|id| c.field(id))
                                .map(|x| x.db_id)
                                .collect();
                            render_record(
                                &schema,
                                c,
                                d,
                                &look,
                                Some(&wanted),
                                false,
                                Privilege::View,
                            )
                            .values
                        }
                        _ => Map::new(),
                    };
                    f.record_values = Some(values);
                }
                Some(f)
            })
            .collect())
    }

    /// Back-links of a record (spec 01 §10): per (catalog, object field) that points here,
    /// the linking records, newest first; empty groups are left out.
    pub async fn relations(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        record_ref: &str,
        q: &RelationsQuery,
    ) -> Result<Vec<RelationGroup>> {
        let schema = self.schema();
        let access = self.access(actor).await?;
        let target = schema.catalog(catalog_ref)?.clone();
        self.require_on_catalog(actor, &target, Privilege::Available)
            .await?;
        let target_record = self.find_record(&target, record_ref).await?;
        self.require_record(actor, &target, target_record, Privilege::View)
            .await?;
        let page = Page::new(q.limit, q.offset, 100)?;
        let only: Option<Vec<i64>> = if q.catalog_ids.is_empty() {
            None
        } else {
            Some(
                q.catalog_ids
                    .iter()
                    .filter_map(|c| schema.find_catalog(c).map(|c| c.db_id))
                    .collect(),
            )
        };
        let mut pairs: Vec<(Arc<Catalog>, FieldDef, Option<Statement>)> = Vec::new();
        for c in schema.catalogs.iter().filter(|c| schema.catalog_alive(c)) {
            if only.as_ref().is_some_and(|o| !o.contains(&c.db_id)) {
                continue;
            }
            // The linking records the caller may see (spec 04 §1.7), in SQL.
            let Some(restrict) = self.rights_condition(&access, &schema, c) else {
                continue;
            };
            for f in c
                .fields
                .iter()
                .filter(|f| f.field_type == FieldType::Object)
            {
                // `fieldId` applies only together with `catalogId` (spec 01 §10).
                if only.is_some() && q.field_id.as_ref().is_some_and(|id| *id != f.id) {
                    continue;
                }
                let points_here = source_catalogs(&f.config).iter().any(|s| {
                    schema
                        .find_catalog(s)
                        .is_some_and(|s| s.db_id == target.db_id)
                });
                if points_here {
                    pairs.push((c.clone(), f.clone(), restrict.clone()));
                }
            }
        }
        let (t, r) = (target.db_id, record_ref.to_string());
        let pairs2 = pairs.clone();
        let found = self
            .store
            .read_many(move |c| -> Result<_> {
                let rec_db =
                    rec::find_record(c, t, &r)?.ok_or_else(|| Error::record_not_found(&r))?;
                let mut out = Vec::with_capacity(pairs2.len());
                for (cat, f, restrict) in &pairs2 {
                    out.push(search::back_links(
                        c,
                        cat.db_id,
                        f.db_id,
                        (t, rec_db),
                        restrict.as_ref(),
                        page.limit,
                        page.offset,
                    )?);
                }
                Ok(out)
            })
            .await?;
        Ok(pairs
            .into_iter()
            .zip(found)
            .filter(|(_, (_, total))| *total > 0)
            .map(|((cat, f, _), (links, total))| RelationGroup {
                section_id: schema.section_id_of(&cat),
                privilege: access.on_catalog(&cat),
                field_id: f.id.clone(),
                field_name: f.name.clone(),
                records: links
                    .into_iter()
                    .map(|l| (l.id, l.title, l.created))
                    .collect(),
                total,
                catalog: cat,
            })
            .collect())
    }

    /// Records whose contact values contain `needle`, across every catalog the caller may see
    /// (spec 01 §14.4); `record_values` maps each matching field to the matched contact.
    pub async fn contacts(
        &self,
        actor: &Actor,
        needle: String,
        page: Page,
    ) -> Result<Vec<FoundRecord>> {
        if needle.trim().is_empty() {
            return Ok(vec![]);
        }
        let schema = self.schema();
        let access = self.access(actor).await?;
        // Each catalog gives the contacts of the records the caller may see, in SQL.
        let mut catalogs: Vec<Arc<Catalog>> = Vec::new();
        let mut cats: Vec<(Arc<Catalog>, Option<Statement>)> = Vec::new();
        for c in schema
            .catalogs
            .iter()
            .filter(|c| schema.catalog_alive(c))
            .filter(|c| c.fields.iter().any(|f| f.field_type == FieldType::Contact))
        {
            if let Some(only) = self.rights_condition(&access, &schema, c) {
                catalogs.push(c.clone());
                cats.push((c.clone(), only));
            }
        }
        let (hits, titles) = self
            .store
            .read_many(move |c| -> Result<_> {
                let mut hits = Vec::new();
                for (cat, only) in &cats {
                    for h in search::contacts_matching(c, cat.db_id, only.as_ref(), &needle)? {
                        hits.push((cat.db_id, h));
                    }
                }
                let refs: Vec<(i64, i64)> =
                    hits.iter().map(|(c, h)| (*c, h.record_db_id)).collect();
                Ok((hits, rec::titles(c, &refs)?))
            })
            .await?;
        let by_db: HashMap<i64, &Arc<Catalog>> = catalogs.iter().map(|c| (c.db_id, c)).collect();
        let mut grouped: Vec<FoundRecord> = Vec::new();
        let mut index: HashMap<(i64, i64), usize> = HashMap::new();
        for (cat_db, h) in hits {
            let Some(cat) = by_db.get(&cat_db) else {
                continue;
            };
            let Some(field) = cat.field_by_db_id(h.field_db_id) else {
                continue;
            };
            let pos = *index.entry((cat_db, h.record_db_id)).or_insert_with(|| {
                let t = titles.get(&(cat_db, h.record_db_id));
                let mut f = found(
                    &schema,
                    cat,
                    t.map(|t| t.id.clone())
                        .unwrap_or_else(|| h.record_db_id.to_string()),
                    t.map(|t| t.title.clone()).unwrap_or_default(),
                );
                f.record_values = Some(Map::new());
                grouped.push(f);
                grouped.len() - 1
            });
            if let Some(values) = grouped[pos].record_values.as_mut() {
                values
                    .entry(field.id.clone())
                    .or_insert(Value::String(h.contact));
            }
        }
        grouped.sort_by(|a, b| {
            a.record_title
                .to_lowercase()
                .cmp(&b.record_title.to_lowercase())
        });
        Ok(grouped
            .into_iter()
            .skip(page.offset as usize)
            .take(page.limit as usize)
            .collect())
    }
}
