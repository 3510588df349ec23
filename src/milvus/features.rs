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
    /// Answers BackupRBAC and takes RestoreRBAC (users with their stored password hashes, roles,
    /// grants in one call): 2.4.10+ (milvus-backup's docs/user_guide/rbac.md; its
    /// core/backup/rbac.go and core/restore/task.go call nothing else). Older servers: users,
    /// roles and grants are read and created one call at a time (`engine::rbac`).
    pub rbac_calls: bool,
    /// Privilege groups (CreatePrivilegeGroup, ListPrivilegeGroups): 2.5+.
    pub privilege_groups: bool,
    /// Takes import jobs of several file groups over its REST API
    /// (`POST /v2/vectordb/jobs/import/create`, served on the gRPC port): 2.4+ (milvus-backup's
    /// docs/user_guide/mul_seg_restore.md; the gRPC `Import` carries one file group only).
    pub import_jobs: bool,
    /// Imports several L0 segments in one job: 2.6.5+ (milvus-backup's `MultiL0InOneJob`,
    /// internal/client/milvus/grpc.go).
    pub multi_l0_in_one_job: bool,
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
            rbac_calls: false,
            privilege_groups: false,
            import_jobs: false,
            multi_l0_in_one_job: false,
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
            rbac_calls: true,
            import_jobs: true,
            ..Features::milvus_2_3()
        }
    }

    /// Milvus 2.5.
    pub fn milvus_2_5() -> Features {
        Features {
            version: (2, 5, 0),
            bm25: true,
            nullable_and_default: true,
            privilege_groups: true,
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

    /// From the version Milvus reports, read as milvus-backup reads it (`releaseVersion`, then
    /// `embeddedVersion`, internal/client/milvus/grpc.go): a release (`v2.4.17`, `2.6.0-rc1`,
    /// the hotfix `2.3.22.6` as 2.3.22), else a version at the start of a dev build tag
    /// (`2.6-20260404-31fb3fc`) or after "Milvus" in a vendor's description ("... Compatible
    /// with Milvus 2.6"), a missing patch level taken as the head of that line. `None` when the
    /// text names no version, or one older than 2.3. Newer lines (3.x) get 2.6's features.
    pub fn from_version(version: &str) -> Option<Features> {
        // Milvus Lite 3.x answers `milvus_lite-3.2.2`
        let v = version.trim().trim_start_matches("milvus_lite-");
        let (major, minor, patch) = release_version(v).or_else(|| embedded_version(v))?;
        let mut f = match (major, minor) {
            (2, 0..=2) | (0..=1, _) => return None,
            (2, 3) => Features::milvus_2_3(),
            (2, 4) => Features::milvus_2_4(),
            (2, 5) => Features::milvus_2_5(),
            _ => Features::milvus_2_6(),
        };
        let at = (major, minor, patch);
        f.version = at;
        // L0 imports were backported to 2.4 in 2.4.5 (June 2024)
        f.l0_import = f.l0_import && at >= (2, 4, 5);
        f.struct_arrays = at >= (2, 6, 4);
        f.func_runtime_check = at >= (2, 6, 8);
        f.multi_l0_in_one_job = at >= (2, 6, 5);
        // BackupRBAC/RestoreRBAC came with 2.4.10
        f.rbac_calls = f.rbac_calls && at >= (2, 4, 10);
        Some(f)
    }

    /// `2.4` (`2.6.2`, `2.4.3` when the patch matters; `2.6` at the head of a line).
    pub fn name(&self) -> String {
        let (a, b, c) = self.version;
        let patch_matters = (a, b) == (2, 6) || ((a, b) == (2, 4) && c < 5);
        if c == 0 || c == HEAD_OF_LINE_PATCH || !patch_matters {
            format!("{a}.{b}")
        } else {
            format!("{a}.{b}.{c}")
        }
    }
}

/// The patch level of a version known only down to its line (`2.6`): the head of that line.
const HEAD_OF_LINE_PATCH: u32 = 9999;

/// `MAJOR.MINOR.PATCH` of an exact release (`v2.4.17`, `2.6.0-rc1`, `2.3.22.6`).
fn release_version(v: &str) -> Option<(u32, u32, u32)> {
    let v = v.strip_prefix('v').unwrap_or(v);
    // a pre-release or build suffix does not change the line
    let core = v.split(['-', '+']).next()?;
    let parts: Vec<&str> = core.split('.').collect();
    if !(3..=4).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    let num = |s: &str| -> Option<u32> {
        (s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0')))
            .then(|| s.parse().ok())
            .flatten()
    };
    Some((num(parts[0])?, num(parts[1])?, num(parts[2])?))
}

/// `MAJOR.MINOR[.PATCH]` at the start of `v` or right after "milvus" (any case, then spaces,
/// `_` or `-`, and an optional `v`), as milvus-backup's `_versionPattern` finds it.
fn embedded_version(v: &str) -> Option<(u32, u32, u32)> {
    let at = |rest: &str| -> Option<(u32, u32, u32)> {
        let rest = rest.strip_prefix(['v', 'V']).unwrap_or(rest);
        let digits = |s: &str| -> Option<(u32, usize)> {
            let n = s.bytes().take_while(u8::is_ascii_digit).count();
            (n > 0)
                .then(|| s[..n].parse().ok().map(|d| (d, n)))
                .flatten()
        };
        let (major, n) = digits(rest)?;
        let rest = rest[n..].strip_prefix('.')?;
        let (minor, n) = digits(rest)?;
        let rest = &rest[n..];
        let patch = rest
            .strip_prefix('.')
            .and_then(digits)
            .map_or(HEAD_OF_LINE_PATCH, |(p, _)| p);
        Some((major, minor, patch))
    };
    if let Some(found) = at(v) {
        return Some(found);
    }
    let lower = v.to_ascii_lowercase();
    lower.match_indices("milvus").find_map(|(i, m)| {
        let rest = v[i + m.len()..].trim_start_matches([' ', '_', '-']);
        at(rest)
    })
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
        // a build tag that names no version at all (`master-20260226-abcdef`) is a development
        // build, newer than any release: milvus-backup's `_latestDevVersion`
        if let Some(r) = reported.filter(|r| !r.trim().is_empty()) {
            let mut f = Features::milvus_2_6();
            f.version = (99, 0, 0);
            f.struct_arrays = true;
            f.func_runtime_check = true;
            f.multi_l0_in_one_job = true;
            return (f, Detected::Version(r.to_string()));
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
        // a build tag without a version: the newest line, as milvus-backup takes it
        let (f, _) = Features::detect(Some("master-20260226-abcdef"), || panic!("no probe"));
        assert_eq!(f.version, (99, 0, 0));
        assert!(f.storage_v2 && f.func_runtime_check);
        let (_, d) = Features::detect(Some(""), || true);
        assert!(matches!(d, Detected::Probe { .. }));
    }

    #[test]
    fn versions_are_read_as_milvus_backup_reads_them() {
        let v = |s: &str| Features::from_version(s).map(|f| f.version);
        assert_eq!(v("v2.4.17"), Some((2, 4, 17)));
        assert_eq!(v("2.6.0-rc1"), Some((2, 6, 0)));
        assert_eq!(v("v2.3.22.6"), Some((2, 3, 22)), "a hotfix is its release");
        // dev build tags and vendor descriptions: the head of the line they name
        assert_eq!(v("2.6-20260404-31fb3fc"), Some((2, 6, 9999)));
        assert_eq!(
            v("Zilliz Cloud Vector Database(Compatible with Milvus 2.6)"),
            Some((2, 6, 9999))
        );
        assert_eq!(v("Compatible with Milvus v2.5.3"), Some((2, 5, 3)));
        // a number elsewhere in a product name is not a version
        assert_eq!(v("Cloud 3000 build"), None);
        assert_eq!(v("v2.2.16"), None);
        // 2.6.8+ on the head of line too
        assert!(
            Features::from_version("2.6-20260404-31fb3fc")
                .unwrap()
                .func_runtime_check
        );
        // L0 imports came to 2.4 with 2.4.5
        assert!(!Features::from_version("v2.4.4").unwrap().l0_import);
        assert!(Features::from_version("v2.4.5").unwrap().l0_import);
        assert!(Features::from_version("v2.5.0").unwrap().l0_import);
        // RBAC in one call from 2.4.10, privilege groups from 2.5
        let f = |s: &str| Features::from_version(s).unwrap();
        assert!(!f("v2.3.5").rbac_calls && !f("v2.4.9").rbac_calls);
        assert!(f("v2.4.10").rbac_calls && f("v2.6.0").rbac_calls);
        assert!(!f("v2.4.17").privilege_groups && f("v2.5.0").privilege_groups);
    }
}
