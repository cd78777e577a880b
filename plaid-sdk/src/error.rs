//! The one error type of the SDK.

pub use crate::validate::InvalidInput;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};

use crate::ErrorType;
use crate::redact::{REDACTED, Redactor};

/// The body Plaid sends with a failed call, parsed leniently: any field may be missing or
/// `null` (it then reads as empty), unknown fields are ignored, and an `error_type` this
/// version does not know is kept as [`ErrorType::Unrecognized`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PlaidError {
    /// The broad class of the error; branch on it together with `error_code`.
    #[serde(default = "unknown_type", deserialize_with = "lenient_type")]
    pub error_type: ErrorType,
    /// The precise error, such as `INVALID_ACCESS_TOKEN`; empty when Plaid sent none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub error_code: String,
    /// A finer reason for some OAuth errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code_reason: Option<String>,
    /// A message for developers; its wording may change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub error_message: String,
    /// A message that may be shown to the end user, when the error is theirs to act on.
    #[serde(default)]
    pub display_message: Option<String>,
    /// Plaid's identifier of the failed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Per-Item errors of a call that spans several Items.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub causes: Vec<serde_json::Value>,
    /// The HTTP status, when Plaid puts it in the body.
    #[serde(
        default,
        deserialize_with = "lenient_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u16>,
    /// A page of Plaid's documentation about this error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documentation_url: Option<String>,
    /// What Plaid suggests doing about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_action: Option<String>,
    /// For some `NO_ACCOUNTS` errors: the account subtypes asked for.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub required_account_subtypes: Vec<String>,
    /// For some `NO_ACCOUNTS` errors: the account subtypes found.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub provided_account_subtypes: Vec<String>,
}

impl PlaidError {
    /// Whether the body said anything Plaid-shaped at all (a JSON object such as `{}` or
    /// `{"message": "..."}` from a proxy is not a Plaid error).
    pub(crate) fn is_plaid_shaped(&self) -> bool {
        !self.error_code.is_empty() || self.error_type.as_str() != ""
    }
}

fn unknown_type() -> ErrorType {
    ErrorType::from("")
}

fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn lenient_type<'de, D: Deserializer<'de>>(d: D) -> Result<ErrorType, D::Error> {
    Ok(Option::<ErrorType>::deserialize(d)?.unwrap_or_else(unknown_type))
}

/// A status that is not a small number (a string, a float) reads as absent.
fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_u64().and_then(|n| u16::try_from(n).ok()))
}

