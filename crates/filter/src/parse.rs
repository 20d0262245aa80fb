//! From what the client sent to a validated [`Filter`].
//!
//! Input from a query string is *lenient*: its leaves are strings, so numbers, booleans and
//! `null` arrive as text, and a structure may arrive as JSON text (`value=[1,2]`, spec 01
//! §1.1). JSON input is taken as typed, but numeric strings are still numbers where a number
//! is expected (as on the write path).

use std::borrow::Cow;

use kartoteka_model::field::items::item_ids;
use kartoteka_model::ids::{id_from_json, is_numeric};
use kartoteka_model::time::{parse_calendar_date, parse_instant};
use kartoteka_model::{FieldDef, FieldType};
use serde_json::{Map, Value};

use crate::ast::{Cond, FieldRef, Filter, LinkCond, UserRef};
use crate::error::{FilterError, FilterErrorKind as Kind};
use crate::path::Path;

/// Nesting deeper than this (`$or` in `$and` in a linked-record sub-filter …) is refused.
pub const MAX_DEPTH: usize = 32;
/// A filter may hold at most this many field conditions and listed values together (each
/// compiles to SQL parameters).
pub const MAX_CONDITIONS: usize = 1000;

const DAY_MS: i64 = 86_400_000;
/// The documented empty-date value (spec 01 §5.3).
const NULL_DATE: &str = "NULL_DATE";
/// The caller, in a `user` condition.
const CURRENT_USER: &str = "CURRENT_USER";

/// The fields a filter may name: the filtered catalog's, and through its object fields those
/// of the catalogs they link to.
pub trait Scope {
    /// A field by public id or `prevId` (spec 01 §1.3: either is accepted in filters).
    fn field(&self, id: &str) -> Option<&FieldDef>;
    /// The catalog `catalog_id` (public id or `dbId`) when it is a source of the object
    /// field `field`, with the scope of its own fields.
    fn linked(&self, field: &FieldDef, catalog_id: &str) -> Option<Linked<'_>>;
}

/// A catalog reached through an object field.
pub struct Linked<'a> {
    pub catalog_db_id: i64,
    pub scope: Box<dyn Scope + 'a>,
}

/// What the parse depends on besides the fields.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// The client's zone in minutes east of UTC (`timezoneOffset`): date-only bounds of
    /// date-time fields are days in this zone.
    pub tz_offset_min: i32,
}

/// A filter as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The parameter name, the root of error paths (`filters`).
    pub root: String,
    pub value: Value,
    /// The value came from a query string: leaves are strings.
    pub lenient: bool,
}

impl Input {
    /// A filter given as JSON (a request body, a stored view).
    pub fn json(root: &str, value: Value) -> Input {
        Input {
            root: root.to_string(),
            value,
            lenient: false,
        }
    }

    /// The filter that query pairs carry under `base`: `base=<JSON>` or bracket notation
    /// (`base[0][fieldId]=…`). `None` when the query has none.
    pub fn from_query(
        pairs: &[(String, String)],
        base: &str,
    ) -> Result<Option<Input>, FilterError> {
        Ok(crate::qs::tree(pairs, base)?.map(|value| Input {
            root: base.to_string(),
            value,
            lenient: true,
        }))
    }
}

/// Parses and validates a filter against the fields of `scope`.
pub fn parse(input: &Input, scope: &dyn Scope, opts: &Options) -> Result<Filter, FilterError> {
    let mut p = Parser {
        opts,
        conditions: 0,
    };
    p.conditions(
        &input.value,
        input.lenient,
        scope,
        &Path::root(&input.root),
        0,
    )
}

struct Parser<'o> {
    opts: &'o Options,
    conditions: usize,
}

type Res<T> = Result<T, FilterError>;

