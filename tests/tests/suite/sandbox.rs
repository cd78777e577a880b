//! The emulator as Plaid's Sandbox, through the SDK as users call it: the test credentials
//! (`error_<CODE>` passwords, the custom user), Item and institution states, and faults aimed
//! at one operation, listed and cleared.

use plaid_emulator::{Emulator, Fault, InstitutionStatus, KNOWN_ERRORS, PlaidError};
use plaid_sdk::types::{
    SandboxProcessorTokenCreateRequestOptions, SandboxPublicTokenCreateRequestOptions,
};
use plaid_sdk::{Environment, ErrorKind, PlaidClient, Processor, Product, RetryPolicy};

async fn start() -> (Emulator, PlaidClient) {
    let emulator = Emulator::start().await.expect("emulator");
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("client");
    (emulator, client)
}

fn with_user(username: &str, password: &str) -> SandboxPublicTokenCreateRequestOptions {
    let mut options = SandboxPublicTokenCreateRequestOptions::default();
    options.override_username = Some(username.to_string());
    options.override_password = Some(password.to_string());
    options
}

/// Links a Sandbox Item with these test credentials and returns its access token.
async fn link(
    client: &PlaidClient,
    username: &str,
    password: &str,
) -> Result<String, plaid_sdk::Error> {
    link_at(client, "ins_109508", username, password).await
}

/// Links a Sandbox Item at `institution` and returns its access token.
async fn link_at(
    client: &PlaidClient,
    institution: &str,
    username: &str,
    password: &str,
) -> Result<String, plaid_sdk::Error> {
    let public = client
        .sandbox_public_token_create(institution, vec![Product::Auth])
        .options(with_user(username, password))
        .await?
        .public_token;
    Ok(client
        .item_public_token_exchange(public)
        .await?
        .access_token
        .expose_secret()
        .to_string())
}

/// The error's status, `error_type` and `error_code`.
fn plaid(e: &plaid_sdk::Error) -> (u16, String, String) {
    let error = e
        .plaid_error()
        .unwrap_or_else(|| panic!("not a Plaid error: {e:?}"));
    (
        e.status().unwrap_or(0),
        error.error_type.as_str().to_string(),
        error.error_code.clone(),
    )
}

#[tokio::test]
async fn each_error_password_fails_item_creation_with_its_error() {
    let (_emulator, client) = start().await;
    let sandbox: Vec<_> = KNOWN_ERRORS.iter().filter(|e| e.sandbox_password).collect();
    assert!(sandbox.len() >= 16, "the Sandbox's list: {}", sandbox.len());
    for known in sandbox {
        let e = link(&client, "user_good", &format!("error_{}", known.code))
            .await
            .expect_err(known.code);
        assert_eq!(
            plaid(&e),
            (
                known.status,
                known.error_type.to_string(),
                known.code.to_string()
            )
        );
    }
    // The partner's Sandbox shortcut takes the same passwords.
    let mut options = SandboxProcessorTokenCreateRequestOptions::default();
    options.override_username = Some("user_good".into());
    options.override_password = Some("error_ITEM_LOCKED".into());
    let e = client
        .sandbox_processor_token_create("ins_109508")
        .options(options)
        .await
        .expect_err("locked");
    assert_eq!(plaid(&e).2, "ITEM_LOCKED");
    // The good pair links; anything else is INVALID_CREDENTIALS.
    link(&client, "user_good", "pass_good").await.expect("good");
    for (user, password) in [
        ("user_good", "error_NOT_A_CODE"),
        ("user_good", "wrong"),
        ("someone", "pass_good"),
    ] {
        let e = link(&client, user, password).await.expect_err(password);
        assert_eq!(plaid(&e).2, "INVALID_CREDENTIALS", "{user}/{password}");
    }
}

