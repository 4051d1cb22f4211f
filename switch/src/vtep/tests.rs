use super::*;
use crate::mac_table::tests::XorShift;
use crate::wire::{ArpRepr, Ipv4Repr, UdpRepr, VxlanRepr, MAX_VNI};

const OUR_MAC: MacAddr = MacAddr([0x02, 0x31, 0, 0, 0, 0x02]);
const PEER_MAC: MacAddr = MacAddr([0x02, 0x31, 0, 0, 0, 0x01]);
const OUR_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 2);
const PEER_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 1);
const OTHER_IP: Ipv4Addr = Ipv4Addr::new(172, 31, 0, 3);
const VNI: u32 = 123;
/// Ticks per second in these tests.
const HZ: u64 = 1000;

fn params() -> VtepParams {
    VtepParams {
        ip: OUR_IP,
        prefix_len: 24,
        gateway: None,
        mac: OUR_MAC,
        udp_port: 4789,
        mtu: 1500,
        ttl: 64,
        source_ports: (49152, 65535),
        static_neighbors: vec![],
        timers: NeighborTimers::for_hz(HZ),
    }
}

/// A VTEP carrying VNI 123 for bridge 0, flooding to (and accepting) PEER_IP.
fn vtep() -> Vtep<u32> {
    let mut v = Vtep::new(params()).unwrap();
    v.add_bridge(VNI, 0, &[PEER_IP], false).unwrap();
    v
}

/// The 60-byte inner frame of the fixtures: 02:00:00:00:00:0b -> 02:00:00:00:00:0a, IPv4.
fn inner_frame() -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0b]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0a]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    for (i, b) in f[14..].iter_mut().enumerate() {
        *b = i as u8;
    }
    f
}

/// The outer header our VTEP must write toward PEER_IP for `inner_frame()` (source port
/// bytes 34..36 zeroed: they depend on the flow hash and are checked separately).
#[rustfmt::skip]
const ENCAP_FIXTURE: [u8; 50] = [
    // Ethernet: next hop, our MAC, IPv4
    0x02, 0x31, 0, 0, 0, 0x01,  0x02, 0x31, 0, 0, 0, 0x02,  0x08, 0x00,
    // IPv4: 45, tos 0, total 96, id 0, DF, TTL 64, UDP, checksum 0xe24b, 172.31.0.2 -> 172.31.0.1
    0x45, 0x00, 0x00, 0x60,  0x00, 0x00, 0x40, 0x00,  0x40, 0x11, 0xe2, 0x4b,
    172, 31, 0, 2,  172, 31, 0, 1,
    // UDP: source port (per flow), 4789, length 76, checksum 0
    0x00, 0x00, 0x12, 0xb5,  0x00, 0x4c, 0x00, 0x00,
    // VXLAN: I flag, VNI 123
    0x08, 0x00, 0x00, 0x00,  0x00, 0x00, 0x7b, 0x00,
];

/// `inner` encapsulated by a VTEP at `src` toward our VTEP, as a peer would send it.
fn vxlan_from(src: Ipv4Addr, vni: u32, inner: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 50 + inner.len()];
    EthernetFrame::emit(&mut f, OUR_MAC, PEER_MAC, EtherType::IPV4).unwrap();
    Ipv4Repr {
        src,
        dst: OUR_IP,
        protocol: IpProtocol::UDP,
        ttl: 64,
        payload_len: (16 + inner.len()) as u16,
        dont_fragment: true,
        ident: 7,
        dscp_ecn: 0,
    }
    .emit(&mut f[14..])
    .unwrap();
    UdpRepr {
        src_port: 50000,
        dst_port: 4789,
        payload_len: (8 + inner.len()) as u16,
    }
    .emit(&mut f[34..])
    .unwrap();
    VxlanRepr { vni }.emit(&mut f[42..]).unwrap();
    f[50..].copy_from_slice(inner);
    f
}

