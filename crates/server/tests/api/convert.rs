//! The Converter's PDF methods (spec 03 §7.2.6) with the host's programs: HTML printed by
//! Chromium with Puppeteer's page setup, and a Word contract filled by Generate document then
//! converted by LibreOffice. The PDFs are read back with poppler's `pdfinfo` and `pdftotext`.
//!
//! Without Chromium, LibreOffice or poppler these tests print why and skip, unless
//! `KARTOTEKA_TEST_REQUIRE_PDF` is set: `.ci/run` installs the programs and sets it. The
//! timeout and missing-program tests need none of them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kartoteka_automation::{ConvertConfig, HostConfig};
use serde_json::{json, Value};

use crate::automation::{
    call_listener, call_script, chain, error_result, input, list, processes, scenario_file, setvar,
    slot, status_of,
};
use crate::files::{fetch, upload};
use crate::support::{field_id, id, unique, TestApp};

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|d| d.join(program).is_file())
}

/// Whether the programs are here; panics when they must be.
fn have(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&&str> = programs.iter().filter(|p| !on_path(p)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("KARTOTEKA_TEST_REQUIRE_PDF").is_none(),
        "{test}: {missing:?} not installed, and KARTOTEKA_TEST_REQUIRE_PDF is set"
    );
    println!("skipped {test}: {missing:?} not installed");
    false
}

