//! A gateway in front of Plaid for callers that must never hold Plaid's secret (browsers,
//! mobile apps, notebooks, partners' scripts).
//!
//! For each request it authenticates the caller by its own token (`x-gateway-token`, or
//! `Authorization: Bearer`), checks the operation against an allow-list, drops any Plaid
//! credentials the caller sent (headers, or `client_id`/`secret` in the JSON body), adds the
//! gateway's `PLAID-CLIENT-ID` and `PLAID-SECRET`, sets `Plaid-Version` when the caller sent
//! none, forwards, and returns Plaid's status and body unchanged.
//!
//! Its own refusals have Plaid's error shape with `error_type` `GATEWAY_ERROR`, so clients
//! parse them like Plaid's:
//!
//! | status | `error_code` | when |
//! |---|---|---|
//! | 401 | `UNAUTHENTICATED` | missing or unknown caller token |
//! | 403 | `OPERATION_NOT_ALLOWED` | method, path or query outside the allow-list |
//! | 400 | `INVALID_PLAID_VERSION` | a `Plaid-Version` header that is not an API version date |
//! | 400 | `INVALID_BODY` (`error_type` `INVALID_REQUEST`) | a body that is not one JSON object, or that cannot be read (malformed chunking) |
//! | 408 | `BODY_TIMEOUT` | the body did not arrive within `PLAID_GATEWAY_BODY_TIMEOUT_SECS`; the connection is closed |
//! | 413 | `BODY_TOO_LARGE` | request body over the limit |
//! | 429 | `RATE_LIMIT` (`error_type` `RATE_LIMIT_EXCEEDED`), with `Retry-After` | the caller's quota (`PLAID_GATEWAY_QUOTAS`) is spent |
//! | 503 | `OVERLOADED` | too many requests in flight, for the gateway or for this caller (each has a share, `PLAID_GATEWAY_CALLER_CONCURRENCY`) |
//! | 503 | `QUOTA_STORE_UNAVAILABLE` | the shared quota store did not answer in time and `PLAID_GATEWAY_QUOTA_STORE_FAILURE=closed` |
//! | 502 | `UPSTREAM_UNREACHABLE` | Plaid could not be reached, or its answer was over [`MAX_UPSTREAM_BODY`] |
//! | 502 | `UPSTREAM_ANSWER_WITHHELD` | the answer repeated the gateway's Plaid secret (raw, escaped, encoded, or 8 characters of it): an upstream echoing the request |
//! | 504 | `UPSTREAM_TIMEOUT` | Plaid did not answer in time |
//!
//! `GET /healthz` answers `{"status":"ok"}` without authentication, and so does `GET /console`,
//! the Try-it console (a page, its script and style, and the operations model, all built into
//! the binary), unless `PLAID_GATEWAY_CONSOLE=off`. Every reply carries a strict
//! Content-Security-Policy (same-origin script, style and requests only; no inline code). The
//! gateway keeps no state between requests but its quota buckets (per instance, or shared by
//! every instance through Redis with `PLAID_GATEWAY_QUOTA_STORE`), so any number of instances
//! can run behind a load balancer.
//!
//! Each API request is logged on one line (caller, operation, status, latency, Plaid's request
//! id); never a token, a secret or a body.

mod config;
mod console;
mod h1;
mod quota_store;
mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use config::{
    Caller, Config, Quota, QuotaStoreFailure, QuotaStoreUrl, VARIABLES, default_operations,
    hash_token,
};
pub use console::export as export_console;

/// The header callers authenticate with (or `Authorization: Bearer <token>`).
pub const CALLER_HEADER: &str = "x-gateway-token";

/// The target of the one log line per API request (`RUST_LOG=plaid_gateway::request=off`
/// silences those lines alone).
pub const REQUEST_LOG_TARGET: &str = "plaid_gateway::request";

/// How long a graceful shutdown waits for requests in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

struct State {
    config: Config,
    /// The CORS layer of these settings (`None` when no origin is listed).
    cors: Option<tower_http::cors::CorsLayer>,
    /// The console's page for these settings (`None` when the console is off).
    console_page: Option<Bytes>,
    /// The token buckets of `config.quotas`, by index: (tokens left, when last refilled).
    buckets: std::sync::Mutex<Vec<(f64, Instant)>>,
    /// One upstream pool per serving thread (by the thread's index, modulo the length): a
    /// thread forwards only over connections it opened, which its own event loop drives.
    http: Box<[upstream::Pool]>,
    /// The upstream request target (path and query) of each allowed operation
    /// (`config.operations`), checked once.
    uris: std::collections::HashMap<String, String>,
    permits: Semaphore,
    /// Each caller's share of `permits` (`config.caller_concurrency`), by name.
    caller_permits: std::collections::HashMap<String, Semaphore>,
    /// The header lines every forwarded request carries (the Plaid credentials among them).
    fixed_headers: Box<[u8]>,
    default_version: HeaderValue,
    /// The shared quota store (`config.quota_store`), kept across reloads to the same URL.
    quota_store: Option<Arc<quota_store::QuotaStore>>,
}

/// The settings a gateway serves with. [`reload`](Self::reload) swaps them for new ones while
/// it runs: the next requests use the new ones; a request whose body is still arriving is
/// checked again once it has arrived (a token revoked meanwhile is refused, not forwarded); a
/// request already forwarded finishes, within its `upstream_timeout`. Everything but the listen address can change (callers and their tokens,
/// operations, credentials, limits).
#[derive(Clone)]
pub struct Settings(Arc<std::sync::RwLock<Arc<State>>>);

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Settings")
            .field(&self.current().config)
            .finish()
    }
}

impl Settings {
    /// Checks `config` and makes the settings; unusable settings are an error.
    pub fn new(config: Config) -> std::io::Result<Settings> {
        Ok(Settings(Arc::new(std::sync::RwLock::new(Arc::new(state(
            config,
        )?)))))
    }

