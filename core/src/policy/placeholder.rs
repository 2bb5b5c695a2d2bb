//! Placeholder public addresses for names that only public DNS answers.
//!
//! In Azure, a name that no linked private zone holds resolves through
//! public DNS. The input cannot say what that answer is (`--public-dns`
//! can), so the static commands stand in a deterministic address from
//! 198.19.0.0/16 (the upper half of the benchmarking block 198.18.0.0/15,
//! whose lower half holds the synthetic public IP and outbound addresses).
//! It is a function of the name alone, away from every address and prefix
//! the input writes, so a placeholder never takes a route, rule or record
//! meant for something else: it is decided as any public address would be.

use crate::addr::{net_range, AddrSet};
use crate::model::{AddrItem, PeerRemote, RoutePrefix, Scenario};
use crate::warning::PUBLIC_NAMES;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

const BASE: u32 = PUBLIC_NAMES.addr().to_bits();
const SPAN: u32 = 1 << (32 - PUBLIC_NAMES.prefix_len());

/// The addresses placeholders must stay away from.
pub struct Placeholders {
    taken: AddrSet,
}

impl Placeholders {
    /// Avoids what `sc` writes (address spaces, route and rule prefixes
    /// other than 0.0.0.0/0, endpoint, record, NAT gateway and outbound
    /// addresses) and `also` (`--public-dns`, `--public-ip` answers).
    pub fn new(sc: &Scenario, also: impl IntoIterator<Item = Ipv4Addr>) -> Placeholders {
        let mut nets: Vec<Ipv4Net> = Vec::new();
        for v in &sc.vnets {
            nets.extend(&v.address_space);
            for p in &v.peerings {
                if let PeerRemote::External { address_space, .. } = &p.remote {
                    nets.extend(address_space);
                }
            }
        }
        nets.extend(sc.local_gateways.iter().flat_map(|g| g.address_space.iter()));
        nets.extend(sc.route_tables.iter().flat_map(|t| &t.routes).filter_map(|r| match &r.prefix {
            RoutePrefix::Net(n) => Some(*n),
            RoutePrefix::Tag(_) => None,
        }));
        for rule in sc.nsgs.iter().flat_map(|n| &n.rules) {
            nets.extend(rule.source.iter().chain(&rule.destination).filter_map(|i| match i {
                AddrItem::Prefix(n) => Some(*n),
                _ => None,
            }));
        }
        let mut addrs: Vec<Ipv4Addr> = also.into_iter().collect();
        addrs.extend(sc.private_endpoints.iter().map(|p| p.ip));
        addrs.extend(sc.flexible_servers.iter().map(|s| s.ip));
        addrs.extend(sc.dns_zones.iter().flat_map(|z| z.a.values().flatten()));
        addrs.extend(sc.nat_gateways.iter().flat_map(|n| &n.public_ips));
        addrs.extend(sc.sites.iter().flat_map(|s| &s.outbound_ips));
        // A default route covers every address, placeholders included, as it
        // would the real answer: it is no reason to move.
        let ranges = nets.iter().filter(|n| n.prefix_len() > 0).map(net_range).chain(addrs.iter().map(|&a| (u32::from(a), u32::from(a))));
        Placeholders { taken: AddrSet::from_ranges(ranges) }
    }

    /// The placeholder for `name`: its hash's slot in 198.19.0.0/16, or the
    /// next one that is free and neither a .0 nor a .255; the hash's own
    /// slot if the input covers the whole block.
    pub fn address(&self, name: &str) -> Ipv4Addr {
        let start = fnv1a(name.trim_end_matches('.').to_ascii_lowercase().as_bytes()) % SPAN;
        let at = |i: u32| BASE + (start + i) % SPAN;
        let free = (0..SPAN).map(at).find(|&a| !matches!(a & 0xff, 0 | 255) && !self.taken.contains(a));
        Ipv4Addr::from(free.unwrap_or(at(0)))
    }
}

/// FNV-1a: stable across runs and Rust versions, unlike the std hasher.
fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_always_gets_the_same_address_in_the_block() {
        let p = Placeholders { taken: AddrSet::empty() };
        let a = p.address("example.com");
        assert_eq!(a, p.address("EXAMPLE.com."), "case and the root dot do not matter");
        assert!(crate::addr::net_contains(&"198.19.0.0/16".parse().unwrap_or_else(|e| panic!("{e}")), a), "{a}");
        assert_ne!(a, p.address("example.org"));
    }

    #[test]
    fn taken_addresses_are_skipped() {
        let free = Placeholders { taken: AddrSet::empty() }.address("example.com");
        let taken = Placeholders { taken: AddrSet::single(u32::from(free), u32::from(free)) };
        let moved = taken.address("example.com");
        assert_ne!(moved, free);
        assert!(!matches!(moved.octets()[3], 0 | 255), "{moved}");
    }
}
