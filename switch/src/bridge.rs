//! The per-frame decision of an L2 learning bridge: learn the source, then forward, flood
//! or drop by destination.
//!
//! [`Bridge::process`] is pure: it reads the Ethernet header from a byte slice, updates the
//! MAC table and counters, and returns a [`Verdict`]. Transmitting (and copying or
//! reference-counting mbufs for a flood) is the poll loop's business.

use crate::bump;
use crate::mac_table::{LearnOutcome, MacTable, PortId, StaticError};
use crate::wire::{EthernetFrame, MacAddr};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The most slots one [`Bridge::maintain`] call examines (4 KiB of table), so a call never
/// stalls the poll loop, however late it comes.
pub const MAINTAIN_BUDGET: usize = 256;

/// The sweep passes over the whole MAC table this many times per aging time, so an entry is
/// removed at most a quarter of the aging time after it expired (lookups never use an expired
/// entry in between). Pacing by time rather than by call matters: the poll loop calls
/// `maintain` every few microseconds, and sweeping a 1M-entry table (32 MiB) that fast
/// streams it through the cache and evicts the hot entries (measured: a fifth of the
/// worker's own cycles went to the sweep when it ran per call).
pub const SWEEPS_PER_AGING: u64 = 4;

/// The first [`PortId`] that stands for a remote VTEP rather than a local port: a bridge
/// stretched over VXLAN learns inner MACs "on" remote `r` as port `TUNNEL_PORT_BASE + r`,
/// so learning, moves, static pins and aging work the same for both kinds of destination
/// (as in Linux's vxlan FDB, where a MAC maps to a local port or a remote VTEP address).
pub const TUNNEL_PORT_BASE: PortId = 0x8000;
/// Remote VTEPs a bridge can tell apart: the `PortId`s above [`TUNNEL_PORT_BASE`].
pub const MAX_REMOTES: usize = (PortId::MAX - TUNNEL_PORT_BASE) as usize + 1;

/// The [`PortId`] of remote VTEP number `remote` (an index the VTEP hands out).
#[inline]
pub fn tunnel_port(remote: u16) -> PortId {
    debug_assert!((remote as usize) < MAX_REMOTES);
    TUNNEL_PORT_BASE | remote
}

/// The remote VTEP number behind `port`, if it is a tunnel port.
#[inline]
pub fn remote_of(port: PortId) -> Option<u16> {
    port.checked_sub(TUNNEL_PORT_BASE)
}

/// Static configuration of a bridge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfig {
    /// Local ports of the bridge, numbered `0..n_ports` (at most [`TUNNEL_PORT_BASE`]).
    pub n_ports: u16,
    /// Whether the bridge is stretched over VXLAN: only then may frames arrive on, and MACs
    /// be learned on, tunnel ports ([`tunnel_port`]).
    pub tunnel: bool,
    /// Maximum MAC table entries, learned + static.
    pub capacity: usize,
    /// A learned entry expires after more than this many ticks without a frame from it.
    pub aging_ticks: u64,
    /// MACs pinned to a port (local, or a tunnel port on a tunnel bridge): never aged,
    /// never moved.
    pub static_macs: Vec<(MacAddr, PortId)>,
}

/// What to do with a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send out of exactly this port (never the ingress port; a tunnel port means: encapsulate
    /// toward that remote VTEP).
    Forward(PortId),
    /// Send out of every local port except the ingress one ([`Bridge::flood_targets`]) and,
    /// when the frame came from a local port of a tunnel bridge, to every remote VTEP of the
    /// flood list (head-end replication). A frame from the tunnel is never flooded back into
    /// it (split horizon).
    Flood,
    Drop(DropReason),
}

/// Why a frame was dropped. The poll loop counts drops per reason, indexed by
/// [`DropReason::index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than an Ethernet header (or arrived on a port outside the bridge).
    Malformed,
    /// The destination was learned on the ingress port: the frame has already reached its
    /// segment, and sending it back would duplicate it there.
    DstIsIngress,
    /// A frame from one remote VTEP whose destination is behind another remote VTEP: the
    /// overlay is a full mesh, so the sender reaches that VTEP itself; relaying it would
    /// duplicate the frame (split horizon, as in RFC 7348 and Linux's vxlan driver).
    SplitHorizon,
}

impl DropReason {
    pub const ALL: [DropReason; 3] = [
        DropReason::Malformed,
        DropReason::DstIsIngress,
        DropReason::SplitHorizon,
    ];

