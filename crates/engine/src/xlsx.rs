//! Generate document for Excel templates (`.xlsx`, spec 03 §7.3.8): the `{{ }}` tags of the
//! text templates (`template.rs`) in the cells of every sheet, and Bpium's repetition of a
//! row over an array of objects.
//!
//! - A cell whose text (a shared or inline string) holds tags is filled as a text template.
//!   A cell that is exactly one tag of a number or a boolean becomes that number or boolean,
//!   so sums and formats work; anything else becomes text. The cell keeps its style.
//! - A row whose tags go through an array of objects (`{{orders.price}}` with `orders:
//!   [{price: …}, …]`) is repeated once per item, and the rows below move down. Consecutive
//!   rows through the same array are one range, repeated together per item; inside it, rows
//!   through an array of the item (`{{orders.items.name}}`) repeat within each copy (Bpium
//!   3.0.1's ranges with nested arrays), to any depth. An empty array leaves its rows once
//!   with those tags empty, so that the formulas over them stay valid (`SUM` of an empty row
//!   is 0).
//! - Formulas follow: a reference below a repeated row moves with it; a reference into the
//!   copy of a range the formula is in points there (a row's own cells, an order's items from
//!   its header, the header from an item); otherwise a cell or a range's start is the first
//!   copy and a range's end the last, so `SUM(C5:C5)` grows over all the copies. Merged
//!   cells, the sheet's dimension, conditional formats, data validations and hyperlinks move
//!   too; a one-row merge inside a repeated row is repeated. Excel recalculates every formula
//!   on opening (`fullCalcOnLoad`), and the calculation chain, which may name moved cells, is
//!   left out.
//! - Not followed: references from other sheets, defined names, tables, charts and pivot
//!   tables over the moved rows; merges over several rows of a repeated range are stretched,
//!   not repeated. A repeated row with a formula filled down in Excel (a shared formula) is
//!   refused rather than copied wrongly. More rows than Excel's 1,048,576 are `LIMIT`.

use kartoteka_bpmn::xml::{self, XElem, XNode};
use serde_json::Value;

use crate::office::{self, local, prefix, set_attr, set_text, Edit};
use crate::template;
use crate::Failure;

const KIND: &str = "xlsx";
/// Excel's last row.
const MAX_ROW: i64 = 1_048_576;

/// Fills a `.xlsx` template with `data`; returns the new workbook's bytes.
pub(crate) fn fill(template: &[u8], data: &Value) -> Result<Vec<u8>, Failure> {
    let shared = match office::part(template, "xl/sharedStrings.xml", KIND)? {
        Some(bytes) => shared_strings(&office::parse(&bytes, "xl/sharedStrings.xml", KIND)?.root),
        None => Vec::new(),
    };
    office::rewrite(template, KIND, unpacked, |name, bytes| {
        if name == "xl/calcChain.xml" {
            return Ok(Edit::Drop);
        }
        let Some(bytes) = bytes else {
            return Ok(Edit::Keep);
        };
        let mut doc = office::parse(&bytes, name, KIND)?;
        if name == "xl/workbook.xml" {
            recalculate_on_load(&mut doc.root);
        } else if name == "[Content_Types].xml" || name == "xl/_rels/workbook.xml.rels" {
            doc.root.children.retain(|c| !names_calc_chain(c));
        } else {
            fill_sheet(&mut doc.root, &shared, data)?;
        }
        Ok(Edit::Write(xml::write(&doc).into_bytes()))
    })
}

/// The parts read and rewritten: the sheets, the workbook, and the two lists that name the
/// calculation chain.
fn unpacked(name: &str) -> bool {
    name == "xl/workbook.xml"
        || name == "[Content_Types].xml"
        || name == "xl/_rels/workbook.xml.rels"
        || name
            .strip_prefix("xl/worksheets/")
            .is_some_and(|f| !f.contains('/') && f.ends_with(".xml"))
}

/// The plain text of each shared string, rich-text runs joined (phonetic hints left out).
fn shared_strings(sst: &XElem) -> Vec<String> {
    sst.elems()
        .filter(|e| local(&e.name) == "si")
        .map(|si| {
            let mut s = String::new();
            string_text(si, &mut s);
            s
        })
        .collect()
}

fn string_text(e: &XElem, out: &mut String) {
    for c in e.elems() {
        match local(&c.name) {
            "t" => out.push_str(&c.text()),
            "rPh" => {}
            _ => string_text(c, out),
        }
    }
}

