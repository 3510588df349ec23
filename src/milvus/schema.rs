//! Conversions between Milvus' protobuf schema and the backup format's schema.
#![allow(deprecated)] // Milvus 2.3 still fills Status.error_code and schema-level autoID

use base64::Engine;
use milvus::proto::{common, schema as pb};
use prost::Message;

use crate::format::{self, KeyValuePair};

fn kv_from(kvs: &[common::KeyValuePair]) -> Vec<KeyValuePair> {
    kvs.iter()
        .map(|kv| KeyValuePair::new(&kv.key, &kv.value))
        .collect()
}

/// Milvus key/value pairs from the backup format's.
pub fn kv_to(kvs: &[KeyValuePair]) -> Vec<common::KeyValuePair> {
    kvs.iter()
        .map(|kv| common::KeyValuePair {
            key: kv.key.clone(),
            value: kv.value.clone(),
        })
        .collect()
}

/// The backup format's schema from Milvus' DescribeCollection schema.
pub fn schema_from_proto(s: &pb::CollectionSchema) -> format::CollectionSchema {
    format::CollectionSchema {
        name: s.name.clone(),
        description: s.description.clone(),
        auto_id: s.auto_id,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: kv_from(&s.properties),
        fields: s
            .fields
            .iter()
            .map(|f| format::FieldSchema {
                field_id: f.field_id,
                name: f.name.clone(),
                is_primary_key: f.is_primary_key,
                description: f.description.clone(),
                data_type: f.data_type,
                type_params: kv_from(&f.type_params),
                index_params: kv_from(&f.index_params),
                auto_id: f.auto_id,
                state: f.state,
                element_type: f.element_type,
                is_dynamic: f.is_dynamic,
                is_partition_key: f.is_partition_key,
                is_clustering_key: f.is_clustering_key,
                nullable: f.nullable,
                is_function_output: f.is_function_output,
                default_value_base64: f
                    .default_value
                    .as_ref()
                    .map(|v| base64::engine::general_purpose::STANDARD.encode(v.encode_to_vec()))
                    .unwrap_or_default(),
                ..Default::default()
            })
            .collect(),
        functions: s
            .functions
            .iter()
            .map(|f| format::FunctionSchema {
                name: f.name.clone(),
                id: f.id,
                description: f.description.clone(),
                function_type: f.r#type,
                input_field_names: f.input_field_names.clone(),
                input_field_ids: f.input_field_ids.clone(),
                output_field_names: f.output_field_names.clone(),
                output_field_ids: f.output_field_ids.clone(),
                params: kv_from(&f.params),
            })
            .collect(),
        ..Default::default()
    }
}

/// Fields added to the collection after it was created (Milvus 2.6 AddCollectionField): those
/// with a higher id than the dynamic field `$meta`, which Milvus gave its id at creation. A
/// collection created with them in its schema would give them other ids (Milvus numbers the
/// fields from 100 in order and `$meta` last), so they are added after creation. A backup that
/// does not list `$meta` (DescribeCollection leaves it out; milvus-backup writes it only with
/// `--backup_index_extra`) has its id guessed ([`guess_dynamic_field_id`]).
pub fn added_fields(s: &format::CollectionSchema) -> Vec<&format::FieldSchema> {
    let meta_id = match s.fields.iter().find(|f| f.is_dynamic_field()) {
        Some(meta) => meta.field_id,
        None if s.enable_dynamic_field => match guess_dynamic_field_id(&s.fields) {
            Some(id) => id,
            None => return Vec::new(),
        },
        None => return Vec::new(),
    };
    let mut added: Vec<_> = s
        .fields
        .iter()
        .filter(|f| !f.is_dynamic_field() && f.field_id > meta_id)
        .collect();
    added.sort_by_key(|f| f.field_id);
    added
}

/// The id Milvus gave the dynamic field of a collection whose schema does not list it, as
/// milvus-backup guesses it (`GuessDynFieldID`, core/restore/funcs/funcs.go): Milvus numbers
/// the fields given at creation from 100 and `$meta` right after them, so the first gap in the
/// user fields' ids is `$meta`'s (fields added later come after it), else the highest id + 1.
pub fn guess_dynamic_field_id(fields: &[format::FieldSchema]) -> Option<i64> {
    /// Field ids below this are Milvus' own (row id 0, timestamp 1).
    const FIRST_USER_FIELD: i64 = 100;
    if let Some(meta) = fields.iter().find(|f| f.is_dynamic_field()) {
        return Some(meta.field_id);
    }
    let mut ids: Vec<i64> = fields
        .iter()
        .map(|f| f.field_id)
        .filter(|&id| id >= FIRST_USER_FIELD)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let gap = ids.windows(2).find(|w| w[1] != w[0] + 1).map(|w| w[0] + 1);
    gap.or_else(|| ids.last().map(|last| last + 1))
}

