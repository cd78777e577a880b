//! No secret (client secret, gateway token, access token, processor token) in any Debug or
//! Display rendering of anything the SDK returns, nor in its tracing output at TRACE level.
//!
//! One test in its own binary, because it installs a global tracing subscriber.

use std::time::Duration;

use plaid_sdk::{Environment, PlaidClient, Processor, RetryPolicy};
use plaid_sdk_tests::{
    Action, Captured, ClosedPort, RecordingSleeper, ScriptedServer, json, plaid_error,
};

const SECRET: &str = "sEcReT-0f1e2d3c4b5a";
const GATEWAY_TOKEN: &str = "gw-tok-77aa88bb99cc";
const ACCESS_TAIL: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";
const TOKEN_TAIL: &str = "tok-5544332211";

fn assert_clean(what: &str, text: &str) {
    for secret in [SECRET, GATEWAY_TOKEN, ACCESS_TAIL, TOKEN_TAIL] {
        assert!(
            !text.contains(secret),
            "{what} shows a secret ({secret}):\n{text}"
        );
    }
}

fn render<T: std::fmt::Debug>(value: &T) -> String {
    format!("{value:?}\n{value:#?}")
}

/// An error's every rendering: Display, Debug, and each source's.
fn error_text(e: &plaid_sdk::Error) -> String {
    let mut text = format!("{e}\n{}", render(e));
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!("\n{s}\n{s:?}"));
        source = s.source();
    }
    text
}

