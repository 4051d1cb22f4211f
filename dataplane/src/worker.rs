//! The poll loop of a worker lcore: receive a burst from each port in turn, let the bridge
//! (or, on the underlay port, the VTEP) decide per frame, queue the frame on its output
//! ports, send, repeat until told to quit.
//!
//! ```text
//!  bridge port rx ─► Bridge::process ─┬─ Forward(local) ───────────────► port tx
//!                                     ├─ Forward(remote) ─► encap ────► underlay tx
//!                                     ├─ Flood ─► local ports (shared) + each flood remote (copy + encap)
//!                                     └─ Drop(reason), counted on the ingress port
//!  underlay rx ─► Vtep::receive ─┬─ Decap ─► strip 50 B ─► Bridge::process(tunnel port) ─► local ports only
//!                                ├─ Reply (ARP/ping) ─► underlay tx
//!                                └─ Drop(reason), counted by the VTEP
//! ```
//!
//! No allocation (but for the mbufs of flood copies and ARP requests, from the pool), no
//! locks, no logging happen in here; the only shared writes are the single-writer counters.
//! The only syscall is the idle sleep that `--pmd-sleep-max` asks for.

use crate::counters::{bump, PortCounters, PortDrop, WorkerCounters, WorkerSnapshot};
use dpdk::{tsc_now, Mbuf, MbufBurst, Mempool, PacketPort};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use switch::bridge::{remote_of, tunnel_port, Bridge, Verdict};
use switch::tso::{IpVersion, TcpSegmenter};
use switch::vtep::{Encap, RemoteId, Rx, Vtep, VtepDrop};
use switch::wire::VXLAN_IPV4_OVERHEAD;
use switch::PortId;

/// One port as the worker owns it: the queue pair, a tx buffer, its counters.
pub struct WorkerPort<P: PacketPort> {
    pub io: P,
    pub counters: Arc<PortCounters>,
    tx: MbufBurst,
    /// Loop passes the buffered frames may wait for room in the port's queue.
    tx_retries_max: u8,
    /// Passes in a row on which the port took none of them.
    tx_stalled: u8,
    /// The port's count of guest departures as the worker last acted on it (ports that
    /// count them, see [`PacketPort::departures`]).
    departures_seen: Option<u64>,
}

impl<P: PacketPort> WorkerPort<P> {
    pub fn new(io: P, counters: Arc<PortCounters>, tx_retries_max: u8) -> Self {
        let departures_seen = io.departures();
        WorkerPort {
            io,
            counters,
            tx: MbufBurst::new(),
            tx_retries_max,
            tx_stalled: 0,
            departures_seen,
        }
    }

    /// Whether a guest left the port since the worker last looked, by the departure count
    /// `count` (`None` for a port that does not count departures).
    #[inline]
    fn guest_left(&mut self, count: Option<u64>) -> Option<bool> {
        let count = count?;
        Some(self.departures_seen.replace(count) != Some(count))
    }

    /// Sends what is buffered. Returns whether frames are still buffered, to be tried again
    /// on the next loop pass.
    ///
    /// A guest drains its receive ring in bursts of its own (under TCG, or while its vCPU is
    /// descheduled, it can stall for a while): dropping what a full ring refuses costs a TCP
    /// sender a retransmit and a halved window. So what the port did not take stays in the
    /// buffer (in order; new frames queue behind it) until the port has taken nothing on
    /// `tx_retries_max` passes in a row, like OVS's `tx-retries-max`; then it is freed and
    /// counted. The other ports are served between two tries, so a stuck guest costs them
    /// nothing but a slot in the pending set. With the link down, nothing waits.
    #[inline]
    fn flush(&mut self) -> bool {
        if self.tx.is_empty() {
            return false;
        }
        let sent = self.io.tx_burst(&mut self.tx);
        bump(&self.counters.tx, sent as u64);
        if self.tx.is_empty() {
            self.tx_stalled = 0;
            return false;
        }
        let link_up = self.counters.link_up.load(Relaxed);
        if sent > 0 {
            self.tx_stalled = 0;
        }
        if link_up && self.tx_stalled < self.tx_retries_max {
            self.tx_stalled += 1;
            bump(&self.counters.tx_retries, 1);
            return true;
        }
        let why = if link_up {
            PortDrop::TxQueueFull
        } else {
            PortDrop::TxLinkDown
        };
        let dropped = self.tx.clear();
        self.counters.drop_n(why, dropped as u64);
        self.tx_stalled = 0;
        false
    }

