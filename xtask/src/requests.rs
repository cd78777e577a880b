//! `plaid-emulator/src/requests.json`: each operation's request body schema with every
//! reference resolved, reduced to what the emulator checks (types, `nullable`, `required`,
//! `enum`, lengths, ranges, item counts, `additionalProperties: false`), so that the emulator
//! refuses what Plaid refuses without a handwritten line per operation.

use serde_json::{Map, Value, json};

use crate::Failure;
use crate::model::Model;
use crate::value::split_component_ref;

/// The keywords kept, as they are.
const KEPT: [&str; 9] = [
    "type",
    "nullable",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
];

/// How deep nested objects are described; deeper ones are taken as they come.
const MAX_DEPTH: usize = 8;

/// The request model, as pretty JSON: `{ "operations": { "/path": schema, ... } }`.
pub fn request_model(doc: &Value, model: &Model) -> Result<String, Failure> {
    let mut operations = Map::new();
    for op in &model.operations {
        let schema = json!({ "$ref": format!("#/components/schemas/{}", op.request) });
        operations.insert(op.path.clone(), reduce(doc, &schema, &mut Vec::new())?);
    }
    let out = json!({
        "generated": "by `cargo xtask generate` from spec/plaid.yaml; do not edit by hand",
        "operations": operations,
    });
    serde_json::to_string_pretty(&out)
        .map(|text| text + "\n")
        .map_err(|e| Failure(format!("request model: {e}")))
}

/// `schema` reduced, references resolved; `seen` is the chain of schemas being resolved (a
/// schema that refers back to one of them, or too deep, becomes `{}`: anything goes).
fn reduce(doc: &Value, schema: &Value, seen: &mut Vec<String>) -> Result<Value, Failure> {
    let Some(object) = schema.as_object() else {
        return Ok(json!({}));
    };
    if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
        let (_, name) = split_component_ref(reference)
            .ok_or_else(|| Failure(format!("request model: unsupported reference {reference}")))?;
        if seen.contains(&name) || seen.len() >= MAX_DEPTH {
            return Ok(json!({}));
        }
        let target = doc
            .pointer(&format!("/components/schemas/{name}"))
            .ok_or_else(|| Failure(format!("request model: no schema {name}")))?;
        seen.push(name);
        let reduced = reduce(doc, target, seen);
        seen.pop();
        return reduced;
    }
    if let Some(parts) = object.get("allOf").and_then(Value::as_array) {
        // An `allOf` of one schema (how the fragment attaches a description or `nullable`
        // to a reference) is that schema, with the siblings' keywords on top.
        if let [only] = parts.as_slice() {
            let mut reduced = reduce(doc, only, seen)?;
            if let Value::Object(reduced) = &mut reduced {
                for key in KEPT {
                    if let Some(v) = object.get(key) {
                        reduced.insert(key.to_string(), v.clone());
                    }
                }
            }
            return Ok(reduced);
        }
        return Ok(json!({}));
    }
    if object.contains_key("anyOf") || object.contains_key("oneOf") {
        return Ok(json!({}));
    }
    let mut out = Map::new();
    for key in KEPT {
        if let Some(v) = object.get(key) {
            out.insert(key.to_string(), v.clone());
        }
    }
    if let Some(required) = object.get("required") {
        out.insert("required".into(), required.clone());
    }
    if object.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        let mut reduced = Map::new();
        for (name, property) in properties {
            reduced.insert(name.clone(), reduce(doc, property, seen)?);
        }
        out.insert("properties".into(), Value::Object(reduced));
    }
    if let Some(items) = object.get("items") {
        out.insert("items".into(), reduce(doc, items, seen)?);
    }
    Ok(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Req": {
                "type": "object",
                "additionalProperties": false,
                "required": ["kind", "inner"],
                "properties": {
                    "kind": {"$ref": "#/components/schemas/Kind"},
                    "inner": {"allOf": [{"$ref": "#/components/schemas/Inner"}], "nullable": true,
                              "description": "dropped"},
                    "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    "list": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 3}},
                }
            },
            "Kind": {"type": "string", "enum": ["a", "b"], "description": "dropped"},
            "Inner": {"type": "object", "properties": {"back": {"$ref": "#/components/schemas/Inner"}}},
        }}})
    }

    #[test]
    fn references_are_resolved_and_only_checked_keywords_kept() {
        let reduced = reduce(
            &doc(),
            &json!({"$ref": "#/components/schemas/Req"}),
            &mut Vec::new(),
        )
        .expect("reduce");
        assert_eq!(
            reduced,
            json!({
                "type": "object",
                "required": ["kind", "inner"],
                "additionalProperties": false,
                "properties": {
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "inner": {"type": "object", "nullable": true, "properties": {"back": {}}},
                    "either": {},
                    "list": {"type": "array", "minItems": 1, "items": {"type": "string", "maxLength": 3}},
                }
            })
        );
    }
}
