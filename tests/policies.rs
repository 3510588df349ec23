//! Verification, schedules and retention on a real Milvus 2.3.5 whose binlogs live on SeaweedFS
//! S3, with backups in another bucket. Time is a fake clock where the schedule matters; the
//! backups, verifications, restores and deletions are real.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::*;
use chrono::{DateTime, TimeDelta, Utc};
use milvault::{
    auth::audit::{AuditFilter, Outcome},
    db::Db,
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    engine::integrity,
    engine::policy::retention::Retention,
    engine::policy::Policy,
    format::manifest::FileProblem,
    jobs::policies as policy,
    jobs::registry::JobRegistry,
    progress::{JobKind, JobState},
    server::scheduler::{Clock, Scheduler, SystemClock},
};

struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    fn at(t: DateTime<Utc>) -> Arc<FakeClock> {
        Arc::new(FakeClock(Mutex::new(t)))
    }
    fn advance(&self, secs: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(secs);
    }
    fn set(&self, t: DateTime<Utc>) {
        *self.0.lock().unwrap() = t;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn registry(root: &str, store: Db) -> Arc<JobRegistry> {
    JobRegistry::new(service(&s3_overrides("milvault", root)), store)
}

async fn backup(reg: &Arc<JobRegistry>, req: CreateBackupRequest) {
    let job = reg.start_backup(req).await.unwrap();
    let end = reg.wait_ended(&job.id).await.unwrap().unwrap();
    assert_eq!(end.state, JobState::Succeeded, "{:?}", end.error);
}

#[tokio::test]
async fn verify_and_restore_catch_a_corrupted_and_a_deleted_binlog() {
    let root = unique("ver");
    let reg = registry(&root, Db::in_memory().unwrap());
    let name = unique("v");
    backup(
        &reg,
        CreateBackupRequest {
            name: name.clone(),
            collections: vec!["demo_products".into()],
            ..Default::default()
        },
    )
    .await;
    assert!(
        reg.verify_and_wait(&name).await.unwrap(),
        "a fresh backup is intact"
    );
    let v = reg.store().verifications().unwrap()[&name].clone();
    assert_eq!(v.state, "intact");
    let storage = reg.service().backup_storage();
    let manifest = integrity::read_manifest(storage, &name)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v.files as usize, manifest.files.len());
    assert!(manifest.files.len() > 4);

    // damage two binlogs of different segments: flip a byte in one, delete another
    let mut paths: Vec<&String> = manifest
        .files
        .keys()
        .filter(|p| p.contains("insert_log"))
        .collect();
    paths.sort();
    let changed = paths[0].clone();
    let segment_of = |p: &str| p.split('/').take(5).collect::<Vec<_>>().join("/");
    let deleted = paths
        .iter()
        .find(|p| segment_of(p) != segment_of(&changed))
        .expect("two segments")
        .to_string();
    let full = |rel: &str| format!("{name}/{rel}");
    let mut bytes = storage
        .read_opt(&full(&changed))
        .await
        .unwrap()
        .unwrap()
        .to_vec();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    storage.write(&full(&changed), bytes.into()).await.unwrap();
    storage.delete(&full(&deleted)).await.unwrap();

    // verify names both
    assert!(!reg.verify_and_wait(&name).await.unwrap());
    let v = reg.store().verifications().unwrap()[&name].clone();
    assert_eq!(v.state, "damaged");
    assert_eq!(v.problems, {
        let mut want = vec![
            FileProblem::Changed {
                path: changed.clone(),
            },
            FileProblem::Missing {
                path: deleted.clone(),
            },
        ];
        want.sort_by(|a, b| a.path().cmp(b.path()));
        want
    });

    // the CLI says so too, and exits 1
    let sets: Vec<String> = s3_overrides("milvault", &root)
        .into_iter()
        .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
        .collect();
    let job_db = work_dir(&unique("verify-cli")).join("jobs.sqlite");
    let mut args: Vec<&str> = sets.iter().map(String::as_str).collect();
    args.extend(["--job-db", job_db.to_str().unwrap(), "verify", "-n", &name]);
    let (code, out, err) = cli(&args);
    assert_eq!(code, 1, "{out} {err}");
    assert!(
        out.contains("DAMAGED") && out.contains(&changed) && out.contains(&deleted),
        "stdout: {out}\nstderr: {err}"
    );
    let audit = milvault::db::Db::open(&job_db)
        .unwrap()
        .audit_entries(&Default::default())
        .unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(
        (audit[0].action.as_str(), audit[0].target.as_str()),
        ("backup.verify", name.as_str())
    );
    assert!(audit[0].detail.starts_with("damaged: 2 of"), "{audit:?}");
    // the portal sharing that database shows the CLI's verification and its failed job
    let cli_db = milvault::db::Db::open(&job_db).unwrap();
    assert_eq!(cli_db.verifications().unwrap()[&name].state, "damaged");
    let jobs = cli_db.list(5).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].kind, jobs[0].state),
        (JobKind::Verify, JobState::Failed)
    );

    // a restore refuses, names the files, and creates nothing
    let suffix = format!("_{}", &unique("r")[2..]);
    let job = reg
        .start_restore_checked(RestoreRequest {
            name: name.clone(),
            suffix: suffix.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let end = reg.watch(&job.id).unwrap().wait().await;
    assert_eq!(end.state, JobState::Failed);
    let error = end.error.unwrap();
    assert!(
        error.contains("is damaged") && error.contains(&changed) && error.contains(&deleted),
        "{error}"
    );
    let milvus = reg.service().milvus().await.unwrap();
    assert!(!milvus
        .has_collection("default", &format!("demo_products{suffix}"))
        .await
        .unwrap());
}

fn policy(name: &str, cron: &str, keep_last: u32) -> Policy {
    Policy {
        name: name.into(),
        collections: vec!["dyn_items".into()],
        cron: cron.into(),
        retention: Retention {
            keep_last: Some(keep_last),
            ..Default::default()
        },
        verify_after: true,
        ..Default::default()
    }
}

/// Names of the backups that `policy` made.
async fn made_by(reg: &Arc<JobRegistry>, policy: &str) -> Vec<String> {
    let mut v: Vec<String> = reg
        .service()
        .list_backups()
        .await
        .unwrap()
        .into_iter()
        .filter(|b| b.policy.as_deref() == Some(policy))
        .map(|b| b.name)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_schedule_makes_backups_and_retention_prunes_only_its_own() {
    let root = unique("sch");
    let db = work_dir(&root).join("state.sqlite");
    let reg = registry(&root, Db::open(&db).unwrap());
    // a backup by hand and one by another policy: never pruned by this policy
    let manual = unique("manual");
    backup(
        &reg,
        CreateBackupRequest {
            name: manual.clone(),
            collections: vec!["empty_coll".into()],
            ..Default::default()
        },
    )
    .await;
    let foreign = unique("foreign");
    backup(
        &reg,
        CreateBackupRequest {
            name: foreign.clone(),
            collections: vec!["empty_coll".into()],
            policy: Some("other".into()),
            ..Default::default()
        },
    )
    .await;

    policy::add(reg.store(), &policy("every2s", "*/2 * * * * *", 2)).unwrap();
    let clock = FakeClock::at(Utc::now());
    let scheduler = Scheduler::new(reg.clone(), clock.clone());
    let mut names = Vec::new();
    for _ in 0..4 {
        clock.advance(2);
        let started = scheduler.tick().await.unwrap();
        assert_eq!(started.len(), 1, "one run per due slot");
        let run = started.into_iter().next().unwrap().done.await.unwrap();
        assert_eq!(run.state, "succeeded", "{}", run.detail);
        assert!(run.detail.contains("verified intact"), "{}", run.detail);
        names.push(run.backup);
        // the same instant again: nothing more is due
        assert!(scheduler.tick().await.unwrap().is_empty());
    }
    // keep_last 2: the two newest remain
    let mut newest = names[2..].to_vec();
    newest.sort();
    assert_eq!(made_by(&reg, "every2s").await, newest);
    let runs = reg.store().policy_runs("every2s", 10).unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs
        .iter()
        .any(|r| r.detail.contains(&format!("pruned {}", names[0]))));
    let all: Vec<String> = reg
        .service()
        .list_backups()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert!(all.contains(&manual) && all.contains(&foreign), "{all:?}");

    // the server was down for a minute (30 slots): one run, not 30
    clock.advance(60);
    let started = scheduler.tick().await.unwrap();
    assert_eq!(started.len(), 1);
    started.into_iter().next().unwrap().done.await.unwrap();
    assert!(scheduler.tick().await.unwrap().is_empty());
    assert_eq!(reg.store().policy_runs("every2s", 100).unwrap().len(), 5);

    // a second server on the same database, ticking at the same time: the slot runs once
    let reg2 = registry(&root, Db::open(&db).unwrap());
    let other = Scheduler::new(reg2, clock.clone());
    clock.advance(2);
    let (a, b) = tokio::join!(scheduler.tick(), other.tick());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.len() + b.len(), 1, "exactly one server runs the slot");
    for s in a.into_iter().chain(b) {
        assert_eq!(s.done.await.unwrap().state, "succeeded");
    }
    assert_eq!(made_by(&reg, "every2s").await.len(), 2);

    // paused: nothing runs; removed: its backups stay
    policy::set_enabled(reg.store(), "every2s", false).unwrap();
    clock.advance(10);
    assert!(scheduler.tick().await.unwrap().is_empty());
    policy::remove(reg.store(), "every2s").unwrap();
    assert_eq!(made_by(&reg, "every2s").await.len(), 2);
}

