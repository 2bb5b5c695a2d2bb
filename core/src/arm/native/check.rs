//! Checks that run before anything is emitted: names unique per kind and
//! free of '/', and every by-name reference declared.

use super::builder::Builder;
use super::schema::{Name, Scenario};
use crate::error::LoadError;

fn declared<T>(items: &[T], name_of: impl Fn(&T) -> &Name, n: &Name) -> bool {
    items.iter().any(|x| name_of(x).get_ref().eq_ignore_ascii_case(n.get_ref()))
}

/// References by name must name something in the scenario (a peering's
/// remote VNet may live outside it), and names must be unique per kind.
pub(super) fn check_references(b: &Builder<'_>, sc: &Scenario) -> Result<(), LoadError> {
    let need = |what: &str, at: &Name, found: bool| -> Result<(), LoadError> {
        if found {
            Ok(())
        } else {
            Err(b.err(at, format!("{what} '{}' is not declared in this scenario", at.get_ref())))
        }
    };
    let subnet_exists = |r: &Name| -> Result<(), LoadError> {
        let Some((v, s)) = r.get_ref().split_once('/') else {
            return Err(b.err(r, format!("subnet reference '{}' must have the form 'vnet/subnet'", r.get_ref())));
        };
        let found = sc.vnet.iter().any(|x| x.name.get_ref().eq_ignore_ascii_case(v) && x.subnet.iter().any(|y| y.name.get_ref().eq_ignore_ascii_case(s)));
        need("subnet", r, found)
    };
    let mut seen: Vec<(&str, &Name)> = Vec::new();
    let names = sc
        .vnet
        .iter()
        .map(|x| ("vnet", &x.name))
        .chain(sc.site.iter().map(|x| ("site", &x.name)))
        .chain(sc.nsg.iter().map(|x| ("nsg", &x.name)))
        .chain(sc.route_table.iter().map(|x| ("route_table", &x.name)))
        .chain(sc.nat_gateway.iter().map(|x| ("nat_gateway", &x.name)))
        .chain(sc.private_endpoint.iter().map(|x| ("private_endpoint", &x.name)))
        .chain(sc.dns_zone.iter().map(|x| ("dns_zone", &x.name)))
        .chain(sc.vnet_gateway.iter().map(|x| ("vnet_gateway", &x.name)))
        .chain(sc.local_gateway.iter().map(|x| ("local_gateway", &x.name)))
        .chain(sc.connection.iter().map(|x| ("connection", &x.name)));
    for (kind, n) in names {
        if n.get_ref().is_empty() || n.get_ref().contains('/') {
            return Err(b.err(n, format!("{kind} name '{}' must be non-empty and contain no '/'", n.get_ref())));
        }
        if seen.iter().any(|(k, m)| *k == kind && m.get_ref().eq_ignore_ascii_case(n.get_ref())) {
            return Err(b.err(n, format!("{kind} '{}' is declared twice", n.get_ref())));
        }
        seen.push((kind, n));
    }
    for v in &sc.vnet {
        for s in &v.subnet {
            if let Some(n) = &s.nsg {
                need("nsg", n, declared(&sc.nsg, |x| &x.name, n))?;
            }
            if let Some(n) = &s.route_table {
                need("route_table", n, declared(&sc.route_table, |x| &x.name, n))?;
            }
            if let Some(n) = &s.nat_gateway {
                need("nat_gateway", n, declared(&sc.nat_gateway, |x| &x.name, n))?;
            }
        }
    }
    for s in &sc.site {
        if let Some(sub) = &s.subnet {
            subnet_exists(sub)?;
        }
    }
    for pe in &sc.private_endpoint {
        subnet_exists(&pe.subnet)?;
        for z in &pe.dns_zones {
            need("dns_zone", z, declared(&sc.dns_zone, |x| &x.name, z))?;
        }
    }
    for z in &sc.dns_zone {
        for l in &z.links {
            need("vnet", l, declared(&sc.vnet, |x| &x.name, l))?;
        }
    }
    for g in &sc.vnet_gateway {
        need("vnet", &g.vnet, declared(&sc.vnet, |x| &x.name, &g.vnet))?;
    }
    for c in &sc.connection {
        need("vnet_gateway", &c.gateway, declared(&sc.vnet_gateway, |x| &x.name, &c.gateway))?;
        need("local_gateway", &c.local_gateway, declared(&sc.local_gateway, |x| &x.name, &c.local_gateway))?;
    }
    Ok(())
}
