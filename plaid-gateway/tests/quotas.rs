//! Quotas shared through Redis (`PLAID_GATEWAY_QUOTA_STORE`): two gateway instances in front of
//! one emulator hold a caller to one quota; Redis stopped applies the failure policy, Redis
//! back shares again, and a quota changed by a reload applies to both instances at once.
//!
//! Each test starts its own Debian `redis-server` on a free port in a temporary directory.
//! They need `redis-server`, so they are ignored unless asked for: `cargo test -p plaid-gateway
//! --test quotas -- --include-ignored` (`.ci/run` installs it and runs every ignored test);
//! asked for without it, they fail.

use std::process::Stdio;
use std::time::Duration;

use plaid_emulator::Emulator;
use plaid_gateway::{Caller, Config, Gateway, Quota, QuotaStoreFailure, QuotaStoreUrl, hash_token};
use tokio::io::{AsyncBufReadExt, BufReader};

const TOKEN: &str = "quota-caller-token-1";

/// A `redis-server` of this test's own.
struct Redis {
    child: tokio::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl Redis {
    /// Starts one on a free port; fails without `redis-server`.
    async fn start() -> Redis {
        let found = std::process::Command::new("redis-server")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "no redis-server: install Debian's `redis-server` to run the shared-quota tests"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!("plaid-gateway-redis-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Redis::spawn(port, dir).await
    }

    async fn spawn(port: u16, dir: std::path::PathBuf) -> Redis {
        let mut child = tokio::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start redis-server");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        // Its log says when it accepts connections.
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .expect("redis-server starts in time")
                .expect("read")
                .expect("redis-server exited before it was ready");
            if line.contains("Ready to accept connections") {
                break;
            }
        }
        // Keep reading its log so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Redis { child, port, dir }
    }

    fn url(&self) -> QuotaStoreUrl {
        QuotaStoreUrl::new(&format!("redis://127.0.0.1:{}/0", self.port)).expect("url")
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }

    /// Starts again on the same port (empty: it keeps nothing on disk).
    async fn restart(&mut self) {
        self.stop().await;
        *self = Redis::spawn(self.port, self.dir.clone()).await;
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config(emulator: &Emulator, redis: &Redis, per_minute: u32) -> Config {
    let mut c = Config::new(
        emulator.base_url(),
        emulator.client_id(),
        emulator.secret(),
        vec![Caller::new("app", &hash_token(TOKEN)).expect("caller")],
    );
    c.quotas = vec![Quota::parse(&format!("app={per_minute}/min")).expect("quota")];
    c.quota_store = Some(redis.url());
    // Generous for a loaded CI machine; the default is a few milliseconds.
    c.quota_store_timeout = Duration::from_secs(2);
    c.instances = 2;
    c
}

/// Sends `n` requests at once, alternating between the gateways; the statuses, sorted.
async fn burst(gateways: &[&Gateway], body: &str, n: usize) -> Vec<u16> {
    let http = reqwest::Client::new();
    let sends = (0..n).map(|i| {
        let url = format!("{}/accounts/get", gateways[i % gateways.len()].url());
        let request = http
            .post(url)
            .header("x-gateway-token", TOKEN)
            .body(body.to_string());
        async move {
            let response = request.send().await.expect("send");
            let status = response.status().as_u16();
            if status == 429 {
                assert!(response.headers().contains_key("retry-after"));
            }
            status
        }
    });
    let mut statuses = futures_util::future::join_all(sends).await;
    statuses.sort_unstable();
    statuses
}

/// Empties the store (`FLUSHDB` through the same client crate the gateway uses).
async fn redis_flush(redis: &Redis) {
    let client = redis::Client::open(redis.url().expose()).expect("client");
    let mut connection = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    let () = redis::cmd("FLUSHDB")
        .query_async(&mut connection)
        .await
        .expect("flush");
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test]
#[ignore = "needs Debian's redis-server"]
async fn two_instances_hold_a_caller_to_one_quota() {
    let redis = Redis::start().await;
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let body = format!(r#"{{"access_token":"{}"}}"#, item.access_token);
    let one = Gateway::start(config(&emulator, &redis, 5))
        .await
        .expect("one");
    let two = Gateway::start(config(&emulator, &redis, 5))
        .await
        .expect("two");

    let statuses = burst(&[&one, &two], &body, 12).await;
    assert_eq!(
        (count(&statuses, 200), count(&statuses, 429)),
        (5, 7),
        "{statuses:?}"
    );
    assert_eq!(
        emulator.request_count(),
        5,
        "only the admitted went upstream"
    );

    // A quota lowered by a reload of both instances applies to their next requests: 3 of 10
    // used, then 1 a minute: nothing more this minute (the old quota would admit 7).
    let fresh = emulator.add_item();
    let other = format!(r#"{{"access_token":"{}"}}"#, fresh.access_token);
    drop((one, two));
    let one = Gateway::start(config(&emulator, &redis, 10))
        .await
        .expect("one");
    let two = Gateway::start(config(&emulator, &redis, 10))
        .await
        .expect("two");
    redis_flush(&redis).await;
    let statuses = burst(&[&one, &two], &other, 3).await;
    assert_eq!(count(&statuses, 200), 3, "{statuses:?}");
    one.reload(config(&emulator, &redis, 1)).expect("reload");
    two.reload(config(&emulator, &redis, 1)).expect("reload");
    let statuses = burst(&[&one, &two], &other, 4).await;
    assert_eq!(count(&statuses, 429), 4, "{statuses:?}");
}

#[tokio::test]
#[ignore = "needs Debian's redis-server"]
async fn without_redis_the_failure_policy_decides_and_sharing_resumes_when_it_is_back() {
    let mut redis = Redis::start().await;
    let emulator = Emulator::start().await.expect("emulator");
    let item = emulator.add_item();
    let body = format!(r#"{{"access_token":"{}"}}"#, item.access_token);
    let local = Gateway::start(config(&emulator, &redis, 6))
        .await
        .expect("local");
    let mut closed_config = config(&emulator, &redis, 6);
    closed_config.quota_store_failure = QuotaStoreFailure::Closed;
    let closed = Gateway::start(closed_config).await.expect("closed");
    // Both reach Redis first.
    assert_eq!(burst(&[&local], &body, 1).await, [200]);
    assert_eq!(burst(&[&closed], &body, 1).await, [200]);

    redis.stop().await;
    // `local`: this instance's share (6 / 2 instances = 3), counted here.
    let statuses = burst(&[&local], &body, 5).await;
    assert_eq!(
        (count(&statuses, 200), count(&statuses, 429)),
        (3, 2),
        "{statuses:?}"
    );
    // `closed`: a Plaid-shaped 503.
    let response = reqwest::Client::new()
        .post(format!("{}/accounts/get", closed.url()))
        .header("x-gateway-token", TOKEN)
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 503);
    let reply: serde_json::Value = response.json().await.expect("json");
    assert_eq!(reply["error_code"], "QUOTA_STORE_UNAVAILABLE");

    // Back (empty): one quota for both again.
    redis.restart().await;
    let statuses = burst(&[&local, &closed], &body, 10).await;
    assert_eq!(
        (count(&statuses, 200), count(&statuses, 429)),
        (6, 4),
        "{statuses:?}"
    );
}

#[test]
fn a_quota_store_url_hides_its_password_and_odd_ones_are_refused() {
    let url = QuotaStoreUrl::new("redis://:s3cret-pass@cache.internal:6379/2").expect("url");
    assert_eq!(
        format!("{url:?}"),
        "redis://[redacted]@cache.internal:6379/2"
    );
    for bad in [
        "http://cache:6379",
        "redis://",
        "redis:///0",
        "redis://a b:1/0",
    ] {
        assert!(QuotaStoreUrl::new(bad).is_none(), "{bad}");
    }
    let lookup = |name: &str| match name {
        "PLAID_CLIENT_ID" => Some("id".to_string()),
        "PLAID_SECRET" => Some("secret".to_string()),
        "PLAID_GATEWAY_CALLERS" => Some(format!("app={}", hash_token(TOKEN))),
        "PLAID_GATEWAY_QUOTA_STORE" => Some("memcache://x".to_string()),
        "PLAID_GATEWAY_QUOTA_STORE_FAILURE" => Some("sometimes".to_string()),
        _ => None,
    };
    let problems = Config::load(lookup, None).expect_err("refused");
    assert!(
        problems
            .iter()
            .any(|p| p.contains("PLAID_GATEWAY_QUOTA_STORE must")),
        "{problems:?}"
    );
    assert!(
        problems.iter().any(|p| p.contains("QUOTA_STORE_FAILURE")),
        "{problems:?}"
    );
}
