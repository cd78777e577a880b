//! Account data and who may read it: the fintech's data calls (`/accounts/balance/get`,
//! `/auth/get`, `/identity/get`), access-token rotation, institutions, and the partner's side
//! of a processor token (`/processor/...`), which reads only the account the token was minted
//! for, within the products `/processor/token/permissions/set` allows.
//!
//! Account and routing numbers, and owners, are derived from the account id alone, so the same
//! account always shows the same ones.

use serde_json::{Map, Value, json};

use super::{
    Refusal, account_json, country_codes, create_sandbox_item, invalid_processor_token,
    is_webhook_url, item_json, live_item, request_id, required_strings, selected_accounts,
    usable_item, webhook_body,
};
use crate::{Account, ItemState, ProcessorTokenState, State, uuid_like};

/// The ABA routing number of every Sandbox account, and its wire routing number.
const ROUTING: &str = "011401533";
const WIRE_ROUTING: &str = "021000021";

/// A stable 64-bit digest of `text` (FNV-1a): the seed of an account's numbers and owner.
fn digest(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The account number: eight digits from the account id, then the account's mask (so the
/// mask is the number's last four digits, as with Plaid).
fn account_number(account: &Account) -> String {
    format!(
        "{:08}{}",
        digest(&account.account_id) % 100_000_000,
        account.mask
    )
}

/// `numbers.ach[]` of one account: a custom Sandbox user's numbers, or derived ones.
fn ach_json(account: &Account) -> Value {
    let set = account.numbers.clone().unwrap_or_default();
    let number = set.account.unwrap_or_else(|| account_number(account));
    let routing = set.routing.unwrap_or_else(|| ROUTING.to_string());
    let wire_routing = set.wire_routing.unwrap_or_else(|| WIRE_ROUTING.to_string());
    json!({
        "account_id": account.account_id,
        "account": number,
        "routing": routing,
        "wire_routing": wire_routing,
        "is_tokenized_account_number": false,
        "can_transfer_in": true,
        "can_transfer_out": true,
    })
}

/// Whether ACH numbers exist for the account (depository accounts only).
fn has_ach(account: &Account) -> bool {
    account.account_type == "depository"
}

const OWNER_NAMES: [&str; 4] = [
    "Alberta Bobbeth Charleson",
    "Dorian Evander Fairweather",
    "Georgina Hale Ingram",
    "Jasper Kellan Lindqvist",
];

const OWNER_STREETS: [&str; 4] = [
    "2992 Cameron Road",
    "14 Pinecrest Avenue",
    "870 Harbor Lane",
    "3301 Mill Creek Drive",
];

/// The account's owner (Plaid's `Owner`), the same for the same account id, with the fields
/// a custom Sandbox user set over it.
fn owner_json(account: &Account) -> Value {
    let mut owner = derived_owner(account);
    if let (Value::Object(owner), Some(set)) = (&mut owner, &account.owner) {
        owner.extend(set.clone());
    }
    owner
}

/// The owner derived from the account id.
fn derived_owner(account: &Account) -> Value {
    let seed = digest(&account.account_id);
    let pick = (seed % OWNER_NAMES.len() as u64) as usize;
    let name = OWNER_NAMES[pick];
    let email = format!(
        "{}@example.com",
        name.split(' ').next().unwrap_or("owner").to_lowercase()
    );
    json!({
        "names": [name],
        "phone_numbers": [
            { "data": format!("1112{:06}", seed % 1_000_000), "primary": true, "type": "mobile" },
        ],
        "emails": [
            { "data": email, "primary": true, "type": "primary" },
        ],
        "addresses": [{
            "data": {
                "street": OWNER_STREETS[pick],
                "city": "Malakoff",
                "region": "NY",
                "postal_code": "14236",
                "country": "US",
            },
            "primary": true,
        }],
    })
}

/// An account with its owners (Plaid's `AccountIdentity`).
fn identity_account_json(account: &Account) -> Value {
    let mut value = account_json(account);
    if let Value::Object(fields) = &mut value {
        fields.insert("owners".into(), json!([owner_json(account)]));
    }
    value
}

/// An account with its balances stamped now, as a real-time balance read returns them.
fn balance_account_json(account: &Account) -> Value {
    let mut value = account_json(account);
    if let Some(Value::Object(balances)) = value.get_mut("balances") {
        balances.insert(
            "last_updated_datetime".into(),
            json!(super::iso8601(std::time::SystemTime::now())),
        );
    }
    value
}

/// The Item behind `access_token`, usable for data calls, with the accounts `options`
/// selects.
fn item_accounts<'d>(
    data: &'d crate::Data,
    fields: &Map<String, Value>,
) -> Result<(&'d ItemState, Vec<&'d Account>), Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let item = usable_item(data, access_token)?;
    let accounts = selected_accounts(item, fields)?;
    Ok((item, accounts))
}