/// Asks Excel to recalculate every formula when it opens the workbook.
fn recalculate_on_load(wb: &mut XElem) {
    if let Some(calc) = wb.children.iter_mut().find_map(|c| match c {
        XNode::Elem(e) if local(&e.name) == "calcPr" => Some(e),
        _ => None,
    }) {
        set_attr(calc, "fullCalcOnLoad", "1".to_owned());
        return;
    }
    // `calcPr` follows these in the schema's order.
    let before = [
        "sheets",
        "functionGroups",
        "externalReferences",
        "definedNames",
    ];
    let at = wb
        .children
        .iter()
        .rposition(|c| matches!(c, XNode::Elem(e) if before.contains(&local(&e.name))))
        .map_or(wb.children.len(), |i| i + 1);
    let name = format!("{}calcPr", prefix(&wb.name));
    wb.children.insert(
        at,
        XNode::Elem(XElem::new(name).attr("fullCalcOnLoad", "1")),
    );
}

/// True for the content-type override or relationship of the calculation chain.
fn names_calc_chain(n: &XNode) -> bool {
    let XNode::Elem(e) = n else { return false };
    e.get("PartName") == Some("/xl/calcChain.xml")
        || e.get("Type").is_some_and(|t| t.ends_with("/calcChain"))
}

// ----- rows ------------------------------------------------------------------------------

/// The block copies an output row lies in, outermost first: (the template row a repeated
/// block starts on, which copy of the block).
type Chain = Vec<(i64, usize)>;

/// Which copy of a repeated row a reference means when several could.
#[derive(Clone, Copy)]
enum End {
    /// The first (a single cell, or the start of a range).
    First,
    /// The last (the end of a range: it grows over all the copies).
    Last,
}

/// Where the template's rows went: the copies of each row between the first and the last
/// row of the template (empty rows between included), each with its number in the new sheet
/// and its block copies; rows below the last move down by `delta`.
#[derive(Default)]
struct Layout {
    /// Per template row: every copy's new number and block copies, in sheet order.
    copies: std::collections::HashMap<i64, Vec<(i64, Chain)>>,
    /// An index of `copies` by (template row, block copies): a copy's references to its own
    /// row (the common case) are found without scanning every copy of the row, which would
    /// be quadratic in a long repeated table.
    exact: std::collections::HashMap<(i64, Chain), i64>,
    /// The template's first row; rows above it do not move.
    first: i64,
    /// How far rows below the template's last row move.
    delta: i64,
}

impl Layout {
    fn add(&mut self, template: i64, out: i64, chain: &Chain) {
        self.copies
            .entry(template)
            .or_default()
            .push((out, chain.clone()));
        self.exact.insert((template, chain.clone()), out);
    }

    /// True when no row moved.
    fn is_identity(&self) -> bool {
        self.delta == 0 && self.copies.values().all(|c| c.len() == 1)
    }

    /// The new number of the template's row `t` as seen from a row in `context`: its copy
    /// in the same block copies as far as they are shared, else the first or last of them.
    fn resolve(&self, t: i64, context: &[(i64, usize)], end: End) -> i64 {
        let Some(list) = self.copies.get(&t) else {
            return if t < self.first { t } else { t + self.delta };
        };
        if let Some(out) = self.exact.get(&(t, context.to_vec())) {
            return *out;
        }
        let candidates = list
            .iter()
            .filter(|(_, chain)| shares_copies(chain, context))
            .map(|(out, _)| *out);
        let picked = match end {
            End::First => candidates.min(),
            End::Last => candidates.max(),
        };
        picked.unwrap_or(list[0].0)
    }
}

/// Whether a copy lies in the same copy of every block it shares with `context`.
fn shares_copies(chain: &[(i64, usize)], context: &[(i64, usize)]) -> bool {
    for (a, b) in chain.iter().zip(context) {
        if a.0 != b.0 {
            return true;
        }
        if a.1 != b.1 {
            return false;
        }
    }
    true
}

/// A row of the template: its number, its XML and the text of its string cells.
struct Row {
    number: i64,
    elem: XElem,
    text: String,
}

/// What the walk over the template's rows hands on for each new row: the template row's
/// index (`None` for an empty row between two rows), its number, the new number, its block
/// copies and the data its tags read.
type Emit<'e> = dyn FnMut(Option<usize>, i64, i64, &Chain, &Value) -> Result<(), Failure> + 'e;

