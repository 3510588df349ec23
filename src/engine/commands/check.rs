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
        Ok(s) => items.push(probe("milvus storage", s.probe().await, s.describe())),
        Err(e) => items.push(CheckItem {
            what: "milvus storage".into(),
            ok: false,
            detail: e.to_string(),
        }),
    }
    let b = svc.backup_storage();
    items.push(probe("backup storage", b.probe().await, b.describe()));
    CheckReport { items }
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
