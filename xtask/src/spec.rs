//! `cargo xtask spec`: extracts the committed fragment from Plaid's full OpenAPI spec.
//!
//! The fragment holds the operations listed in `spec/operations.txt` and the closure of the
//! components they reference, with Plaid's structure (names, types, enums, required, nullable,
//! examples) and none of its prose: every description in it comes from
//! `spec/descriptions.yaml`. What that file does not describe yet (Plaid's spec grew) gets a
//! neutral description of our own naming it and its type, and a warning; a description that
//! matches nothing is a warning too. `--strict` turns the warnings into a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::value::{collect_refs, parse_document, split_component_ref, to_yaml};
use crate::{Failure, Layout};

const HEADER: &str = "\
The part of Plaid's OpenAPI spec that plaid-sdk is generated from.
Written by `cargo xtask spec --from <Plaid's spec>`: do not edit by hand. The operations come
from spec/operations.txt and every description from spec/descriptions.yaml.";

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One line of `spec/operations.txt`: `METHOD /path` and the operation's required fields in
/// the order of the generated method's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationRef {
    pub method: String,
    pub path: String,
    pub arguments: Vec<String>,
}

impl std::fmt::Display for OperationRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method.to_uppercase(), self.path)
    }
}

/// Parses the operations list: one `METHOD /path arg…` a line; `#` starts a comment.
pub fn parse_operations(text: &str) -> Result<Vec<OperationRef>, Failure> {
    let mut out: Vec<OperationRef> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(method), Some(path)) = (words.next(), words.next()) else {
            return Err(Failure(format!(
                "spec/operations.txt line {}: expected `METHOD /path`, found `{line}`",
                n + 1
            )));
        };
        let method = method.to_ascii_lowercase();
        if !HTTP_METHODS.contains(&method.as_str()) || !path.starts_with('/') {
            return Err(Failure(format!(
                "spec/operations.txt line {}: expected `METHOD /path`, found `{line}`",
                n + 1
            )));
        }
        let arguments: Vec<String> = words.map(str::to_string).collect();
        if let Some(bad) = arguments
            .iter()
            .find(|a| !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(Failure(format!(
                "spec/operations.txt line {}: `{bad}` is not a field name",
                n + 1
            )));
        }
        let op = OperationRef {
            method,
            path: path.to_string(),
            arguments,
        };
        if out
            .iter()
            .any(|o| o.method == op.method && o.path == op.path)
        {
            return Err(Failure(format!(
                "spec/operations.txt line {}: `{op}` is listed twice",
                n + 1
            )));
        }
        out.push(op);
    }
    if out.is_empty() {
        return Err(Failure("spec/operations.txt lists no operation".into()));
    }
    Ok(out)
}

/// One line of `spec/webhooks.txt`: a webhook's `webhook_type`, its `webhook_code`, and the
/// schema of its body in Plaid's spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRef {
    pub webhook_type: String,
    pub webhook_code: String,
    pub schema: String,
}

/// Parses the webhooks list: one `TYPE CODE Schema` a line; `#` starts a comment.
pub fn parse_webhooks(text: &str) -> Result<Vec<WebhookRef>, Failure> {
    let mut out: Vec<WebhookRef> = Vec::new();
    let upper = |w: &str| {
        !w.is_empty()
            && w.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    };
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [ty, code, schema] = words[..] else {
            return Err(Failure(format!(
                "spec/webhooks.txt line {}: expected `TYPE CODE Schema`, found `{line}`",
                n + 1
            )));
        };
        if !upper(ty) || !upper(code) || !schema.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Failure(format!(
                "spec/webhooks.txt line {}: expected `TYPE CODE Schema`, found `{line}`",
                n + 1
            )));
        }
        if out
            .iter()
            .any(|w| w.webhook_type == ty && w.webhook_code == code)
        {
            return Err(Failure(format!(
                "spec/webhooks.txt line {}: `{ty} {code}` is listed twice",
                n + 1
            )));
        }
        out.push(WebhookRef {
            webhook_type: ty.to_string(),
            webhook_code: code.to_string(),
            schema: schema.to_string(),
        });
    }
    Ok(out)
}

