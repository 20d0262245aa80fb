//! Test helpers: a compact BPMN builder, fake ports (in-memory records, a scripted HTTP
//! responder), and a driver that runs a process to its end on a simulated clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use kartoteka_bpmn::{Ir, SyntaxCheck};
use kartoteka_engine::{
    ChildRun, Engine, FileContent, FileUpload, FindQuery, Found, HttpRequest, HttpResponse, Mail,
    MailQuery, Outcome, PdfJob, PortError, PortFuture, Ports, Received, Settings, SqlQuery, State,
    UploadedFile,
};
use serde_json::{json, Map, Value};

/// The JavaScript syntax check of the real compiler.
struct Js(kartoteka_script::Engine);

impl SyntaxCheck for Js {
    fn expression(&self, src: &str) -> Result<(), String> {
        self.0.check_expression(src)
    }
    fn function_body(&self, src: &str) -> Result<(), String> {
        self.0.check_function_body(src)
    }
}

/// Compiles BPMN text with the real syntax check.
pub fn compile(xml: &str) -> Ir {
    kartoteka_bpmn::compile(xml.as_bytes(), &Js(kartoteka_script::Engine::default()))
        .unwrap_or_else(|e| panic!("the fixture does not compile: {e}\n{xml}"))
}

/// An input parameter of a task.
pub enum P<'a> {
    /// An expression.
    E(&'a str),
    /// A constant.
    C(&'a str),
    /// A one-item list selection.
    L(&'a str),
    /// Key = expression pairs.
    M(&'a [(&'a str, &'a str)]),
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn script(kind: &str, value: &str) -> String {
    format!(
        r#"<camunda:script scriptFormat="JavaScript"><![CDATA[{}]]></camunda:script>"#,
        json!({"type": kind, "value": value})
    )
}

/// Builds a scenario file from a compact description.
#[derive(Default)]
pub struct Bpmn {
    nodes: String,
    flows: String,
}

impl Bpmn {
    pub fn new() -> Bpmn {
        Bpmn::default()
    }

    pub fn start(mut self, id: &str) -> Bpmn {
        self.nodes += &format!(r#"<bpmn:startEvent id="{id}" name=""/>"#);
        self
    }

    pub fn end(mut self, id: &str) -> Bpmn {
        self.nodes += &format!(r#"<bpmn:endEvent id="{id}" name=""/>"#);
        self
    }

    /// An XOR gateway; `default` is the target node of the default flow.
    pub fn xor(mut self, id: &str, default: Option<&str>) -> Bpmn {
        let d = default
            .map(|to| format!(r#" default="F_{id}_{to}""#))
            .unwrap_or_default();
        self.nodes += &format!(r#"<bpmn:exclusiveGateway id="{id}" name=""{d}/>"#);
        self
    }

    pub fn and(mut self, id: &str) -> Bpmn {
        self.nodes += &format!(r#"<bpmn:parallelGateway id="{id}" name=""/>"#);
        self
    }

    pub fn timer(mut self, id: &str, duration: &str) -> Bpmn {
        self.nodes += &format!(
            r#"<bpmn:intermediateCatchEvent id="{id}" name="Таймер"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression" language="JavaScript">{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>"#
        );
        self
    }

    /// A Set variables task named `name`.
    pub fn setvar(mut self, id: &str, name: &str, vars: &[(&str, &str)]) -> Bpmn {
        let outs: String = vars
            .iter()
            .map(|(t, e)| {
                format!(
                    r#"<camunda:outputParameter name="{}" configName="vars">{}</camunda:outputParameter>"#,
                    esc(t),
                    script("script", e)
                )
            })
            .collect();
        self.nodes += &format!(
            r#"<bpmn:serviceTask id="{id}" name="{}"><bpmn:extensionElements><camunda:connector><camunda:connectorId>setvar</camunda:connectorId></camunda:connector><camunda:inputOutput>{outs}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#,
            esc(name)
        );
        self
    }

    /// A task with a connector, inputs, and slot outputs `(target, slot)`.
    pub fn task(
        mut self,
        id: &str,
        connector: &str,
        inputs: &[(&str, P)],
        outputs: &[(&str, &str)],
    ) -> Bpmn {
        let mut io = String::new();
        for (name, p) in inputs {
            let inner = match p {
                P::E(e) => script("script", e),
                P::C(c) => script("const", c),
                P::L(v) => format!(
                    r#"<camunda:list><camunda:value type="const">{}</camunda:value></camunda:list>"#,
                    esc(v)
                ),
                P::M(pairs) => {
                    let entries: String = pairs
                        .iter()
                        .map(|(k, e)| {
                            format!(
                                r#"<camunda:entry key="{}">{}</camunda:entry>"#,
                                esc(k),
                                script("script", e)
                            )
                        })
                        .collect();
                    format!("<camunda:map>{entries}</camunda:map>")
                }
            };
            io += &format!(
                r#"<camunda:inputParameter name="{name}">{inner}</camunda:inputParameter>"#
            );
        }
        for (target, slot) in outputs {
            io += &format!(
                r#"<camunda:outputParameter name="{}" configName="{slot}">{}</camunda:outputParameter>"#,
                esc(target),
                script("outputResult", slot)
            );
        }
        self.nodes += &format!(
            r#"<bpmn:serviceTask id="{id}" name="{id}"><bpmn:extensionElements><camunda:connector><camunda:connectorId>{connector}</camunda:connectorId></camunda:connector><camunda:inputOutput>{io}</camunda:inputOutput></bpmn:extensionElements></bpmn:serviceTask>"#
        );
        self
    }

    pub fn error_boundary(mut self, id: &str, on: &str, code: &str, message: &str) -> Bpmn {
        let mut attrs = String::new();
        if !code.is_empty() {
            attrs += &format!(r#" camunda:errorCodeVariable="{code}""#);
        }
        if !message.is_empty() {
            attrs += &format!(r#" camunda:errorMessageVariable="{message}""#);
        }
        self.nodes += &format!(
            r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}"><bpmn:errorEventDefinition{attrs}/></bpmn:boundaryEvent>"#
        );
        self
    }

    pub fn timer_boundary(mut self, id: &str, on: &str, duration: &str) -> Bpmn {
        self.nodes += &format!(
            r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#
        );
        self
    }

    /// A timer boundary that lets the task go on (`cancelActivity="false"`).
    pub fn soft_timer_boundary(mut self, id: &str, on: &str, duration: &str) -> Bpmn {
        self.nodes += &format!(
            r#"<bpmn:boundaryEvent id="{id}" attachedToRef="{on}" cancelActivity="false"><bpmn:timerEventDefinition><bpmn:timeDuration xsi:type="bpmn:tFormalExpression">{duration}</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"#
        );
        self
    }

    /// A flow with the id `F_<from>_<to>`.
    pub fn flow(mut self, from: &str, to: &str) -> Bpmn {
        self.flows += &format!(
            r#"<bpmn:sequenceFlow id="F_{from}_{to}" sourceRef="{from}" targetRef="{to}"/>"#
        );
        self
    }

    /// A conditional flow with the id `F_<from>_<to>`.
    pub fn cond(mut self, from: &str, to: &str, condition: &str) -> Bpmn {
        self.flows += &format!(
            r#"<bpmn:sequenceFlow id="F_{from}_{to}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="JavaScript"><![CDATA[{}]]></bpmn:conditionExpression></bpmn:sequenceFlow>"#,
            json!({"type": "script", "value": condition})
        );
        self
    }

    /// A chain of unconditional flows.
    pub fn chain(mut self, ids: &[&str]) -> Bpmn {
        for w in ids.windows(2) {
            self = self.flow(w[0], w[1]);
        }
        self
    }

    pub fn xml(&self) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_1" targetNamespace="http://bpmn.io/schema/bpmn"><bpmn:process id="Process_1" isExecutable="false">{}{}</bpmn:process></bpmn:definitions>"#,
            self.nodes, self.flows
        )
    }

    pub fn ir(&self) -> Ir {
        compile(&self.xml())
    }
}

type Responder = Box<dyn Fn(&HttpRequest) -> Result<HttpResponse, PortError> + Send + Sync>;

/// A started child process: (scenario, input, wait).
pub type Child = (String, Map<String, Value>, bool);

/// In-memory ports: catalogs of records, catalog structures, a scripted HTTP responder.
pub struct Fake {
    pub records: Mutex<BTreeMap<String, Vec<Value>>>,
    pub catalogs: Mutex<BTreeMap<String, Value>>,
    pub responder: Responder,
    pub http_delay: Duration,
    pub requests: Mutex<Vec<HttpRequest>>,
    pub finds: Mutex<Vec<FindQuery>>,
    pub messages: Mutex<Vec<(String, String, String)>>,
    pub next_id: AtomicU64,
    /// Child processes started: (scenario, input, wait).
    pub children: Mutex<Vec<Child>>,
    /// When set, a waited-for child fails with this message.
    pub child_error: Mutex<Option<String>>,
    pub mails: Mutex<Vec<Mail>>,
    /// When set, sending mail fails with it.
    pub mail_error: Mutex<Option<PortError>>,
    pub mail_queries: Mutex<Vec<MailQuery>>,
    pub uploads: Mutex<Vec<FileUpload>>,
    /// Files `download_file` serves, by id or URL.
    pub files: Mutex<BTreeMap<String, Vec<u8>>>,
    pub sql: Mutex<Vec<SqlQuery>>,
    /// The answer of `sql_query`.
    pub sql_answer: Mutex<Result<Vec<Value>, PortError>>,
    /// Conversions asked of `to_pdf`; each answers `%PDF-fake <n>`.
    pub pdf_jobs: Mutex<Vec<PdfJob>>,
}

impl Default for Fake {
    fn default() -> Fake {
        Fake {
            records: Mutex::default(),
            catalogs: Mutex::default(),
            responder: Box::new(|_| {
                Ok(HttpResponse {
                    status: 200,
                    headers: vec![],
                    body: b"ok".to_vec(),
                })
            }),
            http_delay: Duration::ZERO,
            requests: Mutex::default(),
            finds: Mutex::default(),
            messages: Mutex::default(),
            next_id: AtomicU64::new(1000),
            children: Mutex::default(),
            child_error: Mutex::default(),
            mails: Mutex::default(),
            mail_error: Mutex::default(),
            mail_queries: Mutex::default(),
            uploads: Mutex::default(),
            files: Mutex::default(),
            sql: Mutex::default(),
            sql_answer: Mutex::new(Ok(vec![])),
            pdf_jobs: Mutex::default(),
        }
    }
}

impl Fake {
    pub fn new() -> Fake {
        Fake::default()
    }

    /// Adds records `{"id": id, "catalogId": catalog, "title": …, "values": values}`.
    pub fn with_records(self, catalog: &str, records: &[(&str, Value)]) -> Fake {
        let list = records
            .iter()
            .map(|(id, values)| {
                json!({"id": id, "catalogId": catalog, "title": format!("Record {id}"), "values": values})
            })
            .collect();
        self.records
            .lock()
            .unwrap()
            .insert(catalog.to_owned(), list);
        self
    }

    pub fn with_http(
        mut self,
        f: impl Fn(&HttpRequest) -> Result<HttpResponse, PortError> + Send + Sync + 'static,
    ) -> Fake {
        self.responder = Box::new(f);
        self
    }

    pub fn records(&self, catalog: &str) -> Vec<Value> {
        self.records
            .lock()
            .unwrap()
            .get(catalog)
            .cloned()
            .unwrap_or_default()
    }
}

fn matches(record: &Value, filters: &Option<Value>) -> bool {
    let Some(Value::Object(f)) = filters else {
        return true;
    };
    f.iter().all(|(k, want)| {
        let have = &record["values"][k];
        match (have, want) {
            (Value::String(h), Value::String(w)) => h.contains(w.as_str()),
            _ => have == want,
        }
    })
}

impl Ports for Fake {
    fn get_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, Value> {
        Box::pin(async move {
            self.records(catalog)
                .into_iter()
                .find(|r| r["id"] == record)
                .ok_or_else(|| PortError::not_found(format!("record {record} of {catalog}")))
        })
    }

    fn find_records<'a>(&'a self, catalog: &'a str, q: FindQuery) -> PortFuture<'a, Found> {
        Box::pin(async move {
            let all: Vec<Value> = self
                .records(catalog)
                .into_iter()
                .filter(|r| matches(r, &q.filters))
                .collect();
            let total = all.len() as i64;
            let records = all
                .into_iter()
                .skip(q.offset as usize)
                .take(q.limit as usize)
                .collect();
            self.finds.lock().unwrap().push(q);
            Ok(Found { records, total })
        })
    }

    fn add_record<'a>(
        &'a self,
        catalog: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            if values.contains_key("bad") {
                return Err(PortError::validation("field bad: not a valid value"));
            }
            let id = self.next_id.fetch_add(1, Ordering::SeqCst).to_string();
            let r = json!({"id": id, "catalogId": catalog, "title": "", "values": values});
            self.records
                .lock()
                .unwrap()
                .entry(catalog.to_owned())
                .or_default()
                .push(r.clone());
            Ok(r)
        })
    }

    fn edit_record<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        values: Map<String, Value>,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            let mut all = self.records.lock().unwrap();
            let r = all
                .get_mut(catalog)
                .and_then(|l| l.iter_mut().find(|r| r["id"] == record))
                .ok_or_else(|| PortError::not_found(format!("record {record} of {catalog}")))?;
            for (k, v) in values {
                r["values"][k] = v;
            }
            Ok(r.clone())
        })
    }

    fn delete_record<'a>(&'a self, catalog: &'a str, record: &'a str) -> PortFuture<'a, ()> {
        Box::pin(async move {
            let mut all = self.records.lock().unwrap();
            let list = all
                .get_mut(catalog)
                .ok_or_else(|| PortError::not_found(catalog))?;
            let before = list.len();
            list.retain(|r| r["id"] != record);
            if list.len() == before {
                return Err(PortError::not_found(format!("record {record}")));
            }
            Ok(())
        })
    }

    fn get_catalog<'a>(&'a self, catalog: &'a str) -> PortFuture<'a, Value> {
        Box::pin(async move {
            self.catalogs
                .lock()
                .unwrap()
                .get(catalog)
                .cloned()
                .ok_or_else(|| PortError::not_found(format!("catalog {catalog}")))
        })
    }

    fn http<'a>(&'a self, req: HttpRequest) -> PortFuture<'a, HttpResponse> {
        Box::pin(async move {
            if !self.http_delay.is_zero() {
                tokio::time::sleep(self.http_delay).await;
            }
            let r = (self.responder)(&req);
            self.requests.lock().unwrap().push(req);
            r
        })
    }

    fn send_message<'a>(
        &'a self,
        catalog: &'a str,
        record: &'a str,
        text: String,
    ) -> PortFuture<'a, Value> {
        Box::pin(async move {
            let mut m = self.messages.lock().unwrap();
            m.push((catalog.to_owned(), record.to_owned(), text));
            Ok(json!({"id": format!("m{}", m.len())}))
        })
    }

    fn run_process<'a>(
        &'a self,
        script: &'a str,
        input: Map<String, Value>,
        wait: bool,
    ) -> PortFuture<'a, ChildRun> {
        Box::pin(async move {
            if script == "missing" {
                return Err(PortError::not_found("scenario missing"));
            }
            Ok(self.child(script, input, wait))
        })
    }

    fn send_mail<'a>(&'a self, mail: Mail) -> PortFuture<'a, Value> {
        Box::pin(async move {
            if let Some(e) = self.mail_error.lock().unwrap().clone() {
                return Err(e);
            }
            let mut m = self.mails.lock().unwrap();
            m.push(mail);
            Ok(json!({"messageId": format!("<mail{}@test>", m.len())}))
        })
    }

    fn receive_mail<'a>(&'a self, query: MailQuery) -> PortFuture<'a, Received> {
        Box::pin(async move {
            let message =
                (query.index == 0).then(|| json!({"subject": "Hello", "from": "a@b.test"}));
            self.mail_queries.lock().unwrap().push(query);
            Ok(Received { message, total: 1 })
        })
    }

    fn upload_file<'a>(&'a self, upload: FileUpload) -> PortFuture<'a, UploadedFile> {
        Box::pin(async move {
            if let FileContent::Url(u) = &upload.content {
                if u.contains("404") {
                    return Err(PortError::http(format!("{u}: 404 Not Found")));
                }
            }
            let mut u = self.uploads.lock().unwrap();
            u.push(upload);
            let id = format!("f{}", u.len());
            Ok(UploadedFile {
                url: format!("https://files.test/{id}"),
                id,
            })
        })
    }

    fn download_file<'a>(&'a self, file: &'a str) -> PortFuture<'a, Vec<u8>> {
        Box::pin(async move {
            self.files
                .lock()
                .unwrap()
                .get(file)
                .cloned()
                .ok_or_else(|| PortError::not_found(format!("file {file}")))
        })
    }

    fn sql_query<'a>(&'a self, query: SqlQuery) -> PortFuture<'a, Vec<Value>> {
        Box::pin(async move {
            self.sql.lock().unwrap().push(query);
            self.sql_answer.lock().unwrap().clone()
        })
    }

    fn to_pdf<'a>(&'a self, job: PdfJob) -> PortFuture<'a, Vec<u8>> {
        Box::pin(async move {
            let mut jobs = self.pdf_jobs.lock().unwrap();
            jobs.push(job);
            Ok(format!("%PDF-fake {}", jobs.len()).into_bytes())
        })
    }
}

