//! The runtime that sends every operation: one request built from the operation's facts
//! (method and URL, parsed once per client; the JSON body; the client's headers), sent with
//! retries, its answer read under a size limit and a timeout and parsed into the operation's
//! response type, or turned into the user's [`Error`] with everything the server controlled
//! redacted.
//!
//! What is one per operation (path, request and response types) is generated; the model
//! refuses at generation time an operation this runtime would not send faithfully (path,
//! query or header parameters, a success other than `200`).

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use reqwest::header::HeaderMap;

use crate::environment::Environment;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::operation::private::Dispatch;
use crate::redact::Redactor;
use crate::retry::{Decision, Outcome, RetryPolicy, decide, parse_retry_after};
use crate::secret::ClientSecret;

/// What every call of one [`PlaidClient`](crate::PlaidClient) shares. Built once, by
/// [`Shared::new`], from the builder's checked settings.
pub(crate) struct Shared {
    pub(crate) environment: Environment,
    http: reqwest::Client,
    /// Each operation's method and URL, in the order of [`OPERATIONS`](crate::OPERATIONS).
    routes: Vec<Route>,
    /// Credentials (marked sensitive), `Plaid-Version`, `User-Agent`, `Accept` and
    /// `Content-Type`: every request's headers, built once.
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    max_body_bytes: usize,
    /// Values scrubbed from any body excerpt shown in an error.
    secrets: Vec<ClientSecret>,
}

/// One operation's method and URL (the base URL followed by its path), parsed once.
struct Route {
    path: &'static str,
    method: reqwest::Method,
    url: reqwest::Url,
}

/// The limits a client applies to each call unless the call overrides them.
pub(crate) struct Limits {
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_body_bytes: usize,
}

impl Shared {
    /// The secrets this client holds (its Plaid secret, a gateway token), for redaction.
    pub(crate) fn secret_values(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(ClientSecret::expose_secret)
    }

    pub(crate) fn new(
        environment: Environment,
        http: reqwest::Client,
        mut headers: HeaderMap,
        secrets: Vec<ClientSecret>,
        limits: Limits,
    ) -> Result<Self, ConfigError> {
        let routes = crate::OPERATIONS
            .iter()
            .map(|op| route(environment.base_url(), op.method, op.path))
            .collect::<Result<Vec<_>, _>>()?;
        let json = reqwest::header::HeaderValue::from_static("application/json");
        headers.insert(reqwest::header::ACCEPT, json.clone());
        headers.insert(reqwest::header::CONTENT_TYPE, json);
        Ok(Shared {
            environment,
            http,
            routes,
            headers,
            timeout: limits.timeout,
            retry: limits.retry,
            max_body_bytes: limits.max_body_bytes,
            secrets,
        })
    }

    /// The method and URL of `R`'s operation: from the table, or made afresh should the
    /// table not hold it (it always does; the path is compared, so a mismatch cannot send a
    /// request to another operation's URL).
    fn route<R: Dispatch>(&self) -> Result<(reqwest::Method, reqwest::Url), ConfigError> {
        match self.routes.get(R::INDEX) {
            Some(r) if r.path == R::PATH => Ok((r.method.clone(), r.url.clone())),
            _ => route(self.environment.base_url(), R::METHOD, R::PATH).map(|r| (r.method, r.url)),
        }
    }

