//! Step 3 (spec 02 §3.3): what each script's components do with dangerous data. One pass
//! per script finds the components that read a dangerous catalog, call this server's API,
//! start another script or query the company database; then two fixpoints over «Запуск
//! процесса» carry "dangerous" and then "undetermined" from started scripts to the scripts
//! that start them. Iterating to a fixpoint (rather than recursing) is what makes cycles of
//! scripts starting each other harmless: a cycle adds nothing once its members are settled.

use std::collections::HashSet;

use kartoteka_bpmn::{Ir, NodeKind, Output, ParamValue, Task};
use kartoteka_core::Schema;

use crate::catalogs::Danger;
use crate::expr::shape;
use crate::report::{Finding, Verdict};
use crate::{DbLocation, Options};

/// The six data components and their kinds (spec 02 §3.3).
const DATA_CONNECTORS: &[&str] = &[
    "bpiumGetRecord",
    "bpiumFindRecords",
    "bpiumEdit",
    "bpiumAdd",
    "bpiumGetCatalog",
    "sendMessage",
];
const WEB_REQUEST: &str = "webRequest";
const RUN_PROCESS: &str = "runProcess";
const SQL: &str = "sql";

/// The script selector of «Запуск процесса», named like the catalog selector of the data
/// components (spec 03 §7.2.8 gives the UI labels only).
pub const SCRIPT_FORMAT: &str = "scriptFormat";
pub const SCRIPT_ID: &str = "scriptId";
pub const SCRIPT_ID_FROM_VAR: &str = "scriptIdFromVar";

/// API paths of this server that a script may call.
const API_PATHS: &[&str] = &["/api/v1/", "/api/webrequest/"];

/// What a script file gave the analysis.
#[derive(Debug)]
pub enum Source {
    /// The record has no file: nothing runs.
    None,
    /// The compiled file.
    Ir(Box<Ir>),
    /// The file could not be read or compiled; the text says why.
    Unreadable(String),
}

/// What one script does, before the fixpoints.
#[derive(Debug, Default)]
pub struct Scan {
    pub findings: Vec<Finding>,
    /// Static targets of «Запуск процесса», as written (a script id).
    pub starts: Vec<String>,
    /// Places in its expressions and code that look like numeric ids of 1.x
    /// ([`crate::expr::legacy_ids`]).
    pub hints: Vec<String>,
}

