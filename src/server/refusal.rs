//! What the sign-in middleware and the cross-site check share: how requests are authenticated
//! ([`AuthState`]), the client's address, and how a refused request is answered. Both use it;
//! neither uses the other's internals through it (no circle between `auth.rs` and
//! `cross_site.rs`).

use std::{net::SocketAddr, sync::Arc};

use axum::{
    extract::{ConnectInfo, Request},
    http::{header, HeaderValue, Method, StatusCode},
    response::{IntoResponse, Redirect, Response},
};

use crate::{auth::sign_in::SignInOptions, jobs::registry::JobRegistry};

/// How requests are authenticated.
#[derive(Clone)]
pub struct AuthState {
    pub registry: Arc<JobRegistry>,
    /// Sign-in required. Off: every request acts as the local admin (loopback only).
    pub enabled: bool,
    /// Cookies get `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// Which users may sign in.
    pub sign_in: SignInOptions,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

/// The client's address (behind trusted proxies, the one they name).
pub(crate) fn source_of(st: &AuthState, req: &Request) -> String {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| {
            super::client_addr::client_address(c.0.ip(), req.headers(), &st.trusted_proxies)
                .to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub(crate) fn is_grpc(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"))
}

/// Answers a refused request the way its client understands: gRPC status, JSON, or a redirect
/// to the sign-in page.
pub(crate) fn refuse(req: &Request, status: StatusCode, code: &str, message: &str) -> Response {
    if is_grpc(req) {
        let grpc = if status == StatusCode::UNAUTHORIZED {
            tonic::Code::Unauthenticated
        } else {
            tonic::Code::PermissionDenied
        };
        let mut r = StatusCode::OK.into_response();
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        h.insert("grpc-status", HeaderValue::from(grpc as i32));
        if let Ok(v) = HeaderValue::from_str(message) {
            h.insert("grpc-message", v);
        }
        return r;
    }
    let path = req.uri().path();
    if status == StatusCode::UNAUTHORIZED
        && is_safe(req.method())
        && !path.starts_with("/api/")
        && path != "/metrics"
        && !path.starts_with("/events/")
        && !path.starts_with("/download/")
    {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        return Redirect::to(&format!("/login?next={}", urlencode(next))).into_response();
    }
    (
        status,
        axum::Json(serde_json::json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
