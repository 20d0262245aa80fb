//! Reading what the analysis needs, in one read of the store: the structure, the records of
//! `$events`, `$scripts`, `$webRequests`, `$webhooks` and `$views`, and the file entries of
//! the scenario files; then the files' bytes from file storage.

use std::collections::HashMap;

use kartoteka_core::files::storage::{FileStorage, StorageError};
use kartoteka_core::Schema;
use kartoteka_model::value::{FieldValue, FileRef};
use kartoteka_store::aux::{self, FileRow};
use kartoteka_store::records::{self, RecordData, Selector};
use kartoteka_store::schema::{self, CatalogRow};
use kartoteka_store::{Conn, StoreError};

use crate::scripts::Source;
use crate::UpgradeError;

/// Records are read in pages of this many.
const PAGE: i64 = 1000;

/// A `$scripts` record.
#[derive(Debug, Clone)]
pub struct Script {
    pub db_id: i64,
    pub id: String,
    pub name: String,
    /// The file entry of `$file`, when set.
    pub file: Option<i64>,
}

/// A `$events` record.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub name: String,
    pub status: Option<String>,
    /// The `dbId` of the watched catalog (the `$catalogs` record it links to).
    pub catalog: Option<i64>,
    /// The `dbId` of the script it runs.
    pub script: Option<i64>,
}

/// A `$webRequests` record.
#[derive(Debug, Clone)]
pub struct Listener {
    pub id: String,
    pub name: String,
    pub script: Option<i64>,
}

/// A `$webhooks` record.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub status: Option<String>,
    pub catalog: Option<i64>,
}

/// Everything read from the store.
#[derive(Debug, Default)]
pub struct Loaded {
    pub schema: Schema,
    pub events: Vec<Event>,
    pub scripts: Vec<Script>,
    pub listeners: Vec<Listener>,
    pub webhooks: Vec<Webhook>,
    /// View `dbId` → its catalog's `dbId` (for object fields restricted to views).
    pub view_catalogs: HashMap<i64, i64>,
    /// The file entries of the scenario files, by `dbId`.
    pub files: HashMap<i64, FileRow>,
}

/// The records of one system catalog with access to values by field text id.
struct Records {
    catalog: CatalogRow,
    rows: Vec<RecordData>,
}

impl Records {
    fn read(conn: &mut dyn Conn, catalogs: &[CatalogRow], id: &str) -> Result<Records, StoreError> {
        let Some(catalog) = catalogs.iter().find(|c| c.id == id).cloned() else {
            return Ok(Records {
                catalog: CatalogRow {
                    db_id: 0,
                    id: id.into(),
                    section_db_id: 0,
                    name: String::new(),
                    icon: String::new(),
                    history: false,
                    priority: 0,
                    is_system: true,
                    deleted: true,
                    next_field_id: 0,
                    fields: Vec::new(),
                },
                rows: Vec::new(),
            });
        };
        let mut rows = Vec::new();
        let mut offset = 0;
        loop {
            let page = records::fetch_records(
                conn,
                catalog.db_id,
                &catalog.fields,
                &Selector::Page {
                    limit: PAGE,
                    offset,
                },
            )?;
            let n = page.len() as i64;
            rows.extend(page);
            if n < PAGE {
                break;
            }
            offset += PAGE;
        }
        rows.sort_by_key(|r| r.db_id);
        Ok(Records { catalog, rows })
    }

