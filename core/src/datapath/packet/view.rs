//! Reading a packet: the checked, zero-copy view of IPv4 + TCP/UDP/ICMP
//! over the caller's buffer (`parse` -> `Packet`), the quote inside an ICMP
//! error, what the device said about the packet (`Offload`), and why a
//! buffer is refused (`PacketError`). Also the big-endian field accessors
//! the writers share.

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

pub(super) fn get16(b: &[u8], off: usize) -> u16 {
    u16::from_be_bytes([b[off], b[off + 1]])
}

pub(super) fn put16(b: &mut [u8], off: usize, v: u16) {
    b[off..off + 2].copy_from_slice(&v.to_be_bytes());
}

pub(super) fn addr(b: &[u8], off: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[off], b[off + 1], b[off + 2], b[off + 3])
}

pub(super) const ICMP_ECHO_REPLY: u8 = 0;
pub(super) const ICMP_UNREACHABLE: u8 = 3;
pub(super) const ICMP_ECHO_REQUEST: u8 = 8;
pub(super) const ICMP_TIME_EXCEEDED: u8 = 11;
pub(super) const ICMP_PARAMETER_PROBLEM: u8 = 12;

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
