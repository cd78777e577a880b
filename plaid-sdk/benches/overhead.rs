//! The SDK's processor-token call against a hand-written reqwest call that sends the identical
//! request (same headers, same body bytes) and parses the same response, both against one
//! in-process loopback server, in one run. The two sides take turns call by call (sequential)
//! and block by block (32 in flight), so that the machine's drift falls on both alike. Prints
//! medians of several rounds and the SDK / hand-written ratios.
//!
//! `cargo bench -p plaid-sdk --bench overhead` (add `-- --quick` for a short run).

use std::sync::Arc;
use std::time::{Duration, Instant};

use plaid_sdk::PlaidClient;

mod common;
use common::{HandWritten, runtime, sdk_call, sdk_client, serve};

struct Round {
    /// Sequential throughput, the slowest 1 % of calls left out (see `sequential_pair`).
    sequential_rps: f64,
    /// Sequential throughput over every call, stalls included.
    sequential_all_rps: f64,
    p50: Duration,
    concurrent_rps: f64,
    /// The client thread's CPU time per call at 32 in flight.
    concurrent_cpu: Duration,
}

/// Blocks per round and side at 32 in flight.
const BLOCKS: usize = 10;

impl Round {
    /// A side's round: its sequential figures, the median rate of its blocks at 32 in flight
    /// (each: calls, time, client CPU time), so that one block's stall does not decide it, and
    /// its CPU time per call over all its blocks (the kernel updates a running thread's CPU
    /// time at each timer tick, a few milliseconds: too coarse for one block, exact enough
    /// summed over all of them).
    fn new(
        (sequential_rps, p50, sequential_all_rps): (f64, Duration, f64),
        blocks: &[(usize, Duration, Duration)],
    ) -> Self {
        let rates = blocks
            .iter()
            .map(|b| b.0 as f64 / b.1.as_secs_f64())
            .collect();
        let calls: usize = blocks.iter().map(|b| b.0).sum();
        let cpu: Duration = blocks.iter().map(|b| b.2).sum();
        Round {
            sequential_rps,
            sequential_all_rps,
            p50,
            concurrent_rps: median(rates),
            concurrent_cpu: cpu / calls.max(1) as u32,
        }
    }
}

/// `calls` sequential calls per side, the two sides taking turns call by call (which goes
/// first alternates), so that whatever the machine does meanwhile falls on both alike. Per
/// side: calls per second of its own calls' time, and the median latency.
///
/// The throughput leaves out each side's slowest 1 % of calls: on a virtual machine a call
/// now and then waits milliseconds for its CPU (the slowest calls of either side range from
/// 0.2 to 5 ms, at random), and a few such stalls falling on one side move its rate by
/// several percent; the 99 % that remain hold the work being compared.
async fn sequential_pair(
    calls: usize,
    sdk: &PlaidClient,
    hand: &HandWritten,
) -> ((f64, Duration, f64), (f64, Duration, f64)) {
    let mut s = Vec::with_capacity(calls);
    let mut h = Vec::with_capacity(calls);
    for i in 0..calls {
        for side in if i % 2 == 0 { [0, 1] } else { [1, 0] } {
            let t = Instant::now();
            if side == 0 {
                sdk_call(sdk).await;
                s.push(t.elapsed());
            } else {
                hand.call().await;
                h.push(t.elapsed());
            }
        }
    }
    let summary = |mut latencies: Vec<Duration>| {
        latencies.sort();
        let kept = &latencies[..latencies.len() - latencies.len() / 100];
        let total: Duration = kept.iter().sum();
        let all: Duration = latencies.iter().sum();
        (
            kept.len() as f64 / total.as_secs_f64(),
            latencies[latencies.len() / 2],
            latencies.len() as f64 / all.as_secs_f64(),
        )
    };
    (summary(s), summary(h))
}

