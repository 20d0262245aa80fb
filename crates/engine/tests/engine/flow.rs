//! Control flow: gateways, forks and joins, boundaries, timers, steps and the state.

use std::time::Duration;

use kartoteka_engine::{pacing_delay, Engine, Outcome, Settings, State};
use serde_json::{json, Map, Value};

use crate::common::{failure, finish, run, run_with, Bpmn, Fake, P, T0};

#[tokio::test]
async fn plain_setvar_steps_read_as_the_engine_would() {
    // Literals and bare variables are read without JavaScript; a step whose later
    // expression stops being plain after an earlier write (`o` becomes an object) goes to
    // the engine as a whole.
    let ir = Bpmn::new()
        .start("S")
        .setvar(
            "Plain",
            "plain",
            &[
                ("a", "'x'"),
                ("b", "a"),
                ("c", "42"),
                ("d", "recordId"),
                ("gone", "undefined"),
            ],
        )
        .setvar("Mixed", "mixed", &[("o.k", "c"), ("p", "o"), ("q", "-1")])
        .end("E")
        .chain(&["S", "Plain", "Mixed", "E"])
        .ir();
    let (out, state) = run(&ir, json!({"gone": 5, "recordId": "17"}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        Value::Object(state.vars),
        json!({"recordId": "17", "a": "x", "b": "x", "c": 42, "d": "17",
               "o": {"k": 42}, "p": {"k": 42}, "q": -1})
    );
}

#[tokio::test]
async fn setvar_assigns_in_order_each_seeing_the_previous() {
    let ir = Bpmn::new()
        .start("S")
        .setvar(
            "V",
            "vars",
            &[
                ("a", "1"),
                ("b", "a + 1"),
                ("o.deep.x", "b * 10"),
                ("arr", "[1, 2]"),
                ("arr[a]", "'two'"),
                ("gone", "undefined"),
                ("skipped", ""),
            ],
        )
        .end("E")
        .chain(&["S", "V", "E"])
        .ir();
    let (out, state) = run(&ir, json!({"gone": 5, "keep": true}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(
        Value::Object(state.vars),
        json!({"keep": true, "a": 1, "b": 2, "o": {"deep": {"x": 20}}, "arr": [1, "two"]})
    );
}

#[tokio::test]
async fn writing_into_a_string_is_an_expression_error() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("V", "Into a string", &[("s", "'text'"), ("s.x", "1")])
        .end("E")
        .chain(&["S", "V", "E"])
        .ir();
    let (out, _) = run(&ir, json!({}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.code, "EXPRESSION");
    assert_eq!(f.component.as_deref(), Some("Into a string"));
}

#[tokio::test]
async fn undefined_variable_fails_the_process_with_the_component_name() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("V", "Фиксируем ошибку", &[("err0r", "err0r")])
        .end("E")
        .chain(&["S", "V", "E"])
        .ir();
    let (out, state) = run(&ir, json!({"x": 1}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.code, "EXPRESSION");
    assert!(f.message.contains("err0r"), "{}", f.message);
    assert_eq!(f.component.as_deref(), Some("Фиксируем ошибку"));
    // The variables at the failure stay for the result.
    assert_eq!(state.vars.get("x"), Some(&json!(1)));
}

fn two_way(c1: &str, c2: &str, default: bool) -> kartoteka_bpmn::Ir {
    let b = Bpmn::new()
        .start("S")
        .xor("G", default.then_some("C"))
        .setvar("A", "A", &[("went", "'A'")])
        .setvar("B", "B", &[("went", "'B'")])
        .setvar("C", "C", &[("went", "'C'")])
        .end("E")
        .flow("S", "G")
        .cond("G", "A", c1)
        .cond("G", "B", c2);
    let b = if default { b.flow("G", "C") } else { b };
    b.chain(&["A", "E"])
        .chain(&["B", "E"])
        .chain(&["C", "E"])
        .ir()
}

#[tokio::test]
async fn xor_takes_the_first_truthy_condition_in_document_order() {
    let ir = two_way("x > 1", "x > 2", true);
    let (_, state) = run(&ir, json!({"x": 5}), &Fake::new()).await;
    assert_eq!(state.vars["went"], "A");
    let (_, state) = run(&ir, json!({"x": 0, "y": 1}), &Fake::new()).await;
    assert_eq!(state.vars["went"], "C", "no condition holds: the default");
}

#[tokio::test]
async fn xor_without_a_taken_flow_fails() {
    let ir = two_way("x > 1", "x > 2", false);
    let (out, _) = run(&ir, json!({"x": 0}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.message, "No conditional flow was taken from G");
}

#[tokio::test]
async fn a_failing_condition_fails_with_expression() {
    let ir = two_way("nope.x > 1", "true", true);
    let (out, _) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(failure(&out).code, "EXPRESSION");
}

#[tokio::test]
async fn and_forks_and_joins_once() {
    let ir = Bpmn::new()
        .start("S")
        .and("Fork")
        .setvar("L", "left", &[("a", "1")])
        .setvar("R", "right", &[("b", "2")])
        .and("Join")
        .setvar(
            "After",
            "after",
            &[
                ("c", "a + b"),
                ("n", "(typeof n === 'undefined' ? 0 : n) + 1"),
            ],
        )
        .end("E")
        .chain(&["S", "Fork", "L", "Join", "After", "E"])
        .chain(&["Fork", "R", "Join"])
        .ir();
    let (out, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["c"], 3);
    assert_eq!(state.vars["n"], 1, "the join lets one token through");
    assert!(state.joins.is_empty());
}

#[tokio::test]
async fn a_task_with_several_lines_forks_and_honours_their_conditions() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("T", "t", &[("n", "0")])
        .setvar("A", "a", &[("a", "true")])
        .setvar("B", "b", &[("b", "true")])
        .setvar("C", "c", &[("c", "true")])
        .end("E")
        .chain(&["S", "T", "A", "E"])
        .chain(&["T", "B", "E"])
        .cond("T", "C", "n > 0")
        .chain(&["C", "E"])
        .ir();
    let (out, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars.get("a"), Some(&json!(true)));
    assert_eq!(state.vars.get("b"), Some(&json!(true)));
    assert_eq!(state.vars.get("c"), None, "a false condition is not taken");
}

#[tokio::test]
async fn error_boundary_writes_code_and_message_and_continues() {
    let ir = Bpmn::new()
        .start("S")
        .task(
            "Get",
            "bpiumGetRecord",
            &[("catalogId", P::E("'7'")), ("recordId", P::E("404"))],
            &[("r", "output")],
        )
        .error_boundary("Err", "Get", "errCode", "errMsg")
        .setvar("Log", "log", &[("handled", "errCode + ': ' + errMsg")])
        .setvar("Ok", "ok", &[("normal", "true")])
        .end("E")
        .chain(&["S", "Get", "Ok", "E"])
        .chain(&["Err", "Log", "E"])
        .ir();
    let (out, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done, "a caught failure completes the process");
    assert_eq!(state.vars["errCode"], "NOT_FOUND");
    assert!(state.vars["handled"]
        .as_str()
        .unwrap()
        .starts_with("NOT_FOUND: record 404"));
    assert_eq!(
        state.vars.get("normal"),
        None,
        "the normal line is not taken"
    );
}

#[tokio::test]
async fn error_boundary_without_variables_still_catches() {
    let ir = Bpmn::new()
        .start("S")
        .task("X", "sql", &[], &[])
        .error_boundary("Err", "X", "", "")
        .setvar("Caught", "caught", &[("caught", "true")])
        .end("E")
        .chain(&["S", "X", "E"])
        .chain(&["Err", "Caught", "E"])
        .ir();
    let (out, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["caught"], true);
}

#[tokio::test]
async fn unknown_connector_is_not_supported() {
    for connector in ["whatsapp", "max", "somethingNew"] {
        let ir = Bpmn::new()
            .start("S")
            .task("X", connector, &[], &[])
            .end("E")
            .chain(&["S", "X", "E"])
            .ir();
        let (out, _) = run(&ir, json!({}), &Fake::new()).await;
        let f = failure(&out);
        assert_eq!(f.code, "INTERNAL");
        assert_eq!(f.message, format!("component not supported: {connector}"));
        assert_eq!(f.component.as_deref(), Some("X"));
    }
}

fn slow_web(boundaries: &str) -> kartoteka_bpmn::Ir {
    let mut b = Bpmn::new()
        .start("S")
        .task(
            "Web",
            "webRequest",
            &[("query", P::E("'http://slow.test/'"))],
            &[("body", "output_body")],
        )
        .setvar("OnTime", "on time", &[("late", "false")])
        .setvar("Late", "late", &[("late", "true")])
        .setvar("Failed", "failed", &[("failed", "code")])
        .end("E")
        .chain(&["S", "Web", "OnTime", "E"])
        .chain(&["Late", "E"])
        .chain(&["Failed", "E"]);
    if boundaries.contains('t') {
        b = b.timer_boundary("TO", "Web", "PT0.2S").flow("TO", "Late");
    }
    if boundaries.contains('e') {
        b = b
            .error_boundary("Err", "Web", "code", "msg")
            .flow("Err", "Failed");
    }
    b.ir()
}

#[tokio::test]
async fn timeout_boundary_cancels_a_slow_component() {
    let ir = slow_web("t");
    let fake = Fake {
        http_delay: Duration::from_secs(5),
        ..Fake::new()
    };
    let began = std::time::Instant::now();
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["late"], true);
    assert_eq!(state.vars.get("body"), None);
    assert!(began.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_fast_component_is_not_disturbed_by_its_timeout_boundary() {
    let ir = slow_web("t");
    let (out, state) = run(&ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["late"], false);
    assert_eq!(state.vars["body"], "ok");
}

#[tokio::test]
async fn builtin_timeout_goes_to_the_timer_boundary_first_then_the_error_boundary() {
    let settings = Settings {
        web_timeout: Duration::from_millis(100),
        ..Settings::default()
    };
    let fake = Fake {
        http_delay: Duration::from_secs(5),
        ..Fake::new()
    };
    // Both boundaries, but the boundary's own 0.2 s is longer than the 0.1 s built-in limit.
    let (out, state) = run_with(settings.clone(), &slow_web("te"), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["late"], true);
    assert_eq!(state.vars.get("failed"), None);
    // Only the error boundary: it gets TIMEOUT.
    let (out, state) = run_with(settings.clone(), &slow_web("e"), json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["failed"], "TIMEOUT");
    // No boundary: the process fails with TIMEOUT.
    let (out, _) = run_with(settings, &slow_web(""), json!({}), &fake).await;
    assert_eq!(failure(&out).code, "TIMEOUT");
}

#[tokio::test]
async fn code_timeout_is_a_timeout() {
    let mut settings = Settings::default();
    settings.script.code_timeout = Duration::from_millis(150);
    let ir = Bpmn::new()
        .start("S")
        .task(
            "Loop",
            "code",
            &[("source", P::C("while (true) {}"))],
            &[("r", "output")],
        )
        .error_boundary("Err", "Loop", "code", "msg")
        .end("E")
        .chain(&["S", "Loop", "E"])
        .flow("Err", "E")
        .ir();
    let (out, state) = run_with(settings, &ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["code"], "TIMEOUT");
}

#[tokio::test]
async fn intermediate_timer_waits_and_resumes_when_due() {
    let ir = Bpmn::new()
        .start("S")
        .setvar("A", "a", &[("a", "1")])
        .timer("T", "PT5S")
        .setvar("B", "b", &[("b", "a + 1")])
        .end("E")
        .chain(&["S", "A", "T", "B", "E"])
        .ir();
    let engine = Engine::new(Settings::default());
    let fake = Fake::new();
    let mut state = engine.start(&ir, Map::new());
    let out = engine.run_step(&ir, &mut state, &fake, T0).await;
    let Outcome::Waiting { until_ms } = out else {
        panic!("expected Waiting, got {out:?}");
    };
    assert!((T0 + 5000..T0 + 6000).contains(&until_ms), "{until_ms}");
    assert_eq!(state.waits.len(), 1);
    assert_eq!(state.vars.get("b"), None);
    // Too early: still waiting, nothing ran.
    let out = engine.run_step(&ir, &mut state, &fake, T0 + 1000).await;
    assert_eq!(out, Outcome::Waiting { until_ms });
    assert_eq!(state.vars.get("b"), None);
    // Due: the token goes on.
    let out = engine.run_step(&ir, &mut state, &fake, until_ms).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["b"], 2);
    assert!(state.waits.is_empty());
}

#[tokio::test]
async fn a_step_ends_after_step_size_node_entries() {
    let settings = Settings {
        step_size: 3,
        ..Settings::default()
    };
    let ir = Bpmn::new()
        .start("S")
        .setvar("A", "a", &[("n", "1")])
        .setvar("B", "b", &[("n", "n + 1")])
        .setvar("C", "c", &[("n", "n + 1")])
        .setvar("D", "d", &[("n", "n + 1")])
        .end("E")
        .chain(&["S", "A", "B", "C", "D", "E"])
        .ir();
    let engine = Engine::new(settings);
    let fake = Fake::new();
    let mut state = engine.start(&ir, Map::new());
    assert_eq!(
        engine.run_step(&ir, &mut state, &fake, T0).await,
        Outcome::Yield
    );
    assert_eq!((state.step, state.entered), (1, 3));
    assert_eq!(state.vars["n"], 2, "start, A and B ran");
    // C, D and End use the next step's three entries; with nothing left it is done, not
    // another Yield.
    let out = engine.run_step(&ir, &mut state, &fake, T0).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["n"], 4);
    assert_eq!((state.step, state.entered), (1, 6));
}

#[test]
fn pacing_follows_the_formula_with_the_cloud_values() {
    let cloud = Settings {
        step_max_delay: Duration::from_secs(60),
        step_max_delay_on: 1000,
        ..Settings::default()
    };
    let secs = |step| pacing_delay(&cloud, step).as_secs_f64();
    assert_eq!(secs(0), 0.0);
    assert!((secs(1) - 0.0865).abs() < 0.001, "{}", secs(1));
    assert!((secs(5) - 0.4).abs() < 0.05, "{}", secs(5));
    assert!((secs(10) - 0.9).abs() < 0.05, "{}", secs(10));
    assert!((secs(100) - 8.3).abs() < 0.05, "{}", secs(100));
    assert!((secs(1000) - 60.0).abs() < 1e-9, "{}", secs(1000));
    assert!(
        (secs(10_000) - 208.0).abs() < 1.0,
        "3 m 28 s: {}",
        secs(10_000)
    );
    // The self-hosted default reaches an hour at step 1000.
    assert_eq!(pacing_delay(&Settings::default(), 1000).as_secs(), 3600);
    assert!(pacing_delay(&Settings::default(), u64::MAX) > Duration::ZERO);
}

#[test]
fn settings_read_bpm_names_and_the_bpium_prefix_wins() {
    let env = [
        ("BPM_STEP_SIZE", "50"),
        ("BPM_PROCESS_DATA_LIMIT", "524288"),
        ("BPIUM_BPM_PROCESS_DATA_LIMIT", "1000"),
        ("BPM_CODE_TIMEOUT", "250"),
        ("BPM_STEP_MAX_DELAY", "60000"),
        ("BPM_FIND_LIMIT_MAX", "junk"),
    ];
    let s = Settings::from_lookup(|n| {
        env.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.to_string())
    });
    assert_eq!(s.step_size, 50);
    assert_eq!(s.step_timeout, Duration::from_secs(500), "step size × 10 s");
    assert_eq!(s.process_data_limit, 1000);
    assert_eq!(s.script.code_timeout, Duration::from_millis(250));
    assert_eq!(s.step_max_delay, Duration::from_secs(60));
    assert_eq!(
        s.find_limit_max, 1000,
        "an unreadable value keeps the default"
    );
    let d = Settings::from_lookup(|_| None);
    assert_eq!(d, Settings::default());
}

#[tokio::test]
async fn the_data_limit_fails_the_process() {
    let settings = Settings {
        process_data_limit: 200,
        ..Settings::default()
    };
    let ir = Bpmn::new()
        .start("S")
        .setvar("Big", "big", &[("s", "'x'.repeat(500)")])
        .end("E")
        .chain(&["S", "Big", "E"])
        .ir();
    let (out, state) = run_with(settings, &ir, json!({}), &Fake::new()).await;
    let f = failure(&out);
    assert_eq!(f.code, "LIMIT");
    assert_eq!(f.component.as_deref(), Some("big"));
    assert_eq!(
        state.vars["s"].as_str().map(str::len),
        Some(500),
        "values are kept"
    );
}

fn counting_loop(n: u32, throttle: bool) -> kartoteka_bpmn::Ir {
    let b = Bpmn::new()
        .start("S")
        .setvar(
            "Init",
            "i = 0",
            &[("i", "0"), ("sum", "0"), ("count", &n.to_string())],
        )
        .xor("G", Some("E"))
        .setvar("Body", "body", &[("sum", "sum + i * i")])
        .setvar("Inc", "i++", &[("i", "i + 1")])
        .timer("T", "PT0.1S")
        .end("E")
        .chain(&["S", "Init", "G"])
        .cond("G", "Body", "i < count")
        .flow("G", "E");
    if throttle {
        b.chain(&["Body", "Inc", "T", "G"]).ir()
    } else {
        b.chain(&["Body", "Inc", "G"]).ir()
    }
}

#[tokio::test]
async fn state_survives_serde_between_steps() {
    let ir = counting_loop(12, true);
    let settings = Settings {
        step_size: 3,
        ..Settings::default()
    };
    let (out, straight) = run_with(settings.clone(), &ir, json!({}), &Fake::new()).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(straight.vars["sum"], (0..12).map(|i| i * i).sum::<i32>());

    let engine = Engine::new(settings);
    let fake = Fake::new();
    let mut state = engine.start(&ir, Map::new());
    let mut now = T0;
    let mut hops = 0;
    let out = loop {
        let out = engine.run_step(&ir, &mut state, &fake, now).await;
        match out {
            Outcome::Yield | Outcome::Waiting { .. } => {
                if let Outcome::Waiting { until_ms } = out {
                    now = until_ms;
                }
                // Persist and restore, as a host does between steps.
                let text = serde_json::to_string(&state).unwrap();
                let back: State = serde_json::from_str(&text).unwrap();
                assert_eq!(back, state);
                state = back;
                hops += 1;
            }
            other => break other,
        }
    };
    assert_eq!(out, Outcome::Done);
    assert!(hops > 12, "{hops}");
    assert_eq!(state.vars, straight.vars);
    assert_eq!(state.entered, straight.entered);
}

#[tokio::test]
async fn a_state_without_tokens_fails_on_a_scenario_without_start() {
    let ir = counting_loop(1, true);
    let engine = Engine::new(Settings::default());
    let mut state = State::default();
    let out = engine.run_step(&ir, &mut state, &Fake::new(), T0).await;
    assert_eq!(failure(&out).code, "INTERNAL");
    // A token on a node that is not in the scenario (the scenario changed under a process).
    let mut state = engine.start(&ir, Map::new());
    state.tokens[0].at = "Gone".into();
    let out = engine.run_step(&ir, &mut state, &Fake::new(), T0).await;
    assert!(failure(&out).message.contains("Gone"));
}

#[tokio::test]
async fn finish_helper_counts_steps() {
    // A long loop takes several steps and the step counter grows with each Yield.
    let ir = counting_loop(40, false);
    let engine = Engine::new(Settings {
        step_size: 10,
        ..Settings::default()
    });
    let fake = Fake::new();
    let mut state = engine.start(&ir, Map::new());
    assert_eq!(finish(&engine, &ir, &mut state, &fake).await, Outcome::Done);
    assert!(state.step >= 4, "{}", state.step);
    assert_eq!(state.vars["i"], 40);
}

#[tokio::test]
async fn a_non_interrupting_timeout_lets_the_component_finish() {
    let ir = Bpmn::new()
        .start("S")
        .task(
            "Web",
            "webRequest",
            &[("query", P::E("'http://slow.test/'"))],
            &[("body", "output_body")],
        )
        .soft_timer_boundary("TO", "Web", "PT0.1S")
        .setvar("Late", "late", &[("warned", "true")])
        .end("E")
        .chain(&["S", "Web", "E"])
        .chain(&["TO", "Late", "E"])
        .ir();
    let fake = Fake {
        http_delay: Duration::from_millis(400),
        ..Fake::new()
    };
    let (out, state) = run(&ir, json!({}), &fake).await;
    assert_eq!(out, Outcome::Done);
    assert_eq!(state.vars["warned"], true);
    assert_eq!(state.vars["body"], "ok");
}

#[tokio::test]
async fn dropping_a_step_mid_component_leaves_the_state_before_it() {
    let ir = slow_web("");
    let fake = Fake {
        http_delay: Duration::from_secs(5),
        ..Fake::new()
    };
    let engine = Engine::new(Settings::default());
    let mut state = engine.start(&ir, json!({"x": 1}).as_object().unwrap().clone());
    // Run the start node, then cut the step off while the web request is in flight.
    let cut = tokio::time::timeout(
        Duration::from_millis(200),
        engine.run_step(&ir, &mut state, &fake, T0),
    )
    .await;
    assert!(cut.is_err());
    assert_eq!(state.tokens.len(), 1);
    assert_eq!(
        state.tokens[0].at, "Web",
        "the token is still before the task"
    );
    assert_eq!(state.vars["x"], 1);
}

#[test]
fn the_engine_and_its_step_future_can_move_between_threads() {
    fn send_sync_clone<T: Send + Sync + Clone>() {}
    fn send<T: Send>(_: &T) {}
    send_sync_clone::<Engine>();
    let ir = counting_loop(1, false);
    let engine = Engine::new(Settings::default());
    let fake = Fake::new();
    let mut state = engine.start(&ir, Map::new());
    let step = engine.run_step(&ir, &mut state, &fake, T0);
    send(&step);
}
