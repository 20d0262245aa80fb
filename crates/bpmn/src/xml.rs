//! A small lossless XML tree: what the reader turns a file into, what the IR keeps as the
//! untyped remainder of each element, and what the writer prints back.
//!
//! Names stay qualified exactly as written (`bpmn:serviceTask`), so a file keeps its own
//! namespace prefixes. Whitespace-only text between child elements is dropped on reading and
//! replaced by indentation on writing; text inside text-only elements is kept as is.

use std::fmt::Write as _;

use quick_xml::events::Event;
use quick_xml::Reader;
use serde::{Deserialize, Serialize};

use crate::ir::{Output, ParamValue};

/// The namespace of BPMN 2.0 model elements.
pub const BPMN_NS: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";
/// The namespace of the Camunda extensions.
pub const CAMUNDA_NS: &str = "http://camunda.org/schema/1.0/bpmn";
/// The namespace of BPMN diagram interchange.
pub const BPMNDI_NS: &str = "http://www.omg.org/spec/BPMN/20100524/DI";
/// The namespace of diagram-definition bounds and points.
pub const DC_NS: &str = "http://www.omg.org/spec/DD/20100524/DC";
/// The namespace of diagram-definition waypoints.
pub const DI_NS: &str = "http://www.omg.org/spec/DD/20100524/DI";
/// The XML Schema instance namespace (`xsi:type`).
pub const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// One XML element. An attribute value of `None` marks an attribute whose value lives in a
/// typed IR field; the writer fills it in at that position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XElem {
    /// The qualified name as written in the source, e.g. `bpmn:serviceTask`.
    pub name: String,
    /// Attributes in source order, namespace declarations included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<(String, Option<String>)>,
    /// Child nodes in source order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<XNode>,
}

/// A node of the tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum XNode {
    /// A child element.
    Elem(XElem),
    /// Character data (unescaped).
    Text(String),
    /// A CDATA section (its content).
    Cdata(String),
    /// A comment (its content).
    Comment(String),
    /// A processing instruction (its content without `<?` `?>`).
    Pi(String),
    /// The XML declaration (its content without `<?` `?>`).
    Decl(String),
    /// A document type declaration (its content).
    Doctype(String),
    /// A place where typed IR content is written back.
    Hole(Hole),
}

/// A place in a skeleton where the writer puts content generated from typed IR fields.
///
/// Holes that stand for elements may carry `keep`: the source elements, and the typed value
/// they decoded to, for the case where the canonical rendering of that value would differ
/// from the source (CDATA documentation, unusual JSON spacing, extra attributes...). The
/// writer emits the kept elements while the typed value is unchanged and the canonical
/// rendering once it has changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "hole", rename_all = "camelCase")]
pub enum Hole {
    /// A node or edge of the process, by id (only in the document skeleton).
    Item {
        /// The node or edge id.
        id: String,
    },
    /// The `bpmn:documentation` element (the node's `doc`).
    Doc {
        /// Source kept while `doc` is unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<String>>,
    },
    /// The `camunda:connectorId` element of a task.
    Connector {
        /// Source kept while `connector` is unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<String>>,
    },
    /// The `camunda:inputParameter` / `camunda:outputParameter` elements of a task.
    Params {
        /// Parameters whose source differs from their canonical rendering.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keep: Vec<Kept<Param>>,
    },
    /// The `bpmn:incoming` / `bpmn:outgoing` elements, derived from the edges.
    Flows {
        /// Source kept while the node's incoming and outgoing edges are unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<FlowRefs>>,
    },
    /// The `bpmn:timeDuration` element of a timer.
    Duration {
        /// Source kept while `duration` is unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<String>>,
    },
    /// The `bpmn:text` element of a text annotation.
    Text {
        /// Source kept while `text` is unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<String>>,
    },
    /// The `bpmn:conditionExpression` element of an edge.
    Condition {
        /// Source kept while `condition` is unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep: Option<Kept<Option<String>>>,
    },
}

