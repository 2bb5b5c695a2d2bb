//! Rules that two parts of vnetlab used to decide separately, checked
//! against each other: the `routes` listing's Active/Invalid states against
//! the route `decide` takes, the `AzurePlatformLKM` tag in NSG rules, and
//! `lint`'s view of `Internet` next hops against the drops `decide` makes.

use std::net::Ipv4Addr;
use vnetlab_core::arm::{self, DeployContext};
use vnetlab_core::check::{self, parse_flow};
use vnetlab_core::decision::{BlockedBy, DropReason, NextHopType, World};
use vnetlab_core::explain;
use vnetlab_core::flow::Proto;
use vnetlab_core::lint::lint;
use vnetlab_core::model::Scenario;
use vnetlab_core::policy::tags::ServiceTags;
use vnetlab_core::policy::{Policy, PolicyOptions};

fn scenario(toml: &str) -> Scenario {
    let res = arm::load_native(toml, "t.toml", &DeployContext::default()).unwrap_or_else(|e| panic!("{e}"));
    vnetlab_core::model::build(&res).unwrap_or_else(|e| panic!("{e}"))
}

fn compile(sc: &Scenario, tags: &ServiceTags) -> Policy {
    Policy::compile(sc, &PolicyOptions { service_tags: tags.clone(), ..Default::default() }).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().expect("valid address")
}

/// A site with Route All in `vnet-app` (10.0.0.0/16, Storage service
/// endpoint on the integration subnet), peered with `vnet-hub`
/// (10.1.0.0/16) whose VPN gateway connects to an on-premises network
/// announcing `onprem`; `routes` are extra `[[route_table.route]]` tables.
fn gateway_scenario(onprem: &[&str], routes: &str) -> String {
    let space = onprem.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(", ");
    format!(
        r#"
[[site]]
name = "app"
plan = "EP1"
subnet = "vnet-app/integration"
route_all = true
outbound_ips = ["198.51.100.10"]

[[vnet]]
name = "vnet-app"
address_space = ["10.0.0.0/16"]
[[vnet.subnet]]
name = "integration"
prefix = "10.0.2.0/24"
route_table = "rt"
delegation = "Microsoft.Web/serverFarms"
service_endpoints = ["Microsoft.Storage"]
[[vnet.peering]]
remote = "vnet-hub"
use_remote_gateways = true

[[vnet]]
name = "vnet-hub"
address_space = ["10.1.0.0/16"]
[[vnet.subnet]]
name = "GatewaySubnet"
prefix = "10.1.255.0/27"
[[vnet.subnet]]
name = "shared"
prefix = "10.1.0.0/24"
[[vnet.peering]]
remote = "vnet-app"
allow_gateway_transit = true

[[route_table]]
name = "rt"
{routes}

[[vnet_gateway]]
name = "vpngw"
vnet = "vnet-hub"

[[local_gateway]]
name = "onprem"
address_space = [{space}]

[[connection]]
name = "hub-to-onprem"
gateway = "vpngw"
local_gateway = "onprem"
"#
    )
}

fn storage_tags() -> ServiceTags {
    let mut t = ServiceTags::default();
    t.insert("Storage", vec!["20.60.0.0/16".parse().expect("valid"), "20.61.0.0/16".parse().expect("valid")]);
    t
}

/// `(source, state, prefix, next hop)` of every listed route, as `routes --json` shows them.
fn listing(p: &Policy) -> Vec<(String, String, String, String)> {
    let v = explain::routes_json(p);
    let s = |x: &serde_json::Value| x.as_str().unwrap_or("").to_string();
    v["value"].as_array().expect("routes listing").iter().map(|r| (s(&r["source"]), s(&r["state"]), s(&r["addressPrefix"][0]), s(&r["nextHopType"]))).collect()
}

fn state_of(p: &Policy, source: &str, prefix: &str, hop: &str) -> String {
    let l = listing(p);
    let hits: Vec<_> = l.iter().filter(|r| r.0 == source && r.2 == prefix && r.3 == hop).collect();
    assert_eq!(hits.len(), 1, "one {source} route {prefix} -> {hop} in {l:#?}");
    hits[0].1.clone()
}

