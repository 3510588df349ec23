//! Restoring a logical backup: `commands::restore` plans, checks the targets, creates the
//! collections and partitions exactly as for a binlog backup; this module refuses what the target
//! cannot hold ([`check_target`], before anything is created), checks the Parquet files against
//! the manifest, and inserts the rows in bounded batches ([`insert_rows`]).

use std::{ops::Range, sync::Arc};

use bytes::Bytes;
use parquet::{
    arrow::arrow_reader::{
        ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
        ParquetRecordBatchReaderBuilder,
    },
    errors::ParquetError,
    file::{
        metadata::ParquetMetaDataReader,
        reader::{ChunkReader, Length},
    },
};

use super::{columns, LogicalMeta};
use crate::{
    engine::import_plan::{self, Refusal},
    engine::service::Milvault,
    error::{Error, Result},
    format::{db_or_default, layout, CollectionBackupInfo},
    milvus::{Features, MilvusClient},
    progress::Progress,
};

/// Why `coll` cannot go into a Milvus with `target`'s features: the schema rules of binlog
/// restores (functions, nullable fields and defaults, newer data types...).
pub fn check_target(coll: &CollectionBackupInfo, target: &Features) -> Result<(), Refusal> {
    import_plan::check_schema(coll, target)?;
    if let Some(schema) = &coll.schema {
        columns::columns(schema).map_err(|what| Refusal::Feature {
            collection: coll.qualified_name(),
            what,
            needs: "a binlog backup;",
            target: target.name(),
        })?;
    }
    Ok(())
}

/// The schema to create for a logical restore: primary keys keep their values, so an `autoID`
/// key is created without `autoID` (Insert would refuse the values otherwise). Returns whether it
/// changed.
pub fn keep_primary_keys(coll: &mut CollectionBackupInfo) -> bool {
    let Some(schema) = coll.schema.as_mut() else {
        return false;
    };
    let mut changed = schema.auto_id;
    schema.auto_id = false;
    for f in schema.fields.iter_mut().filter(|f| f.is_primary_key) {
        changed |= f.auto_id;
        f.auto_id = false;
    }
    changed
}

/// The Parquet folder of a collection, relative to the backup's folder.
fn collection_prefix(c: &CollectionBackupInfo) -> String {
    let full = layout::logical_file("b", db_or_default(&c.db_name), &c.collection_name, "x", 0);
    let rel = full.strip_prefix("b/").unwrap_or(&full);
    rel.rsplitn(3, '/').nth(2).unwrap_or(rel).to_string() + "/"
}

/// Checks the Parquet files of the collections to restore against the backup's manifest;
/// refuses a damaged backup unless `force`.
pub async fn check_files(
    svc: &Milvault,
    backup: &str,
    collections: &[&CollectionBackupInfo],
    force: bool,
    progress: &Progress,
) -> Result<()> {
    let storage = svc.backup_storage();
    let Some(manifest) = crate::engine::integrity::open_manifest(storage, backup).await? else {
        return Err(Error::NoManifest(backup.into()));
    };
    let prefixes: Vec<String> = collections.iter().map(|c| collection_prefix(c)).collect();
    progress.step(format!(
        "verifying the Parquet files of {} collections against the manifest",
        collections.len()
    ));
    crate::engine::integrity::check_before_restore(
        storage,
        backup,
        &manifest,
        prefixes,
        "Parquet files",
        svc.config().tuning.copy_concurrency,
        force,
        progress,
    )
    .await
}

