//! Upload file (spec 03 §7.3.7), Converter (§7.2.6) and Generate document (§7.3.8): file
//! bytes come from and go to the host's storage through [`Ports`]; the conversions themselves
//! are pure Rust, on a blocking thread.

use std::time::Duration;

use kartoteka_bpmn::Task;
use serde_json::{Map, Value};

use crate::components::{required, Slots};
use crate::values::{choice, pairs_object, scalar_text, Args};
use crate::{Engine, Failure, FileContent, FileTarget, FileUpload, PdfJob, Ports};

pub(crate) fn inputs(task: &Task, names: &mut Vec<&'static str>) {
    let c = task.connector.as_str();
    let out_catalog = |names: &mut Vec<&'static str>| {
        if choice(task, "output_format") == Some("catalog") {
            names.extend(["output_catalogId", "output_recordId", "output_fieldId"]);
        }
    };
    let data = |names: &mut Vec<&'static str>| {
        names.push("data_format");
        names.push(if choice(task, "data_format") == Some("json") {
            "data_json"
        } else {
            "data_values"
        });
    };
    match c {
        "bpiumFileUpload" => {
            names.push("file_format");
            names.push(if choice(task, "file_format") == Some("url") {
                "file_url"
            } else {
                "file_data"
            });
            names.extend(["file_name", "output_format"]);
            out_catalog(names);
        }
        "convertDoc" => {
            names.extend(["method", "source_format"]);
            names.extend(match choice(task, "source_format") {
                Some("url") => &["source_url"][..],
                Some("content") => &["source_content"][..],
                _ => &["source_catalogId", "source_recordId", "source_fieldId"][..],
            });
            data(names);
            names.extend(["output_format", "output_filename"]);
            out_catalog(names);
        }
        _ => {
            names.push("template_format");
            names.extend(if choice(task, "template_format") == Some("url") {
                &["template_url"][..]
            } else {
                &[
                    "template_catalogId",
                    "template_recordId",
                    "template_fieldId",
                ][..]
            });
            data(names);
            names.extend(["output_format", "output_filename"]);
            out_catalog(names);
        }
    }
}

/// The last path segment of a URL, without its query (`file` when there is none).
pub(crate) fn name_from_url(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.split_once("://").map_or(path, |(_, rest)| rest);
    match path.split_once('/') {
        Some((_, p)) => p.rsplit('/').find(|s| !s.is_empty()),
        None => None,
    }
    .map_or_else(|| "file".to_owned(), str::to_owned)
}

fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && !ext.contains('/')).then(|| ext.to_ascii_lowercase())
}

/// The MIME type of a file name's extension, for the common ones.
pub(crate) fn mime_type(name: &str) -> Option<String> {
    let t = match extension(name)?.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "csv" => "text/csv",
        "json" => "application/json",
        "xml" => "application/xml",
        "ics" => "text/calendar",
        "md" => "text/markdown",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => return None,
    };
    Some(t.to_owned())
}

/// The bytes of a value: a string as UTF-8, a Node Buffer (`{type: "Buffer", data: […]}`) or
/// an array of bytes as those bytes, anything else as its JSON text.
pub(crate) fn bytes_of(v: &Value) -> Result<Vec<u8>, Failure> {
    let bytes = |items: &[Value]| -> Option<Vec<u8>> {
        items
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect()
    };
    match v {
        Value::String(s) => Ok(s.clone().into_bytes()),
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("Buffer") => {
            match o.get("data") {
                Some(Value::Array(items)) => bytes(items)
                    .ok_or_else(|| Failure::expression("a Buffer's data must be bytes (0–255)")),
                _ => Err(Failure::expression("a Buffer without data")),
            }
        }
        other => Ok(other.to_string().into_bytes()),
    }
}

/// Bytes as a Node `Buffer` in JSON (`{type: "Buffer", data: […]}`), the shape
/// [`bytes_of`] reads back.
pub fn buffer(bytes: &[u8]) -> Value {
    serde_json::json!({"type": "Buffer", "data": bytes})
}

/// Downloads a file (a storage id or a URL) within the web timeout and the download limit.
async fn download(engine: &Engine, ports: &dyn Ports, file: &str) -> Result<Vec<u8>, Failure> {
    let s = engine.settings();
    let bytes = tokio::time::timeout(s.web_timeout, ports.download_file(file))
        .await
        .map_err(|_| timeout(s.web_timeout, file))??;
    if bytes.len() > s.download_limit {
        return Err(Failure::new(
            "LIMIT",
            format!(
                "{file} has {} bytes, more than the download limit of {} bytes",
                bytes.len(),
                s.download_limit
            ),
        ));
    }
    Ok(bytes)
}

