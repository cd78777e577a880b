//! The operation model: one description of every operation of the fragment, from which the
//! per-operation code of `plaid-sdk` is generated (`facade.rs`).
//!
//! It joins two sources. The transformed fragment says what the spec says: operations, paths,
//! which schemas requests and responses reach, required fields, and the constraints the SDK
//! checks before sending. progenitor's output says what Rust made of it: the method of each
//! operation and the exact type of every field. Every struct of progenitor's output is one
//! named schema (the transforms hoist inline objects), so the two meet by name.

use std::collections::{BTreeMap, BTreeSet};

use quote::ToTokens;
use serde_json::Value;

use crate::Failure;
use crate::naming::typify_name;
use crate::value::{reachable_schemas, split_component_ref};

/// One operation of the fragment.
#[derive(Debug, Clone)]
pub struct Operation {
    /// The generated method's name, such as `processor_token_create`.
    pub name: String,
    pub method: String,
    pub path: String,
    pub description: String,
    /// The request body's schema, such as `ProcessorTokenCreateRequest`.
    pub request: String,
    /// The success response's schema.
    pub response: String,
    /// Whether the operation exists in the Sandbox only (`/sandbox/...`).
    pub sandbox_only: bool,
    /// The required request fields in the order of the method's arguments.
    pub arguments: Vec<String>,
}

/// One struct of the generated types, that is one named object schema.
#[derive(Clone)]
pub struct Struct {
    pub name: String,
    pub fields: Vec<Field>,
    /// The required fields in the schema's order (names on the wire).
    pub required_order: Vec<String>,
    /// Reached from a request body: it gets a constructor, setters and input checks.
    pub request_side: bool,
    /// Reached from a success response.
    pub response_side: bool,
}

/// One field of a struct.
#[derive(Clone)]
pub struct Field {
    /// The name on the wire.
    pub json: String,
    /// The Rust field name (`type_` for `type`).
    pub rust: String,
    /// The Rust type, as progenitor wrote it.
    pub ty: syn::Type,
    /// Required: neither `Option` nor defaulted.
    pub required: bool,
    pub description: String,
    pub rules: Rules,
    /// The string format the spec names (`date`, `date-time`), which the SDK keeps as text
    /// but typed clients of other languages read as dates.
    pub format: Option<String>,
}

/// What the SDK checks of a field before sending; taken from the spec, plus the token kind
/// of secret types from the xtask's table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    /// The token kind (`access`, `processor`, ...) a secret field's prefix must name.
    pub token: Option<String>,
}

/// The model of the whole fragment.
#[derive(Clone)]
pub struct Model {
    pub operations: Vec<Operation>,
    pub structs: BTreeMap<String, Struct>,
}

/// What the spec cannot say: which Rust type a secret schema became, and its token kind.
pub struct TokenKind<'a> {
    pub rust: &'a str,
    pub kind: &'a str,
}