#[tokio::test]
async fn no_secret_in_any_rendering_or_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let access = format!("access-sandbox-{ACCESS_TAIL}");
    let token = format!("processor-sandbox-{TOKEN_TAIL}");
    // A misbehaving proxy may echo what it received: the client's own secret (whichever it
    // was given), the access token and any token-shaped text must not reach its errors.
    // Each script with the outcome it must come to, so that none of them can silently turn
    // into another (a success into a timeout on a slow machine) and lose its coverage.
    let scripts = |own_secret: &str| -> Vec<(&'static str, Action, &'static str)> {
        let echo = format!(
            "<html>you sent {own_secret} body {{\"access_token\":\"{access}\"}} and {token}</html>"
        );
        vec![
            (
                "success",
                json(
                    200,
                    &format!(r#"{{"processor_token":"{token}","request_id":"r1"}}"#),
                ),
                "ok",
            ),
            (
                "plaid 400",
                plaid_error(400, "INVALID_INPUT", "INVALID_ACCESS_TOKEN", "bad token"),
                "api",
            ),
            (
                "plaid-shaped echo",
                plaid_error(
                    400,
                    "INVALID_INPUT",
                    "INVALID_ACCESS_TOKEN",
                    &format!("you sent {own_secret} and {access}"),
                ),
                "api",
            ),
            (
                "echoing 502",
                Action::Respond {
                    status: 502,
                    headers: vec![],
                    body: echo.clone().into_bytes(),
                },
                "unexpected_response",
            ),
            (
                // Retried (Plaid did not act on a 503), so the retry's log line is searched too.
                "echoing 503",
                Action::Respond {
                    status: 503,
                    headers: vec![],
                    body: echo.clone().into_bytes(),
                },
                "unexpected_response",
            ),
            (
                "echoing 200",
                Action::Respond {
                    status: 200,
                    headers: vec![],
                    body: echo.into_bytes(),
                },
                "decode",
            ),
            (
                "wrong type 200",
                json(
                    200,
                    &format!(r#"{{"processor_token":7,"request_id":"{token}"}}"#),
                ),
                "decode",
            ),
            ("stall", Action::Stall, "timeout"),
            ("reset", Action::Reset, "transport"),
            (
                "truncated",
                Action::Truncate {
                    declared: 500,
                    body: token.clone().into_bytes(),
                },
                "transport",
            ),
            (
                "huge",
                Action::Huge {
                    len: 2 << 20,
                    declared: true,
                },
                "body_too_large",
            ),
        ]
    };
    let mut rendered = Vec::new();
    for gateway in [false, true] {
        let own_secret = if gateway { GATEWAY_TOKEN } else { SECRET };
        for (name, action, expected) in scripts(own_secret) {
            let server = ScriptedServer::start(action).await;
            let builder = PlaidClient::builder()
                .environment(Environment::custom(&server.url()).expect("url"))
                .retry_policy(RetryPolicy::default().sleeper(RecordingSleeper::new()))
                .max_body_bytes(1 << 20);
            let builder = if gateway {
                builder
                    .without_credentials()
                    .gateway_header("x-gw", GATEWAY_TOKEN)
            } else {
                builder.credentials("client-1", SECRET)
            };
            rendered.push((format!("{name} builder"), render(&builder)));
            let client = builder.build().expect("client");
            rendered.push((format!("{name} client"), render(&client)));
            let call = client.processor_token_create(access.as_str(), "acc_1", Processor::Dwolla);
            // Only the stalling server needs a short timeout; the others get the default 30 s,
            // so a loaded machine cannot turn them into timeouts.
            let call = if expected == "timeout" {
                call.timeout(Duration::from_millis(200))
            } else {
                call
            };
            rendered.push((format!("{name} pending call"), render(&call)));
            let outcome = match call.await {
                Ok(created) => {
                    rendered.push((format!("{name} result"), render(&created)));
                    "ok"
                }
                Err(e) => {
                    rendered.push((format!("{name} error"), error_text(&e)));
                    e.kind().name()
                }
            };
            assert_eq!(outcome, expected, "{name} (gateway mode: {gateway})");

            // The same answer to a raw call of the same operation: its error is redacted the
            // same way, its tokens found by their keys. (A raw success is the server's body,
            // handed over as it came.)
            let body = serde_json::json!({
                "access_token": access.as_str(),
                "account_id": "acc_1",
                "processor": "dwolla",
            });
            let raw = client.call::<serde_json::Value>("/processor/token/create", &body);
            let raw = if expected == "timeout" {
                raw.timeout(Duration::from_millis(200))
            } else {
                raw
            };
            rendered.push((format!("{name} raw call"), render(&raw)));
            if let Err(e) = raw.await {
                rendered.push((format!("{name} raw error"), error_text(&e)));
            }
        }
    }
    // Errors raised before sending, and configuration errors.
    let closed = ClosedPort::new();
    let refused = PlaidClient::builder()
        .environment(Environment::custom(&closed.url()).expect("url"))
        .credentials("client-1", SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let e = refused
        .processor_token_create(access.as_str(), "acc_1", "dwolla")
        .await
        .expect_err("refused");
    rendered.push(("connect error".into(), format!("{e}\n{}", render(&e))));
    let production = PlaidClient::builder()
        .environment(Environment::Production)
        .credentials("c", SECRET)
        .build()
        .expect("client");
    let e = production
        .processor_token_create(access.as_str(), "acc_1", "dwolla")
        .await
        .expect_err("env");
    rendered.push(("wrong environment".into(), format!("{e}\n{}", render(&e))));
    // A secret that cannot be sent as a header (a control character inside it): refused, and
    // the refusal does not repeat it.
    let e = PlaidClient::builder()
        .credentials("c", format!("{SECRET}\u{7f}tail"))
        .environment(Environment::Production)
        .build()
        .expect_err("unsendable secret");
    rendered.push(("bad secret".into(), format!("{e}\n{}", render(&e))));

    // The whole family: every result's rendering, with the real tokens the emulator minted.
    let emulator = plaid_emulator::Emulator::start().await.expect("emulator");
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .build()
        .expect("client");
    let public = client
        .sandbox_public_token_create("ins_109508", [plaid_sdk::Product::Auth])
        .await
        .expect("public");
    let exchanged = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("exchange");
    let accounts = client
        .accounts_get(&exchanged.access_token)
        .await
        .expect("accounts");
    let account = accounts.accounts[0].account_id.clone();
    let created = client
        .processor_token_create(&exchanged.access_token, account.as_str(), "dwolla")
        .await
        .expect("token");
    let stripe = client
        .processor_stripe_bank_account_token_create(&exchanged.access_token, account.as_str())
        .await
        .expect("stripe");
    let set = client
        .processor_token_permissions_set(&created.processor_token, [])
        .await
        .expect("set");
    let get = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect("get");
    let item = client
        .item_get(&exchanged.access_token)
        .await
        .expect("item");
    // A pending call and the request it would send, with a token set through a setter.
    let update_mode = client
        .link_token_create("Platypus Pay", "en", [plaid_sdk::types::CountryCode::Us])
        .access_token(&exchanged.access_token);
    let pending = format!("{update_mode:?} {:?}", update_mode.request());
    let removed = client
        .item_remove(&exchanged.access_token)
        .await
        .expect("remove");
    let revoked = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect_err("revoked");
    let minted = [
        public.public_token.expose_secret().to_string(),
        exchanged.access_token.expose_secret().to_string(),
        created.processor_token.expose_secret().to_string(),
        stripe.stripe_bank_account_token.expose_secret().to_string(),
    ];
    let family = [
        render(&public),
        render(&exchanged),
        render(&accounts),
        render(&created),
        render(&stripe),
        render(&set),
        render(&get),
        render(&removed),
        render(&item),
        pending,
        format!("{revoked}\n{}", render(&revoked)),
        render(&client.accounts_get(&exchanged.access_token)),
    ];
    for text in &family {
        for secret in &minted {
            assert!(
                !text.contains(secret.as_str()),
                "a minted token in a rendering:\n{text}"
            );
        }
    }

    for (what, text) in &rendered {
        assert_clean(what, text);
    }
    let logs = captured.text();
    assert!(
        logs.contains("plaid.request"),
        "the request span is logged:\n{logs}"
    );
    assert!(logs.contains("retrying"), "retries are logged:\n{logs}");
    assert_clean("the TRACE log", &logs);
    for secret in &minted {
        assert!(
            !logs.contains(secret.as_str()),
            "a minted token in the TRACE log"
        );
    }
}
