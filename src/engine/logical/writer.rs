//! Parquet files of bounded size on the backup storage: batches go into an in-memory file that
//! is closed and uploaded once it holds about `file_bytes`, so memory stays at one file plus one
//! page whatever the collection's size.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::{
    arrow::ArrowWriter,
    basic::Compression,
    file::properties::{EnabledStatistics, WriterProperties},
};

use super::LogicalFile;
use crate::{
    error::{Error, Result},
    storage::Storage,
};

/// Writes one partition's rows as `part-00000.parquet`, `part-00001.parquet`...
pub struct ChunkWriter<'a> {
    storage: &'a Storage,
    /// Path of file `n` (relative to the storage root) and as recorded (relative to the backup).
    path: Box<dyn Fn(usize) -> (String, String) + Send + Sync + 'a>,
    schema: SchemaRef,
    file_bytes: usize,
    collection: String,
    current: Option<ArrowWriter<Vec<u8>>>,
    rows_in_file: i64,
    files: Vec<LogicalFile>,
}

impl<'a> ChunkWriter<'a> {
    pub fn new(
        storage: &'a Storage,
        collection: &str,
        schema: SchemaRef,
        file_bytes: usize,
        path: impl Fn(usize) -> (String, String) + Send + Sync + 'a,
    ) -> ChunkWriter<'a> {
        ChunkWriter {
            storage,
            path: Box::new(path),
            schema,
            file_bytes,
            collection: collection.into(),
            current: None,
            rows_in_file: 0,
            files: Vec::new(),
        }
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        Error::LogicalData {
            collection: self.collection.clone(),
            reason: format!("writing Parquet: {e}"),
        }
    }

    /// Appends a batch; uploads the file when it has grown to the size bound.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.current.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                // vectors' statistics are useless and large
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_max_row_group_size(64 * 1024)
                .build();
            let w = ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(props))
                .map_err(|e| self.err(e))?;
            self.current = Some(w);
        }
        let Some(w) = self.current.as_mut() else {
            return Ok(());
        };
        w.write(batch).map_err(|e| Error::LogicalData {
            collection: self.collection.clone(),
            reason: format!("writing Parquet: {e}"),
        })?;
        self.rows_in_file += batch.num_rows() as i64;
        if w.in_progress_size() + w.bytes_written() >= self.file_bytes {
            self.close_file().await?;
        }
        Ok(())
    }

    async fn close_file(&mut self) -> Result<()> {
        let Some(w) = self.current.take() else {
            return Ok(());
        };
        let bytes = w.into_inner().map_err(|e| self.err(e))?;
        let (full, rel) = (self.path)(self.files.len());
        let size = bytes.len() as u64;
        self.storage.write(&full, Bytes::from(bytes)).await?;
        tracing::debug!(file = %full, rows = self.rows_in_file, bytes = size, "Parquet file written");
        self.files.push(LogicalFile {
            path: rel,
            rows: self.rows_in_file,
            bytes: size,
        });
        self.rows_in_file = 0;
        Ok(())
    }

    /// Uploads the last file; returns every file written.
    pub async fn finish(mut self) -> Result<Vec<LogicalFile>> {
        self.close_file().await?;
        Ok(self.files)
    }
}

/// Parquet footer metadata of every file: what the rows are, for readers without the backup's
/// metadata.
pub fn file_metadata(db: &str, collection: &str, schema_json: String) -> HashMap<String, String> {
    HashMap::from([
        (
            "milvault.collection".to_string(),
            format!("{db}.{collection}"),
        ),
        ("milvault.schema".to_string(), schema_json),
        (
            "milvault.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ])
}
