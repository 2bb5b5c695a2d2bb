//! `[[nsg]]` tables and their rules, as network security groups.

use super::builder::Builder;
use super::schema::{OneOrMany, Scenario};
use crate::error::LoadError;
use serde_json::{json, Map, Value};

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

pub(super) fn emit_nsgs(b: &mut Builder<'_>, sc: &Scenario, loc: &str) -> Result<(), LoadError> {
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
    Ok(())
}
