//! CIDR functions of the template language (`parseCidr`, `cidrSubnet`,
//! `cidrHost`) for IPv4 and IPv6, checked against the examples in
//! Microsoft's documentation. Addresses are held as `u128` with the
//! family's width, so every shift and sum is checked.

use super::error::{err, EvalError, R};
use super::values::{arity, int_of, str_arg};
use serde_json::Value;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A network: its address (masked), prefix length and family width (32 or 128).
#[derive(Clone, Copy)]
struct Net {
    addr: u128,
    len: u32,
    bits: u32,
}

impl Net {
    fn mask(&self) -> u128 {
        let all = if self.bits == 128 { u128::MAX } else { (1u128 << self.bits) - 1 };
        if self.len == 0 {
            0
        } else {
            all & !all.checked_shr(self.len).unwrap_or(0)
        }
    }
    fn text(&self, a: u128) -> String {
        if self.bits == 32 {
            Ipv4Addr::from(a as u32).to_string()
        } else {
            Ipv6Addr::from(a).to_string()
        }
    }
}

/// `parseCidr(network)`.
pub(super) fn call_parse_cidr(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 1, 1)?;
    let net = parse_cidr(str_arg(name, a, 0)?)?;
    Ok(cidr_info(net))
}

/// `cidrSubnet(network, newPrefixLength, subnetIndex)`.
pub(super) fn call_cidr_subnet(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 3, 3)?;
    let net = parse_cidr(str_arg(name, a, 0)?)?;
    let new_len = int_of(name, &a[1])?;
    let idx = int_of(name, &a[2])?;
    if new_len < net.len as i64 || new_len > net.bits as i64 {
        return err(format!("cidrSubnet(): the new prefix length {new_len} must be between {} and {}", net.len, net.bits));
    }
    let new_len = new_len as u32;
    let count = 1u128.checked_shl(new_len - net.len).filter(|_| new_len - net.len < 128);
    if idx < 0 || count.is_some_and(|c| idx as u128 >= c) {
        return err(format!("cidrSubnet(): subnet index {idx} is out of range (0..{})", count.map_or(u128::MAX, |c| c - 1)));
    }
    let shift = net.bits - new_len;
    let off = if shift >= 128 { 0 } else { (idx as u128) << shift };
    Ok(Value::String(format!("{}/{}", net.text(net.addr | off), new_len)))
}

/// `cidrHost(network, hostIndex)`: hosts count from the first usable
/// address (IPv4 skips the network address except in a /31 or /32; in
/// IPv6, as in Microsoft's `parseCidr` example, the network address is
/// the first usable one).
pub(super) fn call_cidr_host(name: &str, a: &[Value]) -> R<Value> {
    arity(name, a.len(), 2, 2)?;
    let net = parse_cidr(str_arg(name, a, 0)?)?;
    let idx = int_of(name, &a[1])?;
    let host_bits = net.bits - net.len;
    let size = if host_bits >= 128 { u128::MAX } else { 1u128 << host_bits };
    let (first, usable) = match (net.bits, host_bits) {
        (_, 0 | 1) => (0, size),
        (32, _) => (1, size - 2),
        _ => (0, size),
    };
    if idx < 0 || idx as u128 >= usable {
        return err(format!("cidrHost(): host index {idx} is out of range for a /{}", net.len));
    }
    Ok(Value::String(net.text(net.addr + first + idx as u128)))
}

fn parse_cidr(s: &str) -> R<Net> {
    let bad = || EvalError::Here(format!("'{s}' is not an IPv4 or IPv6 network in CIDR notation"));
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let len: u32 = len.trim().parse().map_err(|_| bad())?;
    let (addr, bits) = match addr.trim().parse::<Ipv4Addr>() {
        Ok(v4) => (u32::from(v4) as u128, 32),
        Err(_) => (u128::from(addr.trim().parse::<Ipv6Addr>().map_err(|_| bad())?), 128),
    };
    if len > bits {
        return Err(bad());
    }
    let mut net = Net { addr, len, bits };
    net.addr &= net.mask();
    Ok(net)
}

fn cidr_info(net: Net) -> Value {
    let all = if net.bits == 128 { u128::MAX } else { (1u128 << net.bits) - 1 };
    let last = net.addr | (all & !net.mask());
    let host_bits = net.bits - net.len;
    if net.bits == 32 {
        let (first, last_usable) = if host_bits <= 1 { (net.addr, last) } else { (net.addr + 1, last - 1) };
        serde_json::json!({
            "network": net.text(net.addr),
            "netmask": net.text(net.mask()),
            "broadcast": net.text(last),
            "firstUsable": net.text(first),
            "lastUsable": net.text(last_usable),
            "cidr": net.len
        })
    } else {
        serde_json::json!({
            "network": net.text(net.addr),
            "netmask": net.text(net.mask()),
            "firstUsable": net.text(net.addr),
            "lastUsable": net.text(last),
            "cidr": net.len
        })
    }
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
