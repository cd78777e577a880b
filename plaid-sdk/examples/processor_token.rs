//! Creates a processor token, for scripts.
//!
//! ```text
//! cargo run -p plaid-sdk --example processor_token -- \
//!     --access-token access-sandbox-... --account-id ... --processor dwolla
//! ```
//!
//! Configured by `PLAID_CLIENT_ID`, `PLAID_SECRET`, `PLAID_ENV` (`sandbox`, `production` or a
//! URL) and `PLAID_VERSION`, like `PlaidClient::from_env()`. On success it prints one JSON line
//! `{"processor_token":…,"request_id":…}` and exits 0. On failure it prints the error on
//! stderr, first as a sentence, then as one JSON line with its kind, status, `error_type`,
//! `error_code` and `request_id`, and exits 1 (2 for bad arguments). It never prints a secret
//! other than the token it was asked to create: a "token" that repeats the access token or
//! the client secret (a server echoing the request) is refused, not printed. `RUST_LOG`
//! (`debug`, `trace`, `plaid_sdk=debug`, ...) sets what is logged on stderr; nothing secret
//! is logged at any level.

use std::process::ExitCode;

use plaid_sdk::{Error, PlaidClient};

const USAGE: &str =
    "usage: processor_token --access-token <token> --account-id <id> --processor <name>";

struct Args {
    access_token: String,
    account_id: String,
    processor: String,
}

fn parse_args() -> Result<Args, String> {
    let mut access_token = None;
    let mut account_id = None;
    let mut processor = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        let slot = match name.as_str() {
            "--access-token" => &mut access_token,
            "--account-id" => &mut account_id,
            "--processor" => &mut processor,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        };
        let value = inline
            .or_else(|| args.next())
            .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))?;
        *slot = Some(value);
    }
    let need =
        |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required\n{USAGE}"));
    Ok(Args {
        access_token: need(access_token, "--access-token")?,
        account_id: need(account_id, "--account-id")?,
        processor: need(processor, "--processor")?,
    })
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
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let secret = std::env::var("PLAID_SECRET").unwrap_or_default();
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
                &[&access_token, &secret],
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
