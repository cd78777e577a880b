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
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use reqwest::header::HeaderMap;

use crate::environment::Environment;
use crate::error::ConfigError;
use crate::retry::{RetryPolicy, parse_retry_after};
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
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) max_body_bytes: usize,
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

    /// `operations` (the generated table, in `OPERATIONS` order) gives each operation's
    /// method and path; their URLs are parsed here, once.
    pub(crate) fn new(
        environment: Environment,
        http: reqwest::Client,
        mut headers: HeaderMap,
        secrets: Vec<ClientSecret>,
        limits: Limits,
        operations: &[crate::OperationInfo],
    ) -> Result<Self, ConfigError> {
        let routes = operations
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

    /// The method and URL of the operation at `index` of the table given to [`Shared::new`],
    /// whose path is `path`: from the table, or made afresh should the table not hold it (it
    /// always does; the path is compared, so a mismatch cannot send a request to another
    /// operation's URL).
    pub(crate) fn route(
        &self,
        index: usize,
        method: &str,
        path: &'static str,
    ) -> Result<(reqwest::Method, reqwest::Url), ConfigError> {
        match self.routes.get(index) {
            Some(r) if r.path == path => Ok((r.method.clone(), r.url.clone())),
            _ => route(self.environment.base_url(), method, path).map(|r| (r.method, r.url)),
        }
    }

    /// One attempt over `route`: the request built afresh (nothing is copied ahead for a
    /// retry, which is rare), sent, and its answer received. Each step is bound by `let`, so
    /// no match temporary is kept across an `.await` (the call's future would hold a request
    /// and a response it no longer needs).
    ///
    /// `route` gives the method and URL when the attempt starts: a local of this future, not
    /// an argument kept for its whole life (which would make every call's future larger).
    pub(crate) async fn attempt<B, T, F>(
        &self,
        route: F,
        body: &B,
        timeout: Duration,
        record: &mut Record,
    ) -> Result<T, Failure>
    where
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
        F: FnOnce() -> Result<(reqwest::Method, reqwest::Url), ConfigError>,
    {
        let route = route().map_err(Failure::Route)?;
        let request = self.request(route, body, timeout)?;
        let response = match self.http.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                record.clear_answer();
                return Err(Failure::Transport(e));
            }
        };
        self.receive::<T>(response, record).await
    }

    /// One attempt's request: the route's method and URL, the client's headers, the JSON body.
    fn request<B: serde::Serialize + ?Sized>(
        &self,
        (method, url): (reqwest::Method, reqwest::Url),
        body: &B,
        timeout: Duration,
    ) -> Result<reqwest::Request, Failure> {
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
    pub(crate) fn clear_answer(&mut self) {
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
    pub(crate) fn class(&self) -> &'static str {
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
pub(crate) fn request_id_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        request_id: Option<String>,
    }
    serde_json::from_slice::<Id>(body).ok()?.request_id
}

/// The `error_type` of a JSON error body, if it has one, as spelled there.
pub(crate) fn error_type_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Type {
        error_type: Option<String>,
    }
    serde_json::from_slice::<Type>(body).ok()?.error_type
}

pub(crate) fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else {
        "transport"
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
pub(crate) fn redact_serde(message: &str) -> String {
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
