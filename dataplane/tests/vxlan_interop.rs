//! Interop of our VXLAN VTEP with Linux's own vxlan driver, on real wires: network
//! namespaces the tests create (and always remove), veth pairs, the real `dataplane`
//! binary inside a namespace with a `net_af_packet` underlay port and a `net_tap`
//! bridge port, and kernel endpoints that ARP, ping and exchange UDP datagrams through it.
//!
//! Test 1's topology (the others vary it):
//!
//! ```text
//!  ns K (kernel VTEP)              ns D (dataplane)                      ns E (endpoint)
//!  vx0 10.0.0.1 (vni 123)          [vtep] 172.31.0.2 on "uplink"         dpt0 10.0.0.2
//!   └ vk0 172.31.0.1 ── veth ── vd0 = net_af_packet0  bridge: "ep" = net_tap0 ═ dpt0
//! ```
//!
//! The TAP `dpt0` is created by the dataplane's tap PMD inside D and then moved into E
//! (`ip link set dpt0 netns E`). The PMD keeps working after the move: it reads and writes
//! the TAP through its file descriptor, which does not care about namespaces. Only the
//! link state it reports turns to `down` (the PMD asks for `dpt0`'s flags by name, in D,
//! where no `dpt0` is left); the dataplane uses that state for nothing but naming a tx
//! drop's reason. When the dataplane exits, its descriptor closes and the kernel deletes
//! the TAP in E. (Verified with the dataplane before the VTEP: E pinged K through it, 3/3
//! both ways, and the dataplane exited 0 with every mbuf back.)
//!
//! Offloads are off on every veth end a DPDK port reads or feeds (see
//! `common::netns::Netns::offloads_off`), and IPv6 is off in every namespace, so the only
//! frames on the wires are the ones the tests cause.
//!
//! Every dataplane runs with `--pmd-sleep-max 500`: its worker sleeps when idle, so the
//! kernel peers, ping, Python and tcpdump get CPU time on a two-core machine.

mod common;

use common::netns::*;
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use switch::wire::{
    EtherType, EthernetFrame, IpProtocol, Ipv4Packet, MacAddr, UdpPacket, VxlanPacket,
};

const VNI: u32 = 123;
const VXLAN_PORT: u16 = 4789;
/// Underlay addresses: the kernel VTEP, our VTEP, our second VTEP (three-VTEP test).
const K_UNDERLAY: &str = "172.31.0.1";
const D_UNDERLAY: &str = "172.31.0.2";
const D2_UNDERLAY: &str = "172.31.0.3";
/// Overlay addresses: behind the kernel VTEP, behind ours, behind our second one.
const K_OVERLAY: &str = "10.0.0.1";
const E_OVERLAY: &str = "10.0.0.2";
const E2_OVERLAY: &str = "10.0.0.3";
const OVERLAY_BCAST: &str = "10.0.0.255";

/// UDP payload sizes of one exchange: 20 distinct datagrams, up to 1422 bytes, the largest
/// that crosses a 1500-byte underlay: 1422 + 8 (UDP) + 20 (IPv4) + 14 (Ethernet) = 1464,
/// the largest inner frame, + 36 (outer IPv4, UDP, VXLAN) = 1500.
const SIZES: [usize; 20] = [
    16, 17, 33, 64, 100, 128, 255, 256, 300, 511, 512, 700, 999, 1000, 1024, 1200, 1300, 1400,
    1421, 1422,
];

/// EAL options (`-l 0-1 --no-pci --no-huge -m 256`, a unique `--file-prefix`) and app
/// options for a dataplane reading `cfg`.
fn dataplane_args(s: &Scratch, cfg: &Path) -> (Vec<String>, Vec<String>) {
    let app = [
        "--config",
        &cfg.display().to_string(),
        "--pmd-sleep-max",
        "500",
        "--stats-interval",
        "1",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    (dataplane_eal(s), app)
}

/// The config of a dataplane whose VTEP `ip` sits on `net_af_packet0,iface=vd0` and whose
/// bridge (VNI 123) has the TAP `dpt0` as its only local port.
fn vtep_config(ip: &str, remotes: &[&str]) -> String {
    let remotes: Vec<String> = remotes.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        r#"[[port]]
name = "uplink"
type = "dpdk"
devargs = "net_af_packet0,iface=vd0"

[[port]]
name = "ep"
type = "dpdk"
devargs = "net_tap0,iface=dpt0"

[vtep]
port = "uplink"
ip = "{ip}/24"

[bridge]
ports = ["ep"]
vni = {VNI}
remote_vteps = [{}]
"#,
        remotes.join(", ")
    )
}

