//! `restore`: create collections from a backup, import its segments, rebuild indexes, and check
//! that every row came back.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    engine::copy::{copy_all, CopyItem},
    engine::import_plan::{self, Api, ImportRequest, Merge, Refusal, Stage},
    engine::service::Milvault,
    error::{Error, Result},
    format::{
        db_or_default,
        layout::{self, LogKind},
        rbac::RbacMeta,
        BackupInfo, CollectionBackupInfo, KeyValuePair, SegmentBackupInfo,
    },
    milvus::{
        schema::{added_fields, field_id_mismatches, field_to_proto, kv_to, schema_to_proto},
        Features, ImportState, MilvusClient,
    },
    progress::{CreatedCollection, CreatedState, Progress, RestoreLedger},
    storage::Storage,
};

/// What to restore and how: the one options type of a restore. The CLI parses it (clap, with
/// milvus-backup's flag names), REST v2 takes it as its body (serde, utoipa), gRPC and the
/// portal fill it. Kept (as JSON) in the job's [`RestoreLedger`], from which a resume reads it
/// back, so a field is never removed or renamed; unknown fields are refused, so that a
/// misspelt option is not silently ignored. [`RestoreRequest::tidy`] trims what was typed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreRequest {
    /// The backup to restore (REST: taken from the path).
    #[arg(
        short = 'n',
        long,
        default_value = "",
        required_unless_present = "resume"
    )]
    pub name: String,
    /// Collections to restore: `name` (default database) or `db.name`; empty: all (CLI: comma
    /// separated).
    #[arg(short = 'c', long, alias = "colls", value_delimiter = ',')]
    pub collections: Vec<String>,
    /// Only collections of these databases; empty: all (CLI: comma separated).
    #[arg(short = 'd', long, value_delimiter = ',')]
    pub databases: Vec<String>,
    /// Appended to every restored collection's name unless a rename rule names it.
    #[arg(short = 's', long, default_value = "")]
    pub suffix: String,
    /// Rename rules: `a:b`, `db1.a:db2.b` or `db1.*:db2.*` (CLI: `--rename`, comma separated).
    #[arg(short = 'r', long = "rename", value_delimiter = ',')]
    pub renames: Vec<String>,
    /// The Milvus to restore into: a name under `targets:` in the configuration; empty: the
    /// configured Milvus.
    #[arg(long, default_value = "")]
    pub milvus: String,
    /// The storage the backup is read from: a name under `storages:` in the configuration;
    /// empty (or `default`): the configured backup storage. Recorded with the job, so that a
    /// resume reads the same backup (CLI: the global `--storage`).
    #[arg(skip)]
    pub storage: String,
    /// milvus-backup's restore `--filter`: comma separated `db.*`, `db.coll` or `coll`, matched
    /// against the names collections get (after `renames` and `suffix`); only those are restored.
    /// Empty: no filter.
    #[arg(long, default_value = "")]
    pub filter: String,
    /// Drop a target collection that exists. Without it an existing target is an error and is
    /// left untouched.
    #[arg(long = "drop_exist_collection", alias = "drop-exist-collection")]
    pub drop_existing: bool,
    /// Create collections and partitions only.
    #[arg(long = "meta_only", alias = "meta-only")]
    pub meta_only: bool,
    /// Rebuild the backup's indexes.
    #[arg(long = "restore_index", alias = "rebuild_index")]
    pub restore_index: bool,
    /// Load the collections afterwards (and count their rows).
    #[arg(long)]
    pub load: bool,
    /// Restore even when files of the backup are missing or differ from its manifest.
    #[arg(long)]
    pub force: bool,
    /// Also restore the backup's Milvus users, roles and grants (`rbac_meta`), creating only
    /// what Milvus lacks (milvus-backup's `--rbac`; see [`crate::engine::rbac`]). Needs an admin.
    #[arg(long)]
    pub rbac: bool,
    /// Merge segments into import jobs of several file groups on Milvus 2.4+, sent to its REST
    /// import API (milvus-backup's `--use_v2_restore`; opt-in as there, see
    /// [`import_plan::Merge`]). No effect on Milvus 2.3.
    #[arg(long = "use_v2_restore", alias = "use-v2-restore")]
    pub use_v2_restore: bool,
    /// File groups per merged job; unset: `restore.maxSegmentsPerImportJob` of the
    /// configuration (256). Set from the configuration when the restore starts, so that a
    /// resume cuts the jobs the same way.
    #[arg(
        long = "max_segments_per_import_job",
        alias = "max-segments-per-import-job",
        value_name = "N",
        value_parser = at_least_one
    )]
    pub max_segments_per_import_job: Option<usize>,
    /// Resume the interrupted restore job with this id: its request is run again, the
    /// collections it finished are kept, the one it was filling (known by its collection id) is
    /// dropped and restored again, and files it staged are not copied again. Only
    /// `drop_existing` may be added (`milvault jobs` lists the jobs).
    #[serde(skip)]
    #[arg(long, value_name = "JOB")]
    pub resume: Option<String>,
    /// What that job created, from the job database ([`crate::jobs::JobRegistry`] loads it).
    #[serde(skip)]
    #[arg(skip)]
    pub resume_ledger: Option<RestoreLedger>,
}

/// `N >= 1` for a count flag.
fn at_least_one(s: &str) -> std::result::Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("'{s}' is not a whole number of at least 1")),
    }
}

impl RestoreRequest {
    /// The request as typed, tidied: list items and names trimmed, empty list items dropped
    /// (`-c "a, b,"` is `a` and `b`). Every front end's request passes through it (the Gate).
    pub fn tidy(mut self) -> RestoreRequest {
        let list = crate::engine::names::tidy_list;
        self.collections = list(self.collections);
        self.databases = list(self.databases);
        self.renames = list(self.renames);
        for s in [
            &mut self.name,
            &mut self.suffix,
            &mut self.milvus,
            &mut self.storage,
            &mut self.filter,
        ] {
            *s = s.trim().to_string();
        }
        self
    }
}

/// One restored collection.
#[derive(Debug, Clone, Serialize)]
pub struct RestoredCollection {
    /// `db.name` in the backup.
    pub source: String,
    /// `db.name` in Milvus.
    pub target: String,
    pub segments: usize,
    /// Rows the import tasks reported.
    pub imported_rows: i64,
    /// Live rows the backup recorded, when it could count them.
    pub expected_rows: Option<i64>,
    /// Rows Milvus holds for the collection after the restore.
    pub stored_rows: i64,
    /// `count(*)` after loading, when loaded.
    pub counted_rows: Option<i64>,
    /// Loaded by the restore (`load` asked for, and an index to load it with).
    pub loaded: bool,
    /// What the row check compared.
    pub check: String,
    /// Aliases given to the restored collection (those another collection held are not moved).
    pub aliases: Vec<String>,
}

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub backup: String,
    pub collections: Vec<RestoredCollection>,
    /// What a restore with `rbac` created and left alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rbac: Option<crate::engine::rbac::RbacReport>,
}

/// A rename rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rename {
    /// `db.coll` -> `db.coll`.
    Collection {
        from: (String, String),
        to: (String, String),
    },
    /// `db1.*` -> `db2.*`.
    Database { from: String, to: String },
}

/// `db.name` (or `name` in the default database) as `(db, name)`.
pub fn split_qualified(s: &str) -> (String, String) {
    match s.split_once('.') {
        Some((db, c)) => (db.to_string(), c.to_string()),
        None => ("default".to_string(), s.to_string()),
    }
}

fn parse_renames(rules: &[String]) -> Result<Vec<Rename>> {
    rules
        .iter()
        .flat_map(|r| r.split(','))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|rule| {
            let bad = || {
                Error::InvalidRequest(format!(
                    "rename rule '{rule}' must look like old:new, db1.old:db2.new or db1.*:db2.*"
                ))
            };
            let (from, to) = rule.split_once(':').ok_or_else(bad)?;
            if from.is_empty() || to.is_empty() {
                return Err(bad());
            }
            match (from.strip_suffix(".*"), to.strip_suffix(".*")) {
                (Some(f), Some(t)) => Ok(Rename::Database {
                    from: f.into(),
                    to: t.into(),
                }),
                (None, None) => Ok(Rename::Collection {
                    from: split_qualified(from),
                    to: split_qualified(to),
                }),
                _ => Err(bad()),
            }
        })
        .collect()
}

/// Where a backed-up collection goes: `(db, name)`.
fn target_of(c: &CollectionBackupInfo, rules: &[Rename], suffix: &str) -> (String, String) {
    let db = db_or_default(&c.db_name).to_string();
    for r in rules {
        if let Rename::Collection { from, to } = r {
            if from.0 == db && from.1 == c.collection_name {
                return to.clone();
            }
        }
    }
    let target_db = rules
        .iter()
        .find_map(|r| match r {
            Rename::Database { from, to } if *from == db => Some(to.clone()),
            _ => None,
        })
        .unwrap_or(db);
    (target_db, format!("{}{suffix}", c.collection_name))
}

/// Picks the backup's collections the request names, each with its target.
fn plan(
    req: &RestoreRequest,
    collections: &[CollectionBackupInfo],
) -> Result<Vec<(CollectionBackupInfo, (String, String))>> {
    let rules = parse_renames(&req.renames)?;
    let mut chosen: Vec<&CollectionBackupInfo> = Vec::new();
    if req.collections.is_empty() {
        chosen.extend(collections.iter());
    } else {
        for name in &req.collections {
            let (db, coll) = split_qualified(name);
            let found = collections
                .iter()
                .find(|c| db_or_default(&c.db_name) == db && c.collection_name == coll)
                .ok_or_else(|| Error::CollectionNotInBackup {
                    backup: req.name.clone(),
                    collection: format!("{db}.{coll}"),
                })?;
            chosen.push(found);
        }
    }
    if !req.databases.is_empty() {
        chosen.retain(|c| req.databases.iter().any(|d| d == db_or_default(&c.db_name)));
    }
    let mut out: Vec<_> = chosen
        .into_iter()
        .map(|c| (c.clone(), target_of(c, &rules, &req.suffix)))
        .collect();
    if !req.filter.trim().is_empty() {
        let keep = crate::engine::names::Selection::from_filter(&req.filter)?;
        let before: Vec<String> = out.iter().map(|(_, (d, n))| format!("{d}.{n}")).collect();
        out.retain(|(_, (db, name))| {
            keep.databases.iter().any(|d| d == db)
                || keep
                    .collections
                    .iter()
                    .any(|q| q.db == *db && q.collection == *name)
        });
        if out.is_empty() {
            return Err(Error::InvalidRequest(format!(
                "the filter '{}' matches none of the names the collections would be restored as ({}); it applies to the names after renames and the suffix",
                req.filter,
                before.join(", ")
            )));
        }
    }
    for (i, (_, t)) in out.iter().enumerate() {
        if out[..i].iter().any(|(_, o)| o == t) {
            return Err(Error::InvalidRequest(format!(
                "two collections would be restored as {}.{}; adjust --rename",
                t.0, t.1
            )));
        }
    }
    if out.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "the request selects no collection of backup '{}'",
            req.name
        )));
    }
    Ok(out)
}

