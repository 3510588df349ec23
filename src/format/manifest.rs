//! The manifest: the size and BLAKE3 checksum of every binlog a backup copied, written next to the
//! metadata (`<name>/meta/milvault_manifest.json`) before `backup_meta.json`, so that a complete
//! backup always has one. milvus-backup ignores the file; backups without one (made by
//! milvus-backup or an older milvault) cannot be verified, and say so.

use std::{collections::BTreeMap, fmt, io};

use serde::{
    de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor},
    Deserialize, Deserializer, Serialize,
};

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

/// What a manifest says of itself, besides its files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestHeader {
    pub version: u32,
    pub algorithm: String,
}

/// Reads a manifest from `reader` one entry at a time, calling `each` with every file in the
/// order they are written, without holding the files in memory (a million-file manifest is read
/// in constant memory). `each` stops the reading by returning an error, which is passed on.
pub fn read_entries<R, E>(
    reader: R,
    each: impl FnMut(String, ManifestEntry) -> Result<(), E>,
) -> Result<ManifestHeader, ReadError<E>>
where
    R: io::Read,
{
    let mut each = each;
    let mut stopped = None;
    let mut de = serde_json::Deserializer::from_reader(reader);
    let header = ManifestSeed {
        each: &mut each,
        stopped: &mut stopped,
    }
    .deserialize(&mut de);
    if let Some(e) = stopped {
        return Err(ReadError::Stopped(e));
    }
    let header = header.map_err(ReadError::Json)?;
    de.end().map_err(ReadError::Json)?;
    Ok(header)
}

/// Why [`read_entries`] ended early.
#[derive(Debug)]
pub enum ReadError<E> {
    /// The manifest is not valid JSON of the expected shape.
    Json(serde_json::Error),
    /// The callback returned this error.
    Stopped(E),
}

struct ManifestSeed<'a, F, E> {
    each: &'a mut F,
    stopped: &'a mut Option<E>,
}

impl<'de, F, E> DeserializeSeed<'de> for ManifestSeed<'_, F, E>
where
    F: FnMut(String, ManifestEntry) -> Result<(), E>,
{
    type Value = ManifestHeader;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<ManifestHeader, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F, E> Visitor<'de> for ManifestSeed<'_, F, E>
where
    F: FnMut(String, ManifestEntry) -> Result<(), E>,
{
    type Value = ManifestHeader;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a milvault manifest (an object with version, algorithm and files)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ManifestHeader, A::Error> {
        let mut header = ManifestHeader::default();
        let mut files_seen = false;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => header.version = map.next_value()?,
                "algorithm" => header.algorithm = map.next_value()?,
                "files" => {
                    files_seen = true;
                    map.next_value_seed(FilesSeed {
                        each: &mut *self.each,
                        stopped: &mut *self.stopped,
                    })?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !files_seen {
            return Err(serde::de::Error::missing_field("files"));
        }
        Ok(header)
    }
}

struct FilesSeed<'a, F, E> {
    each: &'a mut F,
    stopped: &'a mut Option<E>,
}

impl<'de, F, E> DeserializeSeed<'de> for FilesSeed<'_, F, E>
where
    F: FnMut(String, ManifestEntry) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F, E> Visitor<'de> for FilesSeed<'_, F, E>
where
    F: FnMut(String, ManifestEntry) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the manifest's files: an object of path to {size, blake3}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some((path, entry)) = map.next_entry::<String, ManifestEntry>()? {
            if let Err(e) = (self.each)(path, entry) {
                *self.stopped = Some(e);
                return Err(serde::de::Error::custom("stopped by the reader"));
            }
        }
        Ok(())
    }
}

/// Writes a manifest one entry at a time, byte for byte as serde_json writes a [`Manifest`]
/// (when the entries come in path order, as a [`Manifest`] holds them).
pub struct ManifestWriter<W: io::Write> {
    out: W,
    first: bool,
}

