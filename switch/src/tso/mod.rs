//! Software TCP segmentation (GSO) of the large TCP frames a guest hands over when it
//! negotiated host TSO (`VIRTIO_NET_F_HOST_TSO4/6`): a frame of up to 64 KiB with one set
//! of headers and a maximum segment size, which must be cut into MSS-sized frames before it
//! goes to a port that cannot take it whole (a guest without `GUEST_TSO`, a NIC, the VXLAN
//! underlay).
//!
//! This is plain Rust over bytes: [`TcpSegmenter::new`] checks the headers once (Ethernet
//! with at most one VLAN tag, IPv4 without fragments or IPv6 without extension headers,
//! TCP), then [`TcpSegmenter::write_segment`] turns a buffer that already holds segment
//! `i`'s payload into a complete frame: headers copied and adjusted (IPv4 total length,
//! identification and header checksum; IPv6 payload length; TCP sequence number and flags)
//! and the TCP checksum computed over the whole segment. Nothing here can panic once `new`
//! accepted the headers and the caller passes a buffer of [`TcpSegmenter::segment_len`].
//! The caller (the dataplane) copies the payload out of its chained packet buffers.
//!
//! What segments look like follows Linux's `tcp_gso_segment`: sequence numbers advance by
//! the payload, CWR only on the first segment, FIN and PSH only on the last, the IPv4
//! identification increments per segment.

use crate::wire::{fold_checksum, sum_words};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const PROTO_TCP: u8 = 6;
const IPV6_HEADER_LEN: usize = 40;
const TCP_MIN_HEADER_LEN: usize = 20;

const TCP_FIN: u8 = 0x01;
const TCP_PSH: u8 = 0x08;
const TCP_CWR: u8 = 0x80;

/// Why a large frame cannot be segmented: counted as a drop under this name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsoError {
    /// The headers are cut short, are not Ethernet/IP/TCP, or carry IPv4 options past the
    /// frame, IPv6 extension headers, or IP fragments.
    NotTcp,
    /// The MSS is 0, or the frame is no longer than its headers.
    BadSize,
    /// The frame's IP length fields disagree with its length.
    LengthMismatch,
}

impl TsoError {
    /// Every reason, in [`index`](Self::index) order.
    pub const ALL: [TsoError; 3] = [
        TsoError::NotTcp,
        TsoError::BadSize,
        TsoError::LengthMismatch,
    ];

    /// Position in [`ALL`](Self::ALL), for per-reason counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            TsoError::NotTcp => "tso_not_tcp",
            TsoError::BadSize => "tso_bad_size",
            TsoError::LengthMismatch => "tso_length_mismatch",
        }
    }
}

/// The IP version of a large TCP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    V4,
    V6,
}

/// Header lengths of a TCP frame, as a TSO-capable receiver (or a NIC) needs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpHeaders {
    pub ip: IpVersion,
    pub l2_len: usize,
    pub l3_len: usize,
    pub l4_len: usize,
}