    /// Buffers `m` for the next flush; a full buffer is flushed first. If the port still
    /// has no room (its frames are waiting for a retry), `m` is dropped and counted: the
    /// frames ahead of it keep their order and their chance.
    #[inline]
    fn enqueue(&mut self, m: Mbuf) {
        if self.tx.is_full() {
            self.flush();
        }
        if let Err(m) = self.tx.push(m) {
            drop(m);
            self.counters.drop_n(PortDrop::TxQueueFull, 1);
        }
    }
}

/// What a worker port is to the switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRole {
    /// Local port `local` of bridge `bridge` (indexes into [`Worker::bridges`]).
    Member { bridge: usize, local: PortId },
    /// The VTEP's underlay port.
    Underlay,
}

/// A bridge as the worker drives it: the switch logic and its local ports.
pub struct WorkerBridge {
    pub bridge: Bridge,
    /// Worker port index of each local port, by local [`PortId`].
    pub members: Vec<usize>,
    /// The VNI, for a bridge stretched over VXLAN (else unused).
    pub vni: u32,
    /// Remote VTEPs a flood goes to (head-end replication); empty without a VNI.
    pub flood: Vec<RemoteId>,
}

/// A frame waiting for its underlay next hop to resolve.
pub struct Held {
    frame: Mbuf,
    remote: RemoteId,
    vni: u32,
}

/// The VTEP as the worker drives it.
pub struct WorkerVtep {
    pub vtep: Vtep<Held>,
    /// Worker port index of the underlay port.
    pub underlay: usize,
    /// Where flood copies and ARP requests come from.
    pub pool: Mempool,
}

/// Everything one worker lcore needs, filled in before launch (as in DPDK's l2fwd).
pub struct Worker<P: PacketPort> {
    pub ports: Vec<WorkerPort<P>>,
    /// What each of `ports` is, by the same index.
    pub roles: Vec<PortRole>,
    pub bridges: Vec<WorkerBridge>,
    pub vtep: Option<WorkerVtep>,
    pub quit: Arc<AtomicBool>,
    pub counters: Arc<WorkerCounters>,
    /// Longest idle sleep in microseconds (`--pmd-sleep-max`); 0 = poll without pause.
    pub sleep_max_us: u32,
    /// Where segments of large TCP frames come from.
    pub pool: Mempool,
    /// For each vhost-user bridge port, its link state as the worker last saw it (from
    /// `PortCounters::link_up`, which the main lcore keeps): when its guest goes away, the
    /// MACs learned on it are flushed. Only the fallback for a port that does not count its
    /// guest's departures ([`PacketPort::departures`]); the vhost library port and a
    /// net_vhost port both do. `None` for other ports (an ethdev's link can also read down
    /// for reasons that do not move hosts, such as a TAP moved to another network
    /// namespace).
    pub link_seen: Vec<Option<bool>>,
    /// Ports whose buffered frames wait for another try (see [`WorkerPort::flush`]).
    pub tx_waiting: Pending,
}

/// A worker serves at most this many ports: it tracks ports with frames waiting to be sent
/// in one `u64`.
pub const MAX_PORTS: usize = 64;

/// How many frames ahead of the one being switched the worker prefetches MAC table slots.
/// All 32 of a burst at once is too many (they evict each other and overrun the CPU's
/// outstanding-miss slots) and the first frames wait anyway; a rolling window of 8-10 was
/// fastest (`dp-switchbench --macs 1000000 --distance D`: 122 cycles per frame for the whole
/// burst up front, 76 at 6, 67 at 8, 63 at 10, 77 at 12).
const TABLE_PREFETCH_DISTANCE: usize = 8;

/// How often (in loop iterations) the worker ages the MAC tables, runs the VTEP's ARP timers
/// and publishes its own counters: often enough to sweep the default table within
/// milliseconds (see `switch::bridge::MAINTAIN_BUDGET`), rarely enough that an idle loop is
/// just the rx polls.
const HOUSEKEEPING_EVERY: u64 = 64;

