//! Input checks, before anything is sent, and [`InvalidInput`], what they report. A leaf of
//! the runtime: it depends on no other module of the crate (the client's environment comes
//! in as the name tokens must carry: `sandbox`, `production`, or none for a custom URL).
//!
//! - [`Rules`]: what the spec states of one field (required, lengths, item counts, range, the
//!   token kind a secret's prefix must name).
//! - [`Validate`] and [`Field`]: the walk over a request, generated per request type (each
//!   field with its rules) and written here per field type (text, numbers, lists, options).
//! - [`Visitor`]: what a walk does at each value. Three walk a request: [`Check`] says whether
//!   anything is wrong and allocates nothing; [`Locate`], run only then, names the first
//!   problem by its field path (`options.account_ids[2]`); [`Secrets`] hands each token of the
//!   request to a callback, for redaction, and checks nothing.
//! - The rules themselves are plain functions from a value to its [`Problem`], which the
//!   checking visitors share.

use std::fmt;
use std::fmt::Write as _;

/// Input the SDK refused before sending anything. `field` is the path of the field as Plaid
/// names it: `access_token`, `options.account_ids[2]`.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum InvalidInput {
    /// A required field was missing, empty or only white space.
    Blank {
        /// The field.
        field: String,
    },
    /// A token whose prefix names another environment than the client's.
    WrongEnvironment {
        /// The field holding the token.
        field: String,
        /// The environment the token's prefix names (`sandbox`, `production`, ...).
        token_environment: String,
        /// The client's environment.
        client_environment: &'static str,
    },
    /// A text field longer than Plaid accepts.
    TooLong {
        /// The field.
        field: String,
        /// The most characters it may have.
        max: usize,
    },
    /// A text field shorter than Plaid accepts.
    TooShort {
        /// The field.
        field: String,
        /// The fewest characters it may have.
        min: usize,
    },
    /// A list with fewer items than Plaid accepts.
    TooFewItems {
        /// The field.
        field: String,
        /// The fewest items it may have.
        min: usize,
    },
    /// A list with more items than Plaid accepts.
    TooManyItems {
        /// The field.
        field: String,
        /// The most items it may have.
        max: usize,
    },
    /// A number outside the range Plaid accepts.
    OutOfRange {
        /// The field.
        field: String,
        /// The smallest value allowed, if there is one.
        min: Option<f64>,
        /// The largest value allowed, if there is one.
        max: Option<f64>,
    },
    /// A token of another kind than the field takes, by its prefix: an access token
    /// (`access-…`) where a processor token (`processor-…`) belongs, say.
    WrongTokenKind {
        /// The field holding the token.
        field: String,
        /// The kind the field takes (`processor`).
        expected: &'static str,
        /// The kind the token's prefix names (`access`).
        found: String,
    },
    /// A Sandbox-only operation called on a Production client.
    SandboxOnly {
        /// The operation.
        operation: &'static str,
    },
    /// A raw call's path or body that cannot be sent as a Plaid operation (see
    /// [`PlaidClient::call`](crate::PlaidClient::call)).
    InvalidCall {
        /// What is wrong with it.
        reason: String,
    },
}

impl InvalidInput {
    /// The field at fault, when the problem is one field's.
    pub fn field(&self) -> Option<&str> {
        match self {
            InvalidInput::Blank { field }
            | InvalidInput::WrongEnvironment { field, .. }
            | InvalidInput::TooLong { field, .. }
            | InvalidInput::TooShort { field, .. }
            | InvalidInput::TooFewItems { field, .. }
            | InvalidInput::TooManyItems { field, .. }
            | InvalidInput::OutOfRange { field, .. }
            | InvalidInput::WrongTokenKind { field, .. } => Some(field),
            InvalidInput::SandboxOnly { .. } | InvalidInput::InvalidCall { .. } => None,
        }
    }
}

