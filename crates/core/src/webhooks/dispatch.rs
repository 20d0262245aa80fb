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
use kartoteka_store::{Conn, DbValue};
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
/// Each look at the queue is one write: it records the sends of the look before and takes
/// the next batch, numbered ([`take`]).
async fn work(app: &Arc<App>, client: &dyn WebhookClient, hook: i64) -> Result<()> {
    let mut done: Vec<Done> = Vec::new();
    // The subscription the unrecorded sends in `done` went to.
    let mut sent_to: Option<Arc<Subscription>> = None;
    loop {
        let subs = app.subscriptions().await?;
        let Some(sub) = subs.iter().find(|s| s.db_id == hook).cloned() else {
            if let Some(prev) = &sent_to {
                record(app, &mut done, prev, None).await?;
            }
            give_up(app, hook).await?;
            return Ok(());
        };
        let Some(batch) = take(app, &sub, &mut done).await? else {
            give_up(app, hook).await?;
            return Ok(());
        };
        if batch.is_empty() {
            return Ok(());
        }
        for d in batch {
            if d.next_at > now_ms() {
                record(app, &mut done, &sub, None).await?;
                return Ok(());
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
                return Ok(());
            }
        }
        sent_to = Some(sub);
    }
}

/// Gives up the queue of a hook whose record is gone.
async fn give_up(app: &Arc<App>, hook: i64) -> Result<()> {
    let now = now_ms();
    app.store
        .write(move |c| outbox::drop_pending_of(c, hook, now))
        .await?;
    Ok(())
}

/// In one write: records the finished tries in `done`, then takes the hook's next pending
/// deliveries and gives those that have none their `sequenceId` (one step of the hook's
/// counter for the whole batch). `None` when the hook record is gone (the tries are
/// recorded all the same).
async fn take(
    app: &Arc<App>,
    sub: &Arc<Subscription>,
    done: &mut Vec<Done>,
) -> Result<Option<Vec<Delivery>>> {
    let column = seq_column(app.schema().catalog(WEBHOOKS_CATALOG_ID)?)?;
    let finished = Finished::new(app, done, sub, None)?;
    let marks = finished.marks;
    let hook = sub.db_id;
    let taken = app
        .store
        .write(move |c| -> Result<Option<Vec<Delivery>>> {
            finished.write(c)?;
            let mut batch = outbox::pending_of(c, hook, BATCH)?;
            let fresh: Vec<usize> = (0..batch.len())
                .filter(|&i| batch[i].seq.is_none())
                .collect();
            if fresh.is_empty() {
                return Ok(Some(batch));
            }
            let ids: Vec<i64> = fresh.iter().map(|&i| batch[i].id).collect();
            let k = ids.len() as i64;
            let Some(last) = outbox::increment(c, WEBHOOKS_CATALOG, &column, hook, k)? else {
                return Ok(None);
            };
            let first = last - k + 1;
            outbox::number(c, &ids, first)?;
            for (n, &i) in fresh.iter().enumerate() {
                batch[i].seq = Some(first + n as i64);
            }
            Ok(Some(batch))
        })
        .await?;
    marks.announce(app, sub);
    Ok(taken)
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
    let finished = Finished::new(app, done, sub, failing_since)?;
    let marks = finished.marks;
    app.store.write(move |c| finished.write(c)).await?;
    marks.announce(app, sub);
    Ok(())
}

/// Finished tries taken out of a worker's list, to be written in some transaction.
struct Finished {
    batch: Vec<Done>,
    hook: i64,
    /// The `$failingSince` column of `$webhooks`.
    column: Option<String>,
    marks: Marks,
}

/// What recording some tries did to the hook's `$failingSince`.
#[derive(Clone, Copy)]
struct Marks {
    /// A success cleared the mark.
    healthy: bool,
    /// The hook was marked failing since then.
    failing_since: Option<i64>,
}

impl Finished {
    fn new(
        app: &App,
        done: &mut Vec<Done>,
        sub: &Subscription,
        failing_since: Option<i64>,
    ) -> Result<Finished> {
        let batch = std::mem::take(done);
        let healthy =
            sub.failing_since.is_some() && batch.iter().any(|d| matches!(d.next, Next::Delivered));
        let column = app
            .schema()
            .catalog(super::WEBHOOKS_CATALOG_ID)?
            .field("$failingSince")
            .map(|f| f.column.clone());
        Ok(Finished {
            batch,
            hook: sub.db_id,
            column,
            marks: Marks {
                healthy,
                failing_since,
            },
        })
    }

    fn write(&self, c: &mut dyn Conn) -> Result<()> {
        let delivered: Vec<(i64, Attempt)> = self
            .batch
            .iter()
            .filter(|d| d.next == Next::Delivered)
            .map(|d| (d.id, d.attempt.clone()))
            .collect();
        outbox::record_delivered(c, &delivered)?;
        for d in self.batch.iter().filter(|d| d.next != Next::Delivered) {
            outbox::record(c, d.id, &d.attempt, &d.next)?;
        }
        if let Some(col) = &self.column {
            if self.marks.healthy {
                outbox::set_silently(c, WEBHOOKS_CATALOG, col, self.hook, DbValue::Null)?;
            } else if let Some(t) = self.marks.failing_since {
                outbox::set_silently(c, WEBHOOKS_CATALOG, col, self.hook, format_ms(t).into())?;
            }
        }
        Ok(())
    }
}

impl Marks {
    /// After the commit: a changed mark changes the subscriptions.
    fn announce(self, app: &App, sub: &Subscription) {
        if self.failing_since.is_some() {
            tracing::warn!(hook = sub.db_id, url = %sub.url, "webhook receiver keeps failing: hook marked");
        }
        if self.healthy || self.failing_since.is_some() {
            app.hooks.invalidate();
        }
    }
}