/// Source elements kept verbatim together with the typed value they stand for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept<T> {
    /// The typed value the source decoded to.
    pub value: T,
    /// The source nodes.
    pub xml: Vec<XNode>,
}

/// One task parameter, as a key for kept source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Param {
    /// An input parameter.
    Input(String, ParamValue),
    /// An output parameter.
    Output(Output),
}

/// The edge ids a node lists as `bpmn:incoming` and `bpmn:outgoing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRefs {
    /// Incoming edge ids.
    pub incoming: Vec<String>,
    /// Outgoing edge ids.
    pub outgoing: Vec<String>,
}

impl XElem {
    /// A new element without attributes or children.
    pub fn new(name: impl Into<String>) -> Self {
        XElem {
            name: name.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Adds an attribute (builder style).
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.attrs.push((name.into(), Some(value.into())));
        self
    }

    /// Adds a child (builder style).
    pub fn child(mut self, node: XNode) -> Self {
        self.children.push(node);
        self
    }

    /// The value of an attribute by its qualified name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Child elements.
    pub fn elems(&self) -> impl Iterator<Item = &XElem> {
        self.children.iter().filter_map(|c| match c {
            XNode::Elem(e) => Some(e),
            _ => None,
        })
    }

    /// The concatenated text and CDATA content.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in &self.children {
            match c {
                XNode::Text(t) | XNode::Cdata(t) => s.push_str(t),
                _ => {}
            }
        }
        s
    }

    /// True when the content is (partly) CDATA.
    pub fn has_cdata(&self) -> bool {
        self.children.iter().any(|c| matches!(c, XNode::Cdata(_)))
    }
}

/// Why a byte string is not a well-formed XML document.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlError(pub String);

/// A parsed document: the nodes before the root (declaration, comments), the root and the
/// nodes after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct XDoc {
    /// Declaration, comments and processing instructions before the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prolog: Vec<XNode>,
    /// The root element.
    pub root: XElem,
    /// Comments and processing instructions after the root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epilog: Vec<XNode>,
}

/// Parses UTF-8 XML into a tree.
pub fn parse(xml: &[u8]) -> Result<XDoc, XmlError> {
    let text = std::str::from_utf8(xml).map_err(|e| XmlError(format!("not UTF-8: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<XElem> = Vec::new();
    let mut prolog = Vec::new();
    let mut epilog = Vec::new();
    let mut root: Option<XElem> = None;
    let err = |reader: &Reader<&[u8]>, e: &dyn std::fmt::Display| {
        XmlError(format!("at byte {}: {e}", reader.error_position()))
    };
    loop {
        let event = reader.read_event().map_err(|e| err(&reader, &e))?;
        let node = match event {
            Event::Eof => break,
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = std::str::from_utf8(s.name().as_ref())
                    .map_err(|e| err(&reader, &e))?
                    .to_owned();
                let mut elem = XElem::new(name);
                for a in s.attributes() {
                    let a = a.map_err(|e| err(&reader, &e))?;
                    let key = std::str::from_utf8(a.key.as_ref())
                        .map_err(|e| err(&reader, &e))?
                        .to_owned();
                    let value = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| err(&reader, &e))?
                        .into_owned();
                    elem.attrs.push((key, Some(value)));
                }
                if matches!(event, Event::Start(_)) {
                    if root.is_some() && stack.is_empty() {
                        return Err(err(&reader, &"a second root element"));
                    }
                    stack.push(elem);
                    continue;
                }
                XNode::Elem(elem)
            }
            Event::End(_) => {
                let Some(mut elem) = stack.pop() else {
                    return Err(err(&reader, &"unexpected end tag"));
                };
                tidy(&mut elem.children);
                XNode::Elem(elem)
            }
            Event::Text(t) => XNode::Text(
                t.xml10_content()
                    .map_err(|e| err(&reader, &e))?
                    .into_owned(),
            ),
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(|e| err(&reader, &e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| err(&reader, &e))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => s.to_owned(),
                            None => return Err(err(&reader, &format!("unknown entity &{name};"))),
                        }
                    }
                };
                XNode::Text(s)
            }
            Event::CData(c) => XNode::Cdata(
                c.xml10_content()
                    .map_err(|e| err(&reader, &e))?
                    .into_owned(),
            ),
            Event::Comment(c) => {
                XNode::Comment(c.decode().map_err(|e| err(&reader, &e))?.into_owned())
            }
            Event::PI(p) => XNode::Pi(String::from_utf8_lossy(&p).into_owned()),
            Event::Decl(d) => XNode::Decl(String::from_utf8_lossy(&d).into_owned()),
            Event::DocType(d) => {
                XNode::Doctype(d.decode().map_err(|e| err(&reader, &e))?.into_owned())
            }
        };
        match stack.last_mut() {
            Some(parent) => push_merged(&mut parent.children, node),
            None => match node {
                XNode::Elem(e) => {
                    if root.is_some() {
                        return Err(err(&reader, &"a second root element"));
                    }
                    root = Some(e);
                }
                XNode::Text(t) | XNode::Cdata(t) => {
                    if !t.trim().is_empty() {
                        return Err(err(&reader, &"text outside the root element"));
                    }
                }
                other => {
                    if root.is_some() {
                        epilog.push(other);
                    } else {
                        prolog.push(other);
                    }
                }
            },
        }
    }
    if !stack.is_empty() {
        return Err(XmlError(
            "unexpected end of input: unclosed elements".into(),
        ));
    }
    let root = root.ok_or_else(|| XmlError("no root element".into()))?;
    Ok(XDoc {
        prolog,
        root,
        epilog,
    })
}

