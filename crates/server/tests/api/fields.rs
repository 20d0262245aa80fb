//! Tests: every field type written and read back through the Records API (spec 01 §2.4, §3, §4, §6.4–§6.5).
//! Covers value formats, empty values and clearing, defaults, required fields, validation errors and the title.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

// ---- helpers ----

fn records(cat: &str) -> String {
    format!("/api/v1/catalogs/{cat}/records")
}

fn record_path(cat: &str, rec: &str) -> String {
    format!("/api/v1/catalogs/{cat}/records/{rec}")
}

/// `{"<field id>": value, …}` built from field names.
fn by_name(cat: &Value, pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(n, v)| (field_id(cat, n), v.clone()))
            .collect(),
    )
}

/// The number of records of a catalog, as the list shows them.
async fn count(t: &TestApp, cat: &str) -> usize {
    t.get(&records(cat))
        .await
        .expect(200)
        .as_array()
        .map(Vec::len)
        .expect("the list is an array")
}

/// Creates a record with only `name = input` (query `q` appended to the path), checks that both
/// the POST answer and a GET show `expected` for that field, and returns the record id.
async fn check_create(
    t: &TestApp,
    cat: &Value,
    name: &str,
    input: &Value,
    expected: &Value,
    q: &str,
) -> String {
    let cat_id = id(cat);
    let fid = field_id(cat, name);
    let body = json!({"values": by_name(cat, &[(name, input.clone())])});
    let r = t.post(&format!("{}{q}", records(&cat_id)), body).await;
    assert_eq!(r.status, 200, "create {name} = {input}{q}: {}", r.json);
    assert_eq!(
        r.json["values"][fid.as_str()],
        *expected,
        "create {name} = {input}{q}: POST answered {}",
        r.json
    );
    let rid = id(&r.json);
    let g = t.get(&record_path(&cat_id, &rid)).await;
    assert_eq!(
        g.status, 200,
        "GET after create {name} = {input}: {}",
        g.json
    );
    assert_eq!(
        g.json["values"][fid.as_str()],
        *expected,
        "create {name} = {input}{q}: GET answered {}",
        g.json
    );
    rid
}

/// Updates only `name = input` of a record, checks the PATCH answer and a GET, and returns the
/// record as GET shows it.
async fn check_patch(
    t: &TestApp,
    cat: &Value,
    rid: &str,
    name: &str,
    input: &Value,
    expected: &Value,
    q: &str,
) -> Value {
    let cat_id = id(cat);
    let fid = field_id(cat, name);
    let body = json!({"values": by_name(cat, &[(name, input.clone())])});
    let r = t
        .patch(&format!("{}{q}", record_path(&cat_id, rid)), body)
        .await;
    assert_eq!(r.status, 200, "patch {name} = {input}{q}: {}", r.json);
    assert_eq!(
        r.json["values"][fid.as_str()],
        *expected,
        "patch {name} = {input}{q}: PATCH answered {}",
        r.json
    );
    let g = t.get(&record_path(&cat_id, rid)).await;
    assert_eq!(
        g.status, 200,
        "GET after patch {name} = {input}: {}",
        g.json
    );
    assert_eq!(
        g.json["values"][fid.as_str()],
        *expected,
        "patch {name} = {input}{q}: GET answered {}",
        g.json
    );
    g.json
}

/// A create with `values` must answer 400 with `code` and `fieldId`, and create nothing.
async fn reject_create(t: &TestApp, cat: &Value, values: Value, code: &str, fid: &str) {
    let cat_id = id(cat);
    let before = count(t, &cat_id).await;
    let r = t.post(&records(&cat_id), json!({"values": values})).await;
    assert_eq!(
        r.status, 400,
        "create with {values} must be rejected; got {}",
        r.json
    );
    r.expect_error(400, code, Some(fid));
    assert_eq!(
        count(t, &cat_id).await,
        before,
        "a rejected create with {values} left a record behind"
    );
}

/// A create with only `name = bad` must answer 400 `invalid_value` naming that field.
async fn reject_value(t: &TestApp, cat: &Value, name: &str, bad: &Value) {
    let fid = field_id(cat, name);
    reject_create(
        t,
        cat,
        by_name(cat, &[(name, bad.clone())]),
        "invalid_value",
        &fid,
    )
    .await;
}

/// An update with `values` must answer 400 with `code` and `fieldId`, and change nothing.
async fn reject_patch(t: &TestApp, cat: &Value, rid: &str, values: Value, code: &str, fid: &str) {
    let path = record_path(&id(cat), rid);
    let before = t.get(&path).await.expect(200).clone();
    let r = t.patch(&path, json!({"values": values})).await;
    assert_eq!(
        r.status, 400,
        "update with {values} must be rejected; got {}",
        r.json
    );
    r.expect_error(400, code, Some(fid));
    let after = t.get(&path).await.expect(200).clone();
    assert_eq!(
        after["values"], before["values"],
        "a rejected update with {values} changed the record"
    );
    assert_eq!(
        after["title"], before["title"],
        "a rejected update with {values} changed the title"
    );
}

/// Creates a catalog with an icon in a new section.
async fn catalog_with_icon(t: &TestApp, name: &str, icon: &str, fields: Value) -> Value {
    let section = t.section(&format!("{name} section")).await;
    let body = json!({"sectionId": section, "name": name, "icon": icon, "fields": fields});
    t.post("/api/v1/catalogs", body).await.expect(200).clone()
}

fn now_ms() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(d.as_millis()).expect("millis fit i64")
}

/// Epoch milliseconds of `YYYY-MM-DDTHH:MM:SS.mmmZ`; panics unless the string has exactly that form.
fn iso_ms(s: &str) -> i64 {
    let b = s.as_bytes();
    let shape = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape, "not in the form YYYY-MM-DDTHH:MM:SS.mmmZ: {s:?}");
    let n = |a: usize, z: usize| s[a..z].parse::<i64>().expect("digits");
    let (y, m, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from the civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60_000 + n(17, 19) * 1000 + n(20, 23)
}

/// The fields of a catalog holding one field of every type; `Link` points at `link_catalog`.
fn all_types(link_catalog: &str) -> Value {
    json!([
        {"name": "Section", "type": "group"},
        {"name": "Name", "type": "text"},
        {"name": "Notes", "type": "text", "config": {"type": "multiline"}},
        {"name": "Amount", "type": "number", "config": {"unit": "kg"}},
        {"name": "Due", "type": "date", "config": {"time": true}},
        {"name": "Day", "type": "date", "config": {"time": false}},
        {"name": "Status", "type": "dropdown", "config": {"items": [
            {"name": "New", "color": "F9C2C2"}, {"name": "Won", "color": "C9FDE5"}]}},
        {"name": "Tags", "type": "checkboxes", "config": {"items": [
            {"name": "red"}, {"name": "green"}, {"name": "blue"}]}},
        {"name": "Choice", "type": "radiobutton", "config": {"items": [{"name": "yes"}, {"name": "no"}]}},
        {"name": "Flag", "type": "switch"},
        {"name": "Done", "type": "progress"},
        {"name": "Rating", "type": "stars"},
        {"name": "Owner", "type": "user"},
        {"name": "Link", "type": "object", "config": {"catalogs": [{"id": link_catalog}]}},
        {"name": "Attachment", "type": "file"},
        {"name": "Phone", "type": "contact", "config": {"type": "phone"}},
        {"name": "Address", "type": "address"},
        {"name": "Action", "type": "button"},
        {"name": "Frame", "type": "iframe", "config": {"url": "https://example.com/embed"}},
    ])
}

/// The fields of [`all_types`] that hold a value.
const VALUE_FIELDS: [&str; 16] = [
    "Name",
    "Notes",
    "Amount",
    "Due",
    "Day",
    "Status",
    "Tags",
    "Choice",
    "Flag",
    "Done",
    "Rating",
    "Owner",
    "Link",
    "Attachment",
    "Phone",
    "Address",
];

/// A `Clients` catalog with one record `ACME`, and a catalog of every field type linking to it.
/// Returns (all-types catalog, clients catalog, ACME record id).
async fn all_types_fixture(t: &TestApp) -> (Value, Value, String) {
    let clients = catalog_with_icon(
        t,
        "Clients",
        "users-10",
        json!([{"name": "Company", "type": "text"}]),
    )
    .await;
    let clients_id = id(&clients);
    let acme = t
        .record(
            &clients_id,
            by_name(&clients, &[("Company", json!("ACME"))]),
        )
        .await;
    let cat = t.catalog("Everything", all_types(&clients_id)).await;
    (cat, clients, id(&acme))
}

