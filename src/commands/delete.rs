//! `delete`: removes a backup, complete or not.

use crate::{
    error::{Error, Result},
    format::layout,
    service::Milvault,
};

/// Deletes everything under the backup's folder; the metadata that marks it complete goes first,
/// so an interrupted delete leaves an incomplete backup, never a damaged one that looks complete.
/// Returns the number of files removed.
pub async fn delete_backup(svc: &Milvault, name: &str) -> Result<usize> {
    layout::validate_backup_name(name)?;
    let storage = svc.backup_storage();
    if !storage.any_under(&layout::backup_dir(name)).await? {
        return Err(Error::BackupNotFound(name.into()));
    }
    let marker = layout::meta_file(name, layout::BACKUP_META);
    let had_marker = storage.size_of(&marker).await?.is_some();
    storage.delete(&marker).await?;
    let removed = storage.delete_under(&layout::backup_dir(name)).await?;
    Ok(removed + usize::from(had_marker))
}
