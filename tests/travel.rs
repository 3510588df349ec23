//! Backups that travel, through the CLI and a configuration file with named storages: a backup
//! made on local storage is copied to S3 (SeaweedFS) and Azure Blob (Azurite), verified there and
//! restored from there row for row; an S3-to-S3 copy runs on the server; a stopped copy goes on
//! with the files it finished; the copies stand on their own once the original is deleted. Needs
//! Milvus on S3 (MILVAULT_TEST_S3) and the Azurite scripts/test.sh starts (MILVAULT_TEST_AZURITE:
//! its port). GCS (`gcpnative`) has no emulator that works here: see the README.

use std::path::{Path, PathBuf};

use crate::support::*;

/// Writes a backup.yaml: Milvus on the test's S3, backups in a local directory, and four named
/// storages (two S3 roots and an Azurite container).
fn config_file(dir: &Path, tag: &str) -> PathBuf {
    let s3_port = env("MILVAULT_TEST_S3")
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let az_port = env("MILVAULT_TEST_AZURITE");
    let s3 = |root: &str| {
        format!(
            "    storageType: minio\n    address: 127.0.0.1\n    port: {s3_port}\n    accessKeyID: minioadmin\n    secretAccessKey: minioadmin\n    bucketName: milvault\n    rootPath: {root}"
        )
    };
    let az_key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let lines = [
        "milvus:".to_string(),
        "  address: 127.0.0.1".into(),
        "  port: 19530".into(),
        "minio:".into(),
        "  storageType: minio".into(),
        "  address: 127.0.0.1".into(),
        format!("  port: {s3_port}"),
        "  accessKeyID: minioadmin".into(),
        "  secretAccessKey: minioadmin".into(),
        "  bucketName: a-bucket".into(),
        "  rootPath: files".into(),
        "  backupStorageType: local".into(),
        format!("  backupRootPath: {}", dir.join("local").display()),
        "storages:".into(),
        "  s3off:".into(),
        s3(&format!("{tag}/off")),
        "  s3two:".into(),
        s3(&format!("{tag}/two")),
        "  az:".into(),
        "    storageType: azure".into(),
        "    address: 127.0.0.1".into(),
        format!("    port: {az_port}"),
        "    accessKeyID: devstoreaccount1".into(),
        format!("    secretAccessKey: {az_key}"),
        "    bucketName: milvault".into(),
        format!("    rootPath: {tag}"),
    ];
    let yaml = lines.join("\n") + "\n";
    let path = dir.join("backup.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// Runs the CLI on `config` with a job database of its own; panics when it fails.
fn run(config: &Path, args: &[&str]) -> String {
    let (code, out, err) = try_run(config, args);
    assert_eq!(code, 0, "milvault {args:?} failed: {out}{err}");
    out
}

fn try_run(config: &Path, args: &[&str]) -> (i32, String, String) {
    let db = config.with_file_name("jobs.sqlite");
    let mut all = vec![
        "--config",
        config.to_str().unwrap(),
        "--job-db",
        db.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    cli(&all)
}

/// The JSON the CLI printed last.
fn json(out: &str) -> serde_json::Value {
    let start = out.find('{').expect("JSON in the output");
    serde_json::from_str(&out[start..]).unwrap_or_else(|e| panic!("{e}: {out}"))
}

#[tokio::test]
async fn a_local_backup_copied_to_s3_and_azure_verifies_and_restores_there_row_for_row() {
    let tag = unique("travel");
    let dir = work_dir(&tag);
    let config = config_file(&dir, &tag);
    let name = unique("trv");
    run(
        &config,
        &["create", "-n", &name, "-c", "demo_products,shop.reviews"],
    );

    for storage in ["s3off", "az"] {
        let r = json(&run(
            &config,
            &["--json", "copy", "-n", &name, "--to", storage],
        ));
        assert_eq!(r["to"], storage);
        assert_eq!(r["mode"], "stream", "{r}");
        assert_eq!(r["files_kept"], 0);
        assert!(r["bytes"].as_u64().unwrap() > 100_000, "{r}");
        let v = run(&config, &["--storage", storage, "verify", "-n", &name]);
        assert!(v.contains("is intact"), "{storage}: {v}");
        let list = run(&config, &["--storage", storage, "--json", "list"]);
        assert!(list.contains(&name), "{storage}: {list}");
        // a second copy would write over the first: refused, naming what to do
        let (code, _, err) = try_run(&config, &["copy", "-n", &name, "--to", storage]);
        assert_ne!(code, 0);
        assert!(err.contains("--as"), "{err}");
    }

    // S3 to S3 on one endpoint with one set of credentials: the server copies
    let r = json(&run(
        &config,
        &[
            "--storage",
            "s3off",
            "--json",
            "copy",
            "-n",
            &name,
            "--to",
            "s3two",
        ],
    ));
    assert_eq!(r["mode"], "server-side", "{r}");
    assert_eq!(r["from"], "s3off");

    // a copy stopped half way (its metadata not written, a file missing, one cut short) goes
    // on with what it finished
    let half = format!("{name}_half");
    let full = json(&run(
        &config,
        &[
            "--json", "copy", "-n", &name, "--to", "s3off", "--as", &half,
        ],
    ));
    let s3off = s3_storage(&config, "s3off");
    let files = s3off.list_files(&format!("{half}/binlogs")).await.unwrap();
    assert!(files.len() >= 2, "{files:?}");
    s3off
        .delete(&format!("{half}/meta/backup_meta.json"))
        .await
        .unwrap();
    s3off.delete(&files[0].rel).await.unwrap();
    s3off
        .write(&files[1].rel, bytes::Bytes::from_static(b"cut short"))
        .await
        .unwrap();
    let list = run(&config, &["--storage", "s3off", "--json", "list"]);
    assert!(
        !list.contains(&half),
        "an unfinished copy is not listed: {list}"
    );
    let again = json(&run(
        &config,
        &[
            "--json", "copy", "-n", &name, "--to", "s3off", "--as", &half,
        ],
    ));
    assert_eq!(again["files"], full["files"]);
    assert_eq!(
        again["files_kept"].as_u64().unwrap(),
        // all but the two damaged files and backup_meta.json (always written last)
        full["files"].as_u64().unwrap() - 3,
        "{again}"
    );
    let v = run(&config, &["--storage", "s3off", "verify", "-n", &half]);
    assert!(v.contains("is intact"), "{v}");

    // the copies stand on their own: the original goes, each restores row for row
    run(&config, &["delete", "-n", &name]);
    for storage in ["s3off", "az"] {
        let suffix = format!("_{storage}_{}", &name[4..]);
        run(
            &config,
            &[
                "--storage",
                storage,
                "restore",
                "-n",
                &name,
                "-s",
                &suffix,
                "--restore_index",
                "--load",
            ],
        );
        assert_eq!(
            assert_same_data(
                "default",
                "demo_products",
                "default",
                &format!("demo_products{suffix}")
            ),
            2700,
            "{storage}"
        );
        assert_eq!(
            assert_same_data("shop", "reviews", "shop", &format!("reviews{suffix}")),
            1000,
            "{storage}"
        );
    }
}

/// A named storage of `config` opened as the engine opens it.
fn s3_storage(config: &Path, name: &str) -> milvault::storage::Storage {
    let text = std::fs::read_to_string(config).unwrap();
    let c = milvault::config::Config::from_yaml(&text, &[]).unwrap();
    milvault::storage::Storage::open(c.storage(name).unwrap(), true, None).unwrap()
}