fn arp(op: u16, sender: (MacAddr, Ipv4Addr), target: (MacAddr, Ipv4Addr), dst: MacAddr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    EthernetFrame::emit(&mut f, dst, sender.0, EtherType::ARP).unwrap();
    ArpRepr {
        operation: op,
        sender_mac: sender.0,
        sender_ip: sender.1,
        target_mac: target.0,
        target_ip: target.1,
    }
    .emit(&mut f[14..])
    .unwrap();
    f
}

/// Resolves PEER_IP by answering the VTEP's first request.
fn resolve_peer(v: &mut Vtep<u32>, now: u64) {
    let mut reply = arp(
        ArpOperation::REPLY,
        (PEER_MAC, PEER_IP),
        (OUR_MAC, OUR_IP),
        OUR_MAC,
    );
    assert!(matches!(
        v.receive(&mut reply, now),
        Rx::Consumed | Rx::Resolved(_)
    ));
}

#[test]
fn encap_header_matches_the_fixture() {
    let mut v = vtep();
    resolve_peer(&mut v, 0);
    let inner = inner_frame();
    let remote = v.remote(PEER_IP).unwrap();
    assert_eq!(
        v.prepare_encap(remote, inner.len(), 1),
        Encap::Ready(PEER_MAC)
    );
    let mut out = [0u8; 50];
    assert!(v.write_header(remote, PEER_MAC, VNI, &inner, &mut out));
    let sport = u16::from_be_bytes([out[34], out[35]]);
    assert!(sport >= 49152, "source port {sport}");
    out[34] = 0;
    out[35] = 0;
    assert_eq!(out, ENCAP_FIXTURE);
    // The header parses back as what it claims, with a valid checksum.
    let mut pkt = out.to_vec();
    pkt.extend_from_slice(&inner);
    let ip = Ipv4Packet::new_checked(&pkt[14..]).unwrap();
    assert!(ip.verify_checksum() && ip.dont_fragment() && !ip.is_fragment());
    assert_eq!(ip.payload().len(), 16 + inner.len());
    assert!(!v.write_header(remote, PEER_MAC, VNI, &inner, &mut [0u8; 49]));
}

#[test]
fn checksum_stays_valid_for_every_length_and_vni() {
    let mut v = vtep();
    let remote = v.remote(PEER_IP).unwrap();
    let mut out = [0u8; 50];
    for len in [14usize, 60, 61, 1000, 1464, 9000] {
        let inner = vec![0x5a; len];
        for vni in [0, 1, VNI, MAX_VNI] {
            assert!(v.write_header(remote, PEER_MAC, vni, &inner, &mut out));
            let ip = Ipv4Packet::new_unchecked(&out[14..34]);
            assert!(ip.verify_checksum(), "len {len} vni {vni}");
            assert_eq!(usize::from(ip.total_len()), 36 + len);
            assert_eq!(VxlanPacket::new_checked(&out[42..50]).unwrap().vni(), vni);
        }
    }
}

#[test]
fn decap_of_a_listed_remote_hands_the_inner_frame_to_its_bridge() {
    let mut v = vtep();
    let inner = inner_frame();
    let mut f = vxlan_from(PEER_IP, VNI, &inner);
    let remote = v.remote(PEER_IP).unwrap();
    match v.receive(&mut f, 0) {
        Rx::Decap {
            bridge,
            remote: r,
            inner: range,
        } => {
            assert_eq!((bridge, r), (0, remote));
            assert_eq!(&f[range], &inner[..]);
        }
        other => panic!("{other:?}"),
    }
    // Ethernet padding after the datagram is not part of the inner frame.
    let mut padded = vxlan_from(PEER_IP, VNI, &inner[..14]);
    padded.resize(80, 0xee);
    match v.receive(&mut padded, 0) {
        Rx::Decap { inner: range, .. } => assert_eq!(range, 50..64),
        other => panic!("{other:?}"),
    }
}

