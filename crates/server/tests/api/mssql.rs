//! SQL query on Microsoft SQL Server, against a fake server on loopback that speaks enough
//! TDS 7.4 for a login and a batch: it answers the pre-login without encryption, checks the
//! LOGIN7 user, password (de-obfuscated as the protocol says) and database, keeps the text
//! of every batch, and answers a fixed result set, a row count or an error. No SQL Server
//! can run here, so encryption is tested only as far as its refusal (the fake cannot encrypt).

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::automation::{call_listener, input, list, setvar, sql_step};
use crate::support::TestApp;

/// What the fake server saw: the logins (user, password, database) and the batches.
#[derive(Default)]
struct Seen {
    logins: Mutex<Vec<(String, String, String)>>,
    batches: Mutex<Vec<String>>,
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn from_utf16(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

/// A B_VARCHAR: length in characters (one byte), then UTF-16.
fn b_varchar(s: &str) -> Vec<u8> {
    let mut out = vec![s.encode_utf16().count() as u8];
    out.extend(utf16(s));
    out
}

/// A US_VARCHAR: length in characters (two bytes), then UTF-16.
fn us_varchar(s: &str) -> Vec<u8> {
    let mut out = (s.encode_utf16().count() as u16).to_le_bytes().to_vec();
    out.extend(utf16(s));
    out
}

/// A DONE token (TDS 7.2+: an eight-byte row count).
fn done(status: u16, rows: u64) -> Vec<u8> {
    let mut out = vec![0xFD];
    out.extend(status.to_le_bytes());
    out.extend(0xC1u16.to_le_bytes());
    out.extend(rows.to_le_bytes());
    out
}

/// An ERROR token and the DONE that ends the answer with the error flag.
fn error(number: u32, class: u8, message: &str) -> Vec<u8> {
    let mut body = number.to_le_bytes().to_vec();
    body.extend([1, class]);
    body.extend(us_varchar(message));
    body.extend(b_varchar("fake"));
    body.extend(b_varchar(""));
    body.extend(1u32.to_le_bytes());
    let mut out = vec![0xAA];
    out.extend((body.len() as u16).to_le_bytes());
    out.extend(body);
    out.extend(done(0x0002, 0));
    out
}

/// Days from 0001-01-01, as a DATE column holds them.
fn days(y: i64, m: i64, d: i64) -> u32 {
    // Days from 1970-01-01 (Howard Hinnant's days_from_civil), then the shift to year 1.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468 + 719_162) as u32
}

/// The result set of every SELECT: id INT, name NVARCHAR, amount DECIMAL(10,2), flag BIT,
/// born DATE, note NVARCHAR; two rows.
fn result_set() -> Vec<u8> {
    let nvarchar = [0xE7, 200, 0, 0x09, 0x04, 0xD0, 0x00, 0x34];
    let columns: [(&str, &[u8]); 6] = [
        ("id", &[0x26, 4]),
        ("name", &nvarchar),
        ("amount", &[0x6A, 5, 10, 2]),
        ("flag", &[0x68, 1]),
        ("born", &[0x28]),
        ("note", &nvarchar),
    ];
    let mut out = vec![0x81];
    out.extend((columns.len() as u16).to_le_bytes());
    for (name, type_info) in columns {
        out.extend(0u32.to_le_bytes());
        out.extend(1u16.to_le_bytes());
        out.extend(type_info);
        out.extend(b_varchar(name));
    }
    let text = |s: Option<&str>| match s {
        Some(s) => {
            let mut v = (utf16(s).len() as u16).to_le_bytes().to_vec();
            v.extend(utf16(s));
            v
        }
        None => 0xFFFFu16.to_le_bytes().to_vec(),
    };
    let rows = [
        (1i32, "O'Hara", true, 1250u32, true, days(2024, 5, 1), None),
        (2, "Ёжик", false, 325, false, days(1999, 12, 31), Some("x")),
    ];
    for (id, name, positive, cents, flag, born, note) in rows {
        out.push(0xD1);
        out.push(4);
        out.extend(id.to_le_bytes());
        out.extend(text(Some(name)));
        out.extend([5, u8::from(positive)]);
        out.extend(cents.to_le_bytes());
        out.extend([1, u8::from(flag)]);
        out.push(3);
        out.extend(&born.to_le_bytes()[..3]);
        out.extend(text(note));
    }
    out.extend(done(0x0010, 2));
    out
}

/// Reads one message (its packets up to the end-of-message flag): its type and payload.
async fn read_message(sock: &mut tokio::net::TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut payload = Vec::new();
    loop {
        let mut header = [0u8; 8];
        sock.read_exact(&mut header).await.ok()?;
        let length = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let mut part = vec![0u8; length.checked_sub(8)?];
        sock.read_exact(&mut part).await.ok()?;
        payload.extend(part);
        if header[1] & 0x01 == 1 {
            return Some((header[0], payload));
        }
    }
}

/// Sends a tabular-result message in one packet.
async fn answer(sock: &mut tokio::net::TcpStream, payload: &[u8]) {
    let mut packet = vec![0x04, 0x01];
    packet.extend(((payload.len() + 8) as u16).to_be_bytes());
    packet.extend([0, 0, 1, 0]);
    packet.extend(payload);
    let _ = sock.write_all(&packet).await;
}

/// The pre-login answer: version, no encryption, no instance, no thread id, no MARS.
fn prelogin() -> Vec<u8> {
    let options: [(u8, &[u8]); 5] = [
        (0x00, &[15, 0, 0, 0, 0, 0]),
        (0x01, &[0x02]),
        (0x02, &[0]),
        (0x03, &[]),
        (0x04, &[0]),
    ];
    let mut table = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    let mut offset = options.len() * 5 + 1;
    for (token, value) in options {
        table.push(token);
        table.extend((offset as u16).to_be_bytes());
        table.extend((value.len() as u16).to_be_bytes());
        data.extend(value);
        offset += value.len();
    }
    table.push(0xFF);
    table.extend(data);
    table
}

/// A LOGIN7 field: its offset and length (characters) at `at` in the fixed part.
fn login_field(login: &[u8], at: usize) -> Vec<u8> {
    let word = |i: usize| usize::from(u16::from_le_bytes([login[i], login[i + 1]]));
    let (offset, chars) = (word(at), word(at + 2));
    login
        .get(offset..offset + chars * 2)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// Starts the fake server; `password` is the one it takes.
async fn fake_sql_server(password: &'static str) -> (u16, Arc<Seen>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Seen::default());
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                while let Some((kind, payload)) = read_message(&mut sock).await {
                    match kind {
                        0x12 => answer(&mut sock, &prelogin()).await,
                        0x10 => {
                            let user = from_utf16(&login_field(&payload, 40));
                            // Each byte was nibble-swapped, then XORed with 0xA5.
                            let secret: Vec<u8> = login_field(&payload, 44)
                                .iter()
                                .map(|b| (b ^ 0xA5).rotate_left(4))
                                .collect();
                            let secret = from_utf16(&secret);
                            let database = from_utf16(&login_field(&payload, 68));
                            let ok = secret == password;
                            if let Ok(mut l) = log.logins.lock() {
                                l.push((user.clone(), secret, database));
                            }
                            if ok {
                                let mut ack = vec![1];
                                ack.extend(0x7400_0004u32.to_be_bytes());
                                ack.extend(b_varchar("fake"));
                                ack.extend([15, 0, 0, 0]);
                                let mut out = vec![0xAD];
                                out.extend((ack.len() as u16).to_le_bytes());
                                out.extend(ack);
                                out.extend(done(0, 0));
                                answer(&mut sock, &out).await;
                            } else {
                                let message = format!("Login failed for user '{user}'.");
                                answer(&mut sock, &error(18456, 14, &message)).await;
                                return;
                            }
                        }
                        0x01 => {
                            let headers = payload
                                .get(..4)
                                .map_or(0, |h| u32::from_le_bytes([h[0], h[1], h[2], h[3]]));
                            let sql = from_utf16(payload.get(headers as usize..).unwrap_or(&[]));
                            let reply = if sql.contains("nowhere") {
                                error(208, 16, "Invalid object name 'nowhere'.")
                            } else if sql.trim_start().to_lowercase().starts_with("select") {
                                result_set()
                            } else {
                                done(0x0010, 1)
                            };
                            if let Ok(mut b) = log.batches.lock() {
                                b.push(sql);
                            }
                            answer(&mut sock, &reply).await;
                        }
                        _ => return,
                    }
                }
            });
        }
    });
    (port, seen)
}

