//! The kinds of events webhooks are told of (`notifications.webhooks[].events`): named here,
//! where the configuration that lists them is checked; sent by `crate::jobs::notify`.

/// Every event kind.
pub const EVENTS: [&str; 6] = [
    JOB_FAILED,
    VERIFICATION_DAMAGED,
    DRILL_FAILED,
    POLICY_FAILED,
    POLICY_SKIPPED,
    POLICY_MISSED,
];
/// A backup, restore, verification or deletion ended failed.
pub const JOB_FAILED: &str = "job.failed";
/// A verification found missing or damaged files.
pub const VERIFICATION_DAMAGED: &str = "verification.damaged";
/// A restore drill failed (the restore, its row counts, keys or vectors) or could not run.
pub const DRILL_FAILED: &str = "drill.failed";
/// A policy run failed: its backup did not start or failed, its verification failed, or
/// pruning failed.
pub const POLICY_FAILED: &str = "policy.failed";
/// A due policy run was not started (the policy is invalid).
pub const POLICY_SKIPPED: &str = "policy.skipped";
/// Scheduled runs passed while no server ran them (only the newest is run).
pub const POLICY_MISSED: &str = "policy.missed";