/// One field as Milvus' CreateCollection / AddCollectionField take it (nullable, default
/// values of either encoding milvus-backup wrote, function outputs).
pub fn field_to_proto(f: &format::FieldSchema) -> pb::FieldSchema {
    pb::FieldSchema {
        field_id: f.field_id,
        name: f.name.clone(),
        is_primary_key: f.is_primary_key,
        description: f.description.clone(),
        data_type: f.data_type,
        type_params: kv_to(&f.type_params),
        index_params: kv_to(&f.index_params),
        auto_id: f.auto_id,
        element_type: f.element_type,
        is_partition_key: f.is_partition_key,
        is_clustering_key: f.is_clustering_key,
        nullable: f.nullable,
        is_function_output: f.is_function_output,
        default_value: f
            .default_value_bytes()
            .ok()
            .flatten()
            .and_then(|b| pb::ValueField::decode(b.as_slice()).ok()),
        ..Default::default()
    }
}

/// The schema to create a collection named `name` with: the schema the backup had at creation.
/// The dynamic field (`$meta`) is left out: Milvus adds it itself when `enable_dynamic_field` is
/// set and refuses it when sent; so are fields added later ([`added_fields`]). Functions (BM25,
/// TextEmbedding) are passed as they were; the import plan has refused them for a Milvus that
/// lacks them.
pub fn schema_to_proto(s: &format::CollectionSchema, name: &str) -> pb::CollectionSchema {
    let added: Vec<i64> = added_fields(s).iter().map(|f| f.field_id).collect();
    pb::CollectionSchema {
        functions: s
            .functions
            .iter()
            .map(|f| pb::FunctionSchema {
                name: f.name.clone(),
                id: f.id,
                description: f.description.clone(),
                r#type: f.function_type,
                input_field_names: f.input_field_names.clone(),
                input_field_ids: f.input_field_ids.clone(),
                output_field_names: f.output_field_names.clone(),
                output_field_ids: f.output_field_ids.clone(),
                params: kv_to(&f.params),
            })
            .collect(),
        name: name.to_string(),
        description: s.description.clone(),
        auto_id: s.auto_id,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: kv_to(&s.properties),
        fields: s
            .fields
            .iter()
            .filter(|f| !f.is_dynamic_field() && !added.contains(&f.field_id))
            .map(field_to_proto)
            .collect(),
        ..Default::default()
    }
}

