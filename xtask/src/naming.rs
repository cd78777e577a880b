//! Names, in one place: what a spec schema, property, enum value or token type is called in
//! each language the project writes: Rust (typify's names for the SDK's types, the open
//! enums' names and variants, webhook variants, setters), environment variables (the
//! snippets' tokens), and the names Plaid's official TypeScript (`plaid` on npm)
//! and Python (`plaid-python` on PyPI) libraries give the same things, for the console's
//! snippets in those languages.
//!
//! Both official libraries are made by openapi-generator from Plaid's spec; the rules below
//! are the ones their names follow (checked against every enum of `plaid` 47.0.0 and every
//! request class of `plaid-python` 46.0.0 by the console's snippet tests).

/// The Rust name typify gives a schema (`RequestID` → `RequestId`): what its replacements
/// are keyed by.
pub fn typify_name(schema: &str) -> String {
    use heck::ToPascalCase;
    schema.to_pascal_case()
}

/// An open enum's Rust name: its schema's typify name, or the one `renames` (the tables'
/// `ENUM_NAMES`) gives it (`Products` → `Product`).
pub fn enum_rust_name(schema: &str, renames: &[(&str, &str)]) -> String {
    renames
        .iter()
        .find(|(s, _)| *s == schema)
        .map_or_else(|| typify_name(schema), |(_, r)| r.to_string())
}

/// `svb_api` → `SvbApi`, `INVALID_REQUEST` → `InvalidRequest`, `i2c` → `I2c`.
pub fn variant_name(value: &str) -> Option<String> {
    let mut out = String::new();
    for part in value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    match out.chars().next() {
        None => None,
        Some(c) if c.is_ascii_digit() => Some(format!("V{out}")),
        Some(_) => Some(out),
    }
}

/// The Rust variant of a webhook: `ITEM` `PENDING_EXPIRATION` → `ItemPendingExpiration`.
pub fn webhook_variant(webhook_type: &str, webhook_code: &str) -> String {
    use heck::ToPascalCase;
    format!("{webhook_type}_{webhook_code}")
        .to_lowercase()
        .to_pascal_case()
}

/// The setter of an optional field on a pending call: the field's name, or `set_` before it
/// when the pending call has a method of that name (`taken`: `timeout`, `request`, ...).
pub fn setter_name(field: &str, taken: &[&str]) -> String {
    if taken.contains(&field) {
        format!("set_{field}")
    } else {
        field.to_string()
    }
}

/// The environment variable a token type is read from in snippets (`AccessToken` →
/// `PLAID_ACCESS_TOKEN`).
pub fn token_env(rust: &str) -> String {
    let name = rust.rsplit("::").next().unwrap_or(rust);
    let mut out = String::from("PLAID");
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Lower snake case the generator's way: a word boundary before an upper-case letter that
/// follows a lower-case letter or digit, and before the last capital of a run when two or
/// more lower-case letters follow it (`LinkTokenEUConfig` → `link_token_eu_config`,
/// `MoviesDVDs` → `movies_dvds`). The module name of a `plaid-python` model class.
pub fn underscore(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let lower = |i: usize| chars.get(i).is_some_and(char::is_ascii_lowercase);
    let upper = |i: usize| chars.get(i).is_some_and(char::is_ascii_uppercase);
    let mut out = String::with_capacity(word.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 {
            let before = chars[i - 1];
            let run_end = upper(i - 1) && upper(i) && lower(i + 1) && lower(i + 2);
            let after_word =
                (before.is_ascii_lowercase() || before.is_ascii_digit()) && c.is_ascii_uppercase();
            if run_end || after_word {
                out.push('_');
            }
        }
        out.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_lowercase()
        });
    }
    out
}

