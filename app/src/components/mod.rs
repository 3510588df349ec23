//! Pieces shared by the pages.

pub mod chart;
pub mod common;
pub mod live;
pub mod upload;
