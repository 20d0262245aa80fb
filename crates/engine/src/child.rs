//! Run process (spec 03 §7.2.8, §4.5) and SQL query (§7.2.4): components whose whole work is
//! one port call.

use kartoteka_bpmn::Task;
use serde_json::{Map, Value};

use crate::components::{any_text, recode, required, Slots};
use crate::values::{choice, pairs_object, Args};
use crate::{Failure, Ports, SqlConnection, SqlQuery};

/// Parameters of a component given as `keyvalue` pairs or as one `json` expression.
fn object_param(
    json: bool,
    args: &Args,
    pairs: &str,
    expr: &str,
) -> Result<Map<String, Value>, Failure> {
    if !json {
        return Ok(pairs_object(&args.pairs(pairs)));
    }
    match args.value(expr) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(other) => Err(Failure::expression(format!(
            "{expr} must be an object, not {other}"
        ))),
    }
}

pub(crate) async fn run_process(
    task: &Task,
    args: &Args,
    ports: &dyn Ports,
) -> Result<Slots, Failure> {
    let script = args
        .text("scriptId")
        .or_else(|| args.text("scriptIdFromVar"))
        .ok_or_else(|| required("scriptId"))?;
    let json = choice(task, "format") == Some("json");
    let input = object_param(json, args, "params", "paramsJson")?;
    let wait = args.text("async").as_deref() != Some("async");
    let run = ports.run_process(&script, input, wait).await?;
    let pid = Some(Value::String(run.pid));
    if !wait {
        return Ok(vec![("output_pid", pid)]);
    }
    if let Some(error) = run.error {
        return Err(Failure::new(
            "CHILD_PROCESS",
            format!("the child process of scenario {script} failed: {error}"),
        ));
    }
    Ok(vec![
        (
            "output",
            Some(Value::Object(run.result.unwrap_or_default())),
        ),
        ("output_pid", pid),
    ])
}

pub(crate) async fn sql(args: &Args, ports: &dyn Ports) -> Result<Slots, Failure> {
    let db_type = args.text("dbType").unwrap_or_else(|| "postgres".to_owned());
    let connection = if args.text("connectionType").as_deref() == Some("connectionString") {
        SqlConnection::Url(
            args.text("connectionString")
                .ok_or_else(|| required("connectionString"))?,
        )
    } else {
        // A SQLite database is a file: it has no server to name.
        let sqlite = db_type.to_ascii_lowercase().starts_with("sqlite");
        SqlConnection::Parameters {
            host: match args.text("host") {
                Some(host) => host,
                None if sqlite => String::new(),
                None => return Err(required("host")),
            },
            database: args.text("database").unwrap_or_default(),
            login: args.text("login").unwrap_or_default(),
            password: args.text("password").unwrap_or_default(),
        }
    };
    let query = any_text(args, "query").ok_or_else(|| required("query"))?;
    let q = SqlQuery {
        db_type,
        connection,
        query,
        params: pairs_object(&args.pairs("params")),
    };
    let fire_and_forget = args.text("async").as_deref() == Some("async");
    match ports.sql_query(q).await {
        Ok(rows) if !fire_and_forget => Ok(vec![("output", Some(Value::Array(rows)))]),
        Ok(_) => Ok(Vec::new()),
        // Not waiting for the answer, its failure is nobody's business (as in Web request).
        Err(e) if fire_and_forget && e.code != "INTERNAL" => Ok(Vec::new()),
        Err(e) => Err(recode(e, "SQL")),
    }
}