impl Model {
    /// Builds the model. `arguments` maps `METHOD /path` to the pinned order of its required
    /// fields (from `spec/operations.txt`).
    pub fn build(
        doc: &Value,
        file: &syn::File,
        arguments: &BTreeMap<String, Vec<String>>,
        tokens: &[TokenKind<'_>],
    ) -> Result<Model, Failure> {
        let schemas = doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .ok_or_else(|| Failure("the fragment has no components/schemas".into()))?;
        let methods = client_methods(file);
        let mut operations = Vec::new();
        let mut request_roots = Vec::new();
        let mut response_roots = Vec::new();
        for (path, item) in doc
            .get("paths")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (method, op) in item.as_object().into_iter().flatten() {
                let key = format!("{} {path}", method.to_uppercase());
                check_runtime_shape(&key, item, op)?;
                let request = body_schema(op.pointer("/requestBody/content"))
                    .ok_or_else(|| Failure(format!("`{key}` has no JSON request body schema")))?;
                let response = op
                    .get("responses")
                    .and_then(Value::as_object)
                    .and_then(|r| {
                        r.iter()
                            .find(|(status, _)| status.starts_with('2'))
                            .and_then(|(_, resp)| body_schema(resp.get("content")))
                    })
                    .ok_or_else(|| Failure(format!("`{key}` has no JSON success response")))?;
                let name = methods
                    .get(&typify_name(&request))
                    .cloned()
                    .ok_or_else(|| {
                        Failure(format!(
                            "progenitor made no method taking types::{request} (`{key}`)"
                        ))
                    })?;
                let required = required_of(schemas.get(&request));
                let pinned = arguments
                    .get(&key)
                    .ok_or_else(|| Failure(format!("`{key}` is not in spec/operations.txt")))?;
                let have: BTreeSet<&String> = required.iter().collect();
                let want: BTreeSet<&String> = pinned.iter().collect();
                if have != want {
                    return Err(Failure(format!(
                        "spec/operations.txt: `{key}` pins the arguments [{}] but its required fields are [{}]: write `{key} {}` (the order is the method's argument order)",
                        pinned.join(" "),
                        required.join(" "),
                        required.join(" ")
                    )));
                }
                request_roots.push(format!("#/components/schemas/{request}"));
                response_roots.push(format!("#/components/schemas/{response}"));
                let (request, response) = (typify_name(&request), typify_name(&response));
                operations.push(Operation {
                    name,
                    method: method.to_uppercase(),
                    path: path.clone(),
                    description: op
                        .get("description")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    request,
                    response,
                    sandbox_only: path.starts_with("/sandbox/"),
                    arguments: pinned.clone(),
                });
            }
        }
        let rust_names = |names: BTreeSet<String>| -> BTreeSet<String> {
            names.iter().map(|n| typify_name(n)).collect()
        };
        let request_side = rust_names(reachable_schemas(doc, request_roots));
        let response_side = rust_names(reachable_schemas(doc, response_roots));
        let by_rust: BTreeMap<String, &Value> = schemas
            .iter()
            .map(|(name, schema)| (typify_name(name), schema))
            .collect();
        let local: BTreeSet<String> = types_module(file)
            .into_iter()
            .flatten()
            .filter_map(|item| match item {
                syn::Item::Struct(s) => Some(s.ident.to_string()),
                syn::Item::Enum(e) => Some(e.ident.to_string()),
                syn::Item::Type(t) => Some(t.ident.to_string()),
                _ => None,
            })
            .collect();

        let mut structs = BTreeMap::new();
        for item in types_module(file).into_iter().flatten() {
            let syn::Item::Struct(s) = item else { continue };
            let syn::Fields::Named(named) = &s.fields else {
                continue;
            };
            let name = s.ident.to_string();
            let Some(schema) = by_rust.get(&name).copied() else {
                return Err(Failure(format!(
                    "generated struct {name} is no named schema: a transform must hoist it"
                )));
            };
            let mut fields = Vec::new();
            for f in &named.named {
                let Some(ident) = &f.ident else { continue };
                let rust = ident.to_string();
                let json = serde_rename(&f.attrs).unwrap_or_else(|| rust.clone());
                let required = option_inner(&f.ty).is_none() && !serde_default(&f.attrs);
                let mut ty = f.ty.clone();
                qualify(&mut ty, &local);
                let prop = property(schemas, schema, &json);
                let description = doc_text(&f.attrs)
                    .or_else(|| prop.and_then(|p| target_description(schemas, p)))
                    .unwrap_or_default();
                let mut rules = prop.map(|p| rules_of(schemas, p)).unwrap_or_default();
                let format = prop.and_then(|p| format_of(schemas, p));
                let base = option_inner(&ty).unwrap_or(&ty);
                let base_text = type_text(base);
                rules.token = tokens
                    .iter()
                    .find(|t| base_text == t.rust)
                    .map(|t| t.kind.to_string());
                fields.push(Field {
                    json,
                    rust,
                    ty,
                    required,
                    description,
                    rules,
                    format,
                });
            }
            structs.insert(
                name.clone(),
                Struct {
                    required_order: required_of(Some(schema)),
                    request_side: request_side.contains(&name),
                    response_side: response_side.contains(&name),
                    name,
                    fields,
                },
            );
        }
        for op in &operations {
            for s in [&op.request, &op.response] {
                if !structs.contains_key(s) {
                    return Err(Failure(format!(
                        "{} {}: progenitor made no struct {s}",
                        op.method, op.path
                    )));
                }
            }
        }
        Ok(Model {
            operations,
            structs,
        })
    }
}

