//! The Converter's PDF methods (spec 03 §7.2.6): `html-pdf` and `docx-pdf`. The page setup of
//! HTML is Puppeteer's `page.pdf()` options, which Bpium's component passes on; the printing
//! itself is the host's ([`Ports::to_pdf`]).

use kartoteka_bpmn::xml::{self, XNode};
use serde_json::{Map, Value};

use crate::office::{self, Edit};
use crate::{Failure, PrintOptions};

/// Paper sizes Puppeteer knows, in inches, width × height (portrait).
const FORMATS: &[(&str, f64, f64)] = &[
    ("letter", 8.5, 11.0),
    ("legal", 8.5, 14.0),
    ("tabloid", 11.0, 17.0),
    ("ledger", 17.0, 11.0),
    ("a0", 33.1102, 46.811),
    ("a1", 23.3858, 33.1102),
    ("a2", 16.5354, 23.3858),
    ("a3", 11.6929, 16.5354),
    ("a4", 8.2677, 11.6929),
    ("a5", 5.8268, 8.2677),
    ("a6", 4.1339, 5.8268),
];

/// CSS pixels per unit; a length without a unit is in pixels (96 per inch).
const UNITS: &[(&str, f64)] = &[("px", 1.0), ("in", 96.0), ("cm", 37.8), ("mm", 3.78)];

/// The page setup from the component's parameters. Names are matched without regard to case
/// (Bpium's form says `Format`, Puppeteer `format`); unknown names are ignored, as Puppeteer
/// ignores them. Defaults are Bpium's: A4, `1cm` margins, backgrounds printed, scale 1.
/// `format` wins over `width`/`height`; either of those alone keeps Letter's other side, as
/// in Puppeteer.
pub(crate) fn print_options(params: &Map<String, Value>) -> Result<PrintOptions, Failure> {
    let p: Map<String, Value> = params
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    let (paper_width, paper_height) = match (p.get("format"), p.get("width"), p.get("height")) {
        (None, None, None) => paper("A4")?,
        (Some(f), _, _) => paper(&text(f))?,
        (None, w, h) => (
            w.map(|w| inches("width", w)).transpose()?.unwrap_or(8.5),
            h.map(|h| inches("height", h)).transpose()?.unwrap_or(11.0),
        ),
    };
    let margin = match p.get("margin") {
        None => [1.0 / 2.54; 4],
        Some(Value::Object(m)) => {
            let side = |name: &str| -> Result<f64, Failure> {
                m.get(name)
                    .filter(|v| !v.is_null())
                    .map_or(Ok(0.0), |v| inches(&format!("margin.{name}"), v))
            };
            [side("top")?, side("right")?, side("bottom")?, side("left")?]
        }
        Some(all) => [inches("margin", all)?; 4],
    };
    let scale = match p.get("scale") {
        None => 1.0,
        Some(v) => number(v).ok_or_else(|| bad("scale", v, "a number"))?,
    };
    if !(0.1..=2.0).contains(&scale) {
        return Err(Failure::expression(format!(
            "scale must be between 0.1 and 2, not {scale}"
        )));
    }
    Ok(PrintOptions {
        paper_width,
        paper_height,
        margin,
        landscape: flag(&p, "landscape", false)?,
        print_background: flag(&p, "printbackground", true)?,
        scale,
        page_ranges: p.get("pageranges").map(text).unwrap_or_default(),
        display_header_footer: flag(&p, "displayheaderfooter", false)?,
        header_template: p.get("headertemplate").map(text),
        footer_template: p.get("footertemplate").map(text),
        prefer_css_page_size: flag(&p, "prefercsspagesize", false)?,
    })
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn bad(name: &str, v: &Value, want: &str) -> Failure {
    Failure::expression(format!("{name} must be {want}, not {v}"))
}

fn paper(format: &str) -> Result<(f64, f64), Failure> {
    let lower = format.trim().to_ascii_lowercase();
    FORMATS
        .iter()
        .find(|(name, _, _)| *name == lower)
        .map(|&(_, w, h)| (w, h))
        .ok_or_else(|| {
            Failure::expression(format!(
                "unknown paper format {format:?}: one of Letter, Legal, Tabloid, Ledger, A0–A6"
            ))
        })
}

/// A length as Puppeteer reads it: a number is pixels, a string a number with an optional
/// `px`, `in`, `cm` or `mm` suffix; the answer is in inches.
fn inches(name: &str, v: &Value) -> Result<f64, Failure> {
    let px = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let lower = s.to_ascii_lowercase();
            let (digits, per) = UNITS
                .iter()
                .find(|(unit, _)| lower.ends_with(unit))
                .map_or((s, 1.0), |&(unit, per)| (&s[..s.len() - unit.len()], per));
            let digits = digits.trim();
            if digits.is_empty() {
                Some(0.0)
            } else {
                digits.parse::<f64>().ok().map(|n| n * per)
            }
        }
        _ => None,
    };
    match px {
        Some(px) if px.is_finite() && px >= 0.0 => Ok(px / 96.0),
        _ => Err(bad(name, v, "a length such as 10, \"2cm\" or \"1in\"")),
    }
}

