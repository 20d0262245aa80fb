//! The patterns of spec 03 §11, each as a scenario run end to end.

use kartoteka_engine::{HttpResponse, Outcome, PortError};
use serde_json::{json, Value};

use crate::common::{failure, run, Bpmn, Fake, P};

/// §11.1: a condition with a default line.
#[tokio::test]
async fn condition() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("Set", "x", &[("x", "typeof x === 'undefined' ? 10 : x")])
        .xor("G", Some("B"))
        .setvar("A", "A", &[("branch", "'big'")])
        .setvar("B", "B", &[("branch", "'small'")])
        .end("E")
        .chain(&["S", "Set", "G"])
        .cond("G", "A", "x > 5")
        .flow("G", "B")
        .chain(&["A", "E"])
        .chain(&["B", "E"])
        .ir();
    let (_, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(state.vars["branch"], "big");
    let (_, state) = run(&ir, json!({"x": 3}), &Fake::new()).await;
    assert_eq!(state.vars["branch"], "small");
}

/// §11.2: a loop with a counter; the XOR gateway merges the back edge.
#[tokio::test]
async fn loop_with_counter() {
    let ir = Bpmn::new()
        .start("S")
        .setvar(
            "Init",
            "i = 0",
            &[("i", "0"), ("count", "5"), ("log", "[]")],
        )
        .xor("G", Some("E"))
        .task(
            "Action",
            "bpiumAdd",
            &[
                ("catalogId", P::E("'9'")),
                ("values1", P::M(&[("2", "'row ' + i")])),
            ],
            &[("log[i]", "output")],
        )
        .setvar("Inc", "i++", &[("i", "i + 1")])
        .end("E")
        .chain(&["S", "Init", "G"])
        .cond("G", "Action", "i < count")
        .chain(&["Action", "Inc", "G"])
        .flow("G", "E")
        .ir();
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["i"], 5);
    assert_eq!(
        state.vars["log"],
        json!(["1000", "1001", "1002", "1003", "1004"])
    );
    assert_eq!(fake.records("9")[4]["values"]["2"], "row 4");
}

/// §11.3: iterate found records page by page, throttled by a timer.
#[tokio::test]
async fn iterate_found_records_with_paging() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("Init", "params", &[("limit", "2"), ("offset", "0")])
        .task(
            "Find",
            "bpiumFindRecords",
            &[
                ("catalogId", P::E("74")),
                ("limit", P::E("limit")),
                ("offset", P::E("offset")),
            ],
            &[("records", "output"), ("total", "outputCount")],
        )
        .setvar("I0", "i = 0", &[("i", "0")])
        .xor("G1", Some("G2"))
        .task(
            "Edit",
            "bpiumEdit",
            &[
                ("catalogId", P::E("74")),
                ("recordId", P::E("records[i].id")),
                ("values1", P::M(&[("3", "records[i].values['3'] + 1")])),
            ],
            &[],
        )
        .setvar("Inc", "i++", &[("i", "i + 1")])
        .timer("T", "PT0.1S")
        .xor("G2", Some("E"))
        .setvar("Next", "next page", &[("offset", "offset + limit")])
        .end("E")
        .chain(&["S", "Init", "Find", "I0", "G1"])
        .cond("G1", "Edit", "i < records.length")
        .chain(&["Edit", "Inc", "T", "G1"])
        .flow("G1", "G2")
        .cond("G2", "Next", "offset + limit < total")
        .chain(&["Next", "Find"])
        .flow("G2", "E")
        .ir();
    let fake = Fake::new().with_records(
        "74",
        &[
            ("1", json!({"3": 10})),
            ("2", json!({"3": 20})),
            ("3", json!({"3": 30})),
            ("4", json!({"3": 40})),
            ("5", json!({"3": 50})),
        ],
    );
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let ages: Vec<Value> = fake
        .records("74")
        .iter()
        .map(|r| r["values"]["3"].clone())
        .collect();
    assert_eq!(
        ages,
        vec![json!(11), json!(21), json!(31), json!(41), json!(51)]
    );
    assert_eq!(fake.finds.lock().unwrap().len(), 3, "three pages");
    assert_eq!(state.vars["offset"], 4);
}

