//! The state behind deploy-time values (`placeholders` reads them): the
//! user's `--deploy-value`s, the synthetic address allocator and the
//! warnings. Values Azure knows only after deployment, where the builder
//! needs a concrete address: a runtime placeholder (`<runtime:NAME>`, what
//! `reference(x).privateIPAddress` and the like evaluate to, also through a
//! module's outputs) in an A record, a route's next hop, a VNet's DNS
//! servers or an access restriction, and the public IP and outbound
//! addresses Azure assigns.
//!
//! Each gets, in this order: the address the user gave for that JSON path
//! (`--deploy-value FILE:JSONPATH=ADDRESS`); for a public IP's address
//! (`reference(pip).ipAddress`), the address the builder gives that public
//! IP; else a synthetic address and one warning naming the file, the path
//! and the flag. Synthetic addresses are deterministic (input order) and
//! never one the input states or the user gave:
//! - public ones from one allocator in 198.18.0.0/15: public IPs from
//!   198.18.254.1 up, site outbound addresses from 198.18.255.1 up, other
//!   public values from 198.18.253.1 up;
//! - private ones (a next hop, a private address) from the top of the first
//!   VNet's first address prefix down (10.0.255.254, 10.0.255.253, ... for
//!   10.0.0.0/16), or of 10.0.0.0/8 without a VNet: where a firewall or
//!   DNS resolver in the network would be, clear of the first addresses
//!   that the instance and private endpoints take.

use crate::arm::resource::Resource;
pub(super) use crate::warning::Pool;
use crate::warning::Warning;
use ipnet::Ipv4Net;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;

/// `--deploy-value [FILE:]JSONPATH=ADDRESS`: the real address of a
/// deploy-time value, at the JSON path a warning named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployValue {
    /// The input file, as given with `-t` or its file name; `None`: any.
    pub file: Option<String>,
    pub path: String,
    pub addr: Ipv4Addr,
}

impl DeployValue {
    /// Parses `[FILE:]JSONPATH=ADDRESS`; JSONPATH starts with `$`.
    pub fn parse(s: &str) -> Result<DeployValue, String> {
        let (key, addr) = s.rsplit_once('=').ok_or_else(|| format!("--deploy-value {s}: expected [FILE:]JSONPATH=ADDRESS"))?;
        let addr = addr.trim().parse().map_err(|_| format!("--deploy-value {s}: '{}' is not an IPv4 address", addr.trim()))?;
        let key = key.trim();
        let (file, path) = match key.strip_prefix('$') {
            Some(_) => (None, key),
            None => match key.find(":$") {
                Some(i) if i > 0 => (Some(key[..i].to_string()), &key[i + 1..]),
                _ => return Err(format!("--deploy-value {s}: expected [FILE:]JSONPATH=ADDRESS, the JSON path starting with '$' as a warning printed it")),
            },
        };
        Ok(DeployValue { file, path: path.to_string(), addr })
    }

    pub(super) fn matches(&self, file: &str, path: &str) -> bool {
        self.path == path && self.file.as_deref().is_none_or(|f| f == file || Path::new(file).file_name().is_some_and(|n| n.to_string_lossy() == f))
    }
}

/// Which synthetic address a value gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Need {
    /// A private address (a next hop, a private endpoint's).
    Private,
    /// Public unless the placeholder's name says otherwise: `ipAddress`
    /// and names with `public` are public, any other (`privateIPAddress`,
    /// an array index) private, as most addresses in private DNS zones are.
    ByName,
}

/// The builder's state for deploy-time values.
pub(super) struct DeployTime {
    /// Addresses the input states or the user gave, and those handed out.
    used: HashSet<Ipv4Addr>,
    /// The synthetic private addresses handed out.
    private: HashSet<Ipv4Addr>,
    next_public: HashMap<u8, u8>,
    private_top: u32,
    private_floor: u32,
    /// Indices of `--deploy-value`s that matched a value.
    pub(super) matched: HashSet<usize>,
    /// Public IP name (lowercase) -> the address the builder gave it.
    pub(super) public_ips: HashMap<String, Ipv4Addr>,
    pub(super) warnings: Vec<Warning>,
}

impl DeployTime {
    /// `private_net`: where private synthetic addresses come from (the first
    /// VNet's first prefix), else 10.0.0.0/8.
    pub(super) fn new(resources: &[Resource], given: impl IntoIterator<Item = Ipv4Addr>, private_net: Option<Ipv4Net>) -> Self {
        let mut used: HashSet<Ipv4Addr> = given.into_iter().collect();
        for r in resources {
            stated_addresses(&r.body, &mut used);
        }
        let net = private_net.unwrap_or(Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 8).unwrap_or_default());
        // Azure keeps the first four and the last address of a subnet.
        let top = u32::from(net.broadcast()).saturating_sub(1);
        let floor = u32::from(net.network()).saturating_add(4);
        DeployTime {
            used,
            private: HashSet::new(),
            next_public: HashMap::new(),
            private_top: top,
            private_floor: floor,
            matched: HashSet::new(),
            public_ips: HashMap::new(),
            warnings: Vec::new(),
        }
    }

    /// The next free address of a public pool, or `None` when it is used up.
    pub(super) fn public(&mut self, pool: Pool) -> Option<Ipv4Addr> {
        let next = self.next_public.entry(pool as u8).or_insert(1);
        while *next < 255 {
            let a = pool.address(*next);
            *next += 1;
            if self.used.insert(a) {
                return Some(a);
            }
        }
        None
    }

    /// The next free private address, or `None` when none is left.
    pub(super) fn private(&mut self) -> Option<Ipv4Addr> {
        while self.private_top >= self.private_floor {
            let a = Ipv4Addr::from(self.private_top);
            self.private_top -= 1;
            if self.used.insert(a) {
                self.private.insert(a);
                return Some(a);
            }
        }
        None
    }

    /// Whether `a` is a synthetic private address handed out so far: a
    /// private endpoint without a static address must not take one.
    pub(super) fn is_synthetic(&self, a: Ipv4Addr) -> bool {
        self.private.contains(&a)
    }
}

/// Every IPv4 address a string of `v` states (alone, in a comma-separated
/// list or as a prefix's first address). Iterative: bodies may nest deep.
fn stated_addresses(v: &Value, out: &mut HashSet<Ipv4Addr>) {
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                for part in s.split(',') {
                    let part = part.trim();
                    let host = part.split_once('/').map_or(part, |(a, _)| a);
                    if let Ok(a) = host.parse::<Ipv4Addr>() {
                        out.insert(a);
                    }
                }
            }
            Value::Array(items) => stack.extend(items),
            Value::Object(m) => stack.extend(m.values()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeployValue;
    use std::net::Ipv4Addr;

    #[test]
    fn deploy_values_parse() {
        let v = DeployValue::parse("dt.json:$.resources[2].properties.aRecords[0].ipv4Address=198.51.100.7").ok();
        assert_eq!(
            v,
            Some(DeployValue {
                file: Some("dt.json".into()),
                path: "$.resources[2].properties.aRecords[0].ipv4Address".into(),
                addr: Ipv4Addr::new(198, 51, 100, 7)
            })
        );
        let v = DeployValue::parse("$.resources[0].x=10.0.0.4").ok();
        assert_eq!(v.and_then(|v| v.file), None);
        assert!(DeployValue::parse("$.x=nope").is_err_and(|e| e.contains("not an IPv4 address")));
        assert!(DeployValue::parse("resources[0]=10.0.0.4").is_err_and(|e| e.contains("JSONPATH")));
        assert!(DeployValue::parse("no equals").is_err());
    }
}