/// Inserts the backed-up rows of `coll` into the created `db.name`, one bounded batch at a time;
/// returns the rows Milvus reported inserted.
pub async fn insert_rows(
    svc: &Milvault,
    milvus: &MilvusClient,
    backup: &str,
    coll: &CollectionBackupInfo,
    db: &str,
    name: &str,
    progress: &Progress,
) -> Result<i64> {
    let target = format!("{db}.{name}");
    let storage = svc.backup_storage();
    let meta = LogicalMeta::read(storage, backup).await?;
    let source_db = db_or_default(&coll.db_name);
    let files = meta
        .collection(source_db, &coll.collection_name)
        .ok_or_else(|| Error::CorruptMetadata {
            name: backup.into(),
            file: layout::LOGICAL_META.into(),
            reason: format!("it lists no files of {}", coll.qualified_name()),
        })?;
    let schema = coll.schema.as_ref().ok_or_else(|| Error::CorruptMetadata {
        name: backup.into(),
        file: layout::COLLECTION_META.into(),
        reason: format!("{} has no schema", coll.qualified_name()),
    })?;
    let bad = |reason: String| Error::LogicalData {
        collection: coll.qualified_name(),
        reason,
    };
    let cols = columns::columns(schema).map_err(bad)?;
    let tuning = &svc.config().tuning;
    let batch_rows = (tuning.logical_page_bytes / columns::row_bytes(&cols)).max(1);
    let total_bytes: u64 = files
        .partitions
        .iter()
        .flat_map(|p| p.files.iter())
        .map(|f| f.bytes)
        .sum();
    progress.add_total(total_bytes, files.partitions.len() as u64);
    let mut inserted = 0i64;
    for part in &files.partitions {
        let label = if part.partition.is_empty() {
            "all partitions".to_string()
        } else {
            format!("partition {}", part.partition)
        };
        progress.step(format!(
            "inserting {} rows of {label} into {target}, {batch_rows} rows a batch",
            part.rows
        ));
        for f in &part.files {
            let path = format!("{}/{}", layout::backup_dir(backup), f.path);
            let file = RowGroups::open(storage, &coll.qualified_name(), &path)
                .await?
                .ok_or_else(|| Error::BackupDamaged {
                    name: backup.into(),
                    count: 1,
                    files: format!("{path}: missing"),
                })?;
            let mut rows_in_file = 0i64;
            for group in 0..file.row_groups() {
                let reader = file
                    .read(storage, group, batch_rows)
                    .await
                    .map_err(|e| bad(format!("{path}: {e}")))?;
                for batch in reader {
                    let batch = batch.map_err(|e| bad(format!("{path}: {e}")))?;
                    let n = batch.num_rows();
                    let mut fields = Vec::with_capacity(cols.len());
                    for c in &cols {
                        let arr = batch
                            .column_by_name(&c.name)
                            .ok_or_else(|| bad(format!("{path} has no column '{}'", c.name)))?;
                        fields.push(
                            columns::from_arrow(c, arr.as_ref())
                                .map_err(|e| bad(format!("{path}: {e}")))?,
                        );
                    }
                    let got = milvus
                        .insert(db, name, &part.partition, fields, n as u32)
                        .await?;
                    if got != n as i64 {
                        return Err(Error::VerificationFailed {
                            collection: target.clone(),
                            detail: format!("Insert took {got} of {n} rows from {path}"),
                        });
                    }
                    rows_in_file += n as i64;
                    inserted += got;
                }
            }
            if rows_in_file != f.rows {
                return Err(bad(format!(
                    "{path} holds {rows_in_file} rows, the backup's metadata says {}",
                    f.rows
                )));
            }
            progress.add_bytes(f.bytes);
        }
        progress.add_segments(1);
    }
    // the rows become statistics once flushed
    milvus.flush(db, name, tuning.wait_timeout).await?;
    Ok(inserted)
}

/// A Parquet file on the storage read one row group at a time with ranged reads: the footer
/// first, then each row group's bytes, so memory holds one row group, not the file.
struct RowGroups {
    path: String,
    size: u64,
    meta: ArrowReaderMetadata,
}

/// Bytes `range` of a file of `size` bytes: what the Parquet decoder may read.
struct Ranged {
    start: u64,
    data: Bytes,
    size: u64,
}

impl Length for Ranged {
    fn len(&self) -> u64 {
        self.size
    }
}

impl ChunkReader for Ranged {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        use bytes::Buf;
        let from = self.offset(start, 0)?;
        Ok(self.data.slice(from..).reader())
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let from = self.offset(start, length)?;
        Ok(self.data.slice(from..from + length))
    }
}

impl Ranged {
    fn offset(&self, start: u64, length: usize) -> parquet::errors::Result<usize> {
        let end = self.start + self.data.len() as u64;
        if start < self.start || start + length as u64 > end {
            return Err(ParquetError::General(format!(
                "read of bytes {start}..{} outside the fetched {}..{end}",
                start + length as u64,
                self.start
            )));
        }
        Ok((start - self.start) as usize)
    }
}

/// The largest Parquet footer a logical restore reads (milvault's own are a few KiB).
const MAX_FOOTER_BYTES: u64 = 64 << 20;
/// The largest row group a logical restore holds at once (milvault writes at most
/// [`ROW_GROUP_BYTES`](super::writer::ROW_GROUP_BYTES)).
const MAX_ROW_GROUP_BYTES: u64 = 256 << 20;

