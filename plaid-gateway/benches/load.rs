//! Load through the gateway against direct calls, in one run: the emulator in this process,
//! the gateway as its own process (its memory is read from /proc), and plaid-sdk clients
//! sending `/processor/token/create` at a fixed concurrency. When `nginx` is installed
//! (Debian's `nginx-light`), the same load also goes through nginx configured to do the
//! gateway's core job: check the caller-token header, allow the one path, set the credential
//! headers, keep upstream connections alive.
//!
//! `cargo bench -p plaid-gateway --bench load` (add `-- --quick` for 2,000 requests;
//! `PLAID_BENCH_GATEWAY_BIN=path` measures another build of the gateway the same way).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use plaid_emulator::Emulator;
use plaid_gateway::hash_token;
use plaid_sdk::{Environment, PlaidClient, RetryPolicy};

const CALLER_TOKEN: &str = "bench-caller-token";

struct Outcome {
    failures: usize,
    throughput: f64,
    p50: Duration,
    p99: Duration,
}

async fn load(
    client: &PlaidClient,
    access: &str,
    account: &str,
    total: usize,
    in_flight: usize,
) -> Outcome {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let client = client.clone();
        let (access, account) = (access.to_string(), account.to_string());
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(total / in_flight);
            let mut failures = 0;
            for _ in 0..total / in_flight {
                let t = Instant::now();
                if client
                    .processor_token_create(access.as_str(), account.as_str(), "dwolla")
                    .await
                    .is_err()
                {
                    failures += 1;
                }
                latencies.push(t.elapsed());
            }
            (latencies, failures)
        });
    }
    let mut latencies = Vec::with_capacity(total);
    let mut failures = 0;
    while let Some(Ok((l, f))) = tasks.join_next().await {
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Outcome {
        failures,
        throughput: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: latencies[latencies.len() / 2],
        p99: latencies[latencies.len() * 99 / 100],
    }
}

fn memory_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// nginx doing the gateway's core job in front of `upstream`, on `port`, with its files in
/// `dir`; `None` when nginx is not installed.
fn start_nginx(
    dir: &std::path::Path,
    port: u16,
    upstream: &str,
    client_id: &str,
    secret: &str,
) -> Option<Killed> {
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())?;
    std::fs::create_dir_all(dir.join("logs")).ok()?;
    let upstream = upstream.trim_start_matches("http://");
    let conf = format!(
        r#"worker_processes auto;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream plaid {{ server {upstream}; keepalive 128; }}
    map $http_x_gateway_token $caller_ok {{ "{token}" 1; default 0; }}
    server {{
        listen 127.0.0.1:{port};
        location = /processor/token/create {{
            if ($caller_ok = 0) {{ return 401; }}
            proxy_pass http://plaid;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header x-gateway-token "";
            proxy_set_header plaid-client-id "{client_id}";
            proxy_set_header plaid-secret "{secret}";
            proxy_set_header plaid-version "2020-09-14";
        }}
        location / {{ return 403; }}
    }}
}}
"#,
        dir = dir.display(),
        token = CALLER_TOKEN,
    );
    std::fs::write(dir.join("nginx.conf"), conf).ok()?;
    let child = Command::new(nginx)
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    Some(Killed(child))
}

