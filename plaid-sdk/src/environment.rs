//! Where requests go: Plaid's environments, or a base URL of your own.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::ConfigError;

/// Where requests go.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Environment {
    /// `https://sandbox.plaid.com`: test data, test credentials.
    Sandbox,
    /// `https://production.plaid.com`: real accounts.
    Production,
    /// Any other base URL: a gateway, a proxy, or a local emulator. Build it with
    /// [`Environment::custom`].
    Custom(BaseUrl),
}

/// A validated base URL: `http` or `https`, a host, an optional path prefix, no query.
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl {
    /// Without a trailing slash, ready for `/processor/token/create` to be appended.
    text: String,
    loopback: bool,
    https: bool,
}

impl BaseUrl {
    /// The URL, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.text, f)
    }
}

impl Environment {
    /// A custom base URL, such as `https://gateway.example.com/plaid` or
    /// `http://127.0.0.1:8080`. Credentials in the URL, a query or a fragment are refused.
    pub fn custom(url: &str) -> Result<Self, ConfigError> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|e| ConfigError::InvalidBaseUrl(format!("`{url}`: {e}")))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            other => {
                return Err(ConfigError::InvalidBaseUrl(format!(
                    "scheme `{other}` is not http or https"
                )));
            }
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(ConfigError::InvalidBaseUrl(
                "the URL must not hold credentials".into(),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ConfigError::InvalidBaseUrl(
                "the URL must not have a query or fragment".into(),
            ));
        }
        let loopback = match parsed.host() {
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => return Err(ConfigError::InvalidBaseUrl(format!("`{url}` has no host"))),
        };
        let text = parsed.as_str().trim_end_matches('/').to_string();
        Ok(Environment::Custom(BaseUrl {
            text,
            loopback,
            https,
        }))
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        match self {
            Environment::Sandbox => "https://sandbox.plaid.com",
            Environment::Production => "https://production.plaid.com",
            Environment::Custom(url) => url.as_str(),
        }
    }

    /// `sandbox`, `production` or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Environment::Sandbox => "sandbox",
            Environment::Production => "production",
            Environment::Custom(_) => "custom",
        }
    }

    /// The environment a token's prefix must name for this client (`sandbox`, `production`);
    /// none for a custom URL, which may front either.
    pub(crate) fn token_environment(&self) -> Option<&'static str> {
        match self {
            Environment::Sandbox | Environment::Production => Some(self.name()),
            Environment::Custom(_) => None,
        }
    }

    pub(crate) fn is_plaintext_remote(&self) -> bool {
        matches!(self, Environment::Custom(u) if !u.https && !u.loopback)
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Sandbox => f.write_str("Sandbox"),
            Environment::Production => f.write_str("Production"),
            Environment::Custom(url) => f.debug_tuple("Custom").field(url).finish(),
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Environment::Custom(url) => f.write_str(url.as_str()),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for Environment {
    type Err = ConfigError;

    /// `sandbox`, `production` (any case), or an `http(s)://` URL.
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("sandbox") {
            Ok(Environment::Sandbox)
        } else if t.eq_ignore_ascii_case("production") {
            Ok(Environment::Production)
        } else if t.contains("://") {
            Environment::custom(t)
        } else {
            Err(ConfigError::InvalidBaseUrl(format!(
                "`{t}` is not `sandbox`, `production` or an http(s) URL"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_parse() {
        assert_eq!(
            "sandbox".parse::<Environment>().expect("s"),
            Environment::Sandbox
        );
        assert_eq!(
            Environment::Production.base_url(),
            "https://production.plaid.com"
        );
        for bad in [
            "ftp://x",
            "https://user:pw@x",
            "https://x/?q=1",
            "https://x/#f",
            "nonsense",
            "http://",
        ] {
            assert!(bad.parse::<Environment>().is_err(), "{bad}");
        }
        let e = Environment::custom("http://[::1]:8080/").expect("ipv6 loopback");
        assert!(!e.is_plaintext_remote());
        assert!(
            Environment::custom("http://10.0.0.5")
                .expect("remote")
                .is_plaintext_remote()
        );
        assert!(
            !Environment::custom("http://LOCALHOST:1")
                .expect("localhost")
                .is_plaintext_remote()
        );
    }
}
