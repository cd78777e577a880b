//! The gateway end to end: plaid-sdk in gateway mode → plaid-gateway → the emulator, and the
//! gateway's security and failure behaviour.

use std::time::Duration;

use plaid_emulator::{Emulator, Fault, Gate};
use plaid_gateway::{Caller, Config, Gateway, Quota, hash_token};
use plaid_sdk::{Environment, ErrorKind, PlaidClient, Processor, Product, RetryPolicy};

const CALLER_TOKEN: &str = "caller-token-7f3a9c";

/// Settings in front of `emulator` for `callers`, under the `/plaid` prefix.
fn config_for(emulator: &Emulator, callers: Vec<Caller>) -> Config {
    let mut config = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        callers,
    );
    config.path_prefix = "/plaid".into();
    config
}

/// The caller most tests use: `web-app`, with [`CALLER_TOKEN`].
fn web_app() -> Caller {
    Caller::new("web-app", &hash_token(CALLER_TOKEN)).expect("caller")
}

async fn setup(tune: impl FnOnce(&mut Config)) -> (Emulator, Gateway) {
    let emulator = Emulator::start().await.expect("emulator");
    let mut config = config_for(&emulator, vec![web_app()]);
    tune(&mut config);
    let gateway = Gateway::start(config).await.expect("gateway");
    (emulator, gateway)
}

/// Sends one request through the gateway that upstream holds until the returned gate opens;
/// returns once it has reached upstream (so it is surely in flight), with its status to come.
async fn held_request(
    emulator: &Emulator,
    gateway: &Gateway,
    token: &str,
    body: String,
) -> (Gate, tokio::task::JoinHandle<u16>) {
    let gate = Gate::new();
    emulator.inject(Fault::Hold(gate.clone()), 1);
    let before = emulator.request_count();
    let (url, token) = (gateway.url(), token.to_string());
    let status = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/plaid/accounts/get"))
            .header("x-gateway-token", token)
            .body(body)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    });
    while emulator.request_count() == before {
        tokio::task::yield_now().await;
    }
    (gate, status)
}

fn sdk(gateway: &Gateway, token: &str) -> PlaidClient {
    PlaidClient::builder()
        .environment(Environment::custom(&format!("{}/plaid", gateway.url())).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", token)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client")
}

