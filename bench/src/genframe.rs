//! Frames of the generator: an Ethernet header whose addresses name the flow, a tag that says
//! which direction, phase, flow and sequence number the frame is and when it was sent, a
//! check word over the tag, then a payload whose bytes depend only on their offset.
//!
//! The payload is written once into every transmit buffer before the run (see
//! [`fill_payload`]), so sending a frame costs writing its first [`HEADER_LEN`] bytes
//! whatever its size; the receiver checks the tag, the addresses and (some or all of) the
//! payload, so a changed byte is caught.
//!
//! ```text
//!  0      6      12   14     18  19    20     24     32     40     44 ....... size
//!  | dst  | src  | et | DPGN |dir|phase| flow | seq  | tsc  | check| pattern(offset) |
//! ```

use switch::wire::{EthernetFrame, MacAddr};

/// IEEE "local experimental" EtherType, as the step frames use.
pub const ETHERTYPE: u16 = crate::frames::ETHERTYPE_TEST;
const MAGIC: [u8; 4] = *b"DPGN";
/// Bytes written per frame; the rest is the pre-filled pattern.
pub const HEADER_LEN: usize = 44;
/// Smallest frame: a 64-byte Ethernet frame without its 4-byte FCS.
pub const MIN_FRAME: usize = 60;
/// Largest frame: 1518 bytes, the largest standard frame size, as testpmd's `txpkts` counts it.
pub const MAX_FRAME: usize = 1518;

/// Which part of a run a frame belongs to: only [`Phase::Measure`] frames are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    /// One frame per flow and direction so the switch learns every MAC.
    Learn = 0,
    /// Full-rate traffic before counting starts (caches, rings and tables settle).
    Warmup = 1,
    /// The counted window.
    Measure = 2,
}

impl Phase {
    fn from_u8(v: u8) -> Option<Phase> {
        match v {
            0 => Some(Phase::Learn),
            1 => Some(Phase::Warmup),
            2 => Some(Phase::Measure),
            _ => None,
        }
    }
}

/// What a generator frame carries besides its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Direction index: 0 sends out of port 0 toward port 1's MACs, 1 the reverse.
    pub dir: u8,
    pub phase: Phase,
    pub flow: u32,
    /// The flow's own sequence number in this direction (flows take turns, so it is the
    /// number of earlier rounds over all flows).
    pub seq: u64,
    /// The sender's TSC when it built the frame.
    pub tsc: u64,
}

/// Why a received frame is not a good generator frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RxError {
    /// Not a generator frame at all (too short, or no magic): someone else's traffic.
    Foreign,
    /// A generator frame whose check word, addresses, phase or payload is wrong.
    Corrupt,
}

/// The MAC of flow `flow` on side `side` (0: behind port 0, 1: behind port 1). Unicast and
/// locally administered; distinct for every (side, flow).
#[inline]
pub fn flow_mac(side: u8, flow: u32) -> MacAddr {
    let f = flow.to_be_bytes();
    MacAddr([0x02, 0x10 | (side & 1), f[0], f[1], f[2], f[3]])
}

/// A multiply-xor hash over the tag and the frame length: cheap enough for every frame at
/// line rate, and any changed field changes it. Computed from values, not from the frame's
/// bytes, so the sender never reads back a line it is still waiting to own.
#[inline]
fn check_word(frame_len: usize, tag: &Tag) -> u32 {
    let head = (tag.dir as u64) << 56 | (tag.phase as u64) << 48 | (tag.flow as u64) << 16;
    let mut h = (frame_len as u64) ^ 0x9e37_79b9_7f4a_7c15;
    for w in [head, tag.seq, tag.tsc] {
        h = (h ^ w).wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 29;
    }
    (h ^ (h >> 32)) as u32
}

/// Writes the header and tag of a frame of `frame.len()` bytes (at least [`HEADER_LEN`]).
#[inline]
pub fn write_header(frame: &mut [u8], tag: &Tag) {
    let len = frame.len();
    let head: &mut [u8; HEADER_LEN] = (&mut frame[..HEADER_LEN])
        .try_into()
        .expect("a generator frame holds its header");
    let (src, dst) = (flow_mac(tag.dir, tag.flow), flow_mac(tag.dir ^ 1, tag.flow));
    EthernetFrame::emit(&mut head[..], dst, src, ETHERTYPE).expect("44 bytes hold a header");
    head[14..18].copy_from_slice(&MAGIC);
    head[18] = tag.dir;
    head[19] = tag.phase as u8;
    head[20..24].copy_from_slice(&tag.flow.to_be_bytes());
    head[24..32].copy_from_slice(&tag.seq.to_be_bytes());
    head[32..40].copy_from_slice(&tag.tsc.to_be_bytes());
    head[40..44].copy_from_slice(&check_word(len, tag).to_be_bytes());
}

