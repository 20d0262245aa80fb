//! The sandbox's guarantees: limits, isolation between evaluations that share a warm context,
//! and use from many threads.

use std::time::{Duration, Instant};

use kartoteka_script::{Engine, ErrorCode, Limits};
use serde_json::{json, Map, Value};

fn short() -> Engine {
    Engine::new(Limits {
        expression_timeout: Duration::from_millis(100),
        code_timeout: Duration::from_millis(300),
        memory_bytes: 32 * 1024 * 1024,
    })
}

fn none() -> Map<String, Value> {
    Map::new()
}

fn eval(e: &Engine, src: &str) -> Option<Value> {
    e.eval(src, &none())
        .unwrap_or_else(|err| panic!("{src}: {err}"))
}

#[test]
fn endless_expression_times_out() {
    let e = short();
    let started = Instant::now();
    let err = e
        .eval("(() => { while (true) {} })()", &none())
        .expect_err("an error");
    let took = started.elapsed();
    assert_eq!(err.code, ErrorCode::Timeout, "{err}");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
    // A timeout cannot be caught by the code that ran out of time.
    let err = e
        .eval(
            "(() => { try { while (true) {} } catch (e) { return 'caught' } })()",
            &none(),
        )
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Timeout);
    assert_eq!(eval(&e, "1 + 1"), Some(json!(2)));
}

#[test]
fn endless_code_times_out() {
    let e = short();
    let started = Instant::now();
    let err = e.run_code("for (;;) {}", &none()).expect_err("an error");
    let took = started.elapsed();
    assert_eq!(err.code, ErrorCode::Timeout, "{err}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_millis(900), "{took:?}");
    let err = e
        .run_code("const a = []; while (true) { a.sort(); }", &none())
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Timeout);
    assert_eq!(
        e.run_code("return 3", &none()).expect("a value"),
        Some(json!(3))
    );
}

#[test]
fn memory_bomb_hits_the_limit_and_the_engine_recovers() {
    let e = Engine::new(Limits {
        code_timeout: Duration::from_secs(20),
        ..short().limits()
    });
    let err = e
        .run_code(
            "const a = []; while (true) a.push('x'.repeat(1000) + a.length);",
            &none(),
        )
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Limit, "{err}");
    let err = e
        .run_code(
            "const m = new Map(); let i = 0; while (true) m.set(i, {i: i++})",
            &none(),
        )
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Limit, "{err}");
    let err = e
        .run_code(
            "let s = 'x'; while (true) s = s + s; return s.length",
            &none(),
        )
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Limit, "{err}");
    assert_eq!(eval(&e, "_.size([1, 2])"), Some(json!(2)));
    assert_eq!(
        e.run_code("return moment(0).year()", &none())
            .expect("a value"),
        Some(json!(1970))
    );
}

#[test]
fn deep_recursion_is_an_error_not_a_crash() {
    let e = short();
    let err = e
        .run_code(
            "function f(n) { return f(n + 1) + 1; }\nreturn f(0);",
            &none(),
        )
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression, "{err}");
    assert!(err.message.contains("RangeError"), "{}", err.message);
    // Deeply nested data built in JS and returned.
    let out = e.run_code(
        "let o = {}; for (let i = 0; i < 100000; i++) o = {o}; return JSON.stringify(o).length",
        &none(),
    );
    assert!(out.is_err() || out.expect("a value").is_some());
    let out = e.run_code(
        "let o = []; for (let i = 0; i < 1000; i++) o = [o]; return o",
        &none(),
    );
    assert!(out.is_err(), "a result nested too deeply to read back");
    assert_eq!(eval(&e, "2 * 2"), Some(json!(4)));
    // And the same from a thread with a small stack.
    let handle = std::thread::Builder::new()
        .stack_size(1024 * 1024)
        .spawn(|| {
            let e = short();
            let err = e
                .run_code("const f = n => f(n + 1); return f(0)", &Map::new())
                .expect_err("an error");
            (err.code, e.eval("1", &Map::new()).expect("a value"))
        })
        .expect("a thread");
    let (code, after) = handle.join().expect("no panic");
    assert_eq!(code, ErrorCode::Expression);
    assert_eq!(after, Some(json!(1)));
}

#[test]
fn variables_and_globals_do_not_survive_an_evaluation() {
    let e = Engine::default();
    let vars = json!({"secret": 42})
        .as_object()
        .cloned()
        .expect("an object");
    assert_eq!(e.eval("secret", &vars).expect("a value"), Some(json!(42)));
    assert_eq!(eval(&e, "typeof secret"), Some(json!("undefined")));
    assert_eq!(eval(&e, "globalThis.secret"), None);

    assert_eq!(eval(&e, "(leaked = 1, leaked)"), Some(json!(1)));
    assert_eq!(eval(&e, "typeof leaked"), Some(json!("undefined")));
    assert_eq!(
        e.run_code("globalThis.g = 1; var v = 2; return g", &none())
            .expect("a value"),
        Some(json!(1))
    );
    assert_eq!(
        eval(&e, "typeof g + typeof v"),
        Some(json!("undefinedundefined"))
    );
    // A global that cannot be deleted costs the context, not the isolation.
    e.run_code(
        "Object.defineProperty(globalThis, 'stuck', {value: 1, configurable: false})",
        &none(),
    )
    .expect("a value");
    assert_eq!(eval(&e, "typeof stuck"), Some(json!("undefined")));
    // Indirect eval declares real global bindings.
    e.run_code(
        "(0, eval)('var viaEval = 1; function fnViaEval() {}')",
        &none(),
    )
    .expect("a value");
    assert_eq!(
        eval(&e, "typeof viaEval + typeof fnViaEval"),
        Some(json!("undefinedundefined"))
    );
}