/// The legacy-id hints of every expression of a scenario: parameters (a Code component's
/// source included), assignments and the conditions of its flows.
fn hints(ir: &Ir) -> Vec<String> {
    let mut sources: Vec<&str> = Vec::new();
    for n in &ir.nodes {
        let NodeKind::Task(t) = &n.kind else { continue };
        for (name, p) in t.inputs.iter() {
            match p {
                ParamValue::Const(code) if t.connector == "code" && name == "source" => {
                    sources.push(code)
                }
                p => expressions(p, &mut sources),
            }
        }
        for o in &t.outputs {
            if let Output::Expr { expr, .. } = o {
                sources.push(expr);
            }
        }
    }
    sources.extend(ir.edges.iter().filter_map(|e| e.condition.as_deref()));
    let mut out: Vec<String> = Vec::new();
    for h in sources.into_iter().flat_map(crate::expr::legacy_ids) {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

/// The value of a parameter as far as a static reading gets.
enum Lit {
    Unset,
    Literal(String),
    Dynamic,
}

fn literal(p: Option<&ParamValue>) -> Lit {
    match p {
        None => Lit::Unset,
        Some(ParamValue::Const(s)) if s.trim().is_empty() => Lit::Unset,
        Some(ParamValue::Const(s)) => Lit::Literal(s.trim().to_string()),
        Some(ParamValue::Expr(e)) if e.trim().is_empty() => Lit::Unset,
        Some(ParamValue::Expr(e)) => match shape(e).literal {
            Some(v) => Lit::Literal(v.trim().to_string()),
            None => Lit::Dynamic,
        },
        Some(ParamValue::List(v)) => match v.first().filter(|s| !s.trim().is_empty()) {
            Some(s) => Lit::Literal(s.trim().to_string()),
            None => Lit::Unset,
        },
        Some(ParamValue::Pairs(_)) => Lit::Dynamic,
    }
}

/// A list (or constant) choice such as `catalogFormat`.
fn choice(p: Option<&ParamValue>) -> Option<String> {
    match literal(p) {
        Lit::Literal(s) => Some(s),
        _ => None,
    }
}

/// Every expression inside a parameter (pair values included).
fn expressions<'a>(p: &'a ParamValue, out: &mut Vec<&'a str>) {
    match p {
        ParamValue::Expr(e) => out.push(e),
        ParamValue::Pairs(pairs) => {
            for (_, v) in pairs {
                expressions(v, out);
            }
        }
        ParamValue::Const(_) | ParamValue::List(_) => {}
    }
}

/// The variable an output path writes: `data.rows[0]` → `data`.
fn root(target: &str) -> &str {
    let end = target.find(['.', '[']).unwrap_or(target.len());
    target[..end].trim()
}

/// A `scheme://user@host:port/path` address split into its host and the rest; an address
/// without a scheme (or `//`) is relative and has no host.
fn split_url(url: &str) -> (Option<String>, String) {
    let rest = match url.find("://") {
        Some(i)
            if url[..i]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+') =>
        {
            &url[i + 3..]
        }
        _ => match url.strip_prefix("//") {
            Some(r) => r,
            None => {
                let path = if url.starts_with('/') {
                    url.to_string()
                } else {
                    format!("/{url}")
                };
                return (None, path);
            }
        },
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit('@').next().unwrap_or(authority);
    (Some(normal_host(host)), rest[end..].to_string())
}

/// A host without port, lower-cased, with every loopback name written `localhost`.
pub fn normal_host(host: &str) -> String {
    let h = host.trim().to_ascii_lowercase();
    let h = if let Some(inner) = h.strip_prefix('[') {
        inner.split(']').next().unwrap_or("").to_string()
    } else {
        match h.rsplit_once(':') {
            Some((name, port))
                if !name.contains(':') && port.chars().all(|c| c.is_ascii_digit()) =>
            {
                name.to_string()
            }
            _ => h,
        }
    };
    match h.as_str() {
        "127.0.0.1" | "::1" | "0.0.0.0" => "localhost".into(),
        _ => h,
    }
}

fn is_api_path(path: &str) -> bool {
    API_PATHS.iter().any(|p| path.contains(p))
}

/// Reads one script's components.
pub fn scan(ir: &Ir, schema: &Schema, danger: &Danger, opts: &Options) -> Scan {
    let mut out = Scan {
        hints: hints(ir),
        ..Scan::default()
    };
    let hosts: Vec<String> = opts
        .api_hosts
        .iter()
        .map(|h| normal_host(h))
        .chain(std::iter::once("localhost".to_string()))
        .collect();
    let tasks: Vec<(&str, &str, &Task)> = ir
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Task(t) => Some((n.id.as_str(), n.name.as_str(), t)),
            _ => None,
        })
        .collect();
    let mut tainted: HashSet<String> = HashSet::new();
    for (id, name, task) in &tasks {
        let mut find = |verdict: Verdict, reason: String| {
            out.findings.push(Finding {
                node_id: id.to_string(),
                node_name: name.to_string(),
                connector: task.connector.clone(),
                verdict,
                reason,
            })
        };
        let c = task.connector.as_str();
        if DATA_CONNECTORS.contains(&c) {
            let by_var = choice(task.inputs.get("catalogFormat")).as_deref() == Some("var");
            let selector = if by_var {
                task.inputs.get("catalogIdFromVar")
            } else {
                task.inputs.get("catalogId")
            };
            match literal(selector) {
                Lit::Unset => {}
                Lit::Dynamic => find(Verdict::Undetermined, "dynamic_catalog".into()),
                Lit::Literal(id) => {
                    let hit = schema
                        .find_catalog(&id)
                        .filter(|cat| schema.catalog_alive(cat) && danger.contains(cat.db_id));
                    if let Some(cat) = hit {
                        find(
                            Verdict::Dangerous,
                            format!("reads_dangerous_catalog:{}", cat.id),
                        );
                        for o in &task.outputs {
                            let r = root(o.target());
                            if !r.is_empty() {
                                tainted.insert(r.to_string());
                            }
                        }
                    }
                }
            }
        } else if c == WEB_REQUEST {
            if let Some(v) = url_verdict(task.inputs.get("query"), &hosts) {
                find(v.0, v.1.into());
            }
        } else if c == SQL && opts.server_edition {
            if let Some(v) = sql_verdict(task, opts.database.as_ref()) {
                find(v.0, v.1.into());
            }
        }
    }

    // Dangerous data travels through variables: assignments and code components that read a
    // tainted variable taint what they write.
    loop {
        let before = tainted.len();
        for (_, _, task) in &tasks {
            let mut reads: Vec<&str> = Vec::new();
            match task.connector.as_str() {
                "setvar" => {
                    for o in &task.outputs {
                        if let Output::Expr { target, expr } = o {
                            if shape(expr).variables.iter().any(|v| tainted.contains(v)) {
                                tainted.insert(root(target).to_string());
                            }
                        }
                    }
                    continue;
                }
                "code" => {
                    for (_, p) in task.inputs.iter() {
                        expressions(p, &mut reads);
                    }
                }
                _ => continue,
            }
            if reads
                .iter()
                .any(|e| shape(e).variables.iter().any(|v| tainted.contains(v)))
            {
                for o in &task.outputs {
                    tainted.insert(root(o.target()).to_string());
                }
            }
        }
        if tainted.len() == before {
            break;
        }
    }

    for (id, name, task) in &tasks {
        if task.connector != RUN_PROCESS {
            continue;
        }
        let mut find = |verdict: Verdict, reason: String| {
            out.findings.push(Finding {
                node_id: id.to_string(),
                node_name: name.to_string(),
                connector: task.connector.clone(),
                verdict,
                reason,
            })
        };
        let by_var = choice(task.inputs.get(SCRIPT_FORMAT)).as_deref() == Some("var");
        let selector = if by_var {
            task.inputs.get(SCRIPT_ID_FROM_VAR)
        } else {
            task.inputs.get(SCRIPT_ID)
        };
        match literal(selector) {
            Lit::Unset => {}
            Lit::Dynamic => find(Verdict::Undetermined, "dynamic_script".into()),
            Lit::Literal(s) => {
                if !out.starts.contains(&s) {
                    out.starts.push(s);
                }
            }
        }
        let mut exprs: Vec<&str> = Vec::new();
        for (k, p) in task.inputs.iter() {
            if ![SCRIPT_FORMAT, SCRIPT_ID, SCRIPT_ID_FROM_VAR].contains(&k) {
                expressions(p, &mut exprs);
            }
        }
        if exprs
            .iter()
            .any(|e| shape(e).variables.iter().any(|v| tainted.contains(v)))
        {
            find(Verdict::Dangerous, "passes_dangerous_data".into());
        }
    }
    out
}