/// Starts a dataplane with `cfg_text` inside `d`, moves the TAP it creates (`dpt0`) into
/// `e`, gives it `mac` (if any) and `ip`/24 there, and brings it up.
fn start_vtep(
    s: &Scratch,
    d: &Netns,
    e: &Netns,
    cfg_text: &str,
    ip: &str,
    mac: Option<&str>,
) -> Dataplane {
    let cfg = s.write("dataplane.toml", cfg_text);
    let (eal, app) = dataplane_args(s, &cfg);
    let dp = Dataplane::start_in(d, s, &eal, &app);
    assert!(
        wait_until(WAIT, || d.has_link("dpt0")),
        "the tap PMD did not create dpt0 in {}:\n{}",
        d.name,
        dp.diagnostics()
    );
    d.ip(&format!("link set dpt0 netns {}", e.name));
    assert!(
        wait_until(WAIT, || e.has_link("dpt0")),
        "dpt0 did not show up in {}",
        e.name
    );
    if let Some(mac) = mac {
        e.ip(&format!("link set dpt0 address {mac}"));
    }
    e.ip(&format!("addr add {ip}/24 brd + dev dpt0"));
    e.ip("link set dpt0 up");
    dp
}

/// Asserts exit status 0 and every mbuf back; returns the final counters.
#[track_caller]
fn stop_clean(dp: Dataplane, which: &str) -> (Finals, String) {
    let (st, f, diag) = dp.stop();
    assert!(st.success(), "{which}: exit status {st:?}\n{diag}");
    let finals: Vec<&str> = diag.lines().filter(|l| l.starts_with("final ")).collect();
    eprintln!("{which}:\n{}", finals.join("\n"));
    assert_eq!(
        f.get("mempool", "in_use"),
        0,
        "{which}: mbufs not returned to the pool\n{diag}"
    );
    (f, diag)
}

/// Test 1's topology: kernel VTEP in K, our VTEP in D, endpoint E behind our bridge.
/// Fields drop in order: the dataplane stops before the namespaces go, and the scratch
/// directory (with the DPDK runtime dir) goes last.
struct PointToPoint {
    dp: Dataplane,
    e: Netns,
    d: Netns,
    k: Netns,
    probe: PathBuf,
    s: Scratch,
}

fn point_to_point(test: &str) -> PointToPoint {
    let s = Scratch::new(test);
    let probe = udp_probe(&s);
    let k = Netns::new("k");
    let d = Netns::new("d");
    let e = Netns::new("e");
    veth(&k, "vk0", &d, "vd0");
    k.offloads_off("vk0");
    d.offloads_off("vd0");
    k.ip(&format!("addr add {K_UNDERLAY}/24 dev vk0"));
    k.ip(&format!(
        "link add name vx0 type vxlan id {VNI} local {K_UNDERLAY} remote {D_UNDERLAY} \
         dstport {VXLAN_PORT} dev vk0"
    ));
    k.ip(&format!("addr add {K_OVERLAY}/24 brd + dev vx0"));
    k.ip("link set vx0 up");
    let dp = start_vtep(
        &s,
        &d,
        &e,
        &vtep_config(D_UNDERLAY, &[K_UNDERLAY]),
        E_OVERLAY,
        None,
    );
    PointToPoint {
        dp,
        e,
        d,
        k,
        probe,
        s,
    }
}

/// Sends `sizes` from `from` to `dst:port` and asserts they all arrive at a receiver bound
/// in `to`, once each, byte-identical, from `src_ip`.
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn udp_exchange(
    what: &str,
    probe: &Path,
    from: &Netns,
    src_ip: &str,
    to: &Netns,
    dst: &str,
    port: u16,
    sports: &[u16],
    sizes: &[usize],
) {
    let tag = format!("{what}-{port}").replace(' ', "_");
    let rx = UdpReceiver::start(to, probe, dst, port, &tag);
    let sent = udp_send(from, probe, dst, port, &tag, sizes, sports, false);
    assert_eq!(sent.len(), sizes.len());
    let got = rx.finish();
    assert_same_datagrams(what, &sent, &got, src_ip);
}

