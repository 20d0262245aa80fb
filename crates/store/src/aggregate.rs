//! Aggregates over the records of a catalog (spec 04 §2.1–2.3, the Values and Totals
//! resources): records grouped by an axis and an optional split, one value per group, all
//! computed in SQL with `GROUP BY` and aggregate functions on both backends.
//!
//! Every statement starts from one common table, `r`: the matching records (the filter of a
//! [`RecordQuery`], compiled by [`crate::query`]) with one row per record and group it falls
//! in. Multi-valued groupings (items, users, linked records) are expanded with `json_each` /
//! `jsonb_array_elements_text` and `_links` joins, so a record with two tags is in both tag
//! groups; a record without a value is in the `NULL` group. Its columns:
//!
//! | column | meaning |
//! |---|---|
//! | `ak`, `ao` | the axis key and its sort key (an item's position, a linked record's title) |
//! | `sk`, `so` | the same for the split (`NULL` without one) |
//! | `rid` | the record's `dbId` |
//! | `v` | the record's value for the measure (a number, `1` when filled, a distinct value) |
//!
//! Rows are `DISTINCT`, so each record is counted once per group whatever the joins.

use kartoteka_filter::{Cond, FieldRef, Filter};
use kartoteka_model::FieldDef;

use crate::aux::USERS_CATALOG;
use crate::conn::{ident, Conn, Dialect};
use crate::error::StoreError;
use crate::query::{self, RecordQuery};
use crate::schema::{data_table, links_table};
use crate::value::DbValue;

/// A bucket of a date axis (spec 04 §2.1 `axis[subType]`). Sequential buckets are keyed by
/// the instant their period starts in the client's zone; collapsed ones by a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    /// 0–23.
    HourOfDay,
    Day,
    /// 1–7, Monday = 1.
    DayOfWeek,
    /// 1–31.
    DayOfMonth,
    /// Starts on Monday.
    Week,
    /// 1–54: weeks start on Monday, days before the first Monday are week 1.
    WeekOfYear,
    Month,
    /// 1–12.
    MonthOfYear,
    Year,
}

/// What puts records into groups (spec 04 §2.1, "grouping per axis field type").
#[derive(Debug, Clone, PartialEq)]
pub enum Grouping {
    /// One group of every record, keyed `NULL`.
    All,
    /// The record's creation time, bucketed in a zone `offset_min` minutes east of UTC.
    Created { bucket: Bucket, offset_min: i32 },
    /// A date column, bucketed (a date-only field is read with offset 0: it is a calendar day).
    Date {
        column: String,
        bucket: Bucket,
        offset_min: i32,
    },
    /// Dropdown, checkboxes, radiobutton: one group per item, in the order of `items` (item
    /// ids no longer in the field are ignored).
    Items { column: String, items: Vec<String> },
    /// One group per employee (keyed by the `$users` `dbId`), sorted by name.
    Users { column: String },
    /// One group per linked record, keyed `"<catalogDbId>:<recordDbId>"`, sorted by title.
    Links { field_db_id: i64 },
    /// Exact text; `""` is empty. Sorted case-insensitively.
    Text { column: String },
    /// Exact value (numbers, stars).
    Number { column: String },
    /// Progress in steps of 10: keyed by the step's lower bound (0, 10, …, 100).
    Progress { column: String },
}

/// The aggregate function applied to a number field (`valueFn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// Records with a value.
    Count,
    Sum,
    /// Average over records with a value.
    Avg,
    /// Average over all records, an empty value counting as 0.
    AvgAll,
    Min,
    Max,
}

/// What one group's value counts or measures.
#[derive(Debug, Clone, PartialEq)]
pub enum Measure {
    /// The records in the group (`value[type]=recordsCount`).
    Records,
    /// A number column (number, progress, stars) aggregated with a function.
    Number { column: String, func: Func },
    /// The records whose field is not empty (`valueFn=count` on other field types).
    Filled { field: FieldRef },
    /// The distinct values of a field in the group (`value[subType]=uniqueCount`); the
    /// grouping describes the values (text, users, links).
    Unique { of: Grouping },
}

