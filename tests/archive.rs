//! Backup archives against a real Milvus 2.3.5 on local storage (the local-storage stage of
//! scripts/test.sh): a backup exported (CLI and REST), imported under another name into an
//! empty second backup directory, the original deleted, the copy restored row for row; damaged
//! and crafted archives refused, leaving no backup and no file.

use std::path::Path;

use crate::support::*;
use futures::StreamExt;
use milvault::{
    db::Db,
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    jobs::registry::JobRegistry,
    progress::{JobKind, Progress},
    server::grpc::pb::{self, backup_service_client::BackupServiceClient},
};
use tokio::io::AsyncReadExt;

fn overrides(backup_dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("minio.storageType", "local".into()),
        ("minio.rootPath", env("MILVAULT_TEST_MILVUS_ROOT")),
        ("minio.backupStorageType", "local".into()),
        (
            "minio.backupRootPath",
            backup_dir.to_string_lossy().into_owned(),
        ),
    ]
}

/// Runs the CLI on backup directory `dir` (its job database beside it).
fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut all: Vec<String> = overrides(dir)
        .into_iter()
        .flat_map(|(k, v)| ["--set".to_string(), format!("{k}={v}")])
        .collect();
    all.push("--job-db".into());
    all.push(dir.with_extension("sqlite").to_string_lossy().into_owned());
    all.extend(args.iter().map(|s| s.to_string()));
    cli(&all.iter().map(String::as_str).collect::<Vec<_>>())
}

/// A backup of `demo_products` in `dir`.
async fn backup_products(dir: &Path, name: &str) {
    let svc = service(&overrides(dir));
    let req = CreateBackupRequest {
        name: name.into(),
        collections: vec!["demo_products".into()],
        ..Default::default()
    };
    svc.create_backup(req, &Progress::detached(JobKind::Backup))
        .await
        .unwrap();
}

