//! Property: whatever a hostile server answers (any status, any body, secrets echoed raw,
//! JSON-escaped, percent-encoded, cut across the excerpt's end, in every Plaid error field, in
//! a success's request id, in headers), no run of 8 characters of a secret reaches anything
//! the SDK shows: `Display`, `Debug`, the source chain, the accessors, or the TRACE log
//! (events that dependencies send through the `log` crate included).
//!
//! The secrets: the client secret, a gateway token, and the secret part of an access, a public
//! and a processor token (their `kind-environment-` prefix is public). One test in its own
//! binary: it installs a global subscriber.

use std::time::Duration;

use plaid_sdk::{Environment, PlaidClient, Processor, RetryPolicy};
use plaid_sdk_tests::{Action, Captured, ScriptedServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

const SECRET: &str = "5ecre7c1ient0a9b8c7d6e5f4a3b2c1";
const GATEWAY_TOKEN: &str = "gwT0ken-QWERTYuiopASDFghjk";
const ACCESS_TAIL: &str = "7f3e9a1c-44b2-4c8e-9d1f-a0b1c2d3e4f5";
const PUBLIC_TAIL: &str = "b2c4e6a8-1357-4ace-8bdf-0f1e2d3c4b5a";
const PROCESSOR_TAIL: &str = "c0ffee11-2233-4455-6677-8899aabbccdd";

fn access_token() -> String {
    format!("access-sandbox-{ACCESS_TAIL}")
}

/// A secret, whole, as a server could echo it: 0 is the client's own (its Plaid secret, or
/// in gateway mode its gateway token), then the tokens.
fn secret(which: usize, gateway: bool) -> String {
    match which {
        0 if gateway => GATEWAY_TOKEN.to_string(),
        0 => SECRET.to_string(),
        1 => access_token(),
        2 => format!("public-sandbox-{PUBLIC_TAIL}"),
        _ => format!("processor-sandbox-{PROCESSOR_TAIL}"),
    }
}

/// The parts that must never be shown, even 8 characters of them.
const HIDDEN: [&str; 5] = [
    SECRET,
    GATEWAY_TOKEN,
    ACCESS_TAIL,
    PUBLIC_TAIL,
    PROCESSOR_TAIL,
];

/// A run of a hidden part in `text` as shown, or once percent-decoded, or once its escapes
/// (`\u0061`, also as `Debug` doubles them) are decoded: a reader can decode them too.
fn leaks(text: &str) -> Option<String> {
    let unescaped = unescape(&text.replace("\\\\", "\\"));
    [
        text.to_string(),
        percent_decode(text),
        percent_decode(&unescaped),
        unescaped,
    ]
    .iter()
    .find_map(|view| leaks_in(view))
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let hex = rest.get(i + 2..i + 6).unwrap_or("");
        match u32::from_str_radix(hex, 16).ok().and_then(char::from_u32) {
            Some(c) if hex.len() == 4 => {
                out.push(c);
                rest = &rest[i + 6..];
            }
            _ => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn leaks_in(text: &str) -> Option<String> {
    for hidden in HIDDEN {
        for i in 0..=hidden.len() - 8 {
            let window = &hidden[i..i + 8];
            if text.contains(window) {
                return Some(window.to_string());
            }
        }
    }
    None
}

#[derive(Clone, Debug)]
enum Encoding {
    Raw,
    /// The first character as `\u00XX`.
    JsonEscaped,
    /// Every byte as `%XX`.
    Percent,
    /// After `\n` (as it stands inside a JSON string).
    AfterEscape,
    /// After a percent-encoded quote.
    AfterPercentQuote,
}

fn encode(secret: &str, encoding: &Encoding) -> String {
    match encoding {
        Encoding::Raw => secret.to_string(),
        Encoding::JsonEscaped => {
            let mut chars = secret.chars();
            let first = chars.next().map(|c| format!("\\u{:04x}", c as u32));
            format!("{}{}", first.unwrap_or_default(), chars.as_str())
        }
        Encoding::Percent => secret.bytes().map(|b| format!("%{b:02X}")).collect(),
        Encoding::AfterEscape => format!("\\n{secret}"),
        Encoding::AfterPercentQuote => format!("%22{secret}%22"),
    }
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Raw),
        Just(Encoding::JsonEscaped),
        Just(Encoding::Percent),
        Just(Encoding::AfterEscape),
        Just(Encoding::AfterPercentQuote),
    ]
}

/// Where in the response the secret goes.
#[derive(Clone, Debug)]
enum Place {
    /// A non-JSON body: `pad` characters of filler, then the secret (so some straddle the
    /// excerpt's end), then more filler.
    Text { pad: usize },
    /// One field of a Plaid-shaped error body.
    PlaidField(&'static str),
    /// A `causes` entry of a Plaid-shaped error.
    Cause,
    /// A success body's `request_id`.
    SuccessRequestId,
    /// The `plaid-request-id` header of an error.
    RequestIdHeader,
    /// A key of a JSON error body.
    Key,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        (0usize..400).prop_map(|pad| Place::Text { pad }),
        prop::sample::select(vec![
            "error_type",
            "error_code",
            "error_message",
            "display_message",
            "request_id",
            "suggested_action",
            "documentation_url",
            "error_code_reason",
        ])
        .prop_map(Place::PlaidField),
        Just(Place::Cause),
        Just(Place::SuccessRequestId),
        Just(Place::RequestIdHeader),
        Just(Place::Key),
    ]
}

fn response(secret: &str, encoding: &Encoding, place: &Place, status: u16) -> Action {
    let s = encode(secret, encoding);
    let json_body = |value: serde_json::Value| value.to_string().into_bytes();
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    let (status, body) = match place {
        Place::Text { pad } => {
            headers.clear();
            (status, format!("{}{s} tail", "x".repeat(*pad)).into_bytes())
        }
        Place::PlaidField(field) => {
            let mut error = serde_json::json!({
                "error_type": "INVALID_INPUT",
                "error_code": "INVALID_ACCESS_TOKEN",
                "error_message": "could not find matching access token",
                "display_message": null,
                "request_id": "xrQNYZ7Zoh6R7gV",
            });
            error[*field] = serde_json::Value::String(format!("seen {s} here"));
            (status.max(400), json_body(error))
        }
        Place::Cause => (
            status.max(400),
            json_body(serde_json::json!({
                "error_type": "ITEM_ERROR", "error_code": "ITEM_LOGIN_REQUIRED",
                "error_message": "login required", "display_message": null,
                "request_id": "xrQNYZ7Zoh6R7gV",
                "causes": [{"error_message": s, "item_id": s}],
            })),
        ),
        Place::SuccessRequestId => (
            200,
            json_body(serde_json::json!({
                "processor_token": format!("processor-sandbox-{PROCESSOR_TAIL}"),
                "request_id": s,
            })),
        ),
        Place::RequestIdHeader => {
            headers.push(("plaid-request-id".to_string(), s.clone()));
            (status.max(400), b"<html>bad gateway</html>".to_vec())
        }
        Place::Key => (
            status.max(400),
            json_body(serde_json::json!({ s.clone(): "x", "error_code": "X" })),
        ),
    };
    Action::Respond {
        status,
        headers,
        body,
    }
}

/// Everything a user (or a log) can see of a result.
fn renderings<T: std::fmt::Debug>(result: &Result<T, plaid_sdk::Error>) -> String {
    match result {
        Ok(value) => format!("{value:?}\n{value:#?}"),
        Err(e) => {
            let mut text = format!(
                "{e}\n{e:?}\n{e:#?}\n{:?} {:?} {:?} {:?} {:?}",
                e.request_id(),
                e.error_code(),
                e.error_type(),
                e.plaid_error(),
                e.body_excerpt()
            );
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!("\n{s}\n{s:?}"));
                source = s.source();
            }
            text
        }
    }
}