/// The schema name a `content` map's JSON media type refers to.
/// What the SDK's runtime (`plaid-sdk/src/transport.rs`) sends and reads for every operation:
/// a JSON body and nothing else (no path, query or header parameters), a `200` JSON success.
/// An operation of another shape fails generation here instead of being sent wrongly.
fn check_runtime_shape(key: &str, item: &Value, op: &Value) -> Result<(), Failure> {
    let has_parameters = |v: &Value| {
        v.get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty())
    };
    if has_parameters(item) || has_parameters(op) {
        return Err(Failure(format!(
            "`{key}` has parameters; the SDK's runtime sends a JSON body only"
        )));
    }
    let successes: Vec<&String> = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(status, _)| status)
        .filter(|status| status.starts_with('2'))
        .collect();
    if successes != ["200"] {
        return Err(Failure(format!(
            "`{key}` answers success with {successes:?}; the SDK's runtime reads a `200` only"
        )));
    }
    Ok(())
}

fn body_schema(content: Option<&Value>) -> Option<String> {
    let r = content?
        .get("application/json")?
        .get("schema")?
        .get("$ref")?
        .as_str()?;
    split_component_ref(r).map(|(_, name)| name)
}

fn required_of(schema: Option<&Value>) -> Vec<String> {
    schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// The schema of property `json` of `schema`, looking into `allOf` parts too.
fn property<'a>(
    schemas: &'a serde_json::Map<String, Value>,
    schema: &'a Value,
    json: &str,
) -> Option<&'a Value> {
    if let Some(p) = schema.get("properties").and_then(|p| p.get(json)) {
        return Some(p);
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let part = resolve(schemas, part);
        if let Some(p) = property(schemas, part, json) {
            return Some(p);
        }
    }
    None
}

/// A `$ref` (or a one-part `allOf`, as the nullable transform writes) resolved.
fn resolve<'a>(schemas: &'a serde_json::Map<String, Value>, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    for _ in 0..8 {
        if let Some(r) = current.get("$ref").and_then(Value::as_str) {
            match split_component_ref(r).and_then(|(_, name)| schemas.get(&name)) {
                Some(target) => current = target,
                None => return current,
            }
        } else if let Some([only]) = current
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            current = only;
        } else {
            return current;
        }
    }
    current
}

