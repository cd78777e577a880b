//! The client users program against, and its operations.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use crate::config::{ClientBuilder, Environment};
use crate::error::{ConfigError, Error, InvalidInput};
use crate::generated::{self, types};
use crate::retry::RetryPolicy;
use crate::secret::{AccessToken, ProcessorToken, PublicToken, StripeBankAccountToken};
use crate::transport::{Call, CallOptions, Shared, finish};
use crate::{Processor, Product};

/// An async client for Plaid's API. Cheap to clone: clones share one connection pool.
///
/// Build one with [`PlaidClient::builder`] or [`PlaidClient::from_env`]. Each operation
/// returns a [`Pending`] call: `.await` it to send, after optionally overriding the
/// [`timeout`](Pending::timeout) or [`retry_policy`](Pending::retry_policy) for that call.
/// Input is checked before anything is sent: a blank field, or a token whose prefix names
/// another environment than the client's, is an
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
#[derive(Clone)]
pub struct PlaidClient {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for PlaidClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.shared, f)
    }
}

type GeneratedResult<R> =
    Result<progenitor_client::ResponseValue<R>, progenitor_client::Error<crate::PlaidError>>;
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type Send_<'a, T> = Box<dyn FnOnce(CallOptions) -> BoxFuture<'a, Result<T, Error>> + Send + 'a>;

/// A call that has not been sent yet; `.await` it to send.
#[must_use = "a call does nothing until awaited"]
pub struct Pending<'a, T> {
    operation: &'static str,
    options: CallOptions,
    send: Result<Send_<'a, T>, Error>,
}

impl<T> fmt::Debug for Pending<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pending")
            .field("operation", &self.operation)
            .field("options", &self.options)
            .field("input_ok", &self.send.is_ok())
            .finish()
    }
}

impl<T> Pending<'_, T> {
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
}

impl<'a, T: Send + 'a> IntoFuture for Pending<'a, T> {
    type Output = Result<T, Error>;
    type IntoFuture = BoxFuture<'a, Result<T, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        let Pending {
            operation,
            options,
            send,
        } = self;
        if options.timeout.is_some_and(|t| t.is_zero()) {
            let e = Error::from(ConfigError::InvalidSetting(
                "the timeout must be more than zero".into(),
            ));
            return Box::pin(std::future::ready(Err(e.with_operation(operation))));
        }
        match send {
            Ok(send) => send(options),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
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

/// A Stripe bank account token, and the request id of the call that made it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StripeBankAccountTokenCreated {
    /// The token to hand to Stripe (`btok_…`). A secret.
    pub stripe_bank_account_token: StripeBankAccountToken,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

/// The products a processor token is limited to.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProcessorPermissions {
    /// The products the partner may use; empty when no limit is set.
    pub products: Vec<Product>,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

/// A public token for a new Sandbox Item.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublicTokenCreated {
    /// Exchange it with [`PlaidClient::item_public_token_exchange`]. A secret.
    pub public_token: PublicToken,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

/// The access token of an Item.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PublicTokenExchanged {
    /// The token for every later call about the Item. A secret: store it on your backend.
    pub access_token: AccessToken,
    /// Plaid's id of the Item.
    pub item_id: String,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

/// The accounts of an Item, and the Item.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Accounts {
    /// The accounts the user shared.
    pub accounts: Vec<crate::types::AccountBase>,
    /// The Item itself.
    pub item: crate::types::Item,
    /// Plaid's identifier of the call.
    pub request_id: String,
}