impl fmt::Display for InvalidInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidInput::Blank { field } => write!(f, "`{field}` is empty"),
            InvalidInput::WrongEnvironment {
                field,
                token_environment,
                client_environment,
            } => write!(
                f,
                "`{field}` is a {token_environment} token but the client is configured for {client_environment}"
            ),
            InvalidInput::TooLong { field, max } => {
                write!(f, "`{field}` is longer than {max} characters")
            }
            InvalidInput::TooShort { field, min } => {
                write!(f, "`{field}` is shorter than {min} characters")
            }
            InvalidInput::TooFewItems { field, min } => {
                write!(f, "`{field}` has fewer than {min} items")
            }
            InvalidInput::TooManyItems { field, max } => {
                write!(f, "`{field}` has more than {max} items")
            }
            InvalidInput::OutOfRange { field, min, max } => match (min, max) {
                (Some(min), Some(max)) => write!(f, "`{field}` is outside {min}..={max}"),
                (Some(min), None) => write!(f, "`{field}` is less than {min}"),
                (None, Some(max)) => write!(f, "`{field}` is more than {max}"),
                (None, None) => write!(f, "`{field}` is not a number"),
            },
            InvalidInput::WrongTokenKind {
                field,
                expected,
                found,
            } => write!(
                f,
                "`{field}` takes a {expected} token but was given a {found} token"
            ),
            InvalidInput::SandboxOnly { operation } => {
                write!(f, "{operation} exists in the Sandbox only")
            }
            InvalidInput::InvalidCall { reason } => write!(f, "cannot send this call: {reason}"),
        }
    }
}

impl std::error::Error for InvalidInput {}

/// A request type's walk, generated from the spec: each of its fields with its rules.
pub trait Validate {
    fn validate<V: Visitor>(&self, v: &mut V);
}

/// A field's walk, by its type.
pub trait Field {
    fn check<V: Visitor>(&self, v: &mut V, rules: &Rules);
}

/// What the spec states of one field.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub required: bool,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    /// The token kind a secret's prefix names (`access`); `None` or empty for none.
    pub token: Option<&'static str>,
}

impl Rules {
    pub const NONE: Rules = Rules {
        required: false,
        min_length: None,
        max_length: None,
        min_items: None,
        max_items: None,
        minimum: None,
        maximum: None,
        token: None,
    };

    /// Each item of a list: present and not blank (and a token of the list's kind).
    const fn item_of(list: &Rules) -> Rules {
        Rules {
            required: true,
            token: list.token,
            ..Rules::NONE
        }
    }
}

/// What a walk does at each value of a request.
pub trait Visitor: Sized {
    /// Field `name` of the value being walked.
    fn field<T: Field + ?Sized>(&mut self, name: &str, value: &T, rules: &Rules);
    /// Item `index` of a list.
    fn item<T: Field + ?Sized>(&mut self, index: usize, value: &T, rules: &Rules);
    /// Whether the walk has what it needs (the rest of a list is skipped).
    fn done(&self) -> bool;
    fn text(&mut self, text: &str, rules: &Rules);
    fn token(&mut self, token: &str, rules: &Rules);
    fn enum_value(&mut self, value: &str, rules: &Rules);
    fn number(&mut self, n: f64, rules: &Rules);
    /// A field with no value.
    fn absent(&mut self, rules: &Rules);
    /// A list of `len` items, before its items.
    fn list(&mut self, len: usize, rules: &Rules);
}

/// The first problem of `value`, if any, named by its field path. The walk that names it runs
/// only when the quick walk found something: a valid request allocates nothing.
pub(crate) fn check<R: Validate + ?Sized>(
    environment: Option<&'static str>,
    value: &R,
) -> Option<InvalidInput> {
    let mut quick = Check {
        environment,
        failed: false,
    };
    value.validate(&mut quick);
    if !quick.failed {
        return None;
    }
    let mut locate = Locate::new(environment);
    value.validate(&mut locate);
    locate.error
}

/// Calls `f` with each token of `value`.
pub(crate) fn secrets<R: Validate + ?Sized>(value: &R, f: impl FnMut(&str)) {
    value.validate(&mut Secrets(f));
}

/// One input problem, before it is named by its field.
#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    Blank,
    TooLong(usize),
    TooShort(usize),
    TooFewItems(usize),
    TooManyItems(usize),
    OutOfRange(Option<f64>, Option<f64>),
    WrongTokenKind {
        expected: &'static str,
        found: String,
    },
    WrongEnvironment {
        token_environment: String,
        client_environment: &'static str,
    },
}

