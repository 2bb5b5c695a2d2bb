//! Warnings about values vnetlab assumes (issue 9, "Consistency and
//! noise") are shown only with answers that use them: a site's placeholder
//! outbound address with a flow that left from it, a public IP's
//! placeholder with a flow translated to it, a missing plan with a flow
//! whose path a Flex Consumption plan would change, or with lint's plan
//! checks; never with the route or rule tables, which use none of them.

use serde_json::{json, Value};
use vnetlab_core::arm::{expand_template, DeployContext, ParamValues};
use vnetlab_core::check::{evaluate, parse_flow};
use vnetlab_core::model::Scenario;
use vnetlab_core::policy::{Policy, PolicyOptions};
use vnetlab_core::warning::{Stake, Uses};

/// Site `app` (properties `site`) integrated into subnet `int` of a
/// 10.0.0.0/16 VNet, with the extra resources `more` and subnet properties
/// `subnet`; plan `plan` unless `site` names another.
fn scenario(site: Value, subnet: Value, more: Value) -> Scenario {
    let mut props = json!({"serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'plan')]",
        "virtualNetworkSubnetId": "[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet', 'int')]"});
    let mut sub = json!({"addressPrefix": "10.0.1.0/26", "delegations": [{"name": "d", "properties": {"serviceName": "Microsoft.Web/serverFarms"}}]});
    for (into, from) in [(&mut props, &site), (&mut sub, &subnet)] {
        for (k, v) in from.as_object().expect("object") {
            if v.is_null() {
                into.as_object_mut().expect("object").remove(k);
            } else {
                into[k] = v.clone();
            }
        }
    }
    let mut resources = vec![
        json!({"type": "Microsoft.Network/virtualNetworks", "name": "vnet", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "int", "properties": sub}]}}),
        json!({"type": "Microsoft.Web/serverfarms", "name": "plan", "sku": {"name": "P1v3"}}),
        json!({"type": "Microsoft.Web/sites", "name": "app", "properties": props}),
    ];
    resources.extend(more.as_array().expect("array").iter().cloned());
    let t = json!({"resources": resources});
    let res = expand_template(&t, "t.json", &ParamValues::default(), &DeployContext::default()).expect("expands");
    vnetlab_core::model::build(&res).expect("builds")
}

fn policy(sc: &Scenario) -> Policy {
    Policy::compile(sc, &PolicyOptions::default()).unwrap_or_else(|e| panic!("compiles: {e}"))
}

/// The messages `uses` shows.
fn shown(p: &Policy, uses: &Uses) -> Vec<String> {
    uses.shown(&p.warnings).map(|w| w.message.clone()).collect()
}

fn verify(p: &Policy, flow: &str) -> Vec<String> {
    shown(p, &evaluate(p, &parse_flow(flow).expect("flow")).uses(p))
}

fn has(list: &[String], needle: &str) -> bool {
    list.iter().any(|m| m.contains(needle))
}

const OUTBOUND: &str = "site 'app' has no outboundIpAddresses";

#[test]
fn the_placeholder_outbound_address_is_shown_only_with_a_flow_that_left_from_it() {
    let sc = scenario(json!({}), json!({}), json!([]));
    let p = policy(&sc);
    assert!(has(&p.warnings.iter().map(|w| w.message.clone()).collect::<Vec<_>>(), OUTBOUND), "the warning exists");
    assert!(has(&verify(&p, "tcp 198.51.100.7:443"), OUTBOUND), "a direct flow leaves from the placeholder");
    assert!(verify(&p, "tcp 10.0.1.10:443").is_empty(), "a VNet flow keeps its private source");
    assert!(shown(&p, &p.uses_of_routes()).is_empty());
    assert!(shown(&p, &p.uses_of_rules()).is_empty());
    assert!(has(&shown(&p, &p.uses_all()), OUTBOUND), "a running app may leave from it");
}

#[test]
fn given_outbound_addresses_need_no_warning() {
    let sc = scenario(json!({"outboundIpAddresses": "198.51.100.10"}), json!({}), json!([]));
    let p = policy(&sc);
    assert!(verify(&p, "tcp 198.51.100.7:443").is_empty());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
}