/// Filled values for [`all_types`], by field name.
fn full_values(clients_id: &str, acme: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("Name", json!("ACME order")),
        ("Notes", json!("line 1\nline 2")),
        ("Amount", json!(120.5)),
        ("Due", json!("2024-03-19T15:00:00+03:00")),
        ("Day", json!("2024-03-19")),
        ("Status", json!(["2"])),
        ("Tags", json!(["1", "3"])),
        ("Choice", json!("2")),
        ("Flag", json!(true)),
        ("Done", json!(40)),
        ("Rating", json!(4)),
        ("Owner", json!([{"id": "1"}])),
        ("Link", json!([{"catalogId": clients_id, "recordId": acme}])),
        (
            "Attachment",
            json!([{"src": "https://example.com/a.pdf", "title": "a.pdf"}]),
        ),
        (
            "Phone",
            json!([{"contact": "+7 900 123-45-67", "comment": "office"}]),
        ),
        (
            "Address",
            json!({"value": "Moscow", "provider": "dadata", "data": {"city": "Moscow"}}),
        ),
    ]
}

fn admin_item() -> Value {
    json!({"id": "1", "title": "Administrator", "isRemoved": false})
}

// ---- all types together ----

#[tokio::test]
async fn all_types_round_trip_and_partial_update() {
    let t = TestApp::start().await;
    let (cat, clients, acme) = all_types_fixture(&t).await;
    let (cat_id, clients_id) = (id(&cat), id(&clients));
    let f = |n: &str| field_id(&cat, n);

    let mut input = full_values(&clients_id, &acme);
    input.push(("Section", json!("ignored")));
    input.push(("Action", json!("ignored")));
    let created = t.record(&cat_id, by_name(&cat, &input)).await;

    // The record shape of spec 01 §2.4 / §6.4.
    assert!(
        created["id"].as_str().is_some_and(|s| !s.is_empty()),
        "id must be a string: {created}"
    );
    assert_eq!(created["catalogId"], cat_id.as_str(), "{created}");
    assert_eq!(created["title"], "ACME order", "{created}");
    assert!(
        created["privilegeCode"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{created}"
    );
    assert!(
        created["chat"].is_object(),
        "chat must be an object: {created}"
    );
    assert!(
        created["created"].is_string(),
        "created must be a string: {created}"
    );

    // Exactly the value fields have keys; group, button and iframe never do.
    let values = created["values"].as_object().expect("values is an object");
    let mut keys: Vec<&String> = values.keys().collect();
    keys.sort();
    let mut want: Vec<String> = VALUE_FIELDS.iter().map(|n| f(n)).collect();
    want.sort();
    assert_eq!(
        keys,
        want.iter().collect::<Vec<_>>(),
        "value keys: {created}"
    );

    let v = |n: &str| created["values"][f(n).as_str()].clone();
    assert_eq!(v("Name"), json!("ACME order"));
    assert_eq!(v("Notes"), json!("line 1\nline 2"));
    assert_eq!(v("Amount"), json!(120.5));
    assert_eq!(v("Due"), json!("2024-03-19T12:00:00.000Z"));
    assert_eq!(v("Day"), json!("2024-03-19T00:00:00.000Z"));
    assert_eq!(v("Status"), json!(["2"]));
    assert_eq!(v("Tags"), json!(["1", "3"]));
    assert_eq!(v("Choice"), json!(["2"]));
    assert_eq!(v("Flag"), json!(true));
    assert_eq!(v("Done"), json!(40));
    assert_eq!(v("Rating"), json!(4));
    assert_eq!(v("Owner"), json!([admin_item()]));
    assert_eq!(
        v("Link"),
        json!([{"sectionId": clients["sectionId"], "catalogId": clients_id, "catalogTitle": "Clients",
                "catalogIcon": "users-10", "recordId": acme, "recordTitle": "ACME", "isRemoved": false}])
    );
    let file = &v("Attachment")[0];
    assert!(
        file["id"].as_str().is_some_and(|s| !s.is_empty()),
        "file id must be a string: {file}"
    );
    assert_eq!(file["title"], "a.pdf");
    assert_eq!(file["url"], "https://example.com/a.pdf");
    assert_eq!(v("Attachment").as_array().map(Vec::len), Some(1));
    assert_eq!(
        v("Phone"),
        json!([{"contact": "+7 900 123-45-67", "comment": "office"}])
    );
    assert_eq!(
        v("Address"),
        json!({"value": "Moscow", "provider": "dadata", "data": {"city": "Moscow"}})
    );

    // GET and the list show the same record.
    let rid = id(&created);
    let got = t.get(&record_path(&cat_id, &rid)).await.expect(200).clone();
    assert_eq!(
        got["values"], created["values"],
        "GET differs from the create answer"
    );
    assert_eq!(got["title"], created["title"]);
    assert_eq!(got["catalogId"], created["catalogId"]);
    let list = t.get(&records(&cat_id)).await.expect(200).clone();
    let item = list
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == rid.as_str()))
        .expect("record listed");
    assert_eq!(
        item["values"], created["values"],
        "the list differs from the create answer"
    );

    // PATCH changes only the sent fields.
    let mut expected = created["values"].clone();
    expected[f("Amount").as_str()] = json!(7);
    let patched = t
        .patch(
            &record_path(&cat_id, &rid),
            json!({"values": by_name(&cat, &[("Amount", json!(7))])}),
        )
        .await;
    assert_eq!(
        patched.expect(200)["values"],
        expected,
        "PATCH of Amount changed other fields"
    );
    assert_eq!(patched.json["title"], "ACME order");
    assert_eq!(
        t.get(&record_path(&cat_id, &rid)).await.expect(200)["values"],
        expected
    );

    // Multi-valued fields are replaced as a whole.
    expected[f("Tags").as_str()] = json!(["2"]);
    let patched = t
        .patch(
            &record_path(&cat_id, &rid),
            json!({"values": by_name(&cat, &[("Tags", json!(["2"]))])}),
        )
        .await;
    assert_eq!(patched.expect(200)["values"], expected, "PATCH of Tags");

    // A value for a layout field is ignored on update as well; an empty `values` changes nothing.
    let patched = t
        .patch(
            &record_path(&cat_id, &rid),
            json!({"values": by_name(&cat, &[("Section", json!("x"))])}),
        )
        .await;
    assert_eq!(
        patched.expect(200)["values"],
        expected,
        "PATCH of a group field"
    );
    let patched = t
        .patch(&record_path(&cat_id, &rid), json!({"values": {}}))
        .await;
    assert_eq!(
        patched.expect(200)["values"],
        expected,
        "PATCH with empty values"
    );
    assert_eq!(
        t.get(&record_path(&cat_id, &rid)).await.expect(200)["values"],
        expected
    );
}

#[tokio::test]
async fn empty_values_render_canonically_and_clearing_works() {
    let t = TestApp::start().await;
    let (cat, clients, acme) = all_types_fixture(&t).await;
    let cat_id = id(&cat);
    let empty = by_name(
        &cat,
        &[
            ("Name", json!("")),
            ("Notes", json!("")),
            ("Amount", json!(null)),
            ("Due", json!(null)),
            ("Day", json!(null)),
            ("Status", json!([])),
            ("Tags", json!([])),
            ("Choice", json!([])),
            ("Flag", json!(false)),
            ("Done", json!(null)),
            ("Rating", json!(null)),
            ("Owner", json!([])),
            ("Link", json!([])),
            ("Attachment", json!([])),
            ("Phone", json!([])),
            ("Address", json!(null)),
        ],
    );

    let r = t.record(&cat_id, json!({})).await;
    assert_eq!(r["values"], empty, "a record created with {{}}");
    let rid = id(&r);
    assert_eq!(
        t.get(&record_path(&cat_id, &rid)).await.expect(200)["values"],
        empty
    );

    let full = by_name(&cat, &full_values(&id(&clients), &acme));
    let clear_rounds: [(&str, Vec<(&str, Value)>); 4] = [
        (
            "null",
            VALUE_FIELDS.iter().map(|n| (*n, Value::Null)).collect(),
        ),
        (
            "\"\"",
            [
                "Name", "Notes", "Amount", "Due", "Day", "Done", "Rating", "Address",
            ]
            .iter()
            .map(|n| (*n, json!("")))
            .collect(),
        ),
        (
            "[]",
            [
                "Status",
                "Tags",
                "Choice",
                "Owner",
                "Link",
                "Attachment",
                "Phone",
            ]
            .iter()
            .map(|n| (*n, json!([])))
            .collect(),
        ),
        ("false", vec![("Flag", json!(false))]),
    ];
    for (label, clear) in clear_rounds {
        let filled = t
            .patch(&record_path(&cat_id, &rid), json!({"values": full}))
            .await;
        filled.expect(200);
        let r = t
            .patch(
                &record_path(&cat_id, &rid),
                json!({"values": by_name(&cat, &clear)}),
            )
            .await;
        let got = r.expect(200).clone();
        for (name, _) in &clear {
            let fid = field_id(&cat, name);
            assert_eq!(
                got["values"][fid.as_str()],
                empty[fid.as_str()],
                "clearing {name} with {label}: {got}"
            );
        }
        let read = t.get(&record_path(&cat_id, &rid)).await.expect(200).clone();
        assert_eq!(
            read["values"], got["values"],
            "GET after clearing with {label}"
        );
    }
}