/// A client that could not be configured.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A required environment variable is not set (or is empty).
    MissingVariable(&'static str),
    /// An environment variable holds a value that cannot be used; the value is not repeated
    /// in case it is a secret.
    InvalidVariable {
        /// The variable.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The base URL cannot be used.
    InvalidBaseUrl(String),
    /// A setting cannot be sent as an HTTP header (a control character, say).
    InvalidHeader(&'static str),
    /// Neither credentials nor gateway mode were chosen.
    NoCredentials,
    /// Secrets would cross the network unencrypted.
    InsecureUrl(String),
    /// The HTTP client could not be built (TLS setup, for instance).
    HttpClient(String),
    /// A setting is out of range.
    InvalidSetting(String),
    /// The base URL is `https` but the SDK was built without any TLS feature.
    TlsNotEnabled(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::MissingVariable(name) => write!(f, "environment variable {name} is not set"),
            ConfigError::InvalidVariable { name, reason } => write!(f, "environment variable {name} {reason}"),
            ConfigError::InvalidBaseUrl(why) => write!(f, "invalid base URL: {why}"),
            ConfigError::InvalidHeader(what) => write!(f, "{what} contains characters that cannot be sent in an HTTP header"),
            ConfigError::NoCredentials => f.write_str(
                "no credentials: call `credentials(client_id, secret)`, or `without_credentials()` for a gateway that adds them",
            ),
            ConfigError::InsecureUrl(url) => write!(
                f,
                "refusing plain http to {url}: tokens and credentials would cross the network unencrypted (use https, or `allow_insecure_http(true)`)"
            ),
            ConfigError::HttpClient(why) => write!(f, "cannot build the HTTP client: {why}"),
            ConfigError::InvalidSetting(why) => write!(f, "invalid setting: {why}"),
            ConfigError::TlsNotEnabled(url) => write!(
                f,
                "{url} needs TLS, but plaid-sdk was built without a TLS feature: enable `rustls` (the default), `rustls-ring` or `native-tls`"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

/// What went wrong, without the details every kind shares (see [`Error`]'s accessors).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Rejected before anything was sent.
    InvalidInput(InvalidInput),
    /// The client's configuration is unusable.
    Config(ConfigError),
    /// Plaid answered with an error body.
    Api(Box<PlaidError>),
    /// A non-success status whose body is not a Plaid error (an HTML page from a load balancer,
    /// say). [`Error::body_excerpt`] holds the start of it.
    UnexpectedResponse,
    /// A success status whose body is not the expected JSON; the message names the field.
    Decode(String),
    /// No response within the timeout; the request may or may not have reached Plaid.
    Timeout,
    /// No connection could be made; the request did not reach Plaid.
    Connect,
    /// The connection failed after the request was sent (reset, truncated body); the request
    /// may have reached Plaid.
    Transport,
    /// The response body was larger than the client's limit.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl ErrorKind {
    /// A stable snake_case name for logs and metrics: `invalid_input`, `config`, `api`,
    /// `unexpected_response`, `decode`, `timeout`, `connect`, `transport`, `body_too_large`.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::InvalidInput(_) => "invalid_input",
            ErrorKind::Config(_) => "config",
            ErrorKind::Api(_) => "api",
            ErrorKind::UnexpectedResponse => "unexpected_response",
            ErrorKind::Decode(_) => "decode",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Transport => "transport",
            ErrorKind::BodyTooLarge { .. } => "body_too_large",
        }
    }
}

/// Every failure of the SDK: invalid input, configuration, Plaid's errors, and the network's.
///
/// `Display` is one line that never holds a secret. Match on [`kind`](Self::kind), or use the
/// accessors: [`status`](Self::status), [`request_id`](Self::request_id),
/// [`plaid_error`](Self::plaid_error), [`is_retryable`](Self::is_retryable).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    /// The operation's name, or a raw call's path.
    operation: Option<std::borrow::Cow<'static, str>>,
    /// Whether the operation only reads, so a repeat changes nothing.
    repeatable: bool,
    status: Option<u16>,
    request_id: Option<String>,
    /// A request id arrived but was not shown: it did not look like Plaid's.
    request_id_withheld: bool,
    retry_after: Option<Duration>,
    attempts: u32,
    excerpt: Option<String>,
    /// For [`ErrorKind::Timeout`]: the timeout of each attempt.
    timeout: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                operation: None,
                repeatable: false,
                status: None,
                request_id: None,
                request_id_withheld: false,
                retry_after: None,
                attempts: 0,
                excerpt: None,
                timeout: None,
                source: None,
            }),
        }
    }

    pub(crate) fn with_operation(
        mut self,
        operation: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        self.inner.operation = Some(operation.into());
        self
    }
    pub(crate) fn with_repeatable(mut self, repeatable: bool) -> Self {
        self.inner.repeatable = repeatable;
        self
    }
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }
    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.inner.request_id = request_id;
        self
    }
    pub(crate) fn with_request_id_withheld(mut self, withheld: bool) -> Self {
        self.inner.request_id_withheld = withheld;
        self
    }
    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.inner.retry_after = retry_after;
        self
    }
    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }
    pub(crate) fn with_timeout(mut self, timeout: Duration) -> Self {
        self.inner.timeout = Some(timeout);
        self
    }
    pub(crate) fn with_excerpt(mut self, excerpt: String) -> Self {
        self.inner.excerpt = Some(excerpt);
        self
    }
    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.inner.source = Some(Box::new(source));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.inner.kind
    }

    /// The HTTP status of the last response, if one arrived.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// Plaid's request id of the last response, if it had one; quote it to Plaid's support.
    /// An id that does not look like Plaid's (or holds something secret) is not kept: then
    /// this is `None` and [`request_id_withheld`](Self::request_id_withheld) is true.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// Whether the response carried a request id that was withheld because it did not look
    /// like Plaid's.
    pub fn request_id_withheld(&self) -> bool {
        self.inner.request_id_withheld
    }

    /// The parsed Plaid error, for [`ErrorKind::Api`].
    pub fn plaid_error(&self) -> Option<&PlaidError> {
        match &self.inner.kind {
            ErrorKind::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Plaid's `error_type`, for [`ErrorKind::Api`].
    pub fn error_type(&self) -> Option<&ErrorType> {
        self.plaid_error().map(|e| &e.error_type)
    }

    /// Plaid's `error_code`, for [`ErrorKind::Api`].
    pub fn error_code(&self) -> Option<&str> {
        self.plaid_error().map(|e| e.error_code.as_str())
    }

    /// The delay the server asked for in `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// How many HTTP attempts were made (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The operation that failed, such as `processor_token_create`, or the path of a raw
    /// call ([`PlaidClient::call`](crate::PlaidClient::call)).
    pub fn operation(&self) -> Option<&str> {
        self.inner.operation.as_deref()
    }

    /// The start of an unexpected response body (at most a few hundred characters, with
    /// anything token-shaped removed), for [`ErrorKind::UnexpectedResponse`].
    pub fn body_excerpt(&self) -> Option<&str> {
        self.inner.excerpt.as_deref()
    }

    /// Whether the same call may be sent again, later, safely and with a chance to succeed:
    /// the failures the SDK itself retries ([`RetryPolicy`](crate::RetryPolicy) has the
    /// rules). Rate limits (429), 408, 503 and connection failures always are: Plaid did
    /// not act. Failures after which Plaid may have acted ([`is_ambiguous`](Self::is_ambiguous):
    /// a timeout, a lost connection, a 5xx `API_ERROR`, a proxy's 502 or 504) are retryable
    /// only for operations that only read; on `/processor/token/create` such a retry could
    /// mint a second token, so they are not. Input, configuration and most Plaid errors are
    /// never retryable.
    pub fn is_retryable(&self) -> bool {
        match crate::retry::classify(self.outcome()) {
            crate::retry::Class::Safe => true,
            crate::retry::Class::Ambiguous => self.inner.repeatable,
            crate::retry::Class::Final => false,
        }
    }

    /// Whether the request may have reached Plaid and taken effect although the call failed:
    /// a timeout, a connection lost after sending, a 5xx `API_ERROR`, or a 502/504 from a
    /// proxy. For an operation that creates something, find out before sending it again
    /// (for a processor token: keep the one you have, or accept that two may exist).
    pub fn is_ambiguous(&self) -> bool {
        crate::retry::classify(self.outcome()) == crate::retry::Class::Ambiguous
    }

    /// This error as the retry rules see an attempt's outcome.
    fn outcome(&self) -> crate::retry::Outcome<'_> {
        let status = |error_type| match self.inner.status {
            Some(status) => crate::retry::Outcome::Status {
                status,
                retry_after: self.inner.retry_after,
                error_type,
            },
            None => crate::retry::Outcome::Fatal,
        };
        match &self.inner.kind {
            ErrorKind::Timeout | ErrorKind::Transport => crate::retry::Outcome::Ambiguous,
            ErrorKind::Connect => crate::retry::Outcome::Connect,
            ErrorKind::Api(e) => status(Some(e.error_type.as_str())),
            ErrorKind::UnexpectedResponse => status(None),
            _ => crate::retry::Outcome::Fatal,
        }
    }

    /// Whether no response arrived in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Timeout)
    }

    /// Whether no connection could be made.
    pub fn is_connect(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Connect)
    }

    /// Whether the request was refused before anything was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::InvalidInput(_))
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::new(ErrorKind::Config(e))
    }
}

