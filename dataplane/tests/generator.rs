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

/// A paced IMIX run over 1000 flows, every payload byte checked: the workload of the paced
/// tests, through plain switching and through the VTEP.
const PACED_IMIX: [&str; 12] = [
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
];
/// `--rate` of [`PACED_IMIX`], per direction.
const PACED_RATE: f64 = 20_000.0;

/// Asserts that a [`PACED_IMIX`] run learned every flow, never ran ahead of its rate and
/// delivered every frame in order and intact, both ways. Returns what each direction
/// received.
#[track_caller]
fn assert_paced_run_complete(r: &Value) -> [u64; 2] {
    let g = &r["generator"];
    assert_eq!(
        num(g, "learn_received"),
        2000,
        "one learning frame per flow and direction: {r}"
    );
    let window = g["seconds"].as_f64().unwrap();
    let mut received = [0; 2];
    for (d, got) in received.iter_mut().enumerate() {
        let dir = direction(r, d);
        let sent = num(dir, "sent");
        *got = num(dir, "received");
        assert!(sent > 0, "direction {d} sent nothing: {r}");
        // The pacer never runs ahead of the rate (one burst of slack).
        assert!(
            sent as f64 <= PACED_RATE * window + 32.0,
            "direction {d}: {sent} frames in {window} s at {PACED_RATE}/s: {r}"
        );
        assert_eq!(*got, sent, "direction {d} lost frames: {r}");
        for field in ["lost", "late", "corrupt", "misdelivered"] {
            assert_eq!(num(dir, field), 0, "direction {d} {field}: {r}");
        }
    }
    received
}

