//! `/api/v2/me`, `/api/v2/tokens`, `/api/v2/users`, `/api/v2/audit`: who is signed in, API
//! tokens, users and roles (admins), and the audit log (admins; JSON or CSV).

use std::sync::Arc;

use axum::{
    extract::{Path, Query},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::{get, put},
    Json, Router,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::{
        accounts::{TokenInfo, UserInfo},
        audit::{to_csv, AuditFilter, Outcome},
        Gate, Principal, Role,
    },
    jobs::registry::JobRegistry,
};

use super::error::{ApiError, ApiJson, ErrorBody};

/// The routes.
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    Router::new()
        .route("/api/v2/me", get(me))
        .route("/api/v2/tokens", get(list_tokens).post(create_token))
        .route("/api/v2/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v2/users", get(list_users).post(add_user))
        .route("/api/v2/users/{name}", put(set_role).delete(remove_user))
        .route("/api/v2/audit", get(audit))
        .with_state(registry)
}

/// Who the request acts as.
#[utoipa::path(get, path = "/api/v2/me", tag = "v2", responses((status = 200, body = Object)))]
pub async fn me(gate: Gate) -> Json<Principal> {
    Json(gate.who().clone())
}

/// A new token's name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    /// What will use it (shown in lists and the audit log).
    pub name: String,
}

/// A new token: `token` is shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct NewToken {
    pub token: String,
    #[schema(value_type = Object)]
    pub info: TokenInfo,
}

/// The caller's API tokens (an admin's: everyone's), never their secrets.
#[utoipa::path(get, path = "/api/v2/tokens", tag = "v2", responses((status = 200, body = Vec<Object>)))]
pub async fn list_tokens(gate: Gate) -> Result<Json<Vec<TokenInfo>>, ApiError> {
    Ok(Json(gate.tokens()?))
}

/// Creates an API token acting as the caller; send it as `Authorization: Bearer <token>`.
#[utoipa::path(post, path = "/api/v2/tokens", tag = "v2", request_body = TokenBody,
    responses((status = 201, body = NewToken), (status = 400, body = ErrorBody)))]
pub async fn create_token(
    gate: Gate,
    ApiJson(b): ApiJson<TokenBody>,
) -> Result<(StatusCode, Json<NewToken>), ApiError> {
    let (token, info) = gate.create_token(&b.name)?;
    Ok((StatusCode::CREATED, Json(NewToken { token, info })))
}

/// Revokes a token (the caller's own; an admin: anyone's).
#[utoipa::path(delete, path = "/api/v2/tokens/{id}", tag = "v2",
    params(("id" = String, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 400, body = ErrorBody)))]
pub async fn revoke_token(gate: Gate, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    gate.revoke_token(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Users (admins only).
#[utoipa::path(get, path = "/api/v2/users", tag = "v2",
    responses((status = 200, body = Vec<Object>), (status = 403, body = ErrorBody)))]
pub async fn list_users(gate: Gate) -> Result<Json<Vec<UserInfo>>, ApiError> {
    Ok(Json(gate.users()?))
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    pub name: String,
    pub password: String,
    /// admin, operator, member or viewer.
    pub role: String,
    /// The databases a member may touch (required for members).
    #[serde(default)]
    pub databases: Vec<String>,
}

/// Adds a user (admins only).
#[utoipa::path(post, path = "/api/v2/users", tag = "v2", request_body = UserBody,
    responses((status = 201, description = "Added"), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_user(gate: Gate, ApiJson(b): ApiJson<UserBody>) -> Result<StatusCode, ApiError> {
    let role = Role::parse(&b.role)?;
    gate.add_user(&b.name, &b.password, role, &b.databases)?;
    Ok(StatusCode::CREATED)
}

/// A user's new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleBody {
    pub role: String,
    #[serde(default)]
    pub databases: Vec<String>,
}

/// Changes a user's role and databases (admins only).
#[utoipa::path(put, path = "/api/v2/users/{name}", tag = "v2", request_body = RoleBody,
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Changed"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn set_role(
    gate: Gate,
    Path(name): Path<String>,
    ApiJson(b): ApiJson<RoleBody>,
) -> Result<StatusCode, ApiError> {
    gate.set_user_role(&name, Role::parse(&b.role)?, &b.databases)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user (admins only); its sessions end and its tokens are revoked.
#[utoipa::path(delete, path = "/api/v2/users/{name}", tag = "v2",
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn remove_user(gate: Gate, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    gate.remove_user(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Audit log filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this user (`anonymous` for unauthenticated attempts).
    pub actor: Option<String>,
    /// Actions starting with this: `backup.`, `backup.restore`, `auth.`, `request`...
    pub action: Option<String>,
    /// ok, denied or failed.
    pub outcome: Option<String>,
    /// RFC 3339.
    pub since: Option<DateTime<Utc>>,
    /// RFC 3339.
    pub until: Option<DateTime<Utc>>,
    /// At most this many, newest first (default 200, at most 10000).
    pub limit: Option<usize>,
    /// json (default) or csv.
    pub format: Option<String>,
}

impl AuditQuery {
    /// The store's filter; a bad outcome is an error.
    pub fn filter(&self) -> Result<AuditFilter, ApiError> {
        let outcome = Outcome::parse_filter(self.outcome.as_deref().unwrap_or(""))
            .map_err(|e| ApiError::bad_request("invalid_outcome", e))?;
        Ok(AuditFilter {
            actor: self.actor.clone(),
            action: self.action.clone(),
            outcome,
            since: self.since,
            until: self.until,
            limit: self.limit,
        })
    }
}

/// The audit log (admins only): who did or tried what, when, from where, how it ended.
#[utoipa::path(get, path = "/api/v2/audit", tag = "v2", params(AuditQuery),
    responses((status = 200, description = "JSON entries, or CSV with format=csv"),
        (status = 403, body = ErrorBody)))]
pub async fn audit(gate: Gate, Query(q): Query<AuditQuery>) -> Result<Response, ApiError> {
    let entries = gate.audit_entries(&q.filter()?)?;
    Ok(match q.format.as_deref() {
        Some("csv") => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"milvault-audit.csv\"",
                ),
            ],
            to_csv(&entries),
        )
            .into_response(),
        None | Some("json") | Some("") => Json(entries).into_response(),
        Some(f) => {
            return Err(ApiError::bad_request(
                "invalid_format",
                format!("format '{f}' is not json or csv"),
            ))
        }
    })
}
