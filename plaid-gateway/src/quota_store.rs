//! Quotas counted in Redis for every instance together (`PLAID_GATEWAY_QUOTA_STORE`).
//!
//! One decision per request is one `EVALSHA` of a GCRA script (the generic cell rate
//! algorithm: one key per quota holding its "theoretical arrival time", in microseconds of
//! Redis's own clock, so instances' clocks never matter). The script checks every quota that
//! applies to the request and takes from all of them or from none, as the in-process buckets
//! do. A quota of `count` per `period` admits a burst of `count`, then one every
//! `period / count`, which is the in-process token bucket's behaviour. Keys expire once their
//! quota has refilled.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::config::QuotaStoreUrl;

/// The script: `KEYS` are the quotas' keys; `ARGV` holds, per key, the emission interval and
/// the burst tolerance in microseconds. Answers 0 when admitted (every key advanced), or the
/// wait in microseconds until all of them would admit (none changed).
const GCRA: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local wait = 0
local next = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local tolerance = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local allowed_at = tat - tolerance
  if allowed_at > now and allowed_at - now > wait then wait = allowed_at - now end
  next[i] = tat + interval
end
if wait > 0 then return wait end
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], next[i], 'PX', math.max(1, math.ceil((next[i] - now) / 1000)))
end
return 0
";

/// The shared store of one gateway: a lazily connected, reconnecting Redis connection.
pub(crate) struct QuotaStore {
    url: QuotaStoreUrl,
    connection: tokio::sync::OnceCell<ConnectionManager>,
    script: redis::Script,
    /// Whether the last decision failed (to log one line per outage, one on recovery).
    down: AtomicBool,
}

/// One quota as the script takes it: its key, emission interval and burst tolerance.
pub(crate) struct Bucket {
    pub(crate) key: String,
    pub(crate) interval: Duration,
    pub(crate) tolerance: Duration,
}

impl Bucket {
    /// A quota of `count` per `period` for `caller` (and `operation`, if it names one).
    pub(crate) fn new(caller: &str, operation: Option<&str>, count: u32, period: Duration) -> Self {
        let interval = period / count.max(1);
        Bucket {
            key: format!("plaid-gateway:quota:{caller}:{}", operation.unwrap_or("*")),
            interval,
            tolerance: period.saturating_sub(interval),
        }
    }
}

impl std::fmt::Debug for QuotaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotaStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl QuotaStore {
    pub(crate) fn new(url: QuotaStoreUrl) -> Self {
        QuotaStore {
            url,
            connection: tokio::sync::OnceCell::new(),
            script: redis::Script::new(GCRA),
            down: AtomicBool::new(false),
        }
    }

    pub(crate) fn url(&self) -> &QuotaStoreUrl {
        &self.url
    }

    /// The connection, made on first use (it reconnects by itself afterwards).
    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        self.connection
            .get_or_try_init(|| async {
                let client = redis::Client::open(self.url.expose())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(1));
                ConnectionManager::new_lazy_with_config(client, config)
            })
            .await
            .cloned()
    }

    /// Takes one request from every bucket, or from none: `Ok(None)` when admitted,
    /// `Ok(Some(wait))` when a bucket is empty, `Err` when the store did not answer within
    /// `timeout` (logged once per outage).
    pub(crate) async fn take(
        &self,
        buckets: &[Bucket],
        timeout: Duration,
    ) -> Result<Option<Duration>, ()> {
        let once = || async {
            let mut connection = self.connection().await?;
            let mut invocation = self.script.prepare_invoke();
            for bucket in buckets {
                invocation
                    .key(&bucket.key)
                    .arg(micros(bucket.interval))
                    .arg(micros(bucket.tolerance));
            }
            invocation.invoke_async::<u64>(&mut connection).await
        };
        let decided = tokio::time::timeout(timeout, async {
            match once().await {
                // A connection Redis dropped (a restart, say) fails one call while the
                // connection is made again: try once more within the same bound.
                Err(e) if e.is_io_error() || e.is_connection_dropped() => once().await,
                decided => decided,
            }
        })
        .await;
        match decided {
            Ok(Ok(wait)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!(store = ?self.url, "quota store answering again; quotas are shared");
                }
                Ok((wait > 0).then(|| Duration::from_micros(wait)))
            }
            failed => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    let reason = match failed {
                        Err(_) => format!("no answer within {timeout:?}"),
                        Ok(Err(e)) => e.to_string(),
                        Ok(Ok(_)) => String::new(),
                    };
                    tracing::warn!(store = ?self.url, reason = %reason, "quota store unavailable; applying the failure policy until it answers");
                }
                Err(())
            }
        }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
