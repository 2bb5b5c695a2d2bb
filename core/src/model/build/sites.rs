//! App Service plans and sites: integration subnet, app settings, outbound
//! addresses, which setting decides Route All, and the inbound access
//! restrictions (fact sheet 13.2) as the input states them.

use super::builder::{
    id_segment, leaf, origin, parent, parent_id, parse_id, ty, Builder, T_PLAN, T_SITE, T_SITE_CONFIG, T_SITE_NETCFG, T_SLOT, T_SLOT_CONFIG, T_SLOT_NETCFG,
};
use super::deploytime::{Need, Pool};
use crate::addr::parse_prefix;
use crate::arm::expr::placeholder;
use crate::arm::refs::Refs;
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{slot_of_group, Access, AccessRule, AccessRules, AccessSource, AddrItem, Plan, PlanKind, RouteAll, Site, SiteAccess};
use crate::warning::Warning;
use serde_json::Value;
use std::collections::BTreeMap;

impl Builder<'_> {
    pub(super) fn plans(&mut self) -> Result<(), LoadError> {
        for r in self.of(T_PLAN) {
            let at = Self::at(r);
            let (sku_name, tier) = at
                .with("sku", |s| -> Result<(String, String), LoadError> {
                    Ok((s.opt_str("name")?.unwrap_or("").to_string(), s.opt_str("tier")?.unwrap_or("").to_string()))
                })
                .transpose()?
                .unwrap_or_default();
            let kind_s = at.opt_str("kind")?.unwrap_or("").to_ascii_lowercase();
            let linux = at.with("properties", |p| p.opt_bool("reserved")).transpose()?.flatten().unwrap_or(false) || kind_s.contains("linux");
            let (sn, tl) = (sku_name.to_ascii_uppercase(), tier.to_ascii_lowercase());
            let kind = if sn == "Y1" || tl == "dynamic" {
                PlanKind::Consumption
            } else if sn == "FC1" || tl == "flexconsumption" {
                PlanKind::FlexConsumption
            } else if sn.starts_with("EP") || tl == "elasticpremium" || kind_s == "elastic" {
                PlanKind::ElasticPremium
            } else if sn.starts_with('I') || tl.starts_with("isolated") {
                PlanKind::Isolated
            } else {
                PlanKind::Dedicated
            };
            self.register(T_PLAN, r, self.sc.plans.len());
            self.sc.plans.push(Plan { name: r.name.clone(), sku_name, tier, kind, linux, origin: origin(r) });
        }
        Ok(())
    }

    /// Sites, then deployment slots (`sites/slots`, fact sheet 13.5), which
    /// are sites named `<site>/<slot>` with their own integration, Route All
    /// and settings: a slot inherits none of them from the production site
    /// (README, "Behaviour choices"), only its plan when it names none.
    pub(super) fn sites(&mut self) -> Result<(), LoadError> {
        let all: Vec<_> = self.of(T_SITE).chain(self.of(T_SLOT)).collect();
        // By full id: a slot's production site, a child's site and a private
        // endpoint's target are the ones their ids name. `all[i]` becomes
        // `sc.sites[i]`.
        let mut by_id: Refs<usize> = Refs::in_group(&self.opts.resource_group);
        for (i, r) in all.iter().enumerate() {
            by_id.insert(&ty(r), &r.name, &r.id, i);
        }
        let mut pe_site = Vec::new();
        for pe in &self.sc.private_endpoints {
            let site = match (&pe.target, &pe.target_id) {
                (Some((t, n)), Some(id)) if t.eq_ignore_ascii_case(T_SITE) => {
                    let err = |m: String| LoadError::new(&pe.origin.file, &pe.origin.path, format!("privateLinkServiceId: {m}"));
                    self.follow(by_id.find_outside(T_SITE, n, id), err)?
                }
                _ => None,
            };
            pe_site.push(site);
        }
        for (i, r) in all.iter().copied().enumerate() {
            let is_slot = ty(r) == T_SLOT;
            // A slot's production site, where its plan and its private
            // endpoints are looked up: one lookup, so one warning for both.
            let prod_err = |m: String| LoadError::new(&r.file, &r.path, format!("production site of slot '{}': {m}", r.name));
            let production = || by_id.find(T_SITE, parent(&r.name), parent_id(&r.id));
            let at = Self::at(r);
            let kind_s = at.opt_str("kind")?.unwrap_or("app").to_string();
            let mut site = Site {
                name: r.name.clone(),
                kind: kind_s,
                plan: None,
                integration: None,
                route_all: RouteAll { on: false, decided_by: "default (off)".into() },
                outbound_ips: Vec::new(),
                outbound_ips_synthetic: false,
                app_settings: BTreeMap::new(),
                access: SiteAccess::default(),
                location: at.opt_str("location")?.unwrap_or("").to_string(),
                subscription: id_segment(&r.id, "subscriptions"),
                resource_group: id_segment(&r.id, "resourceGroups"),
                origin: origin(r),
            };
            let mut public: Option<(bool, String)> = None;
            // The candidates for Route All, in FORMAT.md's order of precedence.
            let mut ovr: Option<(bool, String)> = None;
            let mut prop: Option<bool> = None;
            let mut site_config: Option<bool> = None;
            // Why the site has no plan, for the warning when it has none.
            let mut no_plan = if is_slot {
                format!("it names no serverFarmId and its site '{}' has no plan in the input", parent(&r.name))
            } else {
                "it has no properties.serverFarmId".to_string()
            };
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                site.plan = match p.opt_str("serverFarmId")? {
                    Some(id) => match parse_id(id) {
                        Some((t, n)) if t.eq_ignore_ascii_case(T_PLAN) => {
                            no_plan = format!("its serverFarmId names plan '{n}', which is not in the input");
                            let err = |m: String| p.err(format!("serverFarmId: {m}"));
                            self.follow(self.index.find(T_PLAN, &n, id), err)?
                        }
                        _ => return Err(p.err(format!("serverFarmId '{id}' is not an App Service plan id"))),
                    },
                    None if is_slot => {
                        let prod = self.follow(production(), prod_err)?;
                        prod.and_then(|s| self.sc.sites.get(s)).and_then(|s| s.plan)
                    }
                    None => None,
                };
                if let Some(id) = p.opt_str("virtualNetworkSubnetId")? {
                    site.integration = Some((self.subnet_ref(&p, "virtualNetworkSubnetId", id)?, "properties.virtualNetworkSubnetId".into()));
                }
                if let Some(o) = p.raw("outboundVnetRouting") {
                    let o = At::root(o, p.file, "outboundVnetRouting");
                    let all = o.opt_bool("allTraffic")?;
                    let app = o.opt_bool("applicationTraffic")?;
                    if all.is_some() || app.is_some() {
                        let on = all == Some(true) || app == Some(true);
                        let by = if all == Some(true) { "outboundVnetRouting.allTraffic" } else { "outboundVnetRouting.applicationTraffic" };
                        ovr = Some((on, by.into()));
                    }
                }
                prop = p.opt_bool("vnetRouteAllEnabled")?;
                if let Some(v) = public_access(&p)? {
                    public = Some((v, "properties.publicNetworkAccess".into()));
                }
                // A placeholder (from a module's output) states nothing.
                if let Some(s) = p.opt_str("outboundIpAddresses")?.filter(|s| placeholder(s).is_none()) {
                    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                        site.outbound_ips.push(part.parse().map_err(|_| p.err(format!("outboundIpAddresses: '{part}' is not an IPv4 address")))?);
                    }
                }
                p.with("siteConfig", |sc| -> Result<(), LoadError> {
                    site_config = sc.opt_bool("vnetRouteAllEnabled")?;
                    read_access(self, &sc, &mut site.access)?;
                    if let (None, Some(v)) = (&public, public_access(&sc)?) {
                        public = Some((v, "properties.siteConfig.publicNetworkAccess".into()));
                    }
                    sc.each("appSettings", |kv| {
                        let v = match kv.raw("value") {
                            Some(Value::String(s)) => s.clone(),
                            Some(other) => other.to_string(),
                            None => String::new(),
                        };
                        site.app_settings.insert(kv.str("name")?.to_string(), v);
                        Ok(())
                    })
                })
                .transpose()?;
                Ok(())
            }) {
                res?;
            }
            // Child resources: sites/config (web, appsettings), sites/networkConfig.
            // Only these types: another resource may share the parent's name
            // (a separate subnet `app/s1` of a VNet named `app`).
            let is_child = |c: &crate::arm::resource::Resource| matches!(ty(c).as_str(), T_SITE_CONFIG | T_SLOT_CONFIG | T_SITE_NETCFG | T_SLOT_NETCFG);
            for c in self.res.iter().filter(|c| is_child(c) && parent(&c.name).eq_ignore_ascii_case(&r.name)) {
                let err = |m: String| LoadError::new(&c.file, &c.path, format!("{} '{}': {m}", c.rtype, c.name));
                let owner = self.follow(by_id.find(&ty(r), &r.name, parent_id(&c.id)), err)?;
                if owner != Some(i) {
                    continue;
                }
                let cat = Self::at(c);
                match (ty(c).as_str(), leaf(&c.name).to_ascii_lowercase().as_str()) {
                    (T_SITE_CONFIG | T_SLOT_CONFIG, "web") => {
                        if let Some(v) = cat.with("properties", |p| p.opt_bool("vnetRouteAllEnabled")).transpose()?.flatten() {
                            site_config = Some(v);
                        }
                        cat.with("properties", |p| read_access(self, &p, &mut site.access)).transpose()?;
                    }
                    (T_SITE_CONFIG | T_SLOT_CONFIG, "appsettings") => {
                        if let Some(Value::Object(m)) = cat.raw("properties") {
                            for (k, v) in m {
                                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                                site.app_settings.insert(k.clone(), v);
                            }
                        }
                    }
                    (T_SITE_NETCFG | T_SLOT_NETCFG, _) => {
                        if let Some(res) = cat.with("properties", |p| -> Result<(), LoadError> {
                            if let Some(id) = p.opt_str("subnetResourceId")? {
                                site.integration = Some((self.subnet_ref(&p, "subnetResourceId", id)?, "sites/networkConfig".into()));
                            }
                            Ok(())
                        }) {
                            res?;
                        }
                    }
                    _ => {}
                }
            }
            let setting = site
                .app_settings
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("WEBSITE_VNET_ROUTE_ALL"))
                .map(|(_, v)| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"));
            site.route_all = if let Some((on, by)) = ovr {
                RouteAll { on, decided_by: by }
            } else if let Some(on) = prop {
                RouteAll { on, decided_by: "properties.vnetRouteAllEnabled".into() }
            } else if let Some(on) = site_config {
                RouteAll { on, decided_by: "siteConfig.vnetRouteAllEnabled".into() }
            } else if let Some(on) = setting {
                RouteAll { on, decided_by: "app setting WEBSITE_VNET_ROUTE_ALL".into() }
            } else {
                RouteAll { on: false, decided_by: "default (off)".into() }
            };
            // Unset publicNetworkAccess: enabled unless a private endpoint
            // reaches the site (sub-resource `sites`) or the slot (`sites-<slot>`).
            let (open, by) = public.unwrap_or_else(|| {
                let (target, slot) =
                    if is_slot { (self.take(production().ok().flatten(), prod_err), Some(leaf(&r.name).to_ascii_lowercase())) } else { (Some(i), None) };
                let pe = self.sc.private_endpoints.iter().zip(&pe_site).find(|(pe, site)| {
                    target.is_some()
                        && **site == target
                        && match &slot {
                            Some(sl) => pe.group_ids.iter().any(|g| slot_of_group(g).as_ref() == Some(sl)),
                            None => pe.group_ids.is_empty() || pe.group_ids.iter().any(|g| g.eq_ignore_ascii_case("sites")),
                        }
                });
                match pe {
                    Some((pe, _)) => (false, format!("publicNetworkAccess unset and private endpoint '{}' reaches the site", pe.name)),
                    None => (true, "publicNetworkAccess unset (enabled: no private endpoint reaches the site)".into()),
                }
            });
            site.access.public_network_access = open;
            site.access.public_decided_by = by;
            if !self.opts.outbound_ips.is_empty() {
                site.outbound_ips = self.opts.outbound_ips.clone();
            } else if site.outbound_ips.is_empty() {
                let a = self.deploy.get_mut().public(Pool::Outbound).ok_or_else(|| {
                    LoadError::new(&r.file, &r.path, format!("site '{}': no synthetic outbound address is left; give them with --outbound-ips", r.name))
                })?;
                site.outbound_ips.push(a);
                site.outbound_ips_synthetic = true;
                self.sc.warnings.push(Warning::placeholder(
                    a,
                    format!("site '{}' has no outboundIpAddresses in the input (Azure assigns them); using {a}. Give them with --outbound-ips", r.name),
                ));
            }
            if site.plan.is_none() {
                // What `policy::select_sender` and `lint` do with a site
                // whose plan kind is unknown; `Stake::Plan` says when it matters.
                self.sc.warnings.push(Warning::plan(
                    &r.name,
                    format!(
                        "site '{}' has no App Service plan in the input ({no_plan}): assumed a plan with regional virtual network integration other than Flex Consumption, so Route All decides which traffic enters the virtual network (on Flex Consumption all of it would) and lint expects delegation to Microsoft.Web/serverFarms. Give the plan's template with -t",
                        r.name
                    ),
                ));
            }
            self.sc.sites.push(site);
        }
        Ok(())
    }
}

