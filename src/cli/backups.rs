//! The CLI's commands on backups and jobs, one function each: they build the engine's request
//! from the flags, go through the Gate like every front end, and print the outcome (as JSON with
//! `--json`). `run` in `mod.rs` only loads the configuration and picks one.

use std::sync::Arc;

use anyhow::Result;

use super::{
    archive, human_bytes, jobs::CliJobs, print_backup, show_progress, CreateArgs, ExportArgs,
    ImportArgs, JobDbArg, JobsArgs, NameArg,
};
use crate::engine::{
    commands::{drill::DrillRequest, restore::RestoreRequest},
    service::Milvault,
};

/// What every command gets: the service, the job database flags, JSON output or not.
pub struct Ctx<'a> {
    pub svc: Arc<Milvault>,
    pub db: &'a JobDbArg,
    pub json: bool,
}

/// Makes a backup (`create`), showing its progress.
pub async fn create(ctx: &Ctx<'_>, a: CreateArgs) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let mut req = a.request;
    if let Some(name) = a.resume {
        req.name = name;
        req.resume = true;
    }
    // the name stays claimed (across processes sharing the database) until the end
    let result = jobs
        .gate()
        .run_backup(req, |h| show_progress(h, ctx.json))
        .await;
    jobs.finish().await;
    let info = result?;
    if ctx.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::engine::commands::list::BackupSummary::from(
                &info
            ))?
        );
    } else {
        println!(
            "backup '{}' created: {} collections, {} segments, {} stored rows, {}",
            info.name,
            info.collection_backups.len(),
            info.segment_count(),
            info.total_rows(),
            human_bytes(info.size)
        );
    }
    Ok(0)
}

/// Restores from a backup (`restore`), showing its progress.
pub async fn restore(ctx: &Ctx<'_>, req: RestoreRequest) -> Result<i32> {
    // the global --storage chose the service's storage; the gate records it
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    // no process sharing the database deletes the backup while it is read
    let result = jobs
        .gate()
        .run_restore(req, |h| show_progress(h, ctx.json))
        .await;
    jobs.finish().await;
    let report = result?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for c in &report.collections {
            println!(
                "restored {} -> {}: {} segments; {}",
                c.source, c.target, c.segments, c.check
            );
        }
        if let Some(r) = &report.rbac {
            for (what, lines) in [
                ("created", &r.created),
                ("left alone", &r.left_alone),
                ("not restored", &r.not_restored),
            ] {
                for l in lines {
                    println!("rbac: {what} {l}");
                }
            }
        }
    }
    Ok(0)
}

/// Lists the backups (`list`).
pub async fn list(ctx: &Ctx<'_>) -> Result<i32> {
    let list = ctx.svc.list_backups().await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        println!(
            "no backups in {}; make one with `milvault create -n NAME`",
            ctx.svc.backup_storage().describe()
        );
    } else {
        println!(
            "{:<32} {:<20} {:>10}  {:<8}  collections",
            "name", "time (UTC)", "size", "milvus"
        );
        for b in list {
            let time = chrono::DateTime::from_timestamp_millis(b.backup_timestamp as i64)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
            // a backup in another format than binlogs says so after its collections
            let format = match b.format.as_str() {
                "" | "binlog" => String::new(),
                other => format!("  [{other}]"),
            };
            println!(
                "{:<32} {:<20} {:>10}  {:<8}  {}{format}",
                b.name,
                time,
                human_bytes(b.size),
                b.milvus_version,
                b.collections.join(", ")
            );
        }
    }
    Ok(0)
}

/// Shows one backup (`get`).
pub async fn get(ctx: &Ctx<'_>, a: NameArg) -> Result<i32> {
    let info = ctx.svc.get_backup(&a.name).await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
    } else {
        print_backup(&info);
    }
    Ok(0)
}

/// Deletes a backup (`delete`).
pub async fn delete(ctx: &Ctx<'_>, a: NameArg) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    // refused while a process sharing the database makes or reads the backup
    let result = jobs.gate().delete_backup(&a.name).await;
    jobs.finish().await;
    let n = result?;
    println!("deleted backup '{}' ({n} files)", a.name);
    Ok(0)
}

