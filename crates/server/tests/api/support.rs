//! The test harness: a real server on a free loopback port with a fresh data folder (SQLite),
//! or a fresh PostgreSQL schema when `KARTOTEKA_TEST_DATABASE_URL` is set.

use std::path::PathBuf;
use std::sync::Arc;

use kartoteka_automation::HostConfig;
use kartoteka_core::files::storage::FileStorage;
use kartoteka_core::webhooks::WebhookConfig;
use kartoteka_core::{App, CoreConfig};
use reqwest::Method;
use serde_json::{json, Value};

pub const EMAIL: &str = "admin@example.com";
pub const PASSWORD: &str = "admin123";

pub struct TestApp {
    pub base: String,
    pub app: Arc<App>,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    pub dir: PathBuf,
    pg: Option<(String, String)>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub json: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.json
        );
        &self.json
    }

    /// Asserts an error response: status, `code`, and (when given) `fieldId`.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str, field: Option<&str>) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.json
        );
        assert_eq!(
            self.json["code"], code,
            "unexpected code; body: {}",
            self.json
        );
        assert!(
            self.json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "no message: {}",
            self.json
        );
        if let Some(f) = field {
            assert_eq!(
                self.json["fieldId"], f,
                "unexpected fieldId; body: {}",
                self.json
            );
        }
    }
}

pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

/// A migrated SQLite store with the administrator, made once per test process.
async fn sqlite_template() -> &'static PathBuf {
    static TEMPLATE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let dir = std::env::temp_dir().join(unique("kartoteka-template"));
            std::fs::create_dir_all(&dir).expect("template dir");
            let path = dir.join("kartoteka.db");
            // A plain thread with its own runtime: the template outlives any one test's runtime.
            let p = path.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    let app = App::open(&CoreConfig {
                        database_url: p.to_string_lossy().into_owned(),
                        files_dir: std::env::temp_dir().join("kartoteka-template-files"),
                        public_url: String::new(),
                        webhooks: WebhookConfig::default(),
                    })
                    .await
                    .expect("open template");
                    app.ensure_admin(Some(EMAIL), Some(PASSWORD))
                        .await
                        .expect("admin");
                    // Closing folds the WAL into the file, so the file alone is the store.
                    app.close();
                });
            })
            .join()
            .expect("template thread");
            path
        })
        .await
}

/// Webhook settings for tests: short timeout and quick retries.
pub fn test_webhooks() -> WebhookConfig {
    WebhookConfig {
        timeout: std::time::Duration::from_millis(1500),
        retry_schedule: kartoteka_core::webhooks::parse_schedule("50ms,100ms,200ms,300ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms")
            .expect("schedule"),
        ..WebhookConfig::default()
    }
}

impl TestApp {
    pub async fn start() -> TestApp {
        TestApp::start_with(test_webhooks()).await
    }

    pub async fn start_with(webhooks: WebhookConfig) -> TestApp {
        TestApp::start_full(webhooks, None, HostConfig::default()).await
    }

    /// A server whose components reaching outside (SQL query, Converter) have these
    /// settings.
    pub async fn start_with_host(host: HostConfig) -> TestApp {
        TestApp::start_full(test_webhooks(), None, host).await
    }

    /// A server whose uploads go to `storage` instead of the data folder.
    pub async fn start_with_storage(storage: Arc<dyn FileStorage>) -> TestApp {
        TestApp::start_full(test_webhooks(), Some(storage), HostConfig::default()).await
    }

    async fn start_full(
        webhooks: WebhookConfig,
        storage: Option<Arc<dyn FileStorage>>,
        host: HostConfig,
    ) -> TestApp {
        let dir = std::env::temp_dir().join(unique("kartoteka-test"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (url, pg) = match std::env::var("KARTOTEKA_TEST_DATABASE_URL") {
            Ok(base) if !base.is_empty() => {
                let (url, schema) = kartoteka_store::testing::fresh_postgres_schema(&base)
                    .expect("fresh postgres schema");
                (url, Some((base, schema)))
            }
            _ => {
                // Migrating a fresh store creates every system catalog; do it once per test
                // process and start each test from a copy.
                let db = dir.join("kartoteka.db");
                std::fs::copy(sqlite_template().await, &db).expect("copy template store");
                (db.to_string_lossy().into_owned(), None)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = App::open(&CoreConfig {
            database_url: url,
            files_dir: dir.join("files"),
            public_url: base.clone(),
            webhooks,
        })
        .await
        .expect("open app");
        if let Some(storage) = storage {
            app.set_file_storage(storage);
        }
        app.ensure_admin(Some(EMAIL), Some(PASSWORD))
            .await
            .expect("admin");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_hooks, hooks_stopped) = tokio::sync::oneshot::channel::<()>();
        kartoteka_automation::start_automation(&app, host).expect("automation");
        kartoteka_automation::start_webhooks(&app, async {
            let _ = hooks_stopped.await;
        })
        .expect("webhook delivery");
        let served = app.clone();
        tokio::spawn(async move {
            let _ = kartoteka_http::serve(listener, served, async {
                let _ = rx.await;
            })
            .await;
            let _ = stop_hooks.send(());
        });
        TestApp {
            base,
            app,
            client: reqwest::Client::new(),
            shutdown: Some(tx),
            dir,
            pg,
        }
    }

    /// A request with any method and raw body; `auth` adds the administrator's Basic auth.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        auth: bool,
    ) -> Resp {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if auth {
            req = req.basic_auth(EMAIL, Some(PASSWORD));
        }
        if let Some((ct, bytes)) = body {
            req = req.header("content-type", ct).body(bytes);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            json,
            headers,
        }
    }

    /// A request as another employee (HTTP Basic with their e-mail and password).
    pub async fn call_as(
        &self,
        (email, password): (&str, &str),
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(email, Some(password));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            json,
            headers,
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Resp {
        let body = body.map(|b| ("application/json", b.to_string().into_bytes()));
        self.raw(method, path, body, true).await
    }

    pub async fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a section and returns its id.
    pub async fn section(&self, name: &str) -> String {
        let r = self.post("/api/v1/sections", json!({"name": name})).await;
        r.expect(200)["id"]
            .as_str()
            .expect("section id")
            .to_string()
    }

    /// Creates a catalog in a new section and returns the catalog JSON.
    pub async fn catalog(&self, name: &str, fields: Value) -> Value {
        let section = self.section(&format!("{name} section")).await;
        let r = self
            .post(
                "/api/v1/catalogs",
                json!({"sectionId": section, "name": name, "fields": fields}),
            )
            .await;
        r.expect(200).clone()
    }

    /// Creates a record and returns it.
    pub async fn record(&self, catalog: &str, values: Value) -> Value {
        let r = self
            .post(
                &format!("/api/v1/catalogs/{catalog}/records"),
                json!({"values": values}),
            )
            .await;
        r.expect(200).clone()
    }
}

/// The id of the field called `name` in a catalog JSON.
pub fn field_id(catalog: &Value, name: &str) -> String {
    catalog["fields"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["name"] == name && f.get("isDuplicated").is_none())
        })
        .and_then(|f| f["id"].as_str())
        .unwrap_or_else(|| panic!("no field {name} in {catalog}"))
        .to_string()
}

/// The id of the catalog JSON.
pub fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.app.close();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((base, schema)) = self.pg.take() {
            let _ = kartoteka_store::testing::drop_postgres_schema(&base, &schema);
        }
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
