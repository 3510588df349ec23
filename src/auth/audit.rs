//! The audit log: who did (or tried) what, when, from where, and how it ended. Written for every
//! create, restore, delete, verify, policy and user change, sign-in and refused request.

use std::{
    collections::HashMap,
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use crate::{db::Db, error::Result};

/// The actions the audit log records, each named once (the Gate, the CLI, the scheduler and the
/// sign-in pages write them; the Audit page filters by them): the portal's list, shared with it.
pub use app::audit_action as action;

pub use crate::db::audit::{AuditEntry, AuditFilter, Outcome};

/// The most bytes kept of each field (actor, via, action, target, source, detail); the rest is
/// replaced by a marker saying how much was cut, so that no request can grow the log by more.
pub const FIELD_LIMITS: [usize; 6] = [128, 128, 64, 512, 64, 2048];

/// How many refused entries of callers who are not signed in (anonymous requests, failed
/// sign-ins) one source address may add per [`REFUSAL_WINDOW`]; the rest are counted, and one
/// `audit.dropped` entry says how many were left out once the window is over.
pub const REFUSALS_PER_WINDOW: u32 = 20;
/// The window of [`REFUSALS_PER_WINDOW`].
pub const REFUSAL_WINDOW: Duration = Duration::from_secs(60);
/// How many source addresses are followed at once; the others share one budget.
const MAX_SOURCES: usize = 10_000;

/// `s` cut to at most `max` bytes (at a character boundary), with a visible marker when cut.
pub fn truncated(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return s.into();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[truncated {} bytes]", &s[..end], s.len() - end).into()
}

/// Whether an entry records a refusal of someone who is not signed in: these are what anyone
/// can cause without credentials, so they are rate-limited per source.
fn unauthenticated_refusal(actor: &str, action: &str, outcome: Outcome) -> bool {
    outcome == Outcome::Denied && (actor == "anonymous" || action == action::AUTH_SIGN_IN)
}

/// One source's budget in the current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    recorded: u32,
    dropped: u64,
}

/// Rate limit of unauthenticated refusals, per (database, source). The state lives outside the
/// [`Db`] (keyed by its owner id) so that the store stays a plain connection.
#[derive(Debug, Default)]
pub struct RefusalLimiter {
    windows: HashMap<(String, String), Window>,
}

/// How many entries of a source were left out, for the summary entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    pub source: String,
    pub count: u64,
}

impl RefusalLimiter {
    /// Whether `owner`'s entry from `source` may be written now; counts it either way.
    pub fn admit(&mut self, owner: &str, source: &str, now: Instant) -> bool {
        let mut key = (owner.to_string(), source.to_string());
        if !self.windows.contains_key(&key) && self.windows.len() >= MAX_SOURCES {
            key.1 = "(other sources)".into();
        }
        let w = self.windows.entry(key).or_insert(Window {
            start: now,
            recorded: 0,
            dropped: 0,
        });
        if now.saturating_duration_since(w.start) >= REFUSAL_WINDOW && w.dropped == 0 {
            *w = Window {
                start: now,
                recorded: 0,
                dropped: 0,
            };
        }
        if w.recorded < REFUSALS_PER_WINDOW {
            w.recorded += 1;
            return true;
        }
        if w.dropped == 0 {
            tracing::warn!(
                source,
                "more than {REFUSALS_PER_WINDOW} refused unauthenticated requests in {} s from {source}: not recording more of them in the audit log for now",
                REFUSAL_WINDOW.as_secs()
            );
        }
        w.dropped += 1;
        false
    }

    /// The sources of `owner` whose window is over and that had entries left out (forgotten
    /// from now on, like every ended window).
    pub fn take_ended(&mut self, owner: &str, now: Instant) -> Vec<Dropped> {
        let mut out = Vec::new();
        self.windows.retain(|(o, source), w| {
            let over = now.saturating_duration_since(w.start) >= REFUSAL_WINDOW;
            if over && o == owner && w.dropped > 0 {
                out.push(Dropped {
                    source: source.clone(),
                    count: w.dropped,
                });
                return false;
            }
            !(over && w.dropped == 0)
        });
        out.sort_by(|a, b| a.source.cmp(&b.source));
        out
    }
}

fn limiter() -> &'static Mutex<RefusalLimiter> {
    static L: OnceLock<Mutex<RefusalLimiter>> = OnceLock::new();
    L.get_or_init(Default::default)
}

impl Db {
    /// Appends an entry (errors are logged: a failing audit write must not hide the outcome).
    /// Each field is cut to its [`FIELD_LIMITS`]; refusals of callers who are not signed in are
    /// limited to [`REFUSALS_PER_WINDOW`] per source and window, with a summary of the rest.
    #[allow(clippy::too_many_arguments)]
    pub fn audit(
        &self,
        actor: &str,
        via: &str,
        action: &str,
        target: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) {
        let now = Instant::now();
        self.write_dropped_summaries(now);
        if unauthenticated_refusal(actor, action, outcome) {
            let admitted = limiter()
                .lock()
                .map(|mut l| l.admit(self.owner(), source, now))
                .unwrap_or(true);
            if !admitted {
                return;
            }
        }
        let [a, v, ac, t, so, d] = FIELD_LIMITS;
        self.insert_entry(
            &truncated(actor, a),
            &truncated(via, v),
            &truncated(action, ac),
            &truncated(target, t),
            &truncated(source, so),
            outcome,
            &truncated(detail, d),
        );
    }