/// Lists the recent jobs (`jobs`).
pub async fn jobs(ctx: &Ctx<'_>, a: JobsArgs) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let (list, _) = jobs.gate().jobs_page(0, a.limit.clamp(1, 500))?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        for j in &list {
            let kind = serde_json::to_value(j.kind)?;
            let state = serde_json::to_value(j.state)?;
            println!(
                "{}  {:<7}  {:<9}  {}  {}{}",
                j.id,
                kind.as_str().unwrap_or_default(),
                state.as_str().unwrap_or_default(),
                j.started_at.format("%Y-%m-%d %H:%M:%S"),
                j.backup_name,
                j.error
                    .as_deref()
                    .map(|e| format!("  ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(0)
}

/// Drills a backup (`drill`); exit code 1 when the drill fails.
pub async fn drill(ctx: &Ctx<'_>, req: DrillRequest) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let result = jobs
        .gate()
        .run_drill(req, |h| show_progress(h, ctx.json))
        .await;
    jobs.finish().await;
    let r = result?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "drill of '{}' on Milvus {}: {} (restore {:.1} s, checks {:.1} s, clean-up {:.1} s)",
            r.backup,
            r.milvus_version,
            if r.passed { "PASSED" } else { "FAILED" },
            r.restore_ms as f64 / 1000.0,
            r.check_ms as f64 / 1000.0,
            r.cleanup_ms as f64 / 1000.0
        );
        for c in &r.collections {
            println!(
                "  {}: {}; keys {}/{}; {}",
                c.source,
                c.rows,
                c.keys_found,
                c.keys_sampled,
                c.recall.map_or("no float vectors".into(), |x| format!(
                    "recall@{} {x:.3} ({}/{} on {})",
                    r.top_k,
                    c.vectors_found,
                    c.vectors_searched,
                    c.vector_field.clone().unwrap_or_default()
                ))
            );
        }
        if let Some(f) = &r.failure {
            println!("  {f}");
        }
    }
    Ok(if r.passed { 0 } else { 1 })
}

/// Verifies a backup (`verify`); exit code 1 when it is damaged.
pub async fn verify(ctx: &Ctx<'_>, a: NameArg) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let result = jobs
        .gate()
        .run_verify(&a.name, |h| show_progress(h, ctx.json))
        .await;
    jobs.finish().await;
    let report = result?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.ok() {
        println!(
            "backup '{}' is intact: {} files, {} checked",
            report.backup,
            report.files_checked,
            human_bytes(report.bytes_checked as i64)
        );
    } else {
        println!(
            "backup '{}' is DAMAGED: {} of {} files",
            report.backup, report.damaged, report.files_checked
        );
        for p in &report.problems {
            println!("  {p}");
        }
        if report.damaged > report.problems.len() as u64 {
            println!(
                "  and {} more",
                report.damaged - report.problems.len() as u64
            );
        }
    }
    Ok(if report.ok() { 0 } else { 1 })
}

/// Writes a backup into an archive file (`export`).
pub async fn export(ctx: &Ctx<'_>, a: ExportArgs) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let result = archive::export(jobs.gate(), a).await;
    jobs.sign_off();
    let (report, path) = result?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "exported backup '{}' to {} ({} files, {})",
            report.backup,
            path.display(),
            report.files,
            human_bytes(report.bytes as i64)
        );
    }
    Ok(0)
}

/// Makes a backup from an archive file (`import`).
pub async fn import(ctx: &Ctx<'_>, a: ImportArgs) -> Result<i32> {
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let result = archive::import(jobs.gate(), a).await;
    jobs.sign_off();
    let report = result?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "imported backup '{}'{} ({} files, {})",
            report.backup,
            report
                .renamed_from
                .as_ref()
                .map(|n| format!(" from an archive of '{n}'"))
                .unwrap_or_default(),
            report.files,
            human_bytes(report.bytes as i64)
        );
    }
    Ok(0)
}

/// Checks Milvus and the storages (`check`); exit code 1 when any check fails.
pub async fn check(ctx: &Ctx<'_>) -> Result<i32> {
    let report = ctx.svc.check().await;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for i in &report.items {
            println!(
                "{} {:<15} {}",
                if i.ok { "ok  " } else { "FAIL" },
                i.what,
                i.detail
            );
        }
    }
    Ok(if report.ok() { 0 } else { 1 })
}
