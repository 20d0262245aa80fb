//! One test per compile error: each names the offending element.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.

mod common;

use kartoteka_bpmn::{compile, CompileError, ErrorKind, NoCheck, SyntaxCheck};

/// A process around `body`, with the usual namespaces.
fn doc(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D">
  <bpmn:process id="P">{body}</bpmn:process>
</bpmn:definitions>"#
    )
}

fn err(body: &str) -> CompileError {
    compile(doc(body).as_bytes(), &NoCheck).expect_err("should not compile")
}

const START: &str =
    r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f0" sourceRef="S" targetRef="G" />"#;
const END: &str = r#"<bpmn:endEvent id="E1" /><bpmn:endEvent id="E2" />"#;

fn cond(id: &str, from: &str, to: &str, c: &str) -> String {
    format!(
        r#"<bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression"><![CDATA[{{"type":"script","value":"{c}"}}]]></bpmn:conditionExpression></bpmn:sequenceFlow>"#
    )
}

fn setvar(id: &str, target: &str, expr: &str) -> String {
    format!(
        r#"<bpmn:serviceTask id="{id}"><bpmn:extensionElements><camunda:connector><camunda:connectorId>setvar</camunda:connectorId></camunda:connector><camunda:inputOutput><camunda:outputParameter name="{target}" configName="vars"><camunda:script scriptFormat="JavaScript"><![CDATA[{{"type":"script","value":"{expr}"}}]]></camunda:script></camunda:outputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#
    )
}

#[test]
fn xor_diverging_flow_without_condition() {
    let e = err(&format!(
        r#"{START}<bpmn:exclusiveGateway id="G" default="f1" />{END}<bpmn:sequenceFlow id="f1" sourceRef="G" targetRef="E1" /><bpmn:sequenceFlow id="f2" sourceRef="G" targetRef="E2" />"#
    ));
    assert_eq!(
        e.to_string(),
        "bpmn:ExclusiveGateway G diverging flow (bpmn:SequenceFlow f2) has no condition"
    );
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Gateway, Some("G"))
    );
}

#[test]
fn xor_without_outgoing_flow() {
    let e = err(&format!(r#"{START}<bpmn:exclusiveGateway id="G" />"#));
    assert_eq!(
        e.to_string(),
        "bpmn:ExclusiveGateway G has no outgoing flow"
    );
}

#[test]
fn xor_single_flow_with_condition() {
    let e = err(&format!(
        r#"{START}<bpmn:exclusiveGateway id="G" />{END}{}"#,
        cond("f1", "G", "E1", "x > 1")
    ));
    assert_eq!(e.to_string(), "bpmn:ExclusiveGateway G has a single diverging flow (bpmn:SequenceFlow f1) with a condition");
}

#[test]
fn xor_with_default_and_conditions_compiles() {
    let ok = doc(&format!(
        r#"{START}<bpmn:exclusiveGateway id="G" default="f1" />{END}<bpmn:sequenceFlow id="f1" sourceRef="G" targetRef="E1" />{}"#,
        cond("f2", "G", "E2", "x > 1")
    ));
    compile(ok.as_bytes(), &NoCheck).unwrap();
}

#[test]
fn several_starts() {
    let e = err(r#"<bpmn:startEvent id="S1" /><bpmn:startEvent id="S2" />"#);
    assert_eq!(e.kind, ErrorKind::Graph);
    assert_eq!(e.element.as_deref(), Some("S2"));
    assert!(e.to_string().starts_with("bpmn:StartEvent S2:"), "{e}");
}

#[test]
fn no_start() {
    let e = err(r#"<bpmn:endEvent id="E" />"#);
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Graph, Some("P"))
    );
}

#[test]
fn dangling_edge() {
    let e = err(
        r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="Nowhere" />"#,
    );
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Graph, Some("f"))
    );
    assert!(
        e.to_string().contains("bpmn:SequenceFlow f") && e.to_string().contains("Nowhere"),
        "{e}"
    );
}

#[test]
fn edge_into_start() {
    let e = err(
        r#"<bpmn:startEvent id="S" /><bpmn:endEvent id="E" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="S" />"#,
    );
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Graph, Some("f"))
    );
}

#[test]
fn edge_out_of_end() {
    let e = err(
        r#"<bpmn:startEvent id="S" /><bpmn:endEvent id="E" /><bpmn:endEvent id="E2" /><bpmn:sequenceFlow id="f" sourceRef="E" targetRef="E2" />"#,
    );
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Graph, Some("f"))
    );
}

