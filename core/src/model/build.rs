//! From the flat list of concrete resources to a checked `Scenario`.
//!
//! References (`{"id": ...}`) resolve by resource type and name, whatever
//! subscription or resource group the id names (FORMAT.md, "Loading"). A
//! reference to a network object that is not in the input is an error: it
//! would otherwise silently change what is allowed. Values that Azure only
//! knows after deployment (public IP addresses, a site's outbound addresses)
//! get deterministic synthetic addresses and a warning, unless given.

use super::json::At;
use super::*;
use crate::addr::{has_host_bits, parse_prefix};
use crate::arm::Resource;
use crate::error::LoadError;
use serde_json::Value;
use std::collections::HashMap;

/// Values the user supplies for what templates cannot know.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--public-ip NAME=ADDR`: addresses of public IP resources.
    pub public_ips: Vec<(String, Ipv4Addr)>,
    /// `--outbound-ips`: the site's outbound addresses.
    pub outbound_ips: Vec<Ipv4Addr>,
}

pub fn build(resources: &[Resource]) -> Result<Scenario, LoadError> {
    build_with(resources, &BuildOptions::default())
}

use crate::arm::parse_resource_id as parse_id;

fn key(ty: &str, name: &str) -> (String, String) {
    (ty.to_ascii_lowercase(), name.to_ascii_lowercase())
}

const T_NSG: &str = "microsoft.network/networksecuritygroups";
const T_NSG_RULE: &str = "microsoft.network/networksecuritygroups/securityrules";
const T_RT: &str = "microsoft.network/routetables";
const T_RT_ROUTE: &str = "microsoft.network/routetables/routes";
const T_PIP: &str = "microsoft.network/publicipaddresses";
const T_PIP_PREFIX: &str = "microsoft.network/publicipprefixes";
const T_NAT: &str = "microsoft.network/natgateways";
const T_VNET: &str = "microsoft.network/virtualnetworks";
const T_SUBNET: &str = "microsoft.network/virtualnetworks/subnets";
const T_PEERING: &str = "microsoft.network/virtualnetworks/virtualnetworkpeerings";
const T_PE: &str = "microsoft.network/privateendpoints";
const T_PE_ZG: &str = "microsoft.network/privateendpoints/privatednszonegroups";
const T_ZONE: &str = "microsoft.network/privatednszones";
const T_ZONE_A: &str = "microsoft.network/privatednszones/a";
const T_ZONE_CNAME: &str = "microsoft.network/privatednszones/cname";
const T_ZONE_LINK: &str = "microsoft.network/privatednszones/virtualnetworklinks";
const T_PLAN: &str = "microsoft.web/serverfarms";
const T_SITE: &str = "microsoft.web/sites";
const T_SITE_CONFIG: &str = "microsoft.web/sites/config";
const T_SITE_NETCFG: &str = "microsoft.web/sites/networkconfig";
const T_VNG: &str = "microsoft.network/virtualnetworkgateways";
const T_LNG: &str = "microsoft.network/localnetworkgateways";
const T_CONN: &str = "microsoft.network/connections";

struct Builder<'r> {
    res: &'r [Resource],
    opts: &'r BuildOptions,
    sc: Scenario,
    /// (type, name) -> index into the scenario vector of that type.
    index: HashMap<(String, String), usize>,
}

fn ty(r: &Resource) -> String {
    r.rtype.to_ascii_lowercase()
}

fn origin(r: &Resource) -> Origin {
    Origin { file: r.file.clone(), path: r.path.clone() }
}

