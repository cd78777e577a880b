//! The Plaid errors the emulator produces on demand, in one table: each code's `error_type`
//! and HTTP status as Plaid's error reference gives them, a message of our own, and whether
//! the Sandbox's `error_<CODE>` test password produces it at Item creation.

use serde_json::{Value, json};

/// One of Plaid's errors, as the emulator answers it: the HTTP status and the body's
/// `error_type`, `error_code`, `error_message` and `display_message` (the `request_id` is
/// fresh on every answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlaidError {
    /// The HTTP status.
    pub status: u16,
    /// `error_type`, such as `ITEM_ERROR`.
    pub error_type: String,
    /// `error_code`, such as `ITEM_LOCKED`.
    pub error_code: String,
    /// `error_message`.
    pub error_message: String,
    /// `display_message` (`null` when `None`).
    pub display_message: Option<String>,
}

impl PlaidError {
    /// An error of any shape: for codes the table does not hold, or statuses of your choosing.
    pub fn new(
        status: u16,
        error_type: impl Into<String>,
        error_code: impl Into<String>,
        error_message: impl Into<String>,
    ) -> Self {
        PlaidError {
            status,
            error_type: error_type.into(),
            error_code: error_code.into(),
            error_message: error_message.into(),
            display_message: None,
        }
    }

    /// The same error with a `display_message`.
    pub fn with_display_message(mut self, message: impl Into<String>) -> Self {
        self.display_message = Some(message.into());
        self
    }

    /// The error Plaid answers for `code`, from the emulator's table ([`KNOWN_ERRORS`]): its
    /// `error_type` and status, and a message. `None` for a code the table does not hold.
    pub fn known(code: &str) -> Option<Self> {
        KNOWN_ERRORS
            .iter()
            .find(|e| e.code == code)
            .map(|e| e.error())
    }

    /// The answer's body, with a fresh `request_id`.
    pub(crate) fn body(&self, request_id: String) -> Value {
        json!({
            "error_type": self.error_type,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "display_message": self.display_message,
            "request_id": request_id,
        })
    }

    /// The error as `/item/get` and the ITEM `ERROR` webhook show an Item's error.
    pub(crate) fn item_json(&self) -> Value {
        json!({
            "error_type": self.error_type,
            "error_code": self.error_code,
            "error_code_reason": null,
            "error_message": self.error_message,
            "display_message": self.display_message,
            "status": self.status,
        })
    }
}

/// One row of [`KNOWN_ERRORS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownError {
    /// `error_code`.
    pub code: &'static str,
    /// `error_type`.
    pub error_type: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// Whether `user_good` with the password `error_<code>` makes Item creation fail with it
    /// in the Sandbox.
    pub sandbox_password: bool,
    /// The emulator's `error_message`.
    pub message: &'static str,
}

impl KnownError {
    fn error(self) -> PlaidError {
        PlaidError::new(self.status, self.error_type, self.code, self.message)
    }
}

const fn row(
    code: &'static str,
    error_type: &'static str,
    status: u16,
    sandbox_password: bool,
    message: &'static str,
) -> KnownError {
    KnownError {
        code,
        error_type,
        status,
        sandbox_password,
        message,
    }
}

const ITEM: &str = "ITEM_ERROR";
const INSTITUTION: &str = "INSTITUTION_ERROR";
const API: &str = "API_ERROR";

