//! The body of a webhook the SDK has no type for. A leaf: the generated [`WebhookKind`]
//! (`generated/operations.rs`) holds it in its `Other` variant, and the rest of this module
//! (parsing, verification, the receiver) is written on top of the generated kinds.
//!
//! [`WebhookKind`]: super::WebhookKind

use std::fmt;

use serde::Deserialize;

/// A webhook this version of the SDK has no type for: its fields as JSON. Its `Debug` shows
/// the field names only, since unknown webhooks may carry tokens.
#[derive(Clone, Deserialize, serde::Serialize)]
#[serde(transparent)]
pub struct OtherWebhook(serde_json::Map<String, serde_json::Value>);

impl OtherWebhook {
    /// Its fields.
    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }
}

impl fmt::Debug for OtherWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OtherWebhook")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}
