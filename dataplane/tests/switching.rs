//! End-to-end behaviour of the learning switch: the real `dataplane` binary with
//! server-mode vhost-user ports, and `dp-traffic` attached to them as guests through DPDK
//! virtio_user. Each test checks what arrived on which port, byte for byte, and the
//! dataplane's own final counters after a signal-driven shutdown.

mod common;

use common::*;

const A: &str = "02:00:00:00:00:0a";
const B: &str = "02:00:00:00:00:0b";
const C: &str = "02:00:00:00:00:0c";
const BCAST: &str = "ff:ff:ff:ff:ff:ff";
const MCAST: &str = "01:00:5e:00:00:fb";

fn three_socks(s: &Scratch) -> Vec<std::path::PathBuf> {
    vec![s.sock("a"), s.sock("b"), s.sock("c")]
}

/// Asserts the shutdown contract: exit 0, every mbuf back, every socket removed.
fn assert_clean_exit(
    st: std::process::ExitStatus,
    finals: &Finals,
    socks: &[std::path::PathBuf],
    diag: &str,
) {
    assert!(st.success(), "dataplane exit status {st:?}\n{diag}");
    assert_eq!(
        finals.get("mempool", "in_use"),
        0,
        "mbufs not returned to the pool\n{diag}"
    );
    for p in socks {
        assert!(!p.exists(), "socket {} left behind\n{diag}", p.display());
    }
}

#[test]
fn learns_forwards_and_floods() {
    let _serial = serial();
    let s = Scratch::new("learn");
    let socks = three_socks(&s);
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let n = 20;
    let steps = [
        step(0, A, B, n, 64),     // 0: B unknown: flooded to 1 and 2, never back to 0
        step(1, B, A, n, 128),    // 1: A learned from step 0: only port 0
        step(0, A, B, n, 1518),   // 2: B learned from step 1: only port 1
        step(2, C, BCAST, n, 60), // 3: broadcast: everyone but 2
        step(1, B, MCAST, n, 90), // 4: multicast: everyone but 1
        step(0, A, C, n, 1000),   // 5: C learned from step 3: only port 2
        step(1, "02:00:00:00:00:0d", B, n, 64), // 6: B lives on port 1 itself: filtered
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    for i in 0..steps.len() {
        assert_eq!(
            sent(&r, i),
            n as u64,
            "step {i} could not send everything: {r}"
        );
    }
    let n = n as u64;
    assert_eq!(
        rx_all(&r, 0, 3),
        [0, n, n],
        "unknown unicast floods, not back to ingress"
    );
    assert_eq!(
        rx_all(&r, 1, 3),
        [n, 0, 0],
        "learned destination: that port only"
    );
    assert_eq!(
        rx_all(&r, 2, 3),
        [0, n, 0],
        "learned destination: that port only (1518 B)"
    );
    assert_eq!(
        rx_all(&r, 3, 3),
        [n, n, 0],
        "broadcast floods, not back to ingress"
    );
    assert_eq!(
        rx_all(&r, 4, 3),
        [n, 0, n],
        "multicast floods, not back to ingress"
    );
    assert_eq!(
        rx_all(&r, 5, 3),
        [0, 0, n],
        "learned destination: that port only"
    );
    assert_eq!(
        rx_all(&r, 6, 3),
        [0, 0, 0],
        "a frame is never sent back out its ingress port"
    );
    assert_eq!(
        r["foreign"],
        serde_json::json!([0, 0, 0]),
        "nothing but our frames: {r}"
    );

    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("bridge=br0", "learned"), 4, "A, B, C and D\n{diag}");
    assert_eq!(
        f.get("bridge=br0", "flooded"),
        3 * n,
        "steps 0, 3, 4\n{diag}"
    );
    assert_eq!(f.get("bridge=br0", "flooded_unknown"), n, "step 0\n{diag}");
    assert_eq!(
        f.get("bridge=br0", "forwarded"),
        3 * n,
        "steps 1, 2, 5\n{diag}"
    );
    assert_eq!(
        f.get("port=vhu1", "drop_dst_is_ingress"),
        n,
        "step 6\n{diag}"
    );
    assert_eq!(f.get("port=vhu0", "rx"), 3 * n, "{diag}");
    assert_eq!(f.get("port=vhu0", "tx"), 3 * n, "steps 1, 3, 4\n{diag}");
    assert_eq!(f.get("port=vhu2", "tx"), 3 * n, "steps 0, 4, 5\n{diag}");
}

#[test]
fn table_limit_keeps_known_macs_working() {
    let _serial = serial();
    let s = Scratch::new("limit");
    let socks = three_socks(&s);
    let mut app = vhost_args(&socks);
    let cfg = s.write("limit.toml", "[bridge]\nmac_table_size = 2\n");
    app.extend(["--config".into(), cfg.display().to_string()]);
    let dp = Dataplane::start(&s, &app);
    let steps = [
        step(0, A, BCAST, 3, 64), // 0: learns A
        step(1, B, BCAST, 3, 64), // 1: learns B: table full
        step(2, C, BCAST, 5, 64), // 2: C not learned
        step(0, A, C, 4, 64),     // 3: C unknown: floods
        step(0, A, B, 4, 64),     // 4: B known: port 1 only
        step(2, C, A, 4, 64),     // 5: A known: port 0 only
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(
        rx_all(&r, 3, 3),
        [0, 4, 4],
        "a MAC the full table could not learn floods"
    );
    assert_eq!(
        rx_all(&r, 4, 3),
        [0, 4, 0],
        "known MACs keep working when the table is full"
    );
    assert_eq!(rx_all(&r, 5, 3), [4, 0, 0]);
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("bridge=br0", "macs"), 2, "{diag}");
    assert_eq!(f.get("bridge=br0", "learned"), 2, "{diag}");
    assert_eq!(
        f.get("bridge=br0", "table_full"),
        5 + 4,
        "every frame from C in steps 2 and 5\n{diag}"
    );
}

