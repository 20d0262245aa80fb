//! Files API (spec 01 §13): the three-step upload, attaching to a file field, and the signed
//! download; with the checks on every step.

use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp, EMAIL, PASSWORD};

pub(crate) async fn send_bytes(ticket: &Value, bytes: Vec<u8>, signature: Option<&str>) -> u16 {
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

/// Steps 1–3 of an upload; returns the confirmed file object.
pub(crate) async fn upload(
    t: &TestApp,
    catalog: &str,
    field: &str,
    name: &str,
    mime: &str,
    body: &[u8],
) -> Value {
    let ticket = t
        .post("/api/v1/files", json!({"catalogId": catalog, "fieldId": field, "name": name, "size": body.len(), "mimeType": mime, "typeStorage": "remoteStorage"}))
        .await;
    let ticket = ticket.expect(200).clone();
    assert_eq!(send_bytes(&ticket, body.to_vec(), None).await, 204);
    let fid = ticket["fileId"].as_i64().expect("id");
    let f = t.patch(&format!("/api/v1/files/{fid}"), json!({})).await;
    let mut f = f.expect(200).clone();
    f["fileKey"] = ticket["fileKey"].clone();
    f
}

/// Follows `GET {url}` (a redirect to a signed link) and returns status, type and bytes.
pub(crate) async fn fetch(url: &str) -> (u16, String, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(url)
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let mime = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, mime, r.bytes().await.expect("bytes").to_vec())
}

fn picture(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, 128])
    }));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .expect("encode");
    out
}

