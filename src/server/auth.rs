//! Sign-in for the web server: the middleware that turns a session cookie or a bearer token into
//! a [`Caller`] on every request (or refuses it), the sign-in, sign-out and first set-up pages,
//! cross-site request refusal, and the security headers on every response.

use axum::{
    extract::{FromRequest, Query, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    middleware::Next,
    response::{Html, IntoResponse, Redirect, Response},
    Form,
};
use serde::Deserialize;

pub use super::refusal::AuthState;
pub(crate) use super::refusal::{is_grpc, is_safe, refuse, source_of};

use crate::auth::{
    audit::{action, Outcome},
    sign_in::{checked_by_milvus, sign_in, SignInOptions},
    Caller, Principal,
};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "milvault_session";

/// How the server authenticates.
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Sign-in required. Off: every request acts as the local admin (loopback only).
    pub enabled: bool,
    /// Cookies get `Secure` (served over TLS).
    pub secure_cookies: bool,
    /// Which users may sign in.
    pub sign_in: SignInOptions,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// The value of cookie `name`.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .and_then(|c| c.value_raw())
}

/// The bearer token of `Authorization`.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// Whether a cookie-authenticated request comes from the portal's own pages: browsers send
/// `Sec-Fetch-Site` (and `Origin`) with every POST, and another site cannot forge them. A request
/// with neither is refused too: scripts use bearer tokens, which cross-site requests cannot carry.
fn same_origin(headers: &HeaderMap) -> bool {
    super::cross_site::site_of(headers) == super::cross_site::Site::SameOrigin
}

/// Paths anyone may reach: sign-in, set-up, static files, health probes, the API description.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/login"
            | "/setup"
            | "/auth.css"
            | "/favicon.svg"
            | "/api/v2/health"
            | "/api/v1/hello"
            | "/api/openapi.json"
            | "/api/docs"
    ) || path.starts_with("/pkg/")
        || path.starts_with("/grpc.health.v1.Health/")
}

/// The authentication middleware.
pub async fn authenticate(State(st): State<AuthState>, mut req: Request, next: Next) -> Response {
    let source = source_of(&st, &req);
    if !st.enabled {
        req.extensions_mut().insert(Caller {
            who: Principal::local("local"),
            source,
        });
        return next.run(req).await;
    }
    let path = req.uri().path().to_string();
    let store = st.registry.store();
    let deny = |who: &str, via: &str, detail: &str| {
        store.audit(
            who,
            via,
            action::REQUEST,
            &format!("{} {path}", req.method()),
            &source,
            Outcome::Denied,
            detail,
        );
    };
    let who = if let Some(token) = bearer(req.headers()) {
        match store.token_principal(token) {
            Ok(Some(p)) => Some(p),
            Ok(None) => {
                let msg = "the API token is unknown or revoked; create one on the Account page";
                deny("anonymous", "token", msg);
                return refuse(&req, StatusCode::UNAUTHORIZED, "unauthenticated", msg);
            }
            Err(e) => {
                return refuse(
                    &req,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "internal",
                    &e.to_string(),
                )
            }
        }
    } else if let Some(c) = cookie(req.headers(), SESSION_COOKIE) {
        match store.session_principal(c) {
            Ok(Some(p)) => {
                if !is_safe(req.method()) && !same_origin(req.headers()) {
                    let msg = "cross-site request refused: state-changing requests must come from the portal's own pages (or use an API token)";
                    deny(&p.user, "session", msg);
                    return refuse(&req, StatusCode::FORBIDDEN, "csrf", msg);
                }
                Some(p)
            }
            Ok(None) => None,
            Err(e) => {
                return refuse(
                    &req,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "internal",
                    &e.to_string(),
                )
            }
        }
    } else {
        None
    };
    match who {
        Some(who) => {
            req.extensions_mut().insert(Caller { who, source });
            next.run(req).await
        }
        None if is_public(&path) => next.run(req).await,
        None => {
            let msg = "sign in at /login, or send an API token as 'Authorization: Bearer <token>'";
            // page views that just redirect to the sign-in page are not worth an entry
            if !is_safe(req.method()) || path.starts_with("/api/") || is_grpc(&req) {
                deny("anonymous", "none", msg);
            }
            refuse(&req, StatusCode::UNAUTHORIZED, "unauthenticated", msg)
        }
    }
}

/// Security headers on every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.entry(k).or_insert(HeaderValue::from_static(v));
    };
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        if let Ok(v) = HeaderValue::from_str(&csp(None)) {
            h.insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    r
}

