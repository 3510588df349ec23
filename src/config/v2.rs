//! milvus-backup's configuration v2 (`configVersion: v2`, milvus-backup 0.6 and its main branch),
//! read beside v1: each v2 key is translated to the v1 key milvault's configuration reads, so one
//! set of rules (defaults, inheritance of the backup storage, checks) serves both files.
//!
//! From milvus-backup's `internal/cfg/v2` (`cfg.go`, `storage.go`, `legacy.go: legacyKeys`,
//! `loader/load.go: Load`): keys match case-insensitively; a file without `configVersion` (or
//! with `v1`) is v1, any other version is refused; unknown keys are warned about and ignored;
//! environment variables name credentials only (`MILVUS_STORAGE_AUTH_ACCESS_KEY_ID`...), because
//! Kubernetes injects `MILVUS_PORT=tcp://...` into pods. Keys for what milvault does not do
//! (logging, etcd, Zilliz Cloud, the REST endpoint) are accepted and ignored.

use serde_yaml::{Mapping, Value};

use crate::error::{Error, Result};

/// The key that tells the versions apart.
const VERSION_KEY: &str = "configversion";

/// Which schema a configuration file is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// The version `tree` declares: v1 when it says nothing (milvus-backup's rule).
pub fn version_of(tree: &Value) -> Result<Version> {
    let Some(map) = tree.as_mapping() else {
        return Ok(Version::V1);
    };
    let declared = map.iter().find_map(|(k, v)| {
        k.as_str()
            .filter(|k| k.eq_ignore_ascii_case(VERSION_KEY))
            .map(|_| v)
    });
    let Some(declared) = declared else {
        return Ok(Version::V1);
    };
    let text = match declared {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_string(),
    };
    match text.to_ascii_lowercase().as_str() {
        "v1" => Ok(Version::V1),
        "v2" => Ok(Version::V2),
        _ => Err(Error::Config(format!(
            "configVersion: '{text}' is not a version milvault reads; write v2 (milvus-backup 0.6+) or leave it out (v1)"
        ))),
    }
}

/// Environment variables of a v2 configuration (credentials only) and the v1 key each sets.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("MILVUS_USER", "milvus.user"),
    ("MILVUS_PASSWORD", "milvus.password"),
    ("MILVUS_STORAGE_ACCOUNT_NAME", "minio.accessKeyID"),
    ("MILVUS_STORAGE_AUTH_ACCESS_KEY_ID", "minio.accessKeyID"),
    (
        "MILVUS_STORAGE_AUTH_SECRET_ACCESS_KEY",
        "minio.secretAccessKey",
    ),
    ("MILVUS_STORAGE_AUTH_ACCOUNT_KEY", "minio.secretAccessKey"),
    (
        "MILVUS_STORAGE_AUTH_CREDENTIALS_FILE",
        "minio.gcpCredentialJSON",
    ),
    ("BACKUP_STORAGE_ACCOUNT_NAME", "minio.backupAccessKeyID"),
    (
        "BACKUP_STORAGE_AUTH_ACCESS_KEY_ID",
        "minio.backupAccessKeyID",
    ),
    (
        "BACKUP_STORAGE_AUTH_SECRET_ACCESS_KEY",
        "minio.backupSecretAccessKey",
    ),
    (
        "BACKUP_STORAGE_AUTH_ACCOUNT_KEY",
        "minio.backupSecretAccessKey",
    ),
    (
        "BACKUP_STORAGE_AUTH_CREDENTIALS_FILE",
        "minio.backupGcpCredentialJSON",
    ),
];

