//! plaid-sdk built without a TLS feature, as a user with `default-features = false` and no
//! TLS feature builds it: a client for an `https` URL is refused when it is built, with an
//! error that names the features, and a client for plain `http` on loopback still builds.
//! CI runs it alone: `cargo run -p plaid-sdk-no-tls`.

use plaid_sdk::{ConfigError, Environment, ErrorKind, PlaidClient};

fn main() {
    let refused = PlaidClient::builder().credentials("id", "s").build();
    let error = match refused {
        Ok(_) => {
            eprintln!(
                "plaid-sdk was built with a TLS feature (a whole-workspace build turns one on): \
                 run `cargo run -p plaid-sdk-no-tls` alone"
            );
            std::process::exit(2);
        }
        Err(e) => e,
    };
    let ErrorKind::Config(config) = error.kind() else {
        panic!("not a configuration error: {error:?}");
    };
    assert!(
        matches!(config, ConfigError::TlsNotEnabled(_)),
        "{config:?}"
    );
    assert!(config.to_string().contains("rustls"), "{config}");
    let loopback = Environment::custom("http://127.0.0.1:1").expect("a loopback URL");
    let built = PlaidClient::builder()
        .environment(loopback)
        .credentials("id", "s")
        .build();
    assert!(built.is_ok(), "{built:?}");
    println!("without TLS: https refused at build ({config}); loopback http builds");
}