/// The Content-Security-Policy: scripts from this origin only (and WASM), inline scripts only
/// with the page's nonce; no framing, no foreign sources. Inline `style` attributes stay allowed
/// (progress bars and charts set widths with them).
pub fn csp(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(n) => format!("'self' 'wasm-unsafe-eval' 'nonce-{n}'"),
        None => "'self' 'wasm-unsafe-eval'".to_string(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

const PAGE_CSS: &str = "body{font-family:system-ui,sans-serif;background:#f6f7f9;color:#1b2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:1.5rem 2rem}
h1{font-size:1.4rem}.hint{color:#4b5563;font-size:.9rem}label{display:block;margin:.75rem 0 .25rem}input{width:100%;font:inherit;padding:.45rem;border:1px solid #b9c0c9;border-radius:6px}
button{margin-top:1rem;font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #2f76b7;background:#2f76b7;color:#fff;cursor:pointer}
.error{color:#b3261e;background:#fdecea;padding:.5rem .75rem;border-radius:6px}.muted{color:#5b6675;font-size:.9rem}";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title} · milvault</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/auth.css\"></head><body><main>{body}</main></body></html>"
    ))
}

/// The sign-in page's stylesheet (served, not inline: the CSP allows no inline styles there).
pub async fn auth_css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css")], PAGE_CSS)
}

/// The longest `next` kept; a longer one is replaced by `/`.
const MAX_NEXT_LEN: usize = 2048;

/// Where to go after signing in: a path on this site only, else `/`. Refused: anything not
/// starting with one `/` (`//host`, `/\host`, `https://...`), backslashes, and control
/// characters and whitespace anywhere (browsers drop tabs and newlines from a `Location`, so
/// `/\t/host` becomes `//host`; CR LF would end the header).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if is_local_path(n) => n.into(),
        _ => "/".into(),
    }
}

fn is_local_path(n: &str) -> bool {
    const BASE: &str = "http://milvault.invalid/";
    let shape = n.len() <= MAX_NEXT_LEN
        && n.starts_with('/')
        && !n.starts_with("//")
        && !n.contains('\\')
        && !n.chars().any(|c| c.is_control() || c.is_whitespace());
    // and, resolved as a browser resolves it, it stays on this site
    shape
        && url::Url::parse(BASE)
            .and_then(|base| base.join(n))
            .is_ok_and(|u| {
                u.scheme() == "http"
                    && u.host_str() == Some("milvault.invalid")
                    && u.port().is_none()
            })
}

fn login_form(st: &AuthState, next: &str, user: &str, error: Option<&str>) -> Html<String> {
    let mut err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    if st.sign_in.milvus_users {
        err.push_str(
            "<p class=\"hint\">Milvus users sign in with their Milvus user name and password.</p>",
        );
    }
    page(
        "Sign in",
        &format!(
            "<h1>Sign in to milvault</h1>{err}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"next\" value=\"{}\">\
             <label for=\"user\">User name</label><input id=\"user\" name=\"user\" autocomplete=\"username\" required value=\"{}\">\
             <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
             <button type=\"submit\">Sign in</button></form>",
            esc(next),
            esc(user)
        ),
    )
}

