//! `kartoteka-load`: fills a store with a large catalog for the list and aggregation
//! benchmarks, then times the bare SQL of the benchmark's list query on it.
//!
//! The catalog (text, number, date-time, dropdown, user) is created through the application
//! core like any other; the records are written straight through the store in batches of
//! `--batch` per transaction (no history, no titles, no events: a bulk load, not the write
//! path). Prints JSON: load time and rate, the catalog and field ids, the API paths of the
//! benchmark's list and Totals requests, the query plan, and the bare-SQL latencies.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use kartoteka_core::catalogs::{CatalogInput, SectionInput};
use kartoteka_core::webhooks::WebhookConfig;
use kartoteka_core::{Actor, App, CoreConfig};
use kartoteka_filter::{Input, Linked, Options, Scope};
use kartoteka_model::time::format_ms;
use kartoteka_model::value::FieldValue;
use kartoteka_model::FieldDef;
use kartoteka_store::query::{self, RecordQuery, Sort};
use kartoteka_store::records::{self as rec, Selector};
use kartoteka_store::Store;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(name = "kartoteka-load", about = "Bulk-loads a benchmark catalog")]
struct Args {
    /// `postgres://…`, or a SQLite file path.
    #[arg(long)]
    database: String,
    #[arg(long, default_value_t = 1_000_000)]
    records: i64,
    #[arg(long, default_value_t = 10_000)]
    batch: i64,
    /// Sequential runs of the bare list query to time.
    #[arg(long, default_value_t = 300)]
    sql_runs: usize,
    /// Skip the load: time the queries on this already loaded catalog (`dbId`).
    #[arg(long)]
    catalog: Option<i64>,
    /// Employees who own the records in turn (`owner1@bench.local` … with the password
    /// `bench123`), each the Owner of 1/N of them. They reach the catalog only through a
    /// rights view "My deals" (Owner = CURRENT_USER, `view` for every employee): the rights
    /// benchmark lists as one of them. 0 keeps the administrator as every record's Owner.
    #[arg(long, default_value_t = 10)]
    owners: i64,
}

/// The password of the benchmark's employees.
const OWNER_PASSWORD: &str = "bench123";

struct Fields<'a>(&'a [FieldDef]);

