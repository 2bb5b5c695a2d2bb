//! The native TOML scenario format (for people without an ARM template),
//! converted into the same ARM-shaped resources a template would give, so
//! that there is one model builder. The format is documented, key by key,
//! in `docs/native-scenario.md`.
//!
//! Unknown keys are errors (`deny_unknown_fields`), and every error names
//! the TOML line. References between objects are by name (`nsg = "nsg-int"`,
//! `subnet = "vnet-app/integration"`) and become ARM `{ "id": ... }` objects.

use super::expr::{parse_resource_id, resource_group_id};
use super::{DeployContext, Resource};
use crate::error::LoadError;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use toml::Spanned;

type Name = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    location: Option<String>,
    #[serde(default)]
    site: Vec<Site>,
    #[serde(default)]
    vnet: Vec<Vnet>,
    #[serde(default)]
    nsg: Vec<Nsg>,
    #[serde(default)]
    route_table: Vec<RouteTable>,
    #[serde(default)]
    nat_gateway: Vec<NatGateway>,
    #[serde(default)]
    private_endpoint: Vec<PrivateEndpoint>,
    #[serde(default)]
    dns_zone: Vec<DnsZone>,
    #[serde(default)]
    vnet_gateway: Vec<VnetGateway>,
    #[serde(default)]
    local_gateway: Vec<LocalGateway>,
    #[serde(default)]
    connection: Vec<Connection>,
}

