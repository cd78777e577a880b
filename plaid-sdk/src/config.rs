//! The client builder: settings, credentials, and reading them from the environment.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::environment::Environment;
use crate::error::ConfigError;
use crate::retry::RetryPolicy;
use crate::secret::ClientSecret;
use crate::transport::{Limits, Shared};
use crate::{Error, PlaidClient};

/// The API version this SDK is written for, sent as `Plaid-Version` unless overridden.
pub const DEFAULT_PLAID_VERSION: &str = "2020-09-14";

/// The `User-Agent` the SDK sends.
pub const USER_AGENT: &str = concat!("plaid-sdk-rust/", env!("CARGO_PKG_VERSION"));

/// Builds a [`PlaidClient`]. Start from [`PlaidClient::builder`].
///
/// Defaults: [`Environment::Sandbox`], `Plaid-Version: 2020-09-14`, a 10 s connect timeout, a
/// 30 s timeout for each attempt, [`RetryPolicy::default`], a 4 MiB limit on response bodies.
#[must_use]
pub struct ClientBuilder {
    environment: Environment,
    credentials: Option<(String, ClientSecret)>,
    without_credentials: bool,
    gateway_header: Option<(String, ClientSecret)>,
    plaid_version: String,
    connect_timeout: Duration,
    timeout: Duration,
    retry: RetryPolicy,
    max_body_bytes: usize,
    http_client: Option<reqwest::Client>,
    allow_insecure_http: bool,
    app_name: Option<String>,
}

/// The gateway header [`ClientBuilder::from_lookup`] uses unless `PLAID_GATEWAY_HEADER` names
/// another: the one plaid-gateway reads.
pub const DEFAULT_GATEWAY_HEADER: &str = "x-gateway-token";

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("environment", &self.environment)
            .field("client_id", &self.credentials.as_ref().map(|(id, _)| id))
            .field("secret", &self.credentials.as_ref().map(|(_, s)| s))
            .field("without_credentials", &self.without_credentials)
            .field(
                "gateway_header",
                &self.gateway_header.as_ref().map(|(name, v)| (name, v)),
            )
            .field("plaid_version", &self.plaid_version)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("custom_http_client", &self.http_client.is_some())
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("app_name", &self.app_name)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            environment: Environment::Sandbox,
            credentials: None,
            without_credentials: false,
            gateway_header: None,
            plaid_version: DEFAULT_PLAID_VERSION.into(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            max_body_bytes: 4 << 20,
            http_client: None,
            allow_insecure_http: false,
            app_name: None,
        }
    }
}