#[test]
fn kernel_vxlan_and_our_vtep_carry_arp_icmp_and_udp_both_ways() {
    let _serial = serial();
    let t = point_to_point("vxp2p");
    let (k, e, d) = (&t.k, &t.e, &t.d);

    // Overlay: the first ping waits for two ARP resolutions (E for K's overlay MAC over
    // the tunnel, our VTEP for K's underlay MAC), so it is retried; then every one counts.
    e.ping_until_answered(K_OVERLAY);
    e.ping_all_answered(K_OVERLAY, 3);
    k.ping_all_answered(E_OVERLAY, 3);

    // ARP across the tunnel, both ways: each side holds the other's overlay MAC.
    let (k_mac, e_mac) = (k.mac("vx0"), e.mac("dpt0"));
    assert_eq!(
        e.neigh_lladdr(K_OVERLAY, "dpt0").as_deref(),
        Some(k_mac.as_str()),
        "E resolved K's overlay address to K's vx0 MAC"
    );
    assert_eq!(
        k.neigh_lladdr(E_OVERLAY, "vx0").as_deref(),
        Some(e_mac.as_str()),
        "K resolved E's overlay address to E's TAP MAC"
    );

    // Our VTEP's own address answers ping, from the underlay port's MAC.
    k.ping_until_answered(D_UNDERLAY);
    k.ping_all_answered(D_UNDERLAY, 3);
    assert_eq!(
        k.neigh_lladdr(D_UNDERLAY, "vk0"),
        Some(d.mac("vd0")),
        "K resolved our VTEP's address to the underlay port's MAC"
    );

    // UDP both ways, payloads checked byte for byte, up to the largest that fits.
    udp_exchange(
        "E to K",
        &t.probe,
        e,
        E_OVERLAY,
        k,
        K_OVERLAY,
        5000,
        &[40001],
        &SIZES,
    );
    udp_exchange(
        "K to E",
        &t.probe,
        k,
        K_OVERLAY,
        e,
        E_OVERLAY,
        5001,
        &[40002],
        &SIZES,
    );

    let (f, diag) = stop_clean(t.dp, "dataplane");
    let n = SIZES.len() as u64;
    // Each way: 20 datagrams + END, plus 3 or more echo requests or replies.
    assert!(f.get("vtep", "encapsulated") >= n + 1 + 3 + 3, "{diag}");
    assert!(f.get("vtep", "decapsulated") >= n + 1 + 3 + 3, "{diag}");
    assert!(
        f.get("vtep", "icmp_echo_replied") >= 3,
        "the 3 echo requests K sent to our VTEP's address, all answered\n{diag}"
    );
    assert_eq!(
        f.get("vtep", "drop_ip_bad_checksum"),
        0,
        "the kernel's packets arrive intact (offloads off)\n{diag}"
    );
    assert_eq!(f.get("vtep", "drop_remote_not_accepted"), 0, "{diag}");
    assert_eq!(f.get("vtep", "drop_encap_too_big"), 0, "{diag}");
    assert_eq!(
        f.get("bridge=br0", "learned"),
        2,
        "E's MAC on the TAP, K's behind the tunnel\n{diag}"
    );
    assert_eq!(f.get("bridge=br0", "moved"), 0, "{diag}");
}

