//! Jobs: the registry that starts, runs, cancels and records every backup, restore and
//! verification ([`registry`]), the name claims that keep two uses of one backup name apart
//! ([`name_lease`]), and policies as stored, with their next and recent runs ([`policies`]). The
//! job model itself (kinds, states, snapshots, live progress) is [`crate::progress`], below the
//! engine.

pub mod metrics;
pub mod name_lease;
pub mod notify;
pub mod policies;
pub mod registry;

pub use crate::progress::{JobHandle, JobKind, JobSnapshot, JobState, LogLine, Progress};
