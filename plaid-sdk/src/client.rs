//! The client users program against. Its operations are generated (`generated/operations.rs`): one
//! method per operation of the spec fragment, each returning a [`Pending`](crate::Pending)
//! call.

use std::fmt;
use std::sync::Arc;

use crate::environment::Environment;
use crate::transport::Shared;

/// An async client for Plaid's API. Cheap to clone: clones share one connection pool.
///
/// Build one with [`PlaidClient::builder`] or [`PlaidClient::from_env`] (in `config.rs`, with
/// the builder). Each operation
/// (`processor_token_create`, `accounts_get`, ...; see [`OPERATIONS`](crate::OPERATIONS))
/// takes the request's required fields and returns a [`Pending`](crate::Pending) call: set
/// optional fields with its methods, override its [`timeout`](crate::Pending::timeout) or
/// [`retry_policy`](crate::Pending::retry_policy), and `.await` it to send. Input is checked
/// before anything is sent: a blank field, a value outside the spec's bounds, or a token
/// whose prefix names another environment than the client's is an
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

impl PlaidClient {
    pub(crate) fn from_shared(shared: Shared) -> Self {
        PlaidClient {
            shared: Arc::new(shared),
        }
    }

    /// Where this client sends requests.
    pub fn environment(&self) -> &Environment {
        &self.shared.environment
    }
}
