//! A subnet's effective routes: system routes, gateway routes and the
//! subnet's route table, with Azure's selection (longest prefix; at equal
//! prefix User > VirtualNetworkGateway > Default; a gateway route never beats
//! a VNet, peering or service endpoint route), compiled for lookup.

pub mod lpm;

use crate::decision::{NextHopType, RouteIdx};
use crate::error::LoadError;
use crate::model::{RoutePrefix, Scenario, SubnetRef};
use crate::policy::tags::TagContext;
use ipnet::Ipv4Net;
use lpm::{Lpm, LpmEntry, Origin};
use std::net::Ipv4Addr;

/// Where a route comes from, as effective routes name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteSource {
    Default,
    User,
    VirtualNetworkGateway,
}

impl RouteSource {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteSource::Default => "Default",
            RouteSource::User => "User",
            RouteSource::VirtualNetworkGateway => "VirtualNetworkGateway",
        }
    }
}

#[derive(Debug, Clone)]
pub struct EffectiveRoute {
    /// The user route's name; `None` for system routes.
    pub name: Option<String>,
    pub source: RouteSource,
    /// False (`Invalid`) when an equal-prefix route is preferred, or for a
    /// gateway route inside a VNet, peering or service endpoint prefix
    /// (`lpm::states`). `decide` only ever takes Active routes.
    pub active: bool,
    pub prefix: Ipv4Net,
    pub next_hop: NextHopType,
    pub next_hop_ip: Option<Ipv4Addr>,
    /// The route table's name for user routes.
    pub route_table: Option<String>,
    /// What the route is for: "address space", "peering hub", "private endpoint pe-blob", ...
    pub note: String,
}

pub struct RouteSet {
    pub routes: Vec<EffectiveRoute>,
    entries: Vec<LpmEntry>,
    lpm: Lpm,
}

const RESERVED: [(u8, u8, u8, u8, u8); 4] = [(10, 0, 0, 0, 8), (172, 16, 0, 0, 12), (192, 168, 0, 0, 16), (100, 64, 0, 0, 10)];

impl RouteSet {
    pub fn for_subnet(sc: &Scenario, subnet: SubnetRef, tags: &TagContext) -> Result<RouteSet, LoadError> {
        let vi = subnet.0;
        let vnet = &sc.vnets[vi];
        let sub = sc.subnet(subnet);
        let mut routes = Vec::new();
        let sys = |prefix: Ipv4Net, hop: NextHopType, note: String| EffectiveRoute {
            name: None,
            source: RouteSource::Default,
            active: true,
            prefix,
            next_hop: hop,
            next_hop_ip: None,
            route_table: None,
            note,
        };
        for p in &vnet.address_space {
            routes.push(sys(*p, NextHopType::VnetLocal, format!("address space of {}", vnet.name)));
        }
        for (remote, space, peering) in sc.connected_peerings(vi) {
            let whom = remote.map(|r| sc.vnets[r].name.clone()).unwrap_or_else(|| "a VNet outside the input".into());
            for p in space {
                routes.push(sys(p, NextHopType::VNetPeering, format!("peering {} to {whom}", peering.name)));
            }
        }
        let reachable: Vec<usize> = std::iter::once(vi).chain(sc.connected_peerings(vi).into_iter().filter_map(|(r, _, _)| r)).collect();
        for pe in &sc.private_endpoints {
            if reachable.contains(&pe.subnet.0) {
                let net = Ipv4Net::new(pe.ip, 32).expect("/32 is valid");
                routes.push(sys(net, NextHopType::InterfaceEndpoint, format!("private endpoint {}", pe.name)));
            }
        }
        for se in &sub.service_endpoints {
            let (tag, prefixes) = tags.service_endpoint_prefixes(&se.service).map_err(|m| LoadError::new(&sub.origin.file, &sub.origin.path, m))?;
            for p in prefixes {
                routes.push(sys(p, NextHopType::VirtualNetworkServiceEndpoint, format!("service endpoint {} ({tag})", se.service)));
            }
        }
        routes.push(sys("0.0.0.0/0".parse().expect("valid"), NextHopType::Internet, "default route".into()));

        let table = sub.route_table.map(|t| &sc.route_tables[t]);
        let mut user = Vec::new();
        if let Some(t) = table {
            for r in &t.routes {
                let prefixes = match &r.prefix {
                    RoutePrefix::Net(n) => vec![*n],
                    RoutePrefix::Tag(tag) => tags.given.get(tag).map(<[Ipv4Net]>::to_vec).ok_or_else(|| {
                        LoadError::new(
                            &r.origin.file,
                            &r.origin.path,
                            format!(
                                "route '{}': unknown service tag '{tag}' as addressPrefix: give its prefixes in service_tags or with --service-tags FILE",
                                r.name
                            ),
                        )
                    })?,
                };
                for p in prefixes {
                    user.push(EffectiveRoute {
                        name: Some(r.name.clone()),
                        source: RouteSource::User,
                        active: true,
                        prefix: p,
                        next_hop: r.next_hop,
                        next_hop_ip: r.next_hop_ip,
                        route_table: Some(t.name.clone()),
                        note: format!("route table {}", t.name),
                    });
                }
            }
        }
        // A user default route to an appliance or gateway takes the None routes away.
        let default_elsewhere =
            user.iter().any(|r| r.prefix.prefix_len() == 0 && matches!(r.next_hop, NextHopType::VirtualAppliance | NextHopType::VirtualNetworkGateway));
        if !default_elsewhere {
            for (a, b, c, d, l) in RESERVED {
                let net = Ipv4Net::new(Ipv4Addr::new(a, b, c, d), l).expect("valid constant prefix");
                // Equal to or inside the address space: removed; containing it: kept, LPM decides.
                if vnet.address_space.iter().any(|s| s.contains(&net)) {
                    continue;
                }
                routes.push(sys(net, NextHopType::None, "reserved private range".into()));
            }
        }
        let propagate = !table.is_some_and(|t| t.disable_bgp_route_propagation);
        if propagate {
            for p in sc.gateway_prefixes(vi) {
                routes.push(EffectiveRoute {
                    name: None,
                    source: RouteSource::VirtualNetworkGateway,
                    active: true,
                    prefix: p,
                    next_hop: NextHopType::VirtualNetworkGateway,
                    next_hop_ip: None,
                    route_table: None,
                    note: "on-premises prefix of a gateway connection".into(),
                });
            }
        }
        routes.extend(user);

        let entries: Vec<LpmEntry> = routes
            .iter()
            .map(|r| LpmEntry {
                net: r.prefix,
                origin: match r.source {
                    RouteSource::User => Origin::User,
                    RouteSource::VirtualNetworkGateway => Origin::Gateway,
                    RouteSource::Default => Origin::System,
                },
                protected: r.source == RouteSource::Default
                    && matches!(r.next_hop, NextHopType::VnetLocal | NextHopType::VNetPeering | NextHopType::VirtualNetworkServiceEndpoint),
            })
            .collect();
        // The listing's state and the lookup come from one selection rule.
        for (r, active) in routes.iter_mut().zip(lpm::states(&entries)) {
            r.active = active;
        }
        let lpm = Lpm::new(&entries);
        Ok(RouteSet { routes, entries, lpm })
    }

    pub fn lookup(&self, addr: Ipv4Addr) -> Option<RouteIdx> {
        self.lpm.lookup(addr).map(|i| i as RouteIdx)
    }

    pub fn lookup_linear(&self, addr: Ipv4Addr) -> Option<RouteIdx> {
        lpm::select_linear(&self.entries, addr).map(|i| i as RouteIdx)
    }
}
