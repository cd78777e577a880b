//! The `webhook_receiver` example, run as users run it (`cargo run -p plaid-sdk --example
//! webhook_receiver`) against the emulator: it prints verified events for fire_webhook,
//! reset_login and webhook update as JSON lines, and refuses tampered variants with their
//! reasons (status and body to the sender, a line on stderr).

use std::process::Stdio;
use std::time::Duration;

use plaid_emulator::Emulator;
use plaid_sdk::types::SandboxItemFireWebhookRequestWebhookCode;
use plaid_sdk::{Environment, PlaidClient};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStderr, ChildStdout};

/// A guard against a hang: every wait below is for an event that must come.
const PATIENCE: Duration = Duration::from_secs(120);

async fn next_line<R: tokio::io::AsyncBufRead + Unpin>(lines: &mut Lines<R>, what: &str) -> String {
    tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("no {what} in time"))
        .expect("read")
        .unwrap_or_else(|| panic!("the receiver ended before {what}"))
}

async fn event(stdout: &mut Lines<BufReader<ChildStdout>>) -> Value {
    let line = next_line(stdout, "event line").await;
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON line: {e}: {line}"))
}

/// `cargo run` of the example on a free port, its keys fetched from `emulator`.
fn receiver_command(emulator: &Emulator) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO"));
    command
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "run",
            "-q",
            "-p",
            "plaid-sdk",
            "--example",
            "webhook_receiver",
            "--",
            "127.0.0.1:0",
        ])
        .env("PLAID_CLIENT_ID", emulator.client_id())
        .env("PLAID_SECRET", emulator.secret())
        .env("PLAID_ENV", emulator.base_url());
    command
}

/// The example, started against `emulator` with `settings` as extra environment variables:
/// the process, its stdout and stderr lines, and its webhook URL.
async fn start_receiver(
    emulator: &Emulator,
    settings: &[(&str, &str)],
) -> (
    tokio::process::Child,
    Lines<BufReader<ChildStdout>>,
    Lines<BufReader<ChildStderr>>,
    String,
) {
    let mut command = receiver_command(emulator);
    command
        .env_remove("PLAID_WEBHOOK_LISTEN")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in settings {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("start the receiver");
    let stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = next_line(&mut stderr, "the listening address").await;
        if let Some(url) = line.strip_prefix("listening on ") {
            break format!("{url}/plaid/webhook");
        }
    };
    (child, stdout, stderr, url)
}

#[tokio::test]
async fn the_receiver_prints_verified_events_and_refuses_tampered_ones() {
    let emulator = Emulator::start().await.expect("emulator");
    let (mut child, mut stdout, mut stderr, url) = start_receiver(&emulator, &[]).await;

    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .build()
        .expect("client");
    let item = emulator.add_item();

    client
        .item_webhook_update(&item.access_token)
        .webhook(url.clone())
        .await
        .expect("webhook set");
    let e = event(&mut stdout).await;
    assert_eq!(e["webhook_type"], "ITEM");
    assert_eq!(e["webhook_code"], "WEBHOOK_UPDATE_ACKNOWLEDGED");
    assert_eq!(e["item_id"], item.item_id.as_str());
    assert_eq!(e["kind"]["new_webhook_url"], url.as_str());

    client
        .sandbox_item_fire_webhook(
            &item.access_token,
            SandboxItemFireWebhookRequestWebhookCode::NewAccountsAvailable,
        )
        .await
        .expect("fired");
    let e = event(&mut stdout).await;
    assert_eq!(e["webhook_code"], "NEW_ACCOUNTS_AVAILABLE");

    client
        .sandbox_item_reset_login(&item.access_token)
        .await
        .expect("reset");
    let e = event(&mut stdout).await;
    assert_eq!(e["webhook_code"], "ERROR");
    assert_eq!(e["error"]["error_code"], "ITEM_LOGIN_REQUIRED");

    // Tampered variants, sent straight to the receiver.
    let body = br#"{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"i","environment":"sandbox"}"#;
    let jwt = emulator.sign_webhook(body);
    let (signing_input, _) = jwt.rsplit_once('.').expect("jwt");
    let other_signature = emulator
        .sign_webhook(b"{}")
        .rsplit_once('.')
        .expect("jwt")
        .1
        .to_string();
    let none_header = base64_url(br#"{"alg":"none","kid":"k"}"#);
    let claims = signing_input.split_once('.').expect("jwt").1;
    let http = reqwest::Client::new();
    let cases: Vec<Tampered<'_>> = vec![
        (
            "tampered body",
            Some(jwt.clone()),
            body.iter()
                .map(|b| if *b == b'i' { b'j' } else { *b })
                .collect(),
            401,
            "body_mismatch",
        ),
        (
            "tampered signature",
            Some(format!("{signing_input}.{other_signature}")),
            body.to_vec(),
            401,
            "bad_signature",
        ),
        (
            "alg none",
            Some(format!("{none_header}.{claims}.")),
            body.to_vec(),
            401,
            "algorithm",
        ),
        ("no header", None, body.to_vec(), 400, "missing_header"),
        (
            "not a JWT",
            Some("not-a-jwt".into()),
            body.to_vec(),
            401,
            "malformed",
        ),
        (
            "too old",
            Some(emulator.sign_webhook_issued_at(
                body,
                std::time::SystemTime::now() - Duration::from_secs(600),
            )),
            body.to_vec(),
            401,
            "too_old",
        ),
    ];
    for (what, header, body, status, name) in cases {
        let mut request = http.post(&url).body(body);
        if let Some(header) = header {
            request = request.header("plaid-verification", header);
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status().as_u16(), status, "{what}");
        let reply: Value = response.json().await.expect("json reply");
        assert_eq!(reply["error"], name, "{what}: {reply}");
        let line = next_line(&mut stderr, what).await;
        assert!(
            line.contains("webhook refused") && line.contains(&format!("reason=\"{name}\"")),
            "{what}: {line}"
        );
    }
    // The untampered original still verifies, after all that.
    let response = http
        .post(&url)
        .header("plaid-verification", jwt)
        .body(body.to_vec())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(event(&mut stdout).await["webhook_code"], "LOGIN_REPAIRED");
    let _ = child.kill().await;
}