    /// Serves with `config` from now on; unusable settings are refused and the old ones kept.
    /// Quota buckets that both settings have (same caller and operation) keep their state, so
    /// a reload refills nothing; every widening of access (a caller reaching an operation it
    /// could not, a quota dropped or raised) is logged, one line each.
    pub fn reload(&self, mut config: Config) -> std::io::Result<()> {
        // The serving threads are started once: the new settings keep their number, so there
        // is one upstream pool per running thread.
        config.threads = self.current().config.threads;
        let mut next = state(config)?;
        let mut current = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for change in widenings(&current.config, &next.config) {
            tracing::warn!(change = %change, "reload widens access");
        }
        next.keep_buckets_of(&current);
        // The same store keeps its connection.
        if let (Some(new), Some(old)) = (&next.quota_store, &current.quota_store)
            && new.url() == old.url()
        {
            next.quota_store = Some(Arc::clone(old));
        }
        *current = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<State> {
        Arc::clone(
            &self
                .0
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// A gateway serving in the background; dropping it stops it at once, and
/// [`shutdown`](Self::shutdown) stops it gracefully.
#[derive(Debug)]
pub struct Gateway {
    addr: SocketAddr,
    settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    /// Binds `config.listen` and serves until dropped or shut down.
    pub async fn start(config: Config) -> std::io::Result<Gateway> {
        let listener = TcpListener::bind(config.listen).await?;
        Gateway::start_on(listener, config)
    }

    /// Serves on a listener the caller bound (and so knows the address of before anything
    /// starts) until dropped or shut down. Fails, serving nothing, when the settings are
    /// unusable.
    pub fn start_on(listener: TcpListener, config: Config) -> std::io::Result<Gateway> {
        let addr = listener.local_addr()?;
        let settings = Settings::new(config)?;
        let serving = settings.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = serve_with(listener, serving, async {
                let _ = stopped.await;
            })
            .await;
        });
        Ok(Gateway {
            addr,
            settings,
            stop: Some(stop),
            task,
        })
    }

    /// Serves with `config` from now on (see [`Settings::reload`]).
    pub fn reload(&self, config: Config) -> std::io::Result<()> {
        self.settings.reload(config)
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits (up to [`SHUTDOWN_GRACE`]) for requests in flight.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(listener, Settings::new(config)?, shutdown).await
}

/// Serves on `listener` with `settings`, which may be reloaded meanwhile, until `shutdown`
/// completes, then finishes the requests in flight.
///
/// It serves on [`Config::threads`] threads (read now): this task's, and one more thread
/// per further one, each with a single-threaded event loop accepting from the same listener.
/// A connection stays on the thread that accepted it, and its requests go upstream over
/// that thread's own connections, so no request's work crosses threads. Dropping the
/// returned future stops the other threads at once, with their connections.
pub async fn serve_with(
    listener: TcpListener,
    settings: Settings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    // Read once at start (not kept: a reload's state replaces this one).
    let (threads, max_connections) = {
        let current = settings.current();
        (current.config.threads, current.config.max_connections)
    };
    let connections = Arc::new(Semaphore::new(max_connections));
    // `true` once the serving should stop gracefully; closed (this future dropped) when it
    // should stop at once.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut others = Vec::new();
    for worker in 1..threads.max(1) {
        others.push(serving_thread(
            &listener,
            &settings,
            worker,
            &connections,
            stopping.clone(),
        )?);
    }
    let graceful = accept_loop(listener, &settings, 0, &connections, shutdown).await;
    let _ = stop.send(true);
    tracing::info!("shutting down: waiting for requests in flight");
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        graceful.shutdown().await;
        for done in others {
            let _ = done.await;
        }
    })
    .await;
    Ok(())
}

/// Starts serving thread `worker` on a duplicate of `listener`'s socket; the receiver
/// completes when the thread is done.
fn serving_thread(
    listener: &TcpListener,
    settings: &Settings,
    worker: usize,
    connections: &Arc<Semaphore>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<tokio::sync::oneshot::Receiver<()>> {
    let listener = duplicate(listener)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (settings, connections) = (settings.clone(), Arc::clone(connections));
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("plaid-gateway-{worker}"))
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(e) => {
                        tracing::warn!(worker, error = %e, "a serving thread cannot listen");
                        return;
                    }
                };
                let stopped = {
                    let mut stopping = stopping.clone();
                    async move {
                        let _ = stopping.wait_for(|stop| *stop).await;
                    }
                };
                let graceful =
                    accept_loop(listener, &settings, worker, &connections, stopped).await;
                // Stopped gracefully: finish this thread's requests; dropped: stop now.
                if stopping.wait_for(|stop| *stop).await.is_ok() {
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
                }
            });
            drop(runtime);
            let _ = done.send(());
        })?;
    Ok(finished)
}

/// Another handle on `listener`'s socket, for another thread's event loop.
#[cfg(unix)]
fn duplicate(listener: &TcpListener) -> std::io::Result<std::net::TcpListener> {
    use std::os::fd::AsFd;
    let socket = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned()?);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Another handle on `listener`'s socket, for another thread's event loop.