fn by_parameters(port: u16, password: &str) -> Vec<String> {
    vec![
        list("connectionType", "parameters"),
        input("host", &json!(format!("127.0.0.1,{port}")).to_string()),
        input("database", "'shop'"),
        input("login", "'robot'"),
        input("password", &json!(password).to_string()),
    ]
}

fn by_string(text: &str) -> Vec<String> {
    vec![
        list("connectionType", "connectionString"),
        input("connectionString", &json!(text).to_string()),
    ]
}

/// SQL query on SQL Server: with parameters, a server that cannot encrypt is spoken to in
/// the clear after its refusal; the login carries the user, the password and the database;
/// `:name` parameters are bound as T-SQL literals (N'…' with quotes doubled, bits as 1/0),
/// not inside a bracketed name; rows come back typed (int, text, decimal as a number, bit as
/// a boolean, date as ISO text, NULL). A statement without rows answers `[]` through an
/// ADO.NET string; a wrong password, a server error and a string that requires encryption
/// from a server without it fail the run with the server's words.
#[tokio::test]
async fn sql_query_reads_and_writes_a_sql_server() {
    let (port, seen) = fake_sql_server("s3cret;'").await;
    let t = TestApp::start().await;
    let select = sql_step(
        "mssql",
        &by_parameters(port, "s3cret;'"),
        "select id, name, amount, flag, born, note as [who:note] from deals where name = :who and flag = :on",
        &[("who", "'O\\'Hara'"), ("on", "true")],
        "rows",
    );
    let ado = format!(
        "Server=tcp:127.0.0.1,{port};Database=shop;User Id=robot;Password=\"s3cret;'\";Encrypt=DANGER_PLAINTEXT"
    );
    let update = sql_step(
        "mssql",
        &by_string(&ado),
        "update deals set note = :note where id = 2",
        &[("note", "'Ёж ' + 1.5")],
        "changed",
    );
    let (status, body) = call_listener(
        &t,
        "mssql",
        &[
            select,
            update,
            setvar(&[("$body", "{rows: rows, changed: changed}")]),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "rows": [
                {"id": 1, "name": "O'Hara", "amount": 12.5, "flag": true, "born": "2024-05-01", "note": null},
                {"id": 2, "name": "Ёжик", "amount": -3.25, "flag": false, "born": "1999-12-31", "note": "x"},
            ],
            "changed": [],
        })
    );
    let batches = seen.batches.lock().map(|b| b.clone()).unwrap_or_default();
    assert_eq!(
        batches,
        [
            "select id, name, amount, flag, born, note as [who:note] from deals where name = N'O''Hara' and flag = 1",
            "update deals set note = N'Ёж 1.5' where id = 2",
        ]
    );
    let logins = seen.logins.lock().map(|l| l.clone()).unwrap_or_default();
    assert_eq!(
        logins,
        [
            (
                "robot".to_string(),
                "s3cret;'".to_string(),
                "shop".to_string()
            ),
            (
                "robot".to_string(),
                "s3cret;'".to_string(),
                "shop".to_string()
            ),
        ],
        "one login each: the refused encryption came before the login"
    );

    let fails =
        |steps: Vec<String>, query: &str| vec![sql_step("mssql", &steps, query, &[], "rows")];
    for (i, (connection, query, words)) in [
        (
            by_parameters(port, "wrong"),
            "select 1",
            "Login failed for user 'robot'.",
        ),
        (
            by_parameters(port, "s3cret;'"),
            "select * from nowhere",
            "Invalid object name 'nowhere'.",
        ),
        (
            by_string(&format!(
                "Server=tcp:127.0.0.1,{port};User Id=robot;Password=x"
            )),
            "select 1",
            "encryption level",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body): (u16, Value) =
            call_listener(&t, &format!("mssql-fails-{i}"), &fails(connection, query)).await;
        assert_eq!(status, 500, "{body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{words}: {body}");
    }
}
