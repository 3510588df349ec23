//! Logical backups against real servers: Milvus 2.3.5 standalone (port 19530, its data on S3)
//! and two Milvus Lite 3.2.2 servers (MILVAULT_TEST_LITE_A / _B: ports), backups in the S3
//! backup bucket. Rows are compared row for row through pymilvus (tests/support/logical.py).

use std::{process::Command, sync::Arc};

use crate::support::*;
use milvault::{
    engine::commands::{create::CreateBackupRequest, restore::RestoreRequest},
    engine::logical::LogicalMeta,
    error::Error,
    progress::{JobKind, Progress},
    Milvault,
};
use serde_json::Value;

const M23: &str = "http://127.0.0.1:19530";

fn lite_port(which: &str) -> String {
    env(&format!("MILVAULT_TEST_LITE_{which}"))
}

fn lite_uri(which: &str) -> String {
    format!("http://127.0.0.1:{}", lite_port(which))
}

/// Runs tests/support/logical.py with the pymilvus that speaks to `uri`.
fn py(uri: &str, args: &[&str]) -> String {
    let python = if uri == M23 {
        env("MILVAULT_TEST_PYTHON")
    } else {
        env("MILVAULT_TEST_LITE_PYTHON")
    };
    let out = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/logical.py"
        ))
        .arg(uri)
        .args(args)
        .output()
        .expect("run logical.py");
    assert!(
        out.status.success(),
        "logical.py {uri} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn seed(uri: &str, kind: &str, name: &str, rows: usize) {
    py(uri, &["seed", kind, name, &rows.to_string()]);
}

fn dump(uri: &str, name: &str) -> Value {
    serde_json::from_str(py(uri, &["dump", name]).trim()).expect("dump output")
}

/// Milvault on `milvus` (the 2.3.5 URI or a Lite's), backups in the S3 bucket under `root`,
/// small pages and files so that every collection takes several of each.
fn service_on(milvus: &str, root: &str) -> Arc<Milvault> {
    let mut sets = s3_overrides("milvault", root);
    sets.push(("backup.logicalPageBytes", "16384".into()));
    sets.push(("backup.logicalFileBytes", "65536".into()));
    if milvus != M23 {
        let port = milvus.rsplit(':').next().unwrap_or_default().to_string();
        sets.push(("milvus.address", "127.0.0.1".into()));
        sets.push(("milvus.port", port));
    }
    service(&sets)
}

async fn backup(
    svc: &Milvault,
    name: &str,
    colls: &[&str],
) -> milvault::Result<milvault::format::BackupInfo> {
    svc.create_backup(
        CreateBackupRequest {
            name: name.into(),
            collections: colls.iter().map(|c| c.to_string()).collect(),
            logical: true,
            ..Default::default()
        },
        &Progress::detached(JobKind::Backup),
    )
    .await
}

async fn restore(
    svc: &Milvault,
    req: RestoreRequest,
) -> milvault::Result<milvault::engine::commands::restore::RestoreReport> {
    svc.restore(req, &Progress::detached(JobKind::Restore))
        .await
}

fn assert_same_rows(src: &Value, dst: &Value, rows: i64) {
    assert_eq!(src["count"].as_i64(), Some(rows), "source rows");
    assert_eq!(dst["count"].as_i64(), Some(rows), "restored rows");
    let (a, b) = (&src["partitions"], &dst["partitions"]);
    assert_eq!(
        a.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        b.as_object().map(|o| o.keys().collect::<Vec<_>>()),
        "partitions"
    );
    for (p, rows) in a.as_object().unwrap() {
        let other = b[p].as_array().unwrap();
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), other.len(), "rows of partition {p}");
        for (x, y) in rows.iter().zip(other) {
            assert_eq!(x, y, "partition {p}");
        }
    }
}

