//! IPv4 packets as the datapath handles them: a checked, zero-copy view of
//! IPv4 + TCP/UDP/ICMP over the caller's buffer, in-place source/destination
//! rewrites with incremental checksum updates (RFC 1624), and the few replies
//! the datapath writes itself (TCP RST, ICMP unreachable, UDP for DNS).
//!
//! Conventions shared with the flow table:
//! - An ICMP echo request carries its identifier as the *source* port and 0 as
//!   the destination port; an echo reply carries 0 as the source port and the
//!   identifier as the destination port. A reply's tuple is thus exactly the
//!   request's tuple reversed, like TCP and UDP.
//! - An ICMP error (unreachable, time exceeded, parameter problem) carries the
//!   header of the packet it complains about (the *quote*), parsed with the
//!   same conventions so the error can be matched to its flow.
//! - Fragments are refused: a NAT gateway does not carry them.
//!
//! Nothing here allocates or panics on packet contents.

use std::net::Ipv4Addr;

use etherparse::{Icmpv4Slice, Ipv4HeaderSlice, TcpHeaderSlice, UdpHeaderSlice};

use crate::flow::Proto;

/// Why a buffer is not a packet the datapath can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The version nibble is not 4 (or the buffer is empty).
    #[error("not an IPv4 packet (version {0})")]
    NotIpv4(u8),
    /// The buffer ends before the named header does.
    #[error("truncated {0} header")]
    Truncated(&'static str),
    /// IHL below 5 words or beyond the buffer.
    #[error("bad IPv4 header length {0} words")]
    BadHeaderLength(u8),
    /// Total length shorter than the header or longer than the buffer.
    #[error("bad IPv4 total length {total} (header {header}, buffer {buffer})")]
    BadTotalLength { total: usize, header: usize, buffer: usize },
    /// More-fragments set or a non-zero fragment offset.
    #[error("IPv4 fragment")]
    Fragment,
    /// TCP data offset below 5 words or beyond the packet.
    #[error("bad TCP data offset {0} words")]
    BadTcpOffset(u8),
    /// UDP length field shorter than 8 or beyond the packet.
    #[error("bad UDP length {0}")]
    BadUdpLength(u16),
    /// An ICMP error whose quoted packet is not a usable IPv4 TCP/UDP/echo header.
    #[error("ICMP error quoting an unusable packet")]
    BadQuote,
}

/// TCP flag bits (byte 13 of the header).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const ACK: u8 = 0x10;
    pub fn fin(self) -> bool {
        self.0 & Self::FIN != 0
    }
    pub fn syn(self) -> bool {
        self.0 & Self::SYN != 0
    }
    pub fn rst(self) -> bool {
        self.0 & Self::RST != 0
    }
    pub fn ack(self) -> bool {
        self.0 & Self::ACK != 0
    }
}

/// The header quoted inside an ICMP error, as offsets into the same buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    /// Offset of the quoted IPv4 header.
    pub ip: usize,
    /// Offset of the quoted transport header.
    pub l4: usize,
    /// End of the quoted bytes (the outer packet's end).
    pub end: usize,
    pub proto: Proto,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
    /// For a quoted ICMP echo: whether it is a request.
    pub echo_request: Option<bool>,
}

/// What the transport layer is, with what the datapath needs of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp {
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        payload_len: usize,
    },
    Udp {
        payload_len: usize,
    },
    /// Echo request (type 8) or reply (type 0).
    IcmpEcho {
        request: bool,
    },
    /// Destination unreachable, time exceeded or parameter problem.
    IcmpError {
        icmp_type: u8,
        code: u8,
        quote: Quote,
    },
    /// Any other ICMP message (no flow identity).
    IcmpOther {
        icmp_type: u8,
    },
    /// Any other IP protocol: addresses only.
    Other,
}

/// A checked IPv4 packet: header fields and offsets into the caller's buffer.
/// The buffer itself is passed again to the rewrite functions, so the view
/// holds no borrow and the datapath can mutate in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    /// The IPv4 total length; bytes after it are ignored.
    pub len: usize,
    /// Offset of the transport header (IHL * 4).
    pub l4: usize,
    pub proto: Proto,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub transport: Transport,
    /// The transport checksum is partial (see `Offload::csum_partial`).
    pub csum_partial: bool,
    /// Wire packets this one stands for: more than 1 for a TSO segment.
    pub segments: u32,
}

