//! The per-operation code of `plaid-sdk`, generated from the operation model:
//!
//! - for every struct a request reaches: `new` with its required fields, one setter per
//!   optional field, and the input checks the spec states (`Validate`);
//! - for every operation: the method on `PlaidClient`, the setters of its pending call, the
//!   `Request` impl (name, method, path, response type, Sandbox-only) and its index in
//!   `OPERATIONS` (where the client keeps the operation's parsed URL);
//! - the list of operations (`OPERATIONS`), the re-exports of the public types, the
//!   operations table of the crate README, and a listing of the generated public API.
//!
//! Everything here is text (Rust or Markdown) built from the model; `generate.rs` parses the
//! Rust through `syn` and prints it with prettyplease.

use crate::Failure;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::model::{
    Field, FieldKind, Model, Operation, Rules, Struct, option_inner, type_for_people, type_text,
    vec_inner,
};

/// Methods every pending call has: a request field of the same name gets `set_` before it.
const PENDING_METHODS: &[&str] = &["timeout", "retry_policy", "into_future", "request", "new"];

const RT: &str = "crate::request::private";
/// Where the input checks live (`plaid-sdk/src/validate.rs`).
const VT: &str = "crate::validate";

/// How an argument or setter of a field's type is declared and converted.
struct Conversion {
    /// The argument's type, such as `impl ::std::convert::Into<crate::AccessToken>`.
    arg: String,
    /// The expression that makes the field's value from the argument `v`.
    expr: String,
}

fn conversion(ty: &syn::Type, var: &str) -> Conversion {
    if let Some(item) = vec_inner(ty) {
        let item_text = type_text(item);
        if item_text == "::std::string::String" {
            return Conversion {
                arg: "impl ::std::iter::IntoIterator<Item = impl ::std::convert::Into<::std::string::String>>".into(),
                expr: format!("{var}.into_iter().map(::std::convert::Into::into).collect()"),
            };
        }
        return Conversion {
            arg: format!("impl ::std::iter::IntoIterator<Item = {item_text}>"),
            expr: format!("{var}.into_iter().collect()"),
        };
    }
    Conversion {
        arg: format!("impl ::std::convert::Into<{}>", type_text(ty)),
        expr: format!("{var}.into()"),
    }
}

/// The argument and assignment of a setter for an optional field.
fn setter_conversion(field: &Field) -> Conversion {
    match option_inner(&field.ty) {
        Some(inner) => {
            let c = conversion(inner, "value");
            Conversion {
                arg: c.arg,
                expr: format!("::std::option::Option::Some({})", c.expr),
            }
        }
        None => conversion(&field.ty, "value"),
    }
}

fn doc_lines(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "#[doc = {:?}]", format!(" {line}"));
    }
}

fn rules_expr(field: &Field) -> String {
    let Rules {
        min_length,
        max_length,
        min_items,
        max_items,
        minimum,
        maximum,
        token,
    } = &field.rules;
    let mut parts = Vec::new();
    if field.required {
        parts.push("required: true".to_string());
    }
    let mut opt = |name: &str, v: Option<String>| {
        if let Some(v) = v {
            parts.push(format!("{name}: ::std::option::Option::Some({v})"));
        }
    };
    opt("min_length", min_length.map(|n| format!("{n}usize")));
    opt("max_length", max_length.map(|n| format!("{n}usize")));
    opt("min_items", min_items.map(|n| format!("{n}usize")));
    opt("max_items", max_items.map(|n| format!("{n}usize")));
    opt("minimum", minimum.map(|n| format!("{n:?}f64")));
    opt("maximum", maximum.map(|n| format!("{n:?}f64")));
    opt("token", token.as_ref().map(|t| format!("{t:?}")));
    if parts.is_empty() {
        format!("&{VT}::Rules::NONE")
    } else {
        format!(
            "&{VT}::Rules {{ {}, ..{VT}::Rules::NONE }}",
            parts.join(", ")
        )
    }
}

