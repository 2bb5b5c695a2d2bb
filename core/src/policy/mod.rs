//! The policy core: a scenario compiled for one site, asked `decide(flow)`.
//!
//! This is the one place that shows what Azure does with an outbound flow of
//! an app with regional virtual network integration, top to bottom:
//! platform addresses, application routing (Route All), the integration
//! subnet's NSG, the route, the hop's own rules, and the source address after
//! translation. No I/O, no clock: the datapath and every command call this.

pub mod access;
pub mod dns;
pub mod nsg;
pub mod placeholder;
pub mod route;
pub mod tags;
mod uses;

use crate::addr::AddrSet;
use crate::appenv::{app_environment, SiteFacts};
use crate::decision::{AppRouting, BlockedBy, Decision, DropReason, NatGatewayInfo, NextHopType, Path, Resolution, RuleIdx, SourceNat, World, AZURE_DNS, IMDS};
use crate::error::Error;
use crate::flow::{Flow, Proto};
use crate::model::{Access, PlanKind, Scenario, SubnetRef};
use crate::warning::{Pool, Warning};
use dns::DnsView;
use nsg::classify::Key;
use nsg::EffectiveNsg;
use route::RouteSet;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use tags::{ServiceTags, TagContext};

/// Choices that are not in the scenario itself.
#[derive(Debug, Clone, Default)]
pub struct PolicyOptions {
    /// The site to compile for (`--site`); may be omitted when exactly one
    /// site has virtual network integration.
    pub site: Option<String>,
    /// Diagnose a subnet (`VNET/SUBNET`) as a NIC in it, without a site.
    pub subnet: Option<String>,
    pub service_tags: ServiceTags,
    /// What public DNS answers (`public_dns` of a case).
    pub public_dns: BTreeMap<String, Vec<Ipv4Addr>>,
    /// The port-25 knob: Azure blocks outbound TCP 25 by default.
    pub allow_port_25: bool,
    /// A name no linked zone and no `public_dns` entry answers resolves to
    /// a placeholder public address (`placeholder`) instead of NXDOMAIN: on
    /// for the CLI's static commands, off for conformance (FORMAT.md: a name
    /// nobody answers does not resolve) and `vnetlab run` (real upstream).
    pub public_dns_placeholders: bool,
    /// Addresses placeholders also avoid (`--public-ip` answers).
    pub placeholder_avoid: Vec<Ipv4Addr>,
}

/// Who is sending: an integrated site, or a plain NIC in a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sender {
    Site { name: String, plan: Option<PlanKind>, integration_by: String },
    Nic,
}

/// A scenario compiled for one site. Built once, then asked many times.
pub struct Policy {
    pub sender: Sender,
    pub subnet: SubnetRef,
    pub subnet_name: String,
    instance_ip: Ipv4Addr,
    /// The integration subnet's first prefix, which `instance_ip` is in.
    instance_subnet: ipnet::Ipv4Net,
    /// Route All, or why not.
    pub route_all: crate::model::RouteAll,
    /// `AppRouting` for destinations that the app routing sends in whatever they are.
    all_in: Option<AppRouting>,
    se_ranges: AddrSet,
    nsg: Option<EffectiveNsg>,
    routes: RouteSet,
    nat: Option<NatGatewayInfo>,
    outbound_ips: Vec<Ipv4Addr>,
    has_gateway: bool,
    allow_port_25: bool,
    dns: DnsView,
    pub tags: TagContext,
    /// The scenario's warnings and the policy's own; a command shows those
    /// its answer used (`uses`).
    pub warnings: Vec<Warning>,
    /// What the scenario says about the sending site (None for a NIC),
    /// for the app's environment (`environment`).
    pub site: Option<SiteFacts>,
}

const RFC1918: [(u32, u32); 3] = [(0x0A00_0000, 0x0AFF_FFFF), (0xAC10_0000, 0xAC1F_FFFF), (0xC0A8_0000, 0xC0A8_FFFF)];

fn is_rfc1918(a: Ipv4Addr) -> bool {
    let x = u32::from(a);
    RFC1918.iter().any(|&(lo, hi)| x >= lo && x <= hi)
}

/// The first assignable address: Azure keeps the first four and the last.
pub fn first_assignable(net: &ipnet::Ipv4Net) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.network()).saturating_add(4))
}