    /// Name for `name=value` stats lines.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::DstIsIngress => "dst_is_ingress",
            DropReason::SplitHorizon => "split_horizon",
        }
    }

    /// Position in [`DropReason::ALL`], for per-reason counter arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a [`BridgeConfig`] was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BridgeError {
    /// `n_ports` is zero.
    NoPorts,
    /// More static MACs than table capacity.
    TooManyStatic { count: usize, capacity: usize },
    /// A static MAC is multicast, broadcast or all-zero.
    StaticNotLearnable { mac: MacAddr },
    /// More local ports than [`TUNNEL_PORT_BASE`].
    TooManyPorts { n_ports: u16 },
    /// A static MAC names a port the bridge does not have.
    StaticPortOutOfRange {
        mac: MacAddr,
        port: PortId,
        n_ports: u16,
    },
    /// The same MAC is listed twice.
    StaticDuplicate { mac: MacAddr },
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::NoPorts => f.write_str("a bridge needs at least one port"),
            BridgeError::TooManyPorts { n_ports } => write!(
                f,
                "{n_ports} ports are more than a bridge can number ({TUNNEL_PORT_BASE})"
            ),
            BridgeError::TooManyStatic { count, capacity } => write!(
                f,
                "{count} static MACs do not fit a MAC table of capacity {capacity}; raise the capacity"
            ),
            BridgeError::StaticNotLearnable { mac } => write!(
                f,
                "static MAC {mac} is not unicast or is all-zero; only unicast hosts can be pinned to a port"
            ),
            BridgeError::StaticPortOutOfRange { mac, port, n_ports } => write!(
                f,
                "static MAC {mac} is on port {port}, but the bridge has ports 0..{n_ports}"
            ),
            BridgeError::StaticDuplicate { mac } => {
                write!(f, "static MAC {mac} is listed more than once; keep one entry")
            }
        }
    }
}

impl std::error::Error for BridgeError {}

/// Bridge event counters, shared between the worker that owns the [`Bridge`] and a stats
/// thread.
///
/// Each counter has exactly one writer (the worker), so an increment is a relaxed load plus
/// a relaxed store ([`bump`]): on x86 and ARM two plain `mov`s, where `fetch_add` would be a
/// locked read-modify-write costing ~20 cycles per event. Readers use relaxed loads and may
/// see counters from slightly different instants, which is fine for statistics; each one is
/// still monotonic and never torn. `align(64)` keeps the block off cache lines that other
/// data (e.g. another worker's counters) is written on, so there is no false sharing.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct BridgeCounters {
    /// New MACs inserted (including re-learned after expiry).
    pub learned: AtomicU64,
    /// Known MACs seen on a different port than learned.
    pub moved: AtomicU64,
    /// Learned entries removed because they expired.
    pub aged: AtomicU64,
    /// New MACs not learned because the table was full.
    pub table_full: AtomicU64,
    /// Frames whose source has a static entry on another port than their ingress (a move
    /// the table refused).
    pub static_pinned: AtomicU64,
    /// Frames with a multicast, broadcast or zero source (never learned).
    pub src_not_learnable: AtomicU64,
    /// All `Flood` verdicts.
    pub flooded: AtomicU64,
    /// `Flood` verdicts for unicast destinations the table did not know.
    pub flooded_unknown: AtomicU64,
    /// `Forward` verdicts.
    pub forwarded: AtomicU64,
    /// `Forward` verdicts toward a remote VTEP (also counted in `forwarded`).
    pub forwarded_remote: AtomicU64,
    /// Known MACs that moved between a local port and a remote VTEP, either way (also
    /// counted in `moved`).
    pub moved_tunnel: AtomicU64,
    /// Learned MACs removed because their port went down ([`Bridge::flush_port`]).
    pub flushed: AtomicU64,
    /// A gauge, not a counter: entries in the MAC table (learned + static) as of the last
    /// [`Bridge::maintain`], including expired ones the sweep has not reached yet.
    pub entries: AtomicU64,
}

/// A plain copy of [`BridgeCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCountersSnapshot {
    pub learned: u64,
    pub moved: u64,
    pub aged: u64,
    pub table_full: u64,
    pub static_pinned: u64,
    pub src_not_learnable: u64,
    pub flooded: u64,
    pub flooded_unknown: u64,
    pub forwarded: u64,
    pub forwarded_remote: u64,
    pub moved_tunnel: u64,
    pub flushed: u64,
    pub entries: u64,
}

