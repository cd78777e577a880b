//! The one runtime every operation shares: the [`Request`] trait the generated request types
//! implement, the pending call ([`Pending`]) and the input checks run before sending.
//!
//! Everything that is one per operation (the method on [`PlaidClient`], the setters of its
//! pending call, the checks of its fields) is generated into `generated/operations.rs` and
//! `generated/schema.rs` from the operation model; this module holds what is one for all of them.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use crate::PlaidClient;
use crate::error::{Error, InvalidInput};
use crate::redact::Redactor;
use crate::retry::RetryPolicy;
use crate::transport::CallOptions;

/// One operation's request body. Every request type of [`types`](crate::types) that an
/// operation takes implements it; awaiting a [`Pending`] call of it returns
/// [`Response`](Request::Response). Sealed: only the SDK's generated types implement it.
pub trait Request: serde::Serialize + Send + Sync + 'static + private::Sealed {
    /// What a successful call returns.
    type Response: serde::de::DeserializeOwned + fmt::Debug + Send + 'static + private::HasRequestId;
    /// The operation's name, as the method on [`PlaidClient`] and in errors and spans
    /// (`processor_token_create`).
    const OPERATION: &'static str;
    /// The HTTP method (`POST`).
    const METHOD: &'static str;
    /// The path below the base URL (`/processor/token/create`).
    const PATH: &'static str;
    /// Whether the operation exists in the Sandbox only; it is refused before sending on a
    /// Production client.
    const SANDBOX_ONLY: bool;
    /// Whether the operation only reads, so that sending it twice changes nothing (its path
    /// ends in `/get`): what [`RetryPolicy`] and [`Error::is_retryable`] go by.
    const REPEATABLE: bool = repeatable(Self::PATH);
}

