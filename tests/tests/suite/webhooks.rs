//! Webhooks: verification refuses every tampered or unsafe variant with its own error, keys
//! are fetched once and cached, events are typed, and the emulator delivers signed webhooks
//! for the Sandbox operations, retrying as Plaid does.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use plaid_emulator::Emulator;
use plaid_sdk::types::{SandboxItemFireWebhookRequestWebhookCode, WebhookType};
use plaid_sdk::webhooks::{
    HandlerError, WebhookError, WebhookEvent, WebhookKind, WebhookResponse, WebhookService,
    WebhookVerifier,
};
use plaid_sdk::{Environment, PlaidClient, Product};
use plaid_sdk_tests::{Action, ClosedPort, ScriptedServer, json};
use serde_json::{Value, json as j};

use crate::common::webhook::{BODY, client_for, encode, headers, parts, start, with_kid};

/// How many key fetches the emulator served.
fn key_fetches(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| r.path == "/webhook_verification_key/get")
        .count()
}

#[tokio::test]
async fn a_signed_webhook_verifies_and_reads_as_its_type() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let jwt = emulator.sign_webhook(BODY);
    let event = verifier.verify(&headers(&jwt), BODY).await.expect("valid");
    assert_eq!(
        (event.webhook_type.as_str(), event.webhook_code.as_str()),
        ("ITEM", "NEW_ACCOUNTS_AVAILABLE")
    );
    assert_eq!(event.item_id.as_deref(), Some("item-1"));
    assert_eq!(event.environment.as_deref(), Some("sandbox"));
    assert!(event.error.is_none());
    let WebhookKind::ItemNewAccountsAvailable(body) = &event.kind else {
        panic!("typed: {:?}", event.kind)
    };
    assert_eq!(body.item_id.as_deref(), Some("item-1"));
    // The header name is matched case-insensitively, as HTTP wants.
    let mut h = http::HeaderMap::new();
    h.insert(
        http::HeaderName::from_static("plaid-verification"),
        http::HeaderValue::from_str(&jwt).expect("value"),
    );
    verifier.verify(&h, BODY).await.expect("valid again");
    assert_eq!(key_fetches(&emulator), 1, "the key was cached");
    let shown = format!("{verifier:?} {event:?}");
    assert!(!shown.contains(emulator.secret()), "{shown}");
}

