//! The one authorization layer: every operation a front end (portal, REST v1/v2, gRPC) offers goes
//! through a [`Gate`] built for the caller. It asks [`authorize`] first, hides what the caller may
//! not see, and records each change and each refusal in the audit log.

use std::{sync::Arc, time::Duration};

use chrono::Utc;

use super::{
    access::{authorize, databases_of, Action, Caller, Credential, Principal},
    accounts::{TokenInfo, UserInfo},
    audit::{action, AuditEntry, AuditFilter, Outcome},
    Role,
};
use crate::{
    db::policies::VerificationRecord,
    engine::backup_query::{history, BackupQuery, DayTotal},
    engine::commands::{
        archive::{ExportOptions, ExportReport, ImportOptions, ImportReport},
        check::{self, CheckReport},
        copy::{CopyReport, CopyRequest},
        create::CreateBackupRequest,
        delete::{incomplete_reason, Deleted},
        inventory::CollectionOverview,
        list::BackupSummary,
        restore::{RestoreReport, RestoreRequest, RestoreTarget},
        verify::VerifyReport,
    },
    engine::names::{databases_of as qualified_databases, Selection},
    engine::policy::Policy,
    error::{Error, Result},
    format::{
        layout,
        meta::{db_or_default, BackupInfo},
    },
    jobs::name_lease::NameUse,
    jobs::policies::{self as policy, PolicyOverview},
    jobs::registry::{JobRegistry, NameClaim},
    progress::{JobHandle, JobKind, JobSnapshot},
};

/// How often a stream of job progress asks again whether its caller may still follow the job.
pub const RECHECK_EVERY: Duration = Duration::from_secs(2);

/// The engine's operations for one caller.
#[derive(Clone)]
pub struct Gate {
    reg: Arc<JobRegistry>,
    caller: Caller,
    /// Why the caller acts (a policy run), put before the detail of each audit entry.
    purpose: Option<Arc<str>>,
}

/// Where a drill restores to: scratch databases of its own.
fn drill_scratch() -> [String; 1] {
    ["milvault_drill_*".to_string()]
}

/// The databases a backup holds.
pub fn backup_databases(info: &BackupInfo) -> Vec<String> {
    let mut dbs: Vec<String> = info
        .collection_backups
        .iter()
        .map(|c| db_or_default(&c.db_name).to_string())
        .collect();
    dbs.sort();
    dbs.dedup();
    dbs
}

impl Gate {
    /// The gate for `caller`.
    pub fn new(reg: &Arc<JobRegistry>, caller: Caller) -> Gate {
        Gate {
            reg: reg.clone(),
            caller,
            purpose: None,
        }
    }

    /// This gate acting for `purpose` (e.g. "policy nightly (Schedule run)"), which every audit
    /// entry it writes starts with.
    pub fn for_purpose(&self, purpose: &str) -> Gate {
        Gate {
            purpose: Some(purpose.into()),
            ..self.clone()
        }
    }

    /// This gate working on the backups of storage `name` (a name under `storages:`; empty or
    /// `default`: the configured backup storage): listing, reading, verifying, restoring,
    /// exporting, copying and deleting act there, authorized and audited as here.
    pub fn in_storage(&self, name: &str) -> Result<Gate> {
        Ok(Gate {
            reg: self.reg.in_storage(name)?,
            ..self.clone()
        })
    }

    /// The storage this gate works on (`default` unless [`Gate::in_storage`] chose another).
    pub fn storage(&self) -> &str {
        self.reg.service().config().backup_storage_label()
    }

    /// Who is asking.
    pub fn who(&self) -> &Principal {
        &self.caller.who
    }

    /// The `/metrics` page. It names every policy, so a user scoped to some databases may not
    /// read it; everyone else signed in (a scraper's API token) may.
    pub fn metrics_text(&self) -> Result<String> {
        if self.who().is_scoped() {
            return Err(Error::Forbidden(
                "/metrics covers every database and policy; it needs a user who is not limited to some databases"
                    .into(),
            ));
        }
        Ok(self.reg.metrics().render(self.reg.store()))
    }

    /// The webhooks (without secrets) and the newest `limit` deliveries. They name every policy
    /// and backup, so a user scoped to some databases may not read them.
    pub fn notifications(
        &self,
        limit: usize,
    ) -> Result<(
        Vec<crate::jobs::notify::WebhookView>,
        Vec<crate::db::deliveries::Delivery>,
    )> {
        if self.who().is_scoped() {
            return Err(Error::Forbidden(
                "notifications cover every database and policy; they need a user who is not limited to some databases"
                    .into(),
            ));
        }
        Ok((
            self.reg.notifier().shown(),
            self.reg.store().deliveries(limit)?,
        ))
    }

    /// Sends a test event to webhook `name` now and waits for the outcome (admins: it is how a
    /// webhook's set-up is checked).
    pub async fn test_webhook(&self, name: &str) -> Result<crate::db::deliveries::Delivery> {
        self.allow(action::NOTIFY_TEST, name, Action::ManagePolicies)?;
        let r = self.reg.notifier().send_test(name, &self.who().user).await;
        self.outcome(action::NOTIFY_TEST, name, r, |d| {
            format!("{} after {} tries", d.state, d.attempts)
        })
    }

    /// Records an entry for this caller.
    pub fn audit(&self, action: &str, target: &str, outcome: Outcome, detail: &str) {
        let w = &self.caller.who;
        // a backup of a named storage is named as that storage's (`STORAGE:NAME`)
        let qualified;
        let target = match action.starts_with("backup.") {
            true => {
                qualified = self.reg.service().record_key(target);
                qualified.as_str()
            }
            false => target,
        };
        let detail = match &self.purpose {
            Some(p) if detail.is_empty() => p.to_string(),
            Some(p) => format!("{p}: {detail}"),
            None => detail.to_string(),
        };
        let detail = detail.as_str();
        self.reg.store().audit(
            &w.user,
            &w.via,
            action,
            target,
            &self.caller.source,
            outcome,
            detail,
        );
    }

    /// Authorizes `what`; a refusal is audited as `action` on `target`.
    fn allow(&self, action: &str, target: &str, what: Action<'_>) -> Result<()> {
        authorize(&self.caller.who, what).inspect_err(|e| {
            self.audit(action, target, Outcome::Denied, &e.to_string());
        })
    }

