//! Benchmarks of the policy engine's hot-path structures against their
//! linear reference evaluators, on deterministic synthetic NSGs and route
//! tables shaped like real ones (host rules, prefixes, service-tag-like
//! large sets, port lists, Azure's default rules at the tail).
//!
//! The `decide` groups measure a full policy decision (`Policy::decide`
//! against `Policy::decide_linear`) on an ARM template with the same NSG on
//! the integration subnet and a 400-route table.
//!
//! Every benchmark runs a fixed batch of `BATCH` keys per iteration and
//! declares `Throughput::Elements(BATCH)`; `scripts/bench-classify.sh`
//! divides criterion's per-iteration mean by `BATCH` to report ns per lookup.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ipnet::Ipv4Net;
use serde_json::{json, Value};
use std::net::Ipv4Addr;
use vnetlab_core::addr::{set_to_nets, AddrSet, PortSet};
use vnetlab_core::datapath::nat::SplitMix64;
use vnetlab_core::flow::{Flow, Proto};
use vnetlab_core::policy::nsg::classify::{first_match_linear, Classifier, Key, MatchRule, ProtoMask};
use vnetlab_core::policy::route::lpm::{select_linear, Lpm, LpmEntry, Origin};
use vnetlab_core::policy::{Policy, PolicyOptions};

/// Keys per measured iteration (the script divides by this).
const BATCH: usize = 1024;
const RULE_COUNTS: [usize; 3] = [10, 100, 1000];
const USER_ROUTES: usize = 400;

/// Deterministic synthetic data: the SNAT allocator's SplitMix64.
struct Rng(SplitMix64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SplitMix64(seed))
    }
    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn percent(&mut self) -> u64 {
        self.below(100)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from(Ipv4Addr::new(a, b, c, d))
}

fn prefix(addr: u32, len: u32) -> (u32, u32) {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    (addr & mask, (addr & mask) | !mask)
}

/// A public-looking address (outside 10/8, 0/8 and multicast).
fn public(rng: &mut Rng) -> u32 {
    loop {
        let a = rng.next() as u32;
        let first = a >> 24;
        if !(first == 0 || first == 10 || first >= 224 || first == 127) {
            return a;
        }
    }
}

/// The address shapes a policy sees, shared by every generated NSG.
struct Tags {
    vnet: AddrSet,
    /// "Everything except a dozen ranges", like the `Internet` tag.
    internet: AddrSet,
    /// Two hundred scattered prefixes, like a regional `Storage` tag.
    storage: AddrSet,
}

fn tags() -> Tags {
    let mut rng = Rng::new(7);
    let vnet = AddrSet::from_ranges([prefix(ip(10, 0, 0, 0), 16), prefix(ip(10, 1, 0, 0), 16)]);
    let not_internet = AddrSet::from_ranges(
        [
            (ip(0, 0, 0, 0), 8),
            (ip(10, 0, 0, 0), 8),
            (ip(100, 64, 0, 0), 10),
            (ip(127, 0, 0, 0), 8),
            (ip(169, 254, 0, 0), 16),
            (ip(172, 16, 0, 0), 12),
            (ip(192, 168, 0, 0), 16),
            (ip(168, 63, 129, 16), 32),
            (ip(198, 18, 0, 0), 15),
            (ip(224, 0, 0, 0), 4),
            (ip(240, 0, 0, 0), 4),
            (ip(52, 96, 0, 0), 12),
        ]
        .map(|(a, l)| prefix(a, l)),
    );
    let storage = AddrSet::from_ranges((0..200).map(|_| prefix(public(&mut rng), 16 + rng.below(9) as u32)));
    Tags { vnet, internet: not_internet.complement(), storage }
}

const COMMON_PORTS: [u16; 12] = [443, 80, 22, 53, 1433, 3389, 5671, 5672, 8080, 445, 3306, 6379];