    /// Sends `body` to `target`, retrying as the policy allows, and returns the parsed
    /// success, or why the last attempt failed; `record` keeps what an error needs.
    pub(crate) async fn send<
        G: Target,
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    >(
        &self,
        target: &G,
        body: &B,
        options: &CallOptions,
        record: &mut Record,
    ) -> Result<T, Failure> {
        let policy = options.retry.as_deref().unwrap_or(&self.retry);
        let timeout = options.timeout.unwrap_or(self.timeout);
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            record.attempts = attempt;
            // Built afresh for each attempt (a retry is rare): nothing is copied ahead of time.
            // Each step is bound by `let`, so no match temporary is kept across an `.await`
            // (the call's future would hold a request and a response it no longer needs).
            let failure = 'attempt: {
                let request = match self.request(target, body, timeout) {
                    Ok(request) => request,
                    Err(failure) => break 'attempt failure,
                };
                let response = match self.http.execute(request).await {
                    Ok(response) => response,
                    Err(e) => {
                        record.clear_answer();
                        break 'attempt Failure::Transport(e);
                    }
                };
                match self.receive::<T>(response, record).await {
                    Ok(value) => return Ok(value),
                    Err(failure) => failure,
                }
            };
            let repeatable = target.repeatable();
            match self.decide(
                &failure,
                record,
                policy,
                repeatable,
                attempt,
                started.elapsed(),
            ) {
                Decision::Retry(delay) => {
                    tracing::debug!(
                        attempt,
                        status = record.status,
                        error = failure.class(),
                        delay_ms = delay.as_millis() as u64,
                        "plaid: retrying"
                    );
                    policy.sleeper.sleep(delay).await;
                }
                Decision::Stop => return Err(failure),
            }
        }
    }

    /// One attempt's request: the target's URL, the client's headers, the JSON body.
    fn request<G: Target, B: serde::Serialize + ?Sized>(
        &self,
        target: &G,
        body: &B,
        timeout: Duration,
    ) -> Result<reqwest::Request, Failure> {
        let (method, url) = target.route(self).map_err(Failure::Route)?;
        let json = serde_json::to_vec(body).map_err(|e| Failure::Encode(e.to_string()))?;
        let mut request = reqwest::Request::new(method, url);
        *request.headers_mut() = self.headers.clone();
        *request.body_mut() = Some(reqwest::Body::from(json));
        *request.timeout_mut() = Some(timeout);
        Ok(request)
    }

    /// Reads what came back (within the size limit) and parses a `200` into `T`; anything
    /// else is a [`Failure`], with what an error needs recorded.
    pub(crate) async fn receive<T: serde::de::DeserializeOwned>(
        &self,
        mut response: reqwest::Response,
        record: &mut Record,
    ) -> Result<T, Failure> {
        let status = response.status();
        record.clear_answer();
        record.status = Some(status.as_u16());
        let limit = self.max_body_bytes;
        if status == reqwest::StatusCode::OK {
            // The common case: a declared length within the limit (hyper stops reading at it).
            let bytes = if let Some(n) = response.content_length().filter(|n| *n <= limit as u64) {
                read_declared(&mut response, n as usize)
                    .await
                    .map_err(Failure::Transport)?
            } else {
                match Box::pin(read_body(response, limit)).await {
                    Ok(Some(body)) => body.bytes,
                    Ok(None) => return Err(Failure::TooLarge),
                    Err(e) => return Err(Failure::Transport(e)),
                }
            };
            return serde_json::from_slice::<T>(&bytes).map_err(|e| {
                let message = decode_message::<T>(&bytes, &e);
                record.body = bytes;
                Failure::Decode(message)
            });
        }
        let body = match Box::pin(read_body(response, limit)).await {
            Ok(Some(body)) => body,
            Ok(None) => return Err(Failure::TooLarge),
            Err(e) => return Err(Failure::Transport(e)),
        };
        record.retry_after = body
            .headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // Kept as received (bounded); the error shows it only when it looks like Plaid's.
        let from_header = body
            .headers
            .get("plaid-request-id")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        record.request_id = request_id_of(&body.bytes).or(from_header);
        record.body = body.bytes;
        Err(Failure::Status)
    }

    /// Whether attempt number `attempt`, which ended in `failure`, is retried.
    pub(crate) fn decide(
        &self,
        failure: &Failure,
        record: &Record,
        policy: &RetryPolicy,
        repeatable: bool,
        attempt: u32,
        elapsed: Duration,
    ) -> Decision {
        let outcome = match failure {
            Failure::Status => {
                let status = record.status.unwrap_or_default();
                if (200..300).contains(&status) {
                    return Decision::Stop;
                }
                let error_type = if status >= 500 {
                    error_type_of(&record.body)
                } else {
                    None
                };
                let outcome = Outcome::Status {
                    status,
                    retry_after: record.retry_after,
                    error_type: error_type.as_ref(),
                };
                return decide(
                    policy,
                    outcome,
                    repeatable,
                    attempt,
                    elapsed,
                    fastrand::f64(),
                );
            }
            Failure::Transport(e) if e.is_connect() => Outcome::Connect,
            Failure::Transport(e) if e.is_builder() => Outcome::Fatal,
            Failure::Transport(_) => Outcome::Ambiguous,
            Failure::Decode(_) | Failure::TooLarge | Failure::Encode(_) | Failure::Route(_) => {
                Outcome::Fatal
            }
        };
        decide(
            policy,
            outcome,
            repeatable,
            attempt,
            elapsed,
            fastrand::f64(),
        )
    }

    /// The user's error for a call whose last attempt ended in `failure`. Everything the
    /// server controlled that the error keeps goes through `redactor`.
    pub(crate) fn error(
        &self,
        operation: std::borrow::Cow<'static, str>,
        repeatable: bool,
        options: &CallOptions,
        record: &Record,
        failure: Failure,
        redactor: &Redactor<'_>,
    ) -> Error {
        let with_id = |e: Error, raw: Option<&str>| {
            let shown = raw.and_then(|id| redactor.request_id(id));
            let withheld = raw.is_some() && shown.is_none();
            e.with_request_id(shown).with_request_id_withheld(withheld)
        };
        let error = |kind| {
            with_id(
                Error::new(kind)
                    .with_operation(operation.clone())
                    .with_repeatable(repeatable)
                    .with_attempts(record.attempts)
                    .with_retry_after(record.retry_after),
                record.request_id.as_deref(),
            )
        };
        let with_status = |e: Error| match record.status {
            Some(s) => e.with_status(s),
            None => e,
        };
        match failure {
            Failure::Status => {
                let status = record.status.unwrap_or_default();
                let plaid = if (400..600).contains(&status) {
                    serde_json::from_slice::<crate::PlaidError>(&record.body)
                        .ok()
                        .filter(crate::PlaidError::is_plaid_shaped)
                } else {
                    None
                };
                match plaid {
                    Some(mut plaid) => {
                        plaid.redact(redactor);
                        error(ErrorKind::Api(Box::new(plaid))).with_status(status)
                    }
                    None => unexpected(error, status, &record.body, redactor),
                }
            }
            Failure::Decode(message) => {
                // A success's request id is not recorded up front; read it from the body here.
                let e = error(ErrorKind::Decode(redactor.text(&message)));
                with_id(with_status(e), request_id_of(&record.body).as_deref())
            }
            Failure::TooLarge => with_status(error(ErrorKind::BodyTooLarge {
                limit: self.max_body_bytes,
            })),
            Failure::Transport(e) => {
                let kind = if e.is_timeout() {
                    ErrorKind::Timeout
                } else if e.is_connect() {
                    ErrorKind::Connect
                } else {
                    ErrorKind::Transport
                };
                let timeout = options.timeout.unwrap_or(self.timeout);
                let error = match kind {
                    ErrorKind::Timeout => error(kind).with_timeout(timeout),
                    kind => error(kind),
                };
                with_status(error).with_source(StrippedError::of(&e, redactor))
            }
            Failure::Encode(message) => error(ErrorKind::Transport)
                .with_source(StrippedError(redactor.text(&redact_serde(&message)))),
            Failure::Route(e) => error(ErrorKind::Config(e)),
        }
    }
}

