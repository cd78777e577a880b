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
//! the emulator's URL included). Each request goes through the SDK's `WebhookService`: a
//! verified webhook is answered 200; a refused one 400 or 401 (503 when the key could not be
//! fetched, so that Plaid tries again), with the reason as JSON, and the refusal is logged on
//! stderr. The listening address is printed on stderr first. `RUST_LOG=debug` logs key
//! fetches too.
//!
//! The server around the service keeps serving under hostile clients: a failing `accept` (out
//! of descriptors) is retried with a growing delay, connections are capped
//! (`--max-connections`), and headers, idle connections (`--header-timeout-ms`) and each
//! body with its verification (`--receive-timeout-ms`) are bounded in time.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use plaid_sdk::PlaidClient;
use plaid_sdk::webhooks::{WebhookService, WebhookVerifier};

/// Verifies Plaid webhooks and prints each verified event as a JSON line.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The address to listen on (port 0 picks a free port).
    #[arg(env = "PLAID_WEBHOOK_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Connections served at once; the next wait in the kernel's queue.
    #[arg(long, env = "PLAID_WEBHOOK_MAX_CONNECTIONS", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=65_536))]
    max_connections: u32,
    /// How long a connection may take to send a request's headers, or stay idle, in ms.
    #[arg(long, env = "PLAID_WEBHOOK_HEADER_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    header_timeout_ms: u64,
    /// How long one webhook's body and its verification may take, in ms.
    #[arg(long, env = "PLAID_WEBHOOK_RECEIVE_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    receive_timeout_ms: u64,
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let client = PlaidClient::from_env()?;
    let service = WebhookService::new(WebhookVerifier::new(client), |event| async move {
        println!("{}", serde_json::to_string(&event)?);
        Ok(())
    })
    .timeout(Duration::from_millis(args.receive_timeout_ms));
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    let connections = Arc::new(tokio::sync::Semaphore::new(args.max_connections as usize));
    let header_timeout = Duration::from_millis(args.header_timeout_ms);
    let mut failures = 0u32;
    loop {
        // At the cap, wait for a connection to close before accepting another.
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
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // Headers (and idle keep-alive connections) within a bound.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            drop(permit);
        });
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(
                    "warn,plaid_sdk::webhooks=debug,plaid_sdk::webhooks::verify=warn",
                )
            }),
        )
        .with_writer(std::io::stderr)
        // Colours only for a terminal, so that piped logs stay plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
