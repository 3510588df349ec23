//! Pausing Milvus' garbage collector while a backup copies binlogs (Milvus 2.4+), the way
//! milvus-backup v0.5.16 does it (`core/backup/gc_controller.go`, `clusterGCCtrl`, and
//! `internal/client/milvus/manage.go`), through Milvus' management HTTP API (port 9091):
//!
//! - pause: `GET <address>/management/datacoord/garbage_collection/pause?collection_id=0&pause_seconds=<N>`
//!   when the backup starts, and the same request again every `N/2` seconds while it runs, so
//!   the pause is a lease: if milvault dies, Milvus resumes collecting by itself after `N` s;
//! - resume: `GET <address>/management/datacoord/garbage_collection/resume` when the backup
//!   ends, whether it succeeded or failed (and, best effort, when it is cancelled).
//!
//! Pausing is never fatal, as in milvus-backup: a Milvus without the API (2.3 answers 404) or one
//! that cannot be reached gets one line in the job's log and the backup goes on.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::task::JoinHandle;

use crate::{config::GcPauseConfig, progress::Progress};

/// The pause endpoint (Milvus DataCoord's management API).
pub const PAUSE_PATH: &str = "/management/datacoord/garbage_collection/pause";
/// The resume endpoint.
pub const RESUME_PATH: &str = "/management/datacoord/garbage_collection/resume";

/// Time limit of one management call (milvus-backup renews with a 30 s limit).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// At most this much of an answer is read.
const MAX_ANSWER: u64 = 64 * 1024;

/// Why a management call did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GcCallError {
    /// The address is not `http://host[:port]`.
    #[error("backup.gcPause.address '{0}' is not an http://host:port (or https://) address")]
    BadAddress(String),
    /// Nothing answered, or the connection broke.
    #[error("{address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// An answer that is not a 2xx (404: this Milvus has no such API, e.g. 2.3).
    #[error("{address} answered HTTP {status}: {body}")]
    Status {
        address: String,
        status: u16,
        body: String,
    },
}

/// What a pause covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcScope {
    /// The whole cluster (`collection_id=0`): Milvus 2.4 to 2.6.7.
    Cluster,
    /// These collections, each with its own ticket: Milvus 2.6.8+ (milvus-backup's
    /// `collGCCtrl`, chosen by `CollectionLevelGCControl` = `>= 2.6.8-0` in
    /// `internal/client/milvus/grpc.go`), whose resume without a ticket fails.
    Collections(Vec<i64>),
}

impl GcScope {
    /// The scope for a Milvus at `version` backing up `collections` (ids).
    pub fn for_version(version: (u32, u32, u32), collections: &[i64]) -> GcScope {
        if version >= (2, 6, 8) {
            GcScope::Collections(collections.to_vec())
        } else {
            GcScope::Cluster
        }
    }
}

/// A running GC pause: renewed in the background until [`GcPause::resume`] (or drop).
pub struct GcPause {
    /// `None` when GC is not paused (disabled, or Milvus refused).
    active: Option<Active>,
}

/// The tickets of collection pauses, by collection id (renewals replace them).
type Tickets = Arc<Mutex<BTreeMap<i64, String>>>;

struct Active {
    address: String,
    /// `None` for a cluster-wide pause.
    tickets: Option<Tickets>,
    renewal: JoinHandle<()>,
}

impl Active {
    /// The resume requests this pause needs: one per ticket, or the cluster-wide one.
    fn resumes(&self) -> Vec<String> {
        match &self.tickets {
            None => vec![RESUME_PATH.to_string()],
            Some(t) => lock(t)
                .values()
                .map(|ticket| format!("{RESUME_PATH}?ticket={}", encode(ticket)))
                .collect(),
        }
    }
}