#[test]
fn paced_imix_both_ways_arrives_complete_and_in_order() {
    let (r, finals, diag) = run_generator("gen-paced", &PACED_IMIX);
    let g = &r["generator"];
    assert_eq!(g["size"], "imix");
    assert_eq!(num(g, "macs"), 2000);
    let received = assert_paced_run_complete(&r);
    let mut received_total = 0;
    for (d, &received) in received.iter().enumerate() {
        let dir = direction(&r, d);
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
    let mut in_flight = 0;
    for d in 0..2 {
        let dir = direction(&r, d);
        assert!(num(dir, "received") > 0, "direction {d}: {r}");
        assert_eq!(num(dir, "corrupt"), 0, "{r}");
        assert_eq!(num(dir, "misdelivered"), 0, "{r}");
        assert!(num(dir, "in_flight_at_start") > 0, "direction {d}: {r}");
        in_flight += num(dir, "in_flight_at_start");
    }
    // The loop holds what was seeded, at most (frames can leave it, never join it). A
    // reflected frame changes direction, so only the total is bounded: a loaded machine
    // can catch one direction holding more than its 64 (seen: 96 and 32).
    assert!(in_flight <= 128, "{in_flight} in flight: {r}");
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

// ---------------------------------------------------------------- VXLAN mode
//
// `dp-traffic --vxlan VNI`: port 0 is a guest on the dataplane's bridge, port 1 the
// dataplane's VXLAN underlay port with the generator as the remote VTEP 172.31.0.1 behind
// it. Direction 0->1 is encapsulated by the dataplane, 1->0 decapsulated.

const VNI: &str = "123";
/// The generator's underlay MAC (dp-traffic's --vxlan-mac default).
const GEN_VTEP_MAC: &str = "02:31:00:00:00:01";

/// The bench's VXLAN config: a guest port `vm` on bridge br0 (VNI 123) and the underlay
/// port `uplink`, both vhost-user. MTU 1600: the generator's largest inner frame (1518
/// bytes without FCS) needs 1554. With `static_neighbor` the generator's MAC is configured
/// instead of resolved with ARP.
fn vxlan_config(s: &Scratch, static_neighbor: bool) -> String {
    let mut c = format!(
        r#"[[port]]
name = "vm"
type = "vhost-user"
path = "{vm}"

[[port]]
name = "uplink"
type = "vhost-user"
path = "{uplink}"

[vtep]
port = "uplink"
ip = "172.31.0.2/24"
mtu = 1600

[bridge]
ports = ["vm"]
vni = {VNI}
remote_vteps = ["172.31.0.1"]
mac_table_size = 16384
"#,
        vm = s.sock("vm").display(),
        uplink = s.sock("uplink").display(),
    );
    if static_neighbor {
        c += &format!("\n[[vtep.neighbor]]\nip = \"172.31.0.1\"\nmac = \"{GEN_VTEP_MAC}\"\n");
    }
    c
}

/// Starts the dataplane with the VXLAN config, runs the generator in VXLAN mode with `args`
/// (port 0: the guest socket, port 1: the underlay socket), stops the dataplane and checks
/// it exited 0.
fn run_vxlan(test: &str, static_neighbor: bool, args: &[&str]) -> (Value, Finals, String) {
    let _serial = serial();
    let s = Scratch::new(test);
    let cfg = s.write("dataplane.toml", &vxlan_config(&s, static_neighbor));
    let dp = Dataplane::start(&s, &["--config".to_string(), cfg.display().to_string()]);
    let mut all = vec!["--vxlan", VNI];
    all.extend_from_slice(args);
    let r = traffic(&s, &[s.sock("vm"), s.sock("uplink")], &[], &all);
    let (st, finals, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    (r, finals, diag)
}

/// Every `drop_*` field of the final line of `what` is zero, except `tx_queue_full` (a full
/// guest ring, which the closed loop's seeding can cause) and those in `allowed`.
fn assert_no_drops(finals: &Finals, what: &str, allowed: &[&str], diag: &str) {
    let fields = finals
        .0
        .get(what)
        .unwrap_or_else(|| panic!("no final line for {what}: {diag}"));
    for (k, v) in fields {
        if k.starts_with("drop_") && k != "drop_tx_queue_full" && !allowed.contains(&k.as_str()) {
            assert_eq!(v, "0", "{what} {k}: {diag}");
        }
    }
}

/// What the dataplane's VTEP must show after any VXLAN generator run: both ways used,
/// nothing dropped, every buffer back.
fn assert_vtep_finals(r: &Value, finals: &Finals, diag: &str) {
    let encap = finals.get("vtep", "encapsulated");
    let decap = finals.get("vtep", "decapsulated");
    // Direction 0->1 frames were all encapsulated by it, 1->0 frames all decapsulated.
    assert!(
        encap > 0 && encap >= num(direction(r, 0), "received"),
        "{diag}"
    );
    assert!(
        decap > 0 && decap >= num(direction(r, 1), "received"),
        "{diag}"
    );
    assert_no_drops(finals, "vtep", &[], diag);
    assert_no_drops(finals, "port=vm", &[], diag);
    // The VTEP starts resolving its remote at once, before the generator is attached to
    // the underlay port: those ARP requests are the only frames that may meet a link down.
    assert_no_drops(finals, "port=uplink", &["drop_tx_link_down"], diag);
    assert!(
        finals.get("port=uplink", "drop_tx_link_down") <= finals.get("vtep", "arp_requests_sent"),
        "{diag}"
    );
    assert!(finals.get("bridge=br0", "forwarded_remote") > 0, "{diag}");
    assert_eq!(finals.get("mempool", "in_use"), 0, "{diag}");
    // The generator saw only good VXLAN on the underlay and learned the VTEP's MAC.
    let v = &r["generator"]["vxlan"];
    assert_eq!(num(v, "vni"), 123, "{r}");
    assert!(
        v["remote_mac"].is_string(),
        "never heard from the VTEP: {r}"
    );
    assert_eq!(v["outer_errors"], serde_json::json!({}), "{r}");
    assert_eq!(v["encapsulated_by_switch"], "0->1");
}

#[test]
fn vxlan_paced_imix_both_ways_through_the_vtep_arp_resolved() {
    let (r, finals, diag) = run_vxlan("gen-vx-paced", false, &PACED_IMIX);
    let g = &r["generator"];
    assert_paced_run_complete(&r);
    assert_eq!(g["foreign"], serde_json::json!([0, 0]), "{r}");
    // No static neighbour: the VTEP resolved the generator with ARP. It asks at start; the
    // generator listens a while and answers, and asks itself if it heard nothing (a request
    // for the VTEP's address resolves its sender too). Which one happened is timing.
    let v = &g["vxlan"];
    assert!(
        num(v, "arp_requests_answered") + num(v, "arp_requests_sent") >= 1,
        "{r}"
    );
    if num(v, "arp_requests_answered") > 0 {
        assert!(finals.get("vtep", "arp_requests_sent") >= 1, "{diag}");
    }
    assert_eq!(finals.get("vtep", "neighbors_resolved"), 1, "{diag}");
    assert_eq!(finals.get("bridge=br0", "learned"), 2000, "{diag}");
    assert_vtep_finals(&r, &finals, &diag);
}

#[test]
fn vxlan_closed_loop_1518_with_a_static_neighbour() {
    let (r, finals, diag) = run_vxlan(
        "gen-vx-loop",
        true,
        &[
            "--duration",
            "1",
            "--warmup",
            "0.2",
            "--size",
            "1518",
            "--flows",
            "3000",
            "--reflect",
            "64",
            "--quiet",
        ],
    );
    assert_eq!(r["generator"]["reflect"], 64);
    let mut in_flight = 0;
    for d in 0..2 {
        let dir = direction(&r, d);
        assert!(num(dir, "received") > 0, "direction {d}: {r}");
        assert_eq!(num(dir, "corrupt"), 0, "{r}");
        assert_eq!(num(dir, "misdelivered"), 0, "{r}");
        in_flight += num(dir, "in_flight_at_start");
    }
    // The loop holds what was seeded, at most. Per direction it can hold more than its 64:
    // a frame of one direction that comes back is sent on as a frame of the other.
    assert!(
        0 < in_flight && in_flight <= 128,
        "{in_flight} in flight: {r}"
    );
    assert_eq!(finals.get("bridge=br0", "learned"), 6000, "{diag}");
    assert_eq!(finals.get("bridge=br0", "table_full"), 0, "{diag}");
    // The static neighbour needs no ARP from the VTEP.
    assert_eq!(finals.get("vtep", "arp_requests_sent"), 0, "{diag}");
    assert_vtep_finals(&r, &finals, &diag);
}