fn err(kind: Kind, path: &Path, message: impl Into<String>) -> FilterError {
    FilterError::new(kind, path.render(), message)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string of JSON text where a structure is expected in lenient input is that structure;
/// the parsed subtree is typed JSON.
fn expand<'v>(v: &'v Value, lenient: bool, path: &Path) -> Res<(Cow<'v, Value>, bool)> {
    if let (true, Value::String(s)) = (lenient, v) {
        let t = s.trim();
        if t.starts_with('[') || t.starts_with('{') {
            return serde_json::from_str::<Value>(t)
                .map(|parsed| (Cow::Owned(parsed), false))
                .map_err(|e| err(Kind::Malformed, path, format!("malformed JSON: {e}")));
        }
    }
    Ok((Cow::Borrowed(v), lenient))
}

/// `null`, or the text `null` in lenient input: "the field is empty".
fn is_null(v: &Value, lenient: bool) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => lenient && s.trim() == "null",
        _ => false,
    }
}

/// An empty string: no condition.
fn is_blank(v: &Value) -> bool {
    matches!(v, Value::String(s) if s.trim().is_empty())
}

/// The elements of a list value: an array, or one scalar.
fn elements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn text_like(t: FieldType) -> bool {
    matches!(t, FieldType::Text | FieldType::Contact | FieldType::Address)
}

fn has_time(f: &FieldDef) -> bool {
    f.config.get("time").and_then(Value::as_bool) == Some(true)
}