/// The payload byte at `offset` in every generator frame: depends on the offset only, so one
/// fill serves every size, and a shifted or swapped byte shows.
#[inline]
fn pattern(offset: usize) -> u8 {
    (offset as u32).wrapping_mul(0x9e37_79b1).rotate_left(8) as u8 ^ 0x5a
}

/// Writes the payload pattern from [`HEADER_LEN`] to the end of `frame`.
pub fn fill_payload(frame: &mut [u8]) {
    for (i, b) in frame.iter_mut().enumerate().skip(HEADER_LEN) {
        *b = pattern(i);
    }
}

/// Checks a received frame and returns its tag. `full_payload` compares every payload byte;
/// otherwise only the last eight (a truncated, padded or shifted frame still shows).
#[inline]
pub fn parse(frame: &[u8], full_payload: bool) -> Result<Tag, RxError> {
    let Some(head) = frame.get(..HEADER_LEN) else {
        return Err(RxError::Foreign);
    };
    if head[14..18] != MAGIC || head[12..14] != ETHERTYPE.to_be_bytes() {
        return Err(RxError::Foreign);
    }
    let be64 =
        |r: std::ops::Range<usize>| u64::from_be_bytes(head[r].try_into().expect("eight bytes"));
    let dir = head[18];
    let phase = Phase::from_u8(head[19]).ok_or(RxError::Corrupt)?;
    let tag = Tag {
        dir,
        phase,
        flow: u32::from_be_bytes([head[20], head[21], head[22], head[23]]),
        seq: be64(24..32),
        tsc: be64(32..40),
    };
    let check = u32::from_be_bytes([head[40], head[41], head[42], head[43]]);
    if check != check_word(frame.len(), &tag) {
        return Err(RxError::Corrupt);
    }
    if dir > 1
        || head[0..6] != flow_mac(dir ^ 1, tag.flow).0
        || head[6..12] != flow_mac(dir, tag.flow).0
    {
        return Err(RxError::Corrupt);
    }
    let payload_from = if full_payload {
        HEADER_LEN
    } else {
        frame.len().saturating_sub(8).max(HEADER_LEN)
    };
    let payload_ok = frame[payload_from..]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern(payload_from + i));
    if !payload_ok {
        return Err(RxError::Corrupt);
    }
    Ok(tag)
}

/// Frame sizes of a run: one size, or the simple IMIX (7 x 64, 4 x 576, 1 x 1518 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeMix {
    Fixed(usize),
    Imix,
}

/// IMIX in sending order: the large frames spread out rather than back to back.
const IMIX: [usize; 12] = [64, 576, 64, 64, 1518, 64, 576, 64, 64, 576, 64, 576];

impl SizeMix {
    /// Parses `64`..`1518` or `imix`.
    pub fn parse(s: &str) -> Result<SizeMix, String> {
        if s.eq_ignore_ascii_case("imix") {
            return Ok(SizeMix::Imix);
        }
        match s.parse::<usize>() {
            Ok(n) if (MIN_FRAME..=MAX_FRAME).contains(&n) => Ok(SizeMix::Fixed(n)),
            _ => Err(format!(
                "--size {s:?}: give a frame size from {MIN_FRAME} to {MAX_FRAME} bytes (without FCS), or imix"
            )),
        }
    }

    /// The sizes frames take in turn, by sequence number.
    pub fn schedule(&self) -> Vec<usize> {
        match self {
            SizeMix::Fixed(n) => vec![*n],
            SizeMix::Imix => IMIX.to_vec(),
        }
    }