#[cfg(windows)]
fn duplicate(listener: &TcpListener) -> std::io::Result<std::net::TcpListener> {
    use std::os::windows::io::AsSocket;
    let socket = std::net::TcpListener::from(listener.as_socket().try_clone_to_owned()?);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// One thread's accept loop: serves the connections it accepts (within the shared cap) until
/// `shutdown` completes; the returned watcher finishes their requests.
async fn accept_loop(
    listener: TcpListener,
    settings: &Settings,
    worker: usize,
    connections: &Arc<Semaphore>,
    shutdown: impl Future<Output = ()>,
) -> Connections {
    let connections_open = Connections::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        // At the cap, wait for a connection to close before accepting another: the next
        // ones wait in the kernel's queue instead of taking descriptors.
        let permit = tokio::select! {
            permit = Arc::clone(connections).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => {
                if backoff.recovered() {
                    tracing::info!("accepting connections again");
                }
                stream
            }
            Err(e) => {
                // Out of descriptors, say: wait (growing, capped) instead of spinning, and
                // say so once per outage.
                let (delay, first) = backoff.failed();
                if first {
                    tracing::warn!(error = %e, "accept failed; backing off until it works again");
                }
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = &mut shutdown => break,
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (stop, open) = (
            connections_open.stop.subscribe(),
            connections_open.open.clone(),
        );
        let settings = settings.clone();
        tokio::spawn(async move {
            h1::connection(stream, settings, worker, stop).await;
            drop((open, permit));
        });
    }
    connections_open
}

/// The connections one accept loop serves, for a graceful stop: each holds a clone of `open`
/// and watches `stop`.
struct Connections {
    stop: tokio::sync::watch::Sender<bool>,
    open: tokio::sync::mpsc::Sender<()>,
    closed: tokio::sync::mpsc::Receiver<()>,
}

impl Connections {
    fn new() -> Connections {
        let (open, closed) = tokio::sync::mpsc::channel(1);
        Connections {
            stop: tokio::sync::watch::Sender::new(false),
            open,
            closed,
        }
    }

    /// Asks every connection to close once its request in flight is answered, and waits until
    /// they all have.
    async fn shutdown(self) {
        let Connections {
            stop,
            open,
            mut closed,
        } = self;
        let _ = stop.send(true);
        drop(open);
        // `None` once every connection dropped its sender.
        let _ = closed.recv().await;
    }
}

/// How long the accept loop waits after a failed `accept`: 10 ms, doubling to 1 s, back to
/// the start once one succeeds.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    /// The wait after one more failure, and whether it is the first of an outage.
    fn failed(&mut self) -> (Duration, bool) {
        self.failures = self.failures.saturating_add(1);
        let delay = Duration::from_millis(10)
            .saturating_mul(1 << self.failures.saturating_sub(1).min(7))
            .min(Duration::from_secs(1));
        (delay, self.failures == 1)
    }

    /// Records a success; whether it ends an outage.
    fn recovered(&mut self) -> bool {
        std::mem::take(&mut self.failures) > 0
    }
}

impl State {
    /// The quota decision for one request: `Ok(None)` admitted, `Ok(Some(wait))` over quota.
    /// With a shared store, the store decides; when it does not answer in time, the failure
    /// policy does (this instance's buckets at its share, or a 503).
    async fn quota(&self, caller: &str, operation: &str) -> Result<Option<Duration>, Refusal> {
        let Some(store) = &self.quota_store else {
            return Ok(self.over_quota(caller, operation, 1));
        };
        let buckets: Vec<quota_store::Bucket> = self
            .config
            .quotas
            .iter()
            .filter(|q| {
                q.caller == caller && q.operation.as_deref().is_none_or(|op| op == operation)
            })
            .map(|q| quota_store::Bucket::new(&q.caller, q.operation.as_deref(), q.count, q.period))
            .collect();
        if buckets.is_empty() {
            return Ok(None);
        }
        // Boxed: the store's future is large, and most gateways have no store.
        match Box::pin(store.take(&buckets, self.config.quota_store_timeout)).await {
            Ok(wait) => Ok(wait),
            Err(()) => match self.config.quota_store_failure {
                QuotaStoreFailure::Local => {
                    Ok(self.over_quota(caller, operation, self.config.instances))
                }
                QuotaStoreFailure::Closed => Err(Refusal::gateway(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "QUOTA_STORE_UNAVAILABLE",
                    "the gateway's quota store is unavailable; retry shortly",
                )),
            },
        }
    }

    /// Takes a token from every bucket that applies to this caller and operation; when one
    /// is empty, takes none and returns how long until it holds one again.
    fn over_quota(&self, caller: &str, operation: &str, share: u32) -> Option<Duration> {
        let applies = |q: &Quota| {
            q.caller == caller && q.operation.as_deref().is_none_or(|op| op == operation)
        };
        if !self.config.quotas.iter().any(applies) {
            return None;
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut wait = None;
        for (quota, (tokens, last)) in self.config.quotas.iter().zip(buckets.iter_mut()) {
            if !applies(quota) {
                continue;
            }
            let count = f64::from((quota.count / share.max(1)).max(1));
            let per_token = quota.period.as_secs_f64() / count;
            let refill = now.duration_since(*last).as_secs_f64() / per_token;
            *tokens = (*tokens + refill).min(count);
            *last = now;
            if *tokens < 1.0 {
                let until = Duration::from_secs_f64((1.0 - *tokens) * per_token);
                wait = Some(wait.map_or(until, |w: Duration| w.max(until)));
            }
        }
        if wait.is_none() {
            for (quota, (tokens, _)) in self.config.quotas.iter().zip(buckets.iter_mut()) {
                if applies(quota) {
                    *tokens -= 1.0;
                }
            }
        }
        wait
    }
}

/// Every way `next` lets callers do more than `previous` did: an operation a caller can reach
/// now and could not, a quota removed, a quota that allows more per period.
fn widenings(previous: &Config, next: &Config) -> Vec<String> {
    let reach = |config: &Config, caller: &Caller| -> std::collections::BTreeSet<String> {
        caller
            .operations()
            .unwrap_or(&config.operations)
            .intersection(&config.operations)
            .cloned()
            .collect()
    };
    let mut changes = Vec::new();
    for caller in &next.callers {
        let now = reach(next, caller);
        let before: std::collections::BTreeSet<String> = previous
            .callers
            .iter()
            .filter(|c| c.name == caller.name)
            .flat_map(|c| reach(previous, c))
            .collect();
        let added: Vec<&str> = now.difference(&before).map(String::as_str).collect();
        if !added.is_empty() {
            changes.push(format!(
                "caller `{}` may now reach {}",
                caller.name,
                added.join(", ")
            ));
        }
    }
    let rate = |q: &Quota| f64::from(q.count) / q.period.as_secs_f64();
    for old in &previous.quotas {
        let same = |q: &&Quota| q.caller == old.caller && q.operation == old.operation;
        let what = match &old.operation {
            Some(op) => format!("`{}` on {op}", old.caller),
            None => format!("`{}`", old.caller),
        };
        match next.quotas.iter().find(same) {
            None => changes.push(format!("the quota of {what} was removed")),
            Some(new) if rate(new) > rate(old) || new.count > old.count => changes.push(format!(
                "the quota of {what} was raised from {}/{}s to {}/{}s",
                old.count,
                old.period.as_secs(),
                new.count,
                new.period.as_secs()
            )),
            Some(_) => {}
        }
    }
    changes
}

impl State {
    /// Takes over the buckets of `previous` whose quota (caller and operation) these settings
    /// have too, capped at the new count: a reload refills no bucket.
    fn keep_buckets_of(&self, previous: &State) {
        let old = previous
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut new = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (quota, bucket) in self.config.quotas.iter().zip(new.iter_mut()) {
            let kept = previous
                .config
                .quotas
                .iter()
                .zip(old.iter())
                .find(|(q, _)| q.caller == quota.caller && q.operation == quota.operation);
            if let Some((_, (tokens, last))) = kept {
                *bucket = (tokens.min(f64::from(quota.count)), *last);
            }
        }
    }
}

fn state(config: Config) -> std::io::Result<State> {
    let upstream = reqwest::Url::parse(&config.upstream).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the upstream is not a URL: {e}"),
        )
    })?;
    if !upstream.username().is_empty() || upstream.password().is_some() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the upstream URL must not carry a user name or password",
        ));
    }
    let host = upstream
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if upstream.scheme() == "http" && !loopback && !config.allow_insecure_upstream {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a plain http:// upstream off loopback would carry the Plaid secret unencrypted: use https, or PLAID_GATEWAY_ALLOW_INSECURE_UPSTREAM=on",
        ));
    }
    let invalid = |what: &str| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{what} cannot be sent as a header"),
        )
    };
    HeaderValue::from_str(&config.client_id).map_err(|_| invalid("the client id"))?;
    HeaderValue::from_str(config.secret.expose_secret()).map_err(|_| invalid("the secret"))?;
    let default_version =
        HeaderValue::from_str(&config.plaid_version).map_err(|_| invalid("the Plaid-Version"))?;
    let fixed_headers = [
        "content-type: application/json\r\n".to_string(),
        format!("plaid-client-id: {}\r\n", config.client_id),
        format!("plaid-secret: {}\r\n", config.secret.expose_secret()),
        concat!(
            "user-agent: plaid-gateway/",
            env!("CARGO_PKG_VERSION"),
            "\r\n"
        )
        .to_string(),
    ]
    .concat()
    .into_bytes()
    .into_boxed_slice();
    let target = upstream::Target::new(&config.upstream.parse::<http::Uri>().map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the upstream is not a URI: {e}"),
        )
    })?)?;
    let uris = config
        .operations
        .iter()
        .map(|op| {
            let uri = format!("{}{op}", config.upstream)
                .parse::<http::Uri>()
                .map_err(|e| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("the upstream URL of {op} is not a URI: {e}"),
                    )
                })?;
            let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
            Ok((op.clone(), path))
        })
        .collect::<std::io::Result<_>>()?;
    let http = (0..config.threads.max(1))
        .map(|_| upstream::Pool::new(target.clone()))
        .collect();
    let cors = cors(&config.cors_origins);
    let console_page = config
        .console
        .then(|| console::page(&config.path_prefix, &config.operations, &upstream));
    let now = Instant::now();
    Ok(State {
        cors,
        console_page,
        buckets: std::sync::Mutex::new(
            config
                .quotas
                .iter()
                .map(|q| (f64::from(q.count), now))
                .collect(),
        ),
        permits: Semaphore::new(config.concurrency),
        caller_permits: config
            .callers
            .iter()
            .map(|c| (c.name.clone(), Semaphore::new(config.caller_concurrency)))
            .collect(),
        quota_store: config
            .quota_store
            .clone()
            .map(|url| Arc::new(quota_store::QuotaStore::new(url))),
        config,
        http,
        uris,
        fixed_headers,
        default_version,
    })
}

