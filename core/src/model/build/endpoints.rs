//! Private DNS zones (records and VNet links) and private endpoints: their
//! addresses and the A records their zone groups register.

use super::builder::{leaf, origin, parse_id, unknown_ref, Builder, T_PE, T_PE_ZG, T_VNET, T_ZONE, T_ZONE_A, T_ZONE_CNAME, T_ZONE_LINK};
use super::deploytime::Need;
use crate::error::LoadError;
use crate::model::scenario::{slot_of_group, DnsZone, Origin, PrivateEndpoint, SubnetRef, ZoneLink};
use ipnet::Ipv4Net;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

/// Addresses handed out in a subnet in template order, first free first
/// (Azure keeps each subnet's first four addresses and its last). Each
/// subnet keeps a cursor: everything below the last address placed is
/// taken, so placing n addresses costs O(n), not O(n²) (a hostile template
/// may hold 20,000 endpoints in one subnet).
#[derive(Default)]
pub(super) struct Placement {
    taken: HashSet<Ipv4Addr>,
    next: HashMap<Ipv4Net, u32>,
}

impl Placement {
    /// With `taken` (static addresses) reserved.
    pub(super) fn new(taken: impl IntoIterator<Item = Ipv4Addr>) -> Placement {
        Placement { taken: taken.into_iter().collect(), next: HashMap::new() }
    }

    fn place(&mut self, net: &Ipv4Net, also_taken: impl Fn(Ipv4Addr) -> bool) -> Option<Ipv4Addr> {
        let first = u32::from(net.network()).saturating_add(4);
        let last = u32::from(net.broadcast()).saturating_sub(1);
        let start = self.next.get(net).copied().unwrap_or(first);
        let a = (start..=last).map(Ipv4Addr::from).find(|a| !self.taken.contains(a) && !also_taken(*a))?;
        self.next.insert(*net, u32::from(a).saturating_add(1));
        self.taken.insert(a);
        Some(a)
    }
}

