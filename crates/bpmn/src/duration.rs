//! ISO-8601 durations (`PnYnMnWnDTnHnMnS`) as timers use them.

use std::fmt;

/// A parsed ISO-8601 duration. A decimal fraction is allowed on the last component only.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct IsoDuration {
    /// Years.
    pub years: f64,
    /// Months.
    pub months: f64,
    /// Weeks.
    pub weeks: f64,
    /// Days.
    pub days: f64,
    /// Hours.
    pub hours: f64,
    /// Minutes.
    pub minutes: f64,
    /// Seconds.
    pub seconds: f64,
}

/// Why a text is not an ISO-8601 duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an ISO-8601 duration (like PT30S, PT5M, P1D): {reason}")]
pub struct DurationError {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl IsoDuration {
    /// Whether the duration has years or months, whose length depends on the calendar.
    pub fn is_calendar(&self) -> bool {
        self.years != 0.0 || self.months != 0.0
    }

    /// The length with fixed-length units: a year is 365 days, a month 30 days, a day 24
    /// hours. Callers that need calendar arithmetic should check [`Self::is_calendar`].
    pub fn to_std_approx(&self) -> std::time::Duration {
        let secs = ((self.years * 365.0 + self.months * 30.0 + self.weeks * 7.0 + self.days)
            * 24.0
            + self.hours)
            * 3600.0
            + self.minutes * 60.0
            + self.seconds;
        std::time::Duration::try_from_secs_f64(secs).unwrap_or(std::time::Duration::MAX)
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        for (v, u) in [
            (self.years, 'Y'),
            (self.months, 'M'),
            (self.weeks, 'W'),
            (self.days, 'D'),
        ] {
            if v != 0.0 {
                write!(f, "{v}{u}")?;
            }
        }
        if self.hours != 0.0 || self.minutes != 0.0 || self.seconds != 0.0 {
            f.write_str("T")?;
            for (v, u) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')] {
                if v != 0.0 {
                    write!(f, "{v}{u}")?;
                }
            }
        } else if [self.years, self.months, self.weeks, self.days]
            .iter()
            .all(|v| *v == 0.0)
        {
            f.write_str("T0S")?;
        }
        Ok(())
    }
}

/// Parses an ISO-8601 duration such as `PT0.1S`, `PT5M`, `P1D`, `P1Y2M3DT4H5M6.5S` or `P2W`.
///
/// Designators are upper case and in order; `T` must be followed by a time component; a
/// fraction (with `.` or `,`) may only end the duration. Signs, spaces and expressions are
/// rejected.
pub fn parse_duration(s: &str) -> Result<IsoDuration, DurationError> {
    let fail = |reason| DurationError {
        text: s.to_owned(),
        reason,
    };
    let rest = s
        .strip_prefix('P')
        .ok_or_else(|| fail("it must start with P"))?;
    let mut d = IsoDuration::default();
    // The date designators in order, then the time designators in order.
    const DATE: [char; 4] = ['Y', 'M', 'W', 'D'];
    const TIME: [char; 3] = ['H', 'M', 'S'];
    let mut in_time = false;
    let mut next = 0usize; // index of the first designator still allowed
    let mut any = false;
    let mut time_any = false;
    let mut fraction_seen = false;
    let mut chars = rest.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        if c == 'T' {
            if in_time {
                return Err(fail("T appears twice"));
            }
            in_time = true;
            next = 0;
            chars.next();
            continue;
        }
        if fraction_seen {
            return Err(fail("only the last component may have a fraction"));
        }
        let start = i;
        let mut end = i;
        let mut frac = false;
        while let Some(&(j, c)) = chars.peek() {
            if c.is_ascii_digit() {
                end = j + 1;
                chars.next();
            } else if (c == '.' || c == ',') && !frac && end > start {
                frac = true;
                end = j + 1;
                chars.next();
            } else {
                break;
            }
        }
        if end == start {
            return Err(fail("a number is missing"));
        }
        let num = &rest[start..end];
        if num.ends_with(['.', ',']) {
            return Err(fail("a fraction has no digits"));
        }
        let value: f64 = num
            .replace(',', ".")
            .parse()
            .map_err(|_| fail("bad number"))?;
        let Some((_, unit)) = chars.next() else {
            return Err(fail("a number has no designator"));
        };
        let set: &[char] = if in_time { &TIME } else { &DATE };
        let Some(pos) = set.iter().position(|u| *u == unit) else {
            return Err(fail(if in_time {
                "expected H, M or S after T"
            } else {
                "expected Y, M, W or D (or T)"
            }));
        };
        if pos < next {
            return Err(fail("designators are out of order or repeated"));
        }
        next = pos + 1;
        let slot = match (in_time, unit) {
            (false, 'Y') => &mut d.years,
            (false, 'M') => &mut d.months,
            (false, 'W') => &mut d.weeks,
            (false, _) => &mut d.days,
            (true, 'H') => &mut d.hours,
            (true, 'M') => &mut d.minutes,
            (true, _) => &mut d.seconds,
        };
        *slot = value;
        fraction_seen = frac;
        any = true;
        time_any |= in_time;
    }
    if in_time && !time_any {
        return Err(fail("T must be followed by hours, minutes or seconds"));
    }
    if !any {
        return Err(fail("it has no components"));
    }
    Ok(d)
}
