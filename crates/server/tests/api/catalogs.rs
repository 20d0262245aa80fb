//! Catalogs API (spec 01 §7): create with typed fields, update (keep ids and data, no type
//! change, delete omitted fields), soft delete, and the 2.0 rendering of system catalogs.

use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

fn fields(c: &Value) -> Vec<Value> {
    c["fields"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn create_catalog_as_the_docs_show() {
    let t = TestApp::start().await;
    let sid = t.section("Sales").await;
    let target = t.post("/api/v1/catalogs", json!({"sectionId": sid, "name": "Clients", "fields": [{"name": "Name", "type": "text"}]})).await.expect(200).clone();
    let body = json!({ "sectionId": sid, "name": "Deals", "icon": "content-11", "id": "deals",
        "fields": [ {"name": "Main", "type": "group", "config": {}},
                    {"name": "Title", "type": "text", "required": true, "config": {"type": "text"}},
                    {"name": "Stage", "type": "dropdown", "config": {"items": [{"name": "New", "color": "C9FDE5"}, {"name": "Won"}]}},
                    {"name": "Client", "type": "object", "config": {"multiselect": false, "catalogs": [{"id": target["id"]}]}},
                    {"id": "amount", "name": "Amount", "type": "number", "config": {"unit": "₽"}} ] });
    let r = t.post("/api/v1/catalogs", body).await;
    let c = r.expect(200).clone();
    assert_eq!(c["id"], "deals");
    assert_eq!(c["sectionId"], sid.as_str());
    assert_eq!(c["icon"], "content-11");
    assert_eq!(c["history"], true);
    assert_eq!(c["privilegeCode"], "admin");
    let f = fields(&c);
    let ids: Vec<&str> = f.iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, vec!["1", "2", "3", "4", "amount"]);
    assert_eq!(f[1]["required"], true);
    assert_eq!(f[1]["prevId"], "2");
    assert_eq!(f[1]["duplicateResultWithPrevId"], false);
    let items = f[2]["config"]["items"].as_array().expect("items");
    assert_eq!(items[0]["id"], "1");
    assert_eq!(items[1]["id"], "2");
    assert_eq!(items[0]["color"], "C9FDE5");
    let cats = &f[3]["config"]["catalogs"][0];
    assert_eq!(cats["id"], target["id"]);
    assert_eq!(cats["title"], "Clients");
    assert_eq!(cats["removed"], false);
    assert!(cats["dbId"].is_number());
    // Get by id, with a fields projection; trailing slash is fine.
    let g = t.get("/api/v1/catalogs/deals/").await;
    assert_eq!(fields(g.expect(200)).len(), 5);
    let g = t
        .get("/api/v1/catalogs/deals?fields=[\"2\",\"amount\"]")
        .await;
    let ids: Vec<Value> = fields(g.expect(200))
        .iter()
        .map(|x| x["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("2"), json!("amount")]);
    // Listing includes it with the full object.
    let list = t.get("/api/v1/catalogs").await;
    assert!(list
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .any(|x| x["id"] == "deals" && x["fields"].is_array()));
}

#[tokio::test]
async fn catalog_create_rejects_bad_structure() {
    let t = TestApp::start().await;
    let sid = t.section("S").await;
    let cases = vec![
        (json!({"name": "X"}), "invalid_value"),
        (json!({"sectionId": sid, "name": ""}), "invalid_value"),
        (
            json!({"sectionId": "nope", "name": "X"}),
            "section_not_found",
        ),
        (json!({"sectionId": "1", "name": "X"}), "section_not_found"),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"name": "F", "type": "formula"}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"type": "text"}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"name": "F", "type": "object", "config": {"catalogs": [{"id": "999999"}]}}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"name": "F", "type": "object"}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"name": "F", "type": "text", "config": {"type": "bogus"}}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"name": "F", "type": "dropdown", "config": {"items": [{"name": "a", "color": "red"}]}}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"id": "a", "name": "F", "type": "text"}, {"id": "a", "name": "G", "type": "text"}]}),
            "duplicate_id",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": [{"id": "$x", "name": "F", "type": "text"}]}),
            "invalid_field_config",
        ),
        (
            json!({"sectionId": sid, "name": "X", "id": "$users"}),
            "invalid_id",
        ),
        (
            json!({"sectionId": sid, "name": "X", "id": "3"}),
            "duplicate_id",
        ),
        (
            json!({"sectionId": sid, "name": "X", "fields": "nope"}),
            "invalid_value",
        ),
    ];
    for (body, code) in cases {
        let r = t.post("/api/v1/catalogs", body.clone()).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.json);
        assert_eq!(r.json["code"], code, "{body} -> {}", r.json);
    }
    // Nothing half-made: only the catalogs of this test's section... none.
    let list = t.get(&format!("/api/v1/catalogs?sectionId={sid}")).await;
    assert_eq!(list.expect(200), &json!([]));
}