#[test]
fn libraries_and_builtins_cannot_be_altered() {
    let e = Engine::default();
    let attempts = [
        "_.get = null",
        "_ = null",
        "moment = null",
        "_.mixin({evil: () => 1})",
        "_.templateSettings.interpolate = /x/",
        "moment.fn.format = () => 'hacked'",
        "moment.defaultFormat = 'YYYY'",
        "Array.prototype.x = 1",
        "Array.prototype.map = () => 'hacked'",
        "Object.prototype.polluted = 1",
        "Object.assign(Object.prototype, {polluted: 1})",
        "JSON.parse = () => 'hacked'",
        "Math.random = () => 4",
        "Date.prototype.toISOString = () => 'hacked'",
        "Date = null",
        "String.prototype.trim = null",
        "crypto.randomUUID = () => 'fixed'",
        "Object.getPrototypeOf(crypto.createHash('md5')).digest = () => 'hacked'",
        "Object.getPrototypeOf(function* () {}).prototype.next = null",
        "Object.getPrototypeOf([][Symbol.iterator]()).next = null",
        "Object.setPrototypeOf(Array.prototype, null)",
        "moment.locale('ru')",
        "moment.defineLocale('xx', {parentLocale: 'en'})",
        "moment.updateLocale('en', {months: ['a','b','c','d','e','f','g','h','i','j','k','l']})",
        "moment.relativeTimeThreshold('s', 1)",
        "(() => { let s; _.cloneDeepWith({a: 1}, (v, k, o, st) => { if (st) s = st; }); Object.getPrototypeOf(s).set = null; })()",
    ];
    for attempt in attempts {
        // Whether the attempt throws (strict code, frozen objects) or silently does nothing,
        // it must leave nothing behind.
        let _ = e.run_code(attempt, &none());
        let _ = e.eval(attempt, &none());
        let _ = e.run_code(&format!("'use strict'; {attempt}"), &none());
    }
    assert_eq!(eval(&e, "typeof _.get"), Some(json!("function")));
    assert_eq!(eval(&e, "_.get({a: {b: 1}}, 'a.b')"), Some(json!(1)));
    assert_eq!(eval(&e, "typeof _.evil"), Some(json!("undefined")));
    assert_eq!(eval(&e, "[].x"), None);
    assert_eq!(eval(&e, "[1].map(x => x + 1)"), Some(json!([2])));
    assert_eq!(eval(&e, "({}).polluted"), None);
    assert_eq!(eval(&e, "JSON.parse('[1]')"), Some(json!([1])));
    assert_eq!(eval(&e, "Math.random() < 1"), Some(json!(true)));
    assert_eq!(
        eval(&e, "new Date(0).toISOString()"),
        Some(json!("1970-01-01T00:00:00.000Z"))
    );
    assert_eq!(eval(&e, "' a '.trim()"), Some(json!("a")));
    assert_eq!(eval(&e, "moment(0).format('MMMM')"), Some(json!("January")));
    assert_eq!(eval(&e, "moment.locale()"), Some(json!("en")));
    assert_eq!(
        eval(&e, "moment(0).format()"),
        Some(json!("1970-01-01T00:00:00+00:00"))
    );
    assert_eq!(
        eval(&e, "crypto.randomUUID() !== 'fixed'"),
        Some(json!(true))
    );
    assert_eq!(
        eval(&e, "crypto.createHash('md5').update('').digest('hex')"),
        Some(json!("d41d8cd98f00b204e9800998ecf8427e"))
    );
    assert_eq!(eval(&e, "[...[1, 2]]"), Some(json!([1, 2])));
    assert_eq!(eval(&e, "_.cloneDeep({a: [1]})"), Some(json!({"a": [1]})));
    assert_eq!(
        eval(
            &e,
            "Object.getPrototypeOf(Array.prototype) === Object.prototype"
        ),
        Some(json!(true))
    );
}

#[test]
fn own_overrides_of_frozen_names_still_work() {
    let e = Engine::default();
    let src = "class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }\n\
               const o = {}; o.toString = () => 'mine'; o.constructor = 5;\n\
               const err = new Error(); err.message = 'set later';\n\
               function F() {} F.prototype.toString = function () { return 'F' };\n\
               return [new MyError('x').name, String(o), o.constructor, err.message, String(new F())]";
    assert_eq!(
        e.run_code(src, &none()).expect("a value"),
        Some(json!(["MyError", "mine", 5, "set later", "F"]))
    );
    let err = e
        .run_code("class E2 extends Error { constructor() { super('boom'); this.name = 'E2'; } }\nthrow new E2()", &none())
        .expect_err("an error");
    assert!(err.message.starts_with("E2: boom"), "{}", err.message);
}

#[test]
fn many_threads_share_one_engine() {
    let e = Engine::default();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let vars = json!({"t": t, "i": i}).as_object().cloned().expect("an object");
                    let got = e.eval("_.sum([t * 1000, i])", &vars).expect("a value");
                    assert_eq!(got, Some(json!(t * 1000 + i)));
                    let got = e
                        .run_code("return {t, i, h: crypto.createHash('sha1').update(String(i)).digest('hex').length}", &vars)
                        .expect("a value");
                    assert_eq!(got, Some(json!({"t": t, "i": i, "h": 40})));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("no panic");
    }
}
