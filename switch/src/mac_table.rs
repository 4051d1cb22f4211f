//! A fixed-capacity MAC learning table for the hot path of a poll-mode switch.
//!
//! Design constraints, and why:
//!
//! * **No allocation after [`MacTable::new`], no locks.** The table is owned by exactly one
//!   worker thread and touched for every frame (one `learn` for the source, one `lookup` for
//!   the destination). A `HashMap` could reallocate (a multi-millisecond stall at a million
//!   entries) and hashes with SipHash, which costs more than the rest of the per-frame work.
//! * **Open addressing with linear probing.** A probe is a walk over adjacent 16-byte
//!   entries, four per cache line, so a hit or miss usually costs one cache miss.
//! * **Load factor <= 0.5.** The slot array is a power of two at least twice `capacity`.
//!   With linear probing the expected probe length of a miss grows like `1 / (1 - a)^2`; at
//!   `a = 0.5` that is about 2.5 slots, while at 0.9 it is about 50. Since the table refuses
//!   inserts beyond `capacity`, the bound holds even under a MAC flood, and there is always
//!   an empty slot, so every probe loop terminates.
//! * **Backward-shift deletion instead of tombstones.** Entries leave constantly (aging,
//!   moves of the sweep cursor), and tombstones would accumulate until probes walk the whole
//!   array; purging them would need a rehash, i.e. a latency spike. Backward-shift deletion
//!   keeps the table exactly as if the removed key had never been inserted, so probe lengths
//!   depend only on the current contents.
//! * **Opaque `u64` ticks.** The caller supplies `now` (TSC cycles, a loop counter, ...), so
//!   the table never reads a clock and tests control time exactly.

use crate::wire::MacAddr;
use std::fmt;

/// Index of a port within a bridge (0-based, dense); not a DPDK port id.
pub type PortId = u16;

/// `last_seen` value that marks a static entry: it never ages and never moves.
const STATIC: u64 = u64::MAX;
/// The low 48 bits of [`Entry::key_port`] hold the MAC.
const KEY_MASK: u64 = (1 << 48) - 1;
/// Multiplier for Fibonacci (multiply-shift) hashing: 2^64 / golden ratio, odd.
const HASH_MUL: u64 = 0x9E37_79B9_7F4A_7C15;
/// Smallest slot array, so tiny tables still get short clusters.
const MIN_SLOTS: usize = 16;

/// One slot, 16 bytes so four share a cache line.
///
/// `key_port` packs the 48-bit MAC (low bits) and the port (high 16 bits). A MAC of zero
/// marks an empty slot, which is why 00:00:00:00:00:00 is never stored.
#[repr(C)]
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct Entry {
    key_port: u64,
    /// Tick of the last frame from this MAC, or [`STATIC`].
    last_seen: u64,
}

impl Entry {
    const EMPTY: Entry = Entry {
        key_port: 0,
        last_seen: 0,
    };

    #[inline]
    fn new(key: u64, port: PortId, last_seen: u64) -> Entry {
        Entry {
            key_port: key | (u64::from(port) << 48),
            last_seen,
        }
    }

    #[inline]
    fn key(&self) -> u64 {
        self.key_port & KEY_MASK
    }

    #[inline]
    fn port(&self) -> PortId {
        (self.key_port >> 48) as PortId
    }

    #[inline]
    fn is_empty(&self) -> bool {
        self.key() == 0
    }

    #[inline]
    fn is_static(&self) -> bool {
        self.last_seen == STATIC
    }
}

/// Home slot of `key` in a table of `2^bits` slots (`bits` in 4..=63).
///
/// Multiply-shift keeps the *high* bits of the product, which depend on every bit of the
/// key; MACs from one vendor differ only in their low octets, and those still spread evenly.
#[inline]
fn hash(key: u64, bits: u32) -> usize {
    (key.wrapping_mul(HASH_MUL) >> (64 - bits)) as usize
}

/// Clamps a caller's tick so a learned entry can never be mistaken for a static one.
#[inline]
fn learned_stamp(now: u64) -> u64 {
    now.min(STATIC - 1)
}

/// What [`MacTable::learn`] did with a (source MAC, port) pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnOutcome {
    /// Known on the same port; its age was reset.
    Refreshed,
    /// Inserted. Also returned when an expired entry for the MAC was found and replaced
    /// (that expiry is counted in [`MacTable::expired_total`]).
    Learned,
    /// Known on another port: the host moved (or a loop exists). The entry now points at the
    /// new port.
    Moved { from: PortId },
    /// Not known and the table holds `capacity` entries: not inserted. Frames to this MAC
    /// keep flooding until room frees up (aging, [`MacTable::sweep`]).
    ///
    /// Release builds also report a non-learnable MAC (zero or multicast) this way: it is
    /// refused, never inserted.
    TableFull,
    /// A static entry pins this MAC to another port; it was left untouched (no move).
    StaticPinned,
}

