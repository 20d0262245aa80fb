//! Values and Totals (spec 04 §2.1–2.3): the records of a catalog that match `recordsFilter`
//! (filters, `viewId`, `searchText`) grouped by an axis and an optional split, with a count
//! or an aggregate of a field per group. This module checks the parameters against the
//! catalog and turns them into a [`kartoteka_store::aggregate::Aggregate`]; the grouping and
//! the arithmetic run in SQL there. Group keys come back in the shapes spec 04 §2.1
//! recommends: item ids, `{id, title}` of employees, `{catalogId, recordId, recordTitle}` of
//! linked records, bucket starts as ISO instants, numbers, text, `null` for "not set".

use std::collections::HashMap;
use std::sync::Arc;

use kartoteka_filter::{FieldRef, Filter};
use kartoteka_model::field::items::item_ids;
use kartoteka_model::privilege::Privilege;
use kartoteka_model::value::number_json;
use kartoteka_model::{ErrorCode, FieldDef, FieldType};
use kartoteka_store::aggregate::{
    self as agg, Aggregate, Bucket, Func, Group, GroupOrder, Grouping, Measure,
};
use kartoteka_store::aux::USERS_CATALOG;
use kartoteka_store::query::RecordQuery;
use kartoteka_store::records::{self as rec, TitleRow};
use kartoteka_store::DbValue;
use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::query::{filter_error, CatalogScope};
use crate::schema::{Catalog, Schema};
use crate::{Actor, App};

/// Axis groups one page holds when `limit` is not given, and at most.
pub const DEFAULT_LIMIT: i64 = 30;
pub const MAX_LIMIT: i64 = 1000;
/// Split keys kept when `splitLimit` is not given, and at most.
pub const DEFAULT_SPLIT_LIMIT: i64 = 10;
pub const MAX_SPLIT_LIMIT: i64 = 100;

/// `value`, `axis` or `split` as sent: `type`, `value` (a field id), `subType`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dimension {
    pub kind: Option<String>,
    pub value: Option<String>,
    pub sub_type: Option<String>,
}

/// The parameters of Values and Totals (spec 04 §2.1).
#[derive(Debug, Clone, Default)]
pub struct AggregateInput {
    pub value: Dimension,
    pub value_fn: Option<String>,
    pub axis: Dimension,
    pub split: Option<Dimension>,
    pub split_limit: Option<i64>,
    /// `axis` or `value`.
    pub sort: Option<String>,
    /// `asc` or `desc` (also `1` / `-1`).
    pub sort_type: Option<String>,
    /// `available` (the default) or `all`.
    pub records_type: Option<String>,
    /// Every filter given (`recordsFilter[filters]`, `filters`): all ANDed.
    pub filters: Vec<kartoteka_filter::Input>,
    /// Views whose filters apply too.
    pub view_ids: Vec<String>,
    pub search: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// The client's zone (`timezoneOffset`): date filters and date buckets.
    pub tz_offset_min: i32,
}

/// One axis group of Values.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueGroup {
    pub axis: Value,
    /// Without a split, one value with no split key; with one, a value per split key.
    pub values: Vec<SplitValue>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SplitValue {
    pub split: Option<Value>,
    pub value: Value,
}

/// The totals of Totals: `sum`, `avg` and `count` (spec 04 §2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Totals {
    pub sum: Value,
    pub avg: Value,
    pub count: i64,
}

/// How the keys of a grouping are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    /// As stored: text, a number, an ISO instant, `null`.
    Plain,
    /// An employee's `dbId`: `{id, title}`.
    User,
    /// `"<catalogDbId>:<recordDbId>"`: `{catalogId, recordId, recordTitle}`.
    Link,
}

fn kind_of(g: &Grouping) -> KeyKind {
    match g {
        Grouping::Users { .. } => KeyKind::User,
        Grouping::Links { .. } => KeyKind::Link,
        _ => KeyKind::Plain,
    }
}

struct Plan {
    aggregate: Aggregate,
    axis: KeyKind,
    split: Option<KeyKind>,
}

fn bad(param: &str, message: impl std::fmt::Display) -> Error {
    Error::new(ErrorCode::InvalidQuery, format!("{param}: {message}"))
}

fn bad_field(param: &str, f: &FieldDef, message: impl std::fmt::Display) -> Error {
    Error::field(
        ErrorCode::InvalidQuery,
        &f.id,
        format!("{param}: {message}"),
    )
}

/// A parameter's text, with `""` and `"null"` meaning absent.
fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty() && *s != "null")
}