/// Checks a listed webhook against its schema in Plaid's spec: the schema exists, has the
/// `webhook_type` and `webhook_code` fields, and its examples carry the listed type and code.
fn check_webhook(root: &Value, w: &WebhookRef, name: &str) -> Result<(), Failure> {
    let schema = root
        .pointer(&format!("/components/schemas/{}", w.schema))
        .ok_or_else(|| {
            Failure(format!(
                "webhook `{} {}`: schema `{}` is not in {name}",
                w.webhook_type, w.webhook_code, w.schema
            ))
        })?;
    for field in ["webhook_type", "webhook_code"] {
        if schema.pointer(&format!("/properties/{field}")).is_none() {
            return Err(Failure(format!(
                "webhook `{} {}`: schema `{}` has no `{field}` field",
                w.webhook_type, w.webhook_code, w.schema
            )));
        }
    }
    let examples = schema
        .get("x-examples")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|e| e.values());
    for example in examples {
        let found = (
            example.get("webhook_type").and_then(Value::as_str),
            example.get("webhook_code").and_then(Value::as_str),
        );
        if found != (Some(w.webhook_type.as_str()), Some(w.webhook_code.as_str())) {
            return Err(Failure(format!(
                "webhook `{} {}`: the examples of schema `{}` are `{} {}`",
                w.webhook_type,
                w.webhook_code,
                w.schema,
                found.0.unwrap_or("?"),
                found.1.unwrap_or("?")
            )));
        }
    }
    Ok(())
}

/// The project's own descriptions, applied to the fragment.
#[derive(Debug, Default)]
pub struct Descriptions {
    info: Option<String>,
    operations: BTreeMap<String, String>,
    /// Schema name → (its description, property path → description).
    schemas: BTreeMap<String, (Option<String>, BTreeMap<String, String>)>,
}

impl Descriptions {
    pub fn parse(text: &str) -> Result<Self, Failure> {
        let doc = parse_document(text, "spec/descriptions.yaml")?;
        let bad = |what: &str| Failure(format!("spec/descriptions.yaml: {what}"));
        let root = doc
            .as_object()
            .ok_or_else(|| bad("expected a mapping at the top"))?;
        let mut out = Descriptions::default();
        for (key, value) in root {
            match key.as_str() {
                "info" => out.info = Some(string(value).ok_or_else(|| bad("`info` must be text"))?),
                "operations" => {
                    let map = value
                        .as_object()
                        .ok_or_else(|| bad("`operations` must be a mapping"))?;
                    for (id, text) in map {
                        let text = string(text)
                            .ok_or_else(|| bad(&format!("operations.{id} must be text")))?;
                        out.operations.insert(id.clone(), text);
                    }
                }
                "schemas" => {
                    let map = value
                        .as_object()
                        .ok_or_else(|| bad("`schemas` must be a mapping"))?;
                    for (name, entry) in map {
                        let entry = entry
                            .as_object()
                            .ok_or_else(|| bad(&format!("schemas.{name} must be a mapping")))?;
                        let mut description = None;
                        let mut props = BTreeMap::new();
                        for (k, v) in entry {
                            match k.as_str() {
                                "description" => {
                                    description = Some(string(v).ok_or_else(|| {
                                        bad(&format!("schemas.{name}.description must be text"))
                                    })?)
                                }
                                "properties" => {
                                    let p = v.as_object().ok_or_else(|| {
                                        bad(&format!("schemas.{name}.properties must be a mapping"))
                                    })?;
                                    for (prop, text) in p {
                                        let text = string(text).ok_or_else(|| {
                                            bad(&format!(
                                                "schemas.{name}.properties.{prop} must be text"
                                            ))
                                        })?;
                                        props.insert(prop.clone(), text);
                                    }
                                }
                                other => {
                                    return Err(bad(&format!(
                                        "unknown key schemas.{name}.{other}"
                                    )));
                                }
                            }
                        }
                        out.schemas.insert(name.clone(), (description, props));
                    }
                }
                other => return Err(bad(&format!("unknown top-level key `{other}`"))),
            }
        }
        Ok(out)
    }
}

fn string(v: &Value) -> Option<String> {
    v.as_str().map(|s| s.trim_end().to_string())
}

/// The fragment's text, and what `spec/descriptions.yaml` lacked or had in excess.
#[derive(Debug)]
pub struct Extracted {
    pub text: String,
    /// One line each: `schemas.X.properties.y has no description (a neutral one was written)`.
    pub warnings: Vec<String>,
}

/// Reads the files named by `layout` and extracts the fragment from the spec at `from`.
pub fn extract_from_file(from: &Path, layout: &Layout) -> Result<Extracted, Failure> {
    let bytes =
        std::fs::read(from).map_err(|e| Failure(format!("cannot read {}: {e}", from.display())))?;
    let ops = read_text(&layout.operations()).and_then(|t| parse_operations(&t))?;
    let webhooks = read_text(&layout.webhooks()).and_then(|t| parse_webhooks(&t))?;
    let descriptions = read_text(&layout.descriptions()).and_then(|t| Descriptions::parse(&t))?;
    let name = from
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    extract(&bytes, &name, &ops, &webhooks, &descriptions)
}

fn read_text(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))
}