#[tokio::test]
async fn every_tampered_or_unsafe_variant_is_refused_with_its_own_error() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let jwt = emulator.sign_webhook(BODY);
    let (header, claims, signature) = parts(&jwt);

    let refused = async |jwt: &str, body: &[u8]| -> WebhookError {
        verifier
            .verify(&headers(jwt), body)
            .await
            .expect_err("must be refused")
    };

    // The body changed by one byte.
    let mut tampered = BODY.to_vec();
    tampered[BODY.len() - 3] = b'X';
    let e = refused(&jwt, &tampered).await;
    assert!(matches!(e, WebhookError::BodyMismatch), "{e:?}");

    // The signature of another message (a valid signature, just not of this JWT).
    let other = emulator.sign_webhook(b"{}");
    let (_, _, other_signature) = parts(&other);
    let forged = format!("{}.{}.{other_signature}", encode(&header), encode(&claims));
    let e = refused(&forged, BODY).await;
    assert!(matches!(e, WebhookError::BadSignature), "{e:?}");

    // Claims changed under the original signature (a newer iat, say).
    let mut newer = claims.clone();
    newer["iat"] = j!(claims["iat"].as_i64().expect("iat") + 1);
    let e = refused(
        &format!("{}.{}.{signature}", encode(&header), encode(&newer)),
        BODY,
    )
    .await;
    assert!(matches!(e, WebhookError::BadSignature), "{e:?}");

    // Algorithms other than ES256, `none` included, and a header without one.
    for alg in [
        j!("none"),
        j!("HS256"),
        j!("RS256"),
        j!("ES384"),
        j!("es256"),
        Value::Null,
    ] {
        let mut h = header.clone();
        h["alg"] = alg.clone();
        let sig = if alg == j!("none") {
            ""
        } else {
            signature.as_str()
        };
        let e = refused(&format!("{}.{}.{sig}", encode(&h), encode(&claims)), BODY).await;
        assert!(matches!(e, WebhookError::Algorithm { .. }), "{alg}: {e:?}");
        assert_eq!(e.http_status(), 401);
    }

    // A key id Plaid does not know, and none at all.
    let mut h = header.clone();
    h["kid"] = j!("no-such-key");
    let e = refused(
        &format!("{}.{}.{signature}", encode(&h), encode(&claims)),
        BODY,
    )
    .await;
    assert!(
        matches!(&e, WebhookError::UnknownKey { kid } if kid == "no-such-key"),
        "{e:?}"
    );
    h.as_object_mut().expect("object").remove("kid");
    let e = refused(
        &format!("{}.{}.{signature}", encode(&h), encode(&claims)),
        BODY,
    )
    .await;
    assert!(matches!(e, WebhookError::MissingKeyId), "{e:?}");

    // Claims missing.
    for claim in ["iat", "request_body_sha256"] {
        let mut c = claims.clone();
        c.as_object_mut().expect("object").remove(claim);
        let e = refused(
            &format!("{}.{}.{signature}", encode(&header), encode(&c)),
            BODY,
        )
        .await;
        assert!(
            matches!(e, WebhookError::MissingClaim(name) if name == claim),
            "{claim}: {e:?}"
        );
    }

    // Not a JWT at all.
    for bad in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.AAAA",
        &format!("{}.!!!.AAAA", encode(&header)),
        &format!("{}.bm90IGpzb24.AAAA", encode(&header)),
        "bm90IGpzb24.e30.AAAA",
        &format!("{}.{}.AAAA", encode(&header), encode(&claims)),
        &format!("{}.{}.!!!", encode(&header), encode(&claims)),
    ] {
        let e = refused(bad, BODY).await;
        assert!(matches!(e, WebhookError::Malformed(_)), "{bad:?}: {e:?}");
    }

    // No header, and one far too long.
    let e = verifier
        .verify(&http::HeaderMap::new(), BODY)
        .await
        .expect_err("no header");
    assert!(matches!(e, WebhookError::MissingHeader), "{e:?}");
    assert_eq!(e.http_status(), 400);
    let e = refused(&"a".repeat(5000), BODY).await;
    assert!(
        matches!(e, WebhookError::HeaderTooLarge { len: 5000 }),
        "{e:?}"
    );

    // Each refusal says why without repeating the JWT or the body.
    for e in [refused(&forged, BODY).await, refused(&jwt, &tampered).await] {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains(&signature) && !text.contains(&other_signature),
            "{text}"
        );
        assert!(!text.contains("item-1"), "{text}");
    }
}

#[tokio::test]
async fn age_is_checked_against_the_configured_window_and_clock() {
    let (emulator, client) = start().await;
    let now = SystemTime::now();
    let verifier = WebhookVerifier::new(client.clone());

    let old = emulator.sign_webhook_issued_at(BODY, now - Duration::from_secs(6 * 60));
    let e = verifier
        .verify(&headers(&old), BODY)
        .await
        .expect_err("old");
    assert!(
        matches!(e, WebhookError::TooOld { age, max_age } if age >= Duration::from_secs(360) && max_age == Duration::from_secs(300)),
        "{e:?}"
    );
    let recent = emulator.sign_webhook_issued_at(BODY, now - Duration::from_secs(4 * 60));
    verifier
        .verify(&headers(&recent), BODY)
        .await
        .expect("within five minutes");

    let future = emulator.sign_webhook_issued_at(BODY, now + Duration::from_secs(120));
    let e = verifier
        .verify(&headers(&future), BODY)
        .await
        .expect_err("future");
    assert!(matches!(e, WebhookError::IssuedInFuture { .. }), "{e:?}");
    let skewed = emulator.sign_webhook_issued_at(BODY, now + Duration::from_secs(10));
    verifier
        .verify(&headers(&skewed), BODY)
        .await
        .expect("within the skew");

    // The window and the clock are the caller's to set.
    let fresh = emulator.sign_webhook(BODY);
    let later = WebhookVerifier::new(client.clone()).clock(move || now + Duration::from_secs(90));
    later
        .verify(&headers(&fresh), BODY)
        .await
        .expect("90 s is fine");
    let strict = later.max_age(Duration::from_secs(60));
    let e = strict
        .verify(&headers(&fresh), BODY)
        .await
        .expect_err("over 60 s");
    assert!(matches!(e, WebhookError::TooOld { .. }), "{e:?}");
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let kid = emulator.webhook_key_id();
    let jwt = emulator.sign_webhook(BODY);
    assert!(emulator.expire_webhook_key(&kid));
    let e = verifier
        .verify(&headers(&jwt), BODY)
        .await
        .expect_err("expired");
    assert!(
        matches!(&e, WebhookError::KeyExpired { kid: k, .. } if *k == kid),
        "{e:?}"
    );
    assert!(!emulator.expire_webhook_key("no-such-key"));
}

