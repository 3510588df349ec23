//! A backup's metadata files (milvus-backup's `meta/` folder): read, with the backup named by its
//! folder, and written, `backup_meta.json` last. Every command reads and writes them here.

use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::{
    error::{Error, Result},
    format::{layout, BackupInfo, LevelInfos},
    storage::Storage,
};

/// Reads a complete backup's metadata: `full_meta.json` when there is one, else the level files.
pub async fn read(storage: &Storage, name: &str) -> Result<BackupInfo> {
    crate::engine::names::validate_backup_name(name)?;
    let read = |file: &'static str| async move {
        let bytes = storage.read_opt(&layout::meta_file(name, file)).await?;
        Ok::<_, Error>(bytes)
    };
    let Some(top) = read(layout::BACKUP_META).await? else {
        if storage.any_under(&layout::backup_dir(name)).await? {
            return Err(Error::CorruptMetadata {
                name: name.into(),
                file: layout::BACKUP_META.into(),
                reason: "missing: the backup never completed; delete it with `milvault delete`"
                    .into(),
            });
        }
        return Err(Error::BackupNotFound(name.into()));
    };
    info_from(storage, name, &top).await
}

/// The metadata of backup `name` whose `backup_meta.json` holds `top`, the rest read from its
/// folder: `full_meta.json` when there is one, else the level files. An import reads the
/// metadata this way before it writes the `backup_meta.json` that makes the backup visible.
pub async fn info_from(storage: &Storage, name: &str, top: &[u8]) -> Result<BackupInfo> {
    let read = |file: &'static str| async move {
        let bytes = storage.read_opt(&layout::meta_file(name, file)).await?;
        Ok::<_, Error>(bytes)
    };
    let top: BackupInfo = parse(name, layout::BACKUP_META, top)?;
    if let Some(full) = read(layout::FULL_META).await? {
        return Ok(named_by_folder(
            name,
            parse(name, layout::FULL_META, &full)?,
        ));
    }
    let level = |file: &'static str| async move {
        match read(file).await? {
            Some(b) => Ok(b),
            None => Err(Error::CorruptMetadata {
                name: name.into(),
                file: file.into(),
                reason: "missing".into(),
            }),
        }
    };
    let colls: LevelInfos<_> = parse(
        name,
        layout::COLLECTION_META,
        &level(layout::COLLECTION_META).await?,
    )?;
    let parts: LevelInfos<_> = parse(
        name,
        layout::PARTITION_META,
        &level(layout::PARTITION_META).await?,
    )?;
    let segs: LevelInfos<_> = parse(
        name,
        layout::SEGMENT_META,
        &level(layout::SEGMENT_META).await?,
    )?;
    Ok(named_by_folder(
        name,
        BackupInfo::from_levels(top, colls, parts, segs),
    ))
}

/// A backup is the folder it lives in: whatever name its metadata records (a copy made with a
/// bucket tool keeps the original's, a crafted one may name another backup or `../x`), every
/// command reads and restores it under its folder's name, from its own files only.
fn named_by_folder(folder: &str, mut info: BackupInfo) -> BackupInfo {
    if info.name != folder {
        tracing::info!(
            folder,
            recorded = %info.name,
            "the backup's metadata names another backup (a copy?): it is read as '{folder}'"
        );
        info.name = folder.to_string();
    }
    info
}

fn parse<T: DeserializeOwned>(name: &str, file: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptMetadata {
        name: name.into(),
        file: file.into(),
        reason: e.to_string(),
    })
}

/// Writes the metadata files; `backup_meta.json`, which marks the backup complete, goes last.
pub async fn write_meta(storage: &Storage, info: &BackupInfo) -> Result<()> {
    let (top, colls, parts, segs) = info.to_levels();
    let json = |v: &dyn erased::Json| v.to_bytes();
    let name = &info.name;
    storage
        .write(&layout::meta_file(name, layout::SEGMENT_META), json(&segs)?)
        .await?;
    storage
        .write(
            &layout::meta_file(name, layout::PARTITION_META),
            json(&parts)?,
        )
        .await?;
    storage
        .write(
            &layout::meta_file(name, layout::COLLECTION_META),
            json(&colls)?,
        )
        .await?;
    storage
        .write(&layout::meta_file(name, layout::FULL_META), json(info)?)
        .await?;
    storage
        .write(&layout::meta_file(name, layout::BACKUP_META), json(&top)?)
        .await?;
    Ok(())
}

mod erased {
    use super::*;
    /// Object-safe JSON serialisation.
    pub trait Json {
        fn to_bytes(&self) -> Result<Bytes>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_bytes(&self) -> Result<Bytes> {
            serde_json::to_vec(self)
                .map(Bytes::from)
                .map_err(|e| Error::InvalidRequest(format!("cannot encode metadata: {e}")))
        }
    }
}