/// The errors the emulator knows by code: Item and institution errors (status 400) and API
/// errors (5xx). `COUNTRY_NOT_SUPPORTED` is listed among the Sandbox's test passwords without
/// a type of its own in Plaid's error reference; it is answered as an Item error here.
pub const KNOWN_ERRORS: &[KnownError] = &[
    row(
        "ACCESS_NOT_GRANTED",
        ITEM,
        400,
        false,
        "the user did not grant access to the data this product needs",
    ),
    row(
        "COUNTRY_NOT_SUPPORTED",
        ITEM,
        400,
        true,
        "the institution's country is not supported for this client",
    ),
    row(
        "INSUFFICIENT_CREDENTIALS",
        ITEM,
        400,
        true,
        "the user did not provide all the credentials the institution asks for",
    ),
    row(
        "INVALID_CREDENTIALS",
        ITEM,
        400,
        true,
        "the credentials given were not correct",
    ),
    row(
        "INVALID_MFA",
        ITEM,
        400,
        true,
        "the multi-factor answers given were not correct",
    ),
    row(
        "INVALID_SEND_METHOD",
        ITEM,
        400,
        true,
        "the chosen way to send a one-time code is not available",
    ),
    row(
        "INVALID_UPDATED_USERNAME",
        ITEM,
        400,
        false,
        "the username given in update mode is not the Item's",
    ),
    row(
        "ITEM_LOCKED",
        ITEM,
        400,
        true,
        "the institution locked this account after too many attempts",
    ),
    row(
        "ITEM_LOGIN_REQUIRED",
        ITEM,
        400,
        false,
        "the Item's login changed (credentials, MFA or a required action) and the user must \
         log in again through Link's update mode",
    ),
    row(
        "ITEM_NOT_SUPPORTED",
        ITEM,
        400,
        true,
        "this kind of account cannot be connected",
    ),
    row(
        "MFA_NOT_SUPPORTED",
        ITEM,
        400,
        true,
        "the institution asks for a kind of multi-factor authentication that is not supported",
    ),
    row(
        "NO_ACCOUNTS",
        ITEM,
        400,
        true,
        "no accounts fit for the requested products were found",
    ),
    row(
        "NO_AUTH_ACCOUNTS",
        ITEM,
        400,
        false,
        "no accounts with account and routing numbers were found",
    ),
    row(
        "PASSWORD_RESET_REQUIRED",
        ITEM,
        400,
        false,
        "the institution asks the user to reset their password",
    ),
    row(
        "PRODUCT_NOT_READY",
        ITEM,
        400,
        true,
        "the product's data is not ready yet; try again later",
    ),
    row(
        "PRODUCTS_NOT_SUPPORTED",
        ITEM,
        400,
        true,
        "this Item does not support the requested product",
    ),
    row(
        "USER_INPUT_TIMEOUT",
        ITEM,
        400,
        false,
        "the user took too long to answer the institution",
    ),
    row(
        "USER_SETUP_REQUIRED",
        ITEM,
        400,
        true,
        "the user must finish an action at the institution's site first",
    ),
    row(
        "INSTITUTION_DOWN",
        INSTITUTION,
        400,
        true,
        "the institution is down; try again later",
    ),
    row(
        "INSTITUTION_NOT_RESPONDING",
        INSTITUTION,
        400,
        true,
        "the institution is not responding; try again later",
    ),
    row(
        "INSTITUTION_NOT_AVAILABLE",
        INSTITUTION,
        400,
        false,
        "the institution is not available for this client",
    ),
    row(
        "INSTITUTION_NO_LONGER_SUPPORTED",
        INSTITUTION,
        400,
        true,
        "the institution is no longer supported",
    ),
    row(
        "INTERNAL_SERVER_ERROR",
        API,
        500,
        true,
        "an unexpected error occurred on the server",
    ),
    row(
        "PLANNED_MAINTENANCE",
        API,
        503,
        false,
        "the service is down for planned maintenance",
    ),
];

/// `ITEM_LOGIN_REQUIRED`, the error `/sandbox/item/reset_login` puts an Item in.
pub(crate) fn login_required() -> PlaidError {
    PlaidError::known("ITEM_LOGIN_REQUIRED")
        .unwrap_or_else(|| PlaidError::new(400, "ITEM_ERROR", "ITEM_LOGIN_REQUIRED", ""))
}

/// The error for a Sandbox test password `error_<CODE>`, when it names one the Sandbox
/// produces.
pub(crate) fn for_password(password: &str) -> Option<PlaidError> {
    let code = password.strip_prefix("error_")?;
    KNOWN_ERRORS
        .iter()
        .find(|e| e.sandbox_password && e.code == code)
        .map(|e| e.error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        let mut codes: Vec<_> = KNOWN_ERRORS.iter().map(|e| e.code).collect();
        codes.sort_unstable();
        let before = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), before, "a code listed twice");
        for e in KNOWN_ERRORS {
            let expected = match e.error_type {
                API => e.status >= 500,
                _ => e.status == 400,
            };
            assert!(expected, "{e:?}");
            assert!(
                e.code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{e:?}"
            );
        }
    }
}
