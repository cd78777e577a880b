//! `plaid-gateway`: serves until SIGINT or SIGTERM, then finishes requests in flight.
//!
//! ```text
//! plaid-gateway [--config FILE]      run (settings from the environment and FILE)
//! plaid-gateway hash-token TOKEN     print the SHA-256 to list a caller token under
//! plaid-gateway --help               list the settings
//! ```

use std::process::ExitCode;

use plaid_gateway::{Config, VARIABLES, hash_token, serve};

fn usage() -> String {
    let mut text = String::from(
        "usage: plaid-gateway [--config FILE] | hash-token TOKEN\n\nSettings (environment, or KEY=VALUE lines in FILE; the environment wins):\n",
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut file = None;
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {}
        ["hash-token", token] => {
            println!("{}", hash_token(token));
            return ExitCode::SUCCESS;
        }
        ["--config", path] => match std::fs::read_to_string(path) {
            Ok(text) => file = Some(text),
            Err(e) => {
                eprintln!("error: cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        },
        ["-h" | "--help"] => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprint!("{}", usage());
            return ExitCode::from(2);
        }
    }
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
