//! Database servers with private access (PostgreSQL and MySQL flexible
//! servers injected into a delegated subnet): the address Azure gives each
//! and the A record it writes in the server's private DNS zone.

use super::builder::{origin, Builder, T_ZONE};
use super::endpoints::Placement;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{FlexibleServer, SubnetRef};
use crate::warning::Warning;
use std::net::Ipv4Addr;

/// Resource type, the delegation its subnet needs, the public zone of its
/// host name, and the property that names its private DNS zone (the two
/// services spell it differently).
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("microsoft.dbforpostgresql/flexibleservers", "Microsoft.DBforPostgreSQL/flexibleServers", "postgres.database.azure.com", "privateDnsZoneArmResourceId"),
    ("microsoft.dbformysql/flexibleservers", "Microsoft.DBforMySQL/flexibleServers", "mysql.database.azure.com", "privateDnsZoneResourceId"),
];

/// What `properties.network` of one server says.
struct Injected {
    subnet: SubnetRef,
    zone: Option<usize>,
}

impl Builder<'_> {
    pub(super) fn flexible_servers(&mut self) -> Result<(), LoadError> {
        let mut servers = Vec::new();
        for &(t, delegation, public_zone, zone_key) in KINDS {
            for r in self.of(t) {
                let at = Self::at(r);
                let net = at.with("properties", |p| p.with("network", |n| self.injected(&n, zone_key))).flatten().transpose()?.flatten();
                // Public access: no address in any VNet, so nothing to model.
                let Some(Injected { subnet, zone }) = net else { continue };
                let sub = self.sc.subnet(subnet);
                if !sub.delegations.iter().any(|d| d.eq_ignore_ascii_case(delegation)) {
                    return Err(LoadError::new(
                        &r.file,
                        format!("{}.properties.network.delegatedSubnetResourceId", r.path),
                        format!("subnet {} is not delegated to {delegation}; Azure refuses to inject the server there", self.sc.subnet_name(subnet)),
                    ));
                }
                if zone.is_none() {
                    self.sc.warnings.push(Warning::always(format!(
                        "{} '{}' has no private DNS zone ({zone_key}); its name {}.{public_zone} does not resolve",
                        r.rtype,
                        r.name,
                        r.name.to_ascii_lowercase()
                    )));
                }
                servers.push(FlexibleServer { name: r.name.clone(), public_zone, subnet, ip: Ipv4Addr::UNSPECIFIED, zone, origin: origin(r) });
            }
        }
        // A delegated subnet holds nothing else, but endpoint addresses are
        // kept out all the same.
        let mut placement = Placement::new(self.sc.private_endpoints.iter().map(|p| p.ip));
        for s in &mut servers {
            let a = self.first_free(s.subnet, &mut placement, &format!("server '{}'", s.name), &s.origin)?;
            s.ip = a;
            if let Some(z) = s.zone {
                let rec = self.sc.dns_zones[z].a.entry(s.record_name()).or_default();
                if !rec.contains(&a) {
                    rec.push(a);
                }
            }
        }
        self.sc.flexible_servers = servers;
        Ok(())
    }

    /// `delegatedSubnetResourceId` and the zone id; `None` without a subnet
    /// (an empty string is how conditional templates leave it out).
    fn injected(&self, n: &At<'_>, zone_key: &str) -> Result<Option<Injected>, LoadError> {
        let Some(id) = n.opt_str("delegatedSubnetResourceId")?.filter(|s| !s.trim().is_empty()) else { return Ok(None) };
        let subnet = self.subnet_ref(n, "delegatedSubnetResourceId", id)?;
        let zone = match n.opt_str(zone_key)?.filter(|s| !s.trim().is_empty()) {
            Some(zid) => Some(self.resolve_id(n, zone_key, zid, T_ZONE, "private DNS zone")?),
            None => None,
        };
        Ok(Some(Injected { subnet, zone }))
    }
}