/// Whether the operation at `path` only reads: Plaid ends the path of every operation that
/// only reads with `/get` (`/accounts/get`, `/processor/auth/get`), and of no other.
pub(crate) const fn repeatable(path: &str) -> bool {
    let path = path.as_bytes();
    let suffix = b"/get";
    if path.len() < suffix.len() {
        return false;
    }
    let start = path.len() - suffix.len();
    let mut i = 0;
    while i < suffix.len() {
        if path[start + i] != suffix[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// One operation of this version of the SDK; [`OPERATIONS`](crate::OPERATIONS) lists them all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct OperationInfo {
    /// The method's name on [`PlaidClient`], such as `processor_token_create`.
    pub name: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// The path below the base URL, such as `/processor/token/create`.
    pub path: &'static str,
    /// Whether the operation exists in the Sandbox only.
    pub sandbox_only: bool,
}

impl OperationInfo {
    /// Whether the operation only reads, so that sending it twice changes nothing: the
    /// failures after which Plaid may have acted are retried for it (see [`RetryPolicy`]).
    pub fn repeatable(&self) -> bool {
        repeatable(self.path)
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A call that has not been sent yet: set optional fields with its methods (one per optional
/// field of the request, named after it), then `.await` it to send.
///
/// Input is checked before anything is sent: a blank required field, a value outside the
/// spec's bounds, or a token whose prefix names another environment than the client's is an
/// [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput).
#[must_use = "a call does nothing until awaited"]
pub struct Pending<'a, R> {
    pub(crate) client: &'a PlaidClient,
    pub(crate) body: R,
    pub(crate) options: CallOptions,
}

impl<R: Request> fmt::Debug for Pending<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is left out: some of its fields may be personal data.
        f.debug_struct("Pending")
            .field("operation", &R::OPERATION)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<'a, R: Request> Pending<'a, R> {
    pub(crate) fn new(client: &'a PlaidClient, body: R) -> Self {
        Pending {
            client,
            body,
            options: CallOptions::default(),
        }
    }

    /// The timeout of each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// The retry policy of this call.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.options.retry = Some(Box::new(policy));
        self
    }

    /// The request body as it will be sent.
    pub fn request(&self) -> &R {
        &self.body
    }
}

impl<'a, R: private::Dispatch> IntoFuture for Pending<'a, R> {
    type Output = Result<R::Response, Error>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.client.run(self.body, self.options))
    }
}

/// What the generated code implements and the runtime calls; not part of the API.
pub(crate) mod private {
    use super::*;
    use crate::Environment;

    /// Seals [`Request`]: only the SDK's types implement it.
    pub trait Sealed {}

    /// What the runtime needs of an operation beyond [`Request`]: its position in
    /// [`OPERATIONS`](crate::OPERATIONS), where the client keeps its parsed URL.
    pub trait Dispatch: Request + Validate {
        const INDEX: usize;
    }

    /// The request id every success response carries.
    pub trait HasRequestId {
        fn request_id(&self) -> &str;
        fn request_id_mut(&mut self) -> Option<&mut String>;
    }

    /// A request type's checks, generated from the spec.
    pub trait Validate {
        fn validate(&self, v: &mut Validator<'_>);
    }

    /// A field's checks, by its type.
    pub trait Field {
        fn check(&self, v: &mut Validator<'_>, rules: &Rules);
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
        /// The token kind a secret's prefix names (`access`); empty for none.
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
        /// Each item of a list: present and not blank.
        const ITEM: Rules = Rules {
            required: true,
            ..Rules::NONE
        };
    }

    /// Walks a request and keeps the first problem found, with the path of its field
    /// (`options.account_ids[2]`).
    ///
    /// [`Validator::check`] walks twice only when something is wrong: the first walk keeps no
    /// path (so a valid request allocates nothing), the second locates the problem. In
    /// visiting mode it checks nothing and hands each secret value of the request (its
    /// tokens) to a callback instead: what redaction compares server text against.
    pub struct Validator<'a> {
        environment: &'a Environment,
        /// Whether field paths are kept (the locating walk).
        locate: bool,
        /// Whether a problem was found (by a walk that keeps no path).
        failed: bool,
        path: String,
        error: Option<InvalidInput>,
        visit: Option<&'a mut (dyn FnMut(&str) + Send)>,
    }

    impl fmt::Debug for Validator<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Validator")
                .field("path", &self.path)
                .field("error", &self.error)
                .finish_non_exhaustive()
        }
    }

    impl<'a> Validator<'a> {
        /// A walk that keeps field paths: it names the field at fault.
        pub(crate) fn new(environment: &'a Environment) -> Self {
            Validator {
                environment,
                locate: true,
                failed: false,
                path: String::new(),
                error: None,
                visit: None,
            }
        }

        /// The first problem of `value`, if any, named by its field path.
        pub(crate) fn check<V: Validate + ?Sized>(
            environment: &'a Environment,
            value: &V,
        ) -> Option<InvalidInput> {
            let mut quick = Validator {
                locate: false,
                ..Validator::new(environment)
            };
            value.validate(&mut quick);
            if !quick.failed {
                return None;
            }
            let mut locating = Validator::new(environment);
            value.validate(&mut locating);
            locating.finish()
        }

        /// A walk that calls `f` with each secret value of the request.
        pub(crate) fn visiting(
            environment: &'a Environment,
            f: &'a mut (dyn FnMut(&str) + Send),
        ) -> Self {
            Validator {
                visit: Some(f),
                ..Validator::new(environment)
            }
        }

        /// The first problem found, if any.
        pub(crate) fn finish(self) -> Option<InvalidInput> {
            self.error
        }

        /// Checks the field `name` of the value being walked.
        pub fn field<T: Field + ?Sized>(&mut self, name: &str, value: &T, rules: &Rules) {
            if self.visit.is_some() {
                // Visiting needs no field paths (and so allocates none).
                return value.check(self, rules);
            }
            if self.failed {
                return;
            }
            if !self.locate {
                return value.check(self, rules);
            }
            let len = self.path.len();
            if len > 0 {
                self.path.push('.');
            }
            self.path.push_str(name);
            value.check(self, rules);
            self.path.truncate(len);
        }

        fn fail(&mut self, make: impl FnOnce(String) -> InvalidInput) {
            if self.failed || self.visit.is_some() {
                return;
            }
            self.failed = true;
            if self.locate {
                self.error = Some(make(self.path.clone()));
            }
        }

        /// Whether this walk only visits tokens (and checks nothing).
        fn only_visits(&self) -> bool {
            self.visit.is_some()
        }

        fn text(&mut self, text: &str, rules: &Rules) {
            if self.only_visits() {
                return;
            }
            if rules.required && text.trim().is_empty() {
                return self.fail(|field| InvalidInput::Blank { field });
            }
            if rules.min_length.is_none() && rules.max_length.is_none() {
                return;
            }
            let count = text.chars().count();
            if let Some(max) = rules.max_length.filter(|max| count > *max) {
                self.fail(|field| InvalidInput::TooLong { field, max });
            } else if let Some(min) = rules.min_length.filter(|min| count < *min) {
                self.fail(|field| InvalidInput::TooShort { field, min });
            }
        }

        /// A secret token: never blank, and its prefix must not name another environment.
        pub(crate) fn token(&mut self, token: &str, rules: &Rules) {
            if let Some(visit) = self.visit.as_mut() {
                return visit(token);
            }
            if token.trim().is_empty() {
                return self.fail(|field| InvalidInput::Blank { field });
            }
            let Some(kind) = rules.token.filter(|k| !k.is_empty()) else {
                return;
            };
            if let Some(found) = token_kind(token).filter(|found| *found != kind) {
                let found = found.to_string();
                return self.fail(|field| InvalidInput::WrongTokenKind {
                    field,
                    expected: kind,
                    found,
                });
            }
            let expected = match self.environment {
                Environment::Sandbox => "sandbox",
                Environment::Production => "production",
                // A custom base URL may front any environment.
                _ => return,
            };
            if let Some(env) = token_environment(token, kind)
                && env != expected
                && KNOWN_ENVIRONMENTS.contains(&env)
            {
                let client_environment = self.environment.name();
                let token_environment = env.to_string();
                self.fail(|field| InvalidInput::WrongEnvironment {
                    field,
                    token_environment,
                    client_environment,
                });
            }
        }

        pub(crate) fn enum_value(&mut self, value: &str, rules: &Rules) {
            if self.only_visits() {
                return;
            }
            if rules.required && value.trim().is_empty() {
                self.fail(|field| InvalidInput::Blank { field });
            }
        }

        fn number(&mut self, n: f64, rules: &Rules) {
            if self.only_visits() {
                return;
            }
            let below = rules.minimum.is_some_and(|min| n < min);
            let above = rules.maximum.is_some_and(|max| n > max);
            if below || above || n.is_nan() {
                let (min, max) = (rules.minimum, rules.maximum);
                self.fail(|field| InvalidInput::OutOfRange { field, min, max });
            }
        }
    }

    const KNOWN_ENVIRONMENTS: [&str; 3] = ["sandbox", "production", "development"];

    /// The kinds of Plaid token a prefix can name (`access-sandbox-…`).
    const KNOWN_TOKEN_KINDS: [&str; 4] = ["access", "processor", "public", "link"];

    /// The kind of Plaid token `token` is by its prefix (`access-sandbox-…` → `access`), when
    /// the prefix is one of Plaid's followed by a known environment.
    fn token_kind(token: &str) -> Option<&str> {
        let (kind, rest) = token.split_once('-')?;
        let (env, _) = rest.split_once('-')?;
        (KNOWN_TOKEN_KINDS.contains(&kind) && KNOWN_ENVIRONMENTS.contains(&env)).then_some(kind)
    }

    /// The environment a token's prefix names (`access-sandbox-…` → `sandbox` for kind
    /// `access`).
    fn token_environment<'t>(token: &'t str, kind: &str) -> Option<&'t str> {
        let rest = token.strip_prefix(kind)?.strip_prefix('-')?;
        let (env, _) = rest.split_once('-')?;
        Some(env)
    }

    impl Field for String {
        fn check(&self, v: &mut Validator<'_>, rules: &Rules) {
            v.text(self, rules);
        }
    }

    impl Field for bool {
        fn check(&self, _v: &mut Validator<'_>, _rules: &Rules) {}
    }

    macro_rules! numbers {
        ($($t:ty),*) => {$(
            impl Field for $t {
                fn check(&self, v: &mut Validator<'_>, rules: &Rules) {
                    v.number(*self as f64, rules);
                }
            }
        )*};
    }
    numbers!(i64, i32, u64, u32, f64, f32);

    impl<T: Field> Field for Option<T> {
        fn check(&self, v: &mut Validator<'_>, rules: &Rules) {
            match self {
                Some(value) => value.check(v, rules),
                None if rules.required => v.fail(|field| InvalidInput::Blank { field }),
                None => {}
            }
        }
    }

    impl<T: Field> Field for Vec<T> {
        fn check(&self, v: &mut Validator<'_>, rules: &Rules) {
            let n = self.len();
            if let Some(min) = rules.min_items.filter(|min| n < *min) {
                return v.fail(|field| InvalidInput::TooFewItems { field, min });
            }
            if let Some(max) = rules.max_items.filter(|max| n > *max) {
                return v.fail(|field| InvalidInput::TooManyItems { field, max });
            }
            let item_rules = Rules {
                token: rules.token,
                ..Rules::ITEM
            };
            for (i, item) in self.iter().enumerate() {
                if v.visit.is_some() {
                    item.check(v, &item_rules);
                    continue;
                }
                if v.failed {
                    return;
                }
                if !v.locate {
                    item.check(v, &item_rules);
                    continue;
                }
                let len = v.path.len();
                v.path.push_str(&format!("[{i}]"));
                item.check(v, &item_rules);
                v.path.truncate(len);
            }
        }
    }
}

