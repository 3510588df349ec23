//! Retention rules of a backup policy: which of the backups a policy made to keep and which to
//! prune. A pure function of the backups, the rules and the time, so it is tested with fixed
//! clocks. Semantics (those of restic's `forget`, which backup users know):
//! - with no `keep_*` rule every backup is kept; otherwise a backup is kept when any rule keeps it;
//! - `keep_last` N: the N newest;
//! - `keep_daily`/`keep_weekly`/`keep_monthly` N: the newest backup of each of the N newest days
//!   (ISO weeks, months) that have a backup, in the policy's time zone;
//! - `max_age_days`: backups older than this are pruned even when a rule keeps them;
//! - the newest intact backup is never pruned, whatever the rules say.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How long a policy's backups are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    pub keep_last: Option<u32>,
    pub keep_daily: Option<u32>,
    pub keep_weekly: Option<u32>,
    pub keep_monthly: Option<u32>,
    pub max_age_days: Option<u32>,
}

impl Retention {
    /// Whether any rule can prune anything.
    pub fn prunes(&self) -> bool {
        self.has_keep_rules() || self.max_age_days.is_some()
    }

    fn has_keep_rules(&self) -> bool {
        self.keep_last.is_some()
            || self.keep_daily.is_some()
            || self.keep_weekly.is_some()
            || self.keep_monthly.is_some()
    }

    /// The rules in words.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_last {
            parts.push(format!("last {n}"));
        }
        if let Some(n) = self.keep_daily {
            parts.push(format!("{n} daily"));
        }
        if let Some(n) = self.keep_weekly {
            parts.push(format!("{n} weekly"));
        }
        if let Some(n) = self.keep_monthly {
            parts.push(format!("{n} monthly"));
        }
        if let Some(d) = self.max_age_days {
            parts.push(format!("at most {d} days old"));
        }
        if parts.is_empty() {
            "keep all".into()
        } else {
            format!("keep {}", parts.join(", "))
        }
    }
}

/// A backup the policy made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub taken_at: DateTime<Utc>,
    /// Its last verification found damage (it cannot count as the last good backup).
    pub damaged: bool,
}

/// What the rules decided for one backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub name: String,
    pub keep: bool,
    /// Why: `last 3`, `daily 2026-11-24`, `newest intact`, `older than 30 days`...
    pub reasons: Vec<String>,
}

/// The period (day, ISO week, month) a local time falls in, as a label.
type BucketOf = fn(DateTime<Tz>) -> String;

