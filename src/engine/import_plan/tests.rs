//! The import plan against every fixture and Milvus 2.3 / 2.4 / 2.5 / 2.6, request by request.

use std::path::{Path, PathBuf};

use super::*;
use crate::format::{BackupInfo, CollectionSchema, FieldBinlog, LevelInfos, ALL_PARTITIONS};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/milvus-backup");

/// The backup root of a fixture and its backup's name.
fn fixture(generation: &str) -> (PathBuf, String) {
    let root = Path::new(FIXTURES).join(generation);
    let name = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    (root, name)
}

fn read_meta<T: serde::de::DeserializeOwned>(generation: &str, file: &str) -> T {
    let (root, name) = fixture(generation);
    let text = std::fs::read_to_string(root.join(&name).join("meta").join(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn full(generation: &str) -> BackupInfo {
    read_meta(generation, "full_meta.json")
}

fn versions() -> [Features; 4] {
    [
        Features::milvus_2_3(),
        Features::milvus_2_4(),
        Features::milvus_2_5(),
        Features::milvus_2_6(),
    ]
}

fn plan_of(generation: &str, target: &Features) -> Result<Vec<ImportRequest>, Refusal> {
    let info = full(generation);
    plan(&info, &info.collection_backups[0], target)
}

fn opts(pairs: &[(&str, &str)]) -> Vec<KeyValuePair> {
    pairs
        .iter()
        .map(|(k, v)| KeyValuePair::new(*k, *v))
        .collect()
}

fn req(
    stage: Stage,
    partition: &str,
    files: &[&str],
    options: &[(&str, &str)],
    segments: &[i64],
    rows: i64,
) -> ImportRequest {
    ImportRequest {
        stage,
        partition: partition.into(),
        api: Api::Import,
        files: vec![files.iter().map(|f| f.to_string()).collect()],
        options: opts(options),
        segments: segments.to_vec(),
        rows,
    }
}

const SKIP: (&str, &str) = ("skip_disk_quota_check", "true");
const BACKUP: (&str, &str) = ("backup", "true");
const L0: (&str, &str) = ("l0_import", "true");
const SV2: (&str, &str) = ("storage_version", "2");

#[test]
fn v0_4_15_groups_on_every_version() {
    let b = "mb_v0_4_15/binlogs";
    let c = "450000000000000100/450000000000000101";
    for target in versions() {
        let head: &[(&str, &str)] = if target.skip_disk_quota_check {
            &[SKIP, BACKUP]
        } else {
            &[BACKUP]
        };
        assert_eq!(
            plan_of("v0_4_15", &target).unwrap(),
            [
                req(
                    Stage::Data,
                    "_default",
                    &[&format!("{b}/insert_log/{c}/450000000000000201/"), ""],
                    head,
                    &[450000000000000201],
                    3
                ),
                req(
                    Stage::Data,
                    "_default",
                    &[
                        &format!("{b}/insert_log/{c}/450000000000000202/"),
                        &format!("{b}/delta_log/{c}/450000000000000202/"),
                    ],
                    head,
                    &[450000000000000202],
                    2
                ),
            ],
            "Milvus {:?}",
            target.version
        );
    }
}

#[test]
fn v0_5_8_l0_and_storage_v2() {
    assert_eq!(
        plan_of("v0_5_8", &Features::milvus_2_3())
            .unwrap_err()
            .to_string(),
        "default.events: L0 segments 451000000000000203, 451000000000000205 hold deletes: Milvus 2.3 cannot import them; restore into Milvus 2.4.5+"
    );
    for (target, name) in [
        (Features::milvus_2_4(), "2.4"),
        (Features::milvus_2_5(), "2.5"),
    ] {
        assert_eq!(
            plan_of("v0_5_8", &target).unwrap_err(),
            Refusal::StorageV2 {
                collection: "default.events".into(),
                segments:
                    "451000000000000201, 451000000000000203, 451000000000000204, 451000000000000205"
                        .into(),
                target: name.into(),
            }
        );
    }
    let b = "mb_v0_5_8/binlogs";
    let c = "451000000000000100";
    let p1 = "451000000000000101";
    let p2 = "451000000000000102";
    assert_eq!(
        plan_of("v0_5_8", &Features::milvus_2_6()).unwrap(),
        [
            req(
                Stage::Data,
                "_default",
                &[
                    &format!("{b}/insert_log/{c}/{p1}/451000000000000201/"),
                    &format!("{b}/delta_log/{c}/{p1}/451000000000000201/"),
                ],
                &[SKIP, BACKUP, SV2],
                &[451000000000000201],
                4
            ),
            req(
                Stage::Data,
                "_default",
                &[&format!("{b}/insert_log/{c}/{p1}/451000000000000202/"), ""],
                &[SKIP, BACKUP],
                &[451000000000000202],
                2
            ),
            req(
                Stage::Data,
                "p2024",
                &[&format!("{b}/insert_log/{c}/{p2}/451000000000000204/"), ""],
                &[SKIP, BACKUP, SV2],
                &[451000000000000204],
                3
            ),
            req(
                Stage::PartitionL0,
                "_default",
                &[&format!("{b}/delta_log/{c}/{p1}/451000000000000203/")],
                &[SKIP, L0, SV2],
                &[451000000000000203],
                0
            ),
            req(
                Stage::CollectionL0,
                "",
                &[&format!("{b}/delta_log/{c}/-1/451000000000000205/")],
                &[SKIP, L0, SV2],
                &[451000000000000205],
                0
            ),
        ]
    );
}

#[test]
fn v0_5_13_dynamic_collection() {
    assert_eq!(
        plan_of("v0_5_13", &Features::milvus_2_3())
            .unwrap_err()
            .to_string(),
        "team_a.notes: L0 segments 452000000000000203 hold deletes: Milvus 2.3 cannot import them; restore into Milvus 2.4.5+"
    );
    let b = "mb_v0_5_13/binlogs";
    let c = "452000000000000100";
    let p = "452000000000000101";
    let expected = [
        req(
            Stage::Data,
            "_default",
            &[&format!("{b}/insert_log/{c}/{p}/452000000000000201/"), ""],
            &[SKIP, BACKUP],
            &[452000000000000201],
            5,
        ),
        req(
            Stage::Data,
            "_default",
            &[
                &format!("{b}/insert_log/{c}/{p}/452000000000000202/"),
                &format!("{b}/delta_log/{c}/{p}/452000000000000202/"),
            ],
            &[SKIP, BACKUP],
            &[452000000000000202],
            2,
        ),
        req(
            Stage::CollectionL0,
            "",
            &[&format!("{b}/delta_log/{c}/-1/452000000000000203/")],
            &[SKIP, L0],
            &[452000000000000203],
            0,
        ),
    ];
    for target in &versions()[1..] {
        assert_eq!(plan_of("v0_5_13", target).unwrap(), expected);
    }
    let info = full("v0_5_13");
    let schema = info.collection_backups[0].schema.as_ref().unwrap();
    let dynamic: Vec<&str> = schema
        .fields
        .iter()
        .filter(|f| f.is_dynamic_field())
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(dynamic, [FieldSchema::DYNAMIC_FIELD]);
    assert!(schema.enable_dynamic_field);
    assert_eq!(info.collection_backups[0].aliases, ["notes_current"]);
    assert!(info.collection_backups[0].index_infos[0].is_auto_index);

    // the same backup of an encrypted database: its key goes with every import, last
    let mut encrypted = info.clone();
    encrypted.database_backups[0].ezk = "ezk-of-team-a".into();
    let coll = &encrypted.collection_backups[0];
    let plan = crate::engine::import_plan::plan(&encrypted, coll, &Features::milvus_2_6()).unwrap();
    assert_eq!(plan.len(), expected.len());
    for (got, want) in plan.iter().zip(&expected) {
        let mut options = want.options.clone();
        options.push(opts(&[("ezk", "ezk-of-team-a")])[0].clone());
        assert_eq!(got.options, options);
    }
}

#[test]
fn v0_5_16_functions_nullable_structs() {
    let refusal = |t: &Features| plan_of("v0_5_16", t).unwrap_err().to_string();
    assert_eq!(
        refusal(&Features::milvus_2_3()),
        "default.articles: BM25 functions (text_bm25) need Milvus 2.5+; this is Milvus 2.3"
    );
    assert_eq!(
        refusal(&Features::milvus_2_4()),
        "default.articles: BM25 functions (text_bm25) need Milvus 2.5+; this is Milvus 2.4"
    );
    assert_eq!(
        refusal(&Features::milvus_2_5()),
        "default.articles: arrays of structs (chunks) need Milvus 2.6.4+; this is Milvus 2.5"
    );
    assert_eq!(
        refusal(&Features::from_version("v2.6.2").unwrap()),
        "default.articles: arrays of structs (chunks) need Milvus 2.6.4+; this is Milvus 2.6.2"
    );
    let b = "mb_v0_5_16/binlogs";
    let c = "453000000000000100";
    let p = "453000000000000101";
    assert_eq!(
        plan_of("v0_5_16", &Features::milvus_2_6()).unwrap(),
        [
            req(
                Stage::Data,
                "_default",
                &[&format!("{b}/insert_log/{c}/{p}/453000000000000201/"), ""],
                &[SKIP, BACKUP, SV2],
                &[453000000000000201],
                3
            ),
            req(
                Stage::PartitionL0,
                "_default",
                &[&format!("{b}/delta_log/{c}/{p}/453000000000000202/")],
                &[SKIP, L0, SV2],
                &[453000000000000202],
                0
            ),
            req(
                Stage::CollectionL0,
                "",
                &[&format!("{b}/delta_log/{c}/-1/453000000000000203/")],
                &[SKIP, L0, SV2],
                &[453000000000000203],
                0
            ),
        ]
    );
    let info = full("v0_5_16");
    let schema = info.collection_backups[0].schema.as_ref().unwrap();
    let by_name = |n: &str| schema.fields.iter().find(|f| f.name == n).unwrap();
    // ValueField{long_data: 7} and ValueField{string_data: "n/a"}
    assert_eq!(
        by_name("rating").default_value_bytes().unwrap(),
        Some(vec![0x18, 7])
    );
    assert_eq!(
        by_name("label").default_value_bytes().unwrap(),
        Some(b"\x32\x03n/a".to_vec())
    );
    assert!(by_name("sparse").is_function_output);
    assert_eq!(schema.functions[0].output_field_ids, [102]);
    assert_eq!(schema.struct_array_fields[0].fields.len(), 2);
}

#[test]
fn snapshot_format_is_refused_everywhere() {
    for target in versions() {
        assert_eq!(
            plan_of("snapshot", &target).unwrap_err().to_string(),
            "default.photos: format snapshot is not supported: the backup holds a Milvus snapshot bundle (milvus-backup --format=snapshot), which milvault does not restore; restore it with milvus-backup into Milvus 3.0+"
        );
    }
    let info = full("snapshot");
    let snap = info.collection_backups[0].snapshot_backup.as_ref().unwrap();
    let (root, name) = fixture("snapshot");
    assert!(root.join(name).join(&snap.metadata_path).is_file());
}

/// Every binlog of a fixture lies under a folder of its Milvus 2.6 plan, and every folder of
/// the plan exists: the plan and milvus-backup's layout agree.
#[test]
fn plans_cover_every_fixture_binlog() {
    for generation in ["v0_4_15", "v0_5_8", "v0_5_13", "v0_5_16"] {
        let (root, _) = fixture(generation);
        let info = full(generation);
        let requests = plan(&info, &info.collection_backups[0], &Features::milvus_2_6()).unwrap();
        let dirs: Vec<&String> = requests
            .iter()
            .flat_map(|r| r.files.iter().flatten())
            .filter(|f| !f.is_empty())
            .collect();
        for d in &dirs {
            assert!(
                root.join(d).is_dir(),
                "{generation}: {d} is not in the fixture"
            );
        }
        let mut stack = vec![root.join(&info.name).join("binlogs")];
        let mut files = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let path = e.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                files += 1;
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .to_string();
                assert!(
                    dirs.iter().any(|d| rel.starts_with(d.as_str())),
                    "{generation}: {rel} is imported by no request"
                );
            }
        }
        let in_meta: usize = info.collection_backups[0]
            .all_segments()
            .flat_map(|s| s.all_binlogs())
            .count();
        assert_eq!(
            files, in_meta,
            "{generation}: files on disk vs binlogs in the metadata"
        );
    }
}

/// The level files rebuild the same tree as full_meta.json, except where milvus-backup's own
/// level files lose collection-level L0 segments (v0.5.13+).
#[test]
fn level_files_agree_with_full_meta() {
    for generation in ["v0_4_15", "v0_5_8", "v0_5_13", "v0_5_16", "snapshot"] {
        let full = full(generation);
        let rebuilt = BackupInfo::from_levels(
            read_meta(generation, "backup_meta.json"),
            read_meta(generation, "collection_meta.json"),
            read_meta(generation, "partition_meta.json"),
            read_meta(generation, "segment_meta.json"),
        );
        let (a, b) = (&full.collection_backups[0], &rebuilt.collection_backups[0]);
        assert_eq!(a.partition_backups, b.partition_backups, "{generation}");
        assert_eq!(a.schema, b.schema, "{generation}");
        let levels_keep_l0 = matches!(generation, "v0_4_15" | "v0_5_8");
        if levels_keep_l0 {
            assert_eq!(a.l0_segments, b.l0_segments, "{generation}");
        } else {
            assert!(b.l0_segments.is_empty(), "{generation}");
        }
        assert_eq!(rebuilt.format, full.format, "{generation}");
        assert_eq!(rebuilt.name, full.name);
    }
    let segs: LevelInfos<SegmentBackupInfo> = read_meta("v0_4_15", "segment_meta.json");
    assert!(segs
        .infos
        .iter()
        .all(|s| s.backuped && s.group_id == s.segment_id));
    assert!(!segs.infos[0].has_delta_files());
    assert!(segs.infos[1].has_delta_files());
}

/// A milvault backup (no group folders) as milvault writes it.
fn milvault_style(storage_versions: &[i64]) -> BackupInfo {
    let seg = |i: usize, sv: i64| SegmentBackupInfo {
        segment_id: 300 + i as i64,
        collection_id: 1,
        partition_id: 2,
        num_of_rows: 10,
        deltalogs: if i == 0 {
            vec![FieldBinlog {
                field_id: 0,
                binlogs: vec![Default::default()],
            }]
        } else {
            vec![]
        },
        storage_version: sv,
        ..Default::default()
    };
    BackupInfo {
        name: "own".into(),
        collection_backups: vec![CollectionBackupInfo {
            collection_id: 1,
            collection_name: "c".into(),
            partition_backups: vec![PartitionBackupInfo {
                partition_id: 2,
                partition_name: "_default".into(),
                collection_id: 1,
                segment_backups: storage_versions
                    .iter()
                    .enumerate()
                    .map(|(i, sv)| seg(i, *sv))
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn without_groups_2_3_gets_segment_folders_and_2_4_the_partition() {
    let info = milvault_style(&[0, 0]);
    let coll = &info.collection_backups[0];
    // what milvault has always sent to Milvus 2.3: per segment, both folders, backup=true
    assert_eq!(
        plan(&info, coll, &Features::milvus_2_3()).unwrap(),
        [
            req(
                Stage::Data,
                "_default",
                &[
                    "own/binlogs/insert_log/1/2/300/",
                    "own/binlogs/delta_log/1/2/300/"
                ],
                &[BACKUP],
                &[300],
                10
            ),
            req(
                Stage::Data,
                "_default",
                &[
                    "own/binlogs/insert_log/1/2/301/",
                    "own/binlogs/delta_log/1/2/301/"
                ],
                &[BACKUP],
                &[301],
                10
            ),
        ]
    );
    for target in &versions()[1..] {
        assert_eq!(
            plan(&info, coll, target).unwrap(),
            [req(
                Stage::Data,
                "_default",
                &["own/binlogs/insert_log/1/2/", "own/binlogs/delta_log/1/2/"],
                &[SKIP, BACKUP],
                &[300, 301],
                20
            )]
        );
    }
    let mixed = milvault_style(&[0, 2]);
    assert_eq!(
        plan(
            &mixed,
            &mixed.collection_backups[0],
            &Features::milvus_2_6()
        )
        .unwrap_err(),
        Refusal::MixedStorageVersions {
            collection: "default.c".into(),
            partition: "_default".into(),
            versions: "0, 2".into(),
        }
    );
}

#[test]
fn a_group_shared_by_segments_is_imported_once() {
    let mut info = milvault_style(&[0, 0, 0]);
    let segs = &mut info.collection_backups[0].partition_backups[0].segment_backups;
    for (s, g) in segs.iter_mut().zip([1, 1, 2]) {
        s.group_id = g;
    }
    let got = plan(&info, &info.collection_backups[0], &Features::milvus_2_4()).unwrap();
    let summary: Vec<(Vec<String>, Vec<i64>)> = got
        .into_iter()
        .map(|r| (r.files.concat(), r.segments))
        .collect();
    assert_eq!(
        summary,
        [
            (
                vec![
                    "own/binlogs/insert_log/1/2/1/".to_string(),
                    "own/binlogs/delta_log/1/2/1/".to_string()
                ],
                vec![300, 301]
            ),
            (
                vec!["own/binlogs/insert_log/1/2/2/".to_string(), String::new()],
                vec![302]
            ),
        ]
    );
}

#[test]
fn schema_features_are_checked_against_the_target() {
    let mut info = milvault_style(&[0]);
    let field = |name: &str, data_type: i32| FieldSchema {
        name: name.into(),
        data_type,
        ..Default::default()
    };
    info.collection_backups[0].schema = Some(CollectionSchema {
        fields: vec![field("id", 5), field("v", 105)],
        ..Default::default()
    });
    let refusal = |info: &BackupInfo, t: Features| {
        plan(info, &info.collection_backups[0], &t)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        refusal(&info, Features::milvus_2_5()),
        "default.c: fields of type Int8Vector (v) need Milvus 2.6+; this is Milvus 2.5"
    );
    let schema = info.collection_backups[0].schema.as_mut().unwrap();
    schema.fields[1] = FieldSchema {
        default_value_proto: "\u{18}\u{7}".into(),
        ..field("n", 5)
    };
    assert_eq!(
        refusal(&info, Features::milvus_2_4()),
        "default.c: default values (fields n) need Milvus 2.5+; this is Milvus 2.4"
    );
    assert_eq!(
        info.collection_backups[0].schema.as_ref().unwrap().fields[1]
            .default_value_bytes()
            .unwrap(),
        Some(vec![0x18, 7])
    );
    let schema = info.collection_backups[0].schema.as_mut().unwrap();
    schema.fields[1].default_value_proto.clear();
    schema.functions = vec![crate::format::FunctionSchema {
        name: "embed".into(),
        function_type: FUNCTION_TEXT_EMBEDDING,
        ..Default::default()
    }];
    assert_eq!(
        refusal(&info, Features::milvus_2_5()),
        "default.c: TextEmbedding functions (embed) need Milvus 2.6+; this is Milvus 2.5"
    );
    assert!(plan(&info, &info.collection_backups[0], &Features::milvus_2_6()).is_ok());
}

#[test]
fn lost_default_value_bytes_are_reported() {
    let f = FieldSchema {
        name: "n".into(),
        default_value_proto: "\u{32}\u{2}\u{FFFD}".into(),
        ..Default::default()
    };
    assert!(f.default_value_bytes().unwrap_err().contains("lost bytes"));
    assert_eq!(FieldSchema::default().default_value_bytes().unwrap(), None);
}

#[test]
fn features_from_reported_versions() {
    assert_eq!(
        Features::from_version("v2.3.5"),
        Some(Features {
            version: (2, 3, 5),
            ..Features::milvus_2_3()
        })
    );
    assert!(Features::from_version("2.4.17").unwrap().l0_import);
    let f = Features::from_version("v2.6.0-rc1").unwrap();
    assert!(f.storage_v2 && !f.struct_arrays);
    assert!(Features::from_version("v2.6.4").unwrap().struct_arrays);
    assert!(Features::from_version("v3.0.0").unwrap().struct_arrays);
    // REST import jobs from 2.4; several L0 segments per job from 2.6.5 (MultiL0InOneJob)
    assert!(!Features::from_version("v2.3.5").unwrap().import_jobs);
    assert!(Features::from_version("v2.4.0").unwrap().import_jobs);
    assert!(
        !Features::from_version("v2.6.4")
            .unwrap()
            .multi_l0_in_one_job
    );
    assert!(
        Features::from_version("v2.6.5")
            .unwrap()
            .multi_l0_in_one_job
    );
    assert!(
        Features::from_version("v3.0.0")
            .unwrap()
            .multi_l0_in_one_job
    );
    assert_eq!(Features::from_version("v2.2.16"), None);
    assert_eq!(Features::from_version("master"), None);
}

#[test]
fn collection_level_l0_without_partitions_only() {
    let mut info = milvault_style(&[]);
    info.collection_backups[0].l0_segments = vec![SegmentBackupInfo {
        segment_id: 9,
        collection_id: 1,
        partition_id: ALL_PARTITIONS,
        is_l0: true,
        ..Default::default()
    }];
    assert_eq!(
        plan(&info, &info.collection_backups[0], &Features::milvus_2_4()).unwrap(),
        [req(
            Stage::CollectionL0,
            "",
            &["own/binlogs/delta_log/1/-1/9/"],
            &[SKIP, L0],
            &[9],
            0
        )]
    );
}

/// A backup of milvus-backup's shape (a group folder per segment) with two partitions: data
/// segments as `(vchannel, storage version)`, then `l0` L0 segments per partition and
/// `coll_l0` collection-level ones, all on vchannel `a`.
fn grouped(segments: &[(&str, i64)], l0: usize, coll_l0: usize) -> BackupInfo {
    let mut next = 100;
    let mut seg = |part: i64, vch: &str, sv: i64, is_l0: bool| {
        next += 1;
        SegmentBackupInfo {
            segment_id: next,
            collection_id: 1,
            partition_id: part,
            group_id: if is_l0 { 0 } else { next },
            num_of_rows: if is_l0 { 0 } else { 10 },
            binlogs: if is_l0 {
                vec![]
            } else {
                vec![FieldBinlog {
                    field_id: 100,
                    binlogs: vec![Default::default()],
                }]
            },
            v_channel: vch.into(),
            storage_version: sv,
            is_l0,
            ..Default::default()
        }
    };
    let mut parts = Vec::new();
    for (id, name) in [(2, "p1"), (3, "p2")] {
        let mut segs: Vec<SegmentBackupInfo> = segments
            .iter()
            .map(|(vch, sv)| seg(id, vch, *sv, false))
            .collect();
        segs.extend((0..l0).map(|_| seg(id, "a", 0, true)));
        parts.push(PartitionBackupInfo {
            partition_id: id,
            partition_name: name.into(),
            collection_id: 1,
            segment_backups: segs,
            ..Default::default()
        });
    }
    let coll_l0 = (0..coll_l0)
        .map(|_| seg(ALL_PARTITIONS, "a", 0, true))
        .collect();
    BackupInfo {
        name: "mb".into(),
        collection_backups: vec![CollectionBackupInfo {
            collection_id: 1,
            collection_name: "c".into(),
            partition_backups: parts,
            l0_segments: coll_l0,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// `stage partition segments` of each job, and checks that every job is a REST job.
fn jobs(info: &BackupInfo, target: &Features, n: usize) -> Vec<String> {
    let got = plan_with(info, &info.collection_backups[0], target, Merge::UpTo(n)).unwrap();
    got.iter()
        .map(|r| {
            assert_eq!(r.api, Api::ImportJob, "{r:?}");
            assert_eq!(
                r.files.len(),
                r.segments.len(),
                "one file group per segment: {r:?}"
            );
            format!("{:?} {} {:?}", r.stage, r.partition, r.segments)
        })
        .collect()
}

#[test]
fn merged_jobs_group_by_vchannel_and_storage_version_and_are_cut_at_n() {
    // per partition: 5 segments on (a,0), 1 on (b,0), 1 on (a,2), interleaved
    let info = grouped(
        &[
            ("a", 0),
            ("b", 0),
            ("a", 0),
            ("a", 2),
            ("a", 0),
            ("a", 0),
            ("a", 0),
        ],
        0,
        0,
    );
    assert_eq!(
        jobs(&info, &Features::milvus_2_6(), 2),
        [
            // in the order each (vchannel, storage version) first appears, n at most per job
            "Data p1 [101, 103]",
            "Data p1 [105, 106]",
            "Data p1 [107]",
            "Data p1 [102]",
            "Data p1 [104]",
            "Data p2 [108, 110]",
            "Data p2 [112, 113]",
            "Data p2 [114]",
            "Data p2 [109]",
            "Data p2 [111]",
        ]
    );
    // at 256 (milvus-backup's default) each key is one job
    assert_eq!(
        jobs(&info, &Features::milvus_2_6(), 256),
        [
            "Data p1 [101, 103, 105, 106, 107]",
            "Data p1 [102]",
            "Data p1 [104]",
            "Data p2 [108, 110, 112, 113, 114]",
            "Data p2 [109]",
            "Data p2 [111]",
        ]
    );
    let got = plan_with(
        &info,
        &info.collection_backups[0],
        &Features::milvus_2_6(),
        Merge::UpTo(256),
    )
    .unwrap();
    // the storage version of the job's segments, and the rows of all of them
    assert_eq!(got[0].options, opts(&[SKIP, BACKUP]));
    assert_eq!(got[2].options, opts(&[SKIP, BACKUP, SV2]));
    assert_eq!(got[0].rows, 50);
    // a group without deletes is `[insert]` alone (no `""` in a job)
    assert_eq!(got[1].files, [["mb/binlogs/insert_log/1/2/102/"]]);
}

#[test]
fn merged_l0_segments_stay_one_per_job_below_2_6_5_and_come_after_the_data() {
    let info = grouped(&[("a", 0), ("a", 0)], 3, 2);
    let one_per_job = [
        "Data p1 [101, 102]",
        "Data p2 [106, 107]",
        "PartitionL0 p1 [103]",
        "PartitionL0 p1 [104]",
        "PartitionL0 p1 [105]",
        "PartitionL0 p2 [108]",
        "PartitionL0 p2 [109]",
        "PartitionL0 p2 [110]",
        "CollectionL0  [111]",
        "CollectionL0  [112]",
    ];
    for target in [
        Features::milvus_2_4(),
        Features::milvus_2_5(),
        Features::milvus_2_6(),
    ] {
        assert_eq!(jobs(&info, &target, 2), one_per_job, "{}", target.name());
    }
    let v265 = Features::from_version("v2.6.5").unwrap();
    assert_eq!(
        jobs(&info, &v265, 2),
        [
            "Data p1 [101, 102]",
            "Data p2 [106, 107]",
            "PartitionL0 p1 [103, 104]",
            "PartitionL0 p1 [105]",
            "PartitionL0 p2 [108, 109]",
            "PartitionL0 p2 [110]",
            "CollectionL0  [111, 112]",
        ]
    );
    let got = plan_with(&info, &info.collection_backups[0], &v265, Merge::UpTo(2)).unwrap();
    let coll_l0 = got.last().unwrap();
    assert_eq!(
        coll_l0.files,
        [
            ["mb/binlogs/delta_log/1/-1/111/"],
            ["mb/binlogs/delta_log/1/-1/112/"]
        ]
    );
    assert_eq!(coll_l0.options, opts(&[SKIP, L0]));
}

#[test]
fn merging_changes_nothing_on_2_3_and_off_is_the_old_plan() {
    let info = grouped(&[("a", 0), ("a", 0)], 0, 0);
    let coll = &info.collection_backups[0];
    let old = plan(&info, coll, &Features::milvus_2_3()).unwrap();
    assert_eq!(old.len(), 4);
    assert!(old
        .iter()
        .all(|r| r.api == Api::Import && r.files.len() == 1));
    assert_eq!(
        plan_with(&info, coll, &Features::milvus_2_3(), Merge::UpTo(256)).unwrap(),
        old
    );
    assert_eq!(
        plan_with(&info, coll, &Features::milvus_2_6(), Merge::Off).unwrap(),
        plan(&info, coll, &Features::milvus_2_6()).unwrap()
    );
}

#[test]
fn merged_jobs_of_backups_without_groups_and_of_empty_segments() {
    // no group folders: the partition folder is one file group, whatever n
    let mut info = milvault_style(&[0, 0, 0]);
    for s in &mut info.collection_backups[0].partition_backups[0].segment_backups {
        s.binlogs = vec![FieldBinlog {
            field_id: 100,
            binlogs: vec![Default::default()],
        }];
    }
    let coll = &info.collection_backups[0];
    let got = plan_with(&info, coll, &Features::milvus_2_4(), Merge::UpTo(1)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].api, Api::ImportJob);
    assert_eq!(
        got[0].files,
        [["own/binlogs/insert_log/1/2/", "own/binlogs/delta_log/1/2/"]]
    );
    assert_eq!(got[0].segments, [300, 301, 302]);
    // a segment without binlogs has no folder: it is left out of the job
    let mut info = grouped(&[("a", 0), ("a", 0), ("a", 0)], 0, 0);
    info.collection_backups[0].partition_backups[0].segment_backups[1]
        .binlogs
        .clear();
    let got = jobs(&info, &Features::milvus_2_4(), 256);
    assert_eq!(got[0], "Data p1 [101, 103]");
}