#[tokio::test]
async fn a_cached_key_is_fetched_again_after_the_refresh_period_and_its_expiry_is_seen() {
    let (emulator, client) = start().await;
    let start = SystemTime::now();
    let now = std::sync::Arc::new(std::sync::Mutex::new(start));
    let clock = std::sync::Arc::clone(&now);
    let verifier = WebhookVerifier::new(client)
        .key_refresh(Duration::from_secs(3600))
        .max_age(Duration::from_secs(3 * 3600))
        .clock(move || *clock.lock().expect("clock"));
    let jwt = emulator.sign_webhook(BODY);
    verifier.verify(&headers(&jwt), BODY).await.expect("valid");
    emulator.expire_webhook_key(&emulator.webhook_key_id());
    *now.lock().expect("clock") = start + Duration::from_secs(1800);
    verifier
        .verify(&headers(&jwt), BODY)
        .await
        .expect("cached, still trusted");
    assert_eq!(key_fetches(&emulator), 1);
    *now.lock().expect("clock") = start + Duration::from_secs(3700);
    let e = verifier
        .verify(&headers(&jwt), BODY)
        .await
        .expect_err("refreshed");
    assert!(matches!(e, WebhookError::KeyExpired { .. }), "{e:?}");
    assert_eq!(key_fetches(&emulator), 2);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_both_stay_cached() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let first = emulator.sign_webhook(BODY);
    verifier
        .verify(&headers(&first), BODY)
        .await
        .expect("first key");
    let old_kid = emulator.webhook_key_id();
    let new_kid = emulator.rotate_webhook_key();
    assert_ne!(old_kid, new_kid);
    let second = emulator.sign_webhook(BODY);
    assert_eq!(parts(&second).0["kid"], j!(new_kid));
    for _ in 0..3 {
        verifier
            .verify(&headers(&second), BODY)
            .await
            .expect("new key");
        verifier
            .verify(&headers(&first), BODY)
            .await
            .expect("old key");
    }
    assert_eq!(key_fetches(&emulator), 2, "one fetch per key");
}

#[tokio::test]
async fn concurrent_verifications_fetch_a_key_once() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client);
    let jwt = emulator.sign_webhook(BODY);
    let h = headers(&jwt);
    let all = (0..16).map(|_| verifier.verify(&h, BODY));
    for result in futures_join_all(all).await {
        result.expect("valid");
    }
    assert_eq!(key_fetches(&emulator), 1);
}

/// Polls every future together on this task, as `join_all` does.
async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, fut) in out.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[tokio::test]
async fn a_key_that_cannot_be_fetched_is_a_retryable_refusal() {
    let emulator = Emulator::start().await.expect("emulator");
    let closed = ClosedPort::new();
    let verifier = WebhookVerifier::new(client_for(&closed.url(), "id", "secret"));
    let e = verifier
        .verify(&headers(&emulator.sign_webhook(BODY)), BODY)
        .await
        .expect_err("no key server");
    assert!(matches!(e, WebhookError::KeyFetch(_)), "{e:?}");
    assert_eq!(e.http_status(), 503, "Plaid should try again later");
    assert!(std::error::Error::source(&e).is_some());
    // Wrong credentials are not an unknown key either.
    let verifier = WebhookVerifier::new(client_for(emulator.base_url(), "id", "wrong"));
    let e = verifier
        .verify(&headers(&emulator.sign_webhook(BODY)), BODY)
        .await
        .expect_err("bad credentials");
    assert!(
        matches!(e, WebhookError::KeyFetch(_)),
        "not the webhook's fault: {e:?}"
    );
    assert_eq!(e.http_status(), 503);
    assert!(e.to_string().contains("INVALID_API_KEYS"), "{e}");
}

