//! `drill`: proves a backup restores. It restores the backup (or some of its collections) into a
//! scratch database of its own (`milvault_drill_<tag>`, created for it), with its indexes, loads
//! it, and checks it: row counts against the backup (the restore's own check), sampled primary
//! keys queried back by key, and sampled vectors searched back (each must find its own row in
//! the top k: the recall). Then it drops what it created, whatever happened, and reports how
//! long each phase took: the restore's time is the measured recovery time.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    engine::{commands::restore::RestoreRequest, service::Milvault},
    error::{Error, Result},
    format::db_or_default,
    milvus::MilvusClient,
    progress::Progress,
};

/// What to drill: one options type for the CLI (clap), REST and the engine (serde).
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DrillRequest {
    /// The backup's name (REST: from the path).
    #[arg(short = 'n', long)]
    pub name: String,
    /// Collections (`name` or `db.name`, comma separated); empty: all of the backup's.
    #[arg(long = "colls", value_delimiter = ',')]
    pub collections: Vec<String>,
    /// The Milvus to drill on: a name under `targets:` in the configuration (a DR or staging
    /// cluster); empty: the configured Milvus.
    #[arg(long, default_value = "")]
    pub milvus: String,
    /// Rows sampled per collection for the key and vector checks (default 100, at most 1000).
    #[arg(long, default_value_t = 100)]
    pub sample: usize,
    /// How deep each sampled vector's own row may be in its search (default 10).
    #[arg(long, default_value_t = 10)]
    pub top_k: usize,
    /// The share of sampled vectors that must find their own row for the drill to pass
    /// (default 0.95: approximate indexes such as HNSW may miss a few).
    #[arg(long)]
    pub min_recall: Option<f64>,
}

/// What a drill proved, with its evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DrillReport {
    pub backup: String,
    pub milvus_version: String,
    /// The Milvus it ran on: `address:port`, after the target's name when it was one of the
    /// configuration's `targets`.
    #[serde(default)]
    pub milvus: String,
    pub started_at: DateTime<Utc>,
    /// The scratch database it used (dropped at the end).
    pub database: String,
    /// Restore with indexes and loading: the recovery time.
    pub restore_ms: u64,
    /// Key and vector checks.
    pub check_ms: u64,
    /// Dropping what it created.
    pub cleanup_ms: u64,
    pub collections: Vec<DrillCollection>,
    /// The depth of the vector searches.
    pub top_k: usize,
    /// The recall each collection needed.
    #[serde(default)]
    pub min_recall: f64,
    /// Every check held.
    pub passed: bool,
    /// Why not, when it did not.
    pub failure: Option<String>,
}

/// One collection's evidence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DrillCollection {
    /// `db.name` in the backup.
    pub source: String,
    /// `db.name` it was restored as.
    pub target: String,
    /// The restore's row check, in words.
    pub rows: String,
    pub keys_sampled: usize,
    /// Sampled keys a query by key found again.
    pub keys_found: usize,
    /// The float vector field searched (none: the collection has none).
    pub vector_field: Option<String>,
    pub vectors_searched: usize,
    /// Searches whose top k held the vector's own row.
    pub vectors_found: usize,
    /// `vectors_found / vectors_searched`.
    pub recall: Option<f64>,
}

/// The schema's data type numbers used here (milvus.proto.schema.DataType).
const INT64: i32 = 5;
const VARCHAR: i32 = 21;
const BINARY_VECTOR: i32 = 100;
const FLOAT_VECTOR: i32 = 101;
const FLOAT16_VECTOR: i32 = 102;
const BFLOAT16_VECTOR: i32 = 103;
const SPARSE_FLOAT_VECTOR: i32 = 104;
const INT8_VECTOR: i32 = 105;

