//! A VXLAN tunnel endpoint (RFC 7348) over IPv4, as plain logic over bytes: what arrives
//! on the underlay port is classified (decapsulate, answer ARP or ping, or drop under a
//! named reason), and what a bridge sends to a remote VTEP gets its 50-byte outer header
//! here. The poll loop owns the buffers; this module owns the decisions.
//!
//! Model (Linux's vxlan driver and DPDK grout, not one port per peer as in OVS and VPP):
//! remote VTEPs are data. Each gets a [`RemoteId`] when configured or first heard from
//! (with `accept_remotes = "any"`), and a bridge learns inner MACs on the tunnel port of
//! that id ([`crate::bridge::tunnel_port`]). Underlay next hops (the remote itself when
//! on-link, else the gateway) are resolved with ARP by [`neighbor::Neighbors`].
//!
//! ```text
//!  underlay rx ─► receive() ─┬─ Decap{bridge, remote, inner} ─► Bridge::process(tunnel port)
//!                            ├─ Reply (ARP reply / echo reply written in place) ─► underlay tx
//!                            ├─ Resolved(neighbour) ─► send its held frames
//!                            └─ Drop(reason), counted
//!  bridge Forward(tunnel port) / Flood ─► prepare_encap() ─┬─ Ready(next-hop MAC) ─► write_header() ─► underlay tx
//!                                                           ├─ Hold(neighbour) ─► hold()
//!                                                           └─ Drop(encap_too_big | no_route)
//! ```

pub mod flow_hash;
pub mod neighbor;

use crate::bridge::MAX_REMOTES;
use crate::bump;
use crate::wire::{
    fold_checksum, sum_words, ArpOperation, ArpPacket, EtherType, EthernetFrame, Icmpv4Packet,
    Icmpv4Type, IpProtocol, Ipv4Packet, MacAddr, UdpPacket, VxlanPacket, VXLAN_IPV4_OVERHEAD,
};
use neighbor::{NeighborError, NeighborId, NeighborTimers, Neighbors, Probe, Resolution};
use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Index of a remote VTEP; the bridge's tunnel port for it is `tunnel_port(id)`.
pub type RemoteId = u16;

/// Remote VTEPs one VTEP tracks (configured plus learned with `accept_remotes = "any"`).
pub const MAX_VTEP_REMOTES: usize = 4096;
/// Bridges (VNIs) one VTEP carries: a remote's acceptance is a 64-bit mask over them.
pub const MAX_VTEP_BRIDGES: usize = 64;
/// Underlay neighbours (next hops) one VTEP resolves.
pub const MAX_NEIGHBORS: usize = 1024;

const ETH_LEN: usize = 14;
const IP_LEN: usize = 20;
const UDP_LEN: usize = 8;
const VXLAN_LEN: usize = 8;
/// Outer IPv4 + UDP + VXLAN: what the underlay MTU (an IP packet size) must hold beyond the
/// inner frame.
const MTU_OVERHEAD: usize = IP_LEN + UDP_LEN + VXLAN_LEN;

/// Everything a VTEP is configured with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VtepParams {
    /// This VTEP's underlay address.
    pub ip: Ipv4Addr,
    /// The underlay prefix length: remotes inside it are on-link.
    pub prefix_len: u8,
    /// Next hop for remotes outside the prefix.
    pub gateway: Option<Ipv4Addr>,
    /// The underlay port's MAC.
    pub mac: MacAddr,
    pub udp_port: u16,
    /// The underlay MTU (largest outer IPv4 packet).
    pub mtu: u16,
    pub ttl: u8,
    /// Outer UDP source ports, inclusive.
    pub source_ports: (u16, u16),
    pub static_neighbors: Vec<(Ipv4Addr, MacAddr)>,
    pub timers: NeighborTimers,
}

impl VtepParams {
    /// Whether `a` is inside this VTEP's underlay prefix (on-link).
    pub fn in_prefix(&self, a: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix_len.min(32)))
            .unwrap_or(0);
        u32::from(a) & mask == u32::from(self.ip) & mask
    }

    /// The next hop toward `remote`: itself when on-link, else the gateway (if any).
    pub fn next_hop(&self, remote: Ipv4Addr) -> Option<Ipv4Addr> {
        if self.in_prefix(remote) {
            Some(remote)
        } else {
            self.gateway
        }
    }

    /// The largest inner frame (without FCS) that fits the underlay MTU once encapsulated.
    pub fn max_inner_frame(&self) -> usize {
        usize::from(self.mtu).saturating_sub(MTU_OVERHEAD)
    }
}

