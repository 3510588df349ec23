//! The engine: the service ([`Milvault`]) and what it does, one module per operation under
//! [`commands`], the copy pipeline ([`copy`]), logical backups ([`logical`]), incremental and
//! resumed backups, checksums, and the name rules ([`names`]). It knows nothing of HTTP or HTML;
//! every front end reaches it through the Gate ([`crate::auth::gate::Gate`]).

pub mod archive;
pub mod backup_query;
pub mod commands;
pub mod copy;
pub mod import_job;
pub mod import_plan;
pub mod incremental;
pub mod integrity;
pub mod logical;
pub mod meta_files;
pub mod names;
pub mod policy;
pub mod rbac;
pub mod service;
pub mod summary;

pub use service::Milvault;
