//! `verify`: re-reads every file a backup's manifest lists and reports the missing, truncated and
//! changed ones.

use serde::Serialize;

use crate::{
    engine::integrity::{self, describe_problems},
    engine::service::Milvault,
    error::{Error, Result},
    format::manifest::FileProblem,
    progress::Progress,
};

/// What a verification found.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub backup: String,
    pub files_checked: u64,
    pub bytes_checked: u64,
    /// Files missing or damaged (0 when the backup is intact).
    #[serde(default)]
    pub damaged: u64,
    /// The first of them, in path order (at most
    /// [`PROBLEMS_NAMED`](crate::engine::integrity::PROBLEMS_NAMED)); empty when intact.
    pub problems: Vec<FileProblem>,
}

impl VerifyReport {
    /// No file is missing or damaged.
    pub fn ok(&self) -> bool {
        self.damaged == 0 && self.problems.is_empty()
    }

    /// `Ok` when intact, else the error naming the damaged files.
    pub fn into_result(self) -> Result<VerifyReport> {
        if self.ok() {
            Ok(self)
        } else {
            Err(Error::BackupDamaged {
                name: self.backup.clone(),
                count: self.damaged as usize,
                files: describe_problems(&self.problems, self.damaged, 10),
            })
        }
    }
}

/// Verifies a backup against its manifest.
pub async fn verify_backup(
    svc: &Milvault,
    name: &str,
    progress: &Progress,
) -> Result<VerifyReport> {
    // the metadata must be readable too (and the backup complete)
    let info = svc.get_backup(name).await?;
    let storage = svc.backup_storage();
    let Some(manifest) = integrity::open_manifest(storage, name).await? else {
        return Err(Error::NoManifest(name.into()));
    };
    progress.add_total(manifest.bytes, 0);
    progress.step(format!(
        "checking {} files ({} bytes) of backup '{}'",
        manifest.files, manifest.bytes, info.name
    ));
    let outcome = integrity::check_files(
        storage,
        name,
        &manifest,
        |_| true,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await?;
    progress.log(format!(
        "checked {} files, {} bytes: {}",
        outcome.files,
        outcome.bytes,
        if outcome.damaged == 0 {
            "all intact".to_string()
        } else {
            format!("{} damaged", outcome.damaged)
        }
    ));
    Ok(VerifyReport {
        backup: name.into(),
        files_checked: outcome.files,
        bytes_checked: outcome.bytes,
        damaged: outcome.damaged,
        problems: outcome.problems,
    })
}
