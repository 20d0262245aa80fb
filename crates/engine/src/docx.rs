//! Generate document for Word templates (`.docx`, spec 03 §7.3.8): the `{{ }}` tags of the
//! text templates (`template.rs`) in the body, headers, footers and notes, and Bpium's
//! repetition of a table row or a list item over an array of objects.
//!
//! - Word splits what the author typed into runs as it likes (`{{cust` in one, `omer.name}}`
//!   in the next). Before anything is filled, every tag of a paragraph is moved whole into
//!   the run where it starts; the runs' formatting stays.
//! - A table row (`w:tr`), or else a paragraph, whose tags go through an array of objects
//!   (`{{table.number}}` with `table: [{number: …}, …]`) is repeated once per item, the tags
//!   of each copy reading that item (an empty array removes it). Rows and paragraphs nest:
//!   a table in a repeated row repeats its own rows over arrays of the item.
//! - Each text is then filled as a text template without markup escaping (`{{path}}`,
//!   `{{#list}}…{{/list}}` inside one paragraph); the XML is escaped when written. Line
//!   breaks in a value become Word line breaks.
//! - Every other part of the package is copied unchanged.

use kartoteka_bpmn::xml::{self, XElem, XNode};
use serde_json::Value;

use crate::office::{self, set_text, Edit};
use crate::Failure;

/// Repetitions nest at most this deep.
const MAX_DEPTH: usize = 20;

/// Fills a `.docx` template with `data`; returns the new document's bytes.
pub(crate) fn fill(template: &[u8], data: &Value) -> Result<Vec<u8>, Failure> {
    office::rewrite(template, "docx", filled_part, |name, bytes| {
        let Some(bytes) = bytes else {
            return Ok(Edit::Keep);
        };
        let mut doc = office::parse(&bytes, name, "docx")?;
        merge_tags(&mut doc.root);
        let children = std::mem::take(&mut doc.root.children);
        let mut scope = data.clone();
        doc.root.children = render(children, &mut scope, 0)?;
        Ok(Edit::Write(xml::write(&doc).into_bytes()))
    })
}

/// The parts whose text is filled: the body, headers, footers, footnotes and endnotes.
fn filled_part(name: &str) -> bool {
    let Some(file) = name.strip_prefix("word/") else {
        return false;
    };
    if file.contains('/') || !file.ends_with(".xml") {
        return false;
    }
    file == "document.xml"
        || file == "footnotes.xml"
        || file == "endnotes.xml"
        || file.starts_with("header")
        || file.starts_with("footer")
}

// ----- tags split over runs -------------------------------------------------------------

/// Moves every tag of every paragraph under `e` whole into the text element it starts in.
fn merge_tags(e: &mut XElem) {
    if e.name == "w:p" {
        let mut texts = Vec::new();
        paragraph_texts(e, &mut texts);
        if let Some(merged) = merged(&texts) {
            set_paragraph_texts(e, &mut merged.into_iter());
        }
    }
    for c in &mut e.children {
        if let XNode::Elem(c) = c {
            merge_tags(c);
        }
    }
}

/// The texts of a paragraph's `w:t` elements in order, not those of paragraphs nested in it
/// (text boxes), which are merged on their own.
fn paragraph_texts(e: &XElem, out: &mut Vec<String>) {
    for c in &e.children {
        if let XNode::Elem(c) = c {
            match c.name.as_str() {
                "w:p" => {}
                "w:t" => out.push(c.text()),
                _ => paragraph_texts(c, out),
            }
        }
    }
}

fn set_paragraph_texts(e: &mut XElem, texts: &mut impl Iterator<Item = String>) {
    for c in &mut e.children {
        if let XNode::Elem(c) = c {
            match c.name.as_str() {
                "w:p" => {}
                "w:t" => {
                    if let Some(t) = texts.next() {
                        set_text(c, t);
                    }
                }
                _ => set_paragraph_texts(c, texts),
            }
        }
    }
}

