//! Search helpers (spec 01 §14), relations (§10): employees for user fields, records that may
//! be linked, back-links of a record, contacts across catalogs.

use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

fn arr(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn users_search_is_case_insensitive_and_paged() {
    let t = TestApp::start().await;
    for (name, email) in [
        ("Иван Петров", "ivan@example.com"),
        ("Мария", "maria@example.com"),
        ("ivanka", "ivanka@example.com"),
    ] {
        t.post(
            "/api/v1/catalogs/$users/records",
            json!({"values": {"$name": name, "$email": email}}),
        )
        .await
        .expect(200);
    }
    let all = t.get("/api/v1/users").await;
    let titles: Vec<String> = arr(all.expect(200))
        .iter()
        .filter_map(|u| u["title"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        titles,
        vec!["Administrator", "ivanka", "Иван Петров", "Мария"],
        "ordered by title"
    );
    assert_eq!(all.json[0], json!({"id": "1", "title": "Administrator"}));
    let r = t.get("/api/v1/users?title=%D0%B8%D0%B2%D0%B0%D0%BD").await; // "иван"
    let titles: Vec<String> = arr(r.expect(200))
        .iter()
        .filter_map(|u| u["title"].as_str().map(str::to_string))
        .collect();
    assert_eq!(titles, vec!["Иван Петров"], "Cyrillic folds case too");
    let r = t.get("/api/v1/users?searchText=IVAN").await;
    assert_eq!(arr(r.expect(200)).len(), 1);
    let r = t.get("/api/v1/users?limit=2&offset=1").await;
    assert_eq!(arr(r.expect(200)).len(), 2);
    t.get("/api/v1/users?limit=-2")
        .await
        .expect_error(400, "invalid_query", None);
}

#[tokio::test]
async fn available_records_relations_and_contacts() {
    let t = TestApp::start().await;
    let clients = t
        .catalog(
            "Clients",
            json!([
                {"name": "Name", "type": "text"},
                {"name": "City", "type": "text"},
                {"name": "Phone", "type": "contact", "config": {"type": "phone"}}
            ]),
        )
        .await;
    let cid = id(&clients);
    let (name, city, phone) = (
        field_id(&clients, "Name"),
        field_id(&clients, "City"),
        field_id(&clients, "Phone"),
    );
    let acme = t.record(&cid, json!({name.clone(): "ACME", city.clone(): "Moscow", phone.clone(): [{"contact": "8 (900) 123-45-67", "comment": "office"}]})).await;
    let beta = t
        .record(&cid, json!({name.clone(): "Beta", city.clone(): "Kazan"}))
        .await;
    let orders = t
        .catalog("Orders", json!([
            {"name": "Title", "type": "text"},
            {"name": "Client", "type": "object", "config": {"catalogs": [{"id": cid}], "fields": {cid.clone(): [city.clone()]}}},
            {"name": "Payer", "type": "object", "config": {"catalogs": [{"id": cid}]}},
            {"name": "Count", "type": "number"}
        ]))
        .await;
    let oid = id(&orders);
    let (title, client, payer, count) = (
        field_id(&orders, "Title"),
        field_id(&orders, "Client"),
        field_id(&orders, "Payer"),
        field_id(&orders, "Count"),
    );

    // AvailableRecords: by title, with the extended field's values.
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{oid}/fields/{client}/availableRecords"
        ))
        .await;
    let list = arr(r.expect(200));
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["recordTitle"], "ACME");
    assert_eq!(list[0]["recordId"], acme["id"]);
    assert_eq!(list[0]["catalogId"], cid.as_str());
    assert_eq!(list[0]["recordValues"], json!({city.clone(): "Moscow"}));
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{oid}/fields/{client}/availableRecords?title=bet"
        ))
        .await;
    assert_eq!(
        arr(r.expect(200))
            .iter()
            .map(|x| x["recordTitle"].clone())
            .collect::<Vec<_>>(),
        vec![json!("Beta")]
    );
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{oid}/fields/{payer}/availableRecords"
        ))
        .await;
    assert_eq!(arr(r.expect(200))[0]["recordValues"], json!({}));
    for path in ["availableFilterRecords", "availableFilterRecord"] {
        let r = t
            .get(&format!(
                "/api/v1/catalogs/{oid}/fields/{client}/{path}?title=acme"
            ))
            .await;
        let list = arr(r.expect(200));
        assert_eq!(list.len(), 1);
        assert!(list[0].get("recordValues").is_none());
    }
    t.get(&format!(
        "/api/v1/catalogs/{oid}/fields/{count}/availableRecords"
    ))
    .await
    .expect_error(400, "invalid_query", Some(&count));
    t.get(&format!(
        "/api/v1/catalogs/{oid}/fields/nope/availableRecords"
    ))
    .await
    .expect_error(404, "field_not_found", Some("nope"));
    // Users by text field id only: the legacy number of $users.$name is refused.
    t.get("/api/v1/catalogs/$users/fields/1/availableRecords")
        .await
        .expect_error(404, "field_not_found", Some("1"));

    // Relations: groups per (catalog, field), newest first, paged per group, totals.
    let mut made = Vec::new();
    for i in 0..3 {
        let o = t.record(&oid, json!({title.clone(): format!("Order {i}"), client.clone(): [{"catalogId": cid, "recordId": acme["id"]}]})).await;
        made.push(o);
    }
    t.record(
        &oid,
        json!({title.clone(): "Paid", payer.clone(): [{"catalogId": cid, "recordId": acme["id"]}]}),
    )
    .await;
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records/{}/relations?limit=2",
            id(&acme)
        ))
        .await;
    let groups = arr(r.expect(200));
    assert_eq!(groups.len(), 2, "{groups:?}");
    let g = groups
        .iter()
        .find(|g| g["fieldId"] == client.as_str())
        .expect("client group");
    assert_eq!(g["id"], oid.as_str());
    assert_eq!(g["title"], "Orders");
    assert_eq!(g["fieldName"], "Client");
    assert_eq!(g["recordsTotal"], 3);
    let recs = arr(&g["records"]);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["id"], made[2]["id"], "newest first");
    assert_eq!(recs[0]["title"], "Order 2");
    assert!(recs[0]["created"]
        .as_str()
        .is_some_and(|c| c.ends_with('Z')));
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records/{}/relations?catalogId={oid}&fieldId={payer}",
            id(&acme)
        ))
        .await;
    let groups = arr(r.expect(200));
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["recordsTotal"], 1);
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records/{}/relations",
            id(&beta)
        ))
        .await;
    assert_eq!(r.expect(200), &json!([]), "empty groups are left out");
    t.get(&format!("/api/v1/catalogs/{cid}/records/999999/relations"))
        .await
        .expect_error(404, "record_not_found", None);

    // Contacts: phone digits normalised (8 ≡ 7), text case-insensitive; recordValues holds the
    // matched contact string.
    for q in ["79001234567", "8-900-123", "(900) 123"] {
        let r = t
            .get(&format!(
                "/api/v1/contacts?searchText={}",
                q.replace(' ', "%20")
            ))
            .await;
        let list = arr(r.expect(200));
        assert_eq!(list.len(), 1, "{q}: {list:?}");
        assert_eq!(list[0]["recordTitle"], "ACME");
        assert_eq!(
            list[0]["recordValues"],
            json!({phone.clone(): "8 (900) 123-45-67"})
        );
    }
    assert_eq!(
        t.get("/api/v1/contacts?searchText=").await.expect(200),
        &json!([])
    );
    assert_eq!(
        t.get("/api/v1/contacts?searchText=office")
            .await
            .expect(200),
        &json!([]),
        "comments are not searched"
    );
}
