//! ARP (RFC 826) for Ethernet hardware and IPv4 protocol addresses only: the one kind a
//! VXLAN/L2 dataplane answers or snoops.

use super::ethernet::{EtherType, MacAddr};
use super::WireError;
use std::net::Ipv4Addr;

/// ARP opcodes. Host byte order.
pub struct ArpOperation;

impl ArpOperation {
    pub const REQUEST: u16 = 1;
    pub const REPLY: u16 = 2;
}

// Byte offsets: htype, ptype, hlen, plen, oper, sha, spa, tha, tpa.
const HTYPE: usize = 0;
const PTYPE: usize = 2;
const HLEN: usize = 4;
const PLEN: usize = 5;
const OPER: usize = 6;
const SHA: usize = 8;
const SPA: usize = 14;
const THA: usize = 18;
const TPA: usize = 24;

/// The hardware type for Ethernet.
const HTYPE_ETHERNET: u16 = 1;

#[inline]
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn get_ipv4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// A view of an Ethernet/IPv4 ARP packet at the start of `buffer`.
#[derive(Debug, Clone, Copy)]
pub struct ArpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// The length of an Ethernet/IPv4 ARP packet.
    pub const LEN: usize = 28;

    /// Wraps `buffer` without checks: accessors may panic unless it holds 28 bytes.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Checks that `buffer` holds 28 bytes (`Truncated`) of Ethernet/IPv4 ARP: htype 1,
    /// ptype 0x0800, hlen 6, plen 4 (else `Unsupported`). Every accessor is then
    /// infallible. The operation is not checked: callers match on it.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < Self::LEN {
            return Err(WireError::Truncated);
        }
        if get_u16(b, HTYPE) != HTYPE_ETHERNET
            || get_u16(b, PTYPE) != EtherType::IPV4
            || b[HLEN] != 6
            || b[PLEN] != 4
        {
            return Err(WireError::Unsupported);
        }
        Ok(ArpPacket { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The opcode; see [`ArpOperation`].
    #[inline]
    pub fn operation(&self) -> u16 {
        get_u16(self.buffer.as_ref(), OPER)
    }

    #[inline]
    pub fn sender_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[SHA..SHA + 6])
    }

    #[inline]
    pub fn sender_ip(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), SPA)
    }

    /// Zero in a request: the address being asked for.
    #[inline]
    pub fn target_mac(&self) -> MacAddr {
        MacAddr::from_bytes(&self.buffer.as_ref()[THA..THA + 6])
    }

    #[inline]
    pub fn target_ip(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    #[inline]
    pub fn set_operation(&mut self, v: u16) {
        self.buffer.as_mut()[OPER..OPER + 2].copy_from_slice(&v.to_be_bytes());
    }

    #[inline]
    pub fn set_sender_mac(&mut self, m: MacAddr) {
        self.buffer.as_mut()[SHA..SHA + 6].copy_from_slice(&m.0);
    }

    #[inline]
    pub fn set_sender_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[SPA..SPA + 4].copy_from_slice(&a.octets());
    }

    #[inline]
    pub fn set_target_mac(&mut self, m: MacAddr) {
        self.buffer.as_mut()[THA..THA + 6].copy_from_slice(&m.0);
    }

    #[inline]
    pub fn set_target_ip(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[TPA..TPA + 4].copy_from_slice(&a.octets());
    }
}

