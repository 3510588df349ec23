//! The engine's error type: every failure a user can meet, each with a message that says what to do.

use std::time::Duration;

/// Result alias for the engine.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error of a storage client or of Milvus' client that an [`Error`] keeps as its source.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in a backup, a restore or a look-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file or an override is wrong.
    #[error("configuration: {0}")]
    Config(String),

    /// A request names something invalid (a bad backup name, a malformed rename rule...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),

    /// Milvus could not be reached at all.
    #[error("cannot reach Milvus at {address}: {reason}. Check milvus.address/milvus.port in the config and that Milvus is running")]
    MilvusUnreachable { address: String, reason: String },

    /// Milvus refused the credentials (user name and password) it was called with.
    #[error("Milvus at {address} refused the credentials: {reason}. Check milvus.user/milvus.password in the config")]
    MilvusCredentials { address: String, reason: String },

    /// Milvus answered a call with an error status. `source` is the gRPC status when the call
    /// itself failed (its code tells "not implemented by this version" from other failures).
    #[error("Milvus {call} failed: {reason}")]
    Milvus {
        call: &'static str,
        reason: String,
        #[source]
        source: Option<Cause>,
    },

    /// A Milvus call did not answer in time.
    #[error(
        "Milvus {call} did not answer within {timeout:?}; the server may be overloaded or down"
    )]
    MilvusTimeout {
        call: &'static str,
        timeout: Duration,
    },

    /// milvault's own database (jobs, policies, users, audit) failed.
    #[error("milvault's job database: {0}")]
    Database(String),

    /// A storage operation failed. `source` is the storage client's own error when there is one
    /// (object_store's, an I/O error), for callers that look at the cause.
    #[error("{location}: {reason}")]
    Storage {
        location: String,
        reason: String,
        #[source]
        source: Option<Cause>,
    },

    /// No backup has this name.
    #[error("backup '{0}' does not exist; `milvault list` shows the backups there are")]
    BackupNotFound(String),

    /// A complete backup with this name already exists.
    #[error("backup '{0}' already exists; choose another name or delete it first with `milvault delete -n {0}`")]
    BackupExists(String),

    /// A backup of this name is being made right now.
    #[error("a backup named '{0}' is being made right now; wait for it to finish or choose another name")]
    BackupInProgress(String),

    /// The job's claim on its backup's name lapsed (its process was stopped for longer than the
    /// lease) and another process may write the backup now: this job writes and removes nothing.
    #[error("this job no longer holds backup '{0}': its process was stopped for longer than its claim lasts, and another may have taken the backup over; nothing more was written or removed. Check the backup with `milvault get -n {0}` (or resume it)")]
    ClaimLost(String),

    /// The backup is in use by a job, so it cannot be used this way now.
    #[error("backup '{name}' cannot be used for this now: {reason}")]
    BackupBusy { name: String, reason: String },

    /// The backup has no manifest, so its files cannot be verified.
    #[error("backup '{0}' has no manifest (it was made by milvus-backup or an older milvault), so its files cannot be verified; make a new backup to get one")]
    NoManifest(String),

    /// Files of the backup are missing or differ from its manifest.
    #[error("backup '{name}' is damaged: {count} files are missing or changed ({files}); restore from another backup, or pass force to restore anyway")]
    BackupDamaged {
        name: String,
        count: usize,
        files: String,
    },

    /// A copied file did not arrive as the backup holds it (the source no longer matches its
    /// manifest, or the destination changed it).
    #[error("the copy of backup '{name}' stopped: {detail}; verify the source (milvault verify -n {name}) and copy again")]
    CopyMismatch { name: String, detail: String },

    /// A backup of this name is in the destination storage already.
    #[error("storage '{storage}' holds a backup named '{name}' already; delete it there first (milvault --storage {storage} delete -n {name}) or copy under another name (--as)")]
    ExistsInStorage { storage: String, name: String },

    /// A policy of this name exists.
    #[error("a policy named '{0}' exists already; choose another name or change that one")]
    PolicyExists(String),

    /// No policy has this name.
    #[error("there is no policy named '{0}'; `milvault policy list` shows them")]
    PolicyNotFound(String),

    /// Files of an earlier, unfinished backup occupy the name.
    #[error("an incomplete backup named '{0}' is in the way (data without metadata, left by a failed run); remove it with `milvault delete -n {0}` or choose another name")]
    IncompleteBackupExists(String),

    /// An archive to import is damaged, incomplete or holds what a backup may not (a path
    /// outside its folder, a file its manifest does not list); what was written is removed.
    #[error("the archive was refused: {0}; nothing was imported")]
    BadArchive(String),

    /// An uploaded archive is larger than the configured limit.
    #[error("the archive is larger than the {limit} bytes an upload may have (backup.maxArchiveBytes); nothing was imported. Import it with `milvault import FILE`, or raise the limit")]
    ArchiveTooLarge { limit: u64 },

    /// The backup's metadata cannot be read or makes no sense.
    #[error("backup '{name}' has unreadable metadata ({file}): {reason}")]
    CorruptMetadata {
        name: String,
        file: String,
        reason: String,
    },

    /// A collection named in a request is not in Milvus.
    #[error("collection '{0}' does not exist in Milvus; `milvault check` lists what Milvus has")]
    CollectionNotFound(String),

    /// A collection named in a restore request is not in the backup.
    #[error("collection '{collection}' is not in backup '{backup}'; `milvault get -n {backup}` lists its collections")]
    CollectionNotInBackup { backup: String, collection: String },

    /// A restore would write over a collection that exists.
    #[error("collection '{0}' already exists in Milvus and was left untouched; restore under another name with --suffix or --rename, or replace it with --drop_exist_collection")]
    CollectionExists(String),

    /// A restore job cannot be resumed (it runs, it completed, or what it left is unclear).
    #[error("restore job {job} cannot be resumed: {reason}")]
    NotResumable { job: String, reason: String },

    /// A restore target's name is an alias of another collection.
    #[error("'{target}' is an alias of collection '{collection}', so a restore into it would take the alias' traffic (or drop that collection) and was refused before anything changed; restore under another name with --suffix or --rename, or drop or move the alias first")]
    TargetIsAlias { target: String, collection: String },

    /// The restored collection does not hold what the backup holds.
    #[error("restore of '{collection}' is incomplete: {detail}")]
    VerificationFailed { collection: String, detail: String },

    /// A Milvus import task failed.
    #[error("import of segment {segment} into '{collection}' failed: {reason}")]
    ImportFailed {
        collection: String,
        segment: i64,
        reason: String,
    },

    /// The backup holds something the target Milvus cannot take (L0 deletes into 2.3, BM25
    /// functions into 2.4, a snapshot bundle...); found before anything was created.
    #[error(
        "backup '{backup}' cannot be restored into this Milvus: {refusal}. Nothing was created"
    )]
    NotRestorable { backup: String, refusal: Refusal },

    /// The job was cancelled.
    /// Rows of a logical backup that cannot be read, written or converted (a Parquet file that is
    /// not what the backup's metadata says, a Query answer of an unexpected shape).
    #[error("logical backup data of '{collection}': {reason}")]
    LogicalData { collection: String, reason: String },

    /// A collection a logical backup cannot read through the API (not loadable, no primary key).
    #[error("'{collection}' cannot be read through the API: {reason}")]
    NotReadable { collection: String, reason: String },

    #[error("cancelled")]
    Cancelled,

    /// The request carries no valid credentials.
    #[error("sign in first: {0}")]
    Unauthenticated(String),

    /// The signed-in user may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),

    /// Too many failed sign-ins for this user or address.
    #[error("too many failed sign-ins; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },

    /// A user of this name exists.
    #[error("a user named '{0}' exists already")]
    UserExists(String),

    /// No user has this name.
    #[error("there is no user named '{0}'; `milvault user list` shows them")]
    UserNotFound(String),
}

