//! The handshake by which a control thread (the vhost library's event thread) takes a guest
//! away from the worker lcore that calls into its device, and counts the guest's departure.
//! Both vhost-user paths use it: the vhost library port ([`crate::VhostQueue`]: every burst
//! call) and a net_vhost ethdev port whose departures are counted ([`crate::EthQueue`]:
//! receive calls).
//!
//! The worker brackets each call with `busy` ([`PeerGate::enter`] / [`PeerGate::leave`]);
//! [`PeerGate::depart`] withdraws the peer and then waits for `busy` to drop (net_vhost's
//! `allow_queuing` / `while_queuing`). Both sides write one variable and then read the
//! other, so those four accesses are `SeqCst`: in their single total order, either the
//! worker's read of the peer comes after the withdrawal (it sees none and does not call),
//! or its `busy = true` comes before the control thread's read of `busy` (which then waits
//! for the call to end). With release/acquire alone, each side could read the other's old
//! value (x86 reorders a store with a later load), and the worker could call into a device
//! the library is freeing.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

/// No peer attached.
pub(crate) const NO_PEER: c_int = -1;

#[repr(align(64))]
pub(crate) struct PeerGate {
    /// The attached peer's id (a vhost device id; any non-negative token where there is
    /// none), or [`NO_PEER`].
    peer: AtomicI32,
    /// The worker is inside a call with the peer it read.
    busy: AtomicBool,
    /// Peers that went away: [`PeerGate::depart`] calls that withdrew the attached peer.
    /// Bumped after the withdrawal and after the worker left its call, so a reader that
    /// sees the new count also sees the peer withdrawn (or a newer one).
    departures: AtomicU64,
}

impl PeerGate {
    pub(crate) fn new() -> PeerGate {
        PeerGate {
            peer: AtomicI32::new(NO_PEER),
            busy: AtomicBool::new(false),
            departures: AtomicU64::new(0),
        }
    }

    /// Control side: the attached peer, or [`NO_PEER`].
    pub(crate) fn peer(&self) -> c_int {
        self.peer.load(Ordering::SeqCst)
    }

    /// Whether a peer is attached, as a plain load (for a link state).
    pub(crate) fn attached(&self) -> bool {
        self.peer.load(Ordering::Relaxed) >= 0
    }

    /// Control side: publishes `id` as the attached peer, handing it to the worker; what
    /// the control thread stored before is visible to a worker that reads it. Returns
    /// whether `id` was not attached already.
    pub(crate) fn attach(&self, id: c_int) -> bool {
        self.peer.swap(id, Ordering::SeqCst) != id
    }

    /// Enters a call: the attached peer, with `busy` set, or `None` (and `busy` clear)
    /// when none is attached.
    #[inline(always)]
    pub(crate) fn enter(&self) -> Option<c_int> {
        // An idle port (no peer) costs one plain load, without the fence below.
        if self.peer.load(Ordering::Relaxed) < 0 {
            return None;
        }
        self.busy.store(true, Ordering::SeqCst);
        let id = self.peer.load(Ordering::SeqCst);
        if id < 0 {
            self.busy.store(false, Ordering::Release);
            return None;
        }
        Some(id)
    }

    /// Leaves a call. Release: everything the call did, and the departure count read inside
    /// it, happen before a [`depart`](Self::depart) that sees `busy == false` lets the
    /// library free the device and counts the departure.
    #[inline(always)]
    pub(crate) fn leave(&self) {
        self.busy.store(false, Ordering::Release);
    }

    /// Worker side, between [`enter`](Self::enter) and [`leave`](Self::leave): the
    /// departures counted so far. The departure of the peer `enter` returned cannot be
    /// counted before `leave` (depart waits for it), and every departure before that peer
    /// attached already is (the control thread counts one before it attaches the next,
    /// which `enter`'s SeqCst load synchronised with).
    #[inline(always)]
    pub(crate) fn departures_in_call(&self) -> u64 {
        self.departures.load(Ordering::Relaxed)
    }

    /// The departures counted so far.
    pub(crate) fn departures(&self) -> u64 {
        self.departures.load(Ordering::Acquire)
    }

    /// Control side: makes sure the worker stops using peer `id` and is not inside a call
    /// with it, then counts a departure if `id` was the attached peer. Only withdraws `id`
    /// if it is still the attached one (a refused second guest must not detach the first),
    /// but always waits: whatever was attached, the worker may have read it before it was
    /// replaced. Returns whether `id` was the attached peer.
    pub(crate) fn depart(&self, id: c_int) -> bool {
        let was_attached = self
            .peer
            .compare_exchange(id, NO_PEER, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok();
        while self.busy.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
        if was_attached {
            self.departures.fetch_add(1, Ordering::Release);
        }
        was_attached
    }

    /// Forgets the peer without waiting or counting: the port is closing and the library
    /// has detached it already (or never will call again).
    pub(crate) fn forget(&self) {
        self.peer.store(NO_PEER, Ordering::SeqCst);
    }
}
