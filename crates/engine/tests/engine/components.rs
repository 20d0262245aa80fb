//! Each component against the fake ports.

use kartoteka_engine::{HttpResponse, Outcome, PortError};
use serde_json::{json, Value};

use crate::common::{failure, run, Bpmn, Fake, P};

/// Start → one task → End.
fn one(connector: &str, inputs: &[(&str, P)], outputs: &[(&str, &str)]) -> kartoteka_bpmn::Ir {
    Bpmn::new()
        .start("S")
        .task("T", connector, inputs, outputs)
        .end("E")
        .chain(&["S", "T", "E"])
        .ir()
}

fn people() -> Fake {
    Fake::new().with_records(
        "74",
        &[
            ("1", json!({"2": "Anna", "3": 30})),
            ("2", json!({"2": "Boris", "3": 40})),
            ("3", json!({"2": "Anton", "3": 50})),
        ],
    )
}

#[tokio::test]
async fn code_sees_only_its_inputs_as_copies_and_returns_output() {
    let ir = one(
        "code",
        &[
            ("variables", P::M(&[("list", "items"), ("k", "factor * 2")])),
            (
                "source",
                P::C("list.push(99); return { total: _.sum(list) * k, secret: typeof secret }"),
            ),
        ],
        &[("result.value", "output")],
    );
    let (out, state) = run(
        &ir,
        json!({"items": [1, 2], "factor": 1, "secret": "s"}),
        &Fake::new(),
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        state.vars["result"],
        json!({"value": {"total": 204, "secret": "undefined"}})
    );
    assert_eq!(state.vars["items"], json!([1, 2]), "inputs are copies");
}

