//! Plaid's semantics: authentication, validation, and the operations. Account data (numbers,
//! balances, owners), the partner's side of processor tokens and institutions are in
//! [`accounts`].

mod accounts;
mod checks;
mod control;
mod custom;

use accounts::{
    accounts_balance_get, auth_get, identity_get, institutions_get_by_id,
    item_access_token_invalidate, processor_account_get, processor_auth_get, processor_balance_get,
    processor_identity_get, processor_token_webhook_update, sandbox_processor_token_create,
};

use http::HeaderName;
use serde_json::{Map, Value, json};

use crate::{
    AccountSpec, Fault, Item, PlaidError, ProcessorTokenState, ReceivedRequest, State, random_id,
    uuid_like,
};

/// What to answer.
pub(crate) enum Reply {
    Json {
        status: u16,
        headers: Vec<(HeaderName, String)>,
        body: Vec<u8>,
    },
    Raw {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    Drop,
}

fn request_id() -> String {
    random_id(15)
}

fn json_reply(status: u16, value: &Value) -> Reply {
    Reply::Json {
        status,
        headers: Vec::new(),
        body: serde_json::to_vec(value).unwrap_or_default(),
    }
}

/// A Plaid error body with a fresh request id.
pub(crate) fn error_reply(status: u16, error_type: &str, error_code: &str, message: &str) -> Reply {
    json_reply(status, &error_body(error_type, error_code, message))
}

fn error_body(error_type: &str, error_code: &str, message: &str) -> Value {
    json!({
        "error_type": error_type,
        "error_code": error_code,
        "error_message": message,
        "display_message": null,
        "request_id": request_id(),
    })
}

/// An error with a status, before it becomes a reply.
struct Refusal(PlaidError);

impl From<PlaidError> for Refusal {
    fn from(error: PlaidError) -> Self {
        Refusal(error)
    }
}

impl Refusal {
    fn of(status: u16, error_type: &str, error_code: &str, message: impl Into<String>) -> Self {
        Refusal(PlaidError::new(status, error_type, error_code, message))
    }
    fn invalid_request(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::of(400, "INVALID_REQUEST", code, message.into())
    }
    /// `MISSING_FIELDS`, listing `names`.
    fn missing_fields(names: &[impl AsRef<str>]) -> Self {
        let names: Vec<&str> = names.iter().map(AsRef::as_ref).collect();
        Refusal::invalid_request(
            "MISSING_FIELDS",
            format!(
                "the following required fields are missing: {}",
                names.join(", ")
            ),
        )
    }
    fn invalid_input(code: &'static str, message: impl Into<String>) -> Self {
        Refusal::of(400, "INVALID_INPUT", code, message.into())
    }
    fn reply(self) -> Reply {
        json_reply(self.0.status, &self.0.body(request_id()))
    }
}

pub(crate) async fn handle(state: &State, parts: &http::request::Parts, body: &[u8]) -> Reply {
    if parts.uri.path().starts_with(control::PREFIX) {
        return control::handle(state, parts, body);
    }
    let fault = {
        let mut data = state.data();
        data.record(ReceivedRequest {
            method: parts.method.to_string(),
            path: parts.uri.path().to_string(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        });
        data.take_fault(parts.uri.path())
    };
    if let Some(fault) = fault {
        match fault {
            Fault::Delay(delay) => tokio::time::sleep(delay).await,
            Fault::Hold(gate) => gate.pass().await,
            Fault::EchoRequest { status } => return echo_reply(status, parts, body),
            Fault::MalformedBody => {
                // The operation takes effect; its answer arrives cut in half.
                let mut answer = match respond(state, parts, body) {
                    Ok(value) => serde_json::to_vec(&value).unwrap_or_default(),
                    Err(refusal) => {
                        serde_json::to_vec(&refusal.0.body(request_id())).unwrap_or_default()
                    }
                };
                answer.truncate(answer.len() / 2);
                return Reply::Raw {
                    status: 200,
                    content_type: "application/json",
                    body: answer,
                };
            }
            Fault::PlaidError(error) => return Refusal(error).reply(),
            other => return fault_reply(other),
        }
    }
    match respond(state, parts, body) {
        Ok(value) => json_reply(200, &value),
        Err(refusal) => refusal.reply(),
    }
}

/// What a proxy that echoes its request would answer.
fn echo_reply(status: u16, parts: &http::request::Parts, body: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(body);
    let headers: Vec<String> = parts
        .headers
        .iter()
        .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v.as_bytes())))
        .collect();
    let access_token = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("access_token")?.as_str().map(str::to_string));
    json_reply(
        status,
        &json!({
            "error_type": "INVALID_REQUEST",
            "error_code": "ECHO",
            "error_message": format!("you sent {text} with {}", headers.join("; ")),
            "display_message": null,
            "request_id": access_token,
        }),
    )
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::RateLimit { retry_after_secs } => Reply::Json {
            status: 429,
            headers: vec![(http::header::RETRY_AFTER, retry_after_secs.to_string())],
            body: serde_json::to_vec(&error_body(
                "RATE_LIMIT_EXCEEDED",
                "RATE_LIMIT",
                "rate limit exceeded for this client; retry later",
            ))
            .unwrap_or_default(),
        },
        Fault::ServerError { status } => {
            let code = if status == 503 { "PLANNED_MAINTENANCE" } else { "INTERNAL_SERVER_ERROR" };
            error_reply(status, "API_ERROR", code, "an unexpected error occurred on the server")
        }
        Fault::BadGatewayHtml => Reply::Raw {
            status: 502,
            content_type: "text/html",
            body: b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>".to_vec(),
        },
        Fault::DropConnection => Reply::Drop,
        Fault::Delay(_)
        | Fault::Hold(_)
        | Fault::EchoRequest { .. }
        | Fault::MalformedBody
        | Fault::PlaidError(_) => {
            error_reply(500, "API_ERROR", "INTERNAL_SERVER_ERROR", "unreachable fault")
        }
    }
}

