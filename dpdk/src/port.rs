use crate::error::{check, Error, Result};
use crate::gate::PeerGate;
use crate::mbuf::{MbufBurst, BURST_SIZE};
use crate::mempool::Mempool;
use std::ffi::{c_int, c_void, CStr, CString};
use std::mem::MaybeUninit;
use std::sync::Arc;

/// The data-path interface the poll loop is written against: bursts in, bursts out, on one
/// queue pair. A port implementation that bypasses ethdev (for example the vhost library
/// called directly) only has to provide these two calls.
pub trait PacketPort {
    /// Receives up to [`BURST_SIZE`] packets into the (empty) `burst`; returns how many.
    fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize;
    /// Sends from the front of `burst`; sent mbufs leave it, unsent ones stay at its front
    /// for the caller to retry or drop. Returns how many were sent.
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize;
    /// Whether the port takes a large TCP frame whole (marked with
    /// [`Mbuf::set_tcp_tso`](crate::Mbuf::set_tcp_tso)) for IPv4 (`ipv6 == false`) or IPv6:
    /// a guest that negotiated TSO receive. Everything else gets MTU-sized frames with
    /// their checksums filled in.
    #[inline]
    fn accepts_tso(&self, _ipv6: bool) -> bool {
        false
    }
    /// How many times the peer behind the port has gone away since the port was opened (a
    /// vhost-user guest detaching), for ports that learn of each departure; `None` for
    /// ports that only have a link state to sample.
    fn departures(&self) -> Option<u64> {
        None
    }
    /// [`departures`](Self::departures) as counted by the last `rx_burst` that found a peer:
    /// the packets it returned come from a peer that arrived after every departure counted
    /// and left in none of them. Whoever forgets the addresses of departed peers when this
    /// changes, before learning from those packets, never keeps a departed peer's address
    /// and never forgets a present one's.
    fn departures_before_rx(&self) -> Option<u64> {
        None
    }
}

/// One rx/tx queue pair of an ethdev port: the data-path handle a worker lcore owns.
///
/// Neither `Clone` nor `Copy`: ethdev queues are not thread-safe, so [`EthPort::take_queue`]
/// hands each one out once, and only its owner can poll it.
pub struct EthQueue {
    port_id: u16,
    queue_id: u16,
    /// For a net_vhost port whose guest departures are counted
    /// ([`EthPort::count_guest_departures`]): the state its link-state callback shares.
    guest: Option<Arc<GuestGate>>,
    /// `departures` as the last receive call with a guest attached read it (see
    /// [`PacketPort::departures_before_rx`]).
    departures_before_rx: u64,
}

impl std::fmt::Debug for EthQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EthQueue")
            .field("port_id", &self.port_id)
            .field("queue_id", &self.queue_id)
            .field("counts_departures", &self.guest.is_some())
            .finish()
    }
}

impl EthQueue {
    pub fn port_id(&self) -> u16 {
        self.port_id
    }
}

/// `rte_eth_rx_burst` into the empty `burst`; returns how many packets it received.
#[inline(always)]
fn eth_rx_burst(port_id: u16, queue_id: u16, burst: &mut MbufBurst) -> usize {
    // The PMD writes from slot 0: anything still there would be overwritten and leak.
    burst.clear();
    // SAFETY: the burst is empty and has BURST_SIZE slots; the PMD writes at most that
    // many owned mbufs into it, and we record exactly how many.
    unsafe {
        let n =
            dpdk_sys::shim_eth_rx_burst(port_id, queue_id, burst.raw_slots(), BURST_SIZE as u16);
        burst.set_len(n as usize);
        n as usize
    }
}

