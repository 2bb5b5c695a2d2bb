//! Helpers shared by the integration tests: etherparse as the independent
//! oracle for the checksums of packets the datapath wrote or rewrote.

// Each test crate that includes this module uses only part of it.
#![allow(dead_code)]

pub mod arm;

use etherparse::{Icmpv4Header, Ipv4Header, TcpHeader, UdpHeader};

/// Parses `b` with etherparse and checks the IP header checksum and the
/// TCP, UDP or ICMP checksum; returns the IP header and the transport bytes.
pub fn checked(b: &[u8]) -> (Ipv4Header, Vec<u8>) {
    let (ip, rest) = Ipv4Header::from_slice(b).unwrap();
    assert_eq!(ip.header_checksum, ip.calc_header_checksum(), "IP checksum");
    let rest = &rest[..usize::from(ip.total_len) - ip.header_len()];
    match ip.protocol.0 {
        6 => {
            let (t, payload) = TcpHeader::from_slice(rest).unwrap();
            assert_eq!(t.checksum, t.calc_checksum_ipv4(&ip, payload).unwrap(), "TCP checksum");
        }
        17 => {
            let (u, payload) = UdpHeader::from_slice(rest).unwrap();
            assert_eq!(u.checksum, u.calc_checksum_ipv4(&ip, payload).unwrap(), "UDP checksum");
        }
        1 => {
            let (h, payload) = Icmpv4Header::from_slice(rest).unwrap();
            assert_eq!(h.checksum, h.icmp_type.calc_checksum(payload), "ICMP checksum");
        }
        _ => {}
    }
    (ip, rest.to_vec())
}

/// `checked`, and for an ICMP error (unreachable, time exceeded, parameter
/// problem) also the packet it quotes, which the test must have quoted whole.
pub fn checked_with_quote(b: &[u8]) -> (Ipv4Header, Vec<u8>) {
    let (ip, l4) = checked(b);
    if ip.protocol.0 == 1 && matches!(l4[0], 3 | 11 | 12) {
        checked_with_quote(&l4[8..]);
    }
    (ip, l4)
}

/// An allowed flow to the internet leaving from `source` as `snat` says:
/// the decision the datapath tests' fake policies start from (they change
/// the fields their case is about).
pub fn internet_allowed(source: std::net::Ipv4Addr, snat: vnetlab_core::decision::SourceNat) -> vnetlab_core::decision::Decision {
    use vnetlab_core::decision::{AppRouting, Decision, NextHopType, Path, World};
    Decision {
        allowed: true,
        path: Path::Vnet,
        app_routing: AppRouting::RouteAll,
        route: Some(0),
        next_hop: Some(NextHopType::Internet),
        next_hop_ip: None,
        nsg_rule: None,
        source,
        snat,
        world: World::Internet,
        blocked_by: None,
        drop_reason: None,
    }
}

/// The TCP segments the datapath tests send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tcp {
    Syn,
    SynAck,
    Ack,
    Fin,
    Rst,
}

/// A TCP segment without payload (sequence 1000; acks as a simple
/// handshake and close would carry them).
pub fn tcp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, kind: Tcp) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, 1000, 64240);
    let b = match kind {
        Tcp::Syn => b.syn(),
        Tcp::SynAck => b.syn().ack(1001),
        Tcp::Ack => b.ack(5000),
        Tcp::Fin => b.fin().ack(5000),
        Tcp::Rst => b.rst(),
    };
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}
