//! The components (connectors) a task runs: which input parameters each reads, and what it
//! does with them (spec 03 §7). Every effect goes through [`Ports`].

use kartoteka_bpmn::{ParamValue, Task};
use serde_json::{Map, Value};

use crate::values::{choice, pairs_object, scalar_text, Args};
use crate::{bots, child, files, mail, parser, web};
use crate::{Engine, Failure, FindQuery, Ports};

/// The results of a component by slot name; `None` is `undefined` (the output deletes its
/// target).
pub(crate) type Slots = Vec<(&'static str, Option<Value>)>;

/// The connectors this engine runs (besides `setvar`, which is all outputs).
const SUPPORTED: &[&str] = &[
    "code",
    "webRequest",
    "bpiumGetRecord",
    "bpiumFindRecords",
    "bpiumEdit",
    "bpiumAdd",
    "bpiumDelete",
    "bpiumGetCatalog",
    "sendMessage",
    "runProcess",
    "sendMail",
    "receiveMail",
    "bpiumFileUpload",
    "convertDoc",
    "generateDoc",
    "ai",
    "telegram",
    "parser",
    "sql",
];

/// The input parameters a connector reads, given its list selections, so that parameters of
/// an unselected mode (a stale filter expression under `filtersFormat=keyvalue`) are never
/// evaluated. An unsupported connector is an `INTERNAL` error.
pub(crate) fn inputs_read(task: &Task) -> Result<Vec<&'static str>, Failure> {
    let c = task.connector.as_str();
    if !SUPPORTED.contains(&c) {
        return Err(Failure::internal(format!("component not supported: {c}")));
    }
    let mut names: Vec<&'static str> = Vec::new();
    if c.starts_with("bpium") || c == "sendMessage" {
        names.push(catalog_param(task));
    }
    let values = |task: &Task| {
        if choice(task, "format") == Some("json") {
            "values2"
        } else {
            "values1"
        }
    };
    let fields = |names: &mut Vec<&'static str>| {
        names.push("fieldsFormat");
        if choice(task, "fieldsFormat") == Some("specified") {
            names.push("fieldsSpecified");
        }
    };
    match c {
        "code" => names.push("variables"),
        "webRequest" => {
            names.extend(["method", "query", "headers", "format", "type", "auth"]);
            names.extend(["async", "output_format"]);
            match body_mode(task) {
                BodyMode::KeyValue => names.push("params"),
                BodyMode::Body => names.push("body"),
            }
            match choice(task, "auth") {
                Some("basic") => names.extend(["login", "password"]),
                Some("oauth2") => names.push("token"),
                _ => {}
            }
        }
        "bpiumGetRecord" => {
            names.push("recordId");
            fields(&mut names);
        }
        "bpiumFindRecords" => {
            names.extend(["viewId", "filtersFormat", "sortField", "sortType"]);
            names.extend(["limit", "offset", "searchText"]);
            names.push(if choice(task, "filtersFormat") == Some("json") {
                "filtersJson"
            } else {
                "filters"
            });
            fields(&mut names);
        }
        "bpiumEdit" => names.extend(["recordId", values(task)]),
        "bpiumAdd" => names.push(values(task)),
        "bpiumDelete" => names.push("recordId"),
        "bpiumGetCatalog" => names.push("fields"),
        "sendMessage" => names.extend(["recordId", "text", "message"]),
        "runProcess" => {
            names.extend(["scriptFormat", "format", "async"]);
            names.push(selected(
                task,
                "scriptFormat",
                "scriptId",
                "scriptIdFromVar",
            ));
            names.push(if choice(task, "format") == Some("json") {
                "paramsJson"
            } else {
                "params"
            });
        }
        "sendMail" => mail::send_inputs(task, &mut names),
        "receiveMail" => mail::receive_inputs(task, &mut names),
        "bpiumFileUpload" | "convertDoc" | "generateDoc" => files::inputs(task, &mut names),
        "ai" | "telegram" => bots::inputs(task, &mut names),
        "parser" => names.extend([
            "data",
            "method",
            "query",
            "value",
            "returnValue",
            "attr",
            "attribute",
            "attrName",
            "group",
            "return",
        ]),
        "sql" => {
            names.extend(["dbType", "connectionType", "query", "params", "async"]);
            if choice(task, "connectionType") == Some("connectionString") {
                names.push("connectionString");
            } else {
                names.extend(["host", "database", "login", "password"]);
            }
        }
        _ => {}
    }
    Ok(names)
}