/// Authenticates, validates and runs one operation.
fn respond(state: &State, parts: &http::request::Parts, body: &[u8]) -> Result<Value, Refusal> {
    type Operation = fn(&State, &Map<String, Value>) -> Result<Value, Refusal>;
    let operation: Operation = match (parts.method.as_str(), parts.uri.path()) {
        ("POST", "/processor/token/create") => processor_token_create,
        ("POST", "/processor/token/permissions/set") => processor_token_permissions_set,
        ("POST", "/processor/token/permissions/get") => processor_token_permissions_get,
        ("POST", "/processor/stripe/bank_account_token/create") => stripe_bank_account_token_create,
        ("POST", "/item/remove") => item_remove,
        ("POST", "/sandbox/public_token/create") => sandbox_public_token_create,
        ("POST", "/item/public_token/exchange") => item_public_token_exchange,
        ("POST", "/accounts/get") => accounts_get,
        ("POST", "/link/token/create") => link_token_create,
        ("POST", "/item/get") => item_get,
        ("POST", "/webhook_verification_key/get") => webhook_verification_key_get,
        ("POST", "/item/webhook/update") => item_webhook_update,
        ("POST", "/sandbox/item/fire_webhook") => sandbox_item_fire_webhook,
        ("POST", "/sandbox/item/reset_login") => sandbox_item_reset_login,
        ("POST", "/sandbox/processor_token/create") => sandbox_processor_token_create,
        ("POST", "/processor/auth/get") => processor_auth_get,
        ("POST", "/processor/balance/get") => processor_balance_get,
        ("POST", "/processor/identity/get") => processor_identity_get,
        ("POST", "/processor/account/get") => processor_account_get,
        ("POST", "/processor/token/webhook/update") => processor_token_webhook_update,
        ("POST", "/accounts/balance/get") => accounts_balance_get,
        ("POST", "/auth/get") => auth_get,
        ("POST", "/identity/get") => identity_get,
        ("POST", "/item/access_token/invalidate") => item_access_token_invalidate,
        ("POST", "/institutions/get_by_id") => institutions_get_by_id,
        _ => {
            return Err(Refusal::of(
                404,
                "INVALID_REQUEST",
                "NOT_FOUND",
                format!("no operation at {} {}", parts.method, parts.uri.path()),
            ));
        }
    };
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(Refusal::invalid_request(
            "INVALID_BODY",
            "body could not be parsed as JSON",
        ));
    };
    authenticate(state, parts, &fields)?;
    checks::check(parts.uri.path(), &fields, &state.config.allowed_processors)?;
    operation(state, &fields)
}

