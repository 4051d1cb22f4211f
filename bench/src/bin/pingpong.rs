//! `dp-pingpong [--cpus A,B] [--round-trips N] [--json]`
//!
//! Measures how long a cache line takes to go from one CPU to another and back: two threads,
//! pinned to CPUs A and B, bounce a counter through one cache-line-aligned atomic. On a VM the
//! result tells where the host placed the two vCPUs (same core complex ~100 ns, far ~350 ns),
//! which decides whether a vhost-user run between them lands in the fast or the slow state.
//! Run it only while no poller is busy on either CPU.

use clap::Parser;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "dp-pingpong",
    version,
    about = "Cache-line round trip between two CPUs"
)]
struct Args {
    /// The two CPUs, e.g. 0,1.
    #[arg(long, default_value = "0,1")]
    cpus: String,
    /// Round trips per sample.
    #[arg(long, default_value_t = 20_000)]
    round_trips: u64,
    /// Samples; the median is reported.
    #[arg(long, default_value_t = 7)]
    samples: usize,
    /// Print {"round_trip_ns": ..., "samples_ns": [...]} instead of text.
    #[arg(long)]
    json: bool,
}

#[repr(align(128))]
struct Line(AtomicU64);

fn pin(cpu: usize) -> Result<(), String> {
    let ok = core_affinity::set_for_current(core_affinity::CoreId { id: cpu });
    if ok {
        Ok(())
    } else {
        Err(format!("cannot pin a thread to CPU {cpu}"))
    }
}

/// Median round trip in nanoseconds over `n` round trips.
fn sample(a: usize, b: usize, n: u64) -> Result<f64, String> {
    let line = Arc::new(Line(AtomicU64::new(0)));
    let other = line.clone();
    pin(a)?;
    let responder = std::thread::spawn(move || -> Result<(), String> {
        pin(b)?;
        // Odd values are pings, even values pongs; answer each ping with the next pong.
        let mut expect = 1u64;
        while expect < 2 * n {
            if other.0.load(Ordering::Acquire) == expect {
                other.0.store(expect + 1, Ordering::Release);
                expect += 2;
            } else {
                std::hint::spin_loop();
            }
        }
        Ok(())
    });
    let start = Instant::now();
    for i in 0..n {
        line.0.store(2 * i + 1, Ordering::Release);
        while line.0.load(Ordering::Acquire) != 2 * i + 2 {
            std::hint::spin_loop();
        }
    }
    let elapsed = start.elapsed();
    responder
        .join()
        .map_err(|_| "responder thread panicked".to_string())??;
    Ok(elapsed.as_nanos() as f64 / n as f64)
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let cpus: Vec<usize> = match args
        .cpus
        .split(',')
        .map(|c| c.trim().parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(v) if v.len() == 2 && v[0] != v[1] => v,
        _ => {
            eprintln!(
                "dp-pingpong: --cpus {:?}: give two different CPU numbers, e.g. 0,1",
                args.cpus
            );
            return std::process::ExitCode::from(2);
        }
    };
    if args.round_trips == 0 || args.samples == 0 {
        eprintln!("dp-pingpong: --round-trips and --samples must be at least 1");
        return std::process::ExitCode::from(2);
    }
    let mut samples = Vec::with_capacity(args.samples);
    for _ in 0..args.samples {
        match sample(cpus[0], cpus[1], args.round_trips) {
            Ok(ns) => samples.push(ns),
            Err(e) => {
                eprintln!("dp-pingpong: {e}");
                return std::process::ExitCode::from(1);
            }
        }
    }
    let mut sorted = samples.clone();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "round_trip_ns": median, "samples_ns": samples })
        );
    } else {
        println!(
            "cpu {} <-> cpu {}: cache-line round trip {:.0} ns (median of {} x {} round trips)",
            cpus[0], cpus[1], median, args.samples, args.round_trips
        );
    }
    std::process::ExitCode::SUCCESS
}
