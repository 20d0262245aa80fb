//! IR → BPMN XML: the skeletons under `raw` with their holes and typed slots filled from the
//! typed fields; nodes without a skeleton get the editor's canonical form.

use crate::ir::{Boundary, Edge, Ir, Node, NodeKind, OrderedMap, Trigger};
use crate::lower::flow_refs;
use crate::render::{self, Names, CONVENTIONAL};
use crate::xml::{self, split, Hole, Param, Scope, XDoc, XElem, XNode, BPMNDI_NS, BPMN_NS, DC_NS};

/// Writes an IR as BPMN 2.0 XML. An IR compiled from a file and left unchanged exports to a
/// document that is the same XML as that file, up to whitespace between elements.
pub fn export(ir: &Ir) -> String {
    let mut doc = match &ir.raw {
        Some(raw) => raw.document.clone(),
        None => default_document(ir),
    };
    let empty = OrderedMap::new();
    let elements = ir.raw.as_ref().map(|r| &r.elements).unwrap_or(&empty);
    let names = Names::of(&doc.root);
    let mut scope = Scope::default();
    scope.push(&doc.root);
    let pi = doc
        .root
        .children
        .iter()
        .position(|c| matches!(c, XNode::Elem(e) if scope.is(&e.name, BPMN_NS, "process")));
    let pi = match pi {
        Some(i) => i,
        None => {
            let p = XElem {
                attrs: vec![("id".into(), None)],
                ..XElem::new(names.b("process"))
            };
            doc.root.children.insert(0, XNode::Elem(p));
            0
        }
    };
    if let XNode::Elem(process) = &mut doc.root.children[pi] {
        fill_attrs(
            process,
            &[Typed::new("id", Some(ir.process_id.clone()), true)],
        );
        let mut placed = Vec::new();
        let mut children = Vec::new();
        for c in std::mem::take(&mut process.children) {
            match c {
                XNode::Hole(Hole::Item { id }) => {
                    if let Some(n) = ir.node(&id) {
                        children.push(XNode::Elem(node_xml(ir, n, elements.get(&id), &names)));
                    } else if let Some(e) = ir.edge(&id) {
                        children.push(XNode::Elem(edge_xml(e, elements.get(&id), &names)));
                    }
                    placed.push(id);
                }
                c => children.push(c),
            }
        }
        for n in ir.nodes.iter().filter(|n| !placed.contains(&n.id)) {
            children.push(XNode::Elem(node_xml(ir, n, elements.get(&n.id), &names)));
        }
        for e in ir.edges.iter().filter(|e| !placed.contains(&e.id)) {
            children.push(XNode::Elem(edge_xml(e, elements.get(&e.id), &names)));
        }
        process.children = children;
    }
    let gone: Vec<&str> = elements
        .iter()
        .map(|(id, _)| id)
        .filter(|id| ir.node(id).is_none() && ir.edge(id).is_none())
        .collect();
    patch_diagram(&mut doc.root, &scope, ir, &gone, &names);
    declare_namespaces(&mut doc.root);
    xml::write(&doc)
}

fn default_document(ir: &Ir) -> XDoc {
    let mut root = XElem::new("bpmn:definitions");
    for (p, uri) in CONVENTIONAL {
        root = root.attr(format!("xmlns:{p}"), uri);
    }
    let root = root
        .attr("id", "Definitions_1")
        .attr("targetNamespace", "http://bpmn.io/schema/bpmn")
        .child(XNode::Elem(XElem {
            attrs: vec![
                ("id".into(), None),
                ("isExecutable".into(), Some("false".into())),
            ],
            ..XElem::new("bpmn:process")
        }))
        .child(XNode::Elem(
            XElem::new("bpmndi:BPMNDiagram")
                .attr("id", "BPMNDiagram_1")
                .child(XNode::Elem(
                    XElem::new("bpmndi:BPMNPlane")
                        .attr("id", "BPMNPlane_1")
                        .attr("bpmnElement", ir.process_id.as_str()),
                )),
        ));
    XDoc {
        prolog: vec![XNode::Decl("xml version=\"1.0\" encoding=\"UTF-8\"".into())],
        root,
        epilog: Vec::new(),
    }
}

