//! The Code component (spec 03 §7.2.2): function bodies, inputs as copies, results, the
//! `crypto` subset and what the sandbox refuses.

use kartoteka_script::{Engine, ErrorCode};
use serde_json::{json, Map, Value};

fn inputs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("inputs must be an object"),
    }
}

#[track_caller]
fn run(src: &str, v: Value) -> Option<Value> {
    Engine::default()
        .run_code(src, &inputs(v))
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

#[track_caller]
fn run_err(src: &str, v: Value) -> kartoteka_script::ScriptError {
    match Engine::default().run_code(src, &inputs(v)) {
        Ok(got) => panic!("{src} gave {got:?}"),
        Err(e) => e,
    }
}

#[test]
fn returns_values() {
    assert_eq!(run("let a = 10;\nreturn a*a;", json!({})), Some(json!(100)));
    assert_eq!(
        run("return price * qty", json!({"price": 2.5, "qty": 4})),
        Some(json!(10))
    );
    assert_eq!(run("const x = 1;", json!({})), None);
    assert_eq!(run("return undefined", json!({})), None);
    assert_eq!(run("return", json!({})), None);
    assert_eq!(
        run(
            "let a = moment('2024-01-01').add(1, 'days').format('YYYY-MM-DD');\n\
             let b = _.concat(array, 2, [3], [[4]]);\nreturn {a, b};",
            json!({"array": [1]})
        ),
        Some(json!({"a": "2024-01-02", "b": [1, 2, 3, [4]]}))
    );
    assert_eq!(
        run(
            "function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }\nreturn fib(20);",
            json!({})
        ),
        Some(json!(6765))
    );
    assert_eq!(
        run("return new Date(0)", json!({})),
        Some(json!("1970-01-01T00:00:00.000Z"))
    );
    assert_eq!(
        run(
            "return {name: 'Пётр', list: items.map(i => i.toUpperCase())}",
            json!({"items": ["ё", "ж"]})
        ),
        Some(json!({"name": "Пётр", "list": ["Ё", "Ж"]}))
    );
    // Implicit globals work within a run (sloppy code), and are gone afterwards.
    assert_eq!(
        run(
            "total = 0; for (const x of xs) total += x; return total",
            json!({"xs": [1, 2]})
        ),
        Some(json!(3))
    );
    assert_eq!(
        run("return typeof total", json!({})),
        Some(json!("undefined"))
    );
}

#[test]
fn sees_only_its_inputs_as_copies() {
    let engine = Engine::default();
    let vars = inputs(json!({"obj": {"n": 1, "list": [1]}}));
    let out = engine
        .run_code(
            "obj.n = 2; obj.list.push(2); obj.extra = true; return obj",
            &vars,
        )
        .expect("a value");
    assert_eq!(out, Some(json!({"n": 2, "list": [1, 2], "extra": true})));
    assert_eq!(vars, inputs(json!({"obj": {"n": 1, "list": [1]}})));
    let err = engine
        .run_code("return recordId", &inputs(json!({"other": 1})))
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression);
    assert!(
        err.message.contains("recordId is not defined"),
        "{}",
        err.message
    );
    let err = engine
        .run_code("return 1", &inputs(json!({"bad-name": 1})))
        .expect_err("an error");
    assert_eq!(err.code, ErrorCode::Expression);
}

#[test]
fn asynchronous_code_is_refused() {
    let err = run_err("return Promise.resolve(1)", json!({}));
    assert_eq!(err.code, ErrorCode::Expression);
    assert!(err.message.contains("Promise"), "{}", err.message);
    let err = run_err("return (async () => 1)()", json!({}));
    assert_eq!(err.code, ErrorCode::Expression);
    let err = run_err(
        "async function f() { await null; }\nf();\nreturn 1",
        json!({}),
    );
    assert_eq!(err.code, ErrorCode::Expression);
    assert!(err.message.contains("asynchronous"), "{}", err.message);
    let err = run_err("await null; return 1", json!({}));
    assert_eq!(err.code, ErrorCode::Expression);
    let err = run_err("Promise.resolve().then(() => {}); return 1", json!({}));
    assert_eq!(err.code, ErrorCode::Expression);
    // The engine is still fine afterwards.
    assert_eq!(run("return 2", json!({})), Some(json!(2)));
}