    /// Writes one `audit.dropped` entry per source whose rate-limit window is over and had
    /// entries left out.
    fn write_dropped_summaries(&self, now: Instant) {
        let ended = limiter()
            .lock()
            .map(|mut l| l.take_ended(self.owner(), now))
            .unwrap_or_default();
        for d in ended {
            let detail = format!(
                "{} more refused requests of callers not signed in came from {} within {} s and were not recorded (at most {REFUSALS_PER_WINDOW} are)",
                d.count,
                d.source,
                REFUSAL_WINDOW.as_secs()
            );
            self.insert_entry(
                "milvault",
                "server",
                action::AUDIT_DROPPED,
                &d.source,
                &d.source,
                Outcome::Denied,
                &detail,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_entry(
        &self,
        actor: &str,
        via: &str,
        action: &str,
        target: &str,
        source: &str,
        outcome: Outcome,
        detail: &str,
    ) {
        let r = self.insert_audit_row(actor, via, action, target, source, outcome, detail);
        if let Err(e) = r {
            tracing::error!("could not write the audit log: {e}");
        }
        tracing::info!(
            actor,
            action,
            target,
            source,
            outcome = outcome.as_str(),
            detail,
            "audit"
        );
    }

    /// Removes the entries older than `before`; returns how many. The removal itself is recorded.
    pub fn prune_audit(&self, before: DateTime<Utc>) -> Result<usize> {
        let n = self.delete_audit_before(before)?;
        if n > 0 {
            self.audit(
                "milvault",
                "server",
                action::AUDIT_PRUNE,
                "",
                "server",
                Outcome::Ok,
                &format!("{n} entries older than {} removed", before.to_rfc3339()),
            );
        }
        Ok(n)
    }

    /// Entries matching `f`, newest first.
    pub fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
        self.write_dropped_summaries(Instant::now());
        self.audit_rows(f)
    }
}

/// Entries as CSV (RFC 4180 quoting), with a header line.
pub fn to_csv(entries: &[AuditEntry]) -> String {
    // a spreadsheet runs a cell that starts like a formula: make it text
    fn text(s: &str) -> std::borrow::Cow<'_, str> {
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{s}").into()
        } else {
            s.into()
        }
    }
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let header = [
        "seq", "at", "actor", "via", "action", "target", "source", "outcome", "detail",
    ];
    let mut write = || -> Result<(), csv::Error> {
        w.write_record(header)?;
        for e in entries {
            let (seq, at) = (e.seq.to_string(), e.at.to_rfc3339());
            let cols = [
                seq.as_str(),
                at.as_str(),
                &e.actor,
                &e.via,
                &e.action,
                &e.target,
                &e.source,
                e.outcome.as_str(),
                &e.detail,
            ];
            w.write_record(cols.iter().map(|c| text(c).into_owned()))?;
        }
        Ok(())
    };
    if let Err(e) = write() {
        tracing::warn!("writing the audit CSV: {e}");
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_filtered_newest_first_and_exported() {
        let s = Db::in_memory().unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "b1",
            "1.2.3.4",
            Outcome::Ok,
            "",
        );
        s.audit(
            "bob",
            "token:ci",
            "backup.restore",
            "b1",
            "5.6.7.8",
            Outcome::Denied,
            "outside, \"team_b\"",
        );
        s.audit(
            "ann",
            "session",
            "auth.sign_in",
            "",
            "1.2.3.4",
            Outcome::Ok,
            "",
        );
        let all = s.audit_entries(&AuditFilter::default()).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "auth.sign_in");
        let backups = s
            .audit_entries(&AuditFilter {
                action: Some("backup.".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(backups.len(), 2);
        let denied = s
            .audit_entries(&AuditFilter {
                outcome: Some(Outcome::Denied),
                actor: Some("bob".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(denied.len(), 1);
        let csv = to_csv(&denied);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .ends_with("denied,\"outside, \"\"team_b\"\"\""),
            "{csv}"
        );
    }

    #[test]
    fn long_fields_are_cut_with_a_visible_marker() {
        let s = Db::in_memory().unwrap();
        let huge = "é".repeat(500_000);
        s.audit(
            &huge,
            "password",
            "auth.sign_in",
            "",
            "1.2.3.4",
            Outcome::Ok,
            &huge,
        );
        let e = &s.audit_entries(&AuditFilter::default()).unwrap()[0];
        assert!(e.actor.len() < FIELD_LIMITS[0] + 40, "{}", e.actor.len());
        assert!(
            e.actor.ends_with("…[truncated 999872 bytes]"),
            "{}",
            e.actor
        );
        assert!(e.detail.len() < FIELD_LIMITS[5] + 40);
        assert_eq!(truncated("short", 10), "short");
    }

    #[test]
    fn refusals_without_sign_in_are_limited_per_source_and_summed_up() {
        let t0 = Instant::now();
        let mut l = RefusalLimiter::default();
        let admitted = (0..30).filter(|_| l.admit("db1", "6.6.6.6", t0)).count();
        assert_eq!(admitted, REFUSALS_PER_WINDOW as usize);
        // another source and another database have their own budgets
        assert!(l.admit("db1", "7.7.7.7", t0));
        assert!(l.admit("db2", "6.6.6.6", t0));
        assert!(l.take_ended("db1", t0).is_empty(), "the window is not over");
        let later = t0 + REFUSAL_WINDOW;
        assert_eq!(
            l.take_ended("db1", later),
            [Dropped {
                source: "6.6.6.6".into(),
                count: 10
            }]
        );
        assert!(l.take_ended("db1", later).is_empty(), "said once");
        assert!(l.admit("db1", "6.6.6.6", later), "a new window");
    }

    #[test]
    fn the_engines_actions_are_the_audit_pages_list_and_its_filters_find_them() {
        // one list: what the engine writes is what the portal offers
        assert!(std::ptr::eq(action::ALL, app::audit_action::ALL));
        assert!(action::ALL.contains(&action::REQUEST));
        let s = Db::in_memory().unwrap();
        for a in action::ALL {
            s.audit("ann", "session", a, "t", "1.2.3.4", Outcome::Ok, "");
        }
        // each of the Audit page's filters finds exactly the actions it names
        for (value, label) in app::audit_action::filters() {
            let f = AuditFilter {
                action: Some(value.clone()),
                ..Default::default()
            };
            let mut got: Vec<String> = s
                .audit_entries(&f)
                .unwrap()
                .into_iter()
                .map(|e| e.action)
                .collect();
            got.sort();
            let mut want: Vec<String> = action::ALL
                .iter()
                .filter(|a| a.starts_with(value.as_str()))
                .map(|a| a.to_string())
                .collect();
            want.sort();
            assert_eq!(got, want, "{label}");
        }
    }

    #[test]
    fn the_store_writes_a_summary_of_what_it_left_out() {
        let s = Db::in_memory().unwrap();
        for _ in 0..25 {
            s.audit(
                "anonymous",
                "none",
                "request",
                "POST /x",
                "8.8.8.8",
                Outcome::Denied,
                "no",
            );
        }
        // signed-in users' refusals and everything else are not limited
        for _ in 0..25 {
            s.audit(
                "ann",
                "session",
                "backup.delete",
                "b",
                "8.8.8.8",
                Outcome::Denied,
                "no",
            );
        }
        assert_eq!(s.audit_entries(&AuditFilter::default()).unwrap().len(), 45);
        s.write_dropped_summaries(Instant::now() + REFUSAL_WINDOW);
        let e = &s.audit_entries(&AuditFilter::default()).unwrap()[0];
        assert_eq!(
            (e.action.as_str(), e.target.as_str()),
            ("audit.dropped", "8.8.8.8")
        );
        assert!(
            e.detail.starts_with("5 more refused requests"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn csv_cells_that_look_like_formulas_are_text() {
        let mut e = AuditEntry {
            seq: 1,
            at: Utc::now(),
            actor: "=HYPERLINK(\"http://evil.example\",\"x\")".into(),
            via: "+1".into(),
            action: "-2".into(),
            target: "@SUM(A1)".into(),
            source: "\tx".into(),
            outcome: Outcome::Denied,
            detail: "\r=1".into(),
        };
        let csv = to_csv(std::slice::from_ref(&e));
        let line = csv.lines().nth(1).unwrap();
        assert!(
            line.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",'+1,'-2,'@SUM(A1),'\tx,denied,"),
            "{line}"
        );
        assert!(csv.ends_with(",\"'\r=1\"\n"), "{csv}");
        e.actor = "ann".into();
        assert!(to_csv(&[e]).lines().nth(1).unwrap().contains(",ann,'+1,"));
    }

    #[test]
    fn pruning_removes_old_entries_only_and_says_so() {
        let s = Db::in_memory().unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "old",
            "1.1.1.1",
            Outcome::Ok,
            "",
        );
        // make that entry 400 days old
        s.lock()
            .unwrap()
            .execute(
                "UPDATE audit SET at_ms = ?1",
                [(Utc::now() - chrono::Duration::days(400)).timestamp_millis()],
            )
            .unwrap();
        s.audit(
            "ann",
            "session",
            "backup.create",
            "new",
            "1.1.1.1",
            Outcome::Ok,
            "",
        );
        let cut = Utc::now() - chrono::Duration::days(365);
        assert_eq!(s.prune_audit(cut).unwrap(), 1);
        assert_eq!(s.prune_audit(cut).unwrap(), 0, "nothing left to remove");
        let left: Vec<(String, String)> = s
            .audit_entries(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.target))
            .collect();
        assert_eq!(
            left,
            [
                ("audit.prune".to_string(), String::new()),
                ("backup.create".to_string(), "new".to_string())
            ]
        );
    }
}
