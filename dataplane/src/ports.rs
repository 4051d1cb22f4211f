//! The two ways a bridge port is served, behind one control type (main lcore) and one data
//! type (worker lcore):
//!
//! * ethdev: a `type = "dpdk"` port (NIC or vdev), or a vhost-user port through the
//!   net_vhost PMD (`--vhost-path pmd`);
//! * the vhost library called directly (`--vhost-path lib`, vhost-user ports only), which
//!   skips net_vhost's per-burst wrapper.
//!
//! The worker is generic over [`PacketPort`]; [`PortIo`] is an enum rather than a
//! `Box<dyn PacketPort>` so a bridge can mix both kinds and every burst call is still a
//! direct, inlinable call behind one well-predicted branch.

use dpdk::{EthPort, EthQueue, MbufBurst, PacketPort, PortStats, VhostQueue, VhostUser};

/// How vhost-user ports are served (`--vhost-path`).
///
/// The default is `lib`: with the switch as the bottleneck (closed-loop generator, worker
/// 90-98 % busy, 64-byte frames, 2-vCPU VM in its near state) it cost 161-177 worker cycles
/// per packet against 195-205 through the PMD, and switched 14.0 against 11.0 Mpps in the
/// same pair of runs (bench/README.md has the comparison).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum VhostPath {
    /// The DPDK vhost library directly (rte_vhost_dequeue_burst / rte_vhost_enqueue_burst).
    #[default]
    Lib,
    /// The net_vhost ethdev PMD (rte_eth_rx_burst / rte_eth_tx_burst on a net_vhost port).
    Pmd,
}

/// The data-path handle of one bridge port, owned by the worker lcore.
pub enum PortIo {
    Eth(EthQueue),
    Vhost(VhostQueue),
}

impl PacketPort for PortIo {
    #[inline]
    fn rx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        match self {
            PortIo::Eth(q) => q.rx_burst(burst),
            PortIo::Vhost(q) => q.rx_burst(burst),
        }
    }

    #[inline]
    fn tx_burst(&mut self, burst: &mut MbufBurst) -> usize {
        match self {
            PortIo::Eth(q) => q.tx_burst(burst),
            PortIo::Vhost(q) => q.tx_burst(burst),
        }
    }

    #[inline]
    fn accepts_tso(&self, ipv6: bool) -> bool {
        match self {
            PortIo::Eth(q) => q.accepts_tso(ipv6),
            PortIo::Vhost(q) => q.accepts_tso(ipv6),
        }
    }

    #[inline]
    fn departures(&self) -> Option<u64> {
        match self {
            PortIo::Eth(q) => q.departures(),
            PortIo::Vhost(q) => q.departures(),
        }
    }

    #[inline]
    fn departures_before_rx(&self) -> Option<u64> {
        match self {
            PortIo::Eth(q) => q.departures_before_rx(),
            PortIo::Vhost(q) => q.departures_before_rx(),
        }
    }
}

/// The control handle of one bridge port, kept by the main lcore.
pub enum PortControl {
    Eth(EthPort),
    Vhost(VhostUser),
}

impl PortControl {
    /// Whether the port can carry frames now: the ethdev link, or a guest attached.
    pub fn link_up(&self) -> bool {
        match self {
            PortControl::Eth(p) => p.link().up,
            PortControl::Vhost(p) => p.link_up(),
        }
    }

    /// The port's MAC address: the ethdev's own; `None` for a vhost library port, which has
    /// no ethdev (the guest owns the MACs behind it).
    pub fn mac_addr(&self) -> Option<[u8; 6]> {
        match self {
            PortControl::Eth(p) => Some(p.mac_addr()),
            PortControl::Vhost(_) => None,
        }
    }

    /// The MTU QEMU announced to the attached guest (`host_mtu=`), for a vhost library port.
    pub fn guest_mtu(&self) -> Option<u16> {
        match self {
            PortControl::Eth(_) => None,
            PortControl::Vhost(p) => p.guest_mtu(),
        }
    }

    /// Sets an ethdev port's MTU; a vhost library port has none to set.
    pub fn set_mtu(&mut self, mtu: u16) -> dpdk::Result<()> {
        match self {
            PortControl::Eth(p) => p.set_mtu(mtu),
            PortControl::Vhost(_) => Ok(()),
        }
    }

    /// The data-path handle for the worker; `None` once taken.
    pub fn take_queue(&mut self) -> Option<PortIo> {
        match self {
            PortControl::Eth(p) => p.take_queue().map(PortIo::Eth),
            PortControl::Vhost(p) => p.take_queue().map(PortIo::Vhost),
        }
    }

    /// Stops an ethdev port so no more frames arrive. A vhost library port has nothing to
    /// stop: once the worker is joined nobody dequeues, and the guest keeps its frames.
    pub fn stop(&mut self) -> dpdk::Result<()> {
        match self {
            PortControl::Eth(p) => p.stop(),
            PortControl::Vhost(_) => Ok(()),
        }
    }

    /// The ethdev's own counters; `None` for a vhost library port, which has no ethdev
    /// (the dataplane's own rx/tx/drop counters cover it).
    pub fn pmd_stats(&self) -> Option<PortStats> {
        match self {
            PortControl::Eth(p) => Some(p.stats()),
            PortControl::Vhost(_) => None,
        }
    }

    /// Closes the port: frees an ethdev's queues (and the mbufs in them), unregisters a
    /// vhost socket. Either way a server-mode vhost-user socket file is removed.
    pub fn close(self) -> dpdk::Result<()> {
        match self {
            PortControl::Eth(p) => p.close(),
            PortControl::Vhost(p) => p.close(),
        }
    }
}
