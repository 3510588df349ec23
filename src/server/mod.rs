//! The web server (`milvault serve`): the Leptos portal (server-rendered, hydrated), its server
//! functions, live job events and downloads, the REST API and the gRPC API (HTTP/2 on the same
//! port), all on one axum router over one [`JobRegistry`].

pub mod archive_pipe;
pub mod auth;
pub mod backend;
pub mod client_addr;
pub mod conn_limits;
pub mod cross_site;
pub mod events;
pub mod grpc;
pub mod policies;
pub mod portal_error;
pub mod refusal;
pub mod rest;
pub mod scheduler;

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::{Context, Result};
use axum::{routing::get, Router};
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};

use crate::jobs::registry::JobRegistry;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on (127.0.0.1:3000 by default).
    pub addr: SocketAddr,
    /// Where `scripts/build-site.sh` put the site (`pkg/` with the WASM, JS and CSS).
    pub site_root: PathBuf,
    /// Require sign-in (users, sessions, API tokens). Without it only loopback addresses serve.
    pub auth: bool,
    /// Serve HTTPS with this PEM certificate chain and key.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Also let Milvus' own users sign in with their Milvus passwords (needs `auth`).
    pub milvus_sign_in: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (back-off, audit log).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Audit log entries older than this many days are removed (checked hourly; 0: kept forever).
    pub audit_keep_days: u32,
}

/// Builds the router without sign-in: every request acts as the local admin.
pub fn router(registry: Arc<JobRegistry>, options: LeptosOptions) -> Router {
    router_with_auth(registry, options, auth::AuthOptions::default())
}

/// Builds the router: pages, server functions, events, downloads, static files, the APIs, the
/// sign-in pages, and the authentication and security-header layers over all of them.
pub fn router_with_auth(
    registry: Arc<JobRegistry>,
    options: LeptosOptions,
    auth: auth::AuthOptions,
) -> Router {
    let auth_state = auth::AuthState {
        registry: registry.clone(),
        enabled: auth.enabled,
        secure_cookies: auth.secure_cookies,
        sign_in: auth.sign_in,
        trusted_proxies: auth.trusted_proxies.into(),
    };
    let sign_in = Router::new()
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", axum::routing::post(auth::logout))
        .route("/setup", get(auth::setup_page).post(auth::setup))
        .route("/auth.css", get(auth::auth_css))
        .with_state(auth_state.clone());
    app_routes(registry, options)
        .merge(sign_in)
        .layer(axum::middleware::from_fn_with_state(
            auth_state.clone(),
            auth::authenticate,
        ))
        .layer(axum::middleware::from_fn_with_state(
            auth_state,
            cross_site::guard,
        ))
        .layer(axum::middleware::from_fn(auth::security_headers))
}

fn app_routes(registry: Arc<JobRegistry>, options: LeptosOptions) -> Router {
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
        .merge(crate::server::rest::router(registry.clone()))
        .merge(crate::server::grpc::routes(registry));
    let pages = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            move || {
                provide_context(backend.clone());
                // the page's inline hydration scripts carry this request's nonce: the page's
                // policy allows them and no other inline script
                if let (Some(nonce), Some(resp)) = (
                    leptos::nonce::use_nonce(),
                    use_context::<leptos_axum::ResponseOptions>(),
                ) {
                    if let Ok(v) = axum::http::HeaderValue::from_str(&auth::csp(Some(&nonce))) {
                        resp.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, v);
                    }
                }
            },
            {
                let options = options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler(app::shell))
        .with_state(options);
    extras.merge(pages)
}

/// Removes audit entries older than `keep_days` now and every hour while the registry lives.
fn spawn_audit_retention(registry: Arc<JobRegistry>, keep_days: u32) {
    let weak = Arc::downgrade(&registry);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let Some(reg) = weak.upgrade() else { break };
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(keep_days));
            if let Err(e) = reg.store().prune_audit(before) {
                tracing::warn!("pruning the audit log: {e}");
            }
        }
    });
}

/// Serves until the process is stopped.
pub async fn serve(registry: Arc<JobRegistry>, opts: ServeOptions) -> Result<()> {
    let site_root = opts.site_root.to_string_lossy().to_string();
    if !opts.site_root.join("pkg").is_dir() {
        tracing::warn!(
            "{} has no pkg/ directory: pages render but do not hydrate; build it with `bash scripts/build-site.sh`",
            opts.site_root.display()
        );
    }
    let options = LeptosOptions::builder()
        .output_name("milvault")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(opts.addr)
        .build();
    if !opts.auth && !opts.addr.ip().is_loopback() {
        anyhow::bail!(
            "refusing to serve on {} without sign-in: anyone who reaches it could restore over or delete data. Add --auth (and --tls-cert/--tls-key), or listen on 127.0.0.1",
            opts.addr
        );
    }
    if opts.auth {
        announce_setup(&registry, opts.addr, opts.tls.is_some())?;
    }
    if opts.audit_keep_days > 0 {
        spawn_audit_retention(registry.clone(), opts.audit_keep_days);
    }
    let auth_options = auth::AuthOptions {
        enabled: opts.auth,
        secure_cookies: opts.tls.is_some(),
        sign_in: crate::auth::sign_in::SignInOptions {
            milvus_users: opts.milvus_sign_in,
        },
        trusted_proxies: opts.trusted_proxies.clone(),
    };
    let app = router_with_auth(registry.clone(), options, auth_options)
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind(opts.addr)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .with_context(|| format!("cannot listen on {}", opts.addr))?;
    // both paths: a header-read timeout, HTTP/2 pings, and a deadline for a connection to say
    // what it speaks (see conn_limits), so half-open and idle connections do not pile up
    let server = async {
        match &opts.tls {
            Some((cert, key)) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "cannot load the TLS certificate {} and key {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                eprintln!("milvault portal on https://{}", opts.addr);
                let mut server =
                    axum_server::from_tcp(listener).acceptor(conn_limits::DeadlineAcceptor::new(
                        axum_server::tls_rustls::RustlsAcceptor::new(config),
                    ));
                conn_limits::apply(server.http_builder());
                server.serve(app).await.context("the web server stopped")
            }
            None => {
                eprintln!("milvault portal on http://{}", opts.addr);
                let mut server = axum_server::from_tcp(listener).acceptor(
                    conn_limits::DeadlineAcceptor::new(axum_server::accept::DefaultAcceptor::new()),
                );
                conn_limits::apply(server.http_builder());
                server.serve(app).await.context("the web server stopped")
            }
        }
    };
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

/// With sign-in on and no users yet, prints a one-time link to set the first admin's password.
fn announce_setup(registry: &JobRegistry, addr: SocketAddr, tls: bool) -> Result<()> {
    let store = registry.store();
    if store.user_count().context("job database")? > 0 {
        return Ok(());
    }
    let secret = store.create_setup_secret().context("job database")?;
    let host = if addr.ip().is_unspecified() {
        format!("127.0.0.1:{}", addr.port())
    } else {
        addr.to_string()
    };
    let scheme = if tls { "https" } else { "http" };
    eprintln!(
        "No users yet. Set the admin password (this link works once):\n  {scheme}://{host}/setup?token={secret}\nor add one with `milvault user add NAME --role admin`."
    );
    Ok(())
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
