//! The Try-it console's model (`plaid-gateway/console/operations.json`), from the same
//! operation model as the SDK's facade: per operation, its path, its description, and its
//! request fields with what the console needs to render, check and write the Rust call for
//! each (kind, required, argument position, setter, description, the SDK's rules, token kind,
//! enum values with their Rust variants, nested structs).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::Failure;
use crate::model::{Field, FieldKind, Model, Struct, TokenKind, option_inner, type_for_people};
use crate::naming::{token_env, ts_enum_members, ts_inline_enum, ts_method, underscore};

/// How deep nested request structs are shown (deeper ones are left to the SDK).
const MAX_DEPTH: usize = 6;

/// Open enums by Rust name: (value, variant) pairs in the spec's order, and the name of the
/// spec's schema for the enums that are named there (an enum inline in a property has none):
/// what other languages' Plaid libraries call them. `objects` gives the spec's name of each
/// struct by its Rust name (`LinkTokenEuConfig` → `LinkTokenEUConfig`), for the same reason.
#[derive(Debug, Default)]
pub struct Enums {
    pub values: BTreeMap<String, Vec<(String, String)>>,
    pub schemas: BTreeMap<String, String>,
    pub objects: BTreeMap<String, String>,
}

impl Enums {
    /// The spec's name of the struct typify calls `rust`.
    fn object_schema<'a>(&'a self, rust: &'a str) -> &'a str {
        self.objects.get(rust).map_or(rust, String::as_str)
    }
}

/// What Plaid's Python library calls a schema: its class and the module that holds it.
fn python_json(schema: &str) -> Value {
    json!({ "class": schema, "module": underscore(schema) })
}

#[allow(clippy::too_many_arguments)]
fn field_json(
    field: &Field,
    owner: &str,
    argument: Option<usize>,
    setter: String,
    model: &Model,
    enums: &Enums,
    names: &BTreeSet<String>,
    depth: usize,
) -> Value {
    let ty = option_inner(&field.ty).unwrap_or(&field.ty);
    let mut out = Map::new();
    out.insert("name".into(), json!(field.json));
    out.insert("required".into(), json!(field.required));
    if let Some(position) = argument {
        out.insert("argument".into(), json!(position));
    } else {
        out.insert("setter".into(), json!(setter));
    }
    out.insert("doc".into(), json!(field.description));
    let r = &field.rules;
    let mut rules = Map::new();
    for (name, value) in [
        ("min_length", r.min_length.map(|n| json!(n))),
        ("max_length", r.max_length.map(|n| json!(n))),
        ("min_items", r.min_items.map(|n| json!(n))),
        ("max_items", r.max_items.map(|n| json!(n))),
        ("minimum", r.minimum.map(|n| json!(n))),
        ("maximum", r.maximum.map(|n| json!(n))),
    ] {
        if let Some(value) = value {
            rules.insert(name.into(), value);
        }
    }
    if !rules.is_empty() {
        out.insert("rules".into(), Value::Object(rules));
    }
    // Each value: [wire, Rust variant, TypeScript member]. A named enum is a class in the
    // Python library; an inline one is a plain string there.
    let enum_json = |name: &str| {
        let pairs = enums
            .values
            .get(name)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let wires: Vec<&str> = pairs.iter().map(|(v, _)| v.as_str()).collect();
        let values: Vec<Value> = pairs
            .iter()
            .zip(ts_enum_members(&wires))
            .map(|((v, r), ts)| json!([v, r, ts]))
            .collect();
        match enums.schemas.get(name) {
            Some(schema) => json!({
                "rust": name,
                "schema": schema,
                "ts": schema,
                "python": python_json(schema),
                "values": values,
            }),
            None => json!({
                "rust": name,
                "ts": ts_inline_enum(owner, &field.json),
                "values": values,
            }),
        }
    };
    // A secret type's token kind and environment variable (for a list, the snippets read the
    // n-th token from `<env>_<n>`).
    let token_json = |kind: &TokenKind<'_>| {
        let rust = kind.rust.trim_start_matches("crate::");
        json!({ "kind": kind.kind, "rust": rust, "env": token_env(rust) })
    };
    let object_json = |nested: &Struct| {
        let schema = enums.object_schema(&nested.name);
        json!({
            "rust": nested.name,
            "schema": schema,
            "python": python_json(schema),
            "fields": struct_fields(nested, false, model, enums, names, depth + 1),
        })
    };
    let kind = match FieldKind::of(ty, model, names) {
        FieldKind::Token(kind) => {
            out.insert("token".into(), token_json(kind));
            "token"
        }
        FieldKind::TokenList(kind) => {
            out.insert("token".into(), token_json(kind));
            "token_list"
        }
        FieldKind::Enum(name) => {
            out.insert("enum".into(), enum_json(name));
            "enum"
        }
        FieldKind::EnumList(name) => {
            out.insert("enum".into(), enum_json(name));
            "enum_list"
        }
        FieldKind::String => {
            if let Some(format) = &field.format {
                out.insert("format".into(), json!(format));
            }
            "string"
        }
        FieldKind::StringList => "string_list",
        FieldKind::Integer(rust) => {
            out.insert("rust_type".into(), json!(rust));
            "integer"
        }
        FieldKind::Number(rust) => {
            out.insert("rust_type".into(), json!(rust));
            "number"
        }
        FieldKind::Boolean => "boolean",
        // A form nests only so deep; deeper fields are left to the SDK.
        FieldKind::Object(nested) if depth < MAX_DEPTH => {
            out.insert("object".into(), object_json(nested));
            "object"
        }
        FieldKind::ObjectList(nested) if depth < MAX_DEPTH => {
            out.insert("object".into(), object_json(nested));
            "object_list"
        }
        FieldKind::Object(_) | FieldKind::ObjectList(_) | FieldKind::Unsupported => {
            out.insert("type".into(), json!(type_for_people(&field.ty)));
            "unsupported"
        }
    };
    out.insert("kind".into(), json!(kind));
    Value::Object(out)
}