#[test]
fn encap_then_decap_round_trips_between_two_vteps() {
    let mut a = vtep();
    let mut b: Vtep<u32> = Vtep::new(VtepParams {
        ip: PEER_IP,
        mac: PEER_MAC,
        ..params()
    })
    .unwrap();
    b.add_bridge(VNI, 5, &[OUR_IP], false).unwrap();
    resolve_peer(&mut a, 0);
    let inner = inner_frame();
    let r = a.remote(PEER_IP).unwrap();
    let mut f = vec![0u8; 50];
    assert!(a.write_header(r, PEER_MAC, VNI, &inner, &mut f));
    f.extend_from_slice(&inner);
    match b.receive(&mut f, 0) {
        Rx::Decap {
            bridge: 5,
            inner: range,
            remote,
        } => {
            assert_eq!(&f[range], &inner[..]);
            assert_eq!(b.remote_ip(remote), Some(OUR_IP));
        }
        other => panic!("{other:?}"),
    }
}

/// Every malformed or foreign underlay frame is dropped under its own reason, and counted.
#[test]
fn underlay_drops_are_named() {
    let inner = inner_frame();
    let good = vxlan_from(PEER_IP, VNI, &inner);
    let refix_ip = |f: &mut Vec<u8>| {
        let mut ip = Ipv4Packet::new_unchecked(&mut f[14..34]);
        ip.fill_checksum();
    };
    type Mutation = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(VtepDrop, Mutation)> = vec![
        (VtepDrop::OuterTruncated, Box::new(|f| f.truncate(13))),
        (VtepDrop::OuterTruncated, Box::new(|f| f.truncate(30))),
        (VtepDrop::OuterTruncated, Box::new(|f| f.truncate(45))),
        (VtepDrop::NotOurMac, Box::new(|f| f[0] = 0x04)),
        (
            VtepDrop::UnderlayOther,
            Box::new(|f| f[12..14].copy_from_slice(&[0x86, 0xdd])),
        ),
        (VtepDrop::IpMalformed, Box::new(|f| f[14] = 0x65)),
        (VtepDrop::IpBadChecksum, Box::new(|f| f[14 + 8] = 1)),
        (
            VtepDrop::IpNotOurs,
            Box::new(move |f| {
                f[30..34].copy_from_slice(&[172, 31, 0, 9]);
                refix_ip(f);
            }),
        ),
        (
            VtepDrop::IpFragment,
            Box::new(move |f| {
                f[20] = 0x20; // MF
                refix_ip(f);
            }),
        ),
        (
            VtepDrop::IpOptions,
            Box::new(move |f| {
                // IHL 6: four bytes of options (NOPs) shift the rest.
                f.splice(34..34, [1u8, 1, 1, 1]);
                f[14] = 0x46;
                let tl = u16::from_be_bytes([f[16], f[17]]) + 4;
                f[16..18].copy_from_slice(&tl.to_be_bytes());
                let mut ip = Ipv4Packet::new_unchecked(&mut f[14..38]);
                ip.fill_checksum();
            }),
        ),
        (
            VtepDrop::IpOtherProto,
            Box::new(move |f| {
                f[23] = 6;
                refix_ip(f);
            }),
        ),
        (
            VtepDrop::UdpWrongPort,
            Box::new(|f| f[36..38].copy_from_slice(&8472u16.to_be_bytes())),
        ),
        (VtepDrop::VxlanNoIFlag, Box::new(|f| f[42] = 0)),
        (VtepDrop::VxlanUnknownVni, Box::new(|f| f[48] = 0x7c)),
        (
            VtepDrop::RemoteNotAccepted,
            Box::new(move |f| {
                f[26..30].copy_from_slice(&OTHER_IP.octets());
                refix_ip(f);
            }),
        ),
    ];
    for (why, mutate) in &cases {
        let mut v = vtep();
        let mut f = good.clone();
        mutate(&mut f);
        assert_eq!(v.receive(&mut f, 0), Rx::Drop(*why), "{}", why.name());
        assert_eq!(v.counters().dropped(*why), 1, "{}", why.name());
        let total: u64 = VtepDrop::ALL.iter().map(|&w| v.counters().dropped(w)).sum();
        assert_eq!(total, 1, "{} counted once", why.name());
    }
    // A VXLAN datagram shorter than an inner Ethernet header.
    let mut v = vtep();
    let mut runt = vxlan_from(PEER_IP, VNI, &inner[..13]);
    assert_eq!(v.receive(&mut runt, 0), Rx::Drop(VtepDrop::InnerRunt));
    // ARP that is not Ethernet/IPv4, and ARP for someone else.
    let mut bad_arp = arp(
        1,
        (PEER_MAC, PEER_IP),
        (MacAddr::ZERO, OUR_IP),
        MacAddr::BROADCAST,
    );
    bad_arp[15] = 6;
    assert_eq!(v.receive(&mut bad_arp, 0), Rx::Drop(VtepDrop::ArpMalformed));
    let mut other = arp(
        1,
        (PEER_MAC, OTHER_IP),
        (MacAddr::ZERO, PEER_IP),
        MacAddr::BROADCAST,
    );
    assert_eq!(v.receive(&mut other, 0), Rx::Drop(VtepDrop::ArpNotOurs));
}