type Reply = hyper::Response<Full<Bytes>>;

/// The most an upstream answer may hold; a longer one is cut and refused.
pub const MAX_UPSTREAM_BODY: usize = 64 * 1024 * 1024;

/// `YYYY-MM-DD`, the form of Plaid's API versions.
fn is_version_date(v: &[u8]) -> bool {
    v.len() == 10
        && v.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        })
}

/// The headers on every reply: the console's Content-Security-Policy, and nothing a browser
/// should sniff, cache or refer onwards (replies carry tokens).
const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("content-security-policy", console::CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("referrer-policy", "no-referrer"),
];

/// What serves each request that [`h1`] hands over: tower-http's layers set the security
/// headers on every reply,
/// around the settings' CORS layer (when origins are listed) and [`handle`]. Each request
/// takes the settings current when it arrives and keeps them until it ends.
fn service(
    settings: Settings,
    worker: usize,
) -> impl tower::Service<
    hyper::Request<Incoming>,
    Response = Reply,
    Error = Infallible,
    Future = impl Future<Output = Result<Reply, Infallible>> + Send,
> + Clone
+ Send {
    use tower_http::set_header::SetResponseHeaderLayer;
    let header = |(name, value): (&'static str, &'static str)| {
        SetResponseHeaderLayer::overriding(
            http::HeaderName::from_static(name),
            HeaderValue::from_static(value),
        )
    };
    let [csp, sniff, cache, referrer] = SECURITY_HEADERS;
    tower::ServiceBuilder::new()
        .layer(header(csp))
        .layer(header(sniff))
        .layer(header(cache))
        .layer(header(referrer))
        .service_fn(move |request: hyper::Request<Incoming>| {
            let state = settings.current();
            let settings = settings.clone();
            async move {
                let Some(cors) = &state.cors else {
                    return Ok(handle(&state, &settings, worker, request).await);
                };
                let inner = tower::service_fn(|request| async {
                    Ok::<_, Infallible>(handle(&state, &settings, worker, request).await)
                });
                tower::ServiceExt::oneshot(tower::Layer::layer(cors, inner), request).await
            }
        })
}

