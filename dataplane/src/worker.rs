//! The poll loop of a worker lcore: receive a burst from each port in turn, let the bridge
//! decide per frame, queue the frame on its output ports, send, repeat until told to quit.
//!
//! No allocation, locks, syscalls or logging happen in here; the only shared writes are the
//! single-writer counters.

use crate::counters::{bump, PortCounters, PortDrop, WorkerCounters};
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

impl<P: PacketPort> Worker<P> {
    /// Polls until `quit` is set. Returns the worker with its ports, so the caller can drop
    /// everything in the right order on the main lcore.
    pub fn run(mut self) -> Self {
        let mut rx = MbufBurst::new();
        let mut iterations: u64 = 0;
        let mut busy: u64 = 0;
        while !self.quit.load(Relaxed) {
            let mut got_any = false;
            for ingress in 0..self.ports.len() {
                let n = self.ports[ingress].io.rx_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                got_any = true;
                bump(&self.ports[ingress].counters.rx, n as u64);
                self.switch_burst(ingress as PortId, &mut rx);
                for port in &mut self.ports {
                    port.flush();
                }
            }
            self.bridge.maintain(tsc_now());
            iterations += 1;
            busy += got_any as u64;
            // Publishing every loop would put a store on an idle loop's path for no reader;
            // every 1024 loops is a few microseconds even when busy.
            if iterations & 1023 == 0 {
                self.counters.iterations.store(iterations, Relaxed);
                self.counters.busy_iterations.store(busy, Relaxed);
            }
        }
        self.counters.iterations.store(iterations, Relaxed);
        self.counters.busy_iterations.store(busy, Relaxed);
        self
    }

    /// Switches one received burst into the per-port tx buffers.
    #[inline]
    fn switch_burst(&mut self, ingress: PortId, rx: &mut MbufBurst) {
        for i in 0..rx.len() {
            if let Some(m) = rx.get(i) {
                m.prefetch_data();
            }
        }
        let now = tsc_now();
        for m in rx.drain() {
            match self.bridge.process(ingress, m.data(), now) {
                Verdict::Forward(out) => self.ports[out as usize].enqueue(m),
                Verdict::Flood => self.flood(ingress, m),
                Verdict::Drop(why) => {
                    self.ports[ingress as usize]
                        .counters
                        .drop_n(PortDrop::Bridge(why), 1);
                    drop(m);
                }
            }
        }
    }

    /// Sends `m` out of every port but `ingress`: the last target gets the original, the
    /// others a shared reference (no copy; PMDs only read the data).
    #[inline]
    fn flood(&mut self, ingress: PortId, m: Mbuf) {
        let n = self.ports.len();
        if n < 2 {
            return; // a one-port bridge has nowhere to flood; `m` is freed here
        }
        let last = if ingress as usize == n - 1 {
            n - 2
        } else {
            n - 1
        };
        for out in 0..n {
            if out == ingress as usize {
                continue;
            }
            if out == last {
                self.ports[out].enqueue(m);
                return;
            }
            let copy = m.share();
            self.ports[out].enqueue(copy);
        }
    }
}
