//! `list`: the complete backups in the backup storage, newest first.

use std::{collections::HashMap, sync::Mutex};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;

use crate::{
    engine::service::Milvault,
    error::Result,
    format::{layout, BackupInfo},
};

/// How many backups' metadata are looked at at once.
const LIST_CONCURRENCY: usize = 16;

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
    /// Live rows when the backup recorded them, else stored rows (deleted rows included). Kept
    /// for compatibility; `stored_rows` and `live_rows` say which is which.
    pub rows: i64,
    /// Rows stored in the backup's segments, deleted rows included (deletes are held in delta
    /// logs until Milvus compacts them).
    pub stored_rows: i64,
    /// Live rows (`count(*)`, deletes applied) when the backup counted them in every collection.
    pub live_rows: Option<i64>,
    /// How long the backup took, when milvault made it.
    pub duration_ms: Option<i64>,
    /// Schemas only, no data.
    pub meta_only: bool,
    /// The policy that made it.
    pub policy: Option<String>,
    /// `BackupInfo.format`: empty for binlog backups, `logical`, or `snapshot`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub format: String,
    /// Incremental backups: the earlier backups unchanged files were copied from (this backup
    /// still holds its own copy of every file).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incremental_bases: Vec<String>,
    /// Files and bytes of this backup copied from those bases instead of read from Milvus.
    #[serde(skip_serializing_if = "is_zero")]
    pub files_from_base: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub bytes_from_base: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
            stored_rows: b.total_rows(),
            live_rows: b.live_rows(),
            duration_ms: b
                .milvault
                .as_ref()
                .map(|m| m.end_time_ms - m.start_time_ms)
                .filter(|d| *d >= 0),
            meta_only: b.milvault.as_ref().is_some_and(|m| m.meta_only),
            policy: b.milvault.as_ref().and_then(|m| m.policy.clone()),
            format: b.format.clone(),
            incremental_bases: b
                .milvault
                .as_ref()
                .map(|m| m.incremental_bases.clone())
                .unwrap_or_default(),
            files_from_base: b.milvault.as_ref().map_or(0, |m| m.files_from_base),
            bytes_from_base: b.milvault.as_ref().map_or(0, |m| m.bytes_from_base),
        }
    }
}

/// How long a backup's summary is shown without asking the storage whether its
/// `backup_meta.json` changed: a listing of 10,000 backups is then one LIST of their folders,
/// not 10,000 HEADs. This process's own writes and deletes forget the name at once; another
/// process rewriting a backup under the same name shows within this time.
pub const SUMMARY_FRESH: std::time::Duration = std::time::Duration::from_secs(30);

/// One backup's summary, the version of the `backup_meta.json` it was read from, and when that
/// version was last confirmed.
type Cached = (String, BackupSummary, std::time::Instant);

/// The summaries of backups already read, by name, with the version of the `backup_meta.json`
/// they were read from: a complete backup's metadata does not change, so a listing asks for a
/// backup's version (one HEAD) only when it was last confirmed more than [`SUMMARY_FRESH`] ago,
/// and reads the metadata of new or rewritten backups.
#[derive(Default)]
pub struct SummaryCache(Mutex<HashMap<String, Cached>>);

impl SummaryCache {
    /// The summary of `name` confirmed within [`SUMMARY_FRESH`].
    fn fresh(&self, name: &str) -> Option<BackupSummary> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .filter(|(_, _, at)| at.elapsed() < SUMMARY_FRESH)
            .map(|(_, s, _)| s.clone())
    }

    /// The summary of `name` if it was read from `version` (confirming it now).
    fn get(&self, name: &str, version: &str) -> Option<BackupSummary> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(name).filter(|(v, _, _)| v == version).map(|e| {
            e.2 = std::time::Instant::now();
            e.1.clone()
        })
    }

    fn put(&self, name: &str, version: String, summary: BackupSummary) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(
            name.to_string(),
            (version, summary, std::time::Instant::now()),
        );
    }

    /// Forgets `name` (this process wrote or deleted it).
    pub fn forget(&self, name: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(name);
    }

    /// Forgets the backups that are gone.
    fn keep_only(&self, names: &[String]) {
        let names: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|n, _| names.contains(n.as_str()));
    }
}

/// The summary of backup `name`, or `None` when it is incomplete or unreadable (logged).
async fn summary_of(svc: &Milvault, name: &str) -> Result<Option<BackupSummary>> {
    if let Some(s) = svc.summaries().fresh(name) {
        return Ok(Some(s));
    }
    let storage = svc.backup_storage();
    let Some(version) = storage
        .version_of(&layout::meta_file(name, layout::BACKUP_META))
        .await?
    else {
        return Ok(None);
    };
    if let Some(s) = svc.summaries().get(name, &version) {
        return Ok(Some(s));
    }
    match svc.get_backup(name).await {
        Ok(info) => {
            let s = BackupSummary::from(&info);
            svc.summaries().put(name, version, s.clone());
            Ok(Some(s))
        }
        Err(e) => {
            tracing::warn!("skipping backup '{name}': {e}");
            Ok(None)
        }
    }
}

