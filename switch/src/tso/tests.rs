use super::*;

/// A TCP frame as a guest with host TSO hands it over: one set of headers, `payload_len`
/// bytes of payload, the IP length fields covering all of it, TCP flags `flags`.
fn big_frame(ip: IpVersion, vlan: bool, payload_len: usize, flags: u8) -> Vec<u8> {
    let mut f = vec![0x02, 0, 0, 0, 0, 0xb, 0x02, 0, 0, 0, 0, 0xa];
    if vlan {
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
    }
    let tcp_len = 32 + payload_len; // TCP header with 12 bytes of options
    match ip {
        IpVersion::V4 => {
            f.extend_from_slice(&[0x08, 0x00]);
            let total = (20 + tcp_len) as u16;
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 6, 0, 0]);
            f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        }
        IpVersion::V6 => {
            f.extend_from_slice(&[0x86, 0xdd]);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&(tcp_len as u16).to_be_bytes());
            f.extend_from_slice(&[6, 64]);
            f.extend_from_slice(&[0x20, 1, 0xd, 0xb8].repeat(4));
            f.extend_from_slice(&[0x20, 1, 0xd, 0xb9].repeat(4));
        }
    }
    f.extend_from_slice(&[0x30, 0x39, 0x14, 0x51]); // ports 12345 -> 5201
    f.extend_from_slice(&0xffff_fff0u32.to_be_bytes()); // seq: wraps during the frame
    f.extend_from_slice(&7u32.to_be_bytes()); // ack
    f.extend_from_slice(&[0x80, flags, 0x01, 0xf5, 0xab, 0xcd, 0, 0]); // doff 8, csum partial
    f.extend_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]); // NOP NOP timestamps
    f.extend((0..payload_len).map(|i| (i * 13 + 5) as u8));
    f
}

/// Verifies a finished segment independently of the code under test: IPv4 header checksum,
/// TCP checksum over an independently built pseudo-header.
fn checksums_ok(seg: &[u8], h: TcpHeaders) -> bool {
    let l3 = h.l2_len;
    let tcp = l3 + h.l3_len;
    let tcp_len = seg.len() - tcp;
    let mut pseudo = Vec::new();
    match h.ip {
        IpVersion::V4 => {
            if fold_checksum(sum_words(&seg[l3..tcp])) != 0 {
                return false;
            }
            pseudo.extend_from_slice(&seg[l3 + 12..l3 + 20]);
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&(tcp_len as u16).to_be_bytes());
        }
        IpVersion::V6 => {
            pseudo.extend_from_slice(&seg[l3 + 8..l3 + 40]);
            pseudo.extend_from_slice(&(tcp_len as u32).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, 6]);
        }
    }
    let mut all = pseudo;
    all.extend_from_slice(&seg[tcp..]);
    fold_checksum(sum_words(&all)) == 0
}

/// Segments `frame` the way the dataplane does (payload copied in, then write_segment).
fn segment(frame: &[u8], mss: u16) -> (TcpSegmenter, Vec<Vec<u8>>) {
    let s = TcpSegmenter::new(frame, frame.len(), mss).expect("segmentable");
    let hlen = s.headers().len();
    let segs = (0..s.count())
        .map(|i| {
            let (start, len) = s.payload_range(i);
            let mut out = vec![0u8; s.segment_len(i)];
            out[hlen..].copy_from_slice(&frame[hlen + start..hlen + start + len]);
            assert!(s.write_segment(i, &mut out));
            out
        })
        .collect();
    (s, segs)
}

#[test]
fn segments_carry_the_payload_in_order_with_valid_headers() {
    for (ip, vlan) in [
        (IpVersion::V4, false),
        (IpVersion::V4, true),
        (IpVersion::V6, false),
        (IpVersion::V6, true),
    ] {
        let what = format!("{ip:?} vlan={vlan}");
        let payload = 10_000;
        let frame = big_frame(ip, vlan, payload, TCP_PSH | TCP_FIN | TCP_CWR | 0x10);
        let (s, segs) = segment(&frame, 1448);
        let h = s.headers();
        assert_eq!(h.l2_len, if vlan { 18 } else { 14 }, "{what}");
        assert_eq!(h.l4_len, 32, "{what}");
        assert_eq!(segs.len(), 7, "{what}: ceil(10000 / 1448)");
        let hlen = h.len();
        let mut joined = Vec::new();
        for (i, seg) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            assert_eq!(
                seg.len(),
                hlen + if last { 10_000 - 6 * 1448 } else { 1448 }
            );
            assert!(checksums_ok(seg, h), "{what}: segment {i} checksums");
            // Everything before the IP header is the original's.
            assert_eq!(seg[..h.l2_len], frame[..h.l2_len], "{what}");
            let l3 = h.l2_len;
            let tcp = l3 + h.l3_len;
            match ip {
                IpVersion::V4 => {
                    let total = u16::from_be_bytes([seg[l3 + 2], seg[l3 + 3]]);
                    assert_eq!(usize::from(total), seg.len() - l3, "{what}: total length");
                    let id = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]);
                    assert_eq!(id, 0x1234 + i as u16, "{what}: IP id increments");
                }
                IpVersion::V6 => {
                    let pl = u16::from_be_bytes([seg[l3 + 4], seg[l3 + 5]]);
                    assert_eq!(usize::from(pl), seg.len() - tcp, "{what}: payload length");
                }
            }
            let seq = u32::from_be_bytes([seg[tcp + 4], seg[tcp + 5], seg[tcp + 6], seg[tcp + 7]]);
            assert_eq!(
                seq,
                0xffff_fff0u32.wrapping_add(1448 * i as u32),
                "{what}: seq"
            );
            let flags = seg[tcp + 13];
            assert_eq!(
                flags & TCP_CWR != 0,
                i == 0,
                "{what}: CWR on the first only"
            );
            assert_eq!(
                flags & (TCP_FIN | TCP_PSH) != 0,
                last,
                "{what}: FIN/PSH on the last"
            );
            assert_eq!(flags & 0x10, 0x10, "{what}: ACK everywhere");
            // Options and the other header bytes are unchanged.
            assert_eq!(seg[tcp + 20..tcp + 32], frame[tcp + 20..tcp + 32], "{what}");
            joined.extend_from_slice(&seg[hlen..]);
        }
        assert_eq!(joined, frame[hlen..], "{what}: the payload, in order, once");
    }
}

