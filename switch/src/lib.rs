//! Tiers 3 and 4 of the dataplane: wire formats as zero-copy views over byte slices
//! ([`wire`]) and the L2 learning switch ([`mac_table`], [`bridge`]).
//!
//! Nothing here knows about DPDK: the poll loop hands in `&[u8]` and a timestamp and gets a
//! verdict back, so all of it is unit-tested (and fuzzable) without EAL.

pub mod bridge;
pub mod mac_table;
pub mod vtep;
pub mod wire;

pub use mac_table::PortId;
