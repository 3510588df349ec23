//! Integration tests against a real Milvus 2.3.5 that keeps its binlogs on local disk, with
//! backups in a local directory. Started and seeded by scripts/test.sh.

use std::time::{Duration, Instant};

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    progress::{JobKind, JobState, Progress},
    Error,
};

fn local_overrides(backup_dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("minio.storageType", "local".into()),
        ("minio.rootPath", env("MILVAULT_TEST_MILVUS_ROOT")),
        ("minio.backupStorageType", "local".into()),
        (
            "minio.backupRootPath",
            backup_dir.to_string_lossy().into_owned(),
        ),
    ]
}

fn cli_sets(backup_dir: &std::path::Path) -> Vec<String> {
    local_overrides(backup_dir)
        .into_iter()
        .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
        .collect()
}

/// The database the CLI records its audit entries in: beside the backup directory.
fn job_db(backup_dir: &std::path::Path) -> std::path::PathBuf {
    backup_dir.with_extension("sqlite")
}

fn run(backup_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = cli_sets(backup_dir);
    all.push("--job-db".into());
    all.push(job_db(backup_dir).to_string_lossy().into_owned());
    all.extend(args.iter().map(|s| s.to_string()));
    cli(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn cli_backs_up_two_databases_and_restores_every_row_with_a_suffix() {
    let dir = work_dir(&unique("cli"));
    let name = unique("full");
    let (code, out, err) = run(
        &dir,
        &[
            "create",
            "-n",
            &name,
            "-c",
            "demo_products,dyn_items,empty_coll,shop.reviews",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("4 collections"), "{out}");

    // milvus-backup's layout on disk, metadata present
    for f in [
        "backup_meta.json",
        "collection_meta.json",
        "partition_meta.json",
        "segment_meta.json",
        "full_meta.json",
    ] {
        assert!(
            dir.join(&name).join("meta").join(f).is_file(),
            "{f} missing"
        );
    }
    let full: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(&name).join("meta/full_meta.json")).unwrap(),
    )
    .unwrap();
    let colls = full["collection_backups"].as_array().unwrap();
    let products = colls
        .iter()
        .find(|c| c["collection_name"] == "demo_products")
        .unwrap();
    assert_eq!(
        products["milvault_live_rows"], 2700,
        "live rows counted at backup time"
    );
    assert_eq!(products["partition_backups"].as_array().unwrap().len(), 3);
    let types: Vec<i64> = products["schema"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["data_type"].as_i64().unwrap())
        .collect();
    assert!(
        types.contains(&23) && types.contains(&21) && types.contains(&101),
        "JSON, VARCHAR, vector: {types:?}"
    );
    let dyn_items = colls
        .iter()
        .find(|c| c["collection_name"] == "dyn_items")
        .unwrap();
    assert_eq!(dyn_items["schema"]["enable_dynamic_field"], true);
    let coll_id = products["collection_id"].as_i64().unwrap();
    let insert_dir = dir
        .join(&name)
        .join("binlogs/insert_log")
        .join(coll_id.to_string());
    let files: usize = walk(&insert_dir).len();
    assert!(
        files >= 6 * 5,
        "every field of every segment copied, got {files} files"
    );
    assert!(
        dir.join(&name)
            .join("binlogs/delta_log")
            .join(coll_id.to_string())
            .is_dir(),
        "deletes copied"
    );
    // the copied bytes are the metadata's size
    let bytes: u64 = walk(&dir.join(&name).join("binlogs"))
        .iter()
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert_eq!(bytes as i64, full["size"].as_i64().unwrap());

    let (code, out, err) = run(&dir, &["list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&name), "{out}");

    let (code, out, err) = run(
        &dir,
        &[
            "restore",
            "-n",
            &name,
            "-s",
            "_r",
            "--restore_index",
            "--load",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("default.demo_products -> default.demo_products_r"),
        "{out}"
    );
    assert!(out.contains("2700 rows, as the backup recorded"), "{out}");

    assert_eq!(
        assert_same_data("default", "demo_products", "default", "demo_products_r"),
        2700
    );
    assert_eq!(
        assert_same_data("default", "dyn_items", "default", "dyn_items_r"),
        596
    );
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", "reviews_r"),
        1000
    );
    assert_eq!(
        assert_same_data("default", "empty_coll", "default", "empty_coll_r"),
        0
    );

    // a failed delete changes nothing and is recorded too
    let (code, _, err) = run(&dir, &["delete", "-n", "no_such_backup"]);
    assert_ne!(code, 0, "{err}");
    assert!(dir.join(&name).join("meta/backup_meta.json").is_file());

    // what the CLI changed is in the audit log `milvault serve` shows
    let store = milvault::db::Db::open(&job_db(&dir)).unwrap();
    let entries = store
        .audit_entries(&milvault::auth::audit::AuditFilter::default())
        .unwrap();
    let seen: Vec<(&str, &str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e.action.as_str(),
                e.target.as_str(),
                e.via.as_str(),
                e.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("backup.create", name.as_str(), "cli", "ok"),
            ("backup.restore", name.as_str(), "cli", "ok"),
            ("backup.delete", "no_such_backup", "cli", "failed"),
        ]
    );
    assert!(
        entries[1].detail.contains("default.demo_products_r"),
        "{:?}",
        entries[1]
    );
    // and its jobs are in the job history `milvault serve` lists, ended
    let jobs: Vec<(JobKind, JobState, String)> = store
        .list(10)
        .unwrap()
        .into_iter()
        .rev()
        .map(|j| (j.kind, j.state, j.backup_name))
        .collect();
    assert_eq!(
        jobs,
        [
            (JobKind::Backup, JobState::Succeeded, name.clone()),
            (JobKind::Restore, JobState::Succeeded, name.clone())
        ]
    );
}

/// Every file under `dir`, with its full path.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    files_under(dir).into_iter().map(|p| dir.join(p)).collect()
}

#[tokio::test]
async fn restore_renames_into_another_database_and_reports_progress() {
    let dir = work_dir(&unique("rename"));
    let svc = service(&local_overrides(&dir));
    let name = unique("rn");
    let (progress, mut handle) = Progress::new(JobKind::Backup, &name);
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["shop.reviews".into()],
        ..Default::default()
    };
    let info = svc.create_backup(req, &progress).await.unwrap();
    let end = handle.wait().await;
    assert_eq!(end.state, JobState::Succeeded);
    assert_eq!(end.bytes_done, info.size as u64);
    assert_eq!(end.bytes_total, info.size as u64);
    assert_eq!(end.segments_done, end.segments_total);
    assert!(end.segments_total >= 1);

    let target_db = unique("archive");
    let req = RestoreRequest {
        name: name.clone(),
        renames: vec![format!("shop.reviews:{target_db}.reviews_copy")],
        ..Default::default()
    };
    let report = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    assert_eq!(
        report.collections[0].target,
        format!("{target_db}.reviews_copy")
    );
    assert_eq!(report.collections[0].imported_rows, 1000);
    assert_eq!(report.collections[0].stored_rows, 1000);
    let milvus = svc.milvus().await.unwrap();
    assert_eq!(
        milvus
            .stored_rows(&target_db, "reviews_copy")
            .await
            .unwrap(),
        1000
    );
    assert_eq!(
        assert_same_data("shop", "reviews", &target_db, "reviews_copy"),
        1000
    );
}

