//! The upgrade-readiness analysis end to end: a store built through the application core
//! (catalogs, events, listeners, webhooks, uploaded scenario files written here by hand),
//! opened read-only, analysed, and the Excel report read back. Runs on SQLite, or on
//! PostgreSQL when `KARTOTEKA_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx};
use kartoteka_core::catalogs::{CatalogInput, SectionInput};
use kartoteka_core::files::storage::LocalStorage;
use kartoteka_core::files::UploadRequest;
use kartoteka_core::records::RecordInput;
use kartoteka_core::webhooks::WebhookConfig;
use kartoteka_core::{Actor, App, CoreConfig};
use kartoteka_store::Store;
use kartoteka_upgrade::{
    analyze, xlsx, CatalogReason, DbLocation, Options, Report, ScriptEntry, TriggerKind,
};
use serde_json::{json, Map, Value};

fn unique(prefix: &str) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ))
}

/// A fresh store: a data folder, and the database URL (SQLite in the folder, or a fresh
/// PostgreSQL schema).
struct Fixture {
    dir: PathBuf,
    url: String,
    pg: Option<(String, String)>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = unique("kartoteka-upgrade");
        std::fs::create_dir_all(&dir).unwrap();
        match std::env::var("KARTOTEKA_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let (url, schema) = kartoteka_store::testing::fresh_postgres_schema(&base).unwrap();
                Fixture {
                    dir,
                    url,
                    pg: Some((base, schema)),
                }
            }
            _ => Fixture {
                url: dir.join("kartoteka.db").to_string_lossy().into_owned(),
                dir,
                pg: None,
            },
        }
    }

    async fn app(&self) -> Arc<App> {
        App::open(&CoreConfig {
            database_url: self.url.clone(),
            files_dir: self.dir.join("files"),
            public_url: String::new(),
            webhooks: WebhookConfig::default(),
        })
        .await
        .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg {
            let _ = kartoteka_store::testing::drop_postgres_schema(base, schema);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const SYS: Actor = Actor::System;

fn values(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

async fn record(app: &App, catalog: &str, id: Option<&str>, v: Value) -> String {
    app.create_record(
        &SYS,
        catalog,
        RecordInput {
            values: values(v),
            id: id.map(String::from),
            tz_offset_min: 0,
        },
    )
    .await
    .unwrap()
    .id
}

/// Creates a catalog and returns (id, ids of its fields in order).
async fn catalog(app: &App, section: &str, name: &str, fields: Value) -> (String, Vec<String>) {
    let c = app
        .create_catalog(
            &SYS,
            CatalogInput {
                section_id: Some(section.into()),
                name: Some(name.into()),
                fields: Some(fields.as_array().cloned().unwrap()),
                ..CatalogInput::default()
            },
        )
        .await
        .unwrap();
    (
        c.id.clone(),
        c.fields.iter().map(|f| f.id.clone()).collect(),
    )
}

fn text(name: &str) -> Value {
    json!({"name": name, "type": "text", "config": {"type": "text"}})
}

fn link(name: &str, target: &str) -> Value {
    json!({"name": name, "type": "object", "config": {"catalogs": [{"id": target}]}})
}

/// A `$catalogs` / `$scripts` link value.
fn to(catalog: &str, record: &str) -> Value {
    json!([{"catalogId": catalog, "recordId": record}])
}

// --- scenario files, written by hand -------------------------------------------------------

/// An input parameter holding an expression.
fn expr(name: &str, value: &str) -> String {
    format!(
        r#"<camunda:inputParameter name="{name}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:inputParameter>"#,
        json!({"type": "script", "value": value})
    )
}

/// An input parameter holding a constant.
fn konst(name: &str, value: &str) -> String {
    format!(
        r#"<camunda:inputParameter name="{name}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:inputParameter>"#,
        json!({"type": "const", "value": value})
    )
}

/// A list choice.
fn list(name: &str, value: &str) -> String {
    format!(
        r#"<camunda:inputParameter name="{name}"><camunda:list><camunda:value type="const">{value}</camunda:value></camunda:list></camunda:inputParameter>"#
    )
}

/// Key = value pairs of expressions.
fn pairs(name: &str, entries: &[(&str, &str)]) -> String {
    let mut s = format!(r#"<camunda:inputParameter name="{name}"><camunda:map>"#);
    for (k, v) in entries {
        s.push_str(&format!(
            r#"<camunda:entry key="{k}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:entry>"#,
            json!({"type": "script", "value": v})
        ));
    }
    s.push_str("</camunda:map></camunda:inputParameter>");
    s
}

/// A result slot copied into a variable.
fn output(target: &str, slot: &str) -> String {
    format!(
        r#"<camunda:outputParameter name="{target}" configName="{slot}"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:outputParameter>"#,
        json!({"type": "outputResult", "value": slot})
    )
}

/// A `setvar` assignment.
fn assign(target: &str, value: &str) -> String {
    format!(
        r#"<camunda:outputParameter name="{target}" configName="vars"><camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script></camunda:outputParameter>"#,
        json!({"type": "script", "value": value})
    )
}

/// A scenario: start → the tasks in order → end. Each task is (connector, parameters).
fn bpmn(tasks: &[(&str, String)]) -> Vec<u8> {
    let mut nodes = String::from(r#"<bpmn:startEvent id="StartEvent_1" name="" />"#);
    let mut flows = String::new();
    let mut prev = "StartEvent_1".to_string();
    for (i, (connector, io)) in tasks.iter().enumerate() {
        let id = format!("ServiceTask_{i}");
        nodes.push_str(&format!(
            r#"<bpmn:serviceTask id="{id}" name="step {i}"><bpmn:extensionElements><camunda:connector><camunda:connectorId>{connector}</camunda:connectorId></camunda:connector><camunda:inputOutput>{io}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#
        ));
        flows.push_str(&format!(
            r#"<bpmn:sequenceFlow id="Flow_{i}" sourceRef="{prev}" targetRef="{id}" />"#
        ));
        prev = id;
    }
    nodes.push_str(r#"<bpmn:endEvent id="EndEvent_1" name="" />"#);
    flows.push_str(&format!(
        r#"<bpmn:sequenceFlow id="Flow_end" sourceRef="{prev}" targetRef="EndEvent_1" />"#
    ));
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="false">{nodes}{flows}</bpmn:process>
</bpmn:definitions>"#
    )
    .into_bytes()
}

fn run_process(target: &str, params: &[(&str, &str)]) -> (&'static str, String) {
    (
        "runProcess",
        format!(
            "{}{}{}",
            list("scriptFormat", "script"),
            konst("scriptId", target),
            pairs("values1", params)
        ),
    )
}

fn read_catalog(connector: &'static str, catalog: &str, out: &str) -> (&'static str, String) {
    (
        connector,
        format!(
            "{}{}{}",
            list("catalogFormat", "catalog"),
            expr("catalogId", catalog),
            output(out, "output")
        ),
    )
}

fn web_request(url_expr: &str) -> (&'static str, String) {
    (
        "webRequest",
        format!("{}{}", list("method", "GET"), expr("query", url_expr)),
    )
}

/// Uploads a scenario file and creates its `$scripts` record with a custom id.
async fn script(app: &App, id: &str, name: &str, file: Vec<u8>) -> String {
    let ticket = app
        .begin_upload(
            &SYS,
            UploadRequest {
                catalog_id: "$scripts".into(),
                record_id: None,
                field_id: "$file".into(),
                name: format!("{id}.bpmn"),
                size: file.len() as i64,
                mime_type: "application/bpmn+xml".into(),
                type_storage: Some("remoteStorage".into()),
            },
        )
        .await
        .unwrap();
    app.receive_upload(
        &ticket.key,
        &ticket.policy,
        &ticket.signature,
        bytes::Bytes::from(file),
    )
    .await
    .unwrap();
    record(
        app,
        "$scripts",
        Some(id),
        json!({"$name": name, "$file": [{"id": ticket.file_id.to_string()}]}),
    )
    .await
}

/// Ids the test checks against.
struct Built {
    clients: String,
    clients_manager: String,
    orders: String,
    orders_client: String,
    lines: String,
    lines_order: String,
    staff: String,
    products: String,
    tasks: String,
    dangerous_event: String,
    safe_event: String,
    broken_event: String,
    listener: String,
    webhook: String,
}

/// The store every assertion below is about.
async fn build(app: &App) -> Built {
    let main = app
        .create_section(
            &SYS,
            SectionInput {
                name: Some("Продажи".into()),
                ..SectionInput::default()
            },
        )
        .await
        .unwrap()
        .id;
    // D: links to $users. I: Orders → Clients, Lines → Orders → Clients.
    let (clients, f) = catalog(
        app,
        &main,
        "Clients",
        json!([text("Name"), link("Manager", "$users")]),
    )
    .await;
    let clients_manager = f[1].clone();
    let (orders, f) = catalog(
        app,
        &main,
        "Orders",
        json!([text("Name"), link("Client", &clients)]),
    )
    .await;
    let orders_client = f[1].clone();
    let (lines, f) = catalog(
        app,
        &main,
        "Lines",
        json!([text("Name"), link("Order", &orders)]),
    )
    .await;
    let lines_order = f[1].clone();
    // S by placement: a user catalog in «Управление».
    let (staff, _) = catalog(app, "$settings", "Staff", json!([text("Name")])).await;
    // Safe: no links, and a user field (which carries no catalog id).
    let (products, _) = catalog(app, &main, "Products", json!([text("Name")])).await;
    let (tasks, _) = catalog(
        app,
        &main,
        "Tasks",
        json!([text("Name"), {"name": "Owner", "type": "user", "config": {}}]),
    )
    .await;
    let (temp, _) = catalog(app, &main, "Temp", json!([text("Name")])).await;

    // Scripts.
    script(app, "b-script", "Order hook", bpmn(&[])).await;
    script(
        app,
        "static-danger",
        "Reads employees",
        bpmn(&[
            read_catalog("bpiumGetRecord", "\"$users\"", "user"),
            (
                "setvar",
                assign("boss", "user.values['2'] + (catalogId == '3' ? 1 : 0)"),
            ),
        ]),
    )
    .await;
    script(
        app,
        "dynamic",
        "Any catalog",
        bpmn(&[(
            "bpiumFindRecords",
            format!(
                "{}{}",
                list("catalogFormat", "var"),
                expr("catalogIdFromVar", "catalogId")
            ),
        )]),
    )
    .await;
    script(
        app,
        "api-relative",
        "Calls own API",
        bpmn(&[web_request("'/api/v1/catalogs/' + '100' + '/records'")]),
    )
    .await;
    script(
        app,
        "api-external",
        "Calls another server",
        bpmn(&[web_request("'https://bpium.example.org/api/v1/catalogs'")]),
    )
    .await;
    script(app, "loop1", "Loop one", bpmn(&[run_process("loop2", &[])])).await;
    script(
        app,
        "loop2",
        "Loop two",
        bpmn(&[run_process("loop1", &[]), run_process("api-relative", &[])]),
    )
    .await;
    script(app, "calm1", "Calm one", bpmn(&[run_process("calm2", &[])])).await;
    script(app, "calm2", "Calm two", bpmn(&[run_process("calm1", &[])])).await;
    script(
        app,
        "passes",
        "Passes client data",
        bpmn(&[
            read_catalog("bpiumGetRecord", &format!("'{clients}'"), "client"),
            ("setvar", assign("payload", "client.values")),
            run_process("calm1", &[("data", "payload")]),
        ]),
    )
    .await;
    script(
        app,
        "starts-unknown",
        "Starts the undetermined one",
        bpmn(&[run_process("dynamic", &[])]),
    )
    .await;
    script(
        app,
        "broken-file",
        "Not a scenario",
        b"this is not BPMN".to_vec(),
    )
    .await;
    script(
        app,
        "products",
        "Reads products",
        bpmn(&[read_catalog("bpiumFindRecords", &products, "items")]),
    )
    .await;

    // Events: one on a dangerous catalog, safe ones, and one whose catalog is gone.
    let dangerous_event = record(
        app,
        "$events",
        None,
        json!({"$name": "Order changed", "$catalog": to("$catalogs", &orders), "$script": to("$scripts", "b-script")}),
    )
    .await;
    let safe_event = record(
        app,
        "$events",
        None,
        json!({"$name": "Product changed", "$catalog": to("$catalogs", &products), "$script": to("$scripts", "static-danger")}),
    )
    .await;
    record(
        app,
        "$events",
        None,
        json!({"$name": "Product created", "$status": "$off", "$catalog": to("$catalogs", &products), "$script": to("$scripts", "api-external")}),
    )
    .await;
    record(
        app,
        "$events",
        None,
        json!({"$name": "Task changed", "$catalog": to("$catalogs", &tasks), "$script": to("$scripts", "products")}),
    )
    .await;
    let broken_event = record(
        app,
        "$events",
        None,
        json!({"$name": "Temp changed", "$catalog": to("$catalogs", &temp), "$script": to("$scripts", "calm1")}),
    )
    .await;
    app.delete_catalog(&SYS, &temp).await.unwrap();

    let listener = record(
        app,
        "$webRequests",
        None,
        json!({"$name": "Import", "$urlId": "import", "$script": to("$scripts", "dynamic")}),
    )
    .await;
    let webhook = record(
        app,
        "$webhooks",
        None,
        json!({"$catalog": to("$catalogs", &clients), "$url": "https://hooks.example.com/clients"}),
    )
    .await;
    record(
        app,
        "$webhooks",
        None,
        json!({"$catalog": to("$catalogs", &products), "$url": "https://hooks.example.com/products"}),
    )
    .await;
    Built {
        clients,
        clients_manager,
        orders,
        orders_client,
        lines,
        lines_order,
        staff,
        products,
        tasks,
        dangerous_event,
        safe_event,
        broken_event,
        listener,
        webhook,
    }
}

fn ids(list: &[ScriptEntry]) -> Vec<&str> {
    let mut v: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    v.sort_unstable();
    v
}

fn find<'a>(list: &'a [ScriptEntry], id: &str) -> &'a ScriptEntry {
    list.iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("{id} not in {:?}", ids(list)))
}

async fn analyse(fx: &Fixture) -> Report {
    let store = Store::open_read_only(&fx.url).await.unwrap();
    let files = LocalStorage::new(fx.dir.join("files"));
    let report = analyze(
        &store,
        &files,
        &Options {
            server_edition: false,
            api_hosts: vec!["kartoteka.example.com".into()],
            database: Some(DbLocation::from_store_url(&fx.url)),
        },
    )
    .await
    .unwrap();
    store.close();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_reason_and_chain() {
    let fx = Fixture::new();
    let app = fx.app().await;
    let b = build(&app).await;
    // The analysis runs while the server still has the store open.
    let r = analyse(&fx).await;
    app.close();

    // Step 1. S: every system catalog, and Staff by placement.
    let system: Vec<&str> = r.catalogs.system.iter().map(|c| c.id.as_str()).collect();
    for id in ["$users", "$catalogs", "$scripts", "$events", "$webhooks"].iter() {
        assert!(system.contains(id), "{id} missing from S: {system:?}");
    }
    let staff = r.catalogs.system.iter().find(|c| c.id == b.staff).unwrap();
    assert_eq!(staff.reason, CatalogReason::InSystemSection);
    assert_eq!(staff.section_id, "$settings");
    let users = r.catalogs.system.iter().find(|c| c.id == "$users").unwrap();
    assert_eq!(users.reason, CatalogReason::System);
    assert_eq!(users.name, "Сотрудники");

    // D: Clients.Manager → $users.
    let direct: Vec<&str> = r.catalogs.direct.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(direct, vec![b.clients.as_str()]);
    let clients = &r.catalogs.direct[0];
    assert_eq!(clients.links.len(), 1);
    assert_eq!(clients.links[0].field_id, b.clients_manager);
    assert_eq!(clients.links[0].target_id, "$users");
    assert_eq!(
        clients.connection,
        format!("{} → $users", b.clients_manager)
    );

    // I: Orders and Lines, with their shortest chains, nearest first.
    let indirect: Vec<&str> = r.catalogs.indirect.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(indirect, vec![b.orders.as_str(), b.lines.as_str()]);
    assert_eq!(
        r.catalogs.indirect[0].connection,
        format!(
            "Orders.{} → Clients.{} → $users",
            b.orders_client, b.clients_manager
        )
    );
    let lines = &r.catalogs.indirect[1];
    assert_eq!(
        lines.connection,
        format!(
            "Lines.{} → Orders.{} → Clients.{} → $users",
            b.lines_order, b.orders_client, b.clients_manager
        )
    );
    let hops: Vec<(&str, &str)> = lines
        .chain
        .iter()
        .map(|l| (l.catalog_id.as_str(), l.target_id.as_str()))
        .collect();
    assert_eq!(
        hops,
        vec![
            (b.lines.as_str(), b.orders.as_str()),
            (b.orders.as_str(), b.clients.as_str()),
            (b.clients.as_str(), "$users")
        ]
    );
    // Safe catalogs (user fields do not count) and the deleted one are nowhere.
    for safe in [&b.products, &b.tasks] {
        assert!(
            !system.contains(&safe.as_str())
                && !direct.contains(&safe.as_str())
                && !indirect.contains(&safe.as_str())
        );
    }

    // Step 2. Events.
    assert_eq!(r.events.len(), 5);
    let ev = |id: &str| r.events.iter().find(|e| e.id == id).unwrap();
    let d = ev(&b.dangerous_event);
    assert!(d.dangerous && !d.broken_reference);
    assert_eq!(d.catalog.as_ref().unwrap().id, b.orders);
    assert_eq!(d.script.as_ref().unwrap().id, "b-script");
    assert_eq!(d.status.as_deref(), Some("$on"));
    let s = ev(&b.safe_event);
    assert!(!s.dangerous && !s.broken_reference);
    let off = r
        .events
        .iter()
        .find(|e| e.name == "Product created")
        .unwrap();
    assert_eq!(off.status.as_deref(), Some("$off"));
    let broken = ev(&b.broken_event);
    assert!(!broken.dangerous && broken.broken_reference && broken.catalog.is_none());

    // Step 3. B: the script of the dangerous event.
    assert_eq!(ids(&r.scripts.b), vec!["b-script"]);
    assert_eq!(r.scripts.b[0].reasons, vec!["dangerous_event"]);
    assert_eq!(r.scripts.b[0].triggers[0].id, b.dangerous_event);

    // A: dangerous scripts of safe events, listeners and unreferenced ones.
    assert_eq!(
        ids(&r.scripts.a),
        vec!["api-relative", "loop1", "loop2", "passes", "static-danger"]
    );
    let a = |id| find(&r.scripts.a, id);
    assert_eq!(
        a("static-danger").reasons,
        vec!["reads_dangerous_catalog:$users"]
    );
    assert_eq!(a("static-danger").triggers[0].id, b.safe_event);
    assert_eq!(
        a("static-danger").hints,
        vec!["values['2']", "catalogId == '3'"]
    );
    assert!(r.scripts.safe.iter().all(|s| s.hints.is_empty()));
    assert!(!a("static-danger").unreferenced);
    assert_eq!(a("api-relative").reasons, vec!["calls_bpium_api"]);
    assert!(a("api-relative").unreferenced);
    assert_eq!(a("api-relative").findings[0].connector, "webRequest");
    // The cycle loop1 → loop2 → loop1 reaches api-relative through loop2.
    assert_eq!(
        a("loop2").reasons,
        vec!["starts_dangerous_script:api-relative"]
    );
    assert_eq!(a("loop1").reasons, vec!["starts_dangerous_script:loop2"]);
    assert_eq!(a("loop2").starts, vec!["loop1", "api-relative"]);
    assert_eq!(
        a("passes").reasons,
        vec![
            format!("reads_dangerous_catalog:{}", b.clients),
            "passes_dangerous_data".to_string()
        ]
    );

    // C: undetermined.
    assert_eq!(
        ids(&r.scripts.c),
        vec!["broken-file", "dynamic", "starts-unknown"]
    );
    let c = |id| find(&r.scripts.c, id);
    assert_eq!(c("dynamic").reasons, vec!["dynamic_catalog"]);
    assert_eq!(c("dynamic").triggers[0].kind, TriggerKind::Listener);
    assert_eq!(c("dynamic").triggers[0].id, b.listener);
    assert_eq!(
        c("starts-unknown").reasons,
        vec!["starts_undetermined_script:dynamic"]
    );
    assert!(c("broken-file").reasons[0].starts_with("unreadable_file"));

    // Safe: the calm cycle ends, the external API call and the safe catalog read are safe.
    assert_eq!(
        ids(&r.scripts.safe),
        vec!["api-external", "calm1", "calm2", "products"]
    );
    assert!(find(&r.scripts.safe, "calm2").unreferenced);
    assert!(
        !find(&r.scripts.safe, "calm1").unreferenced,
        "the broken event still runs it"
    );

    // Step 4. The webhook on Clients only.
    assert_eq!(r.webhooks.len(), 1);
    assert_eq!(r.webhooks[0].id, b.webhook);
    assert_eq!(r.webhooks[0].catalog.id, b.clients);
    assert_eq!(r.webhooks[0].catalog_reason, CatalogReason::Direct);
    assert_eq!(r.webhooks[0].url, "https://hooks.example.com/clients");

    // The JSON form carries the same lists.
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["scripts"]["b"][0]["id"], "b-script");
    assert_eq!(j["catalogs"]["indirect"][1]["reason"], "indirect");
    assert_eq!(j["webhooks"][0]["catalogReason"], "direct");
    assert_eq!(j["events"][0]["brokenReference"], false);

    // The Excel report.
    let bytes = xlsx::to_bytes(&r, false).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec![
            xlsx::SCRIPTS_SHEET.to_string(),
            xlsx::CATALOGS_SHEET.to_string()
        ]
    );
    let rows = |book: &mut Xlsx<_>, name: &str| -> Vec<Vec<String>> {
        book.worksheet_range(name)
            .unwrap()
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect()
    };
    let sheet = rows(&mut book, xlsx::SCRIPTS_SHEET);
    let headers: Vec<String> = xlsx::SCRIPT_HEADERS.iter().map(|s| s.to_string()).collect();
    // Block A: title, header, five rows; blank; block B: title, header, one row; blank; C.
    assert_eq!(
        sheet[0][0],
        "Сценарии безопасных событий и внешних запросов"
    );
    assert_eq!(sheet[1], headers);
    let a_rows: Vec<&str> = sheet[2..7].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        a_rows,
        r.scripts
            .a
            .iter()
            .map(|s| s.id.as_str())
            .collect::<Vec<_>>()
    );
    let static_row = sheet[2..7]
        .iter()
        .find(|r| r[0] == "static-danger")
        .unwrap();
    assert_eq!(static_row[1], "Reads employees");
    assert_eq!(static_row[2], "reads_dangerous_catalog:$users");
    assert_eq!(
        static_row[3],
        format!("событие {} «Product changed»", b.safe_event)
    );
    assert_eq!(static_row[4], "values['2']; catalogId == '3'");
    assert!(sheet[7].iter().all(String::is_empty));
    assert_eq!(sheet[8][0], "Сценарии опасных событий");
    assert_eq!(sheet[9], headers);
    assert_eq!(
        sheet[10][..3],
        ["b-script", "Order hook", "dangerous_event"]
    );
    assert!(sheet[11].iter().all(String::is_empty));
    assert_eq!(sheet[12][0], "Сценарии, которые не удалось определить");
    assert_eq!(sheet[13], headers);
    assert_eq!(sheet.len(), 14 + r.scripts.c.len());
    let dynamic_row = sheet[14..].iter().find(|r| r[0] == "dynamic").unwrap();
    assert_eq!(
        dynamic_row[3],
        format!("внешний запрос {} «Import»", b.listener)
    );

    let sheet = rows(&mut book, xlsx::CATALOGS_SHEET);
    let headers: Vec<String> = xlsx::CATALOG_HEADERS
        .iter()
        .map(|s| s.to_string())
        .collect();
    let n = r.catalogs.system.len();
    assert_eq!(sheet[0][0], "Служебные каталоги");
    assert_eq!(sheet[1], headers);
    assert!(sheet[2..2 + n]
        .iter()
        .any(|row| row[0] == "$users" && row[2] == "Управление"));
    assert!(sheet[2 + n].iter().all(String::is_empty));
    assert_eq!(
        sheet[3 + n][0],
        "Каталоги, которые напрямую связаны со служебными"
    );
    assert_eq!(sheet[4 + n], headers);
    assert_eq!(
        sheet[5 + n],
        vec![
            b.clients.clone(),
            "Clients".into(),
            "Продажи".into(),
            format!("{} → $users", b.clients_manager)
        ]
    );
    assert_eq!(
        sheet[7 + n][0],
        "Каталоги, которые косвенно связаны со служебными"
    );
    assert_eq!(sheet[8 + n], headers);
    assert_eq!(sheet[9 + n][0], b.orders);
    assert_eq!(sheet[10 + n][3], lines.connection);
    assert_eq!(sheet.len(), 11 + n);

    // On request, the third sheet: the webhooks on dangerous catalogs.
    let bytes = xlsx::to_bytes(&r, true).unwrap();
    let mut book = Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names()[2], xlsx::WEBHOOKS_SHEET);
    let sheet = rows(&mut book, xlsx::WEBHOOKS_SHEET);
    assert_eq!(sheet[0][0], xlsx::WEBHOOK_BLOCK);
    assert_eq!(
        sheet[1],
        xlsx::WEBHOOK_HEADERS
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    );
    assert_eq!(sheet[2][0], b.webhook);
    assert_eq!(sheet[2][1], "https://hooks.example.com/clients");
    assert_eq!(sheet[2][2], format!("{} «Clients»", b.clients));
    assert_eq!(sheet.len(), 3);
}