/// The required fields of `s` in argument order: an operation's pinned order, or the
/// schema's.
pub fn arguments<'a>(s: &'a Struct, model: &Model) -> Vec<&'a Field> {
    let pinned = model
        .operations
        .iter()
        .find(|op| op.request == s.name)
        .map(|op| op.arguments.clone());
    let order = pinned.unwrap_or_else(|| s.required_order.clone());
    let mut out: Vec<&Field> = order
        .iter()
        .filter_map(|json| s.fields.iter().find(|f| f.required && &f.json == json))
        .collect();
    // Required in Rust but not listed (should not happen): after the listed ones.
    for f in s.fields.iter().filter(|f| f.required) {
        if !out.iter().any(|o| o.json == f.json) {
            out.push(f);
        }
    }
    out
}

/// Code for the types module's side: constructors, setters and checks of request structs,
/// and the marker of every response.
pub fn struct_impls(model: &Model, enums: &BTreeSet<String>) -> String {
    let mut out = String::new();
    for s in model.structs.values().filter(|s| s.request_side) {
        let args = arguments(s, model);
        let _ = writeln!(out, "impl types::{} {{", s.name);
        doc_lines(
            &mut out,
            &if args.is_empty() {
                format!(
                    "A `{}` with no field set; set fields with the methods below.",
                    s.name
                )
            } else {
                format!(
                    "A `{}` with its required fields; set the optional ones with the methods below.",
                    s.name
                )
            },
        );
        let params: Vec<String> = args
            .iter()
            .map(|f| format!("{}: {}", f.rust, conversion(&f.ty, &f.rust).arg))
            .collect();
        let _ = writeln!(out, "pub fn new({}) -> Self {{ Self {{", params.join(", "));
        for f in &s.fields {
            if f.required {
                let _ = writeln!(out, "{}: {},", f.rust, conversion(&f.ty, &f.rust).expr);
            } else {
                let _ = writeln!(out, "{}: ::std::default::Default::default(),", f.rust);
            }
        }
        out.push_str("} }\n");
        for f in s.fields.iter().filter(|f| !f.required) {
            let c = setter_conversion(f);
            doc_lines(&mut out, &field_doc(f));
            let _ = writeln!(
                out,
                "pub fn {}(mut self, value: {}) -> Self {{ self.{} = {}; self }}",
                f.rust, c.arg, f.rust, c.expr
            );
        }
        out.push_str("}\n");

        let _ = writeln!(out, "impl {VT}::Validate for types::{} {{", s.name);
        let checked: Vec<&Field> = s
            .fields
            .iter()
            .filter(|f| !matches!(FieldKind::of_field(f, model, enums), FieldKind::Unsupported))
            .collect();
        let v = if checked.is_empty() { "_v" } else { "v" };
        let _ = writeln!(out, "fn validate<V: {VT}::Visitor>(&self, {v}: &mut V) {{");
        for f in checked {
            let _ = writeln!(
                out,
                "{v}.field({:?}, &self.{}, {});",
                f.json,
                f.rust,
                rules_expr(f)
            );
        }
        out.push_str("} }\n");
        let _ = writeln!(
            out,
            "impl {VT}::Field for types::{} {{ fn check<V: {VT}::Visitor>(&self, v: &mut V, _rules: &{VT}::Rules) {{ {VT}::Validate::validate(self, v) }} }}",
            s.name
        );
    }
    out
}

fn field_doc(f: &Field) -> String {
    if f.description.is_empty() {
        format!("Sets `{}`.", f.json)
    } else {
        f.description.clone()
    }
}

pub fn setter_name(f: &Field) -> String {
    if PENDING_METHODS.contains(&f.rust.as_str()) {
        format!("set_{}", f.rust)
    } else {
        f.rust.clone()
    }
}

