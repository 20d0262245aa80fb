//! `kartoteka`: the server binary. Configuration comes from the command line and the
//! environment (the command line wins); every role runs in this one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use kartoteka_core::{App, CoreConfig};

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
    Serve(ServeArgs),
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
        Command::Serve(args) => rt.block_on(serve(args)),
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
    let files_dir = args.data.join("files");
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", args.listen));
    let app = App::open(&CoreConfig {
        database_url,
        files_dir,
        public_url,
    })
    .await
    .context("opening the store")?;
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
    tracing::info!(addr = %listener.local_addr()?, backend = app.backend_name(), "kartoteka is ready");
    kartoteka_http::serve(listener, app.clone(), shutdown_signal()).await?;
    tracing::info!("shutting down: finishing queued writes");
    app.close();
    Ok(())
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
