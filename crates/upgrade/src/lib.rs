//! The upgrade-readiness analysis of spec 02 §3 ("dangerous automations"): which catalogs,
//! events, scripts and webhooks may depend on the legacy numeric ids of system catalogs,
//! sections and fields. [`analyze`] reads a store (read-only) and the scenario files from file
//! storage and returns a [`Report`]; [`xlsx::write`] renders the Excel report of §3.5.
//!
//! The analysis only reads: the store is expected to be opened with
//! `Store::open_read_only`, and file storage is only asked for bytes.

mod catalogs;
mod expr;
mod load;
pub mod report;
mod scripts;
pub mod xlsx;

use std::collections::{HashMap, HashSet};

use kartoteka_core::files::storage::FileStorage;
use kartoteka_store::{Store, StoreError};

pub use catalogs::SYSTEM_CATALOGS;
pub use report::*;
pub use scripts::{SCRIPT_FORMAT, SCRIPT_ID, SCRIPT_ID_FROM_VAR};

use crate::scripts::{Scan, Source};

/// What the analysis needs to know beyond the store.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also check SQL components against the company database (spec 02 §3.3, SQL_QUERY).
    pub server_edition: bool,
    /// Host names at which scripts reach this server (its domains, `HOST`). Loopback
    /// addresses and relative URLs always count as this server.
    pub api_hosts: Vec<String>,
    /// Where the company database is, for the SQL check.
    pub database: Option<DbLocation>,
}

/// A database's location as an SQL component would name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbLocation {
    /// The server host; `None` for an SQLite file.
    pub host: Option<String>,
    /// The database name, or the SQLite file path.
    pub database: String,
}

impl DbLocation {
    /// The location of the database a store URL names: `postgres://user@host:port/db?…`,
    /// or an SQLite path (`sqlite://PATH` or a plain path).
    pub fn from_store_url(url: &str) -> DbLocation {
        if let Some(rest) = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let authority = &rest[..end];
            let host = authority.rsplit('@').next().unwrap_or(authority);
            let database = rest[end..]
                .strip_prefix('/')
                .unwrap_or("")
                .split('?')
                .next()
                .unwrap_or("")
                .to_string();
            let host = if host.is_empty() { "localhost" } else { host };
            DbLocation {
                host: Some(scripts::normal_host(host)),
                database,
            }
        } else {
            DbLocation {
                host: None,
                database: url.strip_prefix("sqlite://").unwrap_or(url).to_string(),
            }
        }
    }
}

/// Why the analysis could not be made.
#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Store(StoreError),
    /// File storage failed for a reason other than a missing object.
    #[error("reading scenario file {file_id} ({key}): {reason}")]
    Storage {
        file_id: i64,
        key: String,
        reason: String,
    },
    /// The report could not be written.
    #[error("writing the report: {0}")]
    Write(String),
}

impl From<StoreError> for UpgradeError {
    fn from(e: StoreError) -> Self {
        UpgradeError::Store(e)
    }
}

/// Runs the whole analysis (spec 02 §3, steps 1–4).
pub async fn analyze(
    store: &Store,
    files: &dyn FileStorage,
    opts: &Options,
) -> Result<Report, UpgradeError> {
    let data = store.read(load::load).await?;
    let sources = load::sources(&data, files).await?;
    Ok(classify(&data, &sources, opts))
}