#[tokio::test]
async fn existing_collections_are_never_touched_without_drop_exist_collection() {
    let dir = work_dir(&unique("exists"));
    let svc = service(&local_overrides(&dir));
    let name = unique("ex");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into()],
        ..Default::default()
    };
    svc.create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    let milvus = svc.milvus().await.unwrap();
    let before = milvus.count_rows("default", "demo_products").await.unwrap();

    let req = RestoreRequest {
        name: name.clone(),
        ..Default::default()
    };
    let err = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::CollectionExists(ref c) if c == "default.demo_products"),
        "{err}"
    );
    assert!(err.to_string().contains("--drop_exist_collection"), "{err}");
    assert_eq!(
        milvus.count_rows("default", "demo_products").await.unwrap(),
        before
    );

    // with the flag, a restored copy is replaced
    let target = unique("dropme");
    let req = RestoreRequest {
        name: name.clone(),
        renames: vec![format!("demo_products:{target}")],
        ..Default::default()
    };
    svc.restore(req.clone(), &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    let err = svc
        .restore(req.clone(), &Progress::detached(JobKind::Restore))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CollectionExists(_)), "{err}");
    let again = RestoreRequest {
        drop_existing: true,
        ..req
    };
    let report = svc
        .restore(again, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    assert_eq!(
        report.collections[0].imported_rows, 2700,
        "replaced, not doubled"
    );
    assert_eq!(milvus.stored_rows("default", &target).await.unwrap(), 2700);
}