#[tokio::test]
async fn the_custom_user_links_the_accounts_its_configuration_describes() {
    let (_emulator, client) = start().await;
    let config = serde_json::json!({
        "override_accounts": [
            {"type": "depository", "subtype": "checking", "starting_balance": 1234.5,
             "force_available_balance": 1000, "meta": {"name": "Payroll"}},
            {"type": "credit", "subtype": "credit card", "starting_balance": 300,
             "has_null_available_balance": true, "meta": {"limit": 5000}},
            {"type": "depository", "subtype": "savings",
             "numbers": {"account": "9900001234", "ach_routing": "021000021"},
             "identity": {"names": ["Ada Lovelace"],
                          "emails": [{"data": "ada@example.org", "primary": true}],
                          "addresses": [{"data": {"street": "12 St James's Square",
                                                  "city": "London", "country": "GB"},
                                         "primary": true}]}},
        ]
    });
    let token = link(&client, "user_custom", &config.to_string())
        .await
        .expect("custom");
    let accounts = client
        .accounts_get(token.as_str())
        .await
        .expect("accounts")
        .accounts;
    let shown: Vec<_> = accounts
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.type_.to_string(),
                a.balances.current,
                a.balances.available,
                a.balances.limit,
            )
        })
        .collect();
    assert_eq!(
        shown[..2],
        [
            (
                "Payroll",
                "depository".to_string(),
                Some(1234.5),
                Some(1000.0),
                None
            ),
            (
                "Plaid credit card",
                "credit".to_string(),
                Some(300.0),
                None,
                Some(5000.0)
            ),
        ]
    );
    // The savings account's numbers and owner are the configured ones.
    let savings = &accounts[2];
    assert_eq!(savings.mask.as_deref(), Some("1234"));
    let auth = client.auth_get(token.as_str()).await.expect("auth");
    let ach = auth
        .numbers
        .ach
        .iter()
        .find(|n| n.account_id == savings.account_id)
        .expect("ach numbers");
    assert_eq!(
        (ach.account.as_str(), ach.routing.as_str()),
        ("9900001234", "021000021")
    );
    let identity = client.identity_get(token.as_str()).await.expect("identity");
    let owner = &identity
        .accounts
        .iter()
        .find(|a| a.account_id == savings.account_id)
        .expect("owned")
        .owners[0];
    assert_eq!(owner.names, ["Ada Lovelace"]);
    assert_eq!(owner.emails[0].data, "ada@example.org");
    assert_eq!(owner.addresses[0].data.city.as_deref(), Some("London"));
    assert!(
        !owner.phone_numbers.is_empty(),
        "unset fields keep the derived ones"
    );
    // A forced error, and configurations refused with the field named.
    let e = link(&client, "user_custom", r#"{"force_error":"ITEM_LOCKED"}"#)
        .await
        .expect_err("forced");
    assert_eq!(plaid(&e).2, "ITEM_LOCKED");
    for (config, named) in [
        ("not json", "JSON object"),
        (
            r#"{"override_accounts":{}}"#,
            "override_accounts must be an array",
        ),
        (
            r#"{"override_accounts":[{"type":"boat","subtype":"x"}]}"#,
            "override_accounts[0].type",
        ),
        (
            r#"{"override_accounts":[{"type":"depository"}]}"#,
            "subtype is required",
        ),
        (
            r#"{"override_accounts":[{"type":"depository","subtype":"checking","transactions":[]}]}"#,
            "transactions is not modelled",
        ),
        (
            r#"{"override_accounts":[{"type":"depository","subtype":"checking","numbers":{"bacs_sort_code":"1"}}]}"#,
            "numbers.bacs_sort_code is not modelled",
        ),
        (
            r#"{"override_accounts":[{"type":"depository","subtype":"checking","numbers":{"account":"12ab"}}]}"#,
            "numbers.account must be",
        ),
        (
            r#"{"override_accounts":[{"type":"depository","subtype":"checking","identity":{"emails":[{"primary":true}]}}]}"#,
            "identity.emails[0].data",
        ),
        (r#"{"force_error":"NOT_A_CODE"}"#, "force_error"),
    ] {
        let e = link(&client, "user_custom", config)
            .await
            .expect_err(config);
        assert_eq!(
            (plaid(&e).1.as_str(), plaid(&e).2.as_str()),
            ("INVALID_REQUEST", "INVALID_FIELD"),
            "{config}"
        );
        let message = &e.plaid_error().expect("plaid").error_message;
        assert!(message.contains(named), "{config}: {message}");
    }
}

#[tokio::test]
async fn an_item_error_answers_every_data_call_until_cleared() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let account = item.accounts[0].account_id.clone();
    let partner = client
        .processor_token_create(item.access_token.as_str(), &account, Processor::Dwolla)
        .await
        .expect("token")
        .processor_token;
    for code in ["ITEM_LOCKED", "PRODUCT_NOT_READY", "PRODUCTS_NOT_SUPPORTED"] {
        let error = PlaidError::known(code).expect("known");
        assert!(emulator.set_item_error(&item.access_token, error));
        let e = client
            .accounts_get(item.access_token.as_str())
            .await
            .expect_err(code);
        assert_eq!(plaid(&e), (400, "ITEM_ERROR".into(), code.into()));
        let e = client
            .auth_get(item.access_token.as_str())
            .await
            .expect_err(code);
        assert_eq!(plaid(&e).2, code);
        let e = client
            .processor_balance_get(partner.clone())
            .await
            .expect_err(code);
        assert_eq!(plaid(&e).2, code, "the partner's calls too");
        let shown = client
            .item_get(item.access_token.as_str())
            .await
            .expect("item/get still answers")
            .item
            .error
            .expect("the Item shows its error");
        assert_eq!(shown.error_code, code);
    }
    assert!(emulator.clear_item_error(&item.access_token));
    client
        .accounts_get(item.access_token.as_str())
        .await
        .expect("cleared");
    assert!(!emulator.set_item_error(
        "access-sandbox-unknown",
        PlaidError::known("ITEM_LOCKED").expect("known")
    ));
}

