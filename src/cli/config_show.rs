//! `config show`: the configuration milvault runs with, after the file, the environment and
//! `--set` are applied, in backup.yaml's keys, with every secret masked.

use serde_yaml::{Mapping, Value};

use crate::config::{Config, Secret, StorageConfig, StorageKind};

/// The effective configuration as backup.yaml text (secrets as `***`).
pub fn effective_yaml(c: &Config) -> String {
    serde_yaml::to_string(&effective_tree(c, Secrets::Masked)).unwrap_or_default()
}

/// How secrets are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// As `***` (`config show`).
    Masked,
    /// As they are (`config migrate`, which writes a file only its owner reads).
    Clear,
}

/// The effective configuration as a backup.yaml (v1) tree: milvus, minio, backup,
/// notifications.
pub fn effective_tree(c: &Config, secrets: Secrets) -> Value {
    let secret = |s: &Secret| -> Value {
        match secrets {
            Secrets::Masked => masked(s),
            Secrets::Clear => s.expose().into(),
        }
    };
    let mut root = Mapping::new();
    let m = &c.milvus;
    root.insert(
        "milvus".into(),
        map(vec![
            ("address", m.address.clone().into()),
            ("port", u64::from(m.port).into()),
            ("user", m.user.clone().into()),
            ("password", secret(&m.password)),
            ("tlsMode", u64::from(m.tls_mode).into()),
            ("caCertPath", m.ca_cert_path.clone().into()),
            ("serverName", m.server_name.clone().into()),
        ]),
    );
    let mut minio = storage(&c.milvus_storage, "", &secret);
    for (k, v) in storage(&c.backup_storage, "backup", &secret) {
        minio.insert(k, v);
    }
    root.insert("minio".into(), Value::Mapping(minio));
    let t = &c.tuning;
    let secs = |d: std::time::Duration| Value::from(d.as_secs());
    root.insert(
        "backup".into(),
        map(vec![
            (
                "parallelism",
                map(vec![
                    ("copydata", (t.copy_concurrency as u64).into()),
                    ("backupCollection", (t.backup_collections as u64).into()),
                    ("restoreCollection", (t.restore_collections as u64).into()),
                    ("importJob", (t.import_concurrency as u64).into()),
                ]),
            ),
            ("keepTempFiles", t.keep_temp_files.into()),
            (
                "gcPause",
                map(vec![
                    ("enable", c.gc_pause.enable.into()),
                    ("seconds", c.gc_pause.seconds.into()),
                    ("address", c.gc_pause.address.clone().into()),
                ]),
            ),
            ("rpcTimeoutSeconds", secs(t.rpc_timeout)),
            ("connectTimeoutSeconds", secs(t.connect_timeout)),
            ("waitTimeoutSeconds", secs(t.wait_timeout)),
            ("logicalPageBytes", (t.logical_page_bytes as u64).into()),
            ("logicalFileBytes", (t.logical_file_bytes as u64).into()),
            ("maxJobs", (t.max_jobs as u64).into()),
            ("maxArchiveBytes", t.max_archive_bytes.into()),
            (
                "maxSegmentsPerImportJob",
                (t.max_segments_per_import_job as u64).into(),
            ),
        ]),
    );
    let hooks: Vec<Value> = c
        .notifications
        .webhooks
        .iter()
        .map(|w| {
            map(vec![
                ("name", w.name.clone().into()),
                ("url", w.shown_url().into()),
                ("secret", secret(&w.secret)),
                ("secretEnv", w.secret_env.clone().into()),
                ("format", w.format.clone().into()),
                ("global", w.global.into()),
                (
                    "events",
                    Value::Sequence(w.events.iter().map(|e| e.clone().into()).collect()),
                ),
                ("maxAttempts", u64::from(w.max_attempts).into()),
                ("retryBaseMillis", w.retry_base_millis.into()),
            ])
        })
        .collect();
    root.insert(
        "notifications".into(),
        map(vec![("webhooks", Value::Sequence(hooks))]),
    );
    Value::Mapping(root)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Mapping(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
}

fn masked(s: &Secret) -> Value {
    if s.is_empty() { "" } else { "***" }.into()
}

/// One storage's keys, each prefixed (`backup` + `BucketName` -> `backupBucketName`).
fn storage(s: &StorageConfig, prefix: &str, secret: &dyn Fn(&Secret) -> Value) -> Mapping {
    let key = |name: &str| -> Value {
        if prefix.is_empty() {
            name.into()
        } else {
            let mut c = name.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
            format!("{prefix}{first}{}", c.as_str()).into()
        }
    };
    let kind = match s.kind {
        StorageKind::Local => "local",
        StorageKind::S3 => "minio",
        StorageKind::GcpNative => "gcpnative",
        StorageKind::Azure => "azure",
    };
    [
        ("storageType", kind.into()),
        ("address", s.address.clone().into()),
        ("port", u64::from(s.port).into()),
        ("region", s.region.clone().into()),
        ("accessKeyID", s.access_key_id.clone().into()),
        ("secretAccessKey", secret(&s.secret_access_key)),
        ("useSSL", s.use_ssl.into()),
        ("useIAM", s.use_iam.into()),
        ("bucketName", s.bucket.clone().into()),
        ("rootPath", s.root_path.clone().into()),
        ("gcpCredentialJSON", secret(&s.gcp_credential_json)),
    ]
    .into_iter()
    .map(|(k, v): (&str, Value)| (key(k), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_effective_settings_with_secrets_masked_and_reads_back() {
        let sets = [
            ("milvus.password", "milvus-secret-pw"),
            ("minio.secretAccessKey", "s3-secret-key"),
            ("minio.bucketName", "milvus-data"),
            ("minio.backupBucketName", "backups"),
            ("backup.maxJobs", "3"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        let c = Config::from_yaml("", &sets).unwrap();
        let text = effective_yaml(&c);
        assert!(
            !text.contains("milvus-secret-pw") && !text.contains("s3-secret-key"),
            "{text}"
        );
        let password = text
            .lines()
            .find(|l| l.trim_start().starts_with("password:"))
            .unwrap();
        assert!(password.contains("***"), "{text}");
        assert!(text.contains("backupBucketName: backups"), "{text}");
        assert!(text.contains("maxJobs: 3"), "{text}");
        // what it prints is a backup.yaml milvault reads to the same settings (but the secrets)
        let again = Config::from_yaml(&text, &[]).unwrap();
        assert_eq!(again.milvus_storage.bucket, "milvus-data");
        assert_eq!(again.backup_storage.bucket, "backups");
        assert_eq!(again.tuning.max_jobs, 3);
        assert_eq!(again.backup_storage.kind, c.backup_storage.kind);
    }
}
