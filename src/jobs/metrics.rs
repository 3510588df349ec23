//! What `/metrics` shows, in Prometheus' text format (the `prometheus-client` crate): the jobs of
//! this process by kind and outcome, their durations and bytes, rows restored, and per policy the
//! time of its last good run, last passed drill and next run, so that "no good backup of X for
//! 26 h" is one alert rule (deploy/prometheus/alerts.yaml); bytes copied by how they went.

use prometheus_client::{
    encoding::{text::encode, EncodeLabelSet},
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::{
    db::Db,
    progress::{CreatedState, JobKind, JobSnapshot, JobState},
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindMode {
    kind: String,
    mode: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Policy {
    policy: String,
}

/// The metrics of one process's jobs.
pub struct JobMetrics {
    registry: Registry,
    started: Family<Kind, Counter>,
    ended: Family<Outcome, Counter>,
    seconds: Family<Kind, Histogram>,
    bytes: Family<Kind, Counter>,
    rows_restored: Counter,
    last_good_run: Family<Policy, Gauge<f64, std::sync::atomic::AtomicU64>>,
    policy_last_drill: Family<Policy, Gauge<f64, std::sync::atomic::AtomicU64>>,
    policy_next_run: Family<Policy, Gauge<f64, std::sync::atomic::AtomicU64>>,
    copied: Family<KindMode, Counter>,
    drills: Family<DrillOutcome, Counter>,
    last_good_drill: Gauge<f64, std::sync::atomic::AtomicU64>,
    drill_recovery_seconds: Histogram,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DrillOutcome {
    outcome: String,
}

fn kind_name(k: JobKind) -> String {
    match k {
        JobKind::Backup => "backup",
        JobKind::Restore => "restore",
        JobKind::Verify => "verify",
        JobKind::Drill => "drill",
        JobKind::Copy => "copy",
    }
    .into()
}

impl Default for JobMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("milvault");
        let started = Family::<Kind, Counter>::default();
        let ended = Family::<Outcome, Counter>::default();
        // 1 s to ~9 h
        let seconds = Family::<Kind, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                1.0, 3.0, 10,
            ))
        });
        let bytes = Family::<Kind, Counter>::default();
        let rows_restored = Counter::default();
        let last_good_run = Family::default();
        let policy_last_drill = Family::default();
        let policy_next_run = Family::default();
        let copied = Family::<KindMode, Counter>::default();
        registry.register(
            "copied_bytes",
            "Bytes jobs of this process copied, by how (server_side, streamed, local, from_base)",
            copied.clone(),
        );
        registry.register(
            "policy_last_drill_success_timestamp_seconds",
            "When the newest passed drill of a backup each policy made ended (Unix seconds)",
            policy_last_drill.clone(),
        );
        registry.register(
            "policy_next_run_timestamp_seconds",
            "When each enabled policy runs next (Unix seconds)",
            policy_next_run.clone(),
        );
        let drills = Family::<DrillOutcome, Counter>::default();
        let last_good_drill = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let drill_recovery_seconds = Histogram::new(
            prometheus_client::metrics::histogram::exponential_buckets(1.0, 3.0, 10),
        );
        registry.register(
            "drills",
            "Restore drills that ended, by outcome (passed, failed)",
            drills.clone(),
        );
        registry.register(
            "drill_last_success_timestamp_seconds",
            "When the newest passed restore drill ended (Unix seconds), from the job database",
            last_good_drill.clone(),
        );
        registry.register(
            "drill_recovery_seconds",
            "How long restore drills' restores took (the measured recovery time)",
            drill_recovery_seconds.clone(),
        );
        registry.register(
            "jobs_started",
            "Jobs started by this process",
            started.clone(),
        );
        registry.register(
            "jobs_ended",
            "Jobs of this process that ended, by outcome (succeeded, failed, cancelled)",
            ended.clone(),
        );
        registry.register(
            "job_duration_seconds",
            "How long jobs of this process ran",
            seconds.clone(),
        );
        registry.register(
            "job_bytes",
            "Bytes jobs of this process copied or read",
            bytes.clone(),
        );
        registry.register(
            "restored_rows",
            "Rows restored (collections completed) by this process",
            rows_restored.clone(),
        );
        registry.register(
            "policy_last_success_timestamp_seconds",
            "When each policy's newest succeeded run was scheduled (Unix seconds), from the job database",
            last_good_run.clone(),
        );
        JobMetrics {
            registry,
            started,
            ended,
            seconds,
            bytes,
            rows_restored,
            last_good_run,
            policy_last_drill,
            policy_next_run,
            copied,
            drills,
            last_good_drill,
            drill_recovery_seconds,
        }
    }
}