/// `pdfinfo` and `pdftotext` of a PDF.
fn read_pdf(pdf: &[u8]) -> (String, String) {
    let dir = std::env::temp_dir().join(unique("kt-pdf-read"));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("doc.pdf");
    std::fs::write(&file, pdf).expect("write");
    let run = |program: &str, args: &[&Path]| {
        let out = std::process::Command::new(program)
            .args(args)
            .output()
            .expect(program);
        assert!(out.status.success(), "{program}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let info = run("pdfinfo", &[&file]);
    let text = run("pdftotext", &[&file, Path::new("-")]);
    let _ = std::fs::remove_dir_all(&dir);
    (info, text)
}

/// The page count and size (points) `pdfinfo` reports.
fn pages_and_size(info: &str) -> (u32, f64, f64) {
    let line = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let pages = line("Pages:").parse().expect("pages");
    let size = line("Page size:");
    let mut nums = size
        .split_whitespace()
        .filter_map(|w| w.parse::<f64>().ok());
    let (w, h) = (nums.next().expect("width"), nums.next().expect("height"));
    (pages, w, h)
}

/// The parameters `<prefix>_catalogId`, `_recordId` and `_fieldId` naming a record's field.
fn in_record(prefix: &str, catalog: &str, record: &str, field: &str) -> String {
    [
        input(&format!("{prefix}_catalogId"), &format!("'{catalog}'")),
        input(&format!("{prefix}_recordId"), &format!("'{record}'")),
        input(&format!("{prefix}_fieldId"), &format!("'{field}'")),
    ]
    .concat()
}

/// The first file of a record's field and its bytes, which must be a PDF.
async fn stored(t: &TestApp, catalog: &str, record: &str, field: &str) -> (Value, Vec<u8>) {
    let got = t
        .get(&format!("/api/v1/catalogs/{catalog}/records/{record}"))
        .await
        .expect(200)
        .clone();
    let file = got["values"][field][0].clone();
    let (code, mime, bytes) = fetch(file["url"].as_str().expect("a stored file")).await;
    assert_eq!((code, mime.as_str()), (200, "application/pdf"), "{file}");
    (file, bytes)
}

fn convert(params: &[String]) -> (String, String) {
    ("convertDoc".to_string(), params.concat())
}

/// HTML → PDF: the page setup (A5 landscape, no margins) and a page break reach Chromium,
/// the text comes out as printed, `catalog` stores a named `.pdf` into the record, and
/// `content` is a Buffer.
#[tokio::test]
async fn html_is_printed_to_pdf_with_the_page_setup() {
    if !have(
        "html_is_printed_to_pdf",
        &["chromium", "pdfinfo", "pdftotext"],
    ) {
        return;
    }
    let t = TestApp::start().await;
    let cat = t
        .catalog("Invoices", json!([{"name": "Pdf", "type": "file"}]))
        .await;
    let (cid, field) = (id(&cat), field_id(&cat, "Pdf"));
    let rid = id(&t.record(&cid, json!({})).await);
    // A file of the server's machine the HTML must not reach.
    let secret = std::env::temp_dir().join(unique("kt-secret"));
    std::fs::write(&secret, "top-secret-42").expect("secret");
    let html = format!(
        "`<html><head><title>Счёт</title></head><body><h1>Счёт № ${{6 * 7}}</h1><iframe src=\"file://{}\"></iframe><p style=\"break-before: page\">Вторая страница</p></body></html>`",
        secret.display()
    );
    let print = |output: &str, target: &str, slot_name: &str| {
        convert(&[
            list("method", "html-pdf"),
            list("source_format", "content"),
            input("source_content", &html),
            list("data_format", "json"),
            input("data_json", "{Format: 'A5', landscape: true, margin: '0'}"),
            list("output_format", output),
            in_record("output", &cid, &rid, &field),
            input("output_filename", "'invoice'"),
            slot(target, slot_name),
        ])
    };
    let (status, body) = call_listener(
        &t,
        "print",
        &[
            print("catalog", "url", "output_url"),
            print("content", "pdf", "output_content"),
            setvar(&[(
                "$body",
                "{url: url, type: pdf.type, head: String.fromCharCode.apply(null, pdf.data.slice(0, 5)), size: pdf.data.length}",
            )]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "Buffer");
    assert_eq!(body["head"], "%PDF-");
    let (file, pdf) = stored(&t, &cid, &rid, &field).await;
    assert_eq!(file["title"], "invoice.pdf", "{file}");
    assert_eq!(file["url"], body["url"], "output_url is the stored file's");
    assert!(
        body["size"].as_u64().is_some_and(|n| n > 1000),
        "the Buffer holds a whole PDF: {body}"
    );
    let (info, text) = read_pdf(&pdf);
    let (pages, w, h) = pages_and_size(&info);
    assert_eq!(pages, 2, "{info}");
    // A5 landscape: 8.27 × 5.83 in.
    assert!((w - 595.3).abs() < 1.5 && (h - 419.5).abs() < 1.5, "{info}");
    assert!(text.contains("Счёт № 42"), "{text}");
    assert!(text.contains("Вторая страница"), "{text}");
    assert!(!text.contains("top-secret"), "a file: URL was read: {text}");
    let _ = std::fs::remove_file(&secret);
}

/// A minimal Word package: `body` paragraphs, the second on a new page.
fn contract_template() -> Vec<u8> {
    let para = |t: &str| format!("<w:p><w:r><w:t>{t}</w:t></w:r></w:p>");
    let doc = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{}<w:p><w:r><w:br w:type=\"page\"/><w:t>Подписи сторон</w:t></w:r></w:p></w:body></w:document>",
        para("Договор с {{client}}")
    );
    word_package(&doc, None)
}

/// The usual contract flow: a record's Word template is filled with its client (Generate
/// document into a draft field), then the draft becomes a PDF in another field (DOCX → PDF,
/// named by `output_filename`).
#[tokio::test]
async fn a_filled_word_contract_becomes_a_pdf_in_the_record() {
    if !have(
        "a_filled_word_contract",
        &["soffice", "pdfinfo", "pdftotext"],
    ) {
        return;
    }
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Contracts",
            json!([
                {"name": "Client", "type": "text"},
                {"name": "Template", "type": "file"},
                {"name": "Draft", "type": "file"},
                {"name": "Pdf", "type": "file"},
            ]),
        )
        .await;
    let cid = id(&cat);
    let [client, template, draft, pdf] =
        ["Client", "Template", "Draft", "Pdf"].map(|n| field_id(&cat, n));
    let f = upload(
        &t,
        &cid,
        &template,
        "contract.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &contract_template(),
    )
    .await;
    let rec = t
        .record(
            &cid,
            json!({client.clone(): "ООО Ромашка", template.clone(): [{"id": f["id"].to_string()}]}),
        )
        .await;
    let rid = id(&rec);
    let field = |prefix: &str, f: &str| in_record(prefix, &cid, &rid, f);
    let fill = (
        "generateDoc".to_string(),
        [
            list("template_format", "catalog"),
            field("template", &template),
            list("data_format", "json"),
            input("data_json", "{client: 'ООО Ромашка'}"),
            list("output_format", "catalog"),
            field("output", &draft),
        ]
        .concat(),
    );
    let to_pdf = convert(&[
        list("method", "docx-pdf"),
        list("source_format", "catalog"),
        field("source", &draft),
        list("output_format", "catalog"),
        field("output", &pdf),
        input("output_filename", "'contract-signed'"),
        slot("url", "output_url"),
    ]);
    let (status, body) = call_listener(
        &t,
        "contract",
        &[fill, to_pdf, setvar(&[("$body", "{url: url}")])],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (file, bytes) = stored(&t, &cid, &rid, &pdf).await;
    assert_eq!(file["title"], "contract-signed.pdf", "{file}");
    let (info, text) = read_pdf(&bytes);
    assert_eq!(pages_and_size(&info).0, 2, "{info}");
    assert!(text.contains("Договор с ООО Ромашка"), "{text}");
    assert!(text.contains("Подписи сторон"), "{text}");
}

/// A web server on loopback with an HTML page whose picture is a relative link.
async fn site() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0; 4096];
                let n = sock.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                let (kind, body) = if head.starts_with("GET /docs/img/logo.png") {
                    ("image/png", tiny_png())
                } else {
                    (
                        "text/html; charset=utf-8",
                        "<!DOCTYPE html><html><head><title>Счёт</title></head><body><p>Логотип:</p><img src=\"img/logo.png\" width=\"40\" height=\"40\"></body></html>"
                            .as_bytes()
                            .to_vec(),
                    )
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.write_all(&body).await;
            });
        }
    });
    port
}