impl PacketPort for EthQueue {
    /// Receives a burst. On a net_vhost port that counts its guest's departures, only while
    /// the link-state callback has seen a guest attach and not yet leave (see [`GuestGate`]).
    #[inline]
    fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        let Some(gate) = &self.guest else {
            return eth_rx_burst(self.port_id, self.queue_id, burst);
        };
        if gate.peer.enter().is_none() {
            burst.clear();
            return 0;
        }
        // Inside the bracket: the departures before this guest's arrival, not its own (see
        // PeerGate::departures_in_call). The packets come from this guest: net_vhost
        // destroys a device only after its bursts have ended (its own allow_queuing /
        // while_queuing bracket) and then calls back, and a next guest's new_device waits
        // for that callback to return.
        self.departures_before_rx = gate.peer.departures_in_call();
        let n = eth_rx_burst(self.port_id, self.queue_id, burst);
        gate.peer.leave();
        n
    }

    #[inline]
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        if burst.is_empty() {
            return 0;
        }
        // SAFETY: the first len slots are owned mbufs; the PMD takes ownership of the first
        // `sent` of them, which consume_front then forgets.
        let sent = unsafe {
            dpdk_sys::shim_eth_tx_burst(
                self.port_id,
                self.queue_id,
                burst.raw_ptr(),
                burst.len() as u16,
            )
        } as usize;
        burst.consume_front(sent);
        sent
    }

    /// Guests that left a net_vhost port since its departures were counted
    /// ([`EthPort::count_guest_departures`]), each link-down event after a link-up however
    /// short the stay; `None` for every other ethdev port (a NIC's link can go down and up
    /// again without any host behind it moving).
    #[inline]
    fn departures(&self) -> Option<u64> {
        self.guest.as_ref().map(|g| g.peer.departures())
    }

    #[inline]
    fn departures_before_rx(&self) -> Option<u64> {
        self.guest.as_ref().map(|_| self.departures_before_rx)
    }
}

/// What the link-state callback of a net_vhost port and the worker receiving from it share.
///
/// net_vhost raises `RTE_ETH_EVENT_INTR_LSC` on the vhost library's event thread at the end
/// of `new_device` (link already up, bursts already allowed) and of `destroy_device` (link
/// already down, after waiting for bursts in flight to end). The callback turns that into
/// the protocol of the vhost library path ([`PeerGate`]): the worker brackets each receive
/// call with the gate and calls the PMD only while a guest is attached; a departure
/// withdraws the guest, waits for the worker to leave and only then counts.
///
/// What that guarantees (DPDK 22.11 `drivers/net/vhost/rte_eth_vhost.c`): the packets of a
/// receive call made inside the bracket come from the guest whose link-up event attached
/// it, because its `destroy_device` cannot return, and the next guest's
/// `new_device` cannot run (both run one after the other on the vhost event thread),
/// before the callback has waited for the bracket to end. For the same reason the library
/// cannot free or reset the departing guest's device while a `rte_eth_rx_burst` of ours
/// still uses it, even if net_vhost's own bracket (`allow_queuing` / `while_queuing`, plain
/// volatile accesses with no fence between the store and the load) let one through. The
/// only departure that escapes the callback is the one net_vhost's close causes, after the
/// callback is unregistered (see [`EthPort::close`]). Transmit calls are not bracketed:
/// which guest gets a frame does not matter to the MAC table.
struct GuestGate {
    /// Attached (token [`NET_VHOST_GUEST`]) from a link-up to the next link-down event;
    /// the worker's receive calls; the departures.
    peer: PeerGate,
    /// The ethdev name, for the log.
    device: String,
}

/// The peer token of a net_vhost port's guest: the PMD gives the callback no device id,
/// and a port has one guest at a time.
const NET_VHOST_GUEST: c_int = 0;

/// The `RTE_ETH_EVENT_INTR_LSC` callback of a net_vhost port whose departures are counted.
/// Runs on the vhost library's event thread, after net_vhost has updated the link status.
unsafe extern "C" fn guest_link_event(
    port_id: u16,
    event: dpdk_sys::rte_eth_event_type,
    cb_arg: *mut c_void,
    _ret_param: *mut c_void,
) -> c_int {
    if event != dpdk_sys::RTE_ETH_EVENT_INTR_LSC {
        return 0;
    }
    // SAFETY: cb_arg is the GuestGate the EthPort registered with this callback; the port
    // keeps it alive until rte_eth_dev_callback_unregister has succeeded, which ethdev
    // refuses (EAGAIN) while the callback runs.
    let gate = unsafe { &*(cb_arg as *const GuestGate) };
    if link_status(port_id).up {
        if gate.peer.attach(NET_VHOST_GUEST) {
            log::info!("{}: guest attached (link up)", gate.device);
        }
    } else if gate.peer.depart(NET_VHOST_GUEST) {
        log::info!("{}: guest detached (link down)", gate.device);
    }
    0
}

/// Link state as the PMD reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkStatus {
    pub up: bool,
    pub speed_mbps: u32,
}

/// Hardware/PMD counters of a port (`rte_eth_stats_get`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub ipackets: u64,
    pub opackets: u64,
    pub ibytes: u64,
    pub obytes: u64,
    /// Packets the hardware dropped because rx queues were full.
    pub imissed: u64,
    pub ierrors: u64,
    pub oerrors: u64,
    pub rx_nombuf: u64,
}

