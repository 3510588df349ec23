//! `config migrate` through the CLI: the v2 file it writes loads to the configuration the v1 file
//! gave; refusals.

use clap::Parser;

use super::*;
use crate::cli::{config_show::effective_yaml, Cli, Command, ConfigArgs, ConfigCommand};

/// A v1 file with every section milvault reads, inherited backup fields, milvault's own keys
/// and sections, and a section milvault does not read.
const V1: &str = r#"
log:
  level: debug
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
  secretAccessKey: minio-secret
  useSSL: false
  bucketName: a-bucket
  rootPath: files
  backupBucketName: backups
  backupRootPath: backup
backup:
  maxSegmentsPerImportJob: 64
  parallelism:
    copydata: 32
    backupCollection: 3
    restoreCollection: 5
    importJob: 6
  keepTempFiles: true
  gcPause:
    enable: false
    seconds: 900
    address: http://milvus.internal:9091
  rpcTimeoutSeconds: 30
  maxJobs: 3
state:
  database: sqlite:///var/lib/milvault/jobs.db
notifications:
  webhooks:
    - name: ops
      url: https://hooks.example/x
      secret: hook-secret
targets:
  dr:
    milvus:
      address: dr.internal
"#;

/// Parses `milvault ARGS...` and runs it when it is `config migrate`.
fn migrate_cli(args: &[&str], env: &[(String, String)]) -> Result<i32> {
    let cli = Cli::try_parse_from(std::iter::once("milvault").chain(args.iter().copied()))
        .expect("arguments parse");
    match &cli.command {
        Command::Config(ConfigArgs {
            command: ConfigCommand::Migrate(a),
        }) => run(a, cli.config.as_deref(), env),
        other => panic!("not config migrate: {other:?}"),
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_migrated_file_loads_to_the_same_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("backup.yaml");
    let v2 = dir.path().join("backup-v2.yaml");
    std::fs::write(&v1, V1).unwrap();
    let code = migrate_cli(
        &[
            "--config",
            v1.to_str().unwrap(),
            "config",
            "migrate",
            "-o",
            v2.to_str().unwrap(),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(mode(&v2), 0o600);
    let text = std::fs::read_to_string(&v2).unwrap();
    assert!(
        text.starts_with("configVersion: v2\nmilvus:\n  user: root\n"),
        "{text}"
    );
    let before = Config::load(Some(&v1), &[], &[]).unwrap();
    let after = Config::load(Some(&v2), &[], &[]).unwrap();
    assert_eq!(effective_yaml(&after), effective_yaml(&before));
    // what config show does not print: milvault's own sections, carried over as they were
    assert_eq!(
        format!("{:?}", after.targets),
        format!("{:?}", before.targets)
    );
    assert_eq!(format!("{:?}", after.state), format!("{:?}", before.state));
    assert_eq!(
        after.notifications.webhooks[0].secret.expose(),
        "hook-secret"
    );
    // v2 spellings in schema order, secrets in clear
    for line in [
        "    tlsMode: server\n",
        "  management:\n    endpoint: http://milvus.internal:9091\n",
        "  storage:\n    provider: minio\n    address: minio.internal\n",
        "      type: static\n      accessKeyID: minioadmin\n      secretAccessKey: minio-secret\n",
        "  pauseGC: false\n",
        "restore:\n  concurrency:\n    collections: 5\n    importJobs: 6\n  maxSegmentsPerImportJob: 64\n  keepTempFiles: true\n",
        "transfer:\n  concurrency: 32\n",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }
    // the backup storage's inherited endpoint and keys are written out
    let backup = text.split("\nbackup:\n").nth(1).unwrap();
    assert!(
        backup.starts_with("  storage:\n    provider: minio\n    address: minio.internal\n"),
        "{backup}"
    );
    assert!(
        !text.contains("accountName") && !text.contains("accountKey"),
        "{text}"
    );

    // --force replaces it; stdout (`-o -`) writes no file
    std::fs::write(&v2, "old").unwrap();
    let args = |force: bool| {
        let mut a = vec![
            "config",
            "migrate",
            v1.to_str().unwrap(),
            "-o",
            v2.to_str().unwrap(),
        ];
        if force {
            a.push("--force");
        }
        a.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let refused = migrate_cli(
        &args(false).iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("already exists, use --force to overwrite"),
        "{refused}"
    );
    assert_eq!(std::fs::read_to_string(&v2).unwrap(), "old");
    migrate_cli(
        &args(true).iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&v2).unwrap(), text);
}

#[test]
fn secrets_from_v1_variables_are_not_written_and_v1_variables_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("backup.yaml");
    std::fs::write(&v1, V1).unwrap();
    let env = |k: &str, v: &str| (k.to_string(), v.to_string());
    let m = migrate(
        &v1,
        &[
            env("MINIO_SECRET_KEY", "from-env-secret"),
            env("MILVUS_ADDRESS", "env.internal"),
        ],
    )
    .unwrap();
    assert!(!m.yaml.contains("from-env-secret"), "{}", m.yaml);
    // the backup storage inherits the same secret: not written either
    assert!(!m.yaml.contains("secretAccessKey"), "{}", m.yaml);
    assert!(
        m.warnings.iter().any(|w| w.starts_with(
            "milvus.storage.auth.secretAccessKey came from MINIO_SECRET_KEY and is not written; set MILVUS_STORAGE_AUTH_SECRET_ACCESS_KEY"
        )),
        "{:?}",
        m.warnings
    );
    assert_eq!(
        m.inert_env,
        [
            (
                "MILVUS_ADDRESS".to_string(),
                "milvus.grpc.address".to_string()
            ),
            (
                "MINIO_SECRET_KEY".to_string(),
                "MILVUS_STORAGE_AUTH_SECRET_ACCESS_KEY".to_string()
            ),
        ]
    );
    // a section milvault does not read is named, not written
    assert!(
        m.warnings
            .contains(&"v1 section log is not read by milvault and is not written".to_string()),
        "{:?}",
        m.warnings
    );
    assert!(!m.yaml.contains("level: debug"));
    // without secret keys the result is not valid v2 (static needs both): --strict refuses
    assert!(
        m.invalid.contains(
            &"milvus.storage.auth.secretAccessKey is empty but milvus.storage.auth.type needs it"
                .to_string()
        ),
        "{:?}",
        m.invalid
    );
    assert!(migrate(&v1, &[]).unwrap().invalid.is_empty());
    let out = dir.path().join("v2.yaml");
    let e = run(
        &MigrateArgs {
            file: Some(v1.clone()),
            output: Some(out.clone()),
            force: false,
            strict: true,
        },
        None,
        &[env("MINIO_SECRET_KEY", "from-env-secret")],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("not valid v2"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_v2_file_is_refused_and_azure_keys_get_their_v2_names() {
    let dir = tempfile::tempdir().unwrap();
    let v2_file = dir.path().join("v2.yaml");
    std::fs::write(
        &v2_file,
        "configVersion: v2\nmilvus:\n  grpc:\n    port: 19530\n",
    )
    .unwrap();
    let e = migrate_cli(&["config", "migrate", v2_file.to_str().unwrap()], &[])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        Error::Config(format!("{} is already a v2 config", v2_file.display())).to_string()
    );
    let azure = dir.path().join("azure.yaml");
    std::fs::write(
        &azure,
        "minio:\n  storageType: azure\n  accessKeyID: acct\n  secretAccessKey: k3y\n  bucketName: c1\n  backupRootPath: backups\n",
    )
    .unwrap();
    let m = migrate(&azure, &[]).unwrap();
    assert!(
        m.yaml.contains("    accountName: acct\n")
            && m.yaml
                .contains("      type: sharedKey\n      accountKey: k3y\n"),
        "{}",
        m.yaml
    );
    assert!(!m.yaml.contains("accessKeyID"), "{}", m.yaml);
    assert!(m.invalid.is_empty(), "{:?}", m.invalid);
    let written = dir.path().join("azure-v2.yaml");
    std::fs::write(&written, &m.yaml).unwrap();
    assert_eq!(
        effective_yaml(&Config::load(Some(&written), &[], &[]).unwrap()),
        effective_yaml(&Config::load(Some(&azure), &[], &[]).unwrap())
    );
}
