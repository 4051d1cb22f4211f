//! A reader for classic pcap files (what `tcpdump -w` writes): a 24-byte global header,
//! then per frame a 16-byte record header and the captured bytes. Either byte order,
//! microsecond or nanosecond timestamps; Ethernet (linktype 1) only.

use std::path::Path;

/// Why a file is not a pcap file this reader takes.
#[derive(Debug, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the global header.
    Short,
    /// Not one of the four classic magic numbers.
    BadMagic(u32),
    /// A link type other than Ethernet.
    LinkType(u32),
}

/// One captured frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The frame's length on the wire.
    pub orig_len: u32,
    /// The captured bytes (shorter than `orig_len` if the snap length cut it).
    pub data: Vec<u8>,
}

/// Parses the whole of `bytes`. A record cut short at the end (a capture still being
/// written) is left out, not an error.
pub fn parse(bytes: &[u8]) -> Result<Vec<Record>, PcapError> {
    if bytes.len() < 24 {
        return Err(PcapError::Short);
    }
    let magic_le = u32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let big = match magic_le {
        0xa1b2_c3d4 | 0xa1b2_3c4d => false,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => true,
        m => return Err(PcapError::BadMagic(m)),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let linktype = u32_at(20);
    if linktype != 1 {
        return Err(PcapError::LinkType(linktype));
    }
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let caplen = u32_at(at + 8) as usize;
        let orig_len = u32_at(at + 12);
        let start = at + 16;
        if start + caplen > bytes.len() {
            break;
        }
        out.push(Record {
            orig_len,
            data: bytes[start..start + caplen].to_vec(),
        });
        at = start + caplen;
    }
    Ok(out)
}

/// Reads and parses a pcap file; a file that does not exist yet or has no complete
/// global header reads as no frames.
pub fn read(path: &Path) -> Result<Vec<Record>, PcapError> {
    match std::fs::read(path) {
        Ok(b) if b.len() >= 24 => parse(&b),
        Ok(_) | Err(_) => Ok(Vec::new()),
    }
}