/// Walks `rows[range]` (after the template's row `prev`) in `scope`, numbering the new rows
/// from `next`. A run of rows whose tags go through the same array of objects is a block,
/// walked once per item with the item in the array's place, so the rows inside that go
/// through an array of the item (`{{orders.items.name}}`) repeat within each copy.
fn walk(
    rows: &[Row],
    range: std::ops::Range<usize>,
    mut prev: i64,
    scope: &mut Value,
    chain: &mut Chain,
    next: &mut i64,
    emit: &mut Emit<'_>,
) -> Result<(), Failure> {
    let mut i = range.start;
    while i < range.end {
        let row = &rows[i];
        for gap in prev + 1..row.number {
            put(emit, None, gap, next, chain, scope)?;
        }
        let Some((path, _)) = template::repetition(&row.text, scope) else {
            put(emit, Some(i), row.number, next, chain, scope)?;
            prev = row.number;
            i += 1;
            continue;
        };
        let mut j = i + 1;
        while j < range.end
            && template::repetition(&rows[j].text, scope).is_some_and(|(p, _)| p == path)
        {
            j += 1;
        }
        let mut k = 0;
        template::for_each_item(scope, &path, true, |item| {
            chain.push((row.number, k));
            k += 1;
            let done = walk(rows, i..j, row.number - 1, item, chain, next, emit);
            chain.pop();
            done
        })?;
        prev = rows[j - 1].number;
        i = j;
    }
    Ok(())
}

/// Hands on the new row `next` (and counts it), refusing rows past Excel's last.
fn put(
    emit: &mut Emit<'_>,
    index: Option<usize>,
    template_row: i64,
    next: &mut i64,
    chain: &Chain,
    scope: &Value,
) -> Result<(), Failure> {
    if *next > MAX_ROW {
        return Err(Failure::new(
            "LIMIT",
            format!("the sheet would have more than {MAX_ROW} rows"),
        ));
    }
    emit(index, template_row, *next, chain, scope)?;
    *next += 1;
    Ok(())
}

fn fill_sheet(ws: &mut XElem, shared: &[String], data: &Value) -> Result<(), Failure> {
    let Some(sheet_data) = ws.children.iter_mut().find_map(|c| match c {
        XNode::Elem(e) if local(&e.name) == "sheetData" => Some(e),
        _ => None,
    }) else {
        return Ok(());
    };
    let mut rows = Vec::new();
    let mut others = Vec::new();
    let mut number = 0;
    for c in std::mem::take(&mut sheet_data.children) {
        match c {
            XNode::Elem(e) if local(&e.name) == "row" => {
                number = e
                    .get("r")
                    .and_then(|r| r.parse::<i64>().ok())
                    .filter(|r| *r > number)
                    .unwrap_or(number + 1);
                let mut text = String::new();
                for cell in e.elems() {
                    if let Some(t) = cell_text(cell, shared) {
                        text.push_str(&t);
                    }
                }
                rows.push(Row {
                    number,
                    elem: e,
                    text,
                });
            }
            other => others.push(other),
        }
    }
    let Some(first) = rows.first().map(|r| r.number) else {
        sheet_data.children = others;
        return Ok(());
    };
    // First where every row goes, then the rows themselves, their formulas moved by that.
    let mut scope = data.clone();
    let walk_all = |scope: &mut Value, emit: &mut Emit<'_>| -> Result<i64, Failure> {
        let mut next = first;
        walk(
            &rows,
            0..rows.len(),
            first - 1,
            scope,
            &mut Vec::new(),
            &mut next,
            emit,
        )?;
        Ok(next)
    };
    let mut layout = Layout {
        first,
        ..Layout::default()
    };
    let next = walk_all(&mut scope, &mut |_, t, out, chain, _| {
        layout.add(t, out, chain);
        Ok(())
    })?;
    layout.delta = next - 1 - rows.last().map_or(first, |r| r.number);
    for row in &rows {
        if layout.copies.get(&row.number).is_some_and(|c| c.len() > 1)
            && has_shared_formula(&row.elem)
        {
            return Err(Failure::internal(format!(
                "row {} of the .xlsx template repeats but holds a formula filled down in Excel \
                 (a shared formula): enter the formula in its cell again",
                row.number
            )));
        }
    }
    let mut out = others;
    walk_all(&mut scope, &mut |index, _, number, chain, scope| {
        let Some(row) = index.map(|i| &rows[i]) else {
            return Ok(());
        };
        let mut e = row.elem.clone();
        set_attr(&mut e, "r", number.to_string());
        for c in &mut e.children {
            if let XNode::Elem(cell) = c {
                if local(&cell.name) == "c" {
                    fill_cell(cell, shared, scope, &layout, number, chain)?;
                }
            }
        }
        out.push(XNode::Elem(e));
        Ok(())
    })?;
    sheet_data.children = out;
    if !layout.is_identity() {
        move_sheet_refs(ws, &layout);
    }
    Ok(())
}