fn dst_ports(rng: &mut Rng) -> PortSet {
    match rng.percent() {
        0..=39 => {
            let p = rng.pick(&COMMON_PORTS);
            PortSet::single(p, p)
        }
        40..=59 => {
            let lo = rng.below(60000) as u16;
            PortSet::single(lo, lo + rng.below(5000) as u16)
        }
        60..=79 => PortSet::from_ranges((0..2 + rng.below(5)).map(|_| {
            let p = rng.pick(&COMMON_PORTS);
            (p, p)
        })),
        _ => PortSet::all(),
    }
}

fn dst_set(rng: &mut Rng, tags: &Tags) -> AddrSet {
    match rng.percent() {
        0..=34 => {
            let a = if rng.percent() < 50 { public(rng) } else { ip(10, 0, 0, 0) | rng.below(1 << 17) as u32 };
            AddrSet::single(a, a)
        }
        35..=64 => {
            let (lo, hi) = prefix(public(rng), 16 + rng.below(13) as u32);
            AddrSet::single(lo, hi)
        }
        65..=74 => tags.internet.clone(),
        75..=79 => tags.storage.clone(),
        80..=89 => AddrSet::from_ranges((0..2 + rng.below(7)).map(|_| prefix(public(rng), 20 + rng.below(13) as u32))),
        _ => AddrSet::all(),
    }
}

/// An NSG's outbound rules in priority order, `n` in all, the last three
/// being Azure's default rules.
fn nsg(n: usize, seed: u64, tags: &Tags) -> Vec<(MatchRule, bool)> {
    let mut rng = Rng::new(seed);
    let mut rules = Vec::with_capacity(n);
    for _ in 0..n.saturating_sub(3) {
        let protocols = match rng.percent() {
            0..=44 => ProtoMask::TCP,
            45..=59 => ProtoMask::UDP,
            60..=94 => ProtoMask::ANY,
            _ => ProtoMask::ICMP,
        };
        let src = match rng.percent() {
            0..=59 => AddrSet::all(),
            60..=84 => tags.vnet.clone(),
            _ => {
                let (lo, hi) = prefix(ip(10, 0, 0, 0) | rng.below(1 << 16) as u32, 24 + rng.below(5) as u32);
                AddrSet::single(lo, hi)
            }
        };
        let src_ports = if rng.percent() < 90 { PortSet::all() } else { PortSet::single(1024, 65535) };
        let dst = dst_set(&mut rng, tags);
        let dst_ports = if protocols == ProtoMask::ICMP { PortSet::all() } else { dst_ports(&mut rng) };
        let allow = rng.percent() < 60;
        rules.push((MatchRule { protocols, src, src_ports, dst, dst_ports }, allow));
    }
    let open = |src: AddrSet, dst: AddrSet| MatchRule { protocols: ProtoMask::ANY, src, src_ports: PortSet::all(), dst, dst_ports: PortSet::all() };
    rules.push((open(tags.vnet.clone(), tags.vnet.clone()), true));
    rules.push((open(AddrSet::all(), tags.internet.clone()), true));
    rules.push((open(AddrSet::all(), AddrSet::all()), false));
    rules.truncate(n.max(1));
    rules
}

/// Some address inside `set`, or a public one when it is empty.
fn member(rng: &mut Rng, set: &AddrSet) -> u32 {
    let ranges = set.ranges();
    if ranges.is_empty() {
        return public(rng);
    }
    let (lo, hi) = ranges[rng.below(ranges.len() as u64) as usize];
    lo + (rng.next() % (u64::from(hi - lo) + 1)) as u32
}