fn target_description(
    schemas: &serde_json::Map<String, Value>,
    property: &Value,
) -> Option<String> {
    resolve(schemas, property)
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The date format of a string property (its own, or that of the schema it refers to), as the
/// transforms keep it (`x-plaid-format`: the generators must not see it).
fn format_of(schemas: &serde_json::Map<String, Value>, property: &Value) -> Option<String> {
    let target = resolve(schemas, property);
    property
        .get("x-plaid-format")
        .or_else(|| target.get("x-plaid-format"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// The constraints of a property: its own keywords, or those of the schema it refers to.
fn rules_of(schemas: &serde_json::Map<String, Value>, property: &Value) -> Rules {
    let target = resolve(schemas, property);
    let get = |key: &str| property.get(key).or_else(|| target.get(key));
    let int = |key: &str| get(key).and_then(Value::as_u64);
    let num = |key: &str| get(key).and_then(Value::as_f64);
    Rules {
        min_length: int("minLength"),
        max_length: int("maxLength"),
        min_items: int("minItems"),
        max_items: int("maxItems"),
        minimum: num("minimum"),
        maximum: num("maximum"),
        token: None,
    }
}

/// `request type name → method name` of progenitor's `impl Client`.
fn client_methods(file: &syn::File) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() || type_text(&imp.self_ty) != "Client" {
            continue;
        }
        for item in &imp.items {
            let syn::ImplItem::Fn(f) = item else { continue };
            for input in &f.sig.inputs {
                let syn::FnArg::Typed(arg) = input else {
                    continue;
                };
                if let syn::Type::Reference(r) = &*arg.ty
                    && let Some(name) = type_text(&r.elem).strip_prefix("types::")
                {
                    out.insert(name.to_string(), f.sig.ident.to_string());
                }
            }
        }
    }
    out
}

/// The items of progenitor's `pub mod types`.
pub fn types_module(file: &syn::File) -> Option<&Vec<syn::Item>> {
    file.items.iter().find_map(|item| match item {
        syn::Item::Mod(m) if m.ident == "types" => m.content.as_ref().map(|(_, items)| items),
        _ => None,
    })
}

/// Paths of one segment that name an item of the types module get its full path
/// (`crate::generated::types::X`), so the type reads the same from any module.
fn qualify(ty: &mut syn::Type, local: &BTreeSet<String>) {
    let syn::Type::Path(p) = ty else { return };
    if p.qself.is_none() && p.path.leading_colon.is_none() && p.path.segments.len() == 1 {
        let ident = p.path.segments[0].ident.to_string();
        if local.contains(&ident) {
            let args = p.path.segments[0].arguments.clone();
            let mut path: syn::Path = syn::parse_quote!(crate::generated::types::X);
            if let Some(last) = path.segments.last_mut() {
                last.ident = p.path.segments[0].ident.clone();
                last.arguments = args;
            }
            p.path = path;
        }
    }
    for seg in p.path.segments.iter_mut() {
        if let syn::PathArguments::AngleBracketed(args) = &mut seg.arguments {
            for arg in args.args.iter_mut() {
                if let syn::GenericArgument::Type(t) = arg {
                    qualify(t, local);
                }
            }
        }
    }
}

/// The `T` of `Option<T>` (however qualified).
pub fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    generic_inner(ty, "Option")
}

/// What a request field holds, decided once from its Rust type (its `Option` removed): the
/// SDK's argument conversions and input checks (`facade.rs`) and the console's forms
/// (`console.rs`) all read this, so they cannot disagree on a field.
#[derive(Clone, Copy)]
pub enum FieldKind<'m> {
    /// A secret type of the SDK, with its token kind.
    Token(&'m TokenKind<'static>),
    /// A list of one secret type.
    TokenList(&'m TokenKind<'static>),
    /// An open enum, by its Rust name.
    Enum(&'m str),
    /// A list of one open enum.
    EnumList(&'m str),
    /// Text.
    String,
    /// A list of texts.
    StringList,
    /// An integer of this Rust type (`i64`, ...).
    Integer(&'static str),
    /// A floating-point number of this Rust type.
    Number(&'static str),
    /// `true` or `false`.
    Boolean,
    /// A generated request struct.
    Object(&'m Struct),
    /// A list of one generated request struct.
    ObjectList(&'m Struct),
    /// None of these: generation fails on such a request field.
    Unsupported,
}

impl<'m> FieldKind<'m> {
    /// The kind of a field of type `ty` (not an `Option`); `enums` lists the open enums by
    /// Rust name.
    pub fn of(ty: &syn::Type, model: &'m Model, enums: &'m BTreeSet<String>) -> FieldKind<'m> {
        let single = |text: &str| -> Option<FieldKind<'m>> {
            if let Some(kind) = crate::tables::TOKEN_KINDS.iter().find(|k| k.rust == text) {
                return Some(FieldKind::Token(kind));
            }
            if let Some(name) = text.strip_prefix("crate::generated::types::") {
                return model
                    .structs
                    .get(name)
                    .filter(|s| s.request_side)
                    .map(FieldKind::Object);
            }
            if let Some(name) = text.strip_prefix("crate::generated::") {
                return enums.get(name).map(|n| FieldKind::Enum(n.as_str()));
            }
            match text {
                "::std::string::String" => Some(FieldKind::String),
                "i64" => Some(FieldKind::Integer("i64")),
                "i32" => Some(FieldKind::Integer("i32")),
                "u64" => Some(FieldKind::Integer("u64")),
                "u32" => Some(FieldKind::Integer("u32")),
                "f64" => Some(FieldKind::Number("f64")),
                "f32" => Some(FieldKind::Number("f32")),
                "bool" => Some(FieldKind::Boolean),
                _ => None,
            }
        };
        if let Some(item) = vec_inner(ty) {
            return match single(&type_text(item)) {
                Some(FieldKind::Token(kind)) => FieldKind::TokenList(kind),
                Some(FieldKind::Enum(name)) => FieldKind::EnumList(name),
                Some(FieldKind::String) => FieldKind::StringList,
                Some(FieldKind::Object(s)) => FieldKind::ObjectList(s),
                _ => FieldKind::Unsupported,
            };
        }
        single(&type_text(ty)).unwrap_or(FieldKind::Unsupported)
    }

    /// The kind of `field`, its `Option` removed.
    pub fn of_field(field: &Field, model: &'m Model, enums: &'m BTreeSet<String>) -> FieldKind<'m> {
        FieldKind::of(option_inner(&field.ty).unwrap_or(&field.ty), model, enums)
    }
}

/// Fails, naming every one, when a request struct has a field of a kind neither the SDK's
/// checks nor the console can handle: such a field would be sent unchecked and shown as
/// nothing, so the generator must learn its kind first.
pub fn check_request_field_kinds(model: &Model, enums: &BTreeSet<String>) -> Result<(), Failure> {
    let unsupported: Vec<String> = model
        .structs
        .values()
        .filter(|s| s.request_side)
        .flat_map(|s| {
            s.fields
                .iter()
                .filter(|f| matches!(FieldKind::of_field(f, model, enums), FieldKind::Unsupported))
                .map(move |f| format!("`{}.{}` ({})", s.name, f.json, type_for_people(&f.ty)))
        })
        .collect();
    if unsupported.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "request fields of a kind the generator cannot handle (teach `FieldKind` first): {}",
            unsupported.join(", ")
        )))
    }
}

