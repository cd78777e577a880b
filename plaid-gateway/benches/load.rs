//! Load through the gateway against direct calls, in one run: the emulator in this process,
//! the gateway as its own process (its memory is read from /proc), and plaid-sdk clients
//! sending `/processor/token/create` at a fixed concurrency. When `nginx` is installed
//! (Debian's `nginx-light`), the same load also goes through nginx configured to do the
//! gateway's core job: check the caller-token header, allow the one path, set the credential
//! headers, keep upstream connections alive.
//!
//! `cargo bench -p plaid-gateway --bench load` (7 rounds of 10,000 requests, alternated between
//! the paths; `-- --quick` for one round of 2,000, `-- --rounds N --requests N` to choose;
//! `PLAID_BENCH_GATEWAY_BIN=path` measures another build of the gateway the same way).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use plaid_emulator::Emulator;
use plaid_gateway::hash_token;
use plaid_sdk::{Environment, PlaidClient, RetryPolicy};

use common::{Killed, Nginx, cpu_time, free_port, gateway_job, start_nginx_with};

const CALLER_TOKEN: &str = "bench-caller-token";

struct Outcome {
    failures: usize,
    throughput: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time the proxy's processes spent per request (zero for direct calls).
    cpu: Duration,
}

async fn load(
    client: &PlaidClient,
    access: &str,
    account: &str,
    total: usize,
    in_flight: usize,
    proxy: &[u32],
) -> Outcome {
    let cpu_before = cpu_time(proxy);
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
    let cpu = cpu_time(proxy).saturating_sub(cpu_before) / latencies.len().max(1) as u32;
    latencies.sort();
    Outcome {
        cpu,
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

/// nginx doing the gateway's core job in front of `upstream`, on `port`, with its files in
/// `dir`; `None` when nginx is not installed.
fn start_nginx(
    dir: &std::path::Path,
    port: u16,
    upstream: &str,
    client_id: &str,
    secret: &str,
) -> Option<Nginx> {
    start_nginx_with(
        dir,
        "auto",
        &gateway_job(port, upstream, CALLER_TOKEN, client_id, secret),
    )
}

/// The medians, field by field, of some outcomes (at least one).
fn median<'o>(outcomes: impl Iterator<Item = &'o Outcome>) -> Outcome {
    let all: Vec<&Outcome> = outcomes.collect();
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Outcome {
        failures: all.iter().map(|o| o.failures).sum(),
        throughput: mid(all.iter().map(|o| o.throughput).collect()),
        p50: Duration::from_secs_f64(mid(all.iter().map(|o| o.p50.as_secs_f64()).collect())),
        p99: Duration::from_secs_f64(mid(all.iter().map(|o| o.p99.as_secs_f64()).collect())),
        cpu: Duration::from_secs_f64(mid(all.iter().map(|o| o.cpu.as_secs_f64()).collect())),
    }
}

struct Args {
    requests: usize,
    rounds: usize,
}

impl Args {
    /// `--quick` (2,000 requests, 1 round), `--requests N`, `--rounds N`; cargo's own
    /// arguments (`--bench`) are ignored.
    fn parse() -> Args {
        let mut args = Args {
            requests: 10_000,
            rounds: 7,
        };
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            let mut number = |what: &str| -> usize {
                given
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| panic!("{what} takes a positive number"))
            };
            match arg.as_str() {
                "--quick" => {
                    args.requests = 2_000;
                    args.rounds = 1;
                }
                "--requests" => args.requests = number("--requests"),
                "--rounds" => args.rounds = number("--rounds"),
                _ => {}
            }
        }
        args
    }
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
    let args = Args::parse();
    let in_flight = 32;
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
        let nginx_pid: Vec<u32> = nginx.iter().map(|n| n.master.id()).collect();
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
        load(&direct, &access, &account, 640, in_flight, &[]).await;
        load(&through, &access, &account, 640, in_flight, &[pid]).await;
        if nginx.is_some() {
            load(&via_nginx, &access, &account, 640, in_flight, &nginx_pid).await;
        }

        // Rounds alternate the three paths so that a swing in this machine's load hits them
        // alike; the figures are the medians over the rounds.
        let mut rounds: Vec<(Outcome, Outcome, Option<Outcome>)> = Vec::new();
        for round in 0..args.rounds {
            let d = load(&direct, &access, &account, args.requests, in_flight, &[]).await;
            let g = load(&through, &access, &account, args.requests, in_flight, &[pid]).await;
            let n = match nginx {
                Some(_) => Some(load(&via_nginx, &access, &account, args.requests, in_flight, &nginx_pid).await),
                None => None,
            };
            if args.rounds > 1 {
                let ratio = n.as_ref().map_or(String::new(), |n| {
                    format!(
                        "; gateway / nginx: throughput {:.2}, p99 {:.2}, CPU per request {:.1} / {:.1} µs",
                        g.throughput / n.throughput,
                        g.p99.as_secs_f64() / n.p99.as_secs_f64(),
                        g.cpu.as_secs_f64() * 1e6,
                        n.cpu.as_secs_f64() * 1e6
                    )
                });
                println!(
                    "round {}: direct {:.0}/s, gateway {:.0}/s{}{ratio}",
                    round + 1,
                    d.throughput,
                    g.throughput,
                    n.as_ref().map_or(String::new(), |n| format!(", nginx {:.0}/s", n.throughput)),
                );
            }
            rounds.push((d, g, n));
        }
        if nginx.is_none() {
            println!("nginx is not installed (apt-get install nginx-light): no comparison");
        }
        let failures: usize = rounds
            .iter()
            .map(|(d, g, n)| d.failures + g.failures + n.as_ref().map_or(0, |n| n.failures))
            .sum();
        let d = median(rounds.iter().map(|r| &r.0));
        let g = median(rounds.iter().map(|r| &r.1));
        let n = nginx.as_ref().map(|_| median(rounds.iter().filter_map(|r| r.2.as_ref())));
        let ratios = nginx.as_ref().map(|_| {
            let mut throughput: Vec<f64> = rounds
                .iter()
                .filter_map(|(_, g, n)| Some(g.throughput / n.as_ref()?.throughput))
                .collect();
            let mut p99: Vec<f64> = rounds
                .iter()
                .filter_map(|(_, g, n)| Some(g.p99.as_secs_f64() / n.as_ref()?.p99.as_secs_f64()))
                .collect();
            throughput.sort_by(f64::total_cmp);
            p99.sort_by(f64::total_cmp);
            (throughput[throughput.len() / 2], p99[p99.len() / 2])
        });
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{} × /processor/token/create at {in_flight} in flight, loopback, emulator upstream; medians of {} rounds",
            args.requests, args.rounds
        );
        println!("{:<16} {:>9} {:>12} {:>9} {:>9} {:>12}", "", "failures", "requests/s", "p50 ms", "p99 ms", "proxy CPU µs");
        for (name, o) in [("direct", Some(&d)), ("via gateway", Some(&g)), ("via nginx", n.as_ref())] {
            if let Some(o) = o {
                let cpu = if o.cpu.is_zero() { "-".to_string() } else { format!("{:.1}", o.cpu.as_secs_f64() * 1e6) };
                println!("{name:<16} {:>9} {:>12.0} {:>9.2} {:>9.2} {cpu:>12}", o.failures, o.throughput, ms(o.p50), ms(o.p99));
            }
        }
        if let Some((throughput, p99)) = ratios {
            println!("gateway / nginx (median of the rounds' ratios): throughput {throughput:.2}, p99 {p99:.2}");
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
        assert_eq!(failures, 0, "no request may fail");
        drop(nginx);
        let _ = std::fs::remove_dir_all(&nginx_dir);
    });
}
