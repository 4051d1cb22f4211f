//! Zero-copy views over packet bytes. Each view checks its length once, in `new_checked`;
//! after that no accessor can panic.
//!
//! The views from [`ipv4`] on are generic over the buffer, as in smoltcp: `Packet<&[u8]>`
//! reads, `Packet<&mut [u8]>` also writes. A `Repr` is the owned, validated meaning of a
//! header; its `emit` writes exactly the bytes its `parse` reads.

pub mod arp;
pub mod ethernet;
pub mod icmp;
pub mod ipv4;
pub mod udp;
pub mod vxlan;

pub use arp::{ArpOperation, ArpPacket, ArpRepr};
pub use ethernet::{EtherType, EthernetFrame, MacAddr, ParseMacError};
pub use icmp::{Icmpv4Packet, Icmpv4Type};
pub use ipv4::{checksum, fold_checksum, sum_words, IpProtocol, Ipv4Packet, Ipv4Repr};
pub use udp::{UdpPacket, UdpRepr};
pub use vxlan::{
    VxlanPacket, VxlanRepr, MAX_VNI, VXLAN_IPV4_OVERHEAD, VXLAN_LEGACY_LINUX_PORT, VXLAN_PORT,
};

/// Why a byte slice is not a valid header of the requested kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The slice is shorter than the fixed header, or than a length field says.
    Truncated,
    /// A field has an impossible value (e.g. IPv4 version 6, IHL below 5, UDP length below 8).
    Malformed,
    /// Well-formed, but a kind this dataplane does not handle (e.g. ARP for non-Ethernet/IPv4).
    Unsupported,
    /// The checksum does not match the bytes it covers.
    BadChecksum,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WireError::Truncated => f.write_str("truncated header"),
            WireError::Malformed => f.write_str("malformed header field"),
            WireError::Unsupported => f.write_str("unsupported header variant"),
            WireError::BadChecksum => f.write_str("bad checksum"),
        }
    }
}

impl std::error::Error for WireError {}
