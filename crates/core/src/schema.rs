//! The in-memory snapshot of sections, catalogs and fields, and the one id resolver
//! (spec 02 §1.4). Handlers never parse ids by hand; they ask the snapshot.

use std::collections::HashMap;
use std::sync::Arc;

use kartoteka_model::ids::as_db_id;
use kartoteka_model::FieldDef;
use kartoteka_store::schema::{CatalogRow, SectionRow};

use crate::error::{Error, Result};

/// A section as the core sees it.
#[derive(Debug, Clone)]
pub struct Section {
    pub db_id: i64,
    pub id: String,
    pub name: String,
    pub icon: String,
    pub priority: i64,
    pub is_system: bool,
    pub deleted: bool,
}

/// A catalog as the core sees it.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub db_id: i64,
    pub id: String,
    pub section_db_id: i64,
    pub name: String,
    pub icon: String,
    pub history: bool,
    pub priority: i64,
    pub is_system: bool,
    pub deleted: bool,
    pub next_field_id: i64,
    pub fields: Vec<FieldDef>,
}

impl From<SectionRow> for Section {
    fn from(s: SectionRow) -> Self {
        Section {
            db_id: s.db_id,
            id: s.id,
            name: s.name,
            icon: s.icon,
            priority: s.priority,
            is_system: s.is_system,
            deleted: s.deleted,
        }
    }
}

impl From<CatalogRow> for Catalog {
    fn from(c: CatalogRow) -> Self {
        Catalog {
            db_id: c.db_id,
            id: c.id,
            section_db_id: c.section_db_id,
            name: c.name,
            icon: c.icon,
            history: c.history,
            priority: c.priority,
            is_system: c.is_system,
            deleted: c.deleted,
            next_field_id: c.next_field_id,
            fields: c.fields,
        }
    }
}

impl Catalog {
    pub fn to_row(&self) -> CatalogRow {
        CatalogRow {
            db_id: self.db_id,
            id: self.id.clone(),
            section_db_id: self.section_db_id,
            name: self.name.clone(),
            icon: self.icon.clone(),
            history: self.history,
            priority: self.priority,
            is_system: self.is_system,
            deleted: self.deleted,
            next_field_id: self.next_field_id,
            fields: self.fields.clone(),
        }
    }

    /// Resolves a field in the Catalogs/Records family: public id first, then `prevId`.
    pub fn field(&self, f: &str) -> Option<&FieldDef> {
        self.fields
            .iter()
            .find(|x| x.id == f)
            .or_else(|| self.fields.iter().find(|x| x.prev_id == f))
    }

    /// Resolves a field where 2.0 takes text ids only (Views, Widgets, search helpers): a
    /// system field's legacy number is not its id there.
    pub fn field_by_id(&self, f: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|x| x.id == f)
    }

    /// The field whose value is the record title: the first `text` field that is not rich
    /// text (spec 01 §2.4).
    pub fn title_field(&self) -> Option<&FieldDef> {
        self.fields.iter().find(|f| {
            f.field_type == kartoteka_model::FieldType::Text
                && f.config.get("type").and_then(|v| v.as_str()) != Some("editor")
        })
    }

    pub fn field_by_db_id(&self, db_id: i64) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.db_id == db_id)
    }
}

impl Section {
    pub fn to_row(&self) -> SectionRow {
        SectionRow {
            db_id: self.db_id,
            id: self.id.clone(),
            name: self.name.clone(),
            icon: self.icon.clone(),
            priority: self.priority,
            is_system: self.is_system,
            deleted: self.deleted,
        }
    }
}

/// The legacy numbers of the system sections, no longer reachable (spec 02 §1.1).
const LEGACY_SYSTEM_SECTIONS: [&str; 2] = ["1", "2"];

/// A consistent view of the structure at one moment.
#[derive(Debug, Default)]
pub struct Schema {
    /// The server's public address (`https://host`), put in front of stored files' URLs.
    pub file_base: String,
    pub sections: Vec<Section>,
    pub catalogs: Vec<Arc<Catalog>>,
    section_idx: HashMap<i64, usize>,
    catalog_idx: HashMap<i64, usize>,
}

impl Schema {
    pub fn new(sections: Vec<SectionRow>, catalogs: Vec<CatalogRow>) -> Schema {
        let sections: Vec<Section> = sections.into_iter().map(Section::from).collect();
        let catalogs: Vec<Arc<Catalog>> = catalogs
            .into_iter()
            .map(|c| Arc::new(Catalog::from(c)))
            .collect();
        let section_idx = sections
            .iter()
            .enumerate()
            .map(|(i, s)| (s.db_id, i))
            .collect();
        let catalog_idx = catalogs
            .iter()
            .enumerate()
            .map(|(i, c)| (c.db_id, i))
            .collect();
        Schema {
            file_base: String::new(),
            sections,
            catalogs,
            section_idx,
            catalog_idx,
        }
    }

    pub fn section_by_db_id(&self, db_id: i64) -> Option<&Section> {
        self.section_idx.get(&db_id).map(|i| &self.sections[*i])
    }

    pub fn catalog_by_db_id(&self, db_id: i64) -> Option<&Arc<Catalog>> {
        self.catalog_idx.get(&db_id).map(|i| &self.catalogs[*i])
    }

    /// Any section by public id or (for user sections) `dbId`, deleted or not.
    fn find_section(&self, s: &str) -> Option<&Section> {
        if LEGACY_SYSTEM_SECTIONS.contains(&s) {
            return None;
        }
        self.sections.iter().find(|x| x.id == s).or_else(|| {
            let n = as_db_id(s)?;
            self.section_by_db_id(n).filter(|x| !x.is_system)
        })
    }

    /// A live section (`/sections/{id}`): system sections by text id only.
    pub fn section(&self, s: &str) -> Result<&Section> {
        self.find_section(s)
            .filter(|x| !x.deleted)
            .ok_or_else(|| Error::section_not_found(s))
    }

    /// True when the catalog and its section are alive.
    pub fn catalog_alive(&self, c: &Catalog) -> bool {
        !c.deleted
            && self
                .section_by_db_id(c.section_db_id)
                .is_some_and(|s| !s.deleted)
    }

    /// Any catalog by public id, then by `dbId`, deleted or not.
    pub fn find_catalog(&self, c: &str) -> Option<&Arc<Catalog>> {
        self.catalogs
            .iter()
            .find(|x| x.id == c)
            .or_else(|| self.catalog_by_db_id(as_db_id(c)?))
    }

    /// A live catalog (`/catalogs/{id}`): 404 when unknown or deleted.
    pub fn catalog(&self, c: &str) -> Result<&Arc<Catalog>> {
        self.find_catalog(c)
            .filter(|x| self.catalog_alive(x))
            .ok_or_else(|| Error::catalog_not_found(c))
    }

    /// The public id of a catalog's section.
    pub fn section_id_of(&self, c: &Catalog) -> String {
        self.section_by_db_id(c.section_db_id)
            .map(|s| s.id.clone())
            .unwrap_or_else(|| c.section_db_id.to_string())
    }
}
