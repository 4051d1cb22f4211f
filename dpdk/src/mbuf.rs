use dpdk_sys::rte_mbuf;
use std::ptr::NonNull;

/// Packets per rx/tx call: DPDK's customary burst, large enough to amortise the per-call
/// cost, small enough that a burst's mbuf headers stay in L1.
pub const BURST_SIZE: usize = 32;

/// One owned packet buffer. Dropping it returns it to its pool (or drops one reference when
/// it is shared, see [`Mbuf::share`]).
#[repr(transparent)]
pub struct Mbuf {
    raw: NonNull<rte_mbuf>,
}

// SAFETY: an owned mbuf may be handed to another lcore; DPDK's refcount is atomic.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes ownership of `raw`.
    ///
    /// # Safety
    /// `raw` is NULL or an mbuf the caller owns (one reference) and gives up.
    #[inline]
    pub unsafe fn from_raw(raw: *mut rte_mbuf) -> Option<Mbuf> {
        NonNull::new(raw).map(|raw| Mbuf { raw })
    }

    /// Gives up ownership without freeing.
    #[inline]
    pub fn into_raw(self) -> *mut rte_mbuf {
        let raw = self.raw.as_ptr();
        std::mem::forget(self);
        raw
    }

    #[inline]
    pub fn as_ptr(&self) -> *mut rte_mbuf {
        self.raw.as_ptr()
    }

    /// Where the first segment's data starts (`rte_pktmbuf_mtod`), and its length.
    #[inline]
    fn data_ptr_len(&self) -> (*mut u8, usize) {
        // SAFETY: we own the mbuf, so its header is readable; data_off stays inside the
        // buffer, so the offset pointer is in bounds of the same allocation.
        unsafe {
            let m = self.raw.as_ptr();
            (
                ((*m).buf_addr as *mut u8).add((*m).data_off as usize),
                (*m).data_len as usize,
            )
        }
    }

    /// Bytes of the first segment (for a single-segment packet: the whole frame).
    #[inline]
    pub fn data(&self) -> &[u8] {
        let (p, len) = self.data_ptr_len();
        // SAFETY: p points at data_len initialised bytes inside the mbuf's buffer, which
        // lives as long as the mbuf we own.
        unsafe { std::slice::from_raw_parts(p, len) }
    }

    /// Writable bytes of the first segment, or `None` when the mbuf is shared (see
    /// [`Mbuf::share`]): other handles may be reading the same bytes.
    #[inline]
    pub fn data_mut(&mut self) -> Option<&mut [u8]> {
        if !self.is_exclusive() {
            return None;
        }
        let (p, len) = self.data_ptr_len();
        // SAFETY: as in `data`; &mut self and refcnt 1 mean nobody else sees these bytes.
        Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
    }

    /// Total packet length over all segments.
    #[inline]
    pub fn pkt_len(&self) -> u32 {
        // SAFETY: we own the mbuf.
        unsafe { (*self.raw.as_ptr()).pkt_len }
    }

    /// Handles that share this packet (1 = only this one).
    #[inline]
    pub fn refcnt(&self) -> u16 {
        // SAFETY: we hold a reference, so the mbuf is alive; other lcores may update the
        // count concurrently, so read it atomically. Acquire pairs with the release of
        // another handle's drop, as Arc::get_mut does, before we write through this one.
        unsafe {
            let p = std::ptr::addr_of_mut!((*self.raw.as_ptr()).refcnt);
            std::sync::atomic::AtomicU16::from_ptr(p).load(std::sync::atomic::Ordering::Acquire)
        }
    }

    /// True when this handle is the only one and the data is the mbuf's own (not attached
    /// to another mbuf's or an external buffer): only then may it be written.
    #[inline]
    fn is_exclusive(&self) -> bool {
        const NOT_DIRECT: u64 = dpdk_sys::RTE_MBUF_F_INDIRECT | dpdk_sys::RTE_MBUF_F_EXTERNAL;
        // SAFETY: we own a reference; ol_flags is only written by the mbuf's owner.
        let direct = unsafe { (*self.raw.as_ptr()).ol_flags } & NOT_DIRECT == 0;
        direct && self.refcnt() == 1
    }

    /// Adds `n` references, refusing (panicking) where the 16-bit count would wrap: a wrapped
    /// count frees the buffer while handles still point at it.
    #[inline]
    fn add_refs(&self, n: u16) {
        assert!(
            self.refcnt() as u32 + n as u32 <= i16::MAX as u32,
            "mbuf reference count would overflow"
        );
        // On every segment (rte_pktmbuf_refcnt_update, not rte_mbuf_refcnt_update): freeing
        // a handle drops a reference on each segment, so a chained packet shared with only
        // its head counted would lose its tail while other handles still read it.
        // SAFETY: we hold a reference, so the mbuf is alive; n fits in i16 (checked above).
        unsafe { dpdk_sys::shim_pktmbuf_refcnt_update(self.raw.as_ptr(), n as i16) };
    }

    /// Grows the packet by `len` bytes at the tail and returns them, or `None` when the
    /// buffer has no room or the mbuf is shared.
    pub fn append(&mut self, len: u16) -> Option<&mut [u8]> {
        if !self.is_exclusive() {
            return None;
        }
        // SAFETY: we own the mbuf; a non-NULL result points at `len` bytes inside it.
        unsafe {
            let p = dpdk_sys::shim_pktmbuf_append(self.raw.as_ptr(), len);
            if p.is_null() {
                None
            } else {
                Some(std::slice::from_raw_parts_mut(p as *mut u8, len as usize))
            }
        }
    }

    /// The maximum segment size of a large TCP frame a guest handed over for the host to
    /// segment (virtio-net GSO, which the vhost library reports as `RTE_MBUF_F_RX_LRO` with
    /// the guest's `gso_size` in `tso_segsz`), or `None` for an ordinary frame.
    #[inline]
    pub fn gso_mss(&self) -> Option<u16> {
        const LRO: u64 = dpdk_sys::RTE_MBUF_F_RX_LRO as u64;
        // SAFETY: we own the mbuf; ol_flags and tx_offload are plain fields of its header.
        let (flags, tx_offload) = unsafe {
            let m = self.raw.as_ptr();
            ((*m).ol_flags, (*m).__bindgen_anon_3.tx_offload)
        };
        if flags & LRO == 0 {
            return None;
        }
        let mss = (tx_offload >> dpdk_sys::RTE_MBUF_TSO_SEGSZ_OFS) as u16;
        (mss > 0).then_some(mss)
    }

    /// Marks a large TCP frame (see [`Mbuf::gso_mss`]) for a receiver that takes it whole:
    /// `RTE_MBUF_F_TX_TCP_SEG` with the header lengths, so the vhost library hands it to a
    /// guest that negotiated `GUEST_TSO4/6` as one GSO packet (gso_size = the MSS the
    /// sender chose, checksum left to the guest as the sender left it to us).
    #[inline]
    pub fn set_tcp_tso(&mut self, l2_len: u8, l3_len: u16, l4_len: u8, ipv6: bool) {
        const RX_MASK: u64 =
            (dpdk_sys::RTE_MBUF_F_RX_LRO | dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_MASK) as u64;
        let ip = if ipv6 {
            dpdk_sys::RTE_MBUF_F_TX_IPV6
        } else {
            dpdk_sys::RTE_MBUF_F_TX_IPV4
        };
        // SAFETY: we own the mbuf; these are plain fields of its header. The MSS bits of
        // tx_offload are kept; the length bit fields are replaced.
        unsafe {
            let m = self.raw.as_ptr();
            let keep_mss =
                (*m).__bindgen_anon_3.tx_offload & (0xffff << dpdk_sys::RTE_MBUF_TSO_SEGSZ_OFS);
            (*m).__bindgen_anon_3.tx_offload = keep_mss
                | u64::from(l2_len) << dpdk_sys::RTE_MBUF_L2_LEN_OFS
                | u64::from(l3_len) << dpdk_sys::RTE_MBUF_L3_LEN_OFS
                | u64::from(l4_len) << dpdk_sys::RTE_MBUF_L4_LEN_OFS;
            (*m).ol_flags = ((*m).ol_flags & !RX_MASK) | dpdk_sys::RTE_MBUF_F_TX_TCP_SEG | ip;
        }
    }

    /// Copies `out.len()` bytes of the packet, starting `offset` bytes in, across its
    /// segments (`rte_pktmbuf_read`); false (and `out` partly written) when the packet is
    /// shorter.
    pub fn read(&self, mut offset: usize, out: &mut [u8]) -> bool {
        let mut done = 0;
        let mut seg = self.raw.as_ptr();
        while done < out.len() {
            if seg.is_null() {
                return false;
            }
            // SAFETY: seg is the head or a `next` of a chain we own a reference to; each
            // segment's data_off/data_len describe initialised bytes of its buffer.
            let (p, len, next) = unsafe {
                (
                    ((*seg).buf_addr as *const u8).add((*seg).data_off as usize),
                    (*seg).data_len as usize,
                    (*seg).next,
                )
            };
            if offset < len {
                let n = (len - offset).min(out.len() - done);
                // SAFETY: offset + n <= len bytes are readable at p; out has room for n.
                unsafe {
                    std::ptr::copy_nonoverlapping(p.add(offset), out.as_mut_ptr().add(done), n)
                };
                done += n;
                offset = 0;
            } else {
                offset -= len;
            }
            seg = next;
        }
        true
    }

    /// Whether the packet is one segment: [`Mbuf::data`] is then the whole frame.
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        // SAFETY: we own the mbuf; nb_segs is only written by its owner.
        unsafe { (*self.raw.as_ptr()).nb_segs == 1 }
    }

    /// Grows a one-segment packet by `len` bytes at the front, into its headroom, and
    /// returns the whole frame (the new bytes first); `None` when the mbuf is shared,
    /// chained, or has less headroom than `len`. (`rte_pktmbuf_prepend`, written here
    /// because it is three field updates and runs per encapsulated frame.)
    #[inline]
    pub fn prepend(&mut self, len: u16) -> Option<&mut [u8]> {
        if !self.is_exclusive() || !self.is_contiguous() {
            return None;
        }
        // SAFETY: we own the only reference (checked); moving data_off back by at most
        // data_off bytes keeps it inside the buffer, and the lengths grow by the same amount.
        unsafe {
            let m = self.raw.as_ptr();
            if (*m).data_off < len {
                return None;
            }
            (*m).data_off -= len;
            (*m).data_len += len;
            (*m).pkt_len += u32::from(len);
        }
        let (p, n) = self.data_ptr_len();
        // SAFETY: p points at n initialised bytes of our buffer (the old frame plus `len`
        // headroom bytes, which are ours to overwrite); the mbuf is exclusively ours (checked
        // above), so nobody else sees them.
        Some(unsafe { std::slice::from_raw_parts_mut(p, n) })
    }

    /// Keeps only bytes `start..start + len` of a one-segment packet (a decapsulated frame
    /// out of its outer headers and trailing padding) in one ownership check; false (and
    /// nothing changed) when shared, chained or shorter.
    #[inline]
    pub fn narrow(&mut self, start: u16, len: u16) -> bool {
        if !self.is_exclusive() || !self.is_contiguous() {
            return false;
        }
        // SAFETY: we own the only reference; data_off moves forward within data_len and the
        // lengths only shrink.
        unsafe {
            let m = self.raw.as_ptr();
            if u32::from((*m).data_len) < u32::from(start) + u32::from(len) {
                return false;
            }
            (*m).data_off += start;
            (*m).data_len = len;
            (*m).pkt_len = u32::from(len);
        }
        true
    }

    /// Appends `tail` as the packet's next segment(s), as `rte_pktmbuf_chain` does: the
    /// packet becomes this mbuf's data followed by `tail`'s. `tail` may be a shared handle
    /// (its data is then only read, and freeing the chain drops one reference). Gives `tail`
    /// back when this mbuf is shared or already chained (its last segment could be a shared
    /// one, whose `next` is not ours to write).
    pub fn chain(&mut self, tail: Mbuf) -> Result<(), Mbuf> {
        if !self.is_exclusive() || !self.is_contiguous() {
            return Err(tail);
        }
        // SAFETY: we own the only reference to the head, a single segment, so its `next`
        // is ours to set; `tail` is an owned reference that the chain takes over (freeing
        // the chain frees each segment, honouring its refcount).
        unsafe {
            let head = self.raw.as_ptr();
            let t = tail.raw.as_ptr();
            let segs = 1 + u32::from((*t).nb_segs);
            if segs > u32::from(u16::MAX) {
                return Err(tail);
            }
            (*head).next = t;
            (*head).nb_segs = segs as u16;
            (*head).pkt_len += (*t).pkt_len;
        }
        std::mem::forget(tail);
        Ok(())
    }

    /// Another handle to the same packet (refcount + 1), for sending one received frame out
    /// of several ports without copying. Both handles must treat the data as read-only.
    #[inline]
    pub fn share(&self) -> Mbuf {
        self.add_refs(1);
        // The new handle owns the added reference.
        Mbuf { raw: self.raw }
    }

    /// `n` more handles to the same packet with one atomic update instead of `n` (a flood
    /// to `n + 1` ports). Handles not taken from the iterator are released when it drops.
    #[inline]
    pub fn share_n(&self, n: u16) -> SharedHandles {
        if n > 0 {
            // The iterator owns the n added references and releases any it does not hand out.
            self.add_refs(n);
        }
        SharedHandles {
            raw: self.raw,
            left: n,
        }
    }

    /// Asks the CPU to start loading the packet's first cache line.
    #[inline]
    pub fn prefetch_data(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(
                self.data_ptr_len().0 as *const i8,
                std::arch::x86_64::_MM_HINT_T0,
            );
        }
    }

    /// Asks the CPU to fetch the packet's first cache line for writing (PREFETCHW), so a
    /// line last read by another core is claimed before the write that needs it.
    #[inline]
    pub fn prefetch_data_for_write(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: PREFETCHW never faults and changes no architectural state.
        unsafe {
            std::arch::asm!(
                "prefetchw [{0}]",
                in(reg) self.data_ptr_len().0,
                options(nostack, readonly, preserves_flags)
            );
        }
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own one reference; rte_pktmbuf_free drops it and frees at zero.
        unsafe { dpdk_sys::shim_pktmbuf_free(self.raw.as_ptr()) };
    }
}