/// The fields of `s`: the required ones first, in the order of the arguments the SDK's
/// method (for an operation's request, `top_level`) or `new` takes them, then the optional
/// ones with their setters.
fn struct_fields(
    s: &Struct,
    top_level: bool,
    model: &Model,
    enums: &Enums,
    names: &BTreeSet<String>,
    depth: usize,
) -> Vec<Value> {
    let owner = enums.object_schema(&s.name);
    let mut out: Vec<Value> = crate::facade::arguments(s, model)
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let setter = f.rust.clone();
            field_json(f, owner, Some(i), setter, model, enums, names, depth)
        })
        .collect();
    for f in s.fields.iter().filter(|f| !f.required) {
        // Setters of an operation's pending call avoid the names its own methods take.
        let setter = if top_level {
            crate::facade::setter_name(f)
        } else {
            f.rust.clone()
        };
        out.push(field_json(
            f, owner, None, setter, model, enums, names, depth,
        ));
    }
    out
}

/// The console's model as pretty JSON.
pub fn console_model(model: &Model, enums: &Enums, plaid_version: &str) -> Result<String, Failure> {
    let names: BTreeSet<String> = enums.values.keys().cloned().collect();
    let mut operations = Vec::new();
    for op in &model.operations {
        let request = model
            .structs
            .get(&op.request)
            .ok_or_else(|| Failure(format!("the model has no request struct {}", op.request)))?;
        operations.push(json!({
            "name": op.name,
            "method": op.method.to_uppercase(),
            "path": op.path,
            "doc": op.description,
            "sandbox_only": op.sandbox_only,
            "response": op.response,
            "request": python_json(enums.object_schema(&request.name)),
            "ts_method": ts_method(&op.name),
            "fields": struct_fields(request, true, model, enums, &names, 0),
        }));
    }
    let doc = json!({
        "generated": "by `cargo xtask generate` from spec/plaid.yaml and spec/operations.txt; do not edit",
        "plaid_version": plaid_version,
        "operations": operations,
    });
    serde_json::to_string_pretty(&doc)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Failure(format!("the console model does not serialize: {e}")))
}