/// Where one selected collection would be restored.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreTarget {
    /// `db.name` in the backup.
    pub source: String,
    /// `db.name` in Milvus.
    pub target: String,
    /// A collection of that name exists now (the restore needs `drop_existing`).
    pub exists: bool,
    /// Rows the backup holds for it (live rows when recorded, else stored rows).
    pub rows: i64,
}

/// One collection a restore selected, and where it goes.
#[derive(Debug, Clone)]
pub struct PlannedCollection {
    /// The collection as the backup holds it.
    pub backup: CollectionBackupInfo,
    /// Target database.
    pub db: String,
    /// Target collection name.
    pub name: String,
    /// A collection of that name existed when the plan was made.
    pub exists: bool,
    /// When resuming: the existing target is the collection the interrupted job created (same
    /// id), with what that job recorded of it.
    pub resumed: Option<CreatedCollection>,
}

impl PlannedCollection {
    /// `db.name` in Milvus.
    pub fn target(&self) -> String {
        format!("{}.{}", self.db, self.name)
    }
}

/// A restore worked out before anything changes: the backup, the collections the request
/// selects with their targets, and which targets exist. The preview, the registry (which
/// refuses a bad request before it starts a job) and the run itself all start from one.
#[derive(Debug, Clone)]
pub struct RestorePlan {
    pub info: BackupInfo,
    pub collections: Vec<PlannedCollection>,
    /// The databases Milvus had when the plan was made.
    pub databases: Vec<String>,
}

impl RestorePlan {
    /// Reads the backup, selects its collections by the request (renames, suffix, databases)
    /// and asks Milvus which targets exist.
    pub async fn make(svc: &Milvault, req: &RestoreRequest) -> Result<RestorePlan> {
        let info = svc.get_backup(&req.name).await?;
        // refused before Milvus is asked anything: no Milvus version milvault restores into
        // takes a snapshot bundle
        if info.format == crate::engine::commands::verify::SNAPSHOT_FORMAT {
            return Err(Error::NotRestorable {
                backup: info.name.clone(),
                refusal: crate::error::Refusal::Format {
                    collection: info
                        .collection_backups
                        .first()
                        .map(|c| c.qualified_name())
                        .unwrap_or_default(),
                    format: info.format.clone(),
                },
            });
        }
        let selected = plan(req, &info.collection_backups)?;
        let milvus = svc.milvus().await?;
        let databases = milvus.list_databases().await?;
        let mut collections = Vec::with_capacity(selected.len());
        for (backup, (db, name)) in selected {
            let exists = databases.contains(&db) && milvus.has_collection(&db, &name).await?;
            let mut c = PlannedCollection {
                backup,
                db,
                name,
                exists,
                resumed: None,
            };
            if let (true, Some(ledger)) = (exists, &req.resume_ledger) {
                c.resumed = owned_by_resumed_job(milvus, req, ledger, &c).await?;
            }
            collections.push(c);
        }
        Ok(RestorePlan {
            info,
            collections,
            databases,
        })
    }

    /// Whether the backup is a logical one (rows in Parquet, restored by Insert).
    pub fn logical(&self) -> bool {
        crate::engine::logical::is_logical(&self.info)
    }

    /// Where each collection would go, for a preview.
    pub fn targets(&self) -> Vec<RestoreTarget> {
        self.collections
            .iter()
            .map(|c| RestoreTarget {
                source: c.backup.qualified_name(),
                target: c.target(),
                exists: c.exists,
                rows: c.backup.rows(),
            })
            .collect()
    }

    /// The existing-target rule: a target that exists is refused unless the request asked to
    /// drop it.
    pub fn refuse_existing(&self, drop_existing: bool) -> Result<()> {
        let existing: Vec<String> = self
            .collections
            .iter()
            .filter(|c| c.exists && c.resumed.is_none())
            .map(PlannedCollection::target)
            .collect();
        refuse_existing_targets(&existing, drop_existing)
    }
}

/// Whether the existing target `c` is the collection the interrupted job (`ledger`) created: its
/// entry when Milvus' id of the collection is the one the job recorded, `None` when it is someone
/// else's. A target the job was creating when it stopped (id not recorded) cannot be told apart:
/// refused, unless the request drops existing targets anyway.
async fn owned_by_resumed_job(
    milvus: &MilvusClient,
    req: &RestoreRequest,
    ledger: &RestoreLedger,
    c: &PlannedCollection,
) -> Result<Option<CreatedCollection>> {
    let target = c.target();
    let Some(entry) = ledger.entry(&target) else {
        return Ok(None);
    };
    let Some(id) = entry.collection_id else {
        if req.drop_existing {
            return Ok(None);
        }
        return Err(Error::NotResumable {
            job: req.resume.clone().unwrap_or_default(),
            reason: format!(
                "{target} exists, and the job was creating it when it stopped, before it recorded the collection's id, so it cannot tell it from someone else's; it was left untouched. Check it, then drop it or resume with --drop_exist_collection"
            ),
        });
    };
    let now = milvus.describe_collection(&c.db, &c.name).await?;
    Ok((now.collection_id == id).then(|| entry.clone()))
}

/// The rule itself, also applied at the moment a collection is created (it may have appeared
/// since the plan was made).
fn refuse_existing_targets(existing: &[String], drop_existing: bool) -> Result<()> {
    if existing.is_empty() || drop_existing {
        return Ok(());
    }
    Err(Error::CollectionExists(existing.join(", ")))
}

/// Works out where a restore would put each collection, without changing anything.
pub async fn preview(svc: &Milvault, req: &RestoreRequest) -> Result<Vec<RestoreTarget>> {
    Ok(RestorePlan::make(svc, req).await?.targets())
}

/// What one run of a restore works with, handed to each collection's steps.
#[derive(Clone, Copy)]
struct Run<'a> {
    svc: &'a Milvault,
    milvus: &'a MilvusClient,
    req: &'a RestoreRequest,
    staging: Option<&'a Staging>,
    logical: bool,
    progress: &'a Progress,
}