impl PlaidClient {
    /// Checks and sends one request inside a tracing span, and maps its result.
    pub(crate) async fn run<R: private::Dispatch>(
        &self,
        body: R,
        options: CallOptions,
    ) -> Result<R::Response, Error> {
        use tracing::Instrument;
        let operation = R::OPERATION;
        if let Some(invalid) = private::Validator::check(&self.shared.environment, &body) {
            return Err(Error::from(invalid).with_operation(operation));
        }
        if R::SANDBOX_ONLY && matches!(self.shared.environment, crate::Environment::Production) {
            return Err(
                Error::from(InvalidInput::SandboxOnly { operation }).with_operation(operation)
            );
        }
        if options.timeout.is_some_and(|t| t.is_zero()) {
            let e = Error::from(crate::ConfigError::InvalidSetting(
                "the timeout must be more than zero".into(),
            ));
            return Err(e.with_operation(operation));
        }
        let span = request_span(operation, R::METHOD, R::PATH);
        let mut record = crate::transport::Record::default();
        let target = crate::transport::Operation::<R>::TARGET;
        // With no subscriber listening, the span is disabled: the call is neither wrapped in
        // it nor timed for it.
        let result = if span.is_disabled() {
            self.shared
                .send(&target, &body, &options, &mut record)
                .await
        } else {
            let started = std::time::Instant::now();
            let send = self.shared.send(&target, &body, &options, &mut record);
            let result = send.instrument(span.clone()).await;
            span.record("latency_ms", started.elapsed().as_millis() as u64);
            result
        };
        let result = match result {
            Ok(mut response) => {
                self.check_request_id(&body, &mut response);
                Ok(response)
            }
            Err(failure) => {
                // Only an error needs the request's tokens, to redact what the server said.
                let mut tokens = Vec::new();
                let mut collect = |t: &str| tokens.push(t.to_string());
                body.validate(&mut private::Validator::visiting(
                    &self.shared.environment,
                    &mut collect,
                ));
                let redactor = Redactor::new(
                    self.shared
                        .secret_values()
                        .chain(tokens.iter().map(String::as_str)),
                );
                Err(self.shared.error(
                    operation.into(),
                    R::REPEATABLE,
                    &options,
                    &record,
                    failure,
                    &redactor,
                ))
            }
        };
        let request_id = match &result {
            Ok(response) => Some(private::HasRequestId::request_id(response)),
            Err(e) => e.request_id(),
        };
        finish_span(&span, &record, request_id, result.as_ref().err());
        result
    }
}