/// v2 keys and the v1 keys they become, in milvus-backup's schema order (`internal/cfg/v2/cfg.go`)
/// and spelling; keys match in any case. The one table of the translation: read left to right
/// by [`v1_key`] (loading a v2 file), right to left by [`v2_key`] (`config migrate`). The
/// storage blocks ([`STORAGE_KEYS`]) sit after the `milvus.` keys; milvault's own tuning keys
/// keep their v1 names under `backup.`.
const KEYS: &[(&str, &str)] = &[
    ("milvus.user", "milvus.user"),
    ("milvus.password", "milvus.password"),
    ("milvus.grpc.address", "milvus.address"),
    ("milvus.grpc.port", "milvus.port"),
    ("milvus.grpc.tlsMode", "milvus.tlsMode"),
    ("milvus.grpc.caCertPath", "milvus.caCertPath"),
    ("milvus.grpc.serverName", "milvus.serverName"),
    ("milvus.management.endpoint", "backup.gcPause.address"),
    (
        "backup.concurrency.collections",
        "backup.parallelism.backupCollection",
    ),
    ("backup.pauseGC", "backup.gcPause.enable"),
    // milvault's own (not in milvus-backup, which warns about them and reads on)
    ("backup.gcPause.seconds", "backup.gcPause.seconds"),
    ("backup.rpcTimeoutSeconds", "backup.rpcTimeoutSeconds"),
    (
        "backup.connectTimeoutSeconds",
        "backup.connectTimeoutSeconds",
    ),
    ("backup.waitTimeoutSeconds", "backup.waitTimeoutSeconds"),
    ("backup.logicalPageBytes", "backup.logicalPageBytes"),
    ("backup.logicalFileBytes", "backup.logicalFileBytes"),
    ("backup.maxJobs", "backup.maxJobs"),
    ("backup.maxArchiveBytes", "backup.maxArchiveBytes"),
    (
        "restore.concurrency.collections",
        "backup.parallelism.restoreCollection",
    ),
    (
        "restore.concurrency.importJobs",
        "backup.parallelism.importJob",
    ),
    (
        "restore.maxSegmentsPerImportJob",
        "backup.maxSegmentsPerImportJob",
    ),
    ("restore.keepTempFiles", "backup.keepTempFiles"),
    ("transfer.concurrency", "backup.parallelism.copydata"),
];

/// A storage block's keys (after `milvus.storage.` / `backup.storage.`) and the v1 `minio` key
/// (with `backup` and a capital in front for the backup side), in schema order. Two v2 keys
/// share a v1 key where v1 used one field for both: Azure's account name and key.
const STORAGE_KEYS: &[(&str, &str)] = &[
    ("provider", "storageType"),
    ("address", "address"),
    ("port", "port"),
    ("region", "region"),
    ("useSSL", "useSSL"),
    ("accountName", "accessKeyID"),
    ("bucketName", "bucketName"),
    ("rootPath", "rootPath"),
    ("auth.type", "useIAM"),
    ("auth.accessKeyID", "accessKeyID"),
    ("auth.secretAccessKey", "secretAccessKey"),
    ("auth.accountKey", "secretAccessKey"),
    ("auth.credentialsFile", "gcpCredentialJSON"),
];

/// Keys milvus-backup reads that milvault has no use for: accepted without a warning.
const NOT_USED: &[&str] = &[
    "log.",
    "server.",
    "zillizcloud.",
    "milvus.rest.",
    "milvus.etcd.",
    "milvus.replicate.",
    "milvus.grpc.mtlscertpath",
    "milvus.grpc.mtlskeypath",
    "backup.concurrency.segments",
    "transfer.multipartcopythresholdmib",
    "transfer.mode",
    "milvus.storage.localpath",
    "milvus.storage.milvusaddress",
    "milvus.storage.milvusport",
    "milvus.storage.auth.endpoint",
    "backup.storage.localpath",
    "backup.storage.milvusaddress",
    "backup.storage.milvusport",
    "backup.storage.auth.endpoint",
];

/// milvault's own sections, the same in both versions: copied as they are.
pub const OWN_SECTIONS: &[&str] = &["notifications", "state", "targets", "storages"];

/// The two storage blocks: v2 prefix and the prefix of their v1 `minio` keys.
const STORAGE_SIDES: [(&str, &str); 2] = [("milvus.storage.", ""), ("backup.storage.", "backup")];