/// What a case is called, the `Plaid-Verification` header (if any), the body, and the status
/// and refusal name the receiver must answer with.
type Tampered<'a> = (&'a str, Option<String>, Vec<u8>, u16, &'a str);

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Everything the receiver sends on `stream` until it closes the connection.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut text))
        .await
        .expect("the receiver closed the connection")
        .expect("read");
    String::from_utf8_lossy(&text).into_owned()
}

#[tokio::test]
async fn the_receiver_bounds_slow_and_silent_clients_and_caps_its_connections() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let emulator = Emulator::start().await.expect("emulator");
    let (mut child, _stdout, _stderr, url) = start_receiver(
        &emulator,
        &[
            ("PLAID_WEBHOOK_MAX_CONNECTIONS", "2"),
            ("PLAID_WEBHOOK_HEADER_TIMEOUT_MS", "300"),
            ("PLAID_WEBHOOK_RECEIVE_TIMEOUT_MS", "300"),
        ],
    )
    .await;
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .expect("address")
        .to_string();

    // A body that stops after 3 of its 100 bytes: a 408, and the connection ends.
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(b"POST /plaid/webhook HTTP/1.1\r\nhost: r\r\ncontent-length: 100\r\n\r\n{\"a")
        .await
        .expect("write");
    let answer = until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"timeout\""), "{answer}");

    // Silent connections are closed, with nothing said.
    let mut silent = TcpStream::connect(&addr).await.expect("connect");
    assert_eq!(until_closed(&mut silent).await, "");

    // With both connections of the cap held by silent clients, a third is answered only
    // once one of them has been closed.
    // (Their ends are read with plain non-blocking reads: a direct look at what the kernel
    // already holds, with no runtime in between.)
    let held: Vec<std::net::TcpStream> = vec![
        std::net::TcpStream::connect(&addr).expect("connect"),
        std::net::TcpStream::connect(&addr).expect("connect"),
    ];
    let mut third = TcpStream::connect(&addr).await.expect("connect");
    third
        .write_all(b"GET /plaid/webhook HTTP/1.1\r\nhost: r\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let answer = until_closed(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer}");
    // The receiver closes a connection before it accepts the next one, and on loopback the
    // close reaches this side before the next answer does: by now one held end has ended.
    let ended = held
        .iter()
        .filter(|stream| {
            use std::io::Read;
            stream.set_nonblocking(true).expect("non-blocking");
            matches!((&**stream).read(&mut [0u8; 64]), Ok(0))
        })
        .count();
    assert!(ended >= 1, "the third connection waited for a free one");
    let _ = child.kill().await;
}

#[tokio::test]
async fn the_receiver_refuses_unusable_limits() {
    let emulator = Emulator::start().await.expect("emulator");
    for (name, value) in [
        ("PLAID_WEBHOOK_MAX_CONNECTIONS", "0"),
        ("PLAID_WEBHOOK_HEADER_TIMEOUT_MS", "0"),
        ("PLAID_WEBHOOK_RECEIVE_TIMEOUT_MS", "soon"),
    ] {
        let output = receiver_command(&emulator)
            .env(name, value)
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(PATIENCE, output)
            .await
            .expect("the receiver exits")
            .expect("run");
        assert!(!output.status.success(), "{name}={value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(
                &name
                    .to_lowercase()
                    .replace("plaid_webhook_", "")
                    .replace('_', "-")
            ),
            "{name}: {stderr}"
        );
    }
}