/// Why [`MacTable::add_static`] refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaticError {
    /// Multicast, broadcast or all-zero: a bridge forwards only unicast by table.
    NotLearnable,
    /// The table already holds `capacity` entries.
    TableFull,
    /// A static entry for this MAC already exists.
    Duplicate,
}

impl fmt::Display for StaticError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StaticError::NotLearnable => {
                "a static MAC must be unicast and non-zero (first octet even, not 00:00:00:00:00:00)"
            }
            StaticError::TableFull => {
                "the MAC table is full; raise its capacity or configure fewer static MACs"
            }
            StaticError::Duplicate => "a static entry for this MAC already exists",
        })
    }
}

impl std::error::Error for StaticError {}

/// Result of probing for a key.
enum Probe {
    /// The key is in this slot.
    Found(usize),
    /// The key is absent; this is the empty slot where it would go.
    Vacant(usize),
}

/// Fixed-capacity MAC -> port table with aging. See the module docs for the design.
pub struct MacTable {
    slots: Vec<Entry>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    /// `log2(slots.len())`, for the hash.
    bits: u32,
    /// Occupied slots (learned + static).
    len: usize,
    capacity: usize,
    aging_ticks: u64,
    /// A learned entry's stamp is only rewritten when it is at least this old (1/64 of the
    /// aging time), so an entry may expire up to that much before `aging_ticks` after its
    /// last frame.
    refresh_after: u64,
    /// Next slot [`MacTable::sweep`] examines.
    cursor: usize,
    expired_total: u64,
}

impl MacTable {
    /// A table for at most `capacity` entries (learned + static), whose learned entries
    /// expire once more than `aging_ticks` ticks pass without a frame from them. This is the
    /// only allocation the table ever makes: `16 * max(16, next_pow2(2 * capacity))` bytes.
    ///
    /// # Panics
    ///
    /// If the slot array size overflows `usize` (a capacity no machine can hold).
    pub fn new(capacity: usize, aging_ticks: u64) -> MacTable {
        let n = capacity
            .checked_mul(2)
            .and_then(usize::checked_next_power_of_two)
            .expect("MAC table capacity too large")
            .max(MIN_SLOTS);
        MacTable {
            slots: vec![Entry::EMPTY; n],
            mask: n - 1,
            bits: n.trailing_zeros(),
            len: 0,
            capacity,
            aging_ticks,
            refresh_after: aging_ticks / 64,
            cursor: 0,
            expired_total: 0,
        }
    }

    #[inline]
    fn home(&self, key: u64) -> usize {
        hash(key, self.bits)
    }

    /// Address and length in bytes of the slot array, for a caller that wants to advise the
    /// OS about it (the dataplane asks for transparent huge pages: a 1M-entry table spans
    /// 8192 4-KiB pages, and every random lookup would otherwise also miss the TLB).
    pub fn memory_region(&self) -> (usize, usize) {
        (
            self.slots.as_ptr() as usize,
            std::mem::size_of_val(self.slots.as_slice()),
        )
    }

    /// Starts loading the slot where the search for `mac` begins, so that a `learn` or
    /// `lookup` of it a little later finds the line in cache. A poll loop that issues this
    /// for a whole burst before processing it overlaps the burst's cache misses instead of
    /// paying them one after another (the table of a million entries is 32 MiB).
    #[inline]
    pub fn prefetch(&self, mac: MacAddr) {
        let slot = &self.slots[self.home(mac.to_u64())];
        #[cfg(target_arch = "x86_64")]
        // SAFETY: PREFETCH never faults and has no architectural effect; the address is
        // that of a live element of `slots`.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                slot as *const Entry as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            );
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = slot;
    }