/// Plaid's acknowledgement of a call that returns nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Acknowledged {
    /// Plaid's identifier of the call.
    pub request_id: String,
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
    /// Retries may mint more than one token for an account; see [`RetryPolicy`].
    pub fn processor_token_create(
        &self,
        access_token: impl Into<AccessToken>,
        account_id: impl Into<String>,
        processor: impl Into<Processor>,
    ) -> Pending<'_, ProcessorTokenCreated> {
        let body = types::ProcessorTokenCreateRequest {
            access_token: access_token.into(),
            account_id: account_id.into(),
            processor: processor.into(),
        };
        let checked = self
            .check_token("access_token", "access", body.access_token.expose_secret())
            .and_then(|()| check_blank("account_id", &body.account_id))
            .and_then(|()| check_blank("processor", body.processor.as_str()));
        self.pending(
            "processor_token_create",
            "/processor/token/create",
            checked,
            |client| async move {
                let result = client.processor_token_create(&body).await;
                (client, result)
            },
            |r| ProcessorTokenCreated {
                processor_token: r.processor_token,
                request_id: r.request_id.0,
            },
        )
    }

    /// Limits the products a partner may use with a processor token; an empty list lifts the
    /// limit (`POST /processor/token/permissions/set`).
    pub fn processor_token_permissions_set(
        &self,
        processor_token: impl Into<ProcessorToken>,
        products: impl IntoIterator<Item = Product>,
    ) -> Pending<'_, Acknowledged> {
        let body = types::ProcessorTokenPermissionsSetRequest {
            processor_token: processor_token.into(),
            products: products.into_iter().collect(),
        };
        let checked = self
            .check_token(
                "processor_token",
                "processor",
                body.processor_token.expose_secret(),
            )
            .and_then(|()| {
                body.products
                    .iter()
                    .try_for_each(|p| check_blank("products", p.as_str()))
            });
        self.pending(
            "processor_token_permissions_set",
            "/processor/token/permissions/set",
            checked,
            |client| async move {
                let result = client.processor_token_permissions_set(&body).await;
                (client, result)
            },
            |r| Acknowledged {
                request_id: r.request_id.0,
            },
        )
    }

    /// Reads the products a processor token is limited to
    /// (`POST /processor/token/permissions/get`).
    pub fn processor_token_permissions_get(
        &self,
        processor_token: impl Into<ProcessorToken>,
    ) -> Pending<'_, ProcessorPermissions> {
        let body = types::ProcessorTokenPermissionsGetRequest {
            processor_token: processor_token.into(),
        };
        let checked = self.check_token(
            "processor_token",
            "processor",
            body.processor_token.expose_secret(),
        );
        self.pending(
            "processor_token_permissions_get",
            "/processor/token/permissions/get",
            checked,
            |client| async move {
                let result = client.processor_token_permissions_get(&body).await;
                (client, result)
            },
            |r| ProcessorPermissions {
                products: r.products,
                request_id: r.request_id.0,
            },
        )
    }

    /// Creates a Stripe bank account token for one account of an Item
    /// (`POST /processor/stripe/bank_account_token/create`).
    pub fn processor_stripe_bank_account_token_create(
        &self,
        access_token: impl Into<AccessToken>,
        account_id: impl Into<String>,
    ) -> Pending<'_, StripeBankAccountTokenCreated> {
        let body = types::ProcessorStripeBankAccountTokenCreateRequest {
            access_token: access_token.into(),
            account_id: account_id.into(),
        };
        let checked = self
            .check_token("access_token", "access", body.access_token.expose_secret())
            .and_then(|()| check_blank("account_id", &body.account_id));
        self.pending(
            "processor_stripe_bank_account_token_create",
            "/processor/stripe/bank_account_token/create",
            checked,
            |client| async move {
                let result = client
                    .processor_stripe_bank_account_token_create(&body)
                    .await;
                (client, result)
            },
            |r| StripeBankAccountTokenCreated {
                stripe_bank_account_token: r.stripe_bank_account_token,
                request_id: r.request_id.0,
            },
        )
    }

    /// Deletes an Item: its access token and every processor token made from it stop working
    /// (`POST /item/remove`).
    pub fn item_remove(&self, access_token: impl Into<AccessToken>) -> Pending<'_, Acknowledged> {
        self.item_remove_request(access_token.into(), None, None)
    }

    /// [`item_remove`](Self::item_remove), telling Plaid why: a reason code, and optionally a
    /// note of at most 512 characters (never personal data).
    pub fn item_remove_with_reason(
        &self,
        access_token: impl Into<AccessToken>,
        reason_code: crate::types::ItemRemoveReasonCode,
        reason_note: Option<&str>,
    ) -> Pending<'_, Acknowledged> {
        self.item_remove_request(access_token.into(), Some(reason_code), reason_note)
    }

    fn item_remove_request(
        &self,
        access_token: AccessToken,
        reason_code: Option<crate::types::ItemRemoveReasonCode>,
        reason_note: Option<&str>,
    ) -> Pending<'_, Acknowledged> {
        let note = reason_note.map(|n| n.parse::<types::ItemRemoveRequestReasonNote>());
        let too_long = matches!(note, Some(Err(_)));
        let checked = self
            .check_token("access_token", "access", access_token.expose_secret())
            .and_then(|()| check_length("reason_note", too_long, 512));
        let body = types::ItemRemoveRequest {
            access_token,
            reason_code,
            reason_note: note.and_then(Result::ok),
        };
        self.pending(
            "item_remove",
            "/item/remove",
            checked,
            |client| async move {
                let result = client.item_remove(&body).await;
                (client, result)
            },
            |r| Acknowledged {
                request_id: r.request_id.0,
            },
        )
    }

    /// Sandbox only: creates an Item at a test institution (such as `ins_109508`) set up with
    /// `initial_products`, and returns a public token for it
    /// (`POST /sandbox/public_token/create`). Refused before sending on a Production client.
    pub fn sandbox_public_token_create(
        &self,
        institution_id: impl Into<String>,
        initial_products: impl IntoIterator<Item = Product>,
    ) -> Pending<'_, PublicTokenCreated> {
        let body = types::SandboxPublicTokenCreateRequest {
            institution_id: institution_id.into(),
            initial_products: initial_products.into_iter().collect(),
            options: None,
            user_id: None,
            user_token: None,
        };
        let checked = self.check_sandbox_item(&body.institution_id, &body.initial_products);
        self.pending(
            "sandbox_public_token_create",
            "/sandbox/public_token/create",
            checked,
            |client| async move {
                let result = client.sandbox_public_token_create(&body).await;
                (client, result)
            },
            |r| PublicTokenCreated {
                public_token: r.public_token,
                request_id: r.request_id.0,
            },
        )
    }

    /// Exchanges a public token (from Link or the Sandbox) for the Item's access token; each
    /// public token can be exchanged once (`POST /item/public_token/exchange`).
    pub fn item_public_token_exchange(
        &self,
        public_token: impl Into<PublicToken>,
    ) -> Pending<'_, PublicTokenExchanged> {
        let body = types::ItemPublicTokenExchangeRequest {
            public_token: public_token.into(),
        };
        let checked = self.check_token("public_token", "public", body.public_token.expose_secret());
        self.pending(
            "item_public_token_exchange",
            "/item/public_token/exchange",
            checked,
            |client| async move {
                let result = client.item_public_token_exchange(&body).await;
                (client, result)
            },
            |r| PublicTokenExchanged {
                access_token: r.access_token,
                item_id: r.item_id,
                request_id: r.request_id.0,
            },
        )
    }

    /// Lists the accounts of an Item, with the balances Plaid last saw (`POST /accounts/get`).
    pub fn accounts_get(&self, access_token: impl Into<AccessToken>) -> Pending<'_, Accounts> {
        let body = types::AccountsGetRequest {
            access_token: access_token.into(),
            options: None,
        };
        let checked = self.check_token("access_token", "access", body.access_token.expose_secret());
        self.pending(
            "accounts_get",
            "/accounts/get",
            checked,
            |client| async move {
                let result = client.accounts_get(&body).await;
                (client, result)
            },
            |r| Accounts {
                accounts: r.accounts,
                item: r.item,
                request_id: r.request_id.0,
            },
        )
    }

    /// Packages one operation: its input check, how to send it with the generated client, and
    /// how to turn the generated response into the public one.
    fn pending<'a, R, T, F, Fut>(
        &'a self,
        operation: &'static str,
        path: &'static str,
        checked: Result<(), InvalidInput>,
        send: F,
        map: fn(R) -> T,
    ) -> Pending<'a, T>
    where
        R: serde::de::DeserializeOwned + HasRequestId + Send + 'a,
        T: 'a,
        F: FnOnce(generated::Client) -> Fut + Send + 'a,
        Fut: Future<Output = (generated::Client, GeneratedResult<R>)> + Send + 'a,
    {
        let send = match checked {
            Ok(()) => Ok(Box::new(
                move |options: CallOptions| -> BoxFuture<'a, Result<T, Error>> {
                    Box::pin(async move { self.run(operation, path, options, send).await.map(map) })
                },
            ) as Send_<'a, T>),
            Err(invalid) => Err(Error::from(invalid).with_operation(operation)),
        };
        Pending {
            operation,
            options: CallOptions::default(),
            send,
        }
    }

    /// Runs one generated operation inside a tracing span, with the per-call client and the
    /// mapping of its result.
    async fn run<R, F, Fut>(
        &self,
        operation: &'static str,
        path: &'static str,
        options: CallOptions,
        send: F,
    ) -> Result<R, Error>
    where
        R: serde::de::DeserializeOwned + HasRequestId,
        F: FnOnce(generated::Client) -> Fut,
        Fut: Future<Output = (generated::Client, GeneratedResult<R>)>,
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
        // Boxed once here, so the outer futures stay small and are not copied at each level.
        let (client, result) = Box::pin(send(client).instrument(span.clone())).await;
        let record = client.inner.take_record();
        let result = finish(operation, &client.inner, &record, result);
        span.record("attempts", record.attempts);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        if let Some(status) = record.status {
            span.record("status", status);
        }
        match &result {
            Ok(response) => span.record("request_id", response.request_id()),
            Err(e) => span.record("request_id", e.request_id()),
        };
        span.in_scope(|| match &result {
            Ok(_) => tracing::debug!("plaid: request succeeded"),
            Err(e) => tracing::debug!(error = %e, "plaid: request failed"),
        });
        result
    }

    fn check_sandbox_item(
        &self,
        institution_id: &str,
        products: &[Product],
    ) -> Result<(), InvalidInput> {
        check_blank("institution_id", institution_id)?;
        if products.is_empty() {
            return Err(InvalidInput::Blank {
                field: "initial_products",
            });
        }
        if matches!(self.shared.environment, Environment::Production) {
            return Err(InvalidInput::SandboxOnly {
                operation: "sandbox_public_token_create",
            });
        }
        Ok(())
    }

    /// A token must not be blank, and its prefix (`<kind>-<environment>-…`) must not name an
    /// environment other than the client's. Custom base URLs may front any environment.
    fn check_token(
        &self,
        field: &'static str,
        kind: &str,
        token: &str,
    ) -> Result<(), InvalidInput> {
        check_blank(field, token)?;
        let expected = match self.shared.environment {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
            Environment::Custom(_) => return Ok(()),
        };
        match token_environment(token, kind) {
            Some(env) if env != expected && KNOWN_ENVIRONMENTS.contains(&env) => {
                Err(InvalidInput::WrongEnvironment {
                    field,
                    token_environment: env.to_string(),
                    client_environment: self.shared.environment.name(),
                })
            }
            _ => Ok(()),
        }
    }
}

