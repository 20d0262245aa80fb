//! Compile-time checks of an IR (spec 03 §10.1): graph shape, gateway and boundary rules,
//! expression syntax, timer durations and output paths.

use crate::duration::parse_duration;
use crate::error::{CompileError, ErrorKind};
use crate::ir::{Ir, Node, NodeKind, Output, ParamValue};
use crate::path::{parse_target, Segment};
use crate::SyntaxCheck;

/// The moddle type name of a node kind, as used in messages.
pub(crate) fn type_name(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Start => "StartEvent",
        NodeKind::End => "EndEvent",
        NodeKind::Task(_) => "ServiceTask",
        NodeKind::Xor { .. } => "ExclusiveGateway",
        NodeKind::And => "ParallelGateway",
        NodeKind::Timer { .. } => "IntermediateCatchEvent",
        NodeKind::Boundary(_) => "BoundaryEvent",
        NodeKind::Annotation { .. } => "TextAnnotation",
    }
}

fn err(kind: ErrorKind, node: &Node, what: impl std::fmt::Display) -> CompileError {
    CompileError::at(kind, type_name(&node.kind), &node.id, what)
}

/// Checks an IR; the first problem found is returned. [`crate::compile`] runs this; call it
/// directly for an IR that was authored as JSON.
pub fn validate(ir: &Ir, check: &dyn SyntaxCheck) -> Result<(), CompileError> {
    graph(ir)?;
    for node in &ir.nodes {
        node_rules(ir, node, check)?;
    }
    for e in &ir.edges {
        if let Some(c) = &e.condition {
            check.expression(c).map_err(|m| {
                CompileError::at(
                    ErrorKind::Expression,
                    "SequenceFlow",
                    &e.id,
                    format!("the condition does not parse: {m}"),
                )
            })?;
        }
    }
    Ok(())
}

fn is_flow_node(n: &Node) -> bool {
    !matches!(n.kind, NodeKind::Annotation { .. })
}

fn graph(ir: &Ir) -> Result<(), CompileError> {
    let mut starts = ir
        .nodes
        .iter()
        .filter(|n| matches!(n.kind, NodeKind::Start));
    let Some(first) = starts.next() else {
        return Err(CompileError::new(
            ErrorKind::Graph,
            Some(&ir.process_id),
            format!("bpmn:Process {} has no start event", ir.process_id),
        ));
    };
    if let Some(second) = starts.next() {
        return Err(err(
            ErrorKind::Graph,
            second,
            format!(
                "a process may have one start event only (the first is {})",
                first.id
            ),
        ));
    }
    let mut ids: Vec<&str> = ir
        .nodes
        .iter()
        .map(|n| n.id.as_str())
        .chain(ir.edges.iter().map(|e| e.id.as_str()))
        .collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(CompileError::new(
            ErrorKind::Graph,
            Some(w[0]),
            format!("the id {} is used twice", w[0]),
        ));
    }
    for e in &ir.edges {
        let flow = |what: String| CompileError::at(ErrorKind::Graph, "SequenceFlow", &e.id, what);
        let from = ir.node(&e.from).filter(|n| is_flow_node(n));
        let to = ir.node(&e.to).filter(|n| is_flow_node(n));
        let Some(from) = from else {
            return Err(flow(format!(
                "its source `{}` is not a node of the process",
                e.from
            )));
        };
        let Some(to) = to else {
            return Err(flow(format!(
                "its target `{}` is not a node of the process",
                e.to
            )));
        };
        if matches!(to.kind, NodeKind::Start) {
            return Err(flow(format!("it leads into the start event {}", to.id)));
        }
        if matches!(from.kind, NodeKind::End) {
            return Err(flow(format!("it leaves the end event {}", from.id)));
        }
    }
    Ok(())
}