/// CPU time this thread (the client's runtime) has spent, from `/proc/thread-self/schedstat`
/// (zero where that file does not exist).
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// `calls` calls at `in_flight` at once: the calls made, the time they took and the client
/// thread's CPU time over them.
async fn concurrent<F, Fut>(calls: usize, in_flight: usize, f: F) -> (usize, Duration, Duration)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let cpu = thread_cpu();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let f = Arc::clone(&f);
        tasks.spawn(async move {
            for _ in 0..calls / in_flight {
                f().await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let made = calls / in_flight * in_flight;
    (made, elapsed, thread_cpu().saturating_sub(cpu))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--profile sdk|hand`: only that side (20,000 calls one by one, then 40,000 at 32 in
    // flight; `--no-sequential` skips the first part), for a profiler to sample.
    let profile = std::env::args().skip_while(|a| a != "--profile").nth(1);
    let rss_side = std::env::args().skip_while(|a| a != "--rss").nth(1);
    let (rounds, calls, in_flight) = if quick { (3, 500, 32) } else { (7, 2000, 32) };
    // `--sleeping-server`: the server's thread sleeps when idle (see `serve`).
    let base = serve(!std::env::args().any(|a| a == "--sleeping-server"));
    runtime().block_on(async move {
        let sdk = sdk_client(&base);
        let hand = Arc::new(HandWritten::new(&base));

        if let Some(side) = profile {
            let seq = if std::env::args().any(|a| a == "--no-sequential") { 0 } else { 20_000 };
            for _ in 0..seq {
                if side == "sdk" {
                    sdk_call(&sdk).await;
                } else {
                    hand.call().await;
                }
            }
            if side == "sdk" {
                let c = sdk.clone();
                concurrent(40_000, in_flight, move || { let c = c.clone(); async move { sdk_call(&c).await; } }).await;
            } else {
                let h = Arc::clone(&hand);
                concurrent(40_000, in_flight, move || { let h = Arc::clone(&h); async move { h.call().await; } }).await;
            }
            return;
        }
        // `--rss sdk|hand`: one side alone, sequential then at 32 in flight, and this
        // process's peak RSS (the server included, the same in both), for the parent to compare.
        if let Some(side) = rss_side.as_deref() {
            for _ in 0..calls {
                if side == "sdk" { sdk_call(&sdk).await; } else { hand.call().await; }
            }
            if side == "sdk" {
                let c = sdk.clone();
                concurrent(calls * 2, in_flight, move || { let c = c.clone(); async move { sdk_call(&c).await; } }).await;
            } else {
                let h = Arc::clone(&hand);
                concurrent(calls * 2, in_flight, move || { let h = Arc::clone(&h); async move { h.call().await; } }).await;
            }
            println!("{}", peak_rss_kib().unwrap_or(0));
            return;
        }
        // Same wire request: compare once before timing anything.
        assert_eq!(sdk_call(&sdk).await, hand.call().await.request_id);
        assert_eq!(hand.call().await.processor_token, "processor-sandbox-0asd1-a92nc");
        for _ in 0..500 {
            sdk_call(&sdk).await;
            hand.call().await;
        }

        let mut sdk_rounds = Vec::new();
        let mut hand_rounds = Vec::new();
        for round in 0..rounds {
            let (s_seq, h_seq) = sequential_pair(calls, &sdk, &hand).await;
            // 32 in flight: the sides take turns block by block (which goes first alternates).
            let (mut s_conc, mut h_conc) = (Vec::new(), Vec::new());
            for block in 0..BLOCKS {
                for side in if (round + block) % 2 == 0 { [0, 1] } else { [1, 0] } {
                    if side == 0 {
                        let c = sdk.clone();
                        s_conc.push(concurrent(calls * 2 / BLOCKS, in_flight, move || {
                            let c = c.clone();
                            async move {
                                sdk_call(&c).await;
                            }
                        })
                        .await);
                    } else {
                        let h = Arc::clone(&hand);
                        h_conc.push(concurrent(calls * 2 / BLOCKS, in_flight, move || {
                            let h = Arc::clone(&h);
                            async move {
                                h.call().await;
                            }
                        })
                        .await);
                    }
                }
            }
            sdk_rounds.push(Round::new(s_seq, &s_conc));
            hand_rounds.push(Round::new(h_seq, &h_conc));
        }
        let summarize = |rounds: &[Round]| {
            (
                median(rounds.iter().map(|r| r.sequential_rps).collect()),
                median(rounds.iter().map(|r| r.p50.as_secs_f64() * 1e6).collect()),
                median(rounds.iter().map(|r| r.concurrent_rps).collect()),
                median(rounds.iter().map(|r| r.concurrent_cpu.as_secs_f64() * 1e6).collect()),
            )
        };
        let (s_seq, s_p50, s_conc, s_cpu) = summarize(&sdk_rounds);
        let (h_seq, h_p50, h_conc, h_cpu) = summarize(&hand_rounds);
        let all = |rounds: &[Round]| median(rounds.iter().map(|r| r.sequential_all_rps).collect());
        let (s_all, h_all) = (all(&sdk_rounds), all(&hand_rounds));
        println!("processor_token_create, loopback, {rounds} rounds of {calls} sequential calls per side (taking turns call by call) + {} at {in_flight} in flight (in {BLOCKS} alternating blocks); medians over the rounds", calls * 2);
        println!("{:<14} {:>14} {:>10} {:>16} {:>22}", "", "sequential/s", "p50 µs", "concurrent/s", "client CPU µs per call");
        println!("{:<14} {:>14.0} {:>10.1} {:>16.0} {:>22.1}", "hand-written", h_seq, h_p50, h_conc, h_cpu);
        println!("{:<14} {:>14.0} {:>10.1} {:>16.0} {:>22.1}", "plaid-sdk", s_seq, s_p50, s_conc, s_cpu);
        println!(
            "ratio sdk/hand: sequential throughput {:.3}, p50 latency {:.3}, concurrent throughput {:.3}, client CPU per concurrent call {:.3}",
            s_seq / h_seq,
            s_p50 / h_p50,
            s_conc / h_conc,
            s_cpu / h_cpu
        );
        println!(
            "sequential throughput over every call, stalls included: hand-written {h_all:.0}/s, plaid-sdk {s_all:.0}/s, ratio {:.3}",
            s_all / h_all
        );
        // Peak RSS, each side in a process of its own (with its own copy of the server).
        let rss = |side: &str| -> Option<f64> {
            let out = std::process::Command::new(std::env::current_exe().ok()?)
                .args(["--rss", side])
                .args(if quick { &["--quick"][..] } else { &[][..] })
                .output()
                .ok()?;
            String::from_utf8_lossy(&out.stdout).trim().lines().last()?.parse::<f64>().ok()
        };
        let (mut sdk_rss, mut hand_rss) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            if let (Some(s), Some(h)) = (rss("sdk"), rss("hand")) {
                sdk_rss.push(s);
                hand_rss.push(h);
            }
        }
        if !sdk_rss.is_empty() {
            let (s, h) = (median(sdk_rss), median(hand_rss));
            println!(
                "peak RSS (one side per process, server included, median of 3): hand-written {:.1} MiB, plaid-sdk {:.1} MiB, ratio {:.3}",
                h / 1024.0,
                s / 1024.0,
                s / h
            );
        }
    });
}
