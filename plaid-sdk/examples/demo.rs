//! The main job: create a processor token and print it with its request id.
//!
//! ```text
//! cargo run -p plaid-sdk --example demo
//! ```
//!
//! With no `PLAID_CLIENT_ID` in the environment it starts the offline emulator
//! (`plaid-emulator`), seeds an Item and works against that: no credentials, no network.
//! With `PLAID_CLIENT_ID`, `PLAID_SECRET` and `PLAID_ENV` set it calls that environment
//! instead, and then needs the Item: `PLAID_ACCESS_TOKEN` and `PLAID_ACCOUNT_ID` (or
//! `--access-token` and `--account-id`). `PLAID_PROCESSOR` or `--processor` picks the partner
//! (default `dwolla`).

use std::process::ExitCode;

use plaid_emulator::Emulator;
use plaid_sdk::{Environment, PlaidClient, Processor};

fn arg_or_env(flag: &str, var: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == flag {
            return args.next();
        }
        if let Some(value) = arg.strip_prefix(&format!("{flag}=")) {
            return Some(value.to_string());
        }
    }
    std::env::var(var).ok().filter(|v| !v.trim().is_empty())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let processor = Processor::from(
        arg_or_env("--processor", "PLAID_PROCESSOR").unwrap_or_else(|| "dwolla".into()),
    );
    // Kept alive until the end of `run`: dropping it stops the server.
    let emulator;
    let (client, access_token, account_id) = if std::env::var_os("PLAID_CLIENT_ID").is_some() {
        let client = PlaidClient::from_env()?;
        let access_token = arg_or_env("--access-token", "PLAID_ACCESS_TOKEN");
        let account_id = arg_or_env("--account-id", "PLAID_ACCOUNT_ID");
        let (Some(access_token), Some(account_id)) = (access_token, account_id) else {
            eprintln!(
                "with PLAID_CLIENT_ID set, give PLAID_ACCESS_TOKEN and PLAID_ACCOUNT_ID (or --access-token and --account-id)"
            );
            std::process::exit(2);
        };
        println!("environment: {}", client.environment());
        (client, access_token, account_id)
    } else {
        emulator = Emulator::start().await?;
        let item = emulator.add_item();
        let account = &item.accounts[0];
        println!(
            "environment: the offline emulator at {} (no PLAID_CLIENT_ID set)",
            emulator.base_url()
        );
        println!(
            "item: {} with account {} ({} {})",
            item.item_id, account.account_id, account.name, account.mask
        );
        let client = PlaidClient::builder()
            .environment(Environment::custom(emulator.base_url())?)
            .credentials(emulator.client_id(), emulator.secret())
            .build()?;
        (
            client,
            item.access_token.clone(),
            account.account_id.clone(),
        )
    };
    let created = client
        .processor_token_create(access_token, account_id, processor.clone())
        .await?;
    println!("processor: {processor}");
    println!(
        "processor_token: {}",
        created.processor_token.expose_secret()
    );
    println!("request_id: {}", created.request_id);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
