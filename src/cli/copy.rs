//! `milvault copy -n NAME --to STORAGE [--as NEW]`.

use anyhow::Result;

use super::{backups::Ctx, human_bytes, jobs::CliJobs, show_progress};
use crate::engine::commands::copy::CopyRequest;

/// Copies a backup to another storage, showing its progress; prints what it did.
pub async fn run(ctx: &Ctx<'_>, req: CopyRequest) -> Result<i32> {
    let json = ctx.json;
    let jobs = CliJobs::open(ctx.db, &ctx.svc)?;
    let result = jobs.gate().run_copy(req, |h| show_progress(h, json)).await;
    jobs.finish().await;
    let r = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "copied backup '{}' from storage '{}' to storage '{}' as '{}': {} files, {} ({}; {} files kept from an earlier copy)",
            r.backup,
            r.from,
            r.to,
            r.name,
            r.files,
            human_bytes(r.bytes as i64),
            r.mode,
            r.files_kept
        );
    }
    Ok(0)
}
