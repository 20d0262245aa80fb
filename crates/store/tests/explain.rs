//! Index use of record queries, asked of each backend's planner: a sort by a date both ways,
//! a number range with a dropdown filter sorted by a date (the plans `docs/filters.md`
//! shows), and the same list of one owner's records (an owner index). Runs on SQLite, and on
//! PostgreSQL when `KARTOTEKA_TEST_DATABASE_URL` is set.

use kartoteka_filter::{Cond, FieldRef, Filter, UserRef};
use kartoteka_model::value::FieldValue;
use kartoteka_model::{FieldDef, FieldType};
use kartoteka_store::query::{self, RecordQuery, Sort};
use kartoteka_store::records::insert_record;
use kartoteka_store::schema::{
    insert_catalog, insert_field, insert_section, CatalogRow, SectionRow,
};
use kartoteka_store::{Store, StoreError};
use serde_json::{json, Value};

const CATALOG: i64 = 100;
const ROWS: i64 = 10_000;

fn field(db_id: i64, t: FieldType, config: Value) -> FieldDef {
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
        config: config.as_object().cloned().unwrap_or_default(),
        visible: Value::Null,
        is_system: false,
        column: format!("f{db_id}"),
    }
}

fn fields() -> Vec<FieldDef> {
    vec![
        field(9001, FieldType::Number, json!({})),
        field(
            9002,
            FieldType::Dropdown,
            json!({"items": [{"id": "1"}, {"id": "2"}, {"id": "3"}, {"id": "4"}, {"id": "5"}]}),
        ),
        field(9003, FieldType::Date, json!({"time": true})),
        field(9004, FieldType::User, json!({})),
    ]
}

/// A catalog with `ROWS` records: amounts 0..1000, five stages, dates over ~14 years (two
/// records on each, out of the records' order, one in 97 empty), ten owners.
async fn seeded(store: &Store) -> Result<(), StoreError> {
    store
        .write(|c| -> Result<(), StoreError> {
            let fs = fields();
            insert_section(
                c,
                &SectionRow {
                    db_id: 3,
                    id: "3".into(),
                    name: "Sales".into(),
                    icon: String::new(),
                    priority: 3,
                    is_system: false,
                    deleted: false,
                },
            )?;
            insert_catalog(
                c,
                &CatalogRow {
                    db_id: CATALOG,
                    id: CATALOG.to_string(),
                    section_db_id: 3,
                    name: "Deals".into(),
                    icon: String::new(),
                    history: false,
                    priority: 0,
                    is_system: false,
                    deleted: false,
                    next_field_id: 1,
                    fields: vec![],
                },
            )?;
            for (i, f) in fs.iter().enumerate() {
                insert_field(c, CATALOG, f, i as i64 + 1)?;
            }
            query::sync_owner_indexes(c, CATALOG, &fs)?;
            for n in 0..ROWS {
                let amount = FieldValue::Number(Some((n * 7919 % 1000) as f64));
                let stage = FieldValue::Items(vec![(n % 5 + 1).to_string()]);
                // Dates out of the records' order, each on two records, some empty.
                let due = FieldValue::Date(
                    (n % 97 != 0).then_some(1_000_000_000_000 + (n * 7 % 5_000) * 86_400_000),
                );
                let owner = FieldValue::Users(vec![(n % 10 + 1).to_string()]);
                let values = [
                    (&fs[0], &amount),
                    (&fs[1], &stage),
                    (&fs[2], &due),
                    (&fs[3], &owner),
                ];
                insert_record(c, CATALOG, None, None, "2024-01-01T00:00:00.000Z", &values)?;
            }
            c.batch("ANALYZE")
        })
        .await
}

