//! The rules of accounts: user names, password strength and hashing, who is the last admin,
//! sign-in back-off, sessions, API tokens and the one-time set-up link. The rows live in
//! [`crate::db::users`]. Session ids, tokens and set-up links are random 256-bit secrets stored only as
//! SHA-256 hashes; passwords as argon2id hashes.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{
    access::{Principal, Role},
    password,
};
pub use crate::db::users::TokenInfo;
use crate::{
    db::{
        users::{from_ms, now_ms, UserRow},
        Db,
    },
    error::{Error, Result},
};

/// Where a user's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserOrigin {
    /// Here, against its argon2id hash.
    Local,
    /// By Milvus (`serve --milvus-sign-in`); role and databases come from its Milvus roles at
    /// each sign-in.
    Milvus,
}

impl UserOrigin {
    /// `local` or `milvus`.
    pub fn as_str(self) -> &'static str {
        match self {
            UserOrigin::Local => "local",
            UserOrigin::Milvus => "milvus",
        }
    }

    fn parse(s: &str) -> UserOrigin {
        if s == "milvus" {
            UserOrigin::Milvus
        } else {
            UserOrigin::Local
        }
    }
}

/// How long a browser session lasts.
pub const SESSION_HOURS: i64 = 12;
/// Failed sign-ins allowed from one address before its back-off starts.
pub const FREE_FAILURES: i64 = 5;
/// Failed sign-ins allowed for one user name, from all addresses together, before that name's
/// back-off starts: much higher than [`FREE_FAILURES`], so that whoever guesses from one address
/// slows down there without locking the user out everywhere else.
pub const FREE_USER_FAILURES: i64 = 100;
/// The longest back-off.
pub const MAX_BACKOFF_SECS: i64 = 900;

/// A user as listed (no hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: Role,
    pub databases: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Where its password is checked.
    pub origin: UserOrigin,
}

/// A random secret, URL-safe base64 of 32 bytes.
fn secret() -> String {
    use base64::Engine;
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn valid_user_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(format!(
            "invalid user name '{name}': use 1 to 64 letters, digits, '_', '-', '.' or '@'"
        )))
    }
}

/// The back-off counters a sign-in of `name` from `source` counts against, each with the
/// failures it allows before backing off: the address, and the user name (only a name that
/// could be a user's: a 1 MB name gets no row of its own).
fn failure_keys(name: &str, source: &str) -> Vec<(String, i64)> {
    let mut keys = vec![(format!("addr:{source}"), FREE_FAILURES)];
    if valid_user_name(name).is_ok() {
        keys.push((format!("user:{name}"), FREE_USER_FAILURES));
    }
    keys
}

fn check_scope(role: Role, databases: &[String]) -> Result<()> {
    if role == Role::Member && databases.is_empty() {
        return Err(Error::InvalidRequest(
            "a member needs at least one database (--databases team_a,team_b)".into(),
        ));
    }
    if databases.iter().any(|d| d.trim().is_empty()) {
        return Err(Error::InvalidRequest("empty database name".into()));
    }
    Ok(())
}

/// A stored row as the user it describes, with its password hash (empty for Milvus users).
fn into_user(row: UserRow) -> Result<(UserInfo, String)> {
    Ok((
        UserInfo {
            name: row.name,
            role: Role::parse(&row.role)?,
            databases: serde_json::from_str(&row.databases).unwrap_or_default(),
            created_at: from_ms(row.created_ms),
            origin: UserOrigin::parse(&row.origin),
        },
        row.hash,
    ))
}

fn databases_json(databases: &[String]) -> String {
    serde_json::to_string(databases).unwrap_or_else(|_| "[]".into())
}

