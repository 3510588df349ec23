//! Names, each rule once: the backup-name rule and the default backup name (shared with the
//! portal through [`app::names`], which the WASM build compiles too), qualified collection names
//! ([`QualifiedName`]) and what a request selects ([`Selection`]), parsed by one parser for every
//! front end (CLI, REST v1/v2, gRPC, portal, scheduler; the [`Gate`](crate::auth::gate::Gate)
//! applies it to every backup and restore request).

use std::{collections::BTreeMap, fmt};

use app::names::NameProblem;

use crate::error::{Error, Result};

/// The database a collection named without one is in.
pub const DEFAULT_DB: &str = "default";

/// Checks that a backup name is usable as a folder name everywhere (S3, GCS, Azure, local): the
/// rule the portal checks as the name is typed ([`app::names::backup_name_problem`]).
pub fn validate_backup_name(name: &str) -> Result<()> {
    let why = match app::names::backup_name_problem(name) {
        None => return Ok(()),
        Some(NameProblem::Empty) => "the backup name is empty; give one with -n NAME".to_string(),
        Some(NameProblem::TooLong) => format!(
            "backup name '{name}' is longer than {} characters",
            app::names::MAX_NAME_LEN
        ),
        Some(NameProblem::BadCharacter | NameProblem::BadStart) => format!(
            "backup name '{name}' may only contain letters, digits, '_', '-' and '.', and must start with a letter, digit or '_'"
        ),
    };
    Err(Error::InvalidRequest(why))
}

/// The name a backup made now gets when none is given: `backup_YYYY_MM_DD_HH_MM_SS` (UTC),
/// milvus-backup's layout; the portal shows the same name ([`app::names::default_backup_name`]).
pub fn default_backup_name() -> String {
    app::names::default_backup_name(chrono::Utc::now().timestamp_millis())
}

/// `db` with the empty database meaning [`DEFAULT_DB`] (said once, in the format layer).
pub use crate::format::db_or_default;

/// A collection by database and name. Written `db.collection`; `collection` alone means the
/// default database, or the one database a request gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QualifiedName {
    /// The database (never empty).
    pub db: String,
    /// The collection.
    pub collection: String,
}

impl QualifiedName {
    /// `collection` in `db` (the empty database is the default one).
    pub fn new(db: &str, collection: &str) -> QualifiedName {
        QualifiedName {
            db: db_or_default(db).to_string(),
            collection: collection.to_string(),
        }
    }

    /// Parses `NAME` (in `default_db`) or `DB.NAME`; both parts must be non-empty.
    pub fn parse_in(s: &str, default_db: &str) -> Result<QualifiedName> {
        let (db, collection) = s.split_once('.').unwrap_or((default_db, s));
        if db.is_empty() || collection.is_empty() {
            return Err(Error::InvalidRequest(format!(
                "'{s}' is not a collection name (use NAME or DB.NAME)"
            )));
        }
        Ok(QualifiedName::new(db, collection))
    }

    /// Reads a name already written `db.collection` (or `collection` in the default database),
    /// as the engine wrote it (job targets, backups' lists): never fails.
    pub fn read(s: &str) -> QualifiedName {
        let (db, collection) = s.split_once('.').unwrap_or(("", s));
        QualifiedName::new(db, collection)
    }
}

impl fmt::Display for QualifiedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.db, self.collection)
    }
}

/// What a request selects: "these collections in db1, all of db2". Empty: everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Single collections.
    pub collections: Vec<QualifiedName>,
    /// Databases taken whole.
    pub databases: Vec<String>,
}

impl Selection {
    /// The one parser of a request's collections and databases: a collection is `DB.NAME`, or
    /// `NAME` in the default database, or in the one database given when `databases` holds
    /// exactly one. With collections named, `databases` only says which one is meant (as
    /// milvus-backup's `-d` does); without, they are taken whole.
    pub fn parse<S: AsRef<str>>(collections: &[S], databases: &[S]) -> Result<Selection> {
        let databases: Vec<String> = databases.iter().map(|d| d.as_ref().to_string()).collect();
        let default_db = match databases.as_slice() {
            [one] => one.as_str(),
            _ => DEFAULT_DB,
        };
        let collections = collections
            .iter()
            .map(|c| QualifiedName::parse_in(c.as_ref(), default_db))
            .collect::<Result<Vec<_>>>()?;
        Ok(Selection {
            databases: if collections.is_empty() {
                databases
            } else {
                Vec::new()
            },
            collections,
        })
    }