async fn raw(
    gateway: &Gateway,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", gateway.url()))
        .body(body.to_string());
    for (n, v) in headers {
        request = request.header(*n, *v);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

#[tokio::test]
async fn every_sdk_operation_works_through_the_gateway() {
    let (emulator, gateway) = setup(|_| {}).await;
    let client = sdk(&gateway, CALLER_TOKEN);
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .await
        .expect("public token");
    let item = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("exchange");
    let accounts = client
        .accounts_get(&item.access_token)
        .await
        .expect("accounts");
    let account = accounts.accounts[0].account_id.as_str();
    let created = client
        .processor_token_create(&item.access_token, account, Processor::Dwolla)
        .await
        .expect("token");
    client
        .processor_stripe_bank_account_token_create(&item.access_token, account)
        .await
        .expect("stripe");
    client
        .processor_token_permissions_set(&created.processor_token, [Product::Auth])
        .await
        .expect("set");
    let read = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect("get");
    assert_eq!(read.products, [Product::Auth]);
    client
        .item_remove(&item.access_token)
        .await
        .expect("remove");
    // Plaid's errors come back unchanged, request id included.
    let err = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect_err("revoked");
    assert_eq!(err.error_code(), Some("INVALID_PROCESSOR_TOKEN"));
    assert!(err.request_id().is_some());

    for r in emulator.requests() {
        assert_eq!(r.header("plaid-client-id"), Some(emulator.client_id()));
        assert_eq!(r.header("plaid-secret"), Some(emulator.secret()));
        assert_eq!(r.header("plaid-version"), Some("2020-09-14"));
        assert_eq!(
            r.header("x-gateway-token"),
            None,
            "the caller's token never goes upstream"
        );
    }
    assert_eq!(emulator.request_count(), 9);
}

#[tokio::test]
async fn a_callers_plaid_version_goes_upstream_and_a_malformed_one_is_refused() {
    let (emulator, gateway) = setup(|_| {}).await;
    let item = emulator.add_item();
    let body = serde_json::json!({ "access_token": item.access_token }).to_string();
    let send = async |version: Option<&str>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/plaid/accounts/get", gateway.url()))
            .header("x-gateway-token", CALLER_TOKEN)
            .body(body.clone());
        if let Some(v) = version {
            request = request.header("plaid-version", v);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let reply: serde_json::Value = response.json().await.expect("json");
        (status, reply)
    };
    let (status, _) = send(Some("2021-03-15")).await;
    assert_eq!(status, 200);
    let (status, _) = send(None).await;
    assert_eq!(status, 200);
    let seen: Vec<Option<String>> = emulator
        .requests()
        .iter()
        .map(|r| r.header("plaid-version").map(str::to_string))
        .collect();
    assert_eq!(
        seen,
        [
            Some("2021-03-15".to_string()),
            Some("2020-09-14".to_string())
        ],
        "the caller's version, then the gateway's default"
    );
    for bad in ["latest", "2021-3-15", "2021-03-15; x=1"] {
        let (status, reply) = send(Some(bad)).await;
        assert_eq!(
            (
                status,
                reply["error_type"].as_str(),
                reply["error_code"].as_str()
            ),
            (400, Some("GATEWAY_ERROR"), Some("INVALID_PLAID_VERSION")),
            "{bad}"
        );
    }
    assert_eq!(
        emulator.request_count(),
        2,
        "nothing malformed went upstream"
    );
}

#[tokio::test]
async fn callers_reach_only_their_operations_and_rotate_tokens() {
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let caller = |token: &str| Caller::new("etl", &hash_token(token)).expect("caller");
    let start = |callers: Vec<Caller>| Gateway::start(config_for(&emulator, callers));
    // During a rotation the caller has two tokens; it may reach /item/get only.
    let gateway = start(vec![
        caller("old-token").with_operations(["/item/get".to_string()]),
        caller("new-token").with_operations(["/item/get".to_string()]),
    ])
    .await
    .expect("gateway");
    let body = serde_json::json!({ "access_token": item.access_token }).to_string();
    for token in ["old-token", "new-token"] {
        let (status, _) = raw(
            &gateway,
            "/plaid/item/get",
            &[("x-gateway-token", token)],
            &body,
        )
        .await;
        assert_eq!(status, 200, "{token}");
        let (status, reply) = raw(
            &gateway,
            "/plaid/accounts/get",
            &[("x-gateway-token", token)],
            &body,
        )
        .await;
        assert_eq!(
            (status, reply["error_code"].as_str()),
            (403, Some("OPERATION_NOT_ALLOWED")),
            "{token}"
        );
    }
    assert_eq!(
        emulator.request_count(),
        2,
        "refused calls never went upstream"
    );
    // After it: the old token is gone.
    let gateway = start(vec![caller("new-token")]).await.expect("gateway");
    let (status, _) = raw(
        &gateway,
        "/plaid/item/get",
        &[("x-gateway-token", "old-token")],
        &body,
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", "new-token")],
        &body,
    )
    .await;
    assert_eq!(
        status, 200,
        "without a list of its own, the gateway's list applies"
    );
}

#[tokio::test]
async fn a_reload_applies_to_the_next_requests_and_drops_none_in_flight() {
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let config = |token: &str| {
        config_for(
            &emulator,
            vec![Caller::new("app", &hash_token(token)).expect("caller")],
        )
    };
    let gateway = Gateway::start(config("first-token"))
        .await
        .expect("gateway");
    let body = serde_json::json!({ "access_token": item.access_token }).to_string();
    // A request in flight, held upstream, when the settings change.
    let (gate, in_flight) = held_request(&emulator, &gateway, "first-token", body.clone()).await;
    gateway.reload(config("second-token")).expect("reload");
    let auth = |t: &'static str| [("x-gateway-token", t)];
    let (status, _) = raw(&gateway, "/plaid/accounts/get", &auth("first-token"), &body).await;
    assert_eq!(status, 401, "the old token is gone for new requests");
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &auth("second-token"),
        &body,
    )
    .await;
    assert_eq!(status, 200);
    gate.open();
    assert_eq!(
        in_flight.await.expect("task"),
        200,
        "the request in flight finished"
    );

    // Unusable settings are refused; the running ones stay.
    let mut bad = config("third-token");
    bad.upstream = "http://user:pw@127.0.0.1:1".into();
    assert!(gateway.reload(bad).is_err());
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &auth("second-token"),
        &body,
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_spent_quota_is_a_429_with_retry_after_and_reaches_nothing() {
    let (emulator, gateway) = setup(|c| {
        c.quotas = vec![Quota::parse("web-app:/accounts/get=2/min").expect("quota")];
    })
    .await;
    let item = emulator.add_item();
    let body = serde_json::json!({ "access_token": item.access_token }).to_string();
    let auth = [("x-gateway-token", CALLER_TOKEN)];
    for _ in 0..2 {
        let (status, _) = raw(&gateway, "/plaid/accounts/get", &auth, &body).await;
        assert_eq!(status, 200);
    }
    let response = reqwest::Client::new()
        .post(format!("{}/plaid/accounts/get", gateway.url()))
        .header("x-gateway-token", CALLER_TOKEN)
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    // One token comes back every 30 s.
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    let reply: serde_json::Value = response.json().await.expect("json");
    assert_eq!(reply["error_type"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(
        emulator.request_count(),
        2,
        "the refused request never went upstream"
    );
    // A reload, even of the very same settings, refills nothing.
    let mut same = config_for(&emulator, vec![web_app()]);
    same.quotas = vec![Quota::parse("web-app:/accounts/get=2/min").expect("quota")];
    gateway.reload(same).expect("reload");
    let (status, _) = raw(&gateway, "/plaid/accounts/get", &auth, &body).await;
    assert_eq!(status, 429, "the bucket kept its state across the reload");
    // Another operation has no quota of its own.
    let (status, _) = raw(&gateway, "/plaid/item/get", &auth, &body).await;
    assert_eq!(status, 200);
    // The SDK reads the gateway's 429 as a retryable error with its delay.
    let err = sdk(&gateway, CALLER_TOKEN)
        .accounts_get(item.access_token.as_str())
        .await
        .expect_err("429");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    assert!(err.retry_after().is_some_and(|d| d.as_secs() >= 1));
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_allowed() {
    let allowed = "https://app.example.com";
    let (emulator, gateway) = setup(|c| {
        c.cors_origins = [allowed.to_string()].into_iter().collect();
    })
    .await;
    let (_, closed) = setup(|_| {}).await;
    let item = emulator.add_item();
    let http = reqwest::Client::new();
    let preflight = |url: String, origin: &'static str| {
        let http = http.clone();
        async move {
            http.request(
                reqwest::Method::OPTIONS,
                format!("{url}/plaid/accounts/get"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-gateway-token, content-type",
            )
            .send()
            .await
            .expect("preflight")
        }
    };
    let ok = preflight(gateway.url(), allowed).await;
    assert!(ok.status().is_success(), "{}", ok.status());
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(allowed)
    );
    assert!(
        ok.headers()
            .get("access-control-allow-headers")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|h| h.contains("x-gateway-token"))
    );
    assert!(
        ok.headers()
            .get("access-control-allow-methods")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.contains("POST"))
    );
    for (url, origin) in [
        (gateway.url(), "https://evil.example"),
        (closed.url(), allowed),
    ] {
        let refused = preflight(url, origin).await;
        assert!(
            refused
                .headers()
                .get("access-control-allow-origin")
                .is_none()
        );
    }
    assert_eq!(emulator.request_count(), 0, "no preflight went upstream");
    let call = http
        .post(format!("{}/plaid/item/get", gateway.url()))
        .header("origin", allowed)
        .header("x-gateway-token", CALLER_TOKEN)
        .body(serde_json::json!({ "access_token": item.access_token }).to_string())
        .send()
        .await
        .expect("call");
    assert_eq!(call.status().as_u16(), 200);
    assert_eq!(
        call.headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(allowed)
    );
}

#[tokio::test]
async fn every_reply_carries_the_security_headers() {
    let (emulator, gateway) = setup(|_| {}).await;
    let item = emulator.add_item();
    let http = reqwest::Client::new();
    let replies = [
        http.get(format!("{}/healthz", gateway.url())).send().await,
        http.post(format!("{}/plaid/accounts/get", gateway.url()))
            .body("{}")
            .send()
            .await,
        http.post(format!("{}/plaid/accounts/get", gateway.url()))
            .header("x-gateway-token", CALLER_TOKEN)
            .body(serde_json::json!({ "access_token": item.access_token }).to_string())
            .send()
            .await,
    ];
    for reply in replies {
        let reply = reply.expect("send");
        let h = reply.headers();
        assert_eq!(
            (
                h.get("x-content-type-options")
                    .and_then(|v| v.to_str().ok()),
                h.get("cache-control").and_then(|v| v.to_str().ok()),
                h.get("referrer-policy").and_then(|v| v.to_str().ok()),
            ),
            (Some("nosniff"), Some("no-store"), Some("no-referrer")),
            "{} {:?}",
            reply.status(),
            h
        );
        assert_eq!(
            h.get("content-security-policy")
                .and_then(|v| v.to_str().ok()),
            Some(
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                 img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            )
        );
    }
}

#[tokio::test]
async fn the_console_is_served_without_a_token_unless_turned_off() {
    let http = reqwest::Client::new();
    let (_emulator, gateway) = setup(|_| {}).await;
    for (path, content_type) in [
        ("/console", "text/html; charset=utf-8"),
        ("/console/app.js", "text/javascript; charset=utf-8"),
        ("/console/app.css", "text/css; charset=utf-8"),
        ("/console/operations.json", "application/json"),
    ] {
        let reply = http
            .get(format!("{}{path}", gateway.url()))
            .send()
            .await
            .expect("send");
        assert_eq!(reply.status(), 200, "{path}");
        assert_eq!(
            reply
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some(content_type),
            "{path}"
        );
    }
    let page = http
        .get(format!("{}/console", gateway.url()))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("page");
    assert!(page.contains(r#"<meta name="plaid-gateway-prefix" content="/plaid">"#));
    assert!(
        page.contains("/processor/token/create"),
        "the allowed operations are listed"
    );

    let (_emulator, gateway) = setup(|c| c.console = false).await;
    for path in ["/console", "/console/app.js", "/console/operations.json"] {
        let reply = http
            .get(format!("{}{path}", gateway.url()))
            .send()
            .await
            .expect("send");
        assert_eq!(
            reply.status(),
            401,
            "{path} is just another unauthenticated request"
        );
    }
}

#[tokio::test]
async fn a_caller_cannot_override_the_injected_credentials() {
    let (emulator, gateway) = setup(|_| {}).await;
    let item = emulator.add_item();
    let body = serde_json::json!({
        "client_id": "attacker-id", "secret": "attacker-secret",
        "access_token": item.access_token, "account_id": item.accounts[0].account_id, "processor": "dwolla"
    })
    .to_string();
    let (status, reply) = raw(
        &gateway,
        "/plaid/processor/token/create",
        &[
            ("x-gateway-token", CALLER_TOKEN),
            ("plaid-client-id", "attacker-id"),
            ("PLAID-SECRET", "attacker-secret"),
            ("content-type", "application/json"),
        ],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let received = &emulator.requests()[0];
    assert_eq!(
        received.header("plaid-client-id"),
        Some(emulator.client_id())
    );
    assert_eq!(received.header("plaid-secret"), Some(emulator.secret()));
    let forwarded = received.json().expect("json");
    assert!(
        forwarded.get("client_id").is_none() && forwarded.get("secret").is_none(),
        "{forwarded}"
    );
    assert_eq!(
        received
            .headers
            .iter()
            .filter(|(n, _)| n == "plaid-secret")
            .count(),
        1
    );
}

#[tokio::test]
async fn unauthenticated_callers_never_reach_upstream() {
    let (emulator, gateway) = setup(|_| {}).await;
    for headers in [
        vec![],
        vec![("x-gateway-token", "wrong")],
        vec![("authorization", "Bearer wrong")],
        vec![("x-gateway-token", "")],
    ] {
        let (status, reply) = raw(&gateway, "/plaid/accounts/get", &headers, "{}").await;
        assert_eq!(status, 401, "{headers:?}");
        assert_eq!(
            (reply["error_type"].as_str(), reply["error_code"].as_str()),
            (Some("GATEWAY_ERROR"), Some("UNAUTHENTICATED"))
        );
    }
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("authorization", &format!("Bearer {CALLER_TOKEN}"))],
        "{}",
    )
    .await;
    assert_eq!(
        status, 400,
        "a bearer token works too (then the emulator refuses the empty body)"
    );
    assert_eq!(emulator.request_count(), 1);

    let err = sdk(&gateway, "not-a-caller")
        .accounts_get("access-sandbox-x")
        .await
        .expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert_eq!(
        err.error_code(),
        Some("UNAUTHENTICATED"),
        "the SDK reads the gateway's refusal"
    );
    assert_eq!(emulator.request_count(), 1);
}

#[tokio::test]
async fn no_path_spelling_reaches_an_operation_outside_the_allow_list() {
    let (emulator, gateway) = setup(|c| {
        c.operations = ["/processor/token/create".to_string()]
            .into_iter()
            .collect();
    })
    .await;
    let auth = [("x-gateway-token", CALLER_TOKEN)];
    for path in [
        "/plaid/item/remove",
        "/plaid/processor/token/create/../../../item/remove",
        "/plaid/processor/token/../../item/remove",
        "/plaid//item/remove",
        "/plaid/%69tem/remove",
        "/plaid/item%2Fremove",
        "/plaid/processor/token/create%2F..%2F..%2F..%2Fitem%2Fremove",
        "/plaid/ITEM/REMOVE",
        "/plaid/processor/token/create/",
        "/plaid/processor/token/create?x=1",
        "/item/remove",
        "/plaid/./item/remove",
    ] {
        let (status, reply) = raw(&gateway, path, &auth, "{}").await;
        assert_eq!(
            (status, reply["error_code"].as_str()),
            (403, Some("OPERATION_NOT_ALLOWED")),
            "{path}: {reply}"
        );
    }
    let get = reqwest::Client::new()
        .get(format!("{}/plaid/processor/token/create", gateway.url()))
        .header("x-gateway-token", CALLER_TOKEN)
        .send()
        .await
        .expect("get");
    assert_eq!(get.status().as_u16(), 403);
    assert_eq!(emulator.request_count(), 0, "nothing reached upstream");
}

#[tokio::test]
async fn the_gateways_own_failures_have_their_statuses() {
    // Upstream unreachable: a port held bound but not listening refuses every connection,
    // and no other test can take it meanwhile.
    let held = tokio::net::TcpSocket::new_v4().expect("socket");
    held.bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let closed = held.local_addr().expect("addr").port();
    let mut config = Config::new(
        &format!("http://127.0.0.1:{closed}"),
        "id",
        "secret",
        vec![Caller::new("web-app", &hash_token(CALLER_TOKEN)).expect("caller")],
    );
    config.max_body_bytes = 1024;
    let gateway = Gateway::start(config).await.expect("gateway");
    let auth = [("x-gateway-token", CALLER_TOKEN)];
    let (status, reply) = raw(&gateway, "/accounts/get", &auth, "{}").await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (502, Some("UPSTREAM_UNREACHABLE"))
    );
    let (status, reply) = raw(&gateway, "/accounts/get", &auth, &"x".repeat(4096)).await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (413, Some("BODY_TOO_LARGE"))
    );
    let health = reqwest::get(format!("{}/healthz", gateway.url()))
        .await
        .expect("health");
    assert_eq!(health.status().as_u16(), 200);
    drop(held);

    // The gateway full: its one slot is held by a request that upstream keeps until the gate
    // opens, so the second request surely finds it taken.
    let (emulator, gateway) = setup(|c| c.concurrency = 1).await;
    // Held upstream, it holds the only slot.
    let (gate, holder) = held_request(&emulator, &gateway, CALLER_TOKEN, "{}".into()).await;
    let (status, reply) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", CALLER_TOKEN)],
        "{}",
    )
    .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (503, Some("OVERLOADED"))
    );
    gate.open();
    assert_eq!(
        holder.await.expect("task"),
        400,
        "the held request was answered (the emulator refuses its empty body)"
    );
    assert_eq!(
        emulator.request_count(),
        1,
        "the refused request never went upstream"
    );

    // Upstream too slow: a request held past the gateway's upstream timeout.
    let (emulator, gateway) = setup(|c| c.upstream_timeout = Duration::from_millis(200)).await;
    let gate = Gate::new();
    emulator.inject(Fault::Hold(gate.clone()), 10);
    let (status, reply) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", CALLER_TOKEN)],
        "{}",
    )
    .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (504, Some("UPSTREAM_TIMEOUT"))
    );
    // Through the SDK, the gateway's 504 is a retryable error with its code.
    let err = sdk(&gateway, CALLER_TOKEN)
        .accounts_get("access-sandbox-x")
        .await
        .expect_err("504");
    assert!(matches!(err.kind(), ErrorKind::Api(_)), "{err:?}");
    assert_eq!(
        (err.status(), err.error_code()),
        (Some(504), Some("UPSTREAM_TIMEOUT"))
    );
    assert!(err.is_retryable());
    gate.open();
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    // Several serving threads, and requests held on several connections: whichever thread
    // accepted each, all of them finish.
    let (emulator, gateway) = setup(|c| c.threads = 4).await;
    let item = emulator.add_item();
    let body = serde_json::json!({ "access_token": item.access_token }).to_string();
    let mut held = Vec::new();
    for _ in 0..8 {
        held.push(held_request(&emulator, &gateway, CALLER_TOKEN, body.clone()).await);
    }
    let url = gateway.url();
    let shutdown = tokio::spawn(gateway.shutdown());
    // The gateway stops accepting while the held requests are still in flight.
    while reqwest::get(format!("{url}/healthz")).await.is_ok() {
        tokio::task::yield_now().await;
    }
    for (gate, in_flight) in held {
        assert!(!in_flight.is_finished(), "the request is still held");
        gate.open();
        assert_eq!(
            in_flight.await.expect("task"),
            200,
            "the request in flight completed"
        );
    }
    shutdown.await.expect("shutdown");
    assert!(
        reqwest::get(format!("{url}/healthz")).await.is_err(),
        "no new connection after shutdown"
    );
}

