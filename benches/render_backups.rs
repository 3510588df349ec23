//! Benchmark (not a test): server-side render time of the portal's Backups page with 1,000
//! backups in a local backup directory (history table + chart), through the real axum router,
//! and the time and bytes of REST v2's server-side pages, order, filters and per-day history.
//! Run: `cargo bench --bench render_backups` (BACKUPS=N to change the count; BENCH_S3_PORT=9000
//! to keep the backups on an S3 server instead of local disk).

use std::{sync::Arc, time::Instant};

use axum::body::Body;
use http_body_util::BodyExt;
use milvault::{
    config::Config,
    db::Db,
    engine::commands::create::write_meta,
    format::{
        BackupInfo, CollectionBackupInfo, MilvaultInfo, PartitionBackupInfo, SegmentBackupInfo,
    },
    jobs::registry::JobRegistry,
    Milvault,
};
use tower::ServiceExt;

fn backup(i: usize) -> BackupInfo {
    let ts = 1_790_000_000_000u64 + i as u64 * 3_600_000;
    let segs: Vec<SegmentBackupInfo> = (0..4)
        .map(|s| SegmentBackupInfo {
            segment_id: (i * 10 + s) as i64,
            collection_id: 1,
            partition_id: 2,
            num_of_rows: 25_000,
            size: 13_000_000 + (i as i64 % 17) * 100_000,
            ..Default::default()
        })
        .collect();
    let size: i64 = segs.iter().map(|s| s.size).sum();
    let coll = CollectionBackupInfo {
        collection_id: 1,
        db_name: "default".into(),
        collection_name: format!("products_{}", i % 7),
        partition_backups: vec![PartitionBackupInfo {
            partition_id: 2,
            partition_name: "_default".into(),
            collection_id: 1,
            segment_backups: segs,
            size,
            ..Default::default()
        }],
        backup_timestamp: ts,
        size,
        ..Default::default()
    };
    BackupInfo {
        id: format!("id-{i}"),
        name: format!("nightly_{i:04}"),
        backup_timestamp: ts,
        collection_backups: vec![coll],
        size,
        milvus_version: "v2.3.5".into(),
        milvault: Some(MilvaultInfo {
            start_time_ms: ts as i64,
            end_time_ms: ts as i64 + 20_000 + (i as i64 % 13) * 1000,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("BACKUPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("temp dir");
    // BENCH_S3_PORT=9000: the backups in bucket `milvault` of an S3 server on 127.0.0.1 (keys
    // minioadmin, as scripts/testenv/lib.sh start_s3 makes it), else in a local directory
    let storage: Vec<(String, String)> = match std::env::var("BENCH_S3_PORT") {
        Ok(port) => vec![
            ("minio.backupStorageType".into(), "minio".into()),
            ("minio.address".into(), "127.0.0.1".into()),
            ("minio.port".into(), port),
            ("minio.accessKeyID".into(), "minioadmin".into()),
            ("minio.secretAccessKey".into(), "minioadmin".into()),
            ("minio.backupBucketName".into(), "milvault".into()),
            (
                "minio.backupRootPath".into(),
                format!("bench_{}", std::process::id()),
            ),
        ],
        Err(_) => vec![
            ("minio.backupStorageType".into(), "local".into()),
            (
                "minio.backupRootPath".into(),
                dir.path().display().to_string(),
            ),
        ],
    };
    let mut sets = vec![
        ("minio.storageType".into(), "local".into()),
        ("milvus.port".into(), "1".into()),
    ];
    sets.extend(storage);
    let config = Config::from_yaml("", &sets).expect("config");
    let svc = Arc::new(Milvault::new(config).expect("service"));
    let t = Instant::now();
    for i in 0..n {
        write_meta(svc.backup_storage(), &backup(i))
            .await
            .expect("write metadata");
    }
    println!(
        "wrote {n} backups' metadata in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let registry = JobRegistry::new(svc, Db::in_memory().expect("job store"));
    let options = leptos::prelude::LeptosOptions::builder()
        .output_name("milvault")
        .site_root("target/site")
        .build();
    let app = milvault::server::router(registry, options);
    let mut times = Vec::new();
    let mut size = 0;
    for _ in 0..12 {
        let req = http::Request::get("/")
            .body(Body::empty())
            .expect("request");
        let t = Instant::now();
        let resp = app.clone().oneshot(req).await.expect("response");
        assert!(resp.status().is_success(), "status {}", resp.status());
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        size = body.len();
        let html = String::from_utf8_lossy(&body);
        assert!(
            html.contains(&format!("nightly_{:04}", n - 1)),
            "the newest backup is on the page"
        );
    }
    let first = times.remove(0);
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "Backups page with {n} backups: first render {first:.1} ms; then median {:.1} ms, min {:.1} ms, max {:.1} ms over {} renders; HTML {:.0} kB",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        times.len(),
        size as f64 / 1000.0
    );
    // the server-side page, order, filters and the per-day aggregate of REST v2
    for path in [
        "/api/v2/backups?limit=50".to_string(),
        format!("/api/v2/backups?limit=50&offset={}", n.saturating_sub(50)),
        "/api/v2/backups?limit=50&sort=-size&q=nightly_1".to_string(),
        "/api/v2/backup-history".to_string(),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..12 {
            let req = http::Request::get(path.as_str())
                .body(Body::empty())
                .expect("request");
            let t = Instant::now();
            let resp = app.clone().oneshot(req).await.expect("response");
            assert!(
                resp.status().is_success(),
                "{path}: status {}",
                resp.status()
            );
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            size = body.len();
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "GET {path}: median {:.1} ms, min {:.1} ms over {} requests; {:.1} kB",
            times[times.len() / 2],
            times[0],
            times.len(),
            size as f64 / 1000.0
        );
    }
}
