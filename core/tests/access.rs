//! Inbound access restrictions (fact sheet 13.2), loaded from templates and
//! evaluated: priority order, list order at equal priority, implicit deny,
//! explicit default action, the exported "Allow all" pseudo-rule,
//! comma-separated sources, service tags, the scm list and UseMain, header
//! rules, service-endpoint rules and `publicNetworkAccess`.

use serde_json::{json, Value};
use std::net::Ipv4Addr;
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::error::Error;
use vnetlab_core::policy::access::{AccessBy, AccessPolicy};
use vnetlab_core::policy::tags::ServiceTags;
use vnetlab_core::policy::{Policy, PolicyOptions};

/// An integrated site `app` with `site_config` as its siteConfig, plus `extra` resources.
fn template(site_config: Value, site_props: Value, extra: Vec<Value>) -> Value {
    let mut props = json!({
        "serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
        "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'integration')]",
        "outboundIpAddresses": "198.51.100.10",
        "siteConfig": site_config
    });
    if let (Some(p), Some(more)) = (props.as_object_mut(), site_props.as_object()) {
        for (k, v) in more {
            p.insert(k.clone(), v.clone());
        }
    }
    let mut resources = vec![
        json!({"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [
                {"name": "integration", "properties": {"addressPrefix": "10.0.2.0/24"}},
                {"name": "pe", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}),
        json!({"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3", "tier": "PremiumV3"}}),
        json!({"type": "Microsoft.Web/sites", "name": "app", "kind": "app", "properties": props}),
    ];
    resources.extend(extra);
    json!({ "resources": resources })
}

fn rule(name: &str, priority: u64, action: &str, ip: &str) -> Value {
    json!({"name": name, "priority": priority, "action": action, "ipAddress": ip})
}

fn compile(t: &Value, tags: ServiceTags) -> Result<AccessPolicy, Error> {
    let res = expand_template(t, "test.json", &ParamValues::default(), &DeployContext::default())?;
    let sc = vnetlab_core::model::build(&res)?;
    let p = Policy::compile(&sc, &PolicyOptions { service_tags: tags, ..Default::default() })?;
    AccessPolicy::for_site(&sc, Some("app"), &p.tags)
}

