//! The generator as a remote VTEP (`dp-traffic --vxlan VNI`): port 1 is not a guest but the
//! underlay port of the switch under test. What the generator sends there is wrapped in an
//! outer Ethernet/IPv4/UDP/VXLAN header (RFC 7348); what arrives there is checked as VXLAN
//! from the switch's VTEP and unwrapped before the usual inner checks; ARP for the
//! generator's VTEP address is answered.
//!
//! Per frame this costs what the switch's own encapsulation costs (`switch::vtep`): a copy
//! of a precomputed 50-byte template, the lengths, the IPv4 checksum from the template's
//! precomputed sum plus the length, and the flow's UDP source port; the check reads the same
//! 50 bytes once.
//!
//! ```text
//!  0     6     12  14                    34            42             50
//!  | dst | src |08 00| IPv4 (20, DF, UDP) | UDP (8, csum 0) | VXLAN (I, VNI) | inner frame
//! ```

use std::net::Ipv4Addr;
use switch::vtep::flow_hash;
use switch::wire::{
    fold_checksum, sum_words, ArpOperation, ArpPacket, ArpRepr, EtherType, IpProtocol, MacAddr,
    UdpPacket, VxlanPacket, VXLAN_IPV4_OVERHEAD,
};

/// Outer Ethernet + IPv4 + UDP + VXLAN.
pub const OUTER_LEN: usize = VXLAN_IPV4_OVERHEAD;
const ETH: usize = 14;
const IP: usize = ETH;
const UDP: usize = IP + 20;
const VX: usize = UDP + 8;
/// RFC 7348's source port range, as the switch under test uses by default.
const SPORT_LO: u16 = 49152;
const SPORT_HI: u16 = 65535;
const TTL: u8 = 64;

/// The generator's VTEP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VxlanOptions {
    pub vni: u32,
    /// The generator's own underlay address (the remote VTEP the switch talks to).
    pub local_ip: Ipv4Addr,
    /// The switch's VTEP address.
    pub remote_ip: Ipv4Addr,
    pub udp_port: u16,
    /// The generator's underlay MAC (port 1's).
    pub local_mac: MacAddr,
}

/// Why a frame received on the underlay port is not good VXLAN from the switch's VTEP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum OuterError {
    /// Neither IPv4 nor ARP: someone else's traffic (counted as foreign, not corrupt).
    NotIpv4 = 0,
    /// ARP: handled by [`Vtep::arp`], not counted as traffic.
    Arp,
    /// Shorter than the outer headers, or its IPv4 or UDP length does not match the frame.
    BadLength,
    /// Outer destination MAC is not the generator's, or the source not the switch VTEP's
    /// (once known).
    BadMac,
    /// Not version 4 with a 20-byte header, a fragment, or not UDP.
    BadIpHeader,
    BadIpChecksum,
    /// Outer addresses are not switch VTEP -> generator VTEP.
    BadAddress,
    /// UDP to another port than the VXLAN port.
    BadUdpPort,
    /// A UDP checksum that is neither 0 nor correct.
    BadUdpChecksum,
    /// VXLAN flags other than exactly I, or non-zero reserved bits.
    BadFlags,
    BadVni,
}

impl OuterError {
    pub const ALL: [OuterError; 11] = [
        OuterError::NotIpv4,
        OuterError::Arp,
        OuterError::BadLength,
        OuterError::BadMac,
        OuterError::BadIpHeader,
        OuterError::BadIpChecksum,
        OuterError::BadAddress,
        OuterError::BadUdpPort,
        OuterError::BadUdpChecksum,
        OuterError::BadFlags,
        OuterError::BadVni,
    ];

    pub fn name(self) -> &'static str {
        match self {
            OuterError::NotIpv4 => "not_ipv4",
            OuterError::Arp => "arp",
            OuterError::BadLength => "bad_length",
            OuterError::BadMac => "bad_mac",
            OuterError::BadIpHeader => "bad_ip_header",
            OuterError::BadIpChecksum => "bad_ip_checksum",
            OuterError::BadAddress => "bad_address",
            OuterError::BadUdpPort => "bad_udp_port",
            OuterError::BadUdpChecksum => "bad_udp_checksum",
            OuterError::BadFlags => "bad_flags",
            OuterError::BadVni => "bad_vni",
        }
    }
}

