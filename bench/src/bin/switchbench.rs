//! `dp-switchbench [--macs N] [--frames N] [--no-prefetch]`
//!
//! The switch logic alone (tier 4: `Bridge::process`, no DPDK, no I/O), in bursts of 32 the
//! way the worker calls it: how many cycles a frame costs the MAC table with 2 or with a
//! million MACs, with and without the burst's table prefetch. Frames come from a small ring
//! of buffers (in L1), so what is measured is the table, not packet memory.
//!
//! Deterministic enough for `valgrind --tool=callgrind` instruction counts as well.

use clap::Parser;
use dpdk::tsc_now;
use std::time::Instant;
use switch::bridge::{Bridge, BridgeConfig, Verdict};
use switch::wire::MacAddr;

#[derive(Parser, Debug)]
#[command(
    name = "dp-switchbench",
    version,
    about = "Cycles per frame of the learning switch, no I/O"
)]
struct Args {
    /// Distinct MACs (two per flow, one behind each of two ports).
    #[arg(long, default_value_t = 2)]
    macs: u32,
    /// Frames to switch (after one learning pass).
    #[arg(long, default_value_t = 20_000_000)]
    frames: u64,
    /// Skip the per-burst MAC table prefetch (to see what it buys).
    #[arg(long)]
    no_prefetch: bool,
    /// Leave the MAC table on 4 KiB pages (no transparent huge pages).
    #[arg(long)]
    no_thp: bool,
    /// Bursts prefetched together before any of them is switched (the worker receives on
    /// every port, then prefetches for all of the bursts, then switches them).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=MAX_WINDOW as i64))]
    window: u16,
    /// Prefetch distance inside the window: 0 prefetches the whole window before switching
    /// any of it; D > 0 keeps D frames ahead (prefetch frame i + D, then switch frame i).
    #[arg(long, default_value_t = 0)]
    distance: usize,
    /// MAC table capacity.
    #[arg(long, default_value_t = 1_000_000)]
    table: usize,
}

const BURST: usize = 32;
const MAX_WINDOW: usize = 8;

fn mac(side: u8, flow: u32) -> MacAddr {
    let f = flow.to_be_bytes();
    MacAddr([0x02, 0x10 | side, f[0], f[1], f[2], f[3]])
}

/// Writes the Ethernet header of flow `flow`, direction `dir`, into `buf`.
fn frame(buf: &mut [u8; 64], dir: u8, flow: u32) {
    buf[0..6].copy_from_slice(&mac(dir ^ 1, flow).0);
    buf[6..12].copy_from_slice(&mac(dir, flow).0);
    buf[12..14].copy_from_slice(&0x88b5u16.to_be_bytes());
}

fn main() {
    let args = Args::parse();
    let flows = (args.macs / 2).max(1);
    let mut bridge = Bridge::new(BridgeConfig {
        n_ports: 2,
        tunnel: false,
        capacity: args.table,
        aging_ticks: u64::MAX / 2,
        static_macs: vec![],
    })
    .unwrap_or_else(|e| {
        eprintln!("dp-switchbench: {e}");
        std::process::exit(2)
    });
    if !args.no_thp {
        let (addr, len) = bridge.table().memory_region();
        match dataplane::memory::advise_huge_pages(addr, len) {
            Ok(bytes) => println!("MAC table: {} MiB on transparent huge pages", bytes >> 20),
            Err(why) => println!("MAC table on 4 KiB pages: {why}"),
        }
    }
    let mut bufs = vec![[0u8; 64]; BURST * MAX_WINDOW];
    // Learning pass: every MAC once from its own port.
    for flow in 0..flows {
        for dir in 0..2u8 {
            frame(&mut bufs[0], dir, flow);
            bridge.process(dir as u16, &bufs[0], 0);
        }
    }
    let mut verdicts = [0u64; 3];
    let (mut flow, mut dir) = (0u32, 0u8);
    let hz = measured_tsc_hz();
    let t0 = Instant::now();
    let c0 = tsc_now();
    let mut done = 0u64;
    let mut now = 1u64;
    while done < args.frames {
        // A burst arrives on one port: frames of consecutive flows, one direction.
        let window = &mut bufs[..BURST * args.window as usize];
        for b in window.iter_mut() {
            frame(b, dir, flow);
            flow += 1;
            if flow == flows {
                flow = 0;
            }
        }
        let ahead = if args.no_prefetch {
            0
        } else if args.distance == 0 {
            window.len()
        } else {
            args.distance.min(window.len())
        };
        for b in &window[..ahead] {
            bridge.prefetch(b);
        }
        for (i, b) in window.iter().enumerate() {
            if args.distance > 0 && !args.no_prefetch {
                if let Some(next) = window.get(i + ahead) {
                    bridge.prefetch(next);
                }
            }
            match bridge.process(dir as u16, b, now) {
                Verdict::Forward(_) => verdicts[0] += 1,
                Verdict::Flood => verdicts[1] += 1,
                Verdict::Drop(_) => verdicts[2] += 1,
            }
        }
        dir ^= 1;
        now += 1;
        done += window.len() as u64;
    }
    let cycles = tsc_now() - c0;
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "macs={} frames={} prefetch={} cycles_per_frame={:.1} mpps={:.1} forwarded={} flooded={} dropped={} (tsc {:.2} GHz)",
        2 * flows,
        done,
        !args.no_prefetch,
        cycles as f64 / done as f64,
        done as f64 / secs / 1e6,
        verdicts[0],
        verdicts[1],
        verdicts[2],
        hz / 1e9
    );
}

/// TSC ticks per second, measured against the monotonic clock over 50 ms (no EAL here, so
/// `dpdk::tsc_hz` is not available).
fn measured_tsc_hz() -> f64 {
    let (t, c) = (Instant::now(), tsc_now());
    std::thread::sleep(std::time::Duration::from_millis(50));
    (tsc_now() - c) as f64 / t.elapsed().as_secs_f64()
}
