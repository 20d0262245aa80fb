//! Values and Totals (spec 04 §2.1–2.3, §2.6): grouping per field type, the value functions,
//! splits, sort and paging, `recordsFilter` in both notations with `viewId`, and bad
//! parameters answered with 4xx naming the bad one.

use serde_json::{json, Value};

use crate::support::{enc, field_id, id, Resp, TestApp};

/// The Orders of spec 04 §2.6, plus a few fields for the other groupings:
///
/// | # | Manager | Amount | Tags | Signed | Done | Rate | City | Client | Day |
/// |---|---|---|---|---|---|---|---|---|---|
/// | 1 | admin | 100 | x | 2025-01-31T22:30Z | 15 | 5 | Moscow | ACME | 2025-01-31 |
/// | 2 | admin | — | x, y | 2025-02-03T09:00Z | 100 | 3 | Kazan | ACME, Globex | 2025-03-01 |
/// | 3 | Bob | 50 | — | — | 19 | 5 | Moscow | — | — |
struct Fx {
    t: TestApp,
    orders: String,
    clients: String,
    f: std::collections::HashMap<&'static str, String>,
    admin: String,
    bob: String,
    acme: String,
    globex: String,
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
    let orders = t
        .catalog(
            "Orders",
            json!([
                {"name": "Manager", "type": "user"},
                {"name": "Amount", "type": "number"},
                {"name": "Tags", "type": "checkboxes", "config": {"items": [{"name": "x"}, {"name": "y"}]}},
                {"name": "Signed", "type": "date", "config": {"time": true}},
                {"name": "Done", "type": "progress"},
                {"name": "Rate", "type": "stars"},
                {"name": "City", "type": "text"},
                {"name": "Client", "type": "object", "config": {"multiselect": true, "catalogs": [{"id": cid}]}},
                {"name": "Hot", "type": "switch"},
                {"name": "Day", "type": "date"}
            ]),
        )
        .await;
    let mut f = std::collections::HashMap::new();
    for n in [
        "Manager", "Amount", "Tags", "Signed", "Done", "Rate", "City", "Client", "Hot", "Day",
    ] {
        f.insert(n, field_id(&orders, n));
    }
    let bob = t
        .record(
            "$users",
            json!({"$name": "Bob", "$email": "bob@example.com", "$password": "secret1"}),
        )
        .await;
    let (admin, bob) = ("1".to_string(), id(&bob));
    let oid = id(&orders);
    let link = |r: &str| json!({"catalogId": cid, "recordId": r});
    for values in [
        json!({f["Manager"].clone(): [{"id": admin}], f["Amount"].clone(): 100, f["Tags"].clone(): ["1"],
            f["Signed"].clone(): "2025-01-31T22:30:00Z", f["Done"].clone(): 15, f["Rate"].clone(): 5,
            f["City"].clone(): "Moscow", f["Client"].clone(): [link(&acme)], f["Day"].clone(): "2025-01-31"}),
        json!({f["Manager"].clone(): [{"id": admin}], f["Tags"].clone(): ["1", "2"],
            f["Signed"].clone(): "2025-02-03T09:00:00Z", f["Done"].clone(): 100, f["Rate"].clone(): 3,
            f["City"].clone(): "Kazan", f["Client"].clone(): [link(&acme), link(&globex)],
            f["Day"].clone(): "2025-03-01"}),
        json!({f["Manager"].clone(): [{"id": bob}], f["Amount"].clone(): 50, f["Done"].clone(): 19,
            f["Rate"].clone(): 5, f["City"].clone(): "Moscow"}),
    ] {
        t.record(&oid, values).await;
    }
    Fx {
        t,
        orders: oid,
        clients: cid,
        f,
        admin,
        bob,
        acme,
        globex,
    }
}

impl Fx {
    /// `{name}` in a query is replaced by the id of the field `name`.
    fn query(&self, q: &str) -> String {
        let mut out = q.to_string();
        for (n, id) in &self.f {
            out = out.replace(&format!("{{{n}}}"), id);
        }
        out
    }