#[tokio::test]
async fn code_returning_undefined_deletes_the_output() {
    let ir = one(
        "code",
        &[("source", P::C("return undefined"))],
        &[("r", "output")],
    );
    let (out, state) = run(&ir, json!({"r": 1}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars.get("r"), None);
}

#[tokio::test]
async fn code_throwing_is_an_expression_error() {
    let ir = one("code", &[("source", P::C("throw new Error('boom')"))], &[]);
    let (out, _) = run(&ir, json!({}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.code, "EXPRESSION");
    assert!(f.message.contains("boom"));
}

#[tokio::test]
async fn web_request_get_spreads_the_response_over_the_slots() {
    let fake = Fake::new().with_http(|req| {
        assert_eq!(req.method, "GET");
        assert_eq!(req.url, "https://api.test/items?q=1");
        assert_eq!(req.body, None);
        assert!(req.headers.contains(&("X-Token".into(), "t-42".into())));
        Ok(HttpResponse {
            status: 404,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                (
                    "Set-Cookie".into(),
                    "sessionId=abc; Path=/; HttpOnly".into(),
                ),
                ("X-Multi".into(), "a".into()),
                ("X-Multi".into(), "b".into()),
            ],
            body: br#"{"items":[1,2]}"#.to_vec(),
        })
    });
    let ir = one(
        "webRequest",
        &[
            ("method", P::L("GET")),
            ("query", P::E("base + '/items?q=1'")),
            ("headers", P::M(&[("X-Token", "'t-' + 42")])),
            ("output_format", P::L("text")),
        ],
        &[
            ("code", "output_code"),
            ("h", "output_headers"),
            ("body", "output_body"),
        ],
    );
    let (out, state) = run(&ir, json!({"base": "https://api.test"}), &fake).await;
    assert_eq!(out, Outcome::Done, "a 404 is not an error");
    assert_eq!(state.vars["code"], 404);
    assert_eq!(state.vars["body"], json!({"items": [1, 2]}));
    assert_eq!(state.vars["h"]["x-multi"], "a, b");
    assert_eq!(state.vars["h"]["cookies"]["sessionId"]["value"], "abc");
    assert_eq!(state.vars["h"]["cookies"]["sessionId"]["httponly"], true);
}

#[tokio::test]
async fn web_request_post_sends_json_body_and_form_params() {
    let fake = Fake::new().with_http(|_| {
        Ok(HttpResponse {
            status: 201,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: b"created".to_vec(),
        })
    });
    let json_post = one(
        "webRequest",
        &[
            ("method", P::L("POST")),
            ("query", P::E("'https://x.test/'")),
            ("format", P::L("body")),
            ("body", P::E("{ name: n, tags: ['a'] }")),
            ("type", P::L("application/json")),
            ("auth", P::L("basic")),
            ("login", P::E("'user'")),
            ("password", P::E("'pass'")),
        ],
        &[("body", "output_body")],
    );
    let (out, state) = run(&json_post, json!({"n": "Пётр"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["body"], "created");
    let form_post = one(
        "webRequest",
        &[
            ("method", P::L("PUT")),
            ("query", P::E("'https://x.test/form'")),
            ("format", P::L("keyvalue")),
            (
                "params",
                P::M(&[("a b", "'1&2'"), ("n", "5"), ("skip", "undefined")]),
            ),
            // A stale body expression in the unselected mode is never evaluated.
            ("body", P::E("notDefinedAnywhere")),
        ],
        &[],
    );
    let (out, _) = run(&form_post, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let reqs = fake.requests.lock().unwrap();
    let body: Value = serde_json::from_slice(reqs[0].body.as_ref().unwrap()).unwrap();
    assert_eq!(body, json!({"name": "Пётр", "tags": ["a"]}));
    assert!(reqs[0]
        .headers
        .contains(&("Content-Type".into(), "application/json".into())));
    assert!(reqs[0]
        .headers
        .contains(&("Authorization".into(), "Basic dXNlcjpwYXNz".into())));
    assert_eq!(reqs[1].method, "PUT");
    assert_eq!(reqs[1].body.as_deref(), Some(&b"a+b=1%262&n=5"[..]));
    assert!(reqs[1].headers.contains(&(
        "Content-Type".into(),
        "application/x-www-form-urlencoded".into()
    )));
}

#[tokio::test]
async fn web_request_transport_failure_is_http() {
    let fake = Fake::new().with_http(|_| Err(PortError::http("connection refused")));
    let ir = one("webRequest", &[("query", P::E("'http://down.test'"))], &[]);
    let (out, _) = run(&ir, json!({}), &fake).await;
    let f = failure(&out);
    assert_eq!(f.code, "HTTP");
    assert_eq!(f.message, "connection refused");
    // Without a URL the component cannot run.
    let ir = one("webRequest", &[("query", P::E(""))], &[]);
    let (out, _) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
}

#[tokio::test]
async fn get_record_by_catalog_or_variable() {
    let ir = one(
        "bpiumGetRecord",
        &[
            ("catalogFormat", P::L("var")),
            ("catalogId", P::E("")),
            ("catalogIdFromVar", P::E("cat")),
            ("recordId", P::E("ids[1]")),
            ("fieldsFormat", P::L("specified")),
            ("fieldsSpecified", P::E("[2, {fieldId: 9}]")),
        ],
        &[("rec", "output")],
    );
    let (out, state) = run(&ir, json!({"cat": 74, "ids": [1, 2]}), &people()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["rec"]["id"], "2");
    assert_eq!(state.vars["rec"]["values"], json!({"2": "Boris"}));
}

#[tokio::test]
async fn find_records_with_pairs_paging_and_count() {
    let ir = one(
        "bpiumFindRecords",
        &[
            ("catalogFormat", P::L("catalog")),
            ("catalogId", P::E("74")),
            ("viewId", P::E("0")),
            ("filtersFormat", P::L("keyvalue")),
            ("filters", P::M(&[("${nameField}", "'An'")])),
            ("filtersJson", P::E("stale.expression")),
            ("sortField", P::C("id")),
            ("sortType", P::L("-1")),
            ("fieldsFormat", P::L("all")),
            ("limit", P::E("5000")),
            ("offset", P::E("1")),
        ],
        &[("found", "output"), ("total", "outputCount")],
    );
    let fake = people();
    let (out, state) = run(&ir, json!({"nameField": "2"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["total"], 2);
    assert_eq!(state.vars["found"].as_array().unwrap().len(), 1);
    assert_eq!(state.vars["found"][0]["values"]["2"], "Anton");
    let q = &fake.finds.lock().unwrap()[0];
    assert_eq!(q.limit, 1000, "clamped to find_limit_max");
    assert_eq!(q.offset, 1);
    assert_eq!(q.view_id, None);
    assert_eq!(q.sort_field.as_deref(), Some("id"));
    assert_eq!(q.sort_type, Some(-1));
    assert_eq!(q.filters, Some(json!({"2": "An"})));
    assert_eq!(q.fields, None);
}

#[tokio::test]
async fn find_records_with_json_filters_and_defaults() {
    let ir = one(
        "bpiumFindRecords",
        &[
            ("catalogId", P::C("74")),
            ("filtersFormat", P::L("json")),
            ("filtersJson", P::E("{ '3': 40 }")),
            ("fieldsFormat", P::L("specified")),
            ("fieldsSpecified", P::E("['2']")),
        ],
        &[("found", "output"), ("total", "outputCount")],
    );
    let fake = people();
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["total"], 1);
    let q = &fake.finds.lock().unwrap()[0];
    assert_eq!(q.limit, 100);
    assert_eq!(q.offset, 0);
    assert_eq!(q.fields, Some(vec!["2".to_owned()]));
}

#[tokio::test]
async fn edit_record_with_pairs_and_json() {
    let pairs = one(
        "bpiumEdit",
        &[
            ("catalogId", P::E("'74'")),
            ("recordId", P::E("1")),
            ("format", P::L("keyvalue")),
            ("values1", P::M(&[("${f}", "n + 1"), ("2", "'Anna K.'")])),
        ],
        &[("edited", "output")],
    );
    let fake = people();
    let (out, state) = run(&pairs, json!({"f": "3", "n": 30}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        state.vars["edited"]["values"],
        json!({"2": "Anna K.", "3": 31})
    );
    let json_form = one(
        "bpiumEdit",
        &[
            ("catalogId", P::E("74")),
            ("recordId", P::E("'2'")),
            ("format", P::L("json")),
            ("values2", P::E("{ 3: 41 }")),
        ],
        &[],
    );
    let (out, _) = run(&json_form, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(fake.records("74")[1]["values"]["3"], 41);
    // A missing record is NOT_FOUND; a missing id is EXPRESSION.
    let missing = one(
        "bpiumEdit",
        &[
            ("catalogId", P::E("74")),
            ("recordId", P::E("77")),
            ("values1", P::M(&[])),
        ],
        &[],
    );
    let (out, _) = run(&missing, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "NOT_FOUND");
    let no_id = one("bpiumEdit", &[("catalogId", P::E("74"))], &[]);
    let (out, _) = run(&no_id, json!({}), &fake).await;
    assert_eq!(failure(&out).message, "recordId is required");
}

#[tokio::test]
async fn add_record_outputs_the_new_id_and_validation_errors_pass_through() {
    let ir = one(
        "bpiumAdd",
        &[
            ("catalogFormat", P::L("catalog")),
            ("catalogId", P::E("109")),
            ("format", P::L("keyvalue")),
            (
                "values1",
                P::M(&[
                    ("2", "'Name'"),
                    ("6", "[{ contact: '+7 900', comment: '' }]"),
                ]),
            ),
            ("values2", P::E("")),
        ],
        &[("newId", "output")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["newId"], "1000");
    assert_eq!(fake.records("109")[0]["values"]["2"], "Name");
    let bad = one(
        "bpiumAdd",
        &[
            ("catalogId", P::E("109")),
            ("format", P::L("json")),
            ("values2", P::E("{ bad: 1 }")),
        ],
        &[],
    );
    let (out, _) = run(&bad, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "VALIDATION");
    let not_object = one(
        "bpiumAdd",
        &[
            ("catalogId", P::E("109")),
            ("format", P::L("json")),
            ("values2", P::E("[1]")),
        ],
        &[],
    );
    let (out, _) = run(&not_object, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
}

#[tokio::test]
async fn delete_record() {
    let ir = one(
        "bpiumDelete",
        &[("catalogId", P::E("74")), ("recordId", P::E("2"))],
        &[],
    );
    let fake = people();
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(fake.records("74").len(), 2);
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "NOT_FOUND");
}

#[tokio::test]
async fn get_catalog_keys_fields_and_items_by_id() {
    let fake = Fake::new();
    fake.catalogs.lock().unwrap().insert(
        "100".into(),
        json!({"id": "100", "name": "Заявки", "fields": [
            {"id": "2", "name": "Название", "type": "text", "config": {}},
            {"id": "3", "name": "Статус", "type": "dropdown",
             "config": {"items": [{"id": "1", "name": "новая"}, {"id": "2", "name": "в работе"}]}}
        ]}),
    );
    let ir = one(
        "bpiumGetCatalog",
        &[
            ("catalogFormat", P::L("var")),
            ("catalogIdFromVar", P::E("catalogId")),
        ],
        &[("catalogStruct", "output")],
    );
    let (out, state) = run(&ir, json!({"catalogId": "100"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let s = &state.vars["catalogStruct"];
    assert_eq!(s["name"], "Заявки");
    assert_eq!(s["fields"]["3"]["orderIndex"], 2);
    assert_eq!(s["fields"]["3"]["config"]["items"]["2"]["name"], "в работе");
    assert_eq!(s["fields"]["3"]["config"]["items"]["2"]["orderIndex"], 2);
}

#[tokio::test]
async fn send_message_posts_to_the_record_chat() {
    let ir = one(
        "sendMessage",
        &[
            ("catalogId", P::E("74")),
            ("recordId", P::E("3")),
            ("text", P::E("`Привет, <@$users:7;Anton/@>! ${n}`")),
        ],
        &[("msgId", "output")],
    );
    let fake = people();
    let (out, state) = run(&ir, json!({"n": 5}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["msgId"], "m1");
    assert_eq!(
        fake.messages.lock().unwrap()[0],
        (
            "74".into(),
            "3".into(),
            "Привет, <@$users:7;Anton/@>! 5".into()
        )
    );
}

#[tokio::test]
async fn output_slot_paths_with_expressions() {
    let ir = one(
        "bpiumGetRecord",
        &[("catalogId", P::E("74")), ("recordId", P::E("1"))],
        &[("data.rows[i].record", "output"), ("", "output")],
    );
    let (out, state) = run(
        &ir,
        json!({"i": 1, "data": {"rows": [{"keep": 1}]}}),
        &people(),
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["data"]["rows"][0], json!({"keep": 1}));
    assert_eq!(state.vars["data"]["rows"][1]["record"]["id"], "1");
}

#[tokio::test]
async fn web_request_oauth2_sends_the_services_token_refreshing_it_when_expired() {
    let codes = json!({
        "access_token": "old", "refresh_token": "r1", "expires_at": 1000,
        "token_uri": "https://oauth.test/token", "client_id": "cid", "scope": "calendar",
    });
    let fake = Fake::new()
        .with_records(
            "$authServices",
            &[
                (
                    "2",
                    json!({"$name": "Google Calendar", "$tokens": "{\"access_token\": \"other\"}"}),
                ),
                (
                    "3",
                    json!({"$name": "Google", "$tokens": codes.to_string()}),
                ),
            ],
        )
        .with_http(|req| {
            let body = if req.url == "https://oauth.test/token" {
                br#"{"access_token": "new", "expires_in": 3600, "token_type": "Bearer"}"#.to_vec()
            } else {
                b"ok".to_vec()
            };
            Ok(HttpResponse {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body,
            })
        });
    let call = |service: &str| {
        one(
            "webRequest",
            &[
                ("query", P::E("'https://api.test/events'")),
                ("auth", P::L("oauth2")),
                ("token", P::E(service)),
            ],
            &[],
        )
    };
    let (out, _) = run(&call("'Google'"), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let (out, _) = run(&call("'3'"), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let reqs = fake.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 3, "one refresh, then two calls: {reqs:?}");
    assert_eq!(reqs[0].url, "https://oauth.test/token");
    assert_eq!(
        reqs[0].body.as_deref(),
        Some(&b"grant_type=refresh_token&refresh_token=r1&client_id=cid"[..])
    );
    for r in &reqs[1..] {
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Bearer new".into())),
            "{r:?}"
        );
    }
    let stored = fake.records("$authServices")[1]["values"]["$tokens"].clone();
    let stored: Value = serde_json::from_str(stored.as_str().unwrap()).unwrap();
    assert_eq!(stored["access_token"], "new");
    assert_eq!(stored["refresh_token"], "r1");
    assert_eq!(stored["scope"], "calendar");
    assert!(stored["expires_at"].as_i64().unwrap() > 1_700_000_000);

    let missing = run(&call("'Yandex'"), json!({}), &fake).await.0;
    assert_eq!(failure(&missing).code, "NOT_FOUND");
}
