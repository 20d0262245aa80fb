//! PDF for the Converter (spec 03 §7.2.6), made by programs installed on the host:
//!
//! - **HTML → PDF** by headless Chromium, driven over the DevTools protocol on a pipe
//!   (`--remote-debugging-pipe`: no port is opened). The HTML is written into an
//!   `about:blank` page, as Puppeteer's `page.setContent` does, so it cannot reach `file:`
//!   URLs; once it and its fonts have loaded, `Page.printToPDF` prints it with the page setup
//!   of Puppeteer's `page.pdf()`, which is what Bpium's component takes.
//! - **DOCX → PDF** by LibreOffice (`soffice --headless --convert-to pdf`).
//!
//! Each conversion starts its own process group with a fresh profile in a temporary folder,
//! which is removed afterwards. Under a root server the programs run as `nobody`, so Chromium
//! keeps its sandbox (which refuses root); where the sandbox cannot start at all, the page is
//! printed again without it, with a warning. At most [`ConvertConfig::workers`] run at once; one that
//! takes longer than [`ConvertConfig::timeout`] (the wait for a turn included) is `TIMEOUT`,
//! and its processes are killed. A host without the program answers `INTERNAL`, saying what
//! to install or set.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use command_fds::{CommandFdExt, FdMapping};
use kartoteka_engine::{PdfJob, PortError, PrintOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::process::Command;

/// Where the converters are, and how much they may take.
#[derive(Debug, Clone)]
pub struct ConvertConfig {
    /// Chromium's program (`KARTOTEKA_CHROMIUM`); `None`: `chromium`, `chromium-browser`,
    /// `google-chrome` or `google-chrome-stable` on the `PATH`.
    pub chromium: Option<PathBuf>,
    /// LibreOffice's program (`KARTOTEKA_SOFFICE`); `None`: `soffice` or `libreoffice` on
    /// the `PATH`.
    pub soffice: Option<PathBuf>,
    /// The longest one conversion may take (`KARTOTEKA_CONVERT_TIMEOUT`).
    pub timeout: Duration,
    /// Conversions at once; more wait for a turn.
    pub workers: usize,
}

impl Default for ConvertConfig {
    fn default() -> ConvertConfig {
        ConvertConfig {
            chromium: None,
            soffice: None,
            timeout: Duration::from_secs(60),
            workers: 2,
        }
    }
}

/// The largest DevTools message read (a PDF comes back as one base64 string).
const MAX_MESSAGE: usize = 512 << 20;

/// The host's PDF converter.
pub(crate) struct Converter {
    config: ConvertConfig,
    turns: tokio::sync::Semaphore,
}

fn failed(e: impl std::fmt::Display) -> PortError {
    PortError::new("INTERNAL", e.to_string())
}

impl Converter {
    pub(crate) fn new(config: ConvertConfig) -> Converter {
        let turns = tokio::sync::Semaphore::new(config.workers.max(1));
        Converter { config, turns }
    }

    pub(crate) async fn convert(&self, job: PdfJob) -> Result<Vec<u8>, PortError> {
        let limit = self.config.timeout;
        let work = async {
            let _turn = self.turns.acquire().await.map_err(failed)?;
            match job {
                PdfJob::Html { html, print } => self.html(&html, &print).await,
                PdfJob::Docx(bytes) => self.docx(&bytes).await,
            }
        };
        tokio::time::timeout(limit, work).await.map_err(|_| {
            PortError::new(
                "TIMEOUT",
                format!(
                    "the PDF conversion took longer than {} s",
                    limit.as_secs_f64()
                ),
            )
        })?
    }

    async fn docx(&self, bytes: &[u8]) -> Result<Vec<u8>, PortError> {
        let soffice = program(
            self.config.soffice.as_deref(),
            &["soffice", "libreoffice"],
            "docx-pdf needs LibreOffice: install it (Debian: apt install libreoffice-writer-nogui) or set KARTOTEKA_SOFFICE",
        )?;
        let dir = workdir()?;
        let input = dir.path().join("document.docx");
        let out = dir.path().join("out");
        tokio::fs::write(&input, bytes).await.map_err(failed)?;
        let mut cmd = Command::new(&soffice);
        cmd.args([
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--nologo",
            "--nodefault",
            "--nofirststartwizard",
        ])
        .arg(format!(
            "-env:UserInstallation={}",
            file_url(&dir.path().join("profile"))
        ))
        .args(["--convert-to", "pdf:writer_pdf_Export", "--outdir"])
        .arg(&out)
        .arg(&input);
        let mut running = spawn(&mut cmd, &soffice, dir)?;
        let status = running.wait().await?;
        match tokio::fs::read(out.join("document.pdf")).await {
            Ok(pdf) if status.success() && pdf.starts_with(b"%PDF") => Ok(pdf),
            _ => Err(failed(format!(
                "LibreOffice did not convert the document ({status}){}",
                log_tail(running.dir())
            ))),
        }
    }

    async fn html(&self, html: &str, print: &PrintOptions) -> Result<Vec<u8>, PortError> {
        let chromium = program(
            self.config.chromium.as_deref(),
            &[
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ],
            "html-pdf needs Chromium: install it (Debian: apt install chromium) or set KARTOTEKA_CHROMIUM",
        )?;
        // Chromium's sandbox cannot start everywhere (no user namespaces in some
        // containers); where it says so, the page is printed again without it.
        match self.print_page(&chromium, html, print, true).await {
            Err(e) if sandbox_refused(&e) => {
                tracing::warn!(error = %e.message, "Chromium's sandbox cannot start here; printing without it");
                self.print_page(&chromium, html, print, false).await
            }
            done => done,
        }
    }

    async fn print_page(
        &self,
        chromium: &Path,
        html: &str,
        print: &PrintOptions,
        sandbox: bool,
    ) -> Result<Vec<u8>, PortError> {
        let dir = workdir()?;
        let (to_browser, browser_in) = pipe::pipe().map_err(failed)?;
        let (browser_out, from_browser) = pipe::pipe().map_err(failed)?;
        let mut cmd = Command::new(chromium);
        cmd.args([
            "--headless",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-default-apps",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--mute-audio",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ));
        if !sandbox {
            cmd.arg("--no-sandbox");
        }
        cmd.arg("about:blank")
            .fd_mappings(vec![
                FdMapping {
                    parent_fd: browser_in.into_blocking_fd().map_err(failed)?,
                    child_fd: 3,
                },
                FdMapping {
                    parent_fd: browser_out.into_blocking_fd().map_err(failed)?,
                    child_fd: 4,
                },
            ])
            .map_err(failed)?;
        let running = spawn(&mut cmd, chromium, dir)?;
        // The browser's ends of the pipes close here, so its exit is seen as the end of input.
        drop(cmd);
        let mut cdp = DevTools {
            tx: to_browser,
            rx: from_browser,
            buf: Vec::new(),
            next: 0,
            dir: running.dir(),
        };
        let target = cdp
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let target = target["targetId"].clone();
        let attached = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target, "flatten": true}),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let html_text = serde_json::to_string(html).map_err(failed)?;
        let loaded = cdp
            .call(
                Some(&session),
                "Runtime.evaluate",
                json!({
                    "expression": format!("({LOAD})({html_text})"),
                    "awaitPromise": true,
                    "returnByValue": true,
                }),
            )
            .await?;
        if let Some(e) = loaded.get("exceptionDetails") {
            let text = e["exception"]["description"]
                .as_str()
                .or_else(|| e["text"].as_str())
                .unwrap_or("an exception");
            return Err(failed(format!("the HTML could not be loaded: {text}")));
        }
        let printed = cdp
            .call(Some(&session), "Page.printToPDF", print_params(print))
            .await?;
        let pdf = base64::engine::general_purpose::STANDARD
            .decode(printed["data"].as_str().unwrap_or_default())
            .map_err(failed)?;
        // Closing is a courtesy: the process group is killed when `running` goes.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            cdp.call(None, "Browser.close", json!({})),
        )
        .await;
        Ok(pdf)
    }
}

