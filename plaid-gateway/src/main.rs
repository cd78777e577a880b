//! `plaid-gateway`: serves until SIGINT or SIGTERM, then finishes requests in flight.
//!
//! ```text
//! plaid-gateway [--config FILE]      run (settings from the environment and FILE)
//! plaid-gateway hash-token TOKEN     print the SHA-256 to list a caller token under
//! plaid-gateway demo [--listen ADDR] the embedded emulator behind a gateway, with the console
//! plaid-gateway console-export DIR   the console as static files, for a host apart
//! plaid-gateway --help               list the arguments and the settings
//! ```
//!
//! `RUST_LOG` sets the log level (default `info`: one line per request). SIGHUP reads the
//! settings again (environment and file) and serves with them from the next request on;
//! settings with problems are refused, one log line each, and the running ones kept.

mod log_lines;

use std::path::PathBuf;

/// mimalloc: per-thread free lists suit a server's many short-lived request allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use plaid_gateway::{Config, Settings, VARIABLES, hash_token, serve_with};

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
    /// Write the Try-it console as static files into DIR, for any static host: there the page
    /// asks for the gateway's URL (remembered in the browser) and the caller token. The
    /// gateway must list the page's origin in PLAID_GATEWAY_CORS_ORIGINS.
    ConsoleExport {
        /// The folder to write index.html, app.js, app.css and operations.json into.
        dir: PathBuf,
    },
    /// Try it offline: start the embedded Plaid emulator and a gateway in front of it with a
    /// fresh caller token, and print the console's URL and the token. No credentials needed.
    Demo {
        /// The address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
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

// The main thread's event loop is one of the serving threads (`PLAID_GATEWAY_THREADS`); the
// others start with their own.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let code = run().await;
    // The lines still waiting in the last batch.
    log_lines::flush();
    code
}

async fn run() -> ExitCode {
    // Usage errors name the argument and exit with 2; `--help` and `--version` exit 0.
    let matches = Cli::command().after_help(settings()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Some(Command::HashToken { token }) => {
            println!("{}", hash_token(&token));
            return ExitCode::SUCCESS;
        }
        Some(Command::ConsoleExport { dir }) => {
            return match plaid_gateway::export_console(&dir) {
                Ok(files) => {
                    for file in files {
                        println!("{}", file.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "error: cannot write the console into {}: {e}",
                        dir.display()
                    );
                    ExitCode::FAILURE
                }
            };
        }
        Some(Command::Demo { listen }) => {
            init_logs();
            return match demo(listen).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        None => {}
    }
    let config = match load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(problems) => {
            for problem in problems {
                eprintln!("error: {problem}");
            }
            return ExitCode::from(2);
        }
    };
    init_logs();
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
    let settings = match Settings::new(config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    reload_on_sighup(settings.clone(), cli.config.clone());
    match serve_with(listener, settings, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs on stdout at `RUST_LOG`'s level (default `info`: one line per request), in batches
/// (see [`log_lines`]).
fn init_logs() {
    log_lines::start();
    tracing_subscriber::fmt()
        .with_writer(log_lines::Batched)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .event_format(log_lines::Format::default())
        .init();
}

/// `plaid-gateway demo`: the emulator, a gateway in front of it holding the emulator's
/// credentials, and one caller (`demo`) with a fresh random token. Prints the console's URL
/// and that token, nothing else secret; serves until SIGINT or SIGTERM.
async fn demo(listen: std::net::SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let emulator = plaid_emulator::Emulator::start().await?;
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness for the caller token: {e}"))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let caller = plaid_gateway::Caller::new("demo", &hash_token(&token))
        .ok_or("the caller token's digest is malformed")?;
    let mut config = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        vec![caller],
    );
    config.listen = listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e} (try --listen 127.0.0.1:0)"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let settings = Settings::new(config)?;
    println!("plaid-gateway demo: Plaid's API, emulated offline, behind this gateway");
    println!("  console:      {url}/console");
    println!("  caller token: {token}");
    println!("  for the SDK (gateway mode) and curl:");
    println!("    export PLAID_ENV={url} PLAID_GATEWAY_TOKEN={token}");
    println!(
        "  a flow to try: sandbox_public_token_create (ins_109508, auth), \
         item_public_token_exchange, accounts_get, processor_token_create"
    );
    serve_with(listener, settings, shutdown_signal()).await?;
    drop(emulator);
    Ok(())
}

/// The settings from the environment and the `--config` file; every problem, one line each.
fn load(file: Option<&std::path::Path>) -> Result<Config, Vec<String>> {
    let text = match file {
        None => None,
        Some(path) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| vec![format!("cannot read {}: {e}", path.display())])?,
        ),
    };
    Config::load(|name| std::env::var(name).ok(), text.as_deref())
}

/// On SIGHUP, reads the settings again and serves with them; settings with problems are
/// refused (one log line each) and the running ones kept. Requests in flight are not dropped.
fn reload_on_sighup(settings: Settings, file: Option<PathBuf>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match load(file.as_deref()).map_err(|problems| problems.join("\n")) {
                Ok(config) => match settings.reload(config) {
                    Ok(()) => tracing::info!("settings reloaded"),
                    Err(e) => tracing::warn!("reload refused, old settings kept: {e}"),
                },
                Err(problems) => {
                    for problem in problems.lines() {
                        tracing::warn!("reload refused, old settings kept: {problem}");
                    }
                }
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (settings, file);
}