// ---- one type at a time ----

#[tokio::test]
async fn text_values() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Texts",
            json!([
                {"name": "Line", "type": "text"},
                {"name": "Multi", "type": "text", "config": {"type": "multiline"}},
                {"name": "Masked", "type": "text", "config": {"type": "mask", "mask": "+7 (111) 111-11-11"}},
                {"name": "Mail", "type": "text", "config": {"type": "mail"}},
                {"name": "Editor", "type": "text", "config": {"type": "editor"}},
            ]),
        )
        .await;
    let long = |c: &str, n: usize| json!(c.repeat(n));
    let cases: Vec<(&str, Value, Value)> = vec![
        ("Line", json!("Hello"), json!("Hello")),
        ("Line", json!(42), json!("42")),
        ("Line", json!(3.5), json!("3.5")),
        ("Line", json!(""), json!("")),
        ("Line", json!(null), json!("")),
        ("Line", long("x", 256), long("x", 256)),
        ("Line", long("я", 256), long("я", 256)),
        ("Multi", json!("one\ntwo\n"), json!("one\ntwo\n")),
        ("Multi", long("x", 5000), long("x", 5000)),
        (
            "Masked",
            json!("+7 (900) 123-45-67"),
            json!("+7 (900) 123-45-67"),
        ),
        ("Masked", json!(""), json!("")),
        ("Mail", json!("ivan@example.com"), json!("ivan@example.com")),
        (
            "Editor",
            json!("<p>Hi <b>there</b></p>"),
            json!("<p>Hi <b>there</b></p>"),
        ),
        ("Editor", long("y", 5000), long("y", 5000)),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }

    for (name, bad) in [
        ("Line", long("x", 257)),
        ("Line", long("я", 257)),
        ("Masked", json!("+7 (900) 123-45-6")),
        ("Masked", json!("+7 (900) 123-45-678")),
        ("Masked", json!("+7 (9a0) 123-45-67")),
        ("Masked", json!("hello")),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    // The same rules on update.
    let rid = check_create(&t, &cat, "Line", &json!("first"), &json!("first"), "").await;
    check_patch(&t, &cat, &rid, "Line", &json!(7), &json!("7"), "").await;
    let fid = field_id(&cat, "Line");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Line", long("x", 257))]),
        "invalid_value",
        &fid,
    )
    .await;
    let fid = field_id(&cat, "Masked");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Masked", json!("123"))]),
        "invalid_value",
        &fid,
    )
    .await;
}

#[tokio::test]
async fn number_values() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Numbers",
            json!([
                {"name": "Amount", "type": "number", "config": {"unit": "₽"}},
                {"name": "Bounded", "type": "number", "config": {"min": -10, "max": 100}},
            ]),
        )
        .await;
    let cases: Vec<(&str, Value, Value)> = vec![
        ("Amount", json!(3), json!(3)),
        ("Amount", json!(3.0), json!(3)),
        ("Amount", json!(1_000_000.0), json!(1_000_000)),
        ("Amount", json!(120.5), json!(120.5)),
        ("Amount", json!(-2.5), json!(-2.5)),
        ("Amount", json!(0), json!(0)),
        ("Amount", json!("2.75"), json!(2.75)),
        ("Amount", json!("7"), json!(7)),
        ("Amount", json!("-42"), json!(-42)),
        ("Amount", json!(null), json!(null)),
        ("Amount", json!(""), json!(null)),
        ("Bounded", json!(100), json!(100)),
        ("Bounded", json!(-10), json!(-10)),
        ("Bounded", json!(50.5), json!(50.5)),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }
    for (name, bad) in [
        ("Amount", json!("abc")),
        ("Amount", json!([1])),
        ("Amount", json!({"value": 1})),
        ("Amount", json!(true)),
        ("Bounded", json!(101)),
        ("Bounded", json!(100.01)),
        ("Bounded", json!(-11)),
        ("Bounded", json!("101")),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    let rid = check_create(&t, &cat, "Bounded", &json!(5), &json!(5), "").await;
    check_patch(&t, &cat, &rid, "Bounded", &json!("12"), &json!(12), "").await;
    check_patch(&t, &cat, &rid, "Bounded", &json!(12.75), &json!(12.75), "").await;
    let fid = field_id(&cat, "Bounded");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Bounded", json!(1000))]),
        "invalid_value",
        &fid,
    )
    .await;
}

#[tokio::test]
async fn date_values() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Dates",
            json!([
                {"name": "Due", "type": "date", "config": {"time": true}},
                {"name": "Day", "type": "date", "config": {"time": false}},
            ]),
        )
        .await;
    let noon = json!("2024-03-19T12:00:00.000Z");
    let midnight = json!("2024-03-19T00:00:00.000Z");
    // (field, input, expected, query)
    let cases: Vec<(&str, Value, Value, &str)> = vec![
        ("Due", json!("2024-03-19T12:00:00.000Z"), noon.clone(), ""),
        ("Due", json!("2024-03-19T12:00:00Z"), noon.clone(), ""),
        ("Due", json!("2024-03-19T15:00:00+03:00"), noon.clone(), ""),
        ("Due", json!("2024-03-19T07:00:00-05:00"), noon.clone(), ""),
        ("Due", json!("2024-03-20T02:30:00+14:30"), noon.clone(), ""),
        (
            "Due",
            json!("2024-03-19T12:00:00.123Z"),
            json!("2024-03-19T12:00:00.123Z"),
            "",
        ),
        ("Due", json!("2024-03-19"), midnight.clone(), ""),
        ("Due", json!(null), json!(null), ""),
        ("Due", json!(""), json!(null), ""),
        // Input without an offset is read in the client zone (timezoneOffset, minutes east of UTC).
        (
            "Due",
            json!("2024-03-19T15:00:00"),
            noon.clone(),
            "?timezoneOffset=180",
        ),
        (
            "Due",
            json!("2024-03-19T07:00:00"),
            noon.clone(),
            "?timezoneOffset=-300",
        ),
        ("Due", json!("2024-03-19T12:00:00"), noon.clone(), ""),
        // An explicit offset wins over timezoneOffset.
        (
            "Due",
            json!("2024-03-19T12:00:00Z"),
            noon.clone(),
            "?timezoneOffset=180",
        ),
        (
            "Due",
            json!("2024-03-19T15:00:00+03:00"),
            noon.clone(),
            "?timezoneOffset=-300",
        ),
        ("Day", json!("2024-03-19"), midnight.clone(), ""),
        (
            "Day",
            json!("2024-03-19T12:34:56.789Z"),
            midnight.clone(),
            "",
        ),
        (
            "Day",
            json!("2024-03-19T12:00:00+03:00"),
            midnight.clone(),
            "",
        ),
        (
            "Day",
            json!("2024-03-19"),
            midnight.clone(),
            "?timezoneOffset=180",
        ),
        (
            "Day",
            json!("2024-03-19"),
            midnight.clone(),
            "?timezoneOffset=-300",
        ),
        (
            "Day",
            json!("2024-02-29"),
            json!("2024-02-29T00:00:00.000Z"),
            "",
        ),
        ("Day", json!(null), json!(null), ""),
        ("Day", json!(""), json!(null), ""),
    ];
    for (name, input, expected, q) in &cases {
        check_create(&t, &cat, name, input, expected, q).await;
    }
    for (name, bad) in [
        ("Due", json!("yesterday")),
        ("Due", json!("2024-02-30T10:00:00Z")),
        ("Due", json!("19.03.2024 12:00")),
        ("Due", json!(true)),
        ("Day", json!("not a date")),
        ("Day", json!("2023-02-29")),
        ("Day", json!("2024-13-01")),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    // Updates apply timezoneOffset too.
    let rid = check_create(&t, &cat, "Due", &noon, &noon, "").await;
    check_patch(
        &t,
        &cat,
        &rid,
        "Due",
        &json!("2024-03-20T03:00:00"),
        &json!("2024-03-20T00:00:00.000Z"),
        "?timezoneOffset=180",
    )
    .await;
    check_patch(
        &t,
        &cat,
        &rid,
        "Day",
        &json!("2024-03-21"),
        &json!("2024-03-21T00:00:00.000Z"),
        "?timezoneOffset=180",
    )
    .await;
    let fid = field_id(&cat, "Due");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Due", json!("soon"))]),
        "invalid_value",
        &fid,
    )
    .await;
}

