//! Issue 15 (terabyte collections) against a real Milvus 2.3.5 on SeaweedFS S3: server-side copy
//! across buckets, the streamed path, cancel, incremental backups and resume.

mod support;

use milvault::{
    commands::{create::CreateBackupRequest, restore::RestoreRequest},
    copy::{copy_mode, CopyMode},
    job::{JobKind, Progress},
};
use support::*;

/// Files and bytes of a backup's binlogs, as stored.
async fn binlog_bytes(svc: &milvault::Milvault, name: &str) -> (usize, u64) {
    let files = svc
        .backup_storage()
        .list_files(&format!("{name}/binlogs"))
        .await
        .unwrap();
    (files.len(), files.iter().map(|f| f.size).sum())
}

#[tokio::test]
async fn another_bucket_of_one_endpoint_copies_on_the_server() {
    let root = unique("sc_xb");
    let svc = service(&s3_overrides("milvault", &root));
    assert_eq!(
        copy_mode(svc.milvus_storage().unwrap(), svc.backup_storage()),
        CopyMode::ServerSideAcrossBuckets
    );
    let name = unique("sc_xb");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into()],
        ..Default::default()
    };
    let info = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    let m = info.milvault.clone().unwrap();
    assert_eq!(m.copy_mode.as_deref(), Some("server-side across buckets"));
    assert_eq!(
        m.bytes_streamed, 0,
        "no binlog byte passed through milvault"
    );
    let (files, bytes) = binlog_bytes(&svc, &name).await;
    assert!(files > 0);
    assert_eq!(bytes as i64, info.size);
    assert_eq!(m.file_count as usize, files);
    // the copies are byte for byte Milvus' files: verify checks them against the manifest
    let report = svc
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let target = unique("sc_xbr");
    let report = svc
        .restore(
            RestoreRequest {
                name,
                renames: vec![format!("demo_products:{target}")],
                ..Default::default()
            },
            &Progress::detached(JobKind::Restore),
        )
        .await
        .unwrap();
    assert_eq!(report.collections[0].imported_rows, 2700);
    assert_eq!(
        assert_same_data("default", "demo_products", "default", &target),
        2700
    );
}

#[tokio::test]
async fn another_endpoint_streams_and_the_copy_is_exact() {
    let root = unique("sc_st");
    let mut o = s3_overrides("milvault", &root);
    // the same server under another name: not provably one endpoint, so the bytes stream
    o.push(("minio.backupAddress", "localhost".into()));
    let svc = service(&o);
    assert_eq!(
        copy_mode(svc.milvus_storage().unwrap(), svc.backup_storage()),
        CopyMode::Stream
    );
    let name = unique("sc_st");
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                collections: vec!["shop.reviews".into()],
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let m = info.milvault.clone().unwrap();
    assert_eq!(m.copy_mode.as_deref(), Some("stream"));
    assert_eq!(m.bytes_streamed as i64, info.size);
    let report = svc
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
