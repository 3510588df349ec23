//! The backup format: milvus-backup's metadata files and directory layout, so that backups made by
//! either tool can be read by the other.

pub mod compat;
pub mod layout;
pub mod manifest;
pub mod meta;
pub mod rbac;

pub use meta::*;