#[test]
fn a_frame_within_one_mss_becomes_one_complete_segment() {
    let frame = big_frame(IpVersion::V4, false, 1000, 0x18);
    let (s, segs) = segment(&frame, 1448);
    assert_eq!(segs.len(), 1);
    assert!(checksums_ok(&segs[0], s.headers()));
    // Only the TCP checksum differs from the original (whose field held a partial sum).
    let tcp = 14 + 20;
    let mut expect = frame.clone();
    expect[tcp + 16..tcp + 18].copy_from_slice(&segs[0][tcp + 16..tcp + 18]);
    expect[14 + 10..14 + 12].copy_from_slice(&segs[0][14 + 10..14 + 12]);
    assert_eq!(segs[0], expect);
    // An odd payload length is summed with its last byte padded.
    let frame = big_frame(IpVersion::V6, false, 1447 * 2 + 1, 0x18);
    let (s, segs) = segment(&frame, 1447);
    assert_eq!(segs.len(), 3);
    assert!(segs.iter().all(|g| checksums_ok(g, s.headers())));
}

#[test]
fn frames_that_cannot_be_segmented_are_refused_by_name() {
    let good = big_frame(IpVersion::V4, false, 3000, 0x10);
    let n = good.len();
    assert_eq!(
        TcpSegmenter::new(&good, n, 0).unwrap_err(),
        TsoError::BadSize
    );
    assert_eq!(
        TcpSegmenter::new(&good, n + 1, 1448).unwrap_err(),
        TsoError::LengthMismatch
    );
    let mut udp = good.clone();
    udp[14 + 9] = 17;
    assert_eq!(
        TcpSegmenter::new(&udp, n, 1448).unwrap_err(),
        TsoError::NotTcp
    );
    let mut frag = good.clone();
    frag[14 + 6] = 0x20; // more fragments
    assert_eq!(
        TcpSegmenter::new(&frag, n, 1448).unwrap_err(),
        TsoError::NotTcp
    );
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        TcpSegmenter::new(&arp, n, 1448).unwrap_err(),
        TsoError::NotTcp
    );
    // Headers cut short anywhere.
    for cut in 0..14 + 20 + 32 {
        assert_eq!(
            TcpSegmenter::new(&good[..cut], n, 1448).unwrap_err(),
            TsoError::NotTcp,
            "cut at {cut}"
        );
    }
    assert_eq!(TsoError::NotTcp.name(), "tso_not_tcp");
    // A wrong buffer length is refused, not a panic.
    let s = TcpSegmenter::new(&good, n, 1448).unwrap();
    assert!(!s.write_segment(0, &mut [0u8; 10]));
    assert!(!s.write_segment(s.count(), &mut vec![0u8; s.segment_len(0)]));
}

/// Arbitrary bytes never panic the parser or the writer (a cheap stand-in for the fuzz
/// target between fuzzing runs).
#[test]
fn arbitrary_headers_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let base = big_frame(IpVersion::V4, true, 200, 0x10);
    for _ in 0..20_000 {
        let mut f = base.clone();
        for _ in 0..(next() % 6) {
            let at = (next() as usize) % f.len();
            f[at] = next() as u8;
        }
        let len = (next() as usize) % (f.len() + 8);
        let mss = (next() % 300) as u16;
        let head = &f[..len.min(f.len())];
        if let Ok(s) = TcpSegmenter::new(head, len, mss) {
            for i in 0..s.count().min(4) {
                let mut out = vec![0u8; s.segment_len(i)];
                assert!(s.write_segment(i, &mut out));
            }
        }
    }
}

#[test]
fn frame_length_limit_lowers_the_mss_only() {
    let frame = big_frame(IpVersion::V4, false, 3000, 0x10);
    let mut s = TcpSegmenter::new(&frame, frame.len(), 1448).unwrap();
    let hlen = s.headers().len();
    s.limit_frame_len(hlen + 1000);
    assert_eq!(s.count(), 3, "1000-byte segments");
    assert_eq!(s.segment_len(0), hlen + 1000);
    s.limit_frame_len(hlen + 2000);
    assert_eq!(
        s.segment_len(0),
        hlen + 1000,
        "a limit never raises the MSS"
    );
    s.limit_frame_len(hlen);
    assert_eq!(
        s.segment_len(0),
        hlen + 1000,
        "no room for payload: ignored"
    );
}

#[test]
fn error_indexes_follow_all() {
    for (i, e) in TsoError::ALL.into_iter().enumerate() {
        assert_eq!(e.index(), i);
    }
}