/// True when a cell of the row takes part in a shared formula (Excel's fill-down), which
/// names its cells by offsets from one master cell and cannot simply be copied.
fn has_shared_formula(row: &XElem) -> bool {
    row.elems().any(|c| {
        c.elems()
            .any(|f| local(&f.name) == "f" && f.get("t") == Some("shared"))
    })
}

/// The text of a cell that holds a string (shared or inline).
fn cell_text(cell: &XElem, shared: &[String]) -> Option<String> {
    match cell.get("t") {
        Some("s") => {
            let v = cell.elems().find(|e| local(&e.name) == "v")?.text();
            shared.get(v.trim().parse::<usize>().ok()?).cloned()
        }
        Some("inlineStr") => {
            let is = cell.elems().find(|e| local(&e.name) == "is")?;
            let mut s = String::new();
            string_text(is, &mut s);
            Some(s)
        }
        _ => None,
    }
}

/// Fills one cell of the new row `number` (in the block copies `chain`), and moves its
/// formula.
fn fill_cell(
    cell: &mut XElem,
    shared: &[String],
    scope: &Value,
    layout: &Layout,
    number: i64,
    chain: &Chain,
) -> Result<(), Failure> {
    if let Some(r) = cell.get("r").and_then(split_ref) {
        set_attr(cell, "r", format!("{}{number}", r.0));
    }
    if let Some(text) = cell_text(cell, shared).filter(|t| t.contains("{{")) {
        let prefix = prefix(&cell.name).to_owned();
        let whole = text
            .trim()
            .strip_prefix("{{")
            .and_then(|t| t.strip_suffix("}}"))
            .filter(|t| !t.contains("{{") && !t.contains("}}"))
            .map(|t| t.trim())
            .filter(|t| !t.starts_with(['#', '^', '/']));
        let value = whole.and_then(|t| {
            let segs: Vec<&str> = t.split('.').map(str::trim).collect();
            template::walk(scope, &segs)
        });
        cell.attrs.retain(|(n, _)| n != "t");
        match value {
            Some(Value::Number(n)) => {
                cell.children = vec![XNode::Elem(
                    XElem::new(format!("{prefix}v")).child(XNode::Text(n.to_string())),
                )];
            }
            Some(Value::Bool(b)) => {
                set_attr(cell, "t", "b".to_owned());
                cell.children = vec![XNode::Elem(
                    XElem::new(format!("{prefix}v"))
                        .child(XNode::Text(if *b { "1" } else { "0" }.to_owned())),
                )];
            }
            _ => {
                let filled = template::render(&text, scope, false)?;
                set_attr(cell, "t", "inlineStr".to_owned());
                let mut t = XElem::new(format!("{prefix}t"));
                set_text(&mut t, filled);
                cell.children = vec![XNode::Elem(
                    XElem::new(format!("{prefix}is")).child(XNode::Elem(t)),
                )];
            }
        }
        return Ok(());
    }
    let mut has_formula = false;
    for c in &mut cell.children {
        if let XNode::Elem(f) = c {
            if local(&f.name) == "f" {
                has_formula = true;
                let text = f.text();
                if !text.is_empty() {
                    f.children = vec![XNode::Text(move_formula(&text, layout, chain))];
                }
                if let Some(r) = f.get("ref").map(|r| move_ranges(r, layout)) {
                    set_attr(f, "ref", r);
                }
            }
        }
    }
    if has_formula && !layout.is_identity() {
        // The cached result may be stale; Excel computes it again on opening.
        cell.children
            .retain(|c| !matches!(c, XNode::Elem(v) if local(&v.name) == "v"));
    }
    Ok(())
}

