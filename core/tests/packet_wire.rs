//! The packet layer on the wire, through its public API: parsing and what
//! it refuses, in-place rewrites of a packet and of the packet an ICMP error
//! quotes (checksums checked against etherparse), and the replies the
//! datapath builds (RST, ICMP unreachable, UDP).

mod common;

use std::net::Ipv4Addr;

use common::checked_with_quote;
use etherparse::{Icmpv4Header, Ipv4Header, PacketBuilder, TcpHeader};
use proptest::prelude::*;
use vnetlab_core::datapath::packet::{
    build_icmp_unreachable, build_tcp_rst, finish_udp_reply, parse, rewrite, rewrite_quote, End, Packet, PacketError, Transport, ICMP_CODE_ADMIN_PROHIBITED,
    UDP_REPLY_PAYLOAD,
};
use vnetlab_core::flow::Proto;

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

const A: [u8; 4] = [10, 0, 1, 4];
const B: [u8; 4] = [198, 51, 100, 7];

fn tcp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, syn: bool, payload: &[u8]) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src, dst, 64).tcp(sp, dp, 1000, 64240);
    if syn {
        b = b.syn();
    } else {
        b = b.ack(77);
    }
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn udp(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 64).udp(sp, dp).write(&mut v, payload).unwrap();
    v
}

fn echo(src: [u8; 4], dst: [u8; 4], id: u16, request: bool, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ipv4(src, dst, 64);
    let b = if request { b.icmpv4_echo_request(id, 1) } else { b.icmpv4_echo_reply(id, 1) };
    b.write(&mut v, payload).unwrap();
    v
}

/// An ICMP error from `from` quoting all of `inner` (as Linux quotes up to 576 bytes).
fn icmp_error(from: [u8; 4], inner: &[u8], icmp_type: u8, code: u8) -> Vec<u8> {
    let to = [inner[12], inner[13], inner[14], inner[15]];
    let mut v = Vec::new();
    PacketBuilder::ipv4(from, to, 64).icmpv4_raw(icmp_type, code, [0; 4]).write(&mut v, inner).unwrap();
    v
}

fn tuple(p: &Packet) -> (Proto, Ipv4Addr, u16, Ipv4Addr, u16) {
    (p.proto, p.src, p.src_port, p.dst, p.dst_port)
}

#[test]
fn parses_tuples_with_the_echo_convention() {
    let syn = tcp(A, B, 40000, 443, true, b"");
    let p = parse(&syn).unwrap();
    assert_eq!(tuple(&p), (Proto::Tcp, A.into(), 40000, B.into(), 443));
    assert!(p.is_tcp_syn());
    let req = parse(&echo(A, B, 77, true, b"ping")).unwrap();
    assert_eq!(tuple(&req), (Proto::Icmp, A.into(), 77, B.into(), 0));
    let rep = parse(&echo(B, A, 77, false, b"ping")).unwrap();
    assert_eq!(tuple(&rep), (Proto::Icmp, B.into(), 0, A.into(), 77));
    let u = parse(&udp(A, B, 5000, 53, b"q")).unwrap();
    assert_eq!(u.transport, Transport::Udp { payload_len: 1 });
}

#[test]
fn parses_the_quote_of_an_icmp_error() {
    let inner = udp(B, A, 1024, 53, b"hello");
    let err = icmp_error([198, 51, 100, 1], &inner, 3, 3);
    let p = parse(&err).unwrap();
    let Transport::IcmpError { quote, icmp_type: 3, code: 3 } = p.transport else { panic!("{p:?}") };
    assert_eq!((quote.proto, quote.src, quote.src_port, quote.dst, quote.dst_port), (Proto::Udp, B.into(), 1024, A.into(), 53));
}

#[test]
fn udp_without_checksum_keeps_none() {
    let mut v = udp(A, B, 5000, 53, b"abc");
    v[26] = 0;
    v[27] = 0;
    let mut p = parse(&v).unwrap();
    rewrite(&mut v, &mut p, End::Src, Ipv4Addr::new(198, 18, 0, 1), 1234);
    assert_eq!(&v[26..28], &[0, 0]);
    let (ip, _) = Ipv4Header::from_slice(&v).unwrap();
    assert_eq!(ip.header_checksum, ip.calc_header_checksum(), "IP checksum");
    assert_eq!(tuple(&parse(&v).unwrap()).1, Ipv4Addr::new(198, 18, 0, 1));
}

