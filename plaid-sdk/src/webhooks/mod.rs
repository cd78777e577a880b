//! Plaid's webhooks: verifying that one came from Plaid, and reading it as a typed event.
//!
//! Plaid signs every webhook with a JWT in the `Plaid-Verification` header. A
//! [`WebhookVerifier`] checks it the way Plaid documents: the JWT's algorithm must be ES256;
//! its `kid` names a public key, fetched once with `/webhook_verification_key/get` and cached;
//! a key with `expired_at` set is refused; the signature must hold; the `iat` claim must be at
//! most five minutes old (configurable); and the SHA-256 of the raw body must equal the
//! `request_body_sha256` claim (compared in constant time). Each refusal is its own
//! [`WebhookError`] variant. The cryptography is RustCrypto's `p256` and `sha2`.
//!
//! ```no_run
//! # async fn receive(headers: &http::HeaderMap, body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! use plaid_sdk::webhooks::{WebhookKind, WebhookVerifier};
//!
//! // Once, at start-up: the verifier fetches keys with the client's credentials.
//! let verifier = WebhookVerifier::new(plaid_sdk::PlaidClient::from_env()?);
//!
//! // Per webhook: the raw body, exactly as received, and the request's headers.
//! let event = verifier.verify(headers, body).await?;
//! match &event.kind {
//!     WebhookKind::ItemError(e) => println!("Item {} needs attention: {:?}", e.item_id, e.error),
//!     WebhookKind::ItemUserPermissionRevoked(_) => println!("access revoked"),
//!     _ => println!("{} {}", event.webhook_type, event.webhook_code),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Answer 2xx quickly once a webhook verified: Plaid retries a webhook that got no 2xx within
//! 10 seconds, so the same webhook can arrive more than once, and out of order.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

use crate::PlaidError;

pub use crate::operations::{KNOWN_WEBHOOKS, WebhookKind};
pub use other::OtherWebhook;
mod other;
#[cfg(feature = "webhooks")]
mod service;
#[cfg(feature = "webhooks")]
mod verify;
#[cfg(feature = "webhooks")]
pub use service::{
    DEFAULT_MAX_BODY, DEFAULT_RECEIVE_TIMEOUT, HandlerError, HandlerResult, WebhookResponse,
    WebhookService,
};
#[cfg(feature = "webhooks")]
pub use verify::{WebhookVerifier, hex_sha256};

/// The header that carries a webhook's signature: `Plaid-Verification`.
pub const VERIFICATION_HEADER: &str = "plaid-verification";

/// The longest `Plaid-Verification` header accepted, in bytes. Plaid's are about 300.
pub const MAX_HEADER_LEN: usize = 4096;

/// How old a webhook's `iat` may be unless configured otherwise: five minutes.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(5 * 60);

/// How far in the future a webhook's `iat` may be (clocks differ) unless configured otherwise.
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(30);

/// How long a fetched key is trusted before it is fetched again (to learn of an `expired_at`
/// set since) unless configured otherwise.
pub const DEFAULT_KEY_REFRESH: Duration = Duration::from_secs(60 * 60);

/// Why a webhook was refused. Nothing in it is secret: key ids and algorithm names are shown
/// (shortened when long), bodies and signatures never.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebhookError {
    /// The request has no `Plaid-Verification` header.
    MissingHeader,
    /// The `Plaid-Verification` header is longer than [`MAX_HEADER_LEN`].
    HeaderTooLarge {
        /// Its length in bytes.
        len: usize,
    },
    /// The header is not a JWT: what is wrong with it.
    Malformed(&'static str),
    /// The JWT's `alg` is not `ES256` (`none`, `HS256`, `RS256`, ... are all refused).
    Algorithm {
        /// The `alg` the JWT named (shortened when long).
        alg: String,
    },
    /// The JWT's header has no `kid`.
    MissingKeyId,
    /// Plaid knows no key with this id.
    UnknownKey {
        /// The key id (shortened when long).
        kid: String,
    },
    /// The key has expired (`expired_at` is set).
    KeyExpired {
        /// The key id.
        kid: String,
        /// When it expired, in seconds since the Unix epoch.
        expired_at: i64,
    },
    /// The key Plaid returned is not an ES256 P-256 key.
    UnusableKey {
        /// The key id.
        kid: String,
    },
    /// The key could not be fetched (network, credentials, Plaid's own error). The webhook may
    /// well be genuine: answering 5xx lets Plaid deliver it again later.
    KeyFetch(Box<crate::Error>),
    /// A key not seen before, while the verifier's budget of key fetches is spent (a flood of
    /// webhooks naming made-up keys, most likely): not fetched now. Answering 5xx lets Plaid
    /// deliver a genuine webhook again later, when the budget has refilled.
    KeyFetchThrottled {
        /// The key id.
        kid: String,
    },
    /// The signature does not verify with the key.
    BadSignature,
    /// A claim the JWT must carry is missing or has the wrong type.
    MissingClaim(&'static str),
    /// The JWT was issued longer ago than allowed.
    TooOld {
        /// How long ago it was issued.
        age: Duration,
        /// The allowed age.
        max_age: Duration,
    },
    /// The JWT claims to be issued in the future, beyond the allowed clock skew.
    IssuedInFuture {
        /// How far ahead.
        ahead: Duration,
    },
    /// The body's SHA-256 is not the one the JWT signs: the body was changed.
    BodyMismatch,
    /// The body verified but is not a webhook (not a JSON object with `webhook_type` and
    /// `webhook_code`, or a listed webhook whose fields do not match its type).
    Body(String),
}

impl WebhookError {
    /// The HTTP status a receiver should answer with: 503 when the key could not be fetched
    /// (so that Plaid retries), 400 for a body that is not a webhook or a request without the
    /// header, 401 for every other refusal.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::KeyFetch(_) | WebhookError::KeyFetchThrottled { .. } => 503,
            WebhookError::MissingHeader | WebhookError::Body(_) => 400,
            _ => 401,
        }
    }

    /// A stable name for the refusal (`bad_signature`, `too_old`, ...), for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader => "missing_header",
            WebhookError::HeaderTooLarge { .. } => "header_too_large",
            WebhookError::Malformed(_) => "malformed",
            WebhookError::Algorithm { .. } => "algorithm",
            WebhookError::MissingKeyId => "missing_key_id",
            WebhookError::UnknownKey { .. } => "unknown_key",
            WebhookError::KeyExpired { .. } => "key_expired",
            WebhookError::UnusableKey { .. } => "unusable_key",
            WebhookError::KeyFetch(_) => "key_fetch",
            WebhookError::KeyFetchThrottled { .. } => "key_fetch_throttled",
            WebhookError::BadSignature => "bad_signature",
            WebhookError::MissingClaim(_) => "missing_claim",
            WebhookError::TooOld { .. } => "too_old",
            WebhookError::IssuedInFuture { .. } => "issued_in_future",
            WebhookError::BodyMismatch => "body_mismatch",
            WebhookError::Body(_) => "body",
        }
    }
}