#[tokio::test]
async fn update_keeps_ids_and_data_and_refuses_type_changes() {
    let t = TestApp::start().await;
    let c = t.catalog("People", json!([
        {"name": "Name", "type": "text"},
        {"name": "Age", "type": "number"},
        {"name": "Stage", "type": "dropdown", "config": {"items": [{"name": "a"}, {"name": "b"}]}},
        {"name": "Notes", "type": "text", "config": {"type": "multiline"}}
    ])).await;
    let cid = id(&c);
    let (name, age, stage, notes) = (
        field_id(&c, "Name"),
        field_id(&c, "Age"),
        field_id(&c, "Stage"),
        field_id(&c, "Notes"),
    );
    let rec = t
        .record(
            &cid,
            json!({name.clone(): "Ann", age.clone(): 30, stage.clone(): ["2"], notes.clone(): "x"}),
        )
        .await;
    let rid = id(&rec);

    // Reorder, rename a field, add one, drop Notes, keep item ids and add an item.
    let upd = t.patch(&format!("/api/v1/catalogs/{cid}"), json!({"name": "Persons", "fields": [
        {"id": age, "name": "Age (years)", "type": "number"},
        {"id": name, "name": "Full name", "type": "text"},
        {"id": stage, "name": "Stage", "type": "dropdown", "config": {"items": [{"id": "2", "name": "b"}, {"name": "c"}]}},
        {"name": "Email", "type": "contact", "config": {"type": "mail"}}
    ]})).await;
    let u = upd.expect(200).clone();
    assert_eq!(u["name"], "Persons");
    assert_eq!(u["icon"], c["icon"], "omitted keys stay");
    let f = fields(&u);
    let ids: Vec<&str> = f.iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, vec![age.as_str(), name.as_str(), stage.as_str(), "5"]);
    let items: Vec<&str> = f[2]["config"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    assert_eq!(items, vec!["2", "3"]);
    let r = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await;
    let v = &r.expect(200)["values"];
    assert_eq!(v[&name], "Ann");
    assert_eq!(v[&age], 30);
    assert_eq!(v[&stage], json!(["2"]));
    assert!(
        v.get(&notes).is_none(),
        "a deleted field's data is gone: {v}"
    );
    assert_eq!(v["5"], json!([]));

    // A type change is refused and changes nothing.
    let bad = t
        .patch(
            &format!("/api/v1/catalogs/{cid}"),
            json!({"fields": [{"id": age, "name": "Age", "type": "text"}]}),
        )
        .await;
    bad.expect_error(400, "field_type_change", Some(&age));
    assert_eq!(
        fields(t.get(&format!("/api/v1/catalogs/{cid}")).await.expect(200)).len(),
        4
    );

    // A field id rename through prevId (spec 01 §7.4.6).
    let ren = t.patch(&format!("/api/v1/catalogs/{cid}"), json!({"fields": [
        {"id": "age", "prevId": age, "name": "Age", "type": "number"},
        {"id": name, "name": "Full name", "type": "text"},
        {"id": stage, "name": "Stage", "type": "dropdown", "config": {"items": [{"id": "2", "name": "b"}]}},
        {"id": "5", "name": "Email", "type": "contact"}
    ]})).await;
    let f = fields(ren.expect(200));
    assert_eq!(f[0]["id"], "age");
    assert_eq!(f[0]["prevId"], age.as_str());
    let r = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await;
    assert_eq!(r.expect(200)["values"]["age"], 30);
    // The old id still addresses the field in the records family.
    let r = t
        .patch(
            &format!("/api/v1/catalogs/{cid}/records/{rid}"),
            json!({"values": {age.clone(): 31}}),
        )
        .await;
    assert_eq!(r.expect(200)["values"]["age"], 31);
    // `fields` omitted: structure unchanged.
    let r = t
        .patch(&format!("/api/v1/catalogs/{cid}"), json!({"icon": "x"}))
        .await;
    assert_eq!(fields(r.expect(200)).len(), 4);
}