/// What the device said about a packet: the virtio-net header of a TUN with
/// offloads. The default is a plain packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Offload {
    /// The transport checksum field holds only the pseudo-header sum, not
    /// complemented (the kernel's CHECKSUM_PARTIAL): the sender left the
    /// rest to the device, and a receiving stack treats it as verified.
    pub csum_partial: bool,
    /// TCP payload bytes per wire segment of a TSO packet; 0 for one packet.
    pub gso_size: u16,
}

impl Packet {
    /// The packet as its device described it: partial checksum, and how many
    /// wire packets a TSO segment stands for (what the counters count).
    pub fn with_offload(mut self, off: Offload) -> Packet {
        self.csum_partial = off.csum_partial && matches!(self.proto, Proto::Tcp | Proto::Udp);
        if let (Transport::Tcp { payload_len, .. }, gso @ 1..) = (self.transport, off.gso_size) {
            self.segments = u32::try_from(payload_len.div_ceil(usize::from(gso)).max(1)).unwrap_or(u32::MAX);
        }
        self
    }

    pub fn is_tcp_syn(&self) -> bool {
        matches!(self.transport, Transport::Tcp { flags, .. } if flags.syn() && !flags.ack())
    }
    pub fn tcp_flags(&self) -> Option<TcpFlags> {
        match self.transport {
            Transport::Tcp { flags, .. } => Some(flags),
            _ => None,
        }
    }
}

fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

fn addr(b: &[u8], off: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[off], b[off + 1], b[off + 2], b[off + 3])
}

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_UNREACHABLE: u8 = 3;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMP_TIME_EXCEEDED: u8 = 11;
const ICMP_PARAMETER_PROBLEM: u8 = 12;
/// "Communication administratively prohibited" (RFC 1812).
pub const ICMP_CODE_ADMIN_PROHIBITED: u8 = 13;

/// Checks the IPv4 header at the start of `b` (with etherparse) and that the
/// total length fits the buffer; returns the header and the total length
/// (bytes after it, like Ethernet padding, are ignored).
fn check_ipv4(b: &[u8]) -> Result<(Ipv4HeaderSlice<'_>, usize), PacketError> {
    use etherparse::err::ipv4::{HeaderError, HeaderSliceError};
    let h = Ipv4HeaderSlice::from_slice(b).map_err(|e| match e {
        HeaderSliceError::Content(HeaderError::UnexpectedVersion { version_number }) => PacketError::NotIpv4(version_number),
        HeaderSliceError::Content(HeaderError::HeaderLengthSmallerThanHeader { ihl }) => PacketError::BadHeaderLength(ihl),
        HeaderSliceError::Len(_) => match b.first() {
            None => PacketError::NotIpv4(0),
            Some(&first) if first >> 4 != 4 => PacketError::NotIpv4(first >> 4),
            Some(_) if b.len() < 20 => PacketError::Truncated("IPv4"),
            Some(&first) => PacketError::BadHeaderLength(first & 0x0f),
        },
    })?;
    let (header, total) = (h.slice().len(), usize::from(h.total_len()));
    if total < header || total > b.len() {
        return Err(PacketError::BadTotalLength { total, header, buffer: b.len() });
    }
    Ok((h, total))
}

