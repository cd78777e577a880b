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
//! `RUST_LOG=debug` logs key fetches.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

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
    loop {
        let (stream, _) = listener.accept().await?;
        let verifier = Arc::clone(&verifier);
        tokio::spawn(async move {
            let service = service_fn(move |request| receive(Arc::clone(&verifier), request));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

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
