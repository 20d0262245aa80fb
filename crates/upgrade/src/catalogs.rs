//! Step 1 (spec 02 §3.1): the dangerous catalogs. S is the system catalogs wherever they
//! are, plus user catalogs placed in a system section; D links to S; I reaches S through a
//! chain of links, found breadth-first so that each chain is a shortest one.

use std::collections::{HashMap, VecDeque};

use kartoteka_core::{Catalog, Schema};
use kartoteka_model::field::source_catalogs;
use kartoteka_model::FieldType;
use serde_json::Value;

use crate::report::{CatalogEntry, CatalogLists, CatalogReason, LinkEdge};

/// The text ids of the system catalogs (spec 02 §1.3, plus `$oauthProviders`).
pub const SYSTEM_CATALOGS: &[&str] = &[
    "$catalogs",
    "$sections",
    "$users",
    "$views",
    "$webhooks",
    "$scripts",
    "$events",
    "$processes",
    "$authServices",
    "$webRequests",
    "$boards",
    "$widgets",
    "$messages",
    "$rightFields",
    "$rights",
    "$companies",
    "$accounts",
    "$invites",
    "$appTags",
    "$apiTags",
    "$companiesGroups",
    "$emailTemplates",
    "$extensions",
    "$requests",
    "$oauthProviders",
];

/// The system sections: a user catalog placed in one is treated as system.
const SYSTEM_SECTIONS: &[&str] = &["$settings", "$system"];

/// The dangerous catalogs by `dbId`, with the lists of the report.
#[derive(Debug, Default)]
pub struct Danger {
    pub reasons: HashMap<i64, CatalogReason>,
    pub lists: CatalogLists,
}

impl Danger {
    /// Whether the catalog is in S ∪ D ∪ I.
    pub fn contains(&self, db_id: i64) -> bool {
        self.reasons.contains_key(&db_id)
    }
}

/// The catalogs an object field points at: its sources, and the catalogs of the views it
/// is restricted to. `view_catalogs` maps a view's `dbId` to its catalog's `dbId`.
fn targets(
    schema: &Schema,
    config: &serde_json::Map<String, Value>,
    view_catalogs: &HashMap<i64, i64>,
) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    let mut add = |id: i64| {
        if !out.contains(&id) {
            out.push(id);
        }
    };
    for c in source_catalogs(config) {
        if let Some(cat) = schema.find_catalog(&c) {
            add(cat.db_id);
        }
    }
    for v in config
        .get("views")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let id_of = |key: &str| match v.get(key) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        // The recommended shape is `{id, catalogId}`; a bare view id is looked up.
        let catalog = match id_of("catalogId") {
            Some(c) => schema.find_catalog(&c).map(|c| c.db_id),
            None => id_of("id")
                .or_else(|| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
                .and_then(|s| s.parse::<i64>().ok())
                .and_then(|view| view_catalogs.get(&view).copied()),
        };
        if let Some(c) = catalog {
            add(c);
        }
    }
    out
}

fn section_of(schema: &Schema, c: &Catalog) -> (String, String) {
    match schema.section_by_db_id(c.section_db_id) {
        Some(s) => (s.id.clone(), s.name.clone()),
        None => (c.section_db_id.to_string(), String::new()),
    }
}

/// How a catalog is written at the end of a chain: a system catalog by its text id, any
/// other by name.
fn label(c: &Catalog) -> String {
    if c.id.starts_with('$') {
        c.id.clone()
    } else {
        c.name.clone()
    }
}

