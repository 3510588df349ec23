//! The portal's policies and verification states over the engine (used by [`super::backend`]).

use app::api::{PolicyForm, PolicyRunView, PolicyView, PortalError, PortalErrorKind, Verification};
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
        damaged: v.damaged,
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
        logical: p.logical,
        full_every: p.full_every,
        drill_every: p.drill_every,
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
pub fn policies(gate: &Gate) -> Result<Vec<PolicyView>, PortalError> {
    gate.policies()
        .map(|l| l.into_iter().map(view).collect())
        .map_err(PortalError::from)
}

/// Adds the form's policy (checked by the engine's `Policy::validate` in `add_policy`).
pub fn add(gate: &Gate, f: PolicyForm) -> Result<(), PortalError> {
    gate.add_policy(&policy_of(f)).map_err(PortalError::from)
}

/// The engine's policy from the portal's form (as `milvault policy add` fills it).
pub(crate) fn policy_of(f: PolicyForm) -> Policy {
    Policy {
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
        logical: f.logical,
        full_every: f.full_every,
        drill_every: f.drill_every,
        notify: list_of(&f.notify),
        // the portal's form has no copies yet: the CLI and REST set them
        copy_to: Vec::new(),
    }
}

/// Pauses or resumes.
pub fn set_enabled(gate: &Gate, name: &str, enabled: bool) -> Result<(), PortalError> {
    gate.set_policy_enabled(name, enabled)
        .map(|_| ())
        .map_err(PortalError::from)
}

/// Removes a policy.
pub fn remove(gate: &Gate, name: &str) -> Result<(), PortalError> {
    gate.remove_policy(name).map_err(PortalError::from)
}

/// Runs a policy now; returns the backup job's id.
pub async fn run(gate: &Gate, name: &str) -> Result<String, PortalError> {
    let started = crate::server::scheduler::run_policy(gate, name).await?;
    if started.run.job_id.is_empty() {
        // the run is recorded as failed, with why: the engine's error is in its detail only
        return Err(PortalError::of_kind(
            PortalErrorKind::Internal,
            "run_not_started",
            started.run.detail,
        ));
    }
    Ok(started.run.job_id)
}

/// The next five runs of a schedule.
pub fn preview(cron: &str, time_zone: &str) -> Result<Vec<i64>, PortalError> {
    policies::preview(cron, time_zone, Utc::now(), 5)
        .map(|v| v.iter().map(|t| t.timestamp_millis()).collect())
        .map_err(PortalError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> PolicyForm {
        PolicyForm {
            name: " nightly ".into(),
            collections: "demo_products, shop.reviews,".into(),
            databases: " analytics ".into(),
            cron: " 0 2 * * * ".into(),
            time_zone: "Europe/Berlin".into(),
            name_template: "{policy}_{time}".into(),
            keep_last: Some(3),
            keep_daily: Some(7),
            verify_after: true,
            logical: true,
            full_every: 7,
            drill_every: 4,
            notify: " oncall, ".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_form_becomes_the_engine_policy() {
        let p = policy_of(form());
        assert_eq!(
            p,
            Policy {
                name: "nightly".into(),
                collections: vec!["demo_products".into(), "shop.reviews".into()],
                databases: vec!["analytics".into()],
                cron: "0 2 * * *".into(),
                time_zone: "Europe/Berlin".into(),
                name_template: "{policy}_{time}".into(),
                retention: Retention {
                    keep_last: Some(3),
                    keep_daily: Some(7),
                    ..Default::default()
                },
                enabled: true,
                verify_after: true,
                meta_only: false,
                logical: true,
                full_every: 7,
                drill_every: 4,
                notify: vec!["oncall".into()],
                copy_to: Vec::new(),
            }
        );
        assert!(p.validate().is_ok());
        // unticked and left at 0: full binlog backups, as before
        let plain = policy_of(PolicyForm {
            logical: false,
            full_every: 0,
            ..form()
        });
        assert!(!plain.logical);
        assert_eq!(plain.full_every, 0);
    }

    #[test]
    fn the_engine_judges_the_form() {
        let no_time = policy_of(PolicyForm {
            name_template: "{policy}".into(),
            ..form()
        });
        let e = no_time.validate().unwrap_err().to_string();
        assert!(e.contains("must contain {time}"), "{e}");
        let prune_all = policy_of(PolicyForm {
            keep_last: Some(0),
            ..form()
        });
        let e = prune_all.validate().unwrap_err().to_string();
        assert!(e.contains("keep_last is 0"), "{e}");
    }
}