/// The texts with each `{{…}}` that crosses from one text into the next moved whole into the
/// first; `None` when no tag crosses.
fn merged(texts: &[String]) -> Option<Vec<String>> {
    let joined: String = texts.concat();
    // The text each byte of `joined` belongs to.
    let mut owner: Vec<usize> = Vec::with_capacity(joined.len());
    for (i, t) in texts.iter().enumerate() {
        owner.extend(std::iter::repeat_n(i, t.len()));
    }
    let mut moved = false;
    let mut from = 0;
    while let Some(start) = joined[from..].find("{{").map(|p| p + from) {
        let Some(end) = joined[start..].find("}}").map(|p| p + start + 2) else {
            break;
        };
        let first = owner[start];
        for o in &mut owner[start..end] {
            if *o != first {
                *o = first;
                moved = true;
            }
        }
        from = end;
    }
    if !moved {
        return None;
    }
    let mut out = vec![String::new(); texts.len()];
    for (ch_start, ch) in joined.char_indices() {
        out[owner[ch_start]].push(ch);
    }
    Some(out)
}

// ----- filling and repetition ------------------------------------------------------------

/// Fills a list of nodes with `scope`, repeating the rows and paragraphs that go through an
/// array of objects.
fn render(nodes: Vec<XNode>, scope: &mut Value, depth: usize) -> Result<Vec<XNode>, Failure> {
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        let XNode::Elem(e) = n else {
            out.push(n);
            continue;
        };
        if e.name == "w:tr" || e.name == "w:p" {
            if let Some(path) = repeated(&e, scope) {
                if depth >= MAX_DEPTH {
                    return Err(Failure::new(
                        "LIMIT",
                        format!("repetitions in the template nest deeper than {MAX_DEPTH}"),
                    ));
                }
                let copies = crate::template::for_each_item(scope, &path, false, |scoped| {
                    render_elem(e.clone(), scoped, depth + 1)
                })?;
                out.extend(copies.into_iter().map(XNode::Elem));
                continue;
            }
        }
        if e.name == "w:t" {
            out.extend(fill_text(e, scope)?);
            continue;
        }
        out.push(XNode::Elem(render_elem(e, scope, depth)?));
    }
    Ok(out)
}

fn render_elem(mut e: XElem, scope: &mut Value, depth: usize) -> Result<XElem, Failure> {
    let children = std::mem::take(&mut e.children);
    e.children = render(children, scope, depth)?;
    Ok(e)
}

/// A `w:t` filled: itself, or texts with `w:br` between them where the values break lines.
fn fill_text(mut t: XElem, scope: &Value) -> Result<Vec<XNode>, Failure> {
    let text = t.text();
    if !text.contains("{{") {
        return Ok(vec![XNode::Elem(t)]);
    }
    let filled = crate::template::render(&text, scope, false)?;
    let filled = filled.replace("\r\n", "\n");
    if !filled.contains('\n') {
        set_text(&mut t, filled);
        return Ok(vec![XNode::Elem(t)]);
    }
    let mut out = Vec::new();
    for (i, line) in filled.split('\n').enumerate() {
        if i > 0 {
            out.push(XNode::Elem(XElem::new("w:br")));
        }
        let mut piece = t.clone();
        set_text(&mut piece, line.to_owned());
        out.push(XNode::Elem(piece));
    }
    Ok(out)
}

/// The path of the array of objects that the first tag of `e` going through one names.
fn repeated(e: &XElem, scope: &Value) -> Option<Vec<String>> {
    let mut text = String::new();
    all_text(e, &mut text);
    crate::template::repetition(&text, scope).map(|(path, _)| path)
}