impl TcpHeaders {
    /// Parses the headers at the start of `head` (the first bytes of a frame; they must all
    /// be in it).
    pub fn parse(head: &[u8]) -> Result<TcpHeaders, TsoError> {
        let be16 = |at: usize| -> Result<u16, TsoError> {
            head.get(at..at + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(TsoError::NotTcp)
        };
        let mut l2_len = 14;
        let mut ethertype = be16(12)?;
        if ethertype == ETHERTYPE_VLAN {
            l2_len = 18;
            ethertype = be16(16)?;
        }
        let (ip, l3_len) = match ethertype {
            ETHERTYPE_IPV4 => {
                let ihl = usize::from(*head.get(l2_len).ok_or(TsoError::NotTcp)? & 0x0f) * 4;
                let flags_frag = be16(l2_len + 6)?;
                // More-fragments or a fragment offset: a fragment has no TCP header to cut by.
                if ihl < 20 || flags_frag & 0x3fff != 0 {
                    return Err(TsoError::NotTcp);
                }
                if head.get(l2_len).map(|b| b >> 4) != Some(4)
                    || head.get(l2_len + 9) != Some(&PROTO_TCP)
                {
                    return Err(TsoError::NotTcp);
                }
                (IpVersion::V4, ihl)
            }
            ETHERTYPE_IPV6 => {
                if head.get(l2_len).map(|b| b >> 4) != Some(6)
                    || head.get(l2_len + 6) != Some(&PROTO_TCP)
                {
                    return Err(TsoError::NotTcp);
                }
                (IpVersion::V6, IPV6_HEADER_LEN)
            }
            _ => return Err(TsoError::NotTcp),
        };
        let tcp = l2_len + l3_len;
        let l4_len = usize::from(*head.get(tcp + 12).ok_or(TsoError::NotTcp)? >> 4) * 4;
        if l4_len < TCP_MIN_HEADER_LEN || head.len() < tcp + l4_len {
            return Err(TsoError::NotTcp);
        }
        Ok(TcpHeaders {
            ip,
            l2_len,
            l3_len,
            l4_len,
        })
    }

    /// All headers: where the TCP payload starts.
    pub fn len(&self) -> usize {
        self.l2_len + self.l3_len + self.l4_len
    }

    /// Never: a TCP frame has headers.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Cuts one large TCP frame into segments of at most `mss` payload bytes.
#[derive(Clone, Debug)]
pub struct TcpSegmenter {
    /// A copy of the frame's headers (at most 14 + 4 + 60 + 60 bytes).
    headers: [u8; MAX_HEADERS],
    hdr: TcpHeaders,
    mss: usize,
    payload_len: usize,
    seq: u32,
    ip_id: u16,
    flags: u8,
}

/// The longest headers a segmented frame can have: Ethernet + VLAN tag, IPv4 with options
/// (60; IPv6 is 40), TCP with options (60).
pub const MAX_HEADERS: usize = 18 + 60 + 60;

impl TcpSegmenter {
    /// Checks the headers at the start of `head` for a frame of `frame_len` bytes in all
    /// (its IP length fields must agree: a TSO frame's IPv4 total length or IPv6 payload
    /// length covers the whole frame), to be cut at `mss` payload bytes.
    pub fn new(head: &[u8], frame_len: usize, mss: u16) -> Result<TcpSegmenter, TsoError> {
        let hdr = TcpHeaders::parse(head)?;
        let hlen = hdr.len();
        let mss = usize::from(mss);
        if mss == 0 || frame_len <= hlen {
            return Err(TsoError::BadSize);
        }
        let ip_len_field = u16::from_be_bytes([head[hdr.l2_len + 2], head[hdr.l2_len + 3]]);
        let l3_and_up = frame_len - hdr.l2_len;
        let consistent = match hdr.ip {
            IpVersion::V4 => usize::from(ip_len_field) == l3_and_up,
            // IPv6 payload length (bytes 4..6), which excludes the fixed header. A guest's
            // 64 KiB frame still fits (no jumbogram).
            IpVersion::V6 => {
                let pl = u16::from_be_bytes([head[hdr.l2_len + 4], head[hdr.l2_len + 5]]);
                usize::from(pl) + IPV6_HEADER_LEN == l3_and_up
            }
        };
        if !consistent {
            return Err(TsoError::LengthMismatch);
        }
        let tcp = hdr.l2_len + hdr.l3_len;
        let mut headers = [0u8; MAX_HEADERS];
        headers[..hlen].copy_from_slice(&head[..hlen]);
        Ok(TcpSegmenter {
            headers,
            hdr,
            mss,
            payload_len: frame_len - hlen,
            seq: u32::from_be_bytes([head[tcp + 4], head[tcp + 5], head[tcp + 6], head[tcp + 7]]),
            ip_id: u16::from_be_bytes([head[hdr.l2_len + 4], head[hdr.l2_len + 5]]),
            flags: head[tcp + 13],
        })
    }

    pub fn headers(&self) -> TcpHeaders {
        self.hdr
    }

    /// Lowers the MSS, if need be, so that no segment is longer than `max_frame` bytes
    /// (headers included); a limit that leaves no room for payload is ignored.
    pub fn limit_frame_len(&mut self, max_frame: usize) {
        let room = max_frame.saturating_sub(self.hdr.len());
        if room > 0 {
            self.mss = self.mss.min(room);
        }
    }

    /// How many segments the frame makes.
    pub fn count(&self) -> usize {
        self.payload_len.div_ceil(self.mss)
    }

    /// Where segment `i`'s payload starts in the original frame's payload, and its length.
    pub fn payload_range(&self, i: usize) -> (usize, usize) {
        let start = (i * self.mss).min(self.payload_len);
        (start, self.mss.min(self.payload_len - start))
    }

    /// The length of segment `i` as a frame.
    pub fn segment_len(&self, i: usize) -> usize {
        self.hdr.len() + self.payload_range(i).1
    }

    /// Completes segment `i` in `out`, which is [`segment_len`](Self::segment_len) long and
    /// holds the segment's payload after the headers; returns false (and writes nothing)
    /// when `out` has another length.
    pub fn write_segment(&self, i: usize, out: &mut [u8]) -> bool {
        let hlen = self.hdr.len();
        let (start, len) = self.payload_range(i);
        if out.len() != hlen + len || i >= self.count() {
            return false;
        }
        out[..hlen].copy_from_slice(&self.headers[..hlen]);
        let l3 = self.hdr.l2_len;
        let tcp = l3 + self.hdr.l3_len;
        let tcp_len = self.hdr.l4_len + len;
        // IP: lengths, and for IPv4 the identification and the header checksum.
        let pseudo = match self.hdr.ip {
            IpVersion::V4 => {
                let total = (self.hdr.l3_len + tcp_len) as u16;
                out[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
                let id = self.ip_id.wrapping_add(i as u16);
                out[l3 + 4..l3 + 6].copy_from_slice(&id.to_be_bytes());
                out[l3 + 10..l3 + 12].copy_from_slice(&[0, 0]);
                let ip_sum = fold_checksum(sum_words(&out[l3..tcp]));
                out[l3 + 10..l3 + 12].copy_from_slice(&ip_sum.to_be_bytes());
                // Pseudo-header: addresses, protocol, TCP length.
                sum_words(&out[l3 + 12..l3 + 20]) + u32::from(PROTO_TCP) + tcp_len as u32
            }
            IpVersion::V6 => {
                out[l3 + 4..l3 + 6].copy_from_slice(&(tcp_len as u16).to_be_bytes());
                sum_words(&out[l3 + 8..l3 + 40]) + u32::from(PROTO_TCP) + tcp_len as u32
            }
        };
        // TCP: sequence number, flags, checksum.
        let seq = self.seq.wrapping_add(start as u32);
        out[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
        let last = i + 1 == self.count();
        let mut flags = self.flags;
        if i > 0 {
            flags &= !TCP_CWR;
        }
        if !last {
            flags &= !(TCP_FIN | TCP_PSH);
        }
        out[tcp + 13] = flags;
        out[tcp + 16..tcp + 18].copy_from_slice(&[0, 0]);
        let sum = fold_checksum(pseudo + sum_words(&out[tcp..]));
        out[tcp + 16..tcp + 18].copy_from_slice(&sum.to_be_bytes());
        true
    }
}

#[cfg(test)]
mod tests;
