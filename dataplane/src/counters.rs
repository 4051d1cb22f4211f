//! Per-port counters written by the worker lcore and read by the main lcore.
//!
//! Each block is written by exactly one thread, so the writer uses a relaxed load and store
//! (plain moves on x86) instead of a locked read-modify-write; readers see values that are
//! at most a burst behind. Blocks are cache-line aligned so the stats reader never shares a
//! line with another port's writer.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use switch::bridge::DropReason;
use switch::tso::TsoError;

pub use switch::bump;

/// Why the dataplane dropped a frame on a port. The switch's own reasons come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortDrop {
    /// The bridge refused the frame (see [`switch::bridge::DropReason`]), on its ingress port.
    Bridge(DropReason),
    /// The peer's ring stayed full (the port took nothing) for `tx_retries_max` loop passes
    /// while the link was up, or a frame arrived while the port's buffer was still full.
    TxQueueFull,
    /// tx_burst took fewer packets than offered and the link is down (no guest attached).
    TxLinkDown,
    /// A frame to flood on a bridge with no port but its ingress.
    NoOtherPort,
    /// A large TCP frame from a guest (host TSO) that could not be segmented.
    Tso(TsoError),
    /// No mbuf for a segment of a large TCP frame (the pool is exhausted), or a segment
    /// larger than an mbuf (a guest MTU above the dataplane's); the rest of the frame is lost.
    TsoNoBuffer,
}

pub const PORT_DROP_KINDS: usize = DropReason::ALL.len() + 4 + TsoError::ALL.len();

impl PortDrop {
    pub fn index(self) -> usize {
        match self {
            PortDrop::Bridge(r) => r.index(),
            PortDrop::TxQueueFull => DropReason::ALL.len(),
            PortDrop::TxLinkDown => DropReason::ALL.len() + 1,
            PortDrop::NoOtherPort => DropReason::ALL.len() + 2,
            PortDrop::TsoNoBuffer => DropReason::ALL.len() + 3,
            PortDrop::Tso(e) => DropReason::ALL.len() + 4 + e.index(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PortDrop::Bridge(r) => r.name(),
            PortDrop::TxQueueFull => "tx_queue_full",
            PortDrop::TxLinkDown => "tx_link_down",
            PortDrop::NoOtherPort => "no_other_port",
            PortDrop::TsoNoBuffer => "tso_no_buffer",
            PortDrop::Tso(e) => e.name(),
        }
    }

    pub fn all() -> impl Iterator<Item = PortDrop> {
        DropReason::ALL
            .into_iter()
            .map(PortDrop::Bridge)
            .chain([
                PortDrop::TxQueueFull,
                PortDrop::TxLinkDown,
                PortDrop::NoOtherPort,
                PortDrop::TsoNoBuffer,
            ])
            .chain(TsoError::ALL.into_iter().map(PortDrop::Tso))
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
    /// Loop passes on which frames the port's queue had no room for were kept for another
    /// try instead of being dropped (see `tx_retries_max`).
    pub tx_retries: AtomicU64,
    /// Large TCP frames the guest on this port sent for the host to segment (host TSO)...
    pub rx_tso: AtomicU64,
    /// ... of them, those cut into MTU-sized frames in software (for a destination that
    /// does not take them whole), and the frames that made.
    pub tso_segmented: AtomicU64,
    pub tso_segments: AtomicU64,
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
            tx_retries: self.tx_retries.load(Relaxed),
            rx_tso: self.rx_tso.load(Relaxed),
            tso_segmented: self.tso_segmented.load(Relaxed),
            tso_segments: self.tso_segments.load(Relaxed),
            drops,
        }
    }
}

/// A plain copy of [`PortCounters`] for printing and rates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortCountersSnapshot {
    pub rx: u64,
    pub tx: u64,
    pub tx_retries: u64,
    pub rx_tso: u64,
    pub tso_segmented: u64,
    pub tso_segments: u64,
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

/// The worker's self-measurement, in the spirit of OVS's `pmd-perf-show`: how its TSC cycles
/// split between loops that found packets (busy) and loops that did not (idle), and how many
/// packets each receive call brought. Published by the worker every few dozen loops.
#[repr(align(64))]
#[derive(Default)]
pub struct WorkerCounters {
    pub iterations: AtomicU64,
    pub busy_iterations: AtomicU64,
    /// TSC cycles spent in loops that received at least one packet.
    pub busy_cycles: AtomicU64,
    /// TSC cycles spent in loops that received nothing.
    pub idle_cycles: AtomicU64,
    /// Packets received (all ports).
    pub rx_packets: AtomicU64,
    /// Receive calls that returned at least one packet.
    pub rx_bursts: AtomicU64,
    /// Times the idle worker slept (`--pmd-sleep-max`), and the TSC cycles it spent asleep
    /// (part of `idle_cycles`).
    pub sleeps: AtomicU64,
    pub sleep_cycles: AtomicU64,
}

