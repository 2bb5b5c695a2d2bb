//! `[[route_table]]`, `[[nat_gateway]]` (with its public IPs),
//! `[[local_gateway]]`, `[[vnet_gateway]]` and `[[connection]]` tables.

use super::builder::Builder;
use super::schema::Scenario;
use crate::error::LoadError;
use serde_json::json;

pub(super) fn emit_route_tables(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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
    Ok(())
}

pub(super) fn emit_nat_gateways(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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
    Ok(())
}

pub(super) fn emit_gateways(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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
    Ok(())
}
