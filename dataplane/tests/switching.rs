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
    let diag = learn_forward_flood("learn", &[]);
    assert!(
        diag.contains("(vhost library)") && !diag.contains("driver net_vhost"),
        "the default serves vhost-user ports through the vhost library\n{diag}"
    );
}

/// The same scenario through the other vhost-user path: the net_vhost PMD.
#[test]
fn learns_forwards_and_floods_through_the_net_vhost_pmd() {
    let diag = learn_forward_flood("learnpmd", &["--vhost-path", "pmd"]);
    assert!(
        diag.contains("driver net_vhost") && !diag.contains("(vhost library)"),
        "--vhost-path pmd serves vhost-user ports through the net_vhost PMD\n{diag}"
    );
}

/// Learning, forwarding to learned MACs, flooding unknown, broadcast and multicast
/// destinations, and filtering frames to their own ingress port, on three vhost-user ports
/// opened with `extra` app args. Returns the dataplane's diagnostics (stdout and stderr).
fn learn_forward_flood(test: &str, extra: &[&str]) -> String {
    let _serial = serial();
    let s = Scratch::new(test);
    let socks = three_socks(&s);
    let mut app = vhost_args(&socks);
    app.extend(extra.iter().map(|a| a.to_string()));
    let dp = Dataplane::start(&s, &app);
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
    diag
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
    // The guests have left by now: their MACs are in the table, or already flushed.
    assert_eq!(
        f.get("bridge=br0", "macs") + f.get("bridge=br0", "flushed"),
        2,
        "{diag}"
    );
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
    // 3 s: steps 0 and 1 must both fall within it even on a loaded two-core machine.
    let cfg = s.write("aging.toml", "[bridge]\nmac_aging_secs = 3\n");
    app.extend(["--config".into(), cfg.display().to_string()]);
    let dp = Dataplane::start(&s, &app);
    let steps = [
        step(0, A, BCAST, 2, 64),                          // 0: learns A
        step(1, B, A, 5, 64),                              // 1: A known: port 0 only
        format!("{},delay_ms=6500", step(2, C, A, 5, 64)), // 2: A aged out: floods
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

/// When a guest goes away, the MACs learned on its port are flushed (frames to them flood
/// again instead of going nowhere) while static entries stay; the mempool's in-use count is
/// in the periodic stats.
#[test]
fn macs_of_a_guest_that_leaves_are_flushed() {
    let _serial = serial();
    let s = Scratch::new("flush");
    let socks = three_socks(&s);
    let mut app = vhost_args(&socks);
    let cfg = s.write(
        "flush.toml",
        &format!("[[bridge.static_mac]]\nmac = \"{C}\"\nport = \"vhu2\"\n"),
    );
    app.extend(["--config".into(), cfg.display().to_string()]);
    app.extend(["--stats-interval".into(), "0.2".into()]);
    let dp = Dataplane::start(&s, &app);
    let steps = [
        step(0, A, BCAST, 2, 64), // learns A on port 0
        step(1, B, A, 2, 64),     // learns B on port 1; A is known
    ];
    let r = traffic(&s, &socks, &steps, &[]);
    assert_eq!(rx_all(&r, 1, 3), [2, 0, 0]);
    // The traffic tool has exited: every guest is gone, so A and B are flushed and only the
    // static C is left.
    let flushed = dp.wait_line(
        |l| l.starts_with("stats ") && l.contains("bridge=br0 macs=1 ") && l.contains(" flushed=2"),
        std::time::Duration::from_secs(30),
    );
    assert!(flushed, "A and B were not flushed:\n{}", dp.diagnostics());
    assert!(
        dp.stdout().iter().any(|l| l.starts_with("stats ")
            && l.contains(" mempool size=")
            && l.contains(" in_use=")),
        "the mempool's in-use count is in the periodic stats\n{}",
        dp.diagnostics()
    );
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("bridge=br0", "flushed"), 2, "A and B\n{diag}");
    assert_eq!(f.get("bridge=br0", "learned"), 2, "{diag}");
}

/// A server socket in a directory that does not exist yet: the directory is created with
/// socket_dir_mode, the socket gets socket_mode and socket_group, and a guest attaches.
#[test]
fn server_sockets_get_their_directory_mode_and_group() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let _serial = serial();
    let s = Scratch::new("sockacl");
    let dir = s.dir.join("run/dataplane");
    let socks = [dir.join("vm1.sock"), dir.join("vm2.sock")];
    let mut ports = String::new();
    for (i, p) in socks.iter().enumerate() {
        ports += &format!(
            "[[port]]\nname = \"vm{i}\"\ntype = \"vhost-user\"\npath = \"{}\"\n\
             socket_mode = \"0640\"\nsocket_group = \"nogroup\"\nsocket_dir_mode = \"0750\"\n",
            p.display()
        );
    }
    let cfg = s.write("acl.toml", &ports);
    let dp = Dataplane::start(&s, &["--config".into(), cfg.display().to_string()]);
    let nogroup = std::fs::read_to_string("/etc/group")
        .unwrap()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.first() == Some(&"nogroup")).then(|| f[2].parse::<u32>().unwrap())
        })
        .expect("Debian has a nogroup group");
    let d = std::fs::metadata(&dir).unwrap();
    assert_eq!(d.permissions().mode() & 0o7777, 0o750, "directory mode");
    for sock in &socks {
        let m = std::fs::symlink_metadata(sock).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o640, "{}", sock.display());
        assert_eq!(m.gid(), nogroup, "{}", sock.display());
    }
    let r = traffic(&s, &socks, &[step(0, A, BCAST, 3, 64)], &[]);
    assert_eq!(
        rx_all(&r, 0, 2),
        [0, 3],
        "a guest attaches through the socket"
    );
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
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
    assert_eq!(
        f.get("bridge=br0", "macs") + f.get("bridge=br0", "flushed"),
        1,
        "only B (in the table, or flushed once the guests left)\n{diag}"
    );
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

