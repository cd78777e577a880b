//! Every response body the emulator produces conforms to the committed spec fragment
//! (`spec/plaid.yaml`), checked with a JSON Schema validator. OpenAPI 3.0's `nullable` is
//! translated to JSON Schema's `null` type first; nothing else is relaxed.

use plaid_emulator::{Emulator, Fault};
use serde_json::{Value, json};

/// The fragment, with its components translated from OpenAPI 3.0 schema objects to JSON Schema.
fn fragment() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/plaid.yaml");
    let text = std::fs::read_to_string(path).expect("spec/plaid.yaml");
    let mut spec: Value = serde_norway::from_str(&text).expect("yaml");
    translate(&mut spec["components"]);
    spec
}

/// The schema name of an operation's success response, as the fragment says.
fn success_schema(spec: &Value, path: &str) -> String {
    let reference = spec["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]
        ["schema"]["$ref"]
        .as_str()
        .unwrap_or_else(|| panic!("no 200 schema for {path}"));
    reference.rsplit('/').next().expect("name").to_string()
}

/// `nullable: true` → `"null"` among the types (or an `anyOf` with null beside a `$ref`);
/// `example` dropped.
fn translate(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.remove("example");
            if map.remove("nullable") == Some(Value::Bool(true)) {
                match map.get("type").cloned() {
                    Some(Value::String(t)) => {
                        map.insert("type".into(), json!([t, "null"]));
                        if let Some(Value::Array(values)) = map.get_mut("enum") {
                            values.push(Value::Null);
                        }
                    }
                    _ => {
                        let inner = Value::Object(std::mem::take(map));
                        map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
                    }
                }
            }
            map.values_mut().for_each(translate);
        }
        Value::Array(items) => items.iter_mut().for_each(translate),
        _ => {}
    }
}

fn validator(components: &Value, schema: &str) -> jsonschema::Validator {
    let root =
        json!({ "components": components, "$ref": format!("#/components/schemas/{schema}") });
    jsonschema::draft7::new(&root).expect("valid schema")
}

/// `body` sent to the emulator's `path` with its credentials, as a plain HTTP client would.
async fn post(
    http: &reqwest::Client,
    emulator: &Emulator,
    path: &str,
    body: &Value,
) -> reqwest::Response {
    http.post(format!("{}{path}", emulator.base_url()))
        .header("plaid-client-id", emulator.client_id())
        .header("plaid-secret", emulator.secret())
        .header("plaid-version", "2020-09-14")
        .json(body)
        .send()
        .await
        .expect("send")
}

/// What a case is called, the headers it sends, its body, and a fault to inject first.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, String, Option<Fault>);

