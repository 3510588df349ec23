//! `export` and `import` on local files: the archive is written next to its final name and
//! renamed into place when complete (a failed export leaves no file), and an existing file is
//! never overwritten.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ExportArgs, ImportArgs};
use crate::{
    auth::Gate,
    engine::commands::archive::{ExportReport, ImportReport},
};

/// Whether a file name asks for a zstd-compressed archive.
pub fn wants_zstd(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.ends_with(".tar.zst") || name.ends_with(".tzst")
}

/// Exports into `a.output`; returns the report and the file written.
pub async fn export(gate: &Gate, mut a: ExportArgs) -> anyhow::Result<(ExportReport, PathBuf)> {
    a.opts.zstd |= wants_zstd(&a.output);
    if a.output.exists() {
        anyhow::bail!(
            "{} exists already; choose another file or remove it first",
            a.output.display()
        );
    }
    let export = gate.export_backup(&a.opts).await?;
    let dir = match a.output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let partial = tempfile::Builder::new()
        .prefix(".milvault-export-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let file = tokio::fs::File::from_std(partial.reopen()?);
    let report = export
        .write(tokio::io::BufWriter::with_capacity(1 << 20, file))
        .await?;
    partial
        .persist_noclobber(&a.output)
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    Ok((report, a.output))
}

/// Imports the archive `a.file`.
pub async fn import(gate: &Gate, a: ImportArgs) -> anyhow::Result<ImportReport> {
    let file = tokio::fs::File::open(&a.file)
        .await
        .with_context(|| format!("cannot open {}", a.file.display()))?;
    Ok(gate.import_backup(&a.opts, file, None).await?)
}
