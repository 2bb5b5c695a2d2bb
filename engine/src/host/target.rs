//! Where `vnetlab run` sends an allowed flow on this machine: `--map`
//! rules first (TARGET=HOST:PORT, TARGET an address, address:port or a name
//! resolved the app's way), then the flow's own destination if it is a
//! public address reached through the internet, else nowhere (a private
//! destination has no twin here: the app sees a timeout and a hint).
//!
//! A loopback target is shown a source that stands for the flow's
//! translated source: the host socket is bound to 127.B.C.D for the
//! translated source A.B.C.D (10.0.2.4 -> 127.0.2.4, NAT gateway
//! 198.51.100.10 -> 127.51.100.10), so a local service can tell a NAT'd
//! flow from a private one in its logs.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};

use vnetlab_core::decision::World;

/// One `--map` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapRule {
    /// What the app connects to.
    pub addr: Ipv4Addr,
    /// Only this destination port, or any.
    pub port: Option<u16>,
    /// Where the host connects instead.
    pub to: SocketAddrV4,
    /// The TARGET as written, for messages.
    pub text: String,
}

/// Parses `--map TARGET=HOST:PORT`; names in TARGET go through `resolve`
/// (the app's resolver), HOST through the host's own.
pub fn parse_map(text: &str, resolve: impl Fn(&str) -> Vec<Ipv4Addr>) -> Result<Vec<MapRule>, String> {
    let bad = |why: &str| format!("--map {text:?}: {why} (expected TARGET=HOST:PORT, TARGET an address, ADDRESS:PORT, NAME or NAME:PORT)");
    let (target, host) = text.split_once('=').ok_or_else(|| bad("no '='"))?;
    let to = host
        .to_socket_addrs()
        .map_err(|e| bad(&format!("HOST:PORT {host:?}: {e}")))?
        .find_map(|a| match a {
            SocketAddr::V4(a) => Some(a),
            SocketAddr::V6(_) => None,
        })
        .ok_or_else(|| bad(&format!("HOST:PORT {host:?} has no IPv4 address")))?;
    let (name, port) = match target.rsplit_once(':') {
        Some((n, p)) => (n, Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| bad(&format!("port {p:?}")))?)),
        None => (target, None),
    };
    if name.is_empty() {
        return Err(bad("empty TARGET"));
    }
    let addrs = match name.parse::<Ipv4Addr>() {
        Ok(a) => vec![a],
        Err(_) => resolve(name),
    };
    if addrs.is_empty() {
        return Err(bad(&format!("{name} does not resolve for the app")));
    }
    Ok(addrs.into_iter().map(|addr| MapRule { addr, port, to, text: target.to_string() }).collect())
}

/// Where to connect for a flow to `dst:port` that the policy sent to `world`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Connect here; `bind` is the loopback source for loopback targets.
    Host { to: SocketAddrV4, bind: Option<Ipv4Addr> },
    /// A private destination without a `--map`: not connected.
    Unmapped,
}

/// The rule for `dst:port` (a port-specific rule wins over an any-port one).
pub fn find_map(maps: &[MapRule], dst: Ipv4Addr, port: u16) -> Option<&MapRule> {
    maps.iter().find(|m| m.addr == dst && m.port == Some(port)).or_else(|| maps.iter().find(|m| m.addr == dst && m.port.is_none()))
}

/// Chooses the host's target; `source` is the flow's translated source.
pub fn choose(maps: &[MapRule], world: World, dst: Ipv4Addr, port: u16, source: Ipv4Addr) -> Target {
    let to = match find_map(maps, dst, port) {
        Some(m) => m.to,
        None if world == World::Internet && is_public(dst) => SocketAddrV4::new(dst, port),
        None => return Target::Unmapped,
    };
    Target::Host { to, bind: to.ip().is_loopback().then(|| loopback_source(source)) }
}

/// 127.B.C.D for A.B.C.D (see the module comment).
pub fn loopback_source(translated: Ipv4Addr) -> Ipv4Addr {
    let [_, b, c, d] = translated.octets();
    Ipv4Addr::new(127, b, c, d)
}

/// An address the host's own network may route to the internet.
pub fn is_public(a: Ipv4Addr) -> bool {
    let shared = u32::from(a) & 0xffc0_0000 == 0x6440_0000; // 100.64.0.0/10
    !(a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified() || a.is_broadcast() || a.is_multicast() || shared)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(name: &str) -> Vec<Ipv4Addr> {
        match name {
            "acct.blob.core.windows.net" => vec![Ipv4Addr::new(10, 0, 1, 4)],
            _ => vec![],
        }
    }

    #[test]
    fn maps_parse_addresses_names_and_ports() {
        let m = parse_map("acct.blob.core.windows.net:443=127.0.0.1:10000", resolve).unwrap();
        assert_eq!((m[0].addr, m[0].port, m[0].to), (Ipv4Addr::new(10, 0, 1, 4), Some(443), "127.0.0.1:10000".parse().unwrap()));
        let m = parse_map("10.0.2.5=127.0.0.1:5432", resolve).unwrap();
        assert_eq!((m[0].addr, m[0].port), (Ipv4Addr::new(10, 0, 2, 5), None));
        assert!(parse_map("nowhere.example=127.0.0.1:1", resolve).is_err());
        assert!(parse_map("10.0.2.5", resolve).is_err());
        assert!(parse_map("10.0.2.5:0=127.0.0.1:1", resolve).is_err());
    }

    #[test]
    fn targets_follow_maps_then_public_internet_else_nothing() {
        let maps = parse_map("10.0.1.4:443=127.0.0.1:9000", resolve).unwrap();
        let nat = Ipv4Addr::new(198, 51, 100, 10);
        let lo = Target::Host { to: "127.0.0.1:9000".parse().unwrap(), bind: Some(Ipv4Addr::new(127, 0, 1, 4)) };
        assert_eq!(choose(&maps, World::Vnet, Ipv4Addr::new(10, 0, 1, 4), 443, Ipv4Addr::new(10, 0, 1, 4)), lo);
        assert_eq!(choose(&maps, World::Vnet, Ipv4Addr::new(10, 0, 1, 4), 80, Ipv4Addr::new(10, 0, 1, 4)), Target::Unmapped);
        let web = Ipv4Addr::new(198, 18, 0, 9);
        assert_eq!(choose(&maps, World::Internet, web, 443, nat), Target::Host { to: SocketAddrV4::new(web, 443), bind: None });
        assert_eq!(choose(&maps, World::Internet, Ipv4Addr::new(10, 9, 9, 9), 443, nat), Target::Unmapped);
        assert_eq!(loopback_source(nat), Ipv4Addr::new(127, 51, 100, 10));
    }
}
