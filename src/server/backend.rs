//! The portal's view of the engine: implements [`app::api::Backend`] over the job registry and
//! service, turning engine types into the portal's plain ones.

use std::{sync::Arc, time::Duration};

use app::api::{
    AuditQuery, AuditRow, CopyForm, DeliveryRow, Me, NotificationsView, PortalError,
    PortalErrorKind, StorageRow, TokenView, UserForm, UserView, WebhookRow,
};
use app::api::{
    Backend, BackupDetail, BackupPageQuery, BackupPageView, BackupRow, CheckRow, ClusterView,
    CollectionDetail, DrillCollectionView, DrillSummary, DrillView, FieldRow, JobView,
    LiveCollection, NewBackup, PartitionRow, PolicyForm, PolicyView, RestoreForm, RestorePreview,
};
use async_trait::async_trait;
use milvus::proto::{common::ConsistencyLevel, schema::DataType};

use crate::{
    auth::{
        audit::{AuditFilter, Outcome},
        Caller, Gate, Role,
    },
    engine::commands::{
        check::CheckItem,
        copy::CopyRequest,
        create::CreateBackupRequest,
        drill::{DrillReport, DrillRequest},
        list::BackupSummary,
        restore::RestoreRequest,
    },
    engine::names::QualifiedName,
    format::{db_or_default, BackupInfo, CollectionBackupInfo},
    jobs::registry::JobRegistry,
    progress::{JobKind, JobSnapshot, JobState},
};

/// How many jobs the Jobs page lists.
pub const JOB_LIST_LIMIT: usize = 100;

/// The engine behind the portal.
pub struct PortalBackend {
    registry: Arc<JobRegistry>,
}

impl PortalBackend {
    /// A backend over `registry`.
    pub fn new(registry: Arc<JobRegistry>) -> PortalBackend {
        PortalBackend { registry }
    }

    /// The gate for the caller of the current request (server functions and server-side
    /// rendering run with the request's parts in context). Call it before the first await.
    /// The caller's gate on the storage of backup `key` (`STORAGE:NAME`, or a plain name in the
    /// configured storage), and the backup's name there.
    fn backup_gate<'k>(&self, key: &'k str) -> Result<(Gate, &'k str), PortalError> {
        let (storage, name) = app::names::split_backup_key(key);
        Ok((self.gate()?.in_storage(storage)?, name))
    }

    fn gate(&self) -> Result<Gate, PortalError> {
        leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|p| p.extensions.get::<Caller>().cloned())
            .map(|c| Gate::new(&self.registry, c))
            .ok_or_else(|| {
                crate::Error::Unauthenticated("this request came without a signed-in user".into())
                    .into()
            })
    }
}

/// The storage `gate` works on as a [`BackupRow`] names it: empty for the configured one.
fn named_storage(gate: &Gate) -> String {
    match gate.storage() {
        crate::config::DEFAULT_STORAGE => String::new(),
        s => s.to_string(),
    }
}

/// A summary as a history row.
pub fn backup_row(s: &BackupSummary) -> BackupRow {
    BackupRow {
        name: s.name.clone(),
        created_ms: s.backup_timestamp as i64,
        duration_ms: s.duration_ms,
        collections: s.collections.clone(),
        rows: s.rows,
        stored_rows: s.stored_rows,
        live_rows: s.live_rows,
        size: s.size,
        milvus_version: s.milvus_version.clone(),
        meta_only: s.meta_only,
        policy: s.policy.clone(),
        verification: None,
        format: if s.format.is_empty() {
            "binlog".into()
        } else {
            s.format.clone()
        },
        incremental_bases: s.incremental_bases.clone(),
        files_from_base: s.files_from_base,
        bytes_from_base: s.bytes_from_base,
        drill: None,
        storage: String::new(),
    }
}

/// A drill in short: passed or not, when it ended, its recovery time and lowest recall.
pub fn drill_summary(r: &DrillReport) -> DrillSummary {
    let took = r.restore_ms + r.check_ms + r.cleanup_ms;
    DrillSummary {
        passed: r.passed,
        at_ms: r.started_at.timestamp_millis() + i64::try_from(took).unwrap_or(i64::MAX),
        restore_ms: r.restore_ms,
        recall: r
            .collections
            .iter()
            .filter_map(|c| c.recall)
            .min_by(f64::total_cmp),
        failure: r.failure.clone(),
    }
}

