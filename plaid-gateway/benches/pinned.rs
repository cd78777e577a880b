//! The gateway where it is the bottleneck: each proxy pinned to one core (core 1), driven by
//! `wrk` on the other core (core 0), in front of a static upstream on core 0 that answers a
//! fixed `/processor/token/create` body (nginx's `return`, far cheaper than either proxy):
//!
//! - **direct**: wrk → the stub (what the upstream and the load generator can do at all);
//! - **gateway**: wrk → plaid-gateway (one core, its production logging to /dev/null) → stub;
//! - **nginx**: wrk → nginx doing the gateway's core job (one worker) → stub;
//! - **gateway + Redis**: the gateway with its quotas in Redis (`redis-server` on core 0; a quota
//!   high enough never to refuse), when `redis-server` is installed.
//!
//! Rounds alternate between the paths; each prints per-core throughput, p50/p99 latency and the
//! proxy's CPU time per request (from /proc); the medians follow, with gateway/nginx ratios.
//! Needs Debian's `wrk` and `nginx-light` (and `taskset`, from util-linux).
//!
//! `cargo bench -p plaid-gateway --bench pinned` (5 rounds of 10 s; `-- --quick` for 2 rounds of
//! 3 s; `-- --seconds N --rounds N --connections N` to choose; `PLAID_BENCH_GATEWAY_BIN=path`
//! measures another build of the gateway the same way, and `PLAID_BENCH_BEFORE_BIN=path` adds
//! that build as one more path in the same rounds, for a before/after in one run).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Killed, Nginx, cpu_time, free_port, gateway_job, start_nginx_with};
use plaid_gateway::hash_token;

const CALLER_TOKEN: &str = "bench-caller-token";
const BODY: &str = r#"{"access_token":"access-sandbox-de3ce8ef-33f8-452c-a685-8671031fc0f6","account_id":"blgvvBlXw3cq5GMPwqB6s6q4dLKB9WcVqGDGo","processor":"dwolla"}"#;
const ANSWER: &str = r#"{"processor_token":"processor-sandbox-0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d","request_id":"m8MDnv9okwxFNBV"}"#;

struct Args {
    seconds: u64,
    rounds: usize,
    connections: usize,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            seconds: 10,
            rounds: 5,
            connections: 64,
        };
        let mut given = std::env::args().skip(1);
        while let Some(arg) = given.next() {
            let mut number = |what: &str| -> u64 {
                given
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0)
                    .unwrap_or_else(|| panic!("{what} takes a positive number"))
            };
            match arg.as_str() {
                "--quick" => {
                    args.seconds = 3;
                    args.rounds = 2;
                }
                "--seconds" => args.seconds = number("--seconds"),
                "--rounds" => args.rounds = number("--rounds") as usize,
                "--connections" => args.connections = number("--connections") as usize,
                _ => {}
            }
        }
        args
    }
}

/// One wrk run's figures.
#[derive(Clone, Copy, Default)]
struct Run {
    throughput: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// The proxy's CPU time per request, in µs (0 for direct).
    cpu_us: f64,
    errors: u64,
}

/// A latency as wrk prints it (`812.00us`, `1.23ms`, `2.00s`), in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

/// Runs wrk on core 0 against `url` and reads its report; `pids` are the proxy's processes.
fn wrk(args: &Args, script: &std::path::Path, url: &str, pids: &[u32]) -> Run {
    let before = cpu_time(pids);
    let output = Command::new("taskset")
        .args(["-c", "0", "wrk", "-t1", "--latency"])
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.seconds))
        .arg("-s")
        .arg(script)
        .arg(url)
        .output()
        .expect("run wrk (Debian's `wrk` and util-linux's `taskset`)");
    let cpu = cpu_time(pids).saturating_sub(before);
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wrk failed: {report}");
    let mut run = Run::default();
    let mut requests = 0u64;
    for line in report.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", n] => run.throughput = n.parse().unwrap_or(0.0),
            ["50%", t] => run.p50_ms = millis(t).unwrap_or(0.0),
            ["99%", t] => run.p99_ms = millis(t).unwrap_or(0.0),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0),
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors += n.parse().unwrap_or(0),
            ["Socket", "errors:", ..] => run.errors += 1,
            _ => {}
        }
    }
    if requests > 0 {
        run.cpu_us = cpu.as_secs_f64() * 1e6 / requests as f64;
    }
    run
}

