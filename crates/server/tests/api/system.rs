//! Tests: system catalogs (spec 02 §1.3, §1.9). Every system catalog is a real catalog,
//! addressable by its text id and by its legacy number, with system fields whose legacy ids are
//! duplicated; records can be written with text keys, custom fields can be added, and the
//! catalogs themselves cannot be deleted.

use serde_json::{json, Value};

use crate::support::{id, TestApp};

/// (legacy number, text id, Russian name, section) of spec 02 §1.3, plus `$oauthProviders`.
const CATALOGS: &[(u32, &str, &str, &str)] = &[
    (1, "$catalogs", "Каталоги", "$settings"),
    (2, "$sections", "Секции", "$settings"),
    (3, "$users", "Сотрудники", "$settings"),
    (4, "$views", "Виды", "$settings"),
    (5, "$webhooks", "Вебхуки", "$settings"),
    (6, "$scripts", "Сценарии", "$settings"),
    (7, "$events", "События", "$settings"),
    (8, "$processes", "Процессы", "$settings"),
    (9, "$authServices", "Доступы к сервисам", "$settings"),
    (10, "$webRequests", "Внешние запросы", "$settings"),
    (11, "$boards", "Дашборды", "$settings"),
    (12, "$widgets", "Графики", "$settings"),
    (13, "$messages", "Сообщения", "$settings"),
    (14, "$rightFields", "Права на поля", "$settings"),
    (15, "$rights", "Права", "$settings"),
    (16, "$companies", "Компании", "$system"),
    (17, "$accounts", "Аккаунты", "$system"),
    (18, "$invites", "Приглашения", "$system"),
    (19, "$appTags", "APP", "$system"),
    (20, "$apiTags", "API", "$system"),
    (21, "$companiesGroups", "Группы компаний", "$system"),
    (22, "$emailTemplates", "Шаблоны писем", "$system"),
    (23, "$extensions", "Расширения", "$system"),
    (24, "$requests", "Активность доменов", "$system"),
    (25, "$oauthProviders", "OAuth провайдеры", "$system"),
];

fn fields(c: &Value) -> Vec<Value> {
    c["fields"].as_array().cloned().unwrap_or_default()
}

fn field_ids(c: &Value) -> Vec<String> {
    fields(c)
        .iter()
        .filter_map(|f| f["id"].as_str().map(str::to_string))
        .collect()
}

/// The canonical (non-duplicated) entry of a field.
fn field<'a>(c: &'a Value, fid: &str) -> &'a Value {
    c["fields"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|f| f["id"] == fid && f.get("isDuplicated").is_none())
        })
        .unwrap_or_else(|| panic!("no field {fid} in {}", c["id"]))
}