/// A typed attribute: its local name, its value (`None` = absent) and whether to add it when
/// the skeleton has no slot for it.
struct Typed {
    local: &'static str,
    qname: String,
    value: Option<String>,
    add: bool,
}

impl Typed {
    fn new(local: &'static str, value: Option<String>, add: bool) -> Self {
        Typed {
            local,
            qname: local.to_owned(),
            value,
            add,
        }
    }
}

/// Fills typed slots (attributes with no value) and adds typed attributes that have none.
fn fill_attrs(e: &mut XElem, typed: &[Typed]) {
    let mut seen = Vec::new();
    let mut attrs = Vec::new();
    for (k, v) in std::mem::take(&mut e.attrs) {
        if v.is_some() {
            attrs.push((k, v));
            continue;
        }
        let local = split(&k).1;
        if let Some(t) = typed.iter().find(|t| t.local == local) {
            seen.push(t.local);
            if let Some(v) = &t.value {
                attrs.push((k, Some(v.clone())));
            }
        }
    }
    for t in typed {
        if t.add && !seen.contains(&t.local) {
            if let Some(v) = &t.value {
                attrs.push((t.qname.clone(), Some(v.clone())));
            }
        }
    }
    e.attrs = attrs;
}

fn local_for(kind: &NodeKind) -> &'static str {
    match kind {
        NodeKind::Start => "startEvent",
        NodeKind::End => "endEvent",
        NodeKind::Task(_) => "serviceTask",
        NodeKind::Xor { .. } => "exclusiveGateway",
        NodeKind::And => "parallelGateway",
        NodeKind::Timer { .. } => "intermediateCatchEvent",
        NodeKind::Boundary(_) => "boundaryEvent",
        NodeKind::Annotation { .. } => "textAnnotation",
    }
}

fn has_hole(e: &XElem, f: &dyn Fn(&Hole) -> bool) -> bool {
    e.children.iter().any(|c| match c {
        XNode::Hole(h) => f(h),
        XNode::Elem(x) => has_hole(x, f),
        _ => false,
    })
}

/// Whether a skeleton still fits the node: same element type, same boundary trigger.
fn fits(sk: &XElem, node: &Node) -> bool {
    if split(&sk.name).1 != local_for(&node.kind) {
        return false;
    }
    match &node.kind {
        NodeKind::Boundary(b) => {
            let def = match b.trigger {
                Trigger::Error => "errorEventDefinition",
                Trigger::Timer => "timerEventDefinition",
            };
            sk.elems().any(|x| split(&x.name).1 == def)
        }
        _ => true,
    }
}

fn default_skeleton(node: &Node, n: &Names) -> XElem {
    let mut e = XElem {
        attrs: vec![("id".into(), None), ("name".into(), None)],
        ..XElem::new(n.b(local_for(&node.kind)))
    };
    let flows = XNode::Hole(Hole::Flows { keep: None });
    match &node.kind {
        NodeKind::Task(_) => {
            let conn =
                XElem::new(n.c("connector")).child(XNode::Hole(Hole::Connector { keep: None }));
            let io = XElem::new(n.c("inputOutput"))
                .child(XNode::Hole(Hole::Params { keep: Vec::new() }));
            e.children.push(XNode::Elem(
                XElem::new(n.b("extensionElements"))
                    .child(XNode::Elem(conn))
                    .child(XNode::Elem(io)),
            ));
            e.children.push(flows);
        }
        NodeKind::Timer { .. } => {
            e.children.push(flows);
            e.children.push(timer_definition(n));
        }
        NodeKind::Boundary(b) => {
            e.attrs = vec![("id".into(), None), ("attachedToRef".into(), None)];
            e.children.push(flows);
            e.children.push(match b.trigger {
                Trigger::Timer => timer_definition(n),
                Trigger::Error => XNode::Elem(XElem {
                    attrs: vec![
                        (n.c("errorCodeVariable"), None),
                        (n.c("errorMessageVariable"), None),
                    ],
                    ..XElem::new(n.b("errorEventDefinition"))
                }),
            });
        }
        NodeKind::Annotation { .. } => {
            e.attrs = vec![("id".into(), None)];
            e.children.push(XNode::Hole(Hole::Text { keep: None }));
        }
        _ => e.children.push(flows),
    }
    e
}