/// Reading never writes: the database file is byte-for-byte the same afterwards, writes
/// through the read-only handle are refused, and a store that is not migrated is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_is_only_read() {
    let dir = unique("kartoteka-upgrade-ro");
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("kartoteka.db");
    let app = App::open(&CoreConfig {
        database_url: db.to_string_lossy().into_owned(),
        files_dir: dir.join("files"),
        public_url: String::new(),
        webhooks: WebhookConfig::default(),
    })
    .await
    .unwrap();
    catalog(&app, "$settings", "Staff", json!([text("Name")])).await;
    app.close();
    let before = std::fs::read(&db).unwrap();

    let store = Store::open_read_only(&db.to_string_lossy()).await.unwrap();
    let r = analyze(
        &store,
        &LocalStorage::new(dir.join("files")),
        &Options::default(),
    )
    .await
    .unwrap();
    assert!(r.catalogs.system.iter().any(|c| c.name == "Staff"));
    let refused = store
        .write(|c| c.execute("DELETE FROM _migrations", &[]))
        .await;
    assert!(refused.is_err());
    // Even a statement slipped into a read fails: the connections themselves are read-only.
    let slipped = store
        .read(|c| c.execute("DELETE FROM _migrations", &[]))
        .await;
    assert!(slipped.is_err());
    store.close();
    assert!(
        std::fs::read(&db).unwrap() == before,
        "the database file changed"
    );

    // An empty file is not a migrated store; a missing one is not created.
    let empty = dir.join("empty.db");
    std::fs::write(&empty, b"").unwrap();
    assert!(Store::open_read_only(&empty.to_string_lossy())
        .await
        .is_err());
    let missing = dir.join("missing.db");
    assert!(Store::open_read_only(&missing.to_string_lossy())
        .await
        .is_err());
    assert!(!missing.exists());
    let _ = std::fs::remove_dir_all(&dir);

    // PostgreSQL: the sessions refuse writes on the server side.
    if let Ok(base) = std::env::var("KARTOTEKA_TEST_DATABASE_URL") {
        if !base.is_empty() {
            let fx = Fixture::new();
            fx.app().await.close();
            let store = Store::open_read_only(&fx.url).await.unwrap();
            let slipped = store
                .read(|c| c.execute("DELETE FROM _migrations", &[]))
                .await;
            assert!(slipped.is_err(), "a read-only session accepted a write");
            store.close();
            let (fresh, schema) = kartoteka_store::testing::fresh_postgres_schema(&base).unwrap();
            assert!(
                Store::open_read_only(&fresh).await.is_err(),
                "an empty schema was accepted"
            );
            let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
        }
    }
}

