//! Backup policies: what to back up, when (a cron expression in a time zone), under which name,
//! how long to keep it, and whether to verify it. Stored in the embedded database; run by the
//! [`crate::server::scheduler`].

pub mod retention;

use std::str::FromStr;

use chrono::{DateTime, SubsecRound, TimeZone, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::{Deserialize, Serialize};

use crate::{
    engine::policy::retention::Retention,
    error::{Error, Result},
};

/// The name template when none is given.
pub const DEFAULT_TEMPLATE: &str = "{policy}_{time}";

/// A backup policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Letters, digits, `_` and `-`.
    pub name: String,
    /// Collections as `name` or `db.name`; empty with no databases: every collection.
    pub collections: Vec<String>,
    /// Databases to back up whole.
    pub databases: Vec<String>,
    /// Cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first.
    pub cron: String,
    /// IANA time zone of the cron expression and of day boundaries in retention (`UTC`).
    pub time_zone: String,
    /// Backup name: `{policy}`, `{time}` (YYYYMMDD_HHMMSS in the time zone) and `{date}` (YYYYMMDD).
    pub name_template: String,
    pub retention: Retention,
    /// Paused policies do not run on schedule (they can still be run by hand).
    pub enabled: bool,
    /// Verify each backup against its manifest right after it is made.
    pub verify_after: bool,
    /// Schemas only.
    pub meta_only: bool,
    /// Logical backups (rows through the API into Parquet files).
    pub logical: bool,
    /// 0: every run is a full backup. N: every Nth backup of the policy is full, the others
    /// incremental (see src/engine/incremental.rs).
    pub full_every: u32,
    /// 0: no drills. N: every Nth backup of the policy is drilled right after it is made (and
    /// verified): restored into a scratch database, checked and dropped (see
    /// src/engine/commands/drill.rs). A failed drill fails the run, and nothing is pruned.
    pub drill_every: u32,
    /// Webhooks (by their name in `notifications.webhooks`) told of this policy's failed, skipped
    /// and missed runs besides the global ones.
    pub notify: Vec<String>,
    /// Other storages each backup is copied to right after it is made (and verified, and
    /// drilled), each with its own retention there. A failed copy fails the run, and nothing is
    /// pruned.
    pub copy_to: Vec<PolicyCopy>,
}

/// "Also copy each backup to this storage, and keep there what this retention keeps."
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyCopy {
    /// A name under `storages:` in the configuration.
    pub storage: String,
    /// What to keep there; no rule: every copy is kept.
    #[schema(value_type = Object)]
    pub retention: Retention,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            name: String::new(),
            collections: Vec::new(),
            databases: Vec::new(),
            cron: String::new(),
            time_zone: "UTC".into(),
            name_template: DEFAULT_TEMPLATE.into(),
            retention: Retention::default(),
            enabled: true,
            verify_after: false,
            meta_only: false,
            logical: false,
            full_every: 0,
            drill_every: 0,
            notify: Vec::new(),
            copy_to: Vec::new(),
        }
    }
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: Tz,
}

impl Schedule {
    /// Parses a cron expression (5 fields, or 6 with seconds) in an IANA time zone.
    pub fn parse(cron: &str, time_zone: &str) -> Result<Schedule> {
        let tz = parse_tz(time_zone)?;
        let fields = cron.split_whitespace().count();
        if !(5..=6).contains(&fields) {
            return Err(Error::InvalidRequest(format!(
                "cron expression '{cron}' has {fields} fields: use 5 (minute hour day month weekday, e.g. `0 2 * * *` for 02:00 daily) or 6 with seconds first"
            )));
        }
        let parsed = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Optional)
            .build()
            .parse(cron)
            .or_else(|_| Cron::from_str(cron))
            .map_err(|e| {
                Error::InvalidRequest(format!("cron expression '{cron}' is not valid: {e}"))
            })?;
        Ok(Schedule { cron: parsed, tz })
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// The first run strictly after `t`, a whole second (see [`whole_second`]).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&whole_second(t).with_timezone(&self.tz), false)
            .ok()
            .map(|d| whole_second(d.with_timezone(&Utc)))
    }

    /// The next `n` runs after `t`.
    pub fn upcoming(&self, t: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut cur = t;
        while out.len() < n {
            match self.next_after(cur) {
                Some(next) => {
                    out.push(next);
                    cur = next;
                }
                None => break,
            }
        }
        out
    }

    /// The newest run at or before `now` and strictly after `after`: the one slot to run now
    /// (runs missed while the server was down are run once, not once each). The slot is the
    /// cron occurrence itself, a whole second (whole minute for 5 fields), whatever fraction of
    /// a second `now` has, so every tick within a slot finds the same slot.
    pub fn due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let latest = self
            .cron
            .find_previous_occurrence(&whole_second(now).with_timezone(&self.tz), true)
            .ok()?
            .with_timezone(&Utc);
        let latest = whole_second(latest);
        (latest > after).then_some(latest)
    }
}

