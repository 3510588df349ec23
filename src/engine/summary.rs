//! What a listing shows of each backup ([`BackupSummary`]) and the summaries already read
//! ([`SummaryCache`], which the service keeps).

use std::{collections::HashMap, sync::Mutex};

use serde::Serialize;

use crate::format::BackupInfo;

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
    pub(crate) fn fresh(&self, name: &str) -> Option<BackupSummary> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(name)
            .filter(|(_, _, at)| at.elapsed() < SUMMARY_FRESH)
            .map(|(_, s, _)| s.clone())
    }

    /// The summary of `name` if it was read from `version` (confirming it now).
    pub(crate) fn get(&self, name: &str, version: &str) -> Option<BackupSummary> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(name).filter(|(v, _, _)| v == version).map(|e| {
            e.2 = std::time::Instant::now();
            e.1.clone()
        })
    }

    pub(crate) fn put(&self, name: &str, version: String, summary: BackupSummary) {
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
    pub(crate) fn keep_only(&self, names: &[String]) {
        let names: std::collections::HashSet<&str> = names.iter().map(String::as_str).collect();
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|n, _| names.contains(n.as_str()));
    }

    /// How many summaries are kept (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Makes `name`'s summary look confirmed `by` earlier than it was; false when there is
    /// none (tests).
    #[cfg(test)]
    pub(crate) fn age(&self, name: &str, by: std::time::Duration) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get_mut(name).map(|e| e.2 -= by).is_some()
    }
}
