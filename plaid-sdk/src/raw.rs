//! The door to every operation the SDK does not generate: [`PlaidClient::call`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::call::{Call, RawTarget};
use crate::error::{Error, InvalidInput};
use crate::request::CallOptions;
use crate::retry::RetryPolicy;
use crate::{Environment, PlaidClient};

/// The longest path a raw call takes.
const MAX_PATH: usize = 256;

/// Body keys that hold credentials: the client sends those as headers (or a gateway adds
/// them), never in a body.
const CREDENTIAL_KEYS: [&str; 2] = ["client_id", "secret"];

impl PlaidClient {
    /// Calls any Plaid operation by its path, with any JSON object as its body, and parses
    /// the success into `T` (`serde_json::Value` to keep it as it came, or a type of your
    /// own).
    ///
    /// For the operations the SDK does not generate yet (`/transactions/sync`,
    /// `/transfer/create`, ...). When a generated method exists, it wins: its arguments and
    /// response are typed, its fields checked before sending, and its tokens known to the
    /// redaction by their fields. A raw call gets everything else a generated one does: the
    /// same credentials (or gateway header), `Plaid-Version`, `User-Agent`, timeouts, retries,
    /// response-size limit, tracing span (`plaid.request`, with the path as the operation)
    /// and typed [`Error`] (status, Plaid error, request id), with secrets redacted: the
    /// client's own, any token-shaped text, and every string of the body under a key that
    /// ends in `token` or `tokens`.
    ///
    /// Before anything is sent, it is refused ([`InvalidInput::InvalidCall`]) when the path
    /// is not a plain absolute path (`/` then letters, digits, `_`, `-`, `.` and `/`, at most
    /// 256 characters, no `..` or `//`), when the body is not a JSON object or holds
    /// `client_id` or `secret`, and, on a Production client, when the path starts with
    /// `/sandbox/`. It is retried as generated calls are: an operation whose path ends in
    /// `/get` counts as one that only reads; say otherwise with
    /// [`RawCall::repeatable`]. The success's `request_id` is handed over as it came.
    ///
    /// ```no_run
    /// # async fn example(client: plaid_sdk::PlaidClient) -> Result<(), plaid_sdk::Error> {
    /// let access_token = std::env::var("PLAID_ACCESS_TOKEN").unwrap_or_default();
    /// let page: serde_json::Value = client
    ///     .call("/transactions/sync", &serde_json::json!({ "access_token": access_token, "count": 100 }))
    ///     .await?;
    /// println!("{} added", page["added"].as_array().map_or(0, Vec::len));
    /// # Ok(())
    /// # }
    /// ```
    pub fn call<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> RawCall<'_, T> {
        RawCall {
            client: self,
            path: path.to_string(),
            body: serde_json::to_value(body).map_err(|e| e.to_string()),
            options: CallOptions::default(),
            repeatable: None,
            response: PhantomData,
        }
    }
}

/// A raw call that has not been sent yet ([`PlaidClient::call`]): set its options, then
/// `.await` it.
#[must_use = "a call does nothing until awaited"]
pub struct RawCall<'a, T> {
    client: &'a PlaidClient,
    path: String,
    /// The body as JSON, or why it could not be made.
    body: Result<Value, String>,
    options: CallOptions,
    repeatable: Option<bool>,
    response: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for RawCall<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body is left out: it may hold tokens and personal data.
        f.debug_struct("RawCall")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("repeatable", &self.repeatable)
            .finish_non_exhaustive()
    }
}

impl<T> RawCall<'_, T> {
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

    /// Whether the operation only reads, so that a failure after which Plaid may have acted
    /// is retried (see [`RetryPolicy`]). By default: whether the path ends in `/get`.
    pub fn repeatable(mut self, repeatable: bool) -> Self {
        self.repeatable = Some(repeatable);
        self
    }
}

impl<'a, T: DeserializeOwned + Send + 'a> IntoFuture for RawCall<'a, T> {
    type Output = Result<T, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(
            self.client
                .run_raw(self.path, self.body, self.options, self.repeatable),
        )
    }
}

