//! Formatting shared by the server render and the browser, so both produce the same text (times
//! are shown in UTC for that reason).

/// `1.5 MB`, `320 B` (decimal units, like storage consoles): three significant digits, rounded
/// half up. Integer arithmetic only, so that the browser's first module carries no float
/// formatting.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let n = n.max(0) as u64;
    let mut unit = 0;
    let mut div = 1u64;
    while n >= div * 1000 && unit < UNITS.len() - 1 {
        div *= 1000;
        unit += 1;
    }
    if unit == 0 {
        return format!("{n} B");
    }
    // decimals by size: 1.23, 12.3, 123
    let decimals = if n < 10 * div {
        2
    } else if n < 100 * div {
        1
    } else {
        0
    };
    format!("{} {}", decimal(n, div, decimals), UNITS[unit])
}

/// `n / div` rounded half up to `decimals` places (0 to 2), written with a point. In `u64`
/// (no 128-bit division in the WASM): the remainder is scaled, not `n`.
fn decimal(n: u64, div: u64, decimals: u32) -> String {
    let scale = 10u64.pow(decimals);
    let mut whole = n / div;
    let mut frac = (n % div * scale + div / 2) / div;
    if frac == scale {
        whole += 1;
        frac = 0;
    }
    match decimals {
        0 => whole.to_string(),
        d => format!("{whole}.{frac:0width$}", width = d as usize),
    }
}

/// `x` to one decimal, as SVG coordinates are written (`12.3`, `-0.5`), without float
/// formatting.
pub fn tenths(x: f64) -> String {
    let t = (x * 10.0).round() as i64;
    let sign = if t < 0 { "-" } else { "" };
    format!("{sign}{}.{}", t.unsigned_abs() / 10, t.unsigned_abs() % 10)
}

/// The New policy form's "Full every N runs" field: empty is 0 (every run full).
pub fn full_every(s: &str) -> Result<u32, String> {
    every_n("Full every N runs", s)
}

/// The New policy form's "Drill every N backups" field: empty is 0 (no drills).
pub fn drill_every(s: &str) -> Result<u32, String> {
    every_n("Drill every N backups", s)
}

/// A form's "every N" field named `label`: a whole number from 0 up, empty is 0.
fn every_n(label: &str, s: &str) -> Result<u32, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    s.parse::<u32>()
        .map_err(|_| format!("'{label}' must be a whole number from 0 up, not '{s}'"))
}