/// Extracts the fragment from the full spec's bytes; `name` names the input in errors.
pub fn extract(
    bytes: &[u8],
    name: &str,
    ops: &[OperationRef],
    webhooks: &[WebhookRef],
    descriptions: &Descriptions,
) -> Result<Extracted, Failure> {
    let sha256 = hex(&Sha256::digest(bytes));
    let text =
        std::str::from_utf8(bytes).map_err(|_| Failure(format!("{name} is not UTF-8 text")))?;
    let doc = parse_document(text, name)?;
    let root = doc
        .as_object()
        .ok_or_else(|| Failure(format!("{name} is not an OpenAPI document (not a mapping)")))?;
    match root.get("openapi") {
        Some(Value::String(v)) if v.starts_with("3.0.") => {}
        Some(Value::String(v)) => {
            return Err(Failure(format!(
                "{name} is OpenAPI {v}; only 3.0.x is supported"
            )));
        }
        _ => {
            return Err(Failure(format!(
                "{name} is not an OpenAPI 3.0.x document (no `openapi` version)"
            )));
        }
    }
    let info = root.get("info").and_then(Value::as_object);
    let upstream_version = info
        .and_then(|i| i.get("version"))
        .and_then(Value::as_str)
        .ok_or_else(|| Failure(format!("{name} has no info.version")))?;
    let title = info
        .and_then(|i| i.get("title"))
        .and_then(Value::as_str)
        .unwrap_or("Plaid API");

    // The selected operations, prose removed.
    let mut paths = Map::new();
    for op in ops {
        let found = root
            .get("paths")
            .and_then(|p| p.get(&op.path))
            .and_then(|item| item.get(&op.method))
            .ok_or_else(|| Failure(format!("operation `{op}` is not in {name}")))?;
        let mut operation = found.clone();
        strip_operation(&mut operation);
        let item = paths
            .entry(op.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(op.method.clone(), operation);
        }
    }

    // The listed webhooks: `TYPE CODE` → the schema of the body.
    let mut webhook_list = Vec::new();
    for w in webhooks {
        check_webhook(&doc, w, name)?;
        webhook_list.push(json!({
            "webhook_type": w.webhook_type,
            "webhook_code": w.webhook_code,
            "schema": { "$ref": format!("#/components/schemas/{}", w.schema) },
        }));
    }
    let webhook_list = Value::Array(webhook_list);

    // The closure of referenced components.
    let mut components: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let mut pending = Vec::new();
    collect_refs(&Value::Object(paths.clone()), &mut pending);
    collect_refs(&webhook_list, &mut pending);
    let mut seen = BTreeSet::new();
    while let Some(reference) = pending.pop() {
        if !seen.insert(reference.clone()) {
            continue;
        }
        let (kind, comp) = split_component_ref(&reference).ok_or_else(|| {
            Failure(format!(
                "$ref `{reference}` is not a local component reference"
            ))
        })?;
        let found = root
            .get("components")
            .and_then(|c| c.get(&kind))
            .and_then(|k| k.get(&comp))
            .ok_or_else(|| Failure(format!("$ref `{reference}` does not resolve in {name}")))?;
        let mut found = found.clone();
        match kind.as_str() {
            "schemas" => strip_schema(&mut found),
            "parameters" => strip_parameter(&mut found),
            "responses" => strip_response(&mut found, None),
            "requestBodies" => strip_request_body(&mut found),
            _ => strip_keys(&mut found),
        }
        collect_refs(&found, &mut pending);
        components.entry(kind).or_default().insert(comp, found);
    }

    // Security: the top-level requirement and every scheme it or an operation names.
    let security = root
        .get("security")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    let mut scheme_names = BTreeSet::new();
    let mut requirement_names = |requirements: &Value| {
        for req in requirements.as_array().into_iter().flatten() {
            for key in req.as_object().into_iter().flat_map(|o| o.keys()) {
                scheme_names.insert(key.clone());
            }
        }
    };
    requirement_names(&security);
    for item in paths.values() {
        for op in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(s) = op.get("security") {
                requirement_names(s);
            }
        }
    }
    for scheme in scheme_names {
        let mut found = root
            .get("components")
            .and_then(|c| c.get("securitySchemes"))
            .and_then(|s| s.get(&scheme))
            .cloned()
            .ok_or_else(|| {
                Failure(format!(
                    "security scheme `{scheme}` is not defined in {name}"
                ))
            })?;
        strip_keys(&mut found);
        components
            .entry("securitySchemes".into())
            .or_default()
            .insert(scheme, found);
    }

    // Servers: their URLs and one-word names.
    let servers: Vec<Value> = root
        .get("servers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| {
            let url = s.get("url")?.as_str()?;
            let mut server = Map::new();
            server.insert("url".into(), json!(url));
            Some(Value::Object(server))
        })
        .collect();

    let mut fragment_components = Map::new();
    for (kind, entries) in components {
        fragment_components.insert(kind, Value::Object(entries.into_iter().collect()));
    }
    let mut fragment = json!({
        "openapi": root.get("openapi").cloned().unwrap_or(Value::Null),
        "info": {
            "title": title,
            "version": upstream_version,
            "x-upstream": { "version": upstream_version, "sha256": sha256 },
        },
        "servers": servers,
        "security": security,
        "paths": Value::Object(paths),
        "components": Value::Object(fragment_components),
    });
    if !webhooks.is_empty()
        && let Value::Object(f) = &mut fragment
    {
        f.insert("x-webhooks".into(), webhook_list);
    }
    let warnings = apply_descriptions(&mut fragment, descriptions)?;
    Ok(Extracted {
        text: to_yaml(&fragment, HEADER)?,
        warnings,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Keys that carry prose or vendor extensions; dropped wherever a keyword may stand.
fn strip_keys(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|k, _| {
            !matches!(k.as_str(), "description" | "summary" | "externalDocs")
                && !k.starts_with("x-")
        });
    }
}

