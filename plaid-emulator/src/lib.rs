//! An offline emulator of Plaid's processor-token API and its neighbours, for tests and demos:
//! every operation of `plaid_sdk::OPERATIONS`, on both sides of a processor token.
//!
//! - The fintech's side: `/processor/token/create`, `/processor/token/permissions/set` and
//!   `/get`, `/processor/stripe/bank_account_token/create`, `/item/remove`, `/item/get`,
//!   `/item/access_token/invalidate`, `/accounts/get`, `/accounts/balance/get`, `/auth/get`,
//!   `/identity/get`, `/institutions/get_by_id`, `/link/token/create`, the Sandbox flow
//!   (`/sandbox/public_token/create`, `/item/public_token/exchange`) and the webhook family
//!   (`/webhook_verification_key/get`, `/item/webhook/update`, `/sandbox/item/fire_webhook`,
//!   `/sandbox/item/reset_login`).
//! - The partner's side: `/processor/auth/get`, `/processor/balance/get`,
//!   `/processor/identity/get`, `/processor/account/get`, `/processor/token/webhook/update`,
//!   `/sandbox/processor_token/create`.
//!
//! What it models of a processor token: it reads only the account it was minted for; account
//! and routing numbers (ACH; routing `011401533`, the mask ends the account number), balances
//! and owners are the same for the same account every time; the products
//! `/processor/token/permissions/set` allows are enforced on the partner's calls
//! (`INVALID_INPUT`/`INVALID_PRODUCT` for another; `/processor/account/get` needs none);
//! `/item/remove` ends every processor token of the Item (`INVALID_PROCESSOR_TOKEN`);
//! `/item/access_token/invalidate` returns a new access token, the old one fails at once
//! (`INVALID_ACCESS_TOKEN`), and the Item's processor tokens keep working (Plaid's docs say
//! nothing of them on rotation; they belong to the Item, so this is our reading). An Item in
//! an error state (`ITEM_LOGIN_REQUIRED` after `reset_login`) answers that error to the
//! partner's data calls too. `options.account_ids` selects accounts (an unknown one is
//! `INVALID_ACCOUNT_ID`).
//!
//! ## The Sandbox, and Plaid's errors on demand
//!
//! | what | how |
//! |---|---|
//! | test credentials | `options.override_username`/`override_password` of `/sandbox/public_token/create` and `/sandbox/processor_token/create`: `user_good`/`pass_good` (the default); `user_good`/`error_<CODE>` fails Item creation with that error, for every code Plaid lists for it ([`KNOWN_ERRORS`], `sandbox_password`); `user_custom` with a JSON configuration (`override_accounts`: type, subtype, balances, name, limit, ACH numbers, owner; `force_error`); anything else `INVALID_CREDENTIALS` |
//! | an Item's error state | [`Emulator::set_item_error`] with any [`PlaidError`] (`PlaidError::known("ITEM_LOCKED")`), [`Emulator::clear_item_error`]; `reset_login` stays the `ITEM_LOGIN_REQUIRED` case |
//! | an institution down | [`Emulator::set_institution_status`]: `INSTITUTION_DOWN`, `INSTITUTION_NOT_RESPONDING` for its Items' calls and new Items |
//! | faults | [`Emulator::inject`] (any operation) or [`Emulator::inject_at`] (one path), counted per request (retries included); [`Emulator::pending_faults`], [`Emulator::clear_faults`]; [`Fault::PlaidError`] answers any error |
//! | request checks | from the spec fragment, for every operation: `MISSING_FIELDS`, `UNKNOWN_FIELDS`, `INVALID_FIELD` with the field's path; processors beyond the fragment with [`EmulatorBuilder::allow_processor`] |
//! | other languages | the same over HTTP under `/__emulator/` (faults, states, recorded requests, key rotation, the error table), with the emulator's credentials |
//!
//! Not modelled: Link's own flows (MFA, OAuth redirects, reCAPTCHA), transactions, investments,
//! liabilities and income data, the custom user's `transactions`, `holdings` and non-ACH
//! numbers (refused by name, never ignored), and Plaid's rate limits unless injected.
//!
//! A service's handling of a locked Item at link time and of an institution outage later, in a
//! few lines:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use plaid_emulator::{Emulator, InstitutionStatus};
//! use plaid_sdk::types::SandboxPublicTokenCreateRequestOptions;
//! use plaid_sdk::{Environment, PlaidClient, Product};
//!
//! let emulator = Emulator::start().await?;
//! let client = PlaidClient::builder()
//!     .environment(Environment::custom(emulator.base_url())?)
//!     .credentials(emulator.client_id(), emulator.secret())
//!     .build()?;
//!
//! let mut locked = SandboxPublicTokenCreateRequestOptions::default();
//! locked.override_username = Some("user_good".into());
//! locked.override_password = Some("error_ITEM_LOCKED".into());
//! let e = client
//!     .sandbox_public_token_create("ins_109508", vec![Product::Auth])
//!     .options(locked)
//!     .await
//!     .unwrap_err();
//! assert_eq!(e.error_code(), Some("ITEM_LOCKED"));
//!
//! let item = emulator.add_item(); // at ins_109508, the Sandbox's First Platypus Bank
//! emulator.set_institution_status("ins_109508", InstitutionStatus::Down);
//! let e = client.accounts_get(item.access_token.as_str()).await.unwrap_err();
//! assert_eq!(e.error_code(), Some("INSTITUTION_DOWN"));
//! # Ok(())
//! # }
//! ```
//!
//! [`Emulator::start`] serves on `127.0.0.1` with a port the OS picks and stops when the value
//! is dropped. It checks credentials, `Plaid-Version` and request bodies the way Plaid
//! documents, answers with Plaid-shaped errors (`error_type`, `error_code`, `error_message`,
//! `display_message`, `request_id`), and knows only the Items you seed it with.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let emulator = plaid_emulator::Emulator::start().await?;
//! let item = emulator.add_item();
//! assert!(item.access_token.starts_with("access-sandbox-"));
//! assert_eq!(item.accounts.len(), 2);
//! // Point a client at `emulator.base_url()` with `emulator.client_id()` and
//! // `emulator.secret()`; inject faults with `emulator.inject(..)`.
//! # Ok(())
//! # }
//! ```
//!
//! Faults for resilience tests ([`Fault`]) apply to the next N requests (of any operation, or
//! of one path): rate limits with `Retry-After`, 5xx errors, any Plaid error, delays, answers
//! cut short, dropped connections. Every request is recorded ([`Emulator::requests`]) so
//! tests can assert what their code sent.
//!
//! Webhooks are signed with an ES256 key of the emulator's own (fresh each run, rotatable with
//! [`Emulator::rotate_webhook_key`]) and sent to each Item's webhook URL (from the `options`
//! of `/sandbox/public_token/create`, `/link/token/create` in update mode, or
//! `/item/webhook/update`); a reply that is not 2xx, or none within 10 seconds, is retried
//! with growing delays ([`EmulatorBuilder::webhook_retries`]). [`Emulator::sign_webhook`]
//! signs any body, to test a receiver on its own.

