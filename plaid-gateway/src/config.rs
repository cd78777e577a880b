//! The gateway's configuration: from the environment, a `KEY=VALUE` file, or both (the
//! environment wins). Every problem is reported, one line each, before anything starts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use plaid_sdk::ClientSecret;
use sha2::{Digest, Sha256};

/// The most serving threads [`Config::threads`] may ask for.
pub const MAX_THREADS: usize = 1024;

/// One serving thread per core the process may run on (its CPU affinity and quota), at
/// least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// The operations callers may reach unless configured otherwise: the paths of every
/// operation plaid-sdk knows ([`plaid_sdk::OPERATIONS`], generated from the spec).
pub fn default_operations() -> BTreeSet<String> {
    plaid_sdk::OPERATIONS
        .iter()
        .map(|op| op.path.to_string())
        .collect()
}

/// Every setting, with its variable name.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "PLAID_GATEWAY_UPSTREAM",
        "sandbox (default), production, or an http(s) URL",
    ),
    ("PLAID_CLIENT_ID", "the Plaid client id (required)"),
    (
        "PLAID_SECRET",
        "the Plaid secret (this or PLAID_SECRET_FILE is required)",
    ),
    (
        "PLAID_SECRET_FILE",
        "a file holding the secret; refused when others may read it",
    ),
    (
        "PLAID_GATEWAY_CALLERS",
        "callers as name=sha256hex pairs, comma-separated; a name listed twice has two tokens (rotation) (required)",
    ),
    (
        "PLAID_GATEWAY_CALLER_OPERATIONS",
        "per caller, the only paths it may reach: name=/a|/b;name2=/c (default: all allowed)",
    ),
    (
        "PLAID_GATEWAY_QUOTAS",
        "rate limits per gateway instance: name=120/min;name:/path=10/s (per s, min or h)",
    ),
    (
        "PLAID_GATEWAY_QUOTA_STORE",
        "redis://HOST:PORT/DB: quotas shared by every instance through Redis (default: each instance counts its own)",
    ),
    (
        "PLAID_GATEWAY_QUOTA_STORE_FAILURE",
        "when the quota store is slow or unreachable: local (default; this instance's buckets at its share) or closed (503)",
    ),
    (
        "PLAID_GATEWAY_QUOTA_STORE_TIMEOUT_MS",
        "the longest a request waits on the quota store (default 5)",
    ),
    (
        "PLAID_GATEWAY_INSTANCES",
        "how many instances share the quotas; each falls back to its share of them (default 1)",
    ),
    (
        "PLAID_GATEWAY_CORS_ORIGINS",
        "browser origins allowed to call across origins, comma-separated (default: none)",
    ),
    (
        "PLAID_GATEWAY_LISTEN",
        "the listen address (default 127.0.0.1:8080)",
    ),
    (
        "PLAID_GATEWAY_OPERATIONS",
        "comma-separated paths callers may reach (default: the SDK's)",
    ),
    (
        "PLAID_GATEWAY_PATH_PREFIX",
        "a prefix callers put before each path, such as /plaid",
    ),
    (
        "PLAID_GATEWAY_PLAID_VERSION",
        "Plaid-Version when the caller sends none (default 2020-09-14)",
    ),
    (
        "PLAID_GATEWAY_MAX_BODY_BYTES",
        "the largest request body (default 65536)",
    ),
    (
        "PLAID_GATEWAY_UPSTREAM_TIMEOUT_SECS",
        "how long to wait for Plaid (default 30)",
    ),
    (
        "PLAID_GATEWAY_CONCURRENCY",
        "requests forwarded at once before refusing with 503 (default 256)",
    ),
    (
        "PLAID_GATEWAY_CALLER_CONCURRENCY",
        "requests one caller may have in flight before its next is refused with 503 (default half of PLAID_GATEWAY_CONCURRENCY)",
    ),
    (
        "PLAID_GATEWAY_MAX_CONNECTIONS",
        "connections open at once; further ones wait in the kernel's queue (default 1024)",
    ),
    (
        "PLAID_GATEWAY_THREADS",
        "threads serving connections, each with its own event loop and upstream connections (default one per core the process may run on; read at start, not on SIGHUP)",
    ),
    (
        "PLAID_GATEWAY_HEADER_TIMEOUT_SECS",
        "how long a connection may take to send a request's headers, or stay idle between requests, before it is closed (default 10)",
    ),
    (
        "PLAID_GATEWAY_BODY_TIMEOUT_SECS",
        "how long a request's body may take to arrive before 408 (default 10)",
    ),
    (
        "PLAID_GATEWAY_ALLOW_INSECURE_UPSTREAM",
        "on allows a plain http:// upstream off loopback, which would carry the secret unencrypted (default off)",
    ),
    (
        "PLAID_GATEWAY_CONSOLE",
        "on (default) serves the Try-it console at GET /console; off turns it off",
    ),
];