#[tokio::test]
async fn the_scheduler_loop_runs_a_short_interval_on_the_real_clock() {
    let root = unique("loop");
    let reg = registry(&root, Db::in_memory().unwrap());
    let mut p = policy("loop3s", "*/3 * * * * *", 1);
    p.verify_after = false;
    p.collections = vec!["empty_coll".into()];
    policy::add(reg.store(), &p).unwrap();
    let task = Scheduler::new(reg.clone(), Arc::new(SystemClock)).spawn(Duration::from_millis(500));
    let mut succeeded = 0;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        succeeded = reg
            .store()
            .policy_runs("loop3s", 100)
            .unwrap()
            .iter()
            .filter(|r| r.state == "succeeded")
            .count();
        if succeeded >= 2 {
            break;
        }
    }
    task.abort();
    assert!(succeeded >= 2, "the loop ran {succeeded} times in 30 s");
    // let a run that was under way finish; then keep_last 1 leaves one backup
    for _ in 0..40 {
        let runs = reg.store().policy_runs("loop3s", 100).unwrap();
        if runs.iter().all(|r| r.state != "running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(made_by(&reg, "loop3s").await.len(), 1);
}

/// The system clock, remembering every time it told.
#[derive(Default)]
struct RecordingClock(Mutex<Vec<DateTime<Utc>>>);

impl Clock for RecordingClock {
    fn now(&self) -> DateTime<Utc> {
        let t = Utc::now();
        self.0.lock().unwrap().push(t);
        t
    }
}

#[tokio::test]
async fn a_fast_ticking_scheduler_on_the_real_clock_runs_each_slot_exactly_once() {
    let root = unique("slots");
    let reg = registry(&root, Db::in_memory().unwrap());
    let name = unique("every2s");
    let mut p = policy(&name, "*/2 * * * * *", 1);
    p.retention = Retention::default();
    p.verify_after = false;
    p.collections = vec!["empty_coll".into()];
    policy::add(reg.store(), &p).unwrap();
    let added = reg.store().get_policy(&name).unwrap().unwrap().updated_at;
    let clock = Arc::new(RecordingClock::default());
    let scheduler = Scheduler::new(reg.clone(), clock.clone());
    // the scheduler ticks every 200 ms (serve: every second), at whatever fraction of a second
    let mut pending = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < until {
        pending.extend(scheduler.tick().await.unwrap().into_iter().map(|s| s.done));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut runs = Vec::new();
    for done in pending {
        runs.push(done.await.unwrap());
    }
    let times = clock.0.lock().unwrap().clone();
    let gap = std::iter::once(added)
        .chain(times.iter().copied())
        .collect::<Vec<_>>()
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap();
    assert!(gap < TimeDelta::seconds(2), "a tick came {gap} late");
    // the slots that passed between adding the policy and the last tick
    let schedule = p.validate().unwrap();
    let last = *times.last().unwrap();
    let mut want = Vec::new();
    let mut t = added;
    while let Some(next) = schedule.next_after(t).filter(|n| *n <= last) {
        want.push(next);
        t = next;
    }
    assert!(want.len() >= 14, "{} slots in 30 s", want.len());
    let slots: Vec<DateTime<Utc>> = runs.iter().map(|r| r.slot).collect();
    assert_eq!(slots, want, "one run per slot, in order");
    for r in &runs {
        assert_eq!(r.state, "succeeded", "{}: {}", r.backup, r.detail);
        assert_eq!(r.backup, p.backup_name(r.slot, chrono_tz::Tz::UTC));
    }
    let recorded = reg.store().policy_runs(&name, 1000).unwrap();
    assert_eq!(recorded.len(), want.len());
    assert!(
        recorded.iter().all(|r| r.state == "succeeded"),
        "{recorded:?}"
    );
    assert_eq!(made_by(&reg, &name).await.len(), want.len());
}

#[tokio::test]
async fn a_run_whose_name_was_taken_backs_up_under_a_variant_and_prunes_only_its_own() {
    let root = unique("squat");
    let reg = registry(&root, Db::in_memory().unwrap());
    let name = unique("squat");
    let mut p = policy(&name, "* * * * *", 1);
    p.collections = vec!["empty_coll".into()];
    policy::add(reg.store(), &p).unwrap();
    let schedule = p.validate().unwrap();
    let tz = chrono_tz::Tz::UTC;
    let clock = FakeClock::at(Utc::now());
    let scheduler = Scheduler::new(reg.clone(), clock.clone());
    let empty = |name: &str| CreateBackupRequest {
        name: name.into(),
        collections: vec!["empty_coll".into()],
        ..Default::default()
    };

    // someone takes the name the next slot will use, ahead of it
    let slot1 = schedule.next_after(clock.now()).unwrap();
    let taken1 = p.backup_name(slot1, tz);
    backup(&reg, empty(&taken1)).await;
    clock.set(slot1 + TimeDelta::milliseconds(400));
    let started = scheduler.tick().await.unwrap();
    assert_eq!(started.len(), 1);
    let run1 = started.into_iter().next().unwrap().done.await.unwrap();
    assert_eq!(run1.state, "succeeded", "{}", run1.detail);
    assert!(
        run1.backup.starts_with(&format!("{taken1}_")) && run1.backup.len() == taken1.len() + 9,
        "{}",
        run1.backup
    );
    assert!(
        run1.detail
            .contains(&format!("the name {taken1} was taken"))
            && run1.detail.contains(&run1.backup)
            && run1.detail.contains("verified intact"),
        "{}",
        run1.detail
    );
    assert_eq!(made_by(&reg, &name).await, vec![run1.backup.clone()]);
    let audit = reg
        .store()
        .audit_entries(&AuditFilter {
            action: Some("backup.create".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(
        audit.iter().any(|e| e.target == run1.backup
            && e.outcome == Outcome::Ok
            && e.detail.contains(&format!("the name {taken1} was taken"))),
        "{audit:?}"
    );

    // a backup whose metadata names the policy but that no run of it made, and the next slot's
    // name being made by someone else right when the slot comes
    let forged = unique("forged");
    backup(
        &reg,
        CreateBackupRequest {
            policy: Some(name.clone()),
            ..empty(&forged)
        },
    )
    .await;
    let slot2 = schedule.next_after(slot1).unwrap();
    let taken2 = p.backup_name(slot2, tz);
    let squatter = reg.start_backup(empty(&taken2)).await.unwrap();
    clock.set(slot2 + TimeDelta::milliseconds(100));
    let started = scheduler.tick().await.unwrap();
    assert_eq!(started.len(), 1);
    let run2 = started.into_iter().next().unwrap().done.await.unwrap();
    assert_eq!(run2.state, "succeeded", "{}", run2.detail);
    assert!(
        run2.backup.starts_with(&format!("{taken2}_")),
        "{}",
        run2.backup
    );
    assert!(
        run2.detail
            .contains(&format!("the name {taken2} was taken")),
        "{}",
        run2.detail
    );
    let squatted = reg.wait_ended(&squatter.id).await.unwrap().unwrap();
    assert_eq!(squatted.state, JobState::Succeeded, "{:?}", squatted.error);

    // keep_last 1 pruned the policy's older backup, and nothing else
    assert!(
        run2.detail.contains(&format!("pruned {}", run1.backup)),
        "{}",
        run2.detail
    );
    let all: Vec<_> = reg.service().list_backups().await.unwrap();
    let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
    for kept in [&taken1, &taken2, &forged, &run2.backup] {
        assert!(names.contains(&kept.as_str()), "{kept} is gone: {names:?}");
    }
    assert!(!names.contains(&run1.backup.as_str()), "{names:?}");
    for squat in [&taken1, &taken2] {
        let b = all.iter().find(|b| &b.name == squat).unwrap();
        assert_eq!(b.policy, None, "{squat}");
    }
    let recorded = reg.store().policy_runs(&name, 10).unwrap();
    assert_eq!(recorded.len(), 2);
    assert!(
        recorded.iter().all(|r| r.state == "succeeded"),
        "{recorded:?}"
    );
}

#[tokio::test]
async fn a_manual_run_at_a_slot_leaves_the_slot_to_the_schedule() {
    let root = unique("manual");
    let reg = registry(&root, Db::in_memory().unwrap());
    let name = unique("by_hand");
    let mut p = policy(&name, "*/5 * * * * *", 5);
    p.collections = vec!["empty_coll".into()];
    p.verify_after = false;
    policy::add(reg.store(), &p).unwrap();
    let slot = p.validate().unwrap().next_after(Utc::now()).unwrap();
    let clock = FakeClock::at(slot);
    let scheduler = Scheduler::new(reg.clone(), clock.clone());
    let manual = scheduler.run_now(&name).await.unwrap();
    let manual = manual.done.await.unwrap();
    assert_eq!(manual.state, "succeeded", "{}", manual.detail);
    assert_ne!(manual.slot, slot);
    clock.set(slot + TimeDelta::milliseconds(300));
    let started = scheduler.tick().await.unwrap();
    assert_eq!(started.len(), 1, "the scheduled slot still runs");
    let scheduled = started.into_iter().next().unwrap().done.await.unwrap();
    assert_eq!(scheduled.slot, slot);
    assert_eq!(scheduled.state, "succeeded", "{}", scheduled.detail);
    let mut both = vec![manual.backup, scheduled.backup];
    both.sort();
    assert_eq!(made_by(&reg, &name).await, both);
}

/// `full_every 3` makes a full backup every third successful run, whatever retention keeps:
/// with keep_last 2 (fewer backups listed than the cycle is long) seven runs are F I I F I I F.
#[tokio::test]
async fn full_every_counts_the_policys_runs_not_the_backups_retention_kept() {
    let root = unique("fe");
    let db = work_dir(&root).join("state.sqlite");
    let reg = registry(&root, Db::open(&db).unwrap());
    let mut p = policy("fullevery3", "*/2 * * * * *", 2);
    p.full_every = 3;
    p.verify_after = false;
    policy::add(reg.store(), &p).unwrap();
    let clock = FakeClock::at(Utc::now());
    let scheduler = Scheduler::new(reg.clone(), clock.clone());
    let mut kinds = String::new();
    for _ in 0..7 {
        clock.advance(2);
        let started = scheduler.tick().await.unwrap();
        assert_eq!(started.len(), 1);
        let run = started.into_iter().next().unwrap().done.await.unwrap();
        assert_eq!(run.state, "succeeded", "{}", run.detail);
        let info = reg.service().get_backup(&run.backup).await.unwrap();
        let bases = info.milvault.unwrap().incremental_bases;
        kinds.push(if bases.is_empty() { 'F' } else { 'I' });
    }
    assert_eq!(kinds, "FIIFIIF");
    assert_eq!(made_by(&reg, "fullevery3").await.len(), 2, "keep_last 2");
}

/// `drill_every 2`: every second run's backup is restored into a scratch database, checked and
/// dropped before retention prunes; the run says so and the backup's last drill is recorded,
/// the other runs' backups are not drilled.
#[tokio::test]
async fn drill_every_drills_every_nth_backup_before_pruning() {
    let root = unique("drillev");
    let reg = registry(&root, Db::in_memory().unwrap());
    let mut p = policy(&unique("drill2"), "0 3 * * *", 5);
    p.drill_every = 2;
    policy::add(reg.store(), &p).unwrap();
    let scheduler = Scheduler::new(reg.clone(), FakeClock::at(Utc::now()));
    let mut runs = Vec::new();
    for _ in 0..2 {
        let run = scheduler
            .run_now(&p.name)
            .await
            .unwrap()
            .done
            .await
            .unwrap();
        assert_eq!(run.state, "succeeded", "{}", run.detail);
        runs.push(run);
    }
    assert!(!runs[0].detail.contains("drilled"), "{}", runs[0].detail);
    assert!(reg.store().last_drill(&runs[0].backup).unwrap().is_none());
    assert!(runs[1].detail.contains("drilled"), "{}", runs[1].detail);
    let drill = reg.store().last_drill(&runs[1].backup).unwrap().unwrap();
    assert!(drill.passed, "{drill:?}");
    assert_eq!(drill.collections.len(), 1);
    assert_eq!(drill.collections[0].source, "default.dyn_items");
    assert!(drill.collections[0].keys_found > 0);
    let dbs = reg
        .service()
        .milvus()
        .await
        .unwrap()
        .list_databases()
        .await
        .unwrap();
    assert!(!dbs.contains(&drill.database), "{dbs:?}");
}

#[tokio::test]
async fn copy_to_copies_each_backup_and_prunes_the_copies_by_their_own_retention() {
    let root = unique("copyto");
    let far = work_dir(&root).join("far");
    let mut overrides = s3_overrides("milvault", &root);
    overrides.push(("storages.far.storageType", "local".into()));
    overrides.push(("storages.far.rootPath", far.to_string_lossy().into_owned()));
    let reg = JobRegistry::new(service(&overrides), Db::in_memory().unwrap());
    let mut p = policy(&unique("copy"), "0 3 * * *", 5);
    p.copy_to = vec![milvault::engine::policy::PolicyCopy {
        storage: "far".into(),
        retention: Retention {
            keep_last: Some(1),
            ..Default::default()
        },
    }];
    policy::add(reg.store(), &p).unwrap();
    let scheduler = Scheduler::new(reg.clone(), FakeClock::at(Utc::now()));
    let mut made = Vec::new();
    for i in 0..3 {
        let run = scheduler
            .run_now(&p.name)
            .await
            .unwrap()
            .done
            .await
            .unwrap();
        assert_eq!(run.state, "succeeded", "{}", run.detail);
        assert!(
            run.detail.contains("copied to storage far"),
            "{}",
            run.detail
        );
        if i > 0 {
            assert!(
                run.detail.contains("pruned in storage far"),
                "{}",
                run.detail
            );
        }
        made.push(run.backup);
    }
    // here: all three (keep_last 5); there: the newest only (keep_last 1)
    assert_eq!(made_by(&reg, &p.name).await.len(), 3);
    let there = reg.service().on_storage("far").unwrap().unwrap();
    let copies: Vec<String> = there
        .list_backups()
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(copies, vec![made[2].clone()]);
    let v = there
        .verify(
            &made[2],
            &milvault::progress::Progress::detached(JobKind::Verify),
        )
        .await
        .unwrap();
    assert!(v.ok() && v.files_checked > 0, "{v:?}");
    // the pruned copies' files are gone, the kept one's are there
    assert!(!far.join(&made[0]).exists());
    assert!(far.join(&made[2]).join("meta/backup_meta.json").exists());
    // a policy naming a storage the configuration lacks fails its run, pruning nothing
    let mut lost = policy(&unique("lost"), "0 3 * * *", 1);
    lost.copy_to = vec![milvault::engine::policy::PolicyCopy {
        storage: "tape".into(),
        ..Default::default()
    }];
    policy::add(reg.store(), &lost).unwrap();
    let run = scheduler
        .run_now(&lost.name)
        .await
        .unwrap()
        .done
        .await
        .unwrap();
    assert_eq!(run.state, "failed");
    assert!(
        run.detail.contains("there is no storage 'tape'")
            && run.detail.contains("nothing was pruned"),
        "{}",
        run.detail
    );
}
