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

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    task::JoinHandle,
};

use crate::{config::GcPauseConfig, jobs::Progress};

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
    #[error("backup.gcPause.address '{0}' is not an http://host:port address")]
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

/// A running GC pause: renewed in the background until [`GcPause::resume`] (or drop).
pub struct GcPause {
    /// `None` when GC is not paused (disabled, or Milvus refused).
    active: Option<Active>,
}

struct Active {
    address: String,
    renewal: JoinHandle<()>,
}

impl GcPause {
    /// Pauses Milvus' GC for `cfg.seconds` and starts renewing the pause every `seconds / 2`.
    /// Never fails: when pausing is disabled or does not work, says so once in `progress` and
    /// returns a pause that does nothing.
    pub async fn start(cfg: &GcPauseConfig, progress: &Progress) -> GcPause {
        if !cfg.enable {
            tracing::debug!("GC pause disabled (backup.gcPause.enable: false)");
            return GcPause { active: None };
        }
        let seconds = cfg.seconds.max(1);
        let address = cfg.address.trim_end_matches('/').to_string();
        match pause(&address, seconds).await {
            Ok(body) => {
                tracing::info!(%address, seconds, answer = %body, "paused Milvus GC");
                progress.log(format!(
                    "paused Milvus' garbage collection for {seconds} s through {address} (renewed every {} s while the backup runs)",
                    (seconds / 2).max(1)
                ));
            }
            Err(e) => {
                let why = match &e {
                    GcCallError::Status { status: 404, .. } => {
                        "this Milvus has no GC pause API (it came with 2.4)".to_string()
                    }
                    other => other.to_string(),
                };
                tracing::warn!(error = %e, "GC pause not available; the backup goes on");
                if !matches!(e, GcCallError::Status { status: 404, .. }) {
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
        }
        let renewal = tokio::spawn(renew(address.clone(), seconds, progress.clone()));
        GcPause {
            active: Some(Active { address, renewal }),
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
        match get(&active.address, RESUME_PATH).await {
            Ok(_) => {
                tracing::info!(address = %active.address, "resumed Milvus GC");
                progress.log("resumed Milvus' garbage collection");
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not resume Milvus GC; it resumes by itself when the pause expires");
                progress.log(format!(
                    "could not resume Milvus' garbage collection ({e}); it resumes by itself when the pause expires"
                ));
            }
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
                    if let Err(e) = get(&active.address, RESUME_PATH).await {
                        tracing::warn!(error = %e, "could not resume Milvus GC after a cancelled backup");
                    }
                });
            }
        }
    }
}

async fn renew(address: String, seconds: u64, progress: Progress) {
    let period = Duration::from_millis(seconds * 500).max(Duration::from_secs(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match pause(&address, seconds).await {
            Ok(_) => tracing::debug!(%address, seconds, "renewed the GC pause"),
            Err(e) => {
                tracing::warn!(error = %e, "renewing the GC pause failed");
                progress.log(format!("renewing the GC pause failed: {e}"));
            }
        }
    }
}

/// One pause request, as milvus-backup v0.5.16 sends it (Go's `url.Values` sorts the keys).
async fn pause(address: &str, seconds: u64) -> Result<String, GcCallError> {
    get(
        address,
        &format!("{PAUSE_PATH}?collection_id=0&pause_seconds={seconds}"),
    )
    .await
}

/// `GET <address><path_and_query>` over HTTP/1.1; the body of a 2xx answer.
async fn get(address: &str, path_and_query: &str) -> Result<String, GcCallError> {
    let bad = || GcCallError::BadAddress(address.to_string());
    let url = url::Url::parse(address).map_err(|_| bad())?;
    if url.scheme() != "http" {
        return Err(bad());
    }
    let host = url.host_str().ok_or_else(bad)?.to_string();
    let port = url.port().unwrap_or(80);
    let unreachable = |reason: String| GcCallError::Unreachable {
        address: address.to_string(),
        reason,
    };
    let exchange = async {
        let mut conn = TcpStream::connect((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: milvault/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
            env!("CARGO_PKG_VERSION")
        );
        conn.write_all(request.as_bytes())
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let mut answer = Vec::new();
        conn.take(MAX_ANSWER)
            .read_to_end(&mut answer)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok::<Vec<u8>, GcCallError>(answer)
    };
    let answer = tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| unreachable(format!("no answer within {CALL_TIMEOUT:?}")))??;
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| unreachable("the answer is not HTTP".into()))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.trim().to_string())
        .unwrap_or_default();
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = format!("http://{}", listener.local_addr().expect("addr"));
        let seen: Requests = Arc::default();
        let record = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let record = record.clone();
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
                    record
                        .lock()
                        .expect("lock")
                        .push(text.lines().next().unwrap_or_default().to_string());
                    let body = if status == 200 {
                        r#"{"msg":"OK"}"#
                    } else {
                        "404 page not found"
                    };
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
        let gc = GcPause::start(&cfg(&addr, 2), &progress).await;
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
    async fn a_milvus_without_the_api_is_logged_once_and_never_resumed() {
        let (addr, seen) = recorder::start(404).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &progress).await;
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
        let gc = GcPause::start(&cfg(&addr, 2), &progress).await;
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
        let gc = GcPause::start(&c, &progress).await;
        gc.resume(&progress).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(seen.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_dropped_pause_is_resumed() {
        let (addr, seen) = recorder::start(200).await;
        let progress = Progress::detached(JobKind::Backup);
        let gc = GcPause::start(&cfg(&addr, 2), &progress).await;
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
        let gc = GcPause::start(&cfg(&format!("http://127.0.0.1:{port}"), 2), &progress).await;
        assert!(!gc.is_active());
        assert_eq!(
            get("https://x:1", RESUME_PATH).await,
            Err(GcCallError::BadAddress("https://x:1".into()))
        );
    }
}