/// CORS, off unless origins are listed (tower-http's layer): a preflight is answered without a
/// caller token (browsers send none in it) and never reaches [`handle`]; replies to a listed
/// origin say so; any other origin gets no CORS header, so the browser keeps the reply from its
/// page.
fn cors(origins: &std::collections::BTreeSet<String>) -> Option<tower_http::cors::CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        tower_http::cors::CorsLayer::new()
            .allow_origin(tower_http::cors::AllowOrigin::list(
                origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()),
            ))
            .allow_methods([Method::POST])
            .allow_headers([
                http::header::CONTENT_TYPE,
                http::HeaderName::from_static(CALLER_HEADER),
                http::header::AUTHORIZATION,
                http::HeaderName::from_static("plaid-version"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// A request id of the gateway's own (`gw-` and 12 letters or digits), for its refusals.
fn gateway_request_id() -> String {
    format!(
        "gw-{}",
        (0..12)
            .map(|_| fastrand::alphanumeric())
            .collect::<String>()
    )
}

fn json(status: StatusCode, body: Bytes) -> Reply {
    let mut reply = hyper::Response::new(Full::new(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// The caller's token, from `x-gateway-token` or `Authorization: Bearer`.
fn caller_token(headers: &http::HeaderMap) -> Option<&str> {
    if let Some(token) = headers.get(CALLER_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(token);
    }
    bearer(headers.get(http::header::AUTHORIZATION)?.to_str().ok()?)
}

/// The token of an `Authorization: Bearer <token>` value.
fn bearer(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// The caller whose token this is. Every caller is checked, so the time taken does not say
/// which one matched.
fn authenticate<'c>(callers: &'c [Caller], token: Option<&str>) -> Option<&'c Caller> {
    let token = token?;
    callers.iter().fold(None, |found, caller| {
        if caller.matches(token) && found.is_none() {
            Some(caller)
        } else {
            found
        }
    })
}

/// The operation a request may reach: POST, no query, and a raw path that is exactly the
/// prefix plus an allowed operation. Nothing is decoded or normalized, so `..`, `//`, `%2f`
/// and other spellings simply do not match.
fn operation<'s>(state: &'s State, head: &Head<'_>) -> Option<(&'s str, &'s str)> {
    if head.method != "POST" || head.query {
        return None;
    }
    let rest = head.path.strip_prefix(state.config.path_prefix.as_str())?;
    state
        .uris
        .get_key_value(rest)
        .map(|(op, target)| (op.as_str(), target.as_str()))
}

/// How deep a forwarded body may nest (Plaid's requests nest a few levels).
const MAX_DEPTH: usize = 32;

/// The only bytes the gateway forwards: the caller's body parsed as one JSON object and
/// serialized anew, so that no spelling the gateway did not read can reach Plaid. Keys that
/// name a credential are removed however they were written: escaped (`"s\u0065cret"`), in
/// any case or with the Unicode letters that case-insensitive decoders fold into ASCII
/// (`ſ`, `K`), or repeated (the object keeps one of each key, the last). Objects and arrays
/// are rebuilt (keys unescaped and sorted, no white space); every other value (number, string,
/// `true`, `false`, `null`) goes on as the exact JSON text the caller wrote, so a 40-digit
/// integer, `-0` or `1e400` reaches Plaid unchanged, never rounded through a float. Anything
/// but a JSON object, or nested deeper than [`MAX_DEPTH`], is refused.
fn canonical_body(body: &[u8]) -> Result<Bytes, &'static str> {
    const NOT_AN_OBJECT: &str = "the body must be one JSON object";
    let fields: Fields<'_> = serde_json::from_slice(body).map_err(|_| NOT_AN_OBJECT)?;
    let mut map = Canonical::fields(fields, 1)?;
    map.retain(|(key, _)| !is_credential_key(&key.0));
    let mut out = Vec::with_capacity(body.len());
    serde_json::to_writer(&mut out, &Canonical::Object(map))
        .map_err(|_| "the body could not be serialized")?;
    Ok(Bytes::from(out))
}

/// An object's fields as parsed: each value still the caller's text.
type Fields<'a> = std::collections::BTreeMap<Key<'a>, &'a serde_json::value::RawValue>;

/// An object key: borrowed from the body unless it had escapes to undo.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a>(std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl serde::Serialize for Key<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A JSON value as the gateway forwards it: objects and arrays rebuilt, every other value
/// kept as the caller's exact text (already checked to be valid JSON by the parser).
enum Canonical<'a> {
    /// Fields sorted by key, each key once (as the parsed map gave them).
    Object(Vec<(Key<'a>, Canonical<'a>)>),
    Array(Vec<Canonical<'a>>),
    Leaf(&'a serde_json::value::RawValue),
}

impl<'a> Canonical<'a> {
    fn parse(raw: &'a serde_json::value::RawValue, depth: usize) -> Result<Self, &'static str> {
        const TOO_DEEP: &str = "the body is nested too deeply";
        const INVALID: &str = "the body must be one JSON object";
        match raw.get().as_bytes().first() {
            Some(b'{') | Some(b'[') if depth >= MAX_DEPTH => Err(TOO_DEEP),
            Some(b'{') => {
                let fields: Fields<'a> = serde_json::from_str(raw.get()).map_err(|_| INVALID)?;
                Canonical::fields(fields, depth + 1).map(Canonical::Object)
            }
            Some(b'[') => {
                let items: Vec<&'a serde_json::value::RawValue> =
                    serde_json::from_str(raw.get()).map_err(|_| INVALID)?;
                items
                    .into_iter()
                    .map(|item| Canonical::parse(item, depth + 1))
                    .collect::<Result<_, _>>()
                    .map(Canonical::Array)
            }
            _ => Ok(Canonical::Leaf(raw)),
        }
    }

    /// An object's fields, each value parsed at `depth`.
    fn fields(
        fields: Fields<'a>,
        depth: usize,
    ) -> Result<Vec<(Key<'a>, Canonical<'a>)>, &'static str> {
        fields
            .into_iter()
            .map(|(key, value)| Ok((key, Canonical::parse(value, depth)?)))
            .collect()
    }
}

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Canonical::Object(fields) => serializer.collect_map(fields.iter().map(|(k, v)| (k, v))),
            Canonical::Array(items) => serializer.collect_seq(items),
            Canonical::Leaf(raw) => raw.serialize(serializer),
        }
    }
}

/// Whether a key names a credential (`client_id`, `secret`) to a decoder that compares keys
/// case-insensitively, as Go's does (folding `ſ` to `s` and the Kelvin sign to `k`).
fn is_credential_key(key: &str) -> bool {
    let folded = || {
        key.trim().chars().map(|c| match c {
            '\u{17F}' => 's',
            '\u{212A}' => 'k',
            c => c.to_ascii_lowercase(),
        })
    };
    ["client_id", "secret", "clientid", "client-id"]
        .iter()
        .any(|name| folded().eq(name.chars()))
}

/// Serves one request that hyper read: `/healthz`, the console, or an API request.
async fn handle(
    state: &State,
    settings: &Settings,
    worker: usize,
    request: hyper::Request<Incoming>,
) -> Reply {
    let (parts, body) = request.into_parts();
    if parts.method == Method::GET && parts.uri.path() == "/healthz" {
        return json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#));
    }
    if let Some(page) = &state.console_page
        && let Some(reply) = console::serve(&parts.method, &parts.uri, page)
    {
        return reply;
    }
    let head = Head {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().is_some(),
        token: caller_token(&parts.headers),
        version: parts
            .headers
            .get("plaid-version")
            .map(HeaderValue::as_bytes),
    };
    api(state, settings, worker, &head, read_body(state, body))
        .await
        .into_reply()
}

/// What the steps of an API request read of its head.
struct Head<'r> {
    method: &'r str,
    /// The raw path, as sent (no query).
    path: &'r str,
    /// Whether a query followed the path.
    query: bool,
    /// The caller's token, from `x-gateway-token` or `Authorization: Bearer`.
    token: Option<&'r str>,
    /// The first `Plaid-Version` header.
    version: Option<&'r [u8]>,
}

/// An API request's reply, before it is written by either HTTP path.
struct Out {
    status: StatusCode,
    content_type: HeaderValue,
    body: Bytes,
    /// `Retry-After`, in seconds.
    retry_after: Option<u64>,
    /// Whether the connection closes after it.
    close: bool,
}

impl Out {
    fn into_reply(self) -> Reply {
        let mut reply = hyper::Response::new(Full::new(self.body));
        *reply.status_mut() = self.status;
        let headers = reply.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, self.content_type);
        if let Some(wait) = self.retry_after {
            headers.insert(http::header::RETRY_AFTER, HeaderValue::from(wait));
        }
        if self.close {
            headers.insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        reply
    }
}

/// One API request, whichever path read it: its reply, and its log line.
async fn api(
    state: &State,
    settings: &Settings,
    worker: usize,
    head: &Head<'_>,
    body: impl Future<Output = Result<Bytes, Refusal>>,
) -> Out {
    let started = Instant::now();
    let mut seen = Seen::default();
    match forward(state, settings, worker, head, body, &mut seen, started).await {
        Ok(out) => out,
        Err(refusal) => {
            let (out, request_id) = refusal.reply();
            log(&seen, head.path, out.status, started, Some(&request_id));
            out
        }
    }
}

/// What the steps of one request established, for its log line.
#[derive(Default)]
struct Seen<'s> {
    caller: Option<&'s Caller>,
    operation: Option<&'s str>,
}

