//! `dp-encapbench [EAL options] -- [--frames N] [--remotes N] [--size BYTES]`
//!
//! What head-end replication costs per remote VTEP, for the two ways a flooded frame (whose
//! mbuf is shared with the local ports, so it cannot take an outer header itself) can be
//! encapsulated:
//!
//! * `copy`: a fresh mbuf per remote, the frame copied into it, the 50-byte header
//!   prepended into its headroom (what the worker does);
//! * `chain`: a fresh mbuf per remote holding only the 50-byte header, chained to one more
//!   reference of the shared frame (no copy, but a two-segment packet every transmit path
//!   then has to walk, and a reference count update per remote).
//!
//! Each round: share the frame with the remotes as the worker would, build one packet per
//! remote, free them all (as a transmit completion would). Prints cycles per encapsulated
//! copy for both. Needs EAL for mbufs: `dp-encapbench -l 0 --no-pci --no-huge -m 256
//! --file-prefix eb -- --size 64`.

use clap::Parser;
use dpdk::{tsc_hz, tsc_now, Eal, Mbuf, Mempool};
use std::net::Ipv4Addr;
use switch::vtep::neighbor::NeighborTimers;
use switch::vtep::{Vtep, VtepParams};
use switch::wire::{MacAddr, VXLAN_IPV4_OVERHEAD};

#[derive(Parser, Debug)]
#[command(
    name = "dp-encapbench",
    version,
    about = "Cycles per flood copy toward a remote VTEP: copy vs chained header"
)]
struct Args {
    /// Flooded frames per method.
    #[arg(long, default_value_t = 2_000_000)]
    frames: u64,
    /// Remote VTEPs each frame is replicated to.
    #[arg(long, default_value_t = 2)]
    remotes: u16,
    /// Inner frame size in bytes (without FCS).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(60..=1518))]
    size: u16,
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let (eal_args, app_argv) = pmd_config::split_eal_args(&argv);
    let args = Args::parse_from(&app_argv);
    let _eal = Eal::init(&eal_args).unwrap_or_else(|e| panic!("EAL: {e}"));
    let pool = Mempool::new_pktmbuf("eb", 8191, 256, Mempool::DEFAULT_DATA_ROOM, -1)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut vtep: Vtep<()> = Vtep::new(VtepParams {
        ip: Ipv4Addr::new(172, 31, 0, 2),
        prefix_len: 24,
        gateway: None,
        mac: MacAddr([2, 0, 0, 0, 0, 2]),
        udp_port: 4789,
        mtu: 9000,
        ttl: 64,
        source_ports: (49152, 65535),
        static_neighbors: vec![],
        timers: NeighborTimers::for_hz(tsc_hz()),
    })
    .expect("params");
    let remotes: Vec<u16> = (0..args.remotes)
        .map(|i| {
            vtep.remote(Ipv4Addr::new(172, 31, 1, 1 + i as u8))
                .expect("remote")
        })
        .collect();
    let mut frame = pool.alloc().expect("mbuf");
    let data = frame.append(args.size).expect("room");
    for (i, b) in data.iter_mut().enumerate() {
        *b = i as u8;
    }
    data[0..6].copy_from_slice(&[0xff; 6]);
    let next_hop = MacAddr([2, 0, 0, 0, 0, 1]);
    let mut out: Vec<Mbuf> = Vec::with_capacity(remotes.len() + 1);

    for method in ["copy", "chain"] {
        let start = tsc_now();
        for _ in 0..args.frames {
            // The worker shares the frame with its local ports first.
            let local = frame.share();
            for &r in &remotes {
                let m = match method {
                    "copy" => {
                        let mut c = pool.alloc().expect("mbuf");
                        let src = frame.data();
                        c.append(src.len() as u16)
                            .expect("room")
                            .copy_from_slice(src);
                        let buf = c.prepend(VXLAN_IPV4_OVERHEAD as u16).expect("headroom");
                        let (h, inner) = buf.split_at_mut(VXLAN_IPV4_OVERHEAD);
                        vtep.write_header(r, next_hop, 123, inner, h);
                        c
                    }
                    _ => {
                        let mut h = pool.alloc().expect("mbuf");
                        let hdr = h.append(VXLAN_IPV4_OVERHEAD as u16).expect("room");
                        vtep.write_header(r, next_hop, 123, frame.data(), hdr);
                        if h.chain(frame.share()).is_err() {
                            panic!("chain refused");
                        }
                        h
                    }
                };
                out.push(m);
            }
            out.push(local);
            // A transmit completion frees every packet.
            out.clear();
        }
        let cycles = tsc_now() - start;
        let per = cycles as f64 / (args.frames * u64::from(args.remotes)) as f64;
        println!(
            "method={method} size={} remotes={} frames={} cycles_per_copy={per:.1}",
            args.size, args.remotes, args.frames
        );
    }
    drop(frame);
    assert_eq!(pool.in_use(), 0, "every mbuf back");
}