#[test]
fn rejects_every_malformed_shape() {
    let good = tcp(A, B, 1, 2, true, b"xy");
    let mutate = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut v = good.clone();
        f(&mut v);
        parse(&v)
    };
    assert_eq!(parse(&[]), Err(PacketError::NotIpv4(0)));
    assert_eq!(mutate(&|v| v[0] = 0x65), Err(PacketError::NotIpv4(6)));
    assert_eq!(mutate(&|v| v.truncate(19)), Err(PacketError::Truncated("IPv4")));
    assert_eq!(mutate(&|v| v[0] = 0x44), Err(PacketError::BadHeaderLength(4)));
    assert_eq!(mutate(&|v| v[0] = 0x4f), Err(PacketError::BadHeaderLength(15)));
    assert!(matches!(mutate(&|v| v.truncate(41)), Err(PacketError::BadTotalLength { .. })));
    assert!(matches!(mutate(&|v| put16(v, 2, 19)), Err(PacketError::BadTotalLength { .. })));
    assert_eq!(mutate(&|v| put16(v, 6, 0x2000)), Err(PacketError::Fragment));
    assert_eq!(mutate(&|v| put16(v, 6, 0x0010)), Err(PacketError::Fragment));
    assert_eq!(mutate(&|v| put16(v, 2, 30)), Err(PacketError::Truncated("TCP")));
    assert_eq!(mutate(&|v| v[32] = 0x40), Err(PacketError::BadTcpOffset(4)));
    assert_eq!(mutate(&|v| v[32] = 0x60), Err(PacketError::BadTcpOffset(6)));
    let u = udp(A, B, 1, 2, b"abcd");
    let mut short = u.clone();
    put16(&mut short, 2, 27);
    assert_eq!(parse(&short), Err(PacketError::Truncated("UDP")));
    let mut l = u.clone();
    put16(&mut l, 24, 7);
    assert_eq!(parse(&l), Err(PacketError::BadUdpLength(7)));
    put16(&mut l, 24, 13);
    assert_eq!(parse(&l), Err(PacketError::BadUdpLength(13)));
    let mut e = echo(A, B, 1, true, b"");
    put16(&mut e, 2, 27);
    assert_eq!(parse(&e), Err(PacketError::Truncated("ICMP")));
    // An ICMP error quoting too little, or a non-IPv4 quote.
    let err = icmp_error(B, &udp(A, B, 1, 2, b""), 3, 1);
    assert_eq!(parse(&err[..48]), Err(PacketError::BadTotalLength { total: 56, header: 20, buffer: 48 }));
    let mut cut = err.clone();
    cut.truncate(50);
    put16(&mut cut, 2, 50);
    assert_eq!(parse(&cut), Err(PacketError::BadQuote));
    let mut v6 = err.clone();
    v6[28] = 0x65;
    assert_eq!(parse(&v6), Err(PacketError::BadQuote));
}

#[test]
fn rst_answers_a_syn_with_correct_numbers() {
    let syn = tcp(A, B, 40000, 25, true, b"");
    let p = parse(&syn).unwrap();
    let mut out = [0u8; 64];
    let n = build_tcp_rst(&p, &mut out).unwrap();
    checked_with_quote(&out[..n]);
    let (ip, rest) = Ipv4Header::from_slice(&out[..n]).unwrap();
    assert_eq!((ip.source, ip.destination), (B, A));
    let (t, _) = TcpHeader::from_slice(rest).unwrap();
    assert!(t.rst && t.ack && !t.syn);
    assert_eq!((t.source_port, t.destination_port), (25, 40000));
    assert_eq!((t.sequence_number, t.acknowledgment_number), (0, 1001));
    // To a segment with ACK the RST takes its sequence number from the ack.
    let data = tcp(A, B, 40000, 25, false, b"abc");
    let n = build_tcp_rst(&parse(&data).unwrap(), &mut out).unwrap();
    let (t, _) = TcpHeader::from_slice(&out[20..n]).unwrap();
    assert!(t.rst && !t.ack);
    assert_eq!(t.sequence_number, 77);
}

