//! Histories API (spec 01 §11): every change through the write path is journaled with old and
//! new values, author and time; field ids here are text ids only (spec 02 §1.4).

use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

fn entries(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn changes_are_journaled_with_old_and_new_values() {
    let t = TestApp::start().await;
    let target = t
        .catalog("Clients", json!([{"name": "Name", "type": "text"}]))
        .await;
    let tid = id(&target);
    let acme = t
        .record(&tid, json!({field_id(&target, "Name"): "ACME"}))
        .await;
    let c = t
        .catalog(
            "Deals",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Amount", "type": "number"},
                {"name": "Owner", "type": "user"},
                {"name": "Client", "type": "object", "config": {"catalogs": [{"id": tid}]}},
                {"name": "Secret", "type": "text", "history": false}
            ]),
        )
        .await;
    let cid = id(&c);
    let (title, amount, owner, client, secret) = (
        field_id(&c, "Title"),
        field_id(&c, "Amount"),
        field_id(&c, "Owner"),
        field_id(&c, "Client"),
        field_id(&c, "Secret"),
    );
    let r = t.record(&cid, json!({title.clone(): "Deal", amount.clone(): 10, owner.clone(): [{"id": "1"}], secret.clone(): "s"})).await;
    let rid = id(&r);
    t.patch(&format!("/api/v1/catalogs/{cid}/records/{rid}"), json!({"values": {amount.clone(): 20, title.clone(): "Deal", client.clone(): [{"catalogId": tid, "recordId": acme["id"]}]}})).await.expect(200);
    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{rid}"),
        json!({"values": {secret.clone(): "t"}}),
    )
    .await
    .expect(200);
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await
        .expect(200);

    let h = t
        .get(&format!("/api/v1/histories?catalogId={cid}&recordId={rid}"))
        .await;
    let list = entries(h.expect(200));
    let actions: Vec<&str> = list
        .iter()
        .filter_map(|e| e["actionType"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec!["DELETE", "UPDATE", "CREATE"],
        "newest first; a change of a history:false field writes no entry"
    );
    let create = &list[2];
    assert_eq!(create["recordId"], rid.as_str());
    assert_eq!(
        create["recordTitle"], "Deal",
        "the title outlives the record"
    );
    assert_eq!(create["catalogId"], cid.as_str());
    assert_eq!(create["user"], json!({"id": "1", "title": "Administrator"}));
    assert!(create["date"].as_str().is_some_and(|d| d.ends_with('Z')));
    assert_eq!(
        create["payload"][&title],
        json!({"oldValue": "", "newValue": "Deal"})
    );
    assert_eq!(
        create["payload"][&amount],
        json!({"oldValue": null, "newValue": 10})
    );
    assert_eq!(
        create["payload"][&owner]["newValue"],
        json!([{"id": "1", "title": "Administrator", "isRemoved": false}])
    );
    assert!(
        create["payload"].get(&secret).is_none(),
        "history:false fields are not journaled"
    );
    let update = &list[1];
    let changed: Vec<&String> = update["payload"]
        .as_object()
        .expect("payload")
        .keys()
        .collect();
    assert_eq!(
        changed,
        vec![&amount, &client],
        "only fields whose value changed"
    );
    assert_eq!(
        update["payload"][&amount],
        json!({"oldValue": 10, "newValue": 20})
    );
    let link = &update["payload"][&client]["newValue"][0];
    assert_eq!(link["recordTitle"], "ACME");
    assert_eq!(link["catalogId"], tid.as_str());

    // Catalog feed, paging, order and filters.
    let all = t
        .get(&format!(
            "/api/v1/histories?catalogId={cid}&sortType=asc&limit=2"
        ))
        .await;
    let list = entries(all.expect(200));
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["actionType"], "CREATE");
    let next = t
        .get(&format!(
            "/api/v1/histories?catalogId={cid}&sortType=asc&limit=2&from=2"
        ))
        .await;
    assert_eq!(entries(next.expect(200))[0]["actionType"], "DELETE");
    let only = t
        .get(&format!(
            "/api/v1/histories?catalogId={cid}&actionType=UPDATE"
        ))
        .await;
    assert_eq!(entries(only.expect(200)).len(), 1);
    let by_field = t
        .get(&format!(
            "/api/v1/histories?catalogId={cid}&fieldId={client}"
        ))
        .await;
    assert_eq!(entries(by_field.expect(200)).len(), 1);
    let by_user = t
        .get(&format!("/api/v1/histories?catalogId={cid}&userId=1"))
        .await;
    assert_eq!(entries(by_user.expect(200)).len(), 3);
    let nobody = t
        .get(&format!("/api/v1/histories?catalogId={cid}&userId=999"))
        .await;
    assert_eq!(nobody.expect(200), &json!([]));
}

#[tokio::test]
async fn history_takes_text_field_ids_only_and_checks_its_input() {
    let t = TestApp::start().await;
    let u = t
        .post(
            "/api/v1/catalogs/$users/records",
            json!({"values": {"$name": "Ivan", "$email": "ivan@example.com"}}),
        )
        .await;
    let uid = id(u.expect(200));
    // The catalog by either id; the field by its text id only.
    for cat in ["$users", "3"] {
        let h = t
            .get(&format!(
                "/api/v1/histories?catalogId={cat}&recordId={uid}&fieldId=$name"
            ))
            .await;
        let list = entries(h.expect(200));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["catalogId"], "$users");
        let keys: Vec<&String> = list[0]["payload"]
            .as_object()
            .expect("payload")
            .keys()
            .collect();
        assert!(
            keys.iter().all(|k| k.starts_with('$')),
            "text keys only: {keys:?}"
        );
    }
    t.get("/api/v1/histories?catalogId=$users&fieldId=1")
        .await
        .expect_error(400, "field_not_found", Some("1"));
    t.get("/api/v1/histories")
        .await
        .expect_error(400, "invalid_query", Some("catalogId"));
    t.get("/api/v1/histories?catalogId=nope")
        .await
        .expect_error(404, "catalog_not_found", None);
    t.get("/api/v1/histories?catalogId=$users&recordId=999999")
        .await
        .expect_error(404, "record_not_found", None);
    t.get("/api/v1/histories?catalogId=$users&sortType=up")
        .await
        .expect_error(400, "invalid_query", None);
    t.get("/api/v1/histories?catalogId=$users&actionType=EDIT")
        .await
        .expect_error(400, "invalid_query", None);
    t.get("/api/v1/histories?catalogId=$users&limit=-1")
        .await
        .expect_error(400, "invalid_query", None);
}
