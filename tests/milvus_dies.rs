//! Milvus dying in the middle of a restore: the job fails with a clear error in bounded time, and
//! the backup stays complete and readable. Runs last in its phase: it kills the test Milvus
//! (process group in MILVAULT_TEST_MILVUS_PGID).

use std::time::{Duration, Instant};

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    progress::{JobKind, JobState, Progress},
};

#[tokio::test]
async fn milvus_dying_mid_restore_fails_the_job_and_keeps_the_backup() {
    let dir = work_dir(&unique("dies"));
    let svc = service(&[
        ("minio.storageType", "local".into()),
        ("minio.rootPath", env("MILVAULT_TEST_MILVUS_ROOT")),
        ("minio.backupStorageType", "local".into()),
        ("minio.backupRootPath", dir.to_string_lossy().into_owned()),
        ("backup.rpcTimeoutSeconds", "10".into()),
    ]);
    let name = unique("before_crash");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into()],
        ..Default::default()
    };
    let info = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();

    let (handle, task) = svc.spawn_restore(RestoreRequest {
        name: name.clone(),
        suffix: "_crash".into(),
        ..Default::default()
    });
    // kill Milvus once the first segment is in
    let started = Instant::now();
    while handle.snapshot().segments_done == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "restore never started importing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pgid = env("MILVAULT_TEST_MILVUS_PGID");
    std::process::Command::new("kill")
        .args(["-9", "--", &format!("-{pgid}")])
        .status()
        .unwrap();
    let killed = Instant::now();

    let result = tokio::time::timeout(Duration::from_secs(120), task)
        .await
        .expect("the job must end, not hang")
        .unwrap();
    let err = result.unwrap_err().to_string();
    assert!(
        killed.elapsed() < Duration::from_secs(90),
        "failed within bounds: {:?}",
        killed.elapsed()
    );
    assert!(err.contains("Milvus"), "the error names Milvus: {err}");
    let end = handle.snapshot();
    assert_eq!(end.state, JobState::Failed);
    assert_eq!(end.error.as_deref(), Some(err.as_str()));

    // the backup is untouched: complete, listed, same metadata
    let listed = svc.list_backups().await.unwrap();
    assert!(listed.iter().any(|b| b.name == name));
    assert_eq!(svc.get_backup(&name).await.unwrap(), info);
}