/// Upper camel case the generator's way: [`underscore`], then each word's first letter upper
/// case (`reason_code` → `ReasonCode`, `US` → `Us`, `403B` → `403B`).
pub fn camelize(word: &str) -> String {
    underscore(word)
        .split('_')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The TypeScript library's method for an operation (`processor_token_create` →
/// `processorTokenCreate`).
pub fn ts_method(operation: &str) -> String {
    let camel = camelize(operation);
    let mut chars = camel.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// The TypeScript library's name for an enum declared inline in a property: the owning
/// schema's name, the property's, and `Enum` (`ProcessorTokenCreateRequestProcessorEnum`).
pub fn ts_inline_enum(owner_schema: &str, property: &str) -> String {
    format!("{owner_schema}{}Enum", camelize(property))
}

/// The TypeScript library's member names for an enum's values, in their order. A prefix all
/// values share up to a word boundary is left out (`payroll_digital_income`,
/// `payroll_document_income` → `DigitalIncome`, `DocumentIncome`); separators become word
/// boundaries, other punctuation goes, and a name that would start with a digit gets `_`
/// (`529` → `_529`, `1.0` → `_10`).
pub fn ts_enum_members(values: &[&str]) -> Vec<String> {
    let prefix = common_prefix(values);
    values
        .iter()
        .map(|value| {
            let rest = value.strip_prefix(prefix).unwrap_or(value);
            ts_enum_member(if rest.is_empty() { value } else { rest })
        })
        .collect()
}

/// The values' common prefix, cut back to its last non-alphanumeric character (`status-on`,
/// `status-off` → `status-`); none for a single value.
fn common_prefix<'a>(values: &[&'a str]) -> &'a str {
    let [first, rest @ ..] = values else {
        return "";
    };
    if rest.is_empty() {
        return "";
    }
    let mut len = first.len();
    for value in rest {
        len = first
            .bytes()
            .zip(value.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count();
    }
    // Cut back to a character boundary, then over any trailing letters and digits.
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    let prefix = &first[..len];
    prefix.trim_end_matches(|c: char| c.is_ascii_alphanumeric())
}

