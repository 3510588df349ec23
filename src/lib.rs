//! milvault: backup and restore for the Milvus vector database.
//!
//! The layers, front to back (ARCHITECTURE.md draws them):
//! - front ends: [`cli`] (the local caller) and [`server`] (the portal's backend, REST v1/v2,
//!   gRPC, the router); the [`policy`] scheduler is a front end too;
//! - the one door: [`auth::gate::Gate`] (authorize, hide, audit) in [`auth`];
//! - jobs: [`jobs`] (the job model, the registry that runs and records jobs, name leases);
//! - the engine: [`engine`] (the service, one module per operation under `engine::commands`,
//!   the copy pipeline, logical backups, names); it knows nothing of HTTP or HTML;
//! - backends and state: [`milvus`] (gRPC client), [`storage`] (on `object_store`), [`format`]
//!   (milvus-backup's layout and JSON), [`db`] (the one SQLite file), [`config`].

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod format;
pub mod jobs;
pub mod milvus;
pub mod policy;
pub mod server;
pub mod storage;

pub use engine::Milvault;
pub use error::{Error, Result};