/// The last segment of a child resource's full name.
fn leaf(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn parent(name: &str) -> &str {
    name.rsplit_once('/').map(|(p, _)| p).unwrap_or("")
}

pub fn build_with(resources: &[Resource], opts: &BuildOptions) -> Result<Scenario, LoadError> {
    let mut b = Builder { res: resources, opts, sc: Scenario::default(), index: HashMap::new() };
    b.sc.resources = resources.iter().map(|r| (r.rtype.clone(), r.name.clone())).collect();
    b.nsgs()?;
    b.route_tables()?;
    b.nat_gateways()?;
    b.vnets()?;
    b.peerings()?;
    b.plans()?;
    b.zones()?;
    b.private_endpoints()?;
    b.sites()?;
    b.gateways()?;
    Ok(b.sc)
}

impl<'r> Builder<'r> {
    fn of(&self, t: &'static str) -> impl Iterator<Item = &'r Resource> + use<'r> {
        self.res.iter().filter(move |r| ty(r) == t)
    }

    fn at(r: &'r Resource) -> At<'r> {
        At::root(&r.body, &r.file, &r.path)
    }

    /// Resolves `{id}` at `key` of `at` to an index of type `t`.
    fn resolve(&self, at: &At<'_>, key_name: &str, t: &str, what: &str) -> Result<Option<usize>, LoadError> {
        let Some(id) = at.ref_id(key_name)? else { return Ok(None) };
        self.resolve_id(at, key_name, id, t, what).map(Some)
    }

    fn resolve_id(&self, at: &At<'_>, key_name: &str, id: &str, t: &str, what: &str) -> Result<usize, LoadError> {
        let err = |m: String| LoadError::new(at.file, format!("{}.{}", at.path(), key_name), m);
        let (rt, rn) = parse_id(id).ok_or_else(|| err(format!("'{id}' is not a resource id (expected /subscriptions/.../providers/<type>/<name>)")))?;
        if rt.to_ascii_lowercase() != t {
            return Err(err(format!("'{id}' refers to a {rt}, expected a {what}")));
        }
        self.index.get(&key(t, &rn)).copied().ok_or_else(|| err(format!("unknown resource reference: no {what} named '{rn}' in the input")))
    }

    fn nsgs(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_NSG) {
            let at = Self::at(r);
            let mut rules = Vec::new();
            at.with("properties", |p| {
                p.each("securityRules", |rule| {
                    rules.push(parse_rule(&rule, None)?);
                    Ok(())
                })
            })
            .transpose()?;
            self.index.insert(key(T_NSG, &r.name), self.sc.nsgs.len());
            self.sc.nsgs.push(Nsg { name: r.name.clone(), rules, origin: origin(r) });
        }
        for r in self.of(T_NSG_RULE) {
            let at = Self::at(r);
            let nsg = self.parent_index(r, T_NSG, "network security group")?;
            let rule = parse_rule(&at, Some(leaf(&r.name)))?;
            let rules = &mut self.sc.nsgs[nsg].rules;
            // A separate rule resource replaces an inline rule of the same name.
            rules.retain(|x| !x.name.eq_ignore_ascii_case(&rule.name));
            rules.push(rule);
        }
        for nsg in &self.sc.nsgs {
            let mut seen: HashMap<(bool, u32), &str> = HashMap::new();
            for rule in &nsg.rules {
                let k = (rule.direction == Direction::Inbound, rule.priority);
                if let Some(other) = seen.insert(k, &rule.name) {
                    return Err(LoadError::new(
                        &rule.origin.file,
                        &rule.origin.path,
                        format!(
                            "duplicate priority {} in NSG '{}': rules '{}' and '{}' are both {:?} (priorities must be unique per direction)",
                            rule.priority, nsg.name, other, rule.name, rule.direction
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn parent_index(&self, r: &Resource, t: &str, what: &str) -> Result<usize, LoadError> {
        let p = parent(&r.name);
        self.index
            .get(&key(t, p))
            .copied()
            .ok_or_else(|| LoadError::new(&r.file, &r.path, format!("{} '{}' belongs to {what} '{p}', which is not in the input", r.rtype, r.name)))
    }

    fn route_tables(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_RT) {
            let at = Self::at(r);
            let mut routes = Vec::new();
            let mut disable = false;
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                disable = p.opt_bool("disableBgpRoutePropagation")?.unwrap_or(false);
                p.each("routes", |route| {
                    routes.push(parse_route(&route, None)?);
                    Ok(())
                })
            }) {
                res?;
            }
            self.index.insert(key(T_RT, &r.name), self.sc.route_tables.len());
            self.sc.route_tables.push(RouteTable { name: r.name.clone(), routes, disable_bgp_route_propagation: disable, origin: origin(r) });
        }
        for r in self.of(T_RT_ROUTE) {
            let rt = self.parent_index(r, T_RT, "route table")?;
            let route = parse_route(&Self::at(r), Some(leaf(&r.name)))?;
            let routes = &mut self.sc.route_tables[rt].routes;
            routes.retain(|x| !x.name.eq_ignore_ascii_case(&route.name));
            routes.push(route);
        }
        Ok(())
    }

    fn nat_gateways(&mut self) -> Result<(), LoadError> {
        // Public addresses: given in the resource, by --public-ip, or synthetic.
        let mut pips: HashMap<(String, String), Vec<Ipv4Addr>> = HashMap::new();
        let mut synthetic = 0u8;
        for (t, is_prefix) in [(T_PIP, false), (T_PIP_PREFIX, true)] {
            for r in self.of(t) {
                let at = Self::at(r);
                let field = if is_prefix { "ipPrefix" } else { "ipAddress" };
                let given = self.opts.public_ips.iter().find(|(n, _)| n.eq_ignore_ascii_case(&r.name)).map(|x| x.1);
                let stated = at.with("properties", |p| p.opt_str(field)).transpose()?.flatten();
                let addrs = if let Some(a) = given {
                    vec![a]
                } else if let Some(s) = stated {
                    let net = parse_prefix(s).map_err(|m| LoadError::new(&r.file, format!("{}.properties.{field}", r.path), m))?;
                    // A prefix contributes its first address (FORMAT: "the NAT
                    // gateway's first public address").
                    vec![net.network()]
                } else {
                    synthetic = synthetic.saturating_add(1);
                    let a = Ipv4Addr::new(198, 18, 254, synthetic);
                    self.sc.warnings.push(format!(
                        "public IP '{}' has no address in the input (Azure assigns it at deployment); using {a}. Give one with --public-ip {}=ADDR",
                        r.name, r.name
                    ));
                    vec![a]
                };
                pips.insert(key(t, &r.name), addrs);
            }
        }
        for r in self.of(T_NAT) {
            let at = Self::at(r);
            let mut public_ips = Vec::new();
            let mut idle = 4u32;
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                if let Some(m) = p.opt_u64("idleTimeoutInMinutes")? {
                    if !(4..=120).contains(&m) {
                        return Err(p.err(format!("idleTimeoutInMinutes is {m}; a NAT gateway allows 4 to 120")));
                    }
                    idle = m as u32;
                }
                for (field, t) in [("publicIpAddresses", T_PIP), ("publicIpPrefixes", T_PIP_PREFIX)] {
                    p.each(field, |item| {
                        let id = match item.raw("id") {
                            Some(Value::String(s)) => s.as_str(),
                            _ => return Err(item.err("expected a reference object {\"id\": \"...\"}")),
                        };
                        let (rt, rn) = parse_id(id).ok_or_else(|| item.err(format!("'{id}' is not a resource id")))?;
                        let addrs = pips
                            .get(&key(&rt, &rn))
                            .filter(|_| rt.eq_ignore_ascii_case(t))
                            .ok_or_else(|| item.err(format!("unknown resource reference: no {t} named '{rn}' in the input")))?;
                        public_ips.extend(addrs.iter().copied());
                        Ok(())
                    })?;
                }
                Ok(())
            }) {
                res?;
            }
            let sku = at.with("sku", |s| s.opt_str("name")).transpose()?.flatten().unwrap_or("Standard").to_string();
            self.index.insert(key(T_NAT, &r.name), self.sc.nat_gateways.len());
            self.sc.nat_gateways.push(NatGateway { name: r.name.clone(), public_ips, idle_timeout_minutes: idle, sku, origin: origin(r) });
        }
        Ok(())
    }

    fn vnets(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_VNET) {
            let at = Self::at(r);
            let mut vnet = Vnet {
                name: r.name.clone(),
                location: at.opt_str("location")?.unwrap_or("").to_string(),
                address_space: Vec::new(),
                dns_servers: Vec::new(),
                subnets: Vec::new(),
                peerings: Vec::new(),
                origin: origin(r),
            };
            let props = at.with("properties", |p| -> Result<(), LoadError> {
                p.with("addressSpace", |a| -> Result<(), LoadError> {
                    for (i, s) in a.str_list("addressPrefixes")?.iter().enumerate() {
                        let path = format!("{}.addressPrefixes[{i}]", a.path());
                        vnet.address_space.push(strict_prefix(s, a.file, &path)?);
                    }
                    Ok(())
                })
                .transpose()?;
                p.with("dhcpOptions", |d| -> Result<(), LoadError> {
                    for s in d.str_list("dnsServers")? {
                        let ip = s.parse().map_err(|_| d.err(format!("dnsServers: '{s}' is not an IPv4 address")))?;
                        vnet.dns_servers.push(ip);
                    }
                    Ok(())
                })
                .transpose()?;
                p.each("subnets", |s| {
                    let name = s.str("name")?.to_string();
                    let sub = self.parse_subnet(&s, &name)?;
                    vnet.subnets.push(sub);
                    Ok(())
                })
            });
            if let Some(res) = props {
                res?;
            }
            if vnet.address_space.is_empty() {
                return Err(LoadError::new(&r.file, &r.path, format!("virtual network '{}' has no addressSpace.addressPrefixes", r.name)));
            }
            self.index.insert(key(T_VNET, &r.name), self.sc.vnets.len());
            self.sc.vnets.push(vnet);
        }
        // A separate subnet resource replaces an inline subnet of the same name.
        for r in self.of(T_SUBNET) {
            let v = self.parent_index(r, T_VNET, "virtual network")?;
            let name = leaf(&r.name).to_string();
            let sub = self.parse_subnet(&Self::at(r), &name)?;
            let subnets = &mut self.sc.vnets[v].subnets;
            match subnets.iter().position(|s| s.name.eq_ignore_ascii_case(&name)) {
                Some(i) => subnets[i] = sub,
                None => subnets.push(sub),
            }
        }
        for (vi, vnet) in self.sc.vnets.iter().enumerate() {
            for (si, s) in vnet.subnets.iter().enumerate() {
                self.index.insert(key(T_SUBNET, &format!("{}/{}", vnet.name, s.name)), vi << 16 | si);
                for p in &s.prefixes {
                    if !vnet.address_space.iter().any(|a| a.contains(p)) {
                        return Err(LoadError::new(
                            &s.origin.file,
                            &s.origin.path,
                            format!(
                                "subnet '{}' prefix {p} is outside the address space of virtual network '{}' ({})",
                                s.name,
                                vnet.name,
                                join(&vnet.address_space)
                            ),
                        ));
                    }
                }
                for t in &vnet.subnets[..si] {
                    for p in &s.prefixes {
                        if let Some(q) = t.prefixes.iter().find(|q| q.contains(p) || p.contains(*q)) {
                            return Err(LoadError::new(
                                &s.origin.file,
                                &s.origin.path,
                                format!("subnet '{}' ({p}) overlaps subnet '{}' ({q}) in virtual network '{}'", s.name, t.name, vnet.name),
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn parse_subnet(&self, s: &At<'_>, name: &str) -> Result<Subnet, LoadError> {
        let mut sub = Subnet {
            name: name.to_string(),
            prefixes: Vec::new(),
            nsg: None,
            route_table: None,
            nat_gateway: None,
            service_endpoints: Vec::new(),
            service_endpoint_policies: 0,
            delegations: Vec::new(),
            private_endpoint_network_policies: None,
            origin: Origin { file: s.file.to_string(), path: s.path() },
        };
        let res = s.with("properties", |p| -> Result<(), LoadError> {
            if let Some(one) = p.opt_str("addressPrefix")? {
                sub.prefixes.push(strict_prefix(one, p.file, &format!("{}.addressPrefix", p.path()))?);
            }
            for (i, one) in p.str_list("addressPrefixes")?.iter().enumerate() {
                let net = strict_prefix(one, p.file, &format!("{}.addressPrefixes[{i}]", p.path()))?;
                if !sub.prefixes.contains(&net) {
                    sub.prefixes.push(net);
                }
            }
            sub.nsg = self.resolve(&p, "networkSecurityGroup", T_NSG, "network security group")?;
            sub.route_table = self.resolve(&p, "routeTable", T_RT, "route table")?;
            sub.nat_gateway = self.resolve(&p, "natGateway", T_NAT, "NAT gateway")?;
            p.each("serviceEndpoints", |e| {
                sub.service_endpoints.push(ServiceEndpoint { service: e.str("service")?.to_string(), locations: e.str_list("locations")? });
                Ok(())
            })?;
            p.each("serviceEndpointPolicies", |_| {
                sub.service_endpoint_policies += 1;
                Ok(())
            })?;
            p.each("delegations", |d| {
                let svc = d
                    .with("properties", |dp| dp.opt_str("serviceName"))
                    .transpose()?
                    .flatten()
                    .or(d.opt_str("serviceName")?)
                    .ok_or_else(|| d.err("delegation without properties.serviceName"))?;
                sub.delegations.push(svc.to_string());
                Ok(())
            })?;
            sub.private_endpoint_network_policies = p.opt_str("privateEndpointNetworkPolicies")?.map(str::to_string);
            Ok(())
        });
        if let Some(res) = res {
            res?;
        }
        if sub.prefixes.is_empty() {
            return Err(s.err(format!("subnet '{name}' has no addressPrefix")));
        }
        Ok(sub)
    }

    fn subnet_ref(&self, at: &At<'_>, key_name: &str, id: &str) -> Result<SubnetRef, LoadError> {
        let packed = self.resolve_id(at, key_name, id, T_SUBNET, "subnet")?;
        Ok((packed >> 16, packed & 0xffff))
    }

    fn peerings(&mut self) -> Result<(), LoadError> {
        let mut found: Vec<(usize, Peering)> = Vec::new();
        for r in self.of(T_VNET) {
            let v = self.index[&key(T_VNET, &r.name)];
            let at = Self::at(r);
            if let Some(res) = at.with("properties", |p| {
                p.each("virtualNetworkPeerings", |pe| {
                    let name = pe.str("name")?.to_string();
                    if let Some(x) = self.parse_peering(&pe, &name)? {
                        found.push((v, x));
                    }
                    Ok(())
                })
            }) {
                res?;
            }
        }
        for r in self.of(T_PEERING) {
            let v = self.parent_index(r, T_VNET, "virtual network")?;
            if let Some(x) = self.parse_peering(&Self::at(r), leaf(&r.name))? {
                found.retain(|(w, y)| !(*w == v && y.name.eq_ignore_ascii_case(&x.name)));
                found.push((v, x));
            }
        }
        for (v, p) in found {
            self.sc.vnets[v].peerings.push(p);
        }
        Ok(())
    }

    fn parse_peering(&mut self, pe: &At<'_>, name: &str) -> Result<Option<Peering>, LoadError> {
        let Some(res) = pe.with("properties", |p| -> Result<Option<Peering>, LoadError> {
            let id = p.ref_id("remoteVirtualNetwork")?.ok_or_else(|| p.err("peering without remoteVirtualNetwork.id"))?;
            let mut space = Vec::new();
            p.with("remoteAddressSpace", |a| -> Result<(), LoadError> {
                for s in a.str_list("addressPrefixes")? {
                    space.push(strict_prefix(&s, a.file, &a.path())?);
                }
                Ok(())
            })
            .transpose()?;
            let remote = match parse_id(id).and_then(|(t, n)| self.index.get(&key(&t, &n)).filter(|_| t.eq_ignore_ascii_case(T_VNET)).copied()) {
                Some(v) => PeerRemote::Vnet(v),
                None if !space.is_empty() => PeerRemote::External { id: id.to_string(), address_space: space },
                None => {
                    self.sc
                        .warnings
                        .push(format!("peering '{name}' ({}) points at '{id}', which is not in the input and states no remoteAddressSpace: ignored", p.path()));
                    return Ok(None);
                }
            };
            Ok(Some(Peering {
                name: name.to_string(),
                remote,
                allow_virtual_network_access: p.opt_bool("allowVirtualNetworkAccess")?.unwrap_or(true),
                allow_forwarded_traffic: p.opt_bool("allowForwardedTraffic")?.unwrap_or(false),
                allow_gateway_transit: p.opt_bool("allowGatewayTransit")?.unwrap_or(false),
                use_remote_gateways: p.opt_bool("useRemoteGateways")?.unwrap_or(false),
            }))
        }) else {
            return Err(pe.err("peering without properties"));
        };
        res
    }

    fn plans(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_PLAN) {
            let at = Self::at(r);
            let (sku_name, tier) = at
                .with("sku", |s| -> Result<(String, String), LoadError> {
                    Ok((s.opt_str("name")?.unwrap_or("").to_string(), s.opt_str("tier")?.unwrap_or("").to_string()))
                })
                .transpose()?
                .unwrap_or_default();
            let kind_s = at.opt_str("kind")?.unwrap_or("").to_ascii_lowercase();
            let linux = at.with("properties", |p| p.opt_bool("reserved")).transpose()?.flatten().unwrap_or(false) || kind_s.contains("linux");
            let (sn, tl) = (sku_name.to_ascii_uppercase(), tier.to_ascii_lowercase());
            let kind = if sn == "Y1" || tl == "dynamic" {
                PlanKind::Consumption
            } else if sn == "FC1" || tl == "flexconsumption" {
                PlanKind::FlexConsumption
            } else if sn.starts_with("EP") || tl == "elasticpremium" || kind_s == "elastic" {
                PlanKind::ElasticPremium
            } else if sn.starts_with('I') || tl.starts_with("isolated") {
                PlanKind::Isolated
            } else {
                PlanKind::Dedicated
            };
            self.index.insert(key(T_PLAN, &r.name), self.sc.plans.len());
            self.sc.plans.push(Plan { name: r.name.clone(), sku_name, tier, kind, linux, origin: origin(r) });
        }
        Ok(())
    }

    fn zones(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_ZONE) {
            self.index.insert(key(T_ZONE, &r.name), self.sc.dns_zones.len());
            self.sc.dns_zones.push(DnsZone {
                name: r.name.to_ascii_lowercase().trim_end_matches('.').to_string(),
                a: BTreeMap::new(),
                cname: BTreeMap::new(),
                links: Vec::new(),
                origin: origin(r),
            });
        }
        for r in self.of(T_ZONE_A) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let mut addrs = Vec::new();
            if let Some(res) = at.with("properties", |p| {
                p.each("aRecords", |a| {
                    let s = a.str("ipv4Address")?;
                    addrs.push(s.parse::<Ipv4Addr>().map_err(|_| a.err(format!("ipv4Address '{s}' is not an IPv4 address")))?);
                    Ok(())
                })
            }) {
                res?;
            }
            self.sc.dns_zones[z].a.entry(leaf(&r.name).to_ascii_lowercase()).or_default().extend(addrs);
        }
        for r in self.of(T_ZONE_CNAME) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let target = at
                .with("properties", |p| p.with("cnameRecord", |c| c.opt_str("cname")))
                .flatten()
                .transpose()?
                .flatten()
                .ok_or_else(|| at.err("CNAME record without properties.cnameRecord.cname"))?;
            self.sc.dns_zones[z].cname.insert(leaf(&r.name).to_ascii_lowercase(), target.to_ascii_lowercase());
        }
        for r in self.of(T_ZONE_LINK) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let res = at.with("properties", |p| -> Result<ZoneLink, LoadError> {
                let vnet =
                    self.resolve(&p, "virtualNetwork", T_VNET, "virtual network")?.ok_or_else(|| p.err("virtual network link without virtualNetwork.id"))?;
                Ok(ZoneLink {
                    name: leaf(&r.name).to_string(),
                    vnet,
                    registration_enabled: p.opt_bool("registrationEnabled")?.unwrap_or(false),
                    nxdomain_redirect: p.opt_str("resolutionPolicy")?.is_some_and(|s| s.eq_ignore_ascii_case("NxDomainRedirect")),
                })
            });
            let link = res.ok_or_else(|| at.err("virtual network link without properties"))??;
            self.sc.dns_zones[z].links.push(link);
        }
        Ok(())
    }

    fn private_endpoints(&mut self) -> Result<(), LoadError> {
        let mut pes = Vec::new();
        for r in self.of(T_PE) {
            let at = Self::at(r);
            let res = at.with("properties", |p| -> Result<PrivateEndpoint, LoadError> {
                let id = p.ref_id("subnet")?.ok_or_else(|| p.err("private endpoint without subnet.id"))?;
                let subnet = self.subnet_ref(&p, "subnet", id)?;
                let mut target = None;
                let mut group_ids = Vec::new();
                for field in ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"] {
                    p.each(field, |c| {
                        c.with("properties", |cp| -> Result<(), LoadError> {
                            if let Some(t) = cp.opt_str("privateLinkServiceId")? {
                                target = target.take().or(parse_id(t));
                            }
                            group_ids.extend(cp.str_list("groupIds")?);
                            Ok(())
                        })
                        .transpose()
                        .map(|_| ())
                    })?;
                }
                let mut ip = None;
                p.each("ipConfigurations", |c| {
                    if let Some(s) = c.with("properties", |cp| cp.opt_str("privateIPAddress")).transpose()?.flatten() {
                        ip = Some(s.parse::<Ipv4Addr>().map_err(|_| c.err(format!("privateIPAddress '{s}' is not an IPv4 address")))?);
                    }
                    Ok(())
                })?;
                // az output: the address the endpoint was given, in customDnsConfigs.
                p.each("customDnsConfigs", |c| {
                    if ip.is_none() {
                        if let Some(s) = c.str_list("ipAddresses")?.first() {
                            ip = s.parse().ok();
                        }
                    }
                    Ok(())
                })?;
                let ip_static = ip.is_some();
                Ok(PrivateEndpoint {
                    name: r.name.clone(),
                    subnet,
                    target,
                    group_ids,
                    ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    ip_static,
                    zone_group: Vec::new(),
                    origin: origin(r),
                })
            });
            pes.push(res.ok_or_else(|| at.err("private endpoint without properties"))??);
        }
        // Static addresses are reserved first; the rest take the first free
        // assignable address of their subnet, in template order.
        let mut used: Vec<Ipv4Addr> = pes.iter().filter(|p| p.ip_static).map(|p| p.ip).collect();
        for pe in pes.iter_mut().filter(|p| !p.ip_static) {
            let net = self.sc.subnet(pe.subnet).prefixes[0];
            let first = u32::from(net.network()) + 4;
            let last = u32::from(net.broadcast()).saturating_sub(1);
            let free = (first..=last).map(Ipv4Addr::from).find(|a| !used.contains(a));
            let Some(a) = free else {
                return Err(LoadError::new(
                    &pe.origin.file,
                    &pe.origin.path,
                    format!("private endpoint '{}': subnet {} has no free address left", pe.name, self.sc.subnet_name(pe.subnet)),
                ));
            };
            pe.ip = a;
            used.push(a);
        }
        for (i, pe) in pes.iter().enumerate() {
            self.index.insert(key(T_PE, &pe.name), i);
        }
        self.sc.private_endpoints = pes;
        for r in self.of(T_PE_ZG) {
            let pe = self.parent_index(r, T_PE, "private endpoint")?;
            let at = Self::at(r);
            let mut zones = Vec::new();
            if let Some(res) = at.with("properties", |p| {
                p.each("privateDnsZoneConfigs", |c| {
                    let id = c
                        .with("properties", |cp| cp.opt_str("privateDnsZoneId"))
                        .transpose()?
                        .flatten()
                        .ok_or_else(|| c.err("zone config without properties.privateDnsZoneId"))?;
                    let z = self.resolve_id(&c, "properties.privateDnsZoneId", id, T_ZONE, "private DNS zone")?;
                    zones.push(z);
                    Ok(())
                })
            }) {
                res?;
            }
            let (ip, target) = (self.sc.private_endpoints[pe].ip, self.sc.private_endpoints[pe].target.clone());
            let groups = self.sc.private_endpoints[pe].group_ids.clone();
            for &z in &zones {
                let Some((_, tname)) = &target else { continue };
                let base = leaf(tname).to_ascii_lowercase();
                let mut names = vec![base.clone()];
                if groups.iter().any(|g| g.eq_ignore_ascii_case("sites")) && !self.sc.dns_zones[z].name.starts_with("scm.") {
                    names.push(format!("{base}.scm"));
                }
                for n in names {
                    let rec = self.sc.dns_zones[z].a.entry(n).or_default();
                    if !rec.contains(&ip) {
                        rec.push(ip);
                    }
                }
            }
            self.sc.private_endpoints[pe].zone_group.extend(zones);
        }
        Ok(())
    }

    fn sites(&mut self) -> Result<(), LoadError> {
        let mut synthetic = 0u8;
        for r in self.of(T_SITE) {
            let at = Self::at(r);
            let kind_s = at.opt_str("kind")?.unwrap_or("app").to_string();
            let mut site = Site {
                name: r.name.clone(),
                kind: kind_s,
                plan: None,
                integration: None,
                route_all: RouteAll { on: false, decided_by: "default (off)".into() },
                outbound_ips: Vec::new(),
                outbound_ips_synthetic: false,
                app_settings: BTreeMap::new(),
                origin: origin(r),
            };
            // The candidates for Route All, in FORMAT.md's order of precedence.
            let mut ovr: Option<(bool, String)> = None;
            let mut prop: Option<bool> = None;
            let mut site_config: Option<bool> = None;
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                site.plan = match p.opt_str("serverFarmId")? {
                    Some(id) => match parse_id(id) {
                        Some((t, n)) if t.eq_ignore_ascii_case(T_PLAN) => self.index.get(&key(T_PLAN, &n)).copied(),
                        _ => return Err(p.err(format!("serverFarmId '{id}' is not an App Service plan id"))),
                    },
                    None => None,
                };
                if let Some(id) = p.opt_str("virtualNetworkSubnetId")? {
                    site.integration = Some((self.subnet_ref(&p, "virtualNetworkSubnetId", id)?, "properties.virtualNetworkSubnetId".into()));
                }
                if let Some(o) = p.raw("outboundVnetRouting") {
                    let o = At::root(o, p.file, "outboundVnetRouting");
                    let all = o.opt_bool("allTraffic")?;
                    let app = o.opt_bool("applicationTraffic")?;
                    if all.is_some() || app.is_some() {
                        let on = all == Some(true) || app == Some(true);
                        let by = if all == Some(true) { "outboundVnetRouting.allTraffic" } else { "outboundVnetRouting.applicationTraffic" };
                        ovr = Some((on, by.into()));
                    }
                }
                prop = p.opt_bool("vnetRouteAllEnabled")?;
                if let Some(s) = p.opt_str("outboundIpAddresses")? {
                    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                        site.outbound_ips.push(part.parse().map_err(|_| p.err(format!("outboundIpAddresses: '{part}' is not an IPv4 address")))?);
                    }
                }
                p.with("siteConfig", |sc| -> Result<(), LoadError> {
                    site_config = sc.opt_bool("vnetRouteAllEnabled")?;
                    sc.each("appSettings", |kv| {
                        let v = match kv.raw("value") {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        site.app_settings.insert(kv.str("name")?.to_string(), v);
                        Ok(())
                    })
                })
                .transpose()?;
                Ok(())
            }) {
                res?;
            }
            // Child resources: sites/config (web, appsettings), sites/networkConfig.
            for c in self.res.iter().filter(|c| parent(&c.name).eq_ignore_ascii_case(&r.name)) {
                let cat = Self::at(c);
                match (ty(c).as_str(), leaf(&c.name).to_ascii_lowercase().as_str()) {
                    (T_SITE_CONFIG, "web") => {
                        if let Some(v) = cat.with("properties", |p| p.opt_bool("vnetRouteAllEnabled")).transpose()?.flatten() {
                            site_config = Some(v);
                        }
                    }
                    (T_SITE_CONFIG, "appsettings") => {
                        if let Some(Value::Object(m)) = cat.raw("properties") {
                            for (k, v) in m {
                                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                                site.app_settings.insert(k.clone(), v);
                            }
                        }
                    }
                    (T_SITE_NETCFG, _) => {
                        if let Some(res) = cat.with("properties", |p| -> Result<(), LoadError> {
                            if let Some(id) = p.opt_str("subnetResourceId")? {
                                site.integration = Some((self.subnet_ref(&p, "subnetResourceId", id)?, "sites/networkConfig".into()));
                            }
                            Ok(())
                        }) {
                            res?;
                        }
                    }
                    _ => {}
                }
            }
            let setting = site
                .app_settings
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("WEBSITE_VNET_ROUTE_ALL"))
                .map(|(_, v)| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"));
            site.route_all = if let Some((on, by)) = ovr {
                RouteAll { on, decided_by: by }
            } else if let Some(on) = prop {
                RouteAll { on, decided_by: "properties.vnetRouteAllEnabled".into() }
            } else if let Some(on) = site_config {
                RouteAll { on, decided_by: "siteConfig.vnetRouteAllEnabled".into() }
            } else if let Some(on) = setting {
                RouteAll { on, decided_by: "app setting WEBSITE_VNET_ROUTE_ALL".into() }
            } else {
                RouteAll { on: false, decided_by: "default (off)".into() }
            };
            if !self.opts.outbound_ips.is_empty() {
                site.outbound_ips = self.opts.outbound_ips.clone();
            } else if site.outbound_ips.is_empty() {
                synthetic = synthetic.saturating_add(1);
                let a = Ipv4Addr::new(198, 18, 255, synthetic);
                site.outbound_ips.push(a);
                site.outbound_ips_synthetic = true;
                self.sc
                    .warnings
                    .push(format!("site '{}' has no outboundIpAddresses in the input (Azure assigns them); using {a}. Give them with --outbound-ips", r.name));
            }
            self.sc.sites.push(site);
        }
        Ok(())
    }

    fn gateways(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_VNG) {
            let at = Self::at(r);
            let mut vnet = None;
            let mut gateway_type = "Vpn".to_string();
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                if let Some(t) = p.opt_str("gatewayType")? {
                    gateway_type = t.to_string();
                }
                p.each("ipConfigurations", |c| {
                    if let Some(id) = c.with("properties", |cp| cp.ref_id("subnet")).transpose()?.flatten() {
                        vnet = Some(self.subnet_ref(&c, "properties.subnet", id)?.0);
                    }
                    Ok(())
                })
            }) {
                res?;
            }
            self.index.insert(key(T_VNG, &r.name), self.sc.vnet_gateways.len());
            self.sc.vnet_gateways.push(VnetGateway { name: r.name.clone(), vnet, gateway_type, origin: origin(r) });
        }
        for r in self.of(T_LNG) {
            let at = Self::at(r);
            let mut space = Vec::new();
            if let Some(res) = at.with("properties", |p| {
                p.with("localNetworkAddressSpace", |a| -> Result<(), LoadError> {
                    for (i, s) in a.str_list("addressPrefixes")?.iter().enumerate() {
                        space.push(strict_prefix(s, a.file, &format!("{}.addressPrefixes[{i}]", a.path()))?);
                    }
                    Ok(())
                })
            }) {
                res.transpose()?;
            }
            self.index.insert(key(T_LNG, &r.name), self.sc.local_gateways.len());
            self.sc.local_gateways.push(LocalGateway { name: r.name.clone(), address_space: space, origin: origin(r) });
        }
        for r in self.of(T_CONN) {
            let at = Self::at(r);
            let res = at.with("properties", |p| -> Result<Option<Connection>, LoadError> {
                let Some(gateway) = self.resolve(&p, "virtualNetworkGateway1", T_VNG, "virtual network gateway")? else {
                    return Err(p.err("connection without virtualNetworkGateway1.id"));
                };
                let local_gateway = self.resolve(&p, "localNetworkGateway2", T_LNG, "local network gateway")?;
                let gateway2 = self.resolve(&p, "virtualNetworkGateway2", T_VNG, "virtual network gateway")?;
                if local_gateway.is_none() && gateway2.is_none() {
                    self.sc.warnings.push(format!(
                        "connection '{}' has neither a local network gateway nor a second VNet gateway (ExpressRoute?): its prefixes are unknown, no routes added",
                        r.name
                    ));
                }
                Ok(Some(Connection { name: r.name.clone(), gateway, local_gateway, gateway2 }))
            });
            if let Some(c) = res.ok_or_else(|| at.err("connection without properties"))?? {
                self.sc.connections.push(c);
            }
        }
        Ok(())
    }
}

