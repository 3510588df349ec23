//! Server functions: thin calls into the [`Backend`](crate::api::Backend) that the server put in
//! the Leptos context. JSON in, JSON out.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::*;

#[cfg(feature = "ssr")]
fn backend() -> Result<SharedBackend, ServerFnError> {
    use_context::<SharedBackend>()
        .ok_or_else(|| ServerFnError::new("the portal was started without its engine"))
}

/// The message of a server function's error, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(m) => m.clone(),
        other => {
            format!("The server could not be reached ({other}). Check that milvault is running.")
        }
    }
}

#[server(input = Json)]
pub async fn list_backups() -> Result<Vec<BackupRow>, ServerFnError> {
    backend()?.list_backups().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn backups_page(q: BackupPageQuery) -> Result<BackupPageView, ServerFnError> {
    backend()?.backups_page(q).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn get_backup_detail(name: String) -> Result<BackupDetail, ServerFnError> {
    backend()?
        .backup_detail(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn delete_backup(name: String) -> Result<usize, ServerFnError> {
    backend()?
        .delete_backup(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn live_collections() -> Result<Vec<LiveCollection>, ServerFnError> {
    backend()?
        .live_collections()
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn start_backup(form: NewBackup) -> Result<String, ServerFnError> {
    backend()?
        .start_backup(form)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn preview_restore(form: RestoreForm) -> Result<Vec<RestorePreview>, ServerFnError> {
    backend()?
        .restore_preview(form)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn start_restore(form: RestoreForm) -> Result<String, ServerFnError> {
    backend()?
        .start_restore(form)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn list_jobs() -> Result<Vec<JobView>, ServerFnError> {
    backend()?.jobs().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn get_job(id: String) -> Result<JobView, ServerFnError> {
    backend()?.job(&id).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn cancel_job(id: String) -> Result<(), ServerFnError> {
    backend()?.cancel_job(&id).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn resume_job(id: String) -> Result<String, ServerFnError> {
    backend()?.resume_job(&id).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn cluster_status() -> Result<ClusterView, ServerFnError> {
    backend()?.cluster().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn start_verify(name: String) -> Result<String, ServerFnError> {
    backend()?
        .start_verify(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn start_drill(name: String) -> Result<String, ServerFnError> {
    backend()?
        .start_drill(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn start_copy(form: CopyForm) -> Result<String, ServerFnError> {
    backend()?
        .start_copy(form)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn list_policies() -> Result<Vec<PolicyView>, ServerFnError> {
    backend()?.policies().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn add_policy(form: PolicyForm) -> Result<(), ServerFnError> {
    backend()?
        .add_policy(form)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn set_policy_enabled(name: String, enabled: bool) -> Result<(), ServerFnError> {
    backend()?
        .set_policy_enabled(&name, enabled)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn remove_policy(name: String) -> Result<(), ServerFnError> {
    backend()?
        .remove_policy(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn run_policy(name: String) -> Result<String, ServerFnError> {
    backend()?
        .run_policy(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn schedule_preview(cron: String, time_zone: String) -> Result<NextRuns, ServerFnError> {
    Ok(match backend()?.schedule_preview(&cron, &time_zone).await {
        Ok(runs) => NextRuns { runs, error: None },
        Err(e) => NextRuns {
            runs: Vec::new(),
            error: Some(e),
        },
    })
}

#[server(input = Json)]
pub async fn whoami() -> Result<Me, ServerFnError> {
    backend()?.me().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn list_tokens() -> Result<Vec<TokenView>, ServerFnError> {
    backend()?.tokens().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn create_token(name: String) -> Result<String, ServerFnError> {
    backend()?
        .create_token(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn revoke_token(id: String) -> Result<(), ServerFnError> {
    backend()?
        .revoke_token(&id)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn list_users() -> Result<Vec<UserView>, ServerFnError> {
    backend()?.users().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn add_user(form: UserForm) -> Result<(), ServerFnError> {
    backend()?.add_user(form).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn remove_user(name: String) -> Result<(), ServerFnError> {
    backend()?
        .remove_user(&name)
        .await
        .map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn notifications() -> Result<NotificationsView, ServerFnError> {
    backend()?.notifications().await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn audit_log(query: AuditQuery) -> Result<Vec<AuditRow>, ServerFnError> {
    backend()?.audit(query).await.map_err(ServerFnError::new)
}

#[server(input = Json)]
pub async fn set_user_role(
    name: String,
    role: String,
    databases: String,
) -> Result<(), ServerFnError> {
    backend()?
        .set_user_role(&name, &role, &databases)
        .await
        .map_err(ServerFnError::new)
}