fn access(site_config: Value) -> AccessPolicy {
    compile(&template(site_config, json!({}), vec![]), ServiceTags::default()).unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// (allowed, deciding rule name or the text of the decision).
fn judge(a: &AccessPolicy, client: &str, scm: bool) -> (bool, String) {
    let d = a.decide(ip(client), scm, &[]);
    let by = match &d.by {
        AccessBy::Rule { name, .. } => name.clone(),
        _ => d.to_string(),
    };
    (d.allowed, by)
}

#[test]
fn no_rules_allow_everyone() {
    let a = access(json!({}));
    let d = a.decide(ip("198.51.100.9"), false, &[]);
    assert!(d.allowed);
    assert_eq!(d.by, AccessBy::NoRules);
    assert_eq!(d.to_string(), "no access restrictions: allows 198.51.100.9");
}

#[test]
fn lowest_priority_first_then_implicit_deny() {
    // Declared out of order: the Deny at 100 comes before the Allow at 200.
    let a = access(json!({"ipSecurityRestrictions": [
        rule("AllowNet", 200, "Allow", "198.51.100.0/24"),
        rule("DenyBadGuys", 100, "Deny", "198.51.100.9/32"),
    ]}));
    assert_eq!(judge(&a, "198.51.100.9", false), (false, "DenyBadGuys".into()));
    assert_eq!(judge(&a, "198.51.100.7", false), (true, "AllowNet".into()));
    let d = a.decide(ip("198.18.0.1"), false, &[]);
    assert!(!d.allowed);
    assert_eq!(d.by, AccessBy::ImplicitDeny { rules: 2 });
    assert_eq!(a.decide(ip("198.51.100.9"), false, &[]).to_string(), "access restriction DenyBadGuys (priority 100) denies 198.51.100.9");
}

#[test]
fn equal_priorities_keep_list_order() {
    let a = access(json!({"ipSecurityRestrictions": [
        rule("First", 100, "Allow", "198.51.100.0/24"),
        rule("Second", 100, "Deny", "198.51.100.9/32"),
    ]}));
    assert_eq!(judge(&a, "198.51.100.9", false), (true, "First".into()));
    let b = access(json!({"ipSecurityRestrictions": [
        rule("Second", 100, "Deny", "198.51.100.9/32"),
        rule("First", 100, "Allow", "198.51.100.0/24"),
    ]}));
    assert_eq!(judge(&b, "198.51.100.9", false), (false, "Second".into()));
}

#[test]
fn explicit_default_action() {
    let deny = access(json!({"ipSecurityRestrictionsDefaultAction": "Deny"}));
    let d = deny.decide(ip("198.51.100.9"), false, &[]);
    assert!(!d.allowed);
    assert_eq!(d.to_string(), "default action Deny (siteConfig.ipSecurityRestrictionsDefaultAction) denies 198.51.100.9");
    let allow = access(json!({"ipSecurityRestrictionsDefaultAction": "Allow", "ipSecurityRestrictions": [rule("DenyOne", 100, "Deny", "198.51.100.9/32")]}));
    assert_eq!(judge(&allow, "198.51.100.9", false), (false, "DenyOne".into()));
    assert!(allow.decide(ip("198.51.100.7"), false, &[]).allowed, "Allow default replaces the implicit deny");
}

#[test]
fn exported_allow_all_is_the_default_action_not_a_rule() {
    let any = json!({"ipAddress": "Any", "action": "Allow", "name": "Allow all", "priority": 2147483647, "description": "Allow all access"});
    let a = access(json!({"ipSecurityRestrictions": [rule("DenyOne", 100, "Deny", "198.51.100.9/32"), any.clone()]}));
    assert_eq!(a.main.rules.len(), 1, "the pseudo-rule is not a rule");
    let d = a.decide(ip("198.51.100.7"), false, &[]);
    assert!(d.allowed);
    assert!(matches!(&d.by, AccessBy::DefaultAction { by } if by.contains("Allow all")), "{d}");
    // Alone, it is an export of "no restrictions, default Allow".
    assert!(access(json!({"ipSecurityRestrictions": [any]})).decide(ip("198.51.100.9"), false, &[]).allowed);
    // The explicit setting wins over the pseudo-rule.
    let deny_all = json!({"ipAddress": "Any", "action": "Deny", "name": "Deny all", "priority": 2147483647});
    let b = access(json!({"ipSecurityRestrictions": [rule("AllowOne", 100, "Allow", "198.51.100.7/32"), deny_all]}));
    assert!(!judge(&b, "198.51.100.8", false).0);
    // "Any" at an ordinary priority is an ordinary rule that matches everyone.
    let c = access(json!({"ipSecurityRestrictions": [rule("DenyAll", 500, "Deny", "Any"), rule("AllowOne", 100, "Allow", "198.51.100.7/32")]}));
    assert_eq!(judge(&c, "198.51.100.8", false), (false, "DenyAll".into()));
    assert_eq!(judge(&c, "198.51.100.7", false), (true, "AllowOne".into()));
}

#[test]
fn comma_separated_sources() {
    let a = access(json!({"ipSecurityRestrictions": [rule("Offices", 100, "Allow", "198.51.100.7/32, 198.18.0.0/16,2001:db8::/32")]}));
    assert_eq!(judge(&a, "198.51.100.7", false), (true, "Offices".into()));
    assert_eq!(judge(&a, "198.18.200.1", false), (true, "Offices".into()));
    assert!(!a.decide(ip("198.51.100.8"), false, &[]).allowed);
    let nine = ["198.51.100.1/32"; 9].join(",");
    let e = compile(&template(json!({"ipSecurityRestrictions": [rule("Many", 100, "Allow", &nine)]}), json!({}), vec![]), ServiceTags::default())
        .expect_err("9 sources are too many")
        .to_string();
    assert!(e.contains("ipSecurityRestrictions[0].ipAddress") && e.contains("1 to 8"), "{e}");
}

#[test]
fn service_tags_resolve_through_the_policys_tags() {
    let cfg = json!({"ipSecurityRestrictions": [{"name": "FrontDoor", "priority": 100, "action": "Allow", "ipAddress": "AzureFrontDoor.Backend", "tag": "ServiceTag"}]});
    let mut tags = ServiceTags::default();
    tags.insert("AzureFrontDoor.Backend", vec!["198.18.4.0/24".parse().unwrap()]);
    let a = compile(&template(cfg.clone(), json!({}), vec![]), tags).unwrap();
    assert_eq!(judge(&a, "198.18.4.9", false), (true, "FrontDoor".into()));
    assert!(!a.decide(ip("198.51.100.9"), false, &[]).allowed);
    let e = compile(&template(cfg, json!({}), vec![]), ServiceTags::default()).expect_err("unknown tag").to_string();
    assert!(e.contains("access restriction 'FrontDoor'") && e.contains("unknown service tag 'AzureFrontDoor.Backend'"), "{e}");
}

#[test]
fn scm_has_its_own_list_or_uses_the_main_one() {
    let cfg = json!({
        "ipSecurityRestrictions": [rule("AllowSeven", 100, "Allow", "198.51.100.7/32")],
        "scmIpSecurityRestrictions": [rule("AllowNine", 100, "Allow", "198.51.100.9/32")],
        "scmIpSecurityRestrictionsDefaultAction": "Deny"
    });
    let a = access(cfg.clone());
    assert_eq!(judge(&a, "198.51.100.9", true), (true, "AllowNine".into()));
    let d = a.decide(ip("198.51.100.7"), true, &[]);
    assert!(!d.allowed);
    assert_eq!(d.to_string(), "scm default action Deny (siteConfig.scmIpSecurityRestrictionsDefaultAction) denies 198.51.100.7");
    let mut main = cfg;
    main["scmIpSecurityRestrictionsUseMain"] = json!(true);
    let b = access(main);
    assert_eq!(judge(&b, "198.51.100.7", true), (true, "AllowSeven".into()));
    assert!(!b.decide(ip("198.51.100.9"), true, &[]).allowed);
    // No scm rules: the scm site is open even when the main one is not.
    let c = access(json!({"ipSecurityRestrictions": [rule("AllowSeven", 100, "Allow", "198.51.100.7/32")]}));
    assert!(c.decide(ip("198.51.100.9"), true, &[]).allowed);
}

#[test]
fn sites_config_web_child_is_read_too() {
    let child = json!({"type": "Microsoft.Web/sites/config", "name": "app/web", "properties": {
        "ipSecurityRestrictions": [rule("DenyNine", 100, "Deny", "198.51.100.9/32")]}});
    let a = compile(&template(json!({}), json!({}), vec![child]), ServiceTags::default()).unwrap();
    assert_eq!(judge(&a, "198.51.100.9", false), (false, "DenyNine".into()));
}

#[test]
fn public_network_access_disabled_denies_every_client() {
    let a = compile(
        &template(json!({"ipSecurityRestrictions": [rule("AllowSeven", 100, "Allow", "198.51.100.7/32")]}), json!({"publicNetworkAccess": "Disabled"}), vec![]),
        ServiceTags::default(),
    )
    .unwrap();
    for scm in [false, true] {
        let d = a.decide(ip("198.51.100.7"), scm, &[]);
        assert!(!d.allowed);
        assert_eq!(d.to_string(), "public network access is disabled (properties.publicNetworkAccess): denies 198.51.100.7");
    }
    // Unset, with a private endpoint to the site: closed as well.
    let pe = json!({"type": "Microsoft.Network/privateEndpoints", "name": "pe-app", "properties": {
        "subnet": {"id": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'pe')]"},
        "privateLinkServiceConnections": [{"name": "c", "properties": {
            "privateLinkServiceId": "[resourceId('Microsoft.Web/sites', 'app')]", "groupIds": ["sites"]}}]}});
    let b = compile(&template(json!({}), json!({}), vec![pe.clone()]), ServiceTags::default()).unwrap();
    let d = b.decide(ip("198.51.100.7"), false, &[]);
    assert!(!d.allowed, "{d}");
    assert!(d.to_string().contains("private endpoint 'pe-app'"), "{d}");
    let c = compile(&template(json!({}), json!({"publicNetworkAccess": "Enabled"}), vec![pe]), ServiceTags::default()).unwrap();
    assert!(c.decide(ip("198.51.100.7"), false, &[]).allowed);
}

