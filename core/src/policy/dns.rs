//! Name resolution as the integrated app sees it: private DNS zones linked
//! to its VNet (authoritative: a missing record is NXDOMAIN unless the link
//! redirects), the `privatelink.` CNAME step for Azure services that have a
//! private endpoint, and a fallback public map.

use crate::decision::Resolution;
use crate::model::Scenario;
use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

/// Public service suffixes and the private link zone they map to (fact sheet §5).
const PRIVATELINK: &[(&str, &str)] = &[
    ("blob.core.windows.net", "privatelink.blob.core.windows.net"),
    ("table.core.windows.net", "privatelink.table.core.windows.net"),
    ("queue.core.windows.net", "privatelink.queue.core.windows.net"),
    ("file.core.windows.net", "privatelink.file.core.windows.net"),
    ("web.core.windows.net", "privatelink.web.core.windows.net"),
    ("dfs.core.windows.net", "privatelink.dfs.core.windows.net"),
    ("database.windows.net", "privatelink.database.windows.net"),
    ("vault.azure.net", "privatelink.vaultcore.azure.net"),
    ("vaultcore.azure.net", "privatelink.vaultcore.azure.net"),
    ("servicebus.windows.net", "privatelink.servicebus.windows.net"),
    ("scm.azurewebsites.net", "scm.privatelink.azurewebsites.net"),
    ("azurewebsites.net", "privatelink.azurewebsites.net"),
    ("documents.azure.com", "privatelink.documents.azure.com"),
    ("azurecr.io", "privatelink.azurecr.io"),
    ("azconfig.io", "privatelink.azconfig.io"),
];

const MAX_CHAIN: usize = 8;

struct Zone {
    name: String,
    a: BTreeMap<String, Vec<Ipv4Addr>>,
    cname: BTreeMap<String, String>,
    redirect: bool,
}

/// The resolver of one VNet.
pub struct DnsView {
    zones: Vec<Zone>,
    /// Lower-case names of resources that have a private endpoint.
    pe_targets: HashSet<String>,
    public: BTreeMap<String, Vec<Ipv4Addr>>,
}

fn norm(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl DnsView {
    pub fn new(sc: &Scenario, vnet: usize, public: &BTreeMap<String, Vec<Ipv4Addr>>) -> DnsView {
        let zones = sc
            .dns_zones
            .iter()
            .filter_map(|z| {
                let link = z.links.iter().find(|l| l.vnet == vnet)?;
                Some(Zone { name: z.name.clone(), a: z.a.clone(), cname: z.cname.clone(), redirect: link.nxdomain_redirect })
            })
            .collect();
        let pe_targets = sc.private_endpoints.iter().filter_map(|p| p.host_label()).collect();
        let public = public.iter().map(|(k, v)| (norm(k), v.clone())).collect();
        DnsView { zones, pe_targets, public }
    }

    /// The linked zone with the longest name containing `name`, and the
    /// relative record name in it.
    fn zone_for(&self, name: &str) -> Option<(&Zone, String)> {
        self.zones
            .iter()
            .filter_map(|z| {
                if name == z.name {
                    Some((z, "@".to_string()))
                } else {
                    name.strip_suffix(&z.name).and_then(|rest| rest.strip_suffix('.')).map(|rel| (z, rel.to_string()))
                }
            })
            .max_by_key(|(z, _)| z.name.len())
    }

    /// `X.blob.core.windows.net` -> `X.privatelink.blob.core.windows.net`
    /// when resource X has a private endpoint.
    fn privatelink_name(&self, name: &str) -> Option<String> {
        // `app.scm.azurewebsites.net`: X is `app`, the suffix `scm.azurewebsites.net`.
        let (first, rest) = name.split_once('.')?;
        if !self.pe_targets.contains(first) {
            return None;
        }
        PRIVATELINK.iter().find(|(public, _)| *public == rest).map(|(_, private)| format!("{first}.{private}"))
    }

    fn public_answer(&self, chain: Vec<String>) -> Resolution {
        let hit = chain.iter().rev().find_map(|n| self.public.get(n));
        match hit {
            Some(addrs) => Resolution::Addresses { addrs: addrs.clone(), chain, answered_by: "public DNS".into() },
            None => Resolution::NxDomain { chain, answered_by: "public DNS (no such name)".into(), public: true },
        }
    }

    /// Every address an answer may carry (linked zones' records and the
    /// public map), for the warnings of a command that answers any name.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.zones.iter().flat_map(|z| z.a.values().flatten()).chain(self.public.values().flatten()).copied()
    }

    pub fn resolve(&self, name: &str) -> Resolution {
        let mut n = norm(name);
        let mut chain = vec![n.clone()];
        for _ in 0..MAX_CHAIN {
            if let Some((zone, rel)) = self.zone_for(&n) {
                let by = format!("private DNS zone {} (linked)", zone.name);
                if let Some(addrs) = zone.a.get(&rel) {
                    return Resolution::Addresses { addrs: addrs.clone(), chain, answered_by: by };
                }
                if let Some(target) = zone.cname.get(&rel) {
                    n = norm(target);
                    chain.push(n.clone());
                    continue;
                }
                if zone.redirect {
                    return self.public_answer(chain);
                }
                return Resolution::NxDomain { chain, answered_by: by, public: false };
            }
            if let Some(pl) = self.privatelink_name(&n) {
                if self.zone_for(&pl).is_some() {
                    n = pl;
                    chain.push(n.clone());
                    continue;
                }
                chain.push(pl);
            }
            return self.public_answer(chain);
        }
        Resolution::NxDomain { chain, answered_by: "resolver (CNAME chain too long)".into(), public: false }
    }
}
