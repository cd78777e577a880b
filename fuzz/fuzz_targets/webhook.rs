//! Any `Plaid-Verification` header and body through plaid-sdk's webhook verifier: every input
//! ends in a typed refusal, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Vec<u8>, Vec<u8>)| {
    let (header, body) = input;
    plaid_sdk::fuzzing::webhook(&header, &body);
});