mod api;
mod errors;
mod server;
mod webhooks;

pub use errors::{KNOWN_ERRORS, KnownError, PlaidError};
pub use webhooks::WebhookAttempt;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many of the latest requests the emulator keeps for [`Emulator::requests`].
pub const MAX_RECORDED_REQUESTS: usize = 10_000;

/// How many of the latest webhook delivery attempts the emulator keeps for
/// [`Emulator::webhook_attempts`].
pub const MAX_RECORDED_WEBHOOK_ATTEMPTS: usize = 10_000;

/// The client id the emulator accepts unless configured otherwise.
pub const DEFAULT_CLIENT_ID: &str = "emulator-client-id";
/// The secret the emulator accepts unless configured otherwise.
pub const DEFAULT_SECRET: &str = "emulator-secret";

/// A running emulator; dropping it stops the server and closes its connections.
pub struct Emulator {
    base_url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
    delivery: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
        self.delivery.abort();
    }
}

/// Settings of an [`Emulator`].
#[derive(Clone)]
pub struct EmulatorBuilder {
    client_id: String,
    secret: String,
    require_plaid_version: bool,
    delivery: webhooks::DeliveryConfig,
    pub(crate) allowed_processors: Vec<String>,
    pub(crate) listen: std::net::SocketAddr,
}

