//! Issue 15 (terabyte collections) against a real Milvus 2.3.5 on SeaweedFS S3: server-side copy
//! across buckets, the streamed path, cancel, incremental backups and resume.

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    engine::copy::{copy_mode, CopyMode},
    milvus::ImportState,
    progress::{JobKind, Progress},
};

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

/// Makes sure `default.NAME` exists with `rows` rows of `dim` floats (see seed_big.py); the live
/// row count.
fn seed(name: &str, rows: u64, dim: u32, extra: &[&str]) -> i64 {
    let out = std::process::Command::new(env("MILVAULT_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/seed_big.py"
        ))
        .args([name, &rows.to_string(), &dim.to_string()])
        .args(extra)
        .output()
        .expect("run seed_big.py");
    assert!(
        out.status.success(),
        "seed_big.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    v["rows"].as_i64().unwrap()
}

/// Compares two collections of seed_big.py row for row, all rows; the rows compared.
fn same_rows(src: &str, dst: &str) -> i64 {
    let out = std::process::Command::new(env("MILVAULT_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/compare_big.py"
        ))
        .args([src, dst])
        .output()
        .expect("run compare_big.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{src} and {dst} differ: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    v["restored_rows"].as_i64().unwrap()
}

fn registry(
    svc: std::sync::Arc<milvault::Milvault>,
) -> std::sync::Arc<milvault::jobs::registry::JobRegistry> {
    milvault::jobs::registry::JobRegistry::new(svc, milvault::db::Db::in_memory().unwrap())
}

/// Waits until `f` holds for the job's state, polling.
async fn wait_until(
    reg: &milvault::jobs::registry::JobRegistry,
    id: &str,
    f: impl Fn(&milvault::progress::JobSnapshot) -> bool,
) -> milvault::progress::JobSnapshot {
    for _ in 0..2400 {
        let s = reg.get(id).unwrap().unwrap();
        if f(&s) {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("job {id} never got there: {:?}", reg.get(id));
}

#[tokio::test]
async fn a_backup_cancelled_halfway_leaves_nothing() {
    let coll = "sc_cancel_big";
    seed(coll, 120_000, 256, &[]);
    let root = unique("sc_cb");
    let mut o = s3_overrides("milvault", &root);
    // streamed, so that the copy takes long enough to be caught halfway
    o.push(("minio.backupAddress", "localhost".into()));
    o.push(("backup.parallelism.copydata", "2".into()));
    let svc = service(&o);
    let reg = registry(svc.clone());
    let name = unique("sc_cb");
    let job = reg
        .start_backup(CreateBackupRequest {
            name: name.clone(),
            collections: vec![coll.into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let halfway = wait_until(&reg, &job.id, |s| {
        s.bytes_done > 0 || s.state != milvault::progress::JobState::Running
    })
    .await;
    assert_eq!(
        halfway.state,
        milvault::progress::JobState::Running,
        "{halfway:?}"
    );
    assert!(halfway.bytes_done < halfway.bytes_total, "{halfway:?}");
    reg.cancel(&job.id).unwrap();
    let end = reg.wait_ended(&job.id).await.unwrap().unwrap();
    assert_eq!(
        end.state,
        milvault::progress::JobState::Cancelled,
        "{end:?}"
    );
    assert!(
        end.bytes_done < end.bytes_total,
        "it stopped before the end: {end:?}"
    );
    // nothing is visible and nothing is stored under the name
    assert!(!svc.backup_storage().any_under(&name).await.unwrap());
    assert!(svc
        .list_backups()
        .await
        .unwrap()
        .iter()
        .all(|b| b.name != name));
    // a second cancel is refused: the job has ended
    assert!(reg.cancel(&job.id).is_err());
}

#[tokio::test]
async fn a_restore_cancelled_leaves_the_target_database_as_it_was() {
    let root = unique("sc_cr");
    let svc = service(&s3_overrides("milvault", &root));
    let name = unique("sc_cr");
    svc.create_backup(
        CreateBackupRequest {
            name: name.clone(),
            collections: vec!["demo_products".into(), "dyn_items".into()],
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap();
    let milvus = svc.milvus().await.unwrap();
    let before = {
        let mut v = milvus.list_collections("default").await.unwrap();
        v.sort();
        v
    };
    let reg = registry(svc.clone());
    let suffix = format!("_{}", &name[6..]);
    let job = reg
        .start_restore(RestoreRequest {
            name: name.clone(),
            suffix: suffix.clone(),
            ..Default::default()
        })
        .unwrap();
    // cancel once the first collection's imports were sent: they are waited for, then the
    // collections this restore created are dropped
    wait_until(&reg, &job.id, |s| {
        s.step.starts_with("importing") || s.state != milvault::progress::JobState::Running
    })
    .await;
    reg.cancel(&job.id).unwrap();
    let end = reg.wait_ended(&job.id).await.unwrap().unwrap();
    assert_eq!(
        end.state,
        milvault::progress::JobState::Cancelled,
        "{end:?}"
    );
    // (other tests create collections in the same database meanwhile: only this restore's
    // targets are looked for)
    let after = milvus.list_collections("default").await.unwrap();
    let left: Vec<&String> = after.iter().filter(|c| c.ends_with(&suffix)).collect();
    assert!(
        left.is_empty(),
        "the restore left collections behind: {left:?}"
    );
    assert!(
        before.iter().all(|c| after.contains(c)),
        "{before:?} -> {after:?}"
    );
    for c in ["demo_products", "dyn_items"] {
        assert!(!milvus
            .has_collection("default", &format!("{c}{suffix}"))
            .await
            .unwrap());
    }
    assert!(
        end.log
            .iter()
            .any(|l| l.message.contains("created by this restore")),
        "{:?}",
        end.log
    );
}

#[tokio::test]
async fn an_incremental_backup_reads_only_new_files_and_stands_alone() {
    let coll = unique("sc_inc");
    assert_eq!(seed(&coll, 40_000, 64, &[]), 40_000);
    let root = unique("sc_inc");
    let svc = service(&s3_overrides("milvault", &root));
    let full = unique("sc_full");
    let make = |name: String, incremental| {
        let svc = svc.clone();
        let coll = coll.clone();
        async move {
            svc.create_backup(
                CreateBackupRequest {
                    name,
                    collections: vec![coll],
                    incremental,
                    ..Default::default()
                },
                &Progress::detached(JobKind::Backup),
            )
            .await
            .unwrap()
        }
    };
    let f = make(full.clone(), false).await;
    assert!(f.milvault.as_ref().unwrap().incremental_bases.is_empty());
    // new rows and deletes: new segments and new delta logs, the sealed insert logs unchanged
    let live = seed(&coll, 40_000, 64, &["--append", "2000", "--delete", "500"]);
    assert_eq!(live, 41_500);
    let inc = unique("sc_inc");
    let i = make(inc.clone(), true).await;
    let m = i.milvault.clone().unwrap();
    assert_eq!(m.incremental_bases, vec![full.clone()]);
    assert!(m.files_from_base > 0, "{m:?}");
    let from_milvus = i.size as u64 - m.bytes_from_base;
    eprintln!(
        "incremental: {} of {} bytes from Milvus' bucket, {} files from the base",
        from_milvus, i.size, m.files_from_base
    );
    assert!(
        from_milvus * 10 < i.size as u64,
        "read {from_milvus} of {} bytes from Milvus' bucket",
        i.size
    );
    // bit rot in the newest base (one byte of each insert log, same size): the next incremental
    // takes none of those files from it but reads them from Milvus, so the damage stays there
    let storage = svc.backup_storage();
    let rotten: Vec<String> = manifest_of(&svc, &inc)
        .await
        .into_iter()
        .filter(|(p, size, _)| p.contains("insert_log") && *size > 0)
        .map(|(p, _, _)| p)
        .collect();
    assert!(!rotten.is_empty());
    // flips one byte in the middle of each of those files of `inc` (twice: as it was)
    let flip = || async {
        for rel in &rotten {
            let path = format!("{inc}/{rel}");
            let mut bytes = storage.read_opt(&path).await.unwrap().unwrap().to_vec();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
            storage.write(&path, bytes.into()).await.unwrap();
        }
    };
    flip().await;
    let after_rot = unique("sc_inc2");
    let i2 = make(after_rot.clone(), true).await;
    let m2 = i2.milvault.clone().unwrap();
    assert_eq!(m2.incremental_bases, vec![inc.clone()]);
    let report = svc
        .verify(&after_rot, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let milvus_files = svc.milvus_storage().unwrap();
    let mut compared = 0;
    for (rel, _, _) in manifest_of(&svc, &after_rot).await {
        if !rotten.contains(&rel) {
            continue;
        }
        let ours = storage
            .read_opt(&format!("{after_rot}/{rel}"))
            .await
            .unwrap()
            .unwrap();
        let theirs = milvus_files
            .read_opt(rel.strip_prefix("binlogs/").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(
            ours == theirs,
            "{rel}: the base's damaged copy was taken over"
        );
        compared += 1;
    }
    assert!(
        compared > 0,
        "the new backup holds the files that rotted in its base"
    );
    let base_files = manifest_of(&svc, &inc).await.len();
    assert!(
        m2.files_from_base as usize <= base_files - rotten.len(),
        "{m2:?}: {} of the base's {base_files} files had rotted",
        rotten.len()
    );
    svc.delete_backup(&after_rot).await.unwrap();
    flip().await;

    // every file is the incremental backup's own: the full one can go
    svc.delete_backup(&full).await.unwrap();
    let report = svc
        .verify(&inc, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        report.files_checked,
        binlog_bytes(&svc, &inc).await.0 as u64
    );
    let target = unique("sc_incr");
    let r = svc
        .restore(
            RestoreRequest {
                name: inc,
                renames: vec![format!("{coll}:{target}")],
                ..Default::default()
            },
            &Progress::detached(JobKind::Restore),
        )
        .await
        .unwrap();
    assert_eq!(r.collections.len(), 1);
    assert_eq!(same_rows(&coll, &target), 41_500);
}

/// A manifest's entries by path inside the backup (the backup's own name left out).
async fn manifest_of(svc: &milvault::Milvault, name: &str) -> Vec<(String, u64, String)> {
    let m = milvault::engine::integrity::read_manifest(svc.backup_storage(), name)
        .await
        .unwrap()
        .expect("a manifest");
    m.files
        .into_iter()
        .map(|(k, v)| (k, v.size, v.blake3))
        .collect()
}

#[tokio::test]
async fn a_backup_killed_halfway_resumes_to_the_same_manifest() {
    let coll = "sc_resume_big";
    seed(coll, 120_000, 256, &[]);
    let root = unique("sc_rs");
    let mut o = s3_overrides("milvault", &root);
    // streamed and two files at a time, so that a kill lands halfway
    o.push(("minio.backupAddress", "localhost".into()));
    o.push(("backup.parallelism.copydata", "2".into()));
    let svc = service(&o);
    let name = unique("sc_rs");
    let db = work_dir("scale-resume").join(format!("{name}.sqlite"));
    let args = cli_args(&db, &o);
    let mut child = spawn_cli(&args, &["create", "-n", &name, "-c", coll]);
    // kill -9 once some binlogs are there (objects appear whole: the small ones first)
    let binlogs = format!("{name}/binlogs");
    let mut before_kill = (0, 0);
    for _ in 0..1200 {
        before_kill = binlog_bytes(&svc, &name).await;
        if before_kill.0 >= 2 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the backup ended before it was killed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let after_kill = binlog_bytes(&svc, &name).await;
    assert!(after_kill.0 >= 2, "{after_kill:?} {before_kill:?}");
    // interrupted: not a backup, but resumable
    assert!(svc
        .list_backups()
        .await
        .unwrap()
        .iter()
        .all(|b| b.name != name));
    assert!(svc.backup_storage().any_under(&binlogs).await.unwrap());
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                resume: true,
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    let m = info.milvault.clone().unwrap();
    assert!(m.bytes_resumed > 0, "{m:?}");
    assert!(m.bytes_resumed <= after_kill.1);
    eprintln!(
        "resume: {} files ({} bytes) there after the kill, {} bytes kept, {} of {} bytes copied again",
        after_kill.0,
        after_kill.1,
        m.bytes_resumed,
        info.size as u64 - m.bytes_resumed,
        info.size
    );
    assert!(svc
        .backup_storage()
        .size_of(&format!("{name}/meta/milvault_resume.json"))
        .await
        .unwrap()
        .is_none());
    // an uninterrupted backup of the same (unchanged) collection has the same manifest
    let again = unique("sc_rs");
    svc.create_backup(
        CreateBackupRequest {
            name: again.clone(),
            collections: vec![coll.into()],
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap();
    assert_eq!(
        manifest_of(&svc, &name).await,
        manifest_of(&svc, &again).await
    );
    let report = svc
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// `milvault` arguments for the job database `db` and the settings `o`.
fn cli_args(db: &std::path::Path, o: &[(&str, String)]) -> Vec<String> {
    let mut args: Vec<String> = vec!["--job-db".into(), db.to_string_lossy().into_owned()];
    for (k, v) in o {
        args.push("--set".into());
        args.push(format!("{k}={v}"));
    }
    args
}

/// Runs `milvault ARGS MORE` to its end: exit code, stdout, stderr.
fn cli_with(args: &[String], more: &[&str]) -> (i32, String, String) {
    let all: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .chain(more.iter().copied())
        .collect();
    cli(&all)
}

/// Starts `milvault ARGS MORE` in the background, its output discarded.
fn spawn_cli(args: &[String], more: &[&str]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_milvault"))
        .args(args)
        .args(more)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// Kills (kill -9) the restore running in `child` as soon as the newest job of `db` records
/// what `ready` waits for, and returns that job as it was then; `None` when it never did.
/// Panics when the restore ends before.
async fn kill_restore_when(
    child: &mut std::process::Child,
    db: &std::path::Path,
    ready: impl Fn(&milvault::progress::RestoreLedger) -> bool,
) -> Option<milvault::progress::JobSnapshot> {
    let mut job = None;
    // generous: on a loaded 2-core machine one collection's restore alone can take minutes
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while std::time::Instant::now() < deadline {
        if let Some(j) = newest_job(db) {
            if j.restore.as_ref().is_some_and(&ready) {
                job = Some(j);
                break;
            }
        }
        if child.try_wait().unwrap().is_some() {
            // say how it ended: its state, error and last log lines, as its job recorded them
            let last = newest_job(db).map(|j| {
                let tail: Vec<String> = j
                    .log
                    .iter()
                    .rev()
                    .take(8)
                    .map(|l| l.message.clone())
                    .collect();
                format!(
                    "{:?} {:?} {:?}; ledger {:?}",
                    j.state, j.error, tail, j.restore
                )
            });
            panic!("the restore ended before it was killed: {last:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    job
}

/// A backup of `collections` named `name`.
async fn backup_of(
    svc: &milvault::Milvault,
    name: &str,
    collections: &[&str],
) -> milvault::format::BackupInfo {
    svc.create_backup(
        CreateBackupRequest {
            name: name.to_string(),
            collections: collections.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
    .unwrap()
}

/// The newest job of a job database, read as another process would.
fn newest_job(db: &std::path::Path) -> Option<milvault::progress::JobSnapshot> {
    milvault::db::Db::open(db)
        .ok()?
        .list(1)
        .ok()?
        .into_iter()
        .next()
}

/// A restore killed (kill -9) after it finished one collection and while it filled the other is
/// resumed: the finished collection is kept (the same collection, by id), the unfinished one is
/// dropped and restored again, the staged files go. A resume that finds someone else's
/// collection under a target's name refuses it and leaves everything as it is.
#[tokio::test]
async fn a_restore_killed_halfway_resumes_keeping_what_it_finished() {
    let root = unique("sc_rr");
    let o = s3_overrides("milvault", &root);
    let svc = service(&o);
    let name = unique("sc_rr");
    backup_of(&svc, &name, &["demo_products", "shop.reviews"]).await;
    let suffix = format!("_{}", unique("rr").replace('-', "_"));
    let db = work_dir("scale-restore-resume").join(format!("{name}.sqlite"));
    let args = cli_args(&db, &o);
    let mut child = spawn_cli(&args, &["restore", "-n", &name, "-s", &suffix]);
    // kill -9 once one collection is complete and the other one is being filled
    use milvault::progress::CreatedState;
    let job = kill_restore_when(&mut child, &db, |l| {
        let has = |s| l.collections.iter().any(|c| c.state == s);
        has(CreatedState::Complete) && has(CreatedState::Filling)
    })
    .await;
    let job = job.expect("the restore got halfway");
    let ledger = job.restore.clone().unwrap();
    let kept = ledger
        .collections
        .iter()
        .find(|c| c.state == CreatedState::Complete)
        .unwrap()
        .clone();
    let unfinished = ledger
        .collections
        .iter()
        .find(|c| c.state == CreatedState::Filling)
        .unwrap()
        .clone();
    let milvus = svc.milvus().await.unwrap();
    let split = |t: &str| {
        let (d, n) = t.split_once('.').unwrap();
        (d.to_string(), n.to_string())
    };
    let (kept_db, kept_name) = split(&kept.target);
    let (left_db, left_name) = split(&unfinished.target);
    let id_of = |d: String, n: String| {
        let milvus = milvus.clone();
        async move {
            milvus
                .describe_collection(&d, &n)
                .await
                .unwrap()
                .collection_id
        }
    };
    assert_eq!(
        id_of(kept_db.clone(), kept_name.clone()).await,
        kept.collection_id.unwrap()
    );

    // someone else's collection where the unfinished one was: the resume refuses to touch it
    let info = svc.get_backup(&name).await.unwrap();
    let source = info
        .collection_backups
        .iter()
        .find(|c| {
            unfinished
                .target
                .starts_with(&format!("{}.", milvault::format::db_or_default(&c.db_name)))
        })
        .unwrap();
    // (after the imports the killed job sent have ended, as the resume itself waits for them)
    let job = newest_job(&db).unwrap();
    let sent = job
        .restore
        .clone()
        .unwrap()
        .entry(&unfinished.target)
        .unwrap()
        .tasks();
    for task in sent {
        for _ in 0..600 {
            let st = milvus.import_state(task).await.unwrap().state;
            if matches!(st, ImportState::Completed | ImportState::Failed) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    milvus.drop_collection(&left_db, &left_name).await.unwrap();
    milvus
        .create_collection(
            &left_db,
            &milvault::milvus::schema::schema_to_proto(source.schema.as_ref().unwrap(), &left_name),
            1,
            0,
            Vec::new(),
            0,
        )
        .await
        .unwrap();
    let foreign = id_of(left_db.clone(), left_name.clone()).await;
    let resume = ["restore", "--resume", job.id.as_str()];
    let (code, out, err) = cli_with(&args, &resume);
    assert_ne!(code, 0, "{out} {err}");
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(id_of(left_db.clone(), left_name.clone()).await, foreign);
    assert_eq!(
        id_of(kept_db.clone(), kept_name.clone()).await,
        kept.collection_id.unwrap()
    );

    // without it, the resume completes: the finished collection is the same one, the other comes
    // back whole
    milvus.drop_collection(&left_db, &left_name).await.unwrap();
    let (code, out, err) = cli_with(&args, &resume);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains("kept: the interrupted job restored it completely"),
        "{out}"
    );
    assert_eq!(
        id_of(kept_db.clone(), kept_name.clone()).await,
        kept.collection_id.unwrap()
    );
    for c in &info.collection_backups {
        let src_db = milvault::format::db_or_default(&c.db_name).to_string();
        let dst = format!("{}{suffix}", c.collection_name);
        assert_eq!(
            assert_same_data(&src_db, &c.collection_name, &src_db, &dst),
            c.rows()
        );
    }
    // the files the first job staged are gone with the resume that finished
    let staged = svc.milvus_storage().unwrap().with_root("milvault-restore");
    assert!(!staged.any_under(&ledger.staging).await.unwrap());
    // and a completed resume is not resumed again
    let done = newest_job(&db).unwrap();
    assert_eq!(
        done.restore.unwrap().resumes.as_deref(),
        Some(job.id.as_str())
    );
    let (code, _, err) = cli_with(&args, &["restore", "--resume", &done.id]);
    assert_ne!(code, 0);
    assert!(err.contains("nothing to resume"), "{err}");
    for c in &info.collection_backups {
        let d = milvault::format::db_or_default(&c.db_name);
        milvus
            .drop_collection(d, &format!("{}{suffix}", c.collection_name))
            .await
            .unwrap();
    }
}

/// A restore killed (kill -9) while it imports a collection's segments is resumed on the same
/// collection: the imports that landed are kept (not sent again), the rest are sent, and the
/// collection comes back row for row with the id it was created with.
#[tokio::test]
async fn a_restore_killed_while_importing_keeps_the_imports_that_landed() {
    let root = unique("sc_ri");
    let mut o = s3_overrides("milvault", &root);
    // one import in flight at a time: when the job has recorded its second import it sends no
    // other before that one ends (~2 s), so the kill lands with every import sent recorded. With
    // several in flight it may die between sending one and recording it, and the resume then
    // rightly drops and redoes the collection (what cannot be told is not kept).
    o.push(("backup.parallelism.importJob", "1".into()));
    let svc = service(&o);
    let name = unique("sc_ri");
    let info = backup_of(&svc, &name, &["demo_products"]).await;
    let segments = info.collection_backups[0].all_segments().count();
    assert!(segments >= 3, "demo_products has {segments} segments");
    let suffix = format!("_{}", unique("ri").replace('-', "_"));
    let target = format!("demo_products{suffix}");
    let db = work_dir("scale-restore-imports").join(format!("{name}.sqlite"));
    let args = cli_args(&db, &o);
    let mut child = spawn_cli(&args, &["restore", "-n", &name, "-s", &suffix]);
    // kill -9 once the second import of the collection has been sent (so the first has landed)
    use milvault::progress::CreatedState;
    let job = kill_restore_when(&mut child, &db, |l| {
        l.collections
            .iter()
            .any(|c| c.state == CreatedState::Filling && c.sent.len() >= 2)
    })
    .await;
    let job = job.expect("the restore got to its second import");
    // what the killed job recorded by the time it died
    let job = newest_job(&db).filter(|j| j.id == job.id).unwrap();
    let entry = job.restore.clone().unwrap().collections[0].clone();
    let milvus = svc.milvus().await.unwrap();
    let id_now = || async {
        milvus
            .describe_collection("default", &target)
            .await
            .unwrap()
            .collection_id
    };
    assert_eq!(id_now().await, entry.collection_id.unwrap());

    let (code, out, err) = cli_with(&args, &["restore", "--resume", &job.id]);
    assert_eq!(code, 0, "{out} {err}");
    // the same collection, filled on
    assert_eq!(id_now().await, entry.collection_id.unwrap());
    let resumed = newest_job(&db).unwrap();
    assert_eq!(
        resumed.restore.as_ref().unwrap().resumes.as_deref(),
        Some(job.id.as_str())
    );
    let line = resumed
        .log
        .iter()
        .map(|l| l.message.as_str())
        .find(|m| m.starts_with(&format!("continuing default.{target}")))
        .unwrap_or_else(|| panic!("no 'continuing' step in {:?}", resumed.log));
    // "...; N of its M imports landed and are kept"
    let number_after = |marker: &str| -> usize {
        line.split(marker)
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{line}"))
    };
    let kept = number_after("; ");
    assert!(kept >= 1 && kept <= entry.sent.len(), "{line}");
    let sent_again = resumed
        .log
        .iter()
        .filter(|l| {
            l.message.contains(" imported, ")
                && l.message.starts_with(&format!("default.{target}:"))
        })
        .count();
    let total = number_after("of its ");
    assert_eq!(sent_again, total - kept, "{:?}", resumed.log);
    let c = &info.collection_backups[0];
    assert_eq!(
        assert_same_data("default", "demo_products", "default", &target),
        c.rows()
    );
    milvus.drop_collection("default", &target).await.unwrap();
}

/// Sends `signal` (`STOP`, `CONT`) to `child`.
fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// One writer per backup, also when a process stalls: a backup whose process is stopped
/// (SIGSTOP, as a paused VM) for longer than its claim on the name lasts is resumed and finished
/// by another process; the first, running again, finds its claim gone and writes and removes
/// nothing, so the finished backup stays complete and intact.
#[tokio::test]
async fn a_stalled_writer_whose_claim_lapsed_leaves_the_backup_to_the_resume() {
    let root = unique("sc_fn");
    let o = s3_overrides("milvault", &root);
    let svc = service(&o);
    let name = unique("sc_fn");
    let db = work_dir("scale-fence").join(format!("{name}.sqlite"));
    let args = cli_args(&db, &o);
    let mut first = spawn_cli(&args, &["create", "-n", &name, "-c", "demo_products"]);
    // stopped as soon as it recorded its request (it holds the name, has written nothing else)
    let record = format!("{name}/meta/milvault_resume.json");
    let storage = svc.backup_storage();
    let mut recorded = false;
    for _ in 0..2400 {
        if storage.read_opt(&record).await.unwrap().is_some() {
            recorded = true;
            break;
        }
        assert!(
            first.try_wait().unwrap().is_none(),
            "the backup ended first"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(recorded, "the backup never started");
    signal(&first, "STOP");
    // while its claim still holds, a resume is refused
    let (code, _, err) = cli_with(&args, &["create", "--resume", &name]);
    assert_ne!(code, 0, "{err}");
    assert!(err.contains("being made"), "{err}");
    // past the claim (30 s without a heartbeat) another process resumes it and finishes it
    tokio::time::sleep(std::time::Duration::from_secs(33)).await;
    let (code, out, err) = cli_with(&args, &["create", "--resume", &name]);
    assert_eq!(code, 0, "{out} {err}");
    let finished = svc.get_backup(&name).await.unwrap();
    let manifest = manifest_of(&svc, &name).await;
    // the first runs on: it stops at its next step and leaves the backup alone
    signal(&first, "CONT");
    let out = first.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert_eq!(svc.get_backup(&name).await.unwrap().id, finished.id);
    assert_eq!(manifest_of(&svc, &name).await, manifest);
    let report = svc
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.files_checked as usize, manifest.len());
}
