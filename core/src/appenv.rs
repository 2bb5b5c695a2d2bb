//! The environment App Service gives an app's processes (fact sheet 13.1),
//! which `vnetlab run` gives CMD. This is the one place that computes the
//! list; the shell only applies it. `SiteFacts` is what the scenario says
//! about the sending site (kept by `Policy` when it compiles for a site),
//! and `app_environment` turns it into variables:
//!
//! | variable | value, and where it comes from |
//! |---|---|
//! | `WEBSITE_PRIVATE_IP` | the instance's address (`Policy::instance_ip`: the integration subnet's first assignable address) |
//! | `WEBSITE_SITE_NAME` | the site's name |
//! | `WEBSITE_HOSTNAME` | `<site>.azurewebsites.net`, lower case |
//! | `WEBSITE_RESOURCE_GROUP` | the resource group in the site's resource id: for a template, the deployment's (`rg-vnetlab` unless a nested deployment names one); `rg-vnetlab` when the id has none |
//! | `WEBSITE_OWNER_NAME` | `<subscription>+<resource group>-<location>webspace`, `-Linux` appended on a Linux plan (App Service's shape; it writes the region's display name where vnetlab writes the location); subscription `00000000-0000-0000-0000-000000000000` when unknown |
//! | `REGION_NAME` | the site's `location` as the input gives it (`westeurope`; App Service writes the display name, `West Europe`), else its VNet's, else `westeurope` |
//! | `WEBSITE_SKU` | the plan's `sku.tier` (`ElasticPremium`, `PremiumV3`, ...), else its `sku.name`; absent without a plan |
//! | `WEBSITE_INSTANCE_ID` | 64 hex digits, a hash of the site's name and the instance address: the same on every run |
//! | `WEBSITE_VNET_ROUTE_ALL` | `1` or `0` from the Route All decision, unless an app setting gives it (on Azure it exists only as an app setting; vnetlab always sets it so the app can tell) |
//! | each app setting | as it is (`siteConfig.appSettings`, `sites/config` `appsettings`) |
//! | `APPSETTING_<name>` | a copy of each app setting, as .NET sees them |
//!
//! An app setting never replaces a platform variable (they are read-only
//! on App Service), except `WEBSITE_VNET_ROUTE_ALL`, which is one. A NIC
//! sender (`--subnet`) gets `WEBSITE_PRIVATE_IP` only.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::arm::DeployContext;
use crate::model::{Scenario, Site};

/// What the scenario says about the sending site, for its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFacts {
    pub name: String,
    /// The site's location, else its VNet's, else the deployment default.
    pub location: String,
    pub subscription: String,
    pub resource_group: String,
    /// The plan's SKU tier (else its SKU name); None without a plan.
    pub sku: Option<String>,
    pub linux: bool,
    pub app_settings: BTreeMap<String, String>,
}

impl SiteFacts {
    /// The facts of `site`, with the documented placeholders for what the
    /// input does not say.
    pub fn of(sc: &Scenario, site: &Site) -> SiteFacts {
        let defaults = DeployContext::default();
        let plan = site.plan.and_then(|p| sc.plans.get(p));
        let vnet_location = site.integration.as_ref().and_then(|((v, _), _)| sc.vnets.get(*v)).map(|v| v.location.as_str()).filter(|l| !l.is_empty());
        let location = Some(site.location.as_str()).filter(|l| !l.is_empty()).or(vnet_location).unwrap_or(&defaults.location);
        SiteFacts {
            name: site.name.clone(),
            location: location.to_string(),
            subscription: site.subscription.clone().unwrap_or(defaults.subscription_id),
            resource_group: site.resource_group.clone().unwrap_or(defaults.resource_group),
            sku: plan.map(|p| if p.tier.is_empty() { p.sku_name.clone() } else { p.tier.clone() }).filter(|s| !s.is_empty()),
            linux: plan.is_some_and(|p| p.linux) || site.kind.to_ascii_lowercase().contains("linux"),
            app_settings: site.app_settings.clone(),
        }
    }
}

/// The variables, in a fixed order: platform variables, then app settings
/// (by name), then their `APPSETTING_` copies. See the module comment.
pub fn app_environment(site: Option<&SiteFacts>, instance_ip: Ipv4Addr, route_all: bool) -> Vec<(String, String)> {
    let mut env = vec![("WEBSITE_PRIVATE_IP".to_string(), instance_ip.to_string())];
    let Some(s) = site else { return env };
    let mut push = |k: &str, v: String| env.push((k.to_string(), v));
    push("WEBSITE_SITE_NAME", s.name.clone());
    // A slot `app/slot` answers at `app-slot.azurewebsites.net` (fact sheet 13.5).
    push("WEBSITE_HOSTNAME", format!("{}.azurewebsites.net", s.name.replace('/', "-").to_ascii_lowercase()));
    push("WEBSITE_RESOURCE_GROUP", s.resource_group.clone());
    let linux = if s.linux { "-Linux" } else { "" };
    push("WEBSITE_OWNER_NAME", format!("{}+{}-{}webspace{linux}", s.subscription, s.resource_group, s.location));
    push("REGION_NAME", s.location.clone());
    if let Some(sku) = &s.sku {
        push("WEBSITE_SKU", sku.clone());
    }
    push("WEBSITE_INSTANCE_ID", instance_id(&s.name, instance_ip));
    let route_all_setting = s.app_settings.keys().any(|k| k.eq_ignore_ascii_case("WEBSITE_VNET_ROUTE_ALL"));
    if !route_all_setting {
        push("WEBSITE_VNET_ROUTE_ALL", if route_all { "1" } else { "0" }.into());
    }
    let platform: Vec<String> = env.iter().map(|(k, _)| k.to_ascii_uppercase()).collect();
    let settings: Vec<(&String, &String)> = s.app_settings.iter().filter(|(k, _)| !platform.contains(&k.to_ascii_uppercase())).collect();
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env.extend(settings.iter().map(|(k, v)| (format!("APPSETTING_{k}"), v.to_string())));
    env
}

/// A stable 64-hex-digit id (the shape of App Service's instance ids) from
/// the site's name and the instance's address: FNV-1a, stretched with
/// SplitMix64.
fn instance_id(site: &str, ip: Ipv4Addr) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in site.to_ascii_lowercase().bytes().chain(ip.octets()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut rng = crate::datapath::nat::SplitMix64(h);
    (0..4).map(|_| format!("{:016x}", rng.next_u64())).collect()
}