/// Spec 01 §1.4: a date without time takes the date part of the input after applying the
/// input's own offset; an input without an offset is in the client's zone (`timezoneOffset`),
/// as it is for date-time fields.
#[tokio::test]
async fn date_without_time_reads_input_without_offset_in_client_zone() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Days",
            json!([
                {"name": "Due", "type": "date", "config": {"time": true}},
                {"name": "Day", "type": "date", "config": {"time": false}},
            ]),
        )
        .await;
    // 22:00 on the 18th in UTC+3 is a moment of the 18th for that client…
    check_create(
        &t,
        &cat,
        "Due",
        &json!("2024-03-18T22:00:00"),
        &json!("2024-03-18T19:00:00.000Z"),
        "?timezoneOffset=180",
    )
    .await;
    // …so a date-only field given the same local time keeps the 18th.
    let cases: [(Value, Value, &str); 2] = [
        (
            json!("2024-03-18T22:00:00"),
            json!("2024-03-18T00:00:00.000Z"),
            "?timezoneOffset=180",
        ),
        (
            json!("2024-03-19T02:00:00"),
            json!("2024-03-19T00:00:00.000Z"),
            "?timezoneOffset=-300",
        ),
    ];
    for (input, expected, q) in &cases {
        check_create(&t, &cat, "Day", input, expected, q).await;
    }
}

#[tokio::test]
async fn item_fields_dropdown_checkboxes_radiobutton() {
    let t = TestApp::start().await;
    let items = json!([{"name": "New", "color": "F9C2C2"}, {"name": "Work", "color": "FFE4B5"}, {"name": "Done", "color": "C9FDE5"}]);
    let cat = t
        .catalog(
            "Items",
            json!([
                {"name": "Status", "type": "dropdown", "config": {"items": items}},
                {"name": "Multi", "type": "dropdown", "config": {"items": items, "multiselect": true}},
                {"name": "Tags", "type": "checkboxes", "config": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}},
                {"name": "Choice", "type": "radiobutton", "config": {"items": [{"name": "x"}, {"name": "y"}, {"name": "z"}]}},
            ]),
        )
        .await;

    // Items get ids "1", "2", … in the catalog answer; names and colours are kept.
    for name in ["Status", "Multi", "Tags", "Choice"] {
        let f = cat["fields"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["name"] == name))
            .expect("field");
        let got = f["config"]["items"].as_array().expect("items array");
        let ids: Vec<&Value> = got.iter().map(|i| &i["id"]).collect();
        assert_eq!(
            ids,
            [&json!("1"), &json!("2"), &json!("3")],
            "item ids of {name}: {f}"
        );
    }
    let status = cat["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["name"] == "Status"))
        .expect("Status");
    assert_eq!(status["config"]["items"][0]["name"], "New");
    assert_eq!(status["config"]["items"][2]["color"], "C9FDE5");

    let cases: Vec<(&str, Value, Value)> = vec![
        ("Status", json!(["1"]), json!(["1"])),
        ("Status", json!("2"), json!(["2"])),
        ("Status", json!(3), json!(["3"])),
        ("Status", json!([2]), json!(["2"])),
        ("Status", json!([]), json!([])),
        ("Status", json!(null), json!([])),
        ("Multi", json!(["3", "1"]), json!(["1", "3"])),
        ("Multi", json!([1, "2", 3]), json!(["1", "2", "3"])),
        ("Multi", json!(["2", "2"]), json!(["2"])),
        ("Multi", json!("1"), json!(["1"])),
        ("Tags", json!(["3", "1"]), json!(["1", "3"])),
        ("Tags", json!(["1", "2", "3"]), json!(["1", "2", "3"])),
        ("Tags", json!([]), json!([])),
        ("Choice", json!("2"), json!(["2"])),
        ("Choice", json!(["2"]), json!(["2"])),
        ("Choice", json!(1), json!(["1"])),
        ("Choice", json!([]), json!([])),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }
    for (name, bad) in [
        ("Status", json!(["9"])),
        ("Status", json!("9")),
        ("Status", json!(["1", "2"])),
        ("Multi", json!(["1", "9"])),
        ("Tags", json!(["4"])),
        ("Choice", json!(["1", "2"])),
        ("Choice", json!("9")),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    // On update the sent list replaces the stored one.
    let rid = check_create(
        &t,
        &cat,
        "Multi",
        &json!(["1", "2"]),
        &json!(["1", "2"]),
        "",
    )
    .await;
    check_patch(&t, &cat, &rid, "Multi", &json!(["3"]), &json!(["3"]), "").await;
    check_patch(&t, &cat, &rid, "Choice", &json!("3"), &json!(["3"]), "").await;
    let fid = field_id(&cat, "Status");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Status", json!(["1", "3"]))]),
        "invalid_value",
        &fid,
    )
    .await;
}

#[tokio::test]
async fn switch_progress_and_stars() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Scales",
            json!([
                {"name": "Flag", "type": "switch"},
                {"name": "Done", "type": "progress"},
                {"name": "Rating", "type": "stars"},
            ]),
        )
        .await;
    let cases: Vec<(&str, Value, Value)> = vec![
        ("Flag", json!(true), json!(true)),
        ("Flag", json!(false), json!(false)),
        ("Flag", json!("true"), json!(true)),
        ("Flag", json!("false"), json!(false)),
        ("Flag", json!(1), json!(true)),
        ("Flag", json!(0), json!(false)),
        ("Done", json!(0), json!(0)),
        ("Done", json!(55.5), json!(55.5)),
        ("Done", json!(100), json!(100)),
        ("Done", json!(null), json!(null)),
        ("Rating", json!(0), json!(0)),
        ("Rating", json!(3), json!(3)),
        ("Rating", json!(5), json!(5)),
        ("Rating", json!(null), json!(null)),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }
    for (name, bad) in [
        ("Flag", json!("yes")),
        ("Flag", json!(2)),
        ("Flag", json!(-1)),
        ("Flag", json!({"on": true})),
        ("Done", json!(101)),
        ("Done", json!(100.5)),
        ("Done", json!(-1)),
        ("Done", json!("lots")),
        ("Rating", json!(4.5)),
        ("Rating", json!(6)),
        ("Rating", json!(-1)),
        ("Rating", json!("many")),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    // Empty renders false / null; updates follow the same rules.
    let r = t.record(&id(&cat), json!({})).await;
    assert_eq!(
        r["values"],
        by_name(
            &cat,
            &[
                ("Flag", json!(false)),
                ("Done", json!(null)),
                ("Rating", json!(null))
            ]
        )
    );
    let rid = id(&r);
    check_patch(&t, &cat, &rid, "Flag", &json!("true"), &json!(true), "").await;
    check_patch(&t, &cat, &rid, "Done", &json!(12.5), &json!(12.5), "").await;
    check_patch(&t, &cat, &rid, "Rating", &json!(2), &json!(2), "").await;
    let fid = field_id(&cat, "Rating");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Rating", json!(6))]),
        "invalid_value",
        &fid,
    )
    .await;
    let fid = field_id(&cat, "Flag");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Flag", json!("maybe"))]),
        "invalid_value",
        &fid,
    )
    .await;
}

#[tokio::test]
async fn user_fields() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Tasks",
            json!([
                {"name": "Owner", "type": "user"},
                {"name": "Team", "type": "user", "config": {"multiselect": true}},
            ]),
        )
        .await;
    let ivan = t
        .record(
            "$users",
            json!({"$name": "Ivan", "$email": "ivan@example.com"}),
        )
        .await;
    let ivan_id = id(&ivan);
    let ivan_item = json!({"id": ivan_id, "title": "Ivan", "isRemoved": false});

    let cases: Vec<(&str, Value, Value)> = vec![
        ("Owner", json!([{"id": "1"}]), json!([admin_item()])),
        ("Owner", json!(["1"]), json!([admin_item()])),
        ("Owner", json!([{"id": 1}]), json!([admin_item()])),
        ("Owner", json!([{"id": ivan_id}]), json!([ivan_item])),
        ("Owner", json!([]), json!([])),
        ("Owner", json!(null), json!([])),
        ("Team", json!([{"id": "1"}, "1"]), json!([admin_item()])),
        ("Team", json!([]), json!([])),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }

    // Several users in a multiselect field (order not specified: compare as a set).
    let team = json!([{"id": "1"}, {"id": ivan_id}]);
    let r = t.record(&id(&cat), by_name(&cat, &[("Team", team)])).await;
    let rid = id(&r);
    let got = r["values"][field_id(&cat, "Team").as_str()]
        .as_array()
        .cloned()
        .expect("Team is a list");
    assert_eq!(got.len(), 2, "{r}");
    assert!(
        got.contains(&admin_item()) && got.contains(&ivan_item),
        "{r}"
    );

    for (name, bad) in [
        ("Owner", json!([{"id": "999"}])),
        ("Owner", json!(["999"])),
        ("Owner", json!([{"id": "1"}, {"id": ivan_id}])),
        ("Team", json!([{"id": "1"}, {"id": "999"}])),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }
    let fid = field_id(&cat, "Owner");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Owner", json!([{"id": "999"}]))]),
        "invalid_value",
        &fid,
    )
    .await;

    // A deleted employee stays in the field, marked isRemoved.
    t.delete(&format!("/api/v1/catalogs/$users/records/{ivan_id}"))
        .await
        .expect(200);
    let read = t
        .get(&record_path(&id(&cat), &rid))
        .await
        .expect(200)
        .clone();
    let team = read["values"][field_id(&cat, "Team").as_str()]
        .as_array()
        .cloned()
        .expect("Team is a list");
    assert!(team.contains(&admin_item()), "{read}");
    let gone = team
        .iter()
        .find(|u| u["id"] == ivan_id.as_str())
        .unwrap_or_else(|| panic!("deleted user dropped: {read}"));
    assert_eq!(gone["isRemoved"], true, "{read}");
}

