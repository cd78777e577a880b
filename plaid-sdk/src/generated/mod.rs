//! Everything `cargo xtask generate` writes into the SDK: never edited by hand (change the
//! spec fragment or the xtask and run the command again; `--check` in CI proves these files
//! are what it writes). Lints are relaxed for these files alone, because the code is
//! generated, not ours.
//!
//! - `enums.rs`: the open enums (`Processor`, `ErrorType`, `Product`). They depend on the
//!   runtime's leaves alone (`open_enum`, `validate`), so the runtime's errors and retries can
//!   name them; nothing else of the runtime depends on generated code but the client's
//!   assembly (`config.rs` hands `OPERATIONS` to the transport).
//! - `schema.rs`: progenitor's types (`types`), and the request structs' constructors,
//!   setters and input checks.
//! - `operations.rs`: one method per operation, the pending calls' setters, the `Request`
//!   impls, `OPERATIONS`, the typed webhooks, and the public types' re-exports.

#[rustfmt::skip]
#[allow(
missing_docs, // documented from spec/descriptions.yaml where the spec has a place for it
unreachable_pub, // the enums are re-exported at the crate's root
unused_qualifications, // generated paths are fully qualified on purpose
clippy::all, // generated text
)]
mod enums;
pub use enums::*;

#[rustfmt::skip] // formatted by the xtask with prettyplease; `cargo fmt` must not rewrite it
#[allow(
missing_docs, // documented from spec/descriptions.yaml where the spec has a place for it
unreachable_pub, // progenitor makes everything pub inside this private module
dead_code, // progenitor emits conversions the facade does not use
unused_qualifications, // generated paths are fully qualified on purpose
clippy::all, // progenitor's style, not ours
missing_debug_implementations, // generated error helper types
rust_2018_idioms // elided lifetimes in generated signatures
)]
mod schema;
// The types keep their paths (`crate::generated::types::X`).
pub use schema::*;

#[rustfmt::skip]
#[allow(
clippy::all, // generated text, one shape repeated per operation
unused_qualifications, // generated paths are fully qualified on purpose
)]
pub mod operations;
