//! `[[vnet]]` tables: address space, DNS servers, subnets and peerings.

use super::builder::Builder;
use super::schema::{OneOrMany, Scenario};
use crate::arm::expr::parse_resource_id;
use crate::error::LoadError;
use serde_json::{json, Map, Value};

pub(super) fn emit_vnets(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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
                    s.service_endpoints.iter().map(|x| json!({"service": x, "locations": [v.location.clone().unwrap_or_else(|| loc.to_string())]})).collect();
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
            "location": v.location.clone().unwrap_or_else(|| loc.to_string()),
            "properties": {
                "addressSpace": {"addressPrefixes": v.address_space},
                "dhcpOptions": {"dnsServers": v.dns_servers},
                "subnets": subnets,
                "virtualNetworkPeerings": peerings
            }
        });
        b.emit("Microsoft.Network/virtualNetworks", vname, &v.name, body)?;
    }
    Ok(())
}