/// Every v2 key milvault reads with its v1 key, in schema order (as `config migrate` writes
/// them): the `milvus.` keys, the two storage blocks, the rest.
pub fn schema() -> Vec<(String, String)> {
    let plain = |milvus: bool| {
        KEYS.iter()
            .filter(move |(k, _)| k.starts_with("milvus.") == milvus)
            .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    let storage = STORAGE_SIDES.iter().flat_map(|(side, prefix)| {
        STORAGE_KEYS
            .iter()
            .map(move |(k, v)| (format!("{side}{k}"), storage_key(prefix, v)))
    });
    plain(true).chain(storage).chain(plain(false)).collect()
}

/// The v1 key a v2 key becomes (`None`: not a v2 key milvault reads).
pub fn v1_key(v2_key: &str) -> Option<String> {
    schema()
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(v2_key))
        .map(|(_, v1)| v1)
}

/// The v2 keys a v1 key is written as by `config migrate` (more than one where v1 used one
/// field for two things: Azure's account name and key live in `accessKeyID` and
/// `secretAccessKey`). Empty: no v2 key.
pub fn v2_keys(v1_key: &str) -> Vec<String> {
    schema()
        .into_iter()
        .filter(|(_, v1)| v1.eq_ignore_ascii_case(v1_key))
        .map(|(k, _)| k)
        .collect()
}

/// `minio.<key>`, or `minio.backup<Key>` for the backup side.
fn storage_key(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        return format!("minio.{key}");
    }
    let mut chars = key.chars();
    let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or(' ');
    format!("minio.{prefix}{first}{}", chars.as_str())
}

/// A v2 value as its v1 key takes it: `tlsMode` words as numbers, `auth.type: iam` as `useIAM`.
pub fn v1_value(v2_key: &str, value: Value) -> Result<Value> {
    let key = v2_key.to_ascii_lowercase();
    let text = || value.as_str().unwrap_or_default().to_ascii_lowercase();
    if key == "milvus.grpc.tlsmode" {
        let word = if value.is_string() {
            text()
        } else {
            "?".into()
        };
        return match word.as_str() {
            "disabled" | "" => Ok(Value::from(0)),
            "server" => Ok(Value::from(1)),
            "mutual" => Ok(Value::from(2)),
            _ => {
                let v = serde_yaml::to_string(&value).unwrap_or_default();
                let v = v.trim();
                let word = match v {
                    "0" => Some("disabled"),
                    "1" => Some("server"),
                    "2" => Some("mutual"),
                    _ => None,
                };
                Err(Error::Config(match word {
                    Some(w) => format!(
                        "milvus.grpc.tlsMode: '{v}' is the v1 spelling of this mode, write it as '{w}'"
                    ),
                    None => format!(
                        "milvus.grpc.tlsMode: '{v}' is not one of disabled, server, mutual"
                    ),
                }))
            }
        };
    }
    if key.ends_with("storage.auth.type") {
        return match text().as_str() {
            "iam" => Ok(Value::Bool(true)),
            "static" | "sharedkey" | "serviceaccount" | "default" | "" => Ok(Value::Bool(false)),
            other => Err(Error::Config(format!(
                "{v2_key}: '{other}' is not one of static, sharedKey, serviceAccount, iam, default"
            ))),
        };
    }
    Ok(value)
}

/// A v1 `milvus.tlsMode` (0, 1, 2) as v2 writes it; `None` for another value.
pub fn tls_mode_word(v1: u8) -> Option<&'static str> {
    ["disabled", "server", "mutual"]
        .get(usize::from(v1))
        .copied()
}

/// A v2 configuration tree as the v1 tree milvault reads. Unknown keys are logged and ignored.
pub fn to_v1(tree: &Value) -> Result<Value> {
    let mut leaves = Vec::new();
    let mut out = Value::Mapping(Mapping::new());
    if let Some(map) = tree.as_mapping() {
        for (k, v) in map {
            let Some(k) = k.as_str() else { continue };
            if OWN_SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                insert(&mut out, &k.to_ascii_lowercase(), v.clone())?;
            } else if !k.eq_ignore_ascii_case(VERSION_KEY) {
                flatten(&k.to_ascii_lowercase(), v, &mut leaves);
            }
        }
    }
    // v2's backup storage keeps its own root path ("backup" unless given); the other fields
    // come from the Milvus storage when unset, as in v1
    if !leaves.iter().any(|(k, _)| k == "backup.storage.rootpath") {
        leaves.push(("backup.storage.rootpath".into(), Value::from("backup")));
    }
    for (key, value) in leaves {
        match v1_key(&key) {
            Some(v1) => insert(&mut out, &v1, v1_value(&key, value)?)?,
            None if NOT_USED.iter().any(|p| key.starts_with(p)) => {}
            None => tracing::warn!("configuration v2: unknown key '{key}', ignoring it"),
        }
    }
    Ok(out)
}