/// Field names whose ids differ between the backup and a created collection, as
/// `name: backup id -> new id`. Import reads binlog folders by field id, so they must match.
/// The dynamic field `$meta` is never compared: Milvus adds it itself (a v0.5.13+ backup lists
/// it, older ones and 2.3's DescribeCollection do not).
pub fn field_id_mismatches(
    backup: &format::CollectionSchema,
    created: &pb::CollectionSchema,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in backup
        .fields
        .iter()
        .filter(|f| !f.is_dynamic_field() && f.name != format::FieldSchema::DYNAMIC_FIELD)
    {
        match created.fields.iter().find(|c| c.name == f.name) {
            Some(c) if c.field_id == f.field_id => {}
            Some(c) => out.push(format!("{}: {} -> {}", f.name, f.field_id, c.field_id)),
            None => out.push(format!("{}: missing in the created collection", f.name)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_drops_the_dynamic_field() {
        let proto = pb::CollectionSchema {
            name: "src".into(),
            enable_dynamic_field: true,
            fields: vec![
                pb::FieldSchema {
                    field_id: 100,
                    name: "id".into(),
                    is_primary_key: true,
                    data_type: 5,
                    ..Default::default()
                },
                pb::FieldSchema {
                    field_id: 101,
                    name: "v".into(),
                    data_type: 101,
                    type_params: vec![common::KeyValuePair {
                        key: "dim".into(),
                        value: "4".into(),
                    }],
                    ..Default::default()
                },
                pb::FieldSchema {
                    field_id: 102,
                    name: "price".into(),
                    data_type: 10,
                    default_value: Some(pb::ValueField {
                        data: Some(pb::value_field::Data::FloatData(1.5)),
                    }),
                    ..Default::default()
                },
                pb::FieldSchema {
                    field_id: 103,
                    name: "$meta".into(),
                    data_type: 23,
                    is_dynamic: true,
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let f = schema_from_proto(&proto);
        assert_eq!(f.fields.len(), 4);
        assert!(!f.fields[2].default_value_base64.is_empty());
        let back = schema_to_proto(&f, "dst");
        assert_eq!(back.name, "dst");
        assert_eq!(back.fields.len(), 3, "$meta is added by Milvus, not sent");
        assert_eq!(back.fields[1].type_params[0].value, "4");
        assert_eq!(back.fields[2].default_value, proto.fields[2].default_value);
        assert!(field_id_mismatches(&f, &proto).is_empty());
        let mut shifted = proto.clone();
        shifted.fields[1].field_id = 107;
        assert_eq!(
            field_id_mismatches(&f, &shifted),
            vec!["v: 101 -> 107".to_string()]
        );
    }

    /// A v0.5.13+ backup lists `$meta`; a field added on 2.6 after creation has a higher id.
    fn with_added_field() -> format::CollectionSchema {
        let field = |id: i64, name: &str, dynamic: bool| format::FieldSchema {
            field_id: id,
            name: name.into(),
            data_type: if dynamic { 23 } else { 5 },
            is_primary_key: id == 100,
            is_dynamic: dynamic,
            nullable: id == 103,
            ..Default::default()
        };
        format::CollectionSchema {
            enable_dynamic_field: true,
            fields: vec![
                field(100, "id", false),
                field(101, "n", false),
                field(102, "$meta", true),
                field(103, "late", false),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn dynamic_field_is_never_compared_and_added_fields_come_after_creation() {
        let s = with_added_field();
        let added: Vec<&str> = added_fields(&s).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(added, ["late"]);
        let create = schema_to_proto(&s, "x");
        let names: Vec<&str> = create.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["id", "n"],
            "neither $meta nor the added field at creation"
        );
        // what Milvus 2.3 describes after creation: no $meta listed; later ones put it last
        let mut created = create.clone();
        assert!(field_id_mismatches(&without_late(&s), &created).is_empty());
        created.fields.push(pb::FieldSchema {
            field_id: 102,
            name: "$meta".into(),
            is_dynamic: true,
            ..Default::default()
        });
        created.fields.push(field_to_proto(&s.fields[3]));
        assert!(field_id_mismatches(&s, &created).is_empty());
        assert!(created.fields[3].nullable);
    }

    #[test]
    fn an_unlisted_dynamic_field_is_guessed_from_the_first_gap_as_milvus_backup_does() {
        // the backup as DescribeCollection gives it: no $meta, but 102 is missing
        let mut s = with_added_field();
        s.fields.retain(|f| !f.is_dynamic);
        assert_eq!(guess_dynamic_field_id(&s.fields), Some(102));
        let added: Vec<&str> = added_fields(&s).iter().map(|f| f.name.as_str()).collect();
        assert_eq!(added, ["late"], "found without $meta listed");
        let names: Vec<String> = schema_to_proto(&s, "x")
            .fields
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(names, ["id", "n"]);
        // no gap: nothing was added; $meta is the next id
        s.fields.retain(|f| f.name != "late");
        assert_eq!(guess_dynamic_field_id(&s.fields), Some(102));
        assert!(added_fields(&s).is_empty());
        // GuessDynFieldID's own example: [100, 101, 103, 104] -> 102; system fields ignored
        let ids = |ids: &[i64]| -> Vec<format::FieldSchema> {
            ids.iter()
                .map(|&field_id| format::FieldSchema {
                    field_id,
                    ..Default::default()
                })
                .collect()
        };
        assert_eq!(
            guess_dynamic_field_id(&ids(&[0, 1, 100, 101, 103, 104])),
            Some(102)
        );
        assert_eq!(guess_dynamic_field_id(&ids(&[])), None);
        // without a dynamic field there is nothing to guess
        let mut plain = with_added_field();
        plain.enable_dynamic_field = false;
        plain.fields.retain(|f| !f.is_dynamic);
        assert!(added_fields(&plain).is_empty());
    }

    fn without_late(s: &format::CollectionSchema) -> format::CollectionSchema {
        let mut s = s.clone();
        s.fields.retain(|f| f.name != "late");
        s
    }

    #[test]
    fn added_fields_are_refused_below_2_6() {
        let coll = format::CollectionBackupInfo {
            collection_name: "c".into(),
            schema: Some(with_added_field()),
            ..Default::default()
        };
        let info = format::BackupInfo::default();
        let f25 = crate::milvus::Features::milvus_2_5();
        let err = crate::engine::import_plan::plan(&info, &coll, &f25).unwrap_err();
        assert_eq!(
            err.to_string(),
            "default.c: fields added after the collection was created (late) need Milvus 2.6+; this is Milvus 2.5"
        );
        let f26 = crate::milvus::Features::milvus_2_6();
        assert!(crate::engine::import_plan::plan(&info, &coll, &f26).is_ok());
    }
}