#[test]
fn client_mode_ports_connect_to_guest_owned_sockets() {
    let _serial = serial();
    let s = Scratch::new("client");
    let socks = vec![s.sock("vm1"), s.sock("vm2")];
    let cfg = s.write("client.toml", &client_ports_config(&socks));
    // The sockets do not exist yet: like QEMU started after the switch, the guests create
    // them, and the dataplane's reconnect loop finds them.
    let dp = Dataplane::start(&s, &["--config".into(), cfg.display().to_string()]);
    let r = traffic(
        &s,
        &socks,
        &[
            step(0, A, B, 5, 64),
            step(1, B, A, 5, 64),
            step(0, A, B, 5, 64),
        ],
        &["--server"],
    );
    assert_eq!(rx_all(&r, 0, 2), [0, 5]);
    assert_eq!(rx_all(&r, 1, 2), [5, 0]);
    assert_eq!(rx_all(&r, 2, 2), [0, 5]);
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{diag}");
    assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
    assert_eq!(f.get("bridge=br0", "forwarded"), 10, "{diag}");
}

/// Writes a classic pcap file (linktype Ethernet) holding `frames`.
fn write_pcap(path: &std::path::Path, frames: &[Vec<u8>]) {
    let mut out = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        out.extend_from_slice(v);
    }
    for v in [0u32, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for f in frames {
        for v in [0u32, 0, f.len() as u32, f.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(f);
    }
    std::fs::write(path, out).unwrap();
}

/// The frames of a classic little-endian pcap file.
fn read_pcap(path: &std::path::Path) -> Vec<Vec<u8>> {
    let b = std::fs::read(path).unwrap();
    // Microsecond or (what DPDK's net_pcap writes) nanosecond timestamps.
    let magic = u32::from_le_bytes(b[0..4].try_into().unwrap());
    assert!(
        magic == 0xa1b2_c3d4 || magic == 0xa1b2_3c4d,
        "not a little-endian pcap file"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        frames.push(b[at + 16..at + 16 + caplen].to_vec());
        at += 16 + caplen;
    }
    frames
}

fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

#[test]
fn ethdev_ports_switch_with_vhost_ports() {
    // A `type = "dpdk"` port is the code path of a vfio-pci NIC; net_pcap stands in for
    // the NIC: its rx replays a file, its tx writes one.
    let _serial = serial();
    let s = Scratch::new("pcap");
    let wire_mac = "02:00:00:00:00:77";
    let frame_in: Vec<u8> = [
        mac(B).as_slice(),
        &mac(wire_mac),
        &[0x08, 0x00],
        &[0x45; 50],
    ]
    .concat();
    let input = s.dir.join("in.pcap");
    let output = s.dir.join("out.pcap");
    write_pcap(&input, &vec![frame_in; 5]);
    let cfg = s.write(
        "pcap.toml",
        &format!(
            "[[port]]\nname = \"wire\"\ntype = \"dpdk\"\ndevargs = \"net_pcap_wire,rx_pcap={},tx_pcap={}\"\n",
            input.display(),
            output.display()
        ),
    );
    let socks = vec![s.sock("vm1")];
    let mut app = vec!["--config".to_string(), cfg.display().to_string()];
    app.extend(vhost_args(&socks));
    let dp = Dataplane::start(&s, &app);
    // The pcap port replays its 5 frames at once, while no guest is attached: they are
    // flooded to vhu0, whose link is down. The wire MAC is learned all the same.
    let r = traffic(&s, &socks, &[step(0, B, wire_mac, 10, 100)], &[]);
    assert_eq!(
        rx_all(&r, 0, 1),
        [0],
        "a learned destination on the wire side: not back to the guest"
    );
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert_eq!(f.get("port=wire", "rx"), 5, "{diag}");
    assert_eq!(f.get("port=vhu0", "drop_tx_link_down"), 5, "{diag}");
    assert_eq!(f.get("port=wire", "tx"), 10, "{diag}");
    assert_eq!(f.get("bridge=br0", "forwarded"), 10, "{diag}");
    let out = read_pcap(&output);
    assert_eq!(out.len(), 10, "frames written by the pcap port");
    for fr in &out {
        assert_eq!(fr.len(), 100);
        assert_eq!(&fr[0..6], &mac(wire_mac));
        assert_eq!(&fr[6..12], &mac(B));
        assert_eq!(&fr[14..18], b"DPTG", "the traffic tool's tag, unchanged");
    }
}

#[test]
fn sigint_under_load_returns_every_mbuf() {
    let _serial = serial();
    let s = Scratch::new("load");
    let socks = vec![s.sock("a"), s.sock("b")];
    let mut app = vhost_args(&socks);
    app.extend(["--stats-interval".into(), "0.5".into()]);
    let dp = Dataplane::start(&s, &app);
    let socks2 = socks.clone();
    // The guests keep blasting after the switch is gone; whatever they report is not the
    // point here, so their thread's result is ignored.
    let guests = std::thread::spawn(move || {
        let g = Scratch::new("loadg");
        traffic(&g, &socks2, &[], &["--duration", "4"])
    });
    // Wait until frames are flowing through the switch, then interrupt it mid-stream.
    let under_load = |l: &str| {
        l.starts_with("stats ")
            && l.contains("port=vhu0")
            && l.split_whitespace()
                .find_map(|w| w.strip_prefix("rx_pps="))
                .and_then(|v| v.parse::<f64>().ok())
                .is_some_and(|pps| pps > 100_000.0)
    };
    assert!(
        dp.wait_line(under_load, std::time::Duration::from_secs(30)),
        "no traffic seen:\n{}",
        dp.diagnostics()
    );
    let (st, f, diag) = dp.stop();
    assert_clean_exit(st, &f, &socks, &diag);
    assert!(
        f.get("port=vhu0", "rx") > 0 && f.get("port=vhu1", "rx") > 0,
        "{diag}"
    );
    let _ = guests.join();
}

/// A guest that stops reading its receive ring: frames to it wait in the port's buffer for
/// up to `tx_retries_max` loop passes without progress (counted as tx_retries), then are
/// dropped and counted; every frame is either delivered or counted, none is held forever
/// or leaked, and with `tx_retries_max = 0` nothing waits.
#[test]
fn full_guest_ring_is_retried_then_dropped_and_counted() {
    let _serial = serial();
    const SENT: u64 = 2000;
    for retries in [8u8, 0] {
        let s = Scratch::new(&format!("txretry{retries}"));
        let socks = vec![s.sock("a"), s.sock("b")];
        let cfg = s.write(
            "retry.toml",
            &format!(
                "[[port]]\nname = \"a\"\ntype = \"vhost-user\"\npath = \"{}\"\n\n\
                 [[port]]\nname = \"b\"\ntype = \"vhost-user\"\npath = \"{}\"\ntx_retries_max = {retries}\n",
                socks[0].display(),
                socks[1].display()
            ),
        );
        let dp = Dataplane::start(&s, &["--config".into(), cfg.display().to_string()]);
        let steps = [
            step(1, B, BCAST, 1, 64),       // learns B on port 1
            step(0, A, B, SENT as u32, 64), // port 1 is not read until this is sent
        ];
        let r = traffic(&s, &socks, &steps, &["--hold-rx", "1"]);
        let (st, f, diag) = dp.stop();
        assert!(st.success(), "{diag}");
        assert_eq!(f.get("mempool", "in_use"), 0, "{diag}");
        assert_eq!(sent(&r, 1), SENT, "{diag}");
        let delivered = f.get("port=b", "tx");
        let dropped = f.get("port=b", "drop_tx_queue_full");
        // Frame 0 (B's broadcast) went to port a; port b's tx is step 1 alone.
        assert_eq!(
            delivered + dropped,
            SENT,
            "every frame delivered or counted\n{diag}"
        );
        assert_eq!(
            rx(&r, 1, 1),
            delivered,
            "the held guest got what was sent to it\n{diag}"
        );
        assert!(
            dropped > 0,
            "a 256-entry ring cannot take {SENT} frames\n{diag}"
        );
        let tried = f.get("port=b", "tx_retries");
        eprintln!(
            "tx_retries_max={retries}: delivered={delivered} dropped={dropped} tx_retries={tried}"
        );
        if retries == 0 {
            assert_eq!(tried, 0, "tx_retries_max = 0 never waits\n{diag}");
        } else {
            assert!(
                tried >= u64::from(retries),
                "a full ring is tried {retries} more times before a drop\n{diag}"
            );
        }
    }
}