/// A dropped gateway stops at once on every serving thread: the listening socket, which each
/// thread holds a handle on, closes.
#[tokio::test]
async fn a_dropped_gateway_stops_listening_on_every_thread() {
    let (_emulator, gateway) = setup(|c| c.threads = 4).await;
    let addr = gateway.url().trim_start_matches("http://").to_string();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_ok());
    drop(gateway);
    let refused = tokio::time::timeout(Duration::from_secs(10), async {
        while tokio::net::TcpStream::connect(&addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        refused.is_ok(),
        "still accepting after the gateway was dropped"
    );
}

#[tokio::test]
async fn a_bounded_load_has_no_failures() {
    let (emulator, gateway) = setup(|c| c.threads = 3).await;
    let item = emulator.add_item();
    let client = sdk(&gateway, CALLER_TOKEN);
    let mut tasks = tokio::task::JoinSet::new();
    let per_task = 2_000 / 64;
    for _ in 0..64 {
        let client = client.clone();
        let token = item.access_token.clone();
        let account = item.accounts[0].account_id.clone();
        tasks.spawn(async move {
            let mut failures = 0;
            for _ in 0..per_task {
                if client
                    .processor_token_create(token.as_str(), account.as_str(), "dwolla")
                    .await
                    .is_err()
                {
                    failures += 1;
                }
            }
            failures
        });
    }
    let mut failures = 0;
    while let Some(result) = tasks.join_next().await {
        failures += result.expect("task");
    }
    assert_eq!(failures, 0);
    assert_eq!(emulator.processor_token_count(), 64 * per_task);
}

/// HTTP clients normalize `..` and `.` before sending; a raw request shows the gateway what an
/// attacker can really send.
#[tokio::test]
async fn raw_traversal_paths_are_refused_as_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (emulator, gateway) = setup(|c| {
        c.operations = ["/processor/token/create".to_string()]
            .into_iter()
            .collect();
    })
    .await;
    let addr = gateway.url().trim_start_matches("http://").to_string();
    for path in [
        "/plaid/processor/token/create/../../../item/remove",
        "/plaid/processor/token/create/..%2F..%2F..%2Fitem%2Fremove",
        "/plaid/./processor/token/create",
        "/plaid/processor/./token/create",
    ] {
        let mut stream = tokio::net::TcpStream::connect(&addr)
            .await
            .expect("connect");
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: gw\r\nx-gateway-token: {CALLER_TOKEN}\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.expect("read");
        assert!(reply.starts_with("HTTP/1.1 403"), "{path}: {reply}");
    }
    assert_eq!(emulator.request_count(), 0);
}

