//! Milvus' REST import API (2.4+), the one call that takes an import job of several file groups:
//! `POST /v2/vectordb/jobs/import/create` and `POST /v2/vectordb/jobs/import/describe`, served
//! by the proxy on its gRPC port (`internal/distributed/proxy/httpserver/handler_v2.go`:
//! `createImportJob` builds an `internalpb.ImportRequest` with one `ImportFile` per inner list of
//! `files` and answers `{"code":0,"data":{"jobId":"..."}}`; `getImportJobProcess` answers
//! `{"code":0,"data":{"jobId","collectionName","state","progress","importedRows","totalRows",
//! "reason","details"...}}`, `state` an `internalpb.ImportJobState` name; a refusal is HTTP 200
//! with a non-zero `code` and a `message`; read at milvus commit c1c38337, the routes
//! `ImportJobCategory+CreateAction` and `+DescribeAction` of `RegisterRoutesToV2`).
//! The requests are milvus-backup's (`internal/client/milvus/restful.go`: `BulkInsert`,
//! `GetBulkInsertState`, `NewRestful`): bearer `user:password`, `Request-Timeout: 600` on create,
//! options as a JSON object (keys sorted, as Go writes a map).
//!
//! The base address is the gRPC one (`http://address:port`, `https` with TLS), as
//! milvus-backup derives it when `milvus.rest.endpoint` is empty.

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::client::{job_not_there_yet, IMPORT_APPEAR_TRIES, IMPORT_APPEAR_WAIT};
use super::ImportState;
use crate::config::MilvusConfig;
use crate::error::{Error, Result};
use crate::format::KeyValuePair;

/// Path of the call that creates a job.
pub const CREATE_PATH: &str = "/v2/vectordb/jobs/import/create";
/// Path of the call that tells a job's state.
pub const DESCRIBE_PATH: &str = "/v2/vectordb/jobs/import/describe";

/// A client of Milvus' REST import API. Cheap to clone.
#[derive(Clone)]
pub struct ImportJobs {
    http: reqwest::Client,
    base: String,
    /// `Bearer user:password`, when a user or password is configured.
    auth: Option<String>,
}

/// A job's state as `describe` tells it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobProgress {
    pub state: ImportState,
    /// Percent done (0-100).
    pub progress: i64,
    /// Rows imported so far (all of them once completed).
    pub rows: i64,
    /// Why it failed.
    pub reason: String,
}

/// The body of `create` (milvus-backup's `createImportReq`, in its field order).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateBody<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    db_name: &'a str,
    collection_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    partition_name: &'a str,
    files: &'a [Vec<String>],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    options: BTreeMap<&'a str, &'a str>,
}

/// An answer: `code` 0 and `data`, or a refusal's `code` and `message`.
#[derive(Deserialize)]
struct Answer<T> {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
    data: Option<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    job_id: serde_json::Value,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Described {
    state: String,
    progress: i64,
    imported_rows: i64,
    reason: String,
}

impl ImportJobs {
    /// The REST API of the Milvus `cfg` names (its CA certificate trusted under TLS); calls time
    /// out after `timeout`.
    pub fn new(cfg: &MilvusConfig, timeout: Duration) -> Result<ImportJobs> {
        let mut builder = reqwest::Client::builder().timeout(timeout);
        if cfg.tls_mode > 0 && !cfg.ca_cert_path.is_empty() {
            let pem = std::fs::read(&cfg.ca_cert_path).map_err(|e| {
                Error::Config(format!("milvus.caCertPath {}: {e}", cfg.ca_cert_path))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                Error::Config(format!("milvus.caCertPath {}: {e}", cfg.ca_cert_path))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("Milvus REST client: {e}")))?;
        Ok(ImportJobs::with_client(
            http,
            &cfg.endpoint(),
            &cfg.user,
            cfg.password.expose(),
        ))
    }

    /// Over `http`, at `base` (`http://host:port`).
    pub fn with_client(http: reqwest::Client, base: &str, user: &str, password: &str) -> Self {
        let auth =
            (!user.is_empty() || !password.is_empty()).then(|| format!("Bearer {user}:{password}"));
        ImportJobs {
            http,
            base: base.trim_end_matches('/').to_string(),
            auth,
        }
    }

    /// Creates an import job of `files` (file groups) into `db.collection` (`partition`, or
    /// none for collection-level L0 deletes) with `options`; returns its id.
    pub async fn create(
        &self,
        db: &str,
        collection: &str,
        partition: &str,
        files: &[Vec<String>],
        options: &[KeyValuePair],
    ) -> Result<String> {
        let body = CreateBody {
            db_name: db,
            collection_name: collection,
            partition_name: partition,
            files,
            options: options
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_str()))
                .collect(),
        };
        let created: Created = self
            .post("ImportJob create", CREATE_PATH, &body, true)
            .await?;
        match created.job_id {
            serde_json::Value::String(s) if !s.is_empty() => Ok(s),
            serde_json::Value::Number(n) => Ok(n.to_string()),
            other => Err(Error::Milvus {
                call: "ImportJob create",
                reason: format!("the answer names no job (jobId {other})"),
                source: None,
            }),
        }
    }

