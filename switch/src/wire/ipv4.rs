//! IPv4 header (RFC 791) and the Internet checksum (RFC 1071).

use super::WireError;
use std::net::Ipv4Addr;

/// IP protocol numbers the dataplane names.
pub struct IpProtocol;

impl IpProtocol {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

// Byte offsets of the fixed header fields.
const VER_IHL: usize = 0;
const DSCP_ECN: usize = 1;
const TOTAL_LEN: usize = 2;
const IDENT: usize = 4;
const FLAGS_FRAG: usize = 6;
const TTL: usize = 8;
const PROTOCOL: usize = 9;
const CHECKSUM: usize = 10;
const SRC: usize = 12;
const DST: usize = 16;

// Bits of the 16-bit flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

#[inline]
fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
fn get_ipv4(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// The ones' complement sum of `data` as 16-bit big-endian words (an odd trailing byte is
/// padded with zero), neither inverted nor complemented, so parts can be combined:
/// `fold_checksum(sum_words(a) + sum_words(b))` is the checksum of `a` followed by `b`
/// when `a` has even length.
///
/// The result is reduced to at most `0xffff` (same value modulo `0xffff`, which is all a
/// ones' complement sum means), so adding up to 65536 parts cannot overflow a `u32`.
#[inline]
pub fn sum_words(data: &[u8]) -> u32 {
    // Summing 32-bit words is the same modulo 0xffff as summing 16-bit ones (2^16 ≡ 1),
    // and halves the additions; a u64 cannot overflow for any slice that fits in memory.
    let mut acc: u64 = 0;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        acc += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    // The 0-3 leftover bytes, zero-padded to a word: this also pads an odd last byte.
    let rest = words.remainder();
    let mut tail = [0u8; 4];
    tail[..rest.len()].copy_from_slice(rest);
    acc += u64::from(u32::from_be_bytes(tail));

    // End-around carry folding: < 2^33, < 2^18, < 2^17, then <= 0xffff.
    let mut s = (acc & 0xffff_ffff) + (acc >> 32);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    s as u32
}

/// Folds the carries of a ones' complement sum into 16 bits and inverts it, giving the
/// checksum to store (or 0 when verifying a sum that includes a correct checksum).
#[inline]
pub fn fold_checksum(sum: u32) -> u16 {
    let s = (sum & 0xffff) + (sum >> 16);
    let s = (s & 0xffff) + (s >> 16);
    !(s as u16)
}

/// The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones' complement
/// sum of 16-bit big-endian words (odd trailing byte padded with zero).
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    fold_checksum(sum_words(data))
}

/// A view of an IPv4 header and its payload at the start of `buffer`.
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Packet<T> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// The header length without options (IHL 5).
    pub const MIN_HEADER_LEN: usize = 20;

