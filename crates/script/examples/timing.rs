//! Prints how long evaluations take on a warm sandbox: the engine's throughput target is 1,000
//! process runs per second on 2 cores, each run evaluating a handful of expressions.
//!
//! `cargo run --release -p kartoteka-script --example timing`

use std::time::Instant;

use kartoteka_script::Engine;
use serde_json::{json, Map, Value};

fn vars() -> Map<String, Value> {
    let v = json!({
        "recordId": "1042",
        "catalogId": 74,
        "$status": "new",
        "summ": 1250.5,
        "count": 3,
        "i": 1,
        "name": "Пётр Иванов",
        "values": {"2": "Заказ", "3": [1, 2], "4": [{"recordId": "17", "catalogId": "74"}]},
        "foundedWorkTime": [{"values": {"5": "09:00"}}],
        "user": {"id": 1, "title": "Администратор", "email": "admin@example.com"},
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn time<T: std::fmt::Debug, E: std::fmt::Display>(
    label: &str,
    n: u32,
    mut f: impl FnMut() -> Result<T, E>,
) {
    match f() {
        Ok(v) => println!("{label}\n    = {v:?}"),
        Err(e) => println!("{label}\n    FAILED: {e}"),
    }
    let started = Instant::now();
    for _ in 0..n {
        let _ = f();
    }
    let per = started.elapsed() / n;
    println!("    {:.1} µs per evaluation", per.as_secs_f64() * 1e6);
}

fn main() {
    let engine = Engine::default();
    let v = vars();

    let started = Instant::now();
    let _ = engine.eval("1", &Map::new());
    println!(
        "{:<58} {:>8.1} ms",
        "first evaluation on a thread (loads lodash and moment)",
        started.elapsed().as_secs_f64() * 1e3
    );

    let n = 20_000;
    time(
        "expression: summ > 0 && $status === 'new' (condition)",
        n,
        || engine.condition("summ > 0 && $status === 'new'", &v),
    );
    time(
        "expression: \"Заказ №\" + recordId + \" \" + name",
        n,
        || engine.eval("\"Заказ №\" + recordId + \" \" + name", &v),
    );
    time(
        "expression: _.get(foundedWorkTime, \"0.values.5\", \"\")",
        n,
        || engine.eval("_.get(foundedWorkTime, \"0.values.5\", \"\")", &v),
    );
    time(
        "expression: values['4'].length && values['4'][0].recordId",
        n,
        || engine.eval("values['4'].length && values['4'][0].recordId", &v),
    );
    time(
        "expression: moment().add(3,'hours').toISOString()",
        n,
        || engine.eval("moment().add(3,'hours').toISOString()", &v),
    );
    time(
        "expression: {a: summ * count, who: user.title} (object)",
        n,
        || engine.eval("{a: summ * count, who: user.title}", &v),
    );
    time("template: ${catalogId}", n, || {
        engine.template("${catalogId}", &v)
    });
    time("code: 10 inputs, loop and return an object", n / 4, || {
        engine.run_code(
            "let total = 0; for (let k = 0; k < count; k++) total += summ; return {total, name}",
            &v,
        )
    });

    // The uncached path: a new expression text every time (compile and syntax check included).
    let mut k = 0u64;
    time(
        "expression compiled for the first time (cache miss)",
        2_000,
        || {
            k += 1;
            engine.eval(&format!("summ + {k}"), &v)
        },
    );

    // Two threads, as on the 2-core target machine.
    let per_thread = 50_000u32;
    let started = Instant::now();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let engine = engine.clone();
            let v = v.clone();
            std::thread::spawn(move || {
                for _ in 0..per_thread {
                    let _ = engine.eval("_.get(foundedWorkTime, \"0.values.5\", \"\")", &v);
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let total = started.elapsed();
    let rate = f64::from(per_thread * 2) / total.as_secs_f64().max(f64::EPSILON);
    println!(
        "{:<58} {:>8.0} /s",
        "2 threads, _.get expression, evaluations", rate
    );
}
