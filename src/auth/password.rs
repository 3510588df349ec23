//! Password hashing with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes).

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};

use crate::error::{Error, Result};

/// The shortest password accepted.
pub const MIN_LEN: usize = 10;

/// Checks a new password's strength: long enough, not just the user's name.
pub fn check_new(user: &str, password: &str) -> Result<()> {
    if password.chars().count() < MIN_LEN {
        return Err(Error::InvalidRequest(format!(
            "the password must have at least {MIN_LEN} characters"
        )));
    }
    if password.eq_ignore_ascii_case(user) {
        return Err(Error::InvalidRequest(
            "the password must not be the user's name".into(),
        ));
    }
    Ok(())
}

/// An argon2id PHC string (`$argon2id$v=19$...`) of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let salt = SaltString::encode_b64(&bytes)
        .map_err(|e| Error::Config(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Config(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the PHC string `phc` (in constant time).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash to verify against when the user does not exist, so that a wrong name takes as long
/// as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("not a password of anyone").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse battery").unwrap();
        let b = hash("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("x", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(check_new("alice", "short").is_err());
        assert!(check_new("alicealice", "AliceAlice").is_err());
        assert!(check_new("alice", "long enough pass").is_ok());
    }
}
