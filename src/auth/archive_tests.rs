//! The Gate's rules for archives: who may export and import, the name claimed while an import
//! writes, and the audit entries.

use std::sync::Arc;

use super::{access::Caller, audit::Outcome, Gate, Principal, Role};
use crate::{
    config::Config,
    db::{audit::AuditFilter, Db},
    engine::{
        archive::tests::backup,
        commands::archive::{ExportOptions, ImportOptions},
    },
    error::Error,
    jobs::{name_lease::NameUse, registry::JobRegistry},
    Milvault,
};

fn registry(dir: &std::path::Path) -> Arc<JobRegistry> {
    let config = Config::from_yaml(
        "",
        &[
            ("minio.backupStorageType".into(), "local".into()),
            ("minio.backupRootPath".into(), dir.display().to_string()),
        ],
    )
    .unwrap();
    JobRegistry::new(
        Arc::new(Milvault::new(config).unwrap()),
        Db::in_memory().unwrap(),
    )
}

fn gate(reg: &Arc<JobRegistry>, role: Role, databases: &[&str]) -> Gate {
    Gate::new(
        reg,
        Caller {
            who: Principal {
                user: format!("{role:?}").to_lowercase(),
                role,
                databases: databases.iter().map(|d| d.to_string()).collect(),
                via: "test".into(),
            },
            source: "test".into(),
        },
    )
}

async fn export(g: &Gate, name: &str) -> crate::error::Result<Vec<u8>> {
    let e = g
        .export_backup(&ExportOptions {
            name: name.into(),
            zstd: true,
        })
        .await?;
    let mut out = Vec::new();
    e.write(&mut out).await?;
    Ok(out)
}

fn named(name: &str) -> ImportOptions {
    ImportOptions {
        name: Some(name.into()),
    }
}

#[tokio::test]
async fn export_needs_read_access_import_the_right_to_back_up_its_databases() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let storage = reg.service().backup_storage().clone();
    backup(&storage, "b").await; // holds database `shop`
    let admin = gate(&reg, Role::Admin, &[]);
    let archive = export(&admin, "b").await.unwrap();

    // outside the caller's databases: answered as missing
    let other = gate(&reg, Role::Member, &["other"]);
    let e = export(&other, "b").await.unwrap_err();
    assert!(matches!(e, Error::BackupNotFound(_)), "{e}");
    // a viewer may export what it sees, but not import
    let viewer = gate(&reg, Role::Viewer, &["shop"]);
    assert!(export(&viewer, "b").await.is_ok());
    let e = viewer
        .import_backup(&named("v"), archive.as_slice(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Forbidden(_)), "{e}");
    // a member of another database: refused once the archive's databases are known, nothing left
    let e = other
        .import_backup(&named("m"), archive.as_slice(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Forbidden(ref m) if m.contains("shop")),
        "{e}"
    );
    assert!(!storage.any_under("m").await.unwrap());
    // a member of `shop` may
    let member = gate(&reg, Role::Member, &["shop"]);
    let r = member
        .import_backup(&named("m"), archive.as_slice(), None)
        .await
        .unwrap();
    assert_eq!(
        (r.backup.as_str(), r.renamed_from.as_deref()),
        ("m", Some("b"))
    );
    assert_eq!(reg.service().get_backup("m").await.unwrap().name, "m");

    let entries = reg
        .store()
        .audit_entries(&AuditFilter {
            action: Some("backup.".into()),
            ..Default::default()
        })
        .unwrap();
    let seen = |action: &str, target: &str, outcome: Outcome| {
        entries
            .iter()
            .any(|e| e.action == action && e.target == target && e.outcome == outcome)
    };
    assert!(seen("backup.export", "b", Outcome::Ok));
    assert!(seen("backup.export", "b", Outcome::Denied));
    assert!(seen("backup.import", "v", Outcome::Denied));
    assert!(seen("backup.import", "m", Outcome::Denied));
    assert!(seen("backup.import", "m", Outcome::Ok));
}

#[tokio::test]
async fn an_import_holds_the_name_so_a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(dir.path());
    let storage = reg.service().backup_storage().clone();
    backup(&storage, "b").await;
    let admin = gate(&reg, Role::Admin, &[]);
    let archive = export(&admin, "b").await.unwrap();
    // another writer (a backup being made) holds `c`
    let held = reg.claim_name("c", NameUse::Create).unwrap();
    let e = admin
        .import_backup(&named("c"), archive.as_slice(), None)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::BackupInProgress(_)), "{e}");
    assert!(!storage.any_under("c").await.unwrap());
    drop(held);
    admin
        .import_backup(&named("c"), archive.as_slice(), None)
        .await
        .unwrap();
    // a backup being exported is read: it cannot be deleted meanwhile
    let export = admin
        .export_backup(&ExportOptions {
            name: "c".into(),
            zstd: false,
        })
        .await
        .unwrap();
    let e = admin.delete_backup("c").await.unwrap_err();
    assert!(matches!(e, Error::BackupBusy { .. }), "{e}");
    drop(export);
    admin.delete_backup("c").await.unwrap();
}
