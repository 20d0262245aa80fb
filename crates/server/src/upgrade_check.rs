//! `kartoteka upgrade-check`: the upgrade-readiness analysis (spec 02 §3) over a store opened
//! read-only, safe to run beside a live server. Exit 0 when the report was produced, whatever
//! it contains; 2 when the analysis failed.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use kartoteka_core::files::storage::{FileStorage, LocalStorage};
use kartoteka_store::Store;
use kartoteka_upgrade::{DbLocation, Options, Report};

use crate::FilesArg;

#[derive(clap::Args)]
pub struct UpgradeCheckArgs {
    /// Data folder of the store to check.
    #[arg(long, env = "KARTOTEKA_DATA", default_value = "./data")]
    data: PathBuf,
    /// Database URL: `postgres://…`; default is SQLite in the data folder.
    #[arg(long, env = "KARTOTEKA_DATABASE_URL")]
    database: Option<String>,
    /// Where uploaded files are kept: a folder (default `<data>/files`) or `s3://bucket/prefix`.
    #[arg(long, env = "KARTOTEKA_FILES")]
    files: Option<String>,
    /// Write the Excel report (two sheets, spec 02 §3.5) to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Add the sheet «Опасные вебхуки» (the webhooks on dangerous catalogs) to the report.
    #[arg(long, requires = "out")]
    webhooks_sheet: bool,
    /// Print the whole result, dangerous webhooks included, as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also check «SQL-запрос» components against this store's database.
    #[arg(long)]
    server_edition: bool,
    /// The server's public address; scripts calling its host call this server's API.
    #[arg(long, env = "KARTOTEKA_PUBLIC_URL")]
    public_url: Option<String>,
    /// Another host name at which scripts reach this server (repeatable).
    #[arg(long = "api-host")]
    api_hosts: Vec<String>,
}

/// Runs the command and returns the process exit code.
pub async fn run(args: UpgradeCheckArgs) -> i32 {
    match check(&args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("upgrade-check failed: {e:#}");
            2
        }
    }
}

async fn check(args: &UpgradeCheckArgs) -> anyhow::Result<()> {
    let database_url = match &args.database {
        Some(url) => url.clone(),
        None => args
            .data
            .join("kartoteka.db")
            .to_string_lossy()
            .into_owned(),
    };
    let store = Store::open_read_only(&database_url)
        .await
        .context("opening the store read-only")?;
    let files = file_storage(&FilesArg::parse(args.files.as_deref(), &args.data)?)?;
    let mut api_hosts = args.api_hosts.clone();
    if let Some(host) = args.public_url.as_deref().and_then(host_of) {
        api_hosts.push(host);
    }
    let opts = Options {
        server_edition: args.server_edition,
        api_hosts,
        database: Some(DbLocation::from_store_url(&database_url)),
    };
    let report = kartoteka_upgrade::analyze(&store, files.as_ref(), &opts).await;
    store.close();
    let report = report?;
    if let Some(out) = &args.out {
        kartoteka_upgrade::xlsx::write(&report, out, args.webhooks_sheet)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        eprintln!("{}", summary(&report));
    } else if args.out.is_some() {
        eprintln!("{}", summary(&report));
    } else {
        println!("{}", summary(&report));
    }
    Ok(())
}

/// The host of `https://host:port/…`.
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_string())
}

fn summary(r: &Report) -> String {
    format!(
        "catalogs: {} system, {} direct, {} indirect; events: {} dangerous of {}; scripts: A {}, B {}, C {}, safe {}; dangerous webhooks: {}",
        r.catalogs.system.len(),
        r.catalogs.direct.len(),
        r.catalogs.indirect.len(),
        r.events.iter().filter(|e| e.dangerous).count(),
        r.events.len(),
        r.scripts.a.len(),
        r.scripts.b.len(),
        r.scripts.c.len(),
        r.scripts.safe.len(),
        r.webhooks.len(),
    )
}

fn file_storage(files: &FilesArg) -> anyhow::Result<Arc<dyn FileStorage>> {
    match files {
        FilesArg::Folder(dir) => Ok(Arc::new(LocalStorage::new(dir.clone()))),
        FilesArg::S3(url) => s3(url),
    }
}

#[cfg(feature = "s3")]
fn s3(url: &str) -> anyhow::Result<Arc<dyn FileStorage>> {
    let storage = kartoteka_blobs::ObjectStorage::s3(url, std::env::vars())
        .with_context(|| format!("--files {url}"))?;
    Ok(Arc::new(storage))
}

#[cfg(not(feature = "s3"))]
fn s3(url: &str) -> anyhow::Result<Arc<dyn FileStorage>> {
    anyhow::bail!("--files {url}: this kartoteka was built without S3 support")
}
