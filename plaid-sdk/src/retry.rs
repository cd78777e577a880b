//! When to try a call again, and how long to wait first.
//!
//! The decision is a pure function of what happened, the attempt number and the
//! time spent; the waiting goes through a [`Sleeper`], which tests replace so that no test
//! waits for real backoff time.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Waits for a delay between attempts. The default uses tokio's timer; tests install one that
/// records the delays and returns at once.
pub trait Sleeper: Send + Sync + 'static {
    /// A future that completes after `delay`.
    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, delay: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// How a call is retried: bounded attempts, exponential backoff with jitter, a cap on each
/// delay and on the total time, and the server's `Retry-After` honoured within that cap.
///
/// What is retried depends on whether Plaid may already have acted on the failed attempt:
///
/// - **Plaid did not act**: HTTP 429, 408 and 503, and failures to connect (the request never
///   left). Retried for every operation.
/// - **Plaid may have acted**: a 5xx whose Plaid `error_type` is `API_ERROR` (other than 503),
///   502 and 504 (an answer from a proxy in front of Plaid), a timeout, a connection lost
///   after the request was sent. Retried for operations that only read (their path ends in
///   `/get`: [`OperationInfo::repeatable`](crate::OperationInfo::repeatable)), where a
///   repeat changes nothing. For the others (`/processor/token/create` would mint a second
///   token) only with [`retry_ambiguous`](Self::retry_ambiguous).
/// - Never retried: any other 4xx, a 5xx that is not an `API_ERROR`, and anything refused
///   before sending.
///
/// [`Error::is_retryable`](crate::Error::is_retryable) answers by the same rules, so a service
/// that requeues failed calls on it never repeats a call that may have taken effect.
#[derive(Clone)]
pub struct RetryPolicy {
    pub(crate) max_attempts: u32,
    pub(crate) initial_delay: Duration,
    pub(crate) max_delay: Duration,
    pub(crate) max_elapsed: Duration,
    pub(crate) retry_ambiguous: bool,
    pub(crate) sleeper: Arc<dyn Sleeper>,
}

impl fmt::Debug for RetryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("initial_delay", &self.initial_delay)
            .field("max_delay", &self.max_delay)
            .field("max_elapsed", &self.max_elapsed)
            .field("retry_ambiguous", &self.retry_ambiguous)
            .finish_non_exhaustive()
    }
}

impl Default for RetryPolicy {
    /// Three attempts, 250 ms doubling up to 4 s between them, at most 30 s in all.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(4),
            max_elapsed: Duration::from_secs(30),
            retry_ambiguous: false,
            sleeper: Arc::new(TokioSleeper),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The total number of attempts, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The delay before the first retry; each later one doubles it, plus jitter.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest single wait, `Retry-After` included: a server that asks for more is not
    /// retried, and its error (with [`retry_after`](crate::Error::retry_after)) is returned.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// No retry starts once this much time has passed since the first attempt, nor when its
    /// delay would end past it.
    pub fn max_elapsed(mut self, elapsed: Duration) -> Self {
        self.max_elapsed = elapsed;
        self
    }

    /// Also retry, for operations that do not only read, the failures after which Plaid may
    /// have acted (see above): a retry may then repeat the effect, such as a second processor
    /// token for the same account (Plaid allows several; each works). Off by default.
    pub fn retry_ambiguous(mut self, yes: bool) -> Self {
        self.retry_ambiguous = yes;
        self
    }

    /// Replaces the timer used between attempts (for tests: record delays, skip waiting).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }
}

/// What one attempt came to, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome<'a> {
    /// A response with this status (not 2xx).
    Status {
        status: u16,
        retry_after: Option<Duration>,
        /// Plaid's `error_type`, as spelled on the wire (`API_ERROR`).
        error_type: Option<&'a str>,
    },
    /// The connection could not be made.
    Connect,
    /// No response in time, or the connection failed after sending.
    Ambiguous,
    /// Something no retry can mend (a body over the limit, a request that cannot be built).
    Fatal,
}

/// Retry after this delay, or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry(Duration),
    Stop,
}

/// Whether an outcome is worth another attempt, and whether Plaid may have acted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// No attempt can mend it.
    Final,
    /// Plaid did not act: another attempt is safe for any operation.
    Safe,
    /// Plaid may have acted: another attempt is safe only for an operation that only reads.
    Ambiguous,
}

