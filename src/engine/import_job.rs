//! Runs one merged import job (a request of [`crate::engine::import_plan::Api::ImportJob`]):
//! creates it over Milvus' REST API, hands its id to the caller's record, and polls it until it
//! completed (its imported rows) or failed (its reason), as milvus-backup's
//! `collTask.bulkInsertViaRestful` / `checkBulkInsertViaRestful` (core/restore/coll_task.go) do,
//! but within a time limit, like every other wait of a restore.
//!
//! The job id is recorded as an import task: on Milvus 2.4+ gRPC `GetImportState` and
//! `ListImportTasks` answer about import jobs by the same ids (milvus-backup's gRPC restore
//! polls the id `Import` answers the same way), which is what a resume asks
//! (`restore.rs`: `landed_imports`). Not exercised against a real 2.4+ server here.

use std::time::Duration;

use crate::{
    error::{Error, Result},
    format::KeyValuePair,
    milvus::{import_jobs::ImportJobs, ImportState},
};

/// What one job imports, and where.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub db: &'a str,
    pub collection: &'a str,
    /// Empty for collection-level L0 deletes.
    pub partition: &'a str,
    /// File groups, as Milvus reads them.
    pub files: &'a [Vec<String>],
    pub options: &'a [KeyValuePair],
    /// `db.collection`, for messages.
    pub target: &'a str,
    /// The job's first backed-up segment, for messages.
    pub segment: i64,
}