/// Outbound flows of an app instance: mostly TCP to the rules' own
/// destinations, some to the Internet, Storage and the VNet.
fn keys(rules: &[(MatchRule, bool)], tags: &Tags, seed: u64) -> Vec<Key> {
    let mut rng = Rng::new(seed);
    (0..BATCH)
        .map(|_| {
            let proto = match rng.percent() {
                0..=84 => Proto::Tcp,
                85..=96 => Proto::Udp,
                _ => Proto::Icmp,
            };
            let rule = &rules[rng.below(rules.len() as u64) as usize].0;
            let dst = match rng.percent() {
                0..=39 => member(&mut rng, &rule.dst),
                40..=69 => public(&mut rng),
                70..=89 => member(&mut rng, &tags.storage),
                _ => member(&mut rng, &tags.vnet),
            };
            let dst_port = if rng.percent() < 50 {
                let r = rule.dst_ports.ranges();
                r.first().map(|&(lo, _)| lo).unwrap_or(443)
            } else {
                rng.pick(&COMMON_PORTS)
            };
            let (src, src_port) = (ip(10, 0, 1, 4), 32768 + rng.below(28232) as u16);
            match proto {
                Proto::Tcp | Proto::Udp => Key { proto, src, src_port, dst, dst_port },
                _ => Key { proto, src, src_port: 0, dst, dst_port: 0 },
            }
        })
        .collect()
}

/// 400 user routes, the system routes of a peered VNet with service
/// endpoints, and a few dozen gateway-learned routes.
fn route_table(seed: u64) -> Vec<LpmEntry> {
    let mut rng = Rng::new(seed);
    let net = |a: u32, l: u32, origin, protected| LpmEntry { net: Ipv4Net::new(Ipv4Addr::from(a), l as u8).unwrap_or_default(), origin, protected };
    let mut t = vec![
        net(ip(10, 0, 0, 0), 16, Origin::System, true),
        net(ip(10, 1, 0, 0), 16, Origin::System, true),
        net(ip(0, 0, 0, 0), 0, Origin::System, false),
        net(ip(10, 0, 0, 0), 8, Origin::System, false),
        net(ip(172, 16, 0, 0), 12, Origin::System, false),
        net(ip(192, 168, 0, 0), 16, Origin::System, false),
        net(ip(100, 64, 0, 0), 10, Origin::System, false),
    ];
    for _ in 0..13 {
        t.push(net(public(&mut rng), 16 + rng.below(8) as u32, Origin::System, true));
    }
    for _ in 0..30 {
        let a = if rng.percent() < 50 { ip(10, 0, 0, 0) | rng.below(1 << 20) as u32 } else { public(&mut rng) };
        t.push(net(a, 12 + rng.below(13) as u32, Origin::Gateway, false));
    }
    for _ in 0..USER_ROUTES {
        let a = if rng.percent() < 40 { ip(10, 0, 0, 0) | rng.below(1 << 18) as u32 } else { public(&mut rng) };
        t.push(net(a, 8 + rng.below(25) as u32, Origin::User, false));
    }
    t
}

fn route_keys(table: &[LpmEntry], seed: u64) -> Vec<Ipv4Addr> {
    let mut rng = Rng::new(seed);
    (0..BATCH)
        .map(|_| {
            let a = if rng.percent() < 60 {
                let e = table[rng.below(table.len() as u64) as usize].net.trunc();
                let (lo, hi) = (u32::from(e.network()), u32::from(e.broadcast()));
                lo + (rng.next() % (u64::from(hi - lo) + 1)) as u32
            } else {
                public(&mut rng)
            };
            Ipv4Addr::from(a)
        })
        .collect()
}

fn bench_nsg(c: &mut Criterion) {
    let tags = tags();
    for n in RULE_COUNTS {
        let with_actions = nsg(n, 0x5eed + n as u64, &tags);
        let rules: Vec<MatchRule> = with_actions.iter().map(|(r, _)| r.clone()).collect();
        let ks = keys(&with_actions, &tags, 0xcafe + n as u64);
        let classifier = Classifier::new(&rules);
        for k in &ks {
            assert_eq!(classifier.first_match(k), first_match_linear(&rules, k), "bench data disagrees");
        }
        let mut g = c.benchmark_group("nsg");
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::new("compiled", n), &ks, |b, ks| {
            b.iter(|| ks.iter().map(|k| classifier.first_match(black_box(k)).unwrap_or(0)).sum::<usize>())
        });
        g.bench_with_input(BenchmarkId::new("linear", n), &ks, |b, ks| {
            b.iter(|| ks.iter().map(|k| first_match_linear(&rules, black_box(k)).unwrap_or(0)).sum::<usize>())
        });
        g.finish();
    }
}

