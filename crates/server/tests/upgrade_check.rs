//! `kartoteka upgrade-check` as a process: the report files and the exit codes. The analysis
//! itself is tested in `kartoteka-upgrade`; this checks the wiring of the command (store and
//! file storage opened read-only, `--out`, `--json`, exit 2 on failure). Runs on SQLite, or on
//! PostgreSQL when `KARTOTEKA_TEST_DATABASE_URL` is set.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

use calamine::{Reader, Xlsx};
use kartoteka_core::catalogs::{CatalogInput, SectionInput};
use kartoteka_core::files::UploadRequest;
use kartoteka_core::records::RecordInput;
use kartoteka_core::webhooks::WebhookConfig;
use kartoteka_core::{Actor, App, CoreConfig};
use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kartoteka");

fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A scenario with one «Получить запись» on `$users`.
fn reads_users() -> Vec<u8> {
    let param = |name: &str, v: Value| {
        format!(
            r#"<camunda:inputParameter name="{name}"><camunda:script scriptFormat="JavaScript"><![CDATA[{v}]]></camunda:script></camunda:inputParameter>"#
        )
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="P" isExecutable="false">
    <bpmn:startEvent id="S" />
    <bpmn:serviceTask id="T" name="Сотрудник"><bpmn:extensionElements><camunda:connector><camunda:connectorId>bpiumGetRecord</camunda:connectorId></camunda:connector><camunda:inputOutput>
      <camunda:inputParameter name="catalogFormat"><camunda:list><camunda:value type="const">catalog</camunda:value></camunda:list></camunda:inputParameter>
      {}{}
    </camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>
    <bpmn:endEvent id="E" />
    <bpmn:sequenceFlow id="F1" sourceRef="S" targetRef="T" />
    <bpmn:sequenceFlow id="F2" sourceRef="T" targetRef="E" />
  </bpmn:process>
</bpmn:definitions>"#,
        param("catalogId", json!({"type": "const", "value": "$users"})),
        param("recordId", json!({"type": "script", "value": "userId"})),
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_report_and_maps_failures_to_exit_2() {
    let dir = temp_dir("kartoteka-upgrade-cli");
    let pg = match std::env::var("KARTOTEKA_TEST_DATABASE_URL") {
        Ok(base) if !base.is_empty() => Some((
            kartoteka_store::testing::fresh_postgres_schema(&base).unwrap(),
            base,
        )),
        _ => None,
    };
    let database_url = match &pg {
        Some(((url, _), _)) => url.clone(),
        None => dir.join("kartoteka.db").to_string_lossy().into_owned(),
    };
    let app = App::open(&CoreConfig {
        database_url: database_url.clone(),
        files_dir: dir.join("files"),
        public_url: String::new(),
        webhooks: WebhookConfig::default(),
    })
    .await
    .unwrap();
    let sys = Actor::System;
    let section = app
        .create_section(
            &sys,
            SectionInput {
                name: Some("Продажи".into()),
                ..SectionInput::default()
            },
        )
        .await
        .unwrap();
    let clients = app
        .create_catalog(
            &sys,
            CatalogInput {
                section_id: Some(section.id),
                name: Some("Clients".into()),
                fields: Some(vec![
                    json!({"name": "Name", "type": "text", "config": {"type": "text"}}),
                    json!({"name": "Manager", "type": "object", "config": {"catalogs": [{"id": "$users"}]}}),
                ]),
                ..CatalogInput::default()
            },
        )
        .await
        .unwrap();
    let file = reads_users();
    let ticket = app
        .begin_upload(
            &sys,
            UploadRequest {
                catalog_id: "$scripts".into(),
                field_id: "$file".into(),
                name: "employees.bpmn".into(),
                size: file.len() as i64,
                mime_type: "application/bpmn+xml".into(),
                type_storage: Some("remoteStorage".into()),
                ..UploadRequest::default()
            },
        )
        .await
        .unwrap();
    app.receive_upload(&ticket.key, &ticket.policy, &ticket.signature, file.into())
        .await
        .unwrap();
    let script = app
        .create_record(
            &sys,
            "$scripts",
            RecordInput {
                values:
                    json!({"$name": "Employees", "$file": [{"id": ticket.file_id.to_string()}]})
                        .as_object()
                        .cloned()
                        .unwrap(),
                ..RecordInput::default()
            },
        )
        .await
        .unwrap();
    app.create_record(
        &sys,
        "$webhooks",
        RecordInput {
            values: json!({"$catalog": [{"catalogId": "$catalogs", "recordId": clients.id}], "$url": "https://hooks.example.com/x"})
                .as_object()
                .cloned()
                .unwrap(),
            ..RecordInput::default()
        },
    )
    .await
    .unwrap();

    // While the server holds the store open.
    let check = |out: &std::path::Path, extra: &str| {
        Command::new(BIN)
            .arg("upgrade-check")
            .arg("--data")
            .arg(&dir)
            .arg("--database")
            .arg(&database_url)
            .arg("--out")
            .arg(out)
            .arg(extra)
            .env_remove("KARTOTEKA_FILES")
            .output()
            .unwrap()
    };
    let out = dir.join("report.xlsx");
    let run = check(&out, "--json");
    assert_eq!(
        run.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let j: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(j["catalogs"]["direct"][0]["id"], clients.id);
    assert_eq!(j["scripts"]["a"][0]["id"], script.id);
    assert_eq!(
        j["scripts"]["a"][0]["reasons"],
        json!(["reads_dangerous_catalog:$users"])
    );
    assert_eq!(j["scripts"]["a"][0]["unreferenced"], true);
    assert_eq!(j["webhooks"][0]["catalog"]["id"], clients.id);
    let mut book: Xlsx<_> = calamine::open_workbook(&out).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec!["Список сценариев", "Опасные каталоги"]
    );
    let scripts = book.worksheet_range("Список сценариев").unwrap();
    assert_eq!(
        scripts.get_value((0, 0)).unwrap().to_string(),
        "Сценарии безопасных событий и внешних запросов"
    );
    assert_eq!(scripts.get_value((2, 1)).unwrap().to_string(), "Employees");
    // `--webhooks-sheet` adds the third sheet.
    let with_hooks = dir.join("report-hooks.xlsx");
    assert_eq!(
        check(&with_hooks, "--webhooks-sheet").status.code(),
        Some(0)
    );
    let mut book: Xlsx<_> = calamine::open_workbook(&with_hooks).unwrap();
    assert_eq!(
        book.sheet_names(),
        vec!["Список сценариев", "Опасные каталоги", "Опасные вебхуки"]
    );
    let hooks = book.worksheet_range("Опасные вебхуки").unwrap();
    assert!(hooks
        .get_value((2, 2))
        .unwrap()
        .to_string()
        .starts_with(&clients.id));
    app.close();

    // Failure: no store in the data folder → exit 2, a message, no report, nothing created.
    let empty = temp_dir("kartoteka-upgrade-cli-empty");
    let out = empty.join("report.xlsx");
    let run = Command::new(BIN)
        .arg("upgrade-check")
        .arg("--data")
        .arg(&empty)
        .arg("--out")
        .arg(&out)
        .env_remove("KARTOTEKA_DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("upgrade-check failed"));
    assert!(run.stdout.is_empty());
    assert!(!out.exists());
    assert!(!empty.join("kartoteka.db").exists());

    if let Some(((_, schema), base)) = pg {
        let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&empty);
}