impl fmt::Debug for EmulatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmulatorBuilder")
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .field("require_plaid_version", &self.require_plaid_version)
            .field("webhook_delivery", &self.delivery)
            .field("allowed_processors", &self.allowed_processors)
            .field("listen", &self.listen)
            .finish()
    }
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            client_id: DEFAULT_CLIENT_ID.into(),
            secret: DEFAULT_SECRET.into(),
            require_plaid_version: true,
            delivery: webhooks::DeliveryConfig::default(),
            allowed_processors: Vec::new(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        }
    }
}

impl EmulatorBuilder {
    /// Accepts `processor` on the operations that take one, besides the processors the spec
    /// fragment lists (`/processor/token/create` refuses others with `INVALID_FIELD`, as Plaid
    /// does): for a partner Plaid added after the fragment was last refreshed.
    pub fn allow_processor(mut self, processor: impl Into<String>) -> Self {
        self.allowed_processors.push(processor.into());
        self
    }

    /// The credentials the emulator accepts.
    pub fn credentials(mut self, client_id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self.secret = secret.into();
        self
    }

    /// Whether a request without `Plaid-Version` is refused (the default). Plaid itself falls
    /// back to the version set in its dashboard; refusing makes a client that forgets the
    /// header fail in tests rather than drift silently.
    pub fn require_plaid_version(mut self, required: bool) -> Self {
        self.require_plaid_version = required;
        self
    }

    /// How long a webhook receiver has to answer before the attempt counts as failed: 10
    /// seconds unless set, as with Plaid.
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.delivery.timeout = timeout;
        self
    }

    /// How failed webhook deliveries are retried: `attempts` in all (at least 1), the first
    /// retry after `first_retry`, each later one four times as long after the one before.
    /// Unless set: 6 attempts from 30 seconds, as Plaid's schedule starts; tests want
    /// milliseconds.
    pub fn webhook_retries(mut self, first_retry: Duration, attempts: u32) -> Self {
        self.delivery.first_retry = first_retry;
        self.delivery.attempts = attempts.max(1);
        self
    }

    /// The address to serve on (`127.0.0.1` with a port the OS picks unless set). The
    /// emulator's credentials are known defaults unless [`credentials`](Self::credentials)
    /// sets others: keep it on loopback.
    pub fn listen(mut self, address: std::net::SocketAddr) -> Self {
        self.listen = address;
        self
    }

    /// Starts serving on the [`listen`](Self::listen) address (`127.0.0.1` with an
    /// OS-assigned port unless set).
    pub async fn start(self) -> std::io::Result<Emulator> {
        let webhooks = Arc::new(webhooks::Shared {
            keys: Mutex::new(webhooks::Keys::new()),
            attempts: Mutex::new(std::collections::VecDeque::new()),
            attempted: tokio::sync::watch::Sender::new(0),
            config: self.delivery.clone(),
        });
        let (outbox, delivery) = webhooks::start_delivery(Arc::clone(&webhooks));
        let state = Arc::new(State {
            config: self,
            data: Mutex::new(Data::default()),
            webhooks,
            outbox,
        });
        let (base_url, server) = match server::serve(Arc::clone(&state)).await {
            Ok(served) => served,
            Err(e) => {
                delivery.abort();
                return Err(e);
            }
        };
        Ok(Emulator {
            base_url,
            state,
            server,
            delivery,
        })
    }
}

impl Emulator {
    /// Starts an emulator with the default credentials ([`DEFAULT_CLIENT_ID`],
    /// [`DEFAULT_SECRET`]).
    pub async fn start() -> std::io::Result<Emulator> {
        EmulatorBuilder::default().start().await
    }

    /// Settings for an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The client id it accepts.
    pub fn client_id(&self) -> &str {
        &self.state.config.client_id
    }

    /// The secret it accepts.
    pub fn secret(&self) -> &str {
        &self.state.config.secret
    }

    /// Seeds an Item with a checking and a savings account.
    pub fn add_item(&self) -> Item {
        self.add_item_with(&[
            AccountSpec::new("Plaid Checking", "depository", "checking"),
            AccountSpec::new("Plaid Saving", "depository", "savings"),
        ])
    }