impl RowGroups {
    /// Reads the footer; `Ok(None)` if the file does not exist.
    async fn open(
        storage: &crate::storage::Storage,
        collection: &str,
        path: &str,
    ) -> Result<Option<RowGroups>> {
        let Some(size) = storage.size_of(path).await? else {
            return Ok(None);
        };
        let bad = |reason: String| Error::LogicalData {
            collection: collection.to_string(),
            reason,
        };
        if size < 12 {
            return Err(bad(format!("{path} is too short for a Parquet file")));
        }
        let tail = get_range(storage, path, size - 8..size)
            .await
            .map_err(|e| bad(format!("reading {path}: {e}")))?;
        let footer = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) as u64;
        if &tail[4..8] != b"PAR1" || footer + 8 > size {
            return Err(bad(format!("{path} has no Parquet footer")));
        }
        if footer > MAX_FOOTER_BYTES {
            return Err(bad(format!(
                "{path} claims a {footer}-byte Parquet footer, more than the {MAX_FOOTER_BYTES} bytes milvault reads: not a file milvault wrote, or a damaged one"
            )));
        }
        let start = size - 8 - footer;
        let data = get_range(storage, path, start..size)
            .await
            .map_err(|e| bad(format!("reading {path}: {e}")))?;
        let ranged = Ranged { start, data, size };
        let meta = ParquetMetaDataReader::new()
            .parse_and_finish(&ranged)
            .map_err(|e| bad(format!("{path}: {e}")))?;
        let meta = ArrowReaderMetadata::try_new(Arc::new(meta), ArrowReaderOptions::new())
            .map_err(|e| bad(format!("{path}: {e}")))?;
        Ok(Some(RowGroups {
            path: path.to_string(),
            size,
            meta,
        }))
    }

    fn row_groups(&self) -> usize {
        self.meta.metadata().num_row_groups()
    }

    /// The bytes of row group `i`: from its first column chunk to the end of its last.
    fn byte_range(&self, i: usize) -> Range<u64> {
        let rg = self.meta.metadata().row_group(i);
        let ranges = rg.columns().iter().map(|c| {
            let (start, len) = c.byte_range();
            (start, start + len)
        });
        let start = ranges.clone().map(|r| r.0).min().unwrap_or(0);
        let end = ranges.map(|r| r.1).max().unwrap_or(0);
        start..end.max(start)
    }

    /// A reader of row group `i` in batches of `batch_rows`.
    async fn read(
        &self,
        storage: &crate::storage::Storage,
        i: usize,
        batch_rows: usize,
    ) -> std::result::Result<ParquetRecordBatchReader, String> {
        let range = self.byte_range(i);
        if range.end > self.size || range.end - range.start > MAX_ROW_GROUP_BYTES {
            return Err(format!(
                "row group {i} spans bytes {range:?} of a {}-byte file (at most {MAX_ROW_GROUP_BYTES} bytes are read at once): not a file milvault wrote, or a damaged one",
                self.size
            ));
        }
        let data = get_range(storage, &self.path, range.clone())
            .await
            .map_err(|e| format!("reading bytes {range:?}: {e}"))?;
        let ranged = Ranged {
            start: range.start,
            data,
            size: self.size,
        };
        ParquetRecordBatchReaderBuilder::new_with_metadata(ranged, self.meta.clone())
            .with_row_groups(vec![i])
            .with_batch_size(batch_rows)
            .build()
            .map_err(|e| e.to_string())
    }
}

async fn get_range(
    storage: &crate::storage::Storage,
    path: &str,
    range: Range<u64>,
) -> std::result::Result<Bytes, object_store::Error> {
    if range.start >= range.end {
        return Ok(Bytes::new());
    }
    use object_store::ObjectStoreExt;
    storage.store().get_range(&storage.path(path), range).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collections_files_are_under_its_folder() {
        let c = CollectionBackupInfo {
            db_name: "".into(),
            collection_name: "c1".into(),
            ..Default::default()
        };
        assert_eq!(collection_prefix(&c), "logical/default/c1/");
    }

    #[tokio::test]
    async fn row_groups_are_read_one_at_a_time_as_the_whole_file() {
        use arrow_array::Array;
        let s = crate::engine::logical::writer::tests::storage();
        crate::engine::logical::writer::tests::write_rows(&s, 64 << 20, 150_000, 10_000).await;
        let path = "b/logical/p/part-00000.parquet";
        let whole = s.read_opt(path).await.unwrap().unwrap();
        let expected: Vec<_> = ParquetRecordBatchReaderBuilder::try_new(whole)
            .unwrap()
            .with_batch_size(7_000)
            .build()
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
        let file = RowGroups::open(&s, "default.c", path)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(file.row_groups(), 3);
        let mut got = Vec::new();
        for g in 0..file.row_groups() {
            let r = file.read(&s, g, 7_000).await.unwrap();
            got.extend(r.map(|b| b.unwrap()));
        }
        let concat = |v: &[arrow_array::RecordBatch]| {
            arrow_select::concat::concat_batches(&v[0].schema(), v).unwrap()
        };
        let (e, g) = (concat(&expected), concat(&got));
        assert_eq!(e.num_rows(), 150_000);
        assert_eq!(e, g);
        assert_eq!(g.column(0).len(), 150_000);
        assert!(RowGroups::open(&s, "default.c", "b/none.parquet")
            .await
            .unwrap()
            .is_none());
    }
}
