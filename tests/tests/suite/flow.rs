//! The processor-token family end to end against the emulator: the Sandbox flow from public
//! token to revocation, and each operation's error paths.

use plaid_emulator::Emulator;
use plaid_sdk::types::{
    AccountSubtype, AccountType, AccountsGetRequestOptions, CountryCode, ItemRemoveReasonCode,
    LinkTokenCreateRequestUser, SandboxPublicTokenCreateRequestOptions,
    SandboxPublicTokenCreateRequestOptionsTransactions,
};
use plaid_sdk::{Environment, ErrorKind, InvalidInput, PlaidClient, Processor, Product};

async fn start() -> (Emulator, PlaidClient) {
    let emulator = Emulator::start().await.expect("emulator");
    let client = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .build()
        .expect("client");
    (emulator, client)
}

fn code(err: &plaid_sdk::Error) -> (&str, &str) {
    let plaid = err
        .plaid_error()
        .unwrap_or_else(|| panic!("not a Plaid error: {err:?}"));
    (plaid.error_type.as_str(), plaid.error_code.as_str())
}

#[tokio::test]
async fn the_sandbox_flow_from_public_token_to_revocation() {
    let (emulator, client) = start().await;
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .await
        .expect("public token");
    assert!(
        public
            .public_token
            .expose_secret()
            .starts_with("public-sandbox-")
    );

    let exchanged = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("exchange");
    assert!(
        exchanged
            .access_token
            .expose_secret()
            .starts_with("access-sandbox-")
    );

    let accounts = client
        .accounts_get(&exchanged.access_token)
        .await
        .expect("accounts");
    assert_eq!(accounts.item.item_id, exchanged.item_id);
    assert_eq!(accounts.item.institution_id.as_deref(), Some("ins_109508"));
    assert_eq!(accounts.item.billed_products, [Product::Auth]);
    assert!(accounts.item.error.is_none());
    assert_eq!(accounts.accounts.len(), 3);
    let checking = &accounts.accounts[0];
    assert_eq!(checking.type_, AccountType::Depository);
    assert_eq!(checking.subtype, Some(AccountSubtype::Checking));
    assert_eq!(checking.balances.iso_currency_code.as_deref(), Some("USD"));
    let card = &accounts.accounts[2];
    assert_eq!(
        (card.type_.as_str(), card.balances.limit),
        ("credit", Some(2000.0))
    );
    assert_eq!(
        card.balances.available, None,
        "a null balance reads as None"
    );

    let created = client
        .processor_token_create(
            &exchanged.access_token,
            checking.account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("processor token");
    let stripe = client
        .processor_stripe_bank_account_token_create(
            &exchanged.access_token,
            checking.account_id.as_str(),
        )
        .await
        .expect("stripe token");
    assert!(
        stripe
            .stripe_bank_account_token
            .expose_secret()
            .starts_with("btok_")
    );

    let unrestricted = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect("get");
    assert!(
        unrestricted.products.is_empty(),
        "no limit until one is set"
    );
    client
        .processor_token_permissions_set(
            &created.processor_token,
            [Product::Auth, Product::Balance],
        )
        .await
        .expect("set");
    let read = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect("get");
    assert_eq!(read.products, [Product::Auth, Product::Balance]);
    client
        .processor_token_permissions_set(&created.processor_token, [])
        .await
        .expect("lift the limit");
    let read = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect("get");
    assert!(read.products.is_empty());

    client
        .item_remove(&exchanged.access_token)
        .await
        .expect("remove");
    assert!(emulator.is_removed(exchanged.access_token.expose_secret()));

    let err = client
        .processor_token_permissions_get(&created.processor_token)
        .await
        .expect_err("revoked");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PROCESSOR_TOKEN"));
    let err = client
        .accounts_get(&exchanged.access_token)
        .await
        .expect_err("removed");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .processor_token_create(
            &exchanged.access_token,
            checking.account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect_err("removed");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .item_remove(&exchanged.access_token)
        .await
        .expect_err("twice");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
}

#[tokio::test]
async fn a_public_token_exchanges_once() {
    let (_emulator, client) = start().await;
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .await
        .expect("public");
    client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("first");
    let err = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect_err("second");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PUBLIC_TOKEN"));
    let err = client
        .item_public_token_exchange("public-sandbox-unknown")
        .await
        .expect_err("unknown");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PUBLIC_TOKEN"));
}

#[tokio::test]
async fn each_operation_refuses_unknown_tokens_and_foreign_accounts() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let other = emulator.add_item();
    let unknown_access = "access-sandbox-00000000-0000-0000-0000-000000000000";
    let err = client
        .accounts_get(unknown_access)
        .await
        .expect_err("accounts");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .item_remove(unknown_access)
        .await
        .expect_err("remove");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .processor_stripe_bank_account_token_create(unknown_access, "acc")
        .await
        .expect_err("stripe");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    let err = client
        .processor_stripe_bank_account_token_create(
            item.access_token.as_str(),
            other.accounts[0].account_id.as_str(),
        )
        .await
        .expect_err("stripe, foreign account");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCOUNT_ID"));
    let err = client
        .processor_token_permissions_set("processor-sandbox-unknown", [Product::Auth])
        .await
        .expect_err("set");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PROCESSOR_TOKEN"));
    let err = client
        .processor_token_permissions_get("processor-sandbox-unknown")
        .await
        .expect_err("get");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PROCESSOR_TOKEN"));
    let err = client
        .sandbox_public_token_create("first-platypus", [Product::Auth])
        .await
        .expect_err("institution");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_INSTITUTION"));
    // Removing one Item leaves the others alone.
    client
        .item_remove(item.access_token.as_str())
        .await
        .expect("remove");
    client
        .accounts_get(other.access_token.as_str())
        .await
        .expect("the other Item still works");
}

#[tokio::test]
async fn every_operation_checks_its_input_before_sending() {
    let (emulator, client) = start().await;
    let invalid = |e: plaid_sdk::Error| match e.kind() {
        ErrorKind::InvalidInput(i) => i.clone(),
        _ => panic!("not refused before sending: {e:?}"),
    };
    assert_eq!(
        invalid(client.accounts_get("").await.expect_err("")),
        InvalidInput::Blank {
            field: "access_token".into()
        }
    );
    assert_eq!(
        invalid(client.item_remove(" ").await.expect_err("")),
        InvalidInput::Blank {
            field: "access_token".into()
        }
    );
    assert_eq!(
        invalid(client.item_public_token_exchange("").await.expect_err("")),
        InvalidInput::Blank {
            field: "public_token".into()
        }
    );
    assert_eq!(
        invalid(
            client
                .processor_token_permissions_get("")
                .await
                .expect_err("")
        ),
        InvalidInput::Blank {
            field: "processor_token".into()
        }
    );
    assert_eq!(
        invalid(
            client
                .processor_token_permissions_set("processor-sandbox-1", [Product::from("")])
                .await
                .expect_err("")
        ),
        InvalidInput::Blank {
            field: "products[0]".into()
        }
    );
    assert_eq!(
        invalid(
            client
                .processor_stripe_bank_account_token_create("access-sandbox-1", "")
                .await
                .expect_err("")
        ),
        InvalidInput::Blank {
            field: "account_id".into()
        }
    );
    assert_eq!(
        invalid(
            client
                .sandbox_public_token_create("ins_109508", [])
                .await
                .expect_err("")
        ),
        InvalidInput::TooFewItems {
            field: "initial_products".into(),
            min: 1
        }
    );
    assert_eq!(emulator.request_count(), 0);

    let production = PlaidClient::builder()
        .environment(Environment::Production)
        .credentials("id", "secret")
        .build()
        .expect("client");
    assert_eq!(
        invalid(
            production
                .sandbox_public_token_create("ins_109508", [Product::Auth])
                .await
                .expect_err("")
        ),
        InvalidInput::SandboxOnly {
            operation: "sandbox_public_token_create"
        }
    );
    assert!(matches!(
        invalid(
            production
                .processor_token_permissions_get("processor-sandbox-1")
                .await
                .expect_err("")
        ),
        InvalidInput::WrongEnvironment { field, .. } if field == "processor_token"
    ));
    assert!(matches!(
        invalid(
            production
                .item_public_token_exchange("public-sandbox-1")
                .await
                .expect_err("")
        ),
        InvalidInput::WrongEnvironment { field, .. } if field == "public_token"
    ));
}

#[tokio::test]
async fn item_remove_can_say_why() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let too_long = "x".repeat(513);
    let err = client
        .item_remove(item.access_token.as_str())
        .reason_code(ItemRemoveReasonCode::Other)
        .reason_note(too_long)
        .await
        .expect_err("too long");
    assert!(matches!(
        err.kind(),
        ErrorKind::InvalidInput(InvalidInput::TooLong { field, max: 512 }) if field == "reason_note"
    ));
    assert_eq!(emulator.request_count(), 0);
    client
        .item_remove(item.access_token.as_str())
        .reason_code(ItemRemoveReasonCode::FraudOther)
        .reason_note("closing the test account")
        .await
        .expect("removed");
    let body = emulator.requests()[0].json().expect("json");
    assert_eq!(body["reason_code"], "FRAUD_OTHER");
    assert_eq!(body["reason_note"], "closing the test account");
    assert!(emulator.is_removed(&item.access_token));
    // Without a reason, neither field is sent.
    let other = emulator.add_item();
    client
        .item_remove(other.access_token.as_str())
        .await
        .expect("removed");
    let body = emulator.requests()[1].json().expect("json");
    assert!(
        body.get("reason_code").is_none() && body.get("reason_note").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn optional_fields_are_set_on_the_pending_call_and_sent() {
    let (emulator, client) = start().await;
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .options(
            SandboxPublicTokenCreateRequestOptions::new()
                .webhook("https://app.example/plaid/webhook")
                .override_username("user_good"),
        )
        .await
        .expect("public token");
    let sent = emulator.requests()[0].json().expect("json");
    assert_eq!(
        sent["options"],
        serde_json::json!({"webhook": "https://app.example/plaid/webhook", "override_username": "user_good"}),
        "only the fields set are sent"
    );
    let item = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("exchange");

    let got = client.item_get(&item.access_token).await.expect("item");
    assert_eq!(got.item.item_id, item.item_id);
    assert_eq!(
        got.item.webhook.as_deref(),
        Some("https://app.example/plaid/webhook"),
        "the Sandbox option reached the Item"
    );
    assert!(!got.request_id.is_empty());

    let accounts = client.accounts_get(&item.access_token).await.expect("all");
    let first = accounts.accounts[0].account_id.clone();
    client
        .accounts_get(&item.access_token)
        .options(AccountsGetRequestOptions::new().account_ids([first.as_str()]))
        .await
        .expect("filtered");
    let sent = emulator
        .requests()
        .last()
        .expect("sent")
        .json()
        .expect("json");
    assert_eq!(sent["options"]["account_ids"], serde_json::json!([first]));

    let link = client
        .link_token_create("Platypus Pay", "en", [CountryCode::Us])
        .user(LinkTokenCreateRequestUser::new("user-1"))
        .products([Product::Auth])
        .webhook("https://app.example/plaid/webhook")
        .await
        .expect("link token");
    assert!(
        link.link_token.starts_with("link-sandbox-"),
        "{}",
        link.link_token
    );
    assert!(link.expiration.ends_with('Z'), "{}", link.expiration);
    let sent = emulator
        .requests()
        .last()
        .expect("sent")
        .json()
        .expect("json");
    assert_eq!(
        sent["user"],
        serde_json::json!({"client_user_id": "user-1"})
    );
    assert_eq!(sent["country_codes"], serde_json::json!(["US"]));
}

#[tokio::test]
async fn spec_constraints_of_nested_fields_are_checked_before_sending() {
    let (emulator, client) = start().await;
    let err = client
        .sandbox_public_token_create("ins_109508", [Product::Transactions])
        .options(SandboxPublicTokenCreateRequestOptions::new().transactions(
            SandboxPublicTokenCreateRequestOptionsTransactions::new().days_requested(0),
        ))
        .await
        .expect_err("out of range");
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput(InvalidInput::OutOfRange { field, .. })
            if field == "options.transactions.days_requested"),
        "{err:?}"
    );
    let err = client
        .link_token_create("Platypus Pay", "en", [CountryCode::Us])
        .user(LinkTokenCreateRequestUser::new(" "))
        .await
        .expect_err("blank user id");
    assert_eq!(err.kind().name(), "invalid_input");
    assert_eq!(
        err.to_string(),
        "link_token_create: invalid input, nothing sent: `user.client_user_id` is empty"
    );
    let err = client
        .link_token_create("", "en", [CountryCode::Us])
        .await
        .expect_err("blank name");
    assert!(err.to_string().contains("`client_name`"), "{err}");
    assert_eq!(emulator.request_count(), 0, "nothing reached the server");
}

