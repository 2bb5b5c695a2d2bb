//! Human and JSON renderings of what the policy decided: the flow trace
//! (like Network Watcher's IP flow verify and next hop together), the
//! effective routes and the effective security rules.

use crate::addr::set_to_nets;
use crate::check::Outcome;
use crate::decision::{AppRouting, DropReason, Path, Resolution, SourceNat};
use crate::model::{Access, AddrItem};
use crate::policy::nsg::EffectiveRule;
use crate::policy::{Policy, Sender};
use serde_json::{json, Value};
use std::fmt::Write;

fn sender_line(p: &Policy) -> String {
    match &p.sender {
        Sender::Site { name, integration_by, .. } => format!("site {name}, integrated into {} ({integration_by})", p.subnet_name),
        Sender::Nic => format!("a NIC in {}", p.subnet_name),
    }
}

fn routing_text(p: &Policy, why: AppRouting) -> String {
    match why {
        AppRouting::Platform => "platform address: handled by the platform (no NSG, no route)".into(),
        AppRouting::RouteAll => format!("Route All on ({}): all traffic enters the virtual network", p.route_all.decided_by),
        AppRouting::FlexConsumption => "Flex Consumption plan: all traffic enters the virtual network".into(),
        AppRouting::Rfc1918 => format!("Route All off ({}); RFC1918 destination enters the virtual network", p.route_all.decided_by),
        AppRouting::ServiceEndpoint => format!("Route All off ({}); service endpoint destination enters the virtual network", p.route_all.decided_by),
        AppRouting::NotRouted => format!("Route All off ({}): leaves directly from the site's outbound addresses (no NSG, no route)", p.route_all.decided_by),
    }
}

fn drop_text(r: DropReason) -> &'static str {
    match r {
        DropReason::NoneRoute => "the route's next hop is None",
        DropReason::NoGateway => "next hop VirtualNetworkGateway, but the VNet has no gateway",
        DropReason::Port25 => "outbound TCP 25 to the internet is blocked by the platform (--allow-port-25 to lift)",
        DropReason::NatGatewayProtocol => "a NAT gateway carries only TCP and UDP",
        DropReason::InternetHopNotInternet => "next hop Internet for an address outside the Internet tag",
        DropReason::NsgDeny => "denied by the NSG rule",
    }
}

fn resolution_text(r: &Resolution) -> String {
    match r {
        Resolution::Addresses { addrs, chain, answered_by, .. } => {
            format!("{} -> {} (answered by {answered_by})", chain.join(" -> "), addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "))
        }
        Resolution::NxDomain { chain, answered_by, .. } => format!("{} -> NXDOMAIN ({answered_by})", chain.join(" -> ")),
    }
}

pub fn resolution_json(r: &Resolution) -> Value {
    match r {
        Resolution::Addresses { addrs, chain, answered_by, placeholder } => {
            let mut v = json!({"addresses": addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(), "chain": chain, "answered_by": answered_by});
            if *placeholder {
                v["placeholder"] = json!(true);
            }
            v
        }
        Resolution::NxDomain { chain, answered_by, .. } => json!({"addresses": [], "nxdomain": true, "chain": chain, "answered_by": answered_by}),
    }
}

/// One warning per name that got a placeholder address, in order of first
/// appearance: the user should give what public DNS answers.
pub fn placeholder_warnings<'a>(resolutions: impl IntoIterator<Item = &'a Resolution>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in resolutions {
        if let Resolution::Addresses { addrs, chain, placeholder: true, .. } = r {
            let name = chain.first().map(String::as_str).unwrap_or("");
            if seen.insert(name.to_string()) {
                let a = addrs.first().map(|a| a.to_string()).unwrap_or_default();
                out.push(format!(
                    "no private DNS zone or --public-dns entry answers {name} (Azure resolves it through public DNS); using placeholder {a}. Give its address with --public-dns {name}=ADDRESS"
                ));
            }
        }
    }
    out
}