#[tokio::test]
async fn every_response_the_emulator_produces_conforms_to_the_fragment() {
    let spec = fragment();
    let components = &spec["components"];
    let success = validator(components, "ProcessorTokenCreateResponse");
    let error = validator(components, "PlaidError");

    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let http = reqwest::Client::new();
    let url = format!("{}/processor/token/create", emulator.base_url());
    let good = json!({"access_token": item.access_token, "account_id": item.accounts[0].account_id, "processor": "dwolla"});
    let headers = [
        ("plaid-client-id", emulator.client_id()),
        ("plaid-secret", emulator.secret()),
        ("plaid-version", "2020-09-14"),
    ];
    let cases: Vec<Case<'_>> = vec![
        ("success", headers.to_vec(), good.to_string(), None),
        ("not json", headers.to_vec(), "{".into(), None),
        ("missing fields", headers.to_vec(), "{}".into(), None),
        (
            "invalid field",
            headers.to_vec(),
            r#"{"access_token":1,"account_id":"a","processor":"dwolla"}"#.into(),
            None,
        ),
        (
            "bad processor",
            headers.to_vec(),
            json!({"access_token": "a", "account_id": "b", "processor": "Not Valid"}).to_string(),
            None,
        ),
        (
            "unknown token",
            headers.to_vec(),
            json!({"access_token": "access-sandbox-x", "account_id": "b", "processor": "dwolla"})
                .to_string(),
            None,
        ),
        (
            "foreign account",
            headers.to_vec(),
            json!({"access_token": item.access_token, "account_id": "nope", "processor": "dwolla"})
                .to_string(),
            None,
        ),
        (
            "no credentials",
            vec![("plaid-version", "2020-09-14")],
            good.to_string(),
            None,
        ),
        (
            "wrong secret",
            vec![
                ("plaid-client-id", emulator.client_id()),
                ("plaid-secret", "x"),
                ("plaid-version", "2020-09-14"),
            ],
            good.to_string(),
            None,
        ),
        (
            "no version",
            vec![
                ("plaid-client-id", emulator.client_id()),
                ("plaid-secret", emulator.secret()),
            ],
            good.to_string(),
            None,
        ),
        (
            "rate limit",
            headers.to_vec(),
            good.to_string(),
            Some(Fault::RateLimit {
                retry_after_secs: 1,
            }),
        ),
        (
            "500",
            headers.to_vec(),
            good.to_string(),
            Some(Fault::ServerError { status: 500 }),
        ),
        (
            "503",
            headers.to_vec(),
            good.to_string(),
            Some(Fault::ServerError { status: 503 }),
        ),
    ];
    let mut seen_codes = Vec::new();
    for (what, hs, body, fault) in cases {
        if let Some(fault) = fault {
            emulator.inject(fault, 1);
        }
        let mut request = http
            .post(&url)
            .header("content-type", "application/json")
            .body(body);
        for (n, v) in hs {
            request = request.header(n, v);
        }
        let response = request.send().await.expect("send");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json body");
        let validator = if status == 200 { &success } else { &error };
        let problems: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{what} ({status}) does not conform: {problems:?}\n{body}"
        );
        seen_codes.push(body["error_code"].as_str().unwrap_or("success").to_string());
    }
    // The validator is not vacuous: a body missing a required field is rejected.
    assert!(
        !error
            .is_valid(&json!({"error_type": "API_ERROR", "error_code": "X", "error_message": "m"}))
    );
    assert!(!success.is_valid(&json!({"request_id": "r"})));
    assert!(!error.is_valid(&json!({"error_type": "NOT_A_TYPE", "error_code": "X", "error_message": "m", "display_message": null})));
    assert_eq!(seen_codes.len(), 13);

    // Every error the emulator knows by code, as a fault, as an Item's state and at Item
    // creation (the Sandbox's test passwords), and a custom user's refused configuration.
    let check = |what: &str, status: u16, body: &Value| {
        assert_ne!(status, 200, "{what}");
        let problems: Vec<String> = error
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{what} ({status}): {problems:?}\n{body}"
        );
    };
    let send = |path: &str, body: Value| {
        let request = http
            .post(format!("{}{path}", emulator.base_url()))
            .header("plaid-client-id", emulator.client_id())
            .header("plaid-secret", emulator.secret())
            .header("plaid-version", "2020-09-14")
            .json(&body);
        async move {
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("json body"))
        }
    };
    let accounts = json!({"access_token": item.access_token});
    for known in plaid_emulator::KNOWN_ERRORS {
        let fault = plaid_emulator::PlaidError::known(known.code)
            .expect("known")
            .with_display_message("shown to the user");
        emulator.inject(Fault::PlaidError(fault), 1);
        let (status, body) = send("/accounts/get", accounts.clone()).await;
        assert_eq!(
            (status, body["error_code"].as_str()),
            (known.status, Some(known.code))
        );
        check(known.code, status, &body);
        assert!(emulator.set_item_error(
            &item.access_token,
            plaid_emulator::PlaidError::known(known.code).expect("known"),
        ));
        let (status, body) = send("/accounts/get", accounts.clone()).await;
        check(known.code, status, &body);
        if known.sandbox_password {
            let (status, body) = send(
                "/sandbox/public_token/create",
                json!({"institution_id": "ins_109508", "initial_products": ["auth"],
                       "options": {"override_username": "user_good",
                                   "override_password": format!("error_{}", known.code)}}),
            )
            .await;
            assert_eq!(body["error_code"].as_str(), Some(known.code));
            check(known.code, status, &body);
        }
    }
    assert!(emulator.clear_item_error(&item.access_token));
    let (status, body) = send(
        "/sandbox/public_token/create",
        json!({"institution_id": "ins_109508", "initial_products": ["auth"],
               "options": {"override_username": "user_custom", "override_password": "{"}}),
    )
    .await;
    assert_eq!(body["error_code"], "INVALID_FIELD");
    check("custom user", status, &body);

    // A custom user's configured numbers and owner conform as the derived ones do.
    let config = json!({"override_accounts": [{
        "type": "depository", "subtype": "checking",
        "numbers": {"account": "9900001234", "ach_routing": "021000021"},
        "identity": {"names": ["Ada Lovelace"],
                     "phone_numbers": [{"data": "+44 20 7946 0000", "type": "work"}],
                     "emails": [{"data": "ada@example.org", "primary": true}],
                     "addresses": [{"data": {"street": "12 St James's Square"}}]},
    }]});
    let (_, public) = send(
        "/sandbox/public_token/create",
        json!({"institution_id": "ins_109508", "initial_products": ["auth"],
               "options": {"override_username": "user_custom",
                           "override_password": config.to_string()}}),
    )
    .await;
    let (_, exchanged) = send(
        "/item/public_token/exchange",
        json!({"public_token": public["public_token"]}),
    )
    .await;
    let custom = json!({"access_token": exchanged["access_token"]});
    for path in ["/auth/get", "/identity/get"] {
        let (status, body) = send(path, custom.clone()).await;
        assert_eq!(status, 200, "{path}: {body}");
        let problems: Vec<String> = validator(components, &success_schema(&spec, path))
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(problems.is_empty(), "{path}: {problems:?}\n{body}");
    }
}

