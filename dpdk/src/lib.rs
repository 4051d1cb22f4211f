//! Tier 2: a thin safe layer over DPDK.
//!
//! * [`Eal`]: `rte_eal_init` from argv, lcore queries and launch, `rte_eal_cleanup` on drop.
//! * [`Mempool`]: a packet-buffer pool with in-use accounting, freed on drop.
//! * [`Mbuf`] / [`MbufBurst`]: owned packet buffers; whatever is still owned when dropped
//!   goes back to its pool, so an early return can never leak an mbuf.
//! * [`EthPort`] (control: configure, start, stop, close, stats, link) and [`EthQueue`]
//!   (data: rx/tx bursts on one queue pair, handed to a worker lcore; on a net_vhost port,
//!   also its guest's departures, from link-state events), the latter behind the small
//!   [`PacketPort`] interface the poll loop is written against.
//! * [`VhostUser`] (control: register a vhost-user socket, guest attach/detach, link) and
//!   [`VhostQueue`] (data: `rte_vhost_dequeue_burst`/`rte_vhost_enqueue_burst` behind the
//!   same [`PacketPort`]): vhost-user ports served by the vhost library directly, without
//!   the net_vhost ethdev PMD in between.
//!
//! Every `unsafe` block says why it is sound. Raw FFI lives only in `dpdk-sys`.

mod eal;
mod error;
mod gate;
mod mbuf;
mod mempool;
mod port;
mod vhost;

pub use eal::{lcore_socket, tsc_hz, tsc_now, Eal, LcoreId};
pub use error::{Error, Result};
pub use mbuf::{Drain, Mbuf, MbufBurst, SharedHandles, BURST_SIZE};
pub use mempool::Mempool;
pub use port::{EthPort, EthQueue, LinkStatus, PacketPort, PortStats};
pub use vhost::{VhostQueue, VhostUser};

/// The DPDK version the bindings were built against.
pub const DPDK_VERSION: &str = dpdk_sys::DPDK_VERSION;
