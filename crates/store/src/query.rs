//! Record queries: a filter ([`Filter`]), quick search, an id list, a sort and a page,
//! compiled to one SQL statement per backend. Everything is decided in SQL; nothing is
//! filtered in memory.
//!
//! Column-stored fields are compared in `catalog_{dbId}_data`; multi-valued fields are tested
//! with subqueries on `_links` and `_contacts`, and item/user lists (JSON text columns) with
//! `json_each` on SQLite and `jsonb` containment on PostgreSQL (indexable with GIN there).
//! Case-insensitive matching goes through [`Dialect::lower`].
//!
//! Indexes ([`field_index`]) follow the same expressions, so that a range on a number or a
//! date, a radiobutton choice, a sort by a number or date (and on PostgreSQL item and user
//! containment and a sort by text) can use them; `docs/filters.md` shows the plans.

use kartoteka_filter::{Cond, FieldRef, Filter, LinkCond, UserRef};
use kartoteka_model::field::items::item_ids;
use kartoteka_model::field::{FieldDef, FieldType, Storage};
use kartoteka_model::ids::as_db_id;
use kartoteka_model::time::format_ms;
use kartoteka_model::value::phone_digits;
use serde_json::Value;

use crate::aux::USERS_CATALOG;
use crate::conn::{ident, Conn, Dialect};
use crate::error::StoreError;
use crate::schema::{contacts_table, data_table, links_table};
use crate::search::contains_pattern;
use crate::value::DbValue;

/// Which records of a catalog to list, in what order.
#[derive(Debug, Clone)]
pub struct RecordQuery {
    pub filter: Filter,
    /// Quick search (`searchText`): a case-insensitive substring of text fields, contact
    /// values and comments, addresses, linked-record and user titles; all digits also
    /// matches the record id.
    pub search: Option<String>,
    /// Only these records (public ids: custom ids or `dbId`s).
    pub ids: Option<Vec<String>>,
    /// `None`: newest first.
    pub sort: Option<Sort>,
    pub limit: i64,
    pub offset: i64,
    /// The caller's `$users` `dbId`, for `CURRENT_USER`.
    pub current_user: Option<i64>,
}

impl RecordQuery {
    /// Every record, newest first.
    pub fn page(limit: i64, offset: i64) -> RecordQuery {
        RecordQuery {
            filter: Filter::All,
            search: None,
            ids: None,
            sort: None,
            limit,
            offset,
            current_user: None,
        }
    }
}

/// Sort by a field (`sortField`, `sortType`). Empty values come last in both directions;
/// ties are broken by `dbId`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub field_db_id: i64,
    pub descending: bool,
}

/// The alias of the catalog's data table in every statement built here.
const D: &str = "d";

struct Compiler {
    d: Dialect,
    params: Vec<DbValue>,
    current_user: Option<i64>,
    /// Suffix of the next subquery alias.
    next_alias: usize,
}

fn col(alias: &str, column: &str) -> String {
    format!("{alias}.{}", ident(column))
}

fn json_items(ids: &[&str]) -> String {
    Value::Array(ids.iter().map(|s| Value::String(s.to_string())).collect()).to_string()
}

/// True when a contact needle is a phone number to compare by digits: it has digits and no
/// letters.
fn phone_like(needle: &str) -> bool {
    needle.chars().any(|c| c.is_ascii_digit()) && !needle.chars().any(char::is_alphabetic)
}

impl Compiler {
    fn new(d: Dialect, current_user: Option<i64>) -> Compiler {
        Compiler {
            d,
            params: Vec::new(),
            current_user,
            next_alias: 0,
        }
    }

    fn alias(&mut self, prefix: &str) -> String {
        self.next_alias += 1;
        format!("{prefix}{}", self.next_alias)
    }

