//! The SDK's modules stay in layers: each uses only modules of lower layers (or of its own
//! layer, when it is listed beside them as an equal that it does not cycle with). The layers
//! are what ARCHITECTURE.md draws; a `crate::` path that points up fails here with the file
//! and the path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The SDK's source files (without `.rs`, below `plaid-sdk/src/`), lowest layer first.
const LAYERS: &[&[&str]] = &[
    // Leaves: checks, redaction, retry rules, the open-enum support, an unknown webhook's body.
    &["validate", "redact", "retry", "webhooks/other"],
    &["open_enum", "secret"],
    // The generated open enums, on the leaves.
    &["generated/enums"],
    // Errors, and what the runtime knows of an operation.
    &["error", "request"],
    &["environment", "generated/schema"],
    // One attempt over a route.
    &["transport"],
    &["client"],
    // One call, phase by phase.
    &["call"],
    // The generated operations and the raw call, on the call.
    &["generated/operations", "raw"],
    // The client's assembly (it hands the generated table to the transport), and the webhook
    // layer over the generated kinds.
    &[
        "config",
        "webhooks/mod",
        "webhooks/verify",
        "webhooks/service",
    ],
    &["fuzzing", "generated/mod", "lib"],
];

fn source_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plaid-sdk/src")
}

/// The code of a file, without comments and without its `#[cfg(test)]` module.
fn code(file: &str) -> String {
    let text = std::fs::read_to_string(source_dir().join(format!("{file}.rs")))
        .unwrap_or_else(|e| panic!("{file}.rs: {e}"));
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => &text[..],
    };
    text.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b` (or `$crate::`) path of `code`, `use crate::a::{b, c::d}` groups
/// spread, as its segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let prefix = segments(rest);
        let after: usize = prefix.iter().map(|s| s.len() + 2).sum();
        match rest.get(after..).and_then(|r| r.strip_prefix('{')) {
            Some(group) => {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = segments(item.trim());
                    if !item.is_empty() {
                        out.push(prefix.iter().cloned().chain(item).collect());
                    }
                }
            }
            None if rest.starts_with('{') => {
                let group = &rest[1..];
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let item = segments(item.trim());
                    if !item.is_empty() {
                        out.push(item);
                    }
                }
            }
            None => out.push(prefix),
        }
    }
    out
}

fn segments(path: &str) -> Vec<String> {
    let end = path
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(path.len());
    path[..end]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The file a path resolves to: a module by name, or a name the crate's root (or
/// `generated`) re-exports, by the file it comes from.
fn target(
    path: &[String],
    exports: &BTreeMap<String, String>,
    enums: &BTreeSet<String>,
) -> Option<String> {
    let first = path.first()?.as_str();
    let second = path.get(1).map(String::as_str);
    let file = match (first, second) {
        ("generated", Some("types")) | ("types", _) => "generated/schema".to_string(),
        ("generated", Some("operations")) | ("operations", _) => "generated/operations".into(),
        ("generated", Some(name)) if enums.contains(name) => "generated/enums".into(),
        ("webhooks", Some("OtherWebhook")) => "webhooks/other".into(),
        ("webhooks", _) => "webhooks/mod".into(),
        (name, _) if exports.contains_key(name) => exports[name].clone(),
        (name, _) if source_dir().join(format!("{name}.rs")).exists() => name.to_string(),
        (name, _) if source_dir().join(format!("{name}/mod.rs")).exists() => format!("{name}/mod"),
        _ => return None,
    };
    Some(file)
}

/// The names the crate's root re-exports (`pub use x::{A, B}`), by the file they come from.
fn root_exports(enums: &BTreeSet<String>) -> BTreeMap<String, String> {
    let lib = code("lib");
    let mut out = BTreeMap::new();
    for statement in lib.split(';') {
        let Some(at) = statement.find("pub use ") else {
            continue;
        };
        let path = statement[at + "pub use ".len()..].trim();
        let (module, names) = match path.find("::{") {
            Some(brace) => (&path[..brace], path[brace + 3..].trim_end_matches('}')),
            None => match path.rsplit_once("::") {
                Some((module, name)) => (module, name),
                None => continue,
            },
        };
        let module = module.trim_start_matches("crate::");
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let file = match module {
                "generated" if enums.contains(name) => "generated/enums".to_string(),
                "operations" => "generated/operations".into(),
                "webhooks" => "webhooks/mod".into(),
                m => m.split("::").next().unwrap_or(m).to_string(),
            };
            out.insert(name.to_string(), file);
        }
    }
    out
}

#[test]
fn each_module_of_the_sdk_uses_only_lower_layers() {
    let enums: BTreeSet<String> = code("generated/enums")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub enum "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_string)
        .collect();
    assert!(
        enums.contains("ErrorType") && enums.contains("Processor"),
        "{enums:?}"
    );
    let exports = root_exports(&enums);
    assert_eq!(
        exports.get("PlaidClient").map(String::as_str),
        Some("client")
    );
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, files)| files.iter().map(move |f| (*f, i)))
        .collect();
    // Every source file has its layer.
    let mut files = Vec::new();
    for entry in walk(&source_dir()) {
        let relative = entry
            .strip_prefix(source_dir())
            .expect("inside src")
            .with_extension("")
            .to_string_lossy()
            .replace('\\', "/");
        files.push(relative);
    }
    for file in &files {
        assert!(
            layer_of.contains_key(file.as_str()),
            "plaid-sdk/src/{file}.rs has no layer: add it to LAYERS (and ARCHITECTURE.md)"
        );
    }
    let mut upward = Vec::new();
    let mut edges = 0;
    for file in &files {
        let own = layer_of[file.as_str()];
        for path in crate_paths(&code(file)) {
            let Some(to) = target(&path, &exports, &enums) else {
                continue;
            };
            if to == *file {
                continue;
            }
            let Some(&theirs) = layer_of.get(to.as_str()) else {
                continue;
            };
            edges += 1;
            if theirs >= own && !(theirs == own && file == "lib") {
                upward.push(format!(
                    "{file} (layer {own}) uses crate::{} ({to}, layer {theirs})",
                    path.join("::")
                ));
            }
        }
    }
    assert!(edges > 50, "the paths were not found: {edges} edges");
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "uses that point up or sideways:\n{}",
        upward.join("\n")
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("src").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}