/// The pictures `pdfimages -list` finds in a PDF.
fn images(pdf: &[u8]) -> usize {
    let dir = std::env::temp_dir().join(unique("kt-pdf-images"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("doc.pdf"), pdf).expect("write");
    let list = std::process::Command::new("pdfimages")
        .arg("-list")
        .arg(dir.join("doc.pdf"))
        .output()
        .expect("pdfimages");
    let _ = std::fs::remove_dir_all(&dir);
    // Two header lines, then one line per picture.
    String::from_utf8_lossy(&list.stdout)
        .lines()
        .count()
        .saturating_sub(2)
}

/// HTML from a URL is printed with its relative links resolved where it came from.
#[tokio::test]
async fn html_from_a_url_keeps_its_relative_pictures() {
    if !have("html_from_a_url", &["chromium", "pdfimages", "pdftotext"]) {
        return;
    }
    let t = TestApp::start().await;
    let port = site().await;
    let cat = t
        .catalog("Pages", json!([{"name": "Pdf", "type": "file"}]))
        .await;
    let (cid, field) = (id(&cat), field_id(&cat, "Pdf"));
    let rid = id(&t.record(&cid, json!({})).await);
    let print = convert(&[
        list("method", "html-pdf"),
        list("source_format", "url"),
        input(
            "source_url",
            &format!("'http://127.0.0.1:{port}/docs/invoice.html'"),
        ),
        list("output_format", "catalog"),
        in_record("output", &cid, &rid, &field),
    ]);
    let (status, body) = call_listener(&t, "from-url", &[print]).await;
    assert_eq!(status, 200, "{body}");
    let (file, pdf) = stored(&t, &cid, &rid, &field).await;
    assert_eq!(file["title"], "invoice.pdf");
    assert!(read_pdf(&pdf).1.contains("Логотип:"));
    assert_eq!(images(&pdf), 1, "the relative picture was loaded");
}

/// A Word package of `document`, with `relationships` for it when given.
fn word_package(document: &str, relationships: Option<&str>) -> Vec<u8> {
    let mut parts = vec![
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#,
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#,
        ),
        ("word/document.xml", document),
    ];
    if let Some(r) = relationships {
        parts.push(("word/_rels/document.xml.rels", r));
    }
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, text) in parts {
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("part");
        w.write_all(text.as_bytes()).expect("write");
    }
    w.finish().expect("zip").into_inner()
}

