//! What a platform engineer wants to know before deploying: findings about
//! integration subnets, delegations, plans, NSG rules that can never match
//! or cannot compile, appliance next hops and NAT gateways that traffic will
//! not use. An NSG fault is an error only in the rules a command evaluates
//! (`policy::EVALUATED_DIRECTION` of a sender's subnet NSG): the same rule
//! that decides what `verify` and `rules` must load.

use crate::decision::NextHopType;
use crate::error::LoadError;
use crate::model::{Direction, Nsg, PlanKind, RoutePrefix, Scenario, SubnetRef};
use crate::policy::nsg::EffectiveNsg;
use crate::policy::tags::{ServiceTags, TagContext};
use crate::policy::{senders, EVALUATED_DIRECTION};
use crate::warning::Uses;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone)]
pub struct Finding {
    pub severity: Severity,
    /// A short stable id, e.g. `subnet-too-small`.
    pub code: &'static str,
    /// What it is about: `site func-app`, `nsg nsg-int rule X`.
    pub subject: String,
    pub message: String,
}

impl Finding {
    pub fn line(&self) -> String {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        format!("{sev}[{}] {}: {}", self.code, self.subject, self.message)
    }

    pub fn to_json(&self) -> Value {
        json!({"severity": format!("{:?}", self.severity).to_ascii_lowercase(), "code": self.code, "subject": self.subject, "message": self.message})
    }
}

fn f(severity: Severity, code: &'static str, subject: String, message: String) -> Finding {
    Finding { severity, code, subject, message }
}

/// Usable addresses: Azure keeps five per subnet.
fn usable(len: u8) -> u64 {
    (1u64 << (32 - u32::from(len))).saturating_sub(5)
}

pub fn lint(sc: &Scenario, tags: &ServiceTags) -> Vec<Finding> {
    let mut out = Vec::new();
    for site in &sc.sites {
        let subject = format!("site {}", site.name);
        let plan = site.plan.map(|p| &sc.plans[p]);
        let kind = plan.map(|p| p.kind);
        let Some((subnet, _)) = &site.integration else { continue };
        let sub = sc.subnet(*subnet);
        let sname = sc.subnet_name(*subnet);
        if kind == Some(PlanKind::Consumption) {
            out.push(f(Severity::Error, "plan-without-integration", subject.clone(), format!(
                "is integrated into {sname} but its plan '{}' is Consumption (Y1/Dynamic), which has no virtual network integration: move to Flex Consumption, Elastic Premium or a Dedicated plan", plan.map_or("", |p| &p.name))));
            continue;
        }
        if kind == Some(PlanKind::Isolated) {
            out.push(f(
                Severity::Warning,
                "isolated-plan",
                subject.clone(),
                "is on an App Service Environment plan: regional virtual network integration is not offered there (the ASE is already in the VNet)".into(),
            ));
        }
        // Subnet size: minimum and recommended prefix length by plan and OS.
        let linux = plan.is_some_and(|p| p.linux) || site.kind.to_ascii_lowercase().contains("linux");
        let (min, rec) = match kind {
            Some(PlanKind::FlexConsumption) => (27, 27),
            Some(PlanKind::ElasticPremium) => (28, if linux { 26 } else { 24 }),
            _ => (28, 26),
        };
        let len = sub.prefixes[0].prefix_len();
        if len > min {
            out.push(f(
                Severity::Error,
                "subnet-too-small",
                subject.clone(),
                format!("integration subnet {sname} is /{len} ({} usable addresses); this plan needs at least /{min}", usable(len)),
            ));
        } else if len > rec {
            out.push(f(Severity::Warning, "subnet-too-small", subject.clone(), format!(
                "integration subnet {sname} is /{len}: {} usable addresses allow about {} instances while scaling (usage doubles during scale operations); /{rec} is recommended",
                usable(len), usable(len) / 2)));
        }
        // Delegation.
        let want = if kind == Some(PlanKind::FlexConsumption) { "Microsoft.App/environments" } else { "Microsoft.Web/serverFarms" };
        if !sub.delegations.iter().any(|d| d.eq_ignore_ascii_case(want)) {
            let has = if sub.delegations.is_empty() { "no delegation".to_string() } else { format!("delegation to {}", sub.delegations.join(", ")) };
            out.push(f(Severity::Error, "delegation", subject.clone(), format!("integration subnet {sname} has {has}; it must be delegated to {want}")));
        }
        if kind == Some(PlanKind::FlexConsumption) && sub.name.contains('_') {
            out.push(f(
                Severity::Error,
                "flex-subnet-name",
                subject.clone(),
                format!("Flex Consumption cannot use subnet '{}': its name contains '_'", sub.name),
            ));
        }
        if sub.service_endpoint_policies > 0 {
            out.push(f(
                Severity::Error,
                "service-endpoint-policy",
                subject.clone(),
                format!("integration subnet {sname} has service endpoint policies, which are not supported on integration subnets"),
            ));
        }
        let route_all = site.route_all.on || kind == Some(PlanKind::FlexConsumption);
        if let Some(n) = sub.nat_gateway {
            if !route_all {
                out.push(f(Severity::Warning, "nat-gateway-bypassed", subject.clone(), format!(
                    "NAT gateway '{}' on {sname} is bypassed: Route All is off ({}), so internet traffic leaves from the site's outbound addresses. Enable vnetRouteAllEnabled to use it",
                    sc.nat_gateways[n].name, site.route_all.decided_by)));
            }
        }
        if let Some(rt) = sub.route_table {
            let has_default = sc.route_tables[rt].routes.iter().any(|r| matches!(r.prefix, RoutePrefix::Net(n) if n.prefix_len() == 0));
            if has_default && sub.nsg.is_some() {
                out.push(f(Severity::Warning, "virtualnetwork-tag-is-everything", subject.clone(), format!(
                    "route table '{}' has a 0.0.0.0/0 route, so the VirtualNetwork tag of {sname} includes every address: AllowVnetOutBound (65000) allows all outbound traffic that no custom rule denies",
                    sc.route_tables[rt].name)));
            }
        }
    }
    // Grouped by (VNet, route table): the tag context and the subnets an
    // appliance may sit in depend on nothing else, and a VNet may have
    // thousands of subnets sharing one table.
    let mut with_table: Vec<(usize, usize, usize)> = Vec::new();
    for (vi, vnet) in sc.vnets.iter().enumerate() {
        for (si, sub) in vnet.subnets.iter().enumerate() {
            if let Some(rt) = sub.route_table {
                with_table.push((vi, rt, si));
            }
        }
    }
    with_table.sort_unstable();
    for group in with_table.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
        let (vi, rt, first) = group[0];
        let ctx = TagContext::for_subnet(sc, (vi, first), tags, "westeurope");
        let reachable = SubnetSpans::of_vnet_and_peers(sc, vi);
        for &(_, _, si) in group {
            appliance_findings(sc, (vi, si), rt, &ctx, &reachable, &mut out);
        }
    }
    nsg_findings(sc, tags, &mut out);
    out.sort_by(|a, b| (a.severity, &a.subject).cmp(&(b.severity, &b.subject)));
    out
}