#[test]
fn boundary_on_a_gateway() {
    let e = err(&format!(
        r#"{START}<bpmn:parallelGateway id="G" /><bpmn:endEvent id="E" /><bpmn:sequenceFlow id="f1" sourceRef="G" targetRef="E" /><bpmn:boundaryEvent id="B" attachedToRef="G"><bpmn:errorEventDefinition /></bpmn:boundaryEvent><bpmn:sequenceFlow id="f2" sourceRef="B" targetRef="E" />"#
    ));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Boundary, Some("B"))
    );
    assert!(e.to_string().starts_with("bpmn:BoundaryEvent B:"), "{e}");
}

#[test]
fn boundary_without_outgoing_flow() {
    let e = err(&format!(
        r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f0" sourceRef="S" targetRef="T" />{}<bpmn:boundaryEvent id="B" attachedToRef="T"><bpmn:errorEventDefinition /></bpmn:boundaryEvent>"#,
        setvar("T", "x", "1")
    ));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Boundary, Some("B"))
    );
}

fn timer(d: &str) -> CompileError {
    err(&format!(
        r#"<bpmn:startEvent id="S" /><bpmn:intermediateCatchEvent id="T"><bpmn:timerEventDefinition><bpmn:timeDuration>{d}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="T" />"#
    ))
}

#[test]
fn bad_durations() {
    for d in ["PT", "5 minutes", "${x}", "", "P1S"] {
        let e = timer(d);
        assert_eq!(
            (e.kind, e.element.as_deref()),
            (ErrorKind::Timer, Some("T")),
            "{d}: {e}"
        );
        assert!(
            e.to_string().starts_with("bpmn:IntermediateCatchEvent T:"),
            "{e}"
        );
    }
}

#[test]
fn bad_output_paths() {
    for target in ["a..b", "a[", "a]", ".a", "a[]"] {
        let e = err(&format!(
            r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="T" />{}"#,
            setvar("T", target, "1")
        ));
        assert_eq!(
            (e.kind, e.element.as_deref()),
            (ErrorKind::OutputPath, Some("T")),
            "{target}: {e}"
        );
        assert!(e.to_string().contains(target), "{e}");
    }
}

/// Rejects any source containing `(`.
struct NoParens;

impl SyntaxCheck for NoParens {
    fn expression(&self, src: &str) -> Result<(), String> {
        if src.contains('(') {
            Err("unexpected `(`".into())
        } else {
            Ok(())
        }
    }
    fn function_body(&self, src: &str) -> Result<(), String> {
        self.expression(src)
    }
}

fn checked(body: &str) -> CompileError {
    compile(doc(body).as_bytes(), &NoParens).expect_err("should not compile")
}

#[test]
fn rejected_setvar_expression() {
    let e = checked(&format!(
        r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="T" />{}"#,
        setvar("T", "x", "f(1)")
    ));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Expression, Some("T"))
    );
    assert!(
        e.to_string().contains("bpmn:ServiceTask T") && e.to_string().contains("unexpected `(`"),
        "{e}"
    );
}

#[test]
fn rejected_path_segment() {
    let e = checked(&format!(
        r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="T" />{}"#,
        setvar("T", "rows[f(i)]", "1")
    ));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Expression, Some("T"))
    );
}

#[test]
fn rejected_condition() {
    let e = checked(&format!(
        r#"{START}<bpmn:exclusiveGateway id="G" default="f1" />{END}<bpmn:sequenceFlow id="f1" sourceRef="G" targetRef="E1" />{}"#,
        cond("f2", "G", "E2", "ok()")
    ));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Expression, Some("f2"))
    );
    assert!(e.to_string().starts_with("bpmn:SequenceFlow f2:"), "{e}");
}

fn task_with_input(connector: &str, name: &str, inner: &str) -> String {
    format!(
        r#"<bpmn:startEvent id="S" /><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="T" /><bpmn:serviceTask id="T"><bpmn:extensionElements><camunda:connector><camunda:connectorId>{connector}</camunda:connectorId></camunda:connector><camunda:inputOutput><camunda:inputParameter name="{name}">{inner}</camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#
    )
}