/// How a policy's backups are made, for the policies list: `logical`, `full every N` (N > 1;
/// 0 and 1 both mean every run is full), `each drilled` or `drilled every N`, joined; `None`
/// for full binlog backups never drilled.
pub fn policy_modes(logical: bool, full_every: u32, drill_every: u32) -> Option<String> {
    let mut parts = Vec::new();
    if logical {
        parts.push("logical".to_string());
    }
    if full_every > 1 {
        parts.push(format!("full every {full_every}"));
    }
    match drill_every {
        0 => {}
        1 => parts.push("each drilled".to_string()),
        n => parts.push(format!("drilled every {n}")),
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// For an incremental backup, how much of its size was copied from its bases:
/// `392 MB of it copied from backup b1 (not re-read from Milvus)`; `None` for a full backup.
/// Each backup holds its own copy of every file (nothing is shared), so this part is within the
/// backup's own size.
pub fn from_base(bytes_from_base: u64, bases: &[String]) -> Option<String> {
    if bytes_from_base == 0 || bases.is_empty() {
        return None;
    }
    let which = if bases.len() == 1 {
        format!("backup {}", bases[0])
    } else {
        format!("backups {}", bases.join(", "))
    };
    Some(format!(
        "{} of it copied from {which} (not re-read from Milvus)",
        bytes(i64::try_from(bytes_from_base).unwrap_or(i64::MAX))
    ))
}

/// A backup's size with [`from_base`]: `412 MB, 392 MB of it copied from backup b1 (not re-read
/// from Milvus)`, or just `412 MB`.
pub fn size_with_base(size: i64, bytes_from_base: u64, bases: &[String]) -> String {
    match from_base(bytes_from_base, bases) {
        Some(part) => format!("{}, {part}", bytes(size)),
        None => bytes(size),
    }
}

/// A backup's (or a collection's) rows, stored and live: the one place their wording lives, so
/// the backups list and the backup page say the same thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rows {
    /// Rows stored in the segments, deleted rows included.
    pub stored: i64,
    /// Live rows (`count(*)`, deletes applied) when the backup counted them.
    pub live: Option<i64>,
}

impl Rows {
    /// Why stored and live rows differ: the tooltip of the "Stored rows" and "Live rows" headers.
    pub const WHY: &'static str =
        "Stored rows: rows in the backup's segments, deleted rows included \
        (deletes are kept in delta logs until Milvus compacts them). Live rows: count(*) with \
        deletes applied, when the backup could count them (the collection was loaded).";

    /// Stored and live rows.
    pub fn new(stored: i64, live: Option<i64>) -> Rows {
        Rows { stored, live }
    }

    /// The one number of a list: live rows, or stored rows when not counted (`2,700`).
    pub fn shown(&self) -> String {
        count(self.live.unwrap_or(self.stored))
    }

    /// Stored rows (`3,000`).
    pub fn stored(&self) -> String {
        count(self.stored)
    }

    /// Live rows (`2,700`), or `not counted`.
    pub fn live(&self) -> String {
        self.live.map(count).unwrap_or_else(|| "not counted".into())
    }

    /// Both, for a tooltip: `2,700 live rows; 3,000 stored (deleted rows are kept in delta logs
    /// until Milvus compacts them)`.
    pub fn title(&self) -> String {
        match self.live {
            Some(live) if live == self.stored => format!("{} live rows; {} stored", count(live), count(self.stored)),
            Some(live) => format!(
                "{} live rows; {} stored (deleted rows are kept in delta logs until Milvus compacts them)",
                count(live),
                count(self.stored)
            ),
            None => format!(
                "{} stored rows, deleted rows included; live rows not counted",
                count(self.stored)
            ),
        }
    }
}

/// `12,345`.
pub fn count(n: i64) -> String {
    let s = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// `2026-11-25 09:31:24 UTC`.
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = crate::civil_date::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// `2026-11-25`.
pub fn date(ms: i64) -> String {
    let (y, mo, d) = crate::civil_date::civil_from_days(ms.div_euclid(1000).div_euclid(86_400));
    format!("{y:04}-{mo:02}-{d:02}")
}

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration_ms(ms: i64) -> String {
    let ms = ms.max(0);
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{} s", decimal(ms as u64, 1000, 1))
    } else if ms < 3_600_000 {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    } else {
        format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60)
    }
}

/// `12.5 MB/s`.
pub fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", bytes(bytes_per_sec.round() as i64))
}

/// A recall share as a percentage: `100%`, `98.5%` (one decimal unless whole).
pub fn recall(r: f64) -> String {
    let tenths = (r.clamp(0.0, 1.0) * 1000.0).round() as u64;
    if tenths.is_multiple_of(10) {
        format!("{}%", tenths / 10)
    } else {
        format!("{}%", decimal(tenths, 10, 1))
    }
}

/// What a drill measured, for a badge's hover text: `recovery time 12.3 s · recall 100%`;
/// `no vectors searched` when none were (a collection without a float vector field).
pub fn drill_evidence(restore_ms: u64, lowest_recall: Option<f64>) -> String {
    let recovery = duration_ms(i64::try_from(restore_ms).unwrap_or(i64::MAX));
    match lowest_recall {
        Some(r) => format!("recovery time {recovery} · recall {}", recall(r)),
        None => format!("recovery time {recovery} · no vectors searched"),
    }
}

/// A job's page title: `Backup of b1`, `Restore of b1`, `Verification of b1`, `Drill of b1`.
pub fn job_title(kind: &str, backup: &str) -> String {
    let what = match kind {
        "backup" => "Backup",
        "restore" => "Restore",
        "verify" => "Verification",
        "copy" => "Copy",
        "drill" => "Restore drill",
        other => other,
    };
    format!("{what} of {backup}")
}