/// The sample scenarios of the reference set are read without error: GetRequest picks its
/// catalog from a variable (undetermined), the others only touch their own catalogs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_samples() {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/bpmn-samples"
    ));
    if !dir.is_dir() {
        eprintln!("skipped: no sample scenarios at {}", dir.display());
        return;
    }
    let fx = Fixture::new();
    let app = fx.app().await;
    for name in ["GetRequest", "excel", "ics_generation"] {
        let bytes = std::fs::read(dir.join(format!("{name}.bpmn"))).unwrap();
        script(&app, &name.replace('_', "-"), name, bytes).await;
    }
    let r = analyse(&fx).await;
    app.close();
    let c = find(&r.scripts.c, "GetRequest");
    assert_eq!(c.reasons, vec!["dynamic_catalog"]);
    for s in r.scripts.c.iter().chain(&r.scripts.a) {
        assert!(
            !s.reasons.iter().any(|r| r.starts_with("unreadable_file")),
            "{} was not read: {:?}",
            s.id,
            s.reasons
        );
    }
}

/// «SQL-запрос» counts only with `--server-edition`: on the company database it is
/// dangerous, with a computed connection undetermined, elsewhere safe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_only_for_the_server_edition() {
    let fx = Fixture::new();
    let app = fx.app().await;
    let db = DbLocation::from_store_url(&fx.url);
    let host = db.host.clone().unwrap_or_default();
    let sql = |host: &str, database: &str| {
        (
            "sql",
            format!(
                "{}{}{}{}",
                list("connectionType", "parameters"),
                expr("host", host),
                expr("database", database),
                expr("query", "'SELECT 1'")
            ),
        )
    };
    let own = sql(&json!(host).to_string(), &json!(db.database).to_string());
    script(&app, "own-db", "Own database", bpmn(&[own])).await;
    script(
        &app,
        "computed-db",
        "Computed",
        bpmn(&[sql("dbHost", "dbName")]),
    )
    .await;
    script(
        &app,
        "other-db",
        "Other",
        bpmn(&[sql("'db.example.org'", "'erp'")]),
    )
    .await;
    let store = Store::open_read_only(&fx.url).await.unwrap();
    let files = LocalStorage::new(fx.dir.join("files"));
    let mut opts = Options {
        server_edition: false,
        api_hosts: Vec::new(),
        database: Some(db),
    };
    let plain = analyze(&store, &files, &opts).await.unwrap();
    assert_eq!(
        ids(&plain.scripts.safe),
        vec!["computed-db", "other-db", "own-db"]
    );
    opts.server_edition = true;
    let server = analyze(&store, &files, &opts).await.unwrap();
    store.close();
    app.close();
    assert_eq!(ids(&server.scripts.a), vec!["own-db"]);
    assert_eq!(server.scripts.a[0].reasons, vec!["sql_on_bpium_db"]);
    assert_eq!(ids(&server.scripts.c), vec!["computed-db"]);
    assert_eq!(server.scripts.c[0].reasons, vec!["dynamic_sql_connection"]);
    assert_eq!(ids(&server.scripts.safe), vec!["other-db"]);
}
