//! Authentication (spec 01 §1.2): Basic, the session cookie, login and logout, 401 without.

use reqwest::Method;
use serde_json::json;

use crate::support::{TestApp, EMAIL, PASSWORD};

fn cookie_of(r: &crate::support::Resp) -> String {
    let set = r
        .headers
        .get("set-cookie")
        .expect("set-cookie")
        .to_str()
        .expect("ascii");
    assert!(set.contains("HttpOnly"), "{set}");
    set.split(';').next().expect("pair").to_string()
}

#[tokio::test]
async fn basic_cookie_login_logout() {
    let t = TestApp::start().await;
    let client = reqwest::Client::new();
    // No credentials, wrong credentials: 401 with a JSON body.
    for path in [
        "/api/v1/sections",
        "/api/v1/catalogs/3/records",
        "/api/v1/profile/me",
    ] {
        t.raw(Method::GET, path, None, false)
            .await
            .expect_error(401, "unauthorized", None);
    }
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .basic_auth(EMAIL, Some("wrong-password"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .header("cookie", "sid=forged")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    // Basic works and hands out a cookie that works alone.
    let r = t.get("/api/v1/sections").await;
    r.expect(200);
    let cookie = cookie_of(&r);
    let r = client
        .get(format!("{}/api/v1/profile/me", t.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        me,
        json!({"id": "1", "email": EMAIL, "title": "Administrator", "subjects": []})
    );
    // The cloud's cookie name is accepted too.
    let token = cookie.split_once('=').expect("pair").1;
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .header("cookie", format!("connect.sid={token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);

    // Login with JSON, with a form, and the legacy GET.
    let r = client
        .post(format!("{}/auth/login", t.base))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let session = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let r = client
        .post(format!("{}/auth/login", t.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("email={EMAIL}&password={PASSWORD}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!(
            "{}/auth/login?login={EMAIL}&password={PASSWORD}",
            t.base
        ))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{}/auth/login", t.base))
        .json(&json!({"email": EMAIL, "password": "nope"}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    // Logout ends that session.
    let r = client
        .post(format!("{}/auth/logout", t.base))
        .header("cookie", &session)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .header("cookie", &session)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn employees_log_in_with_their_password_and_lose_access_when_deleted() {
    let t = TestApp::start().await;
    let client = reqwest::Client::new();
    let u = t.post("/api/v1/catalogs/$users/records", json!({"values": {"$name": "Ivan", "$email": "ivan@example.com", "$password": "secret1"}})).await;
    let u = u.expect(200).clone();
    assert!(
        u["values"].get("$password").is_none(),
        "the password is never returned: {u}"
    );
    t.post(
        "/api/v1/catalogs/$users/records",
        json!({"values": {"$name": "Short", "$email": "s@example.com", "$password": "123"}}),
    )
    .await
    .expect_error(400, "invalid_value", Some("$password"));
    let login = || {
        client
            .post(format!("{}/auth/login", t.base))
            .json(&json!({"email": "IVAN@example.com", "password": "secret1"}))
            .send()
    };
    let r = login().await.expect("send");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    let r = client
        .get(format!("{}/api/v1/profile/me", t.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("send");
    let me: serde_json::Value = r.json().await.expect("json");
    assert_eq!(me["id"], u["id"]);
    assert_eq!(me["title"], "Ivan");
    // Changing the password ends the old sessions and the old password.
    let uid = u["id"].as_str().expect("id").to_string();
    t.patch(
        &format!("/api/v1/catalogs/$users/records/{uid}"),
        json!({"values": {"$password": "secret2"}}),
    )
    .await
    .expect(200);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    assert_eq!(login().await.expect("send").status(), 401);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .basic_auth("ivan@example.com", Some("secret2"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .split(';')
        .next()
        .expect("pair")
        .to_string();
    // Deleting the employee revokes access at once.
    t.delete(&format!("/api/v1/catalogs/$users/records/{uid}"))
        .await
        .expect(200);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/api/v1/sections", t.base))
        .basic_auth("ivan@example.com", Some("secret2"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn employee_emails_are_unique_logins() {
    let t = TestApp::start().await;
    let a = t
        .post(
            "/api/v1/catalogs/$users/records",
            json!({"values": {"$name": "A", "$email": "a@example.com"}}),
        )
        .await;
    let a = a.expect(200).clone();
    t.post(
        "/api/v1/catalogs/$users/records",
        json!({"values": {"$name": "B", "$email": "A@Example.com"}}),
    )
    .await
    .expect_error(400, "not_unique", Some("$email"));
    t.post(
        "/api/v1/catalogs/3/records",
        json!({"values": {"1": "B", "2": EMAIL}}),
    )
    .await
    .expect_error(400, "not_unique", Some("$email"));
    let b = t
        .post(
            "/api/v1/catalogs/$users/records",
            json!({"values": {"$name": "B", "$email": "b@example.com"}}),
        )
        .await;
    let bid = b.expect(200)["id"].as_str().expect("id").to_string();
    t.patch(
        &format!("/api/v1/catalogs/$users/records/{bid}"),
        json!({"values": {"$email": "a@example.com"}}),
    )
    .await
    .expect_error(400, "not_unique", Some("$email"));
    // Keeping one's own e-mail is fine.
    let aid = a["id"].as_str().expect("id");
    t.patch(
        &format!("/api/v1/catalogs/$users/records/{aid}"),
        json!({"values": {"$email": "a@example.com", "$name": "A2"}}),
    )
    .await
    .expect(200);
}
