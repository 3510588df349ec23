//! Everything that speaks to Milvus: the gRPC client, the features of the connected version and
//! the conversions between Milvus' protobuf types and the backup format.

pub mod client;
pub mod features;
pub mod gc;
pub mod import_jobs;
pub mod rbac;
pub mod schema;

pub use client::{ImportProgress, ImportState, MilvusClient};
pub use features::Features;
