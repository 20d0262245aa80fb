//! Property tests: whatever a client sends, the parser answers with a filter or an error
//! whose path starts at the parameter, and never panics.

mod common;

use common::scope;
use kartoteka_filter::{parse, Input, Options};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Field ids, operators and value words the parser knows, so that random input often gets
/// past the first checks.
const WORDS: &[&str] = &[
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
    "10",
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "day",
    "99",
    "$or",
    "$and",
    "at",
    "to",
    "fieldId",
    "attr",
    "value",
    "catalogId",
    "recordId",
    "filters",
    "clients",
    "deals",
    "101",
    "1",
    "$lost",
    "NULL_DATE",
    "CURRENT_USER",
    "null",
    "true",
    "false",
    "",
    "[1,2]",
    "{\"at\":1}",
    "2024-01-01",
    "x",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => ".{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        word().prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((word(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn bracket_key() -> impl Strategy<Value = String> {
    let seg = prop_oneof![
        3 => (0usize..4).prop_map(|i| format!("[{i}]")),
        3 => word().prop_map(|w| format!("[{w}]")),
        1 => Just("[]".to_string()),
        1 => ".{0,4}",
    ];
    proptest::collection::vec(seg, 0..7).prop_map(|s| format!("filters{}", s.concat()))
}

fn check(input: &Input) {
    let opts = Options { tz_offset_min: 180 };
    if let Err(e) = parse(input, &scope(), &opts) {
        assert!(e.path.starts_with("filters"), "{e:?}");
        assert!(!e.message.is_empty());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json(v in json_value()) {
        check(&Input::json("filters", v.clone()));
        // The same JSON as text in one query parameter.
        let pairs = vec![("filters".to_string(), v.to_string())];
        if let Ok(Some(input)) = Input::from_query(&pairs, "filters") {
            check(&input);
        }
    }

    #[test]
    fn arbitrary_array_elements(items in proptest::collection::vec((word(), json_value()), 0..5)) {
        let v = Value::Array(items.into_iter().map(|(f, v)| serde_json::json!({"fieldId": f, "value": v})).collect());
        check(&Input::json("filters", v));
    }

    #[test]
    fn arbitrary_query_pairs(pairs in proptest::collection::vec((bracket_key(), word()), 0..12)) {
        match Input::from_query(&pairs, "filters") {
            Ok(Some(input)) => check(&input),
            Ok(None) => {}
            Err(e) => prop_assert!(e.path.starts_with("filters")),
        }
    }
}