fn field<'c>(catalog: &'c Catalog, param: &str, id: &str) -> Result<&'c FieldDef> {
    catalog.field(id).ok_or_else(|| {
        Error::field(
            ErrorCode::UnknownField,
            id,
            format!("{param}: unknown field {id:?}"),
        )
    })
}

fn value_fn(s: &Option<String>) -> Result<Option<Func>> {
    Ok(match given(s) {
        None => None,
        Some("count") => Some(Func::Count),
        Some("sum") => Some(Func::Sum),
        Some("avg") => Some(Func::Avg),
        Some("avgAll") => Some(Func::AvgAll),
        Some("min") => Some(Func::Min),
        Some("max") => Some(Func::Max),
        Some(other) => {
            return Err(bad(
                "valueFn",
                format!("unknown function {other:?}: count, sum, avg, avgAll, min or max"),
            ))
        }
    })
}

fn measure(catalog: &Catalog, input: &AggregateInput) -> Result<Measure> {
    let func = value_fn(&input.value_fn)?;
    let v = &input.value;
    match given(&v.kind) {
        None | Some("recordsCount") => Ok(Measure::Records),
        Some("field") => {
            let id = given(&v.value).ok_or_else(|| {
                bad(
                    "value[value]",
                    "value[type]=field needs the id of the field to aggregate",
                )
            })?;
            let f = field(catalog, "value[value]", id)?;
            let t = f.field_type;
            match given(&v.sub_type) {
                None => match t {
                    FieldType::Number | FieldType::Progress | FieldType::Stars => {
                        Ok(Measure::Number {
                            column: f.column.clone(),
                            func: func.unwrap_or(Func::Sum),
                        })
                    }
                    FieldType::Dropdown
                    | FieldType::Checkboxes
                    | FieldType::Radiobutton
                    | FieldType::Object => match func {
                        None | Some(Func::Count) => Ok(Measure::Filled {
                            field: FieldRef::of(f),
                        }),
                        Some(_) => Err(bad_field(
                            "valueFn",
                            f,
                            format!(
                                "a {} field is counted (count); sum, avg, min and max need a number, progress or stars field",
                                t.code()
                            ),
                        )),
                    },
                    FieldType::User | FieldType::Text => Err(bad_field(
                        "value[subType]",
                        f,
                        format!("a {} field is aggregated with value[subType]=uniqueCount", t.code()),
                    )),
                    _ => Err(bad_field(
                        "value[value]",
                        f,
                        format!("a {} field cannot be aggregated", t.code()),
                    )),
                },
                Some("uniqueCount") => {
                    let of = match t {
                        FieldType::Object => Grouping::Links {
                            field_db_id: f.db_id,
                        },
                        FieldType::User => Grouping::Users {
                            column: f.column.clone(),
                        },
                        FieldType::Text => Grouping::Text {
                            column: f.column.clone(),
                        },
                        _ => {
                            return Err(bad_field(
                                "value[subType]",
                                f,
                                "uniqueCount counts the values of object, user and text fields",
                            ))
                        }
                    };
                    Ok(Measure::Unique { of })
                }
                Some("timeLeft") => match t {
                    FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
                        Err(Error::field(
                            ErrorCode::NotImplemented,
                            &f.id,
                            "value[subType]: timeLeft needs the history of item changes, which is not recorded yet",
                        ))
                    }
                    _ => Err(bad_field(
                        "value[subType]",
                        f,
                        "timeLeft is for dropdown, checkboxes and radiobutton fields",
                    )),
                },
                Some(other) => Err(bad(
                    "value[subType]",
                    format!("unknown subtype {other:?}: uniqueCount or timeLeft"),
                )),
            }
        }
        Some(other) => Err(bad(
            "value[type]",
            format!("unknown type {other:?}: recordsCount or field"),
        )),
    }
}

fn bucket(param: &str, s: Option<&str>) -> Result<Bucket> {
    Ok(match s {
        None | Some("day") => Bucket::Day,
        Some("hour") => Bucket::Hour,
        Some("hourOfDay") => Bucket::HourOfDay,
        Some("dayOfWeek") => Bucket::DayOfWeek,
        Some("dayOfMonth") => Bucket::DayOfMonth,
        Some("week") => Bucket::Week,
        Some("weekOfYear") => Bucket::WeekOfYear,
        Some("month") => Bucket::Month,
        Some("monthOfYear") => Bucket::MonthOfYear,
        Some("year") => Bucket::Year,
        Some(other) => {
            return Err(bad(
                param,
                format!(
                    "unknown bucket {other:?}: hour, hourOfDay, day, dayOfWeek, dayOfMonth, week, weekOfYear, month, monthOfYear or year"
                ),
            ))
        }
    })
}