fn bench_lpm(c: &mut Criterion) {
    let table = route_table(0x407e);
    let ks = route_keys(&table, 0xbeef);
    let lpm = Lpm::new(&table);
    for &a in &ks {
        assert_eq!(lpm.lookup(a), select_linear(&table, a), "bench data disagrees");
    }
    let mut g = c.benchmark_group("lpm");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_with_input(BenchmarkId::new("compiled", USER_ROUTES), &ks, |b, ks| {
        b.iter(|| ks.iter().map(|&a| lpm.lookup(black_box(a)).unwrap_or(0)).sum::<usize>())
    });
    g.bench_with_input(BenchmarkId::new("linear", USER_ROUTES), &ks, |b, ks| {
        b.iter(|| ks.iter().map(|&a| select_linear(&table, black_box(a)).unwrap_or(0)).sum::<usize>())
    });
    g.finish();
}

/// An address set as ARM writes it: a tag where the set is one, else prefixes.
fn arm_addresses(set: &AddrSet, tags: &Tags) -> Vec<String> {
    if set.is_all() {
        vec!["*".into()]
    } else if *set == tags.internet {
        vec!["Internet".into()]
    } else if *set == tags.vnet {
        vec!["VirtualNetwork".into()]
    } else {
        set_to_nets(set).iter().map(|n| n.to_string()).collect()
    }
}

fn arm_ports(set: &PortSet) -> Vec<String> {
    if set.is_all() {
        return vec!["*".into()];
    }
    set.ranges().iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect()
}

/// `xPrefix` for one value, `xPrefixes` for several, as the portal writes them.
fn one_or_many(props: &mut serde_json::Map<String, Value>, one: &str, many: &str, values: Vec<String>) {
    if values.len() == 1 {
        props.insert(one.into(), json!(values[0]));
    } else {
        props.insert(many.into(), json!(values));
    }
}

