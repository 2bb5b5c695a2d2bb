//! Sets of IPv4 addresses and of ports, as sorted disjoint inclusive ranges.
//!
//! Every address-shaped thing in Azure's rules (a CIDR, a service tag, the
//! `Internet` tag that is "everything except ...", a port list) ends up as
//! one of these. Ranges rather than prefixes, because complements and unions
//! of prefixes are not prefixes, and the classifiers only need intervals.

use ipnet::Ipv4Net;
use std::fmt;
use std::net::Ipv4Addr;

/// A value that can bound a range: `u32` for addresses, `u16` for ports.
pub trait Point: Copy + Ord + fmt::Debug {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Option<Self>;
    fn pred(self) -> Option<Self>;
}

impl Point for u32 {
    const MIN: Self = 0;
    const MAX: Self = u32::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

impl Point for u16 {
    const MIN: Self = 0;
    const MAX: Self = u16::MAX;
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
}

/// Sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct RangeSet<T: Point> {
    ranges: Vec<(T, T)>,
}

pub type AddrSet = RangeSet<u32>;
pub type PortSet = RangeSet<u16>;

impl<T: Point> RangeSet<T> {
    pub fn empty() -> Self {
        RangeSet { ranges: Vec::new() }
    }

    pub fn all() -> Self {
        RangeSet { ranges: vec![(T::MIN, T::MAX)] }
    }

    pub fn single(lo: T, hi: T) -> Self {
        let mut s = Self::empty();
        s.insert(lo, hi);
        s
    }

    /// Builds a set from any ranges (overlapping, unsorted, adjacent).
    pub fn from_ranges(iter: impl IntoIterator<Item = (T, T)>) -> Self {
        let mut v: Vec<(T, T)> = iter.into_iter().map(|(a, b)| if a <= b { (a, b) } else { (b, a) }).collect();
        v.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            if let Some(last) = out.last_mut() {
                let touches = match last.1.succ() {
                    Some(next) => lo <= next,
                    None => true,
                };
                if touches {
                    if hi > last.1 {
                        last.1 = hi;
                    }
                    continue;
                }
            }
            out.push((lo, hi));
        }
        RangeSet { ranges: out }
    }

    pub fn insert(&mut self, lo: T, hi: T) {
        let mut v = std::mem::take(&mut self.ranges);
        v.push((lo, hi));
        *self = Self::from_ranges(v);
    }

    pub fn union(&self, other: &Self) -> Self {
        Self::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    pub fn complement(&self) -> Self {
        let mut out = Vec::with_capacity(self.ranges.len() + 1);
        let mut next = Some(T::MIN);
        for &(lo, hi) in &self.ranges {
            if let Some(n) = next {
                if lo > n {
                    // lo > n >= MIN, so pred exists
                    if let Some(p) = lo.pred() {
                        out.push((n, p));
                    }
                }
            }
            next = hi.succ();
        }
        if let Some(n) = next {
            out.push((n, T::MAX));
        }
        RangeSet { ranges: out }
    }

    pub fn difference(&self, other: &Self) -> Self {
        self.intersection(&other.complement())
    }

    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let lo = a[i].0.max(b[j].0);
            let hi = a[i].1.min(b[j].1);
            if lo <= hi {
                out.push((lo, hi));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        RangeSet { ranges: out }
    }

    pub fn contains(&self, x: T) -> bool {
        // Ranges are sorted: find the last range starting at or before x.
        let idx = self.ranges.partition_point(|&(lo, _)| lo <= x);
        idx > 0 && self.ranges[idx - 1].1 >= x
    }

    /// True when every element of `other` is in `self`.
    pub fn covers(&self, other: &Self) -> bool {
        other.difference(self).is_empty()
    }

    pub fn overlaps(&self, other: &Self) -> bool {
        !self.intersection(other).is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_all(&self) -> bool {
        self.ranges.len() == 1 && self.ranges[0] == (T::MIN, T::MAX)
    }

    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }
}

impl<T: Point> fmt::Debug for RangeSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ranges.iter()).finish()
    }
}

/// The address range a prefix covers.
pub fn net_range(net: &Ipv4Net) -> (u32, u32) {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

pub fn net_set(net: &Ipv4Net) -> AddrSet {
    let (lo, hi) = net_range(net);
    AddrSet::single(lo, hi)
}

pub fn nets_set<'a>(nets: impl IntoIterator<Item = &'a Ipv4Net>) -> AddrSet {
    AddrSet::from_ranges(nets.into_iter().map(net_range))
}

