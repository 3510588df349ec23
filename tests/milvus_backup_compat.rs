//! Restores of milvus-backup-shaped backups into the real Milvus 2.3.5 (binlogs on SeaweedFS
//! S3, backups in another bucket, so every restore stages its files): a milvault backup is
//! rewritten in storage into milvus-backup v0.5.13's shape (group folders named after the
//! segment, `group_id` set, `$meta` listed in the schema, no milvault keys, no manifest) and
//! restored row for row; backups 2.3 cannot take (L0-held deletes, an unknown `format`) and bad
//! input (truncated metadata, a segment without files) are refused with nothing created.

use crate::support::*;
use bytes::Bytes;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    error::Error,
    format::{layout, BackupInfo, FieldSchema, SegmentBackupInfo},
    progress::{JobKind, Progress},
    Milvault,
};

/// A milvault backup of `collections`; returns its name.
async fn backup(svc: &Milvault, collections: &[&str]) -> String {
    let name = unique("mbc");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: collections.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    };
    svc.create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    name
}

/// Writes `info` as milvus-backup v0.5.13 does: full_meta.json and the four level files.
async fn write_meta(svc: &Milvault, name: &str, info: &BackupInfo) {
    let st = svc.backup_storage();
    let (top, colls, parts, segs) = info.to_levels();
    let put = |file: &'static str, v: serde_json::Value| async move {
        st.write(
            &layout::meta_file(name, file),
            Bytes::from(serde_json::to_vec(&v).unwrap()),
        )
        .await
        .unwrap();
    };
    put(layout::FULL_META, serde_json::to_value(info).unwrap()).await;
    put(layout::BACKUP_META, serde_json::to_value(&top).unwrap()).await;
    put(
        layout::COLLECTION_META,
        serde_json::to_value(&colls).unwrap(),
    )
    .await;
    put(
        layout::PARTITION_META,
        serde_json::to_value(&parts).unwrap(),
    )
    .await;
    put(layout::SEGMENT_META, serde_json::to_value(&segs).unwrap()).await;
}

/// Rewrites backup `name` in storage into milvus-backup v0.5.13's shape; returns its metadata.
async fn rewrite_as_v0_5_13(svc: &Milvault, name: &str) -> BackupInfo {
    let st = svc.backup_storage();
    // binlogs/<kind>/<coll>/<part>/<seg>/... -> binlogs/<kind>/<coll>/<part>/<seg>/<seg>/...
    for f in st.list_files(&format!("{name}/binlogs")).await.unwrap() {
        let parts: Vec<&str> = f.rel.split('/').collect();
        // name, binlogs, kind, coll, part, seg, rest...
        let mut moved: Vec<&str> = parts[..6].to_vec();
        moved.push(parts[5]);
        moved.extend(&parts[6..]);
        let data = st.read_opt(&f.rel).await.unwrap().unwrap();
        st.write(&moved.join("/"), data).await.unwrap();
        st.delete(&f.rel).await.unwrap();
    }
    st.delete(&layout::meta_file(name, "milvault_manifest.json"))
        .await
        .unwrap();
    let mut info = svc.get_backup(name).await.unwrap();
    info.milvault = None;
    for c in info.collection_backups.iter_mut() {
        c.live_rows = None;
        for p in c.partition_backups.iter_mut() {
            for s in p.segment_backups.iter_mut() {
                s.group_id = s.segment_id;
                s.backuped = true;
            }
        }
        let schema = c.schema.as_mut().unwrap();
        if schema.enable_dynamic_field && !schema.fields.iter().any(|f| f.is_dynamic) {
            let id = schema.fields.iter().map(|f| f.field_id).max().unwrap() + 1;
            schema.fields.push(FieldSchema {
                field_id: id,
                name: FieldSchema::DYNAMIC_FIELD.into(),
                description: "dynamic schema".into(),
                data_type: 23,
                is_dynamic: true,
                ..Default::default()
            });
        }
    }
    write_meta(svc, name, &info).await;
    info
}

/// Asserts that the restore created nothing: no database `db` (the restore's target database)
/// and no collection `<c><suffix>` of `info` in its own database.
async fn assert_nothing_created(svc: &Milvault, info: &BackupInfo, suffix: &str, db: &str) {
    let milvus = svc.milvus().await.unwrap();
    let dbs = milvus.list_databases().await.unwrap();
    assert!(!dbs.iter().any(|d| d == db), "database {db} was created");
    for c in &info.collection_backups {
        let db = milvault::format::db_or_default(&c.db_name);
        let target = format!("{}{suffix}", c.collection_name);
        assert!(
            !milvus.has_collection(db, &target).await.unwrap(),
            "{db}.{target} was created"
        );
    }
}

