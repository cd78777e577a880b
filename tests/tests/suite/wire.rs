//! The SDK against a scripted loopback server: the exact request on the wire, and every way a
//! response can go wrong mapped to the error users see.

use std::sync::Arc;
use std::time::Duration;

use plaid_sdk::{
    Environment, ErrorKind, ErrorType, InvalidInput, PlaidClient, Processor, RetryPolicy,
};
use plaid_sdk_tests::{
    Action, ClosedPort, RecordingSleeper, ScriptedServer, json, json_retry_after, plaid_error,
};

const SECRET: &str = "wire-test-secret-9f8e7d";
const ACCESS: &str = "access-sandbox-5b2c1a9e-0000-4d2a-9a55-aabbccddeeff";
const TOKEN: &str = "processor-sandbox-0asd1-a92nc";
const OK_BODY: &str =
    r#"{"processor_token":"processor-sandbox-0asd1-a92nc","request_id":"xrQNYZ7Zoh6R7gV"}"#;

fn client_for(server: &ScriptedServer, sleeper: &Arc<RecordingSleeper>) -> PlaidClient {
    PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .credentials("client-id-123", SECRET)
        .retry_policy(RetryPolicy::default().sleeper(sleeper.clone()))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn setup(default: Action) -> (ScriptedServer, PlaidClient, Arc<RecordingSleeper>) {
    let server = ScriptedServer::start(default).await;
    let sleeper = RecordingSleeper::new();
    let client = client_for(&server, &sleeper);
    (server, client, sleeper)
}

#[tokio::test]
async fn the_request_on_the_wire_is_exactly_what_plaid_expects() {
    let (server, client, _) = setup(json(200, OK_BODY)).await;
    let created = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("success");
    assert_eq!(created.processor_token.expose_secret(), TOKEN);
    assert_eq!(created.request_id, "xrQNYZ7Zoh6R7gV");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/processor/token/create");
    assert_eq!(
        r.header_names(),
        [
            "accept",
            "content-length",
            "content-type",
            "host",
            "plaid-client-id",
            "plaid-secret",
            "plaid-version",
            "user-agent"
        ],
        "no header beyond these (no `api-version`, which progenitor's methods would add)"
    );
    assert_eq!(r.header("plaid-client-id"), Some("client-id-123"));
    assert_eq!(r.header("plaid-secret"), Some(SECRET));
    assert_eq!(r.header("plaid-version"), Some("2020-09-14"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("accept"), Some("application/json"));
    assert_eq!(r.header("user-agent"), Some(plaid_sdk::USER_AGENT));
    assert!(plaid_sdk::USER_AGENT.starts_with("plaid-sdk-rust/"));
    assert_eq!(
        String::from_utf8(r.body.clone()).expect("utf8"),
        format!(r#"{{"access_token":"{ACCESS}","account_id":"acc_1","processor":"dwolla"}}"#)
    );
}

#[tokio::test]
async fn unknown_processors_are_sent_unchanged_and_version_is_overridable() {
    let server = ScriptedServer::start(json(200, OK_BODY)).await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .credentials("id", SECRET)
        .plaid_version("2099-01-01")
        .build()
        .expect("client");
    client
        .processor_token_create(ACCESS, "acc_1", "partner_added_next_week")
        .await
        .expect("success");
    let r = &server.requests()[0];
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    assert_eq!(body["processor"], "partner_added_next_week");
    assert_eq!(r.header("plaid-version"), Some("2099-01-01"));
}

#[tokio::test]
async fn gateway_mode_sends_no_credentials_and_keeps_the_path_prefix() {
    let server = ScriptedServer::start(json(200, OK_BODY)).await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(&format!("{}/plaid/", server.url())).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", "gw-token-abc")
        .build()
        .expect("client");
    client
        .processor_token_create(ACCESS, "acc_1", Processor::Galileo)
        .await
        .expect("success");
    let r = &server.requests()[0];
    assert_eq!(r.path, "/plaid/processor/token/create");
    assert_eq!(r.header("plaid-client-id"), None);
    assert_eq!(r.header("plaid-secret"), None);
    assert_eq!(r.header("x-gateway-token"), Some("gw-token-abc"));
    assert_eq!(r.header("plaid-version"), Some("2020-09-14"));
}

#[tokio::test]
async fn success_bodies_with_unknown_fields_parse() {
    let (_server, client, _) = setup(json(
        200,
        r#"{"processor_token":"processor-sandbox-1","request_id":"r1","new_field":{"a":[1]}}"#,
    ))
    .await;
    let created = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("ok");
    assert_eq!(created.request_id, "r1");
}

#[tokio::test]
async fn a_plaid_400_is_parsed_and_not_retried() {
    let (server, client, sleeper) = setup(plaid_error(
        400,
        "INVALID_INPUT",
        "INVALID_ACCESS_TOKEN",
        "provided access token is in an invalid format",
    ))
    .await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("400");
    assert_eq!(server.hits(), 1);
    assert!(sleeper.delays().is_empty());
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.request_id(), Some("req-err-1"));
    assert_eq!(err.error_type(), Some(&ErrorType::InvalidInput));
    assert_eq!(err.error_code(), Some("INVALID_ACCESS_TOKEN"));
    let plaid = err.plaid_error().expect("plaid error");
    assert_eq!(plaid.display_message, None);
    assert!(!err.is_retryable());
    assert_eq!(err.attempts(), 1);
    assert_eq!(
        err.to_string(),
        "processor_token_create: Plaid error INVALID_INPUT/INVALID_ACCESS_TOKEN: provided access token is in an invalid format (HTTP 400, request id req-err-1)"
    );
}

#[tokio::test]
async fn an_unknown_error_type_is_kept_not_a_parse_failure() {
    let (_server, client, _) = setup(plaid_error(400, "QUANTUM_ERROR", "ENTANGLED", "new")).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("400");
    let t = err.error_type().expect("api error");
    assert!(!t.is_known());
    assert_eq!(t.as_str(), "QUANTUM_ERROR");
    assert_eq!(err.error_code(), Some("ENTANGLED"));
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_that_delay() {
    let (server, client, sleeper) = setup(json(200, OK_BODY)).await;
    server.push([json_retry_after(
        429,
        "2",
        r#"{"error_type":"RATE_LIMIT_EXCEEDED","error_code":"RATE_LIMIT","error_message":"slow down","display_message":null,"request_id":"r429"}"#,
    )]);
    let created = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("2nd try");
    assert_eq!(created.processor_token.expose_secret(), TOKEN);
    assert_eq!(server.hits(), 2);
    assert_eq!(sleeper.delays(), [Duration::from_secs(2)]);
}

#[tokio::test]
async fn a_429_that_is_not_retried_reports_retry_after() {
    let (server, _, _) = setup(json_retry_after(
        429,
        "7",
        r#"{"error_type":"RATE_LIMIT_EXCEEDED","error_code":"RATE_LIMIT","error_message":"slow down","display_message":null,"request_id":"r429"}"#,
    ))
    .await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .credentials("id", SECRET)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("429");
    assert_eq!(server.hits(), 1);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.error_type(), Some(&ErrorType::RateLimitExceeded));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_503_twice_then_success_takes_three_hits() {
    let (server, client, sleeper) = setup(json(200, OK_BODY)).await;
    server.push([json(503, "{}"), json(503, "{}")]);
    client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("3rd try");
    assert_eq!(server.hits(), 3);
    let delays = sleeper.delays();
    assert_eq!(delays.len(), 2);
    // The default policy: a step of 250 ms that doubles, each delay between half and all of
    // its step. A constant delay cannot meet both ranges and the strict growth.
    let ms = Duration::from_millis;
    assert!(
        (ms(125)..ms(250)).contains(&delays[0]),
        "first delay within its step: {delays:?}"
    );
    assert!(
        (ms(250)..ms(500)).contains(&delays[1]),
        "second delay within the doubled step: {delays:?}"
    );
    assert!(delays[1] > delays[0], "backoff grows: {delays:?}");
}

#[tokio::test]
async fn a_503_forever_stops_at_the_limit_with_the_last_error() {
    let (server, client, _) =
        setup(plaid_error(503, "API_ERROR", "PLANNED_MAINTENANCE", "down")).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("503");
    assert_eq!(server.hits(), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.status(), Some(503));
    assert_eq!(err.error_code(), Some("PLANNED_MAINTENANCE"));
    assert!(err.to_string().contains("3 attempts"), "{err}");
}

#[tokio::test]
async fn a_500_is_retried_only_when_plaid_calls_it_an_api_error() {
    let (server, client, _) = setup(plaid_error(
        500,
        "API_ERROR",
        "INTERNAL_SERVER_ERROR",
        "oops",
    ))
    .await;
    // Plaid may have acted before the 500: a read is repeated...
    let err = client.item_get(ACCESS).await.expect_err("500");
    assert_eq!(server.hits(), 3);
    assert!(err.is_retryable() && err.is_ambiguous(), "{err:?}");
    // ...a write, which could mint a second token, is not, and says so.
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("500");
    assert_eq!(server.hits(), 4);
    assert!(!err.is_retryable() && err.is_ambiguous(), "{err:?}");

    let (server, client, _) = setup(plaid_error(500, "ITEM_ERROR", "ITEM_LOCKED", "no")).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("500");
    assert_eq!(server.hits(), 1);
    assert_eq!(err.error_type(), Some(&ErrorType::ItemError));
}

#[tokio::test]
async fn an_html_502_keeps_its_status_and_a_short_excerpt() {
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "padding ".repeat(500)
    );
    let (server, client, _) = setup(Action::Respond {
        status: 502,
        headers: vec![("content-type".into(), "text/html".into())],
        body: page.into_bytes(),
    })
    .await;
    let err = client.item_get(ACCESS).await.expect_err("502");
    assert_eq!(server.hits(), 3, "a 502 is transient: a read is repeated");
    assert!(matches!(err.kind(), ErrorKind::UnexpectedResponse));
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
    let excerpt = err.body_excerpt().expect("excerpt");
    assert!(
        excerpt.starts_with("<html><head><title>502 Bad Gateway"),
        "{excerpt}"
    );
    assert!(excerpt.chars().count() <= 201, "bounded: {}", excerpt.len());
    assert!(err.to_string().len() < 400, "one short line: {err}");
}

#[tokio::test]
async fn a_json_error_that_is_not_plaid_shaped_is_an_unexpected_response() {
    let (_server, client, _) = setup(json(404, r#"{"message":"no route"}"#)).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("404");
    assert!(matches!(err.kind(), ErrorKind::UnexpectedResponse));
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.body_excerpt(), Some(r#"{"message":"no route"}"#));
}

#[tokio::test]
async fn a_malformed_success_body_names_the_missing_field() {
    let (_server, client, _) = setup(json(200, r#"{"request_id":"r-mal"}"#)).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("bad 200");
    let ErrorKind::Decode(message) = err.kind() else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("missing field `processor_token`"),
        "{message}"
    );
    assert_eq!(err.status(), Some(200));
    assert_eq!(err.request_id(), Some("r-mal"));

    let (_server, client, _) =
        setup(json(200, r#"{"processor_token":null,"request_id":"r"}"#)).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("null");
    assert!(matches!(err.kind(), ErrorKind::Decode(_)), "{err:?}");

    let (_server, client, _) = setup(json(200, "not json at all")).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("text");
    assert!(matches!(err.kind(), ErrorKind::Decode(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_stalled_server_times_out_within_the_bound() {
    let (server, client, _) = setup(Action::Stall).await;
    let started = std::time::Instant::now();
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .timeout(Duration::from_millis(300))
        .await
        .expect_err("stall");
    let elapsed = started.elapsed();
    // The call's own bound applied: not before it, and far from the 30 s default (the upper
    // margin is wide so that a loaded machine cannot fail it).
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(10),
        "{elapsed:?}"
    );
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.to_string()
            .contains("no response within the 300ms timeout"),
        "{err}"
    );
    assert_eq!(
        server.hits(),
        1,
        "a timeout is not retried by default for a write"
    );
    assert!(!err.is_retryable() && err.is_ambiguous(), "{err:?}");
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error_after_retries() {
    let closed = ClosedPort::new();
    let sleeper = RecordingSleeper::new();
    let client = PlaidClient::builder()
        .environment(Environment::custom(&closed.url()).expect("url"))
        .credentials("id", SECRET)
        .retry_policy(RetryPolicy::default().sleeper(sleeper.clone()))
        .build()
        .expect("client");
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("refused");
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(err.attempts(), 3);
    assert_eq!(sleeper.delays().len(), 2);
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn a_reset_connection_is_a_transport_error() {
    let (server, client, _) = setup(Action::Reset).await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("reset");
    // The request arrived, then the connection was reset: it may have been processed, so a
    // write is not retried by default, and its error says it is not safe to.
    assert!(matches!(err.kind(), ErrorKind::Transport), "{err:?}");
    assert_eq!(server.hits(), 1);
    assert!(!err.is_retryable() && err.is_ambiguous(), "{err:?}");
    // A read is.
    let err = client.item_get(ACCESS).await.expect_err("reset");
    assert_eq!(server.hits(), 4);
    assert!(err.is_retryable(), "{err:?}");
}

#[tokio::test]
async fn a_truncated_body_is_a_transport_error() {
    let (_server, client, _) = setup(Action::Truncate {
        declared: 200,
        body: br#"{"processor_token":"proc"#.to_vec(),
    })
    .await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("truncated");
    assert!(matches!(err.kind(), ErrorKind::Transport), "{err:?}");
    assert_eq!(err.status(), Some(200));
}

#[tokio::test]
async fn bodies_over_the_limit_fail_clearly() {
    for declared in [true, false] {
        let server = ScriptedServer::start(Action::Huge {
            len: 64 << 20,
            declared,
        })
        .await;
        let client = PlaidClient::builder()
            .environment(Environment::custom(&server.url()).expect("url"))
            .credentials("id", SECRET)
            .max_body_bytes(1 << 20)
            .build()
            .expect("client");
        let err = client
            .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
            .await
            .expect_err("huge");
        assert!(
            matches!(err.kind(), ErrorKind::BodyTooLarge { limit: 1048576 }),
            "{err:?}"
        );
        assert_eq!(server.hits(), 1, "not retried");
    }
}

#[tokio::test]
async fn invalid_input_is_refused_before_anything_is_sent() {
    let (server, client, _) = setup(json(200, OK_BODY)).await;
    let cases = [
        (
            "",
            "acc_1",
            "dwolla",
            InvalidInput::Blank {
                field: "access_token".into(),
            },
        ),
        (
            ACCESS,
            "  ",
            "dwolla",
            InvalidInput::Blank {
                field: "account_id".into(),
            },
        ),
        (
            ACCESS,
            "acc_1",
            "",
            InvalidInput::Blank {
                field: "processor".into(),
            },
        ),
    ];
    for (token, account, processor, expected) in cases {
        let err = client
            .processor_token_create(token, account, processor)
            .await
            .expect_err("invalid");
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput(e) if *e == expected),
            "{err:?}"
        );
        assert_eq!(err.attempts(), 0);
    }
    assert_eq!(server.hits(), 0);

    let production = PlaidClient::builder()
        .environment(Environment::Production)
        .credentials("id", SECRET)
        .build()
        .expect("client");
    let err = production
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("env");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::InvalidInput(InvalidInput::WrongEnvironment { .. })
        ),
        "{err:?}"
    );
    assert!(err.is_invalid_input());
    assert!(!err.to_string().contains("5b2c1a9e"), "{err}");
}

#[tokio::test]
async fn a_caller_supplied_reqwest_client_is_used_and_the_sdk_headers_still_go() {
    let server = ScriptedServer::start(json(200, OK_BODY)).await;
    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert(
        "x-app",
        reqwest::header::HeaderValue::from_static("checkout"),
    );
    let http = reqwest::Client::builder()
        .default_headers(defaults)
        .build()
        .expect("reqwest client");
    let client = PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .credentials("client-id-123", SECRET)
        .http_client(http)
        .build()
        .expect("client");
    client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("success");
    let r = &server.requests()[0];
    assert_eq!(
        r.header("x-app"),
        Some("checkout"),
        "the caller's client settings apply"
    );
    assert_eq!(r.header("plaid-secret"), Some(SECRET));
    assert_eq!(r.header("plaid-version"), Some("2020-09-14"));
    assert_eq!(r.header("user-agent"), Some(plaid_sdk::USER_AGENT));
}

#[tokio::test]
async fn a_redirect_is_not_followed_so_credentials_stay_put() {
    let elsewhere = ScriptedServer::start(json(200, OK_BODY)).await;
    let (server, client, _) = setup(Action::Respond {
        status: 307,
        headers: vec![(
            "location".into(),
            format!("{}/processor/token/create", elsewhere.url()),
        )],
        body: Vec::new(),
    })
    .await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("redirect");
    assert!(
        matches!(err.kind(), ErrorKind::UnexpectedResponse),
        "{err:?}"
    );
    assert_eq!(err.status(), Some(307));
    assert_eq!(server.hits(), 1);
    assert_eq!(
        elsewhere.hits(),
        0,
        "the secret never went to the redirect's target"
    );
}

// The raw call (`PlaidClient::call`): everything a generated call gets, for any path.

const RAW_ERROR: &str = r#"{"error_type":"INVALID_INPUT","error_code":"INVALID_ACCESS_TOKEN","error_message":"no item for access-sandbox-5b2c1a9e-0000-4d2a-9a55-aabbccddeeff","display_message":null,"request_id":"reqRawErr01"}"#;

#[tokio::test]
async fn a_raw_call_sends_what_a_generated_call_sends_and_parses_any_type() {
    let (server, client, _) = setup(json(
        200,
        r#"{"added":[{"id":"t1"}],"has_more":false,"request_id":"reqRaw01"}"#,
    ))
    .await;
    let body = serde_json::json!({"access_token": ACCESS, "count": 2});
    let page: serde_json::Value = client
        .call("/transactions/sync", &body)
        .await
        .expect("success");
    assert_eq!(page["added"][0]["id"], "t1");

    #[derive(serde::Deserialize)]
    struct Page {
        has_more: bool,
        request_id: String,
    }
    let typed: Page = client
        .call("/transactions/sync", &body)
        .await
        .expect("typed");
    assert_eq!(
        (typed.has_more, typed.request_id.as_str()),
        (false, "reqRaw01")
    );

    // The same headers as a generated call's, to the path given, with the body as given.
    let generated = setup(json(200, OK_BODY)).await;
    generated
        .1
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("generated");
    let raw = &server.requests()[0];
    let reference = &generated.0.requests()[0];
    assert_eq!(
        (raw.method.as_str(), raw.path.as_str()),
        ("POST", "/transactions/sync")
    );
    assert_eq!(raw.header_names(), reference.header_names());
    for name in [
        "plaid-client-id",
        "plaid-secret",
        "plaid-version",
        "user-agent",
        "content-type",
    ] {
        assert_eq!(raw.header(name), reference.header(name), "{name}");
    }
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&raw.body).expect("json"),
        body
    );
}

#[tokio::test]
async fn a_raw_call_fails_as_a_generated_call_does_with_secrets_redacted() {
    let (server, client, _) = setup(plaid_error(400, "INVALID_INPUT", "X", "x")).await;
    server.push([json(400, RAW_ERROR)]);
    let err = client
        .call::<serde_json::Value>(
            "/transactions/sync",
            &serde_json::json!({"access_token": ACCESS}),
        )
        .await
        .expect_err("plaid error");
    assert_eq!(err.status(), Some(400));
    assert_eq!(err.error_code(), Some("INVALID_ACCESS_TOKEN"));
    assert_eq!(err.request_id(), Some("reqRawErr01"));
    assert_eq!(err.operation(), Some("/transactions/sync"));
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("5b2c1a9e-0000"),
        "the token is redacted: {text}"
    );
    assert!(!text.contains(SECRET), "{text}");
    assert_eq!(server.hits(), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_raw_call_is_retried_by_the_same_rules() {
    let (server, client, sleeper) = setup(json(200, r#"{"request_id":"reqRaw02"}"#)).await;
    let body = serde_json::json!({"access_token": ACCESS});
    server.push([json(503, "{}"), json(429, "{}")]);
    let _: serde_json::Value = client.call("/transfer/create", &body).await.expect("third");
    assert_eq!((server.hits(), sleeper.delays().len()), (3, 2));

    // Plaid may have acted before a 500 API_ERROR: a write is not repeated...
    let api_error = || {
        json(
            500,
            r#"{"error_type":"API_ERROR","error_code":"INTERNAL_SERVER_ERROR","error_message":"m","display_message":null,"request_id":"reqRaw03"}"#,
        )
    };
    server.push([api_error(), api_error(), api_error()]);
    let err = client
        .call::<serde_json::Value>("/transfer/create", &body)
        .await
        .expect_err("500");
    assert_eq!(
        (err.attempts(), err.is_retryable(), err.is_ambiguous()),
        (1, false, true)
    );
    // ...a path ending in /get is a read, and is...
    let _: serde_json::Value = client
        .call("/transfer/get", &body)
        .await
        .expect("the third attempt gets the default answer");
    assert_eq!(server.hits(), 3 + 1 + 3);
    // ...and so is a write the caller calls repeatable.
    server.push([api_error()]);
    let _: serde_json::Value = client
        .call("/transfer/cancel", &body)
        .repeatable(true)
        .await
        .expect("retried");
    assert_eq!(server.hits(), 3 + 1 + 3 + 2);
}

#[tokio::test]
async fn a_raw_call_times_out_within_its_bound() {
    let (server, client, _) = setup(Action::Stall).await;
    let err = client
        .call::<serde_json::Value>("/transfer/create", &serde_json::json!({}))
        .timeout(Duration::from_millis(200))
        .await
        .expect_err("stall");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn a_raw_call_refuses_what_cannot_be_an_operation_before_sending() {
    let (server, client, _) = setup(json(200, "{}")).await;
    let ok = serde_json::json!({"access_token": ACCESS});
    let refused = [
        client.call::<serde_json::Value>("transactions/sync", &ok),
        client.call::<serde_json::Value>("/a/../item/remove", &ok),
        client.call::<serde_json::Value>("/a?x=1", &ok),
        client.call::<serde_json::Value>("/transactions/sync", &serde_json::json!([1])),
        client.call::<serde_json::Value>("/transactions/sync", &serde_json::json!({"secret": "s"})),
        client.call::<serde_json::Value>(
            "/transactions/sync",
            &serde_json::json!({"client_id": "c"}),
        ),
    ];
    for call in refused {
        let what = format!("{call:?}");
        let err = call.await.expect_err("refused");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::InvalidInput(InvalidInput::InvalidCall { .. })
            ),
            "{what}: {err:?}"
        );
    }
    let production = PlaidClient::builder()
        .environment(Environment::Production)
        .credentials("id", SECRET)
        .build()
        .expect("client");
    let err = production
        .call::<serde_json::Value>("/sandbox/item/reset_login", &ok)
        .await
        .expect_err("sandbox only");
    assert!(err.is_invalid_input(), "{err:?}");
    assert_eq!(server.hits(), 0, "nothing was sent");
}

#[tokio::test]
async fn a_raw_call_in_gateway_mode_sends_the_gateway_header_and_no_credentials() {
    let server = ScriptedServer::start(json(200, r#"{"request_id":"reqRaw04"}"#)).await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", "gw-caller-token-1")
        .build()
        .expect("client");
    let _: serde_json::Value = client
        .call(
            "/transactions/sync",
            &serde_json::json!({"access_token": ACCESS}),
        )
        .await
        .expect("sent");
    let r = &server.requests()[0];
    assert_eq!(r.header("x-gateway-token"), Some("gw-caller-token-1"));
    assert_eq!(
        (r.header("plaid-secret"), r.header("plaid-client-id")),
        (None, None)
    );
}

// Client settings.

#[tokio::test]
async fn the_app_name_reaches_the_wire_after_the_sdk_s() {
    let server = ScriptedServer::start(json(200, OK_BODY)).await;
    let client = PlaidClient::builder()
        .environment(Environment::custom(&server.url()).expect("url"))
        .credentials("id", SECRET)
        .app_name("checkout-service/2.3")
        .build()
        .expect("client");
    client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("sent");
    assert_eq!(
        server.requests()[0].header("user-agent"),
        Some(format!("{} checkout-service/2.3", plaid_sdk::USER_AGENT).as_str())
    );
}

#[tokio::test]
async fn an_access_token_where_a_processor_token_belongs_is_refused_before_sending() {
    let (server, client, _) = setup(json(200, "{}")).await;
    let err = client
        .processor_auth_get(ACCESS)
        .await
        .expect_err("wrong kind");
    let ErrorKind::InvalidInput(invalid) = err.kind() else {
        panic!("{err:?}")
    };
    assert_eq!(
        invalid,
        &InvalidInput::WrongTokenKind {
            field: "processor_token".into(),
            expected: "processor",
            found: "access".into(),
        }
    );
    assert!(err.to_string().contains("processor_token"), "{err}");
    let err = client
        .auth_get(TOKEN)
        .await
        .expect_err("the other way round");
    assert!(err.is_invalid_input(), "{err:?}");
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn from_env_in_gateway_mode_sends_the_token_and_no_credentials() {
    let server = ScriptedServer::start(json(200, OK_BODY)).await;
    let url = server.url();
    let vars = [
        ("PLAID_GATEWAY_TOKEN", "gw-env-token-7"),
        ("PLAID_ENV", url.as_str()),
    ];
    let client = plaid_sdk::ClientBuilder::from_lookup(|name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    })
    .expect("gateway mode")
    .build()
    .expect("client");
    client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect("sent");
    let r = &server.requests()[0];
    assert_eq!(
        r.header(plaid_sdk::DEFAULT_GATEWAY_HEADER),
        Some("gw-env-token-7")
    );
    assert_eq!(r.header("plaid-secret"), None);
}

#[tokio::test]
async fn a_gateway_refusal_is_a_known_error_type() {
    let (_server, client, _) = setup(plaid_error(
        403,
        "GATEWAY_ERROR",
        "OPERATION_NOT_ALLOWED",
        "not for this caller",
    ))
    .await;
    let err = client
        .processor_token_create(ACCESS, "acc_1", Processor::Dwolla)
        .await
        .expect_err("refused");
    assert_eq!(err.error_type(), Some(&ErrorType::GatewayError));
}
