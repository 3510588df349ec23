//! milvault's gRPC API (`milvault.v1.BackupService`, proto/milvault.proto) over the same
//! [`JobRegistry`] as the portal and REST, with the standard health service and server
//! reflection. [`routes`] mounts them on the web server's router (same port, HTTP/2).

// tonic's handlers answer `Result<_, Status>`; Status is large by design.
#![allow(clippy::result_large_err)]

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use tokio::time::Instant;

use axum::Router;
use futures::{stream, Stream, StreamExt};
use tonic::{server::NamedService, Request, Response, Status};

use crate::{
    auth::{Caller, Gate},
    engine::commands::{
        archive::{ExportOptions, ImportOptions},
        copy::CopyRequest,
        create::CreateBackupRequest,
        drill::{DrillReport, DrillRequest},
        list::BackupSummary,
        restore,
    },
    error::{Error, ErrorKind},
    format::{db_or_default, BackupInfo},
    jobs::policies::PolicyOverview,
    jobs::registry::JobRegistry,
    progress::{JobKind, JobSnapshot, JobState},
};

/// Code generated from proto/milvault.proto.
pub mod pb {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("milvault.v1");

    /// The encoded file descriptors, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("milvault_descriptor");
}

use pb::backup_service_server::{BackupService, BackupServiceServer};

/// Largest gRPC message read: requests only name backups and collections.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Bytes of archive in one `ExportBackup` message (under [`MAX_MESSAGE_BYTES`] with its framing).
const ARCHIVE_CHUNK_BYTES: usize = 60 * 1024;

/// A watch sends at most one message per this interval (the newest state; the last always).
const WATCH_EVERY: Duration = Duration::from_millis(250);

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 500;

/// The BackupService implementation.
pub struct GrpcService {
    registry: Arc<JobRegistry>,
}

impl GrpcService {
    /// A service over `registry`.
    pub fn new(registry: Arc<JobRegistry>) -> GrpcService {
        GrpcService { registry }
    }

    /// The gate for the caller the web server's authentication layer put on the request.
    fn gate<T>(&self, request: &Request<T>) -> Result<Gate, Status> {
        request
            .extensions()
            .get::<Caller>()
            .map(|c| Gate::new(&self.registry, c.clone()))
            .ok_or_else(|| Status::unauthenticated("the request passed no authentication layer"))
    }
}

/// The gRPC status of an engine error.
pub fn status_of(e: Error) -> Status {
    let msg = e.to_string();
    match e.kind() {
        ErrorKind::InvalidInput => Status::invalid_argument(msg),
        ErrorKind::NotFound => Status::not_found(msg),
        ErrorKind::Conflict => Status::already_exists(msg),
        ErrorKind::FailedPrecondition => Status::failed_precondition(msg),
        ErrorKind::Unavailable => Status::unavailable(msg),
        ErrorKind::Unauthenticated => Status::unauthenticated(msg),
        ErrorKind::Forbidden => Status::permission_denied(msg),
        ErrorKind::TooManyRequests | ErrorKind::TooLarge => Status::resource_exhausted(msg),
        ErrorKind::Internal | ErrorKind::Unreachable => Status::internal(msg),
    }
}

fn required(value: &str, field: &str) -> Result<(), Status> {
    if value.trim().is_empty() {
        Err(Status::invalid_argument(format!("{field} is required")))
    } else {
        Ok(())
    }
}

/// A policy as its protobuf message.
fn policy_message(o: PolicyOverview) -> pb::Policy {
    let p = o.policy;
    pb::Policy {
        name: p.name,
        collections: p.collections,
        databases: p.databases,
        cron: p.cron,
        time_zone: p.time_zone,
        name_template: p.name_template,
        retention: o.retention,
        enabled: p.enabled,
        verify_after: p.verify_after,
        meta_only: p.meta_only,
        logical: p.logical,
        drill_every: p.drill_every,
        next_runs_ms: o
            .next_runs
            .iter()
            .map(|t| t.timestamp_millis() as u64)
            .collect(),
    }
}

