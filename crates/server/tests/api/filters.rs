//! The record filter language and the list parameters (spec 01 §5, §6.1–6.2): each filter
//! form, each field type, combinations with sort, paging, search and projection, and bad
//! input answered with 400 naming the bad part.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::support::{enc, field_id, id, Resp, TestApp};

/// Two catalogs: Clients, and Deals with one field of every type linking to them; five
/// deals `r1`..`r5` created in that order, and an employee Bob.
struct Fx {
    t: TestApp,
    deals: String,
    clients: String,
    /// Field ids of Deals by name, and of Clients by `"C.<name>"`.
    f: HashMap<String, String>,
    /// Record ids: `r1`..`r5`, `c1`..`c3`, `admin`, `bob`.
    r: HashMap<String, String>,
}

impl Fx {
    fn f(&self, name: &str) -> &str {
        self.f
            .get(name)
            .unwrap_or_else(|| panic!("no field {name}"))
    }

    fn r(&self, name: &str) -> &str {
        self.r
            .get(name)
            .unwrap_or_else(|| panic!("no record {name}"))
    }

    /// The names (`r1`..) of record ids, for readable assertions.
    fn names(&self, ids: &[String]) -> Vec<String> {
        ids.iter()
            .map(|i| {
                self.r
                    .iter()
                    .find(|(k, v)| *v == i && k.starts_with('r'))
                    .map(|(k, _)| k.clone())
                    .unwrap_or_else(|| format!("?{i}"))
            })
            .collect()
    }

    async fn list(&self, query: &str) -> Resp {
        self.t
            .get(&format!("/api/v1/catalogs/{}/records?{query}", self.deals))
            .await
    }

    /// The records a query lists, by name, in order.
    async fn found(&self, query: &str) -> Vec<String> {
        let r = self.list(query).await;
        assert_eq!(r.status, 200, "{query}: {}", r.json);
        let ids: Vec<String> = r.json.as_array().expect("array").iter().map(id).collect();
        self.names(&ids)
    }

    /// The records a filter in JSON text (either form) lists.
    async fn json(&self, filters: Value) -> Vec<String> {
        self.found(&format!("filters={}", enc(&filters.to_string())))
            .await
    }

    /// An error answer: 400, `code`, and a message that starts with `path`.
    async fn bad(&self, query: &str, code: &str, path: &str) -> Value {
        let r = self.list(query).await;
        r.expect_error(400, code, None);
        let m = r.json["message"].as_str().unwrap_or_default();
        assert!(
            m.starts_with(path),
            "{query}: message {m:?} should start with {path:?}"
        );
        r.json.clone()
    }
}

