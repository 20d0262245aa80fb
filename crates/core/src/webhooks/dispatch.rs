//! The dispatcher: sends the outbox. One worker per hook sends that hook's pending
//! deliveries one after another in `sequenceId` order; a failed try is scheduled again after
//! the next delay of the retry schedule (with jitter) and holds back the later deliveries of
//! that hook, so a receiver always sees its messages in order. After the last delay the
//! delivery has failed (it stays in the log and can be resent) and the next one goes.
//! Everything is in the database: a restart, even after `kill -9`, resumes where it stopped.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kartoteka_model::time::{format_ms, now_ms};
use kartoteka_store::outbox::{self, Attempt, Delivery, Next};
use kartoteka_store::DbValue;
use rand::Rng;

use super::requests::{call, success};
use super::{
    message, seq_column, Subscription, WebhookClient, WEBHOOKS_CATALOG, WEBHOOKS_CATALOG_ID,
};
use crate::error::Result;
use crate::App;

/// Deliveries one worker takes from the database at a time.
const BATCH: i64 = 256;
/// Successful sends recorded in one write.
const FLUSH_EVERY: usize = 64;
/// How often the dispatcher looks without being woken (other nodes, missed wake-ups).
const IDLE_POLL: Duration = Duration::from_secs(1);
/// How often old log entries are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Runs until `shutdown` resolves. Deliveries in flight at shutdown are sent again later
/// (at least once).
/// `client` sends the notifications; give the dispatcher its own (and its own runtime
/// thread), so deliveries keep their pace when the API is busy.
pub async fn run(
    app: Arc<App>,
    client: Arc<dyn WebhookClient>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let active: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let mut last_prune = tokio::time::Instant::now() - PRUNE_EVERY;
    loop {
        let mut wake_at = tokio::time::Instant::now() + IDLE_POLL;
        let mut hooks: Vec<i64> = match app.subscriptions().await {
            Ok(subs) => subs.iter().map(|s| s.db_id).collect(),
            Err(e) => {
                tracing::warn!(error = %e, "could not load webhook subscriptions");
                Vec::new()
            }
        };
        // A hook with a worker running needs no look: the worker drains its queue. Under a
        // stream of changes every create wakes this loop while the one worker sends, so when
        // no hook is left there is nothing to read (no trip to a reader thread either).
        if let Ok(a) = active.lock() {
            hooks.retain(|h| !a.contains(h));
        }
        let heads = if hooks.is_empty() {
            Ok(Vec::new())
        } else {
            app.store
                .read(move |c| outbox::pending_heads(c, &hooks))
                .await
        };
        match heads {
            Ok(heads) => {
                let now = now_ms();
                for (hook, next_at) in heads {
                    let busy = active.lock().map(|a| a.contains(&hook)).unwrap_or(true);
                    if busy {
                        continue;
                    }
                    if next_at > now {
                        let at = tokio::time::Instant::now()
                            + Duration::from_millis((next_at - now) as u64);
                        wake_at = wake_at.min(at);
                        continue;
                    }
                    if let Ok(mut a) = active.lock() {
                        a.insert(hook);
                    }
                    let (app, active, client) = (app.clone(), active.clone(), client.clone());
                    tokio::spawn(async move {
                        if let Err(e) = work(&app, &*client, hook).await {
                            tracing::warn!(error = %e, hook, "webhook worker stopped");
                        }
                        if let Ok(mut a) = active.lock() {
                            a.remove(&hook);
                        }
                        // Deliveries may have arrived while this worker was finishing.
                        app.hooks.wake.notify_one();
                    });
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not read the webhook outbox"),
        }
        if last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = tokio::time::Instant::now();
            prune(&app).await;
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = app.hooks.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
}

async fn prune(app: &App) {
    // Deliveries of hooks deleted through the Records API are given up here.
    if let Ok(subs) = app.subscriptions().await {
        let live: Vec<i64> = subs.iter().map(|s| s.db_id).collect();
        let now = now_ms();
        match app
            .store
            .write(move |c| outbox::drop_orphans(c, &live, now))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(dropped = n, "gave up deliveries of deleted webhooks"),
            Err(e) => tracing::warn!(error = %e, "could not drop deliveries of deleted webhooks"),
        }
    }
    let keep = app.hooks.config.log_retention.as_millis() as i64;
    let before = now_ms() - keep;
    match app.store.write(move |c| outbox::prune(c, before)).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "pruned the webhook delivery log"),
        Err(e) => tracing::warn!(error = %e, "could not prune the webhook delivery log"),
    }
}

/// A finished try waiting to be recorded.
struct Done {
    id: i64,
    attempt: Attempt,
    next: Next,
}

