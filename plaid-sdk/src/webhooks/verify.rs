//! The verifier: JWT checks, the key cache, and the signature (behind the `webhooks`
//! feature).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    DEFAULT_KEY_REFRESH, DEFAULT_MAX_AGE, DEFAULT_MAX_CLOCK_SKEW, MAX_HEADER_LEN,
    VERIFICATION_HEADER, WebhookError, WebhookEvent, shown,
};
use crate::{ErrorKind, PlaidClient};

/// At most this many keys are cached; a webhook naming another `kid` clears the cache of keys
/// that did not verify anything yet, so forged `kid`s cannot grow it.
const MAX_CACHED_KEYS: usize = 32;

/// Key fetches of ids not cached: at most this many in a burst...
const FETCH_BURST: f64 = 10.0;
/// ...and one more each this often after that: a flood of webhooks naming made-up keys costs
/// at most 10 calls to Plaid at once and 10 a minute after, however many arrive.
const FETCH_EVERY: Duration = Duration::from_secs(6);
/// A key id Plaid said it does not know is not asked for again for this long...
const UNKNOWN_FOR: Duration = Duration::from_secs(600);
/// ...and at most this many such ids are remembered (all forgotten when full).
const MAX_UNKNOWN: usize = 1024;

/// What bounds the verifier's calls to Plaid: the key ids Plaid did not know, and a token
/// bucket of fetches.
struct FetchBudget {
    unknown: HashMap<String, SystemTime>,
    tokens: f64,
    refilled: Option<SystemTime>,
}

impl FetchBudget {
    fn new() -> Self {
        FetchBudget {
            unknown: HashMap::new(),
            tokens: FETCH_BURST,
            refilled: None,
        }
    }

    /// Whether Plaid said lately that it does not know `kid`.
    fn known_unknown(&self, kid: &str, now: SystemTime) -> bool {
        self.unknown
            .get(kid)
            .is_some_and(|at| now.duration_since(*at).is_ok_and(|d| d < UNKNOWN_FOR) || *at > now)
    }

    fn remember_unknown(&mut self, kid: &str, now: SystemTime) {
        if self.unknown.len() >= MAX_UNKNOWN {
            self.unknown.clear();
        }
        self.unknown.insert(kid.to_string(), now);
    }

