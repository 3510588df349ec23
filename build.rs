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
    compress_debug_sections();
    Ok(())
}

/// Debug builds keep line tables (backtraces with file:line), but the engine's monomorphized type
/// names make them ~600 MB of `.debug_str` per linked binary; zlib in the linker shrinks each
/// binary about four times (835 MB -> 214 MB measured) and backtraces still read it.
fn compress_debug_sections() {
    let target = env::var("TARGET").unwrap_or_default();
    let debug = env::var("DEBUG").is_ok_and(|d| d != "false" && d != "0");
    if debug && target.contains("linux-gnu") {
        println!("cargo:rustc-link-arg=-Wl,--compress-debug-sections=zlib");
    }
}