/// A caller: a name for the logs and the SHA-256 of its token.
#[derive(Clone)]
pub struct Caller {
    /// The name logged for its requests.
    pub name: String,
    digest: [u8; 32],
    /// The operations this caller may reach, when narrower than the gateway's list.
    operations: Option<BTreeSet<String>>,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// A caller whose token hashes to `sha256_hex`.
    pub fn new(name: impl Into<String>, sha256_hex: &str) -> Option<Caller> {
        let hex = sha256_hex.trim();
        if hex.len() != 64 {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Caller {
            name: name.into(),
            digest,
            operations: None,
        })
    }

    /// This caller may reach only these operations (paths such as `/accounts/get`), of those
    /// the gateway allows at all.
    pub fn with_operations(mut self, operations: impl IntoIterator<Item = String>) -> Caller {
        self.operations = Some(operations.into_iter().collect());
        self
    }

    /// The operations this caller is limited to, if any.
    pub(crate) fn operations(&self) -> Option<&BTreeSet<String>> {
        self.operations.as_ref()
    }

    /// Whether this caller may call `operation` (a path of the gateway's list).
    pub fn may_reach(&self, operation: &str) -> bool {
        self.operations
            .as_ref()
            .is_none_or(|ops| ops.contains(operation))
    }

    /// Whether `token` is this caller's, compared in constant time.
    pub fn matches(&self, token: &str) -> bool {
        let presented = Sha256::digest(token.as_bytes());
        presented
            .iter()
            .zip(self.digest.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// The hex SHA-256 of a caller token, as the configuration stores it.
pub fn hash_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The gateway's settings.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// Where requests are forwarded, without a trailing slash.
    pub upstream: String,
    /// The Plaid client id injected.
    pub client_id: String,
    /// The Plaid secret injected.
    pub secret: ClientSecret,
    /// Who may call.
    pub callers: Vec<Caller>,
    /// The listen address.
    pub listen: SocketAddr,
    /// The paths callers may reach.
    pub operations: BTreeSet<String>,
    /// A prefix before each path (empty for none).
    pub path_prefix: String,
    /// `Plaid-Version` when the caller sends none.
    pub plaid_version: String,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// How long to wait for upstream.
    pub upstream_timeout: Duration,
    /// Requests forwarded at once.
    pub concurrency: usize,
    /// Requests one caller may have forwarded at once, so that no caller takes every slot.
    pub caller_concurrency: usize,
    /// Connections open at once; the accept loops wait for one to close beyond this.
    pub max_connections: usize,
    /// Threads serving connections, each running its own single-threaded event loop: a
    /// connection stays on the thread that accepted it, with that thread's upstream
    /// connections, so no request's work crosses threads. Read when serving starts; a reload
    /// does not change it.
    pub threads: usize,
    /// How long a connection may take to send a request's headers, or stay idle between
    /// requests, before it is closed.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive (a 408 after it).
    pub body_timeout: Duration,
    /// Whether a plain `http://` upstream off loopback is allowed (it would carry the secret
    /// unencrypted); off unless set.
    pub allow_insecure_upstream: bool,
    /// Rate limits per caller, or per caller and operation.
    pub quotas: Vec<Quota>,
    /// Where quotas are counted for every instance together (`redis://HOST:PORT/DB`); `None`:
    /// each instance counts its own.
    pub quota_store: Option<QuotaStoreUrl>,
    /// What a request gets when the quota store does not answer in time.
    pub quota_store_failure: QuotaStoreFailure,
    /// The longest a request waits on the quota store.
    pub quota_store_timeout: Duration,
    /// How many instances share the quotas: with the store unreachable (and
    /// [`QuotaStoreFailure::Local`]), each instance allows its share.
    pub instances: u32,
    /// Browser origins allowed to call across origins (CORS); none by default.
    pub cors_origins: BTreeSet<String>,
    /// Whether the Try-it console is served at `GET /console` (on by default).
    pub console: bool,
}

/// A rate limit: at most `count` requests per `period` for one caller (of one operation, when
/// set), as a token bucket that holds `count` and refills evenly over `period`. Limits are per
/// gateway instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quota {
    /// The caller's name.
    pub caller: String,
    /// The operation (path), or every operation when `None`.
    pub operation: Option<String>,
    /// How many requests the bucket holds.
    pub count: u32,
    /// How long the bucket takes to refill from empty.
    pub period: Duration,
}

impl Quota {
    /// Parses `name=120/min` or `name:/path=10/s` (`/s`, `/min`, `/h`).
    pub fn parse(entry: &str) -> Result<Quota, String> {
        let bad = || format!("`{entry}` is not name=N/min or name:/path=N/s (per s, min or h)");
        let (who, rate) = entry.split_once('=').ok_or_else(bad)?;
        let (caller, operation) = match who.split_once(':') {
            Some((caller, op)) => (caller.trim(), Some(op.trim().to_string())),
            None => (who.trim(), None),
        };
        let (count, per) = rate.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count
            .trim()
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(bad)?;
        let period = match per.trim() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            _ => return Err(bad()),
        };
        if caller.is_empty() || operation.as_deref().is_some_and(|op| !is_plain_path(op)) {
            return Err(bad());
        }
        Ok(Quota {
            caller: caller.to_string(),
            operation,
            count,
            period,
        })
    }
}

