//! vhost-user ports served by the DPDK vhost library directly, without the `net_vhost`
//! ethdev PMD in between (the way OVS-DPDK's netdev-dpdk does it).
//!
//! * [`VhostUser`] is the control handle: it registers the socket with the library, owns the
//!   registration, and unregisters it on [`VhostUser::close`] or drop.
//! * [`VhostQueue`] is the data handle a worker lcore owns: `rte_vhost_dequeue_burst` and
//!   `rte_vhost_enqueue_burst` behind [`PacketPort`].
//!
//! The library tells us about guests through callbacks on its own control thread
//! (`vhost-events`): `new_device` when a guest's rings are ready, `destroy_device` when it
//! goes away (disconnect, ring reset, or our own unregister). A guest is known to the data
//! path only by its device id (`vid`); the protocol in [`Shared`] guarantees the worker
//! never passes the library a `vid` whose device has been destroyed.

use crate::error::{Error, Result};
use crate::gate::PeerGate;
use crate::mbuf::{MbufBurst, BURST_SIZE};
use crate::mempool::Mempool;
use crate::port::PacketPort;
use dpdk_sys::rte_mbuf;
use std::ffi::{c_char, c_int, CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Virtqueue numbers of queue pair 0, named from the guest's side as in virtio-net (and in
/// net_vhost's `enum {VIRTIO_RXQ, VIRTIO_TXQ}`): we enqueue into the guest's receive ring
/// and dequeue from its transmit ring.
const VIRTIO_RXQ: u16 = 0;
const VIRTIO_TXQ: u16 = 1;

/// Library flags every port gets, as net_vhost 22.11 sets them by default:
/// `RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS` (its `legacy-ol-flags=0` default): offload
/// information of dequeued packets is reported as Rx flags (`RTE_MBUF_F_RX_L4_CKSUM_*`),
/// which is what the software checksum below keys on.
///
/// Not mirrored: `RTE_VHOST_USER_NET_STATS_ENABLE`, which net_vhost sets to back its xstats.
/// It makes the library classify every packet (size bins, multicast, broadcast) on its own
/// account; the dataplane never reads those statistics and counts packets itself.
const BASE_FLAGS: u64 = dpdk_sys::RTE_VHOST_USER_NET_COMPLIANT_OL_FLAGS as u64;

/// Features refused to the guest, as OVS-DPDK refuses them: explicit congestion
/// notification on TSO frames and UDP fragmentation offload (large UDP datagrams to be
/// cut into IP fragments), which the dataplane does not implement. Host TSO (TCP over
/// IPv4 and IPv6) and checksum offload are offered: large TCP frames pass whole to guests
/// that take them and are segmented in software for every other port.
const DISABLED_FEATURES: u64 =
    (1 << dpdk_sys::VIRTIO_NET_F_HOST_ECN) | (1 << dpdk_sys::VIRTIO_NET_F_HOST_UFO);

/// `Shared::guest_tso` bits: the guest takes large TCP/IPv4 (TCP/IPv6) frames whole.
const GUEST_TSO4: u8 = 1;
const GUEST_TSO6: u8 = 2;

/// Names of the virtio-net feature bits worth logging, as the virtio spec spells them.
const FEATURE_NAMES: [(u32, &str); 13] = [
    (dpdk_sys::VIRTIO_NET_F_CSUM, "CSUM"),
    (dpdk_sys::VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM"),
    (dpdk_sys::VIRTIO_NET_F_MTU, "MTU"),
    (dpdk_sys::VIRTIO_NET_F_GUEST_TSO4, "GUEST_TSO4"),
    (dpdk_sys::VIRTIO_NET_F_GUEST_TSO6, "GUEST_TSO6"),
    (dpdk_sys::VIRTIO_NET_F_GUEST_ECN, "GUEST_ECN"),
    (dpdk_sys::VIRTIO_NET_F_GUEST_UFO, "GUEST_UFO"),
    (dpdk_sys::VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4"),
    (dpdk_sys::VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6"),
    (dpdk_sys::VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF"),
    (dpdk_sys::VIRTIO_NET_F_STATUS, "STATUS"),
    (dpdk_sys::VIRTIO_NET_F_MQ, "MQ"),
    (dpdk_sys::VIRTIO_F_VERSION_1, "VERSION_1"),
];

/// The negotiated features worth knowing about, by name (the offloads, MQ, mergeable
/// buffers), for the log.
fn feature_names(features: u64) -> String {
    let names: Vec<&str> = FEATURE_NAMES
        .iter()
        .filter(|(bit, _)| features & (1u64 << bit) != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(" ")
    }
}

/// What the control thread (callbacks) and the worker (bursts) share about one port.
///
/// The worker brackets every library call on the guest's device id (`vid`) with the gate;
/// `destroy_device` withdraws the `vid` and waits for the call to end before the library
/// frees the device (see [`PeerGate`]).
struct Shared {
    /// The attached guest's device id, the worker's calls with it, its departures.
    gate: PeerGate,
    /// The guest negotiated `VIRTIO_NET_F_CSUM`: it may send TCP/UDP packets whose checksum
    /// it left to us. Written before `vid` is published, read after `vid` is read.
    rx_sw_csum: AtomicBool,
    /// [`GUEST_TSO4`] | [`GUEST_TSO6`]: the guest negotiated TSO receive (and receive
    /// checksum offload, which it implies) for that IP version. Published like `rx_sw_csum`.
    guest_tso: std::sync::atomic::AtomicU8,
    /// Queue pairs the guest set up (QEMU `queues=N,mq=on`, virtio_user `queues=N`): the
    /// worker dequeues from the transmit ring of each. Written before `vid` is published
    /// (and again when the guest enables a ring beyond them), read after `vid` is read.
    queue_pairs: std::sync::atomic::AtomicU16,
    /// The MTU the guest was given (QEMU `host_mtu=`, `VHOST_USER_NET_SET_MTU`), or 0 when
    /// it was given none. Control path only.
    guest_mtu: std::sync::atomic::AtomicU16,
}

/// Socket path → shared state of every registered port, for the callbacks, which only get
/// a `vid` (and from it the path). Control path only: the data path never looks here.
static REGISTRY: Mutex<Vec<(CString, Arc<Shared>)>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<(CString, Arc<Shared>)>> {
    // A panic while holding the lock leaves the Vec consistent (every operation on it is a
    // single push, remove or lookup), so a poisoned lock is still usable.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shared state of the port whose socket the device `vid` came in on.
fn shared_of(vid: c_int) -> Option<(String, Arc<Shared>)> {
    // PATH_MAX: the library copies the socket path, NUL-terminated, into this buffer.
    let mut buf = [0 as c_char; libc::PATH_MAX as usize];
    // SAFETY: buf is a writable buffer of the given length; the library writes at most that
    // many bytes including the NUL, and returns -1 for an unknown vid.
    if unsafe { dpdk_sys::rte_vhost_get_ifname(vid, buf.as_mut_ptr(), buf.len()) } < 0 {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated string (the buffer was zeroed and the
    // library truncates to len - 1).
    let name = unsafe { CStr::from_ptr(buf.as_ptr()) };
    registry()
        .iter()
        .find(|(path, _)| path.as_c_str() == name)
        .map(|(path, shared)| (path.to_string_lossy().into_owned(), shared.clone()))
}

/// `new_device`: a guest's rings are ready. Returns 0 to let the library start the device.
unsafe extern "C" fn new_device(vid: c_int) -> c_int {
    let Some((path, shared)) = shared_of(vid) else {
        log::warn!("vhost device {vid}: not one of our sockets; refused");
        return -1;
    };
    if shared.gate.peer() >= 0 {
        // A server socket accepts more than one connection; a switch port is one guest.
        log::warn!("{path}: a guest is already attached; refusing a second one (device {vid})");
        return -1;
    }
    // SAFETY: vid is a live device: the library calls new_device for it and does not free
    // it before destroy_device, which runs on this same thread.
    unsafe {
        // Poll mode: ask the guest not to kick us (an eventfd write per burst) — we poll.
        for q in 0..dpdk_sys::rte_vhost_get_vring_num(vid) {
            dpdk_sys::rte_vhost_enable_guest_notification(vid, q, 0);
        }
    }
    let mut features = 0u64;
    // SAFETY: as above; features is a valid out-pointer.
    if unsafe { dpdk_sys::rte_vhost_get_negotiated_features(vid, &mut features) } != 0 {
        features = 0;
    }
    let has = |bit: u32| features & (1u64 << bit) != 0;
    shared
        .rx_sw_csum
        .store(has(dpdk_sys::VIRTIO_NET_F_CSUM), Ordering::Relaxed);
    let guest_csum = has(dpdk_sys::VIRTIO_NET_F_GUEST_CSUM);
    let mut tso = 0;
    if guest_csum && has(dpdk_sys::VIRTIO_NET_F_GUEST_TSO4) {
        tso |= GUEST_TSO4;
    }
    if guest_csum && has(dpdk_sys::VIRTIO_NET_F_GUEST_TSO6) {
        tso |= GUEST_TSO6;
    }
    shared.guest_tso.store(tso, Ordering::Relaxed);
    log::info!(
        "{path}: guest features {features:#x}: {}",
        feature_names(features)
    );
    let mut mtu = 0u16;
    // SAFETY: as above; mtu is a valid out-pointer. Fails (-ENOTSUP) unless the guest
    // negotiated VIRTIO_NET_F_MTU, i.e. QEMU was given host_mtu=.
    if unsafe { dpdk_sys::rte_vhost_get_mtu(vid, &mut mtu) } != 0 {
        mtu = 0;
    }
    shared.guest_mtu.store(mtu, Ordering::Relaxed);
    // SAFETY: as above.
    let pairs = unsafe { guest_queue_pairs(vid) };
    shared.queue_pairs.store(pairs, Ordering::Relaxed);
    log_queue_pairs(&path, pairs);
    // Publishing vid hands the device to the worker (SeqCst: see PeerGate). The stores
    // above are ordered before it, so a worker that reads this vid also sees them.
    shared.gate.attach(vid);
    log::info!("{path}: guest attached (vhost device {vid})");
    0
}

/// `destroy_device`: the guest went away or its rings are being reset; the library frees
/// or reconfigures the device as soon as this returns.
unsafe extern "C" fn destroy_device(vid: c_int) {
    let Some((path, shared)) = shared_of(vid) else {
        return;
    };
    shared.gate.depart(vid);
    log::info!("{path}: guest detached (vhost device {vid})");
}

/// The queue pairs the guest of device `vid` has set up so far (at least 1).
///
/// # Safety
/// `vid` is a live device: called from the library's device callbacks only.
unsafe fn guest_queue_pairs(vid: c_int) -> u16 {
    // SAFETY: the caller's contract.
    (unsafe { dpdk_sys::rte_vhost_get_vring_num(vid) } / 2).max(1)
}

fn log_queue_pairs(path: &str, pairs: u16) {
    if pairs > 1 {
        log::info!("{path}: the guest uses {pairs} queue pairs; all are polled");
    }
}

/// `vring_state_changed`: the guest enabled or disabled a ring. The library itself refuses
/// bursts on a disabled ring, so there is nothing to gate here; a newly enabled ring of a
/// multiqueue guest joins the polled queue pairs.
unsafe extern "C" fn vring_state_changed(vid: c_int, vring: u16, enable: c_int) -> c_int {
    log::debug!(
        "vhost device {vid}: vring {vring} {}",
        if enable != 0 { "enabled" } else { "disabled" }
    );
    // A guest may enable more queue pairs after new_device (the library calls it once pair
    // 0 is ready; ethtool -L eth0 combined N later): poll those too. Only the published
    // device's rings count. (Guest notifications cannot be turned off from here: the
    // library holds the ring's lock around this callback, and the call would deadlock on
    // it; the guest then kicks us on those rings, which costs it an exit per send.)
    if enable != 0 {
        if let Some((path, shared)) = shared_of(vid) {
            if shared.gate.peer() == vid {
                // SAFETY: vid is a live device for the duration of the callback.
                let pairs = unsafe { guest_queue_pairs(vid) };
                if shared.queue_pairs.fetch_max(pairs, Ordering::Relaxed) < pairs {
                    log_queue_pairs(&path, pairs);
                }
            }
        }
    }
    0
}

/// The callback table; the library keeps a pointer to it for as long as a socket is
/// registered, hence `static`.
struct DeviceOps(dpdk_sys::rte_vhost_device_ops);

// SAFETY: the table is immutable; its only pointers are function pointers and a NULL
// reserved slot, which any thread may read.
unsafe impl Sync for DeviceOps {}

static DEVICE_OPS: DeviceOps = DeviceOps(dpdk_sys::rte_vhost_device_ops {
    new_device: Some(new_device),
    destroy_device: Some(destroy_device),
    vring_state_changed: Some(vring_state_changed),
    features_changed: None,
    new_connection: None,
    destroy_connection: None,
    guest_notified: None,
    reserved: [std::ptr::null_mut(); 1],
});

/// A vhost-user socket registered with the vhost library: one virtio-net device (all the
/// queue pairs it sets up) per guest. Unregistered on [`close`](Self::close) or drop, which detaches the
/// guest and, in server mode, removes the socket file.
pub struct VhostUser {
    path: CString,
    client: bool,
    shared: Arc<Shared>,
    /// The pool dequeued packets are allocated from.
    pool: Mempool,
    queue_taken: bool,
    closed: bool,
}

impl VhostUser {
    /// Registers `path` with the vhost library and starts serving it: in server mode
    /// (`client == false`) it creates and listens on the socket, in client mode it connects
    /// to a socket the guest created, retrying until it exists and again after the guest
    /// disconnects (the library's reconnect, on unless `RTE_VHOST_USER_NO_RECONNECT`).
    /// Packets from the guest are allocated from `pool`.
    ///
    /// Flags mirror net_vhost's defaults, refused features OVS-DPDK's (see [`BASE_FLAGS`] and
    /// [`DISABLED_FEATURES`]). The socket file must not exist in server mode.
    pub fn register(path: &Path, client: bool, pool: &Mempool) -> Result<VhostUser> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|_| Error::other("rte_vhost_driver_register", "path has a NUL byte"))?;
        let shown = path.display().to_string();
        let shared = Arc::new(Shared {
            gate: PeerGate::new(),
            rx_sw_csum: AtomicBool::new(false),
            guest_tso: std::sync::atomic::AtomicU8::new(0),
            queue_pairs: std::sync::atomic::AtomicU16::new(1),
            guest_mtu: std::sync::atomic::AtomicU16::new(0),
        });
        {
            let mut reg = registry();
            if reg.iter().any(|(p, _)| *p == c_path) {
                return Err(Error::other(
                    format!("rte_vhost_driver_register({shown})"),
                    "this socket is already registered by this process",
                ));
            }
            // In the registry before start: a guest can attach the moment the socket exists.
            reg.push((c_path.clone(), shared.clone()));
        }
        let mut port = VhostUser {
            path: c_path,
            client,
            shared,
            pool: pool.clone(),
            queue_taken: false,
            // Nothing to unregister until register succeeds; the registry entry is removed
            // by close_inner either way.
            closed: true,
        };
        let flags = BASE_FLAGS
            | if client {
                dpdk_sys::RTE_VHOST_USER_CLIENT as u64
            } else {
                0
            };
        // SAFETY: path is a valid C string; the library copies it.
        let ret = unsafe { dpdk_sys::rte_vhost_driver_register(port.path.as_ptr(), flags) };
        if ret < 0 {
            let _ = port.close_inner();
            return Err(Error::other(
                format!("rte_vhost_driver_register({shown})"),
                "failed (see the VHOST_CONFIG log above)",
            ));
        }
        port.closed = false;
        // SAFETY: the socket is registered under this path; DEVICE_OPS is 'static.
        let setup = unsafe {
            if dpdk_sys::rte_vhost_driver_disable_features(port.path.as_ptr(), DISABLED_FEATURES)
                < 0
            {
                Err("rte_vhost_driver_disable_features")
            } else if dpdk_sys::rte_vhost_driver_callback_register(
                port.path.as_ptr(),
                &DEVICE_OPS.0,
            ) < 0
            {
                Err("rte_vhost_driver_callback_register")
            } else if dpdk_sys::rte_vhost_driver_start(port.path.as_ptr()) < 0 {
                Err("rte_vhost_driver_start")
            } else {
                Ok(())
            }
        };
        if let Err(op) = setup {
            let _ = port.close_inner();
            return Err(Error::other(
                format!("{op}({shown})"),
                "failed (see the VHOST_CONFIG log above)",
            ));
        }
        Ok(port)
    }

    /// The socket path.
    pub fn path(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Whether this end connects to the guest's socket (client) or listens (server).
    pub fn is_client(&self) -> bool {
        self.client
    }

    /// A guest is attached and its device running (safe to call while a worker polls).
    pub fn link_up(&self) -> bool {
        self.shared.gate.attached()
    }

    /// The MTU QEMU gave the attached guest (`-device virtio-net-pci,host_mtu=N`), if any.
    pub fn guest_mtu(&self) -> Option<u16> {
        match self.shared.guest_mtu.load(Ordering::Relaxed) {
            0 => None,
            m if self.link_up() => Some(m),
            _ => None,
        }
    }

    /// The data-path handle; `None` once it has been taken.
    pub fn take_queue(&mut self) -> Option<VhostQueue> {
        if std::mem::replace(&mut self.queue_taken, true) {
            return None;
        }
        Some(VhostQueue {
            departures_before_rx: self.shared.gate.departures(),
            shared: self.shared.clone(),
            pool: self.pool.clone(),
            next_pair: 0,
        })
    }

    /// Unregisters the socket: detaches the guest (the library calls `destroy_device`, which
    /// waits until no worker is inside a burst call on it) and, in server mode, removes the
    /// socket file. A [`VhostQueue`] that outlives this sees no guest and moves nothing.
    pub fn close(mut self) -> Result<()> {
        self.close_inner()
    }

    fn close_inner(&mut self) -> Result<()> {
        let mut result = Ok(());
        if !std::mem::replace(&mut self.closed, true) {
            // SAFETY: path is the registered socket's C string. The registry entry is still
            // there, so the destroy_device this may trigger finds the port.
            let ret = unsafe { dpdk_sys::rte_vhost_driver_unregister(self.path.as_ptr()) };
            if ret < 0 {
                result = Err(Error::other(
                    format!("rte_vhost_driver_unregister({})", self.path()),
                    "socket not registered",
                ));
            }
        }
        // No callback can run for this path any more: forget it.
        registry().retain(|(p, _)| *p != self.path);
        // Whatever the library did, the data path must not touch a device again.
        self.shared.gate.forget();
        result
    }
}

impl Drop for VhostUser {
    fn drop(&mut self) {
        if let Err(e) = self.close_inner() {
            log::warn!("{e}");
        }
    }
}

/// The data-path handle of a [`VhostUser`] port, owned by one worker lcore: it receives from
/// every queue pair the guest set up and sends into its first receive queue.
///
/// Neither `Clone` nor `Copy`: the library's burst calls on one virtqueue must not run
/// concurrently, and the busy protocol assumes a single caller.
pub struct VhostQueue {
    shared: Arc<Shared>,
    pool: Mempool,
    /// The queue pair a receive call starts with, rotated so no guest queue starves.
    next_pair: u16,
    /// `departures` as the last receive call with a guest attached read it (see
    /// [`PacketPort::departures_before_rx`]).
    departures_before_rx: u64,
}

impl PacketPort for VhostQueue {
    /// Dequeues up to a burst from the guest's transmit rings, one per queue pair it set up
    /// (a guest with several sends on all of them), starting with a different pair each
    /// call; 0 while no guest is attached. Everything goes back out through the guest's
    /// first receive ring, which a multiqueue guest reads like the others.
    #[inline]
    fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        // The library writes from slot 0: anything still there would be overwritten and leak.
        burst.clear();
        let Some(vid) = self.shared.gate.enter() else {
            return 0;
        };
        // Inside the bracket: the departures before this guest's arrival, not its own (the
        // library runs destroy_device and new_device one after the other on its event
        // thread; see PeerGate::departures_in_call).
        self.departures_before_rx = self.shared.gate.departures_in_call();
        let pairs = self.shared.queue_pairs.load(Ordering::Relaxed).max(1);
        let first = self.next_pair % pairs;
        self.next_pair = first + 1;
        let mut n = 0usize;
        for k in 0..pairs {
            if n == BURST_SIZE {
                break;
            }
            let pair = (first + k) % pairs;
            // SAFETY: vid is live until leave() (see PeerGate); slots n.. of the burst are
            // empty, and the library writes at most BURST_SIZE - n owned mbufs from `pool`
            // there. The ring index is that of a queue pair the guest set up.
            n += unsafe {
                dpdk_sys::rte_vhost_dequeue_burst(
                    vid,
                    VIRTIO_TXQ + 2 * pair,
                    self.pool.as_ptr(),
                    burst.raw_slots().add(n),
                    (BURST_SIZE - n) as u16,
                )
            } as usize;
        }
        self.shared.gate.leave();
        // SAFETY: the call above filled slots[..n].
        unsafe { burst.set_len(n) };
        if n > 0 && self.shared.rx_sw_csum.load(Ordering::Relaxed) {
            for i in 0..n {
                if let Some(m) = burst.get(i) {
                    // SAFETY: the burst owns the freshly dequeued mbuf exclusively (the
                    // library copied the guest's packet into it).
                    unsafe { complete_partial_l4_checksum(m.as_ptr()) };
                }
            }
        }
        n
    }

    /// Enqueues the burst into the guest's receive ring. The library copies the packets and
    /// does not take the mbufs: the ones it copied are freed here and leave the burst, the
    /// rest stay at its front. Sends nothing while no guest is attached.
    #[inline]
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        if burst.is_empty() {
            return 0;
        }
        let Some(vid) = self.shared.gate.enter() else {
            return 0;
        };
        // SAFETY: vid is live until leave(); the first len slots are owned mbufs, which the
        // library only reads.
        let sent = unsafe {
            dpdk_sys::rte_vhost_enqueue_burst(vid, VIRTIO_RXQ, burst.raw_ptr(), burst.len() as u16)
        } as usize;
        self.shared.gate.leave();
        if sent > 0 {
            // SAFETY: slots[..sent] are owned mbufs whose data the library has copied and no
            // longer refers to; consume_front then forgets them.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(burst.raw_ptr(), sent as u32) };
            burst.consume_front(sent);
        }
        sent
    }

    /// The guest negotiated TSO receive for this IP version (and receive checksum offload).
    #[inline]
    fn accepts_tso(&self, ipv6: bool) -> bool {
        let bit = if ipv6 { GUEST_TSO6 } else { GUEST_TSO4 };
        self.shared.guest_tso.load(Ordering::Relaxed) & bit != 0
    }

    /// Guests that detached since the socket was registered (each `destroy_device` of the
    /// attached guest, however short its stay).
    #[inline]
    fn departures(&self) -> Option<u64> {
        Some(self.shared.gate.departures())
    }

    #[inline]
    fn departures_before_rx(&self) -> Option<u64> {
        Some(self.departures_before_rx)
    }
}

/// Byte offsets of the checksum field in the TCP and UDP headers.
const TCP_CKSUM_OFFSET: u32 = 16;
const UDP_CKSUM_OFFSET: u32 = 6;

/// Completes the TCP/UDP checksum of a packet the guest sent with `VIRTIO_NET_HDR_F_NEEDS_CSUM`
/// (the library marks it `RTE_MBUF_F_RX_L4_CKSUM_NONE`; the field holds only the
/// pseudo-header sum). net_vhost does the same (`vhost_dev_rx_sw_csum`) when the guest
/// negotiated `VIRTIO_NET_F_CSUM` and the application did not enable Rx checksum offload,
/// as the dataplane does not: without it, such a packet forwarded to another guest or a
/// wire arrives with a wrong checksum and is dropped there.
///
/// # Safety
/// `m` is a valid mbuf the caller owns exclusively.
#[inline]
unsafe fn complete_partial_l4_checksum(m: *mut rte_mbuf) {
    const MASK: u64 = dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_MASK as u64;
    const NONE: u64 = dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_NONE as u64;
    const GOOD: u64 = dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD as u64;
    // SAFETY (whole block): m is valid and exclusively ours (caller's contract); the header
    // lengths come from DPDK's own parser of this packet, and the write is bounds-checked
    // against the first segment.
    unsafe {
        // A large TCP frame (RX_LRO) stays partial: it is either passed whole to a guest
        // that fills the checksum in, or segmented, which computes every segment's.
        if (*m).ol_flags & MASK != NONE
            || (*m).ol_flags & u64::from(dpdk_sys::RTE_MBUF_F_RX_LRO) != 0
        {
            return;
        }
        let mut lens = std::mem::MaybeUninit::<dpdk_sys::rte_net_hdr_lens>::zeroed();
        let ptype = dpdk_sys::rte_net_get_ptype(m, lens.as_mut_ptr(), dpdk_sys::RTE_PTYPE_ALL_MASK);
        let lens = lens.assume_init();
        let hdr_len = lens.l2_len as u32 + lens.l3_len as u32;
        let l4 = ptype & dpdk_sys::RTE_PTYPE_L4_MASK;
        let field = match l4 {
            dpdk_sys::RTE_PTYPE_L4_TCP => hdr_len + TCP_CKSUM_OFFSET,
            dpdk_sys::RTE_PTYPE_L4_UDP => hdr_len + UDP_CKSUM_OFFSET,
            _ => return,
        };
        let pkt_len = (*m).pkt_len;
        if pkt_len < hdr_len {
            return;
        }
        let mut sum = 0u16;
        if dpdk_sys::shim_raw_cksum_mbuf(m, hdr_len, pkt_len - hdr_len, &mut sum) < 0 {
            return;
        }
        let mut csum = !sum;
        // RFC 768: a computed UDP checksum of 0 is sent as all ones (0 means "none").
        if l4 == dpdk_sys::RTE_PTYPE_L4_UDP && csum == 0 {
            csum = 0xffff;
        }
        if (*m).data_len as u32 >= field + 2 {
            let data = ((*m).buf_addr as *mut u8).add((*m).data_off as usize);
            // The raw sum is over the packet's own byte order; stored the same way.
            (data.add(field as usize) as *mut u16).write_unaligned(csum);
        }
        (*m).ol_flags = ((*m).ol_flags & !MASK) | GOOD;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Eal, Mbuf};

    /// One's complement sum of big-endian 16-bit words (an odd last byte is padded), folded.
    fn ones_sum(parts: &[&[u8]]) -> u16 {
        let mut sum = 0u32;
        for part in parts {
            for pair in part.chunks(2) {
                let hi = pair[0] as u32;
                let lo = pair.get(1).copied().unwrap_or(0) as u32;
                sum += (hi << 8) | lo;
            }
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        sum as u16
    }

    /// A frame as a guest with `VIRTIO_NET_F_CSUM` hands it over (checksum field = folded
    /// pseudo-header sum), plus the checksum the field must hold once completed.
    fn partial_frame(ipv6: bool, tcp: bool, payload_len: usize) -> (Vec<u8>, usize, u16) {
        let payload: Vec<u8> = (0..payload_len).map(|i| (i * 7 + 3) as u8).collect();
        let (proto, l4_hdr_len, cksum_at) = if tcp { (6u8, 20, 16) } else { (17u8, 8, 6) };
        let l4_len = l4_hdr_len + payload.len();
        let mut l4 = vec![0u8; l4_hdr_len];
        l4[0..4].copy_from_slice(&[0x30, 0x39, 0x00, 0x50]); // ports 12345 -> 80
        if tcp {
            l4[12] = 5 << 4; // data offset: 5 words
            l4[13] = 0x18; // PSH, ACK
        } else {
            l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        }
        l4.extend_from_slice(&payload);
        let (ethertype, l3, pseudo) = if ipv6 {
            let (src, dst) = (
                [0x20, 1, 0xd, 0xb8].repeat(4),
                [0x20, 1, 0xd, 0xb9].repeat(4),
            );
            let mut h = vec![0x60, 0, 0, 0];
            h.extend_from_slice(&(l4_len as u16).to_be_bytes());
            h.extend_from_slice(&[proto, 64]);
            h.extend_from_slice(&src);
            h.extend_from_slice(&dst);
            let mut p = [src, dst].concat();
            p.extend_from_slice(&(l4_len as u32).to_be_bytes());
            p.extend_from_slice(&[0, 0, 0, proto]);
            (0x86ddu16, h, p)
        } else {
            let (src, dst) = ([10u8, 0, 0, 1], [10u8, 0, 0, 2]);
            let mut h = vec![0x45, 0];
            h.extend_from_slice(&((20 + l4_len) as u16).to_be_bytes());
            h.extend_from_slice(&[0, 0, 0x40, 0, 64, proto, 0, 0]);
            h.extend_from_slice(&src);
            h.extend_from_slice(&dst);
            let ip_sum = !ones_sum(&[&h]);
            h[10..12].copy_from_slice(&ip_sum.to_be_bytes());
            let mut p = [src, dst].concat();
            p.extend_from_slice(&[0, proto]);
            p.extend_from_slice(&(l4_len as u16).to_be_bytes());
            (0x0800u16, h, p)
        };
        let mut expect = !ones_sum(&[&pseudo, &l4]);
        if !tcp && expect == 0 {
            expect = 0xffff;
        }
        l4[cksum_at..cksum_at + 2].copy_from_slice(&ones_sum(&[&pseudo]).to_be_bytes());
        let mut frame = vec![0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa];
        frame.extend_from_slice(&ethertype.to_be_bytes());
        let at = frame.len() + l3.len() + cksum_at;
        frame.extend_from_slice(&l3);
        frame.extend_from_slice(&l4);
        (frame, at, expect)
    }

    fn mbuf_with(pool: &Mempool, frame: &[u8], ol_flags: u64) -> Mbuf {
        let mut m = pool.alloc().expect("a free mbuf");
        m.append(frame.len() as u16)
            .expect("room in the mbuf")
            .copy_from_slice(frame);
        // SAFETY: the mbuf is ours alone; ol_flags is a plain field.
        unsafe { (*m.as_ptr()).ol_flags = ol_flags };
        m
    }

    /// The software checksum net_vhost applies to packets whose checksum the guest left to
    /// the host, on the real DPDK parser and checksum code (one EAL per test binary: this
    /// is the crate's only test that starts it).
    #[test]
    fn partial_l4_checksums_are_completed_like_net_vhost() {
        let prefix = format!("dpdk-vhost-csum-{}", std::process::id());
        // Removes EAL's runtime directory last, also when an assertion fails.
        struct RunDir(std::path::PathBuf);
        impl Drop for RunDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let _run_dir = RunDir(std::path::Path::new("/var/run/dpdk").join(&prefix));
        let args: Vec<String> = [
            "vhost-csum-test",
            "-l",
            "0",
            "--no-pci",
            "--no-huge",
            "-m",
            "64",
            "--log-level",
            "*:error",
            "--file-prefix",
            &prefix,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let eal = Eal::init(&args).expect("EAL");
        let pool =
            Mempool::new_pktmbuf("csum_test", 63, 0, Mempool::DEFAULT_DATA_ROOM, -1).expect("pool");
        const NONE: u64 = dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_NONE as u64;
        const GOOD: u64 = dpdk_sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD as u64;
        for (ipv6, tcp, len) in [
            (false, false, 27),
            (false, true, 40),
            (true, false, 1),
            (true, true, 1000),
        ] {
            let what = format!("ipv6={ipv6} tcp={tcp} payload={len}");
            let (frame, at, expect) = partial_frame(ipv6, tcp, len);
            let m = mbuf_with(&pool, &frame, NONE);
            // SAFETY: m is a valid mbuf we own exclusively.
            unsafe { complete_partial_l4_checksum(m.as_ptr()) };
            let got = u16::from_be_bytes([m.data()[at], m.data()[at + 1]]);
            assert_eq!(got, expect, "{what}");
            // SAFETY: reading a plain field of our own mbuf.
            let flags = unsafe { (*m.as_ptr()).ol_flags };
            assert_eq!(flags & NONE, GOOD, "{what}: marked good");
            let mut rest = frame.clone();
            rest[at..at + 2].copy_from_slice(&expect.to_be_bytes());
            assert_eq!(m.data(), &rest[..], "{what}: nothing else changed");

            // A packet the guest checksummed itself (no NEEDS_CSUM) is left alone.
            let untouched = mbuf_with(&pool, &frame, 0);
            // SAFETY: as above.
            unsafe { complete_partial_l4_checksum(untouched.as_ptr()) };
            assert_eq!(untouched.data(), &frame[..], "{what}: not partial");
        }
        assert_eq!(pool.in_use(), 0);
        drop(pool);
        drop(eal);
    }
}