/// A drill with its evidence.
pub fn drill_view(r: &DrillReport) -> DrillView {
    DrillView {
        summary: drill_summary(r),
        started_ms: r.started_at.timestamp_millis(),
        check_ms: r.check_ms,
        cleanup_ms: r.cleanup_ms,
        milvus_version: r.milvus_version.clone(),
        database: r.database.clone(),
        top_k: r.top_k,
        min_recall: r.min_recall,
        collections: r
            .collections
            .iter()
            .map(|c| DrillCollectionView {
                source: c.source.clone(),
                target: c.target.clone(),
                rows: c.rows.clone(),
                keys_sampled: c.keys_sampled,
                keys_found: c.keys_found,
                vector_field: c.vector_field.clone(),
                vectors_searched: c.vectors_searched,
                vectors_found: c.vectors_found,
                recall: c.recall,
            })
            .collect(),
    }
}

fn type_name(t: i32) -> String {
    DataType::try_from(t)
        .map(|d| d.as_str_name().to_string())
        .unwrap_or_else(|_| format!("type {t}"))
}

fn collection_detail(c: &CollectionBackupInfo) -> CollectionDetail {
    let schema = c.schema.clone().unwrap_or_default();
    let fields = schema
        .fields
        .iter()
        .map(|f| {
            let mut notes = Vec::new();
            if f.is_primary_key {
                notes.push("primary key".to_string());
            }
            if f.auto_id {
                notes.push("auto id".into());
            }
            if f.is_partition_key {
                notes.push("partition key".into());
            }
            if f.is_dynamic {
                notes.push("dynamic fields".into());
            }
            for kv in &f.type_params {
                notes.push(format!("{}={}", kv.key, kv.value));
            }
            FieldRow {
                id: f.field_id,
                name: f.name.clone(),
                data_type: type_name(f.data_type),
                notes: notes.join(", "),
            }
        })
        .collect();
    let partitions = c
        .partition_backups
        .iter()
        .map(|p| PartitionRow {
            name: p.partition_name.clone(),
            segments: p.segment_backups.len(),
            rows: p.segment_backups.iter().map(|s| s.num_of_rows).sum(),
            bytes: p.size,
        })
        .collect();
    let indexes = c
        .index_infos
        .iter()
        .map(|i| {
            let metric = i
                .params
                .get("metric_type")
                .map(|m| format!(", {m}"))
                .unwrap_or_default();
            format!(
                "{} on {} ({}{metric})",
                i.index_name, i.field_name, i.index_type
            )
        })
        .collect();
    CollectionDetail {
        db: db_or_default(&c.db_name).to_string(),
        name: c.collection_name.clone(),
        description: schema.description.clone(),
        fields,
        partitions,
        indexes,
        shards: c.shards_num,
        consistency: ConsistencyLevel::try_from(c.consistency_level)
            .map(|l| l.as_str_name().to_string())
            .unwrap_or_else(|_| c.consistency_level.to_string()),
        dynamic_fields: schema.enable_dynamic_field,
        segments: c.segments().count(),
        rows: c.rows(),
        stored_rows: c.total_rows(),
        live_rows: c.live_rows,
        bytes: c.size,
    }
}

fn detail(info: &BackupInfo) -> BackupDetail {
    BackupDetail {
        summary: backup_row(&BackupSummary::from(info)),
        collections: info
            .collection_backups
            .iter()
            .map(collection_detail)
            .collect(),
        last_drill: None,
        may_drill: false,
        copy_targets: Vec::new(),
    }
}