/// Views a burst slot as the mbuf it holds.
///
/// # Safety
/// `*slot` is a non-NULL mbuf owned by the container of `slot`, and stays so while the
/// returned borrow lives. (Mbuf is a `repr(transparent)` NonNull wrapper, so a
/// `&*mut rte_mbuf` has the layout of a `&Mbuf`.)
#[inline]
unsafe fn slot_as_mbuf(slot: &*mut rte_mbuf) -> &Mbuf {
    // SAFETY: the caller's contract; the layouts match (see above).
    unsafe { &*(slot as *const *mut rte_mbuf as *const Mbuf) }
}

/// Up to [`BURST_SIZE`] owned mbufs, as rx fills them and tx takes them. What is still in
/// the burst when it is dropped or cleared goes back to the pool.
pub struct MbufBurst {
    slots: [*mut rte_mbuf; BURST_SIZE],
    len: usize,
}

// SAFETY: the burst owns its mbufs, which may move between lcores (see Mbuf).
unsafe impl Send for MbufBurst {}

impl Default for MbufBurst {
    fn default() -> Self {
        Self::new()
    }
}

impl MbufBurst {
    pub const fn new() -> MbufBurst {
        MbufBurst {
            slots: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BURST_SIZE
    }

    /// Appends `m`, or gives it back when the burst is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.len == BURST_SIZE {
            return Err(m);
        }
        self.slots[self.len] = m.into_raw();
        self.len += 1;
        Ok(())
    }

    /// Borrow of mbuf `i` (< len).
    #[inline]
    pub fn get(&self, i: usize) -> Option<&Mbuf> {
        if i < self.len {
            // SAFETY: slots[..len] are non-NULL owned mbufs.
            Some(unsafe { slot_as_mbuf(&self.slots[i]) })
        } else {
            None
        }
    }

    /// Mutable borrow of mbuf `i` (< len), to fill a freshly allocated burst.
    #[inline]
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Mbuf> {
        if i < self.len {
            // SAFETY: as in `get`; &mut self makes the borrow unique.
            Some(unsafe { &mut *(&mut self.slots[i] as *mut *mut rte_mbuf as *mut Mbuf) })
        } else {
            None
        }
    }

    /// Moves every mbuf out, in order, leaving the burst empty. Mbufs the iterator has not
    /// handed out when it is dropped are freed.
    #[inline]
    pub fn drain(&mut self) -> Drain<'_> {
        let len = std::mem::replace(&mut self.len, 0);
        Drain {
            slots: &mut self.slots[..len],
            next: 0,
        }
    }

    /// Frees every mbuf still in the burst and returns how many that was.
    #[inline]
    pub fn clear(&mut self) -> usize {
        let n = self.len;
        if n > 0 {
            // SAFETY: slots[..n] are owned mbufs; after this call none of them is referenced.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.slots.as_mut_ptr(), n as u32) };
            self.len = 0;
        }
        n
    }

    /// Raw view for rx: the slot array, to be filled from the front.
    #[inline]
    pub(crate) fn raw_slots(&mut self) -> *mut *mut rte_mbuf {
        debug_assert_eq!(self.len, 0);
        self.slots.as_mut_ptr()
    }

    /// After rx filled `n` slots.
    #[inline]
    pub(crate) unsafe fn set_len(&mut self, n: usize) {
        debug_assert!(n <= BURST_SIZE);
        self.len = n;
    }

    /// After tx took the first `sent` mbufs: forget them and move the rest to the front.
    #[inline]
    pub(crate) fn consume_front(&mut self, sent: usize) {
        debug_assert!(sent <= self.len);
        self.slots.copy_within(sent..self.len, 0);
        self.len -= sent;
    }

    #[inline]
    pub(crate) fn raw_ptr(&mut self) -> *mut *mut rte_mbuf {
        self.slots.as_mut_ptr()
    }
}