fn authenticate(
    state: &State,
    parts: &http::request::Parts,
    fields: &Map<String, Value>,
) -> Result<(), Refusal> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let field = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_string);
    let client_id = header("plaid-client-id").or_else(|| field("client_id"));
    let secret = header("plaid-secret").or_else(|| field("secret"));
    let missing: Vec<&str> = [("client_id", &client_id), ("secret", &secret)]
        .iter()
        .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
        .map(|(n, _)| *n)
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::missing_fields(&missing));
    }
    if client_id.as_deref() != Some(state.config.client_id.as_str())
        || secret.as_deref() != Some(state.config.secret.as_str())
    {
        return Err(Refusal::invalid_input(
            "INVALID_API_KEYS",
            "invalid client_id or secret provided",
        ));
    }
    match header("plaid-version") {
        Some(v) if is_version_date(&v) => Ok(()),
        Some(_) => Err(Refusal::invalid_request(
            "INVALID_HEADERS",
            "Plaid-Version must be an API version date such as 2020-09-14",
        )),
        None if state.config.require_plaid_version => Err(Refusal::invalid_request(
            "INVALID_HEADERS",
            "the Plaid-Version header is required",
        )),
        None => Ok(()),
    }
}

fn is_version_date(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

/// The required string fields, or the Plaid error for the first problem.
fn required_strings<'a, const N: usize>(
    fields: &'a Map<String, Value>,
    names: [&str; N],
) -> Result<[&'a str; N], Refusal> {
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| fields.get(*n).is_none_or(Value::is_null))
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::missing_fields(&missing));
    }
    let mut out = [""; N];
    for (slot, name) in out.iter_mut().zip(names) {
        match fields.get(name).and_then(Value::as_str) {
            Some(s) if !s.trim().is_empty() => *slot = s,
            _ => {
                return Err(Refusal::invalid_request(
                    "INVALID_FIELD",
                    format!("{name} must be a properly formatted, non-empty string"),
                ));
            }
        }
    }
    Ok(out)
}

fn invalid_access_token() -> Refusal {
    Refusal::invalid_input(
        "INVALID_ACCESS_TOKEN",
        "could not find matching access token",
    )
}

fn invalid_processor_token() -> Refusal {
    Refusal::invalid_input(
        "INVALID_PROCESSOR_TOKEN",
        "provided processor token is invalid or the Item behind it was removed",
    )
}

/// The live (not removed) Item behind an access token.
fn live_item<'d>(
    data: &'d crate::Data,
    access_token: &str,
) -> Result<&'d crate::ItemState, Refusal> {
    match data.items.get(access_token) {
        Some(item) if !item.removed => Ok(item),
        _ => Err(invalid_access_token()),
    }
}

/// The live Item behind an access token, if neither its institution is down
/// ([`Emulator::set_institution_status`](crate::Emulator::set_institution_status)) nor the
/// Item is in an error state (`ITEM_LOGIN_REQUIRED` after `/sandbox/item/reset_login`, or
/// any error set with [`Emulator::set_item_error`](crate::Emulator::set_item_error)): what
/// reading its data needs.
fn usable_item<'d>(
    data: &'d crate::Data,
    access_token: &str,
) -> Result<&'d crate::ItemState, Refusal> {
    let item = live_item(data, access_token)?;
    if let Some(error) = data.institution_errors.get(&item.institution_id) {
        return Err(error.clone().into());
    }
    match &item.error {
        None => Ok(item),
        Some(error) => Err(error.clone().into()),
    }
}

/// The access token must reach a usable Item, and the account must be one of its own.
fn check_account(data: &crate::Data, access_token: &str, account_id: &str) -> Result<(), Refusal> {
    let item = usable_item(data, access_token)?;
    if item
        .item
        .accounts
        .iter()
        .any(|a| a.account_id == account_id)
    {
        Ok(())
    } else {
        Err(invalid_account_id())
    }
}

/// An optional or required array of product names.
fn products(
    fields: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Vec<String>, Refusal> {
    match fields.get(name) {
        None | Some(Value::Null) if required => Err(Refusal::missing_fields(&[name])),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(p)
                    if !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
                {
                    Ok(p.to_string())
                }
                _ => Err(Refusal::invalid_request(
                    "INVALID_FIELD",
                    format!("{name} must be a list of product names"),
                )),
            })
            .collect(),
        Some(_) => Err(Refusal::invalid_request(
            "INVALID_FIELD",
            format!("{name} must be a list of product names"),
        )),
    }
}

fn processor_token_create(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token, account_id, processor] =
        required_strings(fields, ["access_token", "account_id", "processor"])?;
    if !processor
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(Refusal::invalid_request(
            "INVALID_FIELD",
            "processor must be a processor name such as dwolla",
        ));
    }
    let mut data = state.data();
    check_account(&data, access_token, account_id)?;
    let token = format!("processor-sandbox-{}", uuid_like());
    data.processor_tokens.insert(
        token.clone(),
        ProcessorTokenState {
            access_token: access_token.to_string(),
            account_id: account_id.to_string(),
            processor: processor.to_string(),
            products: Vec::new(),
            webhook: None,
        },
    );
    Ok(json!({ "processor_token": token, "request_id": request_id() }))
}