/// Runs a drill. A failed restore or check is a report that did not pass, saying what failed;
/// an error means the drill could not run (no such backup, Milvus unreachable, cancelled).
pub async fn drill(svc: &Milvault, req: &DrillRequest, progress: &Progress) -> Result<DrillReport> {
    let other = svc.on_milvus(&req.milvus)?;
    let svc = other.as_ref().unwrap_or(svc);
    let started_at = Utc::now();
    let info = svc.get_backup(&req.name).await?;
    let milvus = svc.milvus().await?;
    let tag: String = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let database = format!("milvault_drill_{tag}");
    let chosen = chosen_collections(&info, req)?;
    // each collection as <scratch db>.<db>__<name>: collections of two databases never meet
    let renames: Vec<String> = chosen
        .iter()
        .map(|c| {
            let db = db_or_default(&c.db_name);
            format!("{db}.{0}:{database}.{db}__{0}", c.collection_name)
        })
        .collect();
    progress.step(format!(
        "drill: restoring {} collections of '{}' into the scratch database {database}",
        chosen.len(),
        req.name
    ));
    let t = Instant::now();
    // the restore itself, not svc.restore: the drill's job ends after its checks
    let restored = crate::engine::commands::restore::restore(
        svc,
        RestoreRequest {
            name: req.name.clone(),
            collections: chosen.iter().map(|c| c.qualified_name()).collect(),
            renames,
            restore_index: true,
            load: true,
            ..Default::default()
        },
        progress,
    )
    .await;
    let restore_ms = t.elapsed().as_millis() as u64;
    let mut report = DrillReport {
        backup: req.name.clone(),
        milvus_version: milvus.version().await.unwrap_or_default(),
        milvus: {
            let m = &svc.config().milvus;
            match req.milvus.as_str() {
                "" => format!("{}:{}", m.address, m.port),
                target => format!("{target} ({}:{})", m.address, m.port),
            }
        },
        started_at,
        database: database.clone(),
        restore_ms,
        check_ms: 0,
        cleanup_ms: 0,
        collections: Vec::new(),
        top_k: req.top_k(),
        min_recall: req.min_recall(),
        passed: false,
        failure: None,
    };
    // a restore or check that fails is what a drill is for: it is reported (and recorded); only
    // what says nothing of the backup (Milvus gone, cancelled) is an error
    let mut failure = None;
    match restored {
        Err(e) => {
            let why = reportable(e);
            if why.is_err() {
                let _ = cleanup(milvus, &database, progress).await;
            }
            failure = Some(format!("the restore failed: {}", why?));
        }
        Ok(restored) => {
            let t = Instant::now();
            let wait = svc.config().tuning.wait_timeout;
            for r in &restored.collections {
                let checked = async {
                    let mut c = r.clone();
                    if !r.loaded {
                        let counted = make_searchable(milvus, r, wait, progress).await?;
                        c.check.push_str(&format!(
                            "; count(*) after load = {counted} (loaded by the drill)"
                        ));
                    }
                    check_collection(milvus, &c, req, progress).await
                };
                match checked.await {
                    Ok(c) => report.collections.push(c),
                    Err(e) => {
                        report.check_ms = t.elapsed().as_millis() as u64;
                        let why = reportable(e);
                        if why.is_err() {
                            let _ = cleanup(milvus, &database, progress).await;
                        }
                        failure = Some(format!("checking {} failed: {}", r.source, why?));
                        break;
                    }
                }
            }
            report.check_ms = t.elapsed().as_millis() as u64;
        }
    };
    let t = Instant::now();
    cleanup(milvus, &database, progress).await?;
    report.cleanup_ms = t.elapsed().as_millis() as u64;
    let failed: Vec<String> = failure
        .into_iter()
        .chain(report.collections.iter().filter_map(|c| {
            if c.keys_found < c.keys_sampled {
                Some(format!(
                    "{}: {} of {} sampled keys not found",
                    c.source,
                    c.keys_sampled - c.keys_found,
                    c.keys_sampled
                ))
            } else if c.recall.is_some_and(|r| r < req.min_recall()) {
                Some(format!(
                    "{}: {} of {} sampled vectors did not find their own row in the top {} \
                     (recall {:.3}, needed {})",
                    c.source,
                    c.vectors_searched - c.vectors_found,
                    c.vectors_searched,
                    req.top_k(),
                    c.recall.unwrap_or_default(),
                    req.min_recall()
                ))
            } else {
                None
            }
        }))
        .collect();
    report.passed = failed.is_empty();
    report.failure = (!failed.is_empty()).then(|| failed.join("; "));
    progress.log(format!(
        "drill of '{}': {} (restore {:.1} s, checks {:.1} s, clean-up {:.1} s)",
        req.name,
        if report.passed { "passed" } else { "FAILED" },
        report.restore_ms as f64 / 1000.0,
        report.check_ms as f64 / 1000.0,
        report.cleanup_ms as f64 / 1000.0
    ));
    Ok(report)
}