/// Why the VTEP dropped a frame. One counter each (VPP's per-node error list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VtepDrop {
    /// Shorter than the outer headers it claims (Ethernet, IPv4, UDP, VXLAN) or a runt.
    OuterTruncated,
    /// Outer destination MAC neither ours nor broadcast.
    NotOurMac,
    /// Neither IPv4 nor ARP (IPv6, LLDP, ...): this VTEP speaks IPv4 only.
    UnderlayOther,
    /// IPv4 header with an impossible version, length or IHL.
    IpMalformed,
    IpBadChecksum,
    /// IPv4, but to another address than our VTEP's.
    IpNotOurs,
    /// A fragment: VTEPs must not fragment (RFC 7348 §4.3) and this one does not reassemble.
    IpFragment,
    /// An IPv4 header with options: no VTEP sends them.
    IpOptions,
    /// To our address, but neither UDP nor ICMP.
    IpOtherProto,
    /// UDP to our address on another port than the VXLAN port.
    UdpWrongPort,
    /// A VXLAN header without the I flag (RFC 7348: the VNI is then not valid).
    VxlanNoIFlag,
    /// A VNI no bridge carries.
    VxlanUnknownVni,
    /// From a VTEP the bridge does not list, with `accept_remotes = "listed"`.
    RemoteNotAccepted,
    /// A new remote with `accept_remotes = "any"` when [`MAX_VTEP_REMOTES`] are known.
    RemoteTableFull,
    /// The decapsulated frame is shorter than an Ethernet header.
    InnerRunt,
    /// ARP that is not Ethernet/IPv4 or is truncated.
    ArpMalformed,
    /// ARP neither for our address nor from a neighbour we track.
    ArpNotOurs,
    /// ICMP to our address that is not a valid echo request.
    IcmpOther,
    /// Inner frame + 36 bytes of outer IPv4/UDP/VXLAN exceed the underlay MTU: dropped, never
    /// fragmented.
    EncapTooBig,
    /// A remote outside the underlay prefix and no gateway.
    NoRoute,
    /// The next hop is unresolved and its hold queue is full.
    NeighborQueueFull,
    /// Held for a next hop that never answered ARP.
    NeighborUnresolved,
    /// No buffer for the outer header: no headroom, a chained frame, or the pool was empty
    /// when a flood needed a copy.
    EncapNoBuffer,
}

impl VtepDrop {
    pub const ALL: [VtepDrop; 23] = [
        VtepDrop::OuterTruncated,
        VtepDrop::NotOurMac,
        VtepDrop::UnderlayOther,
        VtepDrop::IpMalformed,
        VtepDrop::IpBadChecksum,
        VtepDrop::IpNotOurs,
        VtepDrop::IpFragment,
        VtepDrop::IpOptions,
        VtepDrop::IpOtherProto,
        VtepDrop::UdpWrongPort,
        VtepDrop::VxlanNoIFlag,
        VtepDrop::VxlanUnknownVni,
        VtepDrop::RemoteNotAccepted,
        VtepDrop::RemoteTableFull,
        VtepDrop::InnerRunt,
        VtepDrop::ArpMalformed,
        VtepDrop::ArpNotOurs,
        VtepDrop::IcmpOther,
        VtepDrop::EncapTooBig,
        VtepDrop::NoRoute,
        VtepDrop::NeighborQueueFull,
        VtepDrop::NeighborUnresolved,
        VtepDrop::EncapNoBuffer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            VtepDrop::OuterTruncated => "outer_truncated",
            VtepDrop::NotOurMac => "not_our_mac",
            VtepDrop::UnderlayOther => "underlay_other",
            VtepDrop::IpMalformed => "ip_malformed",
            VtepDrop::IpBadChecksum => "ip_bad_checksum",
            VtepDrop::IpNotOurs => "ip_not_ours",
            VtepDrop::IpFragment => "ip_fragment",
            VtepDrop::IpOptions => "ip_options",
            VtepDrop::IpOtherProto => "ip_other_proto",
            VtepDrop::UdpWrongPort => "udp_wrong_port",
            VtepDrop::VxlanNoIFlag => "vxlan_no_i_flag",
            VtepDrop::VxlanUnknownVni => "vxlan_unknown_vni",
            VtepDrop::RemoteNotAccepted => "remote_not_accepted",
            VtepDrop::RemoteTableFull => "remote_table_full",
            VtepDrop::InnerRunt => "inner_runt",
            VtepDrop::ArpMalformed => "arp_malformed",
            VtepDrop::ArpNotOurs => "arp_not_ours",
            VtepDrop::IcmpOther => "icmp_other",
            VtepDrop::EncapTooBig => "encap_too_big",
            VtepDrop::NoRoute => "no_route",
            VtepDrop::NeighborQueueFull => "neighbor_queue_full",
            VtepDrop::NeighborUnresolved => "neighbor_unresolved",
            VtepDrop::EncapNoBuffer => "encap_no_buffer",
        }
    }

    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// VTEP counters: one writer (the worker), relaxed load+store increments, read by the stats