/// The order of the axis groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupOrder {
    /// By the group's value (`sort=value`) rather than by its key (`sort=axis`).
    pub by_value: bool,
    pub descending: bool,
}

/// One aggregate request over a catalog.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Which records take part: its filter, quick search, ids and current user (its page and
    /// sort are not used).
    pub query: RecordQuery,
    pub axis: Grouping,
    pub split: Option<Grouping>,
    pub measure: Measure,
    pub order: GroupOrder,
    /// Page over the axis groups.
    pub limit: i64,
    pub offset: i64,
    /// The split keys kept: the most frequent ones.
    pub split_limit: i64,
}

/// One axis group: its key, its value, and (with a split) the value of each split key in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub axis: DbValue,
    pub value: DbValue,
    /// In split order; empty without a split.
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub split: DbValue,
    pub value: DbValue,
}

/// Totals over every matching record (spec 04 §2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    /// Matching records, each once.
    pub count: i64,
    /// Σ of the records' values, each record once (the record count for `Records`).
    pub sum: DbValue,
    /// Non-empty (axis × split) groups.
    pub groups: i64,
    /// The per-record average of a number measure (`Avg` skips empty values, `AvgAll`
    /// counts them as 0); `Null` for other measures.
    pub record_avg: DbValue,
}

/// SQL text with its parameters, in order.
#[derive(Default)]
struct Sql {
    text: String,
    params: Vec<DbValue>,
}

impl Sql {
    fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn append(&mut self, other: Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
    }
}

/// A grouping compiled against the alias `d` of the data table.
struct Compiled {
    key: String,
    order: Sql,
    joins: Sql,
}

fn col(column: &str) -> String {
    format!("d.{}", ident(column))
}

/// The instant `expr` as local time `offset_min` minutes east of UTC.
fn local(d: Dialect, expr: &str, offset_min: i32) -> String {
    match d {
        Dialect::Sqlite => format!("datetime({expr}, '{offset_min:+} minutes')"),
        Dialect::Postgres => {
            format!("(({expr}) AT TIME ZONE 'UTC' + INTERVAL '{offset_min} minutes')")
        }
    }
}

/// A local period start back as the UTC instant (ISO text on SQLite, `timestamptz` on
/// PostgreSQL, both read back as `YYYY-MM-DDTHH:MM:SS.mmmZ`).
fn instant(d: Dialect, start: &str, offset_min: i32) -> String {
    match d {
        Dialect::Sqlite => format!(
            "strftime('%Y-%m-%dT%H:%M:%fZ', {start}, '{:+} minutes')",
            -offset_min
        ),
        Dialect::Postgres => {
            format!("(({start}) - INTERVAL '{offset_min} minutes') AT TIME ZONE 'UTC'")
        }
    }
}