#[tokio::test]
async fn a_down_institution_fails_its_items_and_new_links() {
    let (emulator, client) = start().await;
    let token = link(&client, "user_good", "pass_good")
        .await
        .expect("linked");
    for (status, code) in [
        (InstitutionStatus::Down, "INSTITUTION_DOWN"),
        (
            InstitutionStatus::NotResponding,
            "INSTITUTION_NOT_RESPONDING",
        ),
    ] {
        emulator.set_institution_status("ins_109508", status);
        let e = client.accounts_get(token.as_str()).await.expect_err(code);
        assert_eq!(plaid(&e), (400, "INSTITUTION_ERROR".into(), code.into()));
        let e = link(&client, "user_good", "pass_good")
            .await
            .expect_err(code);
        assert_eq!(plaid(&e).2, code);
    }
    // Items of other institutions are not affected.
    let other = link_at(&client, "ins_3", "user_good", "pass_good")
        .await
        .expect("another institution links");
    client
        .accounts_get(other.as_str())
        .await
        .expect("another institution answers");
    emulator.set_institution_status("ins_109508", InstitutionStatus::Healthy);
    client.accounts_get(token.as_str()).await.expect("back up");
}

#[tokio::test]
async fn a_fault_aimed_at_one_operation_leaves_the_others_alone() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let account = item.accounts[0].account_id.clone();
    let unavailable = PlaidError::new(
        503,
        "API_ERROR",
        "PLANNED_MAINTENANCE",
        "down for maintenance",
    )
    .with_display_message("Try again in a few minutes");
    emulator.inject_at("/processor/token/create", Fault::PlaidError(unavailable), 1);
    let pending = emulator.pending_faults();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].path.as_deref(), Some("/processor/token/create"));
    assert_eq!(pending[0].remaining, 1);

    // The flow's other calls pass through untouched...
    client
        .accounts_get(item.access_token.as_str())
        .await
        .expect("not aimed at");
    client
        .auth_get(item.access_token.as_str())
        .await
        .expect("not aimed at");
    // ...and the aimed one fails, once, as configured.
    let e = client
        .processor_token_create(item.access_token.as_str(), &account, Processor::Dwolla)
        .await
        .expect_err("aimed at");
    assert_eq!(
        plaid(&e),
        (503, "API_ERROR".into(), "PLANNED_MAINTENANCE".into())
    );
    assert_eq!(
        e.plaid_error().expect("plaid").display_message.as_deref(),
        Some("Try again in a few minutes")
    );
    assert!(emulator.pending_faults().is_empty());
    client
        .processor_token_create(item.access_token.as_str(), &account, Processor::Dwolla)
        .await
        .expect("used up");

    // Cleared faults affect nothing.
    emulator.inject(Fault::ServerError { status: 500 }, 3);
    emulator.inject_at("/auth/get", Fault::DropConnection, 2);
    assert_eq!(emulator.clear_faults(), 5);
    client
        .auth_get(item.access_token.as_str())
        .await
        .expect("nothing pending");
}

