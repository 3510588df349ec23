//! A typed view of a backup's `rbac_meta`: Milvus' own users, roles, grants and privilege
//! groups, in the JSON shape milvus-backup writes (its `RBACMeta` message, core/proto/backup.proto,
//! marshalled with the JSON tags of core/proto/backuppb/backup.pb.go: `users`, `roles`,
//! `grants`, `privilege_groups`; `user`, `password`, `name`, `object_name`, `db_name`,
//! `group_name`... every one `omitempty`). [`crate::format::BackupInfo::rbac_meta`] keeps the
//! JSON as it was read; this view is what the engine works with, and writes back the same shape.

use serde::{Deserialize, Serialize};

/// milvus-backup's `RBACMeta`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RbacMeta {
    /// Users with their roles. `password` is what Milvus' BackupRBAC answered (2.4.10+: the
    /// stored bcrypt hash); empty where the Milvus had no such call (milvault on 2.3).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserInfo>,
    /// Roles (Milvus leaves out its built-in `admin` and `public`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Named>,
    /// `(role, object, object name, database, privilege)`, with the user who granted it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<Grant>,
    /// Privilege groups (Milvus 2.5+).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub privilege_groups: Vec<PrivilegeGroup>,
}

/// milvus-backup's `UserInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserInfo {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// The password as Milvus' BackupRBAC gives it (its stored hash), or empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<Named>,
}

/// milvus-backup's `RoleEntity`, `ObjectEntity`, `UserEntity` and `PrivilegeEntity`: a name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Named {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
}

impl Named {
    /// An entity of this name.
    pub fn new(name: impl Into<String>) -> Named {
        Named { name: name.into() }
    }
}

/// milvus-backup's `GrantEntity`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grant {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Named>,
    /// `Global`, `Collection`, `User`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<Named>,
    /// A collection name, or `*`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grantor: Option<Grantor>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub db_name: String,
}

/// milvus-backup's `GrantorEntity`: who granted which privilege.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Grantor {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privilege: Option<Named>,
}

/// milvus-backup's `PrivilegeGroupInfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrivilegeGroup {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub group_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub privileges: Vec<Named>,
}

fn name_of(n: &Option<Named>) -> &str {
    n.as_ref().map_or("", |n| n.name.as_str())
}

impl Grant {
    /// The role it is granted to.
    pub fn role_name(&self) -> &str {
        name_of(&self.role)
    }

    /// The object type (`Global`, `Collection`...).
    pub fn object_type(&self) -> &str {
        name_of(&self.object)
    }

    /// The privilege (or privilege group) granted.
    pub fn privilege(&self) -> &str {
        self.grantor.as_ref().map_or("", |g| name_of(&g.privilege))
    }

    /// The user who granted it.
    pub fn grantor_user(&self) -> &str {
        self.grantor.as_ref().map_or("", |g| name_of(&g.user))
    }

    /// What the grant allows, without who granted it: `role/object/object_name/db/privilege`.
    /// Two grants with the same key give the same rights (milvus-backup's `backupGrantKey`,
    /// core/restore/conv/conv.go, also keys on the grantor; Milvus answers the grantor of the
    /// grant it keeps, so one granted again by another user is the same grant).
    pub fn key(&self) -> String {
        format!(
            "{}/{}/{}/{}/{}",
            self.role_name(),
            self.object_type(),
            self.object_name,
            crate::format::db_or_default(&self.db_name),
            self.privilege()
        )
    }

    /// `privilege on object object_name in db` for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} on {} {} in {}",
            self.privilege(),
            self.object_type(),
            self.object_name,
            crate::format::db_or_default(&self.db_name)
        )
    }
}

impl RbacMeta {
    /// Reads a backup's `rbac_meta` (`None` or `null`: nothing, as in a backup made without
    /// `--rbac`).
    pub fn from_value(v: Option<&serde_json::Value>) -> Result<RbacMeta, serde_json::Error> {
        match v {
            None | Some(serde_json::Value::Null) => Ok(RbacMeta::default()),
            Some(v) => serde_json::from_value(v.clone()),
        }
    }