/// `t` without its fraction of a second. Cron fields go down to seconds, and croner's searches
/// set the fields of the time they start from but keep its nanoseconds: started from
/// 12:00:05.300 the previous `* * * * *` occurrence comes back as 12:00:00.300, and from
/// 12:00:06.600 as 12:00:00.600, a "new" slot on every tick. Searches therefore start from, and
/// slots are, whole seconds.
pub fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.trunc_subsecs(0)
}

/// Parses an IANA time zone name.
pub fn parse_tz(name: &str) -> Result<Tz> {
    let name = if name.trim().is_empty() {
        "UTC"
    } else {
        name.trim()
    };
    name.parse::<Tz>().map_err(|_| {
        Error::InvalidRequest(format!(
            "unknown time zone '{name}': use an IANA name such as UTC, Europe/Berlin or America/New_York"
        ))
    })
}

impl Policy {
    /// Checks everything that can be checked without Milvus; returns the parsed schedule.
    pub fn validate(&self) -> Result<Schedule> {
        validate_policy_name(&self.name)?;
        let schedule = Schedule::parse(&self.cron, &self.time_zone)?;
        if !self.name_template.contains("{time}") {
            return Err(Error::InvalidRequest(format!(
                "name template '{}' must contain {{time}} so that every run gets its own backup name (e.g. {DEFAULT_TEMPLATE})",
                self.name_template
            )));
        }
        let sample = self.backup_name(Utc::now(), schedule.tz());
        crate::engine::names::validate_backup_name(&sample).map_err(|e| {
            Error::InvalidRequest(format!(
                "name template '{}' gives '{sample}', which is not a valid backup name: {e}",
                self.name_template
            ))
        })?;
        check_retention(&self.retention, "")?;
        let mut seen = std::collections::HashSet::new();
        for c in &self.copy_to {
            if c.storage.is_empty() || c.storage == crate::config::DEFAULT_STORAGE {
                return Err(Error::InvalidRequest(format!(
                    "copy_to: '{}' is not a storage to copy to; name one under `storages:` in the configuration",
                    c.storage
                )));
            }
            if !seen.insert(c.storage.as_str()) {
                return Err(Error::InvalidRequest(format!(
                    "copy_to names storage '{}' twice",
                    c.storage
                )));
            }
            check_retention(&c.retention, &format!("copy_to {}: ", c.storage))?;
        }
        Ok(schedule)
    }

    /// The name a run uses when the templated `name` is taken (by a backup the policy did not
    /// make, or one being made or deleted): `name_<tag>`, the name cut to stay within the
    /// 128-character limit of backup names. `tag` is random, so nobody can take the variant
    /// ahead of the run as they could take the templated name.
    pub fn name_variant(name: &str, tag: &str) -> String {
        let keep = name.len().min(127usize.saturating_sub(tag.len()));
        // backup names are ASCII (checked by `validate`), so any byte index is a char boundary
        let base = name.get(..keep).unwrap_or(name);
        format!("{base}_{tag}")
    }

    /// The backup name of the run at `slot`.
    pub fn backup_name(&self, slot: DateTime<Utc>, tz: Tz) -> String {
        let local = tz.from_utc_datetime(&slot.naive_utc());
        self.name_template
            .replace("{policy}", &self.name)
            .replace("{time}", &local.format("%Y%m%d_%H%M%S").to_string())
            .replace("{date}", &local.format("%Y%m%d").to_string())
    }
}

/// Refuses a retention rule of 0 (it would prune every backup).
fn check_retention(r: &Retention, context: &str) -> Result<()> {
    for (what, n) in [
        ("keep_last", r.keep_last),
        ("keep_daily", r.keep_daily),
        ("keep_weekly", r.keep_weekly),
        ("keep_monthly", r.keep_monthly),
        ("max_age_days", r.max_age_days),
    ] {
        if n == Some(0) {
            return Err(Error::InvalidRequest(format!(
                "{context}{what} is 0, which would prune every backup: leave it out or give at least 1"
            )));
        }
    }
    Ok(())
}

