//! A filterable field gets its index with its column, loses it when it stops being
//! filterable, and can be deleted with it (SQLite refuses to drop an indexed column). Runs on
//! SQLite, and on PostgreSQL when `KARTOTEKA_TEST_DATABASE_URL` is set.

use kartoteka_model::value::FieldValue;
use kartoteka_model::{FieldDef, FieldType};
use kartoteka_store::query::has_field_index;
use kartoteka_store::records::insert_record;
use kartoteka_store::schema::{
    delete_field, insert_catalog, insert_field, insert_section, update_field, CatalogRow,
    SectionRow,
};
use kartoteka_store::{Dialect, Store, StoreError};
use serde_json::Value;

fn field(db_id: i64, t: FieldType) -> FieldDef {
    FieldDef {
        db_id,
        id: db_id.to_string(),
        prev_id: db_id.to_string(),
        duplicate: false,
        name: format!("f{db_id}"),
        field_type: t,
        hint: String::new(),
        required: false,
        api_only: false,
        filterable: true,
        history: true,
        hidden: false,
        comment: String::new(),
        config: Default::default(),
        visible: Value::Null,
        is_system: false,
        column: format!("f{db_id}"),
    }
}

async fn check(store: &Store) {
    let pg = store.dialect() == Dialect::Postgres;
    store
        .write(move |c| -> Result<(), StoreError> {
            insert_section(
                c,
                &SectionRow {
                    db_id: 3,
                    id: "3".into(),
                    name: "S".into(),
                    icon: String::new(),
                    priority: 3,
                    is_system: false,
                    deleted: false,
                },
            )?;
            insert_catalog(
                c,
                &CatalogRow {
                    db_id: 100,
                    id: "100".into(),
                    section_db_id: 3,
                    name: "C".into(),
                    icon: String::new(),
                    history: false,
                    priority: 0,
                    is_system: false,
                    deleted: false,
                    next_field_id: 1,
                    fields: vec![],
                },
            )?;
            let mut amount = field(9001, FieldType::Number);
            let title = field(9002, FieldType::Text);
            let stage = field(9003, FieldType::Dropdown);
            insert_field(c, 100, &amount, 1)?;
            insert_field(c, 100, &title, 2)?;
            insert_field(c, 100, &stage, 3)?;
            assert!(has_field_index(c, 100, &amount)?);
            // Text and item lists are indexed on PostgreSQL only.
            assert_eq!(has_field_index(c, 100, &title)?, pg);
            assert_eq!(has_field_index(c, 100, &stage)?, pg);
            amount.filterable = false;
            update_field(c, 100, &amount, 1)?;
            assert!(!has_field_index(c, 100, &amount)?);
            amount.filterable = true;
            update_field(c, 100, &amount, 1)?;
            assert!(has_field_index(c, 100, &amount)?);
            update_field(c, 100, &amount, 1)?;
            delete_field(c, 100, &amount)?;
            delete_field(c, 100, &title)?;
            delete_field(c, 100, &stage)?;
            assert!(!has_field_index(c, 100, &amount)?);

            // Migration 42: a single-valued user field whose records hold several employees
            // (possible before the core refused that switch) becomes multiselect again, and
            // only the truly single one gets owner indexes.
            let owner = field(9004, FieldType::User);
            let team = field(9005, FieldType::User);
            insert_field(c, 100, &owner, 1)?;
            insert_field(c, 100, &team, 2)?;
            let one = FieldValue::Users(vec!["1".into()]);
            let two = FieldValue::Users(vec!["1".into(), "2".into()]);
            insert_record(
                c,
                100,
                None,
                None,
                "2024-01-01T00:00:00.000Z",
                &[(&owner, &one), (&team, &two)],
            )?;
            kartoteka_store::migrate::owner_indexes(c)?;
            let cat = kartoteka_store::schema::load_catalogs(c)?
                .into_iter()
                .find(|k| k.db_id == 100)
                .expect("catalog");
            let multi = |id: i64| {
                cat.fields
                    .iter()
                    .find(|f| f.db_id == id)
                    .map(|f| f.multiselect())
            };
            assert_eq!(multi(9004), Some(false));
            assert_eq!(multi(9005), Some(true));
            let names: Vec<String> =
                kartoteka_store::query::owner_indexes(c.dialect(), 100, &cat.fields)
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
            assert_eq!(names, vec!["catalog_100_ox_9004".to_string()]);
            Ok(())
        })
        .await
        .expect("field indexes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_follow_filterable_fields() {
    let dir = std::env::temp_dir().join(format!("kartoteka-ix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = Store::open_sqlite(&dir.join("k.db")).expect("sqlite");
    check(&store).await;
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
    let Ok(base) = std::env::var("KARTOTEKA_TEST_DATABASE_URL") else {
        return;
    };
    if base.is_empty() {
        return;
    }
    let (url, schema) =
        kartoteka_store::testing::fresh_postgres_schema(&base).expect("postgres schema");
    let store = Store::open_postgres(&url).await.expect("postgres");
    check(&store).await;
    store.close();
    let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
}
