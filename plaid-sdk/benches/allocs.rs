//! Heap allocations per call: the SDK's processor-token call against the hand-written reqwest
//! call of `overhead.rs`, counted by dhat's global allocator (in this binary alone, since it
//! serializes every allocation and would distort timings). Counts are exact and repeat from
//! run to run, where timings on a shared machine do not.
//!
//! `cargo bench -p plaid-sdk --bench allocs`. The loopback server runs in the same process,
//! so its allocations are in both sides' counts alike (it gets the same request bytes); the
//! difference between the two sides is the clients'.

mod common;
use common::{HandWritten, runtime, sdk_call, sdk_client, serve};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Calls per side and round, and rounds (the sides alternate round by round).
const CALLS: u64 = 500;
const ROUNDS: usize = 4;

fn main() {
    let base = serve(false);
    runtime().block_on(async move {
        let sdk = sdk_client(&base);
        let hand = HandWritten::new(&base);
        // Same answer on both sides before anything is counted.
        let created = hand.call().await;
        assert_eq!(sdk_call(&sdk).await, created.request_id);
        assert!(!created.processor_token.is_empty());
        // Connections, pools and lazily built state exist before counting starts.
        for _ in 0..200 {
            sdk_call(&sdk).await;
            hand.call().await;
        }
        let _profiler = dhat::Profiler::builder().testing().build();
        let count = || {
            let stats = dhat::HeapStats::get();
            (stats.total_blocks, stats.total_bytes)
        };
        let (mut sdk_total, mut hand_total) = ((0, 0), (0, 0));
        for round in 0..ROUNDS {
            for side in if round % 2 == 0 { [0, 1] } else { [1, 0] } {
                let before = count();
                for _ in 0..CALLS {
                    if side == 0 {
                        sdk_call(&sdk).await;
                    } else {
                        hand.call().await;
                    }
                }
                let after = count();
                let total = if side == 0 { &mut sdk_total } else { &mut hand_total };
                total.0 += after.0 - before.0;
                total.1 += after.1 - before.1;
            }
        }
        let calls = CALLS * ROUNDS as u64;
        let per_call = |(blocks, bytes): (u64, u64)| {
            (blocks as f64 / calls as f64, bytes as f64 / calls as f64)
        };
        let (s_blocks, s_bytes) = per_call(sdk_total);
        let (h_blocks, h_bytes) = per_call(hand_total);
        println!("processor_token_create, loopback, {calls} sequential calls per side; allocations per call, the in-process server's included");
        println!("{:<14} {:>12} {:>12}", "", "allocations", "bytes");
        println!("{:<14} {:>12.1} {:>12.0}", "hand-written", h_blocks, h_bytes);
        println!("{:<14} {:>12.1} {:>12.0}", "plaid-sdk", s_blocks, s_bytes);
        println!(
            "difference (SDK - hand-written): {:+.1} allocations, {:+.0} bytes per call",
            s_blocks - h_blocks,
            s_bytes - h_bytes
        );
    });
}