/// A string or a list of strings.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Site {
    name: Name,
    plan: Name,
    plan_name: Option<Name>,
    os: Option<Name>,
    kind: Option<String>,
    subnet: Option<Name>,
    route_all: Option<bool>,
    content_over_vnet: Option<bool>,
    image_pull_over_vnet: Option<bool>,
    #[serde(default)]
    outbound_ips: Vec<String>,
    #[serde(default)]
    possible_outbound_ips: Vec<String>,
    #[serde(default)]
    app_settings: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Vnet {
    name: Name,
    address_space: Vec<String>,
    #[serde(default)]
    dns_servers: Vec<String>,
    location: Option<String>,
    #[serde(default)]
    subnet: Vec<Subnet>,
    #[serde(default)]
    peering: Vec<Peering>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Subnet {
    name: Name,
    prefix: OneOrMany,
    nsg: Option<Name>,
    route_table: Option<Name>,
    nat_gateway: Option<Name>,
    delegation: Option<String>,
    #[serde(default)]
    service_endpoints: Vec<String>,
    private_endpoint_network_policies: Option<String>,
    default_outbound_access: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Peering {
    remote: Name,
    name: Option<String>,
    remote_address_space: Option<Vec<String>>,
    allow_virtual_network_access: Option<bool>,
    allow_forwarded_traffic: Option<bool>,
    allow_gateway_transit: Option<bool>,
    use_remote_gateways: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Nsg {
    name: Name,
    #[serde(default)]
    rule: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: Name,
    priority: i64,
    direction: Option<Name>,
    access: Name,
    protocol: Option<Name>,
    source: Option<OneOrMany>,
    source_ports: Option<OneOrMany>,
    destination: Option<OneOrMany>,
    destination_ports: Option<OneOrMany>,
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteTable {
    name: Name,
    #[serde(default)]
    disable_bgp_route_propagation: bool,
    #[serde(default)]
    route: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    name: Name,
    prefix: String,
    next_hop: Name,
    next_hop_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NatGateway {
    name: Name,
    #[serde(default)]
    public_ips: Vec<String>,
    idle_timeout_minutes: Option<i64>,
    sku: Option<String>,
    #[serde(default)]
    zones: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateEndpoint {
    name: Name,
    subnet: Name,
    target: Name,
    group: String,
    ip: Option<String>,
    #[serde(default)]
    dns_zones: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DnsZone {
    name: Name,
    #[serde(default)]
    links: Vec<Name>,
    resolution_policy: Option<Name>,
    #[serde(default)]
    records: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    cname: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VnetGateway {
    name: Name,
    vnet: Name,
    subnet: Option<String>,
    gateway_type: Option<String>,
    vpn_type: Option<String>,
    sku: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LocalGateway {
    name: Name,
    address_space: Vec<String>,
    gateway_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Connection {
    name: Name,
    gateway: Name,
    local_gateway: Name,
    connection_type: Option<String>,
}

/// Line (1-based) of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

struct Builder<'a> {
    text: &'a str,
    file: &'a str,
    ctx: DeployContext,
    out: Vec<Resource>,
}

impl Builder<'_> {
    fn line(&self, s: &Name) -> String {
        format!("line {}", line_of(self.text, s.span().start))
    }

    fn err(&self, at: &Name, msg: impl Into<String>) -> LoadError {
        LoadError::new(self.file, self.line(at), msg)
    }

    fn id(&self, rtype: &str, name: &str, at: &Name) -> Result<String, LoadError> {
        resource_group_id(&self.ctx, rtype, name).map_err(|m| self.err(at, m))
    }

    fn ref_obj(&self, rtype: &str, name: &str, at: &Name) -> Result<Value, LoadError> {
        Ok(json!({ "id": self.id(rtype, name, at)? }))
    }

    fn emit(&mut self, rtype: &str, name: &str, at: &Name, body: Value) -> Result<(), LoadError> {
        let id = self.id(rtype, name, at)?;
        let mut body = body;
        if let Value::Object(o) = &mut body {
            o.insert("type".into(), json!(rtype));
            o.insert("name".into(), json!(name));
            o.insert("id".into(), json!(id));
        }
        let path = self.line(at);
        self.out.push(Resource { rtype: rtype.into(), name: name.into(), id, body, file: self.file.into(), path });
        Ok(())
    }

    /// Checks one of a fixed set of values (case-insensitive), returning its
    /// canonical spelling.
    fn one_of(&self, v: &Name, what: &str, allowed: &[&str]) -> Result<String, LoadError> {
        allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v.get_ref()))
            .map(|a| a.to_string())
            .ok_or_else(|| self.err(v, format!("{what} '{}' is not one of {}", v.get_ref(), allowed.join(", "))))
    }
}

/// `EP1` → `ElasticPremium`, `P1v3` → `PremiumV3`, ...
fn plan_tier(sku: &str) -> Option<&'static str> {
    let s = sku.to_ascii_uppercase();
    let tier = if s.starts_with("EP") {
        "ElasticPremium"
    } else if s == "FC1" {
        "FlexConsumption"
    } else if s == "Y1" {
        "Dynamic"
    } else if s.starts_with('P') && s.ends_with("MV3") {
        "PremiumMV3"
    } else if s.starts_with('P') && s.ends_with("V2") {
        "PremiumV2"
    } else if s.starts_with('P') && s.ends_with("V3") {
        "PremiumV3"
    } else if s.starts_with('P') && s.ends_with("V4") {
        "PremiumV4"
    } else if s.starts_with('P') && s.len() == 2 {
        "Premium"
    } else if s.starts_with('S') && s.len() == 2 {
        "Standard"
    } else if s.starts_with('B') && s.len() == 2 {
        "Basic"
    } else if s.starts_with('I') && s.ends_with("V2") {
        "IsolatedV2"
    } else if s.starts_with('I') && s.len() == 2 {
        "Isolated"
    } else if s == "F1" {
        "Free"
    } else if s == "D1" {
        "Shared"
    } else {
        return None;
    };
    Some(tier)
}

fn toml_to_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sets the singular ARM field for one value, the plural one for a list.
fn one_or_many(props: &mut Map<String, Value>, singular: &str, plural: &str, v: Option<&OneOrMany>) {
    match v {
        None => {
            props.insert(singular.into(), json!("*"));
        }
        Some(OneOrMany::One(s)) => {
            props.insert(singular.into(), json!(s));
        }
        Some(OneOrMany::Many(list)) if list.len() == 1 => {
            props.insert(singular.into(), json!(list[0]));
        }
        Some(OneOrMany::Many(list)) => {
            props.insert(plural.into(), json!(list));
        }
    }
}

/// Loads a native TOML scenario.
pub fn load_native(text: &str, file: &str, ctx: &DeployContext) -> Result<Vec<Resource>, LoadError> {
    let sc: Scenario = toml::from_str(text).map_err(|e| {
        let at = e.span().map(|s| format!("line {}", line_of(text, s.start))).unwrap_or_default();
        LoadError::new(file, at, e.message().trim().to_string())
    })?;
    let mut ctx = ctx.clone();
    if let Some(l) = &sc.location {
        ctx.location = l.clone();
    }
    let mut b = Builder { text, file, ctx, out: Vec::new() };
    check_references(&b, &sc)?;
    let loc = b.ctx.location.clone();

    for n in &sc.nsg {
        let mut rules = Vec::new();
        for r in &n.rule {
            let mut p = Map::new();
            p.insert("priority".into(), json!(r.priority));
            let dir = match &r.direction {
                Some(d) => b.one_of(d, "direction", &["Inbound", "Outbound"])?,
                None => "Outbound".into(),
            };
            p.insert("direction".into(), json!(dir));
            p.insert("access".into(), json!(b.one_of(&r.access, "access", &["Allow", "Deny"])?));
            let proto = match &r.protocol {
                Some(x) => b.one_of(x, "protocol", &["Tcp", "Udp", "Icmp", "Esp", "Ah", "*"])?,
                None => "*".into(),
            };
            p.insert("protocol".into(), json!(proto));
            one_or_many(&mut p, "sourceAddressPrefix", "sourceAddressPrefixes", r.source.as_ref());
            one_or_many(&mut p, "sourcePortRange", "sourcePortRanges", r.source_ports.as_ref());
            one_or_many(&mut p, "destinationAddressPrefix", "destinationAddressPrefixes", r.destination.as_ref());
            one_or_many(&mut p, "destinationPortRange", "destinationPortRanges", r.destination_ports.as_ref());
            if let Some(d) = &r.description {
                p.insert("description".into(), json!(d));
            }
            rules.push(json!({"name": r.name.get_ref(), "properties": p}));
        }
        b.emit("Microsoft.Network/networkSecurityGroups", n.name.get_ref(), &n.name, json!({"location": loc, "properties": {"securityRules": rules}}))?;
    }

    for t in &sc.route_table {
        let mut routes = Vec::new();
        for r in &t.route {
            let hop = b.one_of(&r.next_hop, "next_hop", &["VirtualNetworkGateway", "VnetLocal", "Internet", "VirtualAppliance", "None"])?;
            let mut p = json!({"addressPrefix": r.prefix, "nextHopType": hop});
            match (&r.next_hop_ip, hop.as_str()) {
                (Some(ip), _) => p["nextHopIpAddress"] = json!(ip),
                (None, "VirtualAppliance") => return Err(b.err(&r.next_hop, "a VirtualAppliance route needs next_hop_ip")),
                _ => {}
            }
            routes.push(json!({"name": r.name.get_ref(), "properties": p}));
        }
        b.emit(
            "Microsoft.Network/routeTables",
            t.name.get_ref(),
            &t.name,
            json!({"location": loc, "properties": {"disableBgpRoutePropagation": t.disable_bgp_route_propagation, "routes": routes}}),
        )?;
    }

    for g in &sc.nat_gateway {
        let mut pips = Vec::new();
        for (i, ip) in g.public_ips.iter().enumerate() {
            let pip_name = format!("{}-pip-{}", g.name.get_ref(), i + 1);
            b.emit(
                "Microsoft.Network/publicIPAddresses",
                &pip_name,
                &g.name,
                json!({"location": loc, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4", "ipAddress": ip}}),
            )?;
            pips.push(b.ref_obj("Microsoft.Network/publicIPAddresses", &pip_name, &g.name)?);
        }
        let mut body = json!({
            "location": loc,
            "sku": {"name": g.sku.clone().unwrap_or_else(|| "Standard".into())},
            "properties": {"idleTimeoutInMinutes": g.idle_timeout_minutes.unwrap_or(4), "publicIpAddresses": pips}
        });
        if !g.zones.is_empty() {
            body["zones"] = json!(g.zones);
        }
        b.emit("Microsoft.Network/natGateways", g.name.get_ref(), &g.name, body)?;
    }

    for v in &sc.vnet {
        let vname = v.name.get_ref();
        let mut subnets = Vec::new();
        for s in &v.subnet {
            let mut p = Map::new();
            match &s.prefix {
                OneOrMany::One(x) => p.insert("addressPrefix".into(), json!(x)),
                OneOrMany::Many(xs) => p.insert("addressPrefixes".into(), json!(xs)),
            };
            if let Some(n) = &s.nsg {
                p.insert("networkSecurityGroup".into(), b.ref_obj("Microsoft.Network/networkSecurityGroups", n.get_ref(), n)?);
            }
            if let Some(n) = &s.route_table {
                p.insert("routeTable".into(), b.ref_obj("Microsoft.Network/routeTables", n.get_ref(), n)?);
            }
            if let Some(n) = &s.nat_gateway {
                p.insert("natGateway".into(), b.ref_obj("Microsoft.Network/natGateways", n.get_ref(), n)?);
            }
            if let Some(d) = &s.delegation {
                p.insert("delegations".into(), json!([{"name": "delegation", "properties": {"serviceName": d}}]));
            }
            if !s.service_endpoints.is_empty() {
                let se: Vec<Value> =
                    s.service_endpoints.iter().map(|x| json!({"service": x, "locations": [v.location.clone().unwrap_or_else(|| loc.clone())]})).collect();
                p.insert("serviceEndpoints".into(), json!(se));
            }
            if let Some(x) = &s.private_endpoint_network_policies {
                p.insert("privateEndpointNetworkPolicies".into(), json!(x));
            }
            if let Some(x) = s.default_outbound_access {
                p.insert("defaultOutboundAccess".into(), json!(x));
            }
            subnets.push(json!({"name": s.name.get_ref(), "properties": p}));
        }
        let mut peerings = Vec::new();
        for pr in &v.peering {
            let remote = pr.remote.get_ref();
            let remote_id = if remote.starts_with('/') { remote.clone() } else { b.id("Microsoft.Network/virtualNetworks", remote, &pr.remote)? };
            let remote_short = parse_resource_id(&remote_id).map(|(_, n)| n).unwrap_or_else(|| remote.clone());
            let mut p = json!({
                "remoteVirtualNetwork": {"id": remote_id},
                "allowVirtualNetworkAccess": pr.allow_virtual_network_access.unwrap_or(true),
                "allowForwardedTraffic": pr.allow_forwarded_traffic.unwrap_or(false),
                "allowGatewayTransit": pr.allow_gateway_transit.unwrap_or(false),
                "useRemoteGateways": pr.use_remote_gateways.unwrap_or(false)
            });
            if let Some(space) = &pr.remote_address_space {
                p["remoteAddressSpace"] = json!({"addressPrefixes": space});
            }
            let name = pr.name.clone().unwrap_or_else(|| format!("{vname}-to-{remote_short}"));
            peerings.push(json!({"name": name, "properties": p}));
        }
        let body = json!({
            "location": v.location.clone().unwrap_or_else(|| loc.clone()),
            "properties": {
                "addressSpace": {"addressPrefixes": v.address_space},
                "dhcpOptions": {"dnsServers": v.dns_servers},
                "subnets": subnets,
                "virtualNetworkPeerings": peerings
            }
        });
        b.emit("Microsoft.Network/virtualNetworks", vname, &v.name, body)?;
    }

    emit_sites(&mut b, &sc.site, &loc)?;
    emit_private_endpoints(&mut b, &sc, &loc)?;

    for z in &sc.dns_zone {
        let zname = z.name.get_ref();
        b.emit("Microsoft.Network/privateDnsZones", zname, &z.name, json!({"location": "global", "properties": {}}))?;
        for l in &z.links {
            let mut p = json!({"registrationEnabled": false, "virtualNetwork": b.ref_obj("Microsoft.Network/virtualNetworks", l.get_ref(), l)?});
            if let Some(rp) = &z.resolution_policy {
                p["resolutionPolicy"] = json!(b.one_of(rp, "resolution_policy", &["Default", "NxDomainRedirect"])?);
            }
            let link = format!("{zname}/{}-link", l.get_ref());
            b.emit("Microsoft.Network/privateDnsZones/virtualNetworkLinks", &link, l, json!({"location": "global", "properties": p}))?;
        }
        for (rec, ips) in &z.records {
            let a: Vec<Value> = ips.iter().map(|ip| json!({"ipv4Address": ip})).collect();
            b.emit("Microsoft.Network/privateDnsZones/A", &format!("{zname}/{rec}"), &z.name, json!({"properties": {"ttl": 10, "aRecords": a}}))?;
        }
        for (rec, target) in &z.cname {
            b.emit(
                "Microsoft.Network/privateDnsZones/CNAME",
                &format!("{zname}/{rec}"),
                &z.name,
                json!({"properties": {"ttl": 10, "cnameRecord": {"cname": target}}}),
            )?;
        }
    }

    for l in &sc.local_gateway {
        let mut p = json!({"localNetworkAddressSpace": {"addressPrefixes": l.address_space}});
        if let Some(ip) = &l.gateway_ip {
            p["gatewayIpAddress"] = json!(ip);
        }
        b.emit("Microsoft.Network/localNetworkGateways", l.name.get_ref(), &l.name, json!({"location": loc, "properties": p}))?;
    }
    for g in &sc.vnet_gateway {
        let subnet = g.subnet.clone().unwrap_or_else(|| "GatewaySubnet".into());
        let subnet_id = b.id("Microsoft.Network/virtualNetworks/subnets", &format!("{}/{subnet}", g.vnet.get_ref()), &g.vnet)?;
        let sku = g.sku.clone().unwrap_or_else(|| "VpnGw1".into());
        let body = json!({
            "location": loc,
            "properties": {
                "gatewayType": g.gateway_type.clone().unwrap_or_else(|| "Vpn".into()),
                "vpnType": g.vpn_type.clone().unwrap_or_else(|| "RouteBased".into()),
                "sku": {"name": sku, "tier": sku},
                "ipConfigurations": [{"name": "default", "properties": {"privateIPAllocationMethod": "Dynamic", "subnet": {"id": subnet_id}}}]
            }
        });
        b.emit("Microsoft.Network/virtualNetworkGateways", g.name.get_ref(), &g.name, body)?;
    }
    for c in &sc.connection {
        let body = json!({
            "location": loc,
            "properties": {
                "connectionType": c.connection_type.clone().unwrap_or_else(|| "IPsec".into()),
                "virtualNetworkGateway1": b.ref_obj("Microsoft.Network/virtualNetworkGateways", c.gateway.get_ref(), &c.gateway)?,
                "localNetworkGateway2": b.ref_obj("Microsoft.Network/localNetworkGateways", c.local_gateway.get_ref(), &c.local_gateway)?
            }
        });
        b.emit("Microsoft.Network/connections", c.name.get_ref(), &c.name, body)?;
    }
    Ok(b.out)
}

fn emit_sites(b: &mut Builder<'_>, sites: &[Site], loc: &str) -> Result<(), LoadError> {
    // Plans first: sites may share one (same plan_name), with one SKU.
    let mut plans: Vec<(String, String, bool, &Name)> = Vec::new();
    for s in sites {
        let plan_name = s.plan_name.as_ref().map(|p| p.get_ref().clone()).unwrap_or_else(|| format!("plan-{}", s.name.get_ref()));
        let linux = match &s.os {
            Some(os) => b.one_of(os, "os", &["linux", "windows"])? == "linux",
            None => true,
        };
        if plan_tier(s.plan.get_ref()).is_none() {
            return Err(b.err(&s.plan, format!("unknown plan SKU '{}' (expected e.g. EP1, FC1, Y1, P1v3, S1, B1, I1v2)", s.plan.get_ref())));
        }
        match plans.iter().find(|p| p.0.eq_ignore_ascii_case(&plan_name)) {
            Some(p) if !p.1.eq_ignore_ascii_case(s.plan.get_ref()) || p.2 != linux => {
                return Err(b.err(&s.plan, format!("plan '{plan_name}' is used with different SKUs or operating systems")));
            }
            Some(_) => {}
            None => plans.push((plan_name, s.plan.get_ref().clone(), linux, &s.plan)),
        }
    }
    for (name, sku, linux, at) in &plans {
        let tier = plan_tier(sku).unwrap_or("Standard");
        let kind = match tier {
            "ElasticPremium" => "elastic",
            "Dynamic" | "FlexConsumption" => "functionapp",
            _ if *linux => "linux",
            _ => "app",
        };
        b.emit(
            "Microsoft.Web/serverfarms",
            name,
            at,
            json!({"location": loc, "sku": {"name": sku, "tier": tier}, "kind": kind, "properties": {"reserved": linux}}),
        )?;
    }
    for s in sites {
        let plan_name = s.plan_name.as_ref().map(|p| p.get_ref().clone()).unwrap_or_else(|| format!("plan-{}", s.name.get_ref()));
        let linux = s.os.as_ref().is_none_or(|o| o.get_ref().eq_ignore_ascii_case("linux"));
        let tier = plan_tier(s.plan.get_ref()).unwrap_or("Standard");
        let is_func = matches!(tier, "ElasticPremium" | "Dynamic" | "FlexConsumption");
        let kind = s.kind.clone().unwrap_or_else(|| {
            let base = if is_func { "functionapp" } else { "app" };
            if linux {
                format!("{base},linux")
            } else {
                base.to_string()
            }
        });
        let mut p = Map::new();
        p.insert("serverFarmId".into(), json!(b.id("Microsoft.Web/serverfarms", &plan_name, &s.plan)?));
        p.insert("reserved".into(), json!(linux));
        if let Some(sub) = &s.subnet {
            p.insert("virtualNetworkSubnetId".into(), json!(b.id("Microsoft.Network/virtualNetworks/subnets", sub.get_ref(), sub)?));
        }
        if let Some(r) = s.route_all {
            p.insert("vnetRouteAllEnabled".into(), json!(r));
        }
        if let Some(x) = s.content_over_vnet {
            p.insert("vnetContentShareEnabled".into(), json!(x));
        }
        if let Some(x) = s.image_pull_over_vnet {
            p.insert("vnetImagePullEnabled".into(), json!(x));
        }
        if !s.outbound_ips.is_empty() {
            p.insert("outboundIpAddresses".into(), json!(s.outbound_ips.join(",")));
        }
        let possible = if s.possible_outbound_ips.is_empty() { &s.outbound_ips } else { &s.possible_outbound_ips };
        if !possible.is_empty() {
            p.insert("possibleOutboundIpAddresses".into(), json!(possible.join(",")));
        }
        let settings: Vec<Value> = s.app_settings.iter().map(|(k, v)| json!({"name": k, "value": toml_to_string(v)})).collect();
        p.insert("siteConfig".into(), json!({"appSettings": settings}));
        b.emit("Microsoft.Web/sites", s.name.get_ref(), &s.name, json!({"location": loc, "kind": kind, "properties": p}))?;
    }
    Ok(())
}

fn emit_private_endpoints(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
    for pe in &sc.private_endpoint {
        let target = pe.target.get_ref();
        let (ttype, tname, tid) = if target.starts_with('/') {
            let (t, n) = parse_resource_id(target).ok_or_else(|| b.err(&pe.target, format!("'{target}' is not a resource id")))?;
            (t, n, target.clone())
        } else {
            let parts: Vec<&str> = target.split('/').collect();
            if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
                return Err(b.err(
                    &pe.target,
                    format!("target '{target}' must be 'Namespace/type/name' (e.g. Microsoft.Storage/storageAccounts/st1) or a full resource id"),
                ));
            }
            let t = format!("{}/{}", parts[0], parts[1]);
            let id = b.id(&t, parts[2], &pe.target)?;
            (t, parts[2].to_string(), id)
        };
        // The target is emitted unless the scenario (or an earlier endpoint)
        // already has it, or it lives outside (a full id was given).
        let known = b.out.iter().any(|r| r.rtype.eq_ignore_ascii_case(&ttype) && r.name.eq_ignore_ascii_case(&tname));
        if !known && !target.starts_with('/') {
            let mut body = json!({"location": loc, "properties": {}});
            if ttype.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts") {
                body["kind"] = json!("StorageV2");
                body["sku"] = json!({"name": "Standard_LRS"});
            }
            b.emit(&ttype, &tname, &pe.target, body)?;
        }
        let mut p = json!({
            "subnet": {"id": b.id("Microsoft.Network/virtualNetworks/subnets", pe.subnet.get_ref(), &pe.subnet)?},
            "privateLinkServiceConnections": [{"name": format!("{}-conn", pe.name.get_ref()), "properties": {"privateLinkServiceId": tid, "groupIds": [pe.group]}}]
        });
        if let Some(ip) = &pe.ip {
            p["ipConfigurations"] = json!([{"name": format!("{}-ipconfig", pe.name.get_ref()), "properties": {"groupId": pe.group, "memberName": pe.group, "privateIPAddress": ip}}]);
        }
        b.emit("Microsoft.Network/privateEndpoints", pe.name.get_ref(), &pe.name, json!({"location": loc, "properties": p}))?;
        if !pe.dns_zones.is_empty() {
            let mut configs = Vec::new();
            for z in &pe.dns_zones {
                configs.push(json!({"name": z.get_ref().replace('.', "-"), "properties": {"privateDnsZoneId": b.id("Microsoft.Network/privateDnsZones", z.get_ref(), z)?}}));
            }
            let name = format!("{}/default", pe.name.get_ref());
            b.emit("Microsoft.Network/privateEndpoints/privateDnsZoneGroups", &name, &pe.name, json!({"properties": {"privateDnsZoneConfigs": configs}}))?;
        }
    }
    Ok(())
}

fn declared<T>(items: &[T], name_of: impl Fn(&T) -> &Name, n: &Name) -> bool {
    items.iter().any(|x| name_of(x).get_ref().eq_ignore_ascii_case(n.get_ref()))
}

/// References by name must name something in the scenario (a peering's
/// remote VNet may live outside it), and names must be unique per kind.
fn check_references(b: &Builder<'_>, sc: &Scenario) -> Result<(), LoadError> {
    let need = |what: &str, at: &Name, found: bool| -> Result<(), LoadError> {
        if found {
            Ok(())
        } else {
            Err(b.err(at, format!("{what} '{}' is not declared in this scenario", at.get_ref())))
        }
    };
    let subnet_exists = |r: &Name| -> Result<(), LoadError> {
        let Some((v, s)) = r.get_ref().split_once('/') else {
            return Err(b.err(r, format!("subnet reference '{}' must have the form 'vnet/subnet'", r.get_ref())));
        };
        let found = sc.vnet.iter().any(|x| x.name.get_ref().eq_ignore_ascii_case(v) && x.subnet.iter().any(|y| y.name.get_ref().eq_ignore_ascii_case(s)));
        need("subnet", r, found)
    };
    let mut seen: Vec<(&str, &Name)> = Vec::new();
    let names = sc
        .vnet
        .iter()
        .map(|x| ("vnet", &x.name))
        .chain(sc.site.iter().map(|x| ("site", &x.name)))
        .chain(sc.nsg.iter().map(|x| ("nsg", &x.name)))
        .chain(sc.route_table.iter().map(|x| ("route_table", &x.name)))
        .chain(sc.nat_gateway.iter().map(|x| ("nat_gateway", &x.name)))
        .chain(sc.private_endpoint.iter().map(|x| ("private_endpoint", &x.name)))
        .chain(sc.dns_zone.iter().map(|x| ("dns_zone", &x.name)))
        .chain(sc.vnet_gateway.iter().map(|x| ("vnet_gateway", &x.name)))
        .chain(sc.local_gateway.iter().map(|x| ("local_gateway", &x.name)))
        .chain(sc.connection.iter().map(|x| ("connection", &x.name)));
    for (kind, n) in names {
        if n.get_ref().is_empty() || n.get_ref().contains('/') {
            return Err(b.err(n, format!("{kind} name '{}' must be non-empty and contain no '/'", n.get_ref())));
        }
        if seen.iter().any(|(k, m)| *k == kind && m.get_ref().eq_ignore_ascii_case(n.get_ref())) {
            return Err(b.err(n, format!("{kind} '{}' is declared twice", n.get_ref())));
        }
        seen.push((kind, n));
    }
    for v in &sc.vnet {
        for s in &v.subnet {
            if let Some(n) = &s.nsg {
                need("nsg", n, declared(&sc.nsg, |x| &x.name, n))?;
            }
            if let Some(n) = &s.route_table {
                need("route_table", n, declared(&sc.route_table, |x| &x.name, n))?;
            }
            if let Some(n) = &s.nat_gateway {
                need("nat_gateway", n, declared(&sc.nat_gateway, |x| &x.name, n))?;
            }
        }
    }
    for s in &sc.site {
        if let Some(sub) = &s.subnet {
            subnet_exists(sub)?;
        }
    }
    for pe in &sc.private_endpoint {
        subnet_exists(&pe.subnet)?;
        for z in &pe.dns_zones {
            need("dns_zone", z, declared(&sc.dns_zone, |x| &x.name, z))?;
        }
    }
    for z in &sc.dns_zone {
        for l in &z.links {
            need("vnet", l, declared(&sc.vnet, |x| &x.name, l))?;
        }
    }
    for g in &sc.vnet_gateway {
        need("vnet", &g.vnet, declared(&sc.vnet, |x| &x.name, &g.vnet))?;
    }
    for c in &sc.connection {
        need("vnet_gateway", &c.gateway, declared(&sc.vnet_gateway, |x| &x.name, &c.gateway))?;
        need("local_gateway", &c.local_gateway, declared(&sc.local_gateway, |x| &x.name, &c.local_gateway))?;
    }
    Ok(())
}
