//! Transforms applied to the fragment before progenitor sees it: each mends one thing that
//! progenitor 0.15 cannot take from Plaid's spec as it is. They work on the document as a
//! JSON value, so each is a small pure function with tests on a small spec.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::Failure;
use crate::value::{collect_refs, reachable_schemas, split_component_ref};

/// Response keys progenitor reads as success.
fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn operations_mut(doc: &mut Value) -> impl Iterator<Item = &mut Map<String, Value>> {
    doc.get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(Value::as_object_mut)
}

fn operations(doc: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    doc.get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| item.values())
        .filter_map(Value::as_object)
}

fn schemas_mut(doc: &mut Value) -> Option<&mut Map<String, Value>> {
    doc.pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
}

/// Trap: an operation with a 2xx response and a `default` makes progenitor assert (two
/// response types for one outcome). Plaid's `default` is its error, so it becomes the `4XX`
/// and `5XX` responses, which progenitor turns into `Error::ErrorResponse`.
pub fn default_error_to_ranges(doc: &mut Value) {
    for op in operations_mut(doc) {
        let Some(Value::Object(responses)) = op.get_mut("responses") else {
            continue;
        };
        if !responses.keys().any(|k| is_success(k)) {
            continue;
        }
        if let Some(default) = responses.remove("default") {
            for range in ["4XX", "5XX"] {
                responses.entry(range).or_insert_with(|| default.clone());
            }
        }
    }
}

/// Every property schema in the document: each value of a `properties` map and each
/// `items`, at any depth below component schemas.
fn for_each_property(schema: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    let Value::Object(map) = schema else { return };
    if let Some(Value::Object(props)) = map.get_mut("properties") {
        for prop in props.values_mut() {
            f(prop);
            for_each_property(prop, f);
        }
    }
    if let Some(items @ Value::Object(_)) = map.get_mut("items") {
        f(items);
        for_each_property(items, f);
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            for s in list {
                for_each_property(s, f);
            }
        }
    }
}

/// Traps: `nullable: true` on a named schema makes typify wrap the type itself in `Option`
/// (a newtype `X(Option<X>)` that does not even compile when the name is reused), and a `null`
/// among enum values is not a value. Nullability belongs to where the schema is used: the flag
/// leaves the named schema (and `null` its enum), and every property that refers to it becomes
/// `{allOf: [$ref], nullable: true}`, an `Option` of the named type. An error response that
/// refers to `PlaidError` directly is not a property, so it stays non-null there.
pub fn nullable_to_use_sites(doc: &mut Value) {
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    let mut nullable = BTreeSet::new();
    for (name, schema) in schemas.iter_mut() {
        let Value::Object(map) = schema else { continue };
        if map.remove("nullable") == Some(Value::Bool(true)) {
            nullable.insert(format!("#/components/schemas/{name}"));
        }
        if let Some(Value::Array(values)) = map.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
    }
    if nullable.is_empty() {
        return;
    }
    for schema in schemas.values_mut() {
        for_each_property(schema, &mut |prop| {
            let target = prop.get("$ref").and_then(Value::as_str).map(str::to_string);
            if let Some(target) = target.filter(|t| nullable.contains(t)) {
                *prop = json!({ "allOf": [{ "$ref": target }], "nullable": true });
            }
        });
    }
}

/// One inline property schema that becomes a named component schema.
#[derive(Debug, Clone, Copy)]
pub struct Hoist {
    pub schema: &'static str,
    pub property: &'static str,
    pub name: &'static str,
}

/// Moves inline property schemas into `components/schemas` and refers to them by `$ref`, so
/// that a handwritten type can replace them (typify replaces named schemas only). When the
/// name exists already, the inline schema must have the same type: then it is only referred to.
pub fn hoist(doc: &mut Value, hoists: &[Hoist]) -> Result<(), Failure> {
    for h in hoists {
        let schemas = schemas_mut(doc)
            .ok_or_else(|| Failure("the fragment has no components/schemas".into()))?;
        // A schema the fragment does not have (its operation is not listed) is skipped; a
        // property missing from a schema it has means Plaid's spec changed, and fails.
        let Some(schema) = schemas.get_mut(h.schema) else {
            continue;
        };
        let property = Some(schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(h.property))
            .ok_or_else(|| {
                Failure(format!(
                    "cannot hoist {}.{}: no such property",
                    h.schema, h.property
                ))
            })?;
        if property.get("$ref").is_some() {
            continue;
        }
        let inline = std::mem::replace(
            property,
            json!({ "$ref": format!("#/components/schemas/{}", h.name) }),
        );
        match schemas.get(h.name) {
            Some(existing) if existing.get("type") == inline.get("type") => {}
            Some(_) => {
                return Err(Failure(format!(
                    "cannot hoist {}.{} to `{}`: a schema of another type has that name",
                    h.schema, h.property, h.name
                )));
            }
            None => {
                schemas.insert(h.name.to_string(), inline);
            }
        }
    }
    Ok(())
}