fn ts_enum_member(value: &str) -> String {
    if value.is_empty() {
        return "Empty".into();
    }
    let cleaned: String = value
        .chars()
        .filter_map(|c| match c {
            ' ' | '-' | '.' | '/' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => Some(c),
            _ => None,
        })
        .collect();
    let cleaned = cleaned.strip_prefix('_').unwrap_or(&cleaned);
    let cleaned = cleaned.strip_suffix('_').unwrap_or(cleaned);
    let name = camelize(cleaned);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_variables() {
        assert_eq!(token_env("AccessToken"), "PLAID_ACCESS_TOKEN");
        assert_eq!(
            token_env("crate::StripeBankAccountToken"),
            "PLAID_STRIPE_BANK_ACCOUNT_TOKEN"
        );
    }

    #[test]
    fn variant_names() {
        assert_eq!(variant_name("svb_api").as_deref(), Some("SvbApi"));
        assert_eq!(
            variant_name("INVALID_REQUEST").as_deref(),
            Some("InvalidRequest")
        );
        assert_eq!(variant_name("i2c").as_deref(), Some("I2c"));
        assert_eq!(variant_name("3d-secure").as_deref(), Some("V3dSecure"));
        assert_eq!(variant_name("__"), None);
        assert_eq!(
            webhook_variant("ITEM", "PENDING_EXPIRATION"),
            "ItemPendingExpiration"
        );
        assert_eq!(
            enum_rust_name("Products", &[("Products", "Product")]),
            "Product"
        );
        assert_eq!(enum_rust_name("RequestID", &[]), "RequestId");
        assert_eq!(setter_name("timeout", &["timeout"]), "set_timeout");
        assert_eq!(setter_name("webhook", &["timeout"]), "webhook");
    }

    #[test]
    fn python_modules_keep_acronyms_whole() {
        assert_eq!(underscore("LinkTokenEUConfig"), "link_token_eu_config");
        assert_eq!(underscore("UserIDNumber"), "user_id_number");
        assert_eq!(
            underscore("LinkTokenCreateRequestCraOptionsBaseReportGSEOptions"),
            "link_token_create_request_cra_options_base_report_gse_options"
        );
        assert_eq!(underscore("Products"), "products");
        assert_eq!(underscore("MoviesDVDs"), "movies_dvds");
    }

    #[test]
    fn typescript_methods_and_inline_enums() {
        assert_eq!(ts_method("processor_token_create"), "processorTokenCreate");
        assert_eq!(ts_method("institutions_get_by_id"), "institutionsGetById");
        assert_eq!(
            ts_inline_enum("ProcessorTokenCreateRequest", "processor"),
            "ProcessorTokenCreateRequestProcessorEnum"
        );
        assert_eq!(
            ts_inline_enum("ItemRemoveRequest", "reason_code"),
            "ItemRemoveRequestReasonCodeEnum"
        );
    }

    /// The TypeScript rules against every enum of the pinned `plaid` library: each member's
    /// name is what [`ts_enum_members`] makes of its value among its enum's values.
    #[test]
    #[ignore = "needs npm's plaid in target/snippet-libs (bash .ci/snippet-libs)"]
    fn typescript_members_match_every_enum_of_the_pinned_library() {
        let root = std::env::var_os("PLAID_SNIPPET_LIBS").map_or_else(
            || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/snippet-libs"),
            std::path::PathBuf::from,
        );
        let path = root.join("node/node_modules/plaid/dist/api.d.ts");
        let dts = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}: run `bash .ci/snippet-libs`", path.display()));
        let mut enums = 0;
        let mut members = 0;
        for block in dts.split("export declare enum ").skip(1) {
            let Some((name, rest)) = block.split_once(" {") else {
                continue;
            };
            let body = rest.split("\n}").next().unwrap_or_default();
            // `    Member = "value",` lines.
            let pairs: Vec<(&str, &str)> = body
                .lines()
                .filter_map(|line| {
                    let (member, value) = line.trim().split_once(" = \"")?;
                    Some((member, value.trim_end_matches(',').strip_suffix('"')?))
                })
                .collect();
            let values: Vec<&str> = pairs.iter().map(|(_, v)| *v).collect();
            let made = ts_enum_members(&values);
            for ((member, value), made) in pairs.iter().zip(&made) {
                assert_eq!(made, member, "{name}: `{value}`");
            }
            enums += 1;
            members += pairs.len();
        }
        assert!(
            enums > 300 && members > 2000,
            "{enums} enums, {members} members read"
        );
    }

    #[test]
    fn typescript_enum_members() {
        assert_eq!(
            ts_enum_members(&["dwolla", "modern_treasury", "i2c"]),
            ["Dwolla", "ModernTreasury", "I2c"]
        );
        assert_eq!(ts_enum_members(&["US", "GB"]), ["Us", "Gb"]);
        assert_eq!(
            ts_enum_members(&["NEW_ACCOUNTS_AVAILABLE", "ERROR"]),
            ["NewAccountsAvailable", "Error"]
        );
        assert_eq!(
            ts_enum_members(&["529", "401k", "403B", "roth 403B", "cash management"]),
            ["_529", "_401k", "_403B", "Roth403B", "CashManagement"]
        );
        assert_eq!(
            ts_enum_members(&["1.0", "10T", "3_lite"]),
            ["_10", "_10T", "_3Lite"]
        );
        assert_eq!(
            ts_enum_members(&["payroll_digital_income", "payroll_document_income"]),
            ["DigitalIncome", "DocumentIncome"]
        );
        assert_eq!(
            ts_enum_members(&["ATMFee", "CashATM", "same-day-ach", "image/png"]),
            ["AtmFee", "CashAtm", "SameDayAch", "ImagePng"]
        );
        assert_eq!(ts_enum_members(&["status-on", "status-off"]), ["On", "Off"]);
        // A shared prefix that is a whole value is not removed from it.
        assert_eq!(ts_enum_members(&["x_", "x_a"]), ["X", "A"]);
        assert_eq!(ts_enum_members(&["only_one"]), ["OnlyOne"]);
        assert_eq!(ts_enum_members(&[""]), ["Empty"]);
    }
}