    async fn get(&self, resource: &str, q: &str) -> Resp {
        self.t
            .get(&format!(
                "/api/v1/catalogs/{}/{resource}?{}",
                self.orders,
                self.query(q)
            ))
            .await
    }

    async fn values(&self, q: &str) -> Value {
        let r = self.get("values", q).await;
        assert_eq!(r.status, 200, "{q}: {}", r.json);
        r.json
    }

    async fn totals(&self, q: &str) -> Value {
        let r = self.get("totals", q).await;
        assert_eq!(r.status, 200, "{q}: {}", r.json);
        r.json
    }

    /// `[(axis, value)]` of an answer without a split.
    async fn pairs(&self, q: &str) -> Vec<(Value, Value)> {
        self.values(q)
            .await
            .as_array()
            .expect("array")
            .iter()
            .map(|g| {
                assert_eq!(g["values"].as_array().map(Vec::len), Some(1), "{g}");
                assert!(g["values"][0].get("split").is_none(), "{g}");
                (g["axis"].clone(), g["values"][0]["value"].clone())
            })
            .collect()
    }

    fn admin_key(&self) -> Value {
        json!({"id": self.admin, "title": "Administrator"})
    }

    fn bob_key(&self) -> Value {
        json!({"id": self.bob, "title": "Bob"})
    }

    /// A 400 whose message starts with `param`.
    async fn bad(&self, resource: &str, q: &str, code: &str, param: &str) -> Value {
        let r = self.get(resource, q).await;
        r.expect_error(400, code, None);
        let m = r.json["message"].as_str().unwrap_or_default();
        assert!(
            m.starts_with(param),
            "{q}: {m:?} should start with {param:?}"
        );
        r.json
    }
}