fn timeout(d: Duration, what: &str) -> Failure {
    Failure::new(
        "TIMEOUT",
        format!("{what}: no answer within {} s", d.as_secs_f64()),
    )
}

/// The first file of a record's file field: its name and what `download_file` takes (the
/// storage id, else the URL).
async fn record_file(
    ports: &dyn Ports,
    catalog: &str,
    record: &str,
    field: &str,
) -> Result<(String, String), Failure> {
    let rec = ports.get_record(catalog, record).await?;
    let first = match rec.get("values").and_then(|v| v.get(field)) {
        Some(Value::Array(files)) => files.first().cloned(),
        Some(Value::Object(o)) => Some(Value::Object(o.clone())),
        _ => None,
    };
    let Some(Value::Object(f)) = first else {
        return Err(Failure::new(
            "NOT_FOUND",
            format!("field {field} of record {record} in catalog {catalog} has no file"),
        ));
    };
    let text = |k: &str| f.get(k).and_then(scalar_text).filter(|s| !s.is_empty());
    let url = text("url").or_else(|| text("src"));
    let file = text("id")
        .or_else(|| url.clone())
        .ok_or_else(|| Failure::new("NOT_FOUND", format!("field {field}: a file without an id")))?;
    let name = text("title")
        .or_else(|| url.as_deref().map(name_from_url))
        .unwrap_or_else(|| "file".to_owned());
    Ok((name, file))
}

fn needed(args: &Args, name: &str) -> Result<String, Failure> {
    args.text(name).ok_or_else(|| required(name))
}

/// The record file field a result goes into, when `output_format=catalog`.
fn target(args: &Args) -> Result<Option<FileTarget>, Failure> {
    if args.text("output_format").as_deref() != Some("catalog") {
        return Ok(None);
    }
    Ok(Some(FileTarget {
        catalog: needed(args, "output_catalogId")?,
        record: needed(args, "output_recordId")?,
        field: needed(args, "output_fieldId")?,
    }))
}

/// Stores a file and answers the slots `output_url` and `output_fileId`.
async fn store(
    engine: &Engine,
    ports: &dyn Ports,
    name: String,
    content: FileContent,
    target: Option<FileTarget>,
) -> Result<Slots, Failure> {
    let upload = FileUpload {
        mime_type: mime_type(&name),
        name,
        content,
        target,
    };
    let d = engine.settings().web_timeout;
    let stored = tokio::time::timeout(d, ports.upload_file(upload))
        .await
        .map_err(|_| timeout(d, "the file upload"))??;
    Ok(vec![
        ("output_url", Some(Value::String(stored.url))),
        ("output_fileId", Some(Value::String(stored.id))),
    ])
}

pub(crate) async fn upload(
    engine: &Engine,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let given = args.text("file_name");
    let (name, content) = if args.text("file_format").as_deref() == Some("url") {
        let url = needed(args, "file_url")?;
        (
            given.unwrap_or_else(|| name_from_url(&url)),
            FileContent::Url(url),
        )
    } else {
        let data = args
            .value("file_data")
            .ok_or_else(|| required("file_data"))?;
        let bytes = bytes_of(&data)?;
        if bytes.len() > engine.settings().download_limit {
            return Err(Failure::new(
                "LIMIT",
                format!("file_data has {} bytes, more than the limit", bytes.len()),
            ));
        }
        (
            given.unwrap_or_else(|| "file".to_owned()),
            FileContent::Bytes(bytes),
        )
    };
    store(engine, ports, name, content, target(args)?).await
}

/// The parameters of a conversion or a template: `data_values` pairs or the `data_json`
/// object.
fn data(args: &Args) -> Result<Map<String, Value>, Failure> {
    if args.text("data_format").as_deref() == Some("json") {
        match args.value("data_json") {
            None | Some(Value::Null) => Ok(Map::new()),
            Some(Value::Object(m)) => Ok(m),
            Some(other) => Err(Failure::expression(format!(
                "data_json must be an object, not {other}"
            ))),
        }
    } else {
        Ok(pairs_object(&args.pairs("data_values")))
    }
}

/// Runs CPU-bound work on a blocking thread; a panic inside (a malformed file tripping a
/// parser) is an `INTERNAL` failure, not a crash.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(Failure::internal(format!("the conversion stopped: {e}"))),
    }
}

/// The file name of a result: `output_filename` (else `default`), with `ext` added when it
/// has no extension.
fn result_name(args: &Args, default: &str, ext: &str) -> String {
    let name = args
        .text("output_filename")
        .unwrap_or_else(|| default.to_owned());
    if extension(&name).is_some() {
        name
    } else {
        format!("{name}.{ext}")
    }
}

