//! One call, from the first check to the last word, the same for a generated operation and a
//! raw call ([`PlaidClient::call`](crate::PlaidClient::call)). Its phases, in order:
//!
//! 1. **check**: what the caller asked for, before anything is sent: the request's fields
//!    (`validate`), a Sandbox-only operation against production, the call's own settings;
//!    the call's tracing span opens (made and timed only when a subscriber listens).
//! 2. **attempt**: one request over the call's route, built afresh
//!    ([`Shared::attempt`](crate::transport::Shared::attempt), in `transport`),
//! 3. **receive**: its answer read within the size limit and parsed, or recorded for the
//!    error (`transport`),
//! 4. **decide**: retry or stop, by `retry::decide` ([`Shared::decide`]),
//! 5. **finish**: the user's result: a success's request id checked, or the error built from
//!    the last failure with everything the server said redacted ([`Shared::error`]); the
//!    span's last fields.
//!
//! `transport` knows routes, headers and answers; `retry` knows when to try again; this
//! module alone puts them in order.

use std::borrow::Cow;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::{Duration, Instant};

use crate::PlaidClient;
use crate::error::{ConfigError, Error, ErrorKind, InvalidInput};
use crate::redact::Redactor;
use crate::request::private::{Dispatch, HasRequestId};
use crate::request::{CallOptions, Request};
use crate::retry::{Decision, Outcome, RetryPolicy, decide};
use crate::transport::{Failure, Record, Shared, error_type_of, redact_serde, request_id_of};

/// One call under way: where it goes, its settings, what its attempts came to, its span.
pub(crate) struct Call<'a, G> {
    shared: &'a Shared,
    operation: Cow<'static, str>,
    target: G,
    options: CallOptions,
    record: Record,
    span: tracing::Span,
    /// When the call started, if its span records it.
    started: Option<Instant>,
}

impl<'a, G: Target> Call<'a, G> {
    /// **check** the call's own settings (its input was checked by the caller) and open its
    /// span.
    pub(crate) fn check(
        shared: &'a Shared,
        operation: Cow<'static, str>,
        method: &str,
        path: &str,
        target: G,
        options: CallOptions,
    ) -> Result<Self, Error> {
        if options.timeout.is_some_and(|t| t.is_zero()) {
            let e = Error::from(ConfigError::InvalidSetting(
                "the timeout must be more than zero".into(),
            ));
            return Err(e.with_operation(operation));
        }
        let span = request_span(&operation, method, path);
        let started = (!span.is_disabled()).then(Instant::now);
        Ok(Call {
            shared,
            operation,
            target,
            options,
            record: Record::default(),
            span,
            started,
        })
    }

