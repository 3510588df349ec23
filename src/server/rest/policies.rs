//! `/api/v2/policies`: backup policies (schedules, retention, verification) and their runs.

use std::sync::Arc;

use axum::{
    extract::Path,
    http::StatusCode,
    routing::{get, post},
    Json, Router,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::Gate,
    jobs::policies::{self, PolicyOverview},
    jobs::registry::JobRegistry,
};

use super::error::{ApiError, ApiJson, ErrorBody};

/// The policy routes.
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    Router::new()
        .route("/api/v2/policies", get(list).post(create))
        .route(
            "/api/v2/policies/{name}",
            get(show).put(replace).delete(remove),
        )
        .route("/api/v2/policies/{name}/run", post(run_now))
        .route("/api/v2/policies/{name}/pause", post(pause))
        .route("/api/v2/policies/{name}/resume", post(resume))
        .route("/api/v2/schedule-preview", post(preview))
        .with_state(registry)
}

/// A policy: what to back up, when, how long to keep it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    /// The policy as stored (the body of POST/PUT).
    #[schema(value_type = Object)]
    pub policy: crate::engine::policy::Policy,
    pub created_at: chrono::DateTime<Utc>,
    /// The next three runs (none while paused).
    pub next_runs: Vec<chrono::DateTime<Utc>>,
    /// The retention rules in words.
    pub retention: String,
    /// Newest runs first: slot, trigger, backup, job, state, what happened.
    #[schema(value_type = Vec<Object>)]
    pub recent_runs: Vec<crate::db::policies::PolicyRun>,
}

impl From<PolicyOverview> for PolicyView {
    fn from(o: PolicyOverview) -> Self {
        PolicyView {
            policy: o.policy,
            created_at: o.created_at,
            next_runs: o.next_runs,
            retention: o.retention,
            recent_runs: o.recent_runs,
        }
    }
}

/// A run that was started.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunStarted {
    pub policy: String,
    pub backup: String,
    /// The backup job (follow it at `/api/v2/jobs/{id}`).
    pub job_id: String,
    /// `running`, or `failed` when the backup could not start.
    pub state: String,
    pub detail: String,
}

/// A cron expression to preview.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePreviewBody {
    pub cron: String,
    #[serde(default)]
    pub time_zone: String,
}

fn view(gate: &Gate, name: &str) -> Result<PolicyView, ApiError> {
    Ok(gate.policy(name, 3)?.into())
}

/// Every policy with its next runs and recent runs.
#[utoipa::path(get, path = "/api/v2/policies", tag = "v2", responses((status = 200, body = Vec<PolicyView>)))]
pub async fn list(gate: Gate) -> Result<Json<Vec<PolicyView>>, ApiError> {
    Ok(Json(
        gate.policies()?.into_iter().map(PolicyView::from).collect(),
    ))
}

/// Adds a policy. Body: `{"name", "cron", "time_zone", "collections", "databases",
/// "name_template", "retention": {"keep_last", "keep_daily", "keep_weekly", "keep_monthly",
/// "max_age_days"}, "enabled", "verify_after", "meta_only", "logical", "full_every",
/// "drill_every", "notify"}`.
#[utoipa::path(post, path = "/api/v2/policies", tag = "v2", request_body = Object,
    responses((status = 201, body = PolicyView), (status = 400, body = ErrorBody),
        (status = 409, description = "A policy of that name exists", body = ErrorBody)))]
pub async fn create(
    gate: Gate,
    ApiJson(p): ApiJson<crate::engine::policy::Policy>,
) -> Result<(StatusCode, Json<PolicyView>), ApiError> {
    gate.add_policy(&p)?;
    Ok((StatusCode::CREATED, Json(view(&gate, &p.name)?)))
}

/// One policy.
#[utoipa::path(get, path = "/api/v2/policies/{name}", tag = "v2",
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
pub async fn show(gate: Gate, Path(name): Path<String>) -> Result<Json<PolicyView>, ApiError> {
    match gate.policies()?.into_iter().find(|o| o.policy.name == name) {
        Some(o) => Ok(Json(o.into())),
        None => Err(crate::Error::PolicyNotFound(name).into()),
    }
}

/// Replaces a policy (the body's name must be the path's).
#[utoipa::path(put, path = "/api/v2/policies/{name}", tag = "v2", request_body = Object,
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = PolicyView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn replace(
    gate: Gate,
    Path(name): Path<String>,
    ApiJson(p): ApiJson<crate::engine::policy::Policy>,
) -> Result<Json<PolicyView>, ApiError> {
    if p.name != name {
        return Err(ApiError::bad_request(
            "name_mismatch",
            format!("the body names policy '{}' but the path '{name}'; a policy cannot be renamed, add a new one instead", p.name),
        ));
    }
    gate.update_policy(&p)?;
    Ok(Json(view(&gate, &name)?))
}

/// Removes a policy; the backups it made stay.
#[utoipa::path(delete, path = "/api/v2/policies/{name}", tag = "v2",
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody)))]
pub async fn remove(gate: Gate, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    gate.remove_policy(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Runs a policy now (also when paused): backup, verification if asked, pruning.
#[utoipa::path(post, path = "/api/v2/policies/{name}/run", tag = "v2",
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 202, body = RunStarted), (status = 404, body = ErrorBody)))]
pub async fn run_now(
    gate: Gate,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<RunStarted>), ApiError> {
    let started = crate::server::scheduler::run_policy(&gate, &name).await?;
    let r = started.run;
    Ok((
        StatusCode::ACCEPTED,
        Json(RunStarted {
            policy: r.policy,
            backup: r.backup,
            job_id: r.job_id,
            state: r.state,
            detail: r.detail,
        }),
    ))
}

/// Pauses a policy's schedule.
#[utoipa::path(post, path = "/api/v2/policies/{name}/pause", tag = "v2",
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
pub async fn pause(gate: Gate, Path(name): Path<String>) -> Result<Json<PolicyView>, ApiError> {
    gate.set_policy_enabled(&name, false)?;
    Ok(Json(view(&gate, &name)?))
}

/// Resumes a paused policy (missed slots are not run: the next run is the next slot).
#[utoipa::path(post, path = "/api/v2/policies/{name}/resume", tag = "v2",
    params(("name" = String, Path, description = "Policy name")),
    responses((status = 200, body = PolicyView), (status = 404, body = ErrorBody)))]
pub async fn resume(gate: Gate, Path(name): Path<String>) -> Result<Json<PolicyView>, ApiError> {
    gate.set_policy_enabled(&name, true)?;
    Ok(Json(view(&gate, &name)?))
}

/// The next five runs of a cron expression in a time zone.
#[utoipa::path(post, path = "/api/v2/schedule-preview", tag = "v2", request_body = SchedulePreviewBody,
    responses((status = 200, body = Vec<String>), (status = 400, body = ErrorBody)))]
pub async fn preview(
    ApiJson(b): ApiJson<SchedulePreviewBody>,
) -> Result<Json<Vec<chrono::DateTime<Utc>>>, ApiError> {
    Ok(Json(policies::preview(
        &b.cron,
        &b.time_zone,
        Utc::now(),
        5,
    )?))
}
