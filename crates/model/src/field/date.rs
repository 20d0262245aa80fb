//! `date`: an instant (`time: true`) or a calendar date stored as its midnight UTC
//! (spec 01 §1.4, §3.6).

use serde_json::{Map, Value};

use super::{DefaultCtx, ParseCtx};
use crate::error::FieldError;
use crate::time::{parse_calendar_date, parse_instant};
use crate::value::FieldValue;

const FORMATS: [&str; 6] = ["date", "datetime", "week", "month", "quarter", "year"];

pub(super) fn config(cfg: &mut Map<String, Value>) -> Result<(), FieldError> {
    super::check_bool(cfg, "time")?;
    super::check_bool(cfg, "defaultValue")?;
    match cfg.get("format") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(f)) if FORMATS.contains(&f.as_str()) => Ok(()),
        Some(_) => Err(FieldError::config(format!(
            "config.format must be one of {FORMATS:?}"
        ))),
    }
}

fn with_time(cfg: &Map<String, Value>) -> bool {
    cfg.get("time").and_then(Value::as_bool) == Some(true)
}

pub(super) fn parse(
    raw: &Value,
    cfg: &Map<String, Value>,
    ctx: &ParseCtx,
) -> Result<FieldValue, FieldError> {
    let s = match raw {
        Value::Null => return Ok(FieldValue::Date(None)),
        Value::String(s) if s.trim().is_empty() => return Ok(FieldValue::Date(None)),
        Value::String(s) => s,
        _ => {
            return Err(FieldError::invalid(
                "a date value must be an ISO-8601 string",
            ))
        }
    };
    let parsed = if with_time(cfg) {
        parse_instant(s, ctx.tz_offset_min)
    } else {
        parse_calendar_date(s)
    };
    match parsed {
        Some(ms) => Ok(FieldValue::Date(Some(ms))),
        None => Err(FieldError::invalid(format!(
            "{s:?} is not an ISO-8601 date"
        ))),
    }
}

pub(super) fn default(cfg: &Map<String, Value>, ctx: &DefaultCtx) -> FieldValue {
    if with_time(cfg) {
        FieldValue::Date(Some(ctx.now_ms))
    } else {
        FieldValue::Date(Some(ctx.now_ms - ctx.now_ms.rem_euclid(86_400_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::format_ms;
    use serde_json::json;

    fn cfg(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn instants_and_dates() {
        let ctx = ParseCtx::default();
        let t = cfg(json!({"time": true}));
        let FieldValue::Date(Some(ms)) =
            parse(&json!("2024-03-19T15:00:00+03:00"), &t, &ctx).expect("parses")
        else {
            panic!("expected a date")
        };
        assert_eq!(format_ms(ms), "2024-03-19T12:00:00.000Z");
        let d = cfg(json!({"time": false}));
        let FieldValue::Date(Some(ms)) =
            parse(&json!("2024-03-19T15:00:00+03:00"), &d, &ctx).expect("parses")
        else {
            panic!("expected a date")
        };
        assert_eq!(format_ms(ms), "2024-03-19T00:00:00.000Z");
        assert!(parse(&json!("yesterday"), &d, &ctx).is_err());
        assert!(parse(&json!(5), &d, &ctx).is_err());
        assert_eq!(parse(&json!(""), &d, &ctx), Ok(FieldValue::Date(None)));
    }

    #[test]
    fn default_is_today() {
        let ctx = DefaultCtx {
            now_ms: 86_400_000 + 5_000,
            user_id: None,
        };
        assert_eq!(
            default(&cfg(json!({})), &ctx),
            FieldValue::Date(Some(86_400_000))
        );
    }
}