/// The operations module: client methods, pending-call setters, `Request` impls, the list of
/// operations and the public types' re-exports.
pub fn operations_module(model: &Model, enums: &BTreeSet<String>) -> String {
    let mut out = String::new();
    out.push_str("use crate::generated::types;\n");
    for (index, op) in model.operations.iter().enumerate() {
        let request = &model.structs[&op.request];
        let args = arguments(request, model);
        out.push_str("impl crate::PlaidClient {\n");
        doc_lines(&mut out, &method_doc(op, request));
        let params: Vec<String> = args
            .iter()
            .map(|f| format!("{}: {}", f.rust, conversion(&f.ty, &f.rust).arg))
            .collect();
        let names: Vec<&str> = args.iter().map(|f| f.rust.as_str()).collect();
        let _ = writeln!(
            out,
            "pub fn {}(&self, {}) -> crate::Pending<'_, types::{}> {{ crate::Pending::new(self, types::{}::new({})) }}",
            op.name,
            params.join(", "),
            op.request,
            op.request,
            names.join(", ")
        );
        out.push_str("}\n");

        let optional: Vec<&Field> = request.fields.iter().filter(|f| !f.required).collect();
        if !optional.is_empty() {
            let _ = writeln!(out, "impl crate::Pending<'_, types::{}> {{", op.request);
            for f in optional {
                let c = setter_conversion(f);
                doc_lines(&mut out, &field_doc(f));
                let _ = writeln!(
                    out,
                    "pub fn {}(mut self, value: {}) -> Self {{ self.body.{} = {}; self }}",
                    setter_name(f),
                    c.arg,
                    f.rust,
                    c.expr
                );
            }
            out.push_str("}\n");
        }

        let _ = writeln!(
            out,
            "impl crate::request::Request for types::{} {{ type Response = types::{}; const OPERATION: &'static str = {:?}; const METHOD: &'static str = {:?}; const PATH: &'static str = {:?}; const SANDBOX_ONLY: bool = {}; }}",
            op.request, op.response, op.name, op.method, op.path, op.sandbox_only
        );
        let _ = writeln!(out, "impl {RT}::Sealed for types::{} {{}}", op.request);
        let _ = writeln!(
            out,
            "impl {RT}::Dispatch for types::{} {{ const INDEX: usize = {index}; }}",
            op.request
        );
    }
    let mut responses = BTreeSet::new();
    for op in &model.operations {
        if !responses.insert(op.response.clone()) {
            continue;
        }
        let response = &model.structs[&op.response];
        let (get, get_mut) = match response.fields.iter().find(|f| f.json == "request_id") {
            Some(f) if option_inner(&f.ty).is_some() => (
                "self.request_id.as_deref().unwrap_or_default()",
                "self.request_id.as_mut()",
            ),
            Some(_) => (
                "&self.request_id",
                "::std::option::Option::Some(&mut self.request_id)",
            ),
            None => ("\"\"", "::std::option::Option::None"),
        };
        let _ = writeln!(
            out,
            "impl {RT}::HasRequestId for types::{} {{ fn request_id(&self) -> &str {{ {get} }} fn request_id_mut(&mut self) -> ::std::option::Option<&mut ::std::string::String> {{ {get_mut} }} }}",
            op.response
        );
    }

    out.push_str(
        "/// Every operation of this version of the SDK, in the order of `spec/operations.txt`.\n",
    );
    out.push_str("pub const OPERATIONS: &[crate::OperationInfo] = &[\n");
    for op in &model.operations {
        let _ = writeln!(
            out,
            "crate::OperationInfo {{ name: {:?}, method: {:?}, path: {:?}, sandbox_only: {} }},",
            op.name, op.method, op.path, op.sandbox_only
        );
    }
    out.push_str("];\n");

    out.push_str("/// The public types: every struct of Plaid's schemas that a request or a response reaches, and every open enum.\npub mod exports {\n");
    let structs: Vec<&str> = model.structs.keys().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "pub use crate::generated::types::{{{}}};",
        structs.join(", ")
    );
    let enums: Vec<&str> = enums.iter().map(String::as_str).collect();
    let _ = writeln!(out, "pub use crate::generated::{{{}}};", enums.join(", "));
    out.push_str("}\n");
    out
}

