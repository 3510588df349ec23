//! Checking a sign-in: a local user's argon2id password, or, when `serve --milvus-sign-in` is
//! on, the user name and password of one of Milvus' own users (Milvus RBAC), checked by Milvus.
//!
//! A Milvus user's milvault role follows its Milvus roles, read with milvault's own Milvus
//! credentials at each sign-in: `root` or the `admin` role → admin; roles with privileges in
//! every database (`*`) → operator; roles with privileges in some databases → member of those
//! databases; nothing but `public` → viewer. A local user of the same name always wins.

use crate::{
    config::Secret,
    db::Db,
    error::{Error, Result},
    jobs::registry::JobRegistry,
    milvus::client::MilvusClient,
};

use super::{
    access::{Principal, Role},
    accounts::UserOrigin,
};

/// Where sign-ins are checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInOptions {
    /// Also accept Milvus' own users.
    pub milvus_users: bool,
}

/// Whether Milvus, not the local hash, checks `name`'s password: Milvus users are on and no
/// local user has that name.
pub fn checked_by_milvus(store: &Db, opts: SignInOptions, name: &str) -> Result<bool> {
    Ok(opts.milvus_users
        && store
            .user(name)?
            .is_none_or(|u| u.origin == UserOrigin::Milvus))
}

/// Checks `name`'s password and returns who signed in (with the same back-off after failures
/// for both kinds of users). A wrong password is [`Error::Unauthenticated`].
pub async fn sign_in(
    reg: &JobRegistry,
    opts: SignInOptions,
    name: &str,
    password: &str,
    source: &str,
) -> Result<Principal> {
    let store = reg.store();
    if !checked_by_milvus(store, opts, name)? {
        return store.check_password(name, password, source);
    }
    store.sign_in_allowed(name, source)?;
    match milvus_access(reg, name, password).await {
        Ok((role, databases)) => {
            store.upsert_milvus_user(name, role, &databases)?;
            store.sign_in_succeeded(name, source)?;
            Ok(Principal {
                user: name.into(),
                role,
                databases,
                via: "session".into(),
            })
        }
        Err(Error::MilvusCredentials { .. }) => {
            store.sign_in_failed(name, source)?;
            Err(Error::Unauthenticated("wrong user name or password".into()))
        }
        Err(e) => Err(e),
    }
}

/// Has Milvus check the password, then reads the user's roles and their grants.
async fn milvus_access(
    reg: &JobRegistry,
    name: &str,
    password: &str,
) -> Result<(Role, Vec<String>)> {
    let svc = reg.service();
    let cfg = &svc.config().milvus;
    let t = &svc.config().tuning;
    let connect_as = |user: &str, password: &str| {
        let mut c = cfg.clone();
        c.user = user.into();
        c.password = Secret::new(password);
        async move { MilvusClient::connect(&c, t.connect_timeout, t.rpc_timeout).await }
    };
    // a Milvus without authorization accepts any password: never let that sign anyone in
    let decoy = format!("milvault-decoy-{}", uuid::Uuid::new_v4().simple());
    match connect_as(&decoy, &decoy).await {
        Err(Error::MilvusCredentials { .. }) => {}
        Err(e) => return Err(e),
        Ok(_) => {
            return Err(Error::Config(format!(
                "Milvus at {} does not check passwords (common.security.authorizationEnabled is \
                 off), so it cannot be used to sign in; turn authorization on in Milvus or drop \
                 --milvus-sign-in",
                cfg.endpoint()
            )))
        }
    }
    // Milvus checks the credentials on every call, the connection's first one included
    connect_as(name, password).await?;
    let milvus = svc.milvus().await?;
    let roles = milvus.user_roles(name).await?;
    let databases = milvus.list_databases().await?;
    let mut grants = Vec::new();
    for role in roles.iter().filter(|r| r.as_str() != "public") {
        grants.push((
            role.clone(),
            milvus.role_grant_databases(role, &databases).await?,
        ));
    }
    Ok(role_from_milvus(name, &grants))
}

/// The milvault role and databases of Milvus user `name` holding `roles` (each with the
/// databases its grants name; `public` left out).
pub fn role_from_milvus(name: &str, roles: &[(String, Vec<String>)]) -> (Role, Vec<String>) {
    if name == "root" || roles.iter().any(|(r, _)| r == "admin") {
        return (Role::Admin, Vec::new());
    }
    let mut dbs: Vec<String> = roles.iter().flat_map(|(_, d)| d.iter().cloned()).collect();
    if dbs.iter().any(|d| d == "*") {
        return (Role::Operator, Vec::new());
    }
    dbs.sort();
    dbs.dedup();
    if dbs.is_empty() {
        (Role::Viewer, Vec::new())
    } else {
        (Role::Member, dbs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
        r.iter()
            .map(|(n, d)| (n.to_string(), d.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn milvus_roles_map_to_milvault_roles() {
        assert_eq!(role_from_milvus("root", &[]), (Role::Admin, vec![]));
        assert_eq!(
            role_from_milvus("ann", &roles(&[("admin", &[])])),
            (Role::Admin, vec![])
        );
        assert_eq!(
            role_from_milvus("ann", &roles(&[("ops", &["*"]), ("a", &["team_a"])])),
            (Role::Operator, vec![])
        );
        assert_eq!(
            role_from_milvus(
                "ann",
                &roles(&[("a", &["team_b", "team_a"]), ("b", &["team_a"])])
            ),
            (
                Role::Member,
                vec!["team_a".to_string(), "team_b".to_string()]
            )
        );
        assert_eq!(
            role_from_milvus("ann", &roles(&[("empty", &[])])),
            (Role::Viewer, vec![])
        );
        assert_eq!(role_from_milvus("ann", &[]), (Role::Viewer, vec![]));
    }
}