#[tokio::test]
async fn pictures_get_a_thumbnail_and_a_preview() {
    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Photos",
            json!([{"name": "Photo", "type": "file", "config": {"multiselect": true}}]),
        )
        .await;
    let (cid, photo) = (id(&c), field_id(&c, "Photo"));
    let big = upload(
        &t,
        &cid,
        &photo,
        "big.png",
        "image/png",
        &picture(2000, 1000, image::ImageFormat::Png),
    )
    .await;
    let small = upload(
        &t,
        &cid,
        &photo,
        "small.jpg",
        "image/jpeg",
        &picture(120, 90, image::ImageFormat::Jpeg),
    )
    .await;
    // Bytes that start like a PNG but are not one: the upload works, without metadata.
    let mut broken = picture(64, 64, image::ImageFormat::Png);
    broken.truncate(80);
    let broken = upload(&t, &cid, &photo, "broken.png", "image/png", &broken).await;
    let text = upload(&t, &cid, &photo, "a.txt", "text/plain", b"not a picture").await;

    let (bid, sid) = (
        big["id"].as_i64().expect("id"),
        small["id"].as_i64().expect("id"),
    );
    assert_eq!(
        big["metadata"],
        json!({
            "preview": format!("{}/api/v1/files/{bid}/preview", t.base),
            "thumbnail": format!("{}/api/v1/files/{bid}/thumbnail", t.base),
            "width": 2000,
            "height": 1000,
        }),
        "step 3 shows the metadata"
    );
    assert_eq!(small["metadata"]["width"], 120);
    assert_eq!(broken["metadata"], Value::Null);
    assert_eq!(text["metadata"], Value::Null);

    // Record values carry the same metadata.
    let ids: Vec<Value> = [&big, &small, &broken, &text]
        .iter()
        .map(|f| json!({"id": f["id"].to_string()}))
        .collect();
    let r = t.record(&cid, json!({photo.clone(): ids})).await;
    let items = r["values"][&photo].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["metadata"], big["metadata"]);
    assert_eq!(
        items[1]["metadata"]["thumbnail"],
        format!("{}/api/v1/files/{sid}/thumbnail", t.base)
    );
    assert_eq!(items[2]["metadata"], Value::Null);
    let got = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&r)))
        .await;
    assert_eq!(
        got.expect(200)["values"][&photo][0]["metadata"],
        big["metadata"]
    );

    // The copies: a 256-pixel thumbnail, a 1280-pixel preview; a small picture is its own
    // preview.
    let (status, mime, bytes) = fetch(big["metadata"]["thumbnail"].as_str().expect("url")).await;
    assert_eq!((status, mime.as_str()), (200, "image/jpeg"));
    let thumb = image::load_from_memory(&bytes).expect("thumbnail decodes");
    assert_eq!((thumb.width(), thumb.height()), (256, 128));
    let (status, _, bytes) = fetch(big["metadata"]["preview"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    let prev = image::load_from_memory(&bytes).expect("preview decodes");
    assert_eq!((prev.width(), prev.height()), (1280, 640));
    let (status, mime, bytes) = fetch(small["metadata"]["preview"].as_str().expect("url")).await;
    assert_eq!((status, mime.as_str()), (200, "image/jpeg"));
    assert_eq!(bytes, picture(120, 90, image::ImageFormat::Jpeg));
    // No copies of other files; unknown parts are 404.
    let tid = text["id"].as_i64().expect("id");
    t.get(&format!("/api/v1/files/{tid}/thumbnail"))
        .await
        .expect_error(404, "not_found", None);
    t.get(&format!("/api/v1/files/{bid}/original"))
        .await
        .expect_error(404, "not_found", None);
    // A copy's signed link is not a link to the file, nor to the other copy.
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = no_follow
        .get(format!("{}/api/v1/files/{bid}/thumbnail", t.base))
        .basic_auth(EMAIL, Some(PASSWORD))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().expect("ascii").to_string();
    assert!(location.starts_with(&format!("/storage/files/{bid}/thumbnail?")));
    for forged in [
        location.replace("/thumbnail?", "?"),
        location.replace("/thumbnail?", "/preview?"),
    ] {
        let r = reqwest::get(format!("{}{forged}", t.base))
            .await
            .expect("send");
        assert_eq!(r.status(), 403, "{forged}");
    }
}

/// The collector: unattached uploads go after their time, files of deleted records after the
/// grace period (downloadable until then), attached files stay.
#[tokio::test]
async fn collector_removes_unattached_uploads_and_files_of_deleted_records() {
    use kartoteka_core::files::gc::GcConfig;
    use std::time::Duration;

    let t = TestApp::start().await;
    let c = t
        .catalog(
            "Archive",
            json!([{"name": "Doc", "type": "file", "config": {"multiselect": true}}]),
        )
        .await;
    let (cid, doc) = (id(&c), field_id(&c, "Doc"));
    let loose = upload(
        &t,
        &cid,
        &doc,
        "loose.txt",
        "text/plain",
        b"nobody wants me",
    )
    .await;
    let kept = upload(&t, &cid, &doc, "kept.txt", "text/plain", b"attached").await;
    let doomed = upload(
        &t,
        &cid,
        &doc,
        "doomed.png",
        "image/png",
        &picture(400, 300, image::ImageFormat::Png),
    )
    .await;
    let on_disk = |f: &Value| {
        t.dir
            .join("files")
            .join(f["fileKey"].as_str().expect("key"))
    };
    assert!(on_disk(&loose).exists() && on_disk(&doomed).exists());
    let did = doomed["id"].as_i64().expect("id");
    let thumb = t.dir.join(format!("files/previews/{did}/thumbnail.jpg"));
    assert!(thumb.exists(), "{}", thumb.display());

    let stay = t
        .record(&cid, json!({doc.clone(): [{"id": kept["id"].to_string()}]}))
        .await;
    let gone = t
        .record(
            &cid,
            json!({doc.clone(): [{"id": doomed["id"].to_string()}]}),
        )
        .await;
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{}", id(&gone)))
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // The defaults (24 h, 30 days) remove nothing yet.
    let report = t
        .app
        .collect_files(&GcConfig::default())
        .await
        .expect("collect");
    assert_eq!((report.unattached, report.purged, report.failed), (0, 0, 0));
    assert!(on_disk(&loose).exists());
    // A deleted record's file is still served during the grace period.
    let (status, _, bytes) = fetch(&format!("{}/api/v1/files/{did}", t.base)).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, picture(400, 300, image::ImageFormat::Png));

    // Unattached uploads older than the limit go, entry and bytes.
    let unattached_now = GcConfig {
        unattached_after: Duration::ZERO,
        ..GcConfig::default()
    };
    let report = t.app.collect_files(&unattached_now).await.expect("collect");
    assert_eq!((report.unattached, report.purged, report.failed), (1, 0, 0));
    assert!(!on_disk(&loose).exists());
    let lid = loose["id"].as_i64().expect("id");
    t.get(&format!("/api/v1/files/{lid}"))
        .await
        .expect_error(404, "not_found", None);
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"values": {doc.clone(): [{"id": lid.to_string()}]}}),
    )
    .await
    .expect_error(400, "invalid_value", Some(&doc));
    // A deleted record's file cannot be attached elsewhere.
    t.post(
        &format!("/api/v1/catalogs/{cid}/records"),
        json!({"values": {doc.clone(): [{"id": did.to_string()}]}}),
    )
    .await
    .expect_error(400, "invalid_value", Some(&doc));

    // After the grace period the deleted record's bytes and copies go; the entry stays.
    let all_now = GcConfig {
        unattached_after: Duration::ZERO,
        deleted_after: Duration::ZERO,
        ..GcConfig::default()
    };
    let report = t.app.collect_files(&all_now).await.expect("collect");
    assert_eq!((report.unattached, report.purged, report.failed), (0, 1, 0));
    assert!(!on_disk(&doomed).exists());
    assert!(!thumb.exists());
    t.get(&format!("/api/v1/files/{did}"))
        .await
        .expect_error(404, "not_found", None);
    // Attached files stay, whatever the settings.
    assert!(on_disk(&kept).exists());
    let got = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&stay)))
        .await;
    let url = got.expect(200)["values"][&doc][0]["url"]
        .as_str()
        .expect("url")
        .to_string();
    let (status, _, bytes) = fetch(&url).await;
    assert_eq!((status, bytes), (200, b"attached".to_vec()));
    let report = t.app.collect_files(&all_now).await.expect("collect");
    assert_eq!((report.unattached, report.purged, report.failed), (0, 0, 0));
}