/// Two bridges on one VTEP, VNIs 123 and 124, each with its own TAP endpoint, against a
/// kernel VTEP carrying both VNIs (and a third, 125, that we do not carry).
#[test]
fn two_vnis_stay_apart_on_one_underlay() {
    let _serial = serial();
    let s = Scratch::new("vx2vni");
    let k = Netns::new("k");
    let d = Netns::new("d");
    let e = Netns::new("e");
    let f = Netns::new("f");
    veth(&k, "vk0", &d, "vd0");
    k.offloads_off("vk0");
    d.offloads_off("vd0");
    k.ip(&format!("addr add {K_UNDERLAY}/24 dev vk0"));
    for (dev, vni, overlay) in [
        ("vx0", 123, "10.0.0.1"),
        ("vx1", 124, "10.1.0.1"),
        ("vx2", 125, "10.2.0.1"),
    ] {
        k.ip(&format!(
            "link add name {dev} type vxlan id {vni} local {K_UNDERLAY} remote {D_UNDERLAY} \
             dstport {VXLAN_PORT} dev vk0"
        ));
        k.ip(&format!("addr add {overlay}/24 brd + dev {dev}"));
        k.ip(&format!("link set {dev} up"));
    }
    let cfg = s.write(
        "dataplane.toml",
        &format!(
            r#"[[port]]
name = "uplink"
type = "dpdk"
devargs = "net_af_packet0,iface=vd0"

[[port]]
name = "tenant-a"
type = "dpdk"
devargs = "net_tap0,iface=dpt0"

[[port]]
name = "tenant-b"
type = "dpdk"
devargs = "net_tap1,iface=dpt1"

[vtep]
port = "uplink"
ip = "{D_UNDERLAY}/24"

[[bridge]]
name = "a"
ports = ["tenant-a"]
vni = 123
remote_vteps = ["{K_UNDERLAY}"]

[[bridge]]
name = "b"
ports = ["tenant-b"]
vni = 124
remote_vteps = ["{K_UNDERLAY}"]
"#
        ),
    );
    let (eal, app) = dataplane_args(&s, &cfg);
    let dp = Dataplane::start_in(&d, &s, &eal, &app);
    for (tap, ns, ip) in [("dpt0", &e, "10.0.0.2"), ("dpt1", &f, "10.1.0.2")] {
        assert!(
            wait_until(WAIT, || d.has_link(tap)),
            "no {tap}:\n{}",
            dp.diagnostics()
        );
        d.ip(&format!("link set {tap} netns {}", ns.name));
        assert!(wait_until(WAIT, || ns.has_link(tap)), "{tap} did not move");
        ns.ip(&format!("addr add {ip}/24 brd + dev {tap}"));
        ns.ip(&format!("link set {tap} up"));
    }

    e.ping_until_answered("10.0.0.1");
    e.ping_all_answered("10.0.0.1", 3);
    f.ping_until_answered("10.1.0.1");
    f.ping_all_answered("10.1.0.1", 3);
    k.ping_all_answered("10.0.0.2", 2);
    k.ping_all_answered("10.1.0.2", 2);
    // Each tenant's ARP went to its own VNI only: K learned E's MAC on vx0 and F's on vx1.
    assert_eq!(k.neigh_lladdr("10.0.0.2", "vx0"), Some(e.mac("dpt0")));
    assert_eq!(k.neigh_lladdr("10.1.0.2", "vx1"), Some(f.mac("dpt1")));
    // VNI 125 is not ours: K's ARP requests for 10.2.0.2 are dropped and counted.
    let (sent, answered, _) = k.ping("10.2.0.2", 2, &["-W", "1"]);
    assert_eq!((sent, answered), (2, 0));

    let (fin, diag) = stop_clean(dp, "dataplane");
    for b in ["bridge=a", "bridge=b"] {
        assert_eq!(
            fin.get(b, "learned"),
            2,
            "{b}: its TAP's MAC and the kernel's vx MAC of its VNI, nothing of the other\n{diag}"
        );
        assert!(fin.get(b, "forwarded_remote") > 0, "{b}\n{diag}");
    }
    assert!(fin.get("vtep", "drop_vxlan_unknown_vni") >= 1, "{diag}");
    assert_eq!(fin.get("vtep", "drop_remote_not_accepted"), 0, "{diag}");
}

#[test]
fn oversize_frames_are_dropped_and_counted_while_the_largest_fitting_ones_pass() {
    let _serial = serial();
    let t = point_to_point("vxbig");
    let (k, e) = (&t.k, &t.e);
    e.ping_until_answered(K_OVERLAY);

    // 1472 bytes of ICMP payload: a 1500-byte IP packet, a 1514-byte frame (E's MTU is
    // 1500), 50 bytes too many for the 1500-byte underlay once encapsulated. DF is set,
    // and VTEPs do not fragment (RFC 7348 §4.3): no reply.
    let (tx, rx, text) = e.ping(K_OVERLAY, 3, &["-M", "do", "-s", "1472"]);
    assert_eq!(
        (tx, rx),
        (3, 0),
        "oversize pings must go unanswered:\n{text}"
    );

    // The largest that fits: 1422 + 8 + 20 + 14 = 1464-byte inner frames, 1500-byte outer
    // packets, both ways (K's vx0 has MTU 1450 = 1500 - 50: its replies fit too).
    let (tx, rx, text) = e.ping(K_OVERLAY, 3, &["-M", "do", "-s", "1422"]);
    assert_eq!((tx, rx), (3, 3), "the largest fitting pings pass:\n{text}");

    // And nothing else is disturbed.
    e.ping_all_answered(K_OVERLAY, 3);
    udp_exchange(
        "E to K after oversize",
        &t.probe,
        e,
        E_OVERLAY,
        k,
        K_OVERLAY,
        5010,
        &[40011],
        &SIZES,
    );
    udp_exchange(
        "K to E after oversize",
        &t.probe,
        k,
        K_OVERLAY,
        e,
        E_OVERLAY,
        5011,
        &[40012],
        &SIZES,
    );

    let (f, diag) = stop_clean(t.dp, "dataplane");
    assert_eq!(
        f.get("vtep", "drop_encap_too_big"),
        3,
        "exactly the three 1514-byte echo requests: nothing else was too big\n{diag}"
    );
    assert!(f.get("vtep", "encapsulated") > 0, "{diag}");
    assert!(f.get("vtep", "decapsulated") > 0, "{diag}");
}

/// What one captured VXLAN frame from our VTEP carried.
struct OurEncap {
    outer_sport: u16,
    inner: Vec<u8>,
}