/// Where a call goes, and whether repeating it is harmless.
pub(crate) trait Target {
    /// The method and URL of the call.
    fn route(&self, shared: &Shared) -> Result<(reqwest::Method, reqwest::Url), ConfigError>;
    /// Whether the call only reads (see [`RetryPolicy`]).
    fn repeatable(&self) -> bool;
}

/// A generated operation: its route comes from the client's table.
pub(crate) struct Operation<R>(std::marker::PhantomData<fn() -> R>);

impl<R> Operation<R> {
    pub(crate) const TARGET: Self = Operation(std::marker::PhantomData);
}

impl<R: Dispatch> Target for Operation<R> {
    fn route(&self, shared: &Shared) -> Result<(reqwest::Method, reqwest::Url), ConfigError> {
        shared.route::<R>()
    }
    fn repeatable(&self) -> bool {
        R::REPEATABLE
    }
}

/// A raw call ([`PlaidClient::call`](crate::PlaidClient::call)): a `POST` to a path checked
/// beforehand.
pub(crate) struct RawTarget {
    pub(crate) url: reqwest::Url,
    pub(crate) repeatable: bool,
}

impl Target for RawTarget {
    fn route(&self, _: &Shared) -> Result<(reqwest::Method, reqwest::Url), ConfigError> {
        Ok((reqwest::Method::POST, self.url.clone()))
    }
    fn repeatable(&self) -> bool {
        self.repeatable
    }
}