/// An ethdev port (physical NIC or vdev), configured with one rx and one tx queue.
/// Stopped and closed on drop.
pub struct EthPort {
    id: u16,
    name: String,
    probed_by_us: bool,
    started: bool,
    closed: bool,
    queue_taken: bool,
    /// The pool the rx queue allocates from, kept alive for as long as the port.
    pool: Option<Mempool>,
    /// `configure` has run (for net_vhost: its socket is open, a guest may attach).
    configured: bool,
    /// The state the link-state callback of a net_vhost port shares with its queue, while
    /// the callback is registered ([`count_guest_departures`](Self::count_guest_departures)).
    guest: Option<Arc<GuestGate>>,
}

impl EthPort {
    /// Creates (hot-plugs) the device described by `devargs` — a PCI address such as
    /// `0000:03:00.0` or a vdev string such as `net_vhost0,iface=/run/vm1.sock` — and returns
    /// its port, found by `name`: the device's canonical name (the vdev name, or the PCI
    /// address with its domain, `0000:03:00.0`). A device the EAL command line already
    /// created (`-a`, `--vdev`) is reused.
    pub fn probe(devargs: &str, name: &str) -> Result<EthPort> {
        let name = name.to_string();
        let c = CString::new(devargs)
            .map_err(|_| Error::other("rte_dev_probe", "devargs has a NUL byte"))?;
        // SAFETY: c is a valid C string; DPDK copies what it keeps.
        let ret = unsafe { dpdk_sys::rte_dev_probe(c.as_ptr()) };
        let probed_by_us = ret == 0;
        if ret < 0 && -ret != libc::EEXIST {
            return Err(Error::from_code(format!("rte_dev_probe({devargs})"), -ret));
        }
        match EthPort::by_name(&name) {
            Ok(mut port) => {
                port.probed_by_us = probed_by_us;
                Ok(port)
            }
            Err(e) => {
                if probed_by_us {
                    // The device exists but under another name than we derived (e.g. a
                    // short PCI address): unplug it again rather than leave it behind.
                    hotplug_remove(&name);
                }
                Err(e)
            }
        }
    }

    /// Hot-plugs a new device (`rte_dev_probe`), as [`probe`](Self::probe) does, but a
    /// device of that name must not exist yet: for a device that comes and goes (a guest
    /// frontend attached and detached over and over), reusing a leftover would hide that
    /// its last [`unplug`](Self::unplug) failed. Fails with `EEXIST` then.
    pub fn hotplug(devargs: &str, name: &str) -> Result<EthPort> {
        if port_id_by_name(name).is_ok() {
            return Err(Error::from_code(
                format!("rte_dev_probe({devargs}): port {name} exists already"),
                libc::EEXIST,
            ));
        }
        let port = EthPort::probe(devargs, name)?;
        if !port.probed_by_us {
            // The ethdev port was released but its device not removed: not ours to close.
            std::mem::forget(port);
            return Err(Error::from_code(
                format!("rte_dev_probe({devargs}): device {name} exists already"),
                libc::EEXIST,
            ));
        }
        Ok(port)
    }

    /// Stops, closes and removes (`rte_dev_remove`) a device this process hot-plugged, and
    /// checks that no port of its name is left. Unlike [`close`](Self::close) (and drop),
    /// which only log a failed removal, every failure is returned: the device may then
    /// still be there.
    pub fn unplug(mut self) -> Result<()> {
        let op = format!("unplug({})", self.name);
        if !self.probed_by_us {
            return Err(Error::other(
                op,
                "the device was not hot-plugged by this process",
            ));
        }
        self.close_inner(true)?;
        if port_id_by_name(&self.name).is_ok() {
            return Err(Error::other(
                op,
                "the port still exists after rte_dev_remove",
            ));
        }
        Ok(())
    }

    /// The port of an existing device, by ethdev name (`net_vhost0`, `0000:03:00.0`).
    pub fn by_name(name: &str) -> Result<EthPort> {
        let id = port_id_by_name(name)?;
        Ok(EthPort {
            id,
            name: name.to_string(),
            probed_by_us: false,
            started: false,
            closed: false,
            queue_taken: false,
            pool: None,
            configured: false,
            guest: None,
        })
    }