/// Appends a node, merging it into a preceding node of the same text kind.
fn push_merged(children: &mut Vec<XNode>, node: XNode) {
    match (children.last_mut(), node) {
        (Some(XNode::Text(a)), XNode::Text(b)) => a.push_str(&b),
        (Some(XNode::Cdata(a)), XNode::Cdata(b)) => a.push_str(&b),
        (_, node) => children.push(node),
    }
}

/// Drops whitespace-only text from an element that has element children: that text is
/// layout, not content.
fn tidy(children: &mut Vec<XNode>) {
    if children
        .iter()
        .any(|c| matches!(c, XNode::Elem(_) | XNode::Hole(_)))
    {
        children.retain(|c| !matches!(c, XNode::Text(t) if t.trim().is_empty()));
    }
}

/// Whether two node lists are the same XML, ignoring whitespace-only text between elements.
pub fn same(a: &[XNode], b: &[XNode]) -> bool {
    let a = significant(a);
    let b = significant(b);
    a.len() == b.len()
        && a.iter().zip(&b).all(|(x, y)| match (x, y) {
            (XNode::Elem(x), XNode::Elem(y)) => {
                x.name == y.name && x.attrs == y.attrs && same(&x.children, &y.children)
            }
            (x, y) => x == y,
        })
}

fn significant(nodes: &[XNode]) -> Vec<&XNode> {
    let mixed = nodes.iter().any(|c| matches!(c, XNode::Elem(_)));
    nodes
        .iter()
        .filter(|c| !(mixed && matches!(c, XNode::Text(t) if t.trim().is_empty())))
        .collect()
}

/// Prints a document with two-space indentation.
pub fn write(doc: &XDoc) -> String {
    let mut out = String::new();
    for n in &doc.prolog {
        write_node(&mut out, n, 0);
        out.push('\n');
    }
    write_elem(&mut out, &doc.root, 0);
    for n in &doc.epilog {
        out.push('\n');
        write_node(&mut out, n, 0);
    }
    out.push('\n');
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push_str("  ");
    }
}

