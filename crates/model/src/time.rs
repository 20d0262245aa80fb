//! Instants on the wire: ISO-8601 in, UTC with milliseconds and `Z` out (spec 01 §1.4).
//! Internally an instant is milliseconds since the Unix epoch.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Formats epoch milliseconds as `2015-11-06T21:00:00.000Z`.
pub fn format_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => String::new(),
    }
}

/// The current instant in epoch milliseconds.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Parses an ISO-8601 date or date-time. Input without an offset is read in the client's zone
/// (`tz_offset_min`, minutes east of UTC). A bare date means its midnight in that zone.
pub fn parse_instant(s: &str, tz_offset_min: i32) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let local = NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    Some(local.and_utc().timestamp_millis() - i64::from(tz_offset_min) * 60_000)
}

/// The calendar date of an ISO input, for date fields without time: the date part after
/// applying the input's own offset (spec 01 §1.4). Input without an offset is a local time in
/// the client's zone, so its date part is the date as written.
/// Returned as that date's midnight UTC in epoch milliseconds.
pub fn parse_calendar_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        t.date_naive()
    } else {
        // Parsed with no zone shift, the local date-time keeps its written date.
        let ms = parse_instant(s, 0)?;
        Utc.timestamp_millis_opt(ms).single()?.date_naive()
    };
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let ms = parse_instant("2015-10-27T00:00:00+03:00", 0).expect("parses");
        assert_eq!(format_ms(ms), "2015-10-26T21:00:00.000Z");
        let local = parse_instant("2015-10-27T00:00:00", 180).expect("parses");
        assert_eq!(local, ms);
        assert_eq!(parse_instant("not a date", 0), None);
        assert_eq!(
            format_ms(parse_instant("2024-01-01", 0).expect("parses")),
            "2024-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn calendar_dates_keep_the_local_day() {
        let d = parse_calendar_date("2024-03-19T01:00:00+03:00").expect("parses");
        assert_eq!(format_ms(d), "2024-03-19T00:00:00.000Z");
        let d = parse_calendar_date("2024-03-18T22:00:00.000Z").expect("parses");
        assert_eq!(format_ms(d), "2024-03-18T00:00:00.000Z");
        // Without an offset the input is local to the client: its written date stands.
        let d = parse_calendar_date("2024-03-18T22:00:00").expect("parses");
        assert_eq!(format_ms(d), "2024-03-18T00:00:00.000Z");
        let d = parse_calendar_date("2024-03-19T02:00:00").expect("parses");
        assert_eq!(format_ms(d), "2024-03-19T00:00:00.000Z");
    }
}
