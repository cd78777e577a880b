//! The Sandbox's custom test user, `user_custom`: its password is a JSON configuration of the
//! accounts to link (Plaid's `UserCustomPassword` shape). What the emulator honours of it:
//! `force_error` (any code of [`KNOWN_ERRORS`](crate::KNOWN_ERRORS)) and, per entry of
//! `override_accounts`, `type`, `subtype`, `starting_balance` (the current balance),
//! `force_available_balance`, `has_null_available_balance`, `meta.name`, `meta.limit`,
//! `numbers.account`, `numbers.ach_routing`, `numbers.ach_wire_routing` (the mask becomes the
//! account number's last four digits) and `identity` (`names`, `emails`, `phone_numbers`,
//! `addresses`, each replacing the derived owner's). Fields it does not model (`transactions`,
//! `holdings`, other numbers, ...) are refused by name,
//! so a test never passes on data the emulator ignored; unknown fields are ignored, as Plaid's
//! schema allows them.

use serde_json::{Map, Value};

use super::Refusal;
use crate::{AccountSpec, AchNumbers, PlaidError};

/// The account types Plaid's `OverrideAccountType` lists.
const ACCOUNT_TYPES: [&str; 5] = ["depository", "credit", "loan", "investment", "other"];

/// Per-account fields of Plaid's schema the emulator does not model.
const NOT_MODELLED: [&str; 7] = [
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
    let mut spec =
        AccountSpec::new(name, account_type, subtype).balances(available, current, limit);
    match fields.get("numbers") {
        None | Some(Value::Null) => {}
        Some(Value::Object(numbers)) => spec = spec.numbers(ach_numbers(numbers)?),
        Some(_) => return Err("numbers must be an object".into()),
    }
    match fields.get("identity") {
        None | Some(Value::Null) => {}
        Some(Value::Object(identity)) => spec = spec.owner(owner(identity)?),
        Some(_) => return Err("identity must be an object".into()),
    }
    Ok(spec)
}

/// `numbers`: the ACH ones; the others are refused by name.
fn ach_numbers(numbers: &Map<String, Value>) -> Result<AchNumbers, String> {
    let digits = |name: &str, lengths: std::ops::RangeInclusive<usize>| match numbers.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s))
            if lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(format!(
            "numbers.{name} must be a string of {} to {} digits",
            lengths.start(),
            lengths.end()
        )),
    };
    let set = AchNumbers {
        account: digits("account", 4..=17)?,
        routing: digits("ach_routing", 9..=9)?,
        wire_routing: digits("ach_wire_routing", 9..=9)?,
    };
    const OTHER_NUMBERS: [&str; 5] = [
        "bacs_sort_code",
        "eft_branch",
        "eft_institution",
        "international_bic",
        "international_iban",
    ];
    if let Some(other) = sorted_keys(numbers)
        .into_iter()
        .find(|k| OTHER_NUMBERS.contains(&k.as_str()))
    {
        return Err(format!("numbers.{other} is not modelled by this Sandbox"));
    }
    Ok(set)
}

fn sorted_keys(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys
}

/// `identity`: the owner's fields, each normalized to Plaid's `Owner` shape.
fn owner(identity: &Map<String, Value>) -> Result<Map<String, Value>, String> {
    let list = |name: &str| match identity.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(format!("identity.{name} must be an array")),
    };
    let text = |value: Option<&Value>, at: &str| match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(format!("{at} must be a non-empty string")),
    };
    let primary = |entry: &Map<String, Value>, at: &str| match entry.get("primary") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(format!("{at}.primary must be true or false")),
    };
    let kind = |entry: &Map<String, Value>, at: &str, allowed: &[&str], default: &str| match entry
        .get("type")
    {
        None | Some(Value::Null) => Ok(default.to_string()),
        Some(Value::String(t)) if allowed.contains(&t.as_str()) => Ok(t.clone()),
        Some(_) => Err(format!("{at}.type must be one of {}", allowed.join(", "))),
    };
    let object = |value: &Value, at: &str| match value {
        Value::Object(entry) => Ok(entry.clone()),
        _ => Err(format!("{at} must be an object")),
    };
    let mut owner = Map::new();
    if let Some(names) = list("names")? {
        let names = names
            .iter()
            .enumerate()
            .map(|(i, n)| text(Some(n), &format!("identity.names[{i}]")).map(Value::String))
            .collect::<Result<Vec<_>, _>>()?;
        owner.insert("names".into(), Value::Array(names));
    }
    for (name, allowed, default) in [
        ("emails", &["primary", "secondary", "other"][..], "primary"),
        (
            "phone_numbers",
            &["home", "work", "office", "mobile", "mobile1", "other"][..],
            "mobile",
        ),
    ] {
        if let Some(entries) = list(name)? {
            let entries = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let at = format!("identity.{name}[{i}]");
                    let entry = object(e, &at)?;
                    Ok(serde_json::json!({
                        "data": text(entry.get("data"), &format!("{at}.data"))?,
                        "primary": primary(&entry, &at)?,
                        "type": kind(&entry, &at, allowed, default)?,
                    }))
                })
                .collect::<Result<Vec<_>, String>>()?;
            owner.insert(name.into(), Value::Array(entries));
        }
    }
    if let Some(entries) = list("addresses")? {
        let entries = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let at = format!("identity.addresses[{i}]");
                let entry = object(e, &at)?;
                let data = object(
                    entry.get("data").unwrap_or(&Value::Null),
                    &format!("{at}.data"),
                )?;
                let mut address = Map::new();
                let street = text(data.get("street"), &format!("{at}.data.street"))?;
                address.insert("street".into(), Value::String(street));
                for part in ["city", "region", "postal_code", "country"] {
                    let value = match data.get(part) {
                        None | Some(Value::Null) => Value::Null,
                        Some(Value::String(s)) => Value::String(s.clone()),
                        Some(_) => return Err(format!("{at}.data.{part} must be a string")),
                    };
                    address.insert(part.into(), value);
                }
                Ok(serde_json::json!({ "data": address, "primary": primary(&entry, &at)? }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        owner.insert("addresses".into(), Value::Array(entries));
    }
    Ok(owner)
}
