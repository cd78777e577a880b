//! The public API against the offline emulator: success, every documented error path, load,
//! retries through injected faults, and gateway mode behind a credential-injecting gateway.

use std::collections::HashSet;
use std::time::Duration;

use plaid_emulator::{Emulator, Fault, Item};
use plaid_gateway::{Caller, Config, Gateway, hash_token};
use plaid_sdk::{Environment, ErrorKind, ErrorType, PlaidClient, Processor, RetryPolicy};
use plaid_sdk_tests::RecordingSleeper;

async fn start() -> (
    Emulator,
    Item,
    PlaidClient,
    std::sync::Arc<RecordingSleeper>,
) {
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let sleeper = RecordingSleeper::new();
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .retry_policy(RetryPolicy::default().sleeper(sleeper.clone()))
        .build()
        .expect("client");
    (emulator, item, client, sleeper)
}

fn api_error(err: &plaid_sdk::Error) -> (&str, &str) {
    let plaid = err
        .plaid_error()
        .unwrap_or_else(|| panic!("not a Plaid error: {err:?}"));
    (plaid.error_type.as_str(), plaid.error_code.as_str())
}

#[tokio::test]
async fn creates_a_processor_token_and_sends_what_plaid_expects() {
    let (emulator, item, client, _) = start().await;
    let account = &item.accounts[0].account_id;
    let created = client
        .processor_token_create(
            item.access_token.as_str(),
            account.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("created");
    assert!(
        created
            .processor_token
            .expose_secret()
            .starts_with("processor-sandbox-")
    );
    assert_eq!(created.request_id.len(), 15);
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.header("plaid-client-id"), Some(emulator.client_id()));
    assert_eq!(r.header("plaid-secret"), Some(emulator.secret()));
    assert_eq!(r.header("plaid-version"), Some("2020-09-14"));
    assert_eq!(r.header("api-version"), None);
    assert_eq!(
        r.json().expect("json body"),
        serde_json::json!({"access_token": item.access_token, "account_id": account, "processor": "dwolla"})
    );
    assert_eq!(emulator.processor_token_count(), 1);
}

#[tokio::test]
async fn wrong_credentials_are_invalid_api_keys() {
    let (emulator, item, _, _) = start().await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), "not-the-secret")
        .build()
        .expect("client");
    let err = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect_err("refused");
    assert_eq!(api_error(&err), ("INVALID_INPUT", "INVALID_API_KEYS"));
    assert_eq!(err.status(), Some(400));
    assert!(err.request_id().is_some());
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn no_credentials_without_a_gateway_are_missing_fields() {
    let (emulator, item, _, _) = start().await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .without_credentials()
        .build()
        .expect("client");
    let err = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect_err("refused");
    assert_eq!(api_error(&err), ("INVALID_REQUEST", "MISSING_FIELDS"));
    assert!(
        err.plaid_error()
            .expect("plaid")
            .error_message
            .contains("client_id, secret")
    );
}

