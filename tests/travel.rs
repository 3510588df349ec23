//! Backups that travel, through the CLI and a configuration file with named storages: a backup
//! made on local storage is copied to S3 (SeaweedFS) and Azure Blob (Azurite), verified there and
//! restored from there row for row; an S3-to-S3 copy runs on the server; a stopped copy goes on
//! with the files it finished; the copies stand on their own once the original is deleted. Needs
//! Milvus on S3 (MILVAULT_TEST_S3), and the Azurite and fake-gcs-server scripts/test.sh starts
//! (MILVAULT_TEST_AZURITE, MILVAULT_TEST_GCS: their ports). fake-gcs-server serves the reads of
//! object_store's GCS client but not its writes, so backups reach GCS here through the emulator's
//! own upload API, as a bucket tool would put them there: see the README.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Writes a backup.yaml: Milvus on the test's S3, backups in a local directory, and four named
/// storages (two S3 roots, an Azurite container and a fake-gcs-server bucket).
fn config_file(dir: &Path, tag: &str) -> PathBuf {
    config_file_with(dir, tag, &[])
}

/// [`config_file`] with more lines at the end (another top-level section).
fn config_file_with(dir: &Path, tag: &str, more: &[String]) -> PathBuf {
    let s3_port = env("MILVAULT_TEST_S3")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let az_port = env("MILVAULT_TEST_AZURITE");
    let gcs_port = env("MILVAULT_TEST_GCS");
    let s3 = |root: &str| {
        format!(
            "    storageType: minio\n    address: 127.0.0.1\n    port: {s3_port}\n    accessKeyID: minioadmin\n    secretAccessKey: minioadmin\n    bucketName: milvault\n    rootPath: {root}"
        )
    };
    let az_key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let lines = [
        "milvus:".to_string(),
        "  address: 127.0.0.1".into(),
        "  port: 19530".into(),
        "minio:".into(),
        "  storageType: minio".into(),
        "  address: 127.0.0.1".into(),
        format!("  port: {s3_port}"),
        "  accessKeyID: minioadmin".into(),
        "  secretAccessKey: minioadmin".into(),
        "  bucketName: a-bucket".into(),
        "  rootPath: files".into(),
        "  backupStorageType: local".into(),
        format!("  backupRootPath: {}", dir.join("local").display()),
        "storages:".into(),
        "  s3off:".into(),
        s3(&format!("{tag}/off")),
        "  s3two:".into(),
        s3(&format!("{tag}/two")),
        "  az:".into(),
        "    storageType: azure".into(),
        "    address: 127.0.0.1".into(),
        format!("    port: {az_port}"),
        "    accessKeyID: devstoreaccount1".into(),
        format!("    secretAccessKey: {az_key}"),
        "    bucketName: milvault".into(),
        format!("    rootPath: {tag}"),
        "  gcs:".into(),
        "    storageType: gcpnative".into(),
        "    address: 127.0.0.1".into(),
        format!("    port: {gcs_port}"),
        "    bucketName: milvault".into(),
        format!("    rootPath: {tag}"),
    ];
    let mut lines = lines.to_vec();
    lines.extend(more.iter().cloned());
    let yaml = lines.join("\n") + "\n";
    let path = dir.join("backup.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs the CLI on `config` with a job database of its own; panics when it fails.
fn run(config: &Path, args: &[&str]) -> String {
    let (code, out, err) = try_run(config, args);
    assert_eq!(code, 0, "milvault {args:?} failed: {out}{err}");
    out
}

fn try_run(config: &Path, args: &[&str]) -> (i32, String, String) {
    let db = config.with_file_name("jobs.sqlite");
    let mut all = vec![
        "--config",
        config.to_str().unwrap(),
        "--job-db",
        db.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    cli(&all)
}

/// The JSON the CLI printed last.
fn json(out: &str) -> serde_json::Value {
    let start = out.find('{').expect("JSON in the output");
    serde_json::from_str(&out[start..]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test]
async fn a_local_backup_copied_to_s3_and_azure_verifies_and_restores_there_row_for_row() {
    let tag = unique("travel");
    let dir = work_dir(&tag);
    let config = config_file(&dir, &tag);
    let name = unique("trv");
    run(
        &config,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );

    for storage in ["s3off", "az"] {
        let r = json(&run(
            &config,
            &["--json", "copy", "-n", &name, "--to", storage],
        ));
        assert_eq!(r["to"], storage);
        assert_eq!(r["mode"], "stream", "{r}");
        assert_eq!(r["files_kept"], 0);
        assert!(r["bytes"].as_u64().unwrap() > 100_000, "{r}");
        let v = run(&config, &["--storage", storage, "verify", "-n", &name]);
        assert!(v.contains("is intact"), "{storage}: {v}");
        let list = run(&config, &["--storage", storage, "--json", "list"]);
        assert!(list.contains(&name), "{storage}: {list}");
        // a second copy would write over the first: refused, naming what to do
        let (code, _, err) = try_run(&config, &["copy", "-n", &name, "--to", storage]);
        assert_ne!(code, 0);
        assert!(err.contains("--as"), "{err}");
    }

    // S3 to S3 on one endpoint with one set of credentials: the server copies
    let r = json(&run(
        &config,
        &[
            "--storage",
            "s3off",
            "--json",
            "copy",
            "-n",
            &name,
            "--to",
            "s3two",
        ],
    ));
    assert_eq!(r["mode"], "server-side", "{r}");
    assert_eq!(r["from"], "s3off");

    // a copy stopped half way (its metadata not written, a file missing, one cut short) goes
    // on with what it finished
    let half = format!("{name}_half");
    let full = json(&run(
        &config,
        &[
            "--json", "copy", "-n", &name, "--to", "s3off", "--as", &half,
        ],
    ));
    let s3off = s3_storage(&config, "s3off");
    let files = s3off.list_files(&format!("{half}/binlogs")).await.unwrap();
    assert!(files.len() >= 2, "{files:?}");
    s3off
        .delete(&format!("{half}/meta/backup_meta.json"))
        .await
        .unwrap();
    s3off.delete(&files[0].rel).await.unwrap();
    s3off
        .write(&files[1].rel, bytes::Bytes::from_static(b"cut short"))
        .await
        .unwrap();
    let list = run(&config, &["--storage", "s3off", "--json", "list"]);
    assert!(
        !list.contains(&half),
        "an unfinished copy is not listed: {list}"
    );
    let again = json(&run(
        &config,
        &[
            "--json", "copy", "-n", &name, "--to", "s3off", "--as", &half,
        ],
    ));
    assert_eq!(again["files"], full["files"]);
    assert_eq!(
        again["files_kept"].as_u64().unwrap(),
        // all but the two damaged files and backup_meta.json (always written last)
        full["files"].as_u64().unwrap() - 3,
        "{again}"
    );
    let v = run(&config, &["--storage", "s3off", "verify", "-n", &half]);
    assert!(v.contains("is intact"), "{v}");

    // the copies stand on their own: the original goes, each restores row for row
    run(&config, &["delete", "-n", &name]);
    for storage in ["s3off", "az"] {
        let suffix = format!("_{storage}_{}", &name[4..]);
        run(
            &config,
            &[
                "--storage",
                storage,
                "restore",
                "-n",
                &name,
                "-s",
                &suffix,
                "--restore_index",
                "--load",
            ],
        );
        assert_eq!(
            assert_same_data(
                "default",
                "demo_products",
                "default",
                &format!("demo_products{suffix}")
            ),
            2700,
            "{storage}"
        );
        assert_eq!(
            assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
            1000,
            "{storage}"
        );
    }
}

/// A named storage of `config` opened as the engine opens it.
fn s3_storage(config: &Path, name: &str) -> milvault::storage::Storage {
    let text = std::fs::read_to_string(config).unwrap();
    let c = milvault::config::Config::from_yaml(&text, &[]).unwrap();
    milvault::storage::Storage::open(c.storage(name).unwrap(), true, None).unwrap()
}

/// REST v2 and gRPC start copies as jobs, refuse what would write over a copy before a job
/// starts, and name the storages there are.
#[tokio::test]
async fn rest_and_grpc_copy_as_jobs_and_refuse_before_starting() {
    use milvault::server::grpc::pb::{self, backup_service_client::BackupServiceClient};
    let tag = unique("tapi");
    let dir = work_dir(&tag);
    let config = config_file(&dir, &tag);
    let text = std::fs::read_to_string(&config).unwrap();
    let svc = std::sync::Arc::new(
        milvault::Milvault::new(milvault::config::Config::from_yaml(&text, &[]).unwrap()).unwrap(),
    );
    let name = unique("tap");
    svc.create_backup(
        milvault::engine::commands::create::CreateBackupRequest {
            name: name.clone(),
            collections: vec!["shop.reviews".into()],
            ..Default::default()
        },
        &milvault::progress::Progress::detached(milvault::progress::JobKind::Backup),
    )
    .await
    .unwrap();
    let registry = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::in_memory().unwrap(),
    );
    let addr = serve_portal(registry, Default::default()).await;
    let http = reqwest::Client::new();
    let post = |path: String, body: serde_json::Value| {
        let http = http.clone();
        async move {
            let r = http
                .post(format!("http://{addr}{path}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let wait = |id: String| {
        let http = http.clone();
        async move {
            for _ in 0..600 {
                let job: serde_json::Value = http
                    .get(format!("http://{addr}/api/v2/jobs/{id}"))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                if job["state"] != "running" {
                    return job;
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            panic!("job {id} did not end");
        }
    };

    let (status, job) = post(
        format!("/api/v2/backups/{name}/copy"),
        serde_json::json!({"to": "s3off"}),
    )
    .await;
    assert_eq!(status, 202, "{job}");
    assert_eq!(job["kind"], "copy");
    let end = wait(job["id"].as_str().unwrap().to_string()).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    let s3off = svc.on_storage("s3off").unwrap().unwrap();
    assert_eq!(s3off.get_backup(&name).await.unwrap().name, name);

    // again: refused before a job starts, saying what to do
    let (status, err) = post(
        format!("/api/v2/backups/{name}/copy"),
        serde_json::json!({"to": "s3off"}),
    )
    .await;
    assert_eq!(status, 409, "{err}");
    assert_eq!(err["error"]["code"], "exists_in_storage");
    let (status, err) = post(
        format!("/api/v2/backups/{name}/copy"),
        serde_json::json!({"to": "tape"}),
    )
    .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default, az, gcs, s3off, s3two"),
        "{err}"
    );

    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = BackupServiceClient::new(channel);
    let req = pb::CopyBackupRequest {
        name: name.clone(),
        to: "az".into(),
        as_name: format!("{name}_az"),
        ..Default::default()
    };
    let job = grpc.copy_backup(req.clone()).await.unwrap().into_inner();
    assert_eq!(job.kind(), pb::JobKind::Copy);
    let end = wait(job.id.clone()).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    let az = svc.on_storage("az").unwrap().unwrap();
    let v = az
        .verify(
            &format!("{name}_az"),
            &milvault::progress::Progress::detached(milvault::progress::JobKind::Verify),
        )
        .await
        .unwrap();
    assert!(v.ok() && v.files_checked > 0, "{v:?}");
    let again = grpc.copy_backup(req).await.unwrap_err();
    assert_eq!(again.code(), tonic::Code::AlreadyExists, "{again:?}");
}

/// The second Milvus the test scripts start (MILVAULT_TEST_MILVUS2, its data in
/// MILVAULT_TEST_MILVUS2_ROOT): its URI, and the configuration lines naming it target `dr`.
fn second_milvus_target() -> (String, Vec<String>) {
    let uri = env("MILVAULT_TEST_MILVUS2");
    let root = env("MILVAULT_TEST_MILVUS2_ROOT");
    let (host, port) = uri.trim_start_matches("http://").rsplit_once(':').unwrap();
    let lines = vec![
        "targets:".to_string(),
        "  dr:".into(),
        format!("    milvus: {{address: {host}, port: {port}}}"),
        format!("    minio: {{storageType: local, rootPath: {root}}}"),
    ];
    (uri, lines)
}

/// A copy restored into a second Milvus (another cluster: its own etcd and storage, in a network
/// namespace of its own) through a named target, row for row, after the original is deleted.
#[tokio::test]
async fn a_copy_restores_into_a_second_milvus_row_for_row() {
    let (uri, target) = second_milvus_target();
    let tag = unique("dr");
    let dir = work_dir(&tag);
    let config = config_file_with(&dir, &tag, &target);
    let name = unique("drb");
    run(
        &config,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );
    run(&config, &["copy", "-n", &name, "--to", "az"]);
    run(&config, &["delete", "-n", &name]);
    let suffix = format!("_{}", &name[4..]);
    let report = json(&run(
        &config,
        &[
            "--storage",
            "az",
            "--json",
            "restore",
            "-n",
            &name,
            "--milvus",
            "dr",
            "-s",
            &suffix,
            "--restore_index",
            "--load",
        ],
    ));
    let colls = report["collections"].as_array().unwrap();
    assert_eq!(colls.len(), 2, "{report}");
    for c in colls {
        assert_eq!(c["counted_rows"], c["expected_rows"], "{c}");
    }
    assert_eq!(
        assert_same_data_on(
            "default",
            "demo_products",
            &uri,
            "default",
            &format!("demo_products{suffix}")
        ),
        2700
    );
    assert_eq!(
        assert_same_data_on("shop", "reviews", &uri, "shop", &format!("reviews{suffix}")),
        1000
    );
}

/// Puts every file under `dir` into the fake-gcs-server bucket `milvault` under `prefix`, through
/// the emulator's JSON upload API (as `gcloud storage cp -r` would); returns the files put.
async fn put_into_gcs(dir: &Path, prefix: &str) -> usize {
    let port = env("MILVAULT_TEST_GCS");
    let http = reqwest::Client::new();
    let files = files_under(dir);
    for rel in &files {
        let r = http
            .post(format!(
                "http://127.0.0.1:{port}/upload/storage/v1/b/milvault/o"
            ))
            .query(&[
                ("uploadType", "media"),
                ("name", &format!("{prefix}/{}", rel.display())),
            ])
            .body(std::fs::read(dir.join(rel)).unwrap())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}: {}", rel.display(), r.status());
    }
    files.len()
}

/// GCS (`gcpnative`, fake-gcs-server): a backup folder put there under another name with a bucket
/// tool is listed, verified and restored from there into a second Milvus, row for row, after the
/// original is deleted and a new backup took the original's name; one rotted file there is found.
#[tokio::test]
async fn a_backup_put_into_gcs_verifies_and_restores_into_a_second_milvus() {
    let (uri, target) = second_milvus_target();
    let tag = unique("gcs");
    let dir = work_dir(&tag);
    let config = config_file_with(&dir, &tag, &target);
    let name = unique("gcb");
    run(
        &config,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );
    let moved = format!("{name}_moved");
    let original = dir.join("local").join(&name);
    let files = put_into_gcs(&original, &format!("{tag}/{moved}")).await;
    assert!(files > 10, "{files} files");
    let victim = Path::new("binlogs").join(&files_under(&original.join("binlogs"))[0]);
    let victim_len = std::fs::metadata(original.join(&victim)).unwrap().len() as usize;
    let victim = victim.to_string_lossy().into_owned();
    // the original goes, and a new backup (of one collection only) takes its name
    run(&config, &["delete", "-n", &name]);
    run(&config, &["create", "-n", &name, "-c", "shop.reviews"]);

    let list = run(&config, &["--storage", "gcs", "--json", "list"]);
    assert!(list.contains(&moved), "{list}");
    let v = run(&config, &["--storage", "gcs", "verify", "-n", &moved]);
    assert!(v.contains("is intact"), "{v}");
    let suffix = format!("_{}", &name[4..]);
    let report = json(&run(
        &config,
        &[
            "--storage",
            "gcs",
            "--json",
            "restore",
            "-n",
            &moved,
            "--milvus",
            "dr",
            "-s",
            &suffix,
            "--restore_index",
            "--load",
        ],
    ));
    let colls = report["collections"].as_array().unwrap();
    assert_eq!(
        colls.len(),
        2,
        "the moved folder is the original's backup: {report}"
    );
    for c in colls {
        assert_eq!(c["counted_rows"], c["expected_rows"], "{c}");
    }
    assert_eq!(
        assert_same_data_on(
            "default",
            "demo_products",
            &uri,
            "default",
            &format!("demo_products{suffix}")
        ),
        2700
    );
    assert_eq!(
        assert_same_data_on("shop", "reviews", &uri, "shop", &format!("reviews{suffix}")),
        1000
    );

    // a binlog rotted in GCS (same size, other bytes) is found and named
    let rot = dir.join("rot");
    std::fs::create_dir_all(rot.join(Path::new(&victim).parent().unwrap())).unwrap();
    std::fs::write(rot.join(&victim), vec![0x5a; victim_len]).unwrap();
    put_into_gcs(&rot, &format!("{tag}/{moved}")).await;
    let (code, out, err) = try_run(&config, &["--storage", "gcs", "verify", "-n", &moved]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("DAMAGED") && out.contains(&victim), "{out}");
}

/// A REST client of one test server: JSON in, status and JSON out, and a job waited for.
struct Api {
    http: reqwest::Client,
    addr: std::net::SocketAddr,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut req = self
            .http
            .request(method, format!("http://{}{path}", self.addr));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        )
    }

    async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Uploads an archive (zstd-compressed tar) to `/api/v2/backups/archive` with `query`.
    async fn upload_archive(&self, query: &str, archive: bytes::Bytes) -> reqwest::Response {
        self.http
            .post(format!(
                "http://{}/api/v2/backups/archive{query}",
                self.addr
            ))
            .header("content-type", "application/zstd")
            .body(archive)
            .send()
            .await
            .unwrap()
    }

    /// Waits for job `id` to end; answers its last state.
    async fn wait(&self, id: &str) -> serde_json::Value {
        for _ in 0..900 {
            let (_, job) = self.get(&format!("/api/v2/jobs/{id}")).await;
            if job["state"] != "running" {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("job {id} did not end");
    }

    /// Starts a job with `POST path` and waits for it to succeed.
    async fn run_job(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        let (status, job) = self.post(path, body).await;
        assert_eq!(status, 202, "{path}: {job}");
        let end = self.wait(job["id"].as_str().unwrap()).await;
        assert_eq!(end["state"], "succeeded", "{path}: {end}");
        end
    }
}

/// A test's configuration ([`config_file`]), a backup of `shop.reviews` made with the CLI, and
/// the whole server over a service of that configuration with a job database of its own:
/// (config file, backup name, service, registry, REST client).
async fn api_server(
    prefix: &str,
) -> (
    PathBuf,
    String,
    std::sync::Arc<milvault::Milvault>,
    std::sync::Arc<milvault::jobs::registry::JobRegistry>,
    Api,
) {
    let tag = unique(prefix);
    let config = config_file(&work_dir(&tag), &tag);
    let text = std::fs::read_to_string(&config).unwrap();
    let svc = std::sync::Arc::new(
        milvault::Milvault::new(milvault::config::Config::from_yaml(&text, &[]).unwrap()).unwrap(),
    );
    let name = unique(prefix);
    run(&config, &["create", "-n", &name, "-c", "shop.reviews"]);
    let registry = milvault::jobs::registry::JobRegistry::new(
        svc.clone(),
        milvault::db::Db::in_memory().unwrap(),
    );
    let addr = serve_portal(registry.clone(), Default::default()).await;
    let api = Api {
        http: reqwest::Client::new(),
        addr,
    };
    (config, name, svc, registry, api)
}

/// A copy is a backup of its storage for every front end: REST v2 (`?storage=`, a restore's
/// `storage`) and gRPC (`storage`) list it, show it, verify it (the verification recorded as
/// that storage's), restore it row for row after the original is deleted (the job records the
/// storage, so a resume reads the same backup) and delete it there; an unknown storage is a 400
/// naming the ones there are.
#[tokio::test]
async fn rest_and_grpc_list_verify_restore_and_delete_in_a_named_storage() {
    use milvault::server::grpc::pb::{self, backup_service_client::BackupServiceClient};
    let (_, name, _, registry, api) = api_server("tns").await;
    let addr = api.addr;
    api.run_job(
        &format!("/api/v2/backups/{name}/copy"),
        serde_json::json!({"to": "s3two"}),
    )
    .await;
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v2/backups/{name}"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (_, here) = api.get(&format!("/api/v2/backups?q={name}")).await;
    assert_eq!(here["page"]["total"], 0, "deleted here: {here}");

    // list, show and verify there
    let (status, there) = api
        .get(&format!("/api/v2/backups?storage=s3two&q={name}&sort=name"))
        .await;
    assert_eq!(status, 200, "{there}");
    assert_eq!(there["items"][0]["name"], name.as_str(), "{there}");
    let (status, detail) = api
        .get(&format!("/api/v2/backups/{name}?storage=s3two"))
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["collections"][0]["stored_rows"], 1000, "{detail}");
    api.run_job(
        &format!("/api/v2/backups/{name}/verify?storage=s3two"),
        serde_json::json!({}),
    )
    .await;
    let (_, there) = api
        .get(&format!("/api/v2/backups?storage=s3two&q={name}"))
        .await;
    assert_eq!(
        there["items"][0]["verification"]["state"], "intact",
        "{there}"
    );
    let (status, err) = api.get("/api/v2/backups?storage=tape").await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("default, az, gcs, s3off, s3two"),
        "{err}"
    );

    // restore from there, row for row; the job records where it read from
    let suffix = format!("_r{}", &name[4..]);
    let end = api
        .run_job(
            &format!("/api/v2/backups/{name}/restore"),
            serde_json::json!({"storage": "s3two", "suffix": suffix, "restore_index": true, "load": true}),
        )
        .await;
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
        1000
    );
    let job = registry.get(end["id"].as_str().unwrap()).unwrap().unwrap();
    let ledger = job.restore.expect("a restore ledger");
    assert_eq!(ledger.request["storage"], "s3two", "{:?}", ledger.request);

    // gRPC sees the same
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = BackupServiceClient::new(channel);
    let list = grpc
        .list_backups(pb::ListBackupsRequest {
            storage: "s3two".into(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(list.backups.iter().any(|b| b.name == name), "{list:?}");
    let got = grpc
        .get_backup(pb::GetBackupRequest {
            name: name.clone(),
            storage: "s3two".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.collections[0].stored_rows, 1000);
    let missing = grpc
        .get_backup(pb::GetBackupRequest {
            name: name.clone(),
            storage: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    let job = grpc
        .verify_backup(pb::VerifyBackupRequest {
            name: name.clone(),
            storage: "s3two".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(api.wait(&job.id).await["state"], "succeeded");

    // deleted there, through gRPC
    let removed = grpc
        .delete_backup(pb::DeleteBackupRequest {
            name: name.clone(),
            storage: "s3two".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(removed.files_removed > 2, "{removed:?}");
    let (_, there) = api
        .get(&format!("/api/v2/backups?storage=s3two&q={name}"))
        .await;
    assert_eq!(there["page"]["total"], 0, "{there}");
}

/// A TCP proxy to `upstream` that holds each chunk a client sends for `delay`: a slow link to
/// a storage, so that a copy through it can be killed half way. Answers its port.
async fn slow_proxy(upstream: std::net::SocketAddr, delay: std::time::Duration) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = cr.read(&mut buf).await?;
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        sw.write_all(&buf[..n]).await?;
                    }
                    sw.shutdown().await
                };
                let down = async move { tokio::io::copy(&mut sr, &mut cw).await };
                let _ = tokio::join!(up, down);
            });
        }
    });
    port
}

/// A copy killed (SIGKILL) half way, to S3 over a slow link, goes on when run again without
/// writing again any file that had arrived: each keeps its version (size, time, ETag); the
/// copy is listed only once complete and then verifies intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_copy_resumes_without_copying_finished_files_again() {
    let s3 = env("MILVAULT_TEST_S3");
    let upstream: std::net::SocketAddr = s3.trim_start_matches("http://").parse().unwrap();
    let port = slow_proxy(upstream, std::time::Duration::from_millis(250)).await;
    let tag = unique("tkill");
    let dir = work_dir(&tag);
    let more = [
        "  s3slow:".to_string(),
        "    storageType: minio".into(),
        "    address: 127.0.0.1".into(),
        format!("    port: {port}"),
        "    accessKeyID: minioadmin".into(),
        "    secretAccessKey: minioadmin".into(),
        "    bucketName: milvault".into(),
        format!("    rootPath: {tag}/slow"),
        "backup:".into(),
        "  parallelism:".into(),
        "    copydata: 2".into(),
    ];
    let config = config_file_with(&dir, &tag, &more);
    let name = unique("tkb");
    run(
        &config,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );
    let slow = s3_storage(&config, "s3slow");
    let db = config.with_file_name("jobs.sqlite");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_milvault"))
        .args(["--config", config.to_str().unwrap(), "--job-db"])
        .arg(&db)
        .args(["copy", "-n", &name, "--to", "s3slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        let so_far = slow.list_files(&name).await.unwrap_or_default();
        if so_far.len() >= 8 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // what had arrived when it was killed (a write in flight may have landed since)
    let arrived = slow.list_files(&name).await.unwrap();
    assert!(
        arrived.len() >= 8,
        "the copy went on too slowly: {arrived:?}"
    );
    assert!(
        !arrived.iter().any(|f| f.rel.ends_with("backup_meta.json")),
        "killed before its end, yet its metadata was written: {arrived:?}"
    );
    let mut versions = Vec::new();
    for f in &arrived {
        versions.push((f.rel.clone(), slow.version_of(&f.rel).await.unwrap()));
    }
    let list = run(&config, &["--storage", "s3slow", "--json", "list"]);
    assert!(!list.contains(&name), "a killed copy is not listed: {list}");

    let again = json(&run(
        &config,
        &["--json", "copy", "-n", &name, "--to", "s3slow"],
    ));
    let total = again["files"].as_u64().unwrap();
    let kept = again["files_kept"].as_u64().unwrap();
    assert!(
        kept >= arrived.len() as u64 && kept < total,
        "kept {kept} of {total}, {} had arrived: {again}",
        arrived.len()
    );
    for (rel, before) in versions {
        assert_eq!(
            slow.version_of(&rel).await.unwrap(),
            before,
            "{rel} was written again"
        );
    }
    let v = run(&config, &["--storage", "s3slow", "verify", "-n", &name]);
    assert!(v.contains("is intact"), "{v}");
}

/// An archive downloaded from one storage (REST v2, as the portal's download link does) and
/// uploaded into an empty other storage (`?storage=`, as the portal's upload can) is a backup
/// there: it verifies and restores row for row once the original is deleted.
#[tokio::test]
async fn an_archive_downloaded_and_uploaded_into_an_empty_storage_restores_row_for_row() {
    let (_, name, svc, _, api) = api_server("tarc").await;
    let addr = api.addr;
    let (_, empty) = api.get("/api/v2/backups?storage=az").await;
    assert_eq!(
        empty["page"]["total"], 0,
        "the storage starts empty: {empty}"
    );

    let archive = api
        .http
        .get(format!(
            "http://{addr}/api/v2/backups/{name}/archive?zstd=true"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(archive.status(), 200);
    let archive = archive.bytes().await.unwrap();
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v2/backups/{name}"),
            None,
        )
        .await;
    assert_eq!(status, 204);

    // cut short, it is refused there and leaves nothing
    let cut = archive.slice(..archive.len() / 2);
    let r = api.upload_archive("?storage=az", cut).await;
    assert_eq!(r.status(), 400);
    let az = svc.on_storage("az").unwrap().unwrap();
    assert!(
        az.backup_storage()
            .list_files(&name)
            .await
            .unwrap()
            .is_empty(),
        "a refused archive leaves nothing"
    );

    let r = api.upload_archive("?storage=az", archive).await;
    assert_eq!(r.status(), 201);
    let report: serde_json::Value = r.json().await.unwrap();
    assert_eq!(report["backup"], name.as_str(), "{report}");
    let (_, there) = api.get("/api/v2/backups?storage=az").await;
    assert_eq!(there["items"][0]["name"], name.as_str(), "{there}");
    api.run_job(
        &format!("/api/v2/backups/{name}/verify?storage=az"),
        serde_json::json!({}),
    )
    .await;
    let suffix = format!("_a{}", &name[4..]);
    api.run_job(
        &format!("/api/v2/backups/{name}/restore?storage=az"),
        serde_json::json!({"suffix": suffix, "load": true}),
    )
    .await;
    assert_eq!(
        assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
        1000
    );
}
