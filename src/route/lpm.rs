//! Route selection for one destination: longest prefix match with Azure's
//! precedence between route origins.
//!
//! `select_linear` states the rule plainly and is the oracle; `Lpm` answers
//! the same question from a precomputed table. Which entries cover an
//! address only changes at prefix boundaries, so the address space is cut
//! into elementary intervals at every boundary, the winner of each interval
//! is computed once at build time (the protected-route rule included, since
//! it depends only on the covering set), neighbouring intervals with the same
//! winner are merged, and a lookup is one branchless binary search.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Where a route comes from. Precedence at equal prefix length: User beats
/// Gateway beats System (the enum order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    User,
    Gateway,
    System,
}

/// One candidate route. `protected` marks the system routes of the VNet's
/// own address space, connected peerings and service endpoints, which no
/// gateway-learned route can override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpmEntry {
    pub net: Ipv4Net,
    pub origin: Origin,
    pub protected: bool,
}

/// Inclusive address range of the entry's prefix, host bits ignored.
fn span(e: &LpmEntry) -> (u32, u32) {
    let net = e.net.trunc();
    (u32::from(net.network()), u32::from(net.broadcast()))
}

/// The index of the route Azure selects for `addr`: the reference semantics.
pub fn select_linear(entries: &[LpmEntry], addr: Ipv4Addr) -> Option<usize> {
    let a = u32::from(addr);
    let covers = |e: &LpmEntry| {
        let (lo, hi) = span(e);
        lo <= a && a <= hi
    };
    let protected = entries.iter().any(|e| e.protected && covers(e));
    let mut best: Option<usize> = None;
    for (i, e) in entries.iter().enumerate() {
        if !covers(e) || (protected && e.origin == Origin::Gateway) {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => {
                let cur = &entries[b];
                // Longer prefix first, then the better origin; ties keep the
                // earlier entry.
                (e.net.prefix_len(), std::cmp::Reverse(e.origin))
                    > (cur.net.prefix_len(), std::cmp::Reverse(cur.origin))
            }
        };
        if better {
            best = Some(i);
        }
    }
    best
}

/// No route: the value stored for intervals nothing covers.
const NONE: u32 = u32::MAX;

/// Route table compiled to disjoint intervals, each with its winner.
pub struct Lpm {
    /// Sorted interval starts, the first is 0.
    starts: Vec<u32>,
    /// Winning entry index per interval, or `NONE`.
    winners: Vec<u32>,
}

impl Lpm {
    pub fn new(entries: &[LpmEntry]) -> Lpm {
        let mut cuts: Vec<u32> = vec![0];
        for e in entries {
            let (lo, hi) = span(e);
            cuts.push(lo);
            if let Some(end) = hi.checked_add(1) {
                cuts.push(end);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let mut lpm = Lpm { starts: Vec::with_capacity(cuts.len()), winners: Vec::new() };
        for start in cuts {
            // Every entry covers all of an interval or none of it, so the
            // winner at its first address is the winner for all of it.
            let winner = select_linear(entries, Ipv4Addr::from(start))
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(NONE);
            if lpm.winners.last() != Some(&winner) {
                lpm.starts.push(start);
                lpm.winners.push(winner);
            }
        }
        lpm
    }

    /// The index of the selected entry, as `select_linear`.
    #[inline]
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<usize> {
        let x = u32::from(addr);
        let mut base = 0usize;
        let mut len = self.starts.len();
        while len > 1 {
            let half = len / 2;
            let probe = base + half;
            base = if self.starts[probe] <= x { probe } else { base };
            len -= half;
        }
        match self.winners.get(base) {
            Some(&w) if w != NONE => Some(w as usize),
            _ => None,
        }
    }

    /// Number of disjoint intervals after merging, for sizing reports.
    pub fn intervals(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(net: &str, origin: Origin, protected: bool) -> LpmEntry {
        LpmEntry { net: net.parse().unwrap(), origin, protected }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// Both selectors must agree; returns their common answer.
    fn both(entries: &[LpmEntry], addr: &str) -> Option<usize> {
        let lin = select_linear(entries, ip(addr));
        assert_eq!(Lpm::new(entries).lookup(ip(addr)), lin, "addr {addr}");
        lin
    }

    #[test]
    fn gateway_never_beats_a_protected_route() {
        let t = vec![
            e("10.0.0.0/16", Origin::System, true),
            e("10.0.1.0/24", Origin::User, false),
            e("10.0.1.0/25", Origin::Gateway, false),
            e("10.1.0.0/16", Origin::Gateway, false),
            e("0.0.0.0/0", Origin::System, false),
        ];
        assert_eq!(both(&t, "10.0.1.5"), Some(1));
        assert_eq!(both(&t, "10.0.1.200"), Some(1));
        assert_eq!(both(&t, "10.1.2.3"), Some(3));
        assert_eq!(both(&t, "10.0.2.1"), Some(0));
        assert_eq!(both(&t, "8.8.8.8"), Some(4));
    }

    #[test]
    fn gateway_wins_by_prefix_without_protected_cover() {
        let t = vec![
            e("10.0.0.0/16", Origin::System, false),
            e("10.0.1.0/24", Origin::User, false),
            e("10.0.1.0/25", Origin::Gateway, false),
        ];
        assert_eq!(both(&t, "10.0.1.5"), Some(2));
        assert_eq!(both(&t, "10.0.1.200"), Some(1));
    }

    #[test]
    fn equal_prefix_precedence_user_gateway_system() {
        let t = vec![
            e("10.2.0.0/16", Origin::System, false),
            e("10.2.0.0/16", Origin::Gateway, false),
            e("10.2.0.0/16", Origin::User, false),
        ];
        assert_eq!(both(&t, "10.2.3.4"), Some(2));
        assert_eq!(both(&t[..2], "10.2.3.4"), Some(1));
        // A protected system route removes the gateway route first.
        let p = vec![e("10.2.0.0/16", Origin::Gateway, false), e("10.2.0.0/16", Origin::System, true)];
        assert_eq!(both(&p, "10.2.3.4"), Some(1));
    }

    #[test]
    fn duplicates_pick_the_first_and_host_bits_are_ignored() {
        let t = vec![
            e("10.3.0.7/24", Origin::User, false),
            e("10.3.0.0/24", Origin::User, false),
        ];
        assert_eq!(both(&t, "10.3.0.200"), Some(0));
        assert_eq!(both(&t, "10.3.1.0"), None);
        assert_eq!(both(&[], "10.3.1.0"), None);
    }

    #[test]
    fn ends_of_the_address_space() {
        let t = vec![
            e("0.0.0.0/32", Origin::User, false),
            e("255.255.255.255/32", Origin::User, false),
            e("0.0.0.0/0", Origin::System, false),
        ];
        assert_eq!(both(&t, "0.0.0.0"), Some(0));
        assert_eq!(both(&t, "0.0.0.1"), Some(2));
        assert_eq!(both(&t, "255.255.255.255"), Some(1));
        assert_eq!(both(&t, "255.255.255.254"), Some(2));
        assert_eq!(Lpm::new(&t).intervals(), 3);
    }
}