/// The verdict on a web request's address (spec 02 §3.3, WEB_REQUEST); `None` is safe.
fn url_verdict(p: Option<&ParamValue>, hosts: &[String]) -> Option<(Verdict, &'static str)> {
    let ours = |host: &Option<String>| host.as_ref().is_none_or(|h| hosts.contains(h));
    let dangerous = Some((Verdict::Dangerous, "calls_bpium_api"));
    let undetermined = Some((Verdict::Undetermined, "dynamic_url"));
    let src = match p {
        None => return None,
        Some(ParamValue::Const(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return None;
            }
            let (host, path) = split_url(s);
            return if ours(&host) && is_api_path(&path) {
                dangerous
            } else {
                None
            };
        }
        Some(ParamValue::Expr(e)) if e.trim().is_empty() => return None,
        Some(ParamValue::Expr(e)) => e,
        Some(ParamValue::List(_) | ParamValue::Pairs(_)) => return undetermined,
    };
    let s = shape(src);
    if let Some(url) = s.literal {
        let (host, path) = split_url(url.trim());
        return if ours(&host) && is_api_path(&path) {
            dangerous
        } else {
            None
        };
    }
    if s.literal_parts.iter().any(|p| is_api_path(p)) {
        return dangerous;
    }
    // A literal start that fixes another server's address: the rest cannot make it ours.
    if let Some(prefix) = s.prefix {
        let prefix = prefix.trim_start();
        let fixed = prefix
            .find("://")
            .map(|i| prefix[i + 3..].contains(['/', '?', '#']))
            .unwrap_or(false);
        if fixed {
            let (host, _) = split_url(prefix);
            if !ours(&host) {
                return None;
            }
        }
    }
    undetermined
}