/// `?next=` of the sign-in page.
#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// GET /login.
pub async fn login_page(State(st): State<AuthState>, Query(q): Query<NextQuery>) -> Html<String> {
    login_form(&st, &safe_next(q.next.as_deref()), "", None)
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

/// `redirect` with the new session's cookie set.
fn signed_in(redirect: Redirect, session: &str, secure: bool) -> Response {
    let mut r = redirect.into_response();
    let cookie = session_cookie(session, secure, crate::auth::accounts::SESSION_HOURS * 3600);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

fn session_cookie(value: &str, secure: bool, max_age: i64) -> String {
    cookie::Cookie::build((SESSION_COOKIE, value))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(max_age))
        .secure(secure)
        .build()
        .to_string()
}

/// POST /login.
pub async fn login(State(st): State<AuthState>, req: Request) -> Response {
    let source = source_of(&st, &req);
    let cross_site = !same_origin(req.headers());
    let Form(f) = match Form::<LoginForm>::from_request(req, &()).await {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let store = st.registry.store();
    let next = safe_next(f.next.as_deref());
    let audit = |user: &str, outcome: Outcome, detail: &str| {
        let by_milvus =
            checked_by_milvus(store, st.sign_in, user).unwrap_or(st.sign_in.milvus_users);
        store.audit(
            user,
            if by_milvus { "milvus" } else { "password" },
            action::AUTH_SIGN_IN,
            "",
            &source,
            outcome,
            detail,
        );
    };
    if cross_site {
        audit(&f.user, Outcome::Denied, "cross-site sign-in refused");
        return (
            StatusCode::FORBIDDEN,
            login_form(
                &st,
                &next,
                &f.user,
                Some("Sign in from milvault's own page."),
            ),
        )
            .into_response();
    }
    match sign_in(&st.registry, st.sign_in, &f.user, &f.password, &source).await {
        Ok(p) => match store.create_session(&p.user) {
            Ok(id) => {
                audit(&p.user, Outcome::Ok, p.role.as_str());
                signed_in(Redirect::to(&next), &id, st.secure_cookies)
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(e) => {
            let (status, message) = match &e {
                crate::Error::TooManyAttempts { .. } => {
                    (StatusCode::TOO_MANY_REQUESTS, e.to_string())
                }
                crate::Error::Unauthenticated(m) => (StatusCode::UNAUTHORIZED, m.clone()),
                _ => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            };
            audit(&f.user, Outcome::Denied, &message);
            (status, login_form(&st, &next, &f.user, Some(&message))).into_response()
        }
    }
}

/// POST /logout (the middleware has checked the session and the origin).
pub async fn logout(State(st): State<AuthState>, req: Request) -> Response {
    if let Some(c) = cookie(req.headers(), SESSION_COOKIE) {
        let _ = st.registry.store().end_session(c);
    }
    if let Some(caller) = req.extensions().get::<Caller>() {
        st.registry.store().audit(
            &caller.who.user,
            &caller.who.via,
            action::AUTH_SIGN_OUT,
            "",
            &caller.source,
            Outcome::Ok,
            "",
        );
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&session_cookie("", st.secure_cookies, 0)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// `?token=` of the set-up link.
#[derive(Deserialize)]
pub struct SetupQuery {
    token: Option<String>,
}

fn setup_form(token: &str, error: Option<&str>) -> Html<String> {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    page(
        "Set up",
        &format!(
            "<h1>Set up milvault</h1><p class=\"muted\">Choose the first admin's name and password. This link works once.</p>{err}\
             <form method=\"post\" action=\"/setup\"><input type=\"hidden\" name=\"token\" value=\"{}\">\
             <label for=\"user\">Admin user name</label><input id=\"user\" name=\"user\" value=\"admin\" required>\
             <label for=\"password\">Password (at least {} characters)</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
             <button type=\"submit\">Create admin and sign in</button></form>",
            esc(token),
            crate::auth::password::MIN_LEN
        ),
    )
}

/// GET /setup?token=...
pub async fn setup_page(State(st): State<AuthState>, Query(q): Query<SetupQuery>) -> Response {
    let token = q.token.unwrap_or_default();
    match st.registry.store().setup_secret_valid(&token) {
        Ok(true) => setup_form(&token, None).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            page("Set up", "<h1>This set-up link is used or unknown</h1><p>Sign in at <a href=\"/login\">/login</a>, or add an admin with <code>milvault user add NAME --role admin</code>.</p>"),
        )
            .into_response(),
    }
}

/// The set-up form.
#[derive(Deserialize)]
pub struct SetupForm {
    token: String,
    user: String,
    password: String,
}

/// POST /setup.
pub async fn setup(State(st): State<AuthState>, req: Request) -> Response {
    let source = source_of(&st, &req);
    if !same_origin(req.headers()) {
        return (StatusCode::FORBIDDEN, "cross-site request refused").into_response();
    }
    let Form(f) = match Form::<SetupForm>::from_request(req, &()).await {
        Ok(f) => f,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let store = st.registry.store();
    match store.complete_setup(&f.token, &f.user, &f.password) {
        Ok(()) => {
            store.audit(
                &f.user,
                "setup-link",
                action::USER_ADD,
                &f.user,
                &source,
                Outcome::Ok,
                "first admin",
            );
            match store.create_session(&f.user) {
                Ok(id) => signed_in(Redirect::to("/"), &id, st.secure_cookies),
                Err(_) => Redirect::to("/login").into_response(),
            }
        }
        Err(e) => (
            crate::server::rest::error::status_of(e.kind()),
            setup_form(&f.token, Some(&e.to_string())),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_strict_and_reads_back() {
        let set = session_cookie("abc123", true, 3600);
        for part in [
            "milvault_session=abc123",
            "HttpOnly",
            "SameSite=Strict",
            "Secure",
            "Path=/",
            "Max-Age=3600",
        ] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!session_cookie("", false, 0).contains("Secure"));
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; milvault_session=abc123"),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/jobs?x=1")), "/jobs?x=1");
        assert_eq!(safe_next(Some("/backups/a%20b")), "/backups/a%20b");
        for evil in [
            "//evil.example",
            "/\t/evil.example",
            "/\\evil",
            "\\\\evil",
            "/x\r\nSet-Cookie: a=b",
            " //evil.example",
            "/\n/evil.example",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(evil)), "/", "{evil:?}");
        }
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn only_same_origin_browser_requests_pass_the_csrf_check() {
        let mut h = HeaderMap::new();
        assert!(!same_origin(&h), "no browser headers at all");
        h.insert(header::HOST, HeaderValue::from_static("portal:3000"));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://portal:3000"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h));
    }
}