impl Db {
    /// Adds a user.
    pub fn add_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
        databases: &[String],
    ) -> Result<()> {
        valid_user_name(name)?;
        password::check_new(name, password)?;
        check_scope(role, databases)?;
        let hash = password::hash(password)?;
        if !self.insert_user(name, &hash, role.as_str(), &databases_json(databases))? {
            return Err(Error::UserExists(name.into()));
        }
        Ok(())
    }

    /// Changes a user's role and databases.
    pub fn set_user_role(&self, name: &str, role: Role, databases: &[String]) -> Result<()> {
        check_scope(role, databases)?;
        if !self.update_user_role(name, role.as_str(), &databases_json(databases))? {
            return Err(Error::UserNotFound(name.into()));
        }
        Ok(())
    }

    /// Sets a user's password and ends the user's sessions.
    pub fn set_password(&self, name: &str, password: &str) -> Result<()> {
        if self
            .user(name)?
            .is_some_and(|u| u.origin == UserOrigin::Milvus)
        {
            return Err(Error::InvalidRequest(format!(
                "{name} signs in with its Milvus password; change it in Milvus"
            )));
        }
        password::check_new(name, password)?;
        let hash = password::hash(password)?;
        if !self.update_password(name, &hash)? {
            return Err(Error::UserNotFound(name.into()));
        }
        Ok(())
    }

    /// Removes a user with its sessions and tokens. The last admin cannot be removed.
    pub fn remove_user(&self, name: &str) -> Result<()> {
        let user = self
            .user(name)?
            .ok_or_else(|| Error::UserNotFound(name.into()))?;
        if user.role == Role::Admin && self.count_role(Role::Admin.as_str())? <= 1 {
            return Err(Error::InvalidRequest(
                "this is the last admin; make another user admin first".into(),
            ));
        }
        self.delete_user(name)
    }

    /// One user.
    pub fn user(&self, name: &str) -> Result<Option<UserInfo>> {
        Ok(self.user_and_hash(name)?.map(|(u, _)| u))
    }

    fn user_and_hash(&self, name: &str) -> Result<Option<(UserInfo, String)>> {
        self.user_row(name)?.map(into_user).transpose()
    }

    /// All users, by name.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        self.user_rows()?
            .into_iter()
            .map(|r| into_user(r).map(|(u, _)| u))
            .collect()
    }

    /// Records a user whose password Milvus checked, with the role and databases its Milvus roles
    /// give it now (refreshed at each sign-in). A local user of that name is left alone.
    pub fn upsert_milvus_user(&self, name: &str, role: Role, databases: &[String]) -> Result<()> {
        valid_user_name(name)?;
        if !self.upsert_milvus_user_row(name, role.as_str(), &databases_json(databases))? {
            return Err(Error::UserExists(name.into()));
        }
        Ok(())
    }

    /// Refuses a sign-in for `name` from `source` while either is backing off after failures.
    pub fn sign_in_allowed(&self, name: &str, source: &str) -> Result<()> {
        for (k, free) in failure_keys(name, source) {
            if let Some(wait) = self.backoff(&k, free)? {
                return Err(Error::TooManyAttempts {
                    retry_after_secs: wait,
                });
            }
        }
        Ok(())
    }

    /// Counts a failed sign-in against the user name and the address.
    pub fn sign_in_failed(&self, name: &str, source: &str) -> Result<()> {
        let keys: Vec<String> = failure_keys(name, source)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        self.add_failure(&keys)
    }

    /// Forgets the failures of the user name and the address after a good sign-in.
    pub fn sign_in_succeeded(&self, name: &str, source: &str) -> Result<()> {
        let keys: Vec<String> = failure_keys(name, source)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        self.clear_failures(&keys)
    }

    /// Checks a password, with back-off after [`FREE_FAILURES`] failures from the client address
    /// or [`FREE_USER_FAILURES`] for the user name: 1 s, 2 s, 4 s ... up to [`MAX_BACKOFF_SECS`].
    pub fn check_password(&self, name: &str, password: &str, source: &str) -> Result<Principal> {
        self.sign_in_allowed(name, source)?;
        let row = self.user_and_hash(name)?;
        let hash = row
            .as_ref()
            .map(|(_, h)| h.as_str())
            .unwrap_or(password::dummy_hash());
        let ok = password::verify(password, hash);
        match row {
            Some((u, _)) if ok && u.origin == UserOrigin::Local => {
                self.sign_in_succeeded(name, source)?;
                Ok(Principal {
                    user: u.name,
                    role: u.role,
                    databases: u.databases,
                    via: "session".into(),
                })
            }
            _ => {
                self.sign_in_failed(name, source)?;
                Err(Error::Unauthenticated("wrong user name or password".into()))
            }
        }
    }

    /// Seconds to wait before `key`, which allows `free` failures, may try again, if it must.
    fn backoff(&self, key: &str, free: i64) -> Result<Option<u64>> {
        let Some((failures, last)) = self.failures(key)? else {
            return Ok(None);
        };
        if failures < free {
            return Ok(None);
        }
        let exp = u32::try_from((failures - free).min(20)).unwrap_or(20);
        let secs = 2i64.saturating_pow(exp).min(MAX_BACKOFF_SECS);
        let until = last + secs * 1000;
        let now = now_ms();
        Ok((until > now).then(|| u64::try_from((until - now + 999) / 1000).unwrap_or(1)))
    }

    /// Starts a session for a signed-in user; returns the cookie value.
    pub fn create_session(&self, user: &str) -> Result<String> {
        let id = secret();
        self.insert_session(&sha256_hex(&id), user, now_ms() + SESSION_HOURS * 3_600_000)?;
        Ok(id)
    }

    /// The user of a live session.
    pub fn session_principal(&self, cookie: &str) -> Result<Option<Principal>> {
        let user = self.session_user(&sha256_hex(cookie))?;
        self.principal_of(user, "session")
    }

    fn principal_of(&self, user: Option<String>, via: &str) -> Result<Option<Principal>> {
        let Some(user) = user else { return Ok(None) };
        Ok(self.user(&user)?.map(|u| Principal {
            user: u.name,
            role: u.role,
            databases: u.databases,
            via: via.into(),
        }))
    }

    /// Ends a session.
    pub fn end_session(&self, cookie: &str) -> Result<()> {
        self.delete_session(&sha256_hex(cookie))
    }

    /// Creates an API token for `user`; returns it (shown once: only its hash is kept).
    pub fn create_token(&self, user: &str, name: &str) -> Result<(String, TokenInfo)> {
        if self.user(user)?.is_none() {
            return Err(Error::UserNotFound(user.into()));
        }
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::InvalidRequest(
                "give the token a name of 1 to 100 characters (what uses it)".into(),
            ));
        }
        let id = secret()[..12].to_string();
        let plain = format!("mvt_{id}_{}", secret());
        let now = self.insert_token(&id, name, user, &sha256_hex(&plain))?;
        Ok((
            plain,
            TokenInfo {
                id,
                name: name.into(),
                user: user.into(),
                created_at: from_ms(now),
                last_used_at: None,
                revoked_at: None,
            },
        ))
    }

    /// The user of a valid (not revoked) token; records its use.
    pub fn token_principal(&self, plain: &str) -> Result<Option<Principal>> {
        let Some(id) = plain.strip_prefix("mvt_").and_then(|rest| rest.get(..12)) else {
            return Ok(None);
        };
        let Some((user, hash, name)) = self.live_token(id)? else {
            return Ok(None);
        };
        if !constant_time_eq(hash.as_bytes(), sha256_hex(plain).as_bytes()) {
            return Ok(None);
        }
        self.touch_token(id)?;
        self.principal_of(Some(user), &format!("token:{name}"))
    }

    /// Revokes a token; `owner` limits it to that user's tokens. Returns the token.
    pub fn revoke_token(&self, id: &str, owner: Option<&str>) -> Result<TokenInfo> {
        let token = self
            .tokens(owner)?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| Error::InvalidRequest(format!("there is no token '{id}' of yours")))?;
        self.mark_token_revoked(id)?;
        Ok(token)
    }

    /// A one-time link secret to set the first admin's password (only while there are no users).
    pub fn create_setup_secret(&self) -> Result<String> {
        let s = secret();
        self.insert_setup_link(&sha256_hex(&s))?;
        Ok(s)
    }

    /// Whether `secret` is a set-up link that can still be used.
    pub fn setup_secret_valid(&self, secret: &str) -> Result<bool> {
        if self.user_count()? > 0 {
            return Ok(false);
        }
        self.setup_link_exists(&sha256_hex(secret))
    }

    /// Uses a set-up link: creates the admin `user` and forgets every link.
    pub fn complete_setup(&self, secret: &str, user: &str, password: &str) -> Result<()> {
        if !self.setup_secret_valid(secret)? {
            return Err(Error::Unauthenticated(
                "this set-up link is used or unknown; restart the server for a new one, or add an admin with `milvault user add`".into(),
            ));
        }
        self.add_user(user, password, Role::Admin, &[])?;
        self.delete_setup_links()
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_sign_in_and_sessions_end() {
        let s = Db::in_memory().unwrap();
        s.add_user(
            "ann",
            "ann's long password",
            Role::Member,
            &["team_a".into()],
        )
        .unwrap();
        assert!(matches!(
            s.add_user("ann", "another long one", Role::Viewer, &[]),
            Err(Error::UserExists(_))
        ));
        assert!(s
            .add_user("bob", "long enough pw", Role::Member, &[])
            .is_err());
        let p = s
            .check_password("ann", "ann's long password", "1.2.3.4")
            .unwrap();
        assert_eq!(
            (p.role, p.databases.clone()),
            (Role::Member, vec!["team_a".to_string()])
        );
        let cookie = s.create_session("ann").unwrap();
        assert_eq!(s.session_principal(&cookie).unwrap().unwrap().user, "ann");
        assert!(s.session_principal("forged").unwrap().is_none());
        s.end_session(&cookie).unwrap();
        assert!(s.session_principal(&cookie).unwrap().is_none());
        // a new password ends every session
        let c2 = s.create_session("ann").unwrap();
        s.set_password("ann", "a newer long password").unwrap();
        assert!(s.session_principal(&c2).unwrap().is_none());
    }

    #[test]
    fn repeated_failures_back_off_per_user_and_address() {
        let s = Db::in_memory().unwrap();
        s.add_user("ann", "ann's long password", Role::Admin, &[])
            .unwrap();
        for _ in 0..FREE_FAILURES {
            assert!(matches!(
                s.check_password("ann", "wrong", "9.9.9.9"),
                Err(Error::Unauthenticated(_))
            ));
        }
        // even the right password waits now
        assert!(matches!(
            s.check_password("ann", "ann's long password", "9.9.9.9"),
            Err(Error::TooManyAttempts { .. })
        ));
        // unknown users count too, per address
        assert!(matches!(
            s.check_password("nobody", "x", "9.9.9.9"),
            Err(Error::TooManyAttempts { .. })
        ));
        // but the user is not locked out from other addresses
        assert!(s
            .check_password("ann", "ann's long password", "1.1.1.1")
            .is_ok());
        // a name no user can have gets no counter of its own
        let huge = "x".repeat(100_000);
        assert!(s.check_password(&huge, "x", "2.2.2.2").is_err());
        let longest: i64 = s
            .lock()
            .unwrap()
            .query_row(
                "SELECT MAX(length(key)) FROM login_failures",
                crate::db::sql::params![],
                |r| r.get(0),
            )
            .unwrap();
        assert!(longest < 100, "{longest}");
    }

    #[test]
    fn a_user_backs_off_everywhere_only_after_many_failures() {
        let s = Db::in_memory().unwrap();
        s.add_user("ann", "ann's long password", Role::Admin, &[])
            .unwrap();
        for i in 0..FREE_USER_FAILURES {
            // each from another address, so that no address backs off
            s.sign_in_failed("ann", &format!("10.0.{}.{}", i / 250, i % 250))
                .unwrap();
        }
        assert!(matches!(
            s.check_password("ann", "ann's long password", "1.1.1.1"),
            Err(Error::TooManyAttempts { .. })
        ));
    }

    #[test]
    fn tokens_are_shown_once_stored_hashed_and_revocable() {
        let s = Db::in_memory().unwrap();
        s.add_user("ci", "ci's long password", Role::Operator, &[])
            .unwrap();
        let (plain, info) = s.create_token("ci", "nightly script").unwrap();
        assert!(plain.starts_with("mvt_"));
        let stored: String = s
            .lock()
            .unwrap()
            .query_row("SELECT hash FROM tokens", crate::db::sql::params![], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(!stored.contains(&plain[4..]), "only the hash is stored");
        let p = s.token_principal(&plain).unwrap().unwrap();
        assert_eq!(
            (p.user.as_str(), p.via.as_str()),
            ("ci", "token:nightly script")
        );
        assert!(s.token_principal(&format!("{plain}x")).unwrap().is_none());
        assert!(s.tokens(Some("ci")).unwrap()[0].last_used_at.is_some());
        assert!(s.revoke_token(&info.id, Some("someone else")).is_err());
        s.revoke_token(&info.id, Some("ci")).unwrap();
        assert!(s.token_principal(&plain).unwrap().is_none());
    }

    #[test]
    fn the_setup_link_works_once_and_only_without_users() {
        let s = Db::in_memory().unwrap();
        let link = s.create_setup_secret().unwrap();
        assert!(s.setup_secret_valid(&link).unwrap());
        assert!(s
            .complete_setup("wrong", "root", "root's long password")
            .is_err());
        s.complete_setup(&link, "root", "root's long password")
            .unwrap();
        assert_eq!(s.user("root").unwrap().unwrap().role, Role::Admin);
        assert!(!s.setup_secret_valid(&link).unwrap());
        assert!(s.remove_user("root").is_err(), "the last admin stays");
    }

    #[test]
    fn milvus_users_are_recorded_refreshed_and_never_signed_in_locally() {
        let s = Db::in_memory().unwrap();
        s.upsert_milvus_user("mia", Role::Member, &["team_a".into()])
            .unwrap();
        s.upsert_milvus_user("mia", Role::Viewer, &[]).unwrap();
        let mia = s.user("mia").unwrap().unwrap();
        assert_eq!((mia.role, mia.origin), (Role::Viewer, UserOrigin::Milvus));
        assert!(mia.databases.is_empty(), "refreshed at each sign-in");
        // no local password works for a Milvus user, not even an empty one
        for pw in ["", "anything long enough"] {
            assert!(matches!(
                s.check_password("mia", pw, "1.1.1.1"),
                Err(Error::Unauthenticated(_))
            ));
        }
        assert!(s.set_password("mia", "a local password").is_err());
        // a local user of that name is never taken over
        s.add_user("lou", "lou's long password", Role::Admin, &[])
            .unwrap();
        assert!(matches!(
            s.upsert_milvus_user("lou", Role::Viewer, &[]),
            Err(Error::UserExists(_))
        ));
        let users = s.users().unwrap();
        let origins: Vec<(&str, UserOrigin, Role)> = users
            .iter()
            .map(|u| (u.name.as_str(), u.origin, u.role))
            .collect();
        assert_eq!(
            origins,
            [
                ("lou", UserOrigin::Local, Role::Admin),
                ("mia", UserOrigin::Milvus, Role::Viewer)
            ]
        );
    }

    #[test]
    fn users_of_an_older_database_are_local() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.sqlite");
        {
            let old = rusqlite::Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE users (name TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL,
                   databases TEXT NOT NULL DEFAULT '[]', created_ms INTEGER NOT NULL);
                 INSERT INTO users VALUES ('old', 'x', 'viewer', '[]', 0);",
            )
            .unwrap();
        }
        let s = Db::open(&path).unwrap();
        let old = s.user("old").unwrap().unwrap();
        assert_eq!((old.role, old.origin), (Role::Viewer, UserOrigin::Local));
    }
}
