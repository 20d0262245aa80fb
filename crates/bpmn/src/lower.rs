//! XML tree → IR: typed fields out, skeletons with holes left behind.

use crate::error::{CompileError, ErrorKind};
use crate::ir::{
    Boundary, Bounds, Edge, Ir, Node, NodeKind, OrderedMap, Output, ParamValue, Raw, Task, Trigger,
    IR_VERSION,
};
use crate::render::{self, Names};
use crate::xml::{
    same, FlowRefs, Hole, Kept, Param, Scope, XDoc, XElem, XNode, BPMNDI_NS, BPMN_NS, CAMUNDA_NS,
    DC_NS,
};

/// Flow-node types of BPMN that this engine does not run.
const UNSUPPORTED: &[&str] = &[
    "task",
    "userTask",
    "scriptTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "businessRuleTask",
    "callActivity",
    "subProcess",
    "adHocSubProcess",
    "transaction",
    "inclusiveGateway",
    "complexGateway",
    "eventBasedGateway",
    "intermediateThrowEvent",
];

/// Builds the IR from a parsed document (structure only; [`crate::validate`] checks it).
pub(crate) fn lower(mut doc: XDoc) -> Result<Ir, CompileError> {
    let mut scope = Scope::default();
    scope.push(&doc.root);
    let names = Names::of(&doc.root);
    let Some(pi) = doc
        .root
        .children
        .iter()
        .position(|c| matches!(c, XNode::Elem(e) if scope.is(&e.name, BPMN_NS, "process")))
    else {
        return Err(CompileError::new(
            ErrorKind::NoProcess,
            None,
            "the document has no bpmn:process element",
        ));
    };
    let XNode::Elem(process) = &mut doc.root.children[pi] else {
        return Err(CompileError::new(
            ErrorKind::NoProcess,
            None,
            "no bpmn:process",
        ));
    };
    scope.push(process);
    let process_id = take_attr(process, "id").unwrap_or_default();
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    let mut elements = OrderedMap::new();
    let children = std::mem::take(&mut process.children);
    for child in children {
        let XNode::Elem(e) = child else {
            process.children.push(child);
            continue;
        };
        let qname = e.name.clone();
        let (prefix, local) = crate::xml::split(&qname);
        if scope.uri(prefix) != Some(BPMN_NS) {
            process.children.push(XNode::Elem(e));
            continue;
        }
        if UNSUPPORTED.contains(&local) {
            let id = e.get("id").unwrap_or("").to_owned();
            return Err(CompileError::at(
                ErrorKind::Unsupported,
                &capital(local),
                &id,
                "this element type is not supported",
            ));
        }
        if !is_item(local) {
            process.children.push(XNode::Elem(e));
            continue;
        }
        let mut sk = e;
        let Some(id) = take_attr(&mut sk, "id").filter(|id| !id.is_empty()) else {
            return Err(CompileError::new(
                ErrorKind::Graph,
                None,
                format!("a bpmn:{} has no id", capital(local)),
            ));
        };
        if elements.get(&id).is_some() {
            return Err(CompileError::at(
                ErrorKind::Graph,
                &capital(local),
                &id,
                "the id is used twice",
            ));
        }
        if local == "sequenceFlow" {
            edges.push(lower_edge(&mut sk, id.clone(), &scope, &names)?);
        } else {
            scope.push(&sk);
            let node = lower_node(&mut sk, local, id.clone(), &scope, &names);
            scope.pop();
            nodes.push(node?);
        }
        process
            .children
            .push(XNode::Hole(Hole::Item { id: id.clone() }));
        elements.insert(id, sk);
    }
    // `bpmn:incoming` / `bpmn:outgoing` are derived from the edges; the source is kept only
    // where it says something else (another order, or refs that disagree with the edges).
    for node in &nodes {
        if let Some(sk) = elements.get_mut(&node.id) {
            settle_flows(sk, &flow_refs(&edges, &node.id), &names);
        }
    }
    let layout = layout(&doc.root, &scope, &nodes);
    Ok(Ir {
        ir_version: IR_VERSION,
        process_id,
        nodes,
        edges,
        layout,
        raw: Some(Raw {
            document: doc,
            elements,
        }),
    })
}