/// The processor token's state, if it exists and its Item was not removed.
fn live_processor_token<'d>(
    data: &'d mut crate::Data,
    token: &str,
) -> Result<&'d mut ProcessorTokenState, Refusal> {
    let access_token = data
        .processor_tokens
        .get(token)
        .map(|t| t.access_token.clone())
        .ok_or_else(invalid_processor_token)?;
    if data.items.get(&access_token).is_none_or(|i| i.removed) {
        return Err(invalid_processor_token());
    }
    data.processor_tokens
        .get_mut(token)
        .ok_or_else(invalid_processor_token)
}

fn processor_token_permissions_set(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [token] = required_strings(fields, ["processor_token"])?;
    let products = products(fields, "products", true)?;
    let mut data = state.data();
    live_processor_token(&mut data, token)?.products = products;
    Ok(json!({ "request_id": request_id() }))
}

fn processor_token_permissions_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [token] = required_strings(fields, ["processor_token"])?;
    let mut data = state.data();
    let products = live_processor_token(&mut data, token)?.products.clone();
    Ok(json!({ "products": products, "request_id": request_id() }))
}

fn stripe_bank_account_token_create(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [access_token, account_id] = required_strings(fields, ["access_token", "account_id"])?;
    let data = state.data();
    check_account(&data, access_token, account_id)?;
    Ok(
        json!({ "stripe_bank_account_token": format!("btok_{}", random_id(24)), "request_id": request_id() }),
    )
}

fn item_remove(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let mut data = state.data();
    live_item(&data, access_token)?;
    if let Some(item) = data.items.get_mut(access_token) {
        item.removed = true;
    }
    Ok(json!({ "request_id": request_id() }))
}

fn sandbox_public_token_create(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [institution_id] = required_strings(fields, ["institution_id"])?;
    let products = products(fields, "initial_products", true)?;
    if products.is_empty() {
        return Err(Refusal::invalid_request(
            "INVALID_FIELD",
            "initial_products must name at least one product",
        ));
    }
    let access_token = create_sandbox_item(state, fields, institution_id, products)?;
    let public_token = format!("public-sandbox-{}", uuid_like());
    state
        .data()
        .public_tokens
        .insert(public_token.clone(), (access_token, false));
    Ok(json!({ "public_token": public_token, "request_id": request_id() }))
}

/// The Sandbox's three test accounts, what `user_good` / `pass_good` links.
fn default_sandbox_accounts() -> Vec<AccountSpec> {
    vec![
        AccountSpec::new("Plaid Checking", "depository", "checking").balances(
            Some(100.0),
            110.0,
            None,
        ),
        AccountSpec::new("Plaid Saving", "depository", "savings").balances(
            Some(200.0),
            210.0,
            None,
        ),
        AccountSpec::new("Plaid Credit Card", "credit", "credit card").balances(
            None,
            410.0,
            Some(2000.0),
        ),
    ]
}

/// The accounts the Sandbox's test credentials (`options.override_username` and
/// `options.override_password`) link: `user_good` / `pass_good` (the default) the three test
/// accounts; `user_good` / `error_<CODE>` fails with that error; `user_custom` with a JSON
/// configuration as the password links the accounts it describes. Anything else is
/// `INVALID_CREDENTIALS`.
fn sandbox_accounts(fields: &Map<String, Value>) -> Result<Vec<AccountSpec>, Refusal> {
    let option = |name: &str| {
        fields
            .get("options")
            .and_then(|o| o.get(name))
            .and_then(Value::as_str)
    };
    let username = option("override_username").unwrap_or("user_good");
    let password = option("override_password").unwrap_or("pass_good");
    match username {
        "user_good" if password == "pass_good" => return Ok(default_sandbox_accounts()),
        "user_good" => {
            if let Some(error) = crate::errors::for_password(password) {
                return Err(error.into());
            }
        }
        "user_custom" => return custom::accounts(password),
        _ => {}
    }
    Err(Refusal::of(
        400,
        "ITEM_ERROR",
        "INVALID_CREDENTIALS",
        "the provided credentials were not correct; the Sandbox takes user_good / pass_good, \
         user_good / error_<CODE>, or user_custom with a JSON configuration",
    ))
}