/// What [`Vtep::arp`] did with an ARP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArpAction {
    /// A request for the generator's address: the frame now holds the reply; send it back.
    Reply,
    /// Used (a reply, or a request for someone else), nothing to send.
    Consumed,
    /// Not Ethernet/IPv4 ARP.
    Malformed,
}

/// The outer UDP source port of flow `flow`: spread over 49152-65535 like a real VTEP's
/// hash of the inner flow, the same for every frame of the flow.
#[inline]
pub fn source_port(flow: u32) -> u16 {
    let h = flow.wrapping_add(1).wrapping_mul(0x9E37_79B1);
    flow_hash::source_port(h ^ (h >> 15), SPORT_LO, SPORT_HI)
}

/// The generator's VTEP: the outer header template and what it learned of the switch's.
#[derive(Clone, Debug)]
pub struct Vtep {
    pub opts: VxlanOptions,
    /// Everything but the lengths, the IPv4 checksum and the UDP source port.
    template: [u8; OUTER_LEN],
    /// Ones'-complement sum of the template's IPv4 header with total length and checksum 0.
    ip_sum: u32,
    /// The switch VTEP's MAC, once an ARP message or a VXLAN frame from it told.
    peer: Option<MacAddr>,
    /// The expected bytes of a received outer IPv4 header at offsets 12..20 (addresses).
    rx_addrs: [u8; 8],
}

impl Vtep {
    pub fn new(opts: VxlanOptions) -> Vtep {
        let mut h = [0u8; OUTER_LEN];
        // Destination: broadcast until the switch's VTEP MAC is known (it accepts both).
        h[0..6].copy_from_slice(&MacAddr::BROADCAST.0);
        h[6..12].copy_from_slice(&opts.local_mac.0);
        h[12..14].copy_from_slice(&EtherType::IPV4.to_be_bytes());
        let ip = &mut h[IP..UDP];
        ip[0] = 0x45;
        // Identification 0, DF: an atomic datagram (RFC 6864), as the switch's VTEP sends.
        ip[6] = 0x40;
        ip[8] = TTL;
        ip[9] = IpProtocol::UDP;
        ip[12..16].copy_from_slice(&opts.local_ip.octets());
        ip[16..20].copy_from_slice(&opts.remote_ip.octets());
        let ip_sum = sum_words(ip);
        h[UDP + 2..UDP + 4].copy_from_slice(&opts.udp_port.to_be_bytes());
        // UDP checksum 0 (allowed over IPv4, what RFC 7348 recommends).
        h[VX] = VxlanPacket::<&[u8]>::FLAG_I;
        h[VX + 4..VX + 7].copy_from_slice(&opts.vni.to_be_bytes()[1..4]);
        let mut rx_addrs = [0u8; 8];
        rx_addrs[..4].copy_from_slice(&opts.remote_ip.octets());
        rx_addrs[4..].copy_from_slice(&opts.local_ip.octets());
        Vtep {
            opts,
            template: h,
            ip_sum,
            peer: None,
            rx_addrs,
        }
    }

    /// The switch VTEP's MAC, if known.
    pub fn peer(&self) -> Option<MacAddr> {
        self.peer
    }

    /// From now on, frames go to `mac` and frames from another source are refused.
    pub fn set_peer(&mut self, mac: MacAddr) {
        self.peer = Some(mac);
        self.template[0..6].copy_from_slice(&mac.0);
    }