fn is_item(local: &str) -> bool {
    matches!(
        local,
        "startEvent"
            | "endEvent"
            | "serviceTask"
            | "exclusiveGateway"
            | "parallelGateway"
            | "intermediateCatchEvent"
            | "boundaryEvent"
            | "textAnnotation"
            | "sequenceFlow"
    )
}

/// `serviceTask` → `ServiceTask`, the moddle type name used in messages.
pub(crate) fn capital(local: &str) -> String {
    let mut c = local.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The edge ids entering and leaving a node, in document order.
pub(crate) fn flow_refs(edges: &[Edge], id: &str) -> FlowRefs {
    FlowRefs {
        incoming: edges
            .iter()
            .filter(|e| e.to == id)
            .map(|e| e.id.clone())
            .collect(),
        outgoing: edges
            .iter()
            .filter(|e| e.from == id)
            .map(|e| e.id.clone())
            .collect(),
    }
}

/// Removes an attribute's value, leaving a typed slot; returns the value.
fn take_attr(e: &mut XElem, name: &str) -> Option<String> {
    e.attrs
        .iter_mut()
        .find(|(n, v)| n == name && v.is_some())
        .and_then(|(_, v)| v.take())
}

/// Takes an attribute by namespace and local name.
fn take_ns_attr(e: &mut XElem, scope: &Scope, ns: &str, local: &str) -> Option<String> {
    e.attrs
        .iter_mut()
        .find(|(n, v)| v.is_some() && scope.is_attr(n, ns, local))
        .and_then(|(_, v)| v.take())
}

fn elem_index(e: &XElem, scope: &Scope, ns: &str, local: &str) -> Option<usize> {
    e.children
        .iter()
        .position(|c| matches!(c, XNode::Elem(x) if scope.is(&x.name, ns, local)))
}

fn elem_mut<'a>(e: &'a mut XElem, scope: &Scope, ns: &str, local: &str) -> Option<&'a mut XElem> {
    let i = elem_index(e, scope, ns, local)?;
    match &mut e.children[i] {
        XNode::Elem(x) => Some(x),
        _ => None,
    }
}

/// Replaces the first `ns:local` child with a hole built from it.
fn punch<T>(
    e: &mut XElem,
    scope: &Scope,
    ns: &str,
    local: &str,
    f: impl FnOnce(XElem) -> Result<(T, Hole), CompileError>,
) -> Result<Option<T>, CompileError> {
    let Some(i) = elem_index(e, scope, ns, local) else {
        return Ok(None);
    };
    let XNode::Elem(x) = std::mem::replace(&mut e.children[i], XNode::Comment(String::new()))
    else {
        return Ok(None);
    };
    let (v, hole) = f(x)?;
    e.children[i] = XNode::Hole(hole);
    Ok(Some(v))
}

/// Keeps the source when the canonical rendering of its value differs from it.
fn keep<T>(value: T, orig: Vec<XNode>, canonical: &[XNode]) -> Option<Kept<T>> {
    if same(&orig, canonical) {
        None
    } else {
        Some(Kept { value, xml: orig })
    }
}

