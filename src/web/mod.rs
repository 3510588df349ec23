//! The web server (`milvault serve`): the Leptos portal (server-rendered, hydrated), its server
//! functions, live job events and downloads, the REST API and the gRPC API (HTTP/2 on the same
//! port), all on one axum router over one [`JobRegistry`].

pub mod backend;
pub mod events;
pub mod policies;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result};
use axum::{routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::registry::JobRegistry;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (127.0.0.1:3000 by default: there is no sign-in yet).
    pub addr: SocketAddr,
    /// Where `cargo leptos build` put the site (`pkg/` with the WASM, JS and CSS).
    pub site_root: PathBuf,
}

/// Builds the router: pages, server functions, events, downloads and static files.
pub fn router(registry: Arc<JobRegistry>, options: LeptosOptions) -> Router {
    let backend: app::api::SharedBackend = Arc::new(backend::PortalBackend::new(registry.clone()));
    let routes = generate_route_list(app::App);
    let extras = Router::new()
        .route("/events/jobs", get(events::job_list_events))
        .route("/events/jobs/{id}", get(events::job_events))
        .route(
            "/download/backups/{name}/backup.json",
            get(events::download_meta),
        )
        .with_state(registry.clone())
        .merge(crate::rest::router(registry.clone()))
        .merge(crate::grpc::routes(registry));
    let pages = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || provide_context(backend.clone()),
            {
                let options = options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(options);
    extras.merge(pages)
}

/// Serves until the process is stopped.
pub async fn serve(registry: Arc<JobRegistry>, opts: ServeOptions) -> Result<()> {
    let site_root = opts.site_root.to_string_lossy().to_string();
    if !opts.site_root.join("pkg").is_dir() {
        tracing::warn!(
            "{} has no pkg/ directory: pages render but do not hydrate; build the site with `cargo leptos build --release`",
            opts.site_root.display()
        );
    }
    let options = LeptosOptions::builder()
        .output_name("milvault")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(opts.addr)
        .build();
    let app = router(registry.clone(), options);
    let listener = tokio::net::TcpListener::bind(opts.addr)
        .await
        .with_context(|| format!("cannot listen on {}", opts.addr))?;
    eprintln!("milvault portal on http://{}", opts.addr);
    let server = axum::serve(listener, app.into_make_service());
    tokio::select! {
        r = server => r.context("the web server stopped"),
        () = stop_signal() => {
            // live event streams never end by themselves: stop at once rather than drain. Jobs
            // still running are interrupted; signing off lets the next server mark them failed
            // without waiting for the heartbeat to go stale.
            let running = registry.running_count();
            if running > 0 {
                tracing::warn!("stopping with {running} job(s) running: they are interrupted");
            }
            registry.store().sign_off().context("job database")?;
            eprintln!("milvault stopped");
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