fn join(nets: &[Ipv4Net]) -> String {
    nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}

/// Address spaces and subnets: host bits set are an error, as in Azure.
fn strict_prefix(s: &str, file: &str, path: &str) -> Result<Ipv4Net, LoadError> {
    let net = parse_prefix(s).map_err(|m| LoadError::new(file, path, m))?;
    if has_host_bits(&net) {
        return Err(LoadError::new(file, path, format!("'{s}' has host bits set: a prefix must start at its network address (did you mean {}?)", net.trunc())));
    }
    Ok(net)
}

fn parse_ports(at: &At<'_>, single: &str, plural: &str, proto_has_ports: bool) -> Result<Vec<(u16, u16)>, LoadError> {
    let mut items: Vec<(String, String)> = Vec::new();
    if let Some(s) = at.opt_str(single)? {
        items.push((s.to_string(), format!("{}.{single}", at.path())));
    } else if let Some(Value::Number(n)) = at.raw(single) {
        items.push((n.to_string(), format!("{}.{single}", at.path())));
    }
    for (i, s) in at.str_list(plural)?.into_iter().enumerate() {
        items.push((s, format!("{}.{plural}[{i}]", at.path())));
    }
    if items.is_empty() {
        if !proto_has_ports {
            return Ok(vec![(0, 65535)]);
        }
        return Err(at.err(format!("missing {single} (use \"*\" for any port)")));
    }
    let mut out = Vec::new();
    for (s, path) in items {
        out.push(parse_port_range(&s).map_err(|m| LoadError::new(at.file, path, m))?);
    }
    Ok(out)
}