/// `YYYY-MM-DD` without a time.
fn date_only(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

impl Parser<'_> {
    fn count(&mut self, path: &Path) -> Res<()> {
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(err(
                Kind::TooComplex,
                path,
                format!("a filter may hold at most {MAX_CONDITIONS} conditions and listed values"),
            ));
        }
        Ok(())
    }

    fn deeper(depth: usize, path: &Path) -> Res<usize> {
        if depth >= MAX_DEPTH {
            return Err(err(
                Kind::TooComplex,
                path,
                format!("filters nest at most {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(depth + 1)
    }

    /// A whole filter: the array form, the object form, or nothing.
    fn conditions(
        &mut self,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let depth = Self::deeper(depth, path)?;
        if v.is_null() || is_blank(v) {
            return Ok(Filter::All);
        }
        let (v, lenient) = expand(v, lenient, path)?;
        match &*v {
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    parts.push(self.element(it, lenient, scope, &path.index(i), depth)?);
                }
                Ok(Filter::and(parts))
            }
            // Bracket notation with positions beyond the qs array limit builds an object
            // keyed by numbers: still the array form when every entry is a condition.
            Value::Object(m) if array_like(m) => {
                let mut entries: Vec<(u64, &Value)> = m
                    .iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v)))
                    .collect();
                entries.sort_by_key(|(k, _)| *k);
                let mut parts = Vec::with_capacity(entries.len());
                for (k, it) in entries {
                    let at = path.index(k as usize);
                    parts.push(self.element(it, lenient, scope, &at, depth)?);
                }
                Ok(Filter::and(parts))
            }
            Value::Object(m) => self.object(m, lenient, scope, path, depth),
            other => Err(err(
                Kind::Malformed,
                path,
                format!(
                    "filters are an array of {{fieldId, value}} or an object keyed by field id, not {}",
                    kind_of(other)
                ),
            )),
        }
    }

    /// One `{fieldId, value}` of the array form (`attr` is a synonym of `fieldId`, as views
    /// store it; other keys such as a view condition's `id` are ignored).
    fn element(
        &mut self,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let (v, lenient) = expand(v, lenient, path)?;
        let Value::Object(m) = &*v else {
            return Err(err(
                Kind::Malformed,
                path,
                format!(
                    "a condition is {{\"fieldId\", \"value\"}}, not {}",
                    kind_of(&v)
                ),
            ));
        };
        let (key, raw_id) = match (m.get("fieldId"), m.get("attr")) {
            (Some(f), _) => ("fieldId", f),
            (None, Some(a)) => ("attr", a),
            (None, None) => {
                return Err(err(
                    Kind::Malformed,
                    &path.key("fieldId"),
                    "the condition names no fieldId",
                ))
            }
        };
        let id_path = path.key(key);
        let id = id_from_json(raw_id).ok_or_else(|| {
            err(
                Kind::Malformed,
                &id_path,
                format!(
                    "a field id is a string or a number, not {}",
                    kind_of(raw_id)
                ),
            )
        })?;
        let field = self.field(scope, &id, &id_path)?;
        let Some(value) = m.get("value") else {
            return Err(err(
                Kind::Malformed,
                &path.key("value"),
                "the condition has no value",
            )
            .with_field(&field.id));
        };
        self.field_cond(field, value, lenient, scope, &path.key("value"), depth)
    }

    /// The object form: field ids and `$or` / `$and`, all ANDed.
    fn object(
        &mut self,
        m: &Map<String, Value>,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let mut parts = Vec::with_capacity(m.len());
        for (k, v) in m {
            let at = path.key(k);
            match k.as_str() {
                "$or" | "$and" => {
                    let depth = Self::deeper(depth, &at)?;
                    let (list, lenient) = expand(v, lenient, &at)?;
                    let Value::Array(items) = &*list else {
                        return Err(err(
                            Kind::Malformed,
                            &at,
                            format!("{k} takes an array of conditions"),
                        ));
                    };
                    let mut subs = Vec::with_capacity(items.len());
                    for (i, it) in items.iter().enumerate() {
                        subs.push(self.sub_conditions(it, lenient, scope, &at.index(i), depth)?);
                    }
                    parts.push(if k == "$or" {
                        Filter::or(subs)
                    } else {
                        Filter::and(subs)
                    });
                }
                _ => {
                    let field = self.field(scope, k, &at)?;
                    parts.push(self.field_cond(field, v, lenient, scope, &at, depth)?);
                }
            }
        }
        Ok(Filter::and(parts))
    }

    /// An element of a condition-level `$or` / `$and`: an object-form condition (or an
    /// array-form list).
    fn sub_conditions(
        &mut self,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let (v, lenient) = expand(v, lenient, path)?;
        match &*v {
            Value::Object(_) | Value::Array(_) => self.conditions(&v, lenient, scope, path, depth),
            other => Err(err(
                Kind::Malformed,
                path,
                format!(
                    "an element of $or / $and is a condition object, not {}",
                    kind_of(other)
                ),
            )),
        }
    }

    fn field<'s>(&self, scope: &'s dyn Scope, id: &str, path: &Path) -> Res<&'s FieldDef> {
        let f = scope.field(id).ok_or_else(|| {
            err(Kind::UnknownField, path, format!("unknown field {id:?}")).with_field(id)
        })?;
        if !f.field_type.has_value() || f.field_type == FieldType::Group {
            return Err(err(
                Kind::NotFilterable,
                path,
                format!(
                    "the field {:?} is a {} and holds no value to filter by",
                    f.id,
                    f.field_type.code()
                ),
            )
            .with_field(&f.id));
        }
        Ok(f)
    }

    /// A field's condition: a value, or `{"$or": [values]}` / `{"$and": [values]}`.
    fn field_cond(
        &mut self,
        f: &FieldDef,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let depth = Self::deeper(depth, path)?;
        let (v, lenient) = if text_like(f.field_type) {
            (Cow::Borrowed(v), lenient)
        } else {
            expand(v, lenient, path)?
        };
        if let Value::Object(m) = &*v {
            if m.contains_key("$or") || m.contains_key("$and") {
                let mut parts = Vec::with_capacity(m.len());
                for (k, list) in m {
                    let at = path.key(k);
                    let is_or =
                        match k.as_str() {
                            "$or" => true,
                            "$and" => false,
                            _ => return Err(err(
                                Kind::Malformed,
                                &at,
                                "$or / $and on a field's values cannot be mixed with other keys",
                            )
                            .with_field(&f.id)),
                        };
                    let (list, lenient) = expand(list, lenient, &at)?;
                    let Value::Array(items) = &*list else {
                        return Err(err(
                            Kind::Malformed,
                            &at,
                            format!("{k} takes an array of values"),
                        )
                        .with_field(&f.id));
                    };
                    let mut subs = Vec::with_capacity(items.len());
                    for (i, it) in items.iter().enumerate() {
                        subs.push(self.field_cond(f, it, lenient, scope, &at.index(i), depth)?);
                    }
                    parts.push(if is_or {
                        Filter::or(subs)
                    } else {
                        Filter::and(subs)
                    });
                }
                return Ok(Filter::and(parts));
            }
        }
        self.count(path)?;
        self.value(f, &v, lenient, scope, path, depth)
            .map_err(|e| e.with_field(&f.id))
    }

    /// One value of a field, per its type (spec 01 §5.3).
    fn value(
        &mut self,
        f: &FieldDef,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let cond = |c: Cond| Filter::Field(FieldRef::of(f), c);
        if is_blank(v) || matches!(v, Value::Array(a) if a.is_empty()) {
            return Ok(Filter::All);
        }
        match f.field_type {
            FieldType::Text | FieldType::Address | FieldType::Contact => {
                let needle = match v {
                    Value::Null => return Ok(cond(Cond::Empty)),
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(err(
                            Kind::InvalidValue,
                            path,
                            format!(
                                "a {} filter is a string, not {}",
                                f.field_type.code(),
                                kind_of(other)
                            ),
                        ))
                    }
                };
                Ok(cond(if f.field_type == FieldType::Contact {
                    Cond::Contact(needle)
                } else {
                    Cond::Contains(needle)
                }))
            }
            FieldType::Number | FieldType::Progress => {
                self.any_of(v, lenient, path, |p, v, lenient, path| {
                    p.range(f, v, lenient, path)
                })
            }
            FieldType::Stars => match v {
                Value::Object(_) => self.range(f, v, lenient, path),
                _ => self.stars(f, v, lenient, path),
            },
            FieldType::Date => self.any_of(v, lenient, path, |p, v, lenient, path| {
                p.dates(f, v, lenient, path)
            }),
            FieldType::Dropdown | FieldType::Radiobutton | FieldType::Checkboxes => {
                self.items(f, v, lenient, path)
            }
            FieldType::Switch | FieldType::File => {
                self.any_of(v, lenient, path, |_, v, lenient, path| {
                    let b = if is_null(v, lenient) {
                        false
                    } else {
                        boolean(v).ok_or_else(|| {
                            err(
                                Kind::InvalidValue,
                                path,
                                format!("a {} filter is true or false", f.field_type.code()),
                            )
                        })?
                    };
                    Ok(cond(if f.field_type == FieldType::Switch {
                        Cond::Switch(b)
                    } else {
                        Cond::Files(b)
                    }))
                })
            }
            FieldType::User => self.users(f, v, lenient, path),
            FieldType::Object => self.links(f, v, lenient, scope, path, depth),
            FieldType::Group | FieldType::Button | FieldType::Iframe => Err(err(
                Kind::NotFilterable,
                path,
                format!("a {} field cannot be filtered", f.field_type.code()),
            )),
        }
    }

    /// A scalar condition, or an array of them meaning any of them.
    fn any_of(
        &mut self,
        v: &Value,
        lenient: bool,
        path: &Path,
        mut one: impl FnMut(&mut Self, &Value, bool, &Path) -> Res<Filter>,
    ) -> Res<Filter> {
        match v {
            Value::Array(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for (i, it) in items.iter().enumerate() {
                    let at = path.index(i);
                    let (it, lenient) = expand(it, lenient, &at)?;
                    parts.push(one(self, &it, lenient, &at)?);
                }
                Ok(Filter::or(parts))
            }
            v => one(self, v, lenient, path),
        }
    }

    /// `{"at": n, "to": m}` (either optional), or one number meaning exactly it.
    fn range(&mut self, f: &FieldDef, v: &Value, lenient: bool, path: &Path) -> Res<Filter> {
        let field = FieldRef::of(f);
        if is_null(v, lenient) {
            return Ok(Filter::Field(field, Cond::Empty));
        }
        let (at, to) = match v {
            Value::Object(m) => {
                reject_other_keys(m, &["at", "to"], path)?;
                let at = m
                    .get("at")
                    .map(|b| number(b, &path.key("at")))
                    .transpose()?
                    .flatten();
                let to = m
                    .get("to")
                    .map(|b| number(b, &path.key("to")))
                    .transpose()?
                    .flatten();
                (at, to)
            }
            Value::Number(_) | Value::String(_) => {
                let n = number(v, path)?;
                (n, n)
            }
            other => {
                return Err(err(
                    Kind::InvalidValue,
                    path,
                    format!(
                        "a {} filter is a range {{\"at\", \"to\"}} or a number, not {}",
                        f.field_type.code(),
                        kind_of(other)
                    ),
                ))
            }
        };
        if at.is_none() && to.is_none() {
            return Ok(Filter::All);
        }
        Ok(Filter::Field(field, Cond::Range { at, to }))
    }

    /// `{"at": ISO, "to": ISO}`, `"NULL_DATE"`, or one date meaning that day (or instant).
    fn dates(&mut self, f: &FieldDef, v: &Value, lenient: bool, path: &Path) -> Res<Filter> {
        let field = FieldRef::of(f);
        if is_null(v, lenient) || matches!(v, Value::String(s) if s.trim() == NULL_DATE) {
            return Ok(Filter::Field(field, Cond::Empty));
        }
        let (at, to) = match v {
            Value::Object(m) => {
                reject_other_keys(m, &["at", "to"], path)?;
                let at = match m.get("at") {
                    Some(b) => self.date_bound(f, b, false, &path.key("at"))?,
                    None => None,
                };
                let to = match m.get("to") {
                    Some(b) => self.date_bound(f, b, true, &path.key("to"))?,
                    None => None,
                };
                (at, to)
            }
            Value::String(_) => (
                self.date_bound(f, v, false, path)?,
                self.date_bound(f, v, true, path)?,
            ),
            other => {
                return Err(err(
                    Kind::InvalidValue,
                    path,
                    format!(
                        "a date filter is a range {{\"at\", \"to\"}} of ISO-8601 dates or \"NULL_DATE\", not {}",
                        kind_of(other)
                    ),
                ))
            }
        };
        if at.is_none() && to.is_none() {
            return Ok(Filter::All);
        }
        Ok(Filter::Field(field, Cond::Dates { at, to }))
    }

    /// A date bound in epoch milliseconds. A date-only field compares calendar days, so a
    /// bound is the day it falls on (after its own offset, as on write). A date-time field
    /// compares instants; a date-only `to` bound covers that whole day in the client's zone.
    fn date_bound(&self, f: &FieldDef, v: &Value, upper: bool, path: &Path) -> Res<Option<i64>> {
        let s = match v {
            Value::Null => return Ok(None),
            Value::String(s) if s.trim().is_empty() => return Ok(None),
            Value::String(s) => s.trim(),
            other => {
                return Err(err(
                    Kind::InvalidValue,
                    path,
                    format!("a date bound is an ISO-8601 string, not {}", kind_of(other)),
                ))
            }
        };
        let bad = || {
            err(
                Kind::InvalidValue,
                path,
                format!("{s:?} is not an ISO-8601 date"),
            )
        };
        if !has_time(f) {
            return parse_calendar_date(s).map(Some).ok_or_else(bad);
        }
        let ms = parse_instant(s, self.opts.tz_offset_min).ok_or_else(bad)?;
        Ok(Some(if upper && date_only(s) {
            ms + DAY_MS - 1
        } else {
            ms
        }))
    }

    /// `["1","2"]` (or one id): any of the items for dropdown and radiobutton, all of them for
    /// checkboxes; `null` in the list also matches records without any item.
    fn items(&mut self, f: &FieldDef, v: &Value, lenient: bool, path: &Path) -> Res<Filter> {
        let field = FieldRef::of(f);
        let known = item_ids(&f.config);
        let mut ids: Vec<String> = Vec::new();
        let mut empty = false;
        let list = elements(v);
        let single = !v.is_array();
        for (i, it) in list.into_iter().enumerate() {
            let at = if single { *path } else { path.index(i) };
            self.count(&at)?;
            if is_null(it, lenient) {
                empty = true;
                continue;
            }
            let raw = match it {
                Value::Object(o) => o.get("id").unwrap_or(&Value::Null),
                v => v,
            };
            let id = id_from_json(raw).ok_or_else(|| {
                err(
                    Kind::InvalidValue,
                    &at,
                    format!("an item id is a string or a number, not {}", kind_of(raw)),
                )
            })?;
            let canonical = resolve_item(f, &known, &id).ok_or_else(|| {
                err(
                    Kind::InvalidValue,
                    &at,
                    format!("the field {:?} has no item {id:?}", f.id),
                )
            })?;
            if !ids.contains(&canonical) {
                ids.push(canonical);
            }
        }
        let mut parts = Vec::new();
        if !ids.is_empty() {
            parts.push(Filter::Field(
                field.clone(),
                if f.field_type == FieldType::Checkboxes {
                    Cond::AllItems(ids)
                } else {
                    Cond::AnyItem(ids)
                },
            ));
        }
        if empty {
            parts.push(Filter::Field(field, Cond::Empty));
        }
        Ok(Filter::or(parts))
    }

    /// `[4, 5]` (or one count): exactly one of these star counts.
    fn stars(&mut self, f: &FieldDef, v: &Value, lenient: bool, path: &Path) -> Res<Filter> {
        let field = FieldRef::of(f);
        let mut counts = Vec::new();
        let mut empty = false;
        let single = !v.is_array();
        for (i, it) in elements(v).into_iter().enumerate() {
            let at = if single { *path } else { path.index(i) };
            self.count(&at)?;
            if is_null(it, lenient) {
                empty = true;
                continue;
            }
            match number(it, &at)? {
                Some(n) if n.fract() == 0.0 && (0.0..=5.0).contains(&n) => {
                    let n = n as i64;
                    if !counts.contains(&n) {
                        counts.push(n);
                    }
                }
                Some(_) => {
                    return Err(err(
                        Kind::InvalidValue,
                        &at,
                        "a star count is a whole number from 0 to 5",
                    ))
                }
                None => {}
            }
        }
        let mut parts = Vec::new();
        if !counts.is_empty() {
            parts.push(Filter::Field(field.clone(), Cond::Stars(counts)));
        }
        if empty {
            parts.push(Filter::Field(field, Cond::Empty));
        }
        Ok(Filter::or(parts))
    }

    /// `["21", "CURRENT_USER"]` (or `[{"id": "21"}]`, or one id): any of these employees.
    fn users(&mut self, f: &FieldDef, v: &Value, lenient: bool, path: &Path) -> Res<Filter> {
        let field = FieldRef::of(f);
        let mut users = Vec::new();
        let mut empty = false;
        let single = !v.is_array();
        for (i, it) in elements(v).into_iter().enumerate() {
            let at = if single { *path } else { path.index(i) };
            self.count(&at)?;
            if is_null(it, lenient) {
                empty = true;
                continue;
            }
            let raw = match it {
                Value::Object(o) => o.get("id").unwrap_or(&Value::Null),
                v => v,
            };
            let u = match id_from_json(raw) {
                Some(id) if id == CURRENT_USER => UserRef::Current,
                Some(id) => UserRef::Id(id),
                None => {
                    return Err(err(
                        Kind::InvalidValue,
                        &at,
                        format!(
                            "a user filter lists user ids or \"CURRENT_USER\", not {}",
                            kind_of(raw)
                        ),
                    ))
                }
            };
            if !users.contains(&u) {
                users.push(u);
            }
        }
        let mut parts = Vec::new();
        if !users.is_empty() {
            parts.push(Filter::Field(field.clone(), Cond::Users(users)));
        }
        if empty {
            parts.push(Filter::Field(field, Cond::Empty));
        }
        Ok(Filter::or(parts))
    }

    /// `[{"catalogId", "recordId"}, {"catalogId", "filters": …}]`: linked to any of these.
    fn links(
        &mut self,
        f: &FieldDef,
        v: &Value,
        lenient: bool,
        scope: &dyn Scope,
        path: &Path,
        depth: usize,
    ) -> Res<Filter> {
        let field = FieldRef::of(f);
        let mut links = Vec::new();
        let mut empty = false;
        let single = !v.is_array();
        for (i, it) in elements(v).into_iter().enumerate() {
            let at = if single { *path } else { path.index(i) };
            self.count(&at)?;
            if is_null(it, lenient) {
                empty = true;
                continue;
            }
            let (it, lenient) = expand(it, lenient, &at)?;
            let Value::Object(m) = &*it else {
                return Err(err(
                    Kind::InvalidValue,
                    &at,
                    format!(
                        "a linked-record filter lists {{\"catalogId\", \"recordId\"}} or {{\"catalogId\", \"filters\"}}, not {}",
                        kind_of(&it)
                    ),
                ));
            };
            let cat_path = at.key("catalogId");
            let catalog_id = m.get("catalogId").and_then(id_from_json).ok_or_else(|| {
                err(
                    Kind::InvalidValue,
                    &cat_path,
                    "a linked-record filter needs the catalogId of the linked record",
                )
            })?;
            let linked = scope.linked(f, &catalog_id).ok_or_else(|| {
                err(
                    Kind::InvalidValue,
                    &cat_path,
                    format!(
                        "catalog {catalog_id:?} is not a source of the field {:?}",
                        f.id
                    ),
                )
            })?;
            let record_id = match m.get("recordId") {
                None | Some(Value::Null) => None,
                Some(r) if is_blank(r) => None,
                Some(r) => Some(id_from_json(r).ok_or_else(|| {
                    err(
                        Kind::InvalidValue,
                        &at.key("recordId"),
                        format!("a record id is a string or a number, not {}", kind_of(r)),
                    )
                })?),
            };
            let filter = match m.get("filters") {
                None => None,
                Some(sub) => {
                    let parsed = self.conditions(
                        sub,
                        lenient,
                        linked.scope.as_ref(),
                        &at.key("filters"),
                        depth,
                    )?;
                    (!parsed.is_all()).then(|| Box::new(parsed))
                }
            };
            links.push(LinkCond {
                catalog_db_id: linked.catalog_db_id,
                record_id,
                filter,
            });
        }
        let mut parts = Vec::new();
        if !links.is_empty() {
            parts.push(Filter::Field(field.clone(), Cond::Links(links)));
        }
        if empty {
            parts.push(Filter::Field(field, Cond::Empty));
        }
        Ok(Filter::or(parts))
    }
}