impl<W: io::Write> ManifestWriter<W> {
    /// Starts a version 1 manifest of this crate's [`ALGORITHM`].
    pub fn new(mut out: W) -> io::Result<Self> {
        write!(out, r#"{{"version":1,"algorithm":"{ALGORITHM}","files":{{"#)?;
        Ok(ManifestWriter { out, first: true })
    }

    /// Adds one file.
    pub fn entry(&mut self, path: &str, entry: &ManifestEntry) -> io::Result<()> {
        if !self.first {
            self.out.write_all(b",")?;
        }
        self.first = false;
        serde_json::to_writer(&mut self.out, path)?;
        self.out.write_all(b":")?;
        serde_json::to_writer(&mut self.out, entry)?;
        Ok(())
    }

    /// Closes the document and gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"}}")?;
        self.out.flush()?;
        Ok(self.out)
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

    fn three_files() -> Manifest {
        let mut m = Manifest {
            version: 1,
            algorithm: ALGORITHM.into(),
            ..Default::default()
        };
        for (p, size) in [
            ("binlogs/delta_log/1/2/3/9", 4),
            ("binlogs/insert_log/1/2/3/100/7", 10),
            ("logical/a \"quoted\" name/x", 1),
        ] {
            m.files.insert(
                p.into(),
                ManifestEntry {
                    size,
                    blake3: format!("{size:02x}"),
                },
            );
        }
        m
    }

    #[test]
    fn the_writer_writes_what_serde_writes() {
        let m = three_files();
        let mut w = ManifestWriter::new(Vec::new()).unwrap();
        for (p, e) in &m.files {
            w.entry(p, e).unwrap();
        }
        let streamed = w.finish().unwrap();
        assert_eq!(
            String::from_utf8(streamed).unwrap(),
            serde_json::to_string(&m).unwrap()
        );
        let empty = ManifestWriter::new(Vec::new()).unwrap().finish().unwrap();
        assert_eq!(
            serde_json::from_slice::<Manifest>(&empty).unwrap(),
            Manifest {
                version: 1,
                algorithm: ALGORITHM.into(),
                ..Default::default()
            }
        );
    }

    #[test]
    fn entries_are_read_one_at_a_time_in_any_key_order() {
        let m = three_files();
        let mut got = BTreeMap::new();
        let header = read_entries(
            serde_json::to_vec(&m).unwrap().as_slice(),
            |p, e| -> Result<(), ()> {
                got.insert(p, e);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(header.version, 1);
        assert_eq!(header.algorithm, ALGORITHM);
        assert_eq!(got, m.files);
        // files first, unknown keys skipped
        let reordered = r#"{"files":{"a":{"size":1,"blake3":"01"}},"extra":[1,{"x":2}],"version":1,"algorithm":"blake3"}"#;
        let mut n = 0;
        let header = read_entries(reordered.as_bytes(), |_, _| -> Result<(), ()> {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((n, header.version), (1, 1));
    }

    #[test]
    fn a_damaged_manifest_or_a_stop_ends_the_reading() {
        let json = serde_json::to_string(&three_files()).unwrap();
        let cut = &json[..json.len() - 10];
        assert!(matches!(
            read_entries(cut.as_bytes(), |_, _| -> Result<(), ()> { Ok(()) }),
            Err(ReadError::Json(_))
        ));
        assert!(matches!(
            read_entries(r#"{"version":1}"#.as_bytes(), |_, _| -> Result<(), ()> {
                Ok(())
            }),
            Err(ReadError::Json(_))
        ));
        let mut seen = 0;
        let stopped = read_entries(json.as_bytes(), |_, _| {
            seen += 1;
            if seen == 2 {
                Err("enough")
            } else {
                Ok(())
            }
        });
        assert!(matches!(stopped, Err(ReadError::Stopped("enough"))));
        assert_eq!(seen, 2);
    }
}
