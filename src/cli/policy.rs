//! `milvault policy ...`: backup policies in the embedded database that `milvault serve` runs.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::{
    engine::policy::retention::Retention,
    engine::policy::{Policy, PolicyCopy, DEFAULT_TEMPLATE},
    jobs::policies,
    jobs::registry::JobRegistry,
    Milvault,
};

use super::{jobs::CliJobs, split_list, JobDbArg};

/// `policy` flags.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Add a policy.
    Add(Box<AddArgs>),
    /// List the policies with their next runs.
    List,
    /// Show a policy and its recent runs.
    Show(PolicyName),
    /// Pause a policy's schedule.
    Pause(PolicyName),
    /// Resume a paused policy.
    Resume(PolicyName),
    /// Remove a policy (its backups stay).
    Remove(PolicyName),
    /// Run a policy now and wait: backup, verification if asked, pruning.
    Run(PolicyName),
}

/// A policy's name.
#[derive(Debug, Args)]
pub struct PolicyName {
    /// Policy name.
    pub name: String,
}

/// `policy add` flags.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// Policy name (letters, digits, '_', '-').
    pub name: String,
    /// Cron expression: `MIN HOUR DAY MONTH WEEKDAY` (or with seconds first), e.g. "0 2 * * *".
    #[arg(long)]
    pub cron: String,
    /// IANA time zone of the schedule and of retention's days.
    #[arg(long = "tz", default_value = "UTC")]
    pub time_zone: String,
    /// Collections, comma separated: NAME or DB.NAME (default: all).
    #[arg(short = 'c', long)]
    pub colls: Option<String>,
    /// Databases to back up whole, comma separated.
    #[arg(short = 'd', long)]
    pub databases: Option<String>,
    /// Backup name template: {policy}, {time} (required), {date}.
    #[arg(long, default_value = DEFAULT_TEMPLATE)]
    pub template: String,
    #[arg(long)]
    pub keep_last: Option<u32>,
    #[arg(long)]
    pub keep_daily: Option<u32>,
    #[arg(long)]
    pub keep_weekly: Option<u32>,
    #[arg(long)]
    pub keep_monthly: Option<u32>,
    #[arg(long)]
    pub max_age_days: Option<u32>,
    /// Verify each backup against its manifest after making it.
    #[arg(long)]
    pub verify: bool,
    /// Schemas only.
    #[arg(long = "meta_only", alias = "meta-only")]
    pub meta_only: bool,
    /// Logical backups (rows through the API into Parquet files).
    #[arg(long)]
    pub logical: bool,
    /// Add it paused.
    #[arg(long)]
    pub paused: bool,
    /// Every Nth backup full, the others incremental (0: all full).
    #[arg(long, default_value_t = 0)]
    pub full_every: u32,
    /// Drill every Nth backup right after it is made: restore it into a scratch database,
    /// check it and drop it (0: never).
    #[arg(long, default_value_t = 0)]
    pub drill_every: u32,
    /// Webhooks (names from notifications.webhooks) also told of this policy's failed runs,
    /// comma separated.
    #[arg(long)]
    pub notify: Option<String>,
    /// Also copy each backup to these storages (names under `storages:`), comma separated.
    #[arg(long)]
    pub copy_to: Option<String>,
    /// Keep the last N copies in each of those storages (default: keep every copy).
    #[arg(long, requires = "copy_to")]
    pub copy_keep_last: Option<u32>,
    /// Keep one copy per day for the last N days there.
    #[arg(long, requires = "copy_to")]
    pub copy_keep_daily: Option<u32>,
}

/// Runs a policy subcommand.
pub async fn run(svc: Arc<Milvault>, args: PolicyArgs, db: &JobDbArg, json: bool) -> Result<i32> {
    let store = db.open(svc.config())?;
    let jobs = CliJobs::over(JobRegistry::new(svc, store));
    let gate = jobs.gate();
    match args.command {
        PolicyCommand::Add(a) => {
            let p = Policy {
                name: a.name,
                collections: split_list(&a.colls),
                databases: split_list(&a.databases),
                cron: a.cron,
                time_zone: a.time_zone,
                name_template: a.template,
                retention: Retention {
                    keep_last: a.keep_last,
                    keep_daily: a.keep_daily,
                    keep_weekly: a.keep_weekly,
                    keep_monthly: a.keep_monthly,
                    max_age_days: a.max_age_days,
                },
                enabled: !a.paused,
                verify_after: a.verify,
                meta_only: a.meta_only,
                logical: a.logical,
                full_every: a.full_every,
                drill_every: a.drill_every,
                notify: split_list(&a.notify),
                copy_to: split_list(&a.copy_to)
                    .into_iter()
                    .map(|storage| PolicyCopy {
                        storage,
                        retention: Retention {
                            keep_last: a.copy_keep_last,
                            keep_daily: a.copy_keep_daily,
                            ..Default::default()
                        },
                    })
                    .collect(),
            };
            gate.add_policy(&p)?;
            print_policy(&gate.policy(&p.name, 3)?, json)?;
        }
        PolicyCommand::List => {
            let all = gate.policies()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else if all.is_empty() {
                println!("no policies; add one with `milvault policy add NAME --cron \"0 2 * * *\" --keep-daily 7`");
            } else {
                for o in &all {
                    print_policy(o, false)?;
                }
            }
        }
        PolicyCommand::Show(n) => {
            print_policy(&gate.policy(&n.name, 5)?, json)?;
        }
        PolicyCommand::Pause(n) => {
            gate.set_policy_enabled(&n.name, false)?;
            println!("policy '{}' paused", n.name);
        }
        PolicyCommand::Resume(n) => {
            gate.set_policy_enabled(&n.name, true)?;
            println!("policy '{}' resumed", n.name);
        }
        PolicyCommand::Remove(n) => {
            gate.remove_policy(&n.name)?;
            println!("policy '{}' removed; the backups it made stay", n.name);
        }
        PolicyCommand::Run(n) => {
            let started = crate::server::scheduler::run_policy(gate, &n.name).await?;
            eprintln!(
                "running policy '{}': backup '{}'",
                n.name, started.run.backup
            );
            let run = started.done.await.context("policy run")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                println!(
                    "{} {}: {} ({})",
                    run.policy, run.backup, run.state, run.detail
                );
            }
            return Ok(if run.state == "succeeded" { 0 } else { 1 });
        }
    }
    Ok(0)
}

fn print_policy(o: &policies::PolicyOverview, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(o)?);
        return Ok(());
    }
    let p = &o.policy;
    let what = if p.collections.is_empty() && p.databases.is_empty() {
        "all collections".to_string()
    } else {
        [
            p.collections.join(", "),
            p.databases
                .iter()
                .map(|d| format!("{d}.*"))
                .collect::<Vec<_>>()
                .join(", "),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
    };
    println!(
        "{}{}: \"{}\" ({}), {what}; {}{}",
        p.name,
        if p.enabled { "" } else { " (paused)" },
        p.cron,
        p.time_zone,
        o.retention,
        if p.verify_after {
            "; verified after each backup"
        } else {
            ""
        }
    );
    for t in &o.next_runs {
        println!("  next run {}", t.format("%Y-%m-%d %H:%M:%S UTC"));
    }
    for r in &o.recent_runs {
        println!(
            "  ran {} ({:?}): {} {} {}",
            r.slot.format("%Y-%m-%d %H:%M:%S UTC"),
            r.trigger,
            r.backup,
            r.state,
            r.detail
        );
    }
    Ok(())
}
