//! The REST and gRPC APIs end to end: the web server's full router (portal, REST, gRPC on one
//! port) in-process, over a real Milvus 2.3.5 whose binlogs live on SeaweedFS S3, with backups in
//! another bucket. Each test has its own backup root and job database.

use std::{net::SocketAddr, time::Duration};

use crate::support::*;
use milvault::{
    db::Db,
    jobs::registry::JobRegistry,
    server::grpc::pb::{self, backup_service_client::BackupServiceClient},
};
use serde_json::{json, Value};
use tonic::{transport::Channel, Code};

/// A running server and what it serves.
struct Server {
    addr: SocketAddr,
    http: reqwest::Client,
    /// The configuration overrides it runs with (its own backup root), for the CLI.
    overrides: Vec<(&'static str, String)>,
}

impl Server {
    async fn start() -> Server {
        let overrides = s3_overrides("milvault", &unique("api"));
        let svc = service(&overrides);
        let registry = JobRegistry::new(svc, Db::in_memory().unwrap());
        let addr = serve_portal(registry, Default::default()).await;
        Server {
            addr,
            http: reqwest::Client::new(),
            overrides,
        }
    }

    /// Runs the CLI over the same Milvus and backup root.
    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut all: Vec<String> = self
            .overrides
            .iter()
            .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
            .collect();
        all.push("--job-db".into());
        all.push(
            work_dir(&unique("api-cli"))
                .join("jobs.sqlite")
                .to_string_lossy()
                .into_owned(),
        );
        all.extend(args.iter().map(|s| s.to_string()));
        cli(&all.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, path: &str) -> (u16, Value) {
        // milvus-backup's test client sends `null` as the body of a DELETE
        let r = self
            .http
            .delete(self.url(path))
            .header("content-type", "application/json")
            .body("null")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn grpc(&self) -> BackupServiceClient<Channel> {
        let channel = Channel::from_shared(self.url(""))
            .unwrap()
            .connect()
            .await
            .unwrap();
        BackupServiceClient::new(channel)
    }

    /// Names of the backups `/api/v2/backups` lists.
    async fn backup_names(&self) -> Vec<String> {
        let (status, page) = self.get("/api/v2/backups?limit=500").await;
        assert_eq!(status, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect()
    }

    async fn job_count(&self) -> u64 {
        let (_, page) = self.get("/api/v2/jobs?limit=1").await;
        page["page"]["total"].as_u64().unwrap()
    }
}

/// Polls a v1 state endpoint until `data.state_code` leaves 0/1 (as milvus-backup's own test
/// client does: a missing state_code means 0, omitempty).
async fn poll_v1(server: &Server, path: &str) -> Value {
    for _ in 0..600 {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        let state = body["data"]["state_code"].as_i64().unwrap_or(0);
        if state >= 2 {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{path} did not finish in 5 minutes");
}

#[tokio::test]
async fn rest_v1_backup_and_restore_in_milvus_backup_shapes() {
    let server = Server::start().await;
    let name = unique("v1");

    // an empty backup root: `data` is there, empty (Go sends it without omitempty), so a script
    // doing `res.data.map(...)` works; a missing backup answers `data: null`
    let (status, empty) = server.get("/api/v1/list").await;
    assert_eq!(status, 200);
    assert_eq!(empty["data"], json!([]), "{empty}");
    let (_, missing) = server
        .get("/api/v1/get_backup?backup_name=no_such_backup_v1")
        .await;
    assert!(
        missing.as_object().unwrap().contains_key("data") && missing["data"].is_null(),
        "{missing}"
    );

    // sync create, as milvus-backup's test checker does it
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"async": false, "backup_name": name, "collection_names": ["demo_products"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "success");
    assert!(
        body.get("code").is_none(),
        "code 0 is left out like Go's omitempty: {body}"
    );
    assert!(body["requestId"].as_str().is_some_and(|s| !s.is_empty()));
    let data = &body["data"];
    assert_eq!(data["name"], name.as_str());
    assert_eq!(data["state_code"], 2);
    assert_eq!(data["progress"], 100);
    assert!(data["size"].as_i64().unwrap() > 0);
    assert!(data["meta_size"].as_i64().unwrap() > 0);
    let colls = data["collection_backups"].as_array().unwrap();
    assert_eq!(colls.len(), 1);
    assert_eq!(colls[0]["collection_name"], "demo_products");
    assert_eq!(colls[0]["schema"]["name"], "demo_products");
    assert!(colls[0]["has_index"].as_bool().unwrap());

    // async create with db_collections; poll get_backup like milvus-backup's client
    let name2 = unique("v1a");
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"async": true, "backup_name": name2, "db_collections": {"shop": ["reviews"]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "create backup is executing asynchronously");
    let done = poll_v1(&server, &format!("/api/v1/get_backup?backup_name={name2}")).await;
    assert_eq!(done["data"]["state_code"], 2, "{done}");
    assert_eq!(
        done["data"]["collection_backups"][0]["db_name"], "shop",
        "{done}"
    );

    let (status, list) = server.get("/api/v1/list").await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&name.as_str()) && listed.contains(&name2.as_str()));

    // async restore with a suffix, followed with get_restore
    let suffix = format!("_{}", &unique("r")[2..]);
    let (status, body) = server
        .post(
            "/api/v1/restore",
            json!({"async": true, "backup_name": name, "collection_names": ["demo_products"],
                   "collection_suffix": suffix, "restoreIndex": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "restore backup is executing asynchronously");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    // the backup cannot be deleted while it is being restored from
    let (status, body) = server
        .delete(&format!("/api/v1/delete?backup_name={name}"))
        .await;
    assert_eq!((status, body["code"].as_i64()), (409, Some(3)), "{body}");
    assert!(body["msg"]
        .as_str()
        .unwrap()
        .contains("a restore or verification from it is running"));
    let (status, body) = server.delete(&format!("/api/v2/backups/{name}")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("backup_busy"))
    );
    let done = poll_v1(&server, &format!("/api/v1/get_restore?id={id}")).await;
    assert_eq!(done["data"]["state_code"], 2, "{done}");
    let target = format!("demo_products{suffix}");
    let task = &done["data"]["collection_restore_tasks"][0];
    assert_eq!(task["target_collection_name"], target.as_str());
    assert_eq!(task["target_db_name"], "default");
    let rows = assert_same_data("default", "demo_products", "default", &target);
    assert!(rows > 0);

    // the same restore again: the target exists, so it is refused and left as it is
    let (status, body) = server
        .post(
            "/api/v1/restore",
            json!({"async": true, "backup_name": name, "collection_names": ["demo_products"],
                   "collection_suffix": suffix}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], 3);
    assert!(
        body["msg"].as_str().unwrap().contains("already exists"),
        "{body}"
    );
    assert_eq!(
        assert_same_data("default", "demo_products", "default", &target),
        rows
    );

    // delete, then the backup is gone
    let (status, body) = server
        .delete(&format!("/api/v1/delete?backup_name={name}"))
        .await;
    assert_eq!((status, body["msg"].as_str()), (200, Some("success")));
    let (status, body) = server
        .get(&format!("/api/v1/get_backup?backup_name={name}"))
        .await;
    assert_eq!((status, body["code"].as_i64()), (404, Some(404)), "{body}");
    assert!(!server.backup_names().await.contains(&name));
}

#[tokio::test]
async fn grpc_backup_and_restore_with_a_streamed_watch() {
    let server = Server::start().await;
    let mut client = server.grpc().await;
    let name = unique("g");

    let job = client
        .create_backup(pb::CreateBackupRequest {
            name: name.clone(),
            collections: vec!["dyn_items".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.kind, pb::JobKind::Backup as i32);
    let events = watch(&mut client, &job.id).await;
    let last = events.last().unwrap();
    assert_eq!(last.state, pb::JobState::Succeeded as i32, "{last:?}");
    assert!(last.bytes_total > 0 && last.bytes_done == last.bytes_total);
    assert!(last.finished_at_ms >= last.started_at_ms);
    assert!(events[..events.len() - 1]
        .iter()
        .all(|e| e.state == pb::JobState::Running as i32));

    let backup = client
        .get_backup(pb::GetBackupRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(backup.collections.len(), 1);
    assert_eq!(backup.collections[0].name, "dyn_items");
    assert_eq!(backup.collections[0].rows, 596);
    assert_eq!(backup.summary.unwrap().name, name);

    let suffix = format!("_{}", &unique("g")[2..]);
    let job = client
        .restore(pb::RestoreRequest {
            backup_name: name.clone(),
            suffix: suffix.clone(),
            restore_index: true,
            load: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let target = format!("dyn_items{suffix}");
    assert_eq!(
        job.targets,
        vec![format!("default.dyn_items=>default.{target}")]
    );
    let events = watch(&mut client, &job.id).await;
    let last = events.last().unwrap();
    assert_eq!(last.state, pb::JobState::Succeeded as i32, "{last:?}");
    assert_eq!(last.segments_done, last.segments_total);
    assert_eq!(
        assert_same_data("default", "dyn_items", "default", &target),
        596
    );
    let fetched = client
        .get_job(pb::GetJobRequest { id: job.id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(fetched.state, pb::JobState::Succeeded as i32);
    // a restore that completed has nothing to resume, through gRPC and REST alike
    let again = client
        .resume_job(pb::ResumeJobRequest {
            id: job.id.clone(),
            drop_existing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");
    assert!(again.message().contains("nothing to resume"), "{again:?}");
    let (status, body) = server
        .post(&format!("/api/v2/jobs/{}/resume", job.id), json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_resumable", "{body}");
    assert_eq!(
        assert_same_data("default", "dyn_items", "default", &target),
        596
    );

    // paging: two backups, one per page
    let second = unique("g2");
    let job = client
        .create_backup(pb::CreateBackupRequest {
            name: second.clone(),
            collections: vec!["empty_coll".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch(&mut client, &job.id).await.last().unwrap().state,
        pb::JobState::Succeeded as i32
    );
    let page1 = client
        .list_backups(pb::ListBackupsRequest {
            page_size: 1,
            page_token: String::new(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((page1.backups.len(), page1.total), (1, 2));
    let page2 = client
        .list_backups(pb::ListBackupsRequest {
            page_size: 1,
            page_token: page1.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.backups.len(), 1);
    assert!(page2.next_page_token.is_empty());
    let mut names = vec![page1.backups[0].name.clone(), page2.backups[0].name.clone()];
    names.sort();
    let mut expected = vec![name.clone(), second.clone()];
    expected.sort();
    assert_eq!(names, expected);

    // verification through gRPC: a job that re-reads every file, watched to its end
    let job = client
        .verify_backup(pb::VerifyBackupRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.kind, pb::JobKind::Verify as i32);
    let last = watch(&mut client, &job.id).await.pop().unwrap();
    assert_eq!(last.state, pb::JobState::Succeeded as i32, "{last:?}");
    assert!(
        last.bytes_done > 0 && last.bytes_done == last.bytes_total,
        "{last:?}"
    );
    let missing = client
        .verify_backup(pb::VerifyBackupRequest {
            name: "no_such_backup".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // a restore drill: started by REST without a body, watched and read back through gRPC
    let path = format!("/api/v2/backups/{name}/drill");
    let (status, body) = server.get(&path).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "drill_not_found", "{body}");
    let r = server.http.post(server.url(&path)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 202);
    let job: Value = r.json().await.unwrap();
    assert_eq!(job["kind"], "drill", "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let last = watch(&mut client, &id).await.pop().unwrap();
    assert_eq!(last.kind, pb::JobKind::Drill as i32);
    assert_eq!(last.state, pb::JobState::Succeeded as i32, "{last:?}");
    let report = client
        .get_drill(pb::GetBackupRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(report.passed, "{report:?}");
    assert!(report.database.starts_with("milvault_drill_"), "{report:?}");
    let c = &report.collections[0];
    assert_eq!(c.source, "default.dyn_items");
    assert!(
        c.keys_sampled > 0 && c.keys_found == c.keys_sampled,
        "{c:?}"
    );
    assert_eq!(c.vector_field, "vec");
    assert!(c.recall.unwrap() >= 0.95, "{c:?}");
    assert!(c.rows.contains("count(*) after load = 596"), "{c:?}");
    let (status, body) = server.get(&path).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["passed"], true, "{body}");
    let wrong = client
        .drill_backup(pb::DrillBackupRequest {
            name: name.clone(),
            collections: vec!["not_in_it".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::NotFound, "{wrong:?}");

    // policies through gRPC: listed with next runs, run now (a backup job), paused
    let policy = unique("pol");
    let (status, body) = server
        .post(
            "/api/v2/policies",
            json!({"name": policy, "collections": ["empty_coll"], "cron": "0 3 * * *"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let listed = client
        .list_policies(pb::ListPoliciesRequest {})
        .await
        .unwrap()
        .into_inner()
        .policies;
    let mine = listed.iter().find(|p| p.name == policy).unwrap();
    assert!(mine.enabled && mine.next_runs_ms.len() >= 2, "{mine:?}");
    let job = client
        .run_policy(pb::PolicyName {
            name: policy.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.kind, pb::JobKind::Backup as i32);
    assert!(job.backup_name.starts_with(&policy), "{job:?}");
    let last = watch(&mut client, &job.id).await.pop().unwrap();
    assert_eq!(last.state, pb::JobState::Succeeded as i32, "{last:?}");
    client
        .get_backup(pb::GetBackupRequest {
            name: job.backup_name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let paused = client
        .set_policy_enabled(pb::SetPolicyEnabledRequest {
            name: policy.clone(),
            enabled: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !paused.enabled && paused.next_runs_ms.is_empty(),
        "{paused:?}"
    );
    let missing = client
        .run_policy(pb::PolicyName {
            name: "no_such_policy".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    let removed = client
        .delete_backup(pb::DeleteBackupRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(removed.files_removed > 1);
    let gone = client
        .get_backup(pb::GetBackupRequest {
            name,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

/// Collects a job's WatchJob stream until it ends.
async fn watch(client: &mut BackupServiceClient<Channel>, id: &str) -> Vec<pb::Job> {
    let mut stream = client
        .watch_job(pb::GetJobRequest { id: id.into() })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    let limit = tokio::time::Instant::now() + Duration::from_secs(300);
    while let Some(msg) = tokio::time::timeout_at(limit, stream.message())
        .await
        .expect("the watch ended within 5 minutes")
        .unwrap()
    {
        out.push(msg);
    }
    assert!(!out.is_empty(), "the watch sent nothing");
    out
}

#[tokio::test]
async fn grpc_health_and_reflection_are_served() {
    let server = Server::start().await;
    let channel = Channel::from_shared(server.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let mut serving = None;
    for _ in 0..50 {
        let r = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: "milvault.v1.BackupService".into(),
            })
            .await
            .unwrap()
            .into_inner();
        serving = Some(r.status);
        if r.status == tonic_health::pb::health_check_response::ServingStatus::Serving as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        serving,
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
    );

    use tonic_reflection::pb::v1::{
        server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        ServerReflectionRequest,
    };
    let mut reflection = ServerReflectionClient::new(channel);
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(futures::stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else {
        panic!("unexpected reflection answer {resp:?}");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"milvault.v1.BackupService".to_string()),
        "{names:?}"
    );
}

#[tokio::test]
async fn bad_inputs_get_clear_errors_and_change_nothing() {
    let server = Server::start().await;
    let mut client = server.grpc().await;

    // one complete backup to aim at
    let kept = unique("bad");
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"backup_name": kept, "collection_names": ["empty_coll"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let backups_before = server.backup_names().await;
    let jobs_before = server.job_count().await;

    // malformed JSON, unknown fields, wrong content type, oversized body
    for path in ["/api/v1/create", "/api/v1/restore", "/api/v2/backups"] {
        let (status, body) = server
            .post_raw(path, "application/json", b"{ not json".to_vec())
            .await;
        assert_eq!(status, 400, "{path}: {body}");
        let msg = body["msg"]
            .as_str()
            .or(body["error"]["message"].as_str())
            .unwrap();
        assert!(msg.contains("not valid JSON"), "{path}: {msg}");
    }
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"backup_name": "x1", "colection_names": ["a"]}),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(400)));
    assert!(body["msg"]
        .as_str()
        .unwrap()
        .contains("unknown field `colection_names`"));
    let (status, body) = server
        .post(
            &format!("/api/v2/backups/{kept}/restore"),
            json!({"sufix": "_x"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_body"))
    );
    assert!(body["error"]["message"].as_str().unwrap().contains("sufix"));
    let (status, body) = server
        .post_raw("/api/v2/backups", "text/plain", b"{}".to_vec())
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (415, Some("unsupported_media_type"))
    );
    let huge = json!({"name": "x2", "collections": vec!["c".repeat(1000); 100]});
    let (status, body) = server.post("/api/v2/backups", huge).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    // missing and invalid names
    let (status, body) = server.post("/api/v1/restore", json!({"async": true})).await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(400)));
    assert!(body["msg"]
        .as_str()
        .unwrap()
        .contains("backup_name is required"));
    let (status, body) = server.get("/api/v1/get_backup").await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(400)));
    let (status, body) = server.delete("/api/v1/delete").await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(400)));
    let (status, body) = server
        .post("/api/v2/backups", json!({"name": "../escape"}))
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    // a filter beside collections, a filter that names no data, a policy (the scheduler's own)
    for (req, code, says) in [
        (
            json!({"name": "x3", "filter": "shop.*", "collections": ["a"]}),
            "invalid_request",
            "not both",
        ),
        (
            json!({"name": "x4", "filter": "shop."}),
            "invalid_request",
            "shop.",
        ),
        (
            json!({"name": "x5", "policy": "nightly"}),
            "invalid_body",
            "policy",
        ),
    ] {
        let (status, body) = server.post("/api/v2/backups", req.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some(code)),
            "{req}: {body}"
        );
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{req}: {msg}");
    }

    // unknown backups, collections, jobs; options milvault does not have
    let (status, body) = server
        .post(
            "/api/v1/restore",
            json!({"backup_name": "no_such_backup_x"}),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (404, Some(404)), "{body}");
    let (status, body) = server
        .post(
            &format!("/api/v2/backups/{kept}/restore"),
            json!({"collections": ["not_in_backup"]}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = server.get("/api/v2/jobs/no-such-job").await;
    assert_eq!(status, 404);
    let (status, body) = server.get("/api/v1/get_restore?id=no-such-job").await;
    assert_eq!((status, body["code"].as_i64()), (404, Some(404)));
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"backup_name": "x3", "backup_root_path": "/elsewhere"}),
        )
        .await;
    assert_eq!((status, body["code"].as_i64()), (400, Some(1)), "{body}");
    // a backup that exists cannot be made again
    let (status, body) = server.post("/api/v2/backups", json!({"name": kept})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("backup_exists"))
    );

    // the same through gRPC
    let e = client
        .get_backup(pb::GetBackupRequest {
            name: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("name is required"));
    let e = client
        .restore(pb::RestoreRequest {
            backup_name: "no_such_backup_x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let e = client
        .create_backup(pb::CreateBackupRequest {
            name: kept.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::AlreadyExists);
    let e = client
        .create_backup(pb::CreateBackupRequest {
            name: "x4".into(),
            collections: vec!["c".repeat(1000); 100],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::OutOfRange, "{e:?}");
    let e = client
        .list_backups(pb::ListBackupsRequest {
            page_size: 10,
            page_token: "garbage".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);

    // nothing changed: same backups, no job started
    assert_eq!(server.backup_names().await, backups_before);
    assert_eq!(server.job_count().await, jobs_before);

    // concurrent creates of one name, through REST v2, REST v1 and gRPC: exactly one wins
    let race = unique("race");
    let mut grpc2 = server.grpc().await;
    let (a, b, c) = tokio::join!(
        server.post("/api/v2/backups", json!({"name": race, "meta_only": true})),
        server.post(
            "/api/v1/create",
            json!({"async": true, "backup_name": race, "strategy": "meta_only"})
        ),
        grpc2.create_backup(pb::CreateBackupRequest {
            name: race.clone(),
            meta_only: true,
            ..Default::default()
        }),
    );
    let wins = [a.0 == 202, b.0 == 200, c.is_ok()];
    assert_eq!(
        wins.iter().filter(|w| **w).count(),
        1,
        "v2 {a:?} v1 {b:?} grpc {c:?}"
    );
    for (status, body) in [&a, &b] {
        if *status != 202 && *status != 200 {
            assert_eq!(*status, 409, "{body}");
        }
    }
    if let Err(e) = &c {
        assert_eq!(e.code(), Code::AlreadyExists);
    }
    // the winner completes, and only it
    let done = poll_v1(&server, &format!("/api/v1/get_backup?backup_name={race}")).await;
    assert_eq!(done["data"]["state_code"], 2, "{done}");
    assert_eq!(server.job_count().await, jobs_before + 1);
    let mut after = server.backup_names().await;
    after.retain(|n| n != &race);
    assert_eq!(after, backups_before);
}

#[tokio::test]
async fn the_api_page_and_openapi_document_are_served() {
    let server = Server::start().await;
    let (status, doc) = server.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/create",
        "/api/v1/list",
        "/api/v1/get_backup",
        "/api/v1/delete",
        "/api/v1/restore",
        "/api/v1/get_restore",
        "/api/v2/backups",
        "/api/v2/jobs/{id}",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not documented");
    }
    let page = server
        .http
        .get(server.url("/api/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("<code>/api/v1/restore</code>"));
    assert!(!html.contains("<script"));
}

/// The value of the sample `name` (with its labels, as printed) on a /metrics page; 0 if absent.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_move_as_jobs_succeed_and_fail() {
    let server = &Server::start().await;
    let page = || async {
        let r = server
            .http
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"));
        r.text().await.unwrap()
    };
    let wait = |id: String| async move {
        for _ in 0..600 {
            let (_, job) = server.get(&format!("/api/v2/jobs/{id}")).await;
            if job["state"] != "running" {
                return job;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        panic!("job {id} did not end");
    };
    let before = page().await;
    let ok = r#"milvault_jobs_ended_total{kind="backup",outcome="succeeded"}"#;
    let failed = r#"milvault_jobs_ended_total{kind="backup",outcome="failed"}"#;
    let bytes = r#"milvault_job_bytes_total{kind="backup"}"#;
    let (status, job) = server
        .post(
            "/api/v2/backups",
            json!({"name": unique("met"), "collections": ["demo_products"]}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let end = wait(job["id"].as_str().unwrap().to_string()).await;
    assert_eq!(end["state"], "succeeded", "{end}");
    let (status, job) = server
        .post(
            "/api/v2/backups",
            json!({"name": unique("met"), "collections": ["no_such_collection_m"]}),
        )
        .await;
    assert_eq!(status, 202, "{job}");
    let end = wait(job["id"].as_str().unwrap().to_string()).await;
    assert_eq!(end["state"], "failed", "{end}");
    let after = page().await;
    assert_eq!(sample(&after, ok) - sample(&before, ok), 1.0, "{after}");
    assert_eq!(
        sample(&after, failed) - sample(&before, failed),
        1.0,
        "{after}"
    );
    assert!(sample(&after, bytes) > sample(&before, bytes), "{after}");
    // every byte the backup copied is counted under the way it went (here: across buckets of
    // one S3 endpoint, server-side unless a copy fell back to streaming)
    let copied = |page: &str| -> f64 {
        ["server_side", "streamed", "local", "from_base"]
            .iter()
            .map(|m| {
                sample(
                    page,
                    &format!(r#"milvault_copied_bytes_total{{kind="backup",mode="{m}"}}"#),
                )
            })
            .sum()
    };
    assert_eq!(
        copied(&after) - copied(&before),
        sample(&after, bytes) - sample(&before, bytes),
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"milvault_copied_bytes_total{kind="backup",mode="server_side"}"#
        ) > 0.0,
        "{after}"
    );
    assert!(
        sample(
            &after,
            r#"milvault_job_duration_seconds_count{kind="backup"}"#
        ) >= 2.0,
        "{after}"
    );
    assert!(after.ends_with("# EOF\n"));
}

/// The text of each element whose class list has `class`, tags and comments stripped
/// (`<td class="num stored-rows">3,000</td>` gives `3,000`).
fn texts_of_class(html: &str, class: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("class=\"") {
        rest = &rest[at + 7..];
        let Some(end) = rest.find('"') else { break };
        let classes = &rest[..end];
        if !classes.split_whitespace().any(|c| c == class) {
            continue;
        }
        let Some(open) = rest.find('>') else { break };
        let inner = &rest[open + 1..];
        let close = inner.find("</").unwrap_or(inner.len());
        let mut text = String::new();
        let mut in_tag = false;
        for ch in inner[..close].chars() {
            match ch {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text.trim().to_string());
    }
    out
}

/// One backup of demo_products (3,000 rows inserted, every tenth deleted by the seed: 2,700 live
/// rows, counted at backup time since the collection is loaded) shows the same stored and live
/// rows in REST v2, gRPC, the CLI and the portal.
#[tokio::test]
async fn the_same_backup_shows_the_same_stored_and_live_rows_everywhere() {
    let server = Server::start().await;
    let name = unique("rows");
    let (status, body) = server
        .post(
            "/api/v1/create",
            json!({"async": false, "backup_name": name, "collection_names": ["demo_products"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["state_code"], 2, "{body}");

    // REST v2: the backup and its collection
    let (status, detail) = server.get(&format!("/api/v2/backups/{name}")).await;
    assert_eq!(status, 200, "{detail}");
    let stored = detail["backup"]["stored_rows"].as_i64().unwrap();
    let live = detail["backup"]["live_rows"].as_i64();
    assert_eq!(
        live,
        Some(2700),
        "live rows counted at backup time: {detail}"
    );
    // deletes stay in delta logs until Milvus compacts them: the segments hold up to the 3,000
    // rows inserted (a compaction since the seed may have dropped some deleted ones)
    assert!((2700..=3000).contains(&stored), "{detail}");
    assert_eq!(
        detail["backup"]["rows"].as_i64(),
        live,
        "rows: live when counted"
    );
    let coll = &detail["collections"][0];
    assert_eq!(coll["name"], "demo_products");
    assert_eq!(coll["stored_rows"].as_i64(), Some(stored), "{detail}");
    assert_eq!(coll["live_rows"].as_i64(), live, "{detail}");
    let (status, page) = server.get("/api/v2/backups?limit=500").await;
    assert_eq!(status, 200, "{page}");
    let item = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name.as_str())
        .unwrap();
    assert_eq!(item["stored_rows"].as_i64(), Some(stored), "{item}");
    assert_eq!(item["live_rows"].as_i64(), live, "{item}");

    // gRPC
    let backup = server
        .grpc()
        .await
        .get_backup(pb::GetBackupRequest {
            name: name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let summary = backup.summary.as_ref().unwrap();
    assert_eq!((summary.stored_rows, summary.live_rows), (stored, live));
    let c = &backup.collections[0];
    assert_eq!((c.stored_rows, c.live_rows), (stored, live));

    // the CLI: `--json get` (the backup's metadata), `--json list` and `get`
    let (code, out, err) = server.cli(&["--json", "get", "-n", &name]);
    assert_eq!(code, 0, "{out}{err}");
    let meta: Value = serde_json::from_str(&out).unwrap();
    let products = &meta["collection_backups"][0];
    let segment_rows: i64 = products["partition_backups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["segment_backups"].as_array().cloned().unwrap_or_default())
        .map(|s| s["num_of_rows"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(segment_rows, stored, "{out}");
    assert_eq!(products["milvault_live_rows"].as_i64(), live, "{out}");
    let (code, out, err) = server.cli(&["--json", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name.as_str())
        .unwrap();
    assert_eq!(listed["stored_rows"].as_i64(), Some(stored), "{listed}");
    assert_eq!(listed["live_rows"].as_i64(), live, "{listed}");
    let (code, out, err) = server.cli(&["get", "-n", &name]);
    assert_eq!(code, 0, "{out}{err}");
    let both = format!("{stored} stored rows, {} live rows", live.unwrap());
    assert_eq!(
        out.matches(&both).count(),
        2,
        "summary and collection: {out}"
    );

    // the portal's server-rendered pages: the backup page and the backups list
    let rows = app::format::Rows::new(stored, live);
    let r = server
        .http
        .get(server.url(&format!("/backups/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    // the facts and the collection's row
    assert_eq!(
        texts_of_class(&html, "stored-rows"),
        vec![rows.stored(), rows.stored()],
        "{html}"
    );
    assert_eq!(
        texts_of_class(&html, "live-rows"),
        vec![rows.live(), rows.live()],
        "{html}"
    );
    assert_eq!(rows.live(), "2,700");
    assert!(html.contains(&rows.title()), "{html}");
    let r = server.http.get(server.url("/")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("title=\"{}\"", rows.title())),
        "the list's tooltip: {html}"
    );
    assert!(
        texts_of_class(&html, "rows").contains(&rows.shown()),
        "{html}"
    );
}