    /// Audits how an allowed change ended.
    pub(crate) fn outcome<T>(
        &self,
        action: &str,
        target: &str,
        r: Result<T>,
        ok: impl Fn(&T) -> String,
    ) -> Result<T> {
        match &r {
            Ok(v) => self.audit(action, target, Outcome::Ok, &ok(v)),
            Err(e) => self.audit(action, target, Outcome::Failed, &e.to_string()),
        }
        r
    }

    /// The backups the caller may see, newest first.
    pub async fn list_backups(&self) -> Result<Vec<BackupSummary>> {
        Ok(self.visible(self.reg.service().list_backups().await?))
    }

    /// The backups of `all` the caller may see.
    fn visible(&self, all: Vec<BackupSummary>) -> Vec<BackupSummary> {
        all.into_iter()
            .filter(|b| self.who().covers_all(&databases_of(&b.collections)))
            .collect()
    }

    /// A backup's metadata, if the caller may see it.
    pub async fn get_backup(&self, name: &str) -> Result<BackupInfo> {
        self.visible_backup(action::BACKUP_READ, name).await
    }

    /// The backups the caller may see, each with its last verification (the one join of the
    /// two, for every front end that lists backups).
    pub async fn list_backups_verified(
        &self,
    ) -> Result<Vec<(BackupSummary, Option<VerificationRecord>)>> {
        let list = self.list_backups().await?;
        let mut verifications = self.reg.store().verifications()?;
        Ok(list
            .into_iter()
            .map(|b| {
                let v = verifications.remove(&self.reg.service().record_key(&b.name));
                (b, v)
            })
            .collect())
    }

    /// One page of the backups the caller may see, sorted and filtered as `q` says, each with
    /// its last verification; how many passed the filters, and their bytes.
    pub async fn backups_page(
        &self,
        q: &BackupQuery,
    ) -> Result<(Vec<(BackupSummary, Option<VerificationRecord>)>, u64, i64)> {
        let list = self.list_backups_verified().await?;
        Ok(q.page(list, |(b, _)| b))
    }

    /// Per-day totals of the backups the caller may see that pass `q`'s filters (the history
    /// chart).
    pub async fn backup_history(&self, q: &BackupQuery) -> Result<Vec<DayTotal>> {
        Ok(history(&self.list_backups().await?, q))
    }

    /// A backup's metadata with its last verification, if the caller may see it.
    pub async fn get_backup_verified(
        &self,
        name: &str,
    ) -> Result<(BackupInfo, Option<VerificationRecord>)> {
        let info = self.get_backup(name).await?;
        let v = self
            .reg
            .store()
            .verifications()?
            .remove(&self.reg.service().record_key(name));
        Ok((info, v))
    }

    /// How many bytes a backup's metadata files take, for a backup this gate showed the caller
    /// ([`Gate::get_backup`]); 0 when they cannot be listed.
    pub async fn backup_meta_size(&self, info: &BackupInfo) -> i64 {
        self.reg
            .service()
            .backup_storage()
            .list_files(&layout::meta_dir(&info.name))
            .await
            .map(|files| files.iter().map(|f| f.size as i64).sum())
            .unwrap_or(0)
    }

    /// A selection as a backup request's `(collections, databases)`: whole databases mixed with
    /// single collections become the collections Milvus has in them now (see
    /// [`Selection::request_fields`]).
    pub async fn backup_fields(&self, sel: &Selection) -> Result<(Vec<String>, Vec<String>)> {
        let mut all = std::collections::HashMap::new();
        if sel.needs_expansion() {
            let milvus = self.reg.service().milvus().await?;
            for db in &sel.databases {
                all.insert(db.clone(), milvus.list_collections(db).await?);
            }
        }
        Ok(sel.request_fields(|db| all.get(db).cloned().unwrap_or_default()))
    }

    /// A selection as a restore request's `(collections, databases)`: whole databases mixed with
    /// single collections become the collections `info` (the backup) holds in them.
    pub fn restore_fields(&self, sel: &Selection, info: &BackupInfo) -> (Vec<String>, Vec<String>) {
        sel.request_fields(|db| {
            info.collection_backups
                .iter()
                .filter(|c| db_or_default(&c.db_name) == db)
                .map(|c| c.collection_name.clone())
                .collect()
        })
    }

    /// A backup's metadata if the caller may see it. A backup the caller may not see is answered
    /// exactly like a missing one ([`Error::BackupNotFound`]), so that its name cannot be probed;
    /// the refusal is still audited as `action`, with the real reason.
    async fn visible_backup(&self, action: &str, name: &str) -> Result<BackupInfo> {
        let info = self.reg.service().get_backup(name).await?;
        self.allow(
            action,
            name,
            Action::Read {
                databases: &backup_databases(&info),
            },
        )
        .map_err(|_| Error::BackupNotFound(name.to_string()))?;
        Ok(info)
    }

    /// Starts a backup. A scoped user who names nothing backs up all of its databases.
    pub async fn start_backup(&self, req: CreateBackupRequest) -> Result<JobSnapshot> {
        let mut req = req.tidy();
        let target = req.name.clone();
        let dbs = self.allowed_backup(action::BACKUP_CREATE, &mut req).await?;
        let r = self.reg.start_backup(req).await;
        let r = self.outcome(action::BACKUP_CREATE, &target, r, |j| {
            format!("job {} for backup {}", j.id, j.backup_name)
        })?;
        self.reg.store().set_job_databases(&r.id, &dbs)?;
        Ok(r)
    }

    /// A resume backs up what the interrupted run recorded, not what its request says: the
    /// recorded collections and databases are what is authorized.
    async fn recorded_request(&self, req: &mut CreateBackupRequest) -> Result<()> {
        let storage = self.reg.service().backup_storage();
        crate::engine::commands::create::resume::load_into(storage, req)
            .await
            .inspect_err(|e| {
                self.audit(
                    action::BACKUP_CREATE,
                    &req.name,
                    Outcome::Failed,
                    &e.to_string(),
                )
            })
    }

