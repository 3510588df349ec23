//! Sign-in, roles scoped to databases, CSRF, API tokens and the audit log, end to end: the web
//! server with `--auth` in-process over a real Milvus 2.3.5 on SeaweedFS S3. A member of the
//! `shop` database tries to see, restore from and restore into `default` through REST v2, REST
//! v1, gRPC and the portal's server functions; a viewer tries to change things; requests without
//! credentials, without a same-origin header or with a revoked token are refused; and the audit
//! log shows each attempt.

#![allow(clippy::result_large_err)] // tonic::Status in interceptors

use std::time::Duration;

use crate::support::*;
use leptos::server_fn::ServerFn;
use milvault::{
    auth::Role,
    db::Db,
    jobs::registry::JobRegistry,
    server::grpc::pb::{self, backup_service_client::BackupServiceClient},
};
use serde_json::{json, Value};
use tonic::{metadata::MetadataValue, transport::Channel, Code};

const PASSWORD: &str = "a long test password";

struct Server(Portal);

impl std::ops::Deref for Server {
    type Target = Portal;
    fn deref(&self) -> &Portal {
        &self.0
    }
}

/// A request's credentials.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Token(&'a str),
    /// A session cookie, sent with the portal's Origin header (as a browser on the page would).
    Session(&'a str),
    /// A session cookie without any Origin or Sec-Fetch-Site header (a forged cross-site post).
    SessionNoOrigin(&'a str),
}

impl Server {
    async fn start() -> Server {
        Server::start_with(Default::default()).await
    }

    /// With sign-in on and `auth`'s other settings.
    async fn start_with(auth: milvault::server::auth::AuthOptions) -> Server {
        let svc = service(&s3_overrides("milvault", &unique("auth")));
        let registry = JobRegistry::new(svc, Db::in_memory().unwrap());
        let auth = milvault::server::auth::AuthOptions {
            enabled: true,
            ..auth
        };
        Server(Portal::start(registry, auth).await)
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        who: As<'_>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, self.url(path));
        r = match who {
            As::Nobody => r,
            As::Token(t) => r.bearer_auth(t),
            As::Session(c) => r
                .header("cookie", format!("milvault_session={c}"))
                .header("origin", self.origin()),
            As::SessionNoOrigin(c) => r.header("cookie", format!("milvault_session={c}")),
        };
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str, who: As<'_>) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, who, None).await
    }

    async fn post(&self, path: &str, who: As<'_>, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, who, Some(body))
            .await
    }

    async fn delete(&self, path: &str, who: As<'_>) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, who, None).await
    }

    /// Signs in through the form; returns the session cookie's value.
    async fn sign_in(&self, user: &str, password: &str) -> Result<String, u16> {
        sign_in_form(&self.http, &self.origin(), user, password)
            .await
            .map_err(|(status, _)| status)
    }

    /// A portal server function, called as the hydrated page calls it.
    async fn server_fn<S: ServerFn>(&self, who: As<'_>, args: Value) -> (u16, Value) {
        self.post(S::PATH, who, args).await
    }

    async fn grpc(
        &self,
        token: Option<&str>,
    ) -> BackupServiceClient<
        tonic::service::interceptor::InterceptedService<
            Channel,
            impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + use<>,
        >,
    > {
        let channel = Channel::from_shared(self.url(""))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let header: Option<MetadataValue<_>> =
            token.map(|t| format!("Bearer {t}").parse().unwrap());
        BackupServiceClient::with_interceptor(channel, move |mut req: tonic::Request<()>| {
            if let Some(h) = &header {
                req.metadata_mut().insert("authorization", h.clone());
            }
            Ok(req)
        })
    }

    async fn wait_job(&self, id: &str, who: As<'_>) -> Value {
        for _ in 0..600 {
            let (status, job) = self.get(&format!("/api/v2/jobs/{id}"), who).await;
            assert_eq!(status, 200, "{job}");
            if job["state"] != "running" {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        panic!("job {id} did not end in 5 minutes");
    }

    async fn backup_names(&self, who: As<'_>) -> Vec<String> {
        let (status, page) = self.get("/api/v2/backups?limit=500", who).await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    }

    /// Audit entries (as the admin) matching a query string.
    async fn audit(&self, admin: &str, query: &str) -> Vec<Value> {
        let (status, v) = self
            .get(
                &format!("/api/v2/audit?limit=1000&{query}"),
                As::Token(admin),
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v.as_array().unwrap().clone()
    }
}

fn has_entry(entries: &[Value], actor: &str, action: &str, target: &str) -> bool {
    entries.iter().any(|e| {
        e["actor"] == actor
            && e["action"].as_str().unwrap().starts_with(action)
            && e["target"].as_str().unwrap().contains(target)
    })
}

/// The people and backups of the team scenario: an admin, alice (a member of `shop`), vic (a
/// viewer), each with a token, and the admin's backups of one collection of each database.
struct Team {
    root: String,
    alice: String,
    vic: String,
    shop_b: String,
    def_b: String,
}

impl Team {
    async fn sign_up(s: &Server) -> Team {
        let store = s.registry.store();
        store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
        store
            .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
            .unwrap();
        store.add_user("vic", PASSWORD, Role::Viewer, &[]).unwrap();
        let (root, _) = store.create_token("root", "test admin").unwrap();
        let (alice_t, _) = store.create_token("alice", "alice's script").unwrap();
        let (vic, _) = store.create_token("vic", "dashboard").unwrap();
        Team {
            root,
            alice: alice_t,
            vic,
            shop_b: unique("shop"),
            def_b: unique("def"),
        }
    }
}

#[tokio::test]
async fn a_team_member_stays_in_its_databases_through_every_front_end() {
    let s = Server::start().await;
    let t = Team::sign_up(&s).await;
    nothing_answers_without_credentials(&s, &t).await;
    the_admin_backs_up_each_database(&s, &t).await;
    rest_keeps_her_in_her_database(&s, &t).await;
    grpc_keeps_her_in_her_database(&s, &t).await;
    let cookie = the_portal_keeps_her_in_her_database(&s, &t).await;
    a_viewer_changes_nothing(&s, &t).await;
    her_token_and_session_end_when_she_ends_them(&s, &cookie).await;
    every_attempt_is_audited(&s, &t).await;
}

/// REST, gRPC and server functions refuse anonymous callers; pages redirect to sign-in.
async fn nothing_answers_without_credentials(s: &Server, t: &Team) {
    let root = As::Token(&t.root);
    let alice = As::Token(&t.alice);
    // nothing without credentials: REST, gRPC, server functions; pages redirect to sign-in
    assert_eq!(s.get("/api/v2/backups", As::Nobody).await.0, 401);
    assert_eq!(s.get("/api/v1/list", As::Nobody).await.0, 401);
    let e = s
        .grpc(None)
        .await
        .list_backups(pb::ListBackupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated, "{e:?}");
    assert_eq!(
        s.server_fn::<app::server::ListBackups>(As::Nobody, json!({}))
            .await
            .0,
        401
    );
    let page = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 303);
    assert_eq!(page.headers()["location"], "/login?next=%2F");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert!(page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    // health probes stay open; /metrics answers 401 (a scraper is not sent to the sign-in
    // page), and a user limited to some databases may not read it (it names every policy)
    assert_eq!(s.get("/api/v2/health", As::Nobody).await.0, 200);
    assert_eq!(s.get("/metrics", As::Nobody).await.0, 401);
    assert_eq!(s.get("/metrics", alice).await.0, 403);
    assert_eq!(s.get("/metrics", root).await.0, 200);
}

/// The admin backs up one collection of each database.
async fn the_admin_backs_up_each_database(s: &Server, t: &Team) {
    let root = As::Token(&t.root);
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // the admin backs up one collection of each database
    for (name, coll) in [(&shop_b, "shop.reviews"), (&def_b, "demo_products")] {
        let (status, job) = s
            .post(
                "/api/v2/backups",
                root,
                json!({"name": name, "collections": [coll]}),
            )
            .await;
        assert_eq!(status, 202, "{job}");
        let end = s.wait_job(job["id"].as_str().unwrap(), root).await;
        assert_eq!(end["state"], "succeeded", "{end}");
    }
}

/// REST v2 and v1: alice sees and restores only her database's backups.
async fn rest_keeps_her_in_her_database(s: &Server, t: &Team) {
    let root = As::Token(&t.root);
    let alice = As::Token(&t.alice);
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // REST v2: alice sees her database's backup only, and cannot touch the other (to her it
    // does not exist)
    let names = s.backup_names(alice).await;
    assert!(
        names.contains(shop_b) && !names.contains(def_b),
        "{names:?}"
    );
    let (status, err) = s.get(&format!("/api/v2/backups/{def_b}"), alice).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("backup_not_found")),
        "{err}"
    );
    let (status, _) = s
        .post(
            &format!("/api/v2/backups/{def_b}/restore"),
            alice,
            json!({"suffix": "_x"}),
        )
        .await;
    assert_eq!(status, 404);
    // ... nor restore her own backup into the other database
    let (status, err) = s
        .post(
            &format!("/api/v2/backups/{shop_b}/restore"),
            alice,
            json!({"renames": ["shop.reviews:default.stolen_reviews"]}),
        )
        .await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default"),
        "{err}"
    );
    let (status, _) = s.delete(&format!("/api/v2/backups/{def_b}"), alice).await;
    assert_eq!(status, 404);
    assert!(
        s.backup_names(root).await.contains(def_b),
        "the refused delete kept it"
    );
    // a backup of everything is a backup of her databases only
    let (status, err) = s
        .post(
            "/api/v2/backups",
            alice,
            json!({"collections": ["demo_products"]}),
        )
        .await;
    assert_eq!(status, 403, "{err}");

    // REST v1 (milvus-backup's shapes)
    let (status, v1) = s.get("/api/v1/list", alice).await;
    assert_eq!(status, 200);
    let v1_names: Vec<&str> = v1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(v1_names.contains(&shop_b.as_str()) && !v1_names.contains(&def_b.as_str()));
    let (status, v1) = s
        .post(
            "/api/v1/restore",
            alice,
            json!({"backup_name": def_b, "collection_suffix": "_v1"}),
        )
        .await;
    assert_eq!(status, 404, "{v1}");
    let (status, _) = s
        .get(&format!("/api/v1/get_backup?backup_name={def_b}"), alice)
        .await;
    assert_eq!(status, 404);
}

/// gRPC with alice's token: the same refusals.
async fn grpc_keeps_her_in_her_database(s: &Server, t: &Team) {
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // gRPC with her token
    let mut g = s.grpc(Some(&t.alice)).await;
    let e = g
        .get_backup(pb::GetBackupRequest {
            name: def_b.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = g
        .restore(pb::RestoreRequest {
            backup_name: def_b.clone(),
            suffix: "_g".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = g
        .restore(pb::RestoreRequest {
            backup_name: shop_b.clone(),
            renames: vec!["shop.reviews:default.stolen_grpc".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let listed = g
        .list_backups(pb::ListBackupsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let grpc_names: Vec<String> = listed.backups.into_iter().map(|b| b.name).collect();
    assert!(grpc_names.contains(shop_b) && !grpc_names.contains(def_b));
}

/// The portal's server functions, signed in with a password; returns her session cookie.
async fn the_portal_keeps_her_in_her_database(s: &Server, t: &Team) -> String {
    let alice = As::Token(&t.alice);
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // the portal's server functions, signed in with a password
    assert_eq!(s.sign_in("alice", "wrong password").await, Err(401));
    let cookie = s.sign_in("alice", PASSWORD).await.unwrap();
    let session = As::Session(&cookie);
    let (status, rows) = s
        .server_fn::<app::server::ListBackups>(session, json!({}))
        .await;
    assert_eq!(status, 200, "{rows}");
    let portal_names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(portal_names.contains(&shop_b.as_str()) && !portal_names.contains(&def_b.as_str()));
    let form = |backup: &str, target_db: &str, suffix: &str| {
        let coll = if backup.starts_with("shop") {
            "shop.reviews"
        } else {
            "default.demo_products"
        };
        json!({"form": {"backup": backup, "collections": [coll], "target_db": target_db,
            "suffix": suffix, "renames": [], "drop_existing": false, "meta_only": false,
            "restore_index": false, "load": false}})
    };
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(session, form(def_b, "", "_p"))
        .await;
    assert_ne!(status, 200, "{err}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(session, form(shop_b, "default", "_p"))
        .await;
    assert_ne!(status, 200, "{err}");
    // a forged cross-site post with her cookie is refused before it reaches the function
    let suffix = format!("_{}", &unique("r")[2..]);
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(
            As::SessionNoOrigin(&cookie),
            form(shop_b, "", &suffix),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("csrf")),
        "{err}"
    );
    // her own restore, into her own database, works and every row comes back
    let (status, job_id) = s
        .server_fn::<app::server::StartRestore>(session, form(shop_b, "", &suffix))
        .await;
    assert_eq!(status, 200, "{job_id}");
    let end = s.wait_job(job_id.as_str().unwrap(), alice).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    let rows = assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}"));
    assert!(rows > 0);
    // the same restore again would write over what it made: refused, naming it, nothing started
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(session, form(shop_b, "", &suffix))
        .await;
    assert_ne!(status, 200, "{err}");
    assert!(
        err.to_string()
            .contains(&format!("shop.reviews{suffix} exist already in Milvus")),
        "{err}"
    );
    // her jobs list shows her restore but not the admin's backup of `default`
    let (_, jobs) = s.get("/api/v2/jobs?limit=500", alice).await;
    let kinds: Vec<(&str, &str)> = jobs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["kind"].as_str().unwrap(),
                j["backup_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("restore", shop_b.as_str())), "{kinds:?}");
    assert!(!kinds.iter().any(|(_, b)| *b == def_b), "{kinds:?}");

    cookie
}

/// A viewer reads and changes nothing; only admins read the audit log.
async fn a_viewer_changes_nothing(s: &Server, t: &Team) {
    let root = As::Token(&t.root);
    let alice = As::Token(&t.alice);
    let vic = As::Token(&t.vic);
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // a viewer reads and changes nothing
    let names = s.backup_names(vic).await;
    assert!(names.contains(def_b) && names.contains(shop_b));
    assert_eq!(
        s.post(
            "/api/v2/backups",
            vic,
            json!({"collections": ["demo_products"]})
        )
        .await
        .0,
        403
    );
    assert_eq!(
        s.delete(&format!("/api/v2/backups/{def_b}"), vic).await.0,
        403
    );
    assert_eq!(
        s.post(&format!("/api/v2/backups/{def_b}/verify"), vic, json!({}))
            .await
            .0,
        403
    );
    assert_eq!(
        s.post(
            "/api/v2/policies",
            vic,
            json!({"name": "p", "cron": "0 2 * * *"})
        )
        .await
        .0,
        403
    );
    let e = s
        .grpc(Some(match vic {
            As::Token(t) => t,
            _ => unreachable!(),
        }))
        .await
        .delete_backup(pb::DeleteBackupRequest {
            name: def_b.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(s.backup_names(root).await.contains(def_b));
    // only admins read the audit log
    assert_eq!(s.get("/api/v2/audit", alice).await.0, 403);
}

/// A token alice makes works until she revokes it; signing out ends her session.
async fn her_token_and_session_end_when_she_ends_them(s: &Server, cookie: &str) {
    let session = As::Session(cookie);
    // a token she makes works until she revokes it
    let (status, made) = s
        .post("/api/v2/tokens", session, json!({"name": "nightly"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let token = made["token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/v2/backups", As::Token(&token)).await.0, 200);
    let id = made["info"]["id"].as_str().unwrap();
    assert_eq!(
        s.delete(&format!("/api/v2/tokens/{id}"), session).await.0,
        204
    );
    assert_eq!(s.get("/api/v2/backups", As::Token(&token)).await.0, 401);
    let e = s
        .grpc(Some(&token))
        .await
        .list_backups(pb::ListBackupsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);

    // signing out ends the session
    let r = s
        .http
        .post(s.url("/logout"))
        .header("cookie", format!("milvault_session={cookie}"))
        .header("origin", s.origin())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(s.get("/api/v2/backups", session).await.0, 401);
}

/// The audit log shows every attempt, allowed and refused: who, when, from where; as CSV too.
async fn every_attempt_is_audited(s: &Server, t: &Team) {
    let root = As::Token(&t.root);
    let shop_b = &t.shop_b;
    let def_b = &t.def_b;
    // the audit log shows every attempt, allowed and refused
    let denied = s
        .audit(
            match root {
                As::Token(t) => t,
                _ => unreachable!(),
            },
            "outcome=denied",
        )
        .await;
    for (actor, action, target) in [
        ("anonymous", "request", "/api/v2/backups"),
        ("anonymous", "request", "/api/v1/list"),
        ("anonymous", "request", "ListBackups"),
        ("alice", "backup.read", def_b.as_str()),
        ("alice", "backup.restore", def_b.as_str()),
        ("alice", "backup.restore", shop_b.as_str()),
        ("alice", "backup.delete", def_b.as_str()),
        ("alice", "backup.create", ""),
        ("alice", "auth.sign_in", ""),
        ("alice", "request", "POST"),
        ("vic", "backup.create", ""),
        ("vic", "backup.delete", def_b.as_str()),
        ("vic", "backup.verify", def_b.as_str()),
        ("vic", "policy.add", "p"),
        ("alice", "audit.read", ""),
        ("anonymous", "request", "GET /api/v2/backups"),
    ] {
        assert!(
            has_entry(&denied, actor, action, target),
            "no denied entry for {actor} {action} {target}: {denied:#?}"
        );
    }
    let root_t = match root {
        As::Token(t) => t,
        _ => unreachable!(),
    };
    let ok = s.audit(root_t, "outcome=ok&actor=alice").await;
    for (action, target) in [
        ("backup.restore", shop_b.as_str()),
        ("auth.sign_in", ""),
        ("token.create", "nightly"),
        ("token.revoke", ""),
        ("auth.sign_out", ""),
    ] {
        assert!(
            has_entry(&ok, "alice", action, target),
            "no ok entry for alice {action}: {ok:#?}"
        );
    }
    // who, when, from where
    let restore = ok.iter().find(|e| e["action"] == "backup.restore").unwrap();
    assert_eq!(restore["source"], "127.0.0.1");
    assert_eq!(restore["via"], "session");
    assert!(restore["at"].as_str().unwrap().starts_with("20"));
    // exportable as CSV
    let csv = s
        .http
        .get(s.url("/api/v2/audit?format=csv&actor=vic"))
        .bearer_auth(root_t)
        .send()
        .await
        .unwrap();
    assert!(csv.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("seq,at,actor,via,action,target,source,outcome,detail\n"));
    assert!(csv.lines().skip(1).all(|l| l.contains(",vic,")), "{csv}");
    assert!(csv.lines().count() >= 5, "{csv}");
}

#[tokio::test]
async fn sign_in_backs_off_after_repeated_failures() {
    let s = Server::start().await;
    s.registry
        .store()
        .add_user("mallory", PASSWORD, Role::Operator, &[])
        .unwrap();
    for _ in 0..5 {
        assert_eq!(s.sign_in("mallory", "guess").await, Err(401));
    }
    // now even the right password waits
    assert_eq!(s.sign_in("mallory", PASSWORD).await, Err(429));
    // X-Forwarded-For from a peer that is not a trusted proxy changes nothing: this address
    // has failed 5 times, whatever it claims
    let r = s
        .http
        .post(s.url("/login"))
        .header("origin", s.origin())
        .header("x-forwarded-for", "198.51.100.77")
        .form(&[("user", "someone_else"), ("password", "guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // a sign-in form posted from another site is refused
    let r = s
        .http
        .post(s.url("/login"))
        .header("origin", "http://evil.example")
        .form(&[("user", "mallory"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_address_counts() {
    let s = Server::start_with(milvault::server::auth::AuthOptions {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Default::default()
    })
    .await;
    let attempt = |user: String, client: &'static str| {
        let req = s
            .http
            .post(s.url("/login"))
            .header("origin", s.origin())
            .header("x-forwarded-for", client)
            .form(&[("user", user.as_str()), ("password", "guess")]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // five failures (each for another name) from one client behind the proxy
    for i in 0..5 {
        assert_eq!(attempt(format!("guess{i}"), "198.51.100.1").await, 401);
    }
    // that client now waits; another client behind the same proxy does not
    assert_eq!(attempt("guess9".into(), "198.51.100.1").await, 429);
    assert_eq!(attempt("guess9".into(), "198.51.100.2").await, 401);
    // and the audit log says where each came from
    let entries = s
        .registry
        .store()
        .audit_entries(&Default::default())
        .unwrap();
    let sources: Vec<&str> = entries.iter().rev().map(|e| e.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            "198.51.100.1",
            "198.51.100.1",
            "198.51.100.1",
            "198.51.100.1",
            "198.51.100.1",
            "198.51.100.1",
            "198.51.100.2"
        ]
    );
}

#[tokio::test]
async fn milvus_sign_in_is_refused_when_milvus_does_not_check_passwords() {
    // this Milvus runs without authorization: it would take any password for `root`
    let s = Server::start_with(milvault::server::auth::AuthOptions {
        sign_in: milvault::auth::sign_in::SignInOptions { milvus_users: true },
        ..Default::default()
    })
    .await;
    let r = s
        .http
        .post(s.url("/login"))
        .header("origin", format!("http://{}", s.addr))
        .form(&[("user", "root"), ("password", "not the password")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let page = r.text().await.unwrap();
    assert!(page.contains("does not check passwords"), "{page}");
    assert!(
        s.registry.store().users().unwrap().is_empty(),
        "nobody was let in"
    );
}

#[tokio::test]
async fn the_first_admin_is_set_through_a_one_time_link_and_exposure_needs_sign_in() {
    let s = Server::start().await;
    let store = s.registry.store();
    let secret = store.create_setup_secret().unwrap();
    assert_eq!(
        s.http
            .get(s.url("/setup?token=guess"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );
    let form = s
        .http
        .get(s.url(&format!("/setup?token={secret}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 200);
    let post = |password: &'static str| {
        s.http
            .post(s.url("/setup"))
            .header("origin", s.origin())
            .form(&[
                ("token", secret.as_str()),
                ("user", "boss"),
                ("password", password),
            ])
            .send()
    };
    // a weak password is refused and the link still works
    assert_eq!(post("short").await.unwrap().status().as_u16(), 400);
    let done = post(PASSWORD).await.unwrap();
    assert_eq!(done.status().as_u16(), 303);
    assert!(done.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .starts_with("milvault_session="));
    assert_eq!(store.user("boss").unwrap().unwrap().role, Role::Admin);
    // used: it works no more
    assert_eq!(
        post("another long password")
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    assert_eq!(store.users().unwrap().len(), 1);

    // serving beyond loopback without sign-in is refused before anything listens
    let db = work_dir(&unique("expose")).join("jobs.sqlite");
    let (code, _, err) = cli(&[
        "serve",
        "--addr",
        "0.0.0.0:3999",
        "--job-db",
        db.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("refusing to serve on 0.0.0.0:3999 without sign-in"),
        "{err}"
    );
}

/// `v` (a JSON answer or a message) with every occurrence of `name` replaced, so that the answers
/// about two backups can be compared whole.
fn named(v: &Value, name: &str) -> String {
    v.to_string().replace(name, "NAME")
}

/// v1 answers carry a fresh request id; everything else must be equal.
fn without_request_id(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("requestId");
    }
    v
}

#[tokio::test]
async fn a_scoped_user_sees_only_its_databases_counts_and_policies() {
    let s = Server::start().await;
    let store = s.registry.store();
    store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
    store
        .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
        .unwrap();
    store
        .add_user("sam", PASSWORD, Role::Viewer, &["shop".into()])
        .unwrap();
    store.add_user("vera", PASSWORD, Role::Viewer, &[]).unwrap();
    let (root_t, _) = store.create_token("root", "t").unwrap();
    let (alice_t, _) = store.create_token("alice", "t").unwrap();
    let (sam_t, _) = store.create_token("sam", "t").unwrap();
    let (vera_t, _) = store.create_token("vera", "t").unwrap();
    let root = As::Token(&root_t);

    // the Cluster page's checks name Milvus' databases with their collection counts (the counts
    // are left out of the comparisons: other tests on the same Milvus add collections meanwhile)
    let milvus_detail = |v: &Value| -> String {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["what"] == "milvus")
            .map(|c| {
                c["detail"]
                    .as_str()
                    .unwrap()
                    .chars()
                    .filter(|ch| !ch.is_ascii_digit())
                    .collect::<String>()
            })
            .unwrap_or_else(|| panic!("no milvus check: {v}"))
    };
    let (status, all) = s.get("/api/v2/cluster", root).await;
    assert_eq!(status, 200, "{all}");
    let detail = milvus_detail(&all);
    assert!(
        detail.contains("default (") && detail.contains("shop ("),
        "{detail}"
    );
    // a viewer with no databases reads everything, as `authorize` lets it (asked together with
    // root until both answer alike: other tests on this Milvus create and drop collections and
    // databases meanwhile, which changes the wording, e.g. "1 collection" and "2 collections")
    let mut seen = Vec::new();
    for _ in 0..5 {
        let (_, now) = s.get("/api/v2/cluster", root).await;
        let (_, v) = s.get("/api/v2/cluster", As::Token(&vera_t)).await;
        let (root_now, vera) = (milvus_detail(&now), milvus_detail(&v));
        if root_now == vera {
            seen.clear();
            break;
        }
        seen.push((root_now, vera));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        seen.is_empty(),
        "a viewer without databases saw another cluster: {seen:?}"
    );
    for token in [&alice_t, &sam_t] {
        let (status, v) = s.get("/api/v2/cluster", As::Token(token)).await;
        assert_eq!(status, 200, "{v}");
        let mine = milvus_detail(&v);
        assert!(mine.contains("shop ("), "{mine}");
        assert!(!mine.contains("default ("), "{mine}");
        let dbs: Vec<&str> = v["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["database"].as_str().unwrap())
            .collect();
        assert!(
            !dbs.is_empty() && dbs.iter().all(|d| *d == "shop"),
            "{dbs:?}"
        );
    }
    // the portal's Cluster page
    let cookie = s.sign_in("alice", PASSWORD).await.unwrap();
    let (status, page) = s
        .server_fn::<app::server::ClusterStatus>(As::Session(&cookie), json!({}))
        .await;
    assert_eq!(status, 200, "{page}");
    let mine = milvus_detail(&page);
    assert!(
        mine.contains("shop (") && !mine.contains("default ("),
        "{mine}"
    );

    // policies: of everything, of her database, of hers and another, of another
    let tag = unique("p");
    let policies = [
        (format!("{tag}_all"), json!({})),
        (
            format!("{tag}_shop"),
            json!({"collections": ["shop.reviews"]}),
        ),
        (format!("{tag}_shopdb"), json!({"databases": ["shop"]})),
        (
            format!("{tag}_mixed"),
            json!({"collections": ["shop.reviews", "demo_products"]}),
        ),
        (format!("{tag}_def"), json!({"databases": ["default"]})),
    ];
    for (name, what) in &policies {
        let mut body = json!({"name": name, "cron": "0 2 * * *", "time_zone": "UTC"});
        body.as_object_mut()
            .unwrap()
            .extend(what.as_object().unwrap().clone());
        let (status, v) = s.post("/api/v2/policies", root, body).await;
        assert_eq!(status, 201, "{v}");
    }
    let mut mine = vec![format!("{tag}_shop"), format!("{tag}_shopdb")];
    mine.sort();
    let listed = |v: &Value, key: &str| -> Vec<String> {
        let mut n: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = if key.is_empty() { p } else { &p[key] };
                p["name"].as_str().unwrap().to_string()
            })
            .collect();
        n.sort();
        n
    };
    let (status, v) = s.get("/api/v2/policies", root).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(listed(&v, "policy").len(), 5, "{v}");
    let (_, v) = s.get("/api/v2/policies", As::Token(&vera_t)).await;
    assert_eq!(listed(&v, "policy").len(), 5, "{v}");
    for token in [&alice_t, &sam_t] {
        let (status, v) = s.get("/api/v2/policies", As::Token(token)).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(listed(&v, "policy"), mine, "{v}");
    }
    // one she cannot see is answered like one that does not exist
    let (status, hidden) = s
        .get(&format!("/api/v2/policies/{tag}_all"), As::Token(&alice_t))
        .await;
    let (status_missing, missing) = s
        .get(&format!("/api/v2/policies/{tag}_none"), As::Token(&alice_t))
        .await;
    assert_eq!(
        (status, named(&hidden, &format!("{tag}_all"))),
        (status_missing, named(&missing, &format!("{tag}_none")))
    );
    assert_eq!(status, 404);
    // gRPC and the portal list the same
    let got = s
        .grpc(Some(&alice_t))
        .await
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner();
    let mut names: Vec<String> = got.policies.into_iter().map(|p| p.name).collect();
    names.sort();
    assert_eq!(names, mine);
    let (status, v) = s
        .server_fn::<app::server::ListPolicies>(As::Session(&cookie), json!({}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(listed(&v, ""), mine, "{v}");
}

#[tokio::test]
async fn a_backup_outside_ones_databases_is_answered_like_a_missing_one() {
    let s = Server::start().await;
    let store = s.registry.store();
    store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
    store
        .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
        .unwrap();
    let (root_t, _) = store.create_token("root", "t").unwrap();
    let (alice_t, _) = store.create_token("alice", "t").unwrap();
    let root = As::Token(&root_t);
    let alice = As::Token(&alice_t);
    let cookie = s.sign_in("alice", PASSWORD).await.unwrap();
    let session = As::Session(&cookie);

    // a backup of `default` exists; `missing` does not
    let hidden = unique("hid");
    let missing = unique("hid");
    let (status, job) = s
        .post(
            "/api/v2/backups",
            root,
            json!({"name": hidden, "collections": ["demo_products"], "meta_only": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let end = s.wait_job(job["id"].as_str().unwrap(), root).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    assert_eq!(
        s.get(&format!("/api/v2/backups/{hidden}"), root).await.0,
        200
    );

    // REST v2, REST v1, the metadata download and the portal's server functions
    type Call = Box<dyn Fn(String) -> (reqwest::Method, String, Option<Value>)>;
    let calls: Vec<(&str, Call)> = vec![
        (
            "v2 get",
            Box::new(|n| (reqwest::Method::GET, format!("/api/v2/backups/{n}"), None)),
        ),
        (
            "v2 delete",
            Box::new(|n| {
                (
                    reqwest::Method::DELETE,
                    format!("/api/v2/backups/{n}"),
                    None,
                )
            }),
        ),
        (
            "v2 restore",
            Box::new(|n| {
                (
                    reqwest::Method::POST,
                    format!("/api/v2/backups/{n}/restore"),
                    Some(json!({"suffix": "_x"})),
                )
            }),
        ),
        (
            "v2 preview",
            Box::new(|n| {
                (
                    reqwest::Method::POST,
                    format!("/api/v2/backups/{n}/restore-preview"),
                    Some(json!({})),
                )
            }),
        ),
        (
            "v2 verify",
            Box::new(|n| {
                (
                    reqwest::Method::POST,
                    format!("/api/v2/backups/{n}/verify"),
                    Some(json!({})),
                )
            }),
        ),
        (
            "download",
            Box::new(|n| {
                (
                    reqwest::Method::GET,
                    format!("/download/backups/{n}/backup.json"),
                    None,
                )
            }),
        ),
        (
            "v1 get",
            Box::new(|n| {
                (
                    reqwest::Method::GET,
                    format!("/api/v1/get_backup?backup_name={n}"),
                    None,
                )
            }),
        ),
        (
            "v1 delete",
            Box::new(|n| {
                (
                    reqwest::Method::DELETE,
                    format!("/api/v1/delete?backup_name={n}"),
                    None,
                )
            }),
        ),
    ];
    for (what, call) in &calls {
        for who in [alice, session] {
            let mut answers = Vec::new();
            for name in [&hidden, &missing] {
                let (method, path, body) = call(name.clone());
                let (status, v) = s.send(method, &path, who, body).await;
                answers.push((status, named(&without_request_id(v), name)));
            }
            assert_eq!(answers[0], answers[1], "{what}");
            assert!(matches!(answers[0].0, 404 | 200), "{what}: {answers:?}");
        }
    }
    let (status, v) = s.get(&format!("/api/v2/backups/{missing}"), alice).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("backup_not_found"))
    );
    let form = |n: &str| {
        json!({"form": {"backup": n, "collections": ["default.demo_products"], "target_db": "",
            "suffix": "_p", "renames": [], "drop_existing": false, "meta_only": false,
            "restore_index": false, "load": false}})
    };
    let mut portal = Vec::new();
    for name in [&hidden, &missing] {
        let mut answers = Vec::new();
        for (status, v) in [
            s.server_fn::<app::server::GetBackupDetail>(session, json!({"name": name}))
                .await,
            s.server_fn::<app::server::DeleteBackup>(session, json!({"name": name}))
                .await,
            s.server_fn::<app::server::StartVerify>(session, json!({"name": name}))
                .await,
            s.server_fn::<app::server::StartRestore>(session, form(name))
                .await,
            s.server_fn::<app::server::PreviewRestore>(session, form(name))
                .await,
        ] {
            assert_ne!(status, 200, "{v}");
            answers.push((status, named(&v, name)));
        }
        portal.push(answers);
    }
    assert_eq!(portal[0], portal[1]);
    assert!(portal[0][0].1.contains("does not exist"), "{:?}", portal[0]);

    // gRPC
    let mut g = s.grpc(Some(&alice_t)).await;
    let mut grpc = Vec::new();
    for name in [&hidden, &missing] {
        let n = name.clone();
        let answers: Vec<(Code, String)> = vec![
            g.get_backup(pb::GetBackupRequest {
                name: n.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .unwrap_err(),
            g.delete_backup(pb::DeleteBackupRequest {
                name: n.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .unwrap_err(),
            g.verify_backup(pb::VerifyBackupRequest {
                name: n.clone(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .unwrap_err(),
            g.restore(pb::RestoreRequest {
                backup_name: n.clone(),
                suffix: "_g".into(),
                ..Default::default()
            })
            .await
            .map(|_| ())
            .unwrap_err(),
        ]
        .into_iter()
        .map(|e| (e.code(), e.message().replace(name.as_str(), "NAME")))
        .collect();
        grpc.push(answers);
    }
    assert_eq!(grpc[0], grpc[1]);
    assert!(
        grpc[0].iter().all(|(c, _)| *c == Code::NotFound),
        "{grpc:?}"
    );

    // nothing was removed, and the audit log names each refusal with its real reason
    assert_eq!(
        s.get(&format!("/api/v2/backups/{hidden}"), root).await.0,
        200
    );
    let denied = s.audit(&root_t, "outcome=denied&actor=alice").await;
    for action in [
        "backup.read",
        "backup.delete",
        "backup.restore",
        "backup.verify",
    ] {
        let e = denied
            .iter()
            .find(|e| e["action"] == action && e["target"] == hidden.as_str())
            .unwrap_or_else(|| panic!("no denied {action} of {hidden}: {denied:#?}"));
        assert!(
            e["detail"].as_str().unwrap().contains("default"),
            "{action}: {e}"
        );
    }
    assert!(
        !denied.iter().any(|e| e["target"] == missing.as_str()),
        "{denied:#?}"
    );
}

/// An open server-sent event stream.
struct Sse(reqwest::Response);

impl Sse {
    async fn open(s: &Server, path: &str, who: As<'_>) -> Sse {
        let r = s.http.get(s.url(path));
        let r = match who {
            As::Token(t) => r.bearer_auth(t),
            As::Session(c) => r.header("cookie", format!("milvault_session={c}")),
            _ => r,
        };
        let resp = r.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        let mut sse = Sse(resp);
        assert!(sse.next().await.is_some(), "{path} sent nothing");
        sse
    }

    /// The next chunk; `None` once the server ended the stream.
    async fn next(&mut self) -> Option<bytes::Bytes> {
        self.0.chunk().await.ok().flatten()
    }

    /// Whether the server ends the stream within `secs` (while the job keeps changing).
    async fn ends_within(&mut self, secs: u64) -> bool {
        tokio::time::timeout(Duration::from_secs(secs), async {
            while self.next().await.is_some() {}
        })
        .await
        .is_ok()
    }

    /// Whether the stream is still open and sends the job's changes.
    async fn still_flows(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(3), self.next()).await,
            Ok(Some(_))
        )
    }
}

/// Whether a WatchJob stream ends (with `code`) within `secs`, while the job keeps changing.
async fn watch_ends(w: &mut tonic::Streaming<pb::Job>, code: Code, secs: u64) -> bool {
    let end = tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            match w.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => return None,
                Err(e) => return Some(e.code()),
            }
        }
    })
    .await;
    matches!(end, Ok(Some(c)) if c == code)
}

#[tokio::test]
async fn revoking_a_token_or_removing_a_user_ends_their_open_job_streams() {
    use milvault::jobs::{JobKind, Progress};

    let s = Server::start().await;
    let store = s.registry.store();
    store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
    for user in ["alice", "carol"] {
        store
            .add_user(user, PASSWORD, Role::Member, &["shop".into()])
            .unwrap();
    }
    let (root_t, _) = store.create_token("root", "t").unwrap();
    let (doomed, doomed_info) = store.create_token("alice", "doomed").unwrap();
    let (kept, _) = store.create_token("alice", "kept").unwrap();
    let (carol_t, _) = store.create_token("carol", "t").unwrap();
    let cookie = s.sign_in("alice", PASSWORD).await.unwrap();

    // a job of her database that keeps running (and changing) until the test ends it
    let (progress, handle) = Progress::new(JobKind::Backup, &unique("live"));
    let job = s.registry.record(handle);
    store.set_job_databases(&job.id, &["shop".into()]).unwrap();
    let ticker = {
        let p = progress.clone();
        tokio::spawn(async move {
            for i in 0u64.. {
                p.step(format!("step {i}"));
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let one = format!("/events/jobs/{}", job.id);
    let watch = |token: String| {
        let id = job.id.clone();
        let s = &s;
        async move {
            s.grpc(Some(&token))
                .await
                .watch_job(pb::GetJobRequest { id })
                .await
                .unwrap()
                .into_inner()
        }
    };

    // streams with the token she will revoke, with another token, with her session
    let mut doomed_one = Sse::open(&s, &one, As::Token(&doomed)).await;
    let mut doomed_list = Sse::open(&s, "/events/jobs", As::Token(&doomed)).await;
    let mut doomed_watch = watch(doomed.clone()).await;
    assert!(doomed_watch.message().await.unwrap().is_some());
    let mut kept_one = Sse::open(&s, &one, As::Token(&kept)).await;
    let mut kept_watch = watch(kept.clone()).await;
    let mut session_one = Sse::open(&s, &one, As::Session(&cookie)).await;
    let mut session_list = Sse::open(&s, "/events/jobs", As::Session(&cookie)).await;
    let mut carol_one = Sse::open(&s, &one, As::Token(&carol_t)).await;
    let mut carol_watch = watch(carol_t.clone()).await;

    // she revokes one token: its streams end, the others go on
    let (status, v) = s
        .delete(
            &format!("/api/v2/tokens/{}", doomed_info.id),
            As::Token(&kept),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert!(
        doomed_one.ends_within(6).await,
        "job stream of a revoked token"
    );
    assert!(
        doomed_list.ends_within(6).await,
        "job list stream of a revoked token"
    );
    assert!(
        watch_ends(&mut doomed_watch, Code::Unauthenticated, 6).await,
        "WatchJob of a revoked token"
    );
    assert!(kept_one.still_flows().await);
    assert!(session_one.still_flows().await);
    assert!(kept_watch.message().await.unwrap().is_some());

    // carol's databases no longer hold the job: her streams end
    let (status, v) = s
        .send(
            reqwest::Method::PUT,
            "/api/v2/users/carol",
            As::Token(&root_t),
            Some(json!({"role": "member", "databases": ["elsewhere"]})),
        )
        .await;
    assert_eq!(status, 204, "{v}");
    assert!(
        carol_one.ends_within(6).await,
        "job stream out of her databases"
    );
    assert!(
        watch_ends(&mut carol_watch, Code::PermissionDenied, 6).await,
        "WatchJob out of her databases"
    );

    // the admin removes alice: her other token's and her session's streams end too
    assert!(kept_one.still_flows().await);
    let (status, v) = s.delete("/api/v2/users/alice", As::Token(&root_t)).await;
    assert_eq!(status, 204, "{v}");
    assert!(
        kept_one.ends_within(6).await,
        "job stream of a removed user"
    );
    assert!(
        watch_ends(&mut kept_watch, Code::Unauthenticated, 6).await,
        "WatchJob of a removed user"
    );
    assert!(
        session_one.ends_within(6).await,
        "job stream of a removed user's session"
    );
    assert!(
        session_list.ends_within(6).await,
        "job list stream of a removed user's session"
    );

    // the admin's own stream was never cut: the job ends and the stream with it
    let mut root_one = Sse::open(&s, &one, As::Token(&root_t)).await;
    ticker.abort();
    progress.finish(&Ok::<(), String>(()));
    assert!(root_one.ends_within(6).await);
}

/// A member cannot resume another team's interrupted backup: a resume is authorized on the
/// collections the interrupted run recorded (what it would back up), not on the request's.
#[tokio::test]
async fn a_resume_is_authorized_on_what_it_would_back_up() {
    let s = Server::start().await;
    let store = s.registry.store();
    store
        .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
        .unwrap();
    let (alice_t, _) = store.create_token("alice", "alice's script").unwrap();
    let alice = As::Token(&alice_t);
    // another team's interrupted backup: the record of its request, nothing else yet
    let name = unique("intr");
    let record = json!({"version": 1, "collections": ["default.demo_products"]});
    let backups = s.registry.service().backup_storage();
    backups
        .write(
            &format!("{name}/meta/milvault_resume.json"),
            record.to_string().into_bytes().into(),
        )
        .await
        .unwrap();
    let (status, err) = s
        .post(
            "/api/v2/backups",
            alice,
            json!({"name": name, "resume": true}),
        )
        .await;
    assert_eq!(status, 403, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default"),
        "{err}"
    );
    // nothing was copied under the name: only the record is there
    let files = backups.list_files(&name).await.unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    // her own team's interrupted backup she may resume
    let own = unique("own");
    let record = json!({"version": 1, "collections": ["shop.reviews"]});
    backups
        .write(
            &format!("{own}/meta/milvault_resume.json"),
            record.to_string().into_bytes().into(),
        )
        .await
        .unwrap();
    let (status, job) = s
        .post(
            "/api/v2/backups",
            alice,
            json!({"name": own, "resume": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let end = s.wait_job(job["id"].as_str().unwrap(), alice).await;
    assert_eq!(end["state"], "succeeded", "{end}");
}