/// The meaning of an Ethernet/IPv4 ARP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpRepr {
    /// See [`ArpOperation`]; other values are passed through unjudged.
    pub operation: u16,
    pub sender_mac: MacAddr,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddr,
    pub target_ip: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a checked packet; infallible, since `new_checked` checked all it can.
    pub fn parse<T: AsRef<[u8]>>(p: &ArpPacket<T>) -> ArpRepr {
        ArpRepr {
            operation: p.operation(),
            sender_mac: p.sender_mac(),
            sender_ip: p.sender_ip(),
            target_mac: p.target_mac(),
            target_ip: p.target_ip(),
        }
    }

    /// Writes all 28 bytes (htype, ptype, hlen and plen included) into `buf[..28]`.
    /// `Truncated` if `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        const LEN: usize = ArpPacket::<&[u8]>::LEN;
        if buf.len() < LEN {
            return Err(WireError::Truncated);
        }
        buf[HTYPE..HTYPE + 2].copy_from_slice(&HTYPE_ETHERNET.to_be_bytes());
        buf[PTYPE..PTYPE + 2].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        buf[HLEN] = 6;
        buf[PLEN] = 4;
        let mut p = ArpPacket::new_unchecked(&mut buf[..LEN]);
        p.set_operation(self.operation);
        p.set_sender_mac(self.sender_mac);
        p.set_sender_ip(self.sender_ip);
        p.set_target_mac(self.target_mac);
        p.set_target_ip(self.target_ip);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Who has 192.168.1.1? Tell 192.168.1.100 (52:54:00:12:34:56), as a Linux host sends it
    // (target MAC zero).
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0,
        0xa8, 0x01, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0xa8, 0x01, 0x01,
    ];

    // 192.168.1.1 is at 52:54:00:ab:cd:ef, unicast back to the asker.
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef, 0xc0,
        0xa8, 0x01, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0xa8, 0x01, 0x64,
    ];

    fn mac(s: &str) -> MacAddr {
        s.parse().unwrap()
    }

    fn request_repr() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::REQUEST,
            sender_mac: mac("52:54:00:12:34:56"),
            sender_ip: Ipv4Addr::new(192, 168, 1, 100),
            target_mac: MacAddr::ZERO,
            target_ip: Ipv4Addr::new(192, 168, 1, 1),
        }
    }

    fn reply_repr() -> ArpRepr {
        ArpRepr {
            operation: ArpOperation::REPLY,
            sender_mac: mac("52:54:00:ab:cd:ef"),
            sender_ip: Ipv4Addr::new(192, 168, 1, 1),
            target_mac: mac("52:54:00:12:34:56"),
            target_ip: Ipv4Addr::new(192, 168, 1, 100),
        }
    }

    #[test]
    fn parses_every_field_of_request_and_reply() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.operation(), ArpOperation::REQUEST);
        assert_eq!(p.sender_mac(), mac("52:54:00:12:34:56"));
        assert_eq!(p.sender_ip(), Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(p.target_mac(), MacAddr::ZERO);
        assert_eq!(p.target_ip(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(ArpRepr::parse(&p), request_repr());

        let p = ArpPacket::new_checked(&REPLY[..]).unwrap();
        assert_eq!(p.operation(), ArpOperation::REPLY);
        assert_eq!(p.sender_mac(), mac("52:54:00:ab:cd:ef"));
        assert_eq!(p.sender_ip(), Ipv4Addr::new(192, 168, 1, 1));
        assert_eq!(p.target_mac(), mac("52:54:00:12:34:56"));
        assert_eq!(p.target_ip(), Ipv4Addr::new(192, 168, 1, 100));
        assert_eq!(ArpRepr::parse(&p), reply_repr());
        assert_eq!(p.into_inner(), &REPLY[..]);
    }

    #[test]
    fn accepts_ethernet_padding() {
        // ARP in a minimum-size Ethernet frame arrives with 18 bytes of trailing padding.
        let mut buf = [0u8; 46];
        buf[..28].copy_from_slice(&REQUEST);
        let p = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), request_repr());
    }

    #[test]
    fn every_short_buffer_is_truncated() {
        for len in 0..28 {
            assert_eq!(
                ArpPacket::new_checked(&REQUEST[..len]).err(),
                Some(WireError::Truncated),
                "len {len}"
            );
        }
        let mut buf = [0u8; 28];
        for len in 0..28 {
            assert_eq!(
                request_repr().emit(&mut buf[..len]),
                Err(WireError::Truncated)
            );
        }
    }

    #[test]
    fn refuses_other_address_kinds() {
        // htype 6 (IEEE 802), ptype IPv6, hlen 8, plen 16.
        for (at, bytes) in [
            (0, &[0x00, 0x06][..]),
            (2, &[0x86, 0xdd][..]),
            (4, &[8][..]),
            (5, &[16][..]),
        ] {
            let mut b = REQUEST;
            b[at..at + bytes.len()].copy_from_slice(bytes);
            assert_eq!(
                ArpPacket::new_checked(&b[..]).err(),
                Some(WireError::Unsupported),
                "field at {at}"
            );
        }
    }

    #[test]
    fn emit_writes_exactly_the_fixtures() {
        let mut buf = [0xaau8; 30];
        request_repr().emit(&mut buf).unwrap();
        assert_eq!(&buf[..28], &REQUEST);
        assert_eq!(&buf[28..], &[0xaa, 0xaa], "emit wrote past 28 bytes");
        reply_repr().emit(&mut buf).unwrap();
        assert_eq!(&buf[..28], &REPLY);
    }

    #[test]
    fn emit_parse_round_trip() {
        let repr = ArpRepr {
            operation: 0xabcd,
            sender_mac: mac("02:00:00:00:00:01"),
            sender_ip: Ipv4Addr::new(10, 0, 0, 1),
            target_mac: MacAddr::BROADCAST,
            target_ip: Ipv4Addr::new(10, 255, 255, 254),
        };
        let mut buf = [0u8; 28];
        repr.emit(&mut buf).unwrap();
        let p = ArpPacket::new_checked(&buf[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), repr);
    }

    #[test]
    fn request_turned_into_reply_in_place() {
        // What an ARP responder does: swap roles and fill in its own MAC.
        let mut buf = REQUEST;
        let mut p = ArpPacket::new_checked(&mut buf[..]).unwrap();
        let (asker_mac, asker_ip, wanted_ip) = (p.sender_mac(), p.sender_ip(), p.target_ip());
        p.set_operation(ArpOperation::REPLY);
        p.set_sender_mac(mac("52:54:00:ab:cd:ef"));
        p.set_sender_ip(wanted_ip);
        p.set_target_mac(asker_mac);
        p.set_target_ip(asker_ip);
        assert_eq!(buf, REPLY);
    }
}