impl GcPause {
    /// Pauses Milvus' GC for `cfg.seconds` over `scope` and starts renewing the pause every
    /// `seconds / 2`. Never fails: when pausing is disabled or does not work, says so once in
    /// `progress` and returns a pause that does nothing.
    pub async fn start(cfg: &GcPauseConfig, scope: &GcScope, progress: &Progress) -> GcPause {
        if !cfg.enable {
            tracing::debug!("GC pause disabled (backup.gcPause.enable: false)");
            return GcPause { active: None };
        }
        let seconds = cfg.seconds.max(1);
        let address = cfg.address.trim_end_matches('/').to_string();
        let first = match scope {
            GcScope::Cluster => pause(&address, seconds, 0).await.map(|_| None),
            GcScope::Collections(ids) => pause_each(&address, seconds, ids).await.map(Some),
        };
        let tickets = match first {
            Ok(tickets) => {
                let what = match &tickets {
                    None => "garbage collection".to_string(),
                    Some(t) => format!(
                        "garbage collection of {} collections ({} tickets)",
                        match scope {
                            GcScope::Collections(ids) => ids.len(),
                            GcScope::Cluster => 0,
                        },
                        t.len()
                    ),
                };
                tracing::info!(%address, seconds, "paused Milvus GC");
                progress.log(format!(
                    "paused Milvus' {what} for {seconds} s through {address} (renewed every {} s while the backup runs)",
                    (seconds / 2).max(1)
                ));
                tickets.map(|t| Arc::new(Mutex::new(t)))
            }
            Err(e) => {
                let why = match &e {
                    GcCallError::Status { status: 404, .. } => {
                        "this Milvus has no GC pause API (it came with 2.4)".to_string()
                    }
                    other => other.to_string(),
                };
                tracing::warn!(error = %e, "GC pause not available; the backup goes on");
                if scope == &GcScope::Cluster
                    && !matches!(e, GcCallError::Status { status: 404, .. })
                {
                    // the pause may have taken effect although its answer was lost or an error
                    // (as milvus-backup does: resume after a failed pause); harmless otherwise
                    if let Err(e) = get(&address, RESUME_PATH).await {
                        tracing::debug!(error = %e, "resume after a failed GC pause");
                    }
                }
                progress.log(format!(
                    "GC pause not available ({why}); the backup goes on without it (Milvus' GC rarely touches the segments being copied)"
                ));
                return GcPause { active: None };
            }
        };
        let renewal = tokio::spawn(renew(
            address.clone(),
            seconds,
            tickets.clone(),
            progress.clone(),
        ));
        GcPause {
            active: Some(Active {
                address,
                tickets,
                renewal,
            }),
        }
    }

    /// Whether GC is paused (the first pause was accepted).
    pub fn is_active(&self) -> bool {
        self.active.is_some()
    }

    /// Stops renewing and resumes Milvus' GC. Problems are logged, never returned.
    pub async fn resume(mut self, progress: &Progress) {
        let Some(active) = self.active.take() else {
            return;
        };
        active.renewal.abort();
        let mut failed = Vec::new();
        for request in active.resumes() {
            if let Err(e) = get(&active.address, &request).await {
                failed.push(e.to_string());
            }
        }
        if failed.is_empty() {
            tracing::info!(address = %active.address, "resumed Milvus GC");
            progress.log("resumed Milvus' garbage collection");
        } else {
            let e = failed.join("; ");
            tracing::warn!(error = %e, "could not resume Milvus GC; it resumes by itself when the pause expires");
            progress.log(format!(
                "could not resume Milvus' garbage collection ({e}); it resumes by itself when the pause expires"
            ));
        }
    }
}

impl Drop for GcPause {
    /// A pause dropped without [`GcPause::resume`] (the backup's task was cancelled): stop
    /// renewing and resume in the background if a runtime is still there.
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            active.renewal.abort();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    for request in active.resumes() {
                        if let Err(e) = get(&active.address, &request).await {
                            tracing::warn!(error = %e, "could not resume Milvus GC after a cancelled backup");
                        }
                    }
                });
            }
        }
    }
}

