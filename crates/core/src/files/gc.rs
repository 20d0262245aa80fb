//! The file collector. Two kinds of bytes nobody will ask for again are removed:
//!
//! - **Unattached uploads**: files uploaded (steps 1–3) but never saved into a record, once
//!   older than [`GcConfig::unattached_after`] (default 24 h; spec 01 §13 step 4). The entry
//!   is first claimed (`purgedAt`, which also stops any record from attaching it, on every
//!   node), then its bytes and copies are removed, then the entry itself.
//! - **Files of deleted records** (and of deleted file fields): deleting a record is final,
//!   but its history stays readable and names its files, so their bytes are kept for
//!   [`GcConfig::deleted_after`] (default 30 days) and downloadable from that history; then the
//!   bytes and copies are removed and the entry stays, marked purged (its download answers 404).
//!
//! A removal that fails (storage unreachable) is tried again on the next pass. Several nodes
//! may collect at once: every step is conditional and repeatable.

use std::sync::Arc;
use std::time::Duration;

use kartoteka_model::time::now_ms;
use kartoteka_store::aux::{self, FileRow};

use super::owned_keys;
use super::storage::FileStorage;
use crate::error::{Error, Result};
use crate::App;

/// Entries handled per store round trip.
const BATCH: i64 = 200;

/// When the collector runs and what it removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcConfig {
    /// Time between passes; zero turns the collector off.
    pub interval: Duration,
    /// Age after which an upload never saved into a record is removed.
    pub unattached_after: Duration,
    /// Time the files of a deleted record are kept.
    pub deleted_after: Duration,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            interval: Duration::from_secs(3600),
            unattached_after: Duration::from_secs(24 * 3600),
            deleted_after: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Unattached uploads removed (entries and bytes).
    pub unattached: usize,
    /// Files of deleted records whose bytes were removed.
    pub purged: usize,
    /// Removals that failed and wait for the next pass.
    pub failed: usize,
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Removes every key; true when all are gone.
async fn remove(storage: &dyn FileStorage, row: &FileRow) -> bool {
    let mut ok = true;
    for key in owned_keys(row) {
        if let Err(e) = storage.delete(&key).await {
            tracing::warn!(file = row.db_id, key = %key, error = %e, "file bytes not removed");
            ok = false;
        }
    }
    ok
}

impl App {
    /// One pass of the collector (see the module documentation).
    pub async fn collect_files(&self, cfg: &GcConfig) -> Result<GcReport> {
        let mut report = GcReport::default();
        let storage = self.file_storage();
        let before = now_ms().saturating_sub(ms(cfg.unattached_after));
        // Failed removals stay claimed and come back first: remember them so that a pass ends.
        let mut skip = std::collections::HashSet::new();
        loop {
            let rows = self
                .store
                .read(move |c| aux::unattached_files(c, before, BATCH).map_err(Error::from))
                .await?;
            let rows: Vec<FileRow> = rows
                .into_iter()
                .filter(|r| !skip.contains(&r.db_id))
                .collect();
            if rows.is_empty() {
                break;
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.db_id).collect();
            let claimed = self
                .store
                .write(move |c| aux::claim_unattached(c, &ids).map_err(Error::from))
                .await?;
            let mut done = Vec::new();
            for row in rows.iter().filter(|r| claimed.contains(&r.db_id)) {
                if remove(storage.as_ref(), row).await {
                    done.push(row.db_id);
                } else {
                    report.failed += 1;
                }
            }
            for r in &rows {
                skip.insert(r.db_id);
            }
            report.unattached += done.len();
            self.store
                .write(move |c| aux::delete_claimed(c, &done).map_err(Error::from))
                .await?;
        }
        let before = now_ms().saturating_sub(ms(cfg.deleted_after));
        let mut skip = std::collections::HashSet::new();
        loop {
            let rows = self
                .store
                .read(move |c| aux::purgeable_files(c, before, BATCH).map_err(Error::from))
                .await?;
            let rows: Vec<FileRow> = rows
                .into_iter()
                .filter(|r| !skip.contains(&r.db_id))
                .collect();
            if rows.is_empty() {
                break;
            }
            let mut done = Vec::new();
            for row in &rows {
                skip.insert(row.db_id);
                if remove(storage.as_ref(), row).await {
                    done.push(row.db_id);
                } else {
                    report.failed += 1;
                }
            }
            report.purged += done.len();
            self.store
                .write(move |c| aux::mark_purged(c, &done).map_err(Error::from))
                .await?;
        }
        Ok(report)
    }
}

/// Runs the collector every `cfg.interval` until `shutdown` resolves (a zero interval: never).
pub async fn run(
    app: Arc<App>,
    cfg: GcConfig,
    shutdown: impl std::future::Future<Output = ()> + Send,
) {
    if cfg.interval.is_zero() {
        return;
    }
    tokio::pin!(shutdown);
    let mut tick = tokio::time::interval(cfg.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        match app.collect_files(&cfg).await {
            Ok(r) if r == GcReport::default() => {}
            Ok(r) => tracing::info!(
                unattached = r.unattached,
                purged = r.purged,
                failed = r.failed,
                "file collector"
            ),
            Err(e) => tracing::warn!(error = %e, "file collector"),
        }
    }
}