#[tokio::test]
async fn unknown_access_tokens_and_foreign_accounts_are_refused() {
    let (emulator, item, client, _) = start().await;
    let other = emulator.add_item();
    let err = client
        .processor_token_create(
            "access-sandbox-00000000-0000-0000-0000-000000000000",
            "acc",
            "dwolla",
        )
        .await
        .expect_err("unknown token");
    assert_eq!(api_error(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .processor_token_create(
            item.access_token.as_str(),
            other.accounts[0].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect_err("account of another Item");
    assert_eq!(api_error(&err), ("INVALID_INPUT", "INVALID_ACCOUNT_ID"));
    assert_eq!(err.error_type(), Some(&ErrorType::InvalidInput));
    assert_eq!(emulator.processor_token_count(), 0);
}

#[tokio::test]
async fn the_emulator_refuses_what_the_sdk_never_sends() {
    // The SDK cannot produce these requests; a plain HTTP client shows the emulator's side.
    let (emulator, item, _, _) = start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/processor/token/create", emulator.base_url());
    let send = |body: String, version: Option<&'static str>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("plaid-client-id", emulator.client_id())
            .header("plaid-secret", emulator.secret())
            .body(body);
        if let Some(v) = version {
            req = req.header("plaid-version", v);
        }
        async move {
            let response = req.send().await.expect("send");
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.expect("json error body");
            (
                status,
                body["error_type"].as_str().map(str::to_string),
                body["error_code"].as_str().map(str::to_string),
            )
        }
    };
    let ok_body = serde_json::json!({
        "access_token": item.access_token, "account_id": item.accounts[0].account_id, "processor": "dwolla"
    })
    .to_string();
    let cases = [
        (
            "{not json",
            Some("2020-09-14"),
            "INVALID_REQUEST",
            "INVALID_BODY",
        ),
        (
            r#"{"access_token":"access-sandbox-x"}"#,
            Some("2020-09-14"),
            "INVALID_REQUEST",
            "MISSING_FIELDS",
        ),
        (
            r#"{"access_token":"access-sandbox-x","account_id":5,"processor":"dwolla"}"#,
            Some("2020-09-14"),
            "INVALID_REQUEST",
            "INVALID_FIELD",
        ),
        (ok_body.as_str(), None, "INVALID_REQUEST", "INVALID_HEADERS"),
        (
            ok_body.as_str(),
            Some("yesterday"),
            "INVALID_REQUEST",
            "INVALID_HEADERS",
        ),
    ];
    for (body, version, error_type, error_code) in cases {
        let (status, t, c) = send(body.to_string(), version).await;
        assert_eq!(
            (status, t.as_deref(), c.as_deref()),
            (400, Some(error_type), Some(error_code)),
            "{body} {version:?}"
        );
    }
    assert_eq!(send(ok_body.clone(), Some("2020-09-14")).await.0, 200);
}

#[tokio::test]
async fn two_hundred_concurrent_creates_all_succeed_with_distinct_tokens() {
    let (emulator, item, client, _) = start().await;
    let account = item.accounts[0].account_id.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let client = client.clone();
        let token = item.access_token.clone();
        let account = account.clone();
        tasks.spawn(async move {
            client
                .processor_token_create(token, account, Processor::Galileo)
                .await
        });
    }
    let mut tokens = HashSet::new();
    while let Some(result) = tasks.join_next().await {
        let created = result.expect("task").expect("created");
        tokens.insert(created.processor_token.expose_secret().to_string());
    }
    assert_eq!(tokens.len(), 200);
    assert_eq!(emulator.processor_token_count(), 200);
    assert_eq!(emulator.request_count(), 200);
}

#[tokio::test]
async fn retries_ride_out_injected_rate_limits_and_server_errors() {
    let (emulator, item, client, sleeper) = start().await;
    emulator.inject(
        Fault::RateLimit {
            retry_after_secs: 1,
        },
        1,
    );
    emulator.inject(Fault::ServerError { status: 503 }, 1);
    client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect("third attempt succeeds");
    assert_eq!(emulator.request_count(), 3);
    let delays = sleeper.delays();
    assert_eq!(delays.len(), 2);
    assert_eq!(delays[0], Duration::from_secs(1), "Retry-After honoured");

    // A 500 may follow a token Plaid did mint: minting again could make a second one, so the
    // call stops at once, and its error says it is not safe to retry.
    emulator.inject(Fault::ServerError { status: 500 }, 1);
    let err = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect_err("not repeated");
    assert_eq!(err.attempts(), 1);
    assert_eq!(api_error(&err), ("API_ERROR", "INTERNAL_SERVER_ERROR"));
    assert!(err.is_ambiguous() && !err.is_retryable(), "{err:?}");
    assert_eq!(emulator.request_count(), 4);

    // A read is repeated until the attempts run out.
    emulator.inject(Fault::ServerError { status: 500 }, 3);
    let err = client
        .accounts_get(item.access_token.as_str())
        .await
        .expect_err("gives up");
    assert_eq!(err.attempts(), 3);
    assert!(err.is_ambiguous() && err.is_retryable(), "{err:?}");
    assert_eq!(emulator.request_count(), 7);
}

#[tokio::test]
async fn injected_faults_map_to_their_error_kinds() {
    let (emulator, item, client, _) = start().await;
    let call = || {
        client.processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            "dwolla",
        )
    };

    emulator.inject(Fault::MalformedBody, 1);
    let err = call().await.expect_err("malformed");
    assert!(matches!(err.kind(), ErrorKind::Decode(_)), "{err:?}");

    emulator.inject(Fault::BadGatewayHtml, 1);
    let err = call().await.expect_err("html");
    assert!(
        matches!(err.kind(), ErrorKind::UnexpectedResponse),
        "{err:?}"
    );
    // A proxy's 502 may hide a token Plaid minted: not repeated for a write...
    assert_eq!((err.status(), err.attempts()), (Some(502), 1));
    // ...and repeated for a read until the attempts run out.
    emulator.inject(Fault::BadGatewayHtml, 3);
    let err = client
        .item_get(item.access_token.as_str())
        .await
        .expect_err("html again");
    assert_eq!((err.status(), err.attempts()), (Some(502), 3));

    emulator.inject(Fault::DropConnection, 1);
    let err = call().await.expect_err("dropped");
    assert!(matches!(err.kind(), ErrorKind::Transport), "{err:?}");

    emulator.inject(Fault::Delay(Duration::from_secs(30)), 1);
    let err = call()
        .timeout(Duration::from_millis(200))
        .await
        .expect_err("slow");
    assert!(err.is_timeout(), "{err:?}");

    // Faults are used up: the next call succeeds.
    call().await.expect("healthy again");
}

#[tokio::test]
async fn gateway_mode_through_a_gateway_that_injects_credentials() {
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let mut config = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        vec![Caller::new("tests", &hash_token("caller-1")).expect("caller")],
    );
    config.path_prefix = "/plaid".into();
    let gateway = Gateway::start(config).await.expect("gateway");
    let client = PlaidClient::builder()
        .environment(Environment::custom(&format!("{}/plaid", gateway.url())).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", "caller-1")
        .build()
        .expect("client");
    let created = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[1].account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("through the gateway");
    assert!(
        created
            .processor_token
            .expose_secret()
            .starts_with("processor-sandbox-")
    );
    let received = emulator.requests();
    assert_eq!(
        received[0].header("plaid-secret"),
        Some(emulator.secret()),
        "the gateway added the secret"
    );

    let stranger = PlaidClient::builder()
        .environment(Environment::custom(&format!("{}/plaid", gateway.url())).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", "not-a-caller")
        .build()
        .expect("client");
    let err = stranger
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[1].account_id.as_str(),
            "dwolla",
        )
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        emulator.request_count(),
        1,
        "a refused caller never reaches upstream"
    );
}
