//! Milvus' own users, roles and grants (RBAC), in the backup format's terms
//! ([`crate::format::rbac`]). Milvus 2.4.10+ answers them in one call (BackupRBAC, as
//! milvus-backup's internal/client/milvus/grpc.go `BackupRBAC` asks) and takes them in one
//! (RestoreRBAC); older servers are read with SelectUser, SelectRole and SelectGrant and
//! written with CreateRole, OperatePrivilege and OperateUserRole (see `engine::rbac`).

use milvus::proto::milvus as pb;

use crate::{
    error::{Error, Result},
    format::rbac::{Grant, Grantor, Named, PrivilegeGroup, RbacMeta, UserInfo},
    milvus::client::{check, MilvusClient},
};

fn role(name: &str) -> pb::RoleEntity {
    pb::RoleEntity {
        name: name.into(),
        ..Default::default()
    }
}

fn named(n: Option<String>) -> Option<Named> {
    n.map(Named::new)
}

fn grant_from_pb(g: pb::GrantEntity) -> Grant {
    Grant {
        role: named(g.role.map(|r| r.name)),
        object: named(g.object.map(|o| o.name)),
        object_name: g.object_name,
        grantor: g.grantor.map(|gr| Grantor {
            user: named(gr.user.map(|u| u.name)),
            privilege: named(gr.privilege.map(|p| p.name)),
        }),
        db_name: g.db_name,
    }
}

fn grant_to_pb(g: &Grant) -> pb::GrantEntity {
    pb::GrantEntity {
        role: Some(role(g.role_name())),
        object: Some(pb::ObjectEntity {
            name: g.object_type().into(),
        }),
        object_name: g.object_name.clone(),
        grantor: Some(pb::GrantorEntity {
            user: g
                .grantor
                .as_ref()
                .and_then(|gr| gr.user.as_ref())
                .map(|u| pb::UserEntity {
                    name: u.name.clone(),
                }),
            privilege: Some(pb::PrivilegeEntity {
                name: g.privilege().into(),
            }),
        }),
        db_name: g.db_name.clone(),
    }
}

/// Milvus' `RBACMeta` as the backup format's: field for field, as milvus-backup's
/// core/backup/rbac.go (`RBACTask.users`, `roles`, `grants`, `privilegeGroups`) copies it.
pub fn meta_from_pb(m: pb::RbacMeta) -> RbacMeta {
    RbacMeta {
        users: m
            .users
            .into_iter()
            .map(|u| UserInfo {
                user: u.user,
                password: u.password,
                roles: u.roles.into_iter().map(|r| Named::new(r.name)).collect(),
            })
            .collect(),
        roles: m.roles.into_iter().map(|r| Named::new(r.name)).collect(),
        grants: m.grants.into_iter().map(grant_from_pb).collect(),
        privilege_groups: m
            .privilege_groups
            .into_iter()
            .map(|g| PrivilegeGroup {
                group_name: g.group_name,
                privileges: g
                    .privileges
                    .into_iter()
                    .map(|p| Named::new(p.name))
                    .collect(),
            })
            .collect(),
    }
}

