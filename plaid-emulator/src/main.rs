//! Runs the emulator as a process, for trying the SDK or another client by hand:
//!
//! ```text
//! cargo run -p plaid-emulator
//! ```
//!
//! It prints the base URL, the credentials it accepts and one seeded Item as shell `export`
//! lines, then serves until interrupted. `RUST_LOG=info` logs each request (method, path,
//! status, latency) and each webhook delivery attempt on stderr; nothing by default.

use plaid_emulator::Emulator;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let emulator = Emulator::start().await?;
    let item = emulator.add_item();
    println!("# plaid-emulator is serving; paste these lines into another shell:");
    println!("export PLAID_ENV={}", emulator.base_url());
    println!("export PLAID_CLIENT_ID={}", emulator.client_id());
    println!("export PLAID_SECRET={}", emulator.secret());
    println!("export PLAID_ACCESS_TOKEN={}", item.access_token);
    for (n, account) in item.accounts.iter().enumerate() {
        let prefix = if n == 0 { "" } else { "# " };
        println!(
            "{prefix}export PLAID_ACCOUNT_ID={}  # {} {}",
            account.account_id, account.name, account.subtype
        );
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
