//! milvault: backup and restore for the Milvus vector database.
//!
//! The layers, front to back (ARCHITECTURE.md draws them):
//! - front ends: [`cli`] (the local caller) and [`server`] (the portal's backend, REST v1/v2,
//!   gRPC, the policy scheduler, the router);
//! - the one door: [`auth::gate::Gate`] (authorize, hide, audit) in [`auth`];
//! - jobs: [`jobs`] (the registry that runs and records jobs, name leases, stored policies);
//! - the engine: [`engine`] (the service, one module per operation under `engine::commands`,
//!   the copy pipeline, logical backups, the import plan, names, policy rules); it knows nothing
//!   of HTTP or HTML;
//! - backends and state: [`milvus`] (gRPC client), [`storage`] (on `object_store`), [`format`](mod@format)
//!   (milvus-backup's layout and JSON), [`db`] (the one SQLite file), [`config`];
//! - below all: [`progress`] (the job model), [`error`].

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod engine;
pub mod error;
pub mod format;
pub mod jobs;
#[cfg(test)]
mod layers;
pub mod milvus;
pub mod progress;
pub mod server;
pub mod storage;

pub use engine::Milvault;
pub use error::{Error, Result};