/// The generated success responses, which all carry Plaid's request id.
pub(crate) trait HasRequestId {
    fn request_id(&self) -> &str;
}

macro_rules! has_request_id {
    ($($t:ident),* $(,)?) => {
        $(impl HasRequestId for types::$t {
            fn request_id(&self) -> &str {
                &self.request_id
            }
        })*
    };
}

has_request_id!(
    ProcessorTokenCreateResponse,
    ProcessorTokenPermissionsSetResponse,
    ProcessorTokenPermissionsGetResponse,
    ProcessorStripeBankAccountTokenCreateResponse,
    ItemRemoveResponse,
    SandboxPublicTokenCreateResponse,
    ItemPublicTokenExchangeResponse,
    AccountsGetResponse,
);

const KNOWN_ENVIRONMENTS: [&str; 3] = ["sandbox", "production", "development"];

fn check_length(field: &'static str, too_long: bool, max: usize) -> Result<(), InvalidInput> {
    if too_long {
        Err(InvalidInput::TooLong { field, max })
    } else {
        Ok(())
    }
}

fn check_blank(field: &'static str, value: &str) -> Result<(), InvalidInput> {
    if value.trim().is_empty() {
        Err(InvalidInput::Blank { field })
    } else {
        Ok(())
    }
}

/// The environment a token's prefix names (`access-sandbox-…` → `sandbox` for kind `access`).
fn token_environment<'t>(token: &'t str, kind: &str) -> Option<&'t str> {
    let rest = token.strip_prefix(kind)?.strip_prefix('-')?;
    let (env, _) = rest.split_once('-')?;
    Some(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(environment: Environment) -> PlaidClient {
        PlaidClient::builder()
            .environment(environment)
            .credentials("id", "secret")
            .build()
            .expect("client")
    }

    #[test]
    fn tokens_must_match_the_environment() {
        let sandbox = client(Environment::Sandbox);
        let production = client(Environment::Production);
        assert!(
            sandbox
                .check_token("access_token", "access", "access-sandbox-123")
                .is_ok()
        );
        assert!(
            production
                .check_token("access_token", "access", "access-production-123")
                .is_ok()
        );
        assert_eq!(
            production.check_token("access_token", "access", "access-sandbox-123"),
            Err(InvalidInput::WrongEnvironment {
                field: "access_token",
                token_environment: "sandbox".into(),
                client_environment: "production"
            })
        );
        assert!(
            sandbox
                .check_token("access_token", "access", "access-production-1")
                .is_err()
        );
        assert!(
            sandbox
                .check_token("access_token", "access", "access-development-1")
                .is_err()
        );
        assert!(
            production
                .check_token("processor_token", "processor", "processor-sandbox-1")
                .is_err()
        );
        assert!(
            sandbox
                .check_token("public_token", "public", "public-production-1")
                .is_err()
        );
        let custom = client(Environment::custom("http://127.0.0.1:1").expect("url"));
        assert!(
            custom
                .check_token("access_token", "access", "access-production-1")
                .is_ok()
        );
        // Tokens without a recognisable prefix are Plaid's to judge.
        assert!(
            production
                .check_token("access_token", "access", "opaque")
                .is_ok()
        );
        assert!(
            production
                .check_token("access_token", "access", "access-weird-1")
                .is_ok()
        );
    }

    #[test]
    fn blank_fields_are_refused() {
        let sandbox = client(Environment::Sandbox);
        assert_eq!(
            sandbox.check_token("access_token", "access", " \t"),
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
