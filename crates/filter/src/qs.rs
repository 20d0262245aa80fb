//! Bracket notation in query strings, in the style of the `qs` / PHP libraries (spec 01 §1.1):
//! `a[0][b]=1&a[0][c][]=x&a[0][c][]=y` describes `{"a": [{"b": "1", "c": ["x", "y"]}]}`.
//! Indexed (and empty `[]`) keys build arrays, named keys build objects; a key given twice
//! builds an array of its values. As in `qs`, indices up to [`ARRAY_LIMIT`] are positions
//! (sparse ones are compacted) and larger numbers are object keys. Leaves stay strings: the
//! reader of the tree decides what they mean.

use serde_json::{Map, Value};

use crate::error::{FilterError, FilterErrorKind};

/// Brackets deeper than this are refused.
pub const MAX_KEY_DEPTH: usize = 32;
/// Query pairs under one key beyond this are refused.
pub const MAX_PAIRS: usize = 10_000;

#[derive(Debug)]
enum Node {
    /// The value(s) given for one key.
    Leaf(Vec<String>),
    /// Children in the order first given; the key is `None` for `[]` (append).
    Branch(Vec<(Option<String>, Node)>),
}

fn error(kind: FilterErrorKind, key: &str, message: impl Into<String>) -> FilterError {
    FilterError::new(kind, key.to_string(), message)
}

/// Splits `[a][b][]` into `a`, `b`, `` (empty = append).
fn segments<'k>(rest: &'k str, key: &str) -> Result<Vec<&'k str>, FilterError> {
    let mut out = Vec::new();
    let mut r = rest;
    while !r.is_empty() {
        let Some(inner) = r.strip_prefix('[') else {
            return Err(error(
                FilterErrorKind::Malformed,
                key,
                "a bracket key continues with [name] or [index] only",
            ));
        };
        let Some(end) = inner.find(']') else {
            return Err(error(
                FilterErrorKind::Malformed,
                key,
                "an opening bracket is never closed",
            ));
        };
        out.push(&inner[..end]);
        r = &inner[end + 1..];
        if out.len() > MAX_KEY_DEPTH {
            return Err(error(
                FilterErrorKind::TooComplex,
                key,
                format!("keys nest at most {MAX_KEY_DEPTH} brackets deep"),
            ));
        }
    }
    Ok(out)
}

fn insert(node: &mut Node, segs: &[&str], value: &str, key: &str) -> Result<(), FilterError> {
    let Some((first, rest)) = segs.split_first() else {
        return match node {
            Node::Leaf(v) => {
                v.push(value.to_string());
                Ok(())
            }
            Node::Branch(c) if c.is_empty() => {
                *node = Node::Leaf(vec![value.to_string()]);
                Ok(())
            }
            Node::Branch(_) => Err(error(
                FilterErrorKind::Malformed,
                key,
                "this key has both a value and nested keys",
            )),
        };
    };
    let children = match node {
        Node::Branch(c) => c,
        Node::Leaf(_) => {
            return Err(error(
                FilterErrorKind::Malformed,
                key,
                "this key has both a value and nested keys",
            ))
        }
    };
    let child = if first.is_empty() {
        children.push((None, Node::Branch(Vec::new())));
        children.last_mut().map(|(_, n)| n)
    } else {
        match children
            .iter()
            .position(|(k, _)| k.as_deref() == Some(*first))
        {
            Some(i) => children.get_mut(i).map(|(_, n)| n),
            None => {
                children.push((Some(first.to_string()), Node::Branch(Vec::new())));
                children.last_mut().map(|(_, n)| n)
            }
        }
    };
    match child {
        Some(c) => insert(c, rest, value, key),
        None => Err(error(FilterErrorKind::Malformed, key, "unreadable key")),
    }
}

/// Indices above this name object keys, not array positions (the `arrayLimit` of `qs`): a
/// numeric catalog id in `fields[1][fields][27][]` stays a key.
pub const ARRAY_LIMIT: usize = 20;

fn index_of(k: &str) -> Option<usize> {
    if k.is_empty() || k.len() > 9 || !k.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    k.parse().ok().filter(|i| *i <= ARRAY_LIMIT)
}

fn to_value(node: Node) -> Value {
    match node {
        Node::Leaf(mut v) if v.len() == 1 => Value::String(v.pop().unwrap_or_default()),
        Node::Leaf(v) => Value::Array(v.into_iter().map(Value::String).collect()),
        Node::Branch(children) => {
            let is_list = children
                .iter()
                .all(|(k, _)| k.as_deref().is_none_or(|k| index_of(k).is_some()));
            if is_list {
                // Sparse indices are compacted (as `qs` does); appended entries follow the
                // indexed ones in the order given.
                let mut entries: Vec<(usize, usize, Node)> = children
                    .into_iter()
                    .enumerate()
                    .map(|(pos, (k, n))| {
                        let idx = k.as_deref().and_then(index_of).unwrap_or(usize::MAX);
                        (idx, pos, n)
                    })
                    .collect();
                entries.sort_by_key(|(idx, pos, _)| (*idx, *pos));
                Value::Array(entries.into_iter().map(|(_, _, n)| to_value(n)).collect())
            } else {
                let mut m = Map::new();
                for (pos, (k, n)) in children.into_iter().enumerate() {
                    m.insert(k.unwrap_or_else(|| pos.to_string()), to_value(n));
                }
                Value::Object(m)
            }
        }
    }
}