#[tokio::test]
async fn a_malformed_answer_is_the_operations_own_cut_short_after_it_took_effect() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let account = item.accounts[0].account_id.clone();
    emulator.inject_at("/processor/token/create", Fault::MalformedBody, 1);
    let before = emulator.processor_token_count();
    let e = client
        .processor_token_create(item.access_token.as_str(), &account, Processor::Dwolla)
        .await
        .expect_err("cut short");
    assert!(matches!(e.kind(), ErrorKind::Decode { .. }), "{e:?}");
    assert_eq!(e.status(), Some(200));
    assert!(
        e.to_string().contains("processor_token"),
        "cut inside the operation's own answer: {e}"
    );
    assert_eq!(
        emulator.processor_token_count(),
        before + 1,
        "the token was minted: Plaid acted, the answer was lost"
    );
}

/// One control call: status and JSON answer.
async fn control(
    emulator: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}/__emulator/{path}", emulator.base_url()))
        .header("plaid-client-id", emulator.client_id())
        .header("plaid-secret", emulator.secret());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn the_control_surface_drives_the_emulator_over_http() {
    use reqwest::Method;
    use serde_json::json;
    let (emulator, client) = start().await;

    // Only with the emulator's credentials.
    let anonymous = reqwest::Client::new()
        .get(format!("{}/__emulator/faults", emulator.base_url()))
        .send()
        .await
        .expect("send");
    assert_eq!(anonymous.status(), 401);

    let (status, item) = control(&emulator, Method::POST, "items", None).await;
    assert_eq!(status, 200, "{item}");
    let token = item["access_token"].as_str().expect("token").to_string();

    // A fault aimed at one path, listed, then used up by that path alone.
    let (status, queued) = control(
        &emulator,
        Method::POST,
        "faults",
        Some(json!({"path": "/auth/get", "times": 1,
                    "fault": {"type": "plaid_error", "error_code": "ITEM_LOCKED"}})),
    )
    .await;
    assert_eq!(status, 200, "{queued}");
    assert_eq!(queued["faults"][0]["path"], "/auth/get");
    assert_eq!(queued["faults"][0]["fault"]["error_type"], "ITEM_ERROR");
    client
        .accounts_get(token.as_str())
        .await
        .expect("not aimed at");
    let e = client.auth_get(token.as_str()).await.expect_err("aimed at");
    assert_eq!(plaid(&e).2, "ITEM_LOCKED");
    let (_, listed) = control(&emulator, Method::GET, "faults", None).await;
    assert_eq!(listed["faults"], json!([]));

    // Item and institution states.
    control(
        &emulator,
        Method::POST,
        "items/error",
        Some(json!({"access_token": token, "error_code": "PRODUCT_NOT_READY"})),
    )
    .await;
    let e = client
        .accounts_get(token.as_str())
        .await
        .expect_err("state");
    assert_eq!(plaid(&e).2, "PRODUCT_NOT_READY");
    let (status, _) = control(
        &emulator,
        Method::DELETE,
        "items/error",
        Some(json!({"access_token": token})),
    )
    .await;
    assert_eq!(status, 200);
    client.accounts_get(token.as_str()).await.expect("cleared");
    control(
        &emulator,
        Method::POST,
        "institutions/status",
        Some(json!({"institution_id": "ins_109508", "status": "down"})),
    )
    .await;
    let e = client.accounts_get(token.as_str()).await.expect_err("down");
    assert_eq!(plaid(&e).2, "INSTITUTION_DOWN");
    control(
        &emulator,
        Method::POST,
        "institutions/status",
        Some(json!({"institution_id": "ins_109508", "status": "healthy"})),
    )
    .await;
    client.accounts_get(token.as_str()).await.expect("up");

    // Recorded requests (header names, never their values), key rotation, the error table.
    let (_, recorded) = control(&emulator, Method::GET, "requests", None).await;
    let paths: Vec<&str> = recorded["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .filter_map(|r| r["path"].as_str())
        .collect();
    assert!(paths.contains(&"/auth/get") && !paths.iter().any(|p| p.starts_with("/__emulator")));
    assert!(!recorded.to_string().contains(emulator.secret()));
    let (_, rotated) = control(&emulator, Method::POST, "webhook_keys/rotate", None).await;
    assert_eq!(rotated["key_id"], emulator.webhook_key_id().as_str());
    let (_, errors) = control(&emulator, Method::GET, "errors", None).await;
    assert_eq!(
        errors["errors"].as_array().map(Vec::len),
        Some(KNOWN_ERRORS.len())
    );

    // Refusals say what is wrong; clearing says how much was pending.
    let (status, refused) = control(
        &emulator,
        Method::POST,
        "faults",
        Some(json!({"fault": {"type": "meteor"}})),
    )
    .await;
    assert_eq!(
        (status, refused["error_code"].as_str()),
        (400, Some("INVALID_FIELD"))
    );
    let (status, _) = control(&emulator, Method::GET, "nothing-here", None).await;
    assert_eq!(status, 404);
    control(
        &emulator,
        Method::POST,
        "faults",
        Some(json!({"times": 4, "fault": {"type": "server_error", "status": 500}})),
    )
    .await;
    let (_, cleared) = control(&emulator, Method::DELETE, "faults", None).await;
    assert_eq!(cleared["cleared"], 4);
}

/// The binary's first `lines` lines of output, then it is stopped.
async fn emulator_output(args: &[&str], lines: usize) -> Vec<String> {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args(["run", "-q", "-p", "plaid-emulator", "--"])
        .args(args)
        .env_remove("PLAID_EMULATOR_SEED")
        .env_remove("PLAID_EMULATOR_LISTEN")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start");
    let mut out = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    while seen.len() < lines {
        let line = tokio::time::timeout(std::time::Duration::from_secs(120), out.next_line())
            .await
            .expect("in time")
            .expect("read")
            .expect("a line");
        seen.push(line);
    }
    let _ = child.kill().await;
    seen
}

#[tokio::test]
async fn the_binary_prints_the_same_lines_for_the_same_seed_and_refuses_open_addresses() {
    let first = emulator_output(&["--seed", "7"], 6).await;
    let second = emulator_output(&["--seed", "7"], 6).await;
    let token = |lines: &[String]| {
        lines
            .iter()
            .find(|l| l.starts_with("export PLAID_ACCESS_TOKEN="))
            .cloned()
            .expect("token line")
    };
    assert_eq!(token(&first), token(&second));
    assert_ne!(
        token(&first),
        token(&emulator_output(&["--seed", "8"], 6).await)
    );
    let refused = tokio::process::Command::new(env!("CARGO"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "run",
            "-q",
            "-p",
            "plaid-emulator",
            "--",
            "--listen",
            "0.0.0.0:0",
        ])
        .output()
        .await
        .expect("run");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a loopback address"));
}