/// thread (the same scheme as [`crate::bridge::BridgeCounters`]).
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct VtepCounters {
    /// Frames sent toward a remote VTEP (unicast and flood copies).
    pub encapsulated: AtomicU64,
    /// Frames taken out of VXLAN and handed to a bridge.
    pub decapsulated: AtomicU64,
    /// Copies made for head-end replication (one per remote per flooded frame).
    pub flood_copies: AtomicU64,
    pub arp_requests_sent: AtomicU64,
    pub arp_replies_sent: AtomicU64,
    /// ARP replies (or requests) that resolved or refreshed a neighbour.
    pub arp_confirmations: AtomicU64,
    pub icmp_echo_replied: AtomicU64,
    /// Frames held while their next hop resolved.
    pub neighbor_held: AtomicU64,
    /// Remote VTEPs learned from traffic (`accept_remotes = "any"`).
    pub remotes_learned: AtomicU64,
    pub drops: [AtomicU64; VtepDrop::ALL.len()],
    /// Gauges, refreshed by [`Vtep::poll`].
    pub remotes: AtomicU64,
    pub neighbors_resolved: AtomicU64,
}

impl VtepCounters {
    #[inline]
    pub fn drop_n(&self, why: VtepDrop, n: u64) {
        bump(&self.drops[why.index()], n);
    }

    pub fn dropped(&self, why: VtepDrop) -> u64 {
        self.drops[why.index()].load(Relaxed)
    }

    /// `(name, value)` pairs in a fixed order, for `name=value` stats lines: events, gauges,
    /// then `drop_<reason>` for every reason.
    pub fn fields(&self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = [
            ("encapsulated", &self.encapsulated),
            ("decapsulated", &self.decapsulated),
            ("flood_copies", &self.flood_copies),
            ("arp_requests_sent", &self.arp_requests_sent),
            ("arp_replies_sent", &self.arp_replies_sent),
            ("arp_confirmations", &self.arp_confirmations),
            ("icmp_echo_replied", &self.icmp_echo_replied),
            ("neighbor_held", &self.neighbor_held),
            ("remotes_learned", &self.remotes_learned),
            ("remotes", &self.remotes),
            ("neighbors_resolved", &self.neighbors_resolved),
        ]
        .iter()
        .map(|(k, c)| (k.to_string(), c.load(Relaxed)))
        .collect();
        for why in VtepDrop::ALL {
            v.push((format!("drop_{}", why.name()), self.dropped(why)));
        }
        v
    }
}

/// What to do with a frame received on the underlay port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rx {
    /// A VXLAN frame for `bridge` (the index given to [`Vtep::add_bridge`]) from `remote`:
    /// the inner Ethernet frame is `frame[inner]`.
    Decap {
        bridge: usize,
        remote: RemoteId,
        inner: Range<usize>,
    },
    /// An ARP request for our address or a ping of it: the frame was rewritten in place into
    /// the answer; send it back out of the underlay port (same length). An ARP request from
    /// a neighbour with held frames also resolves it: send those too ([`Vtep::pop_held`]).
    Reply {
        resolved: Option<NeighborId>,
    },
    /// An ARP message resolved a neighbour that has frames held: send them
    /// ([`Vtep::pop_held`]). The frame itself is consumed.
    Resolved(NeighborId),
    /// Used (an ARP reply that refreshed a neighbour); nothing to send.
    Consumed,
    Drop(VtepDrop),
}

/// Where an encapsulated frame goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encap {
    /// Write the outer header with this next-hop MAC ([`Vtep::write_header`]) and send.
    Ready(MacAddr),
    /// The next hop is resolving: hold the frame on this neighbour ([`Vtep::hold`]).
    Hold(NeighborId),
    Drop(VtepDrop),
}

/// A remote VTEP.
struct Remote {
    ip: Ipv4Addr,
    /// Its underlay next hop; `None` when off-link without a gateway.
    next_hop: Option<NeighborId>,
    /// Bridges (by slot) that accept VXLAN from it.
    accepted_by: u64,
    /// The outer header with everything fixed per remote filled in: our MAC, IPv4 (DF, TTL,
    /// protocol, addresses), the UDP destination port and the VXLAN flags.
    template: [u8; VXLAN_IPV4_OVERHEAD],
    /// Ones'-complement sum of the template's IPv4 header with total length and checksum 0:
    /// per frame only the length is added.
    ip_sum: u32,
}

/// A bridge carried over VXLAN.
struct TunnelBridge {
    vni: u32,
    /// The caller's index for it, returned in [`Rx::Decap`].
    bridge: usize,
    accept_any: bool,
    /// Head-end replication list.
    flood: Vec<RemoteId>,
}