fn list_query(descending: bool, filtered: bool, owner: bool) -> RecordQuery {
    let fs = fields();
    let mut parts = Vec::new();
    if filtered {
        parts.push(Filter::Field(
            FieldRef::of(&fs[0]),
            Cond::Range {
                at: Some(100.0),
                to: Some(120.0),
            },
        ));
        parts.push(Filter::Field(
            FieldRef::of(&fs[1]),
            Cond::AnyItem(vec!["2".into()]),
        ));
    }
    if owner {
        parts.push(Filter::Field(
            FieldRef::of(&fs[3]),
            Cond::Users(vec![UserRef::Current]),
        ));
    }
    RecordQuery {
        filter: Filter::and(parts),
        search: None,
        ids: None,
        sort: Some(Sort {
            field_db_id: fs[2].db_id,
            descending,
        }),
        limit: 20,
        offset: 0,
        current_user: Some(3),
    }
}

async fn plan(
    store: &Store,
    descending: bool,
    filtered: bool,
    owner: bool,
) -> Result<String, StoreError> {
    let q = list_query(descending, filtered, owner);
    store
        .read(move |c| query::explain(c, CATALOG, &fields(), &q))
        .await
}

/// On SQLite, the probe walks the sort order as a co-routine and ends with the page: no
/// sort of what it read (an ascending walk orders the records of one date by their id in
/// runs, `TEMP B-TREE FOR LAST TERM`, which still ends with the page). Its page is the
/// planned statement's, row for row.
async fn check_probe(store: &Store) {
    for (descending, owner) in [(false, false), (true, false), (true, true)] {
        let q = list_query(descending, true, owner);
        let p = store
            .read(move |c| query::explain_probe(c, CATALOG, &fields(), &q))
            .await
            .expect("plan")
            .expect("a probe applies");
        println!("--- SQLite probe, date descending {descending}, owner {owner}:\n{p}");
        assert!(
            p.contains("CO-ROUTINE") && !p.contains("TEMP B-TREE FOR ORDER BY"),
            "the probe sorts what it read:\n{p}"
        );
        assert!(
            p.contains("USING COVERING INDEX catalog_100_ox_9002_9003"),
            "the probe does not walk the owner index alone:\n{p}"
        );
    }
    for descending in [false, true] {
        for offset in [0, 20, 35] {
            let mut q = list_query(descending, true, false);
            // Amounts 100–500 of stage 2: about 400 of its 2,000 records.
            q.filter = Filter::and(vec![
                Filter::Field(
                    FieldRef::of(&fields()[0]),
                    Cond::Range {
                        at: Some(100.0),
                        to: Some(500.0),
                    },
                ),
                Filter::Field(FieldRef::of(&fields()[1]), Cond::AnyItem(vec!["2".into()])),
            ]);
            q.offset = offset;
            let (probed, planned) = store
                .read(move |c| -> Result<_, StoreError> {
                    let fs = fields();
                    let st = query::probe_select(
                        c.dialect(),
                        CATALOG,
                        &fs,
                        &q,
                        "d.\"dbId\"",
                        query::probe_rows(&q),
                    )
                    .expect("a probe applies");
                    let probed = c
                        .query(&st.sql, &st.params)?
                        .iter()
                        .map(|r| r.int(0))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((probed, query::page_ids(c, CATALOG, &fs, &q)?))
                })
                .await
                .expect("pages");
            assert_eq!(probed.len(), 20, "descending {descending}, offset {offset}");
            assert_eq!(
                probed, planned,
                "descending {descending}, offset {offset}: the probe's page differs"
            );
        }
    }
}

