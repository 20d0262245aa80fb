//! Expressions, conditions and templates (spec 03 §5.1, §6): the documented examples, the
//! libraries, value conversion and failures.

use std::time::Duration;

use kartoteka_script::{Engine, ErrorCode, Limits, ScriptError};
use serde_json::{json, Map, Value};

fn vars(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("vars must be an object"),
    }
}

fn engine() -> Engine {
    Engine::default()
}

#[track_caller]
fn check(expr: &str, v: Value, expected: Value) {
    let got = engine()
        .eval(expr, &vars(v))
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(got, Some(expected), "{expr}");
}

#[track_caller]
fn fails(expr: &str, v: Value) -> ScriptError {
    match engine().eval(expr, &vars(v)) {
        Ok(got) => panic!("{expr} gave {got:?}"),
        Err(e) => e,
    }
}

#[test]
fn documented_examples() {
    check(r#""Текст""#, json!({}), json!("Текст"));
    check(
        "variable",
        json!({"variable": {"a": [1, "два"]}}),
        json!({"a": [1, "два"]}),
    );
    check(r#"["1"]"#, json!({}), json!(["1"]));
    check(
        r#""Текст с " + variable + " внутри""#,
        json!({"variable": "переменной"}),
        json!("Текст с переменной внутри"),
    );
    check("5*5+5", json!({}), json!(30));
    check(
        "user.name.substr(0,3)",
        json!({"user": {"name": "Пётр Иванов"}}),
        json!("Пёт"),
    );
    check(
        r#"{name: "Пётр", age: 21}"#,
        json!({}),
        json!({"name": "Пётр", "age": 21}),
    );
    check(
        "`Здравствуйте, ${name}!\nРады видеть`",
        json!({"name": "Анна"}),
        json!("Здравствуйте, Анна!\nРады видеть"),
    );
    check("typeof recordId === 'undefined'", json!({}), json!(true));
    check(
        "typeof recordId === 'undefined'",
        json!({"recordId": 5}),
        json!(false),
    );
    check(
        "typeof x !== 'undefined' ? x : \"default\"",
        json!({}),
        json!("default"),
    );
    let r_empty = json!({"r": {"values": {"4": []}}});
    check(
        "r.values['4'].length && r.values['4'][0].recordId",
        r_empty,
        json!(0),
    );
    let r_full = json!({"r": {"values": {"4": [{"recordId": "17"}]}}});
    check(
        "r.values['4'].length && r.values['4'][0].recordId",
        r_full,
        json!("17"),
    );
    let iso = engine()
        .eval("(new Date()).toISOString()", &Map::new())
        .expect("a value");
    let Some(Value::String(iso)) = iso else {
        panic!("{iso:?}")
    };
    assert_eq!(iso.len(), 24);
    assert!(iso.ends_with('Z'));
}

#[test]
fn multi_line_expressions_and_comments() {
    check("1 +\n 2 // a comment", json!({}), json!(3));
    check(
        "{\n a: 1,\n b: [2, 3]\n}",
        json!({}),
        json!({"a": 1, "b": [2, 3]}),
    );
    check(
        "(() => { const x = 2; return x * a; })()",
        json!({"a": 21}),
        json!(42),
    );
}

#[test]
fn conditions_use_js_truthiness() {
    let e = engine();
    let v = vars(
        json!({"i": 1, "count": 3, "summ": 0, "values": {"3": [], "7": ["1", "2"]},
                         "a": 11, "b": 2, "has_x": false}),
    );
    assert!(e.condition("i<count", &v).expect("a value"));
    assert!(!e.condition("summ > 0", &v).expect("a value"));
    assert!(!e.condition("values[3].length", &v).expect("a value"));
    assert!(e
        .condition("values[7].indexOf(\"2\")>=0", &v)
        .expect("a value"));
    assert!(e
        .condition("(a > 10 && b < 3) || ! has_x", &v)
        .expect("a value"));
    assert!(e.condition("(function () {})", &v).expect("a value"));
    assert!(
        e.condition("new Date(NaN)", &v).expect("a value"),
        "an invalid Date is still an object"
    );
    assert!(!e.condition("", &v).expect("a value"));
}

#[test]
fn lodash_in_every_expression() {
    let found = json!({"foundedWorkTime": [{"values": {"5": "09:00"}}]});
    check(
        r#"_.get(foundedWorkTime, "0.values.5", "")"#,
        found,
        json!("09:00"),
    );
    check(
        r#"_.get(foundedWorkTime, "0.values.5", "")"#,
        json!({"foundedWorkTime": []}),
        json!(""),
    );
    check(
        "_.assign({}, a, {b: 2})",
        json!({"a": {"a": 1}}),
        json!({"a": 1, "b": 2}),
    );
    check("_.isEmpty(x)", json!({"x": {}}), json!(true));
    check("_.size(x)", json!({"x": [1, 2, 3]}), json!(3));
    check(
        "_.concat(array, 2, [3], [[4]])",
        json!({"array": [1]}),
        json!([1, 2, 3, [4]]),
    );
    check(
        "_.chain([3,1,2]).sortBy().map(x => x * 2).value()",
        json!({}),
        json!([2, 4, 6]),
    );
    check(
        "_.template('hi <%= n %>')({n: 'Вася'})",
        json!({}),
        json!("hi Вася"),
    );
    check(
        "_.cloneDeep(x)",
        json!({"x": {"a": [{"b": 1}]}}),
        json!({"a": [{"b": 1}]}),
    );
    check(
        "_.groupBy([1.1, 2.2, 1.3], Math.floor)",
        json!({}),
        json!({"1": [1.1, 1.3], "2": [2.2]}),
    );
    check(
        "_.uniq(_.flatten([[1,2],[2,3]]))",
        json!({}),
        json!([1, 2, 3]),
    );
    check("_.memoize(x => x + 1)(1)", json!({}), json!(2));
}

#[test]
fn moment_and_date_are_utc() {
    check("moment().utcOffset()", json!({}), json!(0));
    check(
        "moment(\"2024-01-01\").toISOString()",
        json!({}),
        json!("2024-01-01T00:00:00.000Z"),
    );
    check(
        "moment(\"2024-01-01T10:30\").toISOString()",
        json!({}),
        json!("2024-01-01T10:30:00.000Z"),
    );
    check(
        "moment( value, 'DD-MM-YYYY' ).set( 'hour', 11 ).toISOString()",
        json!({"value": "05-03-2024"}),
        json!("2024-03-05T11:00:00.000Z"),
    );
    check(
        "moment('2024-01-31').add(1, 'month').format('YYYY-MM-DD HH:mm Z')",
        json!({}),
        json!("2024-02-29 00:00 +00:00"),
    );
    check(
        "new Date(2024, 0, 1, 10).toISOString()",
        json!({}),
        json!("2024-01-01T10:00:00.000Z"),
    );
    check(
        "new Date('2024-01-01T10:00:00').getHours()",
        json!({}),
        json!(10),
    );
    check("new Date(0).getTimezoneOffset()", json!({}), json!(0));
    check(
        "new Date(0).toString()",
        json!({}),
        json!("Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"),
    );
    check(
        "new Date('2024-01-01T10:00:00+03:00').toISOString()",
        json!({}),
        json!("2024-01-01T07:00:00.000Z"),
    );
    check(
        "new Date(0) instanceof Date && Object.prototype.toString.call(new Date(0))",
        json!({}),
        json!("[object Date]"),
    );
    check(
        "moment.isMoment(moment()) && moment.isDate(new Date())",
        json!({}),
        json!(true),
    );

    let e = engine();
    let now = e
        .eval("moment().add(3,'hours').toISOString()", &Map::new())
        .expect("a value");
    let Some(Value::String(now)) = now else {
        panic!("{now:?}")
    };
    assert!(now.ends_with('Z'), "{now}");
    let later = e
        .eval(
            "Date.now() + 3 * 3600 * 1000 - new Date(t).getTime()",
            &vars(json!({"t": now})),
        )
        .expect("a value");
    let diff = later.and_then(|v| v.as_f64()).expect("a value");
    assert!(diff.abs() < 5000.0, "{diff}");
}

/// The UTC behaviour must not depend on the host: run the moment test again in a child process
/// with a far-off time zone.
#[test]
fn utc_whatever_the_host_zone() {
    if std::env::var_os("KT_SCRIPT_TZ_CHILD").is_some() {
        return;
    }
    let exe = std::env::current_exe().expect("a value");
    for tz in ["Asia/Tokyo", "America/Los_Angeles", "Europe/Moscow"] {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "moment_and_date_are_utc", "--test-threads=1"])
            .env("TZ", tz)
            .env("KT_SCRIPT_TZ_CHILD", "1")
            .output()
            .expect("a value");
        assert!(
            out.status.success(),
            "TZ={tz}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "TZ={tz}"
        );
    }
}

