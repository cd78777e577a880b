//! Helpers shared by the webhook test binaries: an emulator and a client for it, and the
//! JWT surgery the verifier's tests need.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plaid_emulator::Emulator;
use plaid_sdk::{Environment, PlaidClient};
use serde_json::Value;

pub fn client_for(url: &str, client_id: &str, secret: &str) -> PlaidClient {
    PlaidClient::builder()
        .environment(Environment::custom(url).expect("url"))
        .credentials(client_id, secret)
        .build()
        .expect("client")
}

pub async fn start() -> (Emulator, PlaidClient) {
    let emulator = Emulator::builder()
        .webhook_retries(Duration::from_millis(10), 3)
        .start()
        .await
        .expect("emulator");
    let client = client_for(emulator.base_url(), emulator.client_id(), emulator.secret());
    (emulator, client)
}

pub fn headers(jwt: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        "plaid-verification",
        http::HeaderValue::from_str(jwt).expect("header value"),
    );
    h
}

pub const BODY: &[u8] = br#"{"webhook_type":"ITEM","webhook_code":"NEW_ACCOUNTS_AVAILABLE","item_id":"item-1","error":null,"environment":"sandbox"}"#;

/// The JWT's three parts, decoded where they are JSON.
pub fn parts(jwt: &str) -> (Value, Value, String) {
    let mut it = jwt.split('.');
    let mut json_part = || {
        serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(it.next().expect("part"))
                .expect("b64"),
        )
        .expect("json")
    };
    let header = json_part();
    let claims = json_part();
    (header, claims, it.next().expect("signature").to_string())
}

pub fn encode(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A webhook's JWT with its header's `kid` replaced (its signature no longer matters: the
/// key is looked up first).
pub fn with_kid(jwt: &str, kid: &str) -> String {
    let (mut header, claims, signature) = parts(jwt);
    header["kid"] = Value::String(kid.to_string());
    format!("{}.{}.{signature}", encode(&header), encode(&claims))
}
