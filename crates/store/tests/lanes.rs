//! The SQLite writer commits follow-up writes (scenario runs) ahead of the client writes
//! that waited with them, and both still commit.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kartoteka_store::{Lane, Store, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_up_writes_go_ahead_of_waiting_client_writes() {
    let dir = std::env::temp_dir().join(format!("kartoteka-lanes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let store = Store::open_sqlite(&dir.join("k.db")).expect("sqlite");
    store
        .write(|c| c.batch("CREATE TABLE t (what TEXT)"))
        .await
        .expect("table");
    let order = Arc::new(Mutex::new(Vec::new()));
    let write = |lane: Lane, what: &'static str, hold: Duration| {
        let (store, order) = (store.clone(), order.clone());
        tokio::spawn(async move {
            store
                .write_in(lane, move |c| -> Result<(), StoreError> {
                    std::thread::sleep(hold);
                    // The writer runs the jobs one at a time, in the order it commits them.
                    order.lock().expect("order").push(what);
                    c.batch(&format!("INSERT INTO t VALUES ('{what}')"))
                })
                .await
                .expect("write");
        })
    };
    // The first write holds the writer while one of each lane queues behind it.
    let busy = write(Lane::Client, "busy", Duration::from_millis(300));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let client = write(Lane::Client, "client", Duration::ZERO);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let follow_up = write(Lane::FollowUp, "follow-up", Duration::ZERO);
    for t in [busy, client, follow_up] {
        t.await.expect("task");
    }
    assert_eq!(
        *order.lock().expect("order"),
        vec!["busy", "follow-up", "client"]
    );
    let count = store
        .write(|c| c.query_one("SELECT COUNT(*) FROM t", &[])?.int(0))
        .await
        .expect("count");
    assert_eq!(count, 3, "every write committed");
    let _ = std::fs::remove_dir_all(&dir);
}
