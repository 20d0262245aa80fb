//! The registries as records: every section is a record of `$sections` and every catalog a
//! record of `$catalogs` (spec 02 §1.2), so that link fields such as `$webhooks.$catalog` and
//! `$events.$catalog` can point at catalogs. A registry record takes the `dbId` of what it
//! describes and its public id (`"$users"`, `"deals"`, `"100"`); it is written in the same
//! transaction as every change of the section or catalog, so the two never disagree.

use kartoteka_model::time::{format_ms, now_ms};
use kartoteka_model::value::{FieldValue, LinkRef};
use kartoteka_model::FieldDef;

use crate::conn::Conn;
use crate::error::StoreError;
use crate::records::{self, Selector};
use crate::schema::{self, CatalogRow, SectionRow};

/// `$catalogs` and `$sections`, by dbId.
pub const CATALOGS_CATALOG: i64 = 1;
pub const SECTIONS_CATALOG: i64 = 2;

/// The record values that describe one registry entry, by system field id.
fn upsert(
    conn: &mut dyn Conn,
    registry: i64,
    db_id: i64,
    public_id: &str,
    title: &str,
    deleted: bool,
    values: Vec<(&str, FieldValue)>,
) -> Result<(), StoreError> {
    // Without its registry catalog (a store migrated only part way) there is nothing to keep.
    let Some(reg) = schema::load_catalog(conn, registry)? else {
        return Ok(());
    };
    let exists =
        !records::fetch_records(conn, registry, &[], &Selector::Ids(vec![db_id]))?.is_empty();
    if deleted {
        if exists {
            records::delete_record(conn, registry, db_id)?;
            records::mark_title_deleted(conn, registry, db_id)?;
        }
        return Ok(());
    }
    let pairs: Vec<(&FieldDef, &FieldValue)> = values
        .iter()
        .filter_map(|(id, v)| reg.fields.iter().find(|f| f.id == *id).map(|f| (f, v)))
        .collect();
    let custom = Some(public_id).filter(|p| *p != db_id.to_string());
    if exists {
        records::update_record(conn, registry, db_id, &pairs)?;
    } else {
        records::insert_record_at(
            conn,
            registry,
            Some(db_id),
            custom,
            None,
            &format_ms(now_ms()),
            &pairs,
        )?;
    }
    records::upsert_title(conn, registry, db_id, custom, title)
}

/// Writes the `$sections` record of a section.
pub fn mirror_section(conn: &mut dyn Conn, s: &SectionRow) -> Result<(), StoreError> {
    upsert(
        conn,
        SECTIONS_CATALOG,
        s.db_id,
        &s.id,
        &s.name,
        s.deleted,
        vec![
            ("$name", FieldValue::Text(s.name.clone())),
            ("$icon", FieldValue::Text(s.icon.clone())),
            ("$priority", FieldValue::Number(Some(s.priority as f64))),
        ],
    )
}

/// Writes the `$catalogs` record of a catalog.
pub fn mirror_catalog(conn: &mut dyn Conn, c: &CatalogRow) -> Result<(), StoreError> {
    upsert(
        conn,
        CATALOGS_CATALOG,
        c.db_id,
        &c.id,
        &c.name,
        c.deleted,
        vec![
            ("$name", FieldValue::Text(c.name.clone())),
            ("$icon", FieldValue::Text(c.icon.clone())),
            (
                "$sectionDbId",
                FieldValue::Links(vec![LinkRef {
                    catalog_id: SECTIONS_CATALOG.to_string(),
                    record_id: c.section_db_id.to_string(),
                }]),
            ),
            ("$history", FieldValue::Bool(c.history)),
        ],
    )
}

/// Writes the registry records of every section and catalog (a migration step, and after
/// changes that touch many at once).
pub fn mirror_all(conn: &mut dyn Conn) -> Result<(), StoreError> {
    for s in schema::load_sections(conn)? {
        mirror_section(conn, &s)?;
    }
    for c in schema::load_catalogs(conn)? {
        mirror_catalog(conn, &c)?;
    }
    Ok(())
}