/// Removes credential properties (`client_id`, `secret`) from every schema a request body
/// refers to: credentials travel in headers, and a field in the request type would invite
/// putting them in the body.
pub fn strip_request_fields(doc: &mut Value, fields: &[&str]) {
    let mut names = BTreeSet::new();
    for op in operations(doc) {
        if let Some(body) = op.get("requestBody") {
            let mut refs = Vec::new();
            collect_refs(body, &mut refs);
            names.extend(
                refs.iter()
                    .filter_map(|r| split_component_ref(r))
                    .map(|(_, n)| n),
            );
        }
    }
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    for name in names {
        let Some(Value::Object(schema)) = schemas.get_mut(&name) else {
            continue;
        };
        if let Some(Value::Object(props)) = schema.get_mut("properties") {
            props.retain(|k, _| !fields.contains(&k.as_str()));
        }
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|v| !v.as_str().is_some_and(|s| fields.contains(&s)));
        }
    }
}

/// Trap: every inline string enum becomes a closed Rust enum, and a value Plaid adds later
/// fails the whole response. Each one is hoisted to a named schema
/// (`<Schema><Property>`, PascalCase) so the generator can make it open like the others.
pub fn hoist_inline_enums(doc: &mut Value) -> Result<(), Failure> {
    let mut hoists: Vec<(String, String, String)> = Vec::new();
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                continue;
            };
            for (prop, value) in props {
                if value.get("enum").is_some()
                    && value.get("type").and_then(Value::as_str) == Some("string")
                {
                    hoists.push((
                        name.clone(),
                        prop.clone(),
                        format!("{name}{}", pascal(prop)),
                    ));
                }
            }
        }
    }
    let schemas =
        schemas_mut(doc).ok_or_else(|| Failure("the fragment has no components/schemas".into()))?;
    for (schema, prop, new_name) in hoists {
        if schemas.contains_key(&new_name) {
            return Err(Failure(format!(
                "cannot hoist {schema}.{prop}: `{new_name}` exists"
            )));
        }
        let Some(slot) = schemas
            .get_mut(&schema)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut(&prop))
        else {
            continue;
        };
        let mut inline = std::mem::replace(
            slot,
            json!({ "$ref": format!("#/components/schemas/{new_name}") }),
        );
        if let Value::Object(map) = &mut inline {
            // A nullable inline enum keeps its nullability at the use site.
            if map.remove("nullable") == Some(Value::Bool(true)) {
                *slot = json!({ "allOf": [{ "$ref": format!("#/components/schemas/{new_name}") }], "nullable": true });
            }
        }
        schemas.insert(new_name, inline);
    }
    Ok(())
}

/// Trap: typify names an inline object after where it sits, with rules of its own, so nothing
/// outside the generated code could tell which Rust type a schema became. Every inline object
/// (a property's, or the items of a property's array) is hoisted to a named schema,
/// `<Schema><Property>` (`<Schema><Property>Item` for array items), until none is left: each
/// struct of the generated code is then exactly one named schema. Inline enums among array
/// items are hoisted the same way, so that they become open enums too.
pub fn hoist_inline_objects(doc: &mut Value) -> Result<(), Failure> {
    fn is_object(v: &Value) -> bool {
        v.get("$ref").is_none()
            && (v.get("properties").is_some()
                || v.get("type").and_then(Value::as_str) == Some("object")
                    && v.get("additionalProperties").is_none()
                    && v.get("allOf").is_none())
    }
    fn is_enum(v: &Value) -> bool {
        v.get("enum").is_some() && v.get("type").and_then(Value::as_str) == Some("string")
    }
    loop {
        // (schema, property, whether the array's items, new name)
        let mut hoists: Vec<(String, String, bool, String)> = Vec::new();
        for (name, schema) in doc
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            for (prop, value) in schema
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if is_object(value) {
                    hoists.push((
                        name.clone(),
                        prop.clone(),
                        false,
                        format!("{name}{}", pascal(prop)),
                    ));
                } else if let Some(items) = value.get("items")
                    && (is_object(items) || is_enum(items))
                {
                    hoists.push((
                        name.clone(),
                        prop.clone(),
                        true,
                        format!("{name}{}Item", pascal(prop)),
                    ));
                }
            }
        }
        if hoists.is_empty() {
            return Ok(());
        }
        let schemas = schemas_mut(doc)
            .ok_or_else(|| Failure("the fragment has no components/schemas".into()))?;
        for (schema, prop, items, new_name) in hoists {
            if schemas.contains_key(&new_name) {
                return Err(Failure(format!(
                    "cannot hoist {schema}.{prop}: `{new_name}` exists"
                )));
            }
            let Some(mut slot) = schemas
                .get_mut(&schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(&prop))
            else {
                continue;
            };
            if items {
                match slot.get_mut("items") {
                    Some(inner) => slot = inner,
                    None => continue,
                }
            }
            let reference = json!({ "$ref": format!("#/components/schemas/{new_name}") });
            let mut inline = std::mem::replace(slot, reference.clone());
            if let Value::Object(map) = &mut inline
                && map.remove("nullable") == Some(Value::Bool(true))
            {
                *slot = json!({ "allOf": [reference], "nullable": true });
            }
            schemas.insert(new_name, inline);
        }
    }
}