/// Makes a Sandbox Item at `institution_id` with the Sandbox's three test accounts (after
/// checking the test credentials of `options`) and returns its access token. A webhook URL
/// in `options.webhook` becomes the Item's.
fn create_sandbox_item(
    state: &State,
    fields: &Map<String, Value>,
    institution_id: &str,
    products: Vec<String>,
) -> Result<String, Refusal> {
    let digits = institution_id.strip_prefix("ins_").unwrap_or("");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::invalid_input(
            "INVALID_INSTITUTION",
            "invalid institution_id provided",
        ));
    }
    if let Some(error) = state.data().institution_errors.get(institution_id) {
        return Err(error.clone().into());
    }
    let item = Item::seeded(&sandbox_accounts(fields)?);
    let webhook = fields
        .get("options")
        .and_then(|o| o.get("webhook"))
        .and_then(Value::as_str)
        .filter(|w| !w.is_empty())
        .map(str::to_string);
    let mut data = state.data();
    let access_token = item.access_token.clone();
    data.insert_item(item, institution_id.to_string(), products);
    if let Some(stored) = data.items.get_mut(&access_token) {
        stored.webhook = webhook;
    }
    Ok(access_token)
}

fn item_public_token_exchange(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [public_token] = required_strings(fields, ["public_token"])?;
    let mut data = state.data();
    let access_token = match data.public_tokens.get_mut(public_token) {
        Some((access_token, exchanged)) if !*exchanged => {
            *exchanged = true;
            access_token.clone()
        }
        _ => {
            return Err(Refusal::invalid_input(
                "INVALID_PUBLIC_TOKEN",
                "provided public token is expired, was already exchanged, or does not exist",
            ));
        }
    };
    let item_id = live_item(&data, &access_token)?.item.item_id.clone();
    Ok(json!({ "access_token": access_token, "item_id": item_id, "request_id": request_id() }))
}

fn accounts_get(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let data = state.data();
    let item = usable_item(&data, access_token)?;
    let accounts = selected_accounts(item, fields)?;
    Ok(json!({
        "accounts": accounts.iter().map(|a| account_json(a)).collect::<Vec<_>>(),
        "item": item_json(item),
        "request_id": request_id(),
    }))
}

/// The Item's accounts that `options.account_ids` names (all of them when it is absent or
/// empty); an id that is not the Item's is `INVALID_ACCOUNT_ID`, as with Plaid.
fn selected_accounts<'i>(
    item: &'i crate::ItemState,
    fields: &Map<String, Value>,
) -> Result<Vec<&'i crate::Account>, Refusal> {
    let ids = match fields.get("options").and_then(|o| o.get("account_ids")) {
        None | Some(Value::Null) => return Ok(item.item.accounts.iter().collect()),
        Some(Value::Array(ids)) => ids,
        Some(_) => {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                "options.account_ids must be a list of account ids",
            ));
        }
    };
    if ids.is_empty() {
        return Ok(item.item.accounts.iter().collect());
    }
    let mut selected = Vec::with_capacity(ids.len());
    for id in ids {
        let Some(id) = id.as_str() else {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                "options.account_ids must be a list of account ids",
            ));
        };
        match item.item.accounts.iter().find(|a| a.account_id == id) {
            Some(account) => selected.push(account),
            None => return Err(invalid_account_id()),
        }
    }
    Ok(selected)
}

fn invalid_account_id() -> Refusal {
    Refusal::invalid_input(
        "INVALID_ACCOUNT_ID",
        "the account_id is not an account of this Item",
    )
}

/// An account as every operation shows it (Plaid's `AccountBase`).
fn account_json(a: &crate::Account) -> Value {
    json!({
        "account_id": a.account_id,
        "balances": {
            "available": a.available,
            "current": a.current,
            "limit": a.limit,
            "iso_currency_code": "USD",
            "unofficial_currency_code": null,
        },
        "mask": a.mask,
        "name": a.name,
        "official_name": format!("{} {}", a.name, a.mask),
        "type": a.account_type,
        "subtype": a.subtype,
    })
}

/// The Item as `/accounts/get` and `/item/get` show it.
fn item_json(item: &crate::ItemState) -> Value {
    let institution_name = accounts::institution_name(&item.institution_id);
    json!({
        "item_id": item.item.item_id,
        "institution_id": item.institution_id,
        "institution_name": institution_name,
        "webhook": item.webhook,
        "error": item.error.as_ref().map(PlaidError::item_json),
        "available_products": ["balance", "identity", "transactions"],
        "billed_products": item.products,
        "products": item.products,
        "consented_products": item.products,
        "consent_expiration_time": null,
        "update_type": "background",
    })
}