/// `axis` or `split` (named `name` in messages).
fn grouping(catalog: &Catalog, d: &Dimension, name: &str, tz: i32) -> Result<Grouping> {
    let sub_param = format!("{name}[subType]");
    let sub = given(&d.sub_type);
    let no_bucket = |what: &str| -> Result<()> {
        match sub {
            Some(s) => Err(bad(
                &sub_param,
                format!("{s:?} buckets dates; {what} is not a date"),
            )),
            None => Ok(()),
        }
    };
    match given(&d.kind) {
        None | Some("all") => {
            no_bucket(&format!("{name}[type]=all"))?;
            Ok(Grouping::All)
        }
        Some("createdTime") => Ok(Grouping::Created {
            bucket: bucket(&sub_param, sub)?,
            offset_min: tz,
        }),
        Some("field") => {
            let param = format!("{name}[value]");
            let id = given(&d.value).ok_or_else(|| {
                bad(
                    &param,
                    format!("{name}[type]=field needs the id of the field to group by"),
                )
            })?;
            let f = field(catalog, &param, id)?;
            let column = f.column.clone();
            if f.field_type == FieldType::Date {
                let time = f.config.get("time").and_then(Value::as_bool) == Some(true);
                return Ok(Grouping::Date {
                    column,
                    bucket: bucket(&sub_param, sub)?,
                    // A date without time is a calendar day, in no zone.
                    offset_min: if time { tz } else { 0 },
                });
            }
            if sub.is_some() {
                return Err(bad_field(
                    &sub_param,
                    f,
                    format!(
                        "{:?} buckets dates; the field {:?} is a {}",
                        sub.unwrap_or_default(),
                        f.id,
                        f.field_type.code()
                    ),
                ));
            }
            Ok(match f.field_type {
                FieldType::Dropdown | FieldType::Checkboxes | FieldType::Radiobutton => {
                    Grouping::Items {
                        column,
                        items: item_ids(&f.config)
                            .into_iter()
                            .map(str::to_string)
                            .collect(),
                    }
                }
                FieldType::User => Grouping::Users { column },
                FieldType::Object => Grouping::Links {
                    field_db_id: f.db_id,
                },
                FieldType::Text => Grouping::Text { column },
                FieldType::Number | FieldType::Stars => Grouping::Number { column },
                FieldType::Progress => Grouping::Progress { column },
                t => {
                    return Err(bad_field(
                        &param,
                        f,
                        format!("a {} field cannot group records", t.code()),
                    ))
                }
            })
        }
        Some(other) => Err(bad(
            &format!("{name}[type]"),
            format!("unknown type {other:?}: all, field or createdTime"),
        )),
    }
}

/// The order when `sort` is not given (spec 04 §2.1): dates newest first (collapsed buckets
/// in their cycle), employees and linked records by value (largest first, smallest for
/// `min`), everything else by key.
fn default_order(axis: &Grouping, m: &Measure) -> GroupOrder {
    let by_key = |descending| GroupOrder {
        by_value: false,
        descending,
    };
    match axis {
        Grouping::Created { bucket, .. } | Grouping::Date { bucket, .. } => by_key(matches!(
            bucket,
            Bucket::Hour | Bucket::Day | Bucket::Week | Bucket::Month | Bucket::Year
        )),
        Grouping::Users { .. } | Grouping::Links { .. } => GroupOrder {
            by_value: true,
            descending: !matches!(
                m,
                Measure::Number {
                    func: Func::Min,
                    ..
                }
            ),
        },
        _ => by_key(false),
    }
}

fn order(input: &AggregateInput, axis: &Grouping, m: &Measure) -> Result<GroupOrder> {
    let descending = match given(&input.sort_type) {
        None => None,
        Some("asc" | "1") => Some(false),
        Some("desc" | "-1") => Some(true),
        Some(other) => return Err(bad("sortType", format!("{other:?} is not asc or desc"))),
    };
    let default = default_order(axis, m);
    Ok(match given(&input.sort) {
        None => GroupOrder {
            descending: descending.unwrap_or(default.descending),
            ..default
        },
        Some(s @ ("axis" | "value")) => GroupOrder {
            by_value: s == "value",
            descending: descending.unwrap_or(false),
        },
        Some(other) => return Err(bad("sort", format!("{other:?} is not axis or value"))),
    })
}