/// Written into the blank page, as Puppeteer's `setContent` does, then waits for the load
/// event (images, styles) and the fonts.
const LOAD: &str = "async (html) => {
  document.open(); document.write(html); document.close();
  if (document.readyState !== 'complete')
    await new Promise((r) => window.addEventListener('load', r, { once: true }));
  if (document.fonts) await document.fonts.ready;
  return true;
}";

/// `Page.printToPDF`'s parameters for a page setup.
fn print_params(p: &PrintOptions) -> Value {
    let mut params = json!({
        "landscape": p.landscape,
        "displayHeaderFooter": p.display_header_footer,
        "printBackground": p.print_background,
        "scale": p.scale,
        "paperWidth": p.paper_width,
        "paperHeight": p.paper_height,
        "marginTop": p.margin[0],
        "marginRight": p.margin[1],
        "marginBottom": p.margin[2],
        "marginLeft": p.margin[3],
        "pageRanges": p.page_ranges,
        "preferCSSPageSize": p.prefer_css_page_size,
    });
    for (name, template) in [
        ("headerTemplate", &p.header_template),
        ("footerTemplate", &p.footer_template),
    ] {
        if let Some(t) = template {
            params[name] = Value::String(t.clone());
        }
    }
    params
}

/// A DevTools connection over the two pipes: messages are JSON, each ended by a NUL.
struct DevTools<'a> {
    tx: pipe::Sender,
    rx: pipe::Receiver,
    buf: Vec<u8>,
    next: u64,
    dir: &'a Path,
}

