//! The write path's hooks: a before-hook can veto a write (nothing is written, the client gets
//! its message), and after-events fire once per committed write with the changed fields.

use std::sync::Arc;

use kartoteka_core::events::{BeforeEvent, BeforeHook, HookFuture, RecordAction};
use kartoteka_core::Error;
use kartoteka_model::ErrorCode;
use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

/// Refuses any write whose values contain the text "forbidden".
struct Veto;

impl BeforeHook for Veto {
    fn before<'a>(&'a self, event: &'a BeforeEvent) -> HookFuture<'a> {
        Box::pin(async move {
            let bad = event
                .values
                .values()
                .any(|v| v == &Value::String("forbidden".into()))
                || (event.action == RecordAction::Deleted
                    && event
                        .prev_values
                        .values()
                        .any(|v| v == &Value::String("keep".into())));
            if bad {
                Err(Error::new(
                    ErrorCode::RejectedByEvent,
                    "Vetoed by the test hook",
                ))
            } else {
                Ok(serde_json::Map::new())
            }
        })
    }
}

#[tokio::test]
async fn before_hooks_veto_and_after_events_follow_commits() {
    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Audited",
            json!([{"name": "Name", "type": "text"}, {"name": "N", "type": "number"}]),
        )
        .await;
    let (cid, name, n) = (id(&c), field_id(&c, "Name"), field_id(&c, "N"));
    t.app.events.add_before_hook(Arc::new(Veto));
    let mut events = t.app.events.subscribe();

    let r = t
        .post(
            &format!("/api/v1/catalogs/{cid}/records"),
            json!({"values": {name.clone(): "forbidden"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_event", None);
    assert_eq!(r.json["message"], "Vetoed by the test hook");
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}/records"))
            .await
            .expect(200),
        &json!([])
    );

    let rec = t
        .record(&cid, json!({name.clone(): "keep", n.clone(): 1}))
        .await;
    let rid = id(&rec);
    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{rid}"),
        json!({"values": {n.clone(): 2, name.clone(): "keep"}}),
    )
    .await
    .expect(200);
    // A write that changes nothing publishes nothing.
    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{rid}"),
        json!({"values": {n.clone(): 2}}),
    )
    .await
    .expect(200);
    let r = t
        .patch(
            &format!("/api/v1/catalogs/{cid}/records/{rid}"),
            json!({"values": {name.clone(): "forbidden"}}),
        )
        .await;
    r.expect_error(400, "rejected_by_event", None);
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await
        .expect_error(400, "rejected_by_event", None);
    let still = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await;
    assert_eq!(still.expect(200)["values"][&name], "keep");
    t.patch(
        &format!("/api/v1/catalogs/{cid}/records/{rid}"),
        json!({"values": {name.clone(): "gone soon"}}),
    )
    .await
    .expect(200);
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{rid}"))
        .await
        .expect(200);

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push((
            e.action,
            e.record_id.clone(),
            e.changed_fields.clone(),
            e.user_db_id,
        ));
    }
    assert_eq!(
        seen,
        vec![
            (
                RecordAction::Created,
                rid.clone(),
                vec![name.clone(), n.clone()],
                Some(1)
            ),
            (RecordAction::Updated, rid.clone(), vec![n.clone()], Some(1)),
            (
                RecordAction::Updated,
                rid.clone(),
                vec![name.clone()],
                Some(1)
            ),
            (RecordAction::Deleted, rid.clone(), vec![], Some(1)),
        ]
    );
}
