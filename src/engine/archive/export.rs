//! Writing a backup's folder as one tar stream (zstd-compressed or not): each file is streamed
//! from the storage into the archive, so memory stays bounded whatever the backup's size.

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tar::{Builder, EntryType, Header};

use super::entry_path::export_order;
use crate::{
    error::{Error, Result},
    format::layout,
    storage::Storage,
};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ExportReport {
    /// The backup exported.
    pub backup: String,
    /// Files in the archive.
    pub files: u64,
    /// Bytes of those files (before compression).
    pub bytes: u64,
}

/// The zstd level of compressed archives (zstd's default: fast, a good ratio on metadata).
const ZSTD_LEVEL: i32 = 3;

/// Writes every file of backup `name`'s folder into `out` as a tar (compressed with zstd when
/// `zstd`), with paths relative to the folder, in [`export_order`]. `out` is shut down at the
/// end; on an error the archive is left unterminated (never a complete-looking one).
pub async fn write_archive<W>(
    storage: &Storage,
    name: &str,
    zstd: bool,
    out: W,
) -> Result<ExportReport>
where
    W: AsyncWrite + Unpin + Send,
{
    let dir = layout::backup_dir(name);
    let prefix = format!("{dir}/");
    let files: Vec<String> = storage
        .list_files(&dir)
        .await?
        .into_iter()
        .filter_map(|f| f.rel.strip_prefix(&prefix).map(str::to_string))
        .collect();
    let out: Box<dyn AsyncWrite + Unpin + Send + '_> = if zstd {
        Box::new(async_compression::tokio::write::ZstdEncoder::with_quality(
            out,
            async_compression::Level::Precise(ZSTD_LEVEL),
        ))
    } else {
        Box::new(out)
    };
    let written = |e: std::io::Error| Error::storage("the archive", format!("cannot write: {e}"));
    let mut tar = Builder::new_non_terminated(out);
    let mut report = ExportReport {
        backup: name.to_string(),
        files: 0,
        bytes: 0,
    };
    let mtime = chrono::Utc::now().timestamp().max(0) as u64;
    for rel in export_order(files) {
        let full = format!("{prefix}{rel}");
        let Some((size, reader)) = storage.open_read(&full).await? else {
            return Err(Error::storage(
                storage.describe(),
                format!("{full} disappeared while the backup was exported"),
            ));
        };
        let mut header = Header::new_gnu();
        header.set_entry_type(EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(mtime);
        tar.append_data(&mut header, &rel, reader.take(size))
            .await
            .map_err(written)?;
        report.files += 1;
        report.bytes += size;
    }
    let mut out = tar.into_inner().await.map_err(written)?;
    out.shutdown().await.map_err(written)?;
    tracing::info!(
        backup = name,
        files = report.files,
        bytes = report.bytes,
        zstd,
        "exported"
    );
    Ok(report)
}
