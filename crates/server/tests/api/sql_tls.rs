//! SQL query over TLS, as a scenario sees it: the `sslmode` of a connection string (or, with
//! connection parameters, TLS wherever the server offers it) and the certificates of
//! `KARTOTEKA_SQL_CA_FILE`.
//!
//! PostgreSQL: the local test server, whose certificate (Debian's self-signed "snakeoil")
//! is trusted by naming its file. MySQL: a MariaDB server each test starts on a free port
//! with a certificate of a CA the test makes with `openssl`, and the local MariaDB (no TLS)
//! for the fallback. Without a PostgreSQL server with TLS the first test prints why and
//! skips; without MariaDB's programs and `openssl` the second does, unless
//! `KARTOTEKA_TEST_REQUIRE_SQL_TLS` is set, as `.ci/run` sets it after installing them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kartoteka_automation::{HostConfig, SqlConfig};
use serde_json::{json, Value};

use crate::automation::{call_listener, input, list, setvar, sql_step};
use crate::support::{unique, TestApp};

/// Says why a test cannot run: skips, or fails when the setting says it must run.
fn skip(test: &str, why: &str) {
    assert!(
        std::env::var_os("KARTOTEKA_TEST_REQUIRE_SQL_TLS").is_none(),
        "{test}: {why}, and KARTOTEKA_TEST_REQUIRE_SQL_TLS is set"
    );
    println!("skipped {test}: {why}");
}

/// A program on the PATH or in the system folders (mariadbd is in /usr/sbin).
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn ca_host(ca_file: Option<&Path>) -> HostConfig {
    HostConfig {
        sql: SqlConfig {
            ca_file: ca_file.map(Path::to_path_buf),
            ..SqlConfig::default()
        },
        ..HostConfig::default()
    }
}

/// Runs one query through a web listener: its rows, or the failure's message.
async fn query(
    t: &TestApp,
    db_type: &str,
    connection: &[String],
    sql: &str,
) -> Result<Vec<Value>, String> {
    let (status, body) = call_listener(
        t,
        &unique("sqltls"),
        &[
            sql_step(db_type, connection, sql, &[], "rows"),
            setvar(&[("$body", "rows")]),
        ],
    )
    .await;
    match status {
        200 => Ok(body.as_array().cloned().unwrap_or_default()),
        _ => Err(body["message"].as_str().unwrap_or_default().to_string()),
    }
}

fn by_string(url: &str) -> Vec<String> {
    vec![
        list("connectionType", "connectionString"),
        input("connectionString", &json!(url).to_string()),
    ]
}

fn by_parameters(host: &str, login: &str, database: &str) -> Vec<String> {
    vec![
        list("connectionType", "parameters"),
        input("host", &json!(host).to_string()),
        input("database", &json!(database).to_string()),
        input("login", &json!(login).to_string()),
        input("password", "''"),
    ]
}

/// Asserts that a query failed with a message holding `words`.
#[track_caller]
fn assert_refused<T: std::fmt::Debug>(got: &Result<T, String>, words: &str) {
    assert!(
        got.as_ref().is_err_and(|e| e.contains(words)),
        "expected a failure saying {words:?}, got {got:?}"
    );
}

/// Asserts that a MySQL session was encrypted (has a TLS cipher).
#[track_caller]
fn assert_encrypted(cipher: &Result<String, String>) {
    assert!(
        cipher.as_ref().is_ok_and(|c| !c.is_empty()),
        "expected a TLS session, got {cipher:?}"
    );
}

const PG_SSL: &str = "select ssl from pg_stat_ssl where pid = pg_backend_pid()";

/// Whether the PostgreSQL session of this connection is encrypted.
async fn pg_tls(t: &TestApp, connection: &[String]) -> Result<bool, String> {
    let rows = query(t, "postgres", connection, PG_SSL).await?;
    rows.first()
        .and_then(|r| r["ssl"].as_bool())
        .ok_or_else(|| format!("no pg_stat_ssl row: {rows:?}"))
}

