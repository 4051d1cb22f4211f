//! The poll loop of a worker lcore: receive a burst from each port in turn, let the bridge
//! decide per frame, queue the frame on its output ports, send, repeat until told to quit.
//!
//! No allocation, locks, syscalls or logging happen in here; the only shared writes are the
//! single-writer counters.

use crate::counters::{bump, PortCounters, PortDrop, WorkerCounters, WorkerSnapshot};
use dpdk::{tsc_now, Mbuf, MbufBurst, PacketPort};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use switch::bridge::{Bridge, Verdict};
use switch::PortId;

/// One bridge port as the worker owns it: the queue pair, a tx buffer, its counters.
pub struct WorkerPort<P: PacketPort> {
    pub io: P,
    pub counters: Arc<PortCounters>,
    tx: MbufBurst,
}

impl<P: PacketPort> WorkerPort<P> {
    pub fn new(io: P, counters: Arc<PortCounters>) -> Self {
        WorkerPort {
            io,
            counters,
            tx: MbufBurst::new(),
        }
    }

    /// Sends what is buffered; what the port does not take is freed and counted.
    #[inline]
    fn flush(&mut self) {
        if self.tx.is_empty() {
            return;
        }
        let sent = self.io.tx_burst(&mut self.tx);
        bump(&self.counters.tx, sent as u64);
        if !self.tx.is_empty() {
            let why = if self.counters.link_up.load(Relaxed) {
                PortDrop::TxQueueFull
            } else {
                PortDrop::TxLinkDown
            };
            let dropped = self.tx.clear();
            self.counters.drop_n(why, dropped as u64);
        }
    }

    #[inline]
    fn enqueue(&mut self, m: Mbuf) {
        if self.tx.is_full() {
            self.flush();
        }
        // After a flush the buffer has room, so this cannot fail; if it ever did, the
        // returned mbuf is dropped (freed) here rather than leaked.
        if let Err(m) = self.tx.push(m) {
            drop(m);
            self.counters.drop_n(PortDrop::TxQueueFull, 1);
        }
    }
}

/// Everything one worker lcore needs, filled in before launch (as in DPDK's l2fwd).
pub struct Worker<P: PacketPort> {
    pub ports: Vec<WorkerPort<P>>,
    pub bridge: Bridge,
    pub quit: Arc<AtomicBool>,
    pub counters: Arc<WorkerCounters>,
}

/// The bridge supports at most this many ports: the worker tracks ports with frames waiting
/// to be sent in one `u32`.
pub const MAX_PORTS: usize = 32;

/// How many frames ahead of the one being switched the worker prefetches MAC table slots.
/// All 32 of a burst at once is too many (they evict each other and overrun the CPU's
/// outstanding-miss slots) and the first frames wait anyway; a rolling window of 8-10 was
/// fastest (`dp-switchbench --macs 1000000 --distance D`: 122 cycles per frame for the whole
/// burst up front, 76 at 6, 67 at 8, 63 at 10, 77 at 12).
const TABLE_PREFETCH_DISTANCE: usize = 8;

/// How often (in loop iterations) the worker ages the MAC table and publishes its own
/// counters: often enough to sweep the default table within milliseconds (see
/// `switch::bridge::MAINTAIN_BUDGET`), rarely enough that an idle loop is just the rx polls.
const HOUSEKEEPING_EVERY: u64 = 64;