#[test]
fn accept_any_learns_new_remotes_listed_refuses_them() {
    let mut v: Vtep<u32> = Vtep::new(params()).unwrap();
    v.add_bridge(VNI, 0, &[], true).unwrap();
    v.add_bridge(124, 1, &[PEER_IP], false).unwrap();
    let inner = inner_frame();
    let mut f = vxlan_from(OTHER_IP, VNI, &inner);
    assert!(matches!(v.receive(&mut f, 0), Rx::Decap { bridge: 0, .. }));
    assert_eq!(v.counters().remotes_learned.load(Relaxed), 1);
    assert_eq!(v.remote_count(), 2);
    // Known now, but VNI 124 lists only PEER_IP.
    let mut g = vxlan_from(OTHER_IP, 124, &inner);
    assert_eq!(v.receive(&mut g, 0), Rx::Drop(VtepDrop::RemoteNotAccepted));
    let mut h = vxlan_from(PEER_IP, 124, &inner);
    assert!(matches!(v.receive(&mut h, 0), Rx::Decap { bridge: 1, .. }));
    // A static-MAC remote is accepted without being flooded to.
    let id = v.accept(124, OTHER_IP).unwrap();
    assert!(matches!(v.receive(&mut g, 0), Rx::Decap { bridge: 1, remote, .. } if remote == id));
    assert_eq!(v.flood_list(1).len(), 1);
    assert_eq!(v.flood_list(0).len(), 0);
    assert_eq!(v.vni_of(1), Some(124));
}

#[test]
fn setup_errors() {
    let mut v = vtep();
    assert_eq!(
        v.add_bridge(VNI, 3, &[], false),
        Err(VtepError::DuplicateVni(VNI))
    );
    for bad in [
        OUR_IP,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(239, 1, 1, 1),
        Ipv4Addr::UNSPECIFIED,
    ] {
        assert_eq!(v.remote(bad), Err(VtepError::BadRemote(bad)));
    }
    for vni in 1..MAX_VTEP_BRIDGES as u32 {
        v.add_bridge(1000 + vni, vni as usize, &[], false).unwrap();
    }
    assert_eq!(
        v.add_bridge(5, 99, &[], false),
        Err(VtepError::TooManyBridges)
    );
}