#[test]
fn events_are_typed_and_unknown_ones_are_kept() {
    let event = WebhookEvent::parse(
        br#"{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"i","environment":"production",
             "error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOGIN_REQUIRED","error_message":"m","display_message":null}}"#,
    )
    .expect("parses");
    let WebhookKind::ItemError(body) = &event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(
        body.error.as_ref().map(|e| e.error_code.as_str()),
        Some("ITEM_LOGIN_REQUIRED")
    );
    assert_eq!(
        event.error.as_ref().map(|e| e.error_code.as_str()),
        Some("ITEM_LOGIN_REQUIRED")
    );

    let event = WebhookEvent::parse(
        br#"{"webhook_type":"AUTH","webhook_code":"DEFAULT_UPDATE","item_id":"i","environment":"sandbox",
             "account_ids_with_new_auth":[],"account_ids_with_updated_auth":{"acc":["ACCOUNT_NUMBER","SOMETHING_NEW"]},"error":null}"#,
    )
    .expect("parses");
    let WebhookKind::AuthDefaultUpdate(body) = &event.kind else {
        panic!("{:?}", event.kind)
    };
    let updated = serde_json::to_value(&body.account_ids_with_updated_auth).expect("json");
    assert_eq!(updated, j!({"acc": ["ACCOUNT_NUMBER", "SOMETHING_NEW"]}));

    // New types and codes, and a known code with new fields: never an error.
    for body in [
        br#"{"webhook_type":"TRANSFER","webhook_code":"TRANSFER_EVENTS_UPDATE","environment":"sandbox"}"#.as_slice(),
        br#"{"webhook_type":"ITEM","webhook_code":"BRAND_NEW_CODE","item_id":"i","public_token":"public-sandbox-x"}"#,
    ] {
        let event = WebhookEvent::parse(body).expect("kept");
        let WebhookKind::Other(other) = &event.kind else {
            panic!("{:?}", event.kind)
        };
        assert!(other.fields().contains_key("webhook_code"));
        let debug = format!("{event:?}");
        assert!(!debug.contains("public-sandbox-x"), "{debug}");
    }
    let event = WebhookEvent::parse(
        br#"{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"i","environment":"sandbox","added_later":1}"#,
    )
    .expect("extra fields are fine");
    assert!(matches!(event.kind, WebhookKind::ItemLoginRepaired(_)));

    // Not a webhook at all, or a known one missing what its type requires.
    for bad in [
        b"not json".as_slice(),
        b"[]",
        br#"{"webhook_code":"ERROR"}"#,
        br#"{"webhook_type":"ITEM","webhook_code":"USER_ACCOUNT_REVOKED","item_id":"i","environment":"sandbox"}"#,
    ] {
        let e = WebhookEvent::parse(bad).expect_err("not an event");
        assert!(matches!(e, WebhookError::Body(_)), "{e:?}");
        assert_eq!(e.http_status(), 400);
    }
}

/// The webhook the receiver got as request `n` (1-based), verified.
async fn verified(receiver: &ScriptedServer, verifier: &WebhookVerifier, n: usize) -> WebhookEvent {
    let requests = receiver.wait_for_requests(n).await;
    let request = &requests[n - 1];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), Some("application/json"));
    let jwt = request.header("plaid-verification").expect("signed");
    verifier
        .verify(&headers(jwt), &request.body)
        .await
        .expect("verifies")
}