/// Fields that hold a secret by their name, wherever they stand: an inline string property of
/// that name (or a list of them) refers to the named secret schema instead, so that it gets
/// the redacted handwritten type. (field, schema)
pub fn secret_fields_by_name(doc: &mut Value, fields: &[(&str, &str)]) {
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    let plain_string = |v: &Value| {
        v.get("type").and_then(Value::as_str) == Some("string")
            && v.get("enum").is_none()
            && v.get("$ref").is_none()
    };
    let mut needed = BTreeSet::new();
    for schema in schemas.values_mut() {
        let Some(Value::Object(props)) = schema.get_mut("properties") else {
            continue;
        };
        for (name, prop) in props.iter_mut() {
            let Some((_, target)) = fields.iter().find(|(f, _)| f == name) else {
                continue;
            };
            let reference = json!({ "$ref": format!("#/components/schemas/{target}") });
            let is_array = prop.get("type").and_then(Value::as_str) == Some("array");
            let slot = match prop.get_mut("items") {
                Some(items) if is_array => items,
                _ => prop,
            };
            if plain_string(slot) {
                let nullable = slot.get("nullable") == Some(&Value::Bool(true));
                *slot = if nullable {
                    json!({ "allOf": [reference], "nullable": true })
                } else {
                    reference
                };
                needed.insert(target.to_string());
            }
        }
    }
    for target in needed {
        schemas
            .entry(target)
            .or_insert_with(|| json!({ "type": "string" }));
    }
}

