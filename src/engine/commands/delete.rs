//! `delete`: removes a backup, complete or not.

use crate::{
    engine::service::Milvault,
    error::{Error, Result},
    format::layout,
};

/// What a delete removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    /// Files removed.
    pub files: usize,
    /// Why it was not a complete backup, if it was not: no `backup_meta.json` (a run that
    /// never finished) or metadata that cannot be read.
    pub incomplete: Option<String>,
}

impl Deleted {
    /// What was removed, in a sentence (for the audit log and the API's answer).
    pub fn describe(&self) -> String {
        match &self.incomplete {
            None => format!("{} files removed", self.files),
            Some(why) => format!(
                "{} files removed; the backup was incomplete ({why})",
                self.files
            ),
        }
    }
}

/// Why a backup whose metadata cannot be read (`e`, from reading it) is not complete, or `None`
/// when `e` is another failure.
pub fn incomplete_reason(e: &Error) -> Option<String> {
    match e {
        Error::CorruptMetadata { file, .. } if file == layout::BACKUP_META => {
            Some(format!("it had no readable {}", layout::BACKUP_META))
        }
        Error::CorruptMetadata { file, reason, .. } => {
            Some(format!("its {file} could not be read: {reason}"))
        }
        _ => None,
    }
}

/// Deletes everything under the backup's folder; the metadata that marks it complete goes first,
/// so an interrupted delete leaves an incomplete backup, never a damaged one that looks complete.
/// Returns the number of files removed.
pub async fn delete_backup(svc: &Milvault, name: &str) -> Result<usize> {
    crate::engine::names::validate_backup_name(name)?;
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

/// `delete` as a method of the service.
impl Milvault {
    /// Deletes a backup; returns the number of files removed.
    pub async fn delete_backup(&self, name: &str) -> Result<usize> {
        let r = delete_backup(self, name).await;
        self.summaries().forget(name);
        r
    }
}
