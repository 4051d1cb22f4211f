//! Test frames the traffic tool sends and recognises: an Ethernet header, then a tag that
//! says which step and which sequence number the frame belongs to, then a byte pattern
//! derived from both. A receiver can rebuild the exact frame from the tag, so any changed
//! byte is detected.

use switch::wire::{EthernetFrame, MacAddr};

/// IEEE "local experimental" EtherType: never a real protocol on a test network.
pub const ETHERTYPE_TEST: u16 = 0x88b5;
const MAGIC: [u8; 4] = *b"DPTG";
/// Header + magic + step (u16) + seq (u32).
pub const MIN_TAGGED_LEN: usize = EthernetFrame::HEADER_LEN + 4 + 2 + 4;

/// What a step sends: every frame has these addresses and this length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameSpec {
    pub src: MacAddr,
    pub dst: MacAddr,
    pub size: usize,
    pub ethertype: u16,
}

/// Fills `buf` (exactly `spec.size` bytes) with frame `seq` of step `step`. Frames shorter
/// than a tagged frame are the header's first bytes then zeros: runts for error tests.
pub fn build(buf: &mut [u8], spec: &FrameSpec, step: u16, seq: u32) {
    debug_assert_eq!(buf.len(), spec.size);
    let mut full = [0u8; MIN_TAGGED_LEN];
    EthernetFrame::emit(&mut full, spec.dst, spec.src, spec.ethertype)
        .expect("fixed-size header buffer");
    full[14..18].copy_from_slice(&MAGIC);
    full[18..20].copy_from_slice(&step.to_be_bytes());
    full[20..24].copy_from_slice(&seq.to_be_bytes());
    let head = buf.len().min(MIN_TAGGED_LEN);
    buf[..head].copy_from_slice(&full[..head]);
    if buf.len() > MIN_TAGGED_LEN {
        fill_pattern(&mut buf[MIN_TAGGED_LEN..], step, seq);
    }
}

fn fill_pattern(out: &mut [u8], step: u16, seq: u32) {
    // A cheap sequence that differs per frame and per offset, so swapped or shifted bytes
    // show up as well as flipped ones.
    let mut x = (seq as u64) << 16 | step as u64 | 0x9e37_79b9_0000_0000;
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// The (step, seq) tag of a received frame, if it is one of ours.
pub fn tag(frame: &[u8]) -> Option<(u16, u32)> {
    if frame.len() < MIN_TAGGED_LEN || frame[14..18] != MAGIC {
        return None;
    }
    let step = u16::from_be_bytes([frame[18], frame[19]]);
    let seq = u32::from_be_bytes([frame[20], frame[21], frame[22], frame[23]]);
    Some((step, seq))
}

/// True when `frame` is byte for byte the frame `build` makes for (spec, step, seq).
pub fn is_intact(
    frame: &[u8],
    spec: &FrameSpec,
    step: u16,
    seq: u32,
    scratch: &mut Vec<u8>,
) -> bool {
    if frame.len() != spec.size {
        return false;
    }
    scratch.clear();
    scratch.resize(spec.size, 0);
    build(scratch, spec, step, seq);
    frame == scratch.as_slice()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: usize) -> FrameSpec {
        FrameSpec {
            src: "02:00:00:00:00:01".parse().unwrap(),
            dst: "02:00:00:00:00:02".parse().unwrap(),
            size,
            ethertype: ETHERTYPE_TEST,
        }
    }

    #[test]
    fn build_then_tag_and_verify() {
        let s = spec(64);
        let mut f = vec![0u8; 64];
        build(&mut f, &s, 3, 77);
        assert_eq!(&f[0..6], &s.dst.0);
        assert_eq!(&f[6..12], &s.src.0);
        assert_eq!(tag(&f), Some((3, 77)));
        let mut scratch = Vec::new();
        assert!(is_intact(&f, &s, 3, 77, &mut scratch));
        assert!(!is_intact(&f, &s, 3, 78, &mut scratch));
        f[40] ^= 1;
        assert!(
            !is_intact(&f, &s, 3, 77, &mut scratch),
            "a flipped payload bit is detected"
        );
    }

    #[test]
    fn runts_are_untagged() {
        for size in 0..MIN_TAGGED_LEN {
            let s = spec(size);
            let mut f = vec![0u8; size];
            build(&mut f, &s, 1, 1);
            assert_eq!(tag(&f), None);
        }
    }

    #[test]
    fn pattern_differs_between_frames() {
        let s = spec(128);
        let (mut a, mut b) = (vec![0u8; 128], vec![0u8; 128]);
        build(&mut a, &s, 0, 1);
        build(&mut b, &s, 0, 2);
        assert_ne!(a[MIN_TAGGED_LEN..], b[MIN_TAGGED_LEN..]);
    }
}