/// The bucket key of the instant `expr`.
fn bucket(d: Dialect, expr: &str, b: Bucket, offset_min: i32) -> String {
    let l = local(d, expr, offset_min);
    match d {
        Dialect::Sqlite => {
            let int = |fmt: &str| format!("CAST(strftime('{fmt}', {l}) AS INTEGER)");
            // Days since Monday.
            let from_monday = format!("(({} + 6) % 7)", int("%w"));
            match b {
                Bucket::Hour => instant(
                    d,
                    &format!("strftime('%Y-%m-%d %H:00:00', {l})"),
                    offset_min,
                ),
                Bucket::Day => instant(d, &format!("date({l})"), offset_min),
                Bucket::Week => instant(
                    d,
                    &format!("date({l}, '-' || {from_monday} || ' days')"),
                    offset_min,
                ),
                Bucket::Month => instant(d, &format!("strftime('%Y-%m-01', {l})"), offset_min),
                Bucket::Year => instant(d, &format!("strftime('%Y-01-01', {l})"), offset_min),
                Bucket::HourOfDay => int("%H"),
                Bucket::DayOfWeek => format!("({from_monday} + 1)"),
                Bucket::DayOfMonth => int("%d"),
                Bucket::MonthOfYear => int("%m"),
                Bucket::WeekOfYear => format!("(({} + 6 - {from_monday}) / 7 + 1)", int("%j")),
            }
        }
        Dialect::Postgres => {
            let trunc = |unit: &str| instant(d, &format!("date_trunc('{unit}', {l})"), offset_min);
            let part = |p: &str| format!("CAST(EXTRACT({p} FROM {l}) AS BIGINT)");
            match b {
                Bucket::Hour => trunc("hour"),
                Bucket::Day => trunc("day"),
                Bucket::Week => trunc("week"),
                Bucket::Month => trunc("month"),
                Bucket::Year => trunc("year"),
                Bucket::HourOfDay => part("HOUR"),
                Bucket::DayOfWeek => part("ISODOW"),
                Bucket::DayOfMonth => part("DAY"),
                Bucket::MonthOfYear => part("MONTH"),
                Bucket::WeekOfYear => {
                    format!("(({} + 6 - ({} - 1)) / 7 + 1)", part("DOY"), part("ISODOW"))
                }
            }
        }
    }
}

/// The elements of a JSON list column as rows of `{alias}.value` (text on PostgreSQL).
fn json_elements(d: Dialect, column: &str, alias: &str) -> String {
    match d {
        Dialect::Sqlite => format!("LEFT JOIN json_each({}) {alias}", col(column)),
        Dialect::Postgres => format!(
            "LEFT JOIN LATERAL jsonb_array_elements_text(CAST({} AS jsonb)) AS {alias}(value)",
            col(column)
        ),
    }
}

fn compile(d: Dialect, catalog: i64, g: &Grouping, alias: &str) -> Compiled {
    let plain = |key: String| Compiled {
        order: Sql::new(key.clone()),
        key,
        joins: Sql::default(),
    };
    match g {
        Grouping::All => plain("NULL".into()),
        Grouping::Created {
            bucket: b,
            offset_min,
        } => plain(bucket(d, "d.\"createdAt\"", *b, *offset_min)),
        Grouping::Date {
            column,
            bucket: b,
            offset_min,
        } => plain(bucket(d, &col(column), *b, *offset_min)),
        Grouping::Items { column, items } => {
            let key = format!("{alias}.value");
            let mut order = Sql::new(format!("CASE {key}"));
            for (i, it) in items.iter().enumerate() {
                order.params.push(it.as_str().into());
                order.push(&format!(" WHEN ? THEN {i}"));
            }
            order.push(" END");
            let mut joins = Sql::new(format!(" {}", json_elements(d, column, alias)));
            if items.is_empty() {
                joins.push(" ON 1 = 0");
            } else {
                joins.push(&format!(
                    " ON {key} IN ({})",
                    vec!["?"; items.len()].join(", ")
                ));
                joins
                    .params
                    .extend(items.iter().map(|i| DbValue::Text(i.clone())));
            }
            Compiled { key, order, joins }
        }
        Grouping::Users { column } => {
            let key = match d {
                Dialect::Sqlite => format!("{alias}.value"),
                Dialect::Postgres => format!("CAST({alias}.value AS BIGINT)"),
            };
            let t = format!("{alias}t");
            let joins = Sql::new(format!(
                " {} ON 1 = 1 LEFT JOIN titles {t} ON {t}.\"catalogDbId\" = {USERS_CATALOG} AND {t}.\"recordDbId\" = {key}",
                json_elements(d, column, alias)
            ));
            Compiled {
                order: Sql::new(d.lower(&format!("{t}.title"))),
                key,
                joins,
            }
        }
        Grouping::Links { field_db_id } => {
            let t = format!("{alias}t");
            let joins = Sql::new(format!(
                " LEFT JOIN {links} {alias} ON {alias}.\"recordDbId\" = d.\"dbId\" AND {alias}.\"fieldDbId\" = {field_db_id} \
                 LEFT JOIN titles {t} ON {t}.\"catalogDbId\" = {alias}.\"linkCatalogDbId\" AND {t}.\"recordDbId\" = {alias}.\"linkRecordDbId\"",
                links = links_table(catalog)
            ));
            Compiled {
                key: format!(
                    "CAST({alias}.\"linkCatalogDbId\" AS TEXT) || ':' || CAST({alias}.\"linkRecordDbId\" AS TEXT)"
                ),
                order: Sql::new(d.lower(&format!("{t}.title"))),
                joins,
            }
        }
        Grouping::Text { column } => {
            let key = format!("NULLIF({}, '')", col(column));
            Compiled {
                order: Sql::new(d.lower(&key)),
                key,
                joins: Sql::default(),
            }
        }
        Grouping::Number { column } => plain(col(column)),
        Grouping::Progress { column } => plain(match d {
            Dialect::Sqlite => format!("(CAST({} / 10 AS INTEGER) * 10)", col(column)),
            Dialect::Postgres => format!("(CAST(floor({} / 10) AS BIGINT) * 10)", col(column)),
        }),
    }
}

