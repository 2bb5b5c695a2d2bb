//! IPv4 CIDR functions of the template language (`parseCidr`, `cidrSubnet`,
//! `cidrHost`), checked against the examples in Microsoft's documentation.

use super::error::{err, EvalError, R};
use super::values::{arity, int_of, str_arg};
use serde_json::Value;
use std::net::Ipv4Addr;

/// `parseCidr(network)`.
pub(super) fn call_parse_cidr(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
    Ok(cidr_info(net, len))
}

/// `cidrSubnet(network, newPrefixLength, subnetIndex)`.
pub(super) fn call_cidr_subnet(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 3, 3)?;
    let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
    let new_len = int_of(name, &a[1])?;
    let idx = int_of(name, &a[2])?;
    if new_len < len as i64 || new_len > 32 {
        return err(format!("cidrSubnet(): the new prefix length {new_len} must be between {len} and 32"));
    }
    let count = 1u64 << (new_len as u32 - len);
    if idx < 0 || idx as u64 >= count {
        return err(format!("cidrSubnet(): subnet index {idx} is out of range (0..{})", count - 1));
    }
    let base = u32::from(net) as u64 + ((idx as u64) << (32 - new_len as u32));
    Ok(Value::String(format!("{}/{}", Ipv4Addr::from(base as u32), new_len)))
}

/// `cidrHost(network, hostIndex)`: hosts count from the first usable address.
pub(super) fn call_cidr_host(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 2, 2)?;
    let (net, len) = parse_cidr(str_arg(name, a, 0)?)?;
    let idx = int_of(name, &a[1])?;
    let size = 1u64 << (32 - len);
    // /31 and /32 have no network/broadcast address to skip.
    let (first, usable) = if len >= 31 { (0, size) } else { (1, size - 2) };
    if idx < 0 || idx as u64 >= usable {
        return err(format!("cidrHost(): host index {idx} is out of range for a /{len}"));
    }
    let addr = u32::from(net) as u64 + first + idx as u64;
    Ok(Value::String(Ipv4Addr::from(addr as u32).to_string()))
}

fn parse_cidr(s: &str) -> R<(Ipv4Addr, u32)> {
    let bad = || EvalError::Here(format!("'{s}' is not an IPv4 network in CIDR notation (IPv6 is not supported)"));
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.trim().parse().map_err(|_| bad())?;
    let len: u32 = len.trim().parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((Ipv4Addr::from(u32::from(addr) & mask), len))
}

fn cidr_info(net: Ipv4Addr, len: u32) -> Value {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    let n = u32::from(net);
    let bcast = n | !mask;
    let (first, last) = if len >= 31 { (n, bcast) } else { (n + 1, bcast - 1) };
    serde_json::json!({
        "network": net.to_string(),
        "netmask": Ipv4Addr::from(mask).to_string(),
        "broadcast": Ipv4Addr::from(bcast).to_string(),
        "firstUsable": Ipv4Addr::from(first).to_string(),
        "lastUsable": Ipv4Addr::from(last).to_string(),
        "cidr": len
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arm::expr::testenv::{ev, ev_err};
    use serde_json::json;

    #[test]
    fn cidr_functions_match_microsoft_docs_examples() {
        assert_eq!(
            ev("[parseCidr('10.144.0.0/20')]"),
            json!({"network":"10.144.0.0","netmask":"255.255.240.0","broadcast":"10.144.15.255","firstUsable":"10.144.0.1","lastUsable":"10.144.15.254","cidr":20})
        );
        let subnets: Vec<Value> = (0..5).map(|i| ev(&format!("[cidrSubnet('10.144.0.0/20', 24, {i})]"))).collect();
        assert_eq!(subnets, vec![json!("10.144.0.0/24"), json!("10.144.1.0/24"), json!("10.144.2.0/24"), json!("10.144.3.0/24"), json!("10.144.4.0/24")]);
        let hosts: Vec<Value> = (0..5).map(|i| ev(&format!("[cidrHost('10.144.3.0/24', {i})]"))).collect();
        assert_eq!(hosts, vec![json!("10.144.3.1"), json!("10.144.3.2"), json!("10.144.3.3"), json!("10.144.3.4"), json!("10.144.3.5")]);
        assert!(ev_err("[cidrSubnet('10.0.0.0/24', 16, 0)]").contains("between 24 and 32"));
        assert!(ev_err("[cidrHost('10.0.0.0/30', 2)]").contains("out of range"));
    }
}