/// Of two parameters a selector chooses between (`catalogId` / `catalogIdFromVar`): the one
/// `<selector>=var` (or anything else) picks, unless it is empty and the other is not.
pub(crate) fn selected(
    task: &Task,
    selector: &str,
    direct: &'static str,
    from_var: &'static str,
) -> &'static str {
    let set = |name: &str| match task.inputs.get(name) {
        Some(ParamValue::Const(s) | ParamValue::Expr(s)) => !s.trim().is_empty(),
        _ => false,
    };
    let (chosen, other) = if choice(task, selector) == Some("var") {
        (from_var, direct)
    } else {
        (direct, from_var)
    };
    if !set(chosen) && set(other) {
        other
    } else {
        chosen
    }
}

/// Which of `catalogId` / `catalogIdFromVar` holds the catalog: the one `catalogFormat`
/// selects, unless it is empty and the other is not.
fn catalog_param(task: &Task) -> &'static str {
    selected(task, "catalogFormat", "catalogId", "catalogIdFromVar")
}

enum BodyMode {
    KeyValue,
    Body,
}

/// `format=keyvalue` sends `params` form-encoded; any other format sends `body`. Without a
/// format, pairs in `params` win.
fn body_mode(task: &Task) -> BodyMode {
    match choice(task, "format") {
        Some("keyvalue") => BodyMode::KeyValue,
        Some(_) => BodyMode::Body,
        None => match task.inputs.get("params") {
            Some(ParamValue::Pairs(p)) if !p.is_empty() => BodyMode::KeyValue,
            _ => BodyMode::Body,
        },
    }
}

pub(crate) fn required(name: &str) -> Failure {
    Failure::expression(format!("{name} is required"))
}

fn catalog(args: &Args) -> Result<String, Failure> {
    args.text("catalogId")
        .or_else(|| args.text("catalogIdFromVar"))
        .ok_or_else(|| required("catalogId"))
}

fn record_id(args: &Args) -> Result<String, Failure> {
    match args.value("recordId") {
        None | Some(Value::Null) => Err(required("recordId")),
        Some(v) => scalar_text(&v).filter(|s| !s.is_empty()).ok_or_else(|| {
            Failure::expression(format!("recordId must be a string or a number, not {v}"))
        }),
    }
}

/// The field values of an edit or create: `values1` pairs, or the `values2` object.
fn field_values(task: &Task, args: &Args) -> Result<Map<String, Value>, Failure> {
    if choice(task, "format") == Some("json") {
        match args.value("values2") {
            Some(Value::Object(m)) => Ok(m),
            None => Err(required("values2")),
            Some(other) => Err(Failure::expression(format!(
                "values2 must be an object of field values, not {other}"
            ))),
        }
    } else {
        Ok(pairs_object(&args.pairs("values1")))
    }
}

/// Field ids of `fieldsSpecified` when `fieldsFormat=specified`: ids (strings or numbers),
/// or `{fieldId, …}` objects, whose linked-field part is not passed on.
fn field_list(args: &Args) -> Result<Option<Vec<String>>, Failure> {
    if args.text("fieldsFormat").as_deref() != Some("specified") {
        return Ok(None);
    }
    let list = match args.value("fieldsSpecified") {
        None => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(one) => vec![one],
    };
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let id = match &item {
            Value::Object(o) => o.get("fieldId").and_then(scalar_text),
            other => scalar_text(other),
        };
        out.push(id.ok_or_else(|| {
            Failure::expression(format!("fieldsSpecified: {item} is not a field id"))
        })?);
    }
    Ok(Some(out))
}

