//! The actions the audit log records, each named once: the engine writes them (the Gate, the
//! CLI, the scheduler and the sign-in pages; `milvault::auth::audit::action` is this module) and
//! the Audit page filters by them. Plain constants, so the browser's half has them too.

/// Declares each action's constant and [`ALL`], so that no action is left out of the list.
macro_rules! actions {
    ($($(#[$doc:meta])* $name:ident = $value:literal;)*) => {
        $($(#[$doc])* pub const $name: &str = $value;)*

        /// Every action, in the order declared.
        pub const ALL: &[&str] = &[$($name),*];
    };
}

actions! {
    /// A backup's metadata was read.
    BACKUP_READ = "backup.read";
    /// A backup was made.
    BACKUP_CREATE = "backup.create";
    /// A backup was restored from.
    BACKUP_RESTORE = "backup.restore";
    /// A backup was deleted.
    BACKUP_DELETE = "backup.delete";
    /// A backup was restored into a scratch database and checked (a restore drill).
    BACKUP_DRILL = "backup.drill";
    /// A backup was verified.
    BACKUP_VERIFY = "backup.verify";
    /// A backup was copied to another storage.
    BACKUP_COPY = "backup.copy";
    /// A backup was exported as an archive.
    BACKUP_EXPORT = "backup.export";
    /// An archive was imported as a backup.
    BACKUP_IMPORT = "backup.import";
    /// A running job was cancelled.
    JOB_CANCEL = "job.cancel";
    /// A policy was added.
    POLICY_ADD = "policy.add";
    /// A policy was changed.
    POLICY_UPDATE = "policy.update";
    /// A policy was paused.
    POLICY_PAUSE = "policy.pause";
    /// A policy was resumed.
    POLICY_RESUME = "policy.resume";
    /// A policy was removed.
    POLICY_REMOVE = "policy.remove";
    /// A policy was run now.
    POLICY_RUN = "policy.run";
    /// The users were listed.
    USER_LIST = "user.list";
    /// A user was added.
    USER_ADD = "user.add";
    /// A user's role or databases changed.
    USER_UPDATE = "user.update";
    /// A user's password changed.
    USER_PASSWORD = "user.password";
    /// A user was removed.
    USER_REMOVE = "user.remove";
    /// An API token was created.
    TOKEN_CREATE = "token.create";
    /// An API token was revoked.
    TOKEN_REVOKE = "token.revoke";
    /// A test notification was sent to a webhook.
    NOTIFY_TEST = "notify.test";
    /// The audit log was read.
    AUDIT_READ = "audit.read";
    /// Old entries were removed.
    AUDIT_PRUNE = "audit.prune";
    /// Refused requests left out by the rate limit, summed up.
    AUDIT_DROPPED = "audit.dropped";
    /// A sign-in (password, Milvus or set-up link).
    AUTH_SIGN_IN = "auth.sign_in";
    /// A sign-out.
    AUTH_SIGN_OUT = "auth.sign_out";
    /// A request refused before it reached what it asked for (no sign-in, another site's,
    /// a foreign host).
    REQUEST = "request";
}

/// The Audit page's action filter: `(value, label)`, a value ending in `.` matching every action
/// of that group (the filter is a prefix). Groups and the backup actions one by one.
pub fn filters() -> Vec<(String, String)> {
    let groups = [
        ("backup.", "backups (all)"),
        ("job.", "jobs"),
        ("policy.", "policies"),
        ("user.", "users"),
        ("token.", "tokens"),
        ("notify.", "notifications"),
        ("auth.", "sign-in / sign-out"),
        ("audit.", "the audit log"),
        (REQUEST, "refused requests"),
    ];
    let mut out = Vec::new();
    for (value, label) in groups {
        out.push((value.to_string(), label.to_string()));
        if value == "backup." {
            out.extend(
                ALL.iter()
                    .filter(|a| a.starts_with(value))
                    .map(|a| (a.to_string(), a.to_string())),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_named_once() {
        let mut seen: Vec<&str> = ALL.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), ALL.len());
    }

    #[test]
    fn every_action_has_a_filter_and_every_filter_an_action() {
        let f = filters();
        for a in ALL {
            assert!(
                f.iter().any(|(v, _)| a.starts_with(v.as_str())),
                "{a} cannot be filtered"
            );
        }
        for (v, _) in &f {
            assert!(
                ALL.iter().any(|a| a.starts_with(v.as_str())),
                "{v} matches nothing"
            );
        }
        assert!(f.iter().any(|(v, _)| v == BACKUP_DRILL));
    }
}