/// The common table `r` (see the module documentation).
fn rows(d: Dialect, catalog: i64, fields: &[FieldDef], a: &Aggregate) -> Sql {
    let axis = compile(d, catalog, &a.axis, "ax");
    let split = a.split.as_ref().map(|s| compile(d, catalog, s, "sp"));
    let mut out = Sql::new(format!("SELECT DISTINCT {} AS ak, ", axis.key));
    out.append(axis.order);
    out.push(" AS ao, ");
    let mut joins = axis.joins;
    match split {
        Some(s) => {
            out.push(&format!("{} AS sk, ", s.key));
            out.append(s.order);
            out.push(" AS so, ");
            joins.append(s.joins);
        }
        None => out.push("NULL AS sk, NULL AS so, "),
    }
    out.push("d.\"dbId\" AS rid, ");
    match &a.measure {
        Measure::Records => out.push("NULL"),
        Measure::Number { column, .. } => {
            let real = match d {
                Dialect::Sqlite => "REAL",
                Dialect::Postgres => "DOUBLE PRECISION",
            };
            out.push(&format!("CAST({} AS {real})", col(column)));
        }
        Measure::Filled { field } => {
            let empty = RecordQuery {
                filter: Filter::Field(field.clone(), Cond::Empty),
                ..RecordQuery::page(1, 0)
            };
            let mut params = Vec::new();
            let cond = query::condition(d, catalog, fields, &empty, &mut params);
            out.push(&format!("CASE WHEN NOT ({cond}) THEN 1 END"));
            out.params.extend(params);
        }
        Measure::Unique { of } => {
            let values = compile(d, catalog, of, "vl");
            out.push(&values.key);
            joins.append(values.joins);
        }
    }
    out.push(&format!(" AS v FROM {} d", data_table(catalog)));
    out.append(joins);
    let w = query::condition(d, catalog, fields, &a.query, &mut out.params);
    out.push(&format!(" WHERE {w}"));
    out
}

/// The value of a group of rows of `r`.
fn aggregate(m: &Measure) -> &'static str {
    match m {
        Measure::Records => "COUNT(DISTINCT rid)",
        Measure::Number { func, .. } => match func {
            Func::Count => "COUNT(v)",
            Func::Sum => "SUM(v)",
            Func::Avg => "AVG(v)",
            Func::AvgAll => "AVG(COALESCE(v, 0))",
            Func::Min => "MIN(v)",
            Func::Max => "MAX(v)",
        },
        Measure::Filled { .. } => "COUNT(v)",
        Measure::Unique { .. } => "COUNT(DISTINCT v)",
    }
}