/// Sends the due deliveries of one hook, in order, until none is left or one must wait.
async fn work(app: &Arc<App>, client: &dyn WebhookClient, hook: i64) -> Result<()> {
    loop {
        let batch = app
            .store
            .read(move |c| outbox::pending_of(c, hook, BATCH))
            .await?;
        if batch.is_empty() {
            return Ok(());
        }
        let subs = app.subscriptions().await?;
        let gone = || async {
            let now = now_ms();
            app.store
                .write(move |c| outbox::drop_pending_of(c, hook, now))
                .await
        };
        let Some(sub) = subs.iter().find(|s| s.db_id == hook).cloned() else {
            gone().await?;
            return Ok(());
        };
        let Some(batch) = number(app, &sub, batch).await? else {
            gone().await?;
            return Ok(());
        };
        let mut done: Vec<Done> = Vec::new();
        let mut stop = false;
        for d in batch {
            if d.next_at > now_ms() {
                stop = true;
                break;
            }
            let Some(seq) = d.seq else { continue };
            let body = message(
                &sub.id,
                &d.event,
                seq,
                d.created_at,
                &d.payload,
                d.user_id.as_deref(),
            );
            let (attempt, reply) =
                call(client, &sub, seq, Arc::from(body), app.hooks.config.timeout).await;
            let status = reply.as_ref().map(|r| r.status);
            if status == Some(410) {
                done.push(Done {
                    id: d.id,
                    attempt,
                    next: Next::Delivered,
                });
                record(app, &mut done, &sub, None).await?;
                app.drop_subscription(hook).await?;
                return Ok(());
            }
            if status.is_some_and(success) {
                done.push(Done {
                    id: d.id,
                    attempt,
                    next: Next::Delivered,
                });
                if done.len() >= FLUSH_EVERY {
                    record(app, &mut done, &sub, None).await?;
                }
                continue;
            }
            let next = retry_after(app, &d, &attempt);
            let retry = matches!(next, Next::Retry(_));
            tracing::debug!(hook, delivery = d.id, seq = d.seq, error = ?attempt.error, "webhook delivery failed");
            done.push(Done {
                id: d.id,
                attempt,
                next,
            });
            let failing = failing(app, &sub, &d).then_some(d.created_at);
            record(app, &mut done, &sub, failing).await?;
            if retry {
                // Later deliveries wait for this one: order per hook is kept.
                stop = true;
                break;
            }
        }
        record(app, &mut done, &sub, None).await?;
        if stop {
            return Ok(());
        }
    }
}

/// Gives the deliveries that have none their `sequenceId`: one step of the hook's counter
/// for the whole batch, in one write. `None` when the hook record is gone.
async fn number(
    app: &Arc<App>,
    sub: &Arc<Subscription>,
    mut batch: Vec<Delivery>,
) -> Result<Option<Vec<Delivery>>> {
    let fresh: Vec<usize> = (0..batch.len())
        .filter(|&i| batch[i].seq.is_none())
        .collect();
    if fresh.is_empty() {
        return Ok(Some(batch));
    }
    let column = seq_column(app.schema().catalog(WEBHOOKS_CATALOG_ID)?)?;
    let ids: Vec<i64> = fresh.iter().map(|&i| batch[i].id).collect();
    let hook = sub.db_id;
    let first = app
        .store
        .write(move |c| -> Result<Option<i64>> {
            let k = ids.len() as i64;
            let Some(last) = outbox::increment(c, WEBHOOKS_CATALOG, &column, hook, k)? else {
                return Ok(None);
            };
            outbox::number(c, &ids, last - k + 1)?;
            Ok(Some(last - k + 1))
        })
        .await?;
    let Some(first) = first else {
        return Ok(None);
    };
    for (n, &i) in fresh.iter().enumerate() {
        batch[i].seq = Some(first + n as i64);
    }
    Ok(Some(batch))
}

/// When to try again, or `Failed` once the schedule is used up.
fn retry_after(app: &App, d: &Delivery, a: &Attempt) -> Next {
    let schedule = &app.hooks.config.retry_schedule;
    let tried = d.attempts as usize + 1;
    match schedule.get(tried - 1) {
        Some(delay) => {
            let ms = delay.as_millis() as f64;
            // ±20 % jitter, so that many hooks failing at once do not retry in lockstep.
            let jitter = rand::thread_rng().gen_range(0.8..=1.2);
            Next::Retry(a.at + a.latency_ms + (ms * jitter) as i64)
        }
        None => Next::Failed,
    }
}

/// True when the hook has been failing long enough to be marked.
fn failing(app: &App, sub: &Subscription, d: &Delivery) -> bool {
    sub.failing_since.is_none()
        && now_ms() - d.created_at >= app.hooks.config.failing_after.as_millis() as i64
}

/// Records finished tries in one write; marks the hook failing, or healthy again after a
/// success.
async fn record(
    app: &Arc<App>,
    done: &mut Vec<Done>,
    sub: &Subscription,
    failing_since: Option<i64>,
) -> Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let batch = std::mem::take(done);
    let healthy =
        sub.failing_since.is_some() && batch.iter().any(|d| matches!(d.next, Next::Delivered));
    let column = app
        .schema()
        .catalog(super::WEBHOOKS_CATALOG_ID)?
        .field("$failingSince")
        .map(|f| f.column.clone());
    let hook = sub.db_id;
    app.store
        .write(move |c| -> Result<()> {
            let delivered: Vec<(i64, Attempt)> = batch
                .iter()
                .filter(|d| d.next == Next::Delivered)
                .map(|d| (d.id, d.attempt.clone()))
                .collect();
            outbox::record_delivered(c, &delivered)?;
            for d in batch.iter().filter(|d| d.next != Next::Delivered) {
                outbox::record(c, d.id, &d.attempt, &d.next)?;
            }
            if let Some(col) = &column {
                if healthy {
                    outbox::set_silently(c, WEBHOOKS_CATALOG, col, hook, DbValue::Null)?;
                } else if let Some(t) = failing_since {
                    outbox::set_silently(c, WEBHOOKS_CATALOG, col, hook, format_ms(t).into())?;
                }
            }
            Ok(())
        })
        .await?;
    if healthy || failing_since.is_some() {
        if failing_since.is_some() {
            tracing::warn!(hook, url = %sub.url, "webhook receiver keeps failing: hook marked");
        }
        app.hooks.invalidate();
    }
    Ok(())
}
