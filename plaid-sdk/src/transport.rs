//! The seam between the generated client and the handwritten layer: progenitor's
//! `ClientHooks`, implemented for the generated `Client`.
//!
//! - `pre` puts the credentials, `Plaid-Version` and `User-Agent` on the request and removes
//!   the `api-version` header progenitor adds.
//! - `exec` sends with retries, reads the body under a size limit and a timeout, and records
//!   what happened in the call's [`Call`] state, so the error the user sees keeps the status,
//!   the request id and the attempt count even when the body is not JSON.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use progenitor_client::{ClientHooks, OperationInfo};
use reqwest::header::HeaderMap;

use crate::config::Environment;
use crate::error::{Error, ErrorKind};
use crate::generated;
use crate::retry::{Decision, Outcome, RetryPolicy, decide, parse_retry_after};
use crate::secret::ClientSecret;

/// What every call of one [`PlaidClient`](crate::PlaidClient) shares.
pub(crate) struct Shared {
    pub(crate) base_url: String,
    pub(crate) environment: Environment,
    pub(crate) http: reqwest::Client,
    /// Credentials (marked sensitive), `Plaid-Version` and `User-Agent`, built once.
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_body_bytes: usize,
    /// Values scrubbed from any body excerpt shown in an error.
    pub(crate) secrets: Vec<ClientSecret>,
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
pub(crate) struct Call {
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
            &shared.base_url,
            shared.http.clone(),
            Call {
                shared: Arc::clone(shared),
                options,
                record: Mutex::new(Record::default()),
            },
        )
    }

    pub(crate) fn record(&self) -> Record {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Record)) {
        f(&mut self.record.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn policy(&self) -> &RetryPolicy {
        self.options.retry.as_ref().unwrap_or(&self.shared.retry)
    }

    pub(crate) fn secrets(&self) -> Vec<&str> {
        self.shared
            .secrets
            .iter()
            .map(ClientSecret::expose_secret)
            .collect()
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
            let result = self.attempt(client, request).await;
            self.update(|r| r.attempts = attempt);
            let decision = match &result {
                Ok(response) => {
                    let record = self.record();
                    let status = response.status().as_u16();
                    if (200..300).contains(&status) || record.failure.is_some() {
                        Decision::Stop
                    } else {
                        let error_type = (status >= 500)
                            .then(|| error_type_of(&record.body))
                            .flatten();
                        let outcome = Outcome::Status {
                            status,
                            retry_after: record.retry_after,
                            error_type: error_type.as_ref(),
                        };
                        decide(policy, outcome, attempt, started.elapsed(), fastrand::f64())
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
                    decide(policy, outcome, attempt, started.elapsed(), fastrand::f64())
                }
            };
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
        self.update(|r| {
            r.status = None;
            r.request_id = None;
            r.retry_after = None;
            r.body = Bytes::new();
            r.failure = None;
        });
        let mut response = client.execute(request).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        let header_request_id = response
            .headers()
            .get("plaid-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|id| crate::error::plausible_request_id(id))
            .map(str::to_string);
        self.update(|r| {
            r.status = Some(status.as_u16());
            r.retry_after = retry_after;
            r.request_id = header_request_id;
        });
        let limit = self.shared.max_body_bytes;
        let too_large = |r: &mut Record| r.failure = Some(ErrorKind::BodyTooLarge { limit });
        if response.content_length().is_some_and(|n| n > limit as u64) {
            self.update(too_large);
            return Ok(placeholder(status));
        }
        let mut body = Vec::with_capacity(response.content_length().map_or(1024, |n| n as usize));
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > limit {
                self.update(too_large);
                return Ok(placeholder(status));
            }
            body.extend_from_slice(&chunk);
        }
        let body = Bytes::from(body);
        let body_request_id = request_id_of(&body);
        let headers = std::mem::take(response.headers_mut());
        self.update(|r| {
            r.body = body.clone();
            if body_request_id.is_some() {
                r.request_id = body_request_id;
            }
        });
        let mut rebuilt = http::Response::new(body);
        *rebuilt.status_mut() = status;
        *rebuilt.headers_mut() = headers;
        Ok(reqwest::Response::from(rebuilt))
    }
}

/// The response handed to the generated code when the real one could not be read; the
/// recorded failure decides what the user sees.
fn placeholder(status: reqwest::StatusCode) -> reqwest::Response {
    let mut r = http::Response::new(Bytes::new());
    *r.status_mut() = status;
    reqwest::Response::from(r)
}

/// The `request_id` of a JSON body, if it has one, without parsing anything else.
fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        request_id: Option<String>,
    }
    serde_json::from_slice::<Id>(body)
        .ok()?
        .request_id
        .filter(|id| crate::error::plausible_request_id(id))
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
        let headers = request.headers_mut();
        headers.remove("api-version");
        for (name, value) in &self.inner.shared.headers {
            headers.insert(name, value.clone());
        }
        Ok(())
    }

    async fn exec(
        &self,
        request: reqwest::Request,
        _info: &OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        self.inner.execute(&self.client, request).await
    }
}

/// Turns what the generated method returned, and what the call recorded, into the SDK's
/// result.
pub(crate) fn finish<T: serde::de::DeserializeOwned>(
    operation: &'static str,
    call: &Call,
    result: Result<
        progenitor_client::ResponseValue<T>,
        progenitor_client::Error<crate::PlaidError>,
    >,
) -> Result<T, Error> {
    let record = call.record();
    let error = |kind| {
        Error::new(kind)
            .with_operation(operation)
            .with_attempts(record.attempts)
            .with_request_id(record.request_id.clone())
            .with_retry_after(record.retry_after)
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
            let plaid = value.into_inner();
            if plaid.is_plaid_shaped() {
                Err(error(ErrorKind::Api(Box::new(plaid))).with_status(status))
            } else {
                Err(unexpected(error, status, &record.body, call))
            }
        }
        Err(G::InvalidResponsePayload(body, e)) => match record.status {
            Some(status) if (200..300).contains(&status) => {
                Err(error(ErrorKind::Decode(decode_message::<T>(&body, &e))).with_status(status))
            }
            Some(status) => Err(unexpected(error, status, &body, call)),
            None => Err(error(ErrorKind::Decode(decode_message::<T>(&body, &e)))),
        },
        Err(G::UnexpectedResponse(response)) => Err(unexpected(
            error,
            response.status().as_u16(),
            &record.body,
            call,
        )),
        Err(G::CommunicationError(e)) | Err(G::ResponseBodyError(e)) => {
            let kind = if e.is_timeout() {
                ErrorKind::Timeout
            } else if e.is_connect() {
                ErrorKind::Connect
            } else {
                ErrorKind::Transport
            };
            Err(with_status(error(kind)).with_source(StrippedError::of(&e)))
        }
        Err(other) => {
            Err(with_status(error(ErrorKind::Transport))
                .with_source(StrippedError(other.to_string())))
        }
    }
}

fn unexpected(error: impl Fn(ErrorKind) -> Error, status: u16, body: &[u8], call: &Call) -> Error {
    let e = error(ErrorKind::UnexpectedResponse).with_status(status);
    if body.is_empty() {
        e
    } else {
        e.with_excerpt(crate::error::excerpt(body, &call.secrets()))
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
    fn of(e: &reqwest::Error) -> Self {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        StrippedError(text)
    }
}

impl fmt::Display for StrippedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StrippedError {}

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