#[tokio::test]
async fn the_documented_examples() {
    let x = fixture().await;
    // T-A1, T-A2: average Amount per Manager, empty values skipped or counted as 0.
    let by_manager =
        "value[type]=field&value[value]={Amount}&axis[type]=field&axis[value]={Manager}";
    assert_eq!(
        x.pairs(&format!("{by_manager}&valueFn=avg")).await,
        vec![(x.admin_key(), json!(100)), (x.bob_key(), json!(50))]
    );
    assert_eq!(
        x.pairs(&format!("{by_manager}&valueFn=avgAll")).await,
        vec![(x.admin_key(), json!(50)), (x.bob_key(), json!(50))]
    );
    // T-A3: a record counts in every tag it has; the totals count it once.
    let by_tags = "value[type]=recordsCount&axis[type]=field&axis[value]={Tags}";
    assert_eq!(
        x.pairs(by_tags).await,
        vec![
            (json!("1"), json!(2)),
            (json!("2"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.totals(by_tags).await[2],
        json!({"key": "count", "value": 3})
    );
    // T-A4: a date bucket in the client's zone: 22:30 UTC on 31 January is February at +03:00.
    assert_eq!(
        x.pairs("axis[type]=field&axis[value]={Signed}&axis[subType]=month&timezoneOffset=180")
            .await,
        vec![
            (json!("2025-01-31T21:00:00.000Z"), json!(2)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs("axis[type]=field&axis[value]={Signed}&axis[subType]=month")
            .await,
        vec![
            (json!("2025-02-01T00:00:00.000Z"), json!(1)),
            (json!("2025-01-01T00:00:00.000Z"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    // T-A5: the first group by value, largest first, is the admin's with two records.
    let r = x
        .values("value[type]=recordsCount&axis[type]=field&axis[value]={Manager}&limit=1&sort=value&sortType=desc")
        .await;
    assert_eq!(
        r,
        json!([{"axis": x.admin_key(), "values": [{"value": 2}]}])
    );
    // T-A6: totals of records per Manager: the average is over the two groups.
    assert_eq!(
        x.totals("value[type]=recordsCount&axis[type]=field&axis[value]={Manager}")
            .await,
        json!([{"key": "sum", "value": 3}, {"key": "avg", "value": 1.5}, {"key": "count", "value": 3}])
    );
}

#[tokio::test]
async fn grouping_per_field_type() {
    let x = fixture().await;
    let count =
        |axis: &str| format!("value[type]=recordsCount&axis[type]=field&axis[value]={{{axis}}}");
    // Numbers and stars by exact value, progress in steps of 10, text alphabetically.
    assert_eq!(
        x.pairs(&count("Amount")).await,
        vec![
            (json!(50), json!(1)),
            (json!(100), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&count("Rate")).await,
        vec![(json!(3), json!(1)), (json!(5), json!(2))]
    );
    assert_eq!(
        x.pairs(&count("Done")).await,
        vec![(json!(10), json!(2)), (json!(100), json!(1))]
    );
    assert_eq!(
        x.pairs(&count("City")).await,
        vec![(json!("Kazan"), json!(1)), (json!("Moscow"), json!(2))]
    );
    // Linked records: one group per record, largest first.
    let link =
        |r: &str, title: &str| json!({"catalogId": x.clients, "recordId": r, "recordTitle": title});
    assert_eq!(
        x.pairs(&count("Client")).await,
        vec![
            (link(&x.acme, "ACME"), json!(2)),
            (link(&x.globex, "Globex"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    // Without an axis: one group keyed null. Created time: this year's bucket.
    assert_eq!(x.pairs("").await, vec![(json!(null), json!(3))]);
    let year = x.pairs("axis[type]=createdTime&axis[subType]=year").await;
    assert_eq!(year.len(), 1);
    assert!(
        year[0]
            .0
            .as_str()
            .is_some_and(|s| s.ends_with("-01-01T00:00:00.000Z")),
        "{year:?}"
    );
    // Collapsed date buckets, in their cycle.
    let signed = |sub: &str, tz: i32| {
        format!("axis[type]=field&axis[value]={{Signed}}&axis[subType]={sub}&timezoneOffset={tz}")
    };
    assert_eq!(
        x.pairs(&signed("dayOfWeek", 0)).await,
        vec![
            (json!(1), json!(1)),
            (json!(5), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("dayOfWeek", 180)).await,
        vec![
            (json!(1), json!(1)),
            (json!(6), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("hourOfDay", 180)).await,
        vec![
            (json!(1), json!(1)),
            (json!(12), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("dayOfMonth", 0)).await,
        vec![
            (json!(3), json!(1)),
            (json!(31), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("weekOfYear", 0)).await,
        vec![
            (json!(5), json!(1)),
            (json!(6), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("monthOfYear", 180)).await,
        vec![(json!(2), json!(2)), (json!(null), json!(1))]
    );
    assert_eq!(
        x.pairs(&signed("week", 0)).await,
        vec![
            (json!("2025-02-03T00:00:00.000Z"), json!(1)),
            (json!("2025-01-27T00:00:00.000Z"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("day", 180)).await,
        vec![
            (json!("2025-02-02T21:00:00.000Z"), json!(1)),
            (json!("2025-01-31T21:00:00.000Z"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("hour", 0)).await[1],
        (json!("2025-01-31T22:00:00.000Z"), json!(1))
    );
    // A date without time is a calendar day: the client's zone does not move it.
    assert_eq!(
        x.pairs("axis[type]=field&axis[value]={Day}&axis[subType]=month&timezoneOffset=-180")
            .await,
        vec![
            (json!("2025-03-01T00:00:00.000Z"), json!(1)),
            (json!("2025-01-01T00:00:00.000Z"), json!(1)),
            (json!(null), json!(1))
        ]
    );
    assert_eq!(
        x.pairs(&signed("year", 0)).await[0],
        (json!("2025-01-01T00:00:00.000Z"), json!(2))
    );
}

#[tokio::test]
async fn value_functions() {
    let x = fixture().await;
    let amount = |func: &str| {
        format!("value[type]=field&value[value]={{Amount}}&valueFn={func}&axis[type]=field&axis[value]={{Manager}}&sort=axis")
    };
    let per = |admin: Value, bob: Value| vec![(x.admin_key(), admin), (x.bob_key(), bob)];
    assert_eq!(x.pairs(&amount("sum")).await, per(json!(100), json!(50)));
    assert_eq!(
        x.pairs(&amount("")).await,
        per(json!(100), json!(50)),
        "sum by default"
    );
    assert_eq!(x.pairs(&amount("count")).await, per(json!(1), json!(1)));
    assert_eq!(x.pairs(&amount("min")).await, per(json!(100), json!(50)));
    assert_eq!(x.pairs(&amount("max")).await, per(json!(100), json!(50)));
    // A progress value, fractional average.
    let done =
        "value[type]=field&value[value]={Done}&valueFn=avg&axis[type]=field&axis[value]={Rate}";
    assert_eq!(
        x.pairs(done).await,
        vec![(json!(3), json!(100)), (json!(5), json!(17))]
    );
    // Items and links are counted: records with a value.
    assert_eq!(
        x.pairs("value[type]=field&value[value]={Tags}&valueFn=count&axis[type]=field&axis[value]={Manager}&sort=axis")
            .await,
        per(json!(2), json!(0))
    );
    // Distinct values: cities and linked clients per manager.
    assert_eq!(
        x.pairs("value[type]=field&value[value]={City}&value[subType]=uniqueCount&axis[type]=field&axis[value]={Manager}")
            .await,
        per(json!(2), json!(1))
    );
    assert_eq!(
        x.pairs("value[type]=field&value[value]={Client}&value[subType]=uniqueCount&axis[type]=field&axis[value]={Manager}")
            .await,
        per(json!(2), json!(0))
    );
    // Totals: Σ over records once; the per-record average without an axis.
    assert_eq!(
        x.totals("value[type]=field&value[value]={Amount}&valueFn=avg")
            .await,
        json!([{"key": "sum", "value": 150}, {"key": "avg", "value": 75}, {"key": "count", "value": 3}])
    );
    assert_eq!(
        x.totals("value[type]=field&value[value]={Amount}&valueFn=avgAll")
            .await,
        json!([{"key": "sum", "value": 150}, {"key": "avg", "value": 50}, {"key": "count", "value": 3}])
    );
    // With an axis the average is over the groups: three tag groups (x, y, none).
    assert_eq!(
        x.totals("value[type]=field&value[value]={Amount}&axis[type]=field&axis[value]={Tags}")
            .await,
        json!([{"key": "sum", "value": 150}, {"key": "avg", "value": 50}, {"key": "count", "value": 3}])
    );
    assert_eq!(
        x.totals("value[type]=field&value[value]={City}&value[subType]=uniqueCount")
            .await[0],
        json!({"key": "sum", "value": 2})
    );
}

#[tokio::test]
async fn split_sort_paging_and_one_group() {
    let x = fixture().await;
    let split = "value[type]=recordsCount&axis[type]=field&axis[value]={Manager}&split[type]=field&split[value]={Tags}";
    assert_eq!(
        x.values(split).await,
        json!([
            {"axis": x.admin_key(), "values": [{"split": "1", "value": 2}, {"split": "2", "value": 1}]},
            {"axis": x.bob_key(), "values": [{"split": null, "value": 1}]}
        ])
    );
    // Only the most frequent split key is kept.
    assert_eq!(
        x.values(&format!("{split}&splitLimit=1")).await,
        json!([
            {"axis": x.admin_key(), "values": [{"split": "1", "value": 2}]},
            {"axis": x.bob_key(), "values": []}
        ])
    );
    // A split by date, in the client's zone; the same request as JSON text.
    let json_form = format!(
        "axis={}&split={}&timezoneOffset=180",
        enc(&json!({"type": "field", "value": x.f["City"]}).to_string()),
        enc(&json!({"type": "field", "value": x.f["Signed"], "subType": "month"}).to_string())
    );
    assert_eq!(
        x.values(&json_form).await,
        json!([
            {"axis": "Kazan", "values": [{"split": "2025-01-31T21:00:00.000Z", "value": 1}]},
            {"axis": "Moscow", "values": [{"split": "2025-01-31T21:00:00.000Z", "value": 1}, {"split": null, "value": 1}]}
        ])
    );
    // Sort by axis or value, both directions; paging over the groups.
    let by_amount = "axis[type]=field&axis[value]={Amount}";
    let keys = |v: Vec<(Value, Value)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(
        keys(
            x.pairs(&format!("{by_amount}&sort=axis&sortType=desc"))
                .await
        ),
        vec![json!(100), json!(50), json!(null)]
    );
    assert_eq!(
        keys(x.pairs(&format!("{by_amount}&limit=1&offset=1")).await),
        vec![json!(100)]
    );
    assert_eq!(
        keys(x.pairs(&format!("{by_amount}&limit=5&offset=3")).await),
        Vec::<Value>::new()
    );
    assert_eq!(
        keys(
            x.pairs("value[type]=field&value[value]={Amount}&valueFn=min&axis[type]=field&axis[value]={Manager}")
                .await
        ),
        vec![x.bob_key(), x.admin_key()],
        "min sorts smallest first"
    );
    // One group by its key: an employee by id, a value as text, "not set" as null.
    let one = x
        .get(
            &format!("values/{}", x.admin),
            "axis[type]=field&axis[value]={Manager}",
        )
        .await;
    assert_eq!(
        one.expect(200),
        &json!({"axis": x.admin_key(), "values": [{"value": 2}]})
    );
    let one = x.get("values/100", by_amount).await;
    assert_eq!(one.expect(200)["values"][0]["value"], 1);
    let one = x.get("values/null", by_amount).await;
    assert_eq!(one.expect(200)["axis"], Value::Null);
    x.get("values/7", by_amount)
        .await
        .expect_error(404, "not_found", None);
    // Outside the page selected by limit/offset it is not found either (spec 04 §2.2).
    x.get("values/100", &format!("{by_amount}&limit=1"))
        .await
        .expect_error(404, "not_found", None);
}

#[tokio::test]
async fn records_filter_and_views() {
    let x = fixture().await;
    // The documented request: my records, counted per Manager.
    let mine = "value[type]=recordsCount&axis[type]=field&axis[value]={Manager}&recordsFilter[filters][0][fieldId]={Manager}&recordsFilter[filters][0][value][0]=CURRENT_USER&limit=100&offset=0";
    assert_eq!(x.pairs(mine).await, vec![(x.admin_key(), json!(2))]);
    assert_eq!(x.totals(mine).await[2]["value"], 2);
    // JSON text, object form.
    let json_form = format!(
        "recordsFilter={}",
        enc(&json!({"filters": {x.f["Amount"].clone(): {"at": 60}}}).to_string())
    );
    assert_eq!(x.totals(&json_form).await[2]["value"], 1);
    // searchText inside recordsFilter, and the list parameters themselves.
    assert_eq!(
        x.totals("recordsFilter[searchText]=kazan").await[2]["value"],
        1
    );
    assert_eq!(
        x.totals(&format!(
            "filters={}",
            enc(&json!([{"fieldId": x.f["City"], "value": "mosc"}]).to_string())
        ))
        .await[2]["value"],
        2
    );
    // A view's filters apply with viewId, in recordsFilter or beside it, ANDed with the rest.
    let v =
        x.t.post(
            &format!("/api/v1/catalogs/{}/views", x.orders),
            json!({"name": "Moscow", "filters": [{"fieldId": x.f["City"], "value": "Moscow"}]}),
        )
        .await;
    let vid = id(v.expect(200));
    assert_eq!(
        x.pairs(&format!(
            "recordsFilter[viewId]={vid}&axis[type]=field&axis[value]={{Manager}}&sort=axis"
        ))
        .await,
        vec![(x.admin_key(), json!(1)), (x.bob_key(), json!(1))]
    );
    assert_eq!(
        x.totals(&format!("viewId={vid}&{mine}")).await[2]["value"],
        1
    );
    // recordsType: available (the default) and all.
    assert_eq!(x.totals("recordsType=all").await[2]["value"], 3);
    // A stored-widget form: an empty split and value type.
    assert_eq!(
        x.totals("split=null&value[type]=&valueFn=").await[2]["value"],
        3
    );
}

#[tokio::test]
async fn bad_parameters_name_the_bad_part() {
    let x = fixture().await;
    for resource in ["values", "totals"] {
        x.bad(resource, "value[type]=sum", "invalid_query", "value[type]")
            .await;
        x.bad(
            resource,
            "value[type]=field",
            "invalid_query",
            "value[value]",
        )
        .await;
        let r = x
            .bad(
                resource,
                "value[type]=field&value[value]=999",
                "unknown_field",
                "value[value]",
            )
            .await;
        assert_eq!(r["fieldId"], "999");
        x.bad(
            resource,
            "value[type]=field&value[value]={Tags}&valueFn=sum",
            "invalid_query",
            "valueFn",
        )
        .await;
        x.bad(resource, "valueFn=median", "invalid_query", "valueFn")
            .await;
        x.bad(
            resource,
            "value[type]=field&value[value]={City}",
            "invalid_query",
            "value[subType]",
        )
        .await;
        x.bad(
            resource,
            "value[type]=field&value[value]={Amount}&value[subType]=uniqueCount",
            "invalid_query",
            "value[subType]",
        )
        .await;
        x.bad(resource, "axis[type]=line", "invalid_query", "axis[type]")
            .await;
        x.bad(resource, "axis[type]=field", "invalid_query", "axis[value]")
            .await;
        let r = x
            .bad(
                resource,
                "axis[type]=field&axis[value]={Hot}",
                "invalid_query",
                "axis[value]",
            )
            .await;
        assert_eq!(r["fieldId"], x.f["Hot"].as_str());
        x.bad(
            resource,
            "axis[type]=field&axis[value]={Amount}&axis[subType]=month",
            "invalid_query",
            "axis[subType]",
        )
        .await;
        x.bad(
            resource,
            "axis[type]=createdTime&axis[subType]=fortnight",
            "invalid_query",
            "axis[subType]",
        )
        .await;
        x.bad(
            resource,
            "split[type]=field&split[value]=nope",
            "unknown_field",
            "split[value]",
        )
        .await;
        x.bad(resource, "recordsType=mine", "invalid_query", "recordsType")
            .await;
        x.bad(
            resource,
            "recordsFilter[filters][0][fieldId]={Amount}&recordsFilter[filters][0][value][at]=lots",
            "invalid_query",
            "recordsFilter[filters][0].value.at",
        )
        .await;
        x.bad(
            resource,
            &format!("recordsFilter={}", enc("{\"filters\": [")),
            "invalid_query",
            "recordsFilter",
        )
        .await;
        x.bad(
            resource,
            "timezoneOffset=abc",
            "invalid_query",
            "timezoneOffset",
        )
        .await;
        x.get(resource, "viewId=404")
            .await
            .expect_error(404, "view_not_found", None);
        x.get(
            resource,
            "value[type]=field&value[value]={Tags}&value[subType]=timeLeft",
        )
        .await
        .expect_error(501, "not_implemented", Some(&x.f["Tags"]));
    }
    x.bad("values", "sort=size", "invalid_query", "sort").await;
    x.bad("values", "sortType=up", "invalid_query", "sortType")
        .await;
    x.bad("values", "limit=-1", "invalid_query", "limit").await;
    x.bad("values", "splitLimit=x", "invalid_query", "splitLimit")
        .await;
    x.t.get("/api/v1/catalogs/9999/values")
        .await
        .expect_error(404, "catalog_not_found", None);
    x.t.get("/api/v1/catalogs/nope/totals")
        .await
        .expect_error(404, "catalog_not_found", None);
    // Large pages and split limits are clamped, not refused.
    assert_eq!(
        x.values("limit=5000&splitLimit=500")
            .await
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}
