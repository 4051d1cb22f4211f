//! ICMPv4 (RFC 792): type, code, checksum, and the echo identifier and sequence number.

use super::ipv4::checksum;
use super::WireError;

/// ICMPv4 message types the dataplane names.
pub struct Icmpv4Type;

impl Icmpv4Type {
    pub const ECHO_REPLY: u8 = 0;
    pub const ECHO_REQUEST: u8 = 8;
}

// Byte offsets of the header fields; ident and sequence are only meaningful for echo.
const TYPE: usize = 0;
const CODE: usize = 1;
const CHECKSUM: usize = 2;
const ECHO_IDENT: usize = 4;
const ECHO_SEQ: usize = 6;

#[inline]
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// A view of an ICMPv4 message: `buffer` must be exactly the IPv4 payload, since the
/// checksum covers all of it.
#[derive(Debug, Clone, Copy)]
pub struct Icmpv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Type, code, checksum and the 4-byte rest-of-header.
    pub const HEADER_LEN: usize = 8;

    /// Wraps `buffer` without checks: accessors may panic unless it holds 8 bytes.
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Checks that `buffer` holds a whole header; every accessor is then infallible.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        if buffer.as_ref().len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(Icmpv4Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// See [`Icmpv4Type`].
    #[inline]
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[TYPE]
    }

    #[inline]
    pub fn code(&self) -> u8 {
        self.buffer.as_ref()[CODE]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), CHECKSUM)
    }

    /// Bytes 4..6: the echo identifier (meaningful for echo request/reply only).
    #[inline]
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), ECHO_IDENT)
    }

    /// Bytes 6..8: the echo sequence number (meaningful for echo request/reply only).
    #[inline]
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), ECHO_SEQ)
    }

    /// The bytes after the 8-byte header (echo data, or the quoted datagram of an error).
    #[inline]
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[Self::HEADER_LEN..]
    }

    /// True when the checksum over the whole buffer is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum(self.buffer.as_ref()) == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    #[inline]
    fn set_u16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Does not update the checksum; call [`Icmpv4Packet::fill_checksum`] after the last set.
    #[inline]
    pub fn set_msg_type(&mut self, t: u8) {
        self.buffer.as_mut()[TYPE] = t;
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_code(&mut self, c: u8) {
        self.buffer.as_mut()[CODE] = c;
    }

    #[inline]
    pub fn set_checksum(&mut self, c: u16) {
        self.set_u16(CHECKSUM, c);
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_echo_ident(&mut self, v: u16) {
        self.set_u16(ECHO_IDENT, v);
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_echo_seq_no(&mut self, v: u16) {
        self.set_u16(ECHO_SEQ, v);
    }

    /// The mutable bytes after the header. Does not update the checksum.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[Self::HEADER_LEN..]
    }

    /// Zeroes the checksum field, computes the checksum over the whole buffer and stores it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum(self.buffer.as_ref());
        self.set_checksum(c);
    }
}

#[cfg(test)]
mod tests {
    use super::super::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
    use super::*;
    use std::net::Ipv4Addr;

    // `ping 10.0.0.2` from 10.0.0.1 as Linux iputils emits it: ident 0x1c2b, sequence 1,
    // 56 data bytes = a 16-byte struct timeval (little-endian, 1700000000 s 123456 us)
    // then the bytes 0x10..=0x37. Checksums (IPv4 0xcc4c, ICMP 0x86c8) were computed
    // independently of this crate (a Python RFC 1071 implementation).
    const PING: [u8; 84] = [
        // IPv4
        0x45, 0x00, 0x00, 0x54, 0x5a, 0x5a, 0x40, 0x00, 0x40, 0x01, 0xcc, 0x4c, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, //
        // ICMP echo request header
        0x08, 0x00, 0x86, 0xc8, 0x1c, 0x2b, 0x00, 0x01, //
        // timeval
        0x00, 0xf1, 0x53, 0x65, 0x00, 0x00, 0x00, 0x00, 0x40, 0xe2, 0x01, 0x00, 0x00, 0x00, 0x00,
        0x00, //
        // pattern
        0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
        0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
        0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
    ];
    const ICMP: usize = 20;