/// Why a backup name is not acceptable, in the portal's words, or `None` when it is (the rule
/// is [`crate::names::backup_name_problem`], which the engine enforces too).
pub fn backup_name_problem(name: &str) -> Option<String> {
    use crate::names::NameProblem;
    crate::names::backup_name_problem(name).map(|p| {
        match p {
            NameProblem::Empty => "Give the backup a name.",
            NameProblem::TooLong => "At most 128 characters.",
            NameProblem::BadCharacter => "Only letters, digits, '_', '-' and '.'.",
            NameProblem::BadStart => "Start with a letter, a digit or '_'.",
        }
        .into()
    })
}

/// The name a backup made at `ms` gets when its name is left empty (the engine's default name):
/// `backup_2026_11_25_09_31_24`.
pub fn suggested_name(ms: i64) -> String {
    crate::names::default_backup_name(ms)
}

/// `s` as one segment of a URL path or a query value: ASCII letters, digits, `_`, `-` and `.`
/// as they are, every other byte percent-encoded.
fn url_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where the archive of backup `key` ([`crate::api::BackupRow::key`]) is downloaded (REST v2,
/// streamed): a tar, or with `zstd` a tar compressed with zstd.
pub fn archive_href(key: &str, zstd: bool) -> String {
    let (storage, name) = crate::names::split_backup_key(key);
    let mut query = Vec::new();
    if !storage.is_empty() {
        query.push(format!("storage={}", url_part(storage)));
    }
    if zstd {
        query.push("zstd=true".to_string());
    }
    let query = match query.is_empty() {
        true => String::new(),
        false => format!("?{}", query.join("&")),
    };
    format!("/api/v2/backups/{}/archive{query}", url_part(name))
}

/// Where the whole metadata of backup `key` is downloaded.
pub fn meta_href(key: &str) -> String {
    let (storage, name) = crate::names::split_backup_key(key);
    let query = match storage {
        "" => String::new(),
        s => format!("?storage={}", url_part(s)),
    };
    format!("/download/backups/{}/backup.json{query}", url_part(name))
}

/// The Backups page listing storage `storage` (`""`: the configured backup storage).
pub fn backups_href(storage: &str) -> String {
    match storage {
        "" => "/".to_string(),
        s => format!("/?storage={}", url_part(s)),
    }
}

/// The file name a downloaded archive is saved as: `b1.tar`, `b1.tar.zst`.
pub fn archive_file_name(name: &str, zstd: bool) -> String {
    format!("{name}.tar{}", if zstd { ".zst" } else { "" })
}

/// Where an archive is uploaded (REST v2): the backup is named `name`, or as the archive's
/// metadata records when `name` is empty.
pub fn archive_import_href(name: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        "/api/v2/backups/archive".to_string()
    } else {
        format!("/api/v2/backups/archive?name={}", url_part(name))
    }
}

/// Why the server refused an uploaded archive, in words: the message of the REST error body
/// (`{"error": {"message": ...}}`), else the HTTP status with what that status means here.
pub fn archive_refusal(status: u16, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string));
    let prefix = "The archive was refused";
    match (message, status) {
        // the engine's own words may say it already
        (Some(m), _)
            if m.get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix)) =>
        {
            format!("{prefix}{}", &m[prefix.len()..])
        }
        (Some(m), _) => format!("{prefix}: {m}"),
        (None, 413) => {
            format!("{prefix}: it is larger than the server takes (backup.maxArchiveBytes).")
        }
        (None, 401) => format!("{prefix}: sign in first."),
        (None, 403) => format!("{prefix}: you may not make backups of its databases."),
        (None, s) => format!("{prefix} (HTTP {s})."),
    }
}

/// What an accepted upload made: `Imported b2 (renamed from b1): 12 files, 3.40 MB.`
pub fn archive_imported(backup: &str, renamed_from: Option<&str>, files: u64, size: u64) -> String {
    let renamed = renamed_from
        .map(|r| format!(" (renamed from {r})"))
        .unwrap_or_default();
    format!(
        "Imported {backup}{renamed}: {} files, {}.",
        count(i64::try_from(files).unwrap_or(i64::MAX)),
        bytes(i64::try_from(size).unwrap_or(i64::MAX))
    )
}

/// Which rows a page shows: `1-50 of 10,000`, `0 of 0`.
pub fn page_span(offset: usize, shown: usize, total: u64) -> String {
    if shown == 0 {
        return format!("0 of {}", thousands(total));
    }
    format!("{}–{} of {}", offset + 1, offset + shown, thousands(total))
}

