//! Canonical XML for typed values, in the encoding the Bpium editor writes (spec 03 §9.1).
//! Compiling uses it to decide what source must be kept; exporting uses it for changed values.

use crate::ir::{Output, ParamValue};
use crate::xml::{
    join, FlowRefs, Param, Scope, XElem, XNode, BPMNDI_NS, BPMN_NS, CAMUNDA_NS, DC_NS, DI_NS,
    XSI_NS,
};

/// The prefixes a document binds to the namespaces the renderer writes.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub bpmn: String,
    pub camunda: String,
    pub xsi: String,
    pub bpmndi: String,
    pub dc: String,
}

/// Namespace URIs with the prefixes bpmn-js uses for them.
pub(crate) const CONVENTIONAL: [(&str, &str); 6] = [
    ("xsi", XSI_NS),
    ("bpmn", BPMN_NS),
    ("camunda", CAMUNDA_NS),
    ("bpmndi", BPMNDI_NS),
    ("dc", DC_NS),
    ("di", DI_NS),
];

impl Names {
    /// The prefixes declared on the root, falling back to the conventional ones.
    pub fn of(root: &XElem) -> Names {
        let mut scope = Scope::default();
        scope.push(root);
        let p = |ns: &str, dflt: &str| scope.prefix(ns).unwrap_or(dflt).to_owned();
        Names {
            bpmn: p(BPMN_NS, "bpmn"),
            camunda: p(CAMUNDA_NS, "camunda"),
            xsi: p(XSI_NS, "xsi"),
            bpmndi: p(BPMNDI_NS, "bpmndi"),
            dc: p(DC_NS, "dc"),
        }
    }

    pub fn b(&self, local: &str) -> String {
        join(&self.bpmn, local)
    }

    pub fn c(&self, local: &str) -> String {
        join(&self.camunda, local)
    }

    fn formal(&self) -> XElem {
        XElem::new("")
            .attr(join(&self.xsi, "type"), self.b("tFormalExpression"))
            .attr("language", "JavaScript")
    }
}

fn text_node(s: &str) -> Vec<XNode> {
    if s.is_empty() {
        Vec::new()
    } else {
        vec![XNode::Text(s.to_owned())]
    }
}

fn with_text(e: XElem, s: &str) -> XElem {
    XElem {
        children: text_node(s),
        ..e
    }
}

/// The JSON envelope of a script value.
pub(crate) fn envelope_text(ty: &str, value: &str) -> String {
    let v = serde_json::json!({ "type": ty, "value": value });
    v.to_string()
}

fn script(n: &Names, ty: &str, value: &str) -> XElem {
    XElem::new(n.c("script"))
        .attr("scriptFormat", "JavaScript")
        .child(XNode::Cdata(envelope_text(ty, value)))
}

/// `bpmn:documentation`.
pub(crate) fn doc(n: &Names, s: &str) -> Vec<XNode> {
    vec![XNode::Elem(with_text(XElem::new(n.b("documentation")), s))]
}

/// `bpmn:text` of an annotation.
pub(crate) fn text(n: &Names, s: &str) -> Vec<XNode> {
    vec![XNode::Elem(with_text(XElem::new(n.b("text")), s))]
}

/// `bpmn:timeDuration`.
pub(crate) fn duration(n: &Names, s: &str) -> Vec<XNode> {
    let mut e = n.formal();
    e.name = n.b("timeDuration");
    vec![XNode::Elem(with_text(e, s))]
}

/// `camunda:connectorId`.
pub(crate) fn connector(n: &Names, s: &str) -> Vec<XNode> {
    vec![XNode::Elem(with_text(XElem::new(n.c("connectorId")), s))]
}

/// `bpmn:incoming` then `bpmn:outgoing` elements.
pub(crate) fn flows(n: &Names, refs: &FlowRefs) -> Vec<XNode> {
    let one = |local: &str, id: &String| XNode::Elem(with_text(XElem::new(n.b(local)), id));
    refs.incoming
        .iter()
        .map(|id| one("incoming", id))
        .chain(refs.outgoing.iter().map(|id| one("outgoing", id)))
        .collect()
}

/// `bpmn:conditionExpression`, or nothing for no condition.
pub(crate) fn condition(n: &Names, c: Option<&str>) -> Vec<XNode> {
    match c {
        None => Vec::new(),
        Some(c) => {
            let mut e = n.formal();
            e.name = n.b("conditionExpression");
            vec![XNode::Elem(
                e.child(XNode::Cdata(envelope_text("script", c))),
            )]
        }
    }
}

/// The value element(s) of an input parameter or map entry.
fn value(n: &Names, v: &ParamValue) -> XElem {
    match v {
        ParamValue::Const(s) => script(n, "const", s),
        ParamValue::Expr(s) => script(n, "script", s),
        ParamValue::List(items) => {
            let mut e = XElem::new(n.c("list"));
            for i in items {
                e.children.push(XNode::Elem(with_text(
                    XElem::new(n.c("value")).attr("type", "const"),
                    i,
                )));
            }
            e
        }
        ParamValue::Pairs(pairs) => {
            let mut e = XElem::new(n.c("map"));
            for (k, v) in pairs {
                e.children.push(XNode::Elem(
                    XElem::new(n.c("entry"))
                        .attr("key", k.as_str())
                        .child(XNode::Elem(value(n, v))),
                ));
            }
            e
        }
    }
}

/// `camunda:inputParameter` / `camunda:outputParameter`.
pub(crate) fn param(n: &Names, p: &Param) -> XElem {
    match p {
        Param::Input(name, v) => XElem::new(n.c("inputParameter"))
            .attr("name", name.as_str())
            .child(XNode::Elem(value(n, v))),
        Param::Output(Output::Slot { target, slot }) => XElem::new(n.c("outputParameter"))
            .attr("name", target.as_str())
            .attr("configName", slot.as_str())
            .child(XNode::Elem(script(n, "outputResult", slot))),
        Param::Output(Output::Expr { target, expr }) => XElem::new(n.c("outputParameter"))
            .attr("name", target.as_str())
            .attr("configName", "vars")
            .child(XNode::Elem(script(n, "script", expr))),
    }
}
