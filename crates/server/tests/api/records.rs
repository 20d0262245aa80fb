//! Records API (spec 01 §6): list, get, create, update (partial), delete, with 2.0 keys.

use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

async fn deals(t: &TestApp) -> (String, Value) {
    let c = t
        .catalog("Deals", json!([
            {"name": "Title", "type": "text"},
            {"name": "Amount", "type": "number"},
            {"name": "Stage", "type": "dropdown", "config": {"items": [{"name": "New"}, {"name": "Won"}]}}
        ]))
        .await;
    (id(&c), c)
}

#[tokio::test]
async fn create_get_update_delete() {
    let t = TestApp::start().await;
    let (cid, c) = deals(&t).await;
    let (title, amount, stage) = (
        field_id(&c, "Title"),
        field_id(&c, "Amount"),
        field_id(&c, "Stage"),
    );
    let r = t.post(&format!("/api/v1/catalogs/{cid}/records"), json!({"values": {title.clone(): "ACME Ltd", amount.clone(): 120.5, stage.clone(): ["1"]}})).await;
    let rec = r.expect(200).clone();
    let rid = id(&rec);
    assert_eq!(rec["catalogId"], cid.as_str());
    assert_eq!(rec["title"], "ACME Ltd");
    // The section's `allUsers → admin` reaches records as `access`, the highest privilege a
    // record holds (spec 04 §1.3).
    assert_eq!(rec["privilegeCode"], "access");
    assert_eq!(
        rec["values"],
        json!({title.clone(): "ACME Ltd", amount.clone(): 120.5, stage.clone(): ["1"]})
    );
    assert_eq!(
        rec["chat"],
        json!({"messagesCount": 0, "newMessages": false, "subscribe": false})
    );
    assert!(rec["created"].as_str().is_some_and(|s| s.ends_with('Z')));

    let g = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await;
    assert_eq!(g.expect(200), &rec);
    let g = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{rid}/"))
        .await;
    assert_eq!(g.expect(200), &rec, "trailing slash");

    // PATCH changes only what is sent.
    let u = t
        .patch(
            &format!("/api/v1/catalogs/{cid}/records/{rid}"),
            json!({"values": {amount.clone(): 99}}),
        )
        .await;
    let u = u.expect(200).clone();
    assert_eq!(u["values"][&amount], 99);
    assert_eq!(u["values"][&title], "ACME Ltd");
    assert_eq!(u["values"][&stage], json!(["1"]));
    // Empty values: nothing changes.
    let same = t
        .patch(
            &format!("/api/v1/catalogs/{cid}/records/{rid}"),
            json!({"values": {}}),
        )
        .await;
    assert_eq!(same.expect(200)["values"], u["values"]);
    // The title follows the first text field; empty → "#id".
    let e = t
        .patch(
            &format!("/api/v1/catalogs/{cid}/records/{rid}"),
            json!({"values": {title.clone(): ""}}),
        )
        .await;
    assert_eq!(e.expect(200)["title"], format!("#{rid}"));

    let d = t
        .delete(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await;
    assert_eq!(d.expect(200), &json!({}));
    t.get(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await
        .expect_error(404, "record_not_found", None);
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await
        .expect_error(404, "record_not_found", None);
    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{rid}"),
        json!({"values": {}}),
    )
    .await
    .expect_error(404, "record_not_found", None);
    // Ids are never reused after a delete.
    let again = t.record(&cid, json!({})).await;
    assert!(id(&again).parse::<i64>().expect("numeric") > rid.parse::<i64>().expect("numeric"));
}

#[tokio::test]
async fn list_pages_newest_first_with_total() {
    let t = TestApp::start().await;
    let (cid, c) = deals(&t).await;
    let title = field_id(&c, "Title");
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(id(&t
            .record(&cid, json!({title.clone(): format!("Deal {i}")}))
            .await));
    }
    let all = t.get(&format!("/api/v1/catalogs/{cid}/records")).await;
    let got: Vec<String> = all
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first);
    assert_eq!(all.headers["x-total-count"], "7");
    let page = t
        .get(&format!("/api/v1/catalogs/{cid}/records?limit=2&offset=1"))
        .await;
    let got: Vec<String> = page
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    assert_eq!(got, newest_first[1..3].to_vec());
    assert_eq!(page.headers["x-total-count"], "7");
    // id=..&id=.. selects records; unknown ids are skipped.
    let sel = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records?id={}&id={}&id=999999",
            ids[0], ids[2]
        ))
        .await;
    let got: Vec<String> = sel
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    assert_eq!(got, vec![ids[2].clone(), ids[0].clone()]);
    // fields projection, as JSON and as brackets.
    let p = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records?limit=1&fields=[{title}]"
        ))
        .await;
    assert_eq!(
        p.expect(200)[0]["values"]
            .as_object()
            .expect("values")
            .len(),
        1
    );
    let p = t
        .get(&format!(
            "/api/v1/catalogs/{cid}/records?limit=1&fields[0]={title}"
        ))
        .await;
    assert_eq!(
        p.expect(200)[0]["values"]
            .as_object()
            .expect("values")
            .len(),
        1
    );
    // Bad paging and projections.
    for q in [
        "limit=-1",
        "offset=-5",
        "limit=abc",
        "fields=[\"nope\"]",
        "fields=[1",
    ] {
        let r = t.get(&format!("/api/v1/catalogs/{cid}/records?{q}")).await;
        assert_eq!(r.status, 400, "{q}: {}", r.json);
    }
    // limit is clamped to 1..1000.
    let r = t
        .get(&format!("/api/v1/catalogs/{cid}/records?limit=0"))
        .await;
    assert_eq!(r.expect(200).as_array().expect("array").len(), 1);
    // Empty catalog: [].
    let (empty, _) = deals(&t).await;
    let r = t.get(&format!("/api/v1/catalogs/{empty}/records")).await;
    assert_eq!(r.expect(200), &json!([]));
    assert_eq!(r.headers["x-total-count"], "0");
}