fn veto() -> kartoteka_bpmn::Ir {
    Bpmn::new()
        .start("S")
        .task(
            "Dups",
            "bpiumFindRecords",
            &[
                ("catalogId", P::E("74")),
                ("filters", P::M(&[("4", "values['4']")])),
            ],
            &[("found", "output")],
        )
        .xor("G", Some("E"))
        .setvar(
            "Veto",
            "veto",
            &[
                ("$status", "400"),
                (
                    "$body",
                    "{message: \"Запись с таким email уже существует\"}",
                ),
            ],
        )
        .end("E")
        .chain(&["S", "Dups", "G"])
        .cond("G", "Veto", "found.length > 0")
        .chain(&["Veto", "E"])
        .flow("G", "E")
        .ir()
}

/// §11.4: veto on save through `$status` and `$body`.
#[tokio::test]
async fn veto_on_save() {
    let fake = Fake::new().with_records("74", &[("1", json!({"4": "a@x.test"}))]);
    let (out, state) = run(&veto(), json!({"values": {"4": "a@x.test"}}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["$status"], 400);
    assert_eq!(
        state.vars["$body"]["message"],
        "Запись с таким email уже существует"
    );
    let (out, state) = run(&veto(), json!({"values": {"4": "b@x.test"}}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars.get("$status"), None, "allowed");
}

/// §11.5: live autofill through a web request and `$body.values`.
#[tokio::test]
async fn autofill_from_a_web_service() {
    let ir = Bpmn::new()
        .start("S")
        .xor("G", Some("Web"))
        .setvar("Bad", "bad", &[("$body", "{message: 'Некорректный ИНН'}")])
        .task(
            "Web",
            "webRequest",
            &[
                ("method", P::L("POST")),
                ("query", P::E("'https://suggest.test/party'")),
                ("headers", P::M(&[("Authorization", "'Token ' + token")])),
                ("format", P::L("body")),
                ("body", P::E("{ query: allValues['3'] }")),
            ],
            &[("resp", "output_body")],
        )
        .setvar(
            "Fill",
            "fill",
            &[("$body", "{values: {'2': resp.suggestions[0].value}}")],
        )
        .end("E")
        .flow("S", "G")
        .cond("G", "Bad", "!allValues['3'] || allValues['3'].length != 10")
        .flow("G", "Web")
        .chain(&["Bad", "E"])
        .chain(&["Web", "Fill", "E"])
        .ir();
    let fake = Fake::new().with_http(|req| {
        let body: Value = serde_json::from_slice(req.body.as_ref().unwrap()).unwrap();
        Ok(HttpResponse {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json!({"suggestions": [{"value": format!("ООО по ИНН {}", body["query"].as_str().unwrap())}]})
                .to_string()
                .into_bytes(),
        })
    });
    let (_, state) = run(
        &ir,
        json!({"token": "k", "allValues": {"3": "7707083893"}}),
        &fake,
    )
    .await;
    assert_eq!(
        state.vars["$body"],
        json!({"values": {"2": "ООО по ИНН 7707083893"}})
    );
    let (_, state) = run(&ir, json!({"token": "k", "allValues": {"3": "1"}}), &fake).await;
    assert_eq!(state.vars["$body"]["message"], "Некорректный ИНН");
}

fn endpoint() -> kartoteka_bpmn::Ir {
    Bpmn::new()
        .start("S")
        .xor("G", Some("Params"))
        .end("Ping")
        .setvar("Params", "УКАЖИТЕ ID КАТАЛОГА", &[("catalogId", "'48'")])
        .task(
            "Struct",
            "bpiumGetCatalog",
            &[("catalogFormat", P::L("var")), ("catalogIdFromVar", P::E("catalogId"))],
            &[("catalogStruct", "output")],
        )
        .task(
            "Map",
            "code",
            &[
                ("variables", P::M(&[("body", "body"), ("catalogStruct", "catalogStruct")])),
                (
                    "source",
                    P::C("let v = {}; for (let k in body) { const f = catalogStruct.fields[k]; if (f) v[f.id] = body[k] } return v"),
                ),
            ],
            &[("result", "output")],
        )
        .task(
            "Create",
            "bpiumAdd",
            &[
                ("catalogFormat", P::L("var")),
                ("catalogIdFromVar", P::E("catalogId")),
                ("format", P::L("json")),
                ("values2", P::E("result")),
            ],
            &[("newId", "output")],
        )
        .error_boundary("CreateErr", "Create", "errCode", "errMsg")
        .setvar("Fail", "Фиксируем ошибку", &[("err0r", "err0r")])
        .setvar(
            "Reply",
            "reply",
            &[
                ("$status", "200"),
                ("$headers", "{'Access-Control-Allow-Origin': '*'}"),
                ("$body", "{ok: true, id: newId}"),
            ],
        )
        .end("E")
        .flow("S", "G")
        .cond("G", "Ping", "body.test === 'test'")
        .flow("G", "Params")
        .chain(&["Params", "Struct", "Map", "Create", "Reply", "E"])
        .chain(&["CreateErr", "Fail", "E"])
        .ir()
}

/// §11.6: an HTTP endpoint answering `$status`, `$headers`, `$body`, with a deliberate failure
/// on the error branch.
#[tokio::test]
async fn http_endpoint() {
    let fake = Fake::new();
    fake.catalogs.lock().unwrap().insert(
        "48".into(),
        json!({"id": "48", "fields": [{"id": "name", "type": "text"}, {"id": "bad", "type": "text"}]}),
    );
    let (out, state) = run(&endpoint(), json!({"body": {"test": "test"}}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert!(
        fake.records("48").is_empty(),
        "Tilda's test ping creates nothing"
    );
    let (out, state2) = run(
        &endpoint(),
        json!({"body": {"name": "Пётр", "formid": "f1"}}),
        &fake,
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state2.vars["$status"], 200);
    assert_eq!(
        state2.vars["$headers"],
        json!({"Access-Control-Allow-Origin": "*"})
    );
    assert_eq!(state2.vars["$body"], json!({"ok": true, "id": "1000"}));
    assert_eq!(fake.records("48")[0]["values"], json!({"name": "Пётр"}));
    assert_eq!(state.vars.get("$status"), None);
    // A refused write goes to the error branch, which fails the process on purpose.
    let (out, state) = run(&endpoint(), json!({"body": {"bad": "x"}}), &fake).await;
    let f = failure(&out);
    assert_eq!(f.code, "EXPRESSION");
    assert_eq!(f.component.as_deref(), Some("Фиксируем ошибку"));
    assert_eq!(state.vars["errCode"], "VALIDATION");
}

/// §11.7: an error branch logs the failure and the process completes.
#[tokio::test]
async fn error_handling_and_status_logging() {
    let ir = Bpmn::new()
        .start("S")
        .task(
            "Send",
            "webRequest",
            &[("query", P::E("'https://mail.test/send'"))],
            &[],
        )
        .error_boundary("Err", "Send", "errCode", "errMsg")
        .task(
            "Ok",
            "bpiumEdit",
            &[
                ("catalogId", P::E("74")),
                ("recordId", P::E("recordId")),
                ("values1", P::M(&[("5", "['ok']")])),
            ],
            &[],
        )
        .task(
            "Log",
            "bpiumEdit",
            &[
                ("catalogId", P::E("74")),
                ("recordId", P::E("recordId")),
                ("values1", P::M(&[("5", "['err']"), ("6", "errMsg")])),
            ],
            &[],
        )
        .end("E")
        .chain(&["S", "Send", "Ok", "E"])
        .chain(&["Err", "Log", "E"])
        .ir();
    let fake = Fake::new()
        .with_records("74", &[("1", json!({}))])
        .with_http(|_| Err(PortError::http("smtp relay unreachable")));
    let (out, _) = run(&ir, json!({"recordId": 1}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        fake.records("74")[0]["values"],
        json!({"5": ["err"], "6": "smtp relay unreachable"})
    );
}

/// §11.8: a parameter block that merges the event's values with lodash.
#[tokio::test]
async fn parameter_block() {
    let ir = Bpmn::new()
        .start("S")
        .setvar(
            "P",
            "NEED TO CHANGE",
            &[
                ("allValues", "_.assign({}, allValues, values)"),
                ("catalog", "'74'"),
            ],
        )
        .end("E")
        .chain(&["S", "P", "E"])
        .ir();
    let (_, state) = run(
        &ir,
        json!({"allValues": {"2": "old", "3": 1}, "values": {"2": "new"}}),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["allValues"], json!({"2": "new", "3": 1}));
}
