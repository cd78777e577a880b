//! Small helpers over `serde_json::Value` documents read from YAML or JSON.

use serde_json::Value;

use crate::Failure;

/// Parses YAML (and so JSON, which YAML includes) into a JSON value tree; fails with one line
/// naming the document and the parser's first line.
pub fn parse_document(text: &str, name: &str) -> Result<Value, Failure> {
    serde_norway::from_str::<Value>(text).map_err(|e| {
        let first = e.to_string();
        let first = first.lines().next().unwrap_or("unreadable");
        Failure(format!("{name} is not YAML or JSON: {first}"))
    })
}

/// Renders a document as YAML behind a header of `#` comment lines.
pub fn to_yaml(value: &Value, header: &str) -> Result<String, Failure> {
    let body =
        serde_norway::to_string(value).map_err(|e| Failure(format!("cannot render YAML: {e}")))?;
    let mut out = String::with_capacity(header.len() + body.len() + 64);
    for line in header.lines() {
        out.push_str("# ");
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&body);
    Ok(out)
}

/// Decodes one JSON-pointer token (`~1` is `/`, `~0` is `~`).
pub fn unescape_pointer_token(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// The names of the component schemas reached from the `$ref`s in `pending`, following the
/// `$ref`s inside each schema reached.
pub fn reachable_schemas(
    doc: &Value,
    mut pending: Vec<String>,
) -> std::collections::BTreeSet<String> {
    let mut seen = std::collections::BTreeSet::new();
    while let Some(r) = pending.pop() {
        let Some((kind, name)) = split_component_ref(&r) else {
            continue;
        };
        if kind != "schemas" || !seen.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = doc
            .pointer("/components/schemas")
            .and_then(|s| s.get(&name))
        {
            collect_refs(schema, &mut pending);
        }
    }
    seen
}

/// Every `$ref` string found anywhere below `value`, in document order.
pub fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                out.push(r.clone());
            }
            for v in map.values() {
                collect_refs(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Splits a local reference `#/components/<kind>/<name>` into kind and name.
pub fn split_component_ref(reference: &str) -> Option<(String, String)> {
    let rest = reference.strip_prefix("#/components/")?;
    let (kind, name) = rest.split_once('/')?;
    if name.contains('/') || kind.is_empty() || name.is_empty() {
        return None;
    }
    Some((unescape_pointer_token(kind), unescape_pointer_token(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_are_collected_in_order_at_any_depth() {
        let v = json!({"a": {"$ref": "#/components/schemas/A"}, "b": [{"c": {"$ref": "#/components/schemas/B"}}]});
        let mut refs = Vec::new();
        collect_refs(&v, &mut refs);
        assert_eq!(refs, ["#/components/schemas/A", "#/components/schemas/B"]);
    }

    #[test]
    fn component_refs_split_and_others_do_not() {
        assert_eq!(
            split_component_ref("#/components/schemas/A~1B"),
            Some(("schemas".into(), "A/B".into()))
        );
        assert_eq!(split_component_ref("other.yml#/components/schemas/A"), None);
        assert_eq!(split_component_ref("#/paths/x"), None);
        assert_eq!(
            split_component_ref("#/components/schemas/A/properties/b"),
            None
        );
    }

    #[test]
    fn unparsable_text_is_one_line_naming_the_document() {
        let Failure(msg) = parse_document("a: [unclosed", "in.yml").expect_err("bad yaml");
        assert!(msg.starts_with("in.yml is not YAML or JSON: "), "{msg}");
        assert_eq!(msg.lines().count(), 1);
    }

    #[test]
    fn yaml_round_trips_with_header() {
        let v = json!({"b": 1, "a": ["x"]});
        let text = to_yaml(&v, "line one\nline two").expect("render");
        assert!(text.starts_with("# line one\n# line two\nb: 1\n"), "{text}");
        assert_eq!(parse_document(&text, "t").expect("parse"), v);
    }
}