/// Open-addressing IPv4 -> remote map: fixed size, no deletion, multiply-shift hash. The
/// decap path looks up the outer source of every frame here.
struct RemoteMap {
    slots: Vec<(u32, RemoteId)>,
    mask: usize,
}

impl RemoteMap {
    fn new(capacity: usize) -> RemoteMap {
        let n = (capacity * 2).next_power_of_two();
        RemoteMap {
            slots: vec![(0, 0); n],
            mask: n - 1,
        }
    }

    #[inline]
    fn home(&self, ip: u32) -> usize {
        (u64::from(ip).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) as usize & self.mask
    }

    /// Key 0 (0.0.0.0) marks an empty slot and is never stored.
    #[inline]
    fn get(&self, ip: Ipv4Addr) -> Option<RemoteId> {
        let key = u32::from(ip);
        if key == 0 {
            return None;
        }
        let mut i = self.home(key);
        loop {
            let (k, v) = self.slots[i];
            if k == key {
                return Some(v);
            }
            if k == 0 {
                return None;
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Inserts a key known to be absent; the caller keeps the load at most one half.
    fn insert(&mut self, ip: Ipv4Addr, id: RemoteId) {
        let key = u32::from(ip);
        let mut i = self.home(key);
        while self.slots[i].0 != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = (key, id);
    }
}

/// Why a VTEP could not be set up as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VtepError {
    TooManyBridges,
    DuplicateVni(u32),
    TooManyRemotes,
    TooManyNeighbors,
    /// A remote equal to our own address, or not a unicast address.
    BadRemote(Ipv4Addr),
}

impl fmt::Display for VtepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VtepError::TooManyBridges => {
                write!(f, "a VTEP carries at most {MAX_VTEP_BRIDGES} VNIs")
            }
            VtepError::DuplicateVni(v) => write!(f, "VNI {v} is carried by two bridges"),
            VtepError::TooManyRemotes => {
                write!(f, "a VTEP tracks at most {MAX_VTEP_REMOTES} remote VTEPs")
            }
            VtepError::TooManyNeighbors => {
                write!(f, "a VTEP resolves at most {MAX_NEIGHBORS} next hops")
            }
            VtepError::BadRemote(a) => write!(f, "{a} cannot be a remote VTEP"),
        }
    }
}

impl std::error::Error for VtepError {}

/// A VXLAN tunnel endpoint. `T` is what the caller holds while a next hop resolves (the
/// dataplane: an mbuf with its destination).
pub struct Vtep<T> {
    params: VtepParams,
    remotes: Vec<Remote>,
    by_ip: RemoteMap,
    bridges: Vec<TunnelBridge>,
    neighbors: Neighbors<T>,
    counters: Arc<VtepCounters>,
}

impl<T> Vtep<T> {
    pub fn new(params: VtepParams) -> Result<Vtep<T>, VtepError> {
        let mut neighbors = Neighbors::new(params.timers, MAX_NEIGHBORS);
        for &(ip, mac) in &params.static_neighbors {
            neighbors
                .add_static(ip, mac)
                .map_err(|_| VtepError::TooManyNeighbors)?;
        }
        Ok(Vtep {
            params,
            // Never reallocated while learning on the hot path.
            remotes: Vec::with_capacity(MAX_VTEP_REMOTES.min(MAX_REMOTES)),
            by_ip: RemoteMap::new(MAX_VTEP_REMOTES.min(MAX_REMOTES)),
            bridges: Vec::new(),
            neighbors,
            counters: Arc::default(),
        })
    }

    pub fn params(&self) -> &VtepParams {
        &self.params
    }

    pub fn counters(&self) -> &VtepCounters {
        &self.counters
    }

    /// A handle on the counters for a stats thread.
    pub fn counters_shared(&self) -> Arc<VtepCounters> {
        Arc::clone(&self.counters)
    }

    /// Carries `vni` for the caller's bridge number `bridge`: VXLAN with this VNI from an
    /// accepted remote decapsulates into it, and its floods go to every remote of `flood`.
    /// With `accept_any`, VXLAN from any source is accepted (and the source learned as a
    /// remote); otherwise only from the `flood` list and the remotes added by
    /// [`Vtep::accept`].
    pub fn add_bridge(
        &mut self,
        vni: u32,
        bridge: usize,
        flood: &[Ipv4Addr],
        accept_any: bool,
    ) -> Result<(), VtepError> {
        if self.bridges.len() >= MAX_VTEP_BRIDGES {
            return Err(VtepError::TooManyBridges);
        }
        if self.bridges.iter().any(|b| b.vni == vni) {
            return Err(VtepError::DuplicateVni(vni));
        }
        let slot = self.bridges.len();
        let mut list = Vec::with_capacity(flood.len());
        for &ip in flood {
            let id = self.remote(ip)?;
            self.remotes[id as usize].accepted_by |= 1 << slot;
            if !list.contains(&id) {
                list.push(id);
            }
        }
        self.bridges.push(TunnelBridge {
            vni,
            bridge,
            accept_any,
            flood: list,
        });
        Ok(())
    }