impl Config {
    /// A configuration for tests and embedding: everything at its default but what is given.
    pub fn new(upstream: &str, client_id: &str, secret: &str, callers: Vec<Caller>) -> Config {
        Config {
            upstream: upstream.trim_end_matches('/').to_string(),
            client_id: client_id.into(),
            secret: ClientSecret::new(secret),
            callers,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            operations: default_operations(),
            path_prefix: String::new(),
            plaid_version: "2020-09-14".into(),
            max_body_bytes: 64 * 1024,
            upstream_timeout: Duration::from_secs(30),
            concurrency: 256,
            caller_concurrency: 128,
            max_connections: 1024,
            threads: default_threads(),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            allow_insecure_upstream: false,
            quotas: Vec::new(),
            quota_store: None,
            quota_store_failure: QuotaStoreFailure::Local,
            quota_store_timeout: Duration::from_millis(5),
            instances: 1,
            cors_origins: BTreeSet::new(),
            console: true,
        }
    }

    /// Reads the configuration from `lookup` (the environment, say), with `file` (the
    /// contents of a `KEY=VALUE` file) beneath it. Every problem is one line of the error.
    pub fn load(
        lookup: impl Fn(&str) -> Option<String>,
        file: Option<&str>,
    ) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let mut from_file = BTreeMap::new();
        if let Some(text) = file {
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                match line.split_once('=') {
                    Some((k, v)) if VARIABLES.iter().any(|(name, _)| *name == k.trim()) => {
                        from_file.insert(k.trim().to_string(), v.trim().to_string());
                    }
                    Some((k, _)) => problems.push(format!(
                        "config file line {}: unknown setting {}",
                        n + 1,
                        k.trim()
                    )),
                    None => {
                        problems.push(format!("config file line {}: expected KEY=VALUE", n + 1))
                    }
                }
            }
        }
        let get = |name: &str| {
            lookup(name)
                .or_else(|| from_file.get(name).cloned())
                .filter(|v| !v.trim().is_empty())
        };
        // A setting given with no value is a mistake (a line cut short, a variable left
        // empty), never a way to ask for the default: the default of some settings is wider
        // access than any value.
        for (name, _) in VARIABLES {
            let given = lookup(name).or_else(|| from_file.get(*name).cloned());
            if given.is_some_and(|v| v.trim().is_empty()) {
                problems.push(format!(
                    "{name} is set but empty: give it a value, or remove it to use the default"
                ));
            }
        }

        let upstream = match get("PLAID_GATEWAY_UPSTREAM").as_deref().map(str::trim) {
            None | Some("sandbox") => "https://sandbox.plaid.com".to_string(),
            Some("production") => "https://production.plaid.com".to_string(),
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                match reqwest::Url::parse(url) {
                    Ok(parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
                        // Not repeated: the password would reach the log.
                        problems.push(
                            "PLAID_GATEWAY_UPSTREAM must not carry a user name or password".into(),
                        );
                        String::new()
                    }
                    Ok(_) => url.trim_end_matches('/').to_string(),
                    Err(_) => {
                        problems.push("PLAID_GATEWAY_UPSTREAM is not a URL".into());
                        String::new()
                    }
                }
            }
            Some(_) => {
                problems.push(
                    "PLAID_GATEWAY_UPSTREAM must be sandbox, production or an http(s) URL".into(),
                );
                String::new()
            }
        };
        let client_id = get("PLAID_CLIENT_ID").unwrap_or_else(|| {
            problems.push("PLAID_CLIENT_ID is not set".into());
            String::new()
        });
        let secret = match (get("PLAID_SECRET"), get("PLAID_SECRET_FILE")) {
            (Some(_), Some(_)) => {
                problems.push("set PLAID_SECRET or PLAID_SECRET_FILE, not both".into());
                String::new()
            }
            (Some(secret), None) => secret.trim().to_string(),
            (None, Some(path)) => match read_secret_file(Path::new(path.trim())) {
                Ok(secret) => secret,
                Err(problem) => {
                    problems.push(problem);
                    String::new()
                }
            },
            (None, None) => {
                problems.push("PLAID_SECRET or PLAID_SECRET_FILE must be set".into());
                String::new()
            }
        };
        let mut callers = Vec::new();
        match get("PLAID_GATEWAY_CALLERS") {
            None => problems
                .push("PLAID_GATEWAY_CALLERS is not set: no caller could be authenticated".into()),
            Some(list) => {
                for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                    match entry
                        .split_once('=')
                        .and_then(|(name, hex)| Caller::new(name.trim(), hex))
                    {
                        Some(caller) if !caller.name.is_empty() => callers.push(caller),
                        _ => problems.push(format!(
                            "PLAID_GATEWAY_CALLERS: `{}` is not name=<64 hex digits of SHA-256>",
                            entry.split_once('=').map_or(entry, |(name, _)| name)
                        )),
                    }
                }
            }
        }
        let listen = match get("PLAID_GATEWAY_LISTEN") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(addr) => addr.trim().parse().unwrap_or_else(|_| {
                problems.push(format!(
                    "PLAID_GATEWAY_LISTEN `{addr}` is not an address such as 127.0.0.1:8080"
                ));
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
        };
        let operations: BTreeSet<String> = match get("PLAID_GATEWAY_OPERATIONS") {
            None => default_operations(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        };
        for op in &operations {
            if !is_plain_path(op) {
                problems.push(format!(
                    "PLAID_GATEWAY_OPERATIONS: `{op}` is not a path such as /accounts/get"
                ));
            }
        }
        if let Some(list) = get("PLAID_GATEWAY_CALLER_OPERATIONS") {
            for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
                let Some((name, paths)) = entry.split_once('=') else {
                    problems.push(format!(
                        "PLAID_GATEWAY_CALLER_OPERATIONS: `{entry}` is not name=/path|/path"
                    ));
                    continue;
                };
                let name = name.trim();
                let paths: BTreeSet<String> = paths
                    .split('|')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect();
                if paths.is_empty() {
                    problems.push(format!(
                        "PLAID_GATEWAY_CALLER_OPERATIONS: `{name}` lists no operation (remove the caller from PLAID_GATEWAY_CALLERS to shut it out)"
                    ));
                    continue;
                }
                for path in &paths {
                    if !operations.contains(path) {
                        problems.push(format!(
                            "PLAID_GATEWAY_CALLER_OPERATIONS: `{path}` for `{name}` is not among the gateway's operations"
                        ));
                    }
                }
                let mut found = false;
                for caller in callers.iter_mut().filter(|c| c.name == name) {
                    caller.operations = Some(paths.clone());
                    found = true;
                }
                if !found {
                    problems.push(format!(
                        "PLAID_GATEWAY_CALLER_OPERATIONS: `{name}` is not a caller of PLAID_GATEWAY_CALLERS"
                    ));
                }
            }
        }
        let mut quotas = Vec::new();
        for entry in get("PLAID_GATEWAY_QUOTAS")
            .unwrap_or_default()
            .split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            match Quota::parse(entry) {
                Ok(quota) if !callers.iter().any(|c| c.name == quota.caller) => {
                    problems.push(format!(
                        "PLAID_GATEWAY_QUOTAS: `{}` is not a caller of PLAID_GATEWAY_CALLERS",
                        quota.caller
                    ));
                }
                Ok(quota) => quotas.push(quota),
                Err(why) => problems.push(format!("PLAID_GATEWAY_QUOTAS: {why}")),
            }
        }
        let mut cors_origins = BTreeSet::new();
        for origin in get("PLAID_GATEWAY_CORS_ORIGINS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
        {
            // An origin is a scheme and a host (and port): no path, no wildcard.
            let valid = reqwest::Url::parse(origin).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.origin().ascii_serialization() == origin
            });
            if valid {
                cors_origins.insert(origin.to_string());
            } else {
                problems.push(format!(
                    "PLAID_GATEWAY_CORS_ORIGINS: `{origin}` is not an origin such as https://app.example.com"
                ));
            }
        }
        let path_prefix = get("PLAID_GATEWAY_PATH_PREFIX")
            .map(|p| p.trim().trim_end_matches('/').to_string())
            .unwrap_or_default();
        if !path_prefix.is_empty() && !is_plain_path(&path_prefix) {
            problems.push("PLAID_GATEWAY_PATH_PREFIX must be a path such as /plaid".into());
        }
        let number = |name: &str, default: u64, problems: &mut Vec<String>| -> u64 {
            match get(name) {
                None => default,
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        problems.push(format!("{name} must be a whole number above zero"));
                        default
                    }
                },
            }
        };
        let max_body_bytes =
            number("PLAID_GATEWAY_MAX_BODY_BYTES", 64 * 1024, &mut problems) as usize;
        let upstream_timeout = Duration::from_secs(number(
            "PLAID_GATEWAY_UPSTREAM_TIMEOUT_SECS",
            30,
            &mut problems,
        ));
        let concurrency = number("PLAID_GATEWAY_CONCURRENCY", 256, &mut problems) as usize;
        let caller_concurrency = number(
            "PLAID_GATEWAY_CALLER_CONCURRENCY",
            (concurrency as u64 / 2).max(1),
            &mut problems,
        ) as usize;
        let max_connections = number("PLAID_GATEWAY_MAX_CONNECTIONS", 1024, &mut problems) as usize;
        let threads = number(
            "PLAID_GATEWAY_THREADS",
            default_threads() as u64,
            &mut problems,
        ) as usize;
        if threads > MAX_THREADS {
            problems.push(format!(
                "PLAID_GATEWAY_THREADS must be at most {MAX_THREADS}"
            ));
        }
        let header_timeout = Duration::from_secs(number(
            "PLAID_GATEWAY_HEADER_TIMEOUT_SECS",
            10,
            &mut problems,
        ));
        let body_timeout =
            Duration::from_secs(number("PLAID_GATEWAY_BODY_TIMEOUT_SECS", 10, &mut problems));
        let allow_insecure_upstream = match get("PLAID_GATEWAY_ALLOW_INSECURE_UPSTREAM")
            .as_deref()
            .map(str::trim)
        {
            None | Some("off") => false,
            Some("on") => true,
            Some(_) => {
                problems.push("PLAID_GATEWAY_ALLOW_INSECURE_UPSTREAM must be `on` or `off`".into());
                false
            }
        };
        let console = match get("PLAID_GATEWAY_CONSOLE").as_deref().map(str::trim) {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => {
                problems.push("PLAID_GATEWAY_CONSOLE must be `on` or `off`".into());
                true
            }
        };
        let quota_store = match get("PLAID_GATEWAY_QUOTA_STORE") {
            None => None,
            Some(url) => {
                let parsed = QuotaStoreUrl::new(url.trim());
                if parsed.is_none() {
                    problems.push(
                        "PLAID_GATEWAY_QUOTA_STORE must be a redis://HOST:PORT/DB URL".into(),
                    );
                }
                parsed
            }
        };
        let quota_store_failure = match get("PLAID_GATEWAY_QUOTA_STORE_FAILURE")
            .as_deref()
            .map(str::trim)
        {
            None | Some("local") => QuotaStoreFailure::Local,
            Some("closed") => QuotaStoreFailure::Closed,
            Some(_) => {
                problems
                    .push("PLAID_GATEWAY_QUOTA_STORE_FAILURE must be `local` or `closed`".into());
                QuotaStoreFailure::Local
            }
        };
        let quota_store_timeout = Duration::from_millis(number(
            "PLAID_GATEWAY_QUOTA_STORE_TIMEOUT_MS",
            5,
            &mut problems,
        ));
        let instances =
            u32::try_from(number("PLAID_GATEWAY_INSTANCES", 1, &mut problems)).unwrap_or(u32::MAX);
        let plaid_version = get("PLAID_GATEWAY_PLAID_VERSION")
            .unwrap_or_else(|| "2020-09-14".into())
            .trim()
            .to_string();

        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Config {
            upstream,
            client_id: client_id.trim().to_string(),
            secret: ClientSecret::new(secret),
            callers,
            listen,
            operations,
            path_prefix,
            plaid_version,
            max_body_bytes,
            upstream_timeout,
            concurrency,
            caller_concurrency,
            max_connections,
            threads: threads.min(MAX_THREADS),
            header_timeout,
            body_timeout,
            allow_insecure_upstream,
            quotas,
            quota_store,
            quota_store_failure,
            quota_store_timeout,
            instances,
            cors_origins,
            console,
        })
    }
}