/// What the findings depend on, for the warnings `lint` shows: the plan
/// kind of every site it checks as integrated (delegation, subnet size and
/// Route All depend on it).
pub fn uses(sc: &Scenario) -> Uses {
    let mut u = Uses::default();
    for site in senders(sc) {
        u.plan_of(&site.name);
    }
    u
}

/// Next hops that cannot deliver: an appliance outside the reachable
/// subnets, or `Internet` for a prefix the policy's `Internet` hop drops
/// whole (`TagContext::internet_hop_drops_all`, the rule `decide` applies).
fn appliance_findings(sc: &Scenario, subnet: SubnetRef, rt: usize, tags: &TagContext, reachable: &SubnetSpans, out: &mut Vec<Finding>) {
    let table = &sc.route_tables[rt];
    for route in &table.routes {
        let subject = format!("route table {} route {}", table.name, route.name);
        if let (NextHopType::VirtualAppliance, Some(ip)) = (route.next_hop, route.next_hop_ip) {
            if !reachable.contains(ip) {
                out.push(f(
                    Severity::Error,
                    "appliance-outside-subnets",
                    subject.clone(),
                    format!("next hop {ip} is not in any subnet of {} or its connected peerings: traffic on this route is dropped", sc.vnets[subnet.0].name),
                ));
            }
        }
        if route.next_hop == NextHopType::Internet {
            let nets = match &route.prefix {
                RoutePrefix::Net(n) => vec![*n],
                RoutePrefix::Tag(t) => tags.given.get(t).map(<[ipnet::Ipv4Net]>::to_vec).unwrap_or_default(),
            };
            if let Some(n) = nets.iter().find(|n| tags.internet_hop_drops_all(n)) {
                out.push(f(Severity::Warning, "internet-hop-not-internet", subject, format!(
                    "sends {n} to next hop Internet, but none of it is in the Internet tag as seen from {} (private and reserved ranges and the VNet, peering and gateway spaces are not): Azure's behaviour is undocumented; vnetlab drops it (blocked_by platform)",
                    sc.subnet_name(subnet))));
            }
        }
    }
}

/// The address ranges of the subnets of a VNet and its connected peerings,
/// merged and sorted, so that finding the subnet of an address is a binary
/// search.
struct SubnetSpans(Vec<(u32, u32)>);

