//! The manifest: the size and BLAKE3 checksum of every binlog a backup copied, written next to the
//! metadata (`<name>/meta/milvault_manifest.json`) before `backup_meta.json`, so that a complete
//! backup always has one. milvus-backup ignores the file; backups without one (made by
//! milvus-backup or an older milvault) cannot be verified, and say so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest's file name in the backup's `meta/` folder.
pub const MANIFEST_FILE: &str = "milvault_manifest.json";

/// The checksum algorithm of this manifest version.
pub const ALGORITHM: &str = "blake3";

/// Every file a backup copied, with its size and checksum.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version (1).
    pub version: u32,
    /// `blake3`.
    pub algorithm: String,
    /// By path relative to the backup's folder (`binlogs/insert_log/...`).
    pub files: BTreeMap<String, ManifestEntry>,
}

/// One file of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub size: u64,
    /// Lowercase hex.
    pub blake3: String,
}

/// What is wrong with one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum FileProblem {
    /// The file is not there.
    Missing { path: String },
    /// Shorter than recorded.
    Truncated {
        path: String,
        expected: u64,
        found: u64,
    },
    /// Longer than recorded.
    Grown {
        path: String,
        expected: u64,
        found: u64,
    },
    /// Same size, other bytes.
    Changed { path: String },
    /// Could not be read (a storage error other than "not found").
    Unreadable { path: String, reason: String },
}

impl FileProblem {
    /// The file's path in the backup.
    pub fn path(&self) -> &str {
        match self {
            FileProblem::Missing { path }
            | FileProblem::Truncated { path, .. }
            | FileProblem::Grown { path, .. }
            | FileProblem::Changed { path }
            | FileProblem::Unreadable { path, .. } => path,
        }
    }
}

impl std::fmt::Display for FileProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FileProblem::Missing { path } => write!(f, "{path}: missing"),
            FileProblem::Truncated {
                path,
                expected,
                found,
            } => write!(f, "{path}: truncated ({found} of {expected} bytes)"),
            FileProblem::Grown {
                path,
                expected,
                found,
            } => write!(f, "{path}: {found} bytes, {expected} expected"),
            FileProblem::Changed { path } => write!(f, "{path}: changed (checksum differs)"),
            FileProblem::Unreadable { path, reason } => write!(f, "{path}: unreadable: {reason}"),
        }
    }
}

/// What was found for one file: its size and checksum, or that it is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Absent,
    Present { size: u64, blake3: String },
    Error(String),
}

impl ManifestEntry {
    /// Compares what was found with this entry.
    pub fn check(&self, path: &str, found: &Found) -> Option<FileProblem> {
        let path = path.to_string();
        match found {
            Found::Absent => Some(FileProblem::Missing { path }),
            Found::Error(reason) => Some(FileProblem::Unreadable {
                path,
                reason: reason.clone(),
            }),
            Found::Present { size, blake3 } => {
                if *size < self.size {
                    Some(FileProblem::Truncated {
                        path,
                        expected: self.size,
                        found: *size,
                    })
                } else if *size > self.size {
                    Some(FileProblem::Grown {
                        path,
                        expected: self.size,
                        found: *size,
                    })
                } else if *blake3 != self.blake3 {
                    Some(FileProblem::Changed { path })
                } else {
                    None
                }
            }
        }
    }
}

/// Prefix of a segment's files in a manifest: `binlogs/<kind>/<coll>/<part>/<seg>/`.
pub fn segment_prefix(kind: &str, collection: i64, partition: i64, segment: i64) -> String {
    format!("binlogs/{kind}/{collection}/{partition}/{segment}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> ManifestEntry {
        ManifestEntry {
            size: 10,
            blake3: "ab".into(),
        }
    }

    #[test]
    fn each_kind_of_damage_is_named() {
        let e = entry();
        let p = "binlogs/insert_log/1/2/3/100/7";
        assert_eq!(
            e.check(
                p,
                &Found::Present {
                    size: 10,
                    blake3: "ab".into()
                }
            ),
            None
        );
        assert_eq!(
            e.check(p, &Found::Absent),
            Some(FileProblem::Missing { path: p.into() })
        );
        assert_eq!(
            e.check(
                p,
                &Found::Present {
                    size: 4,
                    blake3: "ab".into()
                }
            ),
            Some(FileProblem::Truncated {
                path: p.into(),
                expected: 10,
                found: 4
            })
        );
        assert!(matches!(
            e.check(
                p,
                &Found::Present {
                    size: 11,
                    blake3: "ab".into()
                }
            ),
            Some(FileProblem::Grown { .. })
        ));
        let changed = e
            .check(
                p,
                &Found::Present {
                    size: 10,
                    blake3: "cd".into(),
                },
            )
            .unwrap();
        assert_eq!(
            changed.to_string(),
            format!("{p}: changed (checksum differs)")
        );
    }

    #[test]
    fn manifests_round_trip_as_json() {
        let mut m = Manifest {
            version: 1,
            algorithm: ALGORITHM.into(),
            ..Default::default()
        };
        m.files.insert("binlogs/delta_log/1/2/3/9".into(), entry());
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    }
}
