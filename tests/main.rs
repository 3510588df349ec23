//! Every integration test in one binary (one link instead of fifteen: each test binary carries the
//! whole engine, and fifteen of them filled CI's disk). A stage of `scripts/test.sh` runs one
//! module against the servers it started: `cargo test --test it -- local_storage::`.
//! Each module says at its top what it needs (Milvus on local storage or on S3, Milvus Lite, ...).

mod support;

mod aliases;
mod api;
mod archive;
mod auth;
mod backup_list;
mod backup_versions;
mod cross_site;
mod hostile_input;
mod local_storage;
mod logical;
mod milvus_backup_compat;
mod milvus_dies;
mod milvus_sign_in;
mod policies;
mod portal_errors;
mod portal_render;
mod postgres_state;
mod restore_races;
mod s3_storage;
mod scale;
mod travel;