#[tokio::test]
async fn delete_is_soft_and_links_show_removed() {
    let t = TestApp::start().await;
    let target = t
        .catalog("Clients", json!([{"name": "Name", "type": "text"}]))
        .await;
    let tid = id(&target);
    let client = t
        .record(&tid, json!({field_id(&target, "Name"): "ACME"}))
        .await;
    let orders = t
        .catalog(
            "Orders",
            json!([{"name": "Client", "type": "object", "config": {"catalogs": [{"id": tid}]}}]),
        )
        .await;
    let oid = id(&orders);
    let link_field = field_id(&orders, "Client");
    let order = t
        .record(
            &oid,
            json!({link_field.clone(): [{"catalogId": tid, "recordId": client["id"]}]}),
        )
        .await;

    t.delete(&format!("/api/v1/catalogs/{tid}"))
        .await
        .expect(200);
    t.get(&format!("/api/v1/catalogs/{tid}"))
        .await
        .expect_error(404, "catalog_not_found", None);
    t.get(&format!("/api/v1/catalogs/{tid}/records"))
        .await
        .expect_error(404, "catalog_not_found", None);
    let o = t
        .get(&format!("/api/v1/catalogs/{oid}/records/{}", id(&order)))
        .await;
    let link = &o.expect(200)["values"][&link_field][0];
    assert_eq!(link["isRemoved"], true);
    assert_eq!(link["recordTitle"], "ACME");
    let c = t.get(&format!("/api/v1/catalogs/{oid}")).await;
    assert_eq!(
        c.expect(200)["fields"][0]["config"]["catalogs"][0]["removed"],
        true
    );
    // System catalogs cannot be deleted.
    t.delete("/api/v1/catalogs/$users")
        .await
        .expect_error(405, "method_not_allowed", None);
    t.delete("/api/v1/catalogs/999999")
        .await
        .expect_error(404, "catalog_not_found", None);
}