/// The steps of one API request, each refusing in Plaid's shape: authenticate, authorize,
/// admit (quota), read the body, take slots, forward, answer. A refusal is logged by the
/// caller ([`api`]); a forwarded answer here, where Plaid's request id is at hand.
async fn forward<'s>(
    state: &'s State,
    settings: &Settings,
    worker: usize,
    head: &Head<'_>,
    body: impl Future<Output = Result<Bytes, Refusal>>,
    seen: &mut Seen<'s>,
    started: Instant,
) -> Result<Out, Refusal> {
    let presented = head.token.unwrap_or_default();
    let caller =
        authenticate(&state.config.callers, head.token).ok_or_else(Refusal::unauthenticated)?;
    seen.caller = Some(caller);
    let (operation, target) = operation(state, head)
        .filter(|(op, _)| caller.may_reach(op))
        .ok_or_else(Refusal::not_allowed)?;
    seen.operation = Some(operation);
    if let Some(wait) = state.quota(&caller.name, operation).await? {
        return Err(Refusal {
            retry_after: Some(wait),
            ..Refusal::of(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_EXCEEDED",
                "RATE_LIMIT",
                "this caller's quota at the gateway is spent; retry after the Retry-After delay",
            )
        });
    }
    let body = body.await?;
    // The settings may have changed while the body arrived: a token revoked (or an operation
    // withdrawn) meanwhile refuses the request now instead of forwarding it.
    let latest = settings.current();
    if !std::ptr::eq(&*latest, state) {
        let allowed = authenticate(&latest.config.callers, head.token)
            .ok_or_else(Refusal::unauthenticated)?;
        if crate::operation(&latest, head).is_none_or(|(op, _)| !allowed.may_reach(op)) {
            return Err(Refusal::not_allowed());
        }
    }
    // One slot of the caller's share, then one of the whole.
    let caller_slot = state
        .caller_permits
        .get(&caller.name)
        .and_then(|permits| permits.try_acquire().ok());
    let slot = match caller_slot {
        Some(_) => state.permits.try_acquire().ok(),
        None => None,
    };
    let (Some(_caller_slot), Some(_slot)) = (caller_slot, slot) else {
        return Err(Refusal::gateway(
            StatusCode::SERVICE_UNAVAILABLE,
            "OVERLOADED",
            "too many requests in flight; retry shortly",
        ));
    };
    let version = match head.version.filter(|v| !v.is_empty()) {
        None => state.default_version.as_bytes(),
        Some(v) if is_version_date(v) => v,
        Some(_) => {
            return Err(Refusal::gateway(
                StatusCode::BAD_REQUEST,
                "INVALID_PLAID_VERSION",
                "Plaid-Version must be an API version date such as 2020-09-14",
            ));
        }
    };
    // Only these headers go upstream: nothing the caller sent besides Plaid-Version.
    let deadline = tokio::time::Instant::now() + state.config.upstream_timeout;
    let headers: [&[u8]; 4] = [&state.fixed_headers, b"plaid-version: ", version, b"\r\n"];
    let answer = state.http[worker % state.http.len()]
        .post(target, &headers, &body, MAX_UPSTREAM_BODY, deadline)
        .await
        .map_err(|failure| {
            let (status, code, message) = upstream_failure(failure.timed_out, failure.answering);
            Refusal::gateway(status, code, message)
        })?;
    let upstream::Answer {
        status,
        content_type,
        body: bytes,
    } = answer;
    // An answer that repeats the gateway's secret (raw, escaped, encoded, or a run of 8 of its
    // characters: an upstream or proxy echoing the request) never reaches the caller.
    let secret = [state.config.secret.expose_secret()];
    let echoed =
        |text: &[u8]| plaid_sdk::redaction::repeats_secret(&String::from_utf8_lossy(text), &secret);
    if echoed(&bytes) || content_type.as_ref().is_some_and(|v| echoed(v.as_bytes())) {
        return Err(Refusal::gateway(
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_ANSWER_WITHHELD",
            "the upstream's answer repeated the gateway's credentials and was withheld",
        ));
    }
    // Logged only when it looks like Plaid's and repeats nothing secret: not the Plaid
    // secret, not the caller's token, not a run of what the caller sent (its access token).
    let sent = String::from_utf8_lossy(&body);
    let answer = serde_json::from_slice::<Answer<'_>>(&bytes).ok();
    let request_id = answer
        .as_ref()
        .and_then(|a| a.request_id.as_deref())
        .and_then(|id| {
            plaid_sdk::redaction::plaid_request_id(
                id,
                &[state.config.secret.expose_secret(), presented, &sent],
            )
        });
    log(seen, head.path, status, started, request_id);
    Ok(Out {
        status,
        content_type: content_type.unwrap_or_else(|| HeaderValue::from_static("application/json")),
        body: bytes,
        retry_after: None,
        close: false,
    })
}

/// Reads the caller's body within the body timeout and the size limit, as the canonical bytes
/// to forward. A slow body is a 408 that closes the connection.
async fn read_body(state: &State, body: Incoming) -> Result<Bytes, Refusal> {
    let read = Limited::new(body, state.config.max_body_bytes).collect();
    match tokio::time::timeout(state.config.body_timeout, read).await {
        Err(_) => Err(Refusal::body_timeout()),
        Ok(Err(e))
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(Refusal::gateway(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BODY_TOO_LARGE",
                "the request body is over the gateway's limit",
            ))
        }
        Ok(Err(_)) => Err(Refusal::unreadable_body()),
        Ok(Ok(collected)) => canonical_body(&collected.to_bytes()).map_err(Refusal::invalid_body),
    }
}

/// A request the gateway answers itself, in Plaid's error shape.
struct Refusal {
    status: StatusCode,
    error_type: &'static str,
    code: &'static str,
    message: &'static str,
    /// A `Retry-After`, for a spent quota.
    retry_after: Option<Duration>,
    /// Whether the connection is closed after the reply (a body that never came).
    close: bool,
}

impl Refusal {
    fn of(
        status: StatusCode,
        error_type: &'static str,
        code: &'static str,
        message: &'static str,
    ) -> Self {
        Refusal {
            status,
            error_type,
            code,
            message,
            retry_after: None,
            close: false,
        }
    }

    /// One of the gateway's own refusals (`GATEWAY_ERROR`).
    fn gateway(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Refusal::of(status, "GATEWAY_ERROR", code, message)
    }

    /// No caller token, or one these settings do not know (any more).
    fn unauthenticated() -> Self {
        Refusal::gateway(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "a valid caller token is required",
        )
    }

