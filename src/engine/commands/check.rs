//! `check`: can milvault reach Milvus and both storages, and what is wrong if not.

use serde::Serialize;

use crate::engine::service::Milvault;

/// One thing checked.
#[derive(Debug, Clone, Serialize)]
pub struct CheckItem {
    pub what: String,
    pub ok: bool,
    pub detail: String,
}

/// Everything checked.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub items: Vec<CheckItem>,
}

impl CheckReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.items.iter().all(|i| i.ok)
    }
}

/// Where things are, in words that never hold credentials: for a Cluster page or a `check`.
#[derive(Debug, Clone, Serialize)]
pub struct Locations {
    /// Milvus' gRPC endpoint.
    pub milvus_address: String,
    /// Milvus' version, when it answered within the time asked.
    pub milvus_version: Option<String>,
    /// Where Milvus keeps its binlogs, or why that storage cannot be used.
    pub milvus_storage: String,
    /// The backup storage's name (`default`, or the named storage the service works on).
    pub backup_storage_name: String,
    /// Where backups are kept.
    pub backup_storage: String,
    /// The other named storages, by name, with their locations.
    pub storages: Vec<(String, String)>,
}

/// Where the service's Milvus and storages are; Milvus' version asked for at most `wait`.
pub async fn locations(svc: &Milvault, wait: std::time::Duration) -> Locations {
    let cfg = svc.config();
    let milvus_version = tokio::time::timeout(wait, async { svc.milvus().await?.version().await })
        .await
        .ok()
        .and_then(|r| r.ok());
    Locations {
        milvus_address: cfg.milvus.endpoint(),
        milvus_version,
        milvus_storage: svc
            .milvus_storage()
            .map(|s| s.describe())
            .unwrap_or_else(|e| format!("not usable: {e}")),
        backup_storage_name: cfg.backup_storage_label().to_string(),
        backup_storage: svc.backup_storage().describe(),
        storages: cfg
            .storages
            .iter()
            .filter(|(n, _)| n.as_str() != cfg.backup_storage_label())
            .map(|(n, c)| (n.clone(), c.describe()))
            .collect(),
    }
}

/// The names of the named storages other than the service's own.
pub fn other_storages(svc: &Milvault) -> Vec<String> {
    let cfg = svc.config();
    cfg.storages
        .keys()
        .filter(|n| n.as_str() != cfg.backup_storage_label())
        .cloned()
        .collect()
}

/// Checks Milvus, Milvus' storage and the backup storage.
pub async fn check(svc: &Milvault) -> CheckReport {
    check_within(svc, &|_| true).await
}