impl<P: PacketPort> Worker<P> {
    /// Polls until `quit` is set. Returns the worker with its ports, so the caller can drop
    /// everything in the right order on the main lcore.
    pub fn run(mut self) -> Self {
        assert!(self.ports.len() <= MAX_PORTS, "at most {MAX_PORTS} ports");
        let mut rx = MbufBurst::new();
        let mut perf = WorkerSnapshot::default();
        // One TSC read per loop: it ends this loop's measurement, starts the next one's, and
        // is the bridge's clock for the frames of the next loop.
        let mut loop_start = tsc_now();
        while !self.quit.load(Relaxed) {
            let mut pending: u32 = 0;
            let mut received = 0u64;
            for ingress in 0..self.ports.len() {
                let n = self.ports[ingress].io.rx_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                received += n as u64;
                perf.rx_bursts += 1;
                bump(&self.ports[ingress].counters.rx, n as u64);
                pending |= self.switch_burst(ingress as PortId, &mut rx, loop_start);
            }
            // One tx burst per port per loop, with everything every ingress port sent it:
            // fewer, fuller bursts mean fewer guest notifications.
            while pending != 0 {
                let out = pending.trailing_zeros() as usize;
                pending &= pending - 1;
                self.ports[out].flush();
            }
            perf.iterations += 1;
            if perf.iterations.is_multiple_of(HOUSEKEEPING_EVERY) {
                self.bridge.maintain(loop_start);
                self.publish(&perf);
            }
            let now = tsc_now();
            let spent = now.wrapping_sub(loop_start);
            if received > 0 {
                perf.busy_iterations += 1;
                perf.busy_cycles += spent;
                perf.rx_packets += received;
            } else {
                perf.idle_cycles += spent;
            }
            loop_start = now;
        }
        self.publish(&perf);
        self
    }

    /// Makes the loop's own figures visible to the main lcore (plain stores: this thread is
    /// the only writer).
    fn publish(&self, perf: &WorkerSnapshot) {
        let c = &self.counters;
        c.iterations.store(perf.iterations, Relaxed);
        c.busy_iterations.store(perf.busy_iterations, Relaxed);
        c.busy_cycles.store(perf.busy_cycles, Relaxed);
        c.idle_cycles.store(perf.idle_cycles, Relaxed);
        c.rx_packets.store(perf.rx_packets, Relaxed);
        c.rx_bursts.store(perf.rx_bursts, Relaxed);
    }

    /// Switches one received burst into the per-port tx buffers; returns the set of ports
    /// it queued frames on.
    #[inline]
    fn switch_burst(&mut self, ingress: PortId, rx: &mut MbufBurst, now: u64) -> u32 {
        // No frame should wait for one cache miss at a time: start loading every frame's
        // header, then keep the MAC table slots of the frame TABLE_PREFETCH_DISTANCE ahead
        // loading while switching this one.
        for i in 0..rx.len() {
            if let Some(m) = rx.get(i) {
                m.prefetch_data();
            }
        }
        for i in 0..rx.len().min(TABLE_PREFETCH_DISTANCE) {
            if let Some(m) = rx.get(i) {
                self.bridge.prefetch(m.data());
            }
        }
        let mut pending = 0u32;
        let mut frames = rx.drain();
        while let Some(m) = frames.next() {
            if let Some(ahead) = frames.ahead(TABLE_PREFETCH_DISTANCE - 1) {
                self.bridge.prefetch(ahead.data());
            }
            match self.bridge.process(ingress, m.data(), now) {
                Verdict::Forward(out) => {
                    self.ports[out as usize].enqueue(m);
                    pending |= 1 << out;
                }
                Verdict::Flood => pending |= self.flood(ingress, m),
                Verdict::Drop(why) => {
                    self.ports[ingress as usize]
                        .counters
                        .drop_n(PortDrop::Bridge(why), 1);
                    drop(m);
                }
            }
        }
        pending
    }

    /// Sends `m` out of every port but `ingress`, by reference (one refcount update for
    /// all copies; PMDs only read the data). Returns the ports it queued on.
    #[inline]
    fn flood(&mut self, ingress: PortId, m: Mbuf) -> u32 {
        let n = self.ports.len();
        if n < 2 {
            // A one-port bridge has nowhere to flood to.
            self.ports[ingress as usize]
                .counters
                .drop_n(PortDrop::NoOtherPort, 1);
            return 0;
        }
        let mut copies = m.share_n((n - 2) as u16);
        let mut original = Some(m);
        let mut pending = 0u32;
        for out in (0..n).filter(|&p| p != ingress as usize) {
            // The last target takes the original; the others the shared handles.
            let handle = copies.next().or_else(|| original.take());
            if let Some(h) = handle {
                self.ports[out].enqueue(h);
                pending |= 1 << out;
            }
        }
        pending
    }
}
