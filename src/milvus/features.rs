//! What the connected Milvus can do, detected once per connection: from the version GetVersion
//! reports, and when that answers `Unimplemented` or with a version that cannot be read, from
//! whether a 2.4+ call (ListAliases) is implemented. The tuples per version follow the ones
//! milvus-backup keeps (`internal/client/milvus`); every version-dependent decision of a restore
//! reads from here (see `engine::import_plan`).

use serde::Serialize;

/// What a Milvus version can take in a restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Features {
    /// The version these describe (major, minor, patch), for messages.
    pub version: (u32, u32, u32),
    /// Imports L0 segments (`l0_import=true`): 2.4+.
    pub l0_import: bool,
    /// Knows `skip_disk_quota_check`: 2.4+.
    pub skip_disk_quota_check: bool,
    /// Reads a backup-mode insert path one level deep as segment folders (2.4+); 2.3 walks it.
    pub lists_segment_folders: bool,
    /// Takes the `storage_version` option: 2.4+ (milvus-backup sends it to any of them).
    pub storage_version_option: bool,
    /// Reads segments in storage format v2 (`storage_version` 2+): 2.6+.
    pub storage_v2: bool,
    /// BM25 functions: 2.5+.
    pub bm25: bool,
    /// TextEmbedding functions: 2.6+.
    pub text_embedding: bool,
    /// Nullable fields and default values: 2.5+.
    pub nullable_and_default: bool,
    /// Arrays of structs (`struct_array_fields`): 2.6.4+.
    pub struct_arrays: bool,
    /// Adds fields to an existing collection (AddCollectionField): 2.6+.
    pub add_field: bool,
    /// Checks a collection's functions when it is created (a TextEmbedding function's provider
    /// is called), unless `disable_func_runtime_check` is set: 2.6.8+ (milvus-backup's
    /// `FuncRuntimeCheck`).
    pub func_runtime_check: bool,
}

impl Features {
    /// Milvus 2.3.
    pub fn milvus_2_3() -> Features {
        Features {
            version: (2, 3, 0),
            l0_import: false,
            skip_disk_quota_check: false,
            lists_segment_folders: false,
            storage_version_option: false,
            storage_v2: false,
            bm25: false,
            text_embedding: false,
            nullable_and_default: false,
            struct_arrays: false,
            add_field: false,
            func_runtime_check: false,
        }
    }

    /// Milvus 2.4.
    pub fn milvus_2_4() -> Features {
        Features {
            version: (2, 4, 0),
            l0_import: true,
            skip_disk_quota_check: true,
            lists_segment_folders: true,
            storage_version_option: true,
            ..Features::milvus_2_3()
        }
    }

    /// Milvus 2.5.
    pub fn milvus_2_5() -> Features {
        Features {
            version: (2, 5, 0),
            bm25: true,
            nullable_and_default: true,
            ..Features::milvus_2_4()
        }
    }

    /// Milvus 2.6 from 2.6.4 (arrays of structs).
    pub fn milvus_2_6() -> Features {
        Features {
            version: (2, 6, 4),
            storage_v2: true,
            text_embedding: true,
            struct_arrays: true,
            add_field: true,
            ..Features::milvus_2_5()
        }
    }

    /// From the version Milvus reports (`v2.4.17`, `2.6.0-rc1`); `None` for one it cannot parse
    /// or older than 2.3. Newer lines (3.x) get 2.6's features.
    pub fn from_version(version: &str) -> Option<Features> {
        // Milvus Lite 3.x answers `milvus_lite-3.2.2`
        let v = version.trim().trim_start_matches("milvus_lite-");
        let v = v.trim_start_matches('v');
        let mut nums = v
            .split(|c: char| !c.is_ascii_digit())
            .map(|n| n.parse::<u32>().ok());
        let major = nums.next()??;
        let minor = nums.next()??;
        let patch = nums.next().flatten().unwrap_or(0);
        let mut f = match (major, minor) {
            (2, 0..=2) | (0..=1, _) => return None,
            (2, 3) => Features::milvus_2_3(),
            (2, 4) => Features::milvus_2_4(),
            (2, 5) => Features::milvus_2_5(),
            _ => Features::milvus_2_6(),
        };
        f.version = (major, minor, patch);
        f.struct_arrays = (major, minor, patch) >= (2, 6, 4);
        f.func_runtime_check = (major, minor, patch) >= (2, 6, 8);
        Some(f)
    }

    /// `2.4` (`2.6.2` when the patch matters).
    pub fn name(&self) -> String {
        let (a, b, c) = self.version;
        if c == 0 || (a, b) != (2, 6) {
            format!("{a}.{b}")
        } else {
            format!("{a}.{b}.{c}")
        }
    }
}

/// How the features were found, for messages and the Cluster page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Detected {
    /// From the version GetVersion reported.
    Version(String),
    /// GetVersion gave nothing readable (the text, or `Unimplemented`); a probe of a 2.4+ call
    /// decided between 2.3 and 2.4.
    Probe {
        reported: String,
        has_2_4_calls: bool,
    },
}

impl Features {
    /// The features of a server that reported `reported` (`None`: GetVersion is unimplemented)
    /// and, when that cannot be read, answered a 2.4+ call (`has_2_4_calls`; the probe is only
    /// made when needed, hence a closure). The fallback is the oldest version that fits: a
    /// server that cannot say what it is gets no feature it may lack.
    pub fn detect(
        reported: Option<&str>,
        has_2_4_calls: impl FnOnce() -> bool,
    ) -> (Features, Detected) {
        if let Some(f) = reported.and_then(Features::from_version) {
            return (
                f,
                Detected::Version(reported.unwrap_or_default().to_string()),
            );
        }
        let has = has_2_4_calls();
        let f = if has {
            Features::milvus_2_4()
        } else {
            Features::milvus_2_3()
        };
        (
            f,
            Detected::Probe {
                reported: reported.unwrap_or("Unimplemented").to_string(),
                has_2_4_calls: has,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_first_then_the_probe() {
        let (f, d) = Features::detect(Some("v2.3.5"), || panic!("no probe needed"));
        assert_eq!(f.version, (2, 3, 5));
        assert!(!f.l0_import && !f.skip_disk_quota_check);
        assert_eq!(d, Detected::Version("v2.3.5".into()));
        let (f, _) = Features::detect(Some("milvus_lite-3.2.2"), || panic!("no probe needed"));
        assert!(f.bm25 && f.nullable_and_default);
        assert_eq!(f.version, (3, 2, 2));
        let (f, _) = Features::detect(Some("v2.6.6"), || panic!("no probe needed"));
        assert!(f.add_field && f.storage_v2 && f.struct_arrays);
        let (f, d) = Features::detect(None, || false);
        assert_eq!(f, Features::milvus_2_3());
        assert_eq!(
            d,
            Detected::Probe {
                reported: "Unimplemented".into(),
                has_2_4_calls: false
            }
        );
        let (f, _) = Features::detect(Some("master-dev"), || true);
        assert_eq!(f, Features::milvus_2_4());
    }
}