fn flag(p: &Map<String, Value>, name: &str, default: bool) -> Result<bool, Failure> {
    match p.get(name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad(name, v, "true or false")),
    }
}

/// The text of an HTML file: UTF-8 (a byte order mark of UTF-8 or UTF-16 wins), else the
/// charset its `<meta>` declares in its first 2 KB, else windows-1251, which browsers in a
/// Russian locale assume and older exports (1C among them) write.
pub(crate) fn html_text(bytes: Vec<u8>) -> String {
    if let Some((encoding, _)) = encoding_rs::Encoding::for_bom(&bytes) {
        return encoding.decode_with_bom_removal(&bytes).0.into_owned();
    }
    let bytes = match String::from_utf8(bytes) {
        Ok(text) => return text,
        Err(e) => e.into_bytes(),
    };
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(2048)]).to_ascii_lowercase();
    let declared = head.find("charset=").and_then(|at| {
        let label: String = head[at + 8..]
            .trim_start_matches(['"', '\'', ' '])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
            .collect();
        encoding_rs::Encoding::for_label(label.as_bytes())
    });
    let encoding = declared.unwrap_or(encoding_rs::WINDOWS_1251);
    encoding.decode_without_bom_handling(&bytes).0.into_owned()
}

/// HTML downloaded from `url`, with a `<base href>` so that its relative links (styles,
/// pictures) resolve against where it came from rather than the blank page it is printed in.
/// A document with a `<base>` of its own keeps it. The element goes just inside `<head>`
/// (else `<html>`, else in front), never before a doctype, which would change the layout
/// mode.
pub(crate) fn with_base(html: String, url: &str) -> String {
    let lower = html.to_ascii_lowercase();
    if lower.contains("<base ") || lower.contains("<base>") {
        return html;
    }
    let base = format!("<base href=\"{}\">", kartoteka_bpmn::xml::escape(url, true));
    // Just past the first `<tag>` or `<tag …>` (not `<header>` for `<head`).
    let after = |tag: &str| {
        let at = lower.match_indices(tag).map(|(i, _)| i).find(|i| {
            lower[i + tag.len()..]
                .chars()
                .next()
                .is_some_and(|c| c == '>' || c.is_ascii_whitespace())
        })?;
        Some(at + lower[at..].find('>')? + 1)
    };
    let at = after("<head")
        .or_else(|| after("<html"))
        .or_else(|| after("<!doctype"))
        .unwrap_or(0);
    let mut out = html;
    out.insert_str(at, &base);
    out
}