    /// Takes one fetch from the bucket, if it holds one.
    fn take(&mut self, now: SystemTime) -> bool {
        if let Some(last) = self.refilled {
            let elapsed = now.duration_since(last).unwrap_or_default();
            self.tokens =
                (self.tokens + elapsed.as_secs_f64() / FETCH_EVERY.as_secs_f64()).min(FETCH_BURST);
        }
        self.refilled = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A clock: what the verifier takes as now.
type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// One cached key, and when it was fetched.
#[derive(Clone)]
struct CachedKey {
    key: Result<VerifyingKey, KeyProblem>,
    fetched_at: SystemTime,
}

/// Why a fetched key cannot verify anything; cached with it.
#[derive(Clone, Copy, Debug)]
enum KeyProblem {
    Expired(i64),
    Unusable,
}

type Slot = Arc<tokio::sync::OnceCell<CachedKey>>;

/// Verifies webhooks; create one and share it (it caches Plaid's keys). Cheap to clone:
/// clones share the cache.
#[derive(Clone)]
pub struct WebhookVerifier {
    client: PlaidClient,
    keys: Arc<Mutex<HashMap<String, Slot>>>,
    budget: Arc<Mutex<FetchBudget>>,
    max_age: Duration,
    max_skew: Duration,
    key_refresh: Duration,
    clock: Clock,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("client", &self.client)
            .field("max_age", &self.max_age)
            .field("max_clock_skew", &self.max_skew)
            .field("key_refresh", &self.key_refresh)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwtHeader {
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iat: Option<serde_json::Value>,
    #[serde(default)]
    request_body_sha256: Option<serde_json::Value>,
}

impl WebhookVerifier {
    /// A verifier that fetches keys through `client` (whose environment must be the one that
    /// sends the webhooks), with the default limits.
    pub fn new(client: PlaidClient) -> Self {
        WebhookVerifier {
            client,
            keys: Arc::default(),
            budget: Arc::new(Mutex::new(FetchBudget::new())),
            max_age: DEFAULT_MAX_AGE,
            max_skew: DEFAULT_MAX_CLOCK_SKEW,
            key_refresh: DEFAULT_KEY_REFRESH,
            clock: Arc::new(SystemTime::now),
        }
    }

    /// How old a webhook's `iat` may be ([`DEFAULT_MAX_AGE`] unless set).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// How far in the future a webhook's `iat` may be ([`DEFAULT_MAX_CLOCK_SKEW`] unless set).
    pub fn max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_skew = skew;
        self
    }

    /// How long a fetched key is used before it is fetched again ([`DEFAULT_KEY_REFRESH`]
    /// unless set).
    pub fn key_refresh(mut self, every: Duration) -> Self {
        self.key_refresh = every;
        self
    }

    /// What the verifier takes as now (`SystemTime::now` unless set): for tests.
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(now);
        self
    }

    /// Verifies a webhook from its request headers and raw body, and reads it.
    pub async fn verify(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<WebhookEvent, WebhookError> {
        let header = headers
            .get(VERIFICATION_HEADER)
            .ok_or(WebhookError::MissingHeader)?;
        if header.len() > MAX_HEADER_LEN {
            return Err(WebhookError::HeaderTooLarge { len: header.len() });
        }
        let jwt = header
            .to_str()
            .map_err(|_| WebhookError::Malformed("it is not ASCII text"))?;
        self.verify_signature(jwt, body).await?;
        WebhookEvent::parse(body)
    }

    /// Checks that `jwt` (the `Plaid-Verification` header's value) signs `body` (the raw
    /// request body), without reading the body.
    pub async fn verify_signature(&self, jwt: &str, body: &[u8]) -> Result<(), WebhookError> {
        if jwt.len() > MAX_HEADER_LEN {
            return Err(WebhookError::HeaderTooLarge { len: jwt.len() });
        }
        let mut parts = jwt.trim().split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(WebhookError::Malformed("it does not have three parts"));
        };
        let header: JwtHeader = decode_json(
            header_b64,
            "its header is not base64url",
            "its header is not a JSON object",
        )?;
        let alg = header.alg.unwrap_or_default();
        if alg != "ES256" {
            return Err(WebhookError::Algorithm { alg: shown(&alg) });
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty())
            .ok_or(WebhookError::MissingKeyId)?;
        let claims: Claims = decode_json(
            claims_b64,
            "its claims are not base64url",
            "its claims are not a JSON object",
        )?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| WebhookError::Malformed("its signature is not base64url"))?;
        let signature = Signature::from_slice(&signature)
            .map_err(|_| WebhookError::Malformed("its signature is not an ES256 signature"))?;

        // The cheap checks of the claims come first: a stale or unsigned request costs no key
        // fetch. They are trusted only once the signature verifies below.
        let iat = claims
            .iat
            .as_ref()
            .and_then(serde_json::Value::as_i64)
            .ok_or(WebhookError::MissingClaim("iat"))?;
        let sha256 = claims
            .request_body_sha256
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .ok_or(WebhookError::MissingClaim("request_body_sha256"))?;
        self.check_age(iat)?;

        let key = self.key(&kid).await?;
        let signed = &jwt.trim().as_bytes()[..header_b64.len() + 1 + claims_b64.len()];
        key.verify(signed, &signature)
            .map_err(|_| WebhookError::BadSignature)?;

        let actual = hex_sha256(body);
        if bool::from(
            actual
                .as_bytes()
                .ct_eq(sha256.to_ascii_lowercase().as_bytes()),
        ) {
            Ok(())
        } else {
            Err(WebhookError::BodyMismatch)
        }
    }

