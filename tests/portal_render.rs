//! The portal's pages as the server renders them, through the web server's router in-process over
//! a local backup directory (backups' metadata written there; no Milvus needed).

use crate::support::*;
use milvault::{
    db::Db,
    engine::commands::create::write_meta,
    format::{BackupInfo, CollectionBackupInfo},
    jobs::registry::JobRegistry,
};

/// The Restore page's form is rendered on the server every time, with its preview (which targets
/// exist already, asked by the browser) not loaded yet. A browser-only resource read during the
/// server's render made the page's Suspense give up on most renders (its fallback, "Loading the
/// backup", went out instead of the form) and let the render end while the Suspense was still
/// walking the form, which read the form's disposed signals and panicked a worker thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_page_form_is_rendered_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let svc = offline_service(dir.path());
    let name = unique("render");
    let info = BackupInfo {
        id: format!("id-{name}"),
        name: name.clone(),
        backup_timestamp: 1_790_000_000_000,
        collection_backups: vec![CollectionBackupInfo {
            collection_id: 1,
            db_name: "default".into(),
            collection_name: "products".into(),
            backup_timestamp: 1_790_000_000_000,
            ..Default::default()
        }],
        milvus_version: "v2.3.5".into(),
        ..Default::default()
    };
    write_meta(svc.backup_storage(), &info).await.unwrap();
    let addr = serve_portal(
        JobRegistry::new(svc, Db::in_memory().unwrap()),
        Default::default(),
    )
    .await;

    // each render on its own: before the fix, about one in eight had the form
    for i in 0..20 {
        let r = reqwest::get(format!("http://{addr}/restore/{name}"))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let html = r.text().await.unwrap();
        assert!(
            html.contains(r#"value="default.products""#) && html.contains("Start restore"),
            "render {i}: the form, with the backup's collection, is on the page: {html}"
        );
        assert!(
            !html.contains("Loading the backup"),
            "render {i}: not the Suspense's fallback: {html}"
        );
        assert!(
            html.contains("Loading the preview"),
            "render {i}: the preview is left to the browser: {html}"
        );
    }
}