/// Runs a restore.
pub async fn restore(
    svc: &Milvault,
    mut req: RestoreRequest,
    progress: &Progress,
) -> Result<RestoreReport> {
    let merge = merge_of(&mut req, svc.config().tuning.max_segments_per_import_job)?;
    let ledger = start_ledger(&req, progress)?;
    let mut restore_plan = RestorePlan::make(svc, &req).await?;
    let logical = restore_plan.logical();
    if logical {
        for c in restore_plan.collections.iter_mut() {
            if crate::engine::logical::restore::keep_primary_keys(&mut c.backup) {
                progress.log(format!(
                    "{}: created without autoID so that the rows keep their primary keys",
                    c.backup.qualified_name()
                ));
            }
        }
    }
    let RestorePlan {
        info,
        collections: targets,
        databases: dbs,
    } = &restore_plan;
    progress.set_targets(
        targets
            .iter()
            .map(|c| format!("{}=>{}", c.backup.qualified_name(), c.target()))
            .collect(),
    );
    if let Some(note) = clustering_key_note(info) {
        progress.log(note);
    }
    let milvus = svc.milvus().await?;
    let features = *milvus.features();
    let staging = if req.meta_only || logical {
        None
    } else {
        Some(Staging::new(svc, &ledger.staging, req.resume.is_some())?)
    };
    // Every selected collection is planned before anything is created: a backup the target
    // cannot take (L0 deletes into 2.3, BM25 into 2.4, a snapshot bundle...) changes nothing.
    progress.step(format!(
        "planning the imports of {} collections for Milvus {}",
        targets.len(),
        features.name()
    ));
    let imports = plan_imports(info, targets, &features, merge, staging.as_ref(), logical)?;
    progress.step(format!(
        "checking {} target collections in Milvus",
        targets.len()
    ));
    for t in targets.iter().filter(|t| dbs.contains(&t.db)) {
        refuse_alias_target(milvus, &t.db, &t.name).await?;
    }
    restore_plan.refuse_existing(req.drop_existing)?;
    if logical && !req.meta_only {
        let colls: Vec<_> = targets.iter().map(|t| &t.backup).collect();
        crate::engine::logical::restore::check_files(svc, &info.name, &colls, req.force, progress)
            .await?;
    } else if !req.meta_only {
        check_backup_files(svc, &info.name, targets, &imports, req.force, progress).await?;
    }
    if !(req.meta_only || logical) {
        let segments = targets
            .iter()
            .map(|t| t.backup.all_segments().count() as u64);
        let bytes = targets.iter().map(|t| t.backup.size.max(0) as u64);
        progress.add_total(bytes.sum(), segments.sum());
    }
    // as milvus-backup (core/restore/task.go): users, roles and grants before any collection
    let rbac = if req.rbac {
        Some(restore_rbac(milvus, info, progress).await?)
    } else {
        None
    };
    let mut results = Vec::new();
    let mut created: Vec<(String, String, i64)> = Vec::new();
    let mut outcome = Ok(());
    let run = Run {
        svc,
        milvus,
        req: &req,
        staging: staging.as_ref(),
        logical,
        progress,
    };
    for (target, imports) in targets.iter().zip(&imports) {
        if let Err(e) = progress.check_cancelled() {
            outcome = Err(e);
            break;
        }
        let db = &target.db;
        if !dbs.contains(db) && !milvus.list_databases().await?.contains(db) {
            progress.step(format!("creating database {db}"));
            milvus.create_database(db).await?;
        }
        if let Some(done) = target
            .resumed
            .as_ref()
            .filter(|e| e.state == CreatedState::Complete)
        {
            match keep_completed(&run, target, done).await {
                Ok(r) => results.push(r),
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            }
            continue;
        }
        match restore_one(&run, target, imports).await {
            Ok((r, id)) => {
                results.push(r);
                created.push((target.db.clone(), target.name.clone(), id));
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    if let Some(s) = &staging {
        s.cleanup(svc, progress).await;
    }
    if matches!(outcome, Err(Error::Cancelled)) {
        // a cancelled restore takes back the collections it finished too: the target is left as
        // it was (collections it created only, by id)
        for (db, name, id) in &created {
            drop_if_created(milvus, db, name, *id, progress).await;
        }
        // (collections an interrupted job finished and this resume kept stay: they were there
        // before this job started, and a later resume keeps them again)
    }
    outcome?;
    Ok(RestoreReport {
        backup: req.name.clone(),
        collections: results,
        rbac,
    })
}

/// The Import requests of every target collection, planned before anything is created: a
/// backup the target cannot take (L0 deletes into 2.3, BM25 into 2.4, a snapshot bundle...)
/// changes nothing. A logical restore plans no imports, only checks that the target can take
/// the rows.
fn plan_imports(
    info: &BackupInfo,
    targets: &[PlannedCollection],
    features: &Features,
    merge: Merge,
    staging: Option<&Staging>,
    logical: bool,
) -> Result<Vec<Vec<PlannedImport>>> {
    let refused = |refusal| Error::NotRestorable {
        backup: info.name.clone(),
        refusal,
    };
    let mut imports = Vec::with_capacity(targets.len());
    for c in targets.iter().map(|t| &t.backup) {
        if logical {
            crate::engine::logical::restore::check_target(c, features).map_err(refused)?;
            imports.push(Vec::new());
            continue;
        }
        let planned = match staging {
            Some(st) => import_requests(info, c, features, merge, &|f| st.milvus_path(f)),
            None => import_requests(info, &without_segments(c), features, merge, &|f| {
                f.to_string()
            }),
        }
        .map_err(refused)?;
        imports.push(planned);
    }
    Ok(imports)
}

/// Restores the backup's Milvus users, roles and grants (`rbac_meta`), as milvus-backup does
/// (core/restore/task.go): before any collection.
async fn restore_rbac(
    milvus: &MilvusClient,
    info: &BackupInfo,
    progress: &Progress,
) -> Result<crate::engine::rbac::RbacReport> {
    let meta =
        RbacMeta::from_value(info.rbac_meta.as_ref()).map_err(|e| Error::CorruptMetadata {
            name: info.name.clone(),
            file: layout::BACKUP_META.into(),
            reason: format!("rbac_meta: {e}"),
        })?;
    crate::engine::rbac::restore(milvus, &info.name, &meta, progress).await
}

/// How the request merges segments into import jobs, with the configured job size written into
/// it (`configured`, when the request names none) so that the job's record keeps it.
fn merge_of(req: &mut RestoreRequest, configured: usize) -> Result<Merge> {
    let n = *req.max_segments_per_import_job.get_or_insert(configured);
    if n == 0 {
        return Err(Error::InvalidRequest(
            "max_segments_per_import_job must be at least 1".into(),
        ));
    }
    Ok(if req.use_v2_restore {
        Merge::UpTo(n)
    } else {
        Merge::Off
    })
}

/// Starts the job's record of what it creates: the request, and when resuming what the
/// interrupted job created (carried over, so that a second interruption is resumable too) and its
/// staging folder.
fn start_ledger(req: &RestoreRequest, progress: &Progress) -> Result<RestoreLedger> {
    let previous = match (&req.resume, &req.resume_ledger) {
        (None, _) => None,
        (Some(_), Some(l)) => Some(l.clone()),
        (Some(job), None) => {
            return Err(Error::NotResumable {
                job: job.clone(),
                reason: "its record was not read from the job database".into(),
            })
        }
    };
    let request = serde_json::to_value(req).map_err(|e| Error::InvalidRequest(e.to_string()))?;
    let ledger = RestoreLedger {
        request,
        resumes: req.resume.clone(),
        staging: previous
            .as_ref()
            .map(|l| l.staging.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| progress.id()),
        collections: previous.map(|l| l.collections).unwrap_or_default(),
    };
    if let Some(job) = &req.resume {
        progress.log(format!(
            "resuming restore job {job}: {} collections it created are checked first",
            ledger.collections.len()
        ));
    }
    progress.set_restore_ledger(ledger.clone());
    Ok(ledger)
}

/// A collection the interrupted job restored completely: kept as it is, its rows checked again.
async fn keep_completed(
    run: &Run<'_>,
    planned: &PlannedCollection,
    done: &CreatedCollection,
) -> Result<RestoredCollection> {
    let coll = &planned.backup;
    let target = planned.target();
    let mut result = RestoredCollection {
        source: coll.qualified_name(),
        target: target.clone(),
        segments: coll.all_segments().count(),
        imported_rows: done.rows,
        expected_rows: coll.live_rows,
        stored_rows: 0,
        counted_rows: None,
        loaded: false,
        check: String::new(),
        aliases: done.aliases.clone(),
    };
    if run.req.meta_only {
        result.check = "metadata only: no rows to check".into();
    } else {
        verify_rows(run.milvus, &planned.db, &planned.name, coll, &mut result).await?;
    }
    result.check = format!(
        "kept: the interrupted job restored it completely; {}",
        result.check
    );
    run.progress.add_segments(result.segments as u64);
    run.progress.log(format!("{target}: {}", result.check));
    Ok(result)
}

/// Checks the files of the collections to restore against the backup's manifest; refuses a
/// damaged backup unless `force`.
async fn check_backup_files(
    svc: &Milvault,
    backup: &str,
    targets: &[PlannedCollection],
    imports: &[Vec<PlannedImport>],
    force: bool,
    progress: &Progress,
) -> Result<()> {
    let storage = svc.backup_storage();
    let Some(manifest) = crate::engine::integrity::open_manifest(storage, backup).await? else {
        progress.log(
            "the backup has no manifest (made by milvus-backup or an older milvault): its files are not verified, only looked for",
        );
        let missing = missing_segment_files(storage, targets, imports).await?;
        if missing.is_empty() {
            return Ok(());
        }
        let files = missing
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if force {
            progress.log(format!(
                "WARNING: restoring although segments have no files, because force was given: {files}"
            ));
            return Ok(());
        }
        return Err(Error::BackupDamaged {
            name: backup.to_string(),
            count: missing.len(),
            files,
        });
    };
    let prefixes: Vec<String> = targets
        .iter()
        .flat_map(|t| t.backup.segments())
        .flat_map(|s| {
            [LogKind::Insert, LogKind::Delta].map(|k| {
                crate::format::manifest::segment_prefix(
                    k.dir(),
                    s.collection_id,
                    s.partition_id,
                    s.segment_id,
                )
            })
        })
        .collect();
    progress.step(format!(
        "verifying the backup's files of {} collections against its manifest",
        targets.len()
    ));
    crate::engine::integrity::check_before_restore(
        storage,
        backup,
        &manifest,
        prefixes,
        "files",
        svc.config().tuning.copy_concurrency,
        force,
        progress,
    )
    .await
}

/// Segments whose binlogs the metadata lists but the planned folders do not hold, as
/// `segment <id> (<folder>): no files`. Used for backups without a manifest (milvus-backup's).
async fn missing_segment_files(
    storage: &Storage,
    targets: &[PlannedCollection],
    imports: &[Vec<PlannedImport>],
) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for (coll, imports) in targets.iter().map(|t| &t.backup).zip(imports) {
        let segs: HashMap<i64, &SegmentBackupInfo> =
            coll.all_segments().map(|s| (s.segment_id, s)).collect();
        for imp in imports {
            // the insert folder for rows, the delta folder for L0 segments (of each file group)
            let folders: Vec<&String> = imp
                .plan
                .files
                .iter()
                .filter_map(|g| g.first().filter(|f| !f.is_empty()))
                .collect();
            let Some(folder) = folders.first().copied() else {
                continue;
            };
            let mut files = Vec::new();
            for f in &folders {
                files.extend(storage.list_files(f).await?);
            }
            for id in &imp.plan.segments {
                let listed = segs.get(id).is_some_and(|s| {
                    if imp.plan.stage == Stage::Data {
                        !s.binlogs.iter().all(|f| f.binlogs.is_empty())
                    } else {
                        s.has_delta_files()
                    }
                });
                let marker = format!("/{id}/");
                let found = files
                    .iter()
                    .any(|f| format!("/{}", f.rel).contains(&marker))
                    || folders.iter().any(|f| f.ends_with(&marker));
                if listed && (files.is_empty() || !found) {
                    missing.push(format!("segment {id} ({folder}): no files"));
                }
            }
        }
    }
    Ok(missing)
}

/// One Import call as the restore sends it: the planned request with its folders mapped to the
/// paths Milvus reads them at.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedImport {
    /// The request of `engine::import_plan` (backup-relative folders, stage, rows).
    pub plan: ImportRequest,
    /// The file groups of the request: the planned folders where Milvus reads them (`""` kept).
    pub files: Vec<Vec<String>>,
    /// `options` of the Import request, in the planned order.
    pub options: Vec<milvus::proto::common::KeyValuePair>,
}

/// The Import requests that restore `coll` into a Milvus with `features`, in order, with each
/// backup-relative folder mapped by `milvus_path`; a data request whose segments hold no
/// binlogs at all (an empty segment) is left out, as milvault always has.
pub fn import_requests(
    info: &BackupInfo,
    coll: &CollectionBackupInfo,
    features: &Features,
    merge: Merge,
    milvus_path: &dyn Fn(&str) -> String,
) -> std::result::Result<Vec<PlannedImport>, Refusal> {
    let segs: HashMap<i64, &SegmentBackupInfo> =
        coll.all_segments().map(|s| (s.segment_id, s)).collect();
    let has_data = |r: &ImportRequest| {
        r.stage != Stage::Data
            || r.segments
                .iter()
                .any(|id| segs.get(id).is_some_and(|s| !s.binlogs.is_empty()))
    };
    Ok(import_plan::plan_with(info, coll, features, merge)?
        .into_iter()
        .filter(has_data)
        .map(|plan| PlannedImport {
            files: plan
                .files
                .iter()
                .map(|group| {
                    group
                        .iter()
                        .map(|f| {
                            if f.is_empty() {
                                String::new()
                            } else {
                                milvus_path(f)
                            }
                        })
                        .collect()
                })
                .collect(),
            options: kv_to(&plan.options),
            plan,
        })
        .collect())
}

/// The collection without its segments (a metadata-only restore plans its schema only).
fn without_segments(c: &CollectionBackupInfo) -> CollectionBackupInfo {
    let mut bare = c.clone();
    for p in bare.partition_backups.iter_mut() {
        p.segment_backups.clear();
    }
    bare.l0_segments.clear();
    bare
}

/// Where Milvus reads the backup's binlogs from during import.
struct Staging {
    /// Milvus can read the backup storage itself: import from there, copy nothing.
    direct: bool,
    backups: Storage,
    /// Otherwise: a folder in Milvus' storage the planned folders are copied to first.
    area: Storage,
    /// The folder of this restore in `area`: the first job's id (a resume reuses it).
    job_dir: String,
    /// Resuming: files staged already (same size) are not copied again.
    resuming: bool,
}

impl Staging {
    fn new(svc: &Milvault, job_dir: &str, resuming: bool) -> Result<Staging> {
        let milvus_storage = svc.milvus_storage()?;
        let backups = svc.backup_storage();
        let both_local =
            milvus_storage.local_path("").is_some() && backups.local_path("").is_some();
        let direct = both_local || backups.shares_store_with(milvus_storage);
        Ok(Staging {
            direct,
            backups: backups.clone(),
            area: milvus_storage.with_root("milvault-restore"),
            job_dir: job_dir.to_string(),
            resuming,
        })
    }

    /// Where Milvus reads the backup-relative folder `rel` (ending in `/`): in the backup
    /// storage itself, or in the staging copy.
    fn milvus_path(&self, rel: &str) -> String {
        if self.direct {
            format!("{}/", self.backups.import_path(rel))
        } else {
            format!(
                "{}/",
                self.area
                    .import_path(&format!("{}/{}", self.job_dir, rel.trim_end_matches('/')))
            )
        }
    }

    /// Copies everything under the planned folders (group folders included) to where
    /// [`Staging::milvus_path`] points; nothing when Milvus reads the backup storage.
    async fn stage(&self, svc: &Milvault, folders: &[String], progress: &Progress) -> Result<()> {
        if self.direct {
            return Ok(());
        }
        let mut items = Vec::new();
        let mut kept = (0usize, 0u64);
        for rel in folders.iter().filter(|f| !f.is_empty()) {
            // objects appear whole (a PUT, or a local write renamed into place): a staged file
            // of the right size is the file
            let staged: HashMap<String, u64> = if self.resuming {
                self.area
                    .list_files(&format!("{}/{}", self.job_dir, rel.trim_end_matches('/')))
                    .await?
                    .into_iter()
                    .map(|f| (f.rel, f.size))
                    .collect()
            } else {
                HashMap::new()
            };
            for f in self.backups.list_files(rel).await? {
                let dst = format!("{}/{}", self.job_dir, f.rel);
                if staged.get(&dst) == Some(&f.size) {
                    kept.0 += 1;
                    kept.1 += f.size;
                    continue;
                }
                items.push(CopyItem {
                    dst,
                    src: f.rel,
                    size: f.size,
                    group: 0,
                    base: None,
                });
            }
        }
        if kept.0 > 0 {
            progress.add_bytes(kept.1);
            progress.log(format!(
                "{} files ({} bytes) staged by the interrupted job are there already: not copied again",
                kept.0, kept.1
            ));
        }
        // no groups: segments are counted by the caller once imported, not once staged
        copy_all(
            &self.backups,
            &self.area,
            items,
            &[],
            svc.config().tuning.copy_concurrency,
            progress,
        )
        .await
        .map(|_| ())
    }

    async fn cleanup(&self, svc: &Milvault, progress: &Progress) {
        if self.direct || svc.config().tuning.keep_temp_files {
            return;
        }
        match self.area.delete_under(&self.job_dir).await {
            Ok(n) if n > 0 => {
                progress.log(format!("removed {n} staged files from Milvus' storage"))
            }
            Ok(_) => {}
            Err(e) => progress.log(format!(
                "could not remove staged files under {}: {e}",
                self.area.import_path(&self.job_dir)
            )),
        }
    }
}

/// Restores one collection: creates it (dropping an existing one only when asked), fills it,
/// recreates its aliases; drops what it created when a step fails.
async fn restore_one(
    run: &Run<'_>,
    planned: &PlannedCollection,
    imports: &[PlannedImport],
) -> Result<(RestoredCollection, i64)> {
    let Run {
        milvus,
        req,
        progress,
        ..
    } = *run;
    let (coll, db, name) = (&planned.backup, planned.db.as_str(), planned.name.as_str());
    let source = coll.qualified_name();
    let target = format!("{db}.{name}");
    let schema = coll.schema.as_ref().ok_or_else(|| Error::CorruptMetadata {
        name: req.name.clone(),
        file: layout::COLLECTION_META.into(),
        reason: format!("{source} has no schema"),
    })?;
    // aliases of a collection this restore replaces: they follow the replacement
    let mut replaced_aliases = Vec::new();
    // Checked again at the moment of acting: plan() looked earlier, and anything (an
    // application, another restore) may have created the target since. Only what the user asked
    // to drop is dropped.
    progress.check_cancelled()?;
    refuse_alias_target(milvus, db, name).await?;
    if let Some(left) = &planned.resumed {
        replaced_aliases = left.aliases.clone();
        if let Some(id) = left.collection_id {
            // the interrupted job's own, unfinished collection: filled on from the imports that
            // landed, or (when that cannot be told) dropped by its id and restored again
            wait_for_sent_imports(
                milvus,
                &target,
                &left.tasks(),
                run.svc.config().tuning.wait_timeout,
                progress,
            )
            .await?;
            // (imports cut otherwise than this run cuts them cannot be matched: filled again)
            let landed = landed_imports(milvus, planned, left, id, run.logical)
                .await?
                .filter(|l| {
                    l.keys()
                        .all(|k| imports.iter().any(|i| import_key(i) == *k))
                });
            if let Some(landed) = landed {
                return continue_filling(run, planned, imports, left.clone(), id, landed).await;
            }
            progress.step(format!(
                "dropping {target}: the interrupted job created it and did not finish it"
            ));
            drop_if_created(milvus, db, name, id, progress).await;
        }
    }
    if milvus.has_collection(db, name).await? {
        if let Err(e) = refuse_existing_targets(std::slice::from_ref(&target), req.drop_existing) {
            progress.log(format!(
                "{target} exists now (it did not when the restore started): left as it is"
            ));
            return Err(e);
        }
        replaced_aliases = release_aliases_of_existing(milvus, db, name, progress).await?;
        progress.step(format!(
            "dropping the existing {target} (--drop_exist_collection)"
        ));
        milvus.drop_collection(db, name).await?;
    }
    progress.step(format!("creating {target} from {source}"));
    let mut entry = CreatedCollection {
        target: target.clone(),
        collection_id: None,
        state: CreatedState::Creating,
        aliases: replaced_aliases,
        rows: 0,
        sent: Vec::new(),
    };
    progress.update_restore_ledger(|l| l.set(entry.clone()));
    let has_partition_key = schema.fields.iter().any(|f| f.is_partition_key);
    let num_partitions = if has_partition_key {
        coll.partition_backups.len() as i64
    } else {
        0
    };
    let (properties, ttl) = without_ttl(&coll.properties);
    let (properties, _) = with_func_check_off(properties, schema, milvus.features());
    if let Some(ttl) = ttl {
        progress.log(format!(
            "{target}: the backup's time to live ({TTL_PROPERTY}={ttl}) is not set on the restored collection: its rows keep the times they were written, so the TTL would expire every row older than {ttl} s at once. Set it (AlterCollection) when you want rows to expire again"
        ));
    }
    milvus
        .create_collection(
            db,
            &schema_to_proto(schema, name),
            coll.shards_num.max(1),
            coll.consistency_level,
            kv_to(&properties),
            num_partitions,
        )
        .await?;
    // The id of the collection this restore created: a clean-up drops that one only, never a
    // collection someone made under the same name in the meantime.
    let created_id = milvus.describe_collection(db, name).await?.collection_id;
    entry.collection_id = Some(created_id);
    entry.state = CreatedState::Filling;
    fill_created(run, planned, imports, entry, created_id, &[], None).await
}

/// What a restore of a backup milvus-backup made from Milvus 2.4+ says about clustering keys:
/// its backup format has no field for them (`FieldSchema` in core/proto/backup.proto), so a
/// collection that had one comes back without it, and Milvus cannot add one later.
fn clustering_key_note(info: &BackupInfo) -> Option<String> {
    let by_milvus_backup = info.milvault.is_none();
    let from_2_4 = crate::milvus::Features::from_version(&info.milvus_version)
        .is_some_and(|f| f.version >= (2, 4, 0));
    let recorded = info
        .collection_backups
        .iter()
        .filter_map(|c| c.schema.as_ref())
        .any(|s| s.fields.iter().any(|f| f.is_clustering_key));
    (by_milvus_backup && from_2_4 && !recorded).then(|| {
        "this backup was made by milvus-backup, whose format does not record clustering keys: a collection that had one is restored without it (Milvus cannot add one to an existing collection)".to_string()
    })
}

/// The collection property that sets its time to live.
const TTL_PROPERTY: &str = "collection.ttl.seconds";

/// A collection's properties without its time to live, and that TTL when it had one (not 0).
/// Backup-mode imports keep the rows' original timestamps: a collection created with the TTL
/// would expire every restored row older than it, i.e. lose the backup's data on arrival.
fn without_ttl(props: &[KeyValuePair]) -> (Vec<KeyValuePair>, Option<String>) {
    let ttl = props
        .iter()
        .find(|kv| kv.key == TTL_PROPERTY)
        .map(|kv| kv.value.trim().to_string())
        .filter(|v| !v.is_empty() && v != "0");
    let rest = props
        .iter()
        .filter(|kv| kv.key != TTL_PROPERTY)
        .cloned()
        .collect();
    (rest, ttl)
}

/// The name and parameters to rebuild index `idx` with, as milvus-backup sends them
/// (`restoreScalarFieldIdx` / `restoreVectorFieldIdx`, core/restore/coll_ddl_task.go): a name
/// CreateIndex would refuse (a JSON-path index is named after its path, `/a/b`) is left empty
/// for Milvus to choose, and the index type Milvus reports as `marisa-trie` is created as `Trie`.
fn index_to_create(idx: &crate::format::IndexInfo) -> (String, Vec<(String, String)>) {
    let name = idx.index_name.trim();
    let valid_start = name
        .chars()
        .next()
        .is_none_or(|c| c == '_' || c.is_ascii_alphabetic());
    let valid = valid_start && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
    let name = if valid {
        name.to_string()
    } else {
        String::new()
    };
    let params = idx
        .params
        .iter()
        .map(|(k, v)| {
            let v = if k == "index_type" && v == "marisa-trie" {
                "Trie".to_string()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    (name, params)
}

/// The collection property that turns off Milvus' check of a collection's functions at creation.
const FUNC_CHECK_PROPERTY: &str = "disable_func_runtime_check";

/// The properties to create a collection of `schema` with on a Milvus with `target`'s features,
/// and the value `disable_func_runtime_check` must get back once the collection is restored
/// (`None`: nothing to put back). Milvus 2.6.8+ calls a TextEmbedding function's provider when
/// the collection is created (refused without its credentials there); milvus-backup turns the
/// check off while it creates collections with functions and restores the backup's value after
/// (`collDDLTask.properties` / `restoreFuncRuntimeCheck`, core/restore/coll_ddl_task.go).
fn with_func_check_off(
    mut props: Vec<KeyValuePair>,
    schema: &crate::format::CollectionSchema,
    target: &Features,
) -> (Vec<KeyValuePair>, Option<String>) {
    if schema.functions.is_empty() || !target.func_runtime_check {
        return (props, None);
    }
    let original = schema
        .properties
        .iter()
        .chain(props.iter())
        .find(|kv| kv.key == FUNC_CHECK_PROPERTY)
        .map(|kv| kv.value.clone())
        .unwrap_or_else(|| "false".into());
    props.retain(|kv| kv.key != FUNC_CHECK_PROPERTY);
    props.push(KeyValuePair {
        key: FUNC_CHECK_PROPERTY.into(),
        value: "true".into(),
    });
    (props, Some(original))
}

/// The planned imports (by [`import_key`]) that landed in a collection, with their rows.
type Landed = BTreeMap<String, i64>;

/// Names a planned import in the job's record: its stage, partition and segments.
fn import_key(imp: &PlannedImport) -> String {
    format!(
        "{}/{}/{:?}",
        stage_name(imp.plan.stage),
        imp.plan.partition,
        imp.plan.segments
    )
}

/// Which imports the interrupted job sent into `left` (collection `id`) landed (all of their
/// tasks completed), once all of them have ended. `None` when that cannot be told, and the
/// collection has to be filled again from nothing: a logical restore (rows inserted in batches),
/// an import task of the collection the job did not record (it died between sending it and
/// recording it), or an import whose tasks ended some completed and some failed.
async fn landed_imports(
    milvus: &MilvusClient,
    planned: &PlannedCollection,
    left: &CreatedCollection,
    id: i64,
    logical: bool,
) -> Result<Option<Landed>> {
    if logical {
        return Ok(None);
    }
    // (a Milvus that cannot list them: filled again from nothing)
    let Ok(known) = milvus.import_tasks_of(&planned.db, &planned.name, id).await else {
        return Ok(None);
    };
    let recorded = left.tasks();
    if known.iter().any(|t| !recorded.contains(t)) {
        return Ok(None);
    }
    let mut landed = Landed::new();
    for sent in &left.sent {
        let (mut completed, mut rows) = (0, 0i64);
        for task in &sent.tasks {
            let st = milvus.import_state(*task).await?;
            if st.state == ImportState::Completed {
                completed += 1;
                rows += st.rows;
            }
        }
        match completed {
            0 => {}
            n if n == sent.tasks.len() => {
                if landed.insert(sent.key.clone(), rows).is_some() {
                    // the same segments landed twice: only a fresh start is sure to be right
                    return Ok(None);
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(Some(landed))
}

/// Fills on the collection `id` an interrupted job created and did not finish: the imports that
/// landed are kept and only the others are sent, with the fields and partitions it lacks.
async fn continue_filling(
    run: &Run<'_>,
    planned: &PlannedCollection,
    imports: &[PlannedImport],
    mut entry: CreatedCollection,
    id: i64,
    landed: Landed,
) -> Result<(RestoredCollection, i64)> {
    let (db, name) = (planned.db.as_str(), planned.name.as_str());
    let target = planned.target();
    run.progress.step(format!(
        "continuing {target}: the interrupted job created it; {} of its {} imports landed and are kept",
        landed.len(),
        imports.len()
    ));
    let now = run.milvus.describe_collection(db, name).await?;
    if now.collection_id != id {
        return Err(Error::NotResumable {
            job: run.req.resume.clone().unwrap_or_default(),
            reason: format!(
                "{target} is another collection than the one the job created; it was left untouched"
            ),
        });
    }
    let fields: Vec<String> = now
        .schema
        .map(|s| s.fields.into_iter().map(|f| f.name).collect())
        .unwrap_or_default();
    entry.state = CreatedState::Filling;
    // only the imports that landed stay on record: the others ended failed and are sent again
    entry.sent.retain(|s| landed.contains_key(&s.key));
    fill_created(run, planned, imports, entry, id, &fields, Some(&landed)).await
}

/// Fills the collection `id` this restore (or the one it resumes) created, recorded as `entry`:
/// the added fields it lacks (`fields` are those it has), partitions, data, checks, aliases.
/// Records it complete, or drops it (by its id) when a step fails.
async fn fill_created(
    run: &Run<'_>,
    planned: &PlannedCollection,
    imports: &[PlannedImport],
    mut entry: CreatedCollection,
    id: i64,
    fields: &[String],
    landed: Option<&Landed>,
) -> Result<(RestoredCollection, i64)> {
    let Run {
        milvus, progress, ..
    } = *run;
    let (coll, db, name) = (&planned.backup, planned.db.as_str(), planned.name.as_str());
    let schema = coll.schema.as_ref().expect("checked by restore_one");
    progress.update_restore_ledger(|l| l.set(entry.clone()));
    let result = async {
        // fields added after creation get their ids the way they got them first (the import
        // plan refused them for a Milvus without AddCollectionField)
        for f in added_fields(schema)
            .into_iter()
            .filter(|f| !fields.contains(&f.name))
        {
            progress.step(format!("adding field {} to {}", f.name, entry.target));
            milvus
                .add_collection_field(db, name, &field_to_proto(f))
                .await?;
        }
        let mut restored = fill(run, planned, imports, landed).await?;
        // the function check was off while the collection was created: back as it was
        let (_, check) = with_func_check_off(Vec::new(), schema, milvus.features());
        if let Some(value) = check {
            let kv = KeyValuePair {
                key: FUNC_CHECK_PROPERTY.into(),
                value,
            };
            milvus
                .alter_collection_properties(db, name, kv_to(&[kv]))
                .await?;
        }
        let aliases = union(&coll.aliases, &entry.aliases);
        restored.aliases = recreate_aliases(milvus, db, name, &aliases, progress).await;
        Ok(restored)
    }
    .await;
    match &result {
        Ok(r) => {
            entry.sent.clear();
            entry.state = CreatedState::Complete;
            entry.rows = r.imported_rows;
            entry.aliases = r.aliases.clone();
            progress.update_restore_ledger(|l| l.set(entry));
        }
        Err(_) => drop_if_created(milvus, db, name, id, progress).await,
    }
    result.map(|r| (r, id))
}

/// Refuses a target name that is an alias of a collection: creating a collection under it
/// would take the alias' traffic (Milvus 2.3 allows that), dropping it would drop the collection
/// behind it. Neither is something the user asked for.
async fn refuse_alias_target(milvus: &MilvusClient, db: &str, name: &str) -> Result<()> {
    match milvus.alias_of(db, name).await? {
        Some(collection) => Err(Error::TargetIsAlias {
            target: format!("{db}.{name}"),
            collection: format!("{db}.{collection}"),
        }),
        None => Ok(()),
    }
}

/// Before `db.name` is dropped to be replaced: removes the collection's aliases (Milvus 2.4+
/// refuses to drop an aliased collection), returning them to be put on the replacement.
async fn release_aliases_of_existing(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    progress: &Progress,
) -> Result<Vec<String>> {
    let existing = milvus.describe_collection(db, name).await?;
    for alias in &existing.aliases {
        progress.step(format!(
            "moving alias {alias} off {db}.{name} (it goes to the restored collection)"
        ));
        milvus.drop_alias(db, alias).await?;
    }
    Ok(existing.aliases)
}

/// `a` then whatever of `b` is not in `a`.
fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    out.extend(b.iter().filter(|x| !a.contains(x)).cloned());
    out
}

/// Gives the restored `db.name` the aliases it had; an alias another collection holds now is left
/// where it is (CreateAlias never moves one). Returns the aliases created.
async fn recreate_aliases(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    aliases: &[String],
    progress: &Progress,
) -> Vec<String> {
    let mut created = Vec::new();
    for alias in aliases {
        match milvus.create_alias(db, name, alias).await {
            Ok(()) => {
                progress.log(format!("{db}.{name}: alias {alias} recreated"));
                created.push(alias.clone());
            }
            Err(e) => progress.log(format!(
                "{db}.{name}: alias {alias} not recreated, left as it is in Milvus: {e}"
            )),
        }
    }
    created
}

/// Drops `db.name` after a failed restore, but only while it is still the collection this
/// restore created (`created_id`).
async fn drop_if_created(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    created_id: i64,
    progress: &Progress,
) {
    let target = format!("{db}.{name}");
    match milvus.describe_collection(db, name).await {
        Ok(now) if now.collection_id == created_id => {
            progress.log(format!(
                "dropping {target}: it was created by this restore and is incomplete"
            ));
            match milvus.drop_collection(db, name).await {
                Ok(()) => progress.update_restore_ledger(|l| l.forget(&target)),
                Err(e) => progress.log(format!("could not drop {target}: {e}")),
            }
        }
        Ok(now) => progress.log(format!(
            "{target} is no longer the collection this restore created (id {created_id}, now {}): left as it is",
            now.collection_id
        )),
        Err(Error::CollectionNotFound(_)) => progress.update_restore_ledger(|l| l.forget(&target)),
        Err(e) => progress.log(format!(
            "could not check {target} before dropping it, so it is left as it is: {e}"
        )),
    }
}

/// Fills a created collection: partitions, field-id check, data (imports or inserts), row
/// check, indexes, load.
async fn fill(
    run: &Run<'_>,
    planned: &PlannedCollection,
    imports: &[PlannedImport],
    landed: Option<&Landed>,
) -> Result<RestoredCollection> {
    let Run {
        svc,
        milvus,
        req,
        staging,
        logical,
        progress,
    } = *run;
    let (coll, db, name) = (&planned.backup, planned.db.as_str(), planned.name.as_str());
    let target = format!("{db}.{name}");
    let schema = coll.schema.as_ref().expect("checked by restore_one");
    if !schema.fields.iter().any(|f| f.is_partition_key) {
        create_partitions(milvus, db, name, coll, landed.is_some()).await?;
    }
    let created = milvus.describe_collection(db, name).await?;
    let mismatches = created
        .schema
        .as_ref()
        .map(|s| field_id_mismatches(schema, s))
        .unwrap_or_default();
    // Insert names fields; only Import reads folders by field id
    if !mismatches.is_empty() && !logical {
        return Err(Error::VerificationFailed {
            collection: target,
            detail: format!("Milvus gave the new collection other field ids than the backup has ({}); binlogs cannot be imported", mismatches.join(", ")),
        });
    }
    let has_rows = staging.is_some() || (logical && !req.meta_only);
    let imported = if logical && !req.meta_only {
        crate::engine::logical::restore::insert_rows(
            svc, milvus, &req.name, coll, db, name, progress,
        )
        .await?
    } else if let Some(staging) = staging {
        import_binlogs(run, staging, planned, imports, landed).await?
    } else {
        0
    };
    let mut result = RestoredCollection {
        source: coll.qualified_name(),
        target: target.clone(),
        segments: coll.all_segments().count(),
        imported_rows: imported,
        expected_rows: coll.live_rows,
        stored_rows: 0,
        counted_rows: None,
        loaded: false,
        check: String::new(),
        aliases: Vec::new(),
    };
    if has_rows {
        verify_rows(milvus, db, name, coll, &mut result).await?;
    } else {
        result.check = "metadata only: no rows to check".into();
    }
    progress.check_cancelled()?;
    let wait = svc.config().tuning.wait_timeout;
    if req.restore_index {
        build_indexes(milvus, db, name, coll, wait, progress).await?;
    }
    let has_index = req.restore_index && !coll.index_infos.is_empty();
    if req.load && !has_index {
        let why = if coll.index_infos.is_empty() {
            "the backup has no index for it"
        } else {
            "--restore_index was not given"
        };
        progress.log(format!(
            "{target}: not loaded: Milvus loads only indexed collections and {why}"
        ));
        result.check.push_str(&format!("; not loaded ({why})"));
    } else if req.load {
        progress.check_cancelled()?;
        progress.step(format!("loading {target}"));
        load_and_wait(milvus, db, name, wait).await?;
        result.loaded = true;
        if has_rows {
            let counted = milvus.count_rows(db, name).await?;
            result.counted_rows = Some(counted);
            let want = coll.live_rows.unwrap_or(imported);
            if counted != want {
                return Err(Error::VerificationFailed {
                    collection: target,
                    detail: format!("count(*) after loading is {counted}, expected {want}"),
                });
            }
            result
                .check
                .push_str(&format!("; count(*) after load = {counted}"));
        }
    }
    progress.log(format!("{target}: restored, {}", result.check));
    Ok(result)
}

/// Creates the backup's partitions in the new collection (`filled_on`: a collection an
/// interrupted restore created, which has some already).
async fn create_partitions(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    coll: &CollectionBackupInfo,
    filled_on: bool,
) -> Result<()> {
    let existing: Vec<String> = if filled_on {
        milvus
            .partitions(db, name)
            .await?
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    } else {
        Vec::new()
    };
    for p in &coll.partition_backups {
        let new = p.partition_name != "_default"
            && !p.partition_name.is_empty()
            && !existing.contains(&p.partition_name);
        if new {
            milvus.create_partition(db, name, &p.partition_name).await?;
        }
    }
    Ok(())
}

/// Imports a collection's binlogs, stage by stage; imports an interrupted job sent that landed
/// count as done. Returns the rows Milvus reported.
async fn import_binlogs(
    run: &Run<'_>,
    staging: &Staging,
    planned: &PlannedCollection,
    imports: &[PlannedImport],
    landed: Option<&Landed>,
) -> Result<i64> {
    let progress = run.progress;
    let coll = &planned.backup;
    let sizes: HashMap<i64, i64> = coll
        .all_segments()
        .map(|s| (s.segment_id, s.size))
        .collect();
    let segments_bytes = |imp: &PlannedImport| -> u64 {
        let bytes: i64 = imp.plan.segments.iter().filter_map(|s| sizes.get(s)).sum();
        bytes.max(0) as u64
    };
    // empty segments get no request; they are done
    let sent: usize = imports.iter().map(|i| i.plan.segments.len()).sum();
    progress.add_segments(coll.all_segments().count().saturating_sub(sent) as u64);
    let mut imported = 0i64;
    let mut to_send = Vec::with_capacity(imports.len());
    for imp in imports {
        match landed.and_then(|l| l.get(&import_key(imp))) {
            Some(rows) => {
                imported += rows;
                progress.add_bytes(segments_bytes(imp));
                progress.add_segments(imp.plan.segments.len() as u64);
            }
            None => to_send.push(imp.clone()),
        }
    }
    // Stage by stage: L0 deletes must land after the rows they delete.
    for stage in [Stage::Data, Stage::PartitionL0, Stage::CollectionL0] {
        let batch: Vec<PlannedImport> = to_send
            .iter()
            .filter(|i| i.plan.stage == stage)
            .cloned()
            .collect();
        if !batch.is_empty() {
            imported += import_stage(run, staging, planned, batch, &segments_bytes).await?;
            progress.check_cancelled()?;
        }
    }
    Ok(imported)
}

/// Sends one stage's imports, `import_concurrency` at a time. After one import fails no new one
/// starts, but those already sent to Milvus are waited for: dropping the collection under a
/// running import leaves Milvus' DataNode retrying ("channel not found") and refusing every
/// other import for minutes.
async fn import_stage(
    run: &Run<'_>,
    staging: &Staging,
    planned: &PlannedCollection,
    batch: Vec<PlannedImport>,
    segments_bytes: &(dyn Fn(&PlannedImport) -> u64 + Sync),
) -> Result<i64> {
    let Run {
        svc,
        milvus,
        progress,
        ..
    } = *run;
    let (db, name) = (planned.db.as_str(), planned.name.as_str());
    let target = &format!("{db}.{name}");
    let wait = svc.config().tuning.wait_timeout;
    progress.step(format!(
        "importing {} into {target}: {} requests",
        stage_name(batch[0].plan.stage),
        batch.len()
    ));
    let failed = &std::sync::atomic::AtomicBool::new(false);
    let results: Vec<Result<i64>> = futures::stream::iter(batch)
        .map(|imp| async move {
            // nothing new starts after a failure or a cancel; imports sent are waited for
            if failed.load(std::sync::atomic::Ordering::SeqCst) {
                return Ok(0);
            }
            if progress.is_cancelled() {
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
                return Err(Error::Cancelled);
            }
            let one = async {
                let folders: Vec<String> = imp.plan.files.iter().flatten().cloned().collect();
                staging.stage(svc, &folders, progress).await?;
                let n = run_import(milvus, db, name, &imp, target, wait, progress).await?;
                if staging.direct {
                    progress.add_bytes(segments_bytes(&imp));
                }
                progress.add_segments(imp.plan.segments.len() as u64);
                progress.log(format!(
                    "{target}: {} {:?} imported, {n} rows",
                    stage_name(imp.plan.stage),
                    imp.plan.segments
                ));
                Ok::<_, Error>(n)
            }
            .await;
            if one.is_err() {
                failed.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            one
        })
        .buffer_unordered(svc.config().tuning.import_concurrency)
        .collect()
        .await;
    results.into_iter().sum()
}

/// Creates the backup's indexes on a restored collection and waits until they are built.
async fn build_indexes(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    coll: &CollectionBackupInfo,
    wait: std::time::Duration,
    progress: &Progress,
) -> Result<()> {
    for idx in &coll.index_infos {
        progress.step(format!(
            "building index {} on {db}.{name}.{}",
            idx.index_name, idx.field_name
        ));
        let (index_name, params) = index_to_create(idx);
        let params = params
            .into_iter()
            .map(|(key, value)| milvus::proto::common::KeyValuePair { key, value })
            .collect();
        milvus
            .create_index(db, name, &idx.field_name, &index_name, params)
            .await?;
    }
    wait_for_indexes(milvus, db, name, wait).await
}

/// What a stage imports, for messages.
fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Data => "segments",
        Stage::PartitionL0 => "L0 segments (deletes) of partitions",
        Stage::CollectionL0 => "L0 segments (deletes) of the whole collection",
    }
}

/// Sends one planned Import and waits for its tasks; returns the rows they reported.
async fn run_import(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    imp: &PlannedImport,
    target: &str,
    wait: Duration,
    progress: &Progress,
) -> Result<i64> {
    let segment = imp.plan.segments.first().copied().unwrap_or_default();
    if imp.plan.api == Api::ImportJob {
        let job = crate::engine::import_job::Job {
            db,
            collection: name,
            partition: &imp.plan.partition,
            files: &imp.files,
            options: &imp.plan.options,
            target,
            segment,
        };
        let record = |id: &str| {
            match id.parse::<i64>() {
            // the job id is what GetImportState and ListImportTasks know it by (2.4+)
            Ok(id) => progress.update_restore_ledger(|l| l.add_imports(target, &import_key(imp), &[id])),
            Err(_) => progress.log(format!("{target}: import job id {id} is not a number: a resume cannot tell whether it landed")),
        }
        };
        let rows =
            crate::engine::import_job::run(milvus.import_jobs(), job, wait, JOB_POLL, record)
                .await?;
        return check_imported_rows(imp, rows, target);
    }
    let files = imp.files.first().cloned().unwrap_or_default();
    let tasks = milvus
        .import(db, name, &imp.plan.partition, files, imp.options.clone())
        .await?;
    progress.update_restore_ledger(|l| l.add_imports(target, &import_key(imp), &tasks));
    let mut rows = 0;
    for task in tasks {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let st = milvus.import_state(task).await?;
            match st.state {
                ImportState::Completed => {
                    rows += st.rows;
                    break;
                }
                ImportState::Failed => {
                    return Err(Error::ImportFailed {
                        collection: target.into(),
                        segment,
                        reason: st.reason,
                    });
                }
                _ if tokio::time::Instant::now() > deadline => {
                    return Err(Error::MilvusTimeout {
                        call: "GetImportState",
                        timeout: wait,
                    });
                }
                _ => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
    }
    check_imported_rows(imp, rows, target)
}

/// How often a merged import job's state is asked (milvus-backup: every 3 s).
const JOB_POLL: Duration = Duration::from_secs(1);

/// Refuses a data import that reported more rows than its segments hold.
fn check_imported_rows(imp: &PlannedImport, rows: i64, target: &str) -> Result<i64> {
    if imp.plan.stage == Stage::Data && rows > imp.plan.rows {
        return Err(Error::VerificationFailed {
            collection: target.into(),
            detail: format!(
                "segments {:?} imported {rows} rows but hold only {}",
                imp.plan.segments, imp.plan.rows
            ),
        });
    }
    Ok(rows)
}

/// Waits until the import tasks an interrupted job sent for `target` have ended (completed or
/// failed), so that its collection can be dropped safely.
async fn wait_for_sent_imports(
    milvus: &MilvusClient,
    target: &str,
    tasks: &[i64],
    wait: Duration,
    progress: &Progress,
) -> Result<()> {
    if tasks.is_empty() {
        return Ok(());
    }
    progress.step(format!(
        "waiting for the {} imports the interrupted job sent into {target} to end",
        tasks.len()
    ));
    let deadline = tokio::time::Instant::now() + wait;
    for task in tasks {
        loop {
            let st = milvus.import_state(*task).await?;
            if matches!(st.state, ImportState::Completed | ImportState::Failed) {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(Error::MilvusTimeout {
                    call: "GetImportState",
                    timeout: wait,
                });
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(())
}

/// Compares the rows Milvus holds with the backup: never trust an import's "Completed" alone.
async fn verify_rows(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    coll: &CollectionBackupInfo,
    r: &mut RestoredCollection,
) -> Result<()> {
    let total = coll.total_rows();
    // statistics can lag the import's end by a moment
    let mut stored = milvus.stored_rows(db, name).await?;
    for _ in 0..20 {
        if stored == r.imported_rows {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stored = milvus.stored_rows(db, name).await?;
    }
    r.stored_rows = stored;
    let fail = |detail: String| {
        Err(Error::VerificationFailed {
            collection: r.target.clone(),
            detail,
        })
    };
    if stored != r.imported_rows {
        return fail(format!(
            "import tasks reported {} rows but Milvus holds {stored}",
            r.imported_rows
        ));
    }
    match coll.live_rows {
        Some(expected) if expected != r.imported_rows => {
            return fail(format!("the backup holds {expected} live rows but {} came back", r.imported_rows));
        }
        Some(expected) => r.check = format!("{expected} rows, as the backup recorded"),
        None if total > 0 && r.imported_rows == 0 => {
            return fail(format!(
                "0 rows came back from {total} stored rows; Milvus reported the imports as completed but read nothing (wrong storage paths?)"
            ));
        }
        None => {
            r.check = format!(
                "{} rows imported and stored ({total} rows in the backup's segments, deleted ones included; the backup has no live row count)",
                r.imported_rows
            )
        }
    }
    Ok(())
}

/// Loads a collection and waits until all of it is loaded, at most `wait`.
pub(crate) async fn load_and_wait(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    wait: Duration,
) -> Result<()> {
    milvus.load_collection(db, name).await?;
    let deadline = tokio::time::Instant::now() + wait;
    while milvus.loading_progress(db, name).await? < 100 {
        if tokio::time::Instant::now() > deadline {
            return Err(Error::MilvusTimeout {
                call: "LoadCollection",
                timeout: wait,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// Waits until every index of a collection is built, at most `wait`.
pub(crate) async fn wait_for_indexes(
    milvus: &MilvusClient,
    db: &str,
    name: &str,
    wait: Duration,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let idx = milvus.indexes(db, name).await?;
        if let Some(failed) = idx.iter().find(|i| !i.index_state_fail_reason.is_empty()) {
            return Err(Error::Milvus {
                call: "CreateIndex",
                reason: failed.index_state_fail_reason.clone(),
                source: None,
            });
        }
        if idx
            .iter()
            .all(|i| i.indexed_rows >= i.total_rows && i.pending_index_rows == 0)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::MilvusTimeout {
                call: "DescribeIndex",
                timeout: wait,
            });
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `restore` as a method of the service.
impl Milvault {
    /// Restores from a backup (into the Milvus `req.milvus` names) and waits for it.
    pub async fn restore(&self, req: RestoreRequest, progress: &Progress) -> Result<RestoreReport> {
        let r = match self.job_slot(progress).await {
            Ok(_slot) => match self.on_milvus(&req.milvus) {
                Ok(other) => restore(other.as_ref().unwrap_or(self), req, progress).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        progress.finish(&r);
        r
    }

    /// Starts a restore in the background.
    pub fn spawn_restore(
        self: &std::sync::Arc<Self>,
        req: RestoreRequest,
    ) -> (
        crate::progress::JobHandle,
        tokio::task::JoinHandle<Result<RestoreReport>>,
    ) {
        let (progress, handle) = Progress::new(crate::progress::JobKind::Restore, &req.name);
        let svc = self.clone();
        (
            handle,
            tokio::spawn(async move { svc.restore(req, &progress).await }),
        )
    }

    /// Where a restore would put each collection, and which targets exist already.
    pub async fn restore_preview(&self, req: &RestoreRequest) -> Result<Vec<RestoreTarget>> {
        let other = self.on_milvus(&req.milvus)?;
        preview(other.as_ref().unwrap_or(self), req).await
    }

    /// The plan of a restore (selection, targets, which exist), changing nothing.
    pub async fn restore_plan(&self, req: &RestoreRequest) -> Result<RestorePlan> {
        let other = self.on_milvus(&req.milvus)?;
        RestorePlan::make(other.as_ref().unwrap_or(self), req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(db: &str, name: &str) -> CollectionBackupInfo {
        CollectionBackupInfo {
            db_name: db.into(),
            collection_name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn targets_follow_renames_then_database_maps_then_suffix() {
        let rules = parse_renames(&["a:b,db1.c:db2.d".into(), "db3.*:db4.*".into()]).unwrap();
        assert_eq!(
            target_of(&coll("", "a"), &rules, "_r"),
            ("default".into(), "b".into())
        );
        assert_eq!(
            target_of(&coll("db1", "c"), &rules, "_r"),
            ("db2".into(), "d".into())
        );
        assert_eq!(
            target_of(&coll("db3", "x"), &rules, "_r"),
            ("db4".into(), "x_r".into())
        );
        assert_eq!(
            target_of(&coll("default", "z"), &rules, ""),
            ("default".into(), "z".into())
        );
    }

    #[test]
    fn merging_is_asked_for_and_the_job_size_is_kept_in_the_request() {
        let mut req = RestoreRequest::default();
        assert_eq!(merge_of(&mut req, 256).unwrap(), Merge::Off);
        // written into the request (and so into the job's record, which a resume reads)
        assert_eq!(req.max_segments_per_import_job, Some(256));
        let mut req = RestoreRequest {
            use_v2_restore: true,
            ..Default::default()
        };
        assert_eq!(merge_of(&mut req, 100).unwrap(), Merge::UpTo(100));
        let mut req = RestoreRequest {
            use_v2_restore: true,
            max_segments_per_import_job: Some(8),
            ..Default::default()
        };
        assert_eq!(merge_of(&mut req, 100).unwrap(), Merge::UpTo(8));
        let stored = serde_json::to_value(&req).unwrap();
        let resumed: RestoreRequest = serde_json::from_value(stored).unwrap();
        assert_eq!(merge_of(&mut resumed.clone(), 100).unwrap(), Merge::UpTo(8));
        req.max_segments_per_import_job = Some(0);
        assert!(merge_of(&mut req, 100).is_err());
    }

    #[test]
    fn bad_rename_rules_are_rejected() {
        for bad in ["a", ":b", "a:", "db.*:b"] {
            assert!(parse_renames(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn plan_selects_and_refuses_clashes_and_unknowns() {
        let all = vec![coll("default", "a"), coll("shop", "a"), coll("shop", "b")];
        let req = |colls: &[&str], dbs: &[&str], renames: &[&str]| RestoreRequest {
            name: "b1".into(),
            collections: colls.iter().map(|s| s.to_string()).collect(),
            databases: dbs.iter().map(|s| s.to_string()).collect(),
            renames: renames.iter().map(|s| s.to_string()).collect(),
            suffix: "_r".into(),
            ..Default::default()
        };
        assert_eq!(plan(&req(&[], &[], &[]), &all).unwrap().len(), 3);
        assert_eq!(plan(&req(&[], &["shop"], &[]), &all).unwrap().len(), 2);
        let one = plan(&req(&["shop.b"], &[], &[]), &all).unwrap();
        assert_eq!(one[0].1, ("shop".into(), "b_r".into()));
        let err = plan(&req(&["nope"], &[], &[]), &all)
            .unwrap_err()
            .to_string();
        assert!(err.contains("default.nope") && err.contains("b1"), "{err}");
        let err = plan(&req(&[], &[], &["shop.*:default.*"]), &all)
            .unwrap_err()
            .to_string();
        assert!(err.contains("default.a_r"), "{err}");
    }

    #[test]
    fn a_filter_keeps_the_collections_whose_new_names_it_matches() {
        let all = vec![coll("default", "a"), coll("shop", "a"), coll("shop", "b")];
        let req = |filter: &str, renames: &[&str]| RestoreRequest {
            name: "b1".into(),
            suffix: "_r".into(),
            renames: renames.iter().map(|s| s.to_string()).collect(),
            filter: filter.into(),
            ..Default::default()
        };
        let targets = |r: &RestoreRequest| -> Vec<String> {
            plan(r, &all)
                .unwrap()
                .into_iter()
                .map(|(_, (d, n))| format!("{d}.{n}"))
                .collect()
        };
        // after the suffix: the new names are matched, not the backup's
        assert_eq!(targets(&req("shop.b_r", &[])), vec!["shop.b_r"]);
        assert_eq!(targets(&req("shop.*", &[])), vec!["shop.a_r", "shop.b_r"]);
        assert_eq!(targets(&req("a_r", &[])), vec!["default.a_r"]);
        // after a rename into another database (the suffix still applies to its names)
        assert_eq!(
            targets(&req("archive.*", &["shop.*:archive.*"])),
            vec!["archive.a_r", "archive.b_r"]
        );
        assert_eq!(targets(&req("c", &["shop.b:c"])), vec!["default.c"]);
        let err = plan(&req("shop.b", &[]), &all).unwrap_err().to_string();
        assert!(
            err.contains("shop.b_r") && err.contains("after renames"),
            "{err}"
        );
        assert!(plan(&req("shop.b-r", &[]), &all).is_err(), "not a rule");
    }
}

/// The Import requests the restore sends for every fixture of `tests/fixtures/milvus-backup`
/// on Milvus 2.3, 2.4, 2.5 and 2.6, through [`import_requests`] (the code `restore` sends from).
#[cfg(test)]
mod ttl_tests {
    use super::*;

    #[test]
    fn restoring_a_milvus_backup_backup_of_2_4_plus_warns_about_clustering_keys() {
        let mut info = BackupInfo {
            milvus_version: "v2.5.14".into(),
            ..Default::default()
        };
        assert!(clustering_key_note(&info)
            .unwrap()
            .contains("clustering keys"));
        info.milvus_version = "v2.3.5".into();
        assert_eq!(
            clustering_key_note(&info),
            None,
            "2.3 has no clustering keys"
        );
        info.milvus_version = "v2.5.14".into();
        info.milvault = Some(Default::default());
        assert_eq!(clustering_key_note(&info), None, "milvault records them");
    }

    #[test]
    fn indexes_are_rebuilt_with_names_and_types_milvus_takes() {
        let idx = |name: &str, kind: &str| crate::format::IndexInfo {
            index_name: name.into(),
            field_name: "f".into(),
            params: [("index_type".to_string(), kind.to_string())].into(),
            ..Default::default()
        };
        let (name, params) = index_to_create(&idx("vec_idx", "HNSW"));
        assert_eq!(name, "vec_idx");
        assert_eq!(params, vec![("index_type".to_string(), "HNSW".to_string())]);
        // a JSON-path index is named after its path: Milvus names it anew
        assert_eq!(index_to_create(&idx("/meta/a/b", "INVERTED")).0, "");
        assert_eq!(index_to_create(&idx("9lives", "INVERTED")).0, "");
        assert_eq!(index_to_create(&idx("_ok_1", "INVERTED")).0, "_ok_1");
        assert_eq!(index_to_create(&idx("", "INVERTED")).0, "");
        // what Milvus reports for a Trie index is not a type CreateIndex takes
        let (_, params) = index_to_create(&idx("t", "marisa-trie"));
        assert_eq!(params, vec![("index_type".to_string(), "Trie".to_string())]);
    }

    #[test]
    fn functions_are_created_with_the_runtime_check_off_on_2_6_8_and_it_is_put_back() {
        let mut schema = crate::format::CollectionSchema::default();
        let props = vec![kv("mmap.enabled", "true")];
        let at = |v: &str| Features::from_version(v).unwrap();
        // no functions: untouched
        assert_eq!(
            with_func_check_off(props.clone(), &schema, &at("v2.6.8")),
            (props.clone(), None)
        );
        schema.functions.push(Default::default());
        // before 2.6.8 there is no such check
        assert_eq!(
            with_func_check_off(props.clone(), &schema, &at("v2.6.7")),
            (props.clone(), None)
        );
        let (sent, back) = with_func_check_off(props.clone(), &schema, &at("v2.6.8"));
        assert_eq!(
            sent,
            vec![
                kv("mmap.enabled", "true"),
                kv("disable_func_runtime_check", "true")
            ]
        );
        assert_eq!(back.as_deref(), Some("false"));
        // a backup whose schema had the check off keeps it off
        schema
            .properties
            .push(kv("disable_func_runtime_check", "true"));
        let (sent, back) = with_func_check_off(props, &schema, &at("v2.6.10"));
        assert_eq!(
            sent.iter()
                .filter(|p| p.key == "disable_func_runtime_check")
                .count(),
            1
        );
        assert_eq!(back.as_deref(), Some("true"));
    }

    fn kv(k: &str, v: &str) -> KeyValuePair {
        KeyValuePair {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn a_restored_collection_is_created_without_the_backups_ttl() {
        let props = [
            kv("collection.ttl.seconds", "3600"),
            kv("mmap.enabled", "true"),
        ];
        let (rest, ttl) = without_ttl(&props);
        assert_eq!(rest, vec![kv("mmap.enabled", "true")]);
        assert_eq!(ttl.as_deref(), Some("3600"));
        // no TTL, or TTL 0 (none): nothing to say
        assert_eq!(without_ttl(&[kv("collection.ttl.seconds", "0")]).1, None);
        assert_eq!(without_ttl(&props[1..]), (props[1..].to_vec(), None));
    }
}

#[cfg(test)]
mod import_request_tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/milvus-backup");

    fn fixture(generation: &str) -> BackupInfo {
        let root = std::path::Path::new(FIXTURES).join(generation);
        let name = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .find(|n| !n.starts_with('.'))
            .unwrap();
        let text =
            std::fs::read_to_string(root.join(name).join("meta").join("full_meta.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// One line per request: `stage | partition | files | options | segments | rows`, with
    /// the folders where a Milvus on bucket root `files` reads a staged copy.
    fn render(generation: &str, features: &Features, merge: Merge) -> String {
        let info = fixture(generation);
        let mut out = Vec::new();
        for c in &info.collection_backups {
            match import_requests(&info, c, features, merge, &|f| format!("files/stage/{f}")) {
                Err(e) => out.push(format!("refused: {e}")),
                Ok(reqs) => out.extend(reqs.iter().map(|r| {
                    // a gRPC Import's one file group as `a + b`; a job's groups as `[a + b] [c]`
                    let files: String = match r.plan.api {
                        Api::Import => r
                            .files
                            .iter()
                            .map(|g| g.join(" + "))
                            .collect::<Vec<_>>()
                            .join(" ; "),
                        Api::ImportJob => r
                            .files
                            .iter()
                            .map(|g| format!("[{}]", g.join(" + ")))
                            .collect::<Vec<_>>()
                            .join(" "),
                    };
                    let job = if r.plan.api == Api::ImportJob {
                        "job "
                    } else {
                        ""
                    };
                    let opts: Vec<String> = r
                        .options
                        .iter()
                        .map(|kv| format!("{}={}", kv.key, kv.value))
                        .collect();
                    format!(
                        "{job}{:?} | {} | {} | {} | {:?} | {}",
                        r.plan.stage,
                        r.plan.partition,
                        files,
                        opts.join(","),
                        r.plan.segments,
                        r.plan.rows
                    )
                })),
            }
        }
        out.join("\n")
    }

    fn all_versions(generation: &str) -> String {
        [
            Features::milvus_2_3(),
            Features::milvus_2_4(),
            Features::milvus_2_5(),
            Features::milvus_2_6(),
        ]
        .iter()
        .map(|f| format!("## {}\n{}", f.name(), render(generation, f, Merge::Off)))
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// The merged plans (`--use_v2_restore`) of a fixture with `n` file groups per job on 2.3
    /// (unchanged), 2.4, 2.5, 2.6.4 and 2.6.5 (several L0 segments per job).
    fn merged_versions(generation: &str, n: usize) -> String {
        [
            Features::milvus_2_3(),
            Features::milvus_2_4(),
            Features::milvus_2_5(),
            Features::milvus_2_6(),
            Features::from_version("v2.6.5").expect("a version"),
        ]
        .iter()
        .map(|f| {
            format!(
                "## {} merged, {n} per job\n{}",
                f.name(),
                render(generation, f, Merge::UpTo(n))
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
    }

    /// Every request of every fixture on every version, checked line by line against
    /// `restore_import_requests.txt` (reviewed by hand against milvus-backup's restore: group
    /// folders, `""` for a group without deletes, L0 last with `l0_import`, options in v0.5.8+'s
    /// order, refusals naming the version that takes the backup).
    #[test]
    fn requests_for_every_fixture_and_version() {
        let mut got: String = ["v0_4_15", "v0_5_8", "v0_5_13", "v0_5_16", "snapshot"]
            .iter()
            .map(|g| format!("# {g}\n{}\n", all_versions(g)))
            .collect();
        for g in ["v0_4_15", "v0_5_8", "v0_5_13", "v0_5_16"] {
            for n in [256, 1] {
                got.push_str(&format!("# {g}\n{}\n", merged_versions(g, n)));
            }
        }
        let want = include_str!("restore_import_requests.txt");
        for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            assert_eq!(g, w, "line {}", i + 1);
        }
        assert_eq!(got.lines().count(), want.lines().count());
    }

    /// milvault's own backups (no group folders) on 2.3: exactly what milvault always sent, one
    /// request per segment with both folders and `backup=true` only; an empty segment gets none.
    #[test]
    fn milvault_backups_on_2_3_are_sent_as_before() {
        use crate::format::{Binlog, FieldBinlog, PartitionBackupInfo};
        let seg = |id: i64, rows: i64| SegmentBackupInfo {
            segment_id: id,
            collection_id: 1,
            partition_id: 2,
            num_of_rows: rows,
            binlogs: if rows > 0 {
                vec![FieldBinlog {
                    field_id: 100,
                    binlogs: vec![Binlog::default()],
                }]
            } else {
                Vec::new()
            },
            ..Default::default()
        };
        let coll = CollectionBackupInfo {
            collection_id: 1,
            collection_name: "c".into(),
            partition_backups: vec![PartitionBackupInfo {
                partition_id: 2,
                partition_name: "_default".into(),
                segment_backups: vec![seg(7, 5), seg(8, 0)],
                ..Default::default()
            }],
            ..Default::default()
        };
        let info = BackupInfo {
            name: "b".into(),
            ..Default::default()
        };
        // merging asked for changes nothing on 2.3
        for merge in [Merge::Off, Merge::UpTo(256)] {
            let reqs = import_requests(&info, &coll, &Features::milvus_2_3(), merge, &|f| {
                format!("r/{f}")
            })
            .unwrap();
            assert_eq!(reqs.len(), 1);
            assert_eq!(reqs[0].plan.api, Api::Import);
        }
        let reqs = import_requests(&info, &coll, &Features::milvus_2_3(), Merge::Off, &|f| {
            format!("r/{f}")
        })
        .unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].plan.partition, "_default");
        assert_eq!(
            reqs[0].files,
            [[
                "r/b/binlogs/insert_log/1/2/7/",
                "r/b/binlogs/delta_log/1/2/7/"
            ]]
        );
        assert_eq!(
            reqs[0].options,
            [milvus::proto::common::KeyValuePair {
                key: "backup".into(),
                value: "true".into()
            }]
        );
    }
}