impl BridgeCountersSnapshot {
    /// `(name, value)` pairs in a fixed order, for `name=value` stats lines.
    pub fn fields(&self) -> [(&'static str, u64); 13] {
        [
            ("macs", self.entries),
            ("learned", self.learned),
            ("moved", self.moved),
            ("aged", self.aged),
            ("table_full", self.table_full),
            ("static_pinned", self.static_pinned),
            ("src_not_learnable", self.src_not_learnable),
            ("flooded", self.flooded),
            ("flooded_unknown", self.flooded_unknown),
            ("forwarded", self.forwarded),
            ("forwarded_remote", self.forwarded_remote),
            ("moved_tunnel", self.moved_tunnel),
            ("flushed", self.flushed),
        ]
    }
}

impl BridgeCounters {
    /// Reads every counter (relaxed; see the type docs).
    pub fn snapshot(&self) -> BridgeCountersSnapshot {
        BridgeCountersSnapshot {
            learned: self.learned.load(Relaxed),
            moved: self.moved.load(Relaxed),
            aged: self.aged.load(Relaxed),
            table_full: self.table_full.load(Relaxed),
            static_pinned: self.static_pinned.load(Relaxed),
            src_not_learnable: self.src_not_learnable.load(Relaxed),
            flooded: self.flooded.load(Relaxed),
            flooded_unknown: self.flooded_unknown.load(Relaxed),
            forwarded: self.forwarded.load(Relaxed),
            forwarded_remote: self.forwarded_remote.load(Relaxed),
            moved_tunnel: self.moved_tunnel.load(Relaxed),
            flushed: self.flushed.load(Relaxed),
            entries: self.entries.load(Relaxed),
        }
    }
}

/// An L2 learning bridge over `n_ports` ports. Owned and driven by one worker thread.
pub struct Bridge {
    table: MacTable,
    n_ports: u16,
    tunnel: bool,
    /// Behind an `Arc` so a stats thread can hold it while the worker holds `&mut Bridge`.
    counters: Arc<BridgeCounters>,
    /// `table.expired_total()` already folded into `counters.aged`.
    expired_seen: u64,
    /// The sweep has examined the slots due up to this tick (see [`Bridge::maintain`]).
    swept_until: u64,
    /// Ticks per full sweep pass.
    sweep_period: u64,
}

impl Bridge {
    /// Builds the bridge and installs the static MACs. Refuses a config with no ports, a
    /// static MAC that is not unicast, names a port outside `0..n_ports` or is listed twice,
    /// or more static MACs than `capacity`.
    pub fn new(cfg: BridgeConfig) -> Result<Bridge, BridgeError> {
        if cfg.n_ports == 0 && !cfg.tunnel {
            return Err(BridgeError::NoPorts);
        }
        if cfg.n_ports > TUNNEL_PORT_BASE {
            return Err(BridgeError::TooManyPorts {
                n_ports: cfg.n_ports,
            });
        }
        if cfg.static_macs.len() > cfg.capacity {
            return Err(BridgeError::TooManyStatic {
                count: cfg.static_macs.len(),
                capacity: cfg.capacity,
            });
        }
        let mut table = MacTable::new(cfg.capacity, cfg.aging_ticks);
        for &(mac, port) in &cfg.static_macs {
            if !(port < cfg.n_ports || cfg.tunnel && remote_of(port).is_some()) {
                return Err(BridgeError::StaticPortOutOfRange {
                    mac,
                    port,
                    n_ports: cfg.n_ports,
                });
            }
            table.add_static(mac, port).map_err(|e| match e {
                StaticError::NotLearnable => BridgeError::StaticNotLearnable { mac },
                StaticError::Duplicate => BridgeError::StaticDuplicate { mac },
                // Ruled out by the count check above.
                StaticError::TableFull => BridgeError::TooManyStatic {
                    count: cfg.static_macs.len(),
                    capacity: cfg.capacity,
                },
            })?;
        }
        Ok(Bridge {
            table,
            n_ports: cfg.n_ports,
            tunnel: cfg.tunnel,
            counters: Arc::default(),
            expired_seen: 0,
            swept_until: 0,
            sweep_period: (cfg.aging_ticks / SWEEPS_PER_AGING).max(1),
        })
    }