/// LibreOffice puts a picture a document links to (`file:///…`) into the PDF; an uploaded
/// document must not bring the server's files along that way.
#[tokio::test]
async fn a_word_document_cannot_pull_the_servers_files_into_its_pdf() {
    if !have(
        "a_word_document_cannot_pull",
        &["soffice", "pdfimages", "pdftotext"],
    ) {
        return;
    }
    let t = TestApp::start().await;
    let cat = t
        .catalog(
            "Uploads",
            json!([{"name": "Doc", "type": "file"}, {"name": "Pdf", "type": "file"}]),
        )
        .await;
    let (cid, doc, pdf) = (id(&cat), field_id(&cat, "Doc"), field_id(&cat, "Pdf"));
    // A picture of the server's (any readable image file would do).
    let picture = std::env::temp_dir().join(unique("kt-server-picture"));
    std::fs::write(&picture, tiny_png()).expect("picture");
    let document = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><w:body><w:p><w:r><w:t>Picture:</w:t></w:r><w:r><w:drawing><wp:inline><wp:extent cx="952500" cy="952500"/><wp:docPr id="1" name="P"/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic><pic:nvPicPr><pic:cNvPr id="1" name="P"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip r:link="rId5"/><a:stretch><a:fillRect/></a:stretch></pic:blipFill><pic:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="952500"/></a:xfrm><a:prstGeom prst="rect"/></pic:spPr></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p></w:body></w:document>"#;
    let relationships = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="file://{}" TargetMode="External"/></Relationships>"#,
        picture.display()
    );
    let f = upload(
        &t,
        &cid,
        &doc,
        "linked.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        &word_package(document, Some(&relationships)),
    )
    .await;
    let rid = id(&t
        .record(&cid, json!({doc.clone(): [{"id": f["id"].to_string()}]}))
        .await);
    let field = |prefix: &str, f: &str| in_record(prefix, &cid, &rid, f);
    let to_pdf = convert(&[
        list("method", "docx-pdf"),
        list("source_format", "catalog"),
        field("source", &doc),
        list("output_format", "catalog"),
        field("output", &pdf),
    ]);
    let (status, body) = call_listener(&t, "linked", &[to_pdf]).await;
    assert_eq!(status, 200, "{body}");
    let (_, bytes) = stored(&t, &cid, &rid, &pdf).await;
    let (_, text) = read_pdf(&bytes);
    assert!(text.contains("Picture:"), "{text}");
    assert_eq!(images(&bytes), 0, "the linked picture stayed out");
    let _ = std::fs::remove_file(&picture);
}

/// A 2×2 red PNG.
fn tiny_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut img = image::RgbImage::new(2, 2);
    for p in img.pixels_mut() {
        *p = image::Rgb([255, 0, 0]);
    }
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("png");
    out
}

/// A stand-in converter: a shell script that notes its pid (in `pid`, and as a line of
/// `started`) and user, then sleeps. Its folder is writable by all, as the converter runs as
/// `nobody` under a root server.
fn sleeper(dir: &Path) -> PathBuf {
    let script = dir.join("slow-soffice");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho $$ > {0}/pid\necho $$ >> {0}/started\nid -u > {0}/uid\nsleep 30\n",
            dir.display()
        ),
    )
    .expect("script");
    let mut open = std::fs::metadata(dir).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut open, 0o777);
    std::fs::set_permissions(dir, open).expect("chmod");
    let mut perms = std::fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&script, perms).expect("chmod");
    script
}

/// A server whose LibreOffice is the stand-in of [`sleeper`], in a fresh folder named after
/// `name`, with this time limit and Chromium: the folder and the server.
async fn with_sleeper(
    name: &str,
    timeout: Duration,
    chromium: Option<PathBuf>,
) -> (PathBuf, TestApp) {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).expect("dir");
    let t = TestApp::start_with_host(HostConfig {
        convert: ConvertConfig {
            soffice: Some(sleeper(&dir)),
            chromium,
            timeout,
            ..ConvertConfig::default()
        },
        ..HostConfig::default()
    })
    .await;
    (dir, t)
}