    /// Settles what a backup request selects and authorizes it: a resume takes the interrupted
    /// run's recorded request, a `filter` becomes collections and databases, a scoped caller who
    /// names nothing backs up its own databases; the selection is parsed with the one parser
    /// ([`Selection::parse`]), its collections written qualified (`db.collection`), and reading
    /// the databases it reads authorized. Returns them. A bad selection is audited as a failed
    /// `action`.
    async fn allowed_backup(
        &self,
        action: &str,
        req: &mut CreateBackupRequest,
    ) -> Result<Vec<String>> {
        let name = req.name.clone();
        let failed = |e: &Error| self.audit(action, &name, Outcome::Failed, &e.to_string());
        if req.resume {
            self.recorded_request(req).await?;
        } else if !req.filter.is_empty() {
            if !req.collections.is_empty() || !req.databases.is_empty() {
                let e = Error::InvalidRequest(
                    "give either a filter or collections and databases, not both".into(),
                );
                failed(&e);
                return Err(e);
            }
            let sel = Selection::from_filter(&req.filter).inspect_err(failed)?;
            (req.collections, req.databases) =
                self.backup_fields(&sel).await.inspect_err(failed)?;
            req.filter.clear();
        } else if self.who().is_scoped() && req.collections.is_empty() && req.databases.is_empty() {
            req.databases = self.who().databases.clone();
        }
        let sel = Selection::parse(&req.collections, &req.databases).inspect_err(|e| {
            self.audit(action, &req.name, Outcome::Failed, &e.to_string());
        })?;
        req.collections = sel.collection_names();
        let dbs = sel.databases_read();
        self.allow(action, &req.name, Action::Backup { databases: &dbs })?;
        if req.rbac {
            self.allow(action, &req.name, Action::Rbac { restore: false })?;
        }
        Ok(dbs)
    }

    /// A restore request with its collections qualified by the one parser: `NAME` means the
    /// default database, or the one database the request gives.
    /// A resume ([`RestoreRequest::resume`]) becomes the interrupted job's own request, when the
    /// caller may see that job.
    fn qualified_restore(&self, req: &RestoreRequest) -> Result<RestoreRequest> {
        let tidy = req.clone().tidy();
        let req = &tidy;
        let resumed;
        let req = match &req.resume {
            None => req,
            Some(job) => {
                let r = if self.job_visible(job)? {
                    self.reg.restore_to_resume(job, req)
                } else {
                    Err(Error::InvalidRequest(format!("there is no job {job}")))
                };
                resumed = r.inspect_err(|e| {
                    self.audit(action::BACKUP_RESTORE, job, Outcome::Failed, &e.to_string())
                })?;
                &resumed
            }
        };
        let sel = Selection::parse(&req.collections, &req.databases).inspect_err(|e| {
            self.audit(
                action::BACKUP_RESTORE,
                &req.name,
                Outcome::Failed,
                &e.to_string(),
            );
        })?;
        Ok(RestoreRequest {
            collections: sel.collection_names(),
            ..req.clone()
        })
    }

    /// The gate of the storage a qualified restore reads from (its `storage`, else this gate's),
    /// and the request with that storage recorded, so that a resume reads the same backup.
    fn restore_gate(&self, mut req: RestoreRequest) -> Result<(Gate, RestoreRequest)> {
        let gate = match req.storage.as_str() {
            "" => self.clone(),
            s => self.in_storage(s).inspect_err(|e| {
                self.audit(
                    action::BACKUP_RESTORE,
                    &req.name,
                    Outcome::Failed,
                    &e.to_string(),
                )
            })?,
        };
        req.storage = gate.storage().to_string();
        Ok((gate, req))
    }

    /// A restore with `rbac` creates Milvus users and roles: admins only.
    fn allow_rbac_restore(&self, req: &RestoreRequest) -> Result<()> {
        if req.rbac {
            self.allow(
                action::BACKUP_RESTORE,
                &req.name,
                Action::Rbac { restore: true },
            )?;
        }
        Ok(())
    }

    /// Where a restore would put each collection; needs the right to restore there.
    pub async fn restore_preview(&self, req: &RestoreRequest) -> Result<Vec<RestoreTarget>> {
        let (gate, req) = self.restore_gate(self.qualified_restore(req)?)?;
        gate.restore_preview_here(&req).await
    }

    async fn restore_preview_here(&self, req: &RestoreRequest) -> Result<Vec<RestoreTarget>> {
        let info = self
            .visible_backup(action::BACKUP_RESTORE, &req.name)
            .await?;
        let targets = self.reg.service().restore_preview(req).await?;
        let into: Vec<String> = databases_of(
            &targets
                .iter()
                .map(|t| t.target.as_str())
                .collect::<Vec<_>>(),
        );
        self.allow(
            action::BACKUP_RESTORE,
            &req.name,
            Action::Restore {
                from: &backup_databases(&info),
                into: &into,
            },
        )?;
        Ok(targets)
    }

    /// Checks and starts a restore.
    pub async fn start_restore(&self, req: RestoreRequest) -> Result<JobSnapshot> {
        let (gate, req) = self.restore_gate(self.qualified_restore(&req)?)?;
        gate.start_restore_here(req).await
    }

    async fn start_restore_here(&self, req: RestoreRequest) -> Result<JobSnapshot> {
        let name = req.name.clone();
        self.allow_rbac_restore(&req)?;
        let info = self.visible_backup(action::BACKUP_RESTORE, &name).await?;
        let plan = self.reg.service().restore_plan(&req).await;
        let into = match &plan {
            Ok(p) => databases_of(
                &p.targets()
                    .iter()
                    .map(|t| t.target.as_str())
                    .collect::<Vec<_>>(),
            ),
            Err(_) => Vec::new(),
        };
        self.allow(
            action::BACKUP_RESTORE,
            &name,
            Action::Restore {
                from: &backup_databases(&info),
                into: &into,
            },
        )?;
        let r = plan.and_then(|p| self.reg.start_restore_planned(req, &p));
        let r = self.outcome(action::BACKUP_RESTORE, &name, r, |j| {
            format!("job {} into {}", j.id, j.targets.join(", "))
        })?;
        let mut dbs = backup_databases(&info);
        dbs.extend(into);
        dbs.sort();
        dbs.dedup();
        self.reg.store().set_job_databases(&r.id, &dbs)?;
        Ok(r)
    }

    /// Deletes a backup; returns the files removed.
    pub async fn delete_backup(&self, name: &str) -> Result<usize> {
        self.delete_backup_report(name).await.map(|d| d.files)
    }

