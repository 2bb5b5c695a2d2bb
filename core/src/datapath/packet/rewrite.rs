//! Rewriting a packet in place: one end (address and port or ICMP echo
//! identifier) of the packet itself, or of the packet an ICMP error quotes,
//! with every checksum that covers the change kept right.

use std::net::Ipv4Addr;

use super::checksum::{patch_checksum, set16, set_addr, Delta};
use super::view::{get16, put16, Packet, Transport};
use crate::flow::Proto;

/// Which end of the tuple a rewrite changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Src,
    Dst,
}

/// Offset (from the transport header) of the port/identifier carried by
/// `end`, or None if the protocol carries none on that end.
fn port_offset(proto: Proto, echo_request: Option<bool>, end: End) -> Option<usize> {
    match (proto, end) {
        (Proto::Tcp | Proto::Udp, End::Src) => Some(0),
        (Proto::Tcp | Proto::Udp, End::Dst) => Some(2),
        (Proto::Icmp, End::Src) if echo_request == Some(true) => Some(4),
        (Proto::Icmp, End::Dst) if echo_request == Some(false) => Some(4),
        _ => None,
    }
}

/// Offset (from the transport header) of the transport checksum, whether it
/// covers the pseudo-header, and whether it is UDP's optional one.
fn l4_checksum(proto: Proto) -> Option<(usize, bool, bool)> {
    match proto {
        Proto::Tcp => Some((16, true, false)),
        Proto::Udp => Some((6, true, true)),
        Proto::Icmp => Some((2, false, false)),
        Proto::Other(_) => None,
    }
}

fn echo_request(t: &Transport) -> Option<bool> {
    match *t {
        Transport::IcmpEcho { request } => Some(request),
        _ => None,
    }
}

/// Rewrites one end (address and port/identifier) of the packet in place,
/// fixing the IP and transport checksums incrementally, and updates `p`.
/// For an ICMP end without an identifier only the address changes.
pub fn rewrite(b: &mut [u8], p: &mut Packet, end: End, ip: Ipv4Addr, port: u16) {
    let addr_off = if end == End::Src { 12 } else { 16 };
    let mut ipd = Delta::default();
    set_addr(b, addr_off, ip, &mut ipd);
    patch_checksum(b, 10, ipd, false);

    let Some((csum_off, pseudo, udp)) = l4_checksum(p.proto) else {
        set_end(p, end, ip, port);
        return;
    };
    let mut l4d = if pseudo { ipd } else { Delta::default() };
    let mut portd = Delta::default();
    if let Some(off) = port_offset(p.proto, echo_request(&p.transport), end) {
        set16(b, p.l4 + off, port, &mut portd);
        set_end(p, end, ip, port);
    } else {
        set_end(p, end, ip, if end == End::Src { p.src_port } else { p.dst_port });
    }
    let off = p.l4 + csum_off;
    if p.csum_partial {
        // The field is the pseudo-header sum itself, not its complement, and
        // the header (ports included) is summed later by whoever completes
        // it: follow the address change only.
        put16(b, off, !l4d.apply(!get16(b, off)));
    } else {
        l4d.merge(portd);
        patch_checksum(b, off, l4d, udp);
    }
}

fn set_end(p: &mut Packet, end: End, ip: Ipv4Addr, port: u16) {
    match end {
        End::Src => (p.src, p.src_port) = (ip, port),
        End::Dst => (p.dst, p.dst_port) = (ip, port),
    }
}

/// Rewrites one end of the packet quoted inside an ICMP error: the quoted
/// address and port/identifier, the quoted IP checksum, the quoted transport
/// checksum when it was captured, and the outer ICMP checksum, which covers
/// all of them. No-op for a packet that is not an ICMP error.
pub fn rewrite_quote(b: &mut [u8], p: &mut Packet, end: End, ip: Ipv4Addr, port: u16) {
    let Transport::IcmpError { quote: mut q, icmp_type, code } = p.transport else { return };
    let mut outer = Delta::default();
    let mut qip = Delta::default();
    let addr_off = q.ip + if end == End::Src { 12 } else { 16 };
    // Each changed word goes into the quoted header's delta and the outer one.
    let old = set_addr(b, addr_off, ip, &mut qip);
    outer.addr(old, ip);
    let (o, n) = patch_checksum(b, q.ip + 10, qip, false);
    outer.word(o, n);

    let mut l4d = Delta::default();
    let csum = l4_checksum(q.proto);
    if let Some((_, true, _)) = csum {
        l4d = qip;
    }
    if let Some(off) = port_offset(q.proto, q.echo_request, end) {
        let old = set16(b, q.l4 + off, port, &mut l4d);
        outer.word(old, port);
        match end {
            End::Src => q.src_port = port,
            End::Dst => q.dst_port = port,
        }
    }
    if let Some((off, _, udp)) = csum {
        if q.l4 + off + 2 <= q.end {
            let (o, n) = patch_checksum(b, q.l4 + off, l4d, udp);
            outer.word(o, n);
        }
    }
    match end {
        End::Src => q.src = ip,
        End::Dst => q.dst = ip,
    }
    patch_checksum(b, p.l4 + 2, outer, false);
    p.transport = Transport::IcmpError { icmp_type, code, quote: q };
}