fn method_doc(op: &Operation, request: &Struct) -> String {
    let mut doc = String::new();
    if !op.description.is_empty() {
        doc.push_str(&op.description);
        doc.push_str("\n\n");
    }
    let _ = write!(
        doc,
        "`{} {}`. Awaiting the call returns [`{}`](crate::types::{}).",
        op.method, op.path, op.response, op.response
    );
    let optional: Vec<String> = request
        .fields
        .iter()
        .filter(|f| !f.required)
        .map(|f| format!("`{}`", setter_name(f)))
        .collect();
    if !optional.is_empty() {
        let _ = write!(doc, " Optional fields: {}.", optional.join(", "));
    }
    if op.sandbox_only {
        doc.push_str(" Sandbox only: refused before sending on a Production client.");
    }
    doc
}

/// The operations table of the crate README (Markdown rows).
pub fn readme_table(model: &Model) -> String {
    let mut out = String::from("| method | operation | returns |\n|---|---|---|\n");
    for op in &model.operations {
        let request = &model.structs[&op.request];
        let args: Vec<&str> = arguments(request, model)
            .iter()
            .map(|f| f.rust.as_str())
            .collect();
        let _ = writeln!(
            out,
            "| `{}({})` | `{} {}`{} | `{}` |",
            op.name,
            args.join(", "),
            op.method,
            op.path,
            if op.sandbox_only {
                " (Sandbox only)"
            } else {
                ""
            },
            op.response
        );
    }
    out
}

/// A listing of the generated public API, for review: a regeneration that changes it shows
/// in the diff of this file.
pub fn api_listing(model: &Model, enums: &[(String, Vec<String>)]) -> String {
    let mut out = String::from(
        "# The generated public API of plaid-sdk\n\n\
         Written by `cargo xtask generate` from the operation model; CI checks it is current.\n\
         Review its diff when regenerating: see the crate docs on what counts as breaking.\n\n\
         ## Operations\n\n",
    );
    for op in &model.operations {
        let request = &model.structs[&op.request];
        let args: Vec<String> = arguments(request, model)
            .iter()
            .map(|f| format!("{}: {}", f.rust, type_for_people(&f.ty)))
            .collect();
        let _ = writeln!(
            out,
            "### `{}`\n\n`{} {}`{}\n\n```text\nPlaidClient::{}({}) -> Pending<{}>",
            op.name,
            op.method,
            op.path,
            if op.sandbox_only {
                ", Sandbox only"
            } else {
                ""
            },
            op.name,
            args.join(", "),
            op.request
        );
        for f in request.fields.iter().filter(|f| !f.required) {
            let _ = writeln!(
                out,
                "    .{}({})",
                setter_name(f),
                type_for_people(option_inner(&f.ty).unwrap_or(&f.ty))
            );
        }
        let _ = writeln!(out, "    .await -> Result<{}, Error>\n```\n", op.response);
    }
    out.push_str("## Types\n\n```text\n");
    for s in model.structs.values() {
        let side = match (s.request_side, s.response_side) {
            (true, true) => "request, response",
            (true, false) => "request",
            _ => "response",
        };
        let _ = writeln!(out, "struct {} ({side})", s.name);
        for f in &s.fields {
            let _ = writeln!(
                out,
                "    {}: {}{}",
                f.rust,
                type_for_people(&f.ty),
                if f.required && s.request_side {
                    "  [required]"
                } else {
                    ""
                }
            );
        }
    }
    out.push_str("```\n\n## Open enums\n\n```text\n");
    for (name, values) in enums {
        let _ = writeln!(out, "enum {name}: {}", values.join(" "));
    }
    out.push_str("```\n");
    out
}