impl Shared {
    /// The URL of `path` (checked by the caller) below the client's base URL.
    pub(crate) fn raw_url(&self, path: &str) -> Result<reqwest::Url, ConfigError> {
        reqwest::Url::parse(&format!("{}{path}", self.environment.base_url()))
            .map_err(|e| ConfigError::InvalidBaseUrl(e.to_string()))
    }
}

/// The method and URL of the operation at `path` below `base`, joined as text (a base URL
/// with a path prefix keeps it).
fn route(base: &str, method: &str, path: &'static str) -> Result<Route, ConfigError> {
    let url = reqwest::Url::parse(&format!("{base}{path}"))
        .map_err(|e| ConfigError::InvalidBaseUrl(e.to_string()))?;
    let method = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|_| ConfigError::InvalidSetting(format!("unknown HTTP method `{method}`")))?;
    Ok(Route { path, method, url })
}

impl Shared {
    /// The `User-Agent` every request carries.
    #[cfg(test)]
    pub(crate) fn user_agent(&self) -> Option<&str> {
        self.headers
            .get(reqwest::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlaidClient")
            .field("environment", &self.environment)
            .field("credentials", &self.headers.contains_key("plaid-secret"))
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Per-call settings.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    /// Boxed: rarely set, and it would make every call's future 64 bytes larger.
    pub(crate) retry: Option<Box<RetryPolicy>>,
}

/// What the attempts of one call came to, for its error and its span.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    /// The last answer's body, as read, when it is not a success.
    pub(crate) body: Bytes,
}

impl Record {
    /// Forgets the previous attempt's answer (the attempt count stays).
    fn clear_answer(&mut self) {
        *self = Record {
            attempts: self.attempts,
            ..Record::default()
        };
    }
}

/// Why an attempt did not return a parsed success.
#[derive(Debug)]
pub(crate) enum Failure {
    /// An answer other than `200`; its status and body are in the [`Record`].
    Status,
    /// A `200` whose body is not the response type: why (field path, no values). The body
    /// is in the [`Record`].
    Decode(String),
    /// A body over the limit.
    TooLarge,
    /// No answer, or a body that could not be read.
    Transport(reqwest::Error),
    /// The request body could not be serialized.
    Encode(String),
    /// The operation's URL could not be made from the base URL.
    Route(ConfigError),
}

impl Failure {
    fn class(&self) -> &'static str {
        match self {
            Failure::Status => "status",
            Failure::Transport(e) => error_class(e),
            _ => "other",
        }
    }
}

/// A response body read in full, with the response's headers.
struct ReadBody {
    headers: reqwest::header::HeaderMap,
    bytes: Bytes,
}

/// Reads a body whose declared length, `n`, is within the limit (hyper stops at it). A body
/// that arrives in one piece is returned as it is. (Smaller than `Response::bytes`'s future,
/// which every call's future would hold.)
async fn read_declared(response: &mut reqwest::Response, n: usize) -> reqwest::Result<Bytes> {
    let Some(first) = response.chunk().await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = response.chunk().await? else {
        return Ok(first);
    };
    let mut body = bytes::BytesMut::with_capacity(n.max(first.len() + second.len()));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads the body unless it exceeds `limit` bytes (then `None`, having read no more than the
/// limit and one chunk).
async fn read_body(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<Option<ReadBody>> {
    let headers = std::mem::take(response.headers_mut());
    match response.content_length() {
        Some(n) if n > limit as u64 => Ok(None),
        // A declared length within the limit: hyper stops at it, so one collect is bounded.
        Some(n) => Ok(Some(ReadBody {
            headers,
            bytes: read_declared(&mut response, n as usize).await?,
        })),
        None => {
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > limit {
                    return Ok(None);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Some(ReadBody {
                headers,
                bytes: Bytes::from(body),
            }))
        }
    }
}

/// The `request_id` of a JSON body, if it has one, without parsing anything else. Not yet
/// checked: see [`Redactor::request_id`].
fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        request_id: Option<String>,
    }
    serde_json::from_slice::<Id>(body).ok()?.request_id
}

/// The `error_type` of a JSON error body, if it has one.
fn error_type_of(body: &[u8]) -> Option<crate::ErrorType> {
    #[derive(serde::Deserialize)]
    struct Type {
        error_type: Option<crate::ErrorType>,
    }
    serde_json::from_slice::<Type>(body).ok()?.error_type
}

fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
    }
}