#[test]
fn a_public_ip_placeholder_is_shown_only_with_a_flow_translated_to_it() {
    let more = json!([
        {"type": "Microsoft.Network/publicIPAddresses", "name": "pip", "properties": {}},
        {"type": "Microsoft.Network/natGateways", "name": "nat",
         "properties": {"publicIpAddresses": [{"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip')]"}]}}
    ]);
    let nat = json!({"natGateway": {"id": "[resourceId('Microsoft.Network/natGateways', 'nat')]"}});
    let p = policy(&scenario(json!({"vnetRouteAllEnabled": true, "outboundIpAddresses": "198.51.100.10"}), nat.clone(), more.clone()));
    let out = verify(&p, "tcp 198.51.100.7:443");
    assert!(has(&out, "public IP 'pip' has no address"), "{out:?}");
    assert!(verify(&p, "tcp 10.0.1.10:443").is_empty());
    assert!(shown(&p, &p.uses_of_routes()).is_empty() && shown(&p, &p.uses_of_rules()).is_empty());
    // Route All off: the NAT gateway is bypassed, the site's address is used.
    let p = policy(&scenario(json!({"outboundIpAddresses": "198.51.100.10"}), nat, more));
    assert!(verify(&p, "tcp 198.51.100.7:443").is_empty());
}

const PLAN: &str = "site 'app' has no App Service plan in the input";

#[test]
fn a_missing_plan_is_shown_only_when_a_flex_plan_would_change_the_answer() {
    let sc = scenario(json!({"serverFarmId": null, "outboundIpAddresses": "198.51.100.10"}), json!({}), json!([]));
    let p = policy(&sc);
    let out = verify(&p, "tcp 198.51.100.7:443");
    assert!(has(&out, PLAN) && has(&out, "it has no properties.serverFarmId") && has(&out, "other than Flex Consumption"), "{out:?}");
    // An RFC 1918 destination enters the VNet on every plan with integration.
    assert!(verify(&p, "tcp 10.0.1.10:443").is_empty());
    assert!(shown(&p, &p.uses_of_routes()).is_empty() && shown(&p, &p.uses_of_rules()).is_empty());
    assert!(has(&shown(&p, &vnetlab_core::lint::uses(&sc)), PLAN), "lint's delegation and size checks depend on the plan");
    // Route All on: every flow enters the VNet, as on Flex Consumption.
    let sc = scenario(json!({"serverFarmId": null, "vnetRouteAllEnabled": true, "outboundIpAddresses": "198.51.100.10"}), json!({}), json!([]));
    let p = policy(&sc);
    assert!(verify(&p, "tcp 198.51.100.7:443").is_empty());
    assert!(shown(&p, &p.uses_all()).is_empty());
}

#[test]
fn a_plan_named_but_not_in_the_input_is_named_in_the_warning() {
    let sc = scenario(
        json!({"serverFarmId": "[resourceId('Microsoft.Web/serverfarms', 'elsewhere')]", "outboundIpAddresses": "198.51.100.10"}),
        json!({}),
        json!([]),
    );
    let p = policy(&sc);
    let out = verify(&p, "tcp 198.51.100.7:443");
    assert!(has(&out, "names plan 'elsewhere', which is not in the input"), "{out:?}");
    assert!(p.warnings.iter().all(|w| w.stake == Stake::Plan("app".into())), "{:?}", p.warnings);
}

#[test]
fn a_site_with_its_plan_has_no_plan_warning() {
    let sc = scenario(json!({"outboundIpAddresses": "198.51.100.10"}), json!({}), json!([]));
    assert!(shown(&policy(&sc), &vnetlab_core::lint::uses(&sc)).is_empty());
    assert!(sc.warnings.is_empty(), "{:?}", sc.warnings);
}

/// An outbound rule whose destination is a firewall's private address,
/// which Azure assigns at deployment: the placeholder (a private synthetic
/// address, outside 198.18.0.0/15) is a /32 the rule table shows, so
/// `rules` warns about it; `routes` does not use it.
#[test]
fn rules_warn_about_a_private_placeholder_in_a_rule() {
    let fw = "[reference(resourceId('Microsoft.Network/azureFirewalls', 'fw'), '2023-04-01').ipConfigurations[0].properties.privateIPAddress]";
    let nsg = json!([{"type": "Microsoft.Network/networkSecurityGroups", "name": "nsg", "properties": {"securityRules": [
        {"name": "to-fw", "properties": {"priority": 100, "direction": "Outbound", "access": "Allow", "protocol": "Tcp",
         "sourceAddressPrefix": "*", "sourcePortRange": "*", "destinationAddressPrefix": fw, "destinationPortRange": "443"}}]}}]);
    let sc = scenario(json!({}), json!({"networkSecurityGroup": {"id": "[resourceId('Microsoft.Network/networkSecurityGroups', 'nsg')]"}}), nsg);
    let p = policy(&sc);
    let path = "$.resources[3].properties.securityRules[0].properties.destinationAddressPrefix";
    assert!(has(&shown(&p, &p.uses_of_rules()), path), "{:?}", p.warnings);
    assert!(!has(&shown(&p, &p.uses_of_routes()), path), "{:?}", p.warnings);
}
