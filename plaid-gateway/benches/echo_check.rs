//! The cost per answer of the gateway's echo check (does an upstream answer repeat the Plaid
//! secret: raw, JSON-escaped, percent-encoded, or any run of 8 of its characters), measured
//! alone, against two baselines doing less in the same run on the same answers:
//!
//! - `contains`: a plain search for the whole secret (catches only a raw echo);
//! - `parse`: the request-id read the gateway already does on every answer (a borrowed
//!   `serde_json` parse of the whole body).
//!
//! Answers of three sizes: a Plaid error (about 300 bytes), an `/accounts/get`-like answer
//! (about 4 KB), and a long one (about 256 KB, at the scale of a large `/transactions/get`).
//! Single-threaded and CPU-bound, so time per answer is CPU per answer; run it pinned
//! (`taskset -c 1 cargo bench -p plaid-gateway --bench echo_check`, `-- --quick` for a short
//! run). Prints the median of several rounds in microseconds per answer.

use std::hint::black_box;
use std::time::Instant;

const SECRET: &str = "9f0c2e7a51b84d3c96e0a1f2b3c4d5e6";

#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    #[allow(dead_code)]
    request_id: Option<std::borrow::Cow<'a, str>>,
}

/// One account object as `/accounts/get` answers it (numbers and names vary per index).
fn account(i: usize) -> String {
    format!(
        r#"{{"account_id":"BxBXxLj1m4HMXBm9WZZmCWVbPjX16EHwv99vp{i:04}","balances":{{"available":{a}.12,"current":{c}.5,"iso_currency_code":"USD","limit":null,"unofficial_currency_code":null}},"mask":"{m:04}","name":"Plaid Checking {i}","official_name":"Plaid Gold Standard 0% Interest Checking","subtype":"checking","type":"depository"}}"#,
        a = 100 + i * 7,
        c = 110 + i * 3,
        m = (i * 37) % 10_000,
    )
}

fn answer(accounts: usize) -> Vec<u8> {
    let list: Vec<String> = (0..accounts).map(account).collect();
    format!(
        r#"{{"accounts":[{}],"item":{{"item_id":"eVBnVMp7zdTJLkRNr33Rs6zr7KNJqBFL9DrE6","institution_id":"ins_109508","webhook":"https://www.genericwebhookurl.com/webhook","error":null,"available_products":["balance","identity"],"billed_products":["auth","transactions"],"consent_expiration_time":null,"update_type":"background"}},"request_id":"m8MDnv9okwxFNBV"}}"#,
        list.join(",")
    )
    .into_bytes()
}

fn error_answer() -> Vec<u8> {
    br#"{"display_message":null,"documentation_url":"https://plaid.com/docs/?ref=error#invalid-input-errors","error_code":"INVALID_ACCESS_TOKEN","error_message":"provided access token is in an invalid format. expected format: access-<environment>-<identifier>","error_type":"INVALID_INPUT","request_id":"HNTDNrA8F1shFEW","suggested_action":null}"#.to_vec()
}

/// Median microseconds per call of `f` over `answers`, `rounds` rounds of `per_round` calls.
fn measure(rounds: usize, per_round: usize, body: &[u8], f: impl Fn(&[u8]) -> bool) -> f64 {
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..per_round {
            black_box(f(black_box(body)));
        }
        samples.push(started.elapsed().as_secs_f64() * 1e6 / per_round as f64);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 3 } else { 9 };
    let secret = [SECRET];
    // As the gateway runs it on an answer's bytes.
    let echo = |bytes: &[u8]| {
        plaid_sdk::redaction::repeats_secret(&String::from_utf8_lossy(bytes), &secret)
    };
    let contains = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains(SECRET);
    let parse = |bytes: &[u8]| serde_json::from_slice::<Answer<'_>>(bytes).is_ok();
    println!(
        "answer            bytes   echo check µs   contains µs   parse µs   echo/contains   echo/parse"
    );
    for (name, body, per_round) in [
        ("Plaid error", error_answer(), 20_000),
        ("/accounts/get", answer(12), 5_000),
        ("long answer", answer(800), 100),
    ] {
        let per_round = if quick { per_round / 10 } else { per_round };
        assert!(!echo(&body), "the answers repeat no secret");
        let e = measure(rounds, per_round, &body, echo);
        let c = measure(rounds, per_round, &body, contains);
        let p = measure(rounds, per_round, &body, parse);
        println!(
            "{name:<15} {:>8} {e:>15.2} {c:>13.2} {p:>10.2} {:>15.1} {:>12.2}",
            body.len(),
            e / c,
            e / p
        );
    }
}