/// PostgreSQL: `prefer` (parameters, or no `sslmode`) and `require` encrypt without checking
/// the certificate, `disable` does not encrypt; `verify-full` refuses a certificate no
/// trusted root signed, and, once `KARTOTEKA_SQL_CA_FILE` trusts it, one whose names do not
/// cover the host, which `verify-ca` accepts; an unknown level is refused by name.
#[tokio::test]
async fn sql_query_speaks_tls_to_postgresql_as_sslmode_says() {
    let test = "sql_query_speaks_tls_to_postgresql_as_sslmode_says";
    // The server is a service of the machine, not a program CI installs: its absence or a
    // server without TLS skips the test whatever the setting.
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        return println!("skipped {test}: no PostgreSQL on 127.0.0.1:5432");
    }
    let t = TestApp::start().await;
    let url =
        |host: &str, mode: &str| by_string(&format!("postgres://postgres@{host}:5432/test{mode}"));
    let settings = query(
        &t,
        "postgres",
        &url("127.0.0.1", "?sslmode=disable"),
        "select current_setting('ssl') as ssl, current_setting('ssl_cert_file') as cert, \
         current_setting('data_directory') as data",
    )
    .await
    .expect("the server's TLS settings");
    // A relative file is in the data folder.
    let cert = Path::new(settings[0]["data"].as_str().unwrap_or_default())
        .join(settings[0]["cert"].as_str().unwrap_or_default());
    if settings[0]["ssl"] != "on" || !cert.is_file() {
        return println!(
            "skipped {test}: the server has no TLS or its certificate is not readable: {settings:?}"
        );
    }
    assert_eq!(
        pg_tls(&t, &url("127.0.0.1", "?sslmode=disable")).await,
        Ok(false)
    );
    assert_eq!(
        pg_tls(&t, &by_parameters("127.0.0.1:5432", "postgres", "test")).await,
        Ok(true)
    );
    assert_eq!(pg_tls(&t, &url("127.0.0.1", "")).await, Ok(true));
    assert_eq!(
        pg_tls(&t, &url("127.0.0.1", "?sslmode=require")).await,
        Ok(true)
    );
    let untrusted = pg_tls(&t, &url("localhost", "?sslmode=verify-full")).await;
    assert_refused(&untrusted, "UnknownIssuer");
    let unknown = pg_tls(&t, &url("127.0.0.1", "?sslmode=always")).await;
    assert_refused(&unknown, "sslmode: unknown level `always`");

    let trusting = TestApp::start_with_host(ca_host(Some(&cert))).await;
    // The address is not a name the certificate holds: only the chain is checked.
    assert_eq!(
        pg_tls(&trusting, &url("127.0.0.1", "?sslmode=verify-ca")).await,
        Ok(true)
    );
    let wrong_name = pg_tls(&trusting, &url("127.0.0.1", "?sslmode=verify-full")).await;
    assert_refused(&wrong_name, "not valid for name");
    let names_localhost = Command::new("openssl")
        .args(["x509", "-noout", "-checkhost", "localhost", "-in"])
        .arg(&cert)
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("does match"));
    if names_localhost {
        assert_eq!(
            pg_tls(&trusting, &url("localhost", "?sslmode=verify-full")).await,
            Ok(true)
        );
    } else {
        println!("{test}: the server's certificate does not name localhost; verify-full by name not tried");
    }
}

/// Runs `program` with these arguments, or says what went wrong.
fn run(program: &Path, args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} {args:?}: {}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// A CA and a server certificate it signed for `localhost` (not for 127.0.0.1), in `dir`:
/// `ca.pem`, `server.pem`, `server.key`.
fn make_certificates(openssl: &Path, dir: &Path) -> Result<(), String> {
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n",
    )
    .map_err(|e| e.to_string())?;
    run(
        openssl,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Kartoteka test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        dir,
    )?;
    run(
        openssl,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
        dir,
    )?;
    run(
        openssl,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
        dir,
    )
}

