//! The `milvault` binary.

use clap::Parser;

/// glibc raises its mmap threshold each time a large mapped buffer is freed, after which buffers
/// of pages and row groups (4-16 MiB) come from per-thread heaps that keep what they once held:
/// a logical restore of 400,000 rows peaked at 304 MiB against 194 MiB for 200,000. A fixed
/// threshold keeps peak memory flat (92 MiB for both; benches/RESULTS.md section 5). Left alone
/// when `MALLOC_MMAP_THRESHOLD_` is set.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
        // buffers from 4 MiB up are mapped for themselves and given back to the system when freed
        const MMAP_THRESHOLD_BYTES: libc::c_int = 4 << 20;
        // SAFETY: mallopt only sets an allocator parameter; called before any other thread runs
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES);
        }
    }
}

fn main() {
    keep_large_buffers_out_of_the_heap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(rt) => rt.block_on(run()),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    }
}

async fn run() {
    // behave like other Unix tools when the reader of our output goes away (`milvault list | head`)
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MILVAULT_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = milvault::cli::Cli::parse();
    match milvault::cli::run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}
