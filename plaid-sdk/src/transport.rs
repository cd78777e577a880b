//! The seam between the generated client and the handwritten layer: progenitor's
//! `ClientHooks`, implemented for the generated `Client`.
//!
//! - `pre` removes the `api-version` header progenitor adds.
//! - `exec` puts the credentials, `Plaid-Version` and `User-Agent` on each attempt, sends with
//!   retries, reads the body under a size limit and a timeout, and records
//!   what happened in the call's [`Call`] state, so the error the user sees keeps the status,
//!   the request id and the attempt count even when the body is not JSON.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::HeaderMap;

use crate::environment::Environment;
use crate::error::{ConfigError, Error, ErrorKind};
use crate::generated;
use crate::redact::Redactor;
use crate::retry::{Decision, Outcome, RetryPolicy, decide, parse_retry_after};
use crate::secret::ClientSecret;

/// What every call of one [`PlaidClient`](crate::PlaidClient) shares. Built once, by
/// [`Shared::new`], from the builder's checked settings.
pub(crate) struct Shared {
    /// The environment's base URL, parsed once.
    url: reqwest::Url,
    pub(crate) environment: Environment,
    http: reqwest::Client,
    /// Credentials (marked sensitive), `Plaid-Version` and `User-Agent`, built once.
    headers: HeaderMap,
    timeout: Duration,
    retry: RetryPolicy,
    max_body_bytes: usize,
    /// Values scrubbed from any body excerpt shown in an error.
    secrets: Vec<ClientSecret>,
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
        headers: HeaderMap,
        secrets: Vec<ClientSecret>,
        limits: Limits,
    ) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(environment.base_url())
            .map_err(|e| ConfigError::InvalidBaseUrl(e.to_string()))?;
        Ok(Shared {
            url,
            environment,
            http,
            headers,
            timeout: limits.timeout,
            retry: limits.retry,
            max_body_bytes: limits.max_body_bytes,
            secrets,
        })
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
    pub(crate) retry: Option<RetryPolicy>,
}

/// The generated client's inner value: one per call.
pub struct Call {
    shared: Arc<Shared>,
    options: CallOptions,
    record: Mutex<Record>,
}

/// What the attempts of one call came to.
#[derive(Clone, Debug, Default)]
pub(crate) struct Record {
    pub(crate) attempts: u32,
    pub(crate) status: Option<u16>,
    pub(crate) request_id: Option<String>,
    pub(crate) retry_after: Option<Duration>,
    /// The last response body, as read.
    pub(crate) body: Bytes,
    /// A failure that the generated code cannot express (a body over the limit): it wins over
    /// whatever the generated code makes of the placeholder response.
    pub(crate) failure: Option<ErrorKind>,
}

