//! Integration tests against a real Milvus 2.3.5 whose binlogs live on SeaweedFS S3 (bucket
//! a-bucket, root "files"), with backups in another bucket or in the same one.

use crate::support::*;
use milvault::{
    config::Config,
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    engine::copy::{copy_mode, CopyMode},
    progress::{JobKind, Progress},
    storage::Storage,
};

/// Storage at the top of Milvus' bucket, to look for leftovers.
fn milvus_bucket_top() -> Storage {
    let sets: Vec<(String, String)> = s3_overrides("a-bucket", "")
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let c = Config::from_yaml("", &sets).unwrap();
    let mut top = c.milvus_storage.clone();
    top.root_path = String::new();
    Storage::open(&top, false, None).unwrap()
}

#[tokio::test]
async fn backup_in_another_bucket_restores_through_staging_and_cleans_up() {
    let root = unique("bk");
    let svc = service(&s3_overrides("milvault", &root));
    assert_eq!(
        copy_mode(svc.milvus_storage().unwrap(), svc.backup_storage()),
        CopyMode::ServerSideAcrossBuckets,
        "one endpoint, one set of credentials: S3 copies across the buckets"
    );
    let name = unique("s3x");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec![
            "demo_products".into(),
            "dyn_items".into(),
            "shop.reviews".into(),
        ],
        ..Default::default()
    };
    let info = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    assert_eq!(info.collection_backups.len(), 3);
    // the bytes are in the backup bucket, under the configured root
    let files = svc
        .backup_storage()
        .list_files(&format!("{name}/binlogs"))
        .await
        .unwrap();
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    assert_eq!(bytes as i64, info.size);
    assert!(svc
        .backup_storage()
        .size_of(&format!("{name}/meta/backup_meta.json"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        svc.list_backups()
            .await
            .unwrap()
            .iter()
            .filter(|b| b.name == name)
            .count(),
        1
    );

    let suffix = format!("_{}", &name[4..]);
    let req = RestoreRequest {
        name: name.clone(),
        suffix: suffix.clone(),
        restore_index: true,
        load: true,
        ..Default::default()
    };
    let report = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    let products = report
        .collections
        .iter()
        .find(|c| c.source == "default.demo_products")
        .unwrap();
    assert_eq!(products.expected_rows, Some(2700));
    assert_eq!(products.imported_rows, 2700);
    assert_eq!(products.counted_rows, Some(2700));
    assert_eq!(
        assert_same_data(
            "default",
            "demo_products",
            "default",
            &format!("demo_products{suffix}")
        ),
        2700
    );
    assert_eq!(
        assert_same_data(
            "default",
            "dyn_items",
            "default",
            &format!("dyn_items{suffix}")
        ),
        596
    );
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
        1000
    );
    // nothing staged is left in Milvus' bucket
    let leftovers = milvus_bucket_top()
        .list_files("milvault-restore")
        .await
        .unwrap();
    assert!(leftovers.is_empty(), "staged files left: {leftovers:?}");
}

#[tokio::test]
async fn backup_in_milvus_bucket_copies_on_the_server_and_imports_in_place() {
    let root = unique("same");
    let svc = service(&s3_overrides("a-bucket", &root));
    assert_eq!(
        copy_mode(svc.milvus_storage().unwrap(), svc.backup_storage()),
        CopyMode::ServerSide
    );
    let name = unique("s3s");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["shop.reviews".into()],
        ..Default::default()
    };
    let info = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    assert!(info.size > 0);
    let target = unique("rev");
    let req = RestoreRequest {
        name,
        renames: vec![format!("shop.reviews:shop.{target}")],
        ..Default::default()
    };
    let report = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    assert_eq!(report.collections[0].imported_rows, 1000);
    assert_eq!(assert_same_data("shop", "reviews", "shop", &target), 1000);
}

#[tokio::test]
async fn wrong_credentials_are_a_clear_error_and_leave_nothing() {
    let root = unique("creds");
    let mut o = s3_overrides("milvault", &root);
    o.push(("minio.backupAccessKeyID", "intruder".into()));
    o.push(("minio.backupSecretAccessKey", "wrong-secret-value".into()));
    let svc = service(&o);
    let report = svc.check().await;
    assert!(!report.ok());
    let backup_item = report
        .items
        .iter()
        .find(|i| i.what == "backup storage")
        .unwrap();
    assert!(!backup_item.ok, "{backup_item:?}");
    assert!(
        !backup_item.detail.contains("wrong-secret-value"),
        "secrets stay out of errors"
    );
    let req = CreateBackupRequest {
        name: "denied".into(),
        collections: vec!["shop.reviews".into()],
        ..Default::default()
    };
    let err = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("s3 http://127.0.0.1"),
        "names the storage: {err}"
    );
    assert!(!err.contains("wrong-secret-value"), "{err}");
}