impl Policy {
    pub fn compile(sc: &Scenario, opts: &PolicyOptions) -> Result<Policy, Error> {
        let (sender, subnet, route_all, all_in, site_ips) = select_sender(sc, opts)?;
        let tags = TagContext::for_subnet(sc, subnet, &opts.service_tags, "westeurope");
        let sub = sc.subnet(subnet);
        let nsg = match sub.nsg {
            Some(i) => Some(EffectiveNsg::compile(&sc.nsgs[i], EVALUATED_DIRECTION, &tags)?),
            None => None,
        };
        let routes = RouteSet::for_subnet(sc, subnet, &tags)?;
        let mut se_ranges = AddrSet::empty();
        for se in &sub.service_endpoints {
            let (_, nets) = tags.service_endpoint_prefixes(&se.service).map_err(|m| crate::error::LoadError::new(&sub.origin.file, &sub.origin.path, m))?;
            se_ranges = se_ranges.union(&crate::addr::nets_set(&nets));
        }
        let nat = sub.nat_gateway.map(|i| {
            let n = &sc.nat_gateways[i];
            NatGatewayInfo { name: n.name.clone(), public_ips: n.public_ips.clone(), idle_timeout_minutes: n.idle_timeout_minutes }
        });
        let mut warnings = sc.warnings.clone();
        let outbound_ips = match site_ips {
            Some(ips) => ips,
            None => {
                let a = Pool::NicOutbound.address(1);
                warnings.push(Warning::placeholder(
                    a,
                    format!("a NIC in {} has no site outbound addresses; default outbound access uses {a}", sc.subnet_name(subnet)),
                ));
                vec![a]
            }
        };
        if nat.as_ref().is_some_and(|n| n.public_ips.is_empty()) {
            return Err(Error::Unsupported(format!(
                "NAT gateway '{}' on {} has no public IP addresses or prefixes",
                nat.as_ref().map(|n| n.name.as_str()).unwrap_or(""),
                sc.subnet_name(subnet)
            )));
        }
        let placeholders = opts.public_dns_placeholders.then(|| {
            let given = opts.public_dns.values().flatten().chain(&opts.placeholder_avoid).copied();
            placeholder::Placeholders::new(sc, given)
        });
        let site = match &sender {
            Sender::Site { name, .. } => sc.sites.iter().find(|s| s.name == *name).map(|s| SiteFacts::of(sc, s)),
            Sender::Nic => None,
        };
        Ok(Policy {
            site,
            sender,
            subnet,
            subnet_name: sc.subnet_name(subnet),
            instance_ip: first_assignable(&sub.prefixes[0]),
            instance_subnet: sub.prefixes[0],
            route_all,
            all_in,
            se_ranges,
            nsg,
            routes,
            nat,
            outbound_ips,
            has_gateway: !sc.gateways_of(subnet.0).is_empty(),
            allow_port_25: opts.allow_port_25,
            dns: DnsView::new(sc, subnet.0, &opts.public_dns, placeholders),
            tags,
            warnings,
        })
    }

    /// What happens to `flow`: compiled classifier and route table.
    pub fn decide(&self, flow: &Flow) -> Decision {
        self.decide_with::<true>(flow)
    }

    /// The same decision by linear scans: the oracle for tests and benches.
    pub fn decide_linear(&self, flow: &Flow) -> Decision {
        self.decide_with::<false>(flow)
    }