    /// Deletes a backup, also an incomplete or unreadable one (that needs an unscoped caller:
    /// which databases it holds is unknown); says what was removed. A backup the caller may not
    /// see answers as a missing one.
    pub async fn delete_backup_report(&self, name: &str) -> Result<Deleted> {
        let (dbs, incomplete) = match self.visible_backup(action::BACKUP_DELETE, name).await {
            Ok(info) => (backup_databases(&info), None),
            Err(Error::BackupNotFound(_)) if !self.who().is_scoped() => (Vec::new(), None),
            Err(e) => match incomplete_reason(&e) {
                Some(why) if !self.who().is_scoped() => (Vec::new(), Some(why)),
                Some(why) => {
                    // which databases it holds is unknown: to a scoped caller it is not there
                    self.audit(
                        action::BACKUP_DELETE,
                        name,
                        Outcome::Denied,
                        &format!("backup '{name}' is incomplete ({why}), so which databases it holds is unknown; only an admin or operator may delete it"),
                    );
                    return Err(Error::BackupNotFound(name.to_string()));
                }
                None => return Err(e),
            },
        };
        self.allow(
            action::BACKUP_DELETE,
            name,
            Action::Delete { databases: &dbs },
        )?;
        let r = self
            .reg
            .delete_backup(name)
            .await
            .map(|files| Deleted { files, incomplete });
        self.outcome(action::BACKUP_DELETE, name, r, Deleted::describe)
    }

    /// Authorizes verifying a backup the caller may see; returns the databases it holds.
    async fn allowed_verify(&self, name: &str) -> Result<Vec<String>> {
        let info = self.visible_backup(action::BACKUP_VERIFY, name).await?;
        let dbs = backup_databases(&info);
        self.allow(
            action::BACKUP_VERIFY,
            name,
            Action::Verify { databases: &dbs },
        )?;
        Ok(dbs)
    }

    /// Verifies a backup and waits for the answer: intact (`true`) or damaged (`false`); an
    /// error when it could not be checked.
    pub async fn verify_and_wait(&self, name: &str) -> Result<bool> {
        self.allowed_verify(name).await?;
        let r = self.reg.verify_and_wait(name).await;
        self.outcome(action::BACKUP_VERIFY, name, r, |intact| {
            if *intact { "intact" } else { "damaged" }.to_string()
        })
    }

    /// Starts verifying a backup.
    pub async fn start_verify(&self, name: &str) -> Result<JobSnapshot> {
        let dbs = self.allowed_verify(name).await?;
        let r = self.reg.start_verify(name);
        let r = self.outcome(action::BACKUP_VERIFY, name, r, |j| format!("job {}", j.id))?;
        self.reg.store().set_job_databases(&r.id, &dbs)?;
        Ok(r)
    }

    /// Authorizes exporting a backup the caller may see (read access to its databases) and
    /// claims it for reading, so that it is not deleted while the archive streams; the export
    /// runs with [`Export::write`]. A backup the caller may not see answers as a missing one.
    pub async fn export_backup(&self, opts: &ExportOptions) -> Result<Export> {
        self.visible_backup(action::BACKUP_EXPORT, &opts.name)
            .await?;
        let claim = self
            .reg
            .claim_name(&opts.name, NameUse::Read)
            .inspect_err(|e| {
                self.audit(
                    action::BACKUP_EXPORT,
                    &opts.name,
                    Outcome::Failed,
                    &e.to_string(),
                )
            })?;
        Ok(Export {
            gate: self.clone(),
            opts: opts.clone(),
            _claim: claim,
        })
    }

    /// Imports an archive as a new backup: the caller needs the role that may make backups, and
    /// may make one of every database the archive's backup holds (checked before it becomes
    /// visible). The name is claimed for creating while the files are written, so a second
    /// writer of that name is refused. `max_bytes` limits an upload.
    pub async fn import_backup<R>(
        &self,
        opts: &ImportOptions,
        input: R,
        max_bytes: Option<u64>,
    ) -> Result<ImportReport>
    where
        R: tokio::io::AsyncRead + Unpin + Send,
    {
        let target = opts.name.clone().unwrap_or_else(|| "(archive)".into());
        let own = self.who().databases.clone();
        self.allow(
            action::BACKUP_IMPORT,
            &target,
            Action::Backup { databases: &own },
        )?;
        let r = crate::engine::commands::archive::import_backup(
            self.reg.service(),
            opts,
            input,
            max_bytes,
            |name| self.reg.claim_name(name, NameUse::Create),
            |name, info| {
                let dbs = backup_databases(info);
                self.allow(
                    action::BACKUP_IMPORT,
                    name,
                    Action::Backup { databases: &dbs },
                )
            },
        )
        .await;
        let target = r.as_ref().map(|r| r.backup.clone()).unwrap_or(target);
        self.outcome(action::BACKUP_IMPORT, &target, r, |r| {
            let from = r
                .renamed_from
                .as_ref()
                .map(|n| format!(" (recorded as '{n}')"))
                .unwrap_or_default();
            format!("{} files, {} bytes{from}", r.files, r.bytes)
        })
    }

    /// Makes a backup in this process and waits for it (the CLI): authorized like
    /// [`Gate::start_backup`], the name claimed until it ends, its end audited; `follow` shows its
    /// progress. A name left empty gets the default name.
    pub async fn run_backup<Fut>(
        &self,
        req: CreateBackupRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<BackupInfo>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let mut req = req.tidy();
        if req.name.is_empty() {
            req.name = crate::engine::names::default_backup_name();
        }
        let target = req.name.clone();
        self.allowed_backup(action::BACKUP_CREATE, &mut req).await?;
        let svc = self.reg.service().clone();
        let r = self
            .reg
            .run_here(
                &target,
                NameUse::Create,
                |fence| svc.spawn_backup(req, Some(fence)),
                follow,
            )
            .await;
        let target = r.as_ref().map_or(target, |i| i.name.clone());
        self.outcome(action::BACKUP_CREATE, &target, r, |i| {
            format!(
                "{} collections, {} bytes",
                i.collection_backups.len(),
                i.size
            )
        })
    }

    /// Restores in this process and waits (the CLI): authorized like [`Gate::start_restore`]
    /// (a scoped caller needs the preview to say where it goes; for others a request the
    /// preview refuses fails in the job, as it would without one), its end audited.
    pub async fn run_restore<Fut>(
        &self,
        req: RestoreRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<RestoreReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let (gate, req) = self.restore_gate(self.qualified_restore(&req)?)?;
        gate.run_restore_here(req, follow).await
    }