/// Steps 1–4 over what was read.
fn classify(data: &load::Loaded, sources: &[Source], opts: &Options) -> Report {
    let schema = &data.schema;
    let danger = catalogs::classify(schema, &data.view_catalogs);

    // Step 2: events.
    let script_names: HashMap<i64, (String, String)> = data
        .scripts
        .iter()
        .map(|s| (s.db_id, (s.id.clone(), s.name.clone())))
        .collect();
    let named_script = |db_id: Option<i64>| {
        db_id
            .and_then(|d| script_names.get(&d))
            .map(|(id, name)| Named {
                id: id.clone(),
                name: name.clone(),
            })
    };
    let mut events = Vec::new();
    let mut triggers: HashMap<i64, Vec<Trigger>> = HashMap::new();
    for e in &data.events {
        let catalog = e
            .catalog
            .and_then(|c| schema.catalog_by_db_id(c))
            .filter(|c| schema.catalog_alive(c));
        let dangerous = catalog.is_some_and(|c| danger.contains(c.db_id));
        if let Some(s) = e.script.filter(|s| script_names.contains_key(s)) {
            triggers.entry(s).or_default().push(Trigger {
                kind: TriggerKind::Event,
                id: e.id.clone(),
                name: e.name.clone(),
                dangerous,
            });
        }
        events.push(EventEntry {
            id: e.id.clone(),
            name: e.name.clone(),
            status: e.status.clone(),
            catalog: catalog.map(|c| Named {
                id: c.id.clone(),
                name: c.name.clone(),
            }),
            dangerous,
            broken_reference: catalog.is_none(),
            script: named_script(e.script),
        });
    }
    for l in &data.listeners {
        if let Some(s) = l.script.filter(|s| script_names.contains_key(s)) {
            triggers.entry(s).or_default().push(Trigger {
                kind: TriggerKind::Listener,
                id: l.id.clone(),
                name: l.name.clone(),
                dangerous: false,
            });
        }
    }

    // Step 3: scan every script, then settle «Запуск процесса» by fixpoints.
    let mut scans: Vec<Scan> = data
        .scripts
        .iter()
        .zip(sources)
        .map(|(_, src)| match src {
            Source::None => Scan::default(),
            Source::Ir(ir) => scripts::scan(ir, schema, &danger, opts),
            Source::Unreadable(why) => Scan {
                findings: vec![Finding {
                    node_id: String::new(),
                    node_name: String::new(),
                    connector: String::new(),
                    verdict: Verdict::Undetermined,
                    reason: format!("unreadable_file: {why}"),
                }],
                ..Scan::default()
            },
        })
        .collect();
    let index_of = |id: &str| -> Option<usize> {
        data.scripts.iter().position(|s| s.id == id).or_else(|| {
            let n = kartoteka_model::ids::as_db_id(id)?;
            data.scripts.iter().position(|s| s.db_id == n)
        })
    };
    let starts: Vec<Vec<usize>> = scans
        .iter()
        .map(|s| s.starts.iter().filter_map(|t| index_of(t)).collect())
        .collect();
    let n = data.scripts.len();
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut verdict = vec![Verdict::Safe; n];
    let mut in_b = vec![false; n];
    for (i, s) in data.scripts.iter().enumerate() {
        let ts = triggers.get(&s.db_id).map(Vec::as_slice).unwrap_or(&[]);
        if ts.iter().any(|t| t.dangerous) {
            in_b[i] = true;
            verdict[i] = Verdict::Dangerous;
            reasons[i].push("dangerous_event".into());
        }
        for f in scans[i]
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Dangerous)
        {
            verdict[i] = Verdict::Dangerous;
            push_unique(&mut reasons[i], &f.reason);
        }
    }
    // A script that starts a dangerous one is dangerous; repeat until nothing changes.
    fixpoint(
        &starts,
        &data.scripts,
        &mut verdict,
        &mut reasons,
        Verdict::Dangerous,
        "starts_dangerous_script",
    );
    for i in 0..n {
        if verdict[i] == Verdict::Safe {
            for f in scans[i]
                .findings
                .iter()
                .filter(|f| f.verdict == Verdict::Undetermined)
            {
                verdict[i] = Verdict::Undetermined;
                push_unique(&mut reasons[i], &f.reason);
            }
        }
    }
    fixpoint(
        &starts,
        &data.scripts,
        &mut verdict,
        &mut reasons,
        Verdict::Undetermined,
        "starts_undetermined_script",
    );

    let mut lists = ScriptLists::default();
    for (i, s) in data.scripts.iter().enumerate() {
        let ts = triggers.remove(&s.db_id).unwrap_or_default();
        let entry = ScriptEntry {
            id: s.id.clone(),
            name: s.name.clone(),
            reasons: std::mem::take(&mut reasons[i]),
            unreferenced: ts.is_empty(),
            triggers: ts,
            starts: starts[i]
                .iter()
                .map(|&t| data.scripts[t].id.clone())
                .collect(),
            findings: scans[i]
                .findings
                .iter()
                .filter(|f| f.verdict >= verdict[i] && f.verdict != Verdict::Safe)
                .cloned()
                .collect(),
            // Safe scripts get no data from S: their numbers are not legacy ids.
            hints: if in_b[i] || verdict[i] != Verdict::Safe {
                std::mem::take(&mut scans[i].hints)
            } else {
                Vec::new()
            },
        };
        match (in_b[i], verdict[i]) {
            (true, _) => lists.b.push(entry),
            (false, Verdict::Dangerous) => lists.a.push(entry),
            (false, Verdict::Undetermined) => lists.c.push(entry),
            (false, Verdict::Safe) => lists.safe.push(entry),
        }
    }

    // Step 4: webhooks.
    let webhooks = data
        .webhooks
        .iter()
        .filter_map(|w| {
            let c = schema
                .catalog_by_db_id(w.catalog?)
                .filter(|c| schema.catalog_alive(c))?;
            let reason = *danger.reasons.get(&c.db_id)?;
            Some(WebhookEntry {
                id: w.id.clone(),
                url: w.url.clone(),
                status: w.status.clone(),
                catalog: Named {
                    id: c.id.clone(),
                    name: c.name.clone(),
                },
                catalog_reason: reason,
            })
        })
        .collect();

    Report {
        catalogs: danger.lists,
        events,
        scripts: lists,
        webhooks,
    }
}

fn push_unique(list: &mut Vec<String>, reason: &str) {
    if !list.iter().any(|r| r == reason) {
        list.push(reason.to_string());
    }
}

/// Raises every script below `level` that starts a script at `level` (or above) to `level`,
/// until nothing changes. Each round raises at least one script, so it ends after at most
/// one round per script, cycles included.
fn fixpoint(
    starts: &[Vec<usize>],
    scripts: &[load::Script],
    verdict: &mut [Verdict],
    reasons: &mut [Vec<String>],
    level: Verdict,
    code: &str,
) {
    loop {
        let mut raised: HashSet<usize> = HashSet::new();
        for (i, targets) in starts.iter().enumerate() {
            if verdict[i] >= level {
                continue;
            }
            for &t in targets {
                if verdict[t] >= level {
                    raised.insert(i);
                    push_unique(&mut reasons[i], &format!("{code}:{}", scripts[t].id));
                }
            }
        }
        if raised.is_empty() {
            break;
        }
        for i in raised {
            verdict[i] = level;
        }
    }
}
