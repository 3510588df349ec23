//! Hostile input, end to end (security review, issue 11): the web server with `--auth`
//! in-process over a real Milvus 2.3.5 on SeaweedFS S3, fed what an attacker sends. Client-chosen
//! REST v1 ids must not take over other callers' jobs; unauthenticated floods must not grow the
//! audit log without bound; `/api/v1/check` shows a member only its databases; sign-in redirects
//! stay on the site; the audit CSV is no spreadsheet formula; one address's wrong passwords do
//! not lock a user out everywhere; an incomplete backup can be deleted; half-sent requests are
//! closed; the job database is private to its owner.

use std::{net::SocketAddr, time::Duration};

use crate::support::*;
use milvault::{
    auth::Role, db::Db, format::layout, jobs::registry::JobRegistry, server::auth::AuthOptions,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "a long test password";

struct Server(Portal);

impl std::ops::Deref for Server {
    type Target = Portal;
    fn deref(&self) -> &Portal {
        &self.0
    }
}

impl Server {
    async fn start(store: Db, auth: AuthOptions) -> Server {
        let svc = service(&s3_overrides("milvault", &unique("hostile")));
        let registry = JobRegistry::new(svc, store);
        let auth = AuthOptions {
            enabled: true,
            ..auth
        };
        Server(Portal::start(registry, auth).await)
    }

    /// A server over an in-memory database with users root (admin) and alice (member of
    /// `shop`); returns it with their API tokens.
    async fn with_users() -> (Server, String, String) {
        let s = Server::start(Db::in_memory().unwrap(), AuthOptions::default()).await;
        let store = s.registry.store();
        store.add_user("root", PASSWORD, Role::Admin, &[]).unwrap();
        store
            .add_user("alice", PASSWORD, Role::Member, &["shop".into()])
            .unwrap();
        let (root, _) = store.create_token("root", "admin script").unwrap();
        let (alice, _) = store.create_token("alice", "alice's script").unwrap();
        (s, root, alice)
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, self.url(path)).bearer_auth(token);
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

    async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    /// Posts the sign-in form as the portal's page does, from `client` (X-Forwarded-For);
    /// returns the status and the Location header.
    async fn login(
        &self,
        user: &str,
        password: &str,
        next: &str,
        client: Option<&str>,
    ) -> (u16, String) {
        let mut r = self
            .http
            .post(self.url("/login"))
            .header("origin", self.origin());
        if let Some(c) = client {
            r = r.header("x-forwarded-for", c);
        }
        let resp = r
            .form(&[("user", user), ("password", password), ("next", next)])
            .send()
            .await
            .unwrap();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (resp.status().as_u16(), location)
    }
}

/// Waits for a job's end through the registry.
async fn wait_end(s: &Server, id: &str) {
    tokio::time::timeout(Duration::from_secs(300), s.registry.wait_ended(id))
        .await
        .expect("the job ends within 5 minutes")
        .unwrap();
}

#[tokio::test]
async fn client_chosen_v1_ids_never_take_over_another_callers_job() {
    let (s, root, alice) = Server::with_users().await;
    let backup = unique("alias");
    let (status, job) = s
        .post(
            "/api/v2/backups",
            &root,
            json!({"name": backup, "collections": ["shop.reviews"], "meta_only": true}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    wait_end(&s, job["id"].as_str().unwrap()).await;

    let restore = |suffix: &str, id: &str| {
        json!({"async": true, "backup_name": backup, "collection_names": ["shop.reviews"],
               "collection_suffix": suffix, "metaOnly": true, "id": id})
    };
    let mut made = Vec::new();
    // the admin restores; its job has the id the server chose
    let root_suffix = format!("_{}", unique("r"));
    let (status, r) = s
        .post("/api/v1/restore", &root, restore(&root_suffix, ""))
        .await;
    assert_eq!(status, 200, "{r}");
    let root_job = r["data"]["id"].as_str().unwrap().to_string();
    made.push(format!("reviews{root_suffix}"));

    // alice names her restore with the admin job's id: refused, nothing starts
    let alice_suffix = format!("_{}", unique("a"));
    let (status, r) = s
        .post("/api/v1/restore", &alice, restore(&alice_suffix, &root_job))
        .await;
    assert_eq!(status, 400, "{r}");
    assert!(r["msg"].as_str().unwrap().contains("existing job"), "{r}");
    // an id of her own works for her, and only for her
    let (status, r) = s
        .post(
            "/api/v1/restore",
            &alice,
            restore(&alice_suffix, "my-restore"),
        )
        .await;
    assert_eq!(status, 200, "{r}");
    let alice_job = r["data"]["id"].as_str().unwrap().to_string();
    made.push(format!("reviews{alice_suffix}"));
    let (status, r) = s.get("/api/v1/get_restore?id=my-restore", &alice).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["data"]["id"], alice_job.as_str());
    let (status, r) = s.get("/api/v1/get_restore?id=my-restore", &root).await;
    assert_eq!(status, 404, "another caller's id names nothing: {r}");

    // the admin's id still names the admin's job
    let (status, r) = s
        .get(&format!("/api/v1/get_restore?id={root_job}"), &root)
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["data"]["id"], root_job.as_str());

    for id in [&root_job, &alice_job] {
        wait_end(&s, id).await;
    }
    let milvus = s.registry.service().milvus().await.unwrap();
    for c in made {
        milvus.drop_collection("shop", &c).await.unwrap();
    }
    s.registry.service().delete_backup(&backup).await.unwrap();
}

#[tokio::test]
async fn v1_check_shows_a_member_only_its_databases() {
    let (s, root, alice) = Server::with_users().await;
    let (status, r) = s.get("/api/v1/check", &root).await;
    assert_eq!(status, 200, "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("default (") && msg.contains("shop ("), "{msg}");
    let (status, r) = s.get("/api/v1/check", &alice).await;
    assert_eq!(status, 200, "{r}");
    let msg = r["msg"].as_str().unwrap();
    assert!(msg.contains("shop ("), "{msg}");
    assert!(!msg.contains("default ("), "{msg}");
}

/// Bytes of a SQLite database with its write-ahead log.
fn db_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .map(|x| {
            std::fs::metadata(format!("{}{x}", path.display()))
                .map(|m| m.len())
                .unwrap_or(0)
        })
        .sum()
}

#[tokio::test]
async fn an_unauthenticated_flood_grows_the_audit_log_by_a_bounded_amount() {
    let path = work_dir(&unique("flood")).join("jobs.sqlite");
    let s = Server::start(Db::open(&path).unwrap(), AuthOptions::default()).await;
    let before = db_bytes(&path);
    // 15 sign-ins with 1 MB user names, 15 requests for 60 KB paths, without credentials
    for i in 0..15 {
        let name = format!("{i}{}", "x".repeat(1 << 20));
        let (status, _) = s.login(&name, "guess", "/", None).await;
        assert!(status == 401 || status == 429, "{status}");
        let path = format!("/api/v2/backups/{i}{}", "y".repeat(60 * 1024));
        let r = s.http.delete(s.url(&path)).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    let entries = s
        .registry
        .store()
        .audit_entries(&Default::default())
        .unwrap();
    let stored: usize = entries
        .iter()
        .map(|e| {
            e.actor.len()
                + e.via.len()
                + e.action.len()
                + e.target.len()
                + e.source.len()
                + e.detail.len()
        })
        .sum();
    let grown = db_bytes(&path).saturating_sub(before);
    println!(
        "{} entries, {stored} bytes of fields, database grew by {grown} bytes",
        entries.len()
    );
    assert!(
        entries.len() <= milvault::auth::audit::REFUSALS_PER_WINDOW as usize,
        "{}",
        entries.len()
    );
    assert!(stored < 32 * 1024, "{stored} bytes stored");
    assert!(grown < 1024 * 1024, "the database grew by {grown} bytes");
    assert!(
        entries.iter().any(|e| e.actor.contains("…[truncated ")),
        "a cut field says so"
    );
}

#[tokio::test]
async fn sign_in_redirects_stay_on_this_site_and_the_csv_holds_no_formulas() {
    let (s, root, _) = Server::with_users().await;
    for evil in [
        "/\t/evil.example",
        "//evil",
        "/\\evil",
        "/x\r\nSet-Cookie: a=b",
        "https://evil.example/",
    ] {
        let (status, location) = s.login("root", PASSWORD, evil, None).await;
        assert_eq!((status, location.as_str()), (303, "/"), "{evil:?}");
    }
    let (status, location) = s.login("root", PASSWORD, "/jobs?state=running", None).await;
    assert_eq!((status, location.as_str()), (303, "/jobs?state=running"));
    let page = s
        .http
        .get(s.url("/login?next=%2F%09%2Fevil.example"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("name=\"next\" value=\"/\""),
        "the form keeps no foreign target: {page}"
    );

    // a user name made to run in a spreadsheet is exported as text
    let formula = "=HYPERLINK(\"http://evil.example\",\"click\")";
    let (status, _) = s.login(formula, "guess", "/", None).await;
    assert_eq!(status, 401);
    let csv = s
        .http
        .get(s.url("/api/v2/audit?format=csv&outcome=denied"))
        .bearer_auth(&root)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\","),
        "{csv}"
    );
    assert!(!csv.contains(",\"=HYPERLINK"), "{csv}");
}

#[tokio::test]
async fn wrong_passwords_from_one_address_do_not_lock_the_user_out_from_another() {
    let s = Server::start(
        Db::in_memory().unwrap(),
        AuthOptions {
            trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        },
    )
    .await;
    s.registry
        .store()
        .add_user("ann", PASSWORD, Role::Operator, &[])
        .unwrap();
    let attacker = Some("198.51.100.66");
    for _ in 0..8 {
        let (status, _) = s.login("ann", "guess", "/", attacker).await;
        assert!(status == 401 || status == 429, "{status}");
    }
    // the attacker's address waits, even with the right password
    assert_eq!(s.login("ann", PASSWORD, "/", attacker).await.0, 429);
    // ann, from her own address, signs in
    let (status, location) = s.login("ann", PASSWORD, "/", Some("203.0.113.5")).await;
    assert_eq!((status, location.as_str()), (303, "/"));
}

#[tokio::test]
async fn an_incomplete_backup_can_be_deleted_and_the_answer_says_so() {
    let (s, root, alice) = Server::with_users().await;
    let storage = s.registry.service().backup_storage().clone();
    let leave_incomplete = |name: String| {
        let storage = storage.clone();
        async move {
            // data of a run that never wrote backup_meta.json
            storage
                .write(
                    &format!("{}/binlogs/insert_log/1/2/3/4/5", layout::backup_dir(&name)),
                    bytes::Bytes::from_static(b"partial"),
                )
                .await
                .unwrap();
            name
        }
    };
    let a = leave_incomplete(unique("incomplete")).await;
    let b = leave_incomplete(unique("incomplete")).await;

    // a member cannot tell which databases it holds: to her it is not there (as a backup outside
    // her databases is), not a server error
    let (status, r) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v2/backups/{a}"),
            &alice,
            None,
        )
        .await;
    assert_eq!(
        (status, r["error"]["code"].as_str()),
        (404, Some("backup_not_found")),
        "{r}"
    );
    let (status, r) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v2/backups/{a}"),
            &root,
            None,
        )
        .await;
    assert_eq!(status, 204, "{r}");
    let (status, r) = s
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/delete?backup_name={b}"),
            &root,
            None,
        )
        .await;
    assert_eq!(status, 200, "{r}");
    assert!(r["msg"].as_str().unwrap().contains("incomplete"), "{r}");
    for name in [&a, &b] {
        assert!(!storage.any_under(&layout::backup_dir(name)).await.unwrap());
    }
    let entries = s
        .registry
        .store()
        .audit_entries(&Default::default())
        .unwrap();
    assert!(
        entries.iter().any(|e| e.action == "backup.delete"
            && e.target == a
            && e.detail.contains("incomplete")),
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_half_sent_request_is_closed_within_the_header_timeout() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let svc = service(&s3_overrides("milvault", &unique("timeouts")));
    let registry = JobRegistry::new(svc, Db::in_memory().unwrap());
    let opts = milvault::server::ServeOptions {
        addr,
        site_root: work_dir("portal-site"),
        auth: false,
        tls: None,
        milvus_sign_in: false,
        trusted_proxies: Vec::new(),
        audit_keep_days: 0,
    };
    tokio::spawn(milvault::server::serve(registry, opts));
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "the server listens");
    // a whole request is answered
    let r = reqwest::get(format!("http://{addr}/api/v1/hello"))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    let limit = milvault::server::conn_limits::HEADER_READ_TIMEOUT + Duration::from_secs(5);
    let started = std::time::Instant::now();
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /api/v1/hel").await.unwrap();
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut preface = tokio::net::TcpStream::connect(addr).await.unwrap();
    preface.write_all(b"PRI * HTTP/2").await.unwrap();
    for (what, conn) in [
        ("half a request line", &mut half),
        ("nothing", &mut silent),
        ("half the HTTP/2 preface", &mut preface),
    ] {
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            conn.read_to_end(&mut buf),
        )
        .await;
        assert!(
            closed.is_ok(),
            "a connection that sent {what} is still open after {limit:?}"
        );
    }
    println!("closed after {:?}", started.elapsed());
}

#[cfg(unix)]
#[test]
fn the_job_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let base = work_dir(&unique("private"));
    let path = base.join("state").join("deeper").join("jobs.sqlite");
    drop(Db::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&base.join("state")), 0o700);
    assert_eq!(mode(&base.join("state").join("deeper")), 0o700);
    // an existing database that others could read is tightened when opened
    let old = base.join("old.sqlite");
    drop(Db::open(&old).unwrap());
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Db::open(&old).unwrap());
    assert_eq!(mode(&old), 0o600);
}