#[tokio::test]
async fn object_fields() {
    let t = TestApp::start().await;
    let clients = catalog_with_icon(
        &t,
        "Clients",
        "users-10",
        json!([{"name": "Company", "type": "text"}]),
    )
    .await;
    let partners = catalog_with_icon(
        &t,
        "Partners",
        "transfers-50",
        json!([{"name": "Company", "type": "text"}]),
    )
    .await;
    let other = t
        .catalog("Suppliers", json!([{"name": "Company", "type": "text"}]))
        .await;
    let (clients_id, partners_id, other_id) = (id(&clients), id(&partners), id(&other));
    let company = |c: &Value, s: &str| by_name(c, &[("Company", json!(s))]);
    let acme = id(&t.record(&clients_id, company(&clients, "ACME")).await);
    let beta = id(&t.record(&clients_id, company(&clients, "Beta")).await);
    let pal = id(&t.record(&partners_id, company(&partners, "Pal")).await);
    let sup = id(&t.record(&other_id, company(&other, "Sup")).await);

    let cat = t
        .catalog(
            "Orders",
            json!([
                {"name": "Note", "type": "text"},
                {"name": "Client", "type": "object", "config": {"catalogs": [{"id": clients_id}]}},
                {"name": "Parties", "type": "object",
                 "config": {"catalogs": [{"id": clients_id}, {"id": partners_id}], "multiselect": true}},
            ]),
        )
        .await;
    let item = |c: &Value, rid: &str, title: &str, removed: bool| {
        json!({"sectionId": c["sectionId"], "catalogId": c["id"], "catalogTitle": c["name"], "catalogIcon": c["icon"],
               "recordId": rid, "recordTitle": title, "isRemoved": removed})
    };
    let link = |c: &str, r: &str| json!({"catalogId": c, "recordId": r});

    let mut cases: Vec<(&str, Value, Value)> = vec![
        (
            "Client",
            json!([link(&clients_id, &acme)]),
            json!([item(&clients, &acme, "ACME", false)]),
        ),
        (
            "Client",
            json!([{"catalogId": clients_id, "recordId": acme, "recordTitle": "ignored", "extra": 1}]),
            json!([item(&clients, &acme, "ACME", false)]),
        ),
        ("Client", json!([]), json!([])),
        ("Client", json!(null), json!([])),
        (
            "Parties",
            json!([link(&clients_id, &acme), link(&clients_id, &acme)]),
            json!([item(&clients, &acme, "ACME", false)]),
        ),
    ];
    // Numeric ids are accepted and normalised to strings.
    if let (Ok(c), Ok(r)) = (clients_id.parse::<i64>(), acme.parse::<i64>()) {
        cases.push((
            "Client",
            json!([{"catalogId": c, "recordId": r}]),
            json!([item(&clients, &acme, "ACME", false)]),
        ));
    }
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }

    // Links into two source catalogs (order not specified: compare as a set).
    let r = t
        .record(
            &id(&cat),
            by_name(
                &cat,
                &[(
                    "Parties",
                    json!([link(&clients_id, &beta), link(&partners_id, &pal)]),
                )],
            ),
        )
        .await;
    let got = r["values"][field_id(&cat, "Parties").as_str()]
        .as_array()
        .cloned()
        .expect("Parties is a list");
    assert_eq!(got.len(), 2, "{r}");
    assert!(got.contains(&item(&clients, &beta, "Beta", false)), "{r}");
    assert!(got.contains(&item(&partners, &pal, "Pal", false)), "{r}");

    for (name, bad) in [
        ("Client", json!([link(&other_id, &sup)])),
        ("Client", json!([link(&partners_id, &pal)])),
        ("Client", json!([link(&clients_id, "999")])),
        (
            "Client",
            json!([link(&clients_id, &acme), link(&clients_id, &beta)]),
        ),
        ("Client", json!([{"catalogId": clients_id}])),
        (
            "Parties",
            json!([link(&clients_id, &acme), link(&other_id, &sup)]),
        ),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }

    // The link follows the linked record's title; after deletion it stays, marked isRemoved,
    // with the last title.
    let order = t
        .record(
            &id(&cat),
            by_name(
                &cat,
                &[
                    ("Note", json!("order 1")),
                    ("Client", json!([link(&clients_id, &acme)])),
                ],
            ),
        )
        .await;
    let oid = id(&order);
    t.patch(
        &record_path(&clients_id, &acme),
        json!({"values": company(&clients, "ACME Ltd")}),
    )
    .await
    .expect(200);
    let client_fid = field_id(&cat, "Client");
    let read = t
        .get(&record_path(&id(&cat), &oid))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        read["values"][client_fid.as_str()],
        json!([item(&clients, &acme, "ACME Ltd", false)]),
        "after rename"
    );
    t.delete(&record_path(&clients_id, &acme)).await.expect(200);
    let removed = json!([item(&clients, &acme, "ACME Ltd", true)]);
    let read = t
        .get(&record_path(&id(&cat), &oid))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        read["values"][client_fid.as_str()],
        removed,
        "after deleting the linked record"
    );
    // Updating another field keeps the removed link; linking the deleted record anew is refused.
    let after = check_patch(
        &t,
        &cat,
        &oid,
        "Note",
        &json!("order 1b"),
        &json!("order 1b"),
        "",
    )
    .await;
    assert_eq!(
        after["values"][client_fid.as_str()],
        removed,
        "partial update dropped the removed link"
    );
    reject_value(&t, &cat, "Client", &json!([link(&clients_id, &acme)])).await;
    reject_patch(
        &t,
        &cat,
        &oid,
        by_name(&cat, &[("Client", json!([link(&clients_id, "999")]))]),
        "invalid_value",
        &client_fid,
    )
    .await;
    check_patch(&t, &cat, &oid, "Client", &json!([]), &json!([]), "").await;
}

