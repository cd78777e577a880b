//! The Sandbox's custom test user, `user_custom`: its password is a JSON configuration of the
//! accounts to link (Plaid's `UserCustomPassword` shape). What the emulator honours of it:
//! `force_error` (any code of [`KNOWN_ERRORS`](crate::KNOWN_ERRORS)) and, per entry of
//! `override_accounts`, `type`, `subtype`, `starting_balance` (the current balance),
//! `force_available_balance`, `has_null_available_balance`, `meta.name` and `meta.limit`.
//! Fields it does not model (`numbers`, `identity`, `transactions`, ...) are refused by name,
//! so a test never passes on data the emulator ignored; unknown fields are ignored, as Plaid's
//! schema allows them.

use serde_json::{Map, Value};

use super::Refusal;
use crate::{AccountSpec, PlaidError};

/// The account types Plaid's `OverrideAccountType` lists.
const ACCOUNT_TYPES: [&str; 5] = ["depository", "credit", "loan", "investment", "other"];

/// Per-account fields of Plaid's schema the emulator does not model.
const NOT_MODELLED: [&str; 9] = [
    "numbers",
    "identity",
    "transactions",
    "holdings",
    "investment_transactions",
    "liability",
    "inflow_model",
    "income",
    "currency",
];

fn invalid(message: String) -> Refusal {
    Refusal::invalid_request(
        "INVALID_FIELD",
        format!("options.override_password (the custom user's configuration): {message}"),
    )
}

/// The accounts a custom user's configuration describes, or its forced error.
pub(super) fn accounts(password: &str) -> Result<Vec<AccountSpec>, Refusal> {
    let Ok(Value::Object(config)) = serde_json::from_str::<Value>(password) else {
        return Err(invalid("it must be a JSON object".into()));
    };
    match config.get("force_error") {
        None | Some(Value::Null) => {}
        Some(Value::String(code)) if code.is_empty() => {}
        Some(Value::String(code)) => {
            return Err(PlaidError::known(code)
                .ok_or_else(|| {
                    invalid(format!(
                        "force_error {code:?} is not an error code this Sandbox knows"
                    ))
                })?
                .into());
        }
        Some(_) => return Err(invalid("force_error must be a string".into())),
    }
    let entries = match config.get("override_accounts") {
        None | Some(Value::Null) => &Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => return Err(invalid("override_accounts must be an array".into())),
    };
    if entries.is_empty() {
        // Plaid links one account with balances of its choosing for an empty configuration.
        return Ok(vec![AccountSpec::new(
            "Plaid Checking",
            "depository",
            "checking",
        )]);
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| match entry {
            Value::Object(fields) => {
                account(fields).map_err(|m| invalid(format!("override_accounts[{i}].{m}")))
            }
            _ => Err(invalid(format!("override_accounts[{i}] must be an object"))),
        })
        .collect()
}

/// One account of `override_accounts`; an error names the field at fault.
fn account(fields: &Map<String, Value>) -> Result<AccountSpec, String> {
    if let Some(field) = NOT_MODELLED.iter().find(|f| fields.contains_key(**f)) {
        return Err(format!("{field} is not modelled by this Sandbox"));
    }
    let text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.as_str()),
        Some(_) => Err(format!("{name} must be a non-empty string")),
        None => Err(format!("{name} is required")),
    };
    let account_type = text("type")?;
    if !ACCOUNT_TYPES.contains(&account_type) {
        return Err(format!("type must be one of {}", ACCOUNT_TYPES.join(", ")));
    }
    let subtype = text("subtype")?;
    let number = |map: &Map<String, Value>, name: &str| match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{name} must be a finite number")),
        Some(_) => Err(format!("{name} must be a number")),
    };
    let current = number(fields, "starting_balance")?.unwrap_or(100.0);
    let null_available = match fields.get("has_null_available_balance") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err("has_null_available_balance must be true or false".into()),
    };
    let available = if null_available {
        None
    } else {
        Some(number(fields, "force_available_balance")?.unwrap_or(current))
    };
    let (name, limit) = match fields.get("meta") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(meta)) => {
            if let Some(field) = ["official_name", "mask"]
                .iter()
                .find(|f| meta.contains_key(**f))
            {
                return Err(format!("meta.{field} is not modelled by this Sandbox"));
            }
            let name = match meta.get("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(_) => return Err("meta.name must be a non-empty string".into()),
            };
            let limit = number(meta, "limit").map_err(|m| format!("meta.{m}"))?;
            (name, limit)
        }
        Some(_) => return Err("meta must be an object".into()),
    };
    let name = name.unwrap_or_else(|| format!("Plaid {subtype}"));
    Ok(AccountSpec::new(name, account_type, subtype).balances(available, current, limit))
}