    /// milvus-backup's `db_collections` map: `{"db1": ["c1"], "db2": []}` (an empty list takes
    /// the database whole).
    pub fn from_map(map: &BTreeMap<String, Vec<String>>) -> Selection {
        let mut sel = Selection::default();
        for (db, colls) in map {
            if colls.is_empty() {
                sel.databases.push(db.clone());
            }
            sel.collections
                .extend(colls.iter().map(|c| QualifiedName::new(db, c)));
        }
        sel
    }

    /// milvus-backup's `--filter` (internal/filter/filter.go): comma separated `db.*` (a whole
    /// database), `db.coll`, or `coll` (in the default database). Its fourth rule, `db.` (a
    /// database without any collection), names no data and is refused.
    pub fn from_filter(filter: &str) -> Result<Selection> {
        let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_alphanumeric() || c == '_');
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut whole = Vec::new();
        for rule in filter.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            match rule.split_once('.') {
                Some((db, "*")) if word(db) => whole.push(db.to_string()),
                Some((db, "")) if word(db) => {
                    return Err(Error::InvalidRequest(format!(
                        "filter rule '{rule}' names a database without collections, which holds no data to back up: use '{db}.*' for all of its collections"
                    )))
                }
                Some((db, coll)) if word(db) && word(coll) => {
                    map.entry(db.to_string()).or_default().push(coll.to_string())
                }
                None if word(rule) => map
                    .entry(DEFAULT_DB.to_string())
                    .or_default()
                    .push(rule.to_string()),
                _ => {
                    return Err(Error::InvalidRequest(format!(
                        "filter rule '{rule}' is not db.*, db.collection or collection"
                    )))
                }
            }
        }
        for db in whole {
            map.insert(db, Vec::new());
        }
        Ok(Selection::from_map(&map))
    }

    /// Whether it names nothing (everything is meant).
    pub fn is_everything(&self) -> bool {
        self.collections.is_empty() && self.databases.is_empty()
    }

    /// The collections, written `db.collection`.
    pub fn collection_names(&self) -> Vec<String> {
        self.collections.iter().map(ToString::to_string).collect()
    }

    /// The databases it reads, sorted (empty: all of Milvus).
    pub fn databases_read(&self) -> Vec<String> {
        let mut dbs: Vec<String> = self.databases.clone();
        dbs.extend(self.collections.iter().map(|c| c.db.clone()));
        dbs.sort();
        dbs.dedup();
        dbs
    }

    /// The engine's request fields `(collections, databases)`: whole databases alone, or
    /// collections alone; whole databases mixed with collections become their collections,
    /// which `all_in` lists.
    pub fn request_fields(
        &self,
        all_in: impl Fn(&str) -> Vec<String>,
    ) -> (Vec<String>, Vec<String>) {
        if self.collections.is_empty() {
            return (Vec::new(), self.databases.clone());
        }
        let mut names: Vec<String> = Vec::new();
        let whole = self.databases.iter().flat_map(|db| {
            all_in(db)
                .into_iter()
                .map(move |c| QualifiedName::new(db, &c))
        });
        for q in self.collections.iter().cloned().chain(whole) {
            let q = q.to_string();
            if !names.contains(&q) {
                names.push(q);
            }
        }
        (names, Vec::new())
    }

    /// Whether whole databases are mixed with single collections (their collections must then be
    /// listed: see [`Selection::request_fields`]).
    pub fn needs_expansion(&self) -> bool {
        !self.collections.is_empty() && !self.databases.is_empty()
    }
}

/// The distinct databases of qualified collection names (`db.collection`, or `collection` in the
/// default database), sorted.
pub fn databases_of<S: AsRef<str>>(qualified: &[S]) -> Vec<String> {
    let mut dbs: Vec<String> = qualified
        .iter()
        .map(|q| QualifiedName::read(q.as_ref()).db)
        .collect();
    dbs.sort();
    dbs.dedup();
    dbs
}

/// How backup `name` of storage `storage` is known in the job database and the audit log
/// (see [`app::names::backup_key`]: `STORAGE:NAME` in a named storage).
pub fn stored_name(storage: &str, name: &str) -> String {
    app::names::backup_key(storage, name)
}

