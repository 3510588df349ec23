//! Refuses what a browser may be tricked into sending, in every mode (with and without
//! sign-in): state-changing requests from another site, bodies in the content types a cross-site
//! form or `fetch` can send without asking (`text/plain`, forms) outside the sign-in forms, and,
//! without sign-in, requests naming a host other than a loopback one (DNS rebinding: a page of
//! `evil.example` whose name now points at 127.0.0.1). Binding to loopback is no defence against
//! the browser on the same machine; these checks are.
//!
//! Requests with neither `Sec-Fetch-Site` nor `Origin` do not come from a browser's cross-site
//! request (browsers send one of them with every such request) and pass: scripts and the CLI use
//! them. Session cookies get the stricter check in [`super::auth`]: positive proof of the
//! portal's own pages.

use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method, StatusCode},
    middleware::Next,
    response::Response,
};

use super::refusal::{refuse, source_of, AuthState};
use crate::{
    auth::audit::{action, Outcome},
    config::is_loopback_host,
};

/// Where a request comes from, as far as the browser says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    /// The portal's own pages.
    SameOrigin,
    /// Another origin: another site, or another port or scheme of this host.
    OtherOrigin,
    /// No browser headers (a script), or a navigation the user started (`Sec-Fetch-Site: none`).
    Unknown,
}

/// What the browser headers say of a request's origin.
pub(crate) fn site_of(headers: &HeaderMap) -> Site {
    if let Some(site) = headers.get("sec-fetch-site") {
        return match site.to_str().unwrap_or("") {
            "same-origin" => Site::SameOrigin,
            "none" => Site::Unknown,
            _ => Site::OtherOrigin,
        };
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Site::Unknown;
    };
    let (Ok(origin), Some(host)) = (origin.to_str(), host_of(headers)) else {
        return Site::OtherOrigin;
    };
    if origin == format!("http://{host}") || origin == format!("https://{host}") {
        Site::SameOrigin
    } else {
        Site::OtherOrigin
    }
}

fn host_of(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|v| v.to_str().ok())
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The forms that post `application/x-www-form-urlencoded` on purpose (they check the origin
/// themselves).
fn is_form_route(path: &str) -> bool {
    matches!(path, "/login" | "/logout" | "/setup")
}

/// Content types a page of another site can send without a CORS preflight.
fn is_simple_content_type(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let essence = ct
        .to_str()
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/plain" | "application/x-www-form-urlencoded" | "multipart/form-data"
    )
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

/// Checks one request; `None` lets it through. `loopback_only`: the server runs without
/// sign-in, so only loopback host names may be served.
pub(crate) fn check(
    method: &Method,
    path: &str,
    authority: Option<&str>,
    headers: &HeaderMap,
    loopback_only: bool,
) -> Option<Refusal> {
    if loopback_only {
        if let Some(host) = host_of(headers).or(authority) {
            if !is_loopback_host(host) {
                return Some(Refusal {
                    status: StatusCode::MISDIRECTED_REQUEST,
                    code: "foreign_host",
                    message: format!(
                        "this server answers to loopback names only (localhost, 127.0.0.1, [::1]), not '{}': without --auth it serves this machine alone",
                        truncate(host, 100)
                    ),
                });
            }
        }
    }
    if !changes_state(method) {
        return None;
    }
    if site_of(headers) == Site::OtherOrigin {
        return Some(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "cross_site",
            message: "cross-site request refused: state-changing requests must come from the portal's own pages or from a client that is not a browser".into(),
        });
    }
    if !is_form_route(path) && is_simple_content_type(headers) {
        return Some(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "unsupported_media_type",
            message: "send the request body as JSON with 'Content-Type: application/json'".into(),
        });
    }
    None
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The middleware: refuses what `check` refuses, and records the refusal in the audit log.
pub async fn guard(State(st): State<AuthState>, req: Request, next: Next) -> Response {
    let refusal = check(
        req.method(),
        req.uri().path(),
        req.uri().authority().map(|a| a.as_str()),
        req.headers(),
        !st.enabled,
    );
    let Some(r) = refusal else {
        return next.run(req).await;
    };
    let source = source_of(&st, &req);
    st.registry.store().audit(
        "anonymous",
        "none",
        action::REQUEST,
        &format!("{} {}", req.method(), truncate(req.uri().path(), 200)),
        &source,
        Outcome::Denied,
        &r.message,
    );
    refuse(&req, r.status, r.code, &r.message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn loopback_names_and_only_those() {
        for ok in [
            "127.0.0.1:3000",
            "127.8.9.1",
            "localhost",
            "localhost:3000",
            "app.localhost:3000",
            "[::1]:3000",
            "LOCALHOST.",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:3000",
            "10.0.0.1:3000",
            "localhost.evil.example",
            "[::2]:3000",
            "",
            "127.0.0.1.evil.example",
        ] {
            assert!(!is_loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn cross_site_writes_are_refused_scripts_and_own_pages_pass() {
        let post = Method::POST;
        let own = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert_eq!(check(&post, "/api/v2/backups", None, &own, true), None);
        let script = headers(&[("host", "127.0.0.1:3000")]);
        assert_eq!(check(&post, "/api/v2/backups", None, &script, true), None);
        for h in [
            headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
            headers(&[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:8080"),
            ]),
            headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "same-site")]),
        ] {
            let r = check(&post, "/api/v2/backups", None, &h, false).expect("refused");
            assert_eq!((r.status, r.code), (StatusCode::FORBIDDEN, "cross_site"));
        }
        // reads are not refused for their origin
        let get = headers(&[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")]);
        assert_eq!(check(&Method::GET, "/", None, &get, true), None);
    }

    #[test]
    fn text_plain_bodies_only_on_the_sign_in_forms() {
        let h = headers(&[
            ("host", "127.0.0.1:3000"),
            ("content-type", "text/plain;charset=UTF-8"),
        ]);
        let r = check(&Method::POST, "/api/delete_backup123", None, &h, true).expect("refused");
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        let form = headers(&[
            ("host", "127.0.0.1:3000"),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        assert_eq!(check(&Method::POST, "/login", None, &form, false), None);
        assert!(check(&Method::POST, "/api/v1/create", None, &form, false).is_some());
        let json = headers(&[
            ("host", "127.0.0.1:3000"),
            ("content-type", "application/json"),
        ]);
        assert_eq!(
            check(&Method::POST, "/api/delete_backup123", None, &json, true),
            None
        );
    }

    #[test]
    fn foreign_hosts_are_refused_without_sign_in_only() {
        let h = headers(&[("host", "evil.example:3000")]);
        let r = check(&Method::GET, "/", None, &h, true).expect("refused");
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST);
        assert_eq!(check(&Method::GET, "/", None, &h, false), None);
        // HTTP/2 names the host in the authority
        let none = HeaderMap::new();
        assert!(check(&Method::GET, "/", Some("evil.example:3000"), &none, true).is_some());
        assert_eq!(
            check(&Method::GET, "/", Some("127.0.0.1:3000"), &none, true),
            None
        );
    }
}