/// The backup format's `RBACMeta` as Milvus' (milvus-backup's core/restore/conv/conv.go
/// `Users`, `Roles`, `Grants`, `PrivilegeGroups` build the same).
pub fn meta_to_pb(m: &RbacMeta) -> pb::RbacMeta {
    pb::RbacMeta {
        users: m
            .users
            .iter()
            .map(|u| pb::UserInfo {
                user: u.user.clone(),
                password: u.password.clone(),
                roles: u.roles.iter().map(|r| role(&r.name)).collect(),
            })
            .collect(),
        roles: m.roles.iter().map(|r| role(&r.name)).collect(),
        grants: m.grants.iter().map(grant_to_pb).collect(),
        privilege_groups: m
            .privilege_groups
            .iter()
            .map(|g| pb::PrivilegeGroupInfo {
                group_name: g.group_name.clone(),
                privileges: g
                    .privileges
                    .iter()
                    .map(|p| pb::PrivilegeEntity {
                        name: p.name.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Whether Milvus answered that it has no such call.
fn unimplemented(e: &Error) -> bool {
    e.is_unimplemented()
}

impl MilvusClient {
    /// Users (with their stored password hashes and roles, `root` left out), roles (`admin` and
    /// `public` left out), their grants and privilege groups, from BackupRBAC (2.4.10+). `None`
    /// when the server does not have the call.
    pub async fn backup_rbac(&self) -> Result<Option<RbacMeta>> {
        if !self.features().rbac_calls {
            return Ok(None);
        }
        let r = self
            .call(
                "BackupRBAC",
                Self::req("", pb::BackupRbacMetaRequest::default()),
                |mut c, m| async move { c.backup_rbac(m).await },
            )
            .await;
        match r {
            Ok(r) => Ok(Some(meta_from_pb(
                check("BackupRBAC", r)?.rbac_meta.unwrap_or_default(),
            ))),
            Err(e) if unimplemented(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates what `meta` holds in one call (RestoreRBAC, 2.4.10+). Milvus refuses the whole
    /// call when any user or role in it exists, and takes back what it created.
    pub async fn restore_rbac(&self, meta: &RbacMeta) -> Result<()> {
        let msg = pb::RestoreRbacMetaRequest {
            rbac_meta: Some(meta_to_pb(meta)),
            ..Default::default()
        };
        let r = self
            .call("RestoreRBAC", Self::req("", msg), |mut c, m| async move {
                c.restore_rbac(m).await
            })
            .await?;
        check("RestoreRBAC", r).map(|_| ())
    }

    /// Every user with the names of its roles (SelectUser without a user).
    pub async fn users_with_roles(&self) -> Result<Vec<(String, Vec<String>)>> {
        self.select_users(None).await
    }

    /// SelectUser with role info: one user (`Some`) or every user, each with its roles' names.
    pub(crate) async fn select_users(
        &self,
        user: Option<&str>,
    ) -> Result<Vec<(String, Vec<String>)>> {
        let msg = pb::SelectUserRequest {
            user: user.map(|name| pb::UserEntity { name: name.into() }),
            include_role_info: true,
            ..Default::default()
        };
        let r = self
            .call("SelectUser", Self::req("", msg), |mut c, m| async move {
                c.select_user(m).await
            })
            .await?;
        Ok(check("SelectUser", r)?
            .results
            .into_iter()
            .map(|u| {
                (
                    u.user.map(|u| u.name).unwrap_or_default(),
                    u.roles.into_iter().map(|r| r.name).collect(),
                )
            })
            .filter(|(name, _)| !name.is_empty())
            .collect())
    }

    /// Every role's name (SelectRole without a role).
    pub async fn role_names(&self) -> Result<Vec<String>> {
        let r = self
            .call(
                "SelectRole",
                Self::req("", pb::SelectRoleRequest::default()),
                |mut c, m| async move { c.select_role(m).await },
            )
            .await?;
        Ok(check("SelectRole", r)?
            .results
            .into_iter()
            .filter_map(|r| r.role.map(|r| r.name))
            .collect())
    }

    /// The grants of `role` in database `db` (Milvus 2.3 answers one database at a time).
    pub async fn grants_of(&self, role: &str, db: &str) -> Result<Vec<Grant>> {
        let msg = pb::SelectGrantRequest {
            entity: Some(pb::GrantEntity {
                role: Some(self::role(role)),
                db_name: db.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = self
            .call("SelectGrant", Self::req("", msg), |mut c, m| async move {
                c.select_grant(m).await
            })
            .await?;
        Ok(check("SelectGrant", r)?
            .entities
            .into_iter()
            .map(grant_from_pb)
            .collect())
    }

    /// Creates role `name`.
    pub async fn create_role(&self, name: &str) -> Result<()> {
        let msg = pb::CreateRoleRequest {
            entity: Some(role(name)),
            ..Default::default()
        };
        let r = self
            .call("CreateRole", Self::req("", msg), |mut c, m| async move {
                c.create_role(m).await
            })
            .await?;
        check("CreateRole", r).map(|_| ())
    }

    /// Grants what `g` says to its role (OperatePrivilege; milvault's Milvus user is the grantor).
    pub async fn grant(&self, g: &Grant) -> Result<()> {
        let mut entity = grant_to_pb(g);
        if let Some(gr) = entity.grantor.as_mut() {
            gr.user = None;
        }
        let msg = pb::OperatePrivilegeRequest {
            entity: Some(entity),
            r#type: pb::OperatePrivilegeType::Grant as i32,
            ..Default::default()
        };
        let r = self
            .call(
                "OperatePrivilege",
                Self::req("", msg),
                |mut c, m| async move { c.operate_privilege(m).await },
            )
            .await?;
        check("OperatePrivilege", r).map(|_| ())
    }

    /// Gives user `user` role `role`.
    pub async fn add_user_to_role(&self, user: &str, role: &str) -> Result<()> {
        let msg = pb::OperateUserRoleRequest {
            username: user.into(),
            role_name: role.into(),
            r#type: pb::OperateUserRoleType::AddUserToRole as i32,
            ..Default::default()
        };
        let r = self
            .call(
                "OperateUserRole",
                Self::req("", msg),
                |mut c, m| async move { c.operate_user_role(m).await },
            )
            .await?;
        check("OperateUserRole", r).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milvus_rbac_meta_goes_to_the_backup_format_and_back() {
        let m = RbacMeta {
            users: vec![UserInfo {
                user: "ann".into(),
                password: "$2a$10$hash".into(),
                roles: vec![Named::new("reader")],
            }],
            roles: vec![Named::new("reader")],
            grants: vec![Grant {
                role: Some(Named::new("reader")),
                object: Some(Named::new("Collection")),
                object_name: "*".into(),
                grantor: Some(Grantor {
                    user: Some(Named::new("root")),
                    privilege: Some(Named::new("Search")),
                }),
                db_name: "shop".into(),
            }],
            privilege_groups: vec![PrivilegeGroup {
                group_name: "g".into(),
                privileges: vec![Named::new("Query")],
            }],
        };
        assert_eq!(meta_from_pb(meta_to_pb(&m)), m);
    }
}
