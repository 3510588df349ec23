//! The data of a logical backup: every partition of every collection read in primary-key order
//! into Parquet files. `commands::create` describes the collections as for any backup, calls
//! [`dump_collections`] instead of copying binlogs, and writes the metadata last.

use std::time::Duration;

use super::{
    columns, reader::PageReader, writer::ChunkWriter, LogicalCollection, LogicalMeta,
    LogicalPartition, ALL_PARTITIONS_DIR,
};
use crate::{
    engine::service::Milvault,
    error::{Error, Result},
    format::{db_or_default, layout, CollectionBackupInfo},
    milvus::MilvusClient,
    progress::Progress,
};

/// Reads the rows of `collections` into Parquet files of backup `name`, fills in their sizes and
/// row counts, and writes `logical_meta.json`; returns the files for the manifest (relative to
/// the backup's folder).
pub async fn dump_collections(
    svc: &Milvault,
    milvus: &MilvusClient,
    name: &str,
    collections: &mut [CollectionBackupInfo],
    progress: &Progress,
) -> Result<Vec<String>> {
    let mut meta = LogicalMeta {
        version: 1,
        collections: Vec::new(),
    };
    let groups: usize = collections
        .iter()
        .map(|c| c.partition_backups.len().max(1))
        .sum();
    progress.add_total(0, groups as u64);
    for c in collections.iter_mut() {
        meta.collections
            .push(dump_collection(svc, milvus, name, c, progress).await?);
    }
    meta.write(svc.backup_storage(), name).await?;
    let prefix = format!("{}/", layout::backup_dir(name));
    Ok(meta
        .collections
        .iter()
        .flat_map(|c| c.partitions.iter().flat_map(|p| p.files.iter()))
        .map(|f| f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_string())
        .collect())
}

async fn dump_collection(
    svc: &Milvault,
    milvus: &MilvusClient,
    backup: &str,
    c: &mut CollectionBackupInfo,
    progress: &Progress,
) -> Result<LogicalCollection> {
    let db = db_or_default(&c.db_name).to_string();
    let name = c.collection_name.clone();
    let qualified = format!("{db}.{name}");
    let not_readable = |reason: String| Error::NotReadable {
        collection: qualified.clone(),
        reason,
    };
    let schema = c
        .schema
        .clone()
        .ok_or_else(|| not_readable("DescribeCollection gave no schema".into()))?;
    let cols = columns::columns(&schema).map_err(not_readable)?;
    let schema_json = serde_json::to_string(&schema).unwrap_or_default();
    let arrow = columns::arrow_schema(&cols, super::writer::file_metadata(&db, &name, schema_json));
    let tuning = &svc.config().tuning;

    // Query needs the collection loaded; one this backup loads is released again
    let loaded_here = c.load_state != "Loaded";
    if loaded_here {
        progress.step(format!(
            "loading {qualified} (Query reads only loaded collections; it is released afterwards)"
        ));
        load(milvus, &db, &name, tuning.wait_timeout)
            .await
            .map_err(|e| {
                not_readable(format!(
                    "it is not loaded and could not be loaded (Milvus loads only collections with an index on every vector field): {e}"
                ))
            })?;
    }
    let result = async {
        let before = milvus.count_rows(&db, &name).await?;
        let partition_key = schema.fields.iter().any(|f| f.is_partition_key);
        // (partition to query, folder, index in partition_backups)
        let groups: Vec<(Option<String>, String, Option<usize>)> = if partition_key {
            vec![(None, ALL_PARTITIONS_DIR.to_string(), None)]
        } else {
            c.partition_backups
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        Some(p.partition_name.clone()),
                        p.partition_name.clone(),
                        Some(i),
                    )
                })
                .collect()
        };
        let mut out = LogicalCollection {
            db: db.clone(),
            collection: name.clone(),
            rows: 0,
            partitions: Vec::new(),
        };
        for (partition, dir, index) in groups {
            let mut reader = PageReader::new(
                milvus,
                &db,
                &name,
                partition.as_deref(),
                &cols,
                arrow.clone(),
                tuning.logical_page_bytes,
            )?;
            progress.step(format!(
                "reading {qualified} partition {dir} in primary-key order ({} rows a page)",
                reader.page_rows()
            ));
            let (db2, name2, dir2) = (db.clone(), name.clone(), dir.clone());
            let prefix = format!("{}/", layout::backup_dir(backup));
            let mut writer = ChunkWriter::new(
                svc.backup_storage(),
                &qualified,
                arrow.clone(),
                tuning.logical_file_bytes,
                move |n| {
                    let full = layout::logical_file(backup, &db2, &name2, &dir2, n);
                    let rel = full.strip_prefix(&prefix).unwrap_or(&full).to_string();
                    (full, rel)
                },
            );
            let mut rows = 0i64;
            while let Some(batch) = reader.next_page().await? {
                rows += batch.num_rows() as i64;
                progress.add_bytes(batch.get_array_memory_size() as u64);
                writer.write(&batch).await?;
            }
            let files = writer.finish().await?;
            // the stored file paths are relative to the backup's folder; LogicalFile.path too
            let bytes: u64 = files.iter().map(|f| f.bytes).sum();
            if let Some(i) = index {
                c.partition_backups[i].size = bytes as i64;
            }
            progress.log(format!(
                "{qualified} partition {dir}: {rows} rows in {} Parquet files ({bytes} bytes)",
                files.len()
            ));
            progress.add_segments(1);
            out.rows += rows;
            out.partitions.push(LogicalPartition {
                partition: partition.unwrap_or_default(),
                rows,
                files,
            });
        }
        let after = milvus.count_rows(&db, &name).await?;
        if out.rows < before.min(after) || out.rows > before.max(after) {
            return Err(Error::LogicalData {
                collection: qualified.clone(),
                reason: format!(
                    "read {} rows but count(*) was {before} before and {after} after reading",
                    out.rows
                ),
            });
        }
        Ok(out)
    }
    .await;
    if loaded_here {
        if let Err(e) = milvus.release_collection(&db, &name).await {
            progress.log(format!("could not release {qualified} again: {e}"));
        }
    }
    let out = result?;
    c.live_rows = Some(out.rows);
    c.size = out
        .partitions
        .iter()
        .flat_map(|p| p.files.iter())
        .map(|f| f.bytes as i64)
        .sum();
    Ok(out)
}

/// Loads a collection and waits until it is.
pub async fn load(milvus: &MilvusClient, db: &str, name: &str, wait: Duration) -> Result<()> {
    milvus.load_collection(db, name).await?;
    let deadline = tokio::time::Instant::now() + wait;
    while milvus.loading_progress(db, name).await? < 100 {
        if tokio::time::Instant::now() > deadline {
            return Err(Error::MilvusTimeout {
                call: "LoadCollection",
                timeout: wait,
            });
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}
