//! Secret strings: the client secret and the tokens that grant access to a user's accounts.
//!
//! None of them implements `Display`, and their `Debug` shows at most the non-secret prefix
//! that names the token's kind and environment (`access-sandbox-[redacted]`). The value is
//! read only through `expose_secret()`, which makes every use easy to find.

use std::fmt;

/// The prefix of `value` that says what it is, such as `access-sandbox-`, if it has one.
fn kind_prefix(value: &str) -> &str {
    let mut dashes = value.match_indices('-').map(|(i, _)| i);
    match (dashes.next(), dashes.next()) {
        (Some(_), Some(second))
            if value[..second]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-') =>
        {
            &value[..=second]
        }
        _ => "",
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident, serde) => {
        secret_type!($(#[$doc])* $name);

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer).map(Self::new)
            }
        }

        impl crate::validate::Field for $name {
            fn check<V: crate::validate::Visitor>(
                &self,
                v: &mut V,
                rules: &crate::validate::Rules,
            ) {
                v.token(&self.0, rules);
            }
        }
    };
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name(Box<str>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(value.into().into_boxed_str())
            }

            /// The secret itself. Keep it out of logs and error messages.
            pub fn expose_secret(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({}[redacted])"), Self::shown_prefix(&self.0))
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }

        impl From<&String> for $name {
            fn from(value: &String) -> Self {
                Self::new(value.as_str())
            }
        }

        impl From<&$name> for $name {
            fn from(value: &$name) -> Self {
                value.clone()
            }
        }
    };
}

secret_type!(
    /// Your Plaid secret for one environment, sent as the `PLAID-SECRET` header, or a token
    /// of your own for a gateway. Its value is chosen by whoever made it, so its `Debug` shows
    /// nothing of it, not even a prefix.
    ClientSecret
);

impl ClientSecret {
    fn shown_prefix(_: &str) -> &'static str {
        ""
    }
}

/// The public part of a Plaid token: its kind and environment (`access-sandbox-`).
macro_rules! plaid_token_prefix {
    ($($name:ident),*) => {$(
        impl $name {
            fn shown_prefix(value: &str) -> &str {
                kind_prefix(value)
            }
        }
    )*};
}

plaid_token_prefix!(
    AccessToken,
    ProcessorToken,
    PublicToken,
    StripeBankAccountToken,
    UserToken
);

secret_type!(
    /// The token that grants access to one Item (`access-sandbox-…`, `access-production-…`).
    AccessToken,
    serde
);

secret_type!(
    /// A token minted for a payment partner (`processor-sandbox-…`); it lets the partner read
    /// the account it was made for.
    ProcessorToken,
    serde
);

secret_type!(
    /// A short-lived token from Link or the Sandbox (`public-sandbox-…`), exchanged once for an
    /// access token.
    PublicToken,
    serde
);

secret_type!(
    /// A Stripe bank account token (`btok_…`), handed to Stripe in place of a processor token.
    StripeBankAccountToken,
    serde
);

secret_type!(
    /// A token that identifies a Plaid user, for products that work per user.
    UserToken,
    serde
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_kind_never_the_secret() {
        let token = AccessToken::new("access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6");
        assert_eq!(
            format!("{token:?}"),
            "AccessToken(access-sandbox-[redacted])"
        );
        assert_eq!(
            format!("{:?}", ClientSecret::new("0123456789abcdef")),
            "ClientSecret([redacted])"
        );
        // A caller-chosen value shows nothing of itself, even when it looks like a token.
        assert_eq!(
            format!("{:?}", ClientSecret::new("access-sandbox-mine")),
            "ClientSecret([redacted])"
        );
        // A value with dashes but no lowercase kind prefix shows nothing of itself.
        let odd = ProcessorToken::new("AB12-CD34-EF56");
        assert_eq!(format!("{odd:#?}"), "ProcessorToken([redacted])");
    }

    #[test]
    fn serde_is_transparent() {
        let token: ProcessorToken = serde_json::from_str("\"processor-sandbox-1\"").expect("de");
        assert_eq!(token.expose_secret(), "processor-sandbox-1");
        assert_eq!(
            serde_json::to_string(&token).expect("ser"),
            "\"processor-sandbox-1\""
        );
    }

    #[test]
    fn prefix_handles_any_text() {
        assert_eq!(kind_prefix(""), "");
        assert_eq!(kind_prefix("-"), "");
        assert_eq!(kind_prefix("--x"), "--");
        assert_eq!(kind_prefix("a-é-b"), "");
        assert_eq!(kind_prefix("public-production-x"), "public-production-");
    }
}