#[tokio::test]
async fn file_fields() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Docs",
            json!([
                {"name": "Doc", "type": "file"},
                {"name": "Docs", "type": "file", "config": {"multiselect": true}},
            ]),
        )
        .await;
    let cat_id = id(&cat);
    let (doc, docs) = (field_id(&cat, "Doc"), field_id(&cat, "Docs"));

    let r = t
        .record(
            &cat_id,
            by_name(
                &cat,
                &[(
                    "Doc",
                    json!([{"src": "https://example.com/a.pdf", "title": "a.pdf"}]),
                )],
            ),
        )
        .await;
    let rid = id(&r);
    let files = r["values"][doc.as_str()]
        .as_array()
        .cloned()
        .expect("Doc is a list");
    assert_eq!(files.len(), 1, "{r}");
    let a = files[0]
        .as_object()
        .cloned()
        .expect("a file item is an object");
    let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["id", "metadata", "mimeType", "size", "title", "url"],
        "file item keys: {r}"
    );
    let a_id = a["id"].as_str().expect("file id is a string").to_string();
    assert_eq!(a["title"], "a.pdf");
    assert_eq!(a["url"], "https://example.com/a.pdf");
    assert_eq!(
        a["metadata"],
        Value::Null,
        "metadata is null for non-images: {r}"
    );
    let a_item = Value::Object(a);
    assert_eq!(
        t.get(&record_path(&cat_id, &rid)).await.expect(200)["values"][doc.as_str()],
        json!([a_item])
    );

    // Keeping the file on update by its id.
    check_patch(
        &t,
        &cat,
        &rid,
        "Doc",
        &json!([{"id": a_id}]),
        &json!([a_item]),
        "",
    )
    .await;

    // Several files, with size and MIME type.
    let two = json!([
        {"src": "https://example.com/b.png", "title": "b.png", "size": 8513, "mimeType": "image/png"},
        {"src": "https://example.com/c.txt", "title": "c.txt"},
    ]);
    let r = t
        .patch(
            &record_path(&cat_id, &rid),
            json!({"values": by_name(&cat, &[("Docs", two)])}),
        )
        .await;
    let got = r.expect(200)["values"][docs.as_str()]
        .as_array()
        .cloned()
        .expect("Docs is a list");
    assert_eq!(got.len(), 2, "{}", r.json);
    let b = got
        .iter()
        .find(|f| f["title"] == "b.png")
        .cloned()
        .expect("b.png attached");
    assert_eq!(b["size"], 8513);
    assert_eq!(b["mimeType"], "image/png");
    assert_eq!(b["url"], "https://example.com/b.png");
    assert!(got.iter().any(|f| f["title"] == "c.txt"), "{}", r.json);
    assert_eq!(
        r.json["values"][doc.as_str()],
        json!([a_item]),
        "Doc changed by a PATCH of Docs"
    );

    // The sent array replaces the list: files left out are detached.
    let b_id = b["id"].as_str().expect("file id is a string").to_string();
    check_patch(
        &t,
        &cat,
        &rid,
        "Docs",
        &json!([{"id": b_id}]),
        &json!([b]),
        "",
    )
    .await;
    let r = t
        .patch(
            &record_path(&cat_id, &rid),
            json!({"values": by_name(&cat, &[("Docs", json!([{"id": b_id}, {"src": "https://example.com/d.pdf", "title": "d.pdf"}]))])}),
        )
        .await;
    let got = r.expect(200)["values"][docs.as_str()]
        .as_array()
        .cloned()
        .expect("Docs is a list");
    assert_eq!(got.len(), 2, "{}", r.json);
    assert!(
        got.contains(&b) && got.iter().any(|f| f["title"] == "d.pdf"),
        "{}",
        r.json
    );
    check_patch(&t, &cat, &rid, "Doc", &json!([]), &json!([]), "").await;

    let two_links = json!([{"src": "https://example.com/x.pdf", "title": "x.pdf"}, {"src": "https://example.com/y.pdf", "title": "y.pdf"}]);
    for (name, bad) in [
        ("Doc", json!([{"id": "99999"}])),
        ("Docs", json!([{"id": "99999"}])),
        ("Doc", two_links),
    ] {
        reject_value(&t, &cat, name, &bad).await;
    }
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Docs", json!([{"id": "99999"}]))]),
        "invalid_value",
        &docs,
    )
    .await;
}

#[tokio::test]
async fn contact_and_address_fields() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Contacts",
            json!([
                {"name": "Phone", "type": "contact", "config": {"type": "phone"}},
                {"name": "Mail", "type": "contact", "config": {"type": "mail"}},
                {"name": "Site", "type": "contact", "config": {"type": "site"}},
                {"name": "Address", "type": "address"},
            ]),
        )
        .await;
    let office = json!([{"contact": "+7 900 123-45-67", "comment": "office"}]);
    let address = json!({"value": "Moscow, Kremlin emb.", "provider": "dadata",
                         "data": {"geo_lat": "55.75", "fias_level": "8", "nested": {"a": [1, 2]}}});
    let cases: Vec<(&str, Value, Value)> = vec![
        ("Phone", office.clone(), office.clone()),
        (
            "Phone",
            json!([{"contact": "8-901-234-56-78"}]),
            json!([{"contact": "8-901-234-56-78", "comment": ""}]),
        ),
        (
            "Phone",
            json!([{"contact": "", "comment": "dropped"}, {"contact": "+7 900 000-00-00", "comment": "home"}]),
            json!([{"contact": "+7 900 000-00-00", "comment": "home"}]),
        ),
        (
            "Phone",
            json!([{"contact": "", "comment": "dropped"}]),
            json!([]),
        ),
        ("Phone", json!([]), json!([])),
        ("Phone", json!(null), json!([])),
        (
            "Mail",
            json!([{"contact": "ivan@example.com", "comment": "work"}, {"contact": "i@example.org", "comment": ""}]),
            json!([{"contact": "ivan@example.com", "comment": "work"}, {"contact": "i@example.org", "comment": ""}]),
        ),
        (
            "Site",
            json!([{"contact": "https://example.com", "comment": "main"}]),
            json!([{"contact": "https://example.com", "comment": "main"}]),
        ),
        ("Address", address.clone(), address.clone()),
        ("Address", json!(null), json!(null)),
    ];
    for (name, input, expected) in &cases {
        check_create(&t, &cat, name, input, expected, "").await;
    }
    for bad in [
        json!({"provider": "dadata", "data": {}}),
        json!({"value": 5, "provider": "dadata"}),
    ] {
        reject_value(&t, &cat, "Address", &bad).await;
    }

    // Contacts are replaced as a whole; the address is replaced and cleared.
    let rid = check_create(&t, &cat, "Phone", &office, &office, "").await;
    let home = json!([{"contact": "+7 900 000-00-00", "comment": "home"}]);
    check_patch(&t, &cat, &rid, "Phone", &home, &home, "").await;
    let moved = json!({"value": "Kazan", "provider": "dadata", "data": {"city": "Kazan"}});
    check_patch(&t, &cat, &rid, "Address", &moved, &moved, "").await;
    let after = check_patch(&t, &cat, &rid, "Address", &json!(null), &json!(null), "").await;
    assert_eq!(
        after["values"][field_id(&cat, "Phone").as_str()],
        home,
        "Phone changed by a PATCH of Address"
    );
    let fid = field_id(&cat, "Address");
    reject_patch(
        &t,
        &cat,
        &rid,
        by_name(&cat, &[("Address", json!({"provider": "dadata"}))]),
        "invalid_value",
        &fid,
    )
    .await;
}

// ---- defaults, required fields, errors, title ----