/// Moves the references of the sheet's other parts: the dimension, merged cells (a merge
/// within a repeated row repeats), conditional formats, data validations and hyperlinks.
fn move_sheet_refs(ws: &mut XElem, layout: &Layout) {
    for c in &mut ws.children {
        let XNode::Elem(e) = c else { continue };
        match local(&e.name) {
            "dimension" => move_attr(e, "ref", layout),
            "mergeCells" => {
                let mut merges = Vec::new();
                for m in std::mem::take(&mut e.children) {
                    let XNode::Elem(mut m) = m else {
                        merges.push(m);
                        continue;
                    };
                    let within = m.get("ref").and_then(range_rows).and_then(|(a, b)| {
                        (a == b)
                            .then(|| layout.copies.get(&a).filter(|c| c.len() > 1))
                            .flatten()
                    });
                    match (within, m.get("ref").map(str::to_owned)) {
                        (Some(copies), Some(r)) => {
                            for (number, _) in copies {
                                let mut copy = m.clone();
                                set_attr(&mut copy, "ref", set_rows(&r, *number));
                                merges.push(XNode::Elem(copy));
                            }
                        }
                        _ => {
                            move_attr(&mut m, "ref", layout);
                            merges.push(XNode::Elem(m));
                        }
                    }
                }
                let count = merges
                    .iter()
                    .filter(|m| matches!(m, XNode::Elem(_)))
                    .count();
                set_attr(e, "count", count.to_string());
                e.children = merges;
            }
            "conditionalFormatting" | "dataValidations" | "hyperlinks" => {
                move_attr(e, "sqref", layout);
                for child in &mut e.children {
                    if let XNode::Elem(child) = child {
                        move_attr(child, "sqref", layout);
                        move_attr(child, "ref", layout);
                    }
                }
            }
            _ => {}
        }
    }
}

fn move_attr(e: &mut XElem, name: &str, layout: &Layout) {
    if let Some(v) = e.get(name).map(|v| move_ranges(v, layout)) {
        set_attr(e, name, v);
    }
}