    pub fn label(&self) -> String {
        match self {
            SizeMix::Fixed(n) => n.to_string(),
            SizeMix::Imix => "imix".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize, tag: &Tag) -> Vec<u8> {
        let mut f = vec![0u8; len];
        fill_payload(&mut f);
        write_header(&mut f, tag);
        f
    }

    const TAG: Tag = Tag {
        dir: 1,
        phase: Phase::Measure,
        flow: 499_999,
        seq: 0x0102_0304_0506_0708,
        tsc: 0x1122_3344_5566_7788,
    };

    #[test]
    fn round_trip_at_every_size_of_the_schedule() {
        for size in [MIN_FRAME, 64, 576, MAX_FRAME] {
            let f = frame(size, &TAG);
            assert_eq!(parse(&f, true), Ok(TAG), "size {size}");
            assert_eq!(parse(&f, false), Ok(TAG), "size {size}");
            // Direction 1 sends from side 1's MAC of the flow to side 0's.
            assert_eq!(&f[0..6], &flow_mac(0, 499_999).0);
            assert_eq!(&f[6..12], &flow_mac(1, 499_999).0);
        }
    }

    #[test]
    fn byte_fixture() {
        let f = frame(64, &TAG);
        assert_eq!(
            &f[..40],
            &[
                0x02, 0x10, 0x00, 0x07, 0xa1, 0x1f, // dst: side 0, flow 499999
                0x02, 0x11, 0x00, 0x07, 0xa1, 0x1f, // src: side 1
                0x88, 0xb5, b'D', b'P', b'G', b'N', 1, 2, // dir, phase
                0x00, 0x07, 0xa1, 0x1f, // flow
                1, 2, 3, 4, 5, 6, 7, 8, // seq
                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // tsc
            ][..]
        );
    }

    #[test]
    fn every_flipped_bit_is_caught_or_makes_the_frame_foreign() {
        let good = frame(128, &TAG);
        for byte in 0..good.len() {
            for bit in 0..8 {
                let mut f = good.clone();
                f[byte] ^= 1 << bit;
                let got = parse(&f, true);
                assert!(
                    got.is_err(),
                    "flip of byte {byte} bit {bit} went unnoticed: {got:?}"
                );
            }
        }
    }

    #[test]
    fn sampled_check_sees_truncation_and_tail_damage() {
        let good = frame(256, &TAG);
        // A frame cut short fails the length-keyed check word.
        assert_eq!(parse(&good[..200], false), Err(RxError::Corrupt));
        let mut f = good.clone();
        f[255] ^= 0x80;
        assert_eq!(parse(&f, false), Err(RxError::Corrupt));
        // Damage in the middle of the payload is only seen by the full check.
        let mut f = good.clone();
        f[100] ^= 1;
        assert_eq!(parse(&f, false), Ok(TAG));
        assert_eq!(parse(&f, true), Err(RxError::Corrupt));
    }

    #[test]
    fn other_traffic_is_foreign() {
        assert_eq!(parse(&[0u8; 10], true), Err(RxError::Foreign));
        assert_eq!(parse(&[0u8; 64], true), Err(RxError::Foreign));
        let mut step = vec![0u8; 64];
        crate::frames::build(
            &mut step,
            &crate::frames::FrameSpec {
                src: flow_mac(0, 1),
                dst: flow_mac(1, 1),
                size: 64,
                ethertype: ETHERTYPE,
            },
            0,
            0,
        );
        assert_eq!(parse(&step, true), Err(RxError::Foreign));
    }

    #[test]
    fn flow_macs_are_distinct_unicast_and_learnable() {
        let mut seen = std::collections::HashSet::new();
        for flow in [0u32, 1, 255, 256, 65_535, 999_999, u32::MAX] {
            for side in 0..2 {
                let m = flow_mac(side, flow);
                assert!(m.is_learnable(), "{m}");
                assert!(seen.insert(m), "{m} twice");
            }
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(SizeMix::parse("64"), Ok(SizeMix::Fixed(64)));
        assert_eq!(SizeMix::parse("IMIX"), Ok(SizeMix::Imix));
        for bad in ["59", "1519", "x", ""] {
            let e = SizeMix::parse(bad).unwrap_err();
            assert!(e.contains("--size") && e.contains("imix"), "{e}");
        }
        let imix = SizeMix::Imix.schedule();
        assert_eq!(imix.iter().filter(|&&s| s == 64).count(), 7);
        assert_eq!(imix.iter().filter(|&&s| s == 576).count(), 4);
        assert_eq!(imix.iter().filter(|&&s| s == 1518).count(), 1);
    }
}