/// A Word document made safe to hand to the converter. LibreOffice loads what a document
/// links to while it converts (a picture linked as `file:///…` ends up in the PDF), and the
/// document may be any user's upload: every external link but a hyperlink (linked pictures,
/// attached templates, subdocuments, OLE links, whether to files, shares or the web) is
/// pointed at `about:blank`. Anything but a ZIP package is refused before a process is spent
/// on it.
pub(crate) fn safe_docx(bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return Err(Failure::internal(
            "the file is not a .docx document (a Word package is a ZIP archive)",
        ));
    }
    office::rewrite(
        bytes,
        "docx",
        |name| name.ends_with(".rels"),
        |name, part| {
            let Some(part) = part else {
                return Ok(Edit::Keep);
            };
            let mut doc = office::parse(&part, name, "docx")?;
            let mut changed = false;
            for rel in doc.root.children.iter_mut() {
                let XNode::Elem(rel) = rel else { continue };
                let external = rel
                    .get("TargetMode")
                    .is_some_and(|m| m.eq_ignore_ascii_case("External"));
                let hyperlink = rel.get("Type").is_some_and(|t| t.ends_with("/hyperlink"));
                if external && !hyperlink && rel.get("Target") != Some("about:blank") {
                    office::set_attr(rel, "Target", "about:blank".to_owned());
                    changed = true;
                }
            }
            Ok(if changed {
                Edit::Write(xml::write(&doc).into_bytes())
            } else {
                Edit::Keep
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn opts(v: Value) -> Result<PrintOptions, Failure> {
        match v {
            Value::Object(m) => print_options(&m),
            _ => panic!("an object"),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn downloaded_html_resolves_its_links_where_it_came_from() {
        let url = "https://site.test/a/invoice.html?x=1&y=2";
        assert_eq!(
            with_base("<!DOCTYPE html><html><HEAD><title>t</title></head></html>".into(), url),
            "<!DOCTYPE html><html><HEAD><base href=\"https://site.test/a/invoice.html?x=1&amp;y=2\"><title>t</title></head></html>"
        );
        assert_eq!(
            with_base("<!doctype html><p>x".into(), "https://s.test/"),
            "<!doctype html><base href=\"https://s.test/\"><p>x"
        );
        assert_eq!(
            with_base("<p>x".into(), "https://s.test/"),
            "<base href=\"https://s.test/\"><p>x"
        );
        assert_eq!(
            with_base("<html lang=ru><body><header>x".into(), "https://s.test/"),
            "<html lang=ru><base href=\"https://s.test/\"><body><header>x"
        );
        let own = "<head><base href=\"https://cdn.test/\"></head>".to_owned();
        assert_eq!(with_base(own.clone(), url), own);
    }

    #[test]
    fn html_is_read_in_its_charset() {
        let (koi8, _, _) = encoding_rs::KOI8_R.encode("Счёт");
        let declared = [
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=koi8-r\"><p>".to_vec(),
            koi8.to_vec(),
        ]
        .concat();
        assert!(html_text(declared).ends_with("<p>Счёт"));
        let (cp1251, _, _) = encoding_rs::WINDOWS_1251.encode("<p>Акт</p>");
        assert_eq!(
            html_text(cp1251.to_vec()),
            "<p>Акт</p>",
            "no charset: windows-1251"
        );
        assert_eq!(html_text("<p>Акт</p>".as_bytes().to_vec()), "<p>Акт</p>");
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("<p>Я</p>".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(html_text(utf16), "<p>Я</p>");
    }

    #[test]
    fn defaults_are_bpiums() {
        let o = opts(json!({})).expect("defaults");
        assert!(close(o.paper_width, 8.2677) && close(o.paper_height, 11.6929));
        assert!(o.margin.iter().all(|m| close(*m, 1.0 / 2.54)));
        assert!(!o.landscape && o.print_background && !o.display_header_footer);
        assert!(close(o.scale, 1.0));
        assert_eq!(o.page_ranges, "");
        assert_eq!(o.header_template, None);
    }

    #[test]
    fn format_wins_and_names_ignore_case() {
        let o =
            opts(json!({"Format": "letter", "Width": "10in", "Landscape": true})).expect("letter");
        assert!(close(o.paper_width, 8.5) && close(o.paper_height, 11.0));
        assert!(o.landscape);
        let o = opts(json!({"format": "A3"})).expect("a3");
        assert!(close(o.paper_width, 11.6929));
        assert!(opts(json!({"format": "B5"})).is_err());
    }

    #[test]
    fn lengths_read_as_puppeteer_reads_them() {
        let o = opts(json!({"width": "21cm", "height": 960})).expect("size");
        assert!(close(o.paper_width, 21.0 * 37.8 / 96.0));
        assert!(close(o.paper_height, 10.0));
        // One side alone keeps Letter's other side.
        let o = opts(json!({"height": "5in"})).expect("height");
        assert!(close(o.paper_width, 8.5) && close(o.paper_height, 5.0));
        let o = opts(json!({"margin": {"top": "10mm", "left": "1in"}})).expect("margin");
        assert!(close(o.margin[0], 37.8 / 96.0));
        assert!(close(o.margin[1], 0.0) && close(o.margin[2], 0.0));
        assert!(close(o.margin[3], 1.0));
        let o = opts(json!({"margin": "0"})).expect("no margin");
        assert_eq!(o.margin, [0.0; 4]);
        for wrong in [json!({"width": "wide"}), json!({"margin": {"top": "-1cm"}})] {
            let e = opts(wrong).expect_err("refused");
            assert_eq!(e.code, "EXPRESSION");
        }
    }

    #[test]
    fn flags_scale_and_templates() {
        let o = opts(json!({
            "printBackground": "false",
            "scale": "1.5",
            "pageRanges": "1-2",
            "displayHeaderFooter": true,
            "footerTemplate": "<span class=pageNumber></span>",
            "headerTemplate": null
        }))
        .expect("options");
        assert!(!o.print_background && o.display_header_footer);
        assert!(close(o.scale, 1.5));
        assert_eq!(o.page_ranges, "1-2");
        assert_eq!(
            o.footer_template.as_deref(),
            Some("<span class=pageNumber></span>")
        );
        assert_eq!(o.header_template, None);
        let e = opts(json!({"scale": 3})).expect_err("scale");
        assert!(e.message.contains("between 0.1 and 2"), "{}", e.message);
        assert!(opts(json!({"landscape": "yes"})).is_err());
    }

    fn package(parts: &[(&str, &str)]) -> Vec<u8> {
        use std::io::Write;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, text) in parts {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("part");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("zip").into_inner()
    }

    #[test]
    fn word_documents_lose_their_links_to_files_but_keep_hyperlinks() {
        let rels = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId5" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="file:///srv/data/files/ab/cd" TargetMode="External"/><Relationship Id="rId6" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink" Target="https://example.org/" TargetMode="External"/><Relationship Id="rId7" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.png"/></Relationships>"#;
        let settings = r#"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" Target="file:///C:\Users\a\Normal.dotm" TargetMode="External"/></Relationships>"#;
        let doc = "<w:document/>";
        let safe = safe_docx(&package(&[
            ("word/document.xml", doc),
            ("word/_rels/document.xml.rels", rels),
            ("word/_rels/settings.xml.rels", settings),
        ]))
        .expect("safe");
        let text = |name: &str| {
            String::from_utf8(
                office::part(&safe, name, "docx")
                    .expect("read")
                    .expect(name),
            )
            .expect("utf-8")
        };
        let rels = text("word/_rels/document.xml.rels");
        assert!(!rels.contains("file:"), "{rels}");
        assert!(rels.contains(r#"Id="rId5""#) && rels.contains(r#"Target="about:blank""#));
        assert!(rels.contains(r#"Target="https://example.org/""#), "{rels}");
        assert!(rels.contains(r#"Target="media/image1.png""#), "{rels}");
        assert!(!text("word/_rels/settings.xml.rels").contains("Normal.dotm"));
        assert_eq!(text("word/document.xml"), doc);
        assert!(safe_docx(b"<html>").is_err());
    }
}
