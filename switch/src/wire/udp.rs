//! UDP header (RFC 768) and its IPv4 pseudo-header checksum.

use super::ipv4::{fold_checksum, sum_words, IpProtocol};
use super::WireError;
use std::net::Ipv4Addr;

// Byte offsets of the header fields.
const SRC_PORT: usize = 0;
const DST_PORT: usize = 2;
const LENGTH: usize = 4;
const CHECKSUM: usize = 6;

#[inline]
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The ones' complement sum of the IPv4 pseudo-header (RFC 768): source, destination, zero,
/// protocol 17, UDP length.
#[inline]
fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, udp_len: u16) -> u32 {
    let s = src.octets();
    let d = dst.octets();
    let l = udp_len.to_be_bytes();
    sum_words(&[
        s[0],
        s[1],
        s[2],
        s[3],
        d[0],
        d[1],
        d[2],
        d[3],
        0,
        IpProtocol::UDP,
        l[0],
        l[1],
    ])
}

/// A view of a UDP header and its payload at the start of `buffer`.
#[derive(Debug, Clone, Copy)]
pub struct UdpPacket<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    pub const HEADER_LEN: usize = 8;

    /// Wraps `buffer` without checks: accessors may panic unless it holds a valid header.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Checks that `buffer` holds a whole header and the `len` bytes the length field says;
    /// every accessor is then infallible. The buffer may be longer (IP or Ethernet padding).
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = usize::from(get_u16(b, LENGTH));
        if len < Self::HEADER_LEN {
            return Err(WireError::Malformed);
        }
        if len > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(UdpPacket { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), SRC_PORT)
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), DST_PORT)
    }

    /// The length field: header plus payload, in bytes.
    #[allow(clippy::len_without_is_empty)] // a header field, not a container length
    #[inline]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), LENGTH)
    }

    /// The checksum field; 0 means the sender did not compute one.
    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), CHECKSUM)
    }

    /// The bytes after the header up to the length field. Clamped to the buffer, so it
    /// cannot panic even after `set_len` with a wrong value.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).min(b.len());
        let start = Self::HEADER_LEN.min(end);
        &b[start..end]
    }

    /// Valid when the checksum field is 0 (not computed, allowed over IPv4) or the sum of the
    /// pseudo-header and the `len` bytes of the datagram checks.
    pub fn verify_checksum_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let b = self.buffer.as_ref();
        let end = usize::from(self.len()).min(b.len());
        // The pseudo-header is 12 bytes, so the datagram's words stay aligned after it.
        fold_checksum(pseudo_header_sum(src, dst, self.len()) + sum_words(&b[..end])) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    #[inline]
    fn set_u16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    #[inline]
    pub fn set_src_port(&mut self, v: u16) {
        self.set_u16(SRC_PORT, v);
    }

    #[inline]
    pub fn set_dst_port(&mut self, v: u16) {
        self.set_u16(DST_PORT, v);
    }

    /// A value beyond the buffer is not refused here, but the payload stays clamped to it.
    #[inline]
    pub fn set_len(&mut self, v: u16) {
        self.set_u16(LENGTH, v);
    }

    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16(CHECKSUM, v);
    }

    /// Computes the checksum over the pseudo-header and the `len` bytes of the datagram and
    /// stores it. A computed 0 is written as 0xffff, since 0 on the wire means "none".
    pub fn fill_checksum_ipv4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let len = self.len();
        let b = self.buffer.as_ref();
        let end = usize::from(len).min(b.len());
        let c = fold_checksum(pseudo_header_sum(src, dst, len) + sum_words(&b[..end]));
        self.set_checksum(if c == 0 { 0xffff } else { c });
    }

    /// The mutable counterpart of [`UdpPacket::payload`], clamped the same way.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len()).min(self.buffer.as_ref().len());
        let start = Self::HEADER_LEN.min(end);
        &mut self.buffer.as_mut()[start..end]
    }
}

/// The meaning of a UDP header, as the dataplane builds and reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpRepr {
    pub src_port: u16,
    pub dst_port: u16,
    /// Bytes after the header: the length field minus 8.
    pub payload_len: u16,
}

impl UdpRepr {
    /// Reads a checked header. The checksum is not verified here (it needs the IP
    /// addresses): see [`UdpPacket::verify_checksum_ipv4`].
    pub fn parse<T: AsRef<[u8]>>(p: &UdpPacket<T>) -> UdpRepr {
        UdpRepr {
            src_port: p.src_port(),
            dst_port: p.dst_port(),
            // new_checked guarantees len >= 8; saturate for a new_unchecked view.
            payload_len: p
                .len()
                .saturating_sub(UdpPacket::<&[u8]>::HEADER_LEN as u16),
        }
    }