/// The one classification of outcomes, used by the retry decision and by
/// [`Error::is_retryable`](crate::Error::is_retryable).
pub(crate) fn classify(outcome: Outcome<'_>) -> Class {
    match outcome {
        Outcome::Status {
            status: 408 | 429 | 503,
            ..
        } => Class::Safe,
        Outcome::Status {
            status: 502 | 504, ..
        } => Class::Ambiguous,
        Outcome::Status {
            status, error_type, ..
        } if status >= 500 && error_type == Some("API_ERROR") => Class::Ambiguous,
        Outcome::Status { .. } | Outcome::Fatal => Class::Final,
        Outcome::Connect => Class::Safe,
        Outcome::Ambiguous => Class::Ambiguous,
    }
}

/// Decides whether attempt number `attempt` (1-based) of an operation (`repeatable` when it
/// only reads), which ended in `outcome` after
/// `elapsed` since the first attempt began, is followed by another. `jitter` is a number in
/// `[0, 1)`: the delay is drawn between half and all of the exponential step.
pub(crate) fn decide(
    policy: &RetryPolicy,
    outcome: Outcome<'_>,
    repeatable: bool,
    attempt: u32,
    elapsed: Duration,
    jitter: f64,
) -> Decision {
    if attempt >= policy.max_attempts {
        return Decision::Stop;
    }
    match classify(outcome) {
        Class::Final => return Decision::Stop,
        Class::Ambiguous if !(repeatable || policy.retry_ambiguous) => return Decision::Stop,
        Class::Safe | Class::Ambiguous => {}
    }
    let retry_after = match outcome {
        Outcome::Status { retry_after, .. } => retry_after,
        _ => None,
    };
    let step = policy
        .initial_delay
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(policy.max_delay);
    let jitter = jitter.clamp(0.0, 1.0);
    let backoff = step / 2 + step.mul_f64(jitter / 2.0);
    let delay = match retry_after {
        Some(asked) if asked > policy.max_delay => return Decision::Stop,
        Some(asked) => asked,
        None => backoff,
    };
    if elapsed.saturating_add(delay) > policy.max_elapsed {
        return Decision::Stop;
    }
    Decision::Retry(delay)
}