/// `10000` as `10,000`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_what_operators_read() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(2_360_000), "2.36 MB");
        assert_eq!(bytes(45_600_000_000), "45.6 GB");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(time(1_795_599_084_000), "2026-11-25 09:31:24 UTC");
        assert_eq!(date(951_782_400_000), "2000-02-29");
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(12_340), "12.3 s");
        assert_eq!(duration_ms(245_000), "4 min 05 s");
        assert_eq!(
            suggested_name(1_795_599_084_000),
            "backup_2026_11_25_09_31_24"
        );
    }

    #[test]
    fn stored_and_live_rows_are_worded_once() {
        let counted = Rows::new(3000, Some(2700));
        assert_eq!(counted.shown(), "2,700");
        assert_eq!(counted.stored(), "3,000");
        assert_eq!(counted.live(), "2,700");
        assert_eq!(
            counted.title(),
            "2,700 live rows; 3,000 stored (deleted rows are kept in delta logs until Milvus compacts them)"
        );
        assert_eq!(
            Rows::new(100, Some(100)).title(),
            "100 live rows; 100 stored"
        );
        let uncounted = Rows::new(3000, None);
        assert_eq!(uncounted.shown(), "3,000");
        assert_eq!(uncounted.live(), "not counted");
        assert_eq!(
            uncounted.title(),
            "3,000 stored rows, deleted rows included; live rows not counted"
        );
        assert!(Rows::WHY.contains("delta logs"));
    }

    #[test]
    fn incremental_sizes_say_what_came_from_the_base() {
        let one = vec!["nightly_1".to_string()];
        assert_eq!(
            size_with_base(412_000_000, 392_000_000, &one),
            "412 MB, 392 MB of it copied from backup nightly_1 (not re-read from Milvus)"
        );
        assert_eq!(
            from_base(1_500, &["a".to_string(), "b".to_string()]).as_deref(),
            Some("1.50 kB of it copied from backups a, b (not re-read from Milvus)")
        );
        // a full backup, or an incremental one that found nothing unchanged: the size alone
        assert_eq!(size_with_base(412_000_000, 0, &one), "412 MB");
        assert_eq!(size_with_base(999, 5, &[]), "999 B");
        assert_eq!(from_base(0, &one), None);
    }

    #[test]
    fn policy_modes_and_full_every_field() {
        assert_eq!(policy_modes(false, 0, 0), None);
        assert_eq!(policy_modes(false, 1, 0), None);
        assert_eq!(policy_modes(true, 0, 0).as_deref(), Some("logical"));
        assert_eq!(policy_modes(false, 7, 0).as_deref(), Some("full every 7"));
        assert_eq!(
            policy_modes(true, 3, 0).as_deref(),
            Some("logical · full every 3")
        );
        assert_eq!(policy_modes(false, 0, 1).as_deref(), Some("each drilled"));
        assert_eq!(
            policy_modes(false, 7, 7).as_deref(),
            Some("full every 7 · drilled every 7")
        );
        assert_eq!(drill_every(" 3"), Ok(3));
        assert!(drill_every("x")
            .unwrap_err()
            .contains("'Drill every N backups'"));
        assert_eq!(full_every(""), Ok(0));
        assert_eq!(full_every(" 7 "), Ok(7));
        assert_eq!(full_every("0"), Ok(0));
        assert!(full_every("-1").unwrap_err().contains("'-1'"));
        assert!(full_every("2.5").is_err());
    }

    #[test]
    fn sizes_durations_and_coordinates_are_written_without_float_formatting() {
        assert_eq!(bytes(1_000), "1.00 kB");
        assert_eq!(bytes(9_999), "10.00 kB");
        assert_eq!(bytes(12_345), "12.3 kB");
        assert_eq!(bytes(999_999), "1000 kB");
        assert_eq!(bytes(1_005_000), "1.01 MB");
        assert_eq!(bytes(-5), "0 B");
        assert_eq!(bytes(i64::MAX), "9223 PB");
        assert_eq!(duration_ms(12_340), "12.3 s");
        assert_eq!(duration_ms(1_000), "1.0 s");
        assert_eq!(recall(0.9851), "98.5%");
        assert_eq!(tenths(12.34), "12.3");
        assert_eq!(tenths(-0.46), "-0.5");
        assert_eq!(tenths(720.0), "720.0");
    }

    #[test]
    fn drill_evidence_says_recovery_time_and_recall() {
        assert_eq!(recall(1.0), "100%");
        assert_eq!(recall(0.985), "98.5%");
        assert_eq!(recall(0.9), "90%");
        assert_eq!(recall(1.7), "100%", "clamped");
        assert_eq!(
            drill_evidence(12_340, Some(1.0)),
            "recovery time 12.3 s · recall 100%"
        );
        assert_eq!(
            drill_evidence(850, Some(0.96)),
            "recovery time 850 ms · recall 96%"
        );
        assert_eq!(
            drill_evidence(245_000, None),
            "recovery time 4 min 05 s · no vectors searched"
        );
        assert_eq!(job_title("drill", "b1"), "Restore drill of b1");
        assert_eq!(job_title("verify", "b1"), "Verification of b1");
        assert_eq!(job_title("backup", "b1"), "Backup of b1");
        assert_eq!(job_title("restore", "b1"), "Restore of b1");
    }

    #[test]
    fn backup_names_follow_the_engine_rule() {
        assert!(backup_name_problem("nightly_2026-11-25.v1").is_none());
        assert!(backup_name_problem("").is_some());
        assert!(backup_name_problem("a/b").is_some());
        assert!(backup_name_problem("-x").is_some());
        assert!(backup_name_problem(&"x".repeat(129)).is_some());
    }

    #[test]
    fn archive_addresses_are_the_rest_v2_ones() {
        assert_eq!(archive_href("b1", false), "/api/v2/backups/b1/archive");
        assert_eq!(
            archive_href("far:b1", true),
            "/api/v2/backups/b1/archive?storage=far&zstd=true"
        );
        assert_eq!(
            archive_href("nightly.2026-01_x", true),
            "/api/v2/backups/nightly.2026-01_x/archive?zstd=true"
        );
        // a name from elsewhere (milvus-backup) is escaped, never a second path segment
        assert_eq!(
            archive_href("a/b c", false),
            "/api/v2/backups/a%2Fb%20c/archive"
        );
        assert_eq!(archive_file_name("b1", true), "b1.tar.zst");
        assert_eq!(archive_file_name("b1", false), "b1.tar");
        assert_eq!(archive_import_href("  "), "/api/v2/backups/archive");
        assert_eq!(
            archive_import_href(" b2 "),
            "/api/v2/backups/archive?name=b2"
        );
        assert_eq!(
            archive_import_href("x&y=1"),
            "/api/v2/backups/archive?name=x%26y%3D1"
        );
    }

    #[test]
    fn a_refused_archive_says_why() {
        let body = r#"{"error":{"code":"invalid_archive","message":"meta/x.json is not in the manifest"}}"#;
        assert_eq!(
            archive_refusal(400, body),
            "The archive was refused: meta/x.json is not in the manifest"
        );
        assert_eq!(
            archive_refusal(413, "<html>too big</html>"),
            "The archive was refused: it is larger than the server takes (backup.maxArchiveBytes)."
        );
        assert_eq!(
            archive_refusal(502, ""),
            "The archive was refused (HTTP 502)."
        );
        let said = r#"{"error":{"message":"the archive was refused: meta/x cannot be read (truncated?)"}}"#;
        assert_eq!(
            archive_refusal(400, said),
            "The archive was refused: meta/x cannot be read (truncated?)"
        );
        assert_eq!(
            archive_imported("b2", Some("b1"), 1234, 3_400_000),
            "Imported b2 (renamed from b1): 1,234 files, 3.40 MB."
        );
        assert_eq!(
            archive_imported("b1", None, 3, 10),
            "Imported b1: 3 files, 10 B."
        );
    }

    #[test]
    fn page_spans_name_the_rows_shown() {
        assert_eq!(page_span(0, 50, 10_000), "1–50 of 10,000");
        assert_eq!(page_span(9_950, 50, 10_000), "9951–10000 of 10,000");
        assert_eq!(page_span(0, 0, 0), "0 of 0");
        assert_eq!(page_span(0, 3, 3), "1–3 of 3");
    }
}
