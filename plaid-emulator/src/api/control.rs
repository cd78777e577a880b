//! The control surface: what the Rust API offers tests, over HTTP under `/__emulator/` on the
//! emulator's own address, for tests in any language, curl and the console. Every call needs
//! the emulator's `PLAID-CLIENT-ID` and `PLAID-SECRET` headers; answers are JSON, refusals in
//! Plaid's error shape. Control calls are neither recorded nor affected by faults.
//!
//! | method and path | body | does |
//! |---|---|---|
//! | `GET /__emulator/faults` | | lists pending faults |
//! | `POST /__emulator/faults` | `{"fault": {...}, "times": 1, "path": "/auth/get"}` | queues a fault (`path` optional: any operation) |
//! | `DELETE /__emulator/faults` | | clears them; answers how many requests they would have affected |
//! | `POST /__emulator/items` | | seeds an Item (two depository accounts) |
//! | `POST /__emulator/items/error` | `{"access_token": "...", "error_code": "ITEM_LOCKED"}` or `"error": {...}` | puts the Item in an error state |
//! | `DELETE /__emulator/items/error` | `{"access_token": "..."}` | clears it |
//! | `POST /__emulator/institutions/status` | `{"institution_id": "ins_109508", "status": "down"}` | `down`, `not_responding` or `healthy` |
//! | `GET /__emulator/requests` | | the recorded requests (method, path, body; no header values) |
//! | `POST /__emulator/webhook_keys/rotate` | | signs with a new key; answers its `key_id` |
//! | `GET /__emulator/errors` | | the errors known by code, with type, status and Sandbox password |
//!
//! A fault is an object with a `type`: `rate_limit` (`retry_after_secs`), `server_error`
//! (`status`), `delay` (`ms`), `malformed_body`, `bad_gateway_html`, `drop_connection`,
//! `echo_request` (`status`), or `plaid_error` (`error_code` of a known error, or `status`,
//! `error_type`, `error_code`, `error_message` and optionally `display_message`). `Hold`
//! needs a Rust `Gate` and has no HTTP form.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{Refusal, Reply, json_reply, request_id};
use crate::{Fault, InstitutionStatus, KNOWN_ERRORS, PlaidError, State};

/// The reserved prefix.
pub(crate) const PREFIX: &str = "/__emulator/";

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal::invalid_request("INVALID_FIELD", message)
}

/// Answers one control call.
pub(super) fn handle(state: &State, parts: &http::request::Parts, body: &[u8]) -> Reply {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if header("plaid-client-id") != Some(state.config.client_id.as_str())
        || header("plaid-secret") != Some(state.config.secret.as_str())
    {
        return Refusal::of(
            401,
            "INVALID_INPUT",
            "INVALID_API_KEYS",
            "the control surface needs the emulator's PLAID-CLIENT-ID and PLAID-SECRET",
        )
        .reply();
    }
    let fields = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(fields)) => fields,
            _ => {
                return Refusal::invalid_request("INVALID_BODY", "body must be a JSON object")
                    .reply();
            }
        }
    };
    let path = parts.uri.path().strip_prefix(PREFIX).unwrap_or_default();
    let answer = match (parts.method.as_str(), path) {
        ("GET", "faults") => Ok(json!({ "faults": pending_faults(state) })),
        ("POST", "faults") => queue_fault(state, &fields),
        ("DELETE", "faults") => Ok(json!({ "cleared": state.clear_faults() })),
        ("POST", "items") => Ok(add_item(state)),
        ("POST", "items/error") => set_item_error(state, &fields),
        ("DELETE", "items/error") => clear_item_error(state, &fields),
        ("POST", "institutions/status") => set_institution_status(state, &fields),
        ("GET", "requests") => Ok(requests(state)),
        ("POST", "webhook_keys/rotate") => Ok(json!({ "key_id": state.webhooks.keys().rotate() })),
        ("GET", "errors") => Ok(known_errors()),
        _ => Err(Refusal::of(
            404,
            "INVALID_REQUEST",
            "NOT_FOUND",
            format!("no control call at {} {}", parts.method, parts.uri.path()),
        )),
    };
    match answer {
        Ok(mut value) => {
            if let Value::Object(map) = &mut value {
                map.insert("request_id".into(), Value::String(request_id()));
            }
            json_reply(200, &value)
        }
        Err(refusal) => refusal.reply(),
    }
}

fn unknown_item() -> Refusal {
    Refusal::invalid_input("INVALID_ACCESS_TOKEN", "no live Item has this access token")
}

fn access_token(fields: &Map<String, Value>) -> Result<&str, Refusal> {
    fields
        .get("access_token")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("access_token must be a string"))
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{name} must be a string")))
}

