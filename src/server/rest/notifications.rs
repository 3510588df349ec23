//! `/api/v2/notifications`: the webhooks (never their secrets) and their delivery log, and a
//! test send.

use std::sync::Arc;

use axum::{
    extract::Query,
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::{
    auth::Gate,
    db::deliveries::Delivery,
    jobs::{notify::WebhookView, registry::JobRegistry},
};

use super::error::{ApiError, ApiJson, ErrorBody};

/// The notification routes.
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    Router::new()
        .route("/api/v2/notifications", get(list))
        .route("/api/v2/notifications/test", post(test))
        .with_state(registry)
}

/// `?limit=` of the delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct LogQuery {
    /// Deliveries to answer, newest first, 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// The webhooks and their newest deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notifications {
    #[schema(value_type = Vec<Object>)]
    pub webhooks: Vec<WebhookView>,
    /// `{id, at, webhook, event, summary, state (sending|retrying|delivered|failed), attempts,
    /// last_status, last_error}`.
    #[schema(value_type = Vec<Object>)]
    pub deliveries: Vec<Delivery>,
}

/// Which webhook to test.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    pub webhook: String,
}

/// The webhooks (no secrets; URLs as scheme and host) and the delivery log, newest first.
#[utoipa::path(get, path = "/api/v2/notifications", tag = "v2", params(LogQuery),
    responses((status = 200, body = Notifications), (status = 403, body = ErrorBody)))]
pub async fn list(gate: Gate, Query(q): Query<LogQuery>) -> Result<Json<Notifications>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit {limit} is out of range: ask for 1 to 1000 deliveries"),
        ));
    }
    let (webhooks, deliveries) = gate.notifications(limit)?;
    Ok(Json(Notifications {
        webhooks,
        deliveries,
    }))
}

/// Sends a test event to a webhook now (admins) and answers how it went.
#[utoipa::path(post, path = "/api/v2/notifications/test", tag = "v2", request_body = TestBody,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn test(
    gate: Gate,
    ApiJson(body): ApiJson<TestBody>,
) -> Result<Json<Delivery>, ApiError> {
    Ok(Json(gate.test_webhook(&body.webhook).await?))
}