/// Removes prose from a schema, recursing only through keywords that hold schemas, so a
/// property that happens to be named `description` is kept.
pub fn strip_schema(schema: &mut Value) {
    strip_keys(schema);
    let Value::Object(map) = schema else { return };
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        props.values_mut().for_each(strip_schema);
    }
    for key in ["items", "not", "additionalProperties"] {
        if let Some(v @ Value::Object(_)) = map.get_mut(key) {
            strip_schema(v);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            list.iter_mut().for_each(strip_schema);
        }
    }
}

fn strip_media(content: &mut Value) {
    if let Value::Object(media) = content {
        for m in media.values_mut() {
            strip_keys(m);
            if let Some(schema) = m.get_mut("schema") {
                strip_schema(schema);
            }
        }
    }
}

fn strip_parameter(param: &mut Value) {
    strip_keys(param);
    if let Some(schema) = param.get_mut("schema") {
        strip_schema(schema);
    }
}

fn strip_request_body(body: &mut Value) {
    strip_keys(body);
    if let Some(content) = body.get_mut("content") {
        strip_media(content);
    }
}

/// OpenAPI requires a description on each response; the fragment's are our own few words.
fn strip_response(response: &mut Value, status: Option<&str>) {
    strip_keys(response);
    if let Value::Object(map) = response {
        if !map.contains_key("$ref") {
            let text = match status {
                Some(s) if s.starts_with('2') => "Success.",
                Some(_) => "A Plaid error.",
                None => "A response.",
            };
            map.insert("description".into(), json!(text));
        }
        if let Some(content) = map.get_mut("content") {
            strip_media(content);
        }
    }
}

fn strip_operation(op: &mut Value) {
    strip_keys(op);
    let Value::Object(map) = op else { return };
    if let Some(Value::Array(params)) = map.get_mut("parameters") {
        params.iter_mut().for_each(strip_parameter);
    }
    if let Some(body) = map.get_mut("requestBody") {
        strip_request_body(body);
    }
    if let Some(Value::Object(responses)) = map.get_mut("responses") {
        for (status, response) in responses.iter_mut() {
            strip_response(response, Some(status));
        }
    }
}

/// Puts the project's descriptions into the fragment. What has no description gets a neutral
/// one (its name and type, and that Plaid documents it); that, and a description that matches
/// nothing, comes back as a warning line.
fn apply_descriptions(fragment: &mut Value, d: &Descriptions) -> Result<Vec<String>, Failure> {
    let mut missing = Vec::new();
    let mut unused = Vec::new();
    let info = d.info.clone().unwrap_or_else(|| {
        missing.push("info".to_string());
        "A part of Plaid's API.".to_string()
    });
    fragment["info"]["description"] = json!(info);
    let mut used_ops = BTreeSet::new();
    if let Some(Value::Object(paths)) = fragment.get_mut("paths") {
        for (path, item) in paths.iter_mut() {
            for op in item
                .as_object_mut()
                .into_iter()
                .flat_map(|o| o.values_mut())
            {
                let Some(id) = op
                    .get("operationId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return Err(Failure(
                        "an operation in the fragment has no operationId".into(),
                    ));
                };
                let text = match d.operations.get(&id) {
                    Some(text) => {
                        used_ops.insert(id);
                        text.clone()
                    }
                    None => {
                        missing.push(format!("operations.{id}"));
                        format!("`POST {path}`, as Plaid documents it.")
                    }
                };
                op["description"] = json!(text);
            }
        }
    }
    unused.extend(
        d.operations
            .keys()
            .filter(|k| !used_ops.contains(*k))
            .map(|k| format!("operations.{k}")),
    );

    let mut used_schemas = BTreeSet::new();
    if let Some(Value::Object(schemas)) = fragment.pointer_mut("/components/schemas") {
        for (name, schema) in schemas.iter_mut() {
            let entry = d.schemas.get(name);
            let text = match entry.and_then(|(text, _)| text.as_ref()) {
                Some(text) => text.clone(),
                None => {
                    missing.push(format!("schemas.{name}.description"));
                    format!("`{name}`: {}, as Plaid documents it.", kind_of(schema))
                }
            };
            if let Value::Object(map) = schema {
                map.insert("description".into(), json!(text));
            }
            let empty = BTreeMap::new();
            let props = entry.map(|(_, p)| p).unwrap_or(&empty);
            let mut used = BTreeSet::new();
            describe_properties(schema, "", name, props, &mut used, &mut missing)?;
            unused.extend(
                props
                    .keys()
                    .filter(|k| !used.contains(*k))
                    .map(|k| format!("schemas.{name}.properties.{k}")),
            );
            used_schemas.insert(name.clone());
        }
    }
    unused.extend(
        d.schemas
            .keys()
            .filter(|k| !used_schemas.contains(*k))
            .map(|k| format!("schemas.{k}")),
    );

    let mut warnings: Vec<String> = missing
        .into_iter()
        .map(|m| format!("{m} has no description (a neutral one was written)"))
        .collect();
    warnings.extend(
        unused
            .into_iter()
            .map(|u| format!("{u} matches nothing in the fragment")),
    );
    Ok(warnings)
}