impl From<InvalidInput> for Error {
    fn from(e: InvalidInput) -> Self {
        Error::new(ErrorKind::InvalidInput(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if let Some(op) = &i.operation {
            write!(f, "{op}: ")?;
        }
        match &i.kind {
            ErrorKind::InvalidInput(e) => write!(f, "invalid input, nothing sent: {e}")?,
            ErrorKind::Config(e) => write!(f, "configuration: {e}")?,
            ErrorKind::Api(e) => {
                write!(f, "Plaid error {}", e.error_type)?;
                if !e.error_code.is_empty() {
                    write!(f, "/{}", e.error_code)?;
                }
                if !e.error_message.is_empty() {
                    write!(f, ": {}", one_line(&e.error_message, 300))?;
                }
            }
            ErrorKind::UnexpectedResponse => {
                f.write_str("unexpected response")?;
                if let Some(x) = &i.excerpt {
                    write!(f, ": {x:?}")?;
                }
            }
            ErrorKind::Decode(msg) => write!(f, "unreadable response body: {msg}")?,
            ErrorKind::Timeout => match i.timeout {
                Some(t) => write!(f, "no response within the {t:?} timeout")?,
                None => f.write_str("timed out waiting for the response")?,
            },
            ErrorKind::Connect => match &i.source {
                Some(cause) => write!(
                    f,
                    "could not connect: {}",
                    one_line(&cause.to_string(), 200)
                )?,
                None => f.write_str("could not connect")?,
            },
            ErrorKind::Transport => {
                f.write_str("connection failed while the request was in flight")?;
                if let Some(cause) = &i.source {
                    write!(f, ": {}", one_line(&cause.to_string(), 200))?;
                }
            }
            ErrorKind::BodyTooLarge { limit } => {
                write!(f, "response body exceeds the {limit}-byte limit")?
            }
        }
        let mut details = Vec::new();
        if let Some(s) = i.status {
            details.push(format!("HTTP {s}"));
        }
        if let Some(id) = &i.request_id {
            details.push(format!("request id {id}"));
        } else if i.request_id_withheld {
            details.push("request id withheld: not Plaid-shaped".to_string());
        }
        if let Some(d) = i.retry_after {
            details.push(format!("retry after {}s", d.as_secs_f64()));
        }
        if i.attempts > 1 {
            details.push(format!("{} attempts", i.attempts));
        }
        if !details.is_empty() {
            write!(f, " ({})", details.join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind);
        if let Some(op) = &i.operation {
            d.field("operation", op);
        }
        d.field("status", &i.status)
            .field("request_id", &i.request_id)
            .field("request_id_withheld", &i.request_id_withheld)
            .field("attempts", &i.attempts);
        if let Some(r) = i.retry_after {
            d.field("retry_after", &r);
        }
        if let Some(x) = &i.excerpt {
            d.field("body_excerpt", x);
        }
        if let Some(s) = &i.source {
            d.field("source", &s.to_string());
        }
        d.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Collapses white space and control characters and cuts at `max` characters.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 3));
    let mut count = 0;
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() || c.is_control() {
            space = !out.is_empty();
            continue;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        if space {
            out.push(' ');
            count += 1;
            space = false;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// A bounded, single-line excerpt of an unexpected body. The head of the body is redacted as
/// a whole before it is cut, so a secret cannot survive in part at the cut.
pub(crate) fn excerpt(body: &[u8], redactor: &Redactor<'_>) -> String {
    const MAX: usize = 200;
    const HEAD: usize = 4096;
    let head = &body[..body.len().min(HEAD)];
    one_line(&redactor.text(&String::from_utf8_lossy(head)), MAX)
}

impl PlaidError {
    /// Redacts every field a server (or a proxy pretending to be one) controls: codes are
    /// kept only when Plaid-shaped, the request id only when it looks like one of Plaid's,
    /// free text and `causes` go through the redactor.
    pub(crate) fn redact(&mut self, r: &Redactor<'_>) {
        if !self.error_type.is_known() && !self.error_type.as_str().is_empty() {
            let shown = r
                .code(self.error_type.as_str())
                .unwrap_or_else(|| REDACTED.into());
            self.error_type = ErrorType::from(shown);
        }
        if !self.error_code.is_empty() {
            self.error_code = r.code(&self.error_code).unwrap_or_else(|| REDACTED.into());
        }
        self.error_message = r.text(&self.error_message);
        for field in [
            &mut self.display_message,
            &mut self.suggested_action,
            &mut self.error_code_reason,
            &mut self.documentation_url,
        ] {
            if let Some(text) = field.as_mut() {
                *text = r.text(text);
            }
        }
        self.request_id = self.request_id.as_deref().and_then(|id| r.request_id(id));
        for cause in &mut self.causes {
            r.json(cause);
        }
        for subtype in self
            .required_account_subtypes
            .iter_mut()
            .chain(self.provided_account_subtypes.iter_mut())
        {
            *subtype = r.text(subtype);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaid_error_tolerates_missing_null_and_unknown() {
        let e: PlaidError = serde_json::from_str(
            r#"{"error_type":"BRAND_NEW","error_code":null,"display_message":null,"causes":null,"status":"x","extra":1}"#,
        )
        .expect("lenient");
        assert_eq!(e.error_type.as_str(), "BRAND_NEW");
        assert_eq!(e.error_code, "");
        assert!(e.causes.is_empty());
        assert_eq!(e.status, None);
        let e: PlaidError = serde_json::from_str("{}").expect("empty object");
        assert!(!e.is_plaid_shaped());
        let e: PlaidError =
            serde_json::from_str(r#"{"error_type":null,"error_code":"X"}"#).expect("null type");
        assert!(e.is_plaid_shaped());
    }

    #[test]
    fn one_line_collapses_and_cuts() {
        assert_eq!(one_line("  a\n\tb\u{0}  c ", 100), "a b c");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("", 3), "");
    }

    #[test]
    fn excerpts_hide_tokens_and_secrets_even_across_the_cut() {
        let r = Redactor::new(["s3cr3tvalue-0123"]);
        let body = b"<html>echo: {\"access_token\":\"access-sandbox-123-abc\",\"secret\":\"s3cr3tvalue-0123\"} processor-production-9</html>";
        let x = excerpt(body, &r);
        assert!(
            !x.contains("123-abc") && !x.contains("s3cr3tvalue") && !x.contains("-9<"),
            "{x}"
        );
        assert!(
            x.contains("access-[redacted]") && x.contains("processor-[redacted]"),
            "{x}"
        );
        // A secret that straddles the 200-character cut is redacted before the cut.
        let mut long = "a".repeat(195).into_bytes();
        long.extend_from_slice(b" s3cr3tvalue-0123 tail");
        let x = excerpt(&long, &r);
        assert!(!x.contains("s3cr3t"), "{x}");
    }

    #[test]
    fn plaid_errors_are_redacted_field_by_field() {
        let r = Redactor::new(["s3cr3tvalue-0123"]);
        let mut e: PlaidError = serde_json::from_str(
            r#"{"error_type":"access-sandbox-1","error_code":"X","error_message":"bad token access-sandbox-123 with s3cr3tvalue-0123","display_message":"processor-sandbox-9","request_id":"access-sandbox-2","causes":[{"error_message":"s3cr3tvalue-0123"}]}"#,
        )
        .expect("json");
        e.redact(&r);
        assert_eq!(e.error_type.as_str(), "[redacted]");
        assert_eq!(e.error_code, "X");
        assert_eq!(
            e.error_message,
            "bad token access-[redacted] with [redacted]"
        );
        assert_eq!(e.display_message.as_deref(), Some("processor-[redacted]"));
        assert_eq!(e.request_id, None);
        assert_eq!(e.causes[0]["error_message"], "[redacted]");
        let mut lower: PlaidError =
            serde_json::from_str(r#"{"error_type":"INVALID_INPUT","error_code":"not-plaid's"}"#)
                .expect("json");
        lower.redact(&r);
        assert_eq!(lower.error_code, "[redacted]");
        assert_eq!(lower.error_type, ErrorType::InvalidInput);
        // Ordinary messages are left as they are.
        let mut plain: PlaidError = serde_json::from_str(
            r#"{"error_message":"the provided access token is in an invalid format"}"#,
        )
        .expect("json");
        plain.redact(&Redactor::default());
        assert_eq!(
            plain.error_message,
            "the provided access token is in an invalid format"
        );
    }

    #[test]
    fn excerpts_are_bounded_and_survive_any_bytes() {
        let none = Redactor::default();
        let big = vec![b'a'; 1 << 20];
        assert!(excerpt(&big, &none).chars().count() <= 201);
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        let x = excerpt(&junk, &none);
        assert!(x.chars().count() <= 201);
        assert!(!x.chars().any(char::is_control));
    }
}
