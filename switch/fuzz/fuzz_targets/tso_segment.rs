//! Feeds arbitrary frames (first two bytes: the MSS; the rest: the frame) to the software
//! TCP segmenter and checks what the poll loop relies on: no panic, segments that each fit
//! their declared length, and payload ranges that tile the frame's payload exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switch::tso::TcpSegmenter;

fuzz_target!(|data: &[u8]| {
    let Some((mss, frame)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mss = u16::from_be_bytes(*mss);
    let Ok(s) = TcpSegmenter::new(frame, frame.len(), mss) else {
        return;
    };
    let hlen = s.headers().len();
    let mut next = 0;
    for i in 0..s.count() {
        let (start, len) = s.payload_range(i);
        assert_eq!(start, next, "segments tile the payload");
        assert!(len > 0 && len <= usize::from(mss));
        next = start + len;
        let mut out = vec![0u8; s.segment_len(i)];
        out[hlen..].copy_from_slice(&frame[hlen + start..hlen + start + len]);
        assert!(s.write_segment(i, &mut out));
    }
    assert_eq!(hlen + next, frame.len(), "the whole payload, once");
});
