//! Incremental backups: binlogs never change once a segment is sealed, so a file an earlier backup
//! of the same collection holds (same path, i.e. same collection, partition, segment, field and
//! log id, and the same size, as that backup's manifest records it) is not read from Milvus'
//! bucket again. It is copied from the earlier backup (the base) inside the backup storage, by
//! the storage itself (S3 CopyObject, a local file copy), read back and checksummed like every
//! copied file, and kept only when it matches the base's manifest entry (size and BLAKE3); a
//! base's file that does not (bit rot, an edit) is read from Milvus instead, so damage in one
//! backup never spreads to later ones.
//!
//! Every backup stays self-contained: it holds its own copy of every file it needs, in
//! milvus-backup's layout, so deleting or pruning the base never touches it, `verify` checks all
//! its files as usual, and milvus-backup can read it. The base is recorded in
//! [`MilvaultInfo::incremental_base`](crate::format::MilvaultInfo) for information only.

use std::collections::HashMap;

use crate::{
    engine::commands::list::BackupSummary,
    engine::copy::{BaseFile, CopyItem},
    error::Result,
    format::{layout, manifest::ManifestEntry},
    progress::Progress,
    storage::Storage,
};

/// Files of earlier backups a new backup can take over.
#[derive(Debug, Default)]
pub struct Bases {
    /// The bases, newest first.
    pub names: Vec<String>,
    /// By path relative to a backup's folder (`binlogs/insert_log/...`): the newest base holding
    /// it, and its manifest entry there.
    files: HashMap<String, (String, ManifestEntry)>,
}

/// Finds, for each of `collections` (`db.name`), the newest complete backup with data and a
/// manifest that holds it, and reads those manifests. Backups without a manifest cannot be
/// bases (their files' checksums are unknown).
pub async fn find_bases(
    backups: &Storage,
    summaries: &[BackupSummary],
    collections: &[String],
    progress: &Progress,
) -> Result<Bases> {
    let mut newest_first: Vec<&BackupSummary> = summaries.iter().filter(|s| !s.meta_only).collect();
    newest_first.sort_by_key(|s| std::cmp::Reverse(s.backup_timestamp));
    let mut bases = Bases::default();
    for c in collections {
        let Some(base) = newest_first.iter().find(|s| s.collections.contains(c)) else {
            progress.log(format!(
                "{c}: no earlier backup holds it; all of its files are copied"
            ));
            continue;
        };
        if bases.names.contains(&base.name) {
            continue;
        }
        match crate::engine::integrity::read_manifest(backups, &base.name).await? {
            Some(m) => {
                progress.log(format!(
                    "{c}: unchanged files are taken from backup '{}'",
                    base.name
                ));
                bases.names.push(base.name.clone());
                for (rel, entry) in m.files {
                    bases
                        .files
                        .entry(rel)
                        .or_insert_with(|| (base.name.clone(), entry));
                }
            }
            None => progress.log(format!(
                "{c}: backup '{}' has no manifest, so it cannot be a base; all files are copied",
                base.name
            )),
        }
    }
    Ok(bases)
}

impl Bases {
    /// Points the items of backup `name` that a base holds (same path, same size) at the base's
    /// file, with the manifest entry it must match to be taken over.
    pub fn apply(&self, name: &str, items: &mut [CopyItem]) {
        let prefix = format!("{}/", layout::backup_dir(name));
        for item in items.iter_mut() {
            let Some(rel) = item.dst.strip_prefix(&prefix) else {
                continue;
            };
            if let Some((base, entry)) = self.files.get(rel) {
                if entry.size == item.size {
                    item.base = Some(BaseFile {
                        path: format!("{}/{rel}", layout::backup_dir(base)),
                        entry: entry.clone(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_path_and_size_is_taken_from_the_base() {
        let mut bases = Bases::default();
        let entry = |size| ManifestEntry {
            size,
            blake3: "ab".into(),
        };
        bases.names.push("b0".into());
        bases.files.insert(
            "binlogs/insert_log/1/2/3/100/7".into(),
            ("b0".into(), entry(10)),
        );
        bases.files.insert(
            "binlogs/insert_log/1/2/3/100/8".into(),
            ("b0".into(), entry(10)),
        );
        let item = |tail: &str, size| CopyItem {
            src: format!("insert_log/1/2/3/100/{tail}"),
            dst: format!("b1/binlogs/insert_log/1/2/3/100/{tail}"),
            size,
            group: 0,
            base: None,
        };
        let mut items = vec![item("7", 10), item("8", 11), item("9", 10)];
        bases.apply("b1", &mut items);
        let base = items[0].base.as_ref().unwrap();
        assert_eq!(base.path, "b0/binlogs/insert_log/1/2/3/100/7");
        assert_eq!(base.entry, entry(10));
        assert_eq!(
            items[0].src, "insert_log/1/2/3/100/7",
            "Milvus' file if the base's is bad"
        );
        assert!(items[1].base.is_none(), "another size: copied from Milvus");
        assert!(items[2].base.is_none(), "not in the base");
    }
}
