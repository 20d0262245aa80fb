//! Bad input never panics: truncated and mutated files compile to `Ok` or `Err`.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.

mod common;

use kartoteka_bpmn::{compile, export, parse_duration, parse_target, NoCheck};
use proptest::prelude::*;

fn inputs() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = common::sample_files().into_iter().map(|(_, b)| b).collect();
    v.push(common::fixture("all-kinds.bpmn"));
    v
}

/// Whatever compiles also exports and compiles again.
fn survive(bytes: &[u8]) {
    if let Ok(ir) = compile(bytes, &NoCheck) {
        let out = export(&ir);
        let _ = compile(out.as_bytes(), &NoCheck);
    }
}

#[test]
fn truncations() {
    for src in inputs() {
        let step = (src.len() / 400).max(1);
        for end in (0..src.len()).step_by(step) {
            survive(&src[..end]);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn mutations(which in 0usize..4, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let all = inputs();
        let mut src = all[which % all.len()].clone();
        for (i, b) in edits {
            let i = i.index(src.len());
            src[i] = b;
        }
        survive(&src);
    }

    #[test]
    fn arbitrary_text(s in ".{0,40}") {
        let _ = parse_duration(&s);
        let _ = parse_target(&s);
        let _ = compile(s.as_bytes(), &NoCheck);
    }
}
