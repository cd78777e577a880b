//! Any status, headers and body through plaid-sdk's response handling: every input must end
//! in a value or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u16, Vec<(Vec<u8>, Vec<u8>)>, Vec<u8>)| {
    let (status, headers, body) = input;
    plaid_sdk::fuzzing::response(status % 1000, &headers, &body);
});