/// A site integrated into a subnet whose NSG holds the user rules of
/// `rules` (Azure adds the default rules itself) and whose route table holds
/// the user routes of `routes`.
fn template(rules: &[(MatchRule, bool)], routes: &[LpmEntry], tags: &Tags) -> Value {
    let user_rules = &rules[..rules.len().saturating_sub(3)];
    let security_rules: Vec<Value> = user_rules
        .iter()
        .enumerate()
        .map(|(i, (r, allow))| {
            let protocol = match r.protocols {
                ProtoMask::TCP => "Tcp",
                ProtoMask::UDP => "Udp",
                ProtoMask::ICMP => "Icmp",
                _ => "*",
            };
            let mut props = serde_json::Map::new();
            props.insert("priority".into(), json!(100 + i));
            props.insert("direction".into(), json!("Outbound"));
            props.insert("access".into(), json!(if *allow { "Allow" } else { "Deny" }));
            props.insert("protocol".into(), json!(protocol));
            one_or_many(&mut props, "sourceAddressPrefix", "sourceAddressPrefixes", arm_addresses(&r.src, tags));
            one_or_many(&mut props, "sourcePortRange", "sourcePortRanges", arm_ports(&r.src_ports));
            one_or_many(&mut props, "destinationAddressPrefix", "destinationAddressPrefixes", arm_addresses(&r.dst, tags));
            one_or_many(&mut props, "destinationPortRange", "destinationPortRanges", arm_ports(&r.dst_ports));
            json!({ "name": format!("rule{i}"), "properties": props })
        })
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    let user_routes: Vec<Value> = routes
        .iter()
        .filter(|e| e.origin == Origin::User && seen.insert(e.net.trunc()))
        .enumerate()
        .map(|(i, e)| {
            json!({ "name": format!("route{i}"), "properties": {
                "addressPrefix": e.net.trunc().to_string(),
                "nextHopType": "VirtualAppliance",
                "nextHopIpAddress": "10.0.2.4",
            }})
        })
        .collect();
    json!({
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            { "type": "Microsoft.Web/serverfarms", "apiVersion": "2022-03-01", "name": "plan",
              "location": "westeurope", "sku": { "name": "P1v3" }, "kind": "app" },
            { "type": "Microsoft.Network/networkSecurityGroups", "apiVersion": "2023-04-01", "name": "nsg",
              "location": "westeurope", "properties": { "securityRules": security_rules } },
            { "type": "Microsoft.Network/routeTables", "apiVersion": "2023-04-01", "name": "routes",
              "location": "westeurope", "properties": { "routes": user_routes } },
            { "type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-04-01", "name": "vnet",
              "location": "westeurope",
              "properties": {
                "addressSpace": { "addressPrefixes": ["10.0.0.0/16"] },
                "subnets": [
                    { "name": "integration", "properties": {
                        "addressPrefix": "10.0.1.0/24",
                        "networkSecurityGroup": { "id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]" },
                        "routeTable": { "id": "[resourceId('Microsoft.Network/routeTables', 'routes')]" },
                        "delegations": [{ "name": "web", "properties": { "serviceName": "Microsoft.Web/serverFarms" } }]
                    }},
                    { "name": "appliances", "properties": { "addressPrefix": "10.0.2.0/24" } }
                ]
              }
            },
            { "type": "Microsoft.Web/sites", "apiVersion": "2022-03-01", "name": "app", "location": "westeurope",
              "kind": "app",
              "properties": {
                "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
                "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
                "vnetRouteAllEnabled": true
              }
            }
        ]
    })
}

fn compile_policy(tpl: &Value) -> Result<Policy, String> {
    let resources = vnetlab_core::arm::expand_template(tpl, "bench", &Default::default(), &Default::default()).map_err(|e| e.to_string())?;
    let scenario = vnetlab_core::model::build(&resources).map_err(|e| e.to_string())?;
    Policy::compile(&scenario, &PolicyOptions::default()).map_err(|e| e.to_string())
}

fn bench_decide(c: &mut Criterion) {
    let tags = tags();
    let routes = route_table(0x407e);
    for n in RULE_COUNTS {
        let rules = nsg(n, 0x5eed + n as u64, &tags);
        let policy = match compile_policy(&template(&rules, &routes, &tags)) {
            Ok(p) => p,
            Err(e) => panic!("decide bench: the generated template with {n} rules does not compile: {e}"),
        };
        let src = policy.instance_ip();
        let flows: Vec<Flow> = keys(&rules, &tags, 0xcafe + n as u64)
            .iter()
            .map(|k| Flow { proto: k.proto, src, src_port: k.src_port, dst: Ipv4Addr::from(k.dst), dst_port: k.dst_port })
            .collect();
        for f in &flows {
            assert_eq!(policy.decide(f), policy.decide_linear(f), "bench data disagrees on {f:?}");
        }
        let mut g = c.benchmark_group("decide");
        g.throughput(Throughput::Elements(BATCH as u64));
        g.bench_with_input(BenchmarkId::new("compiled", n), &flows, |b, fs| b.iter(|| fs.iter().filter(|f| policy.decide(black_box(f)).allowed).count()));
        g.bench_with_input(BenchmarkId::new("linear", n), &flows, |b, fs| b.iter(|| fs.iter().filter(|f| policy.decide_linear(black_box(f)).allowed).count()));
        g.finish();
    }
}

criterion_group!(benches, bench_nsg, bench_lpm, bench_decide);
criterion_main!(benches);
