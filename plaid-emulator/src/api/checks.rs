//! Request checks derived from the spec fragment (`requests.json`, written by `cargo xtask
//! generate`): every operation's body is checked against its schema before the operation
//! runs, and refused in Plaid's shape with the field named:
//!
//! - a required field absent (or `null`): `INVALID_REQUEST`/`MISSING_FIELDS`, listing them all;
//! - a field the schema closes out (`additionalProperties: false`):
//!   `INVALID_REQUEST`/`UNKNOWN_FIELDS`;
//! - a value of the wrong type, outside its `enum`, or outside its lengths, range or item
//!   counts: `INVALID_REQUEST`/`INVALID_FIELD`, naming the field's path (`options.webhook`,
//!   `initial_products[2]`).
//!
//! An optional field sent as `null` counts as absent. Values of `processor` that a test
//! allowed ([`EmulatorBuilder::allow_processor`](crate::EmulatorBuilder::allow_processor))
//! pass the enum check: Plaid adds processors more often than the fragment is refreshed.

use std::sync::OnceLock;

use serde_json::{Map, Value};

use super::Refusal;

/// The request model, parsed once.
fn model() -> &'static Map<String, Value> {
    static MODEL: OnceLock<Map<String, Value>> = OnceLock::new();
    MODEL.get_or_init(|| {
        serde_json::from_str::<Value>(include_str!("../requests.json"))
            .ok()
            .and_then(|v| v.get("operations")?.as_object().cloned())
            .unwrap_or_default()
    })
}

/// Whether the fragment describes the request of `path`.
#[cfg(test)]
pub(crate) fn knows(path: &str) -> bool {
    model().contains_key(path)
}

/// Checks `body` against the request schema of `path` (a path the fragment does not describe
/// passes).
pub(super) fn check(
    path: &str,
    body: &Map<String, Value>,
    allowed_processors: &[String],
) -> Result<(), Refusal> {
    let Some(schema) = model().get(path) else {
        return Ok(());
    };
    let checker = Checker { allowed_processors };
    checker.object(schema, body, "")
}

struct Checker<'a> {
    allowed_processors: &'a [String],
}

fn invalid(path: &str, message: impl std::fmt::Display) -> Refusal {
    Refusal::invalid_request("INVALID_FIELD", format!("{path} {message}"))
}

/// `parent.name`, or `name` at the top.
fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

/// The sorted keys of an object, for a check order that does not depend on how the map
/// keeps them.
fn sorted(map: &Map<String, Value>) -> Vec<&String> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys
}

impl Checker<'_> {
    fn object(&self, schema: &Value, body: &Map<String, Value>, at: &str) -> Result<(), Refusal> {
        let properties = schema.get("properties").and_then(Value::as_object);
        if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
            let unknown: Vec<String> = sorted(body)
                .into_iter()
                .filter(|k| properties.is_none_or(|p| !p.contains_key(k.as_str())))
                .map(|k| join(at, k))
                .collect();
            if !unknown.is_empty() {
                return Err(Refusal::invalid_request(
                    "UNKNOWN_FIELDS",
                    format!(
                        "the following fields are not recognized by this endpoint: {}",
                        unknown.join(", ")
                    ),
                ));
            }
        }
        let missing: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .filter(|name| body.get(*name).is_none_or(Value::is_null))
            .map(|name| join(at, name))
            .collect();
        if !missing.is_empty() {
            return Err(Refusal::missing_fields(&missing));
        }
        let Some(properties) = properties else {
            return Ok(());
        };
        for name in sorted(properties) {
            match body.get(name.as_str()) {
                None | Some(Value::Null) => {}
                Some(value) => self.value(&properties[name.as_str()], value, &join(at, name))?,
            }
        }
        Ok(())
    }

    fn value(&self, schema: &Value, value: &Value, at: &str) -> Result<(), Refusal> {
        let number = |key: &str| schema.get(key).and_then(Value::as_f64);
        let count = |key: &str| schema.get(key).and_then(Value::as_u64);
        let Some(expected) = schema.get("type").and_then(Value::as_str) else {
            return Ok(());
        };
        match (expected, value) {
            ("string", Value::String(s)) => {
                let len = s.chars().count() as u64;
                if let Some(min) = count("minLength")
                    && len < min
                {
                    return Err(invalid(
                        at,
                        format_args!("must be at least {min} characters long"),
                    ));
                }
                if let Some(max) = count("maxLength")
                    && len > max
                {
                    return Err(invalid(
                        at,
                        format_args!("must be at most {max} characters long"),
                    ));
                }
            }
            ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => {}
            ("array", Value::Array(items)) => {
                let len = items.len() as u64;
                if let Some(min) = count("minItems")
                    && len < min
                {
                    return Err(invalid(at, format_args!("must hold at least {min} items")));
                }
                if let Some(max) = count("maxItems")
                    && len > max
                {
                    return Err(invalid(at, format_args!("must hold at most {max} items")));
                }
                if let Some(item) = schema.get("items") {
                    for (i, value) in items.iter().enumerate() {
                        self.value(item, value, &format!("{at}[{i}]"))?;
                    }
                }
                return Ok(());
            }
            ("object", Value::Object(fields)) => return self.object(schema, fields, at),
            _ => {
                let article = if expected.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                return Err(invalid(at, format_args!("must be {article} {expected}")));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = number("minimum")
                && n < min
            {
                return Err(invalid(at, format_args!("must be at least {min}")));
            }
            if let Some(max) = number("maximum")
                && n > max
            {
                return Err(invalid(at, format_args!("must be at most {max}")));
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let allowed = values.contains(value)
                || (at == "processor"
                    && value
                        .as_str()
                        .is_some_and(|p| self.allowed_processors.iter().any(|a| a == p)));
            if !allowed {
                return Err(invalid(
                    at,
                    format_args!("{value} is not one of its accepted values"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_model_parses_and_covers_the_operations() {
        // A model that failed to parse would check nothing.
        assert!(model().len() >= 21, "{}", model().len());
        assert!(knows("/processor/token/create"));
        assert!(!knows("/not/an/operation"));
    }
}