fn node_rules(ir: &Ir, node: &Node, check: &dyn SyntaxCheck) -> Result<(), CompileError> {
    match &node.kind {
        NodeKind::Xor { default } => xor(ir, node, default.as_deref()),
        NodeKind::Boundary(b) => {
            if !ir
                .node(&b.attached_to)
                .is_some_and(|t| matches!(t.kind, NodeKind::Task(_)))
            {
                return Err(err(
                    ErrorKind::Boundary,
                    node,
                    format!("it is attached to `{}`, which is not a task", b.attached_to),
                ));
            }
            if ir.incoming(&node.id).next().is_some() {
                return Err(err(
                    ErrorKind::Boundary,
                    node,
                    "a boundary event cannot have incoming flows",
                ));
            }
            let out = ir.outgoing(&node.id).count();
            if out != 1 {
                return Err(err(
                    ErrorKind::Boundary,
                    node,
                    format!("a boundary event needs exactly one outgoing flow, it has {out}"),
                ));
            }
            if let Some(d) = &b.duration {
                duration(node, d)?;
            }
            Ok(())
        }
        NodeKind::Timer { duration: d } => duration(node, d),
        NodeKind::Task(t) => {
            for (name, v) in t.inputs.iter() {
                if t.connector == "code" && name == "source" {
                    if let ParamValue::Const(src) = v {
                        check.function_body(src).map_err(|m| {
                            err(
                                ErrorKind::Expression,
                                node,
                                format!("the code does not parse: {m}"),
                            )
                        })?;
                        continue;
                    }
                }
                value(node, name, v, check)?;
            }
            for o in &t.outputs {
                output(node, o, check)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn xor(ir: &Ir, node: &Node, default: Option<&str>) -> Result<(), CompileError> {
    let out: Vec<_> = ir.outgoing(&node.id).collect();
    let gw = &node.id;
    let gateway = |m: String| CompileError::new(ErrorKind::Gateway, Some(gw), m);
    if let Some(d) = default {
        if !out.iter().any(|e| e.id == d) {
            return Err(gateway(format!(
                "bpmn:ExclusiveGateway {gw} default flow {d} is not one of its outgoing flows"
            )));
        }
    }
    match out.as_slice() {
        [] => Err(gateway(format!("bpmn:ExclusiveGateway {gw} has no outgoing flow"))),
        [one] if one.condition.is_some() => Err(gateway(format!(
            "bpmn:ExclusiveGateway {gw} has a single diverging flow (bpmn:SequenceFlow {}) with a condition",
            one.id
        ))),
        [_] => Ok(()),
        many => match many.iter().find(|e| e.condition.is_none() && Some(e.id.as_str()) != default) {
            Some(e) => Err(gateway(format!(
                "bpmn:ExclusiveGateway {gw} diverging flow (bpmn:SequenceFlow {}) has no condition",
                e.id
            ))),
            None => Ok(()),
        },
    }
}

fn duration(node: &Node, d: &str) -> Result<(), CompileError> {
    parse_duration(d).map(|_| ()).map_err(|e| {
        err(
            ErrorKind::Timer,
            node,
            format!("{e}; expressions are not allowed here"),
        )
    })
}

fn value(
    node: &Node,
    name: &str,
    v: &ParamValue,
    check: &dyn SyntaxCheck,
) -> Result<(), CompileError> {
    match v {
        ParamValue::Expr(src) if !src.trim().is_empty() => check.expression(src).map_err(|m| {
            err(
                ErrorKind::Expression,
                node,
                format!("input parameter `{name}`: the expression does not parse: {m}"),
            )
        }),
        ParamValue::Pairs(pairs) => {
            for (k, v) in pairs {
                value(node, &format!("{name}.{k}"), v, check)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn output(node: &Node, o: &Output, check: &dyn SyntaxCheck) -> Result<(), CompileError> {
    let target = o.target();
    let segments = parse_target(target)
        .map_err(|e| err(ErrorKind::OutputPath, node, format!("output: {e}")))?;
    for s in segments {
        if let Segment::Expr(x) = s {
            check.expression(&x).map_err(|m| {
                err(
                    ErrorKind::Expression,
                    node,
                    format!("output `{target}`: `[{x}]` does not parse: {m}"),
                )
            })?;
        }
    }
    if let Output::Expr { expr, .. } = o {
        if !expr.trim().is_empty() {
            check.expression(expr).map_err(|m| {
                err(
                    ErrorKind::Expression,
                    node,
                    format!("variable `{target}`: the expression does not parse: {m}"),
                )
            })?;
        }
    }
    Ok(())
}
