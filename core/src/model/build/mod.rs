//! From the flat list of concrete resources to a checked `Scenario`.
//!
//! References (`{"id": ...}`) resolve by full id (subscription, resource
//! group, type, name), else by type and name when that is unique (FORMAT.md,
//! "Loading"), so same-named resources in two resource groups stay apart. A
//! reference to a network object that is not in the input is an error: it
//! would otherwise silently change what is allowed. Values that Azure only
//! knows after deployment (public IP addresses, a site's outbound addresses,
//! runtime placeholders where an address is needed) get deterministic
//! synthetic addresses and a warning, unless given (`deploytime`).

mod builder;
mod databases;
mod deploytime;
mod endpoints;
mod network;
mod placeholders;
mod routing;
mod security;
mod sites;

pub use builder::BuildOptions;
pub use deploytime::DeployValue;

use crate::arm::refs::Refs;
use crate::arm::resource::Resource;
use crate::error::LoadError;
use crate::model::scenario::Scenario;
use builder::Builder;
use deploytime::DeployTime;
use std::cell::RefCell;

pub fn build(resources: &[Resource]) -> Result<Scenario, LoadError> {
    build_with(resources, &BuildOptions::default())
}

pub fn build_with(resources: &[Resource], opts: &BuildOptions) -> Result<Scenario, LoadError> {
    let given = opts.public_ips.iter().map(|(_, a)| *a).chain(opts.outbound_ips.iter().copied()).chain(opts.deploy_values.iter().map(|v| v.addr));
    let deploy = RefCell::new(DeployTime::new(resources, given, placeholders::first_vnet_prefix(resources)));
    let group = &opts.resource_group;
    let mut b = Builder {
        res: resources,
        opts,
        sc: Scenario::default(),
        index: Refs::in_group(group),
        subnets: Refs::in_group(group),
        deploy,
        elsewhere: RefCell::default(),
    };
    b.sc.resources = resources.iter().map(|r| (r.rtype.clone(), r.name.clone())).collect();
    // Public IPs first: a placeholder for one's address elsewhere reads it.
    b.nat_gateways()?;
    b.nsgs()?;
    b.route_tables()?;
    b.vnets()?;
    b.peerings()?;
    b.plans()?;
    b.zones()?;
    b.private_endpoints()?;
    b.flexible_servers()?;
    b.sites()?;
    b.gateways()?;
    let unmatched = b.unmatched_deploy_values();
    b.sc.warnings.extend(b.elsewhere.take());
    let deploy = b.deploy.into_inner();
    b.sc.warnings.extend(deploy.warnings);
    b.sc.warnings.extend(unmatched);
    Ok(b.sc)
}

#[cfg(test)]
mod tests {
    use super::builder::parse_id;
    use super::security::parse_port_range;

    #[test]
    fn resource_ids_split_into_type_and_name() {
        let id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s";
        assert_eq!(parse_id(id), Some(("Microsoft.Network/virtualNetworks/subnets".into(), "v/s".into())));
        assert_eq!(parse_id("/subscriptions/0/providers/Microsoft.Network"), None);
        assert_eq!(parse_id("nonsense"), None);
    }

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("*"), Ok((0, 65535)));
        assert_eq!(parse_port_range("80"), Ok((80, 80)));
        assert_eq!(parse_port_range("1000-2000"), Ok((1000, 2000)));
        assert!(parse_port_range("2000-1000").is_err());
        assert!(parse_port_range("70000").is_err());
        assert!(parse_port_range("http").is_err());
    }
}