/// Checks every header field our VTEP writes in `frame` (captured on K's vk0); panics with
/// `i` (the frame's index in the capture) and the reason otherwise. Returns `None` for a
/// frame another sender wrote.
fn check_our_vxlan(i: usize, frame: &[u8], k_mac: MacAddr, d_mac: MacAddr) -> Option<OurEncap> {
    let eth = EthernetFrame::new_checked(frame).unwrap_or_else(|e| panic!("frame {i}: {e}"));
    assert_eq!(
        eth.ethertype(),
        EtherType::IPV4,
        "frame {i}: the filter was udp"
    );
    let ip = Ipv4Packet::new_checked(eth.payload())
        .unwrap_or_else(|e| panic!("frame {i}: outer IPv4: {e}"));
    if ip.src() != D_UNDERLAY.parse::<Ipv4Addr>().unwrap() {
        return None;
    }
    assert_eq!(eth.src(), d_mac, "frame {i}: from the underlay port's MAC");
    assert_eq!(eth.dst(), k_mac, "frame {i}: to K's resolved MAC");
    assert!(ip.verify_checksum(), "frame {i}: outer IPv4 checksum");
    assert_eq!(ip.header_len(), 20, "frame {i}: no options");
    assert_eq!(
        usize::from(ip.total_len()) + 14,
        frame.len(),
        "frame {i}: outer total length"
    );
    assert!(ip.dont_fragment(), "frame {i}: DF set");
    assert!(!ip.is_fragment(), "frame {i}: not a fragment");
    assert_eq!(ip.ttl(), 64, "frame {i}: TTL");
    assert_eq!(ip.protocol(), IpProtocol::UDP, "frame {i}: protocol");
    assert_eq!(
        ip.dst(),
        K_UNDERLAY.parse::<Ipv4Addr>().unwrap(),
        "frame {i}: to K's VTEP"
    );
    let udp = UdpPacket::new_checked(ip.payload())
        .unwrap_or_else(|e| panic!("frame {i}: outer UDP: {e}"));
    assert_eq!(udp.dst_port(), VXLAN_PORT, "frame {i}: UDP dst port");
    assert_eq!(
        udp.checksum(),
        0,
        "frame {i}: outer UDP checksum 0 (RFC 7348)"
    );
    assert!(
        (49152..=65535).contains(&udp.src_port()),
        "frame {i}: UDP source port {} outside the dynamic range",
        udp.src_port()
    );
    assert_eq!(
        usize::from(udp.len()),
        ip.payload().len(),
        "frame {i}: UDP length"
    );
    let vx =
        VxlanPacket::new_checked(udp.payload()).unwrap_or_else(|e| panic!("frame {i}: VXLAN: {e}"));
    assert!(vx.has_vni(), "frame {i}: VXLAN I flag");
    assert_eq!(vx.vni(), VNI, "frame {i}: VNI");
    let hdr = &udp.payload()[..8];
    assert_eq!(
        [hdr[0], hdr[1], hdr[2], hdr[3], hdr[7]],
        [0x08, 0, 0, 0, 0],
        "frame {i}: VXLAN flags other than I and reserved bytes are zero"
    );
    Some(OurEncap {
        outer_sport: udp.src_port(),
        inner: vx.payload().to_vec(),
    })
}

