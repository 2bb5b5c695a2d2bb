//! The scenario itself: every object type of the model (`Scenario`, `Vnet`,
//! `Subnet`, `Nsg`, `RouteTable`, `Site`, ...) and the queries on it
//! (subnets by name, connected peerings, gateways and the prefixes behind
//! them).
//!
//! A leaf: `build` fills these types in and the rest of the crate reads them
//! through the re-exports in `model`; nothing here depends on how a scenario
//! was loaded.

use crate::decision::NextHopType;
use crate::warning::Warning;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Where an object was declared, for messages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    pub file: String,
    pub path: String,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.path)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Scenario {
    pub vnets: Vec<Vnet>,
    pub nsgs: Vec<Nsg>,
    pub route_tables: Vec<RouteTable>,
    pub nat_gateways: Vec<NatGateway>,
    pub private_endpoints: Vec<PrivateEndpoint>,
    pub dns_zones: Vec<DnsZone>,
    /// Database servers injected into a delegated subnet.
    pub flexible_servers: Vec<FlexibleServer>,
    pub plans: Vec<Plan>,
    pub sites: Vec<Site>,
    pub vnet_gateways: Vec<VnetGateway>,
    pub local_gateways: Vec<LocalGateway>,
    pub connections: Vec<Connection>,
    /// Every resource as (full type, full name), for private endpoint targets.
    pub resources: Vec<(String, String)>,
    /// Things that were accepted but deserve a word (unresolvable peerings,
    /// placeholder addresses for values only known after deployment, a
    /// missing plan), each shown only with the answers that use it.
    pub warnings: Vec<Warning>,
}

/// A subnet, addressed as (vnet index, subnet index).
pub type SubnetRef = (usize, usize);

#[derive(Debug, Clone)]
pub struct Vnet {
    pub name: String,
    pub location: String,
    pub address_space: Vec<Ipv4Net>,
    pub dns_servers: Vec<Ipv4Addr>,
    pub subnets: Vec<Subnet>,
    pub peerings: Vec<Peering>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Subnet {
    pub name: String,
    pub prefixes: Vec<Ipv4Net>,
    pub nsg: Option<usize>,
    pub route_table: Option<usize>,
    pub nat_gateway: Option<usize>,
    pub service_endpoints: Vec<ServiceEndpoint>,
    pub service_endpoint_policies: usize,
    pub delegations: Vec<String>,
    pub private_endpoint_network_policies: Option<String>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct ServiceEndpoint {
    /// `Microsoft.Storage`, `Microsoft.Sql`, ...
    pub service: String,
    pub locations: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Peering {
    pub name: String,
    pub remote: PeerRemote,
    pub allow_virtual_network_access: bool,
    pub allow_forwarded_traffic: bool,
    pub allow_gateway_transit: bool,
    pub use_remote_gateways: bool,
}

#[derive(Debug, Clone)]
pub enum PeerRemote {
    /// A VNet of this scenario.
    Vnet(usize),
    /// A VNet outside it, with the address space the peering states.
    External { id: String, address_space: Vec<Ipv4Net> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allow,
    Deny,
}

/// An NSG rule's protocol field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NsgProtocol {
    Tcp,
    Udp,
    Icmp,
    Esp,
    Ah,
    Any,
}

impl NsgProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            NsgProtocol::Tcp => "Tcp",
            NsgProtocol::Udp => "Udp",
            NsgProtocol::Icmp => "Icmp",
            NsgProtocol::Esp => "Esp",
            NsgProtocol::Ah => "Ah",
            NsgProtocol::Any => "*",
        }
    }
}

/// One entry of an NSG rule's address field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrItem {
    Any,
    Prefix(Ipv4Net),
    /// A service tag, as written (`Internet`, `Storage.WestEurope`).
    Tag(String),
}

