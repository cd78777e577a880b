//! Development tasks for plaid-sdk: `cargo xtask spec` extracts the committed OpenAPI
//! fragment from Plaid's full spec, `cargo xtask generate` turns that fragment into the
//! generated code inside `plaid-sdk/` (types, operations, checks, API listing, console model).
//!
//! Every failure is reported as one line on stderr and a non-zero exit; nothing is written
//! when a step fails.

mod check;
mod console;
mod facade;
mod generate;
mod model;
mod naming;
mod requests;
mod spec;
mod tables;
mod transform;
mod value;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  cargo xtask spec --from <plaid-openapi.yml> [--check] [--strict]
      Extract the operations listed in spec/operations.txt (and everything they reference)
      from Plaid's full spec into spec/plaid.yaml. --check compares instead of writing.
      What spec/descriptions.yaml does not describe gets a neutral description and a
      warning; --strict fails on any warning.
  cargo xtask generate [--check]
      Generate from spec/plaid.yaml and spec/operations.txt: plaid-sdk/src/generated/enums.rs,
      plaid-sdk/src/generated/schema.rs,
      plaid-sdk/src/generated/operations.rs, plaid-gateway/console/operations.json,
      plaid-emulator/src/requests.json, plaid-sdk/API.md and the operations table of
      plaid-sdk/README.md. --check compares instead of writing.";

/// The generated part of `plaid-sdk/README.md`: between these two comment lines.
const README_REGION: &str = "operations";

/// A failed task: one line for the user, already phrased.
#[derive(Debug)]
pub struct Failure(pub String);

impl<T: std::fmt::Display> From<T> for Failure {
    fn from(message: T) -> Self {
        Failure(message.to_string())
    }
}

/// Where the repository's files live, so tests can point the tasks at a scratch copy.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    fn from_manifest_dir() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Layout { root }
    }
    pub fn operations(&self) -> PathBuf {
        self.root.join("spec/operations.txt")
    }
    pub fn webhooks(&self) -> PathBuf {
        self.root.join("spec/webhooks.txt")
    }
    pub fn descriptions(&self) -> PathBuf {
        self.root.join("spec/descriptions.yaml")
    }
    pub fn fragment(&self) -> PathBuf {
        self.root.join("spec/plaid.yaml")
    }
    pub fn generated(&self) -> PathBuf {
        self.root.join("plaid-sdk/src/generated/schema.rs")
    }
    pub fn enums_rs(&self) -> PathBuf {
        self.root.join("plaid-sdk/src/generated/enums.rs")
    }
    pub fn operations_rs(&self) -> PathBuf {
        self.root.join("plaid-sdk/src/generated/operations.rs")
    }
    pub fn console(&self) -> PathBuf {
        self.root.join("plaid-gateway/console/operations.json")
    }
    pub fn requests(&self) -> PathBuf {
        self.root.join("plaid-emulator/src/requests.json")
    }
    pub fn api(&self) -> PathBuf {
        self.root.join("plaid-sdk/API.md")
    }
    pub fn readme(&self) -> PathBuf {
        self.root.join("plaid-sdk/README.md")
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args, &Layout::from_manifest_dir()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Prints description warnings to stderr, one line each.
fn report_warnings(warnings: &[String]) {
    if warnings.is_empty() {
        return;
    }
    eprintln!(
        "warning: {} entries of spec/descriptions.yaml to write or remove:",
        warnings.len()
    );
    for w in warnings {
        eprintln!("warning:   {w}");
    }
}

fn run(args: &[String], layout: &Layout) -> Result<(), Failure> {
    let (task, rest) = args.split_first().ok_or_else(|| Failure(USAGE.into()))?;
    let mut check = false;
    let mut strict = false;
    let mut from = None;
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--strict" => strict = true,
            "--from" => {
                let path = rest
                    .next()
                    .ok_or_else(|| Failure("--from needs a path".into()))?;
                from = Some(PathBuf::from(path));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(Failure(format!("unknown argument `{other}`\n{USAGE}"))),
        }
    }
    match task.as_str() {
        "spec" => {
            let from = from.ok_or_else(|| {
                Failure("`cargo xtask spec` needs --from <path to Plaid's spec>".into())
            })?;
            let extracted = spec::extract_from_file(&from, layout)?;
            report_warnings(&extracted.warnings);
            if strict && !extracted.warnings.is_empty() {
                return Err(Failure(format!(
                    "--strict: {} description warning(s); describe them in spec/descriptions.yaml",
                    extracted.warnings.len()
                )));
            }
            let display = from.display().to_string();
            check::write_or_check(
                &layout.fragment(),
                &extracted.text,
                check,
                &format!("cargo xtask spec --from {display}"),
            )
        }
        "generate" => {
            if strict {
                return Err(Failure("`generate` takes no --strict".into()));
            }
            if from.is_some() {
                return Err(Failure(
                    "`generate` takes no --from: it reads spec/plaid.yaml".into(),
                ));
            }
            let generated = generate::generate_from_files(layout)?;
            let readme = std::fs::read_to_string(layout.readme())
                .map_err(|e| Failure(format!("cannot read {}: {e}", layout.readme().display())))?;
            let readme = check::replace_region(&readme, README_REGION, &generated.readme_table)
                .map_err(|e| Failure(format!("{}: {}", layout.readme().display(), e.0)))?;
            let outputs = [
                (layout.enums_rs(), generated.enums),
                (layout.generated(), generated.types),
                (layout.operations_rs(), generated.operations),
                (layout.api(), generated.api),
                (layout.console(), generated.console),
                (layout.requests(), generated.requests),
                (layout.readme(), readme),
            ];
            // Every output is compared (or written) before the first failure is reported.
            let failures: Vec<String> = outputs
                .iter()
                .filter_map(|(path, text)| {
                    check::write_or_check(path, text, check, "cargo xtask generate")
                        .err()
                        .map(|Failure(m)| m)
                })
                .collect();
            if failures.is_empty() {
                Ok(())
            } else {
                Err(Failure(failures.join("; ")))
            }
        }
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(Failure(format!("unknown task `{other}`\n{USAGE}"))),
    }
}