#[test]
fn no_timers_require_or_io() {
    for name in [
        "setTimeout",
        "setInterval",
        "setImmediate",
        "require",
        "queueMicrotask",
        "std",
        "os",
        "process",
        "module",
        "exports",
        "print",
        "console",
        "fetch",
        "XMLHttpRequest",
    ] {
        assert_eq!(
            run(&format!("return typeof {name}"), json!({})),
            Some(json!("undefined")),
            "{name}"
        );
    }
    let err = run_err("setTimeout(() => {}, 10)", json!({}));
    assert!(
        err.message.contains("setTimeout is not defined"),
        "{}",
        err.message
    );
    let err = run_err("const fs = require('fs')", json!({}));
    assert!(
        err.message.contains("require is not defined"),
        "{}",
        err.message
    );
    let err = run_err("return import('os')", json!({}));
    assert_eq!(err.code, ErrorCode::Expression);
}

#[test]
fn crypto_hashes_match_known_vectors() {
    let cases = [
        ("md5", "", "d41d8cd98f00b204e9800998ecf8427e"),
        ("md5", "abc", "900150983cd24fb0d6963f7d28e17f72"),
        ("sha1", "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"),
        ("sha256", "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("sha512", "abc", "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"),
    ];
    for (alg, data, hex) in cases {
        let src = format!("return crypto.createHash('{alg}').update('{data}').digest('hex')");
        assert_eq!(run(&src, json!({})), Some(json!(hex)), "{alg}");
    }
    // UTF-8, as Node hashes strings by default.
    assert_eq!(
        run(
            "return crypto.createHash('md5').update('Привет').digest('hex')",
            json!({})
        ),
        Some(json!("8a669e9418750c81ab90ae159a8ec410"))
    );
    assert_eq!(
        run(
            "return crypto.createHash('sha256').update('a').update('bc').digest('base64')",
            json!({})
        ),
        Some(json!("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="))
    );
    // RFC 4231 test case 2.
    assert_eq!(
        run("return crypto.createHmac('sha256', 'Jefe').update('what do ya want for nothing?').digest('hex')", json!({})),
        Some(json!("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
    );
    // RFC 2202 test case 2.
    assert_eq!(
        run("return crypto.createHmac('md5', 'Jefe').update('what do ya want for nothing?').digest('hex')", json!({})),
        Some(json!("750c783e6ab0b503eaa86e310a5db738"))
    );
    assert_eq!(
        run("return crypto.createHmac('sha1', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex')", json!({})),
        Some(json!("de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"))
    );
    // A digest without an encoding is a Buffer, which serialises as Node's Buffer JSON.
    assert_eq!(
        run("const b = crypto.createHash('md5').update('').digest(); return [b.length, b.toString('hex')]", json!({})),
        Some(json!([16, "d41d8cd98f00b204e9800998ecf8427e"]))
    );
    assert_eq!(
        run(
            "return crypto.createHash('sha1').update(new Uint8Array([97, 98, 99])).digest('hex')",
            json!({})
        ),
        Some(json!("a9993e364706816aba3e25717850c26c9cd0d89d"))
    );
    let err = run_err("crypto.createHash('whirlpool')", json!({}));
    assert!(
        err.message.contains("Digest method not supported"),
        "{}",
        err.message
    );
}

#[test]
fn crypto_random() {
    let out = run(
        "const b = crypto.randomBytes(16); return [b.length, b.toString('hex'), crypto.randomUUID(), crypto.randomUUID()]",
        json!({}),
    )
    .expect("a value");
    let a = out.as_array().expect("a value");
    assert_eq!(a[0], json!(16));
    assert_eq!(a[1].as_str().expect("a value").len(), 32);
    let u1 = a[2].as_str().expect("a value");
    assert_eq!(u1.len(), 36);
    assert_ne!(a[2], a[3]);
    let buf = run("return crypto.randomBytes(3)", json!({})).expect("a value");
    assert_eq!(buf["type"], json!("Buffer"));
    assert_eq!(buf["data"].as_array().expect("a value").len(), 3);
}

#[test]
fn body_syntax_checks() {
    let e = Engine::default();
    e.check_function_body("let a = 10;\nreturn a*a;")
        .expect("a value");
    e.check_function_body("").expect("a value");
    e.check_function_body("if (x) { return 1 } else { return 2 }")
        .expect("a value");
    for bad in [
        "return (",
        "}); (function(){",
        "} x; {",
        "let a = ;",
        "await x",
        "}}; while(1){}; {{",
    ] {
        let err = e.check_function_body(bad).expect_err(bad);
        assert!(err.contains("SyntaxError"), "{bad}: {err}");
        let err = e.run_code(bad, &Map::new()).expect_err(bad);
        assert_eq!(err.code, ErrorCode::Expression, "{bad}");
    }
}