/// The verdict on an SQL component's connection (server edition only); `None` is safe.
fn sql_verdict(task: &Task, db: Option<&DbLocation>) -> Option<(Verdict, &'static str)> {
    let dangerous = Some((Verdict::Dangerous, "sql_on_bpium_db"));
    let undetermined = Some((Verdict::Undetermined, "dynamic_sql_connection"));
    let by_string =
        choice(task.inputs.get("connectionType")).as_deref() == Some("connectionString");
    let (host, database) = if by_string {
        match literal(task.inputs.get("connectionString")) {
            Lit::Unset => return None,
            Lit::Dynamic => return undetermined,
            Lit::Literal(s) => {
                let (host, path) = split_url(&s);
                let database = path
                    .trim_start_matches('/')
                    .split(['?', '#'])
                    .next()
                    .unwrap_or("")
                    .to_string();
                (host, database)
            }
        }
    } else {
        let host = match literal(task.inputs.get("host")) {
            Lit::Unset => None,
            Lit::Dynamic => return undetermined,
            Lit::Literal(h) => Some(normal_host(&h)),
        };
        match literal(task.inputs.get("database")) {
            Lit::Unset => return None,
            Lit::Dynamic => return undetermined,
            Lit::Literal(d) => (host, d),
        }
    };
    let db = db?;
    let same_host = match (&db.host, &host) {
        (Some(ours), Some(theirs)) => normal_host(ours) == *theirs,
        // A file database: the host does not matter.
        (None, _) => true,
        // Our server database with no host given: the component's default is local.
        (Some(ours), None) => normal_host(ours) == "localhost",
    };
    let same_db = match db.host {
        Some(_) => database == db.database,
        None => {
            let name = |p: &str| {
                std::path::Path::new(p)
                    .file_name()
                    .map(|n| n.to_os_string())
            };
            database == db.database
                || (name(&database).is_some() && name(&database) == name(&db.database))
        }
    };
    if same_host && same_db {
        dangerous
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(p: ParamValue) -> Option<(Verdict, &'static str)> {
        url_verdict(
            Some(&p),
            &["kartoteka.example.com".to_string(), "localhost".into()],
        )
    }

    #[test]
    fn urls() {
        use ParamValue::{Const, Expr};
        let d = Some((Verdict::Dangerous, "calls_bpium_api"));
        let u = Some((Verdict::Undetermined, "dynamic_url"));
        assert_eq!(web(Expr("'/api/v1/catalogs/3/records'".into())), d);
        assert_eq!(web(Const("api/v1/catalogs".into())), d);
        assert_eq!(
            web(Expr("'https://KARTOTEKA.example.com:443/api/v1/x'".into())),
            d
        );
        assert_eq!(
            web(Expr("'http://127.0.0.1:8080/api/webrequest/hook'".into())),
            d
        );
        assert_eq!(
            web(Expr("'https://other.example.org/api/v1/catalogs'".into())),
            None
        );
        assert_eq!(
            web(Expr(
                "'https://api.telegram.org/bot' + token + '/send'".into()
            )),
            None
        );
        assert_eq!(web(Expr("base + '/api/v1/catalogs/' + id".into())), d);
        assert_eq!(web(Expr("`${base}/records`".into())), u);
        assert_eq!(web(Expr("url".into())), u);
        assert_eq!(
            web(Expr("'https://kartoteka.example.com/' + path".into())),
            u
        );
        assert_eq!(web(Expr("'https://' + host + '/x'".into())), u);
        assert_eq!(web(Expr("  ".into())), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(normal_host("Example.COM:8080"), "example.com");
        assert_eq!(normal_host("[::1]:80"), "localhost");
        assert_eq!(normal_host("127.0.0.1"), "localhost");
        assert_eq!(
            split_url("https://u:p@h.io:1/a?b").0.as_deref(),
            Some("h.io")
        );
        assert_eq!(split_url("/a/b"), (None, "/a/b".to_string()));
    }
}
