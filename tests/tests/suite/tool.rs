//! The `processor_token` tool, run as users run it (`cargo run -p plaid-sdk --example
//! processor_token`, `RUST_LOG=trace`), against servers that echo the request back: nothing
//! it prints, on stdout or stderr, holds a run of 8 characters of the client secret or of the
//! access token.

use std::process::Command;

use plaid_emulator::{Emulator, Fault};
use plaid_sdk_tests::{Action, ScriptedServer, json};

const SECRET: &str = "t00lSecret-8e7d6c5b4a39";
const ACCESS_TAIL: &str = "e1d2c3b4-a596-4877-8899-aabbccddeeff";

fn access_token() -> String {
    format!("access-sandbox-{ACCESS_TAIL}")
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the tool against `url` with `secret`, logging at TRACE.
async fn run_tool(url: String, secret: &str, access_token: String, account: &str) -> Run {
    let secret = secret.to_string();
    let account = account.to_string();
    tokio::task::spawn_blocking(move || {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let output = Command::new(env!("CARGO"))
            .current_dir(root)
            .args([
                "run",
                "-q",
                "-p",
                "plaid-sdk",
                "--example",
                "processor_token",
                "--",
            ])
            .args(["--access-token", &access_token, "--account-id", &account])
            .args(["--processor", "dwolla"])
            .env("PLAID_CLIENT_ID", "tool-client")
            .env("PLAID_SECRET", &secret)
            .env("PLAID_ENV", &url)
            .env("RUST_LOG", "trace")
            .output()
            .expect("run the tool");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    })
    .await
    .expect("tool task")
}

fn assert_no_run_of(secrets: &[&str], run: &Run, what: &str) {
    let text = format!("{}\n{}", run.stdout, run.stderr);
    for secret in secrets {
        for i in 0..=secret.len().saturating_sub(8) {
            let window = &secret[i..(i + 8).min(secret.len())];
            assert!(
                !text.contains(window),
                "{what}: `{window}` printed:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn the_tool_prints_nothing_secret_against_echoing_servers() {
    // The emulator, as a proxy that echoes every request (body and headers) into its error.
    let emulator = Emulator::builder()
        .credentials("tool-client", SECRET)
        .start()
        .await
        .expect("emulator");
    let item = emulator.add_item();
    emulator.inject(Fault::EchoRequest { status: 400 }, 10);
    let run = run_tool(
        emulator.base_url().to_string(),
        SECRET,
        item.access_token.clone(),
        &item.accounts[0].account_id,
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("\"error_code\":\"ECHO\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("plaid.request"),
        "RUST_LOG=trace logs the request span:\n{}",
        run.stderr
    );
    let tail = item.access_token.trim_start_matches("access-sandbox-");
    assert_no_run_of(&[SECRET, tail], &run, "echoing emulator");

    // Scripted servers: an echo in a success, in an HTML error, and a request id made of the
    // access token.
    let access = access_token();
    let encoded: String = access.bytes().map(|b| format!("%{b:02X}")).collect();
    let cases = [
        (
            "a success that hands back the access token as the processor token",
            json(
                200,
                &format!(r#"{{"processor_token":"{access}","request_id":"{SECRET}"}}"#),
            ),
            1,
        ),
        (
            "an HTML 502 echoing the request",
            Action::Respond {
                status: 502,
                headers: vec![],
                body: format!(
                    "<pre>PLAID-SECRET: {SECRET}\n{{\"access_token\":\"{access}\"}} {encoded}</pre>"
                )
                .into_bytes(),
            },
            1,
        ),
        (
            "a success whose request id is a part of the access token",
            json(
                200,
                &format!(
                    r#"{{"processor_token":"processor-sandbox-0123","request_id":"{}"}}"#,
                    &ACCESS_TAIL[..13]
                ),
            ),
            0,
        ),
    ];
    for (what, action, code) in cases {
        let server = ScriptedServer::start(action).await;
        let run = run_tool(server.url(), SECRET, access.clone(), "acc_1").await;
        assert_eq!(run.code, Some(code), "{what}: {}", run.stderr);
        assert_no_run_of(&[SECRET, ACCESS_TAIL], &run, what);
        assert!(server.hits() >= 1, "{what}: the tool reached the server");
    }
}