impl Problem {
    /// The problem, at `field`.
    fn at(self, field: String) -> InvalidInput {
        match self {
            Problem::Blank => InvalidInput::Blank { field },
            Problem::TooLong(max) => InvalidInput::TooLong { field, max },
            Problem::TooShort(min) => InvalidInput::TooShort { field, min },
            Problem::TooFewItems(min) => InvalidInput::TooFewItems { field, min },
            Problem::TooManyItems(max) => InvalidInput::TooManyItems { field, max },
            Problem::OutOfRange(min, max) => InvalidInput::OutOfRange { field, min, max },
            Problem::WrongTokenKind { expected, found } => InvalidInput::WrongTokenKind {
                field,
                expected,
                found,
            },
            Problem::WrongEnvironment {
                token_environment,
                client_environment,
            } => InvalidInput::WrongEnvironment {
                field,
                token_environment,
                client_environment,
            },
        }
    }
}

// ---- The rules ---------------------------------------------------------------------------

fn text_problem(text: &str, rules: &Rules) -> Option<Problem> {
    if rules.required && text.trim().is_empty() {
        return Some(Problem::Blank);
    }
    if rules.min_length.is_none() && rules.max_length.is_none() {
        return None;
    }
    let count = text.chars().count();
    if let Some(max) = rules.max_length.filter(|max| count > *max) {
        Some(Problem::TooLong(max))
    } else {
        rules
            .min_length
            .filter(|min| count < *min)
            .map(Problem::TooShort)
    }
}

/// A secret token: never blank, and its prefix must name neither another kind of token nor
/// another environment than the client's, `environment` (`None`: a custom base URL, which
/// may front any environment).
fn token_problem(token: &str, rules: &Rules, environment: Option<&'static str>) -> Option<Problem> {
    if token.trim().is_empty() {
        return Some(Problem::Blank);
    }
    let kind = rules.token.filter(|k| !k.is_empty())?;
    if let Some(found) = token_kind(token).filter(|found| *found != kind) {
        return Some(Problem::WrongTokenKind {
            expected: kind,
            found: found.to_string(),
        });
    }
    let expected = environment?;
    token_environment(token, kind)
        .filter(|env| *env != expected && KNOWN_ENVIRONMENTS.contains(env))
        .map(|env| Problem::WrongEnvironment {
            token_environment: env.to_string(),
            client_environment: expected,
        })
}

fn enum_problem(value: &str, rules: &Rules) -> Option<Problem> {
    (rules.required && value.trim().is_empty()).then_some(Problem::Blank)
}

fn number_problem(n: f64, rules: &Rules) -> Option<Problem> {
    let below = rules.minimum.is_some_and(|min| n < min);
    let above = rules.maximum.is_some_and(|max| n > max);
    (below || above || n.is_nan()).then_some(Problem::OutOfRange(rules.minimum, rules.maximum))
}

fn list_problem(len: usize, rules: &Rules) -> Option<Problem> {
    if let Some(min) = rules.min_items.filter(|min| len < *min) {
        return Some(Problem::TooFewItems(min));
    }
    rules
        .max_items
        .filter(|max| len > *max)
        .map(Problem::TooManyItems)
}

fn absent_problem(rules: &Rules) -> Option<Problem> {
    rules.required.then_some(Problem::Blank)
}

const KNOWN_ENVIRONMENTS: [&str; 3] = ["sandbox", "production", "development"];

/// The kinds of Plaid token a prefix can name (`access-sandbox-…`).
const KNOWN_TOKEN_KINDS: [&str; 4] = ["access", "processor", "public", "link"];

/// The kind of Plaid token `token` is by its prefix (`access-sandbox-…` → `access`), when the
/// prefix is one of Plaid's followed by a known environment.
fn token_kind(token: &str) -> Option<&str> {
    let (kind, rest) = token.split_once('-')?;
    let (env, _) = rest.split_once('-')?;
    (KNOWN_TOKEN_KINDS.contains(&kind) && KNOWN_ENVIRONMENTS.contains(&env)).then_some(kind)
}

/// The environment a token's prefix names (`access-sandbox-…` → `sandbox` for kind `access`).
fn token_environment<'t>(token: &'t str, kind: &str) -> Option<&'t str> {
    let rest = token.strip_prefix(kind)?.strip_prefix('-')?;
    let (env, _) = rest.split_once('-')?;
    Some(env)
}

