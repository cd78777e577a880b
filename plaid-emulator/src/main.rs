//! Runs the emulator as a process, for trying the SDK or another client by hand, or for tests
//! in other languages:
//!
//! ```text
//! cargo run -p plaid-emulator -- --help
//! cargo run -p plaid-emulator -- --listen 127.0.0.1:8686 --seed 7
//! ```
//!
//! It prints the base URL, the credentials it accepts and one seeded Item as shell `export`
//! lines, then serves until interrupted. With `--listen` on a fixed port, and `--seed` (or
//! `--client-id`/`--secret`), those lines are the same on every start, so pasted ones stay
//! valid. `RUST_LOG=info` logs each request (method, path, status, latency) and each webhook
//! delivery attempt on stderr; nothing by default. Tests drive it over HTTP under
//! `/__emulator/` (see the crate's documentation).

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use plaid_emulator::Emulator;

/// Plaid's API offline: the processor-token family and the Sandbox, on loopback.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The address to serve on (port 0 picks a free one).
    #[arg(long, env = "PLAID_EMULATOR_LISTEN", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Serve on an address other than loopback. Its credentials are known defaults unless
    /// --client-id and --secret are set: anyone who reaches it can use it.
    #[arg(long)]
    allow_non_loopback: bool,
    /// The client id accepted.
    #[arg(long, env = "PLAID_EMULATOR_CLIENT_ID", default_value = plaid_emulator::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// The secret accepted.
    #[arg(long, env = "PLAID_EMULATOR_SECRET", default_value = plaid_emulator::DEFAULT_SECRET, hide_default_value = true, hide_env_values = true)]
    secret: String,
    /// Makes the ids and tokens it hands out the same on every start (for the same requests
    /// in the same order).
    #[arg(long, env = "PLAID_EMULATOR_SEED")]
    seed: Option<u64>,
    /// Accept processors besides the ones the spec fragment lists (repeatable).
    #[arg(long = "allow-processor", value_name = "NAME")]
    allow_processors: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.listen.ip().is_loopback() && !args.allow_non_loopback {
        eprintln!(
            "error: {} is not a loopback address; pass --allow-non-loopback to serve there",
            args.listen
        );
        return ExitCode::FAILURE;
    }
    if args.client_id.trim().is_empty() || args.secret.trim().is_empty() {
        eprintln!("error: the client id and the secret must not be empty");
        return ExitCode::FAILURE;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    // One thread: a seed makes every id drawn on it the same from one start to the next.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    if let Some(seed) = args.seed {
        plaid_emulator::seed_ids(seed);
    }
    let mut builder = Emulator::builder()
        .listen(args.listen)
        .credentials(&args.client_id, &args.secret);
    for processor in args.allow_processors {
        builder = builder.allow_processor(processor);
    }
    let emulator = builder.start().await?;
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