/// The route `decide` (and the linear oracle) takes for `dst`, as the listing row.
fn chosen(p: &Policy, dst: Ipv4Addr) -> (String, String, String, String) {
    let f = p.flow(Proto::Tcp, dst, 443);
    let (d, lin) = (p.decide(&f), p.decide_linear(&f));
    assert_eq!((d.route, d.next_hop), (lin.route, lin.next_hop), "compiled and linear disagree for {dst}");
    let i = d.route.unwrap_or_else(|| panic!("no route for {dst}")) as usize;
    let r = &p.routes().routes[i];
    assert_eq!(d.next_hop, Some(r.next_hop));
    listing(p)[i].clone()
}

/// Every route `decide` takes is listed Active, and is the longest Active
/// prefix that covers the destination.
fn assert_decide_uses_the_active_route(p: &Policy, dst: Ipv4Addr) {
    let routes = &p.routes().routes;
    let row = chosen(p, dst);
    assert_eq!(row.1, "Active", "decide for {dst} uses {row:?}, listed Invalid");
    let longest = routes.iter().filter(|r| r.active && r.prefix.contains(&dst)).map(|r| r.prefix.prefix_len()).max();
    assert_eq!(row.2.parse::<ipnet::Ipv4Net>().ok().map(|n| n.prefix_len()), longest, "decide for {dst} skips a longer Active route");
}

#[test]
fn gateway_route_equal_to_the_vnet_space_is_invalid_and_unused() {
    let sc = scenario(&gateway_scenario(&["10.0.0.0/16", "192.168.0.0/16"], ""));
    let p = compile(&sc, &storage_tags());
    assert_eq!(state_of(&p, "Default", "10.0.0.0/16", "VnetLocal"), "Active");
    assert_eq!(state_of(&p, "VirtualNetworkGateway", "10.0.0.0/16", "VirtualNetworkGateway"), "Invalid");
    assert_eq!(chosen(&p, ip("10.0.1.20")).3, "VnetLocal");
    // Without a VNet route at that prefix the gateway wins over the None route.
    assert_eq!(state_of(&p, "VirtualNetworkGateway", "192.168.0.0/16", "VirtualNetworkGateway"), "Active");
    assert_eq!(state_of(&p, "Default", "192.168.0.0/16", "None"), "Invalid");
    assert_eq!(chosen(&p, ip("192.168.7.7")).3, "VirtualNetworkGateway");
    for dst in ["10.0.1.20", "10.0.255.255", "192.168.7.7", "8.8.8.8"] {
        assert_decide_uses_the_active_route(&p, ip(dst));
    }
}

#[test]
fn gateway_route_equal_to_a_peered_space_is_invalid_and_unused() {
    let sc = scenario(&gateway_scenario(&["10.1.0.0/16"], ""));
    let p = compile(&sc, &storage_tags());
    assert_eq!(state_of(&p, "Default", "10.1.0.0/16", "VNetPeering"), "Active");
    assert_eq!(state_of(&p, "VirtualNetworkGateway", "10.1.0.0/16", "VirtualNetworkGateway"), "Invalid");
    assert_eq!(chosen(&p, ip("10.1.0.9")).3, "VNetPeering");
    assert_decide_uses_the_active_route(&p, ip("10.1.0.9"));
}

#[test]
fn more_specific_gateway_routes_inside_protected_prefixes_are_invalid() {
    // Inside the VNet, inside the peering, inside a service endpoint prefix,
    // and one containing the VNet (which stays usable around it).
    let sc = scenario(&gateway_scenario(&["10.0.1.0/24", "10.1.5.0/24", "20.60.1.0/24", "10.0.0.0/8"], ""));
    let p = compile(&sc, &storage_tags());
    for prefix in ["10.0.1.0/24", "10.1.5.0/24", "20.60.1.0/24"] {
        assert_eq!(state_of(&p, "VirtualNetworkGateway", prefix, "VirtualNetworkGateway"), "Invalid", "{prefix}");
    }
    assert_eq!(state_of(&p, "VirtualNetworkGateway", "10.0.0.0/8", "VirtualNetworkGateway"), "Active");
    assert_eq!(state_of(&p, "Default", "10.0.0.0/8", "None"), "Invalid");
    assert_eq!(chosen(&p, ip("10.0.1.20")).3, "VnetLocal");
    assert_eq!(chosen(&p, ip("10.1.5.20")).3, "VNetPeering");
    assert_eq!(chosen(&p, ip("20.60.1.20")).3, "VirtualNetworkServiceEndpoint");
    assert_eq!(chosen(&p, ip("10.9.0.1")).3, "VirtualNetworkGateway");
    for dst in ["10.0.1.20", "10.1.5.20", "20.60.1.20", "10.9.0.1", "10.0.0.0", "10.255.255.255"] {
        assert_decide_uses_the_active_route(&p, ip(dst));
    }
}