/// Trap: YAML reads an unquoted `4.1` or `3` as a number, so a `type: string` enum written
/// that way (Plaid's score versions) holds numbers, which neither typify nor the open enums
/// take. They become the text they were written as.
pub fn enum_values_as_text(doc: &mut Value) {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("string")
                    && let Some(Value::Array(values)) = map.get_mut("enum")
                {
                    for value in values.iter_mut() {
                        if let Value::Number(n) = value {
                            *value = Value::String(n.to_string());
                        }
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(components) = doc.get_mut("components") {
        walk(components);
    }
}

/// Values of our own added to string enums of the spec (`GATEWAY_ERROR`, the `error_type` of
/// plaid-gateway's refusals, to `PlaidErrorType`), so that they parse as known values. A value
/// the enum has already is not added twice; a schema that is not a string enum is an error.
pub fn extend_enums(doc: &mut Value, values: &[(&str, &str)]) -> Result<(), Failure> {
    for (schema, value) in values {
        let Some(Value::Array(known)) = doc
            .pointer_mut(&format!("/components/schemas/{schema}"))
            .and_then(|s| s.get_mut("enum"))
        else {
            return Err(Failure(format!(
                "cannot add `{value}` to `{schema}`: it is not a string enum of the fragment"
            )));
        };
        if !known.iter().any(|v| v.as_str() == Some(*value)) {
            known.push(Value::String((*value).to_string()));
        }
    }
    Ok(())
}

/// Named schemas that are only a string, number, boolean or list (`RequestID`, `NewUserID`,
/// a list of account subtypes) would each become a newtype (`RequestId(String)`) that takes
/// no `&str` and reads worse than what it wraps. Every use of one is replaced by a copy of it
/// (its constraints and nullability included, its prose not), so fields are plain `String`,
/// numbers and `Vec`s. Enums and the schemas in `keep` (replaced by handwritten types) stay.
pub fn inline_plain_schemas(doc: &mut Value, keep: &[&str]) {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    else {
        return;
    };
    let plain: Map<String, Value> = schemas
        .iter()
        .filter(|(name, s)| {
            !keep.contains(&name.as_str())
                && s.get("enum").is_none()
                && matches!(
                    s.get("type").and_then(Value::as_str),
                    Some("string" | "integer" | "number" | "boolean" | "array")
                )
                && ["properties", "allOf", "anyOf", "oneOf", "$ref"]
                    .iter()
                    .all(|k| s.get(*k).is_none())
        })
        .map(|(name, s)| {
            let mut copy = s.clone();
            if let Value::Object(map) = &mut copy {
                map.remove("description");
                map.remove("title");
            }
            (format!("#/components/schemas/{name}"), copy)
        })
        .collect();
    if plain.is_empty() {
        return;
    }
    let inline = |prop: &mut Value| {
        let target = prop.get("$ref").and_then(Value::as_str).map(str::to_string);
        if let Some(copy) = target.and_then(|t| plain.get(&t)) {
            *prop = copy.clone();
            return;
        }
        // `{allOf: [$ref], nullable: true}` as a nullable hoist writes it.
        let nullable = prop.get("nullable") == Some(&Value::Bool(true));
        let only = match prop
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([only]) => only.get("$ref").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(copy) = only.and_then(|t| plain.get(&t)) {
            let mut copy = copy.clone();
            if nullable {
                copy["nullable"] = Value::Bool(true);
            }
            *prop = copy;
        }
    };
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    // Twice: a plain list's items may refer to another plain schema.
    for _ in 0..2 {
        for schema in schemas.values_mut() {
            for_each_property(schema, &mut |p| inline(p));
            if let Some(items) = schema.get_mut("items") {
                inline(items);
            }
        }
    }
}

/// The validation keywords the SDK checks itself before sending (lengths, item counts,
/// ranges, patterns). typify would turn them into newtypes that take neither `&str` nor a
/// plain number, and that refuse a response Plaid sends outside its own bounds; without them
/// fields are plain `String`, `Vec` and numbers. Applied to what progenitor sees only: the
/// operation model reads the keywords first.
pub fn strip_validation_keywords(doc: &mut Value) {
    const KEYWORDS: [&str; 10] = [
        "minLength",
        "maxLength",
        "pattern",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "uniqueItems",
    ];
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                // Only where a schema stands: a keyword's name used as a property name stays.
                if map.contains_key("type") || map.contains_key("$ref") || map.contains_key("enum")
                {
                    for k in KEYWORDS {
                        map.remove(k);
                    }
                }
                for (key, child) in map.iter_mut() {
                    if key == "properties" {
                        if let Value::Object(props) = child {
                            props.values_mut().for_each(walk);
                        }
                    } else {
                        walk(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(components) = doc.get_mut("components") {
        walk(components);
    }
}

/// `update_type` → `UpdateType`.
fn pascal(s: &str) -> String {
    s.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Trap: `format: date` and `date-time` make typify reach for `chrono`, and a timestamp Plaid
/// formats in a way chrono does not read would fail the whole response. They stay strings
/// (ISO 8601 text, documented on each field); callers parse them with the crate they use.
/// The format stays as `x-plaid-format`, which no generator reads, for the operation model.
pub fn dates_as_strings(doc: &mut Value) {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(map) => {
                if map.get("type").and_then(Value::as_str) == Some("string")
                    && matches!(
                        map.get("format").and_then(Value::as_str),
                        Some("date" | "date-time")
                    )
                {
                    // Kept under a name no generator reads, for the model (the console's
                    // snippets in typed languages need to know a date).
                    if let Some(format) = map.remove("format") {
                        map.insert("x-plaid-format".into(), format);
                    }
                }
                map.values_mut().for_each(walk);
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(components) = doc.get_mut("components") {
        walk(components);
    }
}

/// Trap: an optional field with a `default` is always serialized, so every request would
/// send Plaid's defaults back to it (and a nullable one with a default cannot be left out).
/// Defaults are Plaid's to apply; they are dropped from the schemas.
pub fn drop_defaults(doc: &mut Value) {
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    for schema in schemas.values_mut() {
        if let Value::Object(map) = schema {
            map.remove("default");
        }
        for_each_property(schema, &mut |prop| {
            if let Value::Object(map) = prop {
                map.remove("default");
            }
        });
    }
}

/// Trap: a field that is required and nullable becomes an `Option` whose key must be present,
/// so a response that leaves out a null field fails. In schemas that responses reach, such
/// fields are made optional: missing and null both read as `None`.
pub fn lenient_nullable_in_responses(doc: &mut Value) {
    let mut pending = Vec::new();
    for op in operations(doc) {
        if let Some(Value::Object(responses)) = op.get("responses") {
            for (status, response) in responses {
                if is_success(status) {
                    collect_refs(response, &mut pending);
                }
            }
        }
    }
    // Webhook bodies come from Plaid too.
    if let Some(webhooks) = doc.get("x-webhooks") {
        collect_refs(webhooks, &mut pending);
    }
    let reached = reachable_schemas(doc, pending);
    let Some(schemas) = schemas_mut(doc) else {
        return;
    };
    for name in reached {
        let Some(Value::Object(schema)) = schemas.get_mut(&name) else {
            continue;
        };
        let nullable: BTreeSet<String> = schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, p)| p.get("nullable") == Some(&Value::Bool(true)))
            .map(|(k, _)| k.clone())
            .collect();
        if let Some(Value::Array(required)) = schema.get_mut("required") {
            required.retain(|r| !r.as_str().is_some_and(|r| nullable.contains(r)));
        }
    }
}

/// Drops component schemas that no operation or listed webhook reaches (left over after the
/// transforms above), so no dead type is generated.
pub fn prune_unreferenced_schemas(doc: &mut Value) {
    let mut pending = Vec::new();
    for roots in ["paths", "x-webhooks"] {
        if let Some(found) = doc.get(roots) {
            collect_refs(found, &mut pending);
        }
    }
    let reached = reachable_schemas(doc, pending);
    if let Some(schemas) = schemas_mut(doc) {
        schemas.retain(|name, _| reached.contains(name));
    }
}

#[cfg(test)]
mod extend_tests {
    use super::*;

    #[test]
    fn enums_gain_our_values_once_and_a_missing_enum_fails() {
        let mut doc = json!({"components": {"schemas": {
            "PlaidErrorType": {"type": "string", "enum": ["API_ERROR", "ITEM_ERROR"]},
            "Plain": {"type": "string"},
        }}});
        extend_enums(&mut doc, &[("PlaidErrorType", "GATEWAY_ERROR")]).expect("added");
        extend_enums(&mut doc, &[("PlaidErrorType", "GATEWAY_ERROR")]).expect("again");
        assert_eq!(
            doc["components"]["schemas"]["PlaidErrorType"]["enum"],
            json!(["API_ERROR", "ITEM_ERROR", "GATEWAY_ERROR"])
        );
        assert!(extend_enums(&mut doc, &[("Plain", "X")]).is_err());
        assert!(extend_enums(&mut doc, &[("Missing", "X")]).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Value {
        json!({
            "openapi": "3.0.0",
            "paths": {"/p": {"post": {
                "operationId": "p",
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Req"}}}},
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Res"}}}},
                    "default": {"description": "err", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Err"}}}}
                }
            }}},
            "components": {"schemas": {
                "Req": {"type": "object", "required": ["client_id", "kind"], "properties": {
                    "client_id": {"$ref": "#/components/schemas/ClientId"},
                    "secret": {"type": "string"},
                    "kind": {"type": "string", "enum": ["a", "b"]}
                }},
                "ClientId": {"type": "string"},
                "Res": {"type": "object", "properties": {"token": {"type": "string"}}},
                "Err": {"type": "object", "nullable": true, "properties": {"code": {"type": "string"}}},
                "Token": {"type": "string"}
            }}
        })
    }

    #[test]
    fn default_becomes_4xx_and_5xx_when_a_success_exists() {
        let mut doc = spec();
        default_error_to_ranges(&mut doc);
        let responses = &doc["paths"]["/p"]["post"]["responses"];
        assert!(responses.get("default").is_none());
        assert_eq!(responses["4XX"]["description"], "err");
        assert_eq!(responses["5XX"], responses["4XX"]);
        assert_eq!(responses["200"]["description"], "ok");
    }

    #[test]
    fn default_alone_is_left_alone() {
        let mut doc =
            json!({"paths": {"/p": {"get": {"responses": {"default": {"description": "d"}}}}}});
        let before = doc.clone();
        default_error_to_ranges(&mut doc);
        assert_eq!(doc, before);
    }

    #[test]
    fn nullability_moves_from_named_schemas_to_the_properties_that_use_them() {
        let mut doc = spec();
        doc["components"]["schemas"]["Res"]["properties"]["error"] =
            json!({"$ref": "#/components/schemas/Err"});
        doc["components"]["schemas"]["Res"]["properties"]["errors"] =
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Err"}});
        doc["components"]["schemas"]["Mode"] =
            json!({"type": "string", "nullable": true, "enum": ["a", null]});
        default_error_to_ranges(&mut doc);
        nullable_to_use_sites(&mut doc);
        let s = &doc["components"]["schemas"];
        assert!(s["Err"].get("nullable").is_none());
        assert_eq!(s["Mode"], json!({"type": "string", "enum": ["a"]}));
        let wrapped = json!({"allOf": [{"$ref": "#/components/schemas/Err"}], "nullable": true});
        assert_eq!(s["Res"]["properties"]["error"], wrapped);
        assert_eq!(s["Res"]["properties"]["errors"]["items"], wrapped);
        // The error response itself still refers to the schema plainly.
        let response = &doc["paths"]["/p"]["post"]["responses"]["4XX"]["content"]["application/json"]
            ["schema"];
        assert_eq!(response, &json!({"$ref": "#/components/schemas/Err"}));
    }

    #[test]
    fn inline_enums_are_hoisted_under_their_schema_and_field_names() {
        let mut doc = spec();
        doc["components"]["schemas"]["Res"]["properties"]["update_type"] = json!({"type": "string", "nullable": true, "enum": ["background", "user_present_required"]});
        hoist_inline_enums(&mut doc).expect("hoist");
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["Req"]["properties"]["kind"],
            json!({"$ref": "#/components/schemas/ReqKind"})
        );
        assert_eq!(s["ReqKind"]["enum"], json!(["a", "b"]));
        assert_eq!(
            s["Res"]["properties"]["update_type"],
            json!({"allOf": [{"$ref": "#/components/schemas/ResUpdateType"}], "nullable": true})
        );
        assert!(s["ResUpdateType"].get("nullable").is_none());
    }

    #[test]
    fn dates_stay_strings_and_other_formats_stay() {
        let mut doc = json!({"components": {"schemas": {"T": {"type": "object", "properties": {
            "d": {"type": "string", "format": "date"},
            "t": {"type": "string", "format": "date-time", "nullable": true},
            "n": {"type": "number", "format": "double"}
        }}}}});
        dates_as_strings(&mut doc);
        let p = &doc["components"]["schemas"]["T"]["properties"];
        assert_eq!(p["d"], json!({"type": "string", "x-plaid-format": "date"}));
        assert_eq!(
            p["t"],
            json!({"type": "string", "nullable": true, "x-plaid-format": "date-time"})
        );
        assert_eq!(p["n"]["format"], "double");
    }

    #[test]
    fn defaults_are_dropped_at_any_depth() {
        let mut doc = json!({"components": {"schemas": {
            "U": {"type": "string", "default": "user_good"},
            "O": {"type": "object", "properties": {"days": {"type": "integer", "default": 90},
                  "inner": {"type": "object", "properties": {"x": {"type": "boolean", "default": false}}}}}
        }}});
        drop_defaults(&mut doc);
        assert!(
            !serde_json::to_string(&doc)
                .expect("json")
                .contains("default")
        );
    }

    #[test]
    fn required_nullable_fields_of_responses_become_optional() {
        let mut doc = spec();
        doc["components"]["schemas"]["Res"]["properties"]["mask"] =
            json!({"type": "string", "nullable": true});
        doc["components"]["schemas"]["Res"]["required"] = json!(["token", "mask"]);
        doc["components"]["schemas"]["Req"]["properties"]["note"] =
            json!({"type": "string", "nullable": true});
        doc["components"]["schemas"]["Req"]["required"] = json!(["kind", "note"]);
        lenient_nullable_in_responses(&mut doc);
        assert_eq!(
            doc["components"]["schemas"]["Res"]["required"],
            json!(["token"])
        );
        assert_eq!(
            doc["components"]["schemas"]["Req"]["required"],
            json!(["kind", "note"]),
            "requests untouched"
        );
    }

    #[test]
    fn hoisting_names_the_inline_schema() {
        let mut doc = spec();
        hoist(
            &mut doc,
            &[Hoist {
                schema: "Req",
                property: "kind",
                name: "Kind",
            }],
        )
        .expect("hoist");
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["Req"]["properties"]["kind"],
            json!({"$ref": "#/components/schemas/Kind"})
        );
        assert_eq!(s["Kind"]["enum"], json!(["a", "b"]));
        // Twice is the same as once.
        let once = doc.clone();
        hoist(
            &mut doc,
            &[Hoist {
                schema: "Req",
                property: "kind",
                name: "Kind",
            }],
        )
        .expect("again");
        assert_eq!(doc, once);
    }

    #[test]
    fn hoisting_onto_an_existing_schema_of_the_same_type_reuses_it() {
        let mut doc = spec();
        hoist(
            &mut doc,
            &[Hoist {
                schema: "Res",
                property: "token",
                name: "Token",
            }],
        )
        .expect("hoist");
        assert_eq!(
            doc["components"]["schemas"]["Token"],
            json!({"type": "string"})
        );
        assert_eq!(
            doc["components"]["schemas"]["Res"]["properties"]["token"]["$ref"],
            "#/components/schemas/Token"
        );
    }

    #[test]
    fn hoisting_fails_on_a_missing_property_or_a_clash() {
        let mut doc = spec();
        let before = doc.clone();
        hoist(
            &mut doc,
            &[Hoist {
                schema: "Absent",
                property: "x",
                name: "X",
            }],
        )
        .expect("a schema the fragment lacks is skipped");
        assert_eq!(doc, before);
        let Failure(msg) = hoist(
            &mut doc,
            &[Hoist {
                schema: "Req",
                property: "nope",
                name: "X",
            }],
        )
        .expect_err("missing");
        assert!(msg.contains("Req.nope"), "{msg}");
        let Failure(msg) = hoist(
            &mut doc,
            &[Hoist {
                schema: "Req",
                property: "kind",
                name: "Res",
            }],
        )
        .expect_err("clash");
        assert!(msg.contains("another type"), "{msg}");
    }

    #[test]
    fn credential_fields_leave_request_schemas() {
        let mut doc = spec();
        strip_request_fields(&mut doc, &["client_id", "secret"]);
        let req = &doc["components"]["schemas"]["Req"];
        let props: Vec<&String> = req["properties"]
            .as_object()
            .expect("props")
            .keys()
            .collect();
        assert_eq!(props, ["kind"]);
        assert_eq!(req["required"], json!(["kind"]));
    }

    #[test]
    fn unreachable_schemas_are_pruned() {
        let mut doc = spec();
        strip_request_fields(&mut doc, &["client_id", "secret"]);
        prune_unreferenced_schemas(&mut doc);
        let names: Vec<&String> = doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
            .collect();
        assert_eq!(names, ["Req", "Res", "Err"]);
    }

    #[test]
    fn listed_webhooks_keep_their_schemas_and_are_read_leniently() {
        let mut doc = spec();
        doc["components"]["schemas"]["Hook"] = json!({"type": "object",
            "required": ["webhook_code", "error"],
            "properties": {"webhook_code": {"type": "string"},
                           "error": {"type": "string", "nullable": true}}});
        doc["x-webhooks"] = json!([{"webhook_type": "T", "webhook_code": "C",
            "schema": {"$ref": "#/components/schemas/Hook"}}]);
        lenient_nullable_in_responses(&mut doc);
        assert_eq!(
            doc["components"]["schemas"]["Hook"]["required"],
            json!(["webhook_code"]),
            "a webhook body is server data: a null field is not an error"
        );
        prune_unreferenced_schemas(&mut doc);
        assert!(doc["components"]["schemas"]["Hook"].is_object());
        assert!(doc["components"]["schemas"].get("Token").is_none());
    }

    #[test]
    fn inline_objects_are_hoisted_until_none_is_left() {
        let mut doc = json!({"components": {"schemas": {
            "Req": {"type": "object", "properties": {
                "options": {"type": "object", "nullable": true, "properties": {
                    "window": {"type": "object", "properties": {"days": {"type": "integer"}}}
                }},
                "users": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "string"}}}},
                "kinds": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                "names": {"type": "array", "items": {"type": "string"}},
                "free": {"type": "object", "additionalProperties": true},
                "ref": {"$ref": "#/components/schemas/Other"}
            }},
            "Other": {"type": "object", "properties": {}}
        }}});
        hoist_inline_objects(&mut doc).expect("hoist");
        let s = &doc["components"]["schemas"];
        assert_eq!(
            s["Req"]["properties"]["options"],
            json!({"allOf": [{"$ref": "#/components/schemas/ReqOptions"}], "nullable": true})
        );
        assert_eq!(
            s["ReqOptions"]["properties"]["window"],
            json!({"$ref": "#/components/schemas/ReqOptionsWindow"})
        );
        assert!(s["ReqOptions"].get("nullable").is_none());
        assert_eq!(
            s["ReqOptionsWindow"]["properties"]["days"]["type"],
            "integer"
        );
        assert_eq!(
            s["Req"]["properties"]["users"]["items"],
            json!({"$ref": "#/components/schemas/ReqUsersItem"})
        );
        assert_eq!(
            s["Req"]["properties"]["kinds"]["items"],
            json!({"$ref": "#/components/schemas/ReqKindsItem"})
        );
        assert_eq!(s["ReqKindsItem"]["enum"], json!(["a", "b"]));
        assert_eq!(
            s["Req"]["properties"]["names"]["items"],
            json!({"type": "string"})
        );
        assert_eq!(
            s["Req"]["properties"]["free"],
            json!({"type": "object", "additionalProperties": true}),
            "a free-form map is not a struct"
        );

        let mut clash = json!({"components": {"schemas": {
            "A": {"type": "object", "properties": {"b": {"type": "object", "properties": {}}}},
            "AB": {"type": "string"}
        }}});
        let Failure(msg) = hoist_inline_objects(&mut clash).expect_err("clash");
        assert!(msg.contains("`AB` exists"), "{msg}");
    }

    #[test]
    fn validation_keywords_leave_schemas_but_not_property_names() {
        let mut doc = json!({"components": {"schemas": {
            "Req": {"type": "object", "properties": {
                "note": {"type": "string", "maxLength": 512, "minLength": 1, "pattern": "^a"},
                "days": {"type": "integer", "minimum": 1, "maximum": 730},
                "ids": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 3}},
                "maxLength": {"type": "integer"}
            }},
            "Named": {"type": "string", "maxLength": 30}
        }}});
        strip_validation_keywords(&mut doc);
        let s = &doc["components"]["schemas"];
        assert_eq!(s["Req"]["properties"]["note"], json!({"type": "string"}));
        assert_eq!(s["Req"]["properties"]["days"], json!({"type": "integer"}));
        assert_eq!(
            s["Req"]["properties"]["ids"],
            json!({"type": "array", "items": {"type": "string"}})
        );
        assert_eq!(
            s["Req"]["properties"]["maxLength"],
            json!({"type": "integer"})
        );
        assert_eq!(s["Named"], json!({"type": "string"}));
    }

    #[test]
    fn plain_schemas_are_inlined_where_they_are_used() {
        let mut doc = json!({"components": {"schemas": {
            "Req": {"type": "object", "properties": {
                "id": {"$ref": "#/components/schemas/RequestID"},
                "maybe": {"allOf": [{"$ref": "#/components/schemas/RequestID"}], "nullable": true},
                "subtypes": {"$ref": "#/components/schemas/Subtypes"},
                "token": {"$ref": "#/components/schemas/AccessToken"},
                "kind": {"$ref": "#/components/schemas/Kind"}
            }},
            "RequestID": {"type": "string", "title": "RequestID", "maxLength": 64, "description": "Ours."},
            "Subtypes": {"type": "array", "items": {"$ref": "#/components/schemas/Kind"}},
            "AccessToken": {"type": "string"},
            "Kind": {"type": "string", "enum": ["a"]}
        }}});
        inline_plain_schemas(&mut doc, &["AccessToken"]);
        let p = &doc["components"]["schemas"]["Req"]["properties"];
        assert_eq!(p["id"], json!({"type": "string", "maxLength": 64}));
        assert_eq!(
            p["maybe"],
            json!({"type": "string", "maxLength": 64, "nullable": true})
        );
        assert_eq!(
            p["subtypes"],
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Kind"}})
        );
        assert_eq!(
            p["token"],
            json!({"$ref": "#/components/schemas/AccessToken"})
        );
        assert_eq!(p["kind"], json!({"$ref": "#/components/schemas/Kind"}));
    }

    #[test]
    fn numeric_values_of_string_enums_become_text() {
        let mut doc = json!({"components": {"schemas": {
            "Version": {"type": "string", "enum": [4.1, 4, "3_lite", null]},
            "Count": {"type": "integer", "enum": [1, 2]}
        }}});
        enum_values_as_text(&mut doc);
        assert_eq!(
            doc["components"]["schemas"]["Version"]["enum"],
            json!(["4.1", "4", "3_lite", null])
        );
        assert_eq!(doc["components"]["schemas"]["Count"]["enum"], json!([1, 2]));
    }

    #[test]
    fn secret_fields_refer_to_their_secret_schema_by_name() {
        let mut doc = json!({"components": {"schemas": {
            "Req": {"type": "object", "properties": {
                "access_token": {"type": "string"},
                "access_tokens": {"type": "array", "items": {"type": "string"}},
                "user_token": {"type": "string", "nullable": true},
                "name": {"type": "string"}
            }}
        }}});
        secret_fields_by_name(
            &mut doc,
            &[
                ("access_token", "AccessToken"),
                ("access_tokens", "AccessToken"),
                ("user_token", "UserToken"),
            ],
        );
        let s = &doc["components"]["schemas"];
        let p = &s["Req"]["properties"];
        assert_eq!(
            p["access_token"],
            json!({"$ref": "#/components/schemas/AccessToken"})
        );
        assert_eq!(
            p["access_tokens"]["items"],
            json!({"$ref": "#/components/schemas/AccessToken"})
        );
        assert_eq!(
            p["user_token"],
            json!({"allOf": [{"$ref": "#/components/schemas/UserToken"}], "nullable": true})
        );
        assert_eq!(p["name"], json!({"type": "string"}));
        assert_eq!(s["UserToken"], json!({"type": "string"}));
    }
}
