//! The portal's server functions answer typed errors: a missing backup or job is kind
//! `not_found` with the engine's code (the REST API's), its message and a hint, as JSON the
//! browser reads back whole. The web server's router in-process over a local backup directory;
//! no Milvus needed.

use crate::support::*;
use app::api::{PortalError, PortalErrorKind};
use leptos::server_fn::ServerFn;
use milvault::{db::Db, jobs::registry::JobRegistry};
use serde_json::{json, Value};

/// Calls server function `S` with `args` as the hydrated page does; the status and the body.
async fn call<S: ServerFn>(addr: std::net::SocketAddr, args: Value) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("http://{addr}{}", S::PATH))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(args.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn server_functions_answer_missing_things_as_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let svc = offline_service(dir.path());
    let addr = serve_portal(
        JobRegistry::new(svc, Db::in_memory().unwrap()),
        Default::default(),
    )
    .await;

    // a backup that does not exist: not found, with the engine's code and message, and a hint
    let (status, body) =
        call::<app::server::GetBackupDetail>(addr, json!({ "name": "no_such_backup" })).await;
    assert_ne!(status, 200, "{body}");
    let e: PortalError = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"));
    assert_eq!(e.kind, PortalErrorKind::NotFound, "{body}");
    assert_eq!(e.code, "backup_not_found");
    assert!(
        e.message.contains("backup 'no_such_backup' does not exist"),
        "{e}"
    );
    assert!(e.hint.is_some(), "{e}");

    // a job that does not exist
    let (_, body) = call::<app::server::GetJob>(addr, json!({ "id": "nope" })).await;
    let e: PortalError = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"));
    assert_eq!(
        (e.kind, e.code.as_str()),
        (PortalErrorKind::NotFound, "job_not_found")
    );

    // a form the portal refuses before the engine sees it
    let (_, body) = call::<app::server::StartBackup>(
        addr,
        json!({ "form": { "name": "b", "collections": [], "meta_only": false } }),
    )
    .await;
    let e: PortalError = serde_json::from_str(&body).unwrap_or_else(|err| panic!("{err}: {body}"));
    assert_eq!(
        (e.kind, e.code.as_str()),
        (PortalErrorKind::InvalidInput, "invalid_request")
    );
}