    /// Seeds an Item with the given accounts.
    pub fn add_item_with(&self, accounts: &[AccountSpec]) -> Item {
        let item = Item::seeded(accounts);
        self.state.data().insert_item(
            item.clone(),
            SANDBOX_INSTITUTION.into(),
            vec!["auth".into()],
        );
        item
    }

    /// Whether the Item behind `access_token` was removed with `/item/remove`.
    pub fn is_removed(&self, access_token: &str) -> bool {
        self.state
            .data()
            .items
            .get(access_token)
            .is_some_and(|i| i.removed)
    }

    /// Makes the next `times` requests, to any operation, fail with `fault` (after the
    /// faults already pending for them). See [`inject_at`](Self::inject_at) to aim at one
    /// operation.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.queue_fault(None, fault, times);
    }

    /// Makes the next `times` requests to `path` (such as `/processor/token/create`) fail
    /// with `fault`; requests to other paths are not counted and not affected.
    ///
    /// Each request that arrives counts, retries included: an SDK client that retries a
    /// `RateLimit` fault twice uses up three of them (its first attempt and two retries), so
    /// set `times` to the attempts the test expects, or use `RetryPolicy::none()`. Pending
    /// faults are listed by [`pending_faults`](Self::pending_faults) and removed by
    /// [`clear_faults`](Self::clear_faults).
    pub fn inject_at(&self, path: &str, fault: Fault, times: usize) {
        self.queue_fault(Some(path.to_string()), fault, times);
    }

    fn queue_fault(&self, path: Option<String>, fault: Fault, times: usize) {
        self.state.queue_fault(path, fault, times);
    }

    /// The faults still to be applied, in the order they were injected.
    pub fn pending_faults(&self) -> Vec<PendingFault> {
        self.state.data().faults.clone()
    }

    /// Removes every pending fault; returns how many requests they would still have affected.
    pub fn clear_faults(&self) -> usize {
        self.state.clear_faults()
    }

    /// Puts the Item of `access_token` in an error state: its data calls (and its processor
    /// tokens' calls) answer `error` until [`clear_item_error`](Self::clear_item_error) (or
    /// `/sandbox/item/fire_webhook` with `LOGIN_REPAIRED`); `/item/get` shows it, and the
    /// Item's webhook URL, if set, receives the ITEM `ERROR` webhook. Any error goes; the
    /// usual ones come from [`PlaidError::known`] (`ITEM_LOCKED`, `PRODUCT_NOT_READY`, ...).
    /// False when no live Item has this token.
    pub fn set_item_error(&self, access_token: &str, error: PlaidError) -> bool {
        self.state.set_item_error(access_token, error)
    }

    /// Clears the Item's error state; false when no live Item has this token.
    pub fn clear_item_error(&self, access_token: &str) -> bool {
        self.state.clear_item_error(access_token)
    }

    /// Sets how the institution `institution_id` (such as `ins_109508`) behaves: while it is
    /// down or not responding, every data call for its Items (the partner's included) and
    /// every Sandbox Item creation there answer `INSTITUTION_DOWN` or
    /// `INSTITUTION_NOT_RESPONDING`.
    pub fn set_institution_status(&self, institution_id: &str, status: InstitutionStatus) {
        self.state.set_institution_status(institution_id, status);
    }

    /// The requests received, oldest first: every one, up to the latest
    /// [`MAX_RECORDED_REQUESTS`] (a long-running emulator keeps no more).
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state.data().requests.iter().cloned().collect()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        self.state.data().request_total
    }

    /// The `Plaid-Verification` header value for a webhook with this exact `body`, signed now
    /// with the emulator's current key: for testing a webhook receiver with any body. The key
    /// is served by `/webhook_verification_key/get`, as Plaid's are.
    pub fn sign_webhook(&self, body: &[u8]) -> String {
        self.sign_webhook_issued_at(body, SystemTime::now())
    }

    /// Like [`sign_webhook`](Self::sign_webhook), with the JWT's `iat` set to `issued_at`
    /// (to test that a receiver refuses old or future-dated webhooks).
    pub fn sign_webhook_issued_at(&self, body: &[u8], issued_at: SystemTime) -> String {
        let iat = match issued_at.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        self.state.webhooks.keys().sign(body, iat)
    }

    /// The id (`kid`) of the key that signs webhooks now.
    pub fn webhook_key_id(&self) -> String {
        self.state.webhooks.keys().current().to_string()
    }

    /// Starts signing with a fresh key and returns its id; earlier keys stay valid (and
    /// fetchable) until expired.
    pub fn rotate_webhook_key(&self) -> String {
        self.state.webhooks.keys().rotate()
    }

    /// Sets `expired_at` on key `kid` (now), as Plaid does for a retired key; false when no
    /// key has that id.
    pub fn expire_webhook_key(&self, kid: &str) -> bool {
        self.state.webhooks.keys().expire(kid)
    }

    /// Sends `body` to `url` as a signed webhook, retried like the emulator's own.
    pub fn send_webhook(&self, url: impl Into<String>, body: serde_json::Value) {
        let _ = self.state.outbox.send(webhooks::Outgoing {
            url: url.into(),
            body,
        });
    }

    /// The webhook delivery attempts so far, oldest first (the latest
    /// [`MAX_RECORDED_WEBHOOK_ATTEMPTS`]). An attempt is listed once its outcome is known (the
    /// receiver answered, failed, or timed out).
    pub fn webhook_attempts(&self) -> Vec<WebhookAttempt> {
        self.state.webhooks.attempts()
    }

    /// Waits until `n` delivery attempts were made in all, then returns the ones kept (see
    /// [`webhook_attempts`](Self::webhook_attempts)): for tests that assert on deliveries
    /// without guessing how long they take.
    pub async fn wait_for_webhook_attempts(&self, n: usize) -> Vec<WebhookAttempt> {
        let mut attempted = self.state.webhooks.attempted.subscribe();
        // The sender lives as long as the emulator, which `self` keeps alive.
        let _ = attempted.wait_for(|count| *count >= n).await;
        self.webhook_attempts()
    }

    /// How many processor tokens were minted.
    pub fn processor_token_count(&self) -> usize {
        self.state.data().processor_tokens.len()
    }
}