/// A MariaDB server of the test's own, with TLS; killed on drop.
struct Mariadb {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts MariaDB with the certificates of `make_certificates`, anyone let in as any user
/// (`--skip-grant-tables`), and these further options.
fn start_mariadb(dir: &Path, options: &[&str]) -> Result<Mariadb, String> {
    let (Some(install), Some(server), Some(openssl)) = (
        program("mariadb-install-db"),
        program("mariadbd"),
        program("openssl"),
    ) else {
        return Err("mariadb-install-db, mariadbd or openssl is not installed".into());
    };
    make_certificates(&openssl, dir)?;
    let data = dir.join("data");
    let data_arg = format!("--datadir={}", data.display());
    // MariaDB refuses to run as root unless told to; as anyone else it runs as that user.
    let root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    let as_user: &[&str] = if root { &["--user=root"] } else { &[] };
    run(
        &install,
        &[
            &["--no-defaults", &data_arg][..],
            as_user,
            &["--auth-root-authentication-method=normal", "--skip-test-db"],
        ]
        .concat(),
        dir,
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let file = |name: &str| dir.join(name).display().to_string();
    let child = Command::new(server)
        .arg("--no-defaults")
        .arg(&data_arg)
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", file("mysqld.sock")))
        .arg(format!("--pid-file={}", file("mysqld.pid")))
        .args([
            "--bind-address=127.0.0.1",
            "--skip-grant-tables",
            "--skip-log-bin",
        ])
        .args(as_user)
        .arg(format!("--ssl-ca={}", file("ca.pem")))
        .arg(format!("--ssl-cert={}", file("server.pem")))
        .arg(format!("--ssl-key={}", file("server.key")))
        .args(options)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("mysqld.log")).map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("mariadbd: {e}"))?;
    let db = Mariadb {
        child,
        port,
        dir: dir.to_path_buf(),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if started.elapsed() > Duration::from_secs(30) {
            let log = std::fs::read_to_string(dir.join("mysqld.log")).unwrap_or_default();
            return Err(format!("mariadbd did not start: {log}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(db)
}

const MYSQL_CIPHER: &str = "show session status like 'Ssl_cipher'";

/// The TLS cipher of the MySQL session of this connection ("" when not encrypted).
async fn mysql_cipher(t: &TestApp, connection: &[String]) -> Result<String, String> {
    let rows = query(t, "mysql", connection, MYSQL_CIPHER).await?;
    rows.first()
        .and_then(|r| r["Value"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| format!("no Ssl_cipher row: {rows:?}"))
}

/// MySQL: against a server that offers TLS, parameters and `REQUIRED` encrypt without
/// checking, `DISABLED` does not encrypt, `VERIFY_IDENTITY` refuses an unknown CA and, with the CA trusted, a host name the
/// certificate lacks (which `VERIFY_CA` accepts), and passes by the right name; the client's
/// own TLS parameter `danger_accept_invalid_certs` works too, while parameters naming this server's files are refused.
/// Against the local MariaDB without TLS, parameters fall back to a plain connection and
/// `REQUIRED` fails.
#[tokio::test]
async fn sql_query_speaks_tls_to_mysql_as_ssl_mode_says() {
    let test = "sql_query_speaks_tls_to_mysql_as_ssl_mode_says";
    let dir = std::env::temp_dir().join(unique("kt-mariadb-tls"));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = match start_mariadb(&dir, &[]) {
        Ok(db) => db,
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            return skip(test, &why);
        }
    };
    let url =
        |host: &str, rest: &str| by_string(&format!("mysql://root@{host}:{}/mysql{rest}", db.port));
    let t = TestApp::start().await;
    let host = format!("127.0.0.1:{}", db.port);
    let cipher = mysql_cipher(&t, &by_parameters(&host, "root", "mysql")).await;
    assert_encrypted(&cipher);
    let cipher = mysql_cipher(&t, &url("127.0.0.1", "?ssl-mode=REQUIRED")).await;
    assert_encrypted(&cipher);
    let cipher = mysql_cipher(&t, &url("127.0.0.1", "?danger_accept_invalid_certs=true")).await;
    assert_encrypted(&cipher);
    let untrusted = mysql_cipher(&t, &url("localhost", "?ssl-mode=VERIFY_IDENTITY")).await;
    assert_refused(&untrusted, "UnknownIssuer");
    let refused = mysql_cipher(&t, &url("127.0.0.1", "?root_cert_path=/etc/passwd")).await;
    assert_refused(
        &refused,
        "may not name files of this server (root_cert_path)",
    );
    assert_eq!(
        mysql_cipher(&t, &url("127.0.0.1", "?ssl-mode=DISABLED")).await,
        Ok(String::new())
    );

    let trusting = TestApp::start_with_host(ca_host(Some(&dir.join("ca.pem")))).await;
    let cipher = mysql_cipher(&trusting, &url("localhost", "?ssl-mode=VERIFY_IDENTITY")).await;
    assert_encrypted(&cipher);
    let cipher = mysql_cipher(&trusting, &url("127.0.0.1", "?ssl-mode=VERIFY_CA")).await;
    assert_encrypted(&cipher);
    let wrong_name = mysql_cipher(&trusting, &url("127.0.0.1", "?sslmode=verify-full")).await;
    assert_refused(&wrong_name, "not valid for name");
    drop(db);

    // The local MariaDB has no TLS: `prefer` speaks in the clear, `require` fails.
    if std::net::TcpStream::connect("127.0.0.1:3306").is_err() {
        return println!("{test}: no MariaDB/MySQL on 127.0.0.1:3306; fallback not tried");
    }
    let local = |rest: &str| by_string(&format!("mysql://root@127.0.0.1:3306/test{rest}"));
    match mysql_cipher(&t, &local("?ssl-mode=REQUIRED")).await {
        // A local server that does have TLS: nothing to fall back from.
        Ok(c) if !c.is_empty() => {
            println!("{test}: the local MariaDB speaks TLS; fallback not tried")
        }
        other => {
            assert_refused(&other, "requires secure connection");
            assert_eq!(
                mysql_cipher(&t, &by_parameters("127.0.0.1:3306", "root", "test")).await,
                Ok(String::new())
            );
        }
    }
}

/// MySQL `prefer` against an old server that offers only TLS 1.1, which rustls does not
/// speak: parameters connect in the clear, as they did before TLS was supported, while
/// `REQUIRED` fails on the handshake.
#[tokio::test]
async fn sql_query_prefers_a_plain_connection_to_a_failed_handshake() {
    let test = "sql_query_prefers_a_plain_connection_to_a_failed_handshake";
    let dir = std::env::temp_dir().join(unique("kt-mariadb-tls11"));
    std::fs::create_dir_all(&dir).expect("dir");
    let db = match start_mariadb(&dir, &["--tls-version=TLSv1.1"]) {
        Ok(db) => db,
        Err(why) => {
            let _ = std::fs::remove_dir_all(&dir);
            return skip(test, &why);
        }
    };
    let t = TestApp::start().await;
    let host = format!("127.0.0.1:{}", db.port);
    assert_eq!(
        mysql_cipher(&t, &by_parameters(&host, "root", "mysql")).await,
        Ok(String::new())
    );
    let url = format!("mysql://root@127.0.0.1:{}/mysql?ssl-mode=REQUIRED", db.port);
    let required = mysql_cipher(&t, &by_string(&url)).await;
    assert!(required.is_err(), "{required:?}");
}

/// `KARTOTEKA_SQL_HOSTS` keeps scenarios to the database servers it names: the local
/// PostgreSQL is refused when the list names another server, before any connection, and
/// reached when the list names it with its port.
#[tokio::test]
async fn sql_query_reaches_only_the_listed_servers() {
    let with_hosts = |hosts: &[&str]| HostConfig {
        sql: SqlConfig {
            hosts: Some(hosts.iter().map(|h| h.to_string()).collect()),
            ..SqlConfig::default()
        },
        ..HostConfig::default()
    };
    let elsewhere = TestApp::start_with_host(with_hosts(&["db.internal"])).await;
    for (db_type, host) in [
        ("postgres", "127.0.0.1:5432"),
        ("mysql", "127.0.0.1:3306"),
        ("mssql", "127.0.0.1,1433"),
    ] {
        let refused = query(
            &elsewhere,
            db_type,
            &by_parameters(host, "root", "test"),
            "select 1",
        )
        .await;
        assert_refused(&refused, "is not in KARTOTEKA_SQL_HOSTS");
    }
    let url =
        by_string("postgres://postgres@127.0.0.1:5432/test?host=db.internal&hostaddr=127.0.0.1");
    assert_refused(
        &query(&elsewhere, "postgres", &url, "select 1").await,
        "the database server 127.0.0.1:5432 is not in KARTOTEKA_SQL_HOSTS",
    );
    if std::net::TcpStream::connect("127.0.0.1:5432").is_err() {
        return println!("no PostgreSQL on 127.0.0.1:5432: the listed server not tried");
    }
    let listed = TestApp::start_with_host(with_hosts(&["db.internal", "127.0.0.1:5432"])).await;
    let rows = query(
        &listed,
        "postgres",
        &by_parameters("127.0.0.1:5432", "postgres", "test"),
        "select 1 as one",
    )
    .await;
    assert_eq!(rows, Ok(vec![json!({"one": 1})]));
}