/// `publicNetworkAccess`: `Enabled` (true), `Disabled` (false), or unset.
fn public_access(p: &At<'_>) -> Result<Option<bool>, LoadError> {
    match p.opt_str("publicNetworkAccess")? {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("Enabled") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("Disabled") => Ok(Some(false)),
        Some(v) => Err(LoadError::new(p.file, format!("{}.publicNetworkAccess", p.path()), format!("'{v}' is not Enabled or Disabled"))),
    }
}

/// The access restriction settings of a `siteConfig` (or of a `sites/config`
/// `web` child's properties); a later source overrides what it states.
fn read_access(b: &Builder<'_>, sc: &At<'_>, acc: &mut SiteAccess) -> Result<(), LoadError> {
    if sc.has("ipSecurityRestrictions") {
        acc.main = read_rules(b, sc, "ipSecurityRestrictions")?;
    }
    if sc.has("scmIpSecurityRestrictions") {
        acc.scm = read_rules(b, sc, "scmIpSecurityRestrictions")?;
    }
    for (key, list) in [("ipSecurityRestrictionsDefaultAction", &mut acc.main), ("scmIpSecurityRestrictionsDefaultAction", &mut acc.scm)] {
        if let Some(v) = sc.opt_str(key)? {
            let action = parse_action(v).ok_or_else(|| LoadError::new(sc.file, format!("{}.{key}", sc.path()), format!("'{v}' is not Allow or Deny")))?;
            // The explicit setting wins over an exported pseudo-rule.
            list.default_action = Some((action, format!("siteConfig.{key}")));
        }
    }
    if let Some(v) = sc.opt_bool("scmIpSecurityRestrictionsUseMain")? {
        acc.scm_use_main = v;
    }
    Ok(())
}

