//! The outer UDP source port of an encapsulated frame: a hash of the inner flow, so the
//! underlay's ECMP and the receiving NIC's RSS (which only see the outer headers) spread
//! flows, while every frame of one flow takes the same path and stays in order.
//!
//! Hashed: the inner Ethernet addresses and type and, when present, the inner IPv4 or IPv6
//! addresses, protocol and (for unfragmented TCP/UDP) ports — the 5-tuple VPP and Linux use.
//! The result is scaled into the configured range (RFC 7348 recommends 49152-65535; VPP's
//! raw 16-bit hash falls outside it, its issue VPP-596).

use crate::wire::EtherType;

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline(always)]
fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    let n = b.len().min(8);
    a[..n].copy_from_slice(&b[..n]);
    u64::from_be_bytes(a)
}

/// A 32-bit hash of the flow `frame` (an inner Ethernet frame) belongs to. Never panics;
/// a frame too short for a header hashes what it has.
///
/// Each field group is multiplied by its own odd constant and the products XORed, so the
/// multiplications run in parallel rather than as a dependent chain (it runs per
/// encapsulated frame); one final multiply-fold mixes the result.
#[inline]
pub fn flow_hash(frame: &[u8]) -> u32 {
    if frame.len() < 14 {
        return fold(be_u64(frame).wrapping_mul(K[0]));
    }
    // dst + src MAC (12 bytes) and the EtherType.
    let l2 = be_u64(&frame[0..8]) ^ be_u64(&frame[6..14]).rotate_left(32);
    let mut h = l2.wrapping_mul(K[0]) ^ u64::from(frame[12]);
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let l3 = &frame[14..];
    match ethertype {
        EtherType::IPV4 if l3.len() >= 20 && l3[0] >> 4 == 4 => {
            let ihl = usize::from(l3[0] & 0x0f) * 4;
            let proto = l3[9];
            // Source and destination address, 8 bytes at offset 12.
            h ^= (be_u64(&l3[12..20]) ^ u64::from(proto)).wrapping_mul(K[1]);
            let frag = u16::from_be_bytes([l3[6], l3[7]]) & 0x3fff;
            if frag == 0 && (proto == 6 || proto == 17) && ihl >= 20 && l3.len() >= ihl + 4 {
                h ^= (be_u64(&l3[ihl..ihl + 4]) | 1).wrapping_mul(K[2]);
            }
        }
        EtherType::IPV6 if l3.len() >= 40 => {
            let next = l3[6];
            h ^= be_u64(&l3[8..16]).wrapping_mul(K[1]);
            h ^= be_u64(&l3[16..24]).wrapping_mul(K[2]);
            h ^= be_u64(&l3[24..32]).wrapping_mul(K[3]);
            h ^= (be_u64(&l3[32..40]) ^ u64::from(next)).wrapping_mul(K[4]);
            if (next == 6 || next == 17) && l3.len() >= 44 {
                h ^= (be_u64(&l3[40..44]) | 1).wrapping_mul(K[5]);
            }
        }
        _ => {}
    }
    fold(h)
}

/// Odd multipliers, one per field group (from the splitmix64 / xxHash families).
const K: [u64; 6] = [
    MUL,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0x27D4_EB2F_1656_67C5,
];

#[inline(always)]
fn fold(h: u64) -> u32 {
    let h = (h ^ (h >> 31)).wrapping_mul(K[1]);
    ((h ^ (h >> 29)) >> 32) as u32
}

/// `hash` scaled into `lo..=hi` (multiply-shift: no division, and uniform for a uniform
/// hash).
#[inline]
pub fn source_port(hash: u32, lo: u16, hi: u16) -> u16 {
    let span = u64::from(hi.saturating_sub(lo)) + 1;
    lo + ((u64::from(hash) * span) >> 32) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// An Ethernet + IPv4 + UDP frame between fixed hosts with the given ports.
    fn udp_frame(sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 8];
        f[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 2]);
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x45;
        f[14 + 9] = 17;
        f[14 + 12..14 + 16].copy_from_slice(&[10, 0, 0, 1]);
        f[14 + 16..14 + 20].copy_from_slice(&[10, 0, 0, 2]);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn ports_stay_in_range_and_flows_spread() {
        let mut seen = HashSet::new();
        for sport in 1000..1256u16 {
            let p = source_port(flow_hash(&udp_frame(sport, 53)), 49152, 65535);
            assert!(p >= 49152);
            seen.insert(p);
        }
        // 256 flows over 16384 ports: a good hash collides rarely.
        assert!(seen.len() > 240, "only {} distinct ports", seen.len());
        // The same when only the inner destination address, or only the MACs, differ.
        let mut by_ip = HashSet::new();
        let mut by_mac = HashSet::new();
        for host in 0..256u16 {
            let mut f = udp_frame(1000, 53);
            f[14 + 18..14 + 20].copy_from_slice(&host.to_be_bytes());
            by_ip.insert(source_port(flow_hash(&f), 49152, 65535));
            let mut g = udp_frame(1000, 53);
            g[4..6].copy_from_slice(&host.to_be_bytes());
            by_mac.insert(source_port(flow_hash(&g), 49152, 65535));
        }
        assert!(
            by_ip.len() > 240,
            "only {} ports over addresses",
            by_ip.len()
        );
        assert!(by_mac.len() > 240, "only {} ports over MACs", by_mac.len());
        for h in [0, 1, u32::MAX / 2, u32::MAX] {
            assert!((1000..=1009).contains(&source_port(h, 1000, 1009)));
            assert_eq!(source_port(h, 4789, 4789), 4789);
        }
        assert_eq!(source_port(u32::MAX, 0, u16::MAX), u16::MAX);
    }

    #[test]
    fn one_flow_one_port_and_ports_matter() {
        let a = flow_hash(&udp_frame(1234, 80));
        assert_eq!(a, flow_hash(&udp_frame(1234, 80)));
        assert_ne!(a, flow_hash(&udp_frame(1235, 80)));
        assert_ne!(a, flow_hash(&udp_frame(1234, 81)));
        // A fragment (offset set) hashes without ports: all its pieces go the same way.
        let mut frag1 = udp_frame(1234, 80);
        let mut frag2 = udp_frame(9999, 9999);
        for f in [&mut frag1, &mut frag2] {
            f[14 + 6] = 0x00;
            f[14 + 7] = 0x10;
        }
        assert_eq!(flow_hash(&frag1), flow_hash(&frag2));
    }

    #[test]
    fn short_and_odd_frames_never_panic() {
        let f = udp_frame(1, 2);
        for len in 0..=f.len() {
            let _ = flow_hash(&f[..len]);
        }
        let mut v6 = [0u8; 14 + 44];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        v6[14 + 6] = 6;
        for len in 0..=v6.len() {
            let _ = flow_hash(&v6[..len]);
        }
        // IHL claiming more than the frame holds.
        let mut bad = udp_frame(1, 2);
        bad[14] = 0x4f;
        let _ = flow_hash(&bad);
    }
}