/// The backup's collections a drill restores: those `req` names (`name` in the default
/// database or `db.name`), all when it names none. A name the backup lacks is an error.
pub fn chosen_collections<'a>(
    info: &'a crate::format::BackupInfo,
    req: &DrillRequest,
) -> Result<Vec<&'a crate::format::CollectionBackupInfo>> {
    let named = |c: &crate::format::CollectionBackupInfo, w: &str| {
        w == c.qualified_name()
            || (db_or_default(&c.db_name) == "default" && w == c.collection_name)
    };
    if let Some(missing) = req
        .collections
        .iter()
        .find(|w| !info.collection_backups.iter().any(|c| named(c, w)))
    {
        return Err(Error::CollectionNotInBackup {
            backup: req.name.clone(),
            collection: missing.clone(),
        });
    }
    let chosen: Vec<_> = info
        .collection_backups
        .iter()
        .filter(|c| req.collections.is_empty() || req.collections.iter().any(|w| named(c, w)))
        .collect();
    if chosen.is_empty() {
        return Err(Error::InvalidRequest(format!(
            "backup '{}' holds no collection to drill",
            req.name
        )));
    }
    Ok(chosen)
}

/// What a failed restore or check says of the backup, for the report; an error that says
/// nothing of it (Milvus unreachable, cancelled) stays an error: the drill could not run.
fn reportable(e: Error) -> Result<String> {
    match e {
        Error::Cancelled
        | Error::MilvusUnreachable { .. }
        | Error::MilvusCredentials { .. }
        | Error::ClaimLost(_)
        | Error::BackupBusy { .. }
        | Error::Config(_)
        | Error::Database(_) => Err(e),
        e => Ok(e.to_string()),
    }
}

impl DrillRequest {
    fn sample(&self) -> usize {
        if self.sample == 0 {
            100
        } else {
            self.sample.min(1000)
        }
    }

    fn min_recall(&self) -> f64 {
        self.min_recall.unwrap_or(0.95).clamp(0.0, 1.0)
    }

    fn top_k(&self) -> usize {
        if self.top_k == 0 {
            10
        } else {
            self.top_k.min(100)
        }
    }
}

