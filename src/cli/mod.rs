//! The command line, with milvus-backup's command and flag names.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

pub mod archive;
pub mod backups;
pub mod config_migrate;
pub mod config_show;
pub mod copy;
pub mod jobs;
pub mod policy;
pub mod serve;
pub mod user;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    config::Config,
    engine::service::Milvault,
    progress::{JobHandle, JobKind, JobState},
};

/// Backup and restore for Milvus.
#[derive(Debug, Parser)]
#[command(name = "milvault", version, about)]
pub struct Cli {
    /// Configuration file (milvus-backup's backup.yaml). Default: ./backup.yaml if present, else
    /// embedded defaults (Milvus on 127.0.0.1:19530 with local storage, backups in ./milvault-backups).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Override a setting: KEY=VALUE with milvus-backup's environment names (MILVUS_ADDRESS=...)
    /// or dotted keys (minio.bucketName=...). Repeatable.
    #[arg(long = "set", global = true)]
    pub sets: Vec<String>,
    /// Print results as JSON.
    #[arg(long, global = true)]
    pub json: bool,
    /// Work on the backups of this storage: a name under `storages:` in the configuration
    /// (`default`, or left out: the configured backup storage). `list`, `get`, `verify`,
    /// `restore`, `delete`, `export` and `import` then act there, and `create` writes there.
    #[arg(long, global = true, env = "MILVAULT_STORAGE")]
    pub storage: Option<String>,
    #[command(flatten)]
    pub db: JobDbArg,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Back up collections.
    Create(CreateArgs),
    /// Restore collections from a backup.
    Restore(Box<crate::engine::commands::restore::RestoreRequest>),
    /// List the backups.
    List,
    /// Show one backup.
    Get(NameArg),
    /// Delete a backup.
    Delete(NameArg),
    /// Check that Milvus and both storages can be reached.
    Check,
    /// Re-read a backup and check every file against its manifest (size and checksum).
    Verify(NameArg),
    /// Copy a backup to another storage (a name under `storages:`), each file checked against
    /// its manifest as it lands and the metadata written last; run again after a stop, it keeps
    /// the files already copied.
    Copy(crate::engine::commands::copy::CopyRequest),
    /// Write a whole backup into one archive file (`.tar`, or `.tar.zst` compressed with zstd).
    Export(ExportArgs),
    /// Make a backup from an archive `export` wrote; every file is checked against the
    /// backup's manifest and the backup appears only once all are there.
    Import(ImportArgs),
    /// Prove a backup restores: restore it into a scratch database, check rows, keys and
    /// vector search, drop what it made, and report the recovery time.
    Drill(crate::engine::commands::drill::DrillRequest),
    /// The newest jobs recorded in the job database (backups, restores, verifications; also
    /// those of servers sharing it), newest first: ids for `restore --resume JOB`.
    Jobs(JobsArgs),
    /// Backup policies: schedules, retention, verification (run by `milvault serve`).
    Policy(policy::PolicyArgs),
    /// Users and API tokens for `serve --auth`.
    User(user::UserArgs),
    /// Run the web portal (and the jobs it starts).
    Serve(ServeArgs),
    /// The configuration: `config show` prints the effective settings (file, environment and
    /// --set applied) in backup.yaml's keys, secrets masked.
    Config(ConfigArgs),
    /// Asks a running server's health endpoint; exits 0 when it answers ok (the container
    /// image's health check, which has no curl).
    Health(HealthArgs),
}

/// `export` flags.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub opts: crate::engine::commands::archive::ExportOptions,
    /// The archive file to write (must not exist); compressed with zstd when it ends in
    /// `.tar.zst` or `.tzst`.
    #[arg(short = 'o', long)]
    pub output: PathBuf,
}

/// `import` flags.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The archive (`.tar` or `.tar.zst`; compression is recognized by its content).
    pub file: PathBuf,
    #[command(flatten)]
    pub opts: crate::engine::commands::archive::ImportOptions,
}

/// `health` flags.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health endpoint (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:3000/api/v2/health")]
    pub url: String,
}

/// `config` subcommands.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// What `config` does.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets masked).
    Show,
    /// Write a v1 backup.yaml as a v2 one (milvus-backup's `config migrate`): to standard output
    /// or -o FILE (mode 0600); the report goes to standard error.
    Migrate(config_migrate::MigrateArgs),
}