/// Waits until `url` answers (a bench may poll: nothing is decided by the wait).
async fn wait_ready(http: &reqwest::Client, url: &str) -> bool {
    for _ in 0..500 {
        if http.get(url).send().await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (total, in_flight) = if quick { (2_000, 32) } else { (10_000, 32) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let emulator = Emulator::start().await.expect("emulator");
        let item = emulator.add_item();
        let port = free_port();
        let gateway = Killed(
            // PLAID_BENCH_GATEWAY_BIN runs another build of the gateway (an older version, for a
            // before/after figure) under the same load.
            Command::new(
                std::env::var_os("PLAID_BENCH_GATEWAY_BIN")
                    .unwrap_or_else(|| env!("CARGO_BIN_EXE_plaid-gateway").into()),
            )
                .env("PLAID_GATEWAY_UPSTREAM", emulator.base_url())
                .env("PLAID_CLIENT_ID", emulator.client_id())
                .env("PLAID_SECRET", emulator.secret())
                .env("PLAID_GATEWAY_CALLERS", format!("bench={}", hash_token(CALLER_TOKEN)))
                .env("PLAID_GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
                .env("PLAID_GATEWAY_CONCURRENCY", "1024")
                // One log line per request, as in production (to /dev/null here).
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start plaid-gateway"),
        );
        let gateway_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        assert!(
            wait_ready(&http, &format!("{gateway_url}/healthz")).await,
            "the gateway did not come up"
        );
        let nginx_dir = std::env::temp_dir().join(format!("plaid-bench-nginx-{}", std::process::id()));
        let nginx_port = free_port();
        let nginx = start_nginx(
            &nginx_dir,
            nginx_port,
            emulator.base_url(),
            emulator.client_id(),
            emulator.secret(),
        );
        let nginx_url = format!("http://127.0.0.1:{nginx_port}");
        if nginx.is_some() {
            assert!(wait_ready(&http, &nginx_url).await, "nginx did not come up");
        }
        let pid = gateway.0.id();
        let rss_idle = memory_kib(pid, "VmRSS:");

        let direct = PlaidClient::builder()
            .environment(Environment::custom(emulator.base_url()).expect("url"))
            .credentials(emulator.client_id(), emulator.secret())
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("direct client");
        let through = PlaidClient::builder()
            .environment(Environment::custom(&gateway_url).expect("url"))
            .without_credentials()
            .gateway_header("x-gateway-token", CALLER_TOKEN)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("gateway client");
        let via_nginx = PlaidClient::builder()
            .environment(Environment::custom(&nginx_url).expect("url"))
            .without_credentials()
            .gateway_header("x-gateway-token", CALLER_TOKEN)
            .retry_policy(RetryPolicy::none())
            .build()
            .expect("nginx client");
        let (access, account) = (item.access_token.clone(), item.accounts[0].account_id.clone());
        // Warm every path.
        load(&direct, &access, &account, 640, in_flight).await;
        load(&through, &access, &account, 640, in_flight).await;
        if nginx.is_some() {
            load(&via_nginx, &access, &account, 640, in_flight).await;
        }

        let d = load(&direct, &access, &account, total, in_flight).await;
        let g = load(&through, &access, &account, total, in_flight).await;
        let n = match nginx {
            Some(_) => Some(load(&via_nginx, &access, &account, total, in_flight).await),
            None => {
                println!("nginx is not installed (apt-get install nginx-light): no comparison");
                None
            }
        };
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!("{total} × /processor/token/create at {in_flight} in flight, loopback, emulator upstream");
        println!("{:<16} {:>9} {:>12} {:>9} {:>9}", "", "failures", "requests/s", "p50 ms", "p99 ms");
        for (name, o) in [("direct", Some(&d)), ("via gateway", Some(&g)), ("via nginx", n.as_ref())] {
            if let Some(o) = o {
                println!("{name:<16} {:>9} {:>12.0} {:>9.2} {:>9.2}", o.failures, o.throughput, ms(o.p50), ms(o.p99));
            }
        }
        if let Some(n) = &n {
            println!(
                "gateway / nginx: throughput {:.2}, p99 {:.2}",
                g.throughput / n.throughput,
                ms(g.p99) / ms(n.p99)
            );
        }
        println!("gateway's added latency: p50 +{:.2} ms, p99 +{:.2} ms", ms(g.p50) - ms(d.p50), ms(g.p99) - ms(d.p99));
        if let (Some(idle), Some(peak), Some(now)) = (rss_idle, memory_kib(pid, "VmHWM:"), memory_kib(pid, "VmRSS:")) {
            println!(
                "gateway process memory: {:.1} MiB idle, {:.1} MiB after the load, peak {:.1} MiB",
                idle as f64 / 1024.0,
                now as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        assert_eq!(
            d.failures + g.failures + n.as_ref().map_or(0, |n| n.failures),
            0,
            "no request may fail"
        );
        let _ = std::fs::remove_dir_all(&nginx_dir);
    });
}
