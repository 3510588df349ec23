//! Parquet files of bounded size on the backup storage. Row groups are cut at about
//! [`ROW_GROUP_BYTES`] and each one is streamed to the storage as soon as it is encoded (a
//! multipart upload once a file outgrows [`UPLOAD_PART_BYTES`]), so memory stays at about one row
//! group plus one page, whatever the file's or the collection's size.

use std::collections::HashMap;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use object_store::buffered::BufWriter;
use parquet::{
    arrow::ArrowWriter,
    basic::Compression,
    file::properties::{EnabledStatistics, WriterProperties},
};
use tokio::io::AsyncWriteExt;

use super::LogicalFile;
use crate::{
    error::{Error, Result},
    storage::Storage,
};

/// A row group is closed once its encoded size reaches this (or 64 Ki rows, or the file's bound).
pub const ROW_GROUP_BYTES: usize = 16 * 1024 * 1024;

/// Upload buffer of one file: a file smaller than this is one PUT, a larger one a multipart
/// upload in parts of this size, at most [`UPLOAD_CONCURRENCY`] in flight.
pub const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;
const UPLOAD_CONCURRENCY: usize = 2;

/// The file being written: the encoder (its `Vec` holds only what was not uploaded yet) and the
/// upload.
struct OpenFile {
    writer: ArrowWriter<Vec<u8>>,
    upload: BufWriter,
    full: String,
    uploaded: u64,
}

