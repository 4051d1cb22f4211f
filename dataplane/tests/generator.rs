//! The bench generator (`dp-traffic --duration`) through the real dataplane: two vhost-user
//! ports, the generator as two virtio_user guests, traffic both ways. These check what the
//! generator and the dataplane's self-measurement report, not how fast anything is.

mod common;

use common::*;
use serde_json::Value;

fn direction(r: &Value, d: usize) -> &Value {
    &r["generator"]["directions"][d]
}

fn num(v: &Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("no {field} in {v}"))
}

/// The worker's `final` line fields that are not integers.
fn worker_float(f: &Finals, field: &str) -> f64 {
    f.0["worker"][field]
        .parse()
        .unwrap_or_else(|e| panic!("worker {field}: {e}"))
}

/// Starts the dataplane with two vhost-user ports, runs the generator with `args` through
/// it, stops the dataplane and checks it exited 0. Returns the generator's report, the
/// dataplane's final counters and its diagnostics.
fn run_generator(test: &str, args: &[&str]) -> (Value, Finals, String) {
    let _serial = serial();
    let s = Scratch::new(test);
    let socks = vec![s.sock("a"), s.sock("b")];
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let r = traffic(&s, &socks, &[], args);
    let (st, finals, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    (r, finals, diag)
}

#[test]
fn paced_imix_both_ways_arrives_complete_and_in_order() {
    let rate = 20_000.0;
    let (r, finals, diag) = run_generator(
        "gen-paced",
        &[
            "--duration",
            "1",
            "--warmup",
            "0.3",
            "--size",
            "imix",
            "--flows",
            "1000",
            "--rate",
            "20k",
            "--verify-payload",
            "--quiet",
        ],
    );
    let g = &r["generator"];
    assert_eq!(g["size"], "imix");
    assert_eq!(num(g, "macs"), 2000);
    assert_eq!(
        num(g, "learn_received"),
        2000,
        "one learning frame per flow and direction: {r}"
    );
    let window = g["seconds"].as_f64().unwrap();
    let mut received_total = 0;
    for d in 0..2 {
        let dir = direction(&r, d);
        let (sent, received) = (num(dir, "sent"), num(dir, "received"));
        assert!(sent > 0, "direction {d} sent nothing: {r}");
        // The pacer never runs ahead of the rate (one burst of slack).
        assert!(
            sent as f64 <= rate * window + 32.0,
            "direction {d}: {sent} frames in {window} s at {rate}/s: {r}"
        );
        assert_eq!(received, sent, "direction {d} lost frames: {r}");
        for field in ["lost", "late", "corrupt", "misdelivered"] {
            assert_eq!(num(dir, field), 0, "direction {d} {field}: {r}");
        }
        let lat = &dir["latency_us"];
        assert_eq!(
            num(lat, "samples"),
            received,
            "one latency sample per frame"
        );
        let (p50, p99, max) = (
            lat["p50"].as_f64().unwrap(),
            lat["p99"].as_f64().unwrap(),
            lat["max"].as_f64().unwrap(),
        );
        assert!(
            0.0 < p50 && p50 <= p99 && p99 <= max,
            "percentiles out of order: {lat}"
        );
        received_total += received;
    }
    // The switch learned every MAC, forwarded at least what arrived, and lost no buffer.
    assert_eq!(finals.get("bridge=br0", "learned"), 2000, "{diag}");
    assert!(
        finals.get("bridge=br0", "forwarded") >= received_total,
        "{diag}"
    );
    assert_eq!(finals.get("mempool", "in_use"), 0, "{diag}");
    // Self-measurement: every received packet was counted, in bursts of 1..=32.
    let rx_ports = finals.get("port=vhu0", "rx") + finals.get("port=vhu1", "rx");
    assert_eq!(finals.get("worker", "rx_packets"), rx_ports, "{diag}");
    let per_burst = worker_float(&finals, "pkts_per_burst");
    assert!((1.0..=32.0).contains(&per_burst), "{diag}");
    assert!(worker_float(&finals, "cycles_per_pkt") > 0.0, "{diag}");
    let busy = finals.get("worker", "busy_cycles");
    let idle = finals.get("worker", "idle_cycles");
    assert!(busy > 0 && idle > 0, "{diag}");
}

#[test]
fn closed_loop_spreads_over_every_flow() {
    // 6000 MACs fit the default table (8192 entries).
    let (r, finals, diag) = run_generator(
        "gen-loop",
        &[
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--size",
            "128",
            "--flows",
            "3000",
            "--reflect",
            "64",
            "--quiet",
        ],
    );
    assert_eq!(r["generator"]["reflect"], 64);
    for d in 0..2 {
        let dir = direction(&r, d);
        assert!(num(dir, "received") > 0, "direction {d}: {r}");
        assert_eq!(num(dir, "corrupt"), 0, "{r}");
        assert_eq!(num(dir, "misdelivered"), 0, "{r}");
        // The loop holds what was seeded, at most (frames can leave it, never join it).
        let in_flight = num(dir, "in_flight_at_start");
        assert!(
            0 < in_flight && in_flight <= 64,
            "direction {d}: {in_flight} in flight: {r}"
        );
    }
    // Learning taught the switch all 6000 MACs; the loop then keeps them all in use, so
    // none is unknown (flooded) after learning and the table never overflowed.
    assert_eq!(finals.get("bridge=br0", "learned"), 6000, "{diag}");
    assert_eq!(finals.get("bridge=br0", "table_full"), 0, "{diag}");
    assert_eq!(
        finals.get("bridge=br0", "flooded_unknown"),
        3000,
        "only the first frame of each flow toward port 1 was unknown: {diag}"
    );
    assert_eq!(finals.get("mempool", "in_use"), 0, "{diag}");
}