/// The required `country_codes`: a non-empty list of two-letter codes.
fn country_codes(fields: &Map<String, Value>) -> Result<&Vec<Value>, Refusal> {
    match fields.get("country_codes") {
        None | Some(Value::Null) => Err(Refusal::missing_fields(&["country_codes"])),
        Some(Value::Array(codes))
            if !codes.is_empty()
                && codes.iter().all(|c| {
                    c.as_str()
                        .is_some_and(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
                }) =>
        {
            Ok(codes)
        }
        Some(_) => Err(Refusal::invalid_request(
            "INVALID_FIELD",
            "country_codes must be a non-empty list of two-letter country codes",
        )),
    }
}

/// The languages Link is offered in.
const LINK_LANGUAGES: [&str; 11] = [
    "da", "nl", "en", "et", "fr", "de", "it", "lv", "lt", "no", "es",
];

fn link_token_create(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [client_name, language] = required_strings(fields, ["client_name", "language"])?;
    if client_name.chars().count() > 30 {
        return Err(Refusal::invalid_request(
            "INVALID_FIELD",
            "client_name must be at most 30 characters",
        ));
    }
    if !LINK_LANGUAGES.contains(&language) {
        return Err(Refusal::invalid_request(
            "INVALID_FIELD",
            format!("language must be one of: {}", LINK_LANGUAGES.join(", ")),
        ));
    }
    country_codes(fields)?;
    match fields.get("user") {
        Some(Value::Object(user)) => {
            required_strings(user, ["client_user_id"]).map_err(|_| {
                Refusal::invalid_request(
                    "INVALID_FIELD",
                    "user.client_user_id must be a non-empty string",
                )
            })?;
        }
        None | Some(Value::Null) if fields.get("user_token").is_some_and(Value::is_string) => {}
        _ => {
            return Err(Refusal::missing_fields(&["user.client_user_id"]));
        }
    }
    let products = products(fields, "products", false)?;
    let webhook = match fields.get("webhook") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if is_webhook_url(url) => Some(url.clone()),
        Some(_) => return Err(invalid_webhook_url()),
    };
    // Update mode (an access token given) needs no products; a new Link session does. In
    // update mode, a webhook URL given becomes the Item's.
    match fields.get("access_token").and_then(Value::as_str) {
        Some(token) => {
            let mut data = state.data();
            live_item(&data, token)?;
            if let (Some(url), Some(item)) = (webhook, data.items.get_mut(token)) {
                item.webhook = Some(url);
            }
        }
        None if products.is_empty() => {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                "products must name at least one product unless access_token is given",
            ));
        }
        None => {}
    }
    let expiration = std::time::SystemTime::now() + std::time::Duration::from_secs(4 * 3600);
    Ok(json!({
        "link_token": format!("link-sandbox-{}", uuid_like()),
        "expiration": iso8601(expiration),
        "request_id": request_id(),
    }))
}

fn item_get(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let data = state.data();
    let item = live_item(&data, access_token)?;
    Ok(json!({
        "item": item_json(item),
        "status": {
            "investments": null,
            "transactions": null,
            "last_webhook": null,
        },
        "request_id": request_id(),
    }))
}

/// Whether `url` can take webhooks: an absolute http(s) URL.
fn is_webhook_url(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !r.bytes().any(|b| b.is_ascii_whitespace())
    })
}

fn invalid_webhook_url() -> Refusal {
    Refusal::invalid_request("INVALID_FIELD", "webhook must be an http or https URL")
}

fn webhook_verification_key_get(
    state: &State,
    fields: &Map<String, Value>,
) -> Result<Value, Refusal> {
    let [key_id] = required_strings(fields, ["key_id"])?;
    let key = state.webhooks.keys().jwk(key_id).ok_or_else(|| {
        Refusal::invalid_input(
            "INVALID_WEBHOOK_VERIFICATION_KEY_ID",
            "invalid key_id provided; it must be the kid of a webhook's Plaid-Verification header",
        )
    })?;
    Ok(json!({ "key": key, "request_id": request_id() }))
}

/// A webhook body about `item`, with `extra` fields added.
/// Puts an Item in an error state; returns the ITEM `ERROR` webhook to send, if the Item has
/// a webhook URL.
pub(crate) fn set_item_error(
    item: &mut crate::ItemState,
    error: PlaidError,
) -> Option<(String, Value)> {
    let webhook = item.webhook.clone().map(|url| {
        let body = webhook_body(item, "ITEM", "ERROR", json!({ "error": error.item_json() }));
        (url, body)
    });
    item.error = Some(error);
    webhook
}

