//! Generates milvault's gRPC API from proto/milvault.proto with a vendored protoc (no download,
//! nothing to install), and its file descriptor set for server reflection.

use std::{env, path::PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/milvault.proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // prost-build reads PROTOC from the environment (a build script is single-threaded).
    env::set_var("PROTOC", protoc);
    let out = PathBuf::from(env::var("OUT_DIR")?);
    tonic_build::configure()
        .file_descriptor_set_path(out.join("milvault_descriptor.bin"))
        .compile_protos(&["proto/milvault.proto"], &["proto"])?;
    Ok(())
}
