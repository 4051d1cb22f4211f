use crate::error::{Error, Result};
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};

pub type LcoreId = u32;

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The initialised Environment Abstraction Layer. There is at most one per process:
/// DPDK supports neither a second `rte_eal_init` nor re-init after cleanup.
/// Dropping it calls `rte_eal_cleanup`; drop every port and pool first.
pub struct Eal {
    /// Neither Send nor Sync: launching and waiting on lcores is for the main lcore only.
    _main_lcore_only: std::marker::PhantomData<*const ()>,
}

impl Eal {
    /// Runs `rte_eal_init` on `args` (`args[0]` is the program name). Pins the calling thread
    /// to the main lcore, so spawn threads that must float before calling this.
    pub fn init(args: &[String]) -> Result<Eal> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(Error::other(
                "rte_eal_init",
                "EAL is already initialised in this process",
            ));
        }
        // argv[0] is the program name; EAL's getopt skips it.
        let default_name = [String::from("dataplane")];
        let args = if args.is_empty() {
            &default_name[..]
        } else {
            args
        };
        let c_args: Vec<CString> = args
            .iter()
            .map(|a| CString::new(a.as_str()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| Error::other("rte_eal_init", "an EAL argument contains a NUL byte"))?;
        // EAL may keep pointers into argv (getopt permutes it and some options are stored by
        // reference), so the strings live for the rest of the process.
        let c_args: &'static [CString] = Vec::leak(c_args);
        let mut argv: Vec<*mut c_char> = c_args.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        argv.push(std::ptr::null_mut());
        let argv: &'static mut [*mut c_char] = Vec::leak(argv);
        // SAFETY: argv is a NULL-terminated array of valid C strings that outlive the process.
        let ret = unsafe { dpdk_sys::rte_eal_init(c_args.len() as c_int, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(Error::from_rte_errno("rte_eal_init"));
        }
        Ok(Eal {
            _main_lcore_only: std::marker::PhantomData,
        })
    }

    /// The lcore that runs `main` (and this thread).
    pub fn main_lcore(&self) -> LcoreId {
        // SAFETY: EAL is initialised.
        unsafe { dpdk_sys::rte_get_main_lcore() }
    }

    /// Every enabled lcore except the main one, in id order.
    pub fn worker_lcores(&self) -> Vec<LcoreId> {
        let mut out = Vec::new();
        let mut id = u32::MAX; // -1: start from the beginning
        loop {
            // SAFETY: EAL is initialised; skip_main=1, wrap=0 walks each worker once.
            id = unsafe { dpdk_sys::rte_get_next_lcore(id, 1, 0) };
            if id >= dpdk_sys::RTE_MAX_LCORE {
                return out;
            }
            out.push(id);
        }
    }

    /// The NUMA socket of the calling lcore.
    pub fn socket_id(&self) -> i32 {
        // SAFETY: EAL is initialised; returns the caller's socket or SOCKET_ID_ANY.
        unsafe { dpdk_sys::rte_socket_id() as i32 }
    }

    /// Runs `f` on worker lcore `lcore`. Returns once it is launched; [`Eal::wait`] joins it.
    pub fn launch<F>(&self, lcore: LcoreId, f: F) -> Result<()>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        type Job = Box<dyn FnOnce() -> i32 + Send>;
        unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
            // SAFETY: arg is the Box<Job> leaked below, consumed exactly once here.
            let job: Box<Job> = unsafe { Box::from_raw(arg as *mut Job) };
            job()
        }
        let job: Box<Job> = Box::new(Box::new(f));
        let arg = Box::into_raw(job) as *mut c_void;
        // SAFETY: trampoline has the lcore_function_t signature; arg stays valid until the
        // trampoline takes it back.
        let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
        if ret < 0 {
            // SAFETY: the launch failed, so the trampoline never ran and we still own arg.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            return Err(Error::from_code(
                format!("rte_eal_remote_launch(lcore {lcore})"),
                -ret,
            ));
        }
        Ok(())
    }

    /// Waits for the function launched on `lcore` and returns its result.
    pub fn wait(&self, lcore: LcoreId) -> i32 {
        // SAFETY: EAL is initialised; waiting on an idle lcore returns at once.
        unsafe { dpdk_sys::rte_eal_wait_lcore(lcore) }
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: called once, after the owner dropped its ports and pools.
        let ret = unsafe { dpdk_sys::rte_eal_cleanup() };
        if ret < 0 {
            log::warn!(
                "rte_eal_cleanup: {}",
                Error::from_code("rte_eal_cleanup", -ret)
            );
        }
    }
}

/// TSC ticks per second, as measured by EAL.
pub fn tsc_hz() -> u64 {
    // SAFETY: no arguments; valid once EAL is initialised (0 before).
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// The current TSC value (inlined rdtsc; no call into the shim on the hot path).
#[inline(always)]
pub fn tsc_now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc has no preconditions.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    // SAFETY: no arguments, no preconditions.
    unsafe {
        dpdk_sys::shim_rdtsc()
    }
}

/// The NUMA socket of `lcore` (0 when unknown).
pub fn lcore_socket(lcore: LcoreId) -> i32 {
    // SAFETY: valid for any lcore id once EAL is initialised.
    unsafe { dpdk_sys::rte_lcore_to_socket_id(lcore) as i32 }
}