    fn value<'a>(&self, r: &'a RecordData, field: &str) -> Option<&'a FieldValue> {
        let f = self.catalog.fields.iter().find(|f| f.id == field)?;
        r.values.get(&f.db_id)
    }

    fn text(&self, r: &RecordData, field: &str) -> String {
        match self.value(r, field) {
            Some(FieldValue::Text(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// The first item of a dropdown.
    fn item(&self, r: &RecordData, field: &str) -> Option<String> {
        match self.value(r, field) {
            Some(FieldValue::Items(items)) => items.first().cloned(),
            _ => None,
        }
    }

    /// The `dbId` of the first linked record.
    fn link(&self, r: &RecordData, field: &str) -> Option<i64> {
        match self.value(r, field) {
            Some(FieldValue::Links(links)) => links.first()?.record_id.parse().ok(),
            _ => None,
        }
    }

    fn file(&self, r: &RecordData, field: &str) -> Option<i64> {
        match self.value(r, field) {
            Some(FieldValue::Files(files)) => files.iter().find_map(|f| match f {
                FileRef::Id(id) => id.parse().ok(),
                FileRef::External { .. } => None,
            }),
            _ => None,
        }
    }
}

/// Reads the structure and the system records (inside one read of the store).
pub fn load(conn: &mut dyn Conn) -> Result<Loaded, StoreError> {
    let sections = schema::load_sections(conn)?;
    let catalogs = schema::load_catalogs(conn)?;
    let events = Records::read(conn, &catalogs, "$events")?;
    let scripts = Records::read(conn, &catalogs, "$scripts")?;
    let listeners = Records::read(conn, &catalogs, "$webRequests")?;
    let webhooks = Records::read(conn, &catalogs, "$webhooks")?;
    let views = Records::read(conn, &catalogs, "$views")?;
    let scripts: Vec<Script> = scripts
        .rows
        .iter()
        .map(|r| Script {
            db_id: r.db_id,
            id: r.public_id(),
            name: scripts.text(r, "$name"),
            file: scripts.file(r, "$file"),
        })
        .collect();
    let file_ids: Vec<i64> = scripts.iter().filter_map(|s| s.file).collect();
    let files = aux::files_by_ids(conn, &file_ids)?;
    Ok(Loaded {
        events: events
            .rows
            .iter()
            .map(|r| Event {
                id: r.public_id(),
                name: events.text(r, "$name"),
                status: events.item(r, "$status"),
                catalog: events.link(r, "$catalog"),
                script: events.link(r, "$script"),
            })
            .collect(),
        listeners: listeners
            .rows
            .iter()
            .map(|r| Listener {
                id: r.public_id(),
                name: listeners.text(r, "$name"),
                script: listeners.link(r, "$script"),
            })
            .collect(),
        webhooks: webhooks
            .rows
            .iter()
            .map(|r| Webhook {
                id: r.public_id(),
                url: webhooks.text(r, "$url"),
                status: webhooks.item(r, "$status"),
                catalog: webhooks.link(r, "$catalog"),
            })
            .collect(),
        view_catalogs: views
            .rows
            .iter()
            .filter_map(|r| Some((r.db_id, views.link(r, "$catalogDbId")?)))
            .collect(),
        scripts,
        files,
        schema: Schema::new(sections, catalogs),
    })
}

/// Reads and compiles each script's file. A missing file or one that does not compile
/// leaves that script undetermined; file storage that fails otherwise fails the analysis,
/// since every script would be left undetermined by an outage.
pub async fn sources(data: &Loaded, files: &dyn FileStorage) -> Result<Vec<Source>, UpgradeError> {
    let mut out = Vec::with_capacity(data.scripts.len());
    for s in &data.scripts {
        let Some(file_id) = s.file else {
            out.push(Source::None);
            continue;
        };
        let Some(row) = data.files.get(&file_id) else {
            out.push(Source::Unreadable(format!("file {file_id} has no entry")));
            continue;
        };
        let key = match (&row.storage_key, row.purged) {
            (Some(k), false) => k.clone(),
            (_, true) => {
                out.push(Source::Unreadable(format!("file {file_id} was removed")));
                continue;
            }
            (None, false) => {
                out.push(Source::Unreadable(format!(
                    "file {file_id} is an external link"
                )));
                continue;
            }
        };
        let bytes = match files.get(&key).await {
            Ok(b) => b,
            Err(StorageError::NotFound) => {
                out.push(Source::Unreadable(format!(
                    "the bytes of file {file_id} are missing"
                )));
                continue;
            }
            Err(e) => {
                return Err(UpgradeError::Storage {
                    file_id,
                    key,
                    reason: e.to_string(),
                })
            }
        };
        out.push(
            match kartoteka_bpmn::compile(&bytes, &kartoteka_bpmn::NoCheck) {
                Ok(ir) => Source::Ir(Box::new(ir)),
                Err(e) => Source::Unreadable(e.to_string()),
            },
        );
    }
    Ok(out)
}