    /// The state of job `job_id` of database `db`. Milvus 2.6 creates a job only once its
    /// request was broadcast: "not found" right after `create` is asked again,
    /// [`IMPORT_APPEAR_TRIES`] times a second apart (as the gRPC state is).
    pub async fn describe(&self, db: &str, job_id: &str) -> Result<JobProgress> {
        let mut tries = 1;
        loop {
            match self.describe_once(db, job_id).await {
                Err(Error::Milvus { reason, .. })
                    if tries < IMPORT_APPEAR_TRIES && job_not_there_yet(&reason) =>
                {
                    tries += 1;
                    tokio::time::sleep(IMPORT_APPEAR_WAIT).await;
                }
                other => return other,
            }
        }
    }

    async fn describe_once(&self, db: &str, job_id: &str) -> Result<JobProgress> {
        let body = serde_json::json!({ "dbName": db, "jobId": job_id });
        let d: Described = self
            .post("ImportJob describe", DESCRIBE_PATH, &body, false)
            .await?;
        // internalpb.ImportJobState names; Uncommitted/Committing/Sorting/IndexBuilding and
        // PreImporting are on the way
        let state = match d.state.as_str() {
            "Completed" => ImportState::Completed,
            "Failed" => ImportState::Failed,
            "Pending" | "None" | "" => ImportState::Pending,
            _ => ImportState::Running,
        };
        Ok(JobProgress {
            state,
            progress: d.progress,
            rows: d.imported_rows,
            reason: d.reason,
        })
    }

    /// POSTs `body` as JSON to `path` and reads `data` of a `code` 0 answer.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        call: &'static str,
        path: &str,
        body: &impl Serialize,
        long: bool,
    ) -> Result<T> {
        let fail = |reason: String| Error::Milvus {
            call,
            reason,
            source: None,
        };
        let mut req = self.http.post(format!("{}{path}", self.base)).json(body);
        if long {
            // seconds the proxy gives the call (milvus-backup's value; the proxy lists every
            // folder of the job before it answers)
            req = req.header("Request-Timeout", "600");
        }
        if let Some(auth) = &self.auth {
            req = req.header(reqwest::header::AUTHORIZATION, auth);
        }
        let resp = req.send().await.map_err(|e| fail(e.to_string()))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() {
            let head: String = text.chars().take(200).collect();
            return Err(fail(format!("HTTP {status}: {head}")));
        }
        let answer: Answer<T> = serde_json::from_str(&text)
            .map_err(|e| fail(format!("unreadable answer ({e}): {text}")))?;
        if answer.code != 0 {
            return Err(fail(format!("code {}: {}", answer.code, answer.message)));
        }
        answer
            .data
            .ok_or_else(|| fail(format!("the answer has no data: {text}")))
    }
}
