//! The components whose work is a new port (child processes, mail, files, SQL) or JSON over
//! the http port (AI, Telegram), and the pure ones (Converter, Parser, templates).

use kartoteka_engine::{
    FileContent, HttpResponse, MailServer, Outcome, PdfJob, PortError, Settings,
};
use serde_json::{json, Value};

use crate::common::{failure, run, run_with, Bpmn, Fake, P};

fn one(connector: &str, inputs: &[(&str, P)], outputs: &[(&str, &str)]) -> kartoteka_bpmn::Ir {
    Bpmn::new()
        .start("S")
        .task("T", connector, inputs, outputs)
        .end("E")
        .chain(&["S", "T", "E"])
        .ir()
}

/// Start → task (with an error boundary writing `code`/`msg`) → End; the boundary → End.
fn guarded(connector: &str, inputs: &[(&str, P)], outputs: &[(&str, &str)]) -> kartoteka_bpmn::Ir {
    Bpmn::new()
        .start("S")
        .task("T", connector, inputs, outputs)
        .error_boundary("B", "T", "code", "msg")
        .setvar("C", "caught", &[("caught", "true")])
        .end("E")
        .chain(&["S", "T", "E"])
        .chain(&["B", "C", "E"])
        .ir()
}

fn json_response(status: u16, body: Value) -> Result<HttpResponse, PortError> {
    Ok(HttpResponse {
        status,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

// --- Run process ---

#[tokio::test]
async fn run_process_sync_passes_only_its_parameters_and_returns_the_child_variables() {
    let ir = one(
        "runProcess",
        &[
            ("scriptFormat", P::L("list")),
            ("scriptId", P::E("12")),
            ("format", P::L("keyvalue")),
            ("params", P::M(&[("n", "count + 1"), ("who", "'Анна'")])),
            ("async", P::L("sync")),
        ],
        &[("child", "output"), ("pid", "output_pid")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({"count": 1, "secret": "s"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let children = fake.children.lock().unwrap().clone();
    assert_eq!(children.len(), 1);
    let (script, input, wait) = &children[0];
    assert_eq!(script, "12");
    assert_eq!(Value::Object(input.clone()), json!({"n": 2, "who": "Анна"}));
    assert!(*wait);
    assert_eq!(
        state.vars["child"],
        json!({"n": 2, "who": "Анна", "childDone": true})
    );
    assert_eq!(state.vars["pid"], "p1");
}

#[tokio::test]
async fn run_process_async_returns_only_the_pid() {
    let ir = one(
        "runProcess",
        &[
            ("scriptFormat", P::L("var")),
            ("scriptIdFromVar", P::E("target")),
            ("format", P::L("json")),
            ("paramsJson", P::E("{a: 1, b: [2]}")),
            ("async", P::L("async")),
        ],
        &[("child", "output"), ("pid", "output_pid")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({"target": 77, "child": "kept"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let (script, input, wait) = fake.children.lock().unwrap()[0].clone();
    assert_eq!((script.as_str(), wait), ("77", false));
    assert_eq!(Value::Object(input), json!({"a": 1, "b": [2]}));
    assert_eq!(state.vars["child"], "kept", "no output without waiting");
    assert_eq!(state.vars["pid"], "p1");
}

#[tokio::test]
async fn a_failed_sync_child_is_child_process_for_the_error_boundary() {
    let inputs = [("scriptId", P::E("12")), ("async", P::L("sync"))];
    let fake = Fake::new();
    *fake.child_error.lock().unwrap() = Some("boom in child".into());
    let (out, state) = run(&guarded("runProcess", &inputs, &[]), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["code"], "CHILD_PROCESS");
    assert!(state.vars["msg"]
        .as_str()
        .unwrap()
        .contains("boom in child"));
    assert_eq!(state.vars["caught"], true);
    // Without a boundary the parent fails; an async child's failure is not the parent's.
    let (out, _) = run(&one("runProcess", &inputs, &[]), json!({}), &fake).await;
    assert_eq!(failure(&out).code, "CHILD_PROCESS");
    let async_inputs = [("scriptId", P::E("12")), ("async", P::L("async"))];
    let (out, _) = run(&one("runProcess", &async_inputs, &[]), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
}

#[tokio::test]
async fn run_process_errors_of_the_host_and_a_missing_script() {
    let (out, _) = run(
        &one("runProcess", &[("scriptId", P::C("missing"))], &[]),
        json!({}),
        &Fake::new(),
    )
    .await;
    assert_eq!(failure(&out).code, "NOT_FOUND");
    let (out, _) = run(&one("runProcess", &[], &[]), json!({}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(
        (f.code.as_str(), f.message.as_str()),
        ("EXPRESSION", "scriptId is required")
    );
}

// --- Send mail ---

fn mail_inputs<'a>() -> Vec<(&'a str, P<'a>)> {
    vec![
        ("connectionProtocol", P::L("smtp")),
        ("connectionType", P::L("parameters")),
        ("smtphost", P::E("'smtp.example.test'")),
        ("smtpport", P::E("'465'")),
        ("smtpencription", P::L("encrypted")),
        ("smtpencriptionselfsign", P::L("no")),
        ("smtplogin", P::E("'robot@example.test'")),
        ("smtppass", P::E("'secret'")),
        ("connectionString", P::E("")),
        ("exchangeHost", P::E("")),
        ("from", P::E("\"Робот <robot@example.test>\"")),
        ("replyTo", P::E("")),
        ("to", P::E("emails.join(', ')")),
        ("bcc", P::E("'boss@example.test'")),
        ("subject", P::E("`Встреча ${n}`")),
        ("bodyType", P::L("html")),
        ("body", P::E("'<b>hi</b>'")),
        (
            "attachments",
            P::E("[{title: 'invite.ics', url: 'https://files.test/f9'}, files[0]]"),
        ),
    ]
}

#[tokio::test]
async fn send_mail_passes_the_message_and_returns_its_id() {
    let ir = one("sendMail", &mail_inputs(), &[("sent", "output")]);
    let fake = Fake::new();
    let input = json!({
        "emails": ["a@x.test", "\"Doe, John\" <j@x.test>"], "n": 3,
        "files": [{"id": "55", "title": "report.pdf", "url": "https://files.test/55", "size": 1}]
    });
    let (out, state) = run(&ir, input, &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["sent"], "<mail1@test>");
    let mail = fake.mails.lock().unwrap()[0].clone();
    assert_eq!(
        mail.server,
        MailServer::Smtp {
            host: "smtp.example.test".into(),
            port: Some(465),
            tls: true,
            allow_self_signed: false,
            login: Some("robot@example.test".into()),
            password: Some("secret".into()),
        }
    );
    assert_eq!(mail.from, "Робот <robot@example.test>");
    assert_eq!(mail.to, vec!["a@x.test", "\"Doe, John\" <j@x.test>"]);
    assert!(mail.cc.is_empty());
    assert_eq!(mail.bcc, vec!["boss@example.test"]);
    assert_eq!(mail.subject, "Встреча 3");
    assert_eq!(
        (mail.html.as_deref(), mail.text.as_deref()),
        (Some("<b>hi</b>"), None)
    );
    assert_eq!(mail.reply_to, None);
    let files: Vec<(String, String)> = mail
        .attachments
        .iter()
        .map(|a| (a.title.clone(), a.file.clone()))
        .collect();
    assert_eq!(
        files,
        vec![
            ("invite.ics".into(), "https://files.test/f9".into()),
            ("report.pdf".into(), "55".into())
        ],
        "a storage file goes by its id"
    );
}

#[tokio::test]
async fn send_mail_by_connection_string_with_a_text_body() {
    let ir = one(
        "sendMail",
        &[
            ("connectionType", P::L("string")),
            ("connectionString", P::E("'smtps://u:p@mail.test:465'")),
            ("from", P::E("'a@b.test'")),
            ("to", P::E("['x@y.test', 'z@y.test']")),
            ("cc", P::E("'c@y.test; d@y.test'")),
            ("bodyType", P::L("text")),
            ("body", P::E("'plain'")),
        ],
        &[],
    );
    let fake = Fake::new();
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let mail = fake.mails.lock().unwrap()[0].clone();
    assert_eq!(
        mail.server,
        MailServer::SmtpUrl("smtps://u:p@mail.test:465".into())
    );
    assert_eq!(mail.to, vec!["x@y.test", "z@y.test"]);
    assert_eq!(mail.cc, vec!["c@y.test", "d@y.test"]);
    assert_eq!(mail.text.as_deref(), Some("plain"));
}

#[tokio::test]
async fn a_mail_failure_is_smtp_for_the_error_boundary() {
    let fake = Fake::new();
    *fake.mail_error.lock().unwrap() = Some(PortError::http("535 authentication failed"));
    let input = json!({"emails": ["a@x.test"], "n": 1, "files": [{"url": "https://f.test/x.pdf"}]});
    let (out, state) = run(
        &guarded("sendMail", &mail_inputs(), &[]),
        input.clone(),
        &fake,
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["code"], "SMTP");
    assert_eq!(state.vars["msg"], "535 authentication failed");
    let (out, _) = run(&one("sendMail", &mail_inputs(), &[]), input, &fake).await;
    assert_eq!(failure(&out).code, "SMTP");
    // Missing recipients are the scenario's error, found before any port call.
    let (out, _) = run(
        &one(
            "sendMail",
            &[("smtphost", P::E("'h'")), ("from", P::E("'a@b'"))],
            &[],
        ),
        json!({}),
        &Fake::new(),
    )
    .await;
    assert_eq!(failure(&out).message, "to is required");
}

// --- Receive mail and SQL ---

#[tokio::test]
async fn receive_mail_builds_the_query_and_returns_the_message_and_count() {
    let ir = one(
        "receiveMail",
        &[
            ("connectionType", P::L("parameters")),
            ("host", P::E("'imap.test'")),
            ("port", P::E("993")),
            ("encryption", P::L("on")),
            ("login", P::E("'me'")),
            ("password", P::E("'pw'")),
            ("filterType", P::L("standard")),
            ("category", P::L("unseen")),
            ("subject", P::E("'Счёт'")),
            ("index", P::E("0")),
            ("attachments", P::L("links")),
            ("markRead", P::L("yes")),
        ],
        &[("mail", "output"), ("count", "outputCount")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["mail"]["subject"], "Hello");
    assert_eq!(state.vars["count"], 1);
    let q = fake.mail_queries.lock().unwrap()[0].clone();
    assert_eq!(
        (q.host.as_str(), q.port, q.tls),
        ("imap.test", Some(993), true)
    );
    assert_eq!(
        (q.category.as_str(), q.subject.as_deref()),
        ("unseen", Some("Счёт"))
    );
    assert_eq!((q.attachments.as_str(), q.mark_read), ("links", true));
}

#[tokio::test]
async fn sql_returns_rows_and_its_failures_are_sql() {
    let inputs = [
        ("dbType", P::L("postgres")),
        ("connectionType", P::L("connectionString")),
        ("connectionString", P::E("'postgres://u:p@db/x'")),
        (
            "query",
            P::E("`select * from t where id = :id and kind = '${kind}'`"),
        ),
        ("params", P::M(&[("id", "7")])),
    ];
    let fake = Fake::new();
    *fake.sql_answer.lock().unwrap() = Ok(vec![json!({"id": 7, "name": "a"})]);
    let (out, state) = run(
        &one("sql", &inputs, &[("rows", "output")]),
        json!({"kind": "k"}),
        &fake,
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["rows"], json!([{"id": 7, "name": "a"}]));
    let q = fake.sql.lock().unwrap()[0].clone();
    assert_eq!(q.query, "select * from t where id = :id and kind = 'k'");
    assert_eq!(q.params["id"], 7);
    *fake.sql_answer.lock().unwrap() = Err(PortError::new("INVALID", "syntax error at or near"));
    let (out, state) = run(&guarded("sql", &inputs, &[]), json!({"kind": "k"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["code"], "SQL");
}

// --- Upload file ---

#[tokio::test]
async fn upload_generated_content_returns_the_url_and_the_file_id() {
    let ir = one(
        "bpiumFileUpload",
        &[
            ("file_format", P::L("data")),
            ("file_url", P::E("")),
            ("file_data", P::E("data")),
            ("file_name", P::E("'invite.ics'")),
            ("output_format", P::L("fileId")),
        ],
        &[("url", "output_url"), ("id", "output_fileId")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({"data": "BEGIN:VCALENDAR"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["url"], "https://files.test/f1");
    assert_eq!(state.vars["id"], "f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "invite.ics");
    assert_eq!(up.mime_type.as_deref(), Some("text/calendar"));
    assert_eq!(up.content, FileContent::Bytes(b"BEGIN:VCALENDAR".to_vec()));
    assert_eq!(up.target, None);
}

#[tokio::test]
async fn upload_from_a_url_into_a_record_field() {
    let ir = one(
        "bpiumFileUpload",
        &[
            ("file_format", P::L("url")),
            ("file_url", P::E("src")),
            ("output_format", P::L("catalog")),
            ("output_catalogId", P::E("74")),
            ("output_recordId", P::E("5")),
            ("output_fieldId", P::C("3")),
        ],
        &[("id", "output_fileId")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({"src": "https://x.test/a/photo.png?s=1"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["id"], "f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "photo.png");
    assert_eq!(
        up.content,
        FileContent::Url("https://x.test/a/photo.png?s=1".into())
    );
    let t = up.target.unwrap();
    assert_eq!(
        (t.catalog.as_str(), t.record.as_str(), t.field.as_str()),
        ("74", "5", "3")
    );
    // A failed download is the host's HTTP error; a Buffer is its bytes.
    let (out, _) = run(&ir, json!({"src": "https://x.test/404"}), &fake).await;
    assert_eq!(failure(&out).code, "HTTP");
}

// --- Converter ---

fn workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Лист1").unwrap();
    sheet.write_string(0, 0, "Компания").unwrap();
    sheet.write_string(0, 1, "Город").unwrap();
    sheet.write_string(0, 2, "ИНН").unwrap();
    sheet.write_string(0, 3, "Телефон").unwrap();
    sheet.write_string(0, 4, "Email").unwrap();
    sheet.write_string(1, 0, "Ромашка").unwrap();
    sheet.write_string(1, 1, "Казань").unwrap();
    sheet.write_string(1, 2, "7701").unwrap();
    sheet.write_number(1, 3, 79001234567.0).unwrap();
    sheet.write_string(1, 4, "r@x.test").unwrap();
    // Row 3 is blank and skipped; row 4 leaves B out.
    sheet.write_string(3, 0, "Лютик").unwrap();
    sheet.write_number(3, 2, 1.5).unwrap();
    sheet.write_boolean(3, 3, true).unwrap();
    sheet.write_string(3, 4, "l@x.test").unwrap();
    let second = book.add_worksheet();
    second.set_name("Data").unwrap();
    second.write_number(2, 27, 42.0).unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn converter_turns_a_record_spreadsheet_into_rows_keyed_by_column_letters() {
    let fake = Fake::new()
        .with_records(
            "110",
            &[("5", json!({"2": [{"id": "900", "title": "list.xlsx", "url": "https://files.test/900"}]}))],
        )
        .with_file("900", &workbook());
    let ir = one(
        "convertDoc",
        &[
            ("method", P::C("excel-json")),
            ("source_format", P::L("catalog")),
            ("source_catalogId", P::E("110")),
            ("source_recordId", P::E("recordId")),
            ("source_fieldId", P::C("2")),
            ("source_url", P::E("")),
            ("data_format", P::L("keyvalue")),
            ("output_format", P::L("content")),
        ],
        &[("excel", "output_content")],
    );
    let (out, state) = run(&ir, json!({"recordId": "5"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        state.vars["excel"],
        json!({
            "Лист1": [
                {"A": "Компания", "B": "Город", "C": "ИНН", "D": "Телефон", "E": "Email"},
                {"A": "Ромашка", "B": "Казань", "C": "7701", "D": 79001234567_i64, "E": "r@x.test"},
                {"A": "Лютик", "C": 1.5, "D": true, "E": "l@x.test"}
            ],
            "Data": [{"AB": 42}]
        })
    );
}

#[tokio::test]
async fn converter_errors_unsupported_formats_bad_files_and_missing_files() {
    let conv = |method: &'static str| {
        one(
            "convertDoc",
            &[
                ("method", P::C(method)),
                ("source_format", P::L("content")),
                ("source_content", P::E("content")),
            ],
            &[("out", "output_content")],
        )
    };
    let (out, _) = run(
        &conv("pdf-html"),
        json!({"content": "<p>x</p>"}),
        &Fake::new(),
    )
    .await;
    let f = failure(&out);
    assert_eq!(
        (f.code.as_str(), f.message.as_str()),
        ("INTERNAL", "component not supported: convertDoc (pdf-html)")
    );
    let (out, _) = run(
        &conv("excel-json"),
        json!({"content": "not a zip"}),
        &Fake::new(),
    )
    .await;
    assert_eq!(failure(&out).code, "INTERNAL");
    let ir = one(
        "convertDoc",
        &[
            ("method", P::C("excel-json")),
            ("source_catalogId", P::E("110")),
            ("source_recordId", P::E("'5'")),
            ("source_fieldId", P::C("2")),
        ],
        &[],
    );
    let fake = Fake::new().with_records("110", &[("5", json!({"2": []}))]);
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "NOT_FOUND");
}

#[tokio::test]
async fn converter_xml_to_json_and_stored_as_a_file() {
    let ir = one(
        "convertDoc",
        &[
            ("method", P::C("xml-json")),
            ("source_format", P::L("url")),
            ("source_url", P::E("'https://x.test/cat.xml'")),
            ("data_format", P::L("json")),
            ("data_json", P::E("{explicitArray: false}")),
            ("output_format", P::L("url")),
            ("output_filename", P::E("'cat'")),
        ],
        &[("url", "output_url")],
    );
    let fake = Fake::new().with_file(
        "https://x.test/cat.xml",
        "<CAT><NAME>Izzy</NAME><BREED>Siamese</BREED></CAT>".as_bytes(),
    );
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["url"], "https://files.test/f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "cat.json", "a name without an extension gets one");
    let FileContent::Bytes(b) = up.content else {
        panic!("bytes expected")
    };
    let v: Value = serde_json::from_slice(&b).unwrap();
    assert_eq!(v, json!({"CAT": {"NAME": "Izzy", "BREED": "Siamese"}}));
}

#[tokio::test]
async fn converter_prints_html_to_a_pdf_buffer_with_the_page_setup() {
    let ir = one(
        "convertDoc",
        &[
            ("method", P::C("html-pdf")),
            ("source_format", P::L("content")),
            ("source_content", P::E("`<h1>Счёт ${n}</h1>`")),
            ("data_format", P::L("json")),
            (
                "data_json",
                P::E("{Format: 'A5', landscape: true, margin: {top: '2cm'}, scale: 0.5}"),
            ),
            ("output_format", P::L("content")),
        ],
        &[("pdf", "output_content")],
    );
    let fake = Fake::new();
    let (out, state) = run(&ir, json!({"n": 7}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        state.vars["pdf"],
        json!({"type": "Buffer", "data": b"%PDF-fake 1".to_vec()}),
        "the PDF is a Buffer"
    );
    let jobs = fake.pdf_jobs.lock().unwrap();
    let PdfJob::Html { html, print } = &jobs[0] else {
        panic!("an HTML job: {jobs:?}")
    };
    assert_eq!(html, "<h1>Счёт 7</h1>");
    assert!((print.paper_width - 5.8268).abs() < 1e-9, "{print:?}");
    assert!(print.landscape && print.print_background);
    assert!((print.margin[0] - 2.0 * 37.8 / 96.0).abs() < 1e-9);
    assert_eq!(print.margin[1], 0.0, "an object's missing sides are 0");
    assert!((print.scale - 0.5).abs() < 1e-9);
}

#[tokio::test]
async fn converter_turns_a_record_docx_into_a_stored_pdf() {
    let docx = word_template();
    let fake = Fake::new()
        .with_records(
            "110",
            &[("5", json!({"2": [{"id": "900", "title": "Договор.docx"}]}))],
        )
        .with_file("900", &docx);
    let conv = |output: &'static str, name: &'static str| {
        one(
            "convertDoc",
            &[
                ("method", P::C("docx-pdf")),
                ("source_catalogId", P::E("110")),
                ("source_recordId", P::E("'5'")),
                ("source_fieldId", P::C("2")),
                ("output_format", P::L(output)),
                ("output_filename", P::E(name)),
                ("output_catalogId", P::E("110")),
                ("output_recordId", P::E("'5'")),
                ("output_fieldId", P::C("3")),
            ],
            &[("url", "output_url")],
        )
    };
    let (out, state) = run(&conv("url", ""), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["url"], "https://files.test/f1");
    let (out, _) = run(&conv("catalog", "'signed'"), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let jobs = fake.pdf_jobs.lock().unwrap().clone();
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        let PdfJob::Docx(package) = job else {
            panic!("a Word job")
        };
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(package)).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("word/document.xml").unwrap(), &mut text)
            .unwrap();
        assert!(
            text.contains("Invoice for {{exec"),
            "the document goes as it is"
        );
    }
    let uploads = fake.uploads.lock().unwrap().clone();
    assert_eq!(uploads[0].name, "Договор.pdf", "named after the source");
    assert_eq!(uploads[0].mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(
        uploads[0].content,
        FileContent::Bytes(b"%PDF-fake 1".to_vec())
    );
    assert_eq!(
        uploads[1].name, "signed.pdf",
        "a name without extension gets .pdf"
    );
    let target = uploads[1].target.clone().expect("into the record");
    assert_eq!((target.record.as_str(), target.field.as_str()), ("5", "3"));
    // Not a Word package, and a bad page setup: refused before the host is asked.
    let fake = Fake::new().with_records("110", &[("5", json!({"2": [{"id": "901"}]}))]);
    fake.files
        .lock()
        .unwrap()
        .insert("901".into(), b"<html>".to_vec());
    let (out, _) = run(&conv("url", ""), json!({}), &fake).await;
    let f = failure(&out);
    assert!(f.message.contains("not a .docx"), "{f:?}");
    let bad = one(
        "convertDoc",
        &[
            ("method", P::C("html-pdf")),
            ("source_format", P::L("content")),
            ("source_content", P::E("'<p>'")),
            ("data_format", P::L("keyvalue")),
            ("data_values", P::M(&[("format", "'B7'")])),
        ],
        &[],
    );
    let (out, _) = run(&bad, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
    assert!(fake.pdf_jobs.lock().unwrap().is_empty());
}

#[tokio::test]
async fn converter_download_limit_is_limit() {
    let ir = one(
        "convertDoc",
        &[
            ("method", P::C("xml-json")),
            ("source_format", P::L("url")),
            ("source_url", P::E("'big'")),
        ],
        &[],
    );
    let fake = Fake::new().with_file("big", &[b' '; 2000]);
    let settings = Settings {
        download_limit: 1000,
        ..Settings::default()
    };
    let (out, _) = run_with(settings, &ir, json!({}), &fake).await;
    assert_eq!(failure(&out).code, "LIMIT");
}

// --- Generate document ---

#[tokio::test]
async fn generate_document_fills_a_text_template() {
    let tpl =
        "<h1>{{client.name}}</h1>{{#rows}}<tr><td>{{rows.n}}</td><td>{{title}}</td></tr>{{/rows}}";
    let fake = Fake::new().with_file("https://x.test/t/act.html", tpl.as_bytes());
    let ir = one(
        "generateDoc",
        &[
            ("template_format", P::L("url")),
            ("template_url", P::E("'https://x.test/t/act.html'")),
            ("data_format", P::L("keyvalue")),
            (
                "data_values",
                P::M(&[
                    ("client", "{name: 'A & B'}"),
                    ("rows", "[{n: 1, title: 'x'}, {n: 2, title: 'y'}]"),
                ]),
            ),
            ("output_format", P::L("url")),
            ("output_filename", P::E("'act-7'")),
        ],
        &[("url", "output_url")],
    );
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["url"], "https://files.test/f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "act-7.html");
    assert_eq!(
        up.content,
        FileContent::Bytes(
            b"<h1>A &amp; B</h1><tr><td>1</td><td>x</td></tr><tr><td>2</td><td>y</td></tr>"
                .to_vec()
        )
    );
    let pdf = one(
        "generateDoc",
        &[
            ("template_format", P::L("url")),
            ("template_url", P::E("'https://x.test/t.pdf'")),
        ],
        &[],
    );
    let (out, _) = run(&pdf, json!({}), &fake).await;
    assert_eq!(
        failure(&out).message,
        "component not supported: generateDoc (pdf)"
    );
}

/// A one-paragraph-and-one-table Word package, its tags split over runs as Word writes them.
fn word_template() -> Vec<u8> {
    use std::io::Write;
    let run = |t: &str| format!("<w:r><w:t>{t}</w:t></w:r>");
    let body = format!(
        "<w:p>{}{}</w:p><w:tbl><w:tr><w:tc><w:p>{}</w:p></w:tc><w:tc><w:p>{}{}</w:p></w:tc></w:tr></w:tbl>",
        run("Invoice for {{exec"),
        run("utor.name}}"),
        run("{{executor.table.number}}"),
        run("{{executor.table."),
        run("price}}"),
    );
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let o = zip::write::SimpleFileOptions::default();
    w.start_file("word/document.xml", o).unwrap();
    w.write_all(doc.as_bytes()).unwrap();
    w.finish().unwrap().into_inner()
}

#[tokio::test]
async fn generate_document_fills_a_word_template_into_a_record() {
    use std::io::Read;
    let fake = Fake::new()
        .with_records(
            "12",
            &[("5", json!({"3": [{"id": "77", "title": "template.docx"}]}))],
        )
        .with_file("77", &word_template());
    let ir = one(
        "generateDoc",
        &[
            ("template_format", P::L("catalog")),
            ("template_catalogId", P::E("'12'")),
            ("template_recordId", P::E("'5'")),
            ("template_fieldId", P::E("'3'")),
            ("data_format", P::L("json")),
            (
                "data_json",
                P::E("{executor: {name: 'Роговский и партнеры', table: [{number: 'one', price: '12'}, {number: 'two', price: '42'}]}}"),
            ),
            ("output_format", P::L("catalog")),
            ("output_catalogId", P::E("'12'")),
            ("output_recordId", P::E("'5'")),
            ("output_fieldId", P::E("'4'")),
            ("output_filename", P::E("'invoice.docx'")),
        ],
        &[],
    );
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "invoice.docx");
    let FileContent::Bytes(b) = up.content else {
        panic!("bytes expected")
    };
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(b)).unwrap();
    let mut doc = String::new();
    z.by_name("word/document.xml")
        .unwrap()
        .read_to_string(&mut doc)
        .unwrap();
    fn texts(e: &kartoteka_bpmn::xml::XElem, out: &mut Vec<String>) {
        for c in e.elems() {
            if c.name == "w:t" {
                out.push(c.text());
            } else {
                texts(c, out);
            }
        }
    }
    let mut found = Vec::new();
    texts(
        &kartoteka_bpmn::xml::parse(doc.as_bytes()).unwrap().root,
        &mut found,
    );
    let texts: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        texts,
        vec!["Invoice for Роговский и партнеры", "one", "12", "two", "42"]
    );
}

// --- AI ---

#[tokio::test]
async fn ai_asks_an_openai_compatible_endpoint() {
    let fake = Fake::new().with_http(|req| {
        json_response(
            200,
            json!({"choices": [{"message": {"role": "assistant", "content": "```json\n{\"ok\": true}\n```"}}]}),
        )
        .map(|mut r| {
            if req.url.contains("text") {
                r.body = json!({"choices": [{"message": {"content": "Привет"}}]}).to_string().into_bytes();
            }
            r
        })
    });
    let ai = |url: &'static str, format: &'static str| {
        one(
            "ai",
            &[
                ("service", P::L("Deepseek")),
                ("model", P::E("'deepseek-chat'")),
                ("token", P::E("key")),
                ("url", P::E(url)),
                ("context", P::M(&[("role", "'Ты помощник'")])),
                ("prompt", P::E("`Скажи ${word}`")),
                ("creativity", P::E("50")),
                ("extra", P::M(&[("max_tokens", "100")])),
                ("output_format", P::L(format)),
            ],
            &[("answer", "output")],
        )
    };
    let (out, state) = run(&ai("", "json"), json!({"key": "sk-1", "word": "да"}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["answer"], json!({"ok": true}));
    let req = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(req.url, "https://api.deepseek.com/chat/completions");
    assert!(req
        .headers
        .contains(&("Authorization".into(), "Bearer sk-1".into())));
    let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"model": "deepseek-chat", "messages": [
            {"role": "system", "content": "Ты помощник"},
            {"role": "user", "content": "Скажи да"}
        ], "temperature": 0.5, "max_tokens": 100})
    );
    let (out, state) = run(
        &ai("'https://llm.test/text'", "text"),
        json!({"key": "k", "word": "x"}),
        &fake,
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["answer"], "Привет");
}

#[tokio::test]
async fn ai_takes_its_token_and_folder_from_the_services_catalog() {
    let fake = Fake::new()
        .with_records(
            "$authServices",
            &[(
                "4",
                json!({"$name": "Yandex", "$tokens": "{\"access_token\": \"y-token\", \"folder_id\": \"b1g\"}"}),
            )],
        )
        .with_http(|_| {
            json_response(200, json!({"choices": [{"message": {"content": "ok"}}]}))
        });
    let ai = |token: &'static str| {
        one(
            "ai",
            &[
                ("service", P::L("YandexGpt")),
                ("model", P::E("'yandexgpt-lite'")),
                ("tokenFormat", P::L("list")),
                ("token", P::E(token)),
                ("folderFormat", P::L("list")),
                ("folder", P::E(token)),
                ("prompt", P::E("'Привет'")),
            ],
            &[("answer", "output")],
        )
    };
    // By `$name`, and by a link as a record's link field holds it.
    for token in ["'Yandex'", "[{catalogId: '$authServices', recordId: '4'}]"] {
        let (out, state) = run(&ai(token), json!({}), &fake).await;
        assert_eq!(out, Outcome::Done, "{token}");
        assert_eq!(state.vars["answer"], "ok");
    }
    let reqs = fake.requests.lock().unwrap().clone();
    assert_eq!(reqs.len(), 2);
    for req in &reqs {
        assert!(req
            .headers
            .contains(&("Authorization".into(), "Bearer y-token".into())));
        assert!(req.headers.contains(&("x-folder-id".into(), "b1g".into())));
        let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["model"], "gpt://b1g/yandexgpt-lite");
    }
    let (out, _) = run(&ai("'Sber'"), json!({}), &fake).await;
    assert_eq!(failure(&out).code, "NOT_FOUND");
}

#[tokio::test]
async fn ai_errors_are_http_and_expression() {
    let fake = Fake::new().with_http(|req| {
        if req.url.contains("down") {
            json_response(401, json!({"error": "bad key"}))
        } else {
            json_response(
                200,
                json!({"choices": [{"message": {"content": "not json"}}]}),
            )
        }
    });
    let ai = |url: &'static str| {
        one(
            "ai",
            &[
                ("url", P::E(url)),
                ("model", P::C("m")),
                ("prompt", P::E("'q'")),
                ("output_format", P::L("json")),
            ],
            &[],
        )
    };
    let (out, _) = run(&ai("'https://down.test'"), json!({}), &fake).await;
    assert_eq!(failure(&out).code, "HTTP");
    let (out, _) = run(&ai("'https://up.test'"), json!({}), &fake).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
    let unknown = one(
        "ai",
        &[("service", P::L("GigaChat")), ("prompt", P::E("'q'"))],
        &[],
    );
    let (out, _) = run(&unknown, json!({}), &fake).await;
    assert_eq!(
        failure(&out).message,
        "component not supported: ai (GigaChat)"
    );
}

// --- Telegram ---

#[tokio::test]
async fn telegram_sends_through_the_bot_api_at_the_configured_base() {
    let fake = Fake::new().with_http(|req| {
        if req.url.ends_with("/sendMessage") {
            json_response(200, json!({"ok": true, "result": {"message_id": 10}}))
        } else {
            json_response(
                400,
                json!({"ok": false, "description": "Bad Request: chat not found"}),
            )
        }
    });
    let settings = Settings {
        telegram_api: "http://tg.test/".into(),
        ..Settings::default()
    };
    let ir = one(
        "telegram",
        &[
            ("connectionType", P::L("bot")),
            ("token", P::E("'123:abc'")),
            ("action", P::L("sendMessage")),
            ("chatId", P::E("'-100500'")),
            ("text", P::E("'*hi*'")),
            ("parseMode", P::L("markdown")),
            ("buttons", P::E("{keyboard: [['Да']], resize: true}")),
        ],
        &[("sent", "output")],
    );
    let (out, state) = run_with(settings.clone(), &ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["sent"], json!({"message_id": 10}));
    let req = fake.requests.lock().unwrap()[0].clone();
    assert_eq!(req.url, "http://tg.test/bot123:abc/sendMessage");
    let body: Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"chat_id": -100500, "text": "*hi*", "parse_mode": "Markdown",
               "reply_markup": {"keyboard": [["Да"]], "resize_keyboard": true}})
    );
    let loc = guarded(
        "telegram",
        &[
            ("token", P::E("'t'")),
            ("action", P::L("sendLocation")),
            ("chatId", P::E("1")),
            ("latitude", P::E("55.7")),
            ("longitude", P::E("'37.6'")),
        ],
        &[],
    );
    let (out, state) = run_with(settings.clone(), &loc, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["code"], "HTTP");
    assert!(state.vars["msg"]
        .as_str()
        .unwrap()
        .contains("chat not found"));
    let user = one("telegram", &[("connectionType", P::L("user"))], &[]);
    let (out, _) = run_with(settings, &user, json!({}), &fake).await;
    assert_eq!(
        failure(&out).message,
        "component not supported: telegram (user)"
    );
}

// --- Parser ---

#[tokio::test]
async fn parser_jsonpath_and_regex() {
    let parse = |method: &'static str, query: &'static str, ret: &'static str| {
        one(
            "parser",
            &[
                ("data", P::E("data")),
                ("method", P::L(method)),
                ("query", P::E(query)),
                ("group", P::E("1")),
                ("return", P::L(ret)),
            ],
            &[("found", "output")],
        )
    };
    let books =
        json!({"data": {"store": {"book": [{"author": "Толстой"}, {"author": "Достоевский"}]}}});
    let (out, state) = run(
        &parse("jsonpath", "'$.store.book[*].author'", "all"),
        books.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["found"], json!(["Толстой", "Достоевский"]));
    let (_, state) = run(
        &parse("jsonpath", "'$.store.book[*].author'", "last"),
        books.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], "Достоевский");
    let (_, state) = run(&parse("jsonpath", "'$.none'", "first"), books, &Fake::new()).await;
    assert_eq!(state.vars["found"], Value::Null);
    let text = json!({"data": "Заказ №12345 и №678"});
    let (out, state) = run(
        &parse("regex", "'/№(\\\\d+)/'", "first"),
        text.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["found"], "12345");
    let (_, state) = run(
        &parse("regex", "'/№(\\\\d+)/'", "all"),
        text.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!(["12345", "678"]));
    let (_, state) = run(
        &parse("regex", "'/x(y)/'", "all"),
        text.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!([]));
    let (out, _) = run(&parse("regex", "'/(/'", "all"), text.clone(), &Fake::new()).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
    let (out, _) = run(&parse("css", "'/a'", "all"), text, &Fake::new()).await;
    assert_eq!(
        failure(&out).message,
        "component not supported: parser (css)"
    );
}

#[tokio::test]
async fn parser_jquery_and_xpath() {
    let parse =
        |method: &'static str, query: &'static str, extra: Vec<(&'static str, P<'static>)>| {
            let mut inputs = vec![
                ("data", P::E("data")),
                ("method", P::L(method)),
                ("query", P::E(query)),
            ];
            inputs.extend(extra);
            one("parser", &inputs, &[("found", "output")])
        };
    let html = json!({"data": "<ul><li class='price' data-id='7'>1500 ₽</li><li class='price'><b>300</b> ₽</li></ul>"});
    let (out, state) = run(
        &parse(
            "jquery",
            "'.price'",
            vec![("value", P::L("text")), ("return", P::L("first"))],
        ),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["found"], "1500 ₽");
    let (_, state) = run(
        &parse(
            "jquery",
            "'li:last'",
            vec![("value", P::L("html")), ("return", P::L("all"))],
        ),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!(["<b>300</b> ₽"]));
    let (_, state) = run(
        &parse(
            "jquery",
            "'li'",
            vec![
                ("value", P::L("attr")),
                ("attr", P::L("data-id")),
                ("return", P::L("all")),
            ],
        ),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!(["7", null]));
    let (_, state) = run(
        &parse("jquery", "'table'", vec![("return", P::L("all"))]),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!([]));
    let (_, state) = run(
        &parse("jquery", "'table'", vec![("return", P::L("last"))]),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], Value::Null);
    let (out, _) = run(
        &parse("jquery", "'li['", vec![]),
        html.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(failure(&out).code, "EXPRESSION");
    let (_, state) = run(
        &parse("xpath", "'//li[2]/b'", vec![("return", P::L("first"))]),
        html,
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], "300");
    let xml = json!({"data": "<catalog><book id='1'/><book id='2'/></catalog>"});
    let (_, state) = run(
        &parse("xpath", "'//book/@id'", vec![("return", P::L("all"))]),
        xml.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!(["1", "2"]));
    let (_, state) = run(
        &parse("xpath", "'count(//book)'", vec![]),
        xml.clone(),
        &Fake::new(),
    )
    .await;
    assert_eq!(state.vars["found"], json!(2));
    let (out, _) = run(&parse("xpath", "'//book['", vec![]), xml, &Fake::new()).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
    let (out, _) = run(
        &parse("xpath", "'//a'", vec![]),
        json!({"data": 42}),
        &Fake::new(),
    )
    .await;
    assert_eq!(failure(&out).code, "EXPRESSION");
}

/// An invoice sheet written by another library (shared strings, a formula per row, a total).
fn invoice_template() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "Счёт для {{client}}").unwrap();
    sheet.write_string(2, 0, "{{data.orders.name}}").unwrap();
    sheet.write_string(2, 1, "{{data.orders.price}}").unwrap();
    sheet.write_string(2, 2, "{{data.orders.qty}}").unwrap();
    sheet.write_formula(2, 3, "=B3*C3").unwrap();
    sheet.write_string(3, 0, "Итого").unwrap();
    sheet.write_formula(3, 3, "=SUM(D3:D3)").unwrap();
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn generate_document_fills_an_excel_template_and_moves_the_total() {
    use calamine::{Data, Reader, Xlsx};
    let fake = Fake::new().with_file("https://x.test/invoice.xlsx", &invoice_template());
    let ir = one(
        "generateDoc",
        &[
            ("template_format", P::L("url")),
            ("template_url", P::E("'https://x.test/invoice.xlsx'")),
            ("data_format", P::L("keyvalue")),
            (
                "data_values",
                P::M(&[
                    ("client", "'Ромашка'"),
                    ("data", "{orders: [{name: 'Чай', price: 12.5, qty: 2}, {name: 'Сахар', price: 3, qty: 10}]}"),
                ]),
            ),
            ("output_format", P::L("url")),
        ],
        &[("url", "output_url")],
    );
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["url"], "https://files.test/f1");
    let up = fake.uploads.lock().unwrap()[0].clone();
    assert_eq!(up.name, "invoice.xlsx");
    let FileContent::Bytes(b) = up.content else {
        panic!("bytes expected")
    };
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(b)).unwrap();
    let name = book.sheet_names()[0].clone();
    let cells = book.worksheet_range(&name).unwrap();
    let at = |r: u32, c: u32| cells.get_value((r, c)).cloned();
    assert_eq!(at(0, 0), Some(Data::String("Счёт для Ромашка".into())));
    assert_eq!(at(2, 0), Some(Data::String("Чай".into())));
    assert_eq!(at(2, 1), Some(Data::Float(12.5)));
    assert_eq!(at(3, 0), Some(Data::String("Сахар".into())));
    assert_eq!(at(3, 2), Some(Data::Float(10.0)));
    assert_eq!(at(4, 0), Some(Data::String("Итого".into())));
    let formulas = book.worksheet_formula(&name).unwrap();
    let f = |r: u32, c: u32| formulas.get_value((r, c)).cloned().unwrap_or_default();
    assert_eq!(f(2, 3), "B3*C3");
    assert_eq!(f(3, 3), "B4*C4");
    assert_eq!(f(4, 3), "SUM(D3:D4)");
}

/// A report written by another library: each department's header row with a subtotal,
/// then its employees (a nested array), then a grand total.
#[tokio::test]
async fn generate_document_repeats_excel_row_ranges_with_nested_arrays() {
    use calamine::{Data, Reader, Xlsx};
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "{{deps.name}}").unwrap();
    sheet.write_formula(0, 2, "=SUM(C2:C2)").unwrap();
    sheet.write_string(1, 1, "{{deps.staff.name}}").unwrap();
    sheet.write_string(1, 2, "{{deps.staff.salary}}").unwrap();
    sheet.write_string(2, 0, "Всего").unwrap();
    sheet.write_formula(2, 2, "=SUM(C2:C2)").unwrap();
    let template = book.save_to_buffer().unwrap();
    let fake = Fake::new().with_file("https://x.test/staff.xlsx", &template);
    let ir = one(
        "generateDoc",
        &[
            ("template_format", P::L("url")),
            ("template_url", P::E("'https://x.test/staff.xlsx'")),
            ("data_format", P::L("json")),
            (
                "data_json",
                P::E("{deps: [{name: 'Продажи', staff: [{name: 'Анна', salary: 100}, {name: 'Борис', salary: 90}]}, {name: 'Склад', staff: [{name: 'Вера', salary: 70}]}]}"),
            ),
            ("output_format", P::L("url")),
        ],
        &[("url", "output_url")],
    );
    let (out, _) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    let FileContent::Bytes(b) = fake.uploads.lock().unwrap()[0].content.clone() else {
        panic!("bytes expected")
    };
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(b)).unwrap();
    let name = book.sheet_names()[0].clone();
    let cells = book.worksheet_range(&name).unwrap();
    let text = |r: u32, c: u32| match cells.get_value((r, c)) {
        Some(Data::String(s)) => s.clone(),
        Some(Data::Float(f)) => f.to_string(),
        _ => String::new(),
    };
    let rows: Vec<String> = (0..6)
        .map(|r| format!("{}|{}|{}", text(r, 0), text(r, 1), text(r, 2)))
        .collect();
    assert_eq!(
        rows,
        vec![
            "Продажи||",
            "|Анна|100",
            "|Борис|90",
            "Склад||",
            "|Вера|70",
            "Всего||"
        ]
    );
    let formulas = book.worksheet_formula(&name).unwrap();
    let f = |r: u32| formulas.get_value((r, 2)).cloned().unwrap_or_default();
    assert_eq!(
        [f(0), f(3), f(5)],
        ["SUM(C2:C3)", "SUM(C5:C5)", "SUM(C2:C5)"],
        "each header sums its own staff, the total all of them"
    );
}