    /// Ports that exist right now (for example from `--vdev` on the EAL command line).
    pub fn available_ids() -> Vec<u16> {
        let mut out = Vec::new();
        // SAFETY: iterating ethdev ids with the documented next-owned-by(NO_OWNER) idiom.
        let mut id = unsafe { dpdk_sys::rte_eth_find_next_owned_by(0, 0) } as u16;
        while (id as u32) < dpdk_sys::RTE_MAX_ETHPORTS {
            out.push(id);
            // SAFETY: as above.
            id = unsafe { dpdk_sys::rte_eth_find_next_owned_by(id + 1, 0) } as u16;
        }
        out
    }

    pub fn id(&self) -> u16 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The NUMA socket the device sits on, or `None` when unknown (vdevs).
    pub fn socket_id(&self) -> Option<i32> {
        // SAFETY: valid port id.
        let s = unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id) };
        (s >= 0).then_some(s)
    }

    /// The PMD's driver name (`net_vhost`, `net_ixgbe`, ...).
    pub fn driver_name(&self) -> String {
        let mut info = MaybeUninit::<dpdk_sys::rte_eth_dev_info>::zeroed();
        // SAFETY: info is a valid out-pointer of the right type.
        let ret = unsafe { dpdk_sys::rte_eth_dev_info_get(self.id, info.as_mut_ptr()) };
        if ret < 0 {
            return String::from("?");
        }
        // SAFETY: rte_eth_dev_info_get filled it; driver_name is a static C string.
        unsafe {
            let info = info.assume_init();
            if info.driver_name.is_null() {
                String::from("?")
            } else {
                CStr::from_ptr(info.driver_name)
                    .to_string_lossy()
                    .into_owned()
            }
        }
    }

    /// Configures one rx and one tx queue with the given ring sizes (rounded to what the
    /// device supports), receiving into `pool`.
    pub fn configure(&mut self, rx_desc: u16, tx_desc: u16, pool: &Mempool) -> Result<()> {
        let conf = MaybeUninit::<dpdk_sys::rte_eth_conf>::zeroed();
        // SAFETY: an all-zero rte_eth_conf is DPDK's documented default configuration.
        let conf = unsafe { conf.assume_init() };
        let socket = self.socket_id().unwrap_or(-1);
        let (mut nb_rx, mut nb_tx) = (rx_desc, tx_desc);
        // SAFETY: valid port id and pointers for the duration of each call; the pool
        // outlives the port (the owner drops ports first).
        unsafe {
            check(
                &format!("rte_eth_dev_configure({})", self.name),
                dpdk_sys::rte_eth_dev_configure(self.id, 1, 1, &conf),
            )?;
            check(
                &format!("rte_eth_dev_adjust_nb_rx_tx_desc({})", self.name),
                dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(self.id, &mut nb_rx, &mut nb_tx),
            )?;
            check(
                &format!("rte_eth_rx_queue_setup({})", self.name),
                dpdk_sys::rte_eth_rx_queue_setup(
                    self.id,
                    0,
                    nb_rx,
                    socket as u32,
                    std::ptr::null(),
                    pool.as_ptr(),
                ),
            )?;
            check(
                &format!("rte_eth_tx_queue_setup({})", self.name),
                dpdk_sys::rte_eth_tx_queue_setup(
                    self.id,
                    0,
                    nb_tx,
                    socket as u32,
                    std::ptr::null(),
                ),
            )?;
        }
        self.pool = Some(pool.clone());
        self.configured = true;
        Ok(())
    }

    /// Makes the port count its guest's departures: every time the link of this net_vhost
    /// port goes down after it came up (net_vhost's `destroy_device`, a guest detaching or
    /// resetting its rings), however short the guest's stay, which sampling the link state
    /// misses. Its queue then reports them through [`PacketPort::departures`] and
    /// [`PacketPort::departures_before_rx`], and receives only between a link-up and the
    /// next link-down event, so the frames of a receive call belong to the guest that
    /// arrived after the departures it read and is not one of them.
    ///
    /// Only for net_vhost ports, and before [`configure`](Self::configure) (which opens
    /// the socket: no guest can have attached unseen) and [`take_queue`](Self::take_queue).
    pub fn count_guest_departures(&mut self) -> Result<()> {
        let op = format!("count_guest_departures({})", self.name);
        let driver = self.driver_name();
        if driver != "net_vhost" {
            return Err(Error::other(
                op,
                format!("driver {driver} is not net_vhost"),
            ));
        }
        if self.configured || self.queue_taken || self.guest.is_some() {
            return Err(Error::other(
                op,
                "must come first, before configure and take_queue",
            ));
        }
        let gate = Arc::new(GuestGate {
            peer: PeerGate::new(),
            device: self.name.clone(),
        });
        // SAFETY: valid port id; the callback has the rte_eth_dev_cb_fn signature; its
        // argument points into the Arc this port keeps until the callback is unregistered
        // (close_inner), and GuestGate is Sync (a PeerGate of atomics and an immutable String).
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_callback_register(
                self.id,
                dpdk_sys::RTE_ETH_EVENT_INTR_LSC,
                Some(guest_link_event),
                Arc::as_ptr(&gate) as *mut c_void,
            )
        };
        check(
            &format!("rte_eth_dev_callback_register({})", self.name),
            ret,
        )?;
        self.guest = Some(gate);
        Ok(())
    }

    /// Unregisters the link-state callback, if any, so it neither runs on a port that is
    /// closing nor outlives the port: ethdev keeps a released port's callbacks and would
    /// call them for the next device given the same port id.
    fn stop_counting_departures(&mut self) {
        let Some(gate) = self.guest.take() else {
            return;
        };
        loop {
            // SAFETY: the same port, event, function and argument as registered; the gate
            // stays alive (held here) until this succeeds.
            let ret = unsafe {
                dpdk_sys::rte_eth_dev_callback_unregister(
                    self.id,
                    dpdk_sys::RTE_ETH_EVENT_INTR_LSC,
                    Some(guest_link_event),
                    Arc::as_ptr(&gate) as *mut c_void,
                )
            };
            match -ret {
                0 => return,
                // The callback is running (it waits at most for a receive call to end).
                libc::EAGAIN => std::thread::yield_now(),
                _ => {
                    // Still registered for all we know: the gate must outlive it.
                    log::warn!(
                        "{}",
                        Error::from_code(
                            format!("rte_eth_dev_callback_unregister({})", self.name),
                            -ret
                        )
                    );
                    std::mem::forget(gate);
                    return;
                }
            }
        }
    }

    pub fn start(&mut self) -> Result<()> {
        // SAFETY: valid, configured port.
        check(&format!("rte_eth_dev_start({})", self.name), unsafe {
            dpdk_sys::rte_eth_dev_start(self.id)
        })?;
        self.started = true;
        // A switch port must see frames for every MAC. Some vdevs have no such mode and say
        // ENOTSUP: they deliver everything anyway.
        // SAFETY: valid, started port.
        let ret = unsafe { dpdk_sys::rte_eth_promiscuous_enable(self.id) };
        if ret < 0 && -ret != libc::ENOTSUP {
            log::warn!(
                "{}: {}",
                self.name,
                Error::from_code("rte_eth_promiscuous_enable", -ret)
            );
        }
        Ok(())
    }

    pub fn stop(&mut self) -> Result<()> {
        if self.started {
            self.started = false;
            // SAFETY: valid, started port; no lcore polls it any more (the owner joined them).
            check(&format!("rte_eth_dev_stop({})", self.name), unsafe {
                dpdk_sys::rte_eth_dev_stop(self.id)
            })?;
        }
        Ok(())
    }

    /// Stops and closes the port, frees its queues (and the mbufs parked in them), and
    /// removes the device if this process created it. For a vhost-user server port this
    /// also removes the socket file.
    pub fn close(mut self) -> Result<()> {
        self.close_inner(false)
    }

    /// Stops, closes and (if we probed it) removes the device. A failed removal is an error
    /// only when `strict`; otherwise it is logged.
    fn close_inner(&mut self, strict: bool) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        // First, whatever fails below: net_vhost's close destroys an attached guest's
        // device, whose link-down event is of no use any more, and the port id is released;
        // the gate the callback points to goes when this port does.
        self.stop_counting_departures();
        self.stop()?;
        self.closed = true;
        let device = self.device();
        // SAFETY: valid, stopped port; it is not used after this.
        check(&format!("rte_eth_dev_close({})", self.name), unsafe {
            dpdk_sys::rte_eth_dev_close(self.id)
        })?;
        if self.probed_by_us {
            if device.is_null() {
                let e = Error::other(format!("rte_dev_remove({})", self.name), "no device");
                return if strict { Err(e) } else { Ok(()) };
            }
            // SAFETY: the device pointer came from dev_info before close; the bus keeps the
            // rte_device until it is removed, which is what this does.
            let ret = unsafe { dpdk_sys::rte_dev_remove(device) };
            if ret < 0 {
                let e = Error::from_code(format!("rte_dev_remove({})", self.name), -ret);
                if strict {
                    return Err(e);
                }
                log::debug!("{e}");
            }
        }
        Ok(())
    }

    fn device(&self) -> *mut dpdk_sys::rte_device {
        let mut info = MaybeUninit::<dpdk_sys::rte_eth_dev_info>::zeroed();
        // SAFETY: valid out-pointer; on failure we report no device.
        unsafe {
            if dpdk_sys::rte_eth_dev_info_get(self.id, info.as_mut_ptr()) < 0 {
                return std::ptr::null_mut();
            }
            info.assume_init().device
        }
    }

    /// The data-path handle for queue pair 0; `None` once it has been taken.
    pub fn take_queue(&mut self) -> Option<EthQueue> {
        if std::mem::replace(&mut self.queue_taken, true) {
            return None;
        }
        Some(EthQueue {
            port_id: self.id,
            queue_id: 0,
            guest: self.guest.clone(),
            departures_before_rx: 0,
        })
    }

    /// Current link state without waiting (safe to call while a worker polls the port).
    pub fn link(&self) -> LinkStatus {
        link_status(self.id)
    }

    pub fn stats(&self) -> PortStats {
        let mut s = MaybeUninit::<dpdk_sys::rte_eth_stats>::zeroed();
        // SAFETY: valid port id and out-pointer; zeroed stats are returned on failure.
        let s = unsafe {
            dpdk_sys::rte_eth_stats_get(self.id, s.as_mut_ptr());
            s.assume_init()
        };
        PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }

    /// Sets the port's MTU (the largest IP packet it sends and receives,
    /// `rte_eth_dev_set_mtu`). Not every driver supports it (some vdevs refuse).
    pub fn set_mtu(&mut self, mtu: u16) -> Result<()> {
        // SAFETY: valid port id.
        let rc = unsafe { dpdk_sys::rte_eth_dev_set_mtu(self.id, mtu) };
        if rc < 0 {
            return Err(Error::from_code(format!("rte_eth_dev_set_mtu({mtu})"), rc));
        }
        Ok(())
    }

    /// The port's own MAC address.
    pub fn mac_addr(&self) -> [u8; 6] {
        let mut a = MaybeUninit::<dpdk_sys::rte_ether_addr>::zeroed();
        // SAFETY: valid port id and out-pointer.
        unsafe {
            if dpdk_sys::rte_eth_macaddr_get(self.id, a.as_mut_ptr()) < 0 {
                return [0; 6];
            }
            a.assume_init().addr_bytes
        }
    }
}