/// The readable trace of one flow.
pub fn trace_text(p: &Policy, o: &Outcome) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "flow     {}  from {}", o.spec, sender_line(p));
    if let Some(r) = &o.resolution {
        let _ = writeln!(s, "dns      {}", resolution_text(r));
    }
    let (Some(f), Some(d)) = (&o.flow, &o.decision) else {
        let _ = writeln!(s, "result   BLOCKED by dns: the name does not resolve");
        return s;
    };
    let ports = if f.proto.has_ports() { format!(":{} -> {}:{}", f.src_port, f.dst, f.dst_port) } else { format!(" -> {}", f.dst) };
    let _ = writeln!(s, "packet   {}{ports}", f.src);
    let _ = writeln!(s, "routing  {}", routing_text(p, d.app_routing));
    if d.path == Path::Vnet && d.app_routing != AppRouting::Platform {
        match (p.nsg(), d.nsg_rule) {
            (Some(n), Some(i)) => {
                let r = &n.rules[i as usize];
                let _ = writeln!(s, "nsg      {} outbound: {} (priority {}, {:?})  [{}]", n.name, r.name, r.priority, r.access, r.qualified_name());
            }
            (Some(n), None) => {
                let _ = writeln!(s, "nsg      {} outbound: no rule matched", n.name);
            }
            (None, _) => {
                let _ = writeln!(s, "nsg      no NSG on {}: allowed", p.subnet_name);
            }
        }
        if let Some(ri) = d.route {
            let r = &p.routes().routes[ri as usize];
            let hop = match r.next_hop_ip {
                Some(ip) => format!("{} {ip}", r.next_hop.as_str()),
                None => r.next_hop.as_str().to_string(),
            };
            let name = r.name.as_deref().map(|n| format!(" '{n}'")).unwrap_or_default();
            let _ = writeln!(
                s,
                "route    {} -> {hop}  ({} route{name}: {}; longest matching prefix /{})",
                r.prefix,
                r.source.as_str(),
                r.note,
                r.prefix.prefix_len()
            );
        }
    }
    let src = match d.snat {
        SourceNat::Private => "the instance's private address",
        SourceNat::NatGateway => "NAT gateway public address",
        SourceNat::SiteOutbound => "site outbound address",
    };
    let _ = writeln!(s, "source   {} ({src})", d.source);
    match (d.allowed, d.blocked_by, d.drop_reason) {
        (true, _, _) => {
            let _ = writeln!(s, "result   ALLOWED");
        }
        (false, Some(b), Some(r)) => {
            let _ = writeln!(s, "result   BLOCKED by {}: {}", b.as_str(), drop_text(r));
        }
        _ => {
            let _ = writeln!(s, "result   BLOCKED");
        }
    }
    s
}

/// The trace as JSON: FORMAT.md's keys plus the details behind them.
pub fn trace_json(p: &Policy, o: &Outcome) -> Value {
    let mut v = o.actual(p);
    let obj = v.as_object_mut().expect("actual() is an object");
    obj.insert("flow".into(), json!(o.spec.to_string()));
    if let Some(r) = &o.resolution {
        obj.insert("dns".into(), resolution_json(r));
    }
    if let (Some(f), Some(d)) = (&o.flow, &o.decision) {
        obj.insert(
            "packet".into(),
            json!({"protocol": format!("{:?}", f.proto), "src": f.src.to_string(), "src_port": f.src_port, "dst": f.dst.to_string(), "dst_port": f.dst_port}),
        );
        obj.insert("app_routing".into(), json!(routing_text(p, d.app_routing)));
        if let (Some(n), Some(i)) = (p.nsg(), d.nsg_rule) {
            let r = &n.rules[i as usize];
            obj.insert("nsg".into(), json!({"name": n.name, "rule": r.qualified_name(), "priority": r.priority, "access": format!("{:?}", r.access)}));
        }
        if let Some(ri) = d.route {
            let r = &p.routes().routes[ri as usize];
            obj.insert(
                "route".into(),
                json!({"addressPrefix": r.prefix.to_string(), "nextHopType": r.next_hop.as_str(),
                "nextHopIpAddress": r.next_hop_ip.map(|a| a.to_string()), "source": r.source.as_str(), "name": r.name,
                "routeTableId": r.route_table.clone().unwrap_or_else(|| "System Route".into()), "note": r.note}),
            );
        }
        obj.insert("drop_reason".into(), json!(d.drop_reason.map(drop_text)));
    }
    v
}

pub fn routes_text(p: &Policy) -> String {
    let mut s = format!("Effective routes of {} ({})\n", p.subnet_name, sender_line(p));
    let _ = writeln!(s, "{:<22} {:<8} {:<20} {:<30} {:<15} Note", "Source", "State", "Address prefix", "Next hop type", "Next hop IP");
    for r in &p.routes().routes {
        let _ = writeln!(
            s,
            "{:<22} {:<8} {:<20} {:<30} {:<15} {}",
            r.source.as_str(),
            if r.active { "Active" } else { "Invalid" },
            r.prefix.to_string(),
            r.next_hop.as_str(),
            r.next_hop_ip.map(|a| a.to_string()).unwrap_or_default(),
            r.name.as_deref().map(|n| format!("{n} ({})", r.note)).unwrap_or_else(|| r.note.clone())
        );
    }
    s
}

