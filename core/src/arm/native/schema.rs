//! The native TOML format as serde reads it: one struct per table, unknown
//! keys rejected, names kept with their spans for error lines.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

pub(super) type Name = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Scenario {
    pub(super) location: Option<String>,
    #[serde(default)]
    pub(super) site: Vec<Site>,
    #[serde(default)]
    pub(super) vnet: Vec<Vnet>,
    #[serde(default)]
    pub(super) nsg: Vec<Nsg>,
    #[serde(default)]
    pub(super) route_table: Vec<RouteTable>,
    #[serde(default)]
    pub(super) nat_gateway: Vec<NatGateway>,
    #[serde(default)]
    pub(super) private_endpoint: Vec<PrivateEndpoint>,
    #[serde(default)]
    pub(super) dns_zone: Vec<DnsZone>,
    #[serde(default)]
    pub(super) vnet_gateway: Vec<VnetGateway>,
    #[serde(default)]
    pub(super) local_gateway: Vec<LocalGateway>,
    #[serde(default)]
    pub(super) connection: Vec<Connection>,
}

/// A string or a list of strings.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Site {
    pub(super) name: Name,
    pub(super) plan: Name,
    pub(super) plan_name: Option<Name>,
    pub(super) os: Option<Name>,
    pub(super) kind: Option<String>,
    pub(super) subnet: Option<Name>,
    pub(super) route_all: Option<bool>,
    pub(super) content_over_vnet: Option<bool>,
    pub(super) image_pull_over_vnet: Option<bool>,
    #[serde(default)]
    pub(super) outbound_ips: Vec<String>,
    #[serde(default)]
    pub(super) possible_outbound_ips: Vec<String>,
    #[serde(default)]
    pub(super) app_settings: BTreeMap<String, toml::Value>,
    pub(super) public_network_access: Option<Name>,
    pub(super) access_default_action: Option<Name>,
    pub(super) scm_access_default_action: Option<Name>,
    pub(super) scm_use_main: Option<bool>,
    #[serde(default)]
    pub(super) access_restriction: Vec<AccessRestriction>,
    #[serde(default)]
    pub(super) scm_access_restriction: Vec<AccessRestriction>,
}

/// `[[site.access_restriction]]`: one of `source`, `service_tag`, `subnet`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AccessRestriction {
    pub(super) name: Name,
    pub(super) priority: i64,
    pub(super) action: Name,
    pub(super) source: Option<OneOrMany>,
    pub(super) service_tag: Option<OneOrMany>,
    pub(super) subnet: Option<Name>,
    #[serde(default)]
    pub(super) headers: BTreeMap<String, OneOrMany>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Vnet {
    pub(super) name: Name,
    pub(super) address_space: Vec<String>,
    #[serde(default)]
    pub(super) dns_servers: Vec<String>,
    pub(super) location: Option<String>,
    #[serde(default)]
    pub(super) subnet: Vec<Subnet>,
    #[serde(default)]
    pub(super) peering: Vec<Peering>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Subnet {
    pub(super) name: Name,
    pub(super) prefix: OneOrMany,
    pub(super) nsg: Option<Name>,
    pub(super) route_table: Option<Name>,
    pub(super) nat_gateway: Option<Name>,
    pub(super) delegation: Option<String>,
    #[serde(default)]
    pub(super) service_endpoints: Vec<String>,
    pub(super) private_endpoint_network_policies: Option<String>,
    pub(super) default_outbound_access: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Peering {
    pub(super) remote: Name,
    pub(super) name: Option<String>,
    pub(super) remote_address_space: Option<Vec<String>>,
    pub(super) allow_virtual_network_access: Option<bool>,
    pub(super) allow_forwarded_traffic: Option<bool>,
    pub(super) allow_gateway_transit: Option<bool>,
    pub(super) use_remote_gateways: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Nsg {
    pub(super) name: Name,
    #[serde(default)]
    pub(super) rule: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rule {
    pub(super) name: Name,
    pub(super) priority: i64,
    pub(super) direction: Option<Name>,
    pub(super) access: Name,
    pub(super) protocol: Option<Name>,
    pub(super) source: Option<OneOrMany>,
    pub(super) source_ports: Option<OneOrMany>,
    pub(super) destination: Option<OneOrMany>,
    pub(super) destination_ports: Option<OneOrMany>,
    pub(super) description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RouteTable {
    pub(super) name: Name,
    #[serde(default)]
    pub(super) disable_bgp_route_propagation: bool,
    #[serde(default)]
    pub(super) route: Vec<Route>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Route {
    pub(super) name: Name,
    pub(super) prefix: String,
    pub(super) next_hop: Name,
    pub(super) next_hop_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NatGateway {
    pub(super) name: Name,
    #[serde(default)]
    pub(super) public_ips: Vec<String>,
    pub(super) idle_timeout_minutes: Option<i64>,
    pub(super) sku: Option<String>,
    #[serde(default)]
    pub(super) zones: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PrivateEndpoint {
    pub(super) name: Name,
    pub(super) subnet: Name,
    pub(super) target: Name,
    pub(super) group: String,
    pub(super) ip: Option<String>,
    #[serde(default)]
    pub(super) dns_zones: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DnsZone {
    pub(super) name: Name,
    #[serde(default)]
    pub(super) links: Vec<Name>,
    pub(super) resolution_policy: Option<Name>,
    #[serde(default)]
    pub(super) records: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub(super) cname: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VnetGateway {
    pub(super) name: Name,
    pub(super) vnet: Name,
    pub(super) subnet: Option<String>,
    pub(super) gateway_type: Option<String>,
    pub(super) vpn_type: Option<String>,
    pub(super) sku: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocalGateway {
    pub(super) name: Name,
    pub(super) address_space: Vec<String>,
    pub(super) gateway_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Connection {
    pub(super) name: Name,
    pub(super) gateway: Name,
    pub(super) local_gateway: Name,
    pub(super) connection_type: Option<String>,
}
