//! Routes beside the Leptos pages: live job progress as server-sent events, and the metadata
//! download. A progress stream asks again, while it stays open, whether its caller may still
//! follow it, and ends when not (token revoked, signed out, user removed, databases narrowed).

use std::{convert::Infallible, time::Duration};

use axum::{
    extract::Path,
    http::{header, HeaderMap, StatusCode},
    response::{
        sse::{Event, KeepAlive, Sse},
        IntoResponse, Response,
    },
};
use futures::{stream, Stream, StreamExt};

use crate::auth::{Credential, Gate};

use super::{
    auth::SESSION_COOKIE,
    backend::{job_view, JOB_LIST_LIMIT},
};

/// What the request authenticated with, read as the sign-in layer reads it (a bearer token first,
/// else the session cookie), for streams that check it again while they stay open.
pub(crate) fn credential_of(headers: &HeaderMap) -> Credential {
    if let Some(t) = super::auth::bearer(headers) {
        return Credential::Token(t.to_string());
    }
    super::auth::cookie(headers, SESSION_COOKIE)
        .map_or(Credential::None, |v| Credential::Session(v.to_string()))
}

fn event<T: serde::Serialize>(v: &T) -> Event {
    Event::default().data(serde_json::to_string(v).unwrap_or_else(|_| "null".into()))
}

/// `GET /events/jobs/{id}`: the job now, then every change until it ends, or until the caller
/// may no longer follow it.
pub async fn job_events(gate: Gate, headers: HeaderMap, Path(id): Path<String>) -> Response {
    let handle = match gate.watch(&id) {
        Ok(h) => h,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let Some(handle) = handle else {
        return match gate.job(&id) {
            Ok(Some(s)) => stored_job_events(gate, &headers, s).into_response(),
            Ok(None) => (StatusCode::NOT_FOUND, format!("no job {id}")).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        };
    };
    let refused = gate.clone().until_refused(credential_of(&headers), id);
    let first = handle.snapshot();
    let updates = stream::unfold(handle, |mut h| async move {
        // at most ~10 updates a second: a fast copy changes the job thousands of times
        tokio::time::sleep(Duration::from_millis(100)).await;
        h.changed().await.map(|s| (s, h))
    });
    let all = stream::once(async move { first })
        .chain(updates)
        .take_until(refused)
        .map(|s| Ok::<_, Infallible>(event(&job_view(&s))));
    Sse::new(all)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A job this server does not run: as stored, and while it runs (in another server sharing the
/// database, which saves its progress every few seconds), each stored change until it ends.
fn stored_job_events(
    gate: Gate,
    headers: &HeaderMap,
    first: crate::progress::JobSnapshot,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let refused = gate
        .clone()
        .until_refused(credential_of(headers), first.id.clone());
    let running = first.state == crate::progress::JobState::Running;
    let id = first.id.clone();
    let json = serde_json::to_string(&first).unwrap_or_default();
    let updates = stream::unfold(
        (gate, id, json, running),
        |(gate, id, last, running)| async move {
            if !running {
                return None;
            }
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let s = match gate.job(&id) {
                    Ok(Some(s)) => s,
                    _ => return None,
                };
                let json = serde_json::to_string(&s).unwrap_or_default();
                if json != last {
                    let still = s.state == crate::progress::JobState::Running;
                    return Some((s, (gate, id, json, still)));
                }
            }
        },
    );
    let all = stream::once(async move { first })
        .chain(updates)
        .take_until(refused)
        .map(|s| Ok::<_, Infallible>(event(&job_view(&s))));
    Sse::new(all).keep_alive(KeepAlive::default())
}

/// `GET /events/jobs`: the job list whenever it changes (checked twice a second, each time as
/// the caller's current role and databases allow); it ends once the caller's credential no
/// longer holds.
pub async fn job_list_events(
    gate: Gate,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let s = stream::unfold(
        (gate, credential_of(&headers), String::new(), true),
        |(gate, cred, last, first)| async move {
            loop {
                if !first {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                // the caller as the store knows it now: revoked, signed out or removed ends it
                let now = match gate.refreshed(&cred) {
                    Ok(Some(g)) => g,
                    Ok(None) => {
                        tracing::info!(user = %gate.who().user, "ending the job list stream: its credential no longer holds");
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(
                            "ending the job list stream: its caller cannot be checked: {e}"
                        );
                        return None;
                    }
                };
                let list = match now.jobs_page(0, JOB_LIST_LIMIT) {
                    Ok((l, _)) => l.iter().map(job_view).collect::<Vec<_>>(),
                    Err(e) => {
                        tracing::warn!("job list for the event stream: {e}");
                        Vec::new()
                    }
                };
                let json = serde_json::to_string(&list).unwrap_or_default();
                if json != last {
                    let ev = Event::default().data(json.clone());
                    return Some((Ok(ev), (gate, cred, json, false)));
                }
                if first {
                    // unreachable in practice: the first round always differs from ""
                    return None;
                }
            }
        },
    );
    Sse::new(s).keep_alive(KeepAlive::default())
}

/// `GET /download/backups/{name}/backup.json[?storage=NAME]`: the backup's whole metadata.
pub async fn download_meta(
    crate::server::rest::in_storage::InStorage(gate): crate::server::rest::in_storage::InStorage,
    Path(name): Path<String>,
) -> Response {
    match gate.get_backup(&name).await {
        Ok(info) => match serde_json::to_vec_pretty(&info) {
            Ok(body) => (
                [
                    (header::CONTENT_TYPE, "application/json".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}.json\""),
                    ),
                ],
                body,
            )
                .into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
        Err(crate::Error::BackupNotFound(n)) => (
            StatusCode::NOT_FOUND,
            format!("there is no backup named '{n}'"),
        )
            .into_response(),
        Err(e) => (super::rest::error::ApiError::from(e)).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_stream_keeps_the_credential_the_sign_in_layer_used() {
        // a bearer token wins over a cookie, as in the authentication middleware
        let both = headers(&[
            ("authorization", "Bearer mvt_abc"),
            ("cookie", "x=1; milvault_session=s3cr3t"),
        ]);
        assert_eq!(credential_of(&both), Credential::Token("mvt_abc".into()));
        let cookie = headers(&[("cookie", "x=1; milvault_session=s3cr3t")]);
        assert_eq!(credential_of(&cookie), Credential::Session("s3cr3t".into()));
        assert_eq!(credential_of(&HeaderMap::new()), Credential::None);
    }
}