#[tokio::test]
async fn users_catalog_by_both_ids_with_duplicated_fields() {
    let t = TestApp::start().await;
    let a = t.get("/api/v1/catalogs/3").await.expect(200).clone();
    let b = t.get("/api/v1/catalogs/$users").await.expect(200).clone();
    assert_eq!(a, b);
    assert_eq!(a["id"], "$users");
    assert_eq!(a["sectionId"], "$settings");
    let f = fields(&a);
    let ids: Vec<&str> = f.iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, vec!["1", "$name", "2", "$email", "4", "$type"]);
    assert_eq!(f[0]["isDuplicated"], true);
    assert_eq!(f[1]["prevId"], "1");
    assert_eq!(f[1]["isSystem"], true);
    assert_eq!(f[1]["duplicateResultWithPrevId"], true);
    let s = t.get("/api/v1/catalogs/$users?skipPrevId=true").await;
    assert_eq!(fields(s.expect(200)).len(), 3);
    // Listed under $settings by text id only.
    let l = t.get("/api/v1/catalogs?sectionId=$settings").await;
    assert!(l
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .any(|c| c["id"] == "$users"));
    // System fields survive an update that omits them, and can be renamed.
    let u = t
        .patch(
            "/api/v1/catalogs/$users",
            json!({"fields": [
                {"id": "$name", "name": "Full name", "type": "text"},
                {"name": "Phone", "type": "contact"}
            ]}),
        )
        .await;
    let f = fields(u.expect(200));
    let ids: Vec<&str> = f.iter().filter_map(|x| x["id"].as_str()).collect();
    // New ids continue above the legacy numbers (4 is $type's).
    assert_eq!(ids, vec!["1", "$name", "5", "2", "$email", "4", "$type"]);
    assert_eq!(f[1]["name"], "Full name");
    // The type of a system field cannot change.
    t.patch(
        "/api/v1/catalogs/$users",
        json!({"fields": [{"id": "$name", "name": "N", "type": "number"}]}),
    )
    .await
    .expect_error(400, "field_type_change", Some("$name"));
}

