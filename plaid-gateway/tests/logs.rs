//! The gateway's log lines and responses never contain the Plaid secret, a caller token, or
//! anything from a request body. One test in its own binary: it installs a global subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};

use plaid_emulator::Emulator;
use plaid_gateway::{Caller, Config, Gateway, hash_token};

const CALLER_TOKEN: &str = "caller-token-logs-5d1e";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_token_or_body_in_logs_or_responses() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let emulator = Emulator::builder()
        .credentials("gw-client", "gw-plaid-secret-91b2")
        .start()
        .await
        .expect("emulator");
    let item = emulator.add_item();
    let config = Config::new(
        emulator.base_url(),
        "gw-client",
        "gw-plaid-secret-91b2",
        vec![Caller::new("notebook", &hash_token(CALLER_TOKEN)).expect("caller")],
    );
    let gateway = Gateway::start(config.clone()).await.expect("gateway");
    let http = reqwest::Client::new();
    let mut responses = String::new();
    let mut sent = 0;
    let bodies = [
        serde_json::json!({"access_token": item.access_token, "account_id": item.accounts[0].account_id, "processor": "dwolla"}),
        serde_json::json!({"access_token": item.access_token}),
        serde_json::json!({"access_token": "access-sandbox-unknown-4444", "secret": "caller-sent-secret"}),
    ];
    // Both ways of presenting a caller token, right and wrong.
    let presented = [
        ("x-gateway-token", CALLER_TOKEN.to_string()),
        ("x-gateway-token", "wrong-token-x".to_string()),
        ("authorization", format!("Bearer {CALLER_TOKEN}")),
        ("authorization", "Bearer wrong-token-x".to_string()),
    ];
    for path in [
        "/processor/token/create",
        "/accounts/get",
        "/item/remove",
        "/institutions/get",
    ] {
        for body in &bodies {
            for (header, value) in &presented {
                let response = http
                    .post(format!("{}{path}", gateway.url()))
                    .header(*header, value)
                    .json(body)
                    .send()
                    .await
                    .expect("send");
                sent += 1;
                responses.push_str(&format!("{:?}\n", response.headers()));
                responses.push_str(&response.text().await.expect("body"));
                responses.push('\n');
            }
        }
    }
    // An upstream that echoes the request (the injected secret among it), with the access
    // token as its request id: withheld, a 502 of the gateway's own.
    for status in [400, 200] {
        emulator.inject(plaid_emulator::Fault::EchoRequest { status }, 1);
        let response = http
            .post(format!("{}/accounts/get", gateway.url()))
            .header("x-gateway-token", CALLER_TOKEN)
            .json(&bodies[1])
            .send()
            .await
            .expect("send");
        sent += 1;
        assert_eq!(response.status().as_u16(), 502, "an echo of {status}");
        let text = response.text().await.expect("body");
        assert!(text.contains("UPSTREAM_ANSWER_WITHHELD"), "{text}");
        responses.push_str(&text);
        responses.push('\n');
    }
    // The gateway's own refusals: 413, and 502/503/504 through gateways in front of a port
    // that refuses connections, a held upstream, and a slow one.
    let too_big = http
        .post(format!("{}/accounts/get", gateway.url()))
        .header("x-gateway-token", CALLER_TOKEN)
        .body(format!(
            r#"{{"access_token":"{}","pad":"{}"}}"#,
            item.access_token,
            "x".repeat(128 * 1024)
        ))
        .send()
        .await
        .expect("send");
    sent += 1;
    assert_eq!(too_big.status().as_u16(), 413);
    responses.push_str(&too_big.text().await.expect("body"));

    let held = tokio::net::TcpSocket::new_v4().expect("socket");
    held.bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let mut unreachable = config.clone();
    unreachable.upstream = format!("http://{}", held.local_addr().expect("addr"));
    let gate = plaid_emulator::Gate::new();
    let mut full = config.clone();
    full.concurrency = 1;
    let mut slow = config.clone();
    slow.upstream_timeout = std::time::Duration::from_millis(100);
    let unreachable = Gateway::start(unreachable).await.expect("gateway");
    let full = Gateway::start(full).await.expect("gateway");
    let slow = Gateway::start(slow).await.expect("gateway");
    let post = |url: String| {
        let http = http.clone();
        let body = bodies[1].clone();
        async move {
            let response = http
                .post(format!("{url}/accounts/get"))
                .header("x-gateway-token", CALLER_TOKEN)
                .json(&body)
                .send()
                .await
                .expect("send");
            (
                response.status().as_u16(),
                response.text().await.expect("body"),
            )
        }
    };
    let (status, text) = post(unreachable.url()).await;
    assert_eq!(status, 502, "{text}");
    responses.push_str(&text);
    emulator.inject(plaid_emulator::Fault::Hold(gate.clone()), 2);
    let before = emulator.request_count();
    let holder = tokio::spawn(post(full.url()));
    while emulator.request_count() == before {
        tokio::task::yield_now().await;
    }
    let (status, text) = post(full.url()).await;
    assert_eq!(status, 503, "{text}");
    responses.push_str(&text);
    let (status, text) = post(slow.url()).await;
    assert_eq!(status, 504, "{text}");
    responses.push_str(&text);
    gate.open();
    // Answered once released (400: the Item was removed above).
    assert_eq!(holder.await.expect("task").0, 400);
    sent += 4;
    drop(held);

    let logs = String::from_utf8(captured.0.lock().expect("logs").clone()).expect("utf8");
    assert!(
        logs.contains("caller=\"notebook\""),
        "requests are logged:\n{logs}"
    );
    assert!(
        logs.contains("operation=\"/processor/token/create\""),
        "{logs}"
    );
    assert!(logs.contains("status=401"), "{logs}");
    for secret in [
        "gw-plaid-secret-91b2",
        CALLER_TOKEN,
        "wrong-token-x",
        "caller-sent-secret",
        item.access_token.as_str(),
        "processor-sandbox-",
    ] {
        assert!(!logs.contains(secret), "`{secret}` in the logs:\n{logs}");
        if secret != "processor-sandbox-" && secret != item.access_token.as_str() {
            assert!(
                !responses.contains(secret),
                "`{secret}` in a response:\n{responses}"
            );
        }
    }
    for status in [413, 502, 503, 504] {
        assert!(
            logs.contains(&format!("status={status}")),
            "{status} logged:\n{logs}"
        );
    }
    // Every refusal's request id, as the caller got it, is in the log line, with the path.
    let ids: Vec<&str> = responses
        .match_indices("\"request_id\":\"gw-")
        .map(|(at, _)| &responses[at + 14..at + 14 + 15])
        .collect();
    assert!(ids.len() >= 10, "refusals seen: {ids:?}");
    for id in &ids {
        assert!(
            logs.contains(&format!("request_id=\"{id}\"")),
            "{id} is not logged:\n{logs}"
        );
    }
    assert!(logs.contains("path=\"/accounts/get\""), "{logs}");
    assert_eq!(
        logs.lines().filter(|l| l.contains(" request ")).count(),
        sent,
        "one line per request:\n{logs}"
    );
}
