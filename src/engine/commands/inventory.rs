//! `inventory`: what Milvus holds now (databases, collections, rows, load state), for pickers.

use serde::Serialize;

use crate::{engine::service::Milvault, error::Result};

/// One collection in Milvus.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionOverview {
    pub db: String,
    pub name: String,
    /// Rows in its segments (deleted rows included; `count(*)` when loaded).
    pub rows: i64,
    /// `NotLoad`, `Loading` or `Loaded`.
    pub load_state: String,
}

/// Every collection of every database, sorted by database then name.
pub async fn inventory(svc: &Milvault) -> Result<Vec<CollectionOverview>> {
    let milvus = svc.milvus().await?;
    let mut out = Vec::new();
    let mut dbs = milvus.list_databases().await?;
    dbs.sort();
    for db in dbs {
        let mut names = milvus.list_collections(&db).await?;
        names.sort();
        for name in names {
            let load_state = milvus
                .load_state(&db, &name)
                .await
                .unwrap_or_else(|_| "Unknown".into());
            let rows = if load_state == "LoadStateLoaded" || load_state == "Loaded" {
                match milvus.count_rows(&db, &name).await {
                    Ok(n) => n,
                    Err(_) => milvus.stored_rows(&db, &name).await?,
                }
            } else {
                milvus.stored_rows(&db, &name).await?
            };
            out.push(CollectionOverview {
                db: db.clone(),
                name,
                rows,
                load_state: load_state.trim_start_matches("LoadState").to_string(),
            });
        }
    }
    Ok(out)
}

/// `inventory` as a method of the service.
impl Milvault {
    /// Every collection in Milvus with its rows and load state.
    pub async fn inventory(&self) -> Result<Vec<CollectionOverview>> {
        inventory(self).await
    }
}