pub(crate) fn integer(args: &Args, name: &str) -> Result<Option<i64>, Failure> {
    match args.value(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_i64().or_else(|| n.as_f64().map(|f| f as i64))),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Failure::expression(format!("{name} must be a number, not {s:?}"))),
        Some(other) => Err(Failure::expression(format!(
            "{name} must be a number, not {other}"
        ))),
    }
}

/// Runs a connector other than `setvar` with its evaluated inputs.
pub(crate) async fn run(
    engine: &Engine,
    task: &Task,
    args: Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    match task.connector.as_str() {
        "code" => {
            let inputs = pairs_object(&args.pairs("variables"));
            let source = match task.inputs.get("source") {
                Some(ParamValue::Const(s) | ParamValue::Expr(s)) => s.clone(),
                _ => String::new(),
            };
            let out = engine
                .js(move |js| js.run_code(&source, &inputs).map_err(Failure::from))
                .await?;
            Ok(vec![("output", out)])
        }
        "webRequest" => web::run(engine, task, &args, ports).await,
        "bpiumGetRecord" => {
            let cat = catalog(&args)?;
            let id = record_id(&args)?;
            let fields = field_list(&args)?;
            let mut record = ports.get_record(&cat, &id).await?;
            if let (Some(fields), Some(Value::Object(values))) = (fields, record.get_mut("values"))
            {
                values.retain(|k, _| fields.iter().any(|f| f == k));
            }
            Ok(vec![("output", Some(record))])
        }
        "bpiumFindRecords" => {
            let cat = catalog(&args)?;
            let max = i64::from(engine.settings().find_limit_max);
            let limit = integer(&args, "limit")?.unwrap_or(100).clamp(0, max);
            let offset = integer(&args, "offset")?
                .unwrap_or(0)
                .clamp(0, i64::from(u32::MAX));
            let view_id = args.text("viewId").filter(|v| v != "0");
            let filters = if args.text("filtersFormat").as_deref() == Some("json") {
                match args.value("filtersJson") {
                    None | Some(Value::Null) => None,
                    Some(v @ (Value::Object(_) | Value::Array(_))) => Some(v),
                    Some(other) => {
                        return Err(Failure::expression(format!(
                            "filtersJson must be an object or an array, not {other}"
                        )))
                    }
                }
            } else {
                let m = pairs_object(&args.pairs("filters"));
                (!m.is_empty()).then_some(Value::Object(m))
            };
            let sort_type = integer(&args, "sortType")?.map(|t| if t < 0 { -1 } else { 1 });
            let q = FindQuery {
                view_id,
                filters,
                search_text: args.text("searchText"),
                sort_field: args.text("sortField"),
                sort_type,
                fields: field_list(&args)?,
                limit: u32::try_from(limit).unwrap_or(0),
                offset: u32::try_from(offset).unwrap_or(0),
            };
            let found = ports.find_records(&cat, q).await?;
            Ok(vec![
                ("output", Some(Value::Array(found.records))),
                ("outputCount", Some(Value::from(found.total))),
            ])
        }
        "bpiumEdit" => {
            let cat = catalog(&args)?;
            let id = record_id(&args)?;
            let values = field_values(task, &args)?;
            let record = ports.edit_record(&cat, &id, values).await?;
            Ok(vec![("output", Some(record))])
        }
        "bpiumAdd" => {
            let cat = catalog(&args)?;
            let values = field_values(task, &args)?;
            let record = ports.add_record(&cat, values).await?;
            let id = match record {
                Value::Object(ref o) => o.get("id").cloned(),
                other => Some(other),
            };
            Ok(vec![("output", id)])
        }
        "bpiumDelete" => {
            let cat = catalog(&args)?;
            let id = record_id(&args)?;
            ports.delete_record(&cat, &id).await?;
            Ok(Vec::new())
        }
        "bpiumGetCatalog" => {
            let cat = catalog(&args)?;
            let mut structure = ports.get_catalog(&cat).await?;
            keyed_fields(&mut structure);
            if let (Some(Value::Array(wanted)), Some(Value::Object(fields))) =
                (args.value("fields"), structure.get_mut("fields"))
            {
                let wanted: Vec<String> = wanted.iter().filter_map(scalar_text).collect();
                fields.retain(|k, _| wanted.iter().any(|w| w == k));
            }
            Ok(vec![("output", Some(structure))])
        }
        "sendMessage" => {
            let cat = catalog(&args)?;
            let id = record_id(&args)?;
            let text = args
                .value("text")
                .or_else(|| args.value("message"))
                .map(|v| scalar_text(&v).unwrap_or_else(|| v.to_string()))
                .ok_or_else(|| required("text"))?;
            let message = ports.send_message(&cat, &id, text).await?;
            let id = match message {
                Value::Object(ref o) => o.get("id").cloned(),
                other => Some(other),
            };
            Ok(vec![("output", id)])
        }
        "runProcess" => child::run_process(task, &args, ports).await,
        "sql" => child::sql(&args, ports).await,
        "sendMail" => mail::send(engine, &args, ports).await,
        "receiveMail" => mail::receive(&args, ports).await,
        "bpiumFileUpload" => files::upload(engine, &args, ports).await,
        "convertDoc" => files::convert(engine, &args, ports).await,
        "generateDoc" => files::generate(engine, &args, ports).await,
        "ai" => bots::ai(engine, &args, ports).await,
        "telegram" => bots::telegram(engine, &args, ports).await,
        "parser" => parser::run(engine, &args).await,
        other => Err(Failure::internal(format!(
            "component not supported: {other}"
        ))),
    }
}