/// What a request gets when the quota store is slow or unreachable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaStoreFailure {
    /// This instance's own buckets decide, at its share ([`Config::instances`]) of each quota.
    Local,
    /// A Plaid-shaped 503 `QUOTA_STORE_UNAVAILABLE`.
    Closed,
}

/// The quota store's URL (`redis://[USER:PASSWORD@]HOST:PORT/DB`); its `Debug` hides the
/// credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct QuotaStoreUrl(String);

impl QuotaStoreUrl {
    /// `url`, if it names a Redis server (`redis://` and a host).
    pub fn new(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("redis://")?;
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        (!host.is_empty()
            && !host.starts_with('/')
            && !url.contains(|c: char| c.is_whitespace() || c.is_control()))
        .then(|| QuotaStoreUrl(url.to_string()))
    }

    /// The URL itself, credentials included.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for QuotaStoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rest = self.0.strip_prefix("redis://").unwrap_or_default();
        match rest.rsplit_once('@') {
            Some((_, host)) => write!(f, "redis://[redacted]@{host}"),
            None => write!(f, "redis://{rest}"),
        }
    }
}

/// `/a/b_c`: lowercase segments of letters, digits and underscores, nothing else.
pub(crate) fn is_plain_path(path: &str) -> bool {
    path.len() > 1
        && path.starts_with('/')
        && path[1..].split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Reads the secret file, refusing one that anyone but its owner (and group) may read.
fn read_secret_file(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let metadata =
        std::fs::metadata(path).map_err(|e| format!("PLAID_SECRET_FILE {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if metadata.permissions().mode() & 0o004 != 0 {
            return Err(format!(
                "PLAID_SECRET_FILE {shown} is readable by everyone; chmod o-r it first"
            ));
        }
    }
    let _ = metadata;
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("PLAID_SECRET_FILE {shown}: {e}"))?;
    let secret = text.trim().to_string();
    if secret.is_empty() {
        return Err(format!("PLAID_SECRET_FILE {shown} is empty"));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn good() -> Vec<(&'static str, String)> {
        vec![
            ("PLAID_CLIENT_ID", "id".to_string()),
            ("PLAID_SECRET", "s3cret-value".to_string()),
            (
                "PLAID_GATEWAY_CALLERS",
                format!("web={}", hash_token("tok")),
            ),
        ]
    }

    #[test]
    fn defaults_and_callers() {
        let g = good();
        let pairs: Vec<(&str, &str)> = g.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = Config::load(vars(&pairs), None).expect("valid");
        assert_eq!(config.upstream, "https://sandbox.plaid.com");
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.operations.len(), plaid_sdk::OPERATIONS.len());
        assert!(config.operations.contains("/link/token/create"));
        assert!(config.callers[0].matches("tok"));
        assert!(!config.callers[0].matches("tok2"));
        assert!(!format!("{config:?}").contains("s3cret-value"));
    }

    #[test]
    fn a_setting_given_empty_is_refused_never_read_as_its_default() {
        let g = good();
        let base: Vec<(&str, &str)> = g.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for name in [
            "PLAID_GATEWAY_CALLER_OPERATIONS",
            "PLAID_GATEWAY_OPERATIONS",
            "PLAID_GATEWAY_QUOTAS",
            "PLAID_GATEWAY_CONSOLE",
        ] {
            let mut pairs = base.clone();
            pairs.push((name, " "));
            let problems = Config::load(vars(&pairs), None).expect_err(name);
            assert!(
                problems
                    .iter()
                    .any(|p| p.starts_with(name) && p.contains("empty")),
                "{name}: {problems:?}"
            );
            // The same line, cut short in a settings file.
            let file = format!("{name}=\n");
            let problems = Config::load(vars(&base), Some(&file)).expect_err(name);
            assert!(problems.iter().any(|p| p.contains("empty")), "{problems:?}");
        }
        let mut pairs = base.clone();
        pairs.push(("PLAID_GATEWAY_CALLER_OPERATIONS", "web="));
        let problems = Config::load(vars(&pairs), None).expect_err("no operation listed");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("`web` lists no operation")),
            "{problems:?}"
        );
    }

    #[test]
    fn an_upstream_with_credentials_in_it_is_refused_without_repeating_them() {
        let problems = Config::load(
            vars(&[
                (
                    "PLAID_GATEWAY_UPSTREAM",
                    "https://user:hunter2-pass@plaid.example",
                ),
                ("PLAID_CLIENT_ID", "id"),
                ("PLAID_SECRET", "s3cret-value"),
            ]),
            None,
        )
        .expect_err("refused");
        let text = problems.join("\n");
        assert!(
            text.contains("PLAID_GATEWAY_UPSTREAM must not carry a user name or password"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn callers_may_have_several_tokens_and_their_own_operations() {
        let config = Config::load(
            vars(&[
                ("PLAID_CLIENT_ID", "id"),
                ("PLAID_SECRET", "s3cret-value"),
                (
                    "PLAID_GATEWAY_CALLERS",
                    &format!(
                        "web={},web={},etl={}",
                        hash_token("old"),
                        hash_token("new"),
                        hash_token("etl")
                    ),
                ),
                (
                    "PLAID_GATEWAY_CALLER_OPERATIONS",
                    "web=/link/token/create|/item/get",
                ),
            ]),
            None,
        )
        .expect("valid");
        let web: Vec<&Caller> = config.callers.iter().filter(|c| c.name == "web").collect();
        assert_eq!(web.len(), 2);
        assert!(web[0].matches("old") && web[1].matches("new"));
        assert!(
            web.iter()
                .all(|c| c.may_reach("/item/get") && !c.may_reach("/accounts/get"))
        );
        let etl = config
            .callers
            .iter()
            .find(|c| c.name == "etl")
            .expect("etl");
        assert!(
            etl.may_reach("/accounts/get"),
            "unlisted callers keep the gateway's list"
        );

        let problems = Config::load(
            vars(&[
                ("PLAID_CLIENT_ID", "id"),
                ("PLAID_SECRET", "s3cret-value"),
                ("PLAID_GATEWAY_CALLERS", &format!("web={}", hash_token("t"))),
                ("PLAID_GATEWAY_OPERATIONS", "/accounts/get"),
                (
                    "PLAID_GATEWAY_CALLER_OPERATIONS",
                    "web=/item/remove;ghost=/accounts/get;junk",
                ),
            ]),
            None,
        )
        .expect_err("invalid");
        let text = problems.join("\n");
        for expected in [
            "`/item/remove` for `web` is not among the gateway's operations",
            "`ghost` is not a caller",
            "`junk` is not name=",
        ] {
            assert!(text.contains(expected), "{expected}: {text}");
        }
    }

    #[test]
    fn quotas_parse_and_name_known_callers() {
        assert_eq!(
            Quota::parse("web:/processor/token/create=10/s"),
            Ok(Quota {
                caller: "web".into(),
                operation: Some("/processor/token/create".into()),
                count: 10,
                period: Duration::from_secs(1),
            })
        );
        assert_eq!(
            Quota::parse("web=120/min").map(|q| (q.operation, q.period)),
            Ok((None, Duration::from_secs(60)))
        );
        for bad in [
            "web",
            "web=0/min",
            "web=5/day",
            "=5/s",
            "web:x=5/s",
            "web=five/s",
        ] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
        let problems = Config::load(
            vars(&[
                ("PLAID_CLIENT_ID", "id"),
                ("PLAID_SECRET", "s3cret-value"),
                ("PLAID_GATEWAY_CALLERS", &format!("web={}", hash_token("t"))),
                ("PLAID_GATEWAY_QUOTAS", "web=10/s;ghost=1/s;web=oops"),
            ]),
            None,
        )
        .expect_err("invalid");
        let text = problems.join("\n");
        assert!(text.contains("`ghost` is not a caller"), "{text}");
        assert!(text.contains("`web=oops` is not"), "{text}");
    }

    #[test]
    fn the_console_setting_is_on_or_off() {
        let with = |value: &str| {
            Config::load(
                |name| match name {
                    "PLAID_CLIENT_ID" => Some("id".into()),
                    "PLAID_SECRET" => Some("secret".into()),
                    "PLAID_GATEWAY_CALLERS" => Some(format!("app={}", hash_token("t"))),
                    "PLAID_GATEWAY_CONSOLE" if !value.is_empty() => Some(value.into()),
                    _ => None,
                },
                None,
            )
        };
        assert!(with("").expect("default").console);
        assert!(with("on").expect("on").console);
        assert!(!with("off").expect("off").console);
        let problems = with("maybe").expect_err("neither");
        assert_eq!(problems, ["PLAID_GATEWAY_CONSOLE must be `on` or `off`"]);
    }

    #[test]
    fn cors_origins_must_be_origins() {
        let base = |origins: &str| {
            Config::load(
                vars(&[
                    ("PLAID_CLIENT_ID", "id"),
                    ("PLAID_SECRET", "s3cret-value"),
                    ("PLAID_GATEWAY_CALLERS", &format!("web={}", hash_token("t"))),
                    ("PLAID_GATEWAY_CORS_ORIGINS", origins),
                ]),
                None,
            )
        };
        let config = base("https://app.example.com, http://localhost:3000").expect("valid");
        assert_eq!(config.cors_origins.len(), 2);
        // Given empty, it is a mistake to point out, not a list of none.
        let problems = base("").expect_err("empty");
        assert!(problems.join(" ").contains("set but empty"), "{problems:?}");
        for bad in [
            "*",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://x.example",
        ] {
            let problems = base(bad).expect_err(bad);
            assert!(problems.join(" ").contains("is not an origin"), "{bad}");
        }
    }

    #[test]
    fn every_problem_is_one_line() {
        let problems = Config::load(
            vars(&[
                ("PLAID_GATEWAY_UPSTREAM", "staging"),
                ("PLAID_GATEWAY_CALLERS", "web=nothex,=abc"),
                ("PLAID_GATEWAY_LISTEN", "everywhere"),
                ("PLAID_GATEWAY_OPERATIONS", "/accounts/get,/../item/remove"),
                ("PLAID_GATEWAY_CONCURRENCY", "0"),
            ]),
            Some("PLAID_GATEWAY_MAX_BODY_BYTES=lots\nNOT_A_SETTING=1\ngarbage\n"),
        )
        .expect_err("invalid");
        let text = problems.join("\n");
        for expected in [
            "PLAID_GATEWAY_UPSTREAM",
            "PLAID_CLIENT_ID is not set",
            "PLAID_SECRET or PLAID_SECRET_FILE",
            "`web` is not name=",
            "PLAID_GATEWAY_LISTEN",
            "`/../item/remove`",
            "PLAID_GATEWAY_CONCURRENCY",
            "PLAID_GATEWAY_MAX_BODY_BYTES",
            "unknown setting NOT_A_SETTING",
            "line 3: expected KEY=VALUE",
        ] {
            assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
        }
        assert!(problems.iter().all(|p| !p.contains('\n')));
        assert!(!text.contains("nothex"), "caller hashes are not echoed");
    }

    #[test]
    fn serving_threads_default_to_the_cores_and_are_bounded() {
        let g = good();
        let with = |threads: Option<&str>| {
            let mut pairs: Vec<(&str, &str)> = g.iter().map(|(k, v)| (*k, v.as_str())).collect();
            pairs.extend(threads.map(|t| ("PLAID_GATEWAY_THREADS", t)));
            Config::load(vars(&pairs), None)
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(with(None).expect("valid").threads, cores);
        assert_eq!(with(Some(" 3 ")).expect("valid").threads, 3);
        for bad in ["0", "-1", "two", "1025"] {
            let problems = with(Some(bad)).expect_err(bad).join("\n");
            assert!(
                problems.contains("PLAID_GATEWAY_THREADS"),
                "{bad}: {problems}"
            );
        }
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let g = good();
        let pairs: Vec<(&str, &str)> = g.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let config = Config::load(
            vars(&pairs),
            Some("PLAID_CLIENT_ID=from-file\nPLAID_GATEWAY_LISTEN=127.0.0.1:9999\n"),
        )
        .expect("valid");
        assert_eq!(config.client_id, "id");
        assert_eq!(config.listen.port(), 9999);
    }

    #[cfg(unix)]
    #[test]
    fn a_secret_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("gw-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("secret");
        std::fs::write(&path, "file-secret\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let file = path.display().to_string();
        let base = [
            ("PLAID_CLIENT_ID", "id"),
            ("PLAID_SECRET_FILE", file.as_str()),
            ("PLAID_GATEWAY_CALLERS", ""),
        ];
        let caller = format!("web={}", hash_token("t"));
        let mut pairs = base.to_vec();
        pairs[2] = ("PLAID_GATEWAY_CALLERS", caller.as_str());
        let problems = Config::load(vars(&pairs), None).expect_err("world-readable");
        assert!(problems[0].contains("readable by everyone"), "{problems:?}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let config = Config::load(vars(&pairs), None).expect("private file");
        assert_eq!(config.secret.expose_secret(), "file-secret");
    }

    #[test]
    fn plain_paths_only() {
        assert!(is_plain_path("/accounts/get"));
        for bad in [
            "/",
            "accounts/get",
            "/a//b",
            "/a/../b",
            "/a/%2e",
            "/A",
            "/a/b/",
            "/a?b",
        ] {
            assert!(!is_plain_path(bad), "{bad}");
        }
    }
}