pub(crate) fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let t = s.trim();
    if t == "*" {
        return Ok((0, 65535));
    }
    let num = |x: &str| -> Result<u16, String> {
        x.trim().parse::<u16>().map_err(|_| format!("'{s}' is not a port or port range (expected 0-65535, 'lo-hi' or '*')"))
    };
    match t.split_once('-') {
        Some((a, b)) => {
            let (lo, hi) = (num(a)?, num(b)?);
            if lo > hi {
                return Err(format!("port range '{s}' is reversed (expected lo-hi with lo <= hi)"));
            }
            Ok((lo, hi))
        }
        None => {
            let p = num(t)?;
            Ok((p, p))
        }
    }
}

fn parse_addrs(at: &At<'_>, single: &str, plural: &str, has_asgs: bool) -> Result<Vec<AddrItem>, LoadError> {
    let mut out = Vec::new();
    let mut push = |s: &str, path: String| -> Result<(), LoadError> {
        let t = s.trim();
        let item = if t == "*" || t.eq_ignore_ascii_case("any") || t == "0.0.0.0/0" {
            AddrItem::Any
        } else if t.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let net = parse_prefix(t).map_err(|m| LoadError::new(at.file, &path, m))?;
            AddrItem::Prefix(net.trunc())
        } else if t.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-') && !t.is_empty() {
            AddrItem::Tag(t.to_string())
        } else {
            return Err(LoadError::new(at.file, &path, format!("'{s}' is not an address, prefix, '*' or service tag")));
        };
        out.push(item);
        Ok(())
    };
    if let Some(s) = at.opt_str(single)? {
        push(s, format!("{}.{single}", at.path()))?;
    }
    for (i, s) in at.str_list(plural)?.into_iter().enumerate() {
        push(&s, format!("{}.{plural}[{i}]", at.path()))?;
    }
    if out.is_empty() && !has_asgs {
        return Err(at.err(format!("missing {single} (use \"*\" for any address)")));
    }
    Ok(out)
}