/// The pending-transmit set: bit `i` = port `i` has frames buffered.
pub type Pending = u64;

impl<P: PacketPort> Worker<P> {
    /// Polls until `quit` is set. Returns the worker with its ports, so the caller can drop
    /// everything in the right order on the main lcore.
    pub fn run(mut self) -> Self {
        assert!(self.ports.len() <= MAX_PORTS, "at most {MAX_PORTS} ports");
        assert_eq!(self.ports.len(), self.roles.len(), "one role per port");
        if self.sleep_max_us > 0 {
            // The kernel may stretch a sleep by the thread's timer slack (50 µs by default),
            // which would turn a 1 µs back-off into 50 and add it to every frame that
            // arrives while the worker sleeps; OVS sets 1 µs on its PMD threads for
            // pmd-maxsleep, as here. Best effort: the worker works the same without it.
            // SAFETY: PR_SET_TIMERSLACK takes a plain integer and only affects this thread.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong) };
        }
        let mut rx = MbufBurst::new();
        let mut perf = WorkerSnapshot::default();
        let mut sleep_us: u32 = 0;
        // One TSC read per loop: it ends this loop's measurement, starts the next one's, and
        // is the bridges' clock for the frames of the next loop.
        let mut loop_start = tsc_now();
        while !self.quit.load(Relaxed) {
            let mut pending: Pending = 0;
            let mut received = 0u64;
            for ingress in 0..self.ports.len() {
                let n = self.ports[ingress].io.rx_burst(&mut rx);
                if n == 0 {
                    continue;
                }
                // The MACs of a guest that left go before any frame of the next one is
                // learned (housekeeping alone may come too late: the next guest can attach
                // and send within a few milliseconds, less than 64 loops of a preempted
                // worker). The count is the one the receive call read, so neither the last
                // frames of a departing guest nor the first of the next one end up on the
                // wrong side of the flush.
                let count = self.ports[ingress].io.departures_before_rx();
                if self.ports[ingress].guest_left(count) == Some(true) {
                    self.flush_macs(ingress);
                }
                received += n as u64;
                perf.rx_bursts += 1;
                bump(&self.ports[ingress].counters.rx, n as u64);
                pending |= match self.roles[ingress] {
                    PortRole::Member { bridge, local } => {
                        self.switch_burst(bridge, local, &mut rx, loop_start)
                    }
                    PortRole::Underlay => self.underlay_burst(ingress, &mut rx, loop_start),
                };
            }
            // One tx burst per port per loop, with everything every ingress port sent it:
            // fewer, fuller bursts mean fewer guest notifications. Frames a port had no
            // room for last time are tried again.
            self.tx_waiting = self.flush(pending | self.tx_waiting);
            perf.iterations += 1;
            if perf.iterations.is_multiple_of(HOUSEKEEPING_EVERY) {
                self.housekeeping(loop_start);
                self.publish(&perf);
            }
            let mut now = tsc_now();
            if received > 0 {
                perf.busy_iterations += 1;
                perf.busy_cycles += now.wrapping_sub(loop_start);
                perf.rx_packets += received;
                sleep_us = 0;
            } else {
                if self.sleep_max_us > 0 {
                    // Back off (1, 2, 4, ... µs up to the maximum) while nothing arrives, as
                    // OVS's pmd-sleep-max does: an idle dataplane gives its core back.
                    sleep_us = (sleep_us * 2).clamp(1, self.sleep_max_us);
                    std::thread::sleep(Duration::from_micros(u64::from(sleep_us)));
                    let woke = tsc_now();
                    perf.sleeps += 1;
                    perf.sleep_cycles += woke.wrapping_sub(now);
                    now = woke;
                }
                perf.idle_cycles += now.wrapping_sub(loop_start);
            }
            loop_start = now;
        }
        self.publish(&perf);
        self
    }

    /// Flushes the ports in `pending`; returns those with frames still waiting.
    #[inline]
    fn flush(&mut self, mut pending: Pending) -> Pending {
        let mut waiting = 0;
        while pending != 0 {
            let out = pending.trailing_zeros() as usize;
            pending &= pending - 1;
            if self.ports[out].flush() {
                waiting |= 1 << out;
            }
        }
        waiting
    }