#[test]
fn service_endpoint_rules_never_match_a_local_client() {
    let a = access(json!({"ipSecurityRestrictions": [
        {"name": "FromVnet", "priority": 100, "action": "Allow", "vnetSubnetResourceId": "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/pe"}
    ]}));
    let d = a.decide(ip("10.0.1.5"), false, &[]);
    assert!(!d.allowed);
    assert_eq!(d.by, AccessBy::ImplicitDeny { rules: 1 });
}

#[test]
fn header_rules_need_source_and_every_named_header() {
    let a = access(json!({"ipSecurityRestrictions": [
        {"name": "FrontDoorOnly", "priority": 100, "action": "Allow", "ipAddress": "198.18.0.0/15",
         "headers": {"X-Azure-FDID": ["0b7c5e1a-0000-4000-8000-000000000001"], "x-forwarded-host": ["*.contoso.com", "contoso.com"]}},
        {"name": "ViaProxy", "priority": 200, "action": "Allow", "ipAddress": "Any", "headers": {"x-forwarded-for": ["198.51.100.0/28"]}}
    ]}));
    assert!(a.needs_headers(false));
    assert!(!a.needs_headers(true));
    let h = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>();
    let fd = h(&[("x-azure-fdid", "0B7C5E1A-0000-4000-8000-000000000001"), ("x-forwarded-host", "www.contoso.com:443")]);
    assert!(a.decide(ip("198.18.1.1"), false, &fd).allowed);
    assert!(!a.decide(ip("198.51.100.200"), false, &fd).allowed, "source must match too");
    assert!(!a.decide(ip("198.18.1.1"), false, &fd[..1]).allowed, "every named header must match");
    assert!(
        !a.decide(ip("198.18.1.1"), false, &h(&[("x-azure-fdid", "0b7c5e1a-0000-4000-8000-000000000001"), ("x-forwarded-host", "a.b.contoso.com")])).allowed
    );
    let d = a.decide(ip("198.51.100.200"), false, &h(&[("x-forwarded-for", "198.51.100.3:5000, 10.0.0.1")]));
    assert_eq!(d.by, AccessBy::Rule { name: "ViaProxy".into(), priority: 200 });
    assert!(!a.decide(ip("198.51.100.200"), false, &[]).allowed, "no head read: header rules do not match");
    let e = compile(
        &template(
            json!({"ipSecurityRestrictions": [{"name": "Bad", "priority": 1, "ipAddress": "Any", "headers": {"x-client-ip": ["1.2.3.4"]}}]}),
            json!({}),
            vec![],
        ),
        ServiceTags::default(),
    )
    .expect_err("unknown header")
    .to_string();
    assert!(e.contains("headers.x-client-ip") && e.contains("x-forwarded-for"), "{e}");
}