/// One listed webhook, as the fragment's `x-webhooks` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub webhook_type: String,
    pub webhook_code: String,
    /// The body's schema name in the fragment.
    pub schema: String,
    /// The schema's description.
    pub doc: String,
}

/// The listed webhooks of the (transformed) fragment, in their listed order.
pub fn webhooks(doc: &serde_json::Value) -> Result<Vec<Webhook>, Failure> {
    use serde_json::Value;
    let mut out = Vec::new();
    for entry in doc
        .get("x-webhooks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |key: &str| {
            entry
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Failure(format!("x-webhooks: an entry has no `{key}`")))
        };
        let reference = entry
            .pointer("/schema/$ref")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let schema = reference
            .strip_prefix("#/components/schemas/")
            .ok_or_else(|| Failure(format!("x-webhooks: `{reference}` is not a schema")))?
            .to_string();
        let body = doc
            .pointer(&format!("/components/schemas/{schema}"))
            .ok_or_else(|| Failure(format!("x-webhooks: schema `{schema}` is missing")))?;
        out.push(Webhook {
            webhook_type: text("webhook_type")?,
            webhook_code: text("webhook_code")?,
            doc: body
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            schema,
        });
    }
    Ok(out)
}

/// The Rust variant name of a webhook: `ITEM` `PENDING_EXPIRATION` → `ItemPendingExpiration`.
pub fn webhook_variant(w: &Webhook) -> String {
    use heck::ToPascalCase;
    format!("{}_{}", w.webhook_type, w.webhook_code)
        .to_lowercase()
        .to_pascal_case()
}

/// `WebhookKind`: one variant per listed webhook, holding its generated body type, and
/// `Other` for every webhook not listed; `KNOWN_WEBHOOKS` lists the typed ones.
pub fn webhook_kinds(webhooks: &[Webhook]) -> String {
    let mut out = String::new();
    out.push_str(
        "/// A webhook's body, typed by its `webhook_type` and `webhook_code` \
         ([`WebhookEvent::kind`](crate::webhooks::WebhookEvent::kind)).\n\
         #[derive(Clone, Debug, ::serde::Serialize)]\n#[serde(untagged)]\n#[non_exhaustive]\n\
         pub enum WebhookKind {\n",
    );
    for w in webhooks {
        doc_lines(
            &mut out,
            &format!("`{}` `{}`: {}", w.webhook_type, w.webhook_code, w.doc),
        );
        let _ = writeln!(
            out,
            "{}(types::{}),",
            webhook_variant(w),
            crate::naming::typify_name(&w.schema)
        );
    }
    out.push_str(
        "/// A webhook this version of the SDK has no type for (Plaid adds them without \
         notice): its fields as JSON.\nOther(crate::webhooks::OtherWebhook),\n}\n",
    );
    out.push_str(
        "impl WebhookKind {\n\
         /// Reads `body` as the webhook `webhook_type` `webhook_code` names.\n\
         pub(crate) fn parse(webhook_type: &str, webhook_code: &str, body: &[u8]) \
         -> ::std::result::Result<Self, ::serde_json::Error> {\n\
         ::std::result::Result::Ok(match (webhook_type, webhook_code) {\n",
    );
    for w in webhooks {
        let _ = writeln!(
            out,
            "({:?}, {:?}) => Self::{}(::serde_json::from_slice(body)?),",
            w.webhook_type,
            w.webhook_code,
            webhook_variant(w)
        );
    }
    out.push_str("_ => Self::Other(::serde_json::from_slice(body)?),\n})\n}\n}\n");
    out.push_str(
        "/// The webhooks with a [`WebhookKind`] variant, as (`webhook_type`, `webhook_code`).\n\
         pub const KNOWN_WEBHOOKS: &[(&str, &str)] = &[\n",
    );
    for w in webhooks {
        let _ = writeln!(out, "({:?}, {:?}),", w.webhook_type, w.webhook_code);
    }
    out.push_str("];\n");
    out
}
