//! The result of the analysis (spec 02 §3): every list of the Excel report plus the events
//! and the dangerous webhooks, serialisable as the `--json` output.

use serde::Serialize;

/// The whole result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Step 1: the dangerous catalogs S, D and I.
    pub catalogs: CatalogLists,
    /// Step 2: every `$events` record, dangerous or safe.
    pub events: Vec<EventEntry>,
    /// Step 3: the scripts in lists A, B, C, and the safe ones.
    pub scripts: ScriptLists,
    /// Step 4: `$webhooks` records whose catalog is dangerous.
    pub webhooks: Vec<WebhookEntry>,
}

/// The three catalog lists of the sheet «Опасные каталоги».
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CatalogLists {
    /// S: system catalogs, and user catalogs placed in `$settings` / `$system`.
    pub system: Vec<CatalogEntry>,
    /// D: catalogs with a link field pointing at S.
    pub direct: Vec<CatalogEntry>,
    /// I: catalogs that reach S through a chain of links.
    pub indirect: Vec<CatalogEntry>,
}

/// Why a catalog is dangerous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CatalogReason {
    /// One of the system catalogs of spec 02 §1.3, wherever it is placed.
    System,
    /// A user catalog placed in `$settings` or `$system`.
    InSystemSection,
    /// Links to S directly.
    Direct,
    /// Links to S through other catalogs.
    Indirect,
}

/// A dangerous catalog.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    pub id: String,
    pub db_id: i64,
    pub name: String,
    /// The public id of the section the catalog is in.
    pub section_id: String,
    pub section_name: String,
    pub reason: CatalogReason,
    /// D: the link fields that point at S.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkEdge>,
    /// D and I: the shortest chain of links from this catalog to S.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<LinkEdge>,
    /// The «Связь» column: the reason, the link fields, or the chain as text.
    pub connection: String,
}

/// One link field of a catalog and the catalog it points at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkEdge {
    pub catalog_id: String,
    pub catalog_name: String,
    pub field_id: String,
    pub field_name: String,
    pub target_id: String,
    pub target_name: String,
}

/// A catalog, record or script named by id and name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

/// A `$events` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEntry {
    pub id: String,
    pub name: String,
    /// The `$status` item (`$on` / `$off`), when set.
    pub status: Option<String>,
    /// The catalog the event watches, when it resolves to a live catalog.
    pub catalog: Option<Named>,
    /// The catalog is in S ∪ D ∪ I.
    pub dangerous: bool,
    /// No catalog, or a deleted one: the event is safe but points nowhere.
    pub broken_reference: bool,
    /// The script it runs.
    pub script: Option<Named>,
}

/// The script lists of the sheet «Список сценариев», plus the safe scripts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ScriptLists {
    /// A: dangerous scripts of safe events, of listeners, or unreferenced.
    pub a: Vec<ScriptEntry>,
    /// B: scripts of dangerous events.
    pub b: Vec<ScriptEntry>,
    /// C: scripts that could not be determined.
    pub c: Vec<ScriptEntry>,
    /// Scripts found safe.
    pub safe: Vec<ScriptEntry>,
}

/// What started a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A `$events` record.
    Event,
    /// A `$webRequests` record.
    Listener,
}

/// An event or listener that runs a script.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    pub id: String,
    pub name: String,
    /// For events: whether the event is dangerous.
    pub dangerous: bool,
}

/// How bad one component of a script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Safe,
    Undetermined,
    Dangerous,
}

/// One component (or the file itself) that made a script dangerous or undetermined.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The BPMN element id; empty for findings about the whole file.
    pub node_id: String,
    pub node_name: String,
    /// The connector id (`bpiumGetRecord`, `webRequest`, …).
    pub connector: String,
    pub verdict: Verdict,
    /// A reason code, e.g. `reads_dangerous_catalog:$users`, `dynamic_url`.
    pub reason: String,
}

/// A `$scripts` record and its classification.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScriptEntry {
    pub id: String,
    pub name: String,
    /// The reason codes behind the list the script is in, in order of discovery.
    pub reasons: Vec<String>,
    /// The events and listeners that run it.
    pub triggers: Vec<Trigger>,
    /// No event and no listener runs it (it may still be started by another script).
    pub unreferenced: bool,
    /// Scripts it starts with «Запуск процесса» (static targets, by id).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub starts: Vec<String>,
    /// The components behind the reasons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// Places in its expressions and code that look like 1.x numeric ids (`values['1']`,
    /// `catalogId == '3'`): what to rewrite (§3.3, the hints column). Dangerous and
    /// undetermined scripts only.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hints: Vec<String>,
}

/// A dangerous webhook.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEntry {
    pub id: String,
    pub url: String,
    pub status: Option<String>,
    pub catalog: Named,
    /// Why its catalog is dangerous.
    pub catalog_reason: CatalogReason,
}
