//! Record chats (spec 01 §12): messages as `$messages` records, authors, replies, soft
//! deletes, subscriptions, and the counters records and catalogs show.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{field_id, id, TestApp};

#[tokio::test]
async fn a_record_chat_end_to_end() {
    let t = TestApp::start().await;
    let c = t
        .catalog("Deals", json!([{"name": "Title", "type": "text"}]))
        .await;
    let cid = id(&c);
    let deal = t.record(&cid, json!({field_id(&c, "Title"): "ACME"})).await;
    let other = t.record(&cid, json!({field_id(&c, "Title"): "Beta"})).await;
    let chat = format!("/api/v1/catalogs/{cid}/records/{}/messages", id(&deal));
    let ivan = t.post("/api/v1/catalogs/$users/records", json!({"values": {"$name": "Ivan", "$email": "ivan@example.com", "$password": "secret1"}})).await;
    let ivan_id = id(ivan.expect(200));
    let as_ivan = reqwest::Client::new();
    let ivan_call = |m: Method, path: String, body: Option<Value>| {
        let mut r = as_ivan
            .request(m, format!("{}{path}", t.base))
            .basic_auth("ivan@example.com", Some("secret1"));
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send()
    };

    // The administrator posts: the message, its author, and the record's counters.
    let m1 = t.post(&chat, json!({"text": "Hello!", "mentions": [{"id": ivan_id}], "attachments": [], "replyMessageId": null})).await;
    let m1 = m1.expect(200).clone();
    assert_eq!(m1["catalogId"], "$messages");
    assert_eq!(m1["text"], "Hello!");
    assert_eq!(m1["deleted"], false);
    assert_eq!(m1["reply"], Value::Null);
    assert_eq!(m1["updatedDate"], Value::Null);
    assert!(m1["createdDate"].as_str().is_some_and(|d| d.ends_with('Z')));
    for (k, v) in [
        ("catalogId", json!("$users")),
        ("recordId", json!("1")),
        ("recordTitle", json!("Administrator")),
        ("sectionId", json!("$settings")),
        ("catalogDbId", json!(3)),
        ("recordDbId", json!(1)),
        ("sectionDbId", json!(1)),
    ] {
        assert_eq!(m1["author"][k], v, "author.{k}: {}", m1["author"]);
    }
    assert_eq!(m1["mention"][0]["recordId"], ivan_id.as_str());
    let rec = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&deal)))
        .await;
    assert_eq!(
        rec.expect(200)["chat"],
        json!({"messagesCount": 1, "newMessages": false, "subscribe": true})
    );

    // Ivan replies; the administrator now has something new, in the record and the catalog.
    let r = ivan_call(
        Method::POST,
        chat.clone(),
        Some(json!({"text": "Hi", "replyMessageId": m1["id"]})),
    )
    .await
    .expect("send");
    assert_eq!(r.status(), 200);
    let m2: Value = r.json().await.expect("json");
    assert_eq!(m2["reply"]["id"], m1["id"]);
    assert_eq!(m2["reply"]["text"], "Hello!");
    assert_eq!(m2["author"]["recordTitle"], "Ivan");
    let rec = t
        .get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&deal)))
        .await;
    assert_eq!(
        rec.expect(200)["chat"],
        json!({"messagesCount": 2, "newMessages": true, "subscribe": true})
    );
    let list = t.get(&format!("/api/v1/catalogs/{cid}/records")).await;
    let other_chat = list
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .find(|r| r["id"] == other["id"])
        .expect("other")["chat"]
        .clone();
    assert_eq!(
        other_chat,
        json!({"messagesCount": 0, "newMessages": false, "subscribe": false})
    );
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}")).await.expect(200)["chat"],
        json!({"newChats": 1})
    );
    // Reading the chat (oldest first) clears both.
    let msgs = t.get(&chat).await;
    let ids: Vec<Value> = msgs
        .expect(200)
        .as_array()
        .expect("array")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, vec![m1["id"].clone(), m2["id"].clone()]);
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&deal)))
            .await
            .expect(200)["chat"]["newMessages"],
        false
    );
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}")).await.expect(200)["chat"],
        json!({"newChats": 0})
    );

    // Only the author edits or deletes a message.
    let m1_path = format!("{chat}/{}", m1["id"].as_str().expect("id"));
    let r = ivan_call(
        Method::PATCH,
        m1_path.clone(),
        Some(json!({"text": "hijack"})),
    )
    .await
    .expect("send");
    assert_eq!(r.status(), 403);
    let e = t.patch(&m1_path, json!({"text": "Hello, Ivan!"})).await;
    assert_eq!(e.expect(200)["text"], "Hello, Ivan!");
    assert!(e.json["updatedDate"].as_str().is_some());
    let r = ivan_call(Method::DELETE, m1_path.clone(), None)
        .await
        .expect("send");
    assert_eq!(r.status(), 403);
    assert_eq!(t.delete(&m1_path).await.expect(200), &json!({}));
    let msgs = t.get(&chat).await;
    let first = msgs.expect(200)[0].clone();
    assert_eq!(
        first["deleted"], true,
        "a deleted message stays in the chat"
    );
    assert_eq!(first["text"], "");
    assert!(first["deletedDate"].as_str().is_some());
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&deal)))
            .await
            .expect(200)["chat"]["messagesCount"],
        1
    );

    // Following a chat, by both paths.
    let opts = format!("/api/v1/catalogs/{cid}/records/{}/chatOptions", id(&deal));
    assert_eq!(
        t.patch(&opts, json!({"subscribe": false}))
            .await
            .expect(200),
        &json!({"subscribe": false})
    );
    assert_eq!(
        t.get(&format!("/api/v1/catalogs/{cid}/records/{}", id(&deal)))
            .await
            .expect(200)["chat"]["subscribe"],
        false
    );
    let again = format!("{opts}/{}", id(&deal));
    assert_eq!(
        t.patch(&again, json!({"subscribe": true}))
            .await
            .expect(200),
        &json!({"subscribe": true})
    );
    t.patch(&opts, json!({}))
        .await
        .expect_error(400, "invalid_value", Some("subscribe"));

    // Bad input.
    t.post(&chat, json!({"text": "  "}))
        .await
        .expect_error(400, "required_field", Some("text"));
    let other_chat = format!("/api/v1/catalogs/{cid}/records/{}/messages", id(&other));
    t.post(
        &other_chat,
        json!({"text": "x", "replyMessageId": m2["id"]}),
    )
    .await
    .expect_error(400, "invalid_value", Some("replyMessageId"));
    t.post(
        &format!("/api/v1/catalogs/{cid}/records/999999/messages"),
        json!({"text": "x"}),
    )
    .await
    .expect_error(404, "record_not_found", None);
    t.patch(&format!("{chat}/999999"), json!({"text": "x"}))
        .await
        .expect_error(404, "not_found", None);
    t.raw(Method::GET, &chat, None, false)
        .await
        .expect_error(401, "unauthorized", None);
}
