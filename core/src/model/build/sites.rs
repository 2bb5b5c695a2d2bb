//! App Service plans and sites: integration subnet, app settings, outbound
//! addresses and which setting decides Route All.

use super::builder::{key, leaf, origin, parent, parse_id, ty, Builder, T_PLAN, T_SITE, T_SITE_CONFIG, T_SITE_NETCFG};
use crate::error::LoadError;
use crate::model::json::At;
use crate::model::scenario::{Plan, PlanKind, RouteAll, Site};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

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
            self.index.insert(key(T_PLAN, &r.name), self.sc.plans.len());
            self.sc.plans.push(Plan { name: r.name.clone(), sku_name, tier, kind, linux, origin: origin(r) });
        }
        Ok(())
    }

    pub(super) fn sites(&mut self) -> Result<(), LoadError> {
        let mut synthetic = 0u8;
        for r in self.of(T_SITE) {
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
                location: at.opt_str("location")?.unwrap_or("").to_string(),
                subscription: id_segment(&r.id, "subscriptions"),
                resource_group: id_segment(&r.id, "resourceGroups"),
                origin: origin(r),
            };
            // The candidates for Route All, in FORMAT.md's order of precedence.
            let mut ovr: Option<(bool, String)> = None;
            let mut prop: Option<bool> = None;
            let mut site_config: Option<bool> = None;
            if let Some(res) = at.with("properties", |p| -> Result<(), LoadError> {
                site.plan = match p.opt_str("serverFarmId")? {
                    Some(id) => match parse_id(id) {
                        Some((t, n)) if t.eq_ignore_ascii_case(T_PLAN) => self.index.get(&key(T_PLAN, &n)).copied(),
                        _ => return Err(p.err(format!("serverFarmId '{id}' is not an App Service plan id"))),
                    },
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
                if let Some(s) = p.opt_str("outboundIpAddresses")? {
                    for part in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                        site.outbound_ips.push(part.parse().map_err(|_| p.err(format!("outboundIpAddresses: '{part}' is not an IPv4 address")))?);
                    }
                }
                p.with("siteConfig", |sc| -> Result<(), LoadError> {
                    site_config = sc.opt_bool("vnetRouteAllEnabled")?;
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
            for c in self.res.iter().filter(|c| parent(&c.name).eq_ignore_ascii_case(&r.name)) {
                let cat = Self::at(c);
                match (ty(c).as_str(), leaf(&c.name).to_ascii_lowercase().as_str()) {
                    (T_SITE_CONFIG, "web") => {
                        if let Some(v) = cat.with("properties", |p| p.opt_bool("vnetRouteAllEnabled")).transpose()?.flatten() {
                            site_config = Some(v);
                        }
                    }
                    (T_SITE_CONFIG, "appsettings") => {
                        if let Some(Value::Object(m)) = cat.raw("properties") {
                            for (k, v) in m {
                                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                                site.app_settings.insert(k.clone(), v);
                            }
                        }
                    }
                    (T_SITE_NETCFG, _) => {
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
            if !self.opts.outbound_ips.is_empty() {
                site.outbound_ips = self.opts.outbound_ips.clone();
            } else if site.outbound_ips.is_empty() {
                synthetic = synthetic.saturating_add(1);
                let a = Ipv4Addr::new(198, 18, 255, synthetic);
                site.outbound_ips.push(a);
                site.outbound_ips_synthetic = true;
                self.sc
                    .warnings
                    .push(format!("site '{}' has no outboundIpAddresses in the input (Azure assigns them); using {a}. Give them with --outbound-ips", r.name));
            }
            self.sc.sites.push(site);
        }
        Ok(())
    }
}

/// The value after `key` in a resource id (`/subscriptions/S/resourceGroups/G/...`).
fn id_segment(id: &str, key: &str) -> Option<String> {
    let mut segs = id.split('/');
    segs.by_ref().find(|s| s.eq_ignore_ascii_case(key))?;
    segs.next().filter(|s| !s.is_empty()).map(str::to_string)
}
