//! The backup list at a busy cluster's scale, through REST v2 on the web server's router: 2,000
//! backups (their metadata written into a local backup directory; no Milvus needed) paged through
//! without a repeat or a gap, sorted and filtered on the server, and the per-day history.

use std::collections::HashSet;

use crate::support::*;
use milvault::{
    db::Db,
    engine::commands::create::write_meta,
    format::{BackupInfo, CollectionBackupInfo, MilvaultInfo},
    jobs::registry::JobRegistry,
};
use serde_json::Value;

const BACKUPS: usize = 2_000;
const HOUR_MS: u64 = 3_600_000;

fn backup(i: usize) -> BackupInfo {
    let ts = 1_790_000_000_000u64 + i as u64 * HOUR_MS;
    BackupInfo {
        id: format!("id-{i}"),
        name: format!("hourly_{i:05}"),
        backup_timestamp: ts,
        size: 1000 + (i as i64 % 97),
        collection_backups: vec![CollectionBackupInfo {
            collection_id: 1,
            db_name: if i % 2 == 0 { "default" } else { "shop" }.into(),
            collection_name: "c".into(),
            backup_timestamp: ts,
            ..Default::default()
        }],
        milvus_version: "v2.3.5".into(),
        milvault: Some(MilvaultInfo {
            policy: (i % 4 == 0).then(|| "quarterly".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn rest_v2_pages_sorts_and_filters_two_thousand_backups_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let svc = offline_service(dir.path());
    for i in 0..BACKUPS {
        write_meta(svc.backup_storage(), &backup(i)).await.unwrap();
    }
    let addr = serve_portal(
        JobRegistry::new(svc, Db::in_memory().unwrap()),
        Default::default(),
    )
    .await;

    // every backup once, newest first, 500 at a time
    let mut seen = HashSet::new();
    let mut offset = 0;
    let mut last = String::from("~");
    loop {
        let (status, page) = get(addr, &format!("/api/v2/backups?limit=500&offset={offset}")).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["page"]["total"], BACKUPS as u64);
        let items = page["items"].as_array().unwrap();
        for b in items {
            // RFC 3339 times of one offset sort as text
            let at = b["created_at"].as_str().unwrap().to_string();
            assert!(at < last, "newest first: {at} after {last}");
            last = at;
            assert!(seen.insert(b["name"].as_str().unwrap().to_string()));
        }
        match page["page"]["next_offset"].as_u64() {
            Some(next) => offset = next as usize,
            None => break,
        }
    }
    assert_eq!(seen.len(), BACKUPS);

    // filtered and sorted on the server: the policy's shop backups (none: policy backups are
    // the even ones, all in default), then the policy's by size, largest first
    let (_, page) = get(addr, "/api/v2/backups?policy=quarterly&database=shop").await;
    assert_eq!(page["page"]["total"], 0);
    let (_, page) = get(addr, "/api/v2/backups?policy=quarterly&sort=-size&limit=5").await;
    assert_eq!(page["page"]["total"], (BACKUPS / 4) as u64);
    let sizes: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_i64().unwrap())
        .collect();
    assert_eq!(sizes.len(), 5);
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    let (_, page) = get(addr, "/api/v2/backups?q=HOURLY_0199&sort=name").await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 10);
    assert_eq!(names[0], "hourly_01990");
    let (status, err) = get(addr, "/api/v2/backups?sort=colour").await;
    assert_eq!(status, 400, "{err}");

    // one point a day, adding up to every backup
    let (status, days) = get(addr, "/api/v2/backup-history").await;
    assert_eq!(status, 200, "{days}");
    let days = days.as_array().unwrap();
    assert!((83..=85).contains(&days.len()), "{}", days.len());
    let count: u64 = days.iter().map(|d| d["backups"].as_u64().unwrap()).sum();
    assert_eq!(count, BACKUPS as u64);
    let (_, shop) = get(addr, "/api/v2/backup-history?database=shop").await;
    let count: u64 = shop
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["backups"].as_u64().unwrap())
        .sum();
    assert_eq!(count, (BACKUPS / 2) as u64);
}
