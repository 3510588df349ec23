//! What a web page of another site can make the admin's browser do, with and without sign-in:
//! the web server's full router in-process over a real Milvus 2.3.5 on SeaweedFS S3. Another
//! site's state-changing requests (REST v2, server functions as `text/plain`), and, without
//! sign-in, any request naming a foreign host (DNS rebinding) are refused; the portal's own
//! requests and scripts (no browser headers) still work.

use crate::support::*;
use leptos::server_fn::ServerFn;
use milvault::{
    auth::Role,
    db::Db,
    engine::commands::create::CreateBackupRequest,
    jobs::registry::JobRegistry,
    progress::{JobKind, Progress},
    server::auth::AuthOptions,
};
use serde_json::{json, Value};

struct Server {
    portal: Portal,
    /// `Authorization` value for the signed-in server (an admin's API token).
    bearer: Option<String>,
}

impl std::ops::Deref for Server {
    type Target = Portal;
    fn deref(&self) -> &Portal {
        &self.portal
    }
}

impl Server {
    async fn start(auth: bool) -> Server {
        let svc = service(&s3_overrides("milvault", &unique("xsite")));
        let store = Db::in_memory().unwrap();
        let bearer = auth.then(|| {
            store
                .add_user("root", "a long admin password", Role::Admin, &[])
                .unwrap();
            format!("Bearer {}", store.create_token("root", "xsite").unwrap().0)
        });
        let registry = JobRegistry::new(svc, store);
        let auth = AuthOptions {
            enabled: auth,
            ..Default::default()
        };
        Server {
            portal: Portal::start(registry, auth).await,
            bearer,
        }
    }

    /// A request with the given extra headers (the bearer token when signed in).
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<(&str, String)>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, self.url(path));
        if let Some(b) = &self.bearer {
            r = r.header("authorization", b);
        }
        for (k, v) in headers {
            r = r.header(*k, v);
        }
        if let Some((ct, b)) = body {
            r = r.header("content-type", ct).body(b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn policy_enabled(&self, name: &str) -> bool {
        let (status, p) = self
            .send(
                reqwest::Method::GET,
                &format!("/api/v2/policies/{name}"),
                &[],
                None,
            )
            .await;
        assert_eq!(status, 200, "{p}");
        p["policy"]["enabled"]
            .as_bool()
            .unwrap_or_else(|| panic!("no enabled flag in {p}"))
    }

    async fn backup_exists(&self, name: &str) -> bool {
        let path = format!("/api/v2/backups/{name}");
        self.send(reqwest::Method::GET, &path, &[], None).await.0 == 200
    }
}

fn json_body(v: Value) -> Option<(&'static str, String)> {
    Some(("application/json", v.to_string()))
}

async fn refuses_cross_site_writes(auth: bool) {
    let s = Server::start(auth).await;
    let own = format!("http://{}", s.addr);
    let policy = unique("xp");
    let (status, body) = s
        .send(
            reqwest::Method::POST,
            "/api/v2/policies",
            &[],
            json_body(json!({"name": policy, "collections": ["empty_coll"], "cron": "0 3 * * *"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let backup = unique("xb");
    s.registry
        .service()
        .create_backup(
            CreateBackupRequest {
                name: backup.clone(),
                collections: vec!["empty_coll".into()],
                meta_only: true,
                ..Default::default()
            },
            &Progress::detached(JobKind::Backup),
        )
        .await
        .unwrap();
    assert!(s.backup_exists(&backup).await);

    let attacks: Vec<Vec<(&str, String)>> = vec![
        vec![("origin", "http://evil.example".into())],
        vec![("origin", "null".into())],
        vec![("sec-fetch-site", "cross-site".into())],
        vec![
            ("sec-fetch-site", "same-site".into()),
            ("origin", "http://127.0.0.1:1".into()),
        ],
    ];
    for headers in &attacks {
        let pause = format!("/api/v2/policies/{policy}/pause");
        let (status, body) = s.send(reqwest::Method::POST, &pause, headers, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (403, Some("cross_site")),
            "pause with {headers:?}: {body}"
        );
        let del = format!("/api/v2/backups/{backup}");
        let (status, body) = s.send(reqwest::Method::DELETE, &del, headers, None).await;
        assert_eq!(status, 403, "delete with {headers:?}: {body}");
        // a server function with its JSON sent as text/plain, as a cross-site fetch can
        let (status, body) = s
            .send(
                reqwest::Method::POST,
                app::server::DeleteBackup::PATH,
                headers,
                Some(("text/plain", json!({"name": backup}).to_string())),
            )
            .await;
        assert_eq!(status, 403, "server function with {headers:?}: {body}");
    }
    // text/plain without any browser header is refused too: server functions take JSON only
    let (status, body) = s
        .send(
            reqwest::Method::POST,
            app::server::DeleteBackup::PATH,
            &[],
            Some(("text/plain", json!({"name": backup}).to_string())),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{body}"
    );
    assert!(
        s.policy_enabled(&policy).await,
        "a cross-site request paused the policy"
    );
    assert!(
        s.backup_exists(&backup).await,
        "a cross-site request deleted the backup"
    );

    // the portal's own requests (same origin) and scripts (no browser headers) still work
    let own_page = vec![
        ("origin", own.clone()),
        ("sec-fetch-site", "same-origin".to_string()),
    ];
    let pause = format!("/api/v2/policies/{policy}/pause");
    let (status, body) = s.send(reqwest::Method::POST, &pause, &own_page, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(!s.policy_enabled(&policy).await);
    let (status, body) = s
        .send(
            reqwest::Method::POST,
            app::server::DeleteBackup::PATH,
            &[("origin", own.clone())],
            json_body(json!({"name": backup})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(!s.backup_exists(&backup).await);
    let resume = format!("/api/v2/policies/{policy}/resume");
    let (status, body) = s.send(reqwest::Method::POST, &resume, &[], None).await;
    assert_eq!(status, 200, "{body}");
    assert!(s.policy_enabled(&policy).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_writes_are_refused_without_sign_in() {
    refuses_cross_site_writes(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_writes_are_refused_with_sign_in() {
    refuses_cross_site_writes(true).await;
}

/// DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 talks to the
/// server as `Host: evil.example:PORT`. Without sign-in nothing is served to it; with sign-in
/// the server may have any name (its cookies and tokens protect it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_names_are_refused_without_sign_in() {
    let open = Server::start(false).await;
    let foreign = vec![("host", format!("evil.example:{}", open.addr.port()))];
    for path in ["/", "/api/v2/backups", "/api/v1/list", "/api/v2/health"] {
        let (status, body) = open.send(reqwest::Method::GET, path, &foreign, None).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (421, Some("foreign_host")),
            "{path}: {body}"
        );
    }
    for host in ["localhost", "127.0.0.1", "[::1]"] {
        let h = vec![("host", format!("{host}:{}", open.addr.port()))];
        let (status, body) = open
            .send(reqwest::Method::GET, "/api/v2/health", &h, None)
            .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    let signed_in = Server::start(true).await;
    let foreign = vec![(
        "host",
        format!("milvault.example:{}", signed_in.addr.port()),
    )];
    let (status, body) = signed_in
        .send(reqwest::Method::GET, "/api/v2/backups", &foreign, None)
        .await;
    assert_eq!(status, 200, "{body}");
}
