//! Creates a processor token, for scripts.
//!
//! ```text
//! cargo run -p plaid-sdk --example processor_token -- \
//!     --access-token access-sandbox-... --account-id ... --processor dwolla
//! ```
//!
//! Configured by `PLAID_CLIENT_ID`, `PLAID_SECRET`, `PLAID_ENV` (`sandbox`, `production` or a
//! URL) and `PLAID_VERSION`, like `PlaidClient::from_env()`; or, through a gateway that holds
//! the credentials, by `PLAID_GATEWAY_TOKEN` (and `PLAID_GATEWAY_HEADER`) with `PLAID_ENV` the
//! gateway's URL. On success it prints one JSON line
//! `{"processor_token":…,"request_id":…}` and exits 0. On failure it prints the error on
//! stderr, first as a sentence, then as one JSON line with its kind, status, `error_type`,
//! `error_code` and `request_id`, and exits 1 (2 for bad arguments, named by the message; `--help`
//! lists every argument and the environment variable that can set it). It never prints a secret
//! other than the token it was asked to create: a "token" that repeats the access token or
//! the client secret (a server echoing the request) is refused, not printed. `RUST_LOG`
//! (`debug`, `trace`, `plaid_sdk=debug`, ...) sets what is logged on stderr; nothing secret
//! is logged at any level.

use std::process::ExitCode;

use clap::Parser;
use plaid_sdk::{Error, PlaidClient};

/// Creates a processor token for one account of an Item and prints it as one JSON line.
///
/// Plaid credentials and environment come from PLAID_CLIENT_ID, PLAID_SECRET, PLAID_ENV
/// (sandbox, production or a URL) and PLAID_VERSION; through a gateway, PLAID_GATEWAY_TOKEN
/// (and PLAID_GATEWAY_HEADER) replace the credentials. RUST_LOG sets the log level (on
/// stderr); nothing secret is logged at any level.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The Item's access token (access-sandbox-… or access-production-…).
    #[arg(long, env = "PLAID_ACCESS_TOKEN", hide_env_values = true)]
    access_token: String,
    /// The account of the Item the token is for.
    #[arg(long, env = "PLAID_ACCOUNT_ID")]
    account_id: String,
    /// The payment partner, such as dwolla (any name Plaid accepts, also one newer than
    /// this SDK).
    #[arg(long, env = "PLAID_PROCESSOR")]
    processor: String,
}

fn report(error: &Error) -> serde_json::Value {
    serde_json::json!({
        "error": {
            "kind": error.kind().name(),
            "status": error.status(),
            "error_type": error.error_type().map(|t| t.as_str()),
            "error_code": error.error_code(),
            "request_id": error.request_id(),
            "attempts": error.attempts(),
            "message": error.to_string(),
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .init();
    // Usage errors name the argument and exit with 2; `--help` and `--version` exit 0.
    let args = Args::parse();
    let secret = std::env::var("PLAID_SECRET").unwrap_or_default();
    let gateway_token = std::env::var("PLAID_GATEWAY_TOKEN").unwrap_or_default();
    let access_token = args.access_token.clone();
    let result = async {
        let client = PlaidClient::from_env()?;
        client
            .processor_token_create(args.access_token, args.account_id, args.processor)
            .await
    }
    .await;
    match result {
        Ok(created)
            if plaid_sdk::redaction::repeats_secret(
                created.processor_token.expose_secret(),
                &[&access_token, &secret, &gateway_token],
            ) =>
        {
            eprintln!(
                "error: the server answered with a processor token that repeats the access token or the secret; not printed"
            );
            ExitCode::FAILURE
        }
        Ok(created) => {
            let line = serde_json::json!({
                "processor_token": created.processor_token.expose_secret(),
                "request_id": created.request_id,
            });
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            eprintln!("{}", report(&error));
            ExitCode::FAILURE
        }
    }
}