/// A job as its protobuf message.
pub fn job_message(s: &JobSnapshot) -> pb::Job {
    pb::Job {
        id: s.id.clone(),
        kind: match s.kind {
            JobKind::Backup => pb::JobKind::Backup,
            JobKind::Restore => pb::JobKind::Restore,
            JobKind::Verify => pb::JobKind::Verify,
            JobKind::Drill => pb::JobKind::Drill,
            JobKind::Copy => pb::JobKind::Copy,
        } as i32,
        backup_name: s.backup_name.clone(),
        state: match s.state {
            JobState::Running => pb::JobState::Running,
            JobState::Succeeded => pb::JobState::Succeeded,
            JobState::Failed => pb::JobState::Failed,
            JobState::Cancelled => pb::JobState::Cancelled,
        } as i32,
        step: s.step.clone(),
        bytes_done: s.bytes_done,
        bytes_total: s.bytes_total,
        segments_done: s.segments_done,
        segments_total: s.segments_total,
        started_at_ms: s.started_at.timestamp_millis(),
        finished_at_ms: s.finished_at.map(|t| t.timestamp_millis()).unwrap_or(0),
        error: s.error.clone().unwrap_or_default(),
        targets: s.targets.clone(),
    }
}

fn summary_message(b: &BackupSummary) -> pb::BackupSummary {
    pb::BackupSummary {
        name: b.name.clone(),
        id: b.id.clone(),
        backup_time_ms: b.backup_timestamp,
        size: b.size,
        milvus_version: b.milvus_version.clone(),
        collections: b.collections.clone(),
        rows: b.rows,
        meta_only: b.meta_only,
        stored_rows: b.stored_rows,
        live_rows: b.live_rows,
    }
}

fn backup_message(info: &BackupInfo) -> pb::Backup {
    pb::Backup {
        summary: Some(summary_message(&BackupSummary::from(info))),
        collections: info
            .collection_backups
            .iter()
            .map(|c| pb::CollectionInBackup {
                database: db_or_default(&c.db_name).to_string(),
                name: c.collection_name.clone(),
                rows: c.rows(),
                stored_rows: c.total_rows(),
                live_rows: c.live_rows,
                size: c.size,
                partitions: c.partition_backups.len() as u32,
                segments: c.segments().count() as u32,
                indexes: c
                    .index_infos
                    .iter()
                    .map(|i| format!("{} on {} ({})", i.index_name, i.field_name, i.index_type))
                    .collect(),
            })
            .collect(),
    }
}

type JobStream = Pin<Box<dyn Stream<Item = Result<pb::Job, Status>> + Send>>;

/// `jobs` until `refused` resolves; then the status of the error it resolves to, and nothing more.
fn until_refused(
    jobs: JobStream,
    refused: impl Future<Output = Error> + Send + 'static,
) -> JobStream {
    enum Next {
        Item(Result<pb::Job, Status>),
        Ended,
    }
    let jobs = jobs
        .map(Next::Item)
        .chain(stream::once(async { Next::Ended }));
    let refused = stream::once(refused).map(|e| Next::Item(Err(status_of(e))));
    Box::pin(stream::select(jobs, refused).scan(false, |failed, next| {
        std::future::ready(match next {
            _ if *failed => None,
            Next::Ended => None,
            Next::Item(r) => {
                *failed = r.is_err();
                Some(r)
            }
        })
    }))
}