impl Builder<'_> {
    /// Where Azure places what the input gives no address for: the first
    /// assignable address of `subnet` that nothing in `placement` holds and
    /// that is no synthetic deploy-time address. A full subnet is an error
    /// naming `what` (`private endpoint 'pe'`) at `origin`.
    pub(super) fn first_free(&self, subnet: SubnetRef, placement: &mut Placement, what: &str, origin: &Origin) -> Result<Ipv4Addr, LoadError> {
        let deploy = self.deploy.borrow();
        placement
            .place(&self.sc.subnet(subnet).prefixes[0], |a| deploy.is_synthetic(a))
            .ok_or_else(|| LoadError::new(&origin.file, &origin.path, format!("{what}: subnet {} has no free address left", self.sc.subnet_name(subnet))))
    }

    pub(super) fn zones(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_ZONE) {
            self.register(T_ZONE, r, self.sc.dns_zones.len());
            self.sc.dns_zones.push(DnsZone {
                name: r.name.to_ascii_lowercase().trim_end_matches('.').to_string(),
                a: BTreeMap::new(),
                cname: BTreeMap::new(),
                links: Vec::new(),
                origin: origin(r),
            });
        }
        for r in self.of(T_ZONE_A) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let mut addrs = Vec::new();
            if let Some(res) = at.with("properties", |p| {
                p.each("aRecords", |a| {
                    let s = a.str("ipv4Address")?;
                    let addr = match self.deploy_addr(a.file, &format!("{}.ipv4Address", a.path()), s, Need::ByName)? {
                        Some(x) => x,
                        None => s.parse::<Ipv4Addr>().map_err(|_| a.err(format!("ipv4Address '{s}' is not an IPv4 address")))?,
                    };
                    addrs.push(addr);
                    Ok(())
                })
            }) {
                res?;
            }
            self.sc.dns_zones[z].a.entry(leaf(&r.name).to_ascii_lowercase()).or_default().extend(addrs);
        }
        for r in self.of(T_ZONE_CNAME) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let target = at
                .with("properties", |p| p.with("cnameRecord", |c| c.opt_str("cname")))
                .flatten()
                .transpose()?
                .flatten()
                .ok_or_else(|| at.err("CNAME record without properties.cnameRecord.cname"))?;
            self.sc.dns_zones[z].cname.insert(leaf(&r.name).to_ascii_lowercase(), target.to_ascii_lowercase());
        }
        for r in self.of(T_ZONE_LINK) {
            let z = self.parent_index(r, T_ZONE, "private DNS zone")?;
            let at = Self::at(r);
            let res = at.with("properties", |p| -> Result<ZoneLink, LoadError> {
                let vnet =
                    self.resolve(&p, "virtualNetwork", T_VNET, "virtual network")?.ok_or_else(|| p.err("virtual network link without virtualNetwork.id"))?;
                Ok(ZoneLink {
                    name: leaf(&r.name).to_string(),
                    vnet,
                    registration_enabled: p.opt_bool("registrationEnabled")?.unwrap_or(false),
                    nxdomain_redirect: p.opt_str("resolutionPolicy")?.is_some_and(|s| s.eq_ignore_ascii_case("NxDomainRedirect")),
                })
            });
            let link = res.ok_or_else(|| at.err("virtual network link without properties"))??;
            self.sc.dns_zones[z].links.push(link);
        }
        Ok(())
    }

    pub(super) fn private_endpoints(&mut self) -> Result<(), LoadError> {
        let mut pes = Vec::new();
        for r in self.of(T_PE) {
            let at = Self::at(r);
            let res = at.with("properties", |p| -> Result<PrivateEndpoint, LoadError> {
                let id = p.ref_id("subnet")?.ok_or_else(|| p.err("private endpoint without subnet.id"))?;
                let subnet = self.subnet_ref(&p, "subnet", id)?;
                let mut target_id: Option<String> = None;
                let mut group_ids = Vec::new();
                for field in ["privateLinkServiceConnections", "manualPrivateLinkServiceConnections"] {
                    p.each(field, |c| {
                        c.with("properties", |cp| -> Result<(), LoadError> {
                            if let Some(t) = cp.opt_str("privateLinkServiceId")? {
                                if let Some(m) = unknown_ref(t) {
                                    return Err(cp.err(format!("privateLinkServiceId: {m}")));
                                }
                                target_id = target_id.take().or(parse_id(t).map(|_| t.to_string()));
                            }
                            group_ids.extend(cp.str_list("groupIds")?);
                            Ok(())
                        })
                        .transpose()
                        .map(|_| ())
                    })?;
                }
                let mut ip = None;
                p.each("ipConfigurations", |c| {
                    if let Some(s) = c.with("properties", |cp| cp.opt_str("privateIPAddress")).transpose()?.flatten() {
                        let path = format!("{}.properties.privateIPAddress", c.path());
                        ip = match self.deploy_optional(c.file, &path, s, "the endpoint takes the first free address of its subnet, as without a static one") {
                            Some(given) => given,
                            None => Some(s.parse::<Ipv4Addr>().map_err(|_| c.err(format!("privateIPAddress '{s}' is not an IPv4 address")))?),
                        };
                    }
                    Ok(())
                })?;
                // az output: the address the endpoint was given, in customDnsConfigs.
                p.each("customDnsConfigs", |c| {
                    if ip.is_none() {
                        if let Some(s) = c.str_list("ipAddresses")?.first() {
                            ip = s.parse().ok();
                        }
                    }
                    Ok(())
                })?;
                let ip_static = ip.is_some();
                Ok(PrivateEndpoint {
                    name: r.name.clone(),
                    subnet,
                    target: target_id.as_deref().and_then(parse_id),
                    target_id,
                    group_ids,
                    ip: ip.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    ip_static,
                    zone_group: Vec::new(),
                    origin: origin(r),
                })
            });
            pes.push(res.ok_or_else(|| at.err("private endpoint without properties"))??);
        }
        // Static addresses are reserved first; the rest take the first free
        // assignable address of their subnet, in template order.
        let mut placement = Placement::new(pes.iter().filter(|p| p.ip_static).map(|p| p.ip));
        for pe in pes.iter_mut().filter(|p| !p.ip_static) {
            pe.ip = self.first_free(pe.subnet, &mut placement, &format!("private endpoint '{}'", pe.name), &pe.origin)?;
        }
        for (i, r) in self.of(T_PE).enumerate() {
            self.register(T_PE, r, i);
        }
        self.sc.private_endpoints = pes;
        for r in self.of(T_PE_ZG) {
            let pe = self.parent_index(r, T_PE, "private endpoint")?;
            let at = Self::at(r);
            let mut zones = Vec::new();
            if let Some(res) = at.with("properties", |p| {
                p.each("privateDnsZoneConfigs", |c| {
                    let id = c
                        .with("properties", |cp| cp.opt_str("privateDnsZoneId"))
                        .transpose()?
                        .flatten()
                        .ok_or_else(|| c.err("zone config without properties.privateDnsZoneId"))?;
                    let z = self.resolve_id(&c, "properties.privateDnsZoneId", id, T_ZONE, "private DNS zone")?;
                    zones.push(z);
                    Ok(())
                })
            }) {
                res?;
            }
            let (ip, target) = (self.sc.private_endpoints[pe].ip, self.sc.private_endpoints[pe].target.clone());
            let groups = self.sc.private_endpoints[pe].group_ids.clone();
            for &z in &zones {
                let Some((_, tname)) = &target else { continue };
                // A deployment slot's endpoint (sub-resource `sites-<slot>`,
                // fact sheet 13.5) registers `<site>-<slot>`, not the site.
                let slot = groups.iter().find_map(|g| slot_of_group(g));
                let base = match &slot {
                    Some(sl) => format!("{}-{sl}", leaf(tname).to_ascii_lowercase()),
                    None => leaf(tname).to_ascii_lowercase(),
                };
                let mut names = vec![base.clone()];
                let web = slot.is_some() || groups.iter().any(|g| g.eq_ignore_ascii_case("sites"));
                if web && !self.sc.dns_zones[z].name.starts_with("scm.") {
                    names.push(format!("{base}.scm"));
                }
                for n in names {
                    let rec = self.sc.dns_zones[z].a.entry(n).or_default();
                    if !rec.contains(&ip) {
                        rec.push(ip);
                    }
                }
            }
            self.sc.private_endpoints[pe].zone_group.extend(zones);
        }
        Ok(())
    }
}