    fn param(&mut self, v: impl Into<DbValue>) -> &'static str {
        self.params.push(v.into());
        "?"
    }

    fn like(&mut self, expr: &str, needle: &str) -> String {
        let l = self.d.lower(expr);
        let p = self.param(contains_pattern(needle));
        format!("{l} LIKE {p} ESCAPE '\\'")
    }

    /// The first element of a JSON list column, as text (SQLite gives it its JSON type).
    fn first_json(&self, c: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("json_extract({c}, '$[0]')"),
            Dialect::Postgres => format!("({c}::jsonb ->> 0)"),
        }
    }

    fn address_value(&self, c: &str) -> String {
        match self.d {
            Dialect::Sqlite => format!("json_extract({c}, '$.value')"),
            Dialect::Postgres => format!("({c}::jsonb ->> 'value')"),
        }
    }

    fn filter(&mut self, f: &Filter, alias: &str, catalog: i64) -> String {
        match f {
            Filter::All => "1 = 1".into(),
            Filter::And(parts) | Filter::Or(parts) => {
                let op = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let sql: Vec<String> = parts
                    .iter()
                    .map(|p| self.filter(p, alias, catalog))
                    .collect();
                format!("({})", sql.join(op))
            }
            Filter::Field(field, cond) => self.cond(field, cond, alias, catalog),
            Filter::Not(inner) => {
                let sql = self.filter(inner, alias, catalog);
                format!("NOT COALESCE({sql}, FALSE)")
            }
            Filter::Records(ids) if ids.is_empty() => "1 = 0".into(),
            Filter::Records(ids) => {
                let marks: Vec<&str> = ids.iter().map(|i| self.param(*i)).collect();
                format!("{alias}.\"dbId\" IN ({})", marks.join(", "))
            }
            Filter::Nothing => "1 = 0".into(),
        }
    }

    fn cond(&mut self, f: &FieldRef, c: &Cond, alias: &str, catalog: i64) -> String {
        let cl = col(alias, &f.column);
        let id = format!("{alias}.\"dbId\"");
        match c {
            Cond::Empty => self.empty(f, &cl, &id, catalog),
            Cond::Contains(needle) => {
                let expr = if f.field_type == FieldType::Address {
                    self.address_value(&cl)
                } else {
                    cl
                };
                self.like(&expr, needle)
            }
            Cond::Contact(needle) => {
                let x = self.alias("c");
                let mut test = vec![self.like(&format!("{x}.contact"), needle)];
                let digits = phone_digits(needle);
                if phone_like(needle) && !digits.is_empty() {
                    let p = self.param(contains_pattern(&digits));
                    test.push(format!("{x}.digits LIKE {p} ESCAPE '\\'"));
                    // A number typed with the trunk prefix (8-926-…) starts the stored 7-number.
                    if let Some(rest) = digits.strip_prefix('8').filter(|r| !r.is_empty()) {
                        let p = self.param(format!("7{rest}%"));
                        test.push(format!("{x}.digits LIKE {p}"));
                    }
                }
                format!(
                    "{id} IN (SELECT {x}.\"recordDbId\" FROM {} {x} WHERE {x}.\"fieldDbId\" = {} AND ({}))",
                    contacts_table(catalog),
                    f.db_id,
                    test.join(" OR ")
                )
            }
            Cond::Range { at, to } => {
                // Stars are whole numbers in an integer column: compare with whole bounds.
                let whole = f.field_type == FieldType::Stars;
                let mut parts = Vec::new();
                if let Some(a) = at {
                    let p = if whole {
                        self.param(a.ceil() as i64)
                    } else {
                        self.param(*a)
                    };
                    parts.push(format!("{cl} >= {p}"));
                }
                if let Some(t) = to {
                    let p = if whole {
                        self.param(t.floor() as i64)
                    } else {
                        self.param(*t)
                    };
                    parts.push(format!("{cl} <= {p}"));
                }
                bounds(parts)
            }
            Cond::Dates { at, to } => {
                let mut parts = Vec::new();
                if let Some(a) = at {
                    let p = self.param(format_ms(*a));
                    parts.push(format!("{cl} >= {p}"));
                }
                if let Some(t) = to {
                    let p = self.param(format_ms(*t));
                    parts.push(format!("{cl} <= {p}"));
                }
                bounds(parts)
            }
            Cond::AnyItem(ids) => {
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                if f.field_type == FieldType::Radiobutton
                    || (f.field_type == FieldType::Dropdown && !f.multiple)
                {
                    // A radiobutton, or a dropdown without `multiselect`, holds at most one
                    // item: its stored list is exactly `["<id>"]`, an equality an index
                    // answers (a radiobutton's own, a dropdown's owner indexes).
                    let marks: Vec<&str> =
                        ids.iter().map(|i| self.param(json_items(&[*i]))).collect();
                    return format!("{cl} IN ({})", marks.join(", "));
                }
                self.has_any(
                    &cl,
                    ids.iter().map(|i| DbValue::Text(i.to_string())).collect(),
                )
            }
            Cond::AllItems(ids) => match self.d {
                Dialect::Postgres => {
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    let p = self.param(json_items(&ids));
                    format!("{cl}::jsonb @> {p}::jsonb")
                }
                Dialect::Sqlite => {
                    let parts: Vec<String> = ids
                        .iter()
                        .map(|i| {
                            let p = self.param(i.as_str());
                            format!("EXISTS (SELECT 1 FROM json_each({cl}) WHERE value = {p})")
                        })
                        .collect();
                    format!("({})", parts.join(" AND "))
                }
            },
            Cond::Stars(counts) => {
                let marks: Vec<&str> = counts.iter().map(|n| self.param(*n)).collect();
                format!("{cl} IN ({})", marks.join(", "))
            }
            Cond::Switch(true) => format!("{cl} = TRUE"),
            Cond::Switch(false) => format!("({cl} IS NULL OR {cl} = FALSE)"),
            Cond::Files(true) => format!("({cl} IS NOT NULL AND {cl} <> '[]')"),
            Cond::Files(false) => format!("({cl} IS NULL OR {cl} = '[]')"),
            Cond::Users(users) => self.users(f, &cl, users),
            Cond::Links(links) => {
                let parts: Vec<String> = links
                    .iter()
                    .map(|l| self.link(f, l, &id, catalog))
                    .collect();
                format!("({})", parts.join(" OR "))
            }
        }
    }

    fn empty(&mut self, f: &FieldRef, cl: &str, id: &str, catalog: i64) -> String {
        match f.field_type {
            FieldType::Text => format!("({cl} IS NULL OR {cl} = '')"),
            FieldType::Dropdown
            | FieldType::Checkboxes
            | FieldType::Radiobutton
            | FieldType::User
            | FieldType::File => format!("({cl} IS NULL OR {cl} = '[]')"),
            FieldType::Switch => format!("({cl} IS NULL OR {cl} = FALSE)"),
            FieldType::Contact => format!(
                "NOT EXISTS (SELECT 1 FROM {} x WHERE x.\"recordDbId\" = {id} AND x.\"fieldDbId\" = {})",
                contacts_table(catalog),
                f.db_id
            ),
            FieldType::Object => format!(
                "NOT EXISTS (SELECT 1 FROM {} x WHERE x.\"recordDbId\" = {id} AND x.\"fieldDbId\" = {})",
                links_table(catalog),
                f.db_id
            ),
            FieldType::Group | FieldType::Button | FieldType::Iframe => "1 = 1".into(),
            _ => format!("{cl} IS NULL"),
        }
    }

    /// The JSON list in `cl` contains at least one of `values` (strings for items, integers
    /// for users).
    fn has_any(&mut self, cl: &str, values: Vec<DbValue>) -> String {
        if values.is_empty() {
            return "1 = 0".into();
        }
        match self.d {
            // Item ids are stored as a JSON list of strings: an id that JSON writes without
            // escapes is in the list exactly when `"id"` is in its text. A substring test is
            // much cheaper than expanding the list with json_each for every row.
            Dialect::Sqlite if values.iter().all(plain_json_string) => {
                let parts: Vec<String> = values
                    .into_iter()
                    .map(|v| match v {
                        DbValue::Text(t) => {
                            let p = self.param(format!("\"{t}\""));
                            format!("instr({cl}, {p}) > 0")
                        }
                        _ => "1 = 0".into(),
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
            Dialect::Sqlite => {
                // Employees are stored as a JSON list of numbers: a number is in the list only
                // if its digits are in the text, a cheap test that spares the json_each of
                // most rows; json_each then decides exactly.
                let digits: Vec<String> = values
                    .iter()
                    .filter_map(|v| match v {
                        DbValue::Int(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                let prefilter = (digits.len() == values.len()).then(|| {
                    let parts: Vec<String> = digits
                        .into_iter()
                        .map(|d| format!("instr({cl}, {}) > 0", self.param(d)))
                        .collect();
                    parts.join(" OR ")
                });
                let marks: Vec<&str> = values.into_iter().map(|v| self.param(v)).collect();
                let exact = format!(
                    "EXISTS (SELECT 1 FROM json_each({cl}) WHERE value IN ({}))",
                    marks.join(", ")
                );
                match prefilter {
                    Some(p) => format!("(({p}) AND {exact})"),
                    None => exact,
                }
            }
            Dialect::Postgres => {
                let parts: Vec<String> = values
                    .into_iter()
                    .map(|v| {
                        let one = Value::Array(vec![match v {
                            DbValue::Int(i) => Value::from(i),
                            DbValue::Text(s) => Value::String(s),
                            _ => Value::Null,
                        }]);
                        let p = self.param(one.to_string());
                        format!("{cl}::jsonb @> {p}::jsonb")
                    })
                    .collect();
                format!("({})", parts.join(" OR "))
            }
        }
    }

    fn users(&mut self, f: &FieldRef, cl: &str, users: &[UserRef]) -> String {
        let mut ids = Vec::new();
        let mut custom = Vec::new();
        for u in users {
            match u {
                UserRef::Current => ids.extend(self.current_user.map(DbValue::Int)),
                UserRef::Id(s) => match as_db_id(s) {
                    Some(n) => ids.push(DbValue::Int(n)),
                    None => custom.push(s.clone()),
                },
            }
        }
        let mut parts = Vec::new();
        if !ids.is_empty() && !f.multiple {
            // A single-valued field stores one employee as `[dbId]`: the list compared as a
            // whole, which the field's owner indexes serve (see `owner_indexes`).
            let lists: Vec<&str> = ids
                .into_iter()
                .filter_map(|v| match v {
                    DbValue::Int(n) => Some(self.param(format!("[{n}]"))),
                    _ => None,
                })
                .collect();
            parts.push(match lists.as_slice() {
                [one] => format!("{cl} = {one}"),
                many => format!("{cl} IN ({})", many.join(", ")),
            });
        } else if !ids.is_empty() {
            parts.push(self.has_any(cl, ids));
        }
        for c in custom {
            // A custom user id: the user's dbId is looked up in the same statement.
            let lookup = format!(
                "(SELECT u.\"dbId\" FROM {} u WHERE u.id = {})",
                data_table(USERS_CATALOG),
                self.param(c)
            );
            parts.push(match self.d {
                Dialect::Sqlite => {
                    format!("EXISTS (SELECT 1 FROM json_each({cl}) WHERE value = {lookup})")
                }
                Dialect::Postgres => format!("{cl}::jsonb @> jsonb_build_array({lookup})"),
            });
        }
        if parts.is_empty() {
            return "1 = 0".into();
        }
        format!("({})", parts.join(" OR "))
    }

    fn link(&mut self, f: &FieldRef, l: &LinkCond, id: &str, catalog: i64) -> String {
        let la = self.alias("l");
        let target = data_table(l.catalog_db_id);
        let mut sql = format!(
            "{id} IN (SELECT {la}.\"recordDbId\" FROM {} {la}",
            links_table(catalog)
        );
        let xa = self.alias("x");
        if l.filter.is_some() {
            sql.push_str(&format!(
                " JOIN {target} {xa} ON {xa}.\"dbId\" = {la}.\"linkRecordDbId\""
            ));
        }
        sql.push_str(&format!(
            " WHERE {la}.\"fieldDbId\" = {} AND {la}.\"linkCatalogDbId\" = {}",
            f.db_id, l.catalog_db_id
        ));
        if let Some(r) = &l.record_id {
            match as_db_id(r) {
                Some(n) => {
                    let p = self.param(n);
                    sql.push_str(&format!(" AND {la}.\"linkRecordDbId\" = {p}"));
                }
                None => {
                    let p = self.param(r.as_str());
                    sql.push_str(&format!(
                        " AND {la}.\"linkRecordDbId\" IN (SELECT t.\"dbId\" FROM {target} t WHERE t.id = {p})"
                    ));
                }
            }
        }
        if let Some(sub) = &l.filter {
            let cond = self.filter(sub, &xa, l.catalog_db_id);
            sql.push_str(&format!(" AND {cond}"));
        }
        sql.push(')');
        sql
    }

    /// Quick search over the catalog's text-like fields.
    fn search(&mut self, fields: &[FieldDef], needle: &str, catalog: i64) -> String {
        let id = format!("{D}.\"dbId\"");
        let mut parts = Vec::new();
        for f in fields {
            let cl = col(D, &f.column);
            match f.field_type {
                FieldType::Text => parts.push(self.like(&cl, needle)),
                FieldType::Address => {
                    let v = self.address_value(&cl);
                    parts.push(self.like(&v, needle));
                }
                FieldType::User => {
                    let lower = self.d.lower("t.title");
                    let p = self.param(contains_pattern(needle));
                    let users = format!(
                        "SELECT t.\"recordDbId\" FROM titles t WHERE t.\"catalogDbId\" = {USERS_CATALOG} AND t.deleted = FALSE AND {lower} LIKE {p} ESCAPE '\\'"
                    );
                    parts.push(match self.d {
                        Dialect::Sqlite => format!(
                            "EXISTS (SELECT 1 FROM json_each({cl}) WHERE value IN ({users}))"
                        ),
                        Dialect::Postgres => format!(
                            "EXISTS (SELECT 1 FROM jsonb_array_elements({cl}::jsonb) j(v) WHERE j.v IN (SELECT to_jsonb(u.\"recordDbId\") FROM ({users}) u))"
                        ),
                    });
                }
                _ => {}
            }
        }
        if fields.iter().any(|f| f.field_type == FieldType::Contact) {
            let contact = self.like("s.contact", needle);
            let comment = self.like("s.comment", needle);
            let mut test = format!("{contact} OR {comment}");
            let digits = phone_digits(needle);
            if phone_like(needle) && !digits.is_empty() {
                let p = self.param(contains_pattern(&digits));
                test.push_str(&format!(" OR s.digits LIKE {p} ESCAPE '\\'"));
            }
            parts.push(format!(
                "{id} IN (SELECT s.\"recordDbId\" FROM {} s WHERE {test})",
                contacts_table(catalog)
            ));
        }
        if fields.iter().any(|f| f.field_type == FieldType::Object) {
            let title = self.like("t.title", needle);
            parts.push(format!(
                "{id} IN (SELECT l.\"recordDbId\" FROM {} l JOIN titles t ON t.\"catalogDbId\" = l.\"linkCatalogDbId\" AND t.\"recordDbId\" = l.\"linkRecordDbId\" WHERE {title})",
                links_table(catalog)
            ));
        }
        if let Some(n) = as_db_id(needle.trim()) {
            let p = self.param(n);
            parts.push(format!("{id} = {p}"));
        }
        if parts.is_empty() {
            return "1 = 0".into();
        }
        format!("({})", parts.join(" OR "))
    }

    fn ids(&mut self, ids: &[String]) -> String {
        let (nums, custom): (Vec<&String>, Vec<&String>) =
            ids.iter().partition(|i| as_db_id(i).is_some());
        let mut parts = Vec::new();
        if !nums.is_empty() {
            let marks: Vec<&str> = nums
                .iter()
                .filter_map(|i| as_db_id(i))
                .map(|n| self.param(n))
                .collect();
            parts.push(format!("{D}.\"dbId\" IN ({})", marks.join(", ")));
        }
        if !custom.is_empty() {
            let marks: Vec<&str> = custom.iter().map(|i| self.param(i.as_str())).collect();
            parts.push(format!("{D}.id IN ({})", marks.join(", ")));
        }
        if parts.is_empty() {
            return "1 = 0".into();
        }
        format!("({})", parts.join(" OR "))
    }

    /// The WHERE condition of a query (without the keyword).
    fn where_clause(&mut self, catalog: i64, fields: &[FieldDef], q: &RecordQuery) -> String {
        let mut parts = Vec::new();
        if !q.filter.is_all() {
            parts.push(self.filter(&q.filter, D, catalog));
        }
        if let Some(s) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            parts.push(self.search(fields, s, catalog));
        }
        if let Some(ids) = &q.ids {
            parts.push(self.ids(ids));
        }
        if parts.is_empty() {
            "1 = 1".into()
        } else {
            parts.join(" AND ")
        }
    }

    /// The ORDER BY list (without the keyword).
    fn order(&mut self, catalog: i64, fields: &[FieldDef], sort: Option<Sort>) -> String {
        let newest = format!("{D}.\"dbId\" DESC");
        let Some(s) = sort else {
            return newest;
        };
        let Some(f) = fields.iter().find(|f| f.db_id == s.field_db_id) else {
            return newest;
        };
        let Some(key) = self.sort_key(catalog, f) else {
            return newest;
        };
        let dir = if s.descending { "DESC" } else { "ASC" };
        format!("{key} {dir} NULLS LAST, {newest}")
    }

    /// The sort key of a field; `NULL` for an empty value (sorted last). `None` for fields
    /// that cannot be sorted by.
    fn sort_key(&mut self, catalog: i64, f: &FieldDef) -> Option<String> {
        let cl = col(D, &f.column);
        let id = format!("{D}.\"dbId\"");
        Some(match f.field_type {
            FieldType::Text => text_key(self.d, &cl),
            FieldType::Number | FieldType::Progress | FieldType::Stars | FieldType::Date => cl,
            FieldType::Switch => format!("COALESCE({cl}, FALSE)"),
            FieldType::Address => {
                let v = self.address_value(&cl);
                text_key(self.d, &v)
            }
            FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
                // By the first chosen item's position in the field's items (values are kept
                // in item order, so the first is the earliest).
                let items = item_ids(&f.config);
                if items.is_empty() {
                    return None;
                }
                let first = self.first_json(&cl);
                let mut case = format!("CASE {first}");
                for (i, it) in items.iter().enumerate() {
                    let p = self.param(*it);
                    case.push_str(&format!(" WHEN {p} THEN {i}"));
                }
                case.push_str(" END");
                case
            }
            FieldType::User => {
                let first = match self.d {
                    Dialect::Sqlite => self.first_json(&cl),
                    Dialect::Postgres => format!("{}::bigint", self.first_json(&cl)),
                };
                format!(
                    "(SELECT {} FROM titles t WHERE t.\"catalogDbId\" = {USERS_CATALOG} AND t.\"recordDbId\" = {first})",
                    self.d.lower("t.title")
                )
            }
            FieldType::File => {
                let first = match self.d {
                    Dialect::Sqlite => self.first_json(&cl),
                    Dialect::Postgres => format!("{}::bigint", self.first_json(&cl)),
                };
                format!(
                    "(SELECT {} FROM files fl WHERE fl.\"dbId\" = {first})",
                    self.d.lower("fl.title")
                )
            }
            FieldType::Object => format!(
                "(SELECT {} FROM {} l JOIN titles t ON t.\"catalogDbId\" = l.\"linkCatalogDbId\" AND t.\"recordDbId\" = l.\"linkRecordDbId\" WHERE l.\"recordDbId\" = {id} AND l.\"fieldDbId\" = {} ORDER BY l.position LIMIT 1)",
                self.d.lower("t.title"),
                links_table(catalog),
                f.db_id
            ),
            FieldType::Contact => format!(
                "(SELECT {} FROM {} c WHERE c.\"recordDbId\" = {id} AND c.\"fieldDbId\" = {} ORDER BY c.position LIMIT 1)",
                self.d.lower("c.contact"),
                contacts_table(catalog),
                f.db_id
            ),
            FieldType::Group | FieldType::Button | FieldType::Iframe => return None,
        })
    }
}

fn bounds(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "1 = 1".into()
    } else {
        format!("({})", parts.join(" AND "))
    }
}

/// The sort key of text: lower-cased, with `""` as `NULL` so that empty text sorts last.
/// The PostgreSQL index of a text field is on this same expression.
fn text_key(d: Dialect, expr: &str) -> String {
    format!("NULLIF({}, '')", d.lower(expr))
}

/// True when a field can be sorted by (every field that holds a value).
pub fn sortable(f: &FieldDef) -> bool {
    f.field_type.has_value() && f.field_type != FieldType::Group
}

/// A compiled statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<DbValue>,
}

/// `SELECT <columns> FROM catalog_{dbId}_data d WHERE … ORDER BY … LIMIT ? OFFSET ?`;
/// `columns` are expressions over the alias `d`.
pub fn select(
    d: Dialect,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
    columns: &str,
) -> Statement {
    if let Some(st) = descending_by_index(d, catalog, fields, q, columns) {
        return st;
    }
    let mut c = Compiler::new(d, q.current_user);
    let w = c.where_clause(catalog, fields, q);
    let o = c.order(catalog, fields, q.sort);
    let mut params = c.params;
    params.push(q.limit.into());
    params.push(q.offset.into());
    Statement {
        sql: format!(
            "SELECT {columns} FROM {} {D} WHERE {w} ORDER BY {o} LIMIT ? OFFSET ?",
            data_table(catalog)
        ),
        params,
    }
}

/// The most rows of the sort order a probe reads.
pub const MAX_PROBE_ROWS: i64 = 100_000;

/// Rows of the sort order a first probe reads: enough for a page when a filter keeps about
/// one row in twenty, bounded so a probe that fails costs little.
pub fn probe_rows(q: &RecordQuery) -> i64 {
    ((q.offset + q.limit) * 20).clamp(1000, MAX_PROBE_ROWS)
}

/// The rows a second probe reads after a first one of `read` rows matched only `matched`
/// (fewer than a page): enough, at the same rate, for the page and a third more; `None`
/// when that is more than [`MAX_PROBE_ROWS`] (the planned statement is then cheaper) or
/// when nothing matched (no rate to go by).
pub fn next_probe_rows(q: &RecordQuery, read: i64, matched: i64) -> Option<i64> {
    if matched <= 0 {
        return None;
    }
    let want = (q.offset + q.limit).saturating_mul(read).saturating_mul(4) / (matched * 3);
    (want > read && want <= MAX_PROBE_ROWS).then_some(want)
}

/// On SQLite, a cheap first try at a filtered page in an order an index (or the row id)
/// gives: read the first rows in that order, keep those that match, and take the page from
/// them. When the probe yields a whole page, that page is exact (no later row can come
/// before it); otherwise the caller runs [`select`]. SQLite plans a filtered, sorted page
/// by the most selective-looking filter index and then sorts every match, which on a large
/// catalog with a broad filter reads far more rows than walking the sort order does.
/// `None` when no probe applies (PostgreSQL plans this well with its statistics).
pub fn probe_select(
    d: Dialect,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
    columns: &str,
    rows: i64,
) -> Option<Statement> {
    if d != Dialect::Sqlite || (q.filter.is_all() && q.search.is_none()) || q.ids.is_some() {
        return None;
    }
    let t = data_table(catalog);
    let sort_field = match q.sort {
        None => None,
        Some(s) => {
            let f = fields.iter().find(|f| f.db_id == s.field_db_id)?;
            if !matches!(
                f.field_type,
                FieldType::Number | FieldType::Progress | FieldType::Stars | FieldType::Date
            ) || field_index(d, catalog, f).is_none()
                || !f.filterable
            {
                return None;
            }
            Some((f, s.descending))
        }
    };
    // When every match holds one value of a single-valued user or dropdown field, the
    // probe walks only the records holding it (an owner index), in the same order.
    let owner = owner_conjunct(q, fields);
    let mut params = Vec::new();
    let mut conds = Vec::new();
    let by_index = sort_field.is_some() || owner.is_some();
    if let Some((u, stored)) = owner {
        conds.push(format!("{} = ?", ident(&u.column)));
        params.push(DbValue::Text(stored));
    }
    let order = match sort_field {
        None => "\"dbId\" DESC".to_string(),
        Some((f, descending)) => {
            let c = ident(&f.column);
            // Empty values sort last: a descending index walk gives them last already; an
            // ascending one would give them first, so they are left out of the probe.
            if descending {
                format!("{c} DESC, \"dbId\" DESC")
            } else {
                conds.push(format!("{c} IS NOT NULL"));
                format!("{c} ASC, \"dbId\" DESC")
            }
        }
    };
    let filter = if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    };
    // Along an index (the sort field's or an owner index) the walk reads the index alone and
    // each record is looked up by its id only as the page is filled; along the ids it reads
    // the records themselves.
    let from = if by_index {
        format!(
            "(SELECT \"dbId\" FROM {t}{filter} ORDER BY {order} LIMIT ?) p CROSS JOIN {t} {D} ON {D}.\"dbId\" = p.\"dbId\""
        )
    } else {
        format!("(SELECT * FROM {t}{filter} ORDER BY {order} LIMIT ?) {D}")
    };
    let mut c = Compiler::new(d, q.current_user);
    let w = c.where_clause(catalog, fields, q);
    params.push(DbValue::Int(rows));
    params.extend(c.params);
    params.push(q.limit.into());
    params.push(q.offset.into());
    // No outer ORDER BY: SQLite runs the walk as a co-routine and the outer loop takes its
    // rows in the walk's order (`CROSS JOIN` keeps the walk outermost), so the page ends as
    // soon as it is full: about a fifth of the walk when a filter keeps one record in five.
    // An outer sort would first read every row of the walk. `crates/store/tests/explain.rs`
    // pins that plan and the page's order.
    Some(Statement {
        sql: format!("SELECT {columns} FROM {from} WHERE {w} LIMIT ? OFFSET ?"),
        params,
    })
}