    /// Writes the outer header of an inner frame of `inner_len` bytes of flow `flow` into
    /// `out[..50]`.
    #[inline]
    pub fn write(&self, out: &mut [u8], inner_len: usize, flow: u32) {
        let h: &mut [u8; OUTER_LEN] = (&mut out[..OUTER_LEN])
            .try_into()
            .expect("room for the outer header");
        *h = self.template;
        let ip_len = (OUTER_LEN - ETH + inner_len) as u16;
        h[IP + 2..IP + 4].copy_from_slice(&ip_len.to_be_bytes());
        let csum = fold_checksum(self.ip_sum + u32::from(ip_len));
        h[IP + 10..IP + 12].copy_from_slice(&csum.to_be_bytes());
        h[UDP..UDP + 2].copy_from_slice(&source_port(flow).to_be_bytes());
        h[UDP + 4..UDP + 6].copy_from_slice(&(ip_len - 20).to_be_bytes());
    }

    /// Checks a frame received on the underlay port as VXLAN from the switch's VTEP to the
    /// generator's, in our VNI; the inner frame is then `frame[OUTER_LEN..]`. Learns the
    /// switch VTEP's MAC from the first good frame when no ARP told it yet.
    #[inline]
    pub fn check(&mut self, frame: &[u8]) -> Result<(), OuterError> {
        let Some(h) = frame.get(..OUTER_LEN) else {
            return match frame.get(12..14) {
                Some(&[0x08, 0x06]) => Err(OuterError::Arp),
                Some(&[0x08, 0x00]) => Err(OuterError::BadLength),
                _ => Err(OuterError::NotIpv4),
            };
        };
        match [h[12], h[13]] {
            [0x08, 0x00] => {}
            [0x08, 0x06] => return Err(OuterError::Arp),
            _ => return Err(OuterError::NotIpv4),
        }
        if h[0..6] != self.opts.local_mac.0 {
            return Err(OuterError::BadMac);
        }
        let ip = &h[IP..UDP];
        // Version 4, no options, not a fragment (DF alone is fine), UDP.
        if ip[0] != 0x45 || u16::from_be_bytes([ip[6], ip[7]]) & 0xbfff != 0 || ip[9] != 17 {
            return Err(OuterError::BadIpHeader);
        }
        if fold_checksum(sum_words(ip)) != 0 {
            return Err(OuterError::BadIpChecksum);
        }
        let ip_len = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
        let udp_len = usize::from(u16::from_be_bytes([h[UDP + 4], h[UDP + 5]]));
        if ETH + ip_len != frame.len() || udp_len + 20 != ip_len {
            return Err(OuterError::BadLength);
        }
        if ip[12..20] != self.rx_addrs {
            return Err(OuterError::BadAddress);
        }
        if h[UDP + 2..UDP + 4] != self.opts.udp_port.to_be_bytes() {
            return Err(OuterError::BadUdpPort);
        }
        if h[UDP + 6..UDP + 8] != [0, 0] {
            // Rare (the switch and OVS send 0): verify over the whole datagram.
            let udp = UdpPacket::new_checked(&frame[UDP..]).map_err(|_| OuterError::BadLength)?;
            if !udp.verify_checksum_ipv4(self.opts.remote_ip, self.opts.local_ip) {
                return Err(OuterError::BadUdpChecksum);
            }
        }
        // Flags exactly I; reserved bytes zero (receivers may ignore them, a test tool need not).
        if h[VX..VX + 4] != [VxlanPacket::<&[u8]>::FLAG_I, 0, 0, 0] || h[VX + 7] != 0 {
            return Err(OuterError::BadFlags);
        }
        if h[VX + 4..VX + 7] != self.template[VX + 4..VX + 7] {
            return Err(OuterError::BadVni);
        }
        let src = &h[6..12];
        match self.peer {
            Some(p) if src != p.0 => return Err(OuterError::BadMac),
            Some(_) => {}
            None => {
                let mac = MacAddr::from_bytes(src);
                if !mac.is_learnable() {
                    return Err(OuterError::BadMac);
                }
                self.set_peer(mac);
            }
        }
        Ok(())
    }