async fn expect_found(x: &Fx, (filters, expect): (Value, Vec<String>)) {
    assert_eq!(x.json(filters.clone()).await, expect, "{filters}");
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

async fn fixture() -> Fx {
    let t = TestApp::start().await;
    let mut f = HashMap::new();
    let mut r = HashMap::new();
    let clients = t
        .catalog(
            "Clients",
            json!([
                {"name": "Name", "type": "text"},
                {"name": "Size", "type": "number"},
                {"name": "Status", "type": "dropdown", "config": {"items": [{"name": "Active"}, {"name": "Gone"}]}}
            ]),
        )
        .await;
    let cid = id(&clients);
    for n in ["Name", "Size", "Status"] {
        f.insert(format!("C.{n}"), field_id(&clients, n));
    }
    let items = |names: &[&str]| -> Value {
        json!({"items": names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()})
    };
    let deals = t
        .catalog(
            "Deals",
            json!([
                {"name": "Main", "type": "group"},
                {"name": "Title", "type": "text"},
                {"name": "Amount", "type": "number"},
                {"name": "Due", "type": "date", "config": {"time": true}},
                {"name": "Day", "type": "date"},
                {"name": "Stage", "type": "dropdown", "config": items(&["New", "Won", "Lost"])},
                {"name": "Tags", "type": "checkboxes", "config": items(&["A", "B", "C"])},
                {"name": "Kind", "type": "radiobutton", "config": items(&["X", "Y"])},
                {"name": "Hot", "type": "switch"},
                {"name": "Done", "type": "progress"},
                {"name": "Rating", "type": "stars"},
                {"name": "Owner", "type": "user", "config": {"multiselect": true}},
                {"name": "Client", "type": "object", "config": {"multiselect": true, "catalogs": [{"id": cid}],
                    "fields": {cid.clone(): [f["C.Status"]]}}},
                {"name": "Docs", "type": "file", "config": {"multiselect": true}},
                {"name": "Phone", "type": "contact", "config": {"type": "phone"}},
                {"name": "Address", "type": "address"}
            ]),
        )
        .await;
    for n in [
        "Main", "Title", "Amount", "Due", "Day", "Stage", "Tags", "Kind", "Hot", "Done", "Rating",
        "Owner", "Client", "Docs", "Phone", "Address",
    ] {
        f.insert(n.to_string(), field_id(&deals, n));
    }
    let did = id(&deals);
    let (name, size, status) = (&f["C.Name"], &f["C.Size"], &f["C.Status"]);
    for (k, n, s, st) in [
        ("c1", "ACME", 100, "1"),
        ("c2", "Ромашка", 5, "2"),
        ("c3", "Globex", 50, "1"),
    ] {
        let rec = t
            .record(
                &cid,
                json!({name.clone(): n, size.clone(): s, status.clone(): [st]}),
            )
            .await;
        r.insert(k.to_string(), id(&rec));
    }
    let me = t.get("/api/v1/profile/me").await;
    r.insert(
        "admin".into(),
        me.expect(200)["id"].as_str().expect("id").to_string(),
    );
    let bob = t
        .record(
            "$users",
            json!({"$name": "Bob", "$email": "bob@example.com", "$password": "secret1"}),
        )
        .await;
    r.insert("bob".into(), id(&bob));
    let link = |k: &str| json!({"catalogId": cid, "recordId": r[k]});
    let g = |n: &str| f[n].clone();
    let records = [
        (
            "r1",
            json!({
                g("Title"): "Alpha deal", g("Amount"): 10, g("Due"): "2024-01-05T10:00:00Z",
                g("Day"): "2024-01-05", g("Stage"): ["1"], g("Tags"): ["1", "2"], g("Kind"): ["1"],
                g("Hot"): true, g("Done"): 10, g("Rating"): 5, g("Owner"): [{"id": r["admin"]}],
                g("Client"): [link("c1")], g("Docs"): [{"src": "https://example.com/a.pdf", "title": "a.pdf"}],
                g("Phone"): [{"contact": "8 (900) 123-45-67", "comment": "office"}],
                g("Address"): {"value": "Moscow, Tverskaya 1", "provider": "dadata", "data": {}}
            }),
        ),
        (
            "r2",
            json!({
                g("Title"): "beta DEAL", g("Amount"): 250.5, g("Due"): "2024-02-10T12:00:00Z",
                g("Day"): "2024-02-10", g("Stage"): ["2"], g("Tags"): ["1"], g("Kind"): ["2"],
                g("Hot"): false, g("Done"): 50, g("Rating"): 3, g("Owner"): [{"id": r["bob"]}],
                g("Client"): [link("c2")],
                g("Phone"): [{"contact": "+7 911 000-11-22", "comment": "mobile"}],
                g("Address"): {"value": "Kazan", "provider": "dadata", "data": {}}
            }),
        ),
        (
            "r3",
            json!({
                g("Title"): "Гамма сделка", g("Amount"): -5, g("Stage"): ["3"], g("Tags"): ["1", "2", "3"],
                g("Done"): 100, g("Owner"): [{"id": r["admin"]}, {"id": r["bob"]}],
                g("Client"): [link("c1"), link("c3")],
                g("Phone"): [{"contact": "info@gamma.ru", "comment": "mail"}]
            }),
        ),
        ("r4", json!({})),
        (
            "r5",
            json!({
                g("Title"): "Delta", g("Amount"): 10, g("Due"): "2024-01-31T23:30:00Z",
                g("Day"): "2024-01-31", g("Stage"): ["1"], g("Tags"): ["2"], g("Kind"): ["1"],
                g("Done"): 0, g("Rating"): 4, g("Client"): [link("c3")]
            }),
        ),
    ];
    for (k, values) in records {
        let rec = t.record(&did, values).await;
        r.insert(k.to_string(), id(&rec));
    }
    Fx {
        t,
        deals: did,
        clients: cid,
        f,
        r,
    }
}

#[tokio::test]
async fn array_form_in_brackets_as_documented() {
    let x = fixture().await;
    let (due, client, stage, owner) = (x.f("Due"), x.f("Client"), x.f("Stage"), x.f("Owner"));
    // The example of the docs: a date range and linked records, both ANDed.
    let q = format!(
        "limit=50&filters[0][fieldId]={due}&filters[0][value][at]={}&filters[0][value][to]={}\
         &filters[1][fieldId]={client}&filters[1][value][0][catalogId]={c}&filters[1][value][0][recordId]={c1}\
         &filters[1][value][1][catalogId]={c}&filters[1][value][1][recordId]={c3}",
        enc("2024-01-01T00:00:00+03:00"),
        enc("2024-01-31T23:59:59+00:00"),
        c = x.clients,
        c1 = x.r("c1"),
        c3 = x.r("c3"),
    );
    assert_eq!(x.found(&q).await, names(&["r5", "r1"]));
    // Item ids as value[] and value[i], and as JSON text in one value.
    let q = format!("filters[0][fieldId]={stage}&filters[0][value][]=2&filters[0][value][]=3");
    assert_eq!(x.found(&q).await, names(&["r3", "r2"]));
    let q = format!("filters[0][fieldId]={stage}&filters[0][value][0]=2");
    assert_eq!(x.found(&q).await, names(&["r2"]));
    let q = format!(
        "filters[0][fieldId]={stage}&filters[0][value]={}",
        enc("[1,2]")
    );
    assert_eq!(x.found(&q).await, names(&["r5", "r2", "r1"]));
    // The caller as CURRENT_USER, and other employees by id.
    let q = format!("filters[0][fieldId]={owner}&filters[0][value][0]=CURRENT_USER");
    assert_eq!(x.found(&q).await, names(&["r3", "r1"]));
    let q = format!(
        "filters[0][fieldId]={owner}&filters[0][value][0]={}",
        x.r("bob")
    );
    assert_eq!(x.found(&q).await, names(&["r3", "r2"]));
    // Linked-record fields: value[0][filters][…].
    let q = format!(
        "filters[0][fieldId]={client}&filters[0][value][0][catalogId]={}&filters[0][value][0][filters][0][fieldId]={}&filters[0][value][0][filters][0][value][at]=50",
        x.clients,
        x.f("C.Size")
    );
    assert_eq!(x.found(&q).await, names(&["r5", "r3", "r1"]));
}

#[tokio::test]
async fn array_form_as_json_and_object_form() {
    let x = fixture().await;
    let (title, amount, stage, owner, hot) = (
        x.f("Title"),
        x.f("Amount"),
        x.f("Stage"),
        x.f("Owner"),
        x.f("Hot"),
    );
    let array = json!([
        {"fieldId": title, "value": "deal"},
        {"fieldId": stage, "value": ["1", "3"]}
    ]);
    assert_eq!(x.json(array).await, names(&["r1"]));
    // `attr` as views store it; numbers as ids.
    let array = json!([{"attr": amount.parse::<i64>().expect("numeric id"), "value": {"at": 200}}]);
    assert_eq!(x.json(array).await, names(&["r2"]));
    // The object form of the spec: field conditions, $or of values, $or/$and of conditions.
    let object = json!({
        title: "deal",
        stage: {"$or": [["1"], "3"]},
    });
    assert_eq!(x.json(object).await, names(&["r1"]));
    let object = json!({"$or": [{amount: {"at": 200}}, {owner: ["CURRENT_USER"]}]});
    assert_eq!(x.json(object).await, names(&["r3", "r2", "r1"]));
    let object = json!({"$and": [{"$or": [{title: "alpha"}, {title: "delta"}]}, {hot: true}]});
    assert_eq!(x.json(object).await, names(&["r1"]));
    // $and on values of a multi-valued field: all of them.
    let object = json!({owner: {"$and": [[x.r("admin")], [x.r("bob")]]}});
    assert_eq!(x.json(object).await, names(&["r3"]));
    // Nesting to any depth.
    let object = json!({"$or": [{"$and": [{"$or": [{amount: -5}, {amount: 250.5}]}, {stage: ["3"]}]}, {title: "delta"}]});
    assert_eq!(x.json(object).await, names(&["r5", "r3"]));
    // Empty filters are no filter.
    for empty in [json!([]), json!({}), json!({"$or": []})] {
        assert_eq!(x.json(empty).await.len(), 5);
    }
    assert_eq!(x.found("filters=").await.len(), 5);
}

#[tokio::test]
async fn every_field_type() {
    let x = fixture().await;
    let check = |field: &str, value: Value, expect: &[&str]| {
        let filters = json!({x.f(field): value});
        (filters, names(expect))
    };
    // text: case-insensitive substring, Unicode too; null = empty.
    expect_found(&x, check("Title", json!("DEAL"), &["r2", "r1"])).await;
    expect_found(&x, check("Title", json!("СДЕЛ"), &["r3"])).await;
    expect_found(&x, check("Title", json!(null), &["r4"])).await;
    // number: inclusive ranges, either bound, negative, one number; null = empty.
    expect_found(
        &x,
        check("Amount", json!({"at": 10, "to": 100}), &["r5", "r1"]),
    )
    .await;
    expect_found(&x, check("Amount", json!({"at": "0"}), &["r5", "r2", "r1"])).await;
    expect_found(&x, check("Amount", json!({"to": 0}), &["r3"])).await;
    expect_found(&x, check("Amount", json!(250.5), &["r2"])).await;
    expect_found(&x, check("Amount", json!(null), &["r4"])).await;
    // date with time: instants; a date-only `to` covers its day; NULL_DATE.
    expect_found(
        &x,
        check(
            "Due",
            json!({"at": "2024-01-01", "to": "2024-01-31"}),
            &["r5", "r1"],
        ),
    )
    .await;
    expect_found(&x, check("Due", json!("NULL_DATE"), &["r4", "r3"])).await;
    expect_found(
        &x,
        check("Due", json!({"at": "2024-02-10T12:00:00.000Z"}), &["r2"]),
    )
    .await;
    // date only: calendar days.
    expect_found(
        &x,
        check(
            "Day",
            json!({"at": "2024-01-06", "to": "2024-02-10T08:00:00+03:00"}),
            &["r5", "r2"],
        ),
    )
    .await;
    expect_found(&x, check("Day", json!("2024-01-05"), &["r1"])).await;
    // dropdown: any of; null in the list = or empty.
    expect_found(&x, check("Stage", json!(["2", "3"]), &["r3", "r2"])).await;
    expect_found(&x, check("Stage", json!("1"), &["r5", "r1"])).await;
    expect_found(&x, check("Stage", json!(["3", null]), &["r4", "r3"])).await;
    // checkboxes: all of.
    expect_found(&x, check("Tags", json!(["1", "2"]), &["r3", "r1"])).await;
    expect_found(
        &x,
        check("Tags", json!({"$or": [["3"], ["2"]]}), &["r5", "r3", "r1"]),
    )
    .await;
    expect_found(&x, check("Tags", json!(null), &["r4"])).await;
    // radiobutton: any of.
    expect_found(&x, check("Kind", json!([1]), &["r5", "r1"])).await;
    expect_found(&x, check("Kind", json!(null), &["r4", "r3"])).await;
    // switch: false also matches a switch never turned on.
    expect_found(&x, check("Hot", json!(true), &["r1"])).await;
    expect_found(&x, check("Hot", json!(false), &["r5", "r4", "r3", "r2"])).await;
    expect_found(&x, check("Hot", json!("true"), &["r1"])).await;
    // progress: range.
    expect_found(&x, check("Done", json!({"at": 50}), &["r3", "r2"])).await;
    expect_found(&x, check("Done", json!({"to": 0}), &["r5"])).await;
    // stars: exact counts.
    expect_found(&x, check("Rating", json!([4, 5]), &["r5", "r1"])).await;
    expect_found(&x, check("Rating", json!(null), &["r4", "r3"])).await;
    // user: ids, CURRENT_USER; null = nobody.
    expect_found(&x, check("Owner", json!(["CURRENT_USER"]), &["r3", "r1"])).await;
    expect_found(
        &x,
        check("Owner", json!([{"id": x.r("bob")}]), &["r3", "r2"]),
    )
    .await;
    expect_found(&x, check("Owner", json!(null), &["r5", "r4"])).await;
    // object: linked records, or linked records whose fields match; null = no link.
    let (c, c1) = (x.clients.clone(), x.r("c1").to_string());
    expect_found(
        &x,
        check(
            "Client",
            json!([{"catalogId": c, "recordId": c1}]),
            &["r3", "r1"],
        ),
    )
    .await;
    expect_found(
        &x,
        check(
            "Client",
            json!([{"catalogId": c, "filters": [{"fieldId": x.f("C.Status"), "value": ["2"]}]}]),
            &["r2"],
        ),
    )
    .await;
    expect_found(
        &x,
        check(
            "Client",
            json!([{"catalogId": c, "filters": {x.f("C.Name"): "рома"}}]),
            &["r2"],
        ),
    )
    .await;
    expect_found(
        &x,
        check(
            "Client",
            json!([{"catalogId": c}]),
            &["r5", "r3", "r2", "r1"],
        ),
    )
    .await;
    expect_found(&x, check("Client", json!(null), &["r4"])).await;
    // file: has files or none.
    expect_found(&x, check("Docs", json!(true), &["r1"])).await;
    expect_found(&x, check("Docs", json!(false), &["r5", "r4", "r3", "r2"])).await;
    // contact: values only (not comments); phones by digits, 8 read as 7.
    expect_found(&x, check("Phone", json!("89001234567"), &["r1"])).await;
    expect_found(&x, check("Phone", json!("+7 (900) 123"), &["r1"])).await;
    expect_found(&x, check("Phone", json!("GAMMA"), &["r3"])).await;
    expect_found(&x, check("Phone", json!("office"), &[])).await;
    expect_found(&x, check("Phone", json!(null), &["r5", "r4"])).await;
    // address: substring of its value.
    expect_found(&x, check("Address", json!("moscow"), &["r1"])).await;
    expect_found(&x, check("Address", json!(null), &["r5", "r4", "r3"])).await;
}

#[tokio::test]
async fn date_only_bounds_use_the_client_zone() {
    let x = fixture().await;
    let f = enc(&json!({x.f("Due"): {"at": "2024-01-01", "to": "2024-01-31"}}).to_string());
    // UTC+3: the 31st ends at 20:59:59.999Z, before r5's 23:30Z.
    assert_eq!(
        x.found(&format!("filters={f}&timezoneOffset=180")).await,
        names(&["r1"])
    );
    assert_eq!(
        x.found(&format!("filters={f}&timezoneOffset=0")).await,
        names(&["r5", "r1"])
    );
}

#[tokio::test]
async fn sort_page_and_project() {
    let x = fixture().await;
    let (title, amount, stage, due, client, owner) = (
        x.f("Title"),
        x.f("Amount"),
        x.f("Stage"),
        x.f("Due"),
        x.f("Client"),
        x.f("Owner"),
    );
    // Default: newest first.
    assert_eq!(x.found("").await, names(&["r5", "r4", "r3", "r2", "r1"]));
    // Numbers, both ways: empty last, ties newest first.
    assert_eq!(
        x.found(&format!("sortField={amount}")).await,
        names(&["r3", "r5", "r1", "r2", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={amount}&sortType=1")).await,
        names(&["r3", "r5", "r1", "r2", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={amount}&sortType=-1")).await,
        names(&["r2", "r5", "r1", "r3", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={amount}&sortType=desc")).await,
        names(&["r2", "r5", "r1", "r3", "r4"])
    );
    // Text: case-insensitive, empty last.
    assert_eq!(
        x.found(&format!("sortField={title}")).await,
        names(&["r1", "r2", "r5", "r3", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={title}&sortType=-1")).await,
        names(&["r3", "r5", "r2", "r1", "r4"])
    );
    // Dates, descending, empty last.
    assert_eq!(
        x.found(&format!("sortField={due}&sortType=-1")).await,
        names(&["r2", "r5", "r1", "r4", "r3"])
    );
    // Items by their order in the field; links and users by title.
    assert_eq!(
        x.found(&format!("sortField={stage}")).await,
        names(&["r5", "r1", "r2", "r3", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={client}")).await,
        names(&["r3", "r1", "r5", "r2", "r4"])
    );
    assert_eq!(
        x.found(&format!("sortField={owner}")).await,
        names(&["r3", "r1", "r2", "r5", "r4"])
    );
    // A page of a sorted, filtered list, with the total of the whole match.
    let f = enc(&json!({stage: ["1", "2"]}).to_string());
    let r = x
        .list(&format!(
            "filters={f}&sortField={amount}&sortType=-1&limit=2&offset=1"
        ))
        .await;
    let got: Vec<String> = r
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(id)
        .collect();
    assert_eq!(x.names(&got), names(&["r5", "r1"]));
    assert_eq!(r.headers["x-total-count"], "3");
    let r = x.list(&format!("filters={f}&limit=1")).await;
    assert_eq!(r.expect(200).as_array().map(Vec::len), Some(1));
    assert_eq!(r.headers["x-total-count"], "3");
    let r = x.list(&format!("filters={f}&offset=10")).await;
    assert_eq!(r.expect(200), &json!([]));
    assert_eq!(r.headers["x-total-count"], "3");
    // Projection with a filter: only the fields asked for.
    let r = x
        .list(&format!(
            "filters={f}&fields={}",
            enc(&json!([title]).to_string())
        ))
        .await;
    for rec in r.expect(200).as_array().expect("array") {
        assert_eq!(rec["values"].as_object().map(|v| v.len()), Some(1), "{rec}");
        assert!(rec["values"].get(title).is_some());
    }
    // The id list is ANDed with the filter.
    let q = format!(
        "id={}&id={}&id={}&filters={}",
        x.r("r1"),
        x.r("r2"),
        x.r("r3"),
        enc(&json!({owner: ["CURRENT_USER"]}).to_string())
    );
    assert_eq!(x.found(&q).await, names(&["r3", "r1"]));
    // The limit is at most 1000.
    let r = x.list("limit=5000").await;
    assert_eq!(r.expect(200).as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn quick_search() {
    let x = fixture().await;
    let s = |q: &str| format!("searchText={}", enc(q));
    // Text fields, case-insensitive.
    assert_eq!(x.found(&s("DEAL")).await, names(&["r2", "r1"]));
    // Contact values and their comments.
    assert_eq!(x.found(&s("mobile")).await, names(&["r2"]));
    assert_eq!(x.found(&s("gamma.ru")).await, names(&["r3"]));
    // Linked-record titles and employees' names.
    assert_eq!(x.found(&s("acme")).await, names(&["r3", "r1"]));
    assert_eq!(x.found(&s("bob")).await, names(&["r3", "r2"]));
    // Addresses.
    assert_eq!(x.found(&s("kazan")).await, names(&["r2"]));
    // Phone digits, and a number as the record id.
    assert_eq!(x.found(&s("911 000")).await, names(&["r2"]));
    let r4 = x.r("r4").to_string();
    assert!(x.found(&s(&r4)).await.contains(&"r4".to_string()));
    // With a filter: both apply.
    let q = format!(
        "{}&filters={}",
        s("deal"),
        enc(&json!({x.f("Stage"): ["2"]}).to_string())
    );
    assert_eq!(x.found(&q).await, names(&["r2"]));
    assert_eq!(x.found(&s("")).await.len(), 5);
}

#[tokio::test]
async fn linked_record_values() {
    let x = fixture().await;
    let (title, client) = (x.f("Title"), x.f("Client"));
    let (name, size, status) = (x.f("C.Name"), x.f("C.Size"), x.f("C.Status"));
    // Nested projection: the asked fields of the linked records.
    let fields = json!([title, {"fieldId": client, "fields": {x.clients.clone(): [name, size]}}]);
    let r = x
        .list(&format!(
            "id={}&fields={}",
            x.r("r3"),
            enc(&fields.to_string())
        ))
        .await;
    let rec = &r.expect(200)[0];
    assert_eq!(rec["values"].as_object().map(|v| v.len()), Some(2), "{rec}");
    let links = rec["values"][client].as_array().expect("links");
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["recordValues"], json!({name: "ACME", size: 100}));
    assert_eq!(links[1]["recordValues"], json!({name: "Globex", size: 50}));
    // The same in bracket notation.
    let q = format!(
        "id={}&fields[0]={title}&fields[1][fieldId]={client}&fields[1][fields][{}][]={name}",
        x.r("r2"),
        x.clients
    );
    let r = x.list(&q).await;
    assert_eq!(
        r.expect(200)[0]["values"][client][0]["recordValues"],
        json!({name: "Ромашка"})
    );
    // withFieldsAdditional: the object field's extended fields, on lists and single records.
    let r = x
        .list(&format!("id={}&withFieldsAdditional=true", x.r("r1")))
        .await;
    assert_eq!(
        r.expect(200)[0]["values"][client][0]["recordValues"],
        json!({status: ["1"]})
    );
    let g =
        x.t.get(&format!(
            "/api/v1/catalogs/{}/records/{}?withFieldsAdditional=true",
            x.deals,
            x.r("r2")
        ))
        .await;
    assert_eq!(
        g.expect(200)["values"][client][0]["recordValues"],
        json!({status: ["2"]})
    );
    // Without either, link items have no recordValues.
    let r = x.list(&format!("id={}", x.r("r1"))).await;
    assert!(r.expect(200)[0]["values"][client][0]
        .get("recordValues")
        .is_none());
}

#[tokio::test]
async fn bad_input_names_the_bad_part() {
    let x = fixture().await;
    let (title, amount, stage, client, due, rating) = (
        x.f("Title"),
        x.f("Amount"),
        x.f("Stage"),
        x.f("Client"),
        x.f("Due"),
        x.f("Rating"),
    );
    // A malformed value: the path of the bad bound, the field.
    let e = x
        .bad(
            &format!(
                "filters[0][fieldId]={title}&filters[0][value]=x&filters[1][fieldId]={amount}&filters[1][value][at]=abc"
            ),
            "invalid_query",
            "filters[1].value.at",
        )
        .await;
    assert_eq!(e["fieldId"], amount);
    // Unknown fields, in both forms.
    let e = x
        .bad(
            &format!("filters={}", enc(r#"[{"fieldId":"nope","value":1}]"#)),
            "unknown_field",
            "filters[0].fieldId",
        )
        .await;
    assert_eq!(e["fieldId"], "nope");
    x.bad(
        &format!("filters={}", enc(r#"{"nope":1}"#)),
        "unknown_field",
        "filters.nope",
    )
    .await;
    // Malformed JSON and shapes.
    x.bad(
        &format!("filters={}", enc("[{")),
        "invalid_query",
        "filters",
    )
    .await;
    x.bad("filters=abc", "invalid_query", "filters").await;
    x.bad(
        &format!("filters={}", enc("[5]")),
        "invalid_query",
        "filters[0]",
    )
    .await;
    x.bad(
        &format!("filters[0][fieldId]={title}&filters[0"),
        "invalid_query",
        "filters[0",
    )
    .await;
    x.bad(
        &format!("filters=[]&filters[0][fieldId]={title}"),
        "invalid_query",
        "filters",
    )
    .await;
    // Values that do not fit the type.
    let bad = |v: Value| enc(&v.to_string());
    x.bad(
        &format!("filters={}", bad(json!({stage: ["1", "9"]}))),
        "invalid_query",
        &format!("filters.{stage}[1]"),
    )
    .await;
    x.bad(
        &format!("filters={}", bad(json!({due: {"at": "yesterday"}}))),
        "invalid_query",
        &format!("filters.{due}.at"),
    )
    .await;
    x.bad(
        &format!("filters={}", bad(json!({rating: [7]}))),
        "invalid_query",
        &format!("filters.{rating}[0]"),
    )
    .await;
    x.bad(
        &format!(
            "filters={}",
            bad(json!({"$or": [{client: [{"catalogId": x.deals, "recordId": "1"}]}]}))
        ),
        "invalid_query",
        &format!("filters.$or[0].{client}[0].catalogId"),
    )
    .await;
    x.bad(
        &format!("filters={}", bad(json!({x.f("Main"): "x"}))),
        "invalid_query",
        &format!("filters.{}", x.f("Main")),
    )
    .await;
    // Sort and projection errors.
    x.list("sortField=nope")
        .await
        .expect_error(400, "unknown_field", Some("nope"));
    x.list(&format!("sortField={}", x.f("Main")))
        .await
        .expect_error(400, "invalid_query", None);
    x.list(&format!("sortField={amount}&sortType=2"))
        .await
        .expect_error(400, "invalid_query", None);
    let nested = json!([{"fieldId": title, "fields": {x.clients.clone(): [x.f("C.Name")]}}]);
    x.list(&format!("fields={}", enc(&nested.to_string())))
        .await
        .expect_error(400, "invalid_query", None);
    let nested = json!([{"fieldId": client, "fields": {x.clients.clone(): ["nope"]}}]);
    x.list(&format!("fields={}", enc(&nested.to_string())))
        .await
        .expect_error(400, "unknown_field", None);
}

#[tokio::test]
async fn system_catalogs_by_text_and_legacy_ids() {
    let t = TestApp::start().await;
    let bob = t
        .record(
            "$users",
            json!({"$name": "Bob", "$email": "bob@example.com", "$password": "secret1"}),
        )
        .await;
    let titles = |r: &Resp| -> Vec<String> {
        r.json
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["title"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The text id and the legacy prevId of a system field name the same field.
    let r = t
        .get(&format!(
            "/api/v1/catalogs/$users/records?filters={}",
            enc(r#"{"$email": "BOB@"}"#)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(titles(&r), vec!["Bob".to_string()]);
    let r = t
        .get("/api/v1/catalogs/3/records?filters[0][fieldId]=2&filters[0][value]=bob@")
        .await;
    assert_eq!(titles(&r), vec!["Bob".to_string()]);
    assert_eq!(r.json[0]["id"], id(&bob).as_str());
    // Sorted by name, descending.
    let r = t
        .get("/api/v1/catalogs/$users/records?sortField=$name&sortType=-1")
        .await;
    let got = titles(&r);
    let mut sorted = got.clone();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.to_lowercase()));
    assert_eq!(got, sorted);
    assert!(got.len() >= 2);
}

/// A catalog of 1,200 records: more than the rows the SQLite probe reads in sort order and
/// more than the count cap, so both the probe, its fall-back and the capped total are used.
#[tokio::test]
async fn large_lists_page_exactly_and_cap_their_total() {
    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Many",
            json!([{"name": "N", "type": "number"}, {"name": "Stage", "type": "dropdown",
                    "config": {"items": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}]),
        )
        .await;
    let (cat, n, stage) = (id(&c), field_id(&c, "N"), field_id(&c, "Stage"));
    let items: Vec<String> = c["fields"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["name"] == "Stage"))
        .and_then(|f| f["config"]["items"].as_array())
        .map(|i| {
            i.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let total = 1200;
    for chunk in (0..total).collect::<Vec<i64>>().chunks(50) {
        let mut calls = Vec::new();
        for &i in chunk {
            let v = json!({n.clone(): i, stage.clone(): [items[(i % 3) as usize].clone()]});
            calls.push(t.record(&cat, v));
        }
        for f in calls {
            f.await;
        }
    }
    let list = |filters: Value, sort: &str, page: &str| {
        format!(
            "/api/v1/catalogs/{cat}/records?filters={}&sortField={n}&sortType={sort}&{page}",
            enc(&filters.to_string())
        )
    };
    let ns = |r: &Resp| -> Vec<i64> {
        r.json
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["values"][&n].as_i64()).collect())
            .unwrap_or_default()
    };
    let broad = json!([{"fieldId": n, "value": {"at": 100, "to": 1100}}, {"fieldId": stage, "value": [items[0]]}]);
    // Matches: multiples of 3 in [100, 1100].
    let all: Vec<i64> = (100..=1100).filter(|i| i % 3 == 0).collect();
    let r = t.get(&list(broad.clone(), "-1", "limit=5&offset=10")).await;
    r.expect(200);
    let want: Vec<i64> = all.iter().rev().skip(10).take(5).copied().collect();
    assert_eq!(ns(&r), want, "descending page");
    assert_eq!(r.headers["x-total-count"], all.len().to_string().as_str());
    let r = t.get(&list(broad.clone(), "1", "limit=5&offset=3")).await;
    let want: Vec<i64> = all.iter().skip(3).take(5).copied().collect();
    assert_eq!(ns(&r), want, "ascending page");
    // Selective: the probe finds too few and the planned query answers.
    let narrow = json!([{"fieldId": n, "value": {"at": 5, "to": 8}}]);
    let r = t.get(&list(narrow, "-1", "limit=2")).await;
    assert_eq!(ns(&r), vec![8, 7]);
    // Default order (newest first) with a filter.
    let r = t
        .get(&format!(
            "/api/v1/catalogs/{cat}/records?filters={}&limit=3",
            enc(&json!([{"fieldId": stage, "value": [items[1]]}]).to_string())
        ))
        .await;
    assert_eq!(ns(&r), vec![1198, 1195, 1192]);
    // The total stops counting past 1,000 unless asked to count all.
    let every = json!([{"fieldId": n, "value": {"at": 0}}]);
    let r = t.get(&list(every.clone(), "-1", "limit=10")).await;
    assert_eq!(r.expect(200).as_array().map(Vec::len), Some(10));
    assert!(r.headers.get("x-total-count").is_none());
    assert_eq!(r.headers["x-total-count-at-least"], "1001");
    let r = t.get(&list(every, "-1", "limit=10&total=exact")).await;
    assert_eq!(r.headers["x-total-count"], "1200");
}
