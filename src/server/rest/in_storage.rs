//! `?storage=NAME` on the backup routes of `/api/v2`: the [`InStorage`] extractor gives the
//! handler a [`Gate`] working on that storage's backups (a name under `storages:` in the
//! configuration; absent or `default`: the configured backup storage).

use std::sync::Arc;

use axum::{extract::FromRequestParts, http::request::Parts};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;
use crate::{auth::Gate, jobs::registry::JobRegistry};

/// The storage a backup route works on.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct StorageParam {
    /// The storage holding the backups: a name under `storages:` in the configuration;
    /// absent or `default`: the configured backup storage.
    pub storage: String,
}

/// The caller's [`Gate`] on the storage `?storage=` names. The parameter is taken out of the
/// query, so the handler's own query type (which refuses unknown parameters) does not see it:
/// put this extractor before `Query`.
pub struct InStorage(pub Gate);

impl FromRequestParts<Arc<JobRegistry>> for InStorage {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        reg: &Arc<JobRegistry>,
    ) -> Result<Self, Self::Rejection> {
        let gate = Gate::from_request_parts(parts, reg).await?;
        let Some(query) = parts.uri.query() else {
            return Ok(InStorage(gate));
        };
        let (mut storage, mut rest) = (String::new(), Vec::new());
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "storage" => storage = v.into_owned(),
                _ => rest.push((k.into_owned(), v.into_owned())),
            }
        }
        let rest = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(rest)
            .finish();
        let path = parts.uri.path();
        let pq = match rest.is_empty() {
            true => path.to_string(),
            false => format!("{path}?{rest}"),
        };
        let mut uri = parts.uri.clone().into_parts();
        uri.path_and_query = pq.parse().ok();
        if let Ok(u) = axum::http::Uri::from_parts(uri) {
            parts.uri = u;
        }
        Ok(InStorage(gate.in_storage(&storage)?))
    }
}