    async fn run_restore_here<Fut>(
        &self,
        req: RestoreRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<RestoreReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let name = req.name.clone();
        self.allow_rbac_restore(&req)?;
        let scoped = self.who().is_scoped();
        let from = match self.visible_backup(action::BACKUP_RESTORE, &name).await {
            Ok(info) => backup_databases(&info),
            Err(_) if !scoped => Vec::new(),
            Err(e) => return Err(e),
        };
        let into = match self.reg.service().restore_preview(&req).await {
            Ok(t) => databases_of(&t.iter().map(|t| t.target.as_str()).collect::<Vec<_>>()),
            Err(_) if !scoped => Vec::new(),
            Err(e) => return Err(e),
        };
        self.allow(
            action::BACKUP_RESTORE,
            &name,
            Action::Restore {
                from: &from,
                into: &into,
            },
        )?;
        let svc = self.reg.service().clone();
        let r = self
            .reg
            .run_here(&name, NameUse::Read, |_| svc.spawn_restore(req), follow)
            .await;
        self.outcome(action::BACKUP_RESTORE, &name, r, |r| {
            let into: Vec<&str> = r.collections.iter().map(|c| c.target.as_str()).collect();
            format!("into {}", into.join(", "))
        })
    }

    /// Verifies in this process and waits (the CLI): authorized like [`Gate::start_verify`], the
    /// outcome recorded as the backup's verification state and audited.
    pub async fn run_verify<Fut>(
        &self,
        name: &str,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<VerifyReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        let dbs = match self.visible_backup(action::BACKUP_VERIFY, name).await {
            Ok(info) => backup_databases(&info),
            Err(_) if !self.who().is_scoped() => Vec::new(),
            Err(e) => return Err(e),
        };
        self.allow(
            action::BACKUP_VERIFY,
            name,
            Action::Verify { databases: &dbs },
        )?;
        let r = self.reg.verify_here(name, follow).await;
        self.outcome(action::BACKUP_VERIFY, name, r, |r| {
            if r.ok() {
                format!("intact: {} files", r.files_checked)
            } else {
                format!("damaged: {} of {} files", r.damaged, r.files_checked)
            }
        })
    }

    /// Runs a restore drill of a backup here and waits for it (see
    /// [`drill`](crate::engine::commands::drill)).
    pub async fn run_drill<Fut>(
        &self,
        req: crate::engine::commands::drill::DrillRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<crate::engine::commands::drill::DrillReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        self.allowed_drill(&req).await?;
        let name = req.name.clone();
        let r = self.reg.drill_here(req, follow).await;
        self.outcome(action::BACKUP_DRILL, &name, r, |r| {
            format!(
                "{} in {:.1} s",
                if r.passed { "passed" } else { "failed" },
                r.restore_ms as f64 / 1000.0
            )
        })
    }

    /// Starts a restore drill of a backup; answers its job.
    pub async fn start_drill(
        &self,
        req: crate::engine::commands::drill::DrillRequest,
    ) -> Result<JobSnapshot> {
        let dbs = self.allowed_drill(&req).await?;
        let name = req.name.clone();
        let r = self.reg.start_drill(req);
        let r = self.outcome(action::BACKUP_DRILL, &name, r, |j| format!("job {}", j.id))?;
        self.reg.store().set_job_databases(&r.id, &dbs)?;
        Ok(r)
    }

    /// Authorizes copying a backup the caller may see to another storage: the caller makes a
    /// backup of its databases there. Answers those databases.
    async fn allowed_copy(&self, req: &CopyRequest) -> Result<Vec<String>> {
        let info = self.visible_backup(action::BACKUP_COPY, &req.name).await?;
        let dbs = backup_databases(&info);
        self.allow(
            action::BACKUP_COPY,
            &req.name,
            Action::Backup { databases: &dbs },
        )?;
        Ok(dbs)
    }

    /// What the audit log says of a copy.
    fn copy_target(req: &CopyRequest) -> String {
        format!("{} -> {}:{}", req.name, req.to, req.target_name())
    }

    /// Starts copying a backup to another storage; answers its job.
    pub async fn start_copy(&self, req: CopyRequest) -> Result<JobSnapshot> {
        let dbs = self.allowed_copy(&req).await?;
        let target = Self::copy_target(&req);
        let r = self.reg.start_copy(req).await;
        let r = self.outcome(action::BACKUP_COPY, &target, r, |j| format!("job {}", j.id))?;
        self.reg.store().set_job_databases(&r.id, &dbs)?;
        Ok(r)
    }

    /// Copies a backup to another storage here and waits for it.
    pub async fn run_copy<Fut>(
        &self,
        req: CopyRequest,
        follow: impl FnOnce(JobHandle) -> Fut,
    ) -> Result<CopyReport>
    where
        Fut: std::future::Future<Output = ()>,
    {
        self.allowed_copy(&req).await?;
        let target = Self::copy_target(&req);
        let r = self.reg.copy_here(req, follow).await;
        self.outcome(action::BACKUP_COPY, &target, r, |r| {
            format!(
                "{} files, {} bytes ({}, {} kept)",
                r.files, r.bytes, r.mode, r.files_kept
            )
        })
    }

    /// The last drill of a backup the caller sees.
    pub async fn last_drill(
        &self,
        name: &str,
    ) -> Result<Option<crate::engine::commands::drill::DrillReport>> {
        self.visible_backup(action::BACKUP_READ, name).await?;
        self.reg.store().last_drill(name)
    }

    /// A drill restores the backup into a scratch database: the caller must be allowed to
    /// restore it there, which a user limited to some databases is not. Answers the backup's
    /// databases (the job's scope).
    async fn allowed_drill(
        &self,
        req: &crate::engine::commands::drill::DrillRequest,
    ) -> Result<Vec<String>> {
        let info = self.visible_backup(action::BACKUP_DRILL, &req.name).await?;
        crate::engine::commands::drill::chosen_collections(&info, req)?;
        let dbs = backup_databases(&info);
        let scratch = drill_scratch();
        self.allow(
            action::BACKUP_DRILL,
            &req.name,
            Action::Restore {
                from: &dbs,
                into: &scratch,
            },
        )?;
        Ok(dbs)
    }