    /// Decides what to do with `frame`, which arrived on `ingress` at tick `now`.
    ///
    /// Learns the source (unless multicast/zero), then: group destinations flood; a known
    /// unicast destination is forwarded to its port, or dropped if that is the ingress port
    /// (or, for a frame from a remote VTEP, another remote VTEP: split horizon); an unknown
    /// one floods. `ingress` is a local port or, on a tunnel bridge, the tunnel port of the
    /// remote VTEP the frame was decapsulated from. Never panics, whatever the bytes; an
    /// `ingress` the bridge does not have is a caller bug (asserted in debug builds,
    /// `Drop(Malformed)` in release).
    #[inline]
    pub fn process(&mut self, ingress: PortId, frame: &[u8], now: u64) -> Verdict {
        debug_assert!(
            self.has_port(ingress),
            "ingress port {ingress} outside bridge ports 0..{} (tunnel: {})",
            self.n_ports,
            self.tunnel
        );
        if !self.has_port(ingress) {
            return Verdict::Drop(DropReason::Malformed);
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let c = &*self.counters;

        let src = eth.src();
        if src.is_learnable() {
            match self.table.learn(src, ingress, now) {
                LearnOutcome::Refreshed => {}
                LearnOutcome::Learned => bump(&c.learned, 1),
                LearnOutcome::Moved { from } => {
                    bump(&c.moved, 1);
                    if remote_of(from).is_some() != remote_of(ingress).is_some() {
                        bump(&c.moved_tunnel, 1);
                    }
                }
                LearnOutcome::TableFull => bump(&c.table_full, 1),
                LearnOutcome::StaticPinned => bump(&c.static_pinned, 1),
            }
        } else {
            // A group address as source is invalid (or spoofed); learning it would make
            // unicast lookups of it meaningful. The frame itself is still delivered.
            bump(&c.src_not_learnable, 1);
        }

        let dst = eth.dst();
        let verdict = if dst.is_multicast() {
            bump(&c.flooded, 1);
            Verdict::Flood
        } else {
            match self.table.lookup(dst, now) {
                Some(p) if p == ingress => Verdict::Drop(DropReason::DstIsIngress),
                Some(p) if p >= TUNNEL_PORT_BASE && ingress >= TUNNEL_PORT_BASE => {
                    Verdict::Drop(DropReason::SplitHorizon)
                }
                Some(p) => {
                    bump(&c.forwarded, 1);
                    if p >= TUNNEL_PORT_BASE {
                        bump(&c.forwarded_remote, 1);
                    }
                    Verdict::Forward(p)
                }
                None => {
                    bump(&c.flooded, 1);
                    bump(&c.flooded_unknown, 1);
                    Verdict::Flood
                }
            }
        };
        self.fold_aged();
        verdict
    }

    /// Forgets every MAC learned on `port` (its guest went away), counting them as
    /// `flushed`; static entries stay. Returns how many.
    pub fn flush_port(&mut self, port: PortId) -> usize {
        let n = self.table.flush_port(port);
        bump(&self.counters.flushed, n as u64);
        let entries = self.table.len() as u64;
        self.counters.entries.store(entries, Relaxed);
        n
    }

    /// Whether frames may arrive on `port`: a local port, or any tunnel port of a tunnel
    /// bridge.
    #[inline]
    pub fn has_port(&self, port: PortId) -> bool {
        port < self.n_ports || (self.tunnel && port >= TUNNEL_PORT_BASE)
    }

    /// Starts loading the MAC table slots that [`Bridge::process`] will need for `frame`
    /// (its source and destination). Call it for every frame of a burst before processing
    /// the burst, so the table misses overlap.
    #[inline]
    pub fn prefetch(&self, frame: &[u8]) {
        if let Ok(eth) = EthernetFrame::new_checked(frame) {
            self.table.prefetch(eth.dst());
            self.table.prefetch(eth.src());
        }
    }

    /// Periodic housekeeping: sweeps the part of the MAC table that is due by `now` (a full
    /// pass every aging time / [`SWEEPS_PER_AGING`], at most [`MAINTAIN_BUDGET`] slots per
    /// call) so silent hosts age out, freeing room, even if nobody sends to them. Cheap to
    /// call as often as the poll loop likes: a call with nothing due reads no table memory.
    #[inline]
    pub fn maintain(&mut self, now: u64) {
        let slots = self.table.slot_count() as u128;
        let period = self.sweep_period as u128;
        // Owe at most one full pass, so a long pause (or the first call) is not followed by
        // an endless catch-up.
        let earliest = now.saturating_sub(self.sweep_period);
        if self.swept_until < earliest {
            self.swept_until = earliest;
        }
        let elapsed = now.saturating_sub(self.swept_until) as u128;
        let due = (slots * elapsed / period).min(MAINTAIN_BUDGET as u128);
        if due > 0 {
            self.table.sweep(now, due as usize);
            // Credit for exactly the slots swept; the remainder carries to the next call.
            let credit = (due * period).div_ceil(slots) as u64;
            self.swept_until = self.swept_until.saturating_add(credit).min(now);
            self.fold_aged();
        }
        let entries = self.table.len() as u64;
        if self.counters.entries.load(Relaxed) != entries {
            self.counters.entries.store(entries, Relaxed);
        }
    }

    /// Moves expiries the table counted since last time into `aged`.
    #[inline]
    fn fold_aged(&mut self) {
        let total = self.table.expired_total();
        if total != self.expired_seen {
            bump(&self.counters.aged, total - self.expired_seen);
            self.expired_seen = total;
        }
    }

    pub fn counters(&self) -> &BridgeCounters {
        &self.counters
    }

    /// A handle on the counters for a stats thread, valid while the worker keeps mutating
    /// the bridge.
    pub fn counters_shared(&self) -> Arc<BridgeCounters> {
        Arc::clone(&self.counters)
    }

    pub fn table(&self) -> &MacTable {
        &self.table
    }

    pub fn n_ports(&self) -> u16 {
        self.n_ports
    }

    /// The local ports a `Flood` verdict for a frame from `ingress` goes to: all but
    /// `ingress`. (Remote VTEPs are the VTEP's business: its flood list, and only for frames
    /// from local ports.)
    pub fn flood_targets(&self, ingress: PortId) -> impl Iterator<Item = PortId> {
        (0..self.n_ports).filter(move |&p| p != ingress)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mac_table::tests::XorShift;
    use crate::wire::EtherType;

    const A: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xa]);
    const B: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xb]);
    const C: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xc]);
    const D: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0xd]);
    const S: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 0x5]);
    const MCAST: MacAddr = MacAddr([0x01, 0x00, 0x5e, 0, 0, 0x01]);

    /// A minimum-size (60-byte) frame from `src` to `dst`.
    fn frame(dst: MacAddr, src: MacAddr) -> [u8; 60] {
        let mut buf = [0u8; 60];
        EthernetFrame::emit(&mut buf, dst, src, EtherType::IPV4).unwrap();
        buf
    }

    fn bridge(n_ports: u16, capacity: usize, aging_ticks: u64) -> Bridge {
        Bridge::new(BridgeConfig {
            n_ports,
            tunnel: false,
            capacity,
            aging_ticks,
            static_macs: vec![],
        })
        .unwrap()
    }

    fn snap(b: &Bridge) -> BridgeCountersSnapshot {
        b.counters().snapshot()
    }

    #[test]
    fn unknown_unicast_floods_then_learned_forwards() {
        let mut b = bridge(4, 16, 1000);
        assert_eq!(b.process(0, &frame(B, A), 0), Verdict::Flood);
        assert_eq!(b.process(2, &frame(A, B), 1), Verdict::Forward(0));
        assert_eq!(b.process(0, &frame(B, A), 2), Verdict::Forward(2));
        assert_eq!(b.process(1, &frame(B, C), 3), Verdict::Forward(2));
        assert_eq!(b.process(1, &frame(A, C), 3), Verdict::Forward(0));
        let s = snap(&b);
        assert_eq!(s.learned, 3);
        assert_eq!((s.flooded, s.flooded_unknown, s.forwarded), (1, 1, 4));
        assert_eq!(b.table().len(), 3);
    }

    #[test]
    fn broadcast_and_multicast_always_flood() {
        let mut b = bridge(3, 16, 1000);
        b.process(1, &frame(A, B), 0);
        for dst in [MacAddr::BROADCAST, MCAST] {
            // Even after the table knows a lot, group destinations flood.
            for ingress in 0..3 {
                assert_eq!(b.process(ingress, &frame(dst, A), 0), Verdict::Flood);
            }
        }
        let s = snap(&b);
        assert_eq!(s.flooded, 7);
        assert_eq!(s.flooded_unknown, 1);
        assert_eq!(s.forwarded, 0);
    }

    #[test]
    fn dst_on_ingress_is_dropped() {
        let mut b = bridge(2, 16, 1000);
        b.process(0, &frame(MacAddr::BROADCAST, A), 0);
        b.process(0, &frame(MacAddr::BROADCAST, B), 0);
        // A and B share a segment behind port 0: the frame is already there.
        assert_eq!(
            b.process(0, &frame(B, A), 1),
            Verdict::Drop(DropReason::DstIsIngress)
        );
        // A frame to oneself, too.
        assert_eq!(
            b.process(1, &frame(C, C), 1),
            Verdict::Drop(DropReason::DstIsIngress)
        );
        assert_eq!(snap(&b).forwarded, 0);
    }

    #[test]
    fn runts_are_malformed() {
        let mut b = bridge(2, 16, 1000);
        let f = frame(B, A);
        for len in 0..EthernetFrame::HEADER_LEN {
            assert_eq!(
                b.process(0, &f[..len], 0),
                Verdict::Drop(DropReason::Malformed),
                "len {len}"
            );
        }
        assert!(b.table().is_empty(), "nothing learned from runts");
        assert_eq!(snap(&b), BridgeCountersSnapshot::default());
        assert_eq!(
            b.process(0, &f[..14], 0),
            Verdict::Flood,
            "a bare header is enough"
        );
    }

    #[test]
    fn group_or_zero_source_not_learned_but_delivered() {
        let mut b = bridge(3, 16, 1000);
        b.process(2, &frame(MacAddr::BROADCAST, B), 0);
        assert_eq!(
            b.process(0, &frame(MacAddr::BROADCAST, MCAST), 0),
            Verdict::Flood
        );
        assert_eq!(b.process(0, &frame(B, MCAST), 0), Verdict::Forward(2));
        assert_eq!(
            b.process(1, &frame(A, MacAddr::BROADCAST), 0),
            Verdict::Flood
        );
        assert_eq!(
            b.process(1, &frame(B, MacAddr::ZERO), 0),
            Verdict::Forward(2)
        );
        let s = snap(&b);
        assert_eq!(s.src_not_learnable, 4);
        assert_eq!(s.learned, 1);
        assert_eq!(b.table().len(), 1);
        // A frame *to* the zero MAC is unknown unicast, never a match for an empty slot.
        assert_eq!(b.process(0, &frame(MacAddr::ZERO, A), 0), Verdict::Flood);
    }

    #[test]
    fn table_full_counts_and_keeps_known_working() {
        let mut b = bridge(4, 2, 1000);
        b.process(0, &frame(MacAddr::BROADCAST, A), 0);
        b.process(1, &frame(MacAddr::BROADCAST, B), 0);
        b.process(2, &frame(MacAddr::BROADCAST, C), 0);
        b.process(2, &frame(A, C), 0);
        let s = snap(&b);
        assert_eq!((s.learned, s.table_full), (2, 2));
        // C is never learned: frames to it keep flooding ...
        assert_eq!(b.process(0, &frame(C, A), 1), Verdict::Flood);
        assert_eq!(b.process(1, &frame(C, B), 1), Verdict::Flood);
        // ... while the known ones keep forwarding, and can still move.
        assert_eq!(b.process(2, &frame(A, C), 1), Verdict::Forward(0));
        assert_eq!(b.process(3, &frame(B, A), 1), Verdict::Forward(1));
        assert_eq!(b.process(2, &frame(B, D), 1), Verdict::Forward(1));
        assert_eq!(b.process(1, &frame(A, D), 1), Verdict::Forward(3));
        let s = snap(&b);
        assert_eq!((s.table_full, s.moved, s.flooded_unknown), (5, 1, 2));
    }

    #[test]
    fn move_is_counted_and_forwarding_follows() {
        let mut b = bridge(3, 16, 1000);
        b.process(0, &frame(MacAddr::BROADCAST, A), 0);
        assert_eq!(b.process(1, &frame(A, B), 1), Verdict::Forward(0));
        b.process(2, &frame(MacAddr::BROADCAST, A), 2);
        assert_eq!(snap(&b).moved, 1);
        assert_eq!(b.process(1, &frame(A, B), 3), Verdict::Forward(2));
        assert_eq!(
            b.process(2, &frame(A, C), 3),
            Verdict::Drop(DropReason::DstIsIngress)
        );
    }

    fn tunnel_bridge(n_ports: u16, static_macs: Vec<(MacAddr, PortId)>) -> Bridge {
        Bridge::new(BridgeConfig {
            n_ports,
            tunnel: true,
            capacity: 16,
            aging_ticks: 1000,
            static_macs,
        })
        .unwrap()
    }

    #[test]
    fn remote_macs_are_learned_on_tunnel_ports() {
        let r0 = tunnel_port(0);
        let r1 = tunnel_port(1);
        let mut b = tunnel_bridge(2, vec![]);
        // A frame decapsulated from remote 0 teaches its source; a local reply goes there.
        assert_eq!(
            b.process(r0, &frame(MacAddr::BROADCAST, A), 0),
            Verdict::Flood
        );
        assert_eq!(b.process(1, &frame(A, B), 1), Verdict::Forward(r0));
        assert_eq!(b.process(r0, &frame(B, A), 2), Verdict::Forward(1));
        // Remote 1 sends to A (behind remote 0): split horizon, never relayed.
        assert_eq!(
            b.process(r1, &frame(A, C), 3),
            Verdict::Drop(DropReason::SplitHorizon)
        );
        // ... and to a MAC on the same remote as itself: the frame is already there.
        assert_eq!(
            b.process(r1, &frame(C, D), 3),
            Verdict::Drop(DropReason::DstIsIngress)
        );
        let s = snap(&b);
        assert_eq!((s.forwarded, s.forwarded_remote, s.learned), (2, 1, 4));
        assert_eq!(remote_of(r1), Some(1));
        assert_eq!(remote_of(1), None);
    }

    #[test]
    fn moves_between_local_ports_and_remotes_are_followed_and_counted() {
        let mut b = tunnel_bridge(2, vec![]);
        b.process(0, &frame(MacAddr::BROADCAST, A), 0);
        assert_eq!(b.process(1, &frame(A, B), 1), Verdict::Forward(0));
        // A migrates to another host: now behind remote 3.
        b.process(tunnel_port(3), &frame(MacAddr::BROADCAST, A), 2);
        assert_eq!(
            b.process(1, &frame(A, B), 3),
            Verdict::Forward(tunnel_port(3))
        );
        // ... then to remote 4 (a move, but not between local and tunnel) ...
        b.process(tunnel_port(4), &frame(MacAddr::BROADCAST, A), 4);
        // ... and back to a local port.
        b.process(0, &frame(MacAddr::BROADCAST, A), 5);
        assert_eq!(b.process(1, &frame(A, B), 6), Verdict::Forward(0));
        let s = snap(&b);
        assert_eq!((s.moved, s.moved_tunnel), (3, 2));
    }

    #[test]
    fn static_remote_entries_never_move_or_age() {
        let r = tunnel_port(2);
        let mut b = tunnel_bridge(2, vec![(S, r)]);
        assert_eq!(b.process(0, &frame(S, A), 5000), Verdict::Forward(r));
        // S shows up locally: switched, not learned.
        assert_eq!(b.process(1, &frame(A, S), 5001), Verdict::Forward(0));
        assert_eq!(b.process(0, &frame(S, A), 5002), Verdict::Forward(r));
        assert_eq!(snap(&b).static_pinned, 1);
        b.maintain(1_000_000);
        assert_eq!(b.process(0, &frame(S, A), 1_000_000), Verdict::Forward(r));
    }

    #[test]
    fn tunnel_ports_exist_only_on_tunnel_bridges() {
        let mut plain = bridge(2, 16, 1000);
        assert!(!plain.has_port(tunnel_port(0)));
        assert_eq!(
            Bridge::new(BridgeConfig {
                n_ports: 2,
                tunnel: false,
                capacity: 4,
                aging_ticks: 10,
                static_macs: vec![(S, tunnel_port(0))],
            })
            .err(),
            Some(BridgeError::StaticPortOutOfRange {
                mac: S,
                port: tunnel_port(0),
                n_ports: 2
            })
        );
        if !cfg!(debug_assertions) {
            assert_eq!(
                plain.process(tunnel_port(0), &frame(A, B), 0),
                Verdict::Drop(DropReason::Malformed)
            );
        }
        // A tunnel bridge may have no local port at all (a pure transit segment).
        assert!(tunnel_bridge(0, vec![]).has_port(tunnel_port(7)));
    }

    #[test]
    fn flushing_a_port_forgets_its_learned_macs_only() {
        let mut b = Bridge::new(BridgeConfig {
            n_ports: 3,
            tunnel: false,
            capacity: 16,
            aging_ticks: 1000,
            static_macs: vec![(S, 1)],
        })
        .unwrap();
        b.process(1, &frame(MacAddr::BROADCAST, A), 0);
        b.process(1, &frame(MacAddr::BROADCAST, B), 0);
        b.process(2, &frame(MacAddr::BROADCAST, C), 0);
        assert_eq!(b.process(0, &frame(A, D), 1), Verdict::Forward(1));
        assert_eq!(b.flush_port(1), 2);
        // A and B are unknown again (flood); C and the static S are kept.
        assert_eq!(b.process(0, &frame(A, D), 2), Verdict::Flood);
        assert_eq!(b.process(0, &frame(C, D), 2), Verdict::Forward(2));
        assert_eq!(b.process(0, &frame(S, D), 2), Verdict::Forward(1));
        let s = snap(&b);
        assert_eq!((s.flushed, s.entries), (2, 3));
        assert_eq!(b.flush_port(1), 0);
    }

    #[test]
    fn static_entries_never_move_or_age() {
        let mut b = Bridge::new(BridgeConfig {
            n_ports: 3,
            tunnel: false,
            capacity: 4,
            aging_ticks: 10,
            static_macs: vec![(S, 2)],
        })
        .unwrap();
        assert_eq!(b.table().iter().collect::<Vec<_>>(), vec![(S, 2, true)]);
        assert_eq!(b.process(0, &frame(S, A), 0), Verdict::Forward(2));
        // S (spoofed, or looped) shows up on port 1: counted, but the entry stays.
        assert_eq!(
            b.process(1, &frame(MacAddr::BROADCAST, S), 1),
            Verdict::Flood
        );
        assert_eq!(
            b.process(2, &frame(MacAddr::BROADCAST, S), 1),
            Verdict::Flood
        );
        assert_eq!(b.process(0, &frame(S, A), 2), Verdict::Forward(2));
        let s = snap(&b);
        assert_eq!(
            (s.static_pinned, s.moved),
            (1, 0),
            "only the frame on port 1 was a move attempt"
        );
        // Long after any learned entry would have aged.
        for t in [1_000, 1_000_000, u64::MAX] {
            b.maintain(t);
            assert_eq!(b.process(0, &frame(S, A), t), Verdict::Forward(2));
        }
        assert_eq!(b.table().iter().filter(|e| e.2).count(), 1);
    }

    #[test]
    fn aging_makes_dst_flood_again() {
        let mut b = bridge(3, 16, 10);
        b.process(1, &frame(MacAddr::BROADCAST, B), 0);
        assert_eq!(b.process(0, &frame(B, A), 5), Verdict::Forward(1));
        assert_eq!(b.process(0, &frame(B, A), 10), Verdict::Forward(1));
        // B silent for 11 ticks: expired on lookup.
        assert_eq!(b.process(0, &frame(B, A), 11), Verdict::Flood);
        let s = snap(&b);
        assert_eq!((s.aged, s.flooded_unknown), (1, 1));
        // A (last seen at 11) ages out through maintain alone: nobody sends to it.
        b.maintain(30);
        assert!(b.table().is_empty());
        assert_eq!(snap(&b).aged, 2);
        // Re-learning after expiry on the source side also counts an expiry.
        b.process(0, &frame(MacAddr::BROADCAST, A), 40);
        b.process(0, &frame(MacAddr::BROADCAST, A), 60);
        let s = snap(&b);
        assert_eq!((s.aged, s.learned), (3, 4));
    }

    #[test]
    fn maintain_sweeps_at_the_pace_of_the_aging_time() {
        // 1024 entries -> 2048 slots; aging 4000 ticks -> a full pass every 1000 ticks, so
        // about two slots per tick.
        let mut b = bridge(2, 1024, 4000);
        let slots = b.table().slot_count() as u64;
        assert_eq!(slots, 2048);
        for i in 0..1000u32 {
            let m = MacAddr([2, 0, 0, 0, (i >> 8) as u8, i as u8]);
            b.process(0, &frame(MacAddr::BROADCAST, m), 0);
        }
        assert_eq!(b.table().len(), 1000);
        // The first calls owe one full pass (2048 slots, eight budgets); nothing has expired
        // yet at tick 4000, so it removes nothing.
        let mut t = 4000;
        for _ in 0..8 {
            b.maintain(t);
        }
        assert_eq!(b.table().len(), 1000);
        // Everything expires from tick 4001 on. Now the sweep runs at about two slots per
        // tick however often it is called, so emptying the table takes about a pass.
        let mut ticks = 0;
        while !b.table().is_empty() {
            t += 1;
            for _ in 0..3 {
                b.maintain(t);
            }
            ticks += 1;
            assert!(ticks <= 1100, "a full pass must take about 1000 ticks");
        }
        assert!(
            ticks >= 800,
            "swept too fast: {ticks} ticks for a pass of 1000"
        );
        assert_eq!(snap(&b).aged, 1000);
    }

    #[test]
    fn flood_targets_exclude_ingress() {
        let b = bridge(4, 16, 10);
        for ingress in 0..4 {
            let t: Vec<_> = b.flood_targets(ingress).collect();
            assert_eq!(t.len(), 3);
            assert!(!t.contains(&ingress));
            assert!(t.iter().all(|&p| p < 4));
        }
        assert_eq!(bridge(1, 16, 10).flood_targets(0).count(), 0);
    }

    #[test]
    #[cfg_attr(debug_assertions, should_panic(expected = "outside bridge ports"))]
    fn ingress_out_of_range_is_malformed_in_release() {
        let mut b = bridge(2, 16, 10);
        assert_eq!(
            b.process(2, &frame(B, A), 0),
            Verdict::Drop(DropReason::Malformed)
        );
        assert!(b.table().is_empty());
    }

    #[test]
    fn config_errors() {
        let cfg = |n_ports, capacity, static_macs| BridgeConfig {
            n_ports,
            tunnel: false,
            capacity,
            aging_ticks: 10,
            static_macs,
        };
        let err = |c| Bridge::new(c).err().unwrap();
        assert_eq!(err(cfg(0, 4, vec![])), BridgeError::NoPorts);
        assert_eq!(
            err(cfg(2, 4, vec![(MCAST, 0)])),
            BridgeError::StaticNotLearnable { mac: MCAST }
        );
        assert_eq!(
            err(cfg(2, 4, vec![(MacAddr::ZERO, 0)])),
            BridgeError::StaticNotLearnable { mac: MacAddr::ZERO }
        );
        assert_eq!(
            err(cfg(2, 4, vec![(A, 2)])),
            BridgeError::StaticPortOutOfRange {
                mac: A,
                port: 2,
                n_ports: 2
            }
        );
        assert_eq!(
            err(cfg(2, 4, vec![(A, 0), (A, 1)])),
            BridgeError::StaticDuplicate { mac: A }
        );
        assert_eq!(
            err(cfg(2, 1, vec![(A, 0), (B, 1)])),
            BridgeError::TooManyStatic {
                count: 2,
                capacity: 1
            }
        );
        let e = err(cfg(2, 4, vec![(A, 7)]));
        assert!(
            e.to_string().contains("02:00:00:00:00:0a is on port 7"),
            "{e}"
        );
        let b = Bridge::new(cfg(2, 2, vec![(A, 0), (B, 1)])).unwrap();
        assert_eq!(b.n_ports(), 2);
        assert_eq!(b.table().len(), 2);
    }

    #[test]
    fn names_and_fields() {
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        assert_eq!(DropReason::Malformed.name(), "malformed");
        assert_eq!(DropReason::DstIsIngress.name(), "dst_is_ingress");
        assert_eq!(DropReason::SplitHorizon.name(), "split_horizon");
        let s = BridgeCountersSnapshot {
            learned: 1,
            moved: 2,
            aged: 3,
            table_full: 4,
            static_pinned: 5,
            src_not_learnable: 6,
            flooded: 7,
            flooded_unknown: 8,
            forwarded: 9,
            forwarded_remote: 10,
            moved_tunnel: 11,
            flushed: 12,
            entries: 0,
        };
        let names: Vec<_> = s.fields().iter().map(|f| f.0).collect();
        assert_eq!(
            names,
            [
                "macs",
                "learned",
                "moved",
                "aged",
                "table_full",
                "static_pinned",
                "src_not_learnable",
                "flooded",
                "flooded_unknown",
                "forwarded",
                "forwarded_remote",
                "moved_tunnel",
                "flushed"
            ]
        );
        assert!(s.fields().iter().enumerate().all(|(i, f)| f.1 == i as u64));
        assert_eq!(std::mem::align_of::<BridgeCounters>(), 64);
    }

    #[test]
    fn counters_readable_from_another_thread() {
        let mut b = bridge(2, 16, 10);
        let shared = b.counters_shared();
        let reader = std::thread::spawn(move || {
            let mut last = 0;
            for _ in 0..1000 {
                let now = shared.snapshot().flooded;
                assert!(now >= last, "counter went backwards");
                last = now;
            }
        });
        for t in 0..10_000 {
            b.process(0, &frame(MacAddr::BROADCAST, A), t);
        }
        reader.join().unwrap();
        assert_eq!(snap(&b).flooded, 10_000);
    }

    #[test]
    fn random_frames_never_panic() {
        let mut rng = XorShift(0x0bad_cafe);
        let n_ports = 5;
        let mut b = bridge(n_ports, 64, 200);
        // A small pool of addresses so lookups hit, moves happen and the table fills up.
        let pool: Vec<MacAddr> = (0..100u64)
            .map(|i| match i % 10 {
                0 => MacAddr::BROADCAST,
                1 => MacAddr::from_u64(0x0100_5e00_0000 | i),
                2 => MacAddr::ZERO,
                _ => MacAddr::from_u64(0x0200_0000_0000 | i),
            })
            .collect();
        let mut buf = [0u8; 80];
        let mut now = 0;
        let mut verdicts = [0usize; 4];
        for _ in 0..100_000 {
            let len = rng.below(80) as usize;
            for byte in buf.iter_mut() {
                *byte = rng.next() as u8;
            }
            if rng.below(4) != 0 {
                let dst = pool[rng.below(100) as usize];
                let src = pool[rng.below(100) as usize];
                EthernetFrame::emit(&mut buf, dst, src, 0).unwrap();
            }
            now += rng.below(3);
            let ingress = rng.below(u64::from(n_ports)) as PortId;
            match b.process(ingress, &buf[..len], now) {
                Verdict::Forward(p) => {
                    assert!(p < n_ports && p != ingress);
                    verdicts[0] += 1;
                }
                Verdict::Flood => verdicts[1] += 1,
                Verdict::Drop(DropReason::Malformed) => {
                    assert!(len < 14);
                    verdicts[2] += 1;
                }
                Verdict::Drop(DropReason::DstIsIngress) => verdicts[3] += 1,
                Verdict::Drop(DropReason::SplitHorizon) => panic!("split horizon without a tunnel"),
            }
            assert!(b.table().len() <= 64);
            if rng.below(8) == 0 {
                b.maintain(now);
            }
        }
        assert!(
            verdicts.iter().all(|&v| v > 100),
            "verdict mix {verdicts:?}"
        );
        let s = snap(&b);
        assert!(s.aged > 0 && s.moved > 0 && s.table_full > 0, "{s:?}");
        assert_eq!(s.flooded as usize, verdicts[1]);
        assert_eq!(s.forwarded as usize, verdicts[0]);
    }
}
