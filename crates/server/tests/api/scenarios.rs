//! Scenarios in (issue 9, step 1): a `$scripts` record's `$file` takes a BPMN file uploaded
//! through the files API; every write compiles it, a file that does not compile is refused
//! with `invalid_scenario` naming the element and nothing is written, and the download gives
//! back the uploaded bytes unchanged.

use serde_json::{json, Value};

use crate::files::{fetch, upload};
use crate::support::{id, TestApp};

const BPMN: &str = "application/bpmn+xml";

fn samples() -> Option<Vec<(String, Vec<u8>)>> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/bpmn-samples"
    );
    let Ok(entries) = std::fs::read_dir(dir) else {
        println!("skipped: no samples at {dir}");
        return None;
    };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bpmn"))
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            Some((name, std::fs::read(&p).ok()?))
        })
        .collect();
    out.sort();
    Some(out)
}

/// A minimal scenario: start → one task → end; `task` is the task element's XML.
fn scenario(task: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="Process_1" isExecutable="false">
    <bpmn:startEvent id="StartEvent_1"><bpmn:outgoing>Flow_1</bpmn:outgoing></bpmn:startEvent>
    {task}
    <bpmn:endEvent id="EndEvent_1"><bpmn:incoming>Flow_2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_1" targetRef="Task_1"/>
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Task_1" targetRef="EndEvent_1"/>
  </bpmn:process>
</bpmn:definitions>"#
    )
    .into_bytes()
}

fn setvar(expr: &str) -> String {
    format!(
        r#"<bpmn:serviceTask id="Task_1" name="set x">
      <bpmn:extensionElements>
        <camunda:connector><camunda:connectorId>setvar</camunda:connectorId></camunda:connector>
        <camunda:inputOutput>
          <camunda:outputParameter name="x" configName="vars"><camunda:script scriptFormat="JavaScript"><![CDATA[{{"type":"script","value":{}}}]]></camunda:script></camunda:outputParameter>
        </camunda:inputOutput>
      </bpmn:extensionElements>
    </bpmn:serviceTask>"#,
        Value::String(expr.into())
    )
}

async fn scripts_count(t: &TestApp) -> usize {
    t.get("/api/v1/catalogs/$scripts/records")
        .await
        .expect(200)
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
}

#[tokio::test]
async fn scenario_files_compile_on_every_write() {
    let t = TestApp::start().await;

    // The real samples: accepted, and downloaded byte for byte as uploaded.
    if let Some(samples) = samples() {
        assert!(!samples.is_empty(), "no .bpmn samples found");
        for (name, bytes) in &samples {
            let f = upload(&t, "$scripts", "$file", name, BPMN, bytes).await;
            let fid = f["id"].as_i64().expect("file id").to_string();
            let r = t
                .post(
                    "/api/v1/catalogs/$scripts/records",
                    json!({"values": {"$name": name, "$file": [{"id": fid}]}}),
                )
                .await;
            let r = r.expect(200).clone();
            let url = r["values"]["$file"][0]["url"]
                .as_str()
                .expect("file url")
                .to_string();
            let (status, _, got) = fetch(&url).await;
            assert_eq!(status, 200, "{name}");
            assert_eq!(&got, bytes, "{name}: the download differs from the upload");
        }
    }
    let before = scripts_count(&t).await;

    // Bad files: refused, naming what is wrong, and nothing written.
    let xor_without_condition = br#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D">
  <bpmn:process id="P">
    <bpmn:startEvent id="S"/>
    <bpmn:exclusiveGateway id="G" default="F2"/>
    <bpmn:endEvent id="E1"/><bpmn:endEvent id="E2"/><bpmn:endEvent id="E3"/>
    <bpmn:sequenceFlow id="F0" sourceRef="S" targetRef="G"/>
    <bpmn:sequenceFlow id="F1" sourceRef="G" targetRef="E1"/>
    <bpmn:sequenceFlow id="F3" sourceRef="G" targetRef="E3"/>
    <bpmn:sequenceFlow id="F2" sourceRef="G" targetRef="E2"/>
  </bpmn:process>
</bpmn:definitions>"#
        .to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("not XML", b"<bpmn:definitions".to_vec(), ""),
        (
            "no process",
            br#"<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"/>"#.to_vec(),
            "process",
        ),
        (
            "XOR line without a condition",
            xor_without_condition,
            "bpmn:ExclusiveGateway G diverging flow (bpmn:SequenceFlow F1) has no condition",
        ),
        ("expression that does not parse", scenario(&setvar("1 +")), "Task_1"),
        (
            "bad timer duration",
            scenario(
                r#"<bpmn:intermediateCatchEvent id="Task_1"><bpmn:timerEventDefinition id="T"><bpmn:timeDuration>five minutes</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#,
            ),
            "Task_1",
        ),
    ];
    for (what, bytes, names) in cases {
        let f = upload(&t, "$scripts", "$file", "bad.bpmn", BPMN, &bytes).await;
        let fid = f["id"].as_i64().expect("file id").to_string();
        let r = t
            .post(
                "/api/v1/catalogs/$scripts/records",
                json!({"values": {"$name": what, "$file": [{"id": fid}]}}),
            )
            .await;
        r.expect_error(400, "invalid_scenario", Some("$file"));
        let message = r.json["message"].as_str().unwrap_or_default().to_string();
        assert!(message.contains(names), "{what}: {message}");
    }
    assert_eq!(
        scripts_count(&t).await,
        before,
        "a refused scenario was written"
    );

    // A good file, then a PATCH that replaces it with a bad one: refused, the good one stays.
    let good = upload(
        &t,
        "$scripts",
        "$file",
        "good.bpmn",
        BPMN,
        &scenario(&setvar("[1, 2].length")),
    )
    .await;
    let good_id = good["id"].as_i64().expect("file id").to_string();
    let rec = t
        .post(
            "/api/v1/catalogs/$scripts/records",
            json!({"values": {"$name": "good", "$file": [{"id": good_id}]}}),
        )
        .await
        .expect(200)
        .clone();
    let bad = upload(
        &t,
        "$scripts",
        "$file",
        "bad.bpmn",
        BPMN,
        &scenario(&setvar("x ===")),
    )
    .await;
    let bad_id = bad["id"].as_i64().expect("file id").to_string();
    let path = format!("/api/v1/catalogs/$scripts/records/{}", id(&rec));
    t.patch(&path, json!({"values": {"$file": [{"id": bad_id}]}}))
        .await
        .expect_error(400, "invalid_scenario", Some("$file"));
    let now = t.get(&path).await.expect(200).clone();
    assert_eq!(now["values"]["$file"][0]["id"], json!(good_id), "{now}");

    // An unknown component is kept: it fails only when run.
    let unknown = scenario(
        r#"<bpmn:serviceTask id="Task_1" name="?"><bpmn:extensionElements><camunda:connector><camunda:connectorId>someFutureThing</camunda:connectorId></camunda:connector></bpmn:extensionElements></bpmn:serviceTask>"#,
    );
    let f = upload(&t, "$scripts", "$file", "future.bpmn", BPMN, &unknown).await;
    let fid = f["id"].as_i64().expect("file id").to_string();
    t.post(
        "/api/v1/catalogs/$scripts/records",
        json!({"values": {"$name": "future", "$file": [{"id": fid}]}}),
    )
    .await
    .expect(200);
}