    fn decide_with<const COMPILED: bool>(&self, flow: &Flow) -> Decision {
        let dst = flow.dst;
        let key = Key { proto: flow.proto, src: u32::from(flow.src), src_port: flow.src_port, dst: u32::from(dst), dst_port: flow.dst_port };
        let classify = |n: &EffectiveNsg| if COMPILED { n.classify(&key) } else { n.classify_linear(&key) };
        let mut d = Decision {
            allowed: true,
            path: Path::Vnet,
            app_routing: AppRouting::Platform,
            route: None,
            next_hop: None,
            next_hop_ip: None,
            nsg_rule: None,
            source: self.instance_ip,
            snat: SourceNat::Private,
            world: World::Platform,
            blocked_by: None,
            drop_reason: None,
        };

        // 1. Platform addresses skip routes, and NSGs unless a platform-tag rule denies.
        if dst == AZURE_DNS || dst == IMDS {
            if let Some(n) = &self.nsg {
                if let Some(i) = classify(n).filter(|&i| n.rules[i].platform_tag && n.rules[i].access == Access::Deny) {
                    d.nsg_rule = Some(i as RuleIdx);
                    return blocked(d, BlockedBy::Nsg, DropReason::NsgDeny);
                }
            }
            return d;
        }

        // 2. Application routing: does the flow enter the virtual network at all?
        d.app_routing = match self.all_in {
            Some(why) => why,
            None if is_rfc1918(dst) => AppRouting::Rfc1918,
            None if self.se_ranges.contains(u32::from(dst)) => AppRouting::ServiceEndpoint,
            None => AppRouting::NotRouted,
        };
        if d.app_routing == AppRouting::NotRouted {
            d.path = Path::Direct;
            d.source = self.outbound_ips[0];
            d.snat = SourceNat::SiteOutbound;
            d.world = World::Internet;
            return d;
        }

        // 3. The route, and the integration subnet's NSG on the private source.
        let route = if COMPILED { self.routes.lookup(dst) } else { self.routes.lookup_linear(dst) };
        d.route = route;
        let hop = route.map(|r| &self.routes.routes[r as usize]);
        d.next_hop = Some(hop.map_or(NextHopType::None, |h| h.next_hop));
        d.next_hop_ip = hop.and_then(|h| h.next_hop_ip);
        let rule = self.nsg.as_ref().and_then(|n| classify(n).map(|i| (i, n.rules[i].access)));
        d.nsg_rule = rule.map(|(i, _)| i as RuleIdx);

        // 4. The hop: where it goes and what source it carries there.
        let next_hop = d.next_hop.unwrap_or(NextHopType::None);
        d.world = match next_hop {
            NextHopType::VnetLocal | NextHopType::VNetPeering | NextHopType::InterfaceEndpoint | NextHopType::None => World::Vnet,
            NextHopType::VirtualNetworkGateway => World::OnPremises,
            NextHopType::VirtualAppliance => World::Appliance,
            NextHopType::Internet | NextHopType::VirtualNetworkServiceEndpoint => World::Internet,
        };
        if next_hop == NextHopType::Internet {
            match &self.nat {
                Some(n) => {
                    d.source = n.snat_order()[0];
                    d.snat = SourceNat::NatGateway;
                }
                None => {
                    d.source = self.outbound_ips[0];
                    d.snat = SourceNat::SiteOutbound;
                }
            }
        }

        // 5. Verdict, in FORMAT.md's order: route, NSG, platform.
        if next_hop == NextHopType::None {
            return blocked(d, BlockedBy::Route, DropReason::NoneRoute);
        }
        if next_hop == NextHopType::VirtualNetworkGateway && !self.has_gateway {
            return blocked(d, BlockedBy::Route, DropReason::NoGateway);
        }
        if let Some((_, Access::Deny)) = rule {
            return blocked(d, BlockedBy::Nsg, DropReason::NsgDeny);
        }
        if next_hop == NextHopType::Internet {
            if !self.tags.internet_hop_delivers(dst) {
                return blocked(d, BlockedBy::Platform, DropReason::InternetHopNotInternet);
            }
            if flow.proto == Proto::Tcp && flow.dst_port == 25 && !self.allow_port_25 {
                return blocked(d, BlockedBy::Platform, DropReason::Port25);
            }
            if d.snat == SourceNat::NatGateway && !flow.proto.has_ports() {
                return blocked(d, BlockedBy::Platform, DropReason::NatGatewayProtocol);
            }
        }
        d
    }

    pub fn instance_ip(&self) -> Ipv4Addr {
        self.instance_ip
    }

    /// The environment App Service gives the app (`appenv`: the list and
    /// where each value comes from).
    pub fn environment(&self) -> Vec<(String, String)> {
        app_environment(self.site.as_ref(), self.instance_ip, self.route_all.on)
    }

    /// The integration subnet's prefix the instance's address is in.
    pub fn instance_subnet(&self) -> ipnet::Ipv4Net {
        self.instance_subnet
    }

    pub fn nat_gateway(&self) -> Option<&NatGatewayInfo> {
        self.nat.as_ref()
    }

    pub fn outbound_ips(&self) -> &[Ipv4Addr] {
        &self.outbound_ips
    }

    pub fn resolve(&self, name: &str) -> Resolution {
        self.dns.resolve(name)
    }

    pub fn nsg(&self) -> Option<&EffectiveNsg> {
        self.nsg.as_ref()
    }

    pub fn routes(&self) -> &RouteSet {
        &self.routes
    }

    pub fn rule_name(&self, idx: RuleIdx) -> &str {
        self.nsg.as_ref().and_then(|n| n.rules.get(idx as usize)).map_or("", |r| r.name.as_str())
    }

    /// A flow from the instance's address and the conformance source port.
    pub fn flow(&self, proto: Proto, dst: Ipv4Addr, dst_port: u16) -> Flow {
        let (src_port, dst_port) = if proto.has_ports() { (49152, dst_port) } else { (0, 0) };
        Flow { proto, src: self.instance_ip, src_port, dst, dst_port }
    }
}

fn blocked(mut d: Decision, by: BlockedBy, why: DropReason) -> Decision {
    d.allowed = false;
    d.blocked_by = Some(by);
    d.drop_reason = Some(why);
    d
}