/// Writes one partition's rows as `part-00000.parquet`, `part-00001.parquet`...
pub struct ChunkWriter<'a> {
    storage: &'a Storage,
    /// Path of file `n` (relative to the storage root) and as recorded (relative to the backup).
    path: Box<dyn Fn(usize) -> (String, String) + Send + Sync + 'a>,
    schema: SchemaRef,
    file_bytes: usize,
    collection: String,
    current: Option<OpenFile>,
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

    /// Appends a batch; streams finished row groups out and closes the file at the size bound.
    pub async fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if self.current.is_none() {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                // vectors' statistics are useless and large
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_max_row_group_size(64 * 1024)
                .build();
            let writer = ArrowWriter::try_new(Vec::new(), self.schema.clone(), Some(props))
                .map_err(|e| self.err(e))?;
            let (full, _) = (self.path)(self.files.len());
            let upload = BufWriter::with_capacity(
                self.storage.store().clone(),
                self.storage.path(&full),
                UPLOAD_PART_BYTES,
            )
            .with_max_concurrency(UPLOAD_CONCURRENCY);
            self.current = Some(OpenFile {
                writer,
                upload,
                full,
                uploaded: 0,
            });
        }
        let Some(mut f) = self.current.take() else {
            return Ok(());
        };
        match append(&mut f, batch, self.file_bytes, &self.collection).await {
            Ok(()) => {}
            Err(e) => {
                let _ = f.upload.abort().await;
                return Err(e);
            }
        }
        self.rows_in_file += batch.num_rows() as i64;
        let full_file = f.writer.in_progress_size() + f.writer.bytes_written() >= self.file_bytes;
        self.current = Some(f);
        if full_file {
            self.close_file().await?;
        }
        Ok(())
    }

    async fn close_file(&mut self) -> Result<()> {
        let Some(mut f) = self.current.take() else {
            return Ok(());
        };
        let collection = self.collection.clone();
        let result = async {
            f.writer.finish().map_err(|e| write_err(&collection, e))?;
            let rest = std::mem::take(f.writer.inner_mut());
            put(&mut f, rest, &collection).await
        }
        .await;
        if let Err(e) = result {
            let _ = f.upload.abort().await;
            return Err(e);
        }
        // (BufWriter cannot be aborted after shutdown: it panics; a failed multipart completion
        // may leave an incomplete upload to the bucket's lifecycle rules)
        f.upload
            .shutdown()
            .await
            .map_err(|e| upload_err(&collection, &f.full, e))?;
        let (full, rel) = (self.path)(self.files.len());
        let size = f.uploaded;
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

fn write_err(collection: &str, e: impl std::fmt::Display) -> Error {
    Error::LogicalData {
        collection: collection.to_string(),
        reason: format!("writing Parquet: {e}"),
    }
}

fn upload_err(collection: &str, full: &str, e: impl std::fmt::Display) -> Error {
    Error::LogicalData {
        collection: collection.to_string(),
        reason: format!("uploading {full}: {e}"),
    }
}

/// Encodes a batch into the open file and uploads what the encoder wrote out.
async fn append(
    f: &mut OpenFile,
    batch: &RecordBatch,
    file_bytes: usize,
    collection: &str,
) -> Result<()> {
    f.writer
        .write(batch)
        .map_err(|e| write_err(collection, e))?;
    if f.writer.in_progress_size() >= ROW_GROUP_BYTES.min(file_bytes) {
        f.writer.flush().map_err(|e| write_err(collection, e))?;
    }
    // what the encoder has written out (whole row groups) goes to the storage; the encoder
    // counts the bytes itself, so taking them from its Vec keeps the file's offsets
    let done = std::mem::take(f.writer.inner_mut());
    put(f, done, collection).await
}

async fn put(f: &mut OpenFile, bytes: Vec<u8>, collection: &str) -> Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    f.uploaded += bytes.len() as u64;
    f.upload
        .put(Bytes::from(bytes))
        .await
        .map_err(|e| upload_err(collection, &f.full, e))
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

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::Arc;

    use arrow_array::{types::Float32Type, FixedSizeListArray, Int64Array, RecordBatch};
    use arrow_schema::{DataType, Field, Schema, SchemaRef};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    use super::*;

    pub(crate) fn storage() -> Storage {
        Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "root",
            crate::storage::tests_support::config(),
        )
    }

    pub(crate) fn schema() -> SchemaRef {
        let item = Arc::new(Field::new("item", DataType::Float32, true));
        Arc::new(
            Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("v", DataType::FixedSizeList(item, 16), false),
            ])
            .with_metadata(file_metadata("default", "c", "{}".into())),
        )
    }

    /// Rows `from..from + n`, vectors of hard-to-compress floats.
    pub(crate) fn batch(schema: &SchemaRef, from: i64, n: usize) -> RecordBatch {
        let ids = Int64Array::from_iter_values(from..from + n as i64);
        let v = FixedSizeListArray::from_iter_primitive::<Float32Type, _, _>(
            (from..from + n as i64).map(|i| {
                Some((0..16).map(move |j| {
                    let x = (i as u64 * 16 + j).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    Some((x >> 40) as f32)
                }))
            }),
            16,
        );
        RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(v)]).unwrap()
    }

    /// Writes `rows` rows in pages of `page` rows; returns the files.
    pub(crate) async fn write_rows(
        s: &Storage,
        file_bytes: usize,
        rows: usize,
        page: usize,
    ) -> Vec<LogicalFile> {
        let schema = schema();
        let mut w = ChunkWriter::new(s, "default.c", schema.clone(), file_bytes, |n| {
            (
                format!("b/logical/p/part-{n:05}.parquet"),
                format!("logical/p/part-{n:05}.parquet"),
            )
        });
        let mut at = 0;
        while at < rows {
            let n = page.min(rows - at);
            w.write(&batch(&schema, at as i64, n)).await.unwrap();
            at += n;
        }
        w.finish().await.unwrap()
    }

    #[tokio::test]
    async fn files_are_streamed_whole_and_readable() {
        let s = storage();
        // ~11 MB: several 64 Ki-row row groups, more than one upload part (multipart)
        let files = write_rows(&s, 64 << 20, 150_000, 10_000).await;
        assert_eq!(files.len(), 1);
        let bytes = s
            .read_opt("b/logical/p/part-00000.parquet")
            .await
            .unwrap()
            .unwrap();
        assert!(bytes.len() > UPLOAD_PART_BYTES);
        assert_eq!(files[0].bytes, bytes.len() as u64);
        assert_eq!(files[0].rows, 150_000);
        let b = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        assert_eq!(b.metadata().num_row_groups(), 3);
        // the schema's metadata travels in the footer (as the encoded Arrow schema)
        assert_eq!(
            b.schema()
                .metadata()
                .get("milvault.collection")
                .map(String::as_str),
            Some("default.c")
        );
        let mut next = 0i64;
        for rb in b.build().unwrap() {
            let rb = rb.unwrap();
            let ids = rb.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
            for id in ids.values() {
                assert_eq!(*id, next);
                next += 1;
            }
        }
        assert_eq!(next, 150_000);
    }

    #[tokio::test]
    async fn files_are_cut_at_the_size_bound() {
        let s = storage();
        let files = write_rows(&s, 1 << 20, 60_000, 5_000).await;
        assert!(files.len() > 2, "{files:?}");
        assert_eq!(files.iter().map(|f| f.rows).sum::<i64>(), 60_000);
        for f in &files {
            let bytes = s.read_opt(&format!("b/{}", f.path)).await.unwrap().unwrap();
            assert_eq!(f.bytes, bytes.len() as u64);
            let b = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
            assert_eq!(b.metadata().file_metadata().num_rows(), f.rows);
        }
    }
}
