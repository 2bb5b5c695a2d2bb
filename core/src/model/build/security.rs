//! Network security groups: inline and separate rule resources, their
//! addresses, ports and priorities.

use super::builder::{leaf, merge_by_name, origin, over_limit, Builder, MAX_RULES_PER_NSG, T_NSG, T_NSG_RULE};
use super::deploytime::Need;
use crate::addr::parse_prefix;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{Access, AddrItem, Direction, Nsg, NsgProtocol, Origin, SecurityRule};
use serde_json::Value;
use std::collections::HashMap;

impl Builder<'_> {
    pub(super) fn nsgs(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_NSG) {
            let at = Self::at(r);
            let mut rules = Vec::new();
            at.with("properties", |p| {
                p.each("securityRules", |rule| {
                    rules.push(parse_rule(self, &rule, None)?);
                    Ok(())
                })
            })
            .transpose()?;
            self.register(T_NSG, r, self.sc.nsgs.len());
            self.sc.nsgs.push(Nsg { name: r.name.clone(), rules, origin: origin(r) });
        }
        let mut separate: Vec<Vec<SecurityRule>> = vec![Vec::new(); self.sc.nsgs.len()];
        for r in self.of(T_NSG_RULE) {
            let at = Self::at(r);
            let nsg = self.parent_index(r, T_NSG, "network security group")?;
            separate[nsg].push(parse_rule(self, &at, Some(leaf(&r.name)))?);
        }
        for (nsg, rules) in self.sc.nsgs.iter_mut().zip(separate) {
            // A separate rule resource replaces an inline rule of the same name.
            merge_by_name(&mut nsg.rules, rules, |x| &x.name);
            if let Some(r) = nsg.rules.get(MAX_RULES_PER_NSG) {
                return Err(over_limit(&r.origin, "security rules", &format!("network security group '{}'", nsg.name), nsg.rules.len(), MAX_RULES_PER_NSG));
            }
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

fn parse_addrs(b: &Builder<'_>, at: &At<'_>, single: &str, plural: &str, has_asgs: bool) -> Result<Vec<AddrItem>, LoadError> {
    let mut out = Vec::new();
    let mut push = |s: &str, path: String| -> Result<(), LoadError> {
        let t = s.trim();
        let item = if let Some(net) = b.deploy_prefix(at.file, &path, t, Need::ByName)? {
            AddrItem::Prefix(net)
        } else if t == "*" || t.eq_ignore_ascii_case("any") || t == "0.0.0.0/0" {
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

fn parse_rule(b: &Builder<'_>, at: &At<'_>, name: Option<&str>) -> Result<SecurityRule, LoadError> {
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
            source: parse_addrs(b, &p, "sourceAddressPrefix", "sourceAddressPrefixes", src_asg)?,
            source_ports: parse_ports(&p, "sourcePortRange", "sourcePortRanges", ports_needed)?,
            destination: parse_addrs(b, &p, "destinationAddressPrefix", "destinationAddressPrefixes", dst_asg)?,
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
