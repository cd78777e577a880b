//! The facts the spec cannot say, in one place: which inline schemas get a name, which fields
//! and schemas are secrets and of which token kind, which schemas handwritten types replace,
//! the enum values and names of our own, and the credential fields removed from bodies.
//! Every transform and generator reads them from here.

use crate::model::TokenKind;
use crate::transform::Hoist;

/// Inline schemas that get a name, so a handwritten or open type can stand for them.
pub const HOISTS: &[Hoist] = &[
    Hoist {
        schema: "ProcessorTokenCreateRequest",
        property: "processor",
        name: "Processor",
    },
    Hoist {
        schema: "ProcessorTokenCreateResponse",
        property: "processor_token",
        name: "ProcessorToken",
    },
    Hoist {
        schema: "SandboxPublicTokenCreateResponse",
        property: "public_token",
        name: "PublicToken",
    },
    Hoist {
        schema: "ItemPublicTokenExchangeRequest",
        property: "public_token",
        name: "PublicToken",
    },
    Hoist {
        schema: "ProcessorStripeBankAccountTokenCreateResponse",
        property: "stripe_bank_account_token",
        name: "StripeBankAccountToken",
    },
];

/// Fields that hold a token, by name, wherever they stand: (field, secret schema).
pub const SECRET_FIELDS: &[(&str, &str)] = &[
    ("access_token", "AccessToken"),
    ("access_tokens", "AccessToken"),
    ("processor_token", "ProcessorToken"),
    ("public_token", "PublicToken"),
    ("user_token", "UserToken"),
    ("third_party_user_token", "UserToken"),
];

/// Values of our own added to the spec's string enums: (schema, value). `GATEWAY_ERROR` is the
/// `error_type` of plaid-gateway's own refusals.
pub const EXTRA_ENUM_VALUES: &[(&str, &str)] = &[("PlaidErrorType", "GATEWAY_ERROR")];

/// Request-body fields removed because credentials travel in headers.
pub const CREDENTIAL_FIELDS: &[&str] = &["client_id", "secret"];

/// Every string enum schema becomes an open enum in the generated file, named as the schema
/// is, except these: (schema, Rust name).
pub const ENUM_NAMES: &[(&str, &str)] = &[("PlaidErrorType", "ErrorType"), ("Products", "Product")];

/// A schema replaced by a handwritten type of `plaid-sdk`.
pub struct Replacement {
    pub schema: &'static str,
    pub rust: &'static str,
    /// The properties the handwritten type reads. A property the spec adds fails generation,
    /// so the handwritten type is updated with it rather than silently ignoring it.
    pub properties: &'static [&'static str],
}

pub const REPLACEMENTS: &[Replacement] = &[
    Replacement {
        schema: "PlaidError",
        rust: "crate::PlaidError",
        properties: &[
            "error_type",
            "error_code",
            "error_code_reason",
            "error_message",
            "display_message",
            "request_id",
            "causes",
            "status",
            "documentation_url",
            "suggested_action",
            "required_account_subtypes",
            "provided_account_subtypes",
        ],
    },
    Replacement {
        schema: "AccessToken",
        rust: "crate::AccessToken",
        properties: &[],
    },
    Replacement {
        schema: "ProcessorToken",
        rust: "crate::ProcessorToken",
        properties: &[],
    },
    Replacement {
        schema: "PublicToken",
        rust: "crate::PublicToken",
        properties: &[],
    },
    Replacement {
        schema: "StripeBankAccountToken",
        rust: "crate::StripeBankAccountToken",
        properties: &[],
    },
    Replacement {
        schema: "UserToken",
        rust: "crate::UserToken",
        properties: &[],
    },
];

/// Secret schemas and the token kind their values' prefix names (`access-sandbox-…`): what
/// the spec cannot say. A kind of `""` means the prefix names no environment.
pub const TOKEN_KINDS: &[TokenKind<'static>] = &[
    TokenKind {
        rust: "crate::AccessToken",
        kind: "access",
    },
    TokenKind {
        rust: "crate::ProcessorToken",
        kind: "processor",
    },
    TokenKind {
        rust: "crate::PublicToken",
        kind: "public",
    },
    TokenKind {
        rust: "crate::UserToken",
        kind: "user",
    },
    TokenKind {
        rust: "crate::StripeBankAccountToken",
        kind: "",
    },
];