/// Computes S, D and I over the live catalogs.
pub fn classify(schema: &Schema, view_catalogs: &HashMap<i64, i64>) -> Danger {
    let all: Vec<&Catalog> = schema
        .catalogs
        .iter()
        .filter(|c| schema.catalog_alive(c))
        .map(|c| c.as_ref())
        .collect();
    let by_id: HashMap<i64, &Catalog> = all.iter().map(|c| (c.db_id, *c)).collect();
    let mut danger = Danger::default();
    let entry = |c: &Catalog, reason: CatalogReason, links: Vec<LinkEdge>, chain: Vec<LinkEdge>| {
        let (section_id, section_name) = section_of(schema, c);
        let connection = match reason {
            CatalogReason::System => "служебный каталог".to_string(),
            CatalogReason::InSystemSection => format!("в служебном разделе {section_id}"),
            CatalogReason::Direct => links
                .iter()
                .map(|l| format!("{} → {}", l.field_id, l.target_id))
                .collect::<Vec<_>>()
                .join("; "),
            CatalogReason::Indirect => render_chain(&chain, &by_id),
        };
        CatalogEntry {
            id: c.id.clone(),
            db_id: c.db_id,
            name: c.name.clone(),
            section_id,
            section_name,
            reason,
            links,
            chain,
            connection,
        }
    };

    // S.
    for c in &all {
        let in_system_section = schema
            .section_by_db_id(c.section_db_id)
            .is_some_and(|s| SYSTEM_SECTIONS.contains(&s.id.as_str()));
        let reason = if c.is_system || SYSTEM_CATALOGS.contains(&c.id.as_str()) {
            CatalogReason::System
        } else if in_system_section {
            CatalogReason::InSystemSection
        } else {
            continue;
        };
        danger.reasons.insert(c.db_id, reason);
        danger
            .lists
            .system
            .push(entry(c, reason, Vec::new(), Vec::new()));
    }

    // The link graph among the live catalogs that are not in S: (catalog, field) → target.
    let mut edges: Vec<LinkEdge> = Vec::new();
    let mut edge_targets: Vec<(i64, i64)> = Vec::new();
    for c in &all {
        if danger.contains(c.db_id) {
            continue;
        }
        for f in c
            .fields
            .iter()
            .filter(|f| f.field_type == FieldType::Object)
        {
            for t in targets(schema, &f.config, view_catalogs) {
                let Some(target) = by_id.get(&t) else {
                    continue;
                };
                edges.push(LinkEdge {
                    catalog_id: c.id.clone(),
                    catalog_name: c.name.clone(),
                    field_id: f.id.clone(),
                    field_name: f.name.clone(),
                    target_id: target.id.clone(),
                    target_name: target.name.clone(),
                });
                edge_targets.push((c.db_id, t));
            }
        }
    }

    // D, and the first hop of every chain.
    let mut chains: HashMap<i64, Vec<LinkEdge>> = HashMap::new();
    let mut queue: VecDeque<i64> = VecDeque::new();
    for c in &all {
        let links: Vec<LinkEdge> = edges
            .iter()
            .zip(&edge_targets)
            .filter(|(_, (from, to))| {
                *from == c.db_id
                    && matches!(
                        danger.reasons.get(to),
                        Some(CatalogReason::System | CatalogReason::InSystemSection)
                    )
            })
            .map(|(e, _)| e.clone())
            .collect();
        if links.is_empty() || danger.contains(c.db_id) {
            continue;
        }
        let chain = vec![links[0].clone()];
        chains.insert(c.db_id, chain.clone());
        queue.push_back(c.db_id);
        danger.lists.direct.push(entry(
            c,
            CatalogReason::Direct,
            links.clone(),
            chain.clone(),
        ));
    }
    for d in &queue {
        danger.reasons.insert(*d, CatalogReason::Direct);
    }

    // I: breadth-first over reverse edges, from D outwards.
    while let Some(reached) = queue.pop_front() {
        let tail = chains.get(&reached).cloned().unwrap_or_default();
        for (e, (from, to)) in edges.iter().zip(&edge_targets) {
            if *to != reached || danger.contains(*from) {
                continue;
            }
            let Some(c) = by_id.get(from) else {
                continue;
            };
            let mut chain = vec![e.clone()];
            chain.extend(tail.iter().cloned());
            danger.reasons.insert(*from, CatalogReason::Indirect);
            chains.insert(*from, chain.clone());
            queue.push_back(*from);
            danger
                .lists
                .indirect
                .push(entry(c, CatalogReason::Indirect, Vec::new(), chain));
        }
    }
    danger
}

/// `Orders.5 → Clients.7 → $users`.
fn render_chain(chain: &[LinkEdge], by_id: &HashMap<i64, &Catalog>) -> String {
    let mut out: Vec<String> = chain
        .iter()
        .map(|l| format!("{}.{}", l.catalog_name, l.field_id))
        .collect();
    if let Some(last) = chain.last() {
        let end = by_id
            .values()
            .find(|c| c.id == last.target_id)
            .map(|c| label(c))
            .unwrap_or_else(|| last.target_id.clone());
        out.push(end);
    }
    out.join(" → ")
}