#[tokio::test]
async fn defaults_apply_to_absent_fields_on_create() {
    let t = TestApp::start().await;
    let items =
        json!([{"name": "first", "color": "F9C2C2"}, {"name": "second", "color": "C9FDE5"}]);
    let cat = t
        .catalog(
            "Defaults",
            json!([
                {"name": "Status", "type": "dropdown", "config": {"items": items, "defaultValue": true}},
                {"name": "Tags", "type": "checkboxes", "config": {"items": items, "defaultValue": true}},
                {"name": "Choice", "type": "radiobutton", "config": {"items": items, "defaultValue": true}},
                {"name": "Plain", "type": "dropdown", "config": {"items": items}},
                {"name": "Flag", "type": "switch", "config": {"defaultValue": true}},
                {"name": "Off", "type": "switch"},
                {"name": "Due", "type": "date", "config": {"time": true, "defaultValue": true}},
                {"name": "Day", "type": "date", "config": {"time": false, "defaultValue": true}},
                {"name": "Owner", "type": "user", "config": {"defaultValue": true}},
                {"name": "Nobody", "type": "user"},
            ]),
        )
        .await;
    let cat_id = id(&cat);
    let status = cat["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["name"] == "Status"))
        .expect("Status");
    assert_eq!(
        status["config"]["defaultEmptyValue"],
        json!(["1"]),
        "spec 01 §3.2: {status}"
    );

    let before = now_ms();
    let r = t.record(&cat_id, json!({})).await;
    let after = now_ms();
    let v = |n: &str| r["values"][field_id(&cat, n).as_str()].clone();
    assert_eq!(v("Status"), json!(["1"]), "{r}");
    assert_eq!(v("Tags"), json!(["1"]), "{r}");
    assert_eq!(v("Choice"), json!(["1"]), "{r}");
    assert_eq!(v("Plain"), json!([]), "{r}");
    assert_eq!(v("Flag"), json!(true), "{r}");
    assert_eq!(v("Off"), json!(false), "{r}");
    assert_eq!(v("Owner"), json!([admin_item()]), "{r}");
    assert_eq!(v("Nobody"), json!([]), "{r}");
    let due = iso_ms(
        v("Due")
            .as_str()
            .unwrap_or_else(|| panic!("Due must default to now: {r}")),
    );
    assert!(
        (before - 1000..=after + 1000).contains(&due),
        "Due {} is not now: {r}",
        v("Due")
    );
    let day = iso_ms(
        v("Day")
            .as_str()
            .unwrap_or_else(|| panic!("Day must default to today: {r}")),
    );
    let today = |ms: i64| ms - ms.rem_euclid(86_400_000);
    assert!(
        day == today(before) || day == today(after),
        "Day {} is not today (UTC): {r}",
        v("Day")
    );
    let read = t
        .get(&record_path(&cat_id, &id(&r)))
        .await
        .expect(200)
        .clone();
    assert_eq!(
        read["values"], r["values"],
        "GET differs from the create answer"
    );

    // Fields present in values are never replaced by the default, even when empty.
    let sent = [
        ("Status", json!(["2"]), json!(["2"])),
        ("Status", json!([]), json!([])),
        ("Tags", json!(null), json!([])),
        ("Choice", json!("2"), json!(["2"])),
        ("Flag", json!(false), json!(false)),
        ("Due", json!(null), json!(null)),
        (
            "Day",
            json!("2020-01-01"),
            json!("2020-01-01T00:00:00.000Z"),
        ),
        ("Day", json!(""), json!(null)),
        ("Owner", json!([]), json!([])),
    ];
    for (name, input, expected) in &sent {
        check_create(&t, &cat, name, input, expected, "").await;
    }

    // Updates never apply defaults.
    let rid = check_create(&t, &cat, "Status", &json!([]), &json!([]), "").await;
    let after = check_patch(&t, &cat, &rid, "Off", &json!(true), &json!(true), "").await;
    assert_eq!(
        after["values"][field_id(&cat, "Status").as_str()],
        json!([]),
        "an update applied a default: {after}"
    );
}

#[tokio::test]
async fn required_fields() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Required",
            json!([
                {"name": "Name", "type": "text", "required": true},
                {"name": "Amount", "type": "number", "required": true},
                {"name": "Done", "type": "progress", "required": true},
                {"name": "Rating", "type": "stars", "required": true},
                {"name": "Status", "type": "dropdown", "required": true,
                 "config": {"items": [{"name": "a"}, {"name": "b"}], "defaultValue": true}},
                {"name": "Team", "type": "user", "required": true, "config": {"multiselect": true}},
                {"name": "Optional", "type": "text"},
            ]),
        )
        .await;
    let cat_id = id(&cat);
    let base: Vec<(&str, Value)> = vec![
        ("Name", json!("x")),
        ("Amount", json!(0)),
        ("Done", json!(0)),
        ("Rating", json!(0)),
        ("Team", json!([{"id": "1"}])),
    ];

    // 0 counts as filled; the absent Status is filled by its default.
    let ok = t.record(&cat_id, by_name(&cat, &base)).await;
    let rid = id(&ok);
    assert_eq!(
        ok["values"][field_id(&cat, "Amount").as_str()],
        json!(0),
        "{ok}"
    );
    assert_eq!(
        ok["values"][field_id(&cat, "Status").as_str()],
        json!(["1"]),
        "{ok}"
    );

    // Each required field missing, or sent empty, is refused with its id.
    for (missing, _) in &base {
        let values: Vec<(&str, Value)> =
            base.iter().filter(|(n, _)| n != missing).cloned().collect();
        reject_create(
            &t,
            &cat,
            by_name(&cat, &values),
            "required_field",
            &field_id(&cat, missing),
        )
        .await;
    }
    let empties: [(&str, Value); 7] = [
        ("Name", json!("")),
        ("Name", json!(null)),
        ("Amount", json!(null)),
        ("Done", json!(null)),
        ("Rating", json!("")),
        ("Team", json!([])),
        ("Status", json!([])),
    ];
    for (name, empty) in &empties {
        let mut values = base.clone();
        values.retain(|(n, _)| n != name);
        values.push((*name, empty.clone()));
        reject_create(
            &t,
            &cat,
            by_name(&cat, &values),
            "required_field",
            &field_id(&cat, name),
        )
        .await;
    }

    // On update only the sent fields are checked.
    for (name, empty) in &empties {
        let fid = field_id(&cat, name);
        reject_patch(
            &t,
            &cat,
            &rid,
            by_name(&cat, &[(*name, empty.clone())]),
            "required_field",
            &fid,
        )
        .await;
    }
    check_patch(
        &t,
        &cat,
        &rid,
        "Optional",
        &json!("note"),
        &json!("note"),
        "",
    )
    .await;
    check_patch(&t, &cat, &rid, "Amount", &json!(5), &json!(5), "").await;
    check_patch(&t, &cat, &rid, "Rating", &json!(0), &json!(0), "").await;
}

#[tokio::test]
async fn invalid_values_are_rejected_atomically_with_the_field_id() {
    let t = TestApp::start().await;
    let (cat, clients, _acme) = all_types_fixture(&t).await;
    let cat_id = id(&cat);
    let clients_id = id(&clients);
    let good: Vec<(&str, Value)> = vec![
        ("Name", json!("new")),
        ("Amount", json!(5)),
        ("Tags", json!(["1"])),
    ];
    let original = t
        .record(
            &cat_id,
            by_name(
                &cat,
                &[
                    ("Name", json!("Original")),
                    ("Amount", json!(1)),
                    ("Status", json!(["1"])),
                ],
            ),
        )
        .await;
    let rid = id(&original);

    let bad: Vec<(&str, Value)> = vec![
        ("Name", json!("x".repeat(257))),
        ("Amount", json!("abc")),
        ("Due", json!("not a date")),
        ("Day", json!("2024-02-30")),
        ("Status", json!(["9"])),
        ("Tags", json!(["9"])),
        ("Choice", json!(["1", "2"])),
        ("Flag", json!("maybe")),
        ("Done", json!(101)),
        ("Rating", json!(4.5)),
        ("Owner", json!([{"id": "999"}])),
        (
            "Link",
            json!([{"catalogId": clients_id, "recordId": "999"}]),
        ),
        ("Attachment", json!([{"id": "99999"}])),
        ("Address", json!({"provider": "dadata"})),
    ];
    for (name, value) in &bad {
        let fid = field_id(&cat, name);
        // Valid values next to the bad one: nothing at all is written.
        let mut values: Vec<(&str, Value)> =
            good.iter().filter(|(n, _)| n != name).cloned().collect();
        values.push((*name, value.clone()));
        reject_create(&t, &cat, by_name(&cat, &values), "invalid_value", &fid).await;
        reject_patch(
            &t,
            &cat,
            &rid,
            by_name(&cat, &values),
            "invalid_value",
            &fid,
        )
        .await;
    }

    // An unknown field id.
    let mut values = by_name(&cat, &good);
    values["nope"] = json!(1);
    reject_create(&t, &cat, values.clone(), "unknown_field", "nope").await;
    reject_patch(&t, &cat, &rid, values, "unknown_field", "nope").await;

    let read = t.get(&record_path(&cat_id, &rid)).await.expect(200).clone();
    assert_eq!(
        read["values"], original["values"],
        "rejected updates changed the record"
    );
    assert_eq!(
        count(&t, &cat_id).await,
        1,
        "rejected creates left records behind"
    );
}

#[tokio::test]
async fn record_title_is_the_first_text_field() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Titles",
            json!([
                {"name": "Main", "type": "group"},
                {"name": "Body", "type": "text", "config": {"type": "editor"}},
                {"name": "Name", "type": "text"},
                {"name": "Other", "type": "text"},
                {"name": "N", "type": "number"},
            ]),
        )
        .await;
    let cat_id = id(&cat);
    let title_of = |r: &Value| {
        r["title"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no title: {r}"))
    };

    let r = t
        .record(
            &cat_id,
            by_name(
                &cat,
                &[
                    ("Body", json!("<p>body</p>")),
                    ("Name", json!("ACME")),
                    ("Other", json!("o")),
                ],
            ),
        )
        .await;
    assert_eq!(title_of(&r), "ACME", "the editor field is skipped: {r}");
    let rid = id(&r);
    let path = record_path(&cat_id, &rid);

    // Empty first text field: "#<id>", without falling through to later text fields.
    let r2 = t
        .record(
            &cat_id,
            by_name(
                &cat,
                &[
                    ("Body", json!("<p>body</p>")),
                    ("Other", json!("o")),
                    ("N", json!(5)),
                ],
            ),
        )
        .await;
    assert_eq!(title_of(&r2), format!("#{}", id(&r2)), "{r2}");

    let r3 = t
        .record(&cat_id, by_name(&cat, &[("Name", json!(42))]))
        .await;
    assert_eq!(title_of(&r3), "42", "{r3}");

    // The title follows updates, in the PATCH answer, GET and the list.
    let p = t
        .patch(
            &path,
            json!({"values": by_name(&cat, &[("Name", json!("Renamed"))])}),
        )
        .await;
    assert_eq!(title_of(p.expect(200)), "Renamed");
    assert_eq!(title_of(t.get(&path).await.expect(200)), "Renamed");
    let list = t.get(&records(&cat_id)).await.expect(200).clone();
    let item = list
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == rid.as_str()))
        .expect("record listed");
    assert_eq!(title_of(item), "Renamed", "list item: {item}");
    let p = t
        .patch(
            &path,
            json!({"values": by_name(&cat, &[("Other", json!("other"))])}),
        )
        .await;
    assert_eq!(
        title_of(p.expect(200)),
        "Renamed",
        "changing a later text field changed the title"
    );
    let p = t
        .patch(
            &path,
            json!({"values": by_name(&cat, &[("Name", json!(""))])}),
        )
        .await;
    assert_eq!(title_of(p.expect(200)), format!("#{rid}"));
    assert_eq!(title_of(t.get(&path).await.expect(200)), format!("#{rid}"));

    // A multiline text field counts as a text field; a catalog without one titles by number.
    let multi = t
        .catalog("Multi titles", json!([{"name": "Desc", "type": "text", "config": {"type": "multiline"}}, {"name": "Name", "type": "text"}]))
        .await;
    let r = t
        .record(
            &id(&multi),
            by_name(
                &multi,
                &[("Desc", json!("described")), ("Name", json!("named"))],
            ),
        )
        .await;
    assert_eq!(title_of(&r), "described", "{r}");
    let plain = t
        .catalog("No text", json!([{"name": "N", "type": "number"}, {"name": "S", "type": "dropdown", "config": {"items": [{"name": "a"}]}}]))
        .await;
    let r = t
        .record(
            &id(&plain),
            by_name(&plain, &[("N", json!(1)), ("S", json!(["1"]))]),
        )
        .await;
    assert_eq!(title_of(&r), format!("#{}", id(&r)), "{r}");
}