#[test]
fn learned_macs_age_out() {
    let _serial = serial();
    let s = Scratch::new("aging");
    let socks = three_socks(&s);
    let mut app = vhost_args(&socks);
    let cfg = s.write("aging.toml", "[bridge]\nmac_aging_secs = 1\n");
    app.extend(["--config".into(), cfg.display().to_string()]);
    let dp = Dataplane::start(&s, &app);
    let steps = [
        step(0, A, BCAST, 2, 64),                          // 0: learns A
        step(1, B, A, 5, 64),                              // 1: A known: port 0 only
        format!("{},delay_ms=2500", step(2, C, A, 5, 64)), // 2: A aged out: floods
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(rx_all(&r, 1, 3), [5, 0, 0]);
    assert_eq!(
        rx_all(&r, 2, 3),
        [5, 5, 0],
        "after the aging time the entry is gone and frames flood"
    );
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert!(f.get("bridge=br0", "aged") >= 2, "A and B aged\n{diag}");
}

#[test]
fn static_entries_never_move_or_age() {
    let _serial = serial();
    let s = Scratch::new("static");
    let socks = three_socks(&s);
    let mut app = vhost_args(&socks);
    let cfg = s.write(
        "static.toml",
        &format!("[bridge]\nmac_aging_secs = 1\n\n[[bridge.static_mac]]\nmac = \"{C}\"\nport = \"vhu2\"\n"),
    );
    app.extend(["--config".into(), cfg.display().to_string()]);
    let dp = Dataplane::start(&s, &app);
    let steps = [
        step(0, A, C, 3, 64),     // 0: static: port 2 only, before any learning
        step(0, C, BCAST, 4, 64), // 1: C shows up on port 0: no move
        step(1, B, C, 3, 64),     // 2: still port 2
        format!("{},delay_ms=2500", step(1, B, C, 3, 64)), // 3: past the aging time: still port 2
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(rx_all(&r, 0, 3), [0, 0, 3]);
    assert_eq!(
        rx_all(&r, 1, 3),
        [0, 4, 4],
        "the frame itself is still switched"
    );
    assert_eq!(rx_all(&r, 2, 3), [0, 0, 3], "a static entry does not move");
    assert_eq!(rx_all(&r, 3, 3), [0, 0, 3], "a static entry does not age");
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("bridge=br0", "moved"), 0, "{diag}");
    assert_eq!(f.get("bridge=br0", "static_pinned"), 4, "{diag}");
}

#[test]
fn mac_moves_are_followed_and_counted() {
    let _serial = serial();
    let s = Scratch::new("move");
    let socks = three_socks(&s);
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let steps = [
        step(0, A, BCAST, 2, 64), // 0: A on port 0
        step(1, B, A, 3, 64),     // 1: to port 0
        step(2, A, BCAST, 2, 64), // 2: A moves to port 2
        step(1, B, A, 3, 64),     // 3: to port 2
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(rx_all(&r, 1, 3), [3, 0, 0]);
    assert_eq!(rx_all(&r, 3, 3), [0, 0, 3], "forwarding follows the move");
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("bridge=br0", "moved"), 1, "{diag}");
}

#[test]
fn runts_dropped_and_group_sources_not_learned() {
    let _serial = serial();
    let s = Scratch::new("bad");
    let socks = three_socks(&s);
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    let steps = [
        step(0, A, B, 7, 10),     // 0: 10-byte runts: dropped, counted on port 0
        step(0, MCAST, B, 4, 64), // 1: multicast source: switched (flooded), not learned
        step(1, B, MCAST, 3, 64), // 2: multicast destination: flooded
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(
        r["foreign"],
        serde_json::json!([0, 0, 0]),
        "no runt got through: {r}"
    );
    assert_eq!(rx_all(&r, 1, 3), [0, 4, 4]);
    assert_eq!(rx_all(&r, 2, 3), [3, 0, 3]);
    let (st, f, diag) = dp.stop_with(libc::SIGTERM);
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("port=vhu0", "drop_malformed"), 7, "{diag}");
    assert_eq!(f.get("bridge=br0", "src_not_learnable"), 4, "{diag}");
    assert_eq!(f.get("bridge=br0", "macs"), 1, "only B\n{diag}");
}

#[test]
fn stale_socket_is_replaced_and_guests_can_reattach() {
    let _serial = serial();
    let s = Scratch::new("stale");
    let socks = vec![s.sock("a"), s.sock("b")];
    // What a killed dataplane leaves behind: a socket file nobody listens on.
    drop(std::os::unix::net::UnixListener::bind(&socks[0]).unwrap());
    assert!(socks[0].exists());
    let dp = Dataplane::start(&s, &vhost_args(&socks));
    // Two guest sessions one after the other, as when a VM reboots.
    for round in 0..2 {
        let r = traffic(
            &s,
            &socks,
            &[step(0, A, B, 5, 64), step(1, B, A, 5, 64)],
            &[],
        );
        assert_eq!(rx_all(&r, 0, 2), [0, 5], "round {round}");
        assert_eq!(rx_all(&r, 1, 2), [5, 0], "round {round}");
    }
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
}
