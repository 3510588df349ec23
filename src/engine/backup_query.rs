//! One page of the backup list, sorted and filtered on the server, and the per-day totals the
//! history chart draws: what REST v2 and the portal ask for, so that neither sends or renders
//! every backup of a busy cluster (an hourly policy makes 8,760 a year).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    engine::commands::list::BackupSummary,
    error::{Error, Result},
};

/// What to sort by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// When the backup was taken.
    #[default]
    Time,
    Name,
    Size,
    /// Stored rows.
    Rows,
}

/// A sort order: `time`, `-time` (descending), `name`, `-size`...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Sort {
            key: SortKey::Time,
            descending: true,
        }
    }
}

impl std::str::FromStr for Sort {
    type Err = Error;

    fn from_str(s: &str) -> Result<Sort> {
        let (descending, key) = match s.strip_prefix('-') {
            Some(k) => (true, k),
            None => (false, s),
        };
        let key = match key {
            "time" => SortKey::Time,
            "name" => SortKey::Name,
            "size" => SortKey::Size,
            "rows" => SortKey::Rows,
            other => {
                return Err(Error::InvalidRequest(format!(
                    "cannot sort by '{other}': sort by time, name, size or rows, with '-' first for descending (e.g. -time)"
                )))
            }
        };
        Ok(Sort { key, descending })
    }
}

/// Which backups to show, in which order, which page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupQuery {
    pub sort: Sort,
    /// Only backups whose name or one of whose collections (`db.collection`) contains this
    /// (case-insensitive).
    pub name_contains: Option<String>,
    /// Only backups holding a collection of this database.
    pub database: Option<String>,
    /// Only backups this policy made.
    pub policy: Option<String>,
    pub offset: usize,
    pub limit: usize,
}

impl BackupQuery {
    /// Whether `b` passes the filters.
    pub fn keeps(&self, b: &BackupSummary) -> bool {
        let name_ok = self.name_contains.as_deref().is_none_or(|q| {
            let q = q.to_ascii_lowercase();
            b.name.to_ascii_lowercase().contains(&q)
                || b.collections
                    .iter()
                    .any(|c| c.to_ascii_lowercase().contains(&q))
        });
        let db_ok = self.database.as_deref().is_none_or(|db| {
            b.collections
                .iter()
                .any(|c| c.split_once('.').map_or(db == "default", |(d, _)| d == db))
        });
        let policy_ok = self
            .policy
            .as_deref()
            .is_none_or(|p| b.policy.as_deref() == Some(p));
        name_ok && db_ok && policy_ok
    }

    /// The page of `items` (each with its summary given by `summary`), how many passed the
    /// filters in all, and their bytes.
    pub fn page<T>(
        &self,
        items: Vec<T>,
        summary: impl Fn(&T) -> &BackupSummary,
    ) -> (Vec<T>, u64, i64) {
        let mut kept: Vec<T> = items
            .into_iter()
            .filter(|i| self.keeps(summary(i)))
            .collect();
        let by = self.sort;
        kept.sort_by(|x, y| {
            let (a, b) = (summary(x), summary(y));
            let order = match by.key {
                SortKey::Time => a.backup_timestamp.cmp(&b.backup_timestamp),
                SortKey::Name => a.name.cmp(&b.name),
                SortKey::Size => a.size.cmp(&b.size),
                SortKey::Rows => a.stored_rows.cmp(&b.stored_rows),
            }
            // one order for equal keys, so that pages never repeat or skip a backup
            .then_with(|| a.name.cmp(&b.name));
            if by.descending {
                order.reverse()
            } else {
                order
            }
        });
        let total = kept.len() as u64;
        let bytes = kept.iter().map(|i| summary(i).size).sum();
        let page = kept
            .into_iter()
            .skip(self.offset)
            .take(self.limit)
            .collect();
        (page, total, bytes)
    }
}

/// The backups of one day (UTC): how many, and their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DayTotal {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub backups: u64,
    pub bytes: i64,
}

