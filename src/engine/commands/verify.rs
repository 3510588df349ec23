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

/// milvus-backup's `format` of a backup that holds exported Milvus snapshots.
pub const SNAPSHOT_FORMAT: &str = "snapshot";

/// A snapshot-format backup (milvus-backup `--format snapshot`, Milvus 3.0's exported bundles)
/// has no manifest and no checksums: each collection's bundle folder is counted against the
/// files and bytes milvus-backup recorded (`snapshot_backup.total_files/total_bytes`), and its
/// snapshot metadata file must be there.
async fn verify_snapshot_bundle(
    storage: &crate::storage::Storage,
    info: &crate::format::BackupInfo,
    progress: &Progress,
) -> Result<VerifyReport> {
    let root = crate::format::layout::backup_dir(&info.name);
    let mut report = VerifyReport {
        backup: info.name.clone(),
        files_checked: 0,
        bytes_checked: 0,
        damaged: 0,
        problems: Vec::new(),
    };
    for c in &info.collection_backups {
        let Some(snap) = &c.snapshot_backup else {
            report.problems.push(FileProblem::Missing {
                path: format!(
                    "{} (no snapshot_backup in its metadata)",
                    c.qualified_name()
                ),
            });
            continue;
        };
        // bundle/snapshots/<collection>/metadata/<snapshot>.json: the collection's folder is
        // the one above metadata/
        let folder = snap
            .metadata_path
            .rsplit_once("/metadata/")
            .map(|(dir, _)| dir.to_string())
            .unwrap_or_default();
        progress.step(format!(
            "counting the snapshot bundle of {}",
            c.qualified_name()
        ));
        let files = if folder.is_empty() {
            Vec::new()
        } else {
            storage.list_files(&format!("{root}/{folder}")).await?
        };
        let meta = format!("{root}/{}", snap.metadata_path);
        if !files.iter().any(|f| f.rel == meta) {
            report.problems.push(FileProblem::Missing {
                path: snap.metadata_path.clone(),
            });
        }
        let (count, bytes) = (
            files.len() as u64,
            files.iter().map(|f| f.size).sum::<u64>(),
        );
        report.files_checked += count;
        report.bytes_checked += bytes;
        progress.add_bytes(bytes);
        let expected = u64::try_from(snap.total_bytes).unwrap_or(0);
        if bytes < expected {
            report.problems.push(FileProblem::Truncated {
                path: format!("{folder}/"),
                expected,
                found: bytes,
            });
        } else if bytes > expected {
            report.problems.push(FileProblem::Grown {
                path: format!("{folder}/"),
                expected,
                found: bytes,
            });
        } else if count != u64::try_from(snap.total_files).unwrap_or(0) {
            report.problems.push(FileProblem::Missing {
                path: format!("{folder}/ ({count} of {} files)", snap.total_files),
            });
        }
    }
    report.damaged = report.problems.len() as u64;
    progress.log(format!(
        "snapshot bundle: {} files, {} bytes counted against what milvus-backup recorded (it records no checksums): {}",
        report.files_checked,
        report.bytes_checked,
        if report.ok() { "as recorded" } else { "damaged" }
    ));
    Ok(report)
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
    if info.format == SNAPSHOT_FORMAT {
        return verify_snapshot_bundle(storage, &info, progress).await;
    }
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

/// `verify` as a method of the service.
impl Milvault {
    /// Verifies a backup against its manifest.
    pub async fn verify(&self, name: &str, progress: &Progress) -> Result<VerifyReport> {
        let r = match self.job_slot(progress).await {
            Ok(_slot) => verify_backup(self, name, progress).await,
            Err(e) => Err(e),
        };
        progress.finish(&r);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A copy of milvus-backup's snapshot fixture in a scratch backup directory, and a service
    /// reading backups from there.
    fn snapshot_backup() -> (tempfile::TempDir, Milvault) {
        let dir = tempfile::tempdir().unwrap();
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/milvus-backup/snapshot/mb_snapshot");
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(&from)
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        let config = crate::config::Config::from_yaml(
            "minio:\n  backupStorageType: local\n",
            &[(
                "minio.backupRootPath".into(),
                dir.path().to_string_lossy().into_owned(),
            )],
        )
        .unwrap();
        (dir, Milvault::new(config).unwrap())
    }

    #[tokio::test]
    async fn a_snapshot_bundle_is_counted_against_what_milvus_backup_recorded() {
        let (dir, svc) = snapshot_backup();
        let (p, _) = Progress::new(crate::progress::JobKind::Verify, "mb_snapshot");
        let r = verify_backup(&svc, "mb_snapshot", &p).await.unwrap();
        assert!(r.ok(), "{r:?}");
        assert_eq!((r.files_checked, r.bytes_checked), (2, 48));

        // a data file lost: the bundle is short of bytes
        let bundle = dir
            .path()
            .join("mb_snapshot/bundle/snapshots/454000000000000100");
        std::fs::remove_file(bundle.join("data/454000000000000101/454000000000000901")).unwrap();
        let r = verify_backup(&svc, "mb_snapshot", &p).await.unwrap();
        assert!(!r.ok());
        assert!(
            matches!(
                &r.problems[0],
                FileProblem::Truncated {
                    expected: 48,
                    found: 24,
                    ..
                }
            ),
            "{r:?}"
        );
        // the snapshot's metadata file lost: named
        std::fs::remove_file(bundle.join("metadata/454000000000000900.json")).unwrap();
        let r = verify_backup(&svc, "mb_snapshot", &p).await.unwrap();
        assert!(
            r.problems.iter().any(|p| matches!(p,
                FileProblem::Missing { path } if path.ends_with("454000000000000900.json"))),
            "{r:?}"
        );
        assert!(r.into_result().is_err());
    }

    #[tokio::test]
    async fn a_snapshot_backup_is_refused_by_restore_before_milvus_is_asked() {
        // the check comes before the configured Milvus is asked anything
        let (_dir, svc) = snapshot_backup();
        let req = crate::engine::commands::restore::RestoreRequest {
            name: "mb_snapshot".into(),
            ..Default::default()
        };
        let err = crate::engine::commands::restore::RestorePlan::make(&svc, &req)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::NotRestorable { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("Milvus 3.0") && text.contains("Nothing was created"),
            "{text}"
        );
    }
}
