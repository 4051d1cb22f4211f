//! Underlay neighbours (ARP) of a VTEP: the next hops its encapsulated frames go to.
//!
//! OVS-DPDK drops every frame toward a next hop it has not resolved yet; this table instead
//! holds a few frames per neighbour while its ARP request is out and hands them back when
//! the reply arrives. States, per neighbour:
//!
//! * `Static`: from the config, never probed, never expires.
//! * `Resolved`: usable until `confirmed + reachable`; from `confirmed + refresh` on, one
//!   request per `retry` keeps it fresh while it is still used as it is.
//! * `Incomplete`: requests go out every `retry` (the first at once), up to `max_probes`;
//!   then `Failed`: the held frames are dropped (counted), and the next frame toward it
//!   starts probing again, at most once per `retry`.
//!
//! Generic over the held item so the logic is tested without mbufs; the dataplane holds
//! `Mbuf`s, which are freed when dropped.

use crate::wire::MacAddr;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// Index of a neighbour in its [`Neighbors`] table.
pub type NeighborId = u16;

/// Frames held per unresolved neighbour: enough for a TCP handshake and a few pings, small
/// enough that a dead next hop cannot pin many mbufs.
pub const HOLD_PER_NEIGHBOR: usize = 16;
/// Frames held over all neighbours: however many next hops fail to answer (a flood of
/// learned remotes, say), the hold queues never take more than this many mbufs from the
/// pool.
pub const HOLD_TOTAL: usize = 256;

/// Timing of resolution, in the caller's ticks (the dataplane uses TSC cycles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighborTimers {
    /// Between two requests for the same neighbour.
    pub retry: u64,
    /// A resolved entry is used for this long after its last confirmation.
    pub reachable: u64,
    /// After this long since the last confirmation, refresh requests go out.
    pub refresh: u64,
    /// Requests without a reply before an incomplete entry fails.
    pub max_probes: u32,
}

impl NeighborTimers {
    /// Defaults for a clock of `hz` ticks per second: a request per second, three of them;
    /// entries valid for a minute and refreshed during its last 15 seconds (the first three
    /// refreshes to the known MAC, then broadcast, so a next hop that changed its MAC without
    /// a gratuitous ARP is found again within the minute).
    pub fn for_hz(hz: u64) -> NeighborTimers {
        NeighborTimers {
            retry: hz,
            reachable: 60 * hz,
            refresh: 45 * hz,
            max_probes: 3,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Static,
    Resolved { confirmed: u64 },
    Incomplete { probes: u32 },
    Failed,
}

struct Entry<T> {
    ip: Ipv4Addr,
    mac: MacAddr,
    state: State,
    /// When the next request may go out (Incomplete, refresh) — `None`: nothing due.
    next_probe: Option<u64>,
    held: VecDeque<T>,
}

/// What [`Neighbors::resolve`] says about sending toward a neighbour now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Send to this MAC.
    Ready(MacAddr),
    /// Not resolved yet: hold the frame ([`Neighbors::hold`]).
    Pending,
}

/// Why a neighbour was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NeighborError {
    Full,
}

/// The neighbour table. Small (one entry per next hop: the on-link remote VTEPs and the
/// gateway), so lookups by IP scan; the hot path addresses entries by [`NeighborId`].
pub struct Neighbors<T> {
    entries: Vec<Entry<T>>,
    timers: NeighborTimers,
    capacity: usize,
    /// Frames held over all entries (at most [`HOLD_TOTAL`]).
    held: usize,
}

/// A request the table wants sent: ARP who-has `target`, to `dst` (broadcast while
/// resolving, the known MAC when refreshing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    pub target: Ipv4Addr,
    pub dst: MacAddr,
}

