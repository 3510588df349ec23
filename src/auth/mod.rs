//! Who is asking and what they may do: local users with argon2id passwords, browser sessions,
//! API tokens, roles scoped to databases ([`access`]), the audit log ([`audit`]) and the one
//! gate every front end goes through ([`gate`]).

pub mod access;
pub mod accounts;
pub mod audit;
pub mod gate;
pub mod password;
pub mod sign_in;

#[cfg(test)]
mod archive_tests;

pub use access::{authorize, Action, Caller, Credential, Principal, Role};
pub use gate::Gate;
