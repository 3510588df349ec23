//! `config migrate`: a v1 backup.yaml written as a v2 one (milvus-backup's `cmd/config/migrate.go`,
//! `internal/cfg/migrate/migrate.go` and `internal/cfg/v2/render.go: Render`): `configVersion: v2`
//! first, then every v2 key milvault reads with the value the v1 file gives it (defaults and the
//! backup storage's inherited fields written out), in schema order, 2-space indent; milvault's
//! own sections (`notifications`, `state`, `targets`) carried over as they are. The keys come
//! from the one v1/v2 table of [`crate::config::v2`] ([`v2::schema`]).
//!
//! As milvus-backup's: a v2 input is refused; secrets are written in clear into a file only its
//! owner may read (0600), but a secret that came from a v1 environment variable is not written
//! (the v2 variable to set is reported); v1 environment variables, inert under v2, are listed; the
//! report goes to stderr; an existing output file is replaced only with `--force`; `--strict`
//! fails (writing nothing) when the result is not a valid v2 configuration.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
};

use clap::Args;
use serde_yaml::{Mapping, Value};

use super::config_show::{effective_tree, Secrets};
use crate::{
    config::{self, v2, Config},
    error::{Error, Result},
};

/// `config migrate` flags.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The v1 file (default: --config, else ./backup.yaml).
    pub file: Option<PathBuf>,
    /// Where to write the v2 file (default, or `-`: standard output).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Replace the output file when it exists.
    #[arg(long)]
    pub force: bool,
    /// Fail, writing nothing, when the result is not a valid v2 configuration.
    #[arg(long)]
    pub strict: bool,
}

/// A migrated configuration and what was said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrated {
    /// The v2 YAML.
    pub yaml: String,
    /// `warning: ...` lines.
    pub warnings: Vec<String>,
    /// Why the result is not a valid v2 configuration (milvus-backup's `v2/validate.go` rules
    /// for the keys written).
    pub invalid: Vec<String>,
    /// v1 environment variables set, and what replaces each under v2.
    pub inert_env: Vec<(String, String)>,
}

/// v1 keys of secrets: not written when an environment variable gave them.
const SECRETS: &[&str] = &[
    "milvus.password",
    "minio.secretAccessKey",
    "minio.backupSecretAccessKey",
    "minio.gcpCredentialJSON",
    "minio.backupGcpCredentialJSON",
];

/// Sections of a v1 file milvault reads (the others are milvus-backup's only).
const READ_SECTIONS: &[&str] = &["milvus", "minio", "backup"];

/// Runs `config migrate` (`default_input`: the global `--config`); `env` is the process'
/// environment. Writes the YAML to stdout or `-o`, the report to stderr.
pub fn run(
    args: &MigrateArgs,
    default_input: Option<&Path>,
    env: &[(String, String)],
) -> Result<i32> {
    let input = args
        .file
        .clone()
        .or_else(|| default_input.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("backup.yaml"));
    let m = migrate(&input, env)?;
    let mut err = std::io::stderr().lock();
    let mut say = |line: &str| {
        let _ = writeln!(err, "{line}");
    };
    say(&format!("# migration report for {}", input.display()));
    for w in &m.warnings {
        say(&format!("warning: {w}"));
    }
    if !m.invalid.is_empty() {
        say(&format!(
            "warning: migrated config is not valid v2: {}",
            m.invalid.join("; ")
        ));
    }
    if !m.inert_env.is_empty() {
        say("v1 environment variables are set but inert under a v2 config, replace them with:");
        for (from, to) in &m.inert_env {
            say(&format!("  {from} -> {to}"));
        }
    }
    if args.strict && !m.invalid.is_empty() {
        return Err(Error::Config(format!(
            "migrated config is not valid v2: {}",
            m.invalid.join("; ")
        )));
    }
    match args.output.as_deref().filter(|o| *o != Path::new("-")) {
        None => print!("{}", m.yaml),
        Some(path) => {
            write_private(path, &m.yaml, args.force)?;
            say(&format!("wrote v2 config to {}", path.display()));
        }
    }
    Ok(0)
}

