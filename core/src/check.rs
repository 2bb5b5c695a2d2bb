//! A flow as people write it (`tcp host:port`, `icmp 10.0.1.4`), resolved
//! the way the app would resolve it and decided by the policy: the one
//! evaluation behind `verify`, the conformance runner and the live runner.

use crate::decision::{BlockedBy, Decision, Path, Resolution};
use crate::flow::{Flow, Proto};
use crate::policy::Policy;
use crate::warning::Uses;
use serde_json::{json, Value};
use std::net::Ipv4Addr;

/// Where a flow goes: an address, or a name the app resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Addr(Ipv4Addr),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowSpec {
    pub proto: Proto,
    pub dest: Dest,
    /// Zero for ICMP.
    pub port: u16,
}

impl std::fmt::Display for FlowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = match &self.dest {
            Dest::Addr(a) => a.to_string(),
            Dest::Name(n) => n.clone(),
        };
        match self.proto {
            Proto::Tcp => write!(f, "tcp {d}:{}", self.port),
            Proto::Udp => write!(f, "udp {d}:{}", self.port),
            Proto::Icmp => write!(f, "icmp {d}"),
            Proto::Other(n) => write!(f, "proto-{n} {d}"),
        }
    }
}

/// Parses `PROTO DEST:PORT` (tcp, udp) or `icmp DEST`.
pub fn parse_flow(s: &str) -> Result<FlowSpec, String> {
    let expected = "expected 'tcp HOST:PORT', 'udp HOST:PORT' or 'icmp HOST'";
    let mut parts = s.split_whitespace();
    let (Some(proto), Some(target), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("'{s}': {expected}"));
    };
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        "icmp" => Proto::Icmp,
        other => return Err(format!("'{s}': unknown protocol '{other}' ({expected})")),
    };
    let (host, port) = if proto == Proto::Icmp {
        if target.contains(':') {
            return Err(format!("'{s}': ICMP has no port ({expected})"));
        }
        (target, 0)
    } else {
        let (h, p) = target.rsplit_once(':').ok_or_else(|| format!("'{s}': {} needs a port ({expected})", proto_name(proto)))?;
        let port = p.parse::<u16>().map_err(|_| format!("'{s}': port '{p}' is not 1-65535"))?;
        if port == 0 {
            return Err(format!("'{s}': port 0 is not a destination port (1-65535)"));
        }
        (h, port)
    };
    if host.is_empty() {
        return Err(format!("'{s}': missing host ({expected})"));
    }
    let dest = match host.parse::<Ipv4Addr>() {
        Ok(a) => Dest::Addr(a),
        Err(_)
            if host.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_') && !host.chars().all(|c| c.is_ascii_digit() || c == '.') =>
        {
            Dest::Name(host.to_ascii_lowercase())
        }
        Err(_) => return Err(format!("'{s}': '{host}' is neither an IPv4 address nor a host name")),
    };
    Ok(FlowSpec { proto, dest, port })
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
        Proto::Icmp => "icmp",
        Proto::Other(_) => "ip",
    }
}

/// What happened to a flow: its resolution (for names) and its decision.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub spec: FlowSpec,
    pub resolution: Option<Resolution>,
    /// The flow decided, when the destination resolved.
    pub flow: Option<Flow>,
    pub decision: Option<Decision>,
}

pub fn evaluate(policy: &Policy, spec: &FlowSpec) -> Outcome {
    let (resolution, dst) = match &spec.dest {
        Dest::Addr(a) => (None, Some(*a)),
        Dest::Name(n) => {
            let r = policy.resolve(n);
            // A flow to a name with several addresses uses the first.
            let first = match &r {
                Resolution::Addresses { addrs, .. } => addrs.first().copied(),
                Resolution::NxDomain { .. } => None,
            };
            (Some(r), first)
        }
    };
    let flow = dst.map(|d| policy.flow(spec.proto, d, spec.port));
    let decision = flow.map(|f| policy.decide(&f));
    Outcome { spec: spec.clone(), resolution, flow, decision }
}

impl Outcome {
    /// What this answer used (its name's answer, destination and decision),
    /// for the warnings `verify` shows with it.
    pub fn uses(&self, policy: &Policy) -> Uses {
        let mut u = self.resolution.as_ref().map(uses_of_resolution).unwrap_or_default();
        if let Some(f) = &self.flow {
            u.address(f.dst);
        }
        if let Some(d) = &self.decision {
            u.extend(policy.uses_of_decision(d));
        }
        u
    }

    /// The values FORMAT.md's `expect` keys compare against (null where a key does not apply).
    pub fn actual(&self, policy: &Policy) -> Value {
        let Some(d) = &self.decision else {
            return json!({"allowed": false, "blocked_by": BlockedBy::Dns.as_str(), "path": null,
                "next_hop": null, "next_hop_ip": null, "nsg_rule": null, "source": null});
        };
        json!({
            "allowed": d.allowed,
            "path": match d.path { Path::Vnet => "vnet", Path::Direct => "direct" },
            "next_hop": d.next_hop.map(|h| h.as_str()),
            "next_hop_ip": d.next_hop_ip.map(|a| a.to_string()),
            "nsg_rule": d.nsg_rule.map(|i| policy.rule_name(i)),
            "source": d.source.to_string(),
            "blocked_by": d.blocked_by.map(|b| b.as_str()),
        })
    }
}

/// What a name's answer used (`resolve`), for the warnings it shows.
pub fn uses_of_resolution(r: &Resolution) -> Uses {
    let mut u = Uses::default();
    for a in resolved_addresses(r) {
        u.address(a);
    }
    u
}

/// The addresses a resolve check compares against.
pub fn resolved_addresses(r: &Resolution) -> Vec<Ipv4Addr> {
    match r {
        Resolution::Addresses { addrs, .. } => addrs.clone(),
        Resolution::NxDomain { .. } => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_specs_parse() {
        assert_eq!(parse_flow("tcp 10.0.1.4:1433").unwrap(), FlowSpec { proto: Proto::Tcp, dest: Dest::Addr(Ipv4Addr::new(10, 0, 1, 4)), port: 1433 });
        assert_eq!(parse_flow("UDP host.example:53").unwrap().dest, Dest::Name("host.example".into()));
        assert_eq!(parse_flow("icmp 10.0.1.4").unwrap().port, 0);
        for bad in ["tcp 10.0.1.4", "icmp 10.0.1.4:80", "sctp 1.2.3.4:1", "tcp 10.0.1.4:99999", "tcp", "tcp a b", "tcp 300.1.1.1:80", "tcp :80"] {
            assert!(parse_flow(bad).is_err(), "{bad} should not parse");
        }
    }
}
