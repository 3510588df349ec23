//! Merged import jobs: the requests of [`super::Merge::UpTo`] on Milvus 2.4+, built from the
//! unmerged ones (the same folders, options and refusals) by milvus-backup's grouping
//! (core/restore/coll_task.go: `notL0SegBatchesWithGroupID`, `notL0SegBatchesWithoutGroupID`,
//! `l0SegmentBatches`, `toPaths`).

use std::collections::HashMap;

use super::{data_requests, l0_request, Api, ImportRequest, Refusal, Stage};
use crate::format::{CollectionBackupInfo, SegmentBackupInfo};
use crate::milvus::features::Features;

/// What segments must share to go in one job: vchannel and storage version
/// (milvus-backup's `batchKey`).
type Key<'a> = (&'a str, i64);

/// The jobs that restore `coll`, `n` file groups at most per job: every partition's data, then
/// every partition's L0 segments, then the collection-level ones (stage by stage, so a
/// partition's L0 deletes always land after its rows).
pub(super) fn requests(
    backup: &str,
    coll: &CollectionBackupInfo,
    target: &Features,
    n: usize,
    name: &str,
) -> Result<Vec<ImportRequest>, Refusal> {
    let segs: HashMap<i64, &SegmentBackupInfo> =
        coll.all_segments().map(|s| (s.segment_id, s)).collect();
    let key = |r: &ImportRequest| -> Key<'_> {
        let first = r.segments.first().and_then(|id| segs.get(id));
        (
            first.map_or("", |s| s.v_channel.as_str()),
            first.map_or(0, |s| s.storage_version),
        )
    };
    let c = coll.collection_id;
    let l0_per_job = if target.multi_l0_in_one_job { n } else { 1 };
    let mut out = Vec::new();
    for part in &coll.partition_backups {
        let grouped = part
            .segment_backups
            .iter()
            .any(|s| !s.is_l0 && s.group_id != 0);
        // an empty segment's folder is not there: a job naming it would fail (the unmerged plan's
        // caller leaves such requests out instead)
        let singles = data_requests(backup, c, part, target, name)?
            .into_iter()
            .filter(|r| {
                r.segments
                    .iter()
                    .any(|id| segs.get(id).is_some_and(|s| !s.binlogs.is_empty()))
            })
            .collect();
        // without group folders the partition folder is one file group (one job), whatever n
        let per_job = if grouped { n } else { usize::MAX };
        out.extend(merge(singles, &key, per_job));
    }
    for part in &coll.partition_backups {
        let singles = part
            .segment_backups
            .iter()
            .filter(|s| s.is_l0)
            .map(|s| {
                l0_request(
                    backup,
                    c,
                    Stage::PartitionL0,
                    &part.partition_name,
                    s,
                    target,
                )
            })
            .collect();
        out.extend(merge(singles, &key, l0_per_job));
    }
    let singles = coll
        .l0_segments
        .iter()
        .map(|s| l0_request(backup, c, Stage::CollectionL0, "", s, target))
        .collect();
    out.extend(merge(singles, &key, l0_per_job));
    Ok(out)
}

/// One-group requests of one partition and stage grouped by [`Key`] (in the order each key
/// first appears, requests in their order) and cut into jobs of at most `per_job` groups.
fn merge<'a>(
    singles: Vec<ImportRequest>,
    key: &dyn Fn(&ImportRequest) -> Key<'a>,
    per_job: usize,
) -> Vec<ImportRequest> {
    let mut by_key: Vec<(Key<'a>, Vec<ImportRequest>)> = Vec::new();
    for r in singles {
        let k = key(&r);
        match by_key.iter_mut().find(|(have, _)| *have == k) {
            Some((_, members)) => members.push(r),
            None => by_key.push((k, vec![r])),
        }
    }
    let mut jobs = Vec::new();
    for (_, members) in by_key {
        for chunk in members.chunks(per_job.max(1)) {
            jobs.push(job(chunk));
        }
    }
    jobs
}

/// One job of the requests `chunk` (same partition, stage and options): their file groups
/// without the `""` that stands for "no delete logs" in a gRPC request.
fn job(chunk: &[ImportRequest]) -> ImportRequest {
    let first = &chunk[0];
    ImportRequest {
        stage: first.stage,
        partition: first.partition.clone(),
        api: Api::ImportJob,
        files: chunk
            .iter()
            .flat_map(|r| r.files.iter())
            .map(|g| g.iter().filter(|f| !f.is_empty()).cloned().collect())
            .collect(),
        options: first.options.clone(),
        segments: chunk
            .iter()
            .flat_map(|r| r.segments.iter().copied())
            .collect(),
        rows: chunk.iter().map(|r| r.rows).sum(),
    }
}