/// A list as typed, tidied: items trimmed, empty ones dropped (`-c "a, b,"` is `a` and `b`).
pub fn tidy_list(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn milvus_backup_filters_are_read_rule_by_rule() {
        let sel = Selection::from_filter("db1.*,db2.c1,db2.c2,c3").unwrap();
        assert_eq!(sel.databases, vec!["db1".to_string()]);
        let names: Vec<String> = sel.collections.iter().map(|q| q.to_string()).collect();
        assert_eq!(names, ["db2.c1", "db2.c2", "default.c3"]);
        // a database named whole and one of its collections: the whole database
        let sel = Selection::from_filter("db1.c1,db1.*").unwrap();
        assert_eq!((sel.databases.len(), sel.collections.len()), (1, 0));
        assert!(Selection::from_filter("db1.")
            .unwrap_err()
            .to_string()
            .contains("db1.*"));
        assert!(Selection::from_filter("a.b.c").is_err());
        assert!(Selection::from_filter("db-1.x").is_err());
        assert!(Selection::from_filter("").unwrap().is_everything());
    }

    use super::*;

    #[test]
    fn the_engine_and_the_portal_share_the_rule_and_the_default_name() {
        for good in ["nightly_2026-11-25.v1", "_x", "a", &"x".repeat(128)] {
            validate_backup_name(good).unwrap();
            assert!(app::format::backup_name_problem(good).is_none());
            // the storage layout's check (a twin until it calls this module) agrees
            validate_backup_name(good).unwrap();
        }
        for bad in ["", "a/b", "-x", ".x", "a b", "é", &"x".repeat(129)] {
            assert!(validate_backup_name(bad).is_err(), "{bad}");
            assert!(app::format::backup_name_problem(bad).is_some(), "{bad}");
            assert!(validate_backup_name(bad).is_err());
        }
        let name = default_backup_name();
        validate_backup_name(&name).unwrap();
        assert!(name.starts_with("backup_") && name.len() == "backup_2026_11_25_09_31_24".len());
    }

    #[test]
    fn a_name_means_the_default_database_or_the_one_given() {
        let q = |s: &str| QualifiedName::read(s);
        let sel = Selection::parse(&["a", "shop.b"], &[]).unwrap();
        assert_eq!(sel.collections, vec![q("default.a"), q("shop.b")]);
        assert_eq!(sel.databases_read(), vec!["default", "shop"]);
        let sel = Selection::parse(&["a"], &["team"]).unwrap();
        assert_eq!(sel.collection_names(), vec!["team.a"]);
        assert_eq!(sel.databases_read(), vec!["team"]);
        let sel = Selection::parse(&["a"], &["x", "y"]).unwrap();
        assert_eq!(sel.collection_names(), vec!["default.a"]);
        let whole = Selection::parse::<&str>(&[], &["x", "y"]).unwrap();
        assert_eq!(whole.databases_read(), vec!["x", "y"]);
        assert!(Selection::parse::<&str>(&[], &[]).unwrap().is_everything());
        for bad in [".a", "a.", "."] {
            assert!(Selection::parse(&[bad], &[]).is_err(), "{bad}");
        }
        assert_eq!(q("c"), QualifiedName::new("", "c"));
        assert_eq!(q("c").to_string(), "default.c");
    }

    #[test]
    fn milvus_backups_map_mixes_collections_and_whole_databases() {
        let map: BTreeMap<String, Vec<String>> = [
            ("db1".to_string(), vec!["a".to_string(), "b".to_string()]),
            ("db2".to_string(), vec![]),
        ]
        .into();
        let sel = Selection::from_map(&map);
        assert!(sel.needs_expansion());
        let (c, d) = sel.request_fields(|db| vec![format!("{db}_all")]);
        assert_eq!(c, vec!["db1.a", "db1.b", "db2.db2_all"]);
        assert!(d.is_empty());
        let whole: BTreeMap<String, Vec<String>> =
            [("db1".to_string(), vec![]), ("db2".to_string(), vec![])].into();
        assert_eq!(
            Selection::from_map(&whole).request_fields(|_| vec![]),
            (vec![], vec!["db1".into(), "db2".into()])
        );
    }

    #[test]
    fn names_are_validated() {
        for good in ["nightly_2024-01-01", "b1", "_x", "v1.2"] {
            validate_backup_name(good).unwrap();
        }
        for bad in ["", "-x", ".hidden", "a/b", "a b", "ü", &"x".repeat(129)] {
            assert!(
                validate_backup_name(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