    /// Whether the caller may copy `info`, a backup this gate showed it, to another storage:
    /// the check of [`Gate::start_copy`] asked ahead (a portal shows its copy form by it), so a
    /// "no" is not audited as a refusal.
    pub fn may_copy(&self, info: &BackupInfo) -> bool {
        let dbs = backup_databases(info);
        authorize(&self.caller.who, Action::Backup { databases: &dbs }).is_ok()
    }

    /// Whether the caller may drill `info`, a backup this gate showed it: the check of
    /// [`Gate::start_drill`] asked ahead (a portal shows its Drill button by it), so a "no" is
    /// not audited as a refusal.
    pub fn may_drill(&self, info: &BackupInfo) -> bool {
        let dbs = backup_databases(info);
        let scratch = drill_scratch();
        authorize(
            &self.caller.who,
            Action::Restore {
                from: &dbs,
                into: &scratch,
            },
        )
        .is_ok()
    }

    /// The last drill of each of `shown`, backups of this gate's storage it listed or showed the
    /// caller, that has one, by backup name (one answer for a whole page of backups). A backup
    /// of a named storage has its own drills (recorded as `STORAGE:NAME`), not those of a
    /// namesake elsewhere.
    pub fn last_drills(
        &self,
        shown: &[&str],
    ) -> Result<std::collections::HashMap<String, crate::engine::commands::drill::DrillReport>>
    {
        let store = self.reg.store();
        let mut drills = std::collections::HashMap::new();
        for name in shown {
            if let Some(r) = store.last_drill(&self.reg.service().record_key(name))? {
                drills.insert((*name).to_string(), r);
            }
        }
        Ok(drills)
    }

    fn job_visible(&self, id: &str) -> Result<bool> {
        if !self.who().is_scoped() {
            return Ok(true);
        }
        Ok(self.covers_job(&self.reg.store().job_databases(id)?))
    }

    /// Whether a scoped caller's databases hold every one of `dbs` (a job's or a policy's; empty
    /// means not recorded or everything, so no).
    fn covers_job(&self, dbs: &[String]) -> bool {
        !dbs.is_empty() && self.who().covers_all(dbs)
    }

    /// A page of the jobs the caller may see, newest first, and how many there are.
    pub fn jobs_page(&self, offset: usize, limit: usize) -> Result<(Vec<JobSnapshot>, u64)> {
        if !self.who().is_scoped() {
            return Ok((self.reg.list_page(offset, limit)?, self.reg.count()?));
        }
        // one query for every job's databases, not one per job: the live job list asks twice a second
        let dbs = self.reg.store().all_job_databases()?;
        let mine: Vec<JobSnapshot> = self
            .reg
            .list(10_000)?
            .into_iter()
            .filter(|j| dbs.get(&j.id).is_some_and(|d| self.covers_job(d)))
            .collect();
        let total = mine.len() as u64;
        Ok((mine.into_iter().skip(offset).take(limit).collect(), total))
    }

    /// One job, if the caller may see it.
    pub fn job(&self, id: &str) -> Result<Option<JobSnapshot>> {
        if !self.job_visible(id)? {
            return Ok(None);
        }
        self.reg.get(id)
    }

    /// Cancels a running job the caller may see: writers only, within their databases; audited
    /// as `job.cancel`. A job the caller may not see is "no such job", like for [`Gate::job`].
    pub fn cancel_job(&self, id: &str) -> Result<JobSnapshot> {
        if !self.job_visible(id)? {
            let e = Error::InvalidRequest(format!("there is no job {id}"));
            self.audit(action::JOB_CANCEL, id, Outcome::Denied, &e.to_string());
            return Err(e);
        }
        let dbs = self.reg.store().job_databases(id)?;
        self.allow(action::JOB_CANCEL, id, Action::Cancel { databases: &dbs })?;
        let r = self.reg.cancel(id);
        self.outcome(action::JOB_CANCEL, id, r, |j| {
            format!("{:?} of '{}'", j.kind, j.backup_name)
        })
    }

    /// Resumes an interrupted job: a backup continues under its name (`create --resume`), a
    /// restore from what it created ([`RestoreRequest::resume`]; `drop_existing` may be added).
    /// Authorized and audited as the backup or restore it starts.
    pub async fn resume_job(&self, id: &str, drop_existing: bool) -> Result<JobSnapshot> {
        let job = match self.job_visible(id)? {
            true => self.reg.get(id)?,
            false => None,
        };
        let Some(job) = job else {
            return Err(Error::InvalidRequest(format!("there is no job {id}")));
        };
        match job.kind {
            JobKind::Backup => {
                self.start_backup(CreateBackupRequest {
                    name: job.backup_name,
                    resume: true,
                    ..Default::default()
                })
                .await
            }
            JobKind::Restore => {
                self.start_restore(RestoreRequest {
                    resume: Some(id.to_string()),
                    drop_existing,
                    ..Default::default()
                })
                .await
            }
            JobKind::Verify => Err(Error::InvalidRequest(format!(
                "job {id} is a verification: verify the backup again instead"
            ))),
            JobKind::Drill => Err(Error::InvalidRequest(format!(
                "job {id} is a restore drill: drill the backup again instead (its scratch \
                 database was dropped)"
            ))),
            JobKind::Copy => Err(Error::InvalidRequest(format!(
                "job {id} is a copy: copy the backup again (the files it finished are kept)"
            ))),
        }
    }

    /// A live job's progress stream, if the caller may see it.
    pub fn watch(&self, id: &str) -> Result<Option<JobHandle>> {
        Ok(if self.job_visible(id)? {
            self.reg.watch(id)
        } else {
            None
        })
    }

    /// Milvus and storage checks; Milvus' databases (and their collection counts) only those the
    /// caller may see.
    pub async fn check(&self) -> CheckReport {
        check::check_within(self.reg.service(), &|db| self.who().covers(db)).await
    }

    /// Where Milvus and the storages are (no credentials), Milvus' version asked for at most
    /// `wait`: shown to everyone signed in, as the Cluster page shows it.
    pub async fn locations(&self, wait: std::time::Duration) -> check::Locations {
        check::locations(self.reg.service(), wait).await
    }

