//! Webhook verification: `WebhookVerifier::verify_signature` (key cached) against a minimal
//! hand-written check doing the same job with the same libraries (decode the three parts,
//! check `alg`, verify the ES256 signature with the same key, compare the body's SHA-256), in
//! one run; and `verify` (which also reads the event) for reference. Prints medians of several
//! rounds in microseconds per webhook and the ratio.
//!
//! `cargo bench -p plaid-sdk --bench webhooks` (add `-- --quick` for a short run).

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature, VerifyingKey};
use plaid_emulator::Emulator;
use plaid_sdk::webhooks::{WebhookVerifier, hex_sha256};
use plaid_sdk::{Environment, PlaidClient};

const BODY: &[u8] = br#"{"webhook_type":"ITEM","webhook_code":"ERROR","item_id":"wz666MBjYWTp2PDzzggYhM6oWWmBb","error":{"error_type":"ITEM_ERROR","error_code":"ITEM_LOGIN_REQUIRED","error_message":"the login details of this item have changed","display_message":null},"environment":"production"}"#;

/// The hand-written check: the same steps, no caching layer, no typed errors.
fn baseline(jwt: &str, body: &[u8], key: &VerifyingKey) -> bool {
    let Some((input, signature)) = jwt.rsplit_once('.') else {
        return false;
    };
    let Some((header, claims)) = input.split_once('.') else {
        return false;
    };
    let decode = |part: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(header), Some(claims)) = (decode(header), decode(claims)) else {
        return false;
    };
    if header["alg"] != "ES256" {
        return false;
    }
    let Some(signature) = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| Signature::from_slice(&s).ok())
    else {
        return false;
    };
    key.verify(input.as_bytes(), &signature).is_ok()
        && claims["request_body_sha256"].as_str() == Some(hex_sha256(body).as_str())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, per_round) = if quick { (3, 300) } else { (9, 2000) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let emulator = Emulator::start().await.expect("emulator");
        let client = PlaidClient::builder()
            .environment(Environment::custom(emulator.base_url()).expect("url"))
            .credentials(emulator.client_id(), emulator.secret())
            .build()
            .expect("client");
        let jwk = client
            .webhook_verification_key_get(emulator.webhook_key_id())
            .await
            .expect("key")
            .key;
        let mut point = vec![0x04];
        point.extend(URL_SAFE_NO_PAD.decode(&jwk.x).expect("x"));
        point.extend(URL_SAFE_NO_PAD.decode(&jwk.y).expect("y"));
        let key = VerifyingKey::from_sec1_bytes(&point).expect("key");
        let verifier = WebhookVerifier::new(client);
        let jwt = emulator.sign_webhook(BODY);
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "plaid-verification",
            http::HeaderValue::from_str(&jwt).expect("header"),
        );
        verifier
            .verify_signature(&jwt, BODY)
            .await
            .expect("warm the cache");
        assert!(baseline(&jwt, BODY, &key));

        let (mut sdk, mut hand, mut full) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let start = Instant::now();
            for _ in 0..per_round {
                assert!(baseline(&jwt, BODY, &key));
            }
            hand.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
            let start = Instant::now();
            for _ in 0..per_round {
                verifier.verify_signature(&jwt, BODY).await.expect("valid");
            }
            sdk.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
            let start = Instant::now();
            for _ in 0..per_round {
                verifier.verify(&headers, BODY).await.expect("valid");
            }
            full.push(start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round));
        }
        let (sdk, hand, full) = (median(sdk), median(hand), median(full));
        println!("webhook verification, {rounds} rounds of {per_round}, median µs per webhook");
        println!("  hand-written check:            {hand:8.1}");
        println!("  WebhookVerifier::verify_signature: {sdk:8.1}");
        println!("  WebhookVerifier::verify (+ event): {full:8.1}");
        println!("  verify_signature / hand-written: {:.3}", sdk / hand);
    });
}