/// An upstream that answers every request with a redirect to `location` is passed through as
/// it is: the gateway follows no redirect, which would carry the injected credentials to the
/// host it names.
#[tokio::test]
async fn upstream_redirects_are_returned_not_followed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Where the redirect points: counts the connections it gets.
    let elsewhere = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let location = format!("http://{}/stolen", elsewhere.local_addr().expect("addr"));
    let visits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = visits.clone();
    tokio::spawn(async move {
        while let Ok((_stream, _)) = elsewhere.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let upstream_url = format!("http://{}", upstream.local_addr().expect("addr"));
    let answer = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
    );
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = upstream.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                // One request: its head, then its content-length bytes.
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length: usize = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            let _ = stream.write_all(answer.as_bytes()).await;
                            seen.clear();
                        }
                    }
                }
            });
        }
    });
    let config = Config::new(
        &upstream_url,
        "id",
        "secret",
        vec![Caller::new("web-app", &hash_token(CALLER_TOKEN)).expect("caller")],
    );
    let gateway = Gateway::start(config).await.expect("gateway");
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/accounts/get", gateway.url()))
        .header("x-gateway-token", CALLER_TOKEN)
        .body(r#"{"access_token":"access-sandbox-x"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 307, "the upstream's status");
    assert_eq!(
        visits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the redirect's target was never contacted"
    );
}

