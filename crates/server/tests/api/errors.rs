//! Bad input everywhere: malformed JSON, wrong shapes, oversize bodies, unknown resources and
//! verbs; each answered with a JSON error and nothing written.

use reqwest::Method;
use serde_json::json;

use crate::support::{field_id, id, TestApp};

#[tokio::test]
async fn malformed_bodies_and_unknown_things() {
    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Things",
            json!([{"name": "Name", "type": "text", "required": true}]),
        )
        .await;
    let cid = id(&c);
    let name = field_id(&c, "Name");
    let path = format!("/api/v1/catalogs/{cid}/records");
    let json_body = |s: &str| Some(("application/json", s.as_bytes().to_vec()));
    let r = t
        .raw(Method::POST, &path, json_body("{\"values\": {"), true)
        .await;
    r.expect_error(400, "invalid_json", None);
    assert!(
        r.json["message"]
            .as_str()
            .expect("message")
            .contains("line 1"),
        "{}",
        r.json
    );
    t.raw(Method::POST, &path, json_body("[1,2]"), true)
        .await
        .expect_error(400, "invalid_json", None);
    t.post(&path, json!({"values": []}))
        .await
        .expect_error(400, "invalid_value", Some("values"));
    t.post(&path, json!({"nothing": 1}))
        .await
        .expect_error(400, "invalid_value", Some("values"));
    t.post(&path, json!({"values": {"nope": 1, name.clone(): "x"}}))
        .await
        .expect_error(400, "unknown_field", Some("nope"));
    t.post(&path, json!({"values": {name.clone(): {"a": 1}}}))
        .await
        .expect_error(400, "invalid_value", Some(&name));
    t.post(&path, json!({"values": {}}))
        .await
        .expect_error(400, "required_field", Some(&name));
    // Oversize body: 413 with a JSON body, nothing written.
    let huge = format!(
        "{{\"values\": {{\"{name}\": \"{}\"}}}}",
        "x".repeat(9 * 1024 * 1024)
    );
    let r = t
        .raw(
            Method::POST,
            &path,
            Some(("application/json", huge.into_bytes())),
            true,
        )
        .await;
    r.expect_error(413, "payload_too_large", None);
    let list = t.get(&path).await;
    assert_eq!(list.expect(200), &json!([]), "nothing was written");
    assert_eq!(list.headers["x-total-count"], "0");

    // Unknown catalog / record: 404; unknown path: 404; unsupported verb: 501.
    t.get("/api/v1/catalogs/nope/records")
        .await
        .expect_error(404, "catalog_not_found", None);
    t.get("/api/v1/catalogs/999999")
        .await
        .expect_error(404, "catalog_not_found", None);
    t.post("/api/v1/catalogs/nope/records", json!({"values": {}}))
        .await
        .expect_error(404, "catalog_not_found", None);
    t.get(&format!("{path}/424242"))
        .await
        .expect_error(404, "record_not_found", None);
    t.get("/api/v1/nothing-here")
        .await
        .expect_error(404, "not_found", None);
    t.call(Method::PUT, &path, Some(json!({})))
        .await
        .expect_error(501, "not_implemented", None);
    // The server is still fine.
    t.get("/health").await.expect(200);
}