    /// Every storage backups can be kept in: `default` (the configured backup storage) first,
    /// then each named one.
    pub fn storages(&self) -> Vec<String> {
        let config = self.reg.service().config();
        config
            .storage_names()
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// The storages a backup of this gate's storage can be copied to.
    pub fn copy_targets(&self) -> Vec<String> {
        check::other_storages(self.reg.service())
    }

    /// The gate for this caller as the store knows it now, if `cred` still holds: the token is
    /// not revoked, the session has not ended, the user still exists; with the user's current
    /// role and databases. `None` when it no longer holds. With sign-in off (the caller is the
    /// local admin and brought no credential) there is nothing to check again.
    pub fn refreshed(&self, cred: &Credential) -> Result<Option<Gate>> {
        let store = self.reg.store();
        let now = match cred {
            Credential::None => return Ok((self.who().via == "local").then(|| self.clone())),
            Credential::Token(t) => store.token_principal(t)?,
            Credential::Session(c) => store.session_principal(c)?,
        };
        Ok(now.filter(|p| p.user == self.who().user).map(|who| {
            Gate::new(
                &self.reg,
                Caller {
                    who,
                    source: self.caller.source.clone(),
                },
            )
        }))
    }

    /// Whether the caller may still follow job `id`: `cred` still holds and the user's current
    /// role and databases still cover the job. The error says why not.
    pub fn may_follow(&self, cred: &Credential, id: &str) -> Result<()> {
        match self.refreshed(cred)? {
            None => Err(Error::Unauthenticated(
                "the session ended, the API token was revoked or the user was removed".into(),
            )),
            Some(g) if !g.job_visible(id)? => Err(Error::Forbidden(format!(
                "{}'s role or databases no longer cover job {id}",
                g.who().user
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Resolves, with the reason, once the caller may no longer follow job `id` (see
    /// [`Gate::may_follow`], asked every [`RECHECK_EVERY`]). A stream of the job's progress ends
    /// when it does.
    pub async fn until_refused(self, cred: Credential, id: String) -> Error {
        loop {
            tokio::time::sleep(RECHECK_EVERY).await;
            if let Err(e) = self.may_follow(&cred, &id) {
                tracing::info!(user = %self.who().user, job = %id, "ending a job progress stream: {e}");
                return e;
            }
        }
    }

    /// The collections in Milvus the caller may see.
    pub async fn inventory(&self) -> Result<Vec<CollectionOverview>> {
        let all = self.reg.service().inventory().await?;
        Ok(all
            .into_iter()
            .filter(|c| self.who().covers(&c.db))
            .collect())
    }

    /// Policies the caller may see. A scoped user sees those whose selection lies entirely within
    /// its databases, as with backups; a policy of everything (no collections, no databases)
    /// reaches beyond them.
    pub fn policies(&self) -> Result<Vec<PolicyOverview>> {
        let all = policy::list(self.reg.store(), Utc::now())?;
        Ok(all
            .into_iter()
            .filter(|o| !self.who().is_scoped() || self.covers_job(&policy_databases(&o.policy)))
            .collect())
    }

    /// One policy the caller may see, with its next `upcoming` runs and its newest runs; one it
    /// may not see answers like a missing one.
    pub fn policy(&self, name: &str, upcoming: usize) -> Result<PolicyOverview> {
        let o = policy::overview_of(self.reg.store(), name, Utc::now(), upcoming)?;
        if self.who().is_scoped() && !self.covers_job(&policy_databases(&o.policy)) {
            return Err(Error::PolicyNotFound(name.to_string()));
        }
        Ok(o)
    }

    /// Adds a policy.
    pub fn add_policy(&self, p: &Policy) -> Result<()> {
        self.allow(action::POLICY_ADD, &p.name, Action::ManagePolicies)?;
        let r = self
            .reg
            .notifier()
            .check_names(&p.notify)
            .and_then(|_| policy::add(self.reg.store(), p));
        self.outcome(action::POLICY_ADD, &p.name, r, |_| {
            format!("cron {} {}", p.cron, p.time_zone)
        })
    }

    /// Changes a policy.
    pub fn update_policy(&self, p: &Policy) -> Result<()> {
        self.allow(action::POLICY_UPDATE, &p.name, Action::ManagePolicies)?;
        let r = self
            .reg
            .notifier()
            .check_names(&p.notify)
            .and_then(|_| policy::update(self.reg.store(), p));
        self.outcome(action::POLICY_UPDATE, &p.name, r, |_| String::new())
    }

    /// Pauses or resumes a policy.
    pub fn set_policy_enabled(&self, name: &str, enabled: bool) -> Result<Policy> {
        let what = if enabled {
            action::POLICY_RESUME
        } else {
            action::POLICY_PAUSE
        };
        self.allow(what, name, Action::ManagePolicies)?;
        let r = policy::set_enabled(self.reg.store(), name, enabled);
        self.outcome(what, name, r, |_| String::new())
    }

    /// Removes a policy.
    pub fn remove_policy(&self, name: &str) -> Result<()> {
        self.allow(action::POLICY_REMOVE, name, Action::ManagePolicies)?;
        let r = policy::remove(self.reg.store(), name);
        self.outcome(action::POLICY_REMOVE, name, r, |_| String::new())
    }

    /// Runs policy `name` now with `run` (the scheduler's, given the registry once the caller
    /// is allowed to), audited as `policy.run` with `describe` of what it started.
    pub async fn run_policy_with<T, Fut>(
        &self,
        name: &str,
        run: impl FnOnce(Arc<JobRegistry>) -> Fut,
        describe: impl Fn(&T) -> String,
    ) -> Result<T>
    where
        Fut: std::future::Future<Output = Result<T>>,
    {
        self.allow(action::POLICY_RUN, name, Action::ManagePolicies)?;
        let r = run(self.reg.clone()).await;
        self.outcome(action::POLICY_RUN, name, r, describe)
    }

    /// All users.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        self.allow(action::USER_LIST, "", Action::ManageUsers)?;
        self.reg.store().users()
    }

    /// Adds a user.
    pub fn add_user(&self, name: &str, password: &str, role: Role, dbs: &[String]) -> Result<()> {
        self.allow(action::USER_ADD, name, Action::ManageUsers)?;
        let r = self.reg.store().add_user(name, password, role, dbs);
        self.outcome(action::USER_ADD, name, r, |_| {
            format!("{} {}", role.as_str(), dbs.join(","))
        })
    }

    /// Changes a user's role and databases.
    pub fn set_user_role(&self, name: &str, role: Role, dbs: &[String]) -> Result<()> {
        self.allow(action::USER_UPDATE, name, Action::ManageUsers)?;
        let r = self.reg.store().set_user_role(name, role, dbs);
        self.outcome(action::USER_UPDATE, name, r, |_| {
            format!("{} {}", role.as_str(), dbs.join(","))
        })
    }

    /// Removes a user (its sessions end, its tokens are revoked).
    pub fn remove_user(&self, name: &str) -> Result<()> {
        self.allow(action::USER_REMOVE, name, Action::ManageUsers)?;
        let r = self.reg.store().remove_user(name);
        self.outcome(action::USER_REMOVE, name, r, |_| String::new())
    }

    /// Sets a user's password (its sessions end).
    pub fn set_user_password(&self, name: &str, password: &str) -> Result<()> {
        self.allow(action::USER_PASSWORD, name, Action::ManageUsers)?;
        let r = self.reg.store().set_password(name, password);
        self.outcome(action::USER_PASSWORD, name, r, |_| String::new())
    }

    /// Creates an API token for another user (an admin's task: the CLI's `user token`); returns
    /// the secret (shown once).
    pub fn create_token_for(&self, user: &str, label: &str) -> Result<(String, TokenInfo)> {
        self.allow(action::TOKEN_CREATE, label, Action::ManageUsers)?;
        let r = self.reg.store().create_token(user, label);
        self.outcome(action::TOKEN_CREATE, label, r, |(_, t)| {
            format!("token {} of {user}", t.id)
        })
    }

    /// Creates an API token for the caller itself; returns the secret (shown once).
    pub fn create_token(&self, name: &str) -> Result<(String, TokenInfo)> {
        let user = self.who().user.clone();
        let r = self.reg.store().create_token(&user, name);
        self.outcome(action::TOKEN_CREATE, name, r, |(_, t)| {
            format!("token {}", t.id)
        })
    }

    /// The caller's tokens (an admin's: everyone's).
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let who = self.who();
        let owner = (who.role != Role::Admin).then_some(who.user.as_str());
        self.reg.store().tokens(owner)
    }

    /// Revokes one of the caller's tokens (an admin: anyone's).
    pub fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        let who = self.who();
        let owner = (who.role != Role::Admin).then_some(who.user.as_str());
        let r = self.reg.store().revoke_token(id, owner);
        self.outcome(action::TOKEN_REVOKE, id, r, |t| {
            format!("{} of {}", t.name, t.user)
        })
    }

    /// Audit entries.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.allow(action::AUDIT_READ, "", Action::ReadAudit)?;
        self.reg.store().audit_entries(f)
    }
}

/// The databases a backup request reads (empty: all of Milvus), by [`Selection::parse`]; a
/// selection it refuses reads what its names say.
pub(crate) fn create_databases(req: &CreateBackupRequest) -> Vec<String> {
    match Selection::parse(&req.collections, &req.databases) {
        Ok(sel) => sel.databases_read(),
        Err(_) => {
            let mut dbs = req.databases.clone();
            dbs.extend(qualified_databases(&req.collections));
            dbs.sort();
            dbs.dedup();
            dbs
        }
    }
}

/// The databases a policy backs up (empty: all).
fn policy_databases(p: &Policy) -> Vec<String> {
    create_databases(&CreateBackupRequest {
        collections: p.collections.clone(),
        databases: p.databases.clone(),
        ..Default::default()
    })
}

/// An export the caller may make ([`Gate::export_backup`]); its backup stays claimed for reading
/// until this is dropped.
pub struct Export {
    gate: Gate,
    opts: ExportOptions,
    _claim: NameClaim,
}

impl Export {
    /// The options it was authorized with.
    pub fn options(&self) -> &ExportOptions {
        &self.opts
    }

    /// Writes the archive into `out`; its end is audited.
    pub async fn write<W>(self, out: W) -> Result<ExportReport>
    where
        W: tokio::io::AsyncWrite + Unpin + Send,
    {
        let svc = self.gate.reg.service();
        let r = crate::engine::commands::archive::export_backup(svc, &self.opts, out).await;
        self.gate
            .outcome(action::BACKUP_EXPORT, &self.opts.name, r, |r| {
                format!(
                    "{} files, {} bytes{}",
                    r.files,
                    r.bytes,
                    if self.opts.zstd { ", zstd" } else { "" }
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_request_reads_the_databases_it_names() {
        let req = CreateBackupRequest {
            collections: vec!["a".into(), "shop.b".into()],
            ..Default::default()
        };
        assert_eq!(create_databases(&req), vec!["default", "shop"]);
        let req = CreateBackupRequest {
            collections: vec!["a".into()],
            databases: vec!["team".into()],
            ..Default::default()
        };
        assert_eq!(create_databases(&req), vec!["team"]);
        assert!(create_databases(&CreateBackupRequest::default()).is_empty());
    }

    /// A drill of a named storage's backup is that backup's, not its namesake's in `default`.
    #[tokio::test]
    async fn a_named_storages_backup_has_its_own_last_drill() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display();
        let yaml = format!(
            "minio:\n  backupStorageType: local\n  backupRootPath: {root}/default\n\
             storages:\n  far:\n    storageType: local\n    rootPath: {root}/far\n"
        );
        let svc =
            crate::engine::Milvault::new(crate::config::Config::from_yaml(&yaml, &[]).unwrap());
        let reg = JobRegistry::new(Arc::new(svc.unwrap()), crate::db::Db::in_memory().unwrap());
        let report = |passed| crate::engine::commands::drill::DrillReport {
            backup: "nightly".into(),
            milvus: String::new(),
            milvus_version: "v2.3.5".into(),
            started_at: chrono::Utc::now(),
            database: "drill_nightly".into(),
            restore_ms: 1,
            check_ms: 1,
            cleanup_ms: 1,
            collections: vec![],
            top_k: 10,
            min_recall: 0.95,
            passed,
            failure: None,
        };
        // as the registry records them: under the backup's record key
        let far = reg.in_storage("far").unwrap();
        reg.store()
            .save_drill(&reg.service().record_key("nightly"), &report(true))
            .unwrap();
        far.store()
            .save_drill(&far.service().record_key("nightly"), &report(false))
            .unwrap();
        let gate = Gate::new(&reg, Caller::scheduler());
        let here = gate.last_drills(&["nightly"]).unwrap();
        let there = gate
            .in_storage("far")
            .unwrap()
            .last_drills(&["nightly"])
            .unwrap();
        assert!(here["nightly"].passed);
        assert!(!there["nightly"].passed);
    }
}