#[test]
fn bad_input_gets_a_clear_error_and_a_non_zero_exit() {
    let dir = work_dir(&unique("bad"));
    let (code, _, err) = run(&dir, &["get", "-n", "no_such_backup"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("backup 'no_such_backup' does not exist"),
        "{err}"
    );

    let (code, _, err) = run(&dir, &["create", "-n", "x1", "-c", "no_such_collection"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("collection 'default.no_such_collection' does not exist"),
        "{err}"
    );
    assert!(
        !dir.join("x1").exists(),
        "nothing written for a refused backup"
    );

    let (code, _, err) = run(&dir, &["create", "-n", "../evil"]);
    assert_ne!(code, 0);
    assert!(err.contains("may only contain"), "{err}");

    let (code, out, err) = run(&dir, &["create", "-n", "twice", "-c", "shop.reviews"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run(&dir, &["create", "-n", "twice", "-c", "shop.reviews"]);
    assert_ne!(code, 0);
    assert!(err.contains("backup 'twice' already exists"), "{err}");

    let (code, _, err) = run(
        &dir,
        &["restore", "-n", "twice", "-c", "shop.nothing", "-s", "_x"],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("collection 'shop.nothing' is not in backup 'twice'"),
        "{err}"
    );

    let (code, _, err) = run(&dir, &["restore", "-n", "twice", "-r", "bad-rule"]);
    assert_ne!(code, 0);
    assert!(err.contains("rename rule 'bad-rule'"), "{err}");

    let (code, out, err) = run(&dir, &["delete", "-n", "twice"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted backup 'twice'"), "{out}");
    assert!(!dir.join("twice").exists());
    let (code, _, err) = run(&dir, &["delete", "-n", "twice"]);
    assert_ne!(code, 0);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn unreachable_milvus_fails_fast_and_leaves_nothing() {
    let dir = work_dir(&unique("down"));
    let started = Instant::now();
    let (code, _, err) = run(&dir, &["--set", "MILVUS_PORT=1", "create", "-n", "nowhere"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("cannot reach Milvus at http://127.0.0.1:1"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "bounded, took {:?}",
        started.elapsed()
    );
    assert!(!dir.join("nowhere").exists());
    let (code, out, _) = run(&dir, &["--set", "MILVUS_PORT=1", "check"]);
    assert_ne!(code, 0);
    assert!(out.contains("FAIL milvus"), "{out}");
    assert!(out.contains("ok   backup storage"), "{out}");
}

#[tokio::test]
async fn wrong_milvus_storage_fails_the_backup_and_hides_it() {
    let dir = work_dir(&unique("wrongroot"));
    let empty_root = work_dir(&unique("not_milvus_data"));
    let mut o = local_overrides(&dir);
    o[1].1 = empty_root.to_string_lossy().into_owned();
    let svc = service(&o);
    // check says so before any backup: the directory answers but holds none of Milvus' segments
    let report = svc.check().await;
    let binlogs = report
        .items
        .iter()
        .find(|i| i.what == "milvus binlogs")
        .expect("a binlog sample");
    assert!(!binlogs.ok, "{binlogs:?}");
    assert!(
        binlogs.detail.contains(empty_root.to_str().unwrap())
            && binlogs.detail.contains("rootPath"),
        "names where it looked and what to fix: {binlogs:?}"
    );
    assert!(!report.ok());
    // and with the right root it finds them
    let right = service(&local_overrides(&dir)).check().await;
    let found = right
        .items
        .iter()
        .find(|i| i.what == "milvus binlogs")
        .unwrap();
    assert!(
        found.ok && found.detail.starts_with("found the binlogs"),
        "{found:?}"
    );
    let name = unique("half");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into()],
        ..Default::default()
    };
    let (progress, handle) = Progress::new(JobKind::Backup, &name);
    let err = svc.create_backup(req, &progress).await.unwrap_err();
    assert!(err.to_string().contains("no binlogs"), "{err}");
    assert!(
        err.to_string().contains("rootPath"),
        "says what to fix: {err}"
    );
    assert_eq!(handle.snapshot().state, JobState::Failed);
    assert!(
        !dir.join(&name).exists(),
        "the incomplete backup was removed"
    );
    assert!(svc
        .list_backups()
        .await
        .unwrap()
        .iter()
        .all(|b| b.name != name));
}

/// A full backup copies each collection as soon as it is described, while the next is flushed
/// and listed. When a later collection cannot be backed up (its binlogs are gone), the copy
/// already under way ends, the backup fails naming the segment, and nothing is left behind.
#[tokio::test]
async fn a_collection_failing_while_another_copies_leaves_nothing() {
    // after demo_products in the order collections are backed up (by name)
    let broken = format!("z_broken_{}", unique("c").replace('-', "_"));
    let out = std::process::Command::new(env("MILVAULT_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/seed_big.py"
        ))
        .args([broken.as_str(), "3000", "8"])
        .output()
        .expect("run seed_big.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = work_dir(&unique("pipeline"));
    let mut o = local_overrides(&dir);
    o.push(("backup.parallelism.backupCollection", "1".into()));
    let svc = service(&o);
    let milvus = svc.milvus().await.unwrap();
    let id = milvus
        .describe_collection("default", &broken)
        .await
        .unwrap()
        .collection_id;
    // its binlogs disappear from Milvus' storage (moved aside, put back below)
    let root = std::path::PathBuf::from(env("MILVAULT_TEST_MILVUS_ROOT"));
    let logs = root.join("insert_log").join(id.to_string());
    let aside = dir.with_extension("aside");
    std::fs::rename(&logs, &aside).unwrap();

    let name = unique("pipe");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into(), broken.clone()],
        ..Default::default()
    };
    let (progress, handle) = Progress::new(JobKind::Backup, &name);
    let result = svc.create_backup(req, &progress).await;
    std::fs::rename(&aside, &logs).unwrap();
    milvus.drop_collection("default", &broken).await.unwrap();
    let err = result.unwrap_err();
    assert!(err.to_string().contains("no binlogs"), "{err}");
    let snap = handle.snapshot();
    assert_eq!(snap.state, JobState::Failed);
    let said = |what: &str| snap.log.iter().any(|l| l.message.contains(what));
    assert!(
        said("of default.demo_products to") && said("default.demo_products: copied"),
        "the first collection was copied before the second failed: {:?}",
        snap.log
    );
    assert!(
        !dir.join(&name).exists(),
        "the incomplete backup was removed"
    );
}

#[tokio::test]
async fn corrupt_or_missing_metadata_is_reported_and_restore_refuses() {
    let dir = work_dir(&unique("corrupt"));
    let svc = service(&local_overrides(&dir));
    let name = unique("c");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["shop.reviews".into()],
        ..Default::default()
    };
    svc.create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    std::fs::write(dir.join(&name).join("meta/full_meta.json"), b"{not json").unwrap();
    let err = svc.get_backup(&name).await.unwrap_err();
    assert!(
        matches!(err, Error::CorruptMetadata { ref file, .. } if file == "full_meta.json"),
        "{err}"
    );
    let req = RestoreRequest {
        name: name.clone(),
        suffix: "_never".into(),
        ..Default::default()
    };
    assert!(svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .is_err());
    assert!(!svc
        .milvus()
        .await
        .unwrap()
        .has_collection("shop", "reviews_never")
        .await
        .unwrap());

    // a backup without its completion marker is not listed, and says so when asked for
    std::fs::remove_file(dir.join(&name).join("meta/backup_meta.json")).unwrap();
    assert!(svc.list_backups().await.unwrap().is_empty());
    let err = svc.get_backup(&name).await.unwrap_err().to_string();
    assert!(err.contains("never completed"), "{err}");
    let err = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::IncompleteBackupExists(_)), "{err}");
}

#[tokio::test]
async fn meta_only_backup_restores_schema_and_partitions_without_rows() {
    let dir = work_dir(&unique("meta"));
    let svc = service(&local_overrides(&dir));
    let name = unique("m");
    let req = CreateBackupRequest {
        name: name.clone(),
        collections: vec!["demo_products".into()],
        meta_only: true,
        ..Default::default()
    };
    let info = svc
        .create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
    assert_eq!(info.size, 0);
    assert!(!dir.join(&name).join("binlogs").exists());
    let target = unique("schema_only");
    let req = RestoreRequest {
        name,
        renames: vec![format!("demo_products:{target}")],
        meta_only: true,
        ..Default::default()
    };
    svc.restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    let milvus = svc.milvus().await.unwrap();
    let parts: Vec<String> = milvus
        .partitions("default", &target)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.1)
        .collect();
    assert!(
        parts.contains(&"p2024".to_string()) && parts.contains(&"p2025".to_string()),
        "{parts:?}"
    );
    assert_eq!(milvus.stored_rows("default", &target).await.unwrap(), 0);
}

/// Copies the folder `from` to `to` as a bucket tool would (every file, metadata unchanged).
fn copy_folder(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Rewrites the `name` every metadata file of backup folder `dir` records.
fn rename_in_metadata(dir: &std::path::Path, recorded: &str) {
    for file in ["backup_meta.json", "full_meta.json"] {
        let path = dir.join("meta").join(file);
        let mut json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        json["name"] = recorded.into();
        std::fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    }
}

/// A backup is the folder it lives in: a copy made with a bucket tool (its metadata still names
/// the original) is listed, verified and restored under its own name from its own files, also
/// once the original is gone; a folder whose metadata names `../elsewhere` is read from itself.
#[tokio::test]
async fn a_copied_backup_folder_is_a_backup_of_its_own() {
    let dir = work_dir(&unique("copied"));
    let svc = service(&local_overrides(&dir));
    let original = unique("orig");
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: original.clone(),
                collections: vec!["shop.reviews".into()],
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let copy = unique("copy");
    copy_folder(&dir.join(&original), &dir.join(&copy));
    let crafted = unique("crafted");
    copy_folder(&dir.join(&original), &dir.join(&crafted));
    rename_in_metadata(&dir.join(&crafted), &format!("../{original}"));

    let mut names: Vec<String> = svc
        .list_backups()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    names.sort();
    let mut expected = vec![original.clone(), copy.clone(), crafted.clone()];
    expected.sort();
    assert_eq!(
        names, expected,
        "each folder listed once, under its own name"
    );
    assert_eq!(svc.get_backup(&copy).await.unwrap().name, copy);

    // the original goes: the copies still hold everything they need
    svc.delete_backup(&original).await.unwrap();
    assert!(!dir.join(&original).exists());
    let rows = info.collection_backups[0].rows();
    assert!(rows > 0);
    for (n, name) in [&copy, &crafted].into_iter().enumerate() {
        let report = svc
            .verify(name, &Progress::detached(JobKind::Verify))
            .await
            .unwrap();
        assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
        let suffix = format!("_cp{n}_{}", &name[name.len() - 8..]);
        let report = svc
            .restore(
                RestoreRequest {
                    name: name.clone(),
                    suffix: suffix.clone(),
                    ..Default::default()
                },
                &Progress::detached(JobKind::Restore),
            )
            .await
            .unwrap_or_else(|e| panic!("restoring {name}: {e}"));
        assert_eq!(report.collections.len(), 1, "{report:?}");
        let target = format!("reviews{suffix}");
        assert_eq!(assert_same_data("shop", "reviews", "shop", &target), rows);
        svc.milvus()
            .await
            .unwrap()
            .drop_collection("shop", &target)
            .await
            .unwrap();
    }
}

/// A backup of a collection with a time to live is restored without it (the rows keep the times
/// they were written, so the TTL would expire them on arrival), every row comes back, and the
/// job says what it left off.
#[tokio::test]
async fn a_collections_ttl_does_not_expire_the_restored_rows() {
    let dir = work_dir(&unique("ttl"));
    let svc = service(&local_overrides(&dir));
    let name = unique("ttl");
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
    // as if the collection had a one-second TTL when it was backed up
    let meta = dir.join(&name).join("meta/full_meta.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    json["collection_backups"][0]["properties"] =
        serde_json::json!([{"key": "collection.ttl.seconds", "value": "1"}]);
    std::fs::write(&meta, serde_json::to_vec(&json).unwrap()).unwrap();
    let (progress, handle) = Progress::new(JobKind::Restore, &name);
    let report = svc
        .restore(
            RestoreRequest {
                name: name.clone(),
                suffix: "_ttl".into(),
                ..Default::default()
            },
            &progress,
        )
        .await
        .unwrap();
    assert_eq!(report.collections.len(), 1);
    let log: Vec<String> = handle
        .snapshot()
        .log
        .into_iter()
        .map(|l| l.message)
        .collect();
    assert!(
        log.iter()
            .any(|l| l.contains("time to live") && l.contains("collection.ttl.seconds=1")),
        "{log:?}"
    );
    // well past the TTL, every row is still there
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rows = info.collection_backups[0].rows();
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", "reviews_ttl"),
        rows
    );
    let milvus = svc.milvus().await.unwrap();
    let created = milvus
        .describe_collection("shop", "reviews_ttl")
        .await
        .unwrap();
    assert!(
        created
            .properties
            .iter()
            .all(|kv| kv.key != "collection.ttl.seconds"),
        "{:?}",
        created.properties
    );
    milvus.drop_collection("shop", "reviews_ttl").await.unwrap();
}

/// milvus-backup's `--filter`: whole databases and single collections in one flag.
#[tokio::test]
async fn create_takes_milvus_backups_filter() {
    let dir = work_dir(&unique("filter"));
    let name = unique("flt");
    let (code, out, err) = run(
        &dir,
        &["create", "-n", &name, "--filter", "shop.*,demo_products"],
    );
    assert_eq!(code, 0, "{out} {err}");
    let svc = service(&local_overrides(&dir));
    let info = svc.get_backup(&name).await.unwrap();
    let got: Vec<String> = info
        .collection_backups
        .iter()
        .map(|c| c.qualified_name())
        .collect();
    // (other tests add collections to `shop` meanwhile: what it holds at the backup's time)
    assert!(got.contains(&"shop.reviews".to_string()), "{got:?}");
    assert!(
        got.contains(&"default.demo_products".to_string()),
        "{got:?}"
    );
    assert!(
        got.iter()
            .all(|c| c.starts_with("shop.") || c == "default.demo_products"),
        "{got:?}"
    );
    // a database without collections names nothing to back up
    let (code, _, err) = run(&dir, &["create", "-n", &unique("flt"), "--filter", "shop."]);
    assert_ne!(code, 0);
    assert!(err.contains("shop.*"), "{err}");
}

/// The data files (binlogs) of a backup folder, in path order.
fn binlog_files(backup: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = walk(&backup.join("binlogs"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// A drill restores a backup into a scratch database of its own, proves it (rows counted after
/// loading, sampled keys queried back, sampled vectors finding their own rows), drops the
/// scratch database and records the report as the backup's last drill. A collection the backup
/// has no index for (shop.reviews) gets an exact index in the scratch copy and is drilled too.
#[tokio::test]
async fn a_drill_proves_a_backup_restores_and_leaves_nothing_behind() {
    let dir = work_dir(&unique("drill"));
    let svc = service(&local_overrides(&dir));
    let name = unique("d");
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                collections: vec!["demo_products".into(), "shop.reviews".into()],
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let (code, out, err) = run(&dir, &["--json", "drill", "-n", &name, "--sample", "50"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["passed"], true, "{report}");
    let scratch = report["database"].as_str().unwrap().to_string();
    assert!(scratch.starts_with("milvault_drill_"), "{scratch}");
    let colls = report["collections"].as_array().unwrap();
    assert_eq!(colls.len(), 2, "{report}");
    for c in colls {
        let source = c["source"].as_str().unwrap();
        let rows = info
            .collection_backups
            .iter()
            .find(|b| b.qualified_name() == source)
            .unwrap()
            .rows();
        assert!(
            c["rows"]
                .as_str()
                .unwrap()
                .contains(&format!("count(*) after load = {rows}")),
            "{c}"
        );
        assert_eq!(c["keys_sampled"], 50, "{c}");
        assert_eq!(c["keys_found"], 50, "{c}");
        assert_eq!(c["vectors_searched"], 50, "{c}");
        let field = if source == "shop.reviews" {
            "vec"
        } else {
            "embedding"
        };
        assert_eq!(c["vector_field"], field, "{c}");
        assert!(c["recall"].as_f64().unwrap() >= 0.95, "{c}");
        assert!(
            c["target"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{scratch}.")),
            "{c}"
        );
    }
    // nothing left: the scratch database is gone, the source collections are as they were
    let milvus = svc.milvus().await.unwrap();
    assert!(!milvus.list_databases().await.unwrap().contains(&scratch));
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", "reviews"),
        info.collection_backups
            .iter()
            .find(|b| b.collection_name == "reviews")
            .unwrap()
            .rows()
    );
    // the report is the backup's last drill, and the job is a drill
    let db = milvault::db::Db::open(&job_db(&dir)).unwrap();
    let last = db
        .last_drill(&name)
        .unwrap()
        .expect("the drill is recorded");
    assert!(last.passed);
    assert_eq!(last.database, scratch);
    assert!(db.last_passed_drill().unwrap().is_some());
}

/// A drill of a damaged backup fails: the restore refuses the damaged file, the report says so
/// and is recorded, the CLI exits non-zero, and the scratch database is gone.
#[tokio::test]
async fn a_drill_of_a_damaged_backup_fails_and_is_recorded() {
    let dir = work_dir(&unique("drillbad"));
    let svc = service(&local_overrides(&dir));
    let name = unique("bad");
    svc.create_backup(
        CreateBackupRequest {
            name: name.clone(),
            collections: vec!["shop.reviews".into()],
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap();
    // bit rot: one byte of one binlog changed, the size kept
    let files = binlog_files(&dir.join(&name));
    let victim = files.last().expect("the backup has binlogs");
    let mut bytes = std::fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(victim, &bytes).unwrap();

    // a webhook receiver: the failed drill is told to it before the CLI exits
    let (url, got) = webhook_receiver().await;
    let hook = format!("notifications.webhooks=[{{name: t, url: \"{url}\", secret: s3cret}}]");
    let (code, out, err) = {
        let dir = dir.clone();
        let name = name.clone();
        tokio::task::spawn_blocking(move || {
            run(&dir, &["--set", &hook, "--json", "drill", "-n", &name])
        })
        .await
        .unwrap()
    };
    assert_eq!(code, 1, "{out}{err}");
    let report: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["passed"], false, "{report}");
    let told = got.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "{told:?}");
    let event: serde_json::Value = serde_json::from_str(&told[0]).unwrap();
    assert_eq!(event["event"], "drill.failed", "{event}");
    assert_eq!(event["backup"], name.as_str(), "{event}");
    let failure = report["failure"].as_str().unwrap();
    assert!(failure.contains("the restore failed"), "{failure}");
    assert!(
        failure.contains("damaged") || failure.contains("differ"),
        "{failure}"
    );
    let scratch = report["database"].as_str().unwrap();
    let milvus = svc.milvus().await.unwrap();
    assert!(!milvus
        .list_databases()
        .await
        .unwrap()
        .iter()
        .any(|d| d == scratch));
    let db = milvault::db::Db::open(&job_db(&dir)).unwrap();
    let last = db
        .last_drill(&name)
        .unwrap()
        .expect("a failed drill is recorded");
    assert!(!last.passed);
}

/// milvus-backup's restore `--filter` keeps the collections whose NEW names it matches (after
/// the suffix): only they are created, with all their rows.
#[test]
fn restore_filter_matches_the_names_collections_are_restored_as() {
    let dir = work_dir(&unique("filter"));
    let name = unique("flt");
    let (code, out, err) = run(
        &dir,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let suffix = format!("_{}", unique("f"));
    // the backup's name (shop.reviews) does not match: the filter names what is created
    let (code, _, err) = run(
        &dir,
        &[
            "restore",
            "-n",
            &name,
            "-s",
            &suffix,
            "--filter",
            "shop.reviews",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("after renames"), "{err}");
    let (code, out, err) = run(
        &dir,
        &[
            "--json",
            "restore",
            "-n",
            &name,
            "-s",
            &suffix,
            "--filter",
            &format!("shop.reviews{suffix}"),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let targets: Vec<&str> = report["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, vec![format!("shop.reviews{suffix}")], "{out}");
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
        1000
    );
}

/// `--use_v2_restore` (merged import jobs, Milvus 2.4+ only) changes nothing on Milvus 2.3.5:
/// the restore sends the same gRPC Imports and every row comes back; the job size is kept in
/// the job's recorded request (what a resume reads).
#[test]
fn merged_import_jobs_asked_for_on_2_3_restore_as_before() {
    let dir = work_dir(&unique("merged"));
    let name = unique("mrg");
    let (code, out, err) = run(&dir, &["create", "-n", &name, "-c", "demo_products"]);
    assert_eq!(code, 0, "{out}{err}");
    let suffix = format!("_{}", unique("m"));
    let (code, out, err) = run(
        &dir,
        &[
            "restore",
            "-n",
            &name,
            "-s",
            &suffix,
            "--use_v2_restore",
            "--max_segments_per_import_job",
            "2",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2700 rows, as the backup recorded"), "{out}");
    assert_eq!(
        assert_same_data(
            "default",
            "demo_products",
            "default",
            &format!("demo_products{suffix}")
        ),
        2700
    );
    let store = milvault::db::Db::open(&job_db(&dir)).unwrap();
    let restore = store
        .list(10)
        .unwrap()
        .into_iter()
        .find(|j| j.kind == JobKind::Restore)
        .unwrap();
    let request = &restore.restore.as_ref().unwrap().request;
    assert_eq!(request["use_v2_restore"], true, "{request}");
    assert_eq!(request["max_segments_per_import_job"], 2, "{request}");
    let (code, _, err) = run(
        &dir,
        &["restore", "-n", &name, "--max_segments_per_import_job", "0"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("max_segments_per_import_job"), "{err}");
}

/// A restore and a drill sent to a named Milvus target (`targets.NAME` in the configuration)
/// run there, not on the configured Milvus: here the configured one is unreachable (port 1) and
/// the target is the test's real Milvus.
#[test]
fn restore_and_drill_into_a_named_milvus_target() {
    let dir = work_dir(&unique("target"));
    let name = unique("tgt");
    let (code, out, err) = run(&dir, &["create", "-n", &name, "-c", "demo_products"]);
    assert_eq!(code, 0, "{out}{err}");
    let root = env("MILVAULT_TEST_MILVUS_ROOT");
    let elsewhere = [
        "--set".to_string(),
        "milvus.port=1".to_string(),
        "--set".to_string(),
        "targets.second.milvus.address=127.0.0.1".to_string(),
        "--set".to_string(),
        "targets.second.milvus.port=19530".to_string(),
        "--set".to_string(),
        "targets.second.minio.storageType=local".to_string(),
        "--set".to_string(),
        format!("targets.second.minio.rootPath={root}"),
    ];
    let with = |args: &[&str]| {
        let mut all: Vec<&str> = elsewhere.iter().map(String::as_str).collect();
        all.extend_from_slice(args);
        run(&dir, &all)
    };
    // the configured Milvus does not answer: a plain restore fails before creating anything
    let (code, _, err) = with(&["restore", "-n", &name, "-s", "_nowhere"]);
    assert_ne!(code, 0);
    assert!(err.contains(":1"), "{err}");
    let (code, _, err) = with(&["restore", "-n", &name, "-s", "_x", "--milvus", "third"]);
    assert_ne!(code, 0);
    assert!(err.contains("third") && err.contains("second"), "{err}");
    // the target does, and every row arrives there
    let (code, out, err) = with(&["restore", "-n", &name, "-s", "_tgt", "--milvus", "second"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2700 rows, as the backup recorded"), "{out}");
    assert_eq!(
        assert_same_data("default", "demo_products", "default", "demo_products_tgt"),
        2700
    );
    let (code, out, err) = with(&["--json", "drill", "-n", &name, "--milvus", "second"]);
    assert_eq!(code, 0, "{out}{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], true, "{out}");
    assert_eq!(report["milvus"], "second (127.0.0.1:19530)", "{out}");
    // `check` reports the target beside the (unreachable) configured Milvus
    let (code, out, err) = with(&["check"]);
    assert_ne!(code, 0, "the configured Milvus is down: {out}{err}");
    let line = out
        .lines()
        .chain(err.lines())
        .find(|l| l.contains("target second"))
        .unwrap_or_else(|| panic!("no target line: {out}{err}"))
        .to_string();
    assert!(
        line.contains("127.0.0.1:19530") && line.contains("v2.3"),
        "{line}"
    );
}

/// A drill cut short (cancelled while its restore runs) ends without a passed report, drops its
/// scratch database (nothing left behind) and is told to the webhooks as `drill.failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_cut_short_leaves_nothing_behind_and_is_told() {
    let (url, got) = webhook_receiver().await;
    let dir = work_dir(&unique("drillcut"));
    let mut overrides = local_overrides(&dir);
    overrides.push((
        "notifications.webhooks",
        format!("[{{name: t, url: \"{url}\", secret: s3cret}}]"),
    ));
    let svc = service(&overrides);
    let name = unique("cut");
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
    let registry = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::in_memory().unwrap(),
    );
    let job = registry
        .start_drill(milvault::engine::commands::drill::DrillRequest {
            name: name.clone(),
            ..Default::default()
        })
        .unwrap();
    // the scratch database is named in the log once the restore starts; cut the drill short
    // once the restore creates its first collection there (the database exists: there is
    // something to clean up)
    let handle = registry.watch(&job.id).expect("the drill runs here");
    let deadline = Instant::now() + Duration::from_secs(120);
    let scratch = loop {
        let s = handle.snapshot();
        let at = s
            .log
            .iter()
            .position(|l| l.message.contains("into the scratch database"));
        let creating = s
            .log
            .iter()
            .any(|l| l.message.starts_with("creating milvault_drill_"));
        if let Some(at) = at.filter(|_| creating) {
            let db = s.log[at]
                .message
                .split_whitespace()
                .find(|w| w.starts_with("milvault_drill_"))
                .expect("the scratch database is named")
                .to_string();
            break db;
        }
        assert_eq!(s.state, JobState::Running, "{s:?}");
        assert!(
            Instant::now() < deadline,
            "the drill never started restoring: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    registry.cancel(&job.id).unwrap();
    let end = registry.wait_ended(&job.id).await.unwrap().unwrap();
    assert_ne!(end.state, JobState::Succeeded, "{end:?}");
    assert!(registry
        .store()
        .last_drill(&name)
        .unwrap()
        .is_none_or(|r| !r.passed));
    let milvus = svc.milvus().await.unwrap();
    assert!(
        !milvus.list_databases().await.unwrap().contains(&scratch),
        "{scratch} left behind"
    );
    assert!(registry.settled(Duration::from_secs(30)).await);
    let told = got.lock().unwrap().clone();
    assert_eq!(told.len(), 1, "{told:?}");
    let event: serde_json::Value = serde_json::from_str(&told[0]).unwrap();
    assert_eq!(event["event"], "drill.failed", "{event}");
    assert_eq!(event["backup"], name.as_str(), "{event}");
}