fn write_elem(out: &mut String, e: &XElem, depth: usize) {
    out.push('<');
    out.push_str(&e.name);
    for (k, v) in &e.attrs {
        if let Some(v) = v {
            let _ = write!(out, " {k}=\"{}\"", escape(v, true));
        }
    }
    if e.children.is_empty() {
        out.push_str(" />");
        return;
    }
    out.push('>');
    let block = e
        .children
        .iter()
        .all(|c| !matches!(c, XNode::Text(_) | XNode::Cdata(_)));
    for c in &e.children {
        if block {
            out.push('\n');
            indent(out, depth + 1);
        }
        write_node(out, c, depth + 1);
    }
    if block {
        out.push('\n');
        indent(out, depth);
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

fn write_node(out: &mut String, n: &XNode, depth: usize) {
    match n {
        XNode::Elem(e) => write_elem(out, e, depth),
        XNode::Text(t) => out.push_str(&escape(t, false)),
        XNode::Cdata(t) => {
            out.push_str("<![CDATA[");
            out.push_str(&t.replace("]]>", "]]]]><![CDATA[>"));
            out.push_str("]]>");
        }
        XNode::Comment(t) => {
            let _ = write!(out, "<!--{t}-->");
        }
        XNode::Pi(t) | XNode::Decl(t) => {
            let _ = write!(out, "<?{t}?>");
        }
        XNode::Doctype(t) => {
            let _ = write!(out, "<!DOCTYPE {t}>");
        }
        // Holes are resolved before writing; an unresolved one writes nothing.
        XNode::Hole(_) => {}
    }
}

/// XML text (`attr`: an attribute value in double quotes) with its special characters
/// escaped.
pub fn escape(s: &str, attr: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' if attr => o.push_str("&quot;"),
            '\n' if attr => o.push_str("&#10;"),
            '\t' if attr => o.push_str("&#9;"),
            '\r' => o.push_str("&#13;"),
            c => o.push(c),
        }
    }
    o
}

/// In-scope namespace declarations while walking a tree.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    frames: Vec<Vec<(String, String)>>,
}

impl Scope {
    /// Enters an element: records the namespaces it declares.
    pub fn push(&mut self, e: &XElem) {
        let mut frame = Vec::new();
        for (k, v) in &e.attrs {
            let Some(v) = v else { continue };
            if k == "xmlns" {
                frame.push((String::new(), v.clone()));
            } else if let Some(p) = k.strip_prefix("xmlns:") {
                frame.push((p.to_owned(), v.clone()));
            }
        }
        self.frames.push(frame);
    }

    /// Leaves the innermost element.
    pub fn pop(&mut self) {
        self.frames.pop();
    }

    /// The namespace bound to a prefix (`""` = the default namespace).
    pub fn uri(&self, prefix: &str) -> Option<&str> {
        self.frames
            .iter()
            .rev()
            .flat_map(|f| f.iter())
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }

    /// The prefix bound to a namespace, innermost first.
    pub fn prefix(&self, uri: &str) -> Option<&str> {
        self.frames
            .iter()
            .rev()
            .flat_map(|f| f.iter())
            .find(|(_, u)| u == uri)
            .map(|(p, _)| p.as_str())
    }

    /// Whether an element name is `local` in namespace `ns`.
    pub fn is(&self, qname: &str, ns: &str, local: &str) -> bool {
        let (prefix, l) = split(qname);
        l == local && self.uri(prefix) == Some(ns)
    }

    /// Whether an attribute name is `local` in namespace `ns` (unprefixed attributes have no
    /// namespace).
    pub fn is_attr(&self, qname: &str, ns: &str, local: &str) -> bool {
        match qname.split_once(':') {
            Some((p, l)) => l == local && self.uri(p) == Some(ns),
            None => false,
        }
    }

    /// The qualified name for `local` in namespace `ns`, if the namespace is declared.
    pub fn qname(&self, ns: &str, local: &str) -> Option<String> {
        self.prefix(ns).map(|p| join(p, local))
    }
}

/// Splits a qualified name into prefix (`""` when none) and local name.
pub fn split(qname: &str) -> (&str, &str) {
    qname.split_once(':').unwrap_or(("", qname))
}

/// Joins a prefix and a local name.
pub fn join(prefix: &str, local: &str) -> String {
    if prefix.is_empty() {
        local.to_owned()
    } else {
        format!("{prefix}:{local}")
    }
}