pub(super) fn accounts_balance_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let data = state.data();
    let (item, accounts) = item_accounts(&data, fields)?;
    Ok(json!({
        "accounts": accounts.iter().map(|a| balance_account_json(a)).collect::<Vec<_>>(),
        "item": item_json(item),
        "request_id": request_id(),
    }))
}

pub(super) fn auth_get(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let data = state.data();
    let (item, accounts) = item_accounts(&data, fields)?;
    let ach: Vec<Value> = accounts
        .iter()
        .filter(|a| has_ach(a))
        .map(|a| ach_json(a))
        .collect();
    let shown: Vec<Value> = accounts
        .iter()
        .filter(|a| has_ach(a))
        .map(|a| account_json(a))
        .collect();
    if shown.is_empty() {
        return Err(Refusal::of(
            400,
            "ITEM_ERROR",
            "NO_AUTH_ACCOUNTS",
            "no valid checking or savings account was found for this request",
        ));
    }
    Ok(json!({
        "accounts": shown,
        "numbers": { "ach": ach, "eft": [], "international": [], "bacs": [] },
        "item": item_json(item),
        "request_id": request_id(),
    }))
}

pub(super) fn identity_get(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let data = state.data();
    let (item, accounts) = item_accounts(&data, fields)?;
    Ok(json!({
        "accounts": accounts.iter().map(|a| identity_account_json(a)).collect::<Vec<_>>(),
        "item": item_json(item),
        "request_id": request_id(),
    }))
}

pub(super) fn item_access_token_invalidate(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let mut data = state.data();
    live_item(&data, access_token)?;
    let new_token = format!("access-sandbox-{}", uuid_like());
    data.rotate_access_token(access_token, new_token.clone());
    Ok(json!({ "new_access_token": new_token, "request_id": request_id() }))
}

/// The Sandbox's test institutions: (id, name, OAuth).
const INSTITUTIONS: [(&str, &str, bool); 6] = [
    ("ins_109508", "First Platypus Bank", false),
    ("ins_109509", "First Gingham Credit Union", false),
    ("ins_109510", "Tattersall Federal Credit Union", false),
    ("ins_109511", "Tartan Bank", false),
    ("ins_109512", "Houndstooth Bank", false),
    ("ins_127287", "Platypus OAuth Bank", true),
];

/// The name of a Sandbox test institution, if `id` is one.
pub(super) fn institution_name(id: &str) -> Option<&'static str> {
    INSTITUTIONS
        .iter()
        .find(|(i, _, _)| *i == id)
        .map(|(_, name, _)| *name)
}

pub(super) fn institutions_get_by_id(
    _state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [institution_id] = required_strings(fields, ["institution_id"])?;
    let countries = country_codes(fields)?;
    let Some((id, name, oauth)) = INSTITUTIONS.iter().find(|(i, _, _)| *i == institution_id) else {
        return Err(Refusal::invalid_input(
            "INVALID_INSTITUTION",
            "invalid institution_id provided",
        ));
    };
    if !countries.iter().any(|c| c.as_str() == Some("US")) {
        return Err(Refusal::invalid_input(
            "INVALID_INSTITUTION",
            "the institution does not operate in the requested countries",
        ));
    }
    Ok(json!({
        "institution": {
            "institution_id": id,
            "name": name,
            "products": ["assets", "auth", "balance", "transactions", "identity", "investments", "liabilities"],
            "country_codes": ["US"],
            "url": null,
            "primary_color": null,
            "logo": null,
            "routing_numbers": [ROUTING],
            "dtc_numbers": [],
            "oauth": oauth,
            // Plaid's answer for an institution that takes new Items (Plaid's libraries
            // from 2025 on require the field).
            "connection_availability": "SUPPORTED",
        },
        "request_id": request_id(),
    }))
}

pub(super) fn sandbox_processor_token_create(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [institution_id] = required_strings(fields, ["institution_id"])?;
    let access_token = create_sandbox_item(state, fields, institution_id, vec!["auth".into()])?;
    let mut data = state.data();
    let account_id = data
        .items
        .get(&access_token)
        .and_then(|item| item.item.accounts.first())
        .map(|a| a.account_id.clone())
        .unwrap_or_default();
    let token = format!("processor-sandbox-{}", uuid_like());
    data.processor_tokens.insert(
        token.clone(),
        ProcessorTokenState {
            access_token,
            account_id,
            processor: "sandbox".into(),
            products: Vec::new(),
            webhook: None,
        },
    );
    Ok(json!({ "processor_token": token, "request_id": request_id() }))
}

