//! A webhook key id that carries line breaks or terminal escape codes reaches the log and the
//! error escaped. One test in its own binary: it installs a global subscriber (a scoped one
//! misses events whose callsites other tests' threads registered first).

mod common;

use common::webhook::{BODY, headers, start, with_kid};
use plaid_sdk::webhooks::WebhookVerifier;

#[tokio::test]
async fn a_key_id_with_line_breaks_or_escape_codes_is_shown_escaped() {
    let captured = plaid_sdk_tests::Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let jwt = emulator.sign_webhook(BODY);
    let forged = with_kid(&jwt, "kid\n2026-12-02 INFO forged line \u{1b}[31mred\u{7}");
    let e = verifier
        .verify(&headers(&forged), BODY)
        .await
        .expect_err("unknown");
    let logs = captured.text();
    assert!(logs.contains("unknown webhook key"), "{logs}");
    assert!(
        !logs
            .lines()
            .any(|l| l.starts_with("2026-12-02 INFO forged")),
        "a forged log line:\n{logs}"
    );
    assert!(
        !logs.contains('\u{1b}') && !logs.contains('\u{7}'),
        "{logs:?}"
    );
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains('\n') && !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "{text:?}"
    );
    assert!(
        text.contains("\\n2026-12-02"),
        "the line break shown as \\n: {text}"
    );
}
