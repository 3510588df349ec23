//! Notifications: webhooks told of failed jobs, damaged backups and failed, skipped or missed
//! policy runs. Each event goes to every webhook that takes its kind (global ones, and the ones a
//! policy names in `notify`), as milvault's JSON event or a Slack-compatible `{"text": ...}`,
//! signed with HMAC-SHA256 over `<timestamp>.<body>` (headers `X-Milvault-Timestamp` and
//! `X-Milvault-Signature: sha256=<hex>`), tried again with doubling waits on a 5xx, 408, 429 or
//! no answer, and recorded try by try in the delivery log (`db/deliveries.rs`). Sending never
//! holds up the job that caused it.

use std::{sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{
    config::{NotificationsConfig, WebhookConfig},
    db::{deliveries::Delivery, Db},
};

pub use crate::config::events::*;

/// A test event sent by hand (`POST /api/v2/notifications/test`).
pub const TEST: &str = "test";

/// What happened, as sent in the JSON form.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Event {
    /// One of [`EVENTS`].
    pub event: String,
    pub at: DateTime<Utc>,
    /// In words, one line.
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// `backup`, `restore`, `verify`...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_kind: Option<String>,
    /// The error or what was found.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Event {
    /// An event of `kind` now.
    pub fn new(kind: &str, summary: impl Into<String>) -> Event {
        Event {
            event: kind.into(),
            at: Utc::now(),
            summary: summary.into(),
            policy: None,
            backup: None,
            job_id: None,
            job_kind: None,
            detail: String::new(),
        }
    }
}

/// Sends events to the configured webhooks.
pub struct Notifier {
    hooks: Vec<WebhookConfig>,
    store: Arc<Db>,
    client: reqwest::Client,
    /// Deliveries still trying, and a signal each time one ends (a CLI command waits for them
    /// before its process exits: see [`Notifier::settled`]).
    in_flight: Arc<(std::sync::atomic::AtomicUsize, tokio::sync::Notify)>,
}

/// How long one try may take.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);