#[test]
fn conversion_to_json() {
    check(
        "new Date(Date.UTC(2024, 4, 5, 6, 7, 8, 9))",
        json!({}),
        json!("2024-05-05T06:07:08.009Z"),
    );
    check(
        "({d: new Date(0)})",
        json!({}),
        json!({"d": "1970-01-01T00:00:00.000Z"}),
    );
    check(
        "new Uint8Array([1, 2, 255])",
        json!({}),
        json!({"type": "Buffer", "data": [1, 2, 255]}),
    );
    check(
        "new Uint8Array([104, 105]).buffer",
        json!({}),
        json!({"type": "Buffer", "data": [104, 105]}),
    );
    check(
        "({a: undefined, b: 1, f() {}, s: Symbol('x')})",
        json!({}),
        json!({"b": 1}),
    );
    check("[undefined, () => 1]", json!({}), json!([null, null]));
    check(
        "[NaN, Infinity, -Infinity]",
        json!({}),
        json!([null, null, null]),
    );
    check(
        "12345678901234567890n",
        json!({}),
        json!("12345678901234567890"),
    );
    check(
        "({n: 2n ** 70n})",
        json!({}),
        json!({"n": "1180591620717411303424"}),
    );
    check(
        "s + '✓ 😀'",
        json!({"s": "Ёлки — 中文 "}),
        json!("Ёлки — 中文 ✓ 😀"),
    );
    check("x", json!({"x": 1.5e300}), json!(1.5e300));
    check("x", json!({"x": null}), Value::Null);
    let e = engine();
    assert_eq!(e.eval("undefined", &Map::new()).expect("a value"), None);
    assert_eq!(e.eval("void 0", &Map::new()).expect("a value"), None);
    assert_eq!(e.eval("() => 1", &Map::new()).expect("a value"), None);
    assert_eq!(e.eval("   ", &Map::new()).expect("a value"), None);
}

