//! Property tests: the compiled NSG classifier and route table give exactly
//! the answers of their linear reference evaluators, on random rule sets and
//! keys that sit on, just below and just above every rule boundary.

use ipnet::Ipv4Net;
use proptest::prelude::*;
use proptest::sample::Index;
use std::net::Ipv4Addr;
use vnetlab_core::addr::{AddrSet, PortSet};
use vnetlab_core::flow::Proto;
use vnetlab_core::policy::nsg::classify::{first_match_linear, Classifier, Key, MatchRule, ProtoMask};
use vnetlab_core::policy::route::lpm::{select_linear, Lpm, LpmEntry, Origin};

/// Addresses that many rules share, so boundaries coincide and nest.
fn address() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(u32::MAX),
        2 => prop::sample::select(vec![0x0a00_0000u32, 0x0a00_0100, 0x0a00_0180, 0x0a01_0000, 0xc0a8_0000]),
    ]
}

fn prefix_len() -> impl Strategy<Value = u8> {
    prop_oneof![1 => Just(0u8), 1 => Just(32u8), 4 => 0u8..=32]
}

fn prefix() -> impl Strategy<Value = (u32, u32)> {
    (address(), prefix_len()).prop_map(|(a, len)| {
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
        (a & mask, (a & mask) | !mask)
    })
}

fn addr_set() -> impl Strategy<Value = AddrSet> {
    prop_oneof![
        2 => Just(AddrSet::all()),
        1 => Just(AddrSet::empty()),
        6 => (prop::collection::vec(prefix(), 1..5), prop::bool::weighted(0.25)).prop_map(
            |(ps, complement)| {
                let s = AddrSet::from_ranges(ps);
                if complement { s.complement() } else { s }
            }
        ),
    ]
}

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![
        2 => any::<u16>(),
        3 => prop::sample::select(vec![0u16, 1, 22, 53, 80, 443, 1024, 65534, 65535]),
    ]
}

fn port_set() -> impl Strategy<Value = PortSet> {
    let range = || (port(), port()).prop_map(|(a, b)| (a.min(b), a.max(b)));
    prop_oneof![
        4 => Just(PortSet::all()),
        2 => port().prop_map(|p| PortSet::single(p, p)),
        2 => range().prop_map(|(a, b)| PortSet::single(a, b)),
        2 => prop::collection::vec(range(), 1..5).prop_map(PortSet::from_ranges),
        1 => Just(PortSet::empty()),
    ]
}

fn proto_mask() -> impl Strategy<Value = ProtoMask> {
    prop_oneof![
        2 => Just(ProtoMask::ANY),
        2 => Just(ProtoMask::TCP),
        1 => Just(ProtoMask::UDP),
        1 => Just(ProtoMask::ICMP),
        2 => (0u8..64).prop_map(ProtoMask),
    ]
}

fn rule() -> impl Strategy<Value = MatchRule> {
    (proto_mask(), addr_set(), port_set(), addr_set(), port_set()).prop_map(|(protocols, src, src_ports, dst, dst_ports)| MatchRule {
        protocols,
        src,
        src_ports,
        dst,
        dst_ports,
    })
}

/// Every range end of a field, and the values either side of it.
fn edges(ranges: impl Iterator<Item = (u32, u32)>) -> Vec<u32> {
    let mut v = vec![0, u32::MAX];
    for (lo, hi) in ranges {
        for x in [lo, hi] {
            v.extend([x.wrapping_sub(1), x, x.wrapping_add(1)]);
        }
    }
    v
}

/// How one key field is drawn: a random value, or a boundary of some rule.
#[derive(Debug, Clone)]
struct Pick {
    random: u32,
    edge: Option<Index>,
}

fn pick() -> impl Strategy<Value = Pick> {
    (any::<u32>(), prop::option::weighted(0.8, any::<Index>())).prop_map(|(random, edge)| Pick { random, edge })
}

impl Pick {
    fn from(&self, edges: &[u32]) -> u32 {
        match &self.edge {
            Some(i) if !edges.is_empty() => edges[i.index(edges.len())],
            _ => self.random,
        }
    }
}

fn key_proto() -> impl Strategy<Value = Proto> {
    prop_oneof![
        4 => Just(Proto::Tcp),
        3 => Just(Proto::Udp),
        2 => Just(Proto::Icmp),
        1 => Just(Proto::Other(50)),
        1 => Just(Proto::Other(51)),
        1 => any::<u8>().prop_map(Proto::Other),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn classifier_agrees_with_linear(
        rules in prop::collection::vec(rule(), 1..300),
        picks in prop::collection::vec((key_proto(), pick(), pick(), pick(), pick()), 64),
    ) {
        let classifier = Classifier::new(&rules);
        prop_assert_eq!(classifier.len(), rules.len());
        let src = edges(rules.iter().flat_map(|r| r.src.ranges().iter().copied()));
        let dst = edges(rules.iter().flat_map(|r| r.dst.ranges().iter().copied()));
        let port_edges = |f: fn(&MatchRule) -> &PortSet| {
            edges(rules.iter().flat_map(|r| f(r).ranges().iter().map(|&(a, b)| (u32::from(a), u32::from(b)))))
        };
        let sp = port_edges(|r| &r.src_ports);
        let dp = port_edges(|r| &r.dst_ports);
        for (proto, s, spp, d, dpp) in &picks {
            let key = Key {
                proto: *proto,
                src: s.from(&src),
                src_port: spp.from(&sp) as u16,
                dst: d.from(&dst),
                dst_port: dpp.from(&dp) as u16,
            };
            prop_assert_eq!(classifier.first_match(&key), first_match_linear(&rules, &key), "key {:?}", key);
        }
    }
}

fn origin() -> impl Strategy<Value = Origin> {
    prop_oneof![Just(Origin::User), Just(Origin::Gateway), Just(Origin::System)]
}

fn entry() -> impl Strategy<Value = LpmEntry> {
    (address(), any::<u32>(), prefix_len(), origin(), prop::bool::weighted(0.2)).prop_map(|(base, jitter, len, origin, protected)| {
        // Half the time keep the host bits a random address would carry.
        let a = if jitter % 2 == 0 { base } else { base ^ (jitter >> 8) };
        LpmEntry { net: Ipv4Net::new(Ipv4Addr::from(a), len).unwrap_or_default(), origin, protected }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn lpm_agrees_with_linear(
        entries in prop::collection::vec(entry(), 0..120),
        picks in prop::collection::vec(pick(), 64),
    ) {
        let lpm = Lpm::new(&entries);
        let e = edges(entries.iter().map(|e| {
            let n = e.net.trunc();
            (u32::from(n.network()), u32::from(n.broadcast()))
        }));
        for p in &picks {
            let addr = Ipv4Addr::from(p.from(&e));
            prop_assert_eq!(lpm.lookup(addr), select_linear(&entries, addr), "addr {}", addr);
        }
    }
}
