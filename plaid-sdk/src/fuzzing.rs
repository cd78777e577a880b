//! Entry points for `cargo fuzz` (see `fuzz/`), compiled only with `--cfg fuzzing`.

use std::time::Duration;

use bytes::Bytes;

use crate::environment::Environment;
use crate::generated::types::ProcessorTokenCreateResponse;
use crate::redact::Redactor;
use crate::request::CallOptions;
use crate::retry::RetryPolicy;
use crate::transport::Record;

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().enable_all().build().ok();
    static CLIENT: Option<crate::PlaidClient> = Environment::custom("http://127.0.0.1:9")
        .ok()
        .and_then(|e| crate::PlaidClient::builder().environment(e).credentials("id", "fuzz-secret").build().ok());
}

#[cfg(feature = "webhooks")]
thread_local! {
    static VERIFIER: Option<crate::webhooks::WebhookVerifier> = Environment::custom("http://127.0.0.1:9")
        .ok()
        .and_then(|e| {
            crate::PlaidClient::builder()
                .environment(e)
                .credentials("id", "fuzz-secret")
                .retry_policy(RetryPolicy::none())
                .build()
                .ok()
        })
        .map(crate::webhooks::WebhookVerifier::new);
}

/// One webhook (a `Plaid-Verification` header value and a body) through the verifier:
/// every input must end in a typed refusal (or, never here, a verified event), and its
/// every rendering must work. Keys are fetched from a closed port: after the verifier's
/// fetch budget is spent, new key ids are refused without a connection.
#[cfg(feature = "webhooks")]
pub fn webhook(header: &[u8], body: &[u8]) {
    let Ok(value) = http::HeaderValue::from_bytes(header) else {
        return;
    };
    let mut headers = http::HeaderMap::new();
    headers.insert(crate::webhooks::VERIFICATION_HEADER, value);
    let Some(verifier) = VERIFIER.with(Clone::clone) else {
        return;
    };
    RUNTIME.with(|runtime| {
        let Some(runtime) = runtime else { return };
        if let Err(e) = runtime.block_on(verifier.verify(&headers, body)) {
            let _ = (e.to_string(), format!("{e:?}"), e.http_status(), e.name());
        }
    });
}

/// One response (status, headers, body) through everything the SDK does with a
/// `/processor/token/create` response: reading and recording, the parsing, the retry
/// decision, the mapping to [`Error`], and every rendering of the result.
pub fn response(status: u16, headers: &[(Vec<u8>, Vec<u8>)], body: &[u8]) {
    let Ok(status) = reqwest::StatusCode::from_u16(status) else {
        return;
    };
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        if let (Ok(n), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(name),
            reqwest::header::HeaderValue::from_bytes(value),
        ) {
            builder = builder.header(n, v);
        }
    }
    let Ok(response) = builder.body(Bytes::copy_from_slice(body)) else {
        return;
    };
    let response = reqwest::Response::from(response);
    let Some(client) = CLIENT.with(Clone::clone) else {
        return;
    };
    RUNTIME.with(|runtime| {
        let Some(runtime) = runtime else { return };
        runtime.block_on(async {
            let shared = &client.shared;
            let options = CallOptions::default();
            let mut record = Record {
                attempts: 1,
                ..Record::default()
            };
            let received = shared
                .receive::<ProcessorTokenCreateResponse>(response, &mut record)
                .await;
            match received {
                Ok(value) => {
                    let _ = format!("{value:?}");
                }
                Err(failure) => {
                    let _ =
                        shared.decide(&failure, &record, &shared.retry, false, 1, Duration::ZERO);
                    let redactor = Redactor::new(shared.secret_values());
                    let e = shared.error(
                        "processor_token_create".into(),
                        false,
                        &options,
                        &record,
                        failure,
                        &redactor,
                    );
                    let _ = (
                        e.to_string(),
                        format!("{e:?}"),
                        e.is_retryable(),
                        e.status(),
                        e.request_id(),
                    );
                }
            }
        });
    });
}