/// Creates `job`, calls `created` with its id, and waits (polling every `poll`, at most `wait`)
/// until it ends; returns the rows it imported.
pub async fn run(
    jobs: &ImportJobs,
    job: Job<'_>,
    wait: Duration,
    poll: Duration,
    created: impl FnOnce(&str),
) -> Result<i64> {
    let id = jobs
        .create(
            job.db,
            job.collection,
            job.partition,
            job.files,
            job.options,
        )
        .await?;
    tracing::debug!(job = %id, target = job.target, groups = job.files.len(), "import job created");
    created(&id);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let st = jobs.describe(job.db, &id).await?;
        match st.state {
            ImportState::Completed => return Ok(st.rows),
            ImportState::Failed => {
                return Err(Error::ImportFailed {
                    collection: job.target.into(),
                    segment: job.segment,
                    reason: format!("import job {id}: {}", st.reason),
                })
            }
            _ if tokio::time::Instant::now() > deadline => {
                return Err(Error::MilvusTimeout {
                    call: "ImportJob describe",
                    timeout: wait,
                })
            }
            _ => {
                tracing::debug!(job = %id, progress = st.progress, rows = st.rows, "import job running");
                tokio::time::sleep(poll).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// One request the listener got: path, the headers that matter, body.
    #[derive(Debug, Clone, PartialEq)]
    struct Got {
        path: String,
        authorization: Option<String>,
        content_type: Option<String>,
        request_timeout: Option<String>,
        body: String,
    }

    /// A recording HTTP listener on 127.0.0.1 that answers each request with the next of
    /// `answers` (JSON, HTTP 200, as Milvus' REST API answers refusals too); returns its base
    /// address and what it got.
    async fn milvus_rest(answers: Vec<&'static str>) -> (String, Arc<Mutex<Vec<Got>>>) {
        let got: Arc<Mutex<Vec<Got>>> = Default::default();
        let answers = Arc::new(Mutex::new(answers.into_iter()));
        let kept = got.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                let (kept, answers) = (kept.clone(), answers.clone());
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .map(|v| v.to_str().unwrap_or("?").to_string())
                    };
                    kept.lock().unwrap().push(Got {
                        path: uri.path().to_string(),
                        authorization: header("authorization"),
                        content_type: header("content-type"),
                        request_timeout: header("request-timeout"),
                        body,
                    });
                    let answer = answers.lock().unwrap().next().unwrap_or("{}");
                    ([("content-type", "application/json")], answer)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), got)
    }

    /// What Milvus 2.6's handler_v2 answers: the job id; then the job's state.
    const CREATED: &str = r#"{"code":0,"data":{"jobId":"457000000000000123"}}"#;
    const PENDING: &str = r#"{"code":0,"data":{"jobId":"457000000000000123","collectionName":"notes","completeTime":"","state":"Pending","progress":0,"importedRows":0,"totalRows":0,"details":[]}}"#;
    const IMPORTING: &str = r#"{"code":0,"data":{"jobId":"457000000000000123","collectionName":"notes","completeTime":"","state":"Importing","progress":40,"importedRows":10,"totalRows":25,"details":[{"fileName":"[a/]","fileSize":0,"state":"Importing","progress":40,"completeTime":"","importedRows":10,"totalRows":25}]}}"#;
    const COMPLETED: &str = r#"{"code":0,"data":{"jobId":"457000000000000123","collectionName":"notes","completeTime":"2026-12-06T05:00:00Z","state":"Completed","progress":100,"importedRows":25,"totalRows":25,"details":[]}}"#;
    const FAILED: &str = r#"{"code":0,"data":{"jobId":"457000000000000123","collectionName":"notes","completeTime":"","state":"Failed","progress":0,"importedRows":0,"totalRows":0,"reason":"no binlog to import, input=[paths:\"mb/binlogs/delta_log/1/-1/9/\"]","details":[]}}"#;

    fn kv(k: &str, v: &str) -> KeyValuePair {
        KeyValuePair::new(k, v)
    }

    #[tokio::test]
    async fn a_merged_job_is_created_and_polled_until_milvus_says_completed() {
        let (base, got) = milvus_rest(vec![CREATED, PENDING, IMPORTING, COMPLETED]).await;
        let jobs = ImportJobs::with_client(reqwest::Client::new(), &base, "root", "Milvus");
        let files = vec![
            vec!["files/mb/binlogs/insert_log/1/2/101/".to_string()],
            vec![
                "files/mb/binlogs/insert_log/1/2/102/".to_string(),
                "files/mb/binlogs/delta_log/1/2/102/".to_string(),
            ],
        ];
        let options = [
            kv("skip_disk_quota_check", "true"),
            kv("backup", "true"),
            kv("storage_version", "2"),
            kv("ezk", "key-of-team-a"),
        ];
        let job = Job {
            db: "team_a",
            collection: "notes",
            partition: "_default",
            files: &files,
            options: &options,
            target: "team_a.notes",
            segment: 101,
        };
        let mut recorded = String::new();
        let rows = run(
            &jobs,
            job,
            Duration::from_secs(10),
            Duration::from_millis(5),
            |id| recorded = id.to_string(),
        )
        .await
        .unwrap();
        assert_eq!(rows, 25);
        assert_eq!(recorded, "457000000000000123");
        let describe = Got {
            path: "/v2/vectordb/jobs/import/describe".into(),
            authorization: Some("Bearer root:Milvus".into()),
            content_type: Some("application/json".into()),
            request_timeout: None,
            body: r#"{"dbName":"team_a","jobId":"457000000000000123"}"#.into(),
        };
        assert_eq!(
            *got.lock().unwrap(),
            [
                Got {
                    path: "/v2/vectordb/jobs/import/create".into(),
                    authorization: Some("Bearer root:Milvus".into()),
                    content_type: Some("application/json".into()),
                    request_timeout: Some("600".into()),
                    // milvus-backup's createImportReq; options as Go writes a map: keys sorted
                    body: concat!(
                        r#"{"dbName":"team_a","collectionName":"notes","partitionName":"_default","#,
                        r#""files":[["files/mb/binlogs/insert_log/1/2/101/"],"#,
                        r#"["files/mb/binlogs/insert_log/1/2/102/","files/mb/binlogs/delta_log/1/2/102/"]],"#,
                        r#""options":{"backup":"true","ezk":"key-of-team-a","skip_disk_quota_check":"true","storage_version":"2"}}"#
                    )
                    .into(),
                },
                describe.clone(),
                describe.clone(),
                describe,
            ]
        );
    }

    #[tokio::test]
    async fn a_failed_job_fails_with_milvus_reason_and_a_refusal_names_its_code() {
        // collection-level L0 deletes: no partition name; no user: no Authorization
        let (base, got) = milvus_rest(vec![CREATED, IMPORTING, FAILED]).await;
        let jobs = ImportJobs::with_client(reqwest::Client::new(), &base, "", "");
        let files = vec![vec!["mb/binlogs/delta_log/1/-1/9/".to_string()]];
        let options = [kv("skip_disk_quota_check", "true"), kv("l0_import", "true")];
        let job = Job {
            db: "default",
            collection: "notes",
            partition: "",
            files: &files,
            options: &options,
            target: "default.notes",
            segment: 9,
        };
        let err = run(
            &jobs,
            job,
            Duration::from_secs(10),
            Duration::from_millis(5),
            |_| {},
        )
        .await
        .unwrap_err();
        match &err {
            Error::ImportFailed {
                collection,
                segment,
                reason,
            } => {
                assert_eq!((collection.as_str(), *segment), ("default.notes", 9));
                assert!(
                    reason.starts_with("import job 457000000000000123: no binlog to import"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0].body,
            r#"{"dbName":"default","collectionName":"notes","files":[["mb/binlogs/delta_log/1/-1/9/"]],"options":{"l0_import":"true","skip_disk_quota_check":"true"}}"#
        );
        assert!(got.iter().all(|g| g.authorization.is_none()));

        // Milvus refuses the job (HTTP 200, a code and a message): nothing is recorded
        let refusal = r#"{"code":1100,"message":"invalid parameter[expected=valid file count][actual=the number of import files exceeds 1024]"}"#;
        let (base, got) = milvus_rest(vec![refusal]).await;
        let jobs = ImportJobs::with_client(reqwest::Client::new(), &base, "root", "Milvus");
        let mut recorded = false;
        let err = run(
            &jobs,
            job,
            Duration::from_secs(10),
            Duration::from_millis(5),
            |_| recorded = true,
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("code 1100") && err.contains("exceeds 1024"),
            "{err}"
        );
        assert!(!recorded);
        assert_eq!(got.lock().unwrap().len(), 1);
    }
}
