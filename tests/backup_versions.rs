//! Version-aware backup against the real Milvus 2.3.5 on SeaweedFS S3 (S3 stage): Milvus' GC
//! is paused through the management HTTP API while a backup runs and resumed after it, also when
//! it fails; on 2.3.5, which has no such API, the backup goes on and says so; the 2.3 layout
//! (no segment levels, no groups) is unchanged.

use std::sync::{Arc, Mutex};

use crate::support::*;
use milvault::{
    engine::commands::create::CreateBackupRequest,
    progress::{JobKind, Progress},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

const PAUSE_1H: &str =
    "GET /management/datacoord/garbage_collection/pause?collection_id=0&pause_seconds=3600 HTTP/1.1";
const RESUME: &str = "GET /management/datacoord/garbage_collection/resume HTTP/1.1";

/// A stand-in for Milvus' management API on 127.0.0.1: records each request line and answers
/// `{"msg":"OK"}`. Returns its address and the record.
async fn management_api() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf).to_string();
                record
                    .lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or_default().to_string());
                let body = r#"{"msg":"OK"}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                let _ = conn.write_all(answer.as_bytes()).await;
            });
        }
    });
    (addr, seen)
}

fn log_of(progress: &Progress) -> Vec<String> {
    progress
        .snapshot()
        .log
        .into_iter()
        .map(|l| l.message)
        .collect()
}

#[tokio::test]
async fn gc_is_paused_during_a_backup_and_resumed_after_it() {
    let (addr, seen) = management_api().await;
    let mut sets = s3_overrides("milvault", &unique("gcp"));
    sets.push(("backup.gcPause.address", addr));
    let svc = service(&sets);
    let name = unique("gc_ok");
    let progress = Progress::detached(JobKind::Backup);
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                collections: vec!["demo_products".into()],
                ..Default::default()
            },
            &progress,
        )
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_1H, RESUME]);
    let log = log_of(&progress);
    assert!(
        log.iter()
            .any(|l| l.starts_with("paused Milvus' garbage collection for 3600 s")),
        "{log:?}"
    );
    assert!(
        log.iter()
            .any(|l| l == "resumed Milvus' garbage collection"),
        "{log:?}"
    );
    // Milvus 2.3.5 reports no segment levels: the 2.3 layout, no groups, no L0
    let c = &info.collection_backups[0];
    assert!(c.l0_segments.is_empty());
    assert!(c.segments().count() > 0);
    assert!(c
        .segments()
        .all(|s| s.group_id == 0 && !s.is_l0 && s.storage_version == 0));
    let files = svc
        .backup_storage()
        .list_files(&format!("{name}/binlogs/insert_log"))
        .await
        .unwrap();
    // <name>/binlogs/insert_log/<coll>/<part>/<seg>/<field>/<log>: no group folder
    assert!(
        files.iter().all(|f| f.rel.split('/').count() == 8),
        "{files:?}"
    );
    svc.delete_backup(&name).await.unwrap();
}

#[tokio::test]
async fn gc_is_resumed_after_a_failed_backup() {
    let (addr, seen) = management_api().await;
    // Milvus' binlogs looked for in the wrong place: the backup fails while it reads segments,
    // with GC paused
    let mut sets = s3_overrides("milvault", &unique("gcf"));
    sets.retain(|(k, _)| *k != "minio.rootPath");
    sets.push(("minio.rootPath", "no-binlogs-here".into()));
    sets.push(("backup.gcPause.address", addr));
    let svc = service(&sets);
    let name = unique("gc_fail");
    let backup = |collection: String| {
        let svc = svc.clone();
        let name = name.clone();
        async move {
            svc.create_backup(
                CreateBackupRequest {
                    name,
                    collections: vec![collection],
                    ..Default::default()
                },
                &Progress::detached(JobKind::Backup),
            )
            .await
            .unwrap_err()
        }
    };
    let err = backup("demo_products".into()).await;
    assert!(err.to_string().contains("no binlogs"), "{err}");
    assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_1H, RESUME]);
    assert!(!svc.backup_storage().any_under(&name).await.unwrap());
    // a collection that does not exist is refused before GC is paused at all
    let err = backup(unique("no_such_collection")).await;
    assert!(err.to_string().contains("no_such_collection"), "{err}");
    assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_1H, RESUME]);
    assert!(!svc.backup_storage().any_under(&name).await.unwrap());
}

#[tokio::test]
async fn milvus_2_3_has_no_gc_pause_and_the_backup_goes_on() {
    // the real Milvus 2.3.5's management port: it answers 404 to the pause
    let mut sets = s3_overrides("milvault", &unique("gcn"));
    sets.push(("backup.gcPause.address", "http://127.0.0.1:9091".into()));
    let svc = service(&sets);
    let name = unique("gc_none");
    let progress = Progress::detached(JobKind::Backup);
    let info = svc
        .create_backup(
            CreateBackupRequest {
                name: name.clone(),
                collections: vec!["demo_products".into()],
                ..Default::default()
            },
            &progress,
        )
        .await
        .unwrap();
    assert!(info.total_rows() > 0);
    let log = log_of(&progress);
    let notes: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("GC pause not available"))
        .collect();
    assert_eq!(notes.len(), 1, "{log:?}");
    assert!(notes[0].contains("no GC pause API"), "{log:?}");
    assert!(!log.iter().any(|l| l.contains("resumed")), "{log:?}");
    svc.delete_backup(&name).await.unwrap();
}