/// `an object`, `a string`, `a list of strings`, ... for a neutral description.
fn kind_of(schema: &Value) -> String {
    let ty = schema.get("type").and_then(Value::as_str);
    match ty {
        Some("array") => match schema.get("items") {
            Some(items) if items.get("$ref").is_some() => "a list".to_string(),
            Some(items) => match items.get("type").and_then(Value::as_str) {
                Some(t) => format!("a list of {}", plural(t)),
                None => "a list".to_string(),
            },
            None => "a list".to_string(),
        },
        Some("object") => "an object".to_string(),
        Some("integer") => "an integer".to_string(),
        Some(t) if schema.get("enum").is_some() => format!("one of a set of {}", plural(t)),
        Some(t) => format!("a {t}"),
        None if schema.get("properties").is_some() => "an object".to_string(),
        None => "a value".to_string(),
    }
}

fn plural(ty: &str) -> String {
    match ty {
        "object" => "objects".into(),
        "integer" => "integers".into(),
        "number" => "numbers".into(),
        "boolean" => "booleans".into(),
        "string" => "strings".into(),
        other => format!("{other} values"),
    }
}

/// Describes the inline properties below `schema`: `a` for a property, `a.b` for a property of
/// an inline object, `a[].b` for one of an inline array's items. A property that is a `$ref`
/// takes its documentation from the schema it names (OpenAPI 3.0 ignores keys beside `$ref`).
fn describe_properties(
    schema: &mut Value,
    prefix: &str,
    schema_name: &str,
    texts: &BTreeMap<String, String>,
    used: &mut BTreeSet<String>,
    missing: &mut Vec<String>,
) -> Result<(), Failure> {
    let Some(Value::Object(props)) = schema.get_mut("properties") else {
        return Ok(());
    };
    for (prop, value) in props.iter_mut() {
        let key = format!("{prefix}{prop}");
        if value.get("$ref").is_some() {
            if texts.contains_key(&key) {
                let target = value["$ref"]
                    .as_str()
                    .unwrap_or_default()
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                return Err(Failure(format!(
                    "spec/descriptions.yaml: schemas.{schema_name}.properties.{key} is a $ref; describe schemas.{target} instead"
                )));
            }
            continue;
        }
        let text = match texts.get(&key) {
            Some(text) => {
                used.insert(key.clone());
                text.clone()
            }
            None => {
                missing.push(format!("schemas.{schema_name}.properties.{key}"));
                format!("`{prop}`: {}, as Plaid documents it.", kind_of(value))
            }
        };
        if let Value::Object(map) = value {
            map.insert("description".into(), json!(text));
        }
        describe_properties(value, &format!("{key}."), schema_name, texts, used, missing)?;
        if let Some(items) = value.get_mut("items") {
            describe_properties(
                items,
                &format!("{key}[]."),
                schema_name,
                texts,
                used,
                missing,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = r##"
openapi: 3.0.0
info: {title: T, version: "2020-09-14_1.0.0", description: Upstream words.}
servers: [{url: "https://sandbox.example", description: Sandbox}]
security: [{clientId: []}]
paths:
  /thing/create:
    post:
      operationId: thingCreate
      summary: Upstream summary.
      description: Upstream operation prose.
      externalDocs: {url: /docs}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/ThingRequest'}
      responses:
        "200":
          description: OK
          content:
            application/json:
              schema: {$ref: '#/components/schemas/ThingResponse'}
        default:
          description: Error response
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Err'}
  /other:
    post:
      operationId: other
      responses:
        "200": {description: OK, content: {application/json: {schema: {$ref: '#/components/schemas/Unused'}}}}
components:
  securitySchemes:
    clientId: {type: apiKey, in: header, name: PLAID-CLIENT-ID, description: Upstream.}
    unusedScheme: {type: apiKey, in: header, name: X}
  schemas:
    ThingRequest:
      type: object
      description: Upstream schema prose.
      x-hidden-from-docs: true
      properties:
        description: {type: string, description: A property named description.}
        kind: {type: string, enum: [a, b], description: Upstream.}
        nested:
          type: object
          properties:
            inner: {type: integer, description: Upstream.}
        token: {$ref: '#/components/schemas/Token'}
      required: [kind]
    Token: {type: string, description: Upstream.}
    ThingResponse:
      type: object
      properties:
        id: {type: string, example: abc}
    Err:
      type: object
      nullable: true
      properties:
        code: {type: string}
    Unused: {type: string}
    ThingWebhook:
      type: object
      properties:
        webhook_type: {type: string}
        webhook_code: {type: string}
        thing: {$ref: '#/components/schemas/WebhookThing'}
      x-examples:
        example-1: {webhook_type: THING, webhook_code: MADE, thing: x}
    WebhookThing: {type: string, description: Upstream.}
"##;

    const DESCRIPTIONS: &str = r#"
info: Our fragment.
operations:
  thingCreate: Creates a thing.
schemas:
  ThingRequest:
    description: Our request.
    properties:
      description: Our words for a field named description.
      kind: Our kind.
      nested: Our nested object.
      nested.inner: Our inner number.
  Token: {description: Our token.}
  ThingResponse: {description: Our response., properties: {id: Our id.}}
  Err: {description: Our error., properties: {code: Our code.}}
"#;

    fn ops() -> Vec<OperationRef> {
        parse_operations("# the list\nPOST /thing/create\n").expect("ops")
    }

    fn run(spec: &str, descriptions: &str) -> Result<String, Failure> {
        let extracted = run_with_warnings(spec, descriptions)?;
        assert_eq!(extracted.warnings, Vec::<String>::new());
        Ok(extracted.text)
    }

    fn run_with_warnings(spec: &str, descriptions: &str) -> Result<Extracted, Failure> {
        extract(
            spec.as_bytes(),
            "in.yml",
            &ops(),
            &[],
            &Descriptions::parse(descriptions).expect("descriptions"),
        )
    }

    fn fragment() -> Value {
        parse_document(&run(SPEC, DESCRIPTIONS).expect("extract"), "out").expect("yaml")
    }

    #[test]
    fn webhooks_list_is_validated() {
        let w = parse_webhooks("# list\nITEM ERROR ItemErrorWebhook\n\nAUTH DEFAULT_UPDATE X1\n")
            .expect("parses");
        assert_eq!(w.len(), 2);
        assert_eq!(
            (
                w[1].webhook_type.as_str(),
                w[1].webhook_code.as_str(),
                w[1].schema.as_str()
            ),
            ("AUTH", "DEFAULT_UPDATE", "X1")
        );
        assert_eq!(parse_webhooks("").expect("empty is fine"), vec![]);
        for (bad, says) in [
            ("ITEM ERROR", "line 1: expected `TYPE CODE Schema`"),
            ("item ERROR S", "line 1: expected"),
            ("ITEM ERROR S extra", "line 1: expected"),
            ("ITEM ERROR Not-A-Name", "line 1: expected"),
            (
                "ITEM ERROR A\nITEM ERROR B",
                "line 2: `ITEM ERROR` is listed twice",
            ),
        ] {
            let Failure(msg) = parse_webhooks(bad).expect_err(bad);
            assert!(msg.contains(says), "{bad}: {msg}");
        }
    }

    #[test]
    fn listed_webhooks_bring_their_schemas_and_are_checked_against_examples() {
        let d = Descriptions::parse(&format!(
            "{DESCRIPTIONS}  ThingWebhook: {{description: Our webhook., properties: \
             {{webhook_type: Our type., webhook_code: Our code.}}}}\n  \
             WebhookThing: {{description: Our thing.}}\n"
        ))
        .expect("descriptions");
        let list = parse_webhooks("THING MADE ThingWebhook").expect("list");
        let out = extract(SPEC.as_bytes(), "in.yml", &ops(), &list, &d).expect("extracts");
        assert_eq!(out.warnings, Vec::<String>::new());
        let f = parse_document(&out.text, "out").expect("yaml");
        assert_eq!(
            f["x-webhooks"],
            json!([{"webhook_type": "THING", "webhook_code": "MADE",
                    "schema": {"$ref": "#/components/schemas/ThingWebhook"}}])
        );
        assert!(f["components"]["schemas"]["WebhookThing"].is_object());
        assert!(f["components"]["schemas"]["ThingWebhook"]["x-examples"].is_null());

        for (line, says) in [
            (
                "THING BROKEN ThingWebhook",
                "the examples of schema `ThingWebhook` are `THING MADE`",
            ),
            ("THING MADE Missing", "schema `Missing` is not in in.yml"),
            (
                "THING MADE Token",
                "schema `Token` has no `webhook_type` field",
            ),
        ] {
            let list = parse_webhooks(line).expect("list");
            let Failure(msg) =
                extract(SPEC.as_bytes(), "in.yml", &ops(), &list, &d).expect_err(line);
            assert!(msg.contains(says), "{line}: {msg}");
        }
        // Without webhooks, the fragment has no list at all.
        assert!(fragment().get("x-webhooks").is_none());
    }

    #[test]
    fn keeps_the_closure_and_nothing_else() {
        let f = fragment();
        let schemas: Vec<&String> = f["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
            .collect();
        assert_eq!(schemas, ["Err", "ThingRequest", "ThingResponse", "Token"]);
        let schemes: Vec<&String> = f["components"]["securitySchemes"]
            .as_object()
            .expect("schemes")
            .keys()
            .collect();
        assert_eq!(schemes, ["clientId"]);
        assert!(f["paths"].get("/other").is_none());
        assert_eq!(f["servers"], json!([{"url": "https://sandbox.example"}]));
    }

    #[test]
    fn keeps_structure_and_replaces_all_prose() {
        let f = fragment();
        let text = serde_json::to_string(&f).expect("json");
        for upstream in ["Upstream", "OK\"", "Error response", "/docs", "x-hidden"] {
            assert!(!text.contains(upstream), "`{upstream}` survived: {text}");
        }
        let req = &f["components"]["schemas"]["ThingRequest"];
        assert_eq!(req["description"], "Our request.");
        assert_eq!(
            req["properties"]["description"]["description"],
            "Our words for a field named description."
        );
        assert_eq!(req["properties"]["kind"]["enum"], json!(["a", "b"]));
        assert_eq!(
            req["properties"]["nested"]["properties"]["inner"]["description"],
            "Our inner number."
        );
        assert_eq!(req["required"], json!(["kind"]));
        assert_eq!(f["components"]["schemas"]["Err"]["nullable"], true);
        assert_eq!(
            f["components"]["schemas"]["ThingResponse"]["properties"]["id"]["example"],
            "abc"
        );
        let op = &f["paths"]["/thing/create"]["post"];
        assert_eq!(op["description"], "Creates a thing.");
        assert!(op.get("summary").is_none());
        assert_eq!(op["responses"]["200"]["description"], "Success.");
    }

    #[test]
    fn records_provenance() {
        let f = fragment();
        assert_eq!(f["info"]["x-upstream"]["version"], "2020-09-14_1.0.0");
        let sha = f["info"]["x-upstream"]["sha256"].as_str().expect("sha");
        assert_eq!(sha, hex(&Sha256::digest(SPEC.as_bytes())));
        assert_eq!(sha.len(), 64);
    }

    #[test]
    fn same_input_same_bytes() {
        assert_eq!(
            run(SPEC, DESCRIPTIONS).expect("a"),
            run(SPEC, DESCRIPTIONS).expect("b")
        );
    }

    #[test]
    fn missing_descriptions_get_neutral_ones_and_warnings() {
        let without = DESCRIPTIONS
            .replace("      kind: Our kind.\n", "")
            .replace("  Token: {description: Our token.}\n", "")
            .replace("  thingCreate: Creates a thing.\n", "  {}\n");
        let out = run_with_warnings(SPEC, &without.replace("operations:\n  {}\n", ""))
            .expect("extracts all the same");
        assert_eq!(
            out.warnings,
            [
                "operations.thingCreate has no description (a neutral one was written)",
                "schemas.ThingRequest.properties.kind has no description (a neutral one was written)",
                "schemas.Token.description has no description (a neutral one was written)",
            ]
        );
        let f = parse_document(&out.text, "out").expect("yaml");
        let request = &f["components"]["schemas"]["ThingRequest"]["properties"];
        assert_eq!(
            request["kind"]["description"],
            "`kind`: one of a set of strings, as Plaid documents it."
        );
        assert_eq!(
            f["components"]["schemas"]["Token"]["description"],
            "`Token`: a string, as Plaid documents it."
        );
        assert_eq!(
            f["paths"]["/thing/create"]["post"]["description"],
            "`POST /thing/create`, as Plaid documents it."
        );
        // What the project did describe is still there.
        assert_eq!(request["nested"]["description"], "Our nested object.");
    }

    #[test]
    fn unused_descriptions_are_warnings_and_refs_are_errors() {
        let extra = format!("{DESCRIPTIONS}  Ghost: {{description: Nothing.}}\n");
        let out = run_with_warnings(SPEC, &extra).expect("extracts");
        assert_eq!(
            out.warnings,
            ["schemas.Ghost matches nothing in the fragment"]
        );
        let on_ref = DESCRIPTIONS.replace(
            "      kind: Our kind.\n",
            "      kind: Our kind.\n      token: On a ref.\n",
        );
        let Failure(msg) = run(SPEC, &on_ref).expect_err("ref");
        assert!(msg.contains("describe schemas.Token instead"), "{msg}");
    }

    #[test]
    fn bad_inputs_are_one_line_errors() {
        let d = Descriptions::parse(DESCRIPTIONS).expect("d");
        let cases: [(&[u8], &str); 5] = [
            (b"a: [", "is not YAML or JSON"),
            (b"\xff\xfe", "is not UTF-8"),
            (
                b"openapi: 3.1.0\ninfo: {version: x}\n",
                "is OpenAPI 3.1.0; only 3.0.x",
            ),
            (b"swagger: '2.0'\n", "not an OpenAPI 3.0.x document"),
            (b"- a list\n", "not a mapping"),
        ];
        for (input, expected) in cases {
            let Failure(msg) = extract(input, "in.yml", &ops(), &[], &d).expect_err(expected);
            assert!(msg.contains(expected), "{expected}: {msg}");
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
        let missing_op = parse_operations("GET /nope").expect("ops");
        let Failure(msg) =
            extract(SPEC.as_bytes(), "in.yml", &missing_op, &[], &d).expect_err("op");
        assert_eq!(msg, "operation `GET /nope` is not in in.yml");
        let dangling = SPEC.replace("    Token: {type: string, description: Upstream.}\n", "");
        let Failure(msg) = run(&dangling, DESCRIPTIONS).expect_err("dangling");
        assert_eq!(
            msg,
            "$ref `#/components/schemas/Token` does not resolve in in.yml"
        );
    }

    #[test]
    fn operations_list_is_validated() {
        assert!(parse_operations("").is_err());
        assert!(parse_operations("POST").is_err());
        assert!(parse_operations("FETCH /x").is_err());
        assert!(parse_operations("POST x").is_err());
        assert!(parse_operations("POST /x\npost /x a").is_err());
        assert!(parse_operations("POST /x a-b").is_err());
        assert_eq!(
            parse_operations("POST /x b a # c").expect("ok")[0].arguments,
            ["b", "a"]
        );
        assert_eq!(
            parse_operations("post /x # c").expect("ok")[0].to_string(),
            "POST /x"
        );
    }

    #[test]
    fn a_missing_file_is_reported_and_nothing_written() {
        let dir = std::env::temp_dir().join(format!("xtask-spec-{}", std::process::id()));
        let layout = Layout { root: dir.clone() };
        let Failure(msg) = extract_from_file(&dir.join("absent.yml"), &layout).expect_err("absent");
        assert!(msg.starts_with("cannot read "), "{msg}");
        assert!(!layout.fragment().exists());
    }

    /// Every `description` string in a document, at any depth.
    fn descriptions_in(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match v {
                        Value::String(text) if k == "description" => out.push(text.clone()),
                        _ => descriptions_in(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| descriptions_in(v, out)),
            _ => {}
        }
    }

    /// Needs Plaid's published spec beside the repository (`../shared/`), which a fresh clone
    /// has not: ignored unless asked for; asked for without it, it fails.
    #[test]
    #[ignore = "needs ../shared/plaid-openapi/2020-09-14.yml"]
    fn committed_fragment_is_what_plaids_spec_gives_and_holds_none_of_its_prose() {
        let layout = Layout::from_manifest_dir();
        let upstream = layout.root.join("../shared/plaid-openapi/2020-09-14.yml");
        assert!(
            upstream.exists(),
            "{} is absent (a fresh clone has no ../shared)",
            upstream.display()
        );
        let expected = extract_from_file(&upstream, &layout).expect("extract").text;
        let committed = std::fs::read_to_string(layout.fragment()).expect("committed fragment");
        assert!(
            expected == committed,
            "spec/plaid.yaml is stale: run `cargo xtask spec --from {}`",
            upstream.display()
        );

        let text = std::fs::read_to_string(&upstream).expect("upstream");
        let doc = parse_document(&text, "upstream").expect("parse");
        let mut prose = Vec::new();
        descriptions_in(&doc, &mut prose);
        assert!(
            prose.len() > 1000,
            "the upstream spec is full of descriptions"
        );
        for sentence in prose.iter().flat_map(|d| d.split(". ")).map(str::trim) {
            if sentence.split_whitespace().count() >= 5 {
                assert!(
                    !committed.contains(sentence),
                    "upstream prose in the fragment: {sentence}"
                );
            }
        }
    }
}