fn bounded(param: &str, v: Option<i64>, default: i64, max: i64) -> Result<i64> {
    match v {
        None => Ok(default),
        Some(n) if n < 0 => Err(bad(param, "must not be negative")),
        Some(n) => Ok(n.clamp(1, max)),
    }
}

/// A number of the answer: integers stay integers, `NULL` is `null`.
fn number(v: &DbValue) -> Value {
    match v {
        DbValue::Int(i) => Value::from(*i),
        DbValue::Real(r) => number_json(*r),
        DbValue::Text(s) => s.parse::<f64>().map(number_json).unwrap_or(Value::Null),
        DbValue::Bool(b) => Value::from(i64::from(*b)),
        DbValue::Null => Value::Null,
    }
}

fn int_of(v: &DbValue) -> Option<i64> {
    match v {
        DbValue::Int(i) => Some(*i),
        DbValue::Text(s) => s.parse().ok(),
        DbValue::Real(r) if r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

fn link_of(v: &DbValue) -> Option<(i64, i64)> {
    let DbValue::Text(s) = v else { return None };
    let (c, r) = s.split_once(':')?;
    Some((c.parse().ok()?, r.parse().ok()?))
}

/// The records whose titles the keys of `groups` need.
fn title_refs(groups: &[Group], axis: KeyKind, split: Option<KeyKind>) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut add = |kind: KeyKind, v: &DbValue| match kind {
        KeyKind::User => out.extend(int_of(v).map(|u| (USERS_CATALOG, u))),
        KeyKind::Link => out.extend(link_of(v)),
        KeyKind::Plain => {}
    };
    for g in groups {
        add(axis, &g.axis);
        if let Some(s) = split {
            for c in &g.cells {
                add(s, &c.split);
            }
        }
    }
    out
}

fn key(
    schema: &Schema,
    kind: KeyKind,
    v: &DbValue,
    titles: &HashMap<(i64, i64), TitleRow>,
) -> Value {
    if *v == DbValue::Null {
        return Value::Null;
    }
    match kind {
        KeyKind::Plain => match v {
            DbValue::Text(s) => Value::String(s.clone()),
            DbValue::Bool(b) => Value::Bool(*b),
            other => number(other),
        },
        KeyKind::User => {
            let Some(u) = int_of(v) else {
                return Value::Null;
            };
            let t = titles.get(&(USERS_CATALOG, u));
            json!({
                "id": t.map(|t| t.id.clone()).unwrap_or_else(|| u.to_string()),
                "title": t.map(|t| t.title.clone()).unwrap_or_default(),
            })
        }
        KeyKind::Link => {
            let Some((c, r)) = link_of(v) else {
                return Value::Null;
            };
            let t = titles.get(&(c, r));
            json!({
                "catalogId": schema.catalog_by_db_id(c).map(|c| c.id.clone()).unwrap_or_else(|| c.to_string()),
                "recordId": t.map(|t| t.id.clone()).unwrap_or_else(|| r.to_string()),
                "recordTitle": t.map(|t| t.title.clone()).unwrap_or_default(),
            })
        }
    }
}

/// The id of a group's key in `values/{axisId}`: the value itself, or the record id of an
/// employee or a linked record; `null` for "not set".
fn key_id(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => o
            .get("recordId")
            .or_else(|| o.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        other => other.to_string(),
    }
}

impl App {
    async fn aggregate_plan(
        &self,
        actor: &Actor,
        schema: &Schema,
        catalog: &Catalog,
        input: &AggregateInput,
    ) -> Result<Plan> {
        let need = match given(&input.records_type) {
            // The records the caller may see (spec 04 §1.6), counted in SQL.
            None | Some("available") => Privilege::Available,
            // Every record, whatever the caller may see of them, takes `view` on the catalog.
            Some("all") => Privilege::View,
            Some(other) => {
                return Err(bad(
                    "recordsType",
                    format!("{other:?} is not all or available"),
                ))
            }
        };
        self.require_on_catalog(actor, catalog, need).await?;
        let access = self.access(actor).await?;
        let visible = if need == Privilege::View {
            Filter::All
        } else {
            let scope = access.record_scope(catalog);
            self.visible_filter(&access, schema, catalog, &scope, None)
        };
        let measure = measure(catalog, input)?;
        let axis = grouping(catalog, &input.axis, "axis", input.tz_offset_min)?;
        let split = match &input.split {
            Some(d) => match grouping(catalog, d, "split", input.tz_offset_min)? {
                Grouping::All => None,
                g => Some(g),
            },
            None => None,
        };
        let order = order(input, &axis, &measure)?;
        let limit = bounded("limit", input.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
        let offset = match input.offset {
            Some(n) if n < 0 => return Err(bad("offset", "must not be negative")),
            n => n.unwrap_or(0),
        };
        let split_limit = bounded(
            "splitLimit",
            input.split_limit,
            DEFAULT_SPLIT_LIMIT,
            MAX_SPLIT_LIMIT,
        )?;
        let scope = CatalogScope {
            schema,
            catalog,
            text_only: false,
        };
        let opts = kartoteka_filter::Options {
            tz_offset_min: input.tz_offset_min,
        };
        let mut parts = vec![visible];
        for f in &input.filters {
            parts.push(kartoteka_filter::parse(f, &scope, &opts).map_err(filter_error)?);
        }
        for v in &input.view_ids {
            parts.push(
                self.view_filter(actor, schema, catalog, v, input.tz_offset_min)
                    .await?,
            );
        }
        let query = RecordQuery {
            filter: Filter::and(parts),
            search: input.search.clone().filter(|s| !s.trim().is_empty()),
            current_user: actor.user_db_id(),
            ..RecordQuery::page(limit, offset)
        };
        Ok(Plan {
            axis: kind_of(&axis),
            split: split.as_ref().map(kind_of),
            aggregate: Aggregate {
                query,
                axis,
                split,
                measure,
                order,
                limit,
                offset,
                split_limit,
            },
        })
    }

    /// Values (`GET /catalogs/{id}/values`): one page of axis groups.
    pub async fn aggregate_values(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: &AggregateInput,
    ) -> Result<Vec<ValueGroup>> {
        let schema = self.schema();
        let catalog: Arc<Catalog> = schema.catalog(catalog_ref)?.clone();
        let plan = self.aggregate_plan(actor, &schema, &catalog, input).await?;
        let (axis, split) = (plan.axis, plan.split);
        let a = plan.aggregate;
        let cat = catalog.clone();
        let (groups, titles) = self
            .store
            .read_many(move |c| -> Result<_> {
                let groups = agg::values(c, cat.db_id, &cat.fields, &a)?;
                let refs = title_refs(&groups, axis, split);
                let titles = if refs.is_empty() {
                    HashMap::new()
                } else {
                    rec::titles(c, &refs)?
                };
                Ok((groups, titles))
            })
            .await?;
        Ok(groups
            .iter()
            .map(|g| ValueGroup {
                axis: key(&schema, axis, &g.axis, &titles),
                values: match split {
                    None => vec![SplitValue {
                        split: None,
                        value: number(&g.value),
                    }],
                    Some(s) => g
                        .cells
                        .iter()
                        .map(|c| SplitValue {
                            split: Some(key(&schema, s, &c.split, &titles)),
                            value: number(&c.value),
                        })
                        .collect(),
                },
            })
            .collect())
    }

    /// `GET /catalogs/{id}/values/{axisId}`: the group of that key, when it is on the page the
    /// same parameters select (spec 04 §2.2).
    pub async fn aggregate_value(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        axis_id: &str,
        input: &AggregateInput,
    ) -> Result<ValueGroup> {
        self.aggregate_values(actor, catalog_ref, input)
            .await?
            .into_iter()
            .find(|g| key_id(&g.axis) == axis_id)
            .ok_or_else(|| {
                Error::new(
                    ErrorCode::NotFound,
                    format!("no axis group {axis_id:?} on this page of values"),
                )
            })
    }

    /// Totals (`GET /catalogs/{id}/totals`) over every matching record; the page and sort
    /// parameters do not apply.
    pub async fn aggregate_totals(
        &self,
        actor: &Actor,
        catalog_ref: &str,
        input: &AggregateInput,
    ) -> Result<Totals> {
        let schema = self.schema();
        let catalog = schema.catalog(catalog_ref)?.clone();
        let plan = self.aggregate_plan(actor, &schema, &catalog, input).await?;
        let a = plan.aggregate;
        let per_record = matches!(a.measure, Measure::Number { .. })
            && a.axis == Grouping::All
            && a.split.is_none();
        let cat = catalog.clone();
        let t = self
            .store
            .read_many(move |c| agg::totals(c, cat.db_id, &cat.fields, &a).map_err(Error::from))
            .await?;
        let sum = match number(&t.sum) {
            Value::Null => Value::from(0),
            v => v,
        };
        let avg = if per_record {
            number(&t.record_avg)
        } else if t.groups > 0 {
            sum.as_f64()
                .map(|s| number_json(s / t.groups as f64))
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        Ok(Totals {
            sum,
            avg,
            count: t.count,
        })
    }
}
