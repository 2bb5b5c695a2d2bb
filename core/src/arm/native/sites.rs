//! `[[site]]` tables: the App Service plans they imply, then the sites
//! with their integration subnet, Route All, app settings and inbound
//! access restrictions.

use super::builder::Builder;
use super::schema::{AccessRestriction, Name, OneOrMany, Site};
use crate::error::LoadError;
use serde_json::{json, Map, Value};

/// `EP1` → `ElasticPremium`, `P1v3` → `PremiumV3`, ...
fn plan_tier(sku: &str) -> Option<&'static str> {
    let s = sku.to_ascii_uppercase();
    let tier = if s.starts_with("EP") {
        "ElasticPremium"
    } else if s == "FC1" {
        "FlexConsumption"
    } else if s == "Y1" {
        "Dynamic"
    } else if s.starts_with('P') && s.ends_with("MV3") {
        "PremiumMV3"
    } else if s.starts_with('P') && s.ends_with("V2") {
        "PremiumV2"
    } else if s.starts_with('P') && s.ends_with("V3") {
        "PremiumV3"
    } else if s.starts_with('P') && s.ends_with("V4") {
        "PremiumV4"
    } else if s.starts_with('P') && s.len() == 2 {
        "Premium"
    } else if s.starts_with('S') && s.len() == 2 {
        "Standard"
    } else if s.starts_with('B') && s.len() == 2 {
        "Basic"
    } else if s.starts_with('I') && s.ends_with("V2") {
        "IsolatedV2"
    } else if s.starts_with('I') && s.len() == 2 {
        "Isolated"
    } else if s == "F1" {
        "Free"
    } else if s == "D1" {
        "Shared"
    } else {
        return None;
    };
    Some(tier)
}

fn toml_to_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn emit_sites(b: &mut Builder<'_>, sites: &[Site], loc: &str) -> Result<(), LoadError> {
    // Plans first: sites may share one (same plan_name), with one SKU.
    let mut plans: Vec<(String, String, bool, &Name)> = Vec::new();
    for s in sites {
        let plan_name = s.plan_name.as_ref().map(|p| p.get_ref().clone()).unwrap_or_else(|| format!("plan-{}", s.name.get_ref()));
        let linux = match &s.os {
            Some(os) => b.one_of(os, "os", &["linux", "windows"])? == "linux",
            None => true,
        };
        if plan_tier(s.plan.get_ref()).is_none() {
            return Err(b.err(&s.plan, format!("unknown plan SKU '{}' (expected e.g. EP1, FC1, Y1, P1v3, S1, B1, I1v2)", s.plan.get_ref())));
        }
        match plans.iter().find(|p| p.0.eq_ignore_ascii_case(&plan_name)) {
            Some(p) if !p.1.eq_ignore_ascii_case(s.plan.get_ref()) || p.2 != linux => {
                return Err(b.err(&s.plan, format!("plan '{plan_name}' is used with different SKUs or operating systems")));
            }
            Some(_) => {}
            None => plans.push((plan_name, s.plan.get_ref().clone(), linux, &s.plan)),
        }
    }
    for (name, sku, linux, at) in &plans {
        let tier = plan_tier(sku).unwrap_or("Standard");
        let kind = match tier {
            "ElasticPremium" => "elastic",
            "Dynamic" | "FlexConsumption" => "functionapp",
            _ if *linux => "linux",
            _ => "app",
        };
        b.emit(
            "Microsoft.Web/serverfarms",
            name,
            at,
            json!({"location": loc, "sku": {"name": sku, "tier": tier}, "kind": kind, "properties": {"reserved": linux}}),
        )?;
    }
    for s in sites {
        let plan_name = s.plan_name.as_ref().map(|p| p.get_ref().clone()).unwrap_or_else(|| format!("plan-{}", s.name.get_ref()));
        let linux = s.os.as_ref().is_none_or(|o| o.get_ref().eq_ignore_ascii_case("linux"));
        let tier = plan_tier(s.plan.get_ref()).unwrap_or("Standard");
        let is_func = matches!(tier, "ElasticPremium" | "Dynamic" | "FlexConsumption");
        let kind = s.kind.clone().unwrap_or_else(|| {
            let base = if is_func { "functionapp" } else { "app" };
            if linux {
                format!("{base},linux")
            } else {
                base.to_string()
            }
        });
        let mut p = Map::new();
        p.insert("serverFarmId".into(), json!(b.id("Microsoft.Web/serverfarms", &plan_name, &s.plan)?));
        p.insert("reserved".into(), json!(linux));
        if let Some(sub) = &s.subnet {
            p.insert("virtualNetworkSubnetId".into(), json!(b.id("Microsoft.Network/virtualNetworks/subnets", sub.get_ref(), sub)?));
        }
        if let Some(r) = s.route_all {
            p.insert("vnetRouteAllEnabled".into(), json!(r));
        }
        if let Some(x) = s.content_over_vnet {
            p.insert("vnetContentShareEnabled".into(), json!(x));
        }
        if let Some(x) = s.image_pull_over_vnet {
            p.insert("vnetImagePullEnabled".into(), json!(x));
        }
        if !s.outbound_ips.is_empty() {
            p.insert("outboundIpAddresses".into(), json!(s.outbound_ips.join(",")));
        }
        let possible = if s.possible_outbound_ips.is_empty() { &s.outbound_ips } else { &s.possible_outbound_ips };
        if !possible.is_empty() {
            p.insert("possibleOutboundIpAddresses".into(), json!(possible.join(",")));
        }
        let settings: Vec<Value> = s.app_settings.iter().map(|(k, v)| json!({"name": k, "value": toml_to_string(v)})).collect();
        let mut site_config = Map::new();
        site_config.insert("appSettings".into(), json!(settings));
        access(b, s, &mut p, &mut site_config)?;
        p.insert("siteConfig".into(), Value::Object(site_config));
        b.emit("Microsoft.Web/sites", s.name.get_ref(), &s.name, json!({"location": loc, "kind": kind, "properties": p}))?;
    }
    Ok(())
}