#[tokio::test]
async fn users_records_have_both_keys_and_text_key_wins() {
    let t = TestApp::start().await;
    let a = t
        .get("/api/v1/catalogs/3/records/1")
        .await
        .expect(200)
        .clone();
    let b = t
        .get("/api/v1/catalogs/$users/records/1")
        .await
        .expect(200)
        .clone();
    assert_eq!(a, b);
    assert_eq!(a["catalogId"], "$users");
    let keys: Vec<&String> = a["values"].as_object().expect("values").keys().collect();
    assert_eq!(
        keys,
        vec!["1", "2", "4", "$name", "$email", "$type"],
        "documented key order"
    );
    assert_eq!(a["values"]["$type"], json!(["$user"]));
    let s = t
        .get("/api/v1/catalogs/$users/records/1?skipPrevId=true")
        .await;
    let keys: Vec<&String> = s.expect(200)["values"]
        .as_object()
        .expect("values")
        .keys()
        .collect();
    assert_eq!(keys, vec!["$name", "$email", "$type"]);
    // Both keys accepted on write; when they differ the text key wins.
    let r = t
        .post(
            "/api/v1/catalogs/3/records",
            json!({"values": {"1": "Old", "$name": "Ivan", "2": "ivan@example.com"}}),
        )
        .await;
    let u = r.expect(200).clone();
    assert_eq!(u["values"]["$name"], "Ivan");
    assert_eq!(u["values"]["1"], "Ivan");
    assert_eq!(u["values"]["$email"], "ivan@example.com");
    assert_eq!(u["title"], "Ivan");
    let r = t
        .patch(
            &format!("/api/v1/catalogs/$users/records/{}", id(&u)),
            json!({"values": {"$name": "Ivan P", "1": "ignored"}}),
        )
        .await;
    assert_eq!(r.expect(200)["values"]["1"], "Ivan P");
    // $name is required on $users.
    t.post(
        "/api/v1/catalogs/$users/records",
        json!({"values": {"$email": "x@example.com"}}),
    )
    .await
    .expect_error(400, "required_field", Some("$name"));
}

#[tokio::test]
async fn custom_record_ids() {
    let t = TestApp::start().await;
    let (cid, c) = deals(&t).await;
    let title = field_id(&c, "Title");
    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/records"),
            json!({"id": "deal-a", "values": {title.clone(): "A"}}),
        )
        .await;
    assert_eq!(r.expect(200)["id"], "deal-a");
    let g = t
        .get(&format!("/api/v1/catalogs/{cid}/records/deal-a"))
        .await;
    assert_eq!(g.expect(200)["values"][&title], "A");
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"id": "deal-a", "values": {}}),
    )
    .await
    .expect_error(400, "duplicate_id", None);
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"id": "a b", "values": {}}),
    )
    .await
    .expect_error(400, "invalid_id", None);
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"id": "42", "values": {}}),
    )
    .await
    .expect_error(400, "invalid_id", None);
}