/// The text of a parameter that may be any value: scalars as JavaScript prints them, objects
/// and arrays as JSON.
pub(crate) fn any_text(args: &Args, name: &str) -> Option<String> {
    args.value(name)
        .filter(|v| !v.is_null())
        .map(|v| scalar_text(&v).unwrap_or_else(|| v.to_string()))
        .filter(|s| !s.is_empty())
}

/// A port failure under the component's own code (`SMTP`, `SQL`): every code but the
/// engine-wide ones (`INTERNAL` for "not supported", `TIMEOUT`, `LIMIT`) becomes `code`.
pub(crate) fn recode(e: crate::PortError, code: &str) -> Failure {
    match e.code.as_str() {
        "INTERNAL" | "TIMEOUT" | "LIMIT" => e.into(),
        _ => Failure::new(code, e.message),
    }
}

/// Rewrites a catalog in the REST read format into the shape the Catalog structure component
/// returns (spec 03 §7.3.6): `fields` and each field's `config.items` become objects keyed by
/// id, each entry with a 1-based `orderIndex`. Objects already keyed are left as they are.
pub(crate) fn keyed_fields(catalog: &mut Value) {
    let Some(fields) = catalog.get_mut("fields") else {
        return;
    };
    if let Value::Array(list) = fields {
        let mut keyed = by_id(std::mem::take(list));
        for field in keyed.values_mut() {
            if let Some(items) = field.get_mut("config").and_then(|c| c.get_mut("items")) {
                if let Value::Array(items_list) = items {
                    *items = Value::Object(by_id(std::mem::take(items_list)));
                }
            }
        }
        *fields = Value::Object(keyed);
    }
}

fn by_id(list: Vec<Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, mut item) in list.into_iter().enumerate() {
        let Some(id) = item.get("id").and_then(scalar_text) else {
            continue;
        };
        if let Value::Object(o) = &mut item {
            o.entry("orderIndex").or_insert_with(|| Value::from(i + 1));
        }
        out.insert(id, item);
    }
    out
}