#[tokio::test]
async fn reset_login_sends_a_verified_item_error_and_later_calls_fail_so() {
    let (_emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client.clone());
    let receiver = ScriptedServer::start(json(200, "{}")).await;
    let public = client
        .sandbox_public_token_create("ins_109508", [Product::Auth])
        .options(
            plaid_sdk::types::SandboxPublicTokenCreateRequestOptions::new().webhook(receiver.url()),
        )
        .await
        .expect("public token");
    let item = client
        .item_public_token_exchange(&public.public_token)
        .await
        .expect("exchange");
    let accounts = client
        .accounts_get(&item.access_token)
        .await
        .expect("accounts");

    let reset = client
        .sandbox_item_reset_login(&item.access_token)
        .await
        .expect("reset");
    assert!(reset.reset_login);
    let event = verified(&receiver, &verifier, 1).await;
    assert_eq!(
        (event.webhook_type.as_str(), event.webhook_code.as_str()),
        ("ITEM", "ERROR")
    );
    assert_eq!(event.item_id.as_deref(), Some(item.item_id.as_str()));
    let WebhookKind::ItemError(body) = &event.kind else {
        panic!("{:?}", event.kind)
    };
    assert_eq!(
        body.error.as_ref().map(|e| e.error_code.as_str()),
        Some("ITEM_LOGIN_REQUIRED")
    );

    let e = client
        .accounts_get(&item.access_token)
        .await
        .expect_err("login required");
    let plaid = e.plaid_error().expect("plaid error");
    assert_eq!(
        (plaid.error_type.as_str(), plaid.error_code.as_str()),
        ("ITEM_ERROR", "ITEM_LOGIN_REQUIRED")
    );
    let account = &accounts.accounts[0].account_id;
    let e = client
        .processor_token_create(&item.access_token, account, plaid_sdk::Processor::Dwolla)
        .await
        .expect_err("login required");
    assert_eq!(e.error_code(), Some("ITEM_LOGIN_REQUIRED"));
    let got = client
        .item_get(&item.access_token)
        .await
        .expect("item/get still works");
    assert_eq!(
        got.item.error.as_ref().map(|e| e.error_code.as_str()),
        Some("ITEM_LOGIN_REQUIRED")
    );

    // LOGIN_REPAIRED fixes it, and says so.
    client
        .sandbox_item_fire_webhook(
            &item.access_token,
            SandboxItemFireWebhookRequestWebhookCode::LoginRepaired,
        )
        .await
        .expect("fired");
    let event = verified(&receiver, &verifier, 2).await;
    assert!(
        matches!(event.kind, WebhookKind::ItemLoginRepaired(_)),
        "{event:?}"
    );
    client
        .accounts_get(&item.access_token)
        .await
        .expect("works again");
}