impl Scope for Fields<'_> {
    fn field(&self, id: &str) -> Option<&FieldDef> {
        self.0.iter().find(|f| f.id == id || f.prev_id == id)
    }
    fn linked(&self, _field: &FieldDef, _catalog_id: &str) -> Option<Linked<'_>> {
        None
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    ms(sorted[rank - 1])
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let (catalog, load) = match args.catalog {
        Some(db_id) => {
            let store = Store::open(&args.database).await.context("store")?;
            let row = store
                .read(move |c| kartoteka_store::schema::load_catalog(c, db_id))
                .await?
                .ok_or_else(|| anyhow!("no catalog {db_id}"))?;
            store.close();
            (
                Loaded {
                    db_id: row.db_id,
                    id: row.id,
                    fields: row.fields,
                },
                Duration::ZERO,
            )
        }
        None => load(&args).await?,
    };
    let field = |name: &str| -> Result<FieldDef> {
        catalog
            .fields
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .ok_or_else(|| anyhow!("no field {name}"))
    };
    let (title, amount, due, stage) = (
        field("Title")?,
        field("Amount")?,
        field("Due")?,
        field("Stage")?,
    );
    let items = item_ids(&stage)?;
    let store = Store::open(&args.database).await.context("store")?;
    let cat = catalog.db_id;
    // The benchmark's list: amount in [10000, 30000] AND stage = the first item, newest due
    // first, 100 per page.
    let filter_json = json!([
        {"fieldId": amount.id, "value": {"at": 10000, "to": 30000}},
        {"fieldId": stage.id, "value": [items[0]]},
    ]);
    let fields = catalog.fields.clone();
    let filter = kartoteka_filter::parse(
        &Input::json("filters", filter_json.clone()),
        &Fields(&fields),
        &Options::default(),
    )
    .map_err(|e| anyhow!("filter: {e}"))?;
    let q = RecordQuery {
        filter,
        search: None,
        ids: None,
        sort: Some(Sort {
            field_db_id: due.db_id,
            descending: true,
        }),
        limit: 100,
        offset: 0,
        current_user: None,
    };
    let (f2, q2) = (fields.clone(), q.clone());
    let sql = query::select(store.dialect(), cat, &fields, &q, "d.\"dbId\"").sql;
    let (plan, matched) = store
        .read(move |c| -> Result<_, kartoteka_store::StoreError> {
            Ok((
                query::explain(c, cat, &f2, &q2)?,
                query::count(c, cat, &f2, &q2)?,
            ))
        })
        .await?;
    let mut page_ids = Vec::with_capacity(args.sql_runs);
    let mut page_rows = Vec::with_capacity(args.sql_runs);
    let mut counts = Vec::with_capacity(args.sql_runs);
    for _ in 0..args.sql_runs {
        let (f2, q2) = (fields.clone(), q.clone());
        let times = store
            .read(move |c| -> Result<_, kartoteka_store::StoreError> {
                // The page as the API reads it (probe in sort order, else the planned
                // query), the planned query alone, and the capped count the API runs.
                let t0 = Instant::now();
                let rows = rec::fetch_records(c, cat, &f2, &Selector::Query(Box::new(q2.clone())))?;
                let t1 = t0.elapsed();
                let t0 = Instant::now();
                let _ = query::page_ids(c, cat, &f2, &q2)?;
                let t2 = t0.elapsed();
                let t0 = Instant::now();
                let _ = query::count_upto(c, cat, &f2, &q2, 1000)?;
                let t3 = t0.elapsed();
                Ok((t1, t2, t3, rows.len()))
            })
            .await?;
        page_ids.push(times.0);
        page_rows.push(times.1);
        counts.push(times.2);
    }
    store.close();
    for v in [&mut page_ids, &mut page_rows, &mut counts] {
        v.sort_unstable();
    }
    let summary = |v: &[Duration]| json!({"p50": pct(v, 0.5), "p99": pct(v, 0.99)});
    let filters = serde_json::to_string(&filter_json)?;
    let encoded: String = filters
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let out = json!({
        "records": args.records,
        "load_s": (load.as_secs_f64() * 10.0).round() / 10.0,
        "load_records_per_s": (args.records as f64 / load.as_secs_f64()).round(),
        "catalog": catalog.id,
        "fields": {"title": title.id, "amount": amount.id, "due": due.id, "stage": stage.id},
        "list_path": format!("/api/v1/catalogs/{}/records?limit=100&sortField={}&sortType=-1&filters={encoded}", catalog.id, due.id),
        "totals_path": format!("/api/v1/catalogs/{}/totals", catalog.id),
        "employee": {"email": "owner1@bench.local", "password": OWNER_PASSWORD, "sees": "the records whose Owner they are, through the rights view My deals"},
        "matched": matched,
        "sql": sql,
        "plan": plan,
        "bare_sql_ms": {"page": summary(&page_ids), "planned_query_alone": summary(&page_rows), "count_upto_1000": summary(&counts)},
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Creates `n` employees and gives them the catalog through a rights view only: the
/// section keeps one rule (the administrator's `admin`), and the view "My deals" (Owner =
/// CURRENT_USER) gives every employee `view`. Returns the employees' `$users` `dbId`s.
async fn owners_and_rights(app: &App, section: &str, catalog: &str, n: i64) -> Result<Vec<i64>> {
    use kartoteka_core::records::RecordInput;
    use kartoteka_core::rights_api::{ObjectRef, RuleIn};
    use kartoteka_core::views::ViewInput;
    if n <= 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for k in 1..=n {
        let values = json!({"$name": format!("Owner {k}"), "$email": format!("owner{k}@bench.local"), "$password": OWNER_PASSWORD});
        let r = app
            .create_record(
                &Actor::System,
                "$users",
                RecordInput {
                    values: values.as_object().cloned().unwrap_or_default(),
                    ..Default::default()
                },
            )
            .await
            .context("employee")?;
        out.push(r.id.parse::<i64>().context("employee id")?);
    }
    let owner = app
        .schema()
        .catalog(catalog)?
        .fields
        .iter()
        .find(|f| f.name == "Owner")
        .map(|f| f.id.clone())
        .ok_or_else(|| anyhow!("no Owner field"))?;
    let view = app
        .create_view(
            &Actor::System,
            catalog,
            ViewInput {
                name: Some("My deals".into()),
                for_rights: Some(true),
                filters: Some(json!([{"fieldId": owner, "value": ["CURRENT_USER"]}])),
                ..Default::default()
            },
        )
        .await
        .context("rights view")?;
    let rule = |attr: &str, record: Option<String>, code: &str| RuleIn {
        user_attr: Some(attr.into()),
        catalog_id: record.as_ref().map(|_| "$users".to_string()),
        record_id: record,
        privilege: code.into(),
        fields: None,
    };
    app.set_rights(
        &Actor::System,
        &ObjectRef {
            section_id: Some(section.into()),
            ..Default::default()
        },
        vec![rule("id", Some("1".into()), "admin")],
    )
    .await
    .context("section rules")?;
    app.set_rights(
        &Actor::System,
        &ObjectRef {
            catalog_id: Some(catalog.into()),
            view_id: Some(view.id),
            ..Default::default()
        },
        vec![rule("allUsers", None, "view")],
    )
    .await
    .context("view rules")?;
    Ok(out)
}

/// The catalog the benchmark reads.
struct Loaded {
    db_id: i64,
    id: String,
    fields: Vec<FieldDef>,
}

fn item_ids(stage: &FieldDef) -> Result<Vec<String>> {
    let items: Vec<String> = stage
        .config
        .get("items")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|i| i.get("id").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if items.len() != 3 {
        return Err(anyhow!("expected 3 stage items, got {items:?}"));
    }
    Ok(items)
}

/// Creates the catalog through the core and writes the records through the store.
async fn load(args: &Args) -> Result<(Loaded, Duration)> {
    let files = std::env::temp_dir().join("kartoteka-load-files");
    let app = App::open(&CoreConfig {
        database_url: args.database.clone(),
        files_dir: files,
        public_url: String::new(),
        webhooks: WebhookConfig::default(),
    })
    .await
    .context("opening the store")?;
    app.ensure_admin(Some("admin@example.com"), Some("admin123"))
        .await
        .context("administrator")?;
    let section = app
        .create_section(
            &Actor::System,
            SectionInput {
                name: Some("Bench 1M".into()),
                ..Default::default()
            },
        )
        .await
        .context("section")?;
    let catalog = app
        .create_catalog(
            &Actor::System,
            CatalogInput {
                section_id: Some(section.id.clone()),
                name: Some("Deals 1M".into()),
                history: Some(false),
                fields: Some(vec![
                    json!({"name": "Title", "type": "text", "config": {"type": "text"}}),
                    json!({"name": "Amount", "type": "number", "config": {}}),
                    json!({"name": "Due", "type": "date", "config": {"time": true}}),
                    json!({"name": "Stage", "type": "dropdown", "config": {"items": [{"name": "New"}, {"name": "Won"}, {"name": "Lost"}]}}),
                    json!({"name": "Owner", "type": "user", "config": {}}),
                ]),
                ..Default::default()
            },
        )
        .await
        .context("catalog")?;
    let owners = owners_and_rights(&app, &section.id, &catalog.id, args.owners).await?;
    app.close();
    drop(app);

    let field = |name: &str| -> Result<FieldDef> {
        catalog
            .fields
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .ok_or_else(|| anyhow!("no field {name}"))
    };
    let (title, amount, due, stage, owner) = (
        field("Title")?,
        field("Amount")?,
        field("Due")?,
        field("Stage")?,
        field("Owner")?,
    );
    let items = item_ids(&stage)?;
    let store = Store::open(&args.database).await.context("store")?;
    let cat = catalog.db_id;
    let started = Instant::now();
    let base = 1_577_836_800_000_i64; // 2020-01-01
    let span = 7 * 365 * 86_400_000_i64;
    let mut n = 0;
    while n < args.records {
        let upto = (n + args.batch).min(args.records);
        let owners = owners.clone();
        let (t, a, d, s, o, items) = (
            title.clone(),
            amount.clone(),
            due.clone(),
            stage.clone(),
            owner.clone(),
            items.clone(),
        );
        store
            .write(move |c| -> Result<(), kartoteka_store::StoreError> {
                let now = format_ms(kartoteka_model::time::now_ms());
                for i in n..upto {
                    // A cheap scramble so that amount, date and stage are not correlated.
                    let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    let vals = [
                        FieldValue::Text(format!("Deal {i}")),
                        FieldValue::Number(Some((h % 100_000) as f64)),
                        FieldValue::Date(Some(base + ((h >> 20) as i64).rem_euclid(span))),
                        FieldValue::Items(vec![items[((h >> 40) % 3) as usize].clone()]),
                        FieldValue::Users(vec![match owners.len() {
                            0 => "1".to_string(),
                            k => owners[(i % k as i64) as usize].to_string(),
                        }]),
                    ];
                    let pairs: Vec<(&FieldDef, &FieldValue)> =
                        [&t, &a, &d, &s, &o].into_iter().zip(vals.iter()).collect();
                    rec::insert_record(c, cat, None, Some(1), &now, &pairs)?;
                }
                Ok(())
            })
            .await
            .context("batch")?;
        n = upto;
        if n % 100_000 == 0 || n == args.records {
            eprintln!(
                "kartoteka-load: {n} records, {:.0} records/s",
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let load = started.elapsed();

    store.close();
    Ok((
        Loaded {
            db_id: catalog.db_id,
            id: catalog.id.clone(),
            fields: catalog.fields.clone(),
        },
        load,
    ))
}
