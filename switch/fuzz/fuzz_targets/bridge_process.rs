//! Feeds arbitrary frames, ingress ports and clock jumps to a small bridge (tiny table,
//! short aging, a static entry) and checks the invariants the poll loop relies on: no
//! panic, a forward never targets the ingress port or a port out of range, and the table
//! never holds more than its capacity.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switch::bridge::{Bridge, BridgeConfig, Verdict};
use switch::wire::MacAddr;

const PORTS: u16 = 4;
const CAPACITY: usize = 8;

fuzz_target!(|data: &[u8]| {
    let mut bridge = Bridge::new(BridgeConfig {
        n_ports: PORTS,
        tunnel: false,
        capacity: CAPACITY,
        aging_ticks: 50,
        static_macs: vec![(MacAddr([0x02, 0, 0, 0, 0, 0x99]), 3)],
    })
    .expect("valid config");
    let mut now = 0u64;
    // Each record: [ingress, clock step, length] then `length` bytes of frame.
    let mut rest = data;
    while rest.len() >= 3 {
        let (ingress, step, len) = (rest[0] as u16 % PORTS, rest[1] as u64, rest[2] as usize % 64);
        rest = &rest[3..];
        let frame = &rest[..len.min(rest.len())];
        rest = &rest[frame.len()..];
        now += step;
        match bridge.process(ingress, frame, now) {
            Verdict::Forward(out) => {
                assert_ne!(out, ingress, "forwarded back out of the ingress port");
                assert!(out < PORTS, "forwarded to port {out} of {PORTS}");
            }
            Verdict::Flood | Verdict::Drop(_) => {}
        }
        if step > 200 {
            bridge.maintain(now);
        }
        assert!(bridge.table().len() <= CAPACITY);
    }
});
