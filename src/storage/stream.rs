//! Files read and written as byte streams, in bounded memory whatever their size: what an
//! archive export reads from and an archive import writes into.

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutPayload};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::Storage;
use crate::error::Result;

/// Parts of a streamed write: a file up to this size is written whole, a larger one as a
/// multipart upload of parts this large (S3 wants at least 5 MiB).
const PART: usize = 8 << 20;

/// What a streamed write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Bytes written.
    pub size: u64,
    /// BLAKE3 of them, lowercase hex (the manifest's checksum).
    pub blake3: String,
}

impl Storage {
    /// A file as a byte stream with its size (the size of the version being read, so the two
    /// agree even when the file is rewritten meanwhile); `Ok(None)` if it does not exist.
    pub async fn open_read(
        &self,
        rel: &str,
    ) -> Result<Option<(u64, impl AsyncRead + Send + Unpin + 'static)>> {
        let r = match self.store.get(&self.path(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.err(rel, e)),
        };
        let size = r.meta.size;
        let stream = r.into_stream().map_err(std::io::Error::other);
        Ok(Some((size, tokio_util::io::StreamReader::new(stream))))
    }

    /// Writes everything `from` gives as `rel`, checksumming it on the way: whole when small,
    /// else as a multipart upload (aborted when reading fails). Memory stays bounded (a few
    /// parts) whatever the size.
    pub async fn write_hashed(
        &self,
        rel: &str,
        from: &mut (impl AsyncRead + Unpin + ?Sized),
    ) -> std::result::Result<Written, WriteError> {
        let mut hasher = blake3::Hasher::new();
        let mut size = 0u64;
        let mut first = Vec::with_capacity(64 << 10);
        let mut limited = (&mut *from).take(PART as u64 + 1);
        limited
            .read_to_end(&mut first)
            .await
            .map_err(WriteError::Read)?;
        hasher.update(&first);
        size += first.len() as u64;
        if first.len() <= PART {
            self.store
                .put(&self.path(rel), PutPayload::from(first))
                .await
                .map_err(|e| WriteError::Store(self.err(rel, e)))?;
            return Ok(Written {
                size,
                blake3: hasher.finalize().to_hex().to_string(),
            });
        }
        let upload = self
            .store
            .put_multipart(&self.path(rel))
            .await
            .map_err(|e| WriteError::Store(self.err(rel, e)))?;
        let mut writer = object_store::WriteMultipart::new_with_chunk_size(upload, PART);
        writer.write(&first);
        drop(first);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(WriteError::Read(e));
                }
            };
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            size += n as u64;
            if let Err(e) = writer.wait_for_capacity(2).await {
                let _ = writer.abort().await;
                return Err(WriteError::Store(self.err(rel, e)));
            }
            writer.write(&buf[..n]);
        }
        writer
            .finish()
            .await
            .map_err(|e| WriteError::Store(self.err(rel, e)))?;
        Ok(Written {
            size,
            blake3: hasher.finalize().to_hex().to_string(),
        })
    }
}

/// Why a streamed write failed: its source could not be read, or the storage refused.
#[derive(Debug)]
pub enum WriteError {
    /// Reading the source failed (a truncated or damaged stream).
    Read(std::io::Error),
    /// Writing to the storage failed.
    Store(crate::error::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn memory() -> Storage {
        Storage::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "root",
            crate::storage::tests_support::config(),
        )
    }

    #[tokio::test]
    async fn small_and_multipart_writes_read_back_with_their_checksum() {
        let s = memory();
        for len in [0usize, 10, PART, PART + 1, 2 * PART + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let w = s.write_hashed("f", &mut data.as_slice()).await.unwrap();
            assert_eq!(w.size, len as u64);
            assert_eq!(w.blake3, blake3::hash(&data).to_hex().to_string());
            let (size, mut r) = s.open_read("f").await.unwrap().unwrap();
            let mut back = Vec::new();
            r.read_to_end(&mut back).await.unwrap();
            assert_eq!((size, back), (len as u64, data));
        }
        assert!(s.open_read("nothing").await.unwrap().is_none());
    }
}
