//! Tiers 3 and 4 of the dataplane: wire formats as zero-copy views over byte slices
//! ([`wire`]), the L2 learning switch ([`mac_table`], [`bridge`]) and the VXLAN tunnel
//! endpoint ([`vtep`]).
//!
//! Nothing here knows about DPDK: the poll loop hands in `&[u8]` and a timestamp and gets a
//! verdict back, so all of it is unit-tested (and fuzzable) without EAL.

pub mod bridge;
pub mod mac_table;
pub mod tso;
pub mod vtep;
pub mod wire;

pub use mac_table::PortId;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Adds `n` to a counter that only the calling thread writes: a relaxed load plus a relaxed
/// store (two plain moves on x86 and ARM), where `fetch_add` would be a locked
/// read-modify-write costing ~20 cycles per event. Not a read-modify-write: two writers
/// would lose increments. Every counter block of the switch and the dataplane has one
/// writer (its worker) and readers that load relaxed.
#[inline(always)]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}