impl ClientBuilder {
    /// Where requests go.
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environment = environment;
        self
    }

    /// The client id and secret, sent as `PLAID-CLIENT-ID` and `PLAID-SECRET` on every request.
    pub fn credentials(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<ClientSecret>,
    ) -> Self {
        self.credentials = Some((client_id.into(), secret.into()));
        self.without_credentials = false;
        self
    }

    /// Gateway mode: send no credentials, for a gateway that adds them on its side.
    pub fn without_credentials(mut self) -> Self {
        self.credentials = None;
        self.without_credentials = true;
        self
    }

    /// A header of your own on every request, such as the token a gateway authenticates
    /// callers with. Its value is treated as a secret (redacted, marked sensitive).
    pub fn gateway_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<ClientSecret>,
    ) -> Self {
        self.gateway_header = Some((name.into(), value.into()));
        self
    }

    /// The `Plaid-Version` header (default `2020-09-14`).
    pub fn plaid_version(mut self, version: impl Into<String>) -> Self {
        self.plaid_version = version.into();
        self
    }

    /// How long to wait for a connection. Applies to the SDK's own HTTP client only; a client
    /// given with [`http_client`](Self::http_client) keeps its own setting.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long one attempt may take, from connecting to the end of the response body.
    /// Each call can override it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed calls are retried; [`RetryPolicy::none`] turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The largest response body accepted, in bytes (default 4 MiB).
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Use this `reqwest::Client` (its proxy, TLS and pool settings) instead of the SDK's own.
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`, as the SDK's own client
    /// is: reqwest follows redirects by default, and a followed redirect carries the
    /// credential headers to the host it names.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Allow plain `http://` to a host other than loopback. Tokens and credentials then cross
    /// the network unencrypted: meant for a gateway on a private network you trust.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Your application's name (and version), appended to the `User-Agent` the SDK sends:
    /// `plaid-sdk-rust/0.1.0 checkout-service/2.3`. Plaid's support and your proxies see
    /// which service called. The SDK always sets the `User-Agent` itself (a client given with
    /// [`http_client`](Self::http_client) keeps none of its own): this is the way to add to
    /// it. At most 128 visible ASCII characters; `build` refuses others.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// A builder from the process environment; see [`PlaidClient::from_env`].
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// A builder from variables looked up by `lookup` (for configuration that does not live
    /// in the process environment, and for tests):
    ///
    /// - `PLAID_CLIENT_ID`, `PLAID_SECRET`: your credentials, required unless
    ///   `PLAID_GATEWAY_TOKEN` is set.
    /// - `PLAID_GATEWAY_TOKEN`: gateway mode instead: no Plaid credentials are sent, and this
    ///   token goes in the header `PLAID_GATEWAY_HEADER` names (default `x-gateway-token`,
    ///   plaid-gateway's). Set with `PLAID_CLIENT_ID` or `PLAID_SECRET` it is refused, so
    ///   that Plaid's secret never goes to a gateway by mistake.
    /// - `PLAID_ENV`: `sandbox` (the default when unset), `production`, or an `http(s)://` URL
    ///   (a gateway's, in gateway mode).
    /// - `PLAID_VERSION`: optional, the `Plaid-Version` header.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |name: &'static str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut builder = match get("PLAID_GATEWAY_TOKEN") {
            Some(token) => {
                if let Some(name) = ["PLAID_CLIENT_ID", "PLAID_SECRET"]
                    .into_iter()
                    .find(|name| get(name).is_some())
                {
                    return Err(ConfigError::InvalidVariable {
                        name: "PLAID_GATEWAY_TOKEN",
                        reason: format!(
                            "is set together with {name}: a gateway adds the credentials, so set one or the other"
                        ),
                    }
                    .into());
                }
                let header = get("PLAID_GATEWAY_HEADER");
                let header = header.as_deref().map_or(DEFAULT_GATEWAY_HEADER, str::trim);
                ClientBuilder::default()
                    .without_credentials()
                    .gateway_header(header, token.trim())
            }
            None => {
                let client_id = get("PLAID_CLIENT_ID")
                    .ok_or(ConfigError::MissingVariable("PLAID_CLIENT_ID"))?;
                let secret =
                    get("PLAID_SECRET").ok_or(ConfigError::MissingVariable("PLAID_SECRET"))?;
                ClientBuilder::default().credentials(client_id.trim(), secret.trim())
            }
        };
        if let Some(env) = get("PLAID_ENV") {
            let environment =
                env.parse::<Environment>()
                    .map_err(|e| ConfigError::InvalidVariable {
                        name: "PLAID_ENV",
                        reason: format!("is not usable: {e}"),
                    })?;
            builder = builder.environment(environment);
        }
        if let Some(version) = get("PLAID_VERSION") {
            builder = builder.plaid_version(version.trim());
        }
        Ok(builder)
    }

    /// Checks the settings and builds the client.
    pub fn build(self) -> Result<PlaidClient, Error> {
        if self.environment.is_plaintext_remote() && !self.allow_insecure_http {
            return Err(ConfigError::InsecureUrl(self.environment.base_url().to_string()).into());
        }
        if !TLS_BUILT_IN
            && self.http_client.is_none()
            && self.environment.base_url().starts_with("https://")
        {
            return Err(ConfigError::TlsNotEnabled(self.environment.base_url().to_string()).into());
        }
        if self.timeout.is_zero() {
            return Err(
                ConfigError::InvalidSetting("the timeout must be more than zero".into()).into(),
            );
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::InvalidSetting(
                "max_body_bytes must be more than zero".into(),
            )
            .into());
        }
        let mut headers = HeaderMap::new();
        let mut secrets = Vec::new();
        match (&self.credentials, self.without_credentials) {
            (Some((id, secret)), _) => {
                if id.trim().is_empty() {
                    return Err(ConfigError::InvalidSetting("the client id is empty".into()).into());
                }
                if secret.expose_secret().trim().is_empty() {
                    return Err(ConfigError::InvalidSetting("the secret is empty".into()).into());
                }
                headers.insert(
                    HeaderName::from_static("plaid-client-id"),
                    header_value(id, "the client id", false)?,
                );
                headers.insert(
                    HeaderName::from_static("plaid-secret"),
                    header_value(secret.expose_secret(), "the secret", true)?,
                );
                secrets.push(secret.clone());
            }
            (None, true) => {}
            (None, false) => return Err(ConfigError::NoCredentials.into()),
        }
        if let Some((name, value)) = &self.gateway_header {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::InvalidHeader("the gateway header name"))?;
            headers.insert(
                name,
                header_value(value.expose_secret(), "the gateway header value", true)?,
            );
            secrets.push(value.clone());
        }
        headers.insert(
            HeaderName::from_static("plaid-version"),
            header_value(&self.plaid_version, "the Plaid-Version", false)?,
        );
        let user_agent = match &self.app_name {
            None => HeaderValue::from_static(USER_AGENT),
            Some(app) => {
                let app = app.trim();
                if app.is_empty()
                    || app.len() > 128
                    || !app.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                {
                    return Err(ConfigError::InvalidSetting(
                        "the app name must be 1 to 128 visible ASCII characters".into(),
                    )
                    .into());
                }
                header_value(&format!("{USER_AGENT} {app}"), "the app name", false)?
            }
        };
        headers.insert(reqwest::header::USER_AGENT, user_agent);

        let http = match self.http_client {
            Some(client) => client,
            None => {
                install_crypto_provider();
                reqwest::Client::builder()
                    .connect_timeout(self.connect_timeout)
                    // Plaid never redirects, and a redirect followed would carry the
                    // credential headers to wherever it points.
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| ConfigError::HttpClient(e.to_string()))?
            }
        };
        let shared = Shared::new(
            self.environment,
            http,
            headers,
            secrets,
            Limits {
                timeout: self.timeout,
                retry: self.retry,
                max_body_bytes: self.max_body_bytes,
            },
            // The generated operations' table: the runtime parses their routes once.
            crate::OPERATIONS,
        )?;
        Ok(PlaidClient::from_shared(shared))
    }
}