/// `serve` flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Without --auth only a loopback address is accepted.
    #[arg(long, default_value = "127.0.0.1:3000", env = "MILVAULT_ADDR")]
    pub addr: std::net::SocketAddr,
    /// Require sign-in: users (`milvault user add`), browser sessions, API tokens, roles.
    #[arg(long, env = "MILVAULT_AUTH")]
    pub auth: bool,
    /// Also let Milvus' own users sign in with their Milvus user name and password (Milvus RBAC;
    /// needs authorization on in Milvus). Their role follows their Milvus roles: root or admin →
    /// admin, privileges in every database → operator, in some databases → member of those,
    /// none → viewer.
    #[arg(long, env = "MILVAULT_MILVUS_SIGN_IN", requires = "auth")]
    pub milvus_sign_in: bool,
    /// A reverse proxy in front of the server (an address or a network like 10.0.0.0/8;
    /// repeatable): requests from it are taken to come from the client its X-Forwarded-For names
    /// (sign-in back-off per address, the audit log's "from where").
    #[arg(long = "trusted-proxy", env = "MILVAULT_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = crate::server::client_addr::parse_trusted)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Remove audit log entries older than this many days (checked hourly; 0 keeps them forever).
    #[arg(long, default_value_t = 365, env = "MILVAULT_AUDIT_KEEP_DAYS")]
    pub audit_keep_days: u32,
    /// PEM certificate chain to serve HTTPS with (needs --tls-key).
    #[arg(long, env = "MILVAULT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "MILVAULT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The built site (`scripts/build-site.sh` output: pkg/ with WASM, JS, CSS).
    #[arg(long, default_value = "target/site", env = "LEPTOS_SITE_ROOT")]
    pub site_root: PathBuf,
    /// Do not run backup policies in this server (another server sharing the database runs them).
    #[arg(long)]
    pub no_scheduler: bool,
}

/// `--job-db` (or `--state`): the database `milvault serve` keeps jobs, policies, users and the
/// audit log in, shared with the `policy` and `user` commands; the commands that change backups
/// record their audit entries there, and claim the backup names they write or read in it (one
/// writer per backup), so every process must find the same database wherever it is started: an
/// SQLite file on one machine, or a Postgres database for several.
#[derive(Debug, Args)]
pub struct JobDbArg {
    /// The database of jobs, policies, users and the audit log: an SQLite file, or
    /// `postgres://user:password@host:port/database` for several servers sharing one state.
    /// Default: the configuration's `state.url`, else $XDG_STATE_HOME/milvault/jobs.sqlite, else
    /// ~/.local/state/milvault/jobs.sqlite.
    #[arg(long, visible_alias = "state", global = true, env = "MILVAULT_JOB_DB")]
    pub job_db: Option<String>,
}

impl JobDbArg {
    /// Where the state is: the flag's value (a file made absolute against the working
    /// directory), else the configuration's `state.url`, else the per-user default file.
    pub fn location(&self, config: &crate::config::Config) -> Result<String> {
        let given = self
            .job_db
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| Some(config.state.url.expose().to_string()).filter(|v| !v.is_empty()));
        if let Some(v) = given.as_deref().filter(|v| crate::db::is_postgres_url(v)) {
            return Ok(v.to_string());
        }
        let path = match given {
            Some(p) => PathBuf::from(p),
            None => default_job_db()?,
        };
        let path =
            std::path::absolute(&path).with_context(|| format!("database {}", path.display()))?;
        Ok(path.to_string_lossy().into_owned())
    }

    /// Opens (creating if needed) the database. A database that cannot be opened is an error:
    /// without it, nothing would stop another process from deleting a backup this command
    /// reads or writes.
    pub fn open(&self, config: &crate::config::Config) -> Result<crate::db::Db> {
        let location = self.location(config)?;
        crate::db::Db::open_location(&location).with_context(|| {
            format!(
                "database {} (give another with --job-db/--state or MILVAULT_JOB_DB)",
                crate::db::redact_password(&location)
            )
        })
    }
}

