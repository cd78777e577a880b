//! The one runtime every operation shares: the [`Request`] trait the generated request types
//! implement, the pending call ([`Pending`]) and the input checks run before sending.
//!
//! Everything that is one per operation (the method on [`PlaidClient`], the setters of its
//! pending call, the checks of its fields) is generated into `generated/operations.rs` and
//! `generated/schema.rs` from the operation model; this module holds what is one for all of them.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::PlaidClient;
use crate::error::{Error, InvalidInput};
use crate::redact::Redactor;
use crate::retry::RetryPolicy;
use crate::transport::CallOptions;

/// One operation's request body. Every request type of [`types`](crate::types) that an
/// operation takes implements it; awaiting a [`Pending`] call of it returns
/// [`Response`](Request::Response). Sealed: only the SDK's generated types implement it.
pub trait Request: serde::Serialize + Send + Sync + 'static + private::Sealed {
    /// What a successful call returns.
    type Response: serde::de::DeserializeOwned + fmt::Debug + Send + 'static + private::HasRequestId;
    /// The operation's name, as the method on [`PlaidClient`] and in errors and spans
    /// (`processor_token_create`).
    const OPERATION: &'static str;
    /// The HTTP method (`POST`).
    const METHOD: &'static str;
    /// The path below the base URL (`/processor/token/create`).
    const PATH: &'static str;
    /// Whether the operation exists in the Sandbox only; it is refused before sending on a
    /// Production client.
    const SANDBOX_ONLY: bool;
    /// Whether the operation only reads, so that sending it twice changes nothing (its path
    /// ends in `/get`): what [`RetryPolicy`] and [`Error::is_retryable`] go by.
    const REPEATABLE: bool = repeatable(Self::PATH);
}

/// Whether the operation at `path` only reads: Plaid ends the path of every operation that
/// only reads with `/get` (`/accounts/get`, `/processor/auth/get`), and of no other.
pub(crate) const fn repeatable(path: &str) -> bool {
    let path = path.as_bytes();
    let suffix = b"/get";
    if path.len() < suffix.len() {
        return false;
    }
    let start = path.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if path[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One operation of this version of the SDK; [`OPERATIONS`](crate::OPERATIONS) lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The method's name on [`PlaidClient`], such as `processor_token_create`.
    pub name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path below the base URL, such as `/processor/token/create`.
    pub path: &'static str,
    /// Whether the operation exists in the Sandbox only.
    pub sandbox_only: bool,
}

impl OperationInfo {
    /// Whether the operation only reads, so that sending it twice changes nothing: the
    /// failures after which Plaid may have acted are retried for it (see [`RetryPolicy`]).
    pub fn repeatable(&self) -> bool {
        repeatable(self.path)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A call that has not been sent yet: set optional fields with its methods (one per optional
/// field of the request, named after it), then `.await` it to send.
///
/// Input is checked before anything is sent: a blank required field, a value outside the
/// spec's bounds, or a token whose prefix names another environment than the client's is an
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
#[must_use = "a call does nothing until awaited"]
pub struct Pending<'a, R> {
    pub(crate) client: &'a PlaidClient,
    pub(crate) body: R,
    pub(crate) options: CallOptions,
}

impl<R: Request> fmt::Debug for Pending<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is left out: some of its fields may be personal data.
        f.debug_struct("Pending")
            .field("operation", &R::OPERATION)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, R: Request> Pending<'a, R> {
    pub(crate) fn new(client: &'a PlaidClient, body: R) -> Self {
        Pending {
            client,
            body,
            options: CallOptions::default(),
        }
    }

    /// The timeout of each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The retry policy of this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(Box::new(policy));
        self
    }

    /// The request body as it will be sent.
    pub fn request(&self) -> &R {
        &self.body
    }
}

impl<'a, R: private::Dispatch> IntoFuture for Pending<'a, R> {
    type Output = Result<R::Response, Error>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.client.run(self.body, self.options))
    }
}

/// What the generated code implements and the runtime calls; not part of the API.
pub(crate) mod private {
    use super::*;
    use crate::validate::Validate;

    /// Seals [`Request`]: only the SDK's types implement it.
    pub trait Sealed {}

    /// What the runtime needs of an operation beyond [`Request`]: its position in
    /// [`OPERATIONS`](crate::OPERATIONS), where the client keeps its parsed URL.
    pub trait Dispatch: Request + Validate {
        const INDEX: usize;
    }

    /// The request id every success response carries.
    pub trait HasRequestId {
        fn request_id(&self) -> &str;
        fn request_id_mut(&mut self) -> Option<&mut String>;
    }
}

