//! Two `milvault serve` processes sharing their state on a real Postgres (started by
//! scripts/test.sh, `MILVAULT_TEST_POSTGRES`), against the Milvus 2.3.5 with local storage:
//! a per-minute policy runs each slot exactly once between them, both show one history, a delete
//! through the CLI is refused while either restores the backup, and the job of a killed server
//! is marked interrupted by the other.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use crate::support::*;
use milvault::db::Db;
use serde_json::{json, Value};

/// A new schema of the test's Postgres, as the URL of a database that holds only it.
fn fresh_state() -> String {
    let url = env("MILVAULT_TEST_POSTGRES");
    let schema = unique("state");
    // the synchronous client drives a runtime of its own: not on the test's
    let (u, s) = (url.clone(), schema.clone());
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&u, postgres::NoTls).expect("Postgres");
        admin.batch_execute(&format!("CREATE SCHEMA {s}")).unwrap();
    })
    .join()
    .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

fn sets(backup_dir: &std::path::Path) -> Vec<String> {
    [
        ("minio.storageType", "local".to_string()),
        ("minio.rootPath", env("MILVAULT_TEST_MILVUS_ROOT")),
        ("minio.backupStorageType", "local".into()),
        (
            "minio.backupRootPath",
            backup_dir.to_string_lossy().into_owned(),
        ),
    ]
    .into_iter()
    .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
    .collect()
}