/// The inner UDP flow (src ip, src port, dst ip, dst port) of an inner Ethernet frame.
fn inner_udp_flow(inner: &[u8]) -> Option<(Ipv4Addr, u16, Ipv4Addr, u16)> {
    let eth = EthernetFrame::new_checked(inner).ok()?;
    if eth.ethertype() != EtherType::IPV4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.protocol() != IpProtocol::UDP || ip.is_fragment() {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    Some((ip.src(), udp.src_port(), ip.dst(), udp.dst_port()))
}

#[test]
fn underlay_capture_shows_well_formed_vxlan_from_our_vtep() {
    let _serial = serial();
    let t = point_to_point("vxcap");
    let (k, e, d) = (&t.k, &t.e, &t.d);
    let capture = t.s.dir.join("underlay.pcap");
    let cap_path = capture.display().to_string();
    // -U and --immediate-mode: every packet is in the file as soon as it is seen; -Z root:
    // Debian's tcpdump otherwise drops to its own user before writing.
    let mut tcpdump = k.spawn(
        &[
            "tcpdump",
            "-i",
            "vk0",
            "-n",
            "-U",
            "--immediate-mode",
            "-Z",
            "root",
            "-w",
            &cap_path,
            "udp",
            "port",
            "4789",
        ],
        "tcpdump",
    );
    assert!(
        tcpdump.wait_line(|l| l.contains("listening on vk0"), WAIT),
        "tcpdump did not start:\n{}",
        tcpdump.diagnostics()
    );

    e.ping_until_answered(K_OVERLAY);
    // 16 flows (source ports 41000..41016), two datagrams each, every size distinct.
    let sports: Vec<u16> = (41000..41016).collect();
    let sizes: Vec<usize> = (0..32).map(|i| 40 + i * 37).collect();
    udp_exchange(
        "16 flows E to K",
        &t.probe,
        e,
        E_OVERLAY,
        k,
        K_OVERLAY,
        5002,
        &sports,
        &sizes,
    );

    let (k_mac, d_mac) = (k.mac("vk0"), d.mac("vd0"));
    let (k_mac, d_mac): (MacAddr, MacAddr) = (k_mac.parse().unwrap(), d_mac.parse().unwrap());
    // An encapsulated datagram of this exchange: from our VTEP, inner UDP to port 5002.
    let of_exchange = |f: &pcap::Record| {
        let eth = EthernetFrame::new_checked(&f.data).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        if ip.src() != D_UNDERLAY.parse::<Ipv4Addr>().unwrap() {
            return None;
        }
        let udp = UdpPacket::new_checked(ip.payload()).ok()?;
        let vx = VxlanPacket::new_checked(udp.payload()).ok()?;
        inner_udp_flow(vx.payload()).filter(|flow| flow.3 == 5002)
    };
    // The receiver got them all, so they crossed vk0; wait until tcpdump wrote them too
    // (32 datagrams and the END one).
    let mut frames = Vec::new();
    let written = wait_until(WAIT, || {
        frames = pcap::read(&capture).expect("a pcap file");
        frames.iter().filter_map(of_exchange).count() > sizes.len()
    });
    assert!(
        written,
        "the capture holds {} frames, not every datagram:\n{}",
        frames.len(),
        tcpdump.diagnostics()
    );
    let st = tcpdump.stop_with(libc::SIGINT, Duration::from_secs(30));
    assert!(
        st.is_some_and(|s| s.success()),
        "tcpdump: {st:?}\n{}",
        tcpdump.diagnostics()
    );
    let frames = pcap::read(&capture).expect("a pcap file");

    let mut ours = 0;
    let mut per_flow: BTreeMap<(Ipv4Addr, u16, Ipv4Addr, u16), BTreeSet<u16>> = BTreeMap::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f.data.len() as u32, f.orig_len, "frame {i} captured whole");
        let Some(enc) = check_our_vxlan(i, &f.data, k_mac, d_mac) else {
            continue;
        };
        ours += 1;
        if let Some(flow) = inner_udp_flow(&enc.inner) {
            per_flow.entry(flow).or_default().insert(enc.outer_sport);
        }
    }
    assert!(
        ours > sizes.len(),
        "{ours} frames from our VTEP in the capture"
    );
    let e_ip: Ipv4Addr = E_OVERLAY.parse().unwrap();
    let k_ip: Ipv4Addr = K_OVERLAY.parse().unwrap();
    for &p in &sports {
        let ports = per_flow
            .get(&(e_ip, p, k_ip, 5002))
            .unwrap_or_else(|| panic!("flow from source port {p} not captured: {per_flow:?}"));
        assert_eq!(
            ports.len(),
            1,
            "one inner flow, one outer source port (no reordering across paths): {ports:?}"
        );
    }
    let distinct: BTreeSet<u16> = sports
        .iter()
        .flat_map(|&p| per_flow[&(e_ip, p, k_ip, 5002)].iter().copied())
        .collect();
    assert!(
        distinct.len() > 1,
        "16 inner flows all got outer source port {distinct:?}: the port must come from a flow hash"
    );
    eprintln!(
        "capture: {} frames, {ours} from our VTEP; 16 flows over {} outer source ports",
        frames.len(),
        distinct.len()
    );

    stop_clean(t.dp, "dataplane");
}

/// The kernel VTEP in K for the three-VTEP test: vx0 (no default remote; head-end
/// replication to both of ours through all-zero FDB entries) as a port of bridge brk,
/// whose address is the overlay one (so a host can later be plugged in behind it).
fn kernel_vtep_with_bridge(k: &Netns) {
    k.ip(&format!("addr add {K_UNDERLAY}/24 dev vk0"));
    k.ip(&format!(
        "link add name vx0 type vxlan id {VNI} local {K_UNDERLAY} dstport {VXLAN_PORT} dev vk0"
    ));
    for remote in [D_UNDERLAY, D2_UNDERLAY] {
        run(&[
            "bridge",
            "-n",
            &k.name,
            "fdb",
            "append",
            "00:00:00:00:00:00",
            "dev",
            "vx0",
            "dst",
            remote,
        ])
        .ok();
    }
    // A fixed address: a bridge otherwise takes its lowest port MAC, which would change
    // when the mover's veth joins.
    k.ip("link add name brk address 02:0b:00:00:00:01 type bridge forward_delay 0");
    k.ip("link set vx0 master brk");
    k.ip(&format!("addr add {K_OVERLAY}/24 brd + dev brk"));
    k.ip("link set vx0 up");
    k.ip("link set brk up");
}