// ---- The visitors --------------------------------------------------------------------------

/// The value methods of a checking visitor: each applies its rule and hands the problem, if
/// any, to the visitor's `found`.
macro_rules! apply_the_rules {
    () => {
        fn text(&mut self, text: &str, rules: &Rules) {
            self.found(text_problem(text, rules));
        }
        fn token(&mut self, token: &str, rules: &Rules) {
            self.found(token_problem(token, rules, self.environment));
        }
        fn enum_value(&mut self, value: &str, rules: &Rules) {
            self.found(enum_problem(value, rules));
        }
        fn number(&mut self, n: f64, rules: &Rules) {
            self.found(number_problem(n, rules));
        }
        fn absent(&mut self, rules: &Rules) {
            self.found(absent_problem(rules));
        }
        fn list(&mut self, len: usize, rules: &Rules) {
            self.found(list_problem(len, rules));
        }
    };
}

/// Whether anything is wrong: no field path, no allocation.
pub(crate) struct Check {
    environment: Option<&'static str>,
    failed: bool,
}

impl Check {
    fn found(&mut self, problem: Option<Problem>) {
        self.failed |= problem.is_some();
    }
}

impl Visitor for Check {
    fn field<T: Field + ?Sized>(&mut self, _name: &str, value: &T, rules: &Rules) {
        if !self.failed {
            value.check(self, rules);
        }
    }
    fn item<T: Field + ?Sized>(&mut self, _index: usize, value: &T, rules: &Rules) {
        value.check(self, rules);
    }
    fn done(&self) -> bool {
        self.failed
    }
    apply_the_rules!();
}

/// The first problem, named by the path of its field.
pub(crate) struct Locate {
    environment: Option<&'static str>,
    path: String,
    error: Option<InvalidInput>,
}

impl Locate {
    pub(crate) fn new(environment: Option<&'static str>) -> Self {
        Locate {
            environment,
            path: String::new(),
            error: None,
        }
    }

    fn found(&mut self, problem: Option<Problem>) {
        if self.error.is_none()
            && let Some(problem) = problem
        {
            self.error = Some(problem.at(self.path.clone()));
        }
    }
}

impl Visitor for Locate {
    fn field<T: Field + ?Sized>(&mut self, name: &str, value: &T, rules: &Rules) {
        if self.error.is_some() {
            return;
        }
        let len = self.path.len();
        if len > 0 {
            self.path.push('.');
        }
        self.path.push_str(name);
        value.check(self, rules);
        self.path.truncate(len);
    }
    fn item<T: Field + ?Sized>(&mut self, index: usize, value: &T, rules: &Rules) {
        let len = self.path.len();
        let _ = write!(self.path, "[{index}]");
        value.check(self, rules);
        self.path.truncate(len);
    }
    fn done(&self) -> bool {
        self.error.is_some()
    }
    apply_the_rules!();
}

/// Each token of a request, to a callback; nothing is checked.
pub(crate) struct Secrets<F>(F);

impl<F: FnMut(&str)> Visitor for Secrets<F> {
    fn field<T: Field + ?Sized>(&mut self, _name: &str, value: &T, rules: &Rules) {
        value.check(self, rules);
    }
    fn item<T: Field + ?Sized>(&mut self, _index: usize, value: &T, rules: &Rules) {
        value.check(self, rules);
    }
    fn done(&self) -> bool {
        false
    }
    fn text(&mut self, _text: &str, _rules: &Rules) {}
    fn token(&mut self, token: &str, _rules: &Rules) {
        (self.0)(token);
    }
    fn enum_value(&mut self, _value: &str, _rules: &Rules) {}
    fn number(&mut self, _n: f64, _rules: &Rules) {}
    fn absent(&mut self, _rules: &Rules) {}
    fn list(&mut self, _len: usize, _rules: &Rules) {}
}

// ---- The walk, per field type --------------------------------------------------------------

impl Field for String {
    fn check<V: Visitor>(&self, v: &mut V, rules: &Rules) {
        v.text(self, rules);
    }
}