#[test]
fn https_upstreams_are_accepted() {
    let config = Config::new(
        "https://sandbox.plaid.com",
        "id",
        "secret",
        vec![Caller::new("web-app", &hash_token(CALLER_TOKEN)).expect("caller")],
    );
    plaid_gateway::Settings::new(config).expect("TLS to the upstream can be set up");
}

// Hostile clients: slow bodies, one caller's flood, idle and malformed connections.

/// Opens a connection that sends a request's headers and `sent` bytes of a body announced
/// as 100, then nothing more.
async fn slow_body(gateway: &Gateway, token: &str, sent: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = slow_body_head(gateway, token, "").await;
    stream.write_all(sent.as_bytes()).await.expect("write");
    stream
}

/// Opens a connection and sends a request's headers (`extra` among them), announcing a body
/// of 100 bytes.
async fn slow_body_head(gateway: &Gateway, token: &str, extra: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let addr = gateway.url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /plaid/accounts/get HTTP/1.1\r\nhost: gw\r\nx-gateway-token: {token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\nconnection: close\r\n{extra}\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream
}

/// Opens a connection that sends a request's headers, announcing a body of 100 bytes with
/// `Expect: 100-continue`, and returns once the gateway asks for the body: the request has
/// been authenticated and its body is being awaited.
async fn body_awaited(gateway: &Gateway, token: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncReadExt;
    let mut stream = slow_body_head(gateway, token, "expect: 100-continue\r\n").await;
    let mut seen = Vec::new();
    while !seen.ends_with(b"\r\n\r\n") {
        let byte = tokio::time::timeout(Duration::from_secs(10), stream.read_u8())
            .await
            .expect("the gateway asks for the body in time")
            .expect("read");
        seen.push(byte);
    }
    assert!(seen.starts_with(b"HTTP/1.1 100"), "{seen:?}");
    stream
}

/// Everything the server sends until it closes the connection (bounded by `limit`, so a
/// server that never closes fails the test instead of hanging it).
async fn read_until_closed(stream: &mut tokio::net::TcpStream, limit: Duration) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    tokio::time::timeout(limit, stream.read_to_end(&mut text))
        .await
        .expect("the gateway closed the connection")
        .expect("read");
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn slow_bodies_hold_no_slot_and_end_in_a_408() {
    const SLOW: &str = "slow-caller-token-1";
    let (emulator, gateway) = setup(|c| {
        c.concurrency = 4;
        c.caller_concurrency = 2;
        c.body_timeout = Duration::from_millis(300);
        c.callers
            .push(Caller::new("slowpoke", &hash_token(SLOW)).expect("caller"));
    })
    .await;
    let item = emulator.add_item();
    // More slow connections than the whole gateway has slots.
    let mut slow = Vec::new();
    for _ in 0..8 {
        slow.push(slow_body(&gateway, SLOW, "{\"a").await);
    }
    let accounts = sdk(&gateway, CALLER_TOKEN)
        .accounts_get(item.access_token.as_str())
        .await
        .expect("another caller is served meanwhile");
    assert_eq!(accounts.accounts.len(), 2);
    for stream in &mut slow {
        let answer = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("\"BODY_TIMEOUT\""), "{answer}");
    }
    assert_eq!(emulator.request_count(), 1, "nothing slow went upstream");
}