/// The value that the pairs under `base` describe: `base=v` alone gives the string `v`,
/// `base[…]=…` pairs give the structure they build. `None` when no pair names `base`.
/// `base` may itself contain brackets (`recordsFilter[filters]`).
pub fn tree(pairs: &[(String, String)], base: &str) -> Result<Option<Value>, FilterError> {
    let mut plain: Option<&str> = None;
    let mut root = Node::Branch(Vec::new());
    let mut nested = 0usize;
    for (k, v) in pairs {
        let Some(rest) = k.strip_prefix(base) else {
            continue;
        };
        if rest.is_empty() {
            if plain.is_some() {
                return Err(error(
                    FilterErrorKind::Malformed,
                    base,
                    format!("{base} is given more than once"),
                ));
            }
            plain = Some(v);
            continue;
        }
        if !rest.starts_with('[') {
            continue;
        }
        nested += 1;
        if nested > MAX_PAIRS {
            return Err(error(
                FilterErrorKind::TooComplex,
                base,
                format!("at most {MAX_PAIRS} parameters may describe {base}"),
            ));
        }
        let segs = segments(rest, k)?;
        insert(&mut root, &segs, v, k)?;
    }
    match (plain, nested) {
        (None, 0) => Ok(None),
        (Some(v), 0) => Ok(Some(Value::String(v.to_string()))),
        (Some(_), _) => Err(error(
            FilterErrorKind::Malformed,
            base,
            format!("{base} is given both as one value and in bracket notation"),
        )),
        (None, _) => Ok(Some(to_value(root))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_documented_example() {
        let p = pairs(&[
            ("limit", "50"),
            ("filters[0][fieldId]", "4"),
            ("filters[0][value][at]", "2015-10-27T00:00:00+03:00"),
            ("filters[0][value][to]", "2015-11-19T23:59:59+03:00"),
            ("filters[1][fieldId]", "15"),
            ("filters[1][value][0][catalogId]", "18"),
            ("filters[1][value][0][recordId]", "9"),
            ("filters[1][value][1][catalogId]", "18"),
            ("filters[1][value][1][recordId]", "10"),
        ]);
        assert_eq!(
            tree(&p, "filters").expect("parses"),
            Some(json!([
                {"fieldId": "4", "value": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"}},
                {"fieldId": "15", "value": [{"catalogId": "18", "recordId": "9"}, {"catalogId": "18", "recordId": "10"}]}
            ]))
        );
    }

    #[test]
    fn appends_repeats_and_sparse_indices() {
        let p = pairs(&[
            ("f[0][value][]", "a"),
            ("f[0][value][]", "b"),
            ("f[0][fieldId]", "2"),
            ("f[3][fieldId]", "5"),
            ("f[3][value]", "x"),
            ("f[3][value]", "y"),
        ]);
        assert_eq!(
            tree(&p, "f").expect("parses"),
            Some(json!([
                {"value": ["a", "b"], "fieldId": "2"},
                {"fieldId": "5", "value": ["x", "y"]}
            ]))
        );
    }

    #[test]
    fn large_numbers_are_keys() {
        let p = pairs(&[
            ("fields[0]", "2"),
            ("fields[1][fieldId]", "5"),
            ("fields[1][fields][27][]", "6"),
        ]);
        assert_eq!(
            tree(&p, "fields").expect("parses"),
            Some(json!(["2", {"fieldId": "5", "fields": {"27": ["6"]}}]))
        );
    }

    #[test]
    fn plain_and_absent() {
        assert_eq!(tree(&pairs(&[("x", "1")]), "filters").expect("ok"), None);
        assert_eq!(
            tree(&pairs(&[("filters", "[]")]), "filters").expect("ok"),
            Some(json!("[]"))
        );
        // A longer key that merely starts like the base is another parameter.
        assert_eq!(
            tree(&pairs(&[("filtersX", "1")]), "filters").expect("ok"),
            None
        );
        assert_eq!(
            tree(
                &pairs(&[("recordsFilter[filters][0][fieldId]", "12")]),
                "recordsFilter[filters]"
            )
            .expect("ok"),
            Some(json!([{"fieldId": "12"}]))
        );
    }

    #[test]
    fn malformed_keys_name_the_key() {
        for (k, v) in [("filters[0", "1"), ("filters[0]x", "1")] {
            let e = tree(&pairs(&[(k, v)]), "filters").expect_err("malformed");
            assert_eq!(e.path, k);
            assert_eq!(e.kind, FilterErrorKind::Malformed);
        }
        let e = tree(
            &pairs(&[("filters[0][value]", "1"), ("filters[0][value][at]", "2")]),
            "filters",
        )
        .expect_err("conflict");
        assert_eq!(e.path, "filters[0][value][at]");
        let e = tree(
            &pairs(&[("filters", "[]"), ("filters[0][fieldId]", "2")]),
            "filters",
        )
        .expect_err("both forms");
        assert_eq!(e.path, "filters");
        let deep = format!("filters{}", "[a]".repeat(MAX_KEY_DEPTH + 1));
        let e = tree(&pairs(&[(&deep, "1")]), "filters").expect_err("deep");
        assert_eq!(e.kind, FilterErrorKind::TooComplex);
    }
}