impl Drop for EthPort {
    fn drop(&mut self) {
        if let Err(e) = self.close_inner(false) {
            log::warn!("{}", e);
        }
    }
}

/// The link state of port `port_id` without waiting (down for an invalid port).
fn link_status(port_id: u16) -> LinkStatus {
    let mut link = MaybeUninit::<dpdk_sys::rte_eth_link>::zeroed();
    // SAFETY: a valid out-pointer; an invalid port id just returns an error.
    let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(port_id, link.as_mut_ptr()) };
    if ret < 0 {
        return LinkStatus {
            up: false,
            speed_mbps: 0,
        };
    }
    // SAFETY: filled by the call above.
    let link = unsafe { link.assume_init() };
    LinkStatus {
        up: link.link_status() != 0,
        speed_mbps: link.link_speed,
    }
}

/// The ethdev port id of the device called `name`.
fn port_id_by_name(name: &str) -> Result<u16> {
    let c = CString::new(name)
        .map_err(|_| Error::other("rte_eth_dev_get_port_by_name", "NUL in name"))?;
    let mut id = 0u16;
    // SAFETY: c is a valid C string and id a valid out-pointer.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    check(&format!("rte_eth_dev_get_port_by_name({name})"), ret)?;
    Ok(id)
}

/// Unplugs a device this process hot-plugged, by name, on the bus its name implies.
fn hotplug_remove(name: &str) {
    let bus = if name.contains(':') && name.contains('.') {
        "pci"
    } else {
        "vdev"
    };
    let (Ok(b), Ok(n)) = (CString::new(bus), CString::new(name)) else {
        return;
    };
    // SAFETY: valid C strings; removing an unknown device just returns an error.
    let ret = unsafe { dpdk_sys::rte_eal_hotplug_remove(b.as_ptr(), n.as_ptr()) };
    if ret < 0 {
        log::debug!(
            "rte_eal_hotplug_remove({bus}, {name}): {}",
            Error::from_code("rte_eal_hotplug_remove", -ret)
        );
    }
}