/// Every leaf of `v` under `prefix` as `(dotted.lower.case.key, value)`; lists are leaves.
fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Mapping(m) => {
            for (k, v) in m {
                let Some(k) = k.as_str() else { continue };
                flatten(&format!("{prefix}.{}", k.to_ascii_lowercase()), v, out);
            }
        }
        Value::Null => {}
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

/// Sets `a.b.c` in `tree` (sections created as needed).
fn insert(tree: &mut Value, key: &str, value: Value) -> Result<()> {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let map = node
            .as_mapping_mut()
            .ok_or_else(|| Error::Config(format!("cannot set {key}")))?;
        let k = Value::String(part.to_string());
        if i + 1 == parts.len() {
            map.insert(k, value);
            return Ok(());
        }
        node = map
            .entry(k)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Config, StorageKind};

    /// milvus-backup's own v2 sample (configs/backup.yaml on its main branch), comments dropped.
    const SAMPLE_V2: &str = r#"
configVersion: v2
log:
  level: info
  console: true
  file:
    path: "logs/backup.log"
server:
  debugMode: false
milvus:
  user: "root"
  password: "Milvus"
  grpc:
    address: milvus.internal
    port: 19531
    tlsMode: server
    caCertPath: "/certs/ca.pem"
    serverName: "milvus.internal"
  rest:
    endpoint: ""
  management:
    endpoint: http://milvus.internal:9091
  etcd:
    endpoints:
      - 127.0.0.1:2379
    rootPath: "by-dev"
  storage:
    provider: "minio"
    address: minio.internal
    port: 9000
    useSSL: false
    bucketName: "a-bucket"
    rootPath: "files"
    auth:
      type: static
      accessKeyID: minioadmin
      secretAccessKey: minioadmin
backup:
  storage:
    bucketName: "backups"
  concurrency:
    collections: 4
    segments: 1024
  pauseGC: true
restore:
  concurrency:
    collections: 3
    importJobs: 768
  maxSegmentsPerImportJob: 256
  keepTempFiles: false
transfer:
  mode: auto
  concurrency: 128
zillizCloud:
  apiKey: <your-api-key>
"#;

    /// The same settings in v1 keys.
    const SAME_IN_V1: &str = r#"
milvus:
  address: milvus.internal
  port: 19531
  user: root
  password: Milvus
  tlsMode: 1
  caCertPath: /certs/ca.pem
  serverName: milvus.internal
minio:
  storageType: minio
  address: minio.internal
  port: 9000
  accessKeyID: minioadmin
  secretAccessKey: minioadmin
  bucketName: a-bucket
  rootPath: files
  backupBucketName: backups
  backupRootPath: backup
backup:
  parallelism:
    copydata: 128
    backupCollection: 4
    restoreCollection: 3
    importJob: 768
  gcPause:
    enable: true
    address: http://milvus.internal:9091
