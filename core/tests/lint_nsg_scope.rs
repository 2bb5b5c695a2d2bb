//! Lint and the policy agree on which NSG rules must load (issue 9,
//! "Consistency and noise"): only the outbound rules of an integrated
//! site's subnet NSG are evaluated, so only a fault there stops `verify`,
//! `rules` and `routes` and is a lint error; a fault in any other rules (an
//! unrelated subnet's NSG, or inbound rules) is a lint warning naming the
//! NSG, the rule and its JSON path, and every command still loads.

use serde_json::{json, Value};
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::lint::{lint, Finding, Severity};
use vnetlab_core::model::Scenario;
use vnetlab_core::policy::{Policy, PolicyOptions};

/// Site `app` integrated into subnet A (NSG nA); subnet B (NSG nB) is
/// unrelated. `bad` is the NSG (`nA` or `nB`) that gets one rule in
/// `direction` whose source is the unknown tag `NotATag`.
fn scenario(bad: &str, direction: &str) -> Scenario {
    let rule = json!({"name": "odd", "properties": {"priority": 100, "direction": direction, "access": "Allow", "protocol": "Tcp",
        "sourceAddressPrefix": "NotATag", "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "443"}});
    let nsg = |name: &str| -> Value {
        let rules = if name == bad { json!([rule.clone()]) } else { json!([]) };
        json!({"type": "Microsoft.Network/networkSecurityGroups", "name": name, "properties": {"securityRules": rules}})
    };
    let subnet = |name: &str, prefix: &str, nsg: &str| {
        json!({"name": name, "properties": {"addressPrefix": prefix,
            "networkSecurityGroup": {"id": format!("[resourceId('Microsoft.Network/networkSecurityGroups', '{nsg}')]")},
            "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]}})
    };
    let t = json!({"resources": [
        nsg("nA"),
        nsg("nB"),
        {"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [subnet("A", "10.0.1.0/26", "nA"), subnet("B", "10.0.2.0/26", "nB")]}},
        {"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3"}},
        {"type": "Microsoft.Web/sites", "name": "app", "properties": {"serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
            "outboundIpAddresses": "198.51.100.10",
            "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'A')]"}}
    ]});
    let res = expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    vnetlab_core::model::build(&res).expect("builds")
}

fn nsg_findings(sc: &Scenario) -> Vec<Finding> {
    lint(sc, &Default::default()).into_iter().filter(|f| f.code.starts_with("nsg-unloadable")).collect()
}

/// The one finding about the rule: a warning naming NSG, rule and path; and
/// the site's policy (what verify, rules and routes compile) loads.
fn assert_unused(bad: &str, direction: &str, path: &str) {
    let sc = scenario(bad, direction);
    let found = nsg_findings(&sc);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!((f.severity, f.code), (Severity::Warning, "nsg-unloadable-unused"), "{}", f.line());
    assert!(f.subject.contains(&format!("nsg {bad} rule odd")), "{}", f.line());
    assert!(f.message.contains(&format!("t.json: at {path}")) && f.message.contains("unknown service tag 'NotATag'"), "{}", f.line());
    if let Err(e) = Policy::compile(&sc, &PolicyOptions::default()) {
        panic!("the site's policy must load: {e}");
    }
}

#[test]
fn an_unknown_tag_in_an_unrelated_subnets_inbound_rule_is_a_warning() {
    assert_unused("nB", "Inbound", "$.resources[1].properties.securityRules[0]");
}

#[test]
fn an_unknown_tag_in_an_unrelated_subnets_outbound_rule_is_a_warning() {
    assert_unused("nB", "Outbound", "$.resources[1].properties.securityRules[0]");
}

#[test]
fn an_unknown_tag_in_the_integration_nsgs_inbound_rule_is_a_warning() {
    assert_unused("nA", "Inbound", "$.resources[0].properties.securityRules[0]");
}

#[test]
fn an_unknown_tag_in_the_integration_nsgs_outbound_rule_is_an_error_for_both() {
    let sc = scenario("nA", "Outbound");
    let found = nsg_findings(&sc);
    assert_eq!(found.len(), 1, "{found:?}");
    let f = &found[0];
    assert_eq!((f.severity, f.code), (Severity::Error, "nsg-unloadable"), "{}", f.line());
    assert!(f.subject.contains("nsg nA rule odd") && f.message.contains("site app"), "{}", f.line());
    let e = Policy::compile(&sc, &PolicyOptions::default()).err().expect("the integration subnet's outbound rules must load").to_string();
    assert!(e.contains("$.resources[0].properties.securityRules[0]") && e.contains("unknown service tag 'NotATag'"), "{e}");
}