    /// Forgets the MACs learned on port `i` (its guest went away, or the NIC lost its
    /// link): frames to them must flood again, not go to a port nobody listens on.
    fn flush_macs(&mut self, i: usize) {
        if let PortRole::Member { bridge, local } = self.roles[i] {
            self.bridges[bridge].bridge.flush_port(local);
        }
    }

    /// Aging, MAC flushes for ports whose guest left, ARP timers; ARP requests go out at
    /// once.
    fn housekeeping(&mut self, now: u64) {
        for b in &mut self.bridges {
            b.bridge.maintain(now);
        }
        for i in 0..self.ports.len() {
            let up = self.ports[i].counters.link_up.load(Relaxed);
            let Some(Some(seen)) = self.link_seen.get_mut(i) else {
                continue;
            };
            let was_up = std::mem::replace(seen, up);
            // A port that counts its guest's departures says when one left however short its
            // stay; the link state, which the main lcore samples every 50 ms, misses a guest
            // that came and went, or went and came back, between two samples.
            let count = self.ports[i].io.departures();
            let left = self.ports[i].guest_left(count).unwrap_or(was_up && !up);
            if left {
                self.flush_macs(i);
            }
        }
        if let Some(v) = &mut self.vtep {
            let uplink = &mut self.ports[v.underlay];
            let pool = &v.pool;
            let mut sent = false;
            v.vtep.poll(now, |frame| {
                if let Some(mut m) = pool.alloc() {
                    if let Some(buf) = m.append(frame.len() as u16) {
                        buf.copy_from_slice(frame);
                        uplink.enqueue(m);
                        sent = true;
                    }
                }
            });
            if sent && uplink.flush() {
                self.tx_waiting |= 1 << v.underlay;
            }
        }
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
        c.sleeps.store(perf.sleeps, Relaxed);
        c.sleep_cycles.store(perf.sleep_cycles, Relaxed);
    }

    /// Switches one burst received on local port `ingress` of bridge `b` into the tx
    /// buffers; returns the set of ports it queued frames on.
    #[inline]
    fn switch_burst(&mut self, b: usize, ingress: PortId, rx: &mut MbufBurst, now: u64) -> Pending {
        // No frame should wait for one cache miss at a time: start loading every frame's
        // header, then keep the MAC table slots of the frame TABLE_PREFETCH_DISTANCE ahead
        // loading while switching this one.
        prefetch_burst(rx, |m| self.bridges[b].bridge.prefetch(m.data()));
        let mut pending = 0;
        let mut frames = rx.drain();
        while let Some(m) = frames.next() {
            if let Some(ahead) = frames.ahead(TABLE_PREFETCH_DISTANCE - 1) {
                self.bridges[b].bridge.prefetch(ahead.data());
            }
            let verdict = self.bridges[b].bridge.process(ingress, m.data(), now);
            pending |= self.deliver(b, ingress, verdict, m, now);
        }
        pending
    }

    /// Carries out the bridge's verdict for `m`, which arrived on `ingress` (a local or a
    /// tunnel port) of bridge `b`.
    #[inline]
    fn deliver(
        &mut self,
        b: usize,
        ingress: PortId,
        verdict: Verdict,
        m: Mbuf,
        now: u64,
    ) -> Pending {
        if let Some(mss) = m.gso_mss() {
            return self.deliver_large(b, ingress, verdict, m, mss, now);
        }
        match verdict {
            Verdict::Forward(out) => match remote_of(out) {
                None => {
                    let port = self.bridges[b].members[out as usize];
                    self.ports[port].enqueue(m);
                    1 << port
                }
                Some(remote) => self.encap(b, remote, m, now),
            },
            Verdict::Flood => self.flood(b, ingress, m, now),
            Verdict::Drop(why) => {
                self.count_drop(b, ingress, PortDrop::Bridge(why));
                drop(m);
                0
            }
        }
    }

