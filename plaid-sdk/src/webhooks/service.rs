//! A ready webhook endpoint: a `tower` service that reads, bounds, verifies and answers each
//! request, and hands verified events to the application.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};

use super::{WebhookEvent, WebhookVerifier};

/// The largest webhook body read unless set otherwise: 64 KiB (Plaid's are a few hundred
/// bytes).
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// How long reading a webhook's body and verifying it may take unless set otherwise: 10
/// seconds, Plaid's own wait for an answer.
pub const DEFAULT_RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a [`WebhookService`]'s handler returns: `Ok` answers 200; an error answers 500 (so
/// that Plaid sends the webhook again) and is logged, never shown to the sender.
pub type HandlerResult = Result<(), HandlerError>;

/// Why a handler could not process a verified webhook. Every error type converts into it, so
/// `?` works in a handler; [`HandlerError::msg`] takes anything displayable (an
/// `anyhow::Error`, a message).
pub struct HandlerError(Box<dyn std::error::Error + Send + Sync>);

impl HandlerError {
    /// An error from a message, or from an error type that does not implement
    /// `std::error::Error`.
    pub fn msg(message: impl fmt::Display) -> Self {
        HandlerError(message.to_string().into())
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        HandlerError(Box::new(error))
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HandlerError").field(&self.0).finish()
    }
}

/// The reply a [`WebhookService`] sends.
pub type WebhookResponse = http::Response<Full<Bytes>>;

/// A webhook endpoint as a [`tower_service::Service`]: mount it in axum
/// (`Router::route_service`), in hyper (through `hyper_util`'s `TowerToHyperService`), or in
/// any server that takes `tower` services.
///
/// Per request it answers, in Plaid's expectations and without reading more than it must:
///
/// | status | when |
/// |---|---|
/// | 200 | verified, and the handler returned `Ok` |
/// | 405 | not a `POST` (with `Allow: POST`) |
/// | 413 | the body is larger than [`max_body`](Self::max_body) (read no further) |
/// | 400 | the body could not be read |
/// | 408 | the body and the verification took longer than [`timeout`](Self::timeout) |
/// | 400, 401, 503 | refused by the [`WebhookVerifier`] ([`WebhookError::http_status`](super::WebhookError::http_status)) |
/// | 500 | the handler returned an error |
///
/// Every answer is a small JSON object (`{"received":true}`, or `{"error":…,"message":…}`
/// with the refusal's [`name`](super::WebhookError::name)); refusals are logged at `debug`
/// (a flood of forged webhooks writes no warnings), handler errors at `warn`.
///
/// The handler runs only for verified webhooks, after the timeout's bound: keep it quick
/// (Plaid waits 10 seconds) and idempotent (Plaid sends a webhook again when it gets no 2xx).
/// The connection-level limits (a cap on connections, header and idle timeouts, surviving
/// `accept` errors) belong to the server that runs the service; the `webhook_receiver`
/// example shows them with hyper.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use plaid_sdk::webhooks::{WebhookService, WebhookVerifier};
///
/// let verifier = WebhookVerifier::new(plaid_sdk::PlaidClient::from_env()?);
/// let service = WebhookService::new(verifier, |event| async move {
///     println!("{} {}", event.webhook_type, event.webhook_code);
///     Ok(())
/// });
/// // axum:  Router::new().route_service("/plaid/webhooks", service)
/// // hyper: hyper_util::service::TowerToHyperService::new(service)
/// # let _ = service;
/// # Ok(())
/// # }
/// ```
pub struct WebhookService<H> {
    verifier: WebhookVerifier,
    handler: Arc<H>,
    max_body: usize,
    timeout: Duration,
}

impl<H> Clone for WebhookService<H> {
    fn clone(&self) -> Self {
        WebhookService {
            verifier: self.verifier.clone(),
            handler: Arc::clone(&self.handler),
            max_body: self.max_body,
            timeout: self.timeout,
        }
    }
}

impl<H> fmt::Debug for WebhookService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookService")
            .field("verifier", &self.verifier)
            .field("max_body", &self.max_body)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<H, F> WebhookService<H>