impl PlaidClient {
    /// Checks and sends one request inside a tracing span, and maps its result.
    pub(crate) async fn run<R: private::Dispatch>(
        &self,
        body: R,
        options: CallOptions,
    ) -> Result<R::Response, Error> {
        use tracing::Instrument;
        let operation = R::OPERATION;
        if let Some(invalid) = crate::validate::check(&self.shared.environment, &body) {
            return Err(Error::from(invalid).with_operation(operation));
        }
        if R::SANDBOX_ONLY && matches!(self.shared.environment, crate::Environment::Production) {
            return Err(
                Error::from(InvalidInput::SandboxOnly { operation }).with_operation(operation)
            );
        }
        if options.timeout.is_some_and(|t| t.is_zero()) {
            let e = Error::from(crate::ConfigError::InvalidSetting(
                "the timeout must be more than zero".into(),
            ));
            return Err(e.with_operation(operation));
        }
        let span = request_span(operation, R::METHOD, R::PATH);
        let mut record = crate::transport::Record::default();
        let target = crate::transport::Operation::<R>::TARGET;
        // With no subscriber listening, the span is disabled: the call is neither wrapped in
        // it nor timed for it.
        let result = if span.is_disabled() {
            self.shared
                .send(&target, &body, &options, &mut record)
                .await
        } else {
            let started = std::time::Instant::now();
            let send = self.shared.send(&target, &body, &options, &mut record);
            let result = send.instrument(span.clone()).await;
            span.record("latency_ms", started.elapsed().as_millis() as u64);
            result
        };
        let result = match result {
            Ok(mut response) => {
                self.check_request_id(&body, &mut response);
                Ok(response)
            }
            Err(failure) => {
                // Only an error needs the request's tokens, to redact what the server said.
                let mut tokens = Vec::new();
                crate::validate::secrets(&body, |t| tokens.push(t.to_string()));
                let redactor = Redactor::new(
                    self.shared
                        .secret_values()
                        .chain(tokens.iter().map(String::as_str)),
                );
                Err(self.shared.error(
                    operation.into(),
                    R::REPEATABLE,
                    &options,
                    &record,
                    failure,
                    &redactor,
                ))
            }
        };
        let request_id = match &result {
            Ok(response) => Some(private::HasRequestId::request_id(response)),
            Err(e) => e.request_id(),
        };
        finish_span(&span, &record, request_id, result.as_ref().err());
        result
    }
}

/// The span of one call: `plaid.request` with the operation, method and path; status,
/// request id, attempts and latency recorded when it ends.
pub(crate) fn request_span(operation: &str, method: &str, path: &str) -> tracing::Span {
    tracing::info_span!(
        "plaid.request",
        operation,
        method,
        path,
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        attempts = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

/// Records how a call ended in its span (when a subscriber listens), and one debug event.
pub(crate) fn finish_span(
    span: &tracing::Span,
    record: &crate::transport::Record,
    request_id: Option<&str>,
    error: Option<&Error>,
) {
    if !span.is_disabled() {
        span.record("attempts", record.attempts);
        if let Some(status) = record.status {
            span.record("status", status);
        }
        span.record("request_id", request_id);
    }
    span.in_scope(|| match error {
        None => tracing::debug!("plaid: request succeeded"),
        Some(e) => tracing::debug!(error = %e, "plaid: request failed"),
    });
}

impl PlaidClient {
    /// A success's request id is kept only when it looks like Plaid's and holds no part of a
    /// secret of this client or of the request; otherwise it is emptied, and a warning says so.
    fn check_request_id<R: private::Dispatch>(&self, body: &R, response: &mut R::Response) {
        use private::HasRequestId;
        let Some(id) = response.request_id_mut() else {
            return;
        };
        if id.is_empty() {
            return;
        }
        // A shaped id holds only letters, digits, `-` and `_`: no escape or encoding can hide
        // a secret in it, so plain runs are all there is to compare (and nothing allocates).
        let runs = crate::redact::Runs::new(id);
        let mut clean = crate::redact::request_id_shaped(id)
            && !self.shared.secret_values().any(|s| runs.shares(s));
        if clean {
            let mut leaked = false;
            crate::validate::secrets(body, |token| leaked |= runs.shares(token));
            clean = !leaked;
        }
        if !clean {
            id.clear();
            tracing::warn!(
                operation = R::OPERATION,
                "plaid: the response's request id does not look like Plaid's and was dropped"
            );
        }
    }
}
