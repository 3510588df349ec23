//! Restoring a logical backup: `commands::restore` plans, checks the targets, creates the
//! collections and partitions exactly as for a binlog backup; this module refuses what the target
//! cannot hold ([`check_target`], before anything is created), checks the Parquet files against
//! the manifest, and inserts the rows in bounded batches ([`insert_rows`]).

use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

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
    let Some(manifest) = crate::engine::integrity::read_manifest(storage, backup).await? else {
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
        &prefixes,
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
            let bytes: Bytes =
                storage
                    .read_opt(&path)
                    .await?
                    .ok_or_else(|| Error::BackupDamaged {
                        name: backup.into(),
                        count: 1,
                        files: format!("{path}: missing"),
                    })?;
            let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
                .map_err(|e| bad(format!("{path}: {e}")))?
                .with_batch_size(batch_rows)
                .build()
                .map_err(|e| bad(format!("{path}: {e}")))?;
            let mut rows_in_file = 0i64;
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
}