impl Clone for Call {
    fn clone(&self) -> Self {
        Call {
            shared: Arc::clone(&self.shared),
            options: self.options.clone(),
            record: Mutex::new(self.record()),
        }
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Call {
    /// A generated client for one call.
    pub(crate) fn client(shared: &Arc<Shared>, options: CallOptions) -> generated::Client {
        generated::Client::new_with_client(
            shared.environment.base_url(),
            shared.http.clone(),
            Call {
                shared: Arc::clone(shared),
                options,
                record: Mutex::new(Record::default()),
            },
        )
    }

    pub(crate) fn record(&self) -> Record {
        self.inspect(Record::clone)
    }

    /// Takes what the call recorded, leaving an empty record.
    pub(crate) fn take_record(&self) -> Record {
        std::mem::take(&mut self.record.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn inspect<T>(&self, f: impl FnOnce(&Record) -> T) -> T {
        f(&self.record.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn update(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn policy(&self) -> &RetryPolicy {
        self.options.retry.as_ref().unwrap_or(&self.shared.retry)
    }

    /// Sends `request`, retrying as the policy allows, and hands the generated code a response
    /// whose body is already read.
    async fn execute(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        let policy = self.policy();
        let timeout = self.options.timeout.unwrap_or(self.shared.timeout);
        let started = Instant::now();
        let mut request = request;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            // The body is a byte buffer (JSON), so cloning for a later retry cannot fail; if it
            // did, this attempt is simply the last.
            let next = if attempt < policy.max_attempts {
                request.try_clone()
            } else {
                None
            };
            *request.timeout_mut() = Some(timeout);
            let headers = request.headers_mut();
            headers.reserve(self.shared.headers.len());
            for (name, value) in &self.shared.headers {
                headers.insert(name, value.clone());
            }
            self.update(|r| r.attempts = attempt);
            let result = self.attempt(client, request).await;
            let decision = self.decide_after(&result, policy, attempt, started.elapsed());
            match (decision, next) {
                (Decision::Retry(delay), Some(next)) => {
                    tracing::debug!(
                        attempt,
                        status = result.as_ref().ok().map(|r| r.status().as_u16()),
                        error = result.as_ref().err().map(|e| error_class(e)),
                        delay_ms = delay.as_millis() as u64,
                        "plaid: retrying"
                    );
                    policy.sleeper.sleep(delay).await;
                    request = next;
                }
                _ => return result,
            }
        }
    }

    /// One attempt: send, read the body within the limit, record the outcome.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        match client.execute(request).await {
            Ok(response) => self.receive(response).await,
            Err(e) => {
                self.update(|r| {
                    *r = Record {
                        attempts: r.attempts,
                        ..Record::default()
                    }
                });
                Err(e)
            }
        }
    }

    /// Whether attempt number `attempt`, which came to `result`, is retried.
    fn decide_after(
        &self,
        result: &reqwest::Result<reqwest::Response>,
        policy: &RetryPolicy,
        attempt: u32,
        elapsed: Duration,
    ) -> Decision {
        match result {
            Ok(response) if response.status().is_success() => Decision::Stop,
            Ok(response) => {
                let status = response.status().as_u16();
                let (failed, retry_after, error_type) = self.inspect(|r| {
                    let error_type = if status >= 500 {
                        error_type_of(&r.body)
                    } else {
                        None
                    };
                    (r.failure.is_some(), r.retry_after, error_type)
                });
                if failed {
                    Decision::Stop
                } else {
                    let outcome = Outcome::Status {
                        status,
                        retry_after,
                        error_type: error_type.as_ref(),
                    };
                    decide(policy, outcome, attempt, elapsed, fastrand::f64())
                }
            }
            Err(e) => {
                let outcome = if e.is_connect() {
                    Outcome::Connect
                } else if e.is_builder() {
                    Outcome::Fatal
                } else {
                    Outcome::Ambiguous
                };
                decide(policy, outcome, attempt, elapsed, fastrand::f64())
            }
        }
    }

    /// Reads what came back (within the size limit), records what an error would need, and
    /// returns the response for the generated code to parse.
    pub(crate) async fn receive(
        &self,
        mut response: reqwest::Response,
    ) -> reqwest::Result<reqwest::Response> {
        let status = response.status();
        let limit = self.shared.max_body_bytes;
        // The common case: a success whose declared length is within the limit goes to the
        // generated code as it is (hyper stops reading at the declared length). Its headers
        // are dropped, since nothing reads them and the generated code would copy them.
        if status.is_success() && response.content_length().is_some_and(|n| n <= limit as u64) {
            drop(std::mem::take(response.headers_mut()));
            self.update(|r| {
                *r = Record {
                    attempts: r.attempts,
                    status: Some(status.as_u16()),
                    ..Record::default()
                }
            });
            return Ok(response);
        }
        let body = match read_body(response, limit).await {
            Ok(Some(body)) => body,
            Ok(None) => {
                self.update(|r| {
                    *r = Record {
                        attempts: r.attempts,
                        status: Some(status.as_u16()),
                        failure: Some(ErrorKind::BodyTooLarge { limit }),
                        ..Record::default()
                    }
                });
                return Ok(rebuild(status, Bytes::new(), &self.shared.url));
            }
            Err(e) => {
                self.update(|r| {
                    *r = Record {
                        attempts: r.attempts,
                        status: Some(status.as_u16()),
                        ..Record::default()
                    }
                });
                return Err(e);
            }
        };
        // What an error needs (Retry-After, the request id, the body) is recorded only for
        // errors: a success's request id is in the parsed response.
        let (retry_after, request_id) = if status.is_success() {
            (None, None)
        } else {
            let retry_after = body
                .headers
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            // Kept as received (bounded); `finish` shows it only when it looks like Plaid's.
            let from_header = body
                .headers
                .get("plaid-request-id")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            (retry_after, request_id_of(&body.bytes).or(from_header))
        };
        self.update(|r| {
            *r = Record {
                attempts: r.attempts,
                status: Some(status.as_u16()),
                request_id,
                retry_after,
                body: if status.is_success() {
                    Bytes::new()
                } else {
                    body.bytes.clone()
                },
                failure: None,
            }
        });
        // The generated code reads only the status and the body. The URL is given so reqwest
        // need not parse a placeholder for each response.
        Ok(rebuild(status, body.bytes, &self.shared.url))
    }
}

/// A response body read in full, with the response's headers.
struct ReadBody {
    headers: reqwest::header::HeaderMap,
    bytes: Bytes,
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
        Some(_) => Ok(Some(ReadBody {
            headers,
            bytes: response.bytes().await?,
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

/// A response with this status and body, for the generated code to read.
fn rebuild(status: reqwest::StatusCode, body: Bytes, url: &reqwest::Url) -> reqwest::Response {
    use reqwest::ResponseBuilderExt;
    match http::Response::builder()
        .status(status)
        .url(url.clone())
        .body(body)
    {
        Ok(response) => reqwest::Response::from(response),
        Err(_) => {
            let mut r = http::Response::new(Bytes::new());
            *r.status_mut() = status;
            reqwest::Response::from(r)
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

impl ClientHooks<Call> for generated::Client {
    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        // progenitor's `api-version` goes; the SDK's own headers are added per attempt (see
        // `Call::execute`), so that the copy kept for a retry stays small.
        request.headers_mut().remove("api-version");
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        // Boxed: the retry loop is the largest part of the call's state, and every future that
        // awaits it would otherwise copy it at each level.
        Box::pin(self.inner.execute(&self.client, request)).await
    }
}

/// Turns what the generated method returned, and what the call recorded, into the SDK's
/// result. Everything the server controlled that the error keeps goes through `redactor`.
pub(crate) fn finish<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    call: &Call,
    record: &Record,
    result: Result<
        progenitor_client::ResponseValue<T>,
        progenitor_client::Error<crate::PlaidError>,
    >,
    redactor: &Redactor<'_>,
) -> Result<T, Error> {
    let with_id = |e: Error, raw: Option<&str>| {
        let shown = raw.and_then(|id| redactor.request_id(id));
        let withheld = raw.is_some() && shown.is_none();
        e.with_request_id(shown).with_request_id_withheld(withheld)
    };
    let error = |kind| {
        with_id(
            Error::new(kind)
                .with_operation(operation)
                .with_attempts(record.attempts)
                .with_retry_after(record.retry_after),
            record.request_id.as_deref(),
        )
    };
    let with_status = |e: Error| match record.status {
        Some(s) => e.with_status(s),
        None => e,
    };
    if let Some(kind) = record.failure.clone() {
        return Err(with_status(error(kind)));
    }
    use progenitor_client::Error as G;
    match result {
        Ok(value) => Ok(value.into_inner()),
        Err(G::ErrorResponse(value)) => {
            let status = value.status().as_u16();
            let mut plaid = value.into_inner();
            if plaid.is_plaid_shaped() {
                plaid.redact(redactor);
                Err(error(ErrorKind::Api(Box::new(plaid))).with_status(status))
            } else {
                Err(unexpected(error, status, &record.body, redactor))
            }
        }
        Err(G::InvalidResponsePayload(body, e)) => match record.status {
            // A success's request id is not recorded up front; read it from the body here.
            Some(status) if (200..300).contains(&status) => {
                let message = redactor.text(&decode_message::<T>(&body, &e));
                let e = error(ErrorKind::Decode(message)).with_status(status);
                Err(with_id(e, request_id_of(&body).as_deref()))
            }
            Some(status) => Err(unexpected(error, status, &body, redactor)),
            None => Err(error(ErrorKind::Decode(
                redactor.text(&decode_message::<T>(&body, &e)),
            ))),
        },
        Err(G::UnexpectedResponse(response)) => Err(unexpected(
            error,
            response.status().as_u16(),
            &record.body,
            redactor,
        )),
        Err(G::CommunicationError(e)) | Err(G::ResponseBodyError(e)) => {
            let error = if e.is_timeout() {
                error(ErrorKind::Timeout)
                    .with_timeout(call.options.timeout.unwrap_or(call.shared.timeout))
            } else if e.is_connect() {
                error(ErrorKind::Connect)
            } else {
                error(ErrorKind::Transport)
            };
            Err(with_status(error).with_source(StrippedError::of(&e, redactor)))
        }
        Err(other) => Err(with_status(error(ErrorKind::Transport))
            .with_source(StrippedError(redactor.text(&other.to_string())))),
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
    use progenitor_client::ResponseValue;

    thread_local! {
        static RUNTIME: Option<tokio::runtime::Runtime> =
            tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
        static CLIENT: Option<crate::PlaidClient> = Environment::custom("http://127.0.0.1:9")
            .ok()
            .and_then(|e| crate::PlaidClient::builder().environment(e).credentials("id", "fuzz-secret").build().ok());
    }

    /// One response (status, headers, body) through everything the SDK does with a
    /// `/processor/token/create` response: recording, the retry decision, the generated
    /// parsing, the mapping to [`Error`], and every rendering of the result.
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
                let generated = Call::client(&client.shared, CallOptions::default());
                let call = &generated.inner;
                let received = call.receive(response).await;
                let _ = call.decide_after(&received, call.policy(), 1, Duration::ZERO);
                use progenitor_client::Error as G;
                let result: Result<
                    ResponseValue<ProcessorTokenCreateResponse>,
                    G<crate::PlaidError>,
                > = match received {
                    Ok(r) => match r.status().as_u16() {
                        200 => ResponseValue::from_response(r).await,
                        400..=599 => match ResponseValue::from_response(r).await {
                            Ok(v) => Err(G::ErrorResponse(v)),
                            Err(e) => Err(e),
                        },
                        _ => Err(G::UnexpectedResponse(r)),
                    },
                    Err(e) => Err(G::CommunicationError(e)),
                };
                let record = call.take_record();
                let redactor = Redactor::new(client.shared.secret_values());
                match finish("processor_token_create", call, &record, result, &redactor) {
                    Ok(value) => {
                        let _ = format!("{value:?}");
                    }
                    Err(e) => {
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
