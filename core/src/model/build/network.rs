//! Virtual networks, their subnets (inline or separate, with NSG, route
//! table, NAT gateway, service endpoints and delegations) and peerings.

use super::builder::{leaf, origin, over_limit, parse_id, strict_prefix, Builder, MAX_SUBNETS_PER_VNET, T_NAT, T_NSG, T_PEERING, T_RT, T_SUBNET, T_VNET};
use super::deploytime::Need;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{Origin, PeerRemote, Peering, ServiceEndpoint, Subnet, Vnet};
use crate::warning::Warning;
use ipnet::Ipv4Net;
use std::collections::HashMap;

impl Builder<'_> {
    pub(super) fn vnets(&mut self) -> Result<(), LoadError> {
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
                    for (i, s) in d.str_list("dnsServers")?.iter().enumerate() {
                        let ip = match self.deploy_addr(d.file, &format!("{}.dnsServers[{i}]", d.path()), s, Need::Private)? {
                            Some(a) => a,
                            None => s.parse().map_err(|_| d.err(format!("dnsServers: '{s}' is not an IPv4 address")))?,
                        };
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
            self.register(T_VNET, r, self.sc.vnets.len());
            self.sc.vnets.push(vnet);
        }
        // A separate subnet resource replaces an inline subnet of the same
        // name (found by name in a map: a VNet may have thousands).
        let mut by_name: HashMap<(usize, String), usize> = HashMap::new();
        for (vi, vnet) in self.sc.vnets.iter().enumerate() {
            for (si, s) in vnet.subnets.iter().enumerate() {
                by_name.entry((vi, s.name.to_ascii_lowercase())).or_insert(si);
            }
        }
        for r in self.of(T_SUBNET) {
            let v = self.parent_index(r, T_VNET, "virtual network")?;
            let name = leaf(&r.name).to_string();
            let sub = self.parse_subnet(&Self::at(r), &name)?;
            let subnets = &mut self.sc.vnets[v].subnets;
            match by_name.get(&(v, name.to_ascii_lowercase())) {
                Some(&i) => subnets[i] = sub,
                None => {
                    by_name.insert((v, name.to_ascii_lowercase()), subnets.len());
                    subnets.push(sub);
                }
            }
        }
        // Every VNet resource was pushed in order: its full id keys its
        // subnets, so two VNets of one name in two resource groups stay apart.
        let vnet_ids: Vec<&str> = self.of(T_VNET).map(|r| r.id.trim_end_matches('/')).collect();
        for (vi, vnet) in self.sc.vnets.iter().enumerate() {
            if let Some(s) = vnet.subnets.get(MAX_SUBNETS_PER_VNET) {
                return Err(over_limit(&s.origin, "subnets", &format!("virtual network '{}'", vnet.name), vnet.subnets.len(), MAX_SUBNETS_PER_VNET));
            }
            for (si, s) in vnet.subnets.iter().enumerate() {
                let id = vnet_ids.get(vi).filter(|id| !id.is_empty()).map(|id| format!("{id}/subnets/{}", s.name)).unwrap_or_default();
                self.subnets.insert(T_SUBNET, &format!("{}/{}", vnet.name, s.name), &id, (vi, si));
            }
            check_subnet_prefixes(vnet)?;
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

    pub(super) fn peerings(&mut self) -> Result<(), LoadError> {
        let mut found: Vec<(usize, Peering)> = Vec::new();
        for (v, r) in self.of(T_VNET).enumerate() {
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
            let found = match parse_id(id) {
                Some((t, n)) if t.eq_ignore_ascii_case(T_VNET) => {
                    let err = |m: String| p.err(format!("remoteVirtualNetwork: {m}"));
                    self.follow(self.index.find_outside(T_VNET, &n, id), err)?
                }
                _ => None,
            };
            let remote = match found {
                Some(v) => PeerRemote::Vnet(v),
                None if !space.is_empty() => PeerRemote::External { id: id.to_string(), address_space: space },
                None => {
                    self.sc.warnings.push(Warning::always(format!(
                        "peering '{name}' ({}) points at '{id}', which is not in the input and states no remoteAddressSpace: ignored",
                        p.path()
                    )));
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
}

/// Every subnet prefix lies inside one prefix of the address space, and no
/// two subnets overlap. Prefixes either nest or are disjoint, so both are
/// found in sorted order, O(n log n): a prefix inside the space lies inside
/// the maximal space prefix that starts last at or before it, and a prefix
/// overlapping another starts inside the widest prefix seen so far.
fn check_subnet_prefixes(vnet: &Vnet) -> Result<(), LoadError> {
    let span = |n: &Ipv4Net| (u32::from(n.network()), u32::from(n.broadcast()));
    let mut space: Vec<Ipv4Net> = vnet.address_space.clone();
    space.sort_by_key(|n| (span(n).0, n.prefix_len()));
    let mut maximal: Vec<Ipv4Net> = Vec::with_capacity(space.len());
    for n in space {
        if !maximal.last().is_some_and(|m| m.contains(&n)) {
            maximal.push(n);
        }
    }
    let mut all: Vec<(Ipv4Net, usize)> = Vec::new();
    for (si, s) in vnet.subnets.iter().enumerate() {
        for p in &s.prefixes {
            let i = maximal.partition_point(|m| span(m).0 <= span(p).0);
            if !(i > 0 && maximal[i - 1].contains(p)) {
                return Err(LoadError::new(
                    &s.origin.file,
                    &s.origin.path,
                    format!("subnet '{}' prefix {p} is outside the address space of virtual network '{}' ({})", s.name, vnet.name, join(&vnet.address_space)),
                ));
            }
            all.push((*p, si));
        }
    }
    all.sort_by_key(|(n, si)| (span(n).0, n.prefix_len(), *si));
    let mut widest: Option<(Ipv4Net, usize)> = None;
    for (p, si) in all {
        if let Some((q, ti)) = widest.filter(|(q, _)| span(&p).0 <= span(q).1) {
            if ti != si {
                // Reported at the later subnet, against the earlier one.
                let ((s, sp), (t, tp)) = if si > ti { ((si, p), (ti, q)) } else { ((ti, q), (si, p)) };
                let (s, t) = (&vnet.subnets[s], &vnet.subnets[t]);
                return Err(LoadError::new(
                    &s.origin.file,
                    &s.origin.path,
                    format!("subnet '{}' ({sp}) overlaps subnet '{}' ({tp}) in virtual network '{}'", s.name, t.name, vnet.name),
                ));
            }
            continue;
        }
        widest = Some((p, si));
    }
    Ok(())
}

fn join(nets: &[Ipv4Net]) -> String {
    nets.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
}
