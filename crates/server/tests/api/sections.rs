//! Sections API (spec 01 §9) with the 2.0 rules for system sections (spec 02 §1.4).

use serde_json::json;

use crate::support::{id, TestApp};

#[tokio::test]
async fn sections_crud_and_system_ids() {
    let t = TestApp::start().await;
    // System sections are listed with their text ids and reachable only by them.
    let list = t.get("/api/v1/sections").await;
    let ids: Vec<&str> = list
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["$settings", "$system"]);
    t.get("/api/v1/sections/$settings").await.expect(200);
    t.get("/api/v1/sections/1")
        .await
        .expect_error(404, "section_not_found", None);
    t.get("/api/v1/sections/2")
        .await
        .expect_error(404, "section_not_found", None);

    let created = t
        .post(
            "/api/v1/sections",
            json!({"name": "Sales", "icon": "content-3"}),
        )
        .await;
    let s = created.expect(200).clone();
    let sid = id(&s);
    assert!(sid.parse::<i64>().is_ok(), "numeric id as a string: {s}");
    assert_eq!(s["name"], "Sales");
    assert_eq!(s["icon"], "content-3");
    assert_eq!(s["privilegeCode"], "admin");
    assert!(s["priority"].as_i64().expect("priority") > 1);

    // Object, not an array (spec 01 §9.2).
    let got = t.get(&format!("/api/v1/sections/{sid}")).await;
    assert_eq!(got.expect(200)["name"], "Sales");

    let upd = t
        .patch(
            &format!("/api/v1/sections/{sid}"),
            json!({"name": "Sales 2", "priority": 50}),
        )
        .await;
    assert_eq!(upd.expect(200)["name"], "Sales 2");
    assert_eq!(upd.json["icon"], "content-3", "omitted keys stay");
    assert_eq!(upd.json["priority"], 50);

    // Custom text id (2.0.5).
    let custom = t
        .post("/api/v1/sections", json!({"name": "HR", "id": "hr"}))
        .await;
    assert_eq!(custom.expect(200)["id"], "hr");
    t.post("/api/v1/sections", json!({"name": "HR again", "id": "hr"}))
        .await
        .expect_error(400, "duplicate_id", None);
    t.post("/api/v1/sections", json!({"name": "Bad", "id": "$mine"}))
        .await
        .expect_error(400, "invalid_id", None);

    // Listing is ordered by priority.
    let list = t.get("/api/v1/sections/").await;
    let prios: Vec<i64> = list
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["priority"].as_i64())
        .collect();
    let mut sorted = prios.clone();
    sorted.sort();
    assert_eq!(prios, sorted);
    assert_eq!(list.json.as_array().expect("array").len(), 4);

    // Delete: soft, cascades to catalogs; system sections cannot be deleted.
    let cat = t
        .post(
            "/api/v1/catalogs",
            json!({"sectionId": sid, "name": "Deals"}),
        )
        .await
        .expect(200)
        .clone();
    t.delete(&format!("/api/v1/sections/{sid}"))
        .await
        .expect(200);
    t.get(&format!("/api/v1/sections/{sid}"))
        .await
        .expect_error(404, "section_not_found", None);
    t.get(&format!("/api/v1/catalogs/{}", id(&cat)))
        .await
        .expect_error(404, "catalog_not_found", None);
    t.delete("/api/v1/sections/$settings")
        .await
        .expect_error(405, "method_not_allowed", None);
}

#[tokio::test]
async fn section_validation_and_catalog_order() {
    let t = TestApp::start().await;
    t.post("/api/v1/sections", json!({}))
        .await
        .expect_error(400, "invalid_value", None);
    t.post("/api/v1/sections", json!({"name": "  "}))
        .await
        .expect_error(400, "invalid_value", None);
    t.post("/api/v1/sections", json!({"name": 5}))
        .await
        .expect_error(400, "invalid_value", Some("name"));
    let sid = t.section("Ops").await;
    let a = id(t
        .post("/api/v1/catalogs", json!({"sectionId": sid, "name": "A"}))
        .await
        .expect(200));
    let b = id(t
        .post("/api/v1/catalogs", json!({"sectionId": sid, "name": "B"}))
        .await
        .expect(200));
    let order = |r: &crate::support::Resp| -> Vec<String> {
        r.json
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect()
    };
    let listed = t.get(&format!("/api/v1/catalogs?sectionId={sid}")).await;
    assert_eq!(order(&listed), vec![a.clone(), b.clone()]);
    t.patch(
        &format!("/api/v1/sections/{sid}"),
        json!({"catalogsPriorities": [b, a]}),
    )
    .await
    .expect(200);
    let listed = t.get(&format!("/api/v1/catalogs?sectionId={sid}")).await;
    assert_eq!(order(&listed), vec![b.clone(), a.clone()]);
    t.patch(
        &format!("/api/v1/sections/{sid}"),
        json!({"catalogsPriorities": ["3"]}),
    )
    .await
    .expect_error(400, "invalid_value", None);
    // An unknown section in a catalog list query is an empty list.
    let none = t.get("/api/v1/catalogs?sectionId=nope").await;
    assert_eq!(none.expect(200), &json!([]));
}
