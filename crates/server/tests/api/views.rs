//! The Views API (spec 01 §8) and `viewId` on the records list (§6.1): the documented request
//! and answer shapes, personal and rights views, alphabetical lists, enriched linked-record
//! values, `$views` records written through the one write path, and bad input answered with
//! 4xx naming the bad part.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{field_id, id, Resp, TestApp};

/// Clients (Name) and Deals (Name, Status, Due, Amount, Client, Manager) with four deals.
struct Fx {
    t: TestApp,
    deals: String,
    clients: String,
    name: String,
    status: String,
    due: String,
    amount: String,
    client: String,
    manager: String,
    /// Client record ids: ACME, Globex.
    acme: String,
    globex: String,
    /// Deal record ids in creation order.
    d: Vec<String>,
}

async fn fixture() -> Fx {
    let t = TestApp::start().await;
    let clients = t
        .catalog("Clients", json!([{"name": "Name", "type": "text"}]))
        .await;
    let cid = id(&clients);
    let cname = field_id(&clients, "Name");
    let acme = id(&t.record(&cid, json!({cname.clone(): "ACME"})).await);
    let globex = id(&t.record(&cid, json!({cname.clone(): "Globex"})).await);
    let deals = t
        .catalog(
            "Deals",
            json!([
                {"name": "Name", "type": "text"},
                {"name": "Status", "type": "dropdown", "config": {"items": [{"name": "New"}, {"name": "Won"}, {"name": "Lost"}]}},
                {"name": "Due", "type": "date", "config": {"time": true}},
                {"name": "Amount", "type": "number"},
                {"name": "Client", "type": "object", "config": {"catalogs": [{"id": cid}]}},
                {"name": "Manager", "type": "user"}
            ]),
        )
        .await;
    let f = |n: &str| field_id(&deals, n);
    let (name, status, due, amount, client, manager) = (
        f("Name"),
        f("Status"),
        f("Due"),
        f("Amount"),
        f("Client"),
        f("Manager"),
    );
    let did = id(&deals);
    let mut d = Vec::new();
    for (n, s, when, a, c) in [
        ("one", "1", "2015-10-28T10:00:00Z", 10, &acme),
        ("two", "2", "2015-11-01T10:00:00Z", 20, &globex),
        ("three", "1", "2016-01-01T10:00:00Z", 30, &acme),
        ("four", "3", "2015-11-02T10:00:00Z", 40, &globex),
    ] {
        let r = t
            .record(
                &did,
                json!({name.clone(): n, status.clone(): [s], due.clone(): when, amount.clone(): a,
                    client.clone(): [{"catalogId": cid, "recordId": c}], manager.clone(): [{"id": "1"}]}),
            )
            .await;
        d.push(id(&r));
    }
    Fx {
        t,
        deals: did,
        clients: cid,
        name,
        status,
        due,
        amount,
        client,
        manager,
        acme,
        globex,
        d,
    }
}

impl Fx {
    fn views(&self) -> String {
        format!("/api/v1/catalogs/{}/views", self.deals)
    }

    async fn create(&self, body: Value) -> Value {
        self.t.post(&self.views(), body).await.expect(200).clone()
    }

    /// The deal ids a records list answers.
    async fn listed(&self, query: &str) -> Vec<String> {
        let r = self
            .t
            .get(&format!("/api/v1/catalogs/{}/records?{query}", self.deals))
            .await;
        r.expect(200)
            .as_array()
            .expect("array")
            .iter()
            .map(id)
            .collect()
    }
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("array")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect()
}