#[tonic::async_trait]
impl BackupService for GrpcService {
    async fn create_backup(
        &self,
        request: Request<pb::CreateBackupRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        let job = gate
            .start_backup(CreateBackupRequest {
                name: r.name,
                collections: r.collections,
                databases: r.databases,
                filter: r.filter,
                meta_only: r.meta_only,
                skip_flush: r.skip_flush,
                policy: None,
                logical: r.logical,
                incremental: r.incremental,
                resume: r.resume,
                rbac: r.rbac,
            })
            .await
            .map_err(status_of)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn list_backups(
        &self,
        request: Request<pb::ListBackupsRequest>,
    ) -> Result<Response<pb::ListBackupsResponse>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        let size = match r.page_size as usize {
            0 => DEFAULT_PAGE,
            n if n <= MAX_PAGE => n,
            n => {
                return Err(Status::invalid_argument(format!(
                    "page_size {n} is too large: ask for at most {MAX_PAGE}"
                )))
            }
        };
        let offset = if r.page_token.is_empty() {
            0
        } else {
            r.page_token.parse::<usize>().map_err(|_| {
                Status::invalid_argument(
                    "page_token is not one this server gave; pass next_page_token unchanged",
                )
            })?
        };
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let all = gate.list_backups().await.map_err(status_of)?;
        let total = all.len();
        let next = offset.saturating_add(size);
        Ok(Response::new(pb::ListBackupsResponse {
            backups: all
                .iter()
                .skip(offset)
                .take(size)
                .map(summary_message)
                .collect(),
            next_page_token: if next < total {
                next.to_string()
            } else {
                String::new()
            },
            total: total as u64,
        }))
    }

