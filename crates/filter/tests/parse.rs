//! The three input forms parse to one AST; every type's value format (spec 01 §5.3); errors
//! carry the path of the bad part.

mod common;

use common::scope;
use kartoteka_filter::{
    parse, Cond, FieldRef, Filter, FilterError, FilterErrorKind, Input, LinkCond, Options, UserRef,
};
use kartoteka_model::time::parse_instant;
use serde_json::{json, Value};

fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn query(q: &str) -> Result<Filter, FilterError> {
    let input =
        Input::from_query(&pairs(q), "filters")?.unwrap_or(Input::json("filters", Value::Null));
    parse(&input, &scope(), &Options::default())
}

fn json(v: Value) -> Result<Filter, FilterError> {
    parse(&Input::json("filters", v), &scope(), &Options::default())
}

#[track_caller]
fn ok(r: Result<Filter, FilterError>) -> Filter {
    match r {
        Ok(f) => f,
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[track_caller]
fn bad(r: Result<Filter, FilterError>, kind: FilterErrorKind, path: &str) -> FilterError {
    match r {
        Ok(f) => panic!("expected an error at {path}, got {f:?}"),
        Err(e) => {
            assert_eq!(e.kind, kind, "{e}");
            assert_eq!(e.path, path, "{e}");
            e
        }
    }
}

fn field(id: &str) -> FieldRef {
    let s = scope();
    let f = s.cats[0].fields.iter().find(|f| f.id == id).expect("field");
    FieldRef::of(f)
}

fn cond(id: &str, c: Cond) -> Filter {
    Filter::Field(field(id), c)
}

fn ms(s: &str) -> i64 {
    parse_instant(s, 0).expect("date")
}

#[test]
fn the_three_forms_give_one_ast() {
    let expected = Filter::And(vec![
        cond(
            "4",
            Cond::Dates {
                at: Some(ms("2015-10-27T00:00:00+03:00")),
                to: Some(ms("2015-11-19T23:59:59+03:00")),
            },
        ),
        cond(
            "12",
            Cond::Links(vec![
                LinkCond {
                    catalog_db_id: 101,
                    record_id: Some("9".into()),
                    filter: None,
                },
                LinkCond {
                    catalog_db_id: 101,
                    record_id: Some("10".into()),
                    filter: None,
                },
            ]),
        ),
    ]);
    let brackets = ok(query(
        "filters[0][fieldId]=4&filters[0][value][at]=2015-10-27T00:00:00+03:00&filters[0][value][to]=2015-11-19T23:59:59+03:00\
         &filters[1][fieldId]=12&filters[1][value][0][catalogId]=clients&filters[1][value][0][recordId]=9\
         &filters[1][value][1][catalogId]=101&filters[1][value][1][recordId]=10",
    ));
    assert_eq!(brackets, expected);
    let array = json!([
        {"fieldId": 4, "value": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"}},
        {"fieldId": "12", "value": [{"catalogId": "clients", "recordId": 9}, {"catalogId": 101, "recordId": "10"}]}
    ]);
    assert_eq!(ok(json(array.clone())), expected);
    assert_eq!(
        ok(query(&format!("filters={array}"))),
        expected,
        "JSON text in one parameter"
    );
    let object = json!({
        "4": {"at": "2015-10-27T00:00:00+03:00", "to": "2015-11-19T23:59:59+03:00"},
        "12": [{"catalogId": "clients", "recordId": "9"}, {"catalogId": "clients", "recordId": "10"}]
    });
    assert_eq!(ok(json(object.clone())), expected);
    assert_eq!(ok(query(&format!("filters={object}"))), expected);
}

#[test]
fn positions_beyond_the_array_limit() {
    let f = ok(query("filters[25][fieldId]=2&filters[25][value]=a&filters[30][fieldId]=8&filters[30][value]=true"));
    assert_eq!(
        f,
        Filter::And(vec![
            cond("2", Cond::Contains("a".into())),
            cond("8", Cond::Switch(true)),
        ])
    );
    bad(
        query("filters[25][fieldId]=3&filters[25][value]=x"),
        FilterErrorKind::InvalidValue,
        "filters[25].value",
    );
}

#[test]
fn empty_filters_are_no_filter() {
    for v in [
        json!(null),
        json!([]),
        json!({}),
        json!(""),
        json!({"$or": []}),
    ] {
        assert_eq!(ok(json(v.clone())), Filter::All, "{v}");
    }
    assert_eq!(ok(query("filters=")), Filter::All);
    assert_eq!(
        ok(query("filters[0][fieldId]=2&filters[0][value]=")),
        Filter::All
    );
    assert_eq!(ok(json(json!({"3": {}}))), Filter::All);
    assert_eq!(ok(json(json!({"5": []}))), Filter::All);
}

#[test]
fn object_form_with_or_and_nested() {
    let f = ok(json(json!({
        "2": "acme",
        "5": {"$or": [["1"], "2"]},
        "$or": [{"3": {"at": 100}}, {"11": ["CURRENT_USER"]}],
        "$and": [{"$or": [{"2": "x"}, {"2": "y"}]}, {"8": true}]
    })));
    assert_eq!(
        f,
        Filter::And(vec![
            cond("2", Cond::Contains("acme".into())),
            Filter::Or(vec![
                cond("5", Cond::AnyItem(vec!["1".into()])),
                cond("5", Cond::AnyItem(vec!["2".into()])),
            ]),
            Filter::Or(vec![
                cond(
                    "3",
                    Cond::Range {
                        at: Some(100.0),
                        to: None
                    }
                ),
                cond("11", Cond::Users(vec![UserRef::Current])),
            ]),
            Filter::Or(vec![
                cond("2", Cond::Contains("x".into())),
                cond("2", Cond::Contains("y".into())),
            ]),
            cond("8", Cond::Switch(true)),
        ])
    );
    // $and on values of a multi-valued field; $or/$and in the array form's value too.
    assert_eq!(
        ok(json(
            json!([{"fieldId": "6", "value": {"$and": ["1", "2"]}}])
        )),
        Filter::And(vec![
            cond("6", Cond::AllItems(vec!["1".into()])),
            cond("6", Cond::AllItems(vec!["2".into()])),
        ])
    );
    assert_eq!(
        ok(query(
            "filters[0][fieldId]=5&filters[0][value][$or][0]=1&filters[0][value][$or][1]=2"
        )),
        Filter::Or(vec![
            cond("5", Cond::AnyItem(vec!["1".into()])),
            cond("5", Cond::AnyItem(vec!["2".into()])),
        ])
    );
}

#[test]
fn per_type_values() {
    // text: substring; a number is its text.
    assert_eq!(
        ok(json(json!({"2": 42}))),
        cond("2", Cond::Contains("42".into()))
    );
    // number, progress: ranges, numeric strings, one number = exactly it.
    assert_eq!(
        ok(query(
            "filters[0][fieldId]=3&filters[0][value][at]=-5&filters[0][value][to]=7,5"
        )),
        cond(
            "3",
            Cond::Range {
                at: Some(-5.0),
                to: Some(7.5)
            }
        )
    );
    assert_eq!(
        ok(json(json!({"9": 50}))),
        cond(
            "9",
            Cond::Range {
                at: Some(50.0),
                to: Some(50.0)
            }
        )
    );
    // date with time: instants; a date-only `to` covers its whole day in the client's zone.
    let opts = Options { tz_offset_min: 180 };
    let f = parse(
        &Input::json(
            "filters",
            json!({"4": {"at": "2024-01-01", "to": "2024-01-31"}}),
        ),
        &scope(),
        &opts,
    );
    assert_eq!(
        ok(f),
        cond(
            "4",
            Cond::Dates {
                at: Some(ms("2023-12-31T21:00:00Z")),
                to: Some(ms("2024-01-31T20:59:59.999Z")),
            }
        )
    );
    // date-only field: calendar days, whatever the offset of the bound.
    assert_eq!(
        ok(json(
            json!({"day": {"at": "2024-01-15T01:00:00+03:00", "to": "2024-01-20T23:59:59+03:00"}})
        )),
        cond(
            "day",
            Cond::Dates {
                at: Some(ms("2024-01-15T00:00:00Z")),
                to: Some(ms("2024-01-20T00:00:00Z")),
            }
        )
    );
    assert_eq!(ok(json(json!({"4": "NULL_DATE"}))), cond("4", Cond::Empty));
    assert_eq!(
        ok(query("filters[0][fieldId]=day&filters[0][value]=NULL_DATE")),
        cond("day", Cond::Empty)
    );
    // dropdown / radiobutton any-of, checkboxes all-of; JSON text in a bracket value; dbIds.
    assert_eq!(
        ok(query("filters[0][fieldId]=5&filters[0][value]=[1,2]")),
        cond("5", Cond::AnyItem(vec!["1".into(), "2".into()]))
    );
    assert_eq!(
        ok(query("filters[0][fieldId]=7&filters[0][value][]=9")),
        cond("7", Cond::AnyItem(vec!["$lost".into()]))
    );
    assert_eq!(
        ok(json(json!({"6": ["1", "2"]}))),
        cond("6", Cond::AllItems(vec!["1".into(), "2".into()]))
    );
    // null in a list: or empty.
    assert_eq!(
        ok(json(json!({"5": ["1", null]}))),
        Filter::Or(vec![
            cond("5", Cond::AnyItem(vec!["1".into()])),
            cond("5", Cond::Empty)
        ])
    );
    // stars: exact counts; switch; file.
    assert_eq!(
        ok(json(json!({"10": [4, "5"]}))),
        cond("10", Cond::Stars(vec![4, 5]))
    );
    assert_eq!(
        ok(query("filters[0][fieldId]=8&filters[0][value]=false")),
        cond("8", Cond::Switch(false))
    );
    assert_eq!(ok(json(json!({"13": true}))), cond("13", Cond::Files(true)));
    // user: ids, objects, CURRENT_USER.
    assert_eq!(
        ok(query(
            "filters[0][fieldId]=11&filters[0][value][0]=21&filters[0][value][1]=CURRENT_USER"
        )),
        cond(
            "11",
            Cond::Users(vec![UserRef::Id("21".into()), UserRef::Current])
        )
    );
    assert_eq!(
        ok(json(json!({"11": [{"id": 21}]}))),
        cond("11", Cond::Users(vec![UserRef::Id("21".into())]))
    );
    // contact, address.
    assert_eq!(
        ok(json(json!({"14": "7926"}))),
        cond("14", Cond::Contact("7926".into()))
    );
    assert_eq!(
        ok(json(json!({"15": "Moscow"}))),
        cond("15", Cond::Contains("Moscow".into()))
    );
    // empty-value filters.
    for id in ["2", "3", "5", "11", "12", "14"] {
        assert_eq!(ok(json(json!({id: null}))), cond(id, Cond::Empty), "{id}");
    }
    assert_eq!(
        ok(query("filters[0][fieldId]=3&filters[0][value]=null")),
        cond("3", Cond::Empty)
    );
    // In a text field "null" is just text.
    assert_eq!(
        ok(query("filters[0][fieldId]=2&filters[0][value]=null")),
        cond("2", Cond::Contains("null".into()))
    );
}

#[test]
fn linked_record_sub_filters() {
    let f = ok(query(
        "filters[0][fieldId]=12&filters[0][value][0][catalogId]=clients&filters[0][value][0][filters][0][fieldId]=5&filters[0][value][0][filters][0][value]=5",
    ));
    let s = scope();
    let amount = FieldRef::of(&s.cats[1].fields[1]);
    assert_eq!(
        f,
        cond(
            "12",
            Cond::Links(vec![LinkCond {
                catalog_db_id: 101,
                record_id: None,
                filter: Some(Box::new(Filter::Field(
                    amount,
                    Cond::Range {
                        at: Some(5.0),
                        to: Some(5.0)
                    }
                ))),
            }])
        )
    );
    // Object form inside, nested through the linked catalog's own object field.
    let f = ok(json(
        json!({"12": [{"catalogId": "101", "filters": {"city": [{"catalogId": "clients", "filters": {"2": "Moscow"}}]}}]}),
    ));
    assert_eq!(f.conditions().len(), 3);
    // A field of the filtered catalog is unknown in the linked one.
    bad(
        json(
            json!({"12": [{"catalogId": "clients", "filters": [{"fieldId": "8", "value": true}]}]}),
        ),
        FilterErrorKind::UnknownField,
        "filters.12[0].filters[0].fieldId",
    );
    bad(
        json(json!({"12": [{"catalogId": "deals", "recordId": "1"}]})),
        FilterErrorKind::InvalidValue,
        "filters.12[0].catalogId",
    );
    bad(
        json(json!({"12": [{"recordId": "1"}]})),
        FilterErrorKind::InvalidValue,
        "filters.12[0].catalogId",
    );
}

#[test]
fn errors_carry_the_path() {
    let e = bad(
        query("filters[0][fieldId]=2&filters[0][value]=x&filters[1][fieldId]=3&filters[1][value][at]=abc"),
        FilterErrorKind::InvalidValue,
        "filters[1].value.at",
    );
    assert_eq!(e.field_id.as_deref(), Some("3"));
    bad(
        json(json!([{"fieldId": "99", "value": 1}])),
        FilterErrorKind::UnknownField,
        "filters[0].fieldId",
    );
    bad(
        json(json!({"99": 1})),
        FilterErrorKind::UnknownField,
        "filters.99",
    );
    bad(
        json(json!({"$or": [{"5": ["7"]}]})),
        FilterErrorKind::InvalidValue,
        "filters.$or[0].5[0]",
    );
    bad(
        json(json!({"5": ["1", "7"]})),
        FilterErrorKind::InvalidValue,
        "filters.5[1]",
    );
    bad(
        json(json!([{"value": 1}])),
        FilterErrorKind::Malformed,
        "filters[0].fieldId",
    );
    bad(
        json(json!([{"fieldId": 2}])),
        FilterErrorKind::Malformed,
        "filters[0].value",
    );
    bad(json(json!([1])), FilterErrorKind::Malformed, "filters[0]");
    bad(json(json!(5)), FilterErrorKind::Malformed, "filters");
    bad(query("filters=abc"), FilterErrorKind::Malformed, "filters");
    bad(query("filters=[{"), FilterErrorKind::Malformed, "filters");
    bad(
        json(json!({"1": "x"})),
        FilterErrorKind::NotFilterable,
        "filters.1",
    );
    bad(
        json(json!({"16": "x"})),
        FilterErrorKind::NotFilterable,
        "filters.16",
    );
    bad(
        json(json!({"3": {"from": 1}})),
        FilterErrorKind::InvalidValue,
        "filters.3.from",
    );
    bad(
        json(json!({"3": true})),
        FilterErrorKind::InvalidValue,
        "filters.3",
    );
    bad(
        json(json!({"4": {"at": "yesterday"}})),
        FilterErrorKind::InvalidValue,
        "filters.4.at",
    );
    bad(
        json(json!({"10": [6]})),
        FilterErrorKind::InvalidValue,
        "filters.10[0]",
    );
    bad(
        json(json!({"8": "maybe"})),
        FilterErrorKind::InvalidValue,
        "filters.8",
    );
    bad(
        json(json!({"11": [true]})),
        FilterErrorKind::InvalidValue,
        "filters.11[0]",
    );
    bad(
        json(json!({"2": ["a"]})),
        FilterErrorKind::InvalidValue,
        "filters.2",
    );
    bad(
        json(json!({"5": {"$or": ["1"], "x": 1}})),
        FilterErrorKind::Malformed,
        "filters.5.x",
    );
    bad(
        json(json!({"$or": {"2": "x"}})),
        FilterErrorKind::Malformed,
        "filters.$or",
    );
    bad(
        json(json!({"$or": ["x"]})),
        FilterErrorKind::Malformed,
        "filters.$or[0]",
    );
    bad(
        query("filters[0][fieldId]=5&filters[0][value]=[1,"),
        FilterErrorKind::Malformed,
        "filters[0].value",
    );
}

#[test]
fn limits() {
    let mut v = json!({"2": "x"});
    for _ in 0..40 {
        v = json!({"$or": [v]});
    }
    let e = json(v).expect_err("too deep");
    assert_eq!(e.kind, FilterErrorKind::TooComplex);
    let many: Vec<Value> = (0..1001)
        .map(|i| json!({"fieldId": "2", "value": format!("x{i}")}))
        .collect();
    let e = json(Value::Array(many)).expect_err("too many");
    assert_eq!(e.kind, FilterErrorKind::TooComplex);
    let users: Vec<Value> = (0..1001).map(|i| json!(i.to_string())).collect();
    let e = json(json!({"11": users})).expect_err("too many values");
    assert_eq!(e.kind, FilterErrorKind::TooComplex);
}

#[test]
fn prev_ids_and_attr_name_fields() {
    let mut s = scope();
    s.cats[0].fields[1].prev_id = "legacy".into();
    let f = parse(
        &Input::json(
            "filters",
            json!([{"attr": "legacy", "value": "a", "id": "c1"}]),
        ),
        &s,
        &Options::default(),
    );
    assert!(matches!(f, Ok(Filter::Field(ref r, Cond::Contains(_))) if r.id == "2"));
}