#[test]
fn user_route_beats_an_equal_service_endpoint_and_gateway_route() {
    // README, behaviour choices: the user route wins at equal prefix, as for every system route.
    let udr = "[[route_table.route]]\nname = \"se-to-nva\"\nprefix = \"20.61.0.0/16\"\nnext_hop = \"VirtualAppliance\"\nnext_hop_ip = \"10.1.0.4\"";
    let sc = scenario(&gateway_scenario(&["20.61.0.0/16"], udr));
    let p = compile(&sc, &storage_tags());
    assert_eq!(state_of(&p, "User", "20.61.0.0/16", "VirtualAppliance"), "Active");
    assert_eq!(state_of(&p, "Default", "20.61.0.0/16", "VirtualNetworkServiceEndpoint"), "Invalid");
    assert_eq!(state_of(&p, "VirtualNetworkGateway", "20.61.0.0/16", "VirtualNetworkGateway"), "Invalid");
    assert_eq!(chosen(&p, ip("20.61.3.3")).3, "VirtualAppliance");
    assert_decide_uses_the_active_route(&p, ip("20.61.3.3"));
}

#[test]
fn decide_only_ever_uses_active_routes() {
    let udr = "[[route_table.route]]\nname = \"a\"\nprefix = \"10.0.3.0/24\"\nnext_hop = \"None\"\n\
               [[route_table.route]]\nname = \"b\"\nprefix = \"10.1.0.0/16\"\nnext_hop = \"VirtualAppliance\"\nnext_hop_ip = \"10.1.0.4\"\n\
               [[route_table.route]]\nname = \"c\"\nprefix = \"172.16.0.0/12\"\nnext_hop = \"VirtualNetworkGateway\"";
    let onprem = ["10.0.0.0/16", "10.0.3.0/25", "10.1.0.0/16", "10.1.8.0/21", "172.16.0.0/12", "172.16.4.0/24", "20.60.0.0/16", "20.0.0.0/8", "0.0.0.0/1"];
    let sc = scenario(&gateway_scenario(&onprem, udr));
    let p = compile(&sc, &storage_tags());
    // Both ends of every listed prefix and their neighbours, then pseudo-random addresses.
    let mut probes: Vec<u32> = Vec::new();
    for r in &p.routes().routes {
        let (lo, hi) = (u32::from(r.prefix.network()), u32::from(r.prefix.broadcast()));
        probes.extend([lo, hi, lo.wrapping_sub(1), hi.wrapping_add(1)]);
    }
    let mut x: u32 = 0x2545_f491;
    for _ in 0..4000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        probes.push(x);
    }
    for a in probes.into_iter().map(Ipv4Addr::from) {
        if a == ip("168.63.129.16") || a == ip("169.254.169.254") {
            continue; // platform addresses take no route
        }
        assert_decide_uses_the_active_route(&p, a);
    }
}

fn lkm_scenario(deny_rule: bool) -> Scenario {
    let rule = if deny_rule {
        "[[nsg.rule]]\nname = \"DenyLicensing\"\npriority = 100\naccess = \"Deny\"\nprotocol = \"Tcp\"\ndestination = \"AzurePlatformLKM\"\ndestination_ports = \"1688\""
    } else {
        ""
    };
    scenario(&format!(
        r#"
[[site]]
name = "app"
plan = "EP1"
subnet = "vnet-app/integration"
route_all = true
outbound_ips = ["198.51.100.10"]

[[vnet]]
name = "vnet-app"
address_space = ["10.0.0.0/16"]
[[vnet.subnet]]
name = "integration"
prefix = "10.0.2.0/24"
nsg = "nsg"
delegation = "Microsoft.Web/serverFarms"

[[nsg]]
name = "nsg"
{rule}
"#
    ))
}

