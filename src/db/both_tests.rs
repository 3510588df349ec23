//! The database's behaviour, checked the same way on an SQLite file and on Postgres: two stores
//! (two processes) on one database. Postgres runs when `MILVAULT_TEST_POSTGRES` names one
//! (`scripts/test.sh` starts it and sets it); each test gets a schema of its own there.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::audit::{AuditFilter, Outcome};
use super::{policies::Trigger, Db};
use crate::{
    auth::Role,
    jobs::name_lease::NameUse,
    jobs::{JobKind, Progress},
    progress::JobState,
};

/// Two stores on one new database of each kind available: `(kind, a, b)`.
fn pairs() -> Vec<(&'static str, Db, Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite");
    let mut out = vec![(
        "sqlite",
        Db::open(&path).unwrap(),
        Db::open(&path).unwrap(),
        Some(dir),
    )];
    match std::env::var("MILVAULT_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => {
            let url = fresh_schema(&url);
            out.push((
                "postgres",
                Db::connect_postgres(&url).unwrap(),
                Db::connect_postgres(&url).unwrap(),
                None,
            ));
        }
        _ => eprintln!("MILVAULT_TEST_POSTGRES is not set: SQLite only"),
    }
    out
}

/// A new empty schema in the database at `url`, and the URL whose connections use it.
pub(crate) fn fresh_schema(url: &str) -> String {
    let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut admin = postgres::Client::connect(url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn at(sec: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + sec, 0).unwrap()
}

#[test]
fn jobs_are_shared_and_a_silent_owners_running_job_is_interrupted() {
    for (kind, a, b, _dir) in pairs() {
        a.beat().unwrap();
        let (done, _) = Progress::new(JobKind::Backup, "b1");
        done.add_total(100, 1);
        done.add_bytes(100);
        done.finish::<(), String>(&Ok(()));
        a.save(&done.snapshot()).unwrap();
        let (running, _) = Progress::new(JobKind::Restore, "b1");
        running.step("importing");
        a.save(&running.snapshot()).unwrap();
        a.set_job_databases(&running.id(), &["shop".into()])
            .unwrap();

        // the other store sees both, newest first, and leaves the live owner's job alone
        assert_eq!(b.count().unwrap(), 2, "{kind}");
        let listed = b.list(10).unwrap();
        assert_eq!(listed.len(), 2, "{kind}");
        assert_eq!(b.list_page(1, 10).unwrap()[0].id, listed[1].id, "{kind}");
        assert_eq!(b.job_databases(&running.id()).unwrap(), vec!["shop"]);
        assert_eq!(b.all_job_databases().unwrap().len(), 1, "{kind}");
        assert_eq!(b.fail_stale_jobs(super::STALE_AFTER).unwrap(), 0, "{kind}");
        let d = b.get(&done.id()).unwrap().unwrap();
        assert_eq!(
            (d.state, d.bytes_done),
            (JobState::Succeeded, 100),
            "{kind}"
        );

        // the owner signs off: its running job is interrupted, once
        a.sign_off().unwrap();
        assert_eq!(b.fail_stale_jobs(super::STALE_AFTER).unwrap(), 1, "{kind}");
        let r = b.get(&running.id()).unwrap().unwrap();
        assert_eq!(r.state, JobState::Failed, "{kind}");
        assert!(r.error.unwrap().contains("interrupted"), "{kind}");
        assert_eq!(b.fail_stale_jobs(Duration::ZERO).unwrap(), 0, "{kind}");
    }
}

#[test]
fn a_slot_is_claimed_once_across_stores_and_runs_are_recorded() {
    for (kind, a, b, _dir) in pairs() {
        let p = crate::engine::policy::Policy {
            name: "nightly".into(),
            cron: "0 2 * * *".into(),
            drill_every: 3,
            ..Default::default()
        };
        a.insert_policy(&p).unwrap();
        assert!(b.insert_policy(&p).is_err(), "{kind}: added twice");
        assert_eq!(
            b.get_policy("nightly").unwrap().unwrap().policy.drill_every,
            3
        );
        assert!(a.claim_slot("nightly", at(0), Trigger::Schedule).unwrap());
        assert!(
            !b.claim_slot("nightly", at(0), Trigger::Schedule).unwrap(),
            "{kind}"
        );
        assert!(b.claim_slot("nightly", at(60), Trigger::Manual).unwrap());
        assert_eq!(b.last_scheduled_slot("nightly").unwrap(), Some(at(0)));
        let run = super::policies::PolicyRun {
            policy: "nightly".into(),
            slot: at(0),
            trigger: Trigger::Schedule,
            backup: "nightly_1".into(),
            job_id: "j1".into(),
            state: "succeeded".into(),
            detail: "ok".into(),
        };
        b.update_run(&run).unwrap();
        assert_eq!(a.succeeded_runs("nightly").unwrap(), 1, "{kind}");
        assert_eq!(a.policy_runs("nightly", 10).unwrap().len(), 2, "{kind}");
        assert!(a.policy_backups("nightly").unwrap().contains("nightly_1"));
        assert_eq!(a.list_policies().unwrap().len(), 1);
        assert!(b.delete_policy("nightly").unwrap());
        assert!(a.get_policy("nightly").unwrap().is_none(), "{kind}");
    }
}

#[test]
fn a_backup_name_lease_holds_across_stores_until_released() {
    for (kind, a, b, _dir) in pairs() {
        a.beat().unwrap();
        b.beat().unwrap();
        let restoring = a.claim_name("b1", NameUse::Read).unwrap();
        // a delete through the other store is refused while the restore holds the name
        let refused = b.claim_name("b1", NameUse::Delete);
        assert!(refused.is_err(), "{kind}: delete allowed during a restore");
        // a second restore may read it alongside
        let second = b.claim_name("b1", NameUse::Read).unwrap();
        assert!(a.still_holds(&restoring).unwrap(), "{kind}");
        a.release_name(&restoring).unwrap();
        b.release_name(&second).unwrap();
        let delete = b.claim_name("b1", NameUse::Delete).unwrap();
        assert!(b.still_holds(&delete).unwrap(), "{kind}");
    }
}

#[test]
fn users_sessions_tokens_audit_drills_and_deliveries_round_trip() {
    for (kind, a, b, _dir) in pairs() {
        a.add_user("ann", "ann's long password", Role::Admin, &[])
            .unwrap();
        let p = b
            .check_password("ann", "ann's long password", "1.2.3.4")
            .unwrap();
        assert_eq!(p.user, "ann", "{kind}");
        let cookie = b.create_session("ann").unwrap();
        assert_eq!(
            a.session_principal(&cookie).unwrap().unwrap().user,
            "ann",
            "{kind}"
        );
        let (plain, info) = a.create_token("ann", "ci").unwrap();
        assert_eq!(b.token_principal(&plain).unwrap().unwrap().user, "ann");
        assert_eq!(b.tokens(Some("ann")).unwrap().len(), 1, "{kind}");
        assert_eq!(b.tokens(None).unwrap().len(), 1, "{kind}");
        b.revoke_token(&info.id, None).unwrap();
        assert!(a.token_principal(&plain).unwrap().is_none(), "{kind}");

        a.audit(
            "ann",
            "cli",
            "backup.create",
            "b1",
            "local",
            Outcome::Ok,
            "",
        );
        a.audit(
            "bob",
            "rest",
            "backup.delete",
            "b1",
            "1.1.1.1",
            Outcome::Denied,
            "no",
        );
        let only_ann = b
            .audit_entries(&AuditFilter {
                actor: Some("ann".into()),
                action: Some("backup.".into()),
                since: Some(at(-1_000_000_000)),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(only_ann.len(), 1, "{kind}");
        assert_eq!(only_ann[0].action, "backup.create");
        let denied = b
            .audit_entries(&AuditFilter {
                outcome: Some(Outcome::Denied),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(denied.len(), 1, "{kind}");
        assert!(denied[0].seq > only_ann[0].seq, "{kind}: seq grows");

        let report = crate::engine::commands::drill::DrillReport {
            backup: "b1".into(),
            milvus: String::new(),
            milvus_version: "v2.3.5".into(),
            started_at: at(0),
            database: "drill_b1".into(),
            restore_ms: 1500,
            check_ms: 200,
            cleanup_ms: 100,
            collections: vec![],
            top_k: 10,
            min_recall: 0.95,
            passed: true,
            failure: None,
        };
        a.save_drill("b1", &report).unwrap();
        assert!(b.last_drill("b1").unwrap().unwrap().passed, "{kind}");
        // the namesake in a named storage has drills of its own
        let failed = crate::engine::commands::drill::DrillReport {
            passed: false,
            ..report.clone()
        };
        a.save_drill("far:b1", &failed).unwrap();
        assert!(!b.last_drill("far:b1").unwrap().unwrap().passed, "{kind}");
        assert!(b.last_drill("b1").unwrap().unwrap().passed, "{kind}");
        assert!(b.last_passed_drill().unwrap().is_some(), "{kind}");

        let d = super::deliveries::Delivery {
            id: "d1".into(),
            at: at(0),
            webhook: "ops".into(),
            event: "job.failed".into(),
            summary: "s".into(),
            state: "delivered".into(),
            attempts: 2,
            last_status: 200,
            last_error: String::new(),
        };
        a.save_delivery(&d).unwrap();
        assert_eq!(b.deliveries(10).unwrap(), vec![d], "{kind}");

        let v = super::policies::VerificationRecord {
            at: at(0),
            state: "intact".into(),
            files: 3,
            bytes: 5_000_000_000,
            damaged: 0,
            problems: vec![],
        };
        a.save_verification("b1", &v).unwrap();
        assert_eq!(
            b.verifications().unwrap()["b1"].bytes,
            5_000_000_000,
            "{kind}"
        );
    }
}

#[test]
fn postgres_errors_say_what_failed_without_the_password() {
    let Ok(url) = std::env::var("MILVAULT_TEST_POSTGRES") else {
        eprintln!("MILVAULT_TEST_POSTGRES is not set: nothing to connect to");
        return;
    };
    // the test server offers no TLS: a URL that requires it is refused, saying so
    let sep = if url.contains('?') { '&' } else { '?' };
    let err = Db::connect_postgres(&format!("{url}{sep}sslmode=require"))
        .err()
        .expect("TLS required from a server without it")
        .to_string();
    assert!(
        err.to_lowercase().contains("tls") || err.contains("SSL"),
        "{err}"
    );
    // a wrong port, with a password in the URL: the message names the place, not the secret
    let err = Db::open_location("postgres://milvault:s3cret@127.0.0.1:1/milvault")
        .err()
        .expect("nothing listens on port 1")
        .to_string();
    assert!(
        err.contains("127.0.0.1:1") && !err.contains("s3cret"),
        "{err}"
    );
}
