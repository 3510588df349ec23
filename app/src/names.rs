//! The backup-name rule and the default name, owned here because both sides need them: the
//! portal (compiled to WASM, so it cannot use the engine crate) checks a name as it is typed and
//! shows the name an empty field gets, and the engine (`milvault::names`, which calls this)
//! enforces the same rule and makes the same name. Plain Rust, no Leptos.

/// The longest backup name, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Why a backup name is not usable as a folder name everywhere (S3, GCS, Azure, local disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// Longer than [`MAX_NAME_LEN`].
    TooLong,
    /// A character other than ASCII letters, digits, `_`, `-` and `.`.
    BadCharacter,
    /// Starts with `.` or `-`.
    BadStart,
}

/// The rule: `None` when `name` is a usable backup name.
pub fn backup_name_problem(name: &str) -> Option<NameProblem> {
    if name.is_empty() {
        return Some(NameProblem::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Some(NameProblem::TooLong);
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    if !name.chars().all(ok_char) {
        return Some(NameProblem::BadCharacter);
    }
    if name.starts_with(['.', '-']) {
        return Some(NameProblem::BadStart);
    }
    None
}

/// The storage every configuration has: the configured backup storage.
pub const DEFAULT_STORAGE: &str = "default";

/// How backup `name` of storage `storage` is known beyond its storage (the job database's name
/// claims and verifications, the audit log, the portal's addresses): the name itself in the
/// configured backup storage (`default`, or `""`), `STORAGE:NAME` in a named one. A backup
/// name never holds ':', so the two never meet.
pub fn backup_key(storage: &str, name: &str) -> String {
    if storage.is_empty() || storage == DEFAULT_STORAGE {
        name.to_string()
    } else {
        format!("{storage}:{name}")
    }
}

/// The storage (`""`: the configured one) and the name of a [`backup_key`].
pub fn split_backup_key(key: &str) -> (&str, &str) {
    key.split_once(':').unwrap_or(("", key))
}

/// The name a backup gets when none is given, from a time in milliseconds since 1970 (UTC):
/// `backup_YYYY_MM_DD_HH_MM_SS`, milvus-backup's layout (`backup_2006_01_02_15_04_05`, without
/// the nanoseconds it appends: two backups started within one second are refused by the name
/// claim instead).
pub fn default_backup_name(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = crate::civil_date::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "backup_{y:04}_{mo:02}_{d:02}_{:02}_{:02}_{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_backup_key_names_its_storage_unless_it_is_the_default() {
        use super::*;
        assert_eq!(backup_key("", "b1"), "b1");
        assert_eq!(backup_key(DEFAULT_STORAGE, "b1"), "b1");
        assert_eq!(backup_key("far", "b1"), "far:b1");
        assert_eq!(split_backup_key("far:b1"), ("far", "b1"));
        assert_eq!(split_backup_key("b1"), ("", "b1"));
    }

    use super::*;

    #[test]
    fn the_default_name_is_milvus_backups_layout() {
        assert_eq!(
            default_backup_name(1_795_599_084_000),
            "backup_2026_11_25_09_31_24"
        );
        assert!(backup_name_problem(&default_backup_name(0)).is_none());
    }

    #[test]
    fn the_rule() {
        assert_eq!(backup_name_problem("nightly_2026-11-25.v1"), None);
        assert_eq!(backup_name_problem(""), Some(NameProblem::Empty));
        assert_eq!(backup_name_problem("a/b"), Some(NameProblem::BadCharacter));
        assert_eq!(backup_name_problem("-x"), Some(NameProblem::BadStart));
        assert_eq!(backup_name_problem(".x"), Some(NameProblem::BadStart));
        assert_eq!(
            backup_name_problem(&"x".repeat(129)),
            Some(NameProblem::TooLong)
        );
        assert_eq!(backup_name_problem(&"x".repeat(128)), None);
    }
}