#[test]
fn arp_request_for_our_ip_is_answered_in_place() {
    let mut v = vtep();
    let mut f = arp(
        ArpOperation::REQUEST,
        (PEER_MAC, PEER_IP),
        (MacAddr::ZERO, OUR_IP),
        MacAddr::BROADCAST,
    );
    assert_eq!(v.receive(&mut f, 0), Rx::Reply { resolved: None });
    let expected = arp(
        ArpOperation::REPLY,
        (OUR_MAC, OUR_IP),
        (PEER_MAC, PEER_IP),
        PEER_MAC,
    );
    assert_eq!(f, expected);
    assert_eq!(v.counters().arp_replies_sent.load(Relaxed), 1);
    // The request also taught us where PEER_IP (a next hop we track) is.
    let r = v.remote(PEER_IP).unwrap();
    assert_eq!(v.prepare_encap(r, 60, 1), Encap::Ready(PEER_MAC));
}

#[test]
fn ping_of_our_ip_is_answered_in_place() {
    let mut v = vtep();
    // 14 + 20 + 8 + 8 bytes of payload.
    let mut f = vec![0u8; 50];
    EthernetFrame::emit(&mut f, OUR_MAC, PEER_MAC, EtherType::IPV4).unwrap();
    Ipv4Repr {
        src: PEER_IP,
        dst: OUR_IP,
        protocol: IpProtocol::ICMP,
        ttl: 63,
        payload_len: 16,
        dont_fragment: true,
        ident: 1,
        dscp_ecn: 0,
    }
    .emit(&mut f[14..])
    .unwrap();
    f[34] = Icmpv4Type::ECHO_REQUEST;
    f[38..42].copy_from_slice(&[0x12, 0x34, 0x00, 0x01]);
    f[42..50].copy_from_slice(b"pingdata");
    Icmpv4Packet::new_unchecked(&mut f[34..50]).fill_checksum();
    f.resize(60, 0); // Ethernet padding
    assert_eq!(v.receive(&mut f, 0), Rx::Reply { resolved: None });
    let eth = EthernetFrame::new_checked(&f).unwrap();
    assert_eq!((eth.dst(), eth.src()), (PEER_MAC, OUR_MAC));
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!((ip.src(), ip.dst(), ip.ttl()), (OUR_IP, PEER_IP, 64));
    let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert_eq!(icmp.msg_type(), Icmpv4Type::ECHO_REPLY);
    assert!(icmp.verify_checksum());
    assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x1234, 1));
    assert_eq!(icmp.payload(), b"pingdata");
    assert_eq!(v.counters().icmp_echo_replied.load(Relaxed), 1);
    // A corrupted echo request is not answered.
    let mut bad = f.clone();
    bad[0..6].copy_from_slice(&OUR_MAC.0);
    bad[26..30].copy_from_slice(&PEER_IP.octets());
    bad[30..34].copy_from_slice(&OUR_IP.octets());
    bad[34] = Icmpv4Type::ECHO_REQUEST; // the checksum is still the reply's
    assert_eq!(v.receive(&mut bad, 0), Rx::Drop(VtepDrop::IcmpOther));
}

#[test]
fn frames_wait_for_arp_and_leave_in_order_when_it_resolves() {
    let mut v = vtep();
    let r = v.remote(PEER_IP).unwrap();
    // The configured remote's next hop is resolved proactively: a request at the first poll.
    let mut sent = Vec::new();
    v.poll(0, |f| sent.push(f.to_vec()));
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!(req.len(), 60);
    let a = ArpPacket::new_checked(&req[14..]).unwrap();
    assert_eq!(
        (a.operation(), a.sender_ip(), a.sender_mac(), a.target_ip()),
        (ArpOperation::REQUEST, OUR_IP, OUR_MAC, PEER_IP)
    );
    assert!(EthernetFrame::new_checked(req)
        .unwrap()
        .dst()
        .is_broadcast());
    let Encap::Hold(nh) = v.prepare_encap(r, 60, 1) else {
        panic!("not held")
    };
    for i in 0..neighbor::HOLD_PER_NEIGHBOR as u32 {
        assert_eq!(v.hold(nh, i), Ok(()));
    }
    assert_eq!(v.hold(nh, 99), Err(99));
    assert_eq!(v.counters().dropped(VtepDrop::NeighborQueueFull), 1);
    let mut reply = arp(
        ArpOperation::REPLY,
        (PEER_MAC, PEER_IP),
        (OUR_MAC, OUR_IP),
        OUR_MAC,
    );
    assert_eq!(v.receive(&mut reply, 2), Rx::Resolved(nh));
    let held: Vec<u32> = std::iter::from_fn(|| v.pop_held(nh)).collect();
    assert_eq!(
        held,
        (0..neighbor::HOLD_PER_NEIGHBOR as u32).collect::<Vec<_>>()
    );
    assert_eq!(v.prepare_encap(r, 60, 3), Encap::Ready(PEER_MAC));
    v.poll(3, |_| panic!("nothing due"));
    assert_eq!(v.counters().neighbors_resolved.load(Relaxed), 1);
}

