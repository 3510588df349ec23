//! Aliases through backup and restore, against a real Milvus 2.3.5 on SeaweedFS S3 (started by
//! scripts/test.sh): a backup records a collection's aliases, a restore gives them back, a
//! replacing restore (`drop_existing`) moves the replaced collection's aliases to the new one,
//! an alias another collection holds is never moved, and a target name that is an alias is
//! refused instead of dropping the collection behind it.

use std::sync::Arc;

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    progress::{JobKind, Progress},
    Error, Milvault,
};

/// Restores the seeded `demo_products` as `<name>` and backs that up (with `aliases` put on it
/// first); returns the backup's name.
async fn aliased_collection(svc: &Arc<Milvault>, name: &str, aliases: &[&str]) -> String {
    let seed = unique("alseed");
    svc.create_backup(
        CreateBackupRequest {
            name: seed.clone(),
            collections: vec!["demo_products".into()],
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap();
    svc.restore(
        RestoreRequest {
            name: seed,
            collections: vec!["demo_products".into()],
            renames: vec![format!("demo_products:{name}")],
            ..Default::default()
        },
        &Progress::detached(JobKind::Restore),
    )
    .await
    .unwrap();
    let milvus = svc.milvus().await.unwrap();
    for a in aliases {
        milvus.create_alias("default", name, a).await.unwrap();
    }
    let backup = unique("albk");
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: backup.clone(),
                collections: vec![name.into()],
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let mut recorded = info.collection_backups[0].aliases.clone();
    recorded.sort();
    let mut want: Vec<String> = aliases.iter().map(|a| a.to_string()).collect();
    want.sort();
    assert_eq!(
        recorded, want,
        "the backup records the collection's aliases"
    );
    backup
}

/// The collection an alias points at, by the id Milvus resolves it to.
async fn id_behind(svc: &Milvault, name: &str) -> i64 {
    let milvus = svc.milvus().await.unwrap();
    milvus
        .describe_collection("default", name)
        .await
        .unwrap()
        .collection_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_collection_comes_back_with_its_aliases() {
    let svc = service(&s3_overrides("milvault", &unique("alias")));
    let coll = unique("al_lost");
    let alias = format!("{coll}_live");
    let backup = aliased_collection(&svc, &coll, &[&alias]).await;
    let milvus = svc.milvus().await.unwrap();
    milvus.drop_alias("default", &alias).await.unwrap();
    milvus.drop_collection("default", &coll).await.unwrap();

    let report = svc
        .restore(
            RestoreRequest {
                name: backup,
                ..Default::default()
            },
            &Progress::detached(JobKind::Restore),
        )
        .await
        .unwrap();
    assert_eq!(report.collections[0].aliases, vec![alias.clone()]);
    assert_eq!(id_behind(&svc, &alias).await, id_behind(&svc, &coll).await);
    let rows = assert_same_data("default", "demo_products", "default", &coll);
    assert!(rows > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacing_restore_moves_the_aliases_and_leaves_others_alone() {
    let svc = service(&s3_overrides("milvault", &unique("alias")));
    let coll = unique("al_repl");
    let recorded = format!("{coll}_a");
    let backup = aliased_collection(&svc, &coll, &[&recorded]).await;
    let milvus = svc.milvus().await.unwrap();
    // an alias added after the backup, and the recorded one moved to another collection
    let later = format!("{coll}_b");
    milvus.create_alias("default", &coll, &later).await.unwrap();
    let other = unique("al_other");
    aliased_collection(&svc, &other, &[]).await;
    milvus.drop_alias("default", &recorded).await.unwrap();
    milvus
        .create_alias("default", &other, &recorded)
        .await
        .unwrap();
    let old_id = id_behind(&svc, &coll).await;
    let other_id = id_behind(&svc, &other).await;

    let report = svc
        .restore(
            RestoreRequest {
                name: backup,
                drop_existing: true,
                ..Default::default()
            },
            &Progress::detached(JobKind::Restore),
        )
        .await
        .unwrap();
    let new_id = id_behind(&svc, &coll).await;
    assert_ne!(new_id, old_id, "the collection was replaced");
    assert_eq!(report.collections[0].aliases, vec![later.clone()]);
    assert_eq!(
        id_behind(&svc, &later).await,
        new_id,
        "the replaced collection's alias follows the replacement"
    );
    assert_eq!(
        id_behind(&svc, &recorded).await,
        other_id,
        "an alias another collection holds now is not moved"
    );
    assert_same_data("default", "demo_products", "default", &coll);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_that_is_an_alias_is_refused_and_nothing_is_dropped() {
    let svc = service(&s3_overrides("milvault", &unique("alias")));
    let coll = unique("al_behind");
    let alias = format!("{coll}_name");
    let backup = aliased_collection(&svc, &coll, &[&alias]).await;
    let before = id_behind(&svc, &coll).await;

    for drop_existing in [false, true] {
        let err = svc
            .restore(
                RestoreRequest {
                    name: backup.clone(),
                    renames: vec![format!("{coll}:{alias}")],
                    drop_existing,
                    ..Default::default()
                },
                &Progress::detached(JobKind::Restore),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::TargetIsAlias { .. }),
            "refused as an alias (drop_existing {drop_existing}): {err}"
        );
    }
    assert_eq!(id_behind(&svc, &coll).await, before, "nothing was dropped");
    assert_eq!(
        id_behind(&svc, &alias).await,
        before,
        "the alias is unchanged"
    );
    assert_same_data("default", "demo_products", "default", &coll);
}
