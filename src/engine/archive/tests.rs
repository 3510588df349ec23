//! Export and import on an in-memory store: a round trip under another name, and the archives
//! that must be refused leaving nothing behind.

use std::sync::Arc;

use tokio_tar::{Builder, EntryType, Header};

use super::{export::write_archive, import::read_archive};
use crate::{
    engine::{integrity, meta_files::write_meta},
    error::{Error, Result},
    format::{layout, BackupInfo, CollectionBackupInfo},
    progress::{JobKind, Progress},
    storage::Storage,
};

fn memory() -> Storage {
    Storage::from_store(
        Arc::new(object_store::memory::InMemory::new()),
        "backups",
        crate::storage::tests_support::config(),
    )
}

const FILES: [&str; 3] = [
    "binlogs/insert_log/1/2/3/100/7",
    "binlogs/insert_log/1/2/3/101/8",
    "binlogs/delta_log/1/2/3/9",
];

/// A complete backup `name` with three binlogs, its manifest and metadata.
pub(crate) async fn backup(s: &Storage, name: &str) {
    for (i, f) in FILES.iter().enumerate() {
        s.write(&format!("{name}/{f}"), vec![i as u8; 1000 + i].into())
            .await
            .unwrap();
    }
    let (progress, _h) = Progress::new(JobKind::Verify, name);
    let files = FILES.iter().map(|f| f.to_string()).collect();
    integrity::write_manifest(s, name, files, Default::default(), 2, &progress)
        .await
        .unwrap();
    let info = BackupInfo {
        id: "id1".into(),
        name: name.into(),
        collection_backups: vec![CollectionBackupInfo {
            collection_name: "c".into(),
            db_name: "shop".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    write_meta(s, &info).await.unwrap();
}

async fn export(s: &Storage, name: &str, zstd: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_archive(s, name, zstd, &mut out).await.unwrap();
    out
}

async fn import(s: &Storage, name: Option<&str>, archive: Vec<u8>) -> Result<String> {
    read_archive(
        s,
        name,
        archive.as_slice(),
        Some(1 << 30),
        |_| Ok(()),
        |_, _| Ok(()),
    )
    .await
    .map(|r| r.backup)
}

/// The archive's entries as (path, bytes), in order.
async fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>)> {
    use futures::StreamExt;
    use tokio::io::AsyncReadExt;
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

/// A tar of `entries` as given (paths unchecked, as a crafted archive has them).
async fn tar_of(entries: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut t = Builder::new_non_terminated(Vec::new());
    for (p, b) in entries {
        let mut h = Header::new_gnu();
        h.set_entry_type(EntryType::Regular);
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        // the raw name field: `append_data` itself refuses `..`
        let name = &mut h.as_old_mut().name;
        name[..p.len()].copy_from_slice(p.as_bytes());
        h.set_cksum();
        t.append(&h, b.as_slice()).await.unwrap();
    }
    t.into_inner().await.unwrap()
}

async fn nothing_under(s: &Storage, name: &str) -> bool {
    !s.any_under(&layout::backup_dir(name)).await.unwrap()
}

#[tokio::test]
async fn a_backup_travels_under_another_name_and_restores_from_its_own_files() {
    for zstd in [false, true] {
        let (from, to) = (memory(), memory());
        backup(&from, "orig").await;
        let archive = export(&from, "orig", zstd).await;
        assert_eq!(
            import(&to, Some("copy"), archive.clone()).await.unwrap(),
            "copy"
        );
        // the metadata names the copy, the files are where the layout puts them
        let meta = to
            .read_opt(&layout::meta_file("copy", layout::BACKUP_META))
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&meta).unwrap();
        assert_eq!(v["name"], "copy");
        for f in FILES {
            assert!(
                to.size_of(&format!("copy/{f}")).await.unwrap().is_some(),
                "{f}"
            );
        }
        let manifest = integrity::read_manifest(&to, "copy")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(manifest.files.len(), 3);
        // without a name: the recorded one; a second import of it is refused
        assert_eq!(import(&to, None, archive.clone()).await.unwrap(), "orig");
        let again = import(&to, None, archive).await.unwrap_err();
        assert!(
            matches!(again, Error::BackupExists(ref n) if n == "orig"),
            "{again}"
        );
    }
}

#[tokio::test]
async fn the_marker_comes_first_and_entries_are_relative() {
    let s = memory();
    backup(&s, "b").await;
    let es = entries(&export(&s, "b", false).await).await;
    assert_eq!(es[0].0, "meta/backup_meta.json");
    assert_eq!(es[1].0, "meta/milvault_manifest.json");
    assert!(es
        .iter()
        .all(|(p, _)| !p.starts_with("b/") && !p.starts_with('/')));
    assert_eq!(es.len(), 3 + 6);
}

/// Imports `archive` as `new`: refused with an error mentioning `says`, nothing left.
async fn refused(archive: Vec<u8>, says: &str) {
    let s = memory();
    let e = import(&s, Some("new"), archive).await.unwrap_err();
    assert!(matches!(e, Error::BadArchive(_)), "{e}");
    assert!(e.to_string().contains(says), "wanted '{says}' in: {e}");
    assert!(nothing_under(&s, "new").await, "files left after: {e}");
}

#[tokio::test]
async fn damaged_and_crafted_archives_are_refused_and_leave_nothing() {
    let s = memory();
    backup(&s, "b").await;
    let good = export(&s, "b", false).await;
    let es = entries(&good).await;

    // truncated half-way through a binlog
    refused(good[..good.len() / 2].to_vec(), "truncated").await;
    // a binlog missing entirely
    let missing: Vec<_> = es.iter().filter(|(p, _)| p != FILES[2]).cloned().collect();
    refused(tar_of(&missing).await, "missing").await;
    // one byte changed in a binlog
    let mut changed = es.clone();
    let i = changed.iter().position(|(p, _)| p == FILES[0]).unwrap();
    changed[i].1[10] ^= 0xff;
    refused(tar_of(&changed).await, "changed").await;
    // a path escaping the folder, an absolute one, an extra file
    for (path, says) in [
        ("../escape", "outside the backup's folder"),
        ("/etc/x", "absolute path"),
        ("binlogs/extra", "not in its manifest"),
    ] {
        let mut crafted = es.clone();
        crafted.push((path.into(), b"x".to_vec()));
        refused(tar_of(&crafted).await, says).await;
    }
    // no manifest, no marker, not a tar at all
    let no_manifest: Vec<_> = es
        .iter()
        .filter(|(p, _)| !p.ends_with("milvault_manifest.json"))
        .cloned()
        .collect();
    refused(tar_of(&no_manifest).await, "no meta/milvault_manifest.json").await;
    refused(tar_of(&es[1..]).await, "no meta/backup_meta.json").await;
    refused(b"hello, not a tar".repeat(100), "tar").await;
}

#[tokio::test]
async fn limits_names_and_authorization() {
    let s = memory();
    backup(&s, "b").await;
    let good = export(&s, "b", false).await;
    // larger than the limit
    let e = read_archive(
        &s,
        Some("n1"),
        good.as_slice(),
        Some(2000),
        |_| Ok(()),
        |_, _| Ok(()),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::ArchiveTooLarge { limit: 2000 }), "{e}");
    assert!(nothing_under(&s, "n1").await);
    // refused by `allow` (the databases): nothing visible, nothing left
    let e = read_archive(
        &s,
        Some("n2"),
        good.as_slice(),
        None,
        |_| Ok(()),
        |_, info| {
            assert_eq!(info.collection_backups[0].db_name, "shop");
            Err(Error::Forbidden("not yours".into()))
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    assert!(nothing_under(&s, "n2").await);
    // the claim is asked for the target name before anything is written
    let e = read_archive(
        &s,
        Some("n3"),
        good.as_slice(),
        None,
        |n| Err::<(), _>(Error::BackupInProgress(n.into())),
        |_, _| Ok(()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::BackupInProgress(ref n) if n == "n3"),
        "{e}"
    );
    // an invalid name
    let e = import(&s, Some("../x"), good).await.unwrap_err();
    assert!(matches!(e, Error::InvalidRequest(_)), "{e}");
}