    /// Wraps `buffer` without checks: accessors may panic unless it holds a valid header.
    /// Use it on a buffer about to be filled by [`Ipv4Repr::emit`].
    #[inline]
    pub fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Checks that `buffer` holds a whole IPv4 header and all `total_len` bytes; every
    /// accessor is then infallible. The buffer may be longer than `total_len` (Ethernet
    /// pads short frames); [`Ipv4Packet::payload`] excludes that padding.
    #[inline]
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let b = buffer.as_ref();
        if b.len() < Self::MIN_HEADER_LEN {
            return Err(WireError::Truncated);
        }
        if b[VER_IHL] >> 4 != 4 || b[VER_IHL] & 0x0f < 5 {
            return Err(WireError::Malformed);
        }
        let header_len = usize::from(b[VER_IHL] & 0x0f) * 4;
        if header_len > b.len() {
            return Err(WireError::Truncated);
        }
        let total_len = usize::from(get_u16(b, TOTAL_LEN));
        if total_len < header_len {
            return Err(WireError::Malformed);
        }
        if total_len > b.len() {
            return Err(WireError::Truncated);
        }
        Ok(Ipv4Packet { buffer })
    }

    /// Gives the buffer back.
    #[inline]
    pub fn into_inner(self) -> T {
        self.buffer
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[VER_IHL] >> 4
    }

    /// The header length in bytes (IHL × 4), options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[VER_IHL] & 0x0f) * 4
    }

    /// The former TOS byte: DSCP in the high six bits, ECN in the low two.
    #[inline]
    pub fn dscp_ecn(&self) -> u8 {
        self.buffer.as_ref()[DSCP_ECN]
    }

    /// Header plus payload length in bytes, as the header says.
    #[inline]
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), TOTAL_LEN)
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), IDENT)
    }

    #[inline]
    pub fn dont_fragment(&self) -> bool {
        get_u16(self.buffer.as_ref(), FLAGS_FRAG) & FLAG_DF != 0
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        get_u16(self.buffer.as_ref(), FLAGS_FRAG) & FLAG_MF != 0
    }

    /// The fragment offset in 8-byte units.
    #[inline]
    pub fn frag_offset(&self) -> u16 {
        get_u16(self.buffer.as_ref(), FLAGS_FRAG) & FRAG_OFFSET_MASK
    }

    /// True for any fragment (first, middle or last) rather than a whole datagram: then the
    /// payload is not a whole L4 segment.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        get_u16(self.buffer.as_ref(), FLAGS_FRAG) & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    #[inline]
    pub fn has_options(&self) -> bool {
        self.header_len() > Self::MIN_HEADER_LEN
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[TTL]
    }

    /// The payload's protocol number; see [`IpProtocol`].
    #[inline]
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[PROTOCOL]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), CHECKSUM)
    }

    #[inline]
    pub fn src(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), SRC)
    }

    #[inline]
    pub fn dst(&self) -> Ipv4Addr {
        get_ipv4(self.buffer.as_ref(), DST)
    }

    /// True when the header checksum (over `header_len` bytes, options included) is right.
    #[inline]
    pub fn verify_checksum(&self) -> bool {
        checksum(&self.buffer.as_ref()[..self.header_len()]) == 0
    }

    /// The bytes after the header up to `total_len` (Ethernet padding excluded). Clamped to
    /// the buffer, so it cannot panic even after `set_total_len` with a wrong value.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = usize::from(self.total_len()).min(b.len());
        let start = self.header_len().min(end);
        &b[start..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    #[inline]
    fn set_u16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }

    /// Does not update the checksum; call [`Ipv4Packet::fill_checksum`] after the last set.
    #[inline]
    pub fn set_src(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[SRC..SRC + 4].copy_from_slice(&a.octets());
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_dst(&mut self, a: Ipv4Addr) {
        self.buffer.as_mut()[DST..DST + 4].copy_from_slice(&a.octets());
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_ttl(&mut self, v: u8) {
        self.buffer.as_mut()[TTL] = v;
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_protocol(&mut self, v: u8) {
        self.buffer.as_mut()[PROTOCOL] = v;
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_dscp_ecn(&mut self, v: u8) {
        self.buffer.as_mut()[DSCP_ECN] = v;
    }

    /// Does not update the checksum.
    #[inline]
    pub fn set_ident(&mut self, v: u16) {
        self.set_u16(IDENT, v);
    }

    /// Does not update the checksum. A value beyond the buffer is not refused here, but
    /// [`Ipv4Packet::payload`] stays clamped to the buffer.
    #[inline]
    pub fn set_total_len(&mut self, v: u16) {
        self.set_u16(TOTAL_LEN, v);
    }

    #[inline]
    pub fn set_checksum(&mut self, v: u16) {
        self.set_u16(CHECKSUM, v);
    }

    /// Zeroes the checksum field, computes the checksum over `header_len` bytes and stores it.
    #[inline]
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum(&self.buffer.as_ref()[..self.header_len()]);
        self.set_checksum(c);
    }

    /// The mutable counterpart of [`Ipv4Packet::payload`], clamped the same way.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.total_len()).min(self.buffer.as_ref().len());
        let start = self.header_len().min(end);
        &mut self.buffer.as_mut()[start..end]
    }
}

/// The meaning of an IPv4 header without options, as the dataplane builds and reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
    /// Bytes after the header: `total_len - header_len`.
    pub payload_len: u16,
    pub dont_fragment: bool,
    pub ident: u16,
    pub dscp_ecn: u8,
}

impl Ipv4Repr {
    /// The length of the header [`Ipv4Repr::emit`] writes.
    pub const HEADER_LEN: usize = 20;

    /// Reads a checked header. Refuses a bad header checksum (`BadChecksum`); options are
    /// skipped (`payload_len = total_len - header_len`). Fragments are accepted: the caller
    /// asks [`Ipv4Packet::is_fragment`] if it cares.
    pub fn parse<T: AsRef<[u8]>>(p: &Ipv4Packet<T>) -> Result<Ipv4Repr, WireError> {
        if !p.verify_checksum() {
            return Err(WireError::BadChecksum);
        }
        // new_checked guarantees total_len >= header_len (and header_len <= 60 fits u16);
        // saturate anyway so a new_unchecked view cannot underflow.
        let payload_len = p.total_len().saturating_sub(p.header_len() as u16);
        Ok(Ipv4Repr {
            src: p.src(),
            dst: p.dst(),
            protocol: p.protocol(),
            ttl: p.ttl(),
            payload_len,
            dont_fragment: p.dont_fragment(),
            ident: p.ident(),
            dscp_ecn: p.dscp_ecn(),
        })
    }