/// Applies `rules` at time `now`; decisions come newest first.
pub fn decide(
    candidates: &[Candidate],
    rules: &Retention,
    tz: Tz,
    now: DateTime<Utc>,
) -> Vec<Decision> {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| b.taken_at.cmp(&a.taken_at).then(b.name.cmp(&a.name)));
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); sorted.len()];

    if let Some(n) = rules.keep_last {
        for r in reasons.iter_mut().take(n as usize) {
            r.push(format!("last {n}"));
        }
    }
    let buckets: [(Option<u32>, &str, BucketOf); 3] = [
        (rules.keep_daily, "daily", |t| {
            t.format("%Y-%m-%d").to_string()
        }),
        (rules.keep_weekly, "weekly", |t| {
            let w = t.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }),
        (rules.keep_monthly, "monthly", |t| {
            t.format("%Y-%m").to_string()
        }),
    ];
    for (n, label, bucket_of) in buckets {
        let Some(n) = n else { continue };
        let mut seen = HashSet::new();
        for (i, c) in sorted.iter().enumerate() {
            if seen.len() >= n as usize {
                break;
            }
            let bucket = bucket_of(tz.from_utc_datetime(&c.taken_at.naive_utc()));
            if seen.insert(bucket.clone()) {
                reasons[i].push(format!("{label} {bucket}"));
            }
        }
    }
    let mut keep: Vec<bool> = if rules.has_keep_rules() {
        reasons.iter().map(|r| !r.is_empty()).collect()
    } else {
        vec![true; sorted.len()]
    };
    if let Some(days) = rules.max_age_days {
        let limit = now - Duration::days(i64::from(days));
        for (i, c) in sorted.iter().enumerate() {
            if c.taken_at < limit {
                keep[i] = false;
                reasons[i] = vec![format!("older than {days} days")];
            }
        }
    }
    if let Some(i) = sorted.iter().position(|c| !c.damaged) {
        if !keep[i] {
            keep[i] = true;
            reasons[i].push("newest intact backup (never pruned)".into());
        }
    }
    sorted
        .iter()
        .zip(keep)
        .zip(reasons)
        .map(|((c, keep), reasons)| Decision {
            name: c.name.clone(),
            keep,
            reasons,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn c(name: &str, t: &str) -> Candidate {
        Candidate {
            name: name.into(),
            taken_at: at(t),
            damaged: false,
        }
    }

    fn kept(d: &[Decision]) -> Vec<&str> {
        d.iter()
            .filter(|d| d.keep)
            .map(|d| d.name.as_str())
            .collect()
    }

    /// Two backups a day at 01:00 and 13:00 UTC from Nov 1 to Nov 24.
    fn month() -> Vec<Candidate> {
        let mut v = Vec::new();
        for day in 1..=24 {
            for h in [1, 13] {
                v.push(c(
                    &format!("p_{day:02}_{h:02}"),
                    &format!("2026-11-{day:02}T{h:02}:00:00Z"),
                ));
            }
        }
        v
    }

    #[test]
    fn no_rules_keep_everything() {
        let d = decide(
            &month(),
            &Retention::default(),
            Tz::UTC,
            at("2026-11-25T00:00:00Z"),
        );
        assert_eq!(kept(&d).len(), 48);
    }

    #[test]
    fn keep_last_keeps_the_newest() {
        let r = Retention {
            keep_last: Some(3),
            ..Default::default()
        };
        let d = decide(&month(), &r, Tz::UTC, at("2026-11-25T00:00:00Z"));
        assert_eq!(kept(&d), vec!["p_24_13", "p_24_01", "p_23_13"]);
        assert_eq!(d[0].reasons, vec!["last 3"]);
    }

    #[test]
    fn daily_weekly_monthly_keep_the_newest_of_each_period() {
        let r = Retention {
            keep_daily: Some(3),
            keep_weekly: Some(2),
            keep_monthly: Some(2),
            ..Default::default()
        };
        let d = decide(&month(), &r, Tz::UTC, at("2026-11-25T00:00:00Z"));
        // days 24, 23, 22 (newest of each); ISO weeks: W48 starts Mon Nov 23 -> p_24_13, W47 -> Sun Nov 22
        // (already kept); months: November -> p_24_13 (only one month has backups)
        assert_eq!(kept(&d), vec!["p_24_13", "p_23_13", "p_22_13"]);
        let first = &d[0].reasons;
        assert!(
            first.contains(&"daily 2026-11-24".to_string())
                && first.contains(&"monthly 2026-11".to_string())
        );
    }

    #[test]
    fn days_are_counted_in_the_policy_time_zone() {
        let r = Retention {
            keep_daily: Some(2),
            ..Default::default()
        };
        // 01:00 UTC on Nov 24 is still Nov 23 (20:00) in New York
        let both = vec![
            c("a", "2026-11-24T01:00:00Z"),
            c("b", "2026-11-23T20:00:00Z"),
        ];
        let utc = decide(&both, &r, Tz::UTC, at("2026-11-25T00:00:00Z"));
        assert_eq!(kept(&utc), vec!["a", "b"]); // two days: one each
        let ny = decide(
            &both,
            &r,
            chrono_tz::America::New_York,
            at("2026-11-25T00:00:00Z"),
        );
        assert_eq!(kept(&ny), vec!["a"]); // one day there: only its newest
        assert_eq!(ny[0].reasons, vec!["daily 2026-11-23"]);
    }

    #[test]
    fn max_age_prunes_old_ones_but_never_the_newest_intact() {
        let r = Retention {
            max_age_days: Some(7),
            ..Default::default()
        };
        let d = decide(&month(), &r, Tz::UTC, at("2026-11-25T00:00:00Z"));
        // Nov 18 00:00 is the limit: Nov 18..24 kept (14 backups)
        assert_eq!(kept(&d).len(), 14);
        assert!(d
            .iter()
            .filter(|d| !d.keep)
            .all(|d| d.reasons == vec!["older than 7 days"]));
        // everything is old: the newest still stays
        let d = decide(&month(), &r, Tz::UTC, at("2027-06-01T00:00:00Z"));
        assert_eq!(kept(&d), vec!["p_24_13"]);
        assert!(d[0].reasons.iter().any(|r| r.contains("never pruned")));
    }

    #[test]
    fn the_last_good_backup_survives_damage_to_newer_ones() {
        let mut v = month();
        let n = v.len();
        v[n - 1].damaged = true; // p_24_13
        let r = Retention {
            keep_last: Some(1),
            ..Default::default()
        };
        let d = decide(&v, &r, Tz::UTC, at("2026-11-25T00:00:00Z"));
        assert_eq!(kept(&d), vec!["p_24_13", "p_24_01"]);
    }

    #[test]
    fn rules_describe_themselves() {
        let r = Retention {
            keep_last: Some(3),
            keep_daily: Some(7),
            max_age_days: Some(90),
            ..Default::default()
        };
        assert_eq!(r.describe(), "keep last 3, 7 daily, at most 90 days old");
        assert_eq!(Retention::default().describe(), "keep all");
    }
}