    /// Finds `key`, or the empty slot that ends its probe sequence. Terminates because
    /// `len <= capacity <= slots / 2` leaves at least one empty slot. `key == 0` always
    /// yields `Vacant`.
    #[inline]
    fn probe(&self, key: u64) -> Probe {
        let mut i = self.home(key);
        loop {
            let k = self.slots[i].key();
            if k == 0 {
                return Probe::Vacant(i);
            }
            if k == key {
                return Probe::Found(i);
            }
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    fn is_expired(&self, e: &Entry, now: u64) -> bool {
        !e.is_static() && now.saturating_sub(e.last_seen) > self.aging_ticks
    }

    /// Empties slot `i` by backward-shift deletion: walk the rest of the cluster and move
    /// back every entry whose home slot is not cyclically within `(hole, j]`, i.e. every
    /// entry whose probe sequence passes through the hole. Afterwards the table is exactly
    /// what it would be had the key never been inserted, so no tombstone is needed.
    #[inline]
    fn remove_at(&mut self, i: usize) {
        let mut hole = i;
        let mut j = (i + 1) & self.mask;
        loop {
            let e = self.slots[j];
            if e.is_empty() {
                break;
            }
            let home = self.home(e.key());
            // Distances travelled from the home slot and from the hole to `j`. The entry may
            // fill the hole iff its home is at or before the hole along its probe path.
            if (j.wrapping_sub(home) & self.mask) >= (j.wrapping_sub(hole) & self.mask) {
                self.slots[hole] = e;
                hole = j;
            }
            j = (j + 1) & self.mask;
        }
        self.slots[hole] = Entry::EMPTY;
        self.len -= 1;
    }

    /// Pins `mac` to `port`: the entry never ages and [`MacTable::learn`] never moves it.
    /// A *learned* entry for the MAC is converted in place (an operator pinning a host the
    /// bridge already saw should not have to remove it first); only an existing *static*
    /// entry is a [`StaticError::Duplicate`].
    pub fn add_static(&mut self, mac: MacAddr, port: PortId) -> Result<(), StaticError> {
        if !mac.is_learnable() {
            return Err(StaticError::NotLearnable);
        }
        let key = mac.to_u64();
        match self.probe(key) {
            Probe::Found(i) => {
                if self.slots[i].is_static() {
                    return Err(StaticError::Duplicate);
                }
                self.slots[i] = Entry::new(key, port, STATIC);
                Ok(())
            }
            Probe::Vacant(i) => {
                if self.len >= self.capacity {
                    return Err(StaticError::TableFull);
                }
                self.slots[i] = Entry::new(key, port, STATIC);
                self.len += 1;
                Ok(())
            }
        }
    }

    /// Records that a frame from `mac` arrived on `port` at tick `now`.
    ///
    /// The caller guarantees `mac.is_learnable()` (checked in debug builds; release builds
    /// refuse it as [`LearnOutcome::TableFull`] so key 0 can never occupy a slot).
    #[inline]
    pub fn learn(&mut self, mac: MacAddr, port: PortId, now: u64) -> LearnOutcome {
        debug_assert!(
            mac.is_learnable(),
            "learn() called with non-learnable MAC {mac}"
        );
        if !mac.is_learnable() {
            return LearnOutcome::TableFull;
        }
        let key = mac.to_u64();
        let stamp = learned_stamp(now);
        match self.probe(key) {
            Probe::Found(i) => {
                let e = self.slots[i];
                if e.is_static() {
                    // A static MAC seen on its own port is simply known; seen elsewhere it
                    // is a move the table refuses, which is worth counting.
                    return if e.port() == port {
                        LearnOutcome::Refreshed
                    } else {
                        LearnOutcome::StaticPinned
                    };
                }
                if self.is_expired(&e, now) {
                    // The old entry is dead; replacing it in place is equivalent to removing
                    // it and inserting afresh, without shifting the cluster twice.
                    self.expired_total += 1;
                    self.slots[i] = Entry::new(key, port, stamp);
                    return LearnOutcome::Learned;
                }
                let from = e.port();
                if from == port && stamp.saturating_sub(e.last_seen) < self.refresh_after {
                    // Seen very recently already: leave the line clean. Rewriting the stamp
                    // for every frame would dirty a cache line per frame, and with a large
                    // table every dirty line costs a write back to memory.
                    return LearnOutcome::Refreshed;
                }
                self.slots[i] = Entry::new(key, port, stamp);
                if from == port {
                    LearnOutcome::Refreshed
                } else {
                    LearnOutcome::Moved { from }
                }
            }
            Probe::Vacant(i) => {
                if self.len >= self.capacity {
                    return LearnOutcome::TableFull;
                }
                self.slots[i] = Entry::new(key, port, stamp);
                self.len += 1;
                LearnOutcome::Learned
            }
        }
    }

    /// The port `mac` was last seen on, if known and not expired at `now`. An expired entry
    /// is removed here (counted in [`MacTable::expired_total`]) so a stale port is never
    /// used even if the sweep has not reached it yet. Does not refresh the entry: only
    /// frames *from* a MAC prove it is still there.
    #[inline]
    pub fn lookup(&mut self, mac: MacAddr, now: u64) -> Option<PortId> {
        match self.probe(mac.to_u64()) {
            Probe::Vacant(_) => None,
            Probe::Found(i) => {
                let e = self.slots[i];
                if self.is_expired(&e, now) {
                    self.remove_at(i);
                    self.expired_total += 1;
                    None
                } else {
                    Some(e.port())
                }
            }
        }
    }

    /// Examines up to `budget` slots (capped at [`MacTable::slot_count`]) from an internal
    /// cursor that wraps around, removes the expired entries among them and returns how many
    /// it removed. Calling it with a small budget every poll-loop iteration bounds the work
    /// per iteration while still reclaiming room from hosts that went silent (which
    /// `lookup` alone would never do for MACs nobody sends to).
    ///
    /// `sweep(now, slot_count())` is a full pass: afterwards no entry is expired at `now`.
    #[inline]
    pub fn sweep(&mut self, now: u64, budget: usize) -> usize {
        let budget = budget.min(self.slots.len());
        let mut advanced = 0;
        let mut removed = 0;
        // Each iteration either advances the cursor or removes an entry (decreasing `len`),
        // so there are at most `budget + len` iterations.
        while advanced < budget {
            let i = self.cursor;
            let e = self.slots[i];
            if !e.is_empty() && self.is_expired(&e, now) {
                // Backward shift may pull a later entry of the cluster into slot `i`, so stay
                // here and examine it. Entries only ever move backwards into slots at or
                // after `i`, so none can jump over the cursor and be missed.
                self.remove_at(i);
                self.expired_total += 1;
                removed += 1;
            } else {
                self.cursor = (i + 1) & self.mask;
                advanced += 1;
            }
        }
        removed
    }

    /// Removes every learned entry on `port` (static ones stay: the operator pinned them)
    /// and returns how many: a guest that went away takes its MACs with it, so frames to
    /// them flood again instead of going to a port nobody listens on. One pass over the
    /// slot array; like [`MacTable::sweep`] it re-examines a slot after removing from it,
    /// since backward shift may pull a later entry of the cluster in, so none is missed.
    pub fn flush_port(&mut self, port: PortId) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.slots.len() {
            let e = self.slots[i];
            if !e.is_empty() && !e.is_static() && e.port() == port {
                self.remove_at(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
        removed
    }

    /// Removes `mac` (learned or static). Returns whether it was present. Not counted as an
    /// expiry.
    pub fn remove(&mut self, mac: MacAddr) -> bool {
        match self.probe(mac.to_u64()) {
            Probe::Found(i) => {
                self.remove_at(i);
                true
            }
            Probe::Vacant(_) => false,
        }
    }

    /// Entries held (learned + static), including expired ones not yet removed.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of entries (learned + static).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Size of the slot array: the budget for a full [`MacTable::sweep`] pass.
    #[inline]
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    pub fn aging_ticks(&self) -> u64 {
        self.aging_ticks
    }

    /// Changes the aging time; applies to existing entries at their next check.
    pub fn set_aging_ticks(&mut self, aging_ticks: u64) {
        self.aging_ticks = aging_ticks;
        self.refresh_after = aging_ticks / 64;
    }

    /// How many expired entries have been removed so far, by `learn` (replacing one),
    /// `lookup` or `sweep`. Monotonic; callers fold deltas into their counters.
    #[inline]
    pub fn expired_total(&self) -> u64 {
        self.expired_total
    }

    /// Every entry as `(mac, port, is_static)`, in slot order, for dumping. Includes expired
    /// entries not yet removed.
    pub fn iter(&self) -> impl Iterator<Item = (MacAddr, PortId, bool)> + '_ {
        self.slots
            .iter()
            .filter(|e| !e.is_empty())
            .map(|e| (MacAddr::from_u64(e.key()), e.port(), e.is_static()))
    }
}

impl fmt::Debug for MacTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MacTable")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("slots", &self.slots.len())
            .field("aging_ticks", &self.aging_ticks)
            .field("expired_total", &self.expired_total)
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Tiny deterministic PRNG (xorshift64) so tests need no crates and replay exactly.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        pub(crate) fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn mac(i: u64) -> MacAddr {
        MacAddr::from_u64(0x0200_0000_0000 | i)
    }

    /// Checks the structural invariants: `len` matches the occupied slots, every entry is
    /// reachable from its home slot without crossing an empty slot (so probes find it), and
    /// no key appears twice (the probe stops at the first copy).
    fn check_invariants(t: &MacTable) {
        let mut occupied = 0;
        for (i, e) in t.slots.iter().enumerate() {
            if e.is_empty() {
                assert_eq!(*e, Entry::EMPTY, "empty slot {i} not zeroed");
                continue;
            }
            occupied += 1;
            match t.probe(e.key()) {
                Probe::Found(j) => {
                    assert_eq!(i, j, "key {:#x} found at {j}, stored at {i}", e.key())
                }
                Probe::Vacant(j) => {
                    panic!("key {:#x} at {i} unreachable (probe stops at {j})", e.key())
                }
            }
        }
        assert_eq!(occupied, t.len);
        assert!(t.len <= t.capacity);
        assert!(t.len < t.slots.len());
    }

    #[test]
    fn sizing_keeps_load_factor_at_most_half() {
        for (cap, slots) in [
            (0, 16),
            (1, 16),
            (8, 16),
            (9, 32),
            (64, 128),
            (1000, 2048),
            (1024, 2048),
        ] {
            let t = MacTable::new(cap, 10);
            assert_eq!(t.slot_count(), slots, "capacity {cap}");
            assert_eq!(t.capacity(), cap);
            assert!(t.is_empty());
        }
        assert_eq!(std::mem::size_of::<Entry>(), 16);
    }

    #[test]
    fn learn_and_lookup() {
        let mut t = MacTable::new(16, 100);
        assert_eq!(t.lookup(mac(1), 0), None);
        assert_eq!(t.learn(mac(1), 3, 0), LearnOutcome::Learned);
        assert_eq!(t.learn(mac(2), 0, 0), LearnOutcome::Learned);
        assert_eq!(t.lookup(mac(1), 1), Some(3));
        assert_eq!(t.lookup(mac(2), 1), Some(0));
        assert_eq!(t.lookup(mac(3), 1), None);
        assert_eq!(t.len(), 2);
        // The all-zero MAC is the empty-slot marker: it must never match anything.
        assert_eq!(t.lookup(MacAddr::ZERO, 1), None);
        assert!(!t.remove(MacAddr::ZERO));
        let mut dump: Vec<_> = t.iter().collect();
        dump.sort();
        assert_eq!(dump, vec![(mac(1), 3, false), (mac(2), 0, false)]);
        check_invariants(&t);
    }

    #[test]
    fn refresh_resets_age() {
        let mut t = MacTable::new(16, 10);
        assert_eq!(t.learn(mac(1), 1, 0), LearnOutcome::Learned);
        assert_eq!(t.learn(mac(1), 1, 8), LearnOutcome::Refreshed);
        // 15 ticks after learning but only 7 after the refresh: still alive.
        assert_eq!(t.lookup(mac(1), 15), Some(1));
        assert_eq!(t.expired_total(), 0);
    }

    #[test]
    fn move_updates_port_and_age() {
        let mut t = MacTable::new(16, 10);
        t.learn(mac(1), 1, 0);
        assert_eq!(t.learn(mac(1), 2, 5), LearnOutcome::Moved { from: 1 });
        assert_eq!(t.lookup(mac(1), 14), Some(2));
        assert_eq!(t.learn(mac(1), 1, 14), LearnOutcome::Moved { from: 2 });
        assert_eq!(t.lookup(mac(1), 14), Some(1));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn capacity_limit() {
        let mut t = MacTable::new(3, 100);
        for i in 1..=3 {
            assert_eq!(t.learn(mac(i), i as PortId, 0), LearnOutcome::Learned);
        }
        assert_eq!(t.learn(mac(4), 0, 0), LearnOutcome::TableFull);
        assert_eq!(t.lookup(mac(4), 0), None);
        assert_eq!(t.len(), 3);
        // Known entries keep working: refresh, lookup, move.
        assert_eq!(t.learn(mac(1), 1, 1), LearnOutcome::Refreshed);
        assert_eq!(t.lookup(mac(2), 1), Some(2));
        assert_eq!(t.learn(mac(3), 0, 1), LearnOutcome::Moved { from: 3 });
        assert_eq!(t.lookup(mac(3), 1), Some(0));
        assert_eq!(t.add_static(mac(9), 0), Err(StaticError::TableFull));
        // Room frees up once something leaves.
        assert!(t.remove(mac(2)));
        assert_eq!(t.learn(mac(4), 0, 2), LearnOutcome::Learned);
        check_invariants(&t);
    }

    #[test]
    fn zero_capacity_learns_nothing() {
        let mut t = MacTable::new(0, 100);
        assert_eq!(t.learn(mac(1), 0, 0), LearnOutcome::TableFull);
        assert_eq!(t.add_static(mac(1), 0), Err(StaticError::TableFull));
        assert_eq!(t.lookup(mac(1), 0), None);
        assert_eq!(t.sweep(0, usize::MAX), 0);
    }

    #[test]
    fn aging_via_lookup() {
        let mut t = MacTable::new(16, 10);
        t.learn(mac(1), 1, 100);
        assert_eq!(
            t.lookup(mac(1), 110),
            Some(1),
            "exactly aging_ticks old is alive"
        );
        assert_eq!(t.expired_total(), 0);
        assert_eq!(t.lookup(mac(1), 111), None);
        assert_eq!(t.expired_total(), 1);
        assert_eq!(t.len(), 0, "lookup removes the expired entry");
        // A clock that went backwards is treated as age zero, not as a huge age.
        t.learn(mac(2), 1, 100);
        assert_eq!(t.lookup(mac(2), 50), Some(1));
    }

    #[test]
    fn aging_via_learn() {
        let mut t = MacTable::new(16, 10);
        t.learn(mac(1), 1, 0);
        // Expired entry on the same port: a fresh Learned, not a Refreshed ...
        assert_eq!(t.learn(mac(1), 1, 20), LearnOutcome::Learned);
        assert_eq!(t.expired_total(), 1);
        // ... and on another port: Learned, not Moved (the old location was stale anyway).
        assert_eq!(t.learn(mac(1), 2, 40), LearnOutcome::Learned);
        assert_eq!(t.expired_total(), 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.lookup(mac(1), 40), Some(2));
    }

    #[test]
    fn refresh_rewrites_the_stamp_only_when_it_is_a_64th_of_the_aging_time_old() {
        // Aging 6400 ticks: stamps younger than 100 ticks are left alone.
        let mut t = MacTable::new(16, 6400);
        t.learn(mac(1), 1, 0);
        assert_eq!(t.learn(mac(1), 1, 99), LearnOutcome::Refreshed);
        // The stamp stayed 0, so the entry expires 6400 ticks after it, not after 99.
        assert_eq!(t.lookup(mac(1), 6400), Some(1));
        assert_eq!(t.lookup(mac(1), 6401), None);
        t.learn(mac(2), 1, 0);
        assert_eq!(t.learn(mac(2), 1, 100), LearnOutcome::Refreshed);
        // Old enough: rewritten, so it lives until 100 + 6400.
        assert_eq!(t.lookup(mac(2), 6500), Some(1));
        assert_eq!(t.lookup(mac(2), 6501), None);
        // A move is never skipped, however recent the stamp.
        t.learn(mac(3), 1, 0);
        assert_eq!(t.learn(mac(3), 2, 1), LearnOutcome::Moved { from: 1 });
        assert_eq!(t.lookup(mac(3), 2), Some(2));
    }

    #[test]
    fn aging_via_sweep() {
        let mut t = MacTable::new(32, 10);
        for i in 1..=20 {
            t.learn(mac(i), 0, if i % 2 == 0 { 0 } else { 15 });
        }
        t.add_static(mac(100), 1).unwrap();
        let full = t.slot_count();
        // Small budgets: the cursor walks the whole array in pieces.
        let mut removed = 0;
        for _ in 0..full / 4 {
            removed += t.sweep(20, 4);
            check_invariants(&t);
        }
        assert_eq!(removed, 10);
        assert_eq!(t.expired_total(), 10);
        assert_eq!(t.len(), 11);
        for i in 1..=20 {
            assert_eq!(t.lookup(mac(i), 20).is_some(), i % 2 == 1, "mac {i}");
        }
        assert_eq!(t.lookup(mac(100), 20), Some(1));
        assert_eq!(t.sweep(20, full), 0, "nothing left to expire");
        assert_eq!(
            t.sweep(u64::MAX, usize::MAX),
            10,
            "all learned entries expire eventually"
        );
        assert_eq!(t.len(), 1, "the static one stays");
    }

    #[test]
    fn static_never_ages_or_moves() {
        let mut t = MacTable::new(16, 10);
        t.add_static(mac(1), 2).unwrap();
        assert_eq!(
            t.learn(mac(1), 2, 0),
            LearnOutcome::Refreshed,
            "own port: known"
        );
        assert_eq!(t.learn(mac(1), 3, 0), LearnOutcome::StaticPinned);
        assert_eq!(t.lookup(mac(1), 1_000_000), Some(2));
        assert_eq!(t.lookup(mac(1), u64::MAX), Some(2));
        assert_eq!(t.sweep(u64::MAX, usize::MAX), 0);
        assert_eq!(t.learn(mac(1), 3, u64::MAX), LearnOutcome::StaticPinned);
        assert_eq!(t.iter().collect::<Vec<_>>(), vec![(mac(1), 2, true)]);
        assert_eq!(t.expired_total(), 0);
        // Only an explicit remove takes it out.
        assert!(t.remove(mac(1)));
        assert_eq!(t.learn(mac(1), 3, 0), LearnOutcome::Learned);
    }

    #[test]
    fn learned_at_max_tick_is_not_static() {
        let mut t = MacTable::new(16, 10);
        t.learn(mac(1), 1, u64::MAX);
        assert_eq!(t.iter().next(), Some((mac(1), 1, false)));
        assert_eq!(
            t.learn(mac(1), 2, u64::MAX),
            LearnOutcome::Moved { from: 1 }
        );
    }

    #[test]
    fn add_static_errors() {
        let mut t = MacTable::new(2, 10);
        assert_eq!(
            t.add_static(MacAddr::ZERO, 0),
            Err(StaticError::NotLearnable)
        );
        assert_eq!(
            t.add_static(MacAddr::BROADCAST, 0),
            Err(StaticError::NotLearnable)
        );
        let mcast: MacAddr = "01:00:5e:00:00:01".parse().unwrap();
        assert_eq!(t.add_static(mcast, 0), Err(StaticError::NotLearnable));
        assert_eq!(t.add_static(mac(1), 0), Ok(()));
        assert_eq!(t.add_static(mac(1), 0), Err(StaticError::Duplicate));
        assert_eq!(t.add_static(mac(1), 1), Err(StaticError::Duplicate));
        // A learned entry is pinned in place, without using another slot.
        t.learn(mac(2), 1, 0);
        assert_eq!(t.add_static(mac(2), 0), Ok(()));
        assert_eq!(t.len(), 2);
        assert_eq!(t.learn(mac(2), 1, 0), LearnOutcome::StaticPinned);
        assert_eq!(t.lookup(mac(2), 1000), Some(0));
        assert_eq!(t.add_static(mac(3), 0), Err(StaticError::TableFull));
        assert!(StaticError::NotLearnable.to_string().contains("unicast"));
        check_invariants(&t);
    }

    /// Keys whose home slot, in a table with `bits` hash bits, lies in `homes`.
    fn colliding_keys(bits: u32, homes: &[usize], n: usize, rng: &mut XorShift) -> Vec<u64> {
        let mut keys = Vec::new();
        while keys.len() < n {
            let k = mac(rng.next() & 0xff_ffff_ffff).to_u64();
            if homes.contains(&hash(k, bits)) && !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys
    }

    #[test]
    fn backward_shift_with_one_home_slot_and_wraparound() {
        let mut rng = XorShift(0x1234_5678);
        // capacity 8 -> 16 slots, 4 bits. Eight keys that all want the last slot, so the
        // cluster wraps from slot 15 to slot 6; then delete them in every rotation.
        let keys = colliding_keys(4, &[15], 8, &mut rng);
        for start in 0..keys.len() {
            let mut t = MacTable::new(8, 100);
            for (p, &k) in keys.iter().enumerate() {
                assert_eq!(
                    t.learn(MacAddr::from_u64(k), p as PortId, 0),
                    LearnOutcome::Learned
                );
            }
            check_invariants(&t);
            for step in 0..keys.len() {
                let k = keys[(start + step * 3) % keys.len()];
                // 3 is coprime with 8, so this visits every key once.
                assert!(t.remove(MacAddr::from_u64(k)));
                assert!(!t.remove(MacAddr::from_u64(k)));
                check_invariants(&t);
                for (p, &other) in keys.iter().enumerate() {
                    let expect = t
                        .slots
                        .iter()
                        .any(|e| e.key() == other)
                        .then_some(p as PortId);
                    assert_eq!(t.lookup(MacAddr::from_u64(other), 0), expect);
                }
            }
            assert!(t.is_empty());
            assert!(t.slots.iter().all(|e| *e == Entry::EMPTY));
        }
    }

    /// Reference model: what the table must behave like, with no slots at all.
    struct Model {
        map: HashMap<u64, (PortId, u64)>,
        capacity: usize,
        aging: u64,
        expired: u64,
    }

    impl Model {
        fn expired(&self, last_seen: u64, now: u64) -> bool {
            last_seen != STATIC && now.saturating_sub(last_seen) > self.aging
        }

        fn learn(&mut self, key: u64, port: PortId, now: u64) -> LearnOutcome {
            match self.map.get(&key).copied() {
                Some((p, STATIC)) if p == port => LearnOutcome::Refreshed,
                Some((_, STATIC)) => LearnOutcome::StaticPinned,
                Some((old, seen)) => {
                    self.map.insert(key, (port, now));
                    if self.expired(seen, now) {
                        self.expired += 1;
                        LearnOutcome::Learned
                    } else if old == port {
                        LearnOutcome::Refreshed
                    } else {
                        LearnOutcome::Moved { from: old }
                    }
                }
                None if self.map.len() >= self.capacity => LearnOutcome::TableFull,
                None => {
                    self.map.insert(key, (port, now));
                    LearnOutcome::Learned
                }
            }
        }

        fn lookup(&mut self, key: u64, now: u64) -> Option<PortId> {
            let (port, seen) = *self.map.get(&key)?;
            if self.expired(seen, now) {
                self.map.remove(&key);
                self.expired += 1;
                None
            } else {
                Some(port)
            }
        }

        fn add_static(&mut self, key: u64, port: PortId) -> Result<(), StaticError> {
            match self.map.get(&key) {
                Some((_, STATIC)) => Err(StaticError::Duplicate),
                None if self.map.len() >= self.capacity => Err(StaticError::TableFull),
                _ => {
                    self.map.insert(key, (port, STATIC));
                    Ok(())
                }
            }
        }
    }

    /// Drives the table and the model with the same random operations and demands identical
    /// answers, lengths and contents after every one.
    fn model_test(seed: u64, keys: &[u64], ops: usize) {
        let mut rng = XorShift(seed);
        let capacity = 64;
        let aging = 50;
        let mut t = MacTable::new(capacity, aging);
        let mut m = Model {
            map: HashMap::new(),
            capacity,
            aging,
            expired: 0,
        };
        let mut now = 0u64;
        let mut counts = [0usize; 5];
        for op in 0..ops {
            // Time mostly creeps, sometimes jumps past the aging time.
            now += match rng.below(100) {
                0..=59 => 0,
                60..=97 => rng.below(4),
                _ => rng.below(2 * aging),
            };
            let key = keys[rng.below(keys.len() as u64) as usize];
            let mac = MacAddr::from_u64(key);
            let port = rng.below(4) as PortId;
            match rng.below(100) {
                0..=54 => {
                    let got = t.learn(mac, port, now);
                    assert_eq!(
                        got,
                        m.learn(key, port, now),
                        "op {op}: learn {mac} on {port} at {now}"
                    );
                    counts[0] += (got == LearnOutcome::TableFull) as usize;
                }
                55..=84 => {
                    assert_eq!(
                        t.lookup(mac, now),
                        m.lookup(key, now),
                        "op {op}: lookup {mac} at {now}"
                    );
                    counts[1] += 1;
                }
                85..=90 => {
                    assert_eq!(
                        t.remove(mac),
                        m.map.remove(&key).is_some(),
                        "op {op}: remove {mac}"
                    );
                    counts[2] += 1;
                }
                91..=92 => {
                    // A port goes down: its learned entries go (expired or not), statics stay.
                    let before = m.map.len();
                    m.map
                        .retain(|_, &mut (p, seen)| p != port || seen == STATIC);
                    assert_eq!(
                        t.flush_port(port),
                        before - m.map.len(),
                        "op {op}: flush port {port}"
                    );
                    counts[2] += 1;
                }
                93..=98 => {
                    let full = rng.below(4) == 0;
                    let budget = if full {
                        t.slot_count()
                    } else {
                        rng.below(40) as usize
                    };
                    let removed = t.sweep(now, budget);
                    // The sweep may only remove expired entries; sync the model with it.
                    let gone: Vec<u64> = m
                        .map
                        .keys()
                        .copied()
                        .filter(|k| !t.slots.iter().any(|e| e.key() == *k))
                        .collect();
                    assert_eq!(gone.len(), removed, "op {op}: sweep count");
                    for k in gone {
                        let (_, seen) = m.map.remove(&k).unwrap();
                        assert!(m.expired(seen, now), "op {op}: sweep removed live {k:#x}");
                        m.expired += 1;
                    }
                    if full {
                        assert!(
                            m.map.values().all(|&(_, seen)| !m.expired(seen, now)),
                            "op {op}: full sweep left an expired entry"
                        );
                    }
                    counts[3] += 1;
                }
                _ => {
                    // Statics only from a few keys, so they cannot fill the table for good.
                    let key = keys[rng.below(8) as usize];
                    let got = t.add_static(MacAddr::from_u64(key), port);
                    assert_eq!(got, m.add_static(key, port), "op {op}: add_static");
                    counts[4] += 1;
                }
            }
            assert_eq!(t.len(), m.map.len(), "op {op}: len");
            assert_eq!(t.expired_total(), m.expired, "op {op}: expired_total");
            check_invariants(&t);
            for e in t.slots.iter().filter(|e| !e.is_empty()) {
                assert_eq!(
                    m.map.get(&e.key()),
                    Some(&(e.port(), e.last_seen)),
                    "op {op}"
                );
            }
        }
        // Make sure the interesting paths were actually exercised.
        assert!(counts.iter().all(|&c| c > 100), "op mix {counts:?}");
        assert!(m.expired > 100, "too few expiries: {}", m.expired);
    }

    #[test]
    fn model_random_keys() {
        let mut rng = XorShift(0xdead_beef);
        let keys: Vec<u64> = (0..200)
            .map(|_| mac(rng.next() & 0xff_ffff_ffff).to_u64())
            .collect();
        model_test(0x9e37_79b9, &keys, 100_000);
    }

    #[test]
    fn model_heavy_collisions() {
        // capacity 64 -> 128 slots (7 bits). All 200 keys hash to five slots at both ends of
        // the array, so clusters are long, overlap and wrap around.
        let mut rng = XorShift(0xc0ff_ee11);
        let keys = colliding_keys(7, &[0, 1, 2, 126, 127], 200, &mut rng);
        model_test(0x5eed_1234, &keys, 100_000);
    }
}