fn timer_definition(n: &Names) -> XNode {
    XNode::Elem(
        XElem::new(n.b("timerEventDefinition")).child(XNode::Hole(Hole::Duration { keep: None })),
    )
}

/// Finds or creates the child element `qname` (matched by local name).
fn ensure_child<'a>(e: &'a mut XElem, qname: &str, at: Option<usize>) -> Option<&'a mut XElem> {
    let local = split(qname).1;
    let is = |c: &XNode| matches!(c, XNode::Elem(x) if split(&x.name).1 == local);
    if !e.children.iter().any(is) {
        let i = at.unwrap_or(e.children.len()).min(e.children.len());
        e.children.insert(i, XNode::Elem(XElem::new(qname)));
    }
    e.children.iter_mut().find_map(|c| match c {
        XNode::Elem(x) if split(&x.name).1 == local => Some(x),
        _ => None,
    })
}

fn node_xml(ir: &Ir, node: &Node, sk: Option<&XElem>, n: &Names) -> XElem {
    let mut e = match sk {
        Some(sk) if fits(sk, node) => sk.clone(),
        _ => default_skeleton(node, n),
    };
    // Typed content that the skeleton has no place for gets the editor's place.
    if !node.doc.is_empty() && !has_hole(&e, &|h| matches!(h, Hole::Doc { .. })) {
        e.children.insert(0, XNode::Hole(Hole::Doc { keep: None }));
    }
    if let NodeKind::Task(t) = &node.kind {
        let after_doc = usize::from(matches!(
            e.children.first(),
            Some(XNode::Hole(Hole::Doc { .. }))
        ));
        if !t.connector.is_empty() && !has_hole(&e, &|h| matches!(h, Hole::Connector { .. })) {
            let ext = ensure_child(&mut e, &n.b("extensionElements"), Some(after_doc));
            if let Some(conn) = ext.and_then(|x| ensure_child(x, &n.c("connector"), Some(0))) {
                conn.children
                    .push(XNode::Hole(Hole::Connector { keep: None }));
            }
        }
        let has_params = !t.inputs.is_empty() || !t.outputs.is_empty();
        if has_params && !has_hole(&e, &|h| matches!(h, Hole::Params { .. })) {
            let ext = ensure_child(&mut e, &n.b("extensionElements"), Some(after_doc));
            if let Some(io) = ext.and_then(|x| ensure_child(x, &n.c("inputOutput"), None)) {
                io.children
                    .push(XNode::Hole(Hole::Params { keep: Vec::new() }));
            }
        }
    }
    let mut typed = vec![
        Typed::new("id", Some(node.id.clone()), true),
        Typed::new("name", Some(node.name.clone()), !node.name.is_empty()),
    ];
    match &node.kind {
        NodeKind::Xor { default } => typed.push(Typed::new("default", default.clone(), true)),
        NodeKind::Boundary(b) => {
            typed.push(Typed::new(
                "attachedToRef",
                Some(b.attached_to.clone()),
                true,
            ));
            typed.push(Typed::new(
                "cancelActivity",
                Some(b.cancel_activity.to_string()),
                !b.cancel_activity,
            ));
            fill_error_attrs(&mut e, b, n);
        }
        _ => {}
    }
    fill_attrs(&mut e, &typed);
    fill_holes(&mut e, ir, node, n);
    e
}

fn fill_error_attrs(e: &mut XElem, b: &Boundary, n: &Names) {
    for c in &mut e.children {
        if let XNode::Elem(def) = c {
            if split(&def.name).1 == "errorEventDefinition" {
                let t = |local: &'static str, v: &Option<String>| Typed {
                    local,
                    qname: n.c(local),
                    value: v.clone(),
                    add: true,
                };
                fill_attrs(
                    def,
                    &[
                        t("errorCodeVariable", &b.error_code_var),
                        t("errorMessageVariable", &b.error_message_var),
                    ],
                );
            }
        }
    }
}

