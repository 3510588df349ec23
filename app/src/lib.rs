//! milvault's web portal. The Leptos pages, components and server functions live here;
//! they call the engine (the `milvault` crate) through a service handle and never
//! re-implement backup or restore logic.

/// Name shown in the portal's title bar.
pub const PRODUCT_NAME: &str = "milvault";