#[test]
fn variables_are_copies() {
    let e = engine();
    let v = vars(json!({"a": {"n": 1}, "list": [1]}));
    check(
        "(a.n = 2, list.push(5), [a, list])",
        Value::Object(v.clone()),
        json!([{"n": 2}, [1, 5]]),
    );
    assert_eq!(
        e.eval("[a, list]", &v).expect("a value"),
        Some(json!([{"n": 1}, [1]]))
    );
}

#[test]
fn reference_and_type_errors() {
    let e = fails("x + 1", json!({}));
    assert_eq!(e.code, ErrorCode::Expression);
    assert!(e.message.contains("ReferenceError"), "{}", e.message);
    assert!(e.message.contains("x is not defined"), "{}", e.message);

    let e = fails("Иванов", json!({}));
    assert_eq!(e.code, ErrorCode::Expression);
    assert!(e.message.contains("Иванов is not defined"), "{}", e.message);

    let e = fails("values['4'][0].recordId", json!({"values": {"4": []}}));
    assert_eq!(e.code, ErrorCode::Expression);
    assert!(e.message.starts_with("TypeError"), "{}", e.message);

    let e = fails("unknownFunction(1)", json!({}));
    assert!(
        e.message.contains("unknownFunction is not defined"),
        "{}",
        e.message
    );
    let e = fails("(1).nope()", json!({}));
    assert!(e.message.starts_with("TypeError"), "{}", e.message);
    let e = fails("(() => { throw 'boom' })()", json!({}));
    assert_eq!(e.message, "Uncaught boom");
    let e = fails("(() => { throw new RangeError('зашкал') })()", json!({}));
    assert!(e.message.starts_with("RangeError: зашкал"), "{}", e.message);
}