    async fn get_backup(
        &self,
        request: Request<pb::GetBackupRequest>,
    ) -> Result<Response<pb::Backup>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let info = gate.get_backup(&r.name).await.map_err(status_of)?;
        Ok(Response::new(backup_message(&info)))
    }

    async fn delete_backup(
        &self,
        request: Request<pb::DeleteBackupRequest>,
    ) -> Result<Response<pb::DeleteBackupResponse>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let removed = gate.delete_backup(&r.name).await.map_err(status_of)?;
        Ok(Response::new(pb::DeleteBackupResponse {
            files_removed: removed as u64,
        }))
    }

    async fn restore(
        &self,
        request: Request<pb::RestoreRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.backup_name, "backup_name")?;
        let job = gate
            .start_restore(restore::RestoreRequest {
                name: r.backup_name,
                collections: r.collections,
                databases: r.databases,
                suffix: r.suffix,
                renames: r.renames,
                filter: r.filter,
                milvus: r.milvus,
                storage: r.storage,
                drop_existing: r.drop_existing,
                meta_only: r.meta_only,
                restore_index: r.restore_index,
                load: r.load,
                force: r.force,
                rbac: r.rbac,
                ..Default::default()
            })
            .await
            .map_err(status_of)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn verify_backup(
        &self,
        request: Request<pb::VerifyBackupRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let job = gate.start_verify(&r.name).await.map_err(status_of)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn drill_backup(
        &self,
        request: Request<pb::DrillBackupRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let req = DrillRequest {
            name: r.name,
            collections: r.collections,
            milvus: r.milvus,
            sample: r.sample as usize,
            top_k: r.top_k as usize,
            min_recall: r.min_recall,
        };
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let job = gate.start_drill(req).await.map_err(status_of)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn copy_backup(
        &self,
        request: Request<pb::CopyBackupRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        required(&r.to, "to")?;
        let req = CopyRequest {
            name: r.name,
            to: r.to,
            as_name: Some(r.as_name).filter(|n| !n.is_empty()),
        };
        let gate = gate.in_storage(&r.from).map_err(status_of)?;
        let job = gate.start_copy(req).await.map_err(status_of)?;
        Ok(Response::new(job_message(&job)))
    }

    async fn get_drill(
        &self,
        request: Request<pb::GetBackupRequest>,
    ) -> Result<Response<pb::DrillReport>, Status> {
        let gate = self.gate(&request)?;
        let name = request.into_inner().name;
        match gate.last_drill(&name).await.map_err(status_of)? {
            Some(r) => Ok(Response::new(drill_message(r))),
            None => Err(Status::not_found(format!(
                "backup '{name}' has not been drilled; DrillBackup drills it"
            ))),
        }
    }

    async fn list_policies(
        &self,
        request: Request<pb::ListPoliciesRequest>,
    ) -> Result<Response<pb::ListPoliciesResponse>, Status> {
        let gate = self.gate(&request)?;
        let policies = gate.policies().map_err(status_of)?;
        Ok(Response::new(pb::ListPoliciesResponse {
            policies: policies.into_iter().map(policy_message).collect(),
        }))
    }

    async fn run_policy(
        &self,
        request: Request<pb::PolicyName>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let started = crate::server::scheduler::run_policy(&gate, &r.name)
            .await
            .map_err(status_of)?;
        match gate.job(&started.run.job_id).map_err(status_of)? {
            Some(job) => Ok(Response::new(job_message(&job))),
            None => Err(Status::internal(format!(
                "policy '{}' started job {} but it cannot be found",
                r.name, started.run.job_id
            ))),
        }
    }

    async fn set_policy_enabled(
        &self,
        request: Request<pb::SetPolicyEnabledRequest>,
    ) -> Result<Response<pb::Policy>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        gate.set_policy_enabled(&r.name, r.enabled)
            .map_err(status_of)?;
        let o = gate.policy(&r.name, 3).map_err(status_of)?;
        Ok(Response::new(policy_message(o)))
    }

    async fn get_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.id, "id")?;
        match gate.job(&r.id).map_err(status_of)? {
            Some(s) => Ok(Response::new(job_message(&s))),
            None => Err(Status::not_found(format!("no job has id '{}'", r.id))),
        }
    }

    async fn cancel_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.id, "id")?;
        let s = gate.cancel_job(&r.id).map_err(status_of)?;
        Ok(Response::new(job_message(&s)))
    }

    async fn resume_job(
        &self,
        request: Request<pb::ResumeJobRequest>,
    ) -> Result<Response<pb::Job>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.id, "id")?;
        let s = gate
            .resume_job(&r.id, r.drop_existing)
            .await
            .map_err(status_of)?;
        Ok(Response::new(job_message(&s)))
    }

    type ExportBackupStream = Pin<Box<dyn Stream<Item = Result<pb::ArchiveChunk, Status>> + Send>>;

    async fn export_backup(
        &self,
        request: Request<pb::ExportBackupRequest>,
    ) -> Result<Response<Self::ExportBackupStream>, Status> {
        let gate = self.gate(&request)?;
        let r = request.into_inner();
        required(&r.name, "name")?;
        let opts = ExportOptions {
            name: r.name,
            zstd: r.zstd,
        };
        let gate = gate.in_storage(&r.storage).map_err(status_of)?;
        let export = gate.export_backup(&opts).await.map_err(status_of)?;
        let chunks = crate::server::archive_pipe::chunks(export, ARCHIVE_CHUNK_BYTES).map(|c| {
            c.map(|data| pb::ArchiveChunk {
                data: data.to_vec(),
            })
            .map_err(|e| Status::internal(e.to_string()))
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn import_backup(
        &self,
        request: Request<tonic::Streaming<pb::ImportBackupChunk>>,
    ) -> Result<Response<pb::ImportBackupResponse>, Status> {
        let gate = self.gate(&request)?;
        let limit = self.registry.service().config().tuning.max_archive_bytes;
        let mut inbound = request.into_inner();
        let first = inbound.message().await?.unwrap_or_default();
        let opts = ImportOptions {
            name: Some(first.name).filter(|n| !n.is_empty()),
        };
        let gate = gate.in_storage(&first.storage).map_err(status_of)?;
        let data = stream::iter([Ok(first.data)])
            .chain(inbound.map(|m| m.map(|c| c.data)))
            .map(|d| d.map(bytes::Bytes::from).map_err(std::io::Error::other));
        let input = tokio_util::io::StreamReader::new(data);
        let r = gate
            .import_backup(&opts, input, Some(limit))
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ImportBackupResponse {
            backup: r.backup,
            renamed_from: r.renamed_from.unwrap_or_default(),
            files: r.files,
            bytes: r.bytes,
        }))
    }

    type WatchJobStream = JobStream;

    async fn watch_job(
        &self,
        request: Request<pb::GetJobRequest>,
    ) -> Result<Response<Self::WatchJobStream>, Status> {
        let gate = self.gate(&request)?;
        let cred = crate::server::events::credential_of(&request.metadata().clone().into_headers());
        let r = request.into_inner();
        required(&r.id, "id")?;
        let stream: JobStream = match gate.watch(&r.id).map_err(status_of)? {
            Some(mut handle) => {
                let refused = gate.clone().until_refused(cred, r.id.clone());
                let first = handle.latest();
                let rest = stream::unfold((handle, Instant::now()), |(mut h, last)| async move {
                    tokio::time::sleep_until(last + WATCH_EVERY).await;
                    // `changed` answers the newest state: the changes of the pause are coalesced
                    h.changed()
                        .await
                        .map(|s| (Ok(job_message(&s)), (h, Instant::now())))
                });
                until_refused(
                    Box::pin(stream::once(async move { Ok(job_message(&first)) }).chain(rest)),
                    refused,
                )
            }
            None => match gate.job(&r.id).map_err(status_of)? {
                Some(s) => Box::pin(stream::once(async move { Ok(job_message(&s)) })),
                None => return Err(Status::not_found(format!("no job has id '{}'", r.id))),
            },
        };
        Ok(Response::new(stream))
    }
}

