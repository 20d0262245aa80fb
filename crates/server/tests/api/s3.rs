//! A local S3-compatible server for the S3 tests: moto (`python3 -m moto.server`), started
//! once per test process on a free loopback port and stopped when the process ends (a small
//! shell watchdog kills it by its id). `.ci/run` installs moto; set `KARTOTEKA_TEST_PYTHON`
//! to the interpreter that has it. When moto cannot be started the S3 tests say why and skip.

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use kartoteka_blobs::ObjectStorage;
use kartoteka_core::files::storage::{FileStorage, StorageError};

use crate::support::unique;

pub struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn start() -> Result<Moto, String> {
    let python = std::env::var("KARTOTEKA_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "python3".into());
    let port = free_port()?;
    let log = std::env::temp_dir()
        .join(unique("kartoteka-moto"))
        .with_extension("log");
    // moto in the background; the loop ends it (by its id) once this test process is gone.
    let script = r#"py="$1"; port="$2"; log="$3"; parent="$4"
"$py" -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
m=$!
while kill -0 "$parent" 2>/dev/null && kill -0 "$m" 2>/dev/null; do sleep 1; done
kill "$m" 2>/dev/null
wait "$m"
exit 1"#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("moto-watchdog")
        .arg(&python)
        .arg(port.to_string())
        .arg(&log)
        .arg(std::process::id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    let started = Instant::now();
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(Moto {
                endpoint: format!("http://127.0.0.1:{port}"),
            });
        }
        if let Ok(Some(_)) = child.try_wait() {
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            let last: Vec<&str> = out.lines().rev().take(3).collect();
            let said = last.into_iter().rev().collect::<Vec<_>>().join(" | ");
            return Err(format!(
                "`{python} -m moto.server` exited at once ({})",
                if said.is_empty() {
                    "without a word"
                } else {
                    &said
                }
            ));
        }
        if started.elapsed() > Duration::from_secs(40) {
            return Err(format!(
                "`{python} -m moto.server` did not open port {port} within 40 s"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The shared moto server, or `None` (with the reason printed) when it cannot be started.
pub fn moto(test: &str) -> Option<&'static Moto> {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    match MOTO.get_or_init(start) {
        Ok(m) => Some(m),
        Err(why) => {
            // Written to the real stderr: libtest would hide a println! of a passing test.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: no local S3 server: {why}. Install moto (`pip install 'moto[server]'`, as .ci/run does) or set KARTOTEKA_TEST_PYTHON."
            );
            None
        }
    }
}

impl Moto {
    /// The `AWS_*` settings of this server.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A new, empty bucket.
    pub async fn bucket(&self) -> String {
        let name = unique("kt").to_ascii_lowercase().replace('_', "-");
        let name: String = name.chars().take(60).collect();
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
        name
    }

    /// The storage of `s3://bucket/prefix` on this server.
    pub fn storage(&self, bucket: &str, prefix: &str) -> Arc<ObjectStorage> {
        Arc::new(
            ObjectStorage::s3(&format!("s3://{bucket}/{prefix}"), self.vars())
                .expect("object storage"),
        )
    }

    /// An object's bytes read straight from the bucket (a signed request of its own, not
    /// through the server), `None` when it is not there.
    pub async fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let whole_bucket =
            ObjectStorage::s3(&format!("s3://{bucket}"), self.vars()).expect("storage");
        match whole_bucket.get(key).await {
            Ok(b) => Some(b.to_vec()),
            Err(StorageError::NotFound) => None,
            Err(e) => panic!("reading {key} from the bucket: {e}"),
        }
    }
}