#[tokio::test]
async fn a_revoked_tokens_requests_in_flight_end_at_their_timeouts() {
    use tokio::io::AsyncWriteExt;
    const REVOKED: &str = "revoked-caller-token-1";
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let config = |with_revoked: bool| {
        let mut c = config_for(&emulator, vec![web_app()]);
        if with_revoked {
            c.callers
                .push(Caller::new("revoked", &hash_token(REVOKED)).expect("caller"));
        }
        c.concurrency = 4;
        c.caller_concurrency = 2;
        c.body_timeout = Duration::from_millis(300);
        c.upstream_timeout = Duration::from_millis(300);
        c
    };
    let gateway = Gateway::start(config(true)).await.expect("gateway");
    let body = format!(r#"{{"access_token":"{}"}}"#, item.access_token);
    let padded = format!("{body:<100}");
    // The caller's whole share held upstream, one body half sent, one that never ends.
    let (first, held_one) = held_request(&emulator, &gateway, REVOKED, body.clone()).await;
    let (second, held_two) = held_request(&emulator, &gateway, REVOKED, body.clone()).await;
    let mut arriving = body_awaited(&gateway, REVOKED).await;
    let mut stalled = body_awaited(&gateway, REVOKED).await;

    gateway.reload(config(false)).expect("reload");
    let upstream_before = emulator.request_count();
    arriving
        .write_all(padded.as_bytes())
        .await
        .expect("the rest of the body");
    let answer = read_until_closed(&mut arriving, Duration::from_secs(10)).await;
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "a body completed after the revocation is refused: {answer}"
    );
    assert_eq!(
        emulator.request_count(),
        upstream_before,
        "and goes nowhere"
    );
    let answer = read_until_closed(&mut stalled, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(
        (held_one.await.expect("one"), held_two.await.expect("two")),
        (504, 504),
        "the held requests end at the upstream timeout"
    );
    first.open();
    second.open();
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", REVOKED)],
        &body,
    )
    .await;
    assert_eq!(status, 401, "the revoked token opens nothing new");
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", CALLER_TOKEN)],
        &body,
    )
    .await;
    assert_eq!(status, 200, "the other caller is served");
}

