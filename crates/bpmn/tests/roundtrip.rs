//! Round trips: XML → IR → XML is the same XML; IR → XML → IR and IR → JSON → IR are the same
//! IR; edits to typed fields show in the export.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.

mod common;

use common::{assert_same_xml, fixture, sample_files};
use kartoteka_bpmn::{compile, export, Ir, NoCheck, NodeKind, Output, ParamValue};

fn round_trip(name: &str, src: &[u8]) {
    let ir = compile(src, &NoCheck).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = export(&ir);
    assert_same_xml(std::str::from_utf8(src).unwrap(), &out);
    let again =
        compile(out.as_bytes(), &NoCheck).unwrap_or_else(|e| panic!("{name} (exported): {e}"));
    assert_eq!(again, ir, "{name}: compile(export(ir)) != ir");
    let json = ir.to_json();
    let back = Ir::from_json(&json).unwrap();
    assert_eq!(back, ir, "{name}: JSON round trip");
    assert_eq!(back.to_json(), json, "{name}: JSON text is stable");
}

#[test]
fn samples_round_trip() {
    let files = sample_files();
    for (name, src) in &files {
        round_trip(name, src);
    }
}

#[test]
fn fixture_round_trips() {
    round_trip("all-kinds.bpmn", &fixture("all-kinds.bpmn"));
}

#[test]
fn fixture_compiles_to_the_expected_ir() {
    let ir = compile(&fixture("all-kinds.bpmn"), &NoCheck).unwrap();
    assert_eq!(ir.process_id, "Proc_1");
    let kinds: Vec<&str> = ir
        .nodes
        .iter()
        .map(|n| match n.kind {
            NodeKind::Start => "start",
            NodeKind::End => "end",
            NodeKind::Task(_) => "task",
            NodeKind::Xor { .. } => "xor",
            NodeKind::And => "and",
            NodeKind::Timer { .. } => "timer",
            NodeKind::Boundary(_) => "boundary",
            NodeKind::Annotation { .. } => "annotation",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "start",
            "task",
            "xor",
            "task",
            "boundary",
            "boundary",
            "and",
            "task",
            "task",
            "and",
            "task",
            "timer",
            "end",
            "end",
            "annotation"
        ]
    );
    let init = ir.node("Task_init").unwrap();
    assert_eq!(init.doc, "Первая строка\nвторая < строка & \"кавычки\"");
    let NodeKind::Task(t) = &init.kind else {
        panic!()
    };
    assert_eq!(t.connector, "setvar");
    assert_eq!(
        t.outputs[1],
        Output::Expr {
            target: "data.rows[i].values".into(),
            expr: "[]".into()
        }
    );
    let NodeKind::Task(find) = &ir.node("Task_find").unwrap().kind else {
        panic!()
    };
    assert_eq!(
        find.inputs.get("catalogFormat"),
        Some(&ParamValue::List(vec!["catalog".into()]))
    );
    assert_eq!(
        find.inputs.get("sortField"),
        Some(&ParamValue::Const("id".into()))
    );
    assert_eq!(find.inputs.get("values1"), Some(&ParamValue::List(vec![])));
    let Some(ParamValue::Pairs(p)) = find.inputs.get("filters") else {
        panic!()
    };
    assert_eq!(p[1].0, "${field}");
    assert_eq!(
        find.outputs[1],
        Output::Slot {
            target: "total".into(),
            slot: "outputCount".into()
        }
    );
    let NodeKind::Xor { default } = &ir.node("Gw_loop").unwrap().kind else {
        panic!()
    };
    assert_eq!(default.as_deref(), Some("Flow_exit"));
    let out: Vec<_> = ir.outgoing("Gw_loop").map(|e| e.id.as_str()).collect();
    assert_eq!(
        out,
        ["Flow_next", "Flow_exit"],
        "document order of edges, not of <outgoing>"
    );
    assert_eq!(
        ir.edge("Flow_next").unwrap().condition.as_deref(),
        Some("i < 3")
    );
    assert_eq!(
        ir.edge("Flow_c").unwrap().condition.as_deref(),
        Some("total > 0"),
        "kept off a gateway too"
    );
    let b: Vec<_> = ir
        .boundaries("Task_find")
        .map(|(n, _)| n.id.as_str())
        .collect();
    assert_eq!(b, ["Bnd_err"]);
    let (_, to) = ir.boundaries("Task_code").next().unwrap();
    assert_eq!(
        (to.duration.as_deref(), to.cancel_activity),
        (Some("PT30S"), false)
    );
    assert_eq!(ir.start().unwrap().id, "Start_1");
    assert_eq!(ir.incoming("End_err").count(), 2);
    assert_eq!(ir.layout.get("Task_init").unwrap().x, 322.2332268370607);
    let json: serde_json::Value = serde_json::from_str(&ir.to_json()).unwrap();
    assert_eq!(json["irVersion"], 1);
    assert_eq!(
        json["nodes"][3]["inputs"]["catalogId"],
        serde_json::json!({"t": "expr", "v": "74"})
    );
    assert_eq!(
        json["nodes"][3]["inputs"]["filters"]["v"][0],
        serde_json::json!(["2", {"t": "expr", "v": "[\"1\"]"}])
    );
    assert_eq!(json["nodes"][4]["trigger"], "error");
    assert_eq!(json["nodes"][4]["errorCodeVar"], "errCode");
}

