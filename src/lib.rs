//! milvault: backup and restore for the Milvus vector database.
//!
//! The engine: a Milvus client ([`milvus`]), storage on `object_store` ([`storage`]), the copy
//! pipeline ([`copy`]), milvus-backup's backup format ([`format`]), jobs with progress ([`job`]),
//! one module per operation ([`commands`]) and the service that ties them together
//! ([`service::Milvault`]). The CLI ([`cli`]), the REST API ([`rest`]), the gRPC API ([`grpc`]) and the portal
//! ([`web`]) are thin layers over the service.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod copy;
pub mod db;
pub mod error;
pub mod format;
pub mod grpc;
pub mod incremental;
pub mod integrity;
pub mod job;
pub mod logical;
pub mod milvus;
pub mod name_lease;
pub mod names;
pub mod policy;
pub mod registry;
pub mod rest;
pub mod resume;
pub mod retention;
pub mod scheduler;
pub mod service;
pub mod storage;
pub mod web;

pub use error::{Error, Result};
pub use service::Milvault;
