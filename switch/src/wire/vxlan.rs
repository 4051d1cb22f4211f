//! VXLAN header (RFC 7348): flags, reserved, 24-bit VNI, reserved.

use super::WireError;

/// The IANA-assigned VXLAN UDP destination port.
pub const VXLAN_PORT: u16 = 4789;

/// The port Linux used before IANA assigned one; still the kernel default for some setups.
pub const VXLAN_LEGACY_LINUX_PORT: u16 = 8472;

/// Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8): the bytes encapsulation adds.
pub const VXLAN_IPV4_OVERHEAD: usize = 50;

/// The largest VXLAN Network Identifier (24 bits).
pub const MAX_VNI: u32 = 0x00ff_ffff;

// Byte offsets: flags, 3 reserved bytes, VNI (3 bytes), 1 reserved byte.
const FLAGS: usize = 0;
const VNI: usize = 4;

/// A view of a VXLAN header and the inner Ethernet frame after it.
#[derive(Debug, Clone, Copy)]
pub struct VxlanPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VxlanPacket<T> {
    pub const HEADER_LEN: usize = 8;

    /// The I flag: the VNI field is valid. RFC 7348 requires it set.
    pub const FLAG_I: u8 = 0x08;

    /// Wraps `buffer` without checks: accessors may panic unless it holds 8 bytes.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        VxlanPacket { buffer }
    }

    /// Checks that `buffer` holds a whole header; every accessor is then infallible.
    /// Flags are not checked here: see [`VxlanRepr::parse`].
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(VxlanPacket { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[FLAGS]
    }

    /// The I flag is set, so the VNI is meaningful.
    #[inline]
    pub fn has_vni(&self) -> bool {
        self.flags() & Self::FLAG_I != 0
    }

    /// The 24-bit VNI from bytes 4..7; the reserved byte 7 is ignored, as RFC 7348 says
    /// receivers must.
    #[inline]
    pub fn vni(&self) -> u32 {
        let b = self.buffer.as_ref();
        u32::from_be_bytes([0, b[VNI], b[VNI + 1], b[VNI + 2]])
    }

    /// The inner Ethernet frame.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VxlanPacket<T> {
    /// Writes the low 24 bits of `vni` (bits above are ignored); leaves the flags and the
    /// reserved byte alone.
    #[inline]
    pub fn set_vni(&mut self, vni: u32) {
        let v = (vni & MAX_VNI).to_be_bytes();
        self.buffer.as_mut()[VNI..VNI + 3].copy_from_slice(&v[1..]);
    }

    #[inline]
    pub fn set_flags(&mut self, f: u8) {
        self.buffer.as_mut()[FLAGS] = f;
    }

    /// The mutable inner Ethernet frame.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::HEADER_LEN..]
    }
}

/// The meaning of a VXLAN header: just the network identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VxlanRepr {
    pub vni: u32,
}

impl VxlanRepr {
    /// Reads a checked header. `Malformed` when the I flag is clear (no VNI); other flag
    /// and reserved bits are ignored, as RFC 7348 says receivers must.
    pub fn parse<T: AsRef<[u8]>>(p: &VxlanPacket<T>) -> Result<VxlanRepr, WireError> {
        if !p.has_vni() {
            return Err(WireError::Malformed);
        }
        Ok(VxlanRepr { vni: p.vni() })
    }

