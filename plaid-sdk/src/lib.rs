#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod call;
mod client;
mod config;
mod environment;
mod error;
pub mod open_enum;
mod raw;
mod redact;
mod request;
pub mod retry;
mod secret;
mod transport;
mod validate;
pub mod webhooks;

// What `cargo xtask generate` writes (the types, the open enums, the operations): never
// edited by hand; see `generated/mod.rs`.
mod generated;
// The generated operations keep their path (`crate::operations`) for the rest of the crate.
use generated::operations;

pub use call::Pending;
pub use client::PlaidClient;
pub use config::{ClientBuilder, DEFAULT_GATEWAY_HEADER, DEFAULT_PLAID_VERSION, USER_AGENT};
pub use environment::{BaseUrl, Environment};
pub use error::{ConfigError, Error, ErrorKind, InvalidInput, PlaidError};
pub use generated::{ErrorType, Processor, Product};
pub use operations::OPERATIONS;
pub use raw::RawCall;
pub use request::{OperationInfo, Request};
pub use retry::RetryPolicy;

/// Redaction of text that servers (or callers) control, as the SDK applies it to its own
/// errors: for logs of your own.
pub mod redaction {
    pub use crate::redact::public::{plaid_request_id, redact, repeats_secret};
}
pub use secret::{
    AccessToken, ClientSecret, ProcessorToken, PublicToken, StripeBankAccountToken, UserToken,
};

/// Plaid's data types, generated from its spec: every request and response of every
/// operation, everything they contain, and the open enums they use.
///
/// They follow Plaid's schemas, so a field Plaid adds appears here when the SDK is
/// regenerated. Structs are `#[non_exhaustive]`: requests are built with `new` (the required
/// fields) and one setter per optional field; responses are read. Every enum is open (an
/// unknown value parses into `Unrecognized`). Dates and times are ISO 8601 text.
pub mod types {
    pub use crate::operations::exports::*;
}

/// Entry points for `cargo fuzz` (`fuzz/`); not part of the API.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    fn spawnable<F: std::future::IntoFuture>(f: F) -> F::IntoFuture
    where
        F::IntoFuture: Send + 'static,
    {
        f.into_future()
    }

    #[test]
    fn clients_errors_and_calls_cross_threads() {
        send_sync::<PlaidClient>();
        send_sync::<ClientBuilder>();
        send_sync::<Error>();
        send_sync::<RetryPolicy>();
        send_sync::<PlaidError>();
        send_sync::<AccessToken>();
        let client = PlaidClient::builder()
            .credentials("id", "secret")
            .build()
            .expect("client");
        // A call can be handed to `tokio::spawn`: owned client, `Send` future.
        let _future = spawnable(async move {
            client
                .processor_token_create("access-sandbox-1", "acc", Processor::Dwolla)
                .await
        });
    }
}