/// A condition every match of `q` meets that names one value of a single-valued field with
/// owner indexes (one employee of a user field, one item of a dropdown): the field and its
/// stored list (`[7]`, `["2"]`).
fn owner_conjunct<'a>(q: &RecordQuery, fields: &'a [FieldDef]) -> Option<(&'a FieldDef, String)> {
    let parts: &[Filter] = match &q.filter {
        Filter::And(parts) => parts,
        one => std::slice::from_ref(one),
    };
    parts.iter().find_map(|p| {
        let (fr, stored) = match p {
            Filter::Field(fr, Cond::Users(users)) => {
                let user = match users.as_slice() {
                    [UserRef::Current] => q.current_user?,
                    [UserRef::Id(s)] => as_db_id(s)?,
                    _ => return None,
                };
                (fr, format!("[{user}]"))
            }
            Filter::Field(fr, Cond::AnyItem(ids)) if fr.field_type == FieldType::Dropdown => {
                match ids.as_slice() {
                    [one] => (fr, json_items(&[one.as_str()])),
                    _ => return None,
                }
            }
            _ => return None,
        };
        let f = fields.iter().find(|f| f.db_id == fr.db_id)?;
        (owner_field(f) && !fr.multiple).then_some((f, stored))
    })
}

/// The `WHERE` condition of a query over the alias `d`, with its parameters (for
/// statements built elsewhere in the store, such as aggregates).
pub fn where_sql(d: Dialect, catalog: i64, fields: &[FieldDef], q: &RecordQuery) -> Statement {
    let mut c = Compiler::new(d, q.current_user);
    let sql = c.where_clause(catalog, fields, q);
    Statement {
        sql,
        params: c.params,
    }
}