/// `a` and `b` are equal or both `NULL`.
fn same(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Sqlite => format!("{a} IS {b}"),
        Dialect::Postgres => format!("{a} IS NOT DISTINCT FROM {b}"),
    }
}

/// The page of axis groups: `SELECT ak, val … ORDER BY … LIMIT ? OFFSET ?` over `r`.
fn page_select(a: &Aggregate) -> Sql {
    let dir = if a.order.descending { "DESC" } else { "ASC" };
    let order = if a.order.by_value {
        format!("val {dir} NULLS LAST, ao ASC NULLS LAST, ak ASC")
    } else {
        format!("ao {dir} NULLS LAST, ak {dir}")
    };
    let mut s = Sql::new(format!(
        "SELECT ak, {} AS val FROM r GROUP BY ak, ao ORDER BY {order} LIMIT ? OFFSET ?",
        aggregate(&a.measure)
    ));
    s.params.push(a.limit.into());
    s.params.push(a.offset.into());
    s
}

/// The axis groups of one page, with the value of every kept split key in each.
pub fn values(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    a: &Aggregate,
) -> Result<Vec<Group>, StoreError> {
    let d = conn.dialect();
    let mut st = Sql::new("WITH r AS (");
    st.append(rows(d, catalog, fields, a));
    st.push(")");
    let base = (st.text.clone(), st.params.clone());
    st.push(" ");
    st.append(page_select(a));
    let mut groups: Vec<Group> = conn
        .query(&st.text, &st.params)?
        .into_iter()
        .map(|r| Group {
            axis: r.get(0).clone(),
            value: r.get(1).clone(),
            cells: Vec::new(),
        })
        .collect();
    if a.split.is_none() || groups.is_empty() {
        return Ok(groups);
    }
    let mut st = Sql {
        text: base.0,
        params: base.1,
    };
    st.push(", p AS (");
    st.append(page_select(a));
    st.push(&format!(
        "), t AS (SELECT sk FROM r GROUP BY sk, so ORDER BY COUNT(DISTINCT rid) DESC, so ASC NULLS LAST, sk ASC LIMIT ?) \
         SELECT r.ak, r.sk, {agg} AS val FROM r \
         WHERE EXISTS (SELECT 1 FROM p WHERE {pa}) AND EXISTS (SELECT 1 FROM t WHERE {ts}) \
         GROUP BY r.ak, r.sk, r.so ORDER BY r.so ASC NULLS LAST, r.sk ASC",
        agg = aggregate(&a.measure),
        pa = same(d, "p.ak", "r.ak"),
        ts = same(d, "t.sk", "r.sk"),
    ));
    st.params.push(a.split_limit.into());
    for r in conn.query(&st.text, &st.params)? {
        let ak = r.get(0);
        if let Some(g) = groups.iter_mut().find(|g| g.axis == *ak) {
            g.cells.push(Cell {
                split: r.get(1).clone(),
                value: r.get(2).clone(),
            });
        }
    }
    Ok(groups)
}

