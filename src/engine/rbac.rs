//! Milvus' own users, roles and grants (RBAC) in a backup (`create --rbac`) and back
//! (`restore --rbac`): the one place for the rule.
//!
//! As milvus-backup does it:
//! - **Backup** (core/backup/rbac.go, `RBACTask.Execute`): what Milvus' BackupRBAC answers,
//!   copied field for field into `rbac_meta`: users with their roles and password (Milvus gives
//!   its stored bcrypt hash, never a clear password; `root` left out), roles (`admin` and `public`
//!   left out), every grant of those roles, privilege groups. milvus-backup has nothing for
//!   servers without BackupRBAC (Milvus < 2.4.10: its call fails); milvault reads the same from
//!   SelectUser, SelectRole and SelectGrant (one database at a time, as 2.3 answers), leaving out
//!   the same built-ins. Those calls give no password: such users are written without one.
//! - **Restore** (core/restore/task.go `restoreRBAC`, core/restore/conv/conv.go `Users`,
//!   `Roles`, `Grants`, `PrivilegeGroups`): what Milvus has is read first; users, roles and
//!   privilege groups that exist are left alone, only missing ones go into one RestoreRBAC call
//!   (2.4.10+; Milvus creates a user with the stored hash, so the password is the one it had).
//!
//! Where milvault is stricter: milvus-backup adds a backed-up grant to a role that exists when
//! Milvus lacks that grant; milvault never changes an existing role, so grants are restored only
//! for the roles this restore creates (the grants a kept role has in the backup are reported as
//! not added). On Milvus without RestoreRBAC (2.3, 2.4.0-2.4.9) roles and their grants are made
//! with CreateRole and OperatePrivilege; users cannot be: CreateCredential takes a clear
//! password, and neither the backup (a hash, or nothing) nor milvault has one. They are reported
//! as not restored, with their roles, for an admin to create.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    error::Result,
    format::rbac::{Grant, Named, PrivilegeGroup, RbacMeta, UserInfo},
    milvus::MilvusClient,
    progress::Progress,
};

/// The user Milvus always has (BackupRBAC leaves it out).
const BUILTIN_USERS: [&str; 1] = ["root"];
/// The roles Milvus always has (BackupRBAC leaves them out).
const BUILTIN_ROLES: [&str; 2] = ["admin", "public"];

/// What the target Milvus can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// RestoreRBAC (2.4.10+): users can be created with their stored password hash.
    pub one_call: bool,
    /// Privilege groups (2.5+).
    pub privilege_groups: bool,
    /// The version, for messages.
    pub version: (u32, u32, u32),
}

/// What a restore with `rbac` did, for the job's log and its report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RbacReport {
    /// Users, roles, grants and privilege groups created.
    pub created: Vec<String>,
    /// What existed in Milvus and was left as it was.
    pub left_alone: Vec<String>,
    /// What the backup holds and this Milvus could not take, and why.
    pub not_restored: Vec<String>,
}

/// What will be created, and what not and why: decided before anything is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RbacPlan {
    /// What goes to Milvus (all of it into RestoreRBAC, or roles and grants one by one).
    pub create: RbacMeta,
    pub left_alone: Vec<String>,
    pub not_restored: Vec<String>,
}

fn v(t: (u32, u32, u32)) -> String {
    format!("{}.{}.{}", t.0, t.1, t.2)
}