/// The dispatcher's looks at a hook's queue read the index of pending deliveries, not the
/// whole log of the hook: 2,000 sent deliveries, then 10 pending ones.
async fn check_outbox(store: &Store, backend: &str) {
    use kartoteka_store::outbox::{self, NewDelivery};
    store
        .write(|c| -> Result<(), StoreError> {
            for n in 0..2_010_i64 {
                let pending = n >= 2_000;
                outbox::insert(
                    c,
                    &NewDelivery {
                        hook_id: 1,
                        seq: None,
                        kind: "notification",
                        event: "record.created",
                        catalog_db_id: Some(CATALOG),
                        record_db_id: Some(n),
                        payload: "{}",
                        user_id: None,
                        state: if pending { "pending" } else { "delivered" },
                        now: 1_000 + n,
                        resend_of: None,
                    },
                )?;
            }
            // SQLite runs without statistics (the server never gathers them for the
            // outbox); PostgreSQL gathers them on its own soon after a load.
            if c.dialect() == kartoteka_store::Dialect::Postgres {
                c.batch("ANALYZE webhook_deliveries")?;
            }
            Ok(())
        })
        .await
        .expect("outbox seed");
    let (plans, batch, heads) = store
        .read(|c| -> Result<_, StoreError> {
            Ok((
                outbox::explain_pending(c)?,
                outbox::pending_of(c, 1, 256)?,
                outbox::pending_heads(c, &[1, 2])?,
            ))
        })
        .await
        .expect("outbox reads");
    for p in &plans {
        println!("--- {backend}, pending deliveries:\n{p}");
        assert!(
            p.contains("webhook_deliveries_pending"),
            "{backend}: the queue is not read through its index:\n{p}"
        );
    }
    let records: Vec<Option<i64>> = batch.iter().map(|d| d.record_db_id).collect();
    assert_eq!(records, (2_000..2_010).map(Some).collect::<Vec<_>>());
    assert_eq!(heads, vec![(1, 3_000)]);
}

async fn check(store: &Store, backend: &str) {
    check_outbox(store, backend).await;
    seeded(store).await.expect("seed");
    if store.dialect() == kartoteka_store::Dialect::Sqlite {
        check_probe(store).await;
    }
    // Sorted by the date alone: read along the date's index, both ways.
    for descending in [false, true] {
        let p = plan(store, descending, false, false).await.expect("plan");
        println!(
            "--- {backend}, no filter, date {}:\n{p}",
            if descending {
                "descending"
            } else {
                "ascending"
            }
        );
        assert!(
            p.contains("catalog_100_ix_9003"),
            "{backend}: the date index is not read:\n{p}"
        );
    }
    // Filtered by a number range and a single-valued dropdown: the number's index, or the
    // dropdown's owner index (the stage with the number or the date), narrows the records.
    for descending in [false, true] {
        let p = plan(store, descending, true, false).await.expect("plan");
        println!(
            "--- {backend}, date {}:\n{p}",
            if descending {
                "descending"
            } else {
                "ascending"
            }
        );
        let uses_index = match store.dialect() {
            // With the statistics of ANALYZE, SQLite may also skip-scan the owner index
            // that pairs the (ten-valued) owner with the number.
            kartoteka_store::Dialect::Sqlite => {
                p.contains("USING INDEX catalog_100_ix_")
                    || p.contains("USING INDEX catalog_100_ox_9002")
                    || p.contains("USING INDEX catalog_100_ox_9004_9001")
            }
            kartoteka_store::Dialect::Postgres => ["ix_", "ox_9002"].iter().any(|i| {
                p.contains(&format!(" on catalog_100_{i}"))
                    || p.contains(&format!(" using catalog_100_{i}"))
            }),
        };
        assert!(uses_index, "{backend}: no field index in the plan:\n{p}");
    }
    // One owner's records (a rights view `Owner = CURRENT_USER`) with the same filter: an
    // owner index (the user field with a key field) narrows to that owner's records.
    for descending in [false, true] {
        let p = plan(store, descending, true, true).await.expect("plan");
        println!("--- {backend}, one owner, date descending {descending}:\n{p}");
        assert!(
            p.contains("catalog_100_ox_9004"),
            "{backend}: no owner index in the plan:\n{p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_and_dropdown_sorted_by_date_use_an_index() {
    let dir = std::env::temp_dir().join(format!("kartoteka-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = Store::open_sqlite(&dir.join("k.db")).expect("sqlite");
    check(&store, "SQLite").await;
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
    check(&store, "PostgreSQL").await;
    store.close();
    let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
}