/// What kind of failure an [`Error`] is, for front ends that map errors to status codes. The
/// kinds are written once, in the portal's crate (the browser shows errors by kind and cannot
/// link the engine); the engine never answers the browser's own `Unreachable`.
pub use app::error::PortalErrorKind as ErrorKind;

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::InvalidRequest(_) | Error::BadArchive(_) => {
                ErrorKind::InvalidInput
            }
            Error::ArchiveTooLarge { .. } => ErrorKind::TooLarge,
            Error::BackupNotFound(_)
            | Error::PolicyNotFound(_)
            | Error::UserNotFound(_)
            | Error::CollectionNotFound(_)
            | Error::CollectionNotInBackup { .. } => ErrorKind::NotFound,
            Error::BackupExists(_)
            | Error::BackupInProgress(_)
            | Error::BackupBusy { .. }
            | Error::ClaimLost(_)
            | Error::PolicyExists(_)
            | Error::UserExists(_)
            | Error::IncompleteBackupExists(_)
            | Error::ExistsInStorage { .. } => ErrorKind::Conflict,
            Error::Unauthenticated(_) => ErrorKind::Unauthenticated,
            Error::Forbidden(_) => ErrorKind::Forbidden,
            Error::TooManyAttempts { .. } => ErrorKind::TooManyRequests,
            Error::CollectionExists(_)
            | Error::TargetIsAlias { .. }
            | Error::NotResumable { .. }
            | Error::NoManifest(_)
            | Error::BackupDamaged { .. }
            | Error::CopyMismatch { .. }
            | Error::NotReadable { .. }
            | Error::NotRestorable { .. } => ErrorKind::FailedPrecondition,
            Error::MilvusUnreachable { .. }
            | Error::MilvusTimeout { .. }
            | Error::MilvusCredentials { .. } => ErrorKind::Unavailable,
            Error::Milvus { .. }
            | Error::Storage { .. }
            | Error::CorruptMetadata { .. }
            | Error::VerificationFailed { .. }
            | Error::ImportFailed { .. }
            | Error::LogicalData { .. }
            | Error::Database(_)
            | Error::Cancelled => ErrorKind::Internal,
        }
    }

    /// A short stable code naming the error, for APIs (`backup_not_found`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "invalid_config",
            Error::InvalidRequest(_) => "invalid_request",
            Error::MilvusUnreachable { .. } => "milvus_unreachable",
            Error::MilvusCredentials { .. } => "milvus_credentials",
            Error::Milvus { .. } => "milvus_error",
            Error::MilvusTimeout { .. } => "milvus_timeout",
            Error::Storage { .. } => "storage_error",
            Error::BackupNotFound(_) => "backup_not_found",
            Error::BackupExists(_) => "backup_exists",
            Error::BackupInProgress(_) => "backup_in_progress",
            Error::BackupBusy { .. } => "backup_busy",
            Error::ClaimLost(_) => "claim_lost",
            Error::NoManifest(_) => "no_manifest",
            Error::BackupDamaged { .. } => "backup_damaged",
            Error::CopyMismatch { .. } => "copy_mismatch",
            Error::ExistsInStorage { .. } => "exists_in_storage",
            Error::PolicyExists(_) => "policy_exists",
            Error::PolicyNotFound(_) => "policy_not_found",
            Error::IncompleteBackupExists(_) => "incomplete_backup_exists",
            Error::CorruptMetadata { .. } => "corrupt_metadata",
            Error::BadArchive(_) => "bad_archive",
            Error::ArchiveTooLarge { .. } => "archive_too_large",
            Error::CollectionNotFound(_) => "collection_not_found",
            Error::CollectionNotInBackup { .. } => "collection_not_in_backup",
            Error::CollectionExists(_) => "collection_exists",
            Error::TargetIsAlias { .. } => "target_is_alias",
            Error::NotResumable { .. } => "not_resumable",
            Error::Database(_) => "database_error",
            Error::VerificationFailed { .. } => "verification_failed",
            Error::ImportFailed { .. } => "import_failed",
            Error::NotRestorable { .. } => "not_restorable",
            Error::LogicalData { .. } => "logical_data",
            Error::NotReadable { .. } => "not_readable",
            Error::Cancelled => "cancelled",
            Error::Unauthenticated(_) => "unauthenticated",
            Error::Forbidden(_) => "forbidden",
            Error::TooManyAttempts { .. } => "too_many_attempts",
            Error::UserExists(_) => "user_exists",
            Error::UserNotFound(_) => "user_not_found",
        }
    }

    /// Milvus' answer to `call` was an error, said in words (a status inside a reply).
    pub fn milvus(call: &'static str, reason: impl Into<String>) -> Self {
        Error::Milvus {
            call,
            reason: reason.into(),
            source: None,
        }
    }

    /// Whether this is Milvus saying it does not implement a call (an older version): the
    /// gRPC status code when the error keeps it, else its words.
    pub fn is_unimplemented(&self) -> bool {
        match self {
            Error::Milvus {
                source: Some(cause),
                ..
            } if cause.downcast_ref::<tonic::Status>().is_some() => cause
                .downcast_ref::<tonic::Status>()
                .is_some_and(|s| s.code() == tonic::Code::Unimplemented),
            Error::Milvus { reason, .. } => reason.starts_with("Unimplemented"),
            _ => false,
        }
    }

    /// A storage error at a location, said in words (no underlying error to keep).
    pub fn storage(location: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Error::Storage {
            location: location.into(),
            reason: reason.to_string(),
            source: None,
        }
    }

    /// A storage error at a location caused by `e`, which it keeps as its source.
    pub fn storage_caused<E>(location: impl Into<String>, e: E) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Error::Storage {
            location: location.into(),
            reason: e.to_string(),
            source: Some(Box::new(e)),
        }
    }
}