where
    H: Fn(WebhookEvent) -> F + Send + Sync + 'static,
    F: Future<Output = HandlerResult> + Send + 'static,
{
    /// An endpoint that verifies with `verifier` and passes each verified event to `handler`,
    /// with [`DEFAULT_MAX_BODY`] and [`DEFAULT_RECEIVE_TIMEOUT`].
    pub fn new(verifier: WebhookVerifier, handler: H) -> Self {
        WebhookService {
            verifier,
            handler: Arc::new(handler),
            max_body: DEFAULT_MAX_BODY,
            timeout: DEFAULT_RECEIVE_TIMEOUT,
        }
    }

    /// The largest body read, in bytes; a larger one is answered 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long reading the body and verifying it may take; a slower request is answered
    /// 408. The handler's own time is not counted.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Answers one request (what [`tower_service::Service::call`] runs).
    pub async fn receive<B>(&self, request: http::Request<B>) -> WebhookResponse
    where
        B: http_body::Body + Send,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != http::Method::POST {
            let mut reply = reply(
                http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "webhooks are POSTed",
            );
            reply
                .headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            return reply;
        }
        let inner = self;
        let (parts, body) = request.into_parts();
        let verified = tokio::time::timeout(inner.timeout, async {
            let body = match read_body(body, inner.max_body).await {
                Ok(body) => body,
                Err(BodyProblem::TooLarge) => {
                    return Err(reply(
                        http::StatusCode::PAYLOAD_TOO_LARGE,
                        "body_too_large",
                        "the body is larger than this endpoint reads",
                    ));
                }
                Err(BodyProblem::Unreadable) => {
                    return Err(reply(
                        http::StatusCode::BAD_REQUEST,
                        "body_unreadable",
                        "the body could not be read",
                    ));
                }
            };
            inner
                .verifier
                .verify(&parts.headers, &body)
                .await
                .map_err(|e| {
                    tracing::debug!(reason = e.name(), error = %e, "webhook refused");
                    let status = http::StatusCode::from_u16(e.http_status())
                        .unwrap_or(http::StatusCode::UNAUTHORIZED);
                    json_reply(
                        status,
                        &serde_json::json!({ "error": e.name(), "message": e.to_string() }),
                    )
                })
        })
        .await;
        let event = match verified {
            Ok(Ok(event)) => event,
            Ok(Err(refused)) => return refused,
            Err(_) => {
                tracing::debug!(reason = "timeout", "webhook refused");
                return reply(
                    http::StatusCode::REQUEST_TIMEOUT,
                    "timeout",
                    "the body and its verification took too long",
                );
            }
        };
        let (webhook_type, webhook_code) = (event.webhook_type.clone(), event.webhook_code.clone());
        match (inner.handler)(event).await {
            Ok(()) => json_reply(
                http::StatusCode::OK,
                &serde_json::json!({ "received": true }),
            ),
            Err(e) => {
                tracing::warn!(
                    webhook_type = %super::shown(&webhook_type),
                    webhook_code = %super::shown(&webhook_code),
                    error = %e,
                    "webhook handler failed; answered 500 so that Plaid sends it again"
                );
                reply(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "handler_failed",
                    "the webhook was verified but not processed",
                )
            }
        }
    }
}

/// Why a body was not read whole.
enum BodyProblem {
    TooLarge,
    Unreadable,
}

/// The body, at most `max` bytes of it.
fn read_body<B>(body: B, max: usize) -> impl Future<Output = Result<Bytes, BodyProblem>> + Send
where
    B: http_body::Body + Send,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let collect = Limited::new(body, max).collect();
    async move {
        match collect.await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(e) if e.is::<LengthLimitError>() => Err(BodyProblem::TooLarge),
            Err(_) => Err(BodyProblem::Unreadable),
        }
    }
}

fn reply(status: http::StatusCode, error: &str, message: &str) -> WebhookResponse {
    json_reply(
        status,
        &serde_json::json!({ "error": error, "message": message }),
    )
}

fn json_reply(status: http::StatusCode, body: &serde_json::Value) -> WebhookResponse {
    let mut response = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

impl<H, F, B> tower_service::Service<http::Request<B>> for WebhookService<H>
where
    H: Fn(WebhookEvent) -> F + Send + Sync + 'static,
    F: Future<Output = HandlerResult> + Send + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = WebhookResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<WebhookResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let service = self.clone();
        Box::pin(async move { Ok(service.receive(request).await) })
    }
}