/// How many records a query matches, counting no further than `cap + 1`: the exact number
/// when it is at most `cap`, else `cap + 1`.
pub fn count_upto(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
    cap: i64,
) -> Result<i64, StoreError> {
    let mut c = Compiler::new(conn.dialect(), q.current_user);
    let w = c.where_clause(catalog, fields, q);
    let mut params = c.params;
    params.push((cap + 1).into());
    let sql = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {} {D} WHERE {w} LIMIT ?) n",
        data_table(catalog)
    );
    conn.query_one(&sql, &params)?.int(0)
}

/// A text value JSON writes as itself between quotes (no escapes).
fn plain_json_string(v: &DbValue) -> bool {
    matches!(v, DbValue::Text(t) if !t.is_empty() && t.chars().all(|c| c != '"' && c != '\\' && !c.is_control()))
}

/// A descending sort by an indexed key on PostgreSQL. A B-tree read backwards gives
/// `DESC NULLS FIRST`, so `DESC NULLS LAST` alone would sort every match; instead the page
/// is taken from the records with a key (read backwards along the index) and those without
/// one (newest first), at most `offset + limit` of each, and only those are merged.
/// SQLite reads its indexes backwards with empty values last already.
fn descending_by_index(
    d: Dialect,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
    columns: &str,
) -> Option<Statement> {
    let s = q.sort.filter(|s| s.descending && d == Dialect::Postgres)?;
    let f = fields.iter().find(|f| f.db_id == s.field_db_id)?;
    let key = match f.field_type {
        FieldType::Number | FieldType::Progress | FieldType::Stars | FieldType::Date => {
            col(D, &f.column)
        }
        FieldType::Text => text_key(d, &col(D, &f.column)),
        _ => return None,
    };
    let t = data_table(catalog);
    let mut c = Compiler::new(d, q.current_user);
    let w1 = c.where_clause(catalog, fields, q);
    c.params.push((q.offset + q.limit).into());
    let w2 = c.where_clause(catalog, fields, q);
    let mut params = c.params;
    params.push((q.offset + q.limit).into());
    params.push(q.limit.into());
    params.push(q.offset.into());
    Some(Statement {
        sql: format!(
            "SELECT {columns} FROM (\
             (SELECT {D}.*, {key} AS kt_sort_key FROM {t} {D} WHERE ({w1}) AND {key} IS NOT NULL ORDER BY {key} DESC, {D}.\"dbId\" DESC LIMIT ?) \
             UNION ALL \
             (SELECT {D}.*, NULL AS kt_sort_key FROM {t} {D} WHERE ({w2}) AND {key} IS NULL ORDER BY {D}.\"dbId\" DESC LIMIT ?)\
             ) {D} ORDER BY {D}.kt_sort_key DESC NULLS LAST, {D}.\"dbId\" DESC LIMIT ? OFFSET ?"
        ),
        params,
    })
}