"#;

    #[test]
    fn a_v2_file_reads_as_the_same_configuration_as_its_v1_twin() {
        let v2 = Config::from_yaml(SAMPLE_V2, &[]).unwrap();
        let v1 = Config::from_yaml(SAME_IN_V1, &[]).unwrap();
        assert_eq!(format!("{v2:?}"), format!("{v1:?}"));
        assert_eq!(v2.milvus.address, "milvus.internal");
        assert_eq!(v2.milvus.tls_mode, 1);
        // the backup storage inherits the Milvus storage's endpoint, keeps its own bucket and root
        assert_eq!(v2.backup_storage.address, "minio.internal");
        assert_eq!(v2.backup_storage.bucket, "backups");
        assert_eq!(v2.backup_storage.root_path, "backup");
        assert_eq!(v2.tuning.restore_collections, 3);
        assert_eq!(v2.tuning.max_segments_per_import_job, 256);
        let v2 = Config::from_yaml(
            &SAMPLE_V2.replace(
                "maxSegmentsPerImportJob: 256",
                "maxSegmentsPerImportJob: 32",
            ),
            &[],
        )
        .unwrap();
        assert_eq!(v2.tuning.max_segments_per_import_job, 32);
        let e = Config::from_yaml(
            &SAMPLE_V2.replace("maxSegmentsPerImportJob: 256", "maxSegmentsPerImportJob: 0"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("maxSegmentsPerImportJob"), "{e}");
        assert_eq!(v2.gc_pause.address, "http://milvus.internal:9091");
    }

    #[test]
    fn keys_match_in_any_case_and_sets_take_v2_spelling() {
        let text = "CONFIGVERSION: V2\nMilvus:\n  GRPC:\n    Address: a.example\n";
        let c = Config::from_yaml(
            text,
            &[
                ("milvus.grpc.port".into(), "19999".into()),
                ("milvus.grpc.tlsMode".into(), "mutual".into()),
                ("backup.storage.auth.type".into(), "iam".into()),
                ("restore.maxSegmentsPerImportJob".into(), "64".into()),
            ],
        )
        .unwrap();
        assert_eq!(c.tuning.max_segments_per_import_job, 64);
        assert_eq!(
            (c.milvus.address.as_str(), c.milvus.port, c.milvus.tls_mode),
            ("a.example", 19999, 2)
        );
        assert!(c.backup_storage.use_iam && !c.milvus_storage.use_iam);
    }

    #[test]
    fn a_v2_file_takes_only_credentials_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("backup.yaml");
        std::fs::write(&file, SAMPLE_V2).unwrap();
        let env = |k: &str, v: &str| (k.to_string(), v.to_string());
        let c = Config::load(
            Some(&file),
            &[
                // what Kubernetes sets in a pod beside a Service named milvus: not a port
                env("MILVUS_PORT", "tcp://10.0.0.7:19530"),
                env("MILVUS_ADDRESS", "ignored.example"),
                env("MILVUS_STORAGE_AUTH_SECRET_ACCESS_KEY", "from-env"),
                env("BACKUP_STORAGE_AUTH_ACCESS_KEY_ID", "backup-key"),
            ],
            &["MILVUS_PASSWORD=from-set".into()],
        )
        .unwrap();
        assert_eq!(
            (c.milvus.address.as_str(), c.milvus.port),
            ("milvus.internal", 19531)
        );
        assert_eq!(c.milvus_storage.secret_access_key.expose(), "from-env");
        assert_eq!(c.backup_storage.access_key_id, "backup-key");
        assert_eq!(c.milvus.password.expose(), "from-set");
    }

    #[test]
    fn azure_and_local_providers_translate() {
        let azure = "configVersion: v2\nmilvus:\n  storage:\n    provider: azure\n    accountName: acct\n    bucketName: c1\n    auth:\n      type: sharedKey\n      accountKey: k3y\n";
        let c = Config::from_yaml(azure, &[]).unwrap();
        assert_eq!(c.milvus_storage.kind, StorageKind::Azure);
        assert_eq!(c.milvus_storage.access_key_id, "acct");
        assert_eq!(c.milvus_storage.secret_access_key.expose(), "k3y");
        let local = "configVersion: v2\nmilvus:\n  storage:\n    provider: local\n    rootPath: /var/lib/milvus/data\nbackup:\n  storage:\n    provider: local\n    rootPath: /backups\n";
        let c = Config::from_yaml(local, &[]).unwrap();
        assert_eq!(c.backup_storage.kind, StorageKind::Local);
        assert_eq!(c.backup_storage.root_path, "/backups");
    }

    #[test]
    fn wrong_versions_and_v1_spellings_are_refused_saying_what_to_write() {
        let e = Config::from_yaml("configVersion: v3\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("v3") && e.contains("v2"), "{e}");
        let e = Config::from_yaml("configVersion: v2\nmilvus:\n  grpc:\n    tlsMode: 1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("v1 spelling") && e.contains("'server'"), "{e}");
        // v1 stays v1, also when it says so
        let c = Config::from_yaml("configVersion: v1\nmilvus:\n  address: x\n", &[]).unwrap();
        assert_eq!(c.milvus.address, "x");
    }
}
