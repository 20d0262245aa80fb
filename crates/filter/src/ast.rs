//! The filter AST: conditions on typed fields combined with AND / OR. Every form of the
//! language parses to this; the store compiles it to SQL.

use kartoteka_model::{FieldDef, FieldType};

/// A field as a condition names it: what the store needs to compile a condition on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRef {
    /// The public id (for messages).
    pub id: String,
    pub db_id: i64,
    /// The data column, for column-stored types.
    pub column: String,
    pub field_type: FieldType,
    /// The field's config allows several values (`multiselect`). A user field that does
    /// not holds at most one employee in every record (the core refuses to switch
    /// `multiselect` off while a record holds several), so a condition on it can compare
    /// the stored list as a whole, which an index serves.
    pub multiple: bool,
}

impl FieldRef {
    pub fn of(f: &FieldDef) -> FieldRef {
        FieldRef {
            id: f.id.clone(),
            db_id: f.db_id,
            column: f.column.clone(),
            field_type: f.field_type,
            multiple: f.multiselect(),
        }
    }
}

/// A filter over the records of one catalog.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches every record (an empty filter).
    All,
    /// Every part matches. Never empty and never nested directly in another `And` (see
    /// [`Filter::and`]).
    And(Vec<Filter>),
    /// At least one part matches. Never empty.
    Or(Vec<Filter>),
    /// One condition on one field.
    Field(FieldRef, Cond),
    /// The part does not match (a part that cannot be decided, such as a comparison with an
    /// empty value, counts as not matching, so its negation matches). Not written by
    /// clients: the rights policy builds it (records outside a denied view).
    Not(Box<Filter>),
    /// Only these records, by `dbId` (records that carry a rights rule of their own).
    Records(Vec<i64>),
    /// Matches no record.
    Nothing,
}

/// A condition on one field's value. Which variants a field accepts follows its type
/// (spec 01 §5.3).
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    /// The field is empty (`null`, `"NULL_DATE"`): `""` or nothing for text, no items, no
    /// users, no links, no contacts, no files, no number or date.
    Empty,
    /// `text`, `address`: case-insensitive substring (of the address `value`).
    Contains(String),
    /// `contact`: case-insensitive substring of a contact value (not its comment); for a
    /// needle without letters, also a substring of the phone digits (trunk `8` read as `7`).
    Contact(String),
    /// `number`, `progress`, `stars`: inclusive range, either bound optional.
    Range { at: Option<f64>, to: Option<f64> },
    /// `date`: inclusive range of epoch milliseconds, either bound optional. Bounds are
    /// already resolved against the field (date-only fields compare calendar days).
    Dates { at: Option<i64>, to: Option<i64> },
    /// `dropdown`, `radiobutton` (and checkboxes inside `$or`): has at least one of the items.
    AnyItem(Vec<String>),
    /// `checkboxes`: has every one of the items.
    AllItems(Vec<String>),
    /// `stars`: exactly one of these counts.
    Stars(Vec<i64>),
    /// `switch`: on or off; off also matches a switch never set.
    Switch(bool),
    /// `user`: any of these employees.
    Users(Vec<UserRef>),
    /// `object`: linked to any record matching one of these.
    Links(Vec<LinkCond>),
    /// `file`: has files (`true`) or has none (`false`).
    Files(bool),
}

/// An employee named in a `user` condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// A `$users` record id (public: a custom id or the `dbId`).
    Id(String),
    /// `CURRENT_USER`: the caller.
    Current,
}

/// One alternative of an `object` condition: a link into `catalog_db_id`, to the record
/// `record_id` when given, whose target satisfies `filter` when given.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkCond {
    pub catalog_db_id: i64,
    /// The linked record's public id.
    pub record_id: Option<String>,
    /// Conditions on the linked record's own fields (its catalog's fields).
    pub filter: Option<Box<Filter>>,
}

impl Filter {
    /// All of `parts`: flattened, `All` dropped, a single part returned as is.
    pub fn and(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Filter::All => {}
                Filter::Nothing => return Filter::Nothing,
                Filter::And(inner) => out.extend(inner),
                p => out.push(p),
            }
        }
        match out.len() {
            0 => Filter::All,
            1 => out.pop().unwrap_or(Filter::All),
            _ => Filter::And(out),
        }
    }

    /// Any of `parts`: flattened; an `All` part makes the whole `All`, and so does an empty
    /// list (an empty `$or` is no filter, spec 01 §5.2). `Nothing` parts are dropped.
    pub fn or(parts: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Filter::All => return Filter::All,
                Filter::Nothing => {}
                Filter::Or(inner) => out.extend(inner),
                p => out.push(p),
            }
        }
        match out.len() {
            0 => Filter::All,
            1 => out.pop().unwrap_or(Filter::All),
            _ => Filter::Or(out),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Filter::All)
    }

    /// Any of `parts`, where no parts at all match nothing (unlike [`Filter::or`], which
    /// reads an empty list as no filter).
    pub fn any(parts: Vec<Filter>) -> Filter {
        if parts.iter().all(|p| matches!(p, Filter::Nothing)) {
            Filter::Nothing
        } else {
            Filter::or(parts)
        }
    }

    /// The negation of `f`.
    pub fn negate(f: Filter) -> Filter {
        match f {
            Filter::All => Filter::Nothing,
            Filter::Nothing => Filter::All,
            Filter::Not(inner) => *inner,
            f => Filter::Not(Box::new(f)),
        }
    }

    /// Every field condition in the tree, including those on linked catalogs.
    pub fn conditions(&self) -> Vec<(&FieldRef, &Cond)> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<(&'a FieldRef, &'a Cond)>) {
        match self {
            Filter::All | Filter::Nothing | Filter::Records(_) => {}
            Filter::Not(f) => f.collect(out),
            Filter::And(v) | Filter::Or(v) => v.iter().for_each(|f| f.collect(out)),
            Filter::Field(f, c) => {
                out.push((f, c));
                if let Cond::Links(links) = c {
                    for l in links {
                        if let Some(sub) = &l.filter {
                            sub.collect(out);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: i64) -> Filter {
        Filter::Field(
            FieldRef {
                id: n.to_string(),
                db_id: n,
                column: format!("f{n}"),
                field_type: FieldType::Switch,
                multiple: false,
            },
            Cond::Switch(true),
        )
    }

    #[test]
    fn and_or_normalise() {
        assert_eq!(Filter::and(vec![]), Filter::All);
        assert_eq!(Filter::or(vec![]), Filter::All);
        assert_eq!(Filter::and(vec![Filter::All, f(1)]), f(1));
        assert_eq!(Filter::or(vec![Filter::All, f(1)]), Filter::All);
        assert_eq!(
            Filter::and(vec![Filter::and(vec![f(1), f(2)]), f(3)]),
            Filter::And(vec![f(1), f(2), f(3)])
        );
        assert_eq!(
            Filter::or(vec![f(1), Filter::or(vec![f(2), f(3)])]),
            Filter::Or(vec![f(1), f(2), f(3)])
        );
    }
}