impl SubnetSpans {
    fn of_vnet_and_peers(sc: &Scenario, vi: usize) -> SubnetSpans {
        let mut vnets = vec![vi];
        vnets.extend(sc.connected_peerings(vi).into_iter().filter_map(|(r, _, _)| r));
        let mut spans: Vec<(u32, u32)> = vnets
            .iter()
            .flat_map(|&v| sc.vnets[v].subnets.iter().flat_map(|s| s.prefixes.iter()))
            .map(|p| (u32::from(p.network()), u32::from(p.broadcast())))
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(spans.len());
        for (lo, hi) in spans {
            match merged.last_mut() {
                Some(last) if lo <= last.1 => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        SubnetSpans(merged)
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let x = u32::from(ip);
        let i = self.0.partition_point(|&(lo, _)| lo <= x);
        i > 0 && x <= self.0[i - 1].1
    }
}

/// A rule whose fault (an unknown service tag) stops its NSG direction
/// from compiling: an error when `sites` evaluate that direction, whose
/// commands then cannot load; otherwise a warning, as no command loads it.
fn unloadable(nsg: &Nsg, dir: Direction, e: &LoadError, sites: Option<&[&str]>) -> Finding {
    let rule = nsg.rules.iter().find(|r| r.direction == dir && r.origin.file == e.file && r.origin.path == e.path);
    let subject = match rule {
        Some(r) => format!("nsg {} rule {} ({dir:?}, priority {})", nsg.name, r.name, r.priority),
        None => format!("nsg {} ({dir:?})", nsg.name),
    };
    match sites {
        Some(sites) => f(Severity::Error, "nsg-unloadable", subject, format!(
            "{e}; every command that evaluates site {} (verify, rules, routes, resolve, access, run, up) fails to load, as its integration subnet's outbound rules must compile",
            sites.join(", "))),
        None => f(Severity::Warning, "nsg-unloadable-unused", subject, format!(
            "{e}; no command evaluates these rules ({}), so no command fails on them",
            if dir == EVALUATED_DIRECTION { "no integrated site sends from a subnet with this NSG" } else { "an integrated app meets only its integration subnet NSG's outbound rules" })),
    }
}

/// Rules that a single higher-priority rule covers entirely can never match.
fn nsg_findings(sc: &Scenario, tags: &ServiceTags, out: &mut Vec<Finding>) {
    // Tags are expanded as seen from the first subnet the NSG is attached
    // to, found in one pass over the subnets.
    let mut first_subnet: HashMap<usize, SubnetRef> = HashMap::new();
    for (vi, vnet) in sc.vnets.iter().enumerate() {
        for (si, sub) in vnet.subnets.iter().enumerate() {
            if let Some(n) = sub.nsg {
                first_subnet.entry(n).or_insert((vi, si));
            }
        }
    }
    // The NSGs every command evaluating these sites loads, in the one
    // direction the policy evaluates (`policy::EVALUATED_DIRECTION`).
    let mut evaluated: HashMap<usize, Vec<&str>> = HashMap::new();
    for site in senders(sc) {
        if let Some(n) = site.integration.as_ref().and_then(|(s, _)| sc.subnet(*s).nsg) {
            evaluated.entry(n).or_default().push(&site.name);
        }
    }
    for (ni, nsg) in sc.nsgs.iter().enumerate() {
        let Some(&subnet) = first_subnet.get(&ni) else {
            continue;
        };
        let ctx = TagContext::for_subnet(sc, subnet, tags, "westeurope");
        for dir in [Direction::Outbound, Direction::Inbound] {
            let eff = match EffectiveNsg::compile(nsg, dir, &ctx) {
                Ok(e) => e,
                Err(e) => {
                    let sites = evaluated.get(&ni).filter(|_| dir == EVALUATED_DIRECTION);
                    out.push(unloadable(nsg, dir, &e, sites.map(Vec::as_slice)));
                    continue;
                }
            };
            for (i, r) in eff.rules.iter().enumerate() {
                if r.default {
                    continue;
                }
                let subject = format!("nsg {} rule {} ({dir:?}, priority {})", nsg.name, r.name, r.priority);
                if r.uses_asgs {
                    out.push(f(
                        Severity::Warning,
                        "asg-rule",
                        subject,
                        "names application security groups: it never matches App Service instances (they have no NIC)".into(),
                    ));
                    continue;
                }
                let m = &r.matcher;
                let cover = eff.rules[..i].iter().find(|h| {
                    let hm = &h.matcher;
                    (hm.protocols.0 & m.protocols.0) == m.protocols.0
                        && hm.src.covers(&m.src)
                        && hm.dst.covers(&m.dst)
                        && hm.src_ports.covers(&m.src_ports)
                        && hm.dst_ports.covers(&m.dst_ports)
                });
                if let Some(h) = cover {
                    out.push(f(
                        Severity::Warning,
                        "shadowed-rule",
                        subject,
                        format!("can never match: '{}' (priority {}, {:?}) matches everything it matches", h.name, h.priority, h.access),
                    ));
                }
            }
        }
    }
}