#[tokio::test]
async fn one_caller_cannot_take_every_slot() {
    const GREEDY: &str = "greedy-caller-token-1";
    let (emulator, gateway) = setup(|c| {
        c.concurrency = 4;
        c.caller_concurrency = 2;
        c.callers
            .push(Caller::new("greedy", &hash_token(GREEDY)).expect("caller"));
    })
    .await;
    let item = emulator.add_item();
    let body = format!(r#"{{"access_token":"{}"}}"#, item.access_token);
    let (first, one) = held_request(&emulator, &gateway, GREEDY, body.clone()).await;
    let (second, two) = held_request(&emulator, &gateway, GREEDY, body.clone()).await;
    let (status, reply) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", GREEDY)],
        &body,
    )
    .await;
    assert_eq!(
        (status, reply["error_code"].as_str()),
        (503, Some("OVERLOADED"))
    );
    let (status, _) = raw(
        &gateway,
        "/plaid/accounts/get",
        &[("x-gateway-token", CALLER_TOKEN)],
        &body,
    )
    .await;
    assert_eq!(status, 200, "the other caller still has the rest");
    first.open();
    second.open();
    assert_eq!(
        (one.await.expect("one"), two.await.expect("two")),
        (200, 200)
    );
}

#[tokio::test]
async fn idle_and_silent_connections_are_closed() {
    use tokio::io::AsyncWriteExt;
    let (_emulator, gateway) = setup(|c| c.header_timeout = Duration::from_millis(200)).await;
    let addr = gateway.url().trim_start_matches("http://").to_string();
    // Connected, never a byte sent.
    let mut silent = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    assert_eq!(
        read_until_closed(&mut silent, Duration::from_secs(10)).await,
        ""
    );
    // Half a request line.
    let mut half = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    half.write_all(b"POST /plaid/accounts/get HT")
        .await
        .expect("write");
    read_until_closed(&mut half, Duration::from_secs(10)).await;
    // Idle after a complete request on a kept-alive connection.
    let mut kept = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    kept.write_all(b"GET /healthz HTTP/1.1\r\nhost: gw\r\n\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut kept, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn a_malformed_chunked_body_is_a_400() {
    use tokio::io::AsyncWriteExt;
    let (emulator, gateway) = setup(|_| {}).await;
    let addr = gateway.url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let request = format!(
        "POST /plaid/accounts/get HTTP/1.1\r\nhost: gw\r\nx-gateway-token: {CALLER_TOKEN}\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let answer = read_until_closed(&mut stream, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("\"INVALID_BODY\""), "{answer}");
    assert_eq!(emulator.request_count(), 0);
}

