//! The JSON IR the engine executes (spec 03 §10): typed nodes and edges in document order,
//! plus the untyped remainder of the source file under `raw`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::xml::{XDoc, XElem};

/// The IR format version written into `irVersion`.
pub const IR_VERSION: u32 = 1;

/// A compiled scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ir {
    /// Always [`IR_VERSION`].
    pub ir_version: u32,
    /// The id of the `bpmn:process` element.
    pub process_id: String,
    /// Flow nodes and annotations in document order.
    pub nodes: Vec<Node>,
    /// Sequence flows in document order, which is also the XOR evaluation order.
    pub edges: Vec<Edge>,
    /// Shape bounds from the diagram, by node id.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub layout: OrderedMap<Bounds>,
    /// What the typed fields do not carry, for a lossless export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw: Option<Raw>,
}

/// A node of the graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// The element id.
    pub id: String,
    /// The `name` attribute (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The `bpmn:documentation` text (empty when absent).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub doc: String,
    /// What the node is.
    #[serde(flatten)]
    pub kind: NodeKind,
}

/// The kinds of nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum NodeKind {
    /// `bpmn:startEvent`.
    Start,
    /// `bpmn:endEvent`.
    End,
    /// `bpmn:serviceTask`: a component.
    Task(Task),
    /// `bpmn:exclusiveGateway`.
    Xor {
        /// The id of the default outgoing edge.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// `bpmn:parallelGateway`.
    And,
    /// `bpmn:intermediateCatchEvent` with a timer.
    Timer {
        /// An ISO-8601 duration, e.g. `PT0.1S`.
        duration: String,
    },
    /// `bpmn:boundaryEvent`.
    Boundary(Boundary),
    /// `bpmn:textAnnotation`: a comment.
    Annotation {
        /// The text of the comment.
        #[serde(default)]
        text: String,
    },
}

/// A component step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// The connector id, e.g. `setvar`, `webRequest`; unknown ids are kept.
    pub connector: String,
    /// Input parameters in source order.
    #[serde(default)]
    pub inputs: OrderedMap<ParamValue>,
    /// Output parameters in source order.
    #[serde(default)]
    pub outputs: Vec<Output>,
}

/// What fires a boundary event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// The task failed.
    Error,
    /// The task ran longer than `duration`.
    Timer,
}

/// A boundary event on a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Boundary {
    /// The task id.
    pub attached_to: String,
    /// Error or timeout.
    pub trigger: Trigger,
    /// The variable that receives the error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code_var: Option<String>,
    /// The variable that receives the error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message_var: Option<String>,
    /// The timeout of a timer boundary (ISO-8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Whether the task is cancelled when the event fires (BPMN default: true).
    #[serde(default = "yes")]
    pub cancel_activity: bool,
}

fn yes() -> bool {
    true
}

/// The value of an input parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "lowercase")]
pub enum ParamValue {
    /// Literal text.
    Const(String),
    /// A JavaScript expression; empty means unset.
    Expr(String),
    /// A selection from a list (usually one item); empty means none.
    List(Vec<String>),
    /// An ordered list of key/value pairs.
    Pairs(Vec<(String, ParamValue)>),
}

/// An output parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Output {
    /// Copy the component's result slot into `target`.
    Slot {
        /// A variable path (spec §5.2); empty discards the result.
        target: String,
        /// The result slot, e.g. `output`, `outputCount`.
        slot: String,
    },
    /// Assign an expression's value to `target` (the `setvar` component).
    Expr {
        /// A variable path (spec §5.2).
        target: String,
        /// The JavaScript expression.
        expr: String,
    },
}

impl Output {
    /// The variable path the output writes.
    pub fn target(&self) -> &str {
        match self {
            Output::Slot { target, .. } | Output::Expr { target, .. } => target,
        }
    }
}

/// A sequence flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The element id.
    pub id: String,
    /// The source node id.
    pub from: String,
    /// The target node id.
    pub to: String,
    /// The JavaScript condition, if the flow has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

/// The bounds of a node's shape in the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// The untyped remainder of the source file.
///
/// `document` is the whole file with every node and edge of the process replaced by an
/// `Item` hole; `elements` holds, by id, each node's and edge's element with its typed parts
/// replaced by holes and typed attribute values by `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Raw {
    /// The document skeleton (definitions, process, diagram, anything unknown).
    pub document: XDoc,
    /// Element skeletons by node or edge id.
    pub elements: OrderedMap<XElem>,
}

impl Ir {
    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The edge with this id.
    pub fn edge(&self, id: &str) -> Option<&Edge> {
        self.edges.iter().find(|e| e.id == id)
    }

    /// The start node (a compiled IR has exactly one).
    pub fn start(&self) -> Option<&Node> {
        self.nodes
            .iter()
            .find(|n| matches!(n.kind, NodeKind::Start))
    }

    /// Edges leaving a node, in document order.
    pub fn outgoing<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.from == id)
    }

    /// Edges entering a node, in document order.
    pub fn incoming<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges.iter().filter(move |e| e.to == id)
    }

    /// Boundary events attached to a task, in document order.
    pub fn boundaries<'a>(
        &'a self,
        task: &'a str,
    ) -> impl Iterator<Item = (&'a Node, &'a Boundary)> + 'a {
        self.nodes.iter().filter_map(move |n| match &n.kind {
            NodeKind::Boundary(b) if b.attached_to == task => Some((n, b)),
            _ => None,
        })
    }

    /// The IR as JSON text.
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: every map key is a string.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads an IR from JSON text.
    pub fn from_json(s: &str) -> Result<Ir, serde_json::Error> {
        serde_json::from_str(s)
    }
}

/// A string-keyed map that keeps insertion order and compares order-sensitively; it reads and
/// writes as a JSON object.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The value for a key.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value for a key, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.0.iter_mut().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets a value; a new key goes to the end. Returns the previous value.
    pub fn insert(&mut self, key: impl Into<String>, value: V) -> Option<V> {
        let key = key.into();
        match self.get_mut(&key) {
            Some(v) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((key, value));
                None
            }
        }
    }

    /// Removes a key, keeping the order of the rest.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let i = self.0.iter().position(|(k, _)| k == key)?;
        Some(self.0.remove(i).1)
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V2<V>(PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for V2<V> {
            type Value = OrderedMap<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
                let mut m = OrderedMap::new();
                while let Some((k, v)) = a.next_entry::<String, V>()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        d.deserialize_map(V2(PhantomData))
    }
}