    /// Writes a 20-byte header (no options, no MF, offset 0) with a valid checksum into
    /// `buf[..20]`. `Truncated` if `buf` is shorter; `Malformed` if `payload_len` does not
    /// fit in a datagram (over 65515).
    pub fn emit(&self, buf: &mut [u8]) -> Result<(), WireError> {
        if buf.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated);
        }
        let total_len = self
            .payload_len
            .checked_add(Self::HEADER_LEN as u16)
            .ok_or(WireError::Malformed)?;
        let h = &mut buf[..Self::HEADER_LEN];
        h[VER_IHL] = 0x45;
        h[DSCP_ECN] = self.dscp_ecn;
        h[TOTAL_LEN..TOTAL_LEN + 2].copy_from_slice(&total_len.to_be_bytes());
        h[IDENT..IDENT + 2].copy_from_slice(&self.ident.to_be_bytes());
        let flags = if self.dont_fragment { FLAG_DF } else { 0 };
        h[FLAGS_FRAG..FLAGS_FRAG + 2].copy_from_slice(&flags.to_be_bytes());
        h[TTL] = self.ttl;
        h[PROTOCOL] = self.protocol;
        h[CHECKSUM..CHECKSUM + 2].copy_from_slice(&[0, 0]);
        h[SRC..SRC + 4].copy_from_slice(&self.src.octets());
        h[DST..DST + 4].copy_from_slice(&self.dst.octets());
        let c = checksum(h);
        h[CHECKSUM..CHECKSUM + 2].copy_from_slice(&c.to_be_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The classic example header (UDP, 192.168.0.1 -> 192.168.0.199, total length 115)
    // whose checksum is known to be 0xb861.
    const CLASSIC: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];
    const CLASSIC_TOTAL: usize = 0x73;

    /// The classic header followed by its 95 payload bytes (a counting pattern).
    fn classic_packet() -> [u8; CLASSIC_TOTAL] {
        let mut b = [0u8; CLASSIC_TOTAL];
        b[..20].copy_from_slice(&CLASSIC);
        for (i, x) in b[20..].iter_mut().enumerate() {
            *x = i as u8;
        }
        b
    }

    fn classic_repr() -> Ipv4Repr {
        Ipv4Repr {
            src: Ipv4Addr::new(192, 168, 0, 1),
            dst: Ipv4Addr::new(192, 168, 0, 199),
            protocol: IpProtocol::UDP,
            ttl: 64,
            payload_len: 95,
            dont_fragment: true,
            ident: 0,
            dscp_ecn: 0,
        }
    }

    /// A byte-at-a-time RFC 1071 checksum to check the word-wise one against.
    fn reference_checksum(data: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for (i, &b) in data.iter().enumerate() {
            sum += if i % 2 == 0 {
                u32::from(b) << 8
            } else {
                u32::from(b)
            };
        }
        while sum >> 16 != 0 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        !(sum as u16)
    }

    /// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
    fn pseudo_random(n: usize, mut seed: u32) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                (seed >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn parses_every_field_of_the_classic_header() {
        let buf = classic_packet();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp_ecn(), 0);
        assert_eq!(p.total_len(), 115);
        assert_eq!(p.ident(), 0);
        assert!(p.dont_fragment());
        assert!(!p.more_fragments());
        assert_eq!(p.frag_offset(), 0);
        assert!(!p.is_fragment());
        assert!(!p.has_options());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::UDP);
        assert_eq!(p.checksum(), 0xb861);
        assert_eq!(p.src(), Ipv4Addr::new(192, 168, 0, 1));
        assert_eq!(p.dst(), Ipv4Addr::new(192, 168, 0, 199));
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &buf[20..]);
        assert_eq!(Ipv4Repr::parse(&p), Ok(classic_repr()));
        assert_eq!(p.into_inner().len(), CLASSIC_TOTAL);
    }

    #[test]
    fn checksum_of_known_vectors() {
        let mut h = CLASSIC;
        assert_eq!(checksum(&h), 0);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
        // RFC 1071 section 3: the words sum to 0xddf2, so the checksum is 0x220d.
        let rfc = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(sum_words(&rfc), 0xddf2);
        assert_eq!(checksum(&rfc), 0x220d);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xab]), !0xab00);
    }

    #[test]
    fn checksum_matches_bytewise_reference_for_every_length() {
        let data = pseudo_random(300, 0x1234_5678);
        for len in 0..data.len() {
            assert_eq!(
                checksum(&data[..len]),
                reference_checksum(&data[..len]),
                "len {len}"
            );
        }
        // Worst case for carries: all ones.
        let ones = [0xffu8; 1501];
        for len in [0, 1, 2, 3, 4, 5, 1500, 1501] {
            assert_eq!(checksum(&ones[..len]), reference_checksum(&ones[..len]));
        }
    }

    #[test]
    fn sum_words_parts_combine() {
        let data = pseudo_random(101, 42);
        for split in (0..=data.len()).step_by(2) {
            let (a, b) = data.split_at(split);
            assert_eq!(
                fold_checksum(sum_words(a) + sum_words(b)),
                checksum(&data),
                "split {split}"
            );
        }
        assert!(sum_words(&[0xff; 4096]) <= 0xffff);
    }

    #[test]
    fn every_short_buffer_is_truncated() {
        let buf = classic_packet();
        for len in 0..CLASSIC_TOTAL {
            assert_eq!(
                Ipv4Packet::new_checked(&buf[..len]).err(),
                Some(WireError::Truncated),
                "len {len}"
            );
        }
        assert!(Ipv4Packet::new_checked(&buf[..]).is_ok());
    }

    #[test]
    fn refuses_impossible_fields() {
        let base = classic_packet();

        let mut v6 = base;
        v6[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new_checked(&v6[..]).err(),
            Some(WireError::Malformed)
        );

        for ihl in 0..5 {
            let mut short_ihl = base;
            short_ihl[0] = 0x40 | ihl;
            assert_eq!(
                Ipv4Packet::new_checked(&short_ihl[..]).err(),
                Some(WireError::Malformed)
            );
        }

        for total in [0u16, 1, 19] {
            let mut short_total = base;
            short_total[2..4].copy_from_slice(&total.to_be_bytes());
            assert_eq!(
                Ipv4Packet::new_checked(&short_total[..]).err(),
                Some(WireError::Malformed),
                "total_len {total}"
            );
        }

        // IHL 6 (24-byte header) with total_len 22: shorter than the header it claims.
        let mut total_in_options = base;
        total_in_options[0] = 0x46;
        total_in_options[2..4].copy_from_slice(&22u16.to_be_bytes());
        assert_eq!(
            Ipv4Packet::new_checked(&total_in_options[..]).err(),
            Some(WireError::Malformed)
        );

        // IHL 15 claims 60 header bytes, but the buffer has only 20.
        let mut long_ihl = CLASSIC;
        long_ihl[0] = 0x4f;
        assert_eq!(
            Ipv4Packet::new_checked(&long_ihl[..]).err(),
            Some(WireError::Truncated)
        );
    }

    #[test]
    fn ethernet_padding_is_excluded_from_payload() {
        // A 28-byte datagram in a minimum-size frame: 18 bytes of padding follow it.
        let mut buf = [0xeeu8; 46];
        Ipv4Repr {
            payload_len: 8,
            ..classic_repr()
        }
        .emit(&mut buf)
        .unwrap();
        buf[20..28].copy_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.payload(), &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(Ipv4Repr::parse(&p).unwrap().payload_len, 8);
    }

    #[test]
    fn options_are_skipped() {
        // IHL 6: one 4-byte option (Router Alert, RFC 2113), then 4 payload bytes.
        let mut buf = [
            0x46, 0x00, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x0a, 0x00,
            0x00, 0x01, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0xde, 0xad, 0xbe, 0xef,
        ];
        let c = reference_checksum(&buf[..24]);
        buf[10..12].copy_from_slice(&c.to_be_bytes());
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(p.has_options());
        assert_eq!(p.header_len(), 24);
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.payload_len, 4);
        assert_eq!(r.protocol, 2);
        assert_eq!(r.dst, Ipv4Addr::new(224, 0, 0, 22));

        // The checksum covers the options too.
        buf[21] ^= 0x01;
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert!(!p.verify_checksum());
    }

    #[test]
    fn fragment_bits() {
        let cases: [(u16, bool, bool, u16, bool); 4] = [
            (0x4000, true, false, 0, false),   // DF, whole datagram
            (0x2000, false, true, 0, true),    // first fragment
            (0x00b9, false, false, 185, true), // last fragment at byte 1480
            (0x20b9, false, true, 185, true),  // middle fragment
        ];
        for (word, df, mf, off, frag) in cases {
            let mut buf = classic_packet();
            buf[6..8].copy_from_slice(&word.to_be_bytes());
            let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
            assert_eq!(p.dont_fragment(), df, "{word:#06x}");
            assert_eq!(p.more_fragments(), mf, "{word:#06x}");
            assert_eq!(p.frag_offset(), off, "{word:#06x}");
            assert_eq!(p.is_fragment(), frag, "{word:#06x}");
        }
    }

    #[test]
    fn any_single_bit_flip_breaks_the_checksum() {
        for bit in 0..160 {
            let mut buf = classic_packet();
            buf[bit / 8] ^= 0x80 >> (bit % 8);
            // new_unchecked: a flip in IHL or total_len would make new_checked refuse the
            // header before the checksum is looked at; the whole packet is long enough for
            // any IHL, so verify_checksum cannot panic.
            let p = Ipv4Packet::new_unchecked(&buf[..]);
            assert!(!p.verify_checksum(), "bit {bit}");
            assert_ne!(checksum(&buf[..20]), 0, "bit {bit}");
        }
    }

    #[test]
    fn parse_refuses_bad_checksum() {
        let mut buf = classic_packet();
        buf[11] ^= 0x01;
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(Ipv4Repr::parse(&p), Err(WireError::BadChecksum));
    }

    #[test]
    fn emit_writes_exactly_the_fixture() {
        let mut buf = [0xaau8; 24];
        classic_repr().emit(&mut buf).unwrap();
        assert_eq!(&buf[..20], &CLASSIC);
        assert_eq!(&buf[20..], &[0xaa; 4], "emit wrote past the header");
    }

    #[test]
    fn emit_parse_round_trip() {
        let repr = Ipv4Repr {
            src: Ipv4Addr::new(10, 1, 2, 3),
            dst: Ipv4Addr::new(172, 16, 254, 1),
            protocol: IpProtocol::ICMP,
            ttl: 1,
            payload_len: 36,
            dont_fragment: false,
            ident: 0xfedc,
            dscp_ecn: 0xb8,
        };
        let mut buf = [0u8; 56];
        repr.emit(&mut buf).unwrap();
        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(reference_checksum(&buf[..20]), 0);
        assert_eq!(Ipv4Repr::parse(&p), Ok(repr));
        assert_eq!(p.payload().len(), 36);
    }

    #[test]
    fn emit_refuses_short_buffer_and_oversize_payload() {
        let mut buf = [0u8; 20];
        for len in 0..20 {
            assert_eq!(
                classic_repr().emit(&mut buf[..len]),
                Err(WireError::Truncated)
            );
        }
        let max = Ipv4Repr {
            payload_len: 65515,
            ..classic_repr()
        };
        assert!(max.emit(&mut buf).is_ok());
        let over = Ipv4Repr {
            payload_len: 65516,
            ..classic_repr()
        };
        assert_eq!(over.emit(&mut buf), Err(WireError::Malformed));
    }

    #[test]
    fn setters_then_fill_checksum() {
        let mut buf = classic_packet();
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_src(Ipv4Addr::new(10, 0, 0, 1));
        p.set_dst(Ipv4Addr::new(10, 0, 0, 2));
        p.set_ttl(63);
        p.set_ident(0x1234);
        p.set_protocol(IpProtocol::TCP);
        p.set_dscp_ecn(0x02);
        p.set_total_len(100);
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
        p.payload_mut()[0] = 0x99;
        assert_eq!(p.payload().len(), 80);

        let p = Ipv4Packet::new_checked(&buf[..]).unwrap();
        assert_eq!(reference_checksum(&buf[..20]), 0);
        let r = Ipv4Repr::parse(&p).unwrap();
        assert_eq!(r.src, Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(r.dst, Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!((r.ttl, r.ident, r.protocol, r.dscp_ecn), (63, 0x1234, 6, 2));
        assert_eq!(r.payload_len, 80);
        assert_eq!(buf[20], 0x99);

        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_checksum(0xb861);
        assert_eq!(p.checksum(), 0xb861);
    }

    #[test]
    fn payload_is_clamped_after_a_bad_set_total_len() {
        let mut buf = classic_packet();
        let mut p = Ipv4Packet::new_checked(&mut buf[..]).unwrap();
        p.set_total_len(u16::MAX);
        assert_eq!(p.payload().len(), CLASSIC_TOTAL - 20);
        assert_eq!(p.payload_mut().len(), CLASSIC_TOTAL - 20);
        p.set_total_len(3);
        assert!(p.payload().is_empty());
        assert!(p.payload_mut().is_empty());
    }
}
