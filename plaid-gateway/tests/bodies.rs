//! Property: whatever JSON object a caller sends, with credential keys spelled any way a
//! case-insensitive decoder would accept (escapes, case, `ſ`, duplicates, padding), the body
//! that reaches upstream holds none of them and none of their values; anything but one JSON
//! object is refused with Plaid's `INVALID_REQUEST`/`INVALID_BODY` and reaches nothing.

use plaid_emulator::Emulator;
use plaid_gateway::{Caller, Config, Gateway, hash_token};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunConfig, TestRunner};
use serde_json::Value;

const CALLER_TOKEN: &str = "caller-token-bodies-71c3";

/// Raw JSON spellings of keys that mean `client_id` or `secret` to Plaid's decoder.
const CREDENTIAL_KEYS: [&str; 12] = [
    "secret",
    "SECRET",
    "Secret",
    "s\\u0065cret",
    "\\u0073ecret",
    "\u{17F}ecret",
    "\\u017Fecret",
    "client_id",
    "CLIENT_ID",
    "client\\u005fid",
    "Client_Id",
    " secret",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(Value::from),
        "[a-z0-9_ -]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The raw text of an object: the caller's fields, with credential pairs spliced in.
fn body() -> impl Strategy<Value = (String, Vec<String>)> {
    (
        prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..5),
        prop::collection::vec((0usize..CREDENTIAL_KEYS.len(), 0usize..6), 1..4),
    )
        .prop_map(|(fields, injected)| {
            let mut pairs: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
                .collect();
            let mut values = Vec::new();
            for (n, (key, at)) in injected.into_iter().enumerate() {
                let value = format!("INJECTED-{n}-7q9w");
                pairs.insert(
                    at.min(pairs.len()),
                    format!("\"{}\":\"{value}\"", CREDENTIAL_KEYS[key]),
                );
                values.push(value);
            }
            (format!("{{{}}}", pairs.join(",")), values)
        })
}

fn folds_to_credential(key: &str) -> bool {
    let folded: String = key
        .trim()
        .chars()
        .map(|c| match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    folded == "secret" || folded == "client_id"
}

/// A runtime, and on it the emulator with a gateway in front that knows one caller.
fn start() -> (tokio::runtime::Runtime, Emulator, Gateway) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (emulator, gateway) = runtime.block_on(async {
        let emulator = Emulator::start().await.expect("emulator");
        let config = Config::new(
            emulator.base_url(),
            emulator.client_id(),
            emulator.secret(),
            vec![Caller::new("c", &hash_token(CALLER_TOKEN)).expect("caller")],
        );
        let gateway = Gateway::start(config).await.expect("gateway");
        (emulator, gateway)
    });
    (runtime, emulator, gateway)
}

fn runner() -> TestRunner {
    TestRunner::new(RunConfig {
        cases: 256,
        failure_persistence: None,
        ..RunConfig::default()
    })
}

#[test]
fn no_credential_spelling_reaches_upstream() {
    let (runtime, emulator, gateway) = start();
    let http = reqwest::Client::new();
    let mut runner = runner();
    runner
        .run(&body(), |(raw, injected)| {
            let before = emulator.request_count();
            let status = runtime.block_on(async {
                http.post(format!("{}/accounts/get", gateway.url()))
                    .header("x-gateway-token", CALLER_TOKEN)
                    .body(raw.clone())
                    .send()
                    .await
                    .expect("send")
                    .status()
                    .as_u16()
            });
            prop_assert_ne!(status, 401);
            let requests = emulator.requests();
            prop_assert_eq!(requests.len(), before + 1, "forwarded once: {}", raw);
            let upstream = &requests[before];
            let text = String::from_utf8_lossy(&upstream.body).into_owned();
            for value in &injected {
                prop_assert!(
                    !text.contains(value.as_str()),
                    "{value} upstream: {text}\nsent: {raw}"
                );
            }
            let parsed: serde_json::Map<String, Value> =
                serde_json::from_slice(&upstream.body).expect("upstream body is one object");
            prop_assert!(
                !parsed.keys().any(|k| folds_to_credential(k)),
                "a credential key upstream: {text}"
            );
            Ok(())
        })
        .expect("no credential upstream");

    // Not one JSON object: refused in Plaid's shape, nothing upstream.
    let before = emulator.request_count();
    for bad in [
        "",
        "[1]",
        "\"secret\"",
        "{\"a\":1} trailing",
        "{\"secret\":",
    ] {
        let (status, reply) = runtime.block_on(async {
            let response = http
                .post(format!("{}/accounts/get", gateway.url()))
                .header("x-gateway-token", CALLER_TOKEN)
                .body(bad)
                .send()
                .await
                .expect("send");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json"))
        });
        assert_eq!(
            (
                status,
                reply["error_type"].as_str(),
                reply["error_code"].as_str()
            ),
            (400, Some("INVALID_REQUEST"), Some("INVALID_BODY")),
            "{bad:?}"
        );
    }
    assert_eq!(
        emulator.request_count(),
        before,
        "nothing refused went upstream"
    );
}

/// JSON number text of every shape: sign, integers of any length, fractions, exponents, `-0`.
fn number_text() -> impl Strategy<Value = String> {
    (
        prop::bool::ANY,
        prop_oneof![Just("0".to_string()), "[1-9][0-9]{0,45}"],
        prop::option::of("[0-9]{1,25}"),
        prop::option::of(("[eE]", "[+-]?", "[0-9]{1,3}")),
    )
        .prop_map(|(negative, int, frac, exp)| {
            let mut text = String::new();
            if negative {
                text.push('-');
            }
            text.push_str(&int);
            if let Some(frac) = frac {
                text.push('.');
                text.push_str(&frac);
            }
            if let Some((e, sign, digits)) = exp {
                text.push_str(&e);
                text.push_str(&sign);
                text.push_str(&digits);
            }
            text
        })
}

#[test]
fn numbers_reach_upstream_exactly_as_written() {
    let (runtime, emulator, gateway) = start();
    let http = reqwest::Client::new();
    let mut runner = runner();
    let fixed = [
        "-0",
        "1234567890123456789012345678901234567890",
        "18446744073709551616",
        "1e400",
        "-0.0",
    ];
    let strategy = prop_oneof![
        number_text(),
        prop::sample::select(fixed.to_vec()).prop_map(str::to_string),
    ];
    runner
        .run(&strategy, |number| {
            let raw = format!(r#"{{"access_token":"access-sandbox-x","n":{number},"list":[{number},{{"m":{number}}}]}}"#);
            let before = emulator.request_count();
            runtime.block_on(async {
                http.post(format!("{}/accounts/get", gateway.url()))
                    .header("x-gateway-token", CALLER_TOKEN)
                    .body(raw.clone())
                    .send()
                    .await
                    .expect("send")
            });
            let requests = emulator.requests();
            prop_assert_eq!(requests.len(), before + 1, "forwarded: {}", raw);
            let upstream = String::from_utf8_lossy(&requests[before].body).into_owned();
            let expected = format!(r#"{{"access_token":"access-sandbox-x","list":[{number},{{"m":{number}}}],"n":{number}}}"#);
            prop_assert_eq!(upstream, expected);
            Ok(())
        })
        .expect("numbers unchanged");
}
