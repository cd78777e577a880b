//! What the operation model promises, checked against the committed fragment
//! (`spec/plaid.yaml`) rather than against the generator's own output: every operation is
//! listed in `OPERATIONS`, has an emulator route, and every optional request field has a
//! setter on its pending call.

use std::collections::BTreeSet;

use plaid_emulator::Emulator;
use serde_json::Value;

fn fragment() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/plaid.yaml");
    let text = std::fs::read_to_string(path).expect("spec/plaid.yaml");
    serde_norway::from_str(&text).expect("yaml")
}

/// `(path, request schema)` of every POST operation of the fragment.
fn operations(spec: &Value) -> Vec<(String, String)> {
    spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let schema =
                item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .expect("request schema")
                    .rsplit('/')
                    .next()
                    .expect("name")
                    .to_string();
            (path.clone(), schema)
        })
        .collect()
}

#[test]
fn operations_lists_every_operation_of_the_fragment() {
    let spec = fragment();
    let from_spec: BTreeSet<String> = operations(&spec).into_iter().map(|(p, _)| p).collect();
    let listed: BTreeSet<String> = plaid_sdk::OPERATIONS
        .iter()
        .map(|o| o.path.to_string())
        .collect();
    assert_eq!(listed, from_spec);
    assert_eq!(plaid_sdk::OPERATIONS.len(), listed.len(), "listed twice");
    for op in plaid_sdk::OPERATIONS {
        assert_eq!(op.method, "POST");
        assert_eq!(
            op.sandbox_only,
            op.path.starts_with("/sandbox/"),
            "{}",
            op.path
        );
    }
}

#[tokio::test]
async fn every_operation_has_an_emulator_route() {
    let emulator = Emulator::start().await.expect("emulator");
    let http = reqwest::Client::new();
    for op in plaid_sdk::OPERATIONS {
        let response = http
            .post(format!("{}{}", emulator.base_url(), op.path))
            .header("plaid-client-id", emulator.client_id())
            .header("plaid-secret", emulator.secret())
            .header("plaid-version", "2020-09-14")
            .body("{}")
            .send()
            .await
            .expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        assert_eq!(
            (status, body["error_code"].as_str()),
            (400, Some("MISSING_FIELDS")),
            "{} has no emulator route (or does not check its fields): {body}",
            op.path
        );
    }
    // A path outside the model is not served.
    let status = http
        .post(format!("{}/no/such/operation", emulator.base_url()))
        .body("{}")
        .send()
        .await
        .expect("send")
        .status();
    assert_eq!(status.as_u16(), 404);
}

/// The public method names of each `impl crate::Pending<'_, types::X>` block of the generated
/// operations module, by request type `X` (the module parsed as Rust).
fn setters_in_source() -> Vec<(String, BTreeSet<String>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../plaid-sdk/src/generated/operations.rs"
    );
    let source = std::fs::read_to_string(path).expect("operations.rs");
    let file = syn::parse_file(&source).expect("operations.rs parses as Rust");
    file.items
        .iter()
        .filter_map(|item| {
            let syn::Item::Impl(block) = item else {
                return None;
            };
            let syn::Type::Path(self_ty) = &*block.self_ty else {
                return None;
            };
            let last = self_ty.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            if block.trait_.is_some() || last.ident != "Pending" {
                return None;
            }
            let request = args.args.iter().find_map(|arg| match arg {
                syn::GenericArgument::Type(syn::Type::Path(t)) => {
                    t.path.segments.last().map(|s| s.ident.to_string())
                }
                _ => None,
            })?;
            let setters = block
                .items
                .iter()
                .filter_map(|item| match item {
                    syn::ImplItem::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => {
                        Some(f.sig.ident.to_string())
                    }
                    _ => None,
                })
                .collect();
            Some((request, setters))
        })
        .collect()
}

#[test]
fn every_optional_request_field_has_a_setter() {
    let spec = fragment();
    let schemas = &spec["components"]["schemas"];
    let setters = setters_in_source();
    let mut counted = 0;
    for (path, request) in operations(&spec) {
        let schema = &schemas[&request];
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let optional: BTreeSet<String> = schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .filter(|k| !required.contains(k.as_str()))
            // Credentials travel in headers: the SDK has no field for them.
            .filter(|k| !matches!(k.as_str(), "client_id" | "secret"))
            .map(|k| {
                if k == "type" {
                    "type_".to_string()
                } else {
                    k.clone()
                }
            })
            .collect();
        let have = setters
            .iter()
            .find(|(name, _)| *name == request)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let missing: Vec<&String> = optional.difference(&have).collect();
        assert!(missing.is_empty(), "{path}: no setter for {missing:?}");
        counted += optional.len();
    }
    assert!(
        counted >= 40,
        "only {counted} optional fields: is the fragment complete?"
    );
}
