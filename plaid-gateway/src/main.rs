//! `plaid-gateway`: serves until SIGINT or SIGTERM, then finishes requests in flight.
//!
//! ```text
//! plaid-gateway [--config FILE]      run (settings from the environment and FILE)
//! plaid-gateway hash-token TOKEN     print the SHA-256 to list a caller token under
//! plaid-gateway --help               list the arguments and the settings
//! ```
//!
//! `RUST_LOG` sets the log level (default `info`: one line per request).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use plaid_gateway::{Config, VARIABLES, hash_token, serve};

/// A gateway that authenticates callers, adds Plaid's credentials server-side and forwards
/// to Plaid. Serves until SIGINT or SIGTERM, then finishes the requests in flight.
/// RUST_LOG sets the log level (default `info`).
#[derive(Parser, Debug)]
#[command(name = "plaid-gateway", version)]
struct Cli {
    /// A file of KEY=VALUE lines with the settings below (the environment wins).
    #[arg(long, value_name = "FILE", env = "PLAID_GATEWAY_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the SHA-256 of a caller token, to list it in PLAID_GATEWAY_CALLERS.
    HashToken {
        /// The caller's token.
        token: String,
    },
}

/// The settings, for `--help`.
fn settings() -> String {
    let mut text = String::from(
        "Settings (environment variables, or KEY=VALUE lines in the --config file):\n",
    );
    for (name, what) in VARIABLES {
        text.push_str(&format!("  {name:<38} {what}\n"));
    }
    text
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> ExitCode {
    // Usage errors name the argument and exit with 2; `--help` and `--version` exit 0.
    let matches = Cli::command().after_help(settings()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(Command::HashToken { token }) = cli.command {
        println!("{}", hash_token(&token));
        return ExitCode::SUCCESS;
    }
    let file = match &cli.config {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let config = match Config::load(|name| std::env::var(name).ok(), file.as_deref()) {
        Ok(config) => config,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(
        listen = %config.listen,
        upstream = %config.upstream,
        callers = config.callers.len(),
        operations = config.operations.len(),
        "plaid-gateway serving"
    );
    match serve(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
