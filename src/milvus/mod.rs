//! Everything that speaks to Milvus: the gRPC client and the conversions between Milvus' protobuf
//! types and the backup format. Milvus-version specifics (2.3's import path) stay in here.

pub mod client;
pub mod gc;
pub mod schema;

pub use client::{ImportProgress, ImportState, MilvusClient};
