//! Webhooks: the emulator's ES256 signing keys, the bodies it sends, and their delivery with
//! Plaid's retry rule (a reply that is not 2xx, or none within the timeout, is retried with
//! growing delays).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// One signing key.
struct Key {
    kid: String,
    signing: SigningKey,
    created_at: i64,
    expired_at: Option<i64>,
}

/// The emulator's signing keys: the newest signs, older ones stay fetchable.
pub(crate) struct Keys {
    keys: Vec<Key>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Keys {
    /// One fresh key.
    pub(crate) fn new() -> Self {
        let mut keys = Keys { keys: Vec::new() };
        keys.rotate();
        keys
    }

    /// Adds a fresh key that signs from now on; returns its id. Older keys stay valid.
    pub(crate) fn rotate(&mut self) -> String {
        let kid = crate::uuid_like();
        self.keys.push(Key {
            kid: kid.clone(),
            signing: SigningKey::generate(),
            created_at: unix_now(),
            expired_at: None,
        });
        kid
    }

    /// The id of the key that signs now.
    pub(crate) fn current(&self) -> &str {
        self.keys.last().map(|k| k.kid.as_str()).unwrap_or_default()
    }

    /// Marks key `kid` expired; false if there is no such key.
    pub(crate) fn expire(&mut self, kid: &str) -> bool {
        match self.keys.iter_mut().find(|k| k.kid == kid) {
            Some(key) => {
                key.expired_at = Some(unix_now());
                true
            }
            None => false,
        }
    }

    /// The `Plaid-Verification` JWT for `body`, signed by the current key, issued at `iat`
    /// (seconds since the Unix epoch).
    pub(crate) fn sign(&self, body: &[u8], iat: i64) -> String {
        let Some(key) = self.keys.last() else {
            return String::new();
        };
        let header = json!({ "alg": "ES256", "kid": key.kid, "typ": "JWT" });
        let claims = json!({ "iat": iat, "request_body_sha256": hex_sha256(body) });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = key.signing.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    /// Key `kid` as the JWK `/webhook_verification_key/get` returns.
    pub(crate) fn jwk(&self, kid: &str) -> Option<Value> {
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let point = key.signing.verifying_key().to_sec1_bytes();
        let (x, y) = match &point[..] {
            [0x04, rest @ ..] if rest.len() == 64 => rest.split_at(32),
            _ => return None,
        };
        Some(json!({
            "alg": "ES256",
            "crv": "P-256",
            "kid": key.kid,
            "kty": "EC",
            "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
            "created_at": key.created_at,
            "expired_at": key.expired_at,
        }))
    }
}

/// The SHA-256 of `body` in lowercase hex.
fn hex_sha256(body: &[u8]) -> String {
    use std::fmt::Write as _;
    Sha256::digest(body)
        .iter()
        .fold(String::with_capacity(64), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// How webhooks are delivered.
#[derive(Clone, Debug)]
pub(crate) struct DeliveryConfig {
    /// How long a receiver has to answer before the attempt counts as failed.
    pub(crate) timeout: Duration,
    /// The delay before the first retry; each later one is four times the one before.
    pub(crate) first_retry: Duration,
    /// Attempts in all, the first included.
    pub(crate) attempts: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(10),
            first_retry: Duration::from_secs(30),
            attempts: 6,
        }
    }
}

/// One attempt to deliver a webhook, as [`Emulator::webhook_attempts`] lists it.
///
/// [`Emulator::webhook_attempts`]: crate::Emulator::webhook_attempts
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookAttempt {
    /// Where it was sent.
    pub url: String,
    /// Its `webhook_type`.
    pub webhook_type: String,
    /// Its `webhook_code`.
    pub webhook_code: String,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The receiver's HTTP status; `None` when it did not answer in time or could not be
    /// reached.
    pub status: Option<u16>,
}

/// A webhook waiting to be sent.
pub(crate) struct Outgoing {
    pub(crate) url: String,
    pub(crate) body: Value,
}

/// What delivery tasks share with the emulator.
pub(crate) struct Shared {
    pub(crate) keys: Mutex<Keys>,
    /// The latest attempts, at most [`MAX_RECORDED_WEBHOOK_ATTEMPTS`](crate::MAX_RECORDED_WEBHOOK_ATTEMPTS).
    pub(crate) attempts: Mutex<std::collections::VecDeque<WebhookAttempt>>,
    /// How many attempts were made in all, for waiting on them.
    pub(crate) attempted: tokio::sync::watch::Sender<usize>,
    pub(crate) config: DeliveryConfig,
}

impl Shared {
    pub(crate) fn keys(&self) -> MutexGuard<'_, Keys> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
    /// Records an attempt, forgetting the oldest beyond the cap (the total still counts it).
    pub(crate) fn record(&self, attempt: WebhookAttempt) {
        {
            let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
            if attempts.len() == crate::MAX_RECORDED_WEBHOOK_ATTEMPTS {
                attempts.pop_front();
            }
            attempts.push_back(attempt);
        }
        self.attempted.send_modify(|total| *total += 1);
    }

    pub(crate) fn attempts(&self) -> Vec<WebhookAttempt> {
        self.attempts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }
}

/// Delivers every webhook sent to the returned channel, each in a task of its own (so a slow
/// receiver delays nothing else), until the returned task is aborted.
pub(crate) fn start_delivery(
    shared: Arc<Shared>,
) -> (mpsc::UnboundedSender<Outgoing>, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let task = tokio::spawn(async move {
        let client = match reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(shared.config.timeout)
            .build()
        {
            Ok(client) => client,
            Err(_) => return,
        };
        let mut deliveries = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                next = rx.recv() => {
                    let Some(outgoing) = next else { break };
                    deliveries.spawn(deliver(client.clone(), Arc::clone(&shared), outgoing));
                }
                Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
            }
        }
        while deliveries.join_next().await.is_some() {}
    });
    (tx, task)
}

async fn deliver(client: reqwest::Client, shared: Arc<Shared>, outgoing: Outgoing) {
    let body = outgoing.body.to_string().into_bytes();
    let field = |name: &str| {
        outgoing
            .body
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut delay = shared.config.first_retry;
    for attempt in 1..=shared.config.attempts.max(1) {
        // Signed afresh each time: a retry may come long after the first attempt.
        let jwt = shared.keys().sign(&body, unix_now());
        let status = client
            .post(&outgoing.url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("plaid-verification", jwt)
            .body(body.clone())
            .send()
            .await
            .ok()
            .map(|r| r.status().as_u16());
        tracing::info!(
            webhook_type = %field("webhook_type"),
            webhook_code = %field("webhook_code"),
            attempt,
            status = ?status,
            "webhook delivery"
        );
        shared.record(WebhookAttempt {
            url: outgoing.url.clone(),
            webhook_type: field("webhook_type"),
            webhook_code: field("webhook_code"),
            attempt,
            status,
        });
        if status.is_some_and(|s| (200..300).contains(&s)) {
            return;
        }
        if attempt < shared.config.attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(4);
        }
    }
}