/// The WHERE condition (without the keyword) that `q` puts on `catalog_{dbId}_data d`, for
/// statements built elsewhere in this crate (aggregates); its parameters are appended to
/// `params`. The page and the sort of `q` are not used.
pub(crate) fn condition(
    d: Dialect,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
    params: &mut Vec<DbValue>,
) -> String {
    let mut c = Compiler::new(d, q.current_user);
    let w = c.where_clause(catalog, fields, q);
    params.append(&mut c.params);
    w
}

/// `SELECT COUNT(*)` of the records a query matches, ignoring its page.
pub fn count_statement(
    d: Dialect,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
) -> Statement {
    let mut c = Compiler::new(d, q.current_user);
    let w = c.where_clause(catalog, fields, q);
    Statement {
        sql: format!("SELECT COUNT(*) FROM {} {D} WHERE {w}", data_table(catalog)),
        params: c.params,
    }
}

/// How many records a query matches, ignoring its page.
pub fn count(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
) -> Result<i64, StoreError> {
    let st = count_statement(conn.dialect(), catalog, fields, q);
    conn.query_one(&st.sql, &st.params)?.int(0)
}

/// The `dbId`s of the page of records a query selects, in order.
pub fn page_ids(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
) -> Result<Vec<i64>, StoreError> {
    let st = select(conn.dialect(), catalog, fields, q, "d.\"dbId\"");
    conn.query(&st.sql, &st.params)?
        .iter()
        .map(|r| r.int(0))
        .collect()
}