fn webhook_body(item: &crate::ItemState, webhook_type: &str, code: &str, extra: Value) -> Value {
    let mut body = json!({
        "webhook_type": webhook_type,
        "webhook_code": code,
        "item_id": item.item.item_id,
        "environment": "sandbox",
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body
}

fn item_webhook_update(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let webhook = match fields.get("webhook") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if url.is_empty() => None,
        Some(Value::String(url)) if is_webhook_url(url) => Some(url.clone()),
        Some(_) => return Err(invalid_webhook_url()),
    };
    let mut data = state.data();
    live_item(&data, access_token)?;
    let Some(item) = data.items.get_mut(access_token) else {
        return Err(invalid_access_token());
    };
    item.webhook = webhook.clone();
    let reply = json!({ "item": item_json(item), "request_id": request_id() });
    if let Some(url) = webhook {
        let body = webhook_body(
            item,
            "ITEM",
            "WEBHOOK_UPDATE_ACKNOWLEDGED",
            json!({ "new_webhook_url": url, "error": null }),
        );
        state.send_webhook(url, body);
    }
    Ok(reply)
}

/// The codes `/sandbox/item/fire_webhook` takes.
const FIRE_WEBHOOK_CODES: [&str; 12] = [
    "DEFAULT_UPDATE",
    "NEW_ACCOUNTS_AVAILABLE",
    "SMS_MICRODEPOSITS_VERIFICATION",
    "AUTHORIZATION_GRANTED",
    "USER_PERMISSION_REVOKED",
    "USER_ACCOUNT_REVOKED",
    "PENDING_DISCONNECT",
    "RECURRING_TRANSACTIONS_UPDATE",
    "LOGIN_REPAIRED",
    "SYNC_UPDATES_AVAILABLE",
    "PRODUCT_READY",
    "ERROR",
];

fn sandbox_error(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal::of(400, "SANDBOX_ERROR", code, message.into())
}

fn sandbox_item_fire_webhook(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token, code] = required_strings(fields, ["access_token", "webhook_code"])?;
    if !FIRE_WEBHOOK_CODES.contains(&code) {
        return Err(Refusal::invalid_request(
            "INVALID_FIELD",
            format!(
                "webhook_code must be one of: {}",
                FIRE_WEBHOOK_CODES.join(", ")
            ),
        ));
    }
    let asked_type = match fields.get("webhook_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                "webhook_type must be a string",
            ));
        }
    };
    let mut data = state.data();
    let item = live_item(&data, access_token)?;
    let has = |product: &str| item.products.iter().any(|p| p == product);
    let not_enabled = |product: &str| {
        sandbox_error(
            "SANDBOX_PRODUCT_NOT_ENABLED",
            format!("the Item does not have the {product} product this webhook belongs to"),
        )
    };
    let first_account = item
        .item
        .accounts
        .first()
        .map(|a| a.account_id.clone())
        .unwrap_or_default();
    let account_ids: Vec<&str> = item
        .item
        .accounts
        .iter()
        .map(|a| a.account_id.as_str())
        .collect();
    let webhook_type = match (code, asked_type) {
        ("DEFAULT_UPDATE", Some("AUTH")) => "AUTH",
        ("DEFAULT_UPDATE", None | Some("TRANSACTIONS"))
        | (
            "SYNC_UPDATES_AVAILABLE" | "RECURRING_TRANSACTIONS_UPDATE",
            None | Some("TRANSACTIONS"),
        ) => "TRANSACTIONS",
        (
            "NEW_ACCOUNTS_AVAILABLE"
            | "USER_PERMISSION_REVOKED"
            | "USER_ACCOUNT_REVOKED"
            | "PENDING_DISCONNECT"
            | "LOGIN_REPAIRED"
            | "ERROR",
            None | Some("ITEM"),
        ) => "ITEM",
        ("SMS_MICRODEPOSITS_VERIFICATION", None | Some("AUTH")) => {
            return Err(sandbox_error(
                "SANDBOX_PRODUCT_NOT_ENABLED",
                "SMS_MICRODEPOSITS_VERIFICATION needs an Item made with same-day micro-deposits",
            ));
        }
        ("AUTHORIZATION_GRANTED" | "PRODUCT_READY", None | Some("INCOME")) => {
            return Err(not_enabled("income_verification"));
        }
        (_, Some(other)) => {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                format!("webhook_code {code} cannot be fired with webhook_type {other}"),
            ));
        }
        (_, None) => {
            return Err(Refusal::invalid_request(
                "INVALID_FIELD",
                format!("webhook_code {code} needs a webhook_type"),
            ));
        }
    };
    match webhook_type {
        "AUTH" if !has("auth") => return Err(not_enabled("auth")),
        "TRANSACTIONS" if !has("transactions") => return Err(not_enabled("transactions")),
        _ => {}
    }
    let Some(url) = item.webhook.clone() else {
        return Err(sandbox_error(
            "SANDBOX_WEBHOOK_INVALID",
            "the Item has no webhook URL; set one with /item/webhook/update",
        ));
    };
    let extra = match (webhook_type, code) {
        ("AUTH", _) => json!({
            "account_ids_with_new_auth": [],
            "account_ids_with_updated_auth": { first_account.clone(): ["ACCOUNT_NUMBER"] },
            "error": null,
        }),
        ("TRANSACTIONS", "DEFAULT_UPDATE") => json!({ "new_transactions": 3, "error": null }),
        ("TRANSACTIONS", "SYNC_UPDATES_AVAILABLE") => json!({
            "initial_update_complete": true,
            "historical_update_complete": true,
        }),
        ("TRANSACTIONS", _) => json!({ "account_ids": account_ids }),
        (_, "ERROR") => json!({ "error": crate::errors::login_required().item_json() }),
        (_, "USER_PERMISSION_REVOKED") => json!({ "error": {
            "error_type": "ITEM_ERROR",
            "error_code": "USER_PERMISSION_REVOKED",
            "error_code_reason": null,
            "error_message": "the user has revoked their permissions for this item",
            "display_message": null,
            "status": 400,
        }}),
        (_, "USER_ACCOUNT_REVOKED") => json!({ "account_id": first_account }),
        (_, "PENDING_DISCONNECT") => json!({
            "reason": "INSTITUTION_TOKEN_EXPIRATION",
            "disconnect_time": iso8601(std::time::SystemTime::now() + std::time::Duration::from_secs(7 * 86_400)),
        }),
        _ => json!({ "error": null }),
    };
    let body = webhook_body(item, webhook_type, code, extra);
    if code == "LOGIN_REPAIRED"
        && let Some(item) = data.items.get_mut(access_token)
    {
        item.error = None;
    }
    drop(data);
    state.send_webhook(url, body);
    Ok(json!({ "webhook_fired": true, "request_id": request_id() }))
}