impl DevTools<'_> {
    /// Sends a command (to a page's session when given) and answers its `result`; events
    /// that arrive meanwhile are skipped.
    async fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, PortError> {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_owned());
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(failed)?;
        bytes.push(0);
        if self.tx.write_all(&bytes).await.is_err() {
            return Err(self.stopped());
        }
        loop {
            let answer = self.read().await?;
            if answer.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(e) = answer.get("error") {
                let text = e["message"].as_str().unwrap_or("an error");
                return Err(failed(format!("Chromium refused {method}: {text}")));
            }
            return Ok(answer.get("result").cloned().unwrap_or(Value::Null));
        }
    }

    async fn read(&mut self) -> Result<Value, PortError> {
        let mut scanned = 0;
        loop {
            if let Some(end) = self.buf[scanned..].iter().position(|b| *b == 0) {
                let end = scanned + end;
                let v = serde_json::from_slice(&self.buf[..end]).map_err(failed);
                self.buf.drain(..=end);
                return v;
            }
            scanned = self.buf.len();
            if self.buf.len() > MAX_MESSAGE {
                return Err(PortError::new(
                    "LIMIT",
                    format!("Chromium's answer is larger than {MAX_MESSAGE} bytes"),
                ));
            }
            let mut chunk = [0u8; 64 * 1024];
            match self.rx.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(self.stopped()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    fn stopped(&self) -> PortError {
        failed(format!("Chromium stopped{}", log_tail(self.dir)))
    }
}

/// A program: the configured one, else the first of `names` on the `PATH`.
fn program(given: Option<&Path>, names: &[&str], missing: &str) -> Result<PathBuf, PortError> {
    if let Some(p) = given {
        return Ok(p.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
        .ok_or_else(|| failed(missing))
}

fn workdir() -> Result<tempfile::TempDir, PortError> {
    tempfile::Builder::new()
        .prefix("kartoteka-pdf-")
        .tempdir()
        .map_err(failed)
}

/// Whether Chromium stopped because its sandbox could not start.
fn sandbox_refused(e: &PortError) -> bool {
    e.message.starts_with("Chromium stopped") && e.message.to_lowercase().contains("sandbox")
}

/// The user and group a converter runs as when the server runs as root: `nobody`'s (from
/// the user database, else 65534), so that a document that takes over a converter takes
/// over nothing of the server's, and Chromium keeps its sandbox (which refuses root).
fn unprivileged() -> Option<(u32, u32)> {
    use nix::unistd::{geteuid, User};
    if !geteuid().is_root() {
        return None;
    }
    let nobody = User::from_name("nobody").ok().flatten();
    Some(nobody.map_or((65534, 65534), |u| (u.uid.as_raw(), u.gid.as_raw())))
}

/// Starts a converter in its own process group, its output into `log.txt` of its work
/// folder, which it then owns; as `nobody` when the server runs as root (the work folder
/// is handed over to it).
fn spawn(cmd: &mut Command, program: &Path, dir: tempfile::TempDir) -> Result<Running, PortError> {
    let log = std::fs::File::create(dir.path().join("log.txt")).map_err(failed)?;
    let err = log.try_clone().map_err(failed)?;
    if let Some((uid, gid)) = unprivileged() {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(failed)?;
        cmd.uid(uid).gid(gid);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(err))
        .env("HOME", dir.path())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start {}: {e}", program.display())))?;
    Ok(Running {
        group: child.id(),
        child: Some(child),
        dir: Some(dir),
    })
}

/// A running converter. When it goes (done, failed, timed out or cancelled) its whole
/// process group is killed (LibreOffice's `soffice.bin`, Chromium's renderers and helpers),
/// and its work folder is removed once the program has been reaped, off the caller's path.
struct Running {
    group: Option<u32>,
    child: Option<tokio::process::Child>,
    dir: Option<tempfile::TempDir>,
}

impl Running {
    fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new("."), |d| d.path())
    }

    async fn wait(&mut self) -> Result<std::process::ExitStatus, PortError> {
        match self.child.as_mut() {
            Some(child) => child.wait().await.map_err(failed),
            None => Err(failed("the converter is gone")),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(pid) = self.group.and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let (dir, child) = (self.dir.take(), self.child.take());
        if let (Ok(rt), Some(mut child)) = (tokio::runtime::Handle::try_current(), child) {
            rt.spawn(async move {
                let _ = child.wait().await;
                drop(dir);
            });
        }
    }
}

/// The end of a converter's output, for an error message.
fn log_tail(dir: &Path) -> String {
    let text = std::fs::read(dir.join("log.txt")).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        String::new()
    } else {
        format!(": {tail}")
    }
}

/// A `file:` URL of a path, its bytes outside the unreserved set percent-encoded.
fn file_url(path: &Path) -> String {
    let mut url = String::from("file://");
    for b in path.as_os_str().as_encoded_bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(b) {
            url.push(char::from(*b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_urls_are_percent_encoded() {
        assert_eq!(
            file_url(Path::new("/tmp/a b/профиль")),
            "file:///tmp/a%20b/%D0%BF%D1%80%D0%BE%D1%84%D0%B8%D0%BB%D1%8C"
        );
    }

    #[test]
    fn only_a_sandbox_failure_prints_again() {
        let stopped = |log: &str| failed(format!("Chromium stopped: {log}"));
        assert!(sandbox_refused(&stopped(
            "FATAL:zygote_host_impl_linux.cc(128)] No usable sandbox! ..."
        )));
        assert!(!sandbox_refused(&stopped("Segmentation fault")));
        assert!(!sandbox_refused(&failed(
            "Chromium refused Page.printToPDF: sandbox"
        )));
    }

    #[test]
    fn a_missing_program_says_what_to_install() {
        let e = program(None, &["no-such-converter-here"], "install it").expect_err("missing");
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("INTERNAL", "install it")
        );
    }

    #[test]
    fn templates_are_passed_only_when_given() {
        let mut p = PrintOptions {
            paper_width: 8.5,
            paper_height: 11.0,
            margin: [0.1, 0.2, 0.3, 0.4],
            landscape: true,
            print_background: false,
            scale: 1.0,
            page_ranges: "1".into(),
            display_header_footer: true,
            header_template: None,
            footer_template: Some("<b>f</b>".into()),
            prefer_css_page_size: false,
        };
        let v = print_params(&p);
        assert_eq!(v["marginLeft"], json!(0.4));
        assert!(v.get("headerTemplate").is_none());
        assert_eq!(v["footerTemplate"], "<b>f</b>");
        p.footer_template = None;
        assert!(print_params(&p).get("footerTemplate").is_none());
    }
}
