use crate::error::{Error, Result};
use crate::mbuf::{Mbuf, MbufBurst, BURST_SIZE};
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// A pool of packet buffers (`rte_pktmbuf_pool_create`).
///
/// A cheap, clonable handle: every port configured with the pool keeps a clone, so the pool
/// outlives the queues that allocate from it. When the last handle goes, the pool is freed
/// only if every mbuf is back; otherwise it is leaked (and an error logged), because an
/// mbuf still out there would be freed into released memory.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: rte_mempool is designed for concurrent use from several lcores (per-lcore caches
// plus a lock-free ring); the handle is just a pointer to it.
unsafe impl Send for PoolInner {}
// SAFETY: as above; shared references only call thread-safe DPDK functions.
unsafe impl Sync for PoolInner {}

impl Mempool {
    /// Creates a pool of `count` mbufs with `data_room` bytes each (headroom included) and a
    /// per-lcore cache of `cache` buffers, on NUMA socket `socket` (-1 = any).
    pub fn new_pktmbuf(
        name: &str,
        count: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool> {
        let cname = CString::new(name)
            .map_err(|_| Error::other("rte_pktmbuf_pool_create", "name has a NUL byte"))?;
        // SAFETY: cname is a valid C string; DPDK copies it.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(cname.as_ptr(), count, cache, 0, data_room, socket)
        };
        NonNull::new(raw)
            .map(|raw| Mempool {
                inner: Arc::new(PoolInner { raw }),
            })
            .ok_or_else(|| {
                Error::from_rte_errno(format!("rte_pktmbuf_pool_create({name}, {count} mbufs)"))
            })
    }

    /// The default data room: 2048 bytes of packet plus the standard headroom.
    pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

    pub fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.inner.raw.as_ptr()
    }

    /// Mbufs currently taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is alive while a handle exists.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.as_ptr()) }
    }

    /// Mbufs available (in the ring or in lcore caches).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is alive while a handle exists.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.as_ptr()) }
    }

    /// Total mbufs in the pool.
    pub fn size(&self) -> u32 {
        // SAFETY: the pool is alive while a handle exists; `size` never changes after creation.
        unsafe { (*self.as_ptr()).size }
    }

    /// Takes one mbuf, reset and empty; `None` when the pool is exhausted.
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is alive; a non-NULL result is a fresh mbuf we now own.
        let m = unsafe { dpdk_sys::shim_pktmbuf_alloc(self.as_ptr()) };
        // SAFETY: m is NULL or an owned mbuf.
        unsafe { Mbuf::from_raw(m) }
    }
}

impl Mempool {
    /// Fills the empty `burst` with `n` (at most [`BURST_SIZE`]) fresh mbufs in one call: all
    /// of them, or none (returns false) when the pool has fewer left.
    pub fn alloc_bulk(&self, burst: &mut MbufBurst, n: usize) -> bool {
        assert!(burst.is_empty(), "alloc_bulk fills an empty burst");
        let n = n.min(BURST_SIZE);
        if n == 0 {
            return true;
        }
        // SAFETY: the pool is alive; the burst's slot array has room for BURST_SIZE >= n
        // pointers; on success every one of the n slots holds a fresh mbuf we now own.
        let rc = unsafe {
            dpdk_sys::shim_pktmbuf_alloc_bulk(self.as_ptr(), burst.raw_slots(), n as u32)
        };
        if rc != 0 {
            return false;
        }
        // SAFETY: the call above filled slots[..n].
        unsafe { burst.set_len(n) };
        true
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // SAFETY: the pool is alive until the free below.
        let in_use = unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) };
        if in_use != 0 {
            log::error!("mempool still has {in_use} mbufs in use: leaking it rather than freeing memory they point into");
            return;
        }
        // SAFETY: this was the last handle and no mbuf is out, so nothing refers to the pool.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) };
    }
}