    fn check_age(&self, iat: i64) -> Result<(), WebhookError> {
        let now = (self.clock)();
        let issued = if iat >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(iat.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(iat.unsigned_abs()))
        }
        .ok_or(WebhookError::MissingClaim("iat"))?;
        match now.duration_since(issued) {
            Ok(age) if age > self.max_age => Err(WebhookError::TooOld {
                age,
                max_age: self.max_age,
            }),
            Ok(_) => Ok(()),
            Err(ahead) if ahead.duration() > self.max_skew => Err(WebhookError::IssuedInFuture {
                ahead: ahead.duration(),
            }),
            Err(_) => Ok(()),
        }
    }

    /// The key `kid` names: from the cache, or fetched once however many verifications ask
    /// for it at the same time.
    async fn key(&self, kid: &str) -> Result<VerifyingKey, WebhookError> {
        let now = (self.clock)();
        let slot: Slot = {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            let stale = keys.get(kid).is_some_and(|slot| {
                slot.get().is_some_and(|k| {
                    now.duration_since(k.fetched_at)
                        .is_ok_and(|d| d >= self.key_refresh)
                })
            });
            if stale {
                keys.remove(kid);
            }
            if !keys.contains_key(kid) && keys.len() >= MAX_CACHED_KEYS {
                keys.retain(|_, slot| slot.initialized());
                if keys.len() >= MAX_CACHED_KEYS {
                    keys.clear();
                }
            }
            Arc::clone(keys.entry(kid.to_string()).or_default())
        };
        let cached = slot
            .get_or_try_init(|| async {
                {
                    let mut budget = self.budget.lock().unwrap_or_else(PoisonError::into_inner);
                    if budget.known_unknown(kid, now) {
                        return Err(WebhookError::UnknownKey { kid: shown(kid) });
                    }
                    if !budget.take(now) {
                        tracing::debug!(kid = %shown(kid), "key fetch budget spent; not fetched");
                        return Err(WebhookError::KeyFetchThrottled { kid: shown(kid) });
                    }
                }
                let key = match self.fetch(kid).await {
                    Err(WebhookError::UnknownKey { kid: shown_kid }) => {
                        self.budget
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remember_unknown(kid, now);
                        return Err(WebhookError::UnknownKey { kid: shown_kid });
                    }
                    other => other?,
                };
                Ok::<_, WebhookError>(CachedKey {
                    key,
                    fetched_at: now,
                })
            })
            .await?;
        match cached.key {
            Ok(key) => Ok(key),
            Err(KeyProblem::Expired(expired_at)) => Err(WebhookError::KeyExpired {
                kid: shown(kid),
                expired_at,
            }),
            Err(KeyProblem::Unusable) => Err(WebhookError::UnusableKey { kid: shown(kid) }),
        }
    }

    async fn fetch(&self, kid: &str) -> Result<Result<VerifyingKey, KeyProblem>, WebhookError> {
        let response = match self.client.webhook_verification_key_get(kid).await {
            Ok(response) => response,
            // Plaid says the key id is unknown with a 400 `INVALID_INPUT`. Anything else (bad
            // credentials, a malformed request, rate limits, 5xx, the network) is this side's
            // or a passing problem, not the webhook's: a retryable `KeyFetch`.
            Err(e)
                if matches!(e.kind(), ErrorKind::Api(_))
                    && e.status() == Some(400)
                    && e.error_type()
                        .is_some_and(|t| t.as_str() == "INVALID_INPUT")
                    && e.error_code() != Some("INVALID_API_KEYS") =>
            {
                tracing::debug!(kid = %shown(kid), code = ?e.error_code(), "unknown webhook key");
                return Err(WebhookError::UnknownKey { kid: shown(kid) });
            }
            Err(e) => return Err(WebhookError::KeyFetch(Box::new(e))),
        };
        tracing::debug!(kid = %shown(kid), "fetched a webhook verification key");
        let jwk = response.key;
        if let Some(expired_at) = jwk.expired_at {
            return Ok(Err(KeyProblem::Expired(expired_at)));
        }
        Ok(verifying_key(&jwk.kty, &jwk.crv, &jwk.alg, &jwk.x, &jwk.y).ok_or(KeyProblem::Unusable))
    }
}

/// The public key of a JWK with these fields, if it is an ES256 P-256 key.
fn verifying_key(kty: &str, crv: &str, alg: &str, x: &str, y: &str) -> Option<VerifyingKey> {
    if kty != "EC" || crv != "P-256" || alg != "ES256" {
        return None;
    }
    let x = URL_SAFE_NO_PAD.decode(x).ok()?;
    let y = URL_SAFE_NO_PAD.decode(y).ok()?;
    if x.len() != 32 || y.len() != 32 {
        return None;
    }
    let mut point = Vec::with_capacity(65);
    point.push(0x04);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    VerifyingKey::from_sec1_bytes(&point).ok()
}

fn decode_json<T: serde::de::DeserializeOwned>(
    part: &str,
    not_base64: &'static str,
    not_json: &'static str,
) -> Result<T, WebhookError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| WebhookError::Malformed(not_base64))?;
    serde_json::from_slice(&bytes).map_err(|_| WebhookError::Malformed(not_json))
}

/// The SHA-256 of `body` in lowercase hex, as `request_body_sha256` holds it.
pub fn hex_sha256(body: &[u8]) -> String {
    use std::fmt::Write as _;
    let digest = Sha256::digest(body);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(out, "{byte:02x}");
    }
    out
}