#[test]
fn unanswered_arp_retries_then_drops_held_frames_and_retries_on_demand() {
    let mut v = vtep();
    let r = v.remote(PEER_IP).unwrap();
    let mut requests = 0;
    let Encap::Hold(nh) = v.prepare_encap(r, 60, 0) else {
        panic!()
    };
    v.hold(nh, 1).unwrap();
    // Requests at 0, 1 s and 2 s; at 3 s the entry fails and the held frame is dropped.
    for t in 0..=3 * HZ {
        v.poll(t, |_| requests += 1);
    }
    assert_eq!(requests, 3);
    assert_eq!(v.counters().dropped(VtepDrop::NeighborUnresolved), 1);
    assert_eq!(v.pop_held(nh), None);
    // Quiet while nobody needs it ...
    for t in 3 * HZ..10 * HZ {
        v.poll(t, |_| requests += 1);
    }
    assert_eq!(requests, 3);
    // ... and a new frame toward it starts a new round.
    assert_eq!(v.prepare_encap(r, 60, 10 * HZ), Encap::Hold(nh));
    v.poll(10 * HZ, |_| requests += 1);
    assert_eq!(requests, 4);
}

#[test]
fn resolved_neighbours_are_refreshed_and_expire() {
    let mut v = vtep();
    let r = v.remote(PEER_IP).unwrap();
    v.poll(0, |_| {});
    resolve_peer(&mut v, 0);
    let t = NeighborTimers::for_hz(HZ);
    let mut requests = Vec::new();
    v.poll(t.refresh - 1, |f| requests.push(f.to_vec()));
    assert!(requests.is_empty());
    v.poll(t.refresh, |f| requests.push(f.to_vec()));
    assert_eq!(requests.len(), 1);
    // A refresh goes to the MAC we know, and the entry stays usable meanwhile.
    assert_eq!(
        EthernetFrame::new_checked(&requests[0]).unwrap().dst(),
        PEER_MAC
    );
    assert_eq!(
        v.prepare_encap(r, 60, t.refresh + 1),
        Encap::Ready(PEER_MAC)
    );
    // No answer: past `reachable` it must be resolved again.
    assert!(matches!(
        v.prepare_encap(r, 60, t.reachable + 1),
        Encap::Hold(_)
    ));
}