    /// The attempts, inside the call's span: each **attempt** and **receive** by
    /// `transport`, then **decide**; the parsed success, or why the last attempt failed.
    /// (Not an `async fn`: it adds no layer of its own to every call's future. A disabled span,
    /// with no subscriber listening, costs a check per poll.)
    pub(crate) fn attempts<'s, B, T>(
        &'s mut self,
        body: &'s B,
    ) -> impl Future<Output = Result<T, Failure>> + 's
    where
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned + 's,
    {
        use tracing::Instrument;
        let span = self.span.clone();
        self.run_attempts(body).instrument(span)
    }

    async fn run_attempts<B, T>(&mut self, body: &B) -> Result<T, Failure>
    where
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    {
        let shared = self.shared;
        let policy = self.options.retry.as_deref().unwrap_or(&shared.retry);
        let timeout = self.options.timeout.unwrap_or(shared.timeout);
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.record.attempts = attempt;
            let target = &self.target;
            let route = || target.route(shared);
            let failure = match shared
                .attempt::<B, T, _>(route, body, timeout, &mut self.record)
                .await
            {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            let repeatable = self.target.repeatable();
            match shared.decide(
                &failure,
                &self.record,
                policy,
                repeatable,
                attempt,
                started.elapsed(),
            ) {
                Decision::Retry(delay) => {
                    tracing::debug!(
                        attempt,
                        status = self.record.status,
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

    /// **finish** a failed call: the user's error, with everything the server said redacted
    /// by the client's secrets and the request's `tokens`.
    pub(crate) fn error(&self, failure: Failure, tokens: &[String]) -> Error {
        let redactor = Redactor::new(
            self.shared
                .secret_values()
                .chain(tokens.iter().map(String::as_str)),
        );
        self.shared.error(
            self.operation.clone(),
            self.target.repeatable(),
            &self.options,
            &self.record,
            failure,
            &redactor,
        )
    }

    /// **finish**: the span's last fields (the latency of the whole call), and one debug
    /// event.
    pub(crate) fn finish(self, request_id: Option<&str>, error: Option<&Error>) {
        if let Some(started) = self.started {
            self.span
                .record("latency_ms", started.elapsed().as_millis() as u64);
        }
        finish_span(&self.span, &self.record, request_id, error);
    }
}

impl PlaidClient {
    /// One generated operation's call, through every phase.
    pub(crate) async fn run<R: Dispatch>(
        &self,
        body: R,
        options: CallOptions,
    ) -> Result<R::Response, Error> {
        let operation = R::OPERATION;
        if let Some(invalid) =
            crate::validate::check(self.shared.environment.token_environment(), &body)
        {
            return Err(Error::from(invalid).with_operation(operation));
        }
        if R::SANDBOX_ONLY && matches!(self.shared.environment, crate::Environment::Production) {
            return Err(
                Error::from(InvalidInput::SandboxOnly { operation }).with_operation(operation)
            );
        }
        let mut call = Call::check(
            &self.shared,
            operation.into(),
            R::METHOD,
            R::PATH,
            Operation::<R>::TARGET,
            options,
        )?;
        let result = match call.attempts::<R, R::Response>(&body).await {
            Ok(mut response) => {
                self.check_request_id(&body, &mut response);
                Ok(response)
            }
            Err(failure) => {
                // Only an error needs the request's tokens, to redact what the server said.
                let mut tokens = Vec::new();
                crate::validate::secrets(&body, |t| tokens.push(t.to_string()));
                Err(call.error(failure, &tokens))
            }
        };
        let request_id = match &result {
            Ok(response) => Some(response.request_id()),
            Err(e) => e.request_id(),
        };
        call.finish(request_id, result.as_ref().err());
        result
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

impl<'a, R: Dispatch> IntoFuture for Pending<'a, R> {
    type Output = Result<R::Response, Error>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.client.run(self.body, self.options))
    }
}

impl PlaidClient {
    /// A success's request id is kept only when it looks like Plaid's and holds no part of a
    /// secret of this client or of the request; otherwise it is emptied, and a warning says so.
    fn check_request_id<R: Dispatch>(&self, body: &R, response: &mut R::Response) {
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
        shared.route(R::INDEX, R::METHOD, R::PATH)
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
        let status = record.status.unwrap_or_default();
        // Plaid's `error_type` tells a 5xx that may have acted from one that did not.
        let error_type = match failure {
            Failure::Status if status >= 500 => error_type_of(&record.body),
            _ => None,
        };
        let outcome = match failure {
            Failure::Status if (200..300).contains(&status) => return Decision::Stop,
            Failure::Status => Outcome::Status {
                status,
                retry_after: record.retry_after,
                error_type: error_type.as_deref(),
            },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::Environment;

    /// An operation whose index names another operation's route.
    #[derive(serde::Serialize)]
    struct Misplaced;
    impl crate::request::private::Sealed for Misplaced {}
    impl crate::request::Request for Misplaced {
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
        for (index, op) in crate::OPERATIONS.iter().enumerate() {
            let (method, url) = shared.route(index, op.method, op.path).expect("route");
            assert_eq!(method.as_str(), op.method);
            assert_eq!(
                url.as_str(),
                format!("http://127.0.0.1:9/gateway{}", op.path)
            );
        }
        let (method, url) = Operation::<crate::types::ProcessorTokenCreateRequest>::TARGET
            .route(shared)
            .expect("route");
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("POST", "http://127.0.0.1:9/gateway/processor/token/create")
        );
        let (method, url) = Operation::<Misplaced>::TARGET.route(shared).expect("route");
        assert_eq!(
            (method.as_str(), url.as_str()),
            ("PUT", "http://127.0.0.1:9/gateway/misplaced/path"),
            "made afresh, not the route at its index"
        );
    }
}