/// Lines of `bridge fdb show dev vx0` in K that map `mac` to remote `dst`.
fn kernel_fdb_has(k: &Netns, mac: &str, dst: &str) -> bool {
    k.fdb("vx0")
        .iter()
        .any(|l| l.starts_with(mac) && l.contains(&format!("dst {dst} ")))
}

#[test]
fn three_vteps_flood_learn_and_follow_a_mac_move() {
    let _serial = serial();
    // E1 and E2 sit behind our two VTEPs; M is the host E2's MAC moves to, behind K.
    const E1_MAC: &str = "02:0e:00:00:00:01";
    const E2_MAC: &str = "02:0e:00:00:00:02";
    let s1 = Scratch::new("vx3a");
    let s2 = Scratch::new("vx3b");
    let probe = udp_probe(&s1);
    let u = Netns::new("u");
    let k = Netns::new("k");
    let d1 = Netns::new("d1");
    let e1 = Netns::new("e1");
    let d2 = Netns::new("d2");
    let e2 = Netns::new("e2");
    let m = Netns::new("m");

    // The underlay: a Linux bridge in U with a veth to each VTEP.
    u.ip("link add name ub type bridge forward_delay 0");
    u.ip("link set ub up");
    for (port, ns, dev) in [("uk", &k, "vk0"), ("ud1", &d1, "vd0"), ("ud2", &d2, "vd0")] {
        veth(&u, port, ns, dev);
        u.offloads_off(port);
        ns.offloads_off(dev);
        u.ip(&format!("link set {port} master ub"));
    }
    kernel_vtep_with_bridge(&k);

    let dp1 = start_vtep(
        &s1,
        &d1,
        &e1,
        &vtep_config(D_UNDERLAY, &[K_UNDERLAY, D2_UNDERLAY]),
        E_OVERLAY,
        Some(E1_MAC),
    );
    let dp2 = start_vtep(
        &s2,
        &d2,
        &e2,
        &vtep_config(D2_UNDERLAY, &[K_UNDERLAY, D_UNDERLAY]),
        E2_OVERLAY,
        Some(E2_MAC),
    );

    // Every pair, both ways; each first contact is an ARP broadcast that has to reach the
    // target through head-end replication (by K's vxlan driver or by our VTEPs).
    e1.ping_until_answered(K_OVERLAY);
    e1.ping_until_answered(E2_OVERLAY);
    e2.ping_until_answered(K_OVERLAY);
    for (from, to) in [
        (&e1, K_OVERLAY),
        (&e1, E2_OVERLAY),
        (&e2, K_OVERLAY),
        (&e2, E_OVERLAY),
        (&k, E_OVERLAY),
        (&k, E2_OVERLAY),
    ] {
        from.ping_all_answered(to, 3);
    }

    // One broadcast from each side reaches both others, every datagram exactly once
    // (a VTEP that sent a tunnel's frame back into the tunnels would duplicate them).
    let sides = [(&k, K_OVERLAY), (&e1, E_OVERLAY), (&e2, E2_OVERLAY)];
    for (i, (from, from_ip)) in sides.iter().enumerate() {
        let port = 5100 + i as u16;
        let tag = format!("bcast{i}");
        let receivers: Vec<UdpReceiver> = sides
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, (ns, _))| UdpReceiver::start(ns, &probe, "0.0.0.0", port, &tag))
            .collect();
        let sent = udp_send(
            from,
            &probe,
            OVERLAY_BCAST,
            port,
            &tag,
            &SIZES[..10],
            &[40100],
            true,
        );
        for r in receivers {
            let to = r.ns.clone();
            let got = r.finish();
            assert_same_datagrams(
                &format!("broadcast from {from_ip} to {to}"),
                &sent,
                &got,
                from_ip,
            );
        }
    }

    // The kernel VTEP learned each endpoint behind the right VTEP.
    assert!(
        wait_until(WAIT, || kernel_fdb_has(&k, E1_MAC, D_UNDERLAY)
            && kernel_fdb_has(&k, E2_MAC, D2_UNDERLAY)),
        "K's vxlan FDB:\n{}",
        k.fdb("vx0").join("\n")
    );

    // The move: E2 goes silent, and a host with E2's MAC and address appears behind K.
    e2.ip("link set dpt0 down");
    k.ip(&format!(
        "link add name km0 type veth peer name mv0 netns {}",
        m.name
    ));
    m.ip(&format!("link set mv0 address {E2_MAC}"));
    m.offloads_off("mv0");
    k.offloads_off("km0");
    m.ip(&format!("addr add {E2_OVERLAY}/24 brd + dev mv0"));
    m.ip("link set mv0 up");
    k.ip("link set km0 master brk");
    k.ip("link set km0 up");
    // M's first frame (an ARP broadcast) reaches our VTEPs from K: both must move E2's MAC
    // to K. E1's ARP reply to it is a unicast that our VTEP D1 now has to send to K, not
    // to D2 (which would not send a tunnel's frame back into a tunnel): the reply arriving
    // proves D1 followed the move.
    m.ping_until_answered(E_OVERLAY);
    m.ping_all_answered(E_OVERLAY, 3);
    e1.ping_all_answered(E2_OVERLAY, 3);
    udp_exchange(
        "E1 to the moved MAC",
        &probe,
        &e1,
        E_OVERLAY,
        &m,
        E2_OVERLAY,
        5200,
        &[40200],
        &SIZES,
    );

    let (f2, diag2) = stop_clean(dp2, "dataplane 2");
    let (f1, diag1) = stop_clean(dp1, "dataplane 1");
    assert_eq!(
        f1.get("bridge=br0", "learned"),
        3,
        "D1: E1 (local), K's bridge and E2 (remote)\n{diag1}"
    );
    assert_eq!(
        f2.get("bridge=br0", "learned"),
        3,
        "D2: E2 (local), K's bridge and E1 (remote)\n{diag2}"
    );
    assert_eq!(
        (
            f1.get("bridge=br0", "moved"),
            f1.get("bridge=br0", "moved_tunnel")
        ),
        (1, 0),
        "D1: E2's MAC moved from remote D2 to remote K\n{diag1}"
    );
    assert_eq!(
        (
            f2.get("bridge=br0", "moved"),
            f2.get("bridge=br0", "moved_tunnel")
        ),
        (1, 1),
        "D2: E2's MAC moved from the local TAP to remote K\n{diag2}"
    );
    for (f, diag) in [(&f1, &diag1), (&f2, &diag2)] {
        assert!(f.get("vtep", "encapsulated") > 0, "{diag}");
        assert!(f.get("vtep", "decapsulated") > 0, "{diag}");
        assert_eq!(f.get("vtep", "drop_remote_not_accepted"), 0, "{diag}");
    }
}

