//! The engine's ports on this server: every record operation goes through the core's one
//! write path as the system actor (a process's writes raise events with `user.id = null`,
//! spec 03 §3.2), records and catalogs come back in the REST read format, and web requests go
//! out through one shared HTTP client.

use std::sync::{Arc, Weak};

use kartoteka_core::error::Error;
use kartoteka_core::messages::MessageInput;
use kartoteka_core::records::{ListQuery, ReadOptions, RecordInput};
use kartoteka_core::{wire, Actor, App};
use kartoteka_engine::{
    ChildRun, FileContent, FindQuery, Found, HttpRequest, HttpResponse, PortError, PortFuture,
    Ports, UploadedFile,
};
use kartoteka_model::ErrorCode;
use serde_json::{json, Map, Value};

use crate::processes::{new_pid, Automation, Ending, Launch, PARKED};

/// Ports over the application core and an HTTP client.
pub struct AppPorts {
    pub(crate) app: Arc<App>,
    pub(crate) http: reqwest::Client,
    /// The runner, for child processes (weak: the runner owns these ports).
    pub(crate) runner: Weak<Automation>,
    /// Settings of the SQL query component.
    pub(crate) sql: crate::sql::SqlConfig,
    /// The Converter's PDF programs.
    pub(crate) pdf: crate::pdf::Converter,
}

/// A core error as the component error codes of spec 03 §4.3 name it.
pub(crate) fn port_error(e: Error) -> PortError {
    let code = match e.code {
        ErrorCode::CatalogNotFound
        | ErrorCode::RecordNotFound
        | ErrorCode::SectionNotFound
        | ErrorCode::FieldNotFound
        | ErrorCode::ViewNotFound
        | ErrorCode::NotFound => "NOT_FOUND",
        c if c.status() == 400 => "VALIDATION",
        ErrorCode::PayloadTooLarge => "LIMIT",
        _ => "INTERNAL",
    };
    PortError::new(code, e.message)
}

fn whole() -> ReadOptions {
    ReadOptions::default()
}

impl AppPorts {
    async fn find(&self, catalog: &str, q: FindQuery) -> Result<Found, PortError> {
        let query = ListQuery {
            limit: Some(i64::from(q.limit)),
            offset: Some(i64::from(q.offset)),
            ids: vec![],
            filters: q.filters.map(|value| kartoteka_filter::Input {
                root: "filters".into(),
                value,
                lenient: false,
            }),
            search: q.search_text,
            sort_field: q.sort_field.filter(|s| !s.is_empty() && s != "id"),
            descending: q.sort_type.is_some_and(|t| t < 0),
            tz_offset_min: 0,
            view_id: q.view_id.filter(|v| !v.is_empty() && v != "0"),
        };
        let opts = ReadOptions {
            fields: q.fields,
            ..whole()
        };
        let page = self
            .app
            .list_records(&Actor::System, catalog, &query, &opts)
            .await
            .map_err(port_error)?;
        Ok(Found {
            total: page.total + i64::from(page.total_capped),
            records: page.records.into_iter().map(wire::record).collect(),
        })
    }

    async fn catalog(&self, catalog: &str) -> Result<Value, PortError> {
        let (c, p) = self
            .app
            .get_catalog(&Actor::System, catalog)
            .await
            .map_err(port_error)?;
        Ok(wire::catalog(&self.app.schema(), &c, p, None, false, 0))
    }

