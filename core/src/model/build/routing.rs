//! Where traffic goes next: route tables and routes, public IPs and NAT
//! gateways, VNet gateways, local network gateways and their connections.

use super::builder::{
    leaf, merge_by_name, origin, over_limit, parse_id, strict_prefix, unknown_ref, Builder, MAX_ROUTES_PER_TABLE, T_CONN, T_LNG, T_NAT, T_PIP, T_PIP_PREFIX,
    T_RT, T_RT_ROUTE, T_VNG,
};
use super::deploytime::{Need, Pool};
use crate::addr::{has_host_bits, parse_prefix};
use crate::arm::expr::placeholder;
use crate::arm::refs::Refs;
use crate::decision::NextHopType;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{Connection, LocalGateway, NatGateway, Origin, RoutePrefix, RouteTable, UserRoute, VnetGateway};
use crate::warning::Warning;
use serde_json::Value;
use std::net::Ipv4Addr;

impl Builder<'_> {
    pub(super) fn route_tables(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_RT) {
            let at = Self::at(r);
            let mut routes = Vec::new();
            let mut disable = false;
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                disable = p.opt_bool("disableBgpRoutePropagation")?.unwrap_or(false);
                p.each("routes", |route| {
                    routes.push(parse_route(self, &route, None)?);
                    Ok(())
                })
            }) {
                res?;
            }
            self.register(T_RT, r, self.sc.route_tables.len());
            self.sc.route_tables.push(RouteTable { name: r.name.clone(), routes, disable_bgp_route_propagation: disable, origin: origin(r) });
        }
        let mut separate: Vec<Vec<UserRoute>> = vec![Vec::new(); self.sc.route_tables.len()];
        for r in self.of(T_RT_ROUTE) {
            let rt = self.parent_index(r, T_RT, "route table")?;
            separate[rt].push(parse_route(self, &Self::at(r), Some(leaf(&r.name)))?);
        }
        for (table, routes) in self.sc.route_tables.iter_mut().zip(separate) {
            merge_by_name(&mut table.routes, routes, |x| &x.name);
            if let Some(r) = table.routes.get(MAX_ROUTES_PER_TABLE) {
                return Err(over_limit(&r.origin, "routes", &format!("route table '{}'", table.name), table.routes.len(), MAX_ROUTES_PER_TABLE));
            }
        }
        Ok(())
    }

    pub(super) fn nat_gateways(&mut self) -> Result<(), LoadError> {
        // Public addresses: given in the resource, by --public-ip, or synthetic.
        let mut pips: Vec<Vec<Ipv4Addr>> = Vec::new();
        let mut pip_refs: Refs<usize> = Refs::in_group(&self.opts.resource_group);
        for (t, is_prefix) in [(T_PIP, false), (T_PIP_PREFIX, true)] {
            for r in self.of(t) {
                let at = Self::at(r);
                let field = if is_prefix { "ipPrefix" } else { "ipAddress" };
                let given = self.opts.public_ips.iter().find(|(n, _)| n.eq_ignore_ascii_case(&r.name)).map(|x| x.1);
                // A placeholder (from a module's output) states nothing.
                let stated = at.with("properties", |p| p.opt_str(field)).transpose()?.flatten().filter(|s| placeholder(s).is_none());
                let addrs = if let Some(a) = given {
                    vec![a]
                } else if let Some(s) = stated {
                    let net = parse_prefix(s).map_err(|m| LoadError::new(&r.file, format!("{}.properties.{field}", r.path), m))?;
                    // A prefix contributes its first address (FORMAT: "the NAT
                    // gateway's first public address").
                    vec![net.network()]
                } else {
                    let a = self.deploy.get_mut().public(Pool::PublicIp).ok_or_else(|| {
                        LoadError::new(
                            &r.file,
                            &r.path,
                            format!("public IP '{}': no synthetic address is left; give one with --public-ip {}=ADDR", r.name, r.name),
                        )
                    })?;
                    self.sc.warnings.push(Warning::placeholder(
                        a,
                        format!(
                            "public IP '{}' has no address in the input (Azure assigns it at deployment); using {a}. Give one with --public-ip {}=ADDR",
                            r.name, r.name
                        ),
                    ));
                    vec![a]
                };
                if !is_prefix {
                    self.deploy.get_mut().public_ips.insert(r.name.to_ascii_lowercase(), addrs[0]);
                }
                pip_refs.insert(t, &r.name, &r.id, pips.len());
                pips.push(addrs);
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
                        if let Some(m) = unknown_ref(id) {
                            return Err(item.err(m));
                        }
                        let (rt, rn) = parse_id(id).ok_or_else(|| item.err(format!("'{id}' is not a resource id")))?;
                        let found = if rt.eq_ignore_ascii_case(t) { self.follow(pip_refs.find(t, &rn, id), |m| item.err(m))? } else { None };
                        let addrs =
                            found.and_then(|i| pips.get(i)).ok_or_else(|| item.err(format!("unknown resource reference: no {t} named '{rn}' in the input")))?;
                        public_ips.extend(addrs.iter().copied());
                        Ok(())
                    })?;
                }
                Ok(())
            }) {
                res?;
            }
            let sku = at.with("sku", |s| s.opt_str("name")).transpose()?.flatten().unwrap_or("Standard").to_string();
            self.register(T_NAT, r, self.sc.nat_gateways.len());
            self.sc.nat_gateways.push(NatGateway { name: r.name.clone(), public_ips, idle_timeout_minutes: idle, sku, origin: origin(r) });
        }
        Ok(())
    }

    pub(super) fn gateways(&mut self) -> Result<(), LoadError> {
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
            self.register(T_VNG, r, self.sc.vnet_gateways.len());
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
            self.register(T_LNG, r, self.sc.local_gateways.len());
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
                    self.sc.warnings.push(Warning::always(format!(
                        "connection '{}' has neither a local network gateway nor a second VNet gateway (ExpressRoute?): its prefixes are unknown, no routes added",
                        r.name
                    )));
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

fn parse_route(b: &Builder<'_>, at: &At<'_>, name: Option<&str>) -> Result<UserRoute, LoadError> {
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
        let ip_path = format!("{}.nextHopIpAddress", p.path());
        let ip = match p.opt_str("nextHopIpAddress")? {
            Some(s) if !s.is_empty() => Some(match b.deploy_addr(p.file, &ip_path, s, Need::Private)? {
                Some(a) => a,
                None => s.parse::<Ipv4Addr>().map_err(|_| LoadError::new(p.file, &ip_path, format!("'{s}' is not an IPv4 address")))?,
            }),
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