pub fn net_contains(net: &Ipv4Net, addr: Ipv4Addr) -> bool {
    net.contains(&addr)
}

/// The smallest list of prefixes covering exactly `lo..=hi`, for display.
pub fn range_to_nets(lo: u32, hi: u32) -> Vec<Ipv4Net> {
    let mut out = Vec::new();
    let mut cur = lo as u64;
    let end = hi as u64;
    while cur <= end {
        // Largest block aligned at cur that fits.
        let align = if cur == 0 { 32 } else { (cur.trailing_zeros()).min(32) };
        let mut size_bits = align;
        while size_bits > 0 && cur + (1u64 << size_bits) - 1 > end {
            size_bits -= 1;
        }
        let len = 32 - size_bits as u8;
        if let Ok(net) = Ipv4Net::new(Ipv4Addr::from(cur as u32), len) {
            out.push(net);
        }
        cur += 1u64 << size_bits;
    }
    out
}

/// Renders an address set as prefixes (`0.0.0.0/0` for everything).
pub fn set_to_nets(set: &AddrSet) -> Vec<Ipv4Net> {
    set.ranges().iter().flat_map(|&(lo, hi)| range_to_nets(lo, hi)).collect()
}

/// Parses `a.b.c.d` or `a.b.c.d/n`. Host bits set are reported, not fixed:
/// the caller decides whether that is an error (subnets) or not.
pub fn parse_prefix(s: &str) -> Result<Ipv4Net, String> {
    let s = s.trim();
    if let Some((a, l)) = s.split_once('/') {
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("'{s}' is not an IPv4 prefix (expected a.b.c.d/n)"))?;
        let len: u8 = l.parse().map_err(|_| format!("'{s}' has an invalid prefix length (expected 0 to 32)"))?;
        let net = Ipv4Net::new(addr, len).map_err(|_| format!("'{s}' has an invalid prefix length (expected 0 to 32)"))?;
        Ok(net)
    } else {
        let addr: Ipv4Addr = s.parse().map_err(|_| format!("'{s}' is not an IPv4 address or prefix"))?;
        Ok(Ipv4Net::new(addr, 32).expect("32 is a valid length"))
    }
}

/// True when the prefix has bits set beyond its length (`10.0.0.1/24`).
pub fn has_host_bits(net: &Ipv4Net) -> bool {
    net.addr() != net.network()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_merges_adjacent_and_overlapping() {
        let s = AddrSet::from_ranges([(10, 20), (21, 30), (5, 12), (40, 50)]);
        assert_eq!(s.ranges(), &[(5, 30), (40, 50)]);
    }

    #[test]
    fn complement_and_difference() {
        let s = PortSet::from_ranges([(0, 10), (100, 200)]);
        assert_eq!(s.complement().ranges(), &[(11, 99), (201, 65535)]);
        assert!(PortSet::all().complement().is_empty());
        assert!(PortSet::empty().complement().is_all());
        let d = PortSet::single(0, 100).difference(&PortSet::single(50, 60));
        assert_eq!(d.ranges(), &[(0, 49), (61, 100)]);
    }

    #[test]
    fn contains_and_covers() {
        let s = AddrSet::from_ranges([(10, 20), (30, 40)]);
        assert!(s.contains(10) && s.contains(20) && s.contains(35));
        assert!(!s.contains(9) && !s.contains(25) && !s.contains(41));
        assert!(s.covers(&AddrSet::single(12, 18)));
        assert!(!s.covers(&AddrSet::single(12, 32)));
    }

    #[test]
    fn ranges_render_as_minimal_prefixes() {
        let all = set_to_nets(&AddrSet::all());
        assert_eq!(all, vec!["0.0.0.0/0".parse::<Ipv4Net>().unwrap()]);
        let ten: Ipv4Net = "10.0.0.0/8".parse().unwrap();
        let rest = set_to_nets(&AddrSet::all().difference(&net_set(&ten)));
        // 0/5, 8/7, 11/8, 12/6, 16/4, 32/3, 64/2, 128/1
        assert_eq!(rest.len(), 8);
        assert!(rest.iter().all(|n| !n.contains(&Ipv4Addr::new(10, 1, 2, 3))));
    }

    #[test]
    fn prefix_parsing() {
        assert_eq!(parse_prefix("10.0.0.4").unwrap().prefix_len(), 32);
        assert!(has_host_bits(&parse_prefix("10.0.0.1/24").unwrap()));
        assert!(parse_prefix("10.0.0.300/24").is_err());
        assert!(parse_prefix("10.0.0.0/33").is_err());
        assert!(parse_prefix("banana").is_err());
    }
}