impl Drop for MbufBurst {
    fn drop(&mut self) {
        self.clear();
    }
}

/// The iterator of [`MbufBurst::drain`].
pub struct Drain<'a> {
    slots: &'a mut [*mut rte_mbuf],
    next: usize,
}

impl Iterator for Drain<'_> {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        let p = *self.slots.get(self.next)?;
        self.next += 1;
        // SAFETY: slots are owned non-NULL mbufs (the burst's len is already 0), and `next`
        // only moves forward, so each is handed out exactly once.
        unsafe { Mbuf::from_raw(p) }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.slots.len() - self.next;
        (n, Some(n))
    }
}

impl Drain<'_> {
    /// The mbuf `k` places after the one `next` returns next (`ahead(0)` is that one), to
    /// prefetch for it while working on the current one.
    #[inline]
    pub fn ahead(&self, k: usize) -> Option<&Mbuf> {
        let p = self.slots.get(self.next + k)?;
        // SAFETY: slots[next..] are owned non-NULL mbufs not yet handed out, and the borrow
        // of self keeps the iterator from handing this one out meanwhile.
        Some(unsafe { slot_as_mbuf(p) })
    }
}

impl Drop for Drain<'_> {
    fn drop(&mut self) {
        let rest = &mut self.slots[self.next..];
        if !rest.is_empty() {
            // SAFETY: these mbufs were never handed out and nothing else refers to them.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(rest.as_mut_ptr(), rest.len() as u32) };
        }
    }
}

/// The iterator of [`Mbuf::share_n`]: each item owns one of the added references.
pub struct SharedHandles {
    raw: NonNull<rte_mbuf>,
    left: u16,
}

impl Iterator for SharedHandles {
    type Item = Mbuf;

    #[inline]
    fn next(&mut self) -> Option<Mbuf> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(Mbuf { raw: self.raw })
    }
}

impl Drop for SharedHandles {
    fn drop(&mut self) {
        for m in self.by_ref() {
            drop(m);
        }
    }
}
