//! Property tests: arbitrary statuses, headers and bodies (arbitrary bytes, arbitrary JSON,
//! Plaid-shaped JSON with arbitrary values) sent back to the SDK over loopback. Every case
//! must end in a value or a typed error, never a panic or a hang.

use std::time::Duration;

use plaid_sdk::{Environment, ErrorKind, PlaidClient, RetryPolicy};
use plaid_sdk_tests::{Action, RecordingSleeper, ScriptedServer};
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("error_type".to_string()),
                    Just("error_code".to_string()),
                    Just("request_id".to_string()),
                    Just("processor_token".to_string()),
                    Just("causes".to_string()),
                    Just("status".to_string()),
                    "[a-z_]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        json_value().prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
        (json_value(), json_value()).prop_map(|(a, b)| {
            serde_json::to_vec(&serde_json::json!({
                "error_type": a, "error_code": b, "error_message": "m", "display_message": null, "request_id": "r"
            }))
            .unwrap_or_default()
        }),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (
            prop_oneof![
                Just("retry-after".to_string()),
                Just("content-type".to_string()),
                Just("plaid-request-id".to_string()),
                "x-[a-z]{1,8}",
            ],
            "[ -~]{0,40}",
        ),
        0..4,
    )
}

fn status() -> impl Strategy<Value = u16> {
    // 1xx would be informational (the client waits for the final answer); 204 and 304 carry
    // no body, which this raw server would then leave in the stream.
    (200u16..600).prop_filter("bodyless statuses", |s| *s != 204 && *s != 304)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn any_response_yields_a_value_or_a_typed_error(status in status(), headers in headers(), body in body()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(async {
            let server = ScriptedServer::start(Action::Respond { status, headers, body }).await;
            let client = PlaidClient::builder()
                .environment(Environment::custom(&server.url()).expect("url"))
                .credentials("id", "secret")
                .retry_policy(RetryPolicy::default().sleeper(RecordingSleeper::new()))
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client");
            let result = client.processor_token_create("access-sandbox-x", "acc", "dwolla").await;
            match result {
                Ok(created) => prop_assert!((200..300).contains(&status), "{created:?}"),
                Err(e) => {
                    // Rendering never panics, and the error is about what came back.
                    let _ = (e.to_string(), format!("{e:?}"), e.is_retryable());
                    prop_assert!(!matches!(e.kind(), ErrorKind::Timeout), "hung: {e:?}");
                    prop_assert!(e.attempts() >= 1);
                }
            }
            Ok(())
        })?;
    }
}
