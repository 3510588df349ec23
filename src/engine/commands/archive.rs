//! `export` and `import`: a whole backup as one streamed archive, and back (see
//! [`crate::engine::archive`]).

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

pub use crate::engine::archive::{export::ExportReport, import::ImportReport};
use crate::{
    engine::{archive, service::Milvault},
    error::Result,
    format::BackupInfo,
};

/// What to export: one options type for the CLI (clap), REST (the query) and the engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct ExportOptions {
    /// The backup's name (REST: from the path).
    #[arg(short = 'n', long)]
    #[param(ignore)]
    pub name: String,
    /// Compress the archive with zstd (`.tar.zst`; the CLI also does when the file name ends so).
    #[arg(long)]
    pub zstd: bool,
}

/// How to import: one options type for the CLI (clap), REST (the query) and the engine.
#[derive(Debug, Clone, Default, Serialize, Deserialize, clap::Args, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
pub struct ImportOptions {
    /// The name to import the backup as; default: the name its metadata records. A backup of
    /// that name must not exist.
    #[arg(short = 'n', long)]
    pub name: Option<String>,
}

/// Writes backup `opts.name` into `out` as a tar (zstd-compressed when `opts.zstd`), each file
/// streamed from the backup storage. The backup must be complete.
pub async fn export_backup<W>(svc: &Milvault, opts: &ExportOptions, out: W) -> Result<ExportReport>
where
    W: AsyncWrite + Unpin + Send,
{
    svc.get_backup(&opts.name).await?;
    archive::export::write_archive(svc.backup_storage(), &opts.name, opts.zstd, out).await
}

/// Reads the archive `input` into the backup storage as a new backup (see
/// [`archive::import::read_archive`]): refused when more than `max_bytes` come, when the name is
/// taken, or when any file is missing, extra or differs from the manifest; nothing is left then.
pub async fn import_backup<R, G>(
    svc: &Milvault,
    opts: &ImportOptions,
    input: R,
    max_bytes: Option<u64>,
    claim: impl FnOnce(&str) -> Result<G>,
    allow: impl FnOnce(&str, &BackupInfo) -> Result<()>,
) -> Result<ImportReport>
where
    R: AsyncRead + Unpin + Send,
{
    let r = archive::import::read_archive(
        svc.backup_storage(),
        opts.name.as_deref(),
        input,
        max_bytes,
        claim,
        allow,
    )
    .await;
    if let Ok(report) = &r {
        svc.summaries().forget(&report.backup);
    }
    r
}