    /// Writes an 8-byte header into `buf[..8]`: flags = I, all reserved bytes 0.
    /// `Truncated` if `buf` is shorter; `Malformed` if `vni` is over [`MAX_VNI`].
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        const HEADER_LEN: usize = VxlanPacket::<&[u8]>::HEADER_LEN;
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if self.vni > MAX_VNI {
            return Err(WireError::Malformed);
        }
        // The VNI shifted left one byte lands in bytes 4..7 with byte 7 (reserved) zero.
        buf[..4].copy_from_slice(&[VxlanPacket::<&[u8]>::FLAG_I, 0, 0, 0]);
        buf[4..8].copy_from_slice(&(self.vni << 8).to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::arp::{ArpOperation, ArpPacket, ArpRepr};
    use super::super::ethernet::{EtherType, EthernetFrame, MacAddr};
    use super::super::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
    use super::super::udp::{UdpPacket, UdpRepr};
    use super::*;
    use std::net::Ipv4Addr;

    // A whole VXLAN frame, built by hand: outer Ethernet 52:54:00:bb:bb:bb ->
    // 52:54:00:aa:aa:aa; IPv4 10.0.0.1 -> 10.0.0.2, ident 0x1234, DF, TTL 64, checksum
    // 0x1469; UDP 49152 -> 4789, length 58, checksum 0 (none, as Linux VXLAN sends);
    // VXLAN I flag, VNI 0x001234; inner frame a broadcast ARP request from
    // 52:54:00:12:34:56 (192.168.1.100) for 192.168.1.1. The IPv4 checksum was computed
    // independently of this crate (a Python RFC 1071 implementation).
    const VXLAN_FRAME: [u8; 92] = [
        // Outer Ethernet
        0x52, 0x54, 0x00, 0xaa, 0xaa, 0xaa, 0x52, 0x54, 0x00, 0xbb, 0xbb, 0xbb, 0x08, 0x00,
        // Outer IPv4
        0x45, 0x00, 0x00, 0x4e, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x14, 0x69, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, //
        // UDP
        0xc0, 0x00, 0x12, 0xb5, 0x00, 0x3a, 0x00, 0x00, //
        // VXLAN
        0x08, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00, //
        // Inner Ethernet
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
        // Inner ARP request
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0,
        0xa8, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];
    const OUTER_IP: usize = 14;
    const OUTER_UDP: usize = 34;
    const VXLAN: usize = 42;
    const INNER: usize = 50;

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    fn outer_ip_repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            protocol: IpProtocol::UDP,
            ttl: 64,
            payload_len: 58,
            dont_fragment: true,
            ident: 0x1234,
            dscp_ecn: 0,
        }
    }

    fn outer_udp_repr() -> UdpRepr {
        UdpRepr {
            src_port: 49152,
            dst_port: VXLAN_PORT,
            payload_len: 50,
        }
    }

    #[test]
    fn overhead_is_the_sum_of_the_outer_headers() {
        assert_eq!(
            VXLAN_IPV4_OVERHEAD,
            EthernetFrame::HEADER_LEN
                + Ipv4Repr::HEADER_LEN
                + UdpPacket::<&[u8]>::HEADER_LEN
                + VxlanPacket::<&[u8]>::HEADER_LEN
        );
        assert_eq!(INNER, VXLAN_IPV4_OVERHEAD);
    }

    #[test]
    fn decapsulates_every_layer_of_the_fixture() {
        let eth = EthernetFrame::new_checked(&VXLAN_FRAME).unwrap();
        assert_eq!(eth.dst(), mac("52:54:00:aa:aa:aa"));
        assert_eq!(eth.src(), mac("52:54:00:bb:bb:bb"));
        assert_eq!(eth.ethertype(), EtherType::IPV4);

        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert_eq!(ip.version(), 4);
        assert_eq!(ip.header_len(), 20);
        assert_eq!(ip.total_len(), 78);
        assert_eq!(ip.checksum(), 0x1469);
        assert!(ip.verify_checksum());
        assert!(!ip.is_fragment());
        assert_eq!(Ipv4Repr::parse(&ip), Ok(outer_ip_repr()));

        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.src_port(), 49152);
        assert_eq!(udp.dst_port(), VXLAN_PORT);
        assert_eq!(udp.len(), 58);
        assert_eq!(udp.checksum(), 0);
        assert!(udp.verify_checksum_ipv4(ip.src(), ip.dst()));
        assert_eq!(UdpRepr::parse(&udp), outer_udp_repr());

        let vx = VxlanPacket::new_checked(udp.payload()).unwrap();
        assert_eq!(vx.flags(), VxlanPacket::<&[u8]>::FLAG_I);
        assert!(vx.has_vni());
        assert_eq!(vx.vni(), 0x1234);
        assert_eq!(VxlanRepr::parse(&vx), Ok(VxlanRepr { vni: 0x1234 }));
        assert_eq!(vx.payload(), &VXLAN_FRAME[INNER..]);

        let inner = EthernetFrame::new_checked(vx.payload()).unwrap();
        assert!(inner.dst().is_broadcast());
        assert_eq!(inner.src(), mac("52:54:00:12:34:56"));
        assert_eq!(inner.ethertype(), EtherType::ARP);

        let arp = ArpPacket::new_checked(inner.payload()).unwrap();
        assert_eq!(
            ArpRepr::parse(&arp),
            ArpRepr {
                operation: ArpOperation::REQUEST,
                sender_mac: mac("52:54:00:12:34:56"),
                sender_ip: Ipv4Addr::new(192, 168, 1, 100),
                target_mac: MacAddr::ZERO,
                target_ip: Ipv4Addr::new(192, 168, 1, 1),
            }
        );
    }

    #[test]
    fn encapsulation_emits_exactly_the_fixture() {
        let mut buf = [0u8; 92];
        buf[INNER..].copy_from_slice(&VXLAN_FRAME[INNER..]);
        EthernetFrame::emit(
            &mut buf,
            mac("52:54:00:aa:aa:aa"),
            mac("52:54:00:bb:bb:bb"),
            EtherType::IPV4,
        )
        .unwrap();
        outer_ip_repr().emit(&mut buf[OUTER_IP..]).unwrap();
        outer_udp_repr().emit(&mut buf[OUTER_UDP..]).unwrap();
        VxlanRepr { vni: 0x1234 }.emit(&mut buf[VXLAN..]).unwrap();
        assert_eq!(buf, VXLAN_FRAME);
    }

    #[test]
    fn every_short_header_is_truncated() {
        let hdr = &VXLAN_FRAME[VXLAN..];
        for len in 0..8 {
            assert_eq!(
                VxlanPacket::new_checked(&hdr[..len]).err(),
                Some(WireError::Truncated)
            );
        }
        let vx = VxlanPacket::new_checked(&hdr[..8]).unwrap();
        assert!(vx.payload().is_empty());
        assert_eq!(vx.into_inner().len(), 8);

        let mut buf = [0u8; 8];
        for len in 0..8 {
            assert_eq!(
                VxlanRepr { vni: 1 }.emit(&mut buf[..len]),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn refuses_missing_i_flag_and_ignores_reserved_bits() {
        let mut hdr = [0x00, 0x00, 0x00, 0x00, 0x00, 0x12, 0x34, 0x00];
        let vx = VxlanPacket::new_checked(&hdr[..]).unwrap();
        assert!(!vx.has_vni());
        assert_eq!(VxlanRepr::parse(&vx), Err(WireError::Malformed));

        // I flag plus every reserved bit set: still VNI 0x001234.
        hdr = [0xff, 0xff, 0xff, 0xff, 0x00, 0x12, 0x34, 0xff];
        let vx = VxlanPacket::new_checked(&hdr[..]).unwrap();
        assert_eq!(VxlanRepr::parse(&vx), Ok(VxlanRepr { vni: 0x1234 }));
    }

    #[test]
    fn vni_range() {
        let mut buf = [0u8; 8];
        for vni in [0, 1, 0x1234, 0x00ab_cdef, MAX_VNI] {
            VxlanRepr { vni }.emit(&mut buf).unwrap();
            let vx = VxlanPacket::new_checked(&buf[..]).unwrap();
            assert_eq!(VxlanRepr::parse(&vx), Ok(VxlanRepr { vni }));
            assert_eq!(buf[7], 0);
        }
        assert_eq!(
            VxlanRepr { vni: MAX_VNI + 1 }.emit(&mut buf),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn setters() {
        let mut buf = [0u8; 10];
        buf[7] = 0x5a;
        let mut vx = VxlanPacket::new_checked(&mut buf[..]).unwrap();
        vx.set_flags(VxlanPacket::<&[u8]>::FLAG_I);
        vx.set_vni(0xff12_3456); // bits above 24 ignored
        vx.payload_mut().copy_from_slice(&[1, 2]);
        assert_eq!(vx.vni(), 0x12_3456);
        assert!(vx.has_vni());
        assert_eq!(buf, [0x08, 0, 0, 0, 0x12, 0x34, 0x56, 0x5a, 1, 2]);
    }
}