/// `health`: 0 when `url` answers 2xx with `"status":"ok"`, else 1 with why on stderr.
async fn health(url: &str) -> Result<i32> {
    let parsed = url::Url::parse(url).with_context(|| format!("health URL {url}"))?;
    let address = format!(
        "{}://{}:{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default(),
        parsed.port_or_known_default().unwrap_or(80)
    );
    let path = match parsed.query() {
        Some(q) => format!("{}?{q}", parsed.path()),
        None => parsed.path().to_string(),
    };
    match crate::milvus::gc::get(&address, &path).await {
        Ok(body) if body.contains(r#""status":"ok""#) => {
            println!("{body}");
            Ok(0)
        }
        Ok(body) => {
            eprintln!("{url} answered without status ok: {body}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            Ok(1)
        }
    }
}

/// `$XDG_STATE_HOME/milvault/jobs.sqlite`, else `$HOME/.local/state/milvault/jobs.sqlite`.
fn default_job_db() -> Result<PathBuf> {
    let state = match std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".local/state"),
            None => anyhow::bail!(
                "no home directory (HOME is not set): give the job database with --job-db or MILVAULT_JOB_DB"
            ),
        },
    };
    Ok(state.join("milvault").join("jobs.sqlite"))
}

/// `-n NAME`.
#[derive(Debug, Args)]
pub struct NameArg {
    /// Backup name.
    #[arg(short = 'n', long)]
    pub name: String,
}

/// A comma separated flag as a list.
pub(crate) fn split_list(s: &Option<String>) -> Vec<String> {
    s.as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// `create` flags: the backup request's own, and `--resume NAME`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub request: crate::engine::commands::create::CreateBackupRequest,
    /// Continue the backup NAME that a crash or kill interrupted: its recorded request is used
    /// and the files it finished are kept.
    #[arg(long, value_name = "NAME")]
    pub resume: Option<String>,
}

/// `jobs` flags.
#[derive(Debug, Args)]
pub struct JobsArgs {
    /// How many jobs to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

/// Runs the CLI; returns the process exit code.
pub async fn run(cli: Cli) -> Result<i32> {
    let env: Vec<(String, String)> = std::env::vars().collect();
    if let Command::Health(a) = &cli.command {
        return health(&a.url).await;
    }
    if let Command::Config(ConfigArgs {
        command: ConfigCommand::Migrate(a),
    }) = &cli.command
    {
        // reads the v1 file itself (the configuration need not load as the one to run with)
        return Ok(config_migrate::run(a, cli.config.as_deref(), &env)?);
    }
    let config = Config::load(cli.config.as_deref(), &env, &cli.sets)?;
    if let Command::Config(ConfigArgs {
        command: ConfigCommand::Show,
    }) = &cli.command
    {
        // before the service opens any storage: it shows what would be used
        print!("{}", config_show::effective_yaml(&config));
        return Ok(0);
    }
    let config = match cli.storage.as_deref() {
        Some(name) => config.for_storage(name)?,
        None => config,
    };
    let ctx = backups::Ctx {
        svc: Arc::new(Milvault::new(config)?),
        db: &cli.db,
        json: cli.json,
    };
    match cli.command {
        // answered above, before the service opened its storage
        Command::Config(_) | Command::Health(_) => Ok(0),
        Command::Create(a) => backups::create(&ctx, a).await,
        Command::Restore(a) => backups::restore(&ctx, *a).await,
        Command::List => backups::list(&ctx).await,
        Command::Get(a) => backups::get(&ctx, a).await,
        Command::Delete(a) => backups::delete(&ctx, a).await,
        Command::Verify(a) => backups::verify(&ctx, a).await,
        Command::Drill(req) => backups::drill(&ctx, req).await,
        Command::Copy(req) => copy::run(&ctx, req).await,
        Command::Export(a) => backups::export(&ctx, a).await,
        Command::Import(a) => backups::import(&ctx, a).await,
        Command::Jobs(a) => backups::jobs(&ctx, a).await,
        Command::Check => backups::check(&ctx).await,
        Command::Serve(a) => serve::serve(&ctx, a).await,
        Command::Policy(a) => policy::run(ctx.svc.clone(), a, &cli.db, cli.json).await,
        Command::User(a) => user::run(&ctx.svc, a, &cli.db, cli.json),
    }
}

fn print_backup(info: &crate::format::BackupInfo) {
    let time = chrono::DateTime::from_timestamp_millis(info.backup_timestamp as i64)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    println!("backup   {}", info.name);
    println!("time     {time}");
    println!("milvus   {}", info.milvus_version);
    if info.format == crate::engine::commands::verify::SNAPSHOT_FORMAT {
        println!(
            "format   snapshot: Milvus snapshot bundles exported by milvus-backup (`verify` counts \
             them; restore them with milvus-backup into Milvus 3.0+, milvault does not)"
        );
        for c in &info.collection_backups {
            if let Some(s) = &c.snapshot_backup {
                println!(
                    "  {}: bundle {} ({} files, {})",
                    c.qualified_name(),
                    s.metadata_path,
                    s.total_files,
                    human_bytes(s.total_bytes)
                );
            }
        }
        return;
    } else if !info.format.is_empty() && info.format != "binlog" {
        println!("format   {}", info.format);
    }
    let live = info
        .live_rows()
        .map(|n| format!("{n} live rows"))
        .unwrap_or_else(|| "live rows not counted".into());
    println!(
        "size     {} in {} segments, {} stored rows, {live}",
        human_bytes(info.size),
        info.segment_count(),
        info.total_rows()
    );
    for c in &info.collection_backups {
        let live = c
            .live_rows
            .map(|n| format!("{n} live rows"))
            .unwrap_or_else(|| "live rows not counted".into());
        println!(
            "  {} (id {}): {} segments, {} stored rows, {live}, {}, {} indexes",
            c.qualified_name(),
            c.collection_id,
            c.segments().count(),
            c.total_rows(),
            human_bytes(c.size),
            c.index_infos.len()
        );
        for p in &c.partition_backups {
            println!(
                "    partition {}: {} segments, {} rows, {}",
                p.partition_name,
                p.segment_backups.len(),
                p.segment_backups.iter().map(|s| s.num_of_rows).sum::<i64>(),
                human_bytes(p.size)
            );
        }
    }
}

/// `1.2 MiB`.
pub fn human_bytes(n: i64) -> String {
    let mut v = n as f64;
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
        if v < 1024.0 || unit == "TiB" {
            return if unit == "B" {
                format!("{n} B")
            } else {
                format!("{v:.1} {unit}")
            };
        }
        v /= 1024.0;
    }
    unreachable!()
}

