//! `list`: the complete backups in the backup storage, newest first.

use futures::{StreamExt, TryStreamExt};

pub use crate::engine::summary::{BackupSummary, SummaryCache, SUMMARY_FRESH};
use crate::{engine::service::Milvault, error::Result, format::layout};

/// How many backups' metadata are looked at at once.
const LIST_CONCURRENCY: usize = 16;

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

/// `list` as a method of the service.
impl Milvault {
    /// Complete backups, newest first.
    pub async fn list_backups(&self) -> Result<Vec<BackupSummary>> {
        list_backups(self).await
    }
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
        assert_eq!(svc.summaries().len(), 1);
        // rewritten by another process: this one shows what it confirmed within SUMMARY_FRESH
        // (no HEAD per backup per listing), then what is there once the name is asked again
        write_meta(storage, &info("a", 3, 7)).await.unwrap();
        assert_eq!(sizes(&list_backups(&svc).await.unwrap()), [("a", 123_456)]);
        assert!(svc.summaries().age("a", SUMMARY_FRESH));
        assert_eq!(sizes(&list_backups(&svc).await.unwrap()), [("a", 7)]);
    }
}