fn parse_action(v: &str) -> Option<Access> {
    if v.eq_ignore_ascii_case("Allow") {
        Some(Access::Allow)
    } else if v.eq_ignore_ascii_case("Deny") {
        Some(Access::Deny)
    } else {
        None
    }
}

/// Header names Azure evaluates in a restriction rule.
const ACCESS_HEADERS: [&str; 4] = ["x-forwarded-for", "x-forwarded-host", "x-azure-fdid", "x-fd-healthprobe"];

/// Priority of the exported default-action pseudo-rule.
const PSEUDO_PRIORITY: u64 = 2_147_483_647;

fn read_rules(b: &Builder<'_>, sc: &At<'_>, key: &str) -> Result<AccessRules, LoadError> {
    let mut out = AccessRules::default();
    let mut index = 0usize;
    sc.each(key, |r| {
        index += 1;
        let name = r.opt_str("name")?.map(str::to_string).unwrap_or_else(|| format!("{key}[{}]", index - 1));
        // Azure's API takes a missing action as Allow.
        let action = match r.opt_str("action")? {
            Some(a) => parse_action(a).ok_or_else(|| LoadError::new(r.file, format!("{}.action", r.path()), format!("'{a}' is not Allow or Deny")))?,
            None => Access::Allow,
        };
        let priority = r.opt_u64("priority")?.ok_or_else(|| r.err(format!("access restriction '{name}': missing priority")))?;
        if priority > PSEUDO_PRIORITY {
            return Err(LoadError::new(r.file, format!("{}.priority", r.path()), format!("{priority} is above {PSEUDO_PRIORITY}")));
        }
        let ip = r.opt_str("ipAddress")?;
        let subnet = r.opt_str("vnetSubnetResourceId")?;
        let mut headers = Vec::new();
        if let Some(serde_json::Value::Object(m)) = r.raw("headers") {
            for (h, vals) in m {
                let at = format!("{}.headers.{h}", r.path());
                let lower = h.to_ascii_lowercase();
                if !ACCESS_HEADERS.contains(&lower.as_str()) {
                    return Err(LoadError::new(r.file, at, format!("header '{h}' is not one of {}", ACCESS_HEADERS.join(", "))));
                }
                let list = vals.as_array().ok_or_else(|| LoadError::new(r.file, &at, "expected an array of strings"))?;
                let vals: Vec<String> = list
                    .iter()
                    .map(|v| v.as_str().map(str::to_string).ok_or_else(|| LoadError::new(r.file, &at, "expected an array of strings")))
                    .collect::<Result<_, _>>()?;
                if !vals.is_empty() {
                    headers.push((lower, vals));
                }
            }
        }
        // The exported pseudo-rule stands for the default action.
        if priority == PSEUDO_PRIORITY && ip.is_some_and(|i| i.trim().eq_ignore_ascii_case("Any")) && subnet.is_none() && headers.is_empty() {
            if out.default_action.is_none() {
                out.default_action = Some((action, format!("exported rule '{name}': ipAddress Any, priority {PSEUDO_PRIORITY}")));
            }
            return Ok(());
        }
        let source = match (ip, subnet) {
            (Some(_), Some(_)) => return Err(r.err(format!("access restriction '{name}' has both ipAddress and vnetSubnetResourceId"))),
            (None, None) => return Err(r.err(format!("access restriction '{name}' has neither ipAddress nor vnetSubnetResourceId"))),
            (None, Some(s)) => AccessSource::Subnet(s.to_string()),
            (Some(ip), None) => {
                let tagged = r.opt_str("tag")?.is_some_and(|t| t.eq_ignore_ascii_case("ServiceTag"));
                AccessSource::Addresses(parse_sources(b, ip, tagged, &r)?)
            }
        };
        out.rules.push(AccessRule {
            name,
            priority: priority as u32,
            action,
            source,
            headers,
            origin: crate::model::Origin { file: r.file.to_string(), path: r.path() },
        });
        Ok(())
    })?;
    Ok(out)
}

/// `ipAddress`: up to 8 comma-separated prefixes (or tags with `tag: ServiceTag`).
fn parse_sources(b: &Builder<'_>, ip: &str, tagged: bool, r: &At<'_>) -> Result<Vec<AddrItem>, LoadError> {
    let path = format!("{}.ipAddress", r.path());
    let parts: Vec<&str> = ip.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if parts.is_empty() || parts.len() > 8 {
        return Err(LoadError::new(r.file, path, format!("'{ip}': expected 1 to 8 comma-separated sources")));
    }
    let mut out = Vec::new();
    for p in parts {
        if let Some(net) = b.deploy_prefix(r.file, &path, p, Need::ByName)? {
            out.push(AddrItem::Prefix(net));
        } else if tagged {
            out.push(AddrItem::Tag(p.to_string()));
        } else if p.eq_ignore_ascii_case("Any") {
            out.push(AddrItem::Any);
        } else if !p.contains(':') {
            out.push(AddrItem::Prefix(parse_prefix(p).map_err(|m| LoadError::new(r.file, &path, m))?.trunc()));
        }
        // IPv6 prefixes: left out, no IPv4 client matches them.
    }
    Ok(out)
}