/// Lists complete backups (those whose `backup_meta.json` exists); incomplete folders are skipped.
pub async fn list_backups(svc: &Milvault) -> Result<Vec<BackupSummary>> {
    let names = svc.backup_storage().list_dirs("").await?;
    let found: Vec<Option<BackupSummary>> = futures::stream::iter(names.clone())
        .map(|name| async move { summary_of(svc, &name).await })
        .buffer_unordered(LIST_CONCURRENCY)
        .try_collect()
        .await?;
    let mut out: Vec<BackupSummary> = found.into_iter().flatten().collect();
    svc.summaries().keep_only(&names);
    out.sort_by(|a, b| {
        b.backup_timestamp
            .cmp(&a.backup_timestamp)
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        config::Config,
        engine::commands::create::write_meta,
        format::{BackupInfo, CollectionBackupInfo},
    };

    fn info(name: &str, ts: u64, size: i64) -> BackupInfo {
        BackupInfo {
            id: format!("id-{name}-{size}"),
            name: name.into(),
            backup_timestamp: ts,
            size,
            collection_backups: vec![CollectionBackupInfo {
                collection_name: "c".into(),
                size,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn sizes(list: &[BackupSummary]) -> Vec<(&str, i64)> {
        list.iter().map(|b| (b.name.as_str(), b.size)).collect()
    }

    #[test]
    fn summary_carries_format_and_what_came_from_the_base() {
        let mut b = info("inc", 5, 412_000_000);
        b.format = crate::engine::logical::FORMAT.into();
        b.milvault = Some(crate::format::MilvaultInfo {
            incremental_bases: vec!["full_1".into()],
            files_from_base: 40,
            bytes_from_base: 392_000_000,
            ..Default::default()
        });
        let s = BackupSummary::from(&b);
        assert_eq!(s.format, "logical");
        assert_eq!(s.incremental_bases, ["full_1"]);
        assert_eq!((s.files_from_base, s.bytes_from_base), (40, 392_000_000));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["bytes_from_base"], 392_000_000);
        // a full binlog backup made by milvus-backup: none of it, and none in the JSON
        let full = BackupSummary::from(&info("full", 1, 10));
        assert_eq!(full.format, "");
        assert!(full.incremental_bases.is_empty());
        assert_eq!((full.files_from_base, full.bytes_from_base), (0, 0));
        let json = serde_json::to_value(&full).unwrap();
        assert!(json.get("format").is_none() && json.get("bytes_from_base").is_none());
    }

    #[tokio::test]
    async fn listing_sees_new_rewritten_and_deleted_backups() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::from_yaml(
            "",
            &[
                ("minio.backupStorageType".into(), "local".into()),
                (
                    "minio.backupRootPath".into(),
                    dir.path().display().to_string(),
                ),
            ],
        )
        .unwrap();
        let svc = Milvault::new(config).unwrap();
        let storage = svc.backup_storage();
        write_meta(storage, &info("a", 1, 10)).await.unwrap();
        write_meta(storage, &info("b", 2, 20)).await.unwrap();
        // an incomplete backup (no backup_meta.json) is not listed
        storage
            .write("c/binlogs/insert_log/1", bytes::Bytes::from_static(b"x"))
            .await
            .unwrap();
        assert_eq!(
            sizes(&list_backups(&svc).await.unwrap()),
            [("b", 20), ("a", 10)]
        );
        // `a` deleted and made again under the same name: the new one is listed
        svc.delete_backup("a").await.unwrap();
        write_meta(storage, &info("a", 3, 123_456)).await.unwrap();
        assert_eq!(
            sizes(&list_backups(&svc).await.unwrap()),
            [("a", 123_456), ("b", 20)]
        );
        // `b` deleted: gone from the list and from the cache
        svc.delete_backup("b").await.unwrap();
        assert_eq!(sizes(&list_backups(&svc).await.unwrap()), [("a", 123_456)]);
        assert!(svc.summaries().get("b", "").is_none());
        assert_eq!(svc.summaries().0.lock().unwrap().len(), 1);
        // rewritten by another process: this one shows what it confirmed within SUMMARY_FRESH
        // (no HEAD per backup per listing), then what is there once the name is asked again
        write_meta(storage, &info("a", 3, 7)).await.unwrap();
        assert_eq!(sizes(&list_backups(&svc).await.unwrap()), [("a", 123_456)]);
        svc.summaries().0.lock().unwrap().get_mut("a").unwrap().2 -= SUMMARY_FRESH;
        assert_eq!(sizes(&list_backups(&svc).await.unwrap()), [("a", 7)]);
    }
}
