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
//! The Rust is built as tokens with `quote!` (names with `format_ident!`, types as the model
//! read them from progenitor's output) and printed by `generate.rs` with prettyplease; the
//! Markdown is text.

use crate::Failure;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};

use crate::model::{
    Field, FieldKind, Model, Operation, Rules, Struct, option_inner, type_for_people, type_text,
    vec_inner,
};

/// Methods every pending call has: a request field of the same name gets `set_` before it.
const PENDING_METHODS: &[&str] = &["timeout", "retry_policy", "into_future", "request", "new"];

/// What the runtime asks of the generated code (`plaid-sdk/src/request.rs`).
fn rt() -> TokenStream {
    quote!(crate::request::private)
}

/// Where the input checks live (`plaid-sdk/src/validate.rs`).
fn vt() -> TokenStream {
    quote!(crate::validate)
}

fn ident(name: &str) -> proc_macro2::Ident {
    format_ident!("{}", name)
}

/// `types::Name`.
fn types_path(name: &str) -> TokenStream {
    let name = ident(name);
    quote!(types::#name)
}

/// How an argument or setter of a field's type is declared and converted.
struct Conversion {
    /// The argument's type, such as `impl ::std::convert::Into<crate::AccessToken>`.
    arg: TokenStream,
    /// The expression that makes the field's value from the argument `var`.
    expr: TokenStream,
}

fn conversion(ty: &syn::Type, var: &str) -> Conversion {
    let var = ident(var);
    if let Some(item) = vec_inner(ty) {
        if type_text(item) == "::std::string::String" {
            return Conversion {
                arg: quote!(
                    impl ::std::iter::IntoIterator<
                        Item = impl ::std::convert::Into<::std::string::String>,
                    >
                ),
                expr: quote!(#var.into_iter().map(::std::convert::Into::into).collect()),
            };
        }
        return Conversion {
            arg: quote!(impl ::std::iter::IntoIterator<Item = #item>),
            expr: quote!(#var.into_iter().collect()),
        };
    }
    Conversion {
        arg: quote!(impl ::std::convert::Into<#ty>),
        expr: quote!(#var.into()),
    }
}

/// The argument and assignment of a setter for an optional field.
fn setter_conversion(field: &Field) -> Conversion {
    match option_inner(&field.ty) {
        Some(inner) => {
            let c = conversion(inner, "value");
            let expr = c.expr;
            Conversion {
                arg: c.arg,
                expr: quote!(::std::option::Option::Some(#expr)),
            }
        }
        None => conversion(&field.ty, "value"),
    }
}

/// `#[doc = " line"]` for each line of `text`.
fn doc_attrs(text: &str) -> TokenStream {
    let lines = text.lines().map(|line| format!(" {line}"));
    quote!(#(#[doc = #lines])*)
}

fn rules_expr(field: &Field) -> TokenStream {
    let Rules {
        min_length,
        max_length,
        min_items,
        max_items,
        minimum,
        maximum,
        token,
    } = &field.rules;
    let vt = vt();
    let mut parts = Vec::new();
    if field.required {
        parts.push(quote!(required: true));
    }
    let some = |name: &str, value: TokenStream| {
        let name = ident(name);
        quote!(#name: ::std::option::Option::Some(#value))
    };
    let usize_lit = |n: u64| syn::LitInt::new(&format!("{n}usize"), Span::call_site());
    // `730.0f64`, as Debug writes the number (a whole number keeps its `.0`).
    let f64_lit = |n: f64| syn::LitFloat::new(&format!("{n:?}f64"), Span::call_site());
    for (name, value) in [("min_length", min_length), ("max_length", max_length)]
        .into_iter()
        .chain([("min_items", min_items), ("max_items", max_items)])
    {
        if let Some(n) = value {
            let n = usize_lit(*n);
            parts.push(some(name, quote!(#n)));
        }
    }
    for (name, value) in [("minimum", minimum), ("maximum", maximum)] {
        if let Some(n) = value {
            let n = f64_lit(*n);
            parts.push(some(name, quote!(#n)));
        }
    }
    if let Some(t) = token {
        parts.push(some("token", quote!(#t)));
    }
    if parts.is_empty() {
        quote!(&#vt::Rules::NONE)
    } else {
        quote!(&#vt::Rules { #(#parts,)* ..#vt::Rules::NONE })
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
pub fn struct_impls(model: &Model, enums: &BTreeSet<String>) -> TokenStream {
    let vt = vt();
    let mut out = TokenStream::new();
    for s in model.structs.values().filter(|s| s.request_side) {
        let args = arguments(s, model);
        let ty = types_path(&s.name);
        let new_doc = doc_attrs(&if args.is_empty() {
            format!(
                "A `{}` with no field set; set fields with the methods below.",
                s.name
            )
        } else {
            format!(
                "A `{}` with its required fields; set the optional ones with the methods below.",
                s.name
            )
        });
        let params = args.iter().map(|f| {
            let name = ident(&f.rust);
            let arg = conversion(&f.ty, &f.rust).arg;
            quote!(#name: #arg)
        });
        let inits = s.fields.iter().map(|f| {
            let name = ident(&f.rust);
            if f.required {
                let expr = conversion(&f.ty, &f.rust).expr;
                quote!(#name: #expr,)
            } else {
                quote!(#name: ::std::default::Default::default(),)
            }
        });
        let setters = s.fields.iter().filter(|f| !f.required).map(|f| {
            let c = setter_conversion(f);
            let (arg, expr) = (c.arg, c.expr);
            let doc = doc_attrs(&field_doc(f));
            let name = ident(&f.rust);
            quote! {
                #doc
                pub fn #name(mut self, value: #arg) -> Self { self.#name = #expr; self }
            }
        });
        let checked: Vec<&Field> = s
            .fields
            .iter()
            .filter(|f| !matches!(FieldKind::of_field(f, model, enums), FieldKind::Unsupported))
            .collect();
        let v = if checked.is_empty() {
            ident("_v")
        } else {
            ident("v")
        };
        let checks = checked.iter().map(|f| {
            let (json, name, rules) = (&f.json, ident(&f.rust), rules_expr(f));
            quote!(#v.field(#json, &self.#name, #rules);)
        });
        out.extend(quote! {
            impl #ty {
                #new_doc
                pub fn new(#(#params),*) -> Self { Self { #(#inits)* } }
                #(#setters)*
            }
            impl #vt::Validate for #ty {
                fn validate<V: #vt::Visitor>(&self, #v: &mut V) { #(#checks)* }
            }
            impl #vt::Field for #ty {
                fn check<V: #vt::Visitor>(&self, v: &mut V, _rules: &#vt::Rules) { #vt::Validate::validate(self, v) }
            }
        });
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
    crate::naming::setter_name(&f.rust, PENDING_METHODS)
}

/// The operations module: client methods, pending-call setters, `Request` impls, the list of
/// operations and the public types' re-exports.
pub fn operations_module(model: &Model, enums: &BTreeSet<String>) -> TokenStream {
    let rt = rt();
    let mut out = quote!(
        use crate::generated::types;
    );
    for (index, op) in model.operations.iter().enumerate() {
        let request = &model.structs[&op.request];
        let args = arguments(request, model);
        let request_ty = types_path(&op.request);
        let response_ty = types_path(&op.response);
        let doc = doc_attrs(&method_doc(op, request));
        let method = ident(&op.name);
        let params = args.iter().map(|f| {
            let name = ident(&f.rust);
            let arg = conversion(&f.ty, &f.rust).arg;
            quote!(#name: #arg)
        });
        let names = args.iter().map(|f| ident(&f.rust));
        out.extend(quote! {
            impl crate::PlaidClient {
                #doc
                pub fn #method(&self, #(#params),*) -> crate::Pending<'_, #request_ty> {
                    crate::Pending::new(self, #request_ty::new(#(#names),*))
                }
            }
        });
        let optional: Vec<&Field> = request.fields.iter().filter(|f| !f.required).collect();
        if !optional.is_empty() {
            let setters = optional.iter().map(|f| {
                let c = setter_conversion(f);
                let (arg, expr) = (c.arg, c.expr);
                let doc = doc_attrs(&field_doc(f));
                let setter = ident(&setter_name(f));
                let field = ident(&f.rust);
                quote! {
                    #doc
                    pub fn #setter(mut self, value: #arg) -> Self { self.body.#field = #expr; self }
                }
            });
            out.extend(quote! {
                impl crate::Pending<'_, #request_ty> { #(#setters)* }
            });
        }
        let (name, http_method, path, sandbox_only) =
            (&op.name, &op.method, &op.path, op.sandbox_only);
        let index = proc_macro2::Literal::usize_unsuffixed(index);
        out.extend(quote! {
            impl crate::request::Request for #request_ty {
                type Response = #response_ty;
                const OPERATION: &'static str = #name;
                const METHOD: &'static str = #http_method;
                const PATH: &'static str = #path;
                const SANDBOX_ONLY: bool = #sandbox_only;
            }
            impl #rt::Sealed for #request_ty {}
            impl #rt::Dispatch for #request_ty { const INDEX: usize = #index; }
        });
    }
    let mut responses = BTreeSet::new();
    for op in &model.operations {
        if !responses.insert(op.response.clone()) {
            continue;
        }
        let response = &model.structs[&op.response];
        let (get, get_mut) = match response.fields.iter().find(|f| f.json == "request_id") {
            Some(f) if option_inner(&f.ty).is_some() => (
                quote!(self.request_id.as_deref().unwrap_or_default()),
                quote!(self.request_id.as_mut()),
            ),
            Some(_) => (
                quote!(&self.request_id),
                quote!(::std::option::Option::Some(&mut self.request_id)),
            ),
            None => (quote!(""), quote!(::std::option::Option::None)),
        };
        let response_ty = types_path(&op.response);
        out.extend(quote! {
            impl #rt::HasRequestId for #response_ty {
                fn request_id(&self) -> &str { #get }
                fn request_id_mut(&mut self) -> ::std::option::Option<&mut ::std::string::String> { #get_mut }
            }
        });
    }
    let infos = model.operations.iter().map(|op| {
        let (name, method, path, sandbox_only) = (&op.name, &op.method, &op.path, op.sandbox_only);
        quote!(crate::OperationInfo { name: #name, method: #method, path: #path, sandbox_only: #sandbox_only },)
    });
    let structs = model.structs.keys().map(|s| ident(s));
    let enums = enums.iter().map(|e| ident(e));
    out.extend(quote! {
        /// Every operation of this version of the SDK, in the order of `spec/operations.txt`.
        pub const OPERATIONS: &[crate::OperationInfo] = &[#(#infos)*];
        /// The public types: every struct of Plaid's schemas that a request or a response reaches, and every open enum.
        pub mod exports {
            pub use crate::generated::types::{#(#structs),*};
            pub use crate::generated::{#(#enums),*};
        }
    });
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
    crate::naming::webhook_variant(&w.webhook_type, &w.webhook_code)
}

/// `WebhookKind`: one variant per listed webhook, holding its generated body type, and
/// `Other` for every webhook not listed; `KNOWN_WEBHOOKS` lists the typed ones.
pub fn webhook_kinds(webhooks: &[Webhook]) -> TokenStream {
    let variants = webhooks.iter().map(|w| {
        let doc = doc_attrs(&format!(
            "`{}` `{}`: {}",
            w.webhook_type, w.webhook_code, w.doc
        ));
        let variant = ident(&webhook_variant(w));
        let body = types_path(&crate::naming::typify_name(&w.schema));
        quote! { #doc #variant(#body), }
    });
    let arms = webhooks.iter().map(|w| {
        let (t, c, variant) = (&w.webhook_type, &w.webhook_code, ident(&webhook_variant(w)));
        quote!((#t, #c) => Self::#variant(::serde_json::from_slice(body)?),)
    });
    let known = webhooks.iter().map(|w| {
        let (t, c) = (&w.webhook_type, &w.webhook_code);
        quote!((#t, #c),)
    });
    quote! {
        /// A webhook's body, typed by its `webhook_type` and `webhook_code` ([`WebhookEvent::kind`](crate::webhooks::WebhookEvent::kind)).
        #[derive(Clone, Debug, ::serde::Serialize)]
        #[serde(untagged)]
        #[non_exhaustive]
        pub enum WebhookKind {
            #(#variants)*
            /// A webhook this version of the SDK has no type for (Plaid adds them without notice): its fields as JSON.
            Other(crate::webhooks::OtherWebhook),
        }
        impl WebhookKind {
            /// Reads `body` as the webhook `webhook_type` `webhook_code` names.
            pub(crate) fn parse(webhook_type: &str, webhook_code: &str, body: &[u8]) -> ::std::result::Result<Self, ::serde_json::Error> {
                ::std::result::Result::Ok(match (webhook_type, webhook_code) {
                    #(#arms)*
                    _ => Self::Other(::serde_json::from_slice(body)?),
                })
            }
        }
        /// The webhooks with a [`WebhookKind`] variant, as (`webhook_type`, `webhook_code`).
        pub const KNOWN_WEBHOOKS: &[(&str, &str)] = &[#(#known)*];
    }
}