#[test]
fn bad_restrictions_are_errors_naming_the_path() {
    let cases = [
        (json!({"ipSecurityRestrictions": [{"name": "X", "priority": 1, "action": "Block", "ipAddress": "Any"}]}), "ipSecurityRestrictions[0].action"),
        (json!({"ipSecurityRestrictions": [{"name": "X", "action": "Allow", "ipAddress": "Any"}]}), "missing priority"),
        (json!({"ipSecurityRestrictions": [{"name": "X", "priority": 1, "ipAddress": "198.51.100.300/32"}]}), "ipSecurityRestrictions[0].ipAddress"),
        (json!({"ipSecurityRestrictions": [{"name": "X", "priority": 1}]}), "neither ipAddress nor vnetSubnetResourceId"),
        (json!({"ipSecurityRestrictionsDefaultAction": "Maybe"}), "ipSecurityRestrictionsDefaultAction"),
    ];
    for (cfg, want) in cases {
        let e = compile(&template(cfg, json!({}), vec![]), ServiceTags::default()).expect_err("an error").to_string();
        assert!(e.starts_with("test.json: at ") && e.contains(want), "{e} should name {want}");
    }
}

fn native(toml: &str) -> Result<AccessPolicy, Error> {
    let res = vnetlab_core::arm::load_native(toml, "s.toml", &DeployContext::default())?;
    let sc = vnetlab_core::model::build(&res)?;
    let p = Policy::compile(&sc, &PolicyOptions::default())?;
    AccessPolicy::for_site(&sc, Some("app"), &p.tags)
}

