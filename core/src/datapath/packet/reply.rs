//! The replies the datapath writes itself, into the caller's reply buffer:
//! a TCP RST or an ICMP unreachable for a rejected flow, and the headers of
//! a UDP reply (DNS answers from the platform resolver).

use std::net::Ipv4Addr;

use super::checksum::{checksum, pseudo_header_sum};
use super::view::{put16, Packet, TcpFlags, Transport, ICMP_UNREACHABLE};

/// "Communication administratively prohibited" (RFC 1812).
pub const ICMP_CODE_ADMIN_PROHIBITED: u8 = 13;

const REPLY_TTL: u8 = 64;

/// Writes a 20-byte IPv4 header (DF, no options) and its checksum.
fn write_ipv4_header(out: &mut [u8], total: usize, proto: u8, src: Ipv4Addr, dst: Ipv4Addr) {
    out[0] = 0x45;
    out[1] = 0;
    put16(out, 2, total as u16);
    put16(out, 4, 0);
    put16(out, 6, 0x4000);
    out[8] = REPLY_TTL;
    out[9] = proto;
    put16(out, 10, 0);
    out[12..16].copy_from_slice(&src.octets());
    out[16..20].copy_from_slice(&dst.octets());
    let c = checksum(&out[..20], 0);
    put16(out, 10, c);
}

/// Writes into `out` the TCP RST that answers the TCP segment `p` (RFC 793:
/// to a segment with ACK, seq = its ack; otherwise ack = its seq + length,
/// counting SYN and FIN). Returns the reply's length, or None if `p` is not
/// TCP, is itself a RST, or `out` is too small.
pub fn build_tcp_rst(p: &Packet, out: &mut [u8]) -> Option<usize> {
    let Transport::Tcp { flags, seq, ack, payload_len } = p.transport else { return None };
    if flags.rst() || out.len() < 40 {
        return None;
    }
    let (rseq, rack, rflags) = if flags.ack() {
        (ack, 0, TcpFlags::RST)
    } else {
        let len = payload_len as u32 + u32::from(flags.syn()) + u32::from(flags.fin());
        (0, seq.wrapping_add(len), TcpFlags::RST | TcpFlags::ACK)
    };
    write_ipv4_header(out, 40, 6, p.dst, p.src);
    let t = &mut out[20..40];
    put16(t, 0, p.dst_port);
    put16(t, 2, p.src_port);
    t[4..8].copy_from_slice(&rseq.to_be_bytes());
    t[8..12].copy_from_slice(&rack.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = rflags;
    put16(t, 14, 0);
    put16(t, 16, 0);
    put16(t, 18, 0);
    let c = checksum(t, pseudo_header_sum(p.dst, p.src, 6, 20));
    put16(t, 16, c);
    Some(40)
}

/// Writes into `out` an ICMP destination unreachable with `code` answering
/// `p` (whose bytes are `pkt`), sent from `p`'s destination; it quotes the
/// IP header and the first 8 payload bytes. Returns None for ICMP errors
/// (never answer an error with an error) or if `out` is too small.
pub fn build_icmp_unreachable(pkt: &[u8], p: &Packet, code: u8, out: &mut [u8]) -> Option<usize> {
    if matches!(p.transport, Transport::IcmpError { .. }) {
        return None;
    }
    let quoted = (p.l4 + 8).min(p.len);
    let total = 20 + 8 + quoted;
    if out.len() < total || pkt.len() < quoted {
        return None;
    }
    write_ipv4_header(out, total, 1, p.dst, p.src);
    let icmp = &mut out[20..total];
    icmp[0] = ICMP_UNREACHABLE;
    icmp[1] = code;
    icmp[2..8].fill(0);
    icmp[8..].copy_from_slice(&pkt[..quoted]);
    let c = checksum(icmp, 0);
    put16(icmp, 2, c);
    Some(total)
}

/// Offset of the UDP payload in a reply built by `finish_udp_reply`.
pub const UDP_REPLY_PAYLOAD: usize = 28;

/// Completes a UDP reply whose payload (`payload_len` bytes) the caller has
/// already written at `out[UDP_REPLY_PAYLOAD..]`: IP and UDP headers with
/// checksums. Returns the packet length, or None if it does not fit.
pub fn finish_udp_reply(out: &mut [u8], src: Ipv4Addr, src_port: u16, dst: Ipv4Addr, dst_port: u16, payload_len: usize) -> Option<usize> {
    let total = UDP_REPLY_PAYLOAD + payload_len;
    if out.len() < total || total > usize::from(u16::MAX) {
        return None;
    }
    write_ipv4_header(out, total, 17, src, dst);
    let u = &mut out[20..total];
    put16(u, 0, src_port);
    put16(u, 2, dst_port);
    put16(u, 4, (8 + payload_len) as u16);
    put16(u, 6, 0);
    let mut c = checksum(u, pseudo_header_sum(src, dst, 17, 8 + payload_len));
    if c == 0 {
        c = 0xffff;
    }
    put16(u, 6, c);
    Some(total)
}