#[test]
fn syntax_errors() {
    let e = engine();
    for bad in [
        "1 +",
        "a b",
        "{a: }",
        "\"unterminated",
        "1); while(true){}; (1",
        "1]; [1",
        "x; y",
        "var x = 1",
        "await f()",
        "1))}; x; ((function(){((1",
    ] {
        let err = e.check_expression(bad).expect_err(bad);
        assert!(err.contains("SyntaxError"), "{bad}: {err}");
        let err = e.eval(bad, &Map::new()).expect_err(bad);
        assert_eq!(err.code, ErrorCode::Expression, "{bad}");
        assert!(
            err.message.contains("SyntaxError"),
            "{bad}: {}",
            err.message
        );
    }
    for good in [
        "1",
        "{a: 1}",
        "a.b[c]",
        "`x ${y}`",
        "f(1)\n// trailing comment",
        "x ? y : z",
        "",
    ] {
        e.check_expression(good)
            .unwrap_or_else(|m| panic!("{good}: {m}"));
    }
    // A syntax check never runs the text: no deadline is hit even for an endless loop.
    e.check_function_body("while (true) {}").expect("a value");
}

#[test]
fn escape_attempts_never_run() {
    let e = Engine::new(Limits {
        expression_timeout: Duration::from_millis(200),
        ..Limits::default()
    });
    let started = std::time::Instant::now();
    let err = e
        .eval("1); while(true){}; (1", &Map::new())
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression);
    assert!(
        started.elapsed() < Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
    let err = e
        .eval("1)); globalThis.leak = 1; ((1", &Map::new())
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression);
    assert_eq!(
        e.eval("typeof leak", &Map::new()).expect("a value"),
        Some(json!("undefined"))
    );
}

#[test]
fn templates() {
    let e = engine();
    let v = vars(json!({"identifier": 1, "name": "Пётр", "obj": {"id": 7}}));
    assert_eq!(e.template("${identifier}", &v).expect("a value"), "1");
    assert_eq!(
        e.template("f${obj.id}_${name}", &v).expect("a value"),
        "f7_Пётр"
    );
    assert_eq!(
        e.template("plain ` text \\ $ {}", &v).expect("a value"),
        "plain ` text \\ $ {}"
    );
    assert_eq!(
        e.template("a`b${identifier + 1}\\n", &v).expect("a value"),
        "a`b2\\n"
    );
    assert_eq!(e.template("${ {x: '}'}.x }", &v).expect("a value"), "}");
    assert_eq!(
        e.template("${ [1,2].join('-') }", &v).expect("a value"),
        "1-2"
    );
    assert_eq!(
        e.template("${missing}", &v).expect_err("an error").code,
        ErrorCode::Expression
    );
    assert_eq!(
        e.template("${identifier", &v).expect_err("an error").code,
        ErrorCode::Expression
    );
}

#[test]
fn odd_variable_names_are_ignored() {
    let v = vars(json!({"a-b": 1, "class": 2, "ok": 3, "сотрудники": [1]}));
    check("ok", Value::Object(v.clone()), json!(3));
    let err = engine().eval("class", &v).expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression);
    check("сотрудники.length", Value::Object(v), json!(1));
}