    /// The JSON milvus-backup would write for it.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::json!({}))
    }

    /// Whether it holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
            && self.roles.is_empty()
            && self.grants.is_empty()
            && self.privilege_groups.is_empty()
    }

    /// `N users, N roles, N grants, N privilege groups`.
    pub fn summary(&self) -> String {
        format!(
            "{} users, {} roles, {} grants, {} privilege groups",
            self.users.len(),
            self.roles.len(),
            self.grants.len(),
            self.privilege_groups.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `rbac_meta` as milvus-backup v0.5.x writes it from a Milvus 2.5 (BackupRBAC), with
    /// encoding/json's omitempty: no empty strings or lists.
    const MILVUS_BACKUP_RBAC_META: &str = r#"{
        "users": [
            {"user": "ann", "password": "$2a$10$Cm7Vg3jv1Xh0wEnYAbrcYe0oZ0m8P5dTQqA0uGq9s4I8s8s8s8s8s",
             "roles": [{"name": "reader"}, {"name": "admin"}]},
            {"user": "bob", "password": "$2a$10$abcdefghijklmnopqrstuu0123456789012345678901234567890"}
        ],
        "roles": [{"name": "reader"}, {"name": "writer"}],
        "grants": [
            {"role": {"name": "reader"}, "object": {"name": "Collection"}, "object_name": "*",
             "grantor": {"user": {"name": "root"}, "privilege": {"name": "Search"}}, "db_name": "shop"},
            {"role": {"name": "writer"}, "object": {"name": "Global"}, "object_name": "*",
             "grantor": {"user": {"name": "root"}, "privilege": {"name": "CollectionReadWrite"}},
             "db_name": "*"}
        ],
        "privilege_groups": [
            {"group_name": "search_and_query", "privileges": [{"name": "Search"}, {"name": "Query"}]}
        ]
    }"#;

    #[test]
    fn milvus_backups_rbac_meta_reads_into_the_typed_view_and_back() {
        let v: serde_json::Value = serde_json::from_str(MILVUS_BACKUP_RBAC_META).unwrap();
        let m = RbacMeta::from_value(Some(&v)).unwrap();
        assert_eq!(m.users.len(), 2);
        assert_eq!(m.users[0].user, "ann");
        assert!(m.users[0].password.starts_with("$2a$10$"));
        assert_eq!(
            m.users[0].roles,
            vec![Named::new("reader"), Named::new("admin")]
        );
        assert!(m.users[1].roles.is_empty());
        assert_eq!(m.roles, vec![Named::new("reader"), Named::new("writer")]);
        assert_eq!(m.grants[0].role_name(), "reader");
        assert_eq!(m.grants[0].object_type(), "Collection");
        assert_eq!(m.grants[0].privilege(), "Search");
        assert_eq!(m.grants[0].grantor_user(), "root");
        assert_eq!(m.grants[0].key(), "reader/Collection/*/shop/Search");
        assert_eq!(m.grants[1].db_name, "*");
        assert_eq!(m.privilege_groups[0].group_name, "search_and_query");
        assert_eq!(m.privilege_groups[0].privileges.len(), 2);
        assert_eq!(
            m.summary(),
            "2 users, 2 roles, 2 grants, 1 privilege groups"
        );
        // written back field for field as Go's encoding/json wrote it
        assert_eq!(m.to_value(), v);
    }

    #[test]
    fn empty_fields_are_left_out_as_go_leaves_them_out() {
        let m = RbacMeta {
            users: vec![UserInfo {
                user: "val".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            m.to_value(),
            serde_json::json!({"users": [{"user": "val"}]})
        );
        assert_eq!(RbacMeta::default().to_value(), serde_json::json!({}));
    }

    #[test]
    fn no_rbac_meta_is_nothing_and_a_wrong_shape_is_an_error() {
        assert!(RbacMeta::from_value(None).unwrap().is_empty());
        assert!(RbacMeta::from_value(Some(&serde_json::Value::Null))
            .unwrap()
            .is_empty());
        assert!(RbacMeta::from_value(Some(&serde_json::json!({"users": "ann"}))).is_err());
        // unknown fields (a newer milvus-backup) are read past
        let m = RbacMeta::from_value(Some(
            &serde_json::json!({"roles": [{"name": "r", "x": 1}], "y": 2}),
        ))
        .unwrap();
        assert_eq!(m.roles, vec![Named::new("r")]);
    }
}