    /// Handles an ARP frame from the underlay port: a request for the generator's address
    /// is rewritten in place into the reply; a message from the switch's VTEP address
    /// teaches its MAC.
    pub fn arp(&mut self, frame: &mut [u8]) -> ArpAction {
        if frame.len() < ETH + ArpPacket::<&[u8]>::LEN {
            return ArpAction::Malformed;
        }
        let Ok(arp) = ArpPacket::new_checked(&frame[ETH..]) else {
            return ArpAction::Malformed;
        };
        let a = ArpRepr::parse(&arp);
        if a.sender_ip == self.opts.remote_ip && a.sender_mac.is_learnable() && self.peer.is_none()
        {
            self.set_peer(a.sender_mac);
        }
        if a.operation != ArpOperation::REQUEST
            || a.target_ip != self.opts.local_ip
            || !a.sender_mac.is_learnable()
        {
            return ArpAction::Consumed;
        }
        let me = self.opts.local_mac;
        frame[0..6].copy_from_slice(&a.sender_mac.0);
        frame[6..12].copy_from_slice(&me.0);
        let reply = ArpRepr {
            operation: ArpOperation::REPLY,
            sender_mac: me,
            sender_ip: self.opts.local_ip,
            target_mac: a.sender_mac,
            target_ip: a.sender_ip,
        };
        reply.emit(&mut frame[ETH..]).expect("length checked");
        ArpAction::Reply
    }