#[test]
fn static_neighbours_and_gateways() {
    let gw = Ipv4Addr::new(172, 31, 0, 254);
    let gw_mac = MacAddr([0x02, 0, 0, 0, 0, 0xfe]);
    let mut v: Vtep<u32> = Vtep::new(VtepParams {
        gateway: Some(gw),
        static_neighbors: vec![(gw, gw_mac)],
        ..params()
    })
    .unwrap();
    let far = Ipv4Addr::new(10, 9, 8, 7);
    v.add_bridge(VNI, 0, &[far], false).unwrap();
    let r = v.remote(far).unwrap();
    assert_eq!(v.prepare_encap(r, 60, 0), Encap::Ready(gw_mac));
    v.poll(1_000_000 * HZ, |_| {
        panic!("static entries are never probed")
    });
    assert_eq!(v.prepare_encap(r, 60, 1_000_000 * HZ), Encap::Ready(gw_mac));
    // Without a gateway, an off-link remote has no route.
    let mut w: Vtep<u32> = Vtep::new(params()).unwrap();
    let r = w.remote(far).unwrap();
    assert_eq!(w.prepare_encap(r, 60, 0), Encap::Drop(VtepDrop::NoRoute));
    assert_eq!(w.counters().dropped(VtepDrop::NoRoute), 1);
}

#[test]
fn frames_too_big_for_the_underlay_are_dropped_not_fragmented() {
    let mut v = vtep();
    resolve_peer(&mut v, 0);
    let r = v.remote(PEER_IP).unwrap();
    // MTU 1500: 1464 bytes of inner frame (a 1450-byte inner IP packet) is the most.
    assert_eq!(v.params().max_inner_frame(), 1464);
    assert_eq!(v.prepare_encap(r, 1464, 0), Encap::Ready(PEER_MAC));
    assert_eq!(
        v.prepare_encap(r, 1465, 0),
        Encap::Drop(VtepDrop::EncapTooBig)
    );
    assert_eq!(
        v.prepare_encap(r, 1514, 0),
        Encap::Drop(VtepDrop::EncapTooBig)
    );
    assert_eq!(v.counters().dropped(VtepDrop::EncapTooBig), 2);
}

#[test]
fn prefix_and_next_hop() {
    let p = VtepParams {
        gateway: Some(Ipv4Addr::new(172, 31, 0, 254)),
        ..params()
    };
    assert!(p.in_prefix(PEER_IP) && !p.in_prefix(Ipv4Addr::new(172, 31, 1, 1)));
    assert_eq!(p.next_hop(PEER_IP), Some(PEER_IP));
    assert_eq!(p.next_hop(Ipv4Addr::new(8, 8, 8, 8)), p.gateway);
    let host = VtepParams {
        prefix_len: 32,
        ..params()
    };
    assert!(!host.in_prefix(PEER_IP));
    let all = VtepParams {
        prefix_len: 0,
        ..params()
    };
    assert!(all.in_prefix(Ipv4Addr::new(1, 2, 3, 4)));
}

#[test]
fn counter_fields_name_every_drop_reason() {
    let v = vtep();
    let fields = v.counters().fields();
    for why in VtepDrop::ALL {
        assert_eq!(VtepDrop::ALL[why.index()], why);
        assert!(fields
            .iter()
            .any(|(k, _)| *k == format!("drop_{}", why.name())));
    }
    assert!(fields.iter().any(|(k, _)| k == "encapsulated"));
}

/// Random and mutated underlay frames never panic and always get a verdict; a decap range
/// is always inside the frame.
#[test]
fn random_underlay_frames_never_panic() {
    let mut v: Vtep<u32> = Vtep::new(params()).unwrap();
    v.add_bridge(VNI, 0, &[PEER_IP], true).unwrap();
    let good = vxlan_from(PEER_IP, VNI, &inner_frame());
    let arp_req = arp(
        1,
        (PEER_MAC, PEER_IP),
        (MacAddr::ZERO, OUR_IP),
        MacAddr::BROADCAST,
    );
    let mut rng = XorShift(0x1234_5678);
    for i in 0..200_000u64 {
        let mut f = if i % 3 == 0 {
            arp_req.clone()
        } else {
            good.clone()
        };
        for _ in 0..rng.below(4) {
            let at = rng.below(f.len() as u64) as usize;
            f[at] = rng.below(256) as u8;
        }
        f.truncate(rng.below(f.len() as u64 + 1) as usize);
        if let Rx::Decap { inner, .. } = v.receive(&mut f, i) {
            assert!(inner.end <= f.len() && inner.len() >= 14);
        }
    }
}

