//! What `/metrics` shows, in Prometheus' text format (the `prometheus-client` crate): the jobs of
//! this process by kind and outcome, their durations and bytes, rows restored, and per policy the
//! time of its last good run, so that "no good backup of X for 26 h" is one alert rule
//! (deploy/prometheus/alerts.yaml).

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
            for p in policies {
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
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