/// Why a backup cannot be restored into a Milvus version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The backup is not in the binlog format.
    #[error("{collection}: format {format} is not supported: the backup holds a Milvus snapshot bundle (milvus-backup --format={format}), which milvault does not restore; restore it with milvus-backup into Milvus 3.0+")]
    Format { collection: String, format: String },
    /// L0 segments and a Milvus without L0 import.
    #[error("{collection}: L0 segments {segments} hold deletes: Milvus {target} cannot import them; restore into Milvus 2.4.5+")]
    L0Segments {
        collection: String,
        segments: String,
        target: String,
    },
    /// Segments in a storage format the target cannot read.
    #[error("{collection}: segments {segments} are in Milvus' storage format v2: Milvus {target} cannot import them; restore into Milvus 2.6+")]
    StorageV2 {
        collection: String,
        segments: String,
        target: String,
    },
    /// A schema feature the target lacks.
    #[error("{collection}: {what} need Milvus {needs}+; this is Milvus {target}")]
    Feature {
        collection: String,
        what: String,
        needs: &'static str,
        target: String,
    },
    /// Segments of one import request that cannot share its `storage_version` option.
    #[error("{collection}: partition '{partition}' has no group folders and mixes storage versions ({versions}), which one import request cannot carry")]
    MixedStorageVersions {
        collection: String,
        partition: String,
        versions: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storage_error_keeps_the_client_error_as_its_source() {
        let e = Error::storage_caused("s3://b/backup", std::io::Error::other("connection reset"));
        assert_eq!(e.to_string(), "s3://b/backup: connection reset");
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(e.kind(), ErrorKind::Internal);
        let said = Error::storage("s3://b/backup", "the directory does not exist");
        assert!(std::error::Error::source(&said).is_none());
    }

    #[test]
    fn milvus_not_implementing_a_call_is_told_by_the_status_code() {
        let status = tonic::Status::unimplemented("GetPersistentSegmentInfo");
        let e = Error::Milvus {
            call: "GetPersistentSegmentInfo",
            reason: format!("{:?}: {}", status.code(), status.message()),
            source: Some(Box::new(status)),
        };
        assert!(e.is_unimplemented());
        let source = std::error::Error::source(&e).expect("the status");
        assert_eq!(
            source.downcast_ref::<tonic::Status>().map(|s| s.code()),
            Some(tonic::Code::Unimplemented)
        );
        let other = Error::Milvus {
            call: "Flush",
            // words that merely start so do not count once the status says otherwise
            reason: "Unimplemented-looking words".into(),
            source: Some(Box::new(tonic::Status::internal("boom"))),
        };
        assert!(!other.is_unimplemented());
        // an error kept only in words (an answer inside a reply) is read by its words
        assert!(Error::milvus("ListImports", "Unimplemented: unknown method").is_unimplemented());
        assert!(!Error::milvus("Flush", "collection not loaded").is_unimplemented());
    }
}
