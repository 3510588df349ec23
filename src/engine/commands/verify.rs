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
    /// Empty when the backup is intact.
    pub problems: Vec<FileProblem>,
}

impl VerifyReport {
    /// No file is missing or damaged.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// `Ok` when intact, else the error naming the damaged files.
    pub fn into_result(self) -> Result<VerifyReport> {
        if self.ok() {
            Ok(self)
        } else {
            Err(Error::BackupDamaged {
                name: self.backup.clone(),
                count: self.problems.len(),
                files: describe_problems(&self.problems, 10),
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
    let Some(manifest) = integrity::read_manifest(storage, name).await? else {
        return Err(Error::NoManifest(name.into()));
    };
    let total: u64 = manifest.files.values().map(|e| e.size).sum();
    progress.add_total(total, 0);
    progress.step(format!(
        "checking {} files ({total} bytes) of backup '{}'",
        manifest.files.len(),
        info.name
    ));
    let outcome = integrity::check_files(
        storage,
        name,
        &manifest,
        |_| true,
        svc.config().tuning.copy_concurrency,
        progress,
    )
    .await;
    progress.log(format!(
        "checked {} files, {} bytes: {}",
        outcome.files,
        outcome.bytes,
        if outcome.problems.is_empty() {
            "all intact".to_string()
        } else {
            format!("{} damaged", outcome.problems.len())
        }
    ));
    Ok(VerifyReport {
        backup: name.into(),
        files_checked: outcome.files,
        bytes_checked: outcome.bytes,
        problems: outcome.problems,
    })
}
