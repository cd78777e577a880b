//! Transforms applied to the fragment before progenitor sees it: each mends one thing that
//! progenitor 0.15 cannot take from Plaid's spec as it is. They work on the document as a
//! JSON value, so each is a small pure function with tests on a small spec.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::Failure;
use crate::value::{collect_refs, split_component_ref};

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

/// The schema names that error responses (`4XX`, `5XX`, `default`, any 4xx or 5xx) refer to.
fn error_schemas(doc: &Value) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for op in operations(doc) {
        let Some(Value::Object(responses)) = op.get("responses") else {
            continue;
        };
        for (status, response) in responses {
            if is_success(status) {
                continue;
            }
            let mut refs = Vec::new();
            collect_refs(response, &mut refs);
            names.extend(
                refs.iter()
                    .filter_map(|r| split_component_ref(r))
                    .map(|(_, n)| n),
            );
        }
    }
    names
}

/// Trap: `nullable: true` on the error object makes typify wrap it in `Option`. An error
/// response always has a body object, so the flag is dropped from every error schema.
pub fn strip_error_nullable(doc: &mut Value) {
    let names = error_schemas(doc);
    if let Some(schemas) = schemas_mut(doc) {
        for name in names {
            if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
                schema.remove("nullable");
            }
        }
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
        let property = schemas
            .get_mut(h.schema)
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

/// Drops component schemas that no operation reaches (left over after the transforms above),
/// so no dead type is generated.
pub fn prune_unreferenced_schemas(doc: &mut Value) {
    let mut reached = BTreeSet::new();
    let mut pending = Vec::new();
    if let Some(paths) = doc.get("paths") {
        collect_refs(paths, &mut pending);
    }
    while let Some(r) = pending.pop() {
        let Some((kind, name)) = split_component_ref(&r) else {
            continue;
        };
        if kind != "schemas" || !reached.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc
            .pointer("/components/schemas")
            .and_then(|s| s.get(&name))
        {
            collect_refs(schema, &mut pending);
        }
    }
    if let Some(schemas) = schemas_mut(doc) {
        schemas.retain(|name, _| reached.contains(name));
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
    fn nullable_is_dropped_from_error_schemas_only() {
        let mut doc = spec();
        doc["components"]["schemas"]["Res"]["nullable"] = json!(true);
        strip_error_nullable(&mut doc);
        assert!(
            doc["components"]["schemas"]["Err"]
                .get("nullable")
                .is_none()
        );
        assert_eq!(doc["components"]["schemas"]["Res"]["nullable"], true);
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
}
