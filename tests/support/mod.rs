//! Shared helpers of the integration tests. They run against the real servers that
//! scripts/test.sh starts; the environment variables it sets say where they are.
#![allow(dead_code)]

use std::{path::PathBuf, process::Command, sync::Arc};

use milvault::{config::Config, Milvault};

/// A unique name for this test's backups and collections.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A variable scripts/test.sh sets; a missing one fails the test (never skips it).
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the integration tests through scripts/test.sh")
    })
}

/// A scratch directory of this test run.
pub fn work_dir(name: &str) -> PathBuf {
    let d = PathBuf::from(env("MILVAULT_TEST_WORK")).join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A service from `--set`-style overrides over an empty config file.
pub fn service(overrides: &[(&str, String)]) -> Arc<Milvault> {
    let sets: Vec<(String, String)> = overrides
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    let config = Config::from_yaml("", &sets).expect("config");
    Arc::new(Milvault::new(config).expect("service"))
}

/// A service keeping its backups in the local directory `dir`, with no Milvus to reach (port 1):
/// for tests of listing, paging and errors.
pub fn offline_service(dir: &std::path::Path) -> Arc<Milvault> {
    service(&[
        ("minio.backupStorageType", "local".to_string()),
        ("minio.backupRootPath", dir.display().to_string()),
        ("milvus.port", "1".to_string()),
    ])
}

/// Runs the milvault binary; returns (exit code, stdout, stderr).
pub fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_milvault"))
        .args(args)
        .output()
        .expect("run milvault");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Compares two collections row for row and by top-k search through pymilvus; panics on any
/// difference. Returns the number of rows compared.
pub fn assert_same_data(src_db: &str, src: &str, dst_db: &str, dst: &str) -> i64 {
    compare_data(&[src_db, src, dst_db, dst])
}

/// [`assert_same_data`] with the destination on another Milvus (`dst_uri`, `http://host:port`).
pub fn assert_same_data_on(src_db: &str, src: &str, dst_uri: &str, dst_db: &str, dst: &str) -> i64 {
    compare_data(&[src_db, src, dst_db, dst, dst_uri])
}

fn compare_data(args: &[&str]) -> i64 {
    let (src_db, src, dst_db, dst) = (args[0], args[1], args[2], args[3]);
    let out = Command::new(env("MILVAULT_TEST_PYTHON"))
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/compare.py"
        ))
        .args(args)
        .output()
        .expect("run compare.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{src_db}.{src} and {dst_db}.{dst} differ: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or("{}")).expect("compare output");
    v["restored_rows"].as_i64().unwrap()
}

/// Overrides for Milvus on SeaweedFS S3 (bucket a-bucket, root "files") with backups in
/// `backup_bucket`/`backup_root`.
pub fn s3_overrides(backup_bucket: &str, backup_root: &str) -> Vec<(&'static str, String)> {
    let endpoint = env("MILVAULT_TEST_S3");
    let port = endpoint.rsplit(':').next().unwrap().to_string();
    vec![
        ("minio.storageType", "minio".into()),
        ("minio.backupStorageType", "minio".into()),
        ("minio.address", "127.0.0.1".into()),
        ("minio.port", port),
        ("minio.accessKeyID", "minioadmin".into()),
        ("minio.secretAccessKey", "minioadmin".into()),
        ("minio.bucketName", "a-bucket".into()),
        ("minio.rootPath", "files".into()),
        ("minio.backupBucketName", backup_bucket.into()),
        ("minio.backupRootPath", backup_root.into()),
    ]
}

/// Serves the web server's whole router (portal, REST, gRPC, sign-in pages) over `registry` on a
/// free loopback port, as `milvault serve` would; returns its address.
pub async fn serve_portal(
    registry: Arc<milvault::jobs::registry::JobRegistry>,
    auth: milvault::server::auth::AuthOptions,
) -> std::net::SocketAddr {
    let site = work_dir("portal-site");
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("milvault")
        .site_root(site.to_string_lossy().to_string())
        .build();
    let app = milvault::server::router_with_auth(registry, options, auth)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// A portal server running in this test's process over `registry`, with an HTTP client that
/// does not follow redirects (so sign-in redirects can be asserted).
pub struct Portal {
    pub addr: std::net::SocketAddr,
    pub registry: Arc<milvault::jobs::registry::JobRegistry>,
    pub http: reqwest::Client,
}

impl Portal {
    /// Starts the server's router (portal, REST, gRPC) on a free port of 127.0.0.1.
    pub async fn start(
        registry: Arc<milvault::jobs::registry::JobRegistry>,
        auth: milvault::server::auth::AuthOptions,
    ) -> Portal {
        let addr = serve_portal(registry.clone(), auth).await;
        Portal {
            addr,
            registry,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The server's own origin, as its pages send it.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Posts the sign-in form of the server at `base` (`http://host:port`) as its own page would;
/// returns the session cookie's value (checked to be HttpOnly and SameSite=Strict), or the
/// status and the page. `http` must not follow redirects.
pub async fn sign_in_form(
    http: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
) -> Result<String, (u16, String)> {
    let r = http
        .post(format!("{base}/login"))
        .header("origin", base)
        .form(&[("user", user), ("password", password), ("next", "/")])
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    if status != 303 {
        return Err((status, r.text().await.unwrap_or_default()));
    }
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    Ok(cookie
        .trim_start_matches("milvault_session=")
        .split(';')
        .next()
        .unwrap()
        .to_string())
}

/// What a [`webhook_receiver`] got: the body of each request, in arrival order.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// A real HTTP receiver for webhooks on 127.0.0.1 that answers 200 and keeps every body;
/// returns its URL (`http://127.0.0.1:PORT/hook`).
pub async fn webhook_receiver() -> (String, Received) {
    let got: Received = Default::default();
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/hook"), got)
}

/// Every file under `dir`, relative to it.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}
