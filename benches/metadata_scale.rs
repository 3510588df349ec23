//! Benchmark (not a test): memory and time of the metadata paths at scale, in a local backup
//! directory. A backup root with BACKUPS backups (default 20,000) is listed; one backup with
//! FILES binlogs (default 1,000,000; empty files, a manifest entry each) is verified and used as
//! an incremental base. Prints each step's wall time and how much its peak RSS rose.
//! Run: `cargo bench --bench metadata_scale` (release) or `cargo test --release --bench
//! metadata_scale`; BACKUPS=N FILES=M to change the sizes.

use std::{collections::BTreeMap, time::Instant};

use milvault::{
    config::Config,
    engine::commands::create::write_meta,
    format::{
        manifest::{Manifest, ManifestEntry, ALGORITHM},
        BackupInfo, CollectionBackupInfo, MilvaultInfo,
    },
    progress::{JobKind, Progress},
    Milvault,
};

fn info(name: &str, i: usize, files: u64) -> BackupInfo {
    let ts = 1_790_000_000_000u64 + i as u64 * 3_600_000;
    BackupInfo {
        id: format!("id-{i}"),
        name: name.into(),
        backup_timestamp: ts,
        collection_backups: vec![CollectionBackupInfo {
            collection_id: 1,
            db_name: "default".into(),
            collection_name: "products".into(),
            ..Default::default()
        }],
        milvus_version: "v2.3.5".into(),
        milvault: Some(MilvaultInfo {
            file_count: files,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Peak resident set (VmHWM) in KiB.
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak to the current resident set (Linux `clear_refs` 5).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn measure<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    reset_peak();
    let before = peak_kib();
    let t = Instant::now();
    let out = f.await;
    println!(
        "{what}: {:.2} s, peak RSS +{} MiB",
        t.elapsed().as_secs_f64(),
        peak_kib().saturating_sub(before) / 1024
    );
    out
}

#[tokio::main]
async fn main() {
    let (backups, files) = (env("BACKUPS", 20_000), env("FILES", 1_000_000));
    let dir = tempfile::tempdir().expect("temp dir");
    let sets = [
        ("minio.backupStorageType", "local".to_string()),
        ("minio.backupRootPath", dir.path().to_string_lossy().into()),
    ]
    .map(|(k, v)| (k.to_string(), v));
    let svc = Milvault::new(Config::from_yaml("", &sets).expect("config")).expect("service");
    let storage = svc.backup_storage();

    let t = Instant::now();
    for i in 0..backups {
        write_meta(storage, &info(&format!("b{i:06}"), i, 0))
            .await
            .expect("metadata");
    }
    println!(
        "wrote {backups} backups' metadata in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let listed = measure(&format!("list of {backups} backups"), svc.list_backups()).await;
    assert_eq!(listed.as_ref().map(Vec::len).unwrap_or(0), backups);
    drop(listed);

    // one backup of `files` empty binlogs and its manifest
    let t = Instant::now();
    let big = "big";
    let empty = ManifestEntry {
        size: 0,
        blake3: blake3::hash(b"").to_hex().to_string(),
    };
    let mut entries = BTreeMap::new();
    for n in 0..files {
        let rel = format!(
            "binlogs/insert_log/1/2/{}/{}/{}",
            1000 + n / 1000,
            100 + (n / 100) % 10,
            n
        );
        let path = dir.path().join(big).join(&rel);
        if n % 100 == 0 {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
        }
        std::fs::write(&path, b"").expect("file");
        entries.insert(rel, empty.clone());
    }
    let manifest = Manifest {
        version: 1,
        algorithm: ALGORITHM.into(),
        files: entries,
    };
    let json = serde_json::to_vec(&manifest).expect("json");
    let manifest_bytes = json.len();
    storage
        .write(
            &milvault::engine::integrity::manifest_path(big),
            json.into(),
        )
        .await
        .expect("manifest");
    drop(manifest);
    write_meta(storage, &info(big, backups + 1, files as u64))
        .await
        .expect("metadata");
    println!(
        "wrote a backup of {files} files (manifest {} MiB) in {:.1} s",
        manifest_bytes / (1 << 20),
        t.elapsed().as_secs_f64()
    );
    let report = measure(
        &format!("verify of the {files}-file backup"),
        svc.verify(big, &Progress::detached(JobKind::Verify)),
    )
    .await
    .expect("verify");
    assert_eq!(report.files_checked as usize, files);
    assert!(report.problems.is_empty());
    // the plan of a new backup of the same files, then the base applied to it
    let plan_peak = peak_kib();
    let mut items: Vec<milvault::engine::copy::CopyItem> = (0..files)
        .map(|n| {
            let rel = format!(
                "binlogs/insert_log/1/2/{}/{}/{}",
                1000 + n / 1000,
                100 + (n / 100) % 10,
                n
            );
            milvault::engine::copy::CopyItem {
                src: rel.trim_start_matches("binlogs/").to_string(),
                dst: format!("next/{rel}"),
                size: 0,
                group: 0,
                base: None,
            }
        })
        .collect();
    println!(
        "the next backup's plan of {files} files: peak RSS {} MiB (+{} MiB)",
        peak_kib() / 1024,
        peak_kib().saturating_sub(plan_peak) / 1024
    );
    let summaries = svc.list_backups().await.expect("list");
    let only_big: Vec<_> = summaries.into_iter().filter(|s| s.name == big).collect();
    let taken = measure(
        &format!("the {files}-file backup found and applied as an incremental base"),
        async {
            let bases = milvault::engine::incremental::find_bases(
                storage,
                &only_big,
                &["default.products".to_string()],
                &Progress::detached(JobKind::Backup),
            )
            .await
            .expect("bases");
            assert_eq!(bases.names, vec![big.to_string()]);
            bases.apply("next", &mut items).await.expect("apply")
        },
    )
    .await;
    assert_eq!(taken, files);
    assert!(items.iter().all(|i| i.base.is_some()));
}