fn fill_holes(e: &mut XElem, ir: &Ir, node: &Node, n: &Names) {
    let is_params = |c: &XNode| matches!(c, XNode::Hole(Hole::Params { .. }));
    let holes = e.children.iter().filter(|c| is_params(c)).count();
    let mut params = if holes > 0 {
        render_params(&e.children, node, n)
    } else {
        Vec::new()
    }
    .into_iter();
    let mut seen = 0;
    let mut out = Vec::with_capacity(e.children.len());
    for c in std::mem::take(&mut e.children) {
        match c {
            // The i-th parameter goes where the i-th stood; the last hole takes the rest.
            XNode::Hole(Hole::Params { .. }) => {
                seen += 1;
                if seen == holes {
                    out.extend(params.by_ref().flatten());
                } else if let Some(p) = params.next() {
                    out.extend(p);
                }
            }
            XNode::Hole(h) => out.extend(fill_hole(h, ir, node, n)),
            XNode::Elem(mut x) => {
                fill_holes(&mut x, ir, node, n);
                out.push(XNode::Elem(x));
            }
            c => out.push(c),
        }
    }
    e.children = out;
}

/// A task's parameters, each as its kept source or its canonical element.
fn render_params(children: &[XNode], node: &Node, n: &Names) -> Vec<Vec<XNode>> {
    let NodeKind::Task(t) = &node.kind else {
        return Vec::new();
    };
    let mut keep: Vec<_> = children
        .iter()
        .filter_map(|c| match c {
            XNode::Hole(Hole::Params { keep }) => Some(keep.iter().cloned()),
            _ => None,
        })
        .flatten()
        .collect();
    t.inputs
        .iter()
        .map(|(k, v)| Param::Input(k.to_owned(), v.clone()))
        .chain(t.outputs.iter().cloned().map(Param::Output))
        .map(|p| match keep.iter().position(|k| k.value == p) {
            Some(i) => keep.remove(i).xml,
            None => vec![XNode::Elem(render::param(n, &p))],
        })
        .collect()
}

fn kept_or<T: PartialEq>(
    keep: Option<crate::xml::Kept<T>>,
    value: &T,
    canonical: impl FnOnce() -> Vec<XNode>,
) -> Vec<XNode> {
    match keep {
        Some(k) if &k.value == value => k.xml,
        _ => canonical(),
    }
}

fn fill_hole(h: Hole, ir: &Ir, node: &Node, n: &Names) -> Vec<XNode> {
    match (h, &node.kind) {
        (Hole::Doc { keep }, _) => kept_or(keep, &node.doc, || render::doc(n, &node.doc)),
        (Hole::Flows { keep }, _) => {
            let refs = flow_refs(&ir.edges, &node.id);
            kept_or(keep, &refs, || render::flows(n, &refs))
        }
        (Hole::Connector { keep }, NodeKind::Task(t)) => {
            kept_or(keep, &t.connector, || render::connector(n, &t.connector))
        }
        (Hole::Duration { keep }, NodeKind::Timer { duration }) => {
            kept_or(keep, duration, || render::duration(n, duration))
        }
        (
            Hole::Duration { keep },
            NodeKind::Boundary(Boundary {
                duration: Some(d), ..
            }),
        ) => kept_or(keep, d, || render::duration(n, d)),
        (Hole::Text { keep }, NodeKind::Annotation { text }) => {
            kept_or(keep, text, || render::text(n, text))
        }
        _ => Vec::new(),
    }
}

fn edge_xml(edge: &Edge, sk: Option<&XElem>, n: &Names) -> XElem {
    let mut e = match sk {
        Some(sk) if split(&sk.name).1 == "sequenceFlow" => sk.clone(),
        _ => XElem {
            attrs: vec![
                ("id".into(), None),
                ("sourceRef".into(), None),
                ("targetRef".into(), None),
            ],
            ..XElem::new(n.b("sequenceFlow"))
        },
    };
    fill_attrs(
        &mut e,
        &[
            Typed::new("id", Some(edge.id.clone()), true),
            Typed::new("sourceRef", Some(edge.from.clone()), true),
            Typed::new("targetRef", Some(edge.to.clone()), true),
        ],
    );
    let mut placed = false;
    let mut out = Vec::new();
    for c in std::mem::take(&mut e.children) {
        match c {
            XNode::Hole(Hole::Condition { keep }) => {
                placed = true;
                out.extend(kept_or(keep, &edge.condition, || {
                    render::condition(n, edge.condition.as_deref())
                }));
            }
            c => out.push(c),
        }
    }
    if !placed {
        out.extend(render::condition(n, edge.condition.as_deref()));
    }
    e.children = out;
    e
}

