//! The backup format: milvus-backup's metadata files and directory layout, so that backups made by
//! either tool can be read by the other.

/// What each milvus-backup version writes, checked against milvault's files: tests only (it is
/// not shipped in the binary).
#[cfg(test)]
pub mod compat;
pub mod layout;
pub mod manifest;
pub mod meta;
pub mod rbac;

pub use meta::*;
