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

use futures::TryStreamExt;

use crate::{
    engine::copy::{BaseFile, CopyItem},
    engine::integrity::{open_manifest, ManifestFile},
    engine::summary::BackupSummary,
    error::Result,
    format::layout,
    progress::Progress,
    storage::Storage,
};

/// Earlier backups a new backup can take files from, with their manifests (spooled to local
/// files and read one entry at a time, so a base of any size costs bounded memory).
#[derive(Debug, Default)]
pub struct Bases {
    /// The bases, newest first.
    pub names: Vec<String>,
    manifests: Vec<ManifestFile>,
}

/// Finds, for each of `collections` (`db.name`), the newest complete backup with data and a
/// manifest that holds it, and opens those manifests. Backups without a manifest cannot be
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
        match open_manifest(backups, &base.name).await? {
            Some(m) => {
                progress.log(format!(
                    "{c}: unchanged files are taken from backup '{}' ({} files in its manifest)",
                    base.name, m.files
                ));
                bases.names.push(base.name.clone());
                bases.manifests.push(m);
            }
            None => progress.log(format!(
                "{c}: backup '{}' has no manifest, so it cannot be a base; all files are copied",
                base.name
            )),
        }
    }
    bases.sort_newest_first(&newest_first);
    Ok(bases)
}

impl Bases {
    /// Orders the bases as `newest_first` does (a collection's base is found in the order
    /// collections were given, not by age).
    fn sort_newest_first(&mut self, newest_first: &[&BackupSummary]) {
        let rank = |n: &str| newest_first.iter().position(|s| s.name == n);
        let mut pairs: Vec<(String, ManifestFile)> = std::mem::take(&mut self.names)
            .into_iter()
            .zip(std::mem::take(&mut self.manifests))
            .collect();
        pairs.sort_by_key(|(n, _)| rank(n));
        (self.names, self.manifests) = pairs.into_iter().unzip();
    }

    /// Points the items of backup `name` that a base holds (same path, same size) at the base's
    /// file, with the manifest entry it must match to be taken over: the newest base listing a
    /// path decides. Reads each base's manifest once, as a stream. Returns how many items it
    /// pointed at a base.
    pub async fn apply(&self, name: &str, items: &mut [CopyItem]) -> Result<usize> {
        let prefix = format!("{}/", layout::backup_dir(name));
        let mut matches: Vec<(usize, BaseFile)> = Vec::new();
        {
            // the items not decided yet, by their path in a backup
            let mut open: HashMap<&str, usize> = items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| item.dst.strip_prefix(&prefix).map(|rel| (rel, i)))
                .collect();
            for (base, manifest) in self.names.iter().zip(&self.manifests) {
                if open.is_empty() {
                    break;
                }
                let base_dir = layout::backup_dir(base);
                let mut entries = std::pin::pin!(manifest.entries());
                while let Some((rel, entry)) = entries.try_next().await? {
                    let Some(i) = open.remove(rel.as_str()) else {
                        continue;
                    };
                    if entry.size == items[i].size {
                        matches.push((
                            i,
                            BaseFile {
                                path: format!("{base_dir}/{rel}"),
                                entry,
                            },
                        ));
                    }
                }
            }
        }
        let taken = matches.len();
        for (i, base) in matches {
            items[i].base = Some(base);
        }
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::manifest::{ManifestEntry, ManifestWriter};

    async fn base_with(storage: &Storage, name: &str, files: &[(&str, u64)]) -> ManifestFile {
        let mut w = ManifestWriter::new(Vec::new()).unwrap();
        let mut sorted = files.to_vec();
        sorted.sort();
        for (rel, size) in sorted {
            w.entry(
                rel,
                &ManifestEntry {
                    size,
                    blake3: format!("{name}-{size}"),
                },
            )
            .unwrap();
        }
        let json = w.finish().unwrap();
        storage
            .write(&crate::engine::integrity::manifest_path(name), json.into())
            .await
            .unwrap();
        open_manifest(storage, name).await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn only_same_path_and_size_is_taken_and_the_newest_base_decides() {
        let storage = Storage::from_store(
            std::sync::Arc::new(object_store::memory::InMemory::new()),
            "backups",
            crate::storage::tests_support::config(),
        );
        let p = |tail: &str| format!("binlogs/insert_log/1/2/3/100/{tail}");
        let newer = base_with(
            &storage,
            "b0",
            &[(&p("7"), 10), (&p("8"), 10), (&p("6"), 5)],
        )
        .await;
        let older = base_with(&storage, "bx", &[(&p("6"), 6), (&p("5"), 3)]).await;
        let bases = Bases {
            names: vec!["b0".into(), "bx".into()],
            manifests: vec![newer, older],
        };
        let item = |tail: &str, size| CopyItem {
            src: format!("insert_log/1/2/3/100/{tail}"),
            dst: format!("b1/binlogs/insert_log/1/2/3/100/{tail}"),
            size,
            group: 0,
            base: None,
        };
        let mut items = vec![
            item("7", 10),
            item("8", 11),
            item("9", 10),
            item("6", 6),
            item("5", 3),
        ];
        assert_eq!(bases.apply("b1", &mut items).await.unwrap(), 2);
        let base = items[0].base.as_ref().unwrap();
        assert_eq!(base.path, "b0/binlogs/insert_log/1/2/3/100/7");
        assert_eq!(base.entry.size, 10);
        assert_eq!(base.entry.blake3, "b0-10");
        assert_eq!(
            items[0].src, "insert_log/1/2/3/100/7",
            "Milvus' file if the base's is bad"
        );
        assert!(items[1].base.is_none(), "another size: copied from Milvus");
        assert!(items[2].base.is_none(), "not in the base");
        assert!(
            items[3].base.is_none(),
            "the newest base lists it with another size: an older one is not asked"
        );
        assert_eq!(
            items[4].base.as_ref().unwrap().path,
            "bx/binlogs/insert_log/1/2/3/100/5",
            "only an older base has it"
        );
    }
}