/// An object keyed by positions whose entries are all `{fieldId|attr, value}` conditions.
fn array_like(m: &Map<String, Value>) -> bool {
    !m.is_empty()
        && m.iter().all(|(k, v)| {
            !k.is_empty()
                && k.len() <= 9
                && k.bytes().all(|b| b.is_ascii_digit())
                && v.as_object()
                    .is_some_and(|o| o.contains_key("fieldId") || o.contains_key("attr"))
        })
}

fn reject_other_keys(m: &Map<String, Value>, allowed: &[&str], path: &Path) -> Res<()> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(err(
            Kind::InvalidValue,
            &path.key(k),
            format!("a range has only the keys {allowed:?}"),
        )),
        None => Ok(()),
    }
}

/// A number or a numeric string; `None` for `null` and `""` (an absent bound).
fn number(v: &Value, path: &Path) -> Res<Option<f64>> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64(),
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => s.trim().replace(',', ".").parse::<f64>().ok(),
        other => {
            return Err(err(
                Kind::InvalidValue,
                path,
                format!("expected a number, not {}", kind_of(other)),
            ))
        }
    };
    match n {
        Some(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(err(
            Kind::InvalidValue,
            path,
            format!("expected a number, got {v}"),
        )),
    }
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) if n.as_i64() == Some(1) => Some(true),
        Value::Number(n) if n.as_i64() == Some(0) => Some(false),
        Value::String(s) => match s.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// An item id as the field stores it: the id itself, or (all digits) the item's `dbId`.
fn resolve_item(f: &FieldDef, known: &[&str], id: &str) -> Option<String> {
    if known.contains(&id) {
        return Some(id.to_string());
    }
    if !is_numeric(id) {
        return None;
    }
    f.config
        .get("items")?
        .as_array()?
        .iter()
        .find(|it| {
            it.get("dbId")
                .and_then(Value::as_i64)
                .map(|d| d.to_string())
                .as_deref()
                == Some(id)
        })
        .and_then(|it| it.get("id").and_then(Value::as_str))
        .map(str::to_string)
}