impl JobMetrics {
    /// A job started.
    pub fn job_started(&self, s: &JobSnapshot) {
        self.started
            .get_or_create(&Kind {
                kind: kind_name(s.kind),
            })
            .inc();
    }

    /// A job ended (its last snapshot).
    pub fn job_ended(&self, s: &JobSnapshot) {
        let kind = kind_name(s.kind);
        let outcome = match s.state {
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Running => "running",
        };
        self.ended
            .get_or_create(&Outcome {
                kind: kind.clone(),
                outcome: outcome.into(),
            })
            .inc();
        let end = s.finished_at.unwrap_or_else(chrono::Utc::now);
        let secs = (end - s.started_at).num_milliseconds().max(0) as f64 / 1000.0;
        let k = Kind { kind };
        self.seconds.get_or_create(&k).observe(secs);
        self.bytes.get_or_create(&k).inc_by(s.bytes_done);
        for (mode, bytes) in s.copied.by_mode() {
            if bytes > 0 {
                self.copied
                    .get_or_create(&KindMode {
                        kind: k.kind.clone(),
                        mode: mode.into(),
                    })
                    .inc_by(bytes);
            }
        }
        if let Some(ledger) = &s.restore {
            let rows: i64 = ledger
                .collections
                .iter()
                .filter(|c| c.state == CreatedState::Complete)
                .map(|c| c.rows.max(0))
                .sum();
            self.rows_restored.inc_by(rows as u64);
        }
    }

    /// A restore drill ended.
    pub fn drill_ended(&self, r: &crate::engine::commands::drill::DrillReport) {
        let outcome = if r.passed { "passed" } else { "failed" };
        self.drills
            .get_or_create(&DrillOutcome {
                outcome: outcome.into(),
            })
            .inc();
        self.drill_recovery_seconds
            .observe(r.restore_ms as f64 / 1000.0);
    }