/// The backend's plan for the page a query selects (`EXPLAIN QUERY PLAN` / `EXPLAIN`), one
/// line per row: for documentation and tests of index use.
pub fn explain(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
) -> Result<String, StoreError> {
    let st = select(conn.dialect(), catalog, fields, q, "d.\"dbId\"");
    explain_statement(conn, &st)
}

/// The plan of the probe [`probe_select`] would run first for `q`; `None` when none applies.
pub fn explain_probe(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    q: &RecordQuery,
) -> Result<Option<String>, StoreError> {
    let d = conn.dialect();
    match probe_select(d, catalog, fields, q, "d.\"dbId\"", probe_rows(q)) {
        Some(st) => explain_statement(conn, &st).map(Some),
        None => Ok(None),
    }
}

pub(crate) fn explain_statement(conn: &mut dyn Conn, st: &Statement) -> Result<String, StoreError> {
    let d = conn.dialect();
    let prefix = match d {
        Dialect::Sqlite => "EXPLAIN QUERY PLAN ",
        Dialect::Postgres => "EXPLAIN ",
    };
    let rows = conn.query(&format!("{prefix}{}", st.sql), &st.params)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // SQLite: (id, parent, notused, detail); PostgreSQL: one text column.
        let line = match d {
            Dialect::Sqlite => r.text(3)?,
            Dialect::Postgres => r.text(0)?,
        };
        out.push(line);
    }
    Ok(out.join("\n"))
}