#[tokio::test]
async fn links_to_system_catalogs_and_custom_item_ids() {
    let t = TestApp::start().await;
    let sid = t.section("Staff").await;
    // An object field pointing at $users by its legacy number, extending it with $name
    // (given by legacy id): stored and shown by text ids (spec 02 §1.5.6, §1.7).
    let c = t
        .post("/api/v1/catalogs", json!({"sectionId": sid, "name": "Orders", "fields": [
            {"name": "Title", "type": "text"},
            {"name": "Employee", "type": "object", "config": {"catalogs": [{"id": 3}], "fields": {"3": ["1"]}}},
            {"name": "Stage", "type": "dropdown", "config": {"items": [{"id": "new", "name": "New"}, {"name": "Done"}]}}
        ]}))
        .await;
    let c = c.expect(200).clone();
    let emp = &fields(&c)[1];
    assert_eq!(
        emp["config"]["catalogs"],
        json!([{"id": "$users", "dbId": 3, "title": "Сотрудники", "icon": "users-1", "removed": false}])
    );
    let ext = &emp["config"]["fields"]["$users"];
    assert_eq!(ext.as_array().map(Vec::len), Some(1), "{ext}");
    for (k, v) in [
        ("id", json!("$name")),
        ("prevId", json!("1")),
        ("dbId", json!(1)),
        ("columnName", json!("name")),
        ("_catalogId", json!("$users")),
        ("isSystem", json!(true)),
        ("duplicateResultWithPrevId", json!(true)),
        ("position", json!(1)),
        ("type", json!("text")),
    ] {
        assert_eq!(ext[0][k], v, "{k} in {ext}");
    }
    assert!(
        ext[0].get("isDuplicated").is_none(),
        "canonical entries only"
    );
    // Items keep custom ids; new items get numbers.
    let items: Vec<String> = fields(&c)[2]["config"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(items, vec!["new", "1"]);
    let cid = id(&c);
    let stage = field_id(&c, "Stage");
    let r = t.record(&cid, json!({stage.clone(): ["new"]})).await;
    assert_eq!(r["values"][&stage], json!(["new"]));
    // Linking to an employee by either catalog id; rendered with the text ids.
    let emp_id = field_id(&c, "Employee");
    for cat in ["3", "$users"] {
        let r = t
            .record(
                &cid,
                json!({emp_id.clone(): [{"catalogId": cat, "recordId": "1"}]}),
            )
            .await;
        let link = &r["values"][&emp_id][0];
        assert_eq!(link["catalogId"], "$users");
        assert_eq!(link["sectionId"], "$settings");
        assert_eq!(link["recordTitle"], "Administrator");
    }
    // Bad extended fields and reserved or malformed item ids.
    let bad = [
        json!({"name": "E", "type": "object", "config": {"catalogs": [{"id": "$users"}], "fields": {"$users": ["nope"]}}}),
        json!({"name": "E", "type": "object", "config": {"catalogs": [{"id": "$users"}], "fields": {"999999": ["1"]}}}),
        json!({"name": "S", "type": "dropdown", "config": {"items": [{"id": "$on", "name": "On"}]}}),
        json!({"name": "S", "type": "dropdown", "config": {"items": [{"id": "a b", "name": "On"}]}}),
    ];
    for f in bad {
        let r = t
            .post(
                "/api/v1/catalogs",
                json!({"sectionId": sid, "name": "Bad", "fields": [f]}),
            )
            .await;
        r.expect_error(400, "invalid_field_config", None);
    }
}

#[tokio::test]
async fn internal_system_catalogs_are_not_listed_but_addressable() {
    let t = TestApp::start().await;
    let listed = t.get("/api/v1/catalogs").await;
    let ids: Vec<String> = listed
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    assert!(ids.contains(&"$users".to_string()));
    for internal in ["$catalogs", "$views", "$rights", "$messages"] {
        assert!(
            !ids.contains(&internal.to_string()),
            "{internal} is listed: {ids:?}"
        );
        let got = t.get(&format!("/api/v1/catalogs/{internal}")).await;
        assert_eq!(got.expect(200)["id"], internal, "still addressable by id");
    }
    for listed in [
        "$users",
        "$webhooks",
        "$events",
        "$scripts",
        "$processes",
        "$authServices",
        "$webRequests",
    ] {
        assert!(
            ids.contains(&listed.to_string()),
            "{listed} is not listed: {ids:?}"
        );
    }
    let settings = t.get("/api/v1/catalogs?sectionId=$settings").await;
    let ids: Vec<String> = settings
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    assert!(ids.iter().all(|i| i.starts_with('$')), "{ids:?}");
    assert_eq!(
        t.get("/api/v1/catalogs?sectionId=1").await.expect(200),
        &json!([]),
        "legacy section number"
    );
}

#[tokio::test]
async fn system_catalogs_move_between_sections() {
    let t = TestApp::start().await;
    let sid = t.section("People").await;
    let orders = t.catalog("Orders", json!([{"name": "Who", "type": "user"}, {"name": "Emp", "type": "object", "config": {"catalogs": [{"id": "$users"}]}}])).await;
    let oid = id(&orders);
    let emp = field_id(&orders, "Emp");
    t.patch("/api/v1/catalogs/3", json!({"sectionId": sid}))
        .await
        .expect(200);
    let c = t.get("/api/v1/catalogs/$users").await;
    assert_eq!(c.expect(200)["sectionId"], sid.as_str());
    assert_eq!(c.json["id"], "$users", "still the text id after a move");
    let r = t
        .record(
            &oid,
            json!({emp.clone(): [{"catalogId": "$users", "recordId": "1"}]}),
        )
        .await;
    assert_eq!(
        r["values"][&emp][0]["sectionId"],
        sid.as_str(),
        "links carry the current section"
    );
    assert_eq!(r["values"][&emp][0]["catalogId"], "$users");
    // Logins still work: the catalog is the same.
    t.get("/api/v1/profile/me").await.expect(200);
    t.patch("/api/v1/catalogs/$users", json!({"sectionId": "$settings"}))
        .await
        .expect(200);
    let c = t.get("/api/v1/catalogs/3").await;
    assert_eq!(c.expect(200)["sectionId"], "$settings");
}

#[tokio::test]
async fn catalogs_and_sections_are_records_of_the_registries() {
    let t = TestApp::start().await;
    let sid = t.section("Sales").await;
    let deals = t
        .post(
            "/api/v1/catalogs",
            json!({"sectionId": sid, "name": "Deals", "id": "deals"}),
        )
        .await;
    deals.expect(200);
    // Every catalog is a record of $catalogs, with the catalog's id as record id.
    let r = t.get("/api/v1/catalogs/$catalogs/records/$users").await;
    let users = r.expect(200).clone();
    assert_eq!(users["title"], "Сотрудники");
    assert_eq!(users["values"]["$name"], "Сотрудники");
    assert_eq!(users["values"]["$sectionDbId"][0]["recordId"], "$settings");
    let r = t.get("/api/v1/catalogs/1/records/deals").await;
    let d = r.expect(200).clone();
    assert_eq!(d["id"], "deals");
    assert_eq!(d["values"]["$sectionDbId"][0]["recordId"], sid.as_str());
    assert_eq!(d["values"]["$sectionDbId"][0]["recordTitle"], "Sales");
    let r = t
        .get(&format!("/api/v1/catalogs/$sections/records/{sid}"))
        .await;
    assert_eq!(r.expect(200)["title"], "Sales");
    // A webhook subscription links to a catalog through $catalogs (spec 02 §1.9.4).
    let hook = t
        .post(
            "/api/v1/catalogs/$webhooks/records",
            json!({"values": {
            "$catalog": [{"catalogId": "$catalogs", "recordId": "deals"}],
            "$url": "https://example.com/hook"}}),
        )
        .await;
    let hook = hook.expect(200).clone();
    let link = &hook["values"]["$catalog"][0];
    assert_eq!(link["catalogId"], "$catalogs");
    assert_eq!(link["recordId"], "deals");
    assert_eq!(link["recordTitle"], "Deals");
    // Renaming and deleting the catalog follow in its record and in links to it.
    t.patch("/api/v1/catalogs/deals", json!({"name": "Big deals"}))
        .await
        .expect(200);
    let h = t
        .get(&format!("/api/v1/catalogs/$webhooks/records/{}", id(&hook)))
        .await;
    assert_eq!(
        h.expect(200)["values"]["$catalog"][0]["recordTitle"],
        "Big deals"
    );
    t.delete("/api/v1/catalogs/deals").await.expect(200);
    t.get("/api/v1/catalogs/$catalogs/records/deals")
        .await
        .expect_error(404, "record_not_found", None);
    let h = t
        .get(&format!("/api/v1/catalogs/$webhooks/records/{}", id(&hook)))
        .await;
    assert_eq!(h.expect(200)["values"]["$catalog"][0]["isRemoved"], true);
    // The registries change only through the structure APIs.
    t.post(
        "/api/v1/catalogs/$catalogs/records",
        json!({"values": {"$name": "X"}}),
    )
    .await
    .expect_error(405, "method_not_allowed", None);
    t.patch(
        "/api/v1/catalogs/$sections/records/$settings",
        json!({"values": {"$name": "X"}}),
    )
    .await
    .expect_error(405, "method_not_allowed", None);
    t.delete("/api/v1/catalogs/1/records/$users")
        .await
        .expect_error(405, "method_not_allowed", None);
}

#[tokio::test]
async fn deleted_items_drop_out_of_record_values() {
    let t = TestApp::start().await;
    let c = t.catalog("Tasks", json!([{"name": "Tags", "type": "checkboxes", "config": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}])).await;
    let (cid, tags) = (id(&c), field_id(&c, "Tags"));
    let r = t.record(&cid, json!({tags.clone(): ["1", "2", "3"]})).await;
    t.patch(&format!("/api/v1/catalogs/{cid}"), json!({"fields": [{"id": tags, "name": "Tags", "type": "checkboxes", "config": {"items": [{"id": "1", "name": "a"}, {"id": "3", "name": "c"}]}}]}))
        .await
        .expect(200);
    let g = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&r)))
        .await;
    assert_eq!(g.expect(200)["values"][&tags], json!(["1", "3"]));
}