impl fmt::Display for WebhookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookError::MissingHeader => f.write_str("no Plaid-Verification header"),
            WebhookError::HeaderTooLarge { len } => write!(
                f,
                "the Plaid-Verification header is {len} bytes, over the {MAX_HEADER_LEN}-byte limit"
            ),
            WebhookError::Malformed(what) => {
                write!(f, "the Plaid-Verification header is not a JWT: {what}")
            }
            WebhookError::Algorithm { alg } => {
                write!(
                    f,
                    "the JWT's algorithm {alg:?} is refused: only ES256 is accepted"
                )
            }
            WebhookError::MissingKeyId => f.write_str("the JWT's header has no key id (`kid`)"),
            WebhookError::UnknownKey { kid } => write!(f, "no verification key has id {kid:?}"),
            WebhookError::KeyExpired { kid, expired_at } => write!(
                f,
                "verification key {kid:?} expired (expired_at {expired_at})"
            ),
            WebhookError::UnusableKey { kid } => {
                write!(f, "verification key {kid:?} is not an ES256 P-256 key")
            }
            WebhookError::KeyFetch(e) => write!(f, "could not fetch the verification key: {e}"),
            WebhookError::KeyFetchThrottled { kid } => write!(
                f,
                "verification key {kid:?} was not fetched: too many keys were fetched lately"
            ),
            WebhookError::BadSignature => f.write_str("the JWT's signature does not verify"),
            WebhookError::MissingClaim(claim) => {
                write!(f, "the JWT has no usable `{claim}` claim")
            }
            WebhookError::TooOld { age, max_age } => write!(
                f,
                "the JWT was issued {}s ago, more than the {}s allowed",
                age.as_secs(),
                max_age.as_secs()
            ),
            WebhookError::IssuedInFuture { ahead } => write!(
                f,
                "the JWT claims to be issued {}s in the future",
                ahead.as_secs()
            ),
            WebhookError::BodyMismatch => {
                f.write_str("the body's SHA-256 differs from the signed `request_body_sha256`")
            }
            WebhookError::Body(why) => write!(f, "the verified body is not a webhook: {why}"),
        }
    }
}

impl std::error::Error for WebhookError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebhookError::KeyFetch(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Text an attacker controls, made safe for an error message or a log line: shortened, and
/// every control or invisible character escaped (`\n`, `\u{1b}`), so that it can neither
/// forge a line nor send a terminal an escape code.
pub(crate) fn shown(text: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = text
        .chars()
        .take(MAX)
        .flat_map(char::escape_debug)
        .collect();
    if text.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// A webhook read from a verified body.
#[derive(Clone, Debug, serde::Serialize)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// `ITEM`, `AUTH`, ...
    pub webhook_type: String,
    /// `ERROR`, `DEFAULT_UPDATE`, ...
    pub webhook_code: String,
    /// The Item the webhook is about, when it is about one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    /// The error the webhook reports, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<PlaidError>,
    /// `sandbox` or `production`, when the webhook says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The body, typed by its `webhook_type` and `webhook_code` ([`WebhookKind::Other`] for
    /// webhooks this version has no type for).
    pub kind: WebhookKind,
}

impl WebhookEvent {
    /// Reads a webhook body. Call it only on a body that verified (or in tests): it checks
    /// nothing about where the body came from. Unknown types and codes parse into
    /// [`WebhookKind::Other`]; only a body that is not a webhook at all, or a listed webhook
    /// whose fields do not match its type, is an error.
    pub fn parse(body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        #[derive(Deserialize)]
        struct Head {
            webhook_type: String,
            webhook_code: String,
            #[serde(default)]
            item_id: Option<String>,
            #[serde(default)]
            error: Option<PlaidError>,
            #[serde(default)]
            environment: Option<String>,
        }
        let head: Head =
            serde_json::from_slice(body).map_err(|e| WebhookError::Body(e.to_string()))?;
        let kind =
            WebhookKind::parse(&head.webhook_type, &head.webhook_code, body).map_err(|e| {
                WebhookError::Body(format!(
                    "{} {}: {e}",
                    shown(&head.webhook_type),
                    shown(&head.webhook_code)
                ))
            })?;
        Ok(WebhookEvent {
            webhook_type: head.webhook_type,
            webhook_code: head.webhook_code,
            item_id: head.item_id,
            error: head.error,
            environment: head.environment,
            kind,
        })
    }
}