/// An account to seed.
#[derive(Clone, Debug)]
pub struct AccountSpec {
    name: String,
    account_type: String,
    subtype: String,
    available: Option<f64>,
    current: f64,
    limit: Option<f64>,
    numbers: Option<AchNumbers>,
    owner: Option<serde_json::Map<String, serde_json::Value>>,
}

impl AccountSpec {
    /// An account named `name` of Plaid's `type` and `subtype` (`depository`/`checking`, ...),
    /// with 100.00 available and 110.00 current.
    pub fn new(
        name: impl Into<String>,
        account_type: impl Into<String>,
        subtype: impl Into<String>,
    ) -> Self {
        AccountSpec {
            name: name.into(),
            account_type: account_type.into(),
            subtype: subtype.into(),
            available: Some(100.0),
            current: 110.0,
            limit: None,
            numbers: None,
            owner: None,
        }
    }

    /// Its balances (in USD): available (if reported), current, and a credit or overdraft
    /// limit (if any).
    pub fn balances(mut self, available: Option<f64>, current: f64, limit: Option<f64>) -> Self {
        self.available = available;
        self.current = current;
        self.limit = limit;
        self
    }

    /// ACH numbers instead of derived ones (the mask becomes the account number's last four).
    pub(crate) fn numbers(mut self, numbers: AchNumbers) -> Self {
        self.numbers = Some(numbers);
        self
    }

    /// Owner fields (`names`, `emails`, `phone_numbers`, `addresses`) over the derived owner.
    pub(crate) fn owner(mut self, owner: serde_json::Map<String, serde_json::Value>) -> Self {
        self.owner = Some(owner);
        self
    }
}

impl Item {
    /// A new Item with fresh ids and the given accounts.
    pub(crate) fn seeded(accounts: &[AccountSpec]) -> Item {
        Item {
            item_id: random_id(37),
            access_token: format!("access-sandbox-{}", uuid_like()),
            accounts: accounts
                .iter()
                .map(|spec| Account {
                    account_id: random_id(37),
                    name: spec.name.clone(),
                    mask: match spec.numbers.as_ref().and_then(|n| n.account.as_deref()) {
                        Some(number) => number[number.len().saturating_sub(4)..].to_string(),
                        None => format!("{:04}", fastrand::u16(0..10000)),
                    },
                    account_type: spec.account_type.clone(),
                    subtype: spec.subtype.clone(),
                    available: spec.available,
                    current: spec.current,
                    limit: spec.limit,
                    numbers: spec.numbers.clone(),
                    owner: spec.owner.clone(),
                })
                .collect(),
        }
    }
}