fn unexpected(
    error: impl Fn(ErrorKind) -> Error,
    status: u16,
    body: &[u8],
    redactor: &Redactor<'_>,
) -> Error {
    let e = error(ErrorKind::UnexpectedResponse).with_status(status);
    if body.is_empty() {
        e
    } else {
        e.with_excerpt(crate::error::excerpt(body, redactor))
    }
}

/// Why `body` is not a `T`, with the path of the offending field (`processor_token: invalid
/// type: null, expected a string at line 1 column 23`) and no quoted values.
fn decode_message<T: serde::de::DeserializeOwned>(
    body: &[u8],
    fallback: &serde_json::Error,
) -> String {
    let mut de = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) if e.path().iter().next().is_some() => {
            format!("{}: {}", e.path(), redact_serde(&e.inner().to_string()))
        }
        Err(e) => redact_serde(&e.inner().to_string()),
        Ok(_) => redact_serde(&fallback.to_string()),
    }
}

/// serde_json quotes offending string values (`invalid type: string "…"`); those may be
/// secrets, so every quoted run is elided. Field names, in backticks, stay.
fn redact_serde(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// A transport error's message chain, kept as the source of [`Error`] without exposing
/// reqwest's type.
#[derive(Debug)]
struct StrippedError(String);

impl StrippedError {
    /// The innermost cause (such as `Connection refused (os error 111)`), which is what a
    /// reader needs; the outer layers only repeat that a request failed.
    fn of(e: &reqwest::Error, redactor: &Redactor<'_>) -> Self {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text = s.to_string();
            source = s.source();
        }
        StrippedError(redactor.text(&text))
    }
}

impl fmt::Display for StrippedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StrippedError {}