    /// A 60-byte broadcast ARP request for the switch's VTEP address: its reply tells the
    /// generator where to send, and the request itself resolves the generator's address in
    /// the switch (a VTEP learns the sender of a request for its own address).
    pub fn arp_request(&self) -> [u8; 60] {
        let mut f = [0u8; 60];
        f[0..6].copy_from_slice(&MacAddr::BROADCAST.0);
        f[6..12].copy_from_slice(&self.opts.local_mac.0);
        f[12..14].copy_from_slice(&EtherType::ARP.to_be_bytes());
        ArpRepr {
            operation: ArpOperation::REQUEST,
            sender_mac: self.opts.local_mac,
            sender_ip: self.opts.local_ip,
            target_mac: MacAddr::ZERO,
            target_ip: self.opts.remote_ip,
        }
        .emit(&mut f[ETH..])
        .expect("60 bytes hold an ARP request");
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> VxlanOptions {
        VxlanOptions {
            vni: 123,
            local_ip: Ipv4Addr::new(172, 31, 0, 1),
            remote_ip: Ipv4Addr::new(172, 31, 0, 2),
            udp_port: 4789,
            local_mac: MacAddr([0x02, 0x31, 0, 0, 0, 1]),
        }
    }

    const PEER: MacAddr = MacAddr([0x02, 0x31, 0, 0, 0, 2]);

    /// The switch's side: the generator's template with addresses and MACs swapped, as a
    /// frame from the switch VTEP to the generator.
    fn from_switch(inner: &[u8], flow: u32) -> Vec<u8> {
        let o = opts();
        let mut sw = Vtep::new(VxlanOptions {
            local_ip: o.remote_ip,
            remote_ip: o.local_ip,
            local_mac: PEER,
            ..o
        });
        sw.set_peer(o.local_mac);
        let mut f = vec![0u8; OUTER_LEN + inner.len()];
        sw.write(&mut f, inner.len(), flow);
        f[OUTER_LEN..].copy_from_slice(inner);
        f
    }

    #[test]
    fn byte_fixture() {
        let mut v = Vtep::new(opts());
        let mut out = [0u8; OUTER_LEN];
        // Broadcast until the peer is known.
        v.write(&mut out, 64, 7);
        assert_eq!(&out[0..6], &[0xff; 6]);
        v.set_peer(PEER);
        v.write(&mut out, 64, 7);
        let sport = source_port(7).to_be_bytes();
        #[rustfmt::skip]
        let want: [u8; OUTER_LEN] = [
            0x02, 0x31, 0, 0, 0, 2, // dst: the switch's VTEP
            0x02, 0x31, 0, 0, 0, 1, // src: ours
            0x08, 0x00,
            0x45, 0x00, 0x00, 100, // 20 + 8 + 8 + 64
            0x00, 0x00, 0x40, 0x00, // id 0, DF
            64, 17, 0x00, 0x00, // TTL, UDP, checksum (below)
            172, 31, 0, 1, 172, 31, 0, 2,
            sport[0], sport[1], 0x12, 0xb5, // 4789
            0x00, 80, 0x00, 0x00, // length 8 + 8 + 64, checksum 0
            0x08, 0, 0, 0, // I flag
            0, 0, 123, 0, // VNI
        ];
        let mut want = want;
        let csum = switch::wire::checksum(&want[14..34]);
        want[24..26].copy_from_slice(&csum.to_be_bytes());
        assert_eq!(out, want);
        // The IPv4 checksum is the one a full computation gives, and verifies.
        assert_eq!(switch::wire::checksum(&out[14..34]), 0);
        assert!((SPORT_LO..=SPORT_HI).contains(&u16::from_be_bytes(sport)));
    }

    #[test]
    fn checksum_is_right_at_every_size() {
        let v = Vtep::new(opts());
        for inner in [60, 64, 576, 1518] {
            let mut out = [0u8; OUTER_LEN];
            v.write(&mut out, inner, 1);
            assert_eq!(switch::wire::checksum(&out[14..34]), 0, "{inner}");
        }
    }

    #[test]
    fn frames_from_the_switch_pass_and_teach_its_mac() {
        let inner = [0x5au8; 64];
        let f = from_switch(&inner, 3);
        let mut v = Vtep::new(opts());
        assert_eq!(v.peer(), None);
        assert_eq!(v.check(&f), Ok(()));
        assert_eq!(v.peer(), Some(PEER));
        // What the generator sends next goes to it.
        let mut out = [0u8; OUTER_LEN];
        v.write(&mut out, 64, 3);
        assert_eq!(&out[0..6], &PEER.0);
    }

    #[test]
    fn every_flipped_bit_of_the_outer_header_is_caught_but_the_source_port() {
        let f = from_switch(&[0xa5u8; 100], 9);
        let mut v = Vtep::new(opts());
        v.set_peer(PEER);
        assert_eq!(v.check(&f), Ok(()));
        for byte in 0..OUTER_LEN {
            for bit in 0..8 {
                let mut g = f.clone();
                g[byte] ^= 1 << bit;
                let got = v.check(&g);
                if (UDP..UDP + 2).contains(&byte) {
                    // Any source port is valid: a VTEP chooses it per flow.
                    assert_eq!(got, Ok(()), "source port byte {byte} bit {bit}");
                } else {
                    assert!(got.is_err(), "flip of byte {byte} bit {bit} went unnoticed");
                }
            }
        }
        // Truncated or padded frames fail the length check.
        assert_eq!(v.check(&f[..f.len() - 1]), Err(OuterError::BadLength));
        let mut longer = f.clone();
        longer.push(0);
        assert_eq!(v.check(&longer), Err(OuterError::BadLength));
        assert_eq!(v.check(&f[..40]), Err(OuterError::BadLength));
    }

    #[test]
    fn named_errors() {
        let f = from_switch(&[0u8; 64], 1);
        let mut v = Vtep::new(opts());
        v.set_peer(PEER);
        let flip = |at: usize, x: u8| {
            let mut g = f.clone();
            g[at] ^= x;
            g
        };
        assert_eq!(v.check(&flip(0, 1)), Err(OuterError::BadMac));
        assert_eq!(v.check(&flip(11, 1)), Err(OuterError::BadMac));
        assert_eq!(v.check(&flip(13, 0x06)), Err(OuterError::Arp));
        assert_eq!(v.check(&flip(12, 0x80)), Err(OuterError::NotIpv4));
        assert_eq!(v.check(&flip(IP + 9, 0x02)), Err(OuterError::BadIpHeader));
        assert_eq!(v.check(&flip(IP + 8, 1)), Err(OuterError::BadIpChecksum));
        // A consistent header to another VNI, port or address: rewrite with a fixed checksum.
        let other = |o: VxlanOptions| {
            let mut sw = Vtep::new(o);
            sw.set_peer(opts().local_mac);
            let mut g = f.clone();
            sw.write(&mut g, 64, 1);
            g[6..12].copy_from_slice(&PEER.0);
            g
        };
        let sw = VxlanOptions {
            local_ip: opts().remote_ip,
            remote_ip: opts().local_ip,
            local_mac: PEER,
            ..opts()
        };
        assert_eq!(v.check(&other(sw)), Ok(()));
        assert_eq!(
            v.check(&other(VxlanOptions { vni: 124, ..sw })),
            Err(OuterError::BadVni)
        );
        assert_eq!(
            v.check(&other(VxlanOptions {
                udp_port: 8472,
                ..sw
            })),
            Err(OuterError::BadUdpPort)
        );
        assert_eq!(
            v.check(&other(VxlanOptions {
                local_ip: Ipv4Addr::new(172, 31, 0, 3),
                ..sw
            })),
            Err(OuterError::BadAddress)
        );
        let mut no_i = other(sw);
        no_i[VX] = 0;
        assert_eq!(v.check(&no_i), Err(OuterError::BadFlags));
        // A computed UDP checksum is accepted when right, refused when wrong.
        let mut with_csum = other(sw);
        {
            let mut udp = UdpPacket::new_unchecked(&mut with_csum[UDP..]);
            udp.fill_checksum_ipv4(sw.local_ip, sw.remote_ip);
        }
        assert_eq!(v.check(&with_csum), Ok(()));
        with_csum[60] ^= 1;
        assert_eq!(v.check(&with_csum), Err(OuterError::BadUdpChecksum));
    }

    #[test]
    fn arp_requests_for_us_are_answered_and_teach_the_peer() {
        let o = opts();
        // The switch asks who has 172.31.0.1.
        let mut f = [0u8; 60];
        f[0..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&PEER.0);
        f[12..14].copy_from_slice(&[0x08, 0x06]);
        ArpRepr {
            operation: ArpOperation::REQUEST,
            sender_mac: PEER,
            sender_ip: o.remote_ip,
            target_mac: MacAddr::ZERO,
            target_ip: o.local_ip,
        }
        .emit(&mut f[14..])
        .unwrap();
        let mut v = Vtep::new(o);
        assert_eq!(v.check(&f), Err(OuterError::Arp));
        assert_eq!(v.arp(&mut f), ArpAction::Reply);
        assert_eq!(v.peer(), Some(PEER));
        assert_eq!(&f[0..6], &PEER.0);
        assert_eq!(&f[6..12], &o.local_mac.0);
        let r = ArpRepr::parse(&ArpPacket::new_checked(&f[14..]).unwrap());
        assert_eq!(
            r,
            ArpRepr {
                operation: ArpOperation::REPLY,
                sender_mac: o.local_mac,
                sender_ip: o.local_ip,
                target_mac: PEER,
                target_ip: o.remote_ip,
            }
        );
        // A request for someone else is not answered.
        let mut req = v.arp_request();
        assert_eq!(v.arp(&mut req), ArpAction::Consumed);
        assert_eq!(v.arp(&mut [0u8; 30]), ArpAction::Malformed);
    }

    #[test]
    fn our_arp_request() {
        let v = Vtep::new(opts());
        let f = v.arp_request();
        assert_eq!(
            &f[0..14],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0x31, 0, 0, 0, 1, 8, 6]
        );
        let r = ArpRepr::parse(&ArpPacket::new_checked(&f[14..]).unwrap());
        assert_eq!(r.operation, ArpOperation::REQUEST);
        assert_eq!(r.target_ip, opts().remote_ip);
        assert_eq!(r.sender_ip, opts().local_ip);
    }

    #[test]
    fn source_ports_spread_over_the_range() {
        let ports: std::collections::HashSet<u16> = (0..1000).map(source_port).collect();
        assert!(ports.len() > 950, "{}", ports.len());
        assert!(ports.iter().all(|p| (SPORT_LO..=SPORT_HI).contains(p)));
    }
}