    /// Accepts VXLAN for `vni`'s bridge from `ip` without flooding to it (a remote known
    /// only through a static MAC), and returns its id.
    pub fn accept(&mut self, vni: u32, ip: Ipv4Addr) -> Result<RemoteId, VtepError> {
        let id = self.remote(ip)?;
        if let Some(slot) = self.bridges.iter().position(|b| b.vni == vni) {
            self.remotes[id as usize].accepted_by |= 1 << slot;
        }
        Ok(id)
    }

    /// The id of remote `ip`, added (with its next hop, resolution starting at once) when
    /// new. Not for the hot path.
    pub fn remote(&mut self, ip: Ipv4Addr) -> Result<RemoteId, VtepError> {
        if let Some(id) = self.by_ip.get(ip) {
            return Ok(id);
        }
        if ip == self.params.ip
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_loopback()
            || ip.octets()[0] >= 240
            || self.is_prefix_edge(ip)
        {
            return Err(VtepError::BadRemote(ip));
        }
        if self.remotes.len() >= MAX_VTEP_REMOTES.min(MAX_REMOTES) {
            return Err(VtepError::TooManyRemotes);
        }
        let next_hop = match self.params.next_hop(ip) {
            Some(nh) => Some(
                self.neighbors
                    .get_or_add(nh)
                    .map_err(|NeighborError::Full| VtepError::TooManyNeighbors)?,
            ),
            None => None,
        };
        let (template, ip_sum) = self.template(ip);
        let id = self.remotes.len() as RemoteId;
        self.remotes.push(Remote {
            ip,
            next_hop,
            accepted_by: 0,
            template,
            ip_sum,
        });
        self.by_ip.insert(ip, id);
        self.counters
            .remotes
            .store(self.remotes.len() as u64, Relaxed);
        Ok(id)
    }

    /// Whether `ip` is the network or broadcast address of our prefix (for prefixes that
    /// have them): never a host, so never a VTEP, whatever a spoofed source says.
    fn is_prefix_edge(&self, ip: Ipv4Addr) -> bool {
        let len = u32::from(self.params.prefix_len.min(32));
        if len >= 31 || !self.params.in_prefix(ip) {
            return false;
        }
        let host_mask = u32::MAX >> len;
        let host = u32::from(ip) & host_mask;
        host == 0 || host == host_mask
    }