/// [`check`], naming (and counting the collections of) only the databases `shown` accepts: a
/// user scoped to some databases learns nothing of the others.
pub async fn check_within(svc: &Milvault, shown: &(dyn Fn(&str) -> bool + Sync)) -> CheckReport {
    let mut items = Vec::new();
    let addr = svc.config().milvus.endpoint();
    match svc.milvus().await {
        Ok(m) => {
            let version = m.version().await.unwrap_or_default();
            let detail = match m.list_databases().await {
                Ok(dbs) => {
                    let mut parts = Vec::new();
                    for db in dbs.iter().filter(|db| shown(db)) {
                        let n = m.list_collections(db).await.map(|c| c.len()).unwrap_or(0);
                        parts.push(format!("{db} ({n} collections)"));
                    }
                    format!(
                        "Milvus {version} at {addr}; databases: {}",
                        parts.join(", ")
                    )
                }
                Err(e) => format!("Milvus {version} at {addr}, but listing databases failed: {e}"),
            };
            items.push(CheckItem {
                what: "milvus".into(),
                ok: true,
                detail,
            });
        }
        Err(e) => items.push(CheckItem {
            what: "milvus".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    match svc.milvus_storage() {
        Ok(s) => {
            items.push(probe("milvus storage", s.probe().await, s.describe()));
            if let Ok(m) = svc.milvus().await {
                items.push(sample_binlogs(m, s, shown).await);
            }
        }
        Err(e) => items.push(CheckItem {
            what: "milvus storage".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    let b = svc.backup_storage();
    items.push(probe("backup storage", b.probe().await, b.describe()));
    for name in svc.config().targets.keys() {
        items.push(check_target(svc, name).await);
    }
    for (name, config) in &svc.config().storages {
        if name == svc.config().backup_storage_label() {
            continue;
        }
        let what = format!("storage {name}");
        items.push(match crate::storage::Storage::open(config, true, None) {
            Ok(s) => probe(&what, s.probe().await, s.describe()),
            Err(e) => CheckItem {
                what,
                ok: false,
                detail: e.to_string(),
            },
        });
    }
    CheckReport { items }
}

/// Whether a named Milvus target (`targets.NAME`) and the storage it keeps binlogs in answer.
async fn check_target(svc: &Milvault, name: &str) -> CheckItem {
    let what = format!("target {name}");
    let fail = |detail: String| CheckItem {
        what: what.clone(),
        ok: false,
        detail,
    };
    let target = match svc.on_milvus(name) {
        Ok(Some(t)) => t,
        Ok(None) => return fail("no target name".into()),
        Err(e) => return fail(e.to_string()),
    };
    let addr = target.config().milvus.endpoint();
    let version = match target.milvus().await {
        Ok(m) => m.version().await.unwrap_or_default(),
        Err(e) => return fail(e.to_string()),
    };
    let storage = match target.milvus_storage() {
        Ok(s) => s,
        Err(e) => return fail(format!("Milvus {version} at {addr}; its storage: {e}")),
    };
    match storage.probe().await {
        Ok(()) => CheckItem {
            what: what.clone(),
            ok: true,
            detail: format!(
                "Milvus {version} at {addr}; its storage {}",
                storage.describe()
            ),
        },
        Err(e) => fail(format!(
            "Milvus {version} at {addr}; its storage {}: {e}",
            storage.describe()
        )),
    }
}

/// How many sealed segments `check` looks for in Milvus' storage.
const SEGMENTS_SAMPLED: usize = 3;

/// Looks for the insert logs of a few sealed segments Milvus reports (no flush: only what is
/// sealed already) where the configuration says Milvus keeps them: a storage that answers but
/// holds none of them is configured with the wrong bucket or root path, and every backup from it
/// would fail.
async fn sample_binlogs(
    m: &crate::milvus::MilvusClient,
    storage: &crate::storage::Storage,
    shown: &(dyn Fn(&str) -> bool + Sync),
) -> CheckItem {
    use crate::format::layout::{milvus_segment_dir, LogKind};
    let item = |ok, detail| CheckItem {
        what: "milvus binlogs".into(),
        ok,
        detail,
    };
    let mut sampled = Vec::new();
    let dbs = m.list_databases().await.unwrap_or_default();
    'search: for db in dbs.iter().filter(|db| shown(db)) {
        for name in m.list_collections(db).await.unwrap_or_default() {
            let Ok(segments) = m.persistent_segments(db, &name).await else {
                // Milvus Lite and managed services have no binlogs to sample
                continue;
            };
            let Ok(c) = m.describe_collection(db, &name).await else {
                continue;
            };
            let sealed = segments.iter().find(|s| {
                s.state == crate::engine::commands::create::SEGMENT_FLUSHED && s.num_rows > 0
            });
            if let Some(seg) = sealed {
                let dir = milvus_segment_dir(
                    LogKind::Insert,
                    c.collection_id,
                    seg.partition_id,
                    seg.segment_id,
                );
                sampled.push((format!("{db}.{name}"), seg.segment_id, dir));
                if sampled.len() == SEGMENTS_SAMPLED {
                    break 'search;
                }
            }
        }
    }
    if sampled.is_empty() {
        return item(
            true,
            "no sealed segment to look for (nothing flushed yet, or a Milvus without binlogs)"
                .into(),
        );
    }
    for (coll, seg, dir) in &sampled {
        match storage.any_under(dir).await {
            Ok(true) => {
                return item(
                    true,
                    format!(
                        "found the binlogs of segment {seg} of {coll} in {}",
                        storage.import_path(dir)
                    ),
                )
            }
            Ok(false) => {}
            Err(e) => return item(false, e.to_string()),
        }
    }
    let (coll, seg, dir) = &sampled[0];
    item(
        false,
        format!(
            "{} holds none of the {} sealed segments looked for (e.g. segment {seg} of {coll} under {}): minio.bucketName and minio.rootPath (or the local rootPath) must be where Milvus itself writes",
            storage.describe(),
            sampled.len(),
            storage.import_path(dir)
        ),
    )
}

fn probe(what: &str, r: crate::error::Result<()>, location: String) -> CheckItem {
    match r {
        Ok(()) => CheckItem {
            what: what.into(),
            ok: true,
            detail: format!("{location} answers"),
        },
        Err(e) => CheckItem {
            what: what.into(),
            ok: false,
            detail: e.to_string(),
        },
    }
}

/// `check` as a method of the service.
impl Milvault {
    /// Checks Milvus and both storages.
    pub async fn check(&self) -> CheckReport {
        check(self).await
    }
}