/// Whether the SDK was built with a TLS feature, so its own HTTP client speaks `https`.
const TLS_BUILT_IN: bool = cfg!(any(
    feature = "rustls",
    feature = "rustls-ring",
    feature = "native-tls"
));

/// With the `rustls-ring` feature, reqwest leaves the choice of crypto provider to the
/// process: ring becomes the default unless the application installed another first (then
/// this does nothing).
fn install_crypto_provider() {
    #[cfg(feature = "rustls-ring")]
    {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn header_value(
    value: &str,
    what: &'static str,
    sensitive: bool,
) -> Result<HeaderValue, ConfigError> {
    let mut v =
        HeaderValue::from_str(value.trim()).map_err(|_| ConfigError::InvalidHeader(what))?;
    v.set_sensitive(sensitive);
    Ok(v)
}

impl PlaidClient {
    /// A builder with the defaults listed on [`ClientBuilder`].
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client configured by `PLAID_CLIENT_ID`, `PLAID_SECRET`, `PLAID_ENV` (`sandbox`, the
    /// default, `production`, or a URL) and the optional `PLAID_VERSION`; or, in gateway mode,
    /// by `PLAID_GATEWAY_TOKEN` (and `PLAID_GATEWAY_HEADER`) with `PLAID_ENV` the gateway's
    /// URL, sending no Plaid credentials ([`ClientBuilder::from_lookup`] has the details).
    /// The error names the variable that is missing or unusable; it never panics.
    pub fn from_env() -> Result<Self, Error> {
        ClientBuilder::from_env()?.build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn config_error(result: Result<ClientBuilder, Error>) -> ConfigError {
        match result.map(|_| ()).expect_err("should fail").kind() {
            ErrorKind::Config(e) => e.clone(),
            other => panic!("not a config error: {other:?}"),
        }
    }

    #[test]
    fn from_env_names_each_missing_variable() {
        assert_eq!(
            config_error(ClientBuilder::from_lookup(lookup(&[]))),
            ConfigError::MissingVariable("PLAID_CLIENT_ID")
        );
        assert_eq!(
            config_error(ClientBuilder::from_lookup(lookup(&[(
                "PLAID_CLIENT_ID",
                "id"
            )]))),
            ConfigError::MissingVariable("PLAID_SECRET")
        );
        assert_eq!(
            config_error(ClientBuilder::from_lookup(lookup(&[
                ("PLAID_CLIENT_ID", "id"),
                ("PLAID_SECRET", "  ")
            ]))),
            ConfigError::MissingVariable("PLAID_SECRET"),
            "a blank value counts as missing"
        );
    }

    #[test]
    fn from_env_reads_environment_and_version() {
        let b = ClientBuilder::from_lookup(lookup(&[
            ("PLAID_CLIENT_ID", "id"),
            ("PLAID_SECRET", "sec"),
            ("PLAID_ENV", "Production"),
            ("PLAID_VERSION", "2020-09-14"),
        ]))
        .expect("valid");
        assert_eq!(b.environment, Environment::Production);
        assert_eq!(b.plaid_version, "2020-09-14");
        let b = ClientBuilder::from_lookup(lookup(&[
            ("PLAID_CLIENT_ID", "id"),
            ("PLAID_SECRET", "sec"),
        ]))
        .expect("valid");
        assert_eq!(
            b.environment,
            Environment::Sandbox,
            "sandbox when PLAID_ENV is unset"
        );
        let b = ClientBuilder::from_lookup(lookup(&[
            ("PLAID_CLIENT_ID", "id"),
            ("PLAID_SECRET", "sec"),
            ("PLAID_ENV", "https://gw.example.com/plaid/"),
        ]))
        .expect("url");
        assert_eq!(b.environment.base_url(), "https://gw.example.com/plaid");
    }

    #[test]
    fn from_env_rejects_a_bad_environment_without_echoing_secrets() {
        let e = config_error(ClientBuilder::from_lookup(lookup(&[
            ("PLAID_CLIENT_ID", "id"),
            ("PLAID_SECRET", "topsecretvalue"),
            ("PLAID_ENV", "staging"),
        ])));
        let ConfigError::InvalidVariable { name, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(*name, "PLAID_ENV");
        assert!(!e.to_string().contains("topsecretvalue"));
    }

    #[test]
    fn build_refuses_what_cannot_work() {
        let err = |b: ClientBuilder| match b.build().map(|_| ()).expect_err("refused").kind() {
            ErrorKind::Config(e) => e.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(err(PlaidClient::builder()), ConfigError::NoCredentials);
        let remote = Environment::custom("http://gateway.internal/plaid").expect("url");
        assert!(matches!(
            err(PlaidClient::builder()
                .environment(remote.clone())
                .without_credentials()),
            ConfigError::InsecureUrl(_)
        ));
        assert!(
            PlaidClient::builder()
                .environment(remote)
                .without_credentials()
                .allow_insecure_http(true)
                .build()
                .is_ok()
        );
        assert!(matches!(
            err(PlaidClient::builder().credentials("id", "bad\nsecret")),
            ConfigError::InvalidHeader("the secret")
        ));
        assert!(matches!(
            err(PlaidClient::builder().credentials("", "s")),
            ConfigError::InvalidSetting(_)
        ));
        assert!(matches!(
            err(PlaidClient::builder()
                .credentials("id", "s")
                .timeout(Duration::ZERO)),
            ConfigError::InvalidSetting(_)
        ));
        assert!(matches!(
            err(PlaidClient::builder()
                .without_credentials()
                .gateway_header("bad header", "v")),
            ConfigError::InvalidHeader(_)
        ));
    }

    #[test]
    fn from_env_reads_gateway_mode() {
        let b = ClientBuilder::from_lookup(lookup(&[
            ("PLAID_GATEWAY_TOKEN", "caller-token-1"),
            ("PLAID_ENV", "http://127.0.0.1:8080"),
        ]))
        .expect("gateway mode");
        assert!(b.credentials.is_none() && b.without_credentials);
        let (name, token) = b.gateway_header.as_ref().expect("header");
        assert_eq!(
            (name.as_str(), token.expose_secret()),
            (DEFAULT_GATEWAY_HEADER, "caller-token-1")
        );
        let b = ClientBuilder::from_lookup(lookup(&[
            ("PLAID_GATEWAY_TOKEN", "t"),
            ("PLAID_GATEWAY_HEADER", "x-caller"),
        ]))
        .expect("named header");
        assert_eq!(
            b.gateway_header.as_ref().map(|(n, _)| n.as_str()),
            Some("x-caller")
        );
        for both in ["PLAID_CLIENT_ID", "PLAID_SECRET"] {
            let e = config_error(ClientBuilder::from_lookup(lookup(&[
                ("PLAID_GATEWAY_TOKEN", "t"),
                (both, "topsecretvalue"),
            ])));
            assert!(
                matches!(&e, ConfigError::InvalidVariable { name: "PLAID_GATEWAY_TOKEN", reason } if reason.contains(both)),
                "{e:?}"
            );
            assert!(!e.to_string().contains("topsecretvalue"));
        }
    }

    #[test]
    fn the_app_name_follows_the_sdk_in_the_user_agent() {
        let client = PlaidClient::builder()
            .credentials("id", "s")
            .app_name("checkout-service/2.3")
            .build()
            .expect("client");
        assert_eq!(
            client.shared.user_agent(),
            Some(format!("{USER_AGENT} checkout-service/2.3").as_str())
        );
        for bad in ["", "  ", "bad\nname", "é", &"x".repeat(129)] {
            let result = PlaidClient::builder()
                .credentials("id", "s")
                .app_name(bad)
                .build();
            assert!(result.is_err(), "{bad:?}");
        }
    }

    #[test]
    fn builder_debug_hides_secrets() {
        let b = PlaidClient::builder()
            .credentials("client-1", "s3cr3t-value")
            .gateway_header("x-gw", "gw-token-value");
        let text = format!("{b:?} {b:#?}");
        assert!(text.contains("client-1"));
        assert!(
            !text.contains("s3cr3t") && !text.contains("gw-token-value"),
            "{text}"
        );
    }
}
