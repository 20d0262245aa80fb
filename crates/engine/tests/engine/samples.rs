//! The real scenarios of the reference samples, run as far as they go offline.

use std::path::PathBuf;

use kartoteka_engine::Outcome;
use serde_json::json;

use crate::common::{compile, failure, run, Fake};

fn sample(name: &str) -> Option<kartoteka_bpmn::Ir> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/bpmn-samples"
    ));
    match std::fs::read_to_string(dir.join(name)) {
        Ok(xml) => Some(compile(&xml)),
        Err(e) => {
            eprintln!("skipped: sample {name} is not available ({e})");
            None
        }
    }
}

fn tilda_catalog() -> Fake {
    let fake = Fake::new();
    fake.catalogs.lock().unwrap().insert(
        "48".into(),
        json!({"id": "48", "name": "Заявки", "fields": [
            {"id": "name", "type": "text"},
            {"id": "age", "type": "number"},
            {"id": "status", "type": "dropdown", "config": {"items": [
                {"id": "1", "name": "новая"}, {"id": "2", "name": "старая"}]}},
        ]}),
    );
    fake
}

#[tokio::test]
async fn get_request_creates_a_record_from_a_form() {
    let Some(ir) = sample("GetRequest.bpmn") else {
        return;
    };
    let fake = tilda_catalog();
    let body = json!({"name": "Пётр", "age": "42", "status": "старая; новая", "tranid": "t1", "other": "x"});
    let (out, state) = run(&ir, json!({"body": body}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["catalogId"], "48");
    assert_eq!(
        state.vars["result"],
        json!({"name": "Пётр", "age": 42, "status": ["2", "1"]})
    );
    let created = fake.records("48");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["values"]["age"], 42);
}

#[tokio::test]
async fn get_request_answers_the_test_ping_without_writing() {
    let Some(ir) = sample("GetRequest.bpmn") else {
        return;
    };
    let fake = tilda_catalog();
    let (out, _) = run(&ir, json!({"body": {"test": "test"}}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert!(fake.records("48").is_empty());
}

#[tokio::test]
async fn get_request_fails_on_purpose_when_the_catalog_is_missing() {
    let Some(ir) = sample("GetRequest.bpmn") else {
        return;
    };
    let (out, state) = run(&ir, json!({"body": {"name": "x"}}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.code, "EXPRESSION");
    assert_eq!(f.component.as_deref(), Some("Фиксируем ошибку"));
    assert_eq!(state.vars["getStructErrCode"], "NOT_FOUND");
}

#[tokio::test]
async fn excel_stops_early_without_a_file_and_imports_the_rows_with_one() {
    let Some(ir) = sample("excel.bpmn") else {
        return;
    };
    let (out, state) = run(&ir, json!({"allValues": {}, "values": {}}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["allValues"], json!({}));

    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Лист1").unwrap();
    for (r, row) in [
        ["ООО Ромашка", "Казань", "Иванов", "", "r@x.test"],
        ["ИП Лютик", "Уфа", "Петров", "", ""],
    ]
    .iter()
    .enumerate()
    {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32, c as u16, *v).unwrap();
            }
        }
        sheet
            .write_number(r as u32, 3, 79001234567.0 + r as f64)
            .unwrap();
    }
    let bytes = book.save_to_buffer().unwrap();
    let fake = Fake::new()
        .with_records(
            "110",
            &[("5", json!({"2": [{"id": "900", "title": "list.xlsx"}]}))],
        )
        .with_file("900", &bytes);
    let (out, state) = run(
        &ir,
        json!({"allValues": {"3": [{"id": "1"}]}, "values": {}, "recordId": "5"}),
        &fake,
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["i"], 2);
    let created = fake.records("109");
    assert_eq!(created.len(), 2);
    assert_eq!(
        created[0]["values"],
        json!({"2": "ООО Ромашка", "3": "Казань", "4": "Иванов",
               "6": [{"contact": 79001234567_i64, "comment": "Секретарь"}],
               "7": [{"contact": "r@x.test", "comment": "Email"}]})
    );
    assert_eq!(created[1]["values"]["7"], json!([]));
}

#[tokio::test]
async fn ics_generation_uploads_the_invite_and_mails_the_participants() {
    let Some(ir) = sample("ics_generation.bpmn") else {
        return;
    };
    let values = json!({
        "createdAt": "2024-01-01T10:00:00Z", "startDate": "2024-01-02T09:00:00Z",
        "endDate": "2024-01-02T10:00:00Z", "name": "Встреча", "description": "d",
        "location": "l", "participants": [{"id": "7"}, {"id": "8"}]
    });
    let fake = Fake::new().with_records(
        "$users",
        &[
            ("7", json!({"$email": ["anna@x.test"], "name": "Анна"})),
            ("8", json!({"$email": ["boris@x.test"]})),
        ],
    );
    let (out, state) = run(&ir, json!({"values": values}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let ics = state.vars["data"].as_str().unwrap();
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"));
    assert!(ics.contains("DTSTART:20240102T090000Z"));
    assert_eq!(state.vars["urlIcs"], "https://files.test/f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "invite.ics");
    let mail = fake.mails.lock().unwrap()[0].clone();
    assert_eq!(mail.to, vec!["anna@x.test", "boris@x.test"]);
    assert_eq!(mail.subject, "Вам назначена встреча");
    assert_eq!(mail.attachments[0].file, "https://files.test/f1");
    assert_eq!(mail.attachments[0].title, "invite.ics");
}
