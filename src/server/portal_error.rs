//! The engine's errors as the portal shows them: the one mapping from [`Error`] to
//! [`PortalError`] (its kind, the engine's stable code, its message and what to do), as
//! [`super::rest::error`] maps them to HTTP statuses for REST. The codes are the engine's own
//! ([`Error::code`]), the same the REST API answers.

use app::api::PortalError;

use crate::error::Error;

/// The engine's kind, code and message; the hint is the kind's (what to do, when the engine's
/// messages of that kind do not say it; see [`app::api::PortalErrorKind::hint`]).
impl From<Error> for PortalError {
    fn from(e: Error) -> Self {
        PortalError::of_kind(e.kind(), e.code(), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::PortalErrorKind;

    /// One engine error of each kind.
    fn one_of_each() -> Vec<(Error, PortalErrorKind, &'static str)> {
        vec![
            (
                Error::InvalidRequest("bad name".into()),
                PortalErrorKind::InvalidInput,
                "invalid_request",
            ),
            (
                Error::BackupNotFound("b1".into()),
                PortalErrorKind::NotFound,
                "backup_not_found",
            ),
            (
                Error::BackupExists("b1".into()),
                PortalErrorKind::Conflict,
                "backup_exists",
            ),
            (
                Error::CollectionExists("default.c".into()),
                PortalErrorKind::FailedPrecondition,
                "collection_exists",
            ),
            (
                Error::MilvusUnreachable {
                    address: "m:19530".into(),
                    reason: "refused".into(),
                },
                PortalErrorKind::Unavailable,
                "milvus_unreachable",
            ),
            (
                Error::Unauthenticated("no session".into()),
                PortalErrorKind::Unauthenticated,
                "unauthenticated",
            ),
            (
                Error::Forbidden("outside yours".into()),
                PortalErrorKind::Forbidden,
                "forbidden",
            ),
            (
                Error::TooManyAttempts {
                    retry_after_secs: 30,
                },
                PortalErrorKind::TooManyRequests,
                "too_many_attempts",
            ),
            (
                Error::ArchiveTooLarge { limit: 10 },
                PortalErrorKind::TooLarge,
                "archive_too_large",
            ),
            (
                Error::Database("locked".into()),
                PortalErrorKind::Internal,
                "database_error",
            ),
        ]
    }

    #[test]
    fn each_engine_kind_maps_to_its_portal_kind_and_code() {
        let cases = one_of_each();
        // every engine kind is covered once
        let mut kinds: Vec<String> = cases
            .iter()
            .map(|(e, _, _)| format!("{:?}", e.kind()))
            .collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), 10);
        for (e, kind, code) in cases {
            assert_eq!(e.kind(), kind, "{e}");
            // the REST API's code, from the same place
            assert_eq!(e.code(), code);
            let message = e.to_string();
            let p = PortalError::from(e);
            assert_eq!((p.kind, p.code.as_str()), (kind, code));
            assert_eq!(p.message, message);
            assert_eq!(p.hint.as_deref(), kind.hint());
        }
    }

    #[test]
    fn a_missing_backup_keeps_its_message_and_says_where_to_look() {
        let p = PortalError::from(Error::BackupNotFound("nightly_1".into()));
        assert_eq!(p.kind, PortalErrorKind::NotFound);
        assert_eq!(p.code, "backup_not_found");
        assert!(
            p.message.contains("backup 'nightly_1' does not exist"),
            "{p}"
        );
        assert!(p
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("Backups, Jobs and Policies pages")));
    }

    #[test]
    fn preconditions_carry_their_own_advice() {
        let p = PortalError::from(Error::NoManifest("b1".into()));
        assert_eq!(p.kind, PortalErrorKind::FailedPrecondition);
        assert_eq!(p.hint, None);
        assert!(p.message.contains("make a new backup"), "{p}");
    }

    #[test]
    fn portal_refusals_are_invalid_input() {
        let p = PortalError::invalid_input("Pick at least one collection to back up.");
        assert_eq!(p.kind, PortalErrorKind::InvalidInput);
        assert_eq!(p.code, "invalid_request");
        assert_eq!(p.message, "Pick at least one collection to back up.");
    }
}
