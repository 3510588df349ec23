//! One module per page.

pub mod account;
pub mod audit;
pub mod backup_detail;
pub mod backups;
pub mod cluster;
pub mod jobs;
pub mod new_backup;
pub mod policies;
pub mod restore;
pub mod users;