fn many(v: &OneOrMany) -> Vec<String> {
    match v {
        OneOrMany::One(s) => vec![s.clone()],
        OneOrMany::Many(v) => v.clone(),
    }
}

/// The site's access keys as `publicNetworkAccess` and `siteConfig` properties.
fn access(b: &Builder<'_>, s: &Site, p: &mut Map<String, Value>, sc: &mut Map<String, Value>) -> Result<(), LoadError> {
    if let Some(v) = &s.public_network_access {
        p.insert("publicNetworkAccess".into(), json!(b.one_of(v, "public_network_access", &["Enabled", "Disabled"])?));
    }
    for (key, v) in
        [("ipSecurityRestrictionsDefaultAction", &s.access_default_action), ("scmIpSecurityRestrictionsDefaultAction", &s.scm_access_default_action)]
    {
        if let Some(v) = v {
            sc.insert(key.into(), json!(b.one_of(v, "default action", &["Allow", "Deny"])?));
        }
    }
    if let Some(v) = s.scm_use_main {
        sc.insert("scmIpSecurityRestrictionsUseMain".into(), json!(v));
    }
    for (key, list) in [("ipSecurityRestrictions", &s.access_restriction), ("scmIpSecurityRestrictions", &s.scm_access_restriction)] {
        if !list.is_empty() {
            sc.insert(key.into(), Value::Array(list.iter().map(|r| restriction(b, r)).collect::<Result<_, _>>()?));
        }
    }
    Ok(())
}

fn restriction(b: &Builder<'_>, r: &AccessRestriction) -> Result<Value, LoadError> {
    let mut o = Map::new();
    o.insert("name".into(), json!(r.name.get_ref()));
    o.insert("priority".into(), json!(r.priority));
    o.insert("action".into(), json!(b.one_of(&r.action, "action", &["Allow", "Deny"])?));
    match (&r.source, &r.service_tag, &r.subnet) {
        (Some(src), None, None) => {
            o.insert("ipAddress".into(), json!(many(src).join(",")));
        }
        (None, Some(tags), None) => {
            o.insert("ipAddress".into(), json!(many(tags).join(",")));
            o.insert("tag".into(), json!("ServiceTag"));
        }
        (None, None, Some(sub)) => {
            o.insert("vnetSubnetResourceId".into(), json!(b.id("Microsoft.Network/virtualNetworks/subnets", sub.get_ref(), sub)?));
        }
        _ => return Err(b.err(&r.name, format!("access restriction '{}': give exactly one of source, service_tag, subnet", r.name.get_ref()))),
    }
    if !r.headers.is_empty() {
        o.insert("headers".into(), json!(r.headers.iter().map(|(k, v)| (k.clone(), json!(many(v)))).collect::<Map<_, _>>()));
    }
    Ok(Value::Object(o))
}
