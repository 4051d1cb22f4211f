//! Feeds arbitrary frames to the whole underlay input path of a VTEP (classification,
//! ARP/ping answers in place, decapsulation) and the decapsulated frames to a tunnel bridge,
//! and checks what the poll loop relies on: no panic, a decap range inside the frame and at
//! least an Ethernet header long, a rewritten reply the same length as the request, and a
//! bridge verdict for a tunnel ingress that never forwards back into the tunnel.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::net::Ipv4Addr;
use switch::bridge::{remote_of, tunnel_port, Bridge, BridgeConfig, Verdict};
use switch::vtep::neighbor::NeighborTimers;
use switch::vtep::{Rx, Vtep, VtepParams};
use switch::wire::MacAddr;

fuzz_target!(|data: &[u8]| {
    let mut vtep: Vtep<u8> = Vtep::new(VtepParams {
        ip: Ipv4Addr::new(172, 31, 0, 2),
        prefix_len: 24,
        gateway: Some(Ipv4Addr::new(172, 31, 0, 254)),
        mac: MacAddr([0x02, 0x31, 0, 0, 0, 0x02]),
        udp_port: 4789,
        mtu: 1500,
        ttl: 64,
        source_ports: (49152, 65535),
        static_neighbors: vec![],
        timers: NeighborTimers::for_hz(100),
    })
    .expect("valid params");
    vtep.add_bridge(123, 0, &[Ipv4Addr::new(172, 31, 0, 1)], false).unwrap();
    vtep.add_bridge(124, 1, &[], true).unwrap();
    let mut bridges: Vec<Bridge> = (0..2)
        .map(|_| {
            Bridge::new(BridgeConfig {
                n_ports: 2,
                tunnel: true,
                capacity: 8,
                aging_ticks: 50,
                static_macs: vec![],
            })
            .unwrap()
        })
        .collect();
    // Records: [clock step, length] then `length` bytes of frame.
    let mut rest = data;
    let mut now = 0u64;
    while rest.len() >= 2 {
        now += u64::from(rest[0]);
        let len = usize::from(rest[1]) * 8;
        rest = &rest[2..];
        let mut frame = rest[..len.min(rest.len())].to_vec();
        rest = &rest[frame.len()..];
        let before = frame.len();
        match vtep.receive(&mut frame, now) {
            Rx::Decap { bridge, remote, inner } => {
                assert!(inner.end <= frame.len() && inner.len() >= 14);
                let ingress = tunnel_port(remote);
                if let Verdict::Forward(out) = bridges[bridge].process(ingress, &frame[inner], now) {
                    assert!(remote_of(out).is_none(), "tunnel frame forwarded into the tunnel");
                }
            }
            Rx::Reply { .. } => assert_eq!(frame.len(), before),
            Rx::Resolved(n) => while vtep.pop_held(n).is_some() {},
            Rx::Consumed | Rx::Drop(_) => {}
        }
        vtep.poll(now, |req| assert_eq!(req.len(), 60));
    }
});