    async fn send(&self, req: HttpRequest) -> Result<HttpResponse, PortError> {
        let method = reqwest::Method::from_bytes(req.method.to_uppercase().as_bytes())
            .map_err(|_| PortError::http(format!("unknown HTTP method {:?}", req.method)))?;
        let mut call = self.http.request(method, &req.url).timeout(req.timeout);
        for (name, value) in &req.headers {
            call = call.header(name.as_str(), value.as_str());
        }
        if let Some(body) = req.body {
            call = call.body(body);
        }
        let resp = call.send().await.map_err(|e| {
            if e.is_timeout() {
                PortError::new("TIMEOUT", format!("{}: timed out", req.url))
            } else {
                PortError::http(format!("{}: {e}", req.url))
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).to_string(),
                )
            })
            .collect();
        let body = resp
            .bytes()
            .await
            .map_err(|e| PortError::http(format!("{}: {e}", req.url)))?
            .to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

impl AppPorts {
    /// A child process (spec 03 §4.5): it sees `input` and, under any name `input` does not
    /// take, `event` `{id: null, type: "$process", async}`, `script` `{id}`, the parent's
    /// `user` and `parentProcess` `{id: parent $pid}`; waited for, its variables or its
    /// failure come back; otherwise it runs on and only its `$pid` is answered.
    async fn child(
        &self,
        script: &str,
        input: Map<String, Value>,
        wait: bool,
    ) -> Result<ChildRun, PortError> {
        let runner = self
            .runner
            .upgrade()
            .ok_or_else(|| PortError::new("INTERNAL", "the scenario runner is stopping"))?;
        let pid = new_pid();
        let (parent, user) = crate::processes::RUN
            .try_with(|r| r.clone())
            .unwrap_or_default();
        let mut vars = Map::new();
        vars.insert(
            "event".into(),
            json!({"id": null, "type": "$process", "async": !wait}),
        );
        vars.insert("script".into(), json!({"id": script}));
        vars.insert("user".into(), json!({"id": user.map(|u| u.to_string())}));
        vars.insert(
            "parentProcess".into(),
            json!({"id": Some(parent).filter(|p| !p.is_empty())}),
        );
        vars.extend(input);
        let launch = Launch {
            pid: pid.clone(),
            script: script.to_string(),
            input: vars,
            sync: wait,
            event: None,
            user,
            deadline: None,
            hold: None,
        };
        let depth = kartoteka_core::events::cause_depth();
        if !wait {
            tokio::spawn(async move {
                runner.run_at_depth(launch, depth).await;
            });
            return Ok(ChildRun {
                pid,
                result: None,
                error: None,
            });
        }
        Ok(match runner.run_at_depth(launch, depth).await {
            Ending::Done(vars) => ChildRun {
                pid,
                result: Some(vars),
                error: None,
            },
            Ending::Error { message, .. } | Ending::Aborted(message) | Ending::Refused(message) => {
                ChildRun {
                    pid,
                    result: None,
                    error: Some(message),
                }
            }
            // A run waited for is synchronous and never parks.
            Ending::Parked => ChildRun {
                pid,
                result: None,
                error: Some(PARKED.into()),
            },
        })
    }

    /// The bytes of a stored file (by id) or of a URL.
    pub(crate) async fn fetch(&self, file: &str) -> Result<Vec<u8>, PortError> {
        let own = self.app.own_file_id(file.trim());
        if own.is_none() && (file.starts_with("http://") || file.starts_with("https://")) {
            let resp = self
                .http
                .get(file)
                .send()
                .await
                .map_err(|e| PortError::http(format!("{file}: {e}")))?;
            if !resp.status().is_success() {
                return Err(PortError::http(format!("{file}: status {}", resp.status())));
            }
            return resp
                .bytes()
                .await
                .map(|b| b.to_vec())
                .map_err(|e| PortError::http(format!("{file}: {e}")));
        }
        let id = match own {
            Some(id) => id,
            None => file
                .trim()
                .parse::<i64>()
                .map_err(|_| PortError::not_found(format!("no file {file:?}")))?,
        };
        self.app
            .stored_file_bytes(id)
            .await
            .map_err(port_error)?
            .ok_or_else(|| PortError::not_found(format!("no stored file {id}")))
    }