/// A space-separated list of cells and ranges (`A1:C5 E7`) with its rows moved, as seen from
/// outside every repeated block.
fn move_ranges(list: &str, layout: &Layout) -> String {
    list.split(' ')
        .map(|r| move_formula(r, layout, &[]))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The rows of a range `A5:C7` (or a cell).
fn range_rows(r: &str) -> Option<(i64, i64)> {
    let (a, b) = r.split_once(':').unwrap_or((r, r));
    Some((split_ref(a)?.1, split_ref(b)?.1))
}

/// A range (or cell) with both ends on row `row`.
fn set_rows(r: &str, row: i64) -> String {
    r.split(':')
        .map(|end| match split_ref(end) {
            Some((col, _)) => format!("{col}{row}"),
            None => end.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// `B12` → (`B`, 12); `$B$12` → (`$B$`, 12).
fn split_ref(r: &str) -> Option<(&str, i64)> {
    let digits = r.len() - r.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (col, row) = r.split_at(r.len() - digits);
    let letters = col.trim_matches('$');
    let ok = !letters.is_empty()
        && letters.len() <= 3
        && letters.chars().all(|c| c.is_ascii_uppercase())
        && col.strip_prefix('$').unwrap_or(col).trim_end_matches('$') == letters;
    let row: i64 = row.parse().ok()?;
    (ok && (1..=MAX_ROW).contains(&row)).then_some((col, row))
}

/// A formula with the rows of its same-sheet cell references moved, written in a row of the
/// block copies `context`: a reference to a row of the same copy points at it (a copy's own
/// row, its block's header or items); otherwise a cell or the start of a range is the first
/// copy and the end of a range the last.
fn move_formula(f: &str, layout: &Layout, context: &[(i64, usize)]) -> String {
    let chars: Vec<char> = f.chars().collect();
    let mut out = String::with_capacity(f.len());
    let mut i = 0;
    let mut in_string = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' {
            in_string = !in_string;
            out.push(c);
            i += 1;
            continue;
        }
        let starts_token = !in_string
            && (c == '$' || c.is_ascii_uppercase())
            && (i == 0 || !is_name_char(chars[i - 1]));
        if !starts_token {
            out.push(c);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (chars[j] == '$' || chars[j].is_ascii_alphanumeric()) {
            j += 1;
        }
        let token: String = chars[i..j].iter().collect();
        let next = chars.get(j).copied();
        let is_ref = !matches!(next, Some('(' | '!' | '_' | '.')) && split_ref(&token).is_some();
        match split_ref(&token).filter(|_| is_ref) {
            Some((col, row)) => {
                let range_end = i > 0 && chars[i - 1] == ':';
                let end = if range_end { End::Last } else { End::First };
                let moved = layout.resolve(row, context, end);
                out.push_str(col);
                out.push_str(&moved.to_string());
            }
            None => out.push_str(&token),
        }
        i = j;
    }
    out
}

/// Characters that continue a name, a sheet name (`Sheet2!`) or a number before a token.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '!' | '\'' | '$')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Rows 1–10 of a template where row 5 repeated 3 times and row 8 twice.
    fn layout() -> Layout {
        let mut l = Layout {
            first: 1,
            ..Layout::default()
        };
        let mut out = 1;
        for t in 1..=10 {
            let n = match t {
                5 => 3,
                8 => 2,
                _ => 1,
            };
            for k in 0..n {
                let chain = if n > 1 { vec![(t, k)] } else { vec![] };
                l.add(t, out, &chain);
                out += 1;
            }
        }
        l.delta = out - 1 - 10;
        l
    }

    #[test]
    fn formulas_follow_the_rows() {
        let m = layout();
        assert_eq!(move_formula("SUM(C5:C5)", &m, &[]), "SUM(C5:C7)");
        assert_eq!(
            move_formula("SUM($C$2:C5)*B9+A1", &m, &[]),
            "SUM($C$2:C7)*B12+A1"
        );
        assert_eq!(move_formula("B5*C5", &m, &[(5, 2)]), "B7*C7");
        assert_eq!(
            move_formula("IF(A6=\"C5\",LOG10(D6),Sheet2!C9)", &m, &[]),
            "IF(A8=\"C5\",LOG10(D8),Sheet2!C9)"
        );
        assert_eq!(move_ranges("A1:C5 E9", &m), "A1:C7 E12");
        assert_eq!(move_formula("SUM(A8:A8)", &m, &[]), "SUM(A10:A11)");
        // Below the template's last row, rows move by everything added above.
        assert_eq!(move_formula("A20", &m, &[]), "A23");
    }

    /// The merged ranges of a sheet.
    fn merges_of(ws: &XElem) -> Vec<&str> {
        ws.elems()
            .find(|e| e.name == "mergeCells")
            .unwrap()
            .elems()
            .filter_map(|m| m.get("ref"))
            .collect()
    }

    /// The cells of the first sheet, each `ref type value-or-=formula`.
    fn cells_of(out: &[u8]) -> (XElem, Vec<String>) {
        let sheet = office::part(out, "xl/worksheets/sheet1.xml", KIND)
            .unwrap()
            .unwrap();
        let ws = xml::parse(&sheet).unwrap().root;
        let mut cells = Vec::new();
        for row in ws.elems().find(|e| e.name == "sheetData").unwrap().elems() {
            for c in row.elems() {
                let mut value = String::new();
                string_text(c, &mut value);
                let f = c.elems().find(|e| e.name == "f").map(XElem::text);
                let v = c.elems().find(|e| e.name == "v").map(XElem::text);
                cells.push(format!(
                    "{} {} {}",
                    c.get("r").unwrap(),
                    c.get("t").unwrap_or("n"),
                    f.map(|f| format!("={f}")).or(v).unwrap_or(value)
                ));
            }
        }
        (ws, cells)
    }

    fn cell(r: &str, xml: &str) -> String {
        format!("<c r=\"{r}\"{xml}</c>")
    }

    /// A workbook of one sheet over `rows`, with `strings` as its shared strings and a
    /// calculation chain.
    fn workbook(strings: &[&str], rows: &str, extra: &str) -> Vec<u8> {
        use std::io::{Cursor, Write};
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        let mut put = |name: &str, body: String| {
            w.start_file(name, o).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        };
        put("[Content_Types].xml", "<Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Override PartName=\"/xl/workbook.xml\" ContentType=\"a\"/><Override PartName=\"/xl/calcChain.xml\" ContentType=\"b\"/></Types>".into());
        put("xl/_rels/workbook.xml.rels", "<Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet\" Target=\"worksheets/sheet1.xml\"/><Relationship Id=\"rId9\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain\" Target=\"calcChain.xml\"/></Relationships>".into());
        put("xl/workbook.xml", "<workbook xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheets><sheet name=\"Лист1\" sheetId=\"1\"/></sheets></workbook>".into());
        put("xl/calcChain.xml", "<calcChain/>".into());
        let si: String = strings
            .iter()
            .map(|s| format!("<si><t>{s}</t></si>"))
            .collect();
        put("xl/sharedStrings.xml", format!("<sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">{si}</sst>"));
        put("xl/worksheets/sheet1.xml", format!("<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><dimension ref=\"A1:C4\"/><sheetData>{rows}</sheetData>{extra}</worksheet>"));
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn rows_repeat_cells_fill_and_the_rows_below_move() {
        let strings = [
            "Счёт для {{client.name}}",
            "{{orders.name}}",
            "{{orders.price}}",
            "Итого",
            "{{orders.note}}!",
        ];
        let rows = [
            format!("<row r=\"1\">{}</row>", cell("A1", " t=\"s\"><v>0</v>")),
            format!(
                "<row r=\"3\">{}{}{}{}</row>",
                cell("A3", " t=\"s\"><v>1</v>"),
                cell("B3", " t=\"s\" s=\"4\"><v>2</v>"),
                cell("C3", "><f>B3*2</f><v>0</v>"),
                cell("D3", " t=\"s\"><v>4</v>"),
            ),
            format!(
                "<row r=\"4\">{}{}</row>",
                cell("A4", " t=\"s\"><v>3</v>"),
                cell("B4", "><f>SUM(B3:B3)</f><v>0</v>"),
            ),
        ]
        .concat();
        let extra = "<mergeCells count=\"2\"><mergeCell ref=\"D3:E3\"/><mergeCell ref=\"A4:A5\"/></mergeCells>";
        let data = json!({
            "client": {"name": "Ромашка"},
            "orders": [{"name": "Чай", "price": 12.5, "note": true}, {"name": "Сахар", "price": 3}],
        });
        let out = fill(&workbook(&strings, &rows, extra), &data).unwrap();
        let (ws, cells) = cells_of(&out);
        assert_eq!(
            cells,
            vec![
                "A1 inlineStr Счёт для Ромашка",
                "A3 inlineStr Чай",
                "B3 n 12.5",
                "C3 n =B3*2",
                "D3 inlineStr true!",
                "A4 inlineStr Сахар",
                "B4 n 3",
                "C4 n =B4*2",
                "D4 inlineStr !",
                // No tag: the shared string stays.
                "A5 s 3",
                "B5 n =SUM(B3:B4)",
            ]
        );
        let styled = ws
            .elems()
            .find(|e| e.name == "sheetData")
            .unwrap()
            .elems()
            .nth(1)
            .unwrap();
        assert_eq!(styled.elems().nth(1).unwrap().get("s"), Some("4"));
        let merges = merges_of(&ws);
        assert_eq!(merges, vec!["D3:E3", "D4:E4", "A5:A6"]);
        assert_eq!(
            ws.elems()
                .find(|e| e.name == "dimension")
                .unwrap()
                .get("ref"),
            Some("A1:C5")
        );
        let wb = office::part(&out, "xl/workbook.xml", KIND)
            .unwrap()
            .unwrap();
        assert!(String::from_utf8(wb)
            .unwrap()
            .contains("fullCalcOnLoad=\"1\""));
        assert!(office::part(&out, "xl/calcChain.xml", KIND)
            .unwrap()
            .is_none());
        for part in ["[Content_Types].xml", "xl/_rels/workbook.xml.rels"] {
            let text = String::from_utf8(office::part(&out, part, KIND).unwrap().unwrap()).unwrap();
            assert!(!text.contains("calcChain"), "{part}: {text}");
        }
    }

    /// Bpium 3.0.1's ranges with nested arrays: the order's rows repeat together, its items
    /// within each copy; an order's formula sums its own items, the total all of them, and an
    /// order without items keeps one empty item row.
    #[test]
    fn row_ranges_repeat_with_their_nested_arrays() {
        let strings = [
            "Заказы",
            "{{orders.number}}",
            "{{orders.items.name}}",
            "{{orders.items.qty}}",
            "Итого",
        ];
        let s = |r: &str, i: usize| cell(r, &format!(" t=\"s\"><v>{i}</v>"));
        let f = |r: &str, f: &str| cell(r, &format!("><f>{f}</f><v>0</v>"));
        let rows = [
            format!("<row r=\"1\">{}</row>", s("A1", 0)),
            format!("<row r=\"2\">{}{}</row>", s("A2", 1), f("B2", "SUM(C3:C3)")),
            format!(
                "<row r=\"3\">{}{}{}</row>",
                s("A3", 2),
                s("B3", 3),
                f("C3", "B3*2")
            ),
            format!(
                "<row r=\"4\">{}{}</row>",
                s("A4", 4),
                f("B4", "SUM(C3:C3)+B2")
            ),
        ]
        .concat();
        let extra = "<mergeCells count=\"1\"><mergeCell ref=\"D3:E3\"/></mergeCells>";
        let data = json!({"orders": [
            {"number": "A-1", "items": [{"name": "чай", "qty": 2}, {"name": "сахар", "qty": 1}]},
            {"number": "A-2", "items": [{"name": "соль", "qty": 5}]},
            {"number": "A-3", "items": []},
        ]});
        let out = fill(&workbook(&strings, &rows, extra), &data).unwrap();
        let (ws, cells) = cells_of(&out);
        assert_eq!(
            cells,
            vec![
                "A1 s 0",
                "A2 inlineStr A-1",
                "B2 n =SUM(C3:C4)",
                "A3 inlineStr чай",
                "B3 n 2",
                "C3 n =B3*2",
                "A4 inlineStr сахар",
                "B4 n 1",
                "C4 n =B4*2",
                "A5 inlineStr A-2",
                "B5 n =SUM(C6:C6)",
                "A6 inlineStr соль",
                "B6 n 5",
                "C6 n =B6*2",
                "A7 inlineStr A-3",
                "B7 n =SUM(C8:C8)",
                "A8 inlineStr ",
                "B8 inlineStr ",
                "C8 n =B8*2",
                "A9 s 4",
                "B9 n =SUM(C3:C8)+B2",
            ]
        );
        let merges = merges_of(&ws);
        assert_eq!(merges, vec!["D3:E3", "D4:E4", "D6:E6", "D8:E8"]);
    }

    #[test]
    fn more_rows_than_excel_has_are_limit() {
        // Excel's last row repeated twice.
        let rows = format!(
            "<row r=\"{MAX_ROW}\">{}</row>",
            cell(&format!("A{MAX_ROW}"), " t=\"s\"><v>0</v>")
        );
        let items = json!({"items": [{"x": 1}, {"x": 2}]});
        let e = fill(&workbook(&["{{items.x}}"], &rows, ""), &items).unwrap_err();
        assert_eq!(e.code, "LIMIT", "{}", e.message);
    }

    #[test]
    fn a_repeated_row_with_a_shared_formula_is_refused_and_deep_xml_is_limit() {
        let rows = format!(
            "<row r=\"1\">{}{}</row>",
            cell("A1", " t=\"s\"><v>0</v>"),
            cell(
                "B1",
                "><f t=\"shared\" ref=\"B1:B3\" si=\"0\">A1*2</f><v>0</v>"
            ),
        );
        let data = json!({"items": [{"x": 1}, {"x": 2}]});
        let e = fill(&workbook(&["{{items.x}}"], &rows, ""), &data).unwrap_err();
        assert!(e.message.contains("shared formula"), "{}", e.message);
        let deep = format!("{}{}", "<x>".repeat(600), "</x>".repeat(600));
        let e = fill(&workbook(&["a"], &deep, ""), &data).unwrap_err();
        assert_eq!(e.code, "LIMIT");
    }

    #[test]
    fn an_empty_array_leaves_its_row_once_with_empty_tags() {
        let rows = [
            format!("<row r=\"1\">{}</row>", cell("A1", " t=\"s\"><v>0</v>")),
            format!(
                "<row r=\"2\">{}</row>",
                cell("A2", "><f>COUNTA(A1:A1)</f><v>1</v>")
            ),
        ]
        .concat();
        let out = fill(
            &workbook(&["{{items.x}}"], &rows, ""),
            &json!({"items": []}),
        )
        .unwrap();
        let sheet = office::part(&out, "xl/worksheets/sheet1.xml", KIND)
            .unwrap()
            .unwrap();
        let text = String::from_utf8(sheet).unwrap();
        assert!(!text.contains("{{"), "{text}");
        assert!(text.contains("<row r=\"1\">"), "{text}");
        assert!(text.contains("COUNTA(A1:A1)"), "{text}");
        assert!(
            text.contains("<t xml:space=\"preserve\" />")
                || text.contains("<t xml:space=\"preserve\"></t>"),
            "{text}"
        );
    }
}