#[test]
fn no_part_of_a_secret_reaches_any_rendering_or_the_trace_log() {
    let captured = Captured::default();
    let writer = captured.clone();
    // `init` also routes the `log` crate's records into this subscriber.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    log::trace!("the log bridge is installed");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(ScriptedServer::start(Action::Stall));
    let url = server.url();
    let build = |gateway: bool| {
        let builder = PlaidClient::builder()
            .environment(Environment::custom(&url).expect("url"))
            .retry_policy(RetryPolicy::none())
            .timeout(Duration::from_secs(30));
        let builder = if gateway {
            builder
                .without_credentials()
                .gateway_header("x-gateway-token", GATEWAY_TOKEN)
        } else {
            builder.credentials("client-1", SECRET)
        };
        builder.build().expect("client")
    };
    let clients = [build(false), build(true)];

    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        0usize..4,
        encoding(),
        place(),
        prop::sample::select(vec![200u16, 400, 429, 500, 502, 503]),
        any::<bool>(),
    );
    runner
        .run(&strategy, |(which, encoding, place, status, gateway)| {
            let secret = secret(which, gateway);
            server.push([response(&secret, &encoding, &place, status)]);
            let client = &clients[usize::from(gateway)];
            let result = runtime.block_on(
                client
                    .processor_token_create(access_token(), "acc_1", Processor::Dwolla)
                    .into_future(),
            );
            let text = renderings(&result);
            prop_assert!(
                leaks(&text).is_none(),
                "leaked {:?} for {place:?} {encoding:?} {status}:\n{text}",
                leaks(&text)
            );
            Ok(())
        })
        .expect("no leak");

    let logs = captured.text();
    assert!(
        logs.contains("the log bridge is installed"),
        "log records reach the subscriber"
    );
    assert!(logs.contains("plaid.request"), "the SDK's spans are logged");
    if let Some(window) = leaks(&logs) {
        panic!("`{window}` in the TRACE log");
    }
}

use std::future::IntoFuture as _;