fn status_code(fields: &Map<String, Value>) -> Result<u16, Refusal> {
    fields
        .get("status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| invalid("status must be an HTTP status"))
}

/// A Plaid error from `{"error_code": "KNOWN"}` or a whole description.
fn plaid_error(fields: &Map<String, Value>) -> Result<PlaidError, Refusal> {
    let code = text(fields, "error_code")?;
    if !fields.contains_key("error_type") {
        return PlaidError::known(code).ok_or_else(|| {
            invalid(format!(
                "error_code {code:?} is not known by code; give status, error_type and error_message too"
            ))
        });
    }
    let mut error = PlaidError::new(
        status_code(fields)?,
        text(fields, "error_type")?,
        code,
        text(fields, "error_message")?,
    );
    if let Some(message) = fields.get("display_message").and_then(Value::as_str) {
        error = error.with_display_message(message);
    }
    Ok(error)
}

fn fault(fields: &Map<String, Value>) -> Result<Fault, Refusal> {
    let number = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(format!("fault.{name} must be a whole number")))
    };
    Ok(match text(fields, "type")? {
        "rate_limit" => Fault::RateLimit {
            retry_after_secs: number("retry_after_secs")?,
        },
        "server_error" => Fault::ServerError {
            status: status_code(fields)?,
        },
        "delay" => Fault::Delay(Duration::from_millis(number("ms")?.min(60_000))),
        "malformed_body" => Fault::MalformedBody,
        "bad_gateway_html" => Fault::BadGatewayHtml,
        "drop_connection" => Fault::DropConnection,
        "echo_request" => Fault::EchoRequest {
            status: status_code(fields)?,
        },
        "plaid_error" => Fault::PlaidError(plaid_error(fields)?),
        other => {
            return Err(invalid(format!(
                "fault type {other:?} is not one of rate_limit, server_error, delay, malformed_body, bad_gateway_html, drop_connection, echo_request, plaid_error"
            )));
        }
    })
}

/// A fault as the control surface shows it (the inverse of [`fault`]).
fn fault_json(fault: &Fault) -> Value {
    match fault {
        Fault::RateLimit { retry_after_secs } => {
            json!({ "type": "rate_limit", "retry_after_secs": retry_after_secs })
        }
        Fault::ServerError { status } => json!({ "type": "server_error", "status": status }),
        Fault::Delay(delay) => json!({ "type": "delay", "ms": delay.as_millis() }),
        Fault::MalformedBody => json!({ "type": "malformed_body" }),
        Fault::BadGatewayHtml => json!({ "type": "bad_gateway_html" }),
        Fault::DropConnection => json!({ "type": "drop_connection" }),
        Fault::Hold(_) => json!({ "type": "hold" }),
        Fault::EchoRequest { status } => json!({ "type": "echo_request", "status": status }),
        Fault::PlaidError(e) => json!({
            "type": "plaid_error",
            "status": e.status,
            "error_type": e.error_type,
            "error_code": e.error_code,
            "error_message": e.error_message,
            "display_message": e.display_message,
        }),
    }
}

fn pending_faults(state: &State) -> Vec<Value> {
    state
        .data()
        .faults
        .iter()
        .map(|f| json!({ "path": f.path, "fault": fault_json(&f.fault), "remaining": f.remaining }))
        .collect()
}

fn queue_fault(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let Some(Value::Object(spec)) = fields.get("fault") else {
        return Err(invalid("fault must be an object with a type"));
    };
    let fault = fault(spec)?;
    let times = match fields.get("times") {
        None => 1,
        Some(v) => v
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("times must be a positive whole number"))?,
    };
    let path = match fields.get("path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.starts_with('/') => Some(p.clone()),
        Some(_) => {
            return Err(invalid(
                "path must be an operation's path, such as /auth/get",
            ));
        }
    };
    state.queue_fault(path, fault, times);
    Ok(json!({ "faults": pending_faults(state) }))
}

fn add_item(state: &State) -> Value {
    let item = crate::Item::seeded(&[
        crate::AccountSpec::new("Plaid Checking", "depository", "checking"),
        crate::AccountSpec::new("Plaid Saving", "depository", "savings"),
    ]);
    state.data().insert_item(
        item.clone(),
        crate::SANDBOX_INSTITUTION.into(),
        vec!["auth".into()],
    );
    json!({
        "item_id": item.item_id,
        "access_token": item.access_token,
        "accounts": item.accounts.iter().map(|a| json!({
            "account_id": a.account_id,
            "name": a.name,
            "type": a.account_type,
            "subtype": a.subtype,
            "mask": a.mask,
        })).collect::<Vec<_>>(),
    })
}

fn set_item_error(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let token = access_token(fields)?;
    let error = match fields.get("error") {
        Some(Value::Object(error)) => plaid_error(error)?,
        Some(_) => return Err(invalid("error must be an object")),
        None => plaid_error(fields)?,
    };
    if state.set_item_error(token, error) {
        Ok(json!({ "set": true }))
    } else {
        Err(unknown_item())
    }
}

fn clear_item_error(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    if state.clear_item_error(access_token(fields)?) {
        Ok(json!({ "cleared": true }))
    } else {
        Err(unknown_item())
    }
}

fn set_institution_status(state: &State, fields: &Map<String, Value>) -> Result<Value, Refusal> {
    let institution = text(fields, "institution_id")?;
    let status = match text(fields, "status")? {
        "down" => InstitutionStatus::Down,
        "not_responding" => InstitutionStatus::NotResponding,
        "healthy" => InstitutionStatus::Healthy,
        other => {
            return Err(invalid(format!(
                "status {other:?} is not one of down, not_responding, healthy"
            )));
        }
    };
    state.set_institution_status(institution, status);
    Ok(json!({ "institution_id": institution, "status": text(fields, "status")? }))
}

fn requests(state: &State) -> Value {
    let requests: Vec<Value> = state
        .data()
        .requests
        .iter()
        .map(|r| {
            json!({
                "method": r.method,
                "path": r.path,
                "header_names": r.headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
                "body": serde_json::from_slice::<Value>(&r.body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&r.body).into_owned())),
            })
        })
        .collect();
    json!({ "requests": requests })
}

fn known_errors() -> Value {
    let errors: Vec<Value> = KNOWN_ERRORS
        .iter()
        .map(|e| {
            json!({
                "error_code": e.code,
                "error_type": e.error_type,
                "status": e.status,
                "sandbox_password": e.sandbox_password.then(|| format!("error_{}", e.code)),
            })
        })
        .collect();
    json!({ "errors": errors })
}