#[tokio::test]
async fn fire_webhook_and_webhook_update_deliver_what_they_name() {
    let (emulator, client) = start().await;
    let verifier = WebhookVerifier::new(client.clone());
    let first = ScriptedServer::start(json(200, "{}")).await;
    let second = ScriptedServer::start(json(200, "{}")).await;
    let item = emulator.add_item();

    // No webhook URL yet: Plaid's Sandbox refuses.
    let e = client
        .sandbox_item_fire_webhook(
            &item.access_token,
            SandboxItemFireWebhookRequestWebhookCode::NewAccountsAvailable,
        )
        .await
        .expect_err("no URL");
    assert_eq!(e.error_code(), Some("SANDBOX_WEBHOOK_INVALID"));

    let updated = client
        .item_webhook_update(&item.access_token)
        .webhook(first.url())
        .await
        .expect("update");
    assert_eq!(updated.item.webhook.as_deref(), Some(first.url().as_str()));
    let event = verified(&first, &verifier, 1).await;
    let WebhookKind::ItemWebhookUpdateAcknowledged(body) = &event.kind else {
        panic!("{event:?}")
    };
    assert_eq!(body.new_webhook_url, first.url());

    let cases = [
        (
            SandboxItemFireWebhookRequestWebhookCode::NewAccountsAvailable,
            None,
            "ITEM",
            "NEW_ACCOUNTS_AVAILABLE",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::PendingDisconnect,
            None,
            "ITEM",
            "PENDING_DISCONNECT",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::UserPermissionRevoked,
            None,
            "ITEM",
            "USER_PERMISSION_REVOKED",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::UserAccountRevoked,
            None,
            "ITEM",
            "USER_ACCOUNT_REVOKED",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::Error,
            None,
            "ITEM",
            "ERROR",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::DefaultUpdate,
            Some(WebhookType::Auth),
            "AUTH",
            "DEFAULT_UPDATE",
        ),
    ];
    for (n, (code, ty, want_type, want_code)) in cases.into_iter().enumerate() {
        let mut call = client.sandbox_item_fire_webhook(&item.access_token, code);
        if let Some(ty) = ty {
            call = call.webhook_type(ty);
        }
        assert!(call.await.expect("fired").webhook_fired);
        let event = verified(&first, &verifier, n + 2).await;
        assert_eq!(
            (event.webhook_type.as_str(), event.webhook_code.as_str()),
            (want_type, want_code)
        );
        assert!(
            !matches!(event.kind, WebhookKind::Other(_)),
            "typed: {event:?}"
        );
    }

    // Codes the Sandbox refuses for this Item.
    for (code, ty, refused) in [
        (
            SandboxItemFireWebhookRequestWebhookCode::SmsMicrodepositsVerification,
            None,
            "SANDBOX_PRODUCT_NOT_ENABLED",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::DefaultUpdate,
            None,
            "SANDBOX_PRODUCT_NOT_ENABLED",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::ProductReady,
            None,
            "SANDBOX_PRODUCT_NOT_ENABLED",
        ),
        (
            SandboxItemFireWebhookRequestWebhookCode::NewAccountsAvailable,
            Some(WebhookType::Auth),
            "INVALID_FIELD",
        ),
    ] {
        let mut call = client.sandbox_item_fire_webhook(&item.access_token, code.clone());
        if let Some(ty) = ty {
            call = call.webhook_type(ty);
        }
        let e = call.await.expect_err("refused");
        assert_eq!(e.error_code(), Some(refused), "{code:?}: {e}");
    }

    // Moving the webhook: the acknowledgement goes to the new URL only.
    let before = first.hits();
    client
        .item_webhook_update(&item.access_token)
        .webhook(second.url())
        .await
        .expect("moved");
    let event = verified(&second, &verifier, 1).await;
    assert_eq!(event.webhook_code, "WEBHOOK_UPDATE_ACKNOWLEDGED");
    assert_eq!(first.hits(), before);
    let attempts = emulator.wait_for_webhook_attempts(8).await;
    assert_eq!(attempts.len(), 8);
    assert!(
        attempts
            .iter()
            .all(|a| a.status == Some(200) && a.attempt == 1),
        "{attempts:?}"
    );
}

#[tokio::test]
async fn failed_and_slow_deliveries_are_retried_and_signed_each_time() {
    let emulator = Emulator::builder()
        .webhook_retries(Duration::from_millis(10), 4)
        .webhook_timeout(Duration::from_millis(200))
        .start()
        .await
        .expect("emulator");
    let client = client_for(emulator.base_url(), emulator.client_id(), emulator.secret());
    let verifier = WebhookVerifier::new(client);
    let receiver = ScriptedServer::start(json(200, "{}")).await;
    receiver.push([json(500, "{}"), Action::Stall]);
    emulator.send_webhook(receiver.url(), serde_json::from_slice(BODY).expect("json"));
    let event = verified(&receiver, &verifier, 3).await;
    assert_eq!(event.webhook_code, "NEW_ACCOUNTS_AVAILABLE");
    for n in 1..=2 {
        verified(&receiver, &verifier, n).await;
    }
    let attempts = emulator.wait_for_webhook_attempts(3).await;
    let statuses: Vec<(u32, Option<u16>)> =
        attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(statuses, [(1, Some(500)), (2, None), (3, Some(200))]);
    assert_eq!(receiver.hits(), 3, "nothing after a 2xx");
}

mod never_panics {
    //! Arbitrary header and body bytes, and JWT-shaped headers with arbitrary parts around
    //! the emulator's real key: every case ends in a value or a typed error.

    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    struct Fixture {
        runtime: tokio::runtime::Runtime,
        emulator: Emulator,
        verifier: WebhookVerifier,
    }