    /// Writes an 8-byte header with checksum 0 (none, as VXLAN senders usually do) into
    /// `buf[..8]`. `Truncated` if `buf` is shorter; `Malformed` if `payload_len` is over
    /// 65527, so the length field cannot hold it.
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        const HEADER_LEN: usize = UdpPacket::<&[u8]>::HEADER_LEN;
        if buf.len() < HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let len = self
            .payload_len
            .checked_add(HEADER_LEN as u16)
            .ok_or(WireError::Malformed)?;
        buf[SRC_PORT..SRC_PORT + 2].copy_from_slice(&self.src_port.to_be_bytes());
        buf[DST_PORT..DST_PORT + 2].copy_from_slice(&self.dst_port.to_be_bytes());
        buf[LENGTH..LENGTH + 2].copy_from_slice(&len.to_be_bytes());
        buf[CHECKSUM..CHECKSUM + 2].copy_from_slice(&[0, 0]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ipv4::{checksum, Ipv4Packet, Ipv4Repr};
    use super::*;

    // A DNS query for example.com/A from 192.168.0.10:53000 to 192.168.0.1:53, IPv4 header
    // included. The UDP length (37) is odd, so the checksum (0x20ad) pads the last byte.
    // Checksums computed independently of this crate (a Python RFC 1071 implementation).
    const DNS_QUERY: [u8; 57] = [
        0x45, 0x00, 0x00, 0x39, 0xab, 0xcd, 0x40, 0x00, 0x40, 0x11, 0x0d, 0x8b, 0xc0, 0xa8, 0x00,
        0x0a, 0xc0, 0xa8, 0x00, 0x01, 0xcf, 0x08, 0x00, 0x35, 0x00, 0x25, 0x20, 0xad, 0xbe, 0xef,
        0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d,
        0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];
    const SRC: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 10);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 168, 0, 1);

    fn udp_bytes() -> [u8; 37] {
        let mut b = [0u8; 37];
        b.copy_from_slice(&DNS_QUERY[20..]);
        b
    }

    #[test]
    fn parses_every_field_of_the_dns_query() {
        let ip = Ipv4Packet::new_checked(&DNS_QUERY[..]).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip).unwrap();
        assert_eq!((ip_repr.src, ip_repr.dst), (SRC, DST));
        assert_eq!(ip_repr.protocol, IpProtocol::UDP);

        let udp = UdpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(udp.src_port(), 53000);
        assert_eq!(udp.dst_port(), 53);
        assert_eq!(udp.len(), 37);
        assert_eq!(udp.checksum(), 0x20ad);
        assert_eq!(udp.payload(), &DNS_QUERY[28..]);
        assert_eq!(&udp.payload()[..2], &[0xbe, 0xef], "DNS transaction id");
        assert!(udp.verify_checksum_ipv4(SRC, DST));
        assert_eq!(
            UdpRepr::parse(&udp),
            UdpRepr {
                src_port: 53000,
                dst_port: 53,
                payload_len: 29
            }
        );
        assert_eq!(udp.into_inner().len(), 37);
    }

    #[test]
    fn checksum_covers_pseudo_header_and_every_bit() {
        let b = udp_bytes();
        let udp = UdpPacket::new_checked(&b[..]).unwrap();
        // Wrong addresses (the pseudo-header) fail. (Swapping them would not: the sum
        // commutes, which is why the check cannot tell direction.)
        assert!(!udp.verify_checksum_ipv4(SRC, Ipv4Addr::new(192, 168, 0, 2)));
        assert!(!udp.verify_checksum_ipv4(Ipv4Addr::new(192, 168, 0, 11), DST));
        // Every flipped bit outside the length field (which new_checked may then refuse)
        // fails.
        for bit in 0..b.len() * 8 {
            if (32..48).contains(&bit) {
                continue;
            }
            let mut m = b;
            m[bit / 8] ^= 0x80 >> (bit % 8);
            let udp = UdpPacket::new_checked(&m[..]).unwrap();
            // A flip that zeroes the checksum field turns checking off; none can here, as
            // 0x20ad has more than one bit set.
            assert!(!udp.verify_checksum_ipv4(SRC, DST), "bit {bit}");
        }
    }

    #[test]
    fn zero_checksum_means_none() {
        let mut b = udp_bytes();
        b[6] = 0;
        b[7] = 0;
        let udp = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(udp.verify_checksum_ipv4(SRC, DST));
        assert!(udp.verify_checksum_ipv4(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST));
    }

    #[test]
    fn fill_checksum_reproduces_the_fixture() {
        let mut b = udp_bytes();
        b[6] = 0x12;
        b[7] = 0x34;
        let mut udp = UdpPacket::new_checked(&mut b[..]).unwrap();
        udp.fill_checksum_ipv4(SRC, DST);
        assert_eq!(udp.checksum(), 0x20ad);
        assert_eq!(b, udp_bytes());
    }

    #[test]
    fn fill_checksum_writes_zero_as_ffff() {
        // Choose the last two payload bytes so the checksum computes to 0: the sum with
        // them at zero is S, so adding the word !S makes the folded sum 0xffff.
        let mut b = [0u8; 12];
        UdpRepr {
            src_port: 1,
            dst_port: 2,
            payload_len: 4,
        }
        .emit(&mut b)
        .unwrap();
        let s = checksum(&[&[10, 0, 0, 1, 10, 0, 0, 2, 0, 17, 0, 12][..], &b[..]].concat());
        b[10..12].copy_from_slice(&s.to_be_bytes());
        let (src, dst) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let mut udp = UdpPacket::new_checked(&mut b[..]).unwrap();
        udp.fill_checksum_ipv4(src, dst);
        assert_eq!(udp.checksum(), 0xffff);
        assert!(udp.verify_checksum_ipv4(src, dst));
    }

    #[test]
    fn every_short_buffer_is_truncated() {
        let b = udp_bytes();
        for len in 0..b.len() {
            assert_eq!(
                UdpPacket::new_checked(&b[..len]).err(),
                Some(WireError::Truncated),
                "len {len}"
            );
        }
    }

    #[test]
    fn refuses_length_below_header() {
        for len in 0u16..8 {
            let mut b = udp_bytes();
            b[4..6].copy_from_slice(&len.to_be_bytes());
            assert_eq!(
                UdpPacket::new_checked(&b[..]).err(),
                Some(WireError::Malformed),
                "len {len}"
            );
        }
        // Exactly 8: an empty datagram is fine.
        let mut b = udp_bytes();
        b[4..6].copy_from_slice(&8u16.to_be_bytes());
        let udp = UdpPacket::new_checked(&b[..]).unwrap();
        assert!(udp.payload().is_empty());
    }

    #[test]
    fn padding_beyond_length_is_excluded() {
        let mut b = [0x55u8; 20];
        b[..8].copy_from_slice(&[0x00, 0x07, 0x00, 0x09, 0x00, 0x0a, 0x00, 0x00]);
        let udp = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(udp.payload(), &[0x55, 0x55]);
    }

    #[test]
    fn emit_writes_exactly_the_fixture_header() {
        let mut b = [0xaau8; 10];
        UdpRepr {
            src_port: 53000,
            dst_port: 53,
            payload_len: 29,
        }
        .emit(&mut b)
        .unwrap();
        // The fixture's header with the checksum field zeroed.
        assert_eq!(&b[..8], &[0xcf, 0x08, 0x00, 0x35, 0x00, 0x25, 0x00, 0x00]);
        assert_eq!(&b[8..], &[0xaa, 0xaa]);
    }

    #[test]
    fn emit_parse_round_trip_and_limits() {
        let repr = UdpRepr {
            src_port: 0xc0de,
            dst_port: 4789,
            payload_len: 3,
        };
        let mut b = [0u8; 11];
        repr.emit(&mut b).unwrap();
        let udp = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(UdpRepr::parse(&udp), repr);
        assert_eq!(udp.checksum(), 0);

        for len in 0..8 {
            assert_eq!(repr.emit(&mut b[..len]), Err(WireError::Truncated));
        }
        let over = UdpRepr {
            payload_len: 65528,
            ..repr
        };
        assert_eq!(over.emit(&mut b), Err(WireError::Malformed));
    }

    #[test]
    fn setters_and_clamped_payload() {
        let mut b = udp_bytes();
        let mut udp = UdpPacket::new_checked(&mut b[..]).unwrap();
        udp.set_src_port(1);
        udp.set_dst_port(2);
        udp.set_len(12);
        udp.payload_mut().copy_from_slice(&[9, 8, 7, 6]);
        udp.set_checksum(0xbeef);
        assert_eq!(
            (udp.src_port(), udp.dst_port(), udp.len(), udp.checksum()),
            (1, 2, 12, 0xbeef)
        );
        assert_eq!(udp.payload(), &[9, 8, 7, 6]);
        udp.set_len(u16::MAX);
        assert_eq!(udp.payload().len(), 29);
        assert_eq!(udp.payload_mut().len(), 29);
        udp.set_len(3);
        assert!(udp.payload().is_empty());
        assert!(!udp.verify_checksum_ipv4(SRC, DST));
    }
}