#[tokio::test]
async fn documented_create_get_patch_delete() {
    let x = fixture().await;
    // The request of the docs: `fieldId` and `attr` both, a status list and a date range.
    let v = x
        .create(json!({
            "name": "View public name",
            "originName": "View name for admins",
            "forRights": true,
            "filters": [
                {"fieldId": x.status, "attr": x.status, "value": ["1", "2"]},
                {"fieldId": x.due, "attr": x.due, "value": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"}}
            ]
        }))
        .await;
    let vid = id(&v);
    assert_eq!(v["catalogId"], x.deals);
    assert_eq!(v["catalogTitle"], "Deals");
    assert_eq!(v["name"], "View public name");
    assert_eq!(v["originName"], "View name for admins");
    assert_eq!(v["forRights"], true);
    assert_eq!(v["privilegeCode"], "admin");
    assert_eq!(v["privilegesApi"]["value"][0], "admin");
    assert_eq!(v["config"], json!({}));
    assert_eq!(
        v["filters"],
        json!([
            {"id": "1", "fieldId": x.status, "attr": x.status, "value": ["1", "2"]},
            {"id": "2", "fieldId": x.due, "attr": x.due, "value": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"}}
        ])
    );
    let got = x.t.get(&format!("{}/{vid}", x.views())).await;
    assert_eq!(got.expect(200), &v);

    // PATCH: omitted keys stay, `filters` replaces every condition (`attr` alone is enough).
    let p =
        x.t.patch(
            &format!("{}/{vid}", x.views()),
            json!({"name": "Renamed", "config": {"displayMode": "cards"}}),
        )
        .await;
    let p = p.expect(200);
    assert_eq!(p["name"], "Renamed");
    assert_eq!(p["originName"], "View name for admins");
    assert_eq!(p["config"], json!({"displayMode": "cards"}));
    assert_eq!(p["filters"], v["filters"]);
    let p =
        x.t.patch(
            &format!("{}/{vid}", x.views()),
            json!({"forRights": false, "filters": [{"attr": x.amount, "value": {"at": 15}}]}),
        )
        .await;
    let p = p.expect(200);
    assert_eq!(p["forRights"], false);
    assert!(p.get("privilegesApi").is_none(), "{p}");
    assert_eq!(
        p["filters"],
        json!([{"id": "1", "fieldId": x.amount, "attr": x.amount, "value": {"at": 15}}])
    );

    let del = x.t.delete(&format!("{}/{vid}", x.views())).await;
    assert_eq!(del.expect(200), &json!({}));
    x.t.get(&format!("{}/{vid}", x.views()))
        .await
        .expect_error(404, "view_not_found", None);
    x.t.delete(&format!("{}/{vid}", x.views()))
        .await
        .expect_error(404, "view_not_found", None);
    assert_eq!(x.t.get(&x.views()).await.expect(200), &json!([]));
}

#[tokio::test]
async fn listed_alphabetically_with_a_custom_id() {
    let x = fixture().await;
    for n in ["beta", "Alpha", "gamma"] {
        x.create(json!({"name": n, "filters": []})).await;
    }
    let custom = x
        .create(json!({"id": "mine", "name": "Delta", "forRights": false}))
        .await;
    assert_eq!(custom["id"], "mine");
    let list = x.t.get(&x.views()).await;
    assert_eq!(
        names(list.expect(200)),
        vec!["Alpha", "beta", "Delta", "gamma"]
    );
    let got = x.t.get(&format!("{}/mine", x.views())).await;
    assert_eq!(got.expect(200)["name"], "Delta");
    // A view belongs to its catalog: under another one it is not found.
    x.t.get(&format!("/api/v1/catalogs/{}/views/mine", x.clients))
        .await
        .expect_error(404, "view_not_found", None);
    // Views of another catalog are not listed.
    assert_eq!(
        x.t.get(&format!("/api/v1/catalogs/{}/views", x.clients))
            .await
            .expect(200),
        &json!([])
    );
}

#[tokio::test]
async fn object_values_are_enriched_and_system_catalogs_answer_to_both_ids() {
    let x = fixture().await;
    let v = x
        .create(json!({"name": "ACME deals", "filters": [
            {"fieldId": x.client, "value": [{"catalogId": x.clients, "recordId": x.acme}]},
            {"fieldId": x.manager, "value": ["CURRENT_USER"]}
        ]}))
        .await;
    let item = &v["filters"][0]["value"][0];
    assert_eq!(item["catalogId"], x.clients);
    assert_eq!(item["recordId"], x.acme);
    assert_eq!(item["recordTitle"], "ACME");
    assert_eq!(
        item["catalogIcon"],
        x.t.get(&format!("/api/v1/catalogs/{}", x.clients))
            .await
            .expect(200)["icon"]
    );
    assert_eq!(
        item["catalogDbId"],
        x.clients.parse::<i64>().expect("numeric id")
    );
    assert_eq!(
        item["recordDbId"],
        x.acme.parse::<i64>().expect("numeric id")
    );
    assert_eq!(v["filters"][1]["value"], json!(["CURRENT_USER"]));
    // Sent back as read, the enrichment is not stored twice.
    let vid = id(&v);
    let back =
        x.t.patch(
            &format!("{}/{vid}", x.views()),
            json!({"filters": v["filters"]}),
        )
        .await;
    assert_eq!(back.expect(200)["filters"], v["filters"]);

    // A view of `$users`: the path takes the text id and the legacy number; a filter names
    // a system field by its text id (spec 02 §1.6) and answers with it.
    let u =
        x.t.post(
            "/api/v1/catalogs/3/views",
            json!({"name": "Admins", "filters": [{"fieldId": "$name", "value": "Admin"}]}),
        )
        .await;
    let u = u.expect(200).clone();
    assert_eq!(u["catalogId"], "$users");
    assert_eq!(u["filters"][0]["fieldId"], "$name");
    let by_text = x.t.get("/api/v1/catalogs/$users/views").await;
    let by_number = x.t.get("/api/v1/catalogs/3/views").await;
    assert_eq!(by_text.expect(200), by_number.expect(200));
    assert_eq!(names(by_text.expect(200)), vec!["Admins"]);
}

#[tokio::test]
async fn view_id_on_the_records_list() {
    let x = fixture().await;
    let won_or_new = x
        .create(json!({"name": "Open", "filters": [{"fieldId": x.status, "value": ["1", "2"]}]}))
        .await;
    let vid = id(&won_or_new);
    let [one, two, three, four] = [&x.d[0], &x.d[1], &x.d[2], &x.d[3]];
    assert_eq!(
        x.listed(&format!("viewId={vid}")).await,
        vec![three.clone(), two.clone(), one.clone()]
    );
    // The view's filters AND the request's own.
    let own = format!(
        "viewId={vid}&filters[0][fieldId]={}&filters[0][value][at]=15",
        x.amount
    );
    assert_eq!(x.listed(&own).await, vec![three.clone(), two.clone()]);
    let r =
        x.t.get(&format!(
            "/api/v1/catalogs/{}/records?viewId={vid}&searchText=one",
            x.deals
        ))
        .await;
    assert_eq!(r.expect(200).as_array().map(Vec::len), Some(1));
    assert_eq!(r.headers["x-total-count"], "1");
    // Date ranges and links in a view.
    let v2 = x
        .create(json!({"name": "Autumn ACME", "filters": [
            {"attr": x.due, "value": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"}},
            {"attr": x.client, "value": [{"catalogId": x.clients, "recordId": x.globex}]}
        ]}))
        .await;
    assert_eq!(
        x.listed(&format!("viewId={}", id(&v2))).await,
        vec![four.clone(), two.clone()]
    );
    // Unknown views and views of another catalog are not found.
    x.t.get(&format!("/api/v1/catalogs/{}/records?viewId=999", x.deals))
        .await
        .expect_error(404, "view_not_found", None);
    let other =
        x.t.post(
            &format!("/api/v1/catalogs/{}/views", x.clients),
            json!({"name": "All clients"}),
        )
        .await;
    let other = id(other.expect(200));
    x.t.get(&format!(
        "/api/v1/catalogs/{}/records?viewId={other}",
        x.deals
    ))
    .await
    .expect_error(404, "view_not_found", None);
}

#[tokio::test]
async fn a_condition_on_a_deleted_field_goes_away() {
    let x = fixture().await;
    let v = x
        .create(json!({"name": "Big", "filters": [
            {"fieldId": x.amount, "value": {"at": 25}},
            {"fieldId": x.name, "value": "o"}
        ]}))
        .await;
    let vid = id(&v);
    assert_eq!(
        x.listed(&format!("viewId={vid}")).await,
        vec![x.d[3].clone()]
    );
    let cat = x.t.get(&format!("/api/v1/catalogs/{}", x.deals)).await;
    let kept: Vec<Value> = cat.expect(200)["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter(|f| f["id"] != x.amount.as_str())
        .cloned()
        .collect();
    x.t.patch(
        &format!("/api/v1/catalogs/{}", x.deals),
        json!({"fields": kept}),
    )
    .await
    .expect(200);
    let got = x.t.get(&format!("{}/{vid}", x.views())).await;
    assert_eq!(
        got.expect(200)["filters"],
        json!([{"id": "2", "fieldId": x.name, "attr": x.name, "value": "o"}])
    );
    assert_eq!(
        x.listed(&format!("viewId={vid}")).await,
        vec![x.d[3].clone(), x.d[1].clone(), x.d[0].clone()]
    );

    // A value that no longer fits its field (an item deleted since) is reported, naming the
    // view, rather than silently widening what the view selects.
    let lost = x
        .create(json!({"name": "Lost", "filters": [{"fieldId": x.status, "value": ["3"]}]}))
        .await;
    let cat = x.t.get(&format!("/api/v1/catalogs/{}", x.deals)).await;
    let fields: Vec<Value> = cat.expect(200)["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| {
            let mut f = f.clone();
            if f["id"] == x.status.as_str() {
                f["config"]["items"] =
                    json!([{"id": "1", "name": "New"}, {"id": "2", "name": "Won"}]);
            }
            f
        })
        .collect();
    x.t.patch(
        &format!("/api/v1/catalogs/{}", x.deals),
        json!({"fields": fields}),
    )
    .await
    .expect(200);
    let r =
        x.t.get(&format!(
            "/api/v1/catalogs/{}/records?viewId={}",
            x.deals,
            id(&lost)
        ))
        .await;
    r.expect_error(400, "invalid_query", Some(&x.status));
    let m = r.json["message"].as_str().unwrap_or_default();
    assert!(
        m.starts_with(&format!("view \"{}\": filters[0].value[0]", id(&lost))),
        "{m}"
    );
}

#[tokio::test]
async fn personal_views_belong_to_their_author() {
    let x = fixture().await;
    x.t.record(
        "$users",
        json!({"$name": "Bob", "$email": "bob@example.com", "$password": "secret1"}),
    )
    .await;
    let bob = ("bob@example.com", "secret1");
    let mine = x.create(json!({"name": "Admin's own"})).await;
    let shared = x.create(json!({"name": "Shared", "forRights": true})).await;
    let hidden = x
        .create(json!({"name": "", "originName": "Access only", "forRights": true}))
        .await;
    let as_bob = |m: Method, path: String, body: Option<Value>| {
        let t = &x.t;
        async move { t.call_as(bob, m, &path, body).await }
    };
    let bobs = as_bob(Method::POST, x.views(), Some(json!({"name": "Bob's own"}))).await;
    let bobs = bobs.expect(200).clone();
    assert_eq!(bobs["privilegeCode"], "admin");

    // Each sees their own personal views and the rights views; nobody sees another's.
    let list: Resp = as_bob(Method::GET, x.views(), None).await;
    assert_eq!(
        names(list.expect(200)),
        vec!["Bob's own", "Shared", ""],
        "every employee is admin until the rights policy lands, so Bob sees the hidden one too"
    );
    let list = x.t.get(&x.views()).await;
    assert_eq!(names(list.expect(200)), vec!["Admin's own", "Shared", ""]);
    assert_eq!(list.json[2]["originName"], "Access only");
    let path = |v: &Value| format!("{}/{}", x.views(), id(v));
    as_bob(Method::GET, path(&mine), None)
        .await
        .expect_error(404, "view_not_found", None);
    as_bob(Method::PATCH, path(&mine), Some(json!({"name": "x"})))
        .await
        .expect_error(404, "view_not_found", None);
    as_bob(Method::DELETE, path(&mine), None)
        .await
        .expect_error(404, "view_not_found", None);
    x.t.get(&path(&bobs))
        .await
        .expect_error(404, "view_not_found", None);
    as_bob(Method::GET, path(&shared), None).await.expect(200);
    as_bob(Method::GET, path(&hidden), None).await.expect(200);
    // Applying another's personal view is refused the same way.
    as_bob(
        Method::GET,
        format!("/api/v1/catalogs/{}/records?viewId={}", x.deals, id(&mine)),
        None,
    )
    .await
    .expect_error(404, "view_not_found", None);
}

#[tokio::test]
async fn views_are_records_of_the_views_catalog() {
    let x = fixture().await;
    let v = x
        .create(json!({"name": "Open", "filters": [{"fieldId": x.status, "value": ["1"]}]}))
        .await;
    let vid = id(&v);
    let rec =
        x.t.get(&format!("/api/v1/catalogs/$views/records/{vid}"))
            .await;
    let rec = rec.expect(200);
    assert_eq!(rec["title"], "Open");
    assert_eq!(rec["values"]["$forRights"], false);
    assert_eq!(
        rec["values"]["$catalogDbId"][0]["recordId"], x.deals,
        "{rec}"
    );
    assert_eq!(rec["values"]["$userDbId"][0]["id"], "1", "{rec}");
    // Written through the one write path: the change journal has the creation.
    let h =
        x.t.get(&format!(
            "/api/v1/histories?catalogId=$views&recordId={vid}"
        ))
        .await;
    assert!(
        !h.expect(200).as_array().expect("array").is_empty(),
        "{}",
        h.json
    );
    // The Records API does not write views: their rules live in the Views API.
    for r in [
        x.t.post(
            "/api/v1/catalogs/$views/records",
            json!({"values": {"$name": "x"}}),
        )
        .await,
        x.t.patch(
            &format!("/api/v1/catalogs/$views/records/{vid}"),
            json!({"values": {"$name": "x"}}),
        )
        .await,
        x.t.delete(&format!("/api/v1/catalogs/4/records/{vid}"))
            .await,
    ] {
        r.expect_error(405, "method_not_allowed", None);
    }
}

#[tokio::test]
async fn bad_input_names_the_bad_part() {
    let x = fixture().await;
    let bad = |r: &Resp, code: &str, field: Option<&str>, starts: &str| {
        r.expect_error(400, code, field);
        let m = r.json["message"].as_str().unwrap_or_default();
        assert!(m.starts_with(starts), "{m:?} should start with {starts:?}");
    };
    let r = x
        .t
        .post(
            &x.views(),
            json!({"name": "x", "filters": [{"fieldId": x.name, "value": "a"}, {"fieldId": "999", "value": "a"}]}),
        )
        .await;
    bad(&r, "unknown_field", Some("999"), "filters[1].fieldId");
    let r =
        x.t.post(
            &x.views(),
            json!({"name": "x", "filters": [{"fieldId": x.amount, "value": {"at": "many"}}]}),
        )
        .await;
    bad(&r, "invalid_query", Some(&x.amount), "filters[0].value.at");
    let r =
        x.t.post(
            &x.views(),
            json!({"name": "x", "filters": [{"fieldId": x.status, "value": ["9"]}]}),
        )
        .await;
    bad(&r, "invalid_query", Some(&x.status), "filters[0].value[0]");
    let r =
        x.t.post(&x.views(), json!({"name": "x", "filters": {"a": 1}}))
            .await;
    bad(&r, "invalid_value", Some("filters"), "filters");
    let r = x.t.post(&x.views(), json!({"filters": []})).await;
    r.expect_error(400, "required_field", Some("name"));
    let r =
        x.t.post(&x.views(), json!({"name": "", "forRights": true}))
            .await;
    r.expect_error(400, "required_field", Some("originName"));
    let r =
        x.t.post(&x.views(), json!({"name": "x", "config": "cards"}))
            .await;
    r.expect_error(400, "invalid_value", Some("config"));
    let r = x.t.post(&x.views(), json!({"name": 5})).await;
    r.expect_error(400, "invalid_value", Some("name"));
    let r =
        x.t.post(&x.views(), json!({"name": "x", "forRights": "yes"}))
            .await;
    r.expect_error(400, "invalid_value", Some("forRights"));
    let r = x.t.post(&x.views(), json!({"name": "x".repeat(300)})).await;
    r.expect_error(400, "invalid_value", Some("name"));
    let r =
        x.t.post(&x.views(), json!({"id": "bad id", "name": "x"}))
            .await;
    r.expect_error(400, "invalid_id", None);
    // Nothing was created by the refused requests.
    assert_eq!(x.t.get(&x.views()).await.expect(200), &json!([]));

    // A PATCH with a bad filter changes nothing.
    let v = x.create(json!({"name": "Keep"})).await;
    let r =
        x.t.patch(
            &format!("{}/{}", x.views(), id(&v)),
            json!({"name": "Changed", "filters": [{"attr": "nope", "value": 1}]}),
        )
        .await;
    bad(&r, "unknown_field", Some("nope"), "filters[0].attr");
    let got = x.t.get(&format!("{}/{}", x.views(), id(&v))).await;
    assert_eq!(got.expect(200)["name"], "Keep");

    // Unknown catalogs and views.
    x.t.get("/api/v1/catalogs/9999/views")
        .await
        .expect_error(404, "catalog_not_found", None);
    x.t.post("/api/v1/catalogs/nope/views", json!({"name": "x"}))
        .await
        .expect_error(404, "catalog_not_found", None);
    x.t.get(&format!("{}/424242", x.views()))
        .await
        .expect_error(404, "view_not_found", None);
    x.t.patch(&format!("{}/424242", x.views()), json!({"name": "x"}))
        .await
        .expect_error(404, "view_not_found", None);
}

/// Spec 02 §1.6: the Views API takes system field ids as text only.
#[tokio::test]
async fn system_field_ids_are_text_only_in_view_filters() {
    let t = TestApp::start().await;
    let legacy = t
        .post(
            "/api/v1/catalogs/3/views",
            json!({"name": "By name", "forRights": false, "filters": [{"fieldId": "1", "value": "Adm"}]}),
        )
        .await;
    legacy.expect_error(400, "unknown_field", Some("1"));
    let r = t
        .post(
            "/api/v1/catalogs/3/views",
            json!({"name": "By name", "forRights": false, "filters": [{"fieldId": "$name", "value": "Adm"}]}),
        )
        .await;
    let v = r.expect(200).clone();
    let got = t
        .get(&format!(
            "/api/v1/catalogs/$users/views/{}",
            v["id"].as_str().unwrap_or("")
        ))
        .await;
    assert_eq!(got.expect(200)["filters"][0]["fieldId"], "$name");
    assert_eq!(got.json["catalogId"], "$users");
}