fn lower_node(
    sk: &mut XElem,
    local: &str,
    id: String,
    scope: &Scope,
    names: &Names,
) -> Result<Node, CompileError> {
    let ty = capital(local);
    let name = take_attr(sk, "name").unwrap_or_default();
    let doc = punch(sk, scope, BPMN_NS, "documentation", |x| {
        let doc = x.text();
        let k = keep(doc.clone(), vec![XNode::Elem(x)], &render::doc(names, &doc));
        Ok((doc, Hole::Doc { keep: k }))
    })?
    .unwrap_or_default();
    if local != "textAnnotation" {
        punch_flows(sk, scope);
    }
    let kind = match local {
        "startEvent" => NodeKind::Start,
        "endEvent" => NodeKind::End,
        "parallelGateway" => NodeKind::And,
        "exclusiveGateway" => NodeKind::Xor {
            default: take_attr(sk, "default"),
        },
        "serviceTask" => NodeKind::Task(lower_task(sk, &id, scope, names)?),
        "intermediateCatchEvent" => {
            let Some(def) = elem_mut(sk, scope, BPMN_NS, "timerEventDefinition") else {
                return Err(CompileError::at(
                    ErrorKind::Unsupported,
                    &ty,
                    &id,
                    "only timer catch events are supported",
                ));
            };
            NodeKind::Timer {
                duration: punch_duration(def, scope, names, &ty, &id)?,
            }
        }
        "boundaryEvent" => {
            let attached_to = take_attr(sk, "attachedToRef").unwrap_or_default();
            let cancel_activity = match take_attr(sk, "cancelActivity").as_deref() {
                None | Some("true") | Some("1") => true,
                Some("false") | Some("0") => false,
                Some(other) => {
                    return Err(CompileError::at(
                        ErrorKind::Graph,
                        &ty,
                        &id,
                        format!("cancelActivity `{other}` is not a boolean"),
                    ))
                }
            };
            let mut b = Boundary {
                attached_to,
                trigger: Trigger::Error,
                error_code_var: None,
                error_message_var: None,
                duration: None,
                cancel_activity,
            };
            let err_i = elem_index(sk, scope, BPMN_NS, "errorEventDefinition");
            let timer_i = elem_index(sk, scope, BPMN_NS, "timerEventDefinition");
            match (err_i, timer_i) {
                (Some(i), t) if t.is_none_or(|t| i < t) => {
                    if let XNode::Elem(def) = &mut sk.children[i] {
                        b.error_code_var =
                            take_ns_attr(def, scope, CAMUNDA_NS, "errorCodeVariable");
                        b.error_message_var =
                            take_ns_attr(def, scope, CAMUNDA_NS, "errorMessageVariable");
                    }
                }
                (_, Some(i)) => {
                    b.trigger = Trigger::Timer;
                    if let XNode::Elem(def) = &mut sk.children[i] {
                        b.duration = Some(punch_duration(def, scope, names, &ty, &id)?);
                    }
                }
                _ => {
                    return Err(CompileError::at(
                        ErrorKind::Unsupported,
                        &ty,
                        &id,
                        "only error and timer boundary events are supported",
                    ))
                }
            }
            NodeKind::Boundary(b)
        }
        "textAnnotation" => {
            let text = punch(sk, scope, BPMN_NS, "text", |x| {
                let t = x.text();
                let k = keep(t.clone(), vec![XNode::Elem(x)], &render::text(names, &t));
                Ok((t, Hole::Text { keep: k }))
            })?
            .unwrap_or_default();
            NodeKind::Annotation { text }
        }
        _ => {
            return Err(CompileError::at(
                ErrorKind::Unsupported,
                &ty,
                &id,
                "unexpected element",
            ))
        }
    };
    Ok(Node {
        id,
        name,
        doc,
        kind,
    })
}

fn punch_duration(
    def: &mut XElem,
    scope: &Scope,
    names: &Names,
    ty: &str,
    id: &str,
) -> Result<String, CompileError> {
    let d = punch(def, scope, BPMN_NS, "timeDuration", |x| {
        let d = x.text().trim().to_owned();
        let k = keep(
            d.clone(),
            vec![XNode::Elem(x)],
            &render::duration(names, &d),
        );
        Ok((d, Hole::Duration { keep: k }))
    })?;
    d.ok_or_else(|| {
        CompileError::at(
            ErrorKind::Timer,
            ty,
            id,
            "the timer has no timeDuration (dates and cycles are not supported)",
        )
    })
}

/// Replaces the `bpmn:incoming` / `bpmn:outgoing` children with one hole, at the place of the
/// first, or after documentation and extension elements when there are none. The source is
/// parked in the hole until the edges are known.
fn punch_flows(sk: &mut XElem, scope: &Scope) {
    let mut orig = Vec::new();
    let mut at = None;
    let mut kept = Vec::new();
    for c in std::mem::take(&mut sk.children) {
        match c {
            XNode::Elem(x)
                if scope.is(&x.name, BPMN_NS, "incoming")
                    || scope.is(&x.name, BPMN_NS, "outgoing") =>
            {
                at.get_or_insert(kept.len());
                orig.push(XNode::Elem(x));
            }
            c => kept.push(c),
        }
    }
    let at = at.unwrap_or_else(|| {
        kept.iter()
            .position(|c| match c {
                XNode::Hole(Hole::Doc { .. }) => false,
                XNode::Elem(x) => !scope.is(&x.name, BPMN_NS, "extensionElements"),
                _ => true,
            })
            .unwrap_or(kept.len())
    });
    let value = FlowRefs {
        incoming: Vec::new(),
        outgoing: Vec::new(),
    };
    kept.insert(
        at,
        XNode::Hole(Hole::Flows {
            keep: Some(Kept { value, xml: orig }),
        }),
    );
    sk.children = kept;
}