fn restore_req(name: &str, suffix: &str) -> RestoreRequest {
    RestoreRequest {
        name: name.into(),
        suffix: suffix.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn v0_5_13_shaped_backup_restores_row_for_row() {
    let svc = service(&s3_overrides("milvault", &unique("mbroot")));
    assert_eq!(
        svc.milvus().await.unwrap().features().version,
        (2, 3, 5),
        "features detected from GetVersion"
    );
    let name = backup(
        &svc,
        &["dyn_items", "empty_coll", "demo_products", "shop.reviews"],
    )
    .await;
    let info = rewrite_as_v0_5_13(&svc, &name).await;
    // the rewritten layout is what milvus-backup v0.5.13 writes
    let files = svc
        .backup_storage()
        .list_files(&format!("{name}/binlogs/insert_log"))
        .await
        .unwrap();
    let seg: &SegmentBackupInfo = info
        .collection_backups
        .iter()
        .flat_map(|c| c.segments())
        .next()
        .unwrap();
    let group_dir = format!(
        "{name}/binlogs/insert_log/{}/{}/{}/{}/",
        seg.collection_id, seg.partition_id, seg.segment_id, seg.segment_id
    );
    assert!(files.iter().any(|f| f.rel.starts_with(&group_dir)));
    let dyn_schema = info
        .collection_backups
        .iter()
        .find(|c| c.collection_name == "dyn_items")
        .unwrap()
        .schema
        .clone()
        .unwrap();
    assert!(dyn_schema.fields.iter().any(|f| f.name == "$meta"));

    let suffix = format!("_{}", &name[4..]);
    let report = svc
        .restore(
            restore_req(&name, &suffix),
            &Progress::detached(JobKind::Restore),
        )
        .await
        .unwrap();
    assert_eq!(report.collections.len(), 4);
    for (db, coll, rows) in [
        ("default", "dyn_items", 596),
        ("default", "demo_products", 2700),
        ("shop", "reviews", 1000),
    ] {
        assert_eq!(
            assert_same_data(db, coll, db, &format!("{coll}{suffix}")),
            rows,
            "{db}.{coll}"
        );
    }
    let empty = report
        .collections
        .iter()
        .find(|c| c.source == "default.empty_coll")
        .unwrap();
    assert_eq!((empty.imported_rows, empty.stored_rows), (0, 0));
    let milvus = svc.milvus().await.unwrap();
    assert!(milvus
        .has_collection("default", &format!("empty_coll{suffix}"))
        .await
        .unwrap());
}

#[tokio::test]
async fn l0_held_deletes_are_refused_on_2_3_and_nothing_is_created() {
    let svc = service(&s3_overrides("milvault", &unique("mbroot")));
    let name = backup(&svc, &["dyn_items", "shop.reviews"]).await;
    let mut info = rewrite_as_v0_5_13(&svc, &name).await;
    // a collection-level L0 segment, as milvus-backup writes them for Milvus 2.4+
    let c = info
        .collection_backups
        .iter_mut()
        .find(|c| c.collection_name == "reviews")
        .unwrap();
    let l0_id = 449_000_000_000_000_777;
    let mut deletes = c
        .segments()
        .find(|s| s.has_delta_files())
        .cloned()
        .unwrap_or_else(|| c.segments().next().cloned().unwrap());
    deletes.segment_id = l0_id;
    deletes.partition_id = -1;
    deletes.is_l0 = true;
    deletes.binlogs.clear();
    deletes.num_of_rows = 0;
    c.l0_segments.push(deletes);
    write_meta(&svc, &name, &info).await;

    let db = unique("l0db");
    let req = RestoreRequest {
        name: name.clone(),
        renames: vec![format!("default.*:{db}.*"), format!("shop.*:{db}.*")],
        ..Default::default()
    };
    let err = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotRestorable { .. }), "{err:?}");
    assert_eq!(err.code(), "not_restorable");
    let msg = err.to_string();
    assert!(
        msg.contains("shop.reviews")
            && msg.contains(&l0_id.to_string())
            && msg.contains("Milvus 2.3")
            && msg.contains("Milvus 2.4.5+"),
        "{msg}"
    );
    assert_nothing_created(&svc, &info, "_none", &db).await;
}

#[tokio::test]
async fn bad_input_is_a_clear_error_and_changes_nothing() {
    let svc = service(&s3_overrides("milvault", &unique("mbroot")));
    let name = backup(&svc, &["dyn_items", "shop.reviews"]).await;
    let info = rewrite_as_v0_5_13(&svc, &name).await;
    let suffix = format!("_{}", &name[4..]);
    let st = svc.backup_storage();
    let restore = |db: String| RestoreRequest {
        name: name.clone(),
        renames: vec![format!("default.*:{db}.*"), format!("shop.*:{db}.*")],
        suffix: suffix.clone(),
        ..Default::default()
    };

    // unknown format
    let mut odd = info.clone();
    odd.format = "columnar9".into();
    write_meta(&svc, &name, &odd).await;
    let db = unique("baddb");
    let err = svc
        .restore(restore(db.clone()), &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotRestorable { .. }), "{err:?}");
    assert!(err.to_string().contains("format columnar9"), "{err}");
    assert_nothing_created(&svc, &info, &suffix, &db).await;

    // a segment whose files are missing
    write_meta(&svc, &name, &info).await;
    let seg = info
        .collection_backups
        .iter()
        .find(|c| c.collection_name == "reviews")
        .unwrap()
        .segments()
        .find(|s| !s.binlogs.is_empty())
        .unwrap()
        .clone();
    let dir = format!(
        "{name}/binlogs/insert_log/{}/{}/{}",
        seg.collection_id, seg.partition_id, seg.segment_id
    );
    assert!(st.delete_under(&dir).await.unwrap() > 0);
    let err = svc
        .restore(restore(db.clone()), &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::BackupDamaged { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains(&format!("segment {}", seg.segment_id)),
        "{err}"
    );
    assert_nothing_created(&svc, &info, &suffix, &db).await;

    // truncated metadata
    let full = serde_json::to_vec(&info).unwrap();
    st.write(
        &layout::meta_file(&name, layout::FULL_META),
        Bytes::from(full[..full.len() / 2].to_vec()),
    )
    .await
    .unwrap();
    let err = svc
        .restore(restore(db.clone()), &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CorruptMetadata { .. }), "{err:?}");
    assert_nothing_created(&svc, &info, &suffix, &db).await;
}