/// The gRPC services as routes of the web server: BackupService, grpc.health.v1 and server
/// reflection (v1 and v1alpha).
pub fn routes(registry: Arc<JobRegistry>) -> Router {
    let backup = BackupServiceServer::new(GrpcService::new(registry))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let (reporter, health) = tonic_health::server::health_reporter();
    tokio::spawn(async move {
        reporter
            .set_serving::<BackupServiceServer<GrpcService>>()
            .await;
    });
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1();
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha();
    let mut router = Router::new()
        .route_service(&service_path::<BackupServiceServer<GrpcService>>(), backup)
        .route_service(&service_path_of(health_name()), health);
    match (reflection_v1, reflection_v1alpha) {
        (Ok(v1), Ok(v1alpha)) => {
            router = router
                .route_service(&service_path_of(reflection_name_v1()), v1)
                .route_service(&service_path_of(reflection_name_v1alpha()), v1alpha);
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!("gRPC server reflection is off: {e}");
        }
    }
    router
}

fn service_path<S: NamedService>() -> String {
    service_path_of(S::NAME)
}

fn service_path_of(name: &str) -> String {
    format!("/{name}/{{*method}}")
}

fn health_name() -> &'static str {
    "grpc.health.v1.Health"
}

fn reflection_name_v1() -> &'static str {
    "grpc.reflection.v1.ServerReflection"
}

fn reflection_name_v1alpha() -> &'static str {
    "grpc.reflection.v1alpha.ServerReflection"
}

/// A drill report as its message.
fn drill_message(r: DrillReport) -> pb::DrillReport {
    pb::DrillReport {
        backup: r.backup,
        milvus_version: r.milvus_version,
        milvus: r.milvus,
        started_at: r.started_at.to_rfc3339(),
        database: r.database,
        restore_ms: r.restore_ms,
        check_ms: r.check_ms,
        cleanup_ms: r.cleanup_ms,
        collections: r
            .collections
            .into_iter()
            .map(|c| pb::DrillCollection {
                source: c.source,
                target: c.target,
                rows: c.rows,
                keys_sampled: c.keys_sampled as u32,
                keys_found: c.keys_found as u32,
                vector_field: c.vector_field.unwrap_or_default(),
                vectors_searched: c.vectors_searched as u32,
                vectors_found: c.vectors_found as u32,
                recall: c.recall,
            })
            .collect(),
        top_k: r.top_k as u32,
        min_recall: r.min_recall,
        passed: r.passed,
        failure: r.failure.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::meta::tests::collection;

    #[test]
    fn backups_show_stored_and_live_rows() {
        let info = BackupInfo {
            name: "b".into(),
            collection_backups: vec![
                collection(1, &[1000, 2000], Some(2700)),
                collection(2, &[50], None),
            ],
            ..Default::default()
        };
        let m = backup_message(&info);
        let c = &m.collections;
        assert_eq!((c[0].stored_rows, c[0].live_rows), (3000, Some(2700)));
        assert_eq!((c[1].stored_rows, c[1].live_rows), (50, None));
        let s = m.summary.as_ref().map(|s| (s.stored_rows, s.live_rows));
        assert_eq!(
            s,
            Some((3050, None)),
            "live only when every collection was counted"
        );
    }
}