/// Decides whether the parked flow elements must be kept, now that the edges are known.
fn settle_flows(sk: &mut XElem, refs: &FlowRefs, names: &Names) {
    for c in &mut sk.children {
        if let XNode::Hole(Hole::Flows { keep: k }) = c {
            let orig = k.take().map(|k| k.xml).unwrap_or_default();
            *k = keep(refs.clone(), orig, &render::flows(names, refs));
        }
    }
}

fn lower_task(
    sk: &mut XElem,
    id: &str,
    scope: &Scope,
    names: &Names,
) -> Result<Task, CompileError> {
    let mut task = Task {
        connector: String::new(),
        inputs: OrderedMap::new(),
        outputs: Vec::new(),
    };
    let Some(ext) = elem_mut(sk, scope, BPMN_NS, "extensionElements") else {
        return Ok(task);
    };
    if let Some(conn) = elem_mut(ext, scope, CAMUNDA_NS, "connector") {
        task.connector = punch(conn, scope, CAMUNDA_NS, "connectorId", |x| {
            let c = x.text().trim().to_owned();
            let k = keep(
                c.clone(),
                vec![XNode::Elem(x)],
                &render::connector(names, &c),
            );
            Ok((c, Hole::Connector { keep: k }))
        })?
        .unwrap_or_default();
    }
    let Some(io) = elem_mut(ext, scope, CAMUNDA_NS, "inputOutput") else {
        return Ok(task);
    };
    let mut rest = Vec::new();
    let mut any = false;
    let mut kept = Vec::new();
    for c in std::mem::take(&mut io.children) {
        let XNode::Elem(x) = c else {
            rest.push(c);
            continue;
        };
        let param = if scope.is(&x.name, CAMUNDA_NS, "inputParameter") {
            let name = x.get("name").unwrap_or("").to_owned();
            let v = decode_value(&x, scope).map_err(|m| {
                CompileError::at(
                    ErrorKind::Param,
                    "ServiceTask",
                    id,
                    format!("input parameter `{name}`: {m}"),
                )
            })?;
            if task.inputs.insert(name.clone(), v.clone()).is_some() {
                return Err(CompileError::at(
                    ErrorKind::Param,
                    "ServiceTask",
                    id,
                    format!("input parameter `{name}` appears twice"),
                ));
            }
            Param::Input(name, v)
        } else if scope.is(&x.name, CAMUNDA_NS, "outputParameter") {
            let o = decode_output(&x, scope).map_err(|m| {
                let name = x.get("name").unwrap_or("");
                CompileError::at(
                    ErrorKind::Param,
                    "ServiceTask",
                    id,
                    format!("output parameter `{name}`: {m}"),
                )
            })?;
            task.outputs.push(o.clone());
            Param::Output(o)
        } else {
            rest.push(XNode::Elem(x));
            continue;
        };
        rest.push(XNode::Hole(Hole::Params { keep: Vec::new() }));
        any = true;
        let canonical = render::param(names, &param);
        if let Some(k) = keep(param, vec![XNode::Elem(x)], &[XNode::Elem(canonical)]) {
            kept.push(k);
        }
    }
    if !any {
        rest.push(XNode::Hole(Hole::Params { keep: Vec::new() }));
    }
    // Each parameter left a hole where it stood, so comments or unknown elements between
    // parameters stay in place; the kept source rides on the first hole.
    if let Some(XNode::Hole(Hole::Params { keep: k })) = rest
        .iter_mut()
        .find(|c| matches!(c, XNode::Hole(Hole::Params { .. })))
    {
        *k = kept;
    }
    io.children = rest;
    Ok(task)
}

/// The `{"type": …, "value": …}` JSON inside a `camunda:script`.
pub(crate) fn envelope(text: &str) -> Result<(String, String), String> {
    let v: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the script is not a {\"type\",\"value\"} JSON envelope".to_owned())?;
    let ty = v
        .get("type")
        .and_then(|t| t.as_str())
        .ok_or("the envelope has no \"type\"")?;
    let value = match v.get("value") {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::Bool(b)) => b.to_string(),
        Some(_) => return Err("the envelope's \"value\" is not text".into()),
    };
    Ok((ty.to_owned(), value))
}