    /// The text page, with the policies' last good runs read from `store` now.
    pub fn render(&self, store: &Db) -> String {
        if let Ok(Some(at)) = store.last_passed_drill() {
            self.last_good_drill
                .set(at.timestamp_millis() as f64 / 1000.0);
        }
        if let Ok(policies) = store.list_policies() {
            let now = chrono::Utc::now();
            // a removed or paused policy has no next run: its old value would mislead
            self.policy_next_run.clear();
            for p in policies {
                let label = Policy {
                    policy: p.policy.name.clone(),
                };
                let next = match (p.policy.enabled, p.policy.validate()) {
                    (true, Ok(schedule)) => schedule.next_after(now),
                    _ => None,
                };
                if let Some(next) = next {
                    self.policy_next_run
                        .get_or_create(&label)
                        .set(next.timestamp_millis() as f64 / 1000.0);
                }
                if let Ok(Some(at)) = store.last_passed_drill_of_policy(&p.policy.name) {
                    self.policy_last_drill
                        .get_or_create(&label)
                        .set(at.timestamp_millis() as f64 / 1000.0);
                }
                let last = store
                    .policy_runs(&p.policy.name, 100)
                    .ok()
                    .and_then(|runs| runs.into_iter().find(|r| r.state == "succeeded"));
                if let Some(run) = last {
                    self.last_good_run
                        .get_or_create(&Policy {
                            policy: p.policy.name.clone(),
                        })
                        .set(run.slot.timestamp_millis() as f64 / 1000.0);
                }
            }
        }
        let mut text = String::new();
        if let Err(e) = encode(&mut text, &self.registry) {
            tracing::warn!("encoding /metrics: {e}");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_job_moves_its_counters() {
        let m = JobMetrics::default();
        let (p, h) = crate::progress::Progress::new(JobKind::Backup, "b1");
        m.job_started(&h.snapshot());
        p.add_total(100, 1);
        p.add_bytes(100);
        p.add_copied(crate::progress::CopiedBytes {
            server_side: 60,
            from_base: 40,
            ..Default::default()
        });
        p.finish::<(), String>(&Ok(()));
        m.job_ended(&h.snapshot());
        let db = Db::in_memory().unwrap();
        let text = m.render(&db);
        assert!(
            text.contains(r#"milvault_jobs_started_total{kind="backup"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"milvault_jobs_ended_total{kind="backup",outcome="succeeded"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"milvault_job_bytes_total{kind="backup"} 100"#),
            "{text}"
        );
        assert!(
            text.contains(r#"milvault_job_duration_seconds_count{kind="backup"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"milvault_copied_bytes_total{kind="backup",mode="server_side"} 60"#)
                && text
                    .contains(r#"milvault_copied_bytes_total{kind="backup",mode="from_base"} 40"#)
                && !text.contains(r#"mode="streamed""#),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn each_policy_shows_its_next_run_and_its_last_passed_drill() {
        let db = Db::in_memory().unwrap();
        let policy = |name: &str, enabled: bool| crate::engine::policy::Policy {
            name: name.into(),
            cron: "0 2 * * *".into(),
            enabled,
            ..Default::default()
        };
        db.insert_policy(&policy("nightly", true)).unwrap();
        db.insert_policy(&policy("paused", false)).unwrap();
        let slot = chrono::Utc::now() - chrono::Duration::hours(1);
        db.claim_slot("nightly", slot, crate::db::policies::Trigger::Schedule)
            .unwrap();
        db.update_run(&crate::db::policies::PolicyRun {
            policy: "nightly".into(),
            slot,
            trigger: crate::db::policies::Trigger::Schedule,
            backup: "nightly_1".into(),
            job_id: "j1".into(),
            state: "succeeded".into(),
            detail: String::new(),
        })
        .unwrap();
        let drill = |backup: &str, passed: bool| crate::engine::commands::drill::DrillReport {
            backup: backup.into(),
            milvus: String::new(),
            milvus_version: "v2.3.5".into(),
            started_at: slot,
            database: "scratch".into(),
            restore_ms: 2000,
            check_ms: 0,
            cleanup_ms: 0,
            collections: vec![],
            top_k: 10,
            min_recall: 0.95,
            passed,
            failure: None,
        };
        db.save_drill("nightly_1", &drill("nightly_1", true))
            .unwrap();
        db.save_drill("someone_elses", &drill("someone_elses", true))
            .unwrap();
        let text = JobMetrics::default().render(&db);
        let value = |prefix: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in {text}"))
                .trim()
                .parse()
                .unwrap()
        };
        let next = value(r#"milvault_policy_next_run_timestamp_seconds{policy="nightly"}"#);
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(next > now && next <= now + 86_400.0, "{text}");
        assert!(!text.contains(r#"milvault_policy_next_run_timestamp_seconds{policy="paused"}"#));
        let drilled =
            value(r#"milvault_policy_last_drill_success_timestamp_seconds{policy="nightly"}"#);
        assert_eq!(
            drilled,
            (slot.timestamp_millis() + 2000) as f64 / 1000.0,
            "{text}"
        );
        assert!(!text.contains(r#"last_drill_success_timestamp_seconds{policy="paused"}"#));
    }
}