/// The ports the host need not implement: recorded, with scripted answers.
impl Fake {
    fn child(&self, script: &str, input: Map<String, Value>, wait: bool) -> ChildRun {
        let mut c = self.children.lock().unwrap();
        c.push((script.to_owned(), input.clone(), wait));
        let pid = format!("p{}", c.len());
        if !wait {
            return ChildRun {
                pid,
                ..ChildRun::default()
            };
        }
        if let Some(e) = self.child_error.lock().unwrap().clone() {
            return ChildRun {
                pid,
                result: None,
                error: Some(e),
            };
        }
        let mut result = input;
        result.insert("childDone".into(), Value::Bool(true));
        ChildRun {
            pid,
            result: Some(result),
            error: None,
        }
    }
}

impl Fake {
    pub fn with_file(self, key: &str, bytes: &[u8]) -> Fake {
        self.files
            .lock()
            .unwrap()
            .insert(key.to_owned(), bytes.to_vec());
        self
    }
}

/// The simulated clock's start, Unix milliseconds.
pub const T0: i64 = 1_700_000_000_000;

/// Runs a process until it completes or fails; waits advance the simulated clock.
pub async fn finish(engine: &Engine, ir: &Ir, state: &mut State, ports: &dyn Ports) -> Outcome {
    let mut now = T0;
    for _ in 0..100_000 {
        match engine.run_step(ir, state, ports, now).await {
            Outcome::Yield => {}
            Outcome::Waiting { until_ms } => now = now.max(until_ms),
            other => return other,
        }
    }
    panic!("the process did not finish");
}

/// Starts a process with `input` and runs it to the end with default settings.
pub async fn run(ir: &Ir, input: Value, ports: &dyn Ports) -> (Outcome, State) {
    run_with(Settings::default(), ir, input, ports).await
}

pub async fn run_with(
    settings: Settings,
    ir: &Ir,
    input: Value,
    ports: &dyn Ports,
) -> (Outcome, State) {
    let engine = Engine::new(settings);
    let input = match input {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let mut state = engine.start(ir, input);
    let out = finish(&engine, ir, &mut state, ports).await;
    (out, state)
}

/// The failure of an outcome, or a panic.
pub fn failure(o: &Outcome) -> &kartoteka_engine::Failure {
    match o {
        Outcome::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}