/// The name of a field's index.
pub fn index_name(catalog: i64, f: &FieldDef) -> String {
    format!("catalog_{catalog}_ix_{}", f.db_id)
}

/// The index a field gets for filtering and sorting, when its type has one on this backend:
/// numbers, progress, stars, dates and radiobuttons everywhere; on PostgreSQL also text (the
/// sort key) and GIN over dropdown, checkboxes and user lists (containment). SQLite cannot
/// index a substring or a JSON list element, so text, item and user fields get none there.
pub fn field_index(d: Dialect, catalog: i64, f: &FieldDef) -> Option<String> {
    if !matches!(f.field_type.storage(), Storage::Column(_)) {
        return None;
    }
    let c = ident(&f.column);
    let on = match (f.field_type, d) {
        (
            FieldType::Number
            | FieldType::Progress
            | FieldType::Stars
            | FieldType::Date
            | FieldType::Radiobutton,
            _,
        ) => format!("({c})"),
        (FieldType::Text, Dialect::Postgres) => format!("(({}))", text_key(d, &c)),
        (FieldType::Dropdown | FieldType::Checkboxes | FieldType::User, Dialect::Postgres) => {
            format!("USING gin (({c}::jsonb) jsonb_path_ops)")
        }
        _ => return None,
    };
    Some(format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} {on}",
        index_name(catalog, f),
        data_table(catalog)
    ))
}

/// The key fields an owner index pairs a user field with: the fields whose own index serves
/// a range or a sort (numbers, progress, stars, dates, radiobuttons), when filterable.
fn owner_key_field(d: Dialect, catalog: i64, f: &FieldDef) -> bool {
    matches!(
        f.field_type,
        FieldType::Number
            | FieldType::Progress
            | FieldType::Stars
            | FieldType::Date
            | FieldType::Radiobutton
    ) && f.filterable
        && field_index(d, catalog, f).is_some()
}

/// True when `f` is a field that owner indexes are kept for: a user field holding one
/// employee per record, or a dropdown holding one item (a status, a stage), filterable.
/// Conditions on either compare the stored list whole.
pub fn owner_field(f: &FieldDef) -> bool {
    matches!(f.field_type, FieldType::User | FieldType::Dropdown)
        && f.filterable
        && !f.multiselect()
}

fn owner_prefix(catalog: i64) -> String {
    format!("catalog_{catalog}_ox_")
}

/// The indexes that serve lists of one employee's records ("my deals": a rights view or a
/// filter `Owner = CURRENT_USER`): for every single-valued, filterable user field, one on
/// the field alone (newest first) and one on the field with each key field (the range or
/// sort of the list within that employee's records). A condition on such a field compares
/// the stored list as a whole (`f = '[7]'`), so the backend walks just that employee's
/// records, in the sort order, instead of every record. `(name, DDL)` pairs.
pub fn owner_indexes(d: Dialect, catalog: i64, fields: &[FieldDef]) -> Vec<(String, String)> {
    let t = data_table(catalog);
    // PostgreSQL's index carries the tiebreak of every sort; SQLite's carries the row id.
    let tail = match d {
        Dialect::Sqlite => "",
        Dialect::Postgres => ", \"dbId\"",
    };
    let mut out = Vec::new();
    for u in fields.iter().filter(|f| owner_field(f)) {
        let uc = ident(&u.column);
        let name = format!("{}{}", owner_prefix(catalog), u.db_id);
        out.push((
            name.clone(),
            format!("CREATE INDEX IF NOT EXISTS {name} ON {t} ({uc}{tail})"),
        ));
        for k in fields.iter().filter(|f| owner_key_field(d, catalog, f)) {
            let kc = ident(&k.column);
            let name = format!("{name}_{}", k.db_id);
            out.push((
                name.clone(),
                format!("CREATE INDEX IF NOT EXISTS {name} ON {t} ({uc}, {kc}{tail})"),
            ));
        }
    }
    out
}