#[test]
fn deny_rule_to_azure_platform_lkm_blocks_the_kms_addresses() {
    let with = compile(&lkm_scenario(true), &ServiceTags::default());
    let without = compile(&lkm_scenario(false), &ServiceTags::default());
    // kms.core.windows.net and azkms.core.windows.net.
    for kms in ["23.102.135.246", "20.118.99.224", "40.83.235.53"] {
        let flow = format!("tcp {kms}:1688");
        let o = check::evaluate(&with, &parse_flow(&flow).expect("valid flow"));
        let d = o.decision.expect("an address needs no DNS");
        assert_eq!((d.allowed, d.blocked_by, d.drop_reason), (false, Some(BlockedBy::Nsg), Some(DropReason::NsgDeny)), "{flow}");
        assert_eq!(with.rule_name(d.nsg_rule.expect("a rule matched")), "DenyLicensing", "{flow}");
        let text = explain::trace_text(&with, &o);
        assert!(text.contains("DenyLicensing") && text.contains("BLOCKED by nsg"), "{text}");

        let o = check::evaluate(&without, &parse_flow(&flow).expect("valid flow"));
        let d = o.decision.expect("an address needs no DNS");
        assert_eq!((d.allowed, d.world, d.next_hop), (true, World::Internet, Some(NextHopType::Internet)), "{flow} without the rule");
    }
    // Other addresses and ports are not the rule's business.
    for flow in ["tcp 23.102.135.246:443", "tcp 8.8.8.8:1688", "udp 168.63.129.16:53"] {
        let o = check::evaluate(&with, &parse_flow(flow).expect("valid flow"));
        assert!(o.decision.expect("resolved").allowed, "{flow}");
    }
    // `rules` shows the tag with what it stands for.
    let rules = explain::rules_text(&with);
    assert!(rules.contains("AzurePlatformLKM: ") && rules.contains("20.118.99.224/32"), "{rules}");
}

/// A route table of one `prefix -> Internet` route on the integration subnet.
fn internet_hop_scenario(prefix: &str) -> Scenario {
    scenario(&format!(
        r#"
[[site]]
name = "app"
plan = "EP1"
subnet = "vnet-app/integration"
route_all = true
outbound_ips = ["198.51.100.10"]

[[vnet]]
name = "vnet-app"
address_space = ["10.0.0.0/16"]
[[vnet.subnet]]
name = "integration"
prefix = "10.0.2.0/24"
route_table = "rt"
delegation = "Microsoft.Web/serverFarms"

[[route_table]]
name = "rt"
[[route_table.route]]
name = "to-internet"
prefix = "{prefix}"
next_hop = "Internet"
"#
    ))
}

fn lint_flags_internet_hop(sc: &Scenario) -> bool {
    lint(sc, &ServiceTags::default()).iter().any(|f| f.subject == "route table rt route to-internet")
}

#[test]
fn lint_flags_a_loopback_route_to_internet() {
    let findings = lint(&internet_hop_scenario("127.0.0.0/8"), &ServiceTags::default());
    let f = findings.iter().find(|f| f.subject == "route table rt route to-internet");
    assert_eq!(f.map(|f| f.code), Some("internet-hop-not-internet"), "{findings:#?}");
}

#[test]
fn lint_flags_internet_hops_exactly_where_decide_drops_them() {
    // (prefix, flagged): flagged exactly when every address the route carries is dropped.
    let table = [
        ("10.1.0.0/16", true), // private, outside the VNet
        ("127.0.0.0/8", true),
        ("169.254.0.0/16", true),
        ("100.64.0.0/10", true),
        ("172.16.0.0/12", true),
        ("192.168.10.0/24", true),
        ("224.0.0.0/4", true),
        ("198.51.100.0/24", false),
        ("20.0.0.0/8", false),
        ("100.0.0.0/8", false), // public around the shared range
        ("0.0.0.0/0", false),
    ];
    for (prefix, expected) in table {
        let sc = internet_hop_scenario(prefix);
        let p = compile(&sc, &ServiceTags::default());
        let net: ipnet::Ipv4Net = prefix.parse().expect("valid prefix");
        let (lo, hi) = (u32::from(net.network()), u32::from(net.broadcast()));
        let udr = p.routes().routes.iter().position(|r| r.name.as_deref() == Some("to-internet")).expect("the user route") as u32;
        let mut carried = 0;
        let mut all_dropped = true;
        for a in [lo, lo + 1, lo + (hi - lo) / 2, hi - 1, hi, 0x0808_0808, 0x7f00_0001, 0x0a01_0001] {
            let d = p.decide(&p.flow(Proto::Tcp, Ipv4Addr::from(a), 443));
            if d.route != Some(udr) {
                continue;
            }
            carried += 1;
            all_dropped &= d.drop_reason == Some(DropReason::InternetHopNotInternet);
        }
        assert!(carried > 0, "{prefix}: the route carries none of the probes");
        assert_eq!(all_dropped, expected, "{prefix}: decide");
        assert_eq!(lint_flags_internet_hop(&sc), expected, "{prefix}: lint");
    }
}
