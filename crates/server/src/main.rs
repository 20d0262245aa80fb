//! `kartoteka`: the server binary. Configuration comes from the command line and the
//! environment (the command line wins); every role runs in this one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kartoteka_core::files::gc::GcConfig;
use kartoteka_core::webhooks::WebhookConfig;
use kartoteka_core::{App, CoreConfig};

mod upgrade_check;

/// mimalloc: the request path allocates many small JSON values across threads, where glibc's
/// allocator spent a fifth of the server's time in the create/get benchmark.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kartoteka",
    version,
    about = "A Bpium-2.0-compatible low-code information-system server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve(Box<ServeArgs>),
    /// Report the automations that may depend on 1.x ids (read-only; spec 02 §3).
    UpgradeCheck(upgrade_check::UpgradeCheckArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KARTOTEKA_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Data folder: the embedded database and files live here.
    #[arg(long, env = "KARTOTEKA_DATA", default_value = "./data")]
    data: PathBuf,
    /// Database URL: `postgres://…` for PostgreSQL; default is SQLite in the data folder.
    #[arg(long, env = "KARTOTEKA_DATABASE_URL")]
    database: Option<String>,
    /// Where uploaded files are kept: a folder (default `<data>/files`), or an S3 bucket and
    /// key prefix, `s3://bucket/prefix`, with credentials, region and endpoint from the usual
    /// `AWS_*` variables (README «Files»).
    #[arg(long, env = "KARTOTEKA_FILES")]
    files: Option<String>,
    /// How often the file collector runs (`0`: never).
    #[arg(long, env = "KARTOTEKA_FILES_GC_INTERVAL", default_value = "1h", value_parser = duration)]
    files_gc_interval: std::time::Duration,
    /// Uploads never saved into a record are removed after this long.
    #[arg(long, env = "KARTOTEKA_FILES_UNATTACHED_TTL", default_value = "24h", value_parser = duration)]
    files_unattached_ttl: std::time::Duration,
    /// The files of a deleted record stay downloadable from its history this long.
    #[arg(long, env = "KARTOTEKA_FILES_DELETED_RETENTION", default_value = "30d", value_parser = duration)]
    files_deleted_retention: std::time::Duration,
    /// The address clients reach the server at (for absolute file URLs); default
    /// `http://<listen>`.
    #[arg(long, env = "KARTOTEKA_PUBLIC_URL")]
    public_url: Option<String>,
    /// E-mail of the first administrator, created on an empty store.
    #[arg(
        long,
        env = "KARTOTEKA_ADMIN_EMAIL",
        default_value = "admin@example.com"
    )]
    admin_email: String,
    /// Password of the first administrator; generated and printed once when absent.
    #[arg(long, env = "KARTOTEKA_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Time a webhook receiver has to answer, in milliseconds.
    #[arg(long, env = "KARTOTEKA_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    webhook_timeout_ms: u64,
    /// Delays between tries of a webhook notification, e.g. `1s,5s,30s,5m,30m,2h,6h,12h`;
    /// after the last one the delivery has failed (and can be resent).
    #[arg(long, env = "KARTOTEKA_WEBHOOK_RETRY_SCHEDULE", default_value = kartoteka_core::webhooks::DEFAULT_SCHEDULE, value_parser = schedule)]
    webhook_retry_schedule: Schedule,
    /// A hook whose deliveries keep failing this long gets `$failingSince` set.
    #[arg(long, env = "KARTOTEKA_WEBHOOK_FAILING_AFTER", default_value = "1h", value_parser = duration)]
    webhook_failing_after: std::time::Duration,
    /// How long finished deliveries stay in the delivery log.
    #[arg(long, env = "KARTOTEKA_WEBHOOK_LOG_RETENTION", default_value = "7d", value_parser = duration)]
    webhook_log_retention: std::time::Duration,
    /// The folder whose SQLite files the SQL query component may open (unset: none).
    #[arg(long, env = "KARTOTEKA_SQL_SQLITE_DIR")]
    sql_sqlite_dir: Option<std::path::PathBuf>,
    /// Certificates (PEM) the SQL query component trusts, besides the bundled roots, when a
    /// connection checks the server (`sslmode=verify-ca|verify-full`, SQL Server strings).
    #[arg(long, env = "KARTOTEKA_SQL_CA_FILE")]
    sql_ca_file: Option<std::path::PathBuf>,
    /// The database servers the SQL query component may reach: `host` or `host:port`,
    /// comma-separated (unset: any).
    #[arg(long, env = "KARTOTEKA_SQL_HOSTS", value_delimiter = ',')]
    sql_hosts: Option<Vec<String>>,
    /// Chromium, which prints HTML to PDF for the Converter (unset: found on the PATH).
    #[arg(long, env = "KARTOTEKA_CHROMIUM")]
    chromium: Option<std::path::PathBuf>,
    /// LibreOffice's soffice, which turns Word documents into PDF (unset: found on the PATH).
    #[arg(long, env = "KARTOTEKA_SOFFICE")]
    soffice: Option<std::path::PathBuf>,
    /// The longest one PDF conversion may take.
    #[arg(long, env = "KARTOTEKA_CONVERT_TIMEOUT", default_value = "60s", value_parser = duration)]
    convert_timeout: std::time::Duration,
}