    async fn store(&self, upload: kartoteka_engine::FileUpload) -> Result<UploadedFile, PortError> {
        let bytes = match upload.content {
            FileContent::Bytes(b) => b,
            FileContent::Url(u) => self.fetch(&u).await?,
        };
        let field = upload
            .target
            .as_ref()
            .map(|t| (t.catalog.as_str(), t.field.as_str()));
        let (id, url) = self
            .app
            .store_file_bytes(&upload.name, upload.mime_type, bytes.into(), field)
            .await
            .map_err(port_error)?;
        let Some(t) = &upload.target else {
            // No record holds the file, so no user could open its URL: hand out a link that
            // works without signing in, for as long as such a file is kept.
            let url = self.app.share_link(id).await.map_err(port_error)?;
            return Ok(UploadedFile {
                id: id.to_string(),
                url,
            });
        };
        let mut values = Map::new();
        values.insert(t.field.clone(), json!([{"id": id.to_string()}]));
        let input = RecordInput {
            values,
            id: None,
            tz_offset_min: 0,
        };
        self.app
            .update_record(&Actor::System, &t.catalog, &t.record, input)
            .await
            .map_err(port_error)?;
        Ok(UploadedFile {
            id: id.to_string(),
            url,
        })
    }
}

impl Ports for AppPorts {
    fn get_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, Value> {
        Box::pin(async move {
            self.app
                .get_record(&Actor::System, catalog, record, &whole())
                .await
                .map(wire::record)
                .map_err(port_error)
        })
    }

    fn find_records<'a>(&'a self, catalog: &'a str, q: FindQuery) -> PortFuture<'a, Found> {
        Box::pin(self.find(catalog, q))
    }

    fn add_record<'a>(
        &'a self,
        catalog: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            let input = RecordInput {
                values,
                id: None,
                tz_offset_min: 0,
            };
            self.app
                .create_record(&Actor::System, catalog, input)
                .await
                .map(wire::record)
                .map_err(port_error)
        })
    }

    fn edit_record<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            let input = RecordInput {
                values,
                id: None,
                tz_offset_min: 0,
            };
            self.app
                .update_record(&Actor::System, catalog, record, input)
                .await
                .map(wire::record)
                .map_err(port_error)
        })
    }

    fn delete_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            self.app
                .delete_record(&Actor::System, catalog, record)
                .await
                .map_err(port_error)
        })
    }

    fn get_catalog<'a>(&'a self, catalog: &'a str) -> PortFuture<'a, Value> {
        Box::pin(self.catalog(catalog))
    }

    fn http<'a>(&'a self, req: HttpRequest) -> PortFuture<'a, HttpResponse> {
        Box::pin(self.send(req))
    }

    fn run_process<'a>(
        &'a self,
        script: &'a str,
        input: Map<String, Value>,
        wait: bool,
    ) -> PortFuture<'a, ChildRun> {
        Box::pin(self.child(script, input, wait))
    }

    fn send_mail<'a>(&'a self, mail: kartoteka_engine::Mail) -> PortFuture<'a, Value> {
        Box::pin(self.mail(mail))
    }

    fn receive_mail<'a>(
        &'a self,
        query: kartoteka_engine::MailQuery,
    ) -> PortFuture<'a, kartoteka_engine::Received> {
        Box::pin(self.receive_mail_imap(query))
    }

    fn sql_query<'a>(&'a self, query: kartoteka_engine::SqlQuery) -> PortFuture<'a, Vec<Value>> {
        Box::pin(crate::sql::run(query, &self.sql))
    }

    fn to_pdf<'a>(&'a self, job: kartoteka_engine::PdfJob) -> PortFuture<'a, Vec<u8>> {
        Box::pin(self.pdf.convert(job))
    }

    fn download_file<'a>(&'a self, file: &'a str) -> PortFuture<'a, Vec<u8>> {
        Box::pin(self.fetch(file))
    }

    fn upload_file<'a>(
        &'a self,
        upload: kartoteka_engine::FileUpload,
    ) -> PortFuture<'a, UploadedFile> {
        Box::pin(self.store(upload))
    }

    fn send_message<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        text: String,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            let input = MessageInput {
                text: Some(text),
                mentions: None,
                attachments: None,
                reply_message_id: None,
            };
            self.app
                .post_message(&Actor::System, catalog, record, input)
                .await
                .map(wire::message)
                .map_err(port_error)
        })
    }
}