fn value_keys(record: &Value) -> Vec<String> {
    record["values"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_system_catalog_answers_by_text_id_and_legacy_number() {
    let t = TestApp::start().await;
    for (legacy, text, name, section) in CATALOGS {
        let a = t
            .get(&format!("/api/v1/catalogs/{text}"))
            .await
            .expect(200)
            .clone();
        let b = t
            .get(&format!("/api/v1/catalogs/{legacy}"))
            .await
            .expect(200)
            .clone();
        assert_eq!(a, b, "{text} and {legacy} give the same catalog");
        assert_eq!(a["id"], *text);
        assert_eq!(a["name"], *name, "{text}");
        assert_eq!(a["sectionId"], *section, "{text}");
        assert_eq!(a["isSystem"], true, "{text}");
        assert_eq!(a["history"], *text != "$requests", "{text}");
        let f = fields(&a);
        assert!(!f.is_empty(), "{text} has fields");
        for x in &f {
            assert_eq!(x["isSystem"], true, "{text}: {x}");
            let fid = x["id"].as_str().expect("field id");
            if x.get("isDuplicated").is_none() {
                assert!(fid.starts_with('$'), "{text}: text id {fid}");
            } else {
                assert!(fid.bytes().all(|c| c.is_ascii_digit()), "{text}: {fid}");
            }
        }
    }
    // Sections stay text-only.
    t.get("/api/v1/sections/$system").await.expect(200);
}

#[tokio::test]
async fn scripts_fields_match_the_spec_example() {
    let t = TestApp::start().await;
    let c = t.get("/api/v1/catalogs/$scripts").await.expect(200).clone();
    assert_eq!(
        field_ids(&c),
        vec!["1", "$name", "2", "$description", "3", "$file"]
    );
    // Spec 02 §1.7 (the $description pair is not in the example; it follows the same rules).
    let example = json!([
        {"id":"1","prevId":"1","isDuplicated":true,"duplicateResultWithPrevId":true,"isSystem":true,"name":"Название","type":"text","required":true,"config":{"type":"text"}},
        {"id":"$name","prevId":"1","duplicateResultWithPrevId":true,"isSystem":true,"name":"Название","type":"text","required":true,"config":{"type":"text"}},
        {"id":"2","prevId":"2","isDuplicated":true,"duplicateResultWithPrevId":true,"isSystem":true,"name":"Описание","type":"text","required":false,"config":{"type":"multiline"}},
        {"id":"$description","prevId":"2","duplicateResultWithPrevId":true,"isSystem":true,"name":"Описание","type":"text","required":false,"config":{"type":"multiline"}},
        {"id":"3","prevId":"3","isDuplicated":true,"duplicateResultWithPrevId":true,"isSystem":true,"name":"Сценарий","type":"file","config":{"multiselect":false,"mimeType":"application/bpmn+xml"}},
        {"id":"$file","prevId":"3","duplicateResultWithPrevId":true,"isSystem":true,"name":"Сценарий","type":"file","config":{"multiselect":false,"mimeType":"application/bpmn+xml"}}
    ]);
    let got = fields(&c);
    for (want, have) in example.as_array().expect("array").iter().zip(&got) {
        for (k, v) in want.as_object().expect("object") {
            if k == "config" {
                // The read config adds `defaultEmptyValue`; every documented key must match.
                for (ck, cv) in v.as_object().expect("config") {
                    assert_eq!(&have["config"][ck], cv, "{}.config.{ck}", want["id"]);
                }
            } else {
                assert_eq!(&have[k], v, "{}.{k}", want["id"]);
            }
        }
    }
    assert!(got[1].get("isDuplicated").is_none());
    assert_eq!(got[1]["columnName"], "name");
    assert_eq!(got[5]["columnName"], "file");
}

#[tokio::test]
async fn events_status_and_legacy_layout() {
    let t = TestApp::start().await;
    let c = t.get("/api/v1/catalogs/$events").await.expect(200).clone();
    let status = field(&c, "$status");
    assert_eq!(status["type"], "dropdown");
    assert_eq!(status["prevId"], "11");
    assert_eq!(status["duplicateResultWithPrevId"], true);
    let items = status["config"]["items"].as_array().expect("items");
    let ids: Vec<&str> = items.iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(ids, vec!["$on", "$off"]);
    assert_eq!(items[0]["name"], "Активно");
    assert_eq!(items[0]["color"], "C9FDE5");
    assert_eq!(items[1]["color"], "DFE0E0");
    assert_eq!(status["config"]["defaultValue"], true);
    assert_eq!(status["config"]["defaultEmptyValue"], json!(["$on"]));
    // Legacy numbers of §1.9.3; 3 and 7 are layout sections.
    for (fid, prev, ty) in [
        ("$name", "1", "text"),
        ("$description", "2", "text"),
        ("$catalog", "4", "object"),
        ("$eventTypes", "5", "dropdown"),
        ("$trackFields", "6", "text"),
        ("$script", "8", "object"),
    ] {
        let f = field(&c, fid);
        assert_eq!(f["prevId"], prev, "{fid}");
        assert_eq!(f["type"], ty, "{fid}");
    }
    let prevs: Vec<String> = fields(&c)
        .iter()
        .filter(|f| f["type"] == "group" && f.get("isDuplicated").is_none())
        .filter_map(|g| g["prevId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(prevs, vec!["3", "7"]);
    let catalog = field(&c, "$catalog");
    assert_eq!(catalog["config"]["catalogs"][0]["id"], "$catalogs");
    assert_eq!(catalog["config"]["catalogs"][0]["dbId"], 1);
    assert_eq!(catalog["config"]["multiselect"], false);
    let types = field(&c, "$eventTypes");
    assert_eq!(types["config"]["multiselect"], true);
    assert_eq!(types["config"]["items"][0]["id"], "$record.after.create");
    assert_eq!(
        field(&c, "$script")["config"]["catalogs"][0]["id"],
        "$scripts"
    );
    // `$users` got `$type` (legacy 4) but no `$password` field.
    let u = t.get("/api/v1/catalogs/$users").await.expect(200).clone();
    let ty = field(&u, "$type");
    assert_eq!(ty["prevId"], "4");
    assert_eq!(ty["type"], "dropdown");
    let items: Vec<&str> = ty["config"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(items, vec!["$user", "$extuser"]);
    assert!(!field_ids(&u).iter().any(|f| f == "$password"));
    // `$webhooks.$sequenceId` is API-only.
    let w = t
        .get("/api/v1/catalogs/$webhooks")
        .await
        .expect(200)
        .clone();
    assert_eq!(field(&w, "$sequenceId")["apiOnly"], true);
    assert_eq!(field(&w, "$url")["required"], true);
}

#[tokio::test]
async fn records_in_system_catalogs_use_both_keys() {
    let t = TestApp::start().await;
    let r = t
        .post(
            "/api/v1/catalogs/$scripts/records",
            json!({"values": {"$name": "Sync", "$description": "x"}}),
        )
        .await;
    let rec = r.expect(200).clone();
    assert_eq!(rec["catalogId"], "$scripts");
    assert_eq!(rec["title"], "Sync");
    let keys = value_keys(&rec);
    for k in ["1", "2", "$name", "$description"] {
        assert!(keys.contains(&k.to_string()), "{k} in {keys:?}");
    }
    assert_eq!(rec["values"]["1"], "Sync");
    assert_eq!(rec["values"]["$name"], "Sync");
    assert_eq!(rec["values"]["2"], "x");
    assert_eq!(rec["values"]["$description"], "x");
    // Read back by both catalog ids.
    let sid = id(&rec);
    let a = t
        .get(&format!("/api/v1/catalogs/$scripts/records/{sid}"))
        .await
        .expect(200)
        .clone();
    let b = t
        .get(&format!("/api/v1/catalogs/6/records/{sid}"))
        .await
        .expect(200)
        .clone();
    assert_eq!(a, b);
    assert_eq!(a["values"]["1"], "Sync");
    assert_eq!(a["values"]["$description"], "x");
    // Legacy keys work on write too; $name is required.
    let r = t
        .post(
            "/api/v1/catalogs/6/records",
            json!({"values": {"1": "Legacy", "2": "y"}}),
        )
        .await;
    assert_eq!(r.expect(200)["values"]["$name"], "Legacy");
    t.post(
        "/api/v1/catalogs/$scripts/records",
        json!({"values": {"$description": "no name"}}),
    )
    .await
    .expect_error(400, "required_field", Some("$name"));

    // An event subscription links a script; `$status` defaults to `$on`.
    let e = t
        .post(
            "/api/v1/catalogs/$events/records",
            json!({"values": {"$name": "On create", "$eventTypes": ["$record.after.create"],
                "$script": [{"catalogId": "$scripts", "recordId": sid}]}}),
        )
        .await;
    let ev = e.expect(200).clone();
    assert_eq!(ev["values"]["$status"], json!(["$on"]));
    assert_eq!(ev["values"]["11"], json!(["$on"]));
    assert_eq!(ev["values"]["5"], json!(["$record.after.create"]));
    assert_eq!(ev["values"]["$script"][0]["catalogId"], "$scripts");
    assert_eq!(ev["values"]["$script"][0]["recordId"], sid.as_str());
    assert_eq!(ev["values"]["$script"][0]["sectionId"], "$settings");

    // A webhook needs a catalog (a record of `$catalogs`) and a URL; `$status` defaults to
    // `["$on"]`.
    let cat_id = "$users".to_string();
    let w = t
        .post(
            "/api/v1/catalogs/$webhooks/records",
            json!({"values": {
                "$catalog": [{"catalogId": "$catalogs", "recordId": cat_id}],
                "$eventTypes": ["$record.created", "$record.updated"],
                "$url": "https://example.com/hook"}}),
        )
        .await;
    let hook = w.expect(200).clone();
    assert_eq!(hook["values"]["$status"], json!(["$on"]));
    assert_eq!(
        hook["values"]["$eventTypes"],
        json!(["$record.created", "$record.updated"])
    );
    // No legacy numbers in `$webhooks`: only text keys.
    assert!(value_keys(&hook).iter().all(|k| k.starts_with('$')));
    // An explicit status is kept.
    let w = t
        .post(
            "/api/v1/catalogs/$webhooks/records",
            json!({"values": {
                "$catalog": [{"catalogId": "1", "recordId": cat_id}],
                "$url": "https://example.com/off", "$status": ["$off"]}}),
        )
        .await;
    assert_eq!(w.expect(200)["values"]["$status"], json!(["$off"]));
    // Required fields of a system catalog are enforced.
    t.post(
        "/api/v1/catalogs/$webhooks/records",
        json!({"values": {"$url": "https://example.com/x"}}),
    )
    .await
    .expect_error(400, "required_field", Some("$catalog"));
}

#[tokio::test]
async fn custom_field_in_a_system_catalog_gets_a_fresh_numeric_id() {
    let t = TestApp::start().await;
    let c = t.get("/api/v1/catalogs/$events").await.expect(200).clone();
    let legacy: Vec<String> = fields(&c)
        .iter()
        .filter_map(|f| f["prevId"].as_str().map(str::to_string))
        .collect();
    let mut list: Vec<Value> = fields(&c)
        .into_iter()
        .filter(|f| f.get("isDuplicated").is_none())
        .collect();
    let before = list.len();
    list.push(json!({"name": "Note", "type": "text"}));
    let u = t
        .patch("/api/v1/catalogs/$events", json!({"fields": list}))
        .await;
    let c2 = u.expect(200).clone();
    let note = fields(&c2)
        .into_iter()
        .find(|f| f["name"] == "Note")
        .expect("new field");
    let nid = note["id"].as_str().expect("id").to_string();
    assert!(nid.bytes().all(|b| b.is_ascii_digit()), "numeric id {nid}");
    assert!(!legacy.contains(&nid), "{nid} collides with a legacy id");
    assert_eq!(nid, "12");
    assert_eq!(note["prevId"], nid.as_str());
    assert_eq!(note["duplicateResultWithPrevId"], false);
    assert_eq!(note["isSystem"], false);
    // The system fields are all still there, with their ids and items.
    let again = t.get("/api/v1/catalogs/7").await.expect(200).clone();
    let canonical: Vec<&Value> = again["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f.get("isDuplicated").is_none())
        .collect();
    assert_eq!(canonical.len(), before + 1);
    let status = field(&again, "$status");
    assert_eq!(status["config"]["items"][0]["id"], "$on");
    assert_eq!(status["config"]["items"][1]["id"], "$off");
    // Records carry the custom field once, under its numeric id.
    let r = t
        .post(
            "/api/v1/catalogs/$events/records",
            json!({"values": {"$name": "E", nid.clone(): "hello"}}),
        )
        .await;
    let rec = r.expect(200).clone();
    assert_eq!(rec["values"][nid.as_str()], "hello");
    assert_eq!(rec["values"]["1"], "E");
}

#[tokio::test]
async fn system_catalogs_cannot_be_deleted() {
    let t = TestApp::start().await;
    for c in ["$scripts", "$events", "5", "$requests", "25"] {
        t.delete(&format!("/api/v1/catalogs/{c}"))
            .await
            .expect_error(405, "method_not_allowed", None);
    }
    t.get("/api/v1/catalogs/$scripts").await.expect(200);
}

/// True when every key of `expected` is in `actual` with an equal value, recursively (arrays
/// element by element): the doc examples show a subset of the objects' keys.
fn contains(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|x| contains(x, v))),
        (Value::Array(a), Value::Array(e)) => {
            a.len() == e.len() && a.iter().zip(e).all(|(x, y)| contains(x, y))
        }
        (a, e) => a == e,
    }
}

#[tokio::test]
async fn spec_02_section_1_7_examples() {
    let t = TestApp::start().await;
    // Records.Get of an employee by both URLs (values also carry `$type`, "4", which
    // spec 02 §1.9.1 proposes).
    let ivan = t
        .post(
            "/api/v1/catalogs/$users/records",
            json!({"values": {"$name": "Ivan", "$email": "ivan@example.com"}}),
        )
        .await;
    let iid = ivan.expect(200)["id"].as_str().expect("id").to_string();
    let expected = json!({"id": iid, "catalogId": "$users", "title": "Ivan",
        "values": {"1": "Ivan", "2": "ivan@example.com", "$name": "Ivan", "$email": "ivan@example.com"},
        "chat": {"messagesCount": 0, "newMessages": false, "subscribe": false}});
    for url in [
        format!("/api/v1/catalogs/3/records/{iid}"),
        format!("/api/v1/catalogs/$users/records/{iid}"),
    ] {
        let r = t.get(&url).await;
        assert!(contains(r.expect(200), &expected), "{url}: {}", r.json);
    }
    // A user catalog whose field links to $users; both write forms; the documented read form.
    let sid = t
        .post("/api/v1/sections", json!({"name": "Shop"}))
        .await
        .expect(200)["id"]
        .clone();
    let c = t
        .post("/api/v1/catalogs", json!({"sectionId": sid, "name": "Orders", "fields": [
            {"name": "Title", "type": "text"},
            {"name": "Employee", "type": "object", "config": {"catalogs": [{"id": "$users"}], "fields": {"$users": ["$name"]}}}]}))
        .await;
    let c = c.expect(200).clone();
    let (title, emp) = (
        c["fields"][0]["id"].as_str().expect("id").to_string(),
        c["fields"][1]["id"].as_str().expect("id").to_string(),
    );
    for cat in ["3", "$users"] {
        let r = t
            .post(&format!("/api/v1/catalogs/{}/records", c["id"].as_str().expect("id")), json!({"values": {title.clone(): "Order 310", emp.clone(): [{"catalogId": cat, "recordId": iid}]}}))
            .await;
        let expected = json!({"catalogId": c["id"], "title": "Order 310", "values": {title.clone(): "Order 310", emp.clone(): [{
            "sectionId": "$settings", "catalogId": "$users", "catalogTitle": "Сотрудники", "catalogIcon": "users-1",
            "recordId": iid, "recordTitle": "Ivan", "isRemoved": false}]}});
        assert!(contains(r.expect(200), &expected), "{}", r.json);
    }
    // The object field pointing at $users, as Catalogs.Get shows it.
    let got = t
        .get(&format!(
            "/api/v1/catalogs/{}",
            c["id"].as_str().expect("id")
        ))
        .await;
    let expected = json!({"id": emp, "prevId": emp, "duplicateResultWithPrevId": false, "type": "object", "name": "Employee",
        "config": {"catalogs": [{"dbId": 3, "id": "$users", "title": "Сотрудники", "icon": "users-1", "removed": false}], "views": [],
            "fields": {"$users": [{"dbId": 1, "id": "$name", "prevId": "1", "columnName": "name", "type": "text", "position": 1,
                "isSystem": true, "duplicateResultWithPrevId": true, "_catalogId": "$users", "config": {"type": "text"}}]}}});
    assert!(
        contains(&got.expect(200)["fields"][1], &expected),
        "{}",
        got.json["fields"][1]
    );
    // Catalogs.Get of $scripts: the legacy copy first, then the canonical entry.
    let s = t.get("/api/v1/catalogs/$scripts").await;
    let f = s.expect(200)["fields"].clone();
    let expected = json!([
        {"id": "1", "prevId": "1", "isDuplicated": true, "duplicateResultWithPrevId": true, "isSystem": true, "name": "Название", "type": "text", "required": true, "config": {"type": "text"}},
        {"id": "$name", "prevId": "1", "duplicateResultWithPrevId": true, "isSystem": true, "name": "Название", "type": "text", "required": true, "config": {"type": "text"}},
        {"id": "3", "prevId": "3", "isDuplicated": true, "duplicateResultWithPrevId": true, "isSystem": true, "name": "Сценарий", "type": "file", "config": {"multiselect": false, "mimeType": "application/bpmn+xml"}},
        {"id": "$file", "prevId": "3", "duplicateResultWithPrevId": true, "isSystem": true, "name": "Сценарий", "type": "file", "config": {"multiselect": false, "mimeType": "application/bpmn+xml"}}
    ]);
    let picked: Vec<Value> = f
        .as_array()
        .expect("fields")
        .iter()
        .filter(|x| ["1", "$name", "3", "$file"].contains(&x["id"].as_str().unwrap_or("")))
        .cloned()
        .collect();
    assert!(
        contains(&Value::Array(picked.clone()), &expected),
        "{picked:?}"
    );
}