/// The one direction of an NSG that any command evaluates: the outbound
/// rules of the sender's subnet NSG (fact sheet 1.3: an integrated app
/// meets only its integration subnet NSG's outbound rules; the inbound ones
/// never affect it, and `--publish` is judged by the site's access
/// restrictions). So only these must load; `lint` reports a fault in any
/// other direction as a finding, not as a failure to load.
pub const EVALUATED_DIRECTION: crate::model::Direction = crate::model::Direction::Outbound;

/// The sites a command can evaluate (`--site`, or the only one of them):
/// integrated, and not on a Consumption plan.
pub fn senders(sc: &Scenario) -> impl Iterator<Item = &crate::model::Site> {
    sc.sites.iter().filter(|s| s.integration.is_some() && s.plan.map(|p| sc.plans[p].kind) != Some(PlanKind::Consumption))
}

type SenderChoice = (Sender, SubnetRef, crate::model::RouteAll, Option<AppRouting>, Option<Vec<Ipv4Addr>>);

fn select_sender(sc: &Scenario, opts: &PolicyOptions) -> Result<SenderChoice, Error> {
    if let (Some(site), Some(subnet)) = (&opts.site, &opts.subnet) {
        return Err(Error::BadArgument(format!(
            "--site '{site}' and --subnet '{subnet}' both name the sender: give one (a site sends from its integration subnet; --subnet diagnoses a NIC)"
        )));
    }
    if let Some(spec) = &opts.subnet {
        let subnet = sc.find_subnet(spec).ok_or_else(|| {
            let all: Vec<String> = (0..sc.vnets.len()).flat_map(|v| (0..sc.vnets[v].subnets.len()).map(move |s| (v, s))).map(|r| sc.subnet_name(r)).collect();
            Error::BadArgument(format!("no subnet '{spec}' (expected VNET/SUBNET; the input has: {})", list_or_none(&all)))
        })?;
        let ra = crate::model::RouteAll { on: true, decided_by: "a NIC in the subnet (all traffic enters the VNet)".into() };
        return Ok((Sender::Nic, subnet, ra, Some(AppRouting::RouteAll), None));
    }
    let site = match &opts.site {
        Some(name) => sc.sites.iter().find(|s| s.name.eq_ignore_ascii_case(name)).ok_or_else(|| {
            let names: Vec<String> = sc.sites.iter().map(|s| site_status(sc, s)).collect();
            Error::BadArgument(format!("no site named '{name}' (sites in the input: {})", list_or_none(&names)))
        })?,
        None => {
            let integrated: Vec<&crate::model::Site> = senders(sc).collect();
            match integrated.as_slice() {
                [one] => *one,
                [] => {
                    let names: Vec<String> = sc.sites.iter().map(|s| site_status(sc, s)).collect();
                    return Err(Error::NoIntegration(format!(
                        "no site with regional virtual network integration in the input (sites: {}); name a subnet with --subnet VNET/SUBNET to diagnose it as a NIC",
                        list_or_none(&names)
                    )));
                }
                many => {
                    let names: Vec<String> = many.iter().map(|s| s.name.clone()).collect();
                    return Err(Error::BadArgument(format!("several sites have virtual network integration ({}): choose one with --site", names.join(", "))));
                }
            }
        }
    };
    let plan = site.plan.map(|p| sc.plans[p].kind);
    if plan == Some(PlanKind::Consumption) {
        return Err(Error::NoIntegration(format!(
            "site '{}' is on a Consumption plan (Y1/Dynamic), which has no virtual network integration: all its traffic leaves from the platform's outbound addresses",
            site.name
        )));
    }
    let Some((subnet, by)) = &site.integration else {
        return Err(Error::NoIntegration(format!(
            "site '{}' has no regional virtual network integration: set properties.virtualNetworkSubnetId or add a sites/networkConfig child",
            site.name
        )));
    };
    let all_in = if plan == Some(PlanKind::FlexConsumption) {
        Some(AppRouting::FlexConsumption)
    } else if site.route_all.on {
        Some(AppRouting::RouteAll)
    } else {
        None
    };
    let sender = Sender::Site { name: site.name.clone(), plan, integration_by: by.clone() };
    Ok((sender, *subnet, site.route_all.clone(), all_in, Some(site.outbound_ips.clone())))
}

fn site_status(sc: &Scenario, s: &crate::model::Site) -> String {
    let plan = s.plan.map(|p| sc.plans[p].kind);
    match (plan, &s.integration) {
        (Some(PlanKind::Consumption), _) => format!("{} (Consumption plan: no integration)", s.name),
        (_, None) => format!("{} (not integrated)", s.name),
        (_, Some((r, _))) => format!("{} (integrated into {})", s.name, sc.subnet_name(*r)),
    }
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}