impl Notifier {
    /// A notifier for `config`'s webhooks, logging deliveries in `store`.
    pub fn new(config: &NotificationsConfig, store: Arc<Db>) -> Arc<Notifier> {
        let client = reqwest::Client::builder()
            .timeout(TRY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Arc::new(Notifier {
            in_flight: Default::default(),
            hooks: config.webhooks.clone(),
            store,
            client,
        })
    }

    /// The webhooks an event goes to: those taking its kind that are global or that the
    /// event's policy names in `policy_hooks`.
    pub fn targets<'a>(&'a self, event: &Event, policy_hooks: &[String]) -> Vec<&'a WebhookConfig> {
        self.hooks
            .iter()
            .filter(|h| h.events.is_empty() || h.events.contains(&event.event))
            .filter(|h| h.global || policy_hooks.contains(&h.name))
            .collect()
    }

    /// Sends `event` in the background to its webhooks (see [`Notifier::targets`]).
    pub fn notify(self: &Arc<Self>, event: Event, policy_hooks: &[String]) {
        let targets: Vec<WebhookConfig> = self
            .targets(&event, policy_hooks)
            .into_iter()
            .cloned()
            .collect();
        if targets.is_empty() {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(event = %event.event, "no runtime to send notifications from");
            return;
        };
        for hook in targets {
            let me = self.clone();
            let event = event.clone();
            let in_flight = self.in_flight.clone();
            in_flight
                .0
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            rt.spawn(async move {
                me.deliver(&hook, &event).await;
                if in_flight
                    .0
                    .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
                    == 1
                {
                    in_flight.1.notify_waiters();
                }
            });
        }
    }

    /// Waits until every delivery started has ended (delivered or given up), at most `within`;
    /// false when some are still trying. A process about to exit calls it, or its
    /// notifications would be lost with it.
    pub async fn settled(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let ended = self.in_flight.1.notified();
            if self.in_flight.0.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return self.in_flight.0.load(std::sync::atomic::Ordering::SeqCst) == 0;
            }
        }
    }

    /// Tries one webhook until it takes the event, refuses it for good, or the tries run out.
    pub async fn deliver(&self, hook: &WebhookConfig, event: &Event) -> Delivery {
        let mut d = Delivery {
            id: uuid::Uuid::new_v4().to_string(),
            at: event.at,
            webhook: hook.name.clone(),
            event: event.event.clone(),
            summary: event.summary.clone(),
            state: "sending".into(),
            attempts: 0,
            last_status: 0,
            last_error: String::new(),
        };
        self.record(&d);
        let body = body_of(hook, event);
        let mut wait = Duration::from_millis(hook.retry_base_millis);
        loop {
            d.attempts += 1;
            let outcome = self.try_once(hook, &d.id, &event.event, &body).await;
            let again = match outcome {
                Ok(status) if (200..300).contains(&status) => {
                    d.state = "delivered".into();
                    d.last_status = status;
                    d.last_error.clear();
                    false
                }
                Ok(status) => {
                    d.last_status = status;
                    d.last_error = format!("answered HTTP {status}");
                    status >= 500 || status == 408 || status == 429
                }
                Err(e) => {
                    d.last_status = 0;
                    d.last_error = e;
                    true
                }
            };
            if d.state == "delivered" {
                break;
            }
            if !again || d.attempts >= hook.max_attempts {
                d.state = "failed".into();
                tracing::warn!(webhook = %hook.name, event = %event.event, attempts = d.attempts,
                    "notification given up: {}", d.last_error);
                break;
            }
            d.state = "retrying".into();
            self.record(&d);
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
        self.record(&d);
        d
    }

    async fn try_once(
        &self,
        hook: &WebhookConfig,
        id: &str,
        kind: &str,
        body: &str,
    ) -> Result<u16, String> {
        let ts = Utc::now().timestamp().to_string();
        let mut req = self
            .client
            .post(hook.url.expose())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("milvault/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-milvault-event", kind)
            .header("x-milvault-delivery", id)
            .header("x-milvault-timestamp", &ts);
        if let Some(key) = hook.signing_key() {
            req = req.header("x-milvault-signature", signature(&key, &ts, body));
        }
        match req.body(body.to_string()).send().await {
            Ok(r) => Ok(r.status().as_u16()),
            // the error names the URL, which may hold a token: say what failed, not where
            Err(e) if e.is_timeout() => Err(format!("no answer within {}s", TRY_TIMEOUT.as_secs())),
            Err(e) if e.is_connect() => Err(format!("cannot connect to {}", hook.shown_url())),
            Err(_) => Err(format!("the request to {} failed", hook.shown_url())),
        }
    }

    fn record(&self, d: &Delivery) {
        if let Err(e) = self.store.save_delivery(d) {
            tracing::error!(webhook = %d.webhook, "could not record the delivery: {e}");
        }
    }

    /// Refuses webhook names that are not configured (a policy's `notify`).
    pub fn check_names(&self, names: &[String]) -> crate::error::Result<()> {
        match names.iter().find(|n| !self.hooks.iter().any(|h| h.name == **n)) {
            None => Ok(()),
            Some(n) => Err(crate::error::Error::InvalidRequest(format!(
                "notify names webhook '{n}', which notifications.webhooks does not have (configured: {})",
                if self.hooks.is_empty() {
                    "none".to_string()
                } else {
                    self.hooks.iter().map(|h| h.name.as_str()).collect::<Vec<_>>().join(", ")
                }
            ))),
        }
    }

    /// Sends a `test` event to webhook `name` (whatever events it takes) and waits for it.
    pub async fn send_test(&self, name: &str, by: &str) -> crate::error::Result<Delivery> {
        let hook = self.hooks.iter().find(|h| h.name == name).ok_or_else(|| {
            crate::error::Error::InvalidRequest(format!(
                "no webhook '{name}' in notifications.webhooks (configured: {})",
                self.hooks
                    .iter()
                    .map(|h| h.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let e = Event::new(
            TEST,
            format!("test notification sent by {by}: this webhook is reached"),
        );
        Ok(self.deliver(hook, &e).await)
    }

    /// The webhooks as they may be shown (no secrets, URLs without path or query).
    pub fn shown(&self) -> Vec<WebhookView> {
        self.hooks
            .iter()
            .map(|h| WebhookView {
                name: h.name.clone(),
                url: h.shown_url(),
                format: h.format.clone(),
                global: h.global,
                events: h.events.clone(),
                signed: h.signing_key().is_some(),
            })
            .collect()
    }
}

/// A webhook without its secrets.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WebhookView {
    pub name: String,
    /// Scheme, host and port only.
    pub url: String,
    pub format: String,
    pub global: bool,
    pub events: Vec<String>,
    /// Whether a signing key is configured.
    pub signed: bool,
}

/// The body for `hook`'s format.
pub fn body_of(hook: &WebhookConfig, event: &Event) -> String {
    if hook.format == "slack" {
        let mut text = format!(
            ":rotating_light: milvault {}: {}",
            event.event, event.summary
        );
        if !event.detail.is_empty() {
            text.push_str(&format!("\n> {}", event.detail.replace('\n', "\n> ")));
        }
        serde_json::json!({ "text": text }).to_string()
    } else {
        serde_json::to_string(event).unwrap_or_default()
    }
}

/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn signature(key: &str, timestamp: &str, body: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(timestamp.as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    let tag = ctx.sign();
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::{http::HeaderMap, routing::post, Router};

    use super::*;

    /// What the receiver got: headers and body of every request.
    type Got = Arc<Mutex<Vec<(HeaderMap, String)>>>;

    /// A real HTTP receiver on 127.0.0.1 answering `statuses` in turn (then 200).
    async fn receiver(statuses: Vec<u16>) -> (String, Got) {
        let got: Got = Default::default();
        let answers = Arc::new(Mutex::new(statuses.into_iter()));
        let (g, a) = (got.clone(), answers.clone());
        let app = Router::new().route(
            "/hook/{token}",
            post(move |headers: HeaderMap, body: String| {
                let (g, a) = (g.clone(), a.clone());
                async move {
                    g.lock().unwrap().push((headers, body));
                    let s = a.lock().unwrap().next().unwrap_or(200);
                    axum::http::StatusCode::from_u16(s).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}/hook/t0ken"), got)
    }

    fn hook(name: &str, url: &str) -> WebhookConfig {
        WebhookConfig {
            name: name.into(),
            url: crate::config::Secret::new(url),
            secret: crate::config::Secret::new("s3cret"),
            retry_base_millis: 20,
            ..Default::default()
        }
    }

    fn notifier(hooks: Vec<WebhookConfig>) -> Arc<Notifier> {
        Notifier::new(
            &NotificationsConfig { webhooks: hooks },
            Arc::new(Db::in_memory().unwrap()),
        )
    }

    /// The receiver's check of a signed request, done as a receiver would.
    fn signature_holds(h: &HeaderMap, body: &str, key: &str) -> bool {
        let ts = h["x-milvault-timestamp"].to_str().unwrap();
        let sig = h["x-milvault-signature"].to_str().unwrap();
        let Some(hex) = sig.strip_prefix("sha256=") else {
            return false;
        };
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_bytes());
        ring::hmac::verify(&k, format!("{ts}.{body}").as_bytes(), &bytes).is_ok()
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?", "").len(),
            "sha256=".len() + 64
        );
        let k = "Jefe";
        let direct = {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.as_bytes());
            let tag = ring::hmac::sign(&key, b"what do ya want for nothing?");
            tag.as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        assert_eq!(
            direct,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            signature(k, "what do ya want for nothing", "").trim_start_matches("sha256="),
            {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, k.as_bytes());
                let tag = ring::hmac::sign(&key, b"what do ya want for nothing.");
                tag.as_ref()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            }
        );
    }

    #[tokio::test]
    async fn settled_waits_for_deliveries_still_retrying() {
        let (url, got) = receiver(vec![500, 500]).await;
        let n = notifier(vec![hook("ops", &url)]);
        assert!(n.settled(Duration::ZERO).await, "nothing in flight");
        n.notify(Event::new(JOB_FAILED, "x"), &[]);
        // retries 20 ms then 40 ms apart: not over at once, over well within a second
        assert!(!n.settled(Duration::from_millis(1)).await);
        assert!(n.settled(Duration::from_secs(5)).await);
        assert_eq!(got.lock().unwrap().len(), 3);
        assert_eq!(n.store.deliveries(10).unwrap()[0].state, "delivered");
    }

    #[tokio::test]
    async fn a_webhook_answering_500_is_tried_again_and_the_tries_are_logged() {
        let (url, got) = receiver(vec![500, 503]).await;
        let n = notifier(vec![hook("ops", &url)]);
        let mut e = Event::new(JOB_FAILED, "backup of 'b1' failed: Milvus is down");
        e.backup = Some("b1".into());
        let d = n.deliver(&n.hooks[0], &e).await;
        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_status),
            ("delivered", 3, 200)
        );
        let got = got.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "two 5xx answers, then 200");
        for (h, body) in &got {
            assert!(signature_holds(h, body, "s3cret"), "signed: {h:?}");
            assert_eq!(h["x-milvault-event"], "job.failed");
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["event"], "job.failed");
            assert_eq!(v["backup"], "b1");
        }
        // the same delivery id on every try, so a receiver can tell a retry from a new event
        assert_eq!(
            got[0].0["x-milvault-delivery"],
            got[2].0["x-milvault-delivery"]
        );
        let log = n.store.deliveries(10).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!((log[0].state.as_str(), log[0].attempts), ("delivered", 3));
    }

    #[tokio::test]
    async fn a_refusal_is_not_retried_and_dead_hooks_give_up_after_max_attempts() {
        let (url, got) = receiver(vec![401]).await;
        let n = notifier(vec![hook("ops", &url)]);
        let d = n
            .deliver(&n.hooks[0], &Event::new(POLICY_FAILED, "x"))
            .await;
        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_status),
            ("failed", 1, 401)
        );
        assert_eq!(got.lock().unwrap().len(), 1);
        // nothing listens there
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let mut dead = hook("dead", &format!("http://{closed}/x?token=abc"));
        dead.max_attempts = 3;
        let d = n.deliver(&dead, &Event::new(POLICY_FAILED, "x")).await;
        assert_eq!(
            (d.state.as_str(), d.attempts, d.last_status),
            ("failed", 3, 0)
        );
        assert!(d.last_error.contains("cannot connect"), "{}", d.last_error);
        assert!(
            !d.last_error.contains("token=abc"),
            "the URL's token stays out of the log"
        );
    }

    #[tokio::test]
    async fn slack_form_and_who_is_told() {
        let (url, got) = receiver(vec![]).await;
        let mut slack = hook("chat", &url);
        slack.format = "slack".into();
        slack.secret = Default::default();
        let mut only_policy = hook("oncall", &url);
        only_policy.global = false;
        let mut only_damage = hook("storage-team", &url);
        only_damage.events = vec![VERIFICATION_DAMAGED.into()];
        let n = notifier(vec![slack, only_policy, only_damage]);
        let mut e = Event::new(POLICY_FAILED, "policy nightly failed");
        e.detail = "backup failed: connection refused".into();
        let names = |v: Vec<&WebhookConfig>| v.iter().map(|h| h.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(n.targets(&e, &[])), ["chat"]);
        assert_eq!(names(n.targets(&e, &["oncall".into()])), ["chat", "oncall"]);
        let damaged = Event::new(VERIFICATION_DAMAGED, "b is damaged");
        assert_eq!(names(n.targets(&damaged, &[])), ["chat", "storage-team"]);
        let d = n.deliver(&n.hooks[0], &e).await;
        assert_eq!(d.state, "delivered");
        let (h, body) = got.lock().unwrap()[0].clone();
        assert!(h.get("x-milvault-signature").is_none(), "no key: unsigned");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let text = v["text"].as_str().unwrap();
        assert!(
            text.contains("policy.failed: policy nightly failed"),
            "{text}"
        );
        assert!(
            text.contains("> backup failed: connection refused"),
            "{text}"
        );
        assert!(n.check_names(&["oncall".into()]).is_ok());
        let err = n.check_names(&["pager".into()]).unwrap_err().to_string();
        assert!(
            err.contains("'pager'") && err.contains("chat, oncall, storage-team"),
            "{err}"
        );
        let shown = n.shown();
        assert!(shown.iter().all(|w| !w.url.contains("t0ken")), "{shown:?}");
    }

    #[tokio::test]
    async fn a_failing_policy_run_delivers_signed_webhooks() {
        let (url, got) = receiver(vec![500]).await;
        let dir = tempfile::tempdir().unwrap();
        // a Milvus nobody listens on: the policy's backup fails
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let yaml = format!(
            "milvus: {{address: 127.0.0.1, port: {}}}\nnotifications:\n  webhooks:\n    - {{name: ops, url: '{url}', secret: s3cret, retryBaseMillis: 20}}\n    - {{name: oncall, url: '{url}', secretEnv: MILVAULT_TEST_UNSET_NEVER, global: false}}\n",
            closed.port()
        );
        assert!(
            crate::config::Config::from_yaml(&yaml, &[])
                .unwrap_err()
                .to_string()
                .contains("secretEnv names MILVAULT_TEST_UNSET_NEVER, which is not set"),
            "an unset secretEnv is refused at start"
        );
        let yaml = yaml.replace("secretEnv: MILVAULT_TEST_UNSET_NEVER, ", "");
        let sets = [
            ("minio.backupStorageType", "local".to_string()),
            ("minio.backupRootPath", dir.path().to_string_lossy().into()),
            ("backup.connectTimeoutSeconds", "2".into()),
            ("backup.gcPause.enable", "false".into()),
        ]
        .map(|(k, v)| (k.to_string(), v));
        let config = crate::config::Config::from_yaml(&yaml, &sets).unwrap();
        let svc = Arc::new(crate::engine::service::Milvault::new(config).unwrap());
        let registry = crate::jobs::registry::JobRegistry::new(svc, Db::in_memory().unwrap());
        let scheduler = crate::server::scheduler::Scheduler::new(
            registry.clone(),
            Arc::new(crate::server::scheduler::SystemClock),
        );
        let gate = crate::auth::Gate::new(&registry, crate::auth::Caller::cli());
        let mut p = crate::engine::policy::Policy {
            name: "nightly".into(),
            collections: vec!["demo".into()],
            cron: "0 3 * * *".into(),
            notify: vec!["pager".into()],
            ..Default::default()
        };
        let refused = gate.add_policy(&p).unwrap_err().to_string();
        assert!(refused.contains("'pager'"), "{refused}");
        p.notify = vec!["oncall".into()];
        gate.add_policy(&p).unwrap();
        let run = scheduler.run_now("nightly").await.unwrap();
        let ended = run.done.await.unwrap();
        assert_eq!(ended.state, "failed");
        // job.failed to the global hook; policy.failed to it and to the policy's own; the
        // global hook's first try answered 500 and was retried
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let events = loop {
            let got = got.lock().unwrap().clone();
            let mut events: Vec<String> = got
                .iter()
                .map(|(h, _)| h["x-milvault-event"].to_str().unwrap().to_string())
                .collect();
            events.sort();
            if events.len() >= 4 || std::time::Instant::now() > deadline {
                break (got, events);
            }
            drop(got);
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let (got, kinds) = events;
        assert_eq!(
            kinds.len(),
            4,
            "three deliveries, one of them tried twice: {kinds:?}"
        );
        let policy_failed: Vec<_> = got
            .iter()
            .filter(|(h, _)| h["x-milvault-event"] == "policy.failed")
            .collect();
        assert!(!policy_failed.is_empty());
        for (h, body) in &policy_failed {
            let v: serde_json::Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["policy"], "nightly");
            assert!(v["detail"].as_str().unwrap().contains("backup"), "{v}");
            if h.get("x-milvault-signature").is_some() {
                assert!(signature_holds(h, body, "s3cret"));
            }
        }
        let log = registry.store().deliveries(10).unwrap();
        let mut by_hook: Vec<(String, String, String)> = log
            .iter()
            .map(|d| (d.webhook.clone(), d.event.clone(), d.state.clone()))
            .collect();
        by_hook.sort();
        let tries: u32 = log.iter().map(|d| d.attempts).sum();
        assert_eq!(tries, 4, "the 500 was answered by a second try");
        assert_eq!(
            by_hook,
            [
                (
                    "oncall".to_string(),
                    "policy.failed".to_string(),
                    "delivered".to_string()
                ),
                ("ops".into(), "job.failed".into(), "delivered".into()),
                ("ops".into(), "policy.failed".into(), "delivered".into()),
            ]
        );
    }
}