impl<T> Neighbors<T> {
    /// An empty table for at most `capacity` neighbours (at most 65536).
    pub fn new(timers: NeighborTimers, capacity: usize) -> Neighbors<T> {
        Neighbors {
            entries: Vec::with_capacity(capacity.min(1 << 16)),
            timers,
            capacity: capacity.min(1 << 16),
            held: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for `ip`, if any.
    pub fn find(&self, ip: Ipv4Addr) -> Option<NeighborId> {
        self.entries
            .iter()
            .position(|e| e.ip == ip)
            .map(|i| i as NeighborId)
    }

    /// The entry for `ip`, created (incomplete, a request due at once) when absent. Not for
    /// the hot path: creation allocates the hold queue.
    pub fn get_or_add(&mut self, ip: Ipv4Addr) -> Result<NeighborId, NeighborError> {
        if let Some(id) = self.find(ip) {
            return Ok(id);
        }
        if self.entries.len() >= self.capacity {
            return Err(NeighborError::Full);
        }
        self.entries.push(Entry {
            ip,
            mac: MacAddr::ZERO,
            state: State::Incomplete { probes: 0 },
            next_probe: Some(0),
            held: VecDeque::with_capacity(HOLD_PER_NEIGHBOR),
        });
        Ok((self.entries.len() - 1) as NeighborId)
    }

    /// Adds or overrides a static entry.
    pub fn add_static(&mut self, ip: Ipv4Addr, mac: MacAddr) -> Result<NeighborId, NeighborError> {
        let id = self.get_or_add(ip)?;
        let e = &mut self.entries[id as usize];
        e.mac = mac;
        e.state = State::Static;
        e.next_probe = None;
        Ok(id)
    }

    /// Where to send toward neighbour `id` at `now`. A failed entry asked for again starts
    /// a new round of requests (no sooner than one retry after the last).
    #[inline]
    pub fn resolve(&mut self, id: NeighborId, now: u64) -> Resolution {
        let t = self.timers;
        let Some(e) = self.entries.get_mut(id as usize) else {
            return Resolution::Pending;
        };
        match e.state {
            State::Static => Resolution::Ready(e.mac),
            State::Resolved { confirmed } if now.saturating_sub(confirmed) <= t.reachable => {
                Resolution::Ready(e.mac)
            }
            State::Resolved { .. } | State::Failed => {
                e.state = State::Incomplete { probes: 0 };
                if e.next_probe.is_none() {
                    e.next_probe = Some(now);
                }
                Resolution::Pending
            }
            State::Incomplete { .. } => Resolution::Pending,
        }
    }

    /// Holds `item` until neighbour `id` resolves; gives it back when the queue is full.
    pub fn hold(&mut self, id: NeighborId, item: T) -> Result<(), T> {
        if self.held >= HOLD_TOTAL {
            return Err(item);
        }
        match self.entries.get_mut(id as usize) {
            Some(e) if e.held.len() < HOLD_PER_NEIGHBOR => {
                e.held.push_back(item);
                self.held += 1;
                Ok(())
            }
            _ => Err(item),
        }
    }

    /// Records that `ip` is at `mac` (an ARP reply, or a request from it). Only neighbours
    /// already in the table are updated, so strangers cannot fill it. Returns the entry
    /// when it has held frames to send now.
    pub fn confirm(&mut self, ip: Ipv4Addr, mac: MacAddr, now: u64) -> Option<NeighborId> {
        let id = self.find(ip)?;
        let e = &mut self.entries[id as usize];
        if e.state == State::Static || !mac.is_learnable() {
            return None;
        }
        e.mac = mac;
        e.state = State::Resolved { confirmed: now };
        e.next_probe = None;
        (!e.held.is_empty()).then_some(id)
    }

    /// The oldest frame held for `id`, to send now that it resolved (call until `None`).
    pub fn pop_held(&mut self, id: NeighborId) -> Option<T> {
        let item = self.entries.get_mut(id as usize)?.held.pop_front()?;
        self.held -= 1;
        Some(item)
    }

    /// Timers: sends due requests through `send`, moves entries that stopped answering to
    /// incomplete or failed, and drops (returns the count of) frames held for failed ones.
    /// Cheap when nothing is due: one pass over a few entries.
    pub fn poll(&mut self, now: u64, mut send: impl FnMut(Probe)) -> u64 {
        let t = self.timers;
        let mut dropped = 0;
        for e in &mut self.entries {
            match e.state {
                State::Static | State::Failed => continue,
                State::Resolved { confirmed } => {
                    let age = now.saturating_sub(confirmed);
                    if age > t.reachable {
                        // Missed every refresh: resolve afresh before using it again.
                        e.state = State::Incomplete { probes: 0 };
                        e.next_probe = Some(now);
                    } else if age >= t.refresh {
                        if e.next_probe.is_none_or(|at| now >= at) {
                            // Unicast first (cheap for everyone else), then broadcast, in
                            // case the neighbour's MAC changed.
                            let unicast = age < t.refresh.saturating_add(3 * t.retry);
                            send(Probe {
                                target: e.ip,
                                dst: if unicast { e.mac } else { MacAddr::BROADCAST },
                            });
                            e.next_probe = Some(now.saturating_add(t.retry));
                        }
                        continue;
                    } else {
                        continue;
                    }
                }
                State::Incomplete { .. } => {}
            }
            let State::Incomplete { probes } = e.state else {
                continue;
            };
            if e.next_probe.is_some_and(|at| now < at) {
                continue;
            }
            if probes >= t.max_probes {
                e.state = State::Failed;
                dropped += e.held.len() as u64;
                self.held -= e.held.len();
                e.held.clear();
                // The next demand may probe again once a retry interval has passed.
                e.next_probe = Some(now.saturating_add(t.retry));
                continue;
            }
            send(Probe {
                target: e.ip,
                dst: MacAddr::BROADCAST,
            });
            e.state = State::Incomplete { probes: probes + 1 };
            e.next_probe = Some(now.saturating_add(t.retry));
        }
        dropped
    }

    /// Entries usable right now (static or resolved).
    pub fn resolved_count(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.state, State::Static | State::Resolved { .. }))
            .count()
    }

    /// Frames held over all entries.
    pub fn held_count(&self) -> usize {
        self.held
    }
}
