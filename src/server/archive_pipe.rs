//! An export as a stream of byte chunks, for the front ends that send it (REST's response body,
//! gRPC's `ExportBackup`): written by a task into a pipe the stream reads from, so memory stays
//! bounded and the export waits while the client reads. An export that fails half-way ends the
//! stream with an error: the client sees a broken transfer, never a complete-looking archive.

use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::auth::gate::Export;

/// Bytes between the export task and the stream.
const PIPE_BYTES: usize = 1 << 20;

/// The archive of `export` in chunks of at most `chunk` bytes.
pub fn chunks(
    export: Export,
    chunk: usize,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let (reader, writer) = tokio::io::duplex(PIPE_BYTES);
    let task = tokio::spawn(export.write(writer));
    let end = futures::stream::once(async move {
        match task.await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(Err(std::io::Error::other(e.to_string()))),
            Err(e) => Some(Err(std::io::Error::other(format!(
                "the export stopped: {e}"
            )))),
        }
    })
    .filter_map(std::future::ready);
    tokio_util::io::ReaderStream::with_capacity(reader, chunk).chain(end)
}