/// Entry points for `cargo fuzz` (see `fuzz/`), compiled only with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    use super::*;
    use crate::generated::types::ProcessorTokenCreateResponse;

    thread_local! {
        static RUNTIME: Option<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
        static CLIENT: Option<crate::PlaidClient> = Environment::custom("http://127.0.0.1:9")
            .ok()
            .and_then(|e| crate::PlaidClient::builder().environment(e).credentials("id", "fuzz-secret").build().ok());
    }

    #[cfg(feature = "webhooks")]
    thread_local! {
        static VERIFIER: Option<crate::webhooks::WebhookVerifier> = Environment::custom("http://127.0.0.1:9")
            .ok()
            .and_then(|e| {
                crate::PlaidClient::builder()
                    .environment(e)
                    .credentials("id", "fuzz-secret")
                    .retry_policy(RetryPolicy::none())
                    .build()
                    .ok()
            })
            .map(crate::webhooks::WebhookVerifier::new);
    }

    /// One webhook (a `Plaid-Verification` header value and a body) through the verifier:
    /// every input must end in a typed refusal (or, never here, a verified event), and its
    /// every rendering must work. Keys are fetched from a closed port: after the verifier's
    /// fetch budget is spent, new key ids are refused without a connection.
    #[cfg(feature = "webhooks")]
    pub fn webhook(header: &[u8], body: &[u8]) {
        let Ok(value) = http::HeaderValue::from_bytes(header) else {
            return;
        };
        let mut headers = http::HeaderMap::new();
        headers.insert(crate::webhooks::VERIFICATION_HEADER, value);
        let Some(verifier) = VERIFIER.with(Clone::clone) else {
            return;
        };
        RUNTIME.with(|runtime| {
            let Some(runtime) = runtime else { return };
            if let Err(e) = runtime.block_on(verifier.verify(&headers, body)) {
                let _ = (e.to_string(), format!("{e:?}"), e.http_status(), e.name());
            }
        });
    }

    /// One response (status, headers, body) through everything the SDK does with a
    /// `/processor/token/create` response: reading and recording, the parsing, the retry
    /// decision, the mapping to [`Error`], and every rendering of the result.
    pub fn response(status: u16, headers: &[(Vec<u8>, Vec<u8>)], body: &[u8]) {
        let Ok(status) = reqwest::StatusCode::from_u16(status) else {
            return;
        };
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name),
                reqwest::header::HeaderValue::from_bytes(value),
            ) {
                builder = builder.header(n, v);
            }
        }
        let Ok(response) = builder.body(Bytes::copy_from_slice(body)) else {
            return;
        };
        let response = reqwest::Response::from(response);
        let Some(client) = CLIENT.with(Clone::clone) else {
            return;
        };
        RUNTIME.with(|runtime| {
            let Some(runtime) = runtime else { return };
            runtime.block_on(async {
                let shared = &client.shared;
                let options = CallOptions::default();
                let mut record = Record {
                    attempts: 1,
                    ..Record::default()
                };
                let received = shared
                    .receive::<ProcessorTokenCreateResponse>(response, &mut record)
                    .await;
                match received {
                    Ok(value) => {
                        let _ = format!("{value:?}");
                    }
                    Err(failure) => {
                        let _ = shared.decide(
                            &failure,
                            &record,
                            &shared.retry,
                            false,
                            1,
                            Duration::ZERO,
                        );
                        let redactor = Redactor::new(shared.secret_values());
                        let e = shared.error(
                            "processor_token_create".into(),
                            false,
                            &options,
                            &record,
                            failure,
                            &redactor,
                        );
                        let _ = (
                            e.to_string(),
                            format!("{e:?}"),
                            e.is_retryable(),
                            e.status(),
                            e.request_id(),
                        );
                    }
                }
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An operation whose index names another operation's route.
    #[derive(serde::Serialize)]
    struct Misplaced;
    impl crate::operation::private::Sealed for Misplaced {}
    impl crate::operation::Request for Misplaced {
        type Response = crate::types::ProcessorTokenCreateResponse;
        const OPERATION: &'static str = "misplaced";
        const METHOD: &'static str = "PUT";
        const PATH: &'static str = "/misplaced/path";
        const SANDBOX_ONLY: bool = false;
    }
    impl crate::validate::Validate for Misplaced {
        fn validate<V: crate::validate::Visitor>(&self, _v: &mut V) {}
    }
    impl Dispatch for Misplaced {
        const INDEX: usize = 0;
    }

    #[test]
    fn routes_keep_the_base_path_and_never_send_to_another_operation() {
        let client = crate::PlaidClient::builder()
            .environment(Environment::custom("http://127.0.0.1:9/gateway/").expect("url"))
            .credentials("id", "secret-value-123")
            .build()
            .expect("client");
        let shared = &client.shared;
        assert_eq!(shared.routes.len(), crate::OPERATIONS.len());
        for (route, op) in shared.routes.iter().zip(crate::OPERATIONS) {
            assert_eq!(route.path, op.path);
            assert_eq!(route.method.as_str(), op.method);
            assert_eq!(
                route.url.as_str(),
                format!("http://127.0.0.1:9/gateway{}", op.path)
            );
        }
        let (method, url) = shared
            .route::<crate::types::ProcessorTokenCreateRequest>()
            .expect("route");
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("POST", "http://127.0.0.1:9/gateway/processor/token/create")
        );
        let (method, url) = shared.route::<Misplaced>().expect("route");
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("PUT", "http://127.0.0.1:9/gateway/misplaced/path"),
            "made afresh, not the route at its index"
        );
    }

    #[test]
    fn serde_messages_lose_quoted_values_and_keep_field_names() {
        assert_eq!(
            redact_serde(
                "invalid type: string \"processor-sandbox-1\", expected u32 at line 1 column 9"
            ),
            "invalid type: string \"…\", expected u32 at line 1 column 9"
        );
        assert_eq!(
            redact_serde("missing field `processor_token`"),
            "missing field `processor_token`"
        );
        assert_eq!(redact_serde("unterminated \"abc"), "unterminated \"…\"");
    }

    #[test]
    fn request_ids_are_read_from_any_json_or_none() {
        assert_eq!(
            request_id_of(br#"{"request_id":"abc","x":1}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(request_id_of(b"<html>"), None);
        assert_eq!(request_id_of(br#"{"request_id":null}"#), None);
        assert_eq!(request_id_of(br#"{"request_id":5}"#), None);
        assert_eq!(request_id_of(&[0xff; 10]), None);
    }
}