    /// Carries out the bridge's verdict for a large TCP frame a guest handed over for the
    /// host to segment (virtio-net host TSO, up to 64 KiB with the MSS beside it): to a
    /// guest that takes such frames it goes whole (marked for the vhost library, which
    /// passes the MSS and the pending checksum on); for any other destination (a guest
    /// without TSO receive, an ethdev port, the VXLAN underlay, a flood) it is cut into
    /// MSS-sized frames with complete checksums first, each then delivered like any frame.
    /// Large frames only come from guests, never from the tunnel.
    #[inline(never)]
    fn deliver_large(
        &mut self,
        b: usize,
        ingress: PortId,
        verdict: Verdict,
        mut m: Mbuf,
        mss: u16,
        now: u64,
    ) -> Pending {
        let Some(&in_port) = self.bridges[b].members.get(ingress as usize) else {
            return 0;
        };
        bump(&self.ports[in_port].counters.rx_tso, 1);
        let mut segmenter = match TcpSegmenter::new(m.data(), m.pkt_len() as usize, mss) {
            Ok(s) => s,
            Err(e) => {
                self.count_drop(b, ingress, PortDrop::Tso(e));
                return 0;
            }
        };
        let h = segmenter.headers();
        let ipv6 = h.ip == IpVersion::V6;
        match verdict {
            Verdict::Drop(why) => {
                self.count_drop(b, ingress, PortDrop::Bridge(why));
                return 0;
            }
            Verdict::Forward(out) if remote_of(out).is_none() => {
                let port = self.bridges[b].members[out as usize];
                if self.ports[port].io.accepts_tso(ipv6) {
                    // Header lengths are bounded by the parser (18, 60, 60).
                    m.set_tcp_tso(h.l2_len as u8, h.l3_len as u16, h.l4_len as u8, ipv6);
                    self.ports[port].enqueue(m);
                    return 1 << port;
                }
            }
            _ => {}
        }
        // Toward the VXLAN underlay, segments must also fit its MTU with the 50-byte outer
        // header: a guest whose MTU is the underlay's would otherwise see every segment
        // dropped as too big.
        let to_tunnel = match verdict {
            Verdict::Forward(out) => remote_of(out).is_some(),
            _ => !self.bridges[b].flood.is_empty(),
        };
        if let (true, Some(v)) = (to_tunnel, &self.vtep) {
            segmenter.limit_frame_len(v.vtep.params().max_inner_frame());
        }
        let hlen = h.len();
        let count = segmenter.count();
        let mut pending = 0;
        let mut made = 0u64;
        for i in 0..count {
            let len = segmenter.segment_len(i);
            let (start, _) = segmenter.payload_range(i);
            let seg = self.pool.alloc().and_then(|mut seg| {
                let buf = seg.append(u16::try_from(len).ok()?)?;
                // The headers are written by write_segment; the payload is copied here.
                (m.read(hlen + start, &mut buf[hlen..]) && segmenter.write_segment(i, buf))
                    .then_some(seg)
            });
            let Some(seg) = seg else {
                self.count_drop(b, ingress, PortDrop::TsoNoBuffer);
                break;
            };
            made += 1;
            pending |= self.deliver(b, ingress, verdict, seg, now);
        }
        let c = &self.ports[in_port].counters;
        bump(&c.tso_segmented, 1);
        bump(&c.tso_segments, made);
        pending
    }

    /// Counts a drop on the port the frame came in on (the underlay port for frames from
    /// the tunnel).
    #[inline]
    fn count_drop(&self, b: usize, ingress: PortId, why: PortDrop) {
        let port = match remote_of(ingress) {
            None => self.bridges[b].members[ingress as usize],
            Some(_) => match &self.vtep {
                Some(v) => v.underlay,
                None => return,
            },
        };
        self.ports[port].counters.drop_n(why, 1);
    }