#[derive(Debug, Clone)]
pub struct SecurityRule {
    pub name: String,
    pub priority: u32,
    pub direction: Direction,
    pub access: Access,
    pub protocol: NsgProtocol,
    pub source: Vec<AddrItem>,
    pub source_ports: Vec<(u16, u16)>,
    pub destination: Vec<AddrItem>,
    pub destination_ports: Vec<(u16, u16)>,
    /// Names application security groups: never matches an App Service
    /// instance, which has no network interface.
    pub uses_asgs: bool,
    pub default: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Nsg {
    pub name: String,
    /// Custom rules (both directions), in declaration order.
    pub rules: Vec<SecurityRule>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum RoutePrefix {
    Net(Ipv4Net),
    /// A service tag as `addressPrefix`.
    Tag(String),
}

#[derive(Debug, Clone)]
pub struct UserRoute {
    pub name: String,
    pub prefix: RoutePrefix,
    pub next_hop: NextHopType,
    pub next_hop_ip: Option<Ipv4Addr>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    pub name: String,
    pub routes: Vec<UserRoute>,
    pub disable_bgp_route_propagation: bool,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct NatGateway {
    pub name: String,
    pub public_ips: Vec<Ipv4Addr>,
    pub idle_timeout_minutes: u32,
    pub sku: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct PrivateEndpoint {
    pub name: String,
    pub subnet: SubnetRef,
    /// The private link resource (full type, name), when given.
    pub target: Option<(String, String)>,
    /// The private link resource's full id as written, which picks it among
    /// same-named resources of other resource groups.
    pub target_id: Option<String>,
    pub group_ids: Vec<String>,
    /// Static, or the first free address of the subnet in template order.
    pub ip: Ipv4Addr,
    pub ip_static: bool,
    /// Zones its DNS zone group writes an A record to.
    pub zone_group: Vec<usize>,
    pub origin: Origin,
}

impl PrivateEndpoint {
    /// The first label of the public name the endpoint answers for: the
    /// target's name, or `<site>-<slot>` for a deployment slot's endpoint
    /// (sub-resource `sites-<slot>`, fact sheet 13.5).
    pub fn host_label(&self) -> Option<String> {
        let (_, n) = self.target.as_ref()?;
        let base = n.rsplit('/').next().unwrap_or(n).to_ascii_lowercase();
        Some(match self.group_ids.iter().find_map(|g| slot_of_group(g)) {
            Some(slot) => format!("{base}-{slot}"),
            None => base,
        })
    }
}

/// The slot a private endpoint sub-resource `sites-<slot>` names, lowercase.
pub fn slot_of_group(g: &str) -> Option<String> {
    let (head, slot) = g.split_at_checked(6)?;
    (head.eq_ignore_ascii_case("sites-") && !slot.is_empty()).then(|| slot.to_ascii_lowercase())
}

#[derive(Debug, Clone)]
pub struct ZoneLink {
    pub name: String,
    pub vnet: usize,
    pub registration_enabled: bool,
    /// `resolutionPolicy: NxDomainRedirect`: a missing record falls back to public DNS.
    pub nxdomain_redirect: bool,
}

/// A PostgreSQL or MySQL flexible server with private access: injected
/// into a subnet delegated to it, with the private DNS zone Azure writes
/// its A record to.
#[derive(Debug, Clone)]
pub struct FlexibleServer {
    pub name: String,
    /// The public zone of its host name: `postgres.database.azure.com` or
    /// `mysql.database.azure.com`.
    pub public_zone: &'static str,
    pub subnet: SubnetRef,
    /// The first free address of the subnet, in template order.
    pub ip: Ipv4Addr,
    /// Index into `Scenario::dns_zones`; `None` when the input names none.
    pub zone: Option<usize>,
    pub origin: Origin,
}

impl FlexibleServer {
    /// The host name clients use: `<server>.postgres.database.azure.com`.
    pub fn host_name(&self) -> String {
        format!("{}.{}", self.record_name(), self.public_zone)
    }

    /// The name of the A record in the private zone (the public name is a
    /// CNAME to `<record>.<zone>`).
    pub fn record_name(&self) -> String {
        self.name.to_ascii_lowercase()
    }
}

#[derive(Debug, Clone)]
pub struct DnsZone {
    /// Lower-case zone name, `privatelink.blob.core.windows.net`.
    pub name: String,
    /// A records by lower-case relative name (`@` for the apex).
    pub a: BTreeMap<String, Vec<Ipv4Addr>>,
    /// CNAME records by lower-case relative name.
    pub cname: BTreeMap<String, String>,
    pub links: Vec<ZoneLink>,
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// Y1 / Dynamic: no virtual network integration.
    Consumption,
    /// FC1: always routes all traffic.
    FlexConsumption,
    ElasticPremium,
    /// Basic, Standard, Premium v2/v3...
    Dedicated,
    /// App Service Environment: already inside the VNet.
    Isolated,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    pub sku_name: String,
    pub tier: String,
    pub kind: PlanKind,
    /// Linux (`reserved: true`).
    pub linux: bool,
    pub origin: Origin,
}

/// Which setting decided Route All.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAll {
    pub on: bool,
    /// `outboundVnetRouting.applicationTraffic`, `properties.vnetRouteAllEnabled`,
    /// ..., or `default (off)`.
    pub decided_by: String,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub name: String,
    pub kind: String,
    pub plan: Option<usize>,
    /// The integration subnet and which property set it.
    pub integration: Option<(SubnetRef, String)>,
    pub route_all: RouteAll,
    pub outbound_ips: Vec<Ipv4Addr>,
    pub outbound_ips_synthetic: bool,
    pub app_settings: BTreeMap<String, String>,
    /// Who may reach the site from outside (inbound access restrictions).
    pub access: SiteAccess,
    /// The resource's `location` as given (`westeurope` from a template's
    /// `resourceGroup().location`), empty when the input has none.
    pub location: String,
    /// Subscription and resource group of the site's resource id (for a
    /// template, the deployment context's), when the id carries them.
    pub subscription: Option<String>,
    pub resource_group: Option<String>,
    pub origin: Origin,
}

/// Inbound access to a site through the public front ends (fact sheet
/// 13.2): the main site's and the scm (Kudu) site's restriction lists, and
/// whether the public path is open at all. `policy::access` evaluates it.
#[derive(Debug, Clone)]
pub struct SiteAccess {
    /// `publicNetworkAccess` not `Disabled` (and not closed by a private
    /// endpoint to the site when it is unset).
    pub public_network_access: bool,
    /// Which input decided `public_network_access`, for messages.
    pub public_decided_by: String,
    pub main: AccessRules,
    pub scm: AccessRules,
    /// `siteConfig.scmIpSecurityRestrictionsUseMain`: the scm site uses `main`.
    pub scm_use_main: bool,
}

impl Default for SiteAccess {
    fn default() -> Self {
        SiteAccess {
            public_network_access: true,
            public_decided_by: "default (enabled)".into(),
            main: AccessRules::default(),
            scm: AccessRules::default(),
            scm_use_main: false,
        }
    }
}

/// One restriction list (`ipSecurityRestrictions` or `scmIpSecurityRestrictions`).
#[derive(Debug, Clone, Default)]
pub struct AccessRules {
    /// In declaration order, without the exported `Any` pseudo-rule.
    pub rules: Vec<AccessRule>,
    /// The explicit default action and the input that set it
    /// (`...DefaultAction`, or the exported pseudo-rule); `None` = Azure's
    /// implicit one (allow all without rules, deny after them).
    pub default_action: Option<(Access, String)>,
}

#[derive(Debug, Clone)]
pub struct AccessRule {
    pub name: String,
    pub priority: u32,
    pub action: Access,
    pub source: AccessSource,
    /// Lower-case header name (`x-forwarded-host`, ...) and its values; all
    /// named headers must match, each by any of its values.
    pub headers: Vec<(String, Vec<String>)>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub enum AccessSource {
    /// `ipAddress`: prefixes, `Any`, or service tags (`tag: ServiceTag`),
    /// up to 8; IPv6 entries are left out (clients here are IPv4).
    Addresses(Vec<AddrItem>),
    /// `vnetSubnetResourceId`: a service-endpoint rule, as written.
    Subnet(String),
}

#[derive(Debug, Clone)]
pub struct VnetGateway {
    pub name: String,
    pub vnet: Option<usize>,
    /// `Vpn` or `ExpressRoute`.
    pub gateway_type: String,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct LocalGateway {
    pub name: String,
    pub address_space: Vec<Ipv4Net>,
    pub origin: Origin,
}

#[derive(Debug, Clone)]
pub struct Connection {
    pub name: String,
    pub gateway: usize,
    pub local_gateway: Option<usize>,
    /// VNet-to-VNet connections: the other gateway.
    pub gateway2: Option<usize>,
}

impl Scenario {
    pub fn subnet(&self, r: SubnetRef) -> &Subnet {
        &self.vnets[r.0].subnets[r.1]
    }

    /// `vnet/subnet`, for messages and `--subnet`.
    pub fn subnet_name(&self, r: SubnetRef) -> String {
        format!("{}/{}", self.vnets[r.0].name, self.vnets[r.0].subnets[r.1].name)
    }

    pub fn find_subnet(&self, spec: &str) -> Option<SubnetRef> {
        let (v, s) = spec.split_once('/')?;
        let vi = self.vnets.iter().position(|x| x.name.eq_ignore_ascii_case(v))?;
        let si = self.vnets[vi].subnets.iter().position(|x| x.name.eq_ignore_ascii_case(s))?;
        Some((vi, si))
    }

    /// Connected peerings of `vnet`: (remote vnet index if in scenario, address space).
    pub fn connected_peerings(&self, vnet: usize) -> Vec<(Option<usize>, Vec<Ipv4Net>, &Peering)> {
        let mut out = Vec::new();
        for p in &self.vnets[vnet].peerings {
            if !p.allow_virtual_network_access {
                continue;
            }
            match &p.remote {
                PeerRemote::Vnet(r) => {
                    let back = self.vnets[*r].peerings.iter().any(|q| matches!(q.remote, PeerRemote::Vnet(x) if x == vnet) && q.allow_virtual_network_access);
                    if back && *r != vnet {
                        out.push((Some(*r), self.vnets[*r].address_space.clone(), p));
                    }
                }
                PeerRemote::External { address_space, .. } => {
                    if !address_space.is_empty() {
                        out.push((None, address_space.clone(), p));
                    }
                }
            }
        }
        out
    }

    /// The VNet gateways serving `vnet`: its own, or a peered hub's when the
    /// peering uses remote gateways and the hub allows gateway transit.
    pub fn gateways_of(&self, vnet: usize) -> Vec<usize> {
        let mut gws: Vec<usize> = (0..self.vnet_gateways.len()).filter(|&g| self.vnet_gateways[g].vnet == Some(vnet)).collect();
        for (remote, _, p) in self.connected_peerings(vnet) {
            let Some(r) = remote else { continue };
            let transit = self.vnets[r].peerings.iter().any(|q| matches!(q.remote, PeerRemote::Vnet(x) if x == vnet) && q.allow_gateway_transit);
            if p.use_remote_gateways && transit {
                gws.extend((0..self.vnet_gateways.len()).filter(|&g| self.vnet_gateways[g].vnet == Some(r)));
            }
        }
        gws
    }

    /// On-premises prefixes reachable through `vnet`'s gateways.
    pub fn gateway_prefixes(&self, vnet: usize) -> Vec<Ipv4Net> {
        let gws = self.gateways_of(vnet);
        let mut out = Vec::new();
        for c in &self.connections {
            let near = if gws.contains(&c.gateway) {
                Some(c.gateway2)
            } else if c.gateway2.is_some_and(|g| gws.contains(&g)) {
                Some(Some(c.gateway))
            } else {
                None
            };
            let Some(other_gw) = near else { continue };
            if let Some(l) = c.local_gateway {
                out.extend(self.local_gateways[l].address_space.iter().copied());
            }
            if let Some(g2) = other_gw {
                if let Some(v2) = self.vnet_gateways[g2].vnet {
                    out.extend(self.vnets[v2].address_space.iter().copied());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }
}