fn median(runs: &[Run]) -> Run {
    let mid = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Run {
        throughput: mid(runs.iter().map(|r| r.throughput).collect()),
        p50_ms: mid(runs.iter().map(|r| r.p50_ms).collect()),
        p99_ms: mid(runs.iter().map(|r| r.p99_ms).collect()),
        cpu_us: mid(runs.iter().map(|r| r.cpu_us).collect()),
        errors: runs.iter().map(|r| r.errors).sum(),
    }
}

/// Pins every thread of `pid` to `core`.
fn pin(pid: u32, core: &str) {
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", core, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("taskset");
    assert!(status.success(), "could not pin {pid}");
}

/// Blocks until `port` accepts connections (the process is up), for at most 10 s.
fn wait_for(port: u16) {
    for _ in 0..1000 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("nothing listens on {port}");
}

/// nginx's workers (the master's children).
fn workers(nginx: &Nginx) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", nginx.master.id()))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The gateway build to measure: this one, or `PLAID_BENCH_GATEWAY_BIN`'s.
fn this_build() -> std::ffi::OsString {
    std::env::var_os("PLAID_BENCH_GATEWAY_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_plaid-gateway").into())
}

/// Starts the gateway `binary` pinned to core 1 with `extra` settings.
fn gateway(
    binary: &std::ffi::OsStr,
    upstream: &str,
    port: u16,
    extra: &[(&str, String)],
) -> Killed {
    let mut command = Command::new("taskset");
    command
        .args(["-c", "1"])
        .arg(binary)
        .env("PLAID_GATEWAY_UPSTREAM", upstream)
        .env("PLAID_CLIENT_ID", "bench-client-id")
        .env("PLAID_SECRET", "bench-secret-0123456789")
        .env(
            "PLAID_GATEWAY_CALLERS",
            format!("bench={}", hash_token(CALLER_TOKEN)),
        )
        .env("PLAID_GATEWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("PLAID_GATEWAY_CONCURRENCY", "4096")
        .env("PLAID_GATEWAY_CALLER_CONCURRENCY", "4096")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in extra {
        command.env(name, value);
    }
    let child = command.spawn().expect("start plaid-gateway");
    wait_for(port);
    Killed(child)
}

fn main() {
    let args = Args::parse();
    let missing: Vec<&str> = ["wrk", "taskset"]
        .into_iter()
        .filter(|tool| {
            Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    assert!(
        missing.is_empty(),
        "missing: {missing:?} (Debian's wrk, util-linux)"
    );
    let dir = std::env::temp_dir().join(format!("plaid-bench-pinned-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // The static upstream on core 0.
    let stub_port = free_port();
    let stub = start_nginx_with(
        &dir.join("stub"),
        "1",
        &format!(
            "    server {{ listen 127.0.0.1:{stub_port}; keepalive_requests 100000;\n        location / {{ default_type application/json; return 200 '{ANSWER}'; }} }}"
        ),
    )
    .expect("nginx (Debian's nginx-light)");
    wait_for(stub_port);
    pin(stub.master.id(), "0");
    for w in workers(&stub) {
        pin(w, "0");
    }
    let stub_url = format!("http://127.0.0.1:{stub_port}");

    // nginx doing the gateway's core job, one worker on core 1.
    let nginx_port = free_port();
    let nginx = start_nginx_with(
        &dir.join("proxy"),
        "1",
        &gateway_job(
            nginx_port,
            &stub_url,
            CALLER_TOKEN,
            "bench-client-id",
            "bench-secret-0123456789",
        ),
    )
    .expect("nginx");
    wait_for(nginx_port);
    pin(nginx.master.id(), "1");
    let nginx_pids = workers(&nginx);
    for w in &nginx_pids {
        pin(*w, "1");
    }

    // The gateway, and the gateway with Redis (when redis-server is installed).
    let gateway_port = free_port();
    let plain = gateway(&this_build(), &stub_url, gateway_port, &[]);
    let before = std::env::var_os("PLAID_BENCH_BEFORE_BIN").map(|binary| {
        let port = free_port();
        (port, gateway(&binary, &stub_url, port, &[]))
    });
    let redis_port = free_port();
    let redis = Command::new("taskset")
        .args(["-c", "0", "redis-server", "--port", &redis_port.to_string()])
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .ok()
        .map(Killed);
    let with_redis = redis.as_ref().map(|_| {
        wait_for(redis_port);
        let port = free_port();
        let g = gateway(
            &this_build(),
            &stub_url,
            port,
            &[
                (
                    "PLAID_GATEWAY_QUOTA_STORE",
                    format!("redis://127.0.0.1:{redis_port}/0"),
                ),
                ("PLAID_GATEWAY_QUOTAS", "bench=100000000/s".into()),
                ("PLAID_GATEWAY_QUOTA_STORE_FAILURE", "closed".into()),
                ("PLAID_GATEWAY_QUOTA_STORE_TIMEOUT_MS", "50".into()),
            ],
        );
        (port, g)
    });

    let script = dir.join("post.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"content-type\"] = \"application/json\"\nwrk.headers[\"x-gateway-token\"] = \"{CALLER_TOKEN}\"\n"
        ),
    )
    .expect("script");

    let path = "/processor/token/create";
    let mut paths: Vec<(&str, String, Vec<u32>)> = vec![
        ("direct", format!("{stub_url}{path}"), Vec::new()),
        (
            "gateway",
            format!("http://127.0.0.1:{gateway_port}{path}"),
            vec![plain.0.id()],
        ),
        (
            "nginx",
            format!("http://127.0.0.1:{nginx_port}{path}"),
            nginx_pids.clone(),
        ),
    ];
    if let Some((port, g)) = &with_redis {
        paths.push((
            "gateway + Redis",
            format!("http://127.0.0.1:{port}{path}"),
            vec![g.0.id()],
        ));
    }
    if let Some((port, g)) = &before {
        paths.push((
            "gateway, before",
            format!("http://127.0.0.1:{port}{path}"),
            vec![g.0.id()],
        ));
    }
    // A warm-up run each (connections, caches), not counted.
    let warm = Args {
        seconds: 1,
        rounds: 1,
        connections: args.connections,
    };
    for (_, url, pids) in &paths {
        wrk(&warm, &script, url, pids);
    }
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); paths.len()];
    for round in 1..=args.rounds {
        for (i, (name, url, pids)) in paths.iter().enumerate() {
            let run = wrk(&args, &script, url, pids);
            println!(
                "round {round} {name:<16} {:>9.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  CPU {:>6.1} µs/req  errors {}",
                run.throughput, run.p50_ms, run.p99_ms, run.cpu_us, run.errors
            );
            runs[i].push(run);
        }
    }
    println!(
        "\nmedians of {} rounds of {} s, {} connections; proxies on core 1, wrk and the upstream on core 0:",
        args.rounds, args.seconds, args.connections
    );
    let medians: Vec<Run> = runs.iter().map(|r| median(r)).collect();
    for ((name, _, _), m) in paths.iter().zip(&medians) {
        println!(
            "{name:<16} {:>9.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  CPU {:>6.1} µs/req  errors {}",
            m.throughput, m.p50_ms, m.p99_ms, m.cpu_us, m.errors
        );
    }
    let (g, n) = (medians[1], medians[2]);
    println!(
        "gateway / nginx: throughput {:.2}, p99 {:.2}, CPU per request {:.2}",
        g.throughput / n.throughput,
        g.p99_ms / n.p99_ms,
        g.cpu_us / n.cpu_us
    );
    // Each round's own ratio (the two ran seconds apart), whose median a machine's drift
    // between rounds moves less.
    let per_round = |f: fn(&Run) -> f64| {
        let mut ratios: Vec<f64> = runs[1]
            .iter()
            .zip(&runs[2])
            .map(|(g, n)| f(g) / f(n))
            .collect();
        ratios.sort_by(f64::total_cmp);
        (
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
        )
    };
    let (throughput, low, high) = per_round(|r| r.throughput);
    let (p99, _, _) = per_round(|r| r.p99_ms);
    let (cpu, _, _) = per_round(|r| r.cpu_us);
    println!(
        "gateway / nginx, median of the rounds' ratios: throughput {throughput:.2} (rounds {low:.2} to {high:.2}), p99 {p99:.2}, CPU per request {cpu:.2}"
    );
    if let Some(r) = medians.get(3).filter(|_| with_redis.is_some()) {
        println!(
            "gateway + Redis / gateway: throughput {:.2}, p50 +{:.3} ms, p99 +{:.3} ms",
            r.throughput / g.throughput,
            r.p50_ms - g.p50_ms,
            r.p99_ms - g.p99_ms
        );
    }
    if let Some(b) = medians.last().filter(|_| before.is_some()) {
        println!(
            "gateway / gateway before: throughput {:.2}, p99 {:.2}, CPU per request {:.2}",
            g.throughput / b.throughput,
            g.p99_ms / b.p99_ms,
            g.cpu_us / b.cpu_us
        );
    }
    drop((stub, nginx, plain, with_redis, redis, before));
    let _ = std::fs::remove_dir_all(&dir);
}