/// Effective routes in the shape of Azure's `effectiveRouteTable` output.
pub fn routes_json(p: &Policy) -> Value {
    let value: Vec<Value> = p
        .routes()
        .routes
        .iter()
        .map(|r| {
            json!({"name": r.name, "source": r.source.as_str(), "state": if r.active {"Active"} else {"Invalid"},
                "addressPrefix": [r.prefix.to_string()], "nextHopType": r.next_hop.as_str(),
                "nextHopIpAddress": r.next_hop_ip.map(|a| vec![a.to_string()]).unwrap_or_default(),
                "note": r.note})
        })
        .collect();
    json!({"subnet": p.subnet_name, "value": value})
}

fn items_text(items: &[AddrItem]) -> String {
    items
        .iter()
        .map(|i| match i {
            AddrItem::Any => "*".to_string(),
            AddrItem::Prefix(n) => n.to_string(),
            AddrItem::Tag(t) => t.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn ports_text(ports: &[(u16, u16)]) -> String {
    ports
        .iter()
        .map(|&(a, b)| {
            if (a, b) == (0, 65535) {
                "0-65535".to_string()
            } else if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn proto_text(r: &EffectiveRule) -> &'static str {
    match r.protocol {
        crate::model::NsgProtocol::Any => "All",
        other => other.as_str(),
    }
}

fn expanded(set: &crate::addr::AddrSet) -> Vec<String> {
    set_to_nets(set).iter().map(|n| n.to_string()).collect()
}

pub fn rules_text(p: &Policy) -> String {
    let Some(n) = p.nsg() else {
        return format!("No NSG on {}: all outbound traffic that enters the VNet is allowed by NSGs.\n", p.subnet_name);
    };
    let mut s = format!("Effective outbound security rules of {} on {} ({})\n", n.name, p.subnet_name, sender_line(p));
    let _ = writeln!(s, "{:<8} {:<44} {:<6} {:<5} {:<16} {:<9} {:<16} Dst ports", "Priority", "Name", "Access", "Proto", "Source", "Src ports", "Destination");
    for r in &n.rules {
        let mut name = r.qualified_name();
        if r.uses_asgs {
            name.push_str(" [ASG: never matches]");
        }
        let _ = writeln!(
            s,
            "{:<8} {:<44} {:<6} {:<5} {:<16} {:<9} {:<16} {}",
            r.priority,
            name,
            if r.access == Access::Allow { "Allow" } else { "Deny" },
            proto_text(r),
            items_text(&r.source),
            ports_text(&r.source_ports),
            items_text(&r.destination),
            ports_text(&r.destination_ports)
        );
    }
    let _ = writeln!(s, "\nService tags as expanded for this subnet:");
    let mut tags: Vec<String> = Vec::new();
    for r in &n.rules {
        for it in r.source.iter().chain(r.destination.iter()) {
            if let AddrItem::Tag(t) = it {
                if !tags.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                    tags.push(t.clone());
                }
            }
        }
    }
    for t in tags {
        if let Ok(set) = p.tags.resolve(&t) {
            let nets = expanded(&set);
            let shown = if nets.len() > 12 { format!("{} ... ({} prefixes; --json for all)", nets[..12].join(", "), nets.len()) } else { nets.join(", ") };
            let _ = writeln!(s, "  {t}: {shown}");
        }
    }
    s
}

/// Effective security rules in the shape of Azure's `effectiveNetworkSecurityGroups` output.
pub fn rules_json(p: &Policy) -> Value {
    let Some(n) = p.nsg() else {
        return json!({"subnet": p.subnet_name, "value": []});
    };
    let rules: Vec<Value> = n
        .rules
        .iter()
        .map(|r| {
            json!({"name": r.qualified_name(), "protocol": proto_text(r),
                "sourcePortRanges": r.source_ports.iter().map(|&(a, b)| format!("{a}-{b}")).collect::<Vec<_>>(),
                "destinationPortRanges": r.destination_ports.iter().map(|&(a, b)| format!("{a}-{b}")).collect::<Vec<_>>(),
                "sourceAddressPrefixes": items_text(&r.source).split(',').collect::<Vec<_>>(),
                "destinationAddressPrefixes": items_text(&r.destination).split(',').collect::<Vec<_>>(),
                "expandedSourceAddressPrefix": expanded(&r.matcher.src),
                "expandedDestinationAddressPrefix": expanded(&r.matcher.dst),
                "access": if r.access == Access::Allow {"Allow"} else {"Deny"}, "priority": r.priority, "direction": "Outbound",
                "neverMatches": if r.uses_asgs { Some("names application security groups; an App Service instance has no NIC") } else { None }})
        })
        .collect();
    json!({"subnet": p.subnet_name, "value": [{"networkSecurityGroup": {"name": n.name}, "association": {"subnet": p.subnet_name}, "effectiveSecurityRules": rules}]})
}