/// A plain copy of [`WorkerCounters`], with the derived figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerSnapshot {
    pub iterations: u64,
    pub busy_iterations: u64,
    pub busy_cycles: u64,
    pub idle_cycles: u64,
    pub rx_packets: u64,
    pub rx_bursts: u64,
    pub sleeps: u64,
    pub sleep_cycles: u64,
}

impl WorkerCounters {
    pub fn snapshot(&self) -> WorkerSnapshot {
        WorkerSnapshot {
            iterations: self.iterations.load(Relaxed),
            busy_iterations: self.busy_iterations.load(Relaxed),
            busy_cycles: self.busy_cycles.load(Relaxed),
            idle_cycles: self.idle_cycles.load(Relaxed),
            rx_packets: self.rx_packets.load(Relaxed),
            rx_bursts: self.rx_bursts.load(Relaxed),
            sleeps: self.sleeps.load(Relaxed),
            sleep_cycles: self.sleep_cycles.load(Relaxed),
        }
    }
}

impl WorkerSnapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &WorkerSnapshot) -> WorkerSnapshot {
        WorkerSnapshot {
            iterations: self.iterations.saturating_sub(earlier.iterations),
            busy_iterations: self.busy_iterations.saturating_sub(earlier.busy_iterations),
            busy_cycles: self.busy_cycles.saturating_sub(earlier.busy_cycles),
            idle_cycles: self.idle_cycles.saturating_sub(earlier.idle_cycles),
            rx_packets: self.rx_packets.saturating_sub(earlier.rx_packets),
            rx_bursts: self.rx_bursts.saturating_sub(earlier.rx_bursts),
            sleeps: self.sleeps.saturating_sub(earlier.sleeps),
            sleep_cycles: self.sleep_cycles.saturating_sub(earlier.sleep_cycles),
        }
    }

    /// Share of cycles spent in loops with packets, in percent.
    pub fn busy_pct(&self) -> f64 {
        let total = self.busy_cycles + self.idle_cycles;
        if total == 0 {
            0.0
        } else {
            100.0 * self.busy_cycles as f64 / total as f64
        }
    }

    /// Busy cycles per received packet: what one packet costs the worker, all of its
    /// processing (rx, switching, tx) included.
    pub fn cycles_per_packet(&self) -> f64 {
        if self.rx_packets == 0 {
            0.0
        } else {
            self.busy_cycles as f64 / self.rx_packets as f64
        }
    }

    /// Packets per non-empty receive call (at most the burst size, 32).
    pub fn packets_per_burst(&self) -> f64 {
        if self.rx_bursts == 0 {
            0.0
        } else {
            self.rx_packets as f64 / self.rx_bursts as f64
        }
    }

    /// The `key=value` fields of a stats line.
    pub fn fields(&self) -> String {
        format!(
            "loops={} busy_loops={} busy_cycles={} idle_cycles={} busy_pct={:.1} rx_packets={} rx_bursts={} pkts_per_burst={:.1} cycles_per_pkt={:.1} sleeps={} sleep_cycles={}",
            self.iterations,
            self.busy_iterations,
            self.busy_cycles,
            self.idle_cycles,
            self.busy_pct(),
            self.rx_packets,
            self.rx_bursts,
            self.packets_per_burst(),
            self.cycles_per_packet(),
            self.sleeps,
            self.sleep_cycles
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_worker_figures() {
        let a = WorkerSnapshot {
            iterations: 100,
            busy_iterations: 10,
            busy_cycles: 3_000,
            idle_cycles: 1_000,
            rx_packets: 200,
            rx_bursts: 10,
            ..Default::default()
        };
        let b = WorkerSnapshot {
            iterations: 300,
            busy_iterations: 60,
            busy_cycles: 13_000,
            idle_cycles: 1_000,
            rx_packets: 1_200,
            rx_bursts: 60,
            ..Default::default()
        };
        let d = b.since(&a);
        assert_eq!(d.busy_pct(), 100.0);
        assert_eq!(d.cycles_per_packet(), 10.0);
        assert_eq!(d.packets_per_burst(), 20.0);
        assert_eq!(a.busy_pct(), 75.0);
        assert!(a.fields().contains("cycles_per_pkt=15.0"));
        assert!(a.fields().contains("pkts_per_burst=20.0"));
        // Nothing happened: no division by zero.
        let z = WorkerSnapshot::default();
        assert_eq!(
            (z.busy_pct(), z.cycles_per_packet(), z.packets_per_burst()),
            (0.0, 0.0, 0.0)
        );
    }
}