/// Why `path` cannot be a raw call's path, if it cannot.
fn path_problem(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') || path.len() < 2 {
        return Some("the path must start with `/` and name an operation");
    }
    if path.len() > MAX_PATH {
        return Some("the path is longer than 256 characters");
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'.'))
    {
        return Some("the path may hold only letters, digits, `_`, `-`, `.` and `/`");
    }
    if path.contains("//") || path.split('/').any(|s| s == ".." || s == ".") {
        return Some("the path may not hold `//`, `.` or `..` segments");
    }
    None
}

/// Every string under a key ending in `token` or `tokens`, anywhere in the body.
fn object_tokens(fields: &serde_json::Map<String, Value>, out: &mut Vec<String>) {
    for (key, value) in fields {
        if key.ends_with("token") || key.ends_with("tokens") {
            collect_strings(value, out);
        } else {
            body_tokens(value, out);
        }
    }
}

fn body_tokens(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(fields) => object_tokens(fields, out),
        Value::Array(items) => items.iter().for_each(|v| body_tokens(v, out)),
        _ => {}
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if !s.is_empty() => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(fields) => fields.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

impl PlaidClient {
    async fn run_raw<T: DeserializeOwned>(
        &self,
        path: String,
        body: Result<Value, String>,
        options: CallOptions,
        repeatable: Option<bool>,
    ) -> Result<T, Error> {
        let refuse = |reason: String| {
            Err(Error::from(InvalidInput::InvalidCall { reason }).with_operation(path.clone()))
        };
        if let Some(problem) = path_problem(&path) {
            return refuse(problem.to_string());
        }
        let body = match body {
            Ok(Value::Object(fields)) => fields,
            Ok(_) => return refuse("the body must be a JSON object".into()),
            Err(why) => return refuse(format!("the body cannot be made JSON: {why}")),
        };
        if let Some(key) = CREDENTIAL_KEYS.iter().find(|k| body.contains_key(**k)) {
            return refuse(format!(
                "the body holds `{key}`: credentials go in headers, which the client adds"
            ));
        }
        if path.starts_with("/sandbox/")
            && matches!(self.shared.environment, Environment::Production)
        {
            return refuse(format!("{path} exists in the Sandbox only"));
        }
        let repeatable = repeatable.unwrap_or_else(|| crate::request::repeatable(&path));
        let target = match self.shared.raw_url(&path) {
            Ok(url) => RawTarget { url, repeatable },
            Err(e) => return Err(Error::from(e).with_operation(path)),
        };
        let mut call = Call::check(
            &self.shared,
            path.clone().into(),
            "POST",
            &path,
            target,
            options,
        )?;
        let result = call.attempts::<_, T>(&body).await.map_err(|failure| {
            let mut tokens = Vec::new();
            object_tokens(&body, &mut tokens);
            call.error(failure, &tokens)
        });
        call.finish(
            result.as_ref().err().and_then(Error::request_id),
            result.as_ref().err(),
        );
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_plain_absolute_paths() {
        for good in [
            "/transactions/sync",
            "/processor/auth/get",
            "/a",
            "/beta/v1.2/x",
        ] {
            assert_eq!(path_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "/",
            "transactions/sync",
            "/a?b=c",
            "/a#b",
            "/a/../b",
            "/a//b",
            "/./a",
            "/a b",
            "/a%2e",
            "https://evil.example/x",
            "/é",
        ] {
            assert!(path_problem(bad).is_some(), "{bad:?}");
        }
        assert!(path_problem(&format!("/{}", "a".repeat(300))).is_some());
    }

    #[test]
    fn tokens_are_found_under_token_keys_at_any_depth() {
        let body = serde_json::json!({
            "access_token": "access-sandbox-1",
            "count": 3,
            "options": { "user_token": "u-1", "access_tokens": ["a-1", "a-2"], "name": "kept" },
            "items": [{ "processor_token": "p-1" }],
        });
        let mut out = Vec::new();
        body_tokens(&body, &mut out);
        out.sort();
        assert_eq!(out, ["a-1", "a-2", "access-sandbox-1", "p-1", "u-1"]);
    }
}