#[test]
fn rejected_input_and_pair_expressions() {
    let script = r#"<camunda:script scriptFormat="JavaScript"><![CDATA[{"type":"script","value":"a(1)"}]]></camunda:script>"#;
    let e = checked(&task_with_input("webRequest", "url", script));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Expression, Some("T"))
    );
    assert!(e.to_string().contains("`url`"), "{e}");
    let map =
        format!(r#"<camunda:map><camunda:entry key="k">{script}</camunda:entry></camunda:map>"#);
    let e = checked(&task_with_input("webRequest", "headers", &map));
    assert!(e.to_string().contains("headers.k"), "{e}");
    // Constants are literal text and are not checked.
    let konst = r#"<camunda:script scriptFormat="JavaScript"><![CDATA[{"type":"const","value":"a(1)"}]]></camunda:script>"#;
    compile(
        doc(&task_with_input("webRequest", "url", konst)).as_bytes(),
        &NoParens,
    )
    .unwrap();
}

#[test]
fn rejected_code_source() {
    let konst = r#"<camunda:script scriptFormat="JavaScript"><![CDATA[{"type":"const","value":"return f(1)"}]]></camunda:script>"#;
    let e = checked(&task_with_input("code", "source", konst));
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Expression, Some("T"))
    );
    assert!(e.to_string().contains("code"), "{e}");
}

#[test]
fn bad_envelope() {
    let bad = r#"<camunda:script scriptFormat="JavaScript">not json</camunda:script>"#;
    let e = compile(
        doc(&task_with_input("webRequest", "url", bad)).as_bytes(),
        &NoCheck,
    )
    .unwrap_err();
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Param, Some("T"))
    );
}

#[test]
fn unsupported_element() {
    let e = err(r#"<bpmn:startEvent id="S" /><bpmn:userTask id="U" />"#);
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Unsupported, Some("U"))
    );
}

#[test]
fn duplicate_id() {
    let e = err(r#"<bpmn:startEvent id="S" /><bpmn:endEvent id="S" />"#);
    assert_eq!(
        (e.kind, e.element.as_deref()),
        (ErrorKind::Graph, Some("S"))
    );
}

#[test]
fn not_well_formed() {
    for bad in [
        "",
        "<a>",
        "<a></b>",
        "not xml at all",
        "<a/><b/>",
        "<a>&nope;</a>",
    ] {
        let e = compile(bad.as_bytes(), &NoCheck).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotXml, "{bad:?}: {e}");
    }
    let e = compile(&[0xff, 0xfe, 0x00], &NoCheck).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotXml);
}

#[test]
fn no_process() {
    let e = compile(
        br#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" />"#,
        &NoCheck,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoProcess);
    // A process element in another namespace is not a BPMN process.
    let e = compile(
        br#"<x:definitions xmlns:x="urn:other"><x:process id="P" /></x:definitions>"#,
        &NoCheck,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NoProcess);
}

#[test]
fn incoming_and_outgoing_children_are_not_trusted() {
    // The <bpmn:outgoing> child names a flow that goes elsewhere; sourceRef/targetRef win.
    let ok = doc(
        r#"<bpmn:startEvent id="S"><bpmn:outgoing>nope</bpmn:outgoing></bpmn:startEvent><bpmn:endEvent id="E"><bpmn:incoming>other</bpmn:incoming></bpmn:endEvent><bpmn:sequenceFlow id="f" sourceRef="S" targetRef="E" />"#,
    );
    let ir = compile(ok.as_bytes(), &NoCheck).unwrap();
    assert_eq!(
        ir.outgoing("S").map(|e| e.to.as_str()).collect::<Vec<_>>(),
        ["E"]
    );
    common::assert_same_xml(&ok, &kartoteka_bpmn::export(&ir));
}

#[test]
fn default_namespace_files_compile() {
    let src = r#"<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"><process id="P"><startEvent id="S" /><serviceTask id="T" name="t"><extensionElements><camunda:connector><camunda:connectorId>setvar</camunda:connectorId></camunda:connector></extensionElements></serviceTask><sequenceFlow id="f" sourceRef="S" targetRef="T" /></process></definitions>"#;
    let mut ir = compile(src.as_bytes(), &NoCheck).unwrap();
    common::assert_same_xml(src, &kartoteka_bpmn::export(&ir));
    ir.nodes[1].doc = "new".into();
    let out = kartoteka_bpmn::export(&ir);
    assert!(out.contains("<documentation>new</documentation>"), "{out}");
}