#[test]
fn edits_to_typed_fields_show_in_the_export() {
    let mut ir = compile(&fixture("all-kinds.bpmn"), &NoCheck).unwrap();
    let find = ir.nodes.iter_mut().find(|n| n.id == "Task_find").unwrap();
    find.name = "Новое имя".into();
    find.doc = "now documented".into();
    let NodeKind::Task(t) = &mut find.kind else {
        panic!()
    };
    t.inputs.insert("catalogId", ParamValue::Expr("75".into()));
    t.inputs.insert("limit", ParamValue::Expr("10".into()));
    let init = ir.nodes.iter_mut().find(|n| n.id == "Task_init").unwrap();
    init.doc = "plain".into();
    let NodeKind::Task(t) = &mut init.kind else {
        panic!()
    };
    t.outputs[2] = Output::Expr {
        target: "data.temp.сотрудники".into(),
        expr: "[1]".into(),
    };
    ir.edges
        .iter_mut()
        .find(|e| e.id == "Flow_next")
        .unwrap()
        .condition = Some("i < 4".into());
    ir.edges.retain(|e| e.id != "Flow_c");
    ir.edges.push(kartoteka_bpmn::Edge {
        id: "Flow_new".into(),
        from: "Task_find".into(),
        to: "Gw_fork".into(),
        condition: None,
    });
    ir.layout.get_mut("Start_1").unwrap().x = 10.0;
    let out = export(&ir);
    let back = compile(out.as_bytes(), &NoCheck).unwrap();
    let find = back.node("Task_find").unwrap();
    assert_eq!(
        (find.name.as_str(), find.doc.as_str()),
        ("Новое имя", "now documented")
    );
    let NodeKind::Task(t) = &find.kind else {
        panic!()
    };
    assert_eq!(
        t.inputs.get("catalogId"),
        Some(&ParamValue::Expr("75".into()))
    );
    assert_eq!(t.inputs.0.last().unwrap().0, "limit");
    assert_eq!(back.node("Task_init").unwrap().doc, "plain");
    let NodeKind::Task(t) = &back.node("Task_init").unwrap().kind else {
        panic!()
    };
    assert_eq!(
        t.outputs[2],
        Output::Expr {
            target: "data.temp.сотрудники".into(),
            expr: "[1]".into()
        }
    );
    assert_eq!(
        back.edge("Flow_next").unwrap().condition.as_deref(),
        Some("i < 4")
    );
    assert!(back.edge("Flow_c").is_none());
    assert_eq!(
        back.outgoing("Task_find")
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["Flow_new"]
    );
    assert!(
        out.contains("<bpmn:outgoing>Flow_new</bpmn:outgoing>"),
        "{out}"
    );
    assert_eq!(back.layout.get("Start_1").unwrap().x, 10.0);
    assert_eq!(back.nodes, ir.nodes);
    assert_eq!(back.edges, ir.edges);
}

#[test]
fn an_ir_without_raw_exports_a_loadable_file() {
    let ir = compile(&fixture("all-kinds.bpmn"), &NoCheck).unwrap();
    let bare = Ir {
        raw: None,
        ..ir.clone()
    };
    let out = export(&bare);
    let back = compile(out.as_bytes(), &NoCheck).unwrap();
    assert_eq!(back.nodes, ir.nodes);
    assert_eq!(back.edges, ir.edges);
    assert_eq!(back.layout, ir.layout);
    // The synthesised file round-trips on its own.
    assert_same_xml(&out, &export(&back));
}