/// Shows a progress bar (on a terminal) until the job ends. Ctrl+C cancels the job (a backup
/// leaves nothing, a restore removes what it created) and waits for its clean-up; a second
/// Ctrl+C exits at once.
pub(crate) async fn show_progress(mut handle: JobHandle, quiet: bool) {
    let first = handle.snapshot();
    if first.kind == JobKind::Restore {
        eprintln!(
            "restore job {} (if it is interrupted: milvault restore --resume {})",
            first.id, first.id
        );
    }
    let canceller = handle.clone();
    let on_ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ncancelling: cleaning up what the job wrote (Ctrl+C again to quit at once)"
            );
            canceller.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    loop {
        let s = handle.snapshot();
        bar.set_length(s.bytes_total);
        bar.set_position(s.bytes_done);
        bar.set_message(format!(
            "segments {}/{} · {}",
            s.segments_done, s.segments_total, s.step
        ));
        if s.state != JobState::Running {
            break;
        }
        if handle.changed().await.is_none() {
            break;
        }
    }
    on_ctrl_c.abort();
    bar.finish_and_clear();
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn create(args: &[&str]) -> Result<super::CreateArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["milvault", "create"], args].concat())?;
        match cli.command {
            Command::Create(a) => Ok(a),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn create_takes_milvus_backups_flags_into_the_one_request_type() {
        let a = create(&[
            "-n",
            "b1",
            "-c",
            "a, shop.b,",
            "-d",
            "db1",
            "-f",
            "--meta_only",
            "--rbac",
        ])
        .unwrap();
        let req = a.request.tidy();
        assert_eq!(req.name, "b1");
        assert_eq!(req.collections, ["a", "shop.b"]);
        assert_eq!(req.databases, ["db1"]);
        assert!(req.skip_flush && req.meta_only && req.rbac);
        assert!(!req.logical && !req.incremental && !req.resume);
        assert_eq!(a.resume, None);
        let a = create(&["--colls", "x", "--meta-only", "--resume", "old"]).unwrap();
        assert_eq!(a.request.collections, ["x"]);
        assert!(a.request.meta_only);
        assert_eq!(a.resume.as_deref(), Some("old"));
        let a = create(&["--filter", "db1.*,c2", "--logical", "--incremental"]).unwrap();
        assert_eq!(a.request.filter, "db1.*,c2");
        assert!(a.request.logical && a.request.incremental);
    }

    #[test]
    fn a_filter_with_collections_or_databases_is_refused_by_the_parser() {
        for args in [
            ["--filter", "db1.*", "-c", "a"],
            ["--filter", "db1.*", "-d", "db1"],
        ] {
            let e = create(&args).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{args:?}"
            );
        }
    }
}