#[test]
fn unreachable_quotes_the_header_and_eight_bytes() {
    let u = udp(A, B, 5000, 9999, b"some payload");
    let p = parse(&u).unwrap();
    let mut out = [0u8; 128];
    let n = build_icmp_unreachable(&u, &p, ICMP_CODE_ADMIN_PROHIBITED, &mut out).unwrap();
    assert_eq!(n, 20 + 8 + 28);
    let (ip, rest) = Ipv4Header::from_slice(&out[..n]).unwrap();
    assert_eq!((ip.source, ip.destination), (B, A));
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    let (h, payload) = Icmpv4Header::from_slice(rest).unwrap();
    assert_eq!(h.checksum, h.icmp_type.calc_checksum(payload));
    assert_eq!((rest[0], rest[1]), (3, 13));
    assert_eq!(payload, &u[..28]);
    // And the datapath can match it back to the flow.
    let back = parse(&out[..n]).unwrap();
    assert!(matches!(back.transport, Transport::IcmpError { quote, .. } if quote.src_port == 5000));
    let err = icmp_error(B, &u, 3, 3);
    assert_eq!(build_icmp_unreachable(&err, &parse(&err).unwrap(), 13, &mut out), None);
}

#[test]
fn udp_reply_has_valid_checksums() {
    let mut out = [0u8; 64];
    out[UDP_REPLY_PAYLOAD..UDP_REPLY_PAYLOAD + 5].copy_from_slice(b"hello");
    let n = finish_udp_reply(&mut out, B.into(), 53, A.into(), 40000, 5).unwrap();
    checked_with_quote(&out[..n]);
    assert_eq!(tuple(&parse(&out[..n]).unwrap()), (Proto::Udp, B.into(), 53, A.into(), 40000));
}

fn any_packet() -> impl Strategy<Value = Vec<u8>> {
    (any::<[u8; 4]>(), any::<[u8; 4]>(), any::<u16>(), any::<u16>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..64), 0..4u8).prop_map(
        |(s, d, sp, dp, flag, payload, kind)| match kind {
            0 => tcp(s, d, sp, dp, flag, &payload),
            1 => udp(s, d, sp, dp, &payload),
            _ => echo(s, d, sp, flag, &payload),
        },
    )
}

proptest! {
    #[test]
    fn incremental_checksums_equal_recomputation(
        mut v in any_packet(), src in any::<bool>(), ip in any::<[u8; 4]>(), port in any::<u16>()
    ) {
        let mut p = parse(&v).unwrap();
        let end = if src { End::Src } else { End::Dst };
        rewrite(&mut v, &mut p, end, ip.into(), port);
        checked_with_quote(&v);
        let again = parse(&v).unwrap();
        prop_assert_eq!(tuple(&again), tuple(&p));
        prop_assert_eq!(if src { again.src } else { again.dst }, Ipv4Addr::from(ip));
    }

    #[test]
    fn quote_rewrites_keep_every_checksum(
        inner in any_packet(), from in any::<[u8; 4]>(), ip in any::<[u8; 4]>(), port in any::<u16>(), outer_ip in any::<[u8; 4]>()
    ) {
        let mut v = icmp_error(from, &inner, 11, 0);
        let mut p = parse(&v).unwrap();
        rewrite_quote(&mut v, &mut p, End::Src, ip.into(), port);
        rewrite(&mut v, &mut p, End::Dst, outer_ip.into(), 0);
        checked_with_quote(&v);
        let again = parse(&v).unwrap();
        prop_assert_eq!(again, p);
        let Transport::IcmpError { quote, .. } = again.transport else { panic!("not an error") };
        prop_assert_eq!(quote.src, Ipv4Addr::from(ip));
        let orig = parse(&inner).unwrap();
        let expect_port = if orig.proto == Proto::Icmp && orig.src_port == 0 && orig.dst_port != 0 { 0 } else { port };
        if orig.transport != (Transport::IcmpEcho { request: false }) {
            prop_assert_eq!(quote.src_port, expect_port);
        }
    }

    #[test]
    fn random_bytes_never_panic(mut v in prop::collection::vec(any::<u8>(), 0..128), first in 0x40..0x50u8) {
        if let Some(b) = v.first_mut() { *b = first; }
        if let Ok(mut p) = parse(&v) {
            rewrite(&mut v, &mut p, End::Src, Ipv4Addr::LOCALHOST, 1);
            rewrite_quote(&mut v, &mut p, End::Src, Ipv4Addr::LOCALHOST, 1);
            let mut out = [0u8; 256];
            let _ = build_tcp_rst(&p, &mut out);
            let _ = build_icmp_unreachable(&v, &p, 13, &mut out);
        }
    }
}