fn sandbox_item_reset_login(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let [access_token] = required_strings(fields, ["access_token"])?;
    let mut data = state.data();
    live_item(&data, access_token)?;
    let Some(item) = data.items.get_mut(access_token) else {
        return Err(invalid_access_token());
    };
    let webhook = set_item_error(item, crate::errors::login_required());
    drop(data);
    if let Some((url, body)) = webhook {
        state.send_webhook(url, body);
    }
    Ok(json!({ "reset_login": true, "request_id": request_id() }))
}

/// A time as `2026-11-28T21:17:39Z`.
fn iso8601(time: std::time::SystemTime) -> String {
    let secs = time
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Days since 1970-01-01 to a civil date (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601() {
        let at = |secs| std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
        assert_eq!(iso8601(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(at(1_795_886_259)), "2026-11-28T17:17:39Z");
    }

    #[test]
    fn version_dates() {
        assert!(is_version_date("2020-09-14"));
        for bad in ["2020-9-14", "20200914", "2020-09-14x", "", "abcd-ef-gh"] {
            assert!(!is_version_date(bad), "{bad}");
        }
    }

    #[test]
    fn required_strings_report_missing_then_invalid() {
        let fields: Map<String, Value> =
            serde_json::from_str(r#"{"a":"x","b":null,"c":5}"#).expect("json");
        let Err(r) = required_strings(&fields, ["a", "b", "d"]) else {
            panic!("missing")
        };
        assert_eq!(
            (r.0.error_code.as_str(), r.0.error_message.as_str()),
            (
                "MISSING_FIELDS",
                "the following required fields are missing: b, d"
            )
        );
        let Err(r) = required_strings(&fields, ["a", "c"]) else {
            panic!("invalid")
        };
        assert_eq!(r.0.error_code, "INVALID_FIELD");
        assert_eq!(required_strings(&fields, ["a"]).ok(), Some(["x"]));
    }
}