/// Drives every operation through success and failure with a plain HTTP client, and checks
/// each body against the schema the fragment gives that operation.
#[tokio::test]
async fn every_operation_of_the_family_conforms_to_the_fragment() {
    let spec = fragment();
    let components = &spec["components"];
    let error = validator(components, "PlaidError");
    let emulator = Emulator::start().await.expect("emulator");
    let http = reqwest::Client::new();
    let mut checked = std::collections::BTreeSet::new();
    let call = async |path: &str, body: Value| -> Value {
        let response = post(&http, &emulator, path, &body).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        let validator = if status == 200 {
            validator(components, &success_schema(&spec, path))
        } else {
            validator(components, "PlaidError")
        };
        let problems: Vec<String> = validator
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{path} ({status}) does not conform: {problems:?}\n{body}"
        );
        body
    };
    let public = call(
        "/sandbox/public_token/create",
        json!({"institution_id": "ins_109508", "initial_products": ["auth"]}),
    )
    .await;
    let exchanged = call(
        "/item/public_token/exchange",
        json!({"public_token": public["public_token"]}),
    )
    .await;
    let access = exchanged["access_token"].clone();
    let accounts = call("/accounts/get", json!({"access_token": access})).await;
    let account = accounts["accounts"][0]["account_id"].clone();
    call("/item/get", json!({"access_token": access})).await;
    call(
        "/link/token/create",
        json!({"client_name": "Platypus Pay", "language": "en", "country_codes": ["US"],
               "user": {"client_user_id": "user-1"}, "products": ["auth"]}),
    )
    .await;
    let token = call(
        "/processor/token/create",
        json!({"access_token": access, "account_id": account, "processor": "dwolla"}),
    )
    .await;
    let processor_token = token["processor_token"].clone();
    let receiver = plaid_sdk_tests::ScriptedServer::start(plaid_sdk_tests::json(200, "{}")).await;
    // The partner's side, before permissions narrow the token.
    for path in [
        "/processor/auth/get",
        "/processor/balance/get",
        "/processor/identity/get",
        "/processor/account/get",
    ] {
        let body = call(path, json!({"processor_token": processor_token})).await;
        assert_eq!(body["account"]["account_id"], account, "{path}");
    }
    call(
        "/processor/token/webhook/update",
        json!({"processor_token": processor_token, "webhook": receiver.url()}),
    )
    .await;
    let sandbox_token = call(
        "/sandbox/processor_token/create",
        json!({"institution_id": "ins_109508"}),
    )
    .await;
    call(
        "/processor/auth/get",
        json!({"processor_token": sandbox_token["processor_token"]}),
    )
    .await;
    // The fintech's data calls.
    for path in ["/accounts/balance/get", "/auth/get", "/identity/get"] {
        let body = call(
            path,
            json!({"access_token": access, "options": {"account_ids": [account]}}),
        )
        .await;
        assert_eq!(body["accounts"][0]["account_id"], account, "{path}");
    }
    call(
        "/institutions/get_by_id",
        json!({"institution_id": "ins_109508", "country_codes": ["US"]}),
    )
    .await;
    call(
        "/processor/stripe/bank_account_token/create",
        json!({"access_token": access, "account_id": account}),
    )
    .await;
    call(
        "/processor/token/permissions/set",
        json!({"processor_token": processor_token, "products": ["auth"]}),
    )
    .await;
    call(
        "/processor/token/permissions/get",
        json!({"processor_token": processor_token}),
    )
    .await;
    let key = call(
        "/webhook_verification_key/get",
        json!({"key_id": emulator.webhook_key_id()}),
    )
    .await;
    assert_eq!(key["key"]["kid"], json!(emulator.webhook_key_id()));
    call(
        "/item/webhook/update",
        json!({"access_token": access, "webhook": receiver.url()}),
    )
    .await;
    call(
        "/sandbox/item/fire_webhook",
        json!({"access_token": access, "webhook_code": "NEW_ACCOUNTS_AVAILABLE"}),
    )
    .await;
    call("/sandbox/item/reset_login", json!({"access_token": access})).await;
    let rotated = call(
        "/item/access_token/invalidate",
        json!({"access_token": access}),
    )
    .await;
    let access = rotated["new_access_token"].clone();
    call("/item/remove", json!({"access_token": access})).await;
    // And each one's failure, now that the Item is gone.
    for (path, body) in [
        (
            "/sandbox/public_token/create",
            json!({"institution_id": "nope", "initial_products": ["auth"]}),
        ),
        (
            "/item/public_token/exchange",
            json!({"public_token": public["public_token"]}),
        ),
        ("/accounts/get", json!({"access_token": access})),
        (
            "/processor/token/create",
            json!({"access_token": access, "account_id": account, "processor": "dwolla"}),
        ),
        (
            "/processor/stripe/bank_account_token/create",
            json!({"access_token": access, "account_id": account}),
        ),
        (
            "/processor/token/permissions/set",
            json!({"processor_token": processor_token, "products": []}),
        ),
        (
            "/processor/token/permissions/get",
            json!({"processor_token": processor_token}),
        ),
        ("/item/remove", json!({"access_token": access})),
        ("/item/get", json!({"access_token": access})),
        (
            "/webhook_verification_key/get",
            json!({"key_id": "no-such-key"}),
        ),
        (
            "/item/webhook/update",
            json!({"access_token": access, "webhook": receiver.url()}),
        ),
        (
            "/sandbox/item/fire_webhook",
            json!({"access_token": access, "webhook_code": "NEW_ACCOUNTS_AVAILABLE"}),
        ),
        ("/sandbox/item/reset_login", json!({"access_token": access})),
        (
            "/sandbox/processor_token/create",
            json!({"institution_id": "ins_109508",
                   "options": {"override_username": "user_good", "override_password": "wrong"}}),
        ),
        (
            "/processor/auth/get",
            json!({"processor_token": processor_token}),
        ),
        (
            "/processor/balance/get",
            json!({"processor_token": processor_token}),
        ),
        (
            "/processor/identity/get",
            json!({"processor_token": processor_token}),
        ),
        (
            "/processor/account/get",
            json!({"processor_token": processor_token}),
        ),
        (
            "/processor/token/webhook/update",
            json!({"processor_token": processor_token, "webhook": null}),
        ),
        ("/accounts/balance/get", json!({"access_token": access})),
        ("/auth/get", json!({"access_token": access})),
        ("/identity/get", json!({"access_token": access})),
        (
            "/item/access_token/invalidate",
            json!({"access_token": access}),
        ),
        (
            "/institutions/get_by_id",
            json!({"institution_id": "ins_1", "country_codes": ["US"]}),
        ),
        (
            "/link/token/create",
            json!({"client_name": "x".repeat(31), "language": "en", "country_codes": ["US"],
                   "user": {"client_user_id": "user-1"}, "products": ["auth"]}),
        ),
    ] {
        let body = call(path, body).await;
        assert!(
            body["error_code"].is_string(),
            "{path} should have failed: {body}"
        );
        checked.insert(path);
    }
    let listed: std::collections::BTreeSet<&str> = spec["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        checked, listed,
        "every operation of the fragment is exercised"
    );
    assert!(!error.is_valid(&json!({})));
}

