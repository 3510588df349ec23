//! Backups as one archive (a tar, or a zstd-compressed tar) that travels: written from a backup's
//! folder ([`export`]) and read back into the backup storage as a new backup ([`import`]), each
//! file streamed, in bounded memory.

pub mod entry_path;
pub mod export;
pub mod import;
pub mod limit;

#[cfg(test)]
pub(crate) mod tests;