/// Totals without an axis or a split, of the records or of a number column: one pass of
/// plain aggregate functions over the table (one row per record, so nothing needs
/// de-duplicating). `None` for the other shapes.
fn plain_totals(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    a: &Aggregate,
) -> Result<Option<Totals>, StoreError> {
    if !matches!(a.axis, Grouping::All) || a.split.is_some() {
        return Ok(None);
    }
    let d = conn.dialect();
    let real = match d {
        Dialect::Sqlite => "REAL",
        Dialect::Postgres => "DOUBLE PRECISION",
    };
    let (sum, avg) = match &a.measure {
        Measure::Records => ("COUNT(*)".to_string(), "NULL".to_string()),
        Measure::Number { column, func } => {
            let v = format!("CAST({} AS {real})", col(column));
            let avg = match func {
                Func::AvgAll => format!("AVG(COALESCE({v}, 0))"),
                _ => format!("AVG({v})"),
            };
            (format!("SUM({v})"), avg)
        }
        _ => return Ok(None),
    };
    let w = crate::query::where_sql(d, catalog, fields, &a.query);
    let sql = format!(
        "SELECT COUNT(*), {sum}, {avg} FROM {} d WHERE {}",
        crate::schema::data_table(catalog),
        w.sql
    );
    let row = conn.query_one(&sql, &w.params)?;
    let count = row.int(0)?;
    Ok(Some(Totals {
        count,
        sum: row.get(1).clone(),
        groups: i64::from(count > 0),
        record_avg: row.get(2).clone(),
    }))
}

/// Count, sum, the number of groups and the per-record average over every matching record.
pub fn totals(
    conn: &mut dyn Conn,
    catalog: i64,
    fields: &[FieldDef],
    a: &Aggregate,
) -> Result<Totals, StoreError> {
    let d = conn.dialect();
    if let Some(t) = plain_totals(conn, catalog, fields, a)? {
        return Ok(t);
    }
    let per_record = "(SELECT DISTINCT rid, v FROM r) x";
    let sum = match &a.measure {
        Measure::Records => "(SELECT COUNT(DISTINCT rid) FROM r)".to_string(),
        Measure::Number { .. } => format!("(SELECT SUM(v) FROM {per_record})"),
        Measure::Filled { .. } => format!("(SELECT COUNT(v) FROM {per_record})"),
        Measure::Unique { .. } => "(SELECT COUNT(DISTINCT v) FROM r)".to_string(),
    };
    let avg = match &a.measure {
        Measure::Number {
            func: Func::AvgAll, ..
        } => format!("(SELECT AVG(COALESCE(v, 0)) FROM {per_record})"),
        Measure::Number { .. } => format!("(SELECT AVG(v) FROM {per_record})"),
        _ => "NULL".to_string(),
    };
    let mut st = Sql::new("WITH r AS (");
    st.append(rows(d, catalog, fields, a));
    st.push(&format!(
        ") SELECT (SELECT COUNT(DISTINCT rid) FROM r), {sum}, (SELECT COUNT(*) FROM (SELECT DISTINCT ak, sk FROM r) g), {avg}"
    ));
    let row = conn.query_one(&st.text, &st.params)?;
    Ok(Totals {
        count: row.int(0)?,
        sum: row.get(1).clone(),
        groups: row.int(2)?,
        record_avg: row.get(3).clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kartoteka_model::FieldType;

    fn marks(sql: &str) -> usize {
        sql.matches('?').count()
    }

    #[test]
    fn params_follow_the_placeholders() {
        let items = Grouping::Items {
            column: "f3".into(),
            items: vec!["1".into(), "2".into()],
        };
        let filled = Measure::Filled {
            field: FieldRef {
                id: "4".into(),
                db_id: 4,
                column: "f4".into(),
                field_type: FieldType::Dropdown,
                multiple: false,
            },
        };
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let a = Aggregate {
                query: RecordQuery::page(1, 0),
                axis: items.clone(),
                split: Some(Grouping::Users {
                    column: "f5".into(),
                }),
                measure: filled.clone(),
                order: GroupOrder {
                    by_value: true,
                    descending: true,
                },
                limit: 30,
                offset: 0,
                split_limit: 10,
            };
            let s = rows(d, 100, &[], &a);
            assert_eq!(marks(&s.text), s.params.len(), "{d:?}: {}", s.text);
            // Item positions come before the item list of the join, in text and parameters.
            assert_eq!(s.params[0], DbValue::Text("1".into()));
            let p = page_select(&a);
            assert_eq!(marks(&p.text), p.params.len());
        }
    }
}