async fn renew(address: String, seconds: u64, tickets: Option<Tickets>, progress: Progress) {
    let period = Duration::from_millis(seconds * 500).max(Duration::from_secs(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let renewed = match &tickets {
            None => pause(&address, seconds, 0).await.map(|_| ()),
            Some(tickets) => {
                let ids: Vec<i64> = lock(tickets).keys().copied().collect();
                pause_each(&address, seconds, &ids)
                    .await
                    .map(|fresh| lock(tickets).extend(fresh))
            }
        };
        match renewed {
            Ok(()) => tracing::debug!(%address, seconds, "renewed the GC pause"),
            Err(e) => {
                tracing::warn!(error = %e, "renewing the GC pause failed");
                progress.log(format!("renewing the GC pause failed: {e}"));
            }
        }
    }
}

/// One pause request, as milvus-backup sends it (Go's `url.Values` sorts the keys):
/// `collection_id` 0 pauses the whole cluster. The answer's body.
async fn pause(address: &str, seconds: u64, collection: i64) -> Result<String, GcCallError> {
    get(
        address,
        &format!("{PAUSE_PATH}?collection_id={collection}&pause_seconds={seconds}"),
    )
    .await
}

/// Pauses each collection; their tickets (`{"msg":"OK","ticket":"..."}`) by collection id. A
/// collection whose answer has no ticket is not recorded (milvus-backup: "no ticket returned";
/// its pause then just expires).
async fn pause_each(
    address: &str,
    seconds: u64,
    collections: &[i64],
) -> Result<BTreeMap<i64, String>, GcCallError> {
    let mut tickets = BTreeMap::new();
    for &id in collections {
        let body = pause(address, seconds, id).await?;
        match ticket_of(&body) {
            Some(t) => {
                tickets.insert(id, t);
            }
            None => tracing::info!(collection = id, answer = %body, "GC pause: no ticket returned"),
        }
    }
    Ok(tickets)
}

/// The `ticket` of a pause answer.
fn ticket_of(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        ticket: String,
    }
    serde_json::from_str::<Answer>(body)
        .ok()
        .map(|a| a.ticket)
        .filter(|t| !t.is_empty())
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `GET <address><path_and_query>` with reqwest; the body of a 2xx answer (at most 64 KiB are
/// kept). Also the image's health check (`milvault health`).
pub(crate) async fn get(address: &str, path_and_query: &str) -> Result<String, GcCallError> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let bad = || GcCallError::BadAddress(address.to_string());
    let url = url::Url::parse(address).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad());
    }
    let url = url.join(path_and_query).map_err(|_| bad())?;
    let client = CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .user_agent(concat!("milvault/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    });
    let unreachable = |e: reqwest::Error| GcCallError::Unreachable {
        address: address.to_string(),
        reason: if e.is_timeout() {
            format!("no answer within {CALL_TIMEOUT:?}")
        } else {
            // the innermost cause says what happened (connection refused, ...)
            let mut source: &dyn std::error::Error = &e;
            while let Some(inner) = source.source() {
                source = inner;
            }
            source.to_string()
        },
    };
    let answer = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(unreachable)?;
    let status = answer.status().as_u16();
    let mut body = Vec::new();
    let mut stream = answer.bytes_stream();
    while let Some(chunk) = futures::StreamExt::next(&mut stream).await {
        let chunk = chunk.map_err(unreachable)?;
        let room = (MAX_ANSWER as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room <= chunk.len() {
            break;
        }
    }
    let body = String::from_utf8_lossy(&body).trim().to_string();
    if !(200..300).contains(&status) {
        let mut body = body;
        body.truncate(200);
        return Err(GcCallError::Status {
            address: address.to_string(),
            status,
            body,
        });
    }
    Ok(body)
}

/// A tiny HTTP listener on 127.0.0.1 that records the request lines it gets and answers each
/// with `status` (tests only).
#[cfg(test)]
pub(crate) mod recorder {
    use std::sync::{Arc, Mutex};

    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    /// The recorded request lines (`GET /path?query HTTP/1.1`), in arrival order.
    pub type Requests = Arc<Mutex<Vec<String>>>;

    /// Starts the listener; returns its `http://127.0.0.1:PORT` address and the record.
    pub async fn start(status: u16) -> (String, Requests) {
        let body = if status == 200 {
            r#"{"msg":"OK"}"#
        } else {
            "404 page not found"
        };
        start_with(move |_| (status, body.to_string())).await
    }

    /// A listener answering as Milvus 2.6.8+'s management API does (`GcControl`): a pause of a
    /// collection answers a fresh ticket, a resume without a ticket HTTP 500.
    pub async fn start_2_6_8() -> (String, Requests) {
        let issued = Arc::new(Mutex::new(0u32));
        start_with(move |line| {
            if line.contains("/garbage_collection/pause?collection_id=") {
                let mut n = issued.lock().expect("lock");
                *n += 1;
                let id = line
                    .split("collection_id=")
                    .nth(1)
                    .and_then(|t| t.split('&').next())
                    .unwrap_or_default();
                (200, format!(r#"{{"msg":"OK","ticket":"t{id}-{n}"}}"#))
            } else if line.contains("/garbage_collection/resume?ticket=") {
                (200, r#"{"msg":"OK"}"#.to_string())
            } else {
                (
                    500,
                    "strconv.ParseInt: parsing \"\": invalid syntax".to_string(),
                )
            }
        })
        .await
    }

    /// A listener answering each request line with `answer(line)`: status and body.
    pub async fn start_with(
        answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> (String, Requests) {
        let answer = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Requests = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let record = record.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 1024];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).to_string();
                    let line = text.lines().next().unwrap_or_default().to_string();
                    let (status, body) = answer(&line);
                    record.lock().expect("lock").push(line);
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                });
            }
        });
        (addr, seen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::JobKind;

    fn cfg(address: &str, seconds: u64) -> GcPauseConfig {
        GcPauseConfig {
            enable: true,
            seconds,
            address: address.to_string(),
        }
    }

    const PAUSE_2: &str =
        "GET /management/datacoord/garbage_collection/pause?collection_id=0&pause_seconds=2 HTTP/1.1";
    const RESUME: &str = "GET /management/datacoord/garbage_collection/resume HTTP/1.1";

    #[tokio::test]
    async fn pauses_renews_every_half_period_and_resumes() {
        let (addr, seen) = recorder::start(200).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &GcScope::Cluster, &progress).await;
        assert!(gc.is_active());
        // renewals at 1 s and 2 s
        tokio::time::sleep(Duration::from_millis(2400)).await;
        gc.resume(&progress).await;
        tokio::time::sleep(Duration::from_millis(1500)).await; // no renewal after the resume
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen, vec![PAUSE_2, PAUSE_2, PAUSE_2, RESUME]);
        let log: Vec<String> = progress
            .snapshot()
            .log
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert!(
            log.iter()
                .any(|l| l.starts_with("paused Milvus' garbage collection for 2 s")),
            "{log:?}"
        );
        assert!(
            log.iter()
                .any(|l| l == "resumed Milvus' garbage collection"),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn milvus_2_6_8_pauses_each_collection_and_resumes_each_ticket() {
        let (addr, seen) = recorder::start_2_6_8().await;
        let progress = Progress::detached(JobKind::Backup);
        let scope = GcScope::for_version((2, 6, 8), &[11, 22]);
        assert_eq!(scope, GcScope::Collections(vec![11, 22]));
        let gc = GcPause::start(&cfg(&addr, 2), &scope, &progress).await;
        assert!(gc.is_active());
        // one renewal at 1 s: new tickets replace the first ones
        tokio::time::sleep(Duration::from_millis(1400)).await;
        gc.resume(&progress).await;
        let pause =
            |id: i64| format!("GET {PAUSE_PATH}?collection_id={id}&pause_seconds=2 HTTP/1.1");
        let resume = |t: &str| format!("GET {RESUME_PATH}?ticket={t} HTTP/1.1");
        assert_eq!(
            seen.lock().unwrap().clone(),
            vec![
                pause(11),
                pause(22),
                pause(11),
                pause(22),
                resume("t11-3"),
                resume("t22-4")
            ]
        );
        let log: Vec<String> = progress
            .snapshot()
            .log
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert!(
            log.iter()
                .any(|l| l == "resumed Milvus' garbage collection"),
            "{log:?}"
        );
        // older versions keep the cluster-wide pause
        assert_eq!(GcScope::for_version((2, 6, 7), &[11]), GcScope::Cluster);
        assert_eq!(GcScope::for_version((2, 4, 0), &[]), GcScope::Cluster);
    }

    #[tokio::test]
    async fn a_ticketless_resume_on_2_6_8_fails_which_is_why_tickets_are_kept() {
        // what a cluster-wide pause and resume meet on 2.6.8+: the resume answers 500
        let (addr, seen) = recorder::start_2_6_8().await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &GcScope::Cluster, &progress).await;
        gc.resume(&progress).await;
        assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_2, RESUME]);
        let log: Vec<String> = progress
            .snapshot()
            .log
            .into_iter()
            .map(|l| l.message)
            .collect();
        assert!(
            log.iter()
                .any(|l| l.starts_with("could not resume") && l.contains("500")),
            "{log:?}"
        );
    }

    #[tokio::test]
    async fn a_milvus_without_the_api_is_logged_once_and_never_resumed() {
        let (addr, seen) = recorder::start(404).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &GcScope::Cluster, &progress).await;
        assert!(!gc.is_active());
        tokio::time::sleep(Duration::from_millis(1300)).await;
        gc.resume(&progress).await;
        assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_2]);
        let log: Vec<String> = progress
            .snapshot()
            .log
            .into_iter()
            .map(|l| l.message)
            .collect();
        let notes: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("GC pause not available"))
            .collect();
        assert_eq!(notes.len(), 1, "{log:?}");
        assert!(notes[0].contains("no GC pause API"), "{log:?}");
    }

    #[tokio::test]
    async fn a_failed_pause_is_followed_by_a_resume() {
        let (addr, seen) = recorder::start(500).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &GcScope::Cluster, &progress).await;
        assert!(!gc.is_active());
        gc.resume(&progress).await;
        assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_2, RESUME]);
    }

    #[tokio::test]
    async fn disabled_sends_nothing() {
        let (addr, seen) = recorder::start(200).await;
        let progress = Progress::detached(JobKind::Backup);
        let mut c = cfg(&addr, 2);
        c.enable = false;
        let gc = GcPause::start(&c, &GcScope::Cluster, &progress).await;
        gc.resume(&progress).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_pause_is_resumed() {
        let (addr, seen) = recorder::start(200).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &GcScope::Cluster, &progress).await;
        drop(gc);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(seen.lock().unwrap().clone(), vec![PAUSE_2, RESUME]);
    }

    #[tokio::test]
    async fn unreachable_and_bad_addresses_are_not_fatal() {
        let progress = Progress::detached(JobKind::Backup);
        // a port nobody listens on
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let gc = GcPause::start(
            &cfg(&format!("http://127.0.0.1:{port}"), 2),
            &GcScope::Cluster,
            &progress,
        )
        .await;
        assert!(!gc.is_active());
        for bad in ["ftp://x:1", "localhost:9091", "http://"] {
            assert_eq!(
                get(bad, RESUME_PATH).await,
                Err(GcCallError::BadAddress(bad.into()))
            );
        }
        let refused = get(&format!("http://127.0.0.1:{port}"), RESUME_PATH)
            .await
            .unwrap_err()
            .to_string();
        assert!(refused.contains("refused"), "{refused}");
    }

    #[tokio::test]
    async fn a_chunked_answer_is_read_whole() {
        // what the hand-written client could not read: Transfer-Encoding: chunked
        let app = axum::Router::new().route(
            "/management/datacoord/garbage_collection/pause",
            axum::routing::get(|| async {
                let parts = ["{\"msg\":\"OK\",", "\"ticket\":\"t-42\"}"];
                axum::body::Body::from_stream(futures::stream::iter(
                    parts.map(|p| Ok::<_, std::io::Error>(p.to_string())),
                ))
            }),
        );
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        let body = pause(&addr, 2, 7).await.unwrap();
        assert_eq!(ticket_of(&body).as_deref(), Some("t-42"), "{body}");
    }
}
