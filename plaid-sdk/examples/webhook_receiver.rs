//! A webhook receiver: verifies every POST it gets as a Plaid webhook and prints each verified
//! event as one JSON line on stdout.
//!
//! ```text
//! cargo run -p plaid-sdk --example webhook_receiver -- 127.0.0.1:8787
//! ```
//!
//! The address comes from the argument or `PLAID_WEBHOOK_LISTEN` (default `127.0.0.1:8787`;
//! port 0 picks a free one). Keys are fetched with `PlaidClient::from_env()`
//! (`PLAID_CLIENT_ID`, `PLAID_SECRET`, `PLAID_ENV`: the environment that sends the webhooks,
//! the emulator's URL included). A verified webhook is answered 200; a refused one 400 or 401
//! (503 when the key could not be fetched, so that Plaid tries again), with the reason as JSON,
//! and the reason is printed on stderr. The listening address is printed on stderr first.
//! `RUST_LOG=debug` logs key fetches. It keeps serving under hostile clients: a failing
//! `accept` (out of descriptors) is retried with a growing delay, connections are capped, and
//! headers, idle connections and each whole request are bounded in time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use plaid_sdk::PlaidClient;
use plaid_sdk::webhooks::WebhookVerifier;

/// The largest webhook body read; Plaid's are a few hundred bytes.
const MAX_BODY: usize = 1 << 20;

/// Verifies Plaid webhooks and prints each verified event as a JSON line.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(env = "PLAID_WEBHOOK_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
}

fn reply(status: u16, body: serde_json::Value) -> hyper::Response<Full<Bytes>> {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

async fn receive(
    verifier: Arc<WebhookVerifier>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    if request.method() != http::Method::POST {
        return Ok(reply(
            405,
            serde_json::json!({"error": "method_not_allowed", "message": "webhooks are POSTed"}),
        ));
    }
    let (parts, body) = request.into_parts();
    let Ok(body) = Limited::new(body, MAX_BODY).collect().await else {
        eprintln!("refused: the body is unreadable or larger than {MAX_BODY} bytes");
        return Ok(reply(
            413,
            serde_json::json!({"error": "body_too_large", "message": "body unreadable or too large"}),
        ));
    };
    let body = body.to_bytes();
    match verifier.verify(&parts.headers, &body).await {
        Ok(event) => {
            match serde_json::to_string(&event) {
                Ok(line) => println!("{line}"),
                Err(e) => eprintln!("verified, but could not print the event: {e}"),
            }
            Ok(reply(200, serde_json::json!({"received": true})))
        }
        Err(e) => {
            eprintln!("refused ({}): {e}", e.name());
            Ok(reply(
                e.http_status(),
                serde_json::json!({"error": e.name(), "message": e.to_string()}),
            ))
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let client = PlaidClient::from_env()?;
    let verifier = Arc::new(WebhookVerifier::new(client));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    // At most this many connections at once; the next wait in the kernel's queue.
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut failures = 0u32;
    loop {
        let permit = Arc::clone(&connections).acquire_owned().await?;
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                failures = 0;
                stream
            }
            Err(e) => {
                // Out of descriptors, say: wait (10 ms doubling to 1 s) and try again; never
                // exit, never spin.
                if failures == 0 {
                    eprintln!("accept failed ({e}); retrying with a growing delay");
                }
                failures = failures.saturating_add(1);
                let delay =
                    Duration::from_millis(10 << failures.min(7)).min(Duration::from_secs(1));
                tokio::time::sleep(delay).await;
                continue;
            }
        };
        let verifier = Arc::clone(&verifier);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let verifier = Arc::clone(&verifier);
                // The whole request (its body included) within a bound.
                async move {
                    match tokio::time::timeout(REQUEST_TIMEOUT, receive(verifier, request)).await {
                        Ok(reply) => reply,
                        Err(_) => Ok(reply(
                            408,
                            serde_json::json!({"error": "timeout", "message": "the request took too long"}),
                        )),
                    }
                }
            });
            // Headers (and idle keep-alive connections) within a bound too.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

/// Connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// How long a connection may take to send a request's headers, or stay idle.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one webhook may take, body and key fetch included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
