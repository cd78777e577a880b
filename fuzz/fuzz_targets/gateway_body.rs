//! Any bytes as a caller's body through plaid-gateway's canonicalization: refused, or one JSON
//! object without credential keys that is its own canonical form; never a panic otherwise.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    plaid_gateway::fuzzing::body(bytes);
});