/// The owner indexes a catalog has now.
fn existing_owner_indexes(conn: &mut dyn Conn, catalog: i64) -> Result<Vec<String>, StoreError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?",
        Dialect::Postgres => {
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?"
        }
    };
    let prefix = owner_prefix(catalog);
    let mut out = Vec::new();
    for r in conn.query(sql, &[data_table(catalog).into()])? {
        let name = r.text(0)?;
        if name.starts_with(&prefix) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Brings a catalog's owner indexes in line with its fields (see [`owner_indexes`]): creates
/// the missing ones, drops those no field calls for any more. DDL runs only for a change.
pub fn sync_owner_indexes(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
) -> Result<(), StoreError> {
    let wanted = owner_indexes(conn.dialect(), catalog, fields);
    let have = existing_owner_indexes(conn, catalog)?;
    for name in &have {
        if !wanted.iter().any(|(n, _)| n == name) {
            conn.batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
    }
    for (name, ddl) in wanted {
        if !have.contains(&name) {
            conn.batch(&ddl)?;
        }
    }
    Ok(())
}

/// Drops the owner indexes that include a field (before its column goes: SQLite refuses to
/// drop an indexed column). [`sync_owner_indexes`] afterwards restores what the remaining
/// fields call for.
pub fn drop_owner_indexes_of(
    conn: &mut dyn Conn,
    catalog: i64,
    field_db_id: i64,
) -> Result<(), StoreError> {
    let prefix = owner_prefix(catalog);
    let id = field_db_id.to_string();
    for name in existing_owner_indexes(conn, catalog)? {
        let parts = name.strip_prefix(&prefix).unwrap_or_default();
        if parts.split('_').any(|p| p == id) {
            conn.batch(&format!("DROP INDEX IF EXISTS {name}"))?;
        }
    }
    Ok(())
}

/// True when a record of the catalog holds more than one value (employees, items) in the
/// list field `f` (a field whose `multiselect` is to be switched off must not).
pub fn holds_several(conn: &mut dyn Conn, catalog: i64, f: &FieldDef) -> Result<bool, StoreError> {
    let c = ident(&f.column);
    let several = match conn.dialect() {
        Dialect::Sqlite => format!("json_array_length({c}) > 1"),
        Dialect::Postgres => format!("jsonb_array_length({c}::jsonb) > 1"),
    };
    let sql = format!(
        "SELECT 1 FROM {} WHERE {c} IS NOT NULL AND {several} LIMIT 1",
        data_table(catalog)
    );
    Ok(conn.query_opt(&sql, &[])?.is_some())
}

/// True when the index exists (in the current schema, on PostgreSQL).
fn index_exists(conn: &mut dyn Conn, name: &str) -> Result<bool, StoreError> {
    let sql = match conn.dialect() {
        Dialect::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
        Dialect::Postgres => {
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?"
        }
    };
    Ok(conn.query_opt(sql, &[name.into()])?.is_some())
}

/// Creates a field's index when the field is filterable, drops it otherwise (spec 01 §2.3:
/// `filterable`). DDL runs only when the index has to change, so rewriting a field's
/// definition takes no lock on its table.
pub fn sync_field_index(conn: &mut dyn Conn, catalog: i64, f: &FieldDef) -> Result<(), StoreError> {
    let Some(ddl) = field_index(conn.dialect(), catalog, f) else {
        return Ok(());
    };
    let name = index_name(catalog, f);
    match (f.filterable, index_exists(conn, &name)?) {
        (true, false) => conn.batch(&ddl),
        (false, true) => conn.batch(&format!("DROP INDEX IF EXISTS {name}")),
        _ => Ok(()),
    }
}

/// True when the field's index exists.
pub fn has_field_index(
    conn: &mut dyn Conn,
    catalog: i64,
    f: &FieldDef,
) -> Result<bool, StoreError> {
    index_exists(conn, &index_name(catalog, f))
}

/// Drops a field's index if it has one.
pub fn drop_field_index(conn: &mut dyn Conn, catalog: i64, f: &FieldDef) -> Result<(), StoreError> {
    let name = index_name(catalog, f);
    if index_exists(conn, &name)? {
        conn.batch(&format!("DROP INDEX IF EXISTS {name}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_probe_is_sized_by_the_rate_of_the_first() {
        let q = RecordQuery::page(100, 0);
        // 13 of 2,000 rows matched: ~20,500 rows give the page and a third more.
        assert_eq!(next_probe_rows(&q, 2000, 13), Some(20_512));
        // Nothing matched: no rate to go by.
        assert_eq!(next_probe_rows(&q, 2000, 0), None);
        // Past the bound the planned statement is cheaper.
        assert_eq!(next_probe_rows(&q, 2000, 2), None);
        // Nearly a page: a little more.
        assert_eq!(next_probe_rows(&q, 2000, 99), Some(2693));
        assert_eq!(probe_rows(&q), 2000);
    }
    use kartoteka_filter::FieldRef;
    use serde_json::json;

    fn field(db_id: i64, t: FieldType, config: Value) -> FieldDef {
        FieldDef {
            db_id,
            id: db_id.to_string(),
            prev_id: db_id.to_string(),
            duplicate: false,
            name: String::new(),
            field_type: t,
            hint: String::new(),
            required: false,
            api_only: false,
            filterable: true,
            history: true,
            hidden: false,
            comment: String::new(),
            config: config.as_object().cloned().unwrap_or_default(),
            visible: Value::Null,
            is_system: false,
            column: format!("f{db_id}"),
        }
    }

    fn marks(sql: &str) -> usize {
        sql.matches('?').count()
    }

    #[test]
    fn params_follow_the_placeholders() {
        let fields = vec![
            field(1, FieldType::Text, json!({})),
            field(2, FieldType::Number, json!({})),
            field(
                3,
                FieldType::Dropdown,
                json!({"items": [{"id": "1"}, {"id": "2"}]}),
            ),
            field(4, FieldType::Object, json!({})),
            field(5, FieldType::Contact, json!({})),
            field(6, FieldType::User, json!({})),
        ];
        let fr = |i: usize| FieldRef::of(&fields[i]);
        let filter = Filter::And(vec![
            Filter::Field(
                fr(1),
                Cond::Range {
                    at: Some(1.0),
                    to: Some(5.0),
                },
            ),
            Filter::Or(vec![
                Filter::Field(fr(2), Cond::AnyItem(vec!["1".into(), "2".into()])),
                Filter::Field(fr(4), Cond::Contact("8 926".into())),
            ]),
            Filter::Field(
                fr(3),
                Cond::Links(vec![LinkCond {
                    catalog_db_id: 7,
                    record_id: Some("abc".into()),
                    filter: Some(Box::new(Filter::Field(
                        FieldRef {
                            id: "9".into(),
                            db_id: 9,
                            column: "f9".into(),
                            field_type: FieldType::Text,
                            multiple: false,
                        },
                        Cond::Contains("x".into()),
                    ))),
                }]),
            ),
            Filter::Field(
                fr(5),
                Cond::Users(vec![UserRef::Current, UserRef::Id("me".into())]),
            ),
        ]);
        for (d, sort_by) in [
            (Dialect::Sqlite, 3),
            (Dialect::Postgres, 3),
            (Dialect::Postgres, 2),
            (Dialect::Postgres, 1),
        ] {
            let q = RecordQuery {
                filter: filter.clone(),
                search: Some("12".into()),
                ids: Some(vec!["3".into(), "x".into()]),
                sort: Some(Sort {
                    field_db_id: sort_by,
                    descending: true,
                }),
                limit: 10,
                offset: 0,
                current_user: Some(1),
            };
            let st = select(d, 100, &fields, &q, "d.\"dbId\"");
            assert_eq!(marks(&st.sql), st.params.len(), "{d:?}: {}", st.sql);
            let c = count_statement(d, 100, &fields, &q);
            assert_eq!(marks(&c.sql), c.params.len(), "{d:?}: {}", c.sql);
        }
    }

    #[test]
    fn indexes_by_type_and_backend() {
        let n = field(2, FieldType::Number, json!({}));
        assert_eq!(
            field_index(Dialect::Sqlite, 100, &n).as_deref(),
            Some("CREATE INDEX IF NOT EXISTS catalog_100_ix_2 ON catalog_100_data (\"f2\")")
        );
        let dd = field(3, FieldType::Dropdown, json!({}));
        assert!(field_index(Dialect::Sqlite, 100, &dd).is_none());
        assert!(field_index(Dialect::Postgres, 100, &dd).is_some_and(|s| s.contains("USING gin")));
        let o = field(4, FieldType::Object, json!({}));
        assert!(field_index(Dialect::Postgres, 100, &o).is_none());
    }
}
