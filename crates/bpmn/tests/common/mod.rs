//! Test helpers: a semantic XML comparison written independently of the crate's own tree,
//! and access to the reference samples.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.
#![allow(dead_code)]

use std::path::PathBuf;

use quick_xml::events::Event;
use quick_xml::Reader;

/// A normalised XML node: element (name, sorted attributes, children), text or CDATA.
#[derive(Debug, PartialEq)]
pub enum N {
    E(String, Vec<(String, String)>, Vec<N>),
    T(String),
    C(String),
    Comment(String),
}

/// An open element while parsing: name, sorted attributes, children so far.
type Open = (String, Vec<(String, String)>, Vec<N>);

/// Parses XML into normalised nodes: attributes sorted, adjacent text of one kind merged,
/// whitespace-only text dropped where an element has element children.
pub fn normalise(xml: &str) -> Vec<N> {
    let mut r = Reader::from_str(xml);
    let mut stack: Vec<Open> = vec![(String::new(), vec![], vec![])];
    loop {
        let ev = r.read_event().expect("well-formed XML");
        match ev {
            Event::Eof => break,
            Event::Start(ref s) | Event::Empty(ref s) => {
                let name = String::from_utf8(s.name().as_ref().to_vec()).unwrap();
                let mut attrs: Vec<(String, String)> = s
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (
                            String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                            a.decode_and_unescape_value(r.decoder())
                                .unwrap()
                                .into_owned(),
                        )
                    })
                    .collect();
                attrs.sort();
                if matches!(ev, Event::Start(_)) {
                    stack.push((name, attrs, vec![]));
                } else {
                    stack.last_mut().unwrap().2.push(N::E(name, attrs, vec![]));
                }
            }
            Event::End(_) => {
                let (n, a, mut c) = stack.pop().unwrap();
                clean(&mut c);
                stack.last_mut().unwrap().2.push(N::E(n, a, c));
            }
            Event::Text(t) => push(
                &mut stack.last_mut().unwrap().2,
                N::T(t.xml10_content().unwrap().into_owned()),
            ),
            Event::GeneralRef(g) => {
                let s = match g.resolve_char_ref().unwrap() {
                    Some(c) => c.to_string(),
                    None => quick_xml::escape::resolve_predefined_entity(&g.decode().unwrap())
                        .unwrap()
                        .to_owned(),
                };
                push(&mut stack.last_mut().unwrap().2, N::T(s))
            }
            Event::CData(c) => push(
                &mut stack.last_mut().unwrap().2,
                N::C(c.xml10_content().unwrap().into_owned()),
            ),
            Event::Comment(c) => stack
                .last_mut()
                .unwrap()
                .2
                .push(N::Comment(c.decode().unwrap().into_owned())),
            _ => {}
        }
    }
    let mut top = stack.pop().unwrap().2;
    top.retain(|n| matches!(n, N::E(..)));
    top
}

fn push(v: &mut Vec<N>, n: N) {
    match (v.last_mut(), n) {
        (Some(N::T(a)), N::T(b)) => a.push_str(&b),
        (Some(N::C(a)), N::C(b)) => a.push_str(&b),
        (_, n) => v.push(n),
    }
}

fn clean(c: &mut Vec<N>) {
    if c.iter().any(|n| matches!(n, N::E(..))) {
        c.retain(|n| !matches!(n, N::T(t) if t.trim().is_empty()));
    }
}

/// Asserts two documents are the same XML, pointing at the first difference.
pub fn assert_same_xml(a: &str, b: &str) {
    let (x, y) = (normalise(a), normalise(b));
    if x != y {
        let (xs, ys) = (format!("{x:#?}"), format!("{y:#?}"));
        let line = xs
            .lines()
            .zip(ys.lines())
            .position(|(p, q)| p != q)
            .unwrap_or(0);
        let ctx = |s: &str| {
            s.lines()
                .skip(line.saturating_sub(8))
                .take(16)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "documents differ near normalised line {line}:\n--- expected\n{}\n--- got\n{}",
            ctx(&xs),
            ctx(&ys)
        );
    }
}

/// The folder of reference samples, if it is present.
pub fn samples() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/reference/bpmn-samples"
    ));
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipped: the reference samples are not at {}", p.display());
        None
    }
}

/// The sample files, sorted by name.
pub fn sample_files() -> Vec<(String, Vec<u8>)> {
    let Some(dir) = samples() else { return vec![] };
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "bpmn"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// A hand-made fixture from `tests/fixtures`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/").to_owned() + name)
        .unwrap()
}