    /// Sends `m` out of every local port of bridge `b` but `ingress` by reference (one
    /// refcount update for all of them; PMDs only read the data) and, for a frame from a
    /// local port, to every remote VTEP of the bridge's flood list, each a copy with its own
    /// outer header (a shared mbuf cannot take a header). Split horizon: a frame from the
    /// tunnel goes to local ports only.
    ///
    /// Copy rather than a 50-byte header mbuf chained to another reference of the frame:
    /// `dp-encapbench` (alloc, build, free per remote) measured 62-64 cycles per copy at
    /// 64 B against 77-100 chained (the chain pays atomic refcount updates), and 80-83
    /// against 75-102 at 1518 B; and a copy is one segment, which every transmit path takes
    /// without walking a chain (NICs need the multi-segment offload for chains).
    #[inline]
    fn flood(&mut self, b: usize, ingress: PortId, m: Mbuf, now: u64) -> Pending {
        let from_tunnel = remote_of(ingress).is_some();
        let n_local = self.bridges[b].members.len();
        // A local ingress is itself a member.
        let local_targets = if from_tunnel {
            n_local
        } else {
            n_local.saturating_sub(1)
        };
        let n_remotes = if from_tunnel {
            0
        } else {
            self.bridges[b].flood.len()
        };
        if local_targets + n_remotes == 0 {
            self.count_drop(b, ingress, PortDrop::NoOtherPort);
            return 0;
        }
        let mut pending = 0;
        for i in 0..n_remotes {
            let remote = self.bridges[b].flood[i];
            if local_targets == 0 && i + 1 == n_remotes {
                // The last remote of a flood with no local target takes the original.
                return pending | self.encap(b, remote, m, now);
            }
            pending |= self.encap_copy(b, remote, &m, now);
        }
        let mut copies = m.share_n((local_targets - 1) as u16);
        let mut original = Some(m);
        for local in 0..n_local {
            if local == ingress as usize {
                continue;
            }
            // The last target takes the original; the others the shared handles.
            let handle = copies.next().or_else(|| original.take());
            if let Some(h) = handle {
                let port = self.bridges[b].members[local];
                self.ports[port].enqueue(h);
                pending |= 1 << port;
            }
        }
        pending
    }

    /// Encapsulates a copy of `m` toward `remote` in bridge `b`'s VNI.
    #[inline]
    fn encap_copy(&mut self, b: usize, remote: RemoteId, m: &Mbuf, now: u64) -> Pending {
        let Some(v) = &mut self.vtep else { return 0 };
        if !m.is_contiguous() {
            // `data()` would be the first segment only: never send a cut frame.
            v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
            return 0;
        }
        let Some(mut copy) = v.pool.alloc() else {
            v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
            return 0;
        };
        let src = m.data();
        match copy.append(src.len() as u16) {
            Some(buf) => buf.copy_from_slice(src),
            None => {
                v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
                return 0;
            }
        }
        bump(&v.vtep.counters().flood_copies, 1);
        self.encap(b, remote, copy, now)
    }

    /// Sends `m` (exclusively ours) to `remote` in bridge `b`'s VNI: header into the
    /// headroom once the next hop is known, held while it resolves.
    #[inline]
    fn encap(&mut self, b: usize, remote: RemoteId, m: Mbuf, now: u64) -> Pending {
        let vni = self.bridges[b].vni;
        let Some(v) = &mut self.vtep else { return 0 };
        if !m.is_contiguous() {
            v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
            return 0;
        }
        match v.vtep.prepare_encap(remote, m.data().len(), now) {
            Encap::Ready(next_hop) => {
                let underlay = v.underlay;
                if push_header(v, m, remote, next_hop, vni, &mut self.ports[underlay]) {
                    1 << underlay
                } else {
                    0
                }
            }
            Encap::Hold(neighbor) => {
                // A full queue hands the frame back: dropped (freed) here, counted by hold.
                let _ = v.vtep.hold(
                    neighbor,
                    Held {
                        frame: m,
                        remote,
                        vni,
                    },
                );
                0
            }
            Encap::Drop(_) => 0,
        }
    }

    /// Starts loading the MAC table slots of the inner frame of underlay frame `m`, in the
    /// bridge its VNI names (a guess; see [`Vtep::peek_bridge`]).
    #[inline]
    fn prefetch_inner(&self, m: &Mbuf) {
        if let Some(v) = &self.vtep {
            let data = m.data();
            if let Some(b) = v.vtep.peek_bridge(data) {
                if let Some(wb) = self.bridges.get(b) {
                    wb.bridge.prefetch(&data[VXLAN_IPV4_OVERHEAD..]);
                }
            }
        }
    }

