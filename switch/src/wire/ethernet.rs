//! Ethernet II header: destination, source, EtherType.

use super::WireError;
use std::fmt;
use std::str::FromStr;

/// A 48-bit IEEE 802 MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// Reads a MAC from the first six bytes of `bytes`. Panics if `bytes` is shorter; the
    /// views below only call it on checked slices.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> MacAddr {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&bytes[..6]);
        MacAddr(mac)
    }

    /// The I/G bit: set for multicast and broadcast (group) addresses.
    #[inline]
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    #[inline]
    pub fn is_broadcast(&self) -> bool {
        *self == MacAddr::BROADCAST
    }

    #[inline]
    pub fn is_zero(&self) -> bool {
        *self == MacAddr::ZERO
    }

    /// A unicast address that is not all zeros: the only kind a bridge may learn.
    #[inline]
    pub fn is_learnable(&self) -> bool {
        !self.is_multicast() && !self.is_zero()
    }

    /// The address as the low 48 bits of a `u64` (first octet most significant), the form
    /// the MAC table hashes and stores.
    #[inline]
    pub fn to_u64(self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The inverse of [`MacAddr::to_u64`]; bits above 48 are ignored.
    #[inline]
    pub fn from_u64(v: u64) -> MacAddr {
        let b = v.to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }

    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a MAC address. The message says what form is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseMacError(pub String);

impl fmt::Display for ParseMacError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a MAC address; write six two-digit hex octets separated by ':', e.g. 52:54:00:12:34:56",
            self.0
        )
    }
}

impl std::error::Error for ParseMacError {}

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff`, in either case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError(s.to_string());
        let sep = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in s.split(sep) {
            if n == 6 || part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| err())?;
            n += 1;
        }
        if n != 6 {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

/// EtherType values the dataplane names. Host byte order.
pub struct EtherType;

impl EtherType {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const VLAN: u16 = 0x8100;
    pub const IPV6: u16 = 0x86dd;
}

/// A checked view of an Ethernet II header at the start of a frame.
#[derive(Clone, Copy)]
pub struct EthernetFrame<'a> {
    bytes: &'a [u8],
}

impl<'a> EthernetFrame<'a> {
    pub const HEADER_LEN: usize = 14;

    /// Checks that `bytes` holds a whole header; every accessor is then infallible.
    #[inline]
    pub fn new_checked(bytes: &'a [u8]) -> Result<Self, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        Ok(EthernetFrame { bytes })
    }

    #[inline]
    pub fn dst(&self) -> MacAddr {
        MacAddr::from_bytes(&self.bytes[0..6])
    }

    #[inline]
    pub fn src(&self) -> MacAddr {
        MacAddr::from_bytes(&self.bytes[6..12])
    }

    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.bytes[12], self.bytes[13]])
    }

    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[Self::HEADER_LEN..]
    }

    /// Writes a header into the first 14 bytes of `buf`. Returns `Truncated` if it is shorter.
    pub fn emit(
        buf: &mut [u8],
        dst: MacAddr,
        src: MacAddr,
        ethertype: u16,
    ) -> Result<(), WireError> {
        if buf.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        buf[0..6].copy_from_slice(&dst.0);
        buf[6..12].copy_from_slice(&src.0);
        buf[12..14].copy_from_slice(&ethertype.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A broadcast ARP request from 52:54:00:12:34:56, as captured (first 16 bytes).
    const ARP_REQUEST: [u8; 16] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00,
        0x01,
    ];

    #[test]
    fn parses_header_fields() {
        let f = EthernetFrame::new_checked(&ARP_REQUEST).unwrap();
        assert!(f.dst().is_broadcast());
        assert_eq!(f.src(), "52:54:00:12:34:56".parse().unwrap());
        assert_eq!(f.ethertype(), EtherType::ARP);
        assert_eq!(f.payload(), &[0x00, 0x01]);
    }

    #[test]
    fn refuses_runts() {
        for len in 0..14 {
            assert_eq!(
                EthernetFrame::new_checked(&ARP_REQUEST[..len]).err(),
                Some(WireError::Truncated)
            );
        }
        assert!(EthernetFrame::new_checked(&ARP_REQUEST[..14]).is_ok());
    }

    #[test]
    fn emit_round_trips() {
        let mut buf = [0u8; 16];
        let src: MacAddr = "02:00:00:00:00:01".parse().unwrap();
        EthernetFrame::emit(&mut buf, MacAddr::BROADCAST, src, EtherType::ARP).unwrap();
        assert_eq!(&buf[..14], &ARP_REQUEST_HDR_WITH(src)[..]);
        assert!(EthernetFrame::emit(&mut buf[..13], src, src, 0).is_err());
    }

    #[allow(non_snake_case)]
    fn ARP_REQUEST_HDR_WITH(src: MacAddr) -> [u8; 14] {
        let mut h = [0u8; 14];
        h[..6].copy_from_slice(&[0xff; 6]);
        h[6..12].copy_from_slice(&src.0);
        h[12..14].copy_from_slice(&[0x08, 0x06]);
        h
    }

    #[test]
    fn mac_parse_and_format() {
        let m: MacAddr = "52:54:00:AB:cd:0f".parse().unwrap();
        assert_eq!(m.to_string(), "52:54:00:ab:cd:0f");
        assert_eq!("52-54-00-ab-cd-0f".parse::<MacAddr>().unwrap(), m);
        for bad in [
            "",
            "52:54:00:ab:cd",
            "52:54:00:ab:cd:0f:00",
            "5:54:00:ab:cd:0f",
            "zz:54:00:ab:cd:0f",
            "52:54:00:ab:cd:0f:",
        ] {
            let e = bad.parse::<MacAddr>().unwrap_err();
            assert!(
                e.to_string().contains("six two-digit hex octets"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn mac_classes_and_u64_round_trip() {
        let m: MacAddr = "01:00:5e:00:00:01".parse().unwrap();
        assert!(m.is_multicast() && !m.is_broadcast() && !m.is_learnable());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(!MacAddr::ZERO.is_learnable());
        let u: MacAddr = "02:11:22:33:44:55".parse().unwrap();
        assert!(u.is_learnable());
        assert_eq!(u.to_u64(), 0x0211_2233_4455);
        assert_eq!(MacAddr::from_u64(u.to_u64()), u);
    }
}