#[tokio::test]
async fn cli_export_import_under_a_new_name_then_restore_from_the_copy_row_for_row() {
    let (a, b) = (work_dir(&unique("arch_a")), work_dir(&unique("arch_b")));
    let (name, copy) = (unique("orig"), unique("moved"));
    backup_products(&a, &name).await;
    let file = a.with_extension("tar.zst");
    let out = file.to_string_lossy().into_owned();
    let (code, o, e) = run(&a, &["export", "-n", &name, "-o", &out]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains("exported backup"), "{o}");
    let magic = std::fs::read(&file).unwrap();
    assert_eq!(&magic[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd by its name");
    // an existing file is not overwritten
    let (code, _, e) = run(&a, &["export", "-n", &name, "-o", &out]);
    assert_ne!(code, 0);
    assert!(e.contains("exists already"), "{e}");

    // into an empty second backup directory, under another name
    assert!(files_under(&b).is_empty());
    let (code, o, e) = run(&b, &["import", &out, "-n", &copy]);
    assert_eq!(code, 0, "{o}{e}");
    assert!(o.contains(&format!("from an archive of '{name}'")), "{o}");
    let meta: serde_json::Value = serde_json::from_slice(
        &std::fs::read(b.join(&copy).join("meta/backup_meta.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["name"], copy.as_str(), "the metadata names the copy");
    let original_files = files_under(&a.join(&name));
    assert_eq!(files_under(&b.join(&copy)), original_files);
    // importing it again is refused: nothing is overwritten
    let (code, _, e) = run(&b, &["import", &out, "-n", &copy]);
    assert_ne!(code, 0);
    assert!(e.contains("already exists"), "{e}");

    // the original goes; the copy restores from its own files
    let (code, o, e) = run(&a, &["delete", "-n", &name]);
    assert_eq!(code, 0, "{o}{e}");
    let svc = service(&overrides(&b));
    let db = unique("imported");
    let req = RestoreRequest {
        name: copy.clone(),
        renames: vec![format!("default.demo_products:{db}.products")],
        ..Default::default()
    };
    let report = svc
        .restore(req, &Progress::detached(JobKind::Restore))
        .await
        .unwrap();
    assert_eq!(report.collections[0].target, format!("{db}.products"));
    let rows = assert_same_data("default", "demo_products", &db, "products");
    assert_eq!(rows, 2700);
    let _ = std::fs::remove_file(&file);
}

/// A server over backup directory `dir` whose uploads may be `max` bytes.
async fn server(dir: &Path, max: u64) -> Portal {
    let mut o = overrides(dir);
    o.push(("backup.maxArchiveBytes", max.to_string()));
    let registry = JobRegistry::new(service(&o), Db::in_memory().unwrap());
    Portal::start(registry, Default::default()).await
}

/// The archive's entries as (path, bytes).
async fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tokio_tar::Archive::new(archive);
    let mut es = a.entries().unwrap();
    let mut out = Vec::new();
    while let Some(e) = es.next().await {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).await.unwrap();
        out.push((p, b));
    }
    out
}

/// A tar of `entries` with their paths as given (a crafted archive's, `..` included).
async fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = tokio_tar::Builder::new_non_terminated(Vec::new());
    for (p, b) in entries {
        let mut h = tokio_tar::Header::new_gnu();
        h.set_entry_type(tokio_tar::EntryType::Regular);
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        let name = &mut h.as_old_mut().name;
        name[..p.len()].copy_from_slice(p.as_bytes());
        h.set_cksum();
        t.append(&h, b.as_slice()).await.unwrap();
    }
    t.into_inner().await.unwrap()
}

async fn upload(p: &Portal, query: &str, body: Vec<u8>) -> (u16, serde_json::Value) {
    let r = p
        .http
        .post(p.url(&format!("/api/v2/backups/archive{query}")))
        .header("content-type", "application/x-tar")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or_default())
}

#[tokio::test]
async fn rest_export_and_upload_refusing_damaged_and_crafted_archives() {
    let (a, b) = (work_dir(&unique("rest_a")), work_dir(&unique("rest_b")));
    let name = unique("orig");
    backup_products(&a, &name).await;
    let from = server(&a, 1 << 40).await;
    let r = from
        .http
        .get(from.url(&format!("/api/v2/backups/{name}/archive")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-tar");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"{name}.tar\"").as_str()
    );
    let tar = r.bytes().await.unwrap().to_vec();
    let es = entries(&tar).await;
    assert_eq!(es[0].0, "meta/backup_meta.json");
    assert_eq!(es.len(), files_under(&a.join(&name)).len());
    let missing = from
        .http
        .get(from.url("/api/v2/backups/no_such_backup/archive"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    // refused uploads: each says why and leaves nothing in the (empty) directory
    let to = server(&b, 1 << 40).await;
    let binlog = es
        .iter()
        .position(|(p, b)| p.starts_with("binlogs/insert_log/") && b.len() > 16)
        .unwrap();
    let mut tampered = es.clone();
    tampered[binlog].1[8] ^= 0x01;
    let mut escaping = es.clone();
    escaping.push(("../escape".into(), b"x".to_vec()));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", tar[..tar.len() * 2 / 3].to_vec(), "truncated"),
        (
            "tampered",
            tar_of(&tampered).await,
            "changed (checksum differs)",
        ),
        (
            "escaping",
            tar_of(&escaping).await,
            "outside the backup's folder",
        ),
    ];
    for (what, body, says) in cases {
        let (status, v) = upload(&to, "?name=refused", body).await;
        assert_eq!(status, 400, "{what}: {v}");
        assert_eq!(v["error"]["code"], "bad_archive", "{what}: {v}");
        let msg = v["error"]["message"].as_str().unwrap_or("");
        assert!(msg.contains(says), "{what}: wanted '{says}' in {msg}");
        assert!(
            files_under(&b).is_empty(),
            "{what} left {:?}",
            files_under(&b)
        );
    }
    // larger than the limit: 413
    let small = server(&b, 4096).await;
    let (status, v) = upload(&small, "?name=big", tar.clone()).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["error"]["code"], "archive_too_large");
    assert!(files_under(&b).is_empty());

    // the good one, under its recorded name: visible, and intact by its manifest
    let (status, v) = upload(&to, "", tar).await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["backup"], name.as_str());
    let (status, _) = upload(&to, "", tar_of(&es).await).await;
    assert_eq!(status, 409, "a second import of one name is refused");
    let got = to
        .http
        .get(to.url(&format!("/api/v2/backups/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status().as_u16(), 200);
    let report = service(&overrides(&b))
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.ok(), "{report:?}");
}

async fn grpc(p: &Portal) -> BackupServiceClient<tonic::transport::Channel> {
    let channel = tonic::transport::Channel::from_shared(p.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    BackupServiceClient::new(channel)
}

#[tokio::test]
async fn grpc_export_and_import_in_chunks() {
    let (a, b) = (work_dir(&unique("grpc_a")), work_dir(&unique("grpc_b")));
    let name = unique("orig");
    backup_products(&a, &name).await;
    let (from, to) = (server(&a, 1 << 40).await, server(&b, 1 << 40).await);
    let mut chunks = grpc(&from)
        .await
        .export_backup(pb::ExportBackupRequest {
            name: name.clone(),
            zstd: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut archive = Vec::new();
    while let Some(c) = chunks.message().await.unwrap() {
        archive.extend_from_slice(&c.data);
    }
    assert_eq!(&archive[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    let e = grpc(&from)
        .await
        .export_backup(pb::ExportBackupRequest {
            name: "no_such_backup".into(),
            zstd: false,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);

    // sent in 60 KiB messages, the name in the first
    let copy = unique("copy");
    let msgs: Vec<pb::ImportBackupChunk> = archive
        .chunks(60 * 1024)
        .enumerate()
        .map(|(i, c)| pb::ImportBackupChunk {
            name: if i == 0 { copy.clone() } else { String::new() },
            data: c.to_vec(),
            ..Default::default()
        })
        .collect();
    let r = grpc(&to)
        .await
        .import_backup(futures::stream::iter(msgs.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (r.backup.as_str(), r.renamed_from.as_str()),
        (copy.as_str(), name.as_str())
    );
    assert_eq!(files_under(&b.join(&copy)), files_under(&a.join(&name)));
    let e = grpc(&to)
        .await
        .import_backup(futures::stream::iter(msgs.clone()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::AlreadyExists, "{e}");
    // cut short: refused, nothing left
    let short: Vec<_> = msgs[..msgs.len() / 2]
        .iter()
        .cloned()
        .map(|mut m| {
            m.name = if m.name.is_empty() {
                m.name
            } else {
                "short".into()
            };
            m
        })
        .collect();
    let e = grpc(&to)
        .await
        .import_backup(futures::stream::iter(short))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e}");
    assert!(!b.join("short").exists() || files_under(&b.join("short")).is_empty());
}