/// One request written as `wire` on a new connection, and its reply: the status line, the
/// headers but `date` (sorted), and the body as JSON without its `request_id`.
async fn exchange(
    gateway: &Gateway,
    wire: String,
) -> (String, Vec<(String, String)>, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = gateway.url().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(wire.as_bytes()).await.expect("write");
    let mut read = Vec::new();
    let (head, length) = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed before a whole reply: {read:?}");
        read.extend_from_slice(&chunk[..n]);
        if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(read[..at].to_vec()).expect("head");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|n| n.parse().ok())
                .expect("a content-length");
            read.drain(..at + 4);
            break (head, length);
        }
    };
    while read.len() < length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.expect("read");
        assert!(n > 0, "closed mid-body");
        read.extend_from_slice(&chunk[..n]);
    }
    let mut lines = head.lines();
    let status = lines.next().expect("status line").to_string();
    let mut headers: Vec<(String, String)> = lines
        .map(|l| {
            let (name, value) = l.split_once(':').expect("a header");
            (name.to_ascii_lowercase(), value.trim().to_string())
        })
        .filter(|(name, _)| name != "date")
        .collect();
    headers.sort();
    let mut body: serde_json::Value = serde_json::from_slice(&read[..length]).expect("JSON");
    if let Some(fields) = body.as_object_mut() {
        assert!(
            fields.remove("request_id").is_some(),
            "a request id: {fields:?}"
        );
    }
    (status, headers, body)
}

#[tokio::test]
async fn both_http_paths_answer_alike() {
    let (emulator, gateway) = setup(|c| {
        c.quotas = vec![Quota::parse("web-app:/item/get=1/min").expect("quota")];
    })
    .await;
    let item = emulator.add_item();
    let accounts = serde_json::json!({ "access_token": item.access_token }).to_string();
    let token = format!("x-gateway-token: {CALLER_TOKEN}\r\n");
    // A request as the gateway's own path reads it (a length), and as hyper does (chunked).
    let by_length = |path: &str, headers: &str, body: &str| {
        format!(
            "POST {path} HTTP/1.1\r\nhost: gw\r\n{headers}content-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let chunked = |path: &str, headers: &str, body: &str| {
        let chunk = if body.is_empty() {
            String::new()
        } else {
            format!("{:x}\r\n{body}\r\n", body.len())
        };
        format!(
            "POST {path} HTTP/1.1\r\nhost: gw\r\n{headers}transfer-encoding: chunked\r\n\r\n{chunk}0\r\n\r\n"
        )
    };
    // The one request the quota allows.
    let spent = exchange(&gateway, by_length("/plaid/item/get", &token, &accounts)).await;
    assert!(spent.0.starts_with("HTTP/1.1 200"), "{spent:?}");
    let versioned = format!("{token}plaid-version: 2020-9-14\r\n");
    let cases: [(&str, &str, &str, &str); 5] = [
        ("/plaid/accounts/get", &token, &accounts, "200"),
        ("/plaid/accounts/get", "", &accounts, "401"),
        ("/plaid/accounts/get", &token, "[1]", "400"),
        ("/plaid/accounts/get", &versioned, &accounts, "400"),
        ("/plaid/item/get", &token, &accounts, "429"),
    ];
    for (path, headers, body, status) in cases {
        let ours = exchange(&gateway, by_length(path, headers, body)).await;
        let hypers = exchange(&gateway, chunked(path, headers, body)).await;
        assert!(
            ours.0.starts_with(&format!("HTTP/1.1 {status} ")),
            "{ours:?}"
        );
        assert_eq!(ours, hypers, "{path} {headers:?} {body}");
    }
}