/// Per-day totals of the backups that pass `q`'s filters, oldest day first: the history chart's
/// points, whatever the number of backups.
pub fn history(items: &[BackupSummary], q: &BackupQuery) -> Vec<DayTotal> {
    let mut days: BTreeMap<String, (u64, i64)> = BTreeMap::new();
    for b in items.iter().filter(|b| q.keeps(b)) {
        let day = chrono::DateTime::from_timestamp_millis(b.backup_timestamp as i64)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        let e = days.entry(day).or_default();
        e.0 += 1;
        e.1 += b.size;
    }
    days.into_iter()
        .map(|(day, (backups, bytes))| DayTotal {
            day,
            backups,
            bytes,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(
        name: &str,
        ms: u64,
        size: i64,
        colls: &[&str],
        policy: Option<&str>,
    ) -> BackupSummary {
        BackupSummary {
            name: name.into(),
            id: name.into(),
            backup_timestamp: ms,
            size,
            milvus_version: String::new(),
            collections: colls.iter().map(|c| c.to_string()).collect(),
            rows: 0,
            stored_rows: size / 10,
            live_rows: None,
            duration_ms: None,
            meta_only: false,
            policy: policy.map(str::to_string),
            format: String::new(),
            incremental_bases: Vec::new(),
            files_from_base: 0,
            bytes_from_base: 0,
        }
    }

    fn many(n: usize) -> Vec<BackupSummary> {
        (0..n)
            .map(|i| {
                let policy = (i % 3 == 0).then_some("hourly");
                let coll = if i % 2 == 0 { "default.a" } else { "shop.b" };
                summary(
                    &format!("b{i:05}"),
                    i as u64 * 3_600_000,
                    (i % 7) as i64 * 100,
                    &[coll],
                    policy,
                )
            })
            .collect()
    }

    fn names(v: &[BackupSummary]) -> Vec<&str> {
        v.iter().map(|b| b.name.as_str()).collect()
    }

    #[test]
    fn pages_through_ten_thousand_newest_first_without_repeating_or_skipping() {
        let all = many(10_000);
        let mut seen = std::collections::HashSet::new();
        let mut offset = 0;
        loop {
            let q = BackupQuery {
                offset,
                limit: 500,
                ..Default::default()
            };
            let (page, total, _) = q.page(all.clone(), |b| b);
            assert_eq!(total, 10_000);
            if page.is_empty() {
                break;
            }
            if offset == 0 {
                assert_eq!(page[0].name, "b09999", "newest first");
            }
            for b in &page {
                assert!(seen.insert(b.name.clone()), "{} twice", b.name);
            }
            offset += page.len();
        }
        assert_eq!(seen.len(), 10_000);
    }

    #[test]
    fn sorts_and_filters_by_name_database_and_policy() {
        let all = many(30);
        let q = BackupQuery {
            sort: "-size".parse().unwrap(),
            database: Some("shop".into()),
            policy: Some("hourly".into()),
            limit: 100,
            ..Default::default()
        };
        let (page, total, _) = q.page(all.clone(), |b| b);
        // odd and divisible by 3: 3, 9, 15, 21, 27
        assert_eq!(total, 5);
        assert!(
            page.windows(2).all(|w| w[0].size >= w[1].size),
            "{:?}",
            names(&page)
        );
        let q = BackupQuery {
            sort: "name".parse().unwrap(),
            name_contains: Some("B0002".into()),
            limit: 3,
            ..Default::default()
        };
        let (page, total, _) = q.page(all, |b| b);
        assert_eq!(total, 10);
        assert_eq!(names(&page), ["b00020", "b00021", "b00022"]);
        assert!("colour"
            .parse::<Sort>()
            .unwrap_err()
            .to_string()
            .contains("time, name, size or rows"));
    }

    #[test]
    fn history_is_one_point_per_day_whatever_the_number_of_backups() {
        let all = many(10_000);
        let days = history(&all, &BackupQuery::default());
        // one backup an hour: 10,000 hours
        assert_eq!(days.len(), 10_000 / 24 + 1);
        assert_eq!(days.iter().map(|d| d.backups).sum::<u64>(), 10_000);
        assert_eq!(days[0].day, "1970-01-01");
        assert_eq!(days[0].backups, 24);
        let total: i64 = all.iter().map(|b| b.size).sum();
        assert_eq!(days.iter().map(|d| d.bytes).sum::<i64>(), total);
        let q = BackupQuery {
            policy: Some("hourly".into()),
            ..Default::default()
        };
        assert_eq!(
            history(&all, &q).iter().map(|d| d.backups).sum::<u64>(),
            3_334
        );
    }
}