/// Retry delays (a newtype: clap would read a `Vec` as a repeated option).
#[derive(Clone)]
struct Schedule(Vec<std::time::Duration>);

fn schedule(s: &str) -> Result<Schedule, String> {
    kartoteka_core::webhooks::parse_schedule(s).map(Schedule)
}

fn duration(s: &str) -> Result<std::time::Duration, String> {
    kartoteka_core::webhooks::parse_duration(s.trim())
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KARTOTEKA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    match cli.command {
        Command::Serve(args) => rt.block_on(serve(*args)),
        Command::UpgradeCheck(args) => std::process::exit(rt.block_on(upgrade_check::run(args))),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating the data folder {}", args.data.display()))?;
    let database_url = match args.database {
        Some(url) => url,
        None => args
            .data
            .join("kartoteka.db")
            .to_string_lossy()
            .into_owned(),
    };
    let files = FilesArg::parse(args.files.as_deref(), &args.data)?;
    let files_dir = match &files {
        FilesArg::Folder(dir) => dir.clone(),
        FilesArg::S3(_) => args.data.join("files"),
    };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let app = App::open(&CoreConfig {
        database_url,
        files_dir,
        public_url,
        webhooks: WebhookConfig {
            timeout: std::time::Duration::from_millis(args.webhook_timeout_ms),
            retry_schedule: args.webhook_retry_schedule.0.clone(),
            failing_after: args.webhook_failing_after,
            log_retention: args.webhook_log_retention,
        },
    })
    .await
    .context("opening the store")?;
    if let FilesArg::S3(url) = &files {
        use_s3(&app, url).await?;
    }
    if let Some((email, password)) = app
        .ensure_admin(Some(&args.admin_email), args.admin_password.as_deref())
        .await
        .context("creating the first administrator")?
    {
        println!(
            "First administrator: {email} / {password}  (shown once; change it after signing in)"
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    tracing::info!(addr = %listener.local_addr()?, backend = app.backend_name(), files = %app.file_storage().describe(), "kartoteka is ready");
    kartoteka_automation::start_automation(
        &app,
        kartoteka_automation::HostConfig {
            sql: kartoteka_automation::SqlConfig {
                sqlite_dir: args
                    .sql_sqlite_dir
                    .clone()
                    .filter(|d| !d.as_os_str().is_empty()),
                ca_file: args
                    .sql_ca_file
                    .clone()
                    .filter(|p| !p.as_os_str().is_empty()),
                // An empty setting is no setting, not an empty list.
                hosts: args
                    .sql_hosts
                    .as_ref()
                    .map(|hosts| {
                        hosts
                            .iter()
                            .map(|h| h.trim().to_owned())
                            .filter(|h| !h.is_empty())
                            .collect::<Vec<_>>()
                    })
                    .filter(|hosts| !hosts.is_empty()),
            },
            convert: kartoteka_automation::ConvertConfig {
                chromium: args.chromium.clone().filter(|p| !p.as_os_str().is_empty()),
                soffice: args.soffice.clone().filter(|p| !p.as_os_str().is_empty()),
                timeout: args.convert_timeout,
                ..kartoteka_automation::ConvertConfig::default()
            },
        },
    )
    .map_err(|e| anyhow::anyhow!("starting automation: {e}"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dispatcher = kartoteka_automation::start_webhooks(&app, async {
        let _ = stopped.await;
    })
    .map_err(|e| anyhow::anyhow!("starting webhook delivery: {e}"))?;
    let (stop_gc, gc_stopped) = tokio::sync::oneshot::channel::<()>();
    let collector = tokio::spawn(kartoteka_core::files::gc::run(
        app.clone(),
        GcConfig {
            interval: args.files_gc_interval,
            unattached_after: args.files_unattached_ttl,
            deleted_after: args.files_deleted_retention,
        },
        async {
            let _ = gc_stopped.await;
        },
    ));
    kartoteka_http::serve(listener, app.clone(), shutdown_signal()).await?;
    tracing::info!("shutting down: finishing queued writes");
    let _ = stop.send(());
    let _ = stop_gc.send(());
    let _ = dispatcher.await;
    let _ = collector.await;
    app.close();
    Ok(())
}

/// Where uploaded files go.
#[derive(Debug, Clone, PartialEq)]
enum FilesArg {
    Folder(PathBuf),
    /// `s3://bucket/prefix`.
    S3(String),
}

impl FilesArg {
    fn parse(arg: Option<&str>, data: &std::path::Path) -> anyhow::Result<FilesArg> {
        let arg = arg.map(str::trim).filter(|a| !a.is_empty());
        Ok(match arg {
            None => FilesArg::Folder(data.join("files")),
            Some(a) if a.starts_with("s3://") => FilesArg::S3(a.to_string()),
            Some(a) => match a.strip_prefix("file://") {
                Some(path) => FilesArg::Folder(PathBuf::from(path)),
                None if a.contains("://") => {
                    anyhow::bail!("--files {a:?}: a folder or s3://bucket/prefix is expected")
                }
                None => FilesArg::Folder(PathBuf::from(a)),
            },
        })
    }
}

/// Puts uploads in an S3 bucket, checking at once that it answers.
#[cfg(feature = "s3")]
async fn use_s3(app: &App, url: &str) -> anyhow::Result<()> {
    let storage = kartoteka_blobs::ObjectStorage::s3(url, std::env::vars())
        .with_context(|| format!("--files {url}"))?;
    storage
        .check()
        .await
        .context("checking the file storage (bucket, endpoint, credentials)")?;
    app.set_file_storage(std::sync::Arc::new(storage));
    Ok(())
}

#[cfg(not(feature = "s3"))]
async fn use_s3(_app: &App, url: &str) -> anyhow::Result<()> {
    anyhow::bail!("--files {url}: this kartoteka was built without S3 support (build it with `--features s3`)")
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_argument() {
        let data = std::path::Path::new("/srv/data");
        assert_eq!(
            FilesArg::parse(None, data).expect("default"),
            FilesArg::Folder(data.join("files"))
        );
        assert_eq!(
            FilesArg::parse(Some("s3://bucket/kt"), data).expect("s3"),
            FilesArg::S3("s3://bucket/kt".into())
        );
        assert_eq!(
            FilesArg::parse(Some("/mnt/files"), data).expect("folder"),
            FilesArg::Folder("/mnt/files".into())
        );
        assert_eq!(
            FilesArg::parse(Some("file:///mnt/files"), data).expect("file url"),
            FilesArg::Folder("/mnt/files".into())
        );
        assert!(FilesArg::parse(Some("gs://bucket"), data).is_err());
    }
}
