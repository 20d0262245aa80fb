//! The Converter's PDF methods (spec 03 §7.2.6): `html-pdf` and `docx-pdf`. The page setup of
//! HTML is Puppeteer's `page.pdf()` options, which Bpium's component passes on; the printing
//! itself is the host's ([`Ports::to_pdf`]).

use serde_json::{Map, Value};

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

/// A Word document is a ZIP package: refuse anything else before the host spends a process
/// on it.
pub(crate) fn check_docx(bytes: &[u8]) -> Result<(), Failure> {
    if bytes.starts_with(b"PK\x03\x04") {
        Ok(())
    } else {
        Err(Failure::internal(
            "the file is not a .docx document (a Word package is a ZIP archive)",
        ))
    }
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

    #[test]
    fn only_zip_packages_pass_as_docx() {
        assert!(check_docx(b"PK\x03\x04rest").is_ok());
        assert!(check_docx(b"<html>").is_err());
    }
}