    /// A path outside the operations this caller may reach.
    fn not_allowed() -> Self {
        Refusal::gateway(
            StatusCode::FORBIDDEN,
            "OPERATION_NOT_ALLOWED",
            "this operation is not open to callers of this gateway",
        )
    }

    /// A body that is not one JSON object, or cannot be read.
    fn invalid_body(message: &'static str) -> Self {
        Refusal::of(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "INVALID_BODY",
            message,
        )
    }

    /// A body that did not arrive within the body timeout: the connection closes.
    fn body_timeout() -> Self {
        Refusal {
            close: true,
            ..Refusal::gateway(
                StatusCode::REQUEST_TIMEOUT,
                "BODY_TIMEOUT",
                "the request body did not arrive in time",
            )
        }
    }

    /// A body cut short, or malformed in its framing.
    fn unreadable_body() -> Self {
        Refusal::invalid_body(
            "the request body could not be read (malformed chunked encoding, or cut short)",
        )
    }

    /// The reply, and the request id it carries (for the log line).
    fn reply(self) -> (Out, String) {
        let request_id = gateway_request_id();
        let body = serde_json::json!({
            "error_type": self.error_type,
            "error_code": self.code,
            "error_message": self.message,
            "display_message": null,
            "request_id": request_id,
        });
        let out = Out {
            status: self.status,
            content_type: HeaderValue::from_static("application/json"),
            body: Bytes::from(body.to_string()),
            retry_after: self
                .retry_after
                .map(|wait| wait.as_secs_f64().ceil().max(1.0) as u64),
            close: self.close,
        };
        (out, request_id)
    }
}

/// The refusal for a forwarding that failed: timed out or not, before or while Plaid answered.
fn upstream_failure(timed_out: bool, answering: bool) -> (StatusCode, &'static str, &'static str) {
    match (timed_out, answering) {
        (true, false) => (
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
            "Plaid did not answer in time",
        ),
        (true, true) => (
            StatusCode::GATEWAY_TIMEOUT,
            "UPSTREAM_TIMEOUT",
            "Plaid did not finish answering in time",
        ),
        (false, false) => (
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNREACHABLE",
            "Plaid could not be reached",
        ),
        (false, true) => (
            StatusCode::BAD_GATEWAY,
            "UPSTREAM_UNREACHABLE",
            "the connection to Plaid failed mid-answer, or its answer was over the gateway's limit",
        ),
    }
}

/// The one field of an upstream answer the gateway reads (the rest is skipped unread).
#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow, default)]
    request_id: Option<std::borrow::Cow<'a, str>>,
}

/// The one log line of an API request. The path is the caller's, so it is logged escaped
/// (`Debug`: a newline or an escape code shows as `\n`, `\u{1b}`, never as itself); the caller
/// and operation are the gateway's own names; a request id is the gateway's, or Plaid's when
/// it looked like one.
fn log(
    seen: &Seen<'_>,
    path: &str,
    status: StatusCode,
    started: Instant,
    request_id: Option<&str>,
) {
    tracing::info!(
        target: REQUEST_LOG_TARGET,
        caller = seen.caller.map_or("-", |c| c.name.as_str()),
        operation = seen.operation.unwrap_or("-"),
        path = %Escaped(path),
        status = status.as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        request_id = request_id.unwrap_or("-"),
        "request"
    );
}

