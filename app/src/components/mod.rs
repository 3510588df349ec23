//! Pieces shared by the pages.

/// Drawn on the server only: the page receives the chart as SVG markup.
#[cfg(feature = "ssr")]
pub mod chart;
pub mod common;
pub mod live;
pub mod upload;
