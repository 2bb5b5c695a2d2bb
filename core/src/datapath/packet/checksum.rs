//! Internet checksums: the one's-complement sum, the IPv4 pseudo-header,
//! and the incremental update (RFC 1624) that lets a rewrite fix a checksum
//! from the words it changed instead of summing the whole packet again.

use std::net::Ipv4Addr;

use super::view::{addr, get16, put16};

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
pub(super) struct Delta(u32);

impl Delta {
    pub(super) fn word(&mut self, old: u16, new: u16) {
        self.0 += u32::from(!old) + u32::from(new);
    }
    pub(super) fn addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let (o, n) = (old.octets(), new.octets());
        self.word(u16::from_be_bytes([o[0], o[1]]), u16::from_be_bytes([n[0], n[1]]));
        self.word(u16::from_be_bytes([o[2], o[3]]), u16::from_be_bytes([n[2], n[3]]));
    }
    /// Folds in the changes recorded by another delta.
    pub(super) fn merge(&mut self, other: Delta) {
        self.0 += other.0;
    }
    pub(super) fn apply(self, csum: u16) -> u16 {
        !fold(u32::from(!csum) + u32::from(fold(self.0)))
    }
}

/// Applies `d` to the 16-bit checksum at `off`; returns (old, new) so that an
/// enclosing checksum (the outer ICMP one) can follow the change.
pub(super) fn patch_checksum(b: &mut [u8], off: usize, d: Delta, udp: bool) -> (u16, u16) {
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
pub(super) fn set16(b: &mut [u8], off: usize, new: u16, d: &mut Delta) -> u16 {
    let old = get16(b, off);
    put16(b, off, new);
    d.word(old, new);
    old
}

pub(super) fn set_addr(b: &mut [u8], off: usize, new: Ipv4Addr, d: &mut Delta) -> Ipv4Addr {
    let old = addr(b, off);
    b[off..off + 4].copy_from_slice(&new.octets());
    d.addr(old, new);
    old
}