/// A caller's text as `Debug` shows it (quoted, every control character and quote escaped),
/// written straight through when nothing in it needs escaping.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self
            .0
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            write!(f, "\"{}\"", self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// Entry points for `cargo fuzz` (`fuzz/`), compiled only with `--cfg fuzzing`.
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing {
    /// Any bytes as a caller's body: refused, or turned into a body that is one JSON object,
    /// holds no credential key, and is its own canonical form (so nothing the gateway did not
    /// write reaches Plaid). Panics (what the fuzzer looks for) when one of those fails.
    pub fn body(bytes: &[u8]) {
        let Ok(canonical) = super::canonical_body(bytes) else {
            return;
        };
        // Read as raw values: a number such as 1e400 is valid JSON that no f64 holds.
        let parsed: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
            match serde_json::from_slice(&canonical) {
                Ok(map) => map,
                Err(e) => panic!("a canonical body that is not one JSON object: {e}"),
            };
        assert!(
            !parsed.keys().any(|k| super::is_credential_key(k)),
            "a credential key forwarded"
        );
        let again = super::canonical_body(&canonical).map_err(|e| e.to_string());
        assert_eq!(
            again.as_deref(),
            Ok(&canonical[..]),
            "not its own canonical form"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::new("http://127.0.0.1:1", "id", "secret", vec![]);
        c.path_prefix = "/plaid".into();
        c
    }

    #[test]
    fn a_reload_keeps_the_number_of_serving_threads_and_their_pools() {
        let mut first = config();
        first.threads = 3;
        let settings = Settings::new(first).expect("settings");
        let mut next = config();
        next.threads = 1;
        settings.reload(next).expect("reload");
        let current = settings.current();
        assert_eq!(current.config.threads, 3);
        assert_eq!(
            current.http.len(),
            3,
            "one upstream pool per running thread"
        );
    }

    #[test]
    fn bodies_nest_at_most_max_depth_levels() {
        let nested = |levels: usize| {
            format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels)).into_bytes()
        };
        assert!(canonical_body(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            canonical_body(&nested(MAX_DEPTH + 1)),
            Err("the body is nested too deeply")
        );
        let in_arrays = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_DEPTH),
            "]".repeat(MAX_DEPTH)
        );
        assert_eq!(
            canonical_body(in_arrays.as_bytes()),
            Err("the body is nested too deeply")
        );
    }

    #[test]
    fn logged_paths_read_as_debug_shows_them() {
        for path in [
            "/plaid/processor/token/create",
            "/a b",
            "/quote\"d",
            "/back\\slash",
            "/line\nbreak",
            "/esc\u{1b}[31m",
            "/del\u{7f}",
            "/caf\u{e9}",
            "/\u{202e}rtl",
            "",
        ] {
            assert_eq!(Escaped(path).to_string(), format!("{path:?}"), "{path:?}");
        }
    }

    #[test]
    fn only_exact_allowed_paths_match() {
        let c = state(config()).expect("state");
        let matched = |method: &str, target: &str| {
            let uri: http::Uri = target.parse().expect("uri");
            let head = Head {
                method,
                path: uri.path(),
                query: uri.query().is_some(),
                token: None,
                version: None,
            };
            operation(&c, &head).map(|(op, upstream)| (op.to_string(), upstream.to_string()))
        };
        let ok = |p: &str| matched("POST", p).is_some();
        assert_eq!(
            matched("POST", "/plaid/processor/token/create"),
            Some((
                "/processor/token/create".to_string(),
                "/processor/token/create".to_string()
            )),
            "the prefix is the gateway's own; upstream gets the operation's path"
        );
        for bad in [
            "/processor/token/create",
            "/plaid/processor/token/create/",
            "/plaid//processor/token/create",
            "/plaid/processor/token/../../item/remove",
            "/plaid/processor/token/create/../../../sandbox/public_token/create",
            "/plaid/processor%2Ftoken%2Fcreate",
            "/plaid/%70rocessor/token/create",
            "/plaid/PROCESSOR/TOKEN/CREATE",
            "/plaid/processor/token/create?x=1",
            "/plaid/institutions/get",
            "/plaidx/processor/token/create",
        ] {
            assert!(!ok(bad), "{bad} must not match");
        }
        assert!(matched("GET", "/plaid/accounts/get").is_none());
    }

    #[test]
    fn bodies_are_forwarded_as_the_gateway_serialized_them_without_credentials() {
        let canonical = |raw: &str| canonical_body(raw.as_bytes());
        assert_eq!(
            &canonical(r#"{"client_id":"x","secret":"y","access_token":"a"}"#).expect("ok")[..],
            br#"{"access_token":"a"}"#
        );
        // Escaped, in other cases, folded, repeated: all gone.
        for raw in [
            r#"{"s\u0065cret":"y","access_token":"a"}"#,
            r#"{"SECRET":"y","access_token":"a"}"#,
            r#"{"Client_ID":"x","access_token":"a"}"#,
            "{\"\u{17F}ecret\":\"y\",\"access_token\":\"a\"}",
            r#"{"secret":"y","secret":"z","access_token":"a"}"#,
            r#"{" secret ":"y","access_token":"a"}"#,
        ] {
            assert_eq!(
                &canonical(raw).expect("object")[..],
                br#"{"access_token":"a"}"#,
                "{raw}"
            );
        }
        // Whitespace and key order as the gateway writes them, nothing the caller chose.
        assert_eq!(
            &canonical(" {\n \"access_token\" : \"a\" } ").expect("ok")[..],
            br#"{"access_token":"a"}"#
        );
        for bad in ["", "secret but not json", "[]", "\"text\"", "{} {}", "null"] {
            assert!(canonical(bad).is_err(), "{bad:?} refused");
        }
        // Numbers and other leaves go on as written: nothing rounded through a float.
        let exact = r#"{"big":1234567890123456789012345678901234567890,"u":18446744073709551616,"neg":-0,"e":1e400,"f":0.1000000000000000055511151231257827,"s":"\u00e9","b":[true,null,-12.50E+3]}"#;
        assert_eq!(
            std::str::from_utf8(&canonical(exact).expect("ok")).expect("utf-8"),
            r#"{"b":[true,null,-12.50E+3],"big":1234567890123456789012345678901234567890,"e":1e400,"f":0.1000000000000000055511151231257827,"neg":-0,"s":"\u00e9","u":18446744073709551616}"#
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(40), "]".repeat(40));
        assert!(canonical(&deep).is_err(), "nesting is bounded");
        let fine = format!("{{\"a\":{}{}}}", "[".repeat(8), "]".repeat(8));
        assert!(canonical(&fine).is_ok());
    }

    #[test]
    fn a_plain_http_upstream_off_loopback_is_refused_unless_allowed() {
        for loopback in [
            "http://127.0.0.1:9",
            "http://127.8.0.1:9",
            "http://[::1]:9",
            "http://localhost:9",
        ] {
            let mut c = config();
            c.upstream = loopback.into();
            assert!(state(c).is_ok(), "{loopback}");
        }
        let mut remote = config();
        remote.upstream = "http://plaid.internal.example".into();
        let e = state(remote.clone()).err().expect("refused");
        assert!(e.to_string().contains("unencrypted"), "{e}");
        remote.allow_insecure_upstream = true;
        assert!(state(remote).is_ok(), "allowed when asked");
        let mut tls = config();
        tls.upstream = "https://plaid.internal.example".into();
        assert!(state(tls).is_ok());
    }

    #[test]
    fn every_widening_of_access_is_named() {
        let caller = |name: &str| Caller::new(name, &hash_token(name)).expect("caller");
        let mut before = config();
        before.callers = vec![
            caller("notebook").with_operations(["/accounts/get".to_string()]),
            caller("web"),
        ];
        before.quotas = vec![
            Quota::parse("notebook=10/min").expect("quota"),
            Quota::parse("web:/item/remove=1/min").expect("quota"),
        ];
        assert!(
            widenings(&before, &before).is_empty(),
            "no change, nothing said"
        );
        let mut after = before.clone();
        after.callers = vec![caller("notebook"), caller("web")];
        after.quotas = vec![Quota::parse("notebook=20/min").expect("quota")];
        let changes = widenings(&before, &after);
        assert_eq!(changes.len(), 3, "{changes:?}");
        assert!(
            changes[0].starts_with("caller `notebook` may now reach "),
            "{changes:?}"
        );
        assert!(changes[0].contains("/item/remove"), "{changes:?}");
        assert!(
            changes
                .contains(&"the quota of `notebook` was raised from 10/60s to 20/60s".to_string()),
            "{changes:?}"
        );
        assert!(
            changes.contains(&"the quota of `web` on /item/remove was removed".to_string()),
            "{changes:?}"
        );
        // Narrowing says nothing.
        assert!(widenings(&after, &before).is_empty());
    }

    #[test]
    fn accept_failures_back_off_to_a_cap_and_recover() {
        let mut backoff = AcceptBackoff::default();
        assert!(!backoff.recovered(), "no outage yet");
        let delays: Vec<(Duration, bool)> = (0..10).map(|_| backoff.failed()).collect();
        let ms = Duration::from_millis;
        assert_eq!(delays[0], (ms(10), true), "the first failure of an outage");
        assert_eq!(delays[1], (ms(20), false));
        assert_eq!(delays[6], (ms(640), false));
        assert!(
            delays[7..].iter().all(|(d, _)| *d == ms(1000)),
            "{delays:?}"
        );
        assert!(backoff.recovered(), "a success ends the outage");
        assert_eq!(backoff.failed(), (ms(10), true), "and the next starts over");
    }

    #[test]
    fn callers_are_found_by_token() {
        let callers = vec![
            Caller::new("a", &hash_token("ta")).expect("a"),
            Caller::new("b", &hash_token("tb")).expect("b"),
        ];
        assert_eq!(
            authenticate(&callers, Some("tb")).map(|c| c.name.as_str()),
            Some("b")
        );
        assert!(authenticate(&callers, Some("tc")).is_none());
        assert!(authenticate(&callers, None).is_none());
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Bearer ta"),
        );
        assert_eq!(caller_token(&headers), Some("ta"));
    }
}