/// Parses and checks the packet in `b`. etherparse's zero-copy slices check
/// the headers; what is kept are offsets into `b`, so the rewrites can work
/// on the same buffer in place.
pub fn parse(b: &[u8]) -> Result<Packet, PacketError> {
    let (ip, len) = check_ipv4(b)?;
    if ip.is_fragmenting_payload() {
        return Err(PacketError::Fragment);
    }
    let l4 = ip.slice().len();
    let proto = Proto::from_number(ip.protocol().0);
    let (src, dst) = (ip.source_addr(), ip.destination_addr());
    let seg = &b[l4..len];
    let (src_port, dst_port, transport) = match proto {
        Proto::Tcp => {
            use etherparse::err::tcp::{HeaderError, HeaderSliceError};
            let t = TcpHeaderSlice::from_slice(seg).map_err(|e| match e {
                HeaderSliceError::Content(HeaderError::DataOffsetTooSmall { data_offset }) => PacketError::BadTcpOffset(data_offset),
                HeaderSliceError::Len(_) if seg.len() < 20 => PacketError::Truncated("TCP"),
                HeaderSliceError::Len(_) => PacketError::BadTcpOffset(seg[12] >> 4),
            })?;
            let tcp = Transport::Tcp {
                flags: TcpFlags(t.slice()[13]),
                seq: t.sequence_number(),
                ack: t.acknowledgment_number(),
                payload_len: seg.len() - t.slice().len(),
            };
            (t.source_port(), t.destination_port(), tcp)
        }
        Proto::Udp => {
            let u = UdpHeaderSlice::from_slice(seg).map_err(|_| PacketError::Truncated("UDP"))?;
            let ulen = u.length();
            if ulen < 8 || usize::from(ulen) > seg.len() {
                return Err(PacketError::BadUdpLength(ulen));
            }
            (u.source_port(), u.destination_port(), Transport::Udp { payload_len: usize::from(ulen) - 8 })
        }
        Proto::Icmp => {
            let m = Icmpv4Slice::from_slice(seg).map_err(|_| PacketError::Truncated("ICMP"))?;
            let (icmp_type, code) = (m.type_u8(), m.code_u8());
            let rest = m.bytes5to8();
            let id = u16::from_be_bytes([rest[0], rest[1]]);
            match icmp_type {
                ICMP_ECHO_REQUEST => (id, 0, Transport::IcmpEcho { request: true }),
                ICMP_ECHO_REPLY => (0, id, Transport::IcmpEcho { request: false }),
                ICMP_UNREACHABLE | ICMP_TIME_EXCEEDED | ICMP_PARAMETER_PROBLEM => {
                    let quote = parse_quote(b, l4 + 8, len)?;
                    (0, 0, Transport::IcmpError { icmp_type, code, quote })
                }
                _ => (0, 0, Transport::IcmpOther { icmp_type }),
            }
        }
        Proto::Other(_) => (0, 0, Transport::Other),
    };
    Ok(Packet { len, l4, proto, src, dst, src_port, dst_port, transport, csum_partial: false, segments: 1 })
}

/// Parses the packet quoted in an ICMP error: an IPv4 header plus at least
/// the first 8 bytes of its payload (RFC 792), which hold the ports or the
/// echo identifier.
fn parse_quote(b: &[u8], ip: usize, end: usize) -> Result<Quote, PacketError> {
    let q = &b[ip..end];
    if q.len() < 20 || q[0] >> 4 != 4 {
        return Err(PacketError::BadQuote);
    }
    let hlen = usize::from(q[0] & 0x0f) * 4;
    if hlen < 20 || hlen + 8 > q.len() {
        return Err(PacketError::BadQuote);
    }
    let proto = Proto::from_number(q[9]);
    let t = &q[hlen..];
    let (src_port, dst_port, echo_request) = match proto {
        Proto::Tcp | Proto::Udp => (get16(t, 0), get16(t, 2), None),
        Proto::Icmp => match t[0] {
            ICMP_ECHO_REQUEST => (get16(t, 4), 0, Some(true)),
            ICMP_ECHO_REPLY => (0, get16(t, 4), Some(false)),
            _ => return Err(PacketError::BadQuote),
        },
        Proto::Other(_) => return Err(PacketError::BadQuote),
    };
    let (src, dst) = (addr(q, 12), addr(q, 16));
    Ok(Quote { ip, l4: ip + hlen, end, proto, src, src_port, dst, dst_port, echo_request })
}

// ---------------------------------------------------------------------------
// Checksums

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// One's-complement sum of `data` (odd length padded with a zero byte),
/// added to `initial`, not yet complemented.
pub fn sum(data: &[u8], initial: u32) -> u32 {
    let mut s = u64::from(initial);
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        s += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        s += u64::from(*last) << 8;
    }
    while s >> 32 != 0 {
        s = (s & 0xffff_ffff) + (s >> 32);
    }
    s as u32
}

/// The Internet checksum of `data` with `initial` folded in.
pub fn checksum(data: &[u8], initial: u32) -> u16 {
    !fold(sum(data, initial))
}