    /// Handles one burst from the underlay port: decapsulate into bridges, answer ARP and
    /// pings, drop the rest (counted by the VTEP). MAC table slots are prefetched a few
    /// frames ahead, as for local ports.
    #[inline]
    fn underlay_burst(&mut self, underlay: usize, rx: &mut MbufBurst, now: u64) -> Pending {
        prefetch_burst(rx, |m| self.prefetch_inner(m));
        let mut pending = 0;
        let mut frames = rx.drain();
        while let Some(mut m) = frames.next() {
            if let Some(ahead) = frames.ahead(TABLE_PREFETCH_DISTANCE - 1) {
                self.prefetch_inner(ahead);
            }
            let Some(v) = &mut self.vtep else { break };
            let Some(data) = m.data_mut() else {
                // PMDs hand over exclusive mbufs; a shared one cannot be rewritten.
                v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
                continue;
            };
            match v.vtep.receive(data, now) {
                Rx::Decap {
                    bridge,
                    remote,
                    inner,
                } => {
                    let c = v.vtep.counters();
                    if !m.narrow(inner.start as u16, inner.len() as u16) {
                        c.drop_n(VtepDrop::OuterTruncated, 1);
                        continue;
                    }
                    bump(&c.decapsulated, 1);
                    let ingress = tunnel_port(remote);
                    let verdict = self.bridges[bridge].bridge.process(ingress, m.data(), now);
                    pending |= self.deliver(bridge, ingress, verdict, m, now);
                }
                Rx::Reply { resolved } => {
                    self.ports[underlay].enqueue(m);
                    pending |= 1 << underlay;
                    if let Some(n) = resolved {
                        pending |= self.send_held(n, now);
                    }
                }
                Rx::Resolved(n) => {
                    drop(m);
                    pending |= self.send_held(n, now);
                }
                Rx::Consumed | Rx::Drop(_) => drop(m),
            }
        }
        pending
    }

    /// Sends the frames held for neighbour `n`, which just resolved.
    fn send_held(&mut self, n: switch::vtep::neighbor::NeighborId, now: u64) -> Pending {
        let Some(v) = &mut self.vtep else { return 0 };
        let underlay = v.underlay;
        let mut pending = 0;
        while let Some(h) = v.vtep.pop_held(n) {
            match v.vtep.prepare_encap(h.remote, h.frame.data().len(), now) {
                Encap::Ready(next_hop) => {
                    if push_header(
                        v,
                        h.frame,
                        h.remote,
                        next_hop,
                        h.vni,
                        &mut self.ports[underlay],
                    ) {
                        pending = 1 << underlay;
                    }
                }
                // Unresolved again already (it cannot be, a reply just came): drop, counted
                // (a Drop verdict was counted by prepare_encap).
                Encap::Hold(_) => v.vtep.counters().drop_n(VtepDrop::NeighborUnresolved, 1),
                Encap::Drop(_) => {}
            }
        }
        pending
    }
}

/// Starts loading every frame's first line, then, through `table`, the MAC table slots of
/// the first [`TABLE_PREFETCH_DISTANCE`] frames (the rest are prefetched that far ahead
/// while the burst is switched).
#[inline]
fn prefetch_burst(rx: &MbufBurst, mut table: impl FnMut(&Mbuf)) {
    for i in 0..rx.len() {
        if let Some(m) = rx.get(i) {
            m.prefetch_data();
        }
    }
    for i in 0..rx.len().min(TABLE_PREFETCH_DISTANCE) {
        if let Some(m) = rx.get(i) {
            table(m);
        }
    }
}

/// Writes the outer header into `m`'s headroom and queues it on the underlay port.
#[inline]
fn push_header<P: PacketPort>(
    v: &mut WorkerVtep,
    mut m: Mbuf,
    remote: RemoteId,
    next_hop: switch::wire::MacAddr,
    vni: u32,
    underlay: &mut WorkerPort<P>,
) -> bool {
    let Some(frame) = m.prepend(VXLAN_IPV4_OVERHEAD as u16) else {
        v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
        return false;
    };
    let (header, inner) = frame.split_at_mut(VXLAN_IPV4_OVERHEAD);
    if !v.vtep.write_header(remote, next_hop, vni, inner, header) {
        v.vtep.counters().drop_n(VtepDrop::EncapNoBuffer, 1);
        return false;
    }
    bump(&v.vtep.counters().encapsulated, 1);
    underlay.enqueue(m);
    true
}
