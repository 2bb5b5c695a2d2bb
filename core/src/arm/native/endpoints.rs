//! `[[private_endpoint]]` tables (and the targets they imply) and
//! `[[dns_zone]]` tables with their links and records.

use super::builder::Builder;
use super::schema::Scenario;
use crate::arm::expr::parse_resource_id;
use crate::error::LoadError;
use serde_json::{json, Value};

pub(super) fn emit_private_endpoints(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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

pub(super) fn emit_dns_zones(b: &mut Builder<'_>, sc: &Scenario) -> Result<(), LoadError> {
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
    Ok(())
}