/// The IPv4 pseudo-header sum for a transport checksum.
pub fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let (s, d) = (src.octets(), dst.octets());
    u32::from(u16::from_be_bytes([s[0], s[1]]))
        + u32::from(u16::from_be_bytes([s[2], s[3]]))
        + u32::from(u16::from_be_bytes([d[0], d[1]]))
        + u32::from(u16::from_be_bytes([d[2], d[3]]))
        + u32::from(proto)
        + (len as u32 & 0xffff)
        + (len as u32 >> 16)
}

/// Accumulated 16-bit word changes for an incremental checksum update
/// (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
#[derive(Default, Clone, Copy)]
struct Delta(u32);

impl Delta {
    fn word(&mut self, old: u16, new: u16) {
        self.0 += u32::from(!old) + u32::from(new);
    }
    fn addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let (o, n) = (old.octets(), new.octets());
        self.word(u16::from_be_bytes([o[0], o[1]]), u16::from_be_bytes([n[0], n[1]]));
        self.word(u16::from_be_bytes([o[2], o[3]]), u16::from_be_bytes([n[2], n[3]]));
    }
    fn apply(self, csum: u16) -> u16 {
        !fold(u32::from(!csum) + u32::from(fold(self.0)))
    }
}

/// Applies `d` to the 16-bit checksum at `off`; returns (old, new) so that an
/// enclosing checksum (the outer ICMP one) can follow the change.
fn patch_checksum(b: &mut [u8], off: usize, d: Delta, udp: bool) -> (u16, u16) {
    let old = get16(b, off);
    if udp && old == 0 {
        // UDP checksum 0 means "none" and stays none.
        return (0, 0);
    }
    let mut new = d.apply(old);
    if udp && new == 0 {
        new = 0xffff;
    }
    put16(b, off, new);
    (old, new)
}

/// Writes `new` at `off` and records the change in `d`.
fn set16(b: &mut [u8], off: usize, new: u16, d: &mut Delta) -> u16 {
    let old = get16(b, off);
    put16(b, off, new);
    d.word(old, new);
    old
}

fn set_addr(b: &mut [u8], off: usize, new: Ipv4Addr, d: &mut Delta) -> Ipv4Addr {
    let old = addr(b, off);
    b[off..off + 4].copy_from_slice(&new.octets());
    d.addr(old, new);
    old
}

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
        l4d.0 += portd.0;
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

// ---------------------------------------------------------------------------
// Replies written by the datapath

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

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{Icmpv4Header, Ipv4Header, PacketBuilder, TcpHeader, UdpHeader};
    use proptest::prelude::*;

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

    /// Checks every checksum with etherparse as the independent oracle:
    /// the IP header, the transport, and for an ICMP error the quoted IP
    /// header and quoted transport (the tests quote whole packets).
    fn assert_checksums(b: &[u8]) {
        let (ip, rest) = Ipv4Header::from_slice(b).unwrap();
        assert_eq!(ip.header_checksum, ip.calc_header_checksum(), "IP header checksum");
        let rest = &rest[..usize::from(ip.total_len) - ip.header_len()];
        match ip.protocol.0 {
            6 => {
                let (t, payload) = TcpHeader::from_slice(rest).unwrap();
                assert_eq!(t.checksum, t.calc_checksum_ipv4(&ip, payload).unwrap(), "TCP checksum");
            }
            17 => {
                let (u, payload) = UdpHeader::from_slice(rest).unwrap();
                if u.checksum != 0 {
                    assert_eq!(u.checksum, u.calc_checksum_ipv4(&ip, payload).unwrap(), "UDP checksum");
                }
            }
            1 => {
                let (h, payload) = Icmpv4Header::from_slice(rest).unwrap();
                assert_eq!(h.checksum, h.icmp_type.calc_checksum(payload), "ICMP checksum");
                if matches!(rest[0], 3 | 11 | 12) {
                    assert_checksums(payload);
                }
            }
            _ => {}
        }
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
        assert_checksums(&v);
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
        assert_checksums(&out[..n]);
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
        assert_checksums(&out[..n]);
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
            assert_checksums(&v);
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
            assert_checksums(&v);
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
}
