//! The portal's policies and verification states over the engine (used by [`super::backend`]).

use app::api::{PolicyForm, PolicyRunView, PolicyView, Verification};
use chrono::Utc;

use crate::{
    auth::Gate,
    db::policies::VerificationRecord,
    engine::policy::retention::Retention,
    engine::policy::Policy,
    jobs::policies::{self, PolicyOverview},
};

/// A verification record as the portal shows it.
pub fn verification_view(v: &VerificationRecord) -> Verification {
    Verification {
        state: v.state.clone(),
        at_ms: v.at.timestamp_millis(),
        files: v.files,
        problems: v.problems.iter().map(|p| p.to_string()).collect(),
    }
}

/// A comma separated form field as a list.
pub(crate) fn list_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn view(o: PolicyOverview) -> PolicyView {
    let p = &o.policy;
    let mut targets: Vec<String> = p.collections.clone();
    targets.extend(p.databases.iter().map(|d| format!("{d}.*")));
    PolicyView {
        name: p.name.clone(),
        cron: p.cron.clone(),
        time_zone: p.time_zone.clone(),
        targets: if targets.is_empty() {
            "all collections".into()
        } else {
            targets.join(", ")
        },
        retention: o.retention.clone(),
        enabled: p.enabled,
        verify_after: p.verify_after,
        next_runs_ms: o.next_runs.iter().map(|t| t.timestamp_millis()).collect(),
        last_run: o.recent_runs.first().map(|r| PolicyRunView {
            slot_ms: r.slot.timestamp_millis(),
            backup: r.backup.clone(),
            job_id: r.job_id.clone(),
            state: r.state.clone(),
            detail: r.detail.clone(),
        }),
    }
}

/// Every policy.
pub fn policies(gate: &Gate) -> Result<Vec<PolicyView>, String> {
    gate.policies()
        .map(|l| l.into_iter().map(view).collect())
        .map_err(|e| e.to_string())
}

/// Adds the form's policy.
pub fn add(gate: &Gate, f: PolicyForm) -> Result<(), String> {
    let p = Policy {
        name: f.name.trim().to_string(),
        collections: list_of(&f.collections),
        databases: list_of(&f.databases),
        cron: f.cron.trim().to_string(),
        time_zone: f.time_zone.trim().to_string(),
        name_template: f.name_template.trim().to_string(),
        retention: Retention {
            keep_last: f.keep_last,
            keep_daily: f.keep_daily,
            keep_weekly: f.keep_weekly,
            keep_monthly: f.keep_monthly,
            max_age_days: f.max_age_days,
        },
        enabled: true,
        verify_after: f.verify_after,
        meta_only: false,
        logical: false,
        full_every: 0,
    };
    gate.add_policy(&p).map_err(|e| e.to_string())
}

/// Pauses or resumes.
pub fn set_enabled(gate: &Gate, name: &str, enabled: bool) -> Result<(), String> {
    gate.set_policy_enabled(name, enabled)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Removes a policy.
pub fn remove(gate: &Gate, name: &str) -> Result<(), String> {
    gate.remove_policy(name).map_err(|e| e.to_string())
}

/// Runs a policy now; returns the backup job's id.
pub async fn run(gate: &Gate, name: &str) -> Result<String, String> {
    let started = crate::server::scheduler::run_policy(gate, name)
        .await
        .map_err(|e| e.to_string())?;
    if started.run.job_id.is_empty() {
        return Err(started.run.detail);
    }
    Ok(started.run.job_id)
}

/// The next five runs of a schedule.
pub fn preview(cron: &str, time_zone: &str) -> Result<Vec<i64>, String> {
    policies::preview(cron, time_zone, Utc::now(), 5)
        .map(|v| v.iter().map(|t| t.timestamp_millis()).collect())
        .map_err(|e| e.to_string())
}
