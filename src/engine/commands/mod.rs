//! One module per user-facing operation.

pub mod archive;
pub mod check;
pub mod copy;
pub mod create;
pub mod delete;
pub mod drill;
pub mod get;
pub mod inventory;
pub mod list;
pub mod restore;
pub mod verify;