/// The pcap reader on hand-made files: both byte orders, and a record cut short at the
/// end (a capture still being written) left out.
#[test]
fn pcap_reader_reads_both_byte_orders_and_stops_at_a_cut_record() {
    fn file(big: bool, frames: &[&[u8]], cut: usize) -> Vec<u8> {
        let w32 = |v: u32| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut out = Vec::new();
        out.extend_from_slice(&w32(0xa1b2_c3d4));
        out.extend_from_slice(&w16(2));
        out.extend_from_slice(&w16(4));
        for v in [0, 0, 65535, 1] {
            out.extend_from_slice(&w32(v));
        }
        for f in frames {
            for v in [1, 2, f.len() as u32, f.len() as u32 + 3] {
                out.extend_from_slice(&w32(v));
            }
            out.extend_from_slice(f);
        }
        out.truncate(out.len() - cut);
        out
    }
    let frames: [&[u8]; 2] = [&[1, 2, 3], &[4; 60]];
    for big in [false, true] {
        let r = pcap::parse(&file(big, &frames, 0)).unwrap();
        assert_eq!(r.len(), 2, "big endian: {big}");
        assert_eq!(r[0].data, frames[0]);
        assert_eq!(r[0].orig_len, 6);
        assert_eq!(r[1].data, frames[1]);
        let cut = pcap::parse(&file(big, &frames, 1)).unwrap();
        assert_eq!(cut.len(), 1, "the cut record is left out");
    }
    let mut not_ethernet = file(false, &[], 0);
    not_ethernet[20] = 113; // Linux cooked capture
    assert_eq!(
        pcap::parse(&not_ethernet),
        Err(pcap::PcapError::LinkType(113))
    );
    assert_eq!(pcap::parse(&[0; 10]), Err(pcap::PcapError::Short));
    assert!(matches!(
        pcap::parse(&[7; 24]),
        Err(pcap::PcapError::BadMagic(_))
    ));
}
