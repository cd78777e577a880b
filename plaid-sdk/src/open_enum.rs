//! Support for the open enums of the generated file ([`Processor`](crate::Processor),
//! [`ErrorType`](crate::ErrorType)): Plaid adds values often, and a value this version of the
//! SDK does not know must still parse, compare, print and travel back unchanged.

use std::fmt;

/// The text of a value that this version of the SDK has no name for.
///
/// It can only be made by parsing, so a value the SDK knows never ends up here: parsing
/// `"dwolla"` always gives [`Processor::Dwolla`](crate::Processor::Dwolla).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Unrecognized(Box<str>);

impl Unrecognized {
    pub(crate) fn new(value: &str) -> Self {
        Unrecognized(value.into())
    }

    /// The value as received or given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Unrecognized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Implements the traits every open enum shares, on top of the generated `as_str` and
/// `from_known`.
macro_rules! impl_open_enum {
    ($name:ident) => {
        impl $name {
            /// Whether this is a value the SDK has a name for (not
            #[doc = concat!("[`", stringify!($name), "::Unrecognized`]).")]
            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unrecognized(_))
            }
        }

        impl $crate::validate::Field for $name {
            fn check<V: $crate::validate::Visitor>(
                &self,
                v: &mut V,
                rules: &$crate::validate::Rules,
            ) {
                v.enum_value(self.as_str(), rules);
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    Self::Unrecognized(value) => write!(f, "Unrecognized({value:?})"),
                    known => write!(f, "{}", known.as_str()),
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = ::std::convert::Infallible;

            /// Never fails: a value without a name becomes `Unrecognized`.
            fn from_str(value: &str) -> ::std::result::Result<Self, Self::Err> {
                Ok(Self::from(value))
            }
        }

        impl ::std::convert::From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::from_known(value).unwrap_or_else(|| {
                    Self::Unrecognized($crate::open_enum::Unrecognized::new(value))
                })
            }
        }

        impl ::std::convert::From<::std::string::String> for $name {
            fn from(value: ::std::string::String) -> Self {
                Self::from(value.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                struct Visit;
                impl ::serde::de::Visitor<'_> for Visit {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(
                        self,
                        value: &str,
                    ) -> ::std::result::Result<$name, E> {
                        Ok($name::from(value))
                    }
                }
                deserializer.deserialize_str(Visit)
            }
        }
    };
}
pub(crate) use impl_open_enum;

#[cfg(test)]
mod tests {
    use crate::{ErrorType, Processor};

    #[test]
    fn known_values_round_trip_through_every_form() {
        for p in Processor::KNOWN {
            let text = p.to_string();
            assert_eq!(&text.parse::<Processor>().expect("infallible"), p);
            let json = serde_json::to_string(p).expect("serialize");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(
                &serde_json::from_str::<Processor>(&json).expect("deserialize"),
                p
            );
            assert!(p.is_known());
        }
        assert!(
            Processor::KNOWN.len() > 50,
            "the spec's processors are all known"
        );
    }

    #[test]
    fn unknown_values_are_kept_and_sent_unchanged() {
        let p: Processor = "brand_new_partner".parse().expect("infallible");
        assert!(!p.is_known());
        assert_eq!(p.as_str(), "brand_new_partner");
        assert_eq!(
            serde_json::to_string(&p).expect("ser"),
            "\"brand_new_partner\""
        );
        assert_eq!(format!("{p:?}"), "Unrecognized(\"brand_new_partner\")");
        let e: ErrorType = serde_json::from_str("\"SOME_FUTURE_ERROR\"").expect("open");
        assert_eq!(e.to_string(), "SOME_FUTURE_ERROR");
    }

    #[test]
    fn parsing_a_known_value_never_gives_unrecognized() {
        assert_eq!(Processor::from("dwolla"), Processor::Dwolla);
        assert_eq!(
            ErrorType::from("RATE_LIMIT_EXCEEDED"),
            ErrorType::RateLimitExceeded
        );
        assert_eq!(format!("{:?}", Processor::Dwolla), "dwolla");
        // Case matters: Plaid's values are exact.
        assert!(!Processor::from("Dwolla").is_known());
    }

    #[test]
    fn non_strings_are_a_serde_error_not_a_panic() {
        assert!(serde_json::from_str::<Processor>("42").is_err());
        assert!(serde_json::from_str::<Processor>("null").is_err());
    }
}
