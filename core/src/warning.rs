//! Warnings about what vnetlab assumes where the input is silent, and when
//! a command shows them. A value Azure assigns at deployment (stood in for
//! by a placeholder address) or a site's missing plan matters only to the
//! answers that use it: each warning says what it is about (`Stake`), each
//! command collects what its answer used (`Uses`), and `Uses::shows` is the
//! one rule that joins the two. A leaf: it knows no scenario or policy.
//!
//! Registering a new warning: where the builder makes up a value, push
//! `Warning::placeholder(addr, message)` (a made-up address; `addr` is the
//! placeholder itself) or `Warning::plan(site, message)` onto
//! `Scenario::warnings`. Nothing else is needed while the address reaches
//! answers the way others do: as a flow's destination, a resolved address,
//! a source after translation, a next hop, or inside a route or NSG rule
//! prefix (see `policy::uses`); placeholders are taken from `PLACEHOLDERS`. `Warning::always` is for what concerns every
//! answer.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// The first address of `PLACEHOLDERS`.
const PLACEHOLDER_BASE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);

/// Where placeholder addresses come from: 198.18.0.0/15 (RFC 2544,
/// benchmarking), which no real deployment hands out. Its lower half holds
/// the made-up addresses of `Pool`s, its upper half (`PUBLIC_NAMES`) the
/// answers for names only public DNS knows.
pub const PLACEHOLDERS: Ipv4Net = match Ipv4Net::new(PLACEHOLDER_BASE, 15) {
    Ok(n) => n,
    Err(_) => panic!("a /15 is a valid prefix"),
};

/// 198.19.0.0/16: placeholder answers for public names (`policy::placeholder`).
pub const PUBLIC_NAMES: Ipv4Net = match Ipv4Net::new(Ipv4Addr::from_bits(PLACEHOLDER_BASE.to_bits() + (1 << 16)), 16) {
    Ok(n) => n,
    Err(_) => panic!("a /16 is a valid prefix"),
};

/// The /24s of `PLACEHOLDERS` that hold made-up public addresses, one per
/// kind of value, so that two kinds never hand out the same address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    /// Default outbound access of a NIC (`--subnet`), which has no site.
    NicOutbound = 252,
    /// Any other public value a template reads at deployment.
    Value = 253,
    /// Public IP resources without an address.
    PublicIp = 254,
    /// Sites without `outboundIpAddresses`.
    Outbound = 255,
}

impl Pool {
    /// Host `n` of the pool (198.18.POOL.n).
    pub fn address(self, n: u8) -> Ipv4Addr {
        let [a, b, _, _] = PLACEHOLDER_BASE.octets();
        Ipv4Addr::new(a, b, self as u8, n)
    }
}

/// What a warning is about, which decides when it is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stake {
    /// Every answer.
    Always,
    /// A value Azure assigns at deployment, stood in for by this address.
    Placeholder(Ipv4Addr),
    /// The plan kind of this site, assumed because the input has no plan
    /// for it.
    Plan(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub message: String,
    pub stake: Stake,
}

impl Warning {
    pub fn always(message: impl Into<String>) -> Warning {
        Warning { message: message.into(), stake: Stake::Always }
    }

    pub fn placeholder(addr: Ipv4Addr, message: impl Into<String>) -> Warning {
        Warning { message: message.into(), stake: Stake::Placeholder(addr) }
    }

    pub fn plan(site: &str, message: impl Into<String>) -> Warning {
        Warning { message: message.into(), stake: Stake::Plan(site.to_string()) }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a command's answer used: addresses and prefixes it printed or
/// decided with, and the sites whose plan kind it depended on.
#[derive(Debug, Clone, Default)]
pub struct Uses {
    nets: Vec<Ipv4Net>,
    plans: Vec<String>,
}

impl Uses {
    pub fn address(&mut self, a: Ipv4Addr) {
        self.nets.push(Ipv4Net::from(a));
    }

    /// A prefix an answer shows: it uses the placeholders inside it only
    /// when it is made from one, not when it merely covers them (0.0.0.0/0,
    /// a private range): when it lies inside `PLACEHOLDERS`, or is a single
    /// address (a private placeholder, such as a firewall's address in a
    /// rule, is a /32; synthetic addresses never equal a stated one).
    pub fn net(&mut self, n: Ipv4Net) {
        if PLACEHOLDERS.contains(&n) || n.prefix_len() == 32 {
            self.nets.push(n);
        }
    }

    pub fn plan_of(&mut self, site: &str) {
        if !self.plans.iter().any(|s| s.eq_ignore_ascii_case(site)) {
            self.plans.push(site.to_string());
        }
    }

    pub fn extend(&mut self, other: Uses) {
        self.nets.extend(other.nets);
        for p in other.plans {
            self.plan_of(&p);
        }
    }

    /// Whether `w` concerns this answer.
    pub fn shows(&self, w: &Warning) -> bool {
        match &w.stake {
            Stake::Always => true,
            Stake::Placeholder(a) => self.nets.iter().any(|n| n.contains(a)),
            Stake::Plan(site) => self.plans.iter().any(|s| s.eq_ignore_ascii_case(site)),
        }
    }

    /// The warnings of `all` this answer used, in their order.
    pub fn shown<'a>(&'a self, all: &'a [Warning]) -> impl Iterator<Item = &'a Warning> + 'a {
        all.iter().filter(|w| self.shows(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_and_public_names_share_no_address() {
        let pools = [Pool::NicOutbound, Pool::Value, Pool::PublicIp, Pool::Outbound];
        for p in pools {
            let a = p.address(1);
            assert!(PLACEHOLDERS.contains(&a) && !PUBLIC_NAMES.contains(&a), "{p:?}: {a}");
        }
        assert!(PLACEHOLDERS.contains(&PUBLIC_NAMES));
        let thirds: std::collections::HashSet<u8> = pools.iter().map(|p| p.address(1).octets()[2]).collect();
        assert_eq!(thirds.len(), pools.len(), "one /24 per pool");
    }

    #[test]
    fn a_placeholder_warning_is_shown_only_when_its_address_was_used() {
        let a = Ipv4Addr::new(198, 18, 255, 1);
        let w = Warning::placeholder(a, "x");
        let mut u = Uses::default();
        assert!(!u.shows(&w));
        u.address(Ipv4Addr::new(198, 18, 255, 2));
        assert!(!u.shows(&w));
        u.net("0.0.0.0/0".parse().unwrap());
        assert!(!u.shows(&w), "a prefix that merely covers the placeholder");
        u.net("198.18.255.0/30".parse().unwrap());
        assert!(u.shows(&w));
        assert!(Uses::default().shows(&Warning::always("y")));
        let mut p = Uses::default();
        p.plan_of("App");
        assert!(p.shows(&Warning::plan("app", "z")) && !p.shows(&Warning::plan("other", "z")));
    }
}
