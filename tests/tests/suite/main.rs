//! One test binary for the suites that share no process-wide state (one link instead of
//! eleven). The tests that install a global log subscriber (`redaction.rs`, `secrets.rs`,
//! `webhook_log.rs`) keep binaries of their own.

#[path = "../common/mod.rs"]
mod common;

mod emulator;
mod flow;
mod layers;
mod model;
mod never_panics;
mod receiver;
mod requests;
mod sandbox;
mod schema;
mod tool;
mod webhooks;
mod wire;