/// Writes `text` to `path`, readable by its owner only; an existing file only when `force`.
fn write_private(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let cannot = |e: std::io::Error| Error::Config(format!("cannot write {}: {e}", path.display()));
    if path.exists() && !force {
        return Err(Error::Config(format!(
            "output file {} already exists, use --force to overwrite",
            path.display()
        )));
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(cannot)?;
    // (a replaced file keeps its mode otherwise)
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(cannot)?;
    file.write_all(text.as_bytes()).map_err(cannot)
}

/// The v1 file `path` as v2, with the environment `env` (v1 variables) considered.
pub fn migrate(path: &Path, env: &[(String, String)]) -> Result<Migrated> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Config(format!("cannot read config file {}: {e}", path.display())))?;
    let raw: Value = if text.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else {
        serde_yaml::from_str(&text).map_err(|e| Error::Config(format!("not valid YAML: {e}")))?
    };
    if v2::version_of(&raw)? == v2::Version::V2 {
        return Err(Error::Config(format!(
            "{} is already a v2 config",
            path.display()
        )));
    }
    let with_env = leaves(&Config::load(Some(path), env, &[])?);
    let file_only = leaves(&Config::load(Some(path), &[], &[])?);
    let mut warnings = Vec::new();
    let set_env = |v1_key: &str| {
        config::ENV_KEYS
            .iter()
            .filter(|(e, k)| *k == v1_key && env.iter().any(|(name, _)| name == e))
            .map(|(e, _)| *e)
            .next()
    };
    let provider = |side: &str| {
        let key = if side == "backup" {
            "minio.backupStorageType"
        } else {
            "minio.storageType"
        };
        with_env
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("minio")
            .to_string()
    };
    let mut out = Value::Mapping(Mapping::new());
    set(&mut out, "configVersion", "v2".into());
    for (v2_key, v1_key) in v2::schema() {
        let Some(value) = with_env.get(&v1_key) else {
            continue;
        };
        let side = if v2_key.starts_with("backup.storage.") {
            "backup"
        } else {
            ""
        };
        let field = v2_key.rsplit_once("storage.").map(|(_, field)| field);
        if let Some(field) = field.filter(|f| !applies(&provider(side), f)) {
            // Azure's account name and key share v1's access key fields with the access keys
            // of the others: the twin that applies carries the value
            let twin = field != "auth.credentialsFile";
            if twin || value.as_str().is_some_and(str::is_empty) {
                continue;
            }
            warnings.push(format!(
                "{v2_key} does not apply to provider {}; written as the v1 file had it",
                provider(side)
            ));
        }
        if SECRETS.contains(&v1_key.as_str()) && file_only.get(&v1_key) != Some(value) {
            let v2_env = v2::ENV_KEYS
                .iter()
                .find(|(_, k)| *k == v1_key)
                .map_or("", |(e, _)| *e);
            let source = set_env(&v1_key).unwrap_or("a v1 environment variable");
            warnings.push(format!(
                "{v2_key} came from {source} and is not written; set {v2_env} instead (a v2 config takes credentials from the environment)"
            ));
            continue;
        }
        let value = match field {
            Some("auth.type") => {
                let iam = value.as_bool().unwrap_or(false);
                auth_type(&provider(side), iam, &with_env, side).into()
            }
            Some(_) => value.clone(),
            None if v2_key == "milvus.grpc.tlsMode" => {
                let n = value.as_u64().unwrap_or(0);
                u8::try_from(n)
                    .ok()
                    .and_then(v2::tls_mode_word)
                    .map_or_else(|| value.clone(), Value::from)
            }
            None => value.clone(),
        };
        set(&mut out, &v2_key, value);
    }
    let written: Vec<String> = v2::schema().into_iter().map(|(_, v1)| v1).collect();
    for k in with_env.keys().filter(|k| !written.contains(k)) {
        warnings.push(format!("v1 key {k} has no v2 key and is not written"));
    }
    if let Some(map) = raw.as_mapping() {
        for (k, v) in map {
            let Some(name) = k.as_str() else { continue };
            if v2::OWN_SECTIONS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
            {
                set(&mut out, name, v.clone());
            } else if !READ_SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(name))
                && !name.eq_ignore_ascii_case("configVersion")
            {
                warnings.push(format!(
                    "v1 section {name} is not read by milvault and is not written"
                ));
            }
        }
    }
    let inert_env = config::ENV_KEYS
        .iter()
        .filter(|(e, _)| env.iter().any(|(name, _)| name == e))
        .map(|(e, v1_key)| {
            let to = v2::ENV_KEYS
                .iter()
                .find(|(_, k)| k == v1_key)
                .map(|(v2_env, _)| v2_env.to_string())
                .or_else(|| v2::v2_keys(v1_key).into_iter().next())
                .unwrap_or_else(|| "nothing (not read by a v2 config)".into());
            (e.to_string(), to)
        })
        .collect();
    let invalid = validate(&out);
    let yaml = serde_yaml::to_string(&out).map_err(|e| Error::Config(e.to_string()))?;
    Ok(Migrated {
        yaml,
        warnings,
        invalid,
        inert_env,
    })
}