fn role_names(roles: &[Named]) -> String {
    roles
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

impl RbacPlan {
    /// Decides what of `backup` to create in a Milvus that has `current`: only what is missing
    /// (by name for users, roles and privilege groups; grants only for roles created here).
    pub fn make(backup: &RbacMeta, current: &RbacMeta, target: Target) -> RbacPlan {
        let mut plan = RbacPlan::default();
        let users: BTreeSet<&str> = current
            .users
            .iter()
            .map(|u| u.user.as_str())
            .chain(BUILTIN_USERS)
            .collect();
        let roles: BTreeSet<&str> = current
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .chain(BUILTIN_ROLES)
            .collect();
        let groups: BTreeSet<&str> = current
            .privilege_groups
            .iter()
            .map(|g| g.group_name.as_str())
            .collect();

        let mut seen = BTreeSet::new();
        for g in &backup.privilege_groups {
            if !seen.insert(g.group_name.as_str()) {
                continue;
            }
            if groups.contains(g.group_name.as_str()) {
                plan.left_alone
                    .push(format!("privilege group {} (exists)", g.group_name));
            } else if !target.privilege_groups {
                plan.not_restored.push(format!(
                    "privilege group {}: Milvus {} has no privilege groups (2.5+)",
                    g.group_name,
                    v(target.version)
                ));
            } else {
                plan.create.privilege_groups.push(g.clone());
            }
        }
        let group_ok: BTreeSet<&str> = groups
            .iter()
            .copied()
            .chain(
                plan.create
                    .privilege_groups
                    .iter()
                    .map(|g| g.group_name.as_str()),
            )
            .collect();
        let backup_groups: BTreeSet<&str> = backup
            .privilege_groups
            .iter()
            .map(|g| g.group_name.as_str())
            .collect();

        // grants of the backup by role, each once
        let mut grants: BTreeMap<&str, Vec<&Grant>> = BTreeMap::new();
        let mut keys = BTreeSet::new();
        for g in &backup.grants {
            if keys.insert(g.key()) {
                grants.entry(g.role_name()).or_default().push(g);
            }
        }
        let mut created_roles = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for r in &backup.roles {
            let name = r.name.as_str();
            if name.is_empty() || !seen.insert(name) {
                continue;
            }
            if roles.contains(name) {
                let n = grants.get(name).map_or(0, Vec::len);
                plan.left_alone.push(if n == 0 {
                    format!("role {name} (exists)")
                } else {
                    format!("role {name} (exists; its {n} grants in the backup were not added)")
                });
                continue;
            }
            created_roles.insert(name);
            plan.create.roles.push(Named::new(name));
            for g in grants.get(name).into_iter().flatten() {
                let p = g.privilege();
                let is_group = backup_groups.contains(p) || groups.contains(p);
                if is_group && !group_ok.contains(p) {
                    plan.not_restored.push(format!(
                        "grant {} to {name}: its privilege group is not in Milvus",
                        g.describe()
                    ));
                } else {
                    plan.create.grants.push((*g).clone());
                }
            }
        }
        for (role, gs) in &grants {
            if !roles.contains(role) && !created_roles.contains(role) {
                for g in gs {
                    plan.not_restored.push(format!(
                        "grant {} to {role}: the role is neither in the backup nor in Milvus",
                        g.describe()
                    ));
                }
            }
        }

        let mut seen = BTreeSet::new();
        for u in &backup.users {
            if u.user.is_empty() || !seen.insert(u.user.as_str()) {
                continue;
            }
            let wanted = role_names(&u.roles);
            if users.contains(u.user.as_str()) {
                plan.left_alone.push(if u.roles.is_empty() {
                    format!("user {} (exists)", u.user)
                } else {
                    format!(
                        "user {} (exists; its roles were not changed; in the backup: {wanted})",
                        u.user
                    )
                });
            } else if !target.one_call {
                plan.not_restored.push(format!(
                    "user {}: Milvus {} can create a user only from a clear password (RestoreRBAC, which takes the stored hash, is 2.4.10+); create it, then give it its roles{}",
                    u.user,
                    v(target.version),
                    if wanted.is_empty() { String::new() } else { format!(" ({wanted})") }
                ));
            } else if u.password.is_empty() {
                plan.not_restored.push(format!(
                    "user {}: the backup holds no password for it (made from a Milvus older than 2.4.10); create it, then give it its roles{}",
                    u.user,
                    if wanted.is_empty() { String::new() } else { format!(" ({wanted})") }
                ));
            } else {
                let (keep, lost): (Vec<Named>, Vec<Named>) =
                    u.roles.iter().cloned().partition(|r| {
                        roles.contains(r.name.as_str()) || created_roles.contains(r.name.as_str())
                    });
                if !lost.is_empty() {
                    plan.not_restored.push(format!(
                        "user {}'s roles {}: not in the backup nor in Milvus",
                        u.user,
                        role_names(&lost)
                    ));
                }
                plan.create.users.push(UserInfo {
                    user: u.user.clone(),
                    password: u.password.clone(),
                    roles: keep,
                });
            }
        }
        plan
    }

    /// One line per thing it creates.
    pub fn created(&self) -> Vec<String> {
        let c = &self.create;
        let groups = c
            .privilege_groups
            .iter()
            .map(|g: &PrivilegeGroup| format!("privilege group {}", g.group_name));
        let roles = c.roles.iter().map(|r| format!("role {}", r.name));
        let grants = c
            .grants
            .iter()
            .map(|g| format!("grant {} to {}", g.describe(), g.role_name()));
        let users = c.users.iter().map(|u| {
            if u.roles.is_empty() {
                format!("user {}", u.user)
            } else {
                format!("user {} with roles {}", u.user, role_names(&u.roles))
            }
        });
        groups.chain(roles).chain(grants).chain(users).collect()
    }
}

/// Milvus' users, roles, grants and privilege groups, as BackupRBAC answers them (or read with
/// the 2.3 calls when the server has no BackupRBAC).
pub async fn read(milvus: &MilvusClient) -> Result<RbacMeta> {
    if let Some(m) = milvus.backup_rbac().await? {
        return Ok(m);
    }
    let users = milvus
        .users_with_roles()
        .await?
        .into_iter()
        .filter(|(u, _)| !BUILTIN_USERS.contains(&u.as_str()))
        .map(|(user, roles)| UserInfo {
            user,
            password: String::new(),
            roles: roles
                .into_iter()
                .filter(|r| r != "public")
                .map(Named::new)
                .collect(),
        })
        .collect();
    let roles: Vec<String> = milvus
        .role_names()
        .await?
        .into_iter()
        .filter(|r| !BUILTIN_ROLES.contains(&r.as_str()))
        .collect();
    let mut dbs = milvus.list_databases().await?;
    dbs.push("*".into());
    let mut grants = Vec::new();
    let mut keys = BTreeSet::new();
    for role in &roles {
        for db in &dbs {
            for g in milvus.grants_of(role, db).await? {
                if keys.insert(g.key()) {
                    grants.push(g);
                }
            }
        }
    }
    Ok(RbacMeta {
        users,
        roles: roles.into_iter().map(Named::new).collect(),
        grants,
        privilege_groups: Vec::new(),
    })
}

/// Reads Milvus' RBAC for a backup's `rbac_meta`, and says in the job's log what it holds.
pub async fn backup(milvus: &MilvusClient, progress: &Progress) -> Result<RbacMeta> {
    progress.step("reading Milvus' users, roles and grants (rbac)");
    let meta = read(milvus).await?;
    let how = if milvus.features().rbac_calls {
        "BackupRBAC: users with their stored password hashes"
    } else {
        "this Milvus has no BackupRBAC (2.4.10+): users are kept without passwords"
    };
    tracing::info!(summary = %meta.summary(), "rbac read for the backup");
    progress.log(format!("rbac: {} ({how})", meta.summary()));
    Ok(meta)
}

/// Restores `backup`'s users, roles and grants into Milvus, creating only what is missing (see
/// the module's rule); every line of the report is also in the job's log.
pub async fn restore(
    milvus: &MilvusClient,
    backup_name: &str,
    backup: &RbacMeta,
    progress: &Progress,
) -> Result<RbacReport> {
    if backup.is_empty() {
        progress.log(format!(
            "rbac: backup '{backup_name}' holds no users, roles or grants (it was made without rbac): nothing to restore"
        ));
        return Ok(RbacReport::default());
    }
    progress.step(format!(
        "restoring Milvus' users, roles and grants (rbac: {})",
        backup.summary()
    ));
    let f = milvus.features();
    let target = Target {
        one_call: f.rbac_calls,
        privilege_groups: f.privilege_groups,
        version: f.version,
    };
    let current = read(milvus).await?;
    let plan = RbacPlan::make(backup, &current, target);
    let created = plan.created();
    if plan.create.is_empty() {
        progress.log("rbac: nothing is missing in Milvus; nothing created");
    } else if target.one_call {
        milvus.restore_rbac(&plan.create).await?;
    } else {
        let mut done = Vec::new();
        let r = create_one_by_one(milvus, &plan.create, &mut done).await;
        if let Err(e) = r {
            progress.log(format!(
                "rbac: stopped at a refusal ({e}); created before it: {}",
                if done.is_empty() {
                    "nothing".to_string()
                } else {
                    done.join("; ")
                }
            ));
            return Err(e);
        }
    }
    for c in &created {
        progress.log(format!("rbac: created {c}"));
    }
    for l in &plan.left_alone {
        progress.log(format!("rbac: left alone {l}"));
    }
    for n in &plan.not_restored {
        progress.log(format!("rbac: not restored {n}"));
    }
    tracing::info!(
        created = created.len(),
        left_alone = plan.left_alone.len(),
        not_restored = plan.not_restored.len(),
        "rbac restored"
    );
    Ok(RbacReport {
        created,
        left_alone: plan.left_alone,
        not_restored: plan.not_restored,
    })
}

/// Roles, then their grants, for a Milvus without RestoreRBAC (users are never in `create`
/// there); `done` says what was made before a refusal.
async fn create_one_by_one(
    milvus: &MilvusClient,
    create: &RbacMeta,
    done: &mut Vec<String>,
) -> Result<()> {
    for r in &create.roles {
        milvus.create_role(&r.name).await?;
        done.push(format!("role {}", r.name));
    }
    for g in &create.grants {
        milvus.grant(g).await?;
        done.push(format!("grant {} to {}", g.describe(), g.role_name()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::rbac::Grantor;

    fn grant(role: &str, db: &str, privilege: &str) -> Grant {
        Grant {
            role: Some(Named::new(role)),
            object: Some(Named::new("Collection")),
            object_name: "*".into(),
            grantor: Some(Grantor {
                user: Some(Named::new("root")),
                privilege: Some(Named::new(privilege)),
            }),
            db_name: db.into(),
        }
    }

    fn user(name: &str, password: &str, roles: &[&str]) -> UserInfo {
        UserInfo {
            user: name.into(),
            password: password.into(),
            roles: roles.iter().map(|r| Named::new(*r)).collect(),
        }
    }

    fn backup() -> RbacMeta {
        RbacMeta {
            users: vec![
                user("ann", "$2a$hash", &["reader"]),
                user("kept", "$2a$other", &["reader"]),
            ],
            roles: vec![Named::new("reader"), Named::new("existing")],
            grants: vec![
                grant("reader", "shop", "Search"),
                grant("reader", "shop", "Query"),
                grant("existing", "shop", "Insert"),
            ],
            privilege_groups: vec![],
        }
    }

    fn current() -> RbacMeta {
        RbacMeta {
            users: vec![user("kept", "", &[])],
            roles: vec![Named::new("existing")],
            grants: vec![grant("existing", "shop", "Delete")],
            ..Default::default()
        }
    }

    const V2_5: Target = Target {
        one_call: true,
        privilege_groups: true,
        version: (2, 5, 4),
    };
    const V2_3: Target = Target {
        one_call: false,
        privilege_groups: false,
        version: (2, 3, 5),
    };

    #[test]
    fn only_what_is_missing_is_created_and_existing_ones_are_left_alone() {
        let p = RbacPlan::make(&backup(), &current(), V2_5);
        assert_eq!(p.create.roles, vec![Named::new("reader")]);
        assert_eq!(
            p.create.grants,
            vec![
                grant("reader", "shop", "Search"),
                grant("reader", "shop", "Query")
            ]
        );
        // the existing role gets none of the backup's grants; the existing user keeps its roles
        assert_eq!(p.create.users, vec![user("ann", "$2a$hash", &["reader"])]);
        assert_eq!(
            p.left_alone,
            vec![
                "role existing (exists; its 1 grants in the backup were not added)",
                "user kept (exists; its roles were not changed; in the backup: reader)"
            ]
        );
        assert!(p.not_restored.is_empty(), "{:?}", p.not_restored);
        assert_eq!(
            p.created(),
            vec![
                "role reader",
                "grant Search on Collection * in shop to reader",
                "grant Query on Collection * in shop to reader",
                "user ann with roles reader"
            ]
        );
    }

    #[test]
    fn without_restore_rbac_users_are_not_created_and_say_why() {
        let p = RbacPlan::make(&backup(), &current(), V2_3);
        assert_eq!(p.create.roles, vec![Named::new("reader")]);
        assert_eq!(p.create.grants.len(), 2);
        assert!(p.create.users.is_empty());
        assert_eq!(p.not_restored.len(), 1);
        assert!(
            p.not_restored[0]
                .starts_with("user ann: Milvus 2.3.5 can create a user only from a clear password"),
            "{:?}",
            p.not_restored
        );
        assert!(p.not_restored[0].ends_with("(reader)"));
        // a backup made from 2.3 (no passwords) into a 2.5
        let mut b = backup();
        b.users[0].password.clear();
        let p = RbacPlan::make(&b, &current(), V2_5);
        assert!(p.create.users.is_empty());
        assert!(p.not_restored[0].contains("holds no password"));
    }

    #[test]
    fn built_ins_exist_and_nothing_is_created_twice() {
        let mut b = backup();
        b.roles.push(Named::new("admin"));
        b.roles.push(Named::new("reader"));
        b.users.push(user("root", "$2a$root", &[]));
        b.grants.push(grant("reader", "shop", "Search"));
        let p = RbacPlan::make(&b, &current(), V2_5);
        assert_eq!(p.create.roles, vec![Named::new("reader")]);
        assert_eq!(p.create.grants.len(), 2);
        assert!(p.left_alone.iter().any(|l| l == "role admin (exists)"));
        assert!(p.left_alone.iter().any(|l| l == "user root (exists)"));
        // everything there already: nothing to create
        let all = RbacMeta {
            users: vec![user("ann", "", &[]), user("kept", "", &[])],
            roles: vec![Named::new("reader"), Named::new("existing")],
            ..Default::default()
        };
        assert!(RbacPlan::make(&backup(), &all, V2_5).create.is_empty());
    }

    #[test]
    fn privilege_groups_need_a_milvus_that_has_them() {
        let mut b = backup();
        b.privilege_groups = vec![PrivilegeGroup {
            group_name: "rw".into(),
            privileges: vec![Named::new("Query")],
        }];
        b.grants.push(grant("reader", "shop", "rw"));
        let p = RbacPlan::make(&b, &current(), V2_5);
        assert_eq!(p.create.privilege_groups.len(), 1);
        assert_eq!(p.create.grants.len(), 3);
        let p = RbacPlan::make(&b, &current(), V2_3);
        assert!(p.create.privilege_groups.is_empty());
        assert_eq!(p.create.grants.len(), 2);
        assert!(p
            .not_restored
            .iter()
            .any(|n| n.starts_with("privilege group rw: Milvus 2.3.5 has no privilege groups")));
        assert!(p
            .not_restored
            .iter()
            .any(|n| n.starts_with("grant rw on Collection * in shop to reader")));
    }

    #[test]
    fn a_grant_of_a_role_nowhere_is_reported() {
        let mut b = backup();
        b.grants.push(grant("ghost", "shop", "Search"));
        let p = RbacPlan::make(&b, &current(), V2_5);
        assert!(p
            .not_restored
            .iter()
            .any(|n| n.contains("to ghost: the role is neither in the backup nor in Milvus")));
    }
}
