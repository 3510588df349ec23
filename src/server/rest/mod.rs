//! The REST API: milvus-backup's `/api/v1` ([`v1`]), milvault's own `/api/v2` ([`v2`]), the
//! OpenAPI document generated from the handlers (`/api/openapi.json`) and a readable API page
//! rendered from it (`/api/docs`, no external assets).

pub mod access;
pub mod archive_body;
pub mod docs;
pub mod error;
pub mod in_storage;
pub mod notifications;
pub mod policies;
pub mod v1;
pub mod v2;

use std::sync::Arc;

use axum::{extract::DefaultBodyLimit, routing::get, Json, Router};
use utoipa::OpenApi;

use crate::jobs::registry::JobRegistry;

/// Largest request body the API reads; requests only name backups and collections.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The API's OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "milvault API",
        description = "Backup and restore for Milvus. `/api/v1` is milvus-backup's REST API (same paths and JSON); `/api/v2` is milvault's own, with JSON errors `{\"error\":{\"code\",\"message\"}}` and paged lists. The gRPC API (package milvault.v1, proto/milvault.proto) is served on the same port."
    ),
    paths(
        v1::hello, v1::create, v1::list, v1::get_backup, v1::delete_backup, v1::restore,
        v1::get_restore, v1::check,
        v2::health, v2::list_backups, v2::backup_history, v2::get_backup, v2::create_backup, v2::delete_backup,
        v2::restore, v2::preview, v2::verify, v2::export_archive, v2::import_archive, v2::drill, v2::last_drill, v2::copy_backup, v2::list_jobs, v2::get_job, v2::cancel_job, v2::resume_job,
        v2::cluster, notifications::list, notifications::test,
        policies::list, policies::create, policies::show, policies::replace, policies::remove,
        policies::run_now, policies::pause, policies::resume, policies::preview,
        access::me, access::list_tokens, access::create_token, access::revoke_token,
        access::list_users, access::add_user, access::set_role, access::remove_user, access::audit,
    ),
    tags(
        (name = "v1", description = "milvus-backup compatible: existing scripts keep working"),
        (name = "v2", description = "milvault's own resources"),
    )
)]
pub struct ApiDoc;

/// Every handler's gate: the registry with the caller the authentication layer put on the
/// request.
impl axum::extract::FromRequestParts<Arc<JobRegistry>> for crate::auth::Gate {
    type Rejection = error::ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        reg: &Arc<JobRegistry>,
    ) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<crate::auth::Caller>() {
            Some(c) => Ok(crate::auth::Gate::new(reg, c.clone())),
            None => Err(crate::Error::Unauthenticated(
                "the request passed no authentication layer".into(),
            )
            .into()),
        }
    }
}

/// The REST routes.
pub fn router(registry: Arc<JobRegistry>) -> Router {
    let doc = ApiDoc::openapi();
    let page = docs::render(&doc);
    Router::new()
        .merge(v1::routes(registry.clone()))
        .merge(v2::routes(registry.clone()))
        .merge(policies::routes(registry.clone()))
        .merge(notifications::routes(registry.clone()))
        .merge(access::routes(registry))
        .route(
            "/api/openapi.json",
            get(move || std::future::ready(Json(doc.clone()))),
        )
        .route(
            "/api/docs",
            get(move || std::future::ready(axum::response::Html(page.clone()))),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}
