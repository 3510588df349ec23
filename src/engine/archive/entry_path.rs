//! Where an archive's entries may go: paths relative to the backup's folder, never outside it,
//! and the order an export writes them in.

use crate::format::layout;

/// An entry's path, checked: relative to the backup's folder, `/`-separated, no `.`, `..` or
/// empty parts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryPath(String);

/// What an entry is inside a backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind<'a> {
    /// A file directly in `meta/` (its name): metadata, read whole.
    Meta(&'a str),
    /// Anything else (binlogs, Parquet files): listed in the manifest with size and checksum.
    Data,
}

impl EntryPath {
    /// Checks an entry's path as the archive names it (a leading `./` is allowed, as `tar -C
    /// DIR .` writes it); the error says what is wrong with it.
    pub fn parse(raw: &str) -> Result<EntryPath, String> {
        let trimmed = raw.strip_prefix("./").unwrap_or(raw);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Err(format!("entry '{raw}' has an empty path"));
        }
        if trimmed.starts_with('/') {
            return Err(format!(
                "entry '{raw}' is an absolute path; entries must be relative to the backup's folder"
            ));
        }
        if trimmed.contains('\\') || trimmed.chars().any(char::is_control) {
            return Err(format!(
                "entry '{}' has a backslash or a control character in its path",
                raw.escape_debug()
            ));
        }
        for part in trimmed.split('/') {
            match part {
                ".." => {
                    return Err(format!(
                        "entry '{raw}' points outside the backup's folder ('..')"
                    ))
                }
                "" | "." => return Err(format!("entry '{raw}' has an empty or '.' part")),
                _ => {}
            }
        }
        Ok(EntryPath(trimmed.to_string()))
    }

    /// The checked path, relative to the backup's folder.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the entry is; an error for a folder inside `meta/` (a backup has none).
    pub fn kind(&self) -> Result<EntryKind<'_>, String> {
        match self.0.strip_prefix("meta/") {
            Some(file) if file.contains('/') => Err(format!(
                "entry '{}' is in a folder inside meta/, which a backup does not have",
                self.0
            )),
            Some(file) => Ok(EntryKind::Meta(file)),
            None => Ok(EntryKind::Data),
        }
    }

    /// Whether this is the metadata file that makes a backup visible (written last on import).
    pub fn is_marker(&self) -> bool {
        self.kind() == Ok(EntryKind::Meta(layout::BACKUP_META))
    }

    /// Where the entry goes in backup `name`'s folder.
    pub fn in_backup(&self, name: &str) -> String {
        format!("{}/{}", layout::backup_dir(name), self.0)
    }
}

/// The order an export writes a backup's files in (paths relative to its folder): first
/// `backup_meta.json` (an import learns the backup's name from it before writing anything), then
/// the manifest and the other metadata, then the data files in path order.
pub fn export_order(mut files: Vec<String>) -> Vec<String> {
    let rank = |p: &str| {
        let marker = format!("meta/{}", layout::BACKUP_META);
        let manifest = format!("meta/{}", crate::format::manifest::MANIFEST_FILE);
        if p == marker {
            0
        } else if p == manifest {
            1
        } else if p.starts_with("meta/") {
            2
        } else {
            3
        }
    };
    files.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_inside_the_folder_pass() {
        for (raw, want) in [
            ("meta/backup_meta.json", "meta/backup_meta.json"),
            (
                "./binlogs/insert_log/1/2/3/100/4",
                "binlogs/insert_log/1/2/3/100/4",
            ),
            ("binlogs/", "binlogs"),
            (
                "logical/db/c/_all/part-00000.parquet",
                "logical/db/c/_all/part-00000.parquet",
            ),
        ] {
            assert_eq!(EntryPath::parse(raw).unwrap().as_str(), want, "{raw}");
        }
    }

    #[test]
    fn paths_leaving_the_folder_are_refused_with_the_reason() {
        for (raw, says) in [
            ("../escape", "outside the backup's folder"),
            ("binlogs/../../x", "outside the backup's folder"),
            ("/etc/passwd", "absolute path"),
            ("", "empty path"),
            ("./", "empty path"),
            ("meta//x", "empty or '.' part"),
            ("meta/./x", "empty or '.' part"),
            ("meta\\..\\x", "backslash"),
            ("meta/a\nb", "control character"),
        ] {
            let e = EntryPath::parse(raw).unwrap_err();
            assert!(e.contains(says), "{raw:?}: {e}");
        }
    }

    #[test]
    fn kinds_and_the_marker() {
        let p = |s: &str| EntryPath::parse(s).unwrap();
        assert_eq!(
            p("meta/full_meta.json").kind(),
            Ok(EntryKind::Meta("full_meta.json"))
        );
        assert_eq!(p("binlogs/insert_log/1").kind(), Ok(EntryKind::Data));
        assert!(p("meta/sub/x.json").kind().is_err());
        assert!(p("meta/backup_meta.json").is_marker());
        assert!(!p("binlogs/meta/backup_meta.json").is_marker());
        assert_eq!(p("meta/x.json").in_backup("b2"), "b2/meta/x.json");
    }

    #[test]
    fn exports_start_with_the_marker_then_the_manifest_then_metadata() {
        let order = export_order(vec![
            "binlogs/insert_log/1/2/3/100/1".into(),
            "meta/segment_meta.json".into(),
            "meta/milvault_manifest.json".into(),
            "binlogs/delta_log/1/2/3/1".into(),
            "meta/backup_meta.json".into(),
        ]);
        assert_eq!(
            order,
            [
                "meta/backup_meta.json",
                "meta/milvault_manifest.json",
                "meta/segment_meta.json",
                "binlogs/delta_log/1/2/3/1",
                "binlogs/insert_log/1/2/3/100/1",
            ]
        );
    }
}