const NATIVE: &str = r#"
[[site]]
name = "app"
plan = "P1v3"
subnet = "vnet/integration"
outbound_ips = ["198.51.100.10"]
access_default_action = "Deny"
scm_use_main = true

[[site.access_restriction]]
name = "DenyBadGuys"
priority = 100
action = "Deny"
source = "198.51.100.9/32"

[[site.access_restriction]]
name = "AllowPartners"
priority = 200
action = "Allow"
source = ["198.51.100.0/25", "198.18.0.0/16"]

[[site.access_restriction]]
name = "FromPeSubnet"
priority = 300
action = "Allow"
subnet = "vnet/pe"
headers = { x-forwarded-host = "app.contoso.com" }

[[vnet]]
name = "vnet"
address_space = ["10.0.0.0/16"]

[[vnet.subnet]]
name = "integration"
prefix = "10.0.2.0/24"

[[vnet.subnet]]
name = "pe"
prefix = "10.0.1.0/24"
"#;

#[test]
fn native_toml_access_restrictions() {
    let a = native(NATIVE).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(judge(&a, "198.51.100.9", false), (false, "DenyBadGuys".into()));
    assert_eq!(judge(&a, "198.18.3.3", true), (true, "AllowPartners".into()), "scm_use_main");
    let d = a.decide(ip("198.19.0.1"), false, &[]);
    assert_eq!(d.by, AccessBy::DefaultAction { by: "siteConfig.ipSecurityRestrictionsDefaultAction".into() });
    assert!(a.main.rules[2].is_service_endpoint() && a.main.rules[2].has_headers());
    let closed = native(&NATIVE.replace("scm_use_main = true", "public_network_access = \"Disabled\"")).unwrap();
    assert!(!closed.decide(ip("198.51.100.7"), false, &[]).allowed);
    let two = NATIVE.replace("source = \"198.51.100.9/32\"", "source = \"198.51.100.9/32\"\nservice_tag = \"AzureCloud\"");
    let e = native(&two).expect_err("source and service_tag").to_string();
    assert!(e.contains("s.toml: at line ") && e.contains("exactly one of source, service_tag, subnet"), "{e}");
    let e = native(&NATIVE.replace("action = \"Deny\"", "action = \"Block\"")).expect_err("bad action").to_string();
    assert!(e.contains("action 'Block' is not one of Allow, Deny"), "{e}");
}
