//! Where the parser is in the input: a chain of segments on the stack, rendered only when an
//! error needs it.

#[derive(Debug, Clone, Copy)]
enum Seg<'a> {
    Root(&'a str),
    Index(usize),
    Key(&'a str),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl<'a> Path<'a> {
    pub(crate) fn root(name: &'a str) -> Path<'a> {
        Path {
            parent: None,
            seg: Seg::Root(name),
        }
    }

    pub(crate) fn index(&'a self, i: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    pub(crate) fn key(&'a self, k: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Seg::Key(k),
        }
    }

    /// `filters[1].value.at`; keys that are not plain words are quoted: `filters["a.b"]`.
    pub(crate) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut p = Some(self);
        while let Some(x) = p {
            segs.push(x.seg);
            p = x.parent;
        }
        let mut out = String::new();
        for s in segs.into_iter().rev() {
            match s {
                Seg::Root(r) => out.push_str(r),
                Seg::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
                Seg::Key(k) => {
                    let plain = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == '-');
                    if plain {
                        out.push('.');
                        out.push_str(k);
                    } else {
                        out.push('[');
                        out.push_str(&serde_json::Value::String(k.to_string()).to_string());
                        out.push(']');
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_the_array_and_object_forms() {
        let root = Path::root("filters");
        let one = root.index(1);
        let value = one.key("value");
        assert_eq!(value.key("at").render(), "filters[1].value.at");
        let or = root.key("$or");
        assert_eq!(or.index(0).key("4").render(), "filters.$or[0].4");
        assert_eq!(root.key("a.b").render(), "filters[\"a.b\"]");
    }
}
