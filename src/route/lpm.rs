//! Placeholder with the LPM's API (linear); replaced by the compiled table.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    User,
    Gateway,
    System,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LpmEntry {
    pub net: Ipv4Net,
    pub origin: Origin,
    pub protected: bool,
}

pub fn select_linear(entries: &[LpmEntry], addr: Ipv4Addr) -> Option<usize> {
    let m: Vec<usize> = (0..entries.len()).filter(|&i| entries[i].net.trunc().contains(&addr)).collect();
    let any_protected = m.iter().any(|&i| entries[i].protected);
    m.into_iter()
        .filter(|&i| !(any_protected && entries[i].origin == Origin::Gateway))
        .min_by_key(|&i| (std::cmp::Reverse(entries[i].net.prefix_len()), entries[i].origin, i))
}

pub struct Lpm {
    entries: Vec<LpmEntry>,
}

impl Lpm {
    pub fn new(entries: &[LpmEntry]) -> Lpm {
        Lpm { entries: entries.to_vec() }
    }
    pub fn lookup(&self, addr: Ipv4Addr) -> Option<usize> {
        select_linear(&self.entries, addr)
    }
}