/// The span of one call: `plaid.request` with the operation, method and path; status,
/// request id, attempts and latency recorded when it ends.
pub(crate) fn request_span(operation: &str, method: &str, path: &str) -> tracing::Span {
    tracing::info_span!(
        "plaid.request",
        operation,
        method,
        path,
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        attempts = tracing::field::Empty,
        latency_ms = tracing::field::Empty,
    )
}

/// Records how a call ended in its span (when a subscriber listens), and one debug event.
pub(crate) fn finish_span(
    span: &tracing::Span,
    record: &crate::transport::Record,
    request_id: Option<&str>,
    error: Option<&Error>,
) {
    if !span.is_disabled() {
        span.record("attempts", record.attempts);
        if let Some(status) = record.status {
            span.record("status", status);
        }
        span.record("request_id", request_id);
    }
    span.in_scope(|| match error {
        None => tracing::debug!("plaid: request succeeded"),
        Some(e) => tracing::debug!(error = %e, "plaid: request failed"),
    });
}

impl PlaidClient {
    /// A success's request id is kept only when it looks like Plaid's and holds no part of a
    /// secret of this client or of the request; otherwise it is emptied, and a warning says so.
    fn check_request_id<R: private::Dispatch>(&self, body: &R, response: &mut R::Response) {
        use private::HasRequestId;
        let Some(id) = response.request_id_mut() else {
            return;
        };
        if id.is_empty() {
            return;
        }
        // A shaped id holds only letters, digits, `-` and `_`: no escape or encoding can hide
        // a secret in it, so plain runs are all there is to compare (and nothing allocates).
        let runs = crate::redact::Runs::new(id);
        let mut clean = crate::redact::request_id_shaped(id)
            && !self.shared.secret_values().any(|s| runs.shares(s));
        if clean {
            let mut leaked = false;
            let mut check = |token: &str| leaked |= runs.shares(token);
            body.validate(&mut private::Validator::visiting(
                &self.shared.environment,
                &mut check,
            ));
            clean = !leaked;
        }
        if !clean {
            id.clear();
            tracing::warn!(
                operation = R::OPERATION,
                "plaid: the response's request id does not look like Plaid's and was dropped"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::private::*;
    use crate::{Environment, InvalidInput};

    fn check<T: Field>(env: &Environment, value: &T, rules: &Rules) -> Option<InvalidInput> {
        let mut v = Validator::new(env);
        v.field("f", value, rules);
        v.finish()
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
        assert_eq!(check(&sandbox, &access("access-sandbox-123"), &rules), None);
        assert_eq!(
            check(&production, &access("access-production-1"), &rules),
            None
        );
        assert_eq!(
            check(&production, &access("access-sandbox-123"), &rules),
            Some(InvalidInput::WrongEnvironment {
                field: "f".into(),
                token_environment: "sandbox".into(),
                client_environment: "production"
            })
        );
        assert!(check(&sandbox, &access("access-development-1"), &rules).is_some());
        let custom = Environment::custom("http://127.0.0.1:1").expect("url");
        assert_eq!(check(&custom, &access("access-production-1"), &rules), None);
        // Tokens without a recognisable prefix are Plaid's to judge.
        assert_eq!(check(&production, &access("opaque"), &rules), None);
        assert_eq!(check(&production, &access("access-weird-1"), &rules), None);
        assert_eq!(
            check(&sandbox, &access(" \t"), &rules),
            Some(InvalidInput::Blank { field: "f".into() })
        );
        // An optional token that is set is checked too.
        assert!(
            check(
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
                check(&env, &processor("access-sandbox-123"), &rules),
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
            check(&sandbox, &processor("processor-sandbox-1"), &rules),
            None
        );
        assert!(
            check(
                &sandbox,
                &crate::AccessToken::new("processor-sandbox-1"),
                &token_rules("access")
            )
            .is_some(),
            "and the other way round"
        );
        // Only Plaid's own prefixes are judged.
        assert_eq!(check(&sandbox, &processor("opaque-token"), &rules), None);
        assert_eq!(check(&sandbox, &processor("access-weird-1"), &rules), None);
    }

    #[test]
    fn text_lists_and_numbers_follow_their_rules() {
        let env = Environment::Sandbox;
        let required = Rules {
            required: true,
            ..Rules::NONE
        };
        assert_eq!(
            check(&env, &String::from("  "), &required),
            Some(InvalidInput::Blank { field: "f".into() })
        );
        assert_eq!(
            check(&env, &String::new(), &Rules::NONE),
            None,
            "optional text may be empty"
        );
        let at_most_3 = Rules {
            max_length: Some(3),
            ..Rules::NONE
        };
        assert_eq!(
            check(&env, &String::from("été"), &at_most_3),
            None,
            "characters, not bytes"
        );
        assert_eq!(
            check(&env, &String::from("abcd"), &at_most_3),
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
            check(&env, &Vec::<String>::new(), &one_or_two),
            Some(InvalidInput::TooFewItems {
                field: "f".into(),
                min: 1
            })
        );
        assert_eq!(
            check(&env, &vec![String::new(); 3], &one_or_two),
            Some(InvalidInput::TooManyItems {
                field: "f".into(),
                max: 2
            })
        );
        assert_eq!(
            check(&env, &vec!["a".to_string(), " ".to_string()], &one_or_two),
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
        assert_eq!(check(&env, &730i64, &days), None);
        assert_eq!(
            check(&env, &Some(0i64), &days),
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
        assert_eq!(Validator::check(&env, &valid), None);
        let blank =
            ProcessorTokenCreateRequest::new("access-sandbox-1", " ", crate::Processor::Dwolla);
        assert_eq!(
            Validator::check(&env, &blank),
            Some(InvalidInput::Blank {
                field: "account_id".into()
            })
        );
        let wrong =
            ProcessorTokenCreateRequest::new("access-production-1", "", crate::Processor::Dwolla);
        let mut locating = Validator::new(&env);
        wrong.validate(&mut locating);
        let first = locating.finish();
        assert!(first.is_some());
        assert_eq!(
            Validator::check(&env, &wrong),
            first,
            "the first problem, as located"
        );
        let no_products =
            SandboxPublicTokenCreateRequest::new("ins_1", Vec::<crate::Product>::new());
        let mut locating = Validator::new(&env);
        no_products.validate(&mut locating);
        let located = locating.finish();
        assert!(
            matches!(&located, Some(InvalidInput::TooFewItems { field, min: 1 }) if field == "initial_products"),
            "{located:?}"
        );
        assert_eq!(Validator::check(&env, &no_products), located);
    }

    #[test]
    fn nested_fields_are_named_by_their_path() {
        let env = Environment::Sandbox;
        let mut v = Validator::new(&env);
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
            v.finish(),
            Some(InvalidInput::Blank {
                field: "outer[1]".into()
            })
        );
    }
}
