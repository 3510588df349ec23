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
        ..Default::default()
    }
}

/// The schema to create a collection named `name` with. The dynamic field (`$meta`) is left out:
/// Milvus adds it itself when `enable_dynamic_field` is set and refuses it when sent.
pub fn schema_to_proto(s: &format::CollectionSchema, name: &str) -> pb::CollectionSchema {
    pb::CollectionSchema {
        name: name.to_string(),
        description: s.description.clone(),
        auto_id: s.auto_id,
        enable_dynamic_field: s.enable_dynamic_field,
        properties: kv_to(&s.properties),
        fields: s
            .fields
            .iter()
            .filter(|f| !f.is_dynamic)
            .map(|f| pb::FieldSchema {
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
                nullable: f.nullable,
                is_function_output: f.is_function_output,
                default_value: if f.default_value_base64.is_empty() {
                    None
                } else {
                    base64::engine::general_purpose::STANDARD
                        .decode(&f.default_value_base64)
                        .ok()
                        .and_then(|b| pb::ValueField::decode(b.as_slice()).ok())
                },
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Field names whose ids differ between the backup and a created collection, as
/// `name: backup id -> new id`. Import reads binlog folders by field id, so they must match.
pub fn field_id_mismatches(
    backup: &format::CollectionSchema,
    created: &pb::CollectionSchema,
) -> Vec<String> {
    let mut out = Vec::new();
    for f in &backup.fields {
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
}