/// A user field may stop allowing several employees only while every record holds at most
/// one (its conditions then compare the stored list whole, which the owner indexes serve):
/// the switch is refused, naming the field, and nothing changes; once the records hold one
/// employee each it goes through, and a filter by employee finds the same records both ways.
#[tokio::test]
async fn a_user_field_turns_single_only_when_no_record_holds_several() {
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Duties",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Amount", "type": "number"},
                {"name": "Team", "type": "user", "config": {"multiselect": true}},
            ]),
        )
        .await;
    let cid = id(&cat);
    let team = field_id(&cat, "Team");
    let amount = field_id(&cat, "Amount");
    let ivan = id(&t
        .record(
            "$users",
            json!({"$name": "Ivan", "$email": "ivan.single@example.com"}),
        )
        .await);
    let both = t
        .record(
            &cid,
            by_name(
                &cat,
                &[
                    ("Title", json!("both")),
                    ("Team", json!([{"id": "1"}, {"id": ivan}])),
                ],
            ),
        )
        .await;
    let mine = t
        .record(
            &cid,
            by_name(
                &cat,
                &[
                    ("Title", json!("mine")),
                    ("Amount", json!(5)),
                    ("Team", json!(["1"])),
                ],
            ),
        )
        .await;
    let fields = |multi: bool| {
        json!({"fields": [
            {"id": field_id(&cat, "Title"), "name": "Title", "type": "text"},
            {"id": amount, "name": "Amount", "type": "number"},
            {"id": team, "name": "Team", "type": "user", "config": {"multiselect": multi}},
        ]})
    };
    let by_me = |extra: &str| {
        format!(
            "/api/v1/catalogs/{cid}/records?filters[0][fieldId]={team}&filters[0][value][0]=CURRENT_USER{extra}"
        )
    };
    let title = field_id(&cat, "Title");
    let titles = |v: &Value| sorted_texts(v, &title);
    assert_eq!(
        titles(t.get(&by_me("")).await.expect(200)),
        ["both", "mine"]
    );

    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(false))
        .await
        .expect_error(400, "invalid_field_config", Some(&team));
    assert_eq!(multiselect_of(&t, &cid, &team).await, json!(true));

    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{}", id(&both)),
        json!({"values": {team.clone(): [{"id": ivan}]}}),
    )
    .await
    .expect(200);
    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(false))
        .await
        .expect(200);
    // One employee per record now: the same filters find the same records, sorted and not.
    assert_eq!(titles(t.get(&by_me("")).await.expect(200)), ["mine"]);
    assert_eq!(
        titles(
            t.get(&by_me(&format!("&sortField={amount}&sortType=-1")))
                .await
                .expect(200)
        ),
        ["mine"]
    );
    let others = format!(
        "/api/v1/catalogs/{cid}/records?filters[0][fieldId]={team}&filters[0][value][0]={ivan}&filters[0][value][1]=1"
    );
    assert_eq!(titles(t.get(&others).await.expect(200)), ["both", "mine"]);
    assert_eq!(id(&mine), id(&t.get(&by_me("")).await.expect(200)[0]));

    // Back to several: allowed at any time; deleting the key field drops its owner index.
    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(true))
        .await
        .expect(200);
    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(false))
        .await
        .expect(200);
    t.patch(
        &format!("/api/v1/catalogs/{cid}"),
        json!({"fields": [
            {"id": field_id(&cat, "Title"), "name": "Title", "type": "text"},
            {"id": team, "name": "Team", "type": "user", "config": {"multiselect": false}},
        ]}),
    )
    .await
    .expect(200);
    assert_eq!(titles(t.get(&by_me("")).await.expect(200)), ["mine"]);
}

/// A dropdown may stop allowing several items only while every record holds at most one
/// (its item conditions then compare the stored list whole, which the owner indexes serve):
/// refused naming the field with nothing changed; once each record holds one item it goes
/// through, and a filter by item finds the same records, sorted or not.
#[tokio::test]
async fn a_dropdown_turns_single_only_when_no_record_holds_several_items() {
    let t = TestApp::start().await;
    let items = json!([{"id": "1", "name": "new"}, {"id": "2", "name": "won"}]);
    let cat = t
        .catalog(
            "Stages",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Amount", "type": "number"},
                {"name": "Stage", "type": "dropdown", "config": {"items": items.clone(), "multiselect": true}},
            ]),
        )
        .await;
    let cid = id(&cat);
    let (title, amount, stage) = (
        field_id(&cat, "Title"),
        field_id(&cat, "Amount"),
        field_id(&cat, "Stage"),
    );
    let both = t
        .record(
            &cid,
            json!({title.clone(): "both", stage.clone(): ["1", "2"]}),
        )
        .await;
    t.record(
        &cid,
        json!({title.clone(): "new", amount.clone(): 5, stage.clone(): ["1"]}),
    )
    .await;
    t.record(
        &cid,
        json!({title.clone(): "won", amount.clone(): 7, stage.clone(): ["2"]}),
    )
    .await;
    let fields = |multi: bool| {
        json!({"fields": [
            {"id": title, "name": "Title", "type": "text"},
            {"id": amount, "name": "Amount", "type": "number"},
            {"id": stage, "name": "Stage", "type": "dropdown", "config": {"items": items.clone(), "multiselect": multi}},
        ]})
    };
    let of_new = |extra: &str| {
        format!(
            "/api/v1/catalogs/{cid}/records?filters[0][fieldId]={stage}&filters[0][value][0]=1{extra}"
        )
    };
    let titles = |v: &Value| sorted_texts(v, &title);
    assert_eq!(
        titles(t.get(&of_new("")).await.expect(200)),
        ["both", "new"]
    );

    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(false))
        .await
        .expect_error(400, "invalid_field_config", Some(&stage));
    assert_eq!(multiselect_of(&t, &cid, &stage).await, json!(true));

    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{}", id(&both)),
        json!({"values": {stage.clone(): ["2"]}}),
    )
    .await
    .expect(200);
    t.patch(&format!("/api/v1/catalogs/{cid}"), fields(false))
        .await
        .expect(200);
    assert_eq!(titles(t.get(&of_new("")).await.expect(200)), ["new"]);
    assert_eq!(
        titles(
            t.get(&of_new(&format!("&sortField={amount}&sortType=-1")))
                .await
                .expect(200)
        ),
        ["new"]
    );
    let any = format!(
        "/api/v1/catalogs/{cid}/records?filters[0][fieldId]={stage}&filters[0][value][0]=1&filters[0][value][1]=2&sortField={amount}&sortType=-1"
    );
    assert_eq!(
        titles(t.get(&any).await.expect(200)),
        ["both", "new", "won"]
    );
}

/// The text values of `field` in a list of records, sorted.
fn sorted_texts(records: &Value, field: &str) -> Vec<String> {
    let mut out: Vec<String> = records
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["values"][field].as_str().unwrap_or("").to_string())
        .collect();
    out.sort();
    out
}

/// The `multiselect` of a field as the catalog reads now.
async fn multiselect_of(t: &TestApp, cid: &str, field: &str) -> Value {
    let cat = t
        .get(&format!("/api/v1/catalogs/{cid}"))
        .await
        .expect(200)
        .clone();
    cat["fields"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["id"] == json!(field)))
        .map(|f| f["config"]["multiselect"].clone())
        .unwrap_or(Value::Null)
}