/// Every leaf of `c`'s effective v1 tree (secrets in clear, milvault's own sections left out)
/// by dotted key.
fn leaves(c: &Config) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Mapping(m) => {
                for (k, v) in m {
                    let Some(k) = k.as_str() else { continue };
                    let key = if prefix.is_empty() {
                        k.to_string()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            leaf => {
                out.insert(prefix.to_string(), leaf.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Value::Mapping(m) = effective_tree(c, Secrets::Clear) {
        for (k, v) in &m {
            let Some(k) = k.as_str() else { continue };
            if !v2::OWN_SECTIONS.contains(&k) {
                walk(k, v, &mut out);
            }
        }
    }
    out
}

/// Whether a storage block's `field` belongs to `provider` (milvus-backup's
/// `inapplicableKeys`): Azure has an account name and key, not access keys; only GCP's own API
/// reads a credentials file.
fn applies(provider: &str, field: &str) -> bool {
    let azure = provider == "azure";
    match field {
        "accountName" | "auth.accountKey" => azure,
        "auth.accessKeyID" | "auth.secretAccessKey" => !azure,
        "auth.credentialsFile" => provider == "gcpnative",
        _ => true,
    }
}

/// v2's `auth.type` for a v1 storage (`useIAM`, the keys it has), as milvus-backup's
/// `migrate.go` chooses it: `iam` (Azure: `default`) with IAM, else the provider's key type, or
/// `default` where no key is given.
fn auth_type(provider: &str, iam: bool, v1: &BTreeMap<String, Value>, side: &str) -> &'static str {
    let has = |key: &str| {
        let key = if side.is_empty() {
            format!("minio.{key}")
        } else {
            let mut c = key.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or_default();
            format!("minio.{side}{first}{}", c.as_str())
        };
        v1.get(&key)
            .and_then(Value::as_str)
            .is_some_and(|v| !v.is_empty())
    };
    match (provider, iam) {
        ("azure", true) => "default",
        (_, true) => "iam",
        ("azure", false) => "sharedKey",
        ("gcpnative", false) if has("gcpCredentialJSON") => "serviceAccount",
        ("gcpnative", false) => "default",
        (_, false) if has("accessKeyID") || has("secretAccessKey") => "static",
        _ => "default",
    }
}

/// Sets the dotted `key` in `tree` (sections created in the order keys come).
fn set(tree: &mut Value, key: &str, value: Value) {
    let mut node = tree;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let Some(map) = node.as_mapping_mut() else {
            return;
        };
        let k = Value::String(part.to_string());
        if i + 1 == parts.len() {
            map.insert(k, value);
            return;
        }
        node = map
            .entry(k)
            .or_insert_with(|| Value::Mapping(Mapping::new()));
    }
}

/// What makes the written v2 tree invalid for milvus-backup (`internal/cfg/v2/validate.go`):
/// ports, the management endpoint, and each storage's credentials for its `auth.type`.
fn validate(v2: &Value) -> Vec<String> {
    let get = |key: &str| -> Option<&Value> {
        key.split('.')
            .try_fold(v2, |node, part| node.as_mapping()?.get(part))
    };
    let text = |key: &str| {
        get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut bad = Vec::new();
    if let Some(port) = get("milvus.grpc.port").and_then(Value::as_u64) {
        if !(1..=65535).contains(&port) {
            bad.push(format!("milvus.grpc.port {port} is not in 1-65535"));
        }
    }
    let endpoint = text("milvus.management.endpoint");
    if !endpoint.is_empty() && !endpoint.starts_with("http://") && !endpoint.starts_with("https://")
    {
        bad.push(format!(
            "milvus.management.endpoint {endpoint:?} is not an http(s) URL"
        ));
    }
    for side in ["milvus.storage", "backup.storage"] {
        let provider = text(&format!("{side}.provider"));
        if provider == "local" {
            continue;
        }
        if let Some(port) = get(&format!("{side}.port")).and_then(Value::as_u64) {
            if !(1..=65535).contains(&port) {
                bad.push(format!("{side}.port {port} is not in 1-65535"));
            }
        }
        let needs = |field: &str| text(&format!("{side}.{field}")).is_empty();
        let missing: Vec<&str> = match text(&format!("{side}.auth.type")).as_str() {
            "static" => ["auth.accessKeyID", "auth.secretAccessKey"]
                .into_iter()
                .filter(|f| needs(f))
                .collect(),
            "sharedKey" => ["auth.accountKey"]
                .into_iter()
                .filter(|f| needs(f))
                .collect(),
            "serviceAccount" => ["auth.credentialsFile"]
                .into_iter()
                .filter(|f| needs(f))
                .collect(),
            _ => Vec::new(),
        };
        for f in missing {
            bad.push(format!("{side}.{f} is empty but {side}.auth.type needs it"));
        }
        if provider == "azure" && needs("accountName") {
            bad.push(format!("{side}.accountName is empty but azure needs it"));
        }
    }
    bad
}

#[cfg(test)]
mod tests;
