//! `policy`: add, change, pause, resume, remove and list backup policies, with their next runs
//! and last run. Shared by the CLI, the REST API and the portal.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    db::policies::{PolicyRecord, PolicyRun},
    db::Db,
    engine::policy::Policy,
    error::{Error, Result},
};

/// A policy as people look at it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyOverview {
    pub policy: Policy,
    pub created_at: DateTime<Utc>,
    /// The next runs (none while paused).
    pub next_runs: Vec<DateTime<Utc>>,
    /// The retention rules in words.
    pub retention: String,
    /// Newest runs first.
    pub recent_runs: Vec<PolicyRun>,
}

/// Adds a policy after checking it.
pub fn add(store: &Db, p: &Policy) -> Result<()> {
    p.validate()?;
    store.insert_policy(p)
}

/// Replaces a policy after checking it.
pub fn update(store: &Db, p: &Policy) -> Result<()> {
    p.validate()?;
    store.update_policy(p)
}

/// Pauses (`false`) or resumes (`true`) a policy's schedule.
pub fn set_enabled(store: &Db, name: &str, enabled: bool) -> Result<Policy> {
    let mut p = get(store, name)?.policy;
    p.enabled = enabled;
    store.update_policy(&p)?;
    Ok(p)
}

/// Removes a policy; its backups stay.
pub fn remove(store: &Db, name: &str) -> Result<()> {
    if store.delete_policy(name)? {
        Ok(())
    } else {
        Err(Error::PolicyNotFound(name.into()))
    }
}

/// One stored policy.
pub fn get(store: &Db, name: &str) -> Result<PolicyRecord> {
    store
        .get_policy(name)?
        .ok_or_else(|| Error::PolicyNotFound(name.into()))
}

/// The stored policy `name` with its next `next` runs after `now` and its newest runs.
pub fn overview_of(
    store: &Db,
    name: &str,
    now: DateTime<Utc>,
    next: usize,
) -> Result<PolicyOverview> {
    overview(store, get(store, name)?, now, next)
}

/// A policy with its next `next` runs after `now` and its newest runs.
pub fn overview(
    store: &Db,
    rec: PolicyRecord,
    now: DateTime<Utc>,
    next: usize,
) -> Result<PolicyOverview> {
    let next_runs = match (rec.policy.enabled, rec.policy.validate()) {
        (true, Ok(s)) => s.upcoming(now, next),
        _ => Vec::new(),
    };
    Ok(PolicyOverview {
        retention: rec.policy.retention.describe(),
        recent_runs: store.policy_runs(&rec.policy.name, 10)?,
        next_runs,
        created_at: rec.created_at,
        policy: rec.policy,
    })
}

/// Every policy with its next runs.
pub fn list(store: &Db, now: DateTime<Utc>) -> Result<Vec<PolicyOverview>> {
    store
        .list_policies()?
        .into_iter()
        .map(|rec| overview(store, rec, now, 3))
        .collect()
}

/// The next `n` runs of a cron expression in a time zone (for forms that show them as you type).
pub fn preview(
    cron: &str,
    time_zone: &str,
    now: DateTime<Utc>,
    n: usize,
) -> Result<Vec<DateTime<Utc>>> {
    Ok(crate::engine::policy::Schedule::parse(cron, time_zone)?.upcoming(now, n))
}
