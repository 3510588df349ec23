//! Races around restores and backup names, against a real Milvus 2.3.5 on SeaweedFS S3
//! (started by scripts/test.sh): what a restore may drop, and name locks that hold across
//! processes sharing one job database.

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    milvus::schema::{kv_to, schema_to_proto},
    progress::{JobKind, JobState, Progress},
    Error,
};

/// Restore A checks that its targets do not exist, then imports collection after collection. A
/// target created by someone else in between (here: while the first collection is being
/// imported) must be left alone, not dropped as if `drop_existing` had been given.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_created_during_a_restore_is_left_alone() {
    let svc = service(&s3_overrides("milvault", &unique("race")));
    let name = unique("race");
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                collections: vec!["demo_products".into(), "dyn_items".into()],
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let suffix = format!("_{}", &name[5..]);
    let first = format!("demo_products{suffix}");
    let second = format!("dyn_items{suffix}");
    let (mut job, done) = svc.spawn_restore(RestoreRequest {
        name: name.clone(),
        collections: vec!["demo_products".into(), "dyn_items".into()],
        suffix: suffix.clone(),
        ..Default::default()
    });

    // while the first collection's segments are imported (seconds), someone else creates the
    // second target: here with the backup's own schema, as another restore would
    let milvus = svc.milvus().await.unwrap();
    let importing_first = format!("into default.{first}");
    loop {
        let s = job
            .changed()
            .await
            .expect("the restore ended before importing");
        if s.step.contains("importing") && s.step.contains(&importing_first) {
            break;
        }
    }
    let dyn_backup = info
        .collection_backups
        .iter()
        .find(|c| c.collection_name == "dyn_items")
        .unwrap();
    milvus
        .create_collection(
            "default",
            &schema_to_proto(dyn_backup.schema.as_ref().unwrap(), &second),
            1,
            0,
            kv_to(&dyn_backup.properties),
            4,
        )
        .await
        .unwrap();
    let theirs = milvus
        .describe_collection("default", &second)
        .await
        .unwrap()
        .collection_id;

    let outcome = done.await.unwrap();
    let snapshot = job.wait().await;
    assert_eq!(snapshot.state, JobState::Failed, "{snapshot:?}");
    match outcome {
        Err(Error::CollectionExists(t)) => assert_eq!(t, format!("default.{second}")),
        other => panic!("expected CollectionExists for the second target, got {other:?}"),
    }
    let log: Vec<&str> = snapshot.log.iter().map(|l| l.message.as_str()).collect();
    assert!(
        !log.iter().any(|l| l.contains("dropping")),
        "the restore dropped something: {log:?}"
    );
    // the collection someone else made is still theirs
    let now = milvus
        .describe_collection("default", &second)
        .await
        .unwrap()
        .collection_id;
    assert_eq!(now, theirs, "the second target was dropped and re-created");
    // the first collection was restored and checked before the restore stopped
    let products = info
        .collection_backups
        .iter()
        .find(|c| c.collection_name == "demo_products")
        .unwrap();
    assert_eq!(
        milvus.stored_rows("default", &first).await.unwrap(),
        products.rows()
    );

    for c in [&first, &second] {
        milvus.drop_collection("default", c).await.unwrap();
    }
    svc.delete_backup(&name).await.unwrap();
}

/// `--set` flags for the CLI with the same configuration as `service(overrides)`.
fn cli_sets(overrides: &[(&'static str, String)]) -> Vec<String> {
    overrides
        .iter()
        .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
        .collect()
}

/// A server restores from a backup while the CLI, sharing the server's job database, tries to
/// delete it: the delete is refused (the name is claimed in the database, not in the server's
/// memory) and the restore completes; once it has, the CLI deletes the backup.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_being_restored_by_a_server_cannot_be_deleted_from_the_cli() {
    let overrides = s3_overrides("milvault", &unique("lease"));
    let svc = service(&overrides);
    let name = unique("lease");
    svc.create_backup(
        CreateBackupRequest {
            name: name.clone(),
            collections: vec!["demo_products".into()],
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap();
    let db = work_dir(&unique("lease-db")).join("jobs.sqlite");
    let registry = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::open(&db).unwrap(),
    );
    let suffix = format!("_{}", &name[6..]);
    let job = registry
        .start_restore(RestoreRequest {
            name: name.clone(),
            suffix: suffix.clone(),
            ..Default::default()
        })
        .unwrap();

    let mut args = cli_sets(&overrides);
    args.extend(["--job-db".into(), db.to_string_lossy().into_owned()]);
    args.extend(["delete".into(), "-n".into(), name.clone()]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = tokio::task::block_in_place(|| cli(&argv));
    assert_ne!(
        code, 0,
        "the CLI deleted a backup being restored: {out}{err}"
    );
    assert!(
        err.contains("restore or verification from it is running"),
        "{err}"
    );
    assert!(svc.get_backup(&name).await.is_ok(), "the backup is gone");

    let end = registry.wait_ended(&job.id).await.unwrap().unwrap();
    assert_eq!(end.state, JobState::Succeeded, "{:?}", end.error);
    let (code, out, err) = tokio::task::block_in_place(|| cli(&argv));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        svc.get_backup(&name).await.is_err(),
        "the backup is still there"
    );
    let milvus = svc.milvus().await.unwrap();
    milvus
        .drop_collection("default", &format!("demo_products{suffix}"))
        .await
        .unwrap();
}

/// The reverse: while the CLI's delete holds the name (simulated by a claim of another
/// process on the same database), a server refuses to restore from it and to make a backup of
/// that name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_claimed_by_another_process_is_refused_by_the_server() {
    use milvault::jobs::name_lease::NameUse;
    let svc = service(&s3_overrides("milvault", &unique("lease2")));
    let db = work_dir(&unique("lease2-db")).join("jobs.sqlite");
    let server = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::open(&db).unwrap(),
    );
    let other = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::open(&db).unwrap(),
    );
    let name = unique("claimed");
    let claim = other.claim_name(&name, NameUse::Delete).unwrap();
    let refused = server
        .start_backup(CreateBackupRequest {
            name: name.clone(),
            collections: vec!["empty_coll".into()],
            meta_only: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::BackupBusy { .. }), "{refused}");
    let refused = server
        .start_restore(RestoreRequest {
            name: name.clone(),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(refused, Error::BackupBusy { .. }), "{refused}");
    drop(claim);
    let job = server
        .start_backup(CreateBackupRequest {
            name: name.clone(),
            collections: vec!["empty_coll".into()],
            meta_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let end = server.wait_ended(&job.id).await.unwrap().unwrap();
    assert_eq!(end.state, JobState::Succeeded, "{:?}", end.error);
    server.delete_backup(&name).await.unwrap();
}
