//! Files API (spec 01 §13): the three-step upload, attaching to a file field, and the signed
//! download; with the checks on every step.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp, EMAIL, PASSWORD};

async fn send_bytes(ticket: &Value, bytes: Vec<u8>, signature: Option<&str>) -> u16 {
    let form = Form::new()
        .text("key", ticket["fileKey"].as_str().expect("key").to_string())
        .text("acl", "private")
        .text(
            "AWSAccessKeyId",
            ticket["AWSAccessKeyId"].as_str().expect("akid").to_string(),
        )
        .text(
            "Policy",
            ticket["police"].as_str().expect("policy").to_string(),
        )
        .text(
            "Signature",
            signature
                .unwrap_or(ticket["signature"].as_str().expect("sig"))
                .to_string(),
        )
        .text("Content-Type", "text/plain")
        .part("file", Part::bytes(bytes).file_name("notes.txt"));
    let r = reqwest::Client::new()
        .post(ticket["uploadUrl"].as_str().expect("uploadUrl"))
        .multipart(form)
        .send()
        .await
        .expect("send");
    r.status().as_u16()
}

#[tokio::test]
async fn upload_attach_and_download() {
    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Docs",
            json!([
                {"name": "Title", "type": "text"},
                {"name": "Files", "type": "file", "config": {"multiselect": true}},
                {"name": "Scenario", "type": "file", "config": {"mimeType": "application/bpmn+xml"}}
            ]),
        )
        .await;
    let (cid, files, scenario) = (id(&c), field_id(&c, "Files"), field_id(&c, "Scenario"));
    let body = b"hello, files".to_vec();

    // Step 1.
    let ticket = t
        .post("/api/v1/files", json!({"catalogId": cid, "fieldId": files, "name": "notes.txt", "size": body.len(), "mimeType": "text/plain", "typeStorage": "remoteStorage"}))
        .await;
    let ticket = ticket.expect(200).clone();
    let fid = ticket["fileId"].as_i64().expect("numeric fileId");
    assert_eq!(ticket["acl"], "private");
    assert!(ticket["uploadUrl"]
        .as_str()
        .is_some_and(|u| u.ends_with("/storage/upload")));
    // Not attachable before its bytes arrive.
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"values": {files.clone(): [{"id": fid.to_string()}]}}),
    )
    .await
    .expect_error(400, "invalid_value", Some(&files));
    // Step 2: a forged signature, then more bytes than announced, then the real upload.
    assert_eq!(send_bytes(&ticket, body.clone(), Some("forged")).await, 403);
    assert_eq!(
        send_bytes(&ticket, vec![b'x'; body.len() + 10], None).await,
        413
    );
    assert_eq!(send_bytes(&ticket, body.clone(), None).await, 204);
    // Step 3.
    let f = t.patch(&format!("/api/v1/files/{fid}"), json!({"fileId": fid, "name": "notes.txt", "size": body.len(), "mimeType": "text/plain"})).await;
    let f = f.expect(200).clone();
    assert_eq!(f["id"], fid);
    assert_eq!(f["title"], "notes.txt");
    assert_eq!(f["size"], body.len());
    assert_eq!(f["mimeType"], "text/plain");
    assert!(f["url"]
        .as_str()
        .is_some_and(|u| u.ends_with(&format!("/api/v1/files/{fid}"))));

    // Attach with an external link beside it; read back the file items.
    let r = t
        .record(&cid, json!({files.clone(): [{"id": fid.to_string()}, {"src": "https://example.com/a.pdf", "title": "a.pdf"}]}))
        .await;
    let items = r["values"][&files].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], fid.to_string());
    assert_eq!(items[0]["title"], "notes.txt");
    assert_eq!(items[0]["size"], body.len());
    assert_eq!(items[0]["mimeType"], "text/plain");
    assert_eq!(items[0]["metadata"], Value::Null);
    assert_eq!(
        items[0]["url"],
        format!("{}/api/v1/files/{fid}", t.base),
        "an absolute URL, as clients use it"
    );

    // Download: a redirect to a signed link that serves the same bytes.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_follow
        .get(format!("{}/api/v1/files/{fid}", t.base))
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().expect("ascii").to_string();
    let got = reqwest::get(format!("{}{location}", t.base))
        .await
        .expect("send");
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "text/plain");
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), body);
    let tampered = location.replace("signature=", "signature=x");
    assert_eq!(
        reqwest::get(format!("{}{tampered}", t.base))
            .await
            .expect("send")
            .status(),
        403
    );
    // The external link redirects to its own address.
    let ext = items[1]["id"].as_str().expect("id");
    let r = no_follow
        .get(format!("{}/api/v1/files/{ext}", t.base))
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .expect("send");
    assert_eq!(r.headers()["location"], "https://example.com/a.pdf");

    // Checks of step 1 and 3.
    let base = json!({"catalogId": cid, "fieldId": files, "name": "x.txt", "size": 3, "mimeType": "text/plain", "typeStorage": "remoteStorage"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    t.post("/api/v1/files", with("typeStorage", Value::Null))
        .await
        .expect_error(400, "invalid_value", Some("typeStorage"));
    t.post(
        "/api/v1/files",
        with("fieldId", json!(field_id(&c, "Title"))),
    )
    .await
    .expect_error(400, "invalid_value", None);
    t.post("/api/v1/files", with("size", json!(1_000_000_000_000i64)))
        .await
        .expect_error(413, "payload_too_large", Some("size"));
    t.post("/api/v1/files", with("fieldId", json!(scenario)))
        .await
        .expect_error(400, "invalid_value", Some("mimeType"));
    t.post("/api/v1/files", with("catalogId", json!("nope")))
        .await
        .expect_error(404, "catalog_not_found", None);
    t.patch("/api/v1/files/999999", json!({}))
        .await
        .expect_error(404, "not_found", None);
    t.raw(
        reqwest::Method::POST,
        "/api/v1/files",
        Some(("application/json", base.to_string().into_bytes())),
        false,
    )
    .await
    .expect_error(401, "unauthorized", None);
    // Only the creator confirms.
    let other = t.post("/api/v1/catalogs/$users/records", json!({"values": {"$name": "Eve", "$email": "eve@example.com", "$password": "secret1"}})).await;
    other.expect(200);
    let r = reqwest::Client::new()
        .patch(format!("{}/api/v1/files/{fid}", t.base))
        .basic_auth("eve@example.com", Some("secret1"))
        .json(&json!({}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn uploads_may_be_larger_than_api_bodies() {
    let t = TestApp::start().await;
    let c = t
        .catalog("Media", json!([{"name": "Video", "type": "file"}]))
        .await;
    let body = vec![7u8; 9 * 1024 * 1024];
    let ticket = t
        .post("/api/v1/files", json!({"catalogId": id(&c), "fieldId": field_id(&c, "Video"), "name": "big.bin", "size": body.len(), "mimeType": "application/octet-stream", "typeStorage": "remoteStorage"}))
        .await;
    let ticket = ticket.expect(200).clone();
    assert_eq!(
        send_bytes(&ticket, body.clone(), None).await,
        204,
        "a 9 MB file passes the 8 MB API body limit"
    );
    let fid = ticket["fileId"].as_i64().expect("id");
    let f = t.patch(&format!("/api/v1/files/{fid}"), json!({})).await;
    assert_eq!(f.expect(200)["size"], body.len());
}