    /// The outer header toward `remote` with every per-frame field zero.
    fn template(&self, remote: Ipv4Addr) -> ([u8; VXLAN_IPV4_OVERHEAD], u32) {
        let p = &self.params;
        let mut h = [0u8; VXLAN_IPV4_OVERHEAD];
        // Ethernet: destination (the next hop) is written per frame.
        h[6..12].copy_from_slice(&p.mac.0);
        h[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        let ip = &mut h[ETH_LEN..ETH_LEN + IP_LEN];
        ip[0] = 0x45;
        // Identification 0 with DF set: an atomic datagram (RFC 6864 §4.1).
        ip[6] = 0x40;
        ip[8] = p.ttl;
        ip[9] = IpProtocol::UDP;
        ip[12..16].copy_from_slice(&p.ip.octets());
        ip[16..20].copy_from_slice(&remote.octets());
        let ip_sum = sum_words(ip);
        let udp = ETH_LEN + IP_LEN;
        h[udp + 2..udp + 4].copy_from_slice(&p.udp_port.to_be_bytes());
        // UDP checksum 0: allowed over IPv4 and what RFC 7348 recommends.
        h[udp + UDP_LEN] = VxlanPacket::<&[u8]>::FLAG_I;
        (h, ip_sum)
    }

    /// Remotes of the flood list of tunnel bridge `vni`'s slot, by the caller's bridge index.
    pub fn flood_list(&self, bridge: usize) -> &[RemoteId] {
        self.bridges
            .iter()
            .find(|b| b.bridge == bridge)
            .map_or(&[], |b| b.flood.as_slice())
    }

    /// The VNI carried for the caller's bridge index.
    pub fn vni_of(&self, bridge: usize) -> Option<u32> {
        self.bridges
            .iter()
            .find(|b| b.bridge == bridge)
            .map(|b| b.vni)
    }

    pub fn remote_ip(&self, id: RemoteId) -> Option<Ipv4Addr> {
        self.remotes.get(id as usize).map(|r| r.ip)
    }

    pub fn remote_count(&self) -> usize {
        self.remotes.len()
    }

    pub fn neighbors(&self) -> &Neighbors<T> {
        &self.neighbors
    }

    /// A guess, without any validation, of the bridge (the caller's index) an underlay frame
    /// will be decapsulated into, for prefetching its MAC table slots before
    /// [`Vtep::receive`] checks the frame: IPv4 without options, UDP, the VNI at its fixed
    /// offset. A wrong guess costs a useless prefetch, nothing else.
    #[inline]
    pub fn peek_bridge(&self, frame: &[u8]) -> Option<usize> {
        if frame.len() < VXLAN_IPV4_OVERHEAD + ETH_LEN
            || frame[12..14] != EtherType::IPV4.to_be_bytes()
            || frame[ETH_LEN] != 0x45
            || frame[ETH_LEN + 9] != IpProtocol::UDP
        {
            return None;
        }
        let at = ETH_LEN + IP_LEN + UDP_LEN + 4;
        let vni = u32::from_be_bytes([0, frame[at], frame[at + 1], frame[at + 2]]);
        self.bridges.iter().find(|b| b.vni == vni).map(|b| b.bridge)
    }

    /// Classifies a frame received on the underlay port. ARP requests for our address and
    /// pings of it are answered by rewriting `frame` in place ([`Rx::Reply`]). Never panics,
    /// whatever the bytes. Counts everything but the decapsulation itself (the caller
    /// counts `decapsulated` once it has the inner frame).
    #[inline]
    pub fn receive(&mut self, frame: &mut [u8], now: u64) -> Rx {
        let rx = self.classify(frame, now);
        if let Rx::Drop(why) = rx {
            self.counters.drop_n(why, 1);
        }
        rx
    }

    #[inline]
    fn classify(&mut self, frame: &mut [u8], now: u64) -> Rx {
        let Ok(eth) = EthernetFrame::new_checked(&*frame) else {
            return Rx::Drop(VtepDrop::OuterTruncated);
        };
        let dst = eth.dst();
        if dst != self.params.mac && !dst.is_broadcast() {
            return Rx::Drop(VtepDrop::NotOurMac);
        }
        match eth.ethertype() {
            EtherType::IPV4 => self.classify_ipv4(frame),
            EtherType::ARP => self.arp(frame, now),
            _ => Rx::Drop(VtepDrop::UnderlayOther),
        }
    }

    #[inline]
    fn classify_ipv4(&mut self, frame: &mut [u8]) -> Rx {
        let ip = match Ipv4Packet::new_checked(&frame[ETH_LEN..]) {
            Ok(ip) => ip,
            Err(crate::wire::WireError::Truncated) => return Rx::Drop(VtepDrop::OuterTruncated),
            Err(_) => return Rx::Drop(VtepDrop::IpMalformed),
        };
        // The address first: the underlay port is promiscuous, and other hosts' packets
        // should not cost a checksum.
        if ip.dst() != self.params.ip {
            return Rx::Drop(VtepDrop::IpNotOurs);
        }
        if !ip.verify_checksum() {
            return Rx::Drop(VtepDrop::IpBadChecksum);
        }
        if ip.is_fragment() {
            return Rx::Drop(VtepDrop::IpFragment);
        }
        if ip.has_options() {
            return Rx::Drop(VtepDrop::IpOptions);
        }
        let src = ip.src();
        match ip.protocol() {
            IpProtocol::UDP => {}
            IpProtocol::ICMP => return self.echo(frame),
            _ => return Rx::Drop(VtepDrop::IpOtherProto),
        }
        let Ok(udp) = UdpPacket::new_checked(ip.payload()) else {
            return Rx::Drop(VtepDrop::OuterTruncated);
        };
        if udp.dst_port() != self.params.udp_port {
            return Rx::Drop(VtepDrop::UdpWrongPort);
        }
        let Ok(vx) = VxlanPacket::new_checked(udp.payload()) else {
            return Rx::Drop(VtepDrop::OuterTruncated);
        };
        if !vx.has_vni() {
            return Rx::Drop(VtepDrop::VxlanNoIFlag);
        }
        let vni = vx.vni();
        let inner_len = vx.payload().len();
        let Some(slot) = self.bridges.iter().position(|b| b.vni == vni) else {
            return Rx::Drop(VtepDrop::VxlanUnknownVni);
        };
        if inner_len < ETH_LEN {
            return Rx::Drop(VtepDrop::InnerRunt);
        }
        let remote = match self.by_ip.get(src) {
            Some(id) if self.remotes[id as usize].accepted_by & (1 << slot) != 0 => id,
            found if self.bridges[slot].accept_any => match found {
                Some(id) => id,
                None => match self.remote(src) {
                    Ok(id) => {
                        bump(&self.counters.remotes_learned, 1);
                        id
                    }
                    Err(VtepError::TooManyRemotes | VtepError::TooManyNeighbors) => {
                        return Rx::Drop(VtepDrop::RemoteTableFull)
                    }
                    Err(_) => return Rx::Drop(VtepDrop::RemoteNotAccepted),
                },
            },
            _ => return Rx::Drop(VtepDrop::RemoteNotAccepted),
        };
        // No options (refused above): the inner frame starts right after the 50 bytes.
        let start = VXLAN_IPV4_OVERHEAD;
        Rx::Decap {
            bridge: self.bridges[slot].bridge,
            remote,
            inner: start..start + inner_len,
        }
    }

    /// ARP on the underlay: answer requests for our address; learn the sender when it is a
    /// neighbour we resolve.
    fn arp(&mut self, frame: &mut [u8], now: u64) -> Rx {
        let Ok(arp) = ArpPacket::new_checked(&frame[ETH_LEN..]) else {
            return Rx::Drop(VtepDrop::ArpMalformed);
        };
        let (op, sender_mac, sender_ip, target_ip) = (
            arp.operation(),
            arp.sender_mac(),
            arp.sender_ip(),
            arp.target_ip(),
        );
        let resolved = self.neighbors.confirm(sender_ip, sender_mac, now);
        let known = self.neighbors.find(sender_ip).is_some();
        if known && sender_mac.is_learnable() {
            bump(&self.counters.arp_confirmations, 1);
        }
        if op == ArpOperation::REQUEST && target_ip == self.params.ip && sender_mac.is_learnable() {
            let me = self.params.mac;
            frame[0..6].copy_from_slice(&sender_mac.0);
            frame[6..12].copy_from_slice(&me.0);
            let mut reply = ArpPacket::new_unchecked(&mut frame[ETH_LEN..]);
            reply.set_operation(ArpOperation::REPLY);
            reply.set_target_mac(sender_mac);
            reply.set_target_ip(sender_ip);
            reply.set_sender_mac(me);
            reply.set_sender_ip(self.params.ip);
            bump(&self.counters.arp_replies_sent, 1);
            return Rx::Reply { resolved };
        }
        match resolved {
            Some(id) => Rx::Resolved(id),
            None if known => Rx::Consumed,
            None => Rx::Drop(VtepDrop::ArpNotOurs),
        }
    }

    /// Answers an ICMP echo request to our address in place.
    fn echo(&mut self, frame: &mut [u8]) -> Rx {
        let Ok(ip) = Ipv4Packet::new_checked(&frame[ETH_LEN..]) else {
            return Rx::Drop(VtepDrop::OuterTruncated);
        };
        let (src, ip_end) = (ip.src(), ETH_LEN + usize::from(ip.total_len()));
        let icmp_start = ETH_LEN + ip.header_len();
        let Ok(icmp) = Icmpv4Packet::new_checked(&frame[icmp_start..ip_end]) else {
            return Rx::Drop(VtepDrop::IcmpOther);
        };
        if icmp.msg_type() != Icmpv4Type::ECHO_REQUEST
            || icmp.code() != 0
            || !icmp.verify_checksum()
        {
            return Rx::Drop(VtepDrop::IcmpOther);
        }
        let peer = EthernetFrame::new_checked(&*frame).map_or(MacAddr::ZERO, |e| e.src());
        if !peer.is_learnable() {
            return Rx::Drop(VtepDrop::IcmpOther);
        }
        frame[0..6].copy_from_slice(&peer.0);
        frame[6..12].copy_from_slice(&self.params.mac.0);
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut frame[ETH_LEN..ip_end]);
            ip.set_dst(src);
            ip.set_src(self.params.ip);
            ip.set_ttl(self.params.ttl);
            ip.fill_checksum();
        }
        let mut icmp = Icmpv4Packet::new_unchecked(&mut frame[icmp_start..ip_end]);
        icmp.set_msg_type(Icmpv4Type::ECHO_REPLY);
        icmp.fill_checksum();
        bump(&self.counters.icmp_echo_replied, 1);
        Rx::Reply { resolved: None }
    }

    /// Checks that an inner frame of `inner_len` bytes can go to `remote` now: it fits the
    /// underlay MTU, the remote has a route, and its next hop is resolved. Counts the drops.
    #[inline]
    pub fn prepare_encap(&mut self, remote: RemoteId, inner_len: usize, now: u64) -> Encap {
        let verdict = self.encap_verdict(remote, inner_len, now);
        if let Encap::Drop(why) = verdict {
            self.counters.drop_n(why, 1);
        }
        verdict
    }

    #[inline]
    fn encap_verdict(&mut self, remote: RemoteId, inner_len: usize, now: u64) -> Encap {
        if inner_len > self.params.max_inner_frame() {
            return Encap::Drop(VtepDrop::EncapTooBig);
        }
        let Some(nh) = self.remotes.get(remote as usize).and_then(|r| r.next_hop) else {
            return Encap::Drop(VtepDrop::NoRoute);
        };
        match self.neighbors.resolve(nh, now) {
            Resolution::Ready(mac) => Encap::Ready(mac),
            Resolution::Pending => Encap::Hold(nh),
        }
    }

    /// Writes the 50-byte outer header for `inner` (the frame that follows it) toward
    /// `remote` via `next_hop`, with `vni`, into `out` (at least 50 bytes; a shorter `out` is
    /// left alone and `false` returned). Per frame: the template copy, the next-hop MAC,
    /// lengths, the IPv4 checksum (template sum + length, folded), the flow's source port and
    /// the VNI.
    #[inline]
    pub fn write_header(
        &self,
        remote: RemoteId,
        next_hop: MacAddr,
        vni: u32,
        inner: &[u8],
        out: &mut [u8],
    ) -> bool {
        let (Some(r), Some(h)) = (
            self.remotes.get(remote as usize),
            out.get_mut(..VXLAN_IPV4_OVERHEAD),
        ) else {
            return false;
        };
        let Ok(ip_len) = u16::try_from(MTU_OVERHEAD + inner.len()) else {
            // No IPv4 packet is that long (prepare_encap refuses such frames first).
            return false;
        };
        h.copy_from_slice(&r.template);
        h[0..6].copy_from_slice(&next_hop.0);
        let udp_len = ip_len - IP_LEN as u16;
        h[ETH_LEN + 2..ETH_LEN + 4].copy_from_slice(&ip_len.to_be_bytes());
        let csum = fold_checksum(r.ip_sum + u32::from(ip_len));
        h[ETH_LEN + 10..ETH_LEN + 12].copy_from_slice(&csum.to_be_bytes());
        let udp = ETH_LEN + IP_LEN;
        let (lo, hi) = self.params.source_ports;
        let sport = flow_hash::source_port(flow_hash::flow_hash(inner), lo, hi);
        h[udp..udp + 2].copy_from_slice(&sport.to_be_bytes());
        h[udp + 4..udp + 6].copy_from_slice(&udp_len.to_be_bytes());
        let vx = udp + UDP_LEN;
        h[vx + 4..vx + 7].copy_from_slice(&vni.to_be_bytes()[1..4]);
        true
    }

    /// Holds `item` until neighbour `id` resolves; gives it back (counted) when its queue
    /// is full.
    pub fn hold(&mut self, id: NeighborId, item: T) -> Result<(), T> {
        match self.neighbors.hold(id, item) {
            Ok(()) => {
                bump(&self.counters.neighbor_held, 1);
                Ok(())
            }
            Err(item) => {
                self.counters.drop_n(VtepDrop::NeighborQueueFull, 1);
                Err(item)
            }
        }
    }

    /// The oldest frame held for neighbour `id` (after [`Rx::Resolved`]); call until `None`.
    pub fn pop_held(&mut self, id: NeighborId) -> Option<T> {
        self.neighbors.pop_held(id)
    }

    /// Housekeeping: writes each ARP request that is due (resolving, retrying, refreshing)
    /// into a 60-byte frame and hands it to `send`; drops (counts) frames held for next hops
    /// that never answered; refreshes the gauges.
    pub fn poll(&mut self, now: u64, mut send: impl FnMut(&[u8])) {
        let (mac, ip) = (self.params.mac, self.params.ip);
        let counters = &*self.counters;
        let dropped = self.neighbors.poll(now, |Probe { target, dst }| {
            let mut f = [0u8; 60];
            f[0..6].copy_from_slice(&dst.0);
            f[6..12].copy_from_slice(&mac.0);
            f[12..14].copy_from_slice(&EtherType::ARP.to_be_bytes());
            let req = crate::wire::ArpRepr {
                operation: ArpOperation::REQUEST,
                sender_mac: mac,
                sender_ip: ip,
                target_mac: MacAddr::ZERO,
                target_ip: target,
            };
            if req.emit(&mut f[ETH_LEN..]).is_ok() {
                bump(&counters.arp_requests_sent, 1);
                send(&f);
            }
        });
        if dropped > 0 {
            self.counters.drop_n(VtepDrop::NeighborUnresolved, dropped);
        }
        let resolved = self.neighbors.resolved_count() as u64;
        if self.counters.neighbors_resolved.load(Relaxed) != resolved {
            self.counters.neighbors_resolved.store(resolved, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