/// What a processor token reads: its Item (usable for data calls) and its one account, when
/// the token may use `product` (`None`: any token may).
fn partner_account<'d>(
    data: &'d crate::Data,
    fields: &Map<String, Value>,
    product: Option<&str>,
) -> Result<(&'d ItemState, &'d Account), Refusal> {
    let [token] = required_strings(fields, ["processor_token"])?;
    let granted = data
        .processor_tokens
        .get(token)
        .ok_or_else(invalid_processor_token)?;
    let item = match data.items.get(&granted.access_token) {
        Some(item) if !item.removed => item,
        _ => return Err(invalid_processor_token()),
    };
    if let Some(product) = product
        && !granted.products.is_empty()
        && !granted.products.iter().any(|p| p == product)
    {
        return Err(Refusal::invalid_input(
            "INVALID_PRODUCT",
            format!(
                "this processor token may not use the {product} product; its permissions are set with /processor/token/permissions/set"
            ),
        ));
    }
    let item = usable_item(data, &item.item.access_token)?;
    let account = item
        .item
        .accounts
        .iter()
        .find(|a| a.account_id == granted.account_id)
        .ok_or_else(invalid_processor_token)?;
    Ok((item, account))
}

pub(super) fn processor_auth_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let data = state.data();
    let (_, account) = partner_account(&data, fields, Some("auth"))?;
    let ach = if has_ach(account) {
        ach_json(account)
    } else {
        Value::Null
    };
    Ok(json!({
        "account": account_json(account),
        "numbers": { "ach": ach, "eft": null, "international": null, "bacs": null },
        "request_id": request_id(),
    }))
}

pub(super) fn processor_balance_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let data = state.data();
    let (_, account) = partner_account(&data, fields, Some("balance"))?;
    Ok(json!({ "account": balance_account_json(account), "request_id": request_id() }))
}

pub(super) fn processor_identity_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let data = state.data();
    let (_, account) = partner_account(&data, fields, Some("identity"))?;
    Ok(json!({ "account": identity_account_json(account), "request_id": request_id() }))
}

pub(super) fn processor_account_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let data = state.data();
    let (item, account) = partner_account(&data, fields, None)?;
    Ok(json!({
        "account": account_json(account),
        "institution_id": item.institution_id,
        "request_id": request_id(),
    }))
}

pub(super) fn processor_token_webhook_update(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [token] = required_strings(fields, ["processor_token"])?;
    let webhook = match fields.get("webhook") {
        None => {
            return Err(Refusal::missing_fields(&["webhook"]));
        }
        Some(Value::Null) => None,
        Some(Value::String(url)) if url.is_empty() => None,
        Some(Value::String(url)) if is_webhook_url(url) => Some(url.clone()),
        Some(_) => return Err(super::invalid_webhook_url()),
    };
    let mut data = state.data();
    let access_token = partner_account(&data, fields, None)?
        .0
        .item
        .access_token
        .clone();
    if let Some(granted) = data.processor_tokens.get_mut(token) {
        granted.webhook = webhook.clone();
    }
    let body = webhook.as_ref().and_then(|url| {
        let item = data.items.get(&access_token)?;
        let body = webhook_body(
            item,
            "ITEM",
            "WEBHOOK_UPDATE_ACKNOWLEDGED",
            json!({ "new_webhook_url": url, "error": null }),
        );
        Some((url.clone(), body))
    });
    drop(data);
    if let Some((url, body)) = body {
        state.send_webhook(url, body);
    }
    Ok(json!({ "request_id": request_id() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, mask: &str) -> Account {
        Account {
            account_id: id.into(),
            name: "Plaid Checking".into(),
            mask: mask.into(),
            account_type: "depository".into(),
            subtype: "checking".into(),
            available: Some(1.0),
            current: 1.0,
            limit: None,
            numbers: None,
            owner: None,
        }
    }

    #[test]
    fn numbers_and_owners_are_the_same_for_the_same_account() {
        let a = account("acc-one", "0042");
        let b = account("acc-two", "0042");
        assert_eq!(account_number(&a), account_number(&a.clone()));
        assert_ne!(account_number(&a), account_number(&b));
        assert!(account_number(&a).ends_with("0042"), "the mask ends it");
        assert_eq!(account_number(&a).len(), 12);
        assert_eq!(owner_json(&a), owner_json(&a.clone()));
    }
}