/// A seeded Item.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Item {
    /// Plaid's id of the Item.
    pub item_id: String,
    /// The access token that reaches it (`access-sandbox-…`).
    pub access_token: String,
    /// Its accounts.
    pub accounts: Vec<Account>,
}

/// An account of a seeded Item.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Account {
    /// The id to pass as `account_id`.
    pub account_id: String,
    /// Its display name.
    pub name: String,
    /// The last four digits of its number.
    pub mask: String,
    /// Plaid's account type.
    pub account_type: String,
    /// Plaid's account subtype.
    pub subtype: String,
    /// The available balance, if reported.
    pub available: Option<f64>,
    /// The current balance.
    pub current: f64,
    /// The credit or overdraft limit, if any.
    pub limit: Option<f64>,
    /// Numbers set by a custom Sandbox user, instead of derived ones.
    pub(crate) numbers: Option<AchNumbers>,
    /// Owner fields set by a custom Sandbox user, over the derived owner.
    pub(crate) owner: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An account's ACH numbers as a custom Sandbox user sets them (each derived when unset).
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct AchNumbers {
    pub(crate) account: Option<String>,
    pub(crate) routing: Option<String>,
    pub(crate) wire_routing: Option<String>,
}

/// A fault to inject into the next requests.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// HTTP 429 `RATE_LIMIT_EXCEEDED` with `Retry-After: <seconds>`.
    RateLimit {
        /// The `Retry-After` value, in seconds.
        retry_after_secs: u64,
    },
    /// A Plaid `API_ERROR` with this status (500 `INTERNAL_SERVER_ERROR`, 503
    /// `PLANNED_MAINTENANCE`, other 5xx `INTERNAL_SERVER_ERROR`).
    ServerError {
        /// The HTTP status.
        status: u16,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Run the operation (it takes effect), then answer HTTP 200 with its own success body cut
    /// in half: not valid JSON, as a connection cut mid-answer leaves it.
    MalformedBody,
    /// HTTP 502 with an HTML page, as a load balancer sends.
    BadGatewayHtml,
    /// Close the connection without answering.
    DropConnection,
    /// Answer this Plaid error (any status, `error_type`, `error_code`, messages) without
    /// running the operation.
    PlaidError(PlaidError),
    /// Hold the request until the gate opens, then answer normally: a request that stays in
    /// flight exactly as long as a test needs, with no timing involved.
    Hold(Gate),
    /// Behave like a misbehaving proxy that echoes what it received: answer with this status
    /// and a Plaid-shaped error whose `error_message` holds the raw request (body and every
    /// header value) and whose `request_id` is the request's `access_token`.
    EchoRequest {
        /// The HTTP status.
        status: u16,
    },
}

/// A fault waiting for requests ([`Emulator::pending_faults`]).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PendingFault {
    /// The path it is aimed at; `None` for any.
    pub path: Option<String>,
    /// What it does.
    pub fault: Fault,
    /// How many more requests it affects.
    pub remaining: usize,
}

/// How an institution behaves ([`Emulator::set_institution_status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstitutionStatus {
    /// Answers normally (the default).
    Healthy,
    /// `INSTITUTION_DOWN`.
    Down,
    /// `INSTITUTION_NOT_RESPONDING`.
    NotResponding,
}

