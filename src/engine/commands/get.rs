//! `get`: one backup's metadata.

use crate::{
    engine::{meta_files, service::Milvault},
    error::Result,
    format::BackupInfo,
};

/// Reads a complete backup's metadata (see [`meta_files::read`]).
pub async fn get_backup(svc: &Milvault, name: &str) -> Result<BackupInfo> {
    meta_files::read(svc.backup_storage(), name).await
}

/// `get` as a method of the service.
impl Milvault {
    /// One backup's metadata.
    pub async fn get_backup(&self, name: &str) -> Result<BackupInfo> {
        get_backup(self, name).await
    }
}