/// Checks a policy name: 1 to 64 letters, digits, '_' or '-'.
pub fn validate_policy_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "policy name '{name}' must be 1 to 64 letters, digits, '_' or '-'"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn policy(cron: &str, tz: &str) -> Policy {
        Policy {
            name: "nightly".into(),
            cron: cron.into(),
            time_zone: tz.into(),
            ..Default::default()
        }
    }

    #[test]
    fn next_runs_follow_the_time_zone() {
        let s = policy("0 2 * * *", "Europe/Berlin").validate().unwrap();
        // 02:00 in Berlin (UTC+1 in November) is 01:00 UTC
        assert_eq!(
            s.upcoming(at("2026-11-25T12:00:00Z"), 2),
            vec![at("2026-11-26T01:00:00Z"), at("2026-11-27T01:00:00Z")]
        );
    }

    #[test]
    fn a_missed_stretch_runs_once_at_its_newest_slot() {
        let s = policy("0 * * * *", "UTC").validate().unwrap();
        // last run 08:00, server down until 11:30: one run, for 11:00
        assert_eq!(
            s.due(at("2026-11-25T08:00:00Z"), at("2026-11-25T11:30:00Z")),
            Some(at("2026-11-25T11:00:00Z"))
        );
        // that slot ran: nothing more until 12:00
        assert_eq!(
            s.due(at("2026-11-25T11:00:00Z"), at("2026-11-25T11:59:59Z")),
            None
        );
        assert_eq!(
            s.due(at("2026-11-25T11:00:00Z"), at("2026-11-25T12:00:00Z")),
            Some(at("2026-11-25T12:00:00Z"))
        );
    }

    #[test]
    fn slots_are_whole_occurrences_whatever_the_fraction_of_now() {
        let s = policy("* * * * *", "Europe/Berlin").validate().unwrap();
        let minute = at("2026-11-25T12:00:00Z");
        // every tick within the minute finds the same slot, the minute itself
        for now in [
            "2026-11-25T12:00:00.000Z",
            "2026-11-25T12:00:00.999Z",
            "2026-11-25T12:00:05.300Z",
            "2026-11-25T12:00:06.600123Z",
            "2026-11-25T12:00:59.999999999Z",
        ] {
            assert_eq!(
                s.due(at("2026-11-25T11:59:00Z"), at(now)),
                Some(minute),
                "{now}"
            );
            // ... and once it is claimed, nothing more is due in that minute
            assert_eq!(s.due(minute, at(now)), None, "{now}");
        }
        assert_eq!(
            s.next_after(at("2026-11-25T12:00:05.300Z")),
            Some(at("2026-11-25T12:01:00Z"))
        );
        let secs = policy("*/2 * * * * *", "UTC").validate().unwrap();
        assert_eq!(
            secs.due(at("2026-11-25T12:00:00Z"), at("2026-11-25T12:00:03.700Z")),
            Some(at("2026-11-25T12:00:02Z"))
        );
        assert_eq!(
            secs.upcoming(at("2026-11-25T12:00:03.700Z"), 2),
            vec![at("2026-11-25T12:00:04Z"), at("2026-11-25T12:00:06Z")]
        );
    }

    #[test]
    fn name_variants_are_valid_and_fit() {
        assert_eq!(
            Policy::name_variant("nightly_20261126_023000", "1a2b3c4d"),
            "nightly_20261126_023000_1a2b3c4d"
        );
        let long = "x".repeat(128);
        let v = Policy::name_variant(&long, "1a2b3c4d");
        assert_eq!(v.len(), 128);
        assert!(v.ends_with("x_1a2b3c4d"));
        crate::engine::names::validate_backup_name(&v).unwrap();
    }

    #[test]
    fn seconds_are_optional() {
        let s = policy("*/2 * * * * *", "UTC").validate().unwrap();
        assert_eq!(
            s.next_after(at("2026-11-25T00:00:01Z")),
            Some(at("2026-11-25T00:00:02Z"))
        );
    }

    #[test]
    fn bad_policies_say_what_to_fix() {
        let e = policy("0 2 * *", "UTC").validate().unwrap_err().to_string();
        assert!(e.contains("4 fields"), "{e}");
        let e = policy("0 25 * * *", "UTC")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("not valid"), "{e}");
        let e = policy("0 2 * * *", "Mars/Olympus")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown time zone"), "{e}");
        let mut p = policy("0 2 * * *", "UTC");
        p.name_template = "{policy}".into();
        assert!(p.validate().unwrap_err().to_string().contains("{time}"));
        p.name_template = DEFAULT_TEMPLATE.into();
        p.retention.keep_last = Some(0);
        assert!(p
            .validate()
            .unwrap_err()
            .to_string()
            .contains("keep_last is 0"));
        p.retention.keep_last = None;
        p.name = "a b".into();
        assert!(p.validate().is_err());
    }

    #[test]
    fn names_come_from_the_template_in_local_time() {
        let p = policy("0 2 * * *", "Asia/Tokyo");
        let name = p.backup_name(at("2026-11-25T17:30:00Z"), parse_tz("Asia/Tokyo").unwrap());
        assert_eq!(name, "nightly_20261126_023000");
    }
}