/// The processor token's whole life, on both sides: the fintech mints it, the partner reads
/// the one account it was minted for, within the products it is allowed, across a rotation
/// of the access token, until the Item is removed.
#[tokio::test]
async fn the_partner_redeems_a_processor_token_until_the_item_is_removed() {
    let (emulator, fintech) = start().await;
    // The partner has credentials of its own with Plaid; the emulator takes one pair.
    let partner = PlaidClient::builder()
        .environment(Environment::custom(emulator.base_url()).expect("url"))
        .credentials(emulator.client_id(), emulator.secret())
        .app_name("partner-ledger/1.0")
        .build()
        .expect("partner");
    let item = emulator.add_item();
    let (checking, savings) = (&item.accounts[0], &item.accounts[1]);
    let minted = fintech
        .processor_token_create(
            item.access_token.as_str(),
            savings.account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("minted");
    let token = &minted.processor_token;

    let auth = partner.processor_auth_get(token).await.expect("auth");
    assert_eq!(
        auth.account.account_id, savings.account_id,
        "only its account"
    );
    let ach = auth.numbers.ach.as_ref().expect("ACH numbers");
    assert_eq!(ach.account_id, savings.account_id);
    assert!(ach.account.ends_with(&savings.mask), "{}", ach.account);
    assert_eq!(ach.routing.len(), 9);
    let again = partner.processor_auth_get(token).await.expect("auth again");
    assert_eq!(
        again.numbers.ach.as_ref().map(|a| a.account.clone()),
        Some(ach.account.clone()),
        "the same numbers every time"
    );
    // The fintech's own view agrees with the partner's.
    let fintech_auth = fintech
        .auth_get(item.access_token.as_str())
        .await
        .expect("auth");
    let numbers: Vec<(&str, &str)> = fintech_auth
        .numbers
        .ach
        .iter()
        .map(|a| (a.account_id.as_str(), a.account.as_str()))
        .collect();
    assert!(numbers.contains(&(savings.account_id.as_str(), ach.account.as_str())));
    assert!(numbers.iter().any(|(id, _)| *id == checking.account_id));

    let balance = partner.processor_balance_get(token).await.expect("balance");
    assert_eq!(balance.account.balances.current, Some(savings.current));
    let identity = partner
        .processor_identity_get(token)
        .await
        .expect("identity");
    assert!(!identity.account.owners[0].names.is_empty());
    let account = partner.processor_account_get(token).await.expect("account");
    assert_eq!(account.institution_id, "ins_109508");

    // Permissions narrowed to auth: balance is refused with Plaid's error, auth still works.
    fintech
        .processor_token_permissions_set(token, [Product::Auth])
        .await
        .expect("narrowed");
    let err = partner
        .processor_balance_get(token)
        .await
        .expect_err("not permitted");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PRODUCT"));
    partner
        .processor_auth_get(token)
        .await
        .expect("auth allowed");
    fintech
        .processor_token_permissions_set(token, Vec::<Product>::new())
        .await
        .expect("lifted");
    partner
        .processor_balance_get(token)
        .await
        .expect("every product again");

    // Rotation: a new access token; the old one stops at once; the processor token goes on.
    let rotated = fintech
        .item_access_token_invalidate(item.access_token.as_str())
        .await
        .expect("rotated");
    let err = fintech
        .accounts_get(item.access_token.as_str())
        .await
        .expect_err("old token");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCESS_TOKEN"));
    fintech
        .accounts_get(&rotated.new_access_token)
        .await
        .expect("new token");
    partner
        .processor_auth_get(token)
        .await
        .expect("processor token kept across rotation");

    // Removal ends every processor token of the Item.
    fintech
        .item_remove(&rotated.new_access_token)
        .await
        .expect("removed");
    let err = partner
        .processor_auth_get(token)
        .await
        .expect_err("revoked");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_PROCESSOR_TOKEN"));
}

#[tokio::test]
async fn the_fintech_reads_balances_auth_and_identity_of_the_accounts_it_names() {
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let savings = &item.accounts[1];
    let only = plaid_sdk::types::AccountsBalanceGetRequestOptions::default()
        .account_ids(vec![savings.account_id.clone()]);
    let balance = client
        .accounts_balance_get(item.access_token.as_str())
        .options(only)
        .await
        .expect("balance");
    assert_eq!(balance.accounts.len(), 1);
    assert_eq!(balance.accounts[0].account_id, savings.account_id);
    assert!(balance.accounts[0].balances.last_updated_datetime.is_some());
    let identity = client
        .identity_get(item.access_token.as_str())
        .await
        .expect("identity");
    assert_eq!(identity.accounts.len(), item.accounts.len());
    let unknown = plaid_sdk::types::AuthGetRequestOptions::default()
        .account_ids(vec!["not-an-account".to_string()]);
    let err = client
        .auth_get(item.access_token.as_str())
        .options(unknown)
        .await
        .expect_err("unknown account");
    assert_eq!(code(&err), ("INVALID_INPUT", "INVALID_ACCOUNT_ID"));
    let institution = client
        .institutions_get_by_id("ins_109508", [CountryCode::Us])
        .await
        .expect("institution");
    assert_eq!(institution.institution.name, "First Platypus Bank");
}

#[tokio::test]
async fn a_partner_tests_without_a_fintech_and_gets_its_webhooks() {
    let (_emulator, partner) = start().await;
    let created = partner
        .sandbox_processor_token_create("ins_109508")
        .await
        .expect("a Sandbox processor token");
    let auth = partner
        .processor_auth_get(&created.processor_token)
        .await
        .expect("redeemed");
    assert!(auth.numbers.ach.is_some());
    let options = plaid_sdk::types::SandboxProcessorTokenCreateRequestOptions::default()
        .override_username("user_good".to_string())
        .override_password("not-the-password".to_string());
    let err = partner
        .sandbox_processor_token_create("ins_109508")
        .options(options)
        .await
        .expect_err("wrong test credentials");
    assert_eq!(code(&err), ("ITEM_ERROR", "INVALID_CREDENTIALS"));

    let receiver = plaid_sdk_tests::ScriptedServer::start(plaid_sdk_tests::json(200, "{}")).await;
    partner
        .processor_token_webhook_update(&created.processor_token)
        .webhook(receiver.url())
        .await
        .expect("webhook set");
    let delivered = receiver.wait_for_requests(1).await;
    let body: serde_json::Value = serde_json::from_slice(&delivered[0].body).expect("json");
    assert_eq!(body["webhook_code"], "WEBHOOK_UPDATE_ACKNOWLEDGED");
    assert_eq!(body["new_webhook_url"], receiver.url());
    let verification = delivered[0]
        .header("plaid-verification")
        .expect("signed")
        .to_string();
    let verifier = plaid_sdk::webhooks::WebhookVerifier::new(partner.clone());
    verifier
        .verify_signature(&verification, &delivered[0].body)
        .await
        .expect("a webhook Plaid signed");
}

#[tokio::test]
async fn raw_calls_reach_the_emulator_directly_and_through_a_gateway() {
    use plaid_gateway::{Caller, Config, Gateway, hash_token};
    let (emulator, client) = start().await;
    let item = emulator.add_item();
    let minted = client
        .processor_token_create(
            item.access_token.as_str(),
            item.accounts[0].account_id.as_str(),
            Processor::Dwolla,
        )
        .await
        .expect("minted");
    let body = serde_json::json!({ "processor_token": minted.processor_token.expose_secret() });
    let direct: serde_json::Value = client
        .call("/processor/auth/get", &body)
        .await
        .expect("direct");
    assert_eq!(
        direct["account"]["account_id"],
        item.accounts[0].account_id.as_str()
    );

    let config = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        vec![Caller::new("tests", &hash_token("caller-raw")).expect("caller")],
    );
    let gateway = Gateway::start(config).await.expect("gateway");
    let caller = PlaidClient::builder()
        .environment(Environment::custom(&gateway.url()).expect("url"))
        .without_credentials()
        .gateway_header("x-gateway-token", "caller-raw")
        .build()
        .expect("caller");
    let through: serde_json::Value = caller
        .call("/processor/auth/get", &body)
        .await
        .expect("through the gateway");
    assert_eq!(through["numbers"]["ach"], direct["numbers"]["ach"]);
    // An operation the gateway does not allow is its refusal, typed.
    let err = caller
        .call::<serde_json::Value>("/transactions/sync", &serde_json::json!({}))
        .await
        .expect_err("not allowed");
    assert_eq!(err.error_type(), Some(&plaid_sdk::ErrorType::GatewayError));
    assert_eq!(err.status(), Some(403));
}