fn parse_rule(at: &At<'_>, name: Option<&str>) -> Result<SecurityRule, LoadError> {
    let name = match name {
        Some(n) => n.to_string(),
        None => at.str("name")?.to_string(),
    };
    let Some(res) = at.with("properties", |p| -> Result<SecurityRule, LoadError> {
        let priority = match p.raw("priority") {
            Some(Value::Number(n)) => n.as_u64().filter(|x| (100..=4096).contains(x)),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok().filter(|x| (100..=4096).contains(x)),
            None => return Err(p.err(format!("rule '{name}' has no priority (expected 100 to 4096)"))),
            Some(_) => None,
        }
        .ok_or_else(|| {
            p.err(format!(
                "rule '{name}': priority {} is invalid (expected an integer from 100 to 4096)",
                p.raw("priority").map(|v| v.to_string()).unwrap_or_default()
            ))
        })?;
        let direction = match p.str("direction")?.to_ascii_lowercase().as_str() {
            "inbound" => Direction::Inbound,
            "outbound" => Direction::Outbound,
            other => return Err(p.err(format!("rule '{name}': direction '{other}' (expected Inbound or Outbound)"))),
        };
        let access = match p.str("access")?.to_ascii_lowercase().as_str() {
            "allow" => Access::Allow,
            "deny" => Access::Deny,
            other => return Err(p.err(format!("rule '{name}': access '{other}' (expected Allow or Deny)"))),
        };
        let protocol = match p.str("protocol")?.to_ascii_lowercase().as_str() {
            "tcp" => NsgProtocol::Tcp,
            "udp" => NsgProtocol::Udp,
            "icmp" => NsgProtocol::Icmp,
            "esp" => NsgProtocol::Esp,
            "ah" => NsgProtocol::Ah,
            "*" | "any" | "all" => NsgProtocol::Any,
            other => return Err(p.err(format!("rule '{name}': protocol '{other}' (expected Tcp, Udp, Icmp, Esp, Ah or *)"))),
        };
        let has = |k: &str| -> bool { matches!(p.raw(k), Some(Value::Array(a)) if !a.is_empty()) };
        let src_asg = has("sourceApplicationSecurityGroups");
        let dst_asg = has("destinationApplicationSecurityGroups");
        let ports_needed = matches!(protocol, NsgProtocol::Tcp | NsgProtocol::Udp | NsgProtocol::Any);
        Ok(SecurityRule {
            name: name.clone(),
            priority: priority as u32,
            direction,
            access,
            protocol,
            source: parse_addrs(&p, "sourceAddressPrefix", "sourceAddressPrefixes", src_asg)?,
            source_ports: parse_ports(&p, "sourcePortRange", "sourcePortRanges", ports_needed)?,
            destination: parse_addrs(&p, "destinationAddressPrefix", "destinationAddressPrefixes", dst_asg)?,
            destination_ports: parse_ports(&p, "destinationPortRange", "destinationPortRanges", ports_needed)?,
            uses_asgs: src_asg || dst_asg,
            default: false,
            origin: Origin { file: p.file.to_string(), path: at.path() },
        })
    }) else {
        return Err(at.err(format!("security rule '{name}' has no properties")));
    };
    res
}