impl Field for bool {
    fn check<V: Visitor>(&self, _v: &mut V, _rules: &Rules) {}
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn check<V: Visitor>(&self, v: &mut V, rules: &Rules) {
                v.number(*self as f64, rules);
            }
        }
    )*};
}
numbers!(i64, i32, u64, u32, f64, f32);

impl<T: Field> Field for Option<T> {
    fn check<V: Visitor>(&self, v: &mut V, rules: &Rules) {
        match self {
            Some(value) => value.check(v, rules),
            None => v.absent(rules),
        }
    }
}

impl<T: Field> Field for Vec<T> {
    fn check<V: Visitor>(&self, v: &mut V, rules: &Rules) {
        v.list(self.len(), rules);
        let item_rules = Rules::item_of(rules);
        for (i, item) in self.iter().enumerate() {
            if v.done() {
                return;
            }
            v.item(i, item, &item_rules);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Environment;

    fn check_field<T: Field>(env: &Environment, value: &T, rules: &Rules) -> Option<InvalidInput> {
        let mut v = Locate::new(env.token_environment());
        v.field("f", value, rules);
        v.error
    }

    fn token_rules(kind: &'static str) -> Rules {
        Rules {
            required: true,
            token: Some(kind),
            ..Rules::NONE
        }
    }

    #[test]
    fn tokens_must_match_the_environment() {
        let sandbox = Environment::Sandbox;
        let production = Environment::Production;
        let access = |t: &str| crate::AccessToken::new(t);
        let rules = token_rules("access");
        assert_eq!(
            check_field(&sandbox, &access("access-sandbox-123"), &rules),
            None
        );
        assert_eq!(
            check_field(&production, &access("access-production-1"), &rules),
            None
        );
        assert_eq!(
            check_field(&production, &access("access-sandbox-123"), &rules),
            Some(InvalidInput::WrongEnvironment {
                field: "f".into(),
                token_environment: "sandbox".into(),
                client_environment: "production"
            })
        );
        assert!(check_field(&sandbox, &access("access-development-1"), &rules).is_some());
        let custom = Environment::custom("http://127.0.0.1:1").expect("url");
        assert_eq!(
            check_field(&custom, &access("access-production-1"), &rules),
            None
        );
        // Tokens without a recognisable prefix are Plaid's to judge.
        assert_eq!(check_field(&production, &access("opaque"), &rules), None);
        assert_eq!(
            check_field(&production, &access("access-weird-1"), &rules),
            None
        );
        assert_eq!(
            check_field(&sandbox, &access(" \t"), &rules),
            Some(InvalidInput::Blank { field: "f".into() })
        );
        // An optional token that is set is checked too.
        assert!(
            check_field(
                &production,
                &Some(access("access-sandbox-1")),
                &Rules {
                    required: false,
                    ..rules
                }
            )
            .is_some()
        );
    }

    #[test]
    fn a_token_of_another_kind_is_refused_naming_the_field() {
        let rules = token_rules("processor");
        let processor = |t: &str| crate::ProcessorToken::new(t);
        for env in [
            Environment::Sandbox,
            Environment::Production,
            Environment::custom("http://127.0.0.1:1").expect("url"),
        ] {
            assert_eq!(
                check_field(&env, &processor("access-sandbox-123"), &rules),
                Some(InvalidInput::WrongTokenKind {
                    field: "f".into(),
                    expected: "processor",
                    found: "access".into()
                }),
                "{env:?}"
            );
        }
        let sandbox = Environment::Sandbox;
        assert_eq!(
            check_field(&sandbox, &processor("processor-sandbox-1"), &rules),
            None
        );
        assert!(
            check_field(
                &sandbox,
                &crate::AccessToken::new("processor-sandbox-1"),
                &token_rules("access")
            )
            .is_some(),
            "and the other way round"
        );
        // Only Plaid's own prefixes are judged.
        assert_eq!(
            check_field(&sandbox, &processor("opaque-token"), &rules),
            None
        );
        assert_eq!(
            check_field(&sandbox, &processor("access-weird-1"), &rules),
            None
        );
    }

    #[test]
    fn text_lists_and_numbers_follow_their_rules() {
        let env = Environment::Sandbox;
        let required = Rules {
            required: true,
            ..Rules::NONE
        };
        assert_eq!(
            check_field(&env, &String::from("  "), &required),
            Some(InvalidInput::Blank { field: "f".into() })
        );
        assert_eq!(
            check_field(&env, &String::new(), &Rules::NONE),
            None,
            "optional text may be empty"
        );
        let at_most_3 = Rules {
            max_length: Some(3),
            ..Rules::NONE
        };
        assert_eq!(
            check_field(&env, &String::from("été"), &at_most_3),
            None,
            "characters, not bytes"
        );
        assert_eq!(
            check_field(&env, &String::from("abcd"), &at_most_3),
            Some(InvalidInput::TooLong {
                field: "f".into(),
                max: 3
            })
        );
        let one_or_two = Rules {
            min_items: Some(1),
            max_items: Some(2),
            ..Rules::NONE
        };
        assert_eq!(
            check_field(&env, &Vec::<String>::new(), &one_or_two),
            Some(InvalidInput::TooFewItems {
                field: "f".into(),
                min: 1
            })
        );
        assert_eq!(
            check_field(&env, &vec![String::new(); 3], &one_or_two),
            Some(InvalidInput::TooManyItems {
                field: "f".into(),
                max: 2
            })
        );
        assert_eq!(
            check_field(&env, &vec!["a".to_string(), " ".to_string()], &one_or_two),
            Some(InvalidInput::Blank {
                field: "f[1]".into()
            }),
            "items are never blank"
        );
        let days = Rules {
            minimum: Some(1.0),
            maximum: Some(730.0),
            ..Rules::NONE
        };
        assert_eq!(check_field(&env, &730i64, &days), None);
        assert_eq!(
            check_field(&env, &Some(0i64), &days),
            Some(InvalidInput::OutOfRange {
                field: "f".into(),
                min: Some(1.0),
                max: Some(730.0)
            })
        );
    }

    #[test]
    fn the_quick_walk_finds_what_the_locating_walk_names() {
        use crate::types::{ProcessorTokenCreateRequest, SandboxPublicTokenCreateRequest};
        let env = Environment::Sandbox;
        let valid =
            ProcessorTokenCreateRequest::new("access-sandbox-1", "acc_1", crate::Processor::Dwolla);
        assert_eq!(check(env.token_environment(), &valid), None);
        let blank =
            ProcessorTokenCreateRequest::new("access-sandbox-1", " ", crate::Processor::Dwolla);
        assert_eq!(
            check(env.token_environment(), &blank),
            Some(InvalidInput::Blank {
                field: "account_id".into()
            })
        );
        let wrong =
            ProcessorTokenCreateRequest::new("access-production-1", "", crate::Processor::Dwolla);
        let mut locating = Locate::new(env.token_environment());
        wrong.validate(&mut locating);
        let first = locating.error;
        assert!(first.is_some());
        assert_eq!(
            check(env.token_environment(), &wrong),
            first,
            "the first problem, as located"
        );
        let no_products =
            SandboxPublicTokenCreateRequest::new("ins_1", Vec::<crate::Product>::new());
        let mut locating = Locate::new(env.token_environment());
        no_products.validate(&mut locating);
        let located = locating.error;
        assert!(
            matches!(&located, Some(InvalidInput::TooFewItems { field, min: 1 }) if field == "initial_products"),
            "{located:?}"
        );
        assert_eq!(check(env.token_environment(), &no_products), located);
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let env = Environment::Sandbox;
        let mut v = Locate::new(env.token_environment());
        let rules = Rules {
            required: true,
            ..Rules::NONE
        };
        v.field(
            "outer",
            &Some(vec![String::from("x"), String::new()]),
            &rules,
        );
        assert_eq!(
            v.error,
            Some(InvalidInput::Blank {
                field: "outer[1]".into()
            })
        );
    }

    #[test]
    fn the_secrets_walk_finds_every_token_and_checks_nothing() {
        let request = crate::types::ProcessorTokenCreateRequest::new(
            "access-production-1",
            " ",
            crate::Processor::Dwolla,
        );
        let mut seen = Vec::new();
        secrets(&request, |t| seen.push(t.to_string()));
        assert_eq!(seen, ["access-production-1"]);
    }
}