pub(crate) async fn convert(
    engine: &Engine,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let method = needed(args, "method")?;
    if !matches!(
        method.as_str(),
        "excel-json" | "xml-json" | "html-pdf" | "docx-pdf"
    ) {
        return Err(Failure::internal(format!(
            "component not supported: convertDoc ({method})"
        )));
    }
    let mut from_url = None;
    let (source, bytes) = match args.text("source_format").as_deref() {
        Some("url") => {
            let url = needed(args, "source_url")?;
            from_url = Some(url.clone());
            (name_from_url(&url), download(engine, ports, &url).await?)
        }
        Some("content") => {
            let v = args
                .value("source_content")
                .ok_or_else(|| required("source_content"))?;
            ("document".to_owned(), bytes_of(&v)?)
        }
        _ => {
            let (name, file) = record_file(
                ports,
                &needed(args, "source_catalogId")?,
                &needed(args, "source_recordId")?,
                &needed(args, "source_fieldId")?,
            )
            .await?;
            (name, download(engine, ports, &file).await?)
        }
    };
    let options = data(args)?;
    if method.ends_with("-pdf") {
        let job = if method == "html-pdf" {
            let mut html = crate::pdf::html_text(bytes);
            if let Some(url) = from_url.as_deref() {
                html = crate::pdf::with_base(html, url);
            }
            let print = crate::pdf::print_options(&options)?;
            PdfJob::Html { html, print }
        } else {
            PdfJob::Docx(blocking(move || crate::pdf::safe_docx(&bytes)).await?)
        };
        let pdf = ports.to_pdf(job).await?;
        if matches!(
            args.text("output_format").as_deref(),
            None | Some("content")
        ) {
            return Ok(vec![("output_content", Some(buffer(&pdf)))]);
        }
        let stem = source
            .rsplit_once('.')
            .map(|(stem, _)| stem)
            .filter(|stem| !stem.is_empty())
            .unwrap_or(source.as_str())
            .to_owned();
        let name = result_name(args, &stem, "pdf");
        return store(engine, ports, name, FileContent::Bytes(pdf), target(args)?).await;
    }
    let json = if method == "excel-json" {
        blocking(move || excel_json(bytes)).await?
    } else {
        blocking(move || xml_json(&bytes, &options)).await?
    };
    if matches!(
        args.text("output_format").as_deref(),
        None | Some("content")
    ) {
        return Ok(vec![("output_content", Some(json))]);
    }
    let name = result_name(args, "converted", "json");
    let content = FileContent::Bytes(json.to_string().into_bytes());
    store(engine, ports, name, content, target(args)?).await
}

/// Excel → JSON (spec 03 §7.2.6): `{"<sheet>": [{"A": cell, …}, …]}`, one object per row
/// that has a value, keyed by column letters, empty cells left out — the shape of SheetJS's
/// `sheet_to_json(ws, {header: "A"})`. Numbers stay numbers (dates are Excel serial numbers,
/// as SheetJS gives them raw), errors are their text (`#DIV/0!`).
pub(crate) fn excel_json(bytes: Vec<u8>) -> Result<Value, Failure> {
    use calamine::{open_workbook_auto_from_rs, Data, Reader};
    let mut book = open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
        .map_err(|e| Failure::internal(format!("the file is not a readable spreadsheet: {e}")))?;
    let mut out = Map::new();
    for (sheet, range) in book.worksheets() {
        let first_col = range.start().map_or(0, |(_, c)| c);
        let mut rows = Vec::new();
        for row in range.rows() {
            let mut obj = Map::new();
            for (j, cell) in row.iter().enumerate() {
                let v = match cell {
                    Data::Empty => continue,
                    Data::Int(i) => Value::from(*i),
                    Data::Float(f) => number(*f),
                    Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        Value::String(s.clone())
                    }
                    Data::Bool(b) => Value::Bool(*b),
                    Data::DateTime(d) => number(d.as_f64()),
                    Data::Error(e) => Value::String(e.to_string()),
                };
                let col = u32::try_from(j)
                    .unwrap_or(u32::MAX)
                    .saturating_add(first_col);
                obj.insert(column(col), v);
            }
            if !obj.is_empty() {
                rows.push(Value::Object(obj));
            }
        }
        out.insert(sheet, Value::Array(rows));
    }
    Ok(Value::Object(out))
}