/// A `milvault serve` on a free port with its state at `state`; killed when dropped.
struct Server {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(state: &str, backup_dir: &std::path::Path, name: &str) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log =
            std::fs::File::create(work_dir("postgres-state").join(format!("{name}.log"))).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_milvault"))
            .args(sets(backup_dir))
            .args(["--state", state, "serve", "--addr"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--site-root")
            .arg(work_dir("portal-site"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start milvault serve");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.get("/api/v2/health").await.is_none() {
            assert!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server
    }

    async fn get(&self, path: &str) -> Option<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .ok()?;
        r.status().is_success().then_some(())?;
        r.json().await.ok()
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert!(status.is_success(), "POST {path}: {status} {v}");
        v
    }

    async fn job(&self, id: &str) -> Value {
        self.get(&format!("/api/v2/jobs/{id}"))
            .await
            .unwrap_or_else(|| panic!("job {id} unknown to {}", self.base))
    }

    /// Waits for a job to end; returns it.
    async fn wait(&self, id: &str, within: Duration) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let j = self.job(id).await;
            if j["state"] != "running" {
                return j;
            }
            assert!(Instant::now() < deadline, "job {id} still running: {j}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn job_ids(&self) -> Vec<String> {
        let page = self.get("/api/v2/jobs?limit=100").await.unwrap();
        let mut ids: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CLI with the servers' configuration and state.
fn cli_on(state: &str, backup_dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let mut all = sets(backup_dir);
    all.extend(["--state".to_string(), state.to_string()]);
    all.extend(args.iter().map(|s| s.to_string()));
    cli(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_share_schedules_leases_and_history() {
    let state = fresh_state();
    let backups = work_dir(&unique("pg-backups"));
    let a = Server::start(&state, &backups, "a").await;
    let b = Server::start(&state, &backups, "b").await;
    let db = Db::connect_postgres(&state).unwrap();

    // a per-minute policy, added through the CLI on the same Postgres
    let policy = unique("everymin");
    let (code, out, err) = cli_on(
        &state,
        &backups,
        &[
            "policy",
            "add",
            &policy,
            "--cron",
            "0 * * * * *",
            "-c",
            "demo_products",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let added = Instant::now();

    // meanwhile: a backup made through A, restored through B; a delete through the CLI is
    // refused while B restores it
    let name = unique("pgb");
    let job = a
        .post(
            "/api/v2/backups",
            json!({"name": name, "collections": ["demo_products"]}),
        )
        .await;
    let made = a
        .wait(job["id"].as_str().unwrap(), Duration::from_secs(120))
        .await;
    assert_eq!(made["state"], "succeeded", "{made}");
    let suffix = format!("_{}", unique("r"));
    let restore = b
        .post(
            &format!("/api/v2/backups/{name}/restore"),
            json!({"collections": ["demo_products"], "suffix": suffix}),
        )
        .await;
    let restore_id = restore["id"].as_str().unwrap().to_string();
    // the restore runs in B; A's history shows it too (one database), and A's live stream of
    // it follows B's progress until it ends
    assert_eq!(a.job(&restore_id).await["kind"], "restore");
    let stream = {
        let url = format!("{}/events/jobs/{restore_id}", a.base);
        tokio::spawn(async move { reqwest::get(url).await.unwrap().text().await.unwrap() })
    };
    let (code, out, err) = cli_on(&state, &backups, &["delete", "-n", &name]);
    let still_running = b.job(&restore_id).await["state"] == "running";
    assert!(
        still_running,
        "the restore ended before the delete was tried"
    );
    assert_ne!(
        code, 0,
        "a delete during a restore went through: {out}{err}"
    );
    assert!(
        err.contains(&name) && (err.contains("restor") || err.contains("read")),
        "{err}"
    );
    let restored = b.wait(&restore_id, Duration::from_secs(300)).await;
    assert_eq!(restored["state"], "succeeded", "{restored}");
    let events: Vec<Value> = tokio::time::timeout(Duration::from_secs(30), stream)
        .await
        .expect("A's stream of B's restore did not end with it")
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap())
        .collect();
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(events[0]["state"], "running", "{events:?}");
    assert_eq!(events.last().unwrap()["state"], "succeeded", "{events:?}");
    assert!(
        std::path::Path::new(&backups)
            .join("backup")
            .join(&name)
            .exists()
            || backups.join(&name).exists(),
        "the refused delete removed the backup"
    );

    // three slots of the policy: each runs exactly once, in A or in B
    let deadline = added + Duration::from_secs(4 * 60);
    let runs = loop {
        let runs = db.policy_runs(&policy, 100).unwrap();
        if runs.len() >= 3 && runs.iter().all(|r| r.state != "running") {
            break runs;
        }
        assert!(Instant::now() < deadline, "three slots not run: {runs:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let (code, out, err) = cli_on(&state, &backups, &["policy", "pause", &policy]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(runs.len(), 3, "{runs:?}");
    let mut slots: Vec<_> = runs.iter().map(|r| r.slot).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 3, "a slot ran twice: {runs:?}");
    for pair in slots.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 60, "{slots:?}");
    }
    for r in &runs {
        assert_eq!(r.state, "succeeded", "{r:?}");
    }
    let made_by_policy = db.policy_backups(&policy).unwrap();
    assert_eq!(made_by_policy.len(), 3, "{made_by_policy:?}");
    // both servers show the same history
    assert_eq!(a.job_ids().await, b.job_ids().await);

    // A is killed in the middle of a backup: B marks A's job interrupted
    let mut a = a;
    let mut interrupted = None;
    for attempt in 0..5 {
        let job = a
            .post(
                "/api/v2/backups",
                json!({"name": unique("pgkill"), "collections": ["demo_products"]}),
            )
            .await;
        let id = job["id"].as_str().unwrap().to_string();
        if b.job(&id).await["state"] == "running" {
            a.child.kill().unwrap();
            a.child.wait().unwrap();
            interrupted = Some(id);
            break;
        }
        eprintln!("attempt {attempt}: the backup ended before A could be killed; again");
    }
    let id = interrupted.expect("no backup ran long enough to be interrupted");
    let j = b.wait(&id, Duration::from_secs(30)).await;
    assert_eq!(j["state"], "failed", "{j}");
    assert!(j["error"].as_str().unwrap().contains("interrupted"), "{j}");
}