/// A conversion over the time limit fails the run with `TIMEOUT` and its process is killed
/// (and under a root server it ran as `nobody`); a program that is not there fails it
/// saying which. Needs no converter installed.
#[tokio::test]
async fn a_slow_or_missing_converter_fails_the_process() {
    let (dir, t) = with_sleeper(
        "kt-slow-converter",
        Duration::from_millis(1500),
        Some(PathBuf::from("/no-such-dir/chromium")),
    )
    .await;
    let (status, body) = call_listener(&t, "slow", &[docx_to_pdf()]).await;
    assert_eq!(status, 500, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("longer than 1.5 s"), "{body}");
    let (_, result) = error_result(&t).await;
    assert!(
        result["$error"]
            .as_str()
            .is_some_and(|e| e.contains("longer than")),
        "{result}"
    );
    let pid = std::fs::read_to_string(dir.join("pid")).expect("the script ran");
    let root =
        std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").expect("me")) == 0;
    if root {
        let uid = std::fs::read_to_string(dir.join("uid")).expect("its user");
        assert_ne!(
            uid.trim(),
            "0",
            "under a root server the converter runs as nobody"
        );
    }
    let proc_dir = PathBuf::from(format!("/proc/{}", pid.trim()));
    for _ in 0..50 {
        if !proc_dir.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!proc_dir.exists(), "the converter was killed");

    let html = convert(&[
        list("method", "html-pdf"),
        list("source_format", "content"),
        input("source_content", "'<p>hi</p>'"),
    ]);
    let (status, body) = call_listener(&t, "missing", &[html]).await;
    assert_eq!(status, 500, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot start") && message.contains("/no-such-dir/chromium"),
        "{body}"
    );
    let failed: Vec<Value> = processes(&t)
        .await
        .into_iter()
        .filter(|p| status_of(p) == "$error")
        .collect();
    assert_eq!(failed.len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A Word → PDF step of the stand-in converter.
fn docx_to_pdf() -> (String, String) {
    let bytes: Vec<String> = contract_template().iter().map(u8::to_string).collect();
    convert(&[
        list("method", "docx-pdf"),
        list("source_format", "content"),
        input(
            "source_content",
            &format!("{{type: 'Buffer', data: [{}]}}", bytes.join(",")),
        ),
        list("output_format", "content"),
    ])
}

/// Waits until none of the converter processes the stand-in noted in `started` is alive;
/// answers those still alive after 5 s.
async fn still_alive(dir: &Path) -> Vec<String> {
    let started = std::fs::read_to_string(dir.join("started")).unwrap_or_default();
    let pids: Vec<String> = started.lines().map(str::to_owned).collect();
    let alive = || {
        pids.iter()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists())
            .cloned()
            .collect::<Vec<_>>()
    };
    for _ in 0..50 {
        if alive().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    alive()
}

/// At most two conversions run at once (`ConvertConfig::workers`): of three started
/// together, two converter programs are running a moment later and the third run waits for
/// a turn; all three runs fail with `TIMEOUT` (the wait counts), and every program started
/// is killed.
#[tokio::test]
async fn no_more_than_two_conversions_run_at_once() {
    let (dir, t) = with_sleeper("kt-converter-turns", Duration::from_secs(4), None).await;
    assert_eq!(ConvertConfig::default().workers, 2);
    let script = scenario_file(&t, "turns", &chain(&[docx_to_pdf()])).await;
    let meanwhile = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        std::fs::read_to_string(dir.join("started")).unwrap_or_default()
    };
    let (a, b, c, started) = tokio::join!(
        call_script(&t, "turn-a", &script),
        call_script(&t, "turn-b", &script),
        call_script(&t, "turn-c", &script),
        meanwhile,
    );
    assert_eq!(started.lines().count(), 2, "running after 2 s: {started:?}");
    for (status, body) in [a, b, c] {
        assert_eq!(status, 500, "{body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("longer than 4 s")),
            "{body}"
        );
    }
    assert_eq!(still_alive(&dir).await, Vec::<String>::new());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A conversion cut off by a timer boundary on its task (the run goes on along the
/// boundary's flow) has its converter program killed, long before its own time limit.
#[tokio::test]
async fn a_conversion_cut_off_by_a_timer_boundary_is_killed() {
    let (dir, t) = with_sleeper("kt-converter-cut", Duration::from_secs(60), None).await;
    let bpmn = String::from_utf8(chain(&[docx_to_pdf()])).expect("utf-8");
    let boundary = r#"<bpmn:endEvent id="End"/><bpmn:boundaryEvent id="Cut" attachedToRef="Step_0"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1S</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent><bpmn:endEvent id="CutEnd"/><bpmn:sequenceFlow id="Flow_cut" sourceRef="Cut" targetRef="CutEnd"/>"#;
    assert!(bpmn.contains(r#"<bpmn:endEvent id="End"/>"#));
    let bpmn = bpmn.replace(r#"<bpmn:endEvent id="End"/>"#, boundary);
    let script = scenario_file(&t, "cut", bpmn.as_bytes()).await;
    let (status, body) = call_script(&t, "cut", &script).await;
    assert_eq!(status, 200, "{body}");
    let started = std::fs::read_to_string(dir.join("started")).expect("the converter started");
    assert_eq!(started.lines().count(), 1, "{started:?}");
    assert_eq!(still_alive(&dir).await, Vec::<String>::new());
    let done: Vec<Value> = processes(&t)
        .await
        .into_iter()
        .filter(|p| status_of(p) == "$done")
        .collect();
    assert_eq!(done.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
