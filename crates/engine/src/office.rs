//! Office packages (the zip files of `.docx` and `.xlsx`) for Generate document: read one
//! part, or copy a package while some parts are rewritten or left out.

use std::io::{Cursor, Read, Write};

use kartoteka_bpmn::xml::{XElem, XNode};

use crate::Failure;

/// The most one XML part of a template may hold unpacked (a zip bomb is refused here).
const MAX_PART_BYTES: u64 = 64 << 20;
/// The most all the parts a package rewrite unpacks may hold together.
const MAX_UNPACKED_BYTES: usize = 256 << 20;

/// What becomes of a part when a package is copied.
pub(crate) enum Edit {
    /// Copied as it is, without unpacking.
    Keep,
    /// Replaced by these bytes.
    Write(Vec<u8>),
    /// Left out.
    Drop,
}

fn bad(kind: &str, e: &dyn std::fmt::Display) -> Failure {
    Failure::internal(format!("the .{kind} file: {e}"))
}

/// Reads one part of an opened package, within [`MAX_PART_BYTES`].
fn read<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    i: usize,
    kind: &str,
) -> Result<Vec<u8>, Failure> {
    let mut entry = zip.by_index(i).map_err(|e| bad(kind, &e))?;
    if entry.size() > MAX_PART_BYTES {
        return Err(Failure::new(
            "LIMIT",
            format!("a part of the .{kind} file is larger than {MAX_PART_BYTES} bytes"),
        ));
    }
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(MAX_PART_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(kind, &e))?;
    Ok(bytes)
}

/// The bytes of the part `name` of a package (`kind` names it in errors), if it has one.
pub(crate) fn part(package: &[u8], name: &str, kind: &str) -> Result<Option<Vec<u8>>, Failure> {
    let mut zip = zip::ZipArchive::new(Cursor::new(package)).map_err(|e| bad(kind, &e))?;
    match zip.index_for_name(name) {
        Some(i) => read(&mut zip, i, kind).map(Some),
        None => Ok(None),
    }
}

/// Copies a package; `edit` gets each part's name and, when `unpack` says so for that name,
/// its bytes, and decides what becomes of it.
pub(crate) fn rewrite(
    package: &[u8],
    kind: &str,
    unpack: impl Fn(&str) -> bool,
    mut edit: impl FnMut(&str, Option<Vec<u8>>) -> Result<Edit, Failure>,
) -> Result<Vec<u8>, Failure> {
    let mut zip = zip::ZipArchive::new(Cursor::new(package)).map_err(|e| bad(kind, &e))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut unpacked = 0usize;
    for i in 0..zip.len() {
        let name = zip
            .by_index_raw(i)
            .map_err(|e| bad(kind, &e))?
            .name()
            .map_err(|e| bad(kind, &e))?
            .into_owned();
        let bytes = if unpack(&name) {
            let bytes = read(&mut zip, i, kind)?;
            unpacked += bytes.len();
            if unpacked > MAX_UNPACKED_BYTES {
                return Err(Failure::new(
                    "LIMIT",
                    format!("the .{kind} file unpacks to more than {MAX_UNPACKED_BYTES} bytes"),
                ));
            }
            Some(bytes)
        } else {
            None
        };
        match edit(&name, bytes)? {
            Edit::Keep => {
                let raw = zip.by_index_raw(i).map_err(|e| bad(kind, &e))?;
                out.raw_copy_file(raw).map_err(|e| bad(kind, &e))?;
            }
            Edit::Write(bytes) => {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                out.start_file(name.as_str(), options)
                    .map_err(|e| bad(kind, &e))?;
                out.write_all(&bytes).map_err(|e| bad(kind, &e))?;
            }
            Edit::Drop => {}
        }
    }
    Ok(out.finish().map_err(|e| bad(kind, &e))?.into_inner())
}

/// An XML part parsed, with its name in the error. Nesting deeper than
/// [`MAX_XML_DEPTH`](crate::files::MAX_XML_DEPTH) is `LIMIT` before parsing: the tree and
/// everything that walks it are recursive.
pub(crate) fn parse(
    bytes: &[u8],
    name: &str,
    kind: &str,
) -> Result<kartoteka_bpmn::xml::XDoc, Failure> {
    if crate::files::xml_depth(bytes) > crate::files::MAX_XML_DEPTH {
        return Err(Failure::new(
            "LIMIT",
            format!(
                "{name} of the .{kind} file nests deeper than {} elements",
                crate::files::MAX_XML_DEPTH
            ),
        ));
    }
    kartoteka_bpmn::xml::parse(bytes).map_err(|e| bad(kind, &format!("{name}: {}", e.0)))
}

/// Sets (or adds) an attribute.
pub(crate) fn set_attr(e: &mut XElem, name: &str, value: String) {
    match e.attrs.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v = Some(value),
        None => e.attrs.push((name.to_owned(), Some(value))),
    }
}

/// The name without its namespace prefix.
pub(crate) fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The namespace prefix of a name with its colon (`x:` of `x:row`), or `""`: new elements
/// take their parent's.
pub(crate) fn prefix(name: &str) -> &str {
    &name[..name.len() - local(name).len()]
}

/// A text element (`w:t`, `t`) whose spaces are kept.
pub(crate) fn set_text(t: &mut XElem, text: String) {
    if t.get("xml:space").is_none() {
        t.attrs
            .push(("xml:space".to_owned(), Some("preserve".to_owned())));
    }
    t.children = vec![XNode::Text(text)];
}