/// Every webhook the emulator sends conforms to the schema `x-webhooks` names for its type and
/// code, and every listed webhook the Sandbox can fire is covered.
#[tokio::test]
async fn every_webhook_the_emulator_sends_conforms_to_its_listed_schema() {
    let spec = fragment();
    let components = &spec["components"];
    let listed: std::collections::BTreeMap<(String, String), String> = spec["x-webhooks"]
        .as_array()
        .expect("x-webhooks")
        .iter()
        .map(|w| {
            let name = w["schema"]["$ref"]
                .as_str()
                .expect("ref")
                .rsplit('/')
                .next()
                .expect("name");
            (
                (
                    w["webhook_type"].as_str().expect("type").to_string(),
                    w["webhook_code"].as_str().expect("code").to_string(),
                ),
                name.to_string(),
            )
        })
        .collect();
    let emulator = Emulator::start().await.expect("emulator");
    let receiver = plaid_sdk_tests::ScriptedServer::start(plaid_sdk_tests::json(200, "{}")).await;
    let http = reqwest::Client::new();
    let call = async |path: &str, body: Value| {
        let response = post(&http, &emulator, path, &body).await;
        assert_eq!(response.status(), 200, "{path} {body}");
    };
    let item = emulator.add_item();
    let access = item.access_token.as_str();
    call(
        "/item/webhook/update",
        json!({"access_token": access, "webhook": receiver.url()}),
    )
    .await;
    let fired = [
        ("NEW_ACCOUNTS_AVAILABLE", None),
        ("PENDING_DISCONNECT", None),
        ("USER_PERMISSION_REVOKED", None),
        ("USER_ACCOUNT_REVOKED", None),
        ("LOGIN_REPAIRED", None),
        ("ERROR", None),
        ("DEFAULT_UPDATE", Some("AUTH")),
    ];
    for (code, ty) in fired {
        call(
            "/sandbox/item/fire_webhook",
            json!({"access_token": access, "webhook_code": code, "webhook_type": ty}),
        )
        .await;
    }
    call("/sandbox/item/reset_login", json!({"access_token": access})).await;
    let expected = 1 + fired.len() + 1;
    let requests = receiver.wait_for_requests(expected).await;
    let mut seen = std::collections::BTreeSet::new();
    for request in &requests {
        let body: Value = serde_json::from_slice(&request.body).expect("json");
        let key = (
            body["webhook_type"].as_str().expect("type").to_string(),
            body["webhook_code"].as_str().expect("code").to_string(),
        );
        let schema = listed
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} is not listed in spec/webhooks.txt"));
        let problems: Vec<String> = validator(components, schema)
            .iter_errors(&body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            problems.is_empty(),
            "{key:?} does not conform: {problems:?}\n{body}"
        );
        seen.insert(key);
    }
    assert_eq!(seen.len(), 8, "{seen:?}");
}
