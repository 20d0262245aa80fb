//! Durations and output paths.

#![allow(clippy::unwrap_used)] // A test that unwraps fails loudly, which is the point.

use kartoteka_bpmn::{parse_duration, parse_target, Segment};

#[test]
fn durations() {
    let d = parse_duration("PT0.1S").unwrap();
    assert_eq!(d.seconds, 0.1);
    assert_eq!(d.to_std_approx(), std::time::Duration::from_millis(100));
    assert_eq!(
        parse_duration("PT5M").unwrap().to_std_approx().as_secs(),
        300
    );
    assert_eq!(
        parse_duration("P1D").unwrap().to_std_approx().as_secs(),
        86_400
    );
    assert_eq!(parse_duration("P2W").unwrap().weeks, 2.0);
    let full = parse_duration("P1Y2M3DT4H5M6.5S").unwrap();
    assert_eq!(
        (
            full.years,
            full.months,
            full.days,
            full.hours,
            full.minutes,
            full.seconds
        ),
        (1.0, 2.0, 3.0, 4.0, 5.0, 6.5)
    );
    assert!(full.is_calendar());
    assert_eq!(
        parse_duration("PT0S").unwrap().to_std_approx(),
        std::time::Duration::ZERO
    );
    assert_eq!(
        parse_duration("P0D").unwrap().to_std_approx(),
        std::time::Duration::ZERO
    );
    assert_eq!(parse_duration("PT1,5S").unwrap().seconds, 1.5);
    assert_eq!(
        parse_duration("PT1.5M").unwrap().to_std_approx().as_secs(),
        90
    );
    assert_eq!(parse_duration("PT36H").unwrap().hours, 36.0);
    assert_eq!(
        parse_duration("P1Y2M3DT4H5M6.5S").unwrap().to_string(),
        "P1Y2M3DT4H5M6.5S"
    );
}

#[test]
fn bad_durations() {
    for s in [
        "",
        "P",
        "PT",
        "T5M",
        "5M",
        "PT5",
        "P5",
        "P1S",
        "PT1D",
        "PT1M5H",
        "P1D1D",
        "PT1.5M3S",
        "PT.5S",
        "PT5.S",
        "pt5m",
        "-PT5S",
        " PT5S",
        "PT5S ",
        "5 minutes",
        "${x}",
        "P1DT",
        "PTT5S",
        "P1.5Y2M",
    ] {
        assert!(parse_duration(s).is_err(), "{s:?} was accepted");
    }
}

fn key(s: &str) -> Segment {
    Segment::Key(s.into())
}

fn expr(s: &str) -> Segment {
    Segment::Expr(s.into())
}

#[test]
fn targets() {
    assert_eq!(parse_target("").unwrap(), []);
    assert_eq!(parse_target("i").unwrap(), [key("i")]);
    assert_eq!(
        parse_target("data.count").unwrap(),
        [key("data"), key("count")]
    );
    assert_eq!(
        parse_target("data.temp.сотрудники").unwrap(),
        [key("data"), key("temp"), key("сотрудники")]
    );
    assert_eq!(
        parse_target("data.rows[i].values").unwrap(),
        [key("data"), key("rows"), expr("i"), key("values")]
    );
    assert_eq!(
        parse_target("a[b[0]][\"]\"]").unwrap(),
        [key("a"), expr("b[0]"), expr("\"]\"")]
    );
    assert_eq!(
        parse_target("a['x.y'].z").unwrap(),
        [key("a"), expr("'x.y'"), key("z")]
    );
    assert_eq!(parse_target("$x").unwrap(), [key("$x")]);
}

#[test]
fn bad_targets() {
    for s in [
        "a..b", "a[", "a]", ".a", "a.", "[0]", "a[]", "a[ ]", "a[b", "a[\"]", "a]b",
    ] {
        assert!(parse_target(s).is_err(), "{s:?} was accepted");
    }
}
