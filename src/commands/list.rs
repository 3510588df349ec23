//! `list`: the complete backups in the backup storage, newest first.

use serde::Serialize;

use crate::{
    error::Result,
    format::{layout, BackupInfo},
    service::Milvault,
};

/// One line of the backup list.
#[derive(Debug, Clone, Serialize)]
pub struct BackupSummary {
    pub name: String,
    pub id: String,
    /// Unix milliseconds.
    pub backup_timestamp: u64,
    pub size: i64,
    pub milvus_version: String,
    /// `db.collection` of each collection.
    pub collections: Vec<String>,
    /// Live rows when the backup recorded them, else stored rows (deleted rows included).
    pub rows: i64,
    /// How long the backup took, when milvault made it.
    pub duration_ms: Option<i64>,
    /// Schemas only, no data.
    pub meta_only: bool,
    /// The policy that made it.
    pub policy: Option<String>,
}

impl From<&BackupInfo> for BackupSummary {
    fn from(b: &BackupInfo) -> Self {
        BackupSummary {
            name: b.name.clone(),
            id: b.id.clone(),
            backup_timestamp: b.backup_timestamp,
            size: b.size,
            milvus_version: b.milvus_version.clone(),
            collections: b
                .collection_backups
                .iter()
                .map(|c| c.qualified_name())
                .collect(),
            rows: b.collection_backups.iter().map(|c| c.rows()).sum(),
            duration_ms: b
                .milvault
                .as_ref()
                .map(|m| m.end_time_ms - m.start_time_ms)
                .filter(|d| *d >= 0),
            meta_only: b.milvault.as_ref().is_some_and(|m| m.meta_only),
            policy: b.milvault.as_ref().and_then(|m| m.policy.clone()),
        }
    }
}

/// Lists complete backups (those whose `backup_meta.json` exists); incomplete folders are skipped.
pub async fn list_backups(svc: &Milvault) -> Result<Vec<BackupSummary>> {
    let storage = svc.backup_storage();
    let mut out = Vec::new();
    for name in storage.list_dirs("").await? {
        if storage
            .size_of(&layout::meta_file(&name, layout::BACKUP_META))
            .await?
            .is_none()
        {
            continue;
        }
        match svc.get_backup(&name).await {
            Ok(info) => out.push(BackupSummary::from(&info)),
            Err(e) => tracing::warn!("skipping backup '{name}': {e}"),
        }
    }
    out.sort_by(|a, b| {
        b.backup_timestamp
            .cmp(&a.backup_timestamp)
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}
