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
    let gateway = Gateway::start(config).await.expect("gateway");
    let http = reqwest::Client::new();
    let mut responses = String::new();
    let bodies = [
        serde_json::json!({"access_token": item.access_token, "account_id": item.accounts[0].account_id, "processor": "dwolla"}),
        serde_json::json!({"access_token": item.access_token}),
        serde_json::json!({"access_token": "access-sandbox-unknown-4444", "secret": "caller-sent-secret"}),
    ];
    for path in [
        "/processor/token/create",
        "/accounts/get",
        "/item/remove",
        "/institutions/get",
    ] {
        for body in &bodies {
            for token in [CALLER_TOKEN, "wrong-token-x"] {
                let response = http
                    .post(format!("{}{path}", gateway.url()))
                    .header("x-gateway-token", token)
                    .json(body)
                    .send()
                    .await
                    .expect("send");
                responses.push_str(&format!("{:?}\n", response.headers()));
                responses.push_str(&response.text().await.expect("body"));
                responses.push('\n');
            }
        }
    }
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
    assert_eq!(
        logs.lines().filter(|l| l.contains(" request ")).count(),
        24,
        "one line per request:\n{logs}"
    );
}