    fn icmp_bytes() -> [u8; 64] {
        let mut b = [0u8; 64];
        b.copy_from_slice(&PING[ICMP..]);
        b
    }

    #[test]
    fn parses_every_field_of_a_linux_ping() {
        let ip = Ipv4Packet::new_checked(&PING[..]).unwrap();
        let ip_repr = Ipv4Repr::parse(&ip).unwrap();
        assert_eq!(ip_repr.protocol, IpProtocol::ICMP);
        assert_eq!(ip_repr.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(ip_repr.dst, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(ip_repr.payload_len, 64);

        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert_eq!(icmp.msg_type(), Icmpv4Type::ECHO_REQUEST);
        assert_eq!(icmp.code(), 0);
        assert_eq!(icmp.checksum(), 0x86c8);
        assert_eq!(icmp.echo_ident(), 0x1c2b);
        assert_eq!(icmp.echo_seq_no(), 1);
        assert_eq!(icmp.payload().len(), 56);
        assert_eq!(&icmp.payload()[16..], &PING[44..]);
        assert_eq!(icmp.payload()[16], 0x10);
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.into_inner().len(), 64);
    }

    #[test]
    fn every_short_buffer_is_truncated() {
        let b = icmp_bytes();
        for len in 0..8 {
            assert_eq!(
                Icmpv4Packet::new_checked(&b[..len]).err(),
                Some(WireError::Truncated)
            );
        }
        let hdr_only = Icmpv4Packet::new_checked(&b[..8]).unwrap();
        assert!(hdr_only.payload().is_empty());
    }

    #[test]
    fn checksum_covers_every_bit() {
        for bit in 0..64 * 8 {
            let mut b = icmp_bytes();
            b[bit / 8] ^= 0x80 >> (bit % 8);
            let icmp = Icmpv4Packet::new_checked(&b[..]).unwrap();
            assert!(!icmp.verify_checksum(), "bit {bit}");
        }
        // A truncated payload (the buffer is not the whole IPv4 payload) fails too.
        let b = icmp_bytes();
        assert!(!Icmpv4Packet::new_checked(&b[..63])
            .unwrap()
            .verify_checksum());
    }

    #[test]
    fn fill_checksum_reproduces_the_fixture() {
        let mut b = icmp_bytes();
        b[2] = 0xde;
        b[3] = 0xad;
        let mut icmp = Icmpv4Packet::new_checked(&mut b[..]).unwrap();
        icmp.fill_checksum();
        assert_eq!(icmp.checksum(), 0x86c8);
        assert_eq!(b, icmp_bytes());
    }

    #[test]
    fn echo_request_turned_into_reply() {
        // What an echo responder does: type 8 -> 0. The type byte is the high byte of the
        // first word, so the checksum rises by 0x0800: 0x86c8 -> 0x8ec8.
        let mut b = icmp_bytes();
        let mut icmp = Icmpv4Packet::new_checked(&mut b[..]).unwrap();
        icmp.set_msg_type(Icmpv4Type::ECHO_REPLY);
        icmp.set_code(0);
        assert!(!icmp.verify_checksum());
        icmp.fill_checksum();
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.checksum(), 0x8ec8);
        assert_eq!((icmp.echo_ident(), icmp.echo_seq_no()), (0x1c2b, 1));
        assert_eq!(&b[4..], &PING[ICMP + 4..]);
    }

    #[test]
    fn setters() {
        let mut b = [0u8; 10];
        let mut icmp = Icmpv4Packet::new_checked(&mut b[..]).unwrap();
        icmp.set_msg_type(Icmpv4Type::ECHO_REQUEST);
        icmp.set_code(3);
        icmp.set_echo_ident(0xabcd);
        icmp.set_echo_seq_no(0x0102);
        icmp.payload_mut().copy_from_slice(&[0xee, 0xff]);
        icmp.set_checksum(0x1234);
        assert_eq!(b, [8, 3, 0x12, 0x34, 0xab, 0xcd, 0x01, 0x02, 0xee, 0xff]);
    }
}