fn parse_route(at: &At<'_>, name: Option<&str>) -> Result<UserRoute, LoadError> {
    let name = match name {
        Some(n) => n.to_string(),
        None => at.str("name")?.to_string(),
    };
    let Some(res) = at.with("properties", |p| -> Result<UserRoute, LoadError> {
        let pfx = p.str("addressPrefix")?;
        let prefix = if pfx.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            let net = parse_prefix(pfx).map_err(|m| LoadError::new(p.file, format!("{}.addressPrefix", p.path()), m))?;
            if has_host_bits(&net) {
                return Err(LoadError::new(
                    p.file,
                    format!("{}.addressPrefix", p.path()),
                    format!("route '{name}': '{pfx}' has host bits set (did you mean {}?)", net.trunc()),
                ));
            }
            RoutePrefix::Net(net)
        } else {
            RoutePrefix::Tag(pfx.to_string())
        };
        let hop = p.str("nextHopType")?;
        let next_hop = match hop.to_ascii_lowercase().as_str() {
            "virtualappliance" => NextHopType::VirtualAppliance,
            "virtualnetworkgateway" => NextHopType::VirtualNetworkGateway,
            "vnetlocal" => NextHopType::VnetLocal,
            "internet" => NextHopType::Internet,
            "none" => NextHopType::None,
            _ => {
                return Err(
                    p.err(format!("route '{name}': nextHopType '{hop}' (expected VirtualAppliance, VirtualNetworkGateway, VnetLocal, Internet or None)"))
                )
            }
        };
        let ip = match p.opt_str("nextHopIpAddress")? {
            Some(s) if !s.is_empty() => Some(
                s.parse::<Ipv4Addr>().map_err(|_| LoadError::new(p.file, format!("{}.nextHopIpAddress", p.path()), format!("'{s}' is not an IPv4 address")))?,
            ),
            _ => None,
        };
        match (next_hop, ip) {
            (NextHopType::VirtualAppliance, None) => return Err(p.err(format!("route '{name}': next hop VirtualAppliance needs nextHopIpAddress"))),
            (h, Some(_)) if h != NextHopType::VirtualAppliance => {
                return Err(p.err(format!("route '{name}': nextHopIpAddress is only allowed with VirtualAppliance, not {}", h.as_str())))
            }
            _ => {}
        }
        Ok(UserRoute { name: name.clone(), prefix, next_hop, next_hop_ip: ip, origin: Origin { file: p.file.to_string(), path: at.path() } })
    }) else {
        return Err(at.err(format!("route '{name}' has no properties")));
    };
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_split_into_type_and_name() {
        let id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s";
        assert_eq!(parse_id(id), Some(("Microsoft.Network/virtualNetworks/subnets".into(), "v/s".into())));
        assert_eq!(parse_id("/subscriptions/0/providers/Microsoft.Network"), None);
        assert_eq!(parse_id("nonsense"), None);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("*"), Ok((0, 65535)));
        assert_eq!(parse_port_range("80"), Ok((80, 80)));
        assert_eq!(parse_port_range("1000-2000"), Ok((1000, 2000)));
        assert!(parse_port_range("2000-1000").is_err());
        assert!(parse_port_range("70000").is_err());
        assert!(parse_port_range("http").is_err());
    }
}