/// Reads a `Retry-After` value: whole seconds, or an HTTP date (relative to `now`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    fn status(status: u16) -> Outcome<'static> {
        Outcome::Status {
            status,
            retry_after: None,
            error_type: None,
        }
    }

    #[test]
    fn decision_table() {
        let p = RetryPolicy::default(); // 3 attempts, 250 ms, cap 4 s, 30 s total
        let api = "API_ERROR";
        let item = "ITEM_ERROR";
        let rows: Vec<(&str, Outcome<'_>, u32, Duration, f64, Decision)> = vec![
            (
                "429 first attempt, no jitter: half a step",
                status(429),
                1,
                S(0),
                0.0,
                Decision::Retry(MS(125)),
            ),
            (
                "429 full jitter: a whole step",
                status(429),
                1,
                S(0),
                1.0,
                Decision::Retry(MS(250)),
            ),
            (
                "503 second attempt doubles",
                status(503),
                2,
                S(1),
                0.0,
                Decision::Retry(MS(250)),
            ),
            ("408", status(408), 1, S(0), 0.0, Decision::Retry(MS(125))),
            ("502 on a write", status(502), 1, S(0), 0.0, Decision::Stop),
            ("504 on a write", status(504), 1, S(0), 0.0, Decision::Stop),
            (
                "last attempt stops",
                status(503),
                3,
                S(0),
                0.0,
                Decision::Stop,
            ),
            ("400 never", status(400), 1, S(0), 0.0, Decision::Stop),
            ("401 never", status(401), 1, S(0), 0.0, Decision::Stop),
            ("404 never", status(404), 1, S(0), 0.0, Decision::Stop),
            (
                "500 without API_ERROR",
                status(500),
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            (
                "500 API_ERROR on a write",
                Outcome::Status {
                    status: 500,
                    retry_after: None,
                    error_type: Some(api),
                },
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            (
                "500 ITEM_ERROR",
                Outcome::Status {
                    status: 500,
                    retry_after: None,
                    error_type: Some(item),
                },
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            (
                "400 API_ERROR is still a 4xx",
                Outcome::Status {
                    status: 400,
                    retry_after: None,
                    error_type: Some(api),
                },
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            (
                "Retry-After honoured over backoff",
                Outcome::Status {
                    status: 429,
                    retry_after: Some(S(2)),
                    error_type: None,
                },
                1,
                S(0),
                0.5,
                Decision::Retry(S(2)),
            ),
            (
                "Retry-After 0",
                Outcome::Status {
                    status: 429,
                    retry_after: Some(S(0)),
                    error_type: None,
                },
                1,
                S(0),
                0.5,
                Decision::Retry(S(0)),
            ),
            (
                "Retry-After over the cap: give up",
                Outcome::Status {
                    status: 429,
                    retry_after: Some(S(5)),
                    error_type: None,
                },
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            (
                "Retry-After past the total budget",
                Outcome::Status {
                    status: 503,
                    retry_after: Some(S(3)),
                    error_type: None,
                },
                1,
                S(28),
                0.0,
                Decision::Stop,
            ),
            (
                "connect failure retried",
                Outcome::Connect,
                1,
                S(0),
                0.0,
                Decision::Retry(MS(125)),
            ),
            (
                "timeout not retried by default",
                Outcome::Ambiguous,
                1,
                S(0),
                0.0,
                Decision::Stop,
            ),
            ("fatal never", Outcome::Fatal, 1, S(0), 0.0, Decision::Stop),
            ("budget spent", status(503), 1, S(30), 0.0, Decision::Stop),
        ];
        for (name, outcome, attempt, elapsed, jitter, expected) in rows {
            // What reads and writes share: every row but the ones Plaid may have acted on.
            let repeatable = false;
            assert_eq!(
                decide(&p, outcome, repeatable, attempt, elapsed, jitter),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn delays_grow_to_the_cap_and_stay_there() {
        let p = RetryPolicy::default()
            .max_attempts(100)
            .max_elapsed(S(3600));
        let delays: Vec<Duration> = (1..=8)
            .map(|n| match decide(&p, status(503), false, n, S(0), 1.0) {
                Decision::Retry(d) => d,
                Decision::Stop => panic!("attempt {n} stopped"),
            })
            .collect();
        assert_eq!(
            delays,
            [MS(250), MS(500), S(1), S(2), S(4), S(4), S(4), S(4)]
        );
        // Enormous attempt numbers neither overflow nor panic.
        assert_eq!(
            decide(&p, status(503), false, 99, S(0), 1.0),
            Decision::Retry(S(4))
        );
    }

    #[test]
    fn outcomes_plaid_may_have_acted_on_retry_for_reads_or_when_asked() {
        let api = "API_ERROR";
        let ambiguous = [
            Outcome::Ambiguous,
            status(502),
            status(504),
            Outcome::Status {
                status: 500,
                retry_after: None,
                error_type: Some(api),
            },
        ];
        let default = RetryPolicy::default();
        let asked = RetryPolicy::default().retry_ambiguous(true);
        for outcome in ambiguous {
            assert_eq!(classify(outcome), Class::Ambiguous, "{outcome:?}");
            let retried = Decision::Retry(MS(125));
            assert_eq!(
                decide(&default, outcome, false, 1, S(0), 0.0),
                Decision::Stop,
                "{outcome:?} on a write"
            );
            assert_eq!(
                decide(&default, outcome, true, 1, S(0), 0.0),
                retried,
                "{outcome:?} on a read"
            );
            assert_eq!(
                decide(&asked, outcome, false, 1, S(0), 0.0),
                retried,
                "{outcome:?} when asked"
            );
        }
        for outcome in [status(429), status(408), status(503), Outcome::Connect] {
            assert_eq!(classify(outcome), Class::Safe, "{outcome:?}");
            assert_eq!(
                decide(&default, outcome, false, 1, S(0), 0.0),
                Decision::Retry(MS(125)),
                "{outcome:?} on a write"
            );
        }
        assert_eq!(
            decide(&RetryPolicy::none(), Outcome::Connect, true, 1, S(0), 0.0),
            Decision::Stop
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + S(1_000_000_000);
        assert_eq!(parse_retry_after("7", now), Some(S(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(S(0)));
        let later = httpdate::fmt_http_date(now + S(42));
        assert_eq!(parse_retry_after(&later, now), Some(S(42)));
        let earlier = httpdate::fmt_http_date(now - S(42));
        assert_eq!(parse_retry_after(&earlier, now), Some(S(0)));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }
}
