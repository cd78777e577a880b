//! The emulator's request checks, derived from the spec fragment: for every operation, cases
//! generated from its own request schema (`plaid-emulator/src/requests.json`, written by
//! `cargo xtask generate`): an empty body misses its required fields, and a required field of
//! the wrong type, or an enum field with a value outside its list, is refused naming it.

use plaid_emulator::Emulator;
use serde_json::{Map, Value, json};

const MODEL: &str = include_str!("../../../plaid-emulator/src/requests.json");

/// A value the schema accepts.
fn sample(schema: &Value) -> Value {
    let count = |key: &str| schema.get(key).and_then(Value::as_u64).unwrap_or(0);
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|v| v.first())
    {
        return first.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => json!(schema.get("minimum").and_then(Value::as_i64).unwrap_or(1)),
        Some("number") => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(1.0)),
        Some("boolean") => json!(true),
        Some("array") => {
            let item = sample(schema.get("items").unwrap_or(&Value::Null));
            Value::Array(vec![item; usize::try_from(count("minItems")).unwrap_or(0)])
        }
        Some("object") => Value::Object(required_sample(schema)),
        _ => json!("x".repeat(usize::try_from(count("minLength").max(1)).unwrap_or(1))),
    }
}

/// The object's required fields, each with a value its schema accepts.
fn required_sample(schema: &Value) -> Map<String, Value> {
    let properties = schema.get("properties").and_then(Value::as_object);
    required(schema)
        .into_iter()
        .map(|name| {
            let property = properties
                .and_then(|p| p.get(&name))
                .unwrap_or(&Value::Null);
            (name.clone(), sample(property))
        })
        .collect()
}

fn required(schema: &Value) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// A value of another type than the schema's, if it names one.
fn wrong_type(schema: &Value) -> Option<Value> {
    Some(match schema.get("type")?.as_str()? {
        "string" => json!(12345),
        "boolean" => json!("yes"),
        _ => json!("text"),
    })
}

async fn send(emulator: &Emulator, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", emulator.base_url()))
        .header("plaid-client-id", emulator.client_id())
        .header("plaid-secret", emulator.secret())
        .header("plaid-version", "2020-09-14")
        .json(body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

fn refusal(reply: &(u16, Value)) -> (u16, &str, &str, &str) {
    (
        reply.0,
        reply.1["error_type"].as_str().unwrap_or(""),
        reply.1["error_code"].as_str().unwrap_or(""),
        reply.1["error_message"].as_str().unwrap_or(""),
    )
}

/// `valid` with `name` set to `value` is refused with `INVALID_FIELD`, naming the field.
async fn assert_refused_naming(
    emulator: &Emulator,
    path: &str,
    valid: &Map<String, Value>,
    name: &str,
    value: Value,
) {
    let mut body = valid.clone();
    body.insert(name.to_string(), value);
    let reply = send(emulator, path, &Value::Object(body)).await;
    let (status, _, code, message) = refusal(&reply);
    assert_eq!(
        (status, code),
        (400, "INVALID_FIELD"),
        "{path} {name}: {message}"
    );
    assert!(message.starts_with(name), "{path}: {message}");
}

#[tokio::test]
async fn every_operation_refuses_what_its_schema_refuses() {
    let model: Value = serde_json::from_str(MODEL).expect("requests.json");
    let operations = model["operations"].as_object().expect("operations");
    assert!(operations.len() >= 21, "{}", operations.len());
    let emulator = Emulator::start().await.expect("emulator");
    let (mut missing, mut typed, mut enums) = (0, 0, 0);
    for (path, schema) in operations {
        let names = required(schema);
        if let Some(first) = names.first() {
            let reply = send(&emulator, path, &json!({})).await;
            let (status, error_type, code, message) = refusal(&reply);
            assert_eq!(
                (status, error_type, code),
                (400, "INVALID_REQUEST", "MISSING_FIELDS"),
                "{path}"
            );
            assert!(message.contains(first.as_str()), "{path}: {message}");
            missing += 1;
        }
        let valid = required_sample(schema);
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        // A required field of the wrong type.
        if let Some((name, wrong)) = names
            .iter()
            .find_map(|n| Some((n, wrong_type(properties.get(n)?)?)))
        {
            assert_refused_naming(&emulator, path, &valid, name, wrong).await;
            typed += 1;
        }
        // An enum field (top level) with a value outside its list.
        if let Some(name) = properties
            .iter()
            .find(|(_, p)| p.get("enum").is_some())
            .map(|(n, _)| n.clone())
        {
            assert_refused_naming(&emulator, path, &valid, &name, json!("not_a_value")).await;
            enums += 1;
        }
    }
    // The cases were not vacuous.
    assert!(
        missing >= 20 && typed >= 20 && enums >= 2,
        "{missing} {typed} {enums}"
    );
}

#[tokio::test]
async fn nested_fields_are_named_by_their_path() {
    let emulator = Emulator::start().await.expect("emulator");
    let reply = send(
        &emulator,
        "/sandbox/public_token/create",
        &json!({"institution_id": "ins_109508", "initial_products": ["auth", "not_a_product"]}),
    )
    .await;
    assert_eq!(refusal(&reply).2, "INVALID_FIELD");
    assert!(
        refusal(&reply).3.starts_with("initial_products[1] "),
        "{reply:?}"
    );
    let reply = send(
        &emulator,
        "/sandbox/public_token/create",
        &json!({"institution_id": "ins_109508", "initial_products": ["auth"],
                "options": {"transactions": {"days_requested": 9999}}}),
    )
    .await;
    assert_eq!(refusal(&reply).2, "INVALID_FIELD");
    assert!(
        refusal(&reply)
            .3
            .starts_with("options.transactions.days_requested "),
        "{reply:?}"
    );
    let reply = send(
        &emulator,
        "/sandbox/public_token/create",
        &json!({"institution_id": "ins_109508", "initial_products": []}),
    )
    .await;
    assert_eq!(refusal(&reply).2, "INVALID_FIELD", "{reply:?}");
}

#[tokio::test]
async fn a_processor_newer_than_the_fragment_is_refused_unless_allowed() {
    for allowed in [false, true] {
        let mut builder = Emulator::builder();
        if allowed {
            builder = builder.allow_processor("stripe_not_real");
        }
        let emulator = builder.start().await.expect("emulator");
        let item = emulator.add_item();
        let body = json!({"access_token": item.access_token,
                          "account_id": item.accounts[0].account_id,
                          "processor": "stripe_not_real"});
        let reply = send(&emulator, "/processor/token/create", &body).await;
        if allowed {
            assert_eq!(reply.0, 200, "{reply:?}");
            assert!(reply.1["processor_token"].is_string());
        } else {
            assert_eq!(refusal(&reply).2, "INVALID_FIELD", "{reply:?}");
            assert!(refusal(&reply).3.starts_with("processor "), "{reply:?}");
        }
    }
}