    fn fixture() -> &'static Fixture {
        static FIXTURE: OnceLock<Fixture> = OnceLock::new();
        FIXTURE.get_or_init(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("runtime");
            let emulator = runtime.block_on(Emulator::start()).expect("emulator");
            let client = PlaidClient::builder()
                .environment(Environment::custom(emulator.base_url()).expect("url"))
                .credentials(emulator.client_id(), emulator.secret())
                .retry_policy(plaid_sdk::RetryPolicy::none())
                .build()
                .expect("client");
            Fixture {
                runtime,
                emulator,
                verifier: WebhookVerifier::new(client),
            }
        })
    }

    fn part() -> impl Strategy<Value = String> {
        prop_oneof![
            ".{0,40}",
            prop::collection::vec(any::<u8>(), 0..120).prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        ]
    }

    fn claim_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,70}".prop_map(Value::from),
            Just(j!([])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_bytes(header in prop::collection::vec(any::<u8>(), 0..600),
                           body in prop::collection::vec(any::<u8>(), 0..300)) {
            let f = fixture();
            f.runtime.block_on(async {
                let mut h = http::HeaderMap::new();
                if let Ok(value) = http::HeaderValue::from_bytes(&header) {
                    h.insert("plaid-verification", value);
                }
                let _ = f.verifier.verify(&h, &body).await;
                let text = String::from_utf8_lossy(&header);
                let _ = f.verifier.verify_signature(&text, &body).await;
            });
            let _ = WebhookEvent::parse(&body);
        }

        #[test]
        fn jwt_shaped(alg in prop_oneof![Just("ES256".to_string()), ".{0,10}"],
                      real_kid in any::<bool>(),
                      kid in ".{0,40}",
                      iat in claim_value(),
                      sha in claim_value(),
                      signature in part(),
                      body in prop::collection::vec(any::<u8>(), 0..100)) {
            let f = fixture();
            let kid = if real_kid { f.emulator.webhook_key_id() } else { kid };
            let header = j!({"alg": alg, "kid": kid});
            let claims = j!({"iat": iat, "request_body_sha256": sha});
            let jwt = format!("{}.{}.{signature}", encode(&header), encode(&claims));
            let result = f.runtime.block_on(f.verifier.verify_signature(&jwt, &body));
            prop_assert!(result.is_err(), "an unsigned JWT verified");
        }
    }
}