/// Samples rows of a restored collection, queries their keys back and searches their vectors.
async fn check_collection(
    milvus: &MilvusClient,
    r: &crate::engine::commands::restore::RestoredCollection,
    req: &DrillRequest,
    progress: &Progress,
) -> Result<DrillCollection> {
    let (db, name) = r.target.split_once('.').unwrap_or(("default", &r.target));
    let described = milvus.describe_collection(db, name).await?;
    let fields = described.schema.map(|s| s.fields).unwrap_or_default();
    let pk = fields
        .iter()
        .find(|f| f.is_primary_key)
        .ok_or_else(|| Error::InvalidRequest(format!("{}: no primary key", r.target)))?;
    let vector = fields.iter().find(|f| f.data_type == FLOAT_VECTOR);
    let mut out = DrillCollection {
        source: r.source.clone(),
        target: r.target.clone(),
        rows: r.check.clone(),
        keys_sampled: 0,
        keys_found: 0,
        vector_field: vector.map(|v| v.name.clone()),
        vectors_searched: 0,
        vectors_found: 0,
        recall: None,
    };
    let every = match pk.data_type {
        INT64 => format!("{0} < 0 or {0} >= 0", pk.name),
        VARCHAR => format!("{} >= \"\"", pk.name),
        _ => return Ok(out),
    };
    let mut output = vec![pk.name.clone()];
    output.extend(vector.map(|v| v.name.clone()));
    let page = milvus
        .query_page(db, name, &[], &every, &output, req.sample(), true)
        .await?;
    let keys = key_column(&page, &pk.name);
    let vectors = vector
        .map(|v| float_vectors(&page, &v.name))
        .unwrap_or_default();
    out.keys_sampled = keys.len();
    if !keys.is_empty() {
        let list = keys
            .iter()
            .map(|k| {
                if pk.data_type == INT64 {
                    k.clone()
                } else {
                    serde_json::to_string(k).unwrap_or_default()
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let again = milvus
            .query_page(
                db,
                name,
                &[],
                &format!("{} in [{list}]", pk.name),
                std::slice::from_ref(&pk.name),
                keys.len(),
                true,
            )
            .await?;
        let found = key_column(&again, &pk.name);
        out.keys_found = keys.iter().filter(|k| found.contains(k)).count();
    }
    if let (Some(v), false) = (vector, vectors.is_empty()) {
        let metric = metric_of(milvus, db, name, &v.name).await;
        let hits = milvus
            .search_float(db, name, &v.name, &metric, &vectors, req.top_k())
            .await?;
        out.vectors_searched = vectors.len().min(keys.len());
        out.vectors_found = keys
            .iter()
            .zip(&hits)
            .filter(|(k, h)| h.contains(k))
            .count();
        out.recall = Some(out.vectors_found as f64 / out.vectors_searched.max(1) as f64);
    }
    progress.log(format!(
        "{}: {}; {} of {} sampled keys found; {}",
        r.source,
        r.check,
        out.keys_found,
        out.keys_sampled,
        match out.recall {
            Some(recall) => format!(
                "{} of {} sampled vectors found their own row in the top {} (recall {recall:.3})",
                out.vectors_found,
                out.vectors_searched,
                req.top_k()
            ),
            None => "no float vector field searched".into(),
        }
    ));
    Ok(out)
}

/// A collection the restore could not load (the backup has no index for it) gets an exact
/// index on each vector field without one in the scratch copy (FLAT: searches answer exactly),
/// is loaded, and its `count(*)` checked (and answered), so it is drilled like the others.
async fn make_searchable(
    milvus: &MilvusClient,
    r: &crate::engine::commands::restore::RestoredCollection,
    wait: std::time::Duration,
    progress: &Progress,
) -> Result<i64> {
    let (db, name) = r.target.split_once('.').unwrap_or(("default", &r.target));
    let described = milvus.describe_collection(db, name).await?;
    let indexed: Vec<String> = milvus
        .indexes(db, name)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.field_name)
        .collect();
    let fields = described.schema.map(|s| s.fields).unwrap_or_default();
    for f in fields.iter().filter(|f| !indexed.contains(&f.name)) {
        let Some((index_type, metric)) = exact_index(f.data_type) else {
            continue;
        };
        progress.step(format!(
            "drill: {index_type} index on {}.{} (the backup has none) to search it",
            r.target, f.name
        ));
        let kv = |k: &str, v: &str| milvus::proto::common::KeyValuePair {
            key: k.into(),
            value: v.into(),
        };
        let mut params = vec![kv("index_type", index_type)];
        params.extend(metric.map(|m| kv("metric_type", m)));
        milvus
            .create_index(db, name, &f.name, &format!("drill_{}", f.name), params)
            .await?;
    }
    crate::engine::commands::restore::wait_for_indexes(milvus, db, name, wait).await?;
    progress.step(format!("drill: loading {}", r.target));
    crate::engine::commands::restore::load_and_wait(milvus, db, name, wait).await?;
    let want = r.expected_rows.unwrap_or(r.imported_rows);
    let counted = milvus.count_rows(db, name).await?;
    if counted != want {
        return Err(Error::VerificationFailed {
            collection: r.target.clone(),
            detail: format!("count(*) after loading is {counted}, expected {want}"),
        });
    }
    Ok(counted)
}

/// The exact (brute-force) index for a vector type, with its metric; `None` for scalars.
fn exact_index(data_type: i32) -> Option<(&'static str, Option<&'static str>)> {
    match data_type {
        BINARY_VECTOR => Some(("BIN_FLAT", Some("HAMMING"))),
        FLOAT_VECTOR | FLOAT16_VECTOR | BFLOAT16_VECTOR => Some(("FLAT", Some("L2"))),
        SPARSE_FLOAT_VECTOR => Some(("SPARSE_INVERTED_INDEX", Some("IP"))),
        INT8_VECTOR => Some(("HNSW", Some("L2"))),
        _ => None,
    }
}

/// The metric of the index on `field` (what a search must use); `L2` when it cannot be read.
async fn metric_of(milvus: &MilvusClient, db: &str, name: &str, field: &str) -> String {
    match milvus.indexes(db, name).await {
        Ok(indexes) => indexes
            .into_iter()
            .find(|i| i.field_name == field)
            .and_then(|i| {
                i.params
                    .into_iter()
                    .find(|kv| kv.key == "metric_type")
                    .map(|kv| kv.value)
            })
            .unwrap_or_else(|| "L2".into()),
        Err(_) => "L2".into(),
    }
}

/// The primary keys of a query answer, as text.
fn key_column(page: &[milvus::proto::schema::FieldData], pk: &str) -> Vec<String> {
    use milvus::proto::schema::{field_data::Field, scalar_field::Data};
    page.iter()
        .filter(|f| f.field_name == pk)
        .filter_map(|f| match &f.field {
            Some(Field::Scalars(s)) => match &s.data {
                Some(Data::LongData(l)) => Some(l.data.iter().map(|i| i.to_string()).collect()),
                Some(Data::StringData(s)) => Some(s.data.clone()),
                _ => None,
            },
            _ => None,
        })
        .next()
        .unwrap_or_default()
}

/// The float vectors of a query answer, one per row.
fn float_vectors(page: &[milvus::proto::schema::FieldData], field: &str) -> Vec<Vec<f32>> {
    use milvus::proto::schema::{field_data::Field, vector_field::Data};
    page.iter()
        .filter(|f| f.field_name == field)
        .filter_map(|f| match &f.field {
            Some(Field::Vectors(v)) if v.dim > 0 => match &v.data {
                Some(Data::FloatVector(fv)) => {
                    Some(fv.data.chunks(v.dim as usize).map(|c| c.to_vec()).collect())
                }
                _ => None,
            },
            _ => None,
        })
        .next()
        .unwrap_or_default()
}

/// Drops every collection of the scratch database, then the database.
async fn cleanup(milvus: &MilvusClient, database: &str, progress: &Progress) -> Result<()> {
    // the restore creates it; a restore that failed early may not have
    if !milvus.list_databases().await?.iter().any(|d| d == database) {
        return Ok(());
    }
    let names = milvus.list_collections(database).await?;
    for n in &names {
        // the restore gave them the backup's aliases; Milvus 2.4+ drops no aliased collection
        let aliases = milvus
            .describe_collection(database, n)
            .await
            .map(|d| d.aliases)
            .unwrap_or_default();
        for alias in &aliases {
            milvus.drop_alias(database, alias).await?;
        }
        milvus.drop_collection(database, n).await?;
    }
    milvus.drop_database(database).await?;
    progress.log(format!(
        "drill: dropped the scratch database {database} and its {} collections",
        names.len()
    ));
    Ok(())
}
