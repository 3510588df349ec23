//! Server functions: thin calls into the [`Backend`](crate::api::Backend) that the server put in
//! the Leptos context. JSON in, JSON out; a failure is a [`PortalError`] (kind, code, message,
//! hint) that reaches the browser whole, and a request that never reached the server is one of
//! kind [`Unreachable`](PortalErrorKind::Unreachable).

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::*;

#[cfg(feature = "ssr")]
fn backend() -> Result<SharedBackend, PortalError> {
    use_context::<SharedBackend>().ok_or_else(|| {
        PortalError::new(
            PortalErrorKind::Internal,
            "no_engine",
            "the portal was started without its engine",
        )
    })
}

/// A server function's error as one line of text (its message and hint), for places that show
/// text rather than an [`ErrorNotice`](crate::components::common::ErrorNotice).
pub fn error_text(e: &PortalError) -> String {
    e.text()
}

#[server(input = Json)]
pub async fn list_backups() -> Result<Vec<BackupRow>, PortalError> {
    backend()?.list_backups().await
}

#[server(input = Json)]
pub async fn backups_page(q: BackupPageQuery) -> Result<BackupPageView, PortalError> {
    let mut page = backend()?.backups_page(q).await?;
    page.chart_html = crate::components::chart::history_html(&page.rows);
    Ok(page)
}

#[server(input = Json)]
pub async fn get_backup_detail(name: String) -> Result<BackupDetail, PortalError> {
    backend()?.backup_detail(&name).await
}

#[server(input = Json)]
pub async fn delete_backup(name: String) -> Result<usize, PortalError> {
    backend()?.delete_backup(&name).await
}

#[server(input = Json)]
pub async fn live_collections() -> Result<Vec<LiveCollection>, PortalError> {
    backend()?.live_collections().await
}

#[server(input = Json)]
pub async fn start_backup(form: NewBackup) -> Result<String, PortalError> {
    backend()?.start_backup(form).await
}

#[server(input = Json)]
pub async fn preview_restore(form: RestoreForm) -> Result<Vec<RestorePreview>, PortalError> {
    backend()?.restore_preview(form).await
}

#[server(input = Json)]
pub async fn start_restore(form: RestoreForm) -> Result<String, PortalError> {
    backend()?.start_restore(form).await
}

#[server(input = Json)]
pub async fn list_jobs() -> Result<Vec<JobView>, PortalError> {
    backend()?.jobs().await
}

#[server(input = Json)]
pub async fn get_job(id: String) -> Result<JobView, PortalError> {
    backend()?.job(&id).await
}

#[server(input = Json)]
pub async fn cancel_job(id: String) -> Result<(), PortalError> {
    backend()?.cancel_job(&id).await
}

#[server(input = Json)]
pub async fn resume_job(id: String) -> Result<String, PortalError> {
    backend()?.resume_job(&id).await
}

#[server(input = Json)]
pub async fn cluster_status() -> Result<ClusterView, PortalError> {
    backend()?.cluster().await
}

#[server(input = Json)]
pub async fn start_verify(name: String) -> Result<String, PortalError> {
    backend()?.start_verify(&name).await
}

#[server(input = Json)]
pub async fn start_drill(name: String) -> Result<String, PortalError> {
    backend()?.start_drill(&name).await
}

#[server(input = Json)]
pub async fn start_copy(form: CopyForm) -> Result<String, PortalError> {
    backend()?.start_copy(form).await
}

#[server(input = Json)]
pub async fn list_policies() -> Result<Vec<PolicyView>, PortalError> {
    backend()?.policies().await
}

#[server(input = Json)]
pub async fn add_policy(form: PolicyForm) -> Result<(), PortalError> {
    backend()?.add_policy(form).await
}

#[server(input = Json)]
pub async fn set_policy_enabled(name: String, enabled: bool) -> Result<(), PortalError> {
    backend()?.set_policy_enabled(&name, enabled).await
}

#[server(input = Json)]
pub async fn remove_policy(name: String) -> Result<(), PortalError> {
    backend()?.remove_policy(&name).await
}

#[server(input = Json)]
pub async fn run_policy(name: String) -> Result<String, PortalError> {
    backend()?.run_policy(&name).await
}

#[server(input = Json)]
pub async fn schedule_preview(cron: String, time_zone: String) -> Result<NextRuns, PortalError> {
    Ok(match backend()?.schedule_preview(&cron, &time_zone).await {
        Ok(runs) => NextRuns { runs, error: None },
        Err(e) => NextRuns {
            runs: Vec::new(),
            error: Some(e.message),
        },
    })
}

#[server(input = Json)]
pub async fn whoami() -> Result<Me, PortalError> {
    backend()?.me().await
}

#[server(input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenView>, PortalError> {
    backend()?.tokens().await
}

#[server(input = Json)]
pub async fn create_token(name: String) -> Result<String, PortalError> {
    backend()?.create_token(&name).await
}

#[server(input = Json)]
pub async fn revoke_token(id: String) -> Result<(), PortalError> {
    backend()?.revoke_token(&id).await
}

#[server(input = Json)]
pub async fn list_users() -> Result<Vec<UserView>, PortalError> {
    backend()?.users().await
}

#[server(input = Json)]
pub async fn add_user(form: UserForm) -> Result<(), PortalError> {
    backend()?.add_user(form).await
}

#[server(input = Json)]
pub async fn remove_user(name: String) -> Result<(), PortalError> {
    backend()?.remove_user(&name).await
}

#[server(input = Json)]
pub async fn notifications() -> Result<NotificationsView, PortalError> {
    backend()?.notifications().await
}

#[server(input = Json)]
pub async fn audit_log(query: AuditQuery) -> Result<Vec<AuditRow>, PortalError> {
    backend()?.audit(query).await
}

#[server(input = Json)]
pub async fn set_user_role(
    name: String,
    role: String,
    databases: String,
) -> Result<(), PortalError> {
    backend()?.set_user_role(&name, &role, &databases).await
}
