//! Per-port counters written by the worker lcore and read by the main lcore.
//!
//! Each block is written by exactly one thread, so the writer uses a relaxed load and store
//! (plain moves on x86) instead of a locked read-modify-write; readers see values that are
//! at most a burst behind. Blocks are cache-line aligned so the stats reader never shares a
//! line with another port's writer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use switch::bridge::DropReason;

/// Adds `n` to a counter that only the calling thread writes.
#[inline(always)]
pub fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// Why the dataplane dropped a frame on a port. The switch's own reasons come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortDrop {
    /// The bridge refused the frame (see [`switch::bridge::DropReason`]), on its ingress port.
    Bridge(DropReason),
    /// tx_burst took fewer packets than offered while the link was up: the peer's ring is full.
    TxQueueFull,
    /// tx_burst took fewer packets than offered and the link is down (no guest attached).
    TxLinkDown,
    /// A frame to flood on a bridge with no port but its ingress.
    NoOtherPort,
}

pub const PORT_DROP_KINDS: usize = DropReason::ALL.len() + 3;

impl PortDrop {
    pub fn index(self) -> usize {
        match self {
            PortDrop::Bridge(r) => r.index(),
            PortDrop::TxQueueFull => DropReason::ALL.len(),
            PortDrop::TxLinkDown => DropReason::ALL.len() + 1,
            PortDrop::NoOtherPort => DropReason::ALL.len() + 2,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PortDrop::Bridge(r) => r.name(),
            PortDrop::TxQueueFull => "tx_queue_full",
            PortDrop::TxLinkDown => "tx_link_down",
            PortDrop::NoOtherPort => "no_other_port",
        }
    }

    pub fn all() -> impl Iterator<Item = PortDrop> {
        DropReason::ALL.into_iter().map(PortDrop::Bridge).chain([
            PortDrop::TxQueueFull,
            PortDrop::TxLinkDown,
            PortDrop::NoOtherPort,
        ])
    }
}

/// Counters of one port, as the switch sees it.
#[repr(align(64))]
#[derive(Default)]
pub struct PortCounters {
    /// Frames received from the port.
    pub rx: AtomicU64,
    /// Frames handed to the port's tx queue.
    pub tx: AtomicU64,
    /// Frames dropped, by [`PortDrop::index`].
    pub drops: [AtomicU64; PORT_DROP_KINDS],
    /// Set by the main lcore from the PMD's link state, only when it changes (so the
    /// worker's line is not disturbed every tick); the worker reads it only to name a tx
    /// drop, never to decide whether to send.
    pub link_up: std::sync::atomic::AtomicBool,
}

impl PortCounters {
    #[inline(always)]
    pub fn drop_n(&self, why: PortDrop, n: u64) {
        bump(&self.drops[why.index()], n);
    }

    pub fn snapshot(&self) -> PortCountersSnapshot {
        let mut drops = [0; PORT_DROP_KINDS];
        for (d, c) in drops.iter_mut().zip(&self.drops) {
            *d = c.load(Relaxed);
        }
        PortCountersSnapshot {
            rx: self.rx.load(Relaxed),
            tx: self.tx.load(Relaxed),
            drops,
        }
    }
}

/// A plain copy of [`PortCounters`] for printing and rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCountersSnapshot {
    pub rx: u64,
    pub tx: u64,
    pub drops: [u64; PORT_DROP_KINDS],
}

impl PortCountersSnapshot {
    pub fn dropped(&self, why: PortDrop) -> u64 {
        self.drops[why.index()]
    }

    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }
}

/// The worker's self-measurement: loop iterations and how many of them found work.
#[repr(align(64))]
#[derive(Default)]
pub struct WorkerCounters {
    pub iterations: AtomicU64,
    pub busy_iterations: AtomicU64,
}