fn decode_value(x: &XElem, scope: &Scope) -> Result<ParamValue, String> {
    let Some(inner) = x.elems().next() else {
        return Ok(ParamValue::Const(x.text()));
    };
    if scope.is(&inner.name, CAMUNDA_NS, "script") {
        let (ty, value) = envelope(&inner.text())?;
        match ty.as_str() {
            "script" => Ok(ParamValue::Expr(value)),
            "const" => Ok(ParamValue::Const(value)),
            other => Err(format!("unknown script type `{other}`")),
        }
    } else if scope.is(&inner.name, CAMUNDA_NS, "list") {
        Ok(ParamValue::List(inner.elems().map(|v| v.text()).collect()))
    } else if scope.is(&inner.name, CAMUNDA_NS, "map") {
        let mut pairs = Vec::new();
        for entry in inner.elems() {
            let key = entry.get("key").unwrap_or("").to_owned();
            let v = decode_value(entry, scope).map_err(|m| format!("entry `{key}`: {m}"))?;
            pairs.push((key, v));
        }
        Ok(ParamValue::Pairs(pairs))
    } else {
        Err(format!("unknown value element `{}`", inner.name))
    }
}

fn decode_output(x: &XElem, scope: &Scope) -> Result<Output, String> {
    let target = x.get("name").unwrap_or("").to_owned();
    let script = x
        .elems()
        .find(|e| scope.is(&e.name, CAMUNDA_NS, "script"))
        .ok_or("it has no camunda:script")?;
    let (ty, value) = envelope(&script.text())?;
    match ty.as_str() {
        "outputResult" => Ok(Output::Slot {
            target,
            slot: value,
        }),
        "script" => Ok(Output::Expr {
            target,
            expr: value,
        }),
        other => Err(format!("unknown script type `{other}`")),
    }
}

/// Decodes a condition: the JS text of the envelope; an empty value means no condition. Text
/// that is not an envelope is taken as the expression itself.
pub(crate) fn decode_condition(text: &str) -> Option<String> {
    let value = match envelope(text) {
        Ok((_, v)) => v,
        Err(_) => text.trim().to_owned(),
    };
    (!value.trim().is_empty()).then_some(value)
}

fn lower_edge(
    sk: &mut XElem,
    id: String,
    scope: &Scope,
    names: &Names,
) -> Result<Edge, CompileError> {
    let from = take_attr(sk, "sourceRef").unwrap_or_default();
    let to = take_attr(sk, "targetRef").unwrap_or_default();
    let condition = punch(sk, scope, BPMN_NS, "conditionExpression", |x| {
        let c = decode_condition(&x.text());
        let k = keep(
            c.clone(),
            vec![XNode::Elem(x)],
            &render::condition(names, c.as_deref()),
        );
        Ok((c, Hole::Condition { keep: k }))
    })?
    .flatten();
    Ok(Edge {
        id,
        from,
        to,
        condition,
    })
}

/// Shape bounds of the nodes, from `bpmndi:BPMNShape/dc:Bounds`.
fn layout(root: &XElem, scope: &Scope, nodes: &[Node]) -> OrderedMap<Bounds> {
    let mut out = OrderedMap::new();
    let mut stack: Vec<&XElem> = vec![root];
    while let Some(e) = stack.pop() {
        if scope.is(&e.name, BPMNDI_NS, "BPMNShape") {
            let Some(id) = e.get("bpmnElement") else {
                continue;
            };
            if nodes.iter().all(|n| n.id != id) || out.get(id).is_some() {
                continue;
            }
            if let Some(b) = e.elems().find(|b| scope.is(&b.name, DC_NS, "Bounds")) {
                let n = |k: &str| b.get(k).and_then(|v| v.trim().parse::<f64>().ok());
                if let (Some(x), Some(y), Some(w), Some(h)) =
                    (n("x"), n("y"), n("width"), n("height"))
                {
                    out.insert(id, Bounds { x, y, w, h });
                }
            }
            continue;
        }
        // Children are pushed in reverse so shapes come out in document order.
        for c in e.elems().collect::<Vec<_>>().into_iter().rev() {
            stack.push(c);
        }
    }
    out
}