#[tokio::test]
async fn a_flood_of_made_up_key_ids_costs_a_bounded_number_of_plaid_calls() {
    let (emulator, client) = start().await;
    let start = std::time::SystemTime::now();
    let now = std::sync::Arc::new(std::sync::Mutex::new(start));
    let clock = std::sync::Arc::clone(&now);
    let verifier = WebhookVerifier::new(client).clock(move || *clock.lock().expect("clock"));
    let jwt = emulator.sign_webhook(BODY);
    let (mut unknown, mut throttled) = (0, 0);
    for n in 0..100 {
        let forged = with_kid(&jwt, &format!("forged-kid-{n}"));
        match verifier.verify(&headers(&forged), BODY).await {
            Err(WebhookError::UnknownKey { .. }) => unknown += 1,
            Err(WebhookError::KeyFetchThrottled { .. }) => throttled += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((unknown, throttled), (10, 90));
    assert_eq!(key_fetches(&emulator), 10, "the burst, and no more");
    // A made-up id already refused is not asked about again.
    let again = with_kid(&jwt, "forged-kid-0");
    let e = verifier
        .verify(&headers(&again), BODY)
        .await
        .expect_err("unknown");
    assert!(matches!(e, WebhookError::UnknownKey { .. }), "{e:?}");
    assert_eq!(key_fetches(&emulator), 10);
    // A genuine new key meanwhile is refused with a 503 (Plaid delivers again later)...
    emulator.rotate_webhook_key();
    let genuine = emulator.sign_webhook(BODY);
    let e = verifier
        .verify(&headers(&genuine), BODY)
        .await
        .expect_err("budget spent");
    assert!(matches!(e, WebhookError::KeyFetchThrottled { .. }), "{e:?}");
    assert_eq!(e.http_status(), 503);
    // ...and fetched once the budget refills.
    *now.lock().expect("clock") = start + Duration::from_secs(6);
    verifier
        .verify(&headers(&genuine), BODY)
        .await
        .expect("the genuine key is fetched");
    assert_eq!(key_fetches(&emulator), 11);
}

// The ready endpoint: `WebhookService`.

/// A request body that never sends anything.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

fn webhook_request<B>(method: &str, jwt: Option<&str>, body: B) -> http::Request<B> {
    let mut request = http::Request::builder()
        .method(method)
        .uri("/plaid/webhooks");
    if let Some(jwt) = jwt {
        request = request.header("plaid-verification", jwt);
    }
    request.body(body).expect("request")
}

async fn answer(response: WebhookResponse) -> (u16, Value) {
    use http_body_util::BodyExt as _;
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()[http::header::CONTENT_TYPE],
        "application/json"
    );
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

#[tokio::test]
async fn the_webhook_service_answers_every_request_as_plaid_and_its_senders_expect() {
    use std::sync::{Arc, Mutex};
    let (emulator, client) = start().await;
    let received = Arc::new(Mutex::new(Vec::<WebhookEvent>::new()));
    let seen = Arc::clone(&received);
    let service = WebhookService::new(WebhookVerifier::new(client), move |event| {
        let seen = Arc::clone(&seen);
        async move {
            if event.webhook_code == "LOGIN_REPAIRED" {
                // A failure of the application's own, with a detail the sender must not see.
                return Err(HandlerError::msg("database down at db-7.internal"));
            }
            seen.lock().expect("events").push(event);
            Ok(())
        }
    })
    .max_body(256)
    .timeout(Duration::from_millis(200));
    let jwt = emulator.sign_webhook(BODY);
    let full = |bytes: &[u8]| http_body_util::Full::new(bytes::Bytes::copy_from_slice(bytes));

    // Verified: 200, and the handler has the event (through tower's `Service` here).
    let response = tower_service::Service::call(
        &mut service.clone(),
        webhook_request("POST", Some(&jwt), full(BODY)),
    )
    .await
    .expect("infallible");
    assert_eq!(answer(response).await, (200, j!({"received": true})));
    assert_eq!(
        received.lock().expect("events")[0].webhook_code,
        "NEW_ACCOUNTS_AVAILABLE"
    );

    // Refused, each with its status and reason; the handler sees none of them.
    let (status, reply) = answer(
        service
            .receive(webhook_request("GET", Some(&jwt), full(BODY)))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (405, &j!("method_not_allowed")));
    let tampered = BODY.to_ascii_lowercase();
    let (status, reply) = answer(
        service
            .receive(webhook_request("POST", Some(&jwt), full(&tampered)))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (401, &j!("body_mismatch")));
    let (status, reply) = answer(
        service
            .receive(webhook_request("POST", None, full(BODY)))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (400, &j!("missing_header")));
    let large = [b' '; 257];
    let (status, reply) = answer(
        service
            .receive(webhook_request("POST", Some(&jwt), full(&large)))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (413, &j!("body_too_large")));
    let (status, reply) = answer(
        service
            .receive(webhook_request("POST", Some(&jwt), Stalled))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (408, &j!("timeout")));
    assert_eq!(received.lock().expect("events").len(), 1);

    // The handler's failure: a 500 (Plaid sends the webhook again), its detail kept inside.
    let repaired = br#"{"webhook_type":"ITEM","webhook_code":"LOGIN_REPAIRED","item_id":"item-1","environment":"sandbox"}"#;
    let (status, reply) = answer(
        service
            .receive(webhook_request(
                "POST",
                Some(&emulator.sign_webhook(repaired)),
                full(repaired),
            ))
            .await,
    )
    .await;
    assert_eq!((status, &reply["error"]), (500, &j!("handler_failed")));
    assert!(!reply.to_string().contains("db-7"), "{reply}");
}
