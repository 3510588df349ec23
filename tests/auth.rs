//! Sign-in, roles scoped to databases, CSRF, API tokens and the audit log, end to end: the web
//! server with `--auth` in-process over a real Milvus 2.3.5 on SeaweedFS S3. A member of the
//! `shop` database tries to see, restore from and restore into `default` through REST v2, REST
//! v1, gRPC and the portal's server functions; a viewer tries to change things; requests without
//! credentials, without a same-origin header or with a revoked token are refused; and the audit
//! log shows each attempt.

#![allow(clippy::result_large_err)] // tonic::Status in interceptors

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use leptos::server_fn::ServerFn;
use milvault::{
    auth::Role,
    grpc::pb::{self, backup_service_client::BackupServiceClient},
    job_store::JobStore,
    registry::JobRegistry,
};
use serde_json::{json, Value};
use support::*;
use tonic::{metadata::MetadataValue, transport::Channel, Code};

const PASSWORD: &str = "a long test password";

struct Server {
    addr: SocketAddr,
    registry: Arc<JobRegistry>,
    http: reqwest::Client,
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
    async fn start_with(auth: milvault::web::auth::AuthOptions) -> Server {
        let svc = service(&s3_overrides("milvault", &unique("auth")));
        let registry = JobRegistry::new(svc, JobStore::in_memory().unwrap());
        let auth = milvault::web::auth::AuthOptions {
            enabled: true,
            ..auth
        };
        let addr = serve_portal(registry.clone(), auth).await;
        Server {
            addr,
            registry,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
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

#[tokio::test]
async fn a_team_member_stays_in_its_databases_through_every_front_end() {
    let s = Server::start().await;
    let store = s.registry.store();
    store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
    store
        .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
        .unwrap();
    store.add_user("vic", PASSWORD, Role::Viewer, &[]).unwrap();
    let (root, _) = store.create_token("root", "test admin").unwrap();
    let (alice_t, _) = store.create_token("alice", "alice's script").unwrap();
    let (vic, _) = store.create_token("vic", "dashboard").unwrap();
    let root = As::Token(&root);
    let alice = As::Token(&alice_t);
    let vic = As::Token(&vic);

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
    // health probes stay open
    assert_eq!(s.get("/api/v2/health", As::Nobody).await.0, 200);

    // the admin backs up one collection of each database
    let shop_b = unique("shop");
    let def_b = unique("def");
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

    // REST v2: alice sees her database's backup only, and cannot touch the other
    let names = s.backup_names(alice).await;
    assert!(
        names.contains(&shop_b) && !names.contains(&def_b),
        "{names:?}"
    );
    let (status, err) = s.get(&format!("/api/v2/backups/{def_b}"), alice).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("forbidden")),
        "{err}"
    );
    let (status, _) = s
        .post(
            &format!("/api/v2/backups/{def_b}/restore"),
            alice,
            json!({"suffix": "_x"}),
        )
        .await;
    assert_eq!(status, 403);
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
    assert_eq!(status, 403);
    assert!(
        s.backup_names(root).await.contains(&def_b),
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
    assert_eq!(status, 403, "{v1}");
    let (status, _) = s
        .get(&format!("/api/v1/get_backup?backup_name={def_b}"), alice)
        .await;
    assert_eq!(status, 403);

    // gRPC with her token
    let mut g = s.grpc(Some(&alice_t)).await;
    let e = g
        .get_backup(pb::GetBackupRequest {
            name: def_b.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let e = g
        .restore(pb::RestoreRequest {
            backup_name: def_b.clone(),
            suffix: "_g".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
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
    assert!(grpc_names.contains(&shop_b) && !grpc_names.contains(&def_b));

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
        .server_fn::<app::server::StartRestore>(session, form(&def_b, "", "_p"))
        .await;
    assert_ne!(status, 200, "{err}");
    assert!(err.to_string().contains("not allowed"), "{err}");
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(session, form(&shop_b, "default", "_p"))
        .await;
    assert_ne!(status, 200, "{err}");
    // a forged cross-site post with her cookie is refused before it reaches the function
    let suffix = format!("_{}", &unique("r")[2..]);
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(
            As::SessionNoOrigin(&cookie),
            form(&shop_b, "", &suffix),
        )
        .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (403, Some("csrf")),
        "{err}"
    );
    // her own restore, into her own database, works and every row comes back
    let (status, job_id) = s
        .server_fn::<app::server::StartRestore>(session, form(&shop_b, "", &suffix))
        .await;
    assert_eq!(status, 200, "{job_id}");
    let end = s.wait_job(job_id.as_str().unwrap(), alice).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    let rows = assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}"));
    assert!(rows > 0);
    // the same restore again would write over what it made: refused, naming it, nothing started
    let (status, err) = s
        .server_fn::<app::server::StartRestore>(session, form(&shop_b, "", &suffix))
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

    // a viewer reads and changes nothing
    let names = s.backup_names(vic).await;
    assert!(names.contains(&def_b) && names.contains(&shop_b));
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
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    assert!(s.backup_names(root).await.contains(&def_b));
    // only admins read the audit log
    assert_eq!(s.get("/api/v2/audit", alice).await.0, 403);

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
    let s = Server::start_with(milvault::web::auth::AuthOptions {
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
    let s = Server::start_with(milvault::web::auth::AuthOptions {
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