/// A number as JSON: integral values as integers (`42`, not `42.0`).
fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// Column letters of a 0-based column: 0 → `A`, 26 → `AA`.
fn column(mut c: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (c % 26) as u8);
        if c < 26 {
            break;
        }
        c = c / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// XML nesting deeper than this is refused before parsing (the tree is recursive).
pub(crate) const MAX_XML_DEPTH: usize = 500;

/// A cheap upper bound of the element nesting of XML text.
pub(crate) fn xml_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    for (i, b) in bytes.iter().enumerate() {
        match (b, bytes.get(i + 1)) {
            (b'<', Some(b'/')) => depth = depth.saturating_sub(1),
            (b'<', Some(b'!' | b'?')) => {}
            (b'<', _) => {
                depth += 1;
                max = max.max(depth);
            }
            (b'/', Some(b'>')) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// xml2js options the converter honours, with xml2js's defaults.
struct XmlOptions {
    attrkey: String,
    charkey: String,
    explicit_array: bool,
    explicit_root: bool,
    trim: bool,
    normalize: bool,
    normalize_tags: bool,
    merge_attrs: bool,
    ignore_attrs: bool,
    explicit_charkey: bool,
    empty_tag: Value,
}

impl XmlOptions {
    fn from(o: &Map<String, Value>) -> XmlOptions {
        let flag = |k: &str, d: bool| match o.get(k) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true",
            _ => d,
        };
        let text = |k: &str, d: &str| o.get(k).and_then(scalar_text).unwrap_or_else(|| d.into());
        XmlOptions {
            attrkey: text("attrkey", "$"),
            charkey: text("charkey", "_"),
            explicit_array: flag("explicitArray", true),
            explicit_root: flag("explicitRoot", true),
            trim: flag("trim", false),
            normalize: flag("normalize", false),
            normalize_tags: flag("normalizeTags", false),
            merge_attrs: flag("mergeAttrs", false),
            ignore_attrs: flag("ignoreAttrs", false),
            explicit_charkey: flag("explicitCharkey", false),
            empty_tag: o
                .get("emptyTag")
                .cloned()
                .unwrap_or(Value::String(String::new())),
        }
    }
}

/// XML → JSON as xml2js's `parseString` gives it (spec 03 §7.2.6), under the options in
/// `data`.
pub(crate) fn xml_json(bytes: &[u8], options: &Map<String, Value>) -> Result<Value, Failure> {
    if xml_depth(bytes) > MAX_XML_DEPTH {
        return Err(Failure::new(
            "LIMIT",
            format!("the XML nests deeper than {MAX_XML_DEPTH} elements"),
        ));
    }
    let doc = kartoteka_bpmn::xml::parse(bytes)
        .map_err(|e| Failure::internal(format!("the file is not readable XML: {}", e.0)))?;
    let o = XmlOptions::from(options);
    let (name, value) = xml_elem(&doc.root, &o);
    if !o.explicit_root {
        return Ok(value);
    }
    let mut root = Map::new();
    root.insert(name, value);
    Ok(Value::Object(root))
}

fn xml_elem(e: &kartoteka_bpmn::xml::XElem, o: &XmlOptions) -> (String, Value) {
    use kartoteka_bpmn::xml::XNode;
    let name = if o.normalize_tags {
        e.name.to_lowercase()
    } else {
        e.name.clone()
    };
    let mut obj = Map::new();
    if !o.ignore_attrs && !e.attrs.is_empty() {
        let mut attrs = Map::new();
        for (k, v) in &e.attrs {
            let v = Value::String(v.clone().unwrap_or_default());
            if o.merge_attrs {
                let v = if o.explicit_array {
                    Value::Array(vec![v])
                } else {
                    v
                };
                obj.insert(k.clone(), v);
            } else {
                attrs.insert(k.clone(), v);
            }
        }
        if !o.merge_attrs {
            obj.insert(o.attrkey.clone(), Value::Object(attrs));
        }
    }
    let mut text = String::new();
    let mut has_children = false;
    for child in &e.children {
        match child {
            XNode::Elem(c) => {
                has_children = true;
                let (k, v) = xml_elem(c, o);
                match obj.get_mut(&k) {
                    // A child is never an array itself: an array here holds repeats.
                    Some(Value::Array(list)) => list.push(v),
                    Some(prev) => {
                        let old = prev.take();
                        *prev = Value::Array(vec![old, v]);
                    }
                    None => {
                        let v = if o.explicit_array {
                            Value::Array(vec![v])
                        } else {
                            v
                        };
                        obj.insert(k, v);
                    }
                }
            }
            XNode::Text(t) | XNode::Cdata(t) => text.push_str(t),
            _ => {}
        }
    }
    if has_children && text.trim().is_empty() {
        text.clear();
    }
    if o.trim {
        text = text.trim().to_owned();
    }
    if o.normalize {
        text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if obj.is_empty() && !o.explicit_charkey {
        let v = if text.is_empty() {
            o.empty_tag.clone()
        } else {
            Value::String(text)
        };
        return (name, v);
    }
    if !text.is_empty() || (obj.is_empty() && o.explicit_charkey) {
        obj.insert(o.charkey.clone(), Value::String(text));
    }
    (name, Value::Object(obj))
}

pub(crate) async fn generate(
    engine: &Engine,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let (name, file) = if args.text("template_format").as_deref() == Some("url") {
        let url = needed(args, "template_url")?;
        (name_from_url(&url), url)
    } else {
        record_file(
            ports,
            &needed(args, "template_catalogId")?,
            &needed(args, "template_recordId")?,
            &needed(args, "template_fieldId")?,
        )
        .await?
    };
    let ext = extension(&name).unwrap_or_else(|| "txt".to_owned());
    let escape = match ext.as_str() {
        "html" | "htm" | "xml" | "svg" => true,
        "txt" | "csv" | "json" | "md" | "ics" | "tsv" | "docx" | "xlsx" => false,
        other => {
            return Err(Failure::internal(format!(
                "component not supported: generateDoc ({other})"
            )))
        }
    };
    let bytes = download(engine, ports, &file).await?;
    if ext == "docx" || ext == "xlsx" {
        if args.text("output_format").as_deref() == Some("content") {
            return Err(Failure::internal(format!(
                "a .{ext} document cannot be returned as content: save it as a URL or into a record"
            )));
        }
        let data = Value::Object(data(args)?);
        let word = ext == "docx";
        let doc = blocking(move || {
            if word {
                crate::docx::fill(&bytes, &data)
            } else {
                crate::xlsx::fill(&bytes, &data)
            }
        })
        .await?;
        let out_name = result_name(args, &name, &ext);
        return store(
            engine,
            ports,
            out_name,
            FileContent::Bytes(doc),
            target(args)?,
        )
        .await;
    }
    let template = String::from_utf8(bytes)
        .map_err(|_| Failure::internal(format!("the template {name} is not UTF-8 text")))?;
    let data = Value::Object(data(args)?);
    let text = blocking(move || crate::template::render(&template, &data, escape)).await?;
    if args.text("output_format").as_deref() == Some("content") {
        return Ok(vec![("output_content", Some(Value::String(text)))]);
    }
    let out_name = result_name(args, &name, &ext);
    store(
        engine,
        ports,
        out_name,
        FileContent::Bytes(text.into_bytes()),
        target(args)?,
    )
    .await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_letters() {
        assert_eq!(column(0), "A");
        assert_eq!(column(25), "Z");
        assert_eq!(column(26), "AA");
        assert_eq!(column(701), "ZZ");
        assert_eq!(column(702), "AAA");
    }

    #[test]
    fn names_come_from_urls() {
        assert_eq!(
            name_from_url("https://x.test/a/b/report.pdf?x=1"),
            "report.pdf"
        );
        assert_eq!(name_from_url("https://x.test/"), "file");
        assert_eq!(name_from_url("https://x.test"), "file");
    }

    #[test]
    fn xml_follows_xml2js_defaults() {
        let xml = br#"<CAT id="1"><NAME>Izzy</NAME><AGE>3</AGE><AGE>4</AGE><EMPTY/></CAT>"#;
        let v = xml_json(xml, &Map::new()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"CAT": {"$": {"id": "1"}, "NAME": ["Izzy"], "AGE": ["3", "4"], "EMPTY": [""]}})
        );
        let mut o = Map::new();
        o.insert("explicitArray".into(), Value::Bool(false));
        o.insert("explicitRoot".into(), Value::Bool(false));
        let v = xml_json(xml, &o).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"$": {"id": "1"}, "NAME": "Izzy", "AGE": ["3", "4"], "EMPTY": ""})
        );
    }

    #[test]
    fn deep_xml_is_refused() {
        let xml = "<a>".repeat(10_000);
        assert_eq!(
            xml_json(xml.as_bytes(), &Map::new()).unwrap_err().code,
            "LIMIT"
        );
    }

    #[test]
    fn buffers_are_bytes() {
        let b = serde_json::json!({"type": "Buffer", "data": [104, 105]});
        assert_eq!(bytes_of(&b).unwrap(), b"hi");
        assert!(bytes_of(&serde_json::json!({"type": "Buffer", "data": [300]})).is_err());
    }
}