/// The `T` of `Vec<T>` (however qualified).
pub fn vec_inner(ty: &syn::Type) -> Option<&syn::Type> {
    generic_inner(ty, "Vec")
}

fn generic_inner<'a>(ty: &'a syn::Type, name: &str) -> Option<&'a syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

/// A type as compact text: `::std::option::Option<crate::AccessToken>`.
pub fn type_text(ty: &syn::Type) -> String {
    let mut out = String::new();
    for token in ty.to_token_stream().to_string().split_whitespace() {
        // Spaces stay only between two words (`dyn Trait`, `impl Trait`).
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        if word(out.chars().last()) && word(token.chars().next()) {
            out.push(' ');
        }
        out.push_str(token);
    }
    out.replace(",", ", ")
}

/// The same type for people: `Option<AccessToken>`, `Vec<Product>`.
pub fn type_for_people(ty: &syn::Type) -> String {
    let mut text = type_text(ty);
    for prefix in [
        "::std::option::",
        "::std::vec::",
        "::std::string::",
        "::std::collections::",
        "::std::num::",
        "::serde_json::",
        "crate::generated::types::",
        "crate::generated::",
        "crate::",
    ] {
        text = text.replace(prefix, "");
    }
    text
}

fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    let mut found = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                let lit: syn::LitStr = meta.value()?.parse()?;
                found = Some(lit.value());
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

fn serde_default(attrs: &[syn::Attribute]) -> bool {
    let mut found = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("default") {
                found = true;
            }
            if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            }
            Ok(())
        });
    }
    found
}

/// The text of `///` comments (`#[doc = "..."]` attributes), lines joined.
fn doc_text(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value().trim().to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect();
    let text = lines.join(" ").trim().to_string();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_compactly_and_for_people() {
        let ty: syn::Type =
            syn::parse_str("::std::option::Option<::std::vec::Vec<crate::generated::Product>>")
                .expect("type");
        assert_eq!(
            type_text(&ty),
            "::std::option::Option<::std::vec::Vec<crate::generated::Product>>"
        );
        assert_eq!(type_for_people(&ty), "Option<Vec<Product>>");
        let inner = option_inner(&ty).expect("option");
        assert!(vec_inner(inner).is_some());
        assert!(option_inner(inner).is_none());
    }

    #[test]
    fn serde_attributes_are_read() {
        let f: syn::ItemStruct = syn::parse_str(
            r#"struct S {
                #[doc = " The kind."]
                #[serde(rename = "type")]
                pub type_: String,
                #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
                pub ids: Vec<String>,
            }"#,
        )
        .expect("struct");
        let fields: Vec<&syn::Field> = f.fields.iter().collect();
        assert_eq!(serde_rename(&fields[0].attrs).as_deref(), Some("type"));
        assert_eq!(doc_text(&fields[0].attrs).as_deref(), Some("The kind."));
        assert!(!serde_default(&fields[0].attrs));
        assert!(serde_default(&fields[1].attrs));
        assert_eq!(serde_rename(&fields[1].attrs), None);
    }

    #[test]
    fn rules_come_from_the_property_or_its_target() {
        let schemas = serde_json::json!({
            "Name": {"type": "string", "maxLength": 30},
            "Req": {"properties": {
                "name": {"$ref": "#/components/schemas/Name"},
                "nullable_name": {"allOf": [{"$ref": "#/components/schemas/Name"}], "nullable": true},
                "ids": {"type": "array", "minItems": 1, "maxItems": 5},
                "days": {"type": "integer", "minimum": 1, "maximum": 730}
            }}
        });
        let schemas = schemas.as_object().expect("map");
        let req = &schemas["Req"];
        let rules = |f: &str| rules_of(schemas, property(schemas, req, f).expect("prop"));
        assert_eq!(rules("name").max_length, Some(30));
        assert_eq!(rules("nullable_name").max_length, Some(30));
        assert_eq!(
            (rules("ids").min_items, rules("ids").max_items),
            (Some(1), Some(5))
        );
        assert_eq!(
            (rules("days").minimum, rules("days").maximum),
            (Some(1.0), Some(730.0))
        );
    }
}
