//! The client users program against, and its operations.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::Processor;
use crate::config::{ClientBuilder, Environment};
use crate::error::{Error, InvalidInput};
use crate::generated::types;
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, ProcessorToken};
use crate::transport::{Call, CallOptions, Shared, finish};

/// An async client for Plaid's API. Cheap to clone: clones share one connection pool.
///
/// Build one with [`PlaidClient::builder`] or [`PlaidClient::from_env`].
#[derive(Clone)]
pub struct PlaidClient {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for PlaidClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.shared, f)
    }
}

impl PlaidClient {
    /// A builder with the defaults listed on [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured by `PLAID_CLIENT_ID`, `PLAID_SECRET`, `PLAID_ENV` (`sandbox`, the
    /// default, `production`, or a URL) and the optional `PLAID_VERSION`. The error names the
    /// variable that is missing or unusable; it never panics.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }

    /// Where this client sends requests.
    pub fn environment(&self) -> &Environment {
        &self.shared.environment
    }

    /// Creates a processor token for one account of an Item, for the payment partner named by
    /// `processor` (`POST /processor/token/create`).
    ///
    /// Await the returned value to send it; [`timeout`](ProcessorTokenCreate::timeout) and
    /// [`retry_policy`](ProcessorTokenCreate::retry_policy) override the client's settings
    /// for this call. Input is checked before anything is sent: a blank field, or an access
    /// token whose prefix names another environment than the client's, is an
    /// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
    ///
    /// Retries may mint more than one token for an account; see [`RetryPolicy`].
    pub fn processor_token_create(
        &self,
        access_token: impl Into<AccessToken>,
        account_id: impl Into<String>,
        processor: impl Into<Processor>,
    ) -> ProcessorTokenCreate<'_> {
        ProcessorTokenCreate {
            client: self,
            access_token: access_token.into(),
            account_id: account_id.into(),
            processor: processor.into(),
            options: CallOptions::default(),
        }
    }

    /// Runs one generated operation inside a tracing span, with the per-call client and the
    /// mapping of its result.
    async fn run<T: serde::de::DeserializeOwned, F, Fut>(
        &self,
        operation: &'static str,
        path: &'static str,
        options: CallOptions,
        send: F,
    ) -> Result<T, Error>
    where
        F: FnOnce(crate::generated::Client) -> Fut,
        Fut: Future<
            Output = (
                crate::generated::Client,
                Result<
                    progenitor_client::ResponseValue<T>,
                    progenitor_client::Error<crate::PlaidError>,
                >,
            ),
        >,
    {
        let span = tracing::info_span!(
            "plaid.request",
            operation,
            method = "POST",
            path,
            status = tracing::field::Empty,
            request_id = tracing::field::Empty,
            attempts = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let client = Call::client(&self.shared, options);
        let (client, result) = send(client).instrument(span.clone()).await;
        let record = client.inner.record();
        let result = finish(operation, &client.inner, result);
        span.record("attempts", record.attempts);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Some(status) = record.status {
            span.record("status", status);
        }
        if let Some(id) = &record.request_id {
            span.record("request_id", id.as_str());
        }
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("plaid: request succeeded"),
            Err(e) => tracing::debug!(error = %e, "plaid: request failed"),
        });
        result
    }
}

/// A pending `/processor/token/create` call; `.await` it to send.
#[must_use = "a request does nothing until awaited"]
#[derive(Debug)]
pub struct ProcessorTokenCreate<'a> {
    client: &'a PlaidClient,
    access_token: AccessToken,
    account_id: String,
    processor: Processor,
    options: CallOptions,
}

impl ProcessorTokenCreate<'_> {
    /// The timeout of each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The retry policy of this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(policy);
        self
    }

    async fn send(self) -> Result<ProcessorTokenCreated, Error> {
        const OPERATION: &str = "processor_token_create";
        let environment = &self.client.shared.environment;
        let checked = check_access_token(&self.access_token, environment)
            .and_then(|()| check_blank("account_id", &self.account_id))
            .and_then(|()| check_blank("processor", self.processor.as_str()));
        if let Err(invalid) = checked {
            return Err(Error::from(invalid).with_operation(OPERATION));
        }
        if self.options.timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::from(crate::ConfigError::InvalidSetting(
                "the timeout must be more than zero".into(),
            ))
            .with_operation(OPERATION));
        }
        let body = types::ProcessorTokenCreateRequest {
            access_token: self.access_token,
            account_id: self.account_id,
            processor: self.processor,
        };
        let response = self
            .client
            .run(
                OPERATION,
                "/processor/token/create",
                self.options,
                |client| async move {
                    let result = client.processor_token_create(&body).await;
                    (client, result)
                },
            )
            .await?;
        Ok(ProcessorTokenCreated {
            processor_token: response.processor_token,
            request_id: response.request_id.0,
        })
    }
}

impl<'a> IntoFuture for ProcessorTokenCreate<'a> {
    type Output = Result<ProcessorTokenCreated, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A processor token, and the request id of the call that made it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessorTokenCreated {
    /// The token to hand to the partner. A secret.
    pub processor_token: ProcessorToken,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

fn check_blank(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        Err(InvalidInput::Blank { field })
    } else {
        Ok(())
    }
}

/// The environment an access token's prefix names (`access-sandbox-…` → `sandbox`).
fn token_environment(token: &str) -> Option<&str> {
    let rest = token.strip_prefix("access-")?;
    let (env, _) = rest.split_once('-')?;
    Some(env)
}

fn check_access_token(token: &AccessToken, environment: &Environment) -> Result<(), InvalidInput> {
    let value = token.expose_secret();
    check_blank("access_token", value)?;
    let expected = match environment {
        Environment::Sandbox => "sandbox",
        Environment::Production => "production",
        // A gateway or emulator may front any environment.
        Environment::Custom(_) => return Ok(()),
    };
    match token_environment(value) {
        Some(env) if env != expected && ["sandbox", "production", "development"].contains(&env) => {
            Err(InvalidInput::WrongEnvironment {
                field: "access_token",
                token_environment: env.to_string(),
                client_environment: environment.name(),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_must_match_the_environment() {
        let sandbox_token = AccessToken::new("access-sandbox-123");
        let production_token = AccessToken::new("access-production-123");
        assert!(check_access_token(&sandbox_token, &Environment::Sandbox).is_ok());
        assert!(check_access_token(&production_token, &Environment::Production).is_ok());
        assert_eq!(
            check_access_token(&sandbox_token, &Environment::Production),
            Err(InvalidInput::WrongEnvironment {
                field: "access_token",
                token_environment: "sandbox".into(),
                client_environment: "production"
            })
        );
        assert!(check_access_token(&production_token, &Environment::Sandbox).is_err());
        assert!(
            check_access_token(
                &AccessToken::new("access-development-1"),
                &Environment::Sandbox
            )
            .is_err()
        );
        let custom = Environment::custom("http://127.0.0.1:1").expect("url");
        assert!(check_access_token(&sandbox_token, &custom).is_ok());
        // Tokens without a recognisable prefix are Plaid's to judge.
        assert!(check_access_token(&AccessToken::new("opaque"), &Environment::Production).is_ok());
    }

    #[test]
    fn blank_fields_are_refused() {
        assert_eq!(
            check_access_token(&AccessToken::new(" \t"), &Environment::Sandbox),
            Err(InvalidInput::Blank {
                field: "access_token"
            })
        );
        assert_eq!(
            check_blank("account_id", ""),
            Err(InvalidInput::Blank {
                field: "account_id"
            })
        );
        assert!(check_blank("account_id", "acc").is_ok());
    }
}