/// Every field type Milvus 2.3.5 has (scalars, JSON, arrays, float and binary vectors, a VarChar
/// key with quotes, dynamic fields) backs up into several Parquet files per partition, verifies,
/// and restores row for row; the Parquet files hold what the metadata says.
#[tokio::test]
async fn every_2_3_field_type_round_trips_on_milvus_2_3() {
    let (all, bin) = (unique("lg_all"), unique("lg_bin"));
    seed(M23, "all23", &all, 3000);
    seed(M23, "bin23", &bin, 700);
    let svc = service_on(M23, &unique("lgr"));
    let name = unique("lg23");
    let info = backup(&svc, &name, &[&all, &bin]).await.unwrap();
    assert_eq!(info.format, "logical");
    let c = info
        .collection_backups
        .iter()
        .find(|c| c.collection_name == all)
        .unwrap();
    assert_eq!(c.live_rows, Some(3000));
    assert_eq!(c.partition_backups.len(), 3);
    assert!(c.schema.as_ref().unwrap().enable_dynamic_field);
    assert!(!c.index_infos.is_empty());
    let meta = LogicalMeta::read(svc.backup_storage(), &name)
        .await
        .unwrap();
    let lc = meta.collection("default", &all).unwrap();
    assert_eq!(lc.rows, 3000);
    assert_eq!(lc.partitions.iter().map(|p| p.rows).sum::<i64>(), 3000);
    // 64 KiB files: several per partition, each a readable Parquet file of the rows it claims
    assert!(lc.partitions.iter().all(|p| p.files.len() > 1), "{lc:?}");
    let f = &lc.partitions[0].files[0];
    let bytes = svc
        .backup_storage()
        .read_opt(&format!("{name}/{}", f.path))
        .await
        .unwrap()
        .unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let cols: Vec<String> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert!(cols.contains(&"$meta".to_string()) && cols.contains(&"v".to_string()));
    let rows: usize = reader.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows as i64, f.rows);
    // readable as it is by pandas (pyarrow): the rows, the vectors, the dynamic fields as JSON
    let local = work_dir("logical-parquet").join(format!("{name}.parquet"));
    let bytes = svc
        .backup_storage()
        .read_opt(&format!("{name}/{}", f.path))
        .await
        .unwrap()
        .unwrap();
    std::fs::write(&local, &bytes).unwrap();
    let out = Command::new(env("MILVAULT_TEST_LITE_PYTHON"))
        .args([
            "-c",
            "import sys, json, pandas as pd; df = pd.read_parquet(sys.argv[1]); \
             print(json.dumps({'rows': len(df), 'ids_sorted': bool(df['id'].is_monotonic_increasing), \
             'dim': len(df['v'].iloc[0]), 'meta': json.loads(df['$meta'].iloc[0]), 'id0': int(df['id'].iloc[0])}))",
        ])
        .arg(&local)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["rows"].as_i64(), Some(f.rows));
    assert_eq!(seen["ids_sorted"], Value::Bool(true));
    assert_eq!(seen["dim"].as_i64(), Some(8));
    // the first row of _default is row 0 of the seed: id -5000, dynamic keys extra_k and label
    assert_eq!(seen["id0"].as_i64(), Some(-5000));
    assert_eq!(seen["meta"]["label"].as_str(), Some("dyn-0"));

    let report = svc
        .verify(&name, &Progress::detached(JobKind::Verify))
        .await
        .unwrap();
    assert!(report.ok() && report.files_checked > 3, "{report:?}");

    let suffix = "_r";
    let report = restore(
        &svc,
        RestoreRequest {
            name: name.clone(),
            suffix: suffix.into(),
            restore_index: true,
            load: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for r in &report.collections {
        assert_eq!(r.imported_rows, r.expected_rows.unwrap(), "{r:?}");
        assert_eq!(r.counted_rows, r.expected_rows, "{r:?}");
    }
    assert_same_rows(
        &dump(M23, &all),
        &dump(M23, &format!("{all}{suffix}")),
        3000,
    );
    assert_same_rows(&dump(M23, &bin), &dump(M23, &format!("{bin}{suffix}")), 700);
    // the existing-target rule of every restore
    let again = restore(
        &svc,
        RestoreRequest {
            name: name.clone(),
            suffix: suffix.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(again, Error::CollectionExists(_)), "{again}");
    for c in [&all, &bin] {
        py(M23, &["drop", c]);
        py(M23, &["drop", &format!("{c}{suffix}")]);
    }
    svc.delete_backup(&name).await.unwrap();
}

/// Milvus Lite's types (sparse vectors, nullable fields with nulls, defaults, dynamic fields,
/// partitions) go from one Lite into another row for row.
#[tokio::test]
async fn nullable_sparse_and_dynamic_rows_go_from_lite_to_lite() {
    let (a, b) = (lite_uri("A"), lite_uri("B"));
    let coll = unique("lg_lite");
    seed(&a, "all_lite", &coll, 1500);
    let root = unique("lgr");
    let name = unique("lgll");
    let info = backup(&service_on(&a, &root), &name, &[&coll])
        .await
        .unwrap();
    assert_eq!(info.collection_backups[0].live_rows, Some(1500));
    let schema = info.collection_backups[0].schema.clone().unwrap();
    assert!(schema.fields.iter().any(|f| f.nullable));
    assert!(schema
        .fields
        .iter()
        .any(|f| !f.default_value_base64.is_empty()));
    let report = restore(
        &service_on(&b, &root),
        RestoreRequest {
            name: name.clone(),
            restore_index: true,
            load: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(report.collections[0].imported_rows, 1500);
    let src = dump(&a, &coll);
    assert_same_rows(&src, &dump(&b, &coll), 1500);
    // the dump really holds nulls, sparse vectors and dynamic keys
    let text = src.to_string();
    assert!(
        text.contains("\"n_i32\":null")
            && text.contains("\"extra_k\"")
            && text.contains("\"sp\":{")
    );
}

/// A BM25 collection on Milvus Lite backs up (without its function's output), restores into a
/// second Lite and answers the same full-text searches.
#[tokio::test]
async fn bm25_collection_answers_the_same_full_text_search_after_lite_to_lite() {
    let (a, b) = (lite_uri("A"), lite_uri("B"));
    let coll = unique("lg_bm25");
    seed(&a, "bm25", &coll, 400);
    let root = unique("lgr");
    let name = unique("lgbm");
    let info = backup(&service_on(&a, &root), &name, &[&coll])
        .await
        .unwrap();
    let schema = info.collection_backups[0].schema.clone().unwrap();
    assert_eq!(
        schema.functions.len(),
        1,
        "the BM25 function is in the backup"
    );
    // its output (the sparse vectors) is not stored
    let svc_b = service_on(&b, &root);
    let meta = LogicalMeta::read(svc_b.backup_storage(), &name)
        .await
        .unwrap();
    let f = &meta.collection("default", &coll).unwrap().partitions[0].files[0];
    let bytes = svc_b
        .backup_storage()
        .read_opt(&format!("{name}/{}", f.path))
        .await
        .unwrap()
        .unwrap();
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let cols: Vec<&str> = reader
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(cols, vec!["id", "text"]);
    restore(
        &svc_b,
        RestoreRequest {
            name: name.clone(),
            restore_index: true,
            load: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_same_rows(&dump(&a, &coll), &dump(&b, &coll), 400);
    let queries = [
        "vector search",
        "parquet lake backup",
        "sparse embedding recall",
    ];
    let search = |uri: &str| {
        let mut args = vec!["search", coll.as_str()];
        args.extend(queries);
        py(uri, &args)
    };
    let (x, y) = (search(&a), search(&b));
    let hits: Value = serde_json::from_str(x.trim()).unwrap();
    assert!(hits[0].as_array().is_some_and(|h| !h.is_empty()), "{x}");
    assert_eq!(x, y, "full-text search answers differ");
}

/// 2.3.5 -> Lite, and Lite -> 2.3.5 for a schema 2.3 has, row for row.
#[tokio::test]
async fn rows_move_between_milvus_2_3_and_milvus_lite_both_ways() {
    let b = lite_uri("B");
    let a = lite_uri("A");
    let root = unique("lgr");
    // 2.3.5 -> Lite
    let c23 = unique("lg_x23");
    seed(M23, "all23", &c23, 1200);
    let name = unique("lgx1");
    backup(&service_on(M23, &root), &name, &[&c23])
        .await
        .unwrap();
    restore(
        &service_on(&b, &root),
        RestoreRequest {
            name: name.clone(),
            restore_index: true,
            load: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_same_rows(&dump(M23, &c23), &dump(&b, &c23), 1200);
    // Lite -> 2.3.5, into another name
    let cl = unique("lg_xl");
    seed(&a, "plain", &cl, 1100);
    let name2 = unique("lgx2");
    backup(&service_on(&a, &root), &name2, &[&cl])
        .await
        .unwrap();
    restore(
        &service_on(M23, &root),
        RestoreRequest {
            name: name2.clone(),
            renames: vec![format!("{cl}:{cl}_in23")],
            restore_index: true,
            load: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_same_rows(&dump(&a, &cl), &dump(M23, &format!("{cl}_in23")), 1100);
    py(M23, &["drop", &c23]);
    py(M23, &["drop", &format!("{cl}_in23")]);
}

/// What 2.3.5 cannot hold (a BM25 function, nullable fields) is refused before anything is
/// created; an unknown collection makes no backup.
#[tokio::test]
async fn what_the_target_cannot_hold_is_refused_and_nothing_is_created() {
    let a = lite_uri("A");
    let root = unique("lgr");
    let (bm, nul) = (unique("lg_rbm"), unique("lg_rnul"));
    seed(&a, "bm25", &bm, 50);
    seed(&a, "all_lite", &nul, 50);
    let name = unique("lgref");
    backup(&service_on(&a, &root), &name, &[&bm, &nul])
        .await
        .unwrap();
    let m23 = service_on(M23, &root);
    for (coll, what) in [(&bm, "BM25"), (&nul, "nullable")] {
        let err = restore(
            &m23,
            RestoreRequest {
                name: name.clone(),
                collections: vec![coll.clone()],
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::NotRestorable { .. }), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        assert!(err.to_string().contains("2.5"), "{err}");
        let milvus = m23.milvus().await.unwrap();
        assert!(!milvus.has_collection("default", coll).await.unwrap());
    }

    let bad = unique("lgbad");
    let err = backup(&service_on(M23, &root), &bad, &["lg_no_such_collection"])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CollectionNotFound(_)), "{err}");
    assert!(!m23.backup_storage().any_under(&bad).await.unwrap());
}

/// A logical backup stopped half way (the process dies) leaves Parquet files but no metadata: it
/// is not listed and cannot be restored; its name is reported as taken by an incomplete backup.
#[tokio::test]
async fn an_interrupted_logical_backup_is_not_a_backup() {
    let coll = unique("lg_int");
    seed(M23, "all23", &coll, 3000);
    let root = unique("lgr");
    let svc = service_on(M23, &root);
    let name = unique("lgint");
    let task = {
        let (svc, name, coll) = (svc.clone(), name.clone(), coll.clone());
        tokio::spawn(async move { backup(&svc, &name, &[&coll]).await })
    };
    let dir = format!("{name}/logical");
    let mut written = false;
    for _ in 0..600 {
        if !svc
            .backup_storage()
            .list_files(&dir)
            .await
            .unwrap()
            .is_empty()
        {
            written = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    task.abort();
    let _ = task.await;
    assert!(written, "no Parquet file was written");
    let storage = svc.backup_storage();
    assert!(storage
        .read_opt(&format!("{name}/meta/backup_meta.json"))
        .await
        .unwrap()
        .is_none());
    assert!(!svc
        .list_backups()
        .await
        .unwrap()
        .iter()
        .any(|b| b.name == name));
    let err = svc.get_backup(&name).await.unwrap_err();
    assert!(
        matches!(err, Error::CorruptMetadata { .. }) && err.to_string().contains("never completed"),
        "{err}"
    );
    let err = restore(
        &svc,
        RestoreRequest {
            name: name.clone(),
            suffix: "_r".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("never completed"), "{err}");
    let again = backup(&svc, &name, &[&coll]).await.unwrap_err();
    assert!(matches!(again, Error::IncompleteBackupExists(_)), "{again}");
    svc.delete_backup(&name).await.unwrap();
    py(M23, &["drop", &coll]);
}

/// `milvault create --logical` and `restore` from the command line, Lite A to Lite B, with the
/// backups in a local folder; `get --json` says the backup is logical.
#[test]
fn the_cli_makes_and_restores_logical_backups() {
    let (a, b) = (lite_uri("A"), lite_uri("B"));
    let coll = unique("lg_cli");
    seed(&a, "plain", &coll, 300);
    let dir = work_dir(&unique("lgcli"));
    std::fs::create_dir_all(dir.join("unused")).unwrap();
    let common = |port: &str| {
        vec![
            "--job-db".to_string(),
            dir.join("jobs.sqlite").to_string_lossy().into_owned(),
            "--set".into(),
            "milvus.address=127.0.0.1".into(),
            "--set".into(),
            format!("milvus.port={port}"),
            "--set".into(),
            format!("MINIO_ROOT_PATH={}", dir.join("unused").display()),
            "--set".into(),
            format!("MINIO_BACKUP_ROOT_PATH={}", dir.join("backups").display()),
        ]
    };
    let run = |port: &str, args: &[&str]| {
        let mut all = common(port);
        all.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        cli(&refs)
    };
    let (code, out, err) = run(
        &lite_port("A"),
        &["create", "--logical", "-n", "cli1", "-c", &coll],
    );
    assert_eq!(code, 0, "{out} {err}");
    let (code, out, err) = run(&lite_port("A"), &["--json", "get", "-n", "cli1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"format\":\"logical\"") || out.contains("\"format\": \"logical\""),
        "{out}"
    );
    assert!(dir.join("backups/cli1/meta/logical_meta.json").exists());
    let (code, out, err) = run(&lite_port("B"), &["restore", "-n", "cli1", "-s", "_cli"]);
    assert_eq!(code, 0, "{out} {err}");
    assert_same_rows(&dump(&a, &coll), &dump(&b, &format!("{coll}_cli")), 300);
    // a binlog backup of a Lite points to --logical
    let (code, _, err) = run(&lite_port("A"), &["create", "-n", "cli3", "-c", &coll]);
    assert_ne!(code, 0);
    assert!(err.contains("create --logical"), "{err}");
    assert!(!dir.join("backups/cli3").exists());
    // bad input: an unknown collection is refused and leaves nothing
    let (code, _, err) = run(
        &lite_port("A"),
        &["create", "--logical", "-n", "cli2", "-c", "lg_nope"],
    );
    assert_ne!(code, 0);
    assert!(err.contains("lg_nope"), "{err}");
    assert!(!dir.join("backups/cli2").exists());
}