/// The same Files API over an S3-compatible server (moto): upload, attach, download; the
/// objects land in the bucket under the prefix, nothing in the data folder.
#[tokio::test]
async fn s3_upload_attach_and_download() {
    let Some(moto) = crate::s3::moto("files::s3_upload_attach_and_download") else {
        return;
    };
    let bucket = moto.bucket().await;
    let t = TestApp::start_with_storage(moto.storage(&bucket, "tenant/files")).await;
    let c = t
        .catalog(
            "Cloud",
            json!([{"name": "Doc", "type": "file", "config": {"multiselect": true}}]),
        )
        .await;
    let (cid, doc) = (id(&c), field_id(&c, "Doc"));
    let body = b"bytes kept in S3".to_vec();
    // A name with spaces and Cyrillic letters: the key carries it into the bucket.
    let f = upload(&t, &cid, &doc, "отчёт за 2024.txt", "text/plain", &body).await;
    assert_eq!(f["title"], "отчёт за 2024.txt");
    let pic = upload(
        &t,
        &cid,
        &doc,
        "p.png",
        "image/png",
        &picture(1500, 300, image::ImageFormat::Png),
    )
    .await;
    let key = f["fileKey"].as_str().expect("key");
    assert_eq!(
        moto.object(&bucket, &format!("tenant/files/{key}")).await,
        Some(body.clone()),
        "the object is in the bucket under the prefix"
    );
    let pid = pic["id"].as_i64().expect("id");
    assert!(moto
        .object(
            &bucket,
            &format!("tenant/files/previews/{pid}/thumbnail.jpg")
        )
        .await
        .is_some());
    assert!(!t.dir.join("files").exists(), "nothing in the data folder");

    let r = t
        .record(
            &cid,
            json!({doc.clone(): [{"id": f["id"].to_string()}, {"id": pic["id"].to_string()}]}),
        )
        .await;
    let got = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&r)))
        .await;
    let items = got.expect(200)["values"][&doc]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 2);
    let (status, mime, bytes) = fetch(items[0]["url"].as_str().expect("url")).await;
    assert_eq!((status, mime.as_str(), bytes), (200, "text/plain", body));
    assert_eq!(items[1]["metadata"]["width"], 1500);
    let (status, _, bytes) = fetch(items[1]["metadata"]["thumbnail"].as_str().expect("url")).await;
    assert_eq!(status, 200);
    let thumb = image::load_from_memory(&bytes).expect("thumbnail");
    assert_eq!((thumb.width(), thumb.height()), (256, 51));

    // The collector removes objects from the bucket too.
    t.delete(&format!("/api/v1/catalogs/{cid}/records/{}", id(&r)))
        .await
        .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let report = t
        .app
        .collect_files(&kartoteka_core::files::gc::GcConfig {
            deleted_after: std::time::Duration::ZERO,
            ..Default::default()
        })
        .await
        .expect("collect");
    assert_eq!((report.purged, report.failed), (2, 0));
    assert_eq!(
        moto.object(&bucket, &format!("tenant/files/{key}")).await,
        None
    );
    assert_eq!(
        moto.object(
            &bucket,
            &format!("tenant/files/previews/{pid}/thumbnail.jpg")
        )
        .await,
        None
    );
}