/// The text of every `w:t` under `e`, nested paragraphs included.
fn all_text(e: &XElem, out: &mut String) {
    for c in &e.children {
        if let XNode::Elem(c) = c {
            if c.name == "w:t" {
                out.push_str(&c.text());
            } else {
                all_text(c, out);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::io::{Cursor, Read, Write};

    /// A package with the given body XML and one part that must pass unchanged.
    fn package(body: &str) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        w.start_file("[Content_Types].xml", o).unwrap();
        w.write_all(b"<?xml version=\"1.0\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>").unwrap();
        w.start_file("word/document.xml", o).unwrap();
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
        );
        w.write_all(doc.as_bytes()).unwrap();
        w.finish().unwrap().into_inner()
    }

    fn part(docx: &[u8], name: &str) -> String {
        let mut z = zip::ZipArchive::new(Cursor::new(docx)).unwrap();
        let mut s = String::new();
        z.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    /// The texts of the body's paragraphs, each paragraph's runs joined.
    fn paragraphs(docx: &[u8]) -> Vec<String> {
        let doc = xml::parse(part(docx, "word/document.xml").as_bytes()).unwrap();
        let mut out = Vec::new();
        fn walk(e: &XElem, out: &mut Vec<String>) {
            for c in e.elems() {
                if c.name == "w:p" {
                    let mut t = String::new();
                    all_text(c, &mut t);
                    out.push(t);
                } else {
                    walk(c, out);
                }
            }
        }
        walk(&doc.root, &mut out);
        out
    }

    fn p(runs: &[&str]) -> String {
        let runs: String = runs
            .iter()
            .map(|r| format!("<w:r><w:rPr><w:b/></w:rPr><w:t>{r}</w:t></w:r>"))
            .collect();
        format!("<w:p>{runs}</w:p>")
    }

    #[test]
    fn tags_split_over_runs_are_filled_and_other_parts_pass_unchanged() {
        let body = p(&["Customer: {{cus", "tomer.na", "me}}, INN {{customer.inn}}"]);
        let data = json!({"customer": {"name": "Продаван & Co", "inn": 12334546564_i64}});
        let out = fill(&package(&body), &data).unwrap();
        assert_eq!(
            paragraphs(&out),
            vec!["Customer: Продаван & Co, INN 12334546564"]
        );
        let xml = part(&out, "word/document.xml");
        assert!(xml.contains("&amp; Co"), "{xml}");
        assert!(xml.contains("<w:b />"), "run formatting kept: {xml}");
        let mut z = zip::ZipArchive::new(Cursor::new(package(&body))).unwrap();
        let mut before = String::new();
        z.by_name("[Content_Types].xml")
            .unwrap()
            .read_to_string(&mut before)
            .unwrap();
        assert_eq!(part(&out, "[Content_Types].xml"), before);
    }

    #[test]
    fn a_table_row_repeats_per_item_and_missing_values_are_empty() {
        let row = |cells: &[&str]| {
            let cells: String = cells
                .iter()
                .map(|c| format!("<w:tc>{}</w:tc>", p(&[c])))
                .collect();
            format!("<w:tr>{cells}</w:tr>")
        };
        let body = format!(
            "<w:tbl>{}{}{}</w:tbl>{}",
            row(&["No", "Price"]),
            row(&[
                "{{data.orders.number}}",
                "{{data.orders.price}} {{data.currency}}"
            ]),
            row(&["Total", "{{data.total}}{{data.missing}}"]),
            p(&["Items: {{#data.orders}}{{number}};{{/data.orders}}"]),
        );
        let data = json!({"data": {"currency": "RUB", "total": 54, "orders": [
            {"number": "one", "price": 12}, {"number": "two", "price": 42.5}]}});
        let out = fill(&package(&body), &data).unwrap();
        assert_eq!(
            paragraphs(&out),
            vec![
                "No",
                "Price",
                "one",
                "12 RUB",
                "two",
                "42.5 RUB",
                "Total",
                "54",
                "Items: one;two;"
            ]
        );
        let empty = json!({"data": {"orders": []}});
        let out = fill(&package(&body), &empty).unwrap();
        assert_eq!(
            paragraphs(&out),
            vec!["No", "Price", "Total", "", "Items: "]
        );
    }

    #[test]
    fn list_items_repeat_nested_tables_repeat_inside_and_lines_break() {
        let body = format!(
            "{}<w:tbl><w:tr><w:tc>{}<w:tbl><w:tr><w:tc>{}</w:tc></w:tr></w:tbl></w:tc></w:tr></w:tbl>",
            p(&["- {{items.title}}"]),
            p(&["{{groups.name}}"]),
            p(&["{{groups.rows.v}}"]),
        );
        let data = json!({
            "items": [{"title": "first"}, {"title": "second\nline"}],
            "groups": [{"name": "A", "rows": [{"v": 1}, {"v": 2}]}, {"name": "B", "rows": [{"v": 3}]}],
        });
        let out = fill(&package(&body), &data).unwrap();
        assert_eq!(
            paragraphs(&out),
            vec!["- first", "- secondline", "A", "1", "2", "B", "3"]
        );
        assert!(part(&out, "word/document.xml").contains("<w:br />"));
    }

    #[test]
    fn not_a_package_is_an_error() {
        let e = fill(b"plain text", &json!({})).unwrap_err();
        assert_eq!(e.code, "INTERNAL");
    }
}