#[test]
fn peek_bridge_guesses_from_the_vni_without_validating() {
    let mut v = vtep();
    v.add_bridge(124, 7, &[], false).unwrap();
    let inner = inner_frame();
    assert_eq!(v.peek_bridge(&vxlan_from(PEER_IP, VNI, &inner)), Some(0));
    assert_eq!(v.peek_bridge(&vxlan_from(PEER_IP, 124, &inner)), Some(7));
    assert_eq!(v.peek_bridge(&vxlan_from(PEER_IP, 999, &inner)), None);
    // A frame too short for an inner header, or not IPv4/UDP, gives no guess.
    assert_eq!(v.peek_bridge(&vxlan_from(PEER_IP, VNI, &inner)[..63]), None);
    let arp_req = arp(
        1,
        (PEER_MAC, PEER_IP),
        (MacAddr::ZERO, OUR_IP),
        MacAddr::BROADCAST,
    );
    assert_eq!(v.peek_bridge(&arp_req), None);
}

#[test]
fn held_frames_are_capped_over_all_neighbours() {
    let mut v = vtep();
    let mut held = 0;
    let mut refused = 0;
    // 40 unresolved next hops x 16 frames would be 640 mbufs; the cap keeps it at 256.
    for host in 10..50u8 {
        let r = v.remote(Ipv4Addr::new(172, 31, 0, host)).unwrap();
        let Encap::Hold(nh) = v.prepare_encap(r, 60, 0) else {
            panic!("not held")
        };
        for i in 0..neighbor::HOLD_PER_NEIGHBOR as u32 {
            match v.hold(nh, i) {
                Ok(()) => held += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert_eq!(held, neighbor::HOLD_TOTAL);
    assert_eq!(
        refused,
        40 * neighbor::HOLD_PER_NEIGHBOR - neighbor::HOLD_TOTAL
    );
    assert_eq!(v.neighbors().held_count(), neighbor::HOLD_TOTAL);
    // Failing entries give their frames back to the budget.
    for t in 0..=3 * HZ {
        v.poll(t, |_| {});
    }
    assert_eq!(v.neighbors().held_count(), 0);
    assert_eq!(
        v.counters().dropped(VtepDrop::NeighborUnresolved),
        neighbor::HOLD_TOTAL as u64
    );
}

#[test]
fn refresh_falls_back_to_broadcast_when_unicast_goes_unanswered() {
    let mut v = vtep();
    v.remote(PEER_IP).unwrap();
    v.poll(0, |_| {});
    resolve_peer(&mut v, 0);
    let t = NeighborTimers::for_hz(HZ);
    let mut dsts = Vec::new();
    for now in t.refresh..t.reachable {
        v.poll(now, |f| {
            dsts.push(EthernetFrame::new_checked(f).unwrap().dst())
        });
    }
    assert!(dsts.len() >= 6, "{dsts:?}");
    assert!(dsts[..3].iter().all(|d| *d == PEER_MAC), "{dsts:?}");
    assert!(dsts[3..].iter().all(|d| d.is_broadcast()), "{dsts:?}");
}

#[test]
fn learned_sources_that_cannot_be_vteps_are_refused() {
    let mut v: Vtep<u32> = Vtep::new(params()).unwrap();
    v.add_bridge(VNI, 0, &[], true).unwrap();
    for bad in [
        Ipv4Addr::new(172, 31, 0, 0),
        Ipv4Addr::new(172, 31, 0, 255),
        Ipv4Addr::new(240, 0, 0, 1),
    ] {
        let mut f = vxlan_from(bad, VNI, &inner_frame());
        assert_eq!(
            v.receive(&mut f, 0),
            Rx::Drop(VtepDrop::RemoteNotAccepted),
            "{bad}"
        );
    }
    assert_eq!(v.remote_count(), 0);
}
