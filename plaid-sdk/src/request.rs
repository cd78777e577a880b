//! What the runtime knows of an operation: the [`Request`] trait the generated request types
//! implement (with the traits the runtime calls, in `private`), [`OperationInfo`], whether a
//! path only reads, and the per-call settings a [`Pending`](crate::Pending) call carries. It
//! depends on `retry` and `validate` alone: the call itself is in `call.rs`.
//!
//! Everything that is one per operation (the method on the client, the setters of its
//! pending call, the checks of its fields) is generated into `generated/operations.rs` and
//! `generated/schema.rs` from the operation model.

use std::fmt;
use std::time::Duration;

use crate::retry::RetryPolicy;

/// One operation's request body. Every request type of [`types`](crate::types) that an
/// operation takes implements it; awaiting a [`Pending`](crate::Pending) call of it returns
/// [`Response`](Request::Response). Sealed: only the SDK's generated types implement it.
pub trait Request: serde::Serialize + Send + Sync + 'static + private::Sealed {
    /// What a successful call returns.
    type Response: serde::de::DeserializeOwned + fmt::Debug + Send + 'static + private::HasRequestId;
    /// The operation's name, as the method on [`PlaidClient`](crate::PlaidClient) and in errors and spans
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
    /// ends in `/get`): what [`RetryPolicy`] and [`Error::is_retryable`](crate::Error::is_retryable) go by.
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
    /// The method's name on [`PlaidClient`](crate::PlaidClient), such as `processor_token_create`.
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

/// Per-call settings.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallOptions {
    pub(crate) timeout: Option<Duration>,
    /// Boxed: rarely set, and it would make every call's future 64 bytes larger.
    pub(crate) retry: Option<Box<RetryPolicy>>,
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