/// A job as the portal shows it.
pub fn job_view(s: &JobSnapshot) -> JobView {
    JobView {
        id: s.id.clone(),
        kind: match s.kind {
            JobKind::Backup => "backup",
            JobKind::Restore => "restore",
            JobKind::Verify => "verify",
            JobKind::Drill => "drill",
            JobKind::Copy => "copy",
        }
        .into(),
        backup_name: s.backup_name.clone(),
        state: match s.state {
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
        .into(),
        step: s.step.clone(),
        bytes_done: s.bytes_done,
        bytes_total: s.bytes_total,
        segments_done: s.segments_done,
        segments_total: s.segments_total,
        started_ms: s.started_at.timestamp_millis(),
        finished_ms: s.finished_at.map(|t| t.timestamp_millis()),
        error: s.error.clone(),
        log: s
            .log
            .iter()
            .map(|l| (l.at.timestamp_millis(), l.message.clone()))
            .collect(),
    }
}

/// The Cluster page's storages: the backup storage (`label`, at `location`) and each named
/// storage (`(name, location)`), each with the answer of its line in the check (`backup storage`,
/// `storage NAME`). A storage the check has no line for is shown as not checked.
pub fn storage_rows(
    label: &str,
    location: &str,
    named: &[(String, String)],
    items: &[CheckItem],
) -> Vec<StorageRow> {
    let row = |name: &str, location: &str, what: &str| {
        let item = items.iter().find(|i| i.what == what);
        StorageRow {
            name: name.to_string(),
            location: location.to_string(),
            ok: item.is_some_and(|i| i.ok),
            detail: item.map_or_else(|| "not checked".to_string(), |i| i.detail.clone()),
        }
    };
    std::iter::once(row(label, location, "backup storage"))
        .chain(
            named
                .iter()
                .map(|(n, l)| row(n, l, &format!("storage {n}"))),
        )
        .collect()
}

/// The engine's restore request for the portal's form.
pub fn restore_request(form: &RestoreForm) -> RestoreRequest {
    let target_db = form.target_db.trim();
    let mut renames = Vec::new();
    for (source, new_name) in &form.renames {
        let db = QualifiedName::read(source).db;
        let to_db = if target_db.is_empty() {
            db
        } else {
            target_db.to_string()
        };
        renames.push(format!("{source}:{to_db}.{}", new_name.trim()));
    }
    if !target_db.is_empty() {
        let mut dbs: Vec<String> = form
            .collections
            .iter()
            .map(|c| QualifiedName::read(c).db)
            .collect();
        dbs.sort();
        dbs.dedup();
        for db in dbs {
            renames.push(format!("{db}.*:{target_db}.*"));
        }
    }
    let (storage, name) = app::names::split_backup_key(&form.backup);
    RestoreRequest {
        name: name.to_string(),
        storage: storage.to_string(),
        collections: form.collections.clone(),
        databases: Vec::new(),
        suffix: form.suffix.trim().to_string(),
        renames,
        drop_existing: form.drop_existing,
        meta_only: form.meta_only,
        restore_index: form.restore_index,
        load: form.load,
        force: form.force,
        rbac: form.rbac,
        ..Default::default()
    }
}

#[async_trait]
impl Backend for PortalBackend {
    async fn backups_page(&self, q: BackupPageQuery) -> Result<BackupPageView, PortalError> {
        let gate = self.gate()?.in_storage(&q.storage)?;
        let limit = q.limit.clamp(1, 500);
        let query = crate::engine::backup_query::BackupQuery {
            name_contains: Some(q.filter.trim().to_string()).filter(|f| !f.is_empty()),
            offset: q.offset,
            limit,
            ..Default::default()
        };
        let (page, total, total_bytes) = gate.backups_page(&query).await?;
        let names: Vec<&str> = page.iter().map(|(s, _)| s.name.as_str()).collect();
        let drills = gate.last_drills(&names)?;
        let rows = page
            .iter()
            .map(|(s, v)| {
                let mut row = backup_row(s);
                row.verification = v.as_ref().map(super::policies::verification_view);
                row.drill = drills.get(&s.name).map(drill_summary);
                row.storage = named_storage(&gate);
                row
            })
            .collect();
        // a picker only when there is more than one
        let storages = match gate.storages() {
            all if all.len() > 1 => all,
            _ => Vec::new(),
        };
        Ok(BackupPageView {
            rows,
            total,
            total_bytes,
            offset: q.offset,
            limit,
            storages,
            chart_html: String::new(),
        })
    }

    async fn list_backups(&self) -> Result<Vec<BackupRow>, PortalError> {
        let gate = self.gate()?;
        let list = gate.list_backups_verified().await?;
        let names: Vec<&str> = list.iter().map(|(s, _)| s.name.as_str()).collect();
        let drills = gate.last_drills(&names)?;
        Ok(list
            .iter()
            .map(|(s, v)| {
                let mut row = backup_row(s);
                row.verification = v.as_ref().map(super::policies::verification_view);
                row.drill = drills.get(&s.name).map(drill_summary);
                row
            })
            .collect())
    }

    async fn backup_detail(&self, key: &str) -> Result<BackupDetail, PortalError> {
        let (gate, name) = self.backup_gate(key)?;
        let (info, v) = gate.get_backup_verified(name).await?;
        let mut d = detail(&info);
        d.summary.storage = named_storage(&gate);
        d.summary.verification = v.as_ref().map(super::policies::verification_view);
        let drill = gate.last_drills(&[info.name.as_str()])?.remove(&info.name);
        d.summary.drill = drill.as_ref().map(drill_summary);
        d.last_drill = drill.as_ref().map(drill_view);
        d.may_drill = gate.may_drill(&info);
        if gate.may_copy(&info) {
            d.copy_targets = gate.copy_targets();
        }
        Ok(d)
    }

    async fn delete_backup(&self, key: &str) -> Result<usize, PortalError> {
        let (gate, name) = self.backup_gate(key)?;
        tracing::info!(backup = key, "deleting backup from the portal");
        gate.delete_backup(name).await.map_err(PortalError::from)
    }

    async fn live_collections(&self) -> Result<Vec<LiveCollection>, PortalError> {
        let gate = self.gate()?;
        let list = gate.inventory().await?;
        Ok(list
            .into_iter()
            .map(|c| LiveCollection {
                db: c.db,
                name: c.name,
                rows: c.rows,
                load_state: c.load_state,
            })
            .collect())
    }

    async fn start_backup(&self, form: NewBackup) -> Result<String, PortalError> {
        let gate = self.gate()?;
        if form.collections.is_empty() {
            return Err(PortalError::invalid_input(
                "Pick at least one collection to back up.",
            ));
        }
        let req = CreateBackupRequest {
            name: form.name.trim().to_string(),
            collections: form.collections,
            databases: Vec::new(),
            filter: String::new(),
            meta_only: form.meta_only,
            skip_flush: false,
            policy: None,
            logical: form.logical,
            incremental: form.incremental,
            resume: false,
            rbac: form.rbac,
        };
        let job = gate.start_backup(req).await?;
        Ok(job.id)
    }

    async fn restore_preview(&self, form: RestoreForm) -> Result<Vec<RestorePreview>, PortalError> {
        let gate = self.gate()?;
        let req = restore_request(&form);
        let list = gate.restore_preview(&req).await?;
        Ok(list
            .into_iter()
            .map(|t| RestorePreview {
                source: t.source,
                target: t.target,
                exists: t.exists,
                rows: t.rows,
            })
            .collect())
    }

    async fn start_restore(&self, form: RestoreForm) -> Result<String, PortalError> {
        let gate = self.gate()?;
        if form.collections.is_empty() {
            return Err(PortalError::invalid_input(
                "Pick at least one collection to restore.",
            ));
        }
        let req = restore_request(&form);
        tracing::info!(backup = %req.name, drop_existing = req.drop_existing, "restore asked from the portal");
        // the gate checks what can be checked now (unknown backup, bad names, existing targets)
        match gate.start_restore(req).await {
            Ok(job) => Ok(job.id),
            Err(e) => {
                // the engine's advice names CLI flags: the form's own words instead
                let in_form_words = match &e {
                    crate::Error::CollectionExists(existing) => Some(format!(
                        "{existing} exist already in Milvus. Choose another suffix or names, or tick \"Drop existing\"."
                    )),
                    _ => None,
                };
                let mut p = PortalError::from(e);
                if let Some(m) = in_form_words {
                    p.message = m;
                }
                Err(p)
            }
        }
    }

    async fn jobs(&self) -> Result<Vec<JobView>, PortalError> {
        let gate = self.gate()?;
        let (list, _) = gate.jobs_page(0, JOB_LIST_LIMIT)?;
        Ok(list.iter().map(job_view).collect())
    }

    async fn job(&self, id: &str) -> Result<JobView, PortalError> {
        let gate = self.gate()?;
        match gate.job(id)? {
            Some(s) => Ok(job_view(&s)),
            None => Err(PortalError::of_kind(
                PortalErrorKind::NotFound,
                "job_not_found",
                format!("There is no job {id}. See the Jobs page for the jobs there are."),
            )),
        }
    }

    async fn cancel_job(&self, id: &str) -> Result<(), PortalError> {
        let gate = self.gate()?;
        gate.cancel_job(id).map(|_| ()).map_err(PortalError::from)
    }

    async fn resume_job(&self, id: &str) -> Result<String, PortalError> {
        let gate = self.gate()?;
        let job = gate.resume_job(id, false).await?;
        Ok(job.id)
    }

    async fn start_verify(&self, key: &str) -> Result<String, PortalError> {
        let (gate, name) = self.backup_gate(key)?;
        gate.start_verify(name)
            .await
            .map(|j| j.id)
            .map_err(PortalError::from)
    }

    async fn start_drill(&self, key: &str) -> Result<String, PortalError> {
        let (gate, name) = self.backup_gate(key)?;
        let req = DrillRequest {
            name: name.to_string(),
            ..DrillRequest::default()
        };
        gate.start_drill(req)
            .await
            .map(|j| j.id)
            .map_err(PortalError::from)
    }

    async fn start_copy(&self, form: CopyForm) -> Result<String, PortalError> {
        let (gate, name) = self.backup_gate(&form.backup)?;
        if form.to.trim().is_empty() {
            return Err(PortalError::invalid_input(
                "Pick the storage to copy the backup to.",
            ));
        }
        let as_name = form.as_name.trim();
        let req = CopyRequest {
            name: name.to_string(),
            to: form.to.trim().to_string(),
            as_name: (!as_name.is_empty()).then(|| as_name.to_string()),
        };
        gate.start_copy(req)
            .await
            .map(|j| j.id)
            .map_err(PortalError::from)
    }

    async fn policies(&self) -> Result<Vec<PolicyView>, PortalError> {
        super::policies::policies(&self.gate()?)
    }

    async fn add_policy(&self, form: PolicyForm) -> Result<(), PortalError> {
        super::policies::add(&self.gate()?, form)
    }

    async fn set_policy_enabled(&self, name: &str, enabled: bool) -> Result<(), PortalError> {
        super::policies::set_enabled(&self.gate()?, name, enabled)
    }

    async fn remove_policy(&self, name: &str) -> Result<(), PortalError> {
        super::policies::remove(&self.gate()?, name)
    }

    async fn run_policy(&self, name: &str) -> Result<String, PortalError> {
        super::policies::run(&self.gate()?, name).await
    }

    async fn schedule_preview(&self, cron: &str, time_zone: &str) -> Result<Vec<i64>, PortalError> {
        super::policies::preview(cron, time_zone)
    }

    async fn me(&self) -> Result<Me, PortalError> {
        let gate = self.gate()?;
        let w = gate.who();
        Ok(Me {
            user: w.user.clone(),
            role: w.role.as_str().to_string(),
            databases: w.databases.clone(),
            auth: w.via != "local",
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenView>, PortalError> {
        let gate = self.gate()?;
        Ok(gate
            .tokens()?
            .into_iter()
            .map(|t| TokenView {
                id: t.id,
                name: t.name,
                user: t.user,
                created_ms: t.created_at.timestamp_millis(),
                last_used_ms: t.last_used_at.map(|t| t.timestamp_millis()),
                revoked: t.revoked_at.is_some(),
            })
            .collect())
    }

    async fn create_token(&self, name: &str) -> Result<String, PortalError> {
        let gate = self.gate()?;
        gate.create_token(name)
            .map(|(plain, _)| plain)
            .map_err(PortalError::from)
    }

    async fn revoke_token(&self, id: &str) -> Result<(), PortalError> {
        let gate = self.gate()?;
        gate.revoke_token(id).map(|_| ()).map_err(PortalError::from)
    }

    async fn users(&self) -> Result<Vec<UserView>, PortalError> {
        let gate = self.gate()?;
        Ok(gate
            .users()?
            .into_iter()
            .map(|u| UserView {
                name: u.name,
                role: u.role.as_str().to_string(),
                databases: u.databases,
                created_ms: u.created_at.timestamp_millis(),
                origin: u.origin.as_str().to_string(),
            })
            .collect())
    }

    async fn add_user(&self, form: UserForm) -> Result<(), PortalError> {
        let gate = self.gate()?;
        let role = Role::parse(&form.role)?;
        let dbs = super::policies::list_of(&form.databases);
        gate.add_user(form.name.trim(), &form.password, role, &dbs)
            .map_err(PortalError::from)
    }

    async fn set_user_role(
        &self,
        name: &str,
        role: &str,
        databases: &str,
    ) -> Result<(), PortalError> {
        let gate = self.gate()?;
        let role = Role::parse(role)?;
        gate.set_user_role(name, role, &super::policies::list_of(databases))
            .map_err(PortalError::from)
    }

    async fn remove_user(&self, name: &str) -> Result<(), PortalError> {
        let gate = self.gate()?;
        gate.remove_user(name).map_err(PortalError::from)
    }

    async fn notifications(&self) -> Result<NotificationsView, PortalError> {
        let (hooks, log) = self.gate()?.notifications(50)?;
        Ok(NotificationsView {
            webhooks: hooks
                .into_iter()
                .map(|w| WebhookRow {
                    name: w.name,
                    url: w.url,
                    format: w.format,
                    global: w.global,
                    events: w.events,
                    signed: w.signed,
                })
                .collect(),
            deliveries: log
                .into_iter()
                .map(|d| DeliveryRow {
                    at_ms: d.at.timestamp_millis(),
                    webhook: d.webhook,
                    event: d.event,
                    summary: d.summary,
                    state: d.state,
                    attempts: d.attempts,
                    last_status: d.last_status,
                    last_error: d.last_error,
                })
                .collect(),
        })
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditRow>, PortalError> {
        let gate = self.gate()?;
        let outcome = Outcome::parse_filter(&q.outcome).map_err(PortalError::invalid_input)?;
        let f = AuditFilter {
            actor: Some(q.actor.trim().to_string()).filter(|s| !s.is_empty()),
            action: Some(q.action.trim().to_string()).filter(|s| !s.is_empty()),
            outcome,
            limit: Some(500),
            ..Default::default()
        };
        Ok(gate
            .audit_entries(&f)?
            .into_iter()
            .map(|e| AuditRow {
                seq: e.seq,
                at_ms: e.at.timestamp_millis(),
                actor: e.actor,
                via: e.via,
                action: e.action,
                target: e.target,
                source: e.source,
                outcome: e.outcome.as_str().to_string(),
                detail: e.detail,
            })
            .collect())
    }

    async fn cluster(&self) -> Result<ClusterView, PortalError> {
        let gate = self.gate()?;
        let report = gate.check().await;
        let at = gate.locations(Duration::from_secs(5)).await;
        let storages = storage_rows(
            &at.backup_storage_name,
            &at.backup_storage,
            &at.storages,
            &report.items,
        );
        Ok(ClusterView {
            milvus_address: at.milvus_address,
            milvus_version: at.milvus_version,
            backup_location: at.backup_storage,
            milvus_storage_location: at.milvus_storage,
            checks: report
                .items
                .into_iter()
                .map(|i| CheckRow {
                    what: i.what,
                    ok: i.ok,
                    detail: i.detail,
                })
                .collect(),
            storages,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::commands::drill::DrillCollection;

    fn drilled(recalls: &[Option<f64>]) -> DrillReport {
        DrillReport {
            backup: "b1".into(),
            milvus: String::new(),
            milvus_version: "v2.3.5".into(),
            started_at: chrono::DateTime::from_timestamp_millis(1_000_000).unwrap_or_default(),
            database: "milvault_drill_x".into(),
            restore_ms: 4_000,
            check_ms: 500,
            cleanup_ms: 100,
            collections: recalls
                .iter()
                .map(|r| DrillCollection {
                    source: "default.a".into(),
                    target: "milvault_drill_x.default__a".into(),
                    rows: "100 rows".into(),
                    keys_sampled: 10,
                    keys_found: 10,
                    vector_field: r.map(|_| "v".to_string()),
                    vectors_searched: 10,
                    vectors_found: 10,
                    recall: *r,
                })
                .collect(),
            top_k: 10,
            min_recall: 0.95,
            passed: true,
            failure: None,
        }
    }

    #[test]
    fn a_drill_in_short_ends_after_its_phases_with_its_lowest_recall() {
        let s = drill_summary(&drilled(&[Some(1.0), None, Some(0.97)]));
        assert_eq!(
            s.at_ms,
            1_000_000 + 4_600,
            "when it ended, as the database records it"
        );
        assert_eq!(s.restore_ms, 4_000);
        assert_eq!(s.recall, Some(0.97));
        assert!(s.passed);
        assert_eq!(drill_summary(&drilled(&[None])).recall, None);
        let v = drill_view(&drilled(&[Some(1.0)]));
        assert_eq!(v.started_ms, 1_000_000);
        assert_eq!(v.collections[0].vector_field.as_deref(), Some("v"));
        assert_eq!(v.milvus_version, "v2.3.5");
    }

    #[test]
    fn restore_form_becomes_engine_rename_rules() {
        let form = RestoreForm {
            backup: "b1".into(),
            collections: vec!["default.products".into(), "shop.reviews".into()],
            target_db: "staging".into(),
            suffix: "_r".into(),
            renames: vec![("shop.reviews".into(), "reviews_copy".into())],
            ..Default::default()
        };
        let req = restore_request(&form);
        assert_eq!(
            req.renames,
            vec![
                "shop.reviews:staging.reviews_copy".to_string(),
                "default.*:staging.*".to_string(),
                "shop.*:staging.*".to_string()
            ]
        );
        assert_eq!(req.suffix, "_r");
        assert!(!req.force, "the integrity check runs unless asked");
        let forced = restore_request(&RestoreForm {
            force: true,
            ..form.clone()
        });
        assert!(forced.force);
        let plain = restore_request(&RestoreForm {
            backup: "b1".into(),
            collections: vec!["default.products".into()],
            ..Default::default()
        });
        assert!(plain.renames.is_empty());
    }

    #[test]
    fn storages_take_their_line_of_the_check() {
        let item = |what: &str, ok: bool, detail: &str| CheckItem {
            what: what.into(),
            ok,
            detail: detail.into(),
        };
        let items = vec![
            item("milvus", true, "Milvus v2.3.5"),
            item("backup storage", true, "local directory /b answers"),
            item("storage far", false, "connection refused"),
            item(
                "storage near",
                true,
                "s3 http://s3:9000 bucket 'n' under 'x' answers",
            ),
        ];
        let named = vec![
            (
                "far".to_string(),
                "s3 http://far:9000 bucket 'f' under 'x'".to_string(),
            ),
            (
                "near".to_string(),
                "s3 http://s3:9000 bucket 'n' under 'x'".to_string(),
            ),
            ("new".to_string(), "local directory /n".to_string()),
        ];
        let rows = storage_rows("default", "local directory /b", &named, &items);
        let seen: Vec<(&str, bool, &str)> = rows
            .iter()
            .map(|r| (r.name.as_str(), r.ok, r.detail.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("default", true, "local directory /b answers"),
                ("far", false, "connection refused"),
                (
                    "near",
                    true,
                    "s3 http://s3:9000 bucket 'n' under 'x' answers"
                ),
                ("new", false, "not checked"),
            ]
        );
        assert_eq!(rows[1].location, "s3 http://far:9000 bucket 'f' under 'x'");
    }
}