/// Opens held requests ([`Fault::Hold`]); clones share one gate.
#[derive(Clone, Debug)]
pub struct Gate(std::sync::Arc<tokio::sync::Semaphore>);

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Gate(std::sync::Arc::new(tokio::sync::Semaphore::new(0)))
    }

    /// Lets every request held now or later through.
    pub fn open(&self) {
        self.0.close();
    }

    async fn pass(&self) {
        // Closed means open: `acquire` fails at once for every waiter, now and later.
        let _ = self.0.acquire().await;
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

/// A request as the emulator received it.
#[derive(Clone)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// `POST`, ...
    pub method: String,
    /// The path, such as `/processor/token/create`.
    pub path: String,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

impl fmt::Debug for ReceivedRequest {
    /// Shows header names and the body size only: requests carry secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ReceivedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("headers", &names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

pub(crate) struct State {
    pub(crate) config: EmulatorBuilder,
    data: Mutex<Data>,
    pub(crate) webhooks: Arc<webhooks::Shared>,
    pub(crate) outbox: tokio::sync::mpsc::UnboundedSender<webhooks::Outgoing>,
}

impl State {
    /// Queues a signed webhook for delivery.
    pub(crate) fn send_webhook(&self, url: String, body: serde_json::Value) {
        let _ = self.outbox.send(webhooks::Outgoing { url, body });
    }
}

impl State {
    pub(crate) fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What [`Emulator::inject_at`] and the control surface's `POST /__emulator/faults` do.
    pub(crate) fn queue_fault(&self, path: Option<String>, fault: Fault, times: usize) {
        if times > 0 {
            self.data().faults.push(PendingFault {
                path,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn clear_faults(&self) -> usize {
        self.data().faults.drain(..).map(|f| f.remaining).sum()
    }

    pub(crate) fn set_item_error(&self, access_token: &str, error: PlaidError) -> bool {
        let mut data = self.data();
        let Some(item) = data.items.get_mut(access_token).filter(|i| !i.removed) else {
            return false;
        };
        let webhook = api::set_item_error(item, error);
        drop(data);
        if let Some((url, body)) = webhook {
            self.send_webhook(url, body);
        }
        true
    }

    pub(crate) fn clear_item_error(&self, access_token: &str) -> bool {
        let mut data = self.data();
        match data.items.get_mut(access_token).filter(|i| !i.removed) {
            Some(item) => {
                item.error = None;
                true
            }
            None => false,
        }
    }

    pub(crate) fn set_institution_status(&self, institution_id: &str, status: InstitutionStatus) {
        let mut data = self.data();
        let code = match status {
            InstitutionStatus::Healthy => {
                data.institution_errors.remove(institution_id);
                return;
            }
            InstitutionStatus::Down => "INSTITUTION_DOWN",
            InstitutionStatus::NotResponding => "INSTITUTION_NOT_RESPONDING",
        };
        let error = PlaidError::known(code)
            .unwrap_or_else(|| PlaidError::new(400, "INSTITUTION_ERROR", code, ""));
        data.institution_errors
            .insert(institution_id.to_string(), error);
    }
}

/// The institution Sandbox Items belong to unless another is asked for.
pub(crate) const SANDBOX_INSTITUTION: &str = "ins_109508";

#[derive(Default)]
pub(crate) struct Data {
    /// Access token → Item.
    pub(crate) items: HashMap<String, ItemState>,
    /// Processor token → what it grants.
    pub(crate) processor_tokens: HashMap<String, ProcessorTokenState>,
    /// Public token → the access token it exchanges for, and whether it was exchanged.
    pub(crate) public_tokens: HashMap<String, (String, bool)>,
    pub(crate) faults: Vec<PendingFault>,
    /// Institutions that are down or not responding, with the error their Items answer.
    pub(crate) institution_errors: HashMap<String, PlaidError>,
    /// The latest requests, at most [`MAX_RECORDED_REQUESTS`].
    pub(crate) requests: std::collections::VecDeque<ReceivedRequest>,
    /// How many requests arrived in all.
    pub(crate) request_total: usize,
}

impl Data {
    pub(crate) fn insert_item(
        &mut self,
        item: Item,
        institution_id: String,
        products: Vec<String>,
    ) {
        self.items.insert(
            item.access_token.clone(),
            ItemState {
                item,
                institution_id,
                products,
                removed: false,
                webhook: None,
                error: None,
            },
        );
    }
}

pub(crate) struct ItemState {
    pub(crate) item: Item,
    pub(crate) institution_id: String,
    pub(crate) products: Vec<String>,
    pub(crate) removed: bool,
    /// Where the Item's webhooks go, if set.
    pub(crate) webhook: Option<String>,
    /// The Item's error (`ITEM_LOGIN_REQUIRED` after `/sandbox/item/reset_login`).
    pub(crate) error: Option<PlaidError>,
}

pub(crate) struct ProcessorTokenState {
    /// The access token of its Item (kept current when the access token is rotated).
    pub(crate) access_token: String,
    /// The one account the token reads.
    pub(crate) account_id: String,
    #[allow(dead_code)] // what it was minted for; Plaid does not check it on redemption
    pub(crate) processor: String,
    /// The products the partner may use; empty means no limit.
    pub(crate) products: Vec<String>,
    /// Where the partner receives this token's webhooks, if set.
    pub(crate) webhook: Option<String>,
}

impl Data {
    /// Records a request, forgetting the oldest beyond [`MAX_RECORDED_REQUESTS`].
    pub(crate) fn record(&mut self, request: ReceivedRequest) {
        if self.requests.len() == MAX_RECORDED_REQUESTS {
            self.requests.pop_front();
        }
        self.requests.push_back(request);
        self.request_total += 1;
    }

    /// Takes one use of the first pending fault aimed at `path` (or at any path).
    pub(crate) fn take_fault(&mut self, path: &str) -> Option<Fault> {
        let index = self
            .faults
            .iter()
            .position(|f| f.path.as_deref().is_none_or(|p| p == path))?;
        let pending = &mut self.faults[index];
        pending.remaining -= 1;
        let fault = pending.fault.clone();
        if pending.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }

    /// Moves an Item to a new access token: the old one stops working at once, and the
    /// Item's processor tokens follow it (they belong to the Item, not to the access token).
    pub(crate) fn rotate_access_token(&mut self, old: &str, new: String) {
        let Some(mut item) = self.items.remove(old) else {
            return;
        };
        item.item.access_token = new.clone();
        for token in self.processor_tokens.values_mut() {
            if token.access_token == old {
                token.access_token = new.clone();
            }
        }
        self.items.insert(new, item);
    }
}

/// Seeds the generator of the ids and tokens the emulator hands out, on the calling thread: an
/// emulator served by a current-thread runtime on this thread then hands out the same ids
/// and tokens on every run, for the same requests in the same order (what `--seed` of the
/// binary does).
pub fn seed_ids(seed: u64) {
    fastrand::seed(seed);
}

/// `len` random characters from Plaid's id alphabet.
pub(crate) fn random_id(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// 8-4-4-4-12 random hex digits, the shape of Plaid's token identifiers.
pub(crate) fn uuid_like() -> String {
    let hex = |n: usize| -> String {
        (0..n)
            .map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0'))
            .collect()
    };
    format!("{}-{}-{}-{}-{}", hex(8), hex(4), hex(4), hex(4), hex(12))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_keeps_the_latest_requests_and_counts_them_all() {
        let mut data = Data::default();
        for n in 0..MAX_RECORDED_REQUESTS + 5 {
            data.record(ReceivedRequest {
                method: "POST".into(),
                path: format!("/{n}"),
                headers: Vec::new(),
                body: Vec::new(),
            });
        }
        assert_eq!(data.request_total, MAX_RECORDED_REQUESTS + 5);
        assert_eq!(data.requests.len(), MAX_RECORDED_REQUESTS);
        assert_eq!(data.requests.front().map(|r| r.path.as_str()), Some("/5"));
    }

    #[tokio::test]
    async fn the_webhook_record_keeps_the_latest_attempts_and_counts_them_all() {
        let emulator = Emulator::start().await.expect("emulator");
        let total = MAX_RECORDED_WEBHOOK_ATTEMPTS + 5;
        for n in 0..total {
            emulator.state.webhooks.record(WebhookAttempt {
                url: format!("http://127.0.0.1:9/{n}"),
                webhook_type: "ITEM".into(),
                webhook_code: "ERROR".into(),
                attempt: 1,
                status: Some(200),
            });
        }
        let kept = emulator.wait_for_webhook_attempts(total).await;
        assert_eq!(kept.len(), MAX_RECORDED_WEBHOOK_ATTEMPTS);
        assert_eq!(
            kept[0].url, "http://127.0.0.1:9/5",
            "the oldest are forgotten"
        );
        assert_eq!(
            kept.last().map(|a| a.url.as_str()),
            Some(format!("http://127.0.0.1:9/{}", total - 1).as_str())
        );
    }
}
