//! The threads JavaScript runs on: a fixed set (`BPM_THREADS`), each keeping the warm
//! sandbox the script crate gives every thread, fed from one queue. A fixed set bounds the
//! memory of warm sandboxes and pays their start-up once per thread, where tokio's blocking
//! pool would start threads (and sandboxes) for every burst and let them go when idle.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed pool of worker threads. Jobs wait in the queue while every thread is busy.
#[derive(Debug)]
pub(crate) struct Pool {
    queue: mpsc::Sender<Job>,
}

impl Pool {
    /// Starts `threads` workers (at least one). A thread that cannot start is logged; the
    /// others carry the load.
    pub(crate) fn new(threads: usize) -> Pool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let started = std::thread::Builder::new()
                .name(format!("scenario-js-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        // A job that panics loses its answer (its caller sees an error);
                        // the thread goes on.
                        Ok(job) => {
                            let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                        }
                        Err(_) => return,
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a scenario script thread");
            }
        }
        Pool { queue: tx }
    }

    /// Runs `f` on a worker and awaits its answer; `None` when the pool is gone or the job
    /// panicked.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        if self.queue.send(job).is_err() {
            return None;
        }
        rx.await.ok()
    }
}