/// Brings shape bounds in line with `layout`, adds shapes for nodes that have none, and
/// drops diagram elements of nodes and edges that were removed from the IR.
fn patch_diagram(root: &mut XElem, scope: &Scope, ir: &Ir, gone: &[&str], n: &Names) {
    let mut shaped = Vec::new();
    walk_diagram(root, scope, ir, gone, &mut shaped);
    let missing: Vec<_> = ir
        .layout
        .iter()
        .filter(|(id, _)| !shaped.iter().any(|s| s == id))
        .collect();
    if missing.is_empty() {
        return;
    }
    let Some(plane) = find_plane(root, scope) else {
        return;
    };
    for (id, b) in missing {
        if ir.node(id).is_none() {
            continue;
        }
        let bounds = XElem::new(xml::join(&n.dc, "Bounds"))
            .attr("x", b.x.to_string())
            .attr("y", b.y.to_string())
            .attr("width", b.w.to_string())
            .attr("height", b.h.to_string());
        plane.children.push(XNode::Elem(
            XElem::new(xml::join(&n.bpmndi, "BPMNShape"))
                .attr("id", format!("{id}_di"))
                .attr("bpmnElement", id)
                .child(XNode::Elem(bounds)),
        ));
    }
}

fn find_plane<'a>(e: &'a mut XElem, scope: &Scope) -> Option<&'a mut XElem> {
    if scope.is(&e.name, BPMNDI_NS, "BPMNPlane") {
        return Some(e);
    }
    e.children.iter_mut().find_map(|c| match c {
        XNode::Elem(x) => find_plane(x, scope),
        _ => None,
    })
}

fn walk_diagram(e: &mut XElem, scope: &Scope, ir: &Ir, gone: &[&str], shaped: &mut Vec<String>) {
    e.children.retain(|c| match c {
        XNode::Elem(x)
            if scope.is(&x.name, BPMNDI_NS, "BPMNShape")
                || scope.is(&x.name, BPMNDI_NS, "BPMNEdge") =>
        {
            !x.get("bpmnElement").is_some_and(|id| gone.contains(&id))
        }
        _ => true,
    });
    for c in &mut e.children {
        let XNode::Elem(x) = c else { continue };
        if scope.is(&x.name, BPMNDI_NS, "BPMNShape") {
            let Some(id) = x.get("bpmnElement").map(str::to_owned) else {
                continue;
            };
            let Some(b) = ir.layout.get(&id) else {
                continue;
            };
            shaped.push(id);
            if let Some(bounds) = x.children.iter_mut().find_map(|c| match c {
                XNode::Elem(y) if scope.is(&y.name, DC_NS, "Bounds") => Some(y),
                _ => None,
            }) {
                for (k, v) in [("x", b.x), ("y", b.y), ("width", b.w), ("height", b.h)] {
                    set_number(bounds, k, v);
                }
            }
        } else {
            walk_diagram(x, scope, ir, gone, shaped);
        }
    }
}

/// Sets a numeric attribute unless it already holds that number (keeps the source spelling).
fn set_number(e: &mut XElem, key: &str, v: f64) {
    if let Some((_, slot)) = e.attrs.iter_mut().find(|(k, _)| k == key) {
        if slot.as_deref().and_then(|s| s.trim().parse::<f64>().ok()) != Some(v) {
            *slot = Some(v.to_string());
        }
    } else {
        e.attrs.push((key.to_owned(), Some(v.to_string())));
    }
}

/// Declares conventional prefixes the output uses but the root does not declare (only
/// possible when content was synthesised for a document that lacked them).
fn declare_namespaces(root: &mut XElem) {
    let mut scope = Scope::default();
    scope.push(root);
    let mut add = Vec::new();
    for (p, uri) in CONVENTIONAL {
        if scope.prefix(uri).is_none() && scope.uri(p).is_none() && uses_prefix(root, p) {
            add.push((format!("xmlns:{p}"), Some(uri.to_owned())));
        }
    }
    root.attrs.extend(add);
}

fn uses_prefix(e: &XElem, p: &str) -> bool {
    let has = |q: &str| split(q).0 == p && q.contains(':');
    has(&e.name)
        || e.attrs.iter().any(|(k, _)| has(k))
        || e.children
            .iter()
            .any(|c| matches!(c, XNode::Elem(x) if uses_prefix(x, p)))
}
